// Tests of the reference GEMM and batched MatMul (kernels/ref/gemm.hpp) through their entry points
// (kernels/gemm.hpp): QuantizedGemm under every policy with trans_a/trans_b, per-channel weights
// along N and bias; A16W8; ref::matmul with broadcast batch axes; quantized_matmul of two
// activations; FloatGemm<float> and FloatGemm<bf16>.
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
#include "qnn/kernels/gemm.hpp"

namespace {

using namespace qnn;
using namespace qnn_test;

template <class T, class Q>
QView<const T, Q> qv(const Tensor& t, const Q& q) {
  return {t.view<T>(), q};
}

template <class T>
std::vector<T> plus(const std::vector<int>& v, std::int32_t zp) {
  std::vector<T> out;
  for (int x : v) out.push_back(static_cast<T>(x + zp));
  return out;
}

// A stored [M,K], or [K,M] when trans_a; B stored [K,N], or [N,K] when trans_b.
template <class TIn, class TW, class TOut, class XQ, class WQ, class YQ>
std::vector<TOut> run_gemm(const std::vector<TIn>& a, const std::vector<TW>& b, std::int64_t M, std::int64_t N,
                           std::int64_t K, const XQ& xq, const WQ& wq, const std::vector<std::int32_t>& bias,
                           const YQ& yq, GemmOptions opt) {
  const Tensor at = opt.trans_a ? make(Shape{K, M}, transpose(a, M, K)) : make(Shape{M, K}, a);
  const Tensor bt = opt.trans_b ? make(Shape{N, K}, transpose(b, K, N)) : make(Shape{K, N}, b);
  const QuantizedGemm<TIn, TW, TOut> g(xq, qv<TW>(bt, wq), bias, yq, opt);
  CHECK(g.k() == K);
  CHECK(g.n() == N);
  Tensor c(dtype_of_v<TOut>, Shape{M, N});
  g.run(cview<TIn>(at), c.view<TOut>());
  return values<TOut>(c);
}

// ================================================================================================
// Hand-derived cases
// ================================================================================================

// A (M=2, K=3) − za = [2 0 −3; 4 −4 3]; B (K=3, N=2) = [1 4; −2 0; 3 −1], symmetric per-channel
// along N with scales {0.5, 0.25}; bias {3, 0}; s_a = 0.5, s_y = 0.25 → m = {1, 0.5}.
//   C[0,0] = 2 − 9 = −7 (+3 = −4)      C[0,1] = 8 + 3 = 11
//   C[1,0] = 4 + 8 + 9 = 21 (+3 = 24)  C[1,1] = 16 − 3 = 13
//   column 0 ·1: −4, 24.  column 1 ·0.5: 5.5, 6.5 → onnx_float (rne) 6, 6;
//   tflite_double (SRDHM rounds half up at e = 0) 6, 7; tflite_single and npu_pow2 (half up) 6, 7.
TEST_CASE_TEMPLATE("gemm hand: trans_a/trans_b, per-channel along N, bias, every policy", T, std::uint8_t, std::int8_t) {
  const std::int32_t za = std::is_signed_v<T> ? -3 : 5;
  const std::int32_t zy = std::is_signed_v<T> ? 0 : 128;
  CAPTURE(za);
  const auto a = plus<T>({2, 0, -3, 4, -4, 3}, za);
  const std::vector<std::int8_t> b{1, 4, -2, 0, 3, -1};
  const PerTensor<T> aq(0.5f, za), yq(0.25f, zy);
  const std::vector<std::int32_t> bias{3, 0};
  const std::vector<std::vector<int>> expect{{-4, 6, 24, 6}, {-4, 6, 24, 7}, {-4, 6, 24, 7}, {-4, 6, 24, 7}};
  for (RequantPolicy p : kAllPolicies)
    for (bool ta : {false, true})
      for (bool tb : {false, true})
        for (bool reference : {true, false}) {  // the scalar reference, and run()'s default fast path
        CAPTURE(p);
        CAPTURE(ta);
        CAPTURE(tb);
        CAPTURE(reference);
        GemmOptions opt;
        opt.policy = p;
        opt.reference = reference;
        opt.trans_a = ta;
        opt.trans_b = tb;
        // Per-channel weights run along N: axis 1 of [K,N], axis 0 of [N,K].
        const PerChannel<std::int8_t, float, Symmetry::symmetric> wq(tb ? 0 : 1, {0.5f, 0.25f});
        check_vec(run_gemm<T, std::int8_t, T>(a, b, 2, 2, 3, aq, wq, bias, yq, opt), plus<T>(expect[policy_index(p)], zy));
      }
}

// Fused ReLU and Clip narrow the output range (docs/numerics.md §4.6): the same layer as above under
// onnx_float, outputs real = 0.25·[−4 6 24 6] = [−1 1.5 6 1.5]:
//   ReLU → [0 6 24 6];  Clip(−0.6, 5) → lo = rne(−2.4) = −2, hi = rne(20) = 20 → [−2 6 20 6]
TEST_CASE("gemm hand: fused ReLU and Clip") {
  const auto a = plus<std::int8_t>({2, 0, -3, 4, -4, 3}, 0);
  const std::vector<std::int8_t> b{1, 4, -2, 0, 3, -1};
  const PerTensor<std::int8_t> aq(0.5f, 0), yq(0.25f, -10);
  const PerChannel<std::int8_t, float, Symmetry::symmetric> wq(1, {0.5f, 0.25f});
  for (bool reference : {true, false}) {
    CAPTURE(reference);
    GemmOptions opt;
    opt.reference = reference;
    opt.activation = ActivationClamp::relu();
    check_vec(run_gemm<std::int8_t, std::int8_t, std::int8_t>(a, b, 2, 2, 3, aq, wq, {3, 0}, yq, opt),
              plus<std::int8_t>({0, 6, 24, 6}, -10));
    opt.activation = ActivationClamp::clip(-0.6f, 5.0f);
    check_vec(run_gemm<std::int8_t, std::int8_t, std::int8_t>(a, b, 2, 2, 3, aq, wq, {3, 0}, yq, opt),
              plus<std::int8_t>({-2, 6, 20, 6}, -10));
  }
}

// A16W8 GEMM: K = 600, A row 0 all 32767, row 1 all −32768; B column 0 all 127, column 1 all
// −128; s_y = 2^20. The accumulators (±2.5e9) need int64; results as in the conv case:
//   [2381 −2400; −2381 2400] under every policy.
TEST_CASE("gemm hand: A16W8 with accumulators beyond int32") {
  const std::int64_t K = 600;
  std::vector<std::int16_t> a(static_cast<std::size_t>(2 * K), 32767);
  std::fill(a.begin() + K, a.end(), std::int16_t{-32768});
  std::vector<std::int8_t> b;
  for (std::int64_t k = 0; k < K; ++k) b.insert(b.end(), {127, -128});
  const PerTensor<std::int16_t> aq(1.0f, 0), yq(1048576.0f, 0);
  const PerTensor<std::int8_t, float, Symmetry::symmetric> wq(1.0f);
  for (RequantPolicy p : kAllPolicies)
    for (bool tb : {false, true}) {
      CAPTURE(p);
      CAPTURE(tb);
      GemmOptions opt;
      opt.policy = p;
      opt.trans_b = tb;
      check_vec(run_gemm<std::int16_t, std::int8_t, std::int16_t>(a, b, 2, 2, K, aq, wq, {}, yq, opt),
                std::vector<int>{2381, -2400, -2381, 2400});
    }
}

// ref::matmul broadcasts batch axes: a [2,1,3,4] × b [5,4,2] → [2,5,3,2], out[i,j] = a[i,0] · b[j].
// a[i,0,r,k] = (12i + 4r + k) mod 7 − 3, b[j,k,c] = (8j + 2k + c) mod 5 − 2.
//   out[1,3,2,1]: a row (20+k) mod 7 − 3 = [3 −3 −2 −1], b column (25+2k) mod 5 − 2 = [−2 0 2 −1]
//                 → −6 + 0 − 4 + 1 = −9
//   out[0,4,0,0]: a row [−3 −2 −1 0], b column (32+2k) mod 5 − 2 = [0 2 −1 1] → −4 + 1 = −3
TEST_CASE("gemm hand: ref::matmul with broadcast batch axes, integer and float") {
  std::vector<std::int8_t> a, b;
  for (int i = 0; i < 2; ++i)
    for (int r = 0; r < 3; ++r)
      for (int k = 0; k < 4; ++k) a.push_back(static_cast<std::int8_t>((12 * i + 4 * r + k) % 7 - 3));
  for (int j = 0; j < 5; ++j)
    for (int k = 0; k < 4; ++k)
      for (int c = 0; c < 2; ++c) b.push_back(static_cast<std::int8_t>((8 * j + 2 * k + c) % 5 - 2));
  const Tensor at = make(Shape{2, 1, 3, 4}, a);
  const Tensor bt = make(Shape{5, 4, 2}, b);
  CHECK(ref::matmul_output_shape(at.shape(), bt.shape()) == Shape{2, 5, 3, 2});
  const std::vector<std::int32_t> zw{0};
  const ref::IntegerArith<std::int8_t> arith(ref::worst_case_bound<std::int8_t, std::int8_t>(4, 0, 0), 0, zw);
  Tensor c(DType::i32, Shape{2, 5, 3, 2});
  ref::matmul(cview<std::int8_t>(at), cview<std::int8_t>(bt), c.view<std::int32_t>(), arith);
  const auto cv = c.view<std::int32_t>();
  CHECK(cv(1, 3, 2, 1) == -9);
  CHECK(cv(0, 4, 0, 0) == -3);
  // Every element against a naive loop over the broadcast indices.
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 5; ++j)
      for (int r = 0; r < 3; ++r)
        for (int col = 0; col < 2; ++col) {
          int want = 0;
          for (int k = 0; k < 4; ++k) want += a[static_cast<std::size_t>((i * 3 + r) * 4 + k)] * b[static_cast<std::size_t>((j * 4 + k) * 2 + col)];
          INFO("out[" << i << "," << j << "," << r << "," << col << "]");
          CHECK(cv(i, j, r, col) == want);
        }
  // The same in fp32 (small integers: exact).
  std::vector<float> af(a.begin(), a.end()), bf(b.begin(), b.end());
  Tensor cf(DType::f32, Shape{2, 5, 3, 2});
  ref::matmul(cview<float>(make(Shape{2, 1, 3, 4}, af)), cview<float>(make(Shape{5, 4, 2}, bf)), cf.view<float>(),
              ref::FloatArith<float>{});
  check_vec(values<float>(cf), values<std::int32_t>(c), "fp32 matmul");
  // Broadcasting the other way round: b [1,4,2] against a [3,2,4] (b's batch of 1 is repeated).
  std::vector<std::int8_t> a3(a.begin(), a.begin() + 24);
  const Tensor a3t = make(Shape{3, 2, 4}, a3);
  const Tensor b1t = make(Shape{1, 4, 2}, std::vector<std::int8_t>(b.begin(), b.begin() + 8));
  Tensor c3(DType::i32, Shape{3, 2, 2});
  ref::matmul(cview<std::int8_t>(a3t), cview<std::int8_t>(b1t), c3.view<std::int32_t>(), arith);
  std::vector<std::int64_t> want3;
  for (int i = 0; i < 3; ++i) {
    const std::vector<std::int8_t> ai(a3.begin() + 8 * i, a3.begin() + 8 * i + 8);
    const auto part = gemm_acc_exact(2, 2, 4, ai, 0, std::vector<std::int8_t>(b.begin(), b.begin() + 8), zw, {});
    want3.insert(want3.end(), part.begin(), part.end());
  }
  check_vec(values<std::int32_t>(c3), want3, "[3,2,4] x [1,4,2]");
}

