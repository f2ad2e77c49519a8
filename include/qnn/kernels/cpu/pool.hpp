// Fast CPU max pooling: checks the geometry, splits N·C planes over threads and runs the
// per-target rows of kernels/simd/pool-inl.hpp, which equal ref::max_pool bit for bit (integers
// and floats, NaN and signed zeros included). Without a SIMD target, for a non-contiguous view,
// or when some window covers no input pixel (an error the reference reports), the reference runs.
#pragma once

#include <algorithm>
#include <concepts>
#include <cstdint>

#include "qnn/core/tensor.hpp"
#include "qnn/kernels/cpu/exec.hpp"
#include "qnn/kernels/dispatch.hpp"
#include "qnn/kernels/geometry.hpp"
#include "qnn/kernels/ref/pool.hpp"

namespace qnn::cpu {

template <class T>
auto max_pool_kernel(const simd::KernelTable& t) -> void (*)(const simd::MaxPoolArgs&) {
  if constexpr (std::same_as<T, std::uint8_t>) return t.max_pool_u8;
  else if constexpr (std::same_as<T, std::int8_t>) return t.max_pool_i8;
  else if constexpr (std::same_as<T, std::int16_t>) return t.max_pool_i16;
  else if constexpr (std::same_as<T, float>) return t.max_pool_f32;
  else return nullptr;
}

// True when every output row and column has a window tap inside the input.
inline bool every_window_hits_input(const PoolGeometry& g) {
  const auto covers = [](std::int64_t out, std::int64_t in, std::int64_t k, std::int64_t s, std::int64_t d,
                         std::int64_t pad) {
    for (std::int64_t o = 0; o < out; ++o) {
      bool hit = false;
      for (std::int64_t t = 0; t < k && !hit; ++t) {
        const std::int64_t i = o * s - pad + t * d;
        hit = i >= 0 && i < in;
      }
      if (!hit) return false;
    }
    return true;
  };
  return covers(g.oh, g.h, g.win.kernel[0], g.win.strides[0], g.win.dilations[0], g.win.pads[0]) &&
         covers(g.ow, g.w, g.win.kernel[1], g.win.strides[1], g.win.dilations[1], g.win.pads[1]);
}

template <class T>
void max_pool(const PoolGeometry& g, TensorView<const T> x, TensorView<T> y, const Exec& ex) {
  const simd::KernelTable* t = simd::kernel_table();
  const auto kernel = t ? max_pool_kernel<T>(*t) : nullptr;
  if (!kernel || !x.contiguous() || !y.contiguous() || x.shape() != Shape{g.n, g.c, g.h, g.w} ||
      y.shape() != g.output_shape() || !every_window_hits_input(g)) {
    ref::max_pool(g, x, y);  // also reports what is wrong with the shapes
    return;
  }
  simd::MaxPoolArgs a;
  a.h = g.h, a.w = g.w, a.oh = g.oh, a.ow = g.ow;
  a.kh = g.win.kernel[0], a.kw = g.win.kernel[1];
  a.sh = g.win.strides[0], a.sw = g.win.strides[1];
  a.dh = g.win.dilations[0], a.dw = g.win.dilations[1];
  a.pad_top = g.win.pads[0], a.pad_left = g.win.pads[1];
  const std::size_t scratch = static_cast<std::size_t>(simd::max_pool_scratch_elems(a));
  // Threads get at least 2^16 taps each (tens of microseconds): a batch-1 pool of the
  // Fashion-MNIST CNN (25 k taps) is not worth a fork-join.
  const std::int64_t taps = std::max<std::int64_t>(1, g.oh * g.ow * g.win.kernel[0] * g.win.kernel[1]);
  const std::int64_t grain = std::max<std::int64_t>(1, (std::int64_t{1} << 16) / taps);
  ex.parallel(g.n * g.c, [&](Workspace& ws, std::int64_t b, std::int64_t e) {
    simd::MaxPoolArgs part = a;
    part.x = x.data() + b * g.h * g.w;
    part.y = y.data() + b * g.oh * g.ow;
    part.planes = e - b;
    part.scratch = ws.get<T>(scratch);
    kernel(part);
  }, grain);
}

}  // namespace qnn::cpu
