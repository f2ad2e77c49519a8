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

inline simd::MaxPoolArgs max_pool_args(const PoolGeometry& g) {
  simd::MaxPoolArgs a;
  a.h = g.h, a.w = g.w, a.oh = g.oh, a.ow = g.ow;
  a.kh = g.win.kernel[0], a.kw = g.win.kernel[1];
  a.sh = g.win.strides[0], a.sw = g.win.strides[1];
  a.dh = g.win.dilations[0], a.dw = g.win.dilations[1];
  a.pad_top = g.win.pads[0], a.pad_left = g.win.pads[1];
  return a;
}

// Scratch elements of T that max_pool_planes needs for planes of g's size.
inline std::int64_t max_pool_planes_scratch(const PoolGeometry& g) {
  return simd::max_pool_scratch_elems(max_pool_args(g));
}

// Pools `planes` contiguous H×W planes of g's size into OH×OW planes on the calling thread: the
// per-target rows, or the reference without a SIMD target. The caller has checked that every
// window hits the input. This is the unit a conv with a fused pooling calls per (image, group),
// while the group's output is still in cache (kernels/cpu/conv.hpp).
template <class T>
void max_pool_planes(const PoolGeometry& g, const T* x, T* y, std::int64_t planes, T* scratch) {
  const simd::KernelTable* t = simd::kernel_table();
  if (const auto kernel = t ? max_pool_kernel<T>(*t) : nullptr) {
    simd::MaxPoolArgs a = max_pool_args(g);
    a.x = x;
    a.y = y;
    a.planes = planes;
    a.scratch = scratch;
    kernel(a);
    return;
  }
  PoolGeometry one = g;
  one.n = 1;
  one.c = planes;
  ref::max_pool(one, TensorView<const T>(x, Shape{1, planes, g.h, g.w}), TensorView<T>(y, one.output_shape()));
}

// The pooling a conv runs on its int32 sums in its epilogue (simd::PoolSumsArgs): the per-target
// kernel, or the same maxima one output at a time.
inline void max_pool_sums(const simd::PoolSumsArgs& a) {
  const simd::KernelTable* t = simd::kernel_table();
  if (t && t->max_pool_sums_i32) return t->max_pool_sums_i32(a);
  for (std::int64_t s = 0; s < a.rows; ++s)
    for (std::int64_t grp = 0; grp < a.groups; ++grp) {
      const std::int32_t* src = a.acc + s * a.acc_stride + grp * a.kh * a.w;
      for (std::int64_t c = 0; c < a.ow; ++c) {
        std::int32_t best = src[c * a.kw];
        for (std::int64_t ky = 0; ky < a.kh; ++ky)
          for (std::int64_t kx = 0; kx < a.kw; ++kx) best = std::max(best, src[ky * a.w + c * a.kw + kx]);
        a.out[s * a.out_stride + grp * a.ow + c] = best;
      }
    }
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
  const auto scratch = static_cast<std::size_t>(max_pool_planes_scratch(g));
  // Threads get at least 2^16 taps each (tens of microseconds): a batch-1 pool of the
  // Fashion-MNIST CNN (25 k taps) is not worth a fork-join.
  const std::int64_t taps = std::max<std::int64_t>(1, g.oh * g.ow * g.win.kernel[0] * g.win.kernel[1]);
  const std::int64_t grain = std::max<std::int64_t>(1, (std::int64_t{1} << 16) / taps);
  ex.parallel(g.n * g.c, [&](Workspace& ws, std::int64_t b, std::int64_t e) {
    max_pool_planes(g, x.data() + b * g.h * g.w, y.data() + b * g.oh * g.ow, e - b, ws.get<T>(scratch));
  }, grain);
}

}  // namespace qnn::cpu
