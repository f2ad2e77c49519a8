// Calibration methods (docs/quantization.md, "Calibration methods"; qnn/quantize/methods.hpp):
// known answers on crafted histograms, the KL search against a direct transcription of TensorRT's
// algorithm, properties on random Gaussian/Laplace data, and the histogram objective against the
// exact error of the raw samples under the real quantizer.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "qnn/numerics/quantize.hpp"
#include "qnn/quantize/methods.hpp"

using namespace qnn;
using namespace qnn::quant;

namespace {

constexpr CalibMethod kAll[] = {CalibMethod::minmax, CalibMethod::percentile, CalibMethod::entropy, CalibMethod::mse,
                                CalibMethod::pow2_mse};

RangeObserver observer(float lo, float hi, std::int64_t n = 1) {
  RangeObserver r;
  r.min = lo;
  r.max = hi;
  r.count = n;
  return r;
}

Histogram histogram(float lo, float hi, std::vector<std::int64_t> counts) {
  Histogram h(lo, hi, static_cast<int>(counts.size()));
  h.counts = std::move(counts);
  return h;
}

struct Stats {
  RangeObserver range;
  Histogram hist;
};
Stats stats_of(const std::vector<float>& x, int bins = 2048) {
  Stats s;
  s.range.observe(x, "x");
  s.hist = Histogram(s.range.min, s.range.max, bins);
  s.hist.observe(x, "x");
  return s;
}

std::vector<float> gaussian(std::size_t n, std::uint64_t seed, double sigma = 1.0) {
  std::mt19937_64 g(seed);
  std::normal_distribution<double> d(0.0, sigma);
  std::vector<float> v(n);
  for (auto& x : v) x = static_cast<float>(d(g));
  return v;
}
std::vector<float> laplace(std::size_t n, std::uint64_t seed, double b = 1.0) {
  std::mt19937_64 g(seed);
  std::exponential_distribution<double> e(1.0 / b);
  std::bernoulli_distribution sign(0.5);
  std::vector<float> v(n);
  for (auto& x : v) x = static_cast<float>(sign(g) ? e(g) : -e(g));
  return v;
}

// The exact mean squared error of the samples under the library's QuantizeLinear/DequantizeLinear.
template <class T>
double exact_mse_t(const std::vector<float>& x, const QParams& p) {
  double s = 0;
  for (float v : x) {
    const float d = dequantize_value(quantize_value<T>(v, p.scale, p.zero_point), p.scale, p.zero_point);
    s += (double{d} - v) * (double{d} - v);
  }
  return s / static_cast<double>(x.size());
}
double exact_mse(const std::vector<float>& x, const QParams& p, const QuantTarget& t) {
  switch (t.storage) {
    case DType::u8: return exact_mse_t<std::uint8_t>(x, p);
    case DType::i8: return exact_mse_t<std::int8_t>(x, p);
    case DType::u16: return exact_mse_t<std::uint16_t>(x, p);
    case DType::i16: return exact_mse_t<std::int16_t>(x, p);
    default: FAIL("bad storage"); return 0;
  }
}

bool is_pow2(float s) {
  int e = 0;
  return std::frexp(s, &e) == 0.5f;
}

void check_valid(const QParams& p, const QuantTarget& t, bool pow2) {
  CHECK(std::isfinite(p.scale));
  CHECK(p.scale > 0);
  CHECK(p.zero_point >= t.qmin());
  CHECK(p.zero_point <= t.qmax());
  if (t.symmetric) CHECK(p.zero_point == t.symmetric_zero_point());
  if (pow2) CHECK(is_pow2(p.scale));
}

std::string describe(const QuantTarget& t) {
  return std::string(name_of(t.storage)) + (t.symmetric ? " symmetric" : " asymmetric") + (t.pow2 ? " pow2" : "");
}

const QuantTarget kU8{DType::u8, false, false};
const QuantTarget kI8Sym{DType::i8, true, false};
const QuantTarget kU8Sym{DType::u8, true, false};
const QuantTarget kXint8Act{DType::u8, true, true};
const QuantTarget kI8SymPow2{DType::i8, true, true};
const QuantTarget kI16Sym{DType::i16, true, false};
const QuantTarget kU16{DType::u16, false, false};
const QuantTarget kI8{DType::i8, false, false};

}  // namespace

TEST_CASE("calib method names round-trip") {
  for (CalibMethod m : kAll) CHECK(parse_method(name_of(m)) == m);
  CHECK(name_of(CalibMethod::pow2_mse) == "pow2-mse");
  CHECK_FALSE(parse_method("pow2_mse").has_value());
  CHECK_FALSE(parse_method("MinMax").has_value());
  CHECK_FALSE(parse_method("").has_value());
}

