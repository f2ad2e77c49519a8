// Rounding and saturation: the scalar primitives every integer path in qnn is defined by.
//
// Three tie rules occur in the runtimes our users compare against (docs/numerics.md §1):
//   half_even  ONNX QuantizeLinear, ONNX Runtime (cvtps2dq under the default MXCSR), XNNPACK;
//   half_up    ties toward +∞: the Vitis AI DPU for activations, TFLite's single-rounding shift;
//   half_away  ties away from zero: std::round, TFLite's QuantizeMultiplier, the DPU for weights
//              and biases, gemmlowp's RoundingDivideByPOT.
// These functions do not depend on the floating-point environment: they never call nearbyint or
// rint, so a caller that changed the rounding mode still gets the pinned results.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

namespace qnn {

enum class Rounding : std::uint8_t { half_even, half_up, half_away };

// ---- float -> integral float ------------------------------------------------------------------

inline double round_half_even(double x) {
  const double r = std::round(x);  // half away from zero
  if (std::fabs(x - std::trunc(x)) == 0.5) return 2.0 * std::round(0.5 * x);
  return r;
}
inline double round_half_up(double x) { return std::floor(x + 0.5); }
inline double round_half_away(double x) { return std::round(x); }

// Exact for every float input: the double holds x + 0.5 without rounding.
inline double round_with(Rounding mode, double x) {
  switch (mode) {
    case Rounding::half_even: return round_half_even(x);
    case Rounding::half_up: return round_half_up(x);
    case Rounding::half_away: return round_half_away(x);
  }
  return x;
}

// ---- saturation --------------------------------------------------------------------------------

template <class T>
constexpr T saturate(std::int64_t v) {
  return static_cast<T>(std::clamp<std::int64_t>(v, std::numeric_limits<T>::min(),
                                                 std::numeric_limits<T>::max()));
}

template <class T>
constexpr std::int32_t min_of() { return static_cast<std::int32_t>(std::numeric_limits<T>::min()); }
template <class T>
constexpr std::int32_t max_of() { return static_cast<std::int32_t>(std::numeric_limits<T>::max()); }

// ---- integer shifts ---------------------------------------------------------------------------

// x / 2^s rounded with the given tie rule, for 0 ≤ s ≤ 62 and |x| < 2^62 (every accumulator qnn
// produces is far inside: int32 products or int64 A16W8 sums below 2^48).
inline std::int64_t shift_right_rounded(std::int64_t x, int s, Rounding mode) {
  if (s == 0) return x;
  const std::int64_t half = std::int64_t{1} << (s - 1);
  const std::int64_t floor_q = x >> s;  // arithmetic shift: floor division
  const std::int64_t rem = x - (floor_q << s);  // in [0, 2^s)
  switch (mode) {
    case Rounding::half_up: return floor_q + (rem >= half ? 1 : 0);
    case Rounding::half_away: return floor_q + ((rem > half || (rem == half && x >= 0)) ? 1 : 0);
    case Rounding::half_even:
      return floor_q + ((rem > half || (rem == half && (floor_q & 1))) ? 1 : 0);
  }
  return floor_q;
}

// x · 2^s for s ≥ 0, saturated to int64 (the callers saturate again to their output type).
inline std::int64_t shift_left_saturating(std::int64_t x, int s) {
  if (s == 0 || x == 0) return x;
  if (s >= 62) return x > 0 ? std::numeric_limits<std::int64_t>::max() : std::numeric_limits<std::int64_t>::min();
  const std::int64_t lim = std::numeric_limits<std::int64_t>::max() >> s;
  if (x > lim) return std::numeric_limits<std::int64_t>::max();
  if (x < -lim) return std::numeric_limits<std::int64_t>::min();
  return x * (std::int64_t{1} << s);
}

}  // namespace qnn
