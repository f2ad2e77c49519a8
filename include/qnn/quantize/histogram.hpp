// Streaming statistics of one tensor over a calibration set, in bounded memory.
//
// Calibration makes one pass over the data. Each tensor keeps its running minimum and maximum
// (RangeObserver) and, for the histogram methods, a GridHistogram: a histogram whose bins lie on a
// power-of-two grid that coarsens as the range grows. Memory is O(tensors × bins), independent of
// the number of calibration samples, and the result does not depend on batch boundaries or on the
// order of batches. NaN or infinity in a tensor is a qnn::error naming the tensor: a poisoned range
// would silently ruin the scale.
#pragma once

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <span>
#include <string>
#include <vector>

#include "qnn/core/error.hpp"

namespace qnn::quant {

namespace detail {
[[noreturn]] inline void fail_nonfinite(const std::string& tensor, float x) {
  fail("calibration: tensor '", tensor, "' holds ", x, "; NaN or infinity in calibration data would poison its scale");
}
}  // namespace detail

struct RangeObserver {
  float min = std::numeric_limits<float>::infinity();
  float max = -std::numeric_limits<float>::infinity();
  std::int64_t count = 0;

  void observe(std::span<const float> v, const std::string& tensor) {
    // One branch-free pass the compiler vectorizes (this runs on every activation of every
    // calibration image); only a batch holding a non-finite value is walked again to name it.
    float lo = min, hi = max;
    bool nan = false;
    for (const float x : v) {
      lo = x < lo ? x : lo;
      hi = x > hi ? x : hi;
      nan |= x != x;
    }
    if (nan || !std::isfinite(lo) || !std::isfinite(hi))
      for (std::size_t i = 0; i < v.size(); ++i)
        if (!std::isfinite(v[i]))
          fail("calibration: tensor '", tensor, "' holds ", v[i], " (value ", count + static_cast<std::int64_t>(i),
               "); NaN or infinity in calibration data would poison its scale");
    min = lo;
    max = hi;
    count += static_cast<std::int64_t>(v.size());
  }
  bool empty() const { return count == 0; }

  // Statistics of the union: what one observer of both spans would hold.
  void merge(const RangeObserver& o) {
    min = std::min(min, o.min);
    max = std::max(max, o.max);
    count += o.count;
  }
};

// `bins` equal-width bins over [lo, hi]. Values outside (possible only if the range came from other
// data) go to the end bins. The ends are doubles so that a GridHistogram's edges, multiples of a
// power of two far from 0, are held exactly.
struct Histogram {
  double lo = 0;
  double hi = 0;
  std::vector<std::int64_t> counts;

  Histogram() = default;
  Histogram(double l, double h, int bins) : lo(l), hi(h), counts(static_cast<std::size_t>(bins), 0) {
    check(bins >= 1, "histogram needs at least one bin");
    check(h >= l, "histogram range [", l, ", ", h, "] is inverted");
  }

  int bins() const { return static_cast<int>(counts.size()); }
  double width() const { return (hi - lo) / bins(); }
  double center(int i) const { return lo + (i + 0.5) * width(); }
  double edge(int i) const { return lo + i * width(); }
  std::int64_t total() const {
    std::int64_t t = 0;
    for (auto c : counts) t += c;
    return t;
  }

  int bin_of(float x) const {
    if (hi == lo) return 0;
    const double f = (double{x} - lo) / width();
    return static_cast<int>(std::clamp<double>(std::floor(f), 0, bins() - 1));
  }

  // Counts of the union: what one histogram of both spans would hold.
  void merge(const Histogram& o) {
    check(o.lo == lo && o.hi == hi && o.counts.size() == counts.size(), "histogram merge: different bins");
    for (std::size_t k = 0; k < counts.size(); ++k) counts[k] += o.counts[k];
  }

  // Same bins as bin_of, element for element. The division is bin_of's, hoisted width and all, so
  // edges land in the same bin.
  void observe(std::span<const float> v, const std::string& tensor) {
    if (hi == lo) {  // bin_of's one-bin case
      count(v, tensor, [](const float*, std::int32_t* idx, std::size_t n) { std::fill_n(idx, n, 0); });
      return;
    }
    const double w = width(), l = lo, top = bins() - 1;
    count(v, tensor, [&](const float* p, std::int32_t* idx, std::size_t n) {
      for (std::size_t i = 0; i < n; ++i) {
        // bin_of's clamp(floor(f), 0, top) without floor, which keeps GCC from vectorizing: clamped
        // to [0, top] first (NaN lands on 0, reported by count), truncation is floor, and top is whole.
        const double f = (double{p[i]} - l) / w;
        const double c = f >= 0 ? f : 0.0;
        idx[i] = static_cast<std::int32_t>(c <= top ? c : top);
      }
    });
  }

