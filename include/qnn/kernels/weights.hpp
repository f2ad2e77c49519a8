// Weight preparation shared by the layer entry points: private dense copies of the caller's
// weights, and the per-output-channel view of a weight's quantization.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "qnn/core/error.hpp"
#include "qnn/core/quant_params.hpp"
#include "qnn/core/tensor.hpp"
#include "qnn/kernels/ref/arith.hpp"

namespace qnn {

// A dense row-major copy of any (possibly strided) view.
template <class T>
Tensor dense_copy(TensorView<const T> v) {
  Tensor t(dtype_of_v<T>, v.shape());
  auto out = t.view<T>();
  ref::for_each_index(v.shape(), [&](const auto& idx) { ref::at(out, idx) = ref::at(v, idx); });
  return t;
}

// A dense copy converted to T (float, or bf16 rounded to nearest even).
template <class T>
Tensor converted_copy(TensorView<const float> v) {
  Tensor t(dtype_of_v<T>, v.shape());
  auto out = t.view<T>();
  ref::for_each_index(v.shape(), [&](const auto& idx) { ref::at(out, idx) = T(ref::at(v, idx)); });
  return t;
}

struct ChannelQuant {
  std::vector<float> scales;
  std::vector<std::int32_t> zero_points;
};

// Scales and zero points of a weight, one per output channel along `axis`. Per-tensor schemes are
// broadcast; per-channel ones must run along `axis` and have `channels` entries.
template <QuantParams WQ>
ChannelQuant weight_channel_params(const WQ& q, int axis, std::int64_t channels, std::string_view what) {
  ChannelQuant out;
  if constexpr (WQ::per_channel) {
    check(q.axis == axis, what, ": per-channel quantization must run along axis ", axis,
          " (output channels), not ", q.axis);
    check(q.channels() == channels, what, ": ", q.channels(), " channel scales for ", channels,
          " output channels");
  }
  for (std::int64_t c = 0; c < channels; ++c) {
    const std::int64_t i = WQ::per_channel ? c : 0;
    out.scales.push_back(q.scale_at(i));
    out.zero_points.push_back(q.zero_point_at(i));
  }
  return out;
}

}  // namespace qnn
