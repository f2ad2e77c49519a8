// Shared helpers of the reference-kernel tests (tests/kernels/test_*.cpp).
//
// Everything here is written independently of the kernels under test: the conv/GEMM references
// pad the input explicitly with its zero point (the kernels skip padded taps), accumulate exactly
// in int64 or in double, and the requantization emulations follow docs/numerics.md §4 formula by
// formula with the standard library's rounding (std::nearbyint under the default round-to-nearest-
// even mode), not qnn's rounding helpers.
#pragma once

#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <span>
#include <sstream>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "qnn/qnn.hpp"

namespace qnn_test {

using Rng = std::mt19937;
using qnn::Shape;
using qnn::Tensor;
using qnn::TensorView;

// ---- formatting for INFO -----------------------------------------------------------------------

template <class T>
std::string str(const std::vector<T>& v) {
  std::ostringstream os;
  os << '{';
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (i) os << ", ";
    if constexpr (std::is_integral_v<T>)
      os << static_cast<long long>(v[i]);
    else if constexpr (std::same_as<T, qnn::bf16>)
      os << v[i].to_float();
    else
      os << v[i];
  }
  return os.str() + '}';
}

// Compares two vectors element by element; on a mismatch the message names the case (`what`), the
// first differing index and both whole vectors.
template <class T, class U>
void check_vec(const std::vector<T>& got, const std::vector<U>& want, const std::string& what = {}) {
  INFO(what);
  INFO("got  " << str(got));
  INFO("want " << str(want));
  REQUIRE(got.size() == want.size());
  std::size_t first_bad = got.size();
  for (std::size_t i = 0; i < got.size(); ++i)
    if (!(static_cast<double>(got[i]) == static_cast<double>(want[i]))) {
      first_bad = i;
      break;
    }
  CAPTURE(first_bad);
  CHECK(first_bad == got.size());
}

// ---- tensors -------------------------------------------------------------------------------------

template <class T>
Tensor make(const Shape& s, const std::vector<T>& v) {
  return Tensor::from<T>(s, std::span<const T>(v.data(), v.size()));
}

// The elements of any (possibly strided) view in logical row-major order.
template <class T>
std::vector<std::remove_const_t<T>> values(TensorView<T> v) {
  std::vector<std::remove_const_t<T>> out;
  out.reserve(static_cast<std::size_t>(v.numel()));
  qnn::ref::for_each_index(v.shape(), [&](const auto& idx) { out.push_back(qnn::ref::at(v, idx)); });
  return out;
}
template <class T>
std::vector<T> values(const Tensor& t) {
  return values(t.view<T>());
}

template <class T>
TensorView<const T> cview(const Tensor& t) {
  return t.view<T>();
}

// The same logical N,C,H,W tensor stored as N,H,W,C.
template <class T>
std::vector<T> nchw_to_nhwc(const std::vector<T>& v, std::int64_t n, std::int64_t c, std::int64_t h,
                            std::int64_t w) {
  std::vector<T> out(v.size());
  for (std::int64_t a = 0; a < n; ++a)
    for (std::int64_t b = 0; b < c; ++b)
      for (std::int64_t y = 0; y < h; ++y)
        for (std::int64_t x = 0; x < w; ++x)
          out[static_cast<std::size_t>(((a * h + y) * w + x) * c + b)] =
              v[static_cast<std::size_t>(((a * c + b) * h + y) * w + x)];
  return out;
}
// ... and as H,W,N,C (a layout no kernel is written for: only strides can read it).
template <class T>
std::vector<T> nchw_to_hwnc(const std::vector<T>& v, std::int64_t n, std::int64_t c, std::int64_t h,
                            std::int64_t w) {
  std::vector<T> out(v.size());
  for (std::int64_t a = 0; a < n; ++a)
    for (std::int64_t b = 0; b < c; ++b)
      for (std::int64_t y = 0; y < h; ++y)
        for (std::int64_t x = 0; x < w; ++x)
          out[static_cast<std::size_t>(((y * w + x) * n + a) * c + b)] =
              v[static_cast<std::size_t>(((a * c + b) * h + y) * w + x)];
  return out;
}
template <class T>
TensorView<T> hwnc_as_nchw(T* data, std::int64_t n, std::int64_t c, std::int64_t h, std::int64_t w) {
  static constexpr std::array<int, 4> perm{2, 3, 0, 1};
  return TensorView<T>(data, Shape{h, w, n, c}).permuted(perm);
}