TEST_CASE("calib scale_to_pos / pos_to_scale: Quark's scale2pos") {
  CHECK(scale_to_pos(1.0f) == 0);
  CHECK(scale_to_pos(0.5f) == 1);
  CHECK(scale_to_pos(1.0f / 128) == 7);
  CHECK(scale_to_pos(8.0f) == -3);
  CHECK(scale_to_pos(0.75f) == 0);   // −log2 0.75 = 0.415
  CHECK(scale_to_pos(0.7f) == 1);    // 0.515
  CHECK(scale_to_pos(1e-45f) == 127);  // clamped to 2^−127
  CHECK(scale_to_pos(std::numeric_limits<float>::max()) == -127);  // clamped to 2^127
  CHECK_THROWS_AS(scale_to_pos(0.0f), qnn::error);
  CHECK_THROWS_AS(scale_to_pos(-1.0f), qnn::error);
  CHECK_THROWS_AS(scale_to_pos(std::nanf("")), qnn::error);
  CHECK(pos_to_scale(7) == 1.0f / 128);
  CHECK(pos_to_scale(-3) == 8.0f);
  CHECK(pos_to_scale(127) == std::ldexp(1.0f, -127));
  for (int p = -127; p <= 127; ++p) CHECK(scale_to_pos(pos_to_scale(p)) == p);
  CHECK_THROWS_AS(pos_to_scale(128), qnn::error);
  CHECK_THROWS_AS(pos_to_scale(-128), qnn::error);
}

TEST_CASE("calib errors: no data, no histogram, bad options") {
  const RangeObserver empty;
  const Histogram none;
  for (CalibMethod m : kAll) {
    CAPTURE(name_of(m));
    CHECK_THROWS_AS(calibrate_tensor(m, empty, none, kU8), qnn::error);
  }
  const RangeObserver r = observer(-1, 1, 10);
  CHECK_NOTHROW(calibrate_tensor(CalibMethod::minmax, r, none, kU8));  // minmax needs no histogram
  for (CalibMethod m : {CalibMethod::percentile, CalibMethod::entropy, CalibMethod::mse, CalibMethod::pow2_mse}) {
    CAPTURE(name_of(m));
    CHECK_THROWS_AS(calibrate_tensor(m, r, none, kU8), qnn::error);
    CHECK_THROWS_AS(calibrate_tensor(m, r, Histogram(-1, 1, 16), kU8), qnn::error);  // no counts
  }
  const Histogram h = histogram(-1, 1, {1, 2, 3, 4});
  MethodOptions o;
  o.percentile = 0;
  CHECK_THROWS_AS(calibrate_tensor(CalibMethod::percentile, r, h, kU8, o), qnn::error);
  o = {};
  o.percentile = 100.5;
  CHECK_THROWS_AS(calibrate_tensor(CalibMethod::percentile, r, h, kU8, o), qnn::error);
  o = {};
  o.mse_min_fraction = 0;
  CHECK_THROWS_AS(calibrate_tensor(CalibMethod::mse, r, h, kU8, o), qnn::error);
  o = {};
  o.histogram_bins = (1 << 23) + 1;  // the grid would need more than 2^24 bins
  CHECK_THROWS_AS(calibrate_tensor(CalibMethod::mse, r, h, kU8, o), qnn::error);
  o = {};
  o.pow2_first = 3;
  o.pow2_last = 2;
  CHECK_THROWS_AS(calibrate_tensor(CalibMethod::pow2_mse, r, h, kI8SymPow2, o), qnn::error);
  CHECK_THROWS_AS(calibrate_tensor(CalibMethod::minmax, r, h, QuantTarget{DType::f32, false, false}), qnn::error);
}

TEST_CASE("calib RangeObserver: exact range over batches; a NaN or infinity names its position and changes nothing") {
  RangeObserver r;
  const std::vector<float> a{0.5f, -2.0f, 3.0f, -0.0f, 1.0f, 7.25f, -6.5f, 2.0f};
  r.observe(a, "t");
  const std::vector<float> b{1.0f, 8.0f, -1.0f};
  r.observe(b, "t");
  CHECK(r.min == -6.5f);
  CHECK(r.max == 8.0f);
  CHECK(r.count == 11);
  for (const float bad : {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity(),
                          -std::numeric_limits<float>::infinity()}) {
    std::vector<float> c(9, 100.0f);  // would widen the range if it were taken
    c[5] = bad;
    RangeObserver s = r;
    std::string what;
    try {
      s.observe(c, "act");
    } catch (const qnn::error& e) {
      what = e.what();
    }
    CHECK_MESSAGE(what.find("tensor 'act' holds ") != std::string::npos, what);
    CHECK_MESSAGE(what.find("(value 16)") != std::string::npos, what);  // 11 before it, index 5
    CHECK(s.min == -6.5f);
    CHECK(s.max == 8.0f);
    CHECK(s.count == 11);
  }
}

TEST_CASE("calib Histogram: every value in bin_of's bin, across chunks and edges; merge is the union; NaN named") {
  std::mt19937_64 g(5);
  std::uniform_real_distribution<float> u(-3.0f, 5.0f);
  Histogram h(-3.0f, 5.0f, 64);
  std::vector<float> x(5000);  // not a multiple of the chunk: a tail
  for (auto& v : x) v = u(g);
  for (int k = 0; k <= 64; ++k) x[static_cast<std::size_t>(k)] = static_cast<float>(h.edge(k));  // exact edges
  x[100] = -3.0f;
  x[101] = 5.0f;
  x[102] = -0.0f;
  std::vector<std::int64_t> want(64, 0);
  for (float v : x) ++want[static_cast<std::size_t>(h.bin_of(v))];
  Histogram a = h, b = h, c = h;
  a.observe(x, "t");
  CHECK(a.counts == want);
  b.observe(std::span<const float>(x).first(1234), "t");
  c.observe(std::span<const float>(x).subspan(1234), "t");
  b.merge(c);
  CHECK(b.counts == want);
  CHECK_THROWS_AS(b.merge(Histogram(-3.0f, 5.0f, 32)), qnn::error);
  for (const float bad : {std::numeric_limits<float>::quiet_NaN(), -std::numeric_limits<float>::infinity()}) {
    std::vector<float> y = x;
    y[3001] = bad;
    std::string what;
    try {
      Histogram(-3.0f, 5.0f, 64).observe(y, "act");
    } catch (const qnn::error& e) {
      what = e.what();
    }
    CHECK_MESSAGE(what.find("tensor 'act' holds ") != std::string::npos, what);
  }
}

