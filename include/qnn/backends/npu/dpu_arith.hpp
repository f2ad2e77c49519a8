// The NPU's integer arithmetic (the Vitis AI DPU conventions that AMD Quark's XINT8 targets): the
// scalar rules the NPU emulator (backends/npu/emulator.hpp) is built from, each with its source.
//
// Numbers are fixed point with power-of-two scales, s = 2^−pos (docs/numerics.md §6). A value at
// position p moves to position p' by a shift of p − p' bits, right shifts rounding half up (ties
// toward +∞) and everything saturating to the int8 range [−128, 127] (XINT8 stores activations as
// uint8 = int8 + 128). Where an operator needs a constant the DPU has no exact form for, it uses a
// fixed-point approximation, which is what makes its results differ from a float model:
//
//   LeakyReLU  α is applied as k/256, k = round(256·α)          (Quark dpu_leaky_relu_alpha; Python
//              round, ties to even): α = 0.1 → 26/256 = 0.1015625
//   Sigmoid    computed as the hard sigmoid relu6(x + 3) · 2731/16384, 2731/16384 ≈ 1/6 (Quark
//              ConvertSigmoidToHardSigmoid + HARD_SIGMOID_SCALE = (2731/16384)/(1/6); vai_q_pytorch
//              deephi_Hardsigmoid: relu6(x + 3), then × 2731/16384, then the output fix)
//              In integers at input position ip and output position op:
//                t = clamp(v + 3·2^ip, 0, 6·2^ip),  y = rhu(t · 2731 / 2^(14 + ip − op))
//              which is why Quark requires ip ∈ [0, 15] (3·2^ip must be an integer), op ≥ 7 and
//              shift_sigmoid = 14 + ip − op ∈ [0, 31] (refine.py adjust_hard_sigmoid).
//   AvgPool    sum · k / 2^n instead of sum / (kh·kw) (Quark SimulateDPU convert_avg_pool_to_dpu_version,
//              vai_q_pytorch get_avgpool_dpu_coeff): 3×3 → 7/64, 5×5 → 10/256, 6×6 → 7/256,
//              7×7 → 21/1024, 14×14 → 21/4096; any other square k×k: the k'/2^n nearest 1/(k·k) over
//              n = 0 … 6 + ⌈log2(k·k)⌉, k' = round(2^n/(k·k)) (ties to even), the first n on ties.
//              Power-of-two windows get their exact reciprocal (2×2 → 1/4). Quark leaves windows with
//              a side above 255 and non-square windows unsimulated; the emulator does not guess there.
//
// Requantization of conv / FC / element-wise results is numerics.md §4.4 and §5 (npu_pow2), which
// the emulator runs through qnn's own kernels under that policy.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <optional>

#include "qnn/core/quant_params.hpp"
#include "qnn/numerics/rounding.hpp"

namespace qnn::backends::npu {

// pos of a power-of-two scale s = 2^−pos; nullopt for any other scale.
inline std::optional<int> position_of(float scale) {
  if (!is_pow2_scale(scale)) return std::nullopt;
  return to_pow2(scale).pos;
}

// v · 2^−shift as the DPU computes it: a right shift rounds half up; a left shift is exact and
// saturates (far beyond any int8 result, so the clamp that follows decides).
inline std::int64_t dpu_shift(std::int64_t v, int shift) {
  if (shift >= 0) return shift_right_rounded(v, std::min(shift, 62), Rounding::half_up);
  return shift_left_saturating(v, -shift);
}

// The stored value: v (an integer at the output position) plus the output zero point, saturated
// to [lo, hi] (the storage range, narrowed by a fused ReLU/Clip).
inline std::int32_t dpu_store(std::int64_t v, std::int32_t zp, std::int32_t lo, std::int32_t hi) {
  const std::int64_t bounded = std::clamp<std::int64_t>(v, -(std::int64_t{1} << 40), std::int64_t{1} << 40);
  return static_cast<std::int32_t>(std::clamp<std::int64_t>(bounded + zp, lo, hi));
}

// ---- LeakyReLU -------------------------------------------------------------------------------

// k of the slope k/256 the DPU applies for LeakyRelu(alpha): round(256·alpha), ties to even
// (Python's round in Quark's dpu_leaky_relu_alpha). 256·alpha is exact in double.
inline std::int64_t leaky_relu_slope(float alpha) {
  return static_cast<std::int64_t>(round_half_even(static_cast<double>(alpha) * 256.0));
}

// v (input integer, position ip) → output integer at position op (before the zero point):
// v ≥ 0 ? v : v·k/256, one rounding (half up) of the exact value.
inline std::int64_t dpu_leaky_relu(std::int64_t v, std::int64_t k, int ip, int op) {
  return dpu_shift(v >= 0 ? v * 256 : v * k, 8 + ip - op);
}

// ---- hard sigmoid (also the NPU's Sigmoid) ----------------------------------------------------

inline constexpr std::int64_t kHardSigmoidMultiplier = 2731;  // 2731/16384 ≈ 1/6
inline constexpr int kHardSigmoidShift = 14;

// relu6(x + 3) · 2731/16384 for v at position ip (0 ≤ ip ≤ 15), output at position op.
inline std::int64_t dpu_hard_sigmoid(std::int64_t v, int ip, int op) {
  const std::int64_t three = std::int64_t{3} << ip;
  const std::int64_t t = std::clamp<std::int64_t>(v + three, 0, 2 * three);
  return dpu_shift(t * kHardSigmoidMultiplier, kHardSigmoidShift + ip - op);
}

// ---- average pooling ----------------------------------------------------------------------------

struct AvgPoolFactor {
  std::int64_t k = 1;  // the window sum is multiplied by k …
  int n = 0;           // … and shifted right by n (plus the input/output position difference)
  friend bool operator==(AvgPoolFactor, AvgPoolFactor) = default;
};

// The DPU's factor k/2^n for a kh×kw window; nullopt where Quark does not simulate one
// (non-square windows, a side above 255).
inline std::optional<AvgPoolFactor> avg_pool_factor(std::int64_t kh, std::int64_t kw) {
  if (kh != kw || kh < 1 || kh > 255) return std::nullopt;
  switch (kh) {
    case 3: return AvgPoolFactor{7, 6};
    case 5: return AvgPoolFactor{10, 8};
    case 6: return AvgPoolFactor{7, 8};
    case 7: return AvgPoolFactor{21, 10};
    case 14: return AvgPoolFactor{21, 12};
    default: break;
  }
  const std::int64_t rec = kh * kw;
  const int n_max = 7 + static_cast<int>(std::ceil(std::log2(static_cast<double>(rec))));
  const double inv = 1.0 / static_cast<double>(rec);
  AvgPoolFactor best{0, 0};
  double best_diff = 0;
  for (int n = 0; n < n_max; ++n) {
    const double p = std::ldexp(1.0, n);
    const auto k = static_cast<std::int64_t>(round_half_even(p / static_cast<double>(rec)));
    const double diff = std::fabs(static_cast<double>(k) / p - inv);
    if (n == 0 || diff < best_diff) {
      best = {k, n};
      best_diff = diff;
    }
  }
  return best;
}

}  // namespace qnn::backends::npu
