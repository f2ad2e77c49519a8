// im2col for the CPU convolution: the patches of a range of output pixels as lane panels
// (kernels/cpu/pack.hpp), in two steps that never divide per element.
//
// 1. frame_input: the group's input channels converted once to the packed element type — int16
//    (x − zx), unsigned bytes (x − the layer's byte shift, kernels/cpu/u8s8.hpp) or float — and
//    surrounded by the padding, whose value is the zero point converted the same way (0 for int16,
//    as the reference treats padded taps). Every tap of every output pixel then reads inside the frame, so step 2 has no
//    bounds checks.
// 2. gather_panels: the panels' element for (pixel, k-step) is the frame at (tap offset + pixel
//    offset), both from small tables built once per call. The pixels are taken a block at a time
//    and split into runs of consecutive frame elements (an output row at stride 1); then for each
//    k-step the block's row of "units" — an int16 tap pair or a byte tap quad as one 32-bit word,
//    or a float — is built run by run into a small buffer and cut into the panels, NR units each.
//    Working a run at a time instead of a panel at a time is what lets the loads be vectors: a
//    panel whose pixels straddle two output rows (half of them with 12-wide rows) is just the end
//    of one run and the start of the next, and the pair interleave of a run is a vector widening
//    instead of NR scalar copies. The k-step loop outside the panel loop keeps the two tap rows
//    hot. Runs of at least kChunk units are built in fixed kChunk-wide steps, the last one
//    overlapping the previous, so the compiler emits whole vectors and no scalar tail; shorter
//    runs (stride > 1, narrow outputs) are built one unit at a time.
// Layers packed in channel units (conv_channel_unit, kernels/cpu/conv.hpp) frame their input in
// units (frame_input's `unit`): a k-step's channels at one position are already one unit there, so
// step 2 is the single-k-step gather, on 32-bit words.
// Lanes past the last pixel repeat the last pixel: their sums are computed and discarded, and a
// repeated real value cannot overflow or trap where a zero would have been equally good.
//
// The old formulation decoded every (tap, pixel) with a 64-bit division and modulo by the panel
// width; on conv2 of the Fashion-MNIST CNN that was 68 % of the layer's time (docs/benchmarks.md).
#pragma once

#include <algorithm>
#include <bit>
#include <concepts>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "qnn/kernels/cpu/pack.hpp"
#include "qnn/kernels/geometry.hpp"

