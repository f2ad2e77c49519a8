// The com.microsoft quantized operators ONNX Runtime's quantizer and QDQ fusion produce around the
// convolutions, and qnn's own table activation:
//
//   QLinearAdd, QLinearMul (A, A_scale, A_zp, B, B_scale, B_zp, C_scale, C_zp)  NumPy broadcasting
//   QLinearConcat (Y_scale, Y_zp, X0, X0_scale, X0_zp, ...)                      attribute axis
//   QLinearAveragePool (X, x_scale, x_zp, y_scale, y_zp)    kernel_shape, strides, pads, auto_pad,
//                                                           ceil_mode, count_include_pad (1-D, 2-D)
//   QLinearGlobalAveragePool (X, x_scale, x_zp, y_scale, y_zp)                   any rank ≥ 3
//   QLinearSigmoid, QLinearLeakyRelu (X, X_scale, X_zp, Y_scale, Y_zp)           alpha (LeakyRelu)
//   qnn.QLinearUnary (x, x_scale, x_zp, y_scale, y_zp)   activation = relu | clip | leaky_relu |
//       sigmoid | hard_sigmoid | hard_swish | tanh, with alpha, beta, clip_min, clip_max: what the
//       QDQ lowering emits for DQ → activation → Q where ONNX Runtime has no QLinear operator.
//
// Zero points are optional (0 of the data type). Scales and zero points are constant initializers;
// the integer factors (EltwiseParams, AvgPoolRequant) and the 256-entry tables of 8-bit
// activations are made once. Every node reads `qnn_requant` (quant_params_io.hpp); under
// onnx-float each op is ONNX Runtime's x86 arithmetic (numerics.md §5), including its sigmoid.
// The pools' channels_last = 1 (ORT's NHWC variant) is refused.
#pragma once

#include <array>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "qnn/core/quant_params.hpp"
#include "qnn/core/tensor.hpp"
#include "qnn/kernels/geometry.hpp"
#include "qnn/kernels/ref/activation.hpp"
#include "qnn/kernels/ref/broadcast.hpp"
#include "qnn/kernels/ref/concat.hpp"
#include "qnn/kernels/ref/eltwise.hpp"
#include "qnn/kernels/ref/pool.hpp"
#include "qnn/numerics/requantize.hpp"
#include "qnn/runtime/kernel.hpp"
#include "qnn/runtime/ops/quant_params_io.hpp"
#include "qnn/runtime/ops/window_attrs.hpp"

namespace qnn::ops {

namespace eltwise_detail {

// ---- QLinearAdd / QLinearMul -------------------------------------------------------------------

template <QuantStorage T>
class QLinearBinaryKernel final : public OpKernel {
 public:
  using Params = std::variant<ref::EltwiseParams<OnnxFloat>, ref::EltwiseParams<TfliteDoubleRound>,
                              ref::EltwiseParams<TfliteSingleRound>, ref::EltwiseParams<NpuPow2>>;
  explicit QLinearBinaryKernel(Params p) : params_(std::move(p)) {}

  void run(KernelContext& ctx) const override {
    const TensorRef& a = ctx.in(0);
    const TensorRef& b = ctx.in(3);
    quant::check_dtype(a, dtype_of_v<T>, "input A");
    quant::check_dtype(b, dtype_of_v<T>, "input B");
    TensorRef& y = ctx.output(0, dtype_of_v<T>, ref::broadcast_shape(a.shape, b.shape));
    std::visit([&](const auto& p) { ref::eltwise(a.view<T>(), b.view<T>(), y.mut<T>(), p); }, params_);
  }

