// The XRT backend's XRT-free parts, in the portable suite (qnn_tests): the manifest, the instruction
// stream, artefact selection, and the padding/tiling arithmetic checked against a plain matmul.
// The parts that talk to XRT are tested in qnn_xrt_tests (tests/xrt/CMakeLists.txt).
#include <doctest/doctest.h>

#include <array>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "qnn/backends/npu/xrt_manifest.hpp"
#include "qnn/backends/npu/xrt_tiling.hpp"

using namespace qnn::npu;
using qnn::DType;

namespace {

const char* kManifest = R"({
  "qnn_xrt_manifest": 1,
  "device": 1,
  "artefacts": [
    { "name": "mm_i8", "op": "matmul", "xclbin": "a/mm.xclbin", "kernel": "MLIR_AIE",
      "instructions": "a/insts.txt", "instructions_format": "hex", "opcode": 3,
      "dtypes": { "a": "int8", "b": "int8", "c": "int32" },
      "shape": { "M": 64, "K": 64, "N": 64 },
      "b_layout": "NK", "buffers": "normal",
      "args": ["opcode", "instructions", "instruction_count", "a", "b", "c", "unused", {"scalar": 7}] },
    { "name": "mm_bf16", "op": "matmul", "xclbin": "/abs/bf.xclbin", "kernel": "DPU",
      "dtypes": { "a": "bfloat16", "b": "bfloat16", "c": "float32" },
      "shape": { "M": 32, "K": 128, "N": 32 },
      "args": ["a", "b", "c"] }
  ]
})";

std::string replace(std::string s, const std::string& from, const std::string& to) {
  const auto at = s.find(from);
  REQUIRE_MESSAGE(at != std::string::npos, from);
  return s.replace(at, from.size(), to);
}

std::string manifest_error(const std::string& text) {
  try {
    parse_xrt_manifest(text, "m.json", "/base");
  } catch (const qnn::error& e) {
    return e.what();
  }
  return "no error";
}

}  // namespace

TEST_CASE("xrt manifest: fields, defaults, paths") {
  const XrtManifest m = parse_xrt_manifest(kManifest, "m.json", "/base");
  CHECK(m.device == 1);
  REQUIRE(m.artefacts.size() == 2);
  const XrtArtefact& a = m.artefacts[0];
  CHECK(a.name == "mm_i8");
  CHECK(a.xclbin == std::filesystem::path("/base/a/mm.xclbin"));
  CHECK(a.instructions == std::filesystem::path("/base/a/insts.txt"));
  CHECK(a.instructions_format == XrtInstructionFormat::hex);
  CHECK(a.opcode == 3);
  CHECK((a.a == DType::i8 && a.b == DType::i8 && a.c == DType::i32));
  CHECK((a.M == 64 && a.K == 64 && a.N == 64));
  CHECK(a.b_layout == XrtLayoutB::nk);
  CHECK(a.buffers == XrtBufferKind::normal);
  REQUIRE(a.args.size() == 8);
  CHECK(a.slot_of(XrtArgRole::instruction_count) == 2);
  CHECK(a.slot_of(XrtArgRole::c) == 5);
  CHECK(a.args[6].role == XrtArgRole::unused);
  CHECK((a.args[7].role == XrtArgRole::scalar && a.args[7].value == 7));
  const XrtArtefact& b = m.artefacts[1];
  CHECK(b.xclbin == std::filesystem::path("/abs/bf.xclbin"));  // absolute paths stay
  CHECK(b.instructions.empty());
  CHECK(b.b_layout == XrtLayoutB::kn);  // defaults
  CHECK(b.buffers == XrtBufferKind::host_only);
  CHECK(b.slot_of(XrtArgRole::opcode) == -1);
  CHECK(m.find("mm_bf16") == &m.artefacts[1]);
}

