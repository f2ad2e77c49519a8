// When an integer conv or FC layer runs on bytes (u8 × s8, _mm*_maddubs_epi16) instead of int16
// pairs (kernels/cpu/pack.hpp), and the bias correction that keeps its sums the reference's.
//
// maddubs adds two u8·s8 products in int16, saturating. Activations enter as u = x − s (the layer's
// byte shift), weights as w' = w − zw. If every input lies in [s, s + R] (R ≤ 255: the span), a
// pair (w'0, w'1) of adjacent k can saturate only when R·(max(w'0, 0) + max(w'1, 0)) > 32767 or
// R·(min(w'0, 0) + min(w'1, 0)) < −32768. A layer in which no pair of any output channel can do so
// gets exactly Σ u·w' from the byte kernel, and
//   Σ (x − zx)·w' = Σ u·w' − (zx − s)·Σ w'
// is the reference's sum: a constant per output channel, folded into the bias once. The sums then
// agree modulo 2^32, which is all the reference's own int32 sum (bounded at prepare time) needs.
// What the inputs are known to be decides R:
//   - nothing (any 8-bit value): s = min(TIn), R = 255, so the positive parts of a pair may add up
//     to 128 and the negative ones to −128 — every weight in [−64, 64], as ONNX Runtime's
//     reduce_range writes them (qnn quantize --reduce-range), and many others;
//   - a range the producer guarantees (ConvOptions/GemmOptions::input_range, which a session
//     derives from a fused ReLU or Clip upstream: graph/passes/input_range.hpp): s = its low end,
//     R = its width. Symmetric int8 activations after a ReLU lie in [0, 127], and then any int8
//     weights are exact (127·(127 + 127) = 32258).
// The conv padding is the zero point, so the range is widened to hold zx first. Other layers keep
// the int16 kernel, exact for any weights. The point of bytes: vpmaddubsw does twice the
// multiplies of vpmaddwd per instruction, and patches and activations are half as large.
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <span>
#include <type_traits>
#include <vector>

#include "qnn/core/dtype.hpp"
#include "qnn/core/error.hpp"
#include "qnn/kernels/cpu/pack.hpp"
#include "qnn/kernels/dispatch.hpp"
#include "qnn/numerics/requantize.hpp"

