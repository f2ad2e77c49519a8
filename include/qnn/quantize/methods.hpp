// Calibration methods: from one tensor's statistics (exact min/max, and a histogram covering
// [min, max]) to its quantization parameters. Normative description: docs/quantization.md,
// "Calibration methods"; tests: tests/quantize/test_methods.cpp.
//
// Statistical model. A histogram bin holds its count spread uniformly over the bin. Every method
// reads the histogram through that one model: the CDF is piecewise linear (percentiles interpolate
// inside a bin), the |x| histogram is the exact fold of that density around 0 (a bin straddling 0 is
// split where 0 cuts it), and the squared error of a bin is the integral of (x − Q(x))² over the bin,
// not the error at its centre (see quantization_mse).
//
//   minmax      range [min, max]; qparams_from_range adds 0 and applies the target's rules.
//   percentile  p (default 99.999, ONNX Runtime's and Quark's). Symmetric target: t = the p-th
//               percentile of |x|, range [−t, t]. Asymmetric target: (100 − p)/2 % of the mass is cut
//               from each tail (ONNX Runtime's rule), range [low, high]. Linear inside a bin.
//   entropy     TensorRT's KL-divergence search (Migacz, GTC 2017), as NVIDIA's pytorch-quantization
//               implements it (calib/histogram.py, _compute_amax_entropy), on the |x| histogram A
//               (bins of the histogram's width from 0 to past max|x|, the fold of the histogram; see
//               entropy_bins) whose first bin takes the count of the second (NVIDIA's bins[0] = bins[1]: the exact zeros
//               after a ReLU must not decide the threshold). For each candidate of i kept bins,
//               levels ≤ i ≤ bins:
//               P = A[0, i) with the mass beyond added to bin i−1; Q = A[0, i) (without that mass)
//               merged into `levels` groups — bin j joins group ⌊j·levels/i⌋ — each group's count
//               spread evenly over its non-empty bins (empty bins get 0); t = i·width minimizing
//               KL(P‖Q). A candidate whose bin i−1 is empty while mass lies beyond has P > 0 = Q there
//               (infinite divergence) and is skipped. Near-ties (1e−12 nats) go to the larger t, as
//               NVIDIA's "last argmin". levels = the codes on the positive side of the target range
//               (NVIDIA: 1 << (bits − 1 + unsigned)):
//                 symmetric target                      symmetric_levels() + 1   (int8: 128)
//                 asymmetric, tensor of one sign        qmax − qmin + 1          (uint8: 256)
//                 asymmetric, signed tensor             (qmax − qmin + 1) / 2    (uint8: 128)
//               and the range is [−t, t] ∩ [min, max]. Why one threshold for both sides of a signed
//               tensor with an asymmetric target: a per-side search would need each side's share of the
//               codes, which depends on the answer, and KL misbehaves for a side with few codes (with
//               levels → 1 it clips everything); one threshold on |x| is what ONNX Runtime's entropy
//               calibrator computes too, and a lopsided tensor keeps its short side unclipped.
//               Prefix sums make a candidate O(levels), the search O(bins·levels): ~0.3 M steps for
//               int8 on 2048 bins. If levels ≥ bins the histogram cannot resolve one step and the
//               range is [min, max].
//   mse         minimizes quantization_mse (the expected squared error under the actual scale, zero
//               point, rounding and clamping) over clipping ranges. Symmetric target: one threshold t,
//               range [−t, t] ∩ [min, max]. Asymmetric target: both ends, by alternating 1-D searches
//               (upper end with the lower fixed, then the lower end), each with the zero point the
//               range implies (qparams_from_range), until a round gains nothing. Each 1-D search
//               tries a geometric grid over [mse_min_fraction, 1]·extent, the current end and the
//               extent itself, then refines twice on a linear grid around the best. The search starts
//               from the better of the minmax and the percentile ranges, so its objective is never
//               worse than either.
//   pow2_mse    Quark's PowerOfTwoMethod.MinMSE (XINT8): scale = 2^−pos for pos = pos0 + pow2_first
//               … pos0 + pow2_last (default pos0 … pos0 + 4, five positions), the smallest
//               quantization_mse wins (ties: the smaller pos). pos0 is the non-overflow position, the
//               pos of qparams_from_range(min, max) on a power-of-two target, i.e. for symmetric
//               targets the largest pos with max|x|·2^pos ≤ symmetric_levels(): floor(log2(levels /
//               max|x|)). The zero point is the one of that minmax parameter set, kept for every pos
//               (as Quark keeps it). The result is a power-of-two scale whatever target.pow2 says.
//               Relation to the tools (docs/quantization.md has the citations): vai_q_onnx's
//               get_pos_overflow is floor(log2(min(128.5/|min|, 127.5/max))), one higher than pos0
//               when the extreme lands within half a step past the last code; it scans pos … pos+4.
//               Quark's current MinMSE starts from rint(−log2(s_minmax)) ∈ {pos0, pos0+1} and scans
//               −1 … +3 around it. pos0 … pos0+4 contains every position either tool can choose except
//               vai_q's pos0+5 in that half-step case and Quark's pos0−1 (coarser than non-overflow:
//               never smaller error in practice).
// Non-power-of-two methods on a power-of-two target: qparams_from_range rounds the scale up.
// All methods: a tensor with min == max gets the minmax parameters (a scale that represents the
// value; scale 1 if it is 0). No observed values is a qnn::error; so is a histogram method given an
// empty histogram.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include "qnn/core/error.hpp"
#include "qnn/numerics/rounding.hpp"
#include "qnn/quantize/histogram.hpp"
#include "qnn/quantize/qparams.hpp"