TEST_CASE("xrt manifest: what is wrong, and where") {
  const std::string m = kManifest;
  CHECK(manifest_error(replace(m, "\"qnn_xrt_manifest\": 1", "\"qnn_xrt_manifest\": 2")) ==
        "m.json: qnn_xrt_manifest: manifest version 2 is not supported (this qnn reads version 1)");
  CHECK(manifest_error(replace(m, "\"op\": \"matmul\"", "\"op\": \"conv\"")) ==
        "m.json: artefacts[0].op: op \"conv\" is not supported (only \"matmul\")");
  CHECK(manifest_error(replace(m, "\"c\": \"int32\"", "\"c\": \"int8\"")) ==
        "m.json: artefacts[0].dtypes: dtypes int8 x int8 -> int8 are not supported: an artefact must return the raw "
        "accumulator (8-bit integers -> int32, bfloat16 -> float32) so that the host can tile K and requantize");
  CHECK(manifest_error(replace(m, "\"a\": \"int8\"", "\"a\": \"int4\"")) ==
        "m.json: artefacts[0].dtypes.a: unknown dtype \"int4\" (expected int8, uint8, int32, bfloat16 or float32)");
  CHECK(manifest_error(replace(m, "\"M\": 64", "\"M\": 0")) == "m.json: artefacts[0].shape.M: 0 is outside [1, 1048576]");
  CHECK(manifest_error(replace(m, "\"b_layout\": \"NK\"", "\"b_layout\": \"nk\"")) ==
        "m.json: artefacts[0].b_layout: unknown value \"nk\" (expected one of: KN, NK)");
  CHECK(manifest_error(replace(m, "\"buffers\": \"normal\"", "\"bufers\": \"normal\"")).find(
            "m.json: artefacts[0]: unknown key \"bufers\"") == 0);
  CHECK(manifest_error(replace(m, "\"name\": \"mm_bf16\"", "\"name\": \"mm_i8\"")) ==
        "m.json: artefacts[1].name: artefact name 'mm_i8' is used twice");
  CHECK(manifest_error(replace(m, "[\"a\", \"b\", \"c\"]", "[\"a\", \"b\"]")) ==
        "m.json: artefacts[1].args: no argument has role \"c\"");
  CHECK(manifest_error(replace(m, "[\"a\", \"b\", \"c\"]", "[\"a\", \"b\", \"c\", \"a\"]")) ==
        "m.json: artefacts[1].args: role \"a\" appears 2 times");
  CHECK(manifest_error(replace(m, "[\"a\", \"b\", \"c\"]", "[\"a\", \"b\", \"c\", \"instructions\"]")) ==
        "m.json: artefacts[1].args: an argument has role \"instructions\" but the artefact names no instructions file");
  CHECK(manifest_error(replace(m, "\"opcode\", \"instructions\", \"instruction_count\",", "\"opcode\",")) ==
        "m.json: artefacts[0].args: \"instructions\" names a file but no argument has role \"instructions\"");
  CHECK(manifest_error(replace(m, "\"a\", \"b\", \"c\", \"unused\"", "\"a\", \"b\", \"c\", \"weights\"")) ==
        "m.json: artefacts[0].args[6]: unknown value \"weights\" (expected one of: opcode, instructions, "
        "instruction_count, a, b, c, unused)");
  CHECK(manifest_error(replace(m, "{\"scalar\": 7}", "{\"scalar\": -1}")) ==
        "m.json: artefacts[0].args[7].scalar: -1 is outside [0, 9223372036854775807]");
}

TEST_CASE("xrt manifest: instruction streams, binary and hex") {
  const auto dir = std::filesystem::temp_directory_path() / "qnn_test_xrt_manifest";
  std::filesystem::create_directories(dir);
  XrtArtefact a;
  a.name = "t";
  a.instructions = dir / "insts.bin";
  const unsigned char bytes[] = {0x01, 0x02, 0x03, 0x04, 0xff, 0xff, 0xff, 0xff};
  std::ofstream(a.instructions, std::ios::binary).write(reinterpret_cast<const char*>(bytes), sizeof bytes);
  CHECK(load_instruction_stream(a) == std::vector<std::uint32_t>{0x04030201u, 0xffffffffu});

  std::ofstream(a.instructions, std::ios::binary).write(reinterpret_cast<const char*>(bytes), 7);
  CHECK_THROWS_WITH_AS(load_instruction_stream(a), doctest::Contains("7 bytes is not a whole number of 32-bit words"),
                       qnn::error);

  a.instructions = dir / "insts.txt";
  a.instructions_format = XrtInstructionFormat::hex;
  std::ofstream(a.instructions) << "06030100\n0x00000105\r\n\n  DEADbeef\n";
  CHECK(load_instruction_stream(a) == std::vector<std::uint32_t>{0x06030100u, 0x105u, 0xdeadbeefu});
  std::ofstream(a.instructions) << "00000001\n0000000g\n";
  CHECK_THROWS_WITH_AS(load_instruction_stream(a), doctest::Contains("insts.txt':2: '0000000g' is not a hexadecimal word"),
                       qnn::error);
  std::ofstream(a.instructions) << "";
  CHECK_THROWS_WITH_AS(load_instruction_stream(a), doctest::Contains("the instruction stream is empty"), qnn::error);
  a.instructions = dir / "missing.txt";
  CHECK_THROWS_WITH_AS(load_instruction_stream(a), doctest::Contains("artefact 't': file '"), qnn::error);
  std::filesystem::remove_all(dir);
}

