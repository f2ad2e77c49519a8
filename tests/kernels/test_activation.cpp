// Tests of the reference activations (kernels/ref/activation.hpp): the float functions, the quantized
// definition Q_out(f(DQ_in(q))), its 256-entry table for 8-bit inputs, and the per-element int16 path.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>
#include <vector>

#include "kernel_test_util.hpp"
#include "qnn/kernels/ref/activation.hpp"

namespace {

using namespace qnn;
using namespace qnn_test;
using ref::Activation;
using ref::ActivationKind;

const char* name(const Activation& a) {
  if (a.ort_logistic) return "sigmoid_ort";
  switch (a.kind) {
    case ActivationKind::relu: return "relu";
    case ActivationKind::clip: return "clip";
    case ActivationKind::leaky_relu: return "leaky_relu";
    case ActivationKind::sigmoid: return "sigmoid";
    case ActivationKind::hard_sigmoid: return "hard_sigmoid";
    case ActivationKind::hard_swish: return "hard_swish";
    case ActivationKind::tanh: return "tanh";
  }
  return "?";
}

// The ONNX formulas in fp32, written out here independently of the kernel.
float onnx_activation(const Activation& a, float x) {
  switch (a.kind) {
    case ActivationKind::relu: return x < 0.0f ? 0.0f : x;
    case ActivationKind::clip: return std::min(std::max(x, a.lo), a.hi);
    case ActivationKind::leaky_relu: return x < 0.0f ? a.alpha * x : x;
    // sigmoid_ort(): ONNX Runtime's rational approximation (ort_float.hpp) is itself the definition.
    case ActivationKind::sigmoid: return a.ort_logistic ? ref::ort::logistic(x) : 1.0f / (1.0f + std::exp(-x));
    case ActivationKind::hard_sigmoid: return std::max(0.0f, std::min(1.0f, a.alpha * x + a.beta));
    case ActivationKind::hard_swish: return x * std::max(0.0f, std::min(1.0f, x / 6.0f + 0.5f));
    case ActivationKind::tanh: return std::tanh(x);
  }
  return x;
}

// Q_out(f(DQ_in(q))): dequantize exactly, f in fp32, quantize with one fp32 division, clamp, rne.
template <class TIn, class TOut>
TOut definition(TIn q, const Activation& a, float s_x, std::int32_t zx, float s_y, std::int32_t zy) {
  const float x = static_cast<float>(static_cast<std::int32_t>(q) - zx) * s_x;
  float v = onnx_activation(a, x) / s_y;
  const std::int32_t lo = std::numeric_limits<TOut>::min(), hi = std::numeric_limits<TOut>::max();
  if (std::isnan(v)) return static_cast<TOut>(lo);
  v = std::min(std::max(v, static_cast<float>(lo - zy)), static_cast<float>(hi - zy));
  return static_cast<TOut>(static_cast<std::int32_t>(std::nearbyint(v)) + zy);
}

template <class TIn, class TOut>
std::vector<TOut> run(const std::vector<TIn>& x, const Activation& a, float s_x, std::int32_t zx, float s_y,
                      std::int32_t zy) {
  const Tensor xt = make(Shape{static_cast<std::int64_t>(x.size())}, x);
  Tensor yt(dtype_of_v<TOut>, xt.shape());
  ref::activation_quantized(cview<TIn>(xt), yt.view<TOut>(), a, s_x, zx, s_y, zy);
  return values<TOut>(yt);
}

const std::vector<Activation> kAll{Activation::relu(),         Activation::clip(-1.5f, 2.25f), Activation::leaky_relu(0.1f),
                                   Activation::sigmoid(),      Activation::hard_sigmoid(),     Activation::hard_swish(),
                                   Activation::tanh(),         Activation::sigmoid_ort()};

// ================================================================================================
// Hand-derived table entries
// ================================================================================================

TEST_CASE("activation hand: quantized int8 entries") {
  using S8 = std::int8_t;
  const std::vector<S8> q{0, 4, -4, 127, -128};
  // Sigmoid, s_x = 0.25, s_y = 1/256, zy = −128 (TFLite's output convention):
  //   q = 0: x = 0 → 0.5 → 0.5·256 = 128 → 128 − 128 = 0
  //   q = 4: x = 1 → 0.7310586 → 187.151 → 187 → 59;  q = −4: 0.2689414 → 68.849 → 69 → −59
  //   q = 127: x = 31.75 → 1 (fp32) → 256 → clamps to 255 → 127;  q = −128: 1.3e−14 → 0 → −128
  check_vec(run<S8, S8>(q, Activation::sigmoid(), 0.25f, 0, 1.0f / 256, -128), std::vector<int>{0, 59, -59, 127, -128},
            "sigmoid");
  // ORT's logistic gives the same table entries here: exactly 0.5 at 0, 0.7310586 ± 1e−7 at 1 (far
  // from a rounding boundary at 187.151), ≈ 1 and ≈ 0 at the clamps ±18.
  check_vec(run<S8, S8>(q, Activation::sigmoid_ort(), 0.25f, 0, 1.0f / 256, -128),
            std::vector<int>{0, 59, -59, 127, -128}, "sigmoid_ort");
  CHECK(ref::ort::logistic(0.0f) == 0.5f);
  // Tanh, s_x = 0.25, s_y = 1/128, zy = 0: tanh(1)·128 = 97.484 → 97; ±1·128 = 128 → 127; −128
  check_vec(run<S8, S8>(q, Activation::tanh(), 0.25f, 0, 1.0f / 128, 0), std::vector<int>{0, 97, -97, 127, -128}, "tanh");
  // HardSigmoid (α 0.2, β 0.5), s_x = 0.5, s_y = 1/256, zy = −128:
  //   q = 0 → 0.5 → 0;  q = 4: x = 2 → 0.9 → 230.4 → 230 → 102;  q = −4: x = −2 → 0.1 → 25.6 → 26 → −102
  //   q = 127 → 1 → 256 → 127;  q = −128 → 0 → −128
  check_vec(run<S8, S8>(q, Activation::hard_sigmoid(), 0.5f, 0, 1.0f / 256, -128),
            std::vector<int>{0, 102, -102, 127, -128}, "hard_sigmoid");
  // HardSwish, s_x = 0.25, s_y = 0.125: q = 4: x = 1 → 1·(1/6 + 0.5) = 0.6667 → 5.33 → 5;
  //   q = −4: x = −1 → −(0.5 − 1/6) = −0.3333 → −2.67 → −3;  q = 127: 31.75 → 254 → 127;  q = −128: x = −32 → −0 → 0
  check_vec(run<S8, S8>(q, Activation::hard_swish(), 0.25f, 0, 0.125f, 0), std::vector<int>{0, 5, -3, 127, 0},
            "hard_swish");
  // HardSwish at its knees: x = ±3 (q = ±12) → 3·1 = 3 → 24 and −3·0 = 0.
  check_vec(run<S8, S8>({12, -12}, Activation::hard_swish(), 0.25f, 0, 0.125f, 0), std::vector<int>{24, 0}, "hard_swish knees");
  // LeakyRelu α = 0.1, s_x = 1, s_y = 0.5: q = 4 → 8; −4 → −0.4 → −0.8 → −1; 127 → 254 → 127;
  //   −128 → −12.8 → −25.6 → −26
  check_vec(run<S8, S8>(q, Activation::leaky_relu(0.1f), 1.0f, 0, 0.5f, 0), std::vector<int>{0, 8, -1, 127, -26},
            "leaky_relu");
  // Clip(−1, 2), s_x = s_y = 0.5: q = 4 → 2 → 4;  q = −4 → −2 → −1 → −2;  127 → 4;  −128 → −2
  check_vec(run<S8, S8>(q, Activation::clip(-1.0f, 2.0f), 0.5f, 0, 0.5f, 0), std::vector<int>{0, 4, -2, 4, -2}, "clip");
}

TEST_CASE("activation hand: quantized uint8 and mixed-type entries") {
  using U8 = std::uint8_t;
  // ReLU, uint8 s_x = 0.5, zx = 128 → s_y = 0.25, zy = 0:
  //   128 → 0 → 0;  130 → 1 → 4;  100 → −14 → 0;  191 → 31.5 → 126;  255 → 63.5 → 254;  0 → 0
  check_vec(run<U8, U8>({128, 130, 100, 191, 255, 0}, Activation::relu(), 0.5f, 128, 0.25f, 0),
            std::vector<int>{0, 4, 0, 126, 254, 0}, "relu");
  // Sigmoid from int8 (s 0.25) to uint8 (s 1/256, zp 0): q = 0 → 128; q = 4 → 187; q = −4 → 69
  check_vec(run<std::int8_t, U8>({0, 4, -4}, Activation::sigmoid(), 0.25f, 0, 1.0f / 256, 0),
            std::vector<int>{128, 187, 69}, "sigmoid int8 -> uint8");
}

// int16 per element: sigmoid with s_x = 2^−10, s_y = 2^−15:
//   q = 1024 (x = 1) → 0.7310586·32768 = 23955.33 → 23955;  q = −1024 → 8812.67 → 8813;
//   q = 0 → 16384;  q = 32767 (x ≈ 32) → 32768 → 32767
TEST_CASE("activation hand: int16 entries") {
  using S16 = std::int16_t;
  check_vec(run<S16, S16>({1024, -1024, 0, 32767}, Activation::sigmoid(), 0x1p-10f, 0, 0x1p-15f, 0),
            std::vector<int>{23955, 8813, 16384, 32767}, "sigmoid");
  // Tanh with s_y = 2^−15: tanh(1)·32768 = 24956.0... check against the definition instead of a
  // literal in the last place: tanh(1) = 0.76159416 → 24955.94 → 24956
  check_vec(run<S16, S16>({1024, -1024}, Activation::tanh(), 0x1p-10f, 0, 0x1p-15f, 0), std::vector<int>{24956, -24956},
            "tanh");
}

TEST_CASE("activation hand: float and bf16") {
  const Tensor x = make<float>(Shape{5}, {-3.0f, -1.0f, 0.0f, 1.0f, 3.0f});
  struct Case {
    Activation a;
    std::vector<float> want;
  };
  const std::vector<Case> cases{
      {Activation::relu(), {0, 0, 0, 1, 3}},
      {Activation::clip(-1.5f, 2.0f), {-1.5f, -1, 0, 1, 2}},
      {Activation::leaky_relu(0.25f), {-0.75f, -0.25f, 0, 1, 3}},
      {Activation::hard_sigmoid(0.25f, 0.5f), {0, 0.25f, 0.5f, 0.75f, 1}},
      {Activation::hard_swish(), {0, -1.0f * (0.5f - 1.0f / 6.0f), 0, 1.0f / 6.0f + 0.5f, 3}},
  };
  for (const Case& c : cases) {
    INFO(name(c.a));
    Tensor y(DType::f32, x.shape());
    ref::activation_float(cview<float>(x), y.view<float>(), c.a);
    const auto got = values<float>(y);
    for (std::size_t i = 0; i < got.size(); ++i) CHECK(got[i] == doctest::Approx(c.want[i]).epsilon(1e-7));
  }
  Tensor y(DType::f32, x.shape());
  ref::activation_float(cview<float>(x), y.view<float>(), Activation::sigmoid());
  CHECK(values<float>(y)[2] == 0.5f);
  CHECK(values<float>(y)[3] == doctest::Approx(0.7310586));
  // bf16: the result is rounded to bf16 (nearest even): sigmoid(1) = 0.7310586 → 0.73046875
  // (bf16 neighbours 0.73046875 and 0.734375).
  const Tensor xb = make<bf16>(Shape{2}, {bf16(1.0f), bf16(-2.0f)});
  Tensor yb(DType::bf16, Shape{2});
  ref::activation_float(cview<bf16>(xb), yb.view<bf16>(), Activation::sigmoid());
  CHECK(values<bf16>(yb)[0].to_float() == 0.73046875f);
  ref::activation_float(cview<bf16>(xb), yb.view<bf16>(), Activation::relu());
  CHECK(values<bf16>(yb)[1].to_float() == 0.0f);
}

// ================================================================================================
// The table equals the definition
// ================================================================================================

// For every activation and several quantizations, the 8-bit table path (activation_quantized on
// 8-bit in and out) gives, for each of the 256 inputs, exactly the per-element definition — both
// this file's and the kernel's own quantized_activation_value.
TEST_CASE_TEMPLATE("activation property: the 8-bit table equals the definition for all 256 inputs", T, std::int8_t,
                   std::uint8_t) {
  std::vector<T> all;
  for (int v = std::numeric_limits<T>::min(); v <= std::numeric_limits<T>::max(); ++v) all.push_back(static_cast<T>(v));
  struct Quant {
    float s_x;
    std::int32_t zx;
    float s_y;
    std::int32_t zy;
  };
  const std::int32_t mid = std::is_signed_v<T> ? 0 : 128, lo = std::numeric_limits<T>::min(),
                     hi = std::numeric_limits<T>::max();
  const std::vector<Quant> quants{{0.05f, mid, 0.02f, mid}, {0.1f, lo, 1.0f / 256, lo}, {0.03f, hi, 0.07f, mid + 3},
                                  {0.5f, mid + 7, 0.25f, hi}};
  int distinct = 0;
  for (const Activation& a : kAll)
    for (const Quant& qp : quants) {
      INFO(name(a) << " s_x " << qp.s_x << " zx " << qp.zx << " s_y " << qp.s_y << " zy " << qp.zy);
      const auto got = run<T, T>(all, a, qp.s_x, qp.zx, qp.s_y, qp.zy);
      std::vector<T> want, kernel_def;
      for (T v : all) {
        want.push_back(definition<T, T>(v, a, qp.s_x, qp.zx, qp.s_y, qp.zy));
        kernel_def.push_back(ref::quantized_activation_value<T, T>(v, a, qp.s_x, qp.zx, qp.s_y, qp.zy));
      }
      check_vec(got, want, "table vs this file's definition");
      check_vec(got, kernel_def, "table vs quantized_activation_value");
      std::vector<T> sorted = got;
      std::sort(sorted.begin(), sorted.end());
      distinct += static_cast<int>(std::unique(sorted.begin(), sorted.end()) - sorted.begin());
    }
  CHECK(distinct > 8 * 4 * 20);  // the tables are not constant
}

// The int16 path evaluates the same definition per element: all 65 536 inputs.
TEST_CASE("activation property: the int16 path equals the definition for all inputs") {
  using S16 = std::int16_t;
  std::vector<S16> all;
  for (int v = -32768; v <= 32767; ++v) all.push_back(static_cast<S16>(v));
  for (const Activation& a : kAll) {
    INFO(name(a));
    const float s_x = 0x1p-11f, s_y = 0x1p-13f;
    const auto got = run<S16, S16>(all, a, s_x, 5, s_y, -7);
    std::vector<S16> want;
    for (S16 v : all) want.push_back(definition<S16, S16>(v, a, s_x, 5, s_y, -7));
    check_vec(got, want);
  }
  // uint16 in, int8 out (the per-element path too).
  std::vector<std::uint16_t> u{0, 1000, 32768, 40000, 65535};
  const auto got = run<std::uint16_t, std::int8_t>(u, Activation::sigmoid(), 0x1p-12f, 32768, 1.0f / 256, -128);
  std::vector<std::int8_t> want;
  for (auto v : u) want.push_back(definition<std::uint16_t, std::int8_t>(v, Activation::sigmoid(), 0x1p-12f, 32768, 1.0f / 256, -128));
  check_vec(got, want, "uint16 -> int8");
}

TEST_CASE("activation errors: zero points and shapes") {
  const Tensor x = make<std::uint8_t>(Shape{2}, {1, 2});
  Tensor y(DType::u8, Shape{2});
  CHECK_THROWS_WITH_AS(ref::activation_quantized(cview<std::uint8_t>(x), y.view<std::uint8_t>(), Activation::relu(), 1.0f,
                                                 300, 1.0f, 0),
                       doctest::Contains("zero point 300 is outside the uint8 range"), qnn::error);
  Tensor y8(DType::i8, Shape{2});
  CHECK_THROWS_WITH_AS(ref::activation_quantized(cview<std::uint8_t>(x), y8.view<std::int8_t>(), Activation::relu(), 1.0f,
                                                 0, 1.0f, 128),
                       doctest::Contains("zero point 128 is outside the int8 range"), qnn::error);
  Tensor y3(DType::u8, Shape{3});
  CHECK_THROWS_WITH_AS(ref::activation_quantized(cview<std::uint8_t>(x), y3.view<std::uint8_t>(), Activation::relu(), 1.0f,
                                                 0, 1.0f, 0),
                       doctest::Contains("element-wise output [3] should be [2]"), qnn::error);
}

}  // namespace
