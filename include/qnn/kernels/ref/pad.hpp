// Reference Pad: constant, reflect, edge and wrap modes, any rank, negative pads crop.
//
// Output extent along axis a is d + begin[a] + end[a]. Output coordinate o reads input coordinate
// i = o − begin[a]; when i falls outside [0, d) the mode decides:
//   constant  the element is `value` (for every axis at once: one outside coordinate suffices);
//   edge      i clamped to [0, d − 1];
//   reflect   mirrored about the edge elements without repeating them (NumPy 'reflect'): period
//             2(d − 1), so pads larger than d keep reflecting, and d = 1 repeats its element;
//   wrap      i mod d (NumPy 'wrap').
// Negative begin/end remove elements; i then never leaves [0, d) on that side.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string_view>

#include "qnn/core/error.hpp"
#include "qnn/core/tensor.hpp"
#include "qnn/kernels/ref/arith.hpp"

namespace qnn::ref {

enum class PadMode : std::uint8_t { constant, reflect, edge, wrap };

constexpr std::string_view name_of(PadMode m) {
  switch (m) {
    case PadMode::constant:
      return "constant";
    case PadMode::reflect:
      return "reflect";
    case PadMode::edge:
      return "edge";
    case PadMode::wrap:
      return "wrap";
  }
  return "?";
}

// `pads` holds rank begins then rank ends (the ONNX order).
inline Shape pad_output_shape(const Shape& x, std::span<const std::int64_t> pads) {
  check(static_cast<int>(pads.size()) == 2 * x.rank(), "pad: ", pads.size(), " pads for rank ", x.rank());
  Shape out;
  for (int a = 0; a < x.rank(); ++a) {
    const std::int64_t d = x[a] + pads[static_cast<std::size_t>(a)] + pads[static_cast<std::size_t>(a + x.rank())];
    check(d >= 0, "pad: axis ", a, " of extent ", x[a], " padded by ", pads[static_cast<std::size_t>(a)], " and ",
          pads[static_cast<std::size_t>(a + x.rank())], " would have negative extent");
    out.push_back(d);
  }
  return out;
}

namespace detail {
// Input coordinate for an outside coordinate i of an axis of extent d (d ≥ 1), non-constant modes.
inline std::int64_t pad_source(std::int64_t i, std::int64_t d, PadMode mode) {
  switch (mode) {
    case PadMode::edge:
      return i < 0 ? 0 : d - 1;
    case PadMode::wrap:
      return ((i % d) + d) % d;
    case PadMode::reflect: {
      if (d == 1) return 0;
      const std::int64_t period = 2 * (d - 1);
      const std::int64_t m = ((i % period) + period) % period;
      return m < d ? m : period - m;
    }
    case PadMode::constant:
      break;
  }
  return i;
}
}  // namespace detail

template <class T>
void pad(TensorView<const T> x, std::span<const std::int64_t> pads, PadMode mode, T value, TensorView<T> y) {
  const Shape out = pad_output_shape(x.shape(), pads);
  check(y.shape() == out, "pad: output ", y.shape(), " should be ", out);
  const int r = x.rank();
  if (mode != PadMode::constant)
    for (int a = 0; a < r; ++a)
      check(x.shape()[a] > 0 || out[a] == 0, "pad: ", name_of(mode), " padding of an empty axis ", a);
  std::array<std::int64_t, Shape::kMaxRank> src{};
  for_each_index(out, [&](const auto& idx) {
    bool outside = false;
    for (int a = 0; a < r; ++a) {
      const auto u = static_cast<std::size_t>(a);
      const std::int64_t d = x.shape()[a];
      std::int64_t i = idx[u] - pads[u];
      if (i < 0 || i >= d) {
        outside = true;
        if (mode != PadMode::constant) i = detail::pad_source(i, d, mode);
      }
      src[u] = i;
    }
    at(y, idx) = (outside && mode == PadMode::constant) ? value : at(x, src);
  });
}

}  // namespace qnn::ref
