// The arithmetic of one multiply-accumulate and of the epilogue, for every numeric family the
// reference loop nests (conv2d, gemm) run. A loop nest is written once; what a MAC means is a
// template parameter:
//
//   QuantizedArith  acc = bias[c] + Σ (x − zx)(w − zw[c]) in Acc (int32, or int64 for 16-bit
//                   activations); epilogue = OutputStage<P> (requantize, zero point, clamp).
//   IntegerArith    the same sum, returned as int32 (ConvInteger, MatMulInteger).
//   DequantizeArith the QuantizedArith sum, returned as fp32: fl(float(acc) · scale[c]) (a GEMM with
//                   a float output, ONNX Runtime's QGemm without y_scale).
//   FloatArith      acc = bias[c] + Σ x·w in fp32, k ascending; epilogue = clamp, then store as
//                   float or bf16 (round to nearest even). For bf16 inputs every product is exact
//                   in fp32 (8-bit significands), so only the additions round.
//
// Overflow: QuantizedArith and IntegerArith check, when made, that no accumulator can overflow for
// these weights: max|x − zx| · max_c Σ_k |w − zw[c]| + max|bias| must fit Acc (and 2^47 for int64, the
// domain of TFLite's wide requantization). Using the real weights makes the bound tight: a layer
// that passes can never overflow, whatever its input.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <span>
#include <vector>

#include "qnn/core/dtype.hpp"
#include "qnn/core/error.hpp"
#include "qnn/core/tensor.hpp"
#include "qnn/numerics/requantize.hpp"
#include "qnn/numerics/rounding.hpp"

namespace qnn::ref {

// int32 accumulators for 8-bit activations, int64 for 16-bit ones (A16W8).
template <QuantStorage TIn>
using accumulator_t = std::conditional_t<(sizeof(TIn) == 1), std::int32_t, std::int64_t>;

// Calls f(index array) for every element of `shape`, row-major.
template <class F>
void for_each_index(const Shape& shape, F&& f) {
  if (shape.numel() == 0) return;
  std::array<std::int64_t, Shape::kMaxRank> idx{};
  const int r = shape.rank();
  while (true) {
    f(idx);
    int a = r - 1;
    for (; a >= 0; --a) {
      if (++idx[static_cast<std::size_t>(a)] < shape[a]) break;
      idx[static_cast<std::size_t>(a)] = 0;
    }
    if (a < 0) return;
  }
}

template <class T>
T& at(const TensorView<T>& v, const std::array<std::int64_t, Shape::kMaxRank>& idx) {
  std::int64_t off = 0;
  for (int a = 0; a < v.rank(); ++a) off += idx[static_cast<std::size_t>(a)] * v.strides()[static_cast<std::size_t>(a)];
  return v.data()[off];
}

// The worst |accumulator| over output channels, bias excluded: max_c max|x − zx| · Σ_k |w − zw[c]|.
// `channel_axis` is the weight axis that indexes output channels (0 for conv weights M×C×KH×KW,
// 1 for GEMM weights K×N).
template <QuantStorage TIn, QuantStorage TW>
std::int64_t accumulator_bound(TensorView<const TW> w, int channel_axis, std::int32_t x_zp,
                               std::span<const std::int32_t> w_zp) {
  const std::int64_t x_dev = std::max<std::int64_t>(std::int64_t{max_of<TIn>()} - x_zp,
                                                    std::int64_t{x_zp} - min_of<TIn>());
  const int ax = w.shape().normalize_axis(channel_axis);
  const std::int64_t channels = w.dim(ax);
  check(w_zp.size() == 1 || static_cast<std::int64_t>(w_zp.size()) == channels, "weight has ",
        channels, " channels but ", w_zp.size(), " zero points");
  std::vector<std::int64_t> wsum(static_cast<std::size_t>(channels), 0);
  for_each_index(w.shape(), [&](const auto& idx) {
    const std::int64_t c = idx[static_cast<std::size_t>(ax)];
    const std::int32_t zw = w_zp[w_zp.size() == 1 ? 0 : static_cast<std::size_t>(c)];
    wsum[static_cast<std::size_t>(c)] += std::abs(std::int64_t{at(w, idx)} - zw);
  });
  std::int64_t worst = 0;
  for (std::int64_t s : wsum) worst = std::max(worst, x_dev * s);
  return worst;
}

// The worst-case |accumulator| when the weights are not known in advance (a MatMul of two
// activations): every term at its extreme.
template <QuantStorage TIn, QuantStorage TW>
std::int64_t worst_case_bound(std::int64_t k, std::int32_t x_zp, std::int32_t w_zp) {
  const std::int64_t x_dev = std::max<std::int64_t>(std::int64_t{max_of<TIn>()} - x_zp, std::int64_t{x_zp} - min_of<TIn>());
  const std::int64_t w_dev = std::max<std::int64_t>(std::int64_t{max_of<TW>()} - w_zp, std::int64_t{w_zp} - min_of<TW>());
  return k * x_dev * w_dev;
}

template <class Acc>
void check_accumulator_fits(std::int64_t bound) {
  constexpr std::int64_t limit = std::same_as<Acc, std::int32_t>
                                     ? std::int64_t{std::numeric_limits<std::int32_t>::max()}
                                     : (std::int64_t{1} << 47) - 1;
  check(bound <= limit, "the accumulator can reach ", bound, ", above the ",
        std::same_as<Acc, std::int32_t> ? "int32" : "2^47 (int64 requantization)", " limit ", limit,
        " for these weights");
}

// Σ (x − zx)(w − zw[c]) (+ bias[c]), requantized by an OutputStage.
template <QuantStorage TIn, RequantPolicyType P, QuantStorage TOut>
struct QuantizedArith {
  using Acc = accumulator_t<TIn>;
  std::int32_t x_zp = 0;
  std::vector<std::int32_t> w_zp;  // 1 or one per channel
  std::vector<Acc> bias;           // empty or one per channel
  OutputStage<P> out;

