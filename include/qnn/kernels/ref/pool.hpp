// Reference max and average pooling (2-D windows over N,C,H,W; global pooling is the window that
// covers the image).
//
// Max pooling reads only taps inside the input: padding never wins (it is −∞, not the zero point),
// so a quantized max pool is exact and keeps its input's quantization.
// Average pooling divides by the number of taps inside the input, or — count_include_pad — by the
// taps inside the padded input (a ceil-mode window hanging past the padding still excludes the
// overhang, as PyTorch and ONNX Runtime do).
//   float/bf16: fp32 sum in row-major window order, one division.
//   quantized:  s = Σ (x − zx) in int32 (|s| ≤ count·65535, far from overflow), then the output
//               stage of ratio s_x / (s_y · count) under the layer's requantization policy. The
//               divisor varies only at borders, so one factor per possible count is made up front.
//   quantized, onnx_float: what ONNX Runtime's QLinearAveragePool does (qlinear_pool.cc,
//               qlgavgpool.cpp), which is two different computations:
//     a window covering the whole input with no padding (global pooling) — integer sum, then
//               y = rne(clamp(fl(float(s) · m))) + zy with m = fl(s_x / fl(s_y · count));
//     any other window — fp32: d = fl(s_x · (x − zx)), sum = ((0 + d0) + d1) + … in window order
//               (rows, then columns), avg = fl(sum / count), y = clamp(rne(fl(avg / s_y) + zy))
//               (the zero point is added in fp32 before rounding), and with count_include_pad the
//               divisor is the full kernel size kh·kw even where a ceil-mode window hangs past the
//               padding.
#pragma once

#include <algorithm>
#include <cstdint>
#include <limits>
#include <vector>

#include "qnn/core/error.hpp"
#include "qnn/core/tensor.hpp"
#include "qnn/kernels/geometry.hpp"
#include "qnn/kernels/ref/ort_float.hpp"
#include "qnn/numerics/requantize.hpp"

namespace qnn::ref {

namespace detail {
inline void check_pool_shapes(const PoolGeometry& g, const Shape& x, const Shape& y) {
  check(x == Shape{g.n, g.c, g.h, g.w}, "pool: input ", x, " does not match geometry");
  check(y == g.output_shape(), "pool: output ", y, " should be ", g.output_shape());
}

// Visits the taps of window (oy, ox): f(iy, ix) for taps inside the input. Returns the divisor
// average pooling uses for this window.
template <class F>
std::int64_t for_each_tap(const PoolGeometry& g, std::int64_t oy, std::int64_t ox, F&& f) {
  const auto [kh, kw] = g.win.kernel;
  const auto [sh, sw] = g.win.strides;
  const auto [dh, dw] = g.win.dilations;
  const std::int64_t y0 = oy * sh - g.win.pads[0];
  const std::int64_t x0 = ox * sw - g.win.pads[1];
  std::int64_t inside = 0;
  std::int64_t padded = 0;  // taps inside input + pads
  for (std::int64_t ky = 0; ky < kh; ++ky) {
    const std::int64_t iy = y0 + ky * dh;
    const bool y_in_pad = iy >= -g.win.pads[0] && iy < g.h + g.win.pads[2];
    for (std::int64_t kx = 0; kx < kw; ++kx) {
      const std::int64_t ix = x0 + kx * dw;
      const bool x_in_pad = ix >= -g.win.pads[1] && ix < g.w + g.win.pads[3];
      if (y_in_pad && x_in_pad) ++padded;
      if (iy < 0 || iy >= g.h || ix < 0 || ix >= g.w) continue;
      ++inside;
      f(iy, ix);
    }
  }
  return g.count_include_pad ? padded : inside;
}
}  // namespace detail

template <class T>
void max_pool(const PoolGeometry& g, TensorView<const T> x, TensorView<T> y) {
  detail::check_pool_shapes(g, x.shape(), y.shape());
  for (std::int64_t n = 0; n < g.n; ++n)
    for (std::int64_t c = 0; c < g.c; ++c)
      for (std::int64_t oy = 0; oy < g.oh; ++oy)
        for (std::int64_t ox = 0; ox < g.ow; ++ox) {
          T best = std::numeric_limits<T>::lowest();
          bool any = false;
          detail::for_each_tap(g, oy, ox, [&](std::int64_t iy, std::int64_t ix) {
            const T v = x(n, c, iy, ix);
            // NaN propagates in float pooling (v > best is false for NaN, so test it first).
            if (!any || v > best || v != v) best = v;
            any = true;
          });
          check(any, "pool window (", oy, ",", ox, ") covers no input pixel");
          y(n, c, oy, ox) = best;
        }
}

// fp32 accumulation; T is float or bf16 (output rounded to nearest even for bf16).
template <class T>
void avg_pool_float(const PoolGeometry& g, TensorView<const T> x, TensorView<T> y) {
  detail::check_pool_shapes(g, x.shape(), y.shape());
  for (std::int64_t n = 0; n < g.n; ++n)
    for (std::int64_t c = 0; c < g.c; ++c)
      for (std::int64_t oy = 0; oy < g.oh; ++oy)
        for (std::int64_t ox = 0; ox < g.ow; ++ox) {
          float sum = 0.0f;
          const std::int64_t count = detail::for_each_tap(
              g, oy, ox, [&](std::int64_t iy, std::int64_t ix) { sum += static_cast<float>(x(n, c, iy, ix)); });
          check(count > 0, "pool window (", oy, ",", ox, ") covers no input pixel");
          y(n, c, oy, ox) = T(sum / static_cast<float>(count));
        }
}

// The factors of a quantized average pool, one per possible divisor.
template <RequantPolicyType P>
struct AvgPoolRequant {
  std::int32_t x_zp = 0;
  std::int32_t y_zp = 0;
  float s_x = 1, s_y = 1;  // the fp32 window path of onnx_float reads the scales themselves
  IntRange range{};
  std::vector<typename P::Channel> by_count;  // index = divisor

