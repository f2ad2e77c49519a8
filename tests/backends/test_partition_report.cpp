// The partition report of a real model: the Fashion-MNIST CNN of examples/fashion_mnist, quantized
// XINT8 here (random calibration data: placement does not depend on the values), prepared on the
// NPU emulator. Every node's device and reason, the per-device totals, the text and JSON forms, and
// the emulated outputs against the CPU under the same policy.
#include <doctest/doctest.h>

#include <random>
#include <string>
#include <vector>

#include "backend_test_util.hpp"
#include "qnn/backends/npu/emulator.hpp"
#include "qnn/backends/partition.hpp"
#include "qnn/onnx/import.hpp"
#include "qnn/quantize/quantize.hpp"
#include "qnn/io/json_read.hpp"
#include "qnn/runtime/profile.hpp"
#include "qnn/runtime/session.hpp"

using namespace qnn;
using namespace backend_test;

namespace {

const Graph& fashion_mnist_xint8() {
  static const Graph g = [] {
    const Graph fp32 = onnx::load_graph(QNN_SOURCE_DIR "/examples/fashion_mnist/fashion_mnist_fp32.onnx");
    Tensor calib(DType::f32, Shape{16, 1, 28, 28});
    std::mt19937 rng(7);
    std::uniform_real_distribution<float> d(0.0f, 1.0f);
    for (float& v : calib.span<float>()) v = d(rng);
    quant::TensorReader reader({calib}, 8);
    return quant::quantize(fp32, reader, quant::QuantConfig::make(quant::Preset::xint8)).graph;
  }();
  return g;
}

}  // namespace

TEST_CASE("partition report: the Fashion-MNIST XINT8 model on the NPU emulator") {
  SessionOptions o;
  o.requant = RequantPolicy::npu_pow2;
  const BasicSession<backends::npu::Emulator> s(Graph(fashion_mnist_xint8()), o);
  const backends::Partition& p = s.partition();
  CHECK(p.backend == "npu-emu");
  CHECK(p.fallback == "cpu");

  struct Want {
    const char* name;
    const char* op;
    const char* device;
    std::int64_t macs;
  };
  const std::vector<Want> want = {
      {"input_QuantizeLinear", "QuantizeLinear", "cpu", 0},
      {"/layer1/layer1.0/Conv", "QLinearConv+relu", "npu-emu", 32 * 28 * 28 * 9},     // 225,792
      {"/layer1/layer1.3/MaxPool", "MaxPool", "npu-emu", 0},
      {"/layer2/layer2.0/Conv", "QLinearConv+relu", "npu-emu", 64 * 12 * 12 * 32 * 9},  // 2,654,208
      {"/layer2/layer2.3/MaxPool", "MaxPool", "npu-emu", 0},
      {"/Reshape", "Reshape", "npu-emu", 0},
      {"/fc1/Gemm", "com.microsoft.QGemm", "npu-emu", 2304 * 600},
      {"/fc2/Gemm", "com.microsoft.QGemm", "npu-emu", 600 * 120},
      {"/fc3/Gemm", "com.microsoft.QGemm", "npu-emu", 120 * 10},
      {"output_DequantizeLinear", "DequantizeLinear", "cpu", 0},
  };
  REQUIRE(p.nodes.size() == want.size());
  for (std::size_t i = 0; i < want.size(); ++i) {
    CAPTURE(i);
    CHECK(p.nodes[i].node == want[i].name);
    CHECK(p.nodes[i].op == want[i].op);
    CHECK(p.nodes[i].device == want[i].device);
    CHECK(p.nodes[i].macs == want[i].macs);
    CHECK(p.nodes[i].reason.empty() == (std::string(want[i].device) == "npu-emu"));
  }
  CHECK(p.nodes[0].reason ==
        "quantizes float data: the NPU computes on INT8 tensors, the model input is quantized on the host");
  CHECK(p.nodes[9].reason == "produces float data: the NPU writes INT8 tensors, dequantizing runs on the host");
  CHECK(p.subgraphs == 1);
  CHECK(p.total_macs() == 4'335'600);
  const auto t = p.totals();
  REQUIRE(t.size() == 2);
  CHECK(t[0].device == "npu-emu");
  CHECK(t[0].nodes == 8);
  CHECK(t[0].macs == 4'335'600);
  CHECK(t[1].device == "cpu");
  CHECK(t[1].nodes == 2);
  CHECK(t[1].macs == 0);

  const std::string text = backends::format_partition(p);
  CHECK(text ==
        "partition on npu-emu: 8 of 10 nodes, 100.0 % of 4,335,600 MACs, in 1 subgraph\n"
        "  device     nodes  MACs          share\n"
        "  npu-emu        8  4,335,600     100.0 %\n"
        "  cpu            2  0             0.0 %\n"
        "fallbacks:\n"
        "  #0 input_QuantizeLinear (QuantizeLinear) -> cpu: quantizes float data: the NPU computes on INT8 tensors, "
        "the model input is quantized on the host\n"
        "  #9 output_DequantizeLinear (DequantizeLinear) -> cpu: produces float data: the NPU writes INT8 tensors, "
        "dequantizing runs on the host\n");
  const std::string js = backends::partition_json(p).dump();
  for (const char* key : {"\"backend\": \"npu-emu\"", "\"fallback\": \"cpu\"", "\"subgraphs\": 1", "\"total_macs\": 4335600",
                          "\"device\": \"npu-emu\"", "\"nodes\": 8", "\"name\": \"/fc1/Gemm\"", "\"macs\": 1382400"})
    CHECK_MESSAGE(js.find(key) != std::string::npos, key);

  // What the emulator computes is what the CPU computes under npu_pow2 for these layers, bit for bit.
  const Session cpu(Graph(fashion_mnist_xint8()), o);
  Tensor x(DType::f32, Shape{5, 1, 28, 28});
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> d(0.0f, 1.0f);
  for (float& v : x.span<float>()) v = d(rng);
  CHECK(same_bytes(s.run({x})[0], cpu.run({x})[0]));

  // The same model on the CPU backend: everything on the CPU, nothing to report; the two MaxPools
  // are fused into the convs there (graph/passes/fuse_pool.hpp), so 8 nodes.
  const Session c{Graph(fashion_mnist_xint8())};
  CHECK(c.partition().totals()[0].nodes == 8);
  CHECK(c.partition().fallbacks() == 0);
  CHECK(backends::format_partition(c.partition()).find("fallbacks: none\n") != std::string::npos);
}

