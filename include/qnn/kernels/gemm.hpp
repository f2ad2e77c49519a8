// GEMM / fully connected / MatMul entry points: quantized, fp32 and bf16.
//
// Weights B are [K,N], or [N,K] with trans_b (the layout of a PyTorch Linear and of the Gemm nodes
// it exports). Their per-channel quantization runs along N, the output columns. A is [M,K], or
// [K,M] with trans_a. Like Conv2D, a layer is prepared once and run on any M.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <utility>
#include <variant>
#include <vector>

#include "qnn/core/error.hpp"
#include "qnn/core/quant_params.hpp"
#include "qnn/core/tensor.hpp"
#include "qnn/kernels/cpu/exec.hpp"
#include "qnn/kernels/cpu/fc.hpp"
#include "qnn/kernels/cpu/u8s8.hpp"
#include "qnn/kernels/ref/arith.hpp"
#include "qnn/kernels/ref/gemm.hpp"
#include "qnn/kernels/weights.hpp"
#include "qnn/numerics/requantize.hpp"

namespace qnn {

struct GemmOptions {
  bool trans_a = false;
  bool trans_b = false;
  RequantPolicy policy = RequantPolicy::onnx_float;
  ActivationClamp activation;
  bool reference = false;  // always run the scalar reference kernel
  std::optional<IntRange> input_range;  // what A is known to take, as ConvOptions::input_range
};

namespace detail {
template <class T>
TensorView<T> transposed_if(const TensorView<T>& v, bool t) {
  static constexpr std::array<int, 2> kSwap{1, 0};
  return t ? v.permuted(kSwap) : v;
}
}  // namespace detail

template <QuantStorage TIn, Int8Storage TW, QuantStorage TOut>
class QuantizedGemm {
 public:
  using Acc = ref::accumulator_t<TIn>;

  template <QuantParams XQ, QuantParams WQ, QuantParams YQ>
  QuantizedGemm(const XQ& xq, QView<const TW, WQ> b, std::span<const std::int32_t> bias, const YQ& yq,
                const GemmOptions& opt)
      : opt_(opt),
        input_range_(cpu::prepared_input_range<TIn>(opt.input_range)),
        weights_(dense_copy(b.data)),
        arith_(make_arith(xq, b.quant, bias, yq)) {
    std::visit([&](const auto& a) {
      const auto bv = detail::transposed_if(std::as_const(weights_).view<TW>(), opt_.trans_b);
      const std::span<const std::int32_t> zw(a.w_zp);
      const auto values = cpu::fc_weight_values(bv, zw);
      const std::optional<cpu::BytePlan> plan =
          cpu::byte_plan<TIn>(input_range_, a.x_zp, bv.dim(1), bv.dim(0), cpu::kFcWeightsPerPairFix, values);
      if (plan) {
        byte_shift_ = plan->shift;
        packed_ = cpu::pack_fc_weights<std::int8_t>(bv, zw, plan->pairing);
        if constexpr (std::same_as<Acc, std::int32_t>)
          fast_bias_ = cpu::byte_kernel_bias(a.bias, bv.dim(1), bv.dim(0), a.x_zp, *byte_shift_, values);
      } else {
        packed_ = cpu::pack_fc_weights<std::int16_t>(bv, zw);
        if constexpr (std::same_as<Acc, std::int32_t>) fast_bias_ = a.bias;
      }
      if constexpr (decltype(a.out)::policy_type::policy == RequantPolicy::onnx_float)
        for (const auto& c : a.out.channels) onnx_mult_.push_back(c.multiplier);
    }, arith_);
    static_assert(!XQ::per_channel, "gemm: activations must be quantized per tensor");
    static_assert(!YQ::per_channel, "gemm: outputs must be quantized per tensor");
    static_assert(std::same_as<typename XQ::storage_type, TIn>, "gemm: input scheme and storage type differ");
    static_assert(std::same_as<typename YQ::storage_type, TOut>, "gemm: output scheme and storage type differ");
  }

