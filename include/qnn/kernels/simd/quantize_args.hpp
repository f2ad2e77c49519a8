// Arguments of the per-target QuantizeLinear rows (kernels/simd/quantize-inl.hpp).
#pragma once

#include <cstdint>

namespace qnn::simd {

// y[i] = clamp(rne(x[i] / scale), qmin − zp, qmax − zp) + zp for i < n, NaN → qmin, where qmin and
// qmax are the limits of the output type (docs/numerics.md §2).
struct QuantizeArgs {
  const float* x = nullptr;
  void* y = nullptr;
  std::int64_t n = 0;
  float scale = 1.0f;
  std::int32_t zp = 0;
};

}  // namespace qnn::simd
