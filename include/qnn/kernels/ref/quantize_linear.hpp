// Reference QuantizeLinear / DequantizeLinear over tensors, per tensor or along an axis, and the
// float <-> bf16 conversions (round to nearest even). The element rules are numerics/quantize.hpp.
#pragma once

#include <cstdint>

#include "qnn/core/dtype.hpp"
#include "qnn/core/quant_params.hpp"
#include "qnn/core/tensor.hpp"
#include "qnn/kernels/ref/arith.hpp"
#include "qnn/kernels/ref/broadcast.hpp"
#include "qnn/numerics/quantize.hpp"

namespace qnn::ref {

namespace detail {
// Channel of an element: its index along the quantization axis (0 for per-tensor schemes).
template <QuantParams Q>
std::int64_t channel_of(const Q& q, const Shape& shape, const std::array<std::int64_t, Shape::kMaxRank>& idx) {
  if constexpr (Q::per_channel) {
    return idx[static_cast<std::size_t>(shape.normalize_axis(q.axis))];
  } else {
    (void)shape;
    (void)idx;
    return 0;
  }
}
template <QuantParams Q>
void check_channels(const Q& q, const Shape& shape) {
  if constexpr (Q::per_channel)
    check(shape.dim(q.axis) == q.channels(), "per-channel quantization has ", q.channels(),
          " channels, the tensor ", shape, " has ", shape.dim(q.axis), " along axis ", q.axis);
}
}  // namespace detail

template <QuantParams Q>
void quantize_linear(TensorView<const float> x, TensorView<typename Q::storage_type> y, const Q& q,
                     Rounding mode = Rounding::half_even) {
  check(x.shape() == y.shape(), "quantize: output ", y.shape(), " should be ", x.shape());
  detail::check_channels(q, x.shape());
  for_each_index(x.shape(), [&](const auto& idx) {
    const std::int64_t c = detail::channel_of(q, x.shape(), idx);
    at(y, idx) = quantize_value<typename Q::storage_type>(at(x, idx), q.scale_at(c), q.zero_point_at(c), mode);
  });
}

template <QuantParams Q>
void dequantize_linear(TensorView<const typename Q::storage_type> x, TensorView<float> y, const Q& q) {
  check(x.shape() == y.shape(), "dequantize: output ", y.shape(), " should be ", x.shape());
  detail::check_channels(q, x.shape());
  for_each_index(x.shape(), [&](const auto& idx) {
    const std::int64_t c = detail::channel_of(q, x.shape(), idx);
    at(y, idx) = dequantize_value(at(x, idx), q.scale_at(c), q.zero_point_at(c));
  });
}

inline void to_bf16(TensorView<const float> x, TensorView<bf16> y) {
  unary(x, y, [](float v) { return bf16(v); });
}
inline void from_bf16(TensorView<const bf16> x, TensorView<float> y) {
  unary(x, y, [](bf16 v) { return v.to_float(); });
}

}  // namespace qnn::ref