// ---- random data ---------------------------------------------------------------------------------

inline std::int32_t rand_int(Rng& rng, std::int64_t lo, std::int64_t hi) {
  return static_cast<std::int32_t>(std::uniform_int_distribution<std::int64_t>(lo, hi)(rng));
}
inline float rand_float(Rng& rng, float lo, float hi) {
  return std::uniform_real_distribution<float>(lo, hi)(rng);
}
template <class T>
std::vector<T> random_ints(Rng& rng, std::size_t n, std::int64_t lo = std::numeric_limits<T>::min(),
                           std::int64_t hi = std::numeric_limits<T>::max()) {
  std::vector<T> v(n);
  for (auto& x : v) x = static_cast<T>(rand_int(rng, lo, hi));
  return v;
}
inline std::vector<float> random_floats(Rng& rng, std::size_t n, float lo, float hi) {
  std::vector<float> v(n);
  for (auto& x : v) x = rand_float(rng, lo, hi);
  return v;
}
// A zero point for T: one of the range ends, the middle, or anything (the extremes are where
// overflow and clamping bugs live).
template <class T>
std::int32_t random_zero_point(Rng& rng) {
  const std::int32_t lo = std::numeric_limits<T>::min(), hi = std::numeric_limits<T>::max();
  switch (rand_int(rng, 0, 4)) {
    case 0: return lo;
    case 1: return hi;
    case 2: return (lo + hi + 1) / 2;
    default: return rand_int(rng, lo, hi);
  }
}

// ---- exact references ----------------------------------------------------------------------------

// Plain description of a 2-D convolution, independent of qnn's geometry code.
struct ConvSpec {
  std::int64_t n = 1, c = 1, h = 1, w = 1, m = 1, kh = 1, kw = 1, groups = 1;
  std::int64_t sh = 1, sw = 1, dh = 1, dw = 1;
  std::int64_t pt = 0, pl = 0, pb = 0, pr = 0;  // top, left, bottom, right
  std::int64_t oh() const { return (h + pt + pb - (dh * (kh - 1) + 1)) / sh + 1; }
  std::int64_t ow() const { return (w + pl + pr - (dw * (kw - 1) + 1)) / sw + 1; }
  std::int64_t cpg() const { return c / groups; }
  std::int64_t k() const { return cpg() * kh * kw; }
  qnn::Window2D window() const {
    qnn::Window2D win;
    win.strides = {sh, sw};
    win.dilations = {dh, dw};
    win.pads = {pt, pl, pb, pr};
    return win;
  }
  Shape x_shape() const { return Shape{n, c, h, w}; }
  Shape w_shape() const { return Shape{m, cpg(), kh, kw}; }
  Shape y_shape() const { return Shape{n, m, oh(), ow()}; }
  std::string str() const {
    std::ostringstream os;
    os << "conv x[" << n << "," << c << "," << h << "," << w << "] w[" << m << "," << cpg() << "," << kh
       << "," << kw << "] groups " << groups << " stride " << sh << "x" << sw << " dil " << dh << "x" << dw
       << " pads(t,l,b,r) " << pt << "," << pl << "," << pb << "," << pr << " K=" << k();
    return os.str();
  }
};

// The input padded explicitly with `pad_value`: shape n, c, h+pt+pb, w+pl+pr.
template <class T>
std::vector<T> pad_nchw(const ConvSpec& s, const std::vector<T>& x, T pad_value) {
  const std::int64_t ph = s.h + s.pt + s.pb, pw = s.w + s.pl + s.pr;
  std::vector<T> out(static_cast<std::size_t>(s.n * s.c * ph * pw), pad_value);
  for (std::int64_t a = 0; a < s.n * s.c; ++a)
    for (std::int64_t y = 0; y < s.h; ++y)
      for (std::int64_t x0 = 0; x0 < s.w; ++x0)
        out[static_cast<std::size_t>((a * ph + y + s.pt) * pw + x0 + s.pl)] =
            x[static_cast<std::size_t>((a * s.h + y) * s.w + x0)];
  return out;
}

