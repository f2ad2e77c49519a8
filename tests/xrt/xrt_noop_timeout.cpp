// Timeouts and runs in flight, against the noop shim with a completion delay (ctest
// xrt_noop_timeout: its xrt.ini sets [Runtime] noop_completion_delay_us, so every run completes
// kDelay after it was submitted; XRT reads xrt.ini once per process, hence a test of its own).
#include <doctest/doctest.h>

#include <chrono>

#include "xrt_test_util.hpp"

using namespace qnn_xrt_test;
using npu::XrtBackend;
using npu::XrtOnError;
using npu::XrtOptions;

namespace {
constexpr std::chrono::milliseconds kDelay{200};  // tests/xrt/CMakeLists.txt writes it into xrt.ini
}

TEST_SUITE("noop_timeout") {

TEST_CASE("a run past its timeout is aborted and the call fails with the tile and the bound") {
  ScratchDir dir;
  const auto m = write_setup(dir, {TestArtefact{}});
  XrtOptions o;
  o.run.timeout = std::chrono::milliseconds{20};
  XrtBackend be(m, o);
  const Tensor b = random_tensor(DType::i8, Shape{32, 32}, 1);  // 2 N tiles
  auto op = be.prepare_matmul("fc", b, DType::i8);
  Tensor c;
  CHECK_THROWS_WITH_AS(op.run(random_tensor(DType::i8, Shape{4, 32}, 2), c),
                       doctest::Contains("op 'fc': artefact 'mm': run of tile (m 0, n 0, k 0): did not complete "
                                         "within 20 ms; aborted"),
                       qnn::error);
  const auto n = be.counters();
  CHECK(n.runs_started == 2);
  CHECK(n.runs_timed_out >= 1);  // the second run may complete while the first is aborted
  CHECK(n.runs_completed + n.runs_timed_out + n.runs_failed == n.runs_started);
  CHECK(op.on_npu());  // on_error = fail: the op is not moved

  // The same artefact with a timeout above the delay completes.
  XrtOptions patient;
  patient.run.timeout = std::chrono::milliseconds{5000};
  patient.run.completion_hook = emulate_tile;
  XrtBackend be2(m, patient);
  auto op2 = be2.prepare_matmul("fc", b, DType::i8);
  const Tensor a = random_tensor(DType::i8, Shape{4, 32}, 3);
  op2.run(a, c);
  const auto want = naive_matmul_i32<std::int8_t, std::int8_t>(a, b, false);
  CHECK(std::memcmp(c.raw(), want.data(), want.size() * 4) == 0);
}

TEST_CASE("with on_error = cpu a timeout moves the op to the CPU, once, and the report says why") {
  ScratchDir dir;
  XrtOptions o;
  o.on_error = XrtOnError::cpu;
  o.run.timeout = std::chrono::milliseconds{20};
  XrtBackend be(write_setup(dir, {TestArtefact{}}), o);
  const Tensor b = random_tensor(DType::i8, Shape{32, 16}, 1);
  const Tensor a = random_tensor(DType::i8, Shape{5, 32}, 2);
  auto op = be.prepare_matmul("fc", b, DType::i8);
  REQUIRE(op.on_npu());
  Tensor c;
  op.run(a, c);
  const auto want = naive_matmul_i32<std::int8_t, std::int8_t>(a, b, false);
  CHECK(std::memcmp(c.raw(), want.data(), want.size() * 4) == 0);
  CHECK_FALSE(op.on_npu());
  CHECK(op.reason().find("NPU call failed, op moved to the CPU: artefact 'mm': run of tile (m 0, n 0, k 0): did not "
                         "complete within 20 ms") != std::string::npos);
  op.run(a, c);  // straight to the CPU: no second timeout
  CHECK(be.counters().runs_started == 1);
  CHECK(be.counters().runs_timed_out == 1);
  const std::string r = be.report().dump();
  CHECK(r.find("\"fallbacks\": 1") != std::string::npos);
  CHECK(r.find("\"cpu_calls\": 2") != std::string::npos);
  CHECK(r.find("\"npu_calls\": 0") != std::string::npos);
}

TEST_CASE("runs in flight overlap: depth 4 takes far less than four serial runs") {
  ScratchDir dir;
  const auto m = write_setup(dir, {TestArtefact{}});
  const Tensor b = random_tensor(DType::i8, Shape{32, 64}, 1);  // 4 N tiles: 4 runs
  const Tensor a = random_tensor(DType::i8, Shape{8, 32}, 2);
  auto time_with_depth = [&](int depth) {
    XrtOptions o;
    o.run.depth = depth;
    o.run.timeout = std::chrono::milliseconds{5000};
    XrtBackend be(m, o);
    auto op = be.prepare_matmul("fc", b, DType::i8);
    Tensor c;
    const auto t0 = std::chrono::steady_clock::now();
    op.run(a, c);
    const auto dt = std::chrono::steady_clock::now() - t0;
    CHECK(be.counters().runs_completed == 4);
    return std::chrono::duration_cast<std::chrono::milliseconds>(dt);
  };
  const auto serial = time_with_depth(1);
  const auto overlapped = time_with_depth(4);
  MESSAGE("4 runs of ", kDelay.count(), " ms: depth 1 took ", serial.count(), " ms, depth 4 took ", overlapped.count(),
          " ms");
  CHECK(serial >= 4 * kDelay);  // the shim's delay is real: no run completes early
  CHECK(overlapped >= kDelay);
  CHECK(overlapped.count() * 4 < serial.count() * 3);
}

}  // TEST_SUITE
