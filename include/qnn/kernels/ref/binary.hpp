// Reference element-wise Add, Sub, Mul, Div on unquantized tensors (NumPy broadcasting).
//
//   float      one fp32 operation;
//   bfloat16   the fp32 operation on the exact float values, rounded to nearest even;
//   integers   two's complement, modulo 2^bits (a wider sum or product truncated: NumPy's and ONNX
//              Runtime's behaviour, without C++'s signed-overflow undefined behaviour); Div
//              truncates toward zero (C++ '/', ONNX Runtime, and the ONNX reference's
//              astype(int) of the quotient); MIN / −1 wraps to MIN; division by zero is an error.
// Quantized Add and Mul are eltwise.hpp.
#pragma once

#include <cstdint>
#include <limits>
#include <string_view>
#include <type_traits>

#include "qnn/core/dtype.hpp"
#include "qnn/core/error.hpp"
#include "qnn/core/tensor.hpp"
#include "qnn/kernels/ref/broadcast.hpp"

namespace qnn::ref {

enum class BinaryOp : std::uint8_t { add, sub, mul, div };

constexpr std::string_view name_of(BinaryOp op) {
  switch (op) {
    case BinaryOp::add:
      return "Add";
    case BinaryOp::sub:
      return "Sub";
    case BinaryOp::mul:
      return "Mul";
    case BinaryOp::div:
      return "Div";
  }
  return "?";
}

template <class T>
T binary_value(BinaryOp op, T a, T b) {
  if constexpr (std::same_as<T, bf16>) {
    return bf16(binary_value<float>(op, a.to_float(), b.to_float()));
  } else if constexpr (std::same_as<T, float>) {
    switch (op) {
      case BinaryOp::add:
        return a + b;
      case BinaryOp::sub:
        return a - b;
      case BinaryOp::mul:
        return a * b;
      case BinaryOp::div:
        return a / b;
    }
    return a;
  } else {
    static_assert(std::is_integral_v<T> && !std::same_as<T, bool>, "binary arithmetic on bool");
    const auto ua = static_cast<std::uint64_t>(a);
    const auto ub = static_cast<std::uint64_t>(b);
    switch (op) {
      case BinaryOp::add:
        return static_cast<T>(ua + ub);
      case BinaryOp::sub:
        return static_cast<T>(ua - ub);
      case BinaryOp::mul:
        return static_cast<T>(ua * ub);
      case BinaryOp::div:
        check(b != 0, "integer division by zero");
        if constexpr (std::is_signed_v<T>)
          if (a == std::numeric_limits<T>::min() && b == -1) return a;
        return static_cast<T>(a / b);
    }
    return a;
  }
}

template <class T>
void binary(BinaryOp op, TensorView<const T> a, TensorView<const T> b, TensorView<T> y) {
  binary_broadcast(a, b, y, [op](T va, T vb) { return binary_value(op, va, vb); });
}

}  // namespace qnn::ref