TEST_CASE("xrt tiling: plans and the choice of artefact") {
  const XrtManifest m = parse_xrt_manifest(kManifest, "m.json", "/base");
  const XrtTilePlan p = plan_xrt_matmul(m.artefacts[0], 65, 64, 1);
  CHECK((p.mt == 2 && p.kt == 1 && p.nt == 1));
  CHECK(p.runs() == 2);
  CHECK(p.padded_macs() == 2 * 64 * 64 * 64);
  CHECK(XrtTilePlan::extent(65, 64, 1) == 1);

  XrtManifest two = m;
  two.artefacts[1] = two.artefacts[0];
  two.artefacts[1].name = "mm_i8_small";
  two.artefacts[1].M = two.artefacts[1].K = two.artefacts[1].N = 16;
  // K = N = 64: both fit exactly; the 64-cube needs 1 run per M tile of 64, the 16-cube 16.
  CHECK(select_xrt_matmul(two, DType::i8, DType::i8, DType::i32, 64, 64, 64).artefact->name == "mm_i8");
  // K = N = 16, M = 1: the 16-cube pads far less.
  CHECK(select_xrt_matmul(two, DType::i8, DType::i8, DType::i32, 1, 16, 16).artefact->name == "mm_i8_small");
  // M unknown: each artefact's own M is assumed.
  CHECK(select_xrt_matmul(two, DType::i8, DType::i8, DType::i32, 0, 16, 16).artefact->name == "mm_i8_small");

  const XrtSelection none = select_xrt_matmul(m, DType::u8, DType::i8, DType::i32, 1, 64, 64);
  CHECK(none.artefact == nullptr);
  CHECK(none.reason ==
        "no artefact for uint8 x int8 -> int32 (the manifest has: mm_i8 (int8 x int8 -> int32), mm_bf16 (bfloat16 x "
        "bfloat16 -> float32))");
  CHECK(select_xrt_matmul(m, DType::f32, DType::f32, DType::f32, 1, 8, 8).reason ==
        "dtypes float32 x float32 -> float32 have no NPU matmul (artefacts take 8-bit integers -> int32 or bfloat16 "
        "-> float32)");
}

