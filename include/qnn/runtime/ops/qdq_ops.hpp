// QuantizeLinear and DequantizeLinear: ONNX (opsets 10–21) and com.microsoft (the 16-bit forms ONNX
// Runtime's quantizer writes before opset 21).
//
//   QuantizeLinear(x, y_scale, [y_zero_point])   y = clamp(rne(x / s), qmin − zp, qmax − zp) + zp
//   DequantizeLinear(x, x_scale, [x_zero_point]) y = float(x − zp) · s          (numerics.md §2)
//
// Per tensor (scale with one value) or per axis (`axis`, default 1; scale 1-D with one value per
// index of that axis). The zero point's type is the quantized type (uint8 when it is omitted, or
// QuantizeLinear-21's `output_dtype`); int8, uint8, int16, uint16, and int32 for DequantizeLinear.
// Refused with a reason: blocked quantization (`block_size`, opset 21), float8 and int4 types,
// `saturate` = 0 (meaningful only for float8).
//
// Scales and zero points may be run-time inputs here (the ONNX conformance cases feed them so, and
// quantizing costs the same either way); constant ones are turned into typed parameters once.
// `qnn_requant` = npu-pow2 makes QuantizeLinear the DPU's quantizer (numerics.md §2, §6): the scale
// must be a power of two, activations round half up, and a constant input — a weight or bias being
// folded — rounds half away from zero. Every other policy rounds half to even.
// DequantizeLinear accepts the attribute and is exact under every policy.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <variant>

#include "qnn/core/quant_params.hpp"
#include "qnn/kernels/cpu/quantize.hpp"
#include "qnn/kernels/ref/quantize_linear.hpp"
#include "qnn/onnx/data_type.hpp"
#include "qnn/runtime/kernel.hpp"
#include "qnn/runtime/ops/quant_params_io.hpp"

namespace qnn::ops {

namespace qdq_detail {

// Attributes shared by both ops.
struct QdqAttrs {
  std::int64_t axis = 1;
  static QdqAttrs read(const Attributes& a) {
    QdqAttrs r;
    r.axis = a.get_int("axis", 1);
    const std::int64_t block = a.get_int("block_size", 0);
    check(block == 0, "block_size ", block, ": blocked quantization is not supported");
    return r;
  }
};

// Typed parameters for T, per tensor or along an axis of `shape`.
template <QuantStorage T>
using TypedQuant = std::variant<PerTensor<T>, PerChannel<T>>;

template <QuantStorage T>
TypedQuant<T> typed(const quant::ScaleZp& q, std::int64_t axis, const Shape& shape, const char* what) {
  return with_context(what, [&]() -> TypedQuant<T> {
    if (q.size() == 1) return PerTensor<T>(q.scale(), q.zero_point());
    const int ax = shape.normalize_axis(static_cast<int>(axis));
    check(shape[ax] == static_cast<std::int64_t>(q.size()), "per-axis quantization along axis ", axis, " has ",
          q.size(), " scales, the input ", shape, " has ", shape[ax], " there");
    return PerChannel<T>(ax, q.scales, q.zero_points);
  });
}

inline const TensorRef* optional_input(const KernelContext& ctx, std::size_t i) {
  return ctx.has(i) ? ctx.input(i) : nullptr;
}

// The parameters of this run: the prepared ones, or read from the run-time inputs.
inline quant::ScaleZp run_params(const KernelContext& ctx, const std::optional<quant::ScaleZp>& prepared,
                                 DType dtype, const char* what) {
  if (prepared) return *prepared;
  quant::ScaleZp q = quant::scale_zp_from(ctx.in(1), optional_input(ctx, 2), dtype, what);
  check(q.dtype == dtype, what, ": zero point is ", q.dtype, ", the node was prepared for ", dtype);
  return q;
}

// Reads scale and zero point now when both are constant.
inline std::optional<quant::ScaleZp> prepared_params(const NodeInfo& info, DType dtype, const char* what) {
  const Tensor* s = info.constant_input(1);
  const Tensor* z = info.constant_input(2);
  if (!s || (info.has_input(2) && !z)) return std::nullopt;
  const TensorRef sr = TensorRef::of(*s);
  const TensorRef zr = z ? TensorRef::of(*z) : TensorRef{};
  quant::ScaleZp q = quant::scale_zp_from(sr, z ? &zr : nullptr, dtype, what);
  check(q.dtype == dtype, what, ": zero point is ", q.dtype, ", expected ", dtype);
  return q;
}

inline void check_pow2(const quant::ScaleZp& q) {
  for (float s : q.scales) check(is_pow2_scale(s), "npu-pow2 quantization: scale ", s, " is not a power of two");
}

template <QuantStorage T>
class QuantizeLinearKernel final : public OpKernel {
 public:
  QuantizeLinearKernel(QdqAttrs attrs, std::optional<quant::ScaleZp> params, RequantPolicy policy, bool weight)
      : attrs_(attrs), params_(std::move(params)), policy_(policy), weight_(weight) {
    if (params_ && policy_ == RequantPolicy::npu_pow2) check_pow2(*params_);
  }

