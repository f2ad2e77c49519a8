// Shared plumbing of the quantized operators: reading scales and zero points from a node's constant
// inputs, the per-layer requantization policy and fused activation the graph passes attach
// (attributes `qnn_requant`, `qnn_activation`, `qnn_clip_min`, `qnn_clip_max`), and dtype dispatch.
//
// Every check here runs when the session is prepared, so a model whose quantization qnn cannot
// honour is refused with a message naming the input and the reason, never run with a guess.
#pragma once

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "qnn/core/dtype.hpp"
#include "qnn/core/error.hpp"
#include "qnn/core/quant_params.hpp"
#include "qnn/core/tensor.hpp"
#include "qnn/numerics/requantize.hpp"
#include "qnn/runtime/kernel.hpp"

namespace qnn::ops::quant {

// ---- attributes set by qnn's graph passes -------------------------------------------------------

// `qnn_requant`: "onnx-float" | "tflite-double-round" | "tflite-single-round" | "npu-pow2"; default
// the session's policy.
inline RequantPolicy read_policy(const NodeInfo& info) {
  const std::string s = info.attrs().get_string("qnn_requant", std::string(name_of(info.options().requant)));
  for (RequantPolicy p : {RequantPolicy::onnx_float, RequantPolicy::tflite_double_round,
                          RequantPolicy::tflite_single_round, RequantPolicy::npu_pow2})
    if (s == name_of(p)) return p;
  fail("attribute qnn_requant '", s,
       "' is not one of onnx-float, tflite-double-round, tflite-single-round, npu-pow2");
}

// ---- scales and zero points ----------------------------------------------------------------------

// One tensor's quantization as read from a (scale, zero point) input pair: one entry per tensor, or
// one per channel. `dtype` is the storage type the zero point declares.
struct ScaleZp {
  DType dtype = DType::u8;
  std::vector<float> scales;
  std::vector<std::int32_t> zero_points;

