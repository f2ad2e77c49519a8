// Shapes and the two activation layouts.
//
// A Shape is a fixed-capacity list of non-negative extents (rank ≤ 8, the most any op we support
// needs), kept inline so shapes are cheap to copy through graph passes without allocating.
//
// Layout: qnn's native activation layout is NCHW, the layout ONNX models carry, so an imported
// graph needs no transposes. Convolutions lower to GEMMs over an NCHW patch matrix whose output is
// NCHW again. The reference kernels address tensors through strides, so they take NHWC views just as
// well (tests run both).
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <ostream>
#include <span>
#include <string>

#include "qnn/core/error.hpp"

namespace qnn {

enum class Layout : std::uint8_t { nchw, nhwc };

inline std::ostream& operator<<(std::ostream& os, Layout l) {
  return os << (l == Layout::nchw ? "NCHW" : "NHWC");
}

class Shape {
 public:
  static constexpr int kMaxRank = 8;

  Shape() = default;
  Shape(std::initializer_list<std::int64_t> dims) { assign(std::span(dims.begin(), dims.size())); }
  explicit Shape(std::span<const std::int64_t> dims) { assign(dims); }

  int rank() const { return rank_; }
  std::int64_t operator[](int i) const { return dims_[static_cast<std::size_t>(i)]; }
  std::int64_t& operator[](int i) { return dims_[static_cast<std::size_t>(i)]; }
  // Python-style index: -1 is the last axis. Checked.
  std::int64_t dim(int axis) const { return dims_[static_cast<std::size_t>(normalize_axis(axis))]; }

  const std::int64_t* begin() const { return dims_.data(); }
  const std::int64_t* end() const { return dims_.data() + rank_; }
  std::span<const std::int64_t> dims() const { return {dims_.data(), static_cast<std::size_t>(rank_)}; }

  // Number of elements; 1 for a scalar (rank 0). Overflow-checked so a hostile header cannot
  // produce a wrapped-around small size.
  // The non-zero dimensions must multiply within int64 even when another dimension is 0, as in
  // NumPy: strides are products of trailing dimensions, so an empty [0, 2^32, 2^32] would overflow
  // them; and whether a shape is valid must not depend on the order of its dimensions.
  std::int64_t numel() const {
    std::int64_t n = 1;
    bool empty = false;
    for (int i = 0; i < rank_; ++i) {
      const std::int64_t d = dims_[static_cast<std::size_t>(i)];
      if (d == 0) {
        empty = true;
        continue;
      }
      check(n <= std::numeric_limits<std::int64_t>::max() / d, "shape ", *this,
            " has more elements than int64 can count");
      n *= d;
    }
    return empty ? 0 : n;
  }

  void push_back(std::int64_t d) {
    check(rank_ < kMaxRank, "rank above ", kMaxRank, " is not supported");
    check(d >= 0, "negative dimension ", d);
    dims_[static_cast<std::size_t>(rank_++)] = d;
  }

  // Maps a possibly negative axis into [0, rank). `rank_plus` allows rank itself (for unsqueeze-like
  // ops that insert after the last axis).
  int normalize_axis(int axis, int rank_plus = 0) const {
    const int r = rank_ + rank_plus;
    check(axis >= -r && axis < r, "axis ", axis, " is out of range for rank ", rank_);
    return axis < 0 ? axis + r : axis;
  }

  friend bool operator==(const Shape& a, const Shape& b) {
    return a.rank_ == b.rank_ && std::equal(a.begin(), a.end(), b.begin());
  }

  friend std::ostream& operator<<(std::ostream& os, const Shape& s) {
    os << '[';
    for (int i = 0; i < s.rank_; ++i) os << (i ? "," : "") << s[i];
    return os << ']';
  }
  std::string str() const { return detail::cat(*this); }

 private:
  void assign(std::span<const std::int64_t> dims) {
    check(dims.size() <= kMaxRank, "rank ", dims.size(), " is above the supported ", kMaxRank);
    rank_ = 0;
    for (std::int64_t d : dims) push_back(d);
  }

  std::array<std::int64_t, kMaxRank> dims_{};
  int rank_ = 0;
};

// Element strides of a densely packed row-major tensor of this shape.
inline std::array<std::int64_t, Shape::kMaxRank> contiguous_strides(const Shape& s) {
  std::array<std::int64_t, Shape::kMaxRank> st{};
  std::int64_t acc = 1;
  for (int i = s.rank() - 1; i >= 0; --i) {
    st[static_cast<std::size_t>(i)] = acc;
    acc *= s[i];
  }
  return st;
}

}  // namespace qnn
