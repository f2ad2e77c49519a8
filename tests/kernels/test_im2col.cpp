// im2col of the CPU convolution (kernels/cpu/im2col.hpp) against the definition: every element of
// every panel that frame_input + gather_panels produce equals the input at the tap's position minus
// the zero point (0 in the padding, and in the second half of an odd K's last pair) — for byte
// panels minus the layer's byte shift, over inputs drawn from [shift, the type's maximum] (the zero
// point so shifted in the padding, the last tap repeated past K) — with lanes past the last pixel repeating it. The convolution tests only see the panels through the GEMM of the
// panel width of the target they run on; here every width (4, 8, 16) is checked on every machine,
// with feature maps large enough for several pixel blocks, rows longer and shorter than a panel,
// strides, dilation, padding, groups and pixel ranges that start inside a row. Groups with whole
// channel pairs or quads are also checked as conv.hpp packs them then (channel units:
// frame_input with a unit, k over channel block, kernel row, kernel column, channel in block).
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <type_traits>
#include <vector>

#include "qnn/kernels/cpu/im2col.hpp"

namespace {

using namespace qnn;

template <class Elem>
constexpr int kPerStep = cpu::kStep<Elem>;

// The panels of pixels [l0, l0 + panels·NR) of group grp of image img, as conv.hpp builds them: in
// the weights' k order (unit 1), or in channel units (unit = kStep<Elem>: frame_input with a unit, the
// k-steps gathered as 32-bit words).
template <int NR, class Elem, class TIn>
std::vector<Elem> panels_of(const ConvGeometry& g, const TIn* img, std::int32_t zx, std::int32_t sub,
                            std::int64_t grp, std::int64_t l0, std::int64_t panels, std::int64_t unit) {
  cpu::LaneLayout lay;
  lay.rows = g.oh * g.ow;
  lay.k = g.k();
  lay.nr = NR;
  lay.ksteps = (lay.k + kPerStep<Elem> - 1) / kPerStep<Elem>;
  std::vector<Elem> frame(static_cast<std::size_t>(cpu::frame_elems(g)));
  std::vector<std::int64_t> tap(static_cast<std::size_t>(lay.k)), pix(static_cast<std::size_t>(panels * NR));
  std::vector<Elem> out(static_cast<std::size_t>(panels * lay.panel_elems(kPerStep<Elem>)));
  cpu::pixel_offsets(g, l0, lay.rows, panels * NR, pix.data());
  if constexpr (kPerStep<Elem> > 1) {
    if (unit > 1) {
      std::vector<std::uint32_t> words(frame.size() / kPerStep<Elem>), lanes(out.size() / kPerStep<Elem>);
      cpu::frame_input(g, img, zx, sub, grp, reinterpret_cast<Elem*>(words.data()), unit);
      cpu::tap_offsets(g, tap.data(), unit);
      cpu::LaneLayout units = lay;
      units.k = lay.ksteps;
      cpu::gather_panels(words.data(), tap.data(), units, pix.data(), panels, lanes.data());
      std::memcpy(out.data(), lanes.data(), out.size() * sizeof(Elem));
      return out;
    }
  }
  cpu::frame_input(g, img, zx, sub, grp, frame.data());
  cpu::tap_offsets(g, tap.data());
  cpu::gather_panels(frame.data(), tap.data(), lay, pix.data(), panels, out.data());
  return out;
}

// The definition: input value at (pixel l, tap kk) minus zx, 0 outside the input or past K; for
// bytes, minus the shift, zx − shift outside the input, tap K − 1 past K. With channel units, kk
// counts (channel block, kernel row, kernel column, channel in block).
template <class Elem, class TIn>
double expected(const ConvGeometry& g, const TIn* img, std::int32_t zx, std::int32_t shift, std::int64_t grp,
                std::int64_t l, std::int64_t kk, std::int64_t unit) {
  constexpr bool bytes = std::is_same_v<Elem, std::uint8_t>;
  if (kk >= g.k()) {
    if (!bytes) return 0;
    kk = g.k() - 1;
  }
  l = std::min(l, g.oh * g.ow - 1);
  const std::int64_t kh = g.win.kernel[0], kw = g.win.kernel[1];
  const std::int64_t t = kk / unit;
  kk = ((t / (kh * kw)) * unit + kk % unit) * (kh * kw) + t % (kh * kw);
  const std::int64_t ci = kk / (kh * kw), ky = kk / kw % kh, kx = kk % kw;
  const std::int64_t iy = l / g.ow * g.win.strides[0] - g.win.pads[0] + ky * g.win.dilations[0];
  const std::int64_t ix = l % g.ow * g.win.strides[1] - g.win.pads[1] + kx * g.win.dilations[1];
  if (iy < 0 || iy >= g.h || ix < 0 || ix >= g.w) return zx - shift;
  return static_cast<double>(img[((grp * g.c_per_group() + ci) * g.h + iy) * g.w + ix]) - shift;
}

// sub: zx for int16 panels, 0 for float ones, the byte shift (≤ zx) for bytes.
// unit: 1 for the weights' k order, kStep<Elem> for channel units (when the group's channels allow).
template <int NR, class Elem, class TIn>
void check_case(std::mt19937& rng, const ConvGeometry& g, std::int32_t zx, std::int32_t sub, std::int64_t unit = 1) {
  if (g.c_per_group() % unit != 0) return;
  std::vector<TIn> img(static_cast<std::size_t>(g.c * g.h * g.w));
  constexpr bool bytes = std::is_same_v<Elem, std::uint8_t>;
  int lo = 0, hi = 255;  // floats
  if constexpr (std::is_integral_v<TIn>) {
    lo = bytes ? sub : std::numeric_limits<TIn>::min();
    hi = std::numeric_limits<TIn>::max();
  }
  std::uniform_int_distribution<int> val(lo, hi);
  for (TIn& v : img) v = static_cast<TIn>(val(rng));
  const std::int64_t all = (g.oh * g.ow + NR - 1) / NR;
  const std::int64_t p0 = std::uniform_int_distribution<std::int64_t>(0, all - 1)(rng);
  const std::int64_t panels = std::uniform_int_distribution<std::int64_t>(1, all - p0)(rng);
  const std::int64_t grp = std::uniform_int_distribution<std::int64_t>(0, g.groups - 1)(rng);
  const std::vector<Elem> got = panels_of<NR, Elem>(g, img.data(), zx, sub, grp, p0 * NR, panels, unit);
  const std::int64_t ksteps = (g.k() + kPerStep<Elem> - 1) / kPerStep<Elem>;
  std::int64_t bad = 0;
  for (std::int64_t p = 0; p < panels; ++p)
    for (std::int64_t q = 0; q < ksteps; ++q)
      for (std::int64_t r = 0; r < NR; ++r)
        for (int h = 0; h < kPerStep<Elem>; ++h) {
          const Elem v = got[static_cast<std::size_t>(((p * ksteps + q) * NR + r) * kPerStep<Elem> + h)];
          const double want =
              expected<Elem>(g, img.data(), zx, sub, grp, (p0 + p) * NR + r, q * kPerStep<Elem> + h, unit);
          bad += static_cast<double>(v) != want;
        }
  INFO("NR ", NR, " elem ", sizeof(Elem), " unit ", unit, " zx ", zx, " sub ", sub, " c ", g.c, " groups ", g.groups, " ", g.h, "x", g.w, " -> ", g.oh, "x",
       g.ow, " kernel ", g.win.kernel[0], "x", g.win.kernel[1], " stride ", g.win.strides[0], ",", g.win.strides[1],
       " dilation ", g.win.dilations[0], ",", g.win.dilations[1], " pads ", g.win.pads[0], ",", g.win.pads[1], ",",
       g.win.pads[2], ",", g.win.pads[3], " panels ", p0, "+", panels);
  CHECK(bad == 0);
}

ConvGeometry random_geometry(std::mt19937& rng) {
  std::uniform_int_distribution<int> pick(0, 1000);
  ConvGeometry g;
  g.groups = 1 + pick(rng) % 2;
  g.c = g.groups * std::vector<std::int64_t>{1, 2, 3, 4, 8}[static_cast<std::size_t>(pick(rng) % 5)];
  g.n = 1;
  Window2D& win = g.win;
  win.kernel = {1 + pick(rng) % 3, 1 + pick(rng) % 3};
  // Mostly stride 1, where the rows are runs; sometimes 2 or 3.
  win.strides = {1 + (pick(rng) % 4 == 0), pick(rng) % 3 == 0 ? 2 + pick(rng) % 2 : 1};
  win.dilations = {1 + pick(rng) % 2, 1 + pick(rng) % 2};
  win.pads = {pick(rng) % 3, pick(rng) % 3, pick(rng) % 3, pick(rng) % 3};
  // Widths from below a panel to several blocks' rows; some pixel counts above 256 (one block).
  g.h = (win.kernel[0] - 1) * win.dilations[0] + 1 + pick(rng) % 30;
  g.w = (win.kernel[1] - 1) * win.dilations[1] + 1 + pick(rng) % 40;
  g.m = 1;
  g.oh = detail::output_extent(g.h, win.kernel[0], win.strides[0], win.dilations[0], win.pads[0], win.pads[2], false);
  g.ow = detail::output_extent(g.w, win.kernel[1], win.strides[1], win.dilations[1], win.pads[1], win.pads[3], false);
  return g;
}

}  // namespace

