// Quantized convolutions and GEMMs: ONNX QLinearConv and ConvInteger, com.microsoft QGemm.
//
//   QLinearConv(x, x_scale, x_zp, w, w_scale, w_zp, y_scale, y_zp, [B])
//       x uint8/int8 (or int16/uint16: A16W8), w int8/uint8 per tensor or per output channel, B
//       int32 with scale x_scale·w_scale; y has x's type. 1-D and 2-D, groups, pads, auto_pad,
//       strides, dilations. Runs QuantizedConv2D, made once here.
//   ConvInteger(x, w, [x_zp], [w_zp])
//       y = Σ (x − x_zp)(w − w_zp[m]) as int32 (ref::IntegerArith); zero points and weights may be
//       run-time tensors (dynamic quantization feeds x_zp at run time).
//   QGemm(A, a_scale, a_zp, B, b_scale, b_zp, [C], [y_scale], [y_zp])   (com.microsoft)
//       Y = requant(alpha · A'·B' + C), A' = Aᵀ with transA, B' likewise; b per tensor or per
//       column; C int32 of shape (), (1), (N) or (1, N). Without y_scale/y_zp the output is float:
//       fl(float(acc) · fl(fl(alpha · a_scale) · b_scale[n])) — ONNX Runtime's float QGemm.
//       The quantized output uses the ratio fl(fl(alpha · a_scale) · b_scale[n]) / y_scale, the
//       order ORT evaluates it in (quant_gemm.cc).
//
// Weights, biases and every scale and zero point of QLinearConv and QGemm are constant
// initializers: the requantization factors, packed weights and accumulator bounds are made once.
// Each node reads the policy (`qnn_requant`), fused ReLU/Clip (`qnn_activation`) and known input
// range (`qnn_input_range`) the graph passes attach.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "qnn/core/quant_params.hpp"
#include "qnn/core/tensor.hpp"
#include "qnn/graph/passes/fuse_activation.hpp"
#include "qnn/graph/passes/input_range.hpp"
#include "qnn/kernels/conv2d.hpp"
#include "qnn/kernels/gemm.hpp"
#include "qnn/kernels/geometry.hpp"
#include "qnn/kernels/ref/arith.hpp"
#include "qnn/kernels/ref/conv2d.hpp"
#include "qnn/kernels/ref/gemm.hpp"
#include "qnn/kernels/weights.hpp"
#include "qnn/runtime/kernel.hpp"
#include "qnn/runtime/ops/quant_params_io.hpp"
#include "qnn/runtime/ops/window_attrs.hpp"

namespace qnn::ops {

namespace conv_detail {

template <class T>
TensorView<const T> view_as(const TensorRef& r, const Shape& s) {
  check(r.numel() == s.numel(), "tensor of shape ", r.shape, " viewed as ", s);
  return TensorView<const T>(reinterpret_cast<const T*>(r.data), s);
}
template <class T>
TensorView<T> mut_as(const TensorRef& r, const Shape& s) {
  check(r.numel() == s.numel(), "tensor of shape ", r.shape, " viewed as ", s);
  return TensorView<T>(reinterpret_cast<T*>(r.data), s);
}

// A conv node's window: attributes read once, resolved against the weight's kernel and, for
// auto_pad SAME with a stride above 1 (whose pads depend on the input size), the declared input
// size. Runs check that their input resolves to the same pads.
struct ConvWindow {
  WindowAttrs attrs;
  int spatial = 2;
  std::int64_t groups = 1;
  Window2D prepared;

