// Whole models through qnn::Session in the run-time dispatch build (qnn::dispatch): the CPU SIMD
// backend, whose kernels here are chosen at run time, against the scalar reference (cpu-ref), on
// the Fashion-MNIST CNN (examples/fashion_mnist/fashion_mnist_fp32.onnx) and its quantizations.
//
//   INT8   the model quantized in-process (u8s8, s8s8, xint8 QDQ, lowered to integer operators
//          when the session is prepared): every value of the prepared graph, not only the outputs,
//          equals the reference bit for bit (docs/numerics.md, tolerance 0).
//   FP32   the bound of docs/numerics.md §8 is a bound per kernel, so it is checked per layer: the
//          fast session runs with every value of its graph as an output, and each node is run again
//          alone on the reference kernels, from the very inputs the fast run gave it. A Conv, Gemm or
//          MatMul stays within 2·γ_K·(K·max|x|·max|w| + max|b|) of it (each is within γ_K of the
//          exact sum: test_fast_vs_reference.cpp states the bound the same way; a fused ReLU does not
//          widen it); every other node equals it bit for bit.
//
// Batches 1, 3 and 17 give the kernels' row and panel tails; every result with threads = 2 equals
// the one with threads = 1 bit for bit. tests/CMakeLists.txt runs this once per compiled target
// (QNN_SIMD_TARGET), so each target runs every model.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "qnn/kernels/dispatch.hpp"
#include "qnn/onnx/import.hpp"
#include "qnn/quantize/quantize.hpp"
#include "qnn/runtime/session.hpp"

#include "../runtime/fmnist_test_images.hpp"

namespace {

using namespace qnn;
using fmnist_test::images;

const std::filesystem::path kModel = std::filesystem::path(QNN_SOURCE_DIR) / "examples/fashion_mnist/fashion_mnist_fp32.onnx";
constexpr std::int64_t kBatches[] = {1, 3, 17};

const Graph& fp32_model() {
  static const Graph g = onnx::load_graph(kModel);
  return g;
}

Graph quantized(quant::Preset preset) {
  quant::TensorReader calib({images(16, 99)}, /*batch=*/8);
  return quant::quantize(fp32_model(), calib, quant::QuantConfig::make(preset)).graph;
}

SessionOptions options(int threads, bool reference) {
  SessionOptions o;
  o.threads = threads;
  o.reference_kernels = reference;
  return o;
}

// For a graph a session has prepared already: run it as it is, without a second optimization.
SessionOptions as_is(int threads, bool reference) {
  SessionOptions o = options(threads, reference);
  o.optimize = false;
  return o;
}

bool same_bytes(const Tensor& a, const Tensor& b) {
  return a.dtype() == b.dtype() && a.shape() == b.shape() && std::memcmp(a.raw(), b.raw(), a.bytes()) == 0;
}

std::int64_t count_differences(const Tensor& a, const Tensor& b) {
  REQUIRE(a.dtype() == b.dtype());
  REQUIRE(a.shape() == b.shape());
  const std::size_t width = size_of(a.dtype());
  std::int64_t n = 0;
  for (std::size_t i = 0; i < a.bytes(); i += width) n += std::memcmp(a.raw() + i, b.raw() + i, width) != 0;
  return n;
}

std::string ops_of(const Graph& g) {
  std::string ops;
  for (const Node& n : g.nodes) ops.append(ops.empty() ? "" : " ").append(n.op_type);
  return ops;
}

// The session's prepared graph with every node output as a graph output, to run as it is.
Graph tapped(const Graph& prepared) {
  Graph g = prepared;
  g.outputs.clear();
  for (const Node& n : g.nodes)
    for (const std::string& o : n.outputs)
      if (!o.empty()) g.outputs.push_back(o);
  return g;
}

// Node `n` of `g` alone: its non-constant inputs become the graph's inputs.
Graph single_node(const Graph& g, const Node& n) {
  Graph one;
  one.opsets = g.opsets;
  std::set<std::string> seen;
  for (const std::string& in : n.inputs) {
    if (in.empty() || !seen.insert(in).second) continue;
    one.values[in] = g.values.at(in);
    if (!g.is_constant(in)) one.inputs.push_back(in);
  }
  for (const std::string& o : n.outputs) {
    if (o.empty()) continue;
    one.values[o] = g.values.at(o);
    one.outputs.push_back(o);
  }
  one.nodes.push_back(n);
  return one;
}

double max_abs(const Tensor& t) {
  double m = 0;
  for (float v : t.span<float>()) m = std::max(m, double{std::fabs(v)});
  return m;
}

// The bound of docs/numerics.md §8 between two float sums of K terms and a bias, summed in
// different orders: 2·γ_K·(K·max|x|·max|w| + max|b|), K counting the bias, γ_K = K·u/(1 − K·u).
double float_bound(const Graph& g, const Node& n, const Tensor& x) {
  const Tensor* w = g.constant(n.inputs.at(1));
  REQUIRE_MESSAGE(w != nullptr, n.op_type, " ", n.name, ": weights not constant");
  REQUIRE(w->dtype() == DType::f32);
  std::int64_t fan_in = 0;
  if (n.op_type == "Conv") {
    fan_in = w->numel() / w->shape()[0];
  } else if (n.op_type == "Gemm") {
    fan_in = w->shape()[n.attrs.get_int("transB", 0) != 0 ? 1 : 0];
  } else {
    fan_in = w->shape()[0];  // MatMul: B is [K, N]
  }
  double max_b = 0;
  if (n.inputs.size() > 2 && !n.inputs[2].empty()) {
    const Tensor* b = g.constant(n.inputs[2]);
    REQUIRE(b != nullptr);
    max_b = max_abs(*b);
  }
  constexpr double u = 0x1p-24;
  const double k = static_cast<double>(fan_in) + 1;
  const double gamma = k * u / (1 - k * u);
  return 2 * gamma * (k * max_abs(x) * max_abs(*w) + max_b);
}

}  // namespace

