// Sessions on the XRT backend (npu::XrtSessionBackend), against the real XRT 2.13 libraries through
// the noop shim (suites noop_dispatch, noop_timeout) and without a device (suite no_device).
//
// The model is a small quantized MLP built here (mlp()), with one node of each kind the backend
// takes and two it declines. What is proven: which node runs where and why (the partition), how
// many kernel runs each inference dispatches and how many bytes cross to the device (weights once,
// activations per run), that timeouts and failed runs are qnn::errors naming the node and leave
// nothing in flight, that several run contexts on several threads share the backend, and that
// without a device every node runs on the CPU with the same results as a CPU session. What is not:
// any value the NPU computes — the noop shim computes nothing. Where values are compared, a
// completion hook computes each tile on the CPU ("emulated"), which proves the packing, padding,
// tiling, K accumulation and the host epilogue around the kernel (bit-identical to the CPU
// session), not the kernel.
#include <doctest/doctest.h>
#include <sys/wait.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "../backends/backend_test_util.hpp"
#include "qnn/backends/backends.hpp"
#include "qnn/backends/npu/xrt_session_backend.hpp"
#include "qnn/backends/partition.hpp"
#include "qnn/onnx/export.hpp"
#include "qnn/runtime/session.hpp"
#include "xrt_test_util.hpp"

using namespace qnn_xrt_test;
using npu::XrtOnError;
using npu::XrtOptions;
using npu::XrtSessionBackend;
using XrtSession = qnn::BasicSession<XrtSessionBackend>;

namespace {

constexpr std::int64_t kRunsPerInference = 1 + 3 + 2;  // fc1, fc2, fc4 at up to 16 rows (mlp())

// x: uint8 [batch, 32], scale 2^-4, zero point 128 (XINT8 style)
//   fc1  QGemm 32 -> 16, bias, fused ReLU             xrt: the 16x32x16 artefact, 1 run per 16 rows
//   fc2  QLinearMatMul 16 -> 40, per-column scales    xrt: K padded to 32, 3 N tiles: 3 runs
//   fc3  QGemm 40 -> 10, weight zero point 3          cpu: weights not symmetric
//   fc4  MatMulInteger 40 -> 8, a_zero_point 128      xrt: 2 K tiles: 2 runs; int32 output y4
//   dq   DequantizeLinear of fc3 -> y3                cpu: not a matmul
qnn::Graph mlp() {
  using namespace backend_test;
  GraphBuilder b;
  b.input("x", DType::u8, {qnn::kDynamicDim, 32});
  auto pow2 = [&](const std::string& n, int pos) { return b.constant(n, Tensor::scalar<float>(std::ldexp(1.0f, -pos))); };
  const std::string a_s = pow2("a_s", 4), w_s = pow2("w_s", 6), y_s = pow2("y_s", 3);
  const std::string zp128 = b.constant("zp128", Tensor::scalar<std::uint8_t>(128));
  const std::string wz0 = b.constant("wz0", Tensor::scalar<std::int8_t>(0));

  const std::string w1 = b.constant("w1", random_int8(Shape{32, 16}, 1, -64, 63));
  const std::string c1 = b.constant("c1", random_int32(Shape{16}, 2, -5000, 5000));
  qnn::Node& fc1 = b.node("com.microsoft", "QGemm", {"x", a_s, zp128, w1, w_s, wz0, c1, y_s, zp128}, {"h1"}, "fc1");
  fc1.attrs.set("qnn_activation", std::string("relu"));

  Tensor scales2(DType::f32, Shape{40});
  for (std::int64_t n = 0; n < 40; ++n) scales2.span<float>()[static_cast<std::size_t>(n)] = std::ldexp(1.0f, -5 - int(n % 3));
  const std::string w2 = b.constant("w2", random_int8(Shape{16, 40}, 3, -64, 63));
  const std::string s2 = b.constant("s2", std::move(scales2));
  const std::string z2 = b.constant("z2", Tensor(DType::i8, Shape{40}));
  b.node("", "QLinearMatMul", {"h1", y_s, zp128, w2, s2, z2, y_s, zp128}, {"h2"}, "fc2");

  const std::string w3 = b.constant("w3", random_int8(Shape{40, 10}, 4, -64, 63));
  const std::string z3 = b.constant("z3", Tensor::scalar<std::int8_t>(3));
  b.node("com.microsoft", "QGemm", {"h2", y_s, zp128, w3, w_s, z3, "", y_s, zp128}, {"h3"}, "fc3");
  b.node("", "DequantizeLinear", {"h3", y_s, zp128}, {"y3"}, "dq");

  const std::string w4 = b.constant("w4", random_int8(Shape{40, 8}, 5, -64, 63));
  b.node("", "MatMulInteger", {"h2", w4, zp128}, {"y4"}, "fc4");
  b.describe("y3", DType::f32, {qnn::kDynamicDim, 10});  // graph outputs declare their type (ONNX export)
  b.describe("y4", DType::i32, {qnn::kDynamicDim, 8});
  b.output("y3").output("y4");
  return b.g;
}

// The artefact the MLP's matmuls fit: uint8 x int8 -> int32, 16x32x16.
TestArtefact u8_artefact() {
  TestArtefact t;
  t.name = "mm_u8";
  t.a = "uint8";
  return t;
}

Tensor input(std::int64_t batch, std::uint32_t seed) { return backend_test::random_uint8(Shape{batch, 32}, seed); }

bool same(const std::vector<Tensor>& a, const std::vector<Tensor>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (!backend_test::same_bytes(a[i], b[i])) return false;
  return true;
}

XrtOptions emulated() {
  XrtOptions o;
  o.run.completion_hook = emulate_tile;
  return o;
}

const qnn::backends::NodePlacement& placement(const qnn::backends::Partition& p, const std::string& node) {
  for (const auto& n : p.nodes)
    if (n.node == node) return n;
  FAIL("no node ", node);
  return p.nodes.front();
}

}  // namespace

