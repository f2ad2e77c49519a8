// NumPy multidirectional broadcasting for binary element-wise ops (ONNX Add, Sub, Mul, Div, ...).
#pragma once

#include <algorithm>
#include <cstdint>

#include "qnn/core/error.hpp"
#include "qnn/core/tensor.hpp"
#include "qnn/kernels/ref/arith.hpp"

namespace qnn::ref {

inline Shape broadcast_shape(const Shape& a, const Shape& b) {
  const int r = std::max(a.rank(), b.rank());
  Shape out;
  for (int i = 0; i < r; ++i) {
    const int ia = i - (r - a.rank());
    const int ib = i - (r - b.rank());
    const std::int64_t da = ia >= 0 ? a[ia] : 1;
    const std::int64_t db = ib >= 0 ? b[ib] : 1;
    check(da == db || da == 1 || db == 1, "shapes ", a, " and ", b, " do not broadcast");
    out.push_back(da == 1 ? db : da);
  }
  return out;
}

// `v` seen with the shape `to` it broadcasts to: leading axes added and extent-1 axes given
// stride 0. No data moves.
template <class T>
TensorView<T> broadcast_to(const TensorView<T>& v, const Shape& to) {
  check(to.rank() >= v.rank(), "cannot broadcast ", v.shape(), " to ", to);
  typename TensorView<T>::Strides st{};
  const int lead = to.rank() - v.rank();
  for (int i = 0; i < v.rank(); ++i) {
    const std::int64_t d = v.shape()[i];
    check(d == to[i + lead] || d == 1, "cannot broadcast ", v.shape(), " to ", to);
    st[static_cast<std::size_t>(i + lead)] = d == 1 ? 0 : v.strides()[static_cast<std::size_t>(i)];
  }
  return TensorView<T>(v.data(), to, st);
}

// y = f(a, b) element-wise with broadcasting; y must have the broadcast shape.
template <class TA, class TB, class TY, class F>
void binary_broadcast(TensorView<const TA> a, TensorView<const TB> b, TensorView<TY> y, F&& f) {
  const Shape out = broadcast_shape(a.shape(), b.shape());
  check(y.shape() == out, "element-wise output ", y.shape(), " should be ", out);
  // Same-shape contiguous operands (what a session passes almost always) walk flat spans: the same
  // f on the same elements in the same order, without an N-d index per element.
  if (a.shape() == out && b.shape() == out && a.contiguous() && b.contiguous() && y.contiguous()) {
    const auto sa = a.span(), sb = b.span();
    const auto sy = y.span();
    for (std::size_t i = 0; i < sy.size(); ++i) sy[i] = f(sa[i], sb[i]);
    return;
  }
  const auto ab = broadcast_to(a, out);
  const auto bb = broadcast_to(b, out);
  for_each_index(out, [&](const auto& idx) { at(y, idx) = f(at(ab, idx), at(bb, idx)); });
}

template <class TX, class TY, class F>
void unary(TensorView<const TX> x, TensorView<TY> y, F&& f) {
  check(x.shape() == y.shape(), "element-wise output ", y.shape(), " should be ", x.shape());
  if (x.contiguous() && y.contiguous()) {  // as in binary_broadcast: same elements, flat walk
    const auto sx = x.span();
    const auto sy = y.span();
    for (std::size_t i = 0; i < sy.size(); ++i) sy[i] = f(sx[i]);
    return;
  }
  for_each_index(x.shape(), [&](const auto& idx) { at(y, idx) = f(at(x, idx)); });
}

}  // namespace qnn::ref