// quantized_matmul of two activations (QLinearMatMul): A int8 [2,2,2], za = 1; B uint8 [2,2], zb = 128;
// s_a = s_b = 0.5, s_y = 0.125 → m = 2; zy = 3.
//   batch 0: A−za = [0 1; 2 3], B−zb = [2 0; −2 1] → [−2 1; −2 3] → ·2 → [−4 2; −4 6] + 3 → [−1 5; −1 9]
//   batch 1: A−za = [−128 0; 0 0] → [−256 0; 0 0] → −512 saturates → [−128 3; 3 3]
TEST_CASE("gemm hand: quantized_matmul of two activations, every policy") {
  const Tensor a = make<std::int8_t>(Shape{2, 2, 2}, {1, 2, 3, 4, -127, 1, 1, 1});
  const Tensor b = make<std::uint8_t>(Shape{2, 2}, {130, 128, 126, 129});
  const PerTensor<std::int8_t> aq(0.5f, 1), yq(0.125f, 3);
  const PerTensor<std::uint8_t> bq(0.5f, 128);
  for (RequantPolicy p : kAllPolicies) {
    CAPTURE(p);
    Tensor y(DType::i8, Shape{2, 2, 2});
    quantized_matmul(qv<std::int8_t>(a, aq), qv<std::uint8_t>(b, bq),
                     QView<std::int8_t, PerTensor<std::int8_t>>{y.view<std::int8_t>(), yq}, p);
    check_vec(values<std::int8_t>(y), std::vector<int>{-1, 5, -1, 9, -128, 3, 3, 3});
  }
}

