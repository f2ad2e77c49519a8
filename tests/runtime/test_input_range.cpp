// Known input ranges (graph/passes/input_range.hpp): which quantized conv and GEMM nodes of the
// Fashion-MNIST CNN a session tells their input's range, per configuration, and that the sessions
// whose layers then run the byte kernel compute the scalar reference backend's bits (batch sizes
// with tails, one and two threads).
#include <doctest/doctest.h>

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "../ops/ops_test_util.hpp"
#include "fmnist_test_images.hpp"
#include "qnn/backends/cpu/cpu.hpp"
#include "qnn/graph/passes/input_range.hpp"
#include "qnn/kernels/cpu/conv.hpp"
#include "qnn/kernels/cpu/u8s8.hpp"
#include "qnn/kernels/dispatch.hpp"
#include "qnn/onnx/import.hpp"
#include "qnn/quantize/quantize.hpp"
#include "qnn/runtime/session.hpp"

using namespace qnn;

namespace {

Graph quantized(quant::Preset p) {
  static const Graph fp32 = onnx::load_graph(QNN_SOURCE_DIR "/examples/fashion_mnist/fashion_mnist_fp32.onnx");
  quant::TensorReader reader({fmnist_test::images(16, 5)}, 8);
  return quant::quantize(fp32, reader, quant::QuantConfig::make(p)).graph;
}

// "op [lo, hi]" (or "op -") per QLinearConv/QGemm of a session's graph, in execution order, joined
// by "; ".
std::string ranges_of(const Graph& g) {
  std::string out;
  for (const Node& n : g.nodes) {
    if (n.op_type != "QLinearConv" && n.op_type != "QGemm") continue;
    const auto r = passes::read_input_range(n.attrs);
    if (!out.empty()) out += "; ";
    out += n.op_type + (r ? " [" + std::to_string(r->lo) + ", " + std::to_string(r->hi) + "]" : " -");
  }
  return out;
}

}  // namespace

TEST_CASE("input ranges: the layers after a fused ReLU know their input, and the byte kernels keep the bits") {
  // Symmetric activations keep the ReLU as a clamp (zero point 0 for int8, 128 for XINT8's uint8),
  // so conv2 and fc1, which follow the two conv+BN+ReLU+pool blocks, see 128 values — 93 % of the
  // model's MACs. conv1 reads the image, and the FC layers have no activation between them.
  struct Case {
    quant::Preset preset;
    std::string ranges;
  };
  const std::vector<Case> cases{
      {quant::Preset::a8w8, "QLinearConv -; QLinearConv [0, 127]; QGemm [0, 127]; QGemm -; QGemm -"},
      {quant::Preset::xint8, "QLinearConv -; QLinearConv [128, 255]; QGemm [128, 255]; QGemm -; QGemm -"},
      // U8S8's ReLU is the output range itself (zero point 0): nothing narrower to know.
      {quant::Preset::u8s8, "QLinearConv -; QLinearConv -; QGemm -; QGemm -; QGemm -"},
  };
  for (const Case& c : cases) {
    INFO("config ", std::string(quant::name_of(c.preset)));
    const Graph g = quantized(c.preset);
    SessionOptions o;
    if (c.preset == quant::Preset::xint8) o.requant = RequantPolicy::npu_pow2;
    const BasicSession<backends::cpu::ReferenceBackend> ref(Graph(g), o);
    for (const Node& n : ref.graph().nodes) CHECK_FALSE(n.attrs.has("qnn_input_range"));  // no use for them
    for (const int threads : {1, 2}) {
      o.threads = threads;
      const Session fast(Graph(g), o);
      CHECK(ranges_of(fast.graph()) == c.ranges);
      INFO("threads ", threads);
      fmnist_test::check_same_runs(fast, ref, 300);
    }
  }
}

