// Tests of the reference quantized element-wise Add and Mul, Requantize (kernels/ref/eltwise.hpp)
// and Concat (kernels/ref/concat.hpp), with NumPy broadcasting (kernels/ref/broadcast.hpp).
#include <doctest/doctest.h>

#include <array>
#include <cstdint>
#include <limits>
#include <span>
#include <type_traits>
#include <vector>

#include "kernel_test_util.hpp"
#include "qnn/kernels/ref/concat.hpp"
#include "qnn/kernels/ref/eltwise.hpp"

namespace {

using namespace qnn;
using namespace qnn_test;
using ref::EltwiseOp;
using ref::EltwiseQuant;

template <class T>
std::vector<T> plus(const std::vector<int>& v, std::int32_t zp) {
  std::vector<T> out;
  for (int x : v) out.push_back(static_cast<T>(x + zp));
  return out;
}

template <class T>
EltwiseQuant equant(float s_a, float s_b, float s_c, std::int32_t za, std::int32_t zb, std::int32_t zc) {
  return {s_a, s_b, s_c, za, zb, zc, storage_range<T>()};
}

template <class T>
std::vector<T> run_eltwise(RequantPolicy p, EltwiseOp op, const Tensor& a, const Tensor& b, const EltwiseQuant& q) {
  return visit_policy(p, [&](auto policy) {
    using P = decltype(policy);
    const auto params = ref::EltwiseParams<P>::template make<T>(op, q);
    Tensor y(dtype_of_v<T>, ref::broadcast_shape(a.shape(), b.shape()));
    ref::eltwise(cview<T>(a), cview<T>(b), y.view<T>(), params);
    return values<T>(y);
  });
}

// ================================================================================================
// Add / Mul
// ================================================================================================

// Add, a [2,4] + b [4] (b broadcast over rows). s_a = 1, s_b = 0.25, s_c = 0.5, so the real sum in
// output units is f = 2·(a − za) + 0.5·(b − zb).
//   a − za = [2 −2 9 −2; 0 126 −129 4],  b − zb = [5 0 3 5]
//   f = [6.5 −4 19.5 −1.5; 2.5 252 −256.5 10.5]; the output range minus zc is [−133, 122] for both
//   types (int8 zc = 5, uint8 zc = 133, both odd), so 252 and −256.5 saturate.
//   onnx_float (ORT's qladd: fma(a, ra, fma(b, rb, zc − fma(ra, za, rb·zb))), all exact here, then
//     rne with the zero point already added): f + zc with zc odd rounds ties to even, i.e. f's ties
//     go to the odd neighbour: 6.5 → 7, 19.5 → 19, −1.5 → −1, 2.5 → 3, 10.5 → 11
//                                                [7 −4 19 −1; 3 122 −133 11]
//   tflite_double: every intermediate is exact (a' = da·2^20, ·0.5; b' = db·2^20, ·0.125; sum, ·2^−18),
//     and the final RDBPOT rounds ties away      [7 −4 20 −2; 3 122 −133 11]
//   tflite_single: the same, ties up             [7 −4 20 −1; 3 122 −133 11]
//   npu_pow2: p = max(0, 2) = 2: 4·da + db, then rhu(·/2^(2−1))   same as single
TEST_CASE_TEMPLATE("eltwise hand: Add with broadcasting, ties and saturation, every policy", T, std::int8_t, std::uint8_t) {
  const bool s = std::is_signed_v<T>;
  const std::int32_t za = s ? 1 : 129, zb = s ? -2 : 126, zc = s ? 5 : 133;
  CAPTURE(za);
  const Tensor a = make(Shape{2, 4}, plus<T>({2, -2, 9, -2, 0, 126, -129, 4}, za));
  const Tensor b = make(Shape{4}, plus<T>({5, 0, 3, 5}, zb));
  const auto q = equant<T>(1.0f, 0.25f, 0.5f, za, zb, zc);
  const std::vector<std::vector<int>> expect{{7, -4, 19, -1, 3, 122, -133, 11},
                                             {7, -4, 20, -2, 3, 122, -133, 11},
                                             {7, -4, 20, -1, 3, 122, -133, 11},
                                             {7, -4, 20, -1, 3, 122, -133, 11}};
  for (RequantPolicy p : kAllPolicies) {
    CAPTURE(p);
    check_vec(run_eltwise<T>(p, EltwiseOp::add, a, b, q), plus<T>(expect[policy_index(p)], zc));
    // Add commutes (with the scales and zero points swapped along).
    const auto swapped = equant<T>(0.25f, 1.0f, 0.5f, zb, za, zc);
    check_vec(run_eltwise<T>(p, EltwiseOp::add, b, a, swapped), plus<T>(expect[policy_index(p)], zc), "b + a");
  }
}

// Mul, a [2,3] · b [1]. s_a = s_b = 0.5, s_c = 1 → m = 0.25; b − zb = 2.
//   (a − za)(b − zb) = [10 −10 6 −6 120 −256] → ·0.25 = f = [2.5 −2.5 1.5 −1.5 30 −64]; the output
//   range minus zc is [−229, 26] (int8 zc = 101, uint8 zc = 229), so 30 saturates to 26.
//   onnx_float (ORT's qlmul: rne(fl(f) + zc), the odd zero point added before rounding):
//     102.5 + 1 → 104 (rel 3), 98.5 → 98 (rel −3), 102.5 → 102 (rel 1), 99.5 → 100 (rel −1)
//                        [3 −3 1 −1 26 −64]
//   tflite_double: M = 2^30, e = −1; SRDHM halves exactly, RDBPOT ties away   [3 −3 2 −2 26 −64]
//   tflite_single and npu_pow2 (shift 1 + 1 − 0 = 2), ties up                 [3 −2 2 −1 26 −64]
TEST_CASE_TEMPLATE("eltwise hand: Mul with broadcasting, ties and saturation, every policy", T, std::int8_t, std::uint8_t) {
  const bool s = std::is_signed_v<T>;
  const std::int32_t za = s ? 0 : 128, zb = s ? 1 : 129, zc = s ? 101 : 229;
  const Tensor a = make(Shape{2, 3}, plus<T>({5, -5, 3, -3, 60, -128}, za));
  const Tensor b = make(Shape{1}, plus<T>({2}, zb));
  const auto q = equant<T>(0.5f, 0.5f, 1.0f, za, zb, zc);
  const std::vector<std::vector<int>> expect{
      {3, -3, 1, -1, 26, -64}, {3, -3, 2, -2, 26, -64}, {3, -2, 2, -1, 26, -64}, {3, -2, 2, -1, 26, -64}};
  for (RequantPolicy p : kAllPolicies) {
    CAPTURE(p);
    check_vec(run_eltwise<T>(p, EltwiseOp::mul, a, b, q), plus<T>(expect[policy_index(p)], zc));
  }
}

// A fused ReLU narrows the output range: the Add above under onnx_float with range [zc, max].
TEST_CASE("eltwise hand: Add with a fused ReLU range") {
  const Tensor a = make(Shape{2, 4}, plus<std::int8_t>({2, -2, 9, -2, 0, 126, -129, 4}, 1));
  const Tensor b = make(Shape{4}, plus<std::int8_t>({5, 0, 3, 5}, -2));
  EltwiseQuant q = equant<std::int8_t>(1.0f, 0.25f, 0.5f, 1, -2, 5);
  q.range = output_range<std::int8_t>(ActivationClamp::relu(), 0.5f, 5);
  CHECK(q.range.lo == 5);
  // onnx_float as above ([7 −4 19 −1; 3 122 −133 11]), now clamped below at zc.
  check_vec(run_eltwise<std::int8_t>(RequantPolicy::onnx_float, EltwiseOp::add, a, b, q),
            plus<std::int8_t>({7, 0, 19, 0, 3, 122, 0, 11}, 5));
}

// Broadcasting both ways: a [2,1,3] and b [4,1] → [2,4,3]; unit scales so y = (a − za) + (b − zb) + zc.
TEST_CASE("eltwise hand: Add broadcasts both operands") {
  const Tensor a = make<std::int8_t>(Shape{2, 1, 3}, {1, 2, 3, 10, 20, 30});
  const Tensor b = make<std::int8_t>(Shape{4, 1}, {0, 100, -50, 7});
  const auto got = run_eltwise<std::int8_t>(RequantPolicy::onnx_float, EltwiseOp::add, a, b,
                                            equant<std::int8_t>(1.0f, 1.0f, 1.0f, 0, 0, -1));
  REQUIRE(got.size() == 24);
  // y[i,j,k] = a[i,0,k] + b[j,0] − 1, e.g. y[1,1,2] = 30 + 100 − 1 = 129 → 127; y[0,2,0] = 1 − 50 − 1 = −50
  CHECK(got[(1 * 4 + 1) * 3 + 2] == 127);
  CHECK(got[(0 * 4 + 2) * 3 + 0] == -50);
  const std::vector<int> av{1, 2, 3, 10, 20, 30}, bv{0, 100, -50, 7};
  std::vector<int> want;
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 4; ++j)
      for (int k = 0; k < 3; ++k)
        want.push_back(std::clamp(av[static_cast<std::size_t>(i * 3 + k)] + bv[static_cast<std::size_t>(j)] - 1, -128, 127));
  check_vec(got, want);
}

