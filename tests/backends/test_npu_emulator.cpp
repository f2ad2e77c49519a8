// The NPU emulator (backends/npu/): its integer arithmetic against hand-derived DPU cases, bit
// exactness with qnn's reference kernels under the npu_pow2 policy where the DPU's rule is that
// policy, and the exact reason of each layer-table and XINT8 rule that sends a node to the CPU.
#include <doctest/doctest.h>

#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "backend_test_util.hpp"
#include "qnn/backends/npu/dpu_arith.hpp"
#include "qnn/backends/npu/emulator.hpp"
#include "qnn/runtime/session.hpp"

using namespace qnn;
using namespace backend_test;
using backends::npu::Emulator;
using EmuSession = BasicSession<Emulator>;

namespace {

SessionOptions npu_options() {
  SessionOptions o;
  o.requant = RequantPolicy::npu_pow2;
  return o;
}

// The emulator's and the CPU's (npu_pow2) answers on one input.
struct Both {
  std::unique_ptr<EmuSession> emu;
  std::unique_ptr<Session> cpu;
  explicit Both(const Graph& g, SessionOptions o = npu_options())
      : emu(std::make_unique<EmuSession>(Graph(g), o)), cpu(std::make_unique<Session>(Graph(g), o)) {}
  const backends::NodePlacement& node(std::size_t i) const { return emu->partition().nodes.at(i); }
};

// Scale and zero point of storage T at position pos (uint8: zero point 128, int8: 0).
template <class T>
std::pair<std::string, std::string> quant(GraphBuilder& b, const std::string& name, int pos) {
  return xint8_quant(b, name, pos, std::same_as<T, std::uint8_t>);
}
template <class T>
constexpr std::int32_t zp_of() {
  return std::same_as<T, std::uint8_t> ? 128 : 0;
}
// Storage codes of the int8 values v (uint8: v + 128).
template <class T>
Tensor codes(const Shape& s, std::initializer_list<int> v) {
  std::vector<T> out;
  for (int x : v) out.push_back(static_cast<T>(x + zp_of<T>()));
  return Tensor::from<T>(s, std::span<const T>(out));
}
// The int8 values of storage codes.
template <class T>
std::vector<long long> ints(const Tensor& t) {
  std::vector<long long> out;
  for (T v : t.span<T>()) out.push_back(static_cast<long long>(v) - zp_of<T>());
  return out;
}

}  // namespace

// ---- the DPU's scalar rules ---------------------------------------------------------------------

TEST_CASE("npu arithmetic: shifts round half toward +inf, left shifts are exact, stores saturate") {
  using backends::npu::dpu_shift;
  using backends::npu::dpu_store;
  // 6/4 = 1.5 → 2; −6/4 = −1.5 → −1 (ties toward +∞, not away from zero); −7/4 = −1.75 → −2;
  // 5/4 = 1.25 → 1; −2/4 = −0.5 → 0; 3·4 = 12.
  CHECK(dpu_shift(6, 2) == 2);
  CHECK(dpu_shift(-6, 2) == -1);
  CHECK(dpu_shift(-7, 2) == -2);
  CHECK(dpu_shift(5, 2) == 1);
  CHECK(dpu_shift(-2, 2) == 0);
  CHECK(dpu_shift(3, -2) == 12);
  CHECK(dpu_shift(7, 0) == 7);
  // int8 saturation, then the XINT8 offset: 300 → 127 → 255; −300 → −128 → 0.
  CHECK(dpu_store(300, 128, 0, 255) == 255);
  CHECK(dpu_store(-300, 128, 0, 255) == 0);
  CHECK(dpu_store(-300, 0, -128, 127) == -128);
  CHECK(dpu_store(std::int64_t{1} << 50, 0, -128, 127) == 127);
}

TEST_CASE("npu arithmetic: LeakyReLU slope is round(256 alpha)/256, applied with one rounding") {
  using backends::npu::dpu_leaky_relu;
  using backends::npu::leaky_relu_slope;
  CHECK(leaky_relu_slope(0.1f) == 26);      // 25.6 → 26: α = 0.1015625 (Quark's example)
  CHECK(leaky_relu_slope(0.01f) == 3);      // 2.56 → 3
  CHECK(leaky_relu_slope(0.2f) == 51);      // 51.2 → 51
  CHECK(leaky_relu_slope(0.125f) == 32);    // exact
  CHECK(leaky_relu_slope(1.5f / 256) == 2);  // 1.5 → 2 (ties to even, Python's round)
  CHECK(leaky_relu_slope(2.5f / 256) == 2);  // 2.5 → 2
  // k = 32 (α = 1/8), same position in and out: −4·32/256 = −0.5 → 0; −12·32/256 = −1.5 → −1;
  // −13·32/256 = −1.625 → −2; positive values pass.
  CHECK(dpu_leaky_relu(-4, 32, 0, 0) == 0);
  CHECK(dpu_leaky_relu(-12, 32, 0, 0) == -1);
  CHECK(dpu_leaky_relu(-13, 32, 0, 0) == -2);
  CHECK(dpu_leaky_relu(50, 32, 0, 0) == 50);
  // α = 0.1 → k = 26: −125·26/256 = −12.695 → −13, where 0.1·(−125) = −12.5 would give −12 (rne).
  CHECK(dpu_leaky_relu(-125, 26, 0, 0) == -13);
  // Output one position finer (op = ip + 1): 5 → 10; −100·26/128 = −20.3125 → −20.
  CHECK(dpu_leaky_relu(5, 26, 0, 1) == 10);
  CHECK(dpu_leaky_relu(-100, 26, 0, 1) == -20);
}

