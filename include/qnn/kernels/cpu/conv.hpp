// Fast CPU convolution: im2col (kernels/cpu/im2col.hpp) of each image and group into lane panels,
// GEMM against weights packed once, epilogue per block. NCHW in, NCHW out: lanes run along output pixels, so a block
// row is a run of one output channel's pixels.
//
// Integer: patches hold x − zx (0 for taps in the padding — the zero point, exactly as the
// reference treats them) and weights w − zw[m], both int16, so the int32 sums equal the
// reference's Σ(x − zx)(w − zw) with no correction terms; or, for layers whose weights allow it
// (kernels/cpu/u8s8.hpp), patches hold x − the layer's byte shift as unsigned bytes and weights
// w − zw as signed bytes, and a per-channel correction folded into the bias restores the same sums.
// Float/bf16: patches hold x (0 in the padding), weights w (rounded to bf16 once for bf16 layers;
// products of bf16 values are exact in fp32, so the FMA adds the same value the reference's
// multiply-then-add does, only in another order).
// Parallel over (image, group, pixel chunk) items; every output is computed by the same code
// whatever the split. A max pooling fused after the conv (graph/passes/fuse_pool.hpp) is applied
// per (image, group) as soon as the group's output is complete, or on the int32 sums in the
// epilogue when the requantization never decreases (ConvOutput and pool_sums_lanes below).
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <numeric>
#include <span>
#include <utility>
#include <vector>

#include "qnn/core/aligned_buffer.hpp"
#include "qnn/core/dtype.hpp"
#include "qnn/core/error.hpp"
#include "qnn/core/tensor.hpp"
#include "qnn/kernels/cpu/exec.hpp"
#include "qnn/kernels/cpu/gemm.hpp"
#include "qnn/kernels/cpu/im2col.hpp"
#include "qnn/kernels/cpu/pack.hpp"
#include "qnn/kernels/cpu/pool.hpp"
#include "qnn/kernels/geometry.hpp"
#include "qnn/numerics/requantize.hpp"