TEST_CASE("im2col panels equal the definition for every panel width") {
  std::mt19937 rng(2024);
  for (int it = 0; it < 300; ++it) {
    const ConvGeometry g = random_geometry(rng);
    const std::int32_t zx = std::uniform_int_distribution<int>(0, 255)(rng);
    // Byte shifts: the type's minimum (nothing known of the input) or up to zx (a known range).
    const std::int32_t shift = std::uniform_int_distribution<int>(0, zx)(rng) * (it % 2);
    check_case<4, std::int16_t, std::uint8_t>(rng, g, zx, zx);
    check_case<8, std::int16_t, std::uint8_t>(rng, g, zx, zx);
    check_case<16, std::int16_t, std::uint8_t>(rng, g, zx, zx);
    check_case<4, std::uint8_t, std::uint8_t>(rng, g, zx, shift);
    check_case<8, std::uint8_t, std::uint8_t>(rng, g, zx, shift);
    check_case<16, std::uint8_t, std::int8_t>(rng, g, zx - 128, shift - 128);
    check_case<8, std::uint8_t, std::int8_t>(rng, g, zx - 128, shift - 128);
    check_case<4, float, float>(rng, g, 0, 0);
    check_case<8, float, float>(rng, g, 0, 0);
    check_case<16, float, float>(rng, g, 0, 0);
    // Channel units, where the group's channels come in whole pairs or quads.
    check_case<8, std::int16_t, std::uint8_t>(rng, g, zx, zx, 2);
    check_case<16, std::int16_t, std::int8_t>(rng, g, zx - 128, zx - 128, 2);
    check_case<4, std::uint8_t, std::uint8_t>(rng, g, zx, shift, 4);
    check_case<8, std::uint8_t, std::int8_t>(rng, g, zx - 128, shift - 128, 4);
  }
}