  // Adds v's values to the bins `index(chunk, idx, n)` writes to idx for the n values at `chunk`.
  // Two passes per chunk: the bin indices (a loop the compiler
  // can vectorize), then the counting into two interleaved 32-bit tables. Post-ReLU tensors put most
  // values in one bin, and incrementing one counter back to back waits on the previous store each
  // time; alternating tables halves that chain.
  template <class Index>
  void count(std::span<const float> v, const std::string& tensor, Index index) {
    if (v.empty()) return;
    constexpr std::size_t kChunk = 512;
    // Flushed before a 32-bit count could overflow.
    constexpr std::size_t kFlush = std::size_t{1} << 30;
    std::int32_t idx[kChunk];
    // Per-thread scratch, reused from call to call: calibration calls this for every tensor of
    // every batch.
    thread_local std::vector<std::uint32_t> scratch;
    scratch.assign(2 * counts.size(), 0);
    const std::span<std::uint32_t> even(scratch.data(), counts.size()), odd(scratch.data() + counts.size(), counts.size());
    const auto flush = [&] {
      for (std::size_t k = 0; k < counts.size(); ++k) {
        counts[k] += std::int64_t{even[k]} + std::int64_t{odd[k]};
        even[k] = odd[k] = 0;
      }
    };
    std::size_t since_flush = 0;
    for (std::size_t b = 0; b < v.size(); b += kChunk) {
      const std::size_t n = std::min(kChunk, v.size() - b);
      const float* p = v.data() + b;
      int nonfinite = 0;
      for (std::size_t i = 0; i < n; ++i) {
        std::uint32_t bits;  // an all-ones exponent: NaN or infinity, tested on the bits to stay vectorizable
        std::memcpy(&bits, p + i, sizeof bits);
        nonfinite |= (bits & 0x7f800000u) == 0x7f800000u;
      }
      if (nonfinite)
        for (std::size_t i = 0; i < n; ++i)
          if (!std::isfinite(p[i])) detail::fail_nonfinite(tensor, p[i]);
      index(p, idx, n);
      std::size_t i = 0;
      for (; i + 1 < n; i += 2) {
        ++even[static_cast<std::size_t>(idx[i])];
        ++odd[static_cast<std::size_t>(idx[i + 1])];
      }
      if (i < n) ++even[static_cast<std::size_t>(idx[i])];
      if ((since_flush += n) >= kFlush) {
        flush();
        since_flush = 0;
      }
    }
    flush();
  }
};

// A histogram built in the same pass as the range, before the range is known. Its bins are
// [k·2^e, (k+1)·2^e) for consecutive integers k: the finest power-of-two width for which the range
// covered so far takes at most `max_bins` bins. When the range grows, the width doubles as often as
// it must and runs of bins merge. That is exact, because every edge of the coarser grid is an edge
// of the finer one: the counts are those of the final grid, whatever the batches and their order,
// and the width is fixed by the final range alone. The final range [min, max] spans more than
// (max_bins − 1)/2 bins, so each bin is narrower than 2·(max − min)/(max_bins − 1).
//
// Binning is exact too. f = x·2^−e is exact in double, and the bin ⌊f⌋ − k_first is computed as
// f − k_first truncated. That subtraction is exact when |f| ≥ ½: f is then a multiple of 2^−24 and the
// result is below 2^25 in magnitude. A value in (−½, 0), whose f − k_first could round up onto the
// edge at 0 (x = −10^−30), is replaced by −½, which has the same floor; [0, ½) cannot round up to
// the next integer.
class GridHistogram {
 public:
  explicit GridHistogram(int max_bins) : max_bins_(max_bins) {
    check(max_bins >= 2 && max_bins <= (1 << 24), "grid histogram: max_bins ", max_bins, " is not in [2, 2^24]");
  }

  // Widens the grid to cover [lo, hi] too (finite, lo ≤ hi). Until the covered range has a width
  // the values are one point and are only counted.
  void cover(float lo, float hi) {
    check(std::isfinite(lo) && std::isfinite(hi) && lo <= hi, "grid histogram: range [", lo, ", ", hi,
          "] is not finite and ordered");
    if (h_.counts.empty() && lo_ <= hi_) point_ = lo_;  // what the values counted so far all are
    lo_ = std::min(lo_, lo);
    hi_ = std::max(hi_, hi);
    if (lo_ == hi_) return;
    // Without a grid yet, start from a width that surely gives too many bins; the minimal width
    // never shrinks as the range grows, so the search only ever goes up.
    int e = h_.counts.empty()
                ? static_cast<int>(std::floor(std::log2((double{hi_} - double{lo_}) / max_bins_))) - 1
                : exp_;
    while (last(e) - first(e) + 1 > max_bins_) ++e;
    if (h_.counts.empty() || e != exp_ || first(e) != first_ || last(e) != first_ + h_.bins() - 1) regrid(e);
  }