namespace {
// The grid histogram of `batches` fed in order, each covered before it is observed.
Histogram grid_of(const std::vector<std::vector<float>>& batches, int max_bins) {
  GridHistogram g(max_bins);
  for (const auto& b : batches) {
    RangeObserver r;
    r.observe(b, "t");
    g.cover(r.min, r.max);
    g.observe(b, "t");
  }
  return g.histogram();
}
}  // namespace

TEST_CASE("calib GridHistogram: exact counts on the final power-of-two grid, whatever the batches and their order") {
  std::mt19937_64 g(11);
  // Batches whose range grows (the grid coarsens several times), with values on grid edges, a tiny
  // negative next to the edge at 0, a denormal and −0.
  std::vector<std::vector<float>> batches;
  for (int b = 0; b < 9; ++b) {
    std::normal_distribution<float> d(0.3f * static_cast<float>(b), std::ldexp(1.0f, b - 4));
    std::vector<float> x(700 + 131 * static_cast<std::size_t>(b));
    for (auto& v : x) v = d(g);
    batches.push_back(std::move(x));
  }
  batches[4].insert(batches[4].end(), {-1e-30f, 1e-30f, -0.0f, 0.0f, 1e-40f, -1e-40f, 0.5f, -0.5f, 0.25f, -0.125f});
  const int max_bins = 257;
  const Histogram h = grid_of(batches, max_bins);
  RangeObserver all;
  for (const auto& b : batches) all.observe(b, "t");
  // The grid: a power-of-two width, the finest whose bins over [min, max] are at most max_bins.
  const double w = h.width();
  int e = 0;
  CHECK(std::frexp(w, &e) == 0.5);
  CHECK(h.bins() <= max_bins);
  CHECK(std::floor(all.max / (w / 2)) - std::floor(all.min / (w / 2)) + 1 > max_bins);
  CHECK(h.lo <= all.min);
  CHECK(h.hi > all.max);
  CHECK(std::floor(h.lo / w) == h.lo / w);
  CHECK(w < 2 * (double{all.max} - all.min) / (max_bins - 1));
  // Every value in the bin ⌊x / w⌋ of the grid (x / w is exact: w is a power of two).
  std::vector<std::int64_t> want(static_cast<std::size_t>(h.bins()), 0);
  for (const auto& b : batches)
    for (float x : b) ++want[static_cast<std::size_t>(std::floor(double{x} / w) - h.lo / w)];
  CHECK(h.counts == want);
  CHECK(want[static_cast<std::size_t>(-h.lo / w) - 1] > 0);  // −1e−30 is below the edge at 0
  // The same counts for the batches reversed, and for all values in one batch.
  std::vector<std::vector<float>> reversed(batches.rbegin(), batches.rend()), one(1);
  for (const auto& b : batches) one[0].insert(one[0].end(), b.begin(), b.end());
  for (const auto& other : {reversed, one}) {
    const Histogram o = grid_of(other, max_bins);
    CHECK(o.lo == h.lo);
    CHECK(o.hi == h.hi);
    CHECK(o.counts == h.counts);
  }
  // Parts with the same grid merge into the whole.
  GridHistogram whole(max_bins);
  whole.cover(all.min, all.max);
  GridHistogram part = whole.empty_copy();
  whole.observe(std::span<const float>(one[0]).first(5000), "t");
  part.observe(std::span<const float>(one[0]).subspan(5000), "t");
  whole.merge(part);
  CHECK(whole.histogram().counts == h.counts);
}

TEST_CASE("calib GridHistogram: a constant prefix, a constant tensor, far from 0, NaN named") {
  // Values counted while the range was one point land in that point's bin once it has a width.
  const Histogram h = grid_of({{3.5f, 3.5f, 3.5f}, {3.5f}, {-1.0f, 7.0f}}, 64);
  CHECK(h.total() == 6);
  CHECK(h.counts[static_cast<std::size_t>(std::floor(3.5 / h.width()) - h.lo / h.width())] == 4);
  // Only one value: one bin of zero width, as a Histogram over [min, max] would be.
  const Histogram c = grid_of({{2.0f, 2.0f}, {2.0f}}, 64);
  CHECK(c.bins() == 1);
  CHECK(c.lo == 2.0);
  CHECK(c.hi == 2.0);
  CHECK(c.counts[0] == 3);
  // A narrow range far from 0: grid indices near 2^30, bins still exact.
  std::vector<float> far;
  for (int k = 0; k < 1000; ++k) far.push_back(1000.0f + static_cast<float>(k) * 0.0009765625f);
  const Histogram f = grid_of({far}, 100);
  CHECK(f.total() == 1000);
  CHECK(f.bins() <= 100);
  std::vector<std::int64_t> want(static_cast<std::size_t>(f.bins()), 0);
  for (float x : far) ++want[static_cast<std::size_t>(std::floor(double{x} / f.width()) - f.lo / f.width())];
  CHECK(f.counts == want);
  std::string what;
  try {
    grid_of({{1.0f, 2.0f}, {1.5f, std::numeric_limits<float>::quiet_NaN()}}, 64);
  } catch (const qnn::error& e) {
    what = e.what();
  }
  CHECK_MESSAGE(what.find("tensor 't' holds nan") != std::string::npos, what);
  GridHistogram bad(64);
  CHECK_THROWS_AS(bad.cover(1.0f, 0.0f), qnn::error);
  CHECK_THROWS_AS(GridHistogram(1), qnn::error);
}