namespace qnn::quant {

enum class CalibMethod : std::uint8_t { minmax, percentile, entropy, mse, pow2_mse };

constexpr std::string_view name_of(CalibMethod m) {
  switch (m) {
    case CalibMethod::minmax: return "minmax";
    case CalibMethod::percentile: return "percentile";
    case CalibMethod::entropy: return "entropy";
    case CalibMethod::mse: return "mse";
    case CalibMethod::pow2_mse: return "pow2-mse";
  }
  return "?";
}

inline std::optional<CalibMethod> parse_method(std::string_view s) {
  for (CalibMethod m : {CalibMethod::minmax, CalibMethod::percentile, CalibMethod::entropy, CalibMethod::mse,
                        CalibMethod::pow2_mse})
    if (name_of(m) == s) return m;
  return std::nullopt;
}

struct MethodOptions {
  // percentile (and mse's starting candidate): p in (0, 100].
  double percentile = 99.999;
  // Resolution of the statistics: the calibration driver's GridHistogram spans [min, max] with
  // between histogram_bins and 2·histogram_bins + 1 bins (each narrower than (max − min) /
  // histogram_bins). The methods use the bins of the Histogram they receive, whatever their number.
  int histogram_bins = 2048;
  // entropy: quantization bins on one side; 0 = derived from the target (see the header comment).
  int entropy_levels = 0;
  // mse: smallest clipping threshold tried, as a fraction of the side's extent; points of the
  // geometric grid; points of each of the two linear refinements; alternating rounds (asymmetric).
  double mse_min_fraction = 1e-3;
  int mse_grid = 96;
  int mse_refine = 17;
  int mse_rounds = 4;
  // pow2_mse: positions pos0 + pow2_first … pos0 + pow2_last (Quark: −1 … +3 around its rint start).
  int pow2_first = 0;
  int pow2_last = 4;