// acc[n,m,oy,ox] = bias[m] + Σ (x − zx)(w − zw[m]) over the zero-point-padded input, in int64.
template <class TX, class TW>
std::vector<std::int64_t> conv_acc_exact(const ConvSpec& s, const std::vector<TX>& x, std::int32_t zx,
                                         const std::vector<TW>& w, const std::vector<std::int32_t>& zw,
                                         const std::vector<std::int64_t>& bias) {
  std::vector<std::int64_t> xi(x.begin(), x.end());
  const auto xp = pad_nchw<std::int64_t>(s, xi, zx);
  const std::int64_t ph = s.h + s.pt + s.pb, pw = s.w + s.pl + s.pr;
  const std::int64_t cpg = s.cpg(), mpg = s.m / s.groups;
  std::vector<std::int64_t> out;
  for (std::int64_t a = 0; a < s.n; ++a)
    for (std::int64_t m = 0; m < s.m; ++m)
      for (std::int64_t oy = 0; oy < s.oh(); ++oy)
        for (std::int64_t ox = 0; ox < s.ow(); ++ox) {
          std::int64_t acc = bias.empty() ? 0 : bias[static_cast<std::size_t>(m)];
          const std::int64_t zwm = zw[zw.size() == 1 ? 0 : static_cast<std::size_t>(m)];
          for (std::int64_t ci = 0; ci < cpg; ++ci) {
            const std::int64_t c = (m / mpg) * cpg + ci;
            for (std::int64_t ky = 0; ky < s.kh; ++ky)
              for (std::int64_t kx = 0; kx < s.kw; ++kx) {
                const std::int64_t iy = oy * s.sh + ky * s.dh, ix = ox * s.sw + kx * s.dw;
                const std::int64_t xv = xp[static_cast<std::size_t>(((a * s.c + c) * ph + iy) * pw + ix)];
                const std::int64_t wv = w[static_cast<std::size_t>(((m * cpg + ci) * s.kh + ky) * s.kw + kx)];
                acc += (xv - zx) * (wv - zwm);
              }
          }
          out.push_back(acc);
        }
  return out;
}

// The same sum in double over real values (padding = 0.0).
inline std::vector<double> conv_double(const ConvSpec& s, const std::vector<double>& x,
                                       const std::vector<double>& w, const std::vector<double>& bias) {
  const auto xp = pad_nchw<double>(s, x, 0.0);
  const std::int64_t ph = s.h + s.pt + s.pb, pw = s.w + s.pl + s.pr;
  const std::int64_t cpg = s.cpg(), mpg = s.m / s.groups;
  std::vector<double> out;
  for (std::int64_t a = 0; a < s.n; ++a)
    for (std::int64_t m = 0; m < s.m; ++m)
      for (std::int64_t oy = 0; oy < s.oh(); ++oy)
        for (std::int64_t ox = 0; ox < s.ow(); ++ox) {
          double acc = bias.empty() ? 0.0 : bias[static_cast<std::size_t>(m)];
          for (std::int64_t ci = 0; ci < cpg; ++ci)
            for (std::int64_t ky = 0; ky < s.kh; ++ky)
              for (std::int64_t kx = 0; kx < s.kw; ++kx) {
                const std::int64_t c = (m / mpg) * cpg + ci;
                const std::int64_t iy = oy * s.sh + ky * s.dh, ix = ox * s.sw + kx * s.dw;
                acc += xp[static_cast<std::size_t>(((a * s.c + c) * ph + iy) * pw + ix)] *
                       w[static_cast<std::size_t>(((m * cpg + ci) * s.kh + ky) * s.kw + kx)];
              }
          out.push_back(acc);
        }
  return out;
}