TEST_CASE("calib constant tensors: every method gives a scale that represents the value") {
  for (const QuantTarget& t : {kU8, kI8, kI8Sym, kU8Sym, kXint8Act, kI16Sym, kU16}) {
    for (float v : {0.0f, 3.5f, -0.25f, 1e-3f}) {
      const RangeObserver r = observer(v, v, 100);
      const Histogram h = histogram(v, v, std::vector<std::int64_t>(2048, 0));
      Histogram hc = h;
      hc.counts[0] = 100;
      for (CalibMethod m : kAll) {
        CAPTURE(describe(t));
        CAPTURE(v);
        CAPTURE(name_of(m));
        const QParams p = calibrate_tensor(m, r, hc, t);
        check_valid(p, t, t.pow2 || m == CalibMethod::pow2_mse);
        if (v == 0) CHECK(p.scale == 1.0f);
        const std::vector<float> x{v};
        CHECK(exact_mse(x, p, t) <= 0.25 * double{p.scale} * p.scale);  // within half a step: not clipped
      }
    }
  }
}

TEST_CASE("calib minmax: the observed range, zero included") {
  const Histogram none;
  QParams p = calibrate_tensor(CalibMethod::minmax, observer(-1, 3), none, kU8);
  CHECK(p.scale == doctest::Approx(4.0 / 255).epsilon(1e-7));
  CHECK(p.zero_point == 64);  // rne(1 / (4/255)) = rne(63.75)
  p = calibrate_tensor(CalibMethod::minmax, observer(0.5f, 3), none, kU8);
  CHECK(p.scale == doctest::Approx(3.0 / 255).epsilon(1e-7));
  CHECK(p.zero_point == 0);
  p = calibrate_tensor(CalibMethod::minmax, observer(-2, 1), none, kI8Sym);
  CHECK(p.scale == doctest::Approx(2.0 / 127).epsilon(1e-7));
  CHECK(p.zero_point == 0);
  p = calibrate_tensor(CalibMethod::minmax, observer(-2, 1), none, kXint8Act);
  CHECK(p.scale == 1.0f / 32);  // 2/127 = 0.01575 rounded up to 2^−5 (= 2^−pos0, pos0 = floor(log2(127/2)) = 5)
  CHECK(p.zero_point == 128);
  p = calibrate_tensor(CalibMethod::minmax, observer(1e-44f, 2e-44f), none, kI8Sym);  // scale would be subnormal
  CHECK(p.scale == 1.0f);
}

TEST_CASE("calib percentile: linear interpolation inside a bin, folded |x| for symmetric targets") {
  // 4 bins over [−2, 2]: [−2,−1) 10, [−1,0) 20, [0,1) 30, [1,2] 40.
  const Histogram h = histogram(-2, 2, {10, 20, 30, 40});
  const RangeObserver r = observer(-2, 2, 100);
  MethodOptions o;
  SUBCASE("symmetric: p-th percentile of |x|") {
    // |x| ≤ t for t in [1, 2]: 50 + 50·(t − 1) (10·(t−1) on the left, 40·(t−1) on the right). p = 95: t = 1.9.
    o.percentile = 95;
    const QParams p = calibrate_tensor(CalibMethod::percentile, r, h, kI8Sym, o);
    CHECK(p.scale == doctest::Approx(1.9 / 127).epsilon(1e-6));
    // t in [0, 1]: 50·t. p = 30: t = 0.6.
    o.percentile = 30;
    CHECK(calibrate_tensor(CalibMethod::percentile, r, h, kI8Sym, o).scale == doctest::Approx(0.6 / 127).epsilon(1e-6));
  }
  SUBCASE("asymmetric: (100 − p)/2 % from each tail") {
    o.percentile = 90;  // 5 % each side: low = −2 + 5/10 = −1.5, high = 1 + (95 − 60)/40 = 1.875
    const QParams p = calibrate_tensor(CalibMethod::percentile, r, h, kU8, o);
    CHECK(p.scale == doctest::Approx(3.375 / 255).epsilon(1e-6));
    CHECK(p.zero_point == 113);  // rne(1.5 / (3.375/255)) = rne(113.33)
  }
  SUBCASE("p = 100 is minmax exactly") {
    o.percentile = 100;
    for (const QuantTarget& t : {kU8, kI8Sym, kXint8Act, kI8}) {
      const QParams p = calibrate_tensor(CalibMethod::percentile, r, h, t, o);
      const QParams m = calibrate_tensor(CalibMethod::minmax, r, h, t, o);
      CHECK(p.scale == m.scale);
      CHECK(p.zero_point == m.zero_point);
    }
  }
  SUBCASE("non-negative tensor: |x| = x") {
    const Histogram hp = histogram(0, 4, {10, 20, 30, 40});
    o.percentile = 90;  // 3 + (90 − 60)/40
    CHECK(calibrate_tensor(CalibMethod::percentile, observer(0, 4, 100), hp, kI8Sym, o).scale ==
          doctest::Approx(3.75 / 127).epsilon(1e-6));
  }
  SUBCASE("empty bins above the percentile are not included") {
    const Histogram hg = histogram(-4, 4, {0, 0, 0, 50, 50, 0, 0, 0});  // all mass in [−1, 1]
    o.percentile = 100;
    // |x| reaches 100 % at t = 1, not at max|x| = 4 (the observed range is what minmax would use).
    CHECK(calibrate_tensor(CalibMethod::percentile, observer(-4, 4, 100), hg, kI8Sym, o).scale ==
          doctest::Approx(1.0 / 127).epsilon(1e-6));
  }
}