TEST_CASE("profile: per-node time, MACs on the given batch, devices, text and JSON, on the CPU and the emulator") {
  Tensor x(DType::f32, Shape{4, 1, 28, 28});
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> d(0.0f, 1.0f);
  for (float& v : x.span<float>()) v = d(rng);
  const std::vector<Tensor> in{x};

  const auto check_profile = [&](const auto& session, const char* backend) {
    CAPTURE(backend);
    const Profile p = profile(session, in, {.runs = 3, .warmup = 1});
    const backends::Partition& part = session.partition();
    CHECK(p.backend == backend);
    CHECK(p.batch == 4);
    CHECK(p.runs == 3);
    REQUIRE(p.nodes.size() == session.num_steps());
    double sum = 0;
    for (std::size_t i = 0; i < p.nodes.size(); ++i) {
      CAPTURE(p.nodes[i].node);
      CHECK(p.nodes[i].node == part.nodes[i].node);
      CHECK(p.nodes[i].device == part.nodes[i].device);
      CHECK(p.nodes[i].seconds >= 0);
      // The probe counted batch 1; the profile counts the inputs it was given.
      CHECK(p.nodes[i].macs == 4 * part.nodes[i].macs);
      sum += p.nodes[i].seconds;
    }
    CHECK(p.total_macs() == 4 * 4335600);
    CHECK(p.seconds > 0);
    // The total is the median of the runs' sums; the nodes' medians add up to about the same.
    CHECK(sum == doctest::Approx(p.seconds).epsilon(0.5));

    const std::string text = format_profile(p);
    CHECK_MESSAGE(text.find(std::string("profile on ") + backend + ": batch 4, ") != std::string::npos, text);
    CHECK_MESSAGE(text.find("17,342,400 MACs") != std::string::npos, text);
    CHECK_MESSAGE(text.find("/layer2/layer2.0/Conv") != std::string::npos, text);

    const json::Node j = json::parse(profile_json(p).dump(), "profile");
    CHECK(j.at("backend").as_string() == backend);
    CHECK(j.at("total_macs").as_int() == 4 * 4335600);
    const auto& items = j.at("nodes").items();
    REQUIRE(items.size() == p.nodes.size());
    for (std::size_t i = 0; i < p.nodes.size(); ++i) {
      const json::Node& n = items[i];
      CHECK(n.at("name").as_string() == p.nodes[i].node);
      CHECK(n.at("macs").as_int() == p.nodes[i].macs);
      CHECK(n.at("gmacs").is_null() == !(p.nodes[i].macs > 0 && p.nodes[i].seconds > 0));
    }
  };

  check_profile(Session(Graph(fashion_mnist_xint8())), "cpu");
  SessionOptions o;
  o.requant = RequantPolicy::npu_pow2;
  check_profile(BasicSession<backends::npu::Emulator>(Graph(fashion_mnist_xint8()), o), "npu-emu");

  const Session s{Graph(fashion_mnist_xint8())};
  CHECK_THROWS_WITH_AS(profile(s, in, {.runs = 0}), doctest::Contains("runs must be at least 1"), qnn::error);
}
