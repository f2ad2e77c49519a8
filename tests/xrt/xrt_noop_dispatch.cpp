// The XRT backend against the real XRT 2.13 libraries through the noop shim (ctest xrt_noop_dispatch).
//
// What this proves: the dispatch path — xclbin parsing, kernel lookup and argument checking, buffer
// allocation by memory group, weight upload once, activation buffers reused, runs started and waited
// for, several in flight, errors reported — works against libxrt_coreutil itself. What it cannot
// prove: any value the NPU computes (the noop shim computes nothing). Where values are checked, the
// tile is computed on the CPU by a completion hook ("emulated"), which proves the packing, padding,
// tiling and K accumulation around the kernel, not the kernel.
#include <doctest/doctest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "xrt_test_util.hpp"

using namespace qnn_xrt_test;
using npu::XrtBackend;
using npu::XrtOnError;
using npu::XrtOptions;

namespace {

XrtOptions emulated(int depth = 2) {
  XrtOptions o;
  o.run.depth = depth;
  o.run.completion_hook = emulate_tile;
  return o;
}

// Runs one matmul through an emulated NPU op and compares with the plain loop, exactly.
void check_emulated_matmul(const TestArtefact& art, DType ta, DType tb, std::int64_t M, std::int64_t K, std::int64_t N,
                           bool trans_b) {
  ScratchDir dir;
  XrtBackend be(write_setup(dir, {art}), emulated());
  const Tensor b = random_tensor(tb, trans_b ? Shape{N, K} : Shape{K, N}, 7);
  const Tensor a = random_tensor(ta, Shape{M, K}, 11);
  auto op = be.prepare_matmul("op", b, ta, trans_b);
  REQUIRE_MESSAGE(op.on_npu(), op.reason());
  Tensor c;
  op.run(a, c);
  const auto p = op.npu()->plan(M);
  INFO("M=", M, " K=", K, " N=", N, " artefact ", art.M, "x", art.K, "x", art.N, " ", art.b_layout,
       trans_b ? " B given as [N,K]" : " B given as [K,N]", " target noop+emulated");
  CHECK(be.counters().runs_started == static_cast<std::uint64_t>(p.runs()));
  if (ta == DType::bf16) {
    std::vector<float> want(static_cast<std::size_t>(M * N));
    npu::cpu_matmul_ktiled(reinterpret_cast<const qnn::bf16*>(a.raw()), reinterpret_cast<const qnn::bf16*>(b.raw()),
                           trans_b ? 1 : N, trans_b ? K : 1, want.data(), M, K, N, art.K);
    CHECK(std::memcmp(c.raw(), want.data(), want.size() * sizeof(float)) == 0);
    return;
  }
  std::vector<std::int32_t> want;
  if (ta == DType::i8 && tb == DType::i8) want = naive_matmul_i32<std::int8_t, std::int8_t>(a, b, trans_b);
  if (ta == DType::u8 && tb == DType::i8) want = naive_matmul_i32<std::uint8_t, std::int8_t>(a, b, trans_b);
  REQUIRE(want.size() == static_cast<std::size_t>(M * N));
  const auto* got = reinterpret_cast<const std::int32_t*>(c.raw());
  std::size_t bad = 0;
  for (std::size_t i = 0; i < want.size(); ++i) bad += got[i] != want[i];
  CHECK(bad == 0);
}

}  // namespace

