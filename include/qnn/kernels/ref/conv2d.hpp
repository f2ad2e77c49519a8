// Reference 2-D convolution: the spec every fast conv kernel must equal.
//
// y[n,m,oy,ox] = finish( init(m) + Σ_{ci,ky,kx} mac(x[n, g·C/G+ci, iy, ix], w[m, ci, ky, kx]) )
//   g = m / (M/G), iy = oy·stride_h − pad_top + ky·dil_h, ix likewise; taps outside the input are
//   skipped. For quantized arithmetic a skipped tap is a padded value equal to the input zero point,
//   whose (x − zx) term is zero, so padding respects the zero point by construction.
// The sum runs ci, ky, kx ascending; that order defines the float result (integer results do not
// depend on order). Groups cover depthwise (G = C = M/multiplier) and grouped convolution.
//
// Accumulator bound: see arith.hpp (checked when the arithmetic is made, from the real weights).
#pragma once

#include <cstdint>

#include "qnn/core/error.hpp"
#include "qnn/core/tensor.hpp"
#include "qnn/kernels/geometry.hpp"
#include "qnn/kernels/ref/arith.hpp"

namespace qnn::ref {

template <class Arith, class TX, class TW, class TY>
void conv2d(const ConvGeometry& g, TensorView<const TX> x, TensorView<const TW> w, TensorView<TY> y,
            const Arith& arith) {
  check(x.shape() == Shape{g.n, g.c, g.h, g.w}, "conv2d: input ", x.shape(), " does not match geometry");
  check(w.shape() == Shape{g.m, g.c_per_group(), g.win.kernel[0], g.win.kernel[1]},
        "conv2d: weight ", w.shape(), " does not match geometry");
  check(y.shape() == g.output_shape(), "conv2d: output ", y.shape(), " should be ", g.output_shape());

  const std::int64_t cpg = g.c_per_group();
  const std::int64_t mpg = g.m_per_group();
  const auto [kh, kw] = g.win.kernel;
  const auto [sh, sw] = g.win.strides;
  const auto [dh, dw] = g.win.dilations;
  const std::int64_t pad_top = g.win.pads[0];
  const std::int64_t pad_left = g.win.pads[1];

  for (std::int64_t n = 0; n < g.n; ++n) {
    for (std::int64_t m = 0; m < g.m; ++m) {
      const std::int64_t c0 = (m / mpg) * cpg;  // first input channel of m's group
      for (std::int64_t oy = 0; oy < g.oh; ++oy) {
        for (std::int64_t ox = 0; ox < g.ow; ++ox) {
          auto acc = arith.init(m);
          for (std::int64_t ci = 0; ci < cpg; ++ci) {
            for (std::int64_t ky = 0; ky < kh; ++ky) {
              const std::int64_t iy = oy * sh - pad_top + ky * dh;
              if (iy < 0 || iy >= g.h) continue;
              for (std::int64_t kx = 0; kx < kw; ++kx) {
                const std::int64_t ix = ox * sw - pad_left + kx * dw;
                if (ix < 0 || ix >= g.w) continue;
                acc = arith.mac(acc, x(n, c0 + ci, iy, ix), w(m, ci, ky, kx), m);
              }
            }
          }
          y(n, m, oy, ox) = arith.finish(acc, m);
        }
      }
    }
  }
}

}  // namespace qnn::ref
