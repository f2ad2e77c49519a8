// Unquantized Gemm and MatMul.
//
// With constant weights the layer is a FloatGemm prepared once (fp32, or bf16 inputs with fp32
// accumulation when the session asks for bf16). Gemm folds α into the weights and β·C into the bias
// when C is constant and varies only along N; any other C is added after the product. Weights
// computed at run time take the reference path: ref::gemm_alpha_beta for Gemm, ref::matmul (NumPy
// batch broadcasting) for MatMul. A fused ReLU/Clip (qnn_activation) is applied last in every path.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <variant>
#include <vector>

#include "qnn/core/dtype.hpp"
#include "qnn/core/error.hpp"
#include "qnn/graph/passes/fuse_activation.hpp"
#include "qnn/kernels/gemm.hpp"
#include "qnn/kernels/ref/activation.hpp"
#include "qnn/kernels/ref/gemm.hpp"
#include "qnn/kernels/ref/gemm_onnx.hpp"
#include "qnn/runtime/kernel.hpp"
#include "qnn/runtime/ops/op_util.hpp"

namespace qnn::ops {

namespace internal {
using PreparedGemm = std::variant<std::monostate, FloatGemm<float>, FloatGemm<bf16>>;

inline PreparedGemm make_gemm(TensorView<const float> b, std::span<const float> bias, const GemmOptions& opt,
                              bool bf16_inputs) {
  PreparedGemm g;
  if (bf16_inputs)
    g.emplace<FloatGemm<bf16>>(b, bias, opt);
  else
    g.emplace<FloatGemm<float>>(b, bias, opt);
  return g;
}
inline void run_gemm(const PreparedGemm& g, TensorView<const float> a, TensorView<float> c, const cpu::Exec& ex) {
  if (const auto* f = std::get_if<FloatGemm<float>>(&g)) f->run(a, c, ex);
  if (const auto* f = std::get_if<FloatGemm<bf16>>(&g)) f->run(bf16_scratch(a), c, ex);
}
inline void apply_clamp(TensorView<float> y, const ActivationClamp& act) {
  if (act.kind != FusedActivation::none) ref::activation_float<float>(y, y, ref::Activation::clip(act.min, act.max));
}
inline TensorView<const float> as_matrix(const TensorRef& t, const char* what) {
  check_dtype(t.dtype, kFloat32, what);
  check(t.shape.rank() == 2, what, " must be 2-D, got ", t.shape);
  return t.view<float>();
}
}  // namespace internal

class GemmKernel final : public OpKernel {
 public:
  explicit GemmKernel(const NodeInfo& n) {
    const Attributes& a = n.attrs();
    alpha_ = a.get_float("alpha", 1.0f);
    beta_ = a.get_float("beta", 1.0f);
    trans_a_ = a.get_int("transA", 0) != 0;
    trans_b_ = a.get_int("transB", 0) != 0;
    act_ = passes::read_fused_activation(a);
    for (std::size_t i : {0, 1, 2}) check_input_dtype(n, i, kFloat32, "Gemm input");
    check(n.opset() >= 11 || n.has_input(2), "input 2 (C) is required before opset 11");
    const Tensor* b = n.constant_input(1);
    if (!b) return;
    check_dtype(b->dtype(), kFloat32, "B (input 1)");
    check(b->shape().rank() == 2, "B (input 1) must be 2-D, got ", b->shape());
    const std::int64_t nn = b->shape()[trans_b_ ? 0 : 1];
    Tensor w = *b;
    if (alpha_ != 1.0f)
      for (float& v : w.span<float>()) v *= alpha_;
    std::vector<float> bias;
    const Tensor* c = n.constant_input(2);
    c_in_bias_ = !n.has_input(2) || (c && per_column(c->shape(), nn));
    if (n.has_input(2) && c_in_bias_) {
      check_dtype(c->dtype(), kFloat32, "C (input 2)");
      const auto cv = c->span<float>();
      for (std::int64_t j = 0; j < nn; ++j)
        bias.push_back(beta_ * cv[cv.size() == 1 ? 0 : static_cast<std::size_t>(j)]);
    }
    GemmOptions opt;
    opt.trans_a = trans_a_;
    opt.trans_b = trans_b_;
    opt.reference = n.options().reference_kernels;
    if (c_in_bias_) opt.activation = act_;  // else the clamp follows the addition of C
    k_ = b->shape()[trans_b_ ? 1 : 0];
    n_ = nn;
    gemm_ = internal::make_gemm(w.view<float>(), bias, opt, n.options().precision == Precision::bf16);
  }

  void run(KernelContext& ctx) const override {
    const auto a = internal::as_matrix(ctx.in(0), "A (input 0)");
    const std::int64_t m = a.dim(trans_a_ ? 1 : 0);
    const std::int64_t k = a.dim(trans_a_ ? 0 : 1);
    std::optional<TensorView<const float>> c;
    if (ctx.has(2)) {
      check_dtype(ctx.in(2).dtype, kFloat32, "C (input 2)");
      c = ctx.in(2).view<float>();
    }
    if (gemm_.index() != 0) {
      check(k == k_, "A (input 0) ", a.shape(), " has K = ", k, ", the weights have K = ", k_);
      const TensorRef& y = ctx.output(0, DType::f32, Shape{m, n_});
      const auto yv = y.mut<float>();
      internal::run_gemm(gemm_, a, yv, ctx.exec());
      if (!c_in_bias_) {
        ref::gemm_add_c(yv, 1.0f, c, beta_);
        internal::apply_clamp(yv, act_);
      }
      return;
    }
    const auto b = internal::as_matrix(ctx.in(1), "B (input 1)");
    const std::int64_t kb = b.dim(trans_b_ ? 1 : 0);
    check(k == kb, "A (input 0) ", a.shape(), " and B (input 1) ", b.shape(), " differ in K (", k, " vs ", kb, ")");
    const TensorRef& y = ctx.output(0, DType::f32, Shape{m, b.dim(trans_b_ ? 0 : 1)});
    const auto yv = y.mut<float>();
    ref::gemm_alpha_beta(qnn::detail::transposed_if(a, trans_a_), qnn::detail::transposed_if(b, trans_b_), c, alpha_,
                         beta_, yv);
    internal::apply_clamp(yv, act_);
  }