// 16-bit Add and Mul. TFLite shifts 16-bit Add inputs left by 15 (not 20).
//   Add: s_a = s_b = 1, s_c = 2 → (a + b)/2 with zero points 0: 3 + 4 = 7 → 3.5;  −3 − 4 → −3.5;
//        30000 + 30000 → 30000;  −32768 − 32768 → −32768
//     onnx_float [4 −4 30000 −32768] (rne: 3.5 → 4, −3.5 → −4)
//     tflite_double [4 −4 30000 −32768] (ties away);  tflite_single, npu_pow2 [4 −3 30000 −32768] (ties up)
//   Mul, s_a = s_b = 1, s_c = 2^20, zero points 0: (−32768)² = 2^30 → 1024 under every policy.
//   Mul with extreme zero points: za = zb = −32768, a = b = 32767 → (a − za)(b − zb) = 65535² =
//     4 294 836 225 → 4095.875 → 4096 under onnx_float and npu_pow2 (int64 products); the TFLite
//     recipe multiplies an int32 product, which this one exceeds, so those layers are rejected.
TEST_CASE("eltwise hand: int16 Add and Mul") {
  using S16 = std::int16_t;
  const Tensor a = make<S16>(Shape{4}, {3, -3, 30000, -32768});
  const Tensor b = make<S16>(Shape{4}, {4, -4, 30000, -32768});
  const std::vector<std::vector<int>> expect{
      {4, -4, 30000, -32768}, {4, -4, 30000, -32768}, {4, -3, 30000, -32768}, {4, -3, 30000, -32768}};
  for (RequantPolicy p : kAllPolicies) {
    CAPTURE(p);
    check_vec(run_eltwise<S16>(p, EltwiseOp::add, a, b, equant<S16>(1.0f, 1.0f, 2.0f, 0, 0, 0)), expect[policy_index(p)],
              "add");
  }
  const Tensor lo = make<S16>(Shape{1}, {-32768});
  const Tensor m = make<S16>(Shape{1}, {32767});
  for (RequantPolicy p : kAllPolicies) {
    CAPTURE(p);
    check_vec(run_eltwise<S16>(p, EltwiseOp::mul, lo, lo, equant<S16>(1.0f, 1.0f, 1048576.0f, 0, 0, 0)),
              std::vector<int>{1024}, "mul, zero points 0");
    const auto q = equant<S16>(1.0f, 1.0f, 1048576.0f, -32768, -32768, 0);
    if (p == RequantPolicy::tflite_double_round || p == RequantPolicy::tflite_single_round)
      CHECK_THROWS_WITH_AS(run_eltwise<S16>(p, EltwiseOp::mul, m, m, q),
                           doctest::Contains("tflite mul: (a - za)(b - zb) can reach 4294836225, beyond the int32"),
                           qnn::error);
    else
      check_vec(run_eltwise<S16>(p, EltwiseOp::mul, m, m, q), std::vector<int>{4096}, "mul, product beyond int32");
  }
}