TEST_CASE("npu arithmetic: the hard sigmoid is relu6(x + 3) * 2731/16384") {
  using backends::npu::dpu_hard_sigmoid;
  // ip = 4 (1/16), op = 7 (1/128): shift = 14 + 4 − 7 = 11.
  //   x = 0    v = 0:   t = 48,  48·2731 = 131088,  /2048 = 64.0078 → 64   (0.5)
  //   x = 1    v = 16:  t = 64,  174784/2048 = 85.34 → 85                  (0.664; 1/6 exactly: 85.33)
  //   x = 3    v = 48:  t = 96,  262176/2048 = 128.016 → 128               (saturates to 127 when stored)
  //   x = −3   v = −48: t = 0 → 0;  x < −3 stays 0;  x > 3 stays at t = 96
  CHECK(dpu_hard_sigmoid(0, 4, 7) == 64);
  CHECK(dpu_hard_sigmoid(16, 4, 7) == 85);
  CHECK(dpu_hard_sigmoid(48, 4, 7) == 128);
  CHECK(dpu_hard_sigmoid(-48, 4, 7) == 0);
  CHECK(dpu_hard_sigmoid(-100, 4, 7) == 0);
  CHECK(dpu_hard_sigmoid(127, 4, 7) == 128);
  // ip = 0, op = 8: shift 6; x = −2: t = 1 → 2731/64 = 42.67 → 43 (true hard sigmoid: 1/6 → 42.67).
  CHECK(dpu_hard_sigmoid(-2, 0, 8) == 43);
  CHECK(backends::npu::kHardSigmoidMultiplier == 2731);
}

TEST_CASE("npu arithmetic: average pooling factors k/2^n") {
  using backends::npu::AvgPoolFactor;
  using backends::npu::avg_pool_factor;
  // The DPU's fixed factors (Quark SimulateDPU, vai_q_pytorch get_avgpool_dpu_coeff).
  CHECK(avg_pool_factor(3, 3) == AvgPoolFactor{7, 6});     // 0.109375 for 1/9
  CHECK(avg_pool_factor(5, 5) == AvgPoolFactor{10, 8});    // 0.0390625 for 1/25
  CHECK(avg_pool_factor(6, 6) == AvgPoolFactor{7, 8});
  CHECK(avg_pool_factor(7, 7) == AvgPoolFactor{21, 10});
  CHECK(avg_pool_factor(14, 14) == AvgPoolFactor{21, 12});
  // Powers of two: the exact reciprocal at the first n that reaches it.
  CHECK(avg_pool_factor(1, 1) == AvgPoolFactor{1, 0});
  CHECK(avg_pool_factor(2, 2) == AvgPoolFactor{1, 2});
  CHECK(avg_pool_factor(4, 4) == AvgPoolFactor{1, 4});
  CHECK(avg_pool_factor(8, 8) == AvgPoolFactor{1, 6});
  // 9×9: n < 7 + 7; round(2^n/81): n = 13 → 101, 101/8192 = 0.0123291 (|Δ| = 1.66e−5), better than
  // n = 12 → 51/4096 (1.05e−4) and n = 11 → 25/2048 (1.4e−4).
  CHECK(avg_pool_factor(9, 9) == AvgPoolFactor{101, 13});
  // 10×10: n = 12 → 41/4096 and n = 13 → 82/8192 tie at |Δ| = 9.77e−6; the first wins.
  CHECK(avg_pool_factor(10, 10) == AvgPoolFactor{41, 12});
  // No factor: non-square windows, sides above 255.
  CHECK_FALSE(avg_pool_factor(2, 3).has_value());
  CHECK_FALSE(avg_pool_factor(256, 256).has_value());
}

// ---- the emulator's kernels in a session, hand-derived ---------------------------------------------

TEST_CASE_TEMPLATE("npu emulator: convolution shifts by shift_cut rounding half up, and saturates", T, std::uint8_t,
                   std::int8_t) {
  // 1×1 convolution, one channel: x at pos 1, w = 3 at pos 2, bias 2 (pos 3), y at pos 1:
  // shift_cut = 1 + 2 − 1 = 2, y = rhu((3v + 2) / 4).
  //   v = 10: 32/4 = 8      v = −10: −28/4 = −7     v = 7: 23/4 = 5.75 → 6    v = −7: −19/4 → −5
  //   v = 4: 14/4 = 3.5 → 4 v = −4: −10/4 = −2.5 → −2 (ties toward +∞)        v = 0: 0.5 → 1
  // With w = 100: v = 127 → 12702/4 = 3175.5 → 127 (saturated); v = −128 → −12798/4 → −128.
  for (const int wv : {3, 100}) {
    CAPTURE(wv);
    GraphBuilder b;
    b.input("x", dtype_of_v<T>, {1, 1, 1, 8});
    const auto [xs, xz] = quant<T>(b, "x", 1);
    const auto [ys, yz] = quant<T>(b, "y", 1);
    const std::string w = b.constant("w", Tensor::from<std::int8_t>(Shape{1, 1, 1, 1}, {static_cast<std::int8_t>(wv)}));
    const std::string ws = b.constant("ws", Tensor::scalar<float>(0.25f));
    const std::string wz = b.constant("wz", Tensor::scalar<std::int8_t>(0));
    const std::string bias = b.constant("bias", Tensor::from<std::int32_t>(Shape{1}, {2}));
    b.node("", "QLinearConv", {"x", xs, xz, w, ws, wz, ys, yz, bias}, {"y"});
    b.output("y");
    const Both s(b.g);
    CHECK(s.node(0).device == "npu-emu");
    const Tensor x = codes<T>(Shape{1, 1, 1, 8}, {10, -10, 7, -7, 4, -4, 0, wv == 3 ? 1 : 127});
    const Tensor y = s.emu->run({x})[0];
    if (wv == 3) {
      CHECK(ints<T>(y) == std::vector<long long>{8, -7, 6, -5, 4, -2, 1, 1});
    } else {
      // v = 10: 1002/4 = 250.5 → 127; −10: −998/4 → −128; 7: 702/4 = 175.5 → 127; 4: 402/4 = 100.5 → 101;
      // −4: −398/4 = −99.5 → −99; 0 → 1; 127 → 127.
      CHECK(ints<T>(y) == std::vector<long long>{127, -128, 127, -128, 101, -99, 1, 127});
    }
    CHECK(same_bytes(y, s.cpu->run({x})[0]));
  }
}

