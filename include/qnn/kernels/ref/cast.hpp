// Reference Cast between qnn's element types (ONNX Cast for float32, bfloat16, the integers, bool).
//
//   to bool             v ≠ 0 (NaN is true, as NumPy's astype(bool))
//   from bool           0 or 1
//   float → bfloat16    round to nearest even (dtype.hpp)
//   float → integer     truncation toward zero, saturated to the target range; NaN → 0. ONNX leaves
//                       out-of-range values undefined; saturating keeps the result defined (a plain
//                       C++ conversion would be undefined behaviour).
//   integer → float     nearest float (int32/int64 beyond 2^24 round)
//   integer → integer   modulo 2^bits, two's complement (NumPy's astype)
//   bfloat16 → x        through its exact float value
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>

#include "qnn/core/dtype.hpp"
#include "qnn/core/error.hpp"
#include "qnn/core/tensor.hpp"
#include "qnn/kernels/ref/broadcast.hpp"

namespace qnn::ref {

template <class To, class From>
To cast_value(From v) {
  if constexpr (std::same_as<To, From>) {
    return v;
  } else if constexpr (std::same_as<From, bf16>) {
    return cast_value<To>(v.to_float());
  } else if constexpr (std::same_as<To, bool>) {
    return v != From{0};
  } else if constexpr (std::same_as<From, bool>) {
    return cast_value<To>(static_cast<std::uint8_t>(v ? 1 : 0));
  } else if constexpr (std::same_as<To, bf16>) {
    return bf16(static_cast<float>(v));
  } else if constexpr (std::same_as<To, float>) {
    return static_cast<float>(v);
  } else if constexpr (std::same_as<From, float>) {
    // To is an integer type here.
    if (std::isnan(v)) return To{0};
    const float t = std::trunc(v);
    // Compare in double: the limits of int32/int64 are not all floats, but every float is a double.
    if (static_cast<double>(t) <= static_cast<double>(std::numeric_limits<To>::lowest()))
      return std::numeric_limits<To>::lowest();
    if (static_cast<double>(t) >= static_cast<double>(std::numeric_limits<To>::max()))
      return std::numeric_limits<To>::max();
    return static_cast<To>(t);
  } else {
    static_assert(std::is_integral_v<To> && std::is_integral_v<From>);
    return static_cast<To>(v);  // modular since C++20
  }
}

template <class From, class To>
void cast(TensorView<const From> x, TensorView<To> y) {
  unary(x, y, [](From v) { return cast_value<To>(v); });
}

}  // namespace qnn::ref
