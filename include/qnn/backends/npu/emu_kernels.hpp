// The NPU emulator's own kernels: the operators whose NPU arithmetic differs from every qnn policy
// (backends/npu/dpu_arith.hpp). Everything else the emulator runs is qnn's kernel under the npu_pow2
// policy, which is the DPU's arithmetic already (emulator.hpp).
//
//   DpuAvgPoolKernel     AveragePool / GlobalAveragePool: acc = Σ (x − zx) over the window (taps in
//                        the padding add 0: the NPU pads with the zero point), y = rhu(acc·k / 2^n)
//                        + zy, saturated. The input and output share one position (align_pool).
//   DpuActivationKernel  ReLU, Clip, LeakyReLU (k/256), hard sigmoid (2731/16384, also for Sigmoid):
//                        8-bit in, 8-bit out, so the integer rule is tabulated once over the 256
//                        input codes when the node is prepared and the run is a table lookup.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <limits>

#include "qnn/backends/npu/dpu_arith.hpp"
#include "qnn/core/tensor.hpp"
#include "qnn/kernels/geometry.hpp"
#include "qnn/kernels/ref/pool.hpp"
#include "qnn/runtime/kernel.hpp"
#include "qnn/runtime/ops/window_attrs.hpp"

namespace qnn::backends::npu {

template <Int8Storage T>
class DpuAvgPoolKernel final : public OpKernel {
 public:
  // A windowed pool (attrs) or, with `global`, one window over the prepared H×W.
  DpuAvgPoolKernel(ops::WindowAttrs attrs, bool global, std::array<std::int64_t, 2> global_hw, AvgPoolFactor f,
                   std::int32_t zp)
      : attrs_(attrs), global_(global), global_hw_(global_hw), f_(f), zp_(zp) {}

  void run(KernelContext& ctx) const override {
    const TensorRef& x = ctx.in(0);
    check(x.dtype == dtype_of_v<T>, "input X is ", x.dtype, ", the node was prepared for ", dtype_of_v<T>);
    PoolGeometry g;
    Shape out_shape;
    if (global_) {
      check(x.shape.rank() == 4 && x.shape[2] == global_hw_[0] && x.shape[3] == global_hw_[1], "input ", x.shape,
            " differs from the ", global_hw_[0], "x", global_hw_[1], " image the NPU layer was prepared for");
      g = make_global_pool_geometry(x.shape);
      out_shape = g.output_shape();
    } else {
      const Shape x4 = ops::as_4d(x.shape, attrs_.spatial);
      g = make_pool_geometry(x4, attrs_.resolve(x4[2], x4[3]), attrs_.ceil_mode, true);
      out_shape = ops::from_4d(g.output_shape(), attrs_.spatial);
    }
    TensorRef& y = ctx.output(0, dtype_of_v<T>, out_shape);
    const T* xp = reinterpret_cast<const T*>(x.data);
    T* yp = reinterpret_cast<T*>(y.data);
    for (std::int64_t nc = 0; nc < g.n * g.c; ++nc) {
      const T* plane = xp + nc * g.h * g.w;
      for (std::int64_t oy = 0; oy < g.oh; ++oy)
        for (std::int64_t ox = 0; ox < g.ow; ++ox) {
          // The divisor ref::detail::for_each_tap returns is not used: the NPU multiplies by
          // k/2^n for the whole window whatever part of it lies in the padding.
          std::int64_t acc = 0;  // |acc| ≤ 2048 · 255: far inside any accumulator
          ref::detail::for_each_tap(g, oy, ox, [&](std::int64_t iy, std::int64_t ix) {
            acc += static_cast<std::int32_t>(plane[iy * g.w + ix]) - zp_;
          });
          yp[(nc * g.oh + oy) * g.ow + ox] =
              static_cast<T>(dpu_store(dpu_shift(acc * f_.k, f_.n), zp_, min_of<T>(), max_of<T>()));
        }
    }
  }

 private:
  ops::WindowAttrs attrs_;
  bool global_;
  std::array<std::int64_t, 2> global_hw_;
  AvgPoolFactor f_;
  std::int32_t zp_;  // input and output (aligned)
};

template <Int8Storage T>
class DpuActivationKernel final : public OpKernel {
 public:
  // rule(v): the output integer (before the zero point) for the input integer v = q − zx.
  DpuActivationKernel(const std::function<std::int64_t(std::int64_t)>& rule, std::int32_t zx, std::int32_t zy,
                      std::int32_t lo, std::int32_t hi) {
    for (int q = min_of<T>(); q <= max_of<T>(); ++q)
      table_[static_cast<std::uint8_t>(static_cast<T>(q))] = static_cast<T>(dpu_store(rule(q - zx), zy, lo, hi));
  }

  void run(KernelContext& ctx) const override {
    const TensorRef& x = ctx.in(0);
    check(x.dtype == dtype_of_v<T>, "input X is ", x.dtype, ", the node was prepared for ", dtype_of_v<T>);
    TensorRef& y = ctx.output(0, dtype_of_v<T>, x.shape);
    const T* xp = reinterpret_cast<const T*>(x.data);  // session tensors are dense
    T* yp = reinterpret_cast<T*>(y.data);
    for (std::int64_t i = 0, n = x.numel(); i < n; ++i) yp[i] = table_[static_cast<std::uint8_t>(xp[i])];
  }

  T at(T q) const { return table_[static_cast<std::uint8_t>(q)]; }

 private:
  std::array<T, 256> table_{};
};

}  // namespace qnn::backends::npu