TEST_CASE_TEMPLATE("npu emulator: average pooling multiplies by k and shifts by n", T, std::uint8_t, std::int8_t) {
  SUBCASE("3x3: 7/64 instead of 1/9") {
    // A 3×3 window of 64s: 576·7 = 4032, /64 = 63 — the DPU's average is 63 where the true one is 64.
    // Window of 10s: 630/64 = 9.84 → 10. Window of −20s: −1260/64 = −19.69 → −20.
    GraphBuilder b;
    b.input("x", dtype_of_v<T>, {1, 3, 3, 3});
    const auto [xs, xz] = quant<T>(b, "x", 3);
    b.node("com.microsoft", "QLinearAveragePool", {"x", xs, xz, xs, xz}, {"y"})
        .attrs.set("kernel_shape", std::vector<std::int64_t>{3, 3});
    b.output("y");
    const EmuSession s(Graph(b.g), npu_options());
    CHECK(s.partition().nodes[0].device == "npu-emu");
    std::vector<int> v(27);
    for (int i = 0; i < 27; ++i) v[static_cast<std::size_t>(i)] = i < 9 ? 64 : i < 18 ? 10 : -20;
    std::vector<T> c;
    for (int x : v) c.push_back(static_cast<T>(x + zp_of<T>()));
    const Tensor x = Tensor::from<T>(Shape{1, 3, 3, 3}, std::span<const T>(c));
    CHECK(ints<T>(s.run({x})[0]) == std::vector<long long>{63, 10, -20});
    // The CPU's npu_pow2 policy has no rule for a divisor of 9 (its probe run refuses the model); the
    // emulator has the DPU's.
    CHECK_THROWS_WITH_AS([&] { const Session cpu(Graph(b.g), npu_options()); }(),
                         doctest::Contains("divides by 9, not a power of two"), qnn::error);
  }
  SUBCASE("global 7x7: 21/1024, saturating") {
    // 49 values of 64: 3136·21/1024 = 64.31 → 64; of 100: 102900/1024 = 100.49 → 100;
    // of 127: 130683/1024 = 127.62 → 128 → 127 (saturated).
    GraphBuilder b;
    b.input("x", dtype_of_v<T>, {1, 3, 7, 7});
    const auto [xs, xz] = quant<T>(b, "x", 2);
    b.node("com.microsoft", "QLinearGlobalAveragePool", {"x", xs, xz, xs, xz}, {"y"});
    b.output("y");
    const EmuSession s(Graph(b.g), npu_options());
    CHECK(s.partition().nodes[0].device == "npu-emu");
    std::vector<T> c;
    for (int ch : {64, 100, 127})
      for (int i = 0; i < 49; ++i) c.push_back(static_cast<T>(ch + zp_of<T>()));
    CHECK(ints<T>(s.run({Tensor::from<T>(Shape{1, 3, 7, 7}, std::span<const T>(c))})[0]) ==
          std::vector<long long>{64, 100, 127});
  }
  SUBCASE("2x2 windows: exactly the reference's npu_pow2 average") {
    GraphBuilder b;
    b.input("x", dtype_of_v<T>, {2, 4, 8, 6});
    const auto [xs, xz] = quant<T>(b, "x", 5);
    Node& n = b.node("com.microsoft", "QLinearAveragePool", {"x", xs, xz, xs, xz}, {"y"});
    n.attrs.set("kernel_shape", std::vector<std::int64_t>{2, 2});
    n.attrs.set("strides", std::vector<std::int64_t>{2, 2});
    b.output("y");
    const Both s(b.g);
    CHECK(s.node(0).device == "npu-emu");
    const Tensor x = std::same_as<T, std::uint8_t> ? random_uint8(Shape{2, 4, 8, 6}, 11) : random_int8(Shape{2, 4, 8, 6}, 11);
    CHECK(same_bytes(s.emu->run({x})[0], s.cpu->run({x})[0]));
  }
}

