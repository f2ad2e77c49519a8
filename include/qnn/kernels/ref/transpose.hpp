// Reference Transpose: output axis i is input axis perm[i].
//
//   y[i_0, …, i_{r−1}] = x[j]  with  j[perm[a]] = i_a
// The kernel is a copy through a permuted view (TensorView::permuted), so it moves elements of any
// type without looking at them.
#pragma once

#include <span>
#include <vector>

#include "qnn/core/error.hpp"
#include "qnn/core/tensor.hpp"
#include "qnn/kernels/ref/broadcast.hpp"

namespace qnn::ref {

// The output shape; checks that `perm` is a permutation of 0 … rank−1.
inline Shape transpose_shape(const Shape& x, std::span<const int> perm) {
  check(static_cast<int>(perm.size()) == x.rank(), "transpose: permutation has ", perm.size(), " entries for rank ",
        x.rank());
  std::vector<bool> seen(perm.size(), false);
  Shape out;
  for (int p : perm) {
    check(p >= 0 && p < x.rank() && !seen[static_cast<std::size_t>(p)], "transpose: perm is not a permutation of 0..",
          x.rank() - 1);
    seen[static_cast<std::size_t>(p)] = true;
    out.push_back(x[p]);
  }
  return out;
}

template <class T>
void transpose(TensorView<const T> x, std::span<const int> perm, TensorView<T> y) {
  check(y.shape() == transpose_shape(x.shape(), perm), "transpose: output ", y.shape(), " is wrong");
  unary(x.permuted(perm), y, [](T v) { return v; });
}

}  // namespace qnn::ref
