// Quantized MatMuls: ONNX QLinearMatMul and MatMulInteger, NumPy batching (1-D operands promoted
// and the added axis dropped again, as numpy.matmul does).
//
//   QLinearMatMul(a, a_scale, a_zp, b, b_scale, b_zp, y_scale, y_zp)
//       a uint8/int8 (int16/uint16 too: A16W8), b int8/uint8 per tensor or per column (b_scale,
//       b_zp of N values); y has a's type. b may be a run-time tensor (a MatMul of two activations);
//       every scale and zero point is a constant, so the output stage is made once. The accumulator
//       bound is the worst case over all values, K · max|a − za| · max|b − zb|, checked per run
//       against the actual K.
//   MatMulInteger(A, B, [a_zp], [b_zp])
//       int32 output; a_zp one value or one per row of A (M), b_zp one value or one per column of B
//       (N); everything may be a run-time tensor (dynamic quantization feeds a_zp at run time).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <variant>
#include <vector>

#include "qnn/core/quant_params.hpp"
#include "qnn/core/tensor.hpp"
#include "qnn/graph/passes/fuse_activation.hpp"
#include "qnn/kernels/ref/arith.hpp"
#include "qnn/kernels/ref/gemm.hpp"
#include "qnn/numerics/requantize.hpp"
#include "qnn/runtime/kernel.hpp"
#include "qnn/runtime/ops/quant_params_io.hpp"

namespace qnn::ops {

namespace matmul_detail {

// numpy.matmul's treatment of 1-D operands: a [K] is [1, K], b [K] is [K, 1], and the added axis is
// removed from the output.
struct MatmulShapes {
  Shape a, b, out_full, out;
  std::int64_t k = 0;

  static MatmulShapes of(const Shape& a, const Shape& b) {
    check(a.rank() >= 1 && b.rank() >= 1, "matmul operands must have rank >= 1, got ", a, " and ", b);
    MatmulShapes s;
    s.a = a.rank() == 1 ? Shape{1, a[0]} : a;
    s.b = b.rank() == 1 ? Shape{b[0], 1} : b;
    s.out_full = ref::matmul_output_shape(s.a, s.b);
    s.k = s.a.dim(-1);
    for (int i = 0; i < s.out_full.rank(); ++i) {
      const bool drop = (a.rank() == 1 && i == s.out_full.rank() - 2) || (b.rank() == 1 && i == s.out_full.rank() - 1);
      if (!drop) s.out.push_back(s.out_full[i]);
    }
    return s;
  }
};

template <class T>
TensorView<const T> view_as(const TensorRef& r, const Shape& s) {
  return TensorView<const T>(reinterpret_cast<const T*>(r.data), s);
}

template <QuantStorage TA, Int8Storage TB>
class QLinearMatMulKernel final : public OpKernel {
  using Acc = ref::accumulator_t<TA>;
  template <class P>
  using Arith = ref::QuantizedArith<TA, P, TA>;

 public:
  QLinearMatMulKernel(std::int32_t za, const std::vector<std::int32_t>& zb, std::int64_t columns,
                      RequantPolicy policy, float sa, const std::vector<float>& sb, float sy, std::int32_t zy,
                      const ActivationClamp& act)
      : za_(za), zb_(zb), columns_(columns),
        arith_(visit_policy(policy, [&](auto p) -> ArithVariant {
          using P = decltype(p);
          // The bound is checked per run with the actual K; here only the zero points are validated.
          return Arith<P>(0, za, zb, {}, make_output_stage<P, TA>(sa, sb, sy, zy, act));
        })) {}

