// Requantization: from an integer accumulator in the domain of s_acc to an output integer in the
// domain of s_out, under the policy a layer selects (docs/numerics.md §3).
//
//   onnx_float           ONNX Runtime / XNNPACK: m = fp32 product/quotient of the scales, evaluated
//                        left to right; f = fp32(acc)·m; clamp f to [lo−zp, hi−zp]; round half to
//                        even; add zp.
//   tflite_double_round  TFLite/gemmlowp default: m = QuantizeMultiplier(double ratio) → (M, shift);
//                        SaturatingRoundingDoublingHighMul (ties toward +∞), then
//                        RoundingDivideByPOT (ties away from zero): two roundings.
//   tflite_single_round  TFLITE_SINGLE_ROUNDING: (acc·M + 2^(30−shift)) >> (31−shift), ties to +∞.
//   npu_pow2             Vitis AI DPU: all scales are powers of two; shift = Σpos(num) − Σpos(den);
//                        acc >> shift rounding half up (ties to +∞); a negative shift shifts left.
// int64 accumulators (A16W8) take the same rules, except that the TFLite policies use TFLite's
// 16×8 rule: a 16-bit reduced multiplier and one rounding, ties to +∞.
//
// Each policy is a type (OnnxFloat, TfliteDoubleRound, TfliteSingleRound, NpuPow2) with a
// per-channel `Channel` factor made once when a layer is prepared; OutputStage<P> bundles those
// factors with the output zero point and the clamp range (dtype range ∩ fused ReLU/Clip).
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <ostream>
#include <span>
#include <string_view>
#include <vector>

#include "qnn/core/dtype.hpp"
#include "qnn/core/error.hpp"
#include "qnn/core/quant_params.hpp"
#include "qnn/numerics/rounding.hpp"

namespace qnn {

enum class RequantPolicy : std::uint8_t { onnx_float, tflite_double_round, tflite_single_round, npu_pow2 };

constexpr std::string_view name_of(RequantPolicy p) {
  switch (p) {
    case RequantPolicy::onnx_float: return "onnx-float";
    case RequantPolicy::tflite_double_round: return "tflite-double-round";
    case RequantPolicy::tflite_single_round: return "tflite-single-round";
    case RequantPolicy::npu_pow2: return "npu-pow2";
  }
  return "?";
}
inline std::ostream& operator<<(std::ostream& os, RequantPolicy p) { return os << name_of(p); }

// The real multiplier of a requantization, kept as the scales it is made of, because each policy
// evaluates it differently (fp32 in order, double, or exact exponents).
//   conv/gemm: {s_x, s_w} / {s_y}     add input: {s_a} / {s_y}     mul: {s_a, s_b} / {s_y}
struct ScaleRatio {
  std::array<float, 3> num{};
  std::array<float, 3> den{};
  int n_num = 0;
  int n_den = 0;

  ScaleRatio(std::initializer_list<float> n, std::initializer_list<float> d) {
    check(n.size() >= 1 && n.size() <= 3 && d.size() <= 3, "scale ratio of ", n.size(), "/",
          d.size(), " factors");
    for (float v : n) num[static_cast<std::size_t>(n_num++)] = v;
    for (float v : d) den[static_cast<std::size_t>(n_den++)] = v;
    for (int i = 0; i < n_num; ++i) check_positive(num[static_cast<std::size_t>(i)]);
    for (int i = 0; i < n_den; ++i) check_positive(den[static_cast<std::size_t>(i)]);
  }
  // fp32, left to right: ((n0·n1)·n2 / d0) / d1 — ONNX Runtime's order for X_scale*W_scale/Y_scale.
  float as_float() const {
    float v = num[0];
    for (int i = 1; i < n_num; ++i) v *= num[static_cast<std::size_t>(i)];
    for (int i = 0; i < n_den; ++i) v /= den[static_cast<std::size_t>(i)];
    return v;
  }
  double as_double() const {
    double v = num[0];
    for (int i = 1; i < n_num; ++i) v *= static_cast<double>(num[static_cast<std::size_t>(i)]);
    for (int i = 0; i < n_den; ++i) v /= static_cast<double>(den[static_cast<std::size_t>(i)]);
    return v;
  }
  // Σpos(num) − Σpos(den): the right shift that applies the ratio when every scale is 2^−pos.
  int as_shift() const {
    int s = 0;
    for (int i = 0; i < n_num; ++i) s += to_pow2(num[static_cast<std::size_t>(i)]).pos;
    for (int i = 0; i < n_den; ++i) s -= to_pow2(den[static_cast<std::size_t>(i)]).pos;
    return s;
  }