TEST_CASE_TEMPLATE("npu emulator: Sigmoid runs as the DPU's hard sigmoid", T, std::uint8_t, std::int8_t) {
  // x at pos 4, y at pos 7 (the cases of "npu arithmetic: the hard sigmoid").
  for (const bool unary : {false, true}) {
    GraphBuilder b;
    b.input("x", dtype_of_v<T>, {6});
    const auto [xs, xz] = quant<T>(b, "x", 4);
    const auto [ys, yz] = quant<T>(b, "y", 7);
    if (unary)
      b.node("qnn", "QLinearUnary", {"x", xs, xz, ys, yz}, {"y"}).attrs.set("activation", std::string("sigmoid"));
    else
      b.node("com.microsoft", "QLinearSigmoid", {"x", xs, xz, ys, yz}, {"y"});
    b.output("y");
    const EmuSession s(Graph(b.g), npu_options());
    CHECK(s.partition().nodes[0].device == "npu-emu");
    const Tensor x = codes<T>(Shape{6}, {-100, -48, 0, 16, 48, 127});
    // The float sigmoid would give 0.0019, 0.047, 0.5, 0.73, 0.95, 1.0 → 0, 6, 64, 94, 122, 127.
    CHECK(ints<T>(s.run({x})[0]) == std::vector<long long>{0, 0, 64, 85, 127, 127});
  }
}

TEST_CASE_TEMPLATE("npu emulator: LeakyReLU with alpha k/256, ReLU and Clip round half up", T, std::uint8_t,
                   std::int8_t) {
  auto one = [](const std::string& domain, const std::string& op, int ip, int opos,
                const std::function<void(Node&)>& attrs) {
    GraphBuilder b;
    b.input("x", dtype_of_v<T>, {5});
    const auto [xs, xz] = quant<T>(b, "x", ip);
    const auto [ys, yz] = quant<T>(b, "y", opos);
    attrs(b.node(domain, op, {"x", xs, xz, ys, yz}, {"y"}));
    b.output("y");
    return b.g;
  };
  SUBCASE("LeakyRelu 0.1 → 26/256") {
    const Graph g = one("com.microsoft", "QLinearLeakyRelu", 0, 0, [](Node& n) { n.attrs.set("alpha", 0.1f); });
    const EmuSession s(Graph(g), npu_options());
    CHECK(s.partition().nodes[0].device == "npu-emu");
    // −125 → −12.695 → −13; −100 → −10.16 → −10; −5 → −0.51 → −1; 50, 127 pass.
    const Tensor x = codes<T>(Shape{5}, {-125, -100, -5, 50, 127});
    CHECK(ints<T>(s.run({x})[0]) == std::vector<long long>{-13, -10, -1, 50, 127});
    // The CPU's table evaluates the float formula with α = 0.1: −12.5 rounds to −12.
    const Session cpu(Graph(g), npu_options());
    CHECK(ints<T>(cpu.run({x})[0])[0] == -12);
  }
  SUBCASE("Relu to a coarser position: 5/2 = 2.5 → 3") {
    const Graph g = one("qnn", "QLinearUnary", 3, 2, [](Node& n) { n.attrs.set("activation", std::string("relu")); });
    const EmuSession s(Graph(g), npu_options());
    CHECK(s.partition().nodes[0].device == "npu-emu");
    // 5 → 3, 7 → 3.5 → 4, −5 → 0, 6 → 3, 127 → 63.5 → 64.
    CHECK(ints<T>(s.run({codes<T>(Shape{5}, {5, 7, -5, 6, 127})})[0]) == std::vector<long long>{3, 4, 0, 3, 64});
  }
  SUBCASE("Clip at one position: a clamp, as the reference") {
    const Graph g = one("qnn", "QLinearUnary", 4, 4, [](Node& n) {
      n.attrs.set("activation", std::string("clip"));
      n.attrs.set("clip_min", -1.0f);
      n.attrs.set("clip_max", 2.0f);
    });
    const Both s(g);
    CHECK(s.node(0).device == "npu-emu");
    const Tensor x = codes<T>(Shape{5}, {-100, -16, 5, 32, 100});
    CHECK(ints<T>(s.emu->run({x})[0]) == std::vector<long long>{-16, -16, 5, 32, 32});
    CHECK(same_bytes(s.emu->run({x})[0], s.cpu->run({x})[0]));
  }
}

// ---- bit exactness where the DPU's rule is the npu_pow2 policy ------------------------------------