TEST_CASE("eltwise errors: broadcasting, output shape, zero points, scales") {
  using S8 = std::int8_t;
  const Tensor a = make<S8>(Shape{2, 3}, {1, 2, 3, 4, 5, 6});
  const Tensor b = make<S8>(Shape{4}, {1, 2, 3, 4});
  const auto q = equant<S8>(1.0f, 1.0f, 1.0f, 0, 0, 0);
  CHECK_THROWS_WITH_AS(run_eltwise<S8>(RequantPolicy::onnx_float, EltwiseOp::add, a, b, q),
                       doctest::Contains("shapes [2,3] and [4] do not broadcast"), qnn::error);
  Tensor y(DType::i8, Shape{3, 2});
  CHECK_THROWS_WITH_AS(ref::eltwise(cview<S8>(a), cview<S8>(a), y.view<S8>(), ref::EltwiseParams<OnnxFloat>::make<S8>(EltwiseOp::add, q)),
                       doctest::Contains("element-wise output [3,2] should be [2,3]"), qnn::error);
  CHECK_THROWS_WITH_AS(ref::EltwiseParams<OnnxFloat>::make<S8>(EltwiseOp::add, equant<S8>(1, 1, 1, 0, 200, 0)),
                       doctest::Contains("zero point 200 is outside the int8 range"), qnn::error);
  CHECK_THROWS_WITH_AS(ref::EltwiseParams<OnnxFloat>::make<std::uint8_t>(EltwiseOp::mul, equant<std::uint8_t>(1, 1, 1, 0, 0, -1)),
                       doctest::Contains("zero point -1 is outside the uint8 range"), qnn::error);
  CHECK_THROWS_WITH_AS(ref::EltwiseParams<NpuPow2>::make<S8>(EltwiseOp::add, equant<S8>(0.3f, 1, 1, 0, 0, 0)),
                       doctest::Contains("scale 0.3 is not a power of two"), qnn::error);
  CHECK_THROWS_WITH_AS(ref::EltwiseParams<NpuPow2>::make<S8>(EltwiseOp::mul, equant<S8>(1, 1, 0.75f, 0, 0, 0)),
                       doctest::Contains("scale 0.75 is not a power of two"), qnn::error);
  CHECK_THROWS_WITH_AS(ref::EltwiseParams<NpuPow2>::make<S8>(EltwiseOp::add, equant<S8>(1, 0x1p-25f, 1, 0, 0, 0)),
                       doctest::Contains("npu add: input positions 0 and 25 differ by more than 24"), qnn::error);
}