TEST_SUITE("noop_dispatch") {

TEST_CASE("the noop shim opens a device and the backend reports the XRT API it was compiled for") {
  auto dev = npu::XrtDevice::open(0);
  REQUIRE(dev != nullptr);
  MESSAGE("XRT API path: ", npu::XrtDevice::api());
  CHECK_FALSE(npu::XrtDevice::api().empty());
}

TEST_CASE("weights are packed and uploaded once; activations and results reuse their buffers") {
  ScratchDir dir;
  TestArtefact art;  // 16x32x16, int8
  XrtOptions o;
  o.run.depth = 2;
  XrtBackend be(write_setup(dir, {art}), o);
  const std::int64_t M = 20, K = 40, N = 20;  // 2 x 2 x 2 tiles
  const Tensor b = random_tensor(DType::i8, Shape{K, N}, 1);
  auto op = be.prepare_matmul("fc", b, DType::i8);
  REQUIRE(op.on_npu());

  const auto prepared = be.counters();
  CHECK(prepared.xclbins_loaded == 1);
  CHECK(prepared.kernels_opened == 1);
  CHECK(prepared.instruction_bytes == 16);             // 4 words
  CHECK(prepared.weight_bytes == 4 * 32 * 16);         // 2 K tiles x 2 N tiles, padded
  CHECK(prepared.buffers_allocated == 1 + 4 + 2 * 2);  // instructions, weight tiles, 2 slots x (a, c)
  CHECK(prepared.runs_started == 0);

  const Tensor a = random_tensor(DType::i8, Shape{M, K}, 2);
  Tensor c;
  for (int call = 1; call <= 3; ++call) {
    op.run(a, c);
    const auto now = be.counters();
    CAPTURE(call);
    CHECK(now.runs_started == static_cast<std::uint64_t>(8 * call));
    CHECK(now.runs_completed == now.runs_started);
    CHECK(now.buffers_allocated == prepared.buffers_allocated);  // no allocation per call
    CHECK(now.weight_bytes == prepared.weight_bytes);            // no weight upload per call
    CHECK(now.bytes_to_device - prepared.bytes_to_device == static_cast<std::uint64_t>(call * 8 * 16 * 32));
    CHECK(now.bytes_from_device == static_cast<std::uint64_t>(call * 8 * 16 * 16 * 4));
  }
  CHECK(c.shape() == Shape{M, N});
  CHECK(c.dtype() == DType::i32);

  // A second op on the same artefact shares the xclbin and the kernel.
  auto op2 = be.prepare_matmul("fc2", random_tensor(DType::i8, Shape{K, N}, 3), DType::i8);
  CHECK(be.counters().xclbins_loaded == 1);
  CHECK(be.counters().kernels_opened == 1);

  const auto report = be.report().dump();
  CHECK(report.find("\"npu_calls\": 3") != std::string::npos);
  CHECK(report.find("\"ops_npu\": 2") != std::string::npos);
}

TEST_CASE("padding and tiling are exact (emulated completion)") {
  TestArtefact art;  // 16x32x16
  SUBCASE("one exact tile") { check_emulated_matmul(art, DType::i8, DType::i8, 16, 32, 16, false); }
  SUBCASE("M = 1") { check_emulated_matmul(art, DType::i8, DType::i8, 1, 32, 16, false); }
  SUBCASE("M tail") { check_emulated_matmul(art, DType::i8, DType::i8, 17, 32, 16, false); }
  SUBCASE("K = 1") { check_emulated_matmul(art, DType::i8, DType::i8, 16, 1, 16, false); }
  SUBCASE("K tail, several K tiles") { check_emulated_matmul(art, DType::i8, DType::i8, 16, 97, 16, false); }
  SUBCASE("N tail") { check_emulated_matmul(art, DType::i8, DType::i8, 16, 32, 17, false); }
  SUBCASE("every tail") { check_emulated_matmul(art, DType::i8, DType::i8, 37, 70, 45, false); }
  SUBCASE("weights given as [N,K]") { check_emulated_matmul(art, DType::i8, DType::i8, 37, 70, 45, true); }
  SUBCASE("artefact takes B as N x K") {
    art.b_layout = "NK";
    check_emulated_matmul(art, DType::i8, DType::i8, 37, 70, 45, false);
    check_emulated_matmul(art, DType::i8, DType::i8, 5, 33, 3, true);
  }
  SUBCASE("uint8 activations") {
    art.a = "uint8";
    check_emulated_matmul(art, DType::u8, DType::i8, 19, 65, 31, false);
  }
  SUBCASE("bfloat16 -> float32, K summed per artefact tile") {
    art.a = art.b = "bfloat16";
    art.c = "float32";
    check_emulated_matmul(art, DType::bf16, DType::bf16, 21, 100, 18, false);
  }
}

TEST_CASE("several runs are in flight per call, and results fold in submission order") {
  ScratchDir dir;
  XrtOptions o = emulated(3);
  std::atomic<std::uint64_t> max_in_flight{0};
  npu::XrtDevice* device = nullptr;
  o.run.completion_hook = [&](const npu::XrtTileIo& io) {
    const auto s = device->stats().snapshot();
    // This run has been counted complete; the runs started after it are still in flight.
    const std::uint64_t in_flight = s.runs_started - s.runs_completed + 1;
    if (in_flight > max_in_flight) max_in_flight = in_flight;
    emulate_tile(io);
  };
  XrtBackend be(write_setup(dir, {TestArtefact{}}), o);
  device = be.device();
  const Tensor b = random_tensor(DType::i8, Shape{64, 48}, 5);  // 2 K tiles x 3 N tiles
  const Tensor a = random_tensor(DType::i8, Shape{32, 64}, 6);  // 2 M tiles: 12 runs
  auto op = be.prepare_matmul("fc", b, DType::i8);
  Tensor c;
  op.run(a, c);
  CHECK(be.counters().runs_started == 12);
  CHECK(max_in_flight.load() == 3);
  const auto want = naive_matmul_i32<std::int8_t, std::int8_t>(a, b, false);
  CHECK(std::memcmp(c.raw(), want.data(), want.size() * 4) == 0);
}

TEST_CASE("calls from several threads, on one op and on two ops, run on lanes of their own and are exact") {
  ScratchDir dir;
  XrtBackend be(write_setup(dir, {TestArtefact{}}), emulated());
  const Tensor b1 = random_tensor(DType::i8, Shape{50, 20}, 8);
  const Tensor b2 = random_tensor(DType::i8, Shape{50, 33}, 9);
  auto op1 = be.prepare_matmul("op1", b1, DType::i8);
  auto op2 = be.prepare_matmul("op2", b2, DType::i8);
  constexpr int kThreads = 4, kCalls = 5;
  std::atomic<int> mismatches{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      auto& op = t % 2 ? op2 : op1;
      const Tensor& b = t % 2 ? b2 : b1;
      const Tensor a = random_tensor(DType::i8, Shape{9 + t, 50}, static_cast<std::uint32_t>(100 + t));
      const auto want = naive_matmul_i32<std::int8_t, std::int8_t>(a, b, false);
      Tensor c;
      for (int i = 0; i < kCalls; ++i) {
        op.run(a, c);
        if (std::memcmp(c.raw(), want.data(), want.size() * 4) != 0) ++mismatches;
      }
    });
  for (auto& th : threads) th.join();
  CHECK(mismatches.load() == 0);
  const auto n = be.counters();
  CHECK(n.runs_completed == n.runs_started);
  CHECK(n.runs_started == static_cast<std::uint64_t>(kThreads / 2 * kCalls * (2 * 2 + 2 * 3)));  // 2 K tiles x 2 or 3 N tiles
  // A lane per call in flight, kept for reuse: never more than the op's concurrent callers.
  CHECK(op1.npu()->lanes() >= 1);
  CHECK(op1.npu()->lanes() <= kThreads / 2);
  CHECK(op2.npu()->lanes() <= kThreads / 2);
}