TEST_SUITE("noop_dispatch") {

TEST_CASE("session: the matmuls an artefact fits run on xrt, the others on the CPU with the reason") {
  ScratchDir dir;
  const XrtSession s(mlp(), {}, qnn::builtin_registry(), XrtSessionBackend(write_setup(dir, {u8_artefact()})));
  const qnn::backends::Partition& p = s.partition();
  CHECK(p.backend == "xrt");
  CHECK(p.fallback == "cpu");
  CHECK(placement(p, "fc1").device == "xrt");
  CHECK(placement(p, "fc1").op == "com.microsoft.QGemm+relu");
  CHECK(placement(p, "fc2").device == "xrt");
  CHECK(placement(p, "fc4").device == "xrt");
  CHECK(placement(p, "fc3").device == "cpu");
  CHECK(placement(p, "fc3").reason ==
        "weight zero point 3 is not 0: the NPU returns the raw sum of a·b, which the host corrects only for "
        "symmetric weights");
  CHECK(placement(p, "dq").device == "cpu");
  CHECK(placement(p, "dq").reason.rfind("DequantizeLinear is not a matmul: the XRT backend runs com.microsoft.QGemm",
                                        0) == 0);
  CHECK(p.subgraphs == 1);
  CHECK(placement(p, "fc1").macs == 32 * 16);  // the batch-1 probe run
  const std::string text = qnn::backends::format_partition(p);
  MESSAGE(text);
  CHECK(text.find("partition on xrt: 3 of 5 nodes") == 0);
}

TEST_CASE("session: without an artefact for the node's dtypes a matmul stays on the CPU, saying what there is") {
  ScratchDir dir;
  const XrtSession s(mlp(), {}, qnn::builtin_registry(), XrtSessionBackend(write_setup(dir, {TestArtefact{}})));
  const std::string want = "no artefact for uint8 x int8 -> int32 (the manifest has: mm (int8 x int8 -> int32)) in " +
                           (dir / "manifest.json").string() + ", for a matmul of K=32 N=16";
  CHECK(placement(s.partition(), "fc1").reason == want);
  CHECK(s.partition().totals()[0].nodes == 0);
  CHECK(s.backend().counters().runs_started == 0);
}

TEST_CASE("session: weights are uploaded once; each inference dispatches the same runs and activation traffic") {
  ScratchDir dir;
  const XrtSession s(mlp(), {}, qnn::builtin_registry(), XrtSessionBackend(write_setup(dir, {u8_artefact()})));
  const auto prepared = s.backend().counters();
  CHECK(prepared.xclbins_loaded == 1);  // one xclbin, one kernel, shared by the three nodes
  CHECK(prepared.kernels_opened == 1);
  CHECK(prepared.weight_bytes == (1 + 3 + 2) * 32 * 16);  // weight tiles: fc1 1, fc2 3, fc4 2 (padded)
  CHECK(prepared.instruction_bytes == 3 * 16);
  CHECK(prepared.runs_started == kRunsPerInference);  // the session's batch-1 probe run

  qnn::BasicRunContext<XrtSessionBackend> ctx;
  std::vector<Tensor> out;
  const Tensor x = input(5, 9);
  for (int r = 1; r <= 3; ++r) {
    s.run(ctx, {&x, 1}, out);
    const auto now = s.backend().counters();
    CAPTURE(r);
    CHECK(now.runs_started - prepared.runs_started == static_cast<std::uint64_t>(r * kRunsPerInference));
    CHECK(now.runs_completed == now.runs_started);
    CHECK(now.weight_bytes == prepared.weight_bytes);            // no weight upload per run
    CHECK(now.buffers_allocated == prepared.buffers_allocated);  // one lane per node suffices: no allocation
    CHECK(now.bytes_to_device - prepared.bytes_to_device ==
          static_cast<std::uint64_t>(r * kRunsPerInference * 16 * 32));  // one padded A tile per run
    CHECK(now.bytes_from_device - prepared.bytes_from_device ==
          static_cast<std::uint64_t>(r * kRunsPerInference * 16 * 16 * 4));  // one int32 C tile per run
  }
  CHECK(out.size() == 2);
  CHECK(out[0].shape() == Shape{5, 10});
  CHECK(out[1].dtype() == DType::i32);

  // 17 rows are two M tiles: twice the runs.
  const auto before = s.backend().counters();
  const Tensor x17 = input(17, 10);
  s.run(ctx, {&x17, 1}, out);
  CHECK(s.backend().counters().runs_started - before.runs_started == static_cast<std::uint64_t>(2 * kRunsPerInference));
}

TEST_CASE("session: with the kernel emulated, results equal the CPU session's bit for bit") {
  ScratchDir dir;
  const qnn::Session cpu(mlp());
  const XrtSession s(mlp(), {}, qnn::builtin_registry(), XrtSessionBackend(write_setup(dir, {u8_artefact()}), emulated()));
  for (std::int64_t batch : {1, 5, 16, 17, 40}) {
    CAPTURE(batch);
    const Tensor x = input(batch, static_cast<std::uint32_t>(batch));
    CHECK(same(s.run({x}), cpu.run({x})));
  }
  SUBCASE("under every requantization policy") {
    for (qnn::RequantPolicy policy : {qnn::RequantPolicy::tflite_double_round, qnn::RequantPolicy::tflite_single_round,
                                      qnn::RequantPolicy::npu_pow2}) {
      CAPTURE(policy);
      qnn::SessionOptions o;
      o.requant = policy;
      const qnn::Session c(mlp(), o);
      const XrtSession x(mlp(), o, qnn::builtin_registry(),
                         XrtSessionBackend(write_setup(dir, {u8_artefact()}), emulated()));
      const Tensor in = input(7, 3);
      CHECK(same(x.run({in}), c.run({in})));
    }
  }
}

TEST_CASE("session: several run contexts on several threads share the backend; dispatch counts add up") {
  ScratchDir dir;
  const qnn::Session cpu(mlp());
  const XrtSession s(mlp(), {}, qnn::builtin_registry(), XrtSessionBackend(write_setup(dir, {u8_artefact()}), emulated()));
  const auto before = s.backend().counters();
  constexpr int kThreads = 4, kRuns = 5;
  std::atomic<int> mismatches{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      qnn::BasicRunContext<XrtSessionBackend> ctx;
      const Tensor x = input(3 + t, static_cast<std::uint32_t>(50 + t));
      const std::vector<Tensor> want = cpu.run({x});
      std::vector<Tensor> got;
      for (int r = 0; r < kRuns; ++r) {
        s.run(ctx, {&x, 1}, got);
        if (!same(got, want)) ++mismatches;
      }
    });
  for (auto& th : threads) th.join();
  CHECK(mismatches.load() == 0);
  const auto after = s.backend().counters();
  CHECK(after.runs_started - before.runs_started == static_cast<std::uint64_t>(kThreads * kRuns * kRunsPerInference));
  CHECK(after.runs_completed == after.runs_started);
  CHECK(after.weight_bytes == before.weight_bytes);
}