namespace {
// 10⁹ values in [0, 1] with a triangular density 2(1 − x), and ten at 100 (10⁻⁸ of the mass: rare
// enough that squared error prefers clipping them — mse trades 10·(100 − t)² against 10⁹·(t/255)²/12).
Stats outlier_stats() {
  const int bins = 32768;  // [0, 1] spans 328 bins: entropy's smallest threshold is 256 bins (uint8)
  Stats s;
  s.range = observer(0, 100, 0);
  s.hist = Histogram(0, 100, bins);
  const double per_bin = 1e9 / (0.5 / s.hist.width());  // Σ (1 − centre) over [0, 1] ≈ 1 / (2·width)
  for (int k = 0; k < bins; ++k) {
    const double c = s.hist.center(k);
    if (c < 1) s.hist.counts[static_cast<std::size_t>(k)] = std::llround(per_bin * (1 - c));
  }
  s.hist.counts.back() += 10;
  s.range.count = s.hist.total();
  return s;
}
double threshold_of(const QParams& p, const QuantTarget& t) {
  return t.symmetric ? double{p.scale} * t.symmetric_levels() : double{p.scale} * (t.qmax() - p.zero_point);
}
}  // namespace

TEST_CASE("calib methods against far outliers: percentile, entropy and mse clip near 1, minmax keeps 100") {
  const Stats s = outlier_stats();
  for (const QuantTarget& t : {kI8Sym, kU8}) {
    CAPTURE(describe(t));
    CHECK(threshold_of(calibrate_tensor(CalibMethod::minmax, s.range, s.hist, t), t) == doctest::Approx(100));
    for (CalibMethod m : {CalibMethod::percentile, CalibMethod::entropy, CalibMethod::mse}) {
      CAPTURE(name_of(m));
      const double th = threshold_of(calibrate_tensor(m, s.range, s.hist, t), t);
      CHECK(th > 0.95);
      CHECK(th < 1.05);
    }
    // Percentile, analytically: the tail beyond t holds (1 − t)²·10⁹ + 10 values. Symmetric: 10⁻⁵ of
    // the mass, t = 1 − √(9990·10⁻⁹); asymmetric: half of it at the top, t = 1 − √(4990·10⁻⁹).
    const double expect = t.symmetric ? 1 - std::sqrt(9990e-9) : 1 - std::sqrt(4990e-9);
    CHECK(threshold_of(calibrate_tensor(CalibMethod::percentile, s.range, s.hist, t), t) ==
          doctest::Approx(expect).epsilon(2e-4));
  }
}

TEST_CASE("calib methods on a uniform distribution: all close to minmax") {
  const Histogram h = histogram(-1, 1, std::vector<std::int64_t>(2048, 1000));
  const RangeObserver r = observer(-1, 1, h.total());
  for (const QuantTarget& t : {kI8Sym, kU8, kU8Sym, kI8}) {
    const QParams mm = calibrate_tensor(CalibMethod::minmax, r, h, t);
    for (CalibMethod m : {CalibMethod::percentile, CalibMethod::entropy, CalibMethod::mse}) {
      CAPTURE(describe(t));
      CAPTURE(name_of(m));
      const QParams p = calibrate_tensor(m, r, h, t);
      CHECK(p.scale == doctest::Approx(mm.scale).epsilon(0.01));
      CHECK(std::abs(p.zero_point - mm.zero_point) <= 1);
    }
  }
}

TEST_CASE("calib pow2-mse: optimum at pos0 + 1 and at pos0") {
  // Uniform on [−1, 1]: pos0 = floor(log2(127/1)) = 6 (step 1/64, range ±1.98). At pos 7 (±0.99)
  // clipping costs (1 − 127/128)³/3 ≈ 1.6e−7 and rounding 2^−14/12 ≈ 5.1e−6 < 2^−12/12 ≈ 2.0e−5.
  const Histogram u1 = histogram(-1, 1, std::vector<std::int64_t>(2048, 1000));
  const RangeObserver r1 = observer(-1, 1, u1.total());
  for (const QuantTarget& t : {kI8SymPow2, kXint8Act, kI8Sym}) {
    CAPTURE(describe(t));
    const QParams p = calibrate_tensor(CalibMethod::pow2_mse, r1, u1, t);
    check_valid(p, t, true);
    CHECK(scale_to_pos(calibrate_tensor(CalibMethod::minmax, r1, u1, QuantTarget{t.storage, true, true}).scale) == 6);
    CHECK(scale_to_pos(p.scale) == 7);
  }
  // Uniform on [−1.98, 1.98]: pos0 = floor(log2(127/1.98)) = 6, pos 7 would clip half the range.
  const Histogram u2 = histogram(-1.98f, 1.98f, std::vector<std::int64_t>(2048, 1000));
  const RangeObserver r2 = observer(-1.98f, 1.98f, u2.total());
  CHECK(scale_to_pos(calibrate_tensor(CalibMethod::pow2_mse, r2, u2, kI8SymPow2).scale) == 6);
  // The scan range is an option: only pos0 … pos0 forces pos0.
  MethodOptions o;
  o.pow2_first = o.pow2_last = 0;
  CHECK(scale_to_pos(calibrate_tensor(CalibMethod::pow2_mse, r1, u1, kI8SymPow2, o).scale) == 6);
  // Asymmetric pow2 target: the minmax zero point is kept for every position (Quark).
  const QParams pa = calibrate_tensor(CalibMethod::pow2_mse, r1, u1, QuantTarget{DType::u8, false, true});
  CHECK(pa.zero_point == calibrate_tensor(CalibMethod::minmax, r1, u1, kU8).zero_point);
  CHECK(is_pow2(pa.scale));
}