  static ConvWindow read(const NodeInfo& info, std::size_t x_index, const Shape& w4, int spatial) {
    ConvWindow cw;
    cw.spatial = spatial;
    cw.attrs = WindowAttrs::read(info.attrs(), spatial, false);
    cw.groups = info.attrs().get_int("group", 1);
    const std::array<std::int64_t, 2> k{w4[2], w4[3]};
    if (cw.attrs.kernel[0] != 0)
      check(cw.attrs.kernel == k, "kernel_shape does not match the weight's spatial size ", w4);
    std::int64_t h = 1, w = 1;
    const bool same = cw.attrs.auto_pad == AutoPad::same_upper || cw.attrs.auto_pad == AutoPad::same_lower;
    if (same && (cw.attrs.strides[0] > 1 || cw.attrs.strides[1] > 1)) {
      const auto dims = info.input_dims(x_index);
      check(dims && static_cast<int>(dims->size()) == spatial + 2 && dims->back() > 0 &&
                (spatial == 1 || (*dims)[2] > 0),
            "auto_pad SAME with a stride above 1 needs the input's spatial size when the session is prepared");
      h = spatial == 2 ? (*dims)[2] : 1;
      w = dims->back();
    }
    cw.prepared = cw.attrs.resolve(h, w, k);
    return cw;
  }

  void check_input(const Shape& x4) const {
    const Window2D now = attrs.resolve(x4[2], x4[3], prepared.kernel);
    check(now.pads == prepared.pads, "input ", x4, " needs other auto_pad padding than the size the node was ",
          "prepared for");
  }
};

// The 4-D (M, C/groups, KH, KW) shape of a 3-D or 4-D weight, and the number of spatial axes.
inline std::pair<Shape, int> weight_4d(const Shape& w) {
  check(w.rank() == 3 || w.rank() == 4, "the weight must be 3-D (1-D conv) or 4-D (2-D conv), got ", w,
        "; 3-D convolutions are not supported");
  return {w.rank() == 4 ? w : Shape{w[0], w[1], 1, w[2]}, w.rank() - 2};
}

template <QuantStorage TIn, Int8Storage TW>
class QLinearConvKernel final : public OpKernel {
 public:
  QLinearConvKernel(ConvWindow window, const PerTensor<TIn>& xq, QView<const TW, PerChannel<TW>> w,
                    std::span<const std::int32_t> bias, const PerTensor<TIn>& yq, RequantPolicy policy,
                    const ActivationClamp& act, bool reference, std::optional<FusedMaxPool> pool,
                    std::optional<IntRange> x_range)
      : window_(std::move(window)),
        conv_(xq, w, bias, yq, ConvOptions{window_.prepared, window_.groups, policy, act, reference, x_range}),
        pool_(std::move(pool)) {}

  void run(KernelContext& ctx) const override {
    const TensorRef& x = ctx.in(0);
    quant::check_dtype(x, dtype_of_v<TIn>, "input x");
    const Shape x4 = as_4d(x.shape, window_.spatial);
    window_.check_input(x4);
    const ConvGeometry g = conv_.geometry(x4);
    std::optional<PoolGeometry> pg;
    if (pool_) pg = pool_->over(g.output_shape(), window_.spatial);
    const Shape y4 = pg ? pg->output_shape() : g.output_shape();
    TensorRef& y = ctx.output(0, dtype_of_v<TIn>, from_4d(y4, window_.spatial));
    conv_.run(view_as<TIn>(x, x4), mut_as<TIn>(y, y4), ctx.exec(), pg ? &*pg : nullptr);
  }
  std::int64_t macs(const KernelContext& ctx) const override {
    return conv_.geometry(as_4d(ctx.in(0).shape, window_.spatial)).macs();
  }

