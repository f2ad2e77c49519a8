// Arguments of the per-target max-pooling rows (kernels/simd/pool-inl.hpp): a plain struct, so the
// per-target function has one non-template signature per element type.
#pragma once

#include <algorithm>
#include <cstdint>

namespace qnn::simd {

// Max pooling of `planes` contiguous H×W planes into OH×OW planes. The caller guarantees that every
// window holds at least one input pixel (the reference rejects the others).
struct MaxPoolArgs {
  const void* x = nullptr;
  void* y = nullptr;
  std::int64_t planes = 0;
  std::int64_t h = 0, w = 0, oh = 0, ow = 0;
  std::int64_t kh = 1, kw = 1, sh = 1, sw = 1, dh = 1, dw = 1;
  std::int64_t pad_top = 0, pad_left = 0;
  void* scratch = nullptr;  // max_pool_scratch_elems(*this) elements of the pooled type
};

// Two row buffers: a framed input row and an output row, each long enough for the output row
// rounded up to the vector length (at most 64 elements on any target).
inline std::int64_t max_pool_scratch_elems(const MaxPoolArgs& a) {
  const std::int64_t row = a.ow + 64;
  return row * std::max<std::int64_t>(a.sw, 2) + (a.kw - 1) * a.dw + a.pad_left + a.w + row;
}

}  // namespace qnn::simd