  void run(KernelContext& ctx) const override {
    const TensorRef& x = ctx.in(0);
    check(x.dtype == DType::f32, "QuantizeLinear input must be float32, got ", x.dtype);
    const quant::ScaleZp q = run_params(ctx, params_, dtype_of_v<T>, "y_scale/y_zero_point");
    const bool npu = policy_ == RequantPolicy::npu_pow2;
    if (npu && !params_) check_pow2(q);
    const TypedQuant<T> tq = typed<T>(q, attrs_.axis, x.shape, "y_scale/y_zero_point");
    TensorRef& y = ctx.output(0, dtype_of_v<T>, x.shape);
    const Rounding mode = !npu ? Rounding::half_even : (weight_ ? Rounding::half_away : Rounding::half_up);
    std::visit([&](const auto& p) { cpu::quantize_linear(x.view<float>(), y.mut<T>(), p, mode); }, tq);
  }

 private:
  QdqAttrs attrs_;
  std::optional<quant::ScaleZp> params_;
  RequantPolicy policy_;
  bool weight_;  // the input is a constant (a weight or bias)
};

template <QuantStorage T>
class DequantizeLinearKernel final : public OpKernel {
 public:
  DequantizeLinearKernel(QdqAttrs attrs, std::optional<quant::ScaleZp> params)
      : attrs_(attrs), params_(std::move(params)) {}

  void run(KernelContext& ctx) const override {
    const TensorRef& x = ctx.in(0);
    quant::check_dtype(x, dtype_of_v<T>, "DequantizeLinear input");
    const quant::ScaleZp q = run_params(ctx, params_, dtype_of_v<T>, "x_scale/x_zero_point");
    const TypedQuant<T> tq = typed<T>(q, attrs_.axis, x.shape, "x_scale/x_zero_point");
    TensorRef& y = ctx.output(0, DType::f32, x.shape);
    std::visit([&](const auto& p) { ref::dequantize_linear(x.view<T>(), y.mut<float>(), p); }, tq);
  }

 private:
  QdqAttrs attrs_;
  std::optional<quant::ScaleZp> params_;
};

// int32 input (a quantized bias): y = float(x − zp) · s, the difference in int64 (exact; ORT's int32
// difference would wrap where this does not), converted with round to nearest even above 2^24.
class DequantizeInt32Kernel final : public OpKernel {
 public:
  DequantizeInt32Kernel(QdqAttrs attrs, std::optional<quant::ScaleZp> params)
      : attrs_(attrs), params_(std::move(params)) {}

  void run(KernelContext& ctx) const override {
    const TensorRef& x = ctx.in(0);
    quant::check_dtype(x, DType::i32, "DequantizeLinear input");
    quant::ScaleZp q;
    if (params_) {
      q = *params_;
    } else {
      const TensorRef& s = ctx.in(1);
      check(s.dtype == DType::f32 && s.shape.rank() <= 1, "x_scale must be a float32 scalar or 1-D tensor");
      const auto sv = s.span<float>();
      q.scales.assign(sv.begin(), sv.end());
      if (const TensorRef* z = optional_input(ctx, 2)) {
        check(z->dtype == DType::i32 && z->numel() == s.numel(), "x_zero_point must be int32 like x");
        q.zero_points = quant::int_values(*z);
      } else {
        q.zero_points.assign(q.scales.size(), 0);
      }
    }
    TensorRef& y = ctx.output(0, DType::f32, x.shape);
    const auto in = x.span<std::int32_t>();
    const auto out = y.mut<float>().span();
    ChannelIndex ci;
    if (q.scales.size() > 1) {
      const int ax = x.shape.normalize_axis(static_cast<int>(attrs_.axis));
      check(x.shape[ax] == static_cast<std::int64_t>(q.scales.size()), "per-axis quantization along axis ",
            attrs_.axis, " has ", q.scales.size(), " scales, the input ", x.shape, " has ", x.shape[ax]);
      ci.channels = x.shape[ax];
      for (int a = ax + 1; a < x.shape.rank(); ++a) ci.inner *= x.shape[a];
    }
    for (std::size_t i = 0; i < in.size(); ++i) {
      const auto c = static_cast<std::size_t>(q.scales.size() > 1 ? ci(static_cast<std::int64_t>(i)) : 0);
      out[i] = static_cast<float>(std::int64_t{in[i]} - q.zero_points[c]) * q.scales[c];
    }
  }