TEST_CASE("an error in a run reaches the caller, and the op stays usable") {
  ScratchDir dir;
  XrtOptions o = emulated();
  std::atomic<int> fail_at{-1};
  std::atomic<int> seen{0};
  o.run.completion_hook = [&](const npu::XrtTileIo& io) {
    if (seen++ == fail_at.load()) qnn::fail("injected failure in tile (m ", io.im, ", n ", io.in, ", k ", io.ik, ")");
    emulate_tile(io);
  };
  XrtBackend be(write_setup(dir, {TestArtefact{}}), o);
  const Tensor b = random_tensor(DType::i8, Shape{64, 32}, 1);
  const Tensor a = random_tensor(DType::i8, Shape{32, 64}, 2);
  auto op = be.prepare_matmul("fc", b, DType::i8);
  Tensor c;
  fail_at = 2;
  CHECK_THROWS_WITH_AS(op.run(a, c), doctest::Contains("op 'fc': injected failure in tile (m 0, n 1, k 0)"), qnn::error);
  // Every run started was accounted for: nothing is left in flight.
  const auto n = be.counters();
  CHECK(n.runs_started == 4);  // jobs 0..2 and job 3, in flight when job 2 failed
  CHECK(n.runs_completed + n.runs_timed_out + n.runs_failed == n.runs_started);
  fail_at = -1;
  op.run(a, c);
  const auto want = naive_matmul_i32<std::int8_t, std::int8_t>(a, b, false);
  CHECK(std::memcmp(c.raw(), want.data(), want.size() * 4) == 0);
  CHECK(op.on_npu());
}