  std::int64_t k() const { return weights_.shape()[opt_.trans_b ? 1 : 0]; }
  // True when the fast path runs the u8×s8 byte kernel (kernels/cpu/u8s8.hpp), false for int16.
  bool byte_kernel() const { return byte_shift_.has_value(); }
  // The byte kernel's paired quads or pair fixes (kernels/cpu/u8s8.hpp, byte_plan).
  const cpu::BytePairing& byte_pairing() const {
    static const cpu::BytePairing none;
    const auto* bytes = std::get_if<cpu::PackedLanes<std::int8_t>>(&packed_);
    return bytes ? bytes->pairing : none;
  }
  std::int64_t n() const { return weights_.shape()[opt_.trans_b ? 0 : 1]; }

  void run(TensorView<const TIn> a, TensorView<TOut> c, const cpu::Exec& ex) const {
    const auto at = detail::transposed_if(a, opt_.trans_a);
    check(at.rank() == 2 && at.dim(1) == k(), "gemm: A is ", a.shape(), ", the weights need K = ", k());
    check(c.shape() == Shape{at.dim(0), n()}, "gemm: output ", c.shape(), " should be [", at.dim(0), ",", n(), "]");
    const bool fast = !opt_.reference && std::same_as<Acc, std::int32_t> && c.contiguous();
    std::visit([&](const auto& arith) {
      if constexpr (std::same_as<Acc, std::int32_t>) {
        if (fast) {
          if (byte_shift_) cpu::check_inputs_in(input_range_, at.data(), at.dim(0), at.stride(0), k(), at.stride(1));
          std::visit([&](const auto& w) {
            cpu::fc_int(at, byte_shift_.value_or(arith.x_zp), w, fast_bias_, arith.out, onnx_mult_, c.data(), ex);
          }, packed_);
          return;
        }
      }
      ref::gemm(at, detail::transposed_if(weights_.view<TW>(), opt_.trans_b), c, arith);
    }, arith_);
  }
  void run(TensorView<const TIn> a, TensorView<TOut> c) const {
    cpu::LocalExec local;
    run(a, c, local.exec());
  }

 private:
  using ArithVariant = std::variant<ref::QuantizedArith<TIn, OnnxFloat, TOut>,
                                    ref::QuantizedArith<TIn, TfliteDoubleRound, TOut>,
                                    ref::QuantizedArith<TIn, TfliteSingleRound, TOut>,
                                    ref::QuantizedArith<TIn, NpuPow2, TOut>>;
  template <QuantParams XQ, QuantParams WQ, QuantParams YQ>
  ArithVariant make_arith(const XQ& xq, const WQ& wq, std::span<const std::int32_t> bias, const YQ& yq) const {
    check(weights_.shape().rank() == 2, "gemm: weight must be 2-D, got ", weights_.shape());
    const int n_axis = opt_.trans_b ? 0 : 1;
    const std::int64_t n = weights_.shape()[n_axis];
    const auto ch = weight_channel_params(wq, n_axis, n, "gemm weight");
    check(bias.empty() || static_cast<std::int64_t>(bias.size()) == n, "gemm: bias has ", bias.size(),
          " values for ", n, " outputs");
    const std::vector<Acc> wide_bias(bias.begin(), bias.end());
    return with_context("gemm (" + std::string(name_of(opt_.policy)) + ")", [&] {
      return visit_policy(opt_.policy, [&](auto policy) -> ArithVariant {
        using P = decltype(policy);
        auto stage = make_output_stage<P, TOut>(xq.scale_at(0), ch.scales, yq.scale_at(0), yq.zero_point_at(0),
                                                opt_.activation);
        const std::int64_t bound =
            ref::accumulator_bound<TIn, TW>(weights_.view<TW>(), n_axis, xq.zero_point_at(0), ch.zero_points);
        return ref::QuantizedArith<TIn, P, TOut>(bound, xq.zero_point_at(0), ch.zero_points, wide_bias,
                                                 std::move(stage));
      });
    });
  }