  void run(KernelContext& ctx) const override {
    const TensorRef& a = ctx.in(0);
    const TensorRef& b = ctx.in(3);
    quant::check_dtype(a, dtype_of_v<TA>, "input a");
    quant::check_dtype(b, dtype_of_v<TB>, "input b");
    const MatmulShapes s = MatmulShapes::of(a.shape, b.shape);
    check(columns_ == 1 || s.b.dim(-1) == columns_, "b has ", s.b.dim(-1), " columns but b_scale/b_zero_point ",
          columns_, " values");
    std::int64_t bound = 0;
    for (std::int32_t z : zb_) bound = std::max(bound, ref::worst_case_bound<TA, TB>(s.k, za_, z));
    ref::check_accumulator_fits<Acc>(bound);
    TensorRef& y = ctx.output(0, dtype_of_v<TA>, s.out);
    const TensorView<TA> yv(reinterpret_cast<TA*>(y.data), s.out_full);
    std::visit([&](const auto& arith) { ref::matmul(view_as<TA>(a, s.a), view_as<TB>(b, s.b), yv, arith); }, arith_);
  }
  std::int64_t macs(const KernelContext& ctx) const override {
    const MatmulShapes s = MatmulShapes::of(ctx.in(0).shape, ctx.in(3).shape);
    return s.out_full.numel() * s.k;
  }

 private:
  using ArithVariant = std::variant<Arith<OnnxFloat>, Arith<TfliteDoubleRound>, Arith<TfliteSingleRound>, Arith<NpuPow2>>;
  std::int32_t za_;
  std::vector<std::int32_t> zb_;
  std::int64_t columns_;
  ArithVariant arith_;
};

inline std::unique_ptr<OpKernel> make_qlinear_matmul(const NodeInfo& info) {
  // b is not expanded here: it may be a run-time tensor, whose column count is known at run time.
  const quant::MatmulQuant q = quant::constant_matmul_quant(info, 6, 0, "a", "y");
  const quant::ScaleZp& aq = q.a;
  const quant::ScaleZp& bq = q.b;
  const quant::ScaleZp& yq = q.y;
  if (const auto d = info.input_dtype(0)) check(*d == aq.dtype, "a is ", *d, " but a_zero_point is ", aq.dtype);
  if (const auto d = info.input_dtype(3)) check(*d == bq.dtype, "b is ", *d, " but b_zero_point is ", bq.dtype);
  check(bq.scales.size() == bq.zero_points.size() || bq.zero_points.size() == 1,
        "b_scale and b_zero_point hold different numbers of values");
  std::vector<std::int32_t> zb = bq.zero_points;
  std::vector<float> sb = bq.scales;
  const std::int64_t columns = static_cast<std::int64_t>(std::max(sb.size(), zb.size()));
  if (columns > 1) {
    if (sb.size() == 1) sb.assign(static_cast<std::size_t>(columns), sb[0]);
    if (zb.size() == 1) zb.assign(static_cast<std::size_t>(columns), zb[0]);
  }
  const RequantPolicy policy = quant::read_policy(info);
  const ActivationClamp act = passes::read_fused_activation(info.attrs());
  return quant::visit_quant_dtype(aq.dtype, "a", [&](auto ta) -> std::unique_ptr<OpKernel> {
    using TA = decltype(ta);
    return quant::visit_int8_dtype(bq.dtype, "b", [&](auto tb) -> std::unique_ptr<OpKernel> {
      using TB = decltype(tb);
      (void)quant::per_tensor<TA>(aq, "a_scale/a_zero_point");
      (void)quant::per_tensor<TA>(yq, "y_scale/y_zero_point");
      with_context("b_scale/b_zero_point", [&] { return PerChannel<TB>(0, sb, zb); });
      return with_context(std::string("requantization (") + std::string(name_of(policy)) + ")", [&] {
        return std::make_unique<QLinearMatMulKernel<TA, TB>>(aq.zero_point(), zb, columns, policy, aq.scale(), sb,
                                                             yq.scale(), yq.zero_point(), act);
      });
    });
  });
}

// ---- MatMulInteger -------------------------------------------------------------------------------

template <Int8Storage TA, Int8Storage TB>
class MatMulIntegerKernel final : public OpKernel {
 public:
  void run(KernelContext& ctx) const override {
    const TensorRef& a = ctx.in(0);
    const TensorRef& b = ctx.in(1);
    quant::check_dtype(a, dtype_of_v<TA>, "input A");
    quant::check_dtype(b, dtype_of_v<TB>, "input B");
    const MatmulShapes s = MatmulShapes::of(a.shape, b.shape);
    const std::int64_t m = s.a.dim(-2), n = s.b.dim(-1);
    const std::vector<std::int32_t> za = zero_points(ctx, 2, dtype_of_v<TA>, m, "a_zero_point (per row of A)");
    const std::vector<std::int32_t> zb = zero_points(ctx, 3, dtype_of_v<TB>, n, "b_zero_point (per column of B)");
    std::int64_t bound = 0;
    for (std::int32_t x : za)
      for (std::int32_t w : zb) bound = std::max(bound, ref::worst_case_bound<TA, TB>(s.k, x, w));
    TensorRef& y = ctx.output(0, DType::i32, s.out);
    const TensorView<std::int32_t> yv(reinterpret_cast<std::int32_t*>(y.data), s.out_full);
    const auto av = view_as<TA>(a, s.a);
    const auto bv = view_as<TB>(b, s.b);
    if (za.size() == 1) return ref::matmul(av, bv, yv, ref::IntegerArith<TA>(bound, za[0], zb));
    // One zero point per row of A: each row is its own matmul (a view with a single row).
    for (std::int64_t r = 0; r < m; ++r) {
      Shape as = s.a, ys = s.out_full;
      as[as.rank() - 2] = 1;
      ys[ys.rank() - 2] = 1;
      const TensorView<const TA> ar(av.data() + r * av.strides()[static_cast<std::size_t>(as.rank() - 2)], as, av.strides());
      const TensorView<std::int32_t> yr(yv.data() + r * yv.strides()[static_cast<std::size_t>(ys.rank() - 2)], ys,
                                        yv.strides());
      ref::matmul(ar, bv, yr, ref::IntegerArith<TA>(bound, za[static_cast<std::size_t>(r)], zb));
    }
  }
  std::int64_t macs(const KernelContext& ctx) const override {
    const MatmulShapes s = MatmulShapes::of(ctx.in(0).shape, ctx.in(1).shape);
    return s.out_full.numel() * s.k;
  }

