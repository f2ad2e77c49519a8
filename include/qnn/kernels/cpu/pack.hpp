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
// Integer operands are packed in one of two ways, chosen per layer when its weights are prepared:
// * int16 (v − zero point): the exact products of any int8/uint8 pair, even asymmetric weights, with
//   no correction terms. Pairs of k are interleaved for _mm*_madd_epi16 / Highway's
//   ReorderWidenMulAccumulate: a lane panel holds, for each k-pair q,
//     [l0: v(2q), v(2q+1)], [l1: v(2q), v(2q+1)], ... [l(NR−1): ...]      (2·NR int16, one vector)
//   and a broadcast row holds int32 words with v(2q) in the low and v(2q+1) in the high half.
// * bytes, four k per 32-bit unit, for _mm*_maddubs_epi16 (u8 × s8; kernels/cpu/u8s8.hpp says when
//   that is exact): the activations as unsigned bytes (v − the type's minimum), the weights as
//   signed bytes (w − zero point). A lane panel holds, for each k-quad q, [l0: v(4q) .. v(4q+3)],
//   [l1: ...] ... (4·NR bytes), and a broadcast word the four bytes of one row, v(4q) first in
//   memory. Conv patches are the unsigned lane operand, FC weights the signed one.
// Float operands are packed the same way with single k steps: a panel holds NR floats per k.
// K is padded to a whole step with zeros, panels past the last row with zeros.
#pragma once

#include <algorithm>
#include <cstdint>
#include <span>
#include <type_traits>
#include <vector>

#include "qnn/core/aligned_buffer.hpp"
#include "qnn/core/error.hpp"