namespace {
// NVIDIA pytorch-quantization's _compute_amax_entropy written out directly (O(bins²)), on a
// non-negative histogram starting at 0, whose |x| histogram is the histogram itself. KL for each i
// (index i − levels); infinity where P > 0 = Q. Bin 0 takes bin 1's count first, as NVIDIA's does.
std::vector<double> naive_kl(std::vector<std::int64_t> hist, int levels) {
  const int n = static_cast<int>(hist.size());
  hist[0] = hist[1];
  std::vector<double> out;
  for (int i = levels; i <= n; ++i) {
    std::vector<double> p(hist.begin(), hist.begin() + i);
    double outliers = 0;
    for (int j = i; j < n; ++j) outliers += static_cast<double>(hist[static_cast<std::size_t>(j)]);
    p.back() += outliers;
    std::vector<double> sum(static_cast<std::size_t>(levels), 0.0), cnt(static_cast<std::size_t>(levels), 0.0);
    for (int j = 0; j < i; ++j) {
      const auto g = static_cast<std::size_t>(static_cast<std::int64_t>(j) * levels / i);
      if (hist[static_cast<std::size_t>(j)] == 0) continue;
      sum[g] += static_cast<double>(hist[static_cast<std::size_t>(j)]);
      cnt[g] += 1;
    }
    std::vector<double> q(static_cast<std::size_t>(i), 0.0);
    for (int j = 0; j < i; ++j) {
      const auto g = static_cast<std::size_t>(static_cast<std::int64_t>(j) * levels / i);
      if (hist[static_cast<std::size_t>(j)] != 0) q[static_cast<std::size_t>(j)] = sum[g] / cnt[g];
    }
    double sp = 0, sq = 0, kl = 0;
    for (int j = 0; j < i; ++j) {
      sp += p[static_cast<std::size_t>(j)];
      sq += q[static_cast<std::size_t>(j)];
    }
    for (int j = 0; j < i; ++j) {
      const double pj = p[static_cast<std::size_t>(j)] / sp, qj = q[static_cast<std::size_t>(j)] / sq;
      if (pj > 0) kl += qj > 0 ? pj * std::log(pj / qj) : std::numeric_limits<double>::infinity();
    }
    out.push_back(kl);
  }
  return out;
}
}  // namespace

TEST_CASE("calib entropy: the prefix-sum search agrees with a direct transcription of NVIDIA's") {
  std::mt19937_64 g(7);
  int with_infinite = 0, clipped = 0;  // the test exercises both paths
  for (int trial = 0; trial < 12; ++trial) {
    const int n = 256, levels = trial % 2 ? 16 : 37;
    std::vector<std::int64_t> c(static_cast<std::size_t>(n));
    std::exponential_distribution<double> e(1.0 / 40);
    std::uniform_int_distribution<int> holes(0, 4);
    for (int k = 0; k < n; ++k) {
      const double dens = 1000 * std::exp(-k / e(g)) + (k > 200 ? 3 : 0);
      c[static_cast<std::size_t>(k)] = holes(g) == 0 ? 0 : static_cast<std::int64_t>(dens);
    }
    c.back() = std::max<std::int64_t>(c.back(), 1);
    c.front() = std::max<std::int64_t>(c.front(), 1);
    const Histogram h = histogram(0, 8, c);
    const std::vector<double> ref = naive_kl(c, levels);
    const double best = *std::min_element(ref.begin(), ref.end());
    const double t = quant::method_detail::entropy_threshold(quant::method_detail::Cdf(h), h.hi, h.bins(), levels);
    const int i = static_cast<int>(std::lround(t / h.width()));
    CAPTURE(trial);
    CAPTURE(i);
    REQUIRE(i >= levels);
    REQUIRE(i <= n);
    CHECK(ref[static_cast<std::size_t>(i - levels)] <= best + 1e-9);
    // The last minimum ("last argmin") when there is no near-tie.
    std::ptrdiff_t last = 0;
    int near = 0;
    for (std::size_t j = 0; j < ref.size(); ++j) {
      if (ref[j] == best) last = static_cast<std::ptrdiff_t>(j);
      near += ref[j] <= best + 1e-9;
    }
    if (near == 1) CHECK(i - levels == last);
    with_infinite += std::count(ref.begin(), ref.end(), std::numeric_limits<double>::infinity()) > 0;
    clipped += i < n;
  }
  CHECK(with_infinite > 0);
  CHECK(clipped > 0);
}