// Random Add/Mul: every policy within 1 of the exact real result (power-of-two scales in half the
// cases, so npu_pow2 runs too), and onnx_float equal to ONNX Runtime's fp32 recipe as eltwise.hpp
// states it: Add = rne(fma(a, ra, fma(b, rb, zc − fma(ra, za, rb·zb)))) with the operands' roles
// swapped when ORT's broadcaster sees A as a scalar (here: both shapes [1]); Mul = rne(fl(p·m) + zc).
TEST_CASE_TEMPLATE("eltwise property: random Add/Mul vs the real result", T, std::int8_t, std::uint8_t) {
  Rng rng(std::is_signed_v<T> ? 99u : 100u);
  int outputs = 0, exact = 0;
  for (int i = 0; i < 200; ++i) {
    const EltwiseOp op = rand_int(rng, 0, 1) ? EltwiseOp::mul : EltwiseOp::add;
    const bool pow2 = rand_int(rng, 0, 1) == 1;
    auto scale = [&](float lo, float hi, int plo, int phi) {
      return pow2 ? std::ldexp(1.0f, -rand_int(rng, plo, phi)) : rand_float(rng, lo, hi);
    };
    const float s_a = scale(0.01f, 0.1f, 4, 7), s_b = scale(0.01f, 0.1f, 4, 7);
    const float s_c = op == EltwiseOp::add ? scale(0.02f, 0.2f, 3, 6) : scale(0.5f, 2.0f, -1, 1);
    const std::int32_t za = random_zero_point<T>(rng);
    const std::int32_t zb = random_zero_point<T>(rng);
    const std::int32_t zc = random_zero_point<T>(rng);
    const EltwiseQuant q = equant<T>(s_a, s_b, s_c, za, zb, zc);
    const std::int64_t n = rand_int(rng, 1, 40);
    const Tensor a = make(Shape{n}, random_ints<T>(rng, static_cast<std::size_t>(n)));
    const Tensor b = make(Shape{n}, random_ints<T>(rng, static_cast<std::size_t>(n)));
    INFO("case " << i << (op == EltwiseOp::add ? " add" : " mul") << " s_a " << s_a << " s_b " << s_b << " s_c " << s_c
                 << " za " << q.za << " zb " << q.zb << " zc " << q.zc);
    const auto av = values<T>(a), bv = values<T>(b);
    for (RequantPolicy p : kAllPolicies) {
      if (p == RequantPolicy::npu_pow2 && !pow2) continue;
      CAPTURE(p);
      const auto got = run_eltwise<T>(p, op, a, b, q);
      for (std::size_t j = 0; j < got.size(); ++j) {
        const double da = av[j] - q.za, db = bv[j] - q.zb;
        const double r = op == EltwiseOp::add ? (double{s_a} * da + double{s_b} * db) / s_c : double{s_a} * s_b * da * db / s_c;
        const std::int32_t real = real_requant(r, q.zc, q.range.lo, q.range.hi);
        INFO("element " << j << " a " << int(av[j]) << " b " << int(bv[j]) << " r " << r);
        CHECK(std::abs(got[j] - real) <= 1);
        if (p == RequantPolicy::onnx_float) {
          const float ra = s_a / s_c, rb = s_b / s_c, m = (s_a * s_b) / s_c;
          const auto fa = static_cast<float>(av[j]), fb = static_cast<float>(bv[j]);
          const auto fza = static_cast<float>(q.za), fzb = static_cast<float>(q.zb), fzc = static_cast<float>(q.zc);
          float f = 0;
          if (op == EltwiseOp::mul)
            f = static_cast<float>(da * db) * m + fzc;
          else if (n == 1)  // ORT swaps the operands
            f = std::fma(fb, rb, std::fma(fa, ra, fzc - std::fma(rb, fzb, ra * fza)));
          else
            f = std::fma(fa, ra, std::fma(fb, rb, fzc - std::fma(ra, fza, rb * fzb)));
          const int want = std::clamp(static_cast<int>(std::nearbyint(f)), q.range.lo, q.range.hi);
          CHECK(static_cast<int>(got[j]) == want);
          // With power-of-two scales exact ties are common, and ORT adds zc before rounding them;
          // with random float scales ties are rare and almost every result is the real one rounded.
          if (!pow2) {
            ++outputs;
            exact += got[j] == real ? 1 : 0;
          }
        }
      }
    }
  }
  CHECK(outputs > 1000);
  CHECK(exact >= outputs * 99 / 100);
}

