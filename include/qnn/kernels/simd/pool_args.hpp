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

// The max pooling a conv runs on its int32 sums, block by block, in its epilogue (kernels/cpu/
// conv.hpp, pool_sums_lanes): `rows` block rows, acc_stride apart, each `groups` runs of kh conv
// output rows of width w; windows kh × kw (kw 1 or 2) at stride (kh, kw) tile them, so run g of row
// s pools to one output row of ow = ⌊w / kw⌋ values at out + s·out_stride + g·ow. Loads may reach
// up to two vectors (2·N int32, 32 on AVX-512) past the last window of the last row (rows narrower
// than a vector are read as whole vectors): acc must have kPoolSumsOverRead readable elements
// after it.
inline constexpr std::int64_t kPoolSumsOverRead = 128;

struct PoolSumsArgs {
  const std::int32_t* acc = nullptr;
  std::int64_t acc_stride = 0;
  std::int64_t rows = 0, groups = 0;
  std::int64_t kh = 1, kw = 1, w = 0, ow = 0;
  std::int32_t* out = nullptr;
  std::int64_t out_stride = 0;
  // Elements of each output row from `out` on that may be written, in any order before the
  // kernel returns (those past the block's outputs are rewritten later): lets a narrow row be
  // stored as a whole vector.
  std::int64_t out_room = 0;
};

// Reduced elements per flat column pass of a pairs-tiling pool (below).
inline constexpr std::int64_t kMaxPoolPairBlock = 4096;

// Windows two columns wide at stride 2 that tile each row exactly (no left padding, no dilation,
// w = 2·ow: every column is in one window): the 2×2/2 pooling of most CNNs. Their column pass can
// run over whole planes as one flat array (kernels/simd/pool-inl.hpp) — for planes of at most
// kMaxPoolPairBlock reduced elements, so that the scratch stays small; the rows of larger planes are
// long enough for the general row path to waste little.
inline bool max_pool_pairs_tile_rows(const MaxPoolArgs& a) {
  return a.kw == 2 && a.sw == 2 && a.dw == 1 && a.pad_left == 0 && a.w == 2 * a.ow &&
         a.h * a.ow <= kMaxPoolPairBlock;
}

// Planes per flat column pass of a pairs-tiling pool: at least one.
inline std::int64_t max_pool_pair_block(const MaxPoolArgs& a) {
  return std::max<std::int64_t>(1, kMaxPoolPairBlock / std::max<std::int64_t>(1, a.h * a.ow));
}

// Pairs-tiling pools: the column-reduced rows of one block of planes and an output row, each with
// room for a vector's over-reach (at most 64 elements on any target). Others: a framed input row and
// an output row, each long enough for the output row rounded up to the vector length.
inline std::int64_t max_pool_scratch_elems(const MaxPoolArgs& a) {
  const std::int64_t row = a.ow + 64;
  if (max_pool_pairs_tile_rows(a)) return max_pool_pair_block(a) * a.h * a.ow + 64 + row;
  return row * std::max<std::int64_t>(a.sw, 2) + (a.kw - 1) * a.dw + a.pad_left + a.w + row;
}

}  // namespace qnn::simd