// FloatGemm fp32: A = [1 2; 3 4], B = [5 6; 7 8], bias {1, −1} → [20 21; 44 49]; Clip(0, 30) → [20 21; 30 30].
// FloatGemm bf16: A = [1 + 2^−8, 1], B column [3, 1 + 3·2^−8]: bf16 rounds 1 + 2^−8 → 1 and
// 1 + 3·2^−8 → 1 + 2^−6 (ties to even) → 3 + 1.015625 = 4.015625; fp32 gives 4.0234375.
TEST_CASE("gemm hand: FloatGemm<float> and FloatGemm<bf16>") {
  const std::vector<float> a{1, 2, 3, 4}, b{5, 6, 7, 8};
  for (bool ta : {false, true})
    for (bool tb : {false, true})
      for (bool reference : {true, false}) {
      CAPTURE(ta);
      CAPTURE(tb);
      CAPTURE(reference);
      GemmOptions opt;
      opt.reference = reference;
      opt.trans_a = ta;
      opt.trans_b = tb;
      const Tensor at = make(Shape{2, 2}, ta ? transpose(a, 2, 2) : a);
      const Tensor bt = make(Shape{2, 2}, tb ? transpose(b, 2, 2) : b);
      Tensor c(DType::f32, Shape{2, 2});
      FloatGemm<float>(cview<float>(bt), std::vector<float>{1, -1}, opt).run(cview<float>(at), c.view<float>());
      check_vec(values<float>(c), std::vector<float>{20, 21, 44, 49});
      opt.activation = ActivationClamp::clip(0, 30);
      FloatGemm<float>(cview<float>(bt), std::vector<float>{1, -1}, opt).run(cview<float>(at), c.view<float>());
      check_vec(values<float>(c), std::vector<float>{20, 21, 30, 30});
    }
  const float p = 1.0f + 0x1p-8f, q = 1.0f + 3 * 0x1p-8f;
  const Tensor bt = make<float>(Shape{2, 1}, {3.0f, q});
  const Tensor af = make<float>(Shape{1, 2}, {p, 1.0f});
  Tensor ab(DType::bf16, Shape{1, 2});
  ref::to_bf16(cview<float>(af), ab.view<bf16>());
  Tensor c(DType::f32, Shape{1, 1});
  for (bool reference : {true, false}) {
    CAPTURE(reference);
    GemmOptions opt;
    opt.reference = reference;
    FloatGemm<bf16>(cview<float>(bt), {}, opt).run(cview<bf16>(ab), c.view<float>());
    CHECK(values<float>(c)[0] == 4.015625f);
    FloatGemm<float>(cview<float>(bt), {}, opt).run(cview<float>(af), c.view<float>());
    CHECK(values<float>(c)[0] == 4.0234375f);
  }
}