TEST_CASE("calib entropy on a grid histogram: the |x| histogram is the exact fold, and the search NVIDIA's") {
  // Signed data, asymmetric in extent, fed in batches: the |x| histogram entropy reads from the grid
  // must be the counts of ⌊x/w⌋ folded (bin k < 0 → −k − 1), with no interpolation.
  std::vector<std::vector<float>> batches;
  for (int b = 0; b < 4; ++b) {
    std::vector<float> x = laplace(3000, 30 + static_cast<std::uint64_t>(b), 0.5 + b);
    for (auto& v : x) v = v < 0 ? 0.4f * v : v;
    batches.push_back(std::move(x));
  }
  const Histogram h = grid_of(batches, 2 * 256 + 1);
  RangeObserver all;
  for (const auto& b : batches) all.observe(b, "t");
  const auto [n, tmax] = quant::method_detail::entropy_bins(h, all, MethodOptions{});
  const double w = h.width();
  CHECK(tmax == n * w);
  CHECK(tmax >= all.max);
  CHECK(tmax - w < all.max);
  std::vector<std::int64_t> folded(static_cast<std::size_t>(n), 0);
  for (const auto& b : batches)
    for (float x : b) {
      const auto k = static_cast<std::int64_t>(std::floor(double{x} / w));
      ++folded[static_cast<std::size_t>(k >= 0 ? k : -k - 1)];
    }
  for (const int levels : {16, 64}) {
    CAPTURE(levels);
    const std::vector<double> ref = naive_kl(folded, levels);
    const double best = *std::min_element(ref.begin(), ref.end());
    const double t = quant::method_detail::entropy_threshold(quant::method_detail::Cdf(h), tmax, n, levels);
    const int i = static_cast<int>(std::lround(t / w));
    REQUIRE(i >= levels);
    REQUIRE(i <= n);
    CHECK(std::fabs(t - i * w) < 1e-9 * t);
    CHECK(ref[static_cast<std::size_t>(i - levels)] <= best + 1e-9);
  }
}

TEST_CASE("calib entropy: the exact zeros of a ReLU output do not move the threshold") {
  // relu(Laplace): about half the tensor is exactly 0. Adding more zeros (a larger spike in bin 0)
  // must not change the threshold; before bin 0 took bin 1's count, the spike pulled it to a
  // fraction of this.
  std::vector<float> x = laplace(20000, 21);
  for (auto& v : x) v = std::max(v, 0.0f);
  std::vector<float> more = x;
  more.insert(more.end(), 60000, 0.0f);
  const Stats a = stats_of(x, 2048), b = stats_of(more, 2048);
  const QParams pa = calibrate_tensor(CalibMethod::entropy, a.range, a.hist, kU8);
  const QParams pb = calibrate_tensor(CalibMethod::entropy, b.range, b.hist, kU8);
  CHECK(pa.scale == pb.scale);
  CHECK(double{pa.scale} * 255 > 0.5 * double{calibrate_tensor(CalibMethod::minmax, a.range, a.hist, kU8).scale} * 255);
}

TEST_CASE("calib entropy: levels as the target gives them; a histogram too coarse for them gives minmax") {
  const std::vector<float> x = gaussian(20000, 3);
  const Stats s = stats_of(x, 2048);
  const QParams mm = calibrate_tensor(CalibMethod::minmax, s.range, s.hist, kI16Sym);
  const QParams p = calibrate_tensor(CalibMethod::entropy, s.range, s.hist, kI16Sym);  // 32768 levels > 2048 bins
  CHECK(p.scale == mm.scale);
  // int8 on a Gaussian: KL clips, but not into the bulk.
  const QParams q = calibrate_tensor(CalibMethod::entropy, s.range, s.hist, kI8Sym);
  const double t = double{q.scale} * 127;
  CHECK(t > 2.5);
  CHECK(t < double{calibrate_tensor(CalibMethod::minmax, s.range, s.hist, kI8Sym).scale} * 127);
}

TEST_CASE("calib methods on random Gaussian/Laplace data: valid parameters, mse no worse than minmax or percentile") {
  struct Data {
    std::string name;
    std::vector<float> x;
  };
  std::vector<Data> data;
  data.push_back({"gaussian", gaussian(20000, 11)});
  data.push_back({"laplace", laplace(20000, 12, 0.5)});
  std::vector<float> relu = laplace(20000, 13);
  for (auto& v : relu) v = std::max(v, 0.0f);
  data.push_back({"relu(laplace)", relu});
  std::vector<float> shifted = gaussian(20000, 14);
  for (auto& v : shifted) v = 0.3f * v + 1.0f;  // mostly positive, short negative tail
  data.push_back({"gaussian(1, 0.3)", shifted});
  for (const Data& d : data) {
    const Stats s = stats_of(d.x);
    for (const QuantTarget& t : {kU8, kI8, kI8Sym, kU8Sym, kXint8Act, kI8SymPow2, kI16Sym, kU16}) {
      CAPTURE(d.name);
      CAPTURE(describe(t));
      QParams p[5];
      for (CalibMethod m : kAll) {
        CAPTURE(name_of(m));
        p[static_cast<int>(m)] = calibrate_tensor(m, s.range, s.hist, t);
        check_valid(p[static_cast<int>(m)], t, t.pow2 || m == CalibMethod::pow2_mse);
      }
      const double e_mse = quantization_mse(s.hist, p[static_cast<int>(CalibMethod::mse)], t);
      const double e_mm = quantization_mse(s.hist, p[static_cast<int>(CalibMethod::minmax)], t);
      const double e_pc = quantization_mse(s.hist, p[static_cast<int>(CalibMethod::percentile)], t);
      CHECK(e_mse <= e_mm);
      CHECK(e_mse <= e_pc);
      if (!t.pow2 && t.storage != DType::i16 && t.storage != DType::u16) CHECK(e_mse < e_mm);  // clipping pays
    }
  }
}

