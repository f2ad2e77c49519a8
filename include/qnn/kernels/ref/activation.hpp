// Reference activations, float and quantized.
//
// The float functions are the ONNX definitions, evaluated in fp32 with <cmath>:
//   Relu max(0,x) · Clip min(max(x,lo),hi) · LeakyRelu x<0 ? αx : x · Sigmoid 1/(1+e^−x)
//   HardSigmoid max(0, min(1, αx+β)) · HardSwish x·max(0, min(1, x/6+1/2)) · Tanh tanh(x)
// sigmoid_ort() is ONNX Runtime's x86 logistic (ort_float.hpp: a rational approximation evaluated with
// FMA), which ORT's Sigmoid and QLinearSigmoid compute; the onnx_float policy uses it so quantized
// sigmoid tables equal ORT's bit for bit.
// A quantized activation is defined as Q_out(f(DQ_in(q))): dequantize, apply f in fp32, quantize
// with round half to even and saturation. For 8-bit inputs that definition is tabulated once per
// layer (256 entries), so the table IS the definition evaluated at every input value — exact by
// construction. 16-bit inputs evaluate the same definition per element. ReLU and Clip are also
// exactly a clamp in the integer domain when input and output share quantization; the table
// covers the general case.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <ostream>
#include <string_view>

#include "qnn/core/dtype.hpp"
#include "qnn/core/tensor.hpp"
#include "qnn/kernels/ref/broadcast.hpp"
#include "qnn/kernels/ref/ort_float.hpp"
#include "qnn/numerics/quantize.hpp"

namespace qnn::ref {

enum class ActivationKind : std::uint8_t { relu, clip, leaky_relu, sigmoid, hard_sigmoid, hard_swish, tanh };

struct Activation {
  ActivationKind kind = ActivationKind::relu;
  float alpha = 0.01f;  // LeakyRelu α; HardSigmoid α
  float beta = 0.5f;    // HardSigmoid β
  float lo = -std::numeric_limits<float>::infinity();  // Clip
  float hi = std::numeric_limits<float>::infinity();
  bool ort_logistic = false;  // Sigmoid: ONNX Runtime's approximation (sigmoid_ort)

  static Activation relu() { return {ActivationKind::relu}; }
  static Activation clip(float l, float h) { return {ActivationKind::clip, 0, 0, l, h}; }
  static Activation leaky_relu(float a = 0.01f) { return {ActivationKind::leaky_relu, a}; }
  static Activation sigmoid() { return {ActivationKind::sigmoid}; }
  static Activation hard_sigmoid(float a = 0.2f, float b = 0.5f) { return {ActivationKind::hard_sigmoid, a, b}; }
  static Activation hard_swish() { return {ActivationKind::hard_swish}; }
  static Activation tanh() { return {ActivationKind::tanh}; }
  // ONNX Runtime's sigmoid (ort::logistic) instead of the formula.
  static Activation sigmoid_ort() {
    Activation a{ActivationKind::sigmoid};
    a.ort_logistic = true;
    return a;
  }

  static float relu_of(float x) { return x < 0.0f ? 0.0f : x; }  // NaN passes through
  static float clip_of(float x, float l, float h) { return x < l ? l : (x > h ? h : x); }

  float operator()(float x) const {
    switch (kind) {
      case ActivationKind::relu: return relu_of(x);
      case ActivationKind::clip: return clip_of(x, lo, hi);
      case ActivationKind::leaky_relu: return x < 0.0f ? alpha * x : x;
      case ActivationKind::sigmoid: return ort_logistic ? ort::logistic(x) : 1.0f / (1.0f + std::exp(-x));
      case ActivationKind::hard_sigmoid: return std::max(0.0f, std::min(1.0f, alpha * x + beta));
      case ActivationKind::hard_swish: return x * std::max(0.0f, std::min(1.0f, x / 6.0f + 0.5f));
      case ActivationKind::tanh: return std::tanh(x);
    }
    return x;
  }
};

// fp32 (or bf16) element-wise activation.
template <class T>
void activation_float(TensorView<const T> x, TensorView<T> y, const Activation& f) {
  // Relu and Clip, most of a float model's activations, with the kind decided once, not per element.
  if (f.kind == ActivationKind::relu)
    unary(x, y, [](T v) { return T(Activation::relu_of(static_cast<float>(v))); });
  else if (f.kind == ActivationKind::clip)
    unary(x, y, [lo = f.lo, hi = f.hi](T v) { return T(Activation::clip_of(static_cast<float>(v), lo, hi)); });
  else
    unary(x, y, [&](T v) { return T(f(static_cast<float>(v))); });
}

// Q_out(f(DQ_in(q))) for one input value.
template <QuantStorage TIn, QuantStorage TOut>
TOut quantized_activation_value(TIn q, const Activation& f, float s_x, std::int32_t zx, float s_y,
                                std::int32_t zy) {
  return quantize_value<TOut>(f(dequantize_value(q, s_x, zx)), s_y, zy);
}

// The 256-entry table of an 8-bit quantized activation, indexed by the input's bit pattern.
template <Int8Storage TIn, Int8Storage TOut>
struct ActivationTable {
  std::array<TOut, 256> table{};

  ActivationTable(const Activation& f, float s_x, std::int32_t zx, float s_y, std::int32_t zy) {
    for (int v = min_of<TIn>(); v <= max_of<TIn>(); ++v)
      table[index(static_cast<TIn>(v))] = quantized_activation_value<TIn, TOut>(static_cast<TIn>(v), f, s_x, zx, s_y, zy);
  }
  static std::size_t index(TIn v) { return static_cast<std::uint8_t>(v); }
  TOut operator()(TIn v) const { return table[index(v)]; }
};

template <QuantStorage TIn, QuantStorage TOut>
void activation_quantized(TensorView<const TIn> x, TensorView<TOut> y, const Activation& f, float s_x,
                          std::int32_t zx, float s_y, std::int32_t zy) {
  qnn::detail::check_zero_point<TIn>(zx);
  qnn::detail::check_zero_point<TOut>(zy);
  if constexpr (Int8Storage<TIn> && Int8Storage<TOut>) {
    const ActivationTable<TIn, TOut> lut(f, s_x, zx, s_y, zy);
    unary(x, y, lut);
  } else {
    unary(x, y, [&](TIn v) { return quantized_activation_value<TIn, TOut>(v, f, s_x, zx, s_y, zy); });
  }
}

}  // namespace qnn::ref
