// MaxPool fused into the conv before it (graph/passes/fuse_pool.hpp): when the pass applies and when
// it must not, that the fused sessions compute what the unfused ones do bit for bit (the Fashion-MNIST
// CNN in FP32 and INT8, batch sizes with tails, one and two threads), and the errors of a fused node.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "../ops/ops_test_util.hpp"
#include "fmnist_test_images.hpp"
#include "qnn/backends/cpu/cpu.hpp"
#include "qnn/backends/npu/emulator.hpp"
#include "qnn/onnx/import.hpp"
#include "qnn/quantize/quantize.hpp"
#include "qnn/runtime/session.hpp"

using namespace qnn;
using qnn_ops_test::GraphBuilder;

namespace {

const Graph& fashion_mnist_fp32() {
  static const Graph g = onnx::load_graph(QNN_SOURCE_DIR "/examples/fashion_mnist/fashion_mnist_fp32.onnx");
  return g;
}

const Graph& fashion_mnist_u8s8() {
  static const Graph g = [] {
    quant::TensorReader reader({fmnist_test::images(16, 5)}, 8);
    return quant::quantize(fashion_mnist_fp32(), reader, quant::QuantConfig::make(quant::Preset::u8s8)).graph;
  }();
  return g;
}

template <class S>
std::vector<std::string> op_labels(const S& s) {
  std::vector<std::string> ops;
  for (const auto& p : s.partition().nodes) ops.push_back(p.op);
  return ops;
}

bool has_op(const std::vector<std::string>& ops, const std::string& op) {
  for (const auto& o : ops)
    if (o == op) return true;
  return false;
}

// The graph with the pools' inputs (ReLU outputs) also made graph outputs, which keeps every
// MaxPool unfused and changes nothing else.
Graph observing_pool_inputs(Graph g) {
  for (const Node& n : g.nodes)
    if (n.op_type == "MaxPool" && !g.is_graph_output(n.inputs[0])) g.outputs.push_back(n.inputs[0]);
  return g;
}

}  // namespace

TEST_CASE("fuse_pool: the Fashion-MNIST CNN's pools fuse on the CPU backend and give the unfused bits") {
  SUBCASE("FP32") {
    const Session fused{Graph(fashion_mnist_fp32())};
    const auto ops = op_labels(fused);
    CHECK(has_op(ops, "Conv+relu+maxpool"));
    CHECK_FALSE(has_op(ops, "MaxPool"));
    SessionOptions o1;
    const Session plain(observing_pool_inputs(fashion_mnist_fp32()), o1);
    CHECK(has_op(op_labels(plain), "MaxPool"));
    for (const int threads : {1, 2}) {
      SessionOptions o;
      o.threads = threads;
      const Session f(Graph(fashion_mnist_fp32()), o);
      INFO("threads ", threads);
      fmnist_test::check_same_runs(f, plain, 0);
    }
  }
  SUBCASE("INT8 (U8S8), against the scalar reference backend") {
    const BasicSession<backends::cpu::ReferenceBackend> ref{Graph(fashion_mnist_u8s8())};
    CHECK(has_op(op_labels(ref), "MaxPool"));  // the reference runs the graph's pooling on its own
    for (const int threads : {1, 2}) {
      SessionOptions o;
      o.threads = threads;
      const Session f(Graph(fashion_mnist_u8s8()), o);
      const auto ops = op_labels(f);
      // (U8S8's ReLU is in the output range, zero point 0, so no activation is fused.)
      CHECK(has_op(ops, "QLinearConv+maxpool"));
      CHECK_FALSE(has_op(ops, "MaxPool"));
      INFO("threads ", threads);
      fmnist_test::check_same_runs(f, ref, 100);
    }
  }
  SUBCASE("not on the NPU emulator, which places nodes by their ONNX form") {
    SessionOptions o;
    o.requant = RequantPolicy::npu_pow2;
    quant::TensorReader reader({fmnist_test::images(16, 5)}, 8);
    const Graph xint8 = quant::quantize(fashion_mnist_fp32(), reader, quant::QuantConfig::make(quant::Preset::xint8)).graph;
    const BasicSession<backends::npu::Emulator> s(Graph(xint8), o);
    CHECK(has_op(op_labels(s), "MaxPool"));
    CHECK(has_op(op_labels(s), "QLinearConv+relu"));
  }
}

