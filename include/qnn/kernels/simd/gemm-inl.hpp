// Per-target GEMM tiles and epilogues (the SIMD half of the CPU GEMM; packing, blocking and
// threads are in kernels/cpu/). Written with Highway and re-included once per target by the
// dynamic-dispatch build (the two-guard -inl idiom), compiled once for the static target otherwise.
//
// Tiles: MR broadcast rows × NV lane panels, accumulators held in registers across the whole K:
// int16 6 × 2, fp32 4 × 3 and u8×s8 bytes 4 × 2 (see gemm_block_i16/f32/u8s8). The same shapes are
// used on every target, so the packed layouts only depend on the lane count.
//
// fp32 tiles also apply the output stage: each sum starts from its bias (so with FMA every output
// is the reference's k-ascending FMA chain, bit for bit), is clamped in registers and stored to the
// layer's output (GemmF32Args).
//
// int16 tiles use ReorderWidenMulAccumulate (x86: _mm*_madd_epi16): each int32 lane adds
// a(2q)·b(2q) + a(2q+1)·b(2q+1), exact for operands in [−255, 255] (no saturation: only
// (−32768)² overflows a pair), so the int32 accumulator equals the reference's sum bit for bit as
// long as the reference's overflow bound holds (it is checked when the layer is prepared).
//
// Epilogue (onnx_float policy): f = float(acc + bias)·m, clamp to [lo−zp, hi−zp], round half to
// even, + zp: the operations of OnnxFloat::apply, so the result equals the scalar reference bit
// for bit. The rounding is done by adding 1.5·2^23 (see requant_vec), which rounds like cvtps2dq
// under the default MXCSR.

#if defined(QNN_KERNELS_SIMD_GEMM_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef QNN_KERNELS_SIMD_GEMM_INL_H_
#undef QNN_KERNELS_SIMD_GEMM_INL_H_
#else
#define QNN_KERNELS_SIMD_GEMM_INL_H_
#endif

#include <algorithm>
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

// How an integer tile multiplies one k-step: a lane vector (NR lanes × kStep values) against a
// broadcast word, added into each int32 lane. int16 pairs: one madd.
template <class Args>
struct IntStep;

template <>
struct IntStep<GemmI16Args> {
  using Lane = std::int16_t;
  static constexpr int kPerStep = 2;
  static constexpr bool kPaired = false;
  template <class D32, class VL>
  static HWY_INLINE hn::Vec<D32> mul_add(D32 d32, VL l, hn::Vec<D32> b, hn::Vec<D32> acc, hn::Vec<D32>& acc1) {
    const hn::Repartition<std::int16_t, D32> d16;
    return hn::ReorderWidenMulAccumulate(d32, l, hn::BitCast(d16, b), acc, acc1);
  }
};

#if HWY_ARCH_X86
// _mm*_maddubs_epi16 — int16 lane i = sat16(u[2i]·s[2i] + u[2i+1]·s[2i+1]), u unsigned bytes,
// s signed — which Highway 1.0.3 does not offer. Every x86 target qnn compiles has it (SSSE3 on).
template <class D16, class V8>
HWY_INLINE hn::Vec<D16> maddubs(D16 /*d16*/, V8 u, V8 s) {
#if HWY_TARGET <= HWY_AVX3
  return hn::Vec<D16>{_mm512_maddubs_epi16(u.raw, s.raw)};
#elif HWY_TARGET == HWY_AVX2
  return hn::Vec<D16>{_mm256_maddubs_epi16(u.raw, s.raw)};
#else
  return hn::Vec<D16>{_mm_maddubs_epi16(u.raw, s.raw)};
#endif
}

// Bytes: a k-step is a quad; maddubs then a madd against ones add it into each int32 lane (ORT's
// and oneDNN's AVX2 u8s8 sequence), bit for bit the int16 kernel's sum when no pair saturates.
// kLanesUnsigned: which operand holds the unsigned bytes, fixed per block. kPaired: two quads'
// maddubs results are added in int16 before one madd widens them (GemmU8S8Args::paired).
template <bool kLanesUnsigned, bool kPaired>
struct U8S8Block : GemmU8S8Args {
  explicit U8S8Block(const GemmU8S8Args& a) : GemmU8S8Args(a) {}
};