TEST_CASE("session: a failed run is a qnn::error naming the node; nothing stays in flight; the next run works") {
  ScratchDir dir;
  XrtOptions o = emulated();
  std::atomic<int> fail_at{-1}, seen{0};
  o.run.completion_hook = [&](const npu::XrtTileIo& io) {
    if (seen++ == fail_at.load()) qnn::fail("injected device failure");
    emulate_tile(io);
  };
  const qnn::Session cpu(mlp());
  const XrtSession s(mlp(), {}, qnn::builtin_registry(), XrtSessionBackend(write_setup(dir, {u8_artefact()}), o));
  const Tensor x = input(4, 1);
  seen = 0;
  fail_at = 2;  // fc2's second tile (fc1 is tile 0)
  CHECK_THROWS_WITH_AS(s.run({x}), "node 'fc2' (QLinearMatMul): injected device failure", qnn::error);
  const auto n = s.backend().counters();
  CHECK(n.runs_completed + n.runs_timed_out + n.runs_failed == n.runs_started);
  fail_at = -1;
  CHECK(same(s.run({x}), cpu.run({x})));
}

TEST_CASE("session: an artefact that does not load is an error naming the node, or with on_error = cpu a fallback") {
  ScratchDir dir;
  TestArtefact art = u8_artefact();
  art.kernel = "NOPE";
  const npu::XrtManifest m = write_setup(dir, {art});
  CHECK_THROWS_WITH_AS(XrtSession(mlp(), {}, qnn::builtin_registry(), XrtSessionBackend(m)),
                       doctest::Contains("node 'fc1' (com.microsoft.QGemm): artefact 'mm_u8' failed to load: "
                                         "artefact 'mm_u8': xclbin '"),
                       qnn::error);
  XrtOptions o;
  o.on_error = XrtOnError::cpu;
  const XrtSession s(mlp(), {}, qnn::builtin_registry(), XrtSessionBackend(m, o));
  for (const char* node : {"fc1", "fc2", "fc4"}) {
    CAPTURE(node);
    CHECK(placement(s.partition(), node).device == "cpu");
    CHECK(placement(s.partition(), node).reason.find("has no kernel 'NOPE' (it has: MLIR_AIE)") != std::string::npos);
  }
  const qnn::Session cpu(mlp());
  const Tensor x = input(3, 2);
  CHECK(same(s.run({x}), cpu.run({x})));
  CHECK(s.backend().counters().runs_started == 0);
}

