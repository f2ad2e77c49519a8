// Unquantized element-wise operators: the activations (Relu, LeakyRelu, Clip, Sigmoid, HardSigmoid,
// HardSwish, Tanh), Add/Sub/Mul/Div with broadcasting, and Softmax.
//
// Float activations evaluate ref::Activation, the same function the quantized kernels tabulate, so
// a float model and its quantized form agree on what each activation means. Relu and Clip also run
// on integer tensors (opset 14 / 12), exactly in the element type (ref/clamp.hpp). Add–Div run on
// float32, bfloat16 and every integer type: exported graphs compute shapes in int64 (ref/binary.hpp
// states the integer rules).
#pragma once

#include <cstdint>
#include <limits>

#include "qnn/core/dtype.hpp"
#include "qnn/core/error.hpp"
#include "qnn/kernels/ref/activation.hpp"
#include "qnn/kernels/ref/binary.hpp"
#include "qnn/kernels/ref/broadcast.hpp"
#include "qnn/kernels/ref/clamp.hpp"
#include "qnn/kernels/ref/softmax.hpp"
#include "qnn/runtime/kernel.hpp"
#include "qnn/runtime/ops/op_util.hpp"

namespace qnn::ops {

// A float activation y = f(x) on float32 or bfloat16.
class FloatActivationKernel final : public OpKernel {
 public:
  FloatActivationKernel(const NodeInfo& n, const ref::Activation& f) : f_(f) {
    check_input_dtype(n, 0, kFloats, "X (input 0)");
  }
  void run(KernelContext& ctx) const override {
    const TensorRef& x = ctx.in(0);
    check_dtype(x.dtype, kFloats, "X (input 0)");
    const TensorRef& y = ctx.output(0, x.dtype, x.shape);
    if (x.dtype == DType::bf16)
      ref::activation_float(x.view<bf16>(), y.mut<bf16>(), f_);
    else
      ref::activation_float(x.view<float>(), y.mut<float>(), f_);
  }

 private:
  ref::Activation f_;
};

inline constexpr DTypeSet kReluTypes{DType::f32, DType::bf16, DType::i8, DType::i16, DType::i32, DType::i64};

class ReluKernel final : public OpKernel {
 public:
  explicit ReluKernel(const NodeInfo& n) { check_input_dtype(n, 0, kReluTypes, "X (input 0)"); }
  void run(KernelContext& ctx) const override {
    const TensorRef& x = ctx.in(0);
    check_dtype(x.dtype, kReluTypes, "X (input 0)");
    const TensorRef& y = ctx.output(0, x.dtype, x.shape);
    visit_numeric(x.dtype, "X (input 0)", [&](auto t) {
      using T = decltype(t);
      if constexpr (std::same_as<T, float> || std::same_as<T, bf16>)
        ref::activation_float(x.view<T>(), y.mut<T>(), ref::Activation::relu());
      else
        ref::clamp(x.view<T>(), T{0}, std::numeric_limits<T>::max(), y.mut<T>());
    });
  }
};

// Clip: bounds as attributes (opset < 11, float) or optional inputs 1 and 2 of the input's type
// (opset ≥ 11; integer types from opset 12). A missing bound is unbounded. min > max is refused:
// ONNX does not define it, and runtimes disagree (NumPy returns max, a clamp written the other
// way round returns min).
class ClipKernel final : public OpKernel {
 public:
  explicit ClipKernel(const NodeInfo& n) : inputs_(n.opset() >= 11) {
    if (!inputs_) {
      lo_ = n.attrs().get_float("min", std::numeric_limits<float>::lowest());
      hi_ = n.attrs().get_float("max", std::numeric_limits<float>::max());
      check(!(hi_ < lo_), "Clip min ", lo_, " is above max ", hi_);
      check_input_dtype(n, 0, kFloats, "X (input 0)");
    } else {
      check_input_dtype(n, 0, kNumeric, "X (input 0)");
      check_same_input_dtype(n, 0, 1);
      check_same_input_dtype(n, 0, 2);
    }
  }
  void run(KernelContext& ctx) const override {
    const TensorRef& x = ctx.in(0);
    check_dtype(x.dtype, inputs_ ? kNumeric : kFloats, "X (input 0)");
    const TensorRef& y = ctx.output(0, x.dtype, x.shape);
    visit_numeric(x.dtype, "X (input 0)", [&](auto t) {
      using T = decltype(t);
      if constexpr (std::same_as<T, float> || std::same_as<T, bf16>) {
        float lo = lo_, hi = hi_;
        if (inputs_ && ctx.has(1)) lo = static_cast<float>(read_scalar<T>(ctx.in(1), "min (input 1)"));
        if (inputs_ && ctx.has(2)) hi = static_cast<float>(read_scalar<T>(ctx.in(2), "max (input 2)"));
        check(!(hi < lo), "Clip min ", lo, " is above max ", hi);
        ref::activation_float(x.view<T>(), y.mut<T>(), ref::Activation::clip(lo, hi));
      } else {
        const T lo = ctx.has(1) ? read_scalar<T>(ctx.in(1), "min (input 1)") : std::numeric_limits<T>::lowest();
        const T hi = ctx.has(2) ? read_scalar<T>(ctx.in(2), "max (input 2)") : std::numeric_limits<T>::max();
        check(lo <= hi, "Clip min ", +lo, " is above max ", +hi);
        ref::clamp(x.view<T>(), lo, hi, y.mut<T>());
      }
    });
  }