template <bool kLanesUnsigned, bool kPairedQuads>
struct IntStep<U8S8Block<kLanesUnsigned, kPairedQuads>> {
  using Lane = std::uint8_t;
  static constexpr int kPerStep = 4;
  static constexpr bool kPaired = kPairedQuads;
  template <class D16, class VL, class V32>
  static HWY_INLINE hn::Vec<D16> pairs(D16 d16, VL l, V32 b) {
    const auto bb = hn::BitCast(hn::Repartition<std::uint8_t, D16>(), b);
    return kLanesUnsigned ? maddubs(d16, l, bb) : maddubs(d16, bb, l);
  }
  template <class D32, class VL>
  static HWY_INLINE hn::Vec<D32> mul_add(D32 d32, VL l, hn::Vec<D32> b, hn::Vec<D32> acc, hn::Vec<D32>& acc1) {
    const hn::Repartition<std::int16_t, D32> d16;
    return hn::ReorderWidenMulAccumulate(d32, pairs(d16, l, b), hn::Set(d16, std::int16_t{1}), acc, acc1);
  }
  // Quads q (l0, b0) and q + 1 (l1, b1).
  template <class D32, class VL>
  static HWY_INLINE hn::Vec<D32> mul_add2(D32 d32, VL l0, hn::Vec<D32> b0, VL l1, hn::Vec<D32> b1, hn::Vec<D32> acc,
                                          hn::Vec<D32>& acc1) {
    const hn::Repartition<std::int16_t, D32> d16;
    const auto sum = hn::Add(pairs(d16, l0, b0), pairs(d16, l1, b1));
    return hn::ReorderWidenMulAccumulate(d32, sum, hn::Set(d16, std::int16_t{1}), acc, acc1);
  }
};
#endif  // HWY_ARCH_X86

// The integer tile, for either layout (IntStep).
template <int MR, int NV, class Args, class Lane = typename IntStep<Args>::Lane>
HWY_INLINE void tile(const Args& a, std::int64_t s0, std::int64_t p0) {
  using Step = IntStep<Args>;
  const hn::ScalableTag<std::int32_t> d32;
  const hn::Repartition<Lane, decltype(d32)> dl;
  using V32 = hn::Vec<decltype(d32)>;
  const std::int64_t nr = static_cast<std::int64_t>(hn::Lanes(d32));
  V32 acc[MR][NV];
  V32 acc1[MR][NV];  // ReorderWidenMulAccumulate's second sum (unused on x86)
  for (int s = 0; s < MR; ++s)
    for (int v = 0; v < NV; ++v) {
      acc[s][v] = hn::Zero(d32);
      acc1[s][v] = hn::Zero(d32);
    }
  const Lane* HWY_RESTRICT lp[NV];
  for (int v = 0; v < NV; ++v) lp[v] = a.lanes + (p0 + v) * a.panel_stride;
  const std::int32_t* HWY_RESTRICT bp[MR];
  for (int s = 0; s < MR; ++s) bp[s] = a.bcast + (s0 + s) * a.bcast_stride;
  std::int64_t q = 0;
  if constexpr (Step::kPaired) {
    for (; q + 2 <= a.ksteps; q += 2) {
      hn::Vec<decltype(dl)> l0[NV], l1[NV];
      for (int v = 0; v < NV; ++v) {
        l0[v] = hn::Load(dl, lp[v] + q * Step::kPerStep * nr);
        l1[v] = hn::Load(dl, lp[v] + (q + 1) * Step::kPerStep * nr);
      }
      for (int s = 0; s < MR; ++s) {
        const V32 b0 = hn::Set(d32, bp[s][q]), b1 = hn::Set(d32, bp[s][q + 1]);
        for (int v = 0; v < NV; ++v) acc[s][v] = Step::mul_add2(d32, l0[v], b0, l1[v], b1, acc[s][v], acc1[s][v]);
      }
    }
  }
  for (; q < a.ksteps; ++q) {
    hn::Vec<decltype(dl)> l[NV];
    for (int v = 0; v < NV; ++v) l[v] = hn::Load(dl, lp[v] + q * Step::kPerStep * nr);
    for (int s = 0; s < MR; ++s) {
      const V32 b = hn::Set(d32, bp[s][q]);
      for (int v = 0; v < NV; ++v) acc[s][v] = Step::mul_add(d32, l[v], b, acc[s][v], acc1[s][v]);
    }
  }
  // Locals: through `a` the compiler would reload out and out_stride after every store (they might
  // alias the output), which costs at small K (conv1: 5 k-pairs).
  std::int32_t* HWY_RESTRICT out = a.out + s0 * a.out_stride + p0 * nr;
  const std::int64_t out_stride = a.out_stride;
  for (int s = 0; s < MR; ++s)
    for (int v = 0; v < NV; ++v)
      hn::StoreU(hn::RearrangeToOddPlusEven(acc[s][v], acc1[s][v]), d32, out + s * out_stride + v * nr);
}