namespace qnn::cpu {

// A byte layer may sum two k-quads in int16 before widening them (kernels/cpu/u8s8.hpp, paired
// quads), and a layer whose pairs could saturate may still run on bytes (byte_plan). Their packed
// bytes hold w' − fix for the few weights past that rule's bound, and the GEMM adds fix·u, u
// being the same packed input byte, to the sums of the fix's row (gemm_int).
// row: an output channel (a conv's broadcast row, an FC's lane row); k: in the packed k order.
struct ByteFix {
  std::int64_t row = 0, k = 0;
  std::int32_t w = 0;
};

struct BytePairing {
  bool paired = false;
  std::vector<ByteFix> fixes;  // by row, ascending
};

// The fixes of rows [row0, row0 + rows), which a GEMM call numbers from 0 (a conv group's rows).
struct ByteFixes {
  bool paired = false;
  std::span<const ByteFix> fixes;
  std::int64_t row0 = 0;
};

// The fixes (sorted by row) of rows [lo, hi).
inline std::span<const ByteFix> fixes_of_rows(std::span<const ByteFix> fixes, std::int64_t lo, std::int64_t hi) {
  const auto below = [](const ByteFix& f, std::int64_t r) { return f.row < r; };
  const auto b = std::lower_bound(fixes.begin(), fixes.end(), lo, below);
  return {b, std::lower_bound(b, fixes.end(), hi, below)};
}

inline ByteFixes byte_fixes(const BytePairing& p, std::int64_t row0, std::int64_t rows) {
  return {p.paired, fixes_of_rows(p.fixes, row0, row0 + rows), row0};
}

inline std::int64_t round_up(std::int64_t v, std::int64_t m) { return (v + m - 1) / m * m; }

// Elements of one k-step per lane: a 32-bit unit of int16 pairs or byte quads, or one float.
template <class Elem>
inline constexpr int kStep = std::is_floating_point_v<Elem> ? 1 : static_cast<int>(4 / sizeof(Elem));

// Geometry of a packed lane operand.
struct LaneLayout {
  std::int64_t rows = 0;   // logical rows (L)
  std::int64_t k = 0;      // logical reduction length
  std::int64_t nr = 1;     // lanes per panel
  std::int64_t ksteps = 0; // k-steps: k-pairs (int16), k-quads (bytes) or k (float)
  std::int64_t panels() const { return (rows + nr - 1) / nr; }
  // Elements per panel: per_step (kStep) elements per lane and k-step.
  std::int64_t panel_elems(int per_step) const { return ksteps * nr * per_step; }
};

// Integer or float lane operand from a row accessor: value(l, k) → the element (integers already
// shifted, see above).
template <class Elem, class Value>
void pack_lanes(Elem* dst, const LaneLayout& lay, Value&& value) {
  constexpr int step = kStep<Elem>;
  const std::int64_t panel = lay.panel_elems(step);
  for (std::int64_t p = 0; p < lay.panels(); ++p) {
    Elem* out = dst + p * panel;
    for (std::int64_t q = 0; q < lay.ksteps; ++q)
      for (std::int64_t r = 0; r < lay.nr; ++r) {
        const std::int64_t l = p * lay.nr + r;
        for (std::int64_t h = 0; h < step; ++h) {
          const std::int64_t k = step * q + h;
          out[(q * lay.nr + r) * step + h] = (l < lay.rows && k < lay.k) ? static_cast<Elem>(value(l, k)) : Elem{};
        }
      }
  }
}

// One broadcast word of the kStep<Elem> integers v[0..step), each truncated to Elem, v[0] in the
// lowest bits: for int16, v[0] in the low half and v[1] in the high half. By value, as the tiles
// read a broadcast word (hn::Set of an int32, then a bit cast).
template <class Elem>
std::int32_t pack_word(const std::int32_t* v) {
  constexpr int step = kStep<Elem>, bits = 8 * sizeof(Elem);
  constexpr std::uint32_t mask = (std::uint32_t{1} << bits) - 1;
  std::uint32_t w = 0;
  for (int h = 0; h < step; ++h) w |= (static_cast<std::uint32_t>(v[h]) & mask) << (bits * h);
  return static_cast<std::int32_t>(w);
}

// Integer broadcast rows: dst[s·ksteps + q] = the word of v(s, step·q) .. v(s, step·q + step − 1),
// zeros past k.
template <class Elem, class Value>
void pack_bcast_words(std::int32_t* dst, std::int64_t rows, std::int64_t k, std::int64_t ksteps, Value&& value) {
  constexpr int step = kStep<Elem>;
  for (std::int64_t s = 0; s < rows; ++s)
    for (std::int64_t q = 0; q < ksteps; ++q) {
      std::int32_t e[step];
      for (int h = 0; h < step; ++h) {
        const std::int64_t j = step * q + h;
        e[h] = j < k ? static_cast<std::int32_t>(value(s, j)) : 0;
      }
      dst[s * ksteps + q] = pack_word<Elem>(e);
    }
}

// The same broadcast rows from rows of integer values `row_stride` elements apart, each minus
// `sub` (the zero point for int16, the type's minimum for bytes): one pass per row whose loop the
// compiler vectorizes (the FC's activations, packed on every run; the accessor form above costs a
// strided view lookup per element).
template <class Elem, class T>
void pack_bcast_rows(std::int32_t* dst, const T* src, std::int64_t rows, std::int64_t row_stride, std::int64_t k,
                     std::int64_t ksteps, std::int32_t sub) {
  constexpr int step = kStep<Elem>;
  for (std::int64_t s = 0; s < rows; ++s) {
    const T* in = src + s * row_stride;
    std::int32_t* out = dst + s * ksteps;
    const std::int64_t full = k / step;
    std::int32_t e[step];
    for (std::int64_t q = 0; q < full; ++q) {
      for (int h = 0; h < step; ++h) e[h] = static_cast<std::int32_t>(in[step * q + h]) - sub;
      out[q] = pack_word<Elem>(e);
    }
    if (full < ksteps) {  // K not a whole number of steps: zeros after the last value
      for (int h = 0; h < step; ++h) {
        const std::int64_t j = step * full + h;
        e[h] = j < k ? static_cast<std::int32_t>(in[j]) - sub : 0;
      }
      out[full] = pack_word<Elem>(e);
    }
  }
}

template <class Value>
void pack_bcast_f32(float* dst, std::int64_t rows, std::int64_t k, Value&& value) {
  for (std::int64_t s = 0; s < rows; ++s)
    for (std::int64_t j = 0; j < k; ++j) dst[s * k + j] = static_cast<float>(value(s, j));
}

// The same from rows `row_stride` elements apart (float or bf16), as pack_bcast_rows.
template <class T>
void pack_bcast_rows_f32(float* dst, const T* src, std::int64_t rows, std::int64_t row_stride, std::int64_t k) {
  for (std::int64_t s = 0; s < rows; ++s) {
    const T* in = src + s * row_stride;
    float* out = dst + s * k;
    for (std::int64_t j = 0; j < k; ++j) out[j] = static_cast<float>(in[j]);
  }
}

}  // namespace qnn::cpu