 private:
  static void check_positive(float v) {
    check(v > 0.0f && std::isfinite(v), "scale ", v, " must be positive and finite");
  }
};

// ---- TFLite / gemmlowp fixed point ----------------------------------------------------------

// real ≈ multiplier · 2^(shift − 31), multiplier in [2^30, 2^31) or 0.
struct Q31 {
  std::int32_t multiplier = 0;
  int shift = 0;
  friend bool operator==(Q31, Q31) = default;
};

// TFLite QuantizeMultiplier: frexp, round half away from zero, renormalize 2^31, flush below 2^-31.
// Single rounding additionally caps the left shift at 30.
inline Q31 quantize_multiplier(double m, bool single_rounding) {
  check(m >= 0.0 && std::isfinite(m), "requantization multiplier ", m, " must be finite and >= 0");
  if (m == 0.0) return {};
  int shift = 0;
  const double q = std::frexp(m, &shift);
  auto q_fixed = static_cast<std::int64_t>(std::round(q * 2147483648.0));
  if (q_fixed == (std::int64_t{1} << 31)) {
    q_fixed /= 2;
    ++shift;
  }
  if (shift < -31) return {};
  if (single_rounding && shift > 30) {
    shift = 30;
    q_fixed = (std::int64_t{1} << 31) - 1;
  }
  return {static_cast<std::int32_t>(q_fixed), shift};
}

// gemmlowp SaturatingRoundingDoublingHighMul (= ARM VQRDMULH): a·b / 2^31 rounded to nearest with
// ties toward +∞ (the nudge is 2^30, or 1 − 2^30 for a negative product, then C++ truncation),
// saturating only for a = b = INT32_MIN.
inline std::int32_t saturating_rounding_doubling_high_mul(std::int32_t a, std::int32_t b) {
  constexpr std::int32_t kMin = std::numeric_limits<std::int32_t>::min();
  if (a == kMin && b == kMin) return std::numeric_limits<std::int32_t>::max();
  const std::int64_t ab = std::int64_t{a} * std::int64_t{b};
  const std::int64_t nudge = ab >= 0 ? (std::int64_t{1} << 30) : (1 - (std::int64_t{1} << 30));
  return static_cast<std::int32_t>((ab + nudge) / (std::int64_t{1} << 31));  // truncates to zero
}

// gemmlowp RoundingDivideByPOT: x / 2^e, ties away from zero, 0 ≤ e ≤ 31.
inline std::int32_t rounding_divide_by_pot(std::int32_t x, int e) {
  const auto mask = static_cast<std::int32_t>((std::int64_t{1} << e) - 1);
  const std::int32_t remainder = x & mask;
  const std::int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
  return (x >> e) + (remainder > threshold ? 1 : 0);
}

// TFLite MultiplyByQuantizedMultiplier, double rounding. The left shift saturates to int32 where
// TFLite's int32 multiply would overflow (undefined behaviour there; pinned here).
inline std::int32_t multiply_by_q31_double(std::int32_t x, Q31 m) {
  const int left = m.shift > 0 ? m.shift : 0;
  const int right = m.shift > 0 ? 0 : -m.shift;
  const auto shifted = saturate<std::int32_t>(shift_left_saturating(x, left));
  return rounding_divide_by_pot(saturating_rounding_doubling_high_mul(shifted, m.multiplier), right);
}

// TFLITE_SINGLE_ROUNDING: one rounding, ties toward +∞; the result saturates to int32.
inline std::int32_t multiply_by_q31_single(std::int32_t x, Q31 m) {
  const int total_shift = 31 - m.shift;  // shift ∈ [−31, 30] ⇒ total ∈ [1, 62]
  const std::int64_t prod = std::int64_t{x} * m.multiplier;
  return saturate<std::int32_t>(shift_right_rounded(prod, total_shift, Rounding::half_up));
}

// TFLite's int64-accumulator form (16×8 kernels): multiplier reduced to 16 bits, one rounding,
// ties toward +∞. Valid for |x| < 2^47 and shift ≤ 7, which qnn checks when the layer is prepared.
inline std::int32_t multiply_by_q31_wide(std::int64_t x, Q31 m) {
  const std::int64_t reduced =
      m.multiplier < 0x7FFF0000 ? (std::int64_t{m.multiplier} + (1 << 15)) >> 16 : 0x7FFF;
  const int total_shift = 15 - m.shift;
  return saturate<std::int32_t>(shift_right_rounded(x * reduced, total_shift, Rounding::half_up));
}

// ---- the policies ------------------------------------------------------------------------------

template <class Acc>
concept Accumulator = std::same_as<Acc, std::int32_t> || std::same_as<Acc, std::int64_t>;

struct OnnxFloat {
  static constexpr RequantPolicy policy = RequantPolicy::onnx_float;
  struct Channel {
    float multiplier = 0;
  };
  static Channel make(const ScaleRatio& r) { return {r.as_float()}; }
  template <Accumulator Acc>
  static std::int32_t apply(Acc acc, Channel ch, std::int32_t zp, std::int32_t lo, std::int32_t hi) {
    float f = static_cast<float>(acc) * ch.multiplier;
    const auto flo = static_cast<float>(lo - zp);
    const auto fhi = static_cast<float>(hi - zp);
    f = f < flo ? flo : (f > fhi ? fhi : f);
    return static_cast<std::int32_t>(round_half_even(f)) + zp;
  }
};

template <bool SingleRounding>
struct TfliteFixedPoint {
  static constexpr RequantPolicy policy =
      SingleRounding ? RequantPolicy::tflite_single_round : RequantPolicy::tflite_double_round;
  using Channel = Q31;
  static Channel make(const ScaleRatio& r) { return quantize_multiplier(r.as_double(), SingleRounding); }
  template <Accumulator Acc>
  static std::int32_t apply(Acc acc, Channel ch, std::int32_t zp, std::int32_t lo, std::int32_t hi) {
    std::int32_t v = 0;
    if constexpr (std::same_as<Acc, std::int64_t>)
      v = multiply_by_q31_wide(acc, ch);
    else if constexpr (SingleRounding)
      v = multiply_by_q31_single(acc, ch);
    else
      v = multiply_by_q31_double(acc, ch);
    return static_cast<std::int32_t>(std::clamp<std::int64_t>(std::int64_t{v} + zp, lo, hi));
  }
};
using TfliteDoubleRound = TfliteFixedPoint<false>;
using TfliteSingleRound = TfliteFixedPoint<true>;

struct NpuPow2 {
  static constexpr RequantPolicy policy = RequantPolicy::npu_pow2;
  struct Channel {
    int shift = 0;  // right shift; negative shifts left
  };
  static Channel make(const ScaleRatio& r) { return {r.as_shift()}; }
  template <Accumulator Acc>
  static std::int32_t apply(Acc acc, Channel ch, std::int32_t zp, std::int32_t lo, std::int32_t hi) {
    const std::int64_t v = ch.shift >= 0 ? shift_right_rounded(acc, ch.shift, Rounding::half_up)
                                         : shift_left_saturating(acc, -ch.shift);
    // Pre-clamp far outside any output range so adding the zero point cannot overflow.
    const std::int64_t bounded = std::clamp<std::int64_t>(v, -(std::int64_t{1} << 40), std::int64_t{1} << 40);
    return static_cast<std::int32_t>(std::clamp<std::int64_t>(bounded + zp, lo, hi));
  }
};

template <class P>
concept RequantPolicyType = requires(const ScaleRatio& r) {
  typename P::Channel;
  { P::make(r) } -> std::same_as<typename P::Channel>;
  { P::apply(std::int32_t{}, typename P::Channel{}, 0, 0, 0) } -> std::same_as<std::int32_t>;
};

// Calls f(P{}) with the policy type of a runtime RequantPolicy.
template <class F>
decltype(auto) visit_policy(RequantPolicy p, F&& f) {
  switch (p) {
    case RequantPolicy::onnx_float: return f(OnnxFloat{});
    case RequantPolicy::tflite_double_round: return f(TfliteDoubleRound{});
    case RequantPolicy::tflite_single_round: return f(TfliteSingleRound{});
    case RequantPolicy::npu_pow2: return f(NpuPow2{});
  }
  fail("invalid requantization policy tag ", static_cast<int>(p));
}

// ---- fused activation -> clamp range -----------------------------------------------------------

enum class FusedActivation : std::uint8_t { none, relu, clip };

struct ActivationClamp {
  FusedActivation kind = FusedActivation::none;
  float min = -std::numeric_limits<float>::infinity();  // Clip bounds in real units
  float max = std::numeric_limits<float>::infinity();
  static ActivationClamp relu() { return {FusedActivation::relu, 0.0f, std::numeric_limits<float>::infinity()}; }
  static ActivationClamp clip(float lo, float hi) { return {FusedActivation::clip, lo, hi}; }
};

// The integers lo … hi: the values an output may take, or an input is known to take.
struct IntRange {
  std::int32_t lo = 0;
  std::int32_t hi = 0;
  bool contains(const IntRange& r) const { return lo <= r.lo && r.hi <= hi; }
  friend bool operator==(const IntRange&, const IntRange&) = default;
};

template <QuantStorage T>
constexpr IntRange storage_range() {
  return {min_of<T>(), max_of<T>()};
}

// The integer interval an output may take: the storage range of T, narrowed by a fused ReLU
// (q ≥ zp) or Clip (bounds quantized with the output's scale, round half to even — the value the
// unfused Q(Clip(DQ(q))) chain would produce at the bounds).
template <QuantStorage T>
IntRange output_range(const ActivationClamp& act, float scale, std::int32_t zp) {
  IntRange r = storage_range<T>();
  if (act.kind == FusedActivation::none) return r;
  check(act.min <= act.max, "Clip with min ", act.min, " > max ", act.max);
  auto q = [&](float v) -> std::int64_t {
    const double x = static_cast<double>(v) / static_cast<double>(scale);
    if (std::isinf(x)) return x > 0 ? std::numeric_limits<std::int32_t>::max() : std::numeric_limits<std::int32_t>::min();
    return static_cast<std::int64_t>(round_half_even(std::clamp(x, -4.0e9, 4.0e9))) + zp;
  };
  r.lo = static_cast<std::int32_t>(std::clamp<std::int64_t>(q(act.min), r.lo, r.hi));
  r.hi = static_cast<std::int32_t>(std::clamp<std::int64_t>(q(act.max), r.lo, r.hi));
  return r;
}

// ---- the output stage --------------------------------------------------------------------------

// Per-channel requantization factors + output zero point + clamp range: everything the end of a
// conv/GEMM/eltwise kernel needs, computed once when the layer is prepared.
template <RequantPolicyType P>
struct OutputStage {
  using policy_type = P;
  std::vector<typename P::Channel> channels;  // one per output channel, or one for all
  std::int32_t zero_point = 0;
  IntRange range{};

