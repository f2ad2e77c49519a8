// ONNX Gemm in full, as the reference for every way qnn runs it:
//
//   Y = α · A·B + β · C       A is [M,K], B is [K,N] (transposes are views), C broadcasts to [M,N]
// A·B is ref::gemm with FloatArith (fp32, k ascending); then each element is α·ab + β·c in fp32.
// A prepared layer with constant B and C folds α into the weights and β·C into the bias instead;
// that rounds differently (inside ONNX's tolerance) and is what the session runs when it can.
#pragma once

#include <optional>

#include "qnn/core/error.hpp"
#include "qnn/core/tensor.hpp"
#include "qnn/kernels/ref/arith.hpp"
#include "qnn/kernels/ref/broadcast.hpp"
#include "qnn/kernels/ref/gemm.hpp"

namespace qnn::ref {

// y = α·y + β·C, C broadcast to y's shape (the epilogue when C is not folded into a bias).
inline void gemm_add_c(TensorView<float> y, float alpha, std::optional<TensorView<const float>> c, float beta) {
  if (c) {
    const auto cb = broadcast_to(*c, y.shape());
    for_each_index(y.shape(), [&](const auto& idx) { at(y, idx) = alpha * at(y, idx) + beta * at(cb, idx); });
  } else if (alpha != 1.0f) {
    for_each_index(y.shape(), [&](const auto& idx) { at(y, idx) = alpha * at(y, idx); });
  }
}

inline void gemm_alpha_beta(TensorView<const float> a, TensorView<const float> b,
                            std::optional<TensorView<const float>> c, float alpha, float beta, TensorView<float> y) {
  gemm(a, b, y, FloatArith<float>{});
  gemm_add_c(y, alpha, c, beta);
}

}  // namespace qnn::ref
