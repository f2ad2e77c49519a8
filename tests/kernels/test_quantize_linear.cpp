// Tests of the tensor-level QuantizeLinear / DequantizeLinear and the bf16 conversions
// (kernels/ref/quantize_linear.hpp): per tensor and per axis, every rounding mode, saturation, NaN
// and ±∞, zero points at the range ends, strided views.
#include <doctest/doctest.h>

#include <array>
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "kernel_test_util.hpp"
#include "qnn/kernels/ref/quantize_linear.hpp"

namespace {

using namespace qnn;
using namespace qnn_test;

constexpr float kInf = std::numeric_limits<float>::infinity();
const float kNaN = std::numeric_limits<float>::quiet_NaN();

template <class Q>
std::vector<typename Q::storage_type> quantize(const std::vector<float>& x, const Shape& s, const Q& q,
                                               Rounding mode = Rounding::half_even) {
  using T = typename Q::storage_type;
  const Tensor xt = make(s, x);
  Tensor y(dtype_of_v<T>, s);
  ref::quantize_linear(cview<float>(xt), y.view<T>(), q, mode);
  return values<T>(y);
}

// int8, s = 0.5, zp = −3: x/s = [0.5 1.5 −0.5 2.5 −1.5 200 −200 NaN ∞ −∞]
//   half_even  [0 2 0 2 −2 | clamp to 127+3 = 130 → 127 | −125 → −128 | NaN → qmin −128 | 127 | −128] − 3
//   half_up    [1 2 0 3 −1 ...]       half_away  [1 2 −1 3 −2 ...]
TEST_CASE("quantize_linear hand: per-tensor int8, every rounding mode, saturation, NaN and infinities") {
  const std::vector<float> x{0.25f, 0.75f, -0.25f, 1.25f, -0.75f, 100, -100, kNaN, kInf, -kInf};
  const PerTensor<std::int8_t> q(0.5f, -3);
  const Shape s{10};
  check_vec(quantize(x, s, q), std::vector<int>{-3, -1, -3, -1, -5, 127, -128, -128, 127, -128}, "half_even");
  check_vec(quantize(x, s, q, Rounding::half_up), std::vector<int>{-2, -1, -3, 0, -4, 127, -128, -128, 127, -128}, "half_up");
  check_vec(quantize(x, s, q, Rounding::half_away), std::vector<int>{-2, -1, -4, 0, -5, 127, -128, -128, 127, -128},
            "half_away");
}

TEST_CASE("quantize_linear hand: zero points at the range ends, uint8 and int16") {
  // uint8, s = 1, zp = 255: every x ≤ 0 maps into range; −0.5 → rne −0 → 255; 1 saturates.
  check_vec(quantize({0, -1, -255, -256, 1, 0.5f, -0.5f}, Shape{7}, PerTensor<std::uint8_t>(1.0f, 255)),
            std::vector<int>{255, 254, 0, 0, 255, 255, 255}, "uint8 zp 255");
  // uint8, zp = 0: 254.5 → 254 (even), 255.5 → clamps to 255 before rounding.
  check_vec(quantize({-1, 255.5f, 254.5f, 0.5f, 1.5f}, Shape{5}, PerTensor<std::uint8_t>(1.0f, 0)),
            std::vector<int>{0, 255, 254, 0, 2}, "uint8 zp 0");
  // int8 zp = 127 and −128.
  check_vec(quantize({0, 1, -255, -256}, Shape{4}, PerTensor<std::int8_t>(1.0f, 127)), std::vector<int>{127, 127, -128, -128},
            "int8 zp 127");
  check_vec(quantize({0, 255, 256, -1}, Shape{4}, PerTensor<std::int8_t>(1.0f, -128)), std::vector<int>{-128, 127, 127, -128},
            "int8 zp -128");
  // int16, s = 2^−10: 1 → 1024; 32 → 32768 saturates; −32 → −32768 exactly; 2^−11 → 0.5 → 0.
  check_vec(quantize({1, 32, -32, 0x1p-11f, 3 * 0x1p-11f}, Shape{5}, PerTensor<std::int16_t>(0x1p-10f, 0)),
            std::vector<int>{1024, 32767, -32768, 0, 2}, "int16");
  // x / s is one fp32 division, then rounding: with s = 0.1f, 0.35f/0.1f = 3.4999998882 exactly, whose
  // fp32 rounding is 3.5 → rne 4 (a double quotient would round to 3); 0.25f/0.1f = 2.4999999627 →
  // fp32 2.5 → 2 (even); 0.3f/0.1f = 3.0000000745 → 3.
  check_vec(quantize({0.3f, 0.25f, 0.35f}, Shape{3}, PerTensor<std::int8_t>(0.1f, 0)), std::vector<int>{3, 2, 4},
            "scale 0.1");
  // ... and not a multiply by the reciprocal: with s = 0.3f, −38.25f/s = −127.49999 (fp32) → −127,
  // while −38.25f·fl(1/s) = −38.25·3.3333333 rounds to exactly −127.5 → −128.
  check_vec(quantize({-38.25f}, Shape{1}, PerTensor<std::int8_t>(0.3f, 0)), std::vector<int>{-127}, "scale 0.3");
}

// Per axis: x [2,3,2] along axis 1 with scales {0.5, 0.25, 2}, zero points {0, 10, −5}:
//   x[0] = [[1 −1] [1 −1] [1 −1]],  x[1] = [[3 0.25] [0.125 100] [5 −300]]
//   channel 0: 1 → 2, −1 → −2, 3 → 6, 0.25 → 0.5 → 0
//   channel 1: 1 → 4+10 = 14, −1 → 6, 0.125 → 0.5 → 0+10 = 10, 100 → 400 → clamps to 117 → 127
//   channel 2: 1 → 0.5 → 0−5 = −5, −1 → −0.5 → −5, 5 → 2.5 → 2−5 = −3, −300 → −150 → −123 → −128
// Dequantized back: [1 −1 1 −1 0 0 | 3 0 0 29.25 4 −246].
TEST_CASE("quantize_linear hand: per-axis quantize and dequantize") {
  const std::vector<float> x{1, -1, 1, -1, 1, -1, 3, 0.25f, 0.125f, 100, 5, -300};
  const Shape s{2, 3, 2};
  const std::vector<int> want{2, -2, 14, 6, -5, -5, 6, 0, 10, 127, -3, -128};
  for (int axis : {1, -2}) {
    CAPTURE(axis);
    const PerChannel<std::int8_t> q(axis, {0.5f, 0.25f, 2.0f}, {0, 10, -5});
    const auto y = quantize(x, s, q);
    check_vec(y, want, "quantize");
    const Tensor yt = make(s, y);
    Tensor d(DType::f32, s);
    ref::dequantize_linear(cview<std::int8_t>(yt), d.view<float>(), q);
    check_vec(values<float>(d), std::vector<float>{1, -1, 1, -1, 0, 0, 3, 0, 0, 29.25f, 4, -246}, "dequantize");
  }
}

TEST_CASE("quantize_linear hand: per-tensor dequantize, symmetric schemes") {
  // uint8 zp 128: (q − 128)·0.5
  const Tensor q = make<std::uint8_t>(Shape{4}, {0, 128, 255, 129});
  Tensor d(DType::f32, Shape{4});
  ref::dequantize_linear(cview<std::uint8_t>(q), d.view<float>(), PerTensor<std::uint8_t>(0.5f, 128));
  check_vec(values<float>(d), std::vector<float>{-64, 0, 63.5f, 0.5f});
  // A symmetric uint8 scheme has the implied zero point 128 (XINT8), whatever is stored.
  ref::dequantize_linear(cview<std::uint8_t>(q), d.view<float>(),
                         PerTensor<std::uint8_t, Pow2, Symmetry::symmetric>(Pow2{1}));
  check_vec(values<float>(d), std::vector<float>{-64, 0, 63.5f, 0.5f}, "symmetric pow2");
  // Power-of-two scale quantizes by an exact division: 2^−3 → x·8.
  check_vec(quantize({1.0f, -0.0625f, 0.1875f}, Shape{3}, PerTensor<std::int8_t, Pow2>(Pow2{3}, 0), Rounding::half_up),
            std::vector<int>{8, 0, 2}, "pow2, half_up");
}

// Per-axis on every axis of a random 3-D tensor, read through a transposed view, against the element
// formula; dequantize(quantize(x)) is within half a step of x wherever x is in range.
TEST_CASE_TEMPLATE("quantize_linear property: per-axis along every axis, strided views", T, std::int8_t, std::uint8_t) {
  Rng rng(std::is_signed_v<T> ? 60u : 61u);
  const Shape s{3, 4, 5};
  for (int axis = 0; axis < 3; ++axis) {
    CAPTURE(axis);
    const auto x = random_floats(rng, 60, -3.0f, 3.0f);
    const std::int64_t ch = s[axis];
    std::vector<float> scales;
    std::vector<std::int32_t> zps;
    for (std::int64_t c = 0; c < ch; ++c) {
      scales.push_back(rand_float(rng, 0.01f, 0.05f));
      zps.push_back(std::is_signed_v<T> ? rand_int(rng, -10, 10) : rand_int(rng, 118, 138));
    }
    const PerChannel<T> q(axis, scales, zps);
    // x stored as [5,4,3] (reversed axes) and viewed as [3,4,5].
    std::vector<float> xr(60);
    for (int i = 0; i < 3; ++i)
      for (int j = 0; j < 4; ++j)
        for (int k = 0; k < 5; ++k) xr[static_cast<std::size_t>((k * 4 + j) * 3 + i)] = x[static_cast<std::size_t>((i * 4 + j) * 5 + k)];
    static constexpr std::array<int, 3> kRev{2, 1, 0};
    const auto xv = TensorView<const float>(xr.data(), Shape{5, 4, 3}).permuted(kRev);
    Tensor y(dtype_of_v<T>, s);
    ref::quantize_linear(xv, y.view<T>(), q);
    const auto got = values<T>(y);
    Tensor d(DType::f32, s);
    ref::dequantize_linear(cview<T>(y), d.view<float>(), q);
    const auto back = values<float>(d);
    for (int i = 0; i < 3; ++i)
      for (int j = 0; j < 4; ++j)
        for (int k = 0; k < 5; ++k) {
          const std::array<int, 3> idx{i, j, k};
          const auto c = static_cast<std::size_t>(idx[static_cast<std::size_t>(axis)]);
          const auto e = static_cast<std::size_t>((i * 4 + j) * 5 + k);
          const float v = x[e] / scales[c];
          const float lo = static_cast<float>(std::numeric_limits<T>::min() - zps[c]);
          const float hi = static_cast<float>(std::numeric_limits<T>::max() - zps[c]);
          const int want = static_cast<int>(std::nearbyint(std::min(std::max(v, lo), hi))) + zps[c];
          INFO("element [" << i << "," << j << "," << k << "] x " << x[e] << " scale " << scales[c] << " zp " << zps[c]);
          CHECK(static_cast<int>(got[e]) == want);
          CHECK(back[e] == static_cast<float>(static_cast<int>(got[e]) - zps[c]) * scales[c]);
          if (v > lo && v < hi) CHECK(std::fabs(back[e] - x[e]) <= 0.5f * scales[c] * (1 + 1e-6f));
        }
  }
}

// bf16 conversion of tensors: round to nearest even on the 16 dropped bits.
//   1 + 2^−8 (0x3F808000) is a tie → 0x3F80 (even); 1 + 3·2^−8 (0x3F818000) → 0x3F82 (even);
//   1 + 2^−8 + 2^−20 is above the tie → 0x3F81; −0 → 0x8000; FLT_MAX (0x7F7FFFFF) rounds past the
//   largest finite bf16 → +∞ 0x7F80; 0x7F7F7FFF → 0x7F7F; NaN stays a quiet NaN with its sign;
//   1e−40 (subnormal 0x000116C2) → 0x0001; ±∞ stay.
TEST_CASE("quantize_linear hand: bf16 conversion of tensors") {
  const std::vector<float> x{1.0f,
                             1.0f + 0x1p-8f,
                             1.0f + 3 * 0x1p-8f,
                             1.0f + 0x1p-8f + 0x1p-20f,
                             -0.0f,
                             std::numeric_limits<float>::max(),
                             std::bit_cast<float>(0x7F7F7FFFu),
                             kNaN,
                             -kNaN,
                             1e-40f,
                             kInf,
                             -kInf};
  const Tensor xt = make(Shape{3, 4}, x);
  Tensor b(DType::bf16, Shape{3, 4});
  ref::to_bf16(cview<float>(xt), b.view<bf16>());
  std::vector<int> bits;
  for (bf16 v : values<bf16>(b)) bits.push_back(v.bits);
  check_vec(bits, std::vector<int>{0x3F80, 0x3F80, 0x3F82, 0x3F81, 0x8000, 0x7F80, 0x7F7F, 0x7FC0, 0xFFC0, 0x0001, 0x7F80, 0xFF80});
  Tensor back(DType::f32, Shape{3, 4});
  ref::from_bf16(cview<bf16>(b), back.view<float>());
  const auto f = values<float>(back);
  CHECK(f[1] == 1.0f);
  CHECK(f[2] == 1.015625f);
  CHECK(std::signbit(f[4]));
  CHECK(std::isinf(f[5]));
  CHECK(std::isnan(f[7]));
  CHECK(std::isnan(f[8]));
  CHECK(f[9] == std::bit_cast<float>(0x00010000u));
  // Every bf16 value survives the round trip bf16 → float → bf16 unchanged (NaNs stay NaN).
  std::vector<bf16> all;
  for (std::uint32_t u = 0; u < 0x10000u; ++u) all.push_back(bf16::from_bits(static_cast<std::uint16_t>(u)));
  const Tensor at = make(Shape{256, 256}, all);
  Tensor af(DType::f32, at.shape());
  ref::from_bf16(cview<bf16>(at), af.view<float>());
  Tensor ab(DType::bf16, at.shape());
  ref::to_bf16(cview<float>(af), ab.view<bf16>());
  int changed = 0;
  const auto round_trip = values<bf16>(ab);
  for (std::size_t i = 0; i < all.size(); ++i) {
    const bool nan = (all[i].bits & 0x7FFF) > 0x7F80;
    if (nan ? (round_trip[i].bits & 0x7FFF) <= 0x7F80 : round_trip[i].bits != all[i].bits) ++changed;
  }
  CHECK(changed == 0);
  // Through a transposed view: element [i,j] of the view is storage [j,i].
  static constexpr std::array<int, 2> kSwap{1, 0};
  Tensor bt(DType::bf16, Shape{4, 3});
  ref::to_bf16(cview<float>(xt).permuted(kSwap), bt.view<bf16>());
  CHECK(bt.view<bf16>()(1, 0).bits == 0x3F80);  // x[0][1]
  CHECK(bt.view<bf16>()(2, 0).bits == 0x3F82);  // x[0][2]
  CHECK(bt.view<bf16>()(1, 1).bits == 0x7F80);  // x[1][1] = FLT_MAX
}

TEST_CASE("quantize_linear errors") {
  const Tensor x = make<float>(Shape{2, 4, 2}, std::vector<float>(16, 1.0f));
  Tensor y(DType::i8, Shape{2, 4, 2});
  const PerChannel<std::int8_t> three(1, {1.0f, 1.0f, 1.0f});
  CHECK_THROWS_WITH_AS(ref::quantize_linear(cview<float>(x), y.view<std::int8_t>(), three),
                       doctest::Contains("per-channel quantization has 3 channels, the tensor [2,4,2] has 4 along axis 1"),
                       qnn::error);
  Tensor d(DType::f32, Shape{2, 4, 2});
  CHECK_THROWS_WITH_AS(ref::dequantize_linear(cview<std::int8_t>(y), d.view<float>(), three),
                       doctest::Contains("per-channel quantization has 3 channels"), qnn::error);
  Tensor y2(DType::i8, Shape{4, 2, 2});
  CHECK_THROWS_WITH_AS(ref::quantize_linear(cview<float>(x), y2.view<std::int8_t>(), PerTensor<std::int8_t>(1.0f, 0)),
                       doctest::Contains("quantize: output [4,2,2] should be [2,4,2]"), qnn::error);
  Tensor d2(DType::f32, Shape{16});
  CHECK_THROWS_WITH_AS(ref::dequantize_linear(cview<std::int8_t>(y), d2.view<float>(), PerTensor<std::int8_t>(1.0f, 0)),
                       doctest::Contains("dequantize: output [16] should be [2,4,2]"), qnn::error);
  const PerChannel<std::int8_t> axis3(3, {1.0f, 1.0f});
  CHECK_THROWS_WITH_AS(ref::quantize_linear(cview<float>(x), y.view<std::int8_t>(), axis3),
                       doctest::Contains("axis 3 is out of range for rank 3"), qnn::error);
  CHECK_THROWS_WITH_AS(PerChannel<std::int8_t>(0, {1.0f, 1.0f}, {0}), doctest::Contains("2 scales but 1 zero points"),
                       qnn::error);
  CHECK_THROWS_WITH_AS(PerTensor<std::uint8_t>(1.0f, 256), doctest::Contains("zero point 256 is outside the uint8 range"),
                       qnn::error);
  Tensor b(DType::bf16, Shape{16});
  CHECK_THROWS_WITH_AS(ref::to_bf16(cview<float>(x), b.view<bf16>()), doctest::Contains("element-wise output [16] should be [2,4,2]"),
                       qnn::error);
}

}  // namespace