// ================================================================================================
// Errors
// ================================================================================================

TEST_CASE("gemm errors: shapes, weight axis, bias, accumulator bounds") {
  using S8 = std::int8_t;
  using U8 = std::uint8_t;
  const PerTensor<U8> aq(0.5f, 128), yq(0.25f, 128);
  const PerTensor<S8, float, Symmetry::symmetric> wq(0.125f);
  const Tensor b = make<S8>(Shape{3, 2}, {1, 2, 3, 4, 5, 6});

  SUBCASE("K of A differs from K of B") {
    const QuantizedGemm<U8, S8, U8> g(aq, qv<S8>(b, wq), {}, yq, GemmOptions{});
    Tensor a(DType::u8, Shape{2, 4});
    Tensor c(DType::u8, Shape{2, 2});
    CHECK_THROWS_WITH_AS(g.run(cview<U8>(a), c.view<U8>()), doctest::Contains("gemm: A is [2,4], the weights need K = 3"), qnn::error);
  }
  SUBCASE("C of the wrong shape") {
    const QuantizedGemm<U8, S8, U8> g(aq, qv<S8>(b, wq), {}, yq, GemmOptions{});
    Tensor a(DType::u8, Shape{2, 3});
    Tensor c(DType::u8, Shape{2, 3});
    CHECK_THROWS_WITH_AS(g.run(cview<U8>(a), c.view<U8>()), doctest::Contains("gemm: output [2,3] should be [2,2]"), qnn::error);
  }
  SUBCASE("A not 2-D") {
    const QuantizedGemm<U8, S8, U8> g(aq, qv<S8>(b, wq), {}, yq, GemmOptions{});
    Tensor a(DType::u8, Shape{1, 2, 3});
    Tensor c(DType::u8, Shape{2, 2});
    CHECK_THROWS_WITH_AS(g.run(cview<U8>(a), c.view<U8>()), doctest::Contains("gemm: A is [1,2,3], the weights need K = 3"),
                         qnn::error);
    // ref::gemm itself checks ranks too.
    const ref::IntegerArith<U8> arith(0, 0, {0});
    Tensor c32(DType::i32, Shape{2, 2});
    CHECK_THROWS_WITH_AS(ref::gemm(cview<U8>(a), cview<S8>(b), c32.view<std::int32_t>(), arith),
                         doctest::Contains("gemm: operands must be 2-D"), qnn::error);
  }
  SUBCASE("weights not 2-D") {
    const Tensor b3 = make<S8>(Shape{1, 3, 2}, {1, 2, 3, 4, 5, 6});
    CHECK_THROWS_WITH_AS((QuantizedGemm<U8, S8, U8>(aq, qv<S8>(b3, wq), {}, yq, GemmOptions{})),
                         doctest::Contains("gemm: weight must be 2-D"), qnn::error);
  }
  SUBCASE("per-channel weights along K instead of N") {
    const PerChannel<S8> along_k(0, {0.5f, 0.5f, 0.5f});
    CHECK_THROWS_WITH_AS((QuantizedGemm<U8, S8, U8>(aq, qv<S8>(b, along_k), {}, yq, GemmOptions{})),
                         doctest::Contains("gemm weight: per-channel quantization must run along axis 1 (output channels), not 0"),
                         qnn::error);
    GemmOptions tb;
    tb.trans_b = true;  // B is [N,K] = [3,2]: N runs along axis 0
    const PerChannel<S8> along_1(1, {0.5f, 0.5f});
    CHECK_THROWS_WITH_AS((QuantizedGemm<U8, S8, U8>(aq, qv<S8>(b, along_1), {}, yq, tb)),
                         doctest::Contains("must run along axis 0 (output channels), not 1"), qnn::error);
    const PerChannel<S8> two(1, {0.5f, 0.5f});
    CHECK_THROWS_WITH_AS((QuantizedGemm<U8, S8, U8>(aq, qv<S8>(make<S8>(Shape{2, 3}, {1, 2, 3, 4, 5, 6}), two), {}, yq,
                                                    GemmOptions{})),
                         doctest::Contains("2 channel scales for 3 output channels"), qnn::error);
  }
  SUBCASE("bias of the wrong length") {
    CHECK_THROWS_WITH_AS((QuantizedGemm<U8, S8, U8>(aq, qv<S8>(b, wq), std::vector<std::int32_t>{1, 2, 3}, yq, GemmOptions{})),
                         doctest::Contains("gemm: bias has 3 values for 2 outputs"), qnn::error);
    CHECK_THROWS_WITH_AS(FloatGemm<float>(make<float>(Shape{3, 2}, {1, 2, 3, 4, 5, 6}).view<float>(), std::vector<float>{1},
                                          GemmOptions{}),
                         doctest::Contains("gemm: bias has 1 values for 2 outputs"), qnn::error);
  }
  SUBCASE("npu_pow2 with a scale that is not a power of two") {
    GemmOptions opt;
    opt.policy = RequantPolicy::npu_pow2;
    const PerTensor<S8, float, Symmetry::symmetric> w3(0.1f);
    CHECK_THROWS_WITH_AS((QuantizedGemm<U8, S8, U8>(aq, qv<S8>(b, w3), {}, yq, opt)),
                         doctest::Contains("gemm (npu-pow2): scale 0.1 is not a power of two"), qnn::error);
  }
  SUBCASE("matmul batch axes that do not broadcast, inner dimensions that differ") {
    CHECK_THROWS_WITH_AS(ref::matmul_output_shape(Shape{2, 3, 4}, Shape{3, 4, 2}), doctest::Contains("do not broadcast"),
                         qnn::error);
    CHECK_THROWS_WITH_AS(ref::matmul_output_shape(Shape{3, 4}, Shape{3, 2}), doctest::Contains("inner dimensions differ"),
                         qnn::error);
    CHECK_THROWS_WITH_AS(ref::matmul_output_shape(Shape{4}, Shape{4, 2}), doctest::Contains("rank >= 2"), qnn::error);
    const Tensor a = make<S8>(Shape{2, 2, 3}, std::vector<S8>(12, 1));
    Tensor c(DType::i32, Shape{2, 2, 3});
    const ref::IntegerArith<S8> arith(0, 0, {0});
    CHECK_THROWS_WITH_AS(ref::matmul(cview<S8>(a), cview<S8>(b), c.view<std::int32_t>(), arith),
                         doctest::Contains("matmul: output [2,2,3] should be [2,2,2]"), qnn::error);
  }
  SUBCASE("the int32 bound of a layer, from its weights") {
    // uint8 with za = 0 (deviation 255): Σ|w| = 8 421 504 fits with |bias| ≤ 127.
    const std::int64_t K = 66312;
    std::vector<S8> big(static_cast<std::size_t>(K), -127);
    big.back() = -7;
    const Tensor bb = make(Shape{K, 1}, big);
    const PerTensor<U8> a0(1.0f, 0);
    CHECK_NOTHROW((QuantizedGemm<U8, S8, U8>(a0, qv<S8>(bb, wq), std::vector<std::int32_t>{-127}, yq, GemmOptions{})));
    CHECK_THROWS_WITH_AS((QuantizedGemm<U8, S8, U8>(a0, qv<S8>(bb, wq), std::vector<std::int32_t>{128}, yq, GemmOptions{})),
                         doctest::Contains("gemm (onnx-float): the accumulator can reach 2147483648, above the int32 limit"),
                         qnn::error);
  }
  SUBCASE("the int32 bound of a matmul of two activations: K ≤ 33 025 at extreme zero points") {
    // Neither operand is known: the bound is K·max|a − za|·max|b − zb| = K·255·255.
    const PerTensor<S8> a_q(1.0f, -128), b_q(1.0f, 127), y_q(1.0f, 0);
    for (std::int64_t K : {33025, 33026}) {
      CAPTURE(K);
      const Tensor a = make(Shape{1, K}, std::vector<S8>(static_cast<std::size_t>(K), 127));
      const Tensor bm = make(Shape{K, 1}, std::vector<S8>(static_cast<std::size_t>(K), -128));
      Tensor y(DType::i8, Shape{1, 1});
      auto run = [&] {
        quantized_matmul(qv<S8>(a, a_q), qv<S8>(bm, b_q), QView<S8, PerTensor<S8>>{y.view<S8>(), y_q},
                         RequantPolicy::onnx_float);
      };
      if (K == 33025) {
        CHECK_NOTHROW(run());
        CHECK(values<S8>(y)[0] == -128);  // acc = −33025·65025, saturates
      } else {
        CHECK_THROWS_WITH_AS(run(), doctest::Contains("the accumulator can reach 2147515650, above the int32 limit"),
                             qnn::error);
      }
    }
  }
}

