// The quantized operators: registration of every kernel in qdq_ops.hpp, qlinear_conv_gemm.hpp,
// qlinear_matmul.hpp and qlinear_eltwise.hpp.
#pragma once

#include "qnn/runtime/kernel.hpp"
#include "qnn/runtime/ops/qdq_ops.hpp"
#include "qnn/runtime/ops/qlinear_conv_gemm.hpp"
#include "qnn/runtime/ops/qlinear_eltwise.hpp"
#include "qnn/runtime/ops/qlinear_matmul.hpp"

namespace qnn::ops {

inline void register_quantized_ops(KernelRegistry& r) {
  register_qdq_ops(r);
  register_qlinear_conv_gemm(r);
  register_qlinear_matmul(r);
  register_qlinear_eltwise(r);
}

}  // namespace qnn::ops
