// Per-target max pooling (the SIMD half; geometry checks and threads are in kernels/cpu/pool.hpp).
// Re-included once per target like gemm-inl.hpp.
//
// Each output row is the running maximum of its window's input rows, each of those first reduced
// across the window's columns: the taps are visited row by row, columns in order, which is the
// reference's order (ref::max_pool). A row whose windows reach into the padding is first copied
// into a buffer framed by the identity of the maximum (lowest() for integers, −∞ for floats), so
// padded taps need no masks: max(v, identity) = v. Other rows are read in place.
//
// Bit-exactness: for integers the maximum does not depend on the order. For floats the reference
// keeps the first of equal values (−0 vs +0) and lets NaN win, the last NaN in tap order; the
// combine below is that same rule (`v > best || v != v ? v : best`), and the rule is associative
// over consecutive runs of taps, so reducing columns first and rows second gives the reference's
// result bit for bit — NaN payloads and signed zeros included. Highway's Max leaves both of those
// unspecified, so floats do not use it.

#if defined(QNN_KERNELS_SIMD_POOL_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef QNN_KERNELS_SIMD_POOL_INL_H_
#undef QNN_KERNELS_SIMD_POOL_INL_H_
#else
#define QNN_KERNELS_SIMD_POOL_INL_H_
#endif

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <limits>

#include "hwy/highway.h"
#include "qnn/kernels/simd/pool_args.hpp"