// ================================================================================================
// Properties
// ================================================================================================

// Random M, N, K (K from 1 to 40: every tail of any SIMD tile), trans flags, zero points at the
// range ends, per-channel scales and zero points, bias; float and power-of-two scales.
template <class TIn, class TOut>
void gemm_property_case(Rng& rng, int i, PropertyStats& stats) {
  const std::int64_t M = rand_int(rng, 1, 6), N = rand_int(rng, 1, 9), K = rand_int(rng, 1, 40);
  GemmOptions opt;
  opt.trans_a = rand_int(rng, 0, 1) == 1;
  opt.trans_b = rand_int(rng, 0, 1) == 1;
  const std::int32_t za = random_zero_point<TIn>(rng), zy = random_zero_point<TOut>(rng);
  std::vector<std::int32_t> zb(static_cast<std::size_t>(N), 0);
  if (rand_int(rng, 0, 1))
    for (auto& z : zb) z = random_zero_point<std::int8_t>(rng);
  INFO("case " << i << ": M=" << M << " N=" << N << " K=" << K << " trans_a=" << opt.trans_a
               << " trans_b=" << opt.trans_b << " za=" << za << " zy=" << zy << " zb=" << str(zb));
  const auto a = random_ints<TIn>(rng, static_cast<std::size_t>(M * K));
  const auto b = random_ints<std::int8_t>(rng, static_cast<std::size_t>(K * N));
  std::vector<std::int32_t> bias;
  if (rand_int(rng, 0, 1)) bias = random_ints<std::int32_t>(rng, static_cast<std::size_t>(N), -30000, 30000);
  const auto acc = gemm_acc_exact(M, N, K, a, za, b, zb, std::vector<std::int64_t>(bias.begin(), bias.end()));
  for (bool pow2 : {false, true}) {
    CAPTURE(pow2);
    const float s_a = pow2 ? std::ldexp(1.0f, -rand_int(rng, 2, 6)) : rand_float(rng, 0.002f, 0.05f);
    std::vector<float> s_b(static_cast<std::size_t>(N));
    for (auto& v : s_b) v = pow2 ? std::ldexp(1.0f, -rand_int(rng, 3, 8)) : rand_float(rng, 0.001f, 0.02f);
    double r_max = 1e-3;
    for (std::size_t j = 0; j < acc.size(); ++j)
      r_max = std::max(r_max, std::fabs(double{s_a} * s_b[j % static_cast<std::size_t>(N)] * static_cast<double>(acc[j])));
    const double levels = std::is_same_v<TOut, std::int16_t> ? 20000.0 : 90.0;
    float s_y = static_cast<float>(r_max / (levels * rand_float(rng, 0.5f, 1.5f)));
    // TFLite's 16×8 rule takes multipliers below 2^7.
    if constexpr (sizeof(TIn) == 2) s_y = std::max(s_y, s_a * *std::max_element(s_b.begin(), s_b.end()) / 32.0f);
    if (pow2) s_y = std::ldexp(1.0f, std::ilogb(s_y));
    CAPTURE(s_a);
    CAPTURE(s_y);
    const PerChannel<std::int8_t> wq(opt.trans_b ? 0 : 1, s_b, zb);
    for (RequantPolicy p : kAllPolicies) {
      if (p == RequantPolicy::npu_pow2 && !pow2) continue;
      CAPTURE(p);
      opt.policy = p;
      opt.reference = true;
      const auto got = run_gemm<TIn, std::int8_t, TOut>(a, b, M, N, K, PerTensor<TIn>(s_a, za), wq, bias,
                                                        PerTensor<TOut>(s_y, zy), opt);
      check_requantized(got, acc, [&](std::size_t j) { return j % static_cast<std::size_t>(N); }, s_a, s_b, s_y, zy, p,
                        stats);
      // run()'s default path equals the reference bit for bit.
      opt.reference = false;
      INFO("SIMD target " << simd::active_target());
      check_vec(run_gemm<TIn, std::int8_t, TOut>(a, b, M, N, K, PerTensor<TIn>(s_a, za), wq, bias, PerTensor<TOut>(s_y, zy), opt),
                got, "default (fast) path vs reference");
    }
  }
}