 private:
  ConvWindow window_;
  QuantizedConv2D<TIn, TW, TIn> conv_;
  std::optional<FusedMaxPool> pool_;  // a MaxPool fused after the conv (graph/passes/fuse_pool.hpp)
};

inline std::unique_ptr<OpKernel> make_qlinear_conv(const NodeInfo& info) {
  const Tensor& w = info.require_constant(3, "w");
  const auto w4s = weight_4d(w.shape());
  const Shape w4 = w4s.first;
  const int spatial = w4s.second;
  const ConvWindow window = ConvWindow::read(info, 0, w4, spatial);
  const quant::ScaleZp xq = quant::constant_per_tensor(info, 1, 2, 0, "x_scale/x_zero_point");
  const quant::ScaleZp yq = quant::constant_per_tensor(info, 6, 7, 0, "y_scale/y_zero_point");
  const quant::ScaleZp wq =
      quant::expand_channels(quant::constant_scale_zp(info, 4, 5, 3, "w_scale/w_zero_point"), w4[0], "w_scale/w_zero_point");
  check(wq.dtype == w.dtype(), "w is ", w.dtype(), " but w_zero_point is ", wq.dtype);
  check(yq.dtype == xq.dtype, "y (", yq.dtype, ") must have the type of x (", xq.dtype, ")");
  if (const auto d = info.input_dtype(0)) check(*d == xq.dtype, "x is ", *d, " but x_zero_point is ", xq.dtype);
  std::vector<std::int32_t> bias;
  if (info.has_input(8)) {
    const Tensor& b = info.require_constant(8, "B");
    check(b.dtype() == DType::i32 && b.shape().rank() == 1 && b.numel() == w4[0], "B must be int32 of shape [",
          w4[0], "], got ", b.dtype(), " ", b.shape());
    const auto s = b.span<std::int32_t>();
    bias.assign(s.begin(), s.end());
  }
  const RequantPolicy policy = quant::read_policy(info);
  const ActivationClamp act = passes::read_fused_activation(info.attrs());
  const std::optional<FusedMaxPool> pool = FusedMaxPool::read(info.attrs());
  const std::optional<IntRange> x_range = passes::read_input_range(info.attrs());
  return quant::visit_quant_dtype(xq.dtype, "x", [&](auto tin) -> std::unique_ptr<OpKernel> {
    using TIn = decltype(tin);
    return quant::visit_int8_dtype(w.dtype(), "w", [&](auto tw) -> std::unique_ptr<OpKernel> {
      using TW = decltype(tw);
      const QView<const TW, PerChannel<TW>> wv{TensorView<const TW>(w.view<TW>().data(), w4),
                                               with_context("w_scale/w_zero_point", [&] {
                                                 return PerChannel<TW>(0, wq.scales, wq.zero_points);
                                               })};
      return std::make_unique<QLinearConvKernel<TIn, TW>>(window, quant::per_tensor<TIn>(xq, "x_scale/x_zero_point"),
                                                          wv, bias, quant::per_tensor<TIn>(yq, "y_scale/y_zero_point"),
                                                          policy, act, info.options().reference_kernels, pool,
                                                          x_range);
    });
  });
}

// ---- ConvInteger -------------------------------------------------------------------------------

// Zero points of ConvInteger / MatMulInteger: x's one value (default 0), w's one value or one per
// output channel.
inline std::int32_t scalar_zp(const TensorRef* t, DType data, const char* what) {
  if (!t) return 0;
  check(t->dtype == data, what, " is ", t->dtype, " but its tensor is ", data);
  check(t->numel() == 1, what, " must hold one value, got shape ", t->shape);
  return quant::int_values(*t)[0];
}
inline std::vector<std::int32_t> channel_zps(const TensorRef* t, DType data, std::int64_t channels, const char* what) {
  if (!t) return {0};
  check(t->dtype == data, what, " is ", t->dtype, " but its tensor is ", data);
  check(t->shape.rank() <= 1 && (t->numel() == 1 || t->numel() == channels), what, " must hold 1 or ", channels,
        " values, got shape ", t->shape);
  return quant::int_values(*t);
}

template <Int8Storage TX, Int8Storage TW>
class ConvIntegerKernel final : public OpKernel {
 public:
  ConvIntegerKernel(ConvWindow window, std::optional<ref::IntegerArith<TX>> arith)
      : window_(std::move(window)), arith_(std::move(arith)) {}