// ================================================================================================
// Requantize
// ================================================================================================

// int32 → int8, s_x = 2^−6, s_y = 2^−2 → ratio 1/16:
//   1000/16 = 62.5, −62.5, 250/16 = 15.625, −15.625, ±100000/16 = ±6250 (saturates)
//   onnx_float [62 −62 16 −16 127 −128]; tflite_double [63 −63 16 −16 127 −128] (SRDHM halves
//   exactly, RDBPOT(500, 3) ties away); tflite_single, npu_pow2 [63 −62 16 −16 127 −128] (ties up)
TEST_CASE("eltwise hand: requantize int32 to int8, every policy") {
  const Tensor x = make<std::int32_t>(Shape{2, 3}, {1000, -1000, 250, -250, 100000, -100000});
  const std::vector<std::vector<int>> expect{{62, -62, 16, -16, 127, -128},
                                             {63, -63, 16, -16, 127, -128},
                                             {63, -62, 16, -16, 127, -128},
                                             {63, -62, 16, -16, 127, -128}};
  for (RequantPolicy p : kAllPolicies) {
    CAPTURE(p);
    visit_policy(p, [&](auto policy) {
      using P = decltype(policy);
      Tensor y(DType::i8, Shape{2, 3});
      ref::requantize(cview<std::int32_t>(x), 0, y.view<std::int8_t>(), make_rescale_stage<P, std::int8_t>(0x1p-6f, 0.25f, 0));
      check_vec(values<std::int8_t>(y), expect[policy_index(p)]);
    });
  }
}