  void observe(std::span<const float> v, const std::string& tensor) {
    if (h_.counts.empty()) {  // a point range: every value is that point
      check(lo_ <= hi_ || v.empty(), "grid histogram: values observed before any range was covered");
      for (const float x : v)
        if (!std::isfinite(x)) detail::fail_nonfinite(tensor, x);
      point_count_ += static_cast<std::int64_t>(v.size());
      return;
    }
    const double inv_w = std::ldexp(1.0, -exp_), k0 = static_cast<double>(first_), top = h_.bins() - 1;
    h_.count(v, tensor, [&](const float* p, std::int32_t* idx, std::size_t n) {
      for (std::size_t i = 0; i < n; ++i) {
        const double f = double{p[i]} * inv_w;
        // (−½, 0) → −½: the same floor, −1, and f − k0 is then exact (see the class comment).
        const double fa = f < 0 ? (f < -0.5 ? f : -0.5) : f;
        // Clamped to [0, top] (a value outside the covered range goes to an end bin), truncation is
        // floor. Written without floor, which keeps GCC from vectorizing below SSE4.1.
        const double g = fa - k0;
        const double c = g >= 0 ? g : 0.0;
        idx[i] = static_cast<std::int32_t>(c <= top ? c : top);
      }
    });
  }

  // Counts of the union; `o` has the same grid (it was covered with the same ranges).
  void merge(const GridHistogram& o) {
    check(o.exp_ == exp_ && o.first_ == first_, "grid histogram merge: different grids");
    h_.merge(o.h_);
    point_count_ += o.point_count_;
  }

  // The same grid, no counts: a part for another thread to fill and merge.
  GridHistogram empty_copy() const {
    GridHistogram g = *this;
    std::fill(g.h_.counts.begin(), g.h_.counts.end(), 0);
    g.point_count_ = 0;
    return g;
  }

  // The counts as a Histogram over [k_first·2^e, (k_last + 1)·2^e] ⊇ [min, max]; a point range is
  // one bin of zero width at that point; nothing covered yet, an empty Histogram.
  Histogram histogram() const {
    if (h_.counts.empty()) {
      if (!(lo_ <= hi_)) return {};
      Histogram h(lo_, hi_, 1);
      h.counts[0] = point_count_;
      return h;
    }
    return h_;
  }

 private:
  // ⌊x / 2^e⌋, exact: the scaling is, and the result stays below 2^50 in magnitude, because a range
  // with a width spans at least one float step (2^−23 of its ends' magnitude) and e is never chosen
  // finer than a quarter of width / max_bins.
  static std::int64_t grid_index(float x, int e) { return static_cast<std::int64_t>(std::floor(std::ldexp(double{x}, -e))); }
  std::int64_t first(int e) const { return grid_index(lo_, e); }
  std::int64_t last(int e) const { return grid_index(hi_, e); }

  void regrid(int e) {
    const std::int64_t k0 = first(e), k1 = last(e);
    Histogram h(std::ldexp(static_cast<double>(k0), e), std::ldexp(static_cast<double>(k1 + 1), e),
                static_cast<int>(k1 - k0 + 1));
    if (!h_.counts.empty()) {
      const int shift = std::min(e - exp_, 62);  // arithmetic shift: ⌊k / 2^shift⌋ for negative k too
      for (int j = 0; j < h_.bins(); ++j)
        h.counts[static_cast<std::size_t>(((first_ + j) >> shift) - k0)] += h_.counts[static_cast<std::size_t>(j)];
    } else if (point_count_ > 0) {  // the values seen while the range was the single point lo_ or hi_
      h.counts[static_cast<std::size_t>(grid_index(point_, e) - k0)] += point_count_;
      point_count_ = 0;
    }
    h_ = std::move(h);
    exp_ = e;
    first_ = k0;
  }

  int max_bins_;
  float lo_ = std::numeric_limits<float>::infinity();
  float hi_ = -std::numeric_limits<float>::infinity();
  float point_ = 0;
  std::int64_t point_count_ = 0;
  int exp_ = 0;
  std::int64_t first_ = 0;
  Histogram h_;
};

}  // namespace qnn::quant
