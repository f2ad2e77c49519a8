// When an integer conv or FC layer runs on bytes (u8 × s8, _mm*_maddubs_epi16) instead of int16
// pairs (kernels/cpu/pack.hpp), and the bias correction that keeps its sums the reference's.
//
// maddubs adds two u8·s8 products in int16, saturating. Activations enter as u = x − min(TIn), in
// [0, 255] for either 8-bit type, and weights as w' = w − zw; a pair (w'0, w'1) of adjacent k can
// then saturate only when 255·(max(w'0, 0) + max(w'1, 0)) > 32767 or 255·(min(w'0, 0) +
// min(w'1, 0)) < −32768: when the positive parts add up past 128 or the negative ones past −128.
// A layer in which no pair of any output channel does so — every weight in [−64, 64], as ONNX
// Runtime's reduce_range writes them (qnn quantize --reduce-range), and many others — gets exactly
// Σ u·w' from the byte kernel, and
//   Σ (x − zx)·w' = Σ u·w' − (zx − min(TIn))·Σ w'
// is the reference's sum: a constant per output channel, folded into the bias once. The sums then
// agree modulo 2^32, which is all the reference's own int32 sum (bounded at prepare time) needs.
// Other layers keep the int16 kernel, exact for any weights. The point of bytes: vpmaddubsw does
// twice the multiplies of vpmaddwd per instruction, and patches and activations are half as large.
#pragma once

#include <algorithm>
#include <cstdint>
#include <limits>
#include <span>
#include <vector>

#include "qnn/kernels/dispatch.hpp"

namespace qnn::cpu {

// True when w'(c, k) (c < channels, k < K) are all signed bytes and no pair (2j, 2j+1) of any
// channel can saturate an int16 against unsigned bytes.
template <class Value>
bool byte_pairs_exact(std::int64_t channels, std::int64_t k, Value&& w) {
  for (std::int64_t c = 0; c < channels; ++c)
    for (std::int64_t j = 0; j < k; j += 2) {
      std::int32_t pos = 0, neg = 0;
      for (std::int64_t h = j; h < std::min(j + 2, k); ++h) {
        const auto v = static_cast<std::int32_t>(w(c, h));
        if (v < -128 || v > 127) return false;
        (v > 0 ? pos : neg) += v;
      }
      if (pos > 128 || neg < -128) return false;
    }
  return true;
}

// Whether a layer with TIn activations and weights w' packs bytes: 8-bit activations,
// byte_pairs_exact, and a target with a byte kernel — x86 SIMD, or none (the portable loops run
// either layout; bytes there keep their kernel tested everywhere); Highway's other SIMD targets
// keep int16. Under run-time dispatch the choice is made for the target active when the layer is
// prepared; any other x86 target or the portable loops compute the same sums from the same bytes.
template <class TIn, class Value>
bool use_byte_kernel(std::int64_t channels, std::int64_t k, Value&& w) {
  const simd::KernelTable* t = simd::kernel_table();
  return sizeof(TIn) == 1 && (!t || t->gemm_u8s8) && byte_pairs_exact(channels, k, w);
}

// The bias of a byte layer: bias[c] − (zx − min(TIn))·Σ_k w'(c, k), modulo 2^32 like the kernels'
// sums (an empty bias counts as zeros).
template <class TIn, class Value>
std::vector<std::int32_t> byte_kernel_bias(std::span<const std::int32_t> bias, std::int64_t channels, std::int64_t k,
                                           std::int32_t zx, Value&& w) {
  const std::int64_t shift = std::int64_t{zx} - std::numeric_limits<TIn>::min();
  std::vector<std::int32_t> out(static_cast<std::size_t>(channels));
  for (std::int64_t c = 0; c < channels; ++c) {
    std::int64_t sum = 0;
    for (std::int64_t j = 0; j < k; ++j) sum += static_cast<std::int32_t>(w(c, j));
    const std::int64_t b = bias.empty() ? 0 : bias[static_cast<std::size_t>(c)];
    out[static_cast<std::size_t>(c)] = static_cast<std::int32_t>(static_cast<std::uint32_t>(b - shift * sum));
  }
  return out;
}

}  // namespace qnn::cpu
