// ONNX Runtime's x86 fp32 idioms: the exact arithmetic the onnx_float policy reproduces for the ops
// whose ORT kernels do not follow the generic requantization of numerics/requantize.hpp
// (QLinearAdd, QLinearMul, QLinearAveragePool, QLinearSigmoid; docs/numerics.md §5).
//
// Every function here is one IEEE binary32 operation sequence, written out: fl(a·b) is `a * b` on
// floats, a fused multiply-add is std::fma (one rounding, correctly rounded by the C library
// whether or not the CPU has FMA). qnn builds in ISO C++ mode, so the compiler never contracts
// `a * b + c` on its own; where ORT's compiled code does contract, std::fma says so.
//
// Sources (ONNX Runtime 1.23–1.32, CPU EP on AVX2; /work/notes/ort-numerics.md has the line
// references and the experiments that pinned each rule):
//   cvtps2dq   the conversion MLAS's SSE/AVX kernels end with;
//   logistic   MlasLogisticKernelFma3 (core/mlas/lib/x86_64/LogisticKernelFma3.S), Eigen's
//              rational approximation evaluated with FMA.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>

#include "qnn/numerics/rounding.hpp"

namespace qnn::ref::ort {

// cvtps2dq under the default MXCSR: round half to even. NaN and values outside the int32 range give
// INT32_MIN (the "integer indefinite" value), which the saturating packs that follow turn into the
// storage minimum — what ORT returns, pinned here rather than left undefined.
inline std::int32_t cvtps2dq(float v) {
  if (!(v >= -2147483648.0f && v < 2147483648.0f)) return std::numeric_limits<std::int32_t>::min();
  return static_cast<std::int32_t>(round_half_even(static_cast<double>(v)));
}

// ORT's fp32 logistic on x86 with FMA3: clamp to [−18, 18], odd/even polynomials in x², one
// division, + ½, clamp below at 0 (no upper clamp; the result never exceeds 1 for |x| ≤ 18).
// NaN passes through.
inline float logistic(float x) {
  constexpr float a9 = 4.37031012579801e-11f, a7 = 1.15627324459942e-07f, a5 = 6.08574864600143e-05f,
                  a3 = 8.51377133304701e-03f, a1 = 2.48287947061529e-01f;
  constexpr float b10 = 6.10247389755681e-13f, b8 = 5.76102136993427e-09f, b6 = 6.29106785017040e-06f,
                  b4 = 1.70198817374094e-03f, b2 = 1.16817656904453e-01f, b0 = 9.93151921023180e-01f;
  if (std::isnan(x)) return x;
  const float v = x < -18.0f ? -18.0f : (x > 18.0f ? 18.0f : x);
  const float x2 = v * v;
  float p = std::fma(x2, a9, a7);
  p = std::fma(x2, p, a5);
  p = std::fma(x2, p, a3);
  p = std::fma(x2, p, a1);
  p = v * p;
  float q = std::fma(x2, b10, b8);
  q = std::fma(x2, q, b6);
  q = std::fma(x2, q, b4);
  q = std::fma(x2, q, b2);
  q = std::fma(x2, q, b0);
  const float y = p / q + 0.5f;
  return y < 0.0f ? 0.0f : y;
}

}  // namespace qnn::ref::ort