  void validate() const {
    check(percentile > 0 && percentile <= 100, "calibration: percentile ", percentile, " is not in (0, 100]");
    check(histogram_bins >= 1 && histogram_bins <= (1 << 23), "calibration: histogram_bins ", histogram_bins,
          " is not in [1, 2^23]");
    check(entropy_levels >= 0, "calibration: entropy_levels ", entropy_levels, " must be 0 (derived) or positive");
    check(mse_min_fraction > 0 && mse_min_fraction <= 1, "calibration: mse_min_fraction ", mse_min_fraction,
          " is not in (0, 1]");
    check(mse_grid >= 2 && mse_refine >= 3 && mse_rounds >= 1, "calibration: mse_grid (", mse_grid,
          ") must be ≥ 2, mse_refine (", mse_refine, ") ≥ 3 and mse_rounds (", mse_rounds, ") ≥ 1");
    check(pow2_first <= pow2_last && pow2_last - pow2_first <= 64, "calibration: pow2 scan ", pow2_first, " … ",
          pow2_last, " is empty or wider than 64 positions");
  }
};

// Quark's scale2pos / pos2scale: pos = rint(−log2(clamp(s, 2^−127, 2^127))), scale = 2^−pos.
inline int scale_to_pos(float s) {
  check(s > 0, "scale_to_pos: scale ", s, " is not positive");
  const double c = std::clamp(double{s}, std::ldexp(1.0, -127), std::ldexp(1.0, 127));
  return static_cast<int>(round_half_even(-std::log2(c)));
}
inline float pos_to_scale(int pos) {
  check(pos >= -127 && pos <= 127, "pos_to_scale: position ", pos, " is outside [−127, 127]");
  return std::ldexp(1.0f, -pos);
}

namespace method_detail {

// The range the quantizer actually clamps to: the storage type's, also for symmetric targets
// (QuantizeLinear on int8 produces −128 for x < −127.5·s whatever the calibration assumed).
inline std::pair<std::int32_t, std::int32_t> storage_range(DType t) {
  switch (t) {
    case DType::u8: return {0, 255};
    case DType::i8: return {-128, 127};
    case DType::u16: return {0, 65535};
    case DType::i16: return {-32768, 32767};
    default: fail("quantization target must be u8, i8, u16 or i16, got ", t);
  }
}

inline double cube(double x) { return x * x * x; }

// An antiderivative of (x − Q(x))² for the quantizer with step s whose reconstruction values are the
// multiples of s in [rlo, rhi] (clamped outside): on the staircase, with n the nearest integer to
// x/s and φ = x − n·s ∈ [−s/2, s/2), H(x) = n·s³/12 + (φ³ + s³/8)/3; beyond the ends, (x − end)³/3.
// One evaluation per bin edge; a bin's integral is the difference at its two edges.
struct SqErrorAntiderivative {
  double s, inv_s, rlo, rhi;
  double operator()(double x) const {
    const double xc = std::clamp(x, rlo, rhi);
    const double n = std::floor(xc * inv_s + 0.5);
    const double phi = xc - n * s;
    return n * cube(s) / 12 + (cube(phi) + cube(s) / 8) / 3 + cube(x - xc) / 3;
  }
};

}  // namespace method_detail

// Mean squared quantization error of the histogram's values under `p` on `t`'s storage:
// Σ_bins count·(1/width)∫_bin (x − Q(x))² dx / Σ count, Q(x) = s·(clamp(rne(x/s) + zp) − zp) in real
// arithmetic. Integrating over the bin instead of taking (centre − Q(centre))² matters when a step
// is not much wider than a bin (fine power-of-two positions, 16-bit targets): the centres then sit at
// a few fixed offsets from the grid and their error says little about the bin's — at a step of half
// a bin the centres of a symmetric histogram are exactly representable and the centre rule reports
// zero error. A histogram of zero width (min == max) is a point mass at lo.
inline double quantization_mse(const Histogram& h, const QParams& p, const QuantTarget& t) {
  check(p.scale > 0 && std::isfinite(p.scale), "quantization_mse: scale ", p.scale, " is not positive and finite");
  const auto [smin, smax] = method_detail::storage_range(t.storage);
  check(p.zero_point >= smin && p.zero_point <= smax, "quantization_mse: zero point ", p.zero_point,
        " is outside the ", t.storage, " range");
  const std::int64_t total = h.total();
  check(total > 0, "quantization_mse: the histogram is empty");
  const double s = p.scale;
  const double rlo = (smin - p.zero_point) * s, rhi = (smax - p.zero_point) * s;
  const double w = h.width();
  if (!(w > 0)) {
    const double x = h.lo;
    const double q = s * round_half_even(std::clamp(x / s, rlo / s, rhi / s));
    return (x - q) * (x - q);
  }
  const method_detail::SqErrorAntiderivative f{s, 1 / s, rlo, rhi};
  double sum = 0, f_left = f(h.edge(0));
  for (int k = 0; k < h.bins(); ++k) {
    const double f_right = f(h.edge(k + 1));
    const auto c = h.counts[static_cast<std::size_t>(k)];
    if (c != 0) sum += static_cast<double>(c) * (f_right - f_left);
    f_left = f_right;
  }
  return sum / w / static_cast<double>(total);
}

namespace method_detail {

struct Range {
  double lo, hi;
};

// The piecewise-linear CDF of a histogram (uniform density inside each bin).
class Cdf {
 public:
  explicit Cdf(const Histogram& h) : lo_(h.lo), w_(h.width()), n_(h.bins()), pre_(static_cast<std::size_t>(n_) + 1, 0.0) {
    for (int k = 0; k < n_; ++k) pre_[k + 1] = pre_[k] + static_cast<double>(h.counts[static_cast<std::size_t>(k)]);
  }
  double total() const { return pre_.back(); }

