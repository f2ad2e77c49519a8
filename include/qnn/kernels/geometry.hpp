// Convolution and pooling geometry: attributes in, validated shapes out.
//
// Computed once when a layer is prepared and shared by the reference and SIMD kernels, so every
// kernel agrees on output sizes, padding and which input pixel a tap reads. Tensors are addressed
// with logical axes N, C, H, W (activations) and M, C/groups, KH, KW (weights), whatever their
// memory layout.
#pragma once

#include <array>
#include <cstdint>
#include <ostream>

#include "qnn/core/error.hpp"
#include "qnn/core/shape.hpp"

namespace qnn {

struct Window2D {
  std::array<std::int64_t, 2> kernel{1, 1};
  std::array<std::int64_t, 2> strides{1, 1};
  std::array<std::int64_t, 2> dilations{1, 1};
  // ONNX order: top, left, bottom, right.
  std::array<std::int64_t, 4> pads{0, 0, 0, 0};
};

// Where the window of output row `o` starts in the input, and its extent.
inline std::int64_t window_start(std::int64_t o, std::int64_t stride, std::int64_t pad_begin) {
  return o * stride - pad_begin;
}

namespace detail {
inline void check_window(const Window2D& w) {
  for (int i = 0; i < 2; ++i) {
    check(w.kernel[i] >= 1, "kernel size ", w.kernel[i], " must be positive");
    check(w.strides[i] >= 1, "stride ", w.strides[i], " must be positive");
    check(w.dilations[i] >= 1, "dilation ", w.dilations[i], " must be positive");
  }
  for (std::int64_t p : w.pads) check(p >= 0, "negative padding ", p, " is not supported");
}
// Output extent: floor or ceil of (in + pads − effective kernel) / stride, plus one. With ceil
// mode a last window that would start inside the trailing padding is dropped (PyTorch and ONNX
// Runtime agree on this; the bare formula would create a window covering no input).
inline std::int64_t output_extent(std::int64_t in, std::int64_t k, std::int64_t s, std::int64_t d,
                                  std::int64_t pad_begin, std::int64_t pad_end, bool ceil_mode) {
  const std::int64_t span = in + pad_begin + pad_end - (d * (k - 1) + 1);
  check(span >= 0, "window of extent ", d * (k - 1) + 1, " does not fit input ", in, " with pads ",
        pad_begin, "+", pad_end);
  std::int64_t out = (ceil_mode ? (span + s - 1) / s : span / s) + 1;
  if (ceil_mode && (out - 1) * s >= in + pad_begin) --out;
  return out;
}
}  // namespace detail

struct ConvGeometry {
  std::int64_t n = 0, c = 0, h = 0, w = 0;  // input
  std::int64_t m = 0;                       // output channels
  std::int64_t oh = 0, ow = 0;              // output
  std::int64_t groups = 1;
  Window2D win;

  std::int64_t c_per_group() const { return c / groups; }
  std::int64_t m_per_group() const { return m / groups; }
  // Reduction length of one output value.
  std::int64_t k() const { return c_per_group() * win.kernel[0] * win.kernel[1]; }
  std::int64_t macs() const { return n * m * oh * ow * k(); }
  bool depthwise() const { return groups == c && c_per_group() == 1; }
  Shape output_shape() const { return Shape{n, m, oh, ow}; }
};

// x: N,C,H,W; weight: M, C/groups, KH, KW. The window's kernel comes from the weight shape.
inline ConvGeometry make_conv_geometry(const Shape& x, const Shape& weight, Window2D win,
                                       std::int64_t groups) {
  check(x.rank() == 4, "conv input must be 4-D (N,C,H,W), got ", x);
  check(weight.rank() == 4, "conv weight must be 4-D (M,C/groups,KH,KW), got ", weight);
  check(groups >= 1, "group count ", groups, " must be positive");
  ConvGeometry g;
  g.n = x[0], g.c = x[1], g.h = x[2], g.w = x[3];
  g.m = weight[0];
  g.groups = groups;
  check(g.c % groups == 0, "input channels ", g.c, " are not divisible by group count ", groups);
  check(g.m % groups == 0, "output channels ", g.m, " are not divisible by group count ", groups);
  check(weight[1] == g.c / groups, "weight has ", weight[1], " input channels per group, input has ",
        g.c / groups);
  win.kernel = {weight[2], weight[3]};
  detail::check_window(win);
  g.win = win;
  g.oh = detail::output_extent(g.h, win.kernel[0], win.strides[0], win.dilations[0], win.pads[0], win.pads[2], false);
  g.ow = detail::output_extent(g.w, win.kernel[1], win.strides[1], win.dilations[1], win.pads[1], win.pads[3], false);
  return g;
}

struct PoolGeometry {
  std::int64_t n = 0, c = 0, h = 0, w = 0;
  std::int64_t oh = 0, ow = 0;
  Window2D win;
  bool ceil_mode = false;
  bool count_include_pad = false;  // average pooling only
  Shape output_shape() const { return Shape{n, c, oh, ow}; }
};

inline PoolGeometry make_pool_geometry(const Shape& x, const Window2D& win, bool ceil_mode,
                                       bool count_include_pad = false) {
  check(x.rank() == 4, "pooling input must be 4-D (N,C,H,W), got ", x);
  detail::check_window(win);
  PoolGeometry g;
  g.n = x[0], g.c = x[1], g.h = x[2], g.w = x[3];
  g.win = win;
  g.ceil_mode = ceil_mode;
  g.count_include_pad = count_include_pad;
  g.oh = detail::output_extent(g.h, win.kernel[0], win.strides[0], win.dilations[0], win.pads[0], win.pads[2], ceil_mode);
  g.ow = detail::output_extent(g.w, win.kernel[1], win.strides[1], win.dilations[1], win.pads[1], win.pads[3], ceil_mode);
  return g;
}

// Global pooling is pooling with a window covering the whole image.
inline PoolGeometry make_global_pool_geometry(const Shape& x) {
  check(x.rank() == 4, "global pooling input must be 4-D (N,C,H,W), got ", x);
  Window2D win;
  win.kernel = {x[2], x[3]};
  return make_pool_geometry(x, win, false);
}

}  // namespace qnn