TEST_CASE("an artefact that does not load is an error, or with on_error = cpu a reported fallback") {
  ScratchDir dir;
  TestArtefact art;
  std::string expect;
  SUBCASE("kernel name not in the xclbin") {
    art.kernel = "NOPE";
    expect = "has no kernel 'NOPE' (it has: MLIR_AIE)";
  }
  SUBCASE("not an xclbin") {
    art.xclbin = "garbage.xclbin";
    std::ofstream(dir / "garbage.xclbin") << std::string(600, 'x');
    expect = "XRT: Invalid xclbin";
  }
  SUBCASE("xclbin file missing") {
    art.xclbin = "missing.xclbin";  // written by write_setup, removed below
    expect = "missing.xclbin";
  }
  SUBCASE("a buffer role on a scalar argument") {
    art.args = R"(["a", "instructions", "instruction_count", "opcode", "b", "c"])";
    expect = "argument 0 ('opcode', uint64_t) is a scalar in the xclbin but the manifest gives it buffer role \"a\"";
  }
  SUBCASE("more arguments than the kernel has") {
    art.args = R"(["opcode", "instructions", "instruction_count", "a", "b", "c", "unused", "unused", "unused"])";
    expect = "lists 9 arguments but kernel 'MLIR_AIE' has 8";
  }
  SUBCASE("instruction file missing") {
    art.instructions = "gone.bin";  // written by write_setup, removed below
    expect = "gone.bin";
  }
  const npu::XrtManifest m = write_setup(dir, {art});
  std::filesystem::remove(dir / "missing.xclbin");
  std::filesystem::remove(dir / "gone.bin");
  const Tensor b = random_tensor(DType::i8, Shape{32, 16}, 1);
  {
    XrtBackend be(m);
    CHECK_THROWS_WITH_AS(be.prepare_matmul("fc", b, DType::i8), doctest::Contains(expect.c_str()), qnn::error);
  }
  {
    XrtOptions o;
    o.on_error = XrtOnError::cpu;
    XrtBackend be(m, o);
    auto op = be.prepare_matmul("fc", b, DType::i8);
    CHECK_FALSE(op.on_npu());
    CHECK(op.reason().find("artefact 'mm' failed to load") != std::string::npos);
    CHECK(op.reason().find(expect) != std::string::npos);
    const Tensor a = random_tensor(DType::i8, Shape{3, 32}, 2);
    Tensor c;
    op.run(a, c);
    const auto want = naive_matmul_i32<std::int8_t, std::int8_t>(a, b, false);
    CHECK(std::memcmp(c.raw(), want.data(), want.size() * 4) == 0);  // the CPU path computes real values
    CHECK(be.report().dump().find("\"device\": \"cpu\"") != std::string::npos);
    CHECK(be.counters().runs_started == 0);
  }
}

TEST_CASE("an op without an artefact for its dtypes runs on the CPU and the report says why") {
  ScratchDir dir;
  XrtBackend be(write_setup(dir, {TestArtefact{}}));  // int8 only
  const Tensor b = random_tensor(DType::bf16, Shape{8, 4}, 1);
  auto op = be.prepare_matmul("head", b, DType::bf16);
  CHECK_FALSE(op.on_npu());
  CHECK(op.reason() == "no artefact for bfloat16 x bfloat16 -> float32 (the manifest has: mm (int8 x int8 -> int32))");
  const Tensor a = random_tensor(DType::bf16, Shape{2, 8}, 2);
  Tensor c;
  op.run(a, c);
  CHECK(c.dtype() == DType::f32);
  const std::string text = be.report_text();
  CHECK(text.find("head  matmul K=8 N=4  bfloat16 x bfloat16 -> float32  cpu (no artefact") != std::string::npos);
}

TEST_CASE("XRT 2.13 holds one xclbin per device: an artefact in a second xclbin is refused with the reason") {
  if (npu::XrtXclbinContext::kManyXclbins) {
    MESSAGE("compiled for the hw_context API: several xclbins may be live, nothing to test here");
    return;
  }
  ScratchDir dir;
  TestArtefact first;
  TestArtefact second;
  second.name = "mm_u8";
  second.xclbin = "other.xclbin";
  second.a = "uint8";
  const auto m = write_setup(dir, {first, second});
  XrtOptions o;
  o.on_error = XrtOnError::cpu;
  XrtBackend be(m, o);
  auto op1 = be.prepare_matmul("s8", random_tensor(DType::i8, Shape{32, 16}, 1), DType::i8);
  auto op2 = be.prepare_matmul("u8", random_tensor(DType::i8, Shape{32, 16}, 1), DType::u8);
  CHECK(op1.on_npu());
  CHECK_FALSE(op2.on_npu());
  CHECK(op2.reason().find("holds one xclbin per device") != std::string::npos);
}

}  // TEST_SUITE