  // `bound` is the worst |accumulator| without bias (accumulator_bound or worst_case_bound); the
  // constructor adds the bias and checks that the sum fits Acc.
  QuantizedArith(std::int64_t bound, std::int32_t x_zero_point, std::vector<std::int32_t> w_zero_points,
                 std::vector<Acc> b, OutputStage<P> stage)
      : x_zp(x_zero_point), w_zp(std::move(w_zero_points)), bias(std::move(b)), out(std::move(stage)) {
    qnn::detail::check_zero_point<TIn>(x_zp);
    check(!w_zp.empty(), "weight zero points are missing");
    std::int64_t max_bias = 0;
    for (Acc v : bias) max_bias = std::max<std::int64_t>(max_bias, v < 0 ? -std::int64_t{v} : std::int64_t{v});
    check_accumulator_fits<Acc>(bound + max_bias);
    // TFLite's 16×8 rule (multiply_by_q31_wide) is defined for shift ≤ 7, i.e. multipliers < 2^7.
    if constexpr (std::same_as<Acc, std::int64_t> && std::same_as<typename P::Channel, Q31>)
      for (const Q31& ch : out.channels)
        check(ch.shift <= 7, "requantization multiplier 2^", ch.shift - 1, " or more is outside TFLite's 16x8 rule",
              " for 16-bit activations (multipliers must be below 2^7)");
  }

  Acc init(std::int64_t c) const { return bias.empty() ? Acc{0} : bias[static_cast<std::size_t>(c)]; }
  template <class TX, class TW>
  Acc mac(Acc acc, TX x, TW w, std::int64_t c) const {
    const std::int32_t zw = w_zp[w_zp.size() == 1 ? 0 : static_cast<std::size_t>(c)];
    return acc + (static_cast<Acc>(x) - x_zp) * (static_cast<Acc>(w) - zw);
  }
  TOut finish(Acc acc, std::int64_t c) const { return static_cast<TOut>(out(acc, c)); }
};

// Σ (x − zx)(w − zw[c]) as int32: ConvInteger / MatMulInteger, no requantization.
template <Int8Storage TIn>
struct IntegerArith {
  using Acc = std::int32_t;
  std::int32_t x_zp = 0;
  std::vector<std::int32_t> w_zp;

