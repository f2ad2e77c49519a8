// libFuzzer target for the XRT artefact manifest parser (include/qnn/backends/npu/xrt_manifest.hpp)
// and the JSON reader under it (include/qnn/io/json_read.hpp).
//
// The manifest is read from a file the user writes by hand, so every malformed input must end in a
// qnn::error naming where it went wrong. Parsing needs no XRT headers or library: this target is
// built like the others, on any machine with clang. Anything but qnn::error (a crash, a sanitizer
// report, another exception, a hang, a huge allocation) is a bug. A manifest that parses must hold
// what the dispatcher relies on without checking again; a violation aborts so libFuzzer records it:
// a supported dtype triple, 1 ≤ M, K, N ≤ 2^20, operand roles a, b and c each on exactly one
// argument and every other role at most once, an instructions argument exactly when an instruction
// file is named, an instruction_count only with one, unique non-empty names, device 0..255.
//
// Build and run: tests/fuzz/run_fuzz.sh fuzz_xrt_manifest SECONDS
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "qnn/backends/npu/xrt_manifest.hpp"

namespace {

using qnn::npu::XrtArgRole;

void check_artefact(const qnn::npu::XrtArtefact& a) {
  if (a.name.empty() || a.op != "matmul" || a.kernel.empty()) std::abort();
  if (!qnn::npu::xrt_matmul_dtypes_supported(a.a, a.b, a.c)) std::abort();
  for (std::int64_t d : {a.M, a.K, a.N})
    if (d < 1 || d > (std::int64_t{1} << 20)) std::abort();
  for (XrtArgRole r : {XrtArgRole::opcode, XrtArgRole::instructions, XrtArgRole::instruction_count, XrtArgRole::a,
                       XrtArgRole::b, XrtArgRole::c}) {
    int count = 0;
    for (const auto& s : a.args) count += s.role == r;
    const bool operand = r == XrtArgRole::a || r == XrtArgRole::b || r == XrtArgRole::c;
    if (count > 1 || (operand && count != 1)) std::abort();
  }
  const bool has_stream = !a.instructions.empty();
  if (has_stream != (a.slot_of(XrtArgRole::instructions) >= 0)) std::abort();
  if (!has_stream && a.slot_of(XrtArgRole::instruction_count) >= 0) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  qnn::npu::XrtManifest m;
  try {
    m = qnn::npu::parse_xrt_manifest(text, "fuzz.json", "/base");
  } catch (const qnn::error&) {
    return 0;
  }
  if (m.device < 0 || m.device > 255 || m.source != "fuzz.json") std::abort();
  for (std::size_t i = 0; i < m.artefacts.size(); ++i) {
    check_artefact(m.artefacts[i]);
    for (std::size_t j = 0; j < i; ++j)
      if (m.artefacts[j].name == m.artefacts[i].name) std::abort();
    if (m.find(m.artefacts[i].name) != &m.artefacts[i]) std::abort();
  }
  return 0;
}