// std::min(std::max(v, lo), hi) — the reference's clamp — NaN and signed zeros included. x86's
// maxps/minps return their second operand whenever the comparison is false (a NaN, or ±0 against
// ∓0), and max(lo, v) = (lo > v ? lo : v), min(hi, w) = (hi < w ? hi : w) are then exactly
// std::max(v, lo) and std::min(w, hi): one instruction each. Highway leaves those cases of Max/Min
// unspecified, so other architectures compare and select.
template <class D, class V>
HWY_INLINE V clamp_like_std(D d, V v, V lo, V hi) {
  if constexpr (HWY_ARCH_X86) {
    (void)d;
    return hn::Min(hi, hn::Max(lo, v));
  } else {
    const V w = hn::IfThenElse(hn::Lt(v, lo), lo, v);
    return hn::IfThenElse(hn::Lt(hi, w), hi, w);
  }
}

template <int MR, int NV>
HWY_INLINE void tile(const GemmF32Args& a, std::int64_t s0, std::int64_t p0) {
  const hn::ScalableTag<float> df;
  using VF = hn::Vec<decltype(df)>;
  const std::int64_t nr = static_cast<std::int64_t>(hn::Lanes(df));
  VF acc[MR][NV];
  for (int s = 0; s < MR; ++s)
    for (int v = 0; v < NV; ++v)
      acc[s][v] = !a.bias           ? hn::Zero(df)
                  : a.bias_per_lane ? hn::LoadU(df, a.bias + (p0 + v) * nr)
                                    : hn::Set(df, a.bias[s0 + s]);
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
  const VF lo = hn::Set(df, a.lo), hi = hn::Set(df, a.hi);
  float* HWY_RESTRICT out = a.out + s0 * a.out_stride + p0 * nr;  // locals: see tile(GemmI16Args)
  const std::int64_t out_stride = a.out_stride;
  for (int s = 0; s < MR; ++s)
    for (int v = 0; v < NV; ++v) hn::StoreU(clamp_like_std(df, acc[s][v], lo, hi), df, out + s * out_stride + v * nr);
}

// The tile of MR rows × the NV panels left at the end of a row of tiles (0 < NV < the full width).
template <int MR, int NV, class Args>
HWY_INLINE void last_panels(const Args& a, std::int64_t s, std::int64_t p) {
  if constexpr (NV > 0) {
    if (a.panels - p == NV) return tile<MR, NV>(a, s, p);
    last_panels<MR, NV - 1>(a, s, p);
  }
}

// MR rows × all the panels of a block, NV panels at a time.
template <int MR, int NV, class Args>
HWY_INLINE void tile_rows(const Args& a, std::int64_t s) {
  std::int64_t p = 0;
  for (; p + NV <= a.panels; p += NV) tile<MR, NV>(a, s, p);
  last_panels<MR, NV - 1>(a, s, p);
}

// The R < MR rows left at the end of a block, as tiles of about the same accumulator count MR·NV
// (R rows × MR·NV/R panels): a short tile of the full width would have too few independent sums to
// cover the FMA latency (1 × 3: three sums, each waiting on its last FMA), which is the whole GEMM
// when the broadcast operand has one row (an FC layer at batch 1). At most kMaxTilePanels panels:
// panels are K·nr elements apart, a multiple of 4 KiB for many K (fc1: K = 2304), so all the panels
// of a tile can fall in the same L1 set, and an 8-way L1 keeps at most 8 such streams (a 1 × 12
// tile made fc1 at batch 1 slower than 1 × 3).
inline constexpr int kMaxTilePanels = 6;

template <int R, int kAcc, class Args>
HWY_INLINE void last_rows(const Args& a, std::int64_t s) {
  if constexpr (R > 0) {
    if (a.rows - s == R) return tile_rows<R, (kAcc / R < kMaxTilePanels ? kAcc / R : kMaxTilePanels)>(a, s);
    last_rows<R - 1, kAcc>(a, s);
  }
}

// Rows in tiles of MR, panels in groups of NV; the rest as above.
template <int MR, int NV, class Args>
HWY_INLINE void gemm_block(const Args& a) {
  std::int64_t s = 0;
  for (; s + MR <= a.rows; s += MR) tile_rows<MR, NV>(a, s);
  last_rows<MR - 1, MR * NV>(a, s);
}

