// Tests of the reference Softmax (kernels/ref/softmax.hpp): hand values, inputs that overflow a
// naive exp, any axis (a middle one, negative indices), strided views.
#include <doctest/doctest.h>

#include <array>
#include <cmath>
#include <limits>
#include <vector>

#include "kernel_test_util.hpp"
#include "qnn/kernels/ref/softmax.hpp"

namespace {

using namespace qnn;
using namespace qnn_test;

std::vector<float> softmax_1d(const std::vector<float>& x) {
  const Tensor xt = make(Shape{static_cast<std::int64_t>(x.size())}, x);
  Tensor y(DType::f32, xt.shape());
  ref::softmax(cview<float>(xt), 0, y.view<float>());
  return values<float>(y);
}

// Double-precision softmax along `axis` of a row-major tensor.
std::vector<double> softmax_double(const std::vector<float>& x, const Shape& s, int axis) {
  std::int64_t outer = 1, inner = 1;
  for (int i = 0; i < axis; ++i) outer *= s[i];
  for (int i = axis + 1; i < s.rank(); ++i) inner *= s[i];
  const std::int64_t len = s[axis];
  std::vector<double> y(x.size());
  for (std::int64_t o = 0; o < outer; ++o)
    for (std::int64_t in = 0; in < inner; ++in) {
      auto at = [&](std::int64_t i) { return static_cast<std::size_t>((o * len + i) * inner + in); };
      double mx = -INFINITY, sum = 0;
      for (std::int64_t i = 0; i < len; ++i) mx = std::max(mx, double{x[at(i)]});
      for (std::int64_t i = 0; i < len; ++i) sum += std::exp(double{x[at(i)]} - mx);
      for (std::int64_t i = 0; i < len; ++i) y[at(i)] = std::exp(double{x[at(i)]} - mx) / sum;
    }
  return y;
}

// [1 2 3] → e^(x − 3) = [e^−2, e^−1, 1] / 1.5032147 = [0.0900306, 0.2447285, 0.6652410]
TEST_CASE("softmax hand: small vectors") {
  const auto y = softmax_1d({1, 2, 3});
  CHECK(y[0] == doctest::Approx(0.09003057317038046).epsilon(1e-6));
  CHECK(y[1] == doctest::Approx(0.24472847105479764).epsilon(1e-6));
  CHECK(y[2] == doctest::Approx(0.6652409557748218).epsilon(1e-6));
  // Equal inputs: every exp is exactly 1, so the results are exact.
  check_vec(softmax_1d({0, 0}), std::vector<float>{0.5f, 0.5f});
  check_vec(softmax_1d({-7, -7, -7, -7}), std::vector<float>{0.25f, 0.25f, 0.25f, 0.25f});
  check_vec(softmax_1d({42}), std::vector<float>{1.0f});
  // Shifting every input leaves the result unchanged (bit for bit when the shift is exact).
  check_vec(softmax_1d({1001, 1002, 1003}), softmax_1d({1, 2, 3}), "shift by 1000");
}

// Inputs whose exp overflows fp32 (e^89 > FLT_MAX): subtracting the maximum keeps every exp ≤ 1.
TEST_CASE("softmax hand: large inputs do not overflow") {
  check_vec(softmax_1d({1000, 1000}), std::vector<float>{0.5f, 0.5f}, "[1000 1000]");
  const auto y = softmax_1d({88, 89});
  CHECK(y[0] == doctest::Approx(0.2689414213699951).epsilon(1e-6));  // 1/(1 + e)
  CHECK(y[1] == doctest::Approx(0.7310585786300049).epsilon(1e-6));
  check_vec(softmax_1d({1e30f, 0}), std::vector<float>{1, 0}, "[1e30 0]");
  check_vec(softmax_1d({-1000, 0}), std::vector<float>{0, 1}, "[-1000 0]");
  check_vec(softmax_1d({-std::numeric_limits<float>::infinity(), 0}), std::vector<float>{0, 1}, "[-inf 0]");
  check_vec(softmax_1d({std::numeric_limits<float>::max(), std::numeric_limits<float>::max()}), std::vector<float>{0.5f, 0.5f},
            "[FLT_MAX FLT_MAX]");
}

// A middle axis of a [2,3,4] tensor, given as 1 and as −2; and the same through strided views.
TEST_CASE("softmax property: along a middle axis, negative axis, strided views") {
  Rng rng(8128u);
  const Shape s{2, 3, 4};
  const auto x = random_floats(rng, 24, -5.0f, 5.0f);
  const Tensor xt = make(s, x);
  const auto want = softmax_double(x, s, 1);
  for (int axis : {1, -2}) {
    CAPTURE(axis);
    Tensor y(DType::f32, s);
    ref::softmax(cview<float>(xt), axis, y.view<float>());
    const auto got = values<float>(y);
    for (std::size_t i = 0; i < got.size(); ++i) {
      CAPTURE(i);
      CHECK(got[i] == doctest::Approx(want[i]).epsilon(1e-6));
    }
    // Each line along the axis sums to 1.
    for (int a = 0; a < 2; ++a)
      for (int c = 0; c < 4; ++c) {
        double sum = 0;
        for (int b = 0; b < 3; ++b) sum += got[static_cast<std::size_t>((a * 3 + b) * 4 + c)];
        CHECK(sum == doctest::Approx(1.0).epsilon(1e-6));
      }
  }
  // Input stored as [2,4,3] and viewed as [2,3,4]; output written through the same kind of view.
  std::vector<float> x_t(24), y_t(24);
  for (int a = 0; a < 2; ++a)
    for (int b = 0; b < 3; ++b)
      for (int c = 0; c < 4; ++c) x_t[static_cast<std::size_t>((a * 4 + c) * 3 + b)] = x[static_cast<std::size_t>((a * 3 + b) * 4 + c)];
  static constexpr std::array<int, 3> kSwap{0, 2, 1};
  const auto xv = TensorView<const float>(x_t.data(), Shape{2, 4, 3}).permuted(kSwap);
  const auto yv = TensorView<float>(y_t.data(), Shape{2, 4, 3}).permuted(kSwap);
  ref::softmax(xv, 1, yv);
  Tensor y(DType::f32, s);
  ref::softmax(cview<float>(xt), 1, y.view<float>());
  check_vec(values(yv), values<float>(y), "strided views");
  // The last axis, for completeness.
  Tensor yl(DType::f32, s);
  ref::softmax(cview<float>(xt), -1, yl.view<float>());
  const auto want_last = softmax_double(x, s, 2);
  const auto got_last = values<float>(yl);
  for (std::size_t i = 0; i < got_last.size(); ++i) CHECK(got_last[i] == doctest::Approx(want_last[i]).epsilon(1e-6));
}

TEST_CASE("softmax errors") {
  const Tensor x = make<float>(Shape{2, 3}, {1, 2, 3, 4, 5, 6});
  Tensor y(DType::f32, Shape{3, 2});
  CHECK_THROWS_WITH_AS(ref::softmax(cview<float>(x), 1, y.view<float>()), doctest::Contains("softmax output [3,2] should be [2,3]"),
                       qnn::error);
  Tensor y2(DType::f32, Shape{2, 3});
  CHECK_THROWS_WITH_AS(ref::softmax(cview<float>(x), 2, y2.view<float>()), doctest::Contains("axis 2 is out of range for rank 2"),
                       qnn::error);
}

}  // namespace