  // Mass below x.
  double below(double x) const {
    const double u = position(x);
    const int k = std::min(static_cast<int>(u), n_ - 1);
    return pre_[k] + (pre_[k + 1] - pre_[k]) * (u - k);
  }
  // Mass of |x| ≤ t: the folded CDF.
  double within(double t) const { return below(t) - below(-t); }

  // Smallest x with below(x) ≥ m (0 < m ≤ total).
  double quantile_high(double m) const {
    const auto it = std::lower_bound(pre_.begin() + 1, pre_.end(), m);
    const int k = static_cast<int>(it - pre_.begin()) - 1;  // pre[k] < m ≤ pre[k+1], so bin k is not empty
    if (k >= n_) return edge(n_);
    return edge(k) + (m - pre_[k]) / (pre_[k + 1] - pre_[k]) * w_;
  }
  // Largest x with below(x) ≤ m (0 ≤ m < total).
  double quantile_low(double m) const {
    const auto it = std::upper_bound(pre_.begin(), pre_.end(), m);
    const int k = static_cast<int>(it - pre_.begin()) - 1;  // pre[k] ≤ m < pre[k+1]
    if (k >= n_) return edge(n_);
    return edge(k) + (m - pre_[k]) / (pre_[k + 1] - pre_[k]) * w_;
  }
  // Smallest t ≥ 0 with within(t) ≥ m, by bisection (within is continuous and non-decreasing).
  double abs_quantile(double m, double tmax) const {
    double a = 0, b = tmax;
    for (int it = 0; it < 200 && b - a > 1e-15 * tmax; ++it) {
      const double c = 0.5 * (a + b);
      (within(c) >= m ? b : a) = c;
    }
    return b;
  }

 private:
  double edge(int k) const { return lo_ + k * w_; }
  // x in bin units, clamped to [0, n]; a position within 1e−9 of a bin edge is that edge, so a grid
  // aligned with the histogram's (the |x| grid of a tensor with min = 0) reads whole bins exactly.
  double position(double x) const {
    double u = (x - lo_) / w_;
    const double r = std::round(u);
    if (std::fabs(u - r) <= 1e-9 * std::max(1.0, std::fabs(u))) u = r;
    return std::clamp(u, 0.0, static_cast<double>(n_));
  }