TEST_CASE_TEMPLATE("npu emulator: a conv/pool/add/mul/concat/FC network equals the reference under npu_pow2", T,
                   std::uint8_t, std::int8_t) {
  GraphBuilder b;
  b.input("x", dtype_of_v<T>, {kDynamicDim, 3, 12, 12});
  const auto q = [&](const std::string& n, int pos) { return quant<T>(b, n, pos); };
  const auto [xs, xz] = q("x", 5);
  const auto [c1s, c1z] = q("c1", 4);
  const auto [c2s, c2z] = q("c2", 3);
  const auto [c3s, c3z] = q("c3", 4);
  const auto [ss, sz] = q("s", 3);
  const auto [ms, mz] = q("m", 5);
  const auto [ys, yz] = q("y", 3);
  const std::string wz = b.constant("wz", Tensor::scalar<std::int8_t>(0));
  auto wscale = [&](int pos) { return b.constant("ws" + std::to_string(pos), Tensor::scalar<float>(std::ldexp(1.0f, -pos))); };
  const std::string w7 = wscale(7), w8 = wscale(8);

  Node& conv1 = b.node("", "QLinearConv", {"x", xs, xz, b.constant("w1", random_int8(Shape{8, 3, 3, 3}, 1, -127, 127)), w7, wz,
                                           c1s, c1z, b.constant("b1", random_int32(Shape{8}, 2, -4000, 4000))}, {"c1"});
  conv1.attrs.set("pads", std::vector<std::int64_t>{1, 1, 1, 1});
  conv1.attrs.set("qnn_activation", std::string("relu"));
  Node& mp = b.node("", "MaxPool", {"c1"}, {"p1"});
  mp.attrs.set("kernel_shape", std::vector<std::int64_t>{2, 2});
  mp.attrs.set("strides", std::vector<std::int64_t>{2, 2});
  // grouped 3×3 (pos 4 → 3: shift_cut 4 + 8 − 3 = 9) and 1×1 (shift_cut 7) branches
  Node& conv2 = b.node("", "QLinearConv", {"p1", c1s, c1z, b.constant("w2", random_int8(Shape{8, 4, 3, 3}, 3, -127, 127)), w8, wz,
                                           c2s, c2z}, {"c2"});
  conv2.attrs.set("pads", std::vector<std::int64_t>{1, 1, 1, 1});
  conv2.attrs.set("group", std::int64_t{2});
  b.node("", "QLinearConv", {"p1", c1s, c1z, b.constant("w3", random_int8(Shape{8, 8, 1, 1}, 4, -127, 127)), w7, wz, c3s, c3z},
         {"c3"});
  // residual Add (shift_read 1, shift_write 0), Mul (shift_write 3 + 4 − 5 = 2), depthwise conv to pos 5
  b.node("com.microsoft", "QLinearAdd", {"c2", c2s, c2z, "c3", c3s, c3z, ss, sz}, {"s"});
  b.node("com.microsoft", "QLinearMul", {"s", ss, sz, "p1", c1s, c1z, ms, mz}, {"m"});
  Node& dw = b.node("", "QLinearConv", {"p1", c1s, c1z, b.constant("w4", random_int8(Shape{8, 1, 3, 3}, 5, -127, 127)), w7, wz, ms, mz},
                    {"d"});
  dw.attrs.set("pads", std::vector<std::int64_t>{1, 1, 1, 1});
  dw.attrs.set("group", std::int64_t{8});
  b.node("com.microsoft", "QLinearConcat", {ms, mz, "m", ms, mz, "d", ms, mz}, {"cat"}).attrs.set("axis", std::int64_t{1});
  Node& ap = b.node("com.microsoft", "QLinearAveragePool", {"cat", ms, mz, ms, mz}, {"a"});
  ap.attrs.set("kernel_shape", std::vector<std::int64_t>{2, 2});
  ap.attrs.set("strides", std::vector<std::int64_t>{2, 2});
  b.node("", "Flatten", {"a"}, {"f"});
  b.node("com.microsoft", "QGemm", {"f", ms, mz, b.constant("g", random_int8(Shape{144, 10}, 6, -127, 127)), w8, wz,
                                    b.constant("gb", random_int32(Shape{10}, 7, -9000, 9000)), ys, yz}, {"y"});
  b.output("y");

  const Both s(b.g);
  const backends::Partition& p = s.emu->partition();
  for (const auto& n : p.nodes) {
    CAPTURE(n.node);
    CHECK(n.device == "npu-emu");
  }
  CHECK(p.subgraphs == 1);
  SessionOptions ro = npu_options();
  const BasicSession<backends::cpu::ReferenceBackend> ref(Graph(b.g), ro);
  for (const std::int64_t batch : {1, 3}) {
    CAPTURE(batch);
    const Shape shape{batch, 3, 12, 12};
    const Tensor x = std::same_as<T, std::uint8_t> ? random_uint8(shape, 20) : random_int8(shape, 20);
    const Tensor y = s.emu->run({x})[0];
    CHECK(same_bytes(y, s.cpu->run({x})[0]));
    CHECK(same_bytes(y, ref.run({x})[0]));
    // Not a degenerate network: the outputs are spread over the range.
    const auto v = ints<T>(y);
    CHECK(*std::max_element(v.begin(), v.end()) - *std::min_element(v.begin(), v.end()) > 20);
  }
}

TEST_CASE("npu emulator: MatMul with constant weights is an FC layer; of two activations it falls back") {
  for (const bool constant : {true, false}) {
    CAPTURE(constant);
    GraphBuilder b;
    b.input("a", DType::u8, {4, 16});
    const auto [as, az] = xint8_quant(b, "a", 4);
    const auto [ys, yz] = xint8_quant(b, "y", 2);
    const std::string ws = b.constant("ws", Tensor::scalar<float>(1.0f / 128));
    const std::string wz = b.constant("wz", Tensor::scalar<std::int8_t>(0));
    if (constant) b.constant("w", random_int8(Shape{16, 5}, 8, -127, 127));
    else b.input("w", DType::i8, {16, 5});
    b.node("", "QLinearMatMul", {"a", as, az, "w", ws, wz, ys, yz}, {"y"});
    b.output("y");
    const Both s(b.g);
    const Tensor a = random_uint8(Shape{4, 16}, 9);
    const Tensor w = random_int8(Shape{16, 5}, 8, -127, 127);
    if (constant) {
      CHECK(s.node(0).device == "npu-emu");
      CHECK(same_bytes(s.emu->run({a})[0], s.cpu->run({a})[0]));
    } else {
      CHECK(s.node(0).device == "cpu");
      CHECK(s.node(0).reason == "MatMul of two run-time tensors; the NPU's FC layer needs constant weights");
      CHECK(same_bytes(s.emu->run({a, w})[0], s.cpu->run({a, w})[0]));
    }
  }
}

