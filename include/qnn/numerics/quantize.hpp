// QuantizeLinear and DequantizeLinear, element by element (docs/numerics.md §2).
//
// quantize:   q = clamp(round(x / scale), qmin − zp, qmax − zp) + zp
//   x / scale is one fp32 division (as ONNX and ONNX Runtime compute it); the clamp happens before
//   the conversion, so no float value — ±inf included — reaches an out-of-range integer conversion.
//   NaN becomes qmin, which is what ONNX Runtime's x86 kernel produces (MAXPS returns its second
//   operand for a NaN first operand).
// dequantize: x = float(q − zp) · scale, one fp32 multiply of an exactly representable difference.
#pragma once

#include <cmath>
#include <cstdint>
#include <span>

#include "qnn/core/dtype.hpp"
#include "qnn/core/quant_params.hpp"
#include "qnn/numerics/rounding.hpp"

namespace qnn {

template <QuantStorage T>
T quantize_value(float x, float scale, std::int32_t zero_point, Rounding mode = Rounding::half_even) {
  const float lo = static_cast<float>(min_of<T>() - zero_point);
  const float hi = static_cast<float>(max_of<T>() - zero_point);
  float v = x / scale;
  if (std::isnan(v)) return static_cast<T>(min_of<T>());
  v = v < lo ? lo : (v > hi ? hi : v);
  return static_cast<T>(static_cast<std::int32_t>(round_with(mode, v)) + zero_point);
}

template <QuantStorage T>
float dequantize_value(T q, float scale, std::int32_t zero_point) {
  return static_cast<float>(static_cast<std::int32_t>(q) - zero_point) * scale;
}

// Whole-tensor forms over a QuantParams scheme. For per-channel schemes `channel_of(i)` maps a flat
// element index to its channel; the callers build it from the axis and shape.
template <QuantParams Q, class ChannelOf>
void quantize(std::span<const float> x, const Q& q, ChannelOf channel_of,
              std::span<typename Q::storage_type> out, Rounding mode = Rounding::half_even) {
  check(x.size() == out.size(), "quantize: ", x.size(), " inputs for ", out.size(), " outputs");
  for (std::size_t i = 0; i < x.size(); ++i) {
    const std::int64_t c = channel_of(static_cast<std::int64_t>(i));
    out[i] = quantize_value<typename Q::storage_type>(x[i], q.scale_at(c), q.zero_point_at(c), mode);
  }
}

template <QuantParams Q, class ChannelOf>
void dequantize(std::span<const typename Q::storage_type> x, const Q& q, ChannelOf channel_of,
                std::span<float> out) {
  check(x.size() == out.size(), "dequantize: ", x.size(), " inputs for ", out.size(), " outputs");
  for (std::size_t i = 0; i < x.size(); ++i) {
    const std::int64_t c = channel_of(static_cast<std::int64_t>(i));
    out[i] = dequantize_value(x[i], q.scale_at(c), q.zero_point_at(c));
  }
}

// Channel of flat index i for a row-major tensor quantized along `axis` (inner = product of the
// extents after the axis, channels = extent of the axis).
struct ChannelIndex {
  std::int64_t inner = 1;
  std::int64_t channels = 1;
  std::int64_t operator()(std::int64_t i) const { return (i / inner) % channels; }
};
inline constexpr auto per_tensor_index = [](std::int64_t) -> std::int64_t { return 0; };

}  // namespace qnn