  std::size_t size() const { return scales.size(); }
  float scale() const { return scales.front(); }
  std::int32_t zero_point() const { return zero_points.front(); }
};

// The values of an integer tensor as int32 (zero points of any quantized storage type, or int32).
inline std::vector<std::int32_t> int_values(const TensorRef& t) {
  return visit_dtype(t.dtype, [&](auto v) -> std::vector<std::int32_t> {
    using T = decltype(v);
    if constexpr (QuantStorage<T> || std::same_as<T, std::int32_t>) {
      const auto s = t.span<T>();
      return std::vector<std::int32_t>(s.begin(), s.end());
    } else {
      fail("a zero point must be int8, uint8, int16 or uint16, got ", t.dtype);
    }
  });
}

// Reads (scale, zero point) from run-time tensors. The zero point is optional (nullptr): it is
// then 0 of `default_dtype`. Scale and zero point hold the same number of values (or the zero point
// one value, broadcast). `what` names the pair in messages ("x_scale/x_zero_point").
inline ScaleZp scale_zp_from(const TensorRef& scale, const TensorRef* zp, DType default_dtype, const char* what) {
  ScaleZp q;
  check(scale.dtype == DType::f32, what, ": scale must be float32, got ", scale.dtype);
  check(scale.shape.rank() <= 1, what, ": scale of shape ", scale.shape,
        " is blocked quantization, which qnn does not support");
  check(scale.numel() >= 1, what, ": scale is empty");
  const auto s = scale.span<float>();
  q.scales.assign(s.begin(), s.end());
  if (zp) {
    check(is_quantized_storage(zp->dtype), what, ": zero point must be int8, uint8, int16 or uint16, got ",
          zp->dtype, " (float8 and int4 are not supported)");
    check(zp->shape == scale.shape || (zp->numel() == 1 && scale.numel() == 1), what, ": zero point of shape ",
          zp->shape, " does not match the scale's shape ", scale.shape);
    q.dtype = zp->dtype;
    q.zero_points = int_values(*zp);
  } else {
    q.dtype = default_dtype;
    q.zero_points.assign(q.scales.size(), 0);
  }
  for (float v : q.scales)
    check(v > 0.0f && std::isfinite(v), what, ": scale ", v, " must be positive and finite");
  return q;
}

// The data type of input `data` when it cannot be taken from a zero point: the value's declared
// dtype, or an error.
inline DType declared_dtype(const NodeInfo& info, std::size_t data, const char* what) {
  const auto d = info.input_dtype(data);
  check(d.has_value(), what, ": the element type is not known when the session is prepared (give the ",
        "zero point as an initializer, or a value_info for the input)");
  return *d;
}

// (scale, zero point) from constant inputs, which quantized compute nodes require. The zero point
// input may be omitted; its type then defaults to the declared type of input `data`.
inline ScaleZp constant_scale_zp(const NodeInfo& info, std::size_t scale_idx, std::size_t zp_idx,
                                 std::size_t data, const char* what) {
  const Tensor* s = info.constant_input(scale_idx);
  check(s != nullptr, what, ": the scale (input ", scale_idx, ") must be a constant initializer; qnn prepares ",
        "requantization once and does not accept run-time scales for this operator");
  const Tensor* z = info.has_input(zp_idx) ? info.constant_input(zp_idx) : nullptr;
  check(!info.has_input(zp_idx) || z != nullptr, what, ": the zero point (input ", zp_idx,
        ") must be a constant initializer");
  const TensorRef sr = TensorRef::of(*s);
  const TensorRef zr = z ? TensorRef::of(*z) : TensorRef{};
  const DType def = z ? z->dtype() : declared_dtype(info, data, what);
  return scale_zp_from(sr, z ? &zr : nullptr, def, what);
}

// A per-tensor pair: exactly one value (scalar or 1-element tensor).
inline ScaleZp constant_per_tensor(const NodeInfo& info, std::size_t scale_idx, std::size_t zp_idx,
                                   std::size_t data, const char* what) {
  ScaleZp q = constant_scale_zp(info, scale_idx, zp_idx, data, what);
  check(q.size() == 1, what, ": ", q.size(),
        " values; this tensor must be quantized per tensor (one scale and zero point)");
  return q;
}

// Per-channel parameters of a weight: one entry per output channel, or one for all (broadcast).
// Returns the scales and zero points expanded to `channels` entries.
inline ScaleZp expand_channels(ScaleZp q, std::int64_t channels, const char* what) {
  const auto n = static_cast<std::size_t>(channels);
  check(q.scales.size() == 1 || q.scales.size() == n, what, ": ", q.scales.size(), " scales for ", channels,
        " output channels");
  check(q.zero_points.size() == 1 || q.zero_points.size() == n, what, ": ", q.zero_points.size(),
        " zero points for ", channels, " output channels");
  if (q.scales.size() == 1) q.scales.assign(n, q.scales[0]);
  if (q.zero_points.size() == 1) q.zero_points.assign(n, q.zero_points[0]);
  return q;
}

// The constant quantization of a matmul whose output has the type of A (QLinearMatMul, QGemm with
// a quantized output): A per tensor (inputs 1, 2), B per tensor or per column (inputs 4, 5; with
// `columns` > 0 expanded to that many entries), Y per tensor (inputs y_scale, y_scale + 1). `a_name`
// and `y_name` spell A and Y as the operator does ("a"/"y", "A"/"Y") in the message of a Y whose
// type is not A's.
struct MatmulQuant {
  ScaleZp a, b, y;
};
inline MatmulQuant constant_matmul_quant(const NodeInfo& info, std::size_t y_scale, std::int64_t columns,
                                         const char* a_name, const char* y_name) {
  MatmulQuant q;
  q.a = constant_per_tensor(info, 1, 2, 0, "a_scale/a_zero_point");
  q.b = constant_scale_zp(info, 4, 5, 3, "b_scale/b_zero_point");
  if (columns > 0) q.b = expand_channels(std::move(q.b), columns, "b_scale/b_zero_point");
  q.y = constant_per_tensor(info, y_scale, y_scale + 1, 0, "y_scale/y_zero_point");
  check(q.y.dtype == q.a.dtype, y_name, " (", q.y.dtype, ") must have the type of ", a_name, " (", q.a.dtype, ")");
  return q;
}

template <QuantStorage T>
PerTensor<T> per_tensor(const ScaleZp& q, const char* what) {
  return with_context(what, [&] {
    check(q.dtype == dtype_of_v<T>, "expected ", name_of(dtype_of_v<T>), " quantization, got ", q.dtype);
    return PerTensor<T>(q.scale(), q.zero_point());
  });
}

// Calls f(T{}) for the quantized storage types qnn computes with; anything else is an error.
template <class F>
decltype(auto) visit_quant_dtype(DType t, const char* what, F&& f) {
  switch (t) {
    case DType::u8: return f(std::uint8_t{});
    case DType::i8: return f(std::int8_t{});
    case DType::u16: return f(std::uint16_t{});
    case DType::i16: return f(std::int16_t{});
    default: fail(what, ": element type ", t, " is not a quantized type (int8, uint8, int16, uint16)");
  }
}
template <class F>
decltype(auto) visit_int8_dtype(DType t, const char* what, F&& f) {
  switch (t) {
    case DType::u8: return f(std::uint8_t{});
    case DType::i8: return f(std::int8_t{});
    default: fail(what, ": element type ", t, " is not supported here (int8 or uint8)");
  }
}

// A run-time input must have the dtype the kernel was prepared for.
inline void check_dtype(const TensorRef& t, DType want, const char* what) {
  check(t.dtype == want, what, " is ", t.dtype, ", the node was prepared for ", want);
}

}  // namespace qnn::ops::quant