 private:
  Params params_;
};

inline std::unique_ptr<OpKernel> make_qlinear_binary(const NodeInfo& info, ref::EltwiseOp op) {
  const quant::ScaleZp aq = quant::constant_per_tensor(info, 1, 2, 0, "A_scale/A_zero_point");
  const quant::ScaleZp bq = quant::constant_per_tensor(info, 4, 5, 3, "B_scale/B_zero_point");
  const quant::ScaleZp cq = quant::constant_per_tensor(info, 6, 7, 0, "C_scale/C_zero_point");
  check(aq.dtype == bq.dtype && aq.dtype == cq.dtype, "A, B and C must share one type, got ", aq.dtype, ", ",
        bq.dtype, ", ", cq.dtype);
  const RequantPolicy policy = quant::read_policy(info);
  return quant::visit_quant_dtype(aq.dtype, "A", [&](auto t) -> std::unique_ptr<OpKernel> {
    using T = decltype(t);
    const ref::EltwiseQuant q{aq.scale(), bq.scale(), cq.scale(), aq.zero_point(), bq.zero_point(), cq.zero_point(),
                              storage_range<T>()};
    return with_context(std::string("requantization (") + std::string(name_of(policy)) + ")", [&] {
      return visit_policy(policy, [&](auto p) -> std::unique_ptr<OpKernel> {
        using P = decltype(p);
        return std::make_unique<QLinearBinaryKernel<T>>(ref::EltwiseParams<P>::template make<T>(op, q));
      });
    });
  });
}

// ---- QLinearConcat -----------------------------------------------------------------------------

template <QuantStorage T>
class QLinearConcatKernel final : public OpKernel {
 public:
  QLinearConcatKernel(std::int64_t axis, std::vector<ref::ConcatInputQuant> xq, float sy, std::int32_t zy,
                      RequantPolicy policy)
      : axis_(axis), xq_(std::move(xq)), sy_(sy), zy_(zy), policy_(policy) {}

  void run(KernelContext& ctx) const override {
    std::vector<TensorView<const T>> xs;
    std::vector<Shape> shapes;
    for (std::size_t i = 0; i < xq_.size(); ++i) {
      const TensorRef& x = ctx.in(2 + 3 * i);
      quant::check_dtype(x, dtype_of_v<T>, "a concatenated input");
      xs.push_back(x.view<T>());
      shapes.push_back(x.shape);
    }
    check(!shapes.empty() && shapes[0].rank() > 0, "QLinearConcat needs inputs of rank >= 1");
    const int axis = shapes[0].normalize_axis(static_cast<int>(axis_));
    TensorRef& y = ctx.output(0, dtype_of_v<T>, ref::concat_output_shape(shapes, axis));
    visit_policy(policy_, [&](auto p) {
      ref::concat_quantized<T, decltype(p)>(xs, xq_, axis, y.mut<T>(), sy_, zy_);
    });
  }

