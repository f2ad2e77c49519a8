// Operand packing for the CPU GEMM kernels (the non-SIMD half; the per-target tiles are in
// kernels/simd/gemm-inl.hpp).
//
// A GEMM here computes C[s][l] = Σ_k S[s][k]·L[l][k]: one operand is spread across SIMD lanes
// ("lane operand", L), the other broadcast one row at a time ("broadcast operand", S). Which is
// which is the caller's choice, made so that output channels end up where the store is contiguous:
//   conv   L = patches of output pixels (im2col, packed per run), S = weights (packed once)
//          → C[m][pixel] is an NCHW output row;
//   FC     L = weights (packed once), S = activation rows (packed per run)
//          → C[batch][n] is a row of the output.
//
// Integer operands are packed as int16 (v − zero point), so the exact products of any int8/uint8
// pair, even asymmetric weights, are computed with no correction terms. Pairs of k are interleaved
// for _mm*_madd_epi16 / Highway's ReorderWidenMulAccumulate: a lane panel holds, for each k-pair q,
//   [l0: v(2q), v(2q+1)], [l1: v(2q), v(2q+1)], ... [l(NR−1): ...]      (2·NR int16, one vector)
// and a broadcast row holds int32 words with v(2q) in the low and v(2q+1) in the high half.
// Float operands are packed the same way with single k steps: a panel holds NR floats per k.
// K is padded to an even count with zeros, panels past the last row with zeros.
#pragma once

#include <cstdint>
#include <cstring>

#include "qnn/core/aligned_buffer.hpp"
#include "qnn/core/error.hpp"

namespace qnn::cpu {

inline std::int64_t round_up(std::int64_t v, std::int64_t m) { return (v + m - 1) / m * m; }

// Geometry of a packed lane operand.
struct LaneLayout {
  std::int64_t rows = 0;   // logical rows (L)
  std::int64_t k = 0;      // logical reduction length
  std::int64_t nr = 1;     // lanes per panel
  std::int64_t ksteps = 0; // k-pairs (int16) or k (float)
  std::int64_t panels() const { return (rows + nr - 1) / nr; }
  // Elements per panel: 2·nr per k-pair for int16, nr per k for float.
  std::int64_t panel_elems(int per_step) const { return ksteps * nr * per_step; }
};

// int16 lane operand from a row accessor: value(l, k) → int32 (already minus the zero point).
template <class Value>
void pack_lanes_i16(std::int16_t* dst, const LaneLayout& lay, Value&& value) {
  const std::int64_t panel = lay.panel_elems(2);
  for (std::int64_t p = 0; p < lay.panels(); ++p) {
    std::int16_t* out = dst + p * panel;
    for (std::int64_t q = 0; q < lay.ksteps; ++q)
      for (std::int64_t r = 0; r < lay.nr; ++r) {
        const std::int64_t l = p * lay.nr + r;
        for (std::int64_t h = 0; h < 2; ++h) {
          const std::int64_t k = 2 * q + h;
          out[(q * lay.nr + r) * 2 + h] =
              (l < lay.rows && k < lay.k) ? static_cast<std::int16_t>(value(l, k)) : std::int16_t{0};
        }
      }
  }
}

// One broadcast word: lo in the low half, hi in the high half (each truncated to 16 bits).
inline std::int32_t bcast_word(std::int32_t lo, std::int32_t hi) {
  return static_cast<std::int32_t>(std::uint32_t{static_cast<std::uint16_t>(lo)} |
                                   (std::uint32_t{static_cast<std::uint16_t>(hi)} << 16));
}

// int16-pair broadcast rows: dst[s·ksteps + q] = (v(s,2q) & 0xFFFF) | v(s,2q+1) << 16.
template <class Value>
void pack_bcast_i16(std::int32_t* dst, std::int64_t rows, std::int64_t k, std::int64_t ksteps, Value&& value) {
  for (std::int64_t s = 0; s < rows; ++s)
    for (std::int64_t q = 0; q < ksteps; ++q) {
      const std::int64_t k0 = 2 * q, k1 = 2 * q + 1;
      dst[s * ksteps + q] = bcast_word(k0 < k ? static_cast<std::int32_t>(value(s, k0)) : 0,
                                       k1 < k ? static_cast<std::int32_t>(value(s, k1)) : 0);
    }
}

// The same broadcast rows from rows of integer values `row_stride` elements apart, minus zero
// point zp: one pass per row whose loop the compiler vectorizes (the FC's activations, packed on
// every run; the accessor form above costs a strided view lookup per element).
template <class T>
void pack_bcast_rows_i16(std::int32_t* dst, const T* src, std::int64_t rows, std::int64_t row_stride, std::int64_t k,
                         std::int64_t ksteps, std::int32_t zp) {
  for (std::int64_t s = 0; s < rows; ++s) {
    const T* in = src + s * row_stride;
    std::int32_t* out = dst + s * ksteps;
    const std::int64_t full = k / 2;
    for (std::int64_t q = 0; q < full; ++q)
      out[q] = bcast_word(static_cast<std::int32_t>(in[2 * q]) - zp, static_cast<std::int32_t>(in[2 * q + 1]) - zp);
    if (full < ksteps)  // odd K: the high half of the last word is 0
      out[full] = bcast_word(static_cast<std::int32_t>(in[k - 1]) - zp, 0);
  }
}

// float lane operand: panel p holds, for each k, nr floats (rows p·nr .. p·nr+nr−1).
template <class Value>
void pack_lanes_f32(float* dst, const LaneLayout& lay, Value&& value) {
  const std::int64_t panel = lay.panel_elems(1);
  for (std::int64_t p = 0; p < lay.panels(); ++p) {
    float* out = dst + p * panel;
    for (std::int64_t k = 0; k < lay.ksteps; ++k)
      for (std::int64_t r = 0; r < lay.nr; ++r) {
        const std::int64_t l = p * lay.nr + r;
        out[k * lay.nr + r] = (l < lay.rows && k < lay.k) ? static_cast<float>(value(l, k)) : 0.0f;
      }
  }
}

template <class Value>
void pack_bcast_f32(float* dst, std::int64_t rows, std::int64_t k, Value&& value) {
  for (std::int64_t s = 0; s < rows; ++s)
    for (std::int64_t j = 0; j < k; ++j) dst[s * k + j] = static_cast<float>(value(s, j));
}

// The same from rows `row_stride` elements apart (float or bf16), as pack_bcast_rows_i16.
template <class T>
void pack_bcast_rows_f32(float* dst, const T* src, std::int64_t rows, std::int64_t row_stride, std::int64_t k) {
  for (std::int64_t s = 0; s < rows; ++s) {
    const T* in = src + s * row_stride;
    float* out = dst + s * k;
    for (std::int64_t j = 0; j < k; ++j) out[j] = static_cast<float>(in[j]);
  }
}

}  // namespace qnn::cpu