  std::int64_t macs(const KernelContext& ctx) const override {
    const TensorRef* a = ctx.input(0);
    const TensorRef* b = ctx.input(1);
    if (!a || a->shape.rank() != 2) return 0;
    const std::int64_t nn = gemm_.index() != 0 ? n_ : (b && b->shape.rank() == 2 ? b->shape[trans_b_ ? 0 : 1] : 0);
    return a->shape[0] * a->shape[1] * nn;
  }

 private:
  // C broadcasts to [M, N] as one value per column: a scalar, [1], [N] or [1, N].
  static bool per_column(const Shape& c, std::int64_t n) {
    if (c.numel() == 1 && c.rank() <= 2) return true;
    if (c.rank() == 1) return c[0] == n;
    return c.rank() == 2 && c[0] == 1 && c[1] == n;
  }

  float alpha_ = 1.0f, beta_ = 1.0f;
  bool trans_a_ = false, trans_b_ = false;
  ActivationClamp act_;
  bool c_in_bias_ = false;
  std::int64_t k_ = 0, n_ = 0;
  internal::PreparedGemm gemm_;
};

// MatMul with NumPy semantics: 1-D operands are promoted ([K] → [1,K] for A, [K,1] for B) and the
// promoted axis removed from the result; leading axes broadcast.
class MatMulKernel final : public OpKernel {
 public:
  explicit MatMulKernel(const NodeInfo& n) : act_(passes::read_fused_activation(n.attrs())) {
    check_input_dtype(n, 0, kFloat32, "A (input 0)");
    check_input_dtype(n, 1, kFloat32, "B (input 1)");
    const Tensor* b = n.constant_input(1);
    if (!b || b->shape().rank() != 2) return;
    check_dtype(b->dtype(), kFloat32, "B (input 1)");
    GemmOptions opt;
    opt.activation = act_;
    opt.reference = n.options().reference_kernels;
    k_ = b->shape()[0];
    n_ = b->shape()[1];
    gemm_ = internal::make_gemm(b->view<float>(), {}, opt, n.options().precision == Precision::bf16);
  }

  void run(KernelContext& ctx) const override {
    const TensorRef& a = ctx.in(0);
    check_dtype(a.dtype, kFloat32, "A (input 0)");
    check(a.shape.rank() >= 1, "A (input 0) must have rank >= 1");
    if (gemm_.index() != 0) {
      // [..., M, K] x [K, N]: every leading axis folds into M.
      const std::int64_t k = a.shape.dim(-1);
      check(k == k_, "A (input 0) ", a.shape, " has K = ", k, ", B (input 1) is [", k_, ",", n_, "]");
      Shape out;
      std::int64_t rows = 1;
      for (int i = 0; i + 1 < a.shape.rank(); ++i) {
        out.push_back(a.shape[i]);
        rows *= a.shape[i];
      }
      out.push_back(n_);
      const TensorRef& y = ctx.output(0, DType::f32, out);
      internal::run_gemm(gemm_, TensorView<const float>(a.span<float>().data(), Shape{rows, k}),
                         TensorView<float>(y.mut<float>().data(), Shape{rows, n_}), ctx.exec());
      return;
    }
    const TensorRef& b = ctx.in(1);
    check_dtype(b.dtype, kFloat32, "B (input 1)");
    check(b.shape.rank() >= 1, "B (input 1) must have rank >= 1");
    const Shape ap = a.shape.rank() == 1 ? Shape{1, a.shape[0]} : a.shape;
    const Shape bp = b.shape.rank() == 1 ? Shape{b.shape[0], 1} : b.shape;
    const Shape full = ref::matmul_output_shape(ap, bp);
    Shape out;
    for (int i = 0; i < full.rank(); ++i)
      if (!(a.shape.rank() == 1 && i == full.rank() - 2) && !(b.shape.rank() == 1 && i == full.rank() - 1))
        out.push_back(full[i]);
    const TensorRef& y = ctx.output(0, DType::f32, out);
    ref::FloatArith<float> arith;
    if (act_.kind != FusedActivation::none) {
      arith.lo = act_.min;
      arith.hi = act_.max;
    }
    ref::matmul(TensorView<const float>(a.span<float>().data(), ap),
                TensorView<const float>(b.span<float>().data(), bp), TensorView<float>(y.mut<float>().data(), full),
                arith);
  }

  std::int64_t macs(const KernelContext& ctx) const override {
    const TensorRef* a = ctx.input(0);
    const TensorRef* b = ctx.input(1);
    if (!a || !b || a->shape.rank() == 0 || b->shape.rank() == 0) return 0;
    const std::int64_t nn = b->shape.rank() == 1 ? 1 : b->shape.dim(-1);
    return a->numel() * nn;  // (batch · M · K) · N for broadcast-free shapes
  }

 private:
  ActivationClamp act_;
  std::int64_t k_ = 0, n_ = 0;
  internal::PreparedGemm gemm_;
};

}  // namespace qnn::ops
