// The run-time dispatch build (qnn::dispatch) under test: this file's main and the checks of the
// target selection itself; simd/test_fast_vs_reference.cpp, linked beside it, is the bit-exactness
// suite, run here on whatever target the selection gives.
//
// tests/CMakeLists.txt runs this binary once with no QNN_SIMD_TARGET (simd_dynamic: the default
// must be the best target the CPU supports) and once per compiled target with QNN_SIMD_TARGET set
// (simd_dynamic_<target>). A target compiled in but missing from this CPU exits 77, which CTest
// reports as skipped, never as passed. Not named test_*.cpp: the main suite is header-only and
// must not compile it.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "qnn/core/error.hpp"
#include "qnn/kernels/dispatch.hpp"
#include "qnn/kernels/gemm.hpp"

#ifndef QNN_DYNAMIC_DISPATCH
#error "tests/simd/dynamic_dispatch.cpp is built with qnn::dispatch"
#endif

using namespace qnn;

namespace {

std::string upper(std::string_view s) {
  std::string u(s);
  for (char& c : u) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return u;
}

bool contains(const std::vector<std::string_view>& names, std::string_view name) {
  return std::any_of(names.begin(), names.end(), [&](std::string_view n) { return upper(n) == upper(name); });
}

std::string requested() {
  const char* env = std::getenv("QNN_SIMD_TARGET");  // NOLINT(concurrency-mt-unsafe): read before threads start
  return env ? std::string(env) : std::string();
}

// The best target by the CPU's own feature flags (GCC's cpuid view, independent of Highway): the
// groups Highway 1.0.3 requires, less the flags GCC cannot query (F16C, LZCNT).
std::string expected_best() {
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
      __builtin_cpu_supports("avx512bw"))
    return "AVX3";  // or AVX3_DL: compared by prefix
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("bmi") &&
      __builtin_cpu_supports("bmi2"))
    return "AVX2";
  if (__builtin_cpu_supports("sse4.2") && __builtin_cpu_supports("pclmul") && __builtin_cpu_supports("aes"))
    return "SSE4";
  if (__builtin_cpu_supports("ssse3")) return "SSSE3";
  return "portable";
}

// A small int8 GEMM, fast against reference, on the active target.
bool gemm_matches_reference(std::mt19937& rng) {
  const std::int64_t m = 5, k = 37, n = 19;
  Tensor a(DType::u8, Shape{m, k}), b(DType::i8, Shape{k, n});
  std::uniform_int_distribution<int> d(0, 255);
  for (auto& v : a.span<std::uint8_t>()) v = static_cast<std::uint8_t>(d(rng));
  for (auto& v : b.span<std::int8_t>()) v = static_cast<std::int8_t>(d(rng) - 128);
  const PerTensor<std::uint8_t> xq(0.02f, 128);
  const PerTensor<std::int8_t> wq(0.01f, 0);
  const PerTensor<std::int8_t> yq(0.5f, -3);
  const std::vector<std::int32_t> bias(static_cast<std::size_t>(n), 100);
  const QView<const std::int8_t, PerTensor<std::int8_t>> bv{b.view<std::int8_t>(), wq};
  GemmOptions o;
  const QuantizedGemm<std::uint8_t, std::int8_t, std::int8_t> fast(xq, bv, bias, yq, o);
  o.reference = true;
  const QuantizedGemm<std::uint8_t, std::int8_t, std::int8_t> ref(xq, bv, bias, yq, o);
  Tensor c1(DType::i8, Shape{m, n}), c2(DType::i8, Shape{m, n});
  fast.run(a.view<std::uint8_t>(), c1.view<std::int8_t>());
  ref.run(a.view<std::uint8_t>(), c2.view<std::int8_t>());
  return std::equal(c1.span<std::int8_t>().begin(), c1.span<std::int8_t>().end(), c2.span<std::int8_t>().begin());
}

}  // namespace