TEST_CASE("xrt tiling: packed tiles, accumulated K tiles and the CPU path equal a plain matmul") {
  // Emulates the dispatcher with the tiling helpers alone: pack, compute each padded tile, fold.
  for (const XrtLayoutB layout : {XrtLayoutB::kn, XrtLayoutB::nk})
    for (const bool trans_b : {false, true})
      for (const auto& [M, K, N] : {std::array<std::int64_t, 3>{1, 1, 1}, {16, 32, 16}, {17, 33, 15}, {40, 100, 37}}) {
        XrtArtefact art;
        art.name = "t";
        art.M = 16;
        art.K = 32;
        art.N = 8;
        art.b_layout = layout;
        INFO("M=", M, " K=", K, " N=", N, layout == XrtLayoutB::kn ? " KN" : " NK", trans_b ? " B [N,K]" : " B [K,N]");
        std::mt19937 rng(static_cast<std::uint32_t>(M * 7 + K * 3 + N));
        std::vector<std::int8_t> a(static_cast<std::size_t>(M * K)), b(static_cast<std::size_t>(K * N));
        for (auto& v : a) v = static_cast<std::int8_t>(rng());
        for (auto& v : b) v = static_cast<std::int8_t>(rng());
        const std::int64_t sk = trans_b ? 1 : N, sn = trans_b ? K : 1;

        std::vector<std::int32_t> want(static_cast<std::size_t>(M * N));
        for (std::int64_t i = 0; i < M; ++i)
          for (std::int64_t j = 0; j < N; ++j) {
            std::int32_t acc = 0;
            for (std::int64_t k = 0; k < K; ++k) acc += a[static_cast<std::size_t>(i * K + k)] * b[static_cast<std::size_t>(k * sk + j * sn)];
            want[static_cast<std::size_t>(i * N + j)] = acc;
          }

        const XrtTilePlan p = plan_xrt_matmul(art, M, K, N);
        std::vector<std::int32_t> got(static_cast<std::size_t>(M * N), -1);
        std::vector<std::int8_t> ta(static_cast<std::size_t>(p.tm * p.tk), 99), tb(static_cast<std::size_t>(p.tk * p.tn), 99);
        std::vector<std::int32_t> tc(static_cast<std::size_t>(p.tm * p.tn));
        for (std::int64_t im = 0; im < p.mt; ++im)
          for (std::int64_t in = 0; in < p.nt; ++in)
            for (std::int64_t ik = 0; ik < p.kt; ++ik) {
              pack_tile_rows(reinterpret_cast<const std::byte*>(a.data()), K, im * p.tm, ik * p.tk,
                             XrtTilePlan::extent(M, p.tm, im), XrtTilePlan::extent(K, p.tk, ik), 1,
                             reinterpret_cast<std::byte*>(ta.data()), p.tm, p.tk);
              pack_weight_tile(reinterpret_cast<const std::byte*>(b.data()), sk, sn, ik * p.tk, in * p.tn,
                               XrtTilePlan::extent(K, p.tk, ik), XrtTilePlan::extent(N, p.tn, in), 1, layout,
                               reinterpret_cast<std::byte*>(tb.data()), p.tk, p.tn);
              cpu_matmul_ktiled(ta.data(), tb.data(), layout == XrtLayoutB::kn ? p.tn : 1,
                                layout == XrtLayoutB::kn ? 1 : p.tk, tc.data(), p.tm, p.tk, p.tn, p.tk);
              accumulate_c_tile(tc.data(), p.tn, XrtTilePlan::extent(M, p.tm, im), XrtTilePlan::extent(N, p.tn, in),
                                ik == 0, got.data(), N, im * p.tm, in * p.tn);
            }
        CHECK(got == want);

        std::vector<std::int32_t> cpu(static_cast<std::size_t>(M * N), -1);
        cpu_matmul_ktiled(a.data(), b.data(), sk, sn, cpu.data(), M, K, N, art.K);
        CHECK(cpu == want);
      }
}

TEST_CASE("xrt tiling: the bf16 CPU path sums K per tile, then the tiles in order") {
  const std::int64_t K = 5;
  std::vector<qnn::bf16> a(K), b(K);
  const float av[K] = {1e8f, 1.0f, -1e8f, 1.0f, 1.0f};
  for (std::int64_t k = 0; k < K; ++k) {
    a[static_cast<std::size_t>(k)] = qnn::bf16(av[k]);
    b[static_cast<std::size_t>(k)] = qnn::bf16(1.0f);
  }
  float whole = 0, tiled = 0;
  cpu_matmul_ktiled(a.data(), b.data(), 1, 1, &whole, 1, K, 1, K);  // ((1e8 + 1) - 1e8) + 1 + 1 = 2
  cpu_matmul_ktiled(a.data(), b.data(), 1, 1, &tiled, 1, K, 1, 2);  // (1e8 + 1) + (-1e8 + 1) + 1 = 1
  const float e8 = qnn::bf16(1e8f).to_float();
  CHECK(whole == ((e8 + 1.0f) - e8) + 1.0f + 1.0f);
  CHECK(tiled == ((e8 + 1.0f) + (-e8 + 1.0f)) + 1.0f);
  CHECK(whole != tiled);  // so the K tile is part of the numerics, and the fallback uses the artefact's
}

TEST_CASE("xrt tiling: the int32 accumulator bound uses the real weights") {
  std::vector<std::int8_t> w(2000, 127);
  CHECK_NOTHROW(check_int32_accumulator<std::int8_t>(w.data(), 2000, 1, 1, 1, "op"));  // 128·127·2000 fits
  std::vector<std::uint8_t> big(40000, 255);
  CHECK_THROWS_WITH_AS(check_int32_accumulator<std::uint8_t>(big.data(), 40000, 1, 1, 1, "op 'x'"),
                       "op 'x': the int32 accumulator can reach 2601000000 for these weights (K=40000), above INT32_MAX",
                       qnn::error);
}