  template <Accumulator Acc>
  std::int32_t operator()(Acc acc, std::int64_t channel) const {
    const auto& ch = channels[channels.size() == 1 ? 0 : static_cast<std::size_t>(channel)];
    return P::apply(acc, ch, zero_point, range.lo, range.hi);
  }
};

// Output stage of a conv/GEMM: ratio s_x·s_w[c]/s_y for each of the weight's channels.
template <RequantPolicyType P, QuantStorage TOut>
OutputStage<P> make_output_stage(float s_x, std::span<const float> s_w, float s_y, std::int32_t zp_y,
                                 const ActivationClamp& act = {}) {
  detail::check_zero_point<TOut>(zp_y);
  OutputStage<P> st;
  for (float w : s_w) st.channels.push_back(P::make(ScaleRatio({s_x, w}, {s_y})));
  st.zero_point = zp_y;
  st.range = output_range<TOut>(act, s_y, zp_y);
  return st;
}

// Output stage of a pure rescale, ratio s_in/s_out (Requantize, Concat inputs, ...).
template <RequantPolicyType P, QuantStorage TOut>
OutputStage<P> make_rescale_stage(float s_in, float s_out, std::int32_t zp_out,
                                  const ActivationClamp& act = {}) {
  detail::check_zero_point<TOut>(zp_out);
  OutputStage<P> st;
  st.channels.push_back(P::make(ScaleRatio({s_in}, {s_out})));
  st.zero_point = zp_out;
  st.range = output_range<TOut>(act, s_out, zp_out);
  return st;
}

}  // namespace qnn