  double lo_, w_;
  int n_;
  std::vector<double> pre_;
};

inline Range clip(Range r, const RangeObserver& obs) {
  return {std::clamp(r.lo, double{obs.min}, double{obs.max}), std::clamp(r.hi, double{obs.min}, double{obs.max})};
}
inline Range symmetric_window(double t, const RangeObserver& obs) { return clip({-t, t}, obs); }

inline QParams params_of(Range r, const QuantTarget& t) { return qparams_from_range(r.lo, r.hi, t); }

inline Range percentile_range(const Cdf& cdf, const RangeObserver& obs, const QuantTarget& t, double percentile) {
  const double total = cdf.total();
  if (t.symmetric) {
    const double amax = std::max(-double{obs.min}, double{obs.max});
    return symmetric_window(cdf.abs_quantile(percentile / 100 * total, amax), obs);
  }
  const double tail = (100 - percentile) / 200 * total;
  return clip({cdf.quantile_low(tail), cdf.quantile_high(total - tail)}, obs);
}

inline int entropy_levels(const RangeObserver& obs, const QuantTarget& t, const MethodOptions& o) {
  if (o.entropy_levels > 0) return o.entropy_levels;
  if (t.symmetric) return t.symmetric_levels() + 1;
  const int codes = t.qmax() - t.qmin() + 1;
  return (obs.min >= 0 || obs.max <= 0) ? codes : codes / 2;
}

// The |x| histogram's bins: the histogram's own width from 0 up to the first edge at or past max|x|.
// On a grid histogram (0 is an edge) folding then moves whole bins, so every |x| count is exact. A
// histogram far narrower than max|x| (a tensor far from 0) would need more than 4 times its own
// bins; it is read at histogram_bins bins over [0, max|x|] instead, interpolated.
inline std::pair<int, double> entropy_bins(const Histogram& h, const RangeObserver& obs, const MethodOptions& o) {
  const double amax = std::max(std::fabs(double{obs.min}), std::fabs(double{obs.max}));
  const double w = h.width(), r = amax / w;
  if (!(r <= 4.0 * h.bins())) return {o.histogram_bins, amax};
  const int n = std::max(1, static_cast<int>(std::ceil(r * (1 - 1e-12))));
  return {n, n * w};
}

// TensorRT's KL search on the |x| histogram of n bins over [0, tmax] (NVIDIA pytorch-quantization's
// _compute_amax_entropy); returns the threshold t.
inline double entropy_threshold(const Cdf& cdf, double tmax, int n, int levels) {
  if (levels >= n) return tmax;
  // The |x| histogram A over [0, tmax], n bins, from the folded CDF.
  std::vector<double> a(static_cast<std::size_t>(n));
  double prev = 0;
  for (int j = 0; j < n; ++j) {
    // The last bin ends at max|x| and takes all the rest: a histogram bin may reach past max|x|.
    const double cur = j + 1 == n ? cdf.total() : cdf.within(tmax * (j + 1) / n);
    a[j] = std::max(0.0, cur - prev);
    prev = cur;
  }
  // The first bin takes its neighbour's count, as NVIDIA's search does (bins[0] = bins[1]). After a
  // ReLU that bin holds the exact zeros, often most of the tensor; every range keeps 0 exact, so
  // that mass says nothing about the threshold, yet spread over Q's first group it dominates the
  // divergence and drives the search to the narrowest groups, i.e. to clipping hard.
  if (n > 1) a[0] = a[1];
  // Prefix sums: counts, non-empty bins, Σ a·log a.
  std::vector<double> pre(static_cast<std::size_t>(n) + 1, 0.0), plogp(static_cast<std::size_t>(n) + 1, 0.0);
  std::vector<int> nz(static_cast<std::size_t>(n) + 1, 0);
  for (int j = 0; j < n; ++j) {
    pre[j + 1] = pre[j] + a[j];
    nz[j + 1] = nz[j] + (a[j] > 0);
    plogp[j + 1] = plogp[j] + (a[j] > 0 ? a[j] * std::log(a[j]) : 0.0);
  }
  const double total = pre[n];
  double best_kl = std::numeric_limits<double>::infinity();
  int best_i = n;
  for (int i = levels; i <= n; ++i) {
    const double outliers = total - pre[i];
    if (a[i - 1] == 0 && outliers > 0) continue;  // P > 0 where Q = 0: infinite divergence
    // KL(P‖Q) = Σ_j P_j log(P_j/Q_j) over P_j > 0, P = p/total, Q = q/pre[i], q_j = C_g/nz_g on group g.
    const double last = a[i - 1] + outliers;
    const double sum_plogp = plogp[i - 1] + (last > 0 ? last * std::log(last) : 0.0);
    double sum_plogq = 0;
    for (int g = 0, b = 0; g < levels; ++g) {
      const int e = static_cast<int>((static_cast<std::int64_t>(g + 1) * i + levels - 1) / levels);  // ⌈(g+1)·i/L⌉
      const double c = pre[e] - pre[b];
      if (c > 0) sum_plogq += (e == i ? c + outliers : c) * std::log(c / (nz[e] - nz[b]));
      b = e;
    }
    const double kl = (sum_plogp - sum_plogq) / total - std::log(total) + std::log(pre[i]);
    if (kl <= best_kl + 1e-12) {
      best_kl = std::min(best_kl, kl);
      best_i = i;
    }
  }
  return best_i == n ? tmax : tmax * best_i / n;
}

struct Candidate {
  Range range;
  QParams params;
  double mse;
};

// One clipping threshold in (0, extent]. A full search tries the extent and a geometric grid; both
// kinds then refine twice on a linear grid around the best (a local search only refines around
// `current`). `make(t)` gives the range for threshold t; `best` holds the threshold `current`.
template <class Make>
Candidate search_threshold(double extent, double current, bool full, Make make, const Histogram& h,
                           const QuantTarget& t, const MethodOptions& o, Candidate best) {
  double th_best = current;
  auto consider = [&](double th) {
    if (!(th > 0) || th > extent) return;
    const Range r = make(th);
    const QParams p = params_of(r, t);
    const double e = quantization_mse(h, p, t);
    if (e < best.mse) {
      best = {r, p, e};
      th_best = th;
    }
  };
  if (full) {
    consider(extent);
    for (int j = 0; j < o.mse_grid; ++j)
      consider(extent * std::pow(o.mse_min_fraction, 1.0 - double(j) / (o.mse_grid - 1)));
  }
  const double ratio = std::pow(1 / o.mse_min_fraction, 1.0 / (o.mse_grid - 1));
  double lo = th_best / ratio, hi = std::min(th_best * ratio, extent);
  for (int pass = 0; pass < 2; ++pass) {
    const double step = (hi - lo) / (o.mse_refine - 1);
    for (int j = 0; j < o.mse_refine; ++j) consider(lo + j * step);
    lo = std::max(th_best - step, 0.0);
    hi = std::min(th_best + step, extent);
  }
  return best;
}

inline QParams mse_params(const Histogram& h, const Cdf& cdf, const RangeObserver& obs, const QuantTarget& t,
                          const MethodOptions& o) {
  const Range mm{obs.min, obs.max};
  const Range pr = percentile_range(cdf, obs, t, o.percentile);
  const QParams pmm = params_of(mm, t), ppr = params_of(pr, t);
  const double emm = quantization_mse(h, pmm, t), epr = quantization_mse(h, ppr, t);
  Candidate best = epr < emm ? Candidate{pr, ppr, epr} : Candidate{mm, pmm, emm};
  if (t.symmetric) {
    const double amax = std::max(-mm.lo, mm.hi);
    const double cur = std::max(-best.range.lo, best.range.hi);
    return search_threshold(amax, cur, true, [&](double th) { return symmetric_window(th, obs); }, h, t, o, best)
        .params;
  }
  for (int round = 0; round < o.mse_rounds; ++round) {
    const double before = best.mse;
    const bool full = round == 0;
    if (mm.hi > 0) {
      const double lo = best.range.lo;
      best = search_threshold(mm.hi, best.range.hi, full, [&](double th) { return Range{lo, th}; }, h, t, o, best);
    }
    if (mm.lo < 0) {
      const double hi = best.range.hi;
      best = search_threshold(-mm.lo, -best.range.lo, full, [&](double th) { return Range{-th, hi}; }, h, t, o, best);
    }
    if (!(best.mse < before * (1 - 1e-6))) break;
  }
  return best.params;
}

inline QParams pow2_mse_params(const Histogram& h, const RangeObserver& obs, QuantTarget t, const MethodOptions& o) {
  t.pow2 = true;
  const QParams p0 = qparams_from_range(obs.min, obs.max, t);
  const int pos0 = scale_to_pos(p0.scale);
  QParams best = p0;
  double best_mse = std::numeric_limits<double>::infinity();
  for (int k = o.pow2_first; k <= o.pow2_last; ++k) {
    const int pos = pos0 + k;
    if (pos < -127 || pos > 127) continue;
    const QParams p{pos_to_scale(pos), p0.zero_point};
    const double e = quantization_mse(h, p, t);
    if (e < best_mse) {
      best_mse = e;
      best = p;
    }
  }
  return best;
}

}  // namespace method_detail

inline QParams calibrate_tensor(CalibMethod method, const RangeObserver& obs, const Histogram& hist,
                                const QuantTarget& target, const MethodOptions& opts = {}) {
  opts.validate();
  check(!obs.empty(), "calibration (", name_of(method), "): no values were observed for this tensor");
  QuantTarget t = target;
  if (method == CalibMethod::pow2_mse) t.pow2 = true;
  const QParams minmax = qparams_from_range(obs.min, obs.max, t);
  if (method == CalibMethod::minmax || obs.min == obs.max) return minmax;
  check(hist.bins() > 0 && hist.total() > 0, "calibration (", name_of(method),
        "): the histogram of this tensor is empty; this method needs one");
  check(hist.hi > hist.lo, "calibration (", name_of(method), "): histogram range [", hist.lo, ", ", hist.hi,
        "] is empty while the observed range is [", obs.min, ", ", obs.max, "]");
  const method_detail::Cdf cdf(hist);
  switch (method) {
    case CalibMethod::percentile: return method_detail::params_of(method_detail::percentile_range(cdf, obs, t, opts.percentile), t);
    case CalibMethod::entropy: {
      const auto [n, tmax] = method_detail::entropy_bins(hist, obs, opts);
      const double th = method_detail::entropy_threshold(cdf, tmax, n, method_detail::entropy_levels(obs, t, opts));
      return method_detail::params_of(method_detail::symmetric_window(th, obs), t);
    }
    case CalibMethod::mse: return method_detail::mse_params(hist, cdf, obs, t, opts);
    case CalibMethod::pow2_mse: return method_detail::pow2_mse_params(hist, obs, t, opts);
    case CalibMethod::minmax: break;
  }
  return minmax;
}

}  // namespace qnn::quant
