// Per-target GEMM tiles and epilogues (the SIMD half of the CPU GEMM; packing, blocking and
// threads are in kernels/cpu/). Written with Highway and re-included once per target by the
// dynamic-dispatch build (the two-guard -inl idiom), compiled once for the static target otherwise.
//
// Tiles: MR broadcast rows × NV lane panels, accumulators held in registers across the whole K.
// int16: MR = 4, NV = 2 uses 8 accumulators + 2 lane vectors + 1 broadcast: 11 of AVX2's 16
// registers, leaving room for the compiler. fp32: MR = 6, NV = 2 (see gemm_block_f32). The same
// shapes are used on every target, so the packed layouts only depend on the lane count.
//
// int16 tiles use ReorderWidenMulAccumulate (x86: _mm*_madd_epi16): each int32 lane adds
// a(2q)·b(2q) + a(2q+1)·b(2q+1), exact for operands in [−255, 255] (no saturation: only
// (−32768)² overflows a pair), so the int32 accumulator equals the reference's sum bit for bit as
// long as the reference's overflow bound holds (it is checked when the layer is prepared).
//
// Epilogue (onnx_float policy): f = float(acc + bias)·m, clamp to [lo−zp, hi−zp], NearestInt
// (cvtps2dq, round half to even under the default MXCSR), + zp: the same operations as
// OnnxFloat::apply, so the result equals the scalar reference bit for bit.

#if defined(QNN_KERNELS_SIMD_GEMM_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef QNN_KERNELS_SIMD_GEMM_INL_H_
#undef QNN_KERNELS_SIMD_GEMM_INL_H_
#else
#define QNN_KERNELS_SIMD_GEMM_INL_H_
#endif

#include <cstddef>
#include <cstdint>

#include "hwy/highway.h"
#include "qnn/kernels/simd/gemm_args.hpp"

