// Tests of the reference pooling kernels (kernels/ref/pool.hpp) and their geometry
// (kernels/geometry.hpp): max pooling (float and quantized), average pooling (float, bf16 and
// quantized under each policy), global average pooling, ceil mode, count_include_pad.
#include <doctest/doctest.h>

#include <cstdint>
#include <type_traits>
#include <vector>

#include "kernel_test_util.hpp"
#include "qnn/kernels/ref/pool.hpp"

namespace {

using namespace qnn;
using namespace qnn_test;

template <class T>
std::vector<T> plus(const std::vector<int>& v, int offset) {
  std::vector<T> out;
  for (int x : v) out.push_back(static_cast<T>(x + offset));
  return out;
}

Window2D window(std::array<std::int64_t, 2> k, std::array<std::int64_t, 2> s, std::array<std::int64_t, 2> d,
                std::array<std::int64_t, 4> pads) {
  Window2D w;
  w.kernel = k;
  w.strides = s;
  w.dilations = d;
  w.pads = pads;
  return w;
}

// Max pooling over NCHW and over NHWC storage of the same logical tensor; both must agree.
template <class T>
std::vector<T> max_pool_both_layouts(const PoolGeometry& g, const std::vector<T>& x) {
  const Tensor xt = make(Shape{g.n, g.c, g.h, g.w}, x);
  Tensor yt(dtype_of_v<T>, g.output_shape());
  ref::max_pool(g, cview<T>(xt), yt.view<T>());
  const auto want = values<T>(yt);
  const auto x_nhwc = nchw_to_nhwc(x, g.n, g.c, g.h, g.w);
  std::vector<T> y_nhwc(want.size());
  ref::max_pool(g, nhwc_as_nchw(x_nhwc.data(), g.n, g.c, g.h, g.w), nhwc_as_nchw(y_nhwc.data(), g.n, g.c, g.oh, g.ow));
  check_vec(values(nhwc_as_nchw(y_nhwc.data(), g.n, g.c, g.oh, g.ow)), want, "NHWC");
  return want;
}

// ================================================================================================
// Max pooling
// ================================================================================================

// 1-D along W: x = [3 −1 4 1 −5 9 2], kernel 2, dilation 2 (taps 2 apart), stride 2, pad left 1.
// Effective extent 3; span = 7 + 1 − 3 = 5 → floor mode 5/2 + 1 = 3 windows, ceil mode 4.
//   o0 taps −1 (pad), 1 → −1 (padding never wins: it is −∞, not 0 or the zero point)
//   o1 taps 1, 3 → max(−1, 1) = 1     o2 taps 3, 5 → max(1, 9) = 9
//   o3 (ceil only) taps 5, 7 (past the input and the padding) → 9
TEST_CASE_TEMPLATE("pool hand: max pool with dilation, stride, padding and ceil mode", T, float, std::int8_t,
                   std::uint8_t) {
  const int off = std::is_same_v<T, std::uint8_t> ? 10 : 0;  // uint8 holds the values shifted by 10
  const auto x = plus<T>({3, -1, 4, 1, -5, 9, 2}, off);
  const Window2D win = window({1, 2}, {1, 2}, {1, 2}, {0, 1, 0, 0});
  const PoolGeometry floor_g = make_pool_geometry(Shape{1, 1, 1, 7}, win, false);
  CHECK(floor_g.output_shape() == Shape{1, 1, 1, 3});
  check_vec(max_pool_both_layouts(floor_g, x), plus<T>({-1, 1, 9}, off), "floor mode");
  const PoolGeometry ceil_g = make_pool_geometry(Shape{1, 1, 1, 7}, win, true);
  CHECK(ceil_g.output_shape() == Shape{1, 1, 1, 4});
  check_vec(max_pool_both_layouts(ceil_g, x), plus<T>({-1, 1, 9, 9}, off), "ceil mode");
}

// 2-D, kernel 2×2, stride 2, pad bottom 1; x 4×5:
//   [1 8 3 0 2]
//   [4 2 7 6 5]
//   [9 0 1 3 8]
//   [2 5 4 7 6]
// H: span = 4 + 1 − 2 = 3 → floor 2 rows; ceil would give 3, but the third window would start at
// row 4, inside the bottom padding, so it is dropped → 2 rows. W: span 3 → floor 2, ceil 3 (the last
// window covers column 4 only).
//   ceil:  [max(1 8 4 2) max(3 0 7 6) max(2 5)] = [8 7 5];  [max(9 0 2 5) max(1 3 4 7) max(8 6)] = [9 7 8]
TEST_CASE_TEMPLATE("pool hand: ceil mode drops a window that would start in the padding", T, float, std::int8_t,
                   std::uint8_t) {
  const auto x = plus<T>({1, 8, 3, 0, 2, 4, 2, 7, 6, 5, 9, 0, 1, 3, 8, 2, 5, 4, 7, 6}, 0);
  const Window2D win = window({2, 2}, {2, 2}, {1, 1}, {0, 0, 1, 0});
  const PoolGeometry ceil_g = make_pool_geometry(Shape{1, 1, 4, 5}, win, true);
  CHECK(ceil_g.output_shape() == Shape{1, 1, 2, 3});
  check_vec(max_pool_both_layouts(ceil_g, x), plus<T>({8, 7, 5, 9, 7, 8}, 0), "ceil mode");
  const PoolGeometry floor_g = make_pool_geometry(Shape{1, 1, 4, 5}, win, false);
  CHECK(floor_g.output_shape() == Shape{1, 1, 2, 2});
  check_vec(max_pool_both_layouts(floor_g, x), plus<T>({8, 7, 9, 7}, 0), "floor mode");
}

TEST_CASE("pool hand: float max pool propagates NaN") {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const PoolGeometry g = make_pool_geometry(Shape{1, 1, 1, 4}, window({1, 2}, {1, 2}, {1, 1}, {0, 0, 0, 0}), false);
  const Tensor x = make<float>(Shape{1, 1, 1, 4}, {nan, 1.0f, 2.0f, nan});
  Tensor y(DType::f32, g.output_shape());
  ref::max_pool(g, cview<float>(x), y.view<float>());
  CHECK(std::isnan(values<float>(y)[0]));
  CHECK(std::isnan(values<float>(y)[1]));
}

// ================================================================================================
// Average pooling
// ================================================================================================

// x 3×3 = [1 2 3; 4 5 6; 7 8 9], kernel 2×2, stride 2, pads 1 on every side → 2×2 windows:
//   (0,0) {1}            exclude pad: 1/1 = 1      include: 1/4 = 0.25
//   (0,1) {2 3}          5/2 = 2.5                 5/4 = 1.25
//   (1,0) {4 7}          11/2 = 5.5                11/4 = 2.75
//   (1,1) {5 6 8 9}      28/4 = 7                  28/4 = 7
TEST_CASE("pool hand: float average pool with and without count_include_pad") {
  const Tensor x = make<float>(Shape{1, 1, 3, 3}, {1, 2, 3, 4, 5, 6, 7, 8, 9});
  const Window2D win = window({2, 2}, {2, 2}, {1, 1}, {1, 1, 1, 1});
  for (bool include : {false, true}) {
    CAPTURE(include);
    const PoolGeometry g = make_pool_geometry(x.shape(), win, false, include);
    REQUIRE(g.output_shape() == Shape{1, 1, 2, 2});
    Tensor y(DType::f32, g.output_shape());
    ref::avg_pool_float(g, cview<float>(x), y.view<float>());
    check_vec(values<float>(y), include ? std::vector<float>{0.25f, 1.25f, 2.75f, 7} : std::vector<float>{1, 2.5f, 5.5f, 7});
  }
}

// Ceil mode with count_include_pad: x = [2 4 6 8] along W, kernel 3, stride 2, pads 1 and 1.
// span = 4 + 2 − 3 = 3 → ceil 3 windows (the third starts at 3, inside the input):
//   o0 taps −1 (pad), 0, 1 → exclude (2+4)/2 = 3,  include (taps inside the padded input) 6/3 = 2
//   o1 taps 1, 2, 3        → 18/3 = 6                                                    6
//   o2 taps 3, 4 (pad), 5 (past the padding: not counted) → 8/1 = 8,  include 8/2 = 4
TEST_CASE("pool hand: ceil-mode overhang is excluded from count_include_pad") {
  const Tensor x = make<float>(Shape{1, 1, 1, 4}, {2, 4, 6, 8});
  const Window2D win = window({1, 3}, {1, 2}, {1, 1}, {0, 1, 0, 1});
  for (bool include : {false, true}) {
    CAPTURE(include);
    const PoolGeometry g = make_pool_geometry(x.shape(), win, true, include);
    REQUIRE(g.output_shape() == Shape{1, 1, 1, 3});
    Tensor y(DType::f32, g.output_shape());
    ref::avg_pool_float(g, cview<float>(x), y.view<float>());
    check_vec(values<float>(y), include ? std::vector<float>{2, 6, 4} : std::vector<float>{3, 6, 8});
  }
}

// bf16 average pool: fp32 sum, one division, result rounded to nearest even.
// [1, 1 + 2^−7] → 1.00390625, a tie between bf16 neighbours 1 and 1 + 2^−7 → 1;  [3, 4] → 3.5.
TEST_CASE("pool hand: bf16 average pool rounds the result to nearest even") {
  const std::vector<bf16> xv{bf16(1.0f), bf16(1.0078125f), bf16(3.0f), bf16(4.0f)};
  const Tensor x = make(Shape{1, 1, 1, 4}, xv);
  const PoolGeometry g = make_pool_geometry(x.shape(), window({1, 2}, {1, 2}, {1, 1}, {0, 0, 0, 0}), false);
  Tensor y(DType::bf16, g.output_shape());
  ref::avg_pool_float(g, cview<bf16>(x), y.view<bf16>());
  const auto got = values<bf16>(y);
  CHECK(got[0].to_float() == 1.0f);
  CHECK(got[1].to_float() == 3.5f);
}

// Quantized average pool, the float case's windows (divisors 1, 2, 2, 4 without count_include_pad).
// s_x = s_y = 0.25. Channel 0, d = x − zx = [3 −1 2; 5 0 −4; −2 7 7]; channel 1 = −d.
// Window means in output units: (0,0) 3/1 = 3, (0,1) (−1+2)/2 = 0.5, (1,0) (5−2)/2 = 1.5,
// (1,1) (0−4+7+7)/4 = 2.5 (channel 1: the negatives).
//   onnx_float (ORT's QLinearAveragePool for non-global windows: fp32 sum of s_x·(x − zx), one
//     division by the divisor, one by s_y, + zy, then rne — everything exact here). zy is odd for both
//     types (int8 5, uint8 21), so f + zy rounds f's ties to the odd neighbour:
//                               ch0 [3 1 1 3]    ch1 [−3 −1 −1 −3]
//   tflite_double: n = 2 → M = 2^30, e = 0: SRDHM rounds half up (0.5 → 1, −0.5 → 0, 1.5 → 2,
//     −1.5 → −1); n = 4 → e = −1: SRDHM(±10) = ±5, RDBPOT ties away → ±3
//                               ch0 [3 1 2 3]    ch1 [−3 0 −1 −3]
//   tflite_single (half up)     ch0 [3 1 2 3]    ch1 [−3 0 −1 −2]
//   npu_pow2 (every divisor here is a power of two: shift = pos_x − pos_y + log2 n, rhu) = single
// count_include_pad (every divisor 4), onnx_float: f = 0.75 0.25 0.75 2.5 → f + zy rne →
//   ch0 [1 0 1 3], ch1 [−1 0 −1 −3]
TEST_CASE_TEMPLATE("pool hand: quantized average pool under each policy, border divisors", T, std::uint8_t, std::int8_t) {
  const std::int32_t zx = std::is_signed_v<T> ? -3 : 10;
  const std::int32_t zy = std::is_signed_v<T> ? 5 : 21;
  CAPTURE(zx);
  const std::vector<int> d{3, -1, 2, 5, 0, -4, -2, 7, 7};
  std::vector<int> both = d;
  for (int v : d) both.push_back(-v);
  const Tensor x = make(Shape{1, 2, 3, 3}, plus<T>(both, zx));
  const Window2D win = window({2, 2}, {2, 2}, {1, 1}, {1, 1, 1, 1});

  auto run = [&](auto policy, bool include) {
    using P = decltype(policy);
    const PoolGeometry g = make_pool_geometry(x.shape(), win, false, include);
    const auto rq = ref::AvgPoolRequant<P>::template make<T>(g, 0.25f, zx, 0.25f, zy);
    Tensor y(dtype_of_v<T>, g.output_shape());
    ref::avg_pool(g, cview<T>(x), y.view<T>(), rq);
    return values<T>(y);
  };
  check_vec(run(OnnxFloat{}, false), plus<T>({3, 1, 1, 3, -3, -1, -1, -3}, zy), "onnx_float");
  check_vec(run(TfliteDoubleRound{}, false), plus<T>({3, 1, 2, 3, -3, 0, -1, -3}, zy), "tflite_double_round");
  check_vec(run(TfliteSingleRound{}, false), plus<T>({3, 1, 2, 3, -3, 0, -1, -2}, zy), "tflite_single_round");
  check_vec(run(NpuPow2{}, false), plus<T>({3, 1, 2, 3, -3, 0, -1, -2}, zy), "npu_pow2");
  check_vec(run(OnnxFloat{}, true), plus<T>({1, 0, 1, 3, -1, 0, -1, -3}, zy), "onnx_float, count_include_pad");
}

// Ceil mode with count_include_pad, quantized (the float case's x = [2 4 6 8], s_x = s_y = 1, zero
// points 0): the last window (taps 3, 4 = pad, 5 = past the padding) divides by
//   onnx_float: ORT's QLinearAveragePool divides by the full kernel size 3 → 8/3 = 2.67 → 3
//   tflite_*:   the taps inside the padded input, 2 → 8/2 = 4
// (the first two windows: 6/3 = 2 and 18/3 = 6 under both).
TEST_CASE("pool hand: quantized ceil-mode overhang with count_include_pad") {
  const Tensor x = make<std::uint8_t>(Shape{1, 1, 1, 4}, {2, 4, 6, 8});
  const PoolGeometry g = make_pool_geometry(x.shape(), window({1, 3}, {1, 2}, {1, 1}, {0, 1, 0, 1}), true, true);
  REQUIRE(g.output_shape() == Shape{1, 1, 1, 3});
  auto run = [&](auto policy) {
    using P = decltype(policy);
    Tensor y(DType::u8, g.output_shape());
    ref::avg_pool(g, cview<std::uint8_t>(x), y.view<std::uint8_t>(),
                  ref::AvgPoolRequant<P>::template make<std::uint8_t>(g, 1.0f, 0, 1.0f, 0));
    return values<std::uint8_t>(y);
  };
  check_vec(run(OnnxFloat{}), std::vector<int>{2, 6, 3}, "onnx_float");
  check_vec(run(TfliteDoubleRound{}), std::vector<int>{2, 6, 4}, "tflite_double_round");
  check_vec(run(TfliteSingleRound{}), std::vector<int>{2, 6, 4}, "tflite_single_round");
}

// Quantized saturation: a window mean beyond the output range clamps. s_x = 1, s_y = 0.5 → y = 2·mean.
TEST_CASE("pool hand: quantized average pool saturates") {
  const Tensor x = make<std::int8_t>(Shape{1, 1, 1, 4}, {100, 120, -128, -100});
  const PoolGeometry g = make_pool_geometry(x.shape(), window({1, 2}, {1, 2}, {1, 1}, {0, 0, 0, 0}), false);
  const auto rq = ref::AvgPoolRequant<OnnxFloat>::make<std::int8_t>(g, 1.0f, 0, 0.5f, 0);
  Tensor y(DType::i8, g.output_shape());
  ref::avg_pool(g, cview<std::int8_t>(x), y.view<std::int8_t>(), rq);
  check_vec(values<std::int8_t>(y), std::vector<int>{127, -128});  // 2·110 = 220, 2·(−114) = −228
}

// Global average pool: ch0 = [1 2 3 4 5 6] → 3.5, ch1 = [−1 −2 −3 4 5 6] → 1.5 (fp32).
// Quantized (s_x = s_y, divisor 6): ch0 d = [1 2 3 4 5 0] → 15/6 = 2.5, ch1 = −d → −2.5.
//   onnx_float (ORT's global pool: integer sum, m = fl(s_x / fl(s_y·6)) = 0.16666666 (0x3E2AAAAA),
//     rne(fl(15·m)) + zy): 15·m = 2.4999998 → 2; −2
//   tflite_double: m = 1/6 → M = 1431655765, e = −2; SRDHM(15, M) = 10 (9.99999999767 rounded),
//     RDBPOT(10, 2) = 2.5 → 3 (away); −15 → −10 → −3
//   tflite_single: (15·M + 2^32) >> 33 = floor(2.99999999942) = 2; −15 → floor(−1.9999) = −2
TEST_CASE("pool hand: global average pool, float and quantized") {
  const Tensor xf = make<float>(Shape{1, 2, 2, 3}, {1, 2, 3, 4, 5, 6, -1, -2, -3, 4, 5, 6});
  const PoolGeometry g = make_global_pool_geometry(xf.shape());
  CHECK(g.output_shape() == Shape{1, 2, 1, 1});
  Tensor yf(DType::f32, g.output_shape());
  ref::avg_pool_float(g, cview<float>(xf), yf.view<float>());
  check_vec(values<float>(yf), std::vector<float>{3.5f, 1.5f});

  const std::int32_t zx = 128, zy = 100;
  const Tensor xq = make(Shape{1, 2, 2, 3}, plus<std::uint8_t>({1, 2, 3, 4, 5, 0, -1, -2, -3, -4, -5, 0}, zx));
  auto run = [&](auto policy) {
    using P = decltype(policy);
    const auto rq = ref::AvgPoolRequant<P>::template make<std::uint8_t>(g, 0.1f, zx, 0.1f, zy);
    Tensor y(DType::u8, g.output_shape());
    ref::avg_pool(g, cview<std::uint8_t>(xq), y.view<std::uint8_t>(), rq);
    return values<std::uint8_t>(y);
  };
  check_vec(run(OnnxFloat{}), plus<std::uint8_t>({2, -2}, zy), "onnx_float");
  check_vec(run(TfliteDoubleRound{}), plus<std::uint8_t>({3, -3}, zy), "tflite_double_round");
  check_vec(run(TfliteSingleRound{}), plus<std::uint8_t>({2, -2}, zy), "tflite_single_round");
}

// npu_pow2 average pooling where every window has 4 taps (2×2, stride 2, no padding): the divisor
// is a power of two, so the DPU rule applies: y = rhu(Σ(x − zx) / 4 · s_x/s_y) + zy.
// s_x = s_y = 2^−3 → shift 2: sums 10 → 2.5 → 3, −10 → −2.5 → −2, 7 → 1.75 → 2.
TEST_CASE("pool hand: npu_pow2 average pool with power-of-two divisors") {
  const Tensor x = make<std::int8_t>(Shape{1, 1, 2, 6}, {1, 2, -1, -2, 1, 2, 3, 4, -3, -4, 2, 2});
  const PoolGeometry g = make_pool_geometry(x.shape(), window({2, 2}, {2, 2}, {1, 1}, {0, 0, 0, 0}), false);
  Tensor y(DType::i8, g.output_shape());
  ref::AvgPoolRequant<NpuPow2> rq;
  REQUIRE_NOTHROW(rq = ref::AvgPoolRequant<NpuPow2>::make<std::int8_t>(g, 0.125f, 0, 0.125f, 0));
  ref::avg_pool(g, cview<std::int8_t>(x), y.view<std::int8_t>(), rq);
  check_vec(values<std::int8_t>(y), std::vector<int>{3, -2, 2});
  // A 3×3 window divides by 9: no shift does that, and the layer says so when it meets the window.
  const Tensor x9 = make<std::int8_t>(Shape{1, 1, 3, 3}, std::vector<std::int8_t>(9, 1));
  const PoolGeometry g9 = make_pool_geometry(x9.shape(), window({3, 3}, {1, 1}, {1, 1}, {0, 0, 0, 0}), false);
  Tensor y9(DType::i8, g9.output_shape());
  CHECK_THROWS_WITH_AS(ref::avg_pool(g9, cview<std::int8_t>(x9), y9.view<std::int8_t>(),
                                     ref::AvgPoolRequant<NpuPow2>::make<std::int8_t>(g9, 0.125f, 0, 0.125f, 0)),
                       doctest::Contains("npu_pow2 average pool: window (0,0) divides by 9, not a power of two"), qnn::error);
  // The npu_pow2 scales themselves must still be powers of two.
  CHECK_THROWS_WITH_AS(ref::AvgPoolRequant<NpuPow2>::make<std::int8_t>(g, 0.1f, 0, 0.125f, 0),
                       doctest::Contains("scale 0.1 is not a power of two"), qnn::error);
}

// ================================================================================================
// Errors
// ================================================================================================

TEST_CASE("pool errors: geometry, shapes, zero points") {
  CHECK_THROWS_WITH_AS(make_pool_geometry(Shape{1, 1, 3, 3}, window({5, 1}, {1, 1}, {1, 1}, {0, 0, 0, 0}), false),
                       doctest::Contains("window of extent 5 does not fit input 3"), qnn::error);
  // Kernel 2 with dilation 2 spans 3 pixels: too wide for 2 unless padded.
  CHECK_THROWS_WITH_AS(make_pool_geometry(Shape{1, 1, 2, 2}, window({2, 2}, {1, 1}, {2, 2}, {0, 0, 0, 0}), false),
                       doctest::Contains("window of extent 3 does not fit input 2 with pads 0+0"), qnn::error);
  CHECK_NOTHROW(make_pool_geometry(Shape{1, 1, 2, 2}, window({2, 2}, {1, 1}, {2, 2}, {0, 0, 1, 1}), false));
  CHECK_THROWS_WITH_AS(make_pool_geometry(Shape{1, 3, 3}, Window2D{}, false), doctest::Contains("pooling input must be 4-D"),
                       qnn::error);
  CHECK_THROWS_WITH_AS(make_pool_geometry(Shape{1, 1, 3, 3}, window({0, 1}, {1, 1}, {1, 1}, {0, 0, 0, 0}), false),
                       doctest::Contains("kernel size 0 must be positive"), qnn::error);
  CHECK_THROWS_WITH_AS(make_pool_geometry(Shape{1, 1, 3, 3}, window({1, 1}, {1, 0}, {1, 1}, {0, 0, 0, 0}), false),
                       doctest::Contains("stride 0 must be positive"), qnn::error);
  CHECK_THROWS_WITH_AS(make_pool_geometry(Shape{1, 1, 3, 3}, window({1, 1}, {1, 1}, {1, 1}, {0, 0, -2, 0}), false),
                       doctest::Contains("negative padding -2"), qnn::error);
  CHECK_THROWS_WITH_AS(make_global_pool_geometry(Shape{4, 4}), doctest::Contains("global pooling input must be 4-D"),
                       qnn::error);

  const PoolGeometry g = make_pool_geometry(Shape{1, 1, 4, 4}, window({2, 2}, {2, 2}, {1, 1}, {0, 0, 0, 0}), false);
  Tensor x(DType::i8, Shape{1, 1, 4, 4});
  Tensor y(DType::i8, Shape{1, 1, 3, 3});
  CHECK_THROWS_WITH_AS(ref::max_pool(g, cview<std::int8_t>(x), y.view<std::int8_t>()),
                       doctest::Contains("pool: output [1,1,3,3] should be [1,1,2,2]"), qnn::error);
  Tensor x5(DType::i8, Shape{1, 1, 5, 4});
  Tensor y2(DType::i8, Shape{1, 1, 2, 2});
  CHECK_THROWS_WITH_AS(ref::max_pool(g, cview<std::int8_t>(x5), y2.view<std::int8_t>()),
                       doctest::Contains("pool: input [1,1,5,4] does not match geometry"), qnn::error);
  CHECK_THROWS_WITH_AS(ref::AvgPoolRequant<OnnxFloat>::make<std::uint8_t>(g, 1.0f, 300, 1.0f, 0),
                       doctest::Contains("zero point 300 is outside the uint8 range"), qnn::error);
  CHECK_THROWS_WITH_AS(ref::AvgPoolRequant<OnnxFloat>::make<std::int8_t>(g, 1.0f, 0, 1.0f, 128),
                       doctest::Contains("zero point 128 is outside the int8 range"), qnn::error);
  CHECK_THROWS_WITH_AS(ref::AvgPoolRequant<OnnxFloat>::make<std::int8_t>(g, 0.0f, 0, 1.0f, 0),
                       doctest::Contains("must be positive and finite"), qnn::error);
}

// ================================================================================================
// Properties
// ================================================================================================

// Random pools against a direct definition: max pool = max over in-input taps; float average pool =
// fp32 row-major sum / n; quantized average pool under onnx_float = ONNX Runtime's fp32 window
// recipe (pool.hpp): sum of fl(s_x·(x − zx)) in window order, / n (the full kernel size with
// count_include_pad), / s_y, + zy, rne, clamp; under tflite_double_round within 1 of the exact mean.
TEST_CASE_TEMPLATE("pool property: random windows against the direct definition", T, std::uint8_t, std::int8_t) {
  Rng rng(std::is_signed_v<T> ? 4242u : 2424u);
  for (int i = 0; i < 200; ++i) {
    // One draw per statement: the order of function arguments is unspecified, and the cases must not
    // depend on the compiler.
    Window2D win;
    for (auto& v : win.kernel) v = rand_int(rng, 1, 3);
    for (auto& v : win.strides) v = rand_int(rng, 1, 3);
    for (auto& v : win.dilations) v = rand_int(rng, 1, 2);
    for (auto& v : win.pads) v = rand_int(rng, 0, 1);
    // Padding smaller than the kernel extent, so no window lies wholly in the padding.
    for (int a = 0; a < 2; ++a) {
      win.pads[static_cast<std::size_t>(a)] = std::min(win.pads[static_cast<std::size_t>(a)], win.kernel[static_cast<std::size_t>(a)] - 1);
      win.pads[static_cast<std::size_t>(a + 2)] =
          std::min(win.pads[static_cast<std::size_t>(a + 2)], win.kernel[static_cast<std::size_t>(a)] - 1);
    }
    const std::int64_t n = rand_int(rng, 1, 2), c = rand_int(rng, 1, 3);
    const std::int64_t h = rand_int(rng, 5, 9), w = rand_int(rng, 5, 9);  // ≥ the widest window (3 taps, dilation 2)
    const bool ceil_mode = rand_int(rng, 0, 1) == 1, include = rand_int(rng, 0, 1) == 1;
    INFO("case " << i << ": x [" << n << "," << c << "," << h << "," << w << "] kernel " << win.kernel[0] << "x"
                 << win.kernel[1] << " stride " << win.strides[0] << "x" << win.strides[1] << " dil " << win.dilations[0]
                 << "x" << win.dilations[1] << " pads " << win.pads[0] << "," << win.pads[1] << "," << win.pads[2] << ","
                 << win.pads[3] << " ceil " << ceil_mode << " include_pad " << include);
    const PoolGeometry g = make_pool_geometry(Shape{n, c, h, w}, win, ceil_mode, include);
    const auto x = random_ints<T>(rng, static_cast<std::size_t>(n * c * h * w));
    const std::int32_t zx = random_zero_point<T>(rng), zy = random_zero_point<T>(rng);
    const float s_x = rand_float(rng, 0.01f, 0.1f), s_y = rand_float(rng, 0.01f, 0.1f);

    std::vector<T> want_max;
    std::vector<std::int32_t> want_avg, want_real;
    std::vector<float> want_favg;
    for (std::int64_t a = 0; a < n; ++a)
      for (std::int64_t ch = 0; ch < c; ++ch)
        for (std::int64_t oy = 0; oy < g.oh; ++oy)
          for (std::int64_t ox = 0; ox < g.ow; ++ox) {
            int best = std::numeric_limits<int>::min();
            std::int32_t sum = 0;
            float fsum = 0, ort_sum = 0;
            std::int64_t inside = 0, padded = 0;
            for (std::int64_t ky = 0; ky < win.kernel[0]; ++ky)
              for (std::int64_t kx = 0; kx < win.kernel[1]; ++kx) {
                const std::int64_t iy = oy * win.strides[0] - win.pads[0] + ky * win.dilations[0];
                const std::int64_t ix = ox * win.strides[1] - win.pads[1] + kx * win.dilations[1];
                if (iy >= -win.pads[0] && iy < h + win.pads[2] && ix >= -win.pads[1] && ix < w + win.pads[3]) ++padded;
                if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
                const int v = x[static_cast<std::size_t>(((a * c + ch) * h + iy) * w + ix)];
                best = std::max(best, v);
                sum += v - zx;
                ort_sum += s_x * static_cast<float>(v - zx);
                fsum += static_cast<float>(v);
                ++inside;
              }
            REQUIRE(inside > 0);
            const std::int64_t div = include ? padded : inside;
            want_max.push_back(static_cast<T>(best));
            const float avg = ort_sum / static_cast<float>(include ? win.kernel[0] * win.kernel[1] : inside);
            want_avg.push_back(std::clamp(static_cast<std::int32_t>(std::nearbyint(avg / s_y + static_cast<float>(zy))),
                                          std::int32_t{std::numeric_limits<T>::min()}, std::int32_t{std::numeric_limits<T>::max()}));
            want_real.push_back(real_requant(double{s_x} * sum / (double{s_y} * static_cast<double>(div)), zy,
                                             std::numeric_limits<T>::min(), std::numeric_limits<T>::max()));
            want_favg.push_back(fsum / static_cast<float>(div));
          }
    check_vec(max_pool_both_layouts(g, x), want_max, "max pool");
    const Tensor xt = make(Shape{n, c, h, w}, x);
    Tensor y(dtype_of_v<T>, g.output_shape());
    ref::avg_pool(g, cview<T>(xt), y.view<T>(), ref::AvgPoolRequant<OnnxFloat>::make<T>(g, s_x, zx, s_y, zy));
    check_vec(values<T>(y), want_avg, "quantized average pool, onnx_float");
    // The fixed-point path (its divisor is the padded-input count, as the float pool's).
    ref::avg_pool(g, cview<T>(xt), y.view<T>(), ref::AvgPoolRequant<TfliteDoubleRound>::make<T>(g, s_x, zx, s_y, zy));
    const auto fixed = values<T>(y);
    int off_by_more = 0;
    for (std::size_t j = 0; j < fixed.size(); ++j) off_by_more += std::abs(fixed[j] - want_real[j]) > 1 ? 1 : 0;
    CHECK(off_by_more == 0);
    std::vector<float> xf(x.begin(), x.end());
    Tensor yf(DType::f32, g.output_shape());
    ref::avg_pool_float(g, cview<float>(make(Shape{n, c, h, w}, xf)), yf.view<float>());
    check_vec(values<float>(yf), want_favg, "float average pool");
  }
}

}  // namespace