// ---- the layer table and the XINT8 rules: each fallback and its reason ----------------------------

namespace {

// A one-conv graph: x (storage `xt`, scale sx, zero point zx) → QLinearConv → y.
Graph conv_graph(DType xt, float sx, int zx, std::vector<float> wscales, float sy, std::vector<std::int64_t> pads = {}) {
  GraphBuilder b;
  b.input("x", xt, {1, 4, 6, 6});
  auto zp = [&](const std::string& n, int v) {
    switch (xt) {
      case DType::u8: return b.constant(n, Tensor::scalar<std::uint8_t>(static_cast<std::uint8_t>(v)));
      case DType::i16: return b.constant(n, Tensor::scalar<std::int16_t>(static_cast<std::int16_t>(v)));
      default: return b.constant(n, Tensor::scalar<std::int8_t>(static_cast<std::int8_t>(v)));
    }
  };
  const std::string xs = b.constant("xs", Tensor::scalar<float>(sx)), xz = zp("xz", zx);
  const std::string ys = b.constant("ys", Tensor::scalar<float>(sy)), yz = zp("yz", zx);
  const auto m = static_cast<std::int64_t>(wscales.size() == 1 ? 4 : wscales.size());
  const std::string ws = b.constant("ws", wscales.size() == 1 ? Tensor::scalar<float>(wscales[0])
                                                            : Tensor::from<float>(Shape{m}, std::span<const float>(wscales)));
  const std::string wz = b.constant("wz", wscales.size() == 1 ? Tensor::scalar<std::int8_t>(0)
                                                            : Tensor(DType::i8, Shape{m}));
  Node& c = b.node("", "QLinearConv", {"x", xs, xz, b.constant("w", random_int8(Shape{m, 4, 3, 3}, 30, -127, 127)), ws, wz, ys, yz},
                   {"y"});
  if (!pads.empty()) c.attrs.set("pads", pads);
  b.output("y");
  return b.g;
}

// The reason node `node` falls back ("" when the emulator takes it). The session uses the default
// policy: fallback nodes such as a 2x3 average pool have no npu_pow2 rule on the CPU either.
std::string reason(const Graph& g, std::size_t node = 0, SessionOptions o = {}) {
  const EmuSession s(Graph(g), o);
  const auto& n = s.partition().nodes.at(node);
  CHECK(n.device == (n.reason.empty() ? "npu-emu" : "cpu"));
  return n.reason;
}

Graph pool_graph(const char* op, std::vector<std::int64_t> dims, std::vector<std::int64_t> kernel,
                 std::vector<std::int64_t> pads = {}, int xpos = 4, int ypos = 4, std::int64_t include_pad = -1) {
  GraphBuilder b;
  b.input("x", DType::u8, dims);
  const auto [xs, xz] = xint8_quant(b, "x", xpos);
  const auto [ys, yz] = xint8_quant(b, "y", ypos);
  Node& n = std::string(op) == "MaxPool" ? b.node("", "MaxPool", {"x"}, {"y"})
          : std::string(op) == "GlobalAveragePool"
              ? b.node("com.microsoft", "QLinearGlobalAveragePool", {"x", xs, xz, ys, yz}, {"y"})
              : b.node("com.microsoft", "QLinearAveragePool", {"x", xs, xz, ys, yz}, {"y"});
  if (!kernel.empty()) n.attrs.set("kernel_shape", kernel);
  if (!pads.empty()) n.attrs.set("pads", pads);
  if (include_pad >= 0) n.attrs.set("count_include_pad", include_pad);
  b.output("y");
  return b.g;
}

Graph eltwise_graph(const char* op, std::vector<std::int64_t> da, std::vector<std::int64_t> db, int pa, int pb, int pc) {
  GraphBuilder b;
  b.input("a", DType::u8, da);
  b.input("b", DType::u8, db);
  const auto [as, az] = xint8_quant(b, "a", pa);
  const auto [bs, bz] = xint8_quant(b, "b", pb);
  const auto [cs, cz] = xint8_quant(b, "c", pc);
  b.node("com.microsoft", op, {"a", as, az, "b", bs, bz, cs, cz}, {"y"});
  b.output("y");
  return b.g;
}

Graph unary_graph(const std::string& act, int ip, int op, float alpha = -1) {
  GraphBuilder b;
  b.input("x", DType::u8, {8});
  const auto [xs, xz] = xint8_quant(b, "x", ip);
  const auto [ys, yz] = xint8_quant(b, "y", op);
  Node& n = b.node("qnn", "QLinearUnary", {"x", xs, xz, ys, yz}, {"y"});
  n.attrs.set("activation", act);
  if (alpha >= 0) n.attrs.set("alpha", alpha);
  b.output("y");
  return b.g;
}

}  // namespace