// C[s][l] for s in [0, rows), l in [0, panels·nr): the int32 sums (the float outputs) of one block.
// Both tiles hold 12 accumulators: with 8 (4 × 2) the FMAs of one k-step barely cover the FMA
// latency on two pipes, and the fp32 kernel ran at 70–78 % of the FMA peak (docs/benchmarks.md).
// int16 6 × 2: each k-step loads the 2 lane vectors once for 12 madds (4 × 2 already ran at about
// 95 % of the madd peak, so this gained only 1–2 %). fp32 4 × 3 (12 accumulators + 2 lane vectors
// + 1 broadcast, the third lane vector read as an FMA memory operand): as fast as 6 × 2 on full
// tiles, and the Fashion-MNIST CNN's shapes (32 and 64 output channels, 18, 75 and 15 panels) fill
// it exactly, where 6 × 2 left a 4 × 2 tile in every 16 rows. Each sum still adds its k terms in
// order, so the results do not depend on the tile shape. Bytes 4 × 2: each product needs a
// temporary and the ones vector besides the accumulators, so 6 × 2 needs 17 of AVX2's 16 registers;
// it measured the same as 4 × 2 (within this VM's noise) on the Fashion-MNIST layers and 1024³.
inline void gemm_block_i16(const GemmI16Args& a) { gemm_block<6, 2>(a); }
#if HWY_ARCH_X86
inline void gemm_block_u8s8(const GemmU8S8Args& a) {
  if (a.paired) {
    if (a.lanes_unsigned) return gemm_block<4, 2>(U8S8Block<true, true>(a));
    return gemm_block<4, 2>(U8S8Block<false, true>(a));
  }
  if (a.lanes_unsigned) return gemm_block<4, 2>(U8S8Block<true, false>(a));
  gemm_block<4, 2>(U8S8Block<false, false>(a));
}
#endif
inline void gemm_block_f32(const GemmF32Args& a) { gemm_block<4, 3>(a); }

// One vector of onnx_float results (docs/numerics.md §4.1), int32 lanes within [lo, hi].
// lo, hi and zp are 8-bit values, so after the clamp |f| < 2^9 (2^22 would do), and
// f + 1.5·2^23 lies in [2^23, 2^24) where the float spacing is 1:
// the addition rounds f half to even, like cvtps2dq under the default MXCSR, and leaves
// round(f) in the low mantissa bits. Subtracting the constant's bits less zp then gives
// round(f) + zp in one integer op; NearestInt would also fix up out-of-range inputs, 4 more
// instructions per vector on AVX2 that the clamp makes useless.
template <class D32, class DF>
HWY_INLINE hn::Vec<D32> requant_vec(D32 d32, DF df, hn::Vec<D32> acc, hn::Vec<D32> bias, hn::Vec<DF> m,
                                    hn::Vec<DF> flo, hn::Vec<DF> fhi, hn::Vec<DF> magic, hn::Vec<D32> magic_less_zp) {
  const auto f = hn::Min(hn::Max(hn::Mul(hn::ConvertTo(df, hn::Add(acc, bias)), m), flo), fhi);
  return hn::Sub(hn::BitCast(d32, hn::Add(f, magic)), magic_less_zp);
}

inline constexpr std::size_t kMaxLanes32 = HWY_MAX_BYTES / sizeof(std::int32_t);

