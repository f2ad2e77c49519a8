// A session node as the XRT backend's work: C = A·B on the NPU, then the host epilogue that turns
// the raw int32 accumulator into exactly what the node's CPU kernel writes.
//
// An NPU matmul artefact returns Σ_k a[i,k]·b[k,n] and nothing else (xrt_manifest.hpp): zero points,
// bias and requantization stay on the host. With symmetric weights (zero point 0),
//   Σ_k (a − za)·b + bias[n] = Σ_k a·b + (bias[n] − za·Σ_k b[k,n]),
// so the host adds one precomputed int32 per column and then runs the CPU's own output stage
// (cpu::requantize_block with make_output_stage: the code QGemm's and QLinearMatMul's CPU kernels
// end with). The addition wraps modulo 2^32 like the CPU's does, and the CPU's accumulator bound
// (checked here as there) guarantees the true sum fits int32, so the result equals the CPU kernel's
// bit for bit whenever the device returns the exact Σ a·b. That sum itself must not overflow on the
// device: max|a|·max_n Σ_k|b| ≤ INT32_MAX is checked too (a is not offset by za on the device).
//
// The nodes taken, each with constant 2-D int8/uint8 weights whose zero points are all 0:
//   com.microsoft.QGemm  transA = 0, any alpha (folded into the accumulator scale, as the CPU does),
//                        transB, bias C, quantized output (y_scale, y_zero_point), fused ReLU/Clip
//   QLinearMatMul        A of any rank ≥ 1 (leading axes are rows), fused ReLU/Clip
//   MatMulInteger        a_zero_point absent or one constant value; int32 output
// Activations are 8-bit (int8, uint8): NPU matmul artefacts take 8-bit operands. Anything else is
// declined with the reason, and runs on the CPU.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "qnn/backends/backend.hpp"
#include "qnn/core/dtype.hpp"
#include "qnn/core/error.hpp"
#include "qnn/core/tensor.hpp"
#include "qnn/graph/graph.hpp"
#include "qnn/graph/passes/fuse_activation.hpp"
#include "qnn/kernels/cpu/conv.hpp"
#include "qnn/kernels/ref/arith.hpp"
#include "qnn/numerics/requantize.hpp"
#include "qnn/runtime/kernel.hpp"
#include "qnn/runtime/ops/qlinear_conv_gemm.hpp"
#include "qnn/runtime/ops/quant_params_io.hpp"

namespace qnn::npu {

enum class XrtFcOp : std::uint8_t { qgemm, qlinear_matmul, matmul_integer };

struct XrtFcLayer {
  XrtFcOp op = XrtFcOp::qgemm;
  const Tensor* weights = nullptr;  // the graph's constant B, [K,N] or [N,K] with trans_b; read when preparing
  bool trans_b = false;
  std::int64_t K = 0, N = 0;
  std::int64_t m_hint = 0;  // rows of A when the model declares them, else 0
  DType a = DType::u8, b = DType::i8;
  std::int32_t a_zero_point = 0;
  std::vector<std::int32_t> bias;  // QGemm's C: empty or N values
  // The output stage of QGemm and QLinearMatMul: s_a (times alpha), s_b per column, s_y, z_y.
  float a_scale = 1.0f;
  std::vector<float> b_scales;
  float y_scale = 1.0f;
  std::int32_t y_zero_point = 0;
  RequantPolicy policy = RequantPolicy::onnx_float;
  ActivationClamp activation;