TEST_CASE("npu layer table: pooling window and padding limits") {
  CHECK(reason(pool_graph("MaxPool", {1, 2, 8, 8}, {2, 2})).empty());
  CHECK(reason(pool_graph("MaxPool", {1, 2, 8, 8}, {2, 1})) ==
        "MaxPool kernel 2x1 is not supported by the NPU (kernels 2x1, 1x2, 3x1 and 1x3)");
  CHECK(reason(pool_graph("MaxPool", {1, 2, 8, 8}, {1, 3})) ==
        "MaxPool kernel 1x3 is not supported by the NPU (kernels 2x1, 1x2, 3x1 and 1x3)");
  CHECK(reason(pool_graph("MaxPool", {1, 1, 64, 64}, {64, 32})).empty());  // 2048 taps: the limit
  CHECK(reason(pool_graph("MaxPool", {1, 1, 64, 64}, {64, 64})) ==
        "MaxPool kernel 64x64 (4096 taps) exceeds the NPU limit of W x H <= 2048");
  CHECK(reason(pool_graph("MaxPool", {1, 1, 8, 8}, {31, 3}, {15, 1, 15, 1})).empty());  // 15 px: the limit
  CHECK(reason(pool_graph("MaxPool", {1, 1, 8, 8}, {33, 3}, {16, 1, 16, 1})) ==
        "MaxPool padding (top 16, left 1, bottom 16, right 1) exceeds the NPU limit of 15 pixels per edge");
  CHECK(reason(pool_graph("AveragePool", {1, 1, 8, 8}, {3, 3}, {1, 1, 1, 1}, 4, 4, 1)).empty());
  CHECK(reason(pool_graph("AveragePool", {1, 1, 8, 8}, {3, 3}, {1, 1, 1, 1}, 4, 4, 0)) ==
        "AveragePool with padding excluded from the divisor (count_include_pad = 0): the NPU does not support "
        "excluding padding");
  CHECK(reason(pool_graph("AveragePool", {1, 1, 8, 8}, {2, 3})) ==
        "non-square AveragePool window 2x3: the NPU's averaging factor k/2^n is defined for square windows only");
  CHECK(reason(pool_graph("AveragePool", {1, 1, 8, 8}, {2, 2}, {}, 4, 5)) ==
        "align_pool: input position 4 differs from output position 5; the NPU pools at one position");
  CHECK(reason(pool_graph("GlobalAveragePool", {1, 3, 4, 8}, {})) ==
        "non-square GlobalAveragePool window 4x8: the NPU's averaging factor k/2^n is defined for square windows only");
  CHECK(reason(pool_graph("GlobalAveragePool", {1, 3, 64, 64}, {})) ==
        "GlobalAveragePool window 64x64 (4096 taps) exceeds the NPU limit of W x H <= 2048");
  CHECK(reason(pool_graph("GlobalAveragePool", {1, 3, 32, 32}, {})).empty());
}

TEST_CASE("npu layer table: conv quantization rules (XINT8) and padding") {
  const float s4 = 1.0f / 16;
  CHECK(reason(conv_graph(DType::u8, s4, 128, {1.0f / 128}, 1.0f / 8)).empty());
  CHECK(reason(conv_graph(DType::i8, s4, 0, {1.0f / 128}, 1.0f / 8)).empty());
  CHECK(reason(conv_graph(DType::u8, s4, 128, {1.0f / 128, 1.0f / 64, 1.0f / 128, 1.0f / 128}, 1.0f / 8)) ==
        "per-channel weight quantization (4 scales); XINT8 quantizes weights per tensor");
  CHECK(reason(conv_graph(DType::u8, 0.3f, 128, {1.0f / 128}, 1.0f / 8)) ==
        "x: scale 0.3 is not a power of two (XINT8 scales are 2^-pos)");
  CHECK(reason(conv_graph(DType::u8, s4, 3, {1.0f / 128}, 1.0f / 8)) ==
        "x: uint8 zero point 3; NPU activations are symmetric (int8 zero point 0, or XINT8's uint8 zero point 128)");
  CHECK(reason(conv_graph(DType::i16, s4, 0, {1.0f / 128}, 1.0f / 8)) ==
        "x is int16 (A16W8): the NPU's INT8 path takes 8-bit activations");
  // shift_cut = 10 + 8 − 1 = 17; 16 is the last accepted value
  CHECK(reason(conv_graph(DType::u8, 1.0f / 256, 128, {1.0f / 1024}, 0.5f)) ==
        "shift_cut = wpos + ipos - opos = 10 + 8 - 1 = 17 is outside the NPU's range [0, 16]");
  CHECK(reason(conv_graph(DType::u8, 1.0f / 256, 128, {1.0f / 1024}, 0.25f)).empty());
  CHECK(reason(conv_graph(DType::u8, 1.0f / 2, 128, {1.0f / 2}, 1.0f / 4)).empty());  // shift_cut 0
  CHECK(reason(conv_graph(DType::u8, 1.0f / 2, 128, {1.0f / 2}, 1.0f / 8)) ==
        "shift_cut = wpos + ipos - opos = 1 + 1 - 3 = -1 is outside the NPU's range [0, 16]");
  CHECK(reason(conv_graph(DType::u8, s4, 128, {1.0f / 128}, 1.0f / 8, {15, 15, 15, 15})).empty());
  CHECK(reason(conv_graph(DType::u8, s4, 128, {1.0f / 128}, 1.0f / 8, {1, 16, 1, 1})) ==
        "Conv padding (top 1, left 16, bottom 1, right 1) exceeds the NPU limit of 15 pixels per edge");
}

