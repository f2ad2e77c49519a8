// Arguments of the per-target GEMM blocks and epilogues (kernels/simd/gemm-inl.hpp). Plain
// structs, so the per-target functions have one non-template signature each and can be exported
// for run-time dispatch.
#pragma once

#include <cstdint>

namespace qnn::simd {

// out[s·out_stride + l] = Σ_q madd(lanes panel(l / nr)[q], bcast[s][q]) for s < rows, l < panels·nr.
struct GemmI16Args {
  const std::int16_t* lanes = nullptr;  // first panel of the block (64-byte aligned)
  std::int64_t panel_stride = 0;        // int16 elements per panel
  std::int64_t panels = 0;
  const std::int32_t* bcast = nullptr;  // first broadcast row of the block
  std::int64_t bcast_stride = 0;        // int32 words per row
  std::int64_t rows = 0;
  std::int64_t ksteps = 0;              // k-pairs
  std::int32_t* out = nullptr;
  std::int64_t out_stride = 0;
};

// The same sums over byte operands: each int32 lane adds, per k-quad, the two int16 results of
// _mm*_maddubs_epi16 (u8 × s8 pairs, saturating — kernels/cpu/u8s8.hpp admits only layers where no
// pair can saturate). Which operand holds the unsigned bytes is `lanes_unsigned`: conv patches
// (true) or FC activations (false, the lanes being the FC's weights).
struct GemmU8S8Args {
  const std::uint8_t* lanes = nullptr;  // first panel of the block (64-byte aligned)
  std::int64_t panel_stride = 0;        // bytes per panel
  std::int64_t panels = 0;
  const std::int32_t* bcast = nullptr;  // first broadcast row of the block: four bytes per word
  std::int64_t bcast_stride = 0;        // int32 words per row
  std::int64_t rows = 0;
  std::int64_t ksteps = 0;              // k-quads
  std::int32_t* out = nullptr;
  std::int64_t out_stride = 0;
  bool lanes_unsigned = true;
  bool paired = false;  // two k-quads summed in int16 per widening (kernels/cpu/u8s8.hpp admits it)
};

// out[s·out_stride + l] = min(max(fma-chain, lo), hi), where each sum starts from the bias and adds
// lanes panel(l / nr)[k]·bcast[s][k] for k ascending: the reference's order (docs/numerics.md §8).
// The bias and the clamp are applied here, in registers, so the block goes to its destination once.
struct GemmF32Args {
  const float* lanes = nullptr;
  std::int64_t panel_stride = 0;  // floats per panel
  std::int64_t panels = 0;
  const float* bcast = nullptr;
  std::int64_t bcast_stride = 0;
  std::int64_t rows = 0;
  std::int64_t ksteps = 0;        // k
  const float* bias = nullptr;    // the block's first row's (or first lane's) bias; null: none
  bool bias_per_lane = false;     // bias[l] (FC: one per output column) rather than bias[s] (conv)
  float lo = 0.0f, hi = 0.0f;     // the clamp of a fused ReLU/Clip (±∞ without one)
  float* out = nullptr;
  std::int64_t out_stride = 0;
};

// onnx_float requantization of an int32 block (rows × cols) into 8-bit outputs.
struct RequantArgs {
  const std::int32_t* acc = nullptr;
  std::int64_t acc_stride = 0;
  std::int64_t rows = 0;
  std::int64_t cols = 0;
  const std::int32_t* bias = nullptr;  // indexed by channel; may be null
  const float* mult = nullptr;         // indexed by channel (or [0] when !per_channel)
  bool per_channel = false;
  bool channel_is_row = true;          // channel = channel0 + row (conv) or channel0 + col (FC)
  std::int64_t channel0 = 0;
  std::int32_t zp = 0, lo = 0, hi = 0;
  void* out = nullptr;
  std::int64_t out_stride = 0;         // elements
};

}  // namespace qnn::simd
