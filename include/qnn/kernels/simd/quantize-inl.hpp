// Per-target QuantizeLinear, float → 8- or 16-bit integers (the SIMD half; the reference is
// numerics/quantize.hpp, and kernels/cpu/quantize.hpp decides when this runs).
// Re-included once per target like gemm-inl.hpp.
//
// The reference's operations, lane by lane: one IEEE fp32 division x / scale (not a multiply by
// 1/scale: the two differ in the last bit), NaN replaced by the lower bound, clamp to
// [qmin − zp, qmax − zp] in fp32, round half to even, + zp. Rounding uses Round (roundps with an
// explicit nearest-even immediate on SSE4 and up, so it does not depend on MXCSR) and the exact
// conversion of the now integral value; the clamp keeps every value inside int32 and the output
// type, so the saturating DemoteTo never saturates. The tail of a row runs the scalar reference.

#if defined(QNN_KERNELS_SIMD_QUANTIZE_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef QNN_KERNELS_SIMD_QUANTIZE_INL_H_
#undef QNN_KERNELS_SIMD_QUANTIZE_INL_H_
#else
#define QNN_KERNELS_SIMD_QUANTIZE_INL_H_
#endif

#include <cstdint>
#include <limits>

#include "hwy/highway.h"
#include "qnn/kernels/simd/quantize_args.hpp"
#include "qnn/numerics/quantize.hpp"

#if HWY_TARGET != HWY_SCALAR && HWY_TARGET != HWY_EMU128
HWY_BEFORE_NAMESPACE();
namespace qnn::simd {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

template <class TOut>
HWY_INLINE void quantize_row(const QuantizeArgs& a) {
  const hn::ScalableTag<float> df;
  const hn::Rebind<std::int32_t, decltype(df)> d32;
  const hn::Rebind<TOut, decltype(df)> dq;
  const std::int64_t n = static_cast<std::int64_t>(hn::Lanes(df));
  const auto scale = hn::Set(df, a.scale);
  const auto lo = hn::Set(df, static_cast<float>(std::int32_t{std::numeric_limits<TOut>::min()} - a.zp));
  const auto hi = hn::Set(df, static_cast<float>(std::int32_t{std::numeric_limits<TOut>::max()} - a.zp));
  const auto zp = hn::Set(d32, a.zp);
  TOut* y = static_cast<TOut*>(a.y);
  std::int64_t i = 0;
  for (; i + n <= a.n; i += n) {
    auto v = hn::LoadU(df, a.x + i) / scale;
    v = hn::IfThenElse(hn::IsNaN(v), lo, v);
    v = hn::Min(hn::Max(v, lo), hi);
    const auto q = hn::Add(hn::ConvertTo(d32, hn::Round(v)), zp);
    hn::StoreU(hn::DemoteTo(dq, q), dq, y + i);
  }
  for (; i < a.n; ++i) y[i] = quantize_value<TOut>(a.x[i], a.scale, a.zp);
}

inline void quantize_u8(const QuantizeArgs& a) { quantize_row<std::uint8_t>(a); }
inline void quantize_i8(const QuantizeArgs& a) { quantize_row<std::int8_t>(a); }
inline void quantize_u16(const QuantizeArgs& a) { quantize_row<std::uint16_t>(a); }
inline void quantize_i16(const QuantizeArgs& a) { quantize_row<std::int16_t>(a); }

}  // namespace HWY_NAMESPACE
}  // namespace qnn::simd
HWY_AFTER_NAMESPACE();
#endif  // HWY_TARGET != HWY_SCALAR && HWY_TARGET != HWY_EMU128

#endif  // include guard