TEST_CASE("npu layer table: element-wise shift and shape rules") {
  CHECK(reason(eltwise_graph("QLinearAdd", {1, 4, 3, 3}, {1, 4, 3, 3}, 1, 8, 1)).empty());
  CHECK(reason(eltwise_graph("QLinearAdd", {1, 4, 3, 3}, {1, 4, 3, 3}, 1, 9, 1)) ==
        "shift_read = max(ipos) - min(ipos) = 9 - 1 = 8 exceeds the NPU's limit 7");
  CHECK(reason(eltwise_graph("QLinearAdd", {1, 4, 3, 3}, {1, 4, 3, 3}, 2, 3, 10)) ==
        "shift_write = min(ipos) - opos = 2 - 10 = -8 is outside the NPU's range [-7, 25]");
  CHECK(reason(eltwise_graph("QLinearAdd", {1, 4, 3, 3}, {1, 1, 3, 3}, 2, 2, 2)) ==
        "broadcast Add of run-time tensors [1,4,3,3] and [1,1,3,3] is not in the NPU layer-support table (equal "
        "shapes, or a constant operand)");
  CHECK(reason(eltwise_graph("QLinearMul", {1, 4, 3, 3}, {1, 1, 3, 3}, 2, 2, 2)).empty());  // W×H×1
  CHECK(reason(eltwise_graph("QLinearMul", {1, 4, 3, 3}, {1, 4, 1, 1}, 2, 2, 2)) ==
        "Mul by a 1x1xC run-time tensor ([1,4,3,3] * [1,4,1,1]) is APU-only on the NPU");
  CHECK(reason(eltwise_graph("QLinearMul", {1, 4, 3, 3}, {1, 4, 3, 3}, 2, 2, 5)) ==
        "shift_write = ipos0 + ipos1 - opos = 2 + 2 - 5 = -1 is outside the NPU's range [0, 32]");
  // The supported ones compute what the CPU computes under npu_pow2.
  const Graph mul = eltwise_graph("QLinearMul", {1, 4, 3, 3}, {1, 1, 3, 3}, 2, 3, 2);
  const Both s(mul);
  const Tensor a = random_uint8(Shape{1, 4, 3, 3}, 40), bb = random_uint8(Shape{1, 1, 3, 3}, 41);
  CHECK(same_bytes(s.emu->run({a, bb})[0], s.cpu->run({a, bb})[0]));
}

TEST_CASE("npu layer table: activations") {
  CHECK(reason(unary_graph("tanh", 4, 7)) ==
        "Tanh runs on the NPU as an approximation with up to 16 intervals whose breakpoints are not published; the "
        "emulator cannot reproduce it bit for bit");
  CHECK(reason(unary_graph("hard_swish", 4, 4)).find("HardSwish runs on the NPU as an approximation") == 0);
  CHECK(reason(unary_graph("hard_sigmoid", 4, 7, 0.2f)) ==
        "HardSigmoid alpha 0.2, beta 0.5: the NPU computes relu6(x + 3) * 2731/16384 (alpha 1/6, beta 0.5) only");
  CHECK(reason(unary_graph("hard_sigmoid", 4, 7, 1.0f / 6)).empty());
  CHECK(reason(unary_graph("sigmoid", 4, 6)) == "hard sigmoid output position 6 is below the NPU's minimum 7");
  CHECK(reason(unary_graph("sigmoid", 16, 7)) == "hard sigmoid input position 16 is outside the NPU's range [0, 15]");
  CHECK(reason(unary_graph("sigmoid", -1, 7)) == "hard sigmoid input position -1 is outside the NPU's range [0, 15]");
  CHECK(reason(unary_graph("sigmoid", 0, 15)) == "shift_sigmoid = 14 + ipos - opos = -1 is outside the NPU's range [0, 31]");
  CHECK(reason(unary_graph("sigmoid", 0, 14)).empty());
}

TEST_CASE("npu layer table: float and host nodes, and fallbacks still compute on the CPU") {
  // Conv left in float (not quantized), between a Quantize/Dequantize pair.
  GraphBuilder b;
  b.input("x", DType::f32, {kDynamicDim, 2, 5, 5});
  const auto [xs, xz] = xint8_quant(b, "q", 3);
  b.node("", "QuantizeLinear", {"x", xs, xz}, {"q"});
  Node& mp = b.node("", "MaxPool", {"q"}, {"m"});
  mp.attrs.set("kernel_shape", std::vector<std::int64_t>{2, 2});
  b.node("", "DequantizeLinear", {"m", xs, xz}, {"d"});
  b.node("", "Conv", {"d", b.constant("w", Tensor::from<float>(Shape{3, 2, 1, 1}, {1, 2, 3, 4, 5, 6}))}, {"y"});
  b.output("y");
  const Both s(b.g);
  const auto& p = s.emu->partition();
  REQUIRE(p.nodes.size() == 4);
  CHECK(p.nodes[0].reason ==
        "quantizes float data: the NPU computes on INT8 tensors, the model input is quantized on the host");
  CHECK(p.nodes[1].device == "npu-emu");
  CHECK(p.nodes[2].reason == "produces float data: the NPU writes INT8 tensors, dequantizing runs on the host");
  CHECK(p.nodes[3].reason ==
        "Conv on float32 data: only quantized (INT8) layers run on the NPU, and this node was not quantized");
  CHECK(p.nodes[3].macs == 3 * 2 * 4 * 4);
  const auto t = p.totals();
  CHECK(t[0].nodes == 1);
  CHECK(t[1].nodes == 3);
  CHECK(t[1].macs == 96);
  Tensor x(DType::f32, Shape{2, 2, 5, 5});
  float v = -3.0f;
  for (float& e : x.span<float>()) e = (v += 0.173f);
  CHECK(same_bytes(s.emu->run({x})[0], s.cpu->run({x})[0]));
}