TEST_CASE_TEMPLATE("gemm property: integer gemm vs exact math, every policy, random shapes", T, std::uint8_t, std::int8_t) {
  Rng rng(std::is_signed_v<T> ? 5150u : 5151u);
  PropertyStats stats;
  for (int i = 0; i < 300; ++i) gemm_property_case<T, T>(rng, i, stats);
  CAPTURE(stats.outputs);
  CAPTURE(stats.exact);
  CHECK(stats.outputs > 3000);
  CHECK(stats.exact >= stats.outputs * 995 / 1000);
}

TEST_CASE("gemm property: A16W8, random shapes") {
  Rng rng(1608u);
  PropertyStats stats;
  for (int i = 0; i < 100; ++i) gemm_property_case<std::int16_t, std::int16_t>(rng, i, stats);
  CAPTURE(stats.outputs);
  CAPTURE(stats.exact);
  CHECK(stats.exact >= stats.outputs * 995 / 1000);
}

// quantized_matmul against the exact accumulators, with broadcast batch axes and strided views.
TEST_CASE("gemm property: quantized_matmul of two activations vs exact math") {
  Rng rng(31337u);
  PropertyStats stats;
  for (int i = 0; i < 100; ++i) {
    const std::int64_t B = rand_int(rng, 1, 3), M = rand_int(rng, 1, 5), N = rand_int(rng, 1, 5), K = rand_int(rng, 1, 20);
    const bool broadcast_b = rand_int(rng, 0, 1) == 1;  // b has no batch axis
    const std::int32_t za = random_zero_point<std::uint8_t>(rng), zb = random_zero_point<std::int8_t>(rng);
    const std::int32_t zy = random_zero_point<std::uint8_t>(rng);
    INFO("case " << i << ": batch " << B << " M=" << M << " N=" << N << " K=" << K << " broadcast_b " << broadcast_b
                 << " za " << za << " zb " << zb << " zy " << zy);
    const auto a = random_ints<std::uint8_t>(rng, static_cast<std::size_t>(B * M * K));
    const auto b = random_ints<std::int8_t>(rng, static_cast<std::size_t>((broadcast_b ? 1 : B) * K * N));
    const float s_a = rand_float(rng, 0.01f, 0.1f), s_b = rand_float(rng, 0.01f, 0.1f);
    std::vector<std::int64_t> acc;
    for (std::int64_t bi = 0; bi < B; ++bi) {
      const std::vector<std::uint8_t> ab(a.begin() + bi * M * K, a.begin() + (bi + 1) * M * K);
      const std::int64_t boff = broadcast_b ? 0 : bi * K * N;
      const std::vector<std::int8_t> bb(b.begin() + boff, b.begin() + boff + K * N);
      const auto part = gemm_acc_exact(M, N, K, ab, za, bb, {zb}, {});
      acc.insert(acc.end(), part.begin(), part.end());
    }
    double r_max = 1e-3;
    for (auto v : acc) r_max = std::max(r_max, std::fabs(double{s_a} * s_b * static_cast<double>(v)));
    const float s_y = static_cast<float>(r_max / 100.0);
    // A stored transposed per batch ([B,K,M]) and read through a permuted view.
    std::vector<std::uint8_t> a_t;
    for (std::int64_t bi = 0; bi < B; ++bi) {
      const auto part = transpose(std::vector<std::uint8_t>(a.begin() + bi * M * K, a.begin() + (bi + 1) * M * K), M, K);
      a_t.insert(a_t.end(), part.begin(), part.end());
    }
    static constexpr std::array<int, 3> kSwap{0, 2, 1};
    const TensorView<const std::uint8_t> av = TensorView<const std::uint8_t>(a_t.data(), Shape{B, K, M}).permuted(kSwap);
    const Tensor bt = broadcast_b ? make(Shape{K, N}, b) : make(Shape{B, K, N}, b);
    Tensor y(DType::u8, Shape{B, M, N});
    quantized_matmul(QView<const std::uint8_t, PerTensor<std::uint8_t>>{av, PerTensor<std::uint8_t>(s_a, za)},
                     qv<std::int8_t>(bt, PerTensor<std::int8_t>(s_b, zb)),
                     QView<std::uint8_t, PerTensor<std::uint8_t>>{y.view<std::uint8_t>(), PerTensor<std::uint8_t>(s_y, zy)},
                     RequantPolicy::onnx_float);
    check_requantized(values<std::uint8_t>(y), acc, [](std::size_t) { return std::size_t{0}; }, s_a, {s_b}, s_y, zy,
                      RequantPolicy::onnx_float, stats);
  }
  CHECK(stats.exact >= stats.outputs * 995 / 1000);
}

