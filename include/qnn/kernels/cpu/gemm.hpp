// The CPU GEMM driver: blocking over the packed operands, the per-target block kernels from the
// dispatch table (or their portable equivalents), and the output stage.
//
// Integer (int16 pairs or bytes, kernels/cpu/pack.hpp): blocks of 16 broadcast rows × 8 lane
// panels (64 lanes on AVX2, 128 on AVX-512): a 4 KiB int32 block that the requantizing epilogue
// reads straight back from L1; the lane panels of one block (8 panels × K) are reused by all 16 rows.
// fp32: the block kernel applies bias and clamp itself and stores to the output (a scalar epilogue
// re-reading a scratch block was 8.5 % of the FP32 model's time), so a block is only a unit of
// reuse: 16 rows × 12 panels, 12 being a multiple of the fp32 tile's 3 panels.
#pragma once

#include <algorithm>
#include <cmath>
#include <concepts>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "qnn/core/error.hpp"
#include "qnn/kernels/cpu/pack.hpp"
#include "qnn/kernels/dispatch.hpp"
#include "qnn/kernels/simd/gemm_args.hpp"

namespace qnn::cpu {

inline constexpr std::int64_t kBlockRows = 16;
inline constexpr std::int64_t kBlockPanels = 8;
inline constexpr std::int64_t kBlockPanelsF32 = 12;

// Panel width for packing: the SIMD lane count, or 8 for the portable loops.
inline std::int64_t panel_lanes() {
  const simd::KernelTable* t = simd::kernel_table();
  return t ? static_cast<std::int64_t>(t->lanes) : 8;
}

// Weights are packed once, for the panel width of the target active then. Under run-time dispatch
// another target can be selected later (simd::select_target); its kernels and scratch sizes would
// misread those panels, so the GEMM refuses them.
inline void check_panel_width(std::int64_t nr) {
  if (nr != panel_lanes())
    fail("GEMM operand packed in ", nr, "-lane panels, but the active SIMD target ", simd::active_target(),
         " uses ", panel_lanes(), ": select the target before preparing layers and sessions");
}

// The portable block kernels: the same layouts and the same integer sums as the SIMD ones.
inline void gemm_block_i16_portable(const simd::GemmI16Args& a, std::int64_t nr) {
  for (std::int64_t s = 0; s < a.rows; ++s)
    for (std::int64_t p = 0; p < a.panels; ++p) {
      const std::int16_t* lp = a.lanes + p * a.panel_stride;
      const std::int32_t* bp = a.bcast + s * a.bcast_stride;
      for (std::int64_t r = 0; r < nr; ++r) {
        std::uint32_t acc = 0;  // wraps like the SIMD lanes; the bound check keeps it exact
        for (std::int64_t q = 0; q < a.ksteps; ++q) {
          const auto w = static_cast<std::uint32_t>(bp[q]);
          const auto b0 = static_cast<std::int16_t>(w & 0xFFFFu);
          const auto b1 = static_cast<std::int16_t>(w >> 16);
          const std::int16_t* l = lp + (q * nr + r) * 2;
          acc += static_cast<std::uint32_t>(std::int32_t{l[0]} * b0 + std::int32_t{l[1]} * b1);
        }
        a.out[s * a.out_stride + p * nr + r] = static_cast<std::int32_t>(acc);
      }
    }
}

// The same for byte operands (GemmU8S8Args), pairs saturated to int16 as _mm*_maddubs_epi16 does
// (kernels/cpu/u8s8.hpp admits only layers where that never happens).
inline void gemm_block_u8s8_portable(const simd::GemmU8S8Args& a, std::int64_t nr) {
  const auto sat16 = [](std::int32_t v) { return std::min(std::max(v, -32768), 32767); };
  for (std::int64_t s = 0; s < a.rows; ++s)
    for (std::int64_t p = 0; p < a.panels; ++p) {
      const std::uint8_t* lp = a.lanes + p * a.panel_stride;
      const std::int32_t* bp = a.bcast + s * a.bcast_stride;
      for (std::int64_t r = 0; r < nr; ++r) {
        std::uint32_t acc = 0;
        for (std::int64_t q = 0; q < a.ksteps; ++q) {
          std::uint8_t b[4];  // the word's bytes by value (pack_word), lanes by address (pack_lanes)
          for (int h = 0; h < 4; ++h) b[h] = static_cast<std::uint8_t>(static_cast<std::uint32_t>(bp[q]) >> (8 * h));
          const std::uint8_t* l = lp + (q * nr + r) * 4;
          for (int h = 0; h < 4; h += 2) {
            const std::uint8_t* u = a.lanes_unsigned ? l : b;
            const std::uint8_t* v = a.lanes_unsigned ? b : l;
            const std::int32_t pair = std::int32_t{u[h]} * static_cast<std::int8_t>(v[h]) +
                                      std::int32_t{u[h + 1]} * static_cast<std::int8_t>(v[h + 1]);
            acc += static_cast<std::uint32_t>(sat16(pair));
          }
        }
        a.out[s * a.out_stride + p * nr + r] = static_cast<std::int32_t>(acc);
      }
    }
}

inline void gemm_block_f32_portable(const simd::GemmF32Args& a, std::int64_t nr) {
  for (std::int64_t s = 0; s < a.rows; ++s)
    for (std::int64_t p = 0; p < a.panels; ++p) {
      const float* lp = a.lanes + p * a.panel_stride;
      const float* bp = a.bcast + s * a.bcast_stride;
      for (std::int64_t r = 0; r < nr; ++r) {
        float acc = !a.bias ? 0.0f : a.bias[a.bias_per_lane ? p * nr + r : s];
        for (std::int64_t k = 0; k < a.ksteps; ++k) acc = std::fma(lp[k * nr + r], bp[k], acc);
        a.out[s * a.out_stride + p * nr + r] = std::min(std::max(acc, a.lo), a.hi);
      }
    }
}

// The fixes `fx` of a conv block added to its sums (row r at out + (r − row0)·out_stride) over np
// panels of patches, modulo 2^32: each fix is a multiply-add over every panel's nr lanes. NR, when
// not 0, is nr as a constant: the lane loop then compiles to one vector operation per fix and
// panel (the restrict pointers spare it overlap checks).
template <int NR>
void add_conv_byte_fixes(std::span<const ByteFix> fx, const std::uint8_t* lanes, std::int64_t panel, std::int64_t nr,
                         std::int64_t np, std::int32_t* out, std::int64_t out_stride, std::int64_t row0) {
  const std::int64_t n = NR ? NR : nr;
  for (const ByteFix& x : fx) {
    const int shift = 8 * static_cast<int>(x.k % 4);
    const auto w = static_cast<std::uint32_t>(x.w);
    const auto* words = reinterpret_cast<const std::uint32_t*>(lanes) + x.k / 4 * n;
    std::int32_t* o = out + (x.row - row0) * out_stride;
    for (std::int64_t p = 0; p < np; ++p) {
      // Each lane's quad as one word.
      const std::uint32_t* __restrict u = words + p * (panel / 4);
      std::uint32_t* __restrict op = reinterpret_cast<std::uint32_t*>(o + p * n);
      for (std::int64_t i = 0; i < n; ++i) op[i] += w * ((u[i] >> shift) & 0xFFu);
    }
  }
}

// Adds the fixes of a byte layer (ByteFix) to one block's sums, modulo 2^32 as the kernels
// add: fix·u with u the input byte the kernel multiplied by the rest of that weight — in a conv the
// lane panels' byte k of every pixel (the fixes are on broadcast rows), in an FC the broadcast
// rows' byte k (the fixes are on lane rows, columns of the block).
template <class Elem>
void add_byte_fixes(const ByteFixes& f, const LaneLayout& lay, const Elem* lanes, std::int64_t p0, std::int64_t np,
                    const std::int32_t* bcast, std::int64_t s0, std::int64_t rows, std::int32_t* out,
                    std::int64_t out_stride) {
  const std::int64_t nr = lay.nr, panel = lay.panel_elems(4);
  if constexpr (std::same_as<Elem, std::uint8_t>) {
    const std::span<const ByteFix> fx = fixes_of_rows(f.fixes, f.row0 + s0, f.row0 + s0 + rows);
    const std::uint8_t* first = lanes + p0 * panel;
    const std::int64_t row0 = f.row0 + s0;
    if (nr == 8)
      add_conv_byte_fixes<8>(fx, first, panel, nr, np, out, out_stride, row0);
    else if (nr == 16)
      add_conv_byte_fixes<16>(fx, first, panel, nr, np, out, out_stride, row0);
    else if (nr == 4)
      add_conv_byte_fixes<4>(fx, first, panel, nr, np, out, out_stride, row0);
    else
      add_conv_byte_fixes<0>(fx, first, panel, nr, np, out, out_stride, row0);
  } else {
    const std::int64_t l0 = p0 * nr;
    for (const ByteFix& x : fixes_of_rows(f.fixes, f.row0 + l0, f.row0 + l0 + np * nr)) {
      const int shift = 8 * static_cast<int>(x.k % 4);
      for (std::int64_t s = 0; s < rows; ++s) {
        const auto word = static_cast<std::uint32_t>(bcast[(s0 + s) * lay.ksteps + x.k / 4]);
        auto& o = reinterpret_cast<std::uint32_t&>(out[s * out_stride + x.row - f.row0 - l0]);
        o += static_cast<std::uint32_t>(x.w) * ((word >> shift) & 0xFFu);
      }
    }
  }
}

// The integer block kernel for lane elements Elem: int16 pairs, or bytes — uint8 lanes (conv
// patches) against signed broadcast words, int8 lanes (FC weights) against unsigned ones — with a
// byte layer's fixes added.
template <class Elem>
void int_block(const simd::KernelTable* t, const LaneLayout& lay, const Elem* lanes, std::int64_t p0,
               const std::int32_t* bcast, std::int64_t s0, std::int64_t rows, std::int64_t np, std::int32_t* out,
               std::int64_t out_stride, const ByteFixes& fixes) {
  using Args = std::conditional_t<std::same_as<Elem, std::int16_t>, simd::GemmI16Args, simd::GemmU8S8Args>;
  const std::int64_t panel = lay.panel_elems(kStep<Elem>);
  Args a;
  if constexpr (std::same_as<Elem, std::int16_t>) {
    a.lanes = lanes + p0 * panel;
  } else {
    a.lanes = reinterpret_cast<const std::uint8_t*>(lanes + p0 * panel);
    a.lanes_unsigned = std::same_as<Elem, std::uint8_t>;
    a.paired = fixes.paired;
  }
  a.panel_stride = panel;
  a.panels = np;
  a.bcast = bcast + s0 * lay.ksteps;
  a.bcast_stride = lay.ksteps;
  a.rows = rows;
  a.ksteps = lay.ksteps;
  a.out = out;
  a.out_stride = out_stride;
  if constexpr (std::same_as<Elem, std::int16_t>) {
    if (t) return t->gemm_i16(a);
    gemm_block_i16_portable(a, lay.nr);
  } else {
    if (t && t->gemm_u8s8)
      t->gemm_u8s8(a);
    else
      gemm_block_u8s8_portable(a, lay.nr);
    if (!fixes.fixes.empty()) add_byte_fixes(fixes, lay, lanes, p0, np, bcast, s0, rows, out, out_stride);
  }
}

// C = S·Lᵀ for broadcast rows [0, rows) and the lane rows of panels [panel_begin, panel_end)
// (all panels by default), block by block, lanes of int16 pairs or bytes (int_block; `fixes`: a
// byte layer's, empty otherwise):
// epilogue(s0, nrows, l0, ncols, block, block_stride) gets each block's sums. Blocks are
// `block_panels` ≤ kBlockPanels panels wide (an epilogue may need its blocks to start at multiples
// of some width). `scratch` holds kBlockRows × kBlockPanels·nr accumulators.
template <class Elem, class Epilogue>
void gemm_int(const Elem* lanes, const LaneLayout& lay, const std::int32_t* bcast, std::int64_t rows,
              const ByteFixes& fixes, std::int32_t* scratch, Epilogue&& epilogue, std::int64_t panel_begin = 0,
              std::int64_t panel_end = -1, std::int64_t block_panels = kBlockPanels) {
  const simd::KernelTable* t = simd::kernel_table();
  const std::int64_t nr = lay.nr;
  check_panel_width(nr);
  check(block_panels >= 1 && block_panels <= kBlockPanels, "gemm_int: blocks of ", block_panels, " panels");
  const std::int64_t stride = kBlockPanels * nr;
  const std::int64_t pend = panel_end < 0 ? lay.panels() : panel_end;
  for (std::int64_t p0 = panel_begin; p0 < pend; p0 += block_panels) {
    const std::int64_t np = std::min(block_panels, pend - p0);
    for (std::int64_t s0 = 0; s0 < rows; s0 += kBlockRows) {
      const std::int64_t nrows = std::min(kBlockRows, rows - s0);
      int_block(t, lay, lanes, p0, bcast, s0, nrows, np, scratch, stride, fixes);
      epilogue(s0, nrows, p0 * nr, std::min(np * nr, lay.rows - p0 * nr), scratch, stride);
    }
  }
}

// The output stage of a float GEMM, applied by the block kernels while the sums are in registers:
// C[s][l] = clamp(bias + Σ_k S[s][k]·L[l][k], lo, hi), written to out[s·out_stride + l].
struct F32Output {
  const float* bias = nullptr;  // one per broadcast row (conv) or per lane row (FC); null: none
  bool bias_per_lane = false;
  float lo = 0.0f, hi = 0.0f;
  float* out = nullptr;
  std::int64_t out_stride = 0;
};

// C for broadcast rows [0, rows) and the lane rows of panels [panel_begin, panel_end) (all panels
// by default), written to o.out. A block whose last panel is partial (lane rows not a multiple of
// nr) is computed into `scratch` and its real columns copied out, so that no store passes the end of
// an output row; its per-lane bias is read from a zero-padded copy in scratch for the same reason.
inline void gemm_f32(const float* lanes, const LaneLayout& lay, const float* bcast, std::int64_t rows,
                     const F32Output& o, float* scratch, std::int64_t panel_begin = 0, std::int64_t panel_end = -1) {
  const simd::KernelTable* t = simd::kernel_table();
  const std::int64_t nr = lay.nr;
  check_panel_width(nr);
  const std::int64_t panel = lay.panel_elems(1);
  const std::int64_t stride = kBlockPanelsF32 * nr;
  float* padded_bias = scratch + kBlockRows * stride;
  const std::int64_t pend = panel_end < 0 ? lay.panels() : panel_end;
  for (std::int64_t p0 = panel_begin; p0 < pend; p0 += kBlockPanelsF32) {
    const std::int64_t np = std::min(kBlockPanelsF32, pend - p0);
    const std::int64_t l0 = p0 * nr, cols = std::min(np * nr, lay.rows - l0);
    const bool whole = cols == np * nr;
    const float* lane_bias = o.bias ? o.bias + l0 : nullptr;
    if (!whole && o.bias && o.bias_per_lane) {
      std::copy(lane_bias, lane_bias + cols, padded_bias);
      std::fill(padded_bias + cols, padded_bias + np * nr, 0.0f);
      lane_bias = padded_bias;
    }
    for (std::int64_t s0 = 0; s0 < rows; s0 += kBlockRows) {
      simd::GemmF32Args a;
      a.lanes = lanes + p0 * panel;
      a.panel_stride = panel;
      a.panels = np;
      a.bcast = bcast + s0 * lay.ksteps;
      a.bcast_stride = lay.ksteps;
      a.rows = std::min(kBlockRows, rows - s0);
      a.ksteps = lay.ksteps;
      a.bias = !o.bias ? nullptr : o.bias_per_lane ? lane_bias : o.bias + s0;
      a.bias_per_lane = o.bias_per_lane;
      a.lo = o.lo;
      a.hi = o.hi;
      a.out = whole ? o.out + s0 * o.out_stride + l0 : scratch;
      a.out_stride = whole ? o.out_stride : stride;
      if (t) t->gemm_f32(a);
      else gemm_block_f32_portable(a, nr);
      if (!whole)
        for (std::int64_t r = 0; r < a.rows; ++r)
          std::copy(scratch + r * stride, scratch + r * stride + cols, o.out + (s0 + r) * o.out_stride + l0);
    }
  }
}

// A block of accumulators, and a row of them more for gemm_f32's padded bias.
inline std::size_t gemm_scratch_bytes() {
  return static_cast<std::size_t>((kBlockRows + 1) * std::max(kBlockPanels, kBlockPanelsF32) * panel_lanes()) * 4;
}

}  // namespace qnn::cpu