  void run(KernelContext& ctx) const override {
    const TensorRef& x = ctx.in(0);
    const TensorRef& w = ctx.in(1);
    quant::check_dtype(x, dtype_of_v<TX>, "input x");
    quant::check_dtype(w, dtype_of_v<TW>, "input w");
    const auto w4s = weight_4d(w.shape);
    const Shape w4 = w4s.first;
    check(w4s.second == window_.spatial, "w of shape ", w.shape, " differs from the prepared rank");
    const Shape x4 = as_4d(x.shape, window_.spatial);
    window_.check_input(x4);
    const ConvGeometry g = make_conv_geometry(x4, w4, window_.prepared, window_.groups);
    TensorRef& y = ctx.output(0, DType::i32, from_4d(g.output_shape(), window_.spatial));
    const auto xv = view_as<TX>(x, x4);
    const auto wv = view_as<TW>(w, w4);
    const auto yv = mut_as<std::int32_t>(y, g.output_shape());
    if (arith_) return ref::conv2d(g, xv, wv, yv, *arith_);
    ref::conv2d(g, xv, wv, yv, make_arith(ctx, w4[0], wv));
  }

  // Zero points and bound for weights and zero points given now.
  static ref::IntegerArith<TX> make_arith(const KernelContext& ctx, std::int64_t m, TensorView<const TW> wv) {
    const std::int32_t xz = scalar_zp(ctx.has(2) ? ctx.input(2) : nullptr, dtype_of_v<TX>, "x_zero_point");
    const auto wz = channel_zps(ctx.has(3) ? ctx.input(3) : nullptr, dtype_of_v<TW>, m, "w_zero_point");
    return ref::IntegerArith<TX>(ref::accumulator_bound<TX, TW>(wv, 0, xz, wz), xz, wz);
  }

 private:
  ConvWindow window_;
  std::optional<ref::IntegerArith<TX>> arith_;  // when weights and zero points are constant
};

inline std::unique_ptr<OpKernel> make_conv_integer(const NodeInfo& info) {
  const auto wdims = info.input_dims(1);
  check(wdims.has_value(), "the shape of w is not known when the session is prepared");
  Shape wshape;
  for (std::int64_t d : *wdims) {
    check(d >= 0, "the shape of w is not known when the session is prepared");
    wshape.push_back(d);
  }
  const auto w4s = weight_4d(wshape);
  const Shape w4 = w4s.first;
  const int spatial = w4s.second;
  const ConvWindow window = ConvWindow::read(info, 0, w4, spatial);
  const auto xt = info.has_input(2) && info.input_dtype(2) ? info.input_dtype(2) : info.input_dtype(0);
  const auto wt = info.has_input(3) && info.input_dtype(3) ? info.input_dtype(3) : info.input_dtype(1);
  check(xt && wt, "the types of x and w are not known when the session is prepared");
  const bool constant = info.constant_input(1) && (!info.has_input(2) || info.constant_input(2)) &&
                        (!info.has_input(3) || info.constant_input(3));
  return quant::visit_int8_dtype(*xt, "x", [&](auto tx) -> std::unique_ptr<OpKernel> {
    using TX = decltype(tx);
    return quant::visit_int8_dtype(*wt, "w", [&](auto tw) -> std::unique_ptr<OpKernel> {
      using TW = decltype(tw);
      std::optional<ref::IntegerArith<TX>> arith;
      if (constant) {
        const Tensor& w = *info.constant_input(1);
        check(w.dtype() == dtype_of_v<TW>, "w is ", w.dtype(), " but w_zero_point is ", dtype_of_v<TW>);
        const TensorRef xz = info.has_input(2) ? TensorRef::of(*info.constant_input(2)) : TensorRef{};
        const TensorRef wz = info.has_input(3) ? TensorRef::of(*info.constant_input(3)) : TensorRef{};
        const std::int32_t x0 = scalar_zp(info.has_input(2) ? &xz : nullptr, dtype_of_v<TX>, "x_zero_point");
        const auto w0 = channel_zps(info.has_input(3) ? &wz : nullptr, dtype_of_v<TW>, w4[0], "w_zero_point");
        const TensorView<const TW> wv(w.view<TW>().data(), w4);
        arith.emplace(ref::accumulator_bound<TX, TW>(wv, 0, x0, w0), x0, w0);
      }
      return std::make_unique<ConvIntegerKernel<TX, TW>>(window, std::move(arith));
    });
  });
}

}  // namespace conv_detail

// ---- QGemm ---------------------------------------------------------------------------------------

namespace gemm_detail {

struct QGemmParts {
  bool trans_a = false, trans_b = false;
  float alpha = 1.0f;
  std::int64_t n = 0;
  std::vector<std::int32_t> bias;  // empty or N values
};

template <QuantStorage TA, Int8Storage TB>
class QGemmKernel final : public OpKernel {
 public:
  // Quantized output.
  QGemmKernel(const QGemmParts& parts, QuantizedGemm<TA, TB, TA> gemm) : parts_(parts), body_(std::move(gemm)) {}
  // Float output.
  QGemmKernel(const QGemmParts& parts, Tensor weights, ref::DequantizeArith<TA> arith)
      : parts_(parts), body_(FloatOut{std::move(weights), std::move(arith)}) {}