 private:
  std::int64_t axis_;
  std::vector<ref::ConcatInputQuant> xq_;
  float sy_;
  std::int32_t zy_;
  RequantPolicy policy_;
};

inline std::unique_ptr<OpKernel> make_qlinear_concat(const NodeInfo& info) {
  check(info.num_inputs() >= 5 && (info.num_inputs() - 2) % 3 == 0,
        "QLinearConcat takes Y_scale, Y_zero_point, then (X, X_scale, X_zero_point) triples; got ",
        info.num_inputs(), " inputs");
  const std::int64_t axis = info.attrs().get_int("axis");
  const quant::ScaleZp yq = quant::constant_per_tensor(info, 0, 1, 2, "Y_scale/Y_zero_point");
  std::vector<ref::ConcatInputQuant> xq;
  for (std::size_t i = 2; i < info.num_inputs(); i += 3) {
    // (Appended piecewise: GCC 12 misreports `"X" + std::to_string(n)` under -Werror=restrict.)
    std::string what("X");
    what += std::to_string((i - 2) / 3);
    what += "_scale/zero_point";
    const quant::ScaleZp q = quant::constant_per_tensor(info, i + 1, i + 2, i, what.c_str());
    check(q.dtype == yq.dtype, what, ": type ", q.dtype, " differs from Y's ", yq.dtype);
    xq.push_back({q.scale(), q.zero_point()});
  }
  const RequantPolicy policy = quant::read_policy(info);
  return quant::visit_quant_dtype(yq.dtype, "Y", [&](auto t) -> std::unique_ptr<OpKernel> {
    using T = decltype(t);
    (void)quant::per_tensor<T>(yq, "Y_scale/Y_zero_point");
    for (const auto& q : xq) {
      quant::ScaleZp one;
      one.dtype = yq.dtype;
      one.scales = {q.scale};
      one.zero_points = {q.zero_point};
      (void)quant::per_tensor<T>(one, "X_scale/X_zero_point");
      // npu-pow2 and the TFLite policies need factors they can represent: make one now to check.
      with_context(std::string("requantization (") + std::string(name_of(policy)) + ")", [&] {
        visit_policy(policy, [&](auto p) { (void)make_rescale_stage<decltype(p), T>(q.scale, yq.scale(), yq.zero_point()); });
      });
    }
    return std::make_unique<QLinearConcatKernel<T>>(axis, std::move(xq), yq.scale(), yq.zero_point(), policy);
  });
}

// ---- pools ---------------------------------------------------------------------------------------

template <QuantStorage T>
using PoolRequantVariant = std::variant<ref::AvgPoolRequant<OnnxFloat>, ref::AvgPoolRequant<TfliteDoubleRound>,
                                        ref::AvgPoolRequant<TfliteSingleRound>, ref::AvgPoolRequant<NpuPow2>>;

template <QuantStorage T>
PoolRequantVariant<T> make_pool_requant(RequantPolicy policy, const std::array<std::int64_t, 2>& kernel,
                                        const quant::ScaleZp& xq, const quant::ScaleZp& yq) {
  PoolGeometry g;
  g.win.kernel = kernel;
  return with_context(std::string("requantization (") + std::string(name_of(policy)) + ")", [&] {
    return visit_policy(policy, [&](auto p) -> PoolRequantVariant<T> {
      return ref::AvgPoolRequant<decltype(p)>::template make<T>(g, xq.scale(), xq.zero_point(), yq.scale(),
                                                               yq.zero_point());
    });
  });
}

template <QuantStorage T>
class QLinearAveragePoolKernel final : public OpKernel {
 public:
  QLinearAveragePoolKernel(WindowAttrs attrs, bool count_include_pad, PoolRequantVariant<T> rq)
      : attrs_(attrs), count_include_pad_(count_include_pad), rq_(std::move(rq)) {}

  void run(KernelContext& ctx) const override {
    const TensorRef& x = ctx.in(0);
    quant::check_dtype(x, dtype_of_v<T>, "input X");
    const Shape x4 = as_4d(x.shape, attrs_.spatial);
    const PoolGeometry g =
        make_pool_geometry(x4, attrs_.resolve(x4[2], x4[3]), attrs_.ceil_mode, count_include_pad_);
    TensorRef& y = ctx.output(0, dtype_of_v<T>, from_4d(g.output_shape(), attrs_.spatial));
    const TensorView<const T> xv(reinterpret_cast<const T*>(x.data), x4);
    const TensorView<T> yv(reinterpret_cast<T*>(y.data), g.output_shape());
    std::visit([&](const auto& rq) { ref::avg_pool(g, xv, yv, rq); }, rq_);
  }

