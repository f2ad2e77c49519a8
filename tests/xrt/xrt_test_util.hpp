// Helpers of the XRT backend tests: a scratch directory per test, manifests written from C++, the
// plain-loop matmul the results are judged against, and the "emulated" completion hook that
// computes a tile on the CPU where the noop shim computes nothing.
#pragma once

#include <doctest/doctest.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "qnn/backends/npu/xrt.hpp"
#include "qnn/core/tensor.hpp"
#include "xclbin_writer.hpp"

namespace qnn_xrt_test {

using qnn::DType;
using qnn::Shape;
using qnn::Tensor;
namespace npu = qnn::npu;

// A fresh directory under the system temp dir, removed when the test ends.
class ScratchDir {
 public:
  ScratchDir() {
    static std::atomic<int> counter{0};
    path_ = std::filesystem::temp_directory_path() /
            ("qnn_xrt_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    std::filesystem::create_directories(path_);
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& f) const { return path_ / f; }

 private:
  std::filesystem::path path_;
};

// One artefact of a test manifest; written as JSON by manifest_json().
struct TestArtefact {
  std::string name = "mm";
  std::string xclbin = "mm.xclbin";
  std::string kernel = "MLIR_AIE";
  std::string instructions = "insts.bin";  // empty: none
  std::string a = "int8", b = "int8", c = "int32";
  std::int64_t M = 16, K = 32, N = 16;
  std::string b_layout = "KN";
  std::string args = R"(["opcode", "instructions", "instruction_count", "a", "b", "c"])";
};

inline std::string manifest_json(const std::vector<TestArtefact>& arts) {
  std::string s = "{ \"qnn_xrt_manifest\": 1, \"device\": 0, \"artefacts\": [\n";
  for (std::size_t i = 0; i < arts.size(); ++i) {
    const TestArtefact& t = arts[i];
    s += "  { \"name\": \"" + t.name + "\", \"op\": \"matmul\", \"xclbin\": \"" + t.xclbin + "\", \"kernel\": \"" +
         t.kernel + "\",\n";
    if (!t.instructions.empty()) s += "    \"instructions\": \"" + t.instructions + "\", \"opcode\": 3,\n";
    s += "    \"dtypes\": { \"a\": \"" + t.a + "\", \"b\": \"" + t.b + "\", \"c\": \"" + t.c + "\" },\n";
    s += "    \"shape\": { \"M\": " + std::to_string(t.M) + ", \"K\": " + std::to_string(t.K) +
         ", \"N\": " + std::to_string(t.N) + " },\n";
    s += "    \"b_layout\": \"" + t.b_layout + "\", \"args\": " + t.args + " }";
    s += i + 1 < arts.size() ? ",\n" : "\n";
  }
  return s + "] }\n";
}

// Writes the xclbin (mlir-aie argument layout), a 4-word instruction stream and the manifest.
inline npu::XrtManifest write_setup(const ScratchDir& dir, const std::vector<TestArtefact>& arts) {
  for (const TestArtefact& t : arts) {
    if (!std::filesystem::exists(dir / t.xclbin))
      write_bytes(dir / t.xclbin, make_xclbin(mlir_aie_spec("MLIR_AIE", static_cast<std::uint8_t>(t.xclbin.size()))));
    if (!t.instructions.empty() && !std::filesystem::exists(dir / t.instructions)) {
      const std::uint32_t words[4] = {0x06030100u, 0x00000105u, 0x00000003u, 0x00000000u};
      std::ofstream(dir / t.instructions, std::ios::binary).write(reinterpret_cast<const char*>(words), sizeof words);
    }
  }
  std::ofstream(dir / "manifest.json") << manifest_json(arts);
  return npu::load_xrt_manifest(dir / "manifest.json");
}

// Random operands: full-range 8-bit integers, bf16 values in [-2, 2).
inline Tensor random_tensor(DType t, const Shape& s, std::uint32_t seed) {
  Tensor x(t, s);
  std::mt19937 rng(seed);
  for (std::int64_t i = 0; i < x.numel(); ++i) {
    const auto r = rng();
    if (t == DType::i8) x.raw()[i] = static_cast<std::byte>(r & 0xff);
    else if (t == DType::u8) x.raw()[i] = static_cast<std::byte>(r & 0xff);
    else {
      const qnn::bf16 v(static_cast<float>(static_cast<int>(r % 4096) - 2048) / 1024.0f);
      std::memcpy(x.raw() + 2 * i, &v.bits, 2);
    }
  }
  return x;
}

// C = A·B with a plain triple loop: the judge for integer results (exact in int64, then int32).
template <class TA, class TB>
std::vector<std::int32_t> naive_matmul_i32(const Tensor& a, const Tensor& b, bool trans_b) {
  const std::int64_t M = a.shape()[0], K = a.shape()[1], N = trans_b ? b.shape()[0] : b.shape()[1];
  const TA* pa = reinterpret_cast<const TA*>(a.raw());
  const TB* pb = reinterpret_cast<const TB*>(b.raw());
  std::vector<std::int32_t> c(static_cast<std::size_t>(M * N));
  for (std::int64_t i = 0; i < M; ++i)
    for (std::int64_t j = 0; j < N; ++j) {
      std::int64_t acc = 0;
      for (std::int64_t k = 0; k < K; ++k) acc += std::int64_t{pa[i * K + k]} * pb[trans_b ? j * K + k : k * N + j];
      c[static_cast<std::size_t>(i * N + j)] = static_cast<std::int32_t>(acc);
    }
  return c;
}

// The emulated kernel: computes one tile from the padded buffers the dispatcher filled, as the NPU
// would (Σ over the whole padded tk, fp32 fused multiply-add in ascending k for bf16).
inline void emulate_tile(const npu::XrtTileIo& io) {
  const npu::XrtArtefact& art = io.artefact;
  npu::visit_xrt_matmul_types(art.a, art.b, [&](auto ta, auto tb, auto tc) {
    using TA = decltype(ta);
    using TB = decltype(tb);
    using TC = decltype(tc);
    const TA* a = static_cast<const TA*>(io.a);
    const TB* b = static_cast<const TB*>(io.b);
    TC* c = static_cast<TC*>(io.c);
    const std::int64_t sk = art.b_layout == npu::XrtLayoutB::kn ? art.N : 1;
    const std::int64_t sn = art.b_layout == npu::XrtLayoutB::kn ? 1 : art.K;
    npu::cpu_matmul_ktiled(a, b, sk, sn, c, art.M, art.K, art.N, art.K);
  });
}

}  // namespace qnn_xrt_test
