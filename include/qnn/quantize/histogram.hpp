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

  void observe(std::span<const float> v, const std::string& tensor) {
    for (float x : v) {
      if (!std::isfinite(x)) fail("calibration: tensor '", tensor, "' holds ", x, "; NaN or infinity in calibration "
                                  "data would poison its scale");
      ++counts[static_cast<std::size_t>(bin_of(x))];
    }
  }
};

}  // namespace qnn::quant