TEST_CASE("im2col panels of the Fashion-MNIST convolutions equal the definition") {
  std::mt19937 rng(5);
  ConvGeometry conv1;  // 1→32, 3×3, pad 1, 28×28: K = 9 is odd
  conv1.n = 1, conv1.c = 1, conv1.h = 28, conv1.w = 28, conv1.m = 32, conv1.oh = 28, conv1.ow = 28;
  conv1.win.kernel = {3, 3};
  conv1.win.pads = {1, 1, 1, 1};
  ConvGeometry conv2;  // 32→64, 3×3, 14×14 → 12×12: panels straddle rows
  conv2.n = 1, conv2.c = 32, conv2.h = 14, conv2.w = 14, conv2.m = 64, conv2.oh = 12, conv2.ow = 12;
  conv2.win.kernel = {3, 3};
  for (const ConvGeometry& g : {conv1, conv2})
    for (int it = 0; it < 4; ++it) {
      check_case<8, std::int16_t, std::uint8_t>(rng, g, 128, 128);
      check_case<8, float, float>(rng, g, 0, 0);
      check_case<16, std::int16_t, std::uint8_t>(rng, g, 3, 3);
      check_case<8, std::uint8_t, std::uint8_t>(rng, g, 0, 0);
      check_case<8, std::uint8_t, std::int8_t>(rng, g, -128, -128);
      check_case<8, std::uint8_t, std::int8_t>(rng, g, 0, 0);  // symmetric int8 after a ReLU
      check_case<8, std::uint8_t, std::int8_t>(rng, g, 0, 0, 4);  // conv2 as A8W8 runs it
      check_case<8, std::int16_t, std::uint8_t>(rng, g, 0, 0, 2);  // and as U8S8 does
    }
}
