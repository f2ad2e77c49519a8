// Conv2D entry points: quantized (int8/uint8/int16 activations × int8 weights), fp32 and bf16.
//
// A layer is prepared once — weights copied (the caller's tensor is never touched) and packed for
// the fast CPU path, shapes and quantization validated, the accumulator bound checked against the
// real weights, requantization factors made — and then run on any batch size. run() takes the fast
// path (kernels/cpu/, bit-exact with the reference for integers) for dense tensors with 8-bit
// activations, and the scalar reference otherwise or when `reference` is set. The typed constructor is where quantization
// schemes meet: activations and outputs must be PerTensor (a static_assert says so), weights are
// PerTensor or PerChannel along axis 0, and the storage types are constrained (8- or 16-bit
// activations, 8-bit weights).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <optional>
#include <span>
#include <utility>
#include <variant>
#include <vector>

#include "qnn/core/error.hpp"
#include "qnn/core/quant_params.hpp"
#include "qnn/core/tensor.hpp"
#include "qnn/kernels/cpu/conv.hpp"
#include "qnn/kernels/cpu/exec.hpp"
#include "qnn/kernels/cpu/pool.hpp"
#include "qnn/kernels/cpu/u8s8.hpp"
#include "qnn/kernels/geometry.hpp"
#include "qnn/kernels/ref/arith.hpp"
#include "qnn/kernels/ref/conv2d.hpp"
#include "qnn/kernels/weights.hpp"
#include "qnn/numerics/requantize.hpp"

namespace qnn {

struct ConvOptions {
  Window2D window;  // strides, dilations, pads; the kernel size comes from the weights
  std::int64_t groups = 1;
  RequantPolicy policy = RequantPolicy::onnx_float;
  ActivationClamp activation;  // fused ReLU / Clip
  bool reference = false;       // always run the scalar reference kernel
  // The values the input is known to take (quantized integers), when narrower than its type: lets
  // more layers run the byte kernel (kernels/cpu/u8s8.hpp). A session derives it from a fused ReLU
  // or Clip upstream; a run that relies on it checks it and fails on a value outside.
  std::optional<IntRange> input_range;
};

// Checks y against the conv's output, or with a fused pooling against the pooling's.
inline void check_conv_output(const ConvGeometry& g, const PoolGeometry* pool, const Shape& y) {
  if (!pool) {
    check(y == g.output_shape(), "conv2d: output ", y, " should be ", g.output_shape());
    return;
  }
  const Shape pooled{pool->n, pool->c, pool->h, pool->w};
  check(pooled == g.output_shape(), "conv2d: the fused pooling is over ", pooled, " but the conv's output is ",
        g.output_shape());
  check(y == pool->output_shape(), "conv2d: pooled output ", y, " should be ", pool->output_shape());
}

// Runs conv(out, pool) with y checked against the conv's or the fused pooling's output. A fused
// pooling runs as its own pass over a full-size temporary when the conv takes its reference path or
// when some window covers no input pixel (cpu::max_pool then reports it): conv(temporary, nullptr),
// then cpu::max_pool into y. Only then does a run allocate; graph/passes/fuse_pool.hpp fuses neither
// case in a session.
template <class TOut, class Conv>
void run_with_pool(const ConvGeometry& g, const PoolGeometry* pool, bool fast, TensorView<TOut> y,
                   const cpu::Exec& ex, Conv&& conv) {
  check_conv_output(g, pool, y.shape());
  if (pool && (!fast || !cpu::every_window_hits_input(*pool))) {
    Tensor full(dtype_of_v<TOut>, g.output_shape());
    conv(full.view<TOut>(), nullptr);
    cpu::max_pool(*pool, std::as_const(full).view<TOut>(), y, ex);
    return;
  }
  conv(y, pool);
}

template <QuantStorage TIn, Int8Storage TW, QuantStorage TOut>
class QuantizedConv2D {
 public:
  using Acc = ref::accumulator_t<TIn>;