  DType output_dtype() const { return op == XrtFcOp::matmul_integer ? DType::i32 : a; }
  // Element strides of B as [K,N].
  std::int64_t stride_k() const { return trans_b ? 1 : N; }
  std::int64_t stride_n() const { return trans_b ? K : 1; }
};

namespace detail {

inline bool is_onnx_op(const Node& n, const char* op) {
  return (n.domain.empty() || n.domain == "ai.onnx") && n.op_type == op;
}

// Rows of A the model declares (all axes but the last), or 0 when one of them is dynamic.
inline std::int64_t declared_rows(const NodeInfo& info) {
  const auto d = info.input_dims(0);
  if (!d || d->empty()) return 0;
  std::int64_t m = 1;
  for (std::size_t i = 0; i + 1 < d->size(); ++i) {
    if ((*d)[i] <= 0) return 0;
    m *= (*d)[i];
  }
  return m;
}

// Fills the layer's A type and output stage from the node's quantization; returns B's zero points.
inline std::vector<std::int32_t> set_output_stage(XrtFcLayer& l, const ops::quant::MatmulQuant& q, float alpha) {
  l.a = q.a.dtype;
  l.a_zero_point = q.a.zero_point();
  l.a_scale = alpha * q.a.scale();
  l.b_scales = q.b.scales;
  l.y_scale = q.y.scale();
  l.y_zero_point = q.y.zero_point();
  return q.b.zero_points;
}

// Reads the node; every check throws qnn::error with the reason (read_xrt_fc_layer turns it into a
// Support::no). `info` is a copy of the node: the readers below record attribute uses.
inline XrtFcLayer read_fc_layer(const NodeInfo& info) {
  namespace q = ops::quant;
  const Node& n = info.node();
  XrtFcLayer l;
  l.op = n.op_type == "QGemm" ? XrtFcOp::qgemm : is_onnx_op(n, "QLinearMatMul") ? XrtFcOp::qlinear_matmul
                                                                                 : XrtFcOp::matmul_integer;
  const std::size_t b_index = l.op == XrtFcOp::matmul_integer ? 1 : 3;
  l.weights = info.constant_input(b_index);
  check(l.weights != nullptr, "the weights (input ", b_index, ") are not constant: an NPU matmul artefact ",
        "multiplies by weights uploaded once when the session is prepared");
  check(l.weights->shape().rank() == 2, "weights of shape ", l.weights->shape(), " are not 2-D");
  l.b = l.weights->dtype();
  l.m_hint = declared_rows(info);
  std::vector<std::int32_t> b_zero_points;
  if (l.op == XrtFcOp::qgemm) {
    const Attributes& at = info.attrs();
    check(at.get_int("transA", 0) == 0, "transA = 1: the NPU matmul reads A row-major");
    l.trans_b = at.get_int("transB", 0) != 0;
    const float alpha = at.get_float("alpha", 1.0f);
    check(alpha > 0.0f && std::isfinite(alpha), "alpha ", alpha, " is not supported");
    check(info.has_input(7) && info.has_input(8), "float output (no y_scale/y_zero_point): the XRT backend ",
          "takes QGemm with a quantized output");
    l.N = l.weights->shape()[l.trans_b ? 0 : 1];
    // ORT's accumulator scale, fl(alpha · a_scale), as the CPU kernel.
    b_zero_points = set_output_stage(l, q::constant_matmul_quant(info, 7, l.N, "A", "Y"), alpha);
    l.bias = ops::gemm_detail::qgemm_bias(info, l.N);
  } else if (l.op == XrtFcOp::qlinear_matmul) {
    l.N = l.weights->shape()[1];
    b_zero_points = set_output_stage(l, q::constant_matmul_quant(info, 6, l.N, "a", "y"), 1.0f);
  } else {
    l.N = l.weights->shape()[1];
    if (info.has_input(2)) {
      const Tensor* za = info.constant_input(2);
      check(za != nullptr, "a_zero_point is a run-time input (dynamic quantization): the host correction is made ",
            "when the session is prepared");
      check(za->numel() == 1, "a_zero_point has ", za->numel(), " values (one per row): the XRT backend takes one");
      l.a = za->dtype();
      l.a_zero_point = q::int_values(TensorRef::of(*za)).front();
    } else {
      l.a = q::declared_dtype(info, 0, "A");
    }
    if (info.has_input(3)) {
      const Tensor* zb = info.constant_input(3);
      check(zb != nullptr, "b_zero_point is a run-time input");
      b_zero_points = q::int_values(TensorRef::of(*zb));
    }
  }
  l.K = l.weights->shape()[l.trans_b ? 1 : 0];
  check(l.a == DType::i8 || l.a == DType::u8, "activations are ", l.a, ": NPU matmul artefacts take 8-bit operands");
  check(l.b == DType::i8 || l.b == DType::u8, "weights are ", l.b, ": NPU matmul artefacts take 8-bit operands");
  const bool per_column = std::adjacent_find(b_zero_points.begin(), b_zero_points.end(), std::not_equal_to<>()) !=
                          b_zero_points.end();
  for (std::size_t c = 0; c < b_zero_points.size(); ++c)
    check(b_zero_points[c] == 0, "weight zero point ", b_zero_points[c], " is not 0",
          per_column ? qnn::detail::cat(" (column ", c, ")") : std::string(),
          ": the NPU returns the raw sum of a·b, which the host corrects only for symmetric weights");
  if (l.op != XrtFcOp::matmul_integer) {
    l.policy = q::read_policy(info);
    l.activation = passes::read_fused_activation(info.attrs());
  }
  const auto unused = n.attrs.unused();
  check(unused.empty(), "attribute '", unused.empty() ? "" : unused.front(), "' is not handled by the XRT backend");

  // The two accumulator bounds: the CPU kernel's (the true sum with zero points and bias) and the
  // device's (the raw sum).
  ops::quant::visit_int8_dtype(l.a, "A", [&](auto ta) {
    ops::quant::visit_int8_dtype(l.b, "B", [&](auto tb) {
      using TA = decltype(ta);
      using TB = decltype(tb);
      const TensorView<const TB> w = l.weights->view<TB>();
      const int n_axis = l.trans_b ? 0 : 1;
      const std::vector<std::int32_t> zero{0};
      std::int64_t max_bias = 0;
      for (std::int32_t v : l.bias) max_bias = std::max(max_bias, v < 0 ? -std::int64_t{v} : std::int64_t{v});
      ref::check_accumulator_fits<std::int32_t>(ref::accumulator_bound<TA, TB>(w, n_axis, l.a_zero_point, zero) +
                                                max_bias);
      const std::int64_t raw = ref::accumulator_bound<TA, TB>(w, n_axis, 0, zero);
      check(raw <= std::numeric_limits<std::int32_t>::max(), "the raw sum of a·b can reach ", raw,
            " for these weights, above INT32_MAX: the device's int32 accumulator could overflow");
    });
  });
  return l;
}

}  // namespace detail

// The node as an NPU matmul, or nothing with `why` set to the reason. Leaves the node untouched:
// the readers run on a copy (their attribute reads are recorded as uses).
inline std::optional<XrtFcLayer> read_xrt_fc_layer(const NodeInfo& info, backends::Support& why) {
  const Node& n = info.node();
  const bool matmul = (n.domain == "com.microsoft" && n.op_type == "QGemm") || detail::is_onnx_op(n, "QLinearMatMul") ||
                      detail::is_onnx_op(n, "MatMulInteger");
  if (!matmul) {
    why = backends::Support::no(n.domain.empty() ? "" : n.domain + ".", n.op_type,
                                " is not a matmul: the XRT backend runs com.microsoft.QGemm, QLinearMatMul and ",
                                "MatMulInteger with constant weights (manifest artefacts of op \"matmul\")");
    return std::nullopt;
  }
  const Node copy = n;
  const NodeInfo ci(copy, info.graph(), info.options(), info.registry());
  try {
    return detail::read_fc_layer(ci);
  } catch (const error& e) {
    why = backends::Support::no(e.what());
    return std::nullopt;
  }
}

// The host epilogue of a layer: reads the M×N raw accumulators `acc` (Σ a·b from the device) and
// writes the node's M×N output `y` (which may be `acc` itself for MatMulInteger's int32 output).
using XrtFcEpilogue = std::function<void(const std::int32_t* acc, std::int64_t m, std::byte* y)>;

inline XrtFcEpilogue make_xrt_fc_epilogue(const XrtFcLayer& l) {
  // bias[n] − za·Σ_k b[k,n], modulo 2^32 (the CPU's wrap-around addition makes it exact).
  std::vector<std::int32_t> correction(static_cast<std::size_t>(l.N));
  ops::quant::visit_int8_dtype(l.b, "B", [&](auto tb) {
    using TB = decltype(tb);
    const TB* w = reinterpret_cast<const TB*>(l.weights->raw());
    for (std::int64_t n = 0; n < l.N; ++n) {
      std::int64_t sum = 0;
      for (std::int64_t k = 0; k < l.K; ++k) sum += w[k * l.stride_k() + n * l.stride_n()];
      const std::int64_t bias = l.bias.empty() ? 0 : l.bias[static_cast<std::size_t>(n)];
      correction[static_cast<std::size_t>(n)] = static_cast<std::int32_t>(bias - std::int64_t{l.a_zero_point} * sum);
    }
  });
  const std::int64_t N = l.N;
  if (l.op == XrtFcOp::matmul_integer) {
    return [N, correction](const std::int32_t* acc, std::int64_t m, std::byte* y) {
      auto* out = reinterpret_cast<std::int32_t*>(y);
      for (std::int64_t i = 0; i < m; ++i)
        for (std::int64_t n = 0; n < N; ++n)
          out[i * N + n] = static_cast<std::int32_t>(static_cast<std::uint32_t>(acc[i * N + n]) +
                                                     static_cast<std::uint32_t>(correction[static_cast<std::size_t>(n)]));
    };
  }
  return ops::quant::visit_int8_dtype(l.a, "A", [&](auto ta) -> XrtFcEpilogue {
    using TA = decltype(ta);
    return visit_policy(l.policy, [&](auto policy) -> XrtFcEpilogue {
      using P = decltype(policy);
      OutputStage<P> stage = make_output_stage<P, TA>(l.a_scale, l.b_scales, l.y_scale, l.y_zero_point, l.activation);
      std::vector<float> onnx_mult;
      if constexpr (P::policy == RequantPolicy::onnx_float)
        for (const auto& c : stage.channels) onnx_mult.push_back(c.multiplier);
      return [N, correction, stage = std::move(stage), onnx_mult = std::move(onnx_mult)](
                 const std::int32_t* acc, std::int64_t m, std::byte* y) {
        cpu::requantize_block(acc, N, m, N, 0, correction, stage, onnx_mult, reinterpret_cast<TA*>(y), N, false);
      };
    });
  });
}

}  // namespace qnn::npu
