// Reference Slice (ONNX opset 10+ semantics; opset 1 is the case step = 1).
//
// Per axis, (start, end, step) are resolved against the extent d exactly as the ONNX spec states:
//   start, end < 0 → += d;
//   step > 0: start, end clamped to [0, d];   count = max(0, ⌈(end − start) / step⌉)
//   step < 0: start clamped to [0, d − 1], end to [−1, d − 1];   count = max(0, ⌈(start − end) / −step⌉)
// The copy then reads a strided view: offset Σ start·stride, strides multiplied by step (negative
// for a reversed axis). Values far outside int64 arithmetic (INT64_MIN/MAX, which exporters use for
// "to the end") are clamped before any sum, so nothing overflows.
#pragma once

#include <algorithm>
#include <cstdint>
#include <limits>
#include <span>

#include "qnn/core/error.hpp"
#include "qnn/core/tensor.hpp"
#include "qnn/kernels/ref/broadcast.hpp"

namespace qnn::ref {

struct SliceRange {
  std::int64_t start = 0;
  std::int64_t step = 1;
  std::int64_t count = 0;
};

inline SliceRange slice_range(std::int64_t d, std::int64_t start, std::int64_t end, std::int64_t step) {
  check(step != 0, "slice: step must not be 0");
  // |start|, |end| beyond 2^62 behave exactly like ±2^62 for any real extent; so does |step|.
  constexpr std::int64_t big = std::int64_t{1} << 62;
  start = std::clamp(start, -big, big);
  end = std::clamp(end, -big, big);
  step = std::clamp(step, -big, big);
  if (start < 0) start += d;
  if (end < 0) end += d;
  SliceRange r;
  r.step = step;
  if (d == 0) return r;  // nothing to take, whatever the bounds
  if (step > 0) {
    start = std::clamp<std::int64_t>(start, 0, d);
    end = std::clamp<std::int64_t>(end, 0, d);
    r.count = end > start ? (end - start + step - 1) / step : 0;
  } else {
    start = std::clamp<std::int64_t>(start, 0, d - 1);
    end = std::clamp<std::int64_t>(end, -1, d - 1);
    r.count = start > end ? (start - end - step - 1) / -step : 0;
  }
  r.start = start;
  return r;
}

// y = x[ranges], one range per axis of x.
template <class T>
void slice(TensorView<const T> x, std::span<const SliceRange> ranges, TensorView<T> y) {
  check(static_cast<int>(ranges.size()) == x.rank(), "slice: ", ranges.size(), " ranges for rank ", x.rank());
  Shape out;
  for (const SliceRange& r : ranges) out.push_back(r.count);
  check(y.shape() == out, "slice: output ", y.shape(), " should be ", out);
  if (out.numel() == 0) return;  // a start may sit one past the end: form no pointer from it
  std::int64_t offset = 0;
  typename TensorView<const T>::Strides st{};
  for (int a = 0; a < x.rank(); ++a) {
    const auto u = static_cast<std::size_t>(a);
    offset += ranges[u].start * x.strides()[u];
    st[u] = ranges[u].step * x.strides()[u];
  }
  unary(TensorView<const T>(x.data() + offset, out, st), y, [](T v) { return v; });
}

}  // namespace qnn::ref