  template <QuantParams XQ, QuantParams WQ, QuantParams YQ>
  QuantizedConv2D(const XQ& xq, QView<const TW, WQ> w, std::span<const std::int32_t> bias, const YQ& yq,
                  const ConvOptions& opt)
      : opt_(opt),
        input_range_(cpu::prepared_input_range<TIn>(opt.input_range)),
        weights_(dense_copy(w.data)),
        arith_(make_arith(xq, w.quant, bias, yq)) {
    std::visit([&](const auto& a) {
      const auto wv = std::as_const(weights_).view<TW>();
      const std::span<const std::int32_t> zw(a.w_zp);
      // In the byte packing's k order: the pair rule is about the pairs it packs.
      const auto values = cpu::conv_weight_values(wv, zw, cpu::conv_channel_unit(wv.dim(1), 4));
      const std::int64_t m = wv.dim(0), k = wv.numel() / m;
      std::optional<cpu::BytePlan> plan =
          cpu::byte_plan<TIn>(input_range_, a.x_zp, m, k, cpu::kConvWeightsPerPairFix, values);
      if (plan) byte_shift_ = plan->shift;
      packed_ = cpu::pack_conv_weights_int(wv, zw, opt_.groups, plan.has_value(),
                                           plan ? std::move(plan->pairing) : cpu::BytePairing{});
      if constexpr (std::same_as<Acc, std::int32_t>)
        fast_bias_ = byte_shift_ ? cpu::byte_kernel_bias(a.bias, m, k, a.x_zp, *byte_shift_, values) : a.bias;
      if constexpr (decltype(a.out)::policy_type::policy == RequantPolicy::onnx_float)
        for (const auto& c : a.out.channels) onnx_mult_.push_back(c.multiplier);
    }, arith_);
    // A fused max pooling may then run on the sums (kernels/cpu/conv.hpp, pool_sums_lanes): max
    // commutes with a requantization that never decreases, as onnx_float's does with factors ≥ 0,
    // and with the byte kernel's per-channel offset while its sums cannot wrap.
    const std::int64_t k = weights_.numel() / weights_.shape()[0];
    pool_sums_ = !onnx_mult_.empty() && (!byte_shift_ || k * 255 * 128 < (std::int64_t{1} << 31)) &&
                 std::all_of(onnx_mult_.begin(), onnx_mult_.end(), [](float m) { return std::isfinite(m) && m >= 0; });
    static_assert(!XQ::per_channel, "conv2d: activations must be quantized per tensor");
    static_assert(!YQ::per_channel, "conv2d: outputs must be quantized per tensor");
    static_assert(std::same_as<typename XQ::storage_type, TIn>, "conv2d: input scheme and storage type differ");
    static_assert(std::same_as<typename YQ::storage_type, TOut>, "conv2d: output scheme and storage type differ");
  }

  ConvGeometry geometry(const Shape& x) const {
    return make_conv_geometry(x, weights_.shape(), opt_.window, opt_.groups);
  }

  // True when the fast path runs the u8×s8 byte kernel (kernels/cpu/u8s8.hpp), false for int16.
  bool byte_kernel() const { return byte_shift_.has_value(); }
  // The byte kernel's paired quads or pair fixes (kernels/cpu/u8s8.hpp, byte_plan).
  const cpu::BytePairing& byte_pairing() const { return packed_.pairing; }

  // With `pool` (a max pooling over this conv's output, fused by graph/passes/fuse_pool.hpp), y is
  // the pooled output.
  void run(TensorView<const TIn> x, TensorView<TOut> y, const cpu::Exec& ex, const PoolGeometry* pool = nullptr) const {
    const ConvGeometry g = geometry(x.shape());
    const bool fast_x = !opt_.reference && std::same_as<Acc, std::int32_t> && x.contiguous();
    run_with_pool(g, pool, fast_x && y.contiguous(), y, ex, [&](TensorView<TOut> out, const PoolGeometry* p) {
      std::visit([&](const auto& arith) {
        if constexpr (std::same_as<Acc, std::int32_t>) {
          if (fast_x && out.contiguous()) {
            if (byte_shift_) cpu::check_inputs_in(input_range_, x.data(), 1, 0, x.numel(), 1);
            cpu::ConvOutput<TOut> o{out.data(), p};
            if (p && pool_sums_) o.sums_run = cpu::pool_sums_lanes(g, *p, cpu::panel_lanes());
            cpu::conv2d_int(g, x.data(), arith.x_zp, byte_shift_.value_or(0), packed_, fast_bias_, arith.out,
                            onnx_mult_, o, ex);
            return;
          }
        }
        ref::conv2d(g, x, weights_.view<TW>(), out, arith);
      }, arith_);
    });
  }
  void run(TensorView<const TIn> x, TensorView<TOut> y) const {
    cpu::LocalExec local;
    run(x, y, local.exec());
  }