// The rows of a block. kColBias / kColMult: bias / factor indexed by column (FC) rather than one
// per row (conv, or a per-tensor factor); decided once per block, not per vector.
//
// Four vectors are narrowed together: [lo, hi] lies inside TOut's range (output_range), so
// keeping the low half of each lane is exact, and ConcatEven keeps lane order on every target.
// That is 3 ConcatEvens (4 instructions each on AVX2) per 4 vectors instead of one DemoteTo
// (4 instructions on AVX2) per vector.
template <class TOut, bool kColBias, bool kColMult>
HWY_INLINE void requant_rows(const RequantArgs& a) {
  const hn::ScalableTag<std::int32_t> d32;
  const hn::Rebind<float, decltype(d32)> df;
  const hn::Repartition<std::int16_t, decltype(d32)> d16;
  const hn::Repartition<TOut, decltype(d32)> d8;
  const hn::Rebind<TOut, decltype(d32)> d8q;  // one vector's results
  const std::int64_t n = static_cast<std::int64_t>(hn::Lanes(d32));
  constexpr float kMagic = 12582912.0f;  // 1.5·2^23, bits 0x4B400000
  const auto magic = hn::Set(df, kMagic);
  const auto magic_less_zp = hn::Set(d32, std::int32_t{0x4B400000} - a.zp);
  const auto flo = hn::Set(df, static_cast<float>(a.lo - a.zp));
  const auto fhi = hn::Set(df, static_cast<float>(a.hi - a.zp));
  const std::int32_t* col_bias = kColBias ? a.bias + a.channel0 : nullptr;
  const float* col_mult = kColMult ? a.mult + a.channel0 : nullptr;
  for (std::int64_t r = 0; r < a.rows; ++r) {
    const std::int32_t* acc = a.acc + r * a.acc_stride;
    TOut* out = static_cast<TOut*>(a.out) + r * a.out_stride;
    const std::int64_t row_ch = a.channel0 + r;
    const auto vb = hn::Set(d32, a.channel_is_row && a.bias ? a.bias[row_ch] : 0);
    const auto vm = hn::Set(df, a.mult[a.channel_is_row && a.per_channel ? row_ch : 0]);
    const auto quant = [&](std::int64_t c) HWY_ATTR {
      return requant_vec(d32, df, hn::LoadU(d32, acc + c), kColBias ? hn::LoadU(d32, col_bias + c) : vb,
                         kColMult ? hn::LoadU(df, col_mult + c) : vm, flo, fhi, magic, magic_less_zp);
    };
    std::int64_t c = 0;
    for (; c + 4 * n <= a.cols; c += 4 * n) {
      const auto q01 = hn::ConcatEven(d16, hn::BitCast(d16, quant(c + n)), hn::BitCast(d16, quant(c)));
      const auto q23 = hn::ConcatEven(d16, hn::BitCast(d16, quant(c + 3 * n)), hn::BitCast(d16, quant(c + 2 * n)));
      hn::StoreU(hn::ConcatEven(d8, hn::BitCast(d8, q23), hn::BitCast(d8, q01)), d8, out + c);
    }
    for (; c + n <= a.cols; c += n) hn::StoreU(hn::DemoteTo(d8q, quant(c)), d8q, out + c);
    if (c < a.cols && a.cols >= n) {
      // The last vector moved back to end at cols: it rewrites some outputs with the values they
      // already have (conv1's pooled rows, 196 wide, would otherwise each end in the copy below).
      c = a.cols - n;
      hn::StoreU(hn::DemoteTo(d8q, quant(c)), d8q, out + c);
    } else if (c < a.cols) {  // a row narrower than a vector: one over copies padded with zeros
      const std::size_t rem = static_cast<std::size_t>(a.cols - c);
      HWY_ALIGN std::int32_t t_acc[kMaxLanes32] = {};
      HWY_ALIGN std::int32_t t_bias[kMaxLanes32] = {};
      HWY_ALIGN float t_mult[kMaxLanes32] = {};
      HWY_ALIGN TOut t_out[kMaxLanes32];
      std::copy_n(acc + c, rem, t_acc);
      if (kColBias) std::copy_n(col_bias + c, rem, t_bias);
      if (kColMult) std::copy_n(col_mult + c, rem, t_mult);
      const auto q = requant_vec(d32, df, hn::Load(d32, t_acc), kColBias ? hn::Load(d32, t_bias) : vb,
                                 kColMult ? hn::Load(df, t_mult) : vm, flo, fhi, magic, magic_less_zp);
      hn::StoreU(hn::DemoteTo(d8q, q), d8q, t_out);
      std::copy_n(t_out, rem, out + c);
    }
  }
}

// onnx_float requantization of an int32 block into uint8 or int8 (docs/numerics.md §4.1).
template <class TOut>
HWY_INLINE void requant_onnx(const RequantArgs& a) {
  const bool col_bias = !a.channel_is_row && a.bias;
  const bool col_mult = !a.channel_is_row && a.per_channel;
  if (col_bias && col_mult) return requant_rows<TOut, true, true>(a);
  if (col_bias) return requant_rows<TOut, true, false>(a);
  if (col_mult) return requant_rows<TOut, false, true>(a);
  requant_rows<TOut, false, false>(a);
}

inline void requant_onnx_u8(const RequantArgs& a) { requant_onnx<std::uint8_t>(a); }
inline void requant_onnx_i8(const RequantArgs& a) { requant_onnx<std::int8_t>(a); }

}  // namespace HWY_NAMESPACE
}  // namespace qnn::simd
HWY_AFTER_NAMESPACE();
#endif  // HWY_TARGET != HWY_SCALAR && HWY_TARGET != HWY_EMU128

#endif  // include guard