namespace {

// Per QLinearConv/QGemm of a session's graph, which integer kernel its weights take on x86: "int16",
// "bytes", "paired N" (paired quads with N fixes) or "fixed N" (unpaired quads, N pair fixes:
// kernels/cpu/u8s8.hpp, byte_plan), joined by "; ". The rule is applied here to the node's weights
// in the order the layer packs them.
std::string pairings_of(const Graph& g) {
  std::string out;
  for (const Node& n : g.nodes) {
    if (n.op_type != "QLinearConv" && n.op_type != "QGemm") continue;
    const Tensor& w = *g.constant(n.inputs[3]);
    const auto r = passes::read_input_range(n.attrs);
    const IntRange x = r ? *r : IntRange{0, 255};  // the zero point lies inside: only the span counts
    const auto flat = w.span<std::int8_t>();
    std::optional<cpu::BytePlan> plan;
    if (n.op_type == "QLinearConv") {
      const std::vector<std::int32_t> zero{0};
      const auto value =
          cpu::conv_weight_values(w.view<const std::int8_t>(), zero, cpu::conv_channel_unit(w.shape()[1], 4));
      plan = cpu::byte_plan<std::uint8_t>(x, x.lo, w.shape()[0], w.numel() / w.shape()[0],
                                          cpu::kConvWeightsPerPairFix, value);
    } else {
      const bool tb = n.attrs.get_int("transB", 0) != 0;
      const std::int64_t nn = w.shape()[tb ? 0 : 1], k = w.shape()[tb ? 1 : 0];
      plan = cpu::byte_plan<std::uint8_t>(x, x.lo, nn, k, cpu::kFcWeightsPerPairFix, [&](std::int64_t c, std::int64_t j) {
        return std::int32_t{flat[static_cast<std::size_t>(tb ? c * k + j : j * nn + c)]};
      });
    }
    if (!out.empty()) out += "; ";
    const auto fixes = plan ? std::to_string(plan->pairing.fixes.size()) : "";
    out += !plan                  ? "int16"
           : plan->pairing.paired ? "paired " + fixes
           : fixes != "0"         ? "fixed " + fixes
                                  : "bytes";
  }
  return out;
}

}  // namespace

// Paired quads on the trained model (docs/numerics.md §7.1): conv2 and fc1, whose inputs span 128
// values, pair with a few fixes (XINT8's power-of-two scales leave its weights smaller: fewer); the
// FC layers after fc1 see any 8-bit value and keep int16 pairs, and so does A8W8's conv1. XINT8's
// conv1 (weights within ±64) is on bytes, but its 9 weights per channel are 3 quads, and one fix
// is already more than one per 512 weights. U8S8's activations span all 256 values: its conv2
// runs on bytes with pair fixes, 249 for 18,432 weights (numpy over the ONNX weights, pairs of
// channels at a tap, counts the same 249 pairs past ±128), its other layers need too many.
// The sessions above compare these layers with the reference backend.
TEST_CASE("input ranges: the byte kernel's plan for each layer of the A8W8, XINT8 and U8S8 models") {
  const std::vector<std::pair<quant::Preset, std::string>> cases{
      {quant::Preset::a8w8, "int16; paired 13; paired 267; int16; int16"},
      {quant::Preset::xint8, "bytes; paired 3; paired 0; int16; int16"},
      {quant::Preset::u8s8, "int16; fixed 249; int16; int16; int16"},
  };
  for (const auto& [preset, want] : cases) {
    INFO("config ", std::string(quant::name_of(preset)));
    SessionOptions o;
    if (preset == quant::Preset::xint8) o.requant = RequantPolicy::npu_pow2;
    const Session fast(quantized(preset), o);
    CHECK(pairings_of(fast.graph()) == want);
  }
}