TEST_CASE("visit_backend(\"xrt\") makes the backend from the manifest option, or says it needs one") {
  ScratchDir dir;
  write_setup(dir, {u8_artefact()});
  qnn::backends::BackendOptions opts;
  CHECK_THROWS_WITH_AS(qnn::backends::visit_backend("xrt", opts, [](auto) {}),
                       doctest::Contains("backend 'xrt' needs the manifest of your prebuilt NPU artefacts: pass "
                                         "--xrt-manifest FILE or set QNN_XRT_MANIFEST"),
                       qnn::error);
  opts.xrt_manifest = (dir / "manifest.json").string();
  const std::int64_t on_xrt = qnn::backends::visit_backend("xrt", opts, [](auto backend) {
    using B = decltype(backend);
    const qnn::BasicSession<B> s(mlp(), {}, qnn::builtin_registry(), std::move(backend));
    return s.partition().totals()[0].nodes;
  });
  CHECK(on_xrt == 3);
}

}  // TEST_SUITE

TEST_SUITE("noop_timeout") {

TEST_CASE("session: a run past its timeout is a qnn::error naming the node and the bound") {
  ScratchDir dir;
  XrtOptions o;
  o.run.timeout = std::chrono::milliseconds{20};  // the shim completes runs after 200 ms
  qnn::SessionOptions so;
  so.probe = false;  // the probe run would time out while the session is made
  const XrtSession s(mlp(), so, qnn::builtin_registry(), XrtSessionBackend(write_setup(dir, {u8_artefact()}), o));
  const Tensor x = input(2, 1);
  CHECK_THROWS_WITH_AS(s.run({x}),
                       "node 'fc1' (com.microsoft.QGemm): artefact 'mm_u8': run of tile (m 0, n 0, k 0): did not "
                       "complete within 20 ms; aborted",
                       qnn::error);
  const auto n = s.backend().counters();
  CHECK(n.runs_started == 1);
  CHECK(n.runs_timed_out == 1);
  CHECK(n.runs_completed + n.runs_timed_out + n.runs_failed == n.runs_started);
}

}  // TEST_SUITE

