// The fast CPU kernels against the scalar reference: integer outputs bit for bit (tolerance 0),
// float outputs within the bound of docs/numerics.md §8, over randomized shapes with tails,
// strides, padding, dilation, groups and extreme zero points, for every requantization policy.
//
// This file is compiled into the main suite (native flags) and into one binary per SIMD target
// (tests/CMakeLists.txt); each binary names the target it ran on.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "qnn/kernels/conv2d.hpp"
#include "qnn/kernels/dispatch.hpp"
#include "qnn/kernels/gemm.hpp"

using namespace qnn;

namespace {

template <class T>
Tensor random_tensor(std::mt19937& rng, const Shape& s, int lo, int hi) {
  Tensor t(dtype_of_v<T>, s);
  std::uniform_int_distribution<int> d(lo, hi);
  for (T& v : t.span<T>()) v = static_cast<T>(d(rng));
  return t;
}

Tensor random_float(std::mt19937& rng, const Shape& s) {
  Tensor t(DType::f32, s);
  std::normal_distribution<float> d(0.0f, 1.0f);
  for (float& v : t.span<float>()) v = d(rng);
  return t;
}

template <class T>
std::int64_t count_diff(const Tensor& a, const Tensor& b) {
  std::int64_t n = 0;
  const auto x = a.span<T>();
  const auto y = b.span<T>();
  for (std::size_t i = 0; i < x.size(); ++i) n += x[i] != y[i];
  return n;
}

const RequantPolicy kPolicies[] = {RequantPolicy::onnx_float, RequantPolicy::tflite_double_round,
                                   RequantPolicy::tflite_single_round, RequantPolicy::npu_pow2};

// Scales: powers of two for npu_pow2, arbitrary otherwise.
float pick_scale(std::mt19937& rng, RequantPolicy p) {
  if (p == RequantPolicy::npu_pow2) return std::ldexp(1.0f, -std::uniform_int_distribution<int>(2, 9)(rng));
  return std::uniform_real_distribution<float>(0.002f, 0.05f)(rng);
}

template <class TIn>
void conv_case(std::mt19937& rng, int iteration) {
  std::uniform_int_distribution<int> pick(0, 1000);
  const std::int64_t groups = std::vector<std::int64_t>{1, 1, 2, 3}[static_cast<std::size_t>(pick(rng) % 4)];
  const bool depthwise = pick(rng) % 5 == 0;
  const std::int64_t cpg = depthwise ? 1 : 1 + pick(rng) % 5;
  const std::int64_t c = depthwise ? 1 + pick(rng) % 6 : cpg * groups;
  const std::int64_t g = depthwise ? c : groups;
  const std::int64_t m = g * (1 + pick(rng) % 6);
  const std::int64_t kh = 1 + pick(rng) % 4, kw = 1 + pick(rng) % 4;
  Window2D win;
  win.strides = {1 + pick(rng) % 3, 1 + pick(rng) % 3};
  win.dilations = {1 + pick(rng) % 2, 1 + pick(rng) % 2};
  win.pads = {pick(rng) % 3, pick(rng) % 3, pick(rng) % 3, pick(rng) % 2};
  const std::int64_t h = (kh - 1) * win.dilations[0] + 1 + pick(rng) % 9;
  const std::int64_t w = (kw - 1) * win.dilations[1] + 1 + pick(rng) % 11;
  const std::int64_t n = 1 + pick(rng) % 3;
  const RequantPolicy policy = kPolicies[iteration % 4];
  const std::int32_t zx_choices[] = {std::numeric_limits<TIn>::min(), std::numeric_limits<TIn>::max(), 0, 7};
  const std::int32_t zx = zx_choices[pick(rng) % 4];
  const bool asym_w = pick(rng) % 3 == 0;
  const bool relu = pick(rng) % 2 == 0;

  const Tensor x = random_tensor<TIn>(rng, Shape{n, c, h, w}, std::numeric_limits<TIn>::min(), std::numeric_limits<TIn>::max());
  const Tensor wt = random_tensor<std::int8_t>(rng, Shape{m, c / g, kh, kw}, -127, 127);
  std::vector<float> ws;
  std::vector<std::int32_t> wz;
  for (std::int64_t i = 0; i < m; ++i) {
    ws.push_back(pick_scale(rng, policy));
    wz.push_back(asym_w ? std::uniform_int_distribution<int>(-20, 20)(rng) : 0);
  }
  std::vector<std::int32_t> bias;
  for (std::int64_t i = 0; i < m; ++i) bias.push_back(std::uniform_int_distribution<int>(-3000, 3000)(rng));
  const PerTensor<TIn> xq(pick_scale(rng, policy), zx);
  const PerTensor<std::uint8_t> yq(pick_scale(rng, policy), static_cast<std::int32_t>(pick(rng) % 256));
  const PerChannel<std::int8_t> wq(0, ws, wz);
  ConvOptions o;
  o.window = win;
  o.groups = g;
  o.policy = policy;
  if (relu) o.activation = ActivationClamp::relu();
  const QView<const std::int8_t, PerChannel<std::int8_t>> wv{wt.view<std::int8_t>(), wq};
  const QuantizedConv2D<TIn, std::int8_t, std::uint8_t> fast(xq, wv, bias, yq, o);
  o.reference = true;
  const QuantizedConv2D<TIn, std::int8_t, std::uint8_t> ref(xq, wv, bias, yq, o);
  const Shape ys = fast.geometry(x.shape()).output_shape();
  Tensor y1(DType::u8, ys), y2(DType::u8, ys);
  fast.run(x.view<TIn>(), y1.view<std::uint8_t>());
  ref.run(x.view<TIn>(), y2.view<std::uint8_t>());
  INFO("target ", std::string(simd::active_target()), " policy ", name_of(policy), " x ", x.shape(), " w ", wt.shape(),
       " groups ", g, " strides ", win.strides[0], "x", win.strides[1], " dil ", win.dilations[0], "x",
       win.dilations[1], " pads ", win.pads[0], ",", win.pads[1], ",", win.pads[2], ",", win.pads[3], " zx ", zx);
  CHECK(count_diff<std::uint8_t>(y1, y2) == 0);
}

template <class TIn>
void fc_case(std::mt19937& rng, int iteration) {
  std::uniform_int_distribution<int> pick(0, 1000);
  const std::int64_t m = 1 + pick(rng) % 9;
  const std::int64_t k = 1 + pick(rng) % 70;
  const std::int64_t n = 1 + pick(rng) % 45;
  const bool ta = pick(rng) % 2, tb = pick(rng) % 2;
  const RequantPolicy policy = kPolicies[iteration % 4];
  const Tensor a = random_tensor<TIn>(rng, ta ? Shape{k, m} : Shape{m, k}, std::numeric_limits<TIn>::min(),
                                      std::numeric_limits<TIn>::max());
  const Tensor b = random_tensor<std::int8_t>(rng, tb ? Shape{n, k} : Shape{k, n}, -128, 127);
  std::vector<float> ws;
  for (std::int64_t i = 0; i < n; ++i) ws.push_back(pick_scale(rng, policy));
  std::vector<std::int32_t> bias;
  for (std::int64_t i = 0; i < n; ++i) bias.push_back(std::uniform_int_distribution<int>(-5000, 5000)(rng));
  const PerTensor<TIn> xq(pick_scale(rng, policy), pick(rng) % 2 ? 0 : std::numeric_limits<TIn>::max());
  const PerTensor<std::int8_t> yq(pick_scale(rng, policy), pick(rng) % 256 - 128);
  const PerChannel<std::int8_t, float, Symmetry::symmetric> wq(tb ? 0 : 1, ws);
  GemmOptions o;
  o.trans_a = ta;
  o.trans_b = tb;
  o.policy = policy;
  const QView<const std::int8_t, decltype(wq)> bv{b.view<std::int8_t>(), wq};
  const QuantizedGemm<TIn, std::int8_t, std::int8_t> fast(xq, bv, bias, yq, o);
  o.reference = true;
  const QuantizedGemm<TIn, std::int8_t, std::int8_t> ref(xq, bv, bias, yq, o);
  Tensor c1(DType::i8, Shape{m, n}), c2(DType::i8, Shape{m, n});
  fast.run(a.view<TIn>(), c1.view<std::int8_t>());
  ref.run(a.view<TIn>(), c2.view<std::int8_t>());
  INFO("target ", std::string(simd::active_target()), " policy ", name_of(policy), " M ", m, " N ", n, " K ", k, " transA ", ta,
       " transB ", tb);
  CHECK(count_diff<std::int8_t>(c1, c2) == 0);
}

}  // namespace

