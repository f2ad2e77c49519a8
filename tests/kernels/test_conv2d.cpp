// Tests of the reference 2-D convolution (kernels/ref/conv2d.hpp) through its entry points
// (kernels/conv2d.hpp): QuantizedConv2D under every requantization policy, ConvInteger
// (ref::IntegerArith), FloatConv2D<float> and FloatConv2D<bf16>.
//
//   hand       small layers whose expected integers are derived in the comments
//   errors     every qnn::error a user can cause when preparing or running a layer
//   property   a few hundred random shapes against exact int64 / double references
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <type_traits>
#include <vector>

#include "kernel_test_util.hpp"
#include "qnn/kernels/dispatch.hpp"
#include "qnn/kernels/conv2d.hpp"

namespace {

using namespace qnn;
using namespace qnn_test;

template <class T, class Q>
QView<const T, Q> qv(const Tensor& t, const Q& q) {
  return {t.view<T>(), q};
}

// Runs `conv` on x (dense NCHW values) three ways — NCHW, NHWC and HWNC storage, each also written
// to an NHWC-stored output — and requires identical results. Returns the NCHW result.
template <class TIn, class TOut, class Conv>
std::vector<TOut> run_all_layouts(const Conv& conv, const std::vector<TIn>& x, const Shape& xs, const Shape& ys) {
  const std::int64_t n = xs[0], c = xs[1], h = xs[2], w = xs[3];
  const std::int64_t yn = ys[0], yc = ys[1], yh = ys[2], yw = ys[3];
  Tensor xt = make(xs, x);
  Tensor yt(dtype_of_v<TOut>, ys);
  conv.run(cview<TIn>(xt), yt.view<TOut>());
  const auto ref = values<TOut>(yt);

  const auto x_nhwc = nchw_to_nhwc(x, n, c, h, w);
  std::vector<TOut> y_nhwc(ref.size());
  conv.run(nhwc_as_nchw(x_nhwc.data(), n, c, h, w), nhwc_as_nchw(y_nhwc.data(), yn, yc, yh, yw));
  {
    INFO("NHWC input and output");
    check_vec(values(nhwc_as_nchw(y_nhwc.data(), yn, yc, yh, yw)), ref);
  }
  const auto x_hwnc = nchw_to_hwnc(x, n, c, h, w);
  Tensor y2(dtype_of_v<TOut>, ys);
  conv.run(hwnc_as_nchw(x_hwnc.data(), n, c, h, w), y2.view<TOut>());
  {
    INFO("HWNC input");
    check_vec(values<TOut>(y2), ref);
  }
  return ref;
}

ConvOptions conv_options(const ConvSpec& s) {
  ConvOptions opt;
  opt.window = s.window();
  opt.groups = s.groups;
  return opt;
}

template <class T>
std::vector<T> plus(const std::vector<int>& v, std::int32_t zp) {
  std::vector<T> out;
  for (int x : v) out.push_back(static_cast<T>(x + zp));
  return out;
}

// ================================================================================================
// Hand-derived cases
// ================================================================================================

// x: 1×1×3×5, zero point zx; d = x − zx:
//     [ 2  0  4 -2  1]
//     [ 1  6  0  3 -1]
//     [ 5 -1  0  2  7]
// weights 2×1×2×2, per-channel int8: channel 0 stored [1 2; 3 4], zw = 0, scale 0.25;
// channel 1 stored [0 1; 3 -2], zw = 1 (effective [-1 0; 2 -3]), scale 0.125. bias {10, -4}.
// stride 2×2, pads top 1, left 0, bottom 0, right 1 → output 2×3:
//   rows: oy 0 reads rows -1 (pad), 0;  oy 1 reads rows 1, 2
//   cols: ox 0 reads 0,1;  ox 1 reads 2,3;  ox 2 reads 4, 5 (pad)
// channel 0:  (0,0) 2·3 + 0·4 = 6          (0,1) 4·3 − 2·4 = 4        (0,2) 1·3 = 3
//             (1,0) 1 + 12 + 15 − 4 = 24   (1,1) 0 + 6 + 0 + 8 = 14   (1,2) −1 + 21 = 20
//             + bias 10 → acc0 = [16 14 13 34 24 30]
// channel 1:  (0,0) 2·2 = 4                (0,1) 4·2 + (−2)(−3) = 14  (0,2) 1·2 = 2
//             (1,0) −1 + 10 + 3 = 12       (1,1) 0 + 0 + 0 − 6 = −6   (1,2) 1 + 14 = 15
//             + bias −4 → acc1 = [0 10 −2 8 −10 11]
// Padded taps contribute nothing: a kernel that padded with x = 0 instead of x = zx would add
// (0 − zx)·w there. s_x = 0.5, s_y = 0.5 → multipliers m0 = 0.25 (2^−2), m1 = 0.125 (2^−3).
// acc0·m0 = [4 3.5 3.25 8.5 6 7.5]    acc1·m1 = [0 1.25 −0.25 1 −1.25 1.375]
//   onnx_float (rne):              [4 4 3 8 6 8]   [0 1 0 1 −1 1]
//   tflite_double: M = 2^30, e = −2/−3; SRDHM(acc, 2^30) = acc/2 rounded half up, then RDBPOT ties
//     away. 13 → 6.5 → 7 → 3.5 → 4 (double rounding of 3.25!); 34 → 17 → 8.5 → 9; 30 → 15 → 8;
//     11 → 5.5 → 6 → 1.5 → 2 (double rounding of 1.375); −10 → −5 → −1.25 → −1
//                                  [4 4 4 9 6 8]   [0 1 0 1 −1 2]
//   tflite_single: floor((acc + 2)/4), floor((acc + 4)/8)
//                                  [4 4 3 9 6 8]   [0 1 0 1 −1 1]
//   npu_pow2: shift = pos_x + pos_w − pos_y = 1+2−1 = 2 and 1+3−1 = 3, rhu = the same as single
TEST_CASE_TEMPLATE("conv2d hand: stride 2, asymmetric pads, zero-point padding, per-channel weights, bias, every policy",
                   T, std::uint8_t, std::int8_t) {
  const std::int32_t zx = std::is_signed_v<T> ? -100 : 3;
  const std::int32_t zy = std::is_signed_v<T> ? -20 : 10;
  CAPTURE(zx);
  CAPTURE(zy);
  const std::vector<int> d{2, 0, 4, -2, 1, 1, 6, 0, 3, -1, 5, -1, 0, 2, 7};
  const Tensor x = make(Shape{1, 1, 3, 5}, plus<T>(d, zx));
  const Tensor w = make<std::int8_t>(Shape{2, 1, 2, 2}, {1, 2, 3, 4, 0, 1, 3, -2});
  const PerChannel<std::int8_t> wq(0, {0.25f, 0.125f}, {0, 1});
  const std::vector<std::int32_t> bias{10, -4};
  const PerTensor<T> xq(0.5f, zx), yq(0.5f, zy);
  ConvOptions opt;
  opt.window.strides = {2, 2};
  opt.window.pads = {1, 0, 0, 1};

  const std::vector<std::vector<int>> expect{
      {4, 4, 3, 8, 6, 8, 0, 1, 0, 1, -1, 1},   // onnx_float
      {4, 4, 4, 9, 6, 8, 0, 1, 0, 1, -1, 2},   // tflite_double_round
      {4, 4, 3, 9, 6, 8, 0, 1, 0, 1, -1, 1},   // tflite_single_round
      {4, 4, 3, 9, 6, 8, 0, 1, 0, 1, -1, 1}};  // npu_pow2
  for (RequantPolicy p : kAllPolicies)
    for (bool reference : {true, false}) {  // the scalar reference, and the fast path run() takes by default
    CAPTURE(p);
    CAPTURE(reference);
    opt.policy = p;
    opt.reference = reference;
    const QuantizedConv2D<T, std::int8_t, T> conv(xq, qv<std::int8_t>(w, wq), bias, yq, opt);
    CHECK(conv.geometry(x.shape()).output_shape() == Shape{1, 2, 2, 3});
    const auto got = run_all_layouts<T, T>(conv, values<T>(x), x.shape(), Shape{1, 2, 2, 3});
    check_vec(got, plus<T>(expect[policy_index(p)], zy));
  }
}

// Dilation 2, stride 1, no padding; one channel, weights [1 −1; 2 1] at taps (0,0) (0,2) (2,0) (2,2).
// d = x − zx:
//   [ 0  2  3  5 −3]
//   [ 6  0  8  2  4]
//   [ 3  7 −1  0  2]
//   [−2  4  2  9  3]
//   [ 5  1  4 −4  6]
// acc[oy][ox] = d[oy][ox] − d[oy][ox+2] + 2·d[oy+2][ox] + d[oy+2][ox+2]:
//   (0,0) 0−3+6−1 = 2    (0,1) 2−5+14+0 = 11   (0,2) 3+3−2+2 = 6
//   (1,0) 6−8−4+2 = −4   (1,1) 0−2+8+9 = 15    (1,2) 8−4+4+3 = 11
//   (2,0) 3+1+10+4 = 18  (2,1) 7−0+2−4 = 5     (2,2) −1−2+8+6 = 11
// s_x = s_w = 1, s_y = 2: acc/2 = [1 5.5 3 −2 7.5 5.5 9 2.5 5.5] → rne [1 6 3 −2 8 6 9 2 6]
//   fused ReLU: lo = zy → [1 6 3 0 8 6 9 2 6]
//   fused Clip(−2.5, 5): lo = rne(−1.25) = −1, hi = rne(2.5) = 2 (ties to even) → [1 2 2 −1 2 2 2 2 2]
TEST_CASE_TEMPLATE("conv2d hand: dilation 2 with fused ReLU and Clip", T, std::uint8_t, std::int8_t) {
  const std::int32_t zx = std::is_signed_v<T> ? -2 : 10;
  const std::int32_t zy = std::is_signed_v<T> ? -5 : 50;
  CAPTURE(zx);
  CAPTURE(zy);
  const std::vector<int> d{0, 2, 3, 5, -3, 6, 0, 8, 2, 4, 3, 7, -1, 0, 2, -2, 4, 2, 9, 3, 5, 1, 4, -4, 6};
  const Tensor x = make(Shape{1, 1, 5, 5}, plus<T>(d, zx));
  const Tensor w = make<std::int8_t>(Shape{1, 1, 2, 2}, {1, -1, 2, 1});
  const PerTensor<std::int8_t, float, Symmetry::symmetric> wq(1.0f);
  const PerTensor<T> xq(1.0f, zx), yq(2.0f, zy);
  ConvOptions opt;
  opt.window.dilations = {2, 2};

  struct Case {
    const char* name;
    ActivationClamp act;
    std::vector<int> want;
  };
  const std::vector<Case> cases{
      {"none", {}, {1, 6, 3, -2, 8, 6, 9, 2, 6}},
      {"relu", ActivationClamp::relu(), {1, 6, 3, 0, 8, 6, 9, 2, 6}},
      {"clip(-2.5,5)", ActivationClamp::clip(-2.5f, 5.0f), {1, 2, 2, -1, 2, 2, 2, 2, 2}},
  };
  std::vector<T> unfused;
  for (bool reference : {true, false})
  for (const Case& c : cases) {
    INFO("activation " << c.name << " reference " << reference);
    opt.activation = c.act;
    opt.reference = reference;
    const QuantizedConv2D<T, std::int8_t, T> conv(xq, qv<std::int8_t>(w, wq), {}, yq, opt);
    const auto got = run_all_layouts<T, T>(conv, values<T>(x), x.shape(), Shape{1, 1, 3, 3});
    check_vec(got, plus<T>(c.want, zy));
    if (c.act.kind == FusedActivation::none) unfused = got;
    // The fused clamp equals the unfused chain DQ → Clip/Relu → Q (round half to even).
    if (c.act.kind != FusedActivation::none) {
      for (std::size_t i = 0; i < got.size(); ++i) {
        const float real = 2.0f * static_cast<float>(unfused[i] - zy);
        const float clipped = std::min(std::max(real, c.act.min), c.act.max);
        CHECK(static_cast<int>(got[i]) == static_cast<int>(std::nearbyint(clipped / 2.0f)) + zy);
      }
    }
  }
}

// Grouped convolution as ConvInteger (int32 output, no requantization). x: 1×4×1×2, groups 2, 1×1
// kernels. Effective values (x − zx): ch0 [1 2], ch1 [3 −1], ch2 [−2 4], ch3 [5 0]. Weights
// (w − zw[m]): m0 [2 −1] over ch0, ch1; m1 [1 3] over ch2, ch3 (stored [3 0] with zw 1, [−1 1]
// with zw −2). y0 = 2·ch0 − ch1 = [−1 5], y1 = ch2 + 3·ch3 = [13 4].
TEST_CASE("conv2d hand: grouped ConvInteger with per-channel weight zero points") {
  const std::int32_t zx = 100;
  const Tensor x = make<std::uint8_t>(Shape{1, 4, 1, 2}, {101, 102, 103, 99, 98, 104, 105, 100});
  const Tensor w = make<std::int8_t>(Shape{2, 2, 1, 1}, {3, 0, -1, 1});
  const std::vector<std::int32_t> zw{1, -2};
  const ConvGeometry g = make_conv_geometry(x.shape(), w.shape(), Window2D{}, 2);
  CHECK(g.output_shape() == Shape{1, 2, 1, 2});
  const ref::IntegerArith<std::uint8_t> arith(
      ref::accumulator_bound<std::uint8_t, std::int8_t>(cview<std::int8_t>(w), 0, zx, zw), zx, zw);
  Tensor y(DType::i32, g.output_shape());
  ref::conv2d(g, cview<std::uint8_t>(x), cview<std::int8_t>(w), y.view<std::int32_t>(), arith);
  check_vec(values<std::int32_t>(y), std::vector<int>{-1, 5, 13, 4});
}

// Depthwise with channel multiplier 2: C = 2, M = 4, groups 2; output channel m reads input
// channel m / 2. x ch0 [1 2 3; 4 5 6], ch1 [−1 0 2; 3 −2 1]; 2×2 kernels, output 1×2:
//   m0 [1 0; 0 1] on ch0: 1+5 = 6, 2+6 = 8           m1 [0 2; 1 0] on ch0: 4+4 = 8, 6+5 = 11
//   m2 [1 1; 1 1] on ch1: −1+0+3−2 = 0, 0+2−2+1 = 1  m3 [1 −1; −1 1] on ch1: −1−0−3−2 = −6, 0−2+2+1 = 1
//   + bias {0, 1, −1, 2} → [6 8 9 12 −1 0 −4 3]; all scales 1 so y = acc + zy.
TEST_CASE_TEMPLATE("conv2d hand: depthwise with channel multiplier 2", T, std::uint8_t, std::int8_t) {
  const std::int32_t zx = std::is_signed_v<T> ? 0 : 128;
  const std::int32_t zy = std::is_signed_v<T> ? 0 : 128;
  const Tensor x = make(Shape{1, 2, 2, 3}, plus<T>({1, 2, 3, 4, 5, 6, -1, 0, 2, 3, -2, 1}, zx));
  const Tensor w = make<std::int8_t>(Shape{4, 1, 2, 2}, {1, 0, 0, 1, 0, 2, 1, 0, 1, 1, 1, 1, 1, -1, -1, 1});
  const PerTensor<std::int8_t, float, Symmetry::symmetric> wq(1.0f);
  const PerTensor<T> xq(1.0f, zx), yq(1.0f, zy);
  ConvOptions opt;
  opt.groups = 2;
  for (RequantPolicy p : kAllPolicies)
    for (bool reference : {true, false}) {
    CAPTURE(p);
    CAPTURE(reference);
    opt.policy = p;
    opt.reference = reference;
    const QuantizedConv2D<T, std::int8_t, T> conv(xq, qv<std::int8_t>(w, wq), std::vector<std::int32_t>{0, 1, -1, 2},
                                                  yq, opt);
    const ConvGeometry g = conv.geometry(x.shape());
    CHECK(g.depthwise());  // groups = C, one input channel per group ...
    CHECK(g.m_per_group() == 2);  // ... and two output channels per group
    const auto got = run_all_layouts<T, T>(conv, values<T>(x), x.shape(), Shape{1, 4, 1, 2});
    check_vec(got, plus<T>({6, 8, 9, 12, -1, 0, -4, 3}, zy));
  }
}

// A requantization tie, acc·m = ±2.5 exactly, and a double-rounding case, acc·m = 1.25. 1×1 conv,
// x = {10, 5} (two images), w = {1, −1} (two channels), s_x = 0.25, s_w = s_y = 1 → m = 0.25.
//                  10·m = 2.5   −10·m = −2.5   5·m = 1.25   −5·m = −1.25
//   onnx_float     rne 2        −2             1            −1
//   tflite_double  SRDHM(10, 2^30) = 5, RDBPOT(5, 1) = 3 (ties away); −10 → −5 → −3;
//                  5 → SRDHM 2.5 → 3 (ties up) → RDBPOT 1.5 → 2 (double rounding); −5 → −2 → −1
//   tflite_single  floor((acc + 2)/4): 3, −2, 1, −1
//   npu_pow2       shift 2, rhu: 3, −2, 1, −1
// With int16 activations (int64 accumulator) both TFLite policies use the 16×8 rule, one rounding
// with ties up: M16 = 2^14, (acc·2^14 + 2^15) >> 16 → 3, −2, 1, −1 for tflite_double_round too.
TEST_CASE_TEMPLATE("conv2d hand: requantization ties differ by policy", T, std::int8_t, std::int16_t) {
  const Tensor x = make<T>(Shape{2, 1, 1, 1}, {10, 5});
  const Tensor w = make<std::int8_t>(Shape{2, 1, 1, 1}, {1, -1});
  const PerTensor<std::int8_t, float, Symmetry::symmetric> wq(1.0f);
  const PerTensor<T> xq(0.25f, 0), yq(1.0f, 0);
  // NCHW output: image 0 (10) channels +, −; image 1 (5) channels +, −.
  const bool wide = sizeof(T) == 2;
  const std::vector<std::vector<int>> expect{
      {2, -2, 1, -1}, wide ? std::vector<int>{3, -2, 1, -1} : std::vector<int>{3, -3, 2, -1}, {3, -2, 1, -1}, {3, -2, 1, -1}};
  for (RequantPolicy p : kAllPolicies)
    for (bool reference : {true, false}) {
    CAPTURE(p);
    CAPTURE(reference);
    ConvOptions opt;
    opt.policy = p;
    opt.reference = reference;
    const QuantizedConv2D<T, std::int8_t, T> conv(xq, qv<std::int8_t>(w, wq), {}, yq, opt);
    Tensor y(dtype_of_v<T>, Shape{2, 2, 1, 1});
    conv.run(cview<T>(x), y.view<T>());
    check_vec(values<T>(y), expect[policy_index(p)]);
  }
}

// A16W8: int16 activations accumulate in int64. 600 input channels, 1×1 kernel, x = 32767 (image
// 0) or −32768 (image 1), channel 0 weights all 127, channel 1 all −128. s_x = s_w = 1, s_y = 2^20:
//   32767·127·600 = 2 496 845 400 (> 2^31) → /2^20 = 2381.18 → 2381
//   32767·(−128)·600 = −2 516 505 600 → −2399.93 → −2400
//   −32768·127·600 = −2 496 921 600 → −2381.25 → −2381
//   −32768·(−128)·600 = 2 516 582 400 → 2400 exactly
// No tie, so every policy agrees (onnx_float: fp32(acc) rounds to a multiple of 256, far below
// one output LSB; TFLite 16×8: M = 2^30 → M16 = 2^14, total shift 34; npu: shift 20).
TEST_CASE("conv2d hand: A16W8 with an accumulator beyond int32, every policy") {
  const std::int64_t C = 600;
  std::vector<std::int16_t> xv(static_cast<std::size_t>(2 * C), 32767);
  std::fill(xv.begin() + C, xv.end(), std::int16_t{-32768});
  std::vector<std::int8_t> wv(static_cast<std::size_t>(2 * C), 127);
  std::fill(wv.begin() + C, wv.end(), std::int8_t{-128});
  const Tensor x = make(Shape{2, C, 1, 1}, xv);
  const Tensor w = make(Shape{2, C, 1, 1}, wv);
  const PerTensor<std::int8_t, float, Symmetry::symmetric> wq(1.0f);
  const PerTensor<std::int16_t> xq(1.0f, 0), yq(1048576.0f, 0);
  static_assert(std::same_as<QuantizedConv2D<std::int16_t, std::int8_t, std::int16_t>::Acc, std::int64_t>);
  for (RequantPolicy p : kAllPolicies) {
    CAPTURE(p);
    ConvOptions opt;
    opt.policy = p;
    const QuantizedConv2D<std::int16_t, std::int8_t, std::int16_t> conv(xq, qv<std::int8_t>(w, wq), {}, yq, opt);
    Tensor y(DType::i16, Shape{2, 2, 1, 1});
    conv.run(cview<std::int16_t>(x), y.view<std::int16_t>());
    check_vec(values<std::int16_t>(y), std::vector<int>{2381, -2400, -2381, 2400});
  }
}

// A16W8 under TFLite's 16×8 rule with a multiplier that is not a power of two: m = 1/3 →
// QuantizeMultiplier: M = round(2/3·2^31) = 1431655765, e = −1 → M16 = (M + 2^15) >> 16 = 21845.
// acc = 6·30000 = 180000, zy = −32768:
//   onnx_float: fp32(1/3)·180000 = 60000.0 → 60000 − 32768 = 27232
//   tflite_*:   (180000·21845 + 2^15) >> 16 = 59999 (the 16-bit multiplier is 21845/65536 ≈ 0.333328)
//               → 27231
TEST_CASE("conv2d hand: A16W8 TFLite 16x8 reduced multiplier") {
  const Tensor x = make<std::int16_t>(Shape{1, 6, 1, 1}, {30000, 30000, 30000, 30000, 30000, 30000});
  const Tensor w = make<std::int8_t>(Shape{1, 6, 1, 1}, {1, 1, 1, 1, 1, 1});
  const PerTensor<std::int8_t, float, Symmetry::symmetric> wq(1.0f);
  const PerTensor<std::int16_t> xq(1.0f, 0), yq(3.0f, -32768);
  for (const auto& pw : {std::pair{RequantPolicy::onnx_float, 27232}, std::pair{RequantPolicy::tflite_double_round, 27231},
                          std::pair{RequantPolicy::tflite_single_round, 27231}}) {
    const RequantPolicy p = pw.first;
    const int want = pw.second;
    CAPTURE(p);
    ConvOptions opt;
    opt.policy = p;
    const QuantizedConv2D<std::int16_t, std::int8_t, std::int16_t> conv(xq, qv<std::int8_t>(w, wq), {}, yq, opt);
    Tensor y(DType::i16, Shape{1, 1, 1, 1});
    conv.run(cview<std::int16_t>(x), y.view<std::int16_t>());
    CHECK(values<std::int16_t>(y)[0] == want);
  }
}

// TFLite's 16×8 rule is defined for multipliers below 2^7 (shift ≤ 7; requantize.hpp states that qnn
// checks this when the layer is prepared — beyond shift 15 its right shift 15 − shift would be
// negative). x = 100, w = 1, s_x = s_w = 1:
//   s_y = 2^−6 → m = 64 = 0.5·2^7 (shift 7): every policy gives 6400
//   s_y = 2^−7 → m = 128 (shift 8): the TFLite policies reject the layer; onnx_float and npu_pow2
//   give 12800;  s_y = 2^−16 (shift 17) likewise rejected.
TEST_CASE("conv2d errors: A16W8 TFLite multiplier limit") {
  const Tensor x = make<std::int16_t>(Shape{1, 1, 1, 1}, {100});
  const Tensor w = make<std::int8_t>(Shape{1, 1, 1, 1}, {1});
  const PerTensor<std::int8_t, float, Symmetry::symmetric> wq(1.0f);
  const PerTensor<std::int16_t> xq(1.0f, 0);
  using Conv = QuantizedConv2D<std::int16_t, std::int8_t, std::int16_t>;
  for (RequantPolicy p : kAllPolicies) {
    CAPTURE(p);
    ConvOptions opt;
    opt.policy = p;
    Tensor y(DType::i16, Shape{1, 1, 1, 1});
    Conv(xq, qv<std::int8_t>(w, wq), {}, PerTensor<std::int16_t>(0x1p-6f, 0), opt)
        .run(cview<std::int16_t>(x), y.view<std::int16_t>());
    CHECK(values<std::int16_t>(y)[0] == 6400);
    const bool tflite = p == RequantPolicy::tflite_double_round || p == RequantPolicy::tflite_single_round;
    for (float s_y : {0x1p-7f, 0x1p-16f}) {
      CAPTURE(s_y);
      if (tflite) {
        CHECK_THROWS_WITH_AS(Conv(xq, qv<std::int8_t>(w, wq), {}, PerTensor<std::int16_t>(s_y, 0), opt),
                             doctest::Contains("16x8"), qnn::error);
      } else {
        Conv(xq, qv<std::int8_t>(w, wq), {}, PerTensor<std::int16_t>(s_y, 0), opt)
            .run(cview<std::int16_t>(x), y.view<std::int16_t>());
        CHECK(values<std::int16_t>(y)[0] == (s_y == 0x1p-7f ? 12800 : 32767));
      }
    }
  }
}

// The first hand case in fp32: x = d, w = the effective weights, bias {10, −4} → the accumulators
// [16 14 13 34 24 30 | 0 10 −2 8 −10 11] exactly (small integers), then fused ReLU / Clip(0, 20).
TEST_CASE("conv2d hand: FloatConv2D<float> with stride, asymmetric pads, bias, ReLU and Clip") {
  const std::vector<float> d{2, 0, 4, -2, 1, 1, 6, 0, 3, -1, 5, -1, 0, 2, 7};
  const Tensor x = make(Shape{1, 1, 3, 5}, d);
  const Tensor w = make<float>(Shape{2, 1, 2, 2}, {1, 2, 3, 4, -1, 0, 2, -3});
  const std::vector<float> bias{10, -4};
  ConvOptions opt;
  opt.window.strides = {2, 2};
  opt.window.pads = {1, 0, 0, 1};
  struct Case {
    const char* name;
    ActivationClamp act;
    std::vector<float> want;
  };
  for (const Case& c : {Case{"none", {}, {16, 14, 13, 34, 24, 30, 0, 10, -2, 8, -10, 11}},
                        Case{"relu", ActivationClamp::relu(), {16, 14, 13, 34, 24, 30, 0, 10, 0, 8, 0, 11}},
                        Case{"clip(0,20)", ActivationClamp::clip(0, 20), {16, 14, 13, 20, 20, 20, 0, 10, 0, 8, 0, 11}}}) {
    INFO("activation " << c.name);
    opt.activation = c.act;
    for (bool reference : {true, false}) {  // small integers: exact on every path and layout
      CAPTURE(reference);
      opt.reference = reference;
      const FloatConv2D<float> conv(cview<float>(w), bias, opt);
      const auto got = run_all_layouts<float, float>(conv, d, x.shape(), Shape{1, 2, 2, 3});
      check_vec(got, c.want);
    }
  }
}

// bf16 rounds the operands (round to nearest even), then multiplies exactly and adds in fp32.
// x = {1 + 2^−8, 1 + 3·2^−8}, w = {3, 1 + 2^−8} (1×1 conv over 2 channels).
//   bf16(1 + 2^−8) = 1 (a tie between 1 and 1 + 2^−7; 1 is even); bf16(1 + 3·2^−8) = 1 + 2^−6 (tie,
//   even neighbour upward). bf16 result 3·1 + (1 + 2^−6)·1 = 4.015625;
//   fp32 result 3·(1 + 2^−8) + (1 + 3·2^−8)(1 + 2^−8) = 263939/65536 = 4.0273895263671875.
TEST_CASE("conv2d hand: FloatConv2D<bf16> rounds operands to nearest even") {
  const float a = 1.0f + 0x1p-8f, b = 1.0f + 3 * 0x1p-8f;
  const Tensor w = make<float>(Shape{1, 2, 1, 1}, {3.0f, a});
  for (bool reference : {true, false}) {
  CAPTURE(reference);
  ConvOptions opt;
  opt.reference = reference;
  const Tensor xf = make<float>(Shape{1, 2, 1, 1}, {a, b});
  Tensor xb(DType::bf16, Shape{1, 2, 1, 1});
  ref::to_bf16(cview<float>(xf), xb.view<bf16>());
  Tensor y(DType::f32, Shape{1, 1, 1, 1});
  FloatConv2D<bf16>(cview<float>(w), {}, opt).run(cview<bf16>(xb), y.view<float>());
  CHECK(values<float>(y)[0] == 4.015625f);
  FloatConv2D<float>(cview<float>(w), {}, opt).run(cview<float>(xf), y.view<float>());
  CHECK(values<float>(y)[0] == 4.0273895263671875f);
  }
}

// ================================================================================================
// Errors
// ================================================================================================

TEST_CASE("conv2d errors: shapes, groups, scales, weight axis, zero points") {
  using S8 = std::int8_t;
  using U8 = std::uint8_t;
  const PerTensor<U8> xq(0.5f, 128), yq(0.25f, 128);
  const PerTensor<S8, float, Symmetry::symmetric> wq(0.125f);
  const Tensor w = make<S8>(Shape{2, 2, 3, 3}, std::vector<S8>(36, 1));

  SUBCASE("input channels differ from the weight's") {
    const QuantizedConv2D<U8, S8, U8> conv(xq, qv<S8>(w, wq), {}, yq, ConvOptions{});
    Tensor x(DType::u8, Shape{1, 3, 5, 5});
    Tensor y(DType::u8, Shape{1, 2, 3, 3});
    CHECK_THROWS_WITH_AS(conv.run(cview<U8>(x), y.view<U8>()),
                         doctest::Contains("weight has 2 input channels per group, input has 3"), qnn::error);
  }
  SUBCASE("output of the wrong shape") {
    const QuantizedConv2D<U8, S8, U8> conv(xq, qv<S8>(w, wq), {}, yq, ConvOptions{});
    Tensor x(DType::u8, Shape{1, 2, 5, 5});
    Tensor y(DType::u8, Shape{1, 2, 5, 5});
    CHECK_THROWS_WITH_AS(conv.run(cview<U8>(x), y.view<U8>()), doctest::Contains("conv2d: output [1,2,5,5] should be [1,2,3,3]"),
                         qnn::error);
  }
  SUBCASE("input not 4-D") {
    const QuantizedConv2D<U8, S8, U8> conv(xq, qv<S8>(w, wq), {}, yq, ConvOptions{});
    Tensor x(DType::u8, Shape{2, 5, 5});
    Tensor y(DType::u8, Shape{1, 2, 3, 3});
    CHECK_THROWS_WITH_AS(conv.run(cview<U8>(x), y.view<U8>()), doctest::Contains("conv input must be 4-D"), qnn::error);
  }
  SUBCASE("window larger than the padded input") {
    const QuantizedConv2D<U8, S8, U8> conv(xq, qv<S8>(w, wq), {}, yq, ConvOptions{});
    Tensor x(DType::u8, Shape{1, 2, 2, 5});
    Tensor y(DType::u8, Shape{1, 2, 1, 3});
    CHECK_THROWS_WITH_AS(conv.run(cview<U8>(x), y.view<U8>()), doctest::Contains("does not fit input 2"), qnn::error);
  }
  SUBCASE("group count does not divide the input channels") {
    const Tensor w3 = make<S8>(Shape{3, 1, 1, 1}, {1, 1, 1});
    ConvOptions opt;
    opt.groups = 3;
    const QuantizedConv2D<U8, S8, U8> conv(xq, qv<S8>(w3, wq), {}, yq, opt);
    CHECK_THROWS_WITH_AS(conv.geometry(Shape{1, 4, 2, 2}),
                         doctest::Contains("input channels 4 are not divisible by group count 3"), qnn::error);
  }
  SUBCASE("group count does not divide the output channels") {
    const Tensor w3 = make<S8>(Shape{3, 1, 1, 1}, {1, 1, 1});
    ConvOptions opt;
    opt.groups = 2;
    const QuantizedConv2D<U8, S8, U8> conv(xq, qv<S8>(w3, wq), {}, yq, opt);
    CHECK_THROWS_WITH_AS(conv.geometry(Shape{1, 2, 2, 2}),
                         doctest::Contains("output channels 3 are not divisible by group count 2"), qnn::error);
  }
  SUBCASE("bad stride, dilation, padding") {
    ConvOptions opt;
    opt.window.strides = {0, 1};
    CHECK_THROWS_WITH_AS((QuantizedConv2D<U8, S8, U8>(xq, qv<S8>(w, wq), {}, yq, opt).geometry(Shape{1, 2, 5, 5})),
                         doctest::Contains("stride 0 must be positive"), qnn::error);
    opt = {};
    opt.window.dilations = {1, 0};
    CHECK_THROWS_WITH_AS((QuantizedConv2D<U8, S8, U8>(xq, qv<S8>(w, wq), {}, yq, opt).geometry(Shape{1, 2, 5, 5})),
                         doctest::Contains("dilation 0 must be positive"), qnn::error);
    opt = {};
    opt.window.pads = {0, -1, 0, 0};
    CHECK_THROWS_WITH_AS((QuantizedConv2D<U8, S8, U8>(xq, qv<S8>(w, wq), {}, yq, opt).geometry(Shape{1, 2, 5, 5})),
                         doctest::Contains("negative padding -1"), qnn::error);
  }
  SUBCASE("npu_pow2 with a scale that is not a power of two") {
    ConvOptions opt;
    opt.policy = RequantPolicy::npu_pow2;
    const PerTensor<U8> y3(0.3f, 128);
    CHECK_THROWS_WITH_AS((QuantizedConv2D<U8, S8, U8>(xq, qv<S8>(w, wq), {}, y3, opt)),
                         doctest::Contains("conv2d (npu-pow2): scale 0.3 is not a power of two"), qnn::error);
    // ... while a power-of-two layer prepares.
    CHECK_NOTHROW((QuantizedConv2D<U8, S8, U8>(xq, qv<S8>(w, wq), {}, yq, opt)));
  }
  SUBCASE("per-channel weights along the wrong axis or with the wrong channel count") {
    const PerChannel<S8> along1(1, {0.5f, 0.25f});
    CHECK_THROWS_WITH_AS((QuantizedConv2D<U8, S8, U8>(xq, qv<S8>(w, along1), {}, yq, ConvOptions{})),
                         doctest::Contains("per-channel quantization must run along axis 0 (output channels), not 1"),
                         qnn::error);
    const PerChannel<S8> three(0, {0.5f, 0.25f, 0.125f});
    CHECK_THROWS_WITH_AS((QuantizedConv2D<U8, S8, U8>(xq, qv<S8>(w, three), {}, yq, ConvOptions{})),
                         doctest::Contains("3 channel scales for 2 output channels"), qnn::error);
  }
  SUBCASE("bias of the wrong length") {
    const std::vector<std::int32_t> bias{1, 2, 3};
    CHECK_THROWS_WITH_AS((QuantizedConv2D<U8, S8, U8>(xq, qv<S8>(w, wq), bias, yq, ConvOptions{})),
                         doctest::Contains("bias has 3 values for 2 output channels"), qnn::error);
    CHECK_THROWS_WITH_AS(FloatConv2D<float>(make<float>(Shape{2, 1, 1, 1}, {1, 2}).view<float>(), std::vector<float>{1},
                                            ConvOptions{}),
                         doctest::Contains("bias has 1 values for 2 output channels"), qnn::error);
  }
  SUBCASE("zero points outside the storage range") {
    CHECK_THROWS_WITH_AS(PerTensor<U8>(0.5f, 256), doctest::Contains("zero point 256 is outside the uint8 range"),
                         qnn::error);
    CHECK_THROWS_WITH_AS(PerTensor<S8>(0.5f, -129), doctest::Contains("zero point -129 is outside the int8 range"),
                         qnn::error);
    CHECK_THROWS_WITH_AS(PerChannel<S8>(0, {1.0f, 1.0f}, {0, 128}),
                         doctest::Contains("zero point 128 is outside the int8 range"), qnn::error);
    // The arithmetic checks its own zero point too (ConvInteger has no QuantParams to do it).
    CHECK_THROWS_WITH_AS(ref::IntegerArith<U8>(0, -1, {0}), doctest::Contains("zero point -1 is outside the uint8 range"),
                         qnn::error);
    CHECK_THROWS_WITH_AS(ref::IntegerArith<U8>(0, 0, {}), doctest::Contains("weight zero points are missing"), qnn::error);
  }
  SUBCASE("scales that are not positive and finite") {
    CHECK_THROWS_WITH_AS(PerTensor<U8>(0.0f, 0), doctest::Contains("must be positive and finite"), qnn::error);
    CHECK_THROWS_WITH_AS(PerChannel<S8>(0, {1.0f, -1.0f}), doctest::Contains("must be positive and finite"), qnn::error);
  }
  SUBCASE("weights that are not 4-D") {
    const Tensor w2 = make<S8>(Shape{2, 2}, {1, 1, 1, 1});
    CHECK_THROWS_WITH_AS((QuantizedConv2D<U8, S8, U8>(xq, qv<S8>(w2, wq), {}, yq, ConvOptions{})),
                         doctest::Contains("weight must be 4-D"), qnn::error);
  }
}

// The accumulator bound (docs/numerics.md §7) for uint8 × int8 with zx = 0: max|x − zx| = 255,
// so the layer must satisfy 255·max_c Σ|w| + max|bias| ≤ 2^31 − 1 = 2 147 483 647.
// 66 311 weights of 127 and one of 7: Σ|w| = 8 421 504, 255·Σ = 2 147 483 520 = limit − 127.
TEST_CASE("conv2d errors: the int32 accumulator bound is checked when the layer is made") {
  using S8 = std::int8_t;
  using U8 = std::uint8_t;
  const std::int64_t K = 66312;
  std::vector<S8> big(static_cast<std::size_t>(K), 127);
  big.back() = 7;
  const Tensor w = make(Shape{1, K, 1, 1}, big);
  const PerTensor<S8, float, Symmetry::symmetric> wq(1.0f);
  const PerTensor<U8> xq(1.0f, 0), yq(1.0f, 0);
  const ConvOptions opt;

  CHECK_NOTHROW((QuantizedConv2D<U8, S8, U8>(xq, qv<S8>(w, wq), std::vector<std::int32_t>{127}, yq, opt)));
  CHECK_THROWS_WITH_AS((QuantizedConv2D<U8, S8, U8>(xq, qv<S8>(w, wq), std::vector<std::int32_t>{128}, yq, opt)),
                       doctest::Contains("the accumulator can reach 2147483648, above the int32 limit 2147483647"),
                       qnn::error);
  CHECK_THROWS_WITH_AS((QuantizedConv2D<U8, S8, U8>(xq, qv<S8>(w, wq), std::vector<std::int32_t>{-128}, yq, opt)),
                       doctest::Contains("above the int32 limit"), qnn::error);
  // One more unit of Σ|w| without any bias: 255·8 421 505 = 2 147 483 775.
  big.back() = 8;
  const Tensor w_over = make(Shape{1, K, 1, 1}, big);
  CHECK_THROWS_WITH_AS((QuantizedConv2D<U8, S8, U8>(xq, qv<S8>(w_over, wq), {}, yq, opt)),
                       doctest::Contains("the accumulator can reach 2147483775"), qnn::error);
  // The bound is per channel: a small first channel does not hide an overflowing second one.
  std::vector<S8> two(static_cast<std::size_t>(2 * K), 0);
  std::copy(big.begin(), big.end(), two.begin() + K);
  CHECK_THROWS_WITH_AS((QuantizedConv2D<U8, S8, U8>(xq, qv<S8>(make(Shape{2, K, 1, 1}, two), wq), {}, yq, opt)),
                       doctest::Contains("the accumulator can reach 2147483775"), qnn::error);
  // The bound uses the input zero point: with zx = 128, max|x − zx| = 128 and the layer fits.
  CHECK_NOTHROW((QuantizedConv2D<U8, S8, U8>(PerTensor<U8>(1.0f, 128), qv<S8>(w_over, wq), {}, yq, opt)));
  // int8 activations with zx = −128 deviate by up to 255 as well.
  CHECK_THROWS_WITH_AS((QuantizedConv2D<S8, S8, S8>(PerTensor<S8>(1.0f, -128), qv<S8>(w_over, wq), {},
                                                    PerTensor<S8>(1.0f, 0), opt)),
                       doctest::Contains("above the int32 limit"), qnn::error);
  // ConvInteger at exactly the limit without bias: every x = 255, so acc = 255·8 421 504 exactly.
  big.back() = 7;
  const std::vector<std::int32_t> zw{0};
  const ref::IntegerArith<U8> arith(ref::accumulator_bound<U8, S8>(cview<S8>(w), 0, 0, zw), 0, zw);
  const Tensor x = make(Shape{1, K, 1, 1}, std::vector<U8>(static_cast<std::size_t>(K), 255));
  Tensor y(DType::i32, Shape{1, 1, 1, 1});
  ref::conv2d(make_conv_geometry(x.shape(), w.shape(), Window2D{}, 1), cview<U8>(x), cview<S8>(w),
              y.view<std::int32_t>(), arith);
  CHECK(values<std::int32_t>(y)[0] == 2147483520);
}

// ================================================================================================
// Properties
// ================================================================================================

ConvSpec random_conv_spec(Rng& rng) {
  for (;;) {
    ConvSpec s;
    s.n = rand_int(rng, 1, 2);
    const int kind = rand_int(rng, 0, 3);  // 0,1: dense; 2: grouped; 3: depthwise (multiplier 1..2)
    if (kind <= 1) {
      s.groups = 1;
      s.c = rand_int(rng, 1, 5);
      s.m = rand_int(rng, 1, 5);
    } else if (kind == 2) {
      s.groups = rand_int(rng, 2, 3);
      s.c = s.groups * rand_int(rng, 1, 3);
      s.m = s.groups * rand_int(rng, 1, 2);
    } else {
      s.groups = rand_int(rng, 1, 4);
      s.c = s.groups;
      s.m = s.groups * rand_int(rng, 1, 2);
    }
    s.h = rand_int(rng, 1, 8);
    s.w = rand_int(rng, 1, 8);
    s.kh = rand_int(rng, 1, 3);
    s.kw = rand_int(rng, 1, 3);
    s.sh = rand_int(rng, 1, 3);
    s.sw = rand_int(rng, 1, 3);
    s.dh = rand_int(rng, 1, 2);
    s.dw = rand_int(rng, 1, 2);
    s.pt = rand_int(rng, 0, 2);
    s.pl = rand_int(rng, 0, 2);
    s.pb = rand_int(rng, 0, 2);
    s.pr = rand_int(rng, 0, 2);
    if (s.h + s.pt + s.pb >= s.dh * (s.kh - 1) + 1 && s.w + s.pl + s.pr >= s.dw * (s.kw - 1) + 1) return s;
  }
}

// One random quantized conv, checked under every policy (check_requantized: onnx_float exact
// against the §4.1 emulation and within 1 of the real result, TFLite within 1, npu_pow2 exact), with
// float scales and again with power-of-two scales; onnx_float also on three storage layouts.
template <class TIn, class TOut>
void conv_property_case(Rng& rng, PropertyStats& onnx_stats) {
  const ConvSpec s = random_conv_spec(rng);
  INFO(s.str());
  const std::int32_t zx = random_zero_point<TIn>(rng);
  const std::int32_t zy = random_zero_point<TOut>(rng);
  const bool asym_w = rand_int(rng, 0, 1) == 1;
  std::vector<std::int32_t> zw(static_cast<std::size_t>(s.m), 0);
  if (asym_w)
    for (auto& z : zw) z = random_zero_point<std::int8_t>(rng);
  CAPTURE(zx);
  CAPTURE(zy);
  CAPTURE(asym_w);
  const auto x = random_ints<TIn>(rng, static_cast<std::size_t>(s.x_shape().numel()));
  const auto w = random_ints<std::int8_t>(rng, static_cast<std::size_t>(s.w_shape().numel()));
  std::vector<std::int32_t> bias;
  if (rand_int(rng, 0, 1)) bias = random_ints<std::int32_t>(rng, static_cast<std::size_t>(s.m), -20000, 20000);
  const std::vector<std::int64_t> bias64(bias.begin(), bias.end());
  const auto acc = conv_acc_exact(s, x, zx, w, zw, bias64);
  const std::int64_t hw = s.oh() * s.ow();
  const Tensor xt = make(s.x_shape(), x);
  const Tensor wt = make(s.w_shape(), w);

  for (bool pow2 : {false, true}) {
    CAPTURE(pow2);
    // Scales: s_y is chosen so that some outputs saturate and most do not.
    float s_x = pow2 ? std::ldexp(1.0f, -rand_int(rng, 2, 6)) : rand_float(rng, 0.002f, 0.05f);
    std::vector<float> s_w(static_cast<std::size_t>(s.m));
    for (auto& v : s_w) v = pow2 ? std::ldexp(1.0f, -rand_int(rng, 3, 8)) : rand_float(rng, 0.001f, 0.02f);
    double r_max = 0;
    for (std::size_t i = 0; i < acc.size(); ++i) {
      const auto m = static_cast<std::size_t>((static_cast<std::int64_t>(i) / hw) % s.m);
      r_max = std::max(r_max, std::fabs(double{s_x} * s_w[m] * static_cast<double>(acc[i])));
    }
    const double levels = std::is_same_v<TOut, std::int16_t> ? 20000.0 : 90.0;
    float s_y = static_cast<float>(std::max(r_max, 1e-3) / (levels * rand_float(rng, 0.5f, 1.5f)));
    // TFLite's 16×8 rule takes multipliers below 2^7 (a larger one is rejected, tested above).
    if constexpr (sizeof(TIn) == 2) s_y = std::max(s_y, s_x * *std::max_element(s_w.begin(), s_w.end()) / 32.0f);
    if (pow2) s_y = std::ldexp(1.0f, std::ilogb(s_y));
    CAPTURE(s_x);
    CAPTURE(s_y);
    const PerTensor<TIn> xq(s_x, zx);
    const PerTensor<TOut> yq(s_y, zy);
    const PerChannel<std::int8_t> wq(0, s_w, zw);
    ConvOptions opt;
    opt.window = s.window();
    opt.groups = s.groups;
    for (RequantPolicy p : kAllPolicies) {
      if (p == RequantPolicy::npu_pow2 && !pow2) continue;
      CAPTURE(p);
      opt.policy = p;
      opt.reference = true;
      const QuantizedConv2D<TIn, std::int8_t, TOut> conv(xq, qv<std::int8_t>(wt, wq), bias, yq, opt);
      std::vector<TOut> got;
      if (p == RequantPolicy::onnx_float) {
        got = run_all_layouts<TIn, TOut>(conv, x, s.x_shape(), s.y_shape());
      } else {
        Tensor yt(dtype_of_v<TOut>, s.y_shape());
        conv.run(cview<TIn>(xt), yt.view<TOut>());
        got = values<TOut>(yt);
      }
      check_requantized(
          got, acc, [&](std::size_t i) { return static_cast<std::size_t>((static_cast<std::int64_t>(i) / hw) % s.m); },
          s_x, s_w, s_y, zy, p, onnx_stats);
      // The fast path run() takes by default (8-bit activations, dense tensors) equals the reference
      // bit for bit.
      opt.reference = false;
      INFO("SIMD target " << simd::active_target());
      const QuantizedConv2D<TIn, std::int8_t, TOut> fast(xq, qv<std::int8_t>(wt, wq), bias, yq, opt);
      Tensor yf(dtype_of_v<TOut>, s.y_shape());
      fast.run(cview<TIn>(xt), yf.view<TOut>());
      check_vec(values<TOut>(yf), got, "default (fast) path vs reference");
    }
  }
}

TEST_CASE_TEMPLATE("conv2d property: integer conv vs exact math, every policy, random shapes", T, std::uint8_t,
                   std::int8_t) {
  Rng rng(std::is_signed_v<T> ? 1234u : 4321u);
  PropertyStats stats;
  for (int i = 0; i < 300; ++i) {
    CAPTURE(i);
    conv_property_case<T, T>(rng, stats);
  }
  // The fp32 multiplier moves a result by one only near a rounding tie: almost all are exact.
  CAPTURE(stats.outputs);
  CAPTURE(stats.exact);
  CHECK(stats.exact >= stats.outputs * 995 / 1000);
}

TEST_CASE("conv2d property: A16W8 (int16 activations, int64 accumulators), random shapes") {
  Rng rng(16816u);
  PropertyStats stats;
  for (int i = 0; i < 80; ++i) {
    CAPTURE(i);
    conv_property_case<std::int16_t, std::int16_t>(rng, stats);
  }
  CAPTURE(stats.outputs);
  CAPTURE(stats.exact);
  CHECK(stats.exact >= stats.outputs * 995 / 1000);
}

// ConvInteger equals the exact accumulator, whatever the shape and layout.
TEST_CASE_TEMPLATE("conv2d property: ConvInteger equals the exact accumulator", T, std::uint8_t, std::int8_t) {
  Rng rng(std::is_signed_v<T> ? 77u : 78u);
  for (int i = 0; i < 150; ++i) {
    const ConvSpec s = random_conv_spec(rng);
    INFO("case " << i << ": " << s.str());
    const std::int32_t zx = random_zero_point<T>(rng);
    std::vector<std::int32_t> zw(static_cast<std::size_t>(s.m));
    for (auto& z : zw) z = random_zero_point<std::int8_t>(rng);
    const auto x = random_ints<T>(rng, static_cast<std::size_t>(s.x_shape().numel()));
    const auto w = random_ints<std::int8_t>(rng, static_cast<std::size_t>(s.w_shape().numel()));
    const Tensor wt = make(s.w_shape(), w);
    const ref::IntegerArith<T> arith(ref::accumulator_bound<T, std::int8_t>(cview<std::int8_t>(wt), 0, zx, zw), zx, zw);
    const ConvGeometry g = make_conv_geometry(s.x_shape(), s.w_shape(), s.window(), s.groups);
    REQUIRE(g.output_shape() == s.y_shape());
    const auto want = conv_acc_exact(s, x, zx, w, zw, {});
    const auto x_nhwc = nchw_to_nhwc(x, s.n, s.c, s.h, s.w);
    Tensor y(DType::i32, s.y_shape());
    ref::conv2d(g, nhwc_as_nchw(x_nhwc.data(), s.n, s.c, s.h, s.w), cview<std::int8_t>(wt), y.view<std::int32_t>(),
                arith);
    check_vec(values<std::int32_t>(y), want);
  }
}

// Quantize → integer conv → dequantize approximates the float conv of the dequantized operands to
// within one output step (half a step from the final rounding, the rest from the fp32 multiplier).
TEST_CASE_TEMPLATE("conv2d property: quantize, conv, dequantize approximates the float conv", T, std::uint8_t,
                   std::int8_t) {
  Rng rng(std::is_signed_v<T> ? 909u : 910u);
  int checked = 0;
  for (int i = 0; i < 120; ++i) {
    const ConvSpec s = random_conv_spec(rng);
    INFO("case " << i << ": " << s.str());
    const auto xf = random_floats(rng, static_cast<std::size_t>(s.x_shape().numel()), -3.0f, 5.0f);
    const auto wf = random_floats(rng, static_cast<std::size_t>(s.w_shape().numel()), -1.0f, 1.0f);
    const auto bf = random_floats(rng, static_cast<std::size_t>(s.m), -2.0f, 2.0f);
    // Activations: asymmetric over [−3, 5]; weights: symmetric per channel; bias: s_x·s_w[c].
    const float s_x = 8.0f / 255.0f;
    const std::int32_t zx = std::is_signed_v<T> ? -128 + 96 : 96;
    const PerTensor<T> xq(s_x, zx);
    std::vector<float> s_w(static_cast<std::size_t>(s.m), 1e-3f);
    const std::int64_t kk = s.k();
    for (std::int64_t m = 0; m < s.m; ++m)
      for (std::int64_t k = 0; k < kk; ++k)
        s_w[static_cast<std::size_t>(m)] =
            std::max(s_w[static_cast<std::size_t>(m)], std::fabs(wf[static_cast<std::size_t>(m * kk + k)]) / 127.0f);
    const PerChannel<std::int8_t, float, Symmetry::symmetric> wq(0, s_w);
    Tensor xt(dtype_of_v<T>, s.x_shape());
    Tensor wt(DType::i8, s.w_shape());
    ref::quantize_linear(cview<float>(make(s.x_shape(), xf)), xt.view<T>(), xq);
    ref::quantize_linear(cview<float>(make(s.w_shape(), wf)), wt.view<std::int8_t>(), wq);
    std::vector<std::int32_t> bias;
    for (std::int64_t m = 0; m < s.m; ++m)
      bias.push_back(static_cast<std::int32_t>(std::nearbyint(bf[static_cast<std::size_t>(m)] / (s_x * s_w[static_cast<std::size_t>(m)]))));

    // Float conv (double) of the dequantized operands.
    std::vector<double> xd, wd, bd;
    for (T v : values<T>(xt)) xd.push_back(double{s_x} * (static_cast<double>(v) - zx));
    const auto wq_vals = values<std::int8_t>(wt);
    for (std::size_t j = 0; j < wq_vals.size(); ++j)
      wd.push_back(double{s_w[j / static_cast<std::size_t>(kk)]} * wq_vals[j]);
    for (std::int64_t m = 0; m < s.m; ++m)
      bd.push_back(double{s_x} * double{s_w[static_cast<std::size_t>(m)]} * bias[static_cast<std::size_t>(m)]);
    const auto ref = conv_double(s, xd, wd, bd);
    double r_max = 1e-3;
    for (double v : ref) r_max = std::max(r_max, std::fabs(v));
    const float s_y = static_cast<float>(r_max / 100.0);  // |y − zy| ≤ 100: no saturation
    const std::int32_t zy = std::is_signed_v<T> ? 0 : 128;
    const QuantizedConv2D<T, std::int8_t, T> conv(xq, qv<std::int8_t>(wt, wq), bias, PerTensor<T>(s_y, zy),
                                                  conv_options(s));
    Tensor yt(dtype_of_v<T>, s.y_shape());
    conv.run(cview<T>(xt), yt.view<T>());
    const auto y = values<T>(yt);
    for (std::size_t j = 0; j < y.size(); ++j) {
      const double deq = double{s_y} * (static_cast<double>(y[j]) - zy);
      const double err = std::fabs(deq - ref[j]);
      if (err > double{s_y} * (1.0 + 1e-6)) {
        INFO("output " << j << " dequantized " << deq << " float " << ref[j] << " s_y " << s_y);
        CHECK(err <= double{s_y});
      }
      ++checked;
    }
  }
  CHECK(checked > 1000);
}

// The reference fp32 conv (ConvOptions::reference) equals the stated summation order exactly, on
// every layout; the reference bf16 conv equals the fp32 conv (same order) of the bf16-rounded
// operands exactly — and actually differs from the fp32 conv of the raw operands. The default path
// (which may sum in another order) stays within docs/numerics.md §8's bound γ_K·Σ|x·w| of the exact
// sum of the same operands.
TEST_CASE("conv2d property: FloatConv2D<float> and <bf16> equal the ordered fp32 FMA chain bit for bit") {
  Rng rng(2718u);
  int bf16_differs = 0;
  for (int i = 0; i < 150; ++i) {
    const ConvSpec s = random_conv_spec(rng);
    INFO("case " << i << ": " << s.str());
    const auto x = random_floats(rng, static_cast<std::size_t>(s.x_shape().numel()), -2.0f, 2.0f);
    const auto w = random_floats(rng, static_cast<std::size_t>(s.w_shape().numel()), -1.0f, 1.0f);
    std::vector<float> bias;
    if (rand_int(rng, 0, 1)) bias = random_floats(rng, static_cast<std::size_t>(s.m), -1.0f, 1.0f);
    ConvOptions opt = conv_options(s);
    float lo = -std::numeric_limits<float>::infinity(), hi = std::numeric_limits<float>::infinity();
    if (rand_int(rng, 0, 2) == 0) {
      opt.activation = ActivationClamp::clip(-0.5f, 0.75f);
      lo = -0.5f;
      hi = 0.75f;
    }
    const Tensor wt = make(s.w_shape(), w);
    std::vector<bf16> xb;
    std::vector<float> xr, wr;
    for (float v : x) {
      xb.push_back(bf16(v));
      xr.push_back(round_to_bf16(v));
    }
    for (float v : w) wr.push_back(round_to_bf16(v));

    opt.reference = true;
    const auto got32 = run_all_layouts<float, float>(FloatConv2D<float>(cview<float>(wt), bias, opt), x, s.x_shape(), s.y_shape());
    check_vec(got32, conv_f32_ordered(s, x, w, bias, lo, hi), "fp32 reference");
    const auto gotb = run_all_layouts<bf16, float>(FloatConv2D<bf16>(cview<float>(wt), bias, opt), xb, s.x_shape(), s.y_shape());
    check_vec(gotb, conv_f32_ordered(s, xr, wr, bias, lo, hi), "bf16 reference");
    bf16_differs += gotb != got32 ? 1 : 0;

    opt.reference = false;
    for (bool is_bf16 : {false, true}) {
      CAPTURE(is_bf16);
      INFO("SIMD target " << simd::active_target());
      Tensor y(DType::f32, s.y_shape());
      if (is_bf16)
        FloatConv2D<bf16>(cview<float>(wt), bias, opt).run(cview<bf16>(make(s.x_shape(), xb)), y.view<float>());
      else
        FloatConv2D<float>(cview<float>(wt), bias, opt).run(cview<float>(make(s.x_shape(), x)), y.view<float>());
      const auto& xs = is_bf16 ? xr : x;
      const auto& ws = is_bf16 ? wr : w;
      std::vector<double> xd(xs.begin(), xs.end()), wd(ws.begin(), ws.end()), bd(bias.begin(), bias.end());
      std::vector<double> xa, wa, ba;
      for (double v : xd) xa.push_back(std::fabs(v));
      for (double v : wd) wa.push_back(std::fabs(v));
      for (double v : bd) ba.push_back(std::fabs(v));
      const auto exact = conv_double(s, xd, wd, bd);
      const auto mag = conv_double(s, xa, wa, ba);
      const double u = std::ldexp(1.0, -24), n = static_cast<double>(s.k() + 1);
      const double gamma = n * u / (1 - n * u);
      const auto got = values<float>(y);
      int outside = 0;
      for (std::size_t j = 0; j < got.size(); ++j) {
        const double want = std::clamp(exact[j], double{lo}, double{hi});
        if (std::fabs(got[j] - want) > gamma * mag[j] + 1e-30) {
          if (++outside <= 3) {
            INFO("output " << j << " got " << got[j] << " exact " << want << " bound " << gamma * mag[j]);
            CHECK(std::fabs(got[j] - want) <= gamma * mag[j]);
          }
        }
      }
      CHECK(outside == 0);
    }
  }
  CHECK(bf16_differs > 100);
}

}  // namespace