namespace qnn::cpu {

// True when w'(c, k) (c < channels, k < K) are all signed bytes, which the byte kernel packs.
template <class Value>
bool byte_weights(std::int64_t channels, std::int64_t k, Value&& w) {
  for (std::int64_t c = 0; c < channels; ++c)
    for (std::int64_t j = 0; j < k; ++j) {
      const auto v = static_cast<std::int32_t>(w(c, j));
      if (v < -128 || v > 127) return false;
    }
  return true;
}

// The range a layer's TIn inputs are prepared for: `promised` (ConvOptions/GemmOptions::
// input_range), which must be a non-empty range of TIn, or all of TIn.
template <QuantStorage TIn>
IntRange prepared_input_range(const std::optional<IntRange>& promised) {
  if (!promised) return storage_range<TIn>();
  check(promised->lo <= promised->hi && storage_range<TIn>().contains(*promised), "input_range [", promised->lo, ", ",
        promised->hi, "] is not a range of ", dtype_of_v<TIn>);
  return *promised;
}

// Checks, on a run that relies on it, that every input of a rows × cols array lies in `r`: a byte
// layer prepared for a narrower range than its type's would otherwise saturate silently.
template <QuantStorage TIn>
void check_inputs_in(IntRange r, const TIn* x, std::int64_t rows, std::int64_t row_stride, std::int64_t cols,
                     std::int64_t col_stride) {
  if (r == storage_range<TIn>()) return;
  auto lo = static_cast<TIn>(r.lo), hi = static_cast<TIn>(r.hi);
  // A compile-time unit stride lets the compiler vectorize the scan (it runs before every GEMM).
  const auto scan = [&](auto stride) {
    for (std::int64_t i = 0; i < rows; ++i) {
      const TIn* row = x + i * row_stride;
      for (std::int64_t j = 0; j < cols; ++j) {
        lo = std::min(lo, row[j * stride]);
        hi = std::max(hi, row[j * stride]);
      }
    }
  };
  if (col_stride == 1)
    scan(std::integral_constant<std::int64_t, 1>{});
  else
    scan(col_stride);
  check(r.contains({lo, hi}), "an input value (", std::int32_t{lo < r.lo ? lo : hi}, ") lies outside the input_range [", r.lo, ", ",
        r.hi, "] the layer was prepared for");
}

// Splits the weights v of one int16 lane (at packed k = taps; n of them) so that R·(positive ones)
// ≤ 32767 and R·(negative ones) ≥ −32768, as `pos_max` = 32767 / R and `neg_min` = −(32768 / R)
// state it: the excess is taken from the largest weights of that sign, each down to 0 at most (a
// sign never flips), and recorded as fixes of row c (kernels/cpu/pack.hpp, ByteFix).
inline void split_byte_lane(std::int64_t c, const std::int64_t* taps, std::int32_t* v, int n, std::int32_t pos_max,
                            std::int32_t neg_min, std::vector<ByteFix>& fixes) {
  std::int32_t pos = 0, neg = 0;
  for (int t = 0; t < n; ++t) (v[t] > 0 ? pos : neg) += v[t];
  const auto take = [&](std::int32_t excess, std::int32_t sign) {
    while (excess > 0) {
      int t = 0;
      for (int u = 1; u < n; ++u)
        if (sign * v[u] > sign * v[t]) t = u;
      const std::int32_t d = std::min(excess, sign * v[t]);
      fixes.push_back({c, taps[t], sign * d});
      v[t] -= sign * d;
      excess -= d;
    }
  };
  if (pos > pos_max) take(pos - pos_max, 1);
  if (neg < neg_min) take(neg_min - neg, -1);
}

inline std::int32_t byte_pos_max(std::int32_t span) { return span == 0 ? 32767 : 32767 / span; }
inline std::int32_t byte_neg_min(std::int32_t span) { return span == 0 ? -32768 : -(32768 / span); }

// The fixes that make every pair (2j, 2j + 1) of every channel exact against unsigned bytes in
// [0, span] — a pair can saturate an int16 only when span·(its positive weights) > 32767 or
// span·(its negative weights) < −32768: none when no pair can. The weights must be signed bytes.
template <class Value>
std::vector<ByteFix> byte_pair_fixes(std::int64_t channels, std::int64_t k, std::int32_t span, Value&& w) {
  std::vector<ByteFix> fixes;
  for (std::int64_t c = 0; c < channels; ++c)
    for (std::int64_t j = 0; j < k; j += 2) {
      const std::int64_t taps[2] = {j, j + 1};
      std::int32_t v[2] = {static_cast<std::int32_t>(w(c, j)), j + 1 < k ? static_cast<std::int32_t>(w(c, j + 1)) : 0};
      split_byte_lane(c, taps, v, 2, byte_pos_max(span), byte_neg_min(span), fixes);
    }
  return fixes;
}

// Paired quads. The byte kernel widens each maddubs result with a vpmaddwd by ones: 2 multiply
// instructions per quad. Summing two quads' maddubs results in int16 first needs one vpmaddwd per
// two quads, 3 instead of 4 (the multiply pipes are what bounds the kernel), and each int16 lane
// then holds four products: for an even quad q and h ∈ {0, 1}, k = 4q + 2h, 4q + 2h + 1,
// 4q + 4 + 2h, 4q + 5 + 2h (a trailing odd quad stays alone). That sum is exact for every input in
// [0, R] when R·(its positive weights) ≤ 32767 and R·(its negative weights) ≥ −32768 (the int16 add
// wraps, so only the total matters; each pair already has no byte_pair_fixes). Trained
// weights nearly always do: each channel's scale is set by its largest weight, most lie far
// below it. The rest are split, w' = packed + fix (split_byte_lane), and the fixes are added to
// the sums by gemm_int (kernels/cpu/gemm.hpp).
// A fix costs about one scalar multiply-add per output pixel (conv) or input row (FC); the pairing
// saves about K/128 cycles on each, so a layer pairs when it needs at most one fix per 512 weights
// (the Fashion-MNIST CNN's A8W8 conv2: 13 fixes for 18,432 weights, fc1 267 for 1.38 M).
template <class Value>
BytePairing byte_quad_pairing(std::int64_t channels, std::int64_t k, std::int32_t span, Value&& w) {
  BytePairing p;
  const std::int64_t quads = (k + 3) / 4;
  if (quads < 2) return p;
  for (std::int64_t c = 0; c < channels; ++c)
    for (std::int64_t q = 0; q + 1 < quads; q += 2)
      for (std::int64_t h = 0; h < 2; ++h) {
        const std::int64_t taps[4] = {4 * q + 2 * h, 4 * q + 2 * h + 1, 4 * q + 4 + 2 * h, 4 * q + 5 + 2 * h};
        std::int32_t v[4] = {};
        for (int t = 0; t < 4; ++t)
          if (taps[t] < k) v[t] = static_cast<std::int32_t>(w(c, taps[t]));
        split_byte_lane(c, taps, v, 4, byte_pos_max(span), byte_neg_min(span), p.fixes);
      }
  p.paired = static_cast<std::int64_t>(p.fixes.size()) * 512 <= channels * k;
  if (!p.paired) p.fixes.clear();
  return p;
}

// The span R of a byte layer's unsigned inputs: its input range widened to hold the zero point (the
// conv padding).
inline std::int32_t byte_input_span(IntRange x, std::int32_t zx) {
  return std::max(x.hi, zx) - std::min(x.lo, zx);
}

// How a layer runs on bytes: its byte shift, and its paired quads (with their fixes) or the fixes
// that make its pairs exact.
struct BytePlan {
  std::int32_t shift = 0;
  BytePairing pairing;
};

// Weights per fix a layer whose pairs can saturate may need and still run on bytes. Bytes save
// about a quarter of the int16 kernel's time (a third of its multiply instructions; patches half
// as large). A conv's fix is a vector multiply-add over each panel's pixels, ~1/8 of a cycle per
// output: one per 64 weights costs ~1/8 of what bytes save (the U8S8 Fashion-MNIST conv2, 0..255
// inputs against full-range weights, needs one per 74). An FC's fix is a scalar multiply-add per
// input row, ~8× dearer: one per 512 weights, the paired quads' rule.
inline constexpr std::int64_t kConvWeightsPerPairFix = 64;
inline constexpr std::int64_t kFcWeightsPerPairFix = 512;

// The byte plan of a layer with TIn activations in `x` (zero point zx) and weights w', or nothing
// when it keeps int16: 8-bit activations, weights w' that are signed bytes, pairs that are exact
// (no byte_pair_fixes) or need at most one fix per `weights_per_fix` weights, and a target with a
// byte kernel — x86 SIMD, or none (the portable loops run either layout; bytes there keep their
// kernel tested everywhere); Highway's other SIMD targets keep int16. Under run-time dispatch the
// choice is made for the target active when the layer is prepared; any other x86 target or the
// portable loops compute the same sums from the same bytes. A layer whose pairs are exact may
// pair its quads (byte_quad_pairing); one that needs pair fixes widens every quad.
template <class TIn, class Value>
std::optional<BytePlan> byte_plan(IntRange x, std::int32_t zx, std::int64_t channels, std::int64_t k,
                                  std::int64_t weights_per_fix, Value&& w) {
  const simd::KernelTable* t = simd::kernel_table();
  if (sizeof(TIn) != 1 || (t && !t->gemm_u8s8)) return std::nullopt;
  if (!byte_weights(channels, k, w)) return std::nullopt;
  const std::int32_t span = byte_input_span(x, zx);
  BytePlan plan{std::min(x.lo, zx), {}};
  std::vector<ByteFix> fixes = byte_pair_fixes(channels, k, span, w);
  if (fixes.empty())
    plan.pairing = byte_quad_pairing(channels, k, span, w);
  else if (static_cast<std::int64_t>(fixes.size()) * weights_per_fix <= channels * k)
    plan.pairing.fixes = std::move(fixes);
  else
    return std::nullopt;
  return plan;
}

// The bias of a byte layer: bias[c] − (zx − shift)·Σ_k w'(c, k), modulo 2^32 like the kernels'
// sums (an empty bias counts as zeros).
template <class Value>
std::vector<std::int32_t> byte_kernel_bias(std::span<const std::int32_t> bias, std::int64_t channels, std::int64_t k,
                                           std::int32_t zx, std::int32_t shift, Value&& w) {
  const std::int64_t d = std::int64_t{zx} - shift;
  std::vector<std::int32_t> out(static_cast<std::size_t>(channels));
  for (std::int64_t c = 0; c < channels; ++c) {
    std::int64_t sum = 0;
    for (std::int64_t j = 0; j < k; ++j) sum += static_cast<std::int32_t>(w(c, j));
    const std::int64_t b = bias.empty() ? 0 : bias[static_cast<std::size_t>(c)];
    out[static_cast<std::size_t>(c)] = static_cast<std::int32_t>(static_cast<std::uint32_t>(b - d * sum));
  }
  return out;
}

}  // namespace qnn::cpu