// int8 → uint8 with an input zero point: (x − (−1))·(0.5/0.25) + 128:
//   −128 → −254 → clamps to 0;  0 → 130;  127 → 384 → clamps to 255;  −2 → 126
TEST_CASE("eltwise hand: requantize int8 to uint8 with zero points") {
  const Tensor x = make<std::int8_t>(Shape{4}, {-128, 0, 127, -2});
  Tensor y(DType::u8, Shape{4});
  ref::requantize(cview<std::int8_t>(x), -1, y.view<std::uint8_t>(), make_rescale_stage<OnnxFloat, std::uint8_t>(0.5f, 0.25f, 128));
  check_vec(values<std::uint8_t>(y), std::vector<int>{0, 130, 255, 126});
}

TEST_CASE("eltwise errors: requantize") {
  const Tensor x = make<std::int32_t>(Shape{2}, {1, 2});
  Tensor y(DType::i8, Shape{2});
  const auto stage = make_rescale_stage<OnnxFloat, std::int8_t>(1.0f, 1.0f, 0);
  CHECK_THROWS_WITH_AS(ref::requantize(cview<std::int32_t>(x), 1, y.view<std::int8_t>(), stage),
                       doctest::Contains("requantize: an int32 input has zero point 0, got 1"), qnn::error);
  const std::array<float, 2> two{1.0f, 2.0f};
  const auto two_stage = make_output_stage<OnnxFloat, std::int8_t>(1.0f, two, 1.0f, 0);
  CHECK_THROWS_WITH_AS(ref::requantize(cview<std::int32_t>(x), 0, y.view<std::int8_t>(), two_stage),
                       doctest::Contains("requantize: expected one factor, got 2"), qnn::error);
  Tensor y3(DType::i8, Shape{3});
  CHECK_THROWS_WITH_AS(ref::requantize(cview<std::int32_t>(x), 0, y3.view<std::int8_t>(), stage),
                       doctest::Contains("element-wise output [3] should be [2]"), qnn::error);
  CHECK_THROWS_WITH_AS((make_rescale_stage<OnnxFloat, std::int8_t>(1.0f, 1.0f, 128)),
                       doctest::Contains("zero point 128 is outside the int8 range"), qnn::error);
}

// ================================================================================================
// Concat
// ================================================================================================

// Output s = 0.5, zp = 3. Input 0 [1,2] has the output's quantization: copied bit for bit (−128 and
// 127 included). Input 1 [1,3] has s = 0.25, zp = −1: y = stage(x + 1) with ratio 0.5:
//   x = [−1 4 126] → d = [0 5 127] → [0 2.5 63.5]
//   onnx_float → [0 2 64] + 3 = [3 5 67];  tflite (SRDHM at e = 0 rounds half up) and npu (rhu) →
//   [0 3 64] + 3 = [3 6 67]
TEST_CASE("eltwise hand: quantized concat copies shared quantization, requantizes the rest") {
  const Tensor x0 = make<std::int8_t>(Shape{1, 2}, {-128, 127});
  const Tensor x1 = make<std::int8_t>(Shape{1, 3}, {-1, 4, 126});
  const std::array<TensorView<const std::int8_t>, 2> xs{cview<std::int8_t>(x0), cview<std::int8_t>(x1)};
  const std::array<ref::ConcatInputQuant, 2> xq{ref::ConcatInputQuant{0.5f, 3}, ref::ConcatInputQuant{0.25f, -1}};
  const std::vector<std::vector<int>> expect{
      {-128, 127, 3, 5, 67}, {-128, 127, 3, 6, 67}, {-128, 127, 3, 6, 67}, {-128, 127, 3, 6, 67}};
  for (RequantPolicy p : kAllPolicies) {
    CAPTURE(p);
    visit_policy(p, [&](auto policy) {
      using P = decltype(policy);
      Tensor y(DType::i8, Shape{1, 5});
      ref::concat_quantized<std::int8_t, P>(xs, xq, 1, y.view<std::int8_t>(), 0.5f, 3);
      check_vec(values<std::int8_t>(y), expect[policy_index(p)]);
    });
  }
}