TEST_CASE("fuse_pool: applies only where the conv's output has no other use") {
  const Tensor w = Tensor::from<float>(Shape{2, 1, 3, 3}, std::vector<float>(18, 0.5f));
  const auto build = [&](bool second_reader, bool conv_is_output, bool indices, const char* extra_attr) {
    GraphBuilder b;
    b.input("x", DType::f32, {1, 1, 8, 8}).constant("w", w).node("Conv", {"x", "w"}, {"c"}, {}, "conv");
    std::vector<std::string> pool_out{"p"};
    if (indices) pool_out.push_back("i");
    const std::vector<std::int64_t> two{2, 2};
    if (extra_attr)
      b.node("MaxPool", {"c"}, pool_out, {{"kernel_shape", two}, {"strides", two}, {extra_attr, std::int64_t{1}}},
             "pool");
    else
      b.node("MaxPool", {"c"}, pool_out, {{"kernel_shape", two}, {"strides", two}}, "pool");
    b.output("p");
    if (second_reader) b.node("Relu", {"c"}, {"r"}, {}, "relu").output("r");
    if (conv_is_output) b.output("c");
    if (indices) b.output("i");
    return b.graph();
  };
  CHECK(op_labels(Session(build(false, false, false, nullptr))) == std::vector<std::string>{"Conv+maxpool"});
  CHECK(op_labels(Session(build(true, false, false, nullptr))) == std::vector<std::string>{"Conv", "MaxPool", "Relu"});
  CHECK(op_labels(Session(build(false, true, false, nullptr))) == std::vector<std::string>{"Conv", "MaxPool"});
  // Neither is fused; each is refused by the MaxPool kernel exactly as without the pass.
  CHECK_THROWS_WITH_AS(Session(build(false, false, true, nullptr)),
                       doctest::Contains("the Indices output of MaxPool is not supported"), qnn::error);
  CHECK_THROWS_WITH_AS(Session(build(false, false, false, "foo")),
                       doctest::Contains("node 'pool' (MaxPool): attribute 'foo' is not supported"), qnn::error);
  // The pooled result: 2x2 windows over a 6x6 conv output of 4.5s.
  const Session s(build(false, false, false, nullptr));
  const Tensor y = s.run({Tensor::from<float>(Shape{1, 1, 8, 8}, std::vector<float>(64, 1.0f))})[0];
  CHECK(y.shape() == Shape{1, 2, 3, 3});
  for (const float v : y.span<float>()) CHECK(v == 4.5f);
}

TEST_CASE("fuse_pool: errors of a fused node name it") {
  const Tensor w = Tensor::from<float>(Shape{1, 1, 1, 1}, {1.0f});
  const auto conv = [&](std::initializer_list<std::pair<const char*, AttributeValue>> attrs) {
    GraphBuilder b;
    b.input("x", DType::f32, {1, 1, 4, 4}).constant("w", w).node("Conv", {"x", "w"}, {"y"}, attrs, "conv").output("y");
    SessionOptions o;
    o.optimize = false;
    return Session(b.graph(), o);
  };
  const std::vector<std::int64_t> k2{2, 2};
  CHECK(conv({{"qnn_pool", std::string("max")}, {"qnn_pool_kernel_shape", k2}, {"qnn_pool_strides", k2}})
            .run({Tensor::from<float>(Shape{1, 1, 4, 4}, std::vector<float>(16, 2.0f))})[0]
            .shape() == Shape{1, 1, 2, 2});
  // The whole message: the node is named once, although the session and the kernel registry both
  // add it (core/error.hpp, with_context).
  CHECK_THROWS_WITH_AS(conv({{"qnn_pool", std::string("average")}, {"qnn_pool_kernel_shape", k2}}),
                       "node 'conv' (Conv): qnn_pool 'average' is not max", qnn::error);
  CHECK_THROWS_WITH_AS(conv({{"qnn_pool", std::string("max")}}),
                       doctest::Contains("node 'conv' (Conv): kernel_shape is required"), qnn::error);
  CHECK_THROWS_WITH_AS(
      conv({{"qnn_pool", std::string("max")}, {"qnn_pool_kernel_shape", k2}, {"qnn_pool_bar", std::int64_t{1}}}),
      doctest::Contains("node 'conv' (Conv): attribute 'qnn_pool_bar' is not supported"), qnn::error);
  CHECK_THROWS_WITH_AS(conv({{"qnn_pool_kernel_shape", k2}}),
                       doctest::Contains("node 'conv' (Conv): attribute 'qnn_pool_kernel_shape' is not supported"),
                       qnn::error);
  // A window past the conv's output: the same refusal as an unfused MaxPool's.
  CHECK_THROWS_WITH_AS(conv({{"qnn_pool", std::string("max")}, {"qnn_pool_kernel_shape", k2},
                             {"qnn_pool_pads", std::vector<std::int64_t>{0, 0, 4, 0}}})
                           .run({Tensor::from<float>(Shape{1, 1, 4, 4}, std::vector<float>(16, 2.0f))}),
                       doctest::Contains("covers no input pixel"), qnn::error);
}