 private:
  QdqAttrs attrs_;
  std::optional<quant::ScaleZp> params_;
};

inline std::unique_ptr<OpKernel> make_quantize_linear(const NodeInfo& info) {
  const QdqAttrs attrs = QdqAttrs::read(info.attrs());
  // `saturate` only concerns float8 outputs; 1 (the default) is the integer behaviour.
  check(info.attrs().get_int("saturate", 1) == 1, "saturate = 0 applies to float8 outputs, which qnn does not support");
  if (const auto in = info.input_dtype(0))
    check(*in == DType::f32, "QuantizeLinear input must be float32, got ", *in);
  // The output type: the zero point's, else output_dtype (opset 21), else uint8.
  std::optional<DType> out;
  const std::int64_t odt = info.attrs().get_int("output_dtype", 0);
  if (odt != 0) {
    const auto d = onnx::to_dtype(static_cast<onnx::DataType>(odt));
    check(d.has_value() && is_quantized_storage(*d), "output_dtype ", odt,
          " is not one of uint8, int8, uint16, int16");
    out = *d;
  }
  if (info.has_input(2)) {
    const auto z = info.input_dtype(2);
    check(z.has_value(), "the type of y_zero_point is not known when the session is prepared");
    if (out) check(*out == *z, "output_dtype ", *out, " differs from y_zero_point's type ", *z);
    out = *z;
  }
  const DType dtype = out.value_or(DType::u8);
  auto params = prepared_params(info, dtype, "y_scale/y_zero_point");
  const RequantPolicy policy = quant::read_policy(info);
  return quant::visit_quant_dtype(dtype, "QuantizeLinear output", [&](auto t) -> std::unique_ptr<OpKernel> {
    return std::make_unique<QuantizeLinearKernel<decltype(t)>>(attrs, std::move(params), policy,
                                                               info.constant_input(0) != nullptr);
  });
}

inline std::unique_ptr<OpKernel> make_dequantize_linear(const NodeInfo& info) {
  const QdqAttrs attrs = QdqAttrs::read(info.attrs());
  (void)quant::read_policy(info);  // validated; dequantization is exact under every policy
  std::optional<DType> dtype = info.input_dtype(0);
  if (info.has_input(2)) {
    const auto z = info.input_dtype(2);
    if (dtype && z) check(*dtype == *z, "x is ", *dtype, " but x_zero_point is ", *z);
    if (!dtype) dtype = z;
  }
  check(dtype.has_value(), "the type of x is not known when the session is prepared (give x_zero_point or a ",
        "value_info)");
  if (*dtype == DType::i32) {
    std::optional<quant::ScaleZp> params;
    const Tensor* s = info.constant_input(1);
    const Tensor* z = info.constant_input(2);
    if (s && (!info.has_input(2) || z)) {
      check(s->dtype() == DType::f32 && s->shape().rank() <= 1, "x_scale must be a float32 scalar or 1-D tensor");
      quant::ScaleZp q;
      q.dtype = DType::i32;
      const auto sv = s->span<float>();
      q.scales.assign(sv.begin(), sv.end());
      if (z) {
        check(z->dtype() == DType::i32 && z->numel() == s->numel(), "x_zero_point must be int32 like x");
        q.zero_points = quant::int_values(TensorRef::of(*z));
      } else {
        q.zero_points.assign(q.scales.size(), 0);
      }
      params = std::move(q);
    }
    return std::make_unique<DequantizeInt32Kernel>(attrs, std::move(params));
  }
  auto params = prepared_params(info, *dtype, "x_scale/x_zero_point");
  return quant::visit_quant_dtype(*dtype, "DequantizeLinear input", [&](auto t) -> std::unique_ptr<OpKernel> {
    return std::make_unique<DequantizeLinearKernel<decltype(t)>>(attrs, std::move(params));
  });
}

}  // namespace qdq_detail

inline void register_qdq_ops(KernelRegistry& r) {
  r.add("", "QuantizeLinear", 10, qdq_detail::make_quantize_linear);
  r.add("", "DequantizeLinear", 10, qdq_detail::make_dequantize_linear);
  r.add("com.microsoft", "QuantizeLinear", 1, qdq_detail::make_quantize_linear);
  r.add("com.microsoft", "DequantizeLinear", 1, qdq_detail::make_dequantize_linear);
}

}  // namespace qnn::ops