// Plain concat along a middle axis (and the same axis counted from the end), into an NHWC-like
// strided output: [2,1,2] and [2,2,2] along axis 1 → [2,3,2].
TEST_CASE("eltwise hand: concat along a middle axis") {
  const Tensor a = make<float>(Shape{2, 1, 2}, {1, 2, 3, 4});
  const Tensor b = make<float>(Shape{2, 2, 2}, {10, 11, 12, 13, 14, 15, 16, 17});
  const std::array<TensorView<const float>, 2> xs{cview<float>(a), cview<float>(b)};
  for (int axis : {1, -2}) {
    CAPTURE(axis);
    Tensor y(DType::f32, Shape{2, 3, 2});
    ref::concat<float>(xs, axis, y.view<float>());
    check_vec(values<float>(y), std::vector<float>{1, 2, 10, 11, 12, 13, 3, 4, 14, 15, 16, 17});
  }
  // Into a transposed (strided) output view: storage [2,2,3] seen as [2,3,2].
  std::vector<float> storage(12);
  static constexpr std::array<int, 3> kSwap{0, 2, 1};
  const auto yv = TensorView<float>(storage.data(), Shape{2, 2, 3}).permuted(kSwap);
  ref::concat<float>(xs, 1, yv);
  check_vec(values(yv), std::vector<float>{1, 2, 10, 11, 12, 13, 3, 4, 14, 15, 16, 17});
  check_vec(storage, std::vector<float>{1, 10, 12, 2, 11, 13, 3, 14, 16, 4, 15, 17}, "storage");
}

TEST_CASE("eltwise errors: concat") {
  const Tensor a = make<float>(Shape{2, 1, 2}, {1, 2, 3, 4});
  const Tensor c = make<float>(Shape{3, 1, 2}, {1, 2, 3, 4, 5, 6});
  const Tensor r = make<float>(Shape{2, 2}, {1, 2, 3, 4});
  Tensor y(DType::f32, Shape{2, 2, 2});
  const std::array<TensorView<const float>, 2> off{cview<float>(a), cview<float>(c)};
  CHECK_THROWS_WITH_AS(ref::concat<float>(off, 1, y.view<float>()), doctest::Contains("differ off axis 1"), qnn::error);
  const std::array<TensorView<const float>, 2> ranks{cview<float>(a), cview<float>(r)};
  CHECK_THROWS_WITH_AS(ref::concat<float>(ranks, 1, y.view<float>()), doctest::Contains("concat inputs of ranks 3 and 2"),
                       qnn::error);
  const std::array<TensorView<const float>, 2> ok{cview<float>(a), cview<float>(a)};
  Tensor y3(DType::f32, Shape{2, 3, 2});
  CHECK_THROWS_WITH_AS(ref::concat<float>(ok, 1, y3.view<float>()), doctest::Contains("concat output [2,3,2] is wrong"),
                       qnn::error);
  CHECK_THROWS_WITH_AS(ref::concat<float>(ok, 3, y.view<float>()), doctest::Contains("axis 3 is out of range for rank 3"),
                       qnn::error);
  CHECK_THROWS_WITH_AS(ref::concat<float>(std::span<const TensorView<const float>>{}, 0, y.view<float>()),
                       doctest::Contains("concat needs at least one input"), qnn::error);
  const Tensor q = make<std::int8_t>(Shape{2}, {1, 2});
  const std::array<TensorView<const std::int8_t>, 1> qs{cview<std::int8_t>(q)};
  const std::array<ref::ConcatInputQuant, 2> two{};
  Tensor yq(DType::i8, Shape{2});
  CHECK_THROWS_WITH_AS((ref::concat_quantized<std::int8_t, OnnxFloat>(qs, two, 0, yq.view<std::int8_t>(), 1.0f, 0)),
                       doctest::Contains("concat: 1 inputs but 2 quantizations"), qnn::error);
}

}  // namespace