TEST_SUITE("no_device") {

TEST_CASE("session: without a device the backend fails with XRT's reason, or runs everything on the CPU") {
  ScratchDir dir;
  const npu::XrtManifest m = write_setup(dir, {u8_artefact()});
  CHECK_THROWS_WITH_AS(XrtSessionBackend{m}, doctest::Contains("XRT device 0 (XILINX_XRT="), qnn::error);

  XrtOptions o;
  o.require_device = false;
  const XrtSession s(mlp(), {}, qnn::builtin_registry(), XrtSessionBackend(m, o));
  CHECK_FALSE(s.backend().device_available());
  for (const auto& p : s.partition().nodes) {
    CAPTURE(p.node);
    CHECK(p.device == "cpu");
    CHECK(p.reason.rfind("no XRT device (XRT device 0 (XILINX_XRT=", 0) == 0);
    CHECK(p.reason.find("): running on the CPU") == p.reason.size() - std::string("): running on the CPU").size());
  }
  const qnn::Session cpu(mlp());
  for (std::int64_t batch : {1, 6, 33}) {
    const Tensor x = input(batch, static_cast<std::uint32_t>(batch));
    CHECK(same(s.run({x}), cpu.run({x})));
  }
}

}  // TEST_SUITE

TEST_SUITE("cli") {

// The qnn tool of this build (QNN_CLI, set by tests/xrt/CMakeLists.txt) on the noop shim.
TEST_CASE("qnn inspect --backend xrt --xrt-manifest prints the partition; without a manifest it says what is missing") {
  ScratchDir dir;
  write_setup(dir, {u8_artefact()});
  qnn::onnx::save_graph(dir / "mlp.onnx", mlp());
  const std::string cli = std::getenv("QNN_CLI");
  auto qnn_tool = [&](const std::string& args) {
    const std::string out = (dir / "out.txt").string();
    const int status = std::system((cli + " " + args + " > " + out + " 2>&1").c_str());
    std::ifstream f(out);
    std::stringstream text;
    text << f.rdbuf();
    return std::make_pair(WIFEXITED(status) ? WEXITSTATUS(status) : -1, text.str());  // the exit code
  };
  const std::string model = (dir / "mlp.onnx").string();
  const auto [rc, text] = qnn_tool("inspect " + model + " --backend xrt --xrt-manifest " + (dir / "manifest.json").string());
  INFO(text);
  CHECK(rc == 0);
  CHECK(text.find("partition on xrt: 3 of 5 nodes") != std::string::npos);
  CHECK(text.find("#2 fc3 (com.microsoft.QGemm) -> cpu: weight zero point 3 is not 0") != std::string::npos);

  const auto [rc2, text2] = qnn_tool("inspect " + model + " --backend xrt");
  INFO(text2);
  CHECK(rc2 == 1);
  CHECK(text2.find("qnn: error: backend 'xrt' needs the manifest of your prebuilt NPU artefacts") != std::string::npos);
}

}  // TEST_SUITE