  GemmOptions opt_;
  IntRange input_range_;  // opt_.input_range, or all of TIn
  Tensor weights_;
  ArithVariant arith_;
  std::optional<std::int32_t> byte_shift_;  // set when the byte kernel runs: inputs enter as x − shift
  std::variant<cpu::PackedLanes<std::int16_t>, cpu::PackedLanes<std::int8_t>> packed_;
  std::vector<std::int32_t> fast_bias_;  // the bias the packing needs (byte_kernel_bias for bytes)
  std::vector<float> onnx_mult_;
};

// fp32, or bf16 inputs with fp32 accumulation and output. Gemm's alpha/beta are folded into the
// weights and bias by the Gemm op before it makes this layer.
template <class T>
  requires std::same_as<T, float> || std::same_as<T, bf16>
class FloatGemm {
 public:
  FloatGemm(TensorView<const float> b, std::span<const float> bias, const GemmOptions& opt)
      : opt_(opt), weights_(converted_copy<T>(b)) {
    check(b.rank() == 2, "gemm: weight must be 2-D, got ", b.shape());
    packed_ = cpu::pack_fc_weights<float>(detail::transposed_if(std::as_const(weights_).view<T>(), opt.trans_b));
    const std::int64_t n = b.dim(opt.trans_b ? 0 : 1);
    check(bias.empty() || static_cast<std::int64_t>(bias.size()) == n, "gemm: bias has ", bias.size(),
          " values for ", n, " outputs");
    arith_.bias.assign(bias.begin(), bias.end());
    if (opt.activation.kind != FusedActivation::none) {
      arith_.lo = opt.activation.min;
      arith_.hi = opt.activation.max;
    }
  }
  void run(TensorView<const T> a, TensorView<float> c, const cpu::Exec& ex) const {
    const auto at = detail::transposed_if(a, opt_.trans_a);
    const auto b = detail::transposed_if(weights_.view<T>(), opt_.trans_b);
    check(at.rank() == 2 && at.dim(1) == b.dim(0), "gemm: A is ", a.shape(), ", the weights need K = ", b.dim(0));
    check(c.shape() == Shape{at.dim(0), b.dim(1)}, "gemm: output ", c.shape(), " should be [", at.dim(0), ",", b.dim(1), "]");
    if (!opt_.reference && c.contiguous())
      cpu::fc_float(at, packed_, arith_.bias, arith_.lo, arith_.hi, c.data(), ex);
    else
      ref::gemm(at, b, c, arith_);
  }
  void run(TensorView<const T> a, TensorView<float> c) const {
    cpu::LocalExec local;
    run(a, c, local.exec());
  }

 private:
  GemmOptions opt_;
  Tensor weights_;
  ref::FloatArith<float> arith_;
  cpu::PackedLanes<float> packed_;
};

// QLinearMatMul-style batched matmul of two per-tensor quantized activations (NumPy broadcasting
// over the batch axes). Neither operand is known in advance, so the overflow bound is the worst
// case over all values: K · max|a − za| · max|b − zb| must fit the accumulator.
template <QuantStorage TA, QuantStorage TB, QuantStorage TOut, QuantParams AQ, QuantParams BQ, QuantParams YQ>
void quantized_matmul(QView<const TA, AQ> a, QView<const TB, BQ> b, QView<TOut, YQ> y, RequantPolicy policy) {
  static_assert(!AQ::per_channel && !YQ::per_channel, "matmul: A and the output must be quantized per tensor");
  const std::int64_t n = b.data.dim(-1);
  const int b_axis = b.data.rank() - 1;
  const auto ch = weight_channel_params(b.quant, b_axis, n, "matmul B");
  std::int64_t bound = 0;
  for (std::int32_t zb : ch.zero_points)
    bound = std::max(bound, ref::worst_case_bound<TA, TB>(a.data.dim(-1), a.quant.zero_point_at(0), zb));
  visit_policy(policy, [&](auto p) {
    using P = decltype(p);
    auto stage = make_output_stage<P, TOut>(a.quant.scale_at(0), ch.scales, y.quant.scale_at(0),
                                            y.quant.zero_point_at(0));
    const ref::QuantizedArith<TA, P, TOut> arith(bound, a.quant.zero_point_at(0), ch.zero_points, {},
                                                 std::move(stage));
    ref::matmul(a.data, b.data, y.data, arith);
  });
}

}  // namespace qnn
