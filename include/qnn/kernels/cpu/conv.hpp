// Fast CPU convolution: im2col of each image (and group) into lane panels, GEMM against weights
// packed once, epilogue per block. NCHW in, NCHW out: lanes run along output pixels, so a block
// row is a run of one output channel's pixels.
//
// Integer: patches hold x − zx (0 for taps in the padding — the zero point, exactly as the
// reference treats them) and weights w − zw[m], both int16, so the int32 sums equal the
// reference's Σ(x − zx)(w − zw) with no correction terms. Float/bf16: patches hold x (0 in the
// padding), weights w (rounded to bf16 once for bf16 layers; products of bf16 values are exact in
// fp32, so the FMA adds the same value the reference's multiply-then-add does, only in another
// order).
// Parallel over (image, group) pairs; every output is computed by the same code whatever the split.
#pragma once

#include <algorithm>
#include <cstdint>
#include <span>
#include <vector>

#include "qnn/core/aligned_buffer.hpp"
#include "qnn/core/dtype.hpp"
#include "qnn/core/error.hpp"
#include "qnn/core/tensor.hpp"
#include "qnn/kernels/cpu/exec.hpp"
#include "qnn/kernels/cpu/gemm.hpp"
#include "qnn/kernels/cpu/pack.hpp"
#include "qnn/kernels/geometry.hpp"
#include "qnn/numerics/requantize.hpp"

