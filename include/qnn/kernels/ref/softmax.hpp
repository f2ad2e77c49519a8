// Reference float Softmax along one axis (ONNX opset 13 semantics):
//   y_i = exp(x_i − max_j x_j) / Σ_j exp(x_j − max_j x_j)
// Subtracting the maximum keeps every exp ≤ 1, so no overflow for any finite input. The sum runs
// in fp32 in index order. Earlier opsets' "coerce to 2-D" semantics are mapped by the Softmax op.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

#include "qnn/core/error.hpp"
#include "qnn/core/tensor.hpp"
#include "qnn/kernels/ref/arith.hpp"

namespace qnn::ref {

inline void softmax(TensorView<const float> x, int axis, TensorView<float> y) {
  check(x.shape() == y.shape(), "softmax output ", y.shape(), " should be ", x.shape());
  const int ax = x.shape().normalize_axis(axis);
  const std::int64_t len = x.shape()[ax];
  // Visit every 1-D line along `ax`: iterate the shape with that axis collapsed to 1.
  Shape outer = x.shape();
  outer[ax] = 1;
  const std::int64_t xs = x.strides()[static_cast<std::size_t>(ax)];
  const std::int64_t ys = y.strides()[static_cast<std::size_t>(ax)];
  for_each_index(outer, [&](const auto& idx) {
    const float* xl = &at(x, idx);
    float* yl = &at(y, idx);
    float mx = -std::numeric_limits<float>::infinity();
    for (std::int64_t i = 0; i < len; ++i) mx = std::max(mx, xl[i * xs]);
    float sum = 0.0f;
    for (std::int64_t i = 0; i < len; ++i) {
      const float e = std::exp(xl[i * xs] - mx);
      yl[i * ys] = e;
      sum += e;
    }
    for (std::int64_t i = 0; i < len; ++i) yl[i * ys] /= sum;
  });
}

}  // namespace qnn::ref
