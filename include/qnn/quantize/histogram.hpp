// Streaming statistics of one tensor over a calibration set, in bounded memory.
//
// Calibration makes two passes over the data. The first keeps each tensor's running minimum and
// maximum (RangeObserver); the second bins every value into a fixed histogram spanning that range
// (Histogram). Memory is O(tensors × bins), independent of the number of calibration samples, and
// the result does not depend on batch boundaries or on the order of batches. NaN or infinity in a
// tensor is a qnn::error naming the tensor: a poisoned range would silently ruin the scale.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <span>
#include <string>
#include <vector>

#include "qnn/core/error.hpp"

namespace qnn::quant {

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
// data) go to the end bins.
struct Histogram {
  float lo = 0;
  float hi = 0;
  std::vector<std::int64_t> counts;

  Histogram() = default;
  Histogram(float l, float h, int bins) : lo(l), hi(h), counts(static_cast<std::size_t>(bins), 0) {
    check(bins >= 1, "histogram needs at least one bin");
    check(h >= l, "histogram range [", l, ", ", h, "] is inverted");
  }

  int bins() const { return static_cast<int>(counts.size()); }
  double width() const { return (double{hi} - double{lo}) / bins(); }
  double center(int i) const { return double{lo} + (i + 0.5) * width(); }
  double edge(int i) const { return double{lo} + i * width(); }
  std::int64_t total() const {
    std::int64_t t = 0;
    for (auto c : counts) t += c;
    return t;
  }

  int bin_of(float x) const {
    if (hi == lo) return 0;
    const double f = (double{x} - double{lo}) / width();
    return static_cast<int>(std::clamp<double>(std::floor(f), 0, bins() - 1));
  }

  // Counts of the union: what one histogram of both spans would hold.
  void merge(const Histogram& o) {
    check(o.lo == lo && o.hi == hi && o.counts.size() == counts.size(), "histogram merge: different bins");
    for (std::size_t k = 0; k < counts.size(); ++k) counts[k] += o.counts[k];
  }

  // Same bins as bin_of, element for element. Two passes per chunk: the bin indices (a loop the
  // compiler vectorizes; the division is bin_of's, hoisted width and all, so edges land in the same
  // bin), then the counting into two interleaved 32-bit tables. Post-ReLU tensors put most values
  // in one bin, and incrementing one counter back to back waits on the previous store each time;
  // alternating tables halves that chain.
  void observe(std::span<const float> v, const std::string& tensor) {
    if (v.empty()) return;
    const auto fail_at = [&](std::size_t i) {
      fail("calibration: tensor '", tensor, "' holds ", v[i], "; NaN or infinity in calibration data would poison its scale");
    };
    if (hi == lo) {  // bin_of's one-bin case
      for (std::size_t i = 0; i < v.size(); ++i)
        if (!std::isfinite(v[i])) fail_at(i);
      counts[0] += static_cast<std::int64_t>(v.size());
      return;
    }
    const double w = width(), l = lo, top = bins() - 1;
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
        // bin_of's clamp(floor(f), 0, top) without floor, which keeps GCC from vectorizing: clamped
        // to [0, top] first (NaN lands on 0, reported below), truncation is floor, and top is whole.
        const double f = (double{p[i]} - l) / w;
        const double c = f >= 0 ? f : 0.0;
        idx[i] = static_cast<std::int32_t>(c <= top ? c : top);
      }
      if (nonfinite)
        for (std::size_t i = 0; i < n; ++i)
          if (!std::isfinite(p[i])) fail_at(b + i);
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

}  // namespace qnn::quant
