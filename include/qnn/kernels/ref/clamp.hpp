// Reference Clip (and Relu) on unquantized tensors, exact in the element type:
//   y = min(max(x, lo), hi)     with lo ≤ hi
// Float Clip is also ref::Activation::clip (activation.hpp), which this equals for lo ≤ hi; integer
// tensors (int32/int64 values beyond 2^24) must not pass through float, hence this typed form.
// NaN stays NaN.
#pragma once

#include "qnn/core/error.hpp"
#include "qnn/core/tensor.hpp"
#include "qnn/kernels/ref/broadcast.hpp"

namespace qnn::ref {

template <class T>
void clamp(TensorView<const T> x, T lo, T hi, TensorView<T> y) {
  check(!(hi < lo), "clip: min is above max");
  unary(x, y, [&](T v) { return v < lo ? lo : (hi < v ? hi : v); });
}

}  // namespace qnn::ref