 private:
  bool inputs_;
  float lo_ = -std::numeric_limits<float>::infinity();
  float hi_ = std::numeric_limits<float>::infinity();
};

class BinaryKernel final : public OpKernel {
 public:
  BinaryKernel(const NodeInfo& n, ref::BinaryOp op) : op_(op) {
    check_input_dtype(n, 0, kNumeric, "A (input 0)");
    check_input_dtype(n, 1, kNumeric, "B (input 1)");
    check_same_input_dtype(n, 0, 1);
  }
  void run(KernelContext& ctx) const override {
    const TensorRef& a = ctx.in(0);
    const TensorRef& b = ctx.in(1);
    check_dtype(a.dtype, kNumeric, "A (input 0)");
    check_same_dtype(a, b, "inputs A and B");
    const TensorRef& y = ctx.output(0, a.dtype, ref::broadcast_shape(a.shape, b.shape));
    visit_numeric(a.dtype, "A (input 0)", [&](auto t) {
      using T = decltype(t);
      ref::binary(op_, a.view<T>(), b.view<T>(), y.mut<T>());
    });
  }

 private:
  ref::BinaryOp op_;
};

// Softmax. Opset 13: along `axis` (default −1). Before: the input is seen as a 2-D matrix
// [d0·…·d(axis−1), d(axis)·…·d(r−1)] (axis default 1) and each row is normalized.
class SoftmaxKernel final : public OpKernel {
 public:
  explicit SoftmaxKernel(const NodeInfo& n)
      : coerce_2d_(n.opset() < 13), axis_(n.attrs().get_int("axis", n.opset() < 13 ? 1 : -1)) {
    check_input_dtype(n, 0, kFloat32, "input 0");
    check_axis(n, 0, axis_);
  }
  void run(KernelContext& ctx) const override {
    const TensorRef& x = ctx.in(0);
    check_dtype(x.dtype, kFloat32, "input 0");
    const TensorRef& y = ctx.output(0, x.dtype, x.shape);
    const int r = x.shape.rank();
    check(axis_ >= -r && axis_ < std::max(r, 1), "axis ", axis_, " is out of range for rank ", r);
    const int axis = static_cast<int>(axis_ < 0 ? axis_ + r : axis_);
    if (!coerce_2d_) {
      check(r >= 1, "softmax of a scalar");
      ref::softmax(x.view<float>(), axis, y.mut<float>());
      return;
    }
    std::int64_t outer = 1, inner = 1;
    for (int i = 0; i < r; ++i) (i < axis ? outer : inner) *= x.shape[i];
    const Shape m{outer, inner};
    ref::softmax(TensorView<const float>(x.span<float>().data(), m), 1, TensorView<float>(y.mut<float>().data(), m));
  }

 private:
  bool coerce_2d_;
  std::int64_t axis_;
};

}  // namespace qnn::ops
