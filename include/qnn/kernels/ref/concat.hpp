// Reference Concat, plain and quantized.
//
// Quantized Concat produces one output scale and zero point. An input already in that
// quantization is copied bit for bit; any other input is requantized element by element:
// y = stage(x − zx) with the factor s_x/s_y of the layer's policy (eltwise.hpp's requantize),
// except under onnx_float, which is ONNX Runtime's QLinearConcat: dequantize then quantize,
// y = QuantizeLinear(fl(s_x · (x − zx)), s_y, zy) — one fp32 multiply and one fp32 division, not a
// multiply by the ratio s_x/s_y (qlinear_concat.cc builds this 256-entry table per input).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "qnn/core/error.hpp"
#include "qnn/core/tensor.hpp"
#include "qnn/kernels/ref/eltwise.hpp"
#include "qnn/numerics/quantize.hpp"
#include "qnn/numerics/requantize.hpp"

namespace qnn::ref {

inline Shape concat_output_shape(std::span<const Shape> inputs, int axis) {
  check(!inputs.empty(), "concat needs at least one input");
  const Shape& first = inputs[0];
  const int ax = first.normalize_axis(axis);
  Shape out = first;
  out[ax] = 0;
  for (const Shape& s : inputs) {
    check(s.rank() == first.rank(), "concat inputs of ranks ", first.rank(), " and ", s.rank());
    for (int i = 0; i < s.rank(); ++i)
      check(i == ax || s[i] == first[i], "concat inputs ", first, " and ", s, " differ off axis ", ax);
    out[ax] += s[ax];
  }
  return out;
}

namespace detail {
// The part of `y` that input number `i` fills: same shape as the input, offset along the axis.
template <class T>
TensorView<T> concat_slot(const TensorView<T>& y, int axis, std::int64_t offset, const Shape& part) {
  return TensorView<T>(y.data() + offset * y.strides()[static_cast<std::size_t>(axis)], part, y.strides());
}
}  // namespace detail

template <class T>
void concat(std::span<const TensorView<const T>> xs, int axis, TensorView<T> y) {
  std::vector<Shape> shapes;
  for (const auto& x : xs) shapes.push_back(x.shape());
  check(y.shape() == concat_output_shape(shapes, axis), "concat output ", y.shape(), " is wrong");
  const int ax = y.shape().normalize_axis(axis);
  std::int64_t offset = 0;
  for (const auto& x : xs) {
    unary(x, detail::concat_slot(y, ax, offset, x.shape()), [](T v) { return v; });
    offset += x.shape()[ax];
  }
}

struct ConcatInputQuant {
  float scale = 1;
  std::int32_t zero_point = 0;
};

template <QuantStorage T, RequantPolicyType P>
void concat_quantized(std::span<const TensorView<const T>> xs, std::span<const ConcatInputQuant> xq,
                      int axis, TensorView<T> y, float s_y, std::int32_t zy) {
  check(xs.size() == xq.size(), "concat: ", xs.size(), " inputs but ", xq.size(), " quantizations");
  std::vector<Shape> shapes;
  for (const auto& x : xs) shapes.push_back(x.shape());
  check(y.shape() == concat_output_shape(shapes, axis), "concat output ", y.shape(), " is wrong");
  const int ax = y.shape().normalize_axis(axis);
  std::int64_t offset = 0;
  for (std::size_t i = 0; i < xs.size(); ++i) {
    const auto slot = detail::concat_slot(y, ax, offset, xs[i].shape());
    if (xq[i].scale == s_y && xq[i].zero_point == zy) {
      unary(xs[i], slot, [](T v) { return v; });
    } else if constexpr (P::policy == RequantPolicy::onnx_float) {
      const ConcatInputQuant in = xq[i];
      unary(xs[i], slot, [&](T v) { return quantize_value<T>(dequantize_value(v, in.scale, in.zero_point), s_y, zy); });
    } else {
      requantize(xs[i], xq[i].zero_point, slot, make_rescale_stage<P, T>(xq[i].scale, s_y, zy));
    }
    offset += xs[i].shape()[ax];
  }
}

}  // namespace qnn::ref