  IntegerArith(std::int64_t bound, std::int32_t x_zero_point, std::vector<std::int32_t> w_zero_points)
      : x_zp(x_zero_point), w_zp(std::move(w_zero_points)) {
    qnn::detail::check_zero_point<TIn>(x_zp);
    check(!w_zp.empty(), "weight zero points are missing");
    check_accumulator_fits<Acc>(bound);
  }
  Acc init(std::int64_t) const { return 0; }
  template <class TX, class TW>
  Acc mac(Acc acc, TX x, TW w, std::int64_t c) const {
    const std::int32_t zw = w_zp[w_zp.size() == 1 ? 0 : static_cast<std::size_t>(c)];
    return acc + (static_cast<Acc>(x) - x_zp) * (static_cast<Acc>(w) - zw);
  }
  std::int32_t finish(Acc acc, std::int64_t) const { return acc; }
};

// Σ (x − zx)(w − zw[c]) (+ bias[c]) in Acc, then y = fl(float(acc) · scale[c]): the accumulator in
// real units. float(acc) rounds to nearest even above 2^24.
template <QuantStorage TIn>
struct DequantizeArith {
  using Acc = accumulator_t<TIn>;
  std::int32_t x_zp = 0;
  std::vector<std::int32_t> w_zp;  // 1 or one per channel
  std::vector<Acc> bias;           // empty or one per channel
  std::vector<float> scale;        // 1 or one per channel

  DequantizeArith(std::int64_t bound, std::int32_t x_zero_point, std::vector<std::int32_t> w_zero_points,
                  std::vector<Acc> b, std::vector<float> scales)
      : x_zp(x_zero_point), w_zp(std::move(w_zero_points)), bias(std::move(b)), scale(std::move(scales)) {
    qnn::detail::check_zero_point<TIn>(x_zp);
    check(!w_zp.empty(), "weight zero points are missing");
    check(!scale.empty(), "output scales are missing");
    std::int64_t max_bias = 0;
    for (Acc v : bias) max_bias = std::max<std::int64_t>(max_bias, v < 0 ? -std::int64_t{v} : std::int64_t{v});
    check_accumulator_fits<Acc>(bound + max_bias);
  }

  Acc init(std::int64_t c) const { return bias.empty() ? Acc{0} : bias[static_cast<std::size_t>(c)]; }
  template <class TX, class TW>
  Acc mac(Acc acc, TX x, TW w, std::int64_t c) const {
    const std::int32_t zw = w_zp[w_zp.size() == 1 ? 0 : static_cast<std::size_t>(c)];
    return acc + (static_cast<Acc>(x) - x_zp) * (static_cast<Acc>(w) - zw);
  }
  float finish(Acc acc, std::int64_t c) const {
    return static_cast<float>(acc) * scale[scale.size() == 1 ? 0 : static_cast<std::size_t>(c)];
  }
};

// fp32 (or bf16-input, fp32-accumulate) MAC with an optional fused clamp.
template <class TOut>
struct FloatArith {
  using Acc = float;
  std::vector<float> bias;  // empty or one per channel
  float lo = -std::numeric_limits<float>::infinity();
  float hi = std::numeric_limits<float>::infinity();

  Acc init(std::int64_t c) const { return bias.empty() ? 0.0f : bias[static_cast<std::size_t>(c)]; }
  template <class TX, class TW>
  Acc mac(Acc acc, TX x, TW w, std::int64_t) const {
    // An explicit fused multiply-add: GCC contracts `acc + x * w` or not depending on the
    // consumer's -march and -ffp-contract, and the reference must not depend on either.
    return std::fma(static_cast<float>(x), static_cast<float>(w), acc);
  }
  TOut finish(Acc acc, std::int64_t) const {
    const float v = std::min(std::max(acc, lo), hi);
    if constexpr (std::same_as<TOut, bf16>)
      return bf16(v);
    else
      return v;
  }
};

}  // namespace qnn::ref