namespace qnn::cpu {

// Weights of one conv layer as broadcast rows, group by group.
template <class T>  // std::int32_t (words of int16 pairs or byte quads) or float
struct PackedConvWeights {
  std::int64_t groups = 1, m_per_group = 0, k = 0, ksteps = 0;
  int step = 1;  // k per broadcast element: 2 (int16 pairs), 4 (bytes) or 1 (float)
  std::int64_t unit = 1;  // conv_channel_unit: `step` when k runs in channel units, else 1
  BytePairing pairing;    // bytes: paired quads and their fixes (kernels/cpu/u8s8.hpp)
  AlignedBuffer data;
  const T* group(std::int64_t g) const {
    return reinterpret_cast<const T*>(data.data()) + g * m_per_group * ksteps;
  }
};

// The k order of an integer layer packed `step` k per unit. In the weights' order (channel, kernel
// row, kernel column) a k-step is `step` consecutive taps, which im2col assembles for every pixel
// from `step` frame rows — for every tap, so each input value is handled K·step/C times. When the
// group's channels come in whole steps, k runs instead over (channel block, kernel row, kernel
// column, channel in block): a k-step is `step` channels at one tap, stored together in the frame
// (frame_input with `unit`), and im2col copies whole units. The unit is then `step`, else 1 (the
// weights' order: conv1 of the Fashion-MNIST CNN, one channel). Integer sums do not depend on the
// order, and the byte kernel's pair rule is checked on the pairs of the order packed.
inline std::int64_t conv_channel_unit(std::int64_t c_per_group, int step) {
  return c_per_group % step == 0 ? step : 1;
}

// w' = w − zw of output channel m and k-step element j in the order of `unit` (conv_channel_unit),
// for w: M × C/G × KH × KW (contiguous) and zero points one per output channel (or one for all).
template <class TW>
auto conv_weight_values(TensorView<const TW> w, std::span<const std::int32_t> w_zp, std::int64_t unit = 1) {
  const std::int64_t k = w.numel() / w.dim(0), taps = w.dim(2) * w.dim(3);
  return [flat = w.span(), w_zp, k, taps, unit](std::int64_t m, std::int64_t j) {
    const std::int32_t zw = w_zp[w_zp.size() == 1 ? 0 : static_cast<std::size_t>(m)];
    // j = (block·taps + tap)·unit + channel in block → weight (block·unit + channel in block, tap)
    const std::int64_t t = j / unit, kk = ((t / taps) * unit + j % unit) * taps + t % taps;
    return static_cast<std::int32_t>(flat[static_cast<std::size_t>(m * k + kk)]) - zw;
  };
}

// As int16 pairs, or as signed bytes when `bytes` (kernels/cpu/u8s8.hpp decides), in channel units
// where the channels allow (conv_channel_unit); bytes less the fixes of `pairing`.
template <class TW>
PackedConvWeights<std::int32_t> pack_conv_weights_int(TensorView<const TW> w, std::span<const std::int32_t> w_zp,
                                                       std::int64_t groups, bool bytes, BytePairing pairing = {}) {
  PackedConvWeights<std::int32_t> p;
  p.groups = groups;
  p.m_per_group = w.dim(0) / groups;
  p.k = w.numel() / w.dim(0);
  p.step = bytes ? 4 : 2;
  p.unit = conv_channel_unit(w.dim(1), p.step);
  p.ksteps = (p.k + p.step - 1) / p.step;
  p.data = AlignedBuffer(static_cast<std::size_t>(w.dim(0) * p.ksteps) * 4);
  auto* dst = reinterpret_cast<std::int32_t*>(p.data.data());
  const auto values = conv_weight_values(w, w_zp, p.unit);
  if (!bytes) {
    pack_bcast_words<std::int16_t>(dst, w.dim(0), p.k, p.ksteps, values);
    return p;
  }
  pack_bcast_words<std::int8_t>(dst, w.dim(0), p.k, p.ksteps, values);
  for (const ByteFix& f : pairing.fixes) {
    auto& word = reinterpret_cast<std::uint32_t&>(dst[f.row * p.ksteps + f.k / 4]);
    const int shift = 8 * static_cast<int>(f.k % 4);
    const auto byte = static_cast<std::int32_t>(static_cast<std::int8_t>(word >> shift)) - f.w;
    word = (word & ~(0xFFu << shift)) | ((static_cast<std::uint32_t>(byte) & 0xFFu) << shift);
  }
  p.pairing = std::move(pairing);
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

inline LaneLayout conv_lane_layout(const ConvGeometry& g, int per_step) {
  LaneLayout lay;
  lay.rows = g.oh * g.ow;
  lay.k = g.k();
  lay.nr = panel_lanes();
  lay.ksteps = (lay.k + per_step - 1) / per_step;
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

// Work items are (image, group, pixel chunk). With at least as many (image, group) pairs as threads
// there is one chunk per pair; smaller batches (batch 1) split the output pixels, in whole panels,
// so that every thread has work — but only into chunks of at least kMinChunkMacs: a fork-join costs
// microseconds on an idle machine and can cost a scheduler time slice on a busy one, which a small
// layer (conv1 of the Fashion-MNIST CNN: 0.23 M MACs, about 20 µs) does not win back. A pixel's sums
// do not depend on which chunk computes it.
inline constexpr std::int64_t kMinChunkMacs = std::int64_t{1} << 20;

inline std::int64_t conv_chunks(const ConvGeometry& g, const LaneLayout& lay, const Exec& ex) {
  const std::int64_t pairs = g.n * g.groups;
  if (ex.threads() <= 1 || pairs >= ex.threads()) return 1;
  const std::int64_t pair_macs = g.m_per_group() * g.oh * g.ow * g.k();
  const std::int64_t wanted = (ex.threads() + pairs - 1) / pairs;
  return std::max<std::int64_t>(1, std::min({lay.panels(), wanted, pair_macs / kMinChunkMacs}));
}

// Max pooling on the sums. When an integer conv's requantization never decreases (onnx_float with
// factors ≥ 0: max commutes with it) and the pooling's windows tile the conv's output rows —
// kernel = stride, kw 1 or 2, no padding or dilation, every window whole: the 2×2/2 pool of most
// CNNs — the epilogue pools the int32 sums of each block (max_pool_sums) and only the pooled sums
// are requantized: a quarter of them for 2×2, in long rows once the group is done, with no pooling
// pass over staged outputs. The result is the unfused one bit for bit (docs/numerics.md §4.7).
// The lanes keep their order; GEMM blocks are cut at whole runs of KH output rows (KH·OW lanes) —
// every block a multiple of both the run and the panel width, at most kBlockPanels panels — so
// every window lies in one block, and rows no window covers are not computed. The bias is added to
// the pooled sums by the requantization: max commutes with adding a channel's constant, and the
// reference's bound (which includes the bias) keeps them in int32. The byte kernel's sums differ
// from the reference's by another per-channel constant (its bias, kernels/cpu/u8s8.hpp), which max
// commutes with as long as they do not wrap: the caller checks K·255·128 < 2^31.
//
// The lanes of one run of KH output rows when `pool` over g's output can run on the sums, else 0.
inline std::int64_t pool_sums_lanes(const ConvGeometry& g, const PoolGeometry& pool, std::int64_t nr) {
  const Window2D& w = pool.win;
  const std::int64_t run = w.kernel[0] * g.ow;
  const bool tiles = w.kernel == w.strides && (w.kernel[1] == 1 || w.kernel[1] == 2) &&
                     w.kernel[0] * w.kernel[1] > 1 && w.dilations == std::array<std::int64_t, 2>{1, 1} &&
                     w.pads == std::array<std::int64_t, 4>{0, 0, 0, 0} && pool.oh >= 1 && pool.ow >= 1 &&
                     pool.oh * w.kernel[0] <= g.oh && pool.ow * w.kernel[1] <= g.ow;
  return tiles && std::lcm(run, nr) <= kBlockPanels * nr ? run : 0;
}

// Where a conv writes. Plain: straight into y (N×M×OH×OW). With a max pooling fused after it, into
// y's N×M×POH×POW: on the sums (above) when `sums_run` > 0, with the group's pooled sums in the
// stage; otherwise each (image, group)'s output is staged in the thread's workspace and, once
// complete, pooled into y while it is still in cache: the full-size output never goes to memory
// (for conv1 of the Fashion-MNIST CNN at batch 256, 25.7 MB written and read again in fp32).
// Pooling only selects values, so the result is the unfused one bit for bit; the item that stages
// a group must then compute all of it, so pooled convs do not split an image's pixels between
// threads.
template <class TOut>
struct ConvOutput {
  TOut* y = nullptr;
  const PoolGeometry* pool = nullptr;  // over the conv's output (n, m, oh, ow); null: not pooled
  std::int64_t sums_run = 0;           // pool_sums_lanes when pooled on the sums, else 0

  bool staged() const { return pool && sums_run == 0; }
  std::int64_t pooled_plane() const { return pool->oh * pool->ow; }
  std::size_t stage_bytes(const ConvGeometry& g) const {
    if (!pool) return 0;
    if (sums_run > 0) return static_cast<std::size_t>(g.m_per_group() * pooled_plane()) * sizeof(std::int32_t);
    return static_cast<std::size_t>(g.m_per_group() * g.oh * g.ow + max_pool_planes_scratch(*pool)) * sizeof(TOut);
  }
  // Output channel `grp`·M/G of image n at pixel 0: in y, or in the stage.
  TOut* group_out(const ConvGeometry& g, std::int64_t n, std::int64_t grp, std::byte* stage) const {
    if (staged()) return reinterpret_cast<TOut*>(stage);
    return y + (n * g.m + grp * g.m_per_group()) * (pool ? pooled_plane() : g.oh * g.ow);
  }
  void finish(const ConvGeometry& g, std::int64_t n, std::int64_t grp, std::byte* stage) const {
    if (!staged()) return;
    const std::int64_t staged = g.m_per_group() * g.oh * g.ow;
    const auto* src = reinterpret_cast<const TOut*>(stage);
    TOut* dst = y + (n * g.m + grp * g.m_per_group()) * pool->oh * pool->ow;
    max_pool_planes(*pool, src, dst, g.m_per_group(), reinterpret_cast<TOut*>(stage) + staged);
  }
};

// The driver shared by integer and float convolution: per work item, frame the group's input
// (frame_input: elements x − sub, padding zx − sub; in units when the weights are packed in channel
// units, unit > 1), gather the chunk's panels, then gemm(lanes, chunk layout, grp, first pixel,
// gemm scratch, out, stage) with `out` the group's output (ConvOutput::group_out), finished once the
// item is done.
template <class Elem, class TIn, class TOut, class Gemm>
void conv2d_panels(const ConvGeometry& g, const TIn* x, std::int32_t zx, std::int32_t sub, std::int64_t unit,
                   const ConvOutput<TOut>& out, const Exec& ex, Gemm&& gemm) {
  constexpr int per_step = kStep<Elem>;
  LaneLayout lay = conv_lane_layout(g, per_step);
  if (out.sums_run > 0) lay.rows = out.pool->oh * out.sums_run;  // the rows windows cover
  const std::int64_t chunks = out.pool ? 1 : conv_chunks(g, lay, ex);
  const std::int64_t max_panels = (lay.panels() + chunks - 1) / chunks;
  const bool units = per_step > 1 && unit > 1;
  const bool direct = !units && frame_is_input<Elem, TIn>(g, sub);
  const auto aligned = [](std::size_t b) { return (b + 63) / 64 * 64; };
  const std::size_t lane_bytes = aligned(static_cast<std::size_t>(max_panels * lay.panel_elems(per_step)) * sizeof(Elem));
  // Pooling on the sums reads a little past a block's accumulators (simd::kPoolSumsOverRead).
  const std::size_t gemm_bytes =
      aligned(gemm_scratch_bytes() + (out.sums_run > 0 ? simd::kPoolSumsOverRead * sizeof(std::int32_t) : 0));
  const std::size_t frame_bytes = direct ? 0 : aligned(static_cast<std::size_t>(frame_elems(g)) * sizeof(Elem));
  const std::size_t pix_bytes = aligned(static_cast<std::size_t>(max_panels * lay.nr) * 8);
  const std::size_t tap_bytes = aligned(static_cast<std::size_t>(lay.k) * 8);
  const std::size_t stage_bytes = aligned(out.stage_bytes(g));
  ex.parallel(g.n * g.groups * chunks, [&](Workspace& ws, std::int64_t b, std::int64_t e) {
    std::byte* mem = ws.get(lane_bytes + gemm_bytes + frame_bytes + pix_bytes + tap_bytes + stage_bytes);
    auto* lanes = reinterpret_cast<Elem*>(mem);
    std::byte* scratch = mem + lane_bytes;
    auto* frame = reinterpret_cast<Elem*>(scratch + gemm_bytes);
    auto* pix = reinterpret_cast<std::int64_t*>(scratch + gemm_bytes + frame_bytes);
    auto* tap = reinterpret_cast<std::int64_t*>(scratch + gemm_bytes + frame_bytes + pix_bytes);
    std::byte* stage = scratch + gemm_bytes + frame_bytes + pix_bytes + tap_bytes;
    tap_offsets(g, tap, units ? unit : 1);
    std::int64_t framed = -1;  // the (image, group) pair whose frame is in `frame`
    for (std::int64_t item = b; item < e; ++item) {
      const std::int64_t pair = item / chunks, chunk = item % chunks;
      const std::int64_t n = pair / g.groups, grp = pair % g.groups;
      const TIn* img = x + n * g.c * g.h * g.w;
      const Elem* src = nullptr;
      if constexpr (sizeof(Elem) == sizeof(TIn)) {
        if (direct) src = reinterpret_cast<const Elem*>(img + grp * g.c_per_group() * g.h * g.w);
      }
      if (!src) {
        if (framed != pair) frame_input(g, img, zx, sub, grp, frame, units ? unit : 1);
        framed = pair;
        src = frame;
      }
      const std::int64_t p0 = chunk * lay.panels() / chunks, p1 = (chunk + 1) * lay.panels() / chunks;
      if (p0 == p1) continue;
      LaneLayout part = lay;
      part.rows = std::min(lay.rows, p1 * lay.nr) - p0 * lay.nr;
      pixel_offsets(g, p0 * lay.nr, lay.rows, (p1 - p0) * lay.nr, pix);
      if (units) {  // whole units: the gather of single k-steps, on 32-bit words
        LaneLayout words = lay;
        words.k = lay.ksteps;
        gather_panels(reinterpret_cast<const std::uint32_t*>(src), tap, words, pix, p1 - p0,
                      reinterpret_cast<std::uint32_t*>(lanes));
      } else {
        gather_panels(src, tap, lay, pix, p1 - p0, lanes);
      }
      gemm(lanes, part, grp, p0 * lay.nr, scratch, out.group_out(g, n, grp, stage), stage);
      out.finish(g, n, grp, stage);
    }
  }, 1);
}

// Integer conv. x: N×C×H×W contiguous; out.y: N×M×OH×OW (or the pooled shape) contiguous. `bias`
// and `byte_shift` are the ones the packing needs: the layer's bias for int16 weights (the shift
// is then unused), byte_kernel_bias's and byte_plan's for bytes.
template <QuantStorage TIn, QuantStorage TOut, RequantPolicyType P>
void conv2d_int(const ConvGeometry& g, const TIn* x, std::int32_t zx, std::int32_t byte_shift,
                const PackedConvWeights<std::int32_t>& w,
                std::span<const std::int32_t> bias, const OutputStage<P>& stage, std::span<const float> onnx_mult,
                const ConvOutput<TOut>& out, const Exec& ex) {
  const std::int64_t plane = g.oh * g.ow;
  const auto gemm = [&](const auto* lanes, const LaneLayout& part, std::int64_t grp, std::int64_t l0,
                        std::byte* scratch, TOut* ygrp, std::byte* stage_mem) {
    auto* acc_scratch = reinterpret_cast<std::int32_t*>(scratch);
    const ByteFixes fixes = byte_fixes(w.pairing, grp * w.m_per_group, w.m_per_group);
    if (out.sums_run == 0) {
      TOut* yimg = ygrp + l0;
      gemm_int(lanes, part, w.group(grp), w.m_per_group, fixes, acc_scratch,
               [&](std::int64_t s0, std::int64_t rows, std::int64_t c0, std::int64_t cols, const std::int32_t* acc,
                   std::int64_t stride) {
                 requantize_block(acc, stride, rows, cols, grp * w.m_per_group + s0, bias, stage, onnx_mult,
                                  yimg + s0 * plane + c0, plane, true);
               });
      return;
    }
    // Pooled on the sums (the item is the whole group: l0 = 0): blocks of whole runs pool into the
    // stage, which is requantized into y once complete.
    const std::int64_t pooled = out.pooled_plane();
    auto* sums = reinterpret_cast<std::int32_t*>(stage_mem);
    simd::PoolSumsArgs a;
    a.kh = out.pool->win.kernel[0];
    a.kw = out.pool->win.kernel[1];
    a.w = g.ow;
    a.ow = out.pool->ow;
    a.out_stride = pooled;
    const std::int64_t unit = std::lcm(out.sums_run, part.nr);  // lanes: whole runs, whole panels
    const std::int64_t block_panels = kBlockPanels * part.nr / unit * unit / part.nr;
    gemm_int(lanes, part, w.group(grp), w.m_per_group, fixes, acc_scratch,
             [&](std::int64_t s0, std::int64_t rows, std::int64_t c0, std::int64_t cols, const std::int32_t* acc,
                 std::int64_t stride) {
               a.acc = acc;
               a.acc_stride = stride;
               a.rows = rows;
               a.groups = cols / out.sums_run;
               const std::int64_t q0 = c0 / out.sums_run * a.ow;  // the block's first pooled pixel
               a.out = sums + s0 * pooled + q0;
               a.out_room = pooled - q0;  // later blocks of the row rewrite what lands past the block
               max_pool_sums(a);
             }, 0, -1, block_panels);
    requantize_block(sums, pooled, w.m_per_group, pooled, grp * w.m_per_group, bias, stage, onnx_mult, ygrp, pooled,
                     true);
  };
  if (w.step == 4) return conv2d_panels<std::uint8_t>(g, x, zx, byte_shift, w.unit, out, ex, gemm);
  conv2d_panels<std::int16_t>(g, x, zx, zx, w.unit, out, ex, gemm);
}

// Float conv (TIn float or bf16; weights packed as floats, bf16-rounded for bf16 layers).
template <class TIn>
void conv2d_float(const ConvGeometry& g, const TIn* x, const PackedConvWeights<float>& w, std::span<const float> bias,
                  float lo, float hi, const ConvOutput<float>& out, const Exec& ex) {
  const std::int64_t plane = g.oh * g.ow;
  conv2d_panels<float>(g, x, 0, 0, 1, out, ex, [&](const float* lanes, const LaneLayout& part, std::int64_t grp,
                                             std::int64_t l0, std::byte* scratch, float* ygrp, std::byte*) {
    F32Output o;
    o.bias = bias.empty() ? nullptr : bias.data() + grp * w.m_per_group;
    o.lo = lo;
    o.hi = hi;
    o.out = ygrp + l0;
    o.out_stride = plane;
    gemm_f32(lanes, part, w.group(grp), w.m_per_group, o, reinterpret_cast<float*>(scratch));
  });
}

}  // namespace qnn::cpu