TEST_CASE_TEMPLATE("fast int8 conv equals the reference bit for bit", TIn, std::uint8_t, std::int8_t) {
  std::mt19937 rng(1234);
  MESSAGE("SIMD target: ", std::string(simd::active_target()));
  for (int i = 0; i < 160; ++i) conv_case<TIn>(rng, i);
}

TEST_CASE_TEMPLATE("fast int8 GEMM equals the reference bit for bit", TIn, std::uint8_t, std::int8_t) {
  std::mt19937 rng(99);
  for (int i = 0; i < 240; ++i) fc_case<TIn>(rng, i);
}

TEST_CASE("fast float and bf16 conv/GEMM stay within the documented bound") {
  std::mt19937 rng(7);
  constexpr double u = 0x1p-24;
  for (int it = 0; it < 40; ++it) {
    const std::int64_t c = 1 + it % 5, m = 1 + (it * 7) % 9, kh = 1 + it % 3, h = 3 + it % 7, w = 4 + it % 9;
    const Tensor x = random_float(rng, Shape{2, c, h, w});
    const Tensor wt = random_float(rng, Shape{m, c, kh, kh});
    std::vector<float> bias(static_cast<std::size_t>(m), 0.25f);
    ConvOptions o;
    o.window.pads = {1, 0, 0, 1};
    const FloatConv2D<float> fast(wt.view<float>(), bias, o);
    o.reference = true;
    const FloatConv2D<float> ref(wt.view<float>(), bias, o);
    const Shape ys = fast.geometry(x.shape()).output_shape();
    Tensor y1(DType::f32, ys), y2(DType::f32, ys);
    fast.run(x.view<float>(), y1.view<float>());
    ref.run(x.view<float>(), y2.view<float>());
    // |fast − ref| ≤ 2·γ_K·Σ|x·w| (each is within γ_K of the exact sum); Σ|x·w| bounded by
    // K·max|x|·max|w| + |b| for a simple, safe per-tensor check.
    const double k = static_cast<double>(c * kh * kh) + 1;
    const double gamma = k * u / (1 - k * u);
    double maxx = 0, maxw = 0;
    for (float v : x.span<float>()) maxx = std::max(maxx, double{std::fabs(v)});
    for (float v : wt.span<float>()) maxw = std::max(maxw, double{std::fabs(v)});
    const double bound = 2 * gamma * (k * maxx * maxw + 0.25);
    for (std::size_t i = 0; i < y1.span<float>().size(); ++i)
      CHECK(std::fabs(double{y1.span<float>()[i]} - double{y2.span<float>()[i]}) <= bound);
  }
  for (int it = 0; it < 40; ++it) {
    const std::int64_t mm = 1 + it % 4, k = 1 + (it * 13) % 90, n = 1 + (it * 5) % 33;
    const Tensor a = random_float(rng, Shape{mm, k});
    const Tensor b = random_float(rng, Shape{k, n});
    GemmOptions o;
    const FloatGemm<bf16> fast(b.view<float>(), {}, o);
    o.reference = true;
    const FloatGemm<bf16> ref(b.view<float>(), {}, o);
    Tensor abf(DType::bf16, a.shape());
    for (std::size_t i = 0; i < abf.span<bf16>().size(); ++i) abf.span<bf16>()[i] = bf16(a.span<float>()[i]);
    Tensor c1(DType::f32, Shape{mm, n}), c2(DType::f32, Shape{mm, n});
    fast.run(abf.view<bf16>(), c1.view<float>());
    ref.run(abf.view<bf16>(), c2.view<float>());
    const double gamma = double(k) * u / (1 - double(k) * u);
    for (std::int64_t i = 0; i < mm; ++i)
      for (std::int64_t j = 0; j < n; ++j) {
        double mag = 0;
        for (std::int64_t q = 0; q < k; ++q)
          mag += std::fabs(double{round_to_bf16(a.view<float>()(i, q))} * double{round_to_bf16(b.view<float>()(q, j))});
        CHECK(std::fabs(double{c1.view<float>()(i, j)} - double{c2.view<float>()(i, j)}) <= 2 * gamma * mag + 1e-30);
      }
  }
}