 private:
  WindowAttrs attrs_;
  bool count_include_pad_;
  PoolRequantVariant<T> rq_;
};

inline std::unique_ptr<OpKernel> make_qlinear_average_pool(const NodeInfo& info) {
  const Attributes& at = info.attrs();
  check(at.get_int("channels_last", 0) == 0, "channels_last = 1 (NHWC) is not supported");
  const auto dims = info.input_dims(0);
  const int spatial = dims ? static_cast<int>(dims->size()) - 2 : 0;
  const WindowAttrs attrs = WindowAttrs::read(at, spatial, true);
  check(attrs.dilations[0] == 1 && attrs.dilations[1] == 1, "dilations are not supported");
  const bool include_pad = at.get_int("count_include_pad", 0) != 0;
  const quant::ScaleZp xq = quant::constant_per_tensor(info, 1, 2, 0, "x_scale/x_zero_point");
  const quant::ScaleZp yq = quant::constant_per_tensor(info, 3, 4, 0, "y_scale/y_zero_point");
  check(xq.dtype == yq.dtype, "X (", xq.dtype, ") and Y (", yq.dtype, ") must share one type");
  const RequantPolicy policy = quant::read_policy(info);
  return quant::visit_quant_dtype(xq.dtype, "X", [&](auto t) -> std::unique_ptr<OpKernel> {
    using T = decltype(t);
    return std::make_unique<QLinearAveragePoolKernel<T>>(attrs, include_pad,
                                                         make_pool_requant<T>(policy, attrs.kernel, xq, yq));
  });
}

// Global pooling over every axis after the channels: computed as a 1 × S window over the input
// viewed as N × C × 1 × S.
template <QuantStorage T>
class QLinearGlobalAveragePoolKernel final : public OpKernel {
 public:
  QLinearGlobalAveragePoolKernel(RequantPolicy policy, quant::ScaleZp xq, quant::ScaleZp yq, std::int64_t prepared_size)
      : policy_(policy), xq_(std::move(xq)), yq_(std::move(yq)), size_(prepared_size) {
    if (size_ > 0) rq_ = make_pool_requant<T>(policy_, {1, size_}, xq_, yq_);
  }

  void run(KernelContext& ctx) const override {
    const TensorRef& x = ctx.in(0);
    quant::check_dtype(x, dtype_of_v<T>, "input X");
    check(x.shape.rank() >= 3, "QLinearGlobalAveragePool input must have rank >= 3 (N, C, spatial...), got ",
          x.shape);
    std::int64_t s = 1;
    Shape out;
    out.push_back(x.shape[0]);
    out.push_back(x.shape[1]);
    for (int i = 2; i < x.shape.rank(); ++i) {
      s *= x.shape[i];
      out.push_back(1);
    }
    const Shape x4{x.shape[0], x.shape[1], 1, s};
    const PoolGeometry g = make_global_pool_geometry(x4);
    TensorRef& y = ctx.output(0, dtype_of_v<T>, out);
    const TensorView<const T> xv(reinterpret_cast<const T*>(x.data), x4);
    const TensorView<T> yv(reinterpret_cast<T*>(y.data), g.output_shape());
    // The factors were made for the declared image size; another size (dynamic dims) makes them now.
    const bool prepared = rq_.has_value() && s == size_;
    const PoolRequantVariant<T> fresh =
        prepared ? PoolRequantVariant<T>{} : make_pool_requant<T>(policy_, {1, s}, xq_, yq_);
    std::visit([&](const auto& rq) { ref::avg_pool(g, xv, yv, rq); }, prepared ? *rq_ : fresh);
  }

