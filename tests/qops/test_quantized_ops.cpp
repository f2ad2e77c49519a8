// Hand-derived cases for the quantized operators (runtime/ops/quantized_ops.hpp), run as one-node
// graphs through a Session: the numbers below are worked out in the comments, independently of the
// kernels. Error cases check that what qnn cannot honour is refused when the session is prepared.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "qnn/kernels/ref/activation.hpp"
#include "qnn/kernels/ref/eltwise.hpp"
#include "qops_test_util.hpp"

namespace {

using namespace qops_test;
using doctest::Contains;
using V = std::vector<long long>;
using U8 = std::uint8_t;
using S8 = std::int8_t;
using S16 = std::int16_t;
using U16 = std::uint16_t;
using S32 = std::int32_t;

const float kNaN = std::numeric_limits<float>::quiet_NaN();
const float kInf = std::numeric_limits<float>::infinity();

// ================================================================================================
// QuantizeLinear / DequantizeLinear
// ================================================================================================

// s = 0.5, zp = 10: x/s = [0.5 1.5 2.5 −0.5 400 −400 NaN ∞ −∞] → rne [0 2 2 0 sat sat] + 10;
// NaN → qmin (ONNX Runtime's x86 result), ±∞ saturate.
TEST_CASE("QuantizeLinear: ties to even, saturation, NaN and infinities (uint8)") {
  OneNode q("", "QuantizeLinear");
  q.in("x", DType::f32, Shape{9}).c("s", scalar(0.5f)).c("z", scalar<U8>(10));
  const Tensor y = q.run({t<float>(Shape{9}, {0.25f, 0.75f, 1.25f, -0.25f, 200.f, -200.f, kNaN, kInf, -kInf})});
  CHECK(values<U8>(y) == V{10, 12, 12, 10, 255, 0, 0, 255, 0});
}

// axis 1, scales [1, 0.1], zero points [0, −5]: column 0: 1.5 → 2, −2.5 → −2; column 1:
// fp32(0.35)/fp32(0.1) is 3.49999988… exactly, which rounds to the fp32 3.5 → 4 (even) − 5 = −1;
// −13/0.1 = −130 clamps to −123 → −128.
TEST_CASE("QuantizeLinear: per axis, int8") {
  OneNode q("", "QuantizeLinear");
  q.in("x", DType::f32, Shape{2, 2}).c("s", t<float>(Shape{2}, {1.0f, 0.1f})).c("z", t<S8>(Shape{2}, {0, -5}));
  q.attr("axis", std::int64_t{1});
  CHECK(values<S8>(q.run({t<float>(Shape{2, 2}, {1.5f, 0.35f, -2.5f, -13.f})})) == V{2, -1, -2, -128});
}

TEST_CASE("QuantizeLinear: 16-bit outputs from the zero point, output_dtype, com.microsoft") {
  OneNode q("", "QuantizeLinear");
  q.in("x", DType::f32, Shape{2}).c("s", scalar(1.0f)).c("z", scalar<S16>(-1));
  CHECK(values<S16>(q.run({t<float>(Shape{2}, {1.5f, 70000.f})})) == V{1, 32767});

  OneNode o("", "QuantizeLinear");  // opset 21: output_dtype = INT16 (5) without a zero point
  o.in("x", DType::f32, Shape{2}).c("s", scalar(1.0f)).attr("output_dtype", std::int64_t{5});
  const Tensor y = o.run({t<float>(Shape{2}, {-3.5f, 2.5f})});
  CHECK(y.dtype() == DType::i16);
  CHECK(values<S16>(y) == V{-4, 2});

  OneNode m("com.microsoft", "QuantizeLinear");
  m.in("x", DType::f32, Shape{2}).c("s", scalar(2.0f)).c("z", scalar<U16>(32768));
  CHECK(values<U16>(m.run({t<float>(Shape{2}, {3.0f, -1e9f})})) == V{32770, 0});

  OneNode d("", "QuantizeLinear");  // no zero point: uint8
  d.in("x", DType::f32, Shape{2}).c("s", scalar(1.0f));
  const Tensor u = d.run({t<float>(Shape{2}, {-1.0f, 300.0f})});
  CHECK(u.dtype() == DType::u8);
  CHECK(values<U8>(u) == V{0, 255});
}

TEST_CASE("QuantizeLinear / DequantizeLinear: refused settings") {
  OneNode b("", "QuantizeLinear");
  b.in("x", DType::f32, Shape{4}).c("s", scalar(1.0f)).attr("block_size", std::int64_t{2});
  CHECK_THROWS_WITH_AS(b.session(), Contains("blocked quantization is not supported"), qnn::error);

  OneNode s("", "QuantizeLinear");
  s.in("x", DType::f32, Shape{4}).c("s", scalar(1.0f)).attr("saturate", std::int64_t{0});
  CHECK_THROWS_WITH_AS(s.session(), Contains("saturate = 0"), qnn::error);

  OneNode o("", "QuantizeLinear");  // output_dtype INT8 (3) against a uint8 zero point
  o.in("x", DType::f32, Shape{4}).c("s", scalar(1.0f)).c("z", scalar<U8>(0)).attr("output_dtype", std::int64_t{3});
  CHECK_THROWS_WITH_AS(o.session(), Contains("differs from y_zero_point's type"), qnn::error);

  OneNode d("", "DequantizeLinear");  // x and zero point of different types
  d.in("x", DType::i8, Shape{4}).c("s", scalar(1.0f)).c("z", scalar<U8>(0));
  CHECK_THROWS_WITH_AS(d.session(), Contains("x is int8 but x_zero_point is uint8"), qnn::error);

  OneNode k("", "DequantizeLinear");  // a 2-D scale is blocked quantization
  k.in("x", DType::u8, Shape{2, 2}).c("s", t<float>(Shape{2, 1}, {1.0f, 2.0f})).c("z", t<U8>(Shape{2, 1}, {0, 0}));
  CHECK_THROWS_WITH_AS(k.session(), Contains("blocked quantization"), qnn::error);
}

// int8 per axis 0: scales [0.5, 2], zero points [1, −1]: [(1−1)·0.5, (2−1)·0.5; (3+1)·2, (4+1)·2].
// int32 (a bias): [100, −7] · 0.25. com.microsoft uint16: (65535 − 32768) · 1.
TEST_CASE("DequantizeLinear: per axis, int32, com.microsoft 16-bit") {
  OneNode d("", "DequantizeLinear");
  d.in("x", DType::i8, Shape{2, 2}).c("s", t<float>(Shape{2}, {0.5f, 2.0f})).c("z", t<S8>(Shape{2}, {1, -1}));
  d.attr("axis", std::int64_t{0});
  CHECK(fvalues(d.run({t<S8>(Shape{2, 2}, {1, 2, 3, 4})})) == std::vector<float>{0.0f, 0.5f, 8.0f, 10.0f});

  OneNode b("", "DequantizeLinear");
  b.in("x", DType::i32, Shape{2}).c("s", scalar(0.25f));
  CHECK(fvalues(b.run({t<S32>(Shape{2}, {100, -7})})) == std::vector<float>{25.0f, -1.75f});

  OneNode m("com.microsoft", "DequantizeLinear");
  m.in("x", DType::u16, Shape{1}).c("s", scalar(1.0f)).c("z", scalar<U16>(32768));
  CHECK(fvalues(m.run({t<U16>(Shape{1}, {65535})})) == std::vector<float>{32767.0f});
}

// npu-pow2: the DPU quantizes activations rounding half up (numerics.md §2, §6), and only with
// power-of-two scales. s = 0.5: x/s = [0.5 1.5 −0.5 −1.5 2.5] → rhu [1 2 0 −1 3]; onnx-float rne
// [0 2 0 −2 2].
TEST_CASE("QuantizeLinear: npu-pow2 rounds half up") {
  auto make = [](const char* policy, float s) {
    OneNode q("", "QuantizeLinear");
    q.in("x", DType::f32, Shape{5}).c("s", scalar(s)).c("z", scalar<S8>(0)).attr("qnn_requant", std::string(policy));
    return q;
  };
  const Tensor x = t<float>(Shape{5}, {0.25f, 0.75f, -0.25f, -0.75f, 1.25f});
  CHECK(values<S8>(make("npu-pow2", 0.5f).run({x})) == V{1, 2, 0, -1, 3});
  CHECK(values<S8>(make("onnx-float", 0.5f).run({x})) == V{0, 2, 0, -2, 2});
  CHECK_THROWS_WITH_AS(make("npu-pow2", 0.3f).session(), Contains("0.3 is not a power of two"), qnn::error);
  // A constant input is a weight being folded: round half away from zero → [1 2 −1 −2 3].
  OneNode w("", "QuantizeLinear");
  w.c("x", x).c("s", scalar(0.5f)).c("z", scalar<S8>(0)).attr("qnn_requant", std::string("npu-pow2"));
  CHECK(values<S8>(w.run({})) == V{1, 2, -1, -2, 3});
}

// Run-time scale and zero point (as the ONNX conformance models give them).
TEST_CASE("QuantizeLinear: run-time scale and zero point") {
  OneNode q("", "QuantizeLinear");
  q.in("x", DType::f32, Shape{3}).in("s", DType::f32, Shape{}).in("z", DType::i8, Shape{});
  auto s = q.session();
  const auto y = s->run({t<float>(Shape{3}, {1.0f, 2.0f, 3.0f}), scalar(2.0f), scalar<S8>(-1)});
  CHECK(values<S8>(y[0]) == V{-1, 0, 1});  // 0.5 → 0, 1 → 1, 1.5 → 2, minus 1
}

// ================================================================================================
// QLinearConv
// ================================================================================================

// x − zx = [1..9] as 3×3 (zx = 2), w − zw = [[1 0] [0 1]] (zw = 100), bias 1, scales 0.5 · 0.5 / 0.5:
// acc = x[i,j] + x[i+1,j+1] + 1 = [7 9 13 15] → ·0.5 = [3.5 4.5 6.5 7.5] → rne [4 4 6 8] + 128.
TEST_CASE("QLinearConv: uint8, per-tensor weights, bias, ties to even") {
  OneNode c("", "QLinearConv", 10);
  c.in("x", DType::u8, Shape{1, 1, 3, 3}).c("xs", scalar(0.5f)).c("xz", scalar<U8>(2));
  c.c("w", t<U8>(Shape{1, 1, 2, 2}, {101, 100, 100, 101})).c("ws", scalar(0.5f)).c("wz", scalar<U8>(100));
  c.c("ys", scalar(0.5f)).c("yz", scalar<U8>(128)).c("b", t<S32>(Shape{1}, {1}));
  CHECK(values<U8>(c.run({t<U8>(Shape{1, 1, 3, 3}, {3, 4, 5, 6, 7, 8, 9, 10, 11})})) == V{132, 132, 134, 136});
}

// Two output channels, int8 weights per channel (scales 0.5 and 1, zero points 0):
//   ch0 w = [[1 0] [0 1]]: acc [6 8 12 14] · (1 · 0.5 / 2) = [1.5 2 3 3.5] → [2 2 3 4]
//   ch1 w = [[0 1] [1 0]]: acc [6 8 12 14] · (1 · 1 / 2)   = [3 4 6 7]
TEST_CASE("QLinearConv: per-channel int8 weights") {
  OneNode c("", "QLinearConv", 13);
  c.in("x", DType::u8, Shape{1, 1, 3, 3}).c("xs", scalar(1.0f)).c("xz", scalar<U8>(0));
  c.c("w", t<S8>(Shape{2, 1, 2, 2}, {1, 0, 0, 1, 0, 1, 1, 0})).c("ws", t<float>(Shape{2}, {0.5f, 1.0f}));
  c.c("wz", t<S8>(Shape{2}, {0, 0})).c("ys", scalar(2.0f)).c("yz", scalar<U8>(0));
  CHECK(values<U8>(c.run({t<U8>(Shape{1, 1, 3, 3}, {1, 2, 3, 4, 5, 6, 7, 8, 9})})) == V{2, 2, 3, 4, 3, 4, 6, 7});
}

// A 1×1 identity conv of int8 values [1 2 6 −2 −6] with scale ratio 1·1/4 (every scale a power of
// two), so each policy's rounding of acc/4 shows (numerics.md §4):
//   onnx-float            rne(acc/4)                       [0 0 2 0 −2]
//   tflite-double-round   SRDHM (ties up) then RDBPOT(1)  [1 1 2 −1 −2]  (1/4 → 1/2 → 1: two roundings)
//   tflite-single-round   (acc + 2) >> 2                   [0 1 2 0 −1]
//   npu-pow2              rhu(acc / 2^2)                   [0 1 2 0 −1]
TEST_CASE("QLinearConv: qnn_requant selects the policy per node, the session option is the default") {
  auto make = [](const char* policy) {
    OneNode c("", "QLinearConv", 13);
    c.in("x", DType::i8, Shape{1, 1, 1, 5}).c("xs", scalar(1.0f)).c("xz", scalar<S8>(0));
    c.c("w", t<S8>(Shape{1, 1, 1, 1}, {1})).c("ws", scalar(1.0f)).c("wz", scalar<S8>(0));
    c.c("ys", scalar(4.0f)).c("yz", scalar<S8>(0));
    if (policy) c.attr("qnn_requant", std::string(policy));
    return c;
  };
  const Tensor x = t<S8>(Shape{1, 1, 1, 5}, {1, 2, 6, -2, -6});
  CHECK(values<S8>(make(nullptr).run({x})) == V{0, 0, 2, 0, -2});
  CHECK(values<S8>(make("onnx-float").run({x})) == V{0, 0, 2, 0, -2});
  CHECK(values<S8>(make("tflite-double-round").run({x})) == V{1, 1, 2, -1, -2});
  CHECK(values<S8>(make("tflite-single-round").run({x})) == V{0, 1, 2, 0, -1});
  CHECK(values<S8>(make("npu-pow2").run({x})) == V{0, 1, 2, 0, -1});
  SessionOptions o;
  o.requant = RequantPolicy::tflite_single_round;
  CHECK(values<S8>(make(nullptr).run({x}, o)) == V{0, 1, 2, 0, -1});
  CHECK(values<S8>(make("onnx-float").run({x}, o)) == V{0, 0, 2, 0, -2});  // the attribute wins

  auto bad = make("npu-pow2");
  bad.n.inputs[6] = "ys3";
  bad.g.ensure_value("ys3").constant = scalar(3.0f);
  CHECK_THROWS_WITH_AS(bad.session(), Contains("is not a power of two"), qnn::error);
  CHECK_THROWS_WITH_AS(make("round-somehow").session(), Contains("qnn_requant 'round-somehow'"), qnn::error);
}

// The same conv with a fused ReLU (q ≥ zp) or Clip [−4, 4] (bounds rne(±4/4) = ±1).
TEST_CASE("QLinearConv: fused ReLU and Clip from qnn_activation") {
  auto make = [] {
    OneNode c("", "QLinearConv", 13);
    c.in("x", DType::i8, Shape{1, 1, 1, 5}).c("xs", scalar(1.0f)).c("xz", scalar<S8>(0));
    c.c("w", t<S8>(Shape{1, 1, 1, 1}, {1})).c("ws", scalar(1.0f)).c("wz", scalar<S8>(0));
    c.c("ys", scalar(4.0f)).c("yz", scalar<S8>(0));
    return c;
  };
  const Tensor x = t<S8>(Shape{1, 1, 1, 5}, {1, 2, 100, -2, -100});
  CHECK(values<S8>(make().attr("qnn_activation", std::string("relu")).run({x})) == V{0, 0, 25, 0, 0});
  CHECK(values<S8>(make()
                       .attr("qnn_activation", std::string("clip"))
                       .attr("qnn_clip_min", -4.0f)
                       .attr("qnn_clip_max", 4.0f)
                       .run({x})) == V{0, 0, 1, 0, -1});
  CHECK_THROWS_WITH_AS(make().attr("qnn_clip_min", -4.0f).session(), Contains("without qnn_activation"), qnn::error);
  CHECK_THROWS_WITH_AS(make().attr("qnn_activation", std::string("gelu")).session(), Contains("qnn_activation 'gelu'"),
                       qnn::error);
}

// A16W8: int16 activations, int8 weights, int64 accumulators. w = 3, bias 100, ratio 1/2:
// acc = 3x + 100 = [3100 −5900 90100] → [1550 −2950 45050 → 32767].
TEST_CASE("QLinearConv: A16W8 (int16 activations)") {
  OneNode c("", "QLinearConv", 13);
  c.in("x", DType::i16, Shape{1, 1, 1, 3}).c("xs", scalar(1.0f)).c("xz", scalar<S16>(0));
  c.c("w", t<S8>(Shape{1, 1, 1, 1}, {3})).c("ws", scalar(1.0f)).c("wz", scalar<S8>(0));
  c.c("ys", scalar(2.0f)).c("yz", scalar<S16>(0)).c("b", t<S32>(Shape{1}, {100}));
  CHECK(values<S16>(c.run({t<S16>(Shape{1, 1, 1, 3}, {1000, -2000, 30000})})) == V{1550, -2950, 32767});
}

// 1-D conv, pads [1, 1], stride 2: x = [1 2 3 4 5], w = [1 1 1] → windows [0 1 2], [2 3 4], [4 5 0].
TEST_CASE("QLinearConv: 1-D with pads and strides") {
  OneNode c("", "QLinearConv", 13);
  c.in("x", DType::u8, Shape{1, 1, 5}).c("xs", scalar(1.0f)).c("xz", scalar<U8>(0));
  c.c("w", t<U8>(Shape{1, 1, 3}, {1, 1, 1})).c("ws", scalar(1.0f)).c("wz", scalar<U8>(0));
  c.c("ys", scalar(1.0f)).c("yz", scalar<U8>(0));
  c.attr("pads", std::vector<std::int64_t>{1, 1}).attr("strides", std::vector<std::int64_t>{2});
  const Tensor y = c.run({t<U8>(Shape{1, 1, 5}, {1, 2, 3, 4, 5})});
  CHECK(y.shape() == Shape{1, 1, 3});
  CHECK(values<U8>(y) == V{3, 9, 9});
}

TEST_CASE("QLinearConv: refused models") {
  auto base = [] {
    OneNode c("", "QLinearConv", 13);
    c.in("x", DType::u8, Shape{1, 1, 3, 3});
    return c;
  };
  {  // weight scale given at run time
    OneNode c = base();
    c.c("xs", scalar(1.0f)).c("xz", scalar<U8>(0)).c("w", t<U8>(Shape{1, 1, 1, 1}, {1}));
    c.in("ws", DType::f32, Shape{}).c("wz", scalar<U8>(0)).c("ys", scalar(1.0f)).c("yz", scalar<U8>(0));
    CHECK_THROWS_WITH_AS(c.session(), Contains("must be a constant initializer"), qnn::error);
  }
  {  // weights given at run time
    OneNode c = base();
    c.c("xs", scalar(1.0f)).c("xz", scalar<U8>(0)).in("w", DType::u8, Shape{1, 1, 1, 1});
    c.c("ws", scalar(1.0f)).c("wz", scalar<U8>(0)).c("ys", scalar(1.0f)).c("yz", scalar<U8>(0));
    CHECK_THROWS_WITH_AS(c.session(), Contains("input 3 (w) must be a constant initializer"), qnn::error);
  }
  {  // per-channel activation scale
    OneNode c = base();
    c.c("xs", t<float>(Shape{2}, {1.0f, 2.0f})).c("xz", t<U8>(Shape{2}, {0, 0})).c("w", t<U8>(Shape{1, 1, 1, 1}, {1}));
    c.c("ws", scalar(1.0f)).c("wz", scalar<U8>(0)).c("ys", scalar(1.0f)).c("yz", scalar<U8>(0));
    CHECK_THROWS_WITH_AS(c.session(), Contains("must be quantized per tensor"), qnn::error);
  }
  {  // weight zero point type differs from the weight's
    OneNode c = base();
    c.c("xs", scalar(1.0f)).c("xz", scalar<U8>(0)).c("w", t<U8>(Shape{1, 1, 1, 1}, {1}));
    c.c("ws", scalar(1.0f)).c("wz", scalar<S8>(0)).c("ys", scalar(1.0f)).c("yz", scalar<U8>(0));
    CHECK_THROWS_WITH_AS(c.session(), Contains("w is uint8 but w_zero_point is int8"), qnn::error);
  }
  {  // output type differs from the input's
    OneNode c = base();
    c.c("xs", scalar(1.0f)).c("xz", scalar<U8>(0)).c("w", t<U8>(Shape{1, 1, 1, 1}, {1}));
    c.c("ws", scalar(1.0f)).c("wz", scalar<U8>(0)).c("ys", scalar(1.0f)).c("yz", scalar<S8>(0));
    CHECK_THROWS_WITH_AS(c.session(), Contains("must have the type of x"), qnn::error);
  }
  {  // a zero point of a type qnn does not quantize with
    OneNode c = base();
    c.c("xs", scalar(1.0f)).c("xz", scalar<S32>(0)).c("w", t<U8>(Shape{1, 1, 1, 1}, {1}));
    c.c("ws", scalar(1.0f)).c("wz", scalar<U8>(0)).c("ys", scalar(1.0f)).c("yz", scalar<U8>(0));
    CHECK_THROWS_WITH_AS(c.session(), Contains("zero point must be int8, uint8, int16 or uint16"), qnn::error);
  }
  {  // 16-bit weights
    OneNode c = base();
    c.c("xs", scalar(1.0f)).c("xz", scalar<U8>(0)).c("w", t<S16>(Shape{1, 1, 1, 1}, {1}));
    c.c("ws", scalar(1.0f)).c("wz", scalar<S16>(0)).c("ys", scalar(1.0f)).c("yz", scalar<U8>(0));
    CHECK_THROWS_WITH_AS(c.session(), Contains("int16 is not supported here"), qnn::error);
  }
  {  // an attribute qnn does not know
    OneNode c = base();
    c.c("xs", scalar(1.0f)).c("xz", scalar<U8>(0)).c("w", t<U8>(Shape{1, 1, 1, 1}, {1}));
    c.c("ws", scalar(1.0f)).c("wz", scalar<U8>(0)).c("ys", scalar(1.0f)).c("yz", scalar<U8>(0));
    c.attr("mystery", std::int64_t{1});
    CHECK_THROWS_WITH_AS(c.session(), Contains("attribute 'mystery' is not supported"), qnn::error);
  }
}

// ================================================================================================
// QGemm, QLinearMatMul, ConvInteger, MatMulInteger
// ================================================================================================

// A − za = [2 −2] (za = 128), scale 0.5; B − zb = [1; −1] (zb = 128), scale 0.25; C = 3; alpha 2:
// acc = 2 + 2 + 3 = 7. Float output: 7 · fl(fl(2·0.5)·0.25) = 1.75. Quantized with y_scale 0.125,
// y_zp 100: 7 · (0.25 / 0.125) = 14 → 114.
TEST_CASE("QGemm: alpha, bias, float and quantized outputs") {
  auto make = [] {
    OneNode g("com.microsoft", "QGemm");
    g.in("a", DType::u8, Shape{1, 2}).c("as", scalar(0.5f)).c("az", scalar<U8>(128));
    g.c("b", t<U8>(Shape{2, 1}, {129, 127})).c("bs", scalar(0.25f)).c("bz", scalar<U8>(128));
    g.c("c", t<S32>(Shape{1}, {3})).attr("alpha", 2.0f);
    return g;
  };
  const Tensor a = t<U8>(Shape{1, 2}, {130, 126});
  const Tensor f = make().run({a});
  CHECK(f.dtype() == DType::f32);
  CHECK(fvalues(f) == std::vector<float>{1.75f});
  CHECK(values<U8>(make().c("ys", scalar(0.125f)).c("yz", scalar<U8>(100)).run({a})) == V{114});
  CHECK_THROWS_WITH_AS(make().c("ys", scalar(0.125f)).session(), Contains("must be given together"), qnn::error);
}

// A16W8 QGemm: A = [300 −400] (int16, scale 0.5), B = [[1 2] [3 4]] (int8), C = [10 −10]:
// acc = [300 − 1200 + 10, 600 − 1600 − 10] = [−890 −1010] → ·0.5 → [−445 −505]. transB with B
// stored as N×K gives the same.
TEST_CASE("QGemm: A16W8 with int16 activations, transB") {
  for (const bool trans_b : {false, true}) {
    CAPTURE(trans_b);
    OneNode g("com.microsoft", "QGemm");
    g.in("a", DType::i16, Shape{1, 2}).c("as", scalar(0.5f)).c("az", scalar<S16>(0));
    g.c("b", trans_b ? t<S8>(Shape{2, 2}, {1, 3, 2, 4}) : t<S8>(Shape{2, 2}, {1, 2, 3, 4}));
    g.c("bs", scalar(1.0f)).c("bz", scalar<S8>(0)).c("c", t<S32>(Shape{2}, {10, -10}));
    g.c("ys", scalar(1.0f)).c("yz", scalar<S16>(0)).attr("transB", std::int64_t{trans_b ? 1 : 0});
    CHECK(values<S16>(g.run({t<S16>(Shape{1, 2}, {300, -400})})) == V{-445, -505});
  }
}

TEST_CASE("QGemm: refused bias shapes and alpha") {
  OneNode g("com.microsoft", "QGemm");
  g.in("a", DType::u8, Shape{2, 2}).c("as", scalar(0.5f)).c("az", scalar<U8>(128));
  g.c("b", t<U8>(Shape{2, 1}, {129, 127})).c("bs", scalar(0.25f)).c("bz", scalar<U8>(128));
  OneNode m = g;
  m.c("c", t<S32>(Shape{2, 1}, {3, 4}));
  CHECK_THROWS_WITH_AS(m.session(), Contains("C of shape [2,1] is not supported"), qnn::error);
  g.attr("alpha", -1.0f);
  CHECK_THROWS_WITH_AS(g.session(), Contains("alpha -1 is not supported"), qnn::error);
}

// a = [2 −2] (1-D, za = 128), b = [[1 2] [3 4]] int8, per-column scales [1, 0.5], y_zp 128:
// column 0: 2 − 6 = −4 → −4; column 1: 4 − 8 = −4 → ·0.5 → −2. Output shape [2].
TEST_CASE("QLinearMatMul: per-column scales, 1-D input, run-time b") {
  OneNode m("", "QLinearMatMul", 13);
  m.in("a", DType::u8, Shape{2}).c("as", scalar(1.0f)).c("az", scalar<U8>(128));
  m.in("b", DType::i8, Shape{2, 2}).c("bs", t<float>(Shape{2}, {1.0f, 0.5f})).c("bz", t<S8>(Shape{2}, {0, 0}));
  m.c("ys", scalar(1.0f)).c("yz", scalar<U8>(128));
  auto s = m.session();
  const auto y = s->run({t<U8>(Shape{2}, {130, 126}), t<S8>(Shape{2, 2}, {1, 2, 3, 4})});
  CHECK(y[0].shape() == Shape{2});
  CHECK(values<U8>(y[0]) == V{124, 126});
}

// x − 1 = [[0 1 2] [3 4 5] [6 7 8]], w = ones(2×2): window sums [8 12 20 24].
TEST_CASE("ConvInteger: x zero point, run-time or constant") {
  OneNode c("", "ConvInteger", 10);
  c.in("x", DType::u8, Shape{1, 1, 3, 3}).c("w", t<U8>(Shape{1, 1, 2, 2}, {1, 1, 1, 1})).c("xz", scalar<U8>(1));
  const Tensor x = t<U8>(Shape{1, 1, 3, 3}, {1, 2, 3, 4, 5, 6, 7, 8, 9});
  CHECK(values<S32>(c.run({x})) == V{8, 12, 20, 24});
  OneNode r("", "ConvInteger", 10);
  r.in("x", DType::u8, Shape{1, 1, 3, 3}).c("w", t<U8>(Shape{1, 1, 2, 2}, {1, 1, 1, 1})).in("xz", DType::u8, Shape{});
  auto s = r.session();
  CHECK(values<S32>(s->run({x, scalar<U8>(1)})[0]) == V{8, 12, 20, 24});
}

// Per-row a_zp [5, 7]: A − za = [[0 1] [0 1]]; per-column b_zp [1]: B − zb = [[1] [2]] → [[2] [2]].
TEST_CASE("MatMulInteger: per-row and per-column zero points") {
  OneNode m("", "MatMulInteger", 10);
  m.in("a", DType::u8, Shape{2, 2}).in("b", DType::u8, Shape{2, 1});
  m.c("az", t<U8>(Shape{2}, {5, 7})).c("bz", t<U8>(Shape{1}, {1}));
  auto s = m.session();
  CHECK(values<S32>(s->run({t<U8>(Shape{2, 2}, {5, 6, 7, 8}), t<U8>(Shape{2, 1}, {2, 3})})[0]) == V{2, 2});
}

// ================================================================================================
// QLinearAdd / QLinearMul / QLinearConcat
// ================================================================================================

// a − za = [2 −2 9 −2; 0 126 −129 4] (za = 1), b − zb = [5 0 3 5] (zb = −2), scales 1, 0.25 → 0.5,
// zc = 5: the real sums in output units are [6.5 −4 19.5 −1.5; 2.5 252 −256.5 10.5]. ONNX Runtime
// adds zc before rounding (y = rne(f + 5)), so the ties go to the even neighbour of f + 5:
// y − zc = [7 −4 19 −1; 3 122 −133 11] (ORT 1.32 gives exactly this; the old "rne(f) + zc" rule
// would give [6 −4 20 −2; 2 122 −133 10]).
TEST_CASE("QLinearAdd: ONNX Runtime's rounding after the zero point") {
  OneNode a("com.microsoft", "QLinearAdd");
  a.in("a", DType::i8, Shape{2, 4}).c("as", scalar(1.0f)).c("az", scalar<S8>(1));
  a.in("b", DType::i8, Shape{4}).c("bs", scalar(0.25f)).c("bz", scalar<S8>(-2));
  a.c("cs", scalar(0.5f)).c("cz", scalar<S8>(5));
  auto s = a.session();
  const auto y = s->run({t<S8>(Shape{2, 4}, {3, -1, 10, -1, 1, 127, -128, 5}), t<S8>(Shape{4}, {3, -2, 1, 3})});
  CHECK(values<S8>(y[0]) == V{12, 1, 24, 4, 8, 127, -128, 16});
}

// ORT's broadcaster decides whether A is "scalar per span" (then its kernel swaps A and B).
TEST_CASE("QLinearAdd: ORT's operand order under broadcasting") {
  using ref::ort_swaps_operands;
  CHECK(ort_swaps_operands(Shape{1, 3, 1, 1}, Shape{2, 3, 4, 5}));
  CHECK_FALSE(ort_swaps_operands(Shape{2, 3, 4, 5}, Shape{1, 3, 1, 1}));
  CHECK_FALSE(ort_swaps_operands(Shape{2, 3, 4, 5}, Shape{2, 3, 4, 5}));
  CHECK_FALSE(ort_swaps_operands(Shape{2, 1, 5}, Shape{3, 1}));
  CHECK(ort_swaps_operands(Shape{4, 1}, Shape{1, 6}));
  CHECK(ort_swaps_operands(Shape{}, Shape{9}));
  CHECK_FALSE(ort_swaps_operands(Shape{7}, Shape{}));
  CHECK(ort_swaps_operands(Shape{1}, Shape{5, 1}));  // both scalar per span: A goes first in ORT's test
}

// (a − za)(b − zb) = [10 −10 6 −6] (b − zb = 2), m = 0.5·0.5/1 = 0.25 → [2.5 −2.5 1.5 −1.5], zc = 1:
// ORT rounds f + zc = [3.5 −1.5 2.5 −0.5] → [4 −2 2 0].
TEST_CASE("QLinearMul: ONNX Runtime's rounding after the zero point") {
  OneNode m("com.microsoft", "QLinearMul");
  m.in("a", DType::i8, Shape{4}).c("as", scalar(0.5f)).c("az", scalar<S8>(0));
  m.in("b", DType::i8, Shape{1}).c("bs", scalar(0.5f)).c("bz", scalar<S8>(1));
  m.c("cs", scalar(1.0f)).c("cz", scalar<S8>(1));
  auto s = m.session();
  CHECK(values<S8>(s->run({t<S8>(Shape{4}, {5, -5, 3, -3}), t<S8>(Shape{1}, {3})})[0]) == V{4, -2, 2, 0});
}

// Input 0 shares the output's quantization (copied); input 1: scale 0.25, zp 3 → y = Q(0.25·(x − 3))
// with s_y = 0.5, zy = 1: x = [5 6 7] → [0.5 0.75 1] / 0.5 = [1 1.5 2] → [1 2 2] + 1.
TEST_CASE("QLinearConcat: copy and requantize along an axis") {
  OneNode c("com.microsoft", "QLinearConcat");
  c.c("ys", scalar(0.5f)).c("yz", scalar<S8>(1));
  c.in("x0", DType::i8, Shape{1, 2}).c("s0", scalar(0.5f)).c("z0", scalar<S8>(1));
  c.in("x1", DType::i8, Shape{1, 3}).c("s1", scalar(0.25f)).c("z1", scalar<S8>(3));
  c.attr("axis", std::int64_t{-1});
  auto s = c.session();
  const auto y = s->run({t<S8>(Shape{1, 2}, {-128, 127}), t<S8>(Shape{1, 3}, {5, 6, 7})});
  CHECK(y[0].shape() == Shape{1, 5});
  CHECK(values<S8>(y[0]) == V{-128, 127, 2, 3, 3});
}

// ================================================================================================
// Pools and table activations
// ================================================================================================

// x − zx = [[1 2 3] [4 5 7]] (zx = 10), 2×2 windows, stride 1, s_x = 0.5, s_y = 1, zy = 3.
// ORT's float path: window 0: 0.5·(1+2+4+5) = 6 → /4 = 1.5 → 1.5 + 3 = 4.5 → 4 (even);
// window 1: 0.5·17 = 8.5 → 2.125 + 3 → 5. (An integer rule rne(1.5) + 3 would give 5 for window 0.)
TEST_CASE("QLinearAveragePool: ONNX Runtime's float path") {
  OneNode p("com.microsoft", "QLinearAveragePool");
  p.in("x", DType::u8, Shape{1, 1, 2, 3}).c("xs", scalar(0.5f)).c("xz", scalar<U8>(10));
  p.c("ys", scalar(1.0f)).c("yz", scalar<U8>(3)).attr("kernel_shape", std::vector<std::int64_t>{2, 2});
  CHECK(values<U8>(p.run({t<U8>(Shape{1, 1, 2, 3}, {11, 12, 13, 14, 15, 17})})) == V{4, 5});
  OneNode nhwc = p;
  nhwc.attr("channels_last", std::int64_t{1});
  CHECK_THROWS_WITH_AS(nhwc.session(), Contains("channels_last = 1 (NHWC) is not supported"), qnn::error);
}

// Global pooling (ORT's integer path): s_x = s_y = 1, N = 2: channel sums − zx·N = [3, 1] → ·0.5 →
// [1.5 0.5] → [2 0]. A kernel covering the whole image with no pads takes the same path.
TEST_CASE("QLinearGlobalAveragePool and the global case of QLinearAveragePool") {
  const Tensor x = t<U8>(Shape{1, 2, 1, 2}, {10, 13, 10, 11});
  OneNode g("com.microsoft", "QLinearGlobalAveragePool");
  g.in("x", DType::u8, Shape{1, 2, 1, 2}).c("xs", scalar(1.0f)).c("xz", scalar<U8>(10));
  g.c("ys", scalar(1.0f)).c("yz", scalar<U8>(0));
  const Tensor y = g.run({x});
  CHECK(y.shape() == Shape{1, 2, 1, 1});
  CHECK(values<U8>(y) == V{2, 0});
  OneNode p("com.microsoft", "QLinearAveragePool");
  p.in("x", DType::u8, Shape{1, 2, 1, 2}).c("xs", scalar(1.0f)).c("xz", scalar<U8>(10));
  p.c("ys", scalar(1.0f)).c("yz", scalar<U8>(0)).attr("kernel_shape", std::vector<std::int64_t>{1, 2});
  CHECK(values<U8>(p.run({x})) == V{2, 0});
}

// QLinearSigmoid under onnx-float is ONNX Runtime's logistic, tabulated: compare with the table of
// ref::Activation::sigmoid_ort() over all 256 inputs; under the other policies the ONNX formula.
TEST_CASE("QLinearSigmoid, QLinearLeakyRelu: the table is the definition") {
  std::vector<std::int8_t> all;
  for (int v = -128; v < 128; ++v) all.push_back(static_cast<std::int8_t>(v));
  const Tensor x = Tensor::from<S8>(Shape{256}, std::span<const S8>(all));
  for (const char* policy : {"onnx-float", "tflite-double-round"}) {
    CAPTURE(policy);
    OneNode s("com.microsoft", "QLinearSigmoid");
    s.in("x", DType::i8, Shape{256}).c("xs", scalar(0.05f)).c("xz", scalar<S8>(3));
    s.c("ys", scalar(1.0f / 256)).c("yz", scalar<S8>(-128)).attr("qnn_requant", std::string(policy));
    const auto f = std::string(policy) == "onnx-float" ? ref::Activation::sigmoid_ort() : ref::Activation::sigmoid();
    const ref::ActivationTable<S8, S8> table(f, 0.05f, 3, 1.0f / 256, -128);
    const Tensor y = s.run({x});
    for (int i = 0; i < 256; ++i) CHECK(y.span<S8>()[static_cast<std::size_t>(i)] == table(all[static_cast<std::size_t>(i)]));
  }
  CHECK(ref::ort::logistic(0.0f) == 0.5f);
  CHECK(std::fabs(ref::ort::logistic(1.0f) - 0.7310586f) < 1e-6f);
  CHECK(ref::ort::logistic(-30.0f) >= 0.0f);

  // LeakyRelu α = 0.1, scales 1 → 0.5: x = [−10 −5 3] → [−1 −0.5 3]/0.5 = [−2 −1 6] + zy 0.
  OneNode l("com.microsoft", "QLinearLeakyRelu");
  l.in("x", DType::i8, Shape{3}).c("xs", scalar(1.0f)).c("xz", scalar<S8>(0));
  l.c("ys", scalar(0.5f)).c("yz", scalar<S8>(0)).attr("alpha", 0.1f);
  CHECK(values<S8>(l.run({t<S8>(Shape{3}, {-10, -5, 3})})) == V{-2, -1, 6});
}

// qnn.QLinearUnary: input and output types may differ. Relu int8 → uint8; Clip [−1, 2]; HardSigmoid
// (α 0.2, β 0.5) to uint8 with scale 1/256: [−3 0 5] → [0 0.5 1] → [0 128 255 (256 saturates)].
TEST_CASE("qnn.QLinearUnary") {
  auto make = [](const char* act, DType out, OneNode* keep = nullptr) {
    OneNode u("qnn", "QLinearUnary");
    u.in("x", DType::i8, Shape{3}).c("xs", scalar(1.0f)).c("xz", scalar<S8>(0));
    if (out == DType::u8)
      u.c("ys", scalar(std::string(act) == "hard_sigmoid" ? 1.0f / 256 : 1.0f)).c("yz", scalar<U8>(0));
    else
      u.c("ys", scalar(1.0f)).c("yz", scalar<S8>(0));
    u.attr("activation", std::string(act));
    if (keep) *keep = u;
    return u;
  };
  const Tensor x = t<S8>(Shape{3}, {-3, 0, 5});
  CHECK(values<U8>(make("relu", DType::u8).run({x})) == V{0, 0, 5});
  CHECK(values<S8>(make("clip", DType::i8).attr("clip_min", -1.0f).attr("clip_max", 2.0f).run({x})) == V{-1, 0, 2});
  CHECK(values<U8>(make("hard_sigmoid", DType::u8).attr("alpha", 0.2f).attr("beta", 0.5f).run({x})) == V{0, 128, 255});
  CHECK_THROWS_WITH_AS(make("relu", DType::u8).attr("alpha", 1.0f).session(), Contains("does not apply to relu"),
                       qnn::error);
  CHECK_THROWS_WITH_AS(make("softsign", DType::u8).session(), Contains("activation 'softsign'"), qnn::error);
  // int16 in, int8 out: evaluated element by element.
  OneNode w("qnn", "QLinearUnary");
  w.in("x", DType::i16, Shape{2}).c("xs", scalar(0.01f)).c("xz", scalar<S16>(0));
  w.c("ys", scalar(1.0f)).c("yz", scalar<S8>(0)).attr("activation", std::string("tanh"));
  CHECK(values<S8>(w.run({t<S16>(Shape{2}, {10000, -50})})) == V{1, 0});  // tanh(100) = 1, tanh(−0.5) = −0.46
}

}  // namespace
