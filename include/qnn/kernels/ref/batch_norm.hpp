// Reference BatchNormalization, inference form (ONNX, training_mode = 0):
//
//   y = (x − mean[c]) / sqrt(var[c] + ε) · scale[c] + bias[c]      c = index along axis 1
// evaluated in fp32 in exactly that order, for any rank ≥ 2 (N, C, D1, …). Folding the statistics
// into one multiply-add per channel (what a fused Conv does) rounds differently; this is the
// definition the folded form is checked against.
#pragma once

#include <cmath>
#include <cstdint>
#include <span>

#include "qnn/core/error.hpp"
#include "qnn/core/tensor.hpp"
#include "qnn/kernels/ref/arith.hpp"

namespace qnn::ref {

struct BatchNormParams {
  std::span<const float> scale, bias, mean, var;
  float epsilon = 1e-5f;
};

inline void batch_norm(TensorView<const float> x, const BatchNormParams& p, TensorView<float> y) {
  check(x.rank() >= 2, "batch norm: input must have rank >= 2 (N, C, ...), got ", x.shape());
  check(y.shape() == x.shape(), "batch norm: output ", y.shape(), " should be ", x.shape());
  const std::int64_t c = x.dim(1);
  for (auto [s, what] : {std::pair{p.scale, "scale"}, {p.bias, "bias"}, {p.mean, "mean"}, {p.var, "var"}})
    check(static_cast<std::int64_t>(s.size()) == c, "batch norm: ", what, " has ", s.size(), " values for ", c,
          " channels");
  for_each_index(x.shape(), [&](const auto& idx) {
    const auto ch = static_cast<std::size_t>(idx[1]);
    at(y, idx) = (at(x, idx) - p.mean[ch]) / std::sqrt(p.var[ch] + p.epsilon) * p.scale[ch] + p.bias[ch];
  });
}

}  // namespace qnn::ref