namespace qnn::cpu {

// Weights of one conv layer as broadcast rows, group by group.
template <class T>  // std::int32_t (int16 pairs) or float
struct PackedConvWeights {
  std::int64_t groups = 1, m_per_group = 0, k = 0, ksteps = 0;
  AlignedBuffer data;
  const T* group(std::int64_t g) const {
    return reinterpret_cast<const T*>(data.data()) + g * m_per_group * ksteps;
  }
};

// w: M × C/G × KH × KW (contiguous); zero points one per output channel (or one for all).
template <class TW>
PackedConvWeights<std::int32_t> pack_conv_weights_i16(TensorView<const TW> w, std::span<const std::int32_t> w_zp,
                                                       std::int64_t groups) {
  PackedConvWeights<std::int32_t> p;
  p.groups = groups;
  p.m_per_group = w.dim(0) / groups;
  p.k = w.numel() / w.dim(0);
  p.ksteps = (p.k + 1) / 2;
  p.data = AlignedBuffer(static_cast<std::size_t>(w.dim(0) * p.ksteps) * 4);
  const auto flat = w.span();
  auto* dst = reinterpret_cast<std::int32_t*>(p.data.data());
  pack_bcast_i16(dst, w.dim(0), p.k, p.ksteps, [&](std::int64_t m, std::int64_t k) {
    const std::int32_t zw = w_zp[w_zp.size() == 1 ? 0 : static_cast<std::size_t>(m)];
    return static_cast<std::int32_t>(flat[static_cast<std::size_t>(m * p.k + k)]) - zw;
  });
  return p;
}

template <class TW>
PackedConvWeights<float> pack_conv_weights_f32(TensorView<const TW> w, std::int64_t groups) {
  PackedConvWeights<float> p;
  p.groups = groups;
  p.m_per_group = w.dim(0) / groups;
  p.k = w.numel() / w.dim(0);
  p.ksteps = p.k;
  p.data = AlignedBuffer(static_cast<std::size_t>(w.dim(0) * p.k) * 4);
  const auto flat = w.span();
  pack_bcast_f32(reinterpret_cast<float*>(p.data.data()), w.dim(0), p.k,
                 [&](std::int64_t m, std::int64_t k) { return static_cast<float>(flat[static_cast<std::size_t>(m * p.k + k)]); });
  return p;
}

// Patches of image `img` (C×H×W, contiguous), group `grp`, as lane panels. `Elem` is std::int16_t
// (value − zx) or float (value). Written k-major so each tap's (ky, kx) is decoded once.
template <class Elem, class TIn>
void im2col(const ConvGeometry& g, const TIn* img, std::int32_t zx, std::int64_t grp, const LaneLayout& lay,
            Elem* dst) {
  constexpr int per_step = std::same_as<Elem, std::int16_t> ? 2 : 1;
  const std::int64_t panel = lay.panel_elems(per_step);
  std::fill(dst, dst + lay.panels() * panel, Elem{});
  const std::int64_t kh = g.win.kernel[0], kw = g.win.kernel[1];
  const std::int64_t c0 = grp * g.c_per_group();
  for (std::int64_t k = 0; k < lay.k; ++k) {
    const std::int64_t ci = k / (kh * kw);
    const std::int64_t ky = (k / kw) % kh;
    const std::int64_t kx = k % kw;
    const TIn* plane = img + (c0 + ci) * g.h * g.w;
    const std::int64_t step = per_step == 2 ? k / 2 : k;
    const std::int64_t half = per_step == 2 ? k % 2 : 0;
    for (std::int64_t oy = 0; oy < g.oh; ++oy) {
      const std::int64_t iy = oy * g.win.strides[0] - g.win.pads[0] + ky * g.win.dilations[0];
      if (iy < 0 || iy >= g.h) continue;  // padding: stays 0
      const TIn* row = plane + iy * g.w;
      for (std::int64_t ox = 0; ox < g.ow; ++ox) {
        const std::int64_t ix = ox * g.win.strides[1] - g.win.pads[1] + kx * g.win.dilations[1];
        if (ix < 0 || ix >= g.w) continue;
        const std::int64_t p = oy * g.ow + ox;
        const std::int64_t at = (p / lay.nr) * panel + (step * lay.nr + p % lay.nr) * per_step + half;
        if constexpr (per_step == 2)
          dst[at] = static_cast<std::int16_t>(static_cast<std::int32_t>(row[ix]) - zx);
        else
          dst[at] = static_cast<float>(row[ix]);
      }
    }
  }
}

inline LaneLayout conv_lane_layout(const ConvGeometry& g, int per_step) {
  LaneLayout lay;
  lay.rows = g.oh * g.ow;
  lay.k = g.k();
  lay.nr = panel_lanes();
  lay.ksteps = per_step == 2 ? (lay.k + 1) / 2 : lay.k;
  return lay;
}

// Requantizes one block (rows = output channels c0.., cols = pixels l0..) into y (NCHW image).
template <class TOut, RequantPolicyType P>
void requantize_block(const std::int32_t* acc, std::int64_t acc_stride, std::int64_t rows, std::int64_t cols,
                      std::int64_t c0, std::span<const std::int32_t> bias, const OutputStage<P>& stage,
                      std::span<const float> onnx_mult, TOut* y, std::int64_t y_stride, bool channel_is_row) {
  const simd::KernelTable* t = simd::kernel_table();
  if constexpr (P::policy == RequantPolicy::onnx_float && Int8Storage<TOut>) {
    if (t) {
      simd::RequantArgs a;
      a.acc = acc;
      a.acc_stride = acc_stride;
      a.rows = rows;
      a.cols = cols;
      a.bias = bias.empty() ? nullptr : bias.data();
      a.mult = onnx_mult.data();
      a.per_channel = onnx_mult.size() > 1;
      a.channel_is_row = channel_is_row;
      a.channel0 = c0;
      a.zp = stage.zero_point;
      a.lo = stage.range.lo;
      a.hi = stage.range.hi;
      a.out = y;
      a.out_stride = y_stride;
      (std::same_as<TOut, std::uint8_t> ? t->requant_onnx_u8 : t->requant_onnx_i8)(a);
      return;
    }
  }
  for (std::int64_t r = 0; r < rows; ++r)
    for (std::int64_t c = 0; c < cols; ++c) {
      const std::int64_t ch = c0 + (channel_is_row ? r : c);
      const auto b = bias.empty() ? 0u : static_cast<std::uint32_t>(bias[static_cast<std::size_t>(ch)]);
      const auto v = static_cast<std::int32_t>(static_cast<std::uint32_t>(acc[r * acc_stride + c]) + b);
      y[r * y_stride + c] = static_cast<TOut>(stage(v, ch));
    }
}

// Integer conv. x: N×C×H×W contiguous; y: N×M×OH×OW contiguous.
template <QuantStorage TIn, QuantStorage TOut, RequantPolicyType P>
void conv2d_int(const ConvGeometry& g, const TIn* x, std::int32_t zx, const PackedConvWeights<std::int32_t>& w,
                std::span<const std::int32_t> bias, const OutputStage<P>& stage, std::span<const float> onnx_mult,
                TOut* y, const Exec& ex) {
  const LaneLayout lay = conv_lane_layout(g, 2);
  const std::size_t lane_bytes = static_cast<std::size_t>(lay.panels() * lay.panel_elems(2)) * 2;
  const std::int64_t plane = g.oh * g.ow;
  ex.parallel(g.n * g.groups, [&](Workspace& ws, std::int64_t b, std::int64_t e) {
    std::byte* mem = ws.get(lane_bytes + gemm_scratch_bytes());
    auto* lanes = reinterpret_cast<std::int16_t*>(mem);
    auto* scratch = reinterpret_cast<std::int32_t*>(mem + lane_bytes);
    for (std::int64_t item = b; item < e; ++item) {
      const std::int64_t n = item / g.groups, grp = item % g.groups;
      im2col(g, x + n * g.c * g.h * g.w, zx, grp, lay, lanes);
      TOut* yimg = y + (n * g.m + grp * w.m_per_group) * plane;
      gemm_i16(lanes, lay, w.group(grp), w.m_per_group, scratch,
               [&](std::int64_t s0, std::int64_t rows, std::int64_t l0, std::int64_t cols, const std::int32_t* acc,
                   std::int64_t stride) {
                 requantize_block(acc, stride, rows, cols, grp * w.m_per_group + s0, bias, stage, onnx_mult,
                                  yimg + s0 * plane + l0, plane, true);
               });
    }
  }, 1);
}

// Float conv (TIn float or bf16; weights packed as floats, bf16-rounded for bf16 layers).
template <class TIn>
void conv2d_float(const ConvGeometry& g, const TIn* x, const PackedConvWeights<float>& w, std::span<const float> bias,
                  float lo, float hi, float* y, const Exec& ex) {
  const LaneLayout lay = conv_lane_layout(g, 1);
  const std::size_t lane_bytes = static_cast<std::size_t>(lay.panels() * lay.panel_elems(1)) * 4;
  const std::int64_t plane = g.oh * g.ow;
  ex.parallel(g.n * g.groups, [&](Workspace& ws, std::int64_t b, std::int64_t e) {
    std::byte* mem = ws.get(lane_bytes + gemm_scratch_bytes());
    auto* lanes = reinterpret_cast<float*>(mem);
    auto* scratch = reinterpret_cast<float*>(mem + lane_bytes);
    for (std::int64_t item = b; item < e; ++item) {
      const std::int64_t n = item / g.groups, grp = item % g.groups;
      im2col(g, x + n * g.c * g.h * g.w, 0, grp, lay, lanes);
      float* yimg = y + (n * g.m + grp * w.m_per_group) * plane;
      gemm_f32(lanes, lay, w.group(grp), w.m_per_group, scratch,
               [&](std::int64_t s0, std::int64_t rows, std::int64_t l0, std::int64_t cols, const float* acc,
                   std::int64_t stride) {
                 for (std::int64_t r = 0; r < rows; ++r) {
                   const std::int64_t m = grp * w.m_per_group + s0 + r;
                   const float bm = bias.empty() ? 0.0f : bias[static_cast<std::size_t>(m)];
                   float* out = yimg + (s0 + r) * plane + l0;
                   for (std::int64_t c = 0; c < cols; ++c) out[c] = std::min(std::max(acc[r * stride + c] + bm, lo), hi);
                 }
               });
    }
  }, 1);
}

}  // namespace qnn::cpu