TEST_CASE("session: INT8 models on the fast kernels equal the reference bit for bit, every value") {
  const std::string target(simd::active_target());
  for (const quant::Preset preset : {quant::Preset::u8s8, quant::Preset::s8s8, quant::Preset::xint8}) {
    const Graph model = quantized(preset);
    const Session fast(Graph(model), options(1, false));
    const Graph& prepared = fast.graph();
    INFO("target ", target, ", ", quant::name_of(preset), " model, prepared as: ", ops_of(prepared));
    // The integer kernels must be what runs, not DequantizeLinear -> float op -> QuantizeLinear.
    for (const Node& node : prepared.nodes)
      CHECK_MESSAGE((node.op_type != "Conv" && node.op_type != "Gemm" && node.op_type != "MatMul"), "node ",
                    node.name, " (", node.op_type, ") was not lowered to an integer operator");
    // (The reference kernels' session keeps MaxPool a node of its own — graph/passes/fuse_pool.hpp
    // runs for the fast CPU kernels only — so the prepared graph itself is what both run below.)
    // Every value of the prepared graph, on the fast kernels with one and two threads and on the
    // reference kernels.
    const Graph taps = tapped(prepared);
    const Session fast1(Graph(taps), as_is(1, false));
    const Session fast2(Graph(taps), as_is(2, false));
    const Session ref(Graph(taps), as_is(1, true));
    std::uint32_t seed = 1;
    for (const std::int64_t batch : kBatches) {
      const Tensor x = images(batch, seed++);
      const auto y = fast.run({x});
      const auto y1 = fast1.run({x});
      const auto y2 = fast2.run({x});
      const auto yr = ref.run({x});
      REQUIRE(y1.size() == taps.outputs.size());
      REQUIRE(y2.size() == y1.size());
      REQUIRE(yr.size() == y1.size());
      for (std::size_t i = 0; i < yr.size(); ++i) {
        INFO("batch ", batch, ", value ", taps.outputs[i], " of shape ", yr[i].shape());
        CHECK(count_differences(y1[i], yr[i]) == 0);
        CHECK(same_bytes(y2[i], y1[i]));
      }
      REQUIRE(y.size() == prepared.outputs.size());
      for (std::size_t i = 0; i < y.size(); ++i) {  // the tapped run is the run
        const auto at = std::find(taps.outputs.begin(), taps.outputs.end(), prepared.outputs[i]);
        REQUIRE(at != taps.outputs.end());
        CHECK(same_bytes(y[i], y1[static_cast<std::size_t>(at - taps.outputs.begin())]));
      }
    }
  }
}

