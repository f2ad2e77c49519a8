// Fast CPU QuantizeLinear (float → int8/uint8/int16/uint16): the per-target rows of
// kernels/simd/quantize-inl.hpp, equal to ref::quantize_linear bit for bit, per tensor or per
// channel (one row per run of elements sharing a channel). Round half to even only — the rounding
// of every policy but npu_pow2 —; other rounding modes, non-contiguous views and builds without a
// SIMD target run the reference.
#pragma once

#include <concepts>
#include <cstdint>

#include "qnn/core/quant_params.hpp"
#include "qnn/core/tensor.hpp"
#include "qnn/kernels/dispatch.hpp"
#include "qnn/kernels/ref/quantize_linear.hpp"

namespace qnn::cpu {

template <class T>
auto quantize_kernel(const simd::KernelTable& t) -> void (*)(const simd::QuantizeArgs&) {
  if constexpr (std::same_as<T, std::uint8_t>) return t.quantize_u8;
  else if constexpr (std::same_as<T, std::int8_t>) return t.quantize_i8;
  else if constexpr (std::same_as<T, std::uint16_t>) return t.quantize_u16;
  else if constexpr (std::same_as<T, std::int16_t>) return t.quantize_i16;
  else return nullptr;
}

template <QuantParams Q>
void quantize_linear(TensorView<const float> x, TensorView<typename Q::storage_type> y, const Q& q,
                     Rounding mode = Rounding::half_even) {
  using T = typename Q::storage_type;
  const simd::KernelTable* t = simd::kernel_table();
  const auto kernel = t ? quantize_kernel<T>(*t) : nullptr;
  if (!kernel || mode != Rounding::half_even || !x.contiguous() || !y.contiguous() || x.shape() != y.shape()) {
    ref::quantize_linear(x, y, q, mode);  // also reports what is wrong with the shapes
    return;
  }
  // Runs of `inner` elements share a channel: all of them per tensor, one slice per channel.
  std::int64_t inner = x.numel(), channels = 1;
  if constexpr (Q::per_channel) {
    ref::detail::check_channels(q, x.shape());
    const int axis = x.shape().normalize_axis(q.axis);
    channels = x.shape()[axis];
    inner = 1;
    for (int i = axis + 1; i < x.shape().rank(); ++i) inner *= x.shape()[i];
  }
  if (inner == 0) return;
  simd::QuantizeArgs a;
  a.n = inner;
  for (std::int64_t run = 0; run * inner < x.numel(); ++run) {
    const std::int64_t c = run % channels;
    a.x = x.data() + run * inner;
    a.y = y.data() + run * inner;
    a.scale = q.scale_at(c);
    a.zp = q.zero_point_at(c);
    kernel(a);
  }
}

}  // namespace qnn::cpu
