// Reference Gather (ONNX): picks slices of x along `axis` by index.
//
//   y[p…, q…, s…] = x[p…, indices[q…], s…]     (p: axes before `axis`, s: axes after)
// so y's shape is x.shape[:axis] + indices.shape + x.shape[axis+1:]. Indices are int32 or int64;
// a negative index counts from the end; one outside [−d, d) is an error (checked for every index
// before anything is written).
#pragma once

#include <array>
#include <cstdint>

#include "qnn/core/error.hpp"
#include "qnn/core/tensor.hpp"
#include "qnn/kernels/ref/arith.hpp"

namespace qnn::ref {

inline Shape gather_output_shape(const Shape& x, int axis, const Shape& indices) {
  const int ax = x.normalize_axis(axis);
  check(x.rank() - 1 + indices.rank() <= Shape::kMaxRank, "gather: output rank ", x.rank() - 1 + indices.rank(),
        " is above ", Shape::kMaxRank);
  Shape out;
  for (int a = 0; a < ax; ++a) out.push_back(x[a]);
  for (std::int64_t d : indices) out.push_back(d);
  for (int a = ax + 1; a < x.rank(); ++a) out.push_back(x[a]);
  return out;
}

template <class T, class I>
requires std::same_as<I, std::int32_t> || std::same_as<I, std::int64_t>
void gather(TensorView<const T> x, int axis, TensorView<const I> indices, TensorView<T> y) {
  const int ax = x.shape().normalize_axis(axis);
  const Shape out = gather_output_shape(x.shape(), ax, indices.shape());
  check(y.shape() == out, "gather: output ", y.shape(), " should be ", out);
  const std::int64_t d = x.shape()[ax];
  for_each_index(indices.shape(), [&](const auto& idx) {
    const std::int64_t v = at(indices, idx);
    check(v >= -d && v < d, "gather: index ", v, " is out of range for axis ", ax, " of extent ", d);
  });
  const int q = indices.rank();
  std::array<std::int64_t, Shape::kMaxRank> xi{};
  std::array<std::int64_t, Shape::kMaxRank> ii{};
  for_each_index(out, [&](const auto& idx) {
    for (int a = 0; a < q; ++a) ii[static_cast<std::size_t>(a)] = idx[static_cast<std::size_t>(ax + a)];
    const std::int64_t v = at(indices, ii);
    for (int a = 0; a < ax; ++a) xi[static_cast<std::size_t>(a)] = idx[static_cast<std::size_t>(a)];
    xi[static_cast<std::size_t>(ax)] = v < 0 ? v + d : v;
    for (int a = ax + 1; a < x.rank(); ++a) xi[static_cast<std::size_t>(a)] = idx[static_cast<std::size_t>(a - 1 + q)];
    at(y, idx) = at(x, xi);
  });
}

}  // namespace qnn::ref
