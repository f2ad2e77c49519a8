// Known input ranges (graph/passes/input_range.hpp): which quantized conv and GEMM nodes of the
// Fashion-MNIST CNN a session tells their input's range, per configuration, and that the sessions
// whose layers then run the byte kernel compute the scalar reference backend's bits (batch sizes
// with tails, one and two threads).
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "fmnist_test_images.hpp"
#include "qnn/backends/cpu/cpu.hpp"
#include "qnn/graph/passes/input_range.hpp"
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