TEST_CASE("calib quantization_mse: the bin-integrated objective matches the samples' exact error") {
  // Fine steps included (16-bit, pow2 positions above pos0), where the error at bin centres would not.
  const std::vector<float> x = gaussian(100000, 21);
  const Stats s = stats_of(x);
  const double amax = std::max(-double{s.range.min}, double{s.range.max});
  for (const QuantTarget& t : {kI8Sym, kU8, kI16Sym}) {
    for (double f : {1.0, 0.6, 0.3}) {
      const QParams p = qparams_from_range(-f * amax, f * amax, t);
      CAPTURE(describe(t));
      CAPTURE(f);
      CHECK(quantization_mse(s.hist, p, t) == doctest::Approx(exact_mse(x, p, t)).epsilon(0.03));
    }
  }
  const int pos0 = scale_to_pos(qparams_from_range(s.range.min, s.range.max, kI8SymPow2).scale);
  for (int k = 0; k <= 4; ++k) {
    const QParams p{pos_to_scale(pos0 + k), 0};
    CAPTURE(k);
    CHECK(quantization_mse(s.hist, p, kI8SymPow2) == doctest::Approx(exact_mse(x, p, kI8SymPow2)).epsilon(0.03));
  }
  // A bin spanning exact steps: Histogram [0, 1] in one bin, step 1/255: s²/12.
  const Histogram one = histogram(0, 1, {1000});
  CHECK(quantization_mse(one, QParams{1.0f / 255, 0}, kU8) == doctest::Approx(1.0 / (255.0 * 255 * 12)).epsilon(1e-6));
}

TEST_CASE("calib mse: the histogram's choice is near the best exact error over brute-forced thresholds") {
  SUBCASE("int8 symmetric, Gaussian") {
    const std::vector<float> x = gaussian(30000, 31);
    const Stats s = stats_of(x);
    const QParams chosen = calibrate_tensor(CalibMethod::mse, s.range, s.hist, kI8Sym);
    const double amax = std::max(-double{s.range.min}, double{s.range.max});
    double best = std::numeric_limits<double>::infinity();
    for (int j = 0; j <= 120; ++j) {
      const double th = amax * (0.2 + 0.8 * j / 120);
      best = std::min(best, exact_mse(x, qparams_from_range(-th, th, kI8Sym), kI8Sym));
    }
    CHECK(exact_mse(x, chosen, kI8Sym) <= 1.03 * best);
  }
  SUBCASE("uint8 asymmetric, relu(Laplace)") {
    std::vector<float> x = laplace(30000, 32);
    for (auto& v : x) v = std::max(v, 0.0f);
    const Stats s = stats_of(x);
    const QParams chosen = calibrate_tensor(CalibMethod::mse, s.range, s.hist, kU8);
    double best = std::numeric_limits<double>::infinity();
    for (int j = 0; j <= 120; ++j) {
      const double th = double{s.range.max} * (0.1 + 0.9 * j / 120);
      best = std::min(best, exact_mse(x, qparams_from_range(0, th, kU8), kU8));
    }
    CHECK(exact_mse(x, chosen, kU8) <= 1.03 * best);
  }
  SUBCASE("uint8 asymmetric, signed skewed data: both ends") {
    std::vector<float> x = laplace(20000, 33, 0.4);
    const std::vector<float> y = gaussian(20000, 34, 1.5);
    for (std::size_t i = 0; i < x.size(); ++i) x[i] = x[i] < 0 ? x[i] : std::fabs(y[i]);
    const Stats s = stats_of(x);
    const QParams chosen = calibrate_tensor(CalibMethod::mse, s.range, s.hist, kU8);
    double best = std::numeric_limits<double>::infinity();
    for (int a = 0; a <= 24; ++a)
      for (int b = 0; b <= 24; ++b) {
        const double lo = s.range.min * (0.15 + 0.85 * a / 24), hi = s.range.max * (0.15 + 0.85 * b / 24);
        best = std::min(best, exact_mse(x, qparams_from_range(lo, hi, kU8), kU8));
      }
    CHECK(exact_mse(x, chosen, kU8) <= 1.03 * best);
  }
  SUBCASE("pow2-mse: the chosen position against the five positions' exact errors") {
    const std::vector<float> x = laplace(30000, 35);
    const Stats s = stats_of(x);
    for (const QuantTarget& t : {kI8SymPow2, kXint8Act}) {
      const QParams chosen = calibrate_tensor(CalibMethod::pow2_mse, s.range, s.hist, t);
      const int pos0 = scale_to_pos(qparams_from_range(s.range.min, s.range.max, t).scale);
      double best = std::numeric_limits<double>::infinity();
      for (int k = 0; k <= 4; ++k)
        best = std::min(best, exact_mse(x, QParams{pos_to_scale(pos0 + k), t.symmetric_zero_point()}, t));
      CAPTURE(describe(t));
      CHECK(exact_mse(x, chosen, t) <= 1.03 * best);
    }
  }
}