// The reference FloatGemm<float> equals the k-ascending fp32 FMA chain exactly; the reference FloatGemm<bf16>
// equals that sum of the bf16-rounded operands exactly. The default path stays within
// docs/numerics.md §8's bound γ_(K+1)·(|bias| + Σ|a·b|) of the exact sum of the same operands.
TEST_CASE("gemm property: FloatGemm<float> and <bf16> equal the ordered fp32 FMA chain bit for bit") {
  Rng rng(6174u);
  int bf16_differs = 0;
  for (int i = 0; i < 150; ++i) {
    const std::int64_t M = rand_int(rng, 1, 5), N = rand_int(rng, 1, 7), K = rand_int(rng, 1, 40);
    GemmOptions opt;
    opt.trans_a = rand_int(rng, 0, 1) == 1;
    opt.trans_b = rand_int(rng, 0, 1) == 1;
    INFO("case " << i << ": M=" << M << " N=" << N << " K=" << K << " trans_a=" << opt.trans_a << " trans_b=" << opt.trans_b);
    const auto a = random_floats(rng, static_cast<std::size_t>(M * K), -2.0f, 2.0f);
    const auto b = random_floats(rng, static_cast<std::size_t>(K * N), -1.0f, 1.0f);
    const auto bias = random_floats(rng, static_cast<std::size_t>(N), -1.0f, 1.0f);
    auto ordered = [&](const std::vector<float>& av, const std::vector<float>& bv) {
      std::vector<float> out;
      for (std::int64_t r = 0; r < M; ++r)
        for (std::int64_t c = 0; c < N; ++c) {
          float acc = bias[static_cast<std::size_t>(c)];
          for (std::int64_t k = 0; k < K; ++k) {
            acc = std::fma(av[static_cast<std::size_t>(r * K + k)], bv[static_cast<std::size_t>(k * N + c)], acc);
          }
          out.push_back(acc);
        }
      return out;
    };
    auto within_bound = [&](const std::vector<float>& got, const std::vector<float>& av, const std::vector<float>& bv) {
      const double u = std::ldexp(1.0, -24), n = static_cast<double>(K + 1), gamma = n * u / (1 - n * u);
      int outside = 0;
      for (std::int64_t r = 0; r < M; ++r)
        for (std::int64_t c = 0; c < N; ++c) {
          double exact = bias[static_cast<std::size_t>(c)], mag = std::fabs(exact);
          for (std::int64_t k = 0; k < K; ++k) {
            const double prod = double{av[static_cast<std::size_t>(r * K + k)]} * bv[static_cast<std::size_t>(k * N + c)];
            exact += prod;
            mag += std::fabs(prod);
          }
          const double g = got[static_cast<std::size_t>(r * N + c)];
          if (std::fabs(g - exact) > gamma * mag && ++outside <= 3) {
            INFO("C[" << r << "," << c << "] = " << g << ", exact " << exact << ", bound " << gamma * mag);
            CHECK(std::fabs(g - exact) <= gamma * mag);
          }
        }
      CHECK(outside == 0);
    };
    const Tensor at = opt.trans_a ? make(Shape{K, M}, transpose(a, M, K)) : make(Shape{M, K}, a);
    const Tensor bt = opt.trans_b ? make(Shape{N, K}, transpose(b, K, N)) : make(Shape{K, N}, b);
    std::vector<float> ar, br;
    for (float v : a) ar.push_back(round_to_bf16(v));
    for (float v : b) br.push_back(round_to_bf16(v));
    Tensor ab(DType::bf16, at.shape());
    ref::to_bf16(cview<float>(at), ab.view<bf16>());
    Tensor c(DType::f32, Shape{M, N});
    for (bool reference : {true, false}) {
      CAPTURE(reference);
      INFO("SIMD target " << simd::active_target());
      opt.reference = reference;
      FloatGemm<float>(cview<float>(bt), bias, opt).run(cview<float>(at), c.view<float>());
      const auto got32 = values<float>(c);
      FloatGemm<bf16>(cview<float>(bt), bias, opt).run(cview<bf16>(ab), c.view<float>());
      const auto gotb = values<float>(c);
      if (reference) {
        check_vec(got32, ordered(a, b), "fp32");
        check_vec(gotb, ordered(ar, br), "bf16");
        bf16_differs += gotb != got32 ? 1 : 0;
      } else {
        within_bound(got32, a, b);
        within_bound(gotb, ar, br);
      }
    }
  }
  CHECK(bf16_differs > 100);
}

}  // namespace