#if HWY_TARGET != HWY_SCALAR && HWY_TARGET != HWY_EMU128
HWY_BEFORE_NAMESPACE();
namespace qnn::simd {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

template <class T>
HWY_INLINE T max_tap(T best, T v) {
  if constexpr (hwy::IsFloat<T>())
    return (v > best || v != v) ? v : best;
  else
    return v > best ? v : best;
}

template <class D, class V>
HWY_INLINE V max_tap(D, V best, V v) {
  if constexpr (hwy::IsFloat<hn::TFromD<D>>())
    return hn::IfThenElse(hn::Or(v > best, hn::IsNaN(v)), v, best);
  else
    return hn::Max(best, v);
}

// dst[ox] = max over kx of row[ox·sw + kx·dw] for ox < width (a multiple of N), combined into the
// running maximum already in dst when `accumulate` (the rows before come first in tap order).
template <class D, class T = hn::TFromD<D>>
HWY_INLINE void max_pool_columns(D d, const MaxPoolArgs& a, std::int64_t width, const T* row, T* dst,
                                 bool accumulate) {
  using V = hn::Vec<D>;
  const std::int64_t n = static_cast<std::int64_t>(hn::Lanes(d));
  const auto store = [&](V v, std::int64_t ox) {
    hn::StoreU(accumulate ? max_tap(d, hn::LoadU(d, dst + ox), v) : v, d, dst + ox);
  };
  if (a.sw == 1) {
    for (std::int64_t ox = 0; ox < width; ox += n) {
      V v = hn::LoadU(d, row + ox);
      for (std::int64_t kx = 1; kx < a.kw; ++kx) v = max_tap(d, v, hn::LoadU(d, row + ox + kx * a.dw));
      store(v, ox);
    }
  } else if (a.sw == 2) {
    for (std::int64_t ox = 0; ox < width; ox += n) {
      const T* base = row + 2 * ox;
      V v, even, odd;
      if (a.dw == 1) {  // one interleaved load serves taps kx and kx + 1
        hn::LoadInterleaved2(d, base, even, odd);
        v = even;
        if (a.kw > 1) v = max_tap(d, v, odd);
        for (std::int64_t kx = 2; kx < a.kw; kx += 2) {
          hn::LoadInterleaved2(d, base + kx, even, odd);
          v = max_tap(d, v, even);
          if (kx + 1 < a.kw) v = max_tap(d, v, odd);
        }
      } else {
        hn::LoadInterleaved2(d, base, v, odd);
        for (std::int64_t kx = 1; kx < a.kw; ++kx) {
          hn::LoadInterleaved2(d, base + kx * a.dw, even, odd);
          v = max_tap(d, v, even);
        }
      }
      store(v, ox);
    }
  } else {
    for (std::int64_t ox = 0; ox < a.ow; ++ox) {
      const T* tap = row + ox * a.sw;
      T b = tap[0];
      for (std::int64_t kx = 1; kx < a.kw; ++kx) b = max_tap(b, tap[kx * a.dw]);
      dst[ox] = accumulate ? max_tap(dst[ox], b) : b;
    }
  }
}

// How far past its first element the column pass of one row reads: the last vector's lanes reach
// past the row (only the discarded outputs beyond ow use them).
inline std::int64_t max_pool_row_reach(const MaxPoolArgs& a, std::int64_t width) {
  if (a.sw == 1) return width + (a.kw - 1) * a.dw;
  if (a.sw == 2) return 2 * width + (a.kw - 1) * a.dw;
  return (a.ow - 1) * a.sw + (a.kw - 1) * a.dw + 1;
}

// Pools whose windows tile each row in pairs (max_pool_pairs_tile_rows: w = 2·ow) reduce the columns
// of a block of planes as one flat array — input elements 2j and 2j + 1 are then always one window's
// two taps in one row — and then the rows: each output row is the running maximum of the reduced
// rows its window covers. The two taps of a row are consecutive in the reference's order, so the
// argument above holds and floats stay bit for bit. The general path below spends an interleaved
// load of 2·N elements on every input row however short it is (14 and 6 outputs on the
// Fashion-MNIST CNN's pools); here an output row costs one plain load per window row.
template <class D, class T = hn::TFromD<D>>
HWY_INLINE void max_pool_pair_planes(D d, const MaxPoolArgs& a, T identity) {
  static_assert(HWY_MAX_BYTES / sizeof(T) <= 64, "the scratch's over-read slack is 64 elements");
  using V = hn::Vec<D>;
  const std::int64_t n = static_cast<std::int64_t>(hn::Lanes(d));
  const std::int64_t width = (a.ow + n - 1) / n * n;
  const std::int64_t block = max_pool_pair_block(a);
  T* cols = static_cast<T*>(a.scratch);
  T* acc = cols + block * a.h * a.ow + 64;
  T* y_end = static_cast<T*>(a.y) + a.planes * a.oh * a.ow;
  for (std::int64_t p0 = 0; p0 < a.planes; p0 += block) {
    const std::int64_t planes = std::min(block, a.planes - p0);
    const std::int64_t count = planes * a.h * a.ow;
    const T* x = static_cast<const T*>(a.x) + p0 * a.h * a.w;
    std::int64_t j = 0;
    for (; j + n <= count; j += n) {
      V even, odd;
      hn::LoadInterleaved2(d, x + 2 * j, even, odd);
      hn::StoreU(max_tap(d, even, odd), d, cols + j);
    }
    for (; j < count; ++j) cols[j] = max_tap(x[2 * j], x[2 * j + 1]);
    std::fill(cols + count, cols + count + 64, identity);  // what the last row's vectors over-read
    T* y = static_cast<T*>(a.y) + p0 * a.oh * a.ow;
    if (a.kh == 2 && a.sh == 2 && a.dh == 1 && a.pad_top == 0 && a.h == 2 * a.oh) {
      // 2×2 windows tiling the planes: output row r of the block is the maximum of reduced rows 2r
      // and 2r + 1, whatever plane it is in (the common case gets a loop with no bounds to test).
      for (std::int64_t r = 0; r < planes * a.oh; ++r) {
        const T* top = cols + 2 * r * a.ow;
        T* out = y + r * a.ow;
        T* dst = out + width <= y_end ? out : acc;
        for (std::int64_t c = 0; c < a.ow; c += n)
          hn::StoreU(max_tap(d, hn::LoadU(d, top + c), hn::LoadU(d, top + a.ow + c)), d, dst + c);
        if (dst == acc) std::memcpy(out, acc, static_cast<std::size_t>(a.ow) * sizeof(T));
      }
      continue;
    }
    for (std::int64_t p = 0; p < planes; ++p) {
      for (std::int64_t oy = 0; oy < a.oh; ++oy) {
        T* out = y + (p * a.oh + oy) * a.ow;
        // Lanes past ow land on later outputs of this call, written afterwards; past its end, not.
        T* dst = out + width <= y_end ? out : acc;
        for (std::int64_t c = 0; c < a.ow; c += n) {
          V best = hn::Set(d, identity);
          for (std::int64_t ky = 0; ky < a.kh; ++ky) {
            const std::int64_t iy = oy * a.sh - a.pad_top + ky * a.dh;
            if (iy >= 0 && iy < a.h) best = max_tap(d, best, hn::LoadU(d, cols + (p * a.h + iy) * a.ow + c));
          }
          hn::StoreU(best, d, dst + c);
        }
        if (dst == acc) std::memcpy(out, acc, static_cast<std::size_t>(a.ow) * sizeof(T));
      }
    }
  }
}

template <class T>
HWY_INLINE void max_pool_planes(const MaxPoolArgs& a) {
  const hn::ScalableTag<T> d;
  const T identity = hwy::IsFloat<T>() ? -std::numeric_limits<T>::infinity() : std::numeric_limits<T>::lowest();
  if (max_pool_pairs_tile_rows(a)) return max_pool_pair_planes(d, a, identity);
  const std::int64_t n = static_cast<std::int64_t>(hn::Lanes(d));
  const std::int64_t width = (a.ow + n - 1) / n * n;
  const std::int64_t row_cap = a.ow + 64;  // as max_pool_scratch_elems
  const std::int64_t framed = row_cap * std::max<std::int64_t>(a.sw, 2) + (a.kw - 1) * a.dw + a.pad_left + a.w;
  T* row = static_cast<T*>(a.scratch);
  T* acc = row + framed;
  std::fill(row, row + framed, identity);
  std::fill(acc, acc + row_cap, identity);
  // An input row is read in place when no valid output's window leaves it (no framing needed) and
  // the over-reach of the last vector stays inside this call's input; likewise an output row is
  // written in place when its whole last vector lies inside this call's output (the lanes past ow
  // land on later outputs, which are written afterwards).
  const bool in_row = a.pad_left == 0 && (a.ow - 1) * a.sw + (a.kw - 1) * a.dw < a.w;
  const std::int64_t reach = max_pool_row_reach(a, width);
  const T* x_end = static_cast<const T*>(a.x) + a.planes * a.h * a.w;
  T* y_end = static_cast<T*>(a.y) + a.planes * a.oh * a.ow;
  for (std::int64_t p = 0; p < a.planes; ++p) {
    const T* x = static_cast<const T*>(a.x) + p * a.h * a.w;
    T* y = static_cast<T*>(a.y) + p * a.oh * a.ow;
    for (std::int64_t oy = 0; oy < a.oh; ++oy) {
      T* out = y + oy * a.ow;
      T* dst = out + width <= y_end ? out : acc;
      bool first = true;
      for (std::int64_t ky = 0; ky < a.kh; ++ky) {
        const std::int64_t iy = oy * a.sh - a.pad_top + ky * a.dh;
        if (iy < 0 || iy >= a.h) continue;
        const T* src = x + iy * a.w;
        if (!in_row || src + reach > x_end) {
          std::memcpy(row + a.pad_left, src, static_cast<std::size_t>(a.w) * sizeof(T));
          src = row;
        }
        max_pool_columns(d, a, width, src, dst, !first);
        first = false;
      }
      if (dst == acc) std::memcpy(out, acc, static_cast<std::size_t>(a.ow) * sizeof(T));
    }
  }
}

// PoolSumsArgs: the kh window rows are reduced first, vector by vector at the same columns, then for
// kw = 2 the pairs of the result (one deinterleave per output vector instead of one per window row).
// A row's last vector is moved back to end at ow (recomputing outputs already written, with the
// same values) so that nothing is written past the pooled row; a row narrower than a vector (ow = 6
// on the Fashion-MNIST CNN's conv2) is one vector, its loads reaching past the windows and its lanes
// past ow stored where out_room allows (later outputs, rewritten afterwards), else copied out.
template <int KW, int KH>  // KH 0: a.kh
HWY_INLINE void max_pool_sums_window(const PoolSumsArgs& a) {
  const hn::ScalableTag<std::int32_t> d;
  const std::int64_t n = static_cast<std::int64_t>(hn::Lanes(d));
  const std::int64_t kh = KH > 0 ? KH : a.kh, w = a.w;
  const auto rows_max = [&](const std::int32_t* src) HWY_ATTR {
    auto best = hn::LoadU(d, src);
    for (std::int64_t ky = 1; ky < kh; ++ky) best = hn::Max(best, hn::LoadU(d, src + ky * w));
    return best;
  };
  const auto pooled = [&](const std::int32_t* src, std::int64_t c) HWY_ATTR {
    if constexpr (KW == 1) {
      return rows_max(src + c);
    } else {
      const auto lo = rows_max(src + 2 * c), hi = rows_max(src + 2 * c + n);
      return hn::Max(hn::ConcatEven(d, hi, lo), hn::ConcatOdd(d, hi, lo));
    }
  };
  HWY_ALIGN std::int32_t narrow[HWY_MAX_BYTES / sizeof(std::int32_t)];
  for (std::int64_t s = 0; s < a.rows; ++s)
    for (std::int64_t grp = 0; grp < a.groups; ++grp) {
      const std::int32_t* src = a.acc + s * a.acc_stride + grp * kh * w;
      std::int32_t* dst = a.out + s * a.out_stride + grp * a.ow;
      if (a.ow < n) {
        if (grp * a.ow + n <= a.out_room) {
          hn::StoreU(pooled(src, 0), d, dst);
        } else {
          hn::Store(pooled(src, 0), d, narrow);
          std::copy_n(narrow, a.ow, dst);
        }
        continue;
      }
      for (std::int64_t c0 = 0; c0 < a.ow; c0 += n) {
        const std::int64_t c = std::min(c0, a.ow - n);
        hn::StoreU(pooled(src, c), d, dst + c);
      }
    }
}

inline void max_pool_sums_i32(const PoolSumsArgs& a) {
  if (a.kw == 1) return max_pool_sums_window<1, 0>(a);
  if (a.kh == 2) return max_pool_sums_window<2, 2>(a);  // 2×2: the window rows unrolled
  max_pool_sums_window<2, 0>(a);
}

inline void max_pool_u8(const MaxPoolArgs& a) { max_pool_planes<std::uint8_t>(a); }
inline void max_pool_i8(const MaxPoolArgs& a) { max_pool_planes<std::int8_t>(a); }
inline void max_pool_i16(const MaxPoolArgs& a) { max_pool_planes<std::int16_t>(a); }
inline void max_pool_f32(const MaxPoolArgs& a) { max_pool_planes<float>(a); }

}  // namespace HWY_NAMESPACE
}  // namespace qnn::simd
HWY_AFTER_NAMESPACE();
#endif  // HWY_TARGET != HWY_SCALAR && HWY_TARGET != HWY_EMU128

#endif  // include guard