TEST_CASE("run-time dispatch: the chosen target") {
  const std::vector<std::string_view> compiled = simd::compiled_targets();
  const std::vector<std::string_view> available = simd::dispatch_targets();
  const std::string active = simd::active_target();
  std::string all;
  for (const std::string_view t : compiled) all.append(all.empty() ? "" : " ").append(t);
  MESSAGE("compiled: ", all, "; active: ", active);
  // Debian's Highway 1.0.3 with GCC 12 and no -march flags, qnn/config.hpp wanting AVX3_DL.
  CHECK(all == "AVX3_DL AVX3 AVX2 SSE4 SSSE3 portable");
  REQUIRE(!available.empty());
  CHECK(available.back() == "portable");
  for (const std::string_view t : available) CHECK(contains(compiled, t));

  const std::string want = requested();
  if (want.empty()) {
    // The default: the best target the CPU supports, by Highway and by the CPU's flags.
    CHECK(active == std::string(available.front()));
    const std::string best = expected_best();
    INFO("expected from cpuid: ", best);
    CHECK(active.rfind(best, 0) == 0);
  } else {
    CHECK(upper(active) == upper(want));
  }
}

TEST_CASE("run-time dispatch: selecting targets") {
  const std::string initial = simd::active_target();
  std::mt19937 rng(5);
  for (const std::string_view t : simd::dispatch_targets()) {
    simd::select_target(upper(t));  // names match in any case
    CHECK(std::string(simd::active_target()) == std::string(t));
    INFO("target ", std::string(t));
    CHECK(gemm_matches_reference(rng));
  }
  simd::select_best_target();
  CHECK(std::string(simd::active_target()) == std::string(simd::dispatch_targets().front()));

  SUBCASE("an unknown name is an error naming the available targets") {
    try {
      simd::select_target("NEON");
      FAIL("select_target(NEON) did not throw");
    } catch (const qnn::error& e) {
      const std::string msg = e.what();
      CHECK(msg.find("unknown SIMD target 'NEON'") != std::string::npos);
      CHECK(msg.find(std::string(simd::dispatch_targets().front())) != std::string::npos);
    }
  }
  SUBCASE("a compiled target this CPU lacks is an error, not a fallback") {
    for (const std::string_view t : simd::compiled_targets())
      if (!contains(simd::dispatch_targets(), t)) {
        INFO("target ", std::string(t));
        CHECK_THROWS_AS(simd::select_target(t), qnn::error);
      }
    CHECK(std::string(simd::active_target()) == std::string(simd::dispatch_targets().front()));
  }
  SUBCASE("weights packed for another panel width are refused") {
    // AVX2 packs 8-lane panels, SSE4 4-lane ones.
    if (contains(simd::dispatch_targets(), "AVX2") && contains(simd::dispatch_targets(), "SSE4")) {
      simd::select_target("AVX2");
      const Tensor b(DType::i8, Shape{16, 8});
      const QView<const std::int8_t, PerTensor<std::int8_t>> bv{b.view<std::int8_t>(), PerTensor<std::int8_t>(0.01f, 0)};
      const QuantizedGemm<std::uint8_t, std::int8_t, std::int8_t> g(PerTensor<std::uint8_t>(0.02f, 0), bv, {},
                                                                     PerTensor<std::int8_t>(0.5f, 0), GemmOptions{});
      simd::select_target("SSE4");
      Tensor a(DType::u8, Shape{2, 16}), c(DType::i8, Shape{2, 8});
      CHECK_THROWS_AS(g.run(a.view<std::uint8_t>(), c.view<std::int8_t>()), qnn::error);
    }
  }
  simd::select_target(initial);
}

int main(int argc, char** argv) {
  const std::string want = requested();
  if (!want.empty()) {
    try {
      simd::kernel_table();  // the first use reads QNN_SIMD_TARGET
    } catch (const qnn::error& e) {
      // A target compiled in but absent from this CPU: skipped. Anything else is a failure.
      if (contains(simd::compiled_targets(), want) && !contains(simd::dispatch_targets(), want)) {
        std::printf("skipped: this CPU lacks %s (%s)\n", want.c_str(), e.what());
        return 77;
      }
      std::printf("%s\n", e.what());
      return 1;
    }
  }
  doctest::Context context(argc, argv);
  return context.run();
}