namespace {

Tensor scalar_f32(float v) { return Tensor::from<float>(Shape{}, {v}); }
Tensor scalar_i8(std::int8_t v) { return Tensor::from<std::int8_t>(Shape{}, {v}); }
Tensor weights_i8(const Shape& s) {  // 127, 100, 127, 100, …: pairs that need a narrow input span
  Tensor t(DType::i8, s);
  for (std::size_t i = 0; i < t.span<std::int8_t>().size(); ++i) t.span<std::int8_t>()[i] = i % 2 ? 100 : 127;
  return t;
}
Tensor input_i8(const Shape& s, std::uint32_t seed) {  // values in [0, 127]
  Tensor t(DType::i8, s);
  const Tensor u = fmnist_test::images(1, seed);
  for (std::size_t i = 0; i < t.span<std::int8_t>().size(); ++i)
    t.span<std::int8_t>()[i] = static_cast<std::int8_t>(u.span<float>()[i] * 127.0f);
  return t;
}

// x (int8 [1, 1, 4, 4]) → QLinearConv (pads 1, fused ReLU: output [0, 127]) → Flatten → two QGemm,
// one with an int8 output and one with a float output (no y_scale: no byte kernel, so no range).
Graph conv_relu_gemms() {
  qnn_ops_test::GraphBuilder b;
  b.input("x", DType::i8, {1, 1, 4, 4})
      .constant("xs", scalar_f32(0.1f)).constant("z", scalar_i8(0))
      .constant("w", weights_i8(Shape{2, 1, 3, 3})).constant("ws", scalar_f32(0.001f))
      .constant("cs", scalar_f32(0.05f)).constant("B", weights_i8(Shape{32, 3})).constant("bs", scalar_f32(0.001f))
      .constant("ys", scalar_f32(0.5f))
      .node("QLinearConv", {"x", "xs", "z", "w", "ws", "z", "cs", "z"}, {"c"},
            {{"pads", std::vector<std::int64_t>{1, 1, 1, 1}}, {"qnn_activation", std::string("relu")}}, "conv")
      .node("Flatten", {"c"}, {"f"})
      .node("QGemm", {"f", "cs", "z", "B", "bs", "z", "", "ys", "z"}, {"q"}, {}, "gemm_q")
      .node("QGemm", {"f", "cs", "z", "B", "bs", "z"}, {"r"}, {}, "gemm_f")
      .output("q").output("r");
  Graph g = b.graph();
  for (Node& n : g.nodes)
    if (n.op_type == "QGemm") n.domain = "com.microsoft";
  return g;
}

}  // namespace

TEST_CASE("input ranges: through Flatten to a QGemm with an integer output, not to one with a float output") {
  const Session fast{conv_relu_gemms()};
  CHECK(ranges_of(fast.graph()) == "QLinearConv -; QGemm [0, 127]; QGemm -");
  const BasicSession<backends::cpu::ReferenceBackend> ref{conv_relu_gemms()};
  for (std::uint32_t seed : {1u, 2u, 3u}) {
    const Tensor x = input_i8(Shape{1, 1, 4, 4}, seed);
    const auto a = fast.run({x}), b = ref.run({x});
    CHECK(fmnist_test::same_bits(a[0], b[0]));
    CHECK(fmnist_test::same_bits(a[1], b[1]));
  }
}

TEST_CASE("input ranges: a qnn_input_range written into the model reaches the kernels, which hold inputs to it") {
  using doctest::Contains;
  const simd::KernelTable* t = simd::kernel_table();
  const bool bytes = !t || t->gemm_u8s8;
  for (const bool conv : {true, false}) {
    INFO(std::string(conv ? "QLinearConv" : "QGemm"));
    // One node of conv_relu_gemms: the conv, or the integer QGemm reading a graph input.
    Graph g = conv_relu_gemms();
    if (conv) {
      g.nodes.resize(1);
      g.outputs = {"c"};
    } else {
      g.nodes = {g.nodes[2]};
      g.inputs = {"f"};
      g.value("f").dtype = DType::i8;
      g.value("f").dims = {1, 32};
      g.outputs = {"q"};
    }
    g.nodes.front().attrs.set("qnn_input_range", std::vector<std::int64_t>{0, 127});
    const Session fast{Graph(g)};
    const BasicSession<backends::cpu::ReferenceBackend> ref{Graph(g)};
    Tensor x = input_i8(conv ? Shape{1, 1, 4, 4} : Shape{1, 32}, 7);
    CHECK(fmnist_test::same_bits(fast.run({x})[0], ref.run({x})[0]));
    x.span<std::int8_t>()[3] = -5;
    if (bytes)
      CHECK_THROWS_WITH_AS(fast.run({x}), Contains("an input value (-5) lies outside the input_range [0, 127]"),
                           qnn::error);
  }
}

TEST_CASE("input ranges: a malformed qnn_input_range is refused") {
  Attributes a;
  a.set("qnn_input_range", std::vector<std::int64_t>{0});
  CHECK_THROWS_AS(passes::read_input_range(a), qnn::error);
  a.set("qnn_input_range", std::vector<std::int64_t>{0, std::int64_t{1} << 40});
  CHECK_THROWS_AS(passes::read_input_range(a), qnn::error);
  a.set("qnn_input_range", std::vector<std::int64_t>{-3, 4});
  const auto r = passes::read_input_range(a);
  REQUIRE(r);
  CHECK(*r == IntRange{-3, 4});
}
