// im2col for the CPU convolution: the patches of a range of output pixels as lane panels
// (kernels/cpu/pack.hpp), in two steps that never divide per element.
//
// 1. frame_input: the group's input channels converted once to the packed element type — int16
//    (x − zx) or float — and surrounded by the padding, whose value is 0 (the zero point minus
//    itself, as the reference treats padded taps). Every tap of every output pixel then reads
//    inside the frame, so step 2 has no bounds checks.
// 2. gather_panels: for each panel and k-step, NR loads from the frame at (tap offset + pixel
//    offset), both from small tables built once per call, stored contiguously into the panel. A
//    panel whose NR pixels lie in one output row at stride 1 reads NR consecutive elements (the
//    usual case away from row ends), which the compiler turns into vector copies: NR is a template
//    parameter (the panel width of the target: 4, 8 or 16 lanes).
// Lanes past the last pixel repeat the last pixel: their sums are computed and discarded, and a
// repeated real value cannot overflow or trap where a zero would have been equally good.
//
// The old formulation decoded every (tap, pixel) with a 64-bit division and modulo by the panel
// width; on conv2 of the Fashion-MNIST CNN that was 68 % of the layer's time (docs/benchmarks.md).
#pragma once

#include <algorithm>
#include <concepts>
#include <cstdint>
#include <cstring>

#include "qnn/kernels/cpu/pack.hpp"
#include "qnn/kernels/geometry.hpp"

namespace qnn::cpu {

// Elements of one group's frame: c/groups planes of (h + pads) × (w + pads).
inline std::int64_t frame_elems(const ConvGeometry& g) {
  return g.c_per_group() * (g.h + g.win.pads[0] + g.win.pads[2]) * (g.w + g.win.pads[1] + g.win.pads[3]);
}

// True when the frame of a float layer is the input itself (nothing to convert, no padding).
template <class Elem, class TIn>
bool frame_is_input(const ConvGeometry& g) {
  return std::same_as<Elem, TIn> && g.win.pads[0] == 0 && g.win.pads[1] == 0 && g.win.pads[2] == 0 &&
         g.win.pads[3] == 0;
}

// `Elem` is std::int16_t (value − zx) or float (value); img is one C×H×W image.
template <class Elem, class TIn>
void frame_input(const ConvGeometry& g, const TIn* img, std::int32_t zx, std::int64_t grp, Elem* dst) {
  const std::int64_t pt = g.win.pads[0], pl = g.win.pads[1], pb = g.win.pads[2], pr = g.win.pads[3];
  const std::int64_t wp = g.w + pl + pr;
  const TIn* src = img + grp * g.c_per_group() * g.h * g.w;
  Elem* out = dst;
  for (std::int64_t ci = 0; ci < g.c_per_group(); ++ci) {
    std::fill(out, out + pt * wp, Elem{});
    out += pt * wp;
    for (std::int64_t y = 0; y < g.h; ++y, src += g.w, out += wp) {
      std::fill(out, out + pl, Elem{});
      for (std::int64_t x = 0; x < g.w; ++x) {
        if constexpr (std::same_as<Elem, std::int16_t>)
          out[pl + x] = static_cast<std::int16_t>(static_cast<std::int32_t>(src[x]) - zx);
        else
          out[pl + x] = static_cast<float>(src[x]);
      }
      std::fill(out + pl + g.w, out + wp, Elem{});
    }
    std::fill(out, out + pb * wp, Elem{});
    out += pb * wp;
  }
}

// Frame offsets of the k taps: channel, then kernel row, then kernel column (the weights' order).
inline void tap_offsets(const ConvGeometry& g, std::int64_t* tap) {
  const std::int64_t hp = g.h + g.win.pads[0] + g.win.pads[2], wp = g.w + g.win.pads[1] + g.win.pads[3];
  std::int64_t k = 0;
  for (std::int64_t ci = 0; ci < g.c_per_group(); ++ci)
    for (std::int64_t ky = 0; ky < g.win.kernel[0]; ++ky)
      for (std::int64_t kx = 0; kx < g.win.kernel[1]; ++kx)
        tap[k++] = ci * hp * wp + ky * g.win.dilations[0] * wp + kx * g.win.dilations[1];
}

// Frame offsets of the window origins of pixels [l0, l0 + count), count a multiple of the panel
// width; pixels from l_end on repeat the last real one (see the header comment).
inline void pixel_offsets(const ConvGeometry& g, std::int64_t l0, std::int64_t l_end, std::int64_t count,
                          std::int64_t* pix) {
  const std::int64_t wp = g.w + g.win.pads[1] + g.win.pads[3];
  std::int64_t oy = l0 / g.ow, ox = l0 % g.ow;
  for (std::int64_t i = 0; i < count; ++i) {
    if (l0 + i < l_end) {
      pix[i] = oy * g.win.strides[0] * wp + ox * g.win.strides[1];
      if (++ox == g.ow) {
        ox = 0;
        ++oy;
      }
    } else {
      pix[i] = pix[i - 1];
    }
  }
}

template <int NR, class Elem>
void gather_panels_nr(const Elem* frame, const std::int64_t* tap, std::int64_t k, std::int64_t ksteps,
                      const std::int64_t* pix, std::int64_t panels, Elem* dst) {
  constexpr int per_step = std::same_as<Elem, std::int16_t> ? 2 : 1;
  const std::int64_t panel = ksteps * NR * per_step;
  for (std::int64_t p = 0; p < panels; ++p) {
    const std::int64_t* px = pix + p * NR;
    bool run = true;  // NR consecutive elements of one frame row
    for (int r = 1; r < NR; ++r) run = run && px[r] == px[0] + r;
    Elem* d = dst + p * panel;
    if constexpr (per_step == 1) {
      for (std::int64_t q = 0; q < k; ++q, d += NR) {
        const Elem* s = frame + tap[q];
        if (run) {
          std::memcpy(d, s + px[0], sizeof(Elem) * NR);
        } else {
          for (int r = 0; r < NR; ++r) d[r] = s[px[r]];
        }
      }
    } else {
      for (std::int64_t q = 0; q < ksteps; ++q, d += 2 * NR) {
        const Elem* s0 = frame + tap[2 * q];
        if (2 * q + 1 == k) {  // odd K: the second half of the last pair is 0
          for (int r = 0; r < NR; ++r) {
            d[2 * r] = s0[px[r]];
            d[2 * r + 1] = 0;
          }
          continue;
        }
        const Elem* s1 = frame + tap[2 * q + 1];
        if (run) {
          const Elem* a = s0 + px[0];
          const Elem* b = s1 + px[0];
          for (int r = 0; r < NR; ++r) {
            d[2 * r] = a[r];
            d[2 * r + 1] = b[r];
          }
        } else {
          for (int r = 0; r < NR; ++r) {
            d[2 * r] = s0[px[r]];
            d[2 * r + 1] = s1[px[r]];
          }
        }
      }
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
  constexpr int per_step = std::same_as<Elem, std::int16_t> ? 2 : 1;
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