 private:
  static std::vector<std::int32_t> zero_points(const KernelContext& ctx, std::size_t i, DType data, std::int64_t count,
                                               const char* what) {
    if (!ctx.has(i)) return {0};
    const TensorRef& t = *ctx.input(i);
    check(t.dtype == data, what, " is ", t.dtype, " but its matrix is ", data);
    check(t.shape.rank() <= 1 && (t.numel() == 1 || t.numel() == count), what, " must hold 1 or ", count,
          " values, got shape ", t.shape);
    return quant::int_values(t);
  }
};

inline std::unique_ptr<OpKernel> make_matmul_integer(const NodeInfo& info) {
  const auto ta = info.has_input(2) && info.input_dtype(2) ? info.input_dtype(2) : info.input_dtype(0);
  const auto tb = info.has_input(3) && info.input_dtype(3) ? info.input_dtype(3) : info.input_dtype(1);
  check(ta && tb, "the types of A and B are not known when the session is prepared");
  return quant::visit_int8_dtype(*ta, "A", [&](auto a) -> std::unique_ptr<OpKernel> {
    return quant::visit_int8_dtype(*tb, "B", [&](auto b) -> std::unique_ptr<OpKernel> {
      return std::make_unique<MatMulIntegerKernel<decltype(a), decltype(b)>>();
    });
  });
}

}  // namespace matmul_detail

inline void register_qlinear_matmul(KernelRegistry& r) {
  r.add("", "QLinearMatMul", 10, matmul_detail::make_qlinear_matmul);
  r.add("", "MatMulInteger", 10, matmul_detail::make_matmul_integer);
}

}  // namespace qnn::ops