// The fp32 sum in the order docs/numerics.md §8 states: bias first, then c, ky, kx ascending, taps
// in the padding skipped, separate multiply and add; then the fused clamp. Also returns Σ|x·w| (in
// double) per output for the error bound of a differently ordered sum.
inline std::vector<float> conv_f32_ordered(const ConvSpec& s, const std::vector<float>& x,
                                           const std::vector<float>& w, const std::vector<float>& bias,
                                           float lo = -std::numeric_limits<float>::infinity(),
                                           float hi = std::numeric_limits<float>::infinity()) {
  const std::int64_t cpg = s.cpg(), mpg = s.m / s.groups;
  std::vector<float> out;
  for (std::int64_t a = 0; a < s.n; ++a)
    for (std::int64_t m = 0; m < s.m; ++m)
      for (std::int64_t oy = 0; oy < s.oh(); ++oy)
        for (std::int64_t ox = 0; ox < s.ow(); ++ox) {
          float acc = bias.empty() ? 0.0f : bias[static_cast<std::size_t>(m)];
          for (std::int64_t ci = 0; ci < cpg; ++ci)
            for (std::int64_t ky = 0; ky < s.kh; ++ky)
              for (std::int64_t kx = 0; kx < s.kw; ++kx) {
                const std::int64_t c = (m / mpg) * cpg + ci;
                const std::int64_t iy = oy * s.sh - s.pt + ky * s.dh, ix = ox * s.sw - s.pl + kx * s.dw;
                if (iy < 0 || iy >= s.h || ix < 0 || ix >= s.w) continue;
                acc = std::fma(x[static_cast<std::size_t>(((a * s.c + c) * s.h + iy) * s.w + ix)],
                               w[static_cast<std::size_t>(((m * cpg + ci) * s.kh + ky) * s.kw + kx)], acc);
              }
          out.push_back(std::min(std::max(acc, lo), hi));
        }
  return out;
}

// GEMM: a is M×K, b is K×N (row-major); acc[i,j] = bias[j] + Σ_k (a − za)(b − zb[j]).
template <class TA, class TB>
std::vector<std::int64_t> gemm_acc_exact(std::int64_t M, std::int64_t N, std::int64_t K, const std::vector<TA>& a,
                                         std::int32_t za, const std::vector<TB>& b,
                                         const std::vector<std::int32_t>& zb,
                                         const std::vector<std::int64_t>& bias) {
  std::vector<std::int64_t> out;
  for (std::int64_t i = 0; i < M; ++i)
    for (std::int64_t j = 0; j < N; ++j) {
      std::int64_t acc = bias.empty() ? 0 : bias[static_cast<std::size_t>(j)];
      const std::int64_t zbj = zb[zb.size() == 1 ? 0 : static_cast<std::size_t>(j)];
      for (std::int64_t k = 0; k < K; ++k)
        acc += (std::int64_t{a[static_cast<std::size_t>(i * K + k)]} - za) *
               (std::int64_t{b[static_cast<std::size_t>(k * N + j)]} - zbj);
      out.push_back(acc);
    }
  return out;
}

// Row-major transpose of an R×C matrix.
template <class T>
std::vector<T> transpose(const std::vector<T>& v, std::int64_t rows, std::int64_t cols) {
  std::vector<T> out(v.size());
  for (std::int64_t r = 0; r < rows; ++r)
    for (std::int64_t c = 0; c < cols; ++c)
      out[static_cast<std::size_t>(c * rows + r)] = v[static_cast<std::size_t>(r * cols + c)];
  return out;
}

// ---- requantization emulations (docs/numerics.md §4) ---------------------------------------------

// §4.1 onnx_float, written from the formula: m = (s_x·s_w)/s_y in fp32 left to right, f = fp32(acc)·m,
// clamp in fp32, round half to even, add zp.
inline std::int32_t onnx_float_requant(std::int64_t acc, float s_x, float s_w, float s_y, std::int32_t zp,
                                       std::int32_t lo, std::int32_t hi) {
  const float m = (s_x * s_w) / s_y;
  float f = static_cast<float>(acc) * m;
  f = std::min(std::max(f, static_cast<float>(lo - zp)), static_cast<float>(hi - zp));
  return static_cast<std::int32_t>(std::nearbyint(f)) + zp;
}