 private:
  RequantPolicy policy_;
  quant::ScaleZp xq_, yq_;
  std::int64_t size_;
  std::optional<PoolRequantVariant<T>> rq_;
};

inline std::unique_ptr<OpKernel> make_qlinear_global_average_pool(const NodeInfo& info) {
  check(info.attrs().get_int("channels_last", 0) == 0, "channels_last = 1 (NHWC) is not supported");
  const quant::ScaleZp xq = quant::constant_per_tensor(info, 1, 2, 0, "x_scale/x_zero_point");
  const quant::ScaleZp yq = quant::constant_per_tensor(info, 3, 4, 0, "y_scale/y_zero_point");
  check(xq.dtype == yq.dtype, "X (", xq.dtype, ") and Y (", yq.dtype, ") must share one type");
  std::int64_t size = 0;
  if (const auto dims = info.input_dims(0); dims && dims->size() >= 3) {
    size = 1;
    for (std::size_t i = 2; i < dims->size(); ++i) size = (*dims)[i] > 0 && size > 0 ? size * (*dims)[i] : 0;
  }
  const RequantPolicy policy = quant::read_policy(info);
  return quant::visit_quant_dtype(xq.dtype, "X", [&](auto t) -> std::unique_ptr<OpKernel> {
    using T = decltype(t);
    (void)quant::per_tensor<T>(xq, "x_scale/x_zero_point");
    (void)quant::per_tensor<T>(yq, "y_scale/y_zero_point");
    (void)make_pool_requant<T>(policy, {1, 1}, xq, yq);  // validates the policy's factors now
    return std::make_unique<QLinearGlobalAveragePoolKernel<T>>(policy, xq, yq, size);
  });
}

// ---- table activations ---------------------------------------------------------------------------

struct NoTable {};
template <class TIn, class TOut, bool = Int8Storage<TIn> && Int8Storage<TOut>>
struct TableFor {
  using type = NoTable;
};
template <class TIn, class TOut>
struct TableFor<TIn, TOut, true> {
  using type = ref::ActivationTable<TIn, TOut>;
};

// y = Q_out(f(DQ_in(x))); 8-bit → 8-bit through the 256-entry table made here, other type pairs
// element by element (ref::activation_quantized).
template <QuantStorage TIn, QuantStorage TOut>
class QLinearActivationKernel final : public OpKernel {
 public:
  QLinearActivationKernel(const ref::Activation& f, const quant::ScaleZp& xq, const quant::ScaleZp& yq)
      : f_(f), sx_(xq.scale()), zx_(xq.zero_point()), sy_(yq.scale()), zy_(yq.zero_point()) {
    qnn::detail::check_zero_point<TIn>(zx_);
    qnn::detail::check_zero_point<TOut>(zy_);
    if constexpr (Int8Storage<TIn> && Int8Storage<TOut>) table_.emplace(f_, sx_, zx_, sy_, zy_);
  }

  void run(KernelContext& ctx) const override {
    const TensorRef& x = ctx.in(0);
    quant::check_dtype(x, dtype_of_v<TIn>, "input X");
    TensorRef& y = ctx.output(0, dtype_of_v<TOut>, x.shape);
    if constexpr (Int8Storage<TIn> && Int8Storage<TOut>)
      ref::unary(x.view<TIn>(), y.mut<TOut>(), *table_);
    else
      ref::activation_quantized(x.view<TIn>(), y.mut<TOut>(), f_, sx_, zx_, sy_, zy_);
  }