  void run(KernelContext& ctx) const override {
    const TensorRef& a = ctx.in(0);
    quant::check_dtype(a, dtype_of_v<TA>, "input A");
    check(a.shape.rank() == 2, "A must be 2-D, got ", a.shape);
    const std::int64_t m = a.shape[parts_.trans_a ? 1 : 0];
    const Shape out{m, parts_.n};
    const auto av = a.view<TA>();
    if (const auto* q = std::get_if<QuantizedGemm<TA, TB, TA>>(&body_)) {
      TensorRef& y = ctx.output(0, dtype_of_v<TA>, out);
      q->run(av, y.mut<TA>(), ctx.exec());
    } else {
      const auto& f = std::get<FloatOut>(body_);
      TensorRef& y = ctx.output(0, DType::f32, out);
      ref::gemm(qnn::detail::transposed_if(av, parts_.trans_a),
                qnn::detail::transposed_if(f.weights.template view<TB>(), parts_.trans_b), y.mut<float>(), f.arith);
    }
  }
  std::int64_t macs(const KernelContext& ctx) const override {
    const Shape& s = ctx.in(0).shape;
    return s.rank() == 2 ? s[0] * s[1] * parts_.n : 0;
  }

 private:
  struct FloatOut {
    Tensor weights;
    ref::DequantizeArith<TA> arith;
  };
  QGemmParts parts_;
  std::variant<QuantizedGemm<TA, TB, TA>, FloatOut> body_;
};

// QGemm's bias C (input 6) as N int32 values at the accumulator scale; empty without one.
inline std::vector<std::int32_t> qgemm_bias(const NodeInfo& info, std::int64_t n) {
  if (!info.has_input(6)) return {};
  const Tensor& c = info.require_constant(6, "C");
  check(c.dtype() == DType::i32, "C must be int32, got ", c.dtype());
  const Shape& cs = c.shape();
  const bool scalar = c.numel() == 1 && cs.rank() <= 2;
  const bool row = (cs.rank() == 1 && cs[0] == n) || (cs.rank() == 2 && cs[0] == 1 && cs[1] == n);
  check(scalar || row, "C of shape ", cs, " is not supported: qnn takes (), (1), (N) or (1, N) biases, N = ", n);
  const auto s = c.span<std::int32_t>();
  return scalar ? std::vector<std::int32_t>(static_cast<std::size_t>(n), s[0])
                : std::vector<std::int32_t>(s.begin(), s.end());
}

inline std::unique_ptr<OpKernel> make_qgemm(const NodeInfo& info) {
  const Attributes& at = info.attrs();
  QGemmParts parts;
  parts.trans_a = at.get_int("transA", 0) != 0;
  parts.trans_b = at.get_int("transB", 0) != 0;
  parts.alpha = at.get_float("alpha", 1.0f);
  check(parts.alpha > 0.0f && std::isfinite(parts.alpha), "alpha ", parts.alpha,
        " is not supported (it scales the accumulator's scale, which must stay positive)");
  const Tensor& b = info.require_constant(3, "B");
  check(b.shape().rank() == 2, "B must be 2-D, got ", b.shape());
  const int n_axis = parts.trans_b ? 0 : 1;
  parts.n = b.shape()[n_axis];
  const quant::ScaleZp aq = quant::constant_per_tensor(info, 1, 2, 0, "a_scale/a_zero_point");
  const quant::ScaleZp bq =
      quant::expand_channels(quant::constant_scale_zp(info, 4, 5, 3, "b_scale/b_zero_point"), parts.n, "b_scale/b_zero_point");
  check(bq.dtype == b.dtype(), "B is ", b.dtype(), " but b_zero_point is ", bq.dtype);
  if (const auto d = info.input_dtype(0)) check(*d == aq.dtype, "A is ", *d, " but a_zero_point is ", aq.dtype);
  parts.bias = qgemm_bias(info, parts.n);
  const bool quantized_out = info.has_input(7) || info.has_input(8);
  check(!quantized_out || (info.has_input(7) && info.has_input(8)),
        "y_scale and y_zero_point must be given together (without both the output is float)");
  const RequantPolicy policy = quant::read_policy(info);
  const ActivationClamp act = passes::read_fused_activation(info.attrs());
  // ORT's accumulator scale: fl(alpha · a_scale), then · b_scale[n].
  const float a_scale = parts.alpha * aq.scale();
  return quant::visit_quant_dtype(aq.dtype, "A", [&](auto ta) -> std::unique_ptr<OpKernel> {
    using TA = decltype(ta);
    return quant::visit_int8_dtype(b.dtype(), "B", [&](auto tb) -> std::unique_ptr<OpKernel> {
      using TB = decltype(tb);
      const PerTensor<TA> xq = with_context("a_scale/a_zero_point", [&] { return PerTensor<TA>(a_scale, aq.zero_point()); });
      if (quantized_out) {
        const quant::ScaleZp yq = quant::constant_per_tensor(info, 7, 8, 0, "y_scale/y_zero_point");
        check(yq.dtype == aq.dtype, "Y (", yq.dtype, ") must have the type of A (", aq.dtype, ")");
        const QView<const TB, PerChannel<TB>> bv{b.view<TB>(), with_context("b_scale/b_zero_point", [&] {
                                                   return PerChannel<TB>(n_axis, bq.scales, bq.zero_points);
                                                 })};
        return std::make_unique<QGemmKernel<TA, TB>>(
            parts, QuantizedGemm<TA, TB, TA>(xq, bv, parts.bias, quant::per_tensor<TA>(yq, "y_scale/y_zero_point"),
                                             GemmOptions{parts.trans_a, parts.trans_b, policy, act,
                                                         info.options().reference_kernels,
                                                         passes::read_input_range(info.attrs())}));
      }
      check(act.kind == FusedActivation::none, "a fused activation needs a quantized output (y_scale, y_zero_point)");
      std::vector<float> scales;
      for (float s : bq.scales) scales.push_back(a_scale * s);
      using Acc = ref::accumulator_t<TA>;
      const std::int64_t bound = ref::accumulator_bound<TA, TB>(b.view<TB>(), n_axis, aq.zero_point(), bq.zero_points);
      ref::DequantizeArith<TA> arith(bound, aq.zero_point(), bq.zero_points,
                                     std::vector<Acc>(parts.bias.begin(), parts.bias.end()), std::move(scales));
      return std::make_unique<QGemmKernel<TA, TB>>(parts, dense_copy(b.view<TB>()), std::move(arith));
    });
  });
}

}  // namespace gemm_detail

inline void register_qlinear_conv_gemm(KernelRegistry& r) {
  r.add("", "QLinearConv", 10, conv_detail::make_qlinear_conv);
  r.add("", "ConvInteger", 10, conv_detail::make_conv_integer);
  r.add("com.microsoft", "QGemm", 1, gemm_detail::make_qgemm);
}

}  // namespace qnn::ops