// The exact real result, rounded once: clamp(rne(r) + zp) for the double r.
inline std::int32_t real_requant(double r, std::int32_t zp, std::int32_t lo, std::int32_t hi) {
  const double v = std::nearbyint(std::clamp(r, -1e12, 1e12)) + zp;
  return static_cast<std::int32_t>(std::clamp<double>(v, lo, hi));
}

// npu_pow2 with every scale a power of two: the exact value acc·2^−shift rounded half up (ties
// toward +∞), which double represents exactly for the accumulators of these tests.
inline std::int32_t npu_requant(std::int64_t acc, int shift, std::int32_t zp, std::int32_t lo, std::int32_t hi) {
  const double r = std::ldexp(static_cast<double>(acc), -shift);
  const double v = std::floor(r + 0.5) + zp;
  return static_cast<std::int32_t>(std::clamp<double>(v, lo, hi));
}

inline constexpr std::array<qnn::RequantPolicy, 4> kAllPolicies{
    qnn::RequantPolicy::onnx_float, qnn::RequantPolicy::tflite_double_round,
    qnn::RequantPolicy::tflite_single_round, qnn::RequantPolicy::npu_pow2};

inline std::size_t policy_index(qnn::RequantPolicy p) { return static_cast<std::size_t>(p); }

struct PropertyStats {
  int outputs = 0;
  int exact = 0;  // onnx_float outputs equal to the exact real result rounded once
};

// Checks requantized outputs `got` of exact accumulators `acc` (output i belongs to weight channel
// channel_of(i)) under policy p:
//   onnx_float   equal to the §4.1 emulation (tolerance 0), and within 1 of the exact real result
//                r = s_x·s_w·acc/s_y rounded once (the fp32 multiplier is the only difference)
//   tflite_*     within 1 of the exact real result
//   npu_pow2     (power-of-two scales only) equal to rhu(acc·2^−shift)
// Reports at most three failing outputs; returns the number of failures.
template <class TOut, class ChannelOf>
int check_requantized(const std::vector<TOut>& got, const std::vector<std::int64_t>& acc, ChannelOf channel_of,
                      float s_x, const std::vector<float>& s_w, float s_y, std::int32_t zy, qnn::RequantPolicy p,
                      PropertyStats& stats) {
  using qnn::RequantPolicy;
  REQUIRE(got.size() == acc.size());
  const std::int32_t lo = std::numeric_limits<TOut>::min(), hi = std::numeric_limits<TOut>::max();
  int bad = 0;
  for (std::size_t i = 0; i < acc.size(); ++i) {
    const std::size_t c = channel_of(i);
    const double r = double{s_x} * double{s_w[c]} * static_cast<double>(acc[i]) / double{s_y};
    const std::int32_t real = real_requant(r, zy, lo, hi);
    const std::int32_t y = got[i];
    std::int32_t want = real;
    if (p == RequantPolicy::onnx_float) want = onnx_float_requant(acc[i], s_x, s_w[c], s_y, zy, lo, hi);
    if (p == RequantPolicy::npu_pow2)
      want = npu_requant(acc[i], -std::ilogb(s_x) - std::ilogb(s_w[c]) + std::ilogb(s_y), zy, lo, hi);
    const bool exact_required = p == RequantPolicy::onnx_float || p == RequantPolicy::npu_pow2;
    if ((exact_required && y != want) || std::abs(y - real) > 1) {
      if (++bad <= 3) {
        INFO("output " << i << " acc " << acc[i] << " channel " << c << " r " << r);
        CHECK(y == want);
        CHECK(std::abs(y - real) <= 1);
      }
    }
    if (p == RequantPolicy::onnx_float) {
      ++stats.outputs;
      stats.exact += y == real ? 1 : 0;
    }
  }
  CHECK(bad == 0);
  return bad;
}

}  // namespace qnn_test