// Highway's SCALAR/EMU128 targets cannot repartition int32 lanes into int16 pairs; qnn runs its
// portable loops there instead (kernels/cpu/gemm.hpp), so nothing is compiled for them.
#if HWY_TARGET != HWY_SCALAR && HWY_TARGET != HWY_EMU128
HWY_BEFORE_NAMESPACE();
namespace qnn::simd {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

inline std::size_t lanes_i32() {
  const hn::ScalableTag<std::int32_t> d;
  return hn::Lanes(d);
}

template <int MR, int NV>
HWY_INLINE void tile_i16(const GemmI16Args& a, std::int64_t s0, std::int64_t p0) {
  const hn::ScalableTag<std::int32_t> d32;
  const hn::Repartition<std::int16_t, decltype(d32)> d16;
  using V32 = hn::Vec<decltype(d32)>;
  const std::int64_t nr = static_cast<std::int64_t>(hn::Lanes(d32));
  V32 acc[MR][NV];
  V32 acc1[MR][NV];  // ReorderWidenMulAccumulate's second sum (unused on x86)
  for (int s = 0; s < MR; ++s)
    for (int v = 0; v < NV; ++v) {
      acc[s][v] = hn::Zero(d32);
      acc1[s][v] = hn::Zero(d32);
    }
  const std::int16_t* HWY_RESTRICT lp[NV];
  for (int v = 0; v < NV; ++v) lp[v] = a.lanes + (p0 + v) * a.panel_stride;
  const std::int32_t* HWY_RESTRICT bp[MR];
  for (int s = 0; s < MR; ++s) bp[s] = a.bcast + (s0 + s) * a.bcast_stride;
  for (std::int64_t q = 0; q < a.ksteps; ++q) {
    hn::Vec<decltype(d16)> l[NV];
    for (int v = 0; v < NV; ++v) l[v] = hn::Load(d16, lp[v] + q * 2 * nr);
    for (int s = 0; s < MR; ++s) {
      const auto b = hn::BitCast(d16, hn::Set(d32, bp[s][q]));
      for (int v = 0; v < NV; ++v) acc[s][v] = hn::ReorderWidenMulAccumulate(d32, l[v], b, acc[s][v], acc1[s][v]);
    }
  }
  for (int s = 0; s < MR; ++s)
    for (int v = 0; v < NV; ++v)
      hn::StoreU(hn::RearrangeToOddPlusEven(acc[s][v], acc1[s][v]), d32,
                 a.out + (s0 + s) * a.out_stride + (p0 + v) * nr);
}

// C[s][l] for s in [0, rows), l in [0, panels·nr): the int32 sums of one block.
inline void gemm_block_i16(const GemmI16Args& a) {
  constexpr int kMR = 4;
  constexpr int kNV = 2;
  std::int64_t s = 0;
  for (; s + kMR <= a.rows; s += kMR) {
    std::int64_t p = 0;
    for (; p + kNV <= a.panels; p += kNV) tile_i16<kMR, kNV>(a, s, p);
    for (; p < a.panels; ++p) tile_i16<kMR, 1>(a, s, p);
  }
  for (; s < a.rows; ++s) {
    std::int64_t p = 0;
    for (; p + kNV <= a.panels; p += kNV) tile_i16<1, kNV>(a, s, p);
    for (; p < a.panels; ++p) tile_i16<1, 1>(a, s, p);
  }
}

template <int MR, int NV>
HWY_INLINE void tile_f32(const GemmF32Args& a, std::int64_t s0, std::int64_t p0) {
  const hn::ScalableTag<float> df;
  using VF = hn::Vec<decltype(df)>;
  const std::int64_t nr = static_cast<std::int64_t>(hn::Lanes(df));
  VF acc[MR][NV];
  for (int s = 0; s < MR; ++s)
    for (int v = 0; v < NV; ++v) acc[s][v] = hn::Zero(df);
  const float* HWY_RESTRICT lp[NV];
  for (int v = 0; v < NV; ++v) lp[v] = a.lanes + (p0 + v) * a.panel_stride;
  const float* HWY_RESTRICT bp[MR];
  for (int s = 0; s < MR; ++s) bp[s] = a.bcast + (s0 + s) * a.bcast_stride;
  for (std::int64_t k = 0; k < a.ksteps; ++k) {
    VF l[NV];
    for (int v = 0; v < NV; ++v) l[v] = hn::Load(df, lp[v] + k * nr);
    for (int s = 0; s < MR; ++s) {
      const VF b = hn::Set(df, bp[s][k]);
      for (int v = 0; v < NV; ++v) acc[s][v] = hn::MulAdd(l[v], b, acc[s][v]);
    }
  }
  for (int s = 0; s < MR; ++s)
    for (int v = 0; v < NV; ++v) hn::StoreU(acc[s][v], df, a.out + (s0 + s) * a.out_stride + (p0 + v) * nr);
}

// Rows in tiles of 6 (12 accumulators + 2 lane vectors + 1 broadcast = 15 of AVX2's 16 registers):
// with 8 accumulators (4 × 2) the FMAs of one k-step barely cover the FMA latency on two pipes,
// and the kernel ran at 70–78 % of the FMA peak (docs/benchmarks.md). The 0–5 leftover rows of a
// block run as one shorter tile. Each sum still adds its k terms in order, so the results do not
// depend on the tile shape.
template <int MR>
HWY_INLINE void rows_f32(const GemmF32Args& a, std::int64_t s) {
  constexpr int kNV = 2;
  std::int64_t p = 0;
  for (; p + kNV <= a.panels; p += kNV) tile_f32<MR, kNV>(a, s, p);
  for (; p < a.panels; ++p) tile_f32<MR, 1>(a, s, p);
}

inline void gemm_block_f32(const GemmF32Args& a) {
  constexpr int kMR = 6;
  std::int64_t s = 0;
  for (; s + kMR <= a.rows; s += kMR) rows_f32<kMR>(a, s);
  switch (a.rows - s) {
    case 5: return rows_f32<5>(a, s);
    case 4: return rows_f32<4>(a, s);
    case 3: return rows_f32<3>(a, s);
    case 2: return rows_f32<2>(a, s);
    case 1: return rows_f32<1>(a, s);
    default: return;
  }
}

// onnx_float requantization of an int32 block into uint8 or int8 (docs/numerics.md §4.1).
template <class TOut>
HWY_INLINE void requant_onnx(const RequantArgs& a) {
  const hn::ScalableTag<std::int32_t> d32;
  const hn::Rebind<float, decltype(d32)> df;
  const hn::Rebind<TOut, decltype(d32)> d8;
  const std::int64_t n = static_cast<std::int64_t>(hn::Lanes(d32));
  const auto vzp = hn::Set(d32, a.zp);
  const auto flo = hn::Set(df, static_cast<float>(a.lo - a.zp));
  const auto fhi = hn::Set(df, static_cast<float>(a.hi - a.zp));
  for (std::int64_t r = 0; r < a.rows; ++r) {
    const std::int32_t* acc = a.acc + r * a.acc_stride;
    TOut* out = static_cast<TOut*>(a.out) + r * a.out_stride;
    const std::int64_t row_ch = a.channel0 + r;
    std::int64_t c = 0;
    for (; c + n <= a.cols; c += n) {
      auto v = hn::LoadU(d32, acc + c);
      hn::Vec<decltype(df)> m;
      if (a.channel_is_row) {
        v = hn::Add(v, hn::Set(d32, a.bias ? a.bias[row_ch] : 0));
        m = hn::Set(df, a.mult[a.per_channel ? row_ch : 0]);
      } else {
        const std::int64_t ch = a.channel0 + c;
        if (a.bias) v = hn::Add(v, hn::LoadU(d32, a.bias + ch));
        m = a.per_channel ? hn::LoadU(df, a.mult + ch) : hn::Set(df, a.mult[0]);
      }
      auto f = hn::Mul(hn::ConvertTo(df, v), m);
      f = hn::Min(hn::Max(f, flo), fhi);
      const auto q = hn::Add(hn::NearestInt(f), vzp);
      hn::StoreU(hn::DemoteTo(d8, q), d8, out + c);
    }
    for (; c < a.cols; ++c) {  // tail: the same operations, one lane at a time
      const std::int64_t ch = a.channel_is_row ? row_ch : a.channel0 + c;
      const std::int32_t b = a.bias ? a.bias[ch] : 0;
      float f = static_cast<float>(static_cast<std::int32_t>(static_cast<std::uint32_t>(acc[c]) + static_cast<std::uint32_t>(b))) *
                a.mult[a.per_channel ? ch : 0];
      const auto lo = static_cast<float>(a.lo - a.zp);
      const auto hi = static_cast<float>(a.hi - a.zp);
      f = f < lo ? lo : (f > hi ? hi : f);
      out[c] = static_cast<TOut>(hn::GetLane(hn::NearestInt(hn::Set(df, f))) + a.zp);
    }
  }
}

inline void requant_onnx_u8(const RequantArgs& a) { requant_onnx<std::uint8_t>(a); }
inline void requant_onnx_i8(const RequantArgs& a) { requant_onnx<std::int8_t>(a); }

}  // namespace HWY_NAMESPACE
}  // namespace qnn::simd
HWY_AFTER_NAMESPACE();
#endif  // HWY_TARGET != HWY_SCALAR && HWY_TARGET != HWY_EMU128

#endif  // include guard