namespace qnn::cpu {

namespace im2col_detail {

// Width of the fixed steps in which runs are converted: 8 int16 → 8 words is one AVX2 vector
// store, 8 bytes → 8 int16 one SSE vector; targets with wider vectors lose little, as the rows of
// small feature maps are short anyway.
inline constexpr std::int64_t kChunk = 8;

// dst[i] = f(i) for i in [0, n): kChunk at a time when n ≥ kChunk (the last step overlaps the one
// before, rewriting equal values), one by one otherwise.
template <class T, class F>
inline void convert_run(T* dst, std::int64_t n, F f) {
  if (n < kChunk) {
    for (std::int64_t i = 0; i < n; ++i) dst[i] = f(i);
    return;
  }
  const auto chunk = [&](std::int64_t i0) {
    for (std::int64_t i = 0; i < kChunk; ++i) dst[i0 + i] = f(i0 + i);
  };
  std::int64_t i = 0;
  for (; i + kChunk <= n; i += kChunk) chunk(i);
  if (i < n) chunk(n - kChunk);
}

// An int16 panel k-step per lane as one 32-bit word: the even tap at the lower address.
inline constexpr int kEvenShift = std::endian::native == std::endian::little ? 0 : 16;
inline std::uint32_t pair_word(std::int16_t even, std::int16_t odd) {
  return std::uint32_t{static_cast<std::uint16_t>(even)} << kEvenShift |
         std::uint32_t{static_cast<std::uint16_t>(odd)} << (16 - kEvenShift);
}

// A byte panel k-step per lane: tap 4q at the lowest address.
inline std::uint32_t quad_word(std::uint8_t b0, std::uint8_t b1, std::uint8_t b2, std::uint8_t b3) {
  if constexpr (std::endian::native == std::endian::little)
    return std::uint32_t{b0} | std::uint32_t{b1} << 8 | std::uint32_t{b2} << 16 | std::uint32_t{b3} << 24;
  else
    return std::uint32_t{b3} | std::uint32_t{b2} << 8 | std::uint32_t{b1} << 16 | std::uint32_t{b0} << 24;
}

// An input value as a frame element: v − sub for integers (see the header comment).
template <class Elem, class TIn>
Elem frame_value(TIn v, std::int32_t sub) {
  if constexpr (std::is_integral_v<Elem>)
    return static_cast<Elem>(static_cast<std::int32_t>(v) - sub);
  else
    return static_cast<Elem>(v);
}

// Consecutive pixels l, l+1, … , l+n−1 of a block whose window origins are off, off+1, ….
struct Run {
  std::int64_t off;
  std::int32_t l, n;
};

}  // namespace im2col_detail

// Elements of one group's frame: c/groups planes of (h + pads) × (w + pads).
inline std::int64_t frame_elems(const ConvGeometry& g) {
  return g.c_per_group() * (g.h + g.win.pads[0] + g.win.pads[2]) * (g.w + g.win.pads[1] + g.win.pads[3]);
}

// True when the frame is the input itself, read as Elem: nothing to convert and no padding — a
// float layer, or a byte layer with shift 0 (an int8 value v ≥ 0 has the bits of uint8 v).
template <class Elem, class TIn>
bool frame_is_input(const ConvGeometry& g, std::int32_t sub) {
  const bool same = std::same_as<Elem, TIn> ? std::is_floating_point_v<Elem>
                                            : std::same_as<Elem, std::uint8_t> && sizeof(TIn) == 1 && sub == 0;
  return same && g.win.pads[0] == 0 && g.win.pads[1] == 0 && g.win.pads[2] == 0 && g.win.pads[3] == 0;
}

namespace im2col_detail {

// Writes `blocks` framed planes to out: each the rows of a source block converted by
// convert(source offset, n, dst) — the block's offsets start at block·step — surrounded by padding
// rows and columns of `pad`. Unpadded, a block's rows are one run.
template <class U, class Convert>
void frame_planes(const ConvGeometry& g, std::int64_t blocks, std::int64_t step, U pad, Convert&& convert, U* out) {
  const std::int64_t pt = g.win.pads[0], pl = g.win.pads[1], pb = g.win.pads[2], pr = g.win.pads[3];
  const std::int64_t wp = g.w + pl + pr;
  const bool padded = pt != 0 || pl != 0 || pb != 0 || pr != 0;
  for (std::int64_t b = 0; b < blocks; ++b) {
    const std::int64_t s0 = b * step;
    if (!padded) {
      convert(s0, g.h * g.w, out);
      out += g.h * g.w;
      continue;
    }
    std::fill(out, out + pt * wp, pad);
    out += pt * wp;
    for (std::int64_t y = 0; y < g.h; ++y, out += wp) {
      std::fill(out, out + pl, pad);
      convert(s0 + y * g.w, g.w, out + pl);
      std::fill(out + pl + g.w, out + wp, pad);
    }
    std::fill(out, out + pb * wp, pad);
    out += pb * wp;
  }
}

}  // namespace im2col_detail

// `Elem` is std::int16_t (value − zx: sub = zx), std::uint8_t (value − the byte shift: sub) or
// float (value; zx and sub are then 0); img is one C×H×W image. With unit = kStep<Elem> > 1 the
// frame is that of a layer packed in channel units (kernels/cpu/conv.hpp, conv_channel_unit): the
// group's channels in blocks of `unit`, a block's values at one position stored together as one
// 32-bit unit (the lowest channel at the lowest address). A k-step of that order — the block's
// channels at one tap — is then one unit of the frame, so gather_panels copies units (the float
// path, on 32-bit words) instead of assembling each from `unit` frame rows once per tap of every
// input value; assembling happens here, once. unit 1: the channels' planes one after another.
template <class Elem, class TIn>
void frame_input(const ConvGeometry& g, const TIn* img, std::int32_t zx, std::int32_t sub, std::int64_t grp,
                 Elem* dst, std::int64_t unit = 1) {
  using namespace im2col_detail;
  const std::int64_t plane = g.h * g.w;
  const TIn* src = img + grp * g.c_per_group() * plane;
  const auto v = [sub](TIn x) { return frame_value<Elem>(x, sub); };
  const Elem pad = frame_value<Elem>(zx, sub);  // the zero point as a frame element (0 for int16, float)
  if constexpr (kStep<Elem> > 1) {
    if (unit > 1) {
      constexpr std::int64_t s = kStep<Elem>;
      const auto word = [src, plane, v](std::int64_t i) {
        if constexpr (s == 4)
          return quad_word(v(src[i]), v(src[plane + i]), v(src[2 * plane + i]), v(src[3 * plane + i]));
        else
          return pair_word(v(src[i]), v(src[plane + i]));
      };
      std::uint32_t pad_word = 0;
      if constexpr (s == 4) pad_word = quad_word(pad, pad, pad, pad);
      else pad_word = pair_word(pad, pad);
      frame_planes(g, g.c_per_group() / s, s * plane, pad_word, [&](std::int64_t s0, std::int64_t n, std::uint32_t* d) {
        convert_run(d, n, [&word, s0](std::int64_t i) { return word(s0 + i); });
      }, reinterpret_cast<std::uint32_t*>(dst));
      return;
    }
  }
  frame_planes(g, g.c_per_group(), plane, pad, [&](std::int64_t s0, std::int64_t n, Elem* d) {
    convert_run(d, n, [src, v, s0](std::int64_t i) { return v(src[s0 + i]); });
  }, dst);
}

// Frame offsets of the k-steps: channel, then kernel row, then kernel column (the weights' order).
// With channel units (`unit` channels per frame element, frame_input) the same walk over
// channel blocks gives the offsets of the unit k-steps.
inline void tap_offsets(const ConvGeometry& g, std::int64_t* tap, std::int64_t unit = 1) {
  const std::int64_t hp = g.h + g.win.pads[0] + g.win.pads[2], wp = g.w + g.win.pads[1] + g.win.pads[3];
  std::int64_t k = 0;
  for (std::int64_t ci = 0; ci < g.c_per_group() / unit; ++ci)
    for (std::int64_t ky = 0; ky < g.win.kernel[0]; ++ky)
      for (std::int64_t kx = 0; kx < g.win.kernel[1]; ++kx)
        tap[k++] = ci * hp * wp + ky * g.win.dilations[0] * wp + kx * g.win.dilations[1];
}

// Frame offsets of the window origins of pixels [l0, l0 + count), count a multiple of the panel
// width; pixels from l_end on repeat the last real one (see the header comment). Output row by
// output row, an arithmetic sequence each: one loop the compiler vectorizes instead of a branch per
// pixel on the row's end (which the branch predictor missed once per row: 6 % of conv1's time in
// the Fashion-MNIST CNN).
inline void pixel_offsets(const ConvGeometry& g, std::int64_t l0, std::int64_t l_end, std::int64_t count,
                          std::int64_t* pix) {
  const std::int64_t wp = g.w + g.win.pads[1] + g.win.pads[3];
  const std::int64_t sy = g.win.strides[0] * wp, sx = g.win.strides[1];
  const std::int64_t real = std::min(count, l_end - l0);
  std::int64_t i = 0;
  for (std::int64_t oy = l0 / g.ow, ox = l0 % g.ow; i < real; ++oy, ox = 0) {
    const std::int64_t n = std::min(g.ow - ox, real - i), base = oy * sy + ox * sx;
    for (std::int64_t j = 0; j < n; ++j) pix[i + j] = base + j * sx;
    i += n;
  }
  for (; i < count; ++i) pix[i] = pix[i - 1];
}

template <int NR, class Elem>
void gather_panels_nr(const Elem* frame, const std::int64_t* tap, std::int64_t k, std::int64_t ksteps,
                      const std::int64_t* pix, std::int64_t panels, Elem* dst) {
  using namespace im2col_detail;
  constexpr std::int64_t per_unit = kStep<Elem>;  // elements per unit
  using Unit = std::conditional_t<per_unit == 1, Elem, std::uint32_t>;
  static_assert(sizeof(Unit) == per_unit * sizeof(Elem));
  // Pixels per block: its units (1 KiB) and runs stay in L1 next to the tap rows.
  constexpr std::int64_t kBlockPanels = 256 / NR;
  const std::int64_t panel = ksteps * NR;  // in units
  Unit units[kBlockPanels * NR];
  Run runs[kBlockPanels * NR];
  for (std::int64_t p0 = 0; p0 < panels; p0 += kBlockPanels) {
    const std::int64_t np = std::min(kBlockPanels, panels - p0);
    const std::int64_t* px = pix + p0 * NR;
    std::int64_t nruns = 0;
    for (std::int32_t l = 0, n = static_cast<std::int32_t>(np * NR), e; l < n; l = e) {
      for (e = l + 1; e < n && px[e] == px[e - 1] + 1;) ++e;
      runs[nruns++] = Run{px[l], l, e - l};
    }
    Elem* d = dst + p0 * panel * per_unit;
    for (std::int64_t q = 0; q < ksteps; ++q) {
      if constexpr (per_unit == 4) {
        // Taps past K repeat the last one: their weights are 0, so any real value will do.
        const Elem* s[4];
        for (std::int64_t j = 0; j < 4; ++j) s[j] = frame + tap[std::min(4 * q + j, k - 1)];
        for (std::int64_t r = 0; r < nruns; ++r) {
          const std::int64_t off = runs[r].off;
          const Elem *t0 = s[0] + off, *t1 = s[1] + off, *t2 = s[2] + off, *t3 = s[3] + off;
          convert_run(units + runs[r].l, runs[r].n,
                      [t0, t1, t2, t3](std::int64_t i) { return quad_word(t0[i], t1[i], t2[i], t3[i]); });
        }
      } else if constexpr (per_unit == 2) {
        const Elem* s0 = frame + tap[2 * q];
        if (2 * q + 1 < k) {
          const Elem* s1 = frame + tap[2 * q + 1];
          for (std::int64_t r = 0; r < nruns; ++r) {
            const Elem* a = s0 + runs[r].off;
            const Elem* b = s1 + runs[r].off;
            convert_run(units + runs[r].l, runs[r].n, [a, b](std::int64_t i) { return pair_word(a[i], b[i]); });
          }
        } else {  // odd K: the second half of the last pair is 0
          for (std::int64_t r = 0; r < nruns; ++r) {
            const Elem* a = s0 + runs[r].off;
            convert_run(units + runs[r].l, runs[r].n, [a](std::int64_t i) { return pair_word(a[i], 0); });
          }
        }
      } else {
        const Elem* s = frame + tap[q];
        for (std::int64_t r = 0; r < nruns; ++r) {
          const Elem* a = s + runs[r].off;
          convert_run(units + runs[r].l, runs[r].n, [a](std::int64_t i) { return a[i]; });
        }
      }
      for (std::int64_t p = 0; p < np; ++p)
        std::memcpy(d + (p * panel + q * NR) * per_unit, units + p * NR, sizeof(Unit) * NR);
    }
  }
}

// Panels of pixels [l0, l0 + panels·nr) from the frame; the k taps' offsets in `tap`.
template <class Elem>
void gather_panels(const Elem* frame, const std::int64_t* tap, const LaneLayout& lay, const std::int64_t* pix,
                   std::int64_t panels, Elem* dst) {
  switch (lay.nr) {
    case 4: return gather_panels_nr<4>(frame, tap, lay.k, lay.ksteps, pix, panels, dst);
    case 8: return gather_panels_nr<8>(frame, tap, lay.k, lay.ksteps, pix, panels, dst);
    case 16: return gather_panels_nr<16>(frame, tap, lay.k, lay.ksteps, pix, panels, dst);
    default: break;
  }
  // Any other width (no target has one today): the same layout, one lane at a time.
  constexpr int per_step = kStep<Elem>;
  const std::int64_t panel = lay.panel_elems(per_step);
  for (std::int64_t p = 0; p < panels; ++p)
    for (std::int64_t q = 0; q < lay.ksteps; ++q)
      for (std::int64_t r = 0; r < lay.nr; ++r)
        for (int h = 0; h < per_step; ++h) {
          const std::int64_t kk = q * per_step + h;
          dst[p * panel + (q * lay.nr + r) * per_step + h] =
              kk < lay.k ? frame[tap[kk] + pix[p * lay.nr + r]] : Elem{};
        }
}

}  // namespace qnn::cpu