 private:
  using ArithVariant = std::variant<ref::QuantizedArith<TIn, OnnxFloat, TOut>,
                                    ref::QuantizedArith<TIn, TfliteDoubleRound, TOut>,
                                    ref::QuantizedArith<TIn, TfliteSingleRound, TOut>,
                                    ref::QuantizedArith<TIn, NpuPow2, TOut>>;
  template <QuantParams XQ, QuantParams WQ, QuantParams YQ>
  ArithVariant make_arith(const XQ& xq, const WQ& wq, std::span<const std::int32_t> bias, const YQ& yq) const {
    check(weights_.shape().rank() == 4, "conv2d: weight must be 4-D (M,C/groups,KH,KW), got ", weights_.shape());
    const std::int64_t m = weights_.shape()[0];
    const auto per_channel = weight_channel_params(wq, 0, m, "conv2d weight");
    check(bias.empty() || static_cast<std::int64_t>(bias.size()) == m, "conv2d: bias has ", bias.size(),
          " values for ", m, " output channels");
    const std::vector<Acc> wide_bias(bias.begin(), bias.end());
    return with_context("conv2d (" + std::string(name_of(opt_.policy)) + ")", [&] {
      return visit_policy(opt_.policy, [&](auto policy) -> ArithVariant {
        using P = decltype(policy);
        auto stage = make_output_stage<P, TOut>(xq.scale_at(0), per_channel.scales, yq.scale_at(0),
                                                yq.zero_point_at(0), opt_.activation);
        const std::int64_t bound = ref::accumulator_bound<TIn, TW>(weights_.view<TW>(), 0, xq.zero_point_at(0),
                                                                  per_channel.zero_points);
        return ref::QuantizedArith<TIn, P, TOut>(bound, xq.zero_point_at(0), per_channel.zero_points,
                                                 wide_bias, std::move(stage));
      });
    });
  }

  ConvOptions opt_;
  IntRange input_range_;  // opt_.input_range, or all of TIn
  Tensor weights_;
  ArithVariant arith_;
  std::optional<std::int32_t> byte_shift_;  // set when the byte kernel runs: inputs enter as x − shift
  cpu::PackedConvWeights<std::int32_t> packed_;
  std::vector<std::int32_t> fast_bias_;  // the bias the packing needs (byte_kernel_bias for bytes)
  std::vector<float> onnx_mult_;  // the onnx_float multipliers, for the vectorized epilogue
  bool pool_sums_ = false;        // a fused pooling may take the max of the sums (see the constructor)
};

// fp32 activations and weights, or bf16 ones (T = bf16: weights rounded to bf16 once, products exact
// in fp32, fp32 accumulation, fp32 output).
template <class T>
  requires std::same_as<T, float> || std::same_as<T, bf16>
class FloatConv2D {
 public:
  FloatConv2D(TensorView<const float> w, std::span<const float> bias, const ConvOptions& opt)
      : opt_(opt), weights_(converted_copy<T>(w)) {
    check(w.rank() == 4, "conv2d: weight must be 4-D (M,C/groups,KH,KW), got ", w.shape());
    packed_ = cpu::pack_conv_weights_f32(std::as_const(weights_).view<T>(), opt.groups);
    check(bias.empty() || static_cast<std::int64_t>(bias.size()) == w.dim(0), "conv2d: bias has ",
          bias.size(), " values for ", w.dim(0), " output channels");
    arith_.bias.assign(bias.begin(), bias.end());
    if (opt.activation.kind != FusedActivation::none) {
      arith_.lo = opt.activation.min;
      arith_.hi = opt.activation.max;
    }
  }

  ConvGeometry geometry(const Shape& x) const {
    return make_conv_geometry(x, weights_.shape(), opt_.window, opt_.groups);
  }
  // With `pool`, y is the pooled output (as QuantizedConv2D::run).
  void run(TensorView<const T> x, TensorView<float> y, const cpu::Exec& ex, const PoolGeometry* pool = nullptr) const {
    const ConvGeometry g = geometry(x.shape());
    const bool fast_x = !opt_.reference && x.contiguous();
    run_with_pool(g, pool, fast_x && y.contiguous(), y, ex, [&](TensorView<float> out, const PoolGeometry* p) {
      if (fast_x && out.contiguous())
        cpu::conv2d_float(g, x.data(), packed_, arith_.bias, arith_.lo, arith_.hi, cpu::ConvOutput<float>{out.data(), p}, ex);
      else
        ref::conv2d(g, x, weights_.view<T>(), out, arith_);
    });
  }
  void run(TensorView<const T> x, TensorView<float> y) const {
    cpu::LocalExec local;
    run(x, y, local.exec());
  }

 private:
  ConvOptions opt_;
  Tensor weights_;
  ref::FloatArith<float> arith_;
  cpu::PackedConvWeights<float> packed_;
};

// One-shot forms: prepare and run.
template <class TIn, class XQ, class TW, class WQ, class TOut, class YQ>
void conv2d(QView<const TIn, XQ> x, QView<const TW, WQ> w, std::span<const std::int32_t> bias,
            QView<TOut, YQ> y, const ConvOptions& opt) {
  QuantizedConv2D<TIn, TW, TOut>(x.quant, w, bias, y.quant, opt).run(x.data, y.data);
}

}  // namespace qnn