 private:
  ref::Activation f_;
  float sx_;
  std::int32_t zx_;
  float sy_;
  std::int32_t zy_;
  std::optional<typename TableFor<TIn, TOut>::type> table_;
};

// The sigmoid a policy means: ONNX Runtime's (onnx-float), else the ONNX formula 1/(1 + e^−x).
inline ref::Activation sigmoid_for(RequantPolicy policy) {
  return policy == RequantPolicy::onnx_float ? ref::Activation::sigmoid_ort() : ref::Activation::sigmoid();
}

inline std::unique_ptr<OpKernel> make_qlinear_activation(const NodeInfo& info, const ref::Activation& f,
                                                         bool same_type) {
  const quant::ScaleZp xq = quant::constant_per_tensor(info, 1, 2, 0, "X_scale/X_zero_point");
  const quant::ScaleZp yq = quant::constant_per_tensor(info, 3, 4, 0, "Y_scale/Y_zero_point");
  if (const auto d = info.input_dtype(0)) check(*d == xq.dtype, "X is ", *d, " but X_zero_point is ", xq.dtype);
  if (same_type) check(xq.dtype == yq.dtype, "X (", xq.dtype, ") and Y (", yq.dtype, ") must share one type");
  return quant::visit_quant_dtype(xq.dtype, "X", [&](auto ti) -> std::unique_ptr<OpKernel> {
    return quant::visit_quant_dtype(yq.dtype, "Y", [&](auto to) -> std::unique_ptr<OpKernel> {
      using TIn = decltype(ti);
      using TOut = decltype(to);
      (void)quant::per_tensor<TIn>(xq, "X_scale/X_zero_point");
      (void)quant::per_tensor<TOut>(yq, "Y_scale/Y_zero_point");
      return std::make_unique<QLinearActivationKernel<TIn, TOut>>(f, xq, yq);
    });
  });
}

inline std::unique_ptr<OpKernel> make_qlinear_sigmoid(const NodeInfo& info) {
  return make_qlinear_activation(info, sigmoid_for(quant::read_policy(info)), true);
}

inline std::unique_ptr<OpKernel> make_qlinear_leaky_relu(const NodeInfo& info) {
  (void)quant::read_policy(info);  // accepted for uniformity; a table activation has no requantization
  return make_qlinear_activation(info, ref::Activation::leaky_relu(info.attrs().get_float("alpha", 0.01f)), true);
}

inline std::unique_ptr<OpKernel> make_qlinear_unary(const NodeInfo& info) {
  const Attributes& at = info.attrs();
  const std::string act = at.get_string("activation");
  const RequantPolicy policy = quant::read_policy(info);
  const float inf = std::numeric_limits<float>::infinity();
  auto no = [&](const char* name) { check(!at.has(name), "attribute '", name, "' does not apply to ", act); };
  ref::Activation f;
  if (act == "relu") {
    no("alpha"), no("beta"), no("clip_min"), no("clip_max");
    f = ref::Activation::relu();
  } else if (act == "clip") {
    no("alpha"), no("beta");
    f = ref::Activation::clip(at.get_float("clip_min", -inf), at.get_float("clip_max", inf));
    check(!(f.lo > f.hi), "clip_min ", f.lo, " > clip_max ", f.hi);
  } else if (act == "leaky_relu") {
    no("beta"), no("clip_min"), no("clip_max");
    f = ref::Activation::leaky_relu(at.get_float("alpha", 0.01f));
  } else if (act == "sigmoid") {
    no("alpha"), no("beta"), no("clip_min"), no("clip_max");
    f = sigmoid_for(policy);
  } else if (act == "hard_sigmoid") {
    no("clip_min"), no("clip_max");
    f = ref::Activation::hard_sigmoid(at.get_float("alpha", 0.2f), at.get_float("beta", 0.5f));
  } else if (act == "hard_swish") {
    no("alpha"), no("beta"), no("clip_min"), no("clip_max");
    f = ref::Activation::hard_swish();
  } else if (act == "tanh") {
    no("alpha"), no("beta"), no("clip_min"), no("clip_max");
    f = ref::Activation::tanh();
  } else {
    fail("activation '", act, "' is not one of relu, clip, leaky_relu, sigmoid, hard_sigmoid, hard_swish, tanh");
  }
  return make_qlinear_activation(info, f, false);
}

}  // namespace eltwise_detail

inline void register_qlinear_eltwise(KernelRegistry& r) {
  r.add("com.microsoft", "QLinearAdd", 1,
        [](const NodeInfo& i) { return eltwise_detail::make_qlinear_binary(i, ref::EltwiseOp::add); });
  r.add("com.microsoft", "QLinearMul", 1,
        [](const NodeInfo& i) { return eltwise_detail::make_qlinear_binary(i, ref::EltwiseOp::mul); });
  r.add("com.microsoft", "QLinearConcat", 1, eltwise_detail::make_qlinear_concat);
  r.add("com.microsoft", "QLinearAveragePool", 1, eltwise_detail::make_qlinear_average_pool);
  r.add("com.microsoft", "QLinearGlobalAveragePool", 1, eltwise_detail::make_qlinear_global_average_pool);
  r.add("com.microsoft", "QLinearSigmoid", 1, eltwise_detail::make_qlinear_sigmoid);
  r.add("com.microsoft", "QLinearLeakyRelu", 1, eltwise_detail::make_qlinear_leaky_relu);
  r.add("qnn", "QLinearUnary", 1, eltwise_detail::make_qlinear_unary);
}

}  // namespace qnn::ops