  template <QuantStorage T>
  static AvgPoolRequant make(const PoolGeometry& g, float s_x, std::int32_t x_zp, float s_y,
                             std::int32_t y_zp) {
    qnn::detail::check_zero_point<T>(x_zp);
    qnn::detail::check_zero_point<T>(y_zp);
    AvgPoolRequant r;
    r.x_zp = x_zp;
    r.y_zp = y_zp;
    r.s_x = s_x;
    r.s_y = s_y;
    r.range = storage_range<T>();
    const std::int64_t max_count = g.win.kernel[0] * g.win.kernel[1];
    // The int32 window sum: count · max|x − zx| must fit (2^15 taps for 16-bit data, 2^23 for 8-bit).
    const std::int64_t span = std::int64_t{max_of<T>()} - min_of<T>();
    check(max_count * span <= std::numeric_limits<std::int32_t>::max(), "pool window of ", max_count,
          " taps is too large for an int32 sum of ", name_of(dtype_of_v<T>), " values");
    r.by_count.resize(static_cast<std::size_t>(max_count + 1));
    for (std::int64_t c = 1; c <= max_count; ++c) {
      // npu_pow2 divides by shifting: only power-of-two divisors have a factor; avg_pool rejects a
      // window with any other count when it meets one.
      if constexpr (P::policy == RequantPolicy::npu_pow2)
        if ((c & (c - 1)) != 0) continue;
      // onnx_float: ORT's global pool multiplier fl(s_x / fl(s_y · count)); the others keep the
      // exact ratio s_x / (s_y · count).
      if constexpr (P::policy == RequantPolicy::onnx_float)
        r.by_count[static_cast<std::size_t>(c)] = P::make(ScaleRatio({s_x}, {s_y * static_cast<float>(c)}));
      else
        r.by_count[static_cast<std::size_t>(c)] = P::make(ScaleRatio({s_x}, {s_y, static_cast<float>(c)}));
    }
    return r;
  }
};

namespace detail {
// ORT's fp32 QLinearAveragePool window (see the header comment).
template <QuantStorage T, RequantPolicyType P>
void avg_pool_ort_float(const PoolGeometry& g, TensorView<const T> x, TensorView<T> y, const AvgPoolRequant<P>& rq) {
  const std::int64_t full = g.win.kernel[0] * g.win.kernel[1];
  for (std::int64_t n = 0; n < g.n; ++n)
    for (std::int64_t c = 0; c < g.c; ++c)
      for (std::int64_t oy = 0; oy < g.oh; ++oy)
        for (std::int64_t ox = 0; ox < g.ow; ++ox) {
          float sum = 0.0f;
          std::int64_t inside = 0;
          for_each_tap(g, oy, ox, [&](std::int64_t iy, std::int64_t ix) {
            sum += rq.s_x * static_cast<float>(static_cast<std::int32_t>(x(n, c, iy, ix)) - rq.x_zp);
            ++inside;
          });
          check(inside > 0, "pool window (", oy, ",", ox, ") covers no input pixel");
          const float avg = sum / static_cast<float>(g.count_include_pad ? full : inside);
          const std::int32_t q = ort::cvtps2dq(avg / rq.s_y + static_cast<float>(rq.y_zp));
          y(n, c, oy, ox) = static_cast<T>(std::clamp(q, rq.range.lo, rq.range.hi));
        }
}
}  // namespace detail

template <QuantStorage T, RequantPolicyType P>
void avg_pool(const PoolGeometry& g, TensorView<const T> x, TensorView<T> y, const AvgPoolRequant<P>& rq) {
  detail::check_pool_shapes(g, x.shape(), y.shape());
  if constexpr (P::policy == RequantPolicy::onnx_float) {
    const bool global = g.win.kernel[0] == g.h && g.win.kernel[1] == g.w && g.win.pads[0] == 0 &&
                        g.win.pads[1] == 0 && g.win.pads[2] == 0 && g.win.pads[3] == 0;
    if (!global) return detail::avg_pool_ort_float(g, x, y, rq);
  }
  for (std::int64_t n = 0; n < g.n; ++n)
    for (std::int64_t c = 0; c < g.c; ++c)
      for (std::int64_t oy = 0; oy < g.oh; ++oy)
        for (std::int64_t ox = 0; ox < g.ow; ++ox) {
          std::int32_t sum = 0;
          const std::int64_t count = detail::for_each_tap(g, oy, ox, [&](std::int64_t iy, std::int64_t ix) {
            sum += static_cast<std::int32_t>(x(n, c, iy, ix)) - rq.x_zp;
          });
          check(count > 0, "pool window (", oy, ",", ox, ") covers no input pixel");
          if constexpr (P::policy == RequantPolicy::npu_pow2)
            check((count & (count - 1)) == 0, "npu_pow2 average pool: window (", oy, ",", ox, ") divides by ", count,
                  ", not a power of two");
          y(n, c, oy, ox) = static_cast<T>(
              P::apply(sum, rq.by_count[static_cast<std::size_t>(count)], rq.y_zp, rq.range.lo, rq.range.hi));
        }
}

}  // namespace qnn::ref