TEST_CASE("session: the FP32 model on the fast kernels stays within the documented bound, layer by layer") {
  const std::string target(simd::active_target());
  const Session fast(Graph(fp32_model()), options(1, false));
  const Session fast2(Graph(fp32_model()), options(2, false));
  const Graph& prepared = fast.graph();
  INFO("target ", target, ", FP32 model, prepared as: ", ops_of(prepared));
  // Every value of the fast run, from the graph exactly as prepared (no second optimization).
  const Graph taps = tapped(prepared);
  const Session fast_taps(Graph(taps), as_is(1, false));
  // Each node alone on the reference kernels.
  std::vector<std::unique_ptr<const Session>> ref_nodes;
  for (const Node& n : prepared.nodes)
    ref_nodes.push_back(std::make_unique<const Session>(single_node(prepared, n), as_is(1, true)));

  int bounded_nodes = 0;
  std::uint32_t seed = 11;
  for (const std::int64_t batch : kBatches) {
    const Tensor x = images(batch, seed++);
    const auto y1 = fast.run({x});
    const auto y2 = fast2.run({x});
    const auto all = fast_taps.run({x});
    REQUIRE(all.size() == taps.outputs.size());
    REQUIRE(y1.size() == prepared.outputs.size());
    std::map<std::string, const Tensor*> value;
    value[prepared.inputs.at(0)] = &x;
    for (std::size_t i = 0; i < all.size(); ++i) value[taps.outputs[i]] = &all[i];
    for (std::size_t i = 0; i < y1.size(); ++i) {
      INFO("batch ", batch, ", output ", prepared.outputs[i]);
      CHECK(same_bytes(y2[i], y1[i]));                                // threads = 2 as threads = 1
      CHECK(same_bytes(*value.at(prepared.outputs[i]), y1[i]));       // the tapped run is the run
    }
    for (std::size_t k = 0; k < prepared.nodes.size(); ++k) {
      const Node& n = prepared.nodes[k];
      const Graph& one = ref_nodes[k]->graph();
      std::vector<Tensor> in;
      for (const std::string& name : one.inputs) in.push_back(*value.at(name));
      const auto want = ref_nodes[k]->run(std::span<const Tensor>(in));
      const bool float_sum =
          (n.op_type == "Conv" || n.op_type == "Gemm" || n.op_type == "MatMul") && (n.domain.empty() || n.domain == "ai.onnx");
      for (std::size_t o = 0; o < want.size(); ++o) {
        const Tensor& got = *value.at(one.outputs[o]);
        INFO("batch ", batch, ", node ", n.name, " (", n.op_type, "), output ", one.outputs[o], " of shape ",
             got.shape());
        REQUIRE(got.shape() == want[o].shape());
        if (!float_sum || got.dtype() != DType::f32) {
          CHECK(count_differences(got, want[o]) == 0);
          continue;
        }
        ++bounded_nodes;
        const double bound = float_bound(prepared, n, in.at(0));
        double worst = 0;
        std::int64_t outside = 0;
        for (std::size_t j = 0; j < got.span<float>().size(); ++j) {
          const double d = std::fabs(double{got.span<float>()[j]} - double{want[o].span<float>()[j]});
          worst = std::max(worst, d);
          outside += !(d <= bound);
        }
        INFO("max |fast - ref| ", worst, ", bound ", bound);
        CHECK(outside == 0);
      }
    }
  }
  CHECK(bounded_nodes == 5 * 3);  // the model's two convolutions and three Gemms, at each batch
}
