// libFuzzer target for the tensor-file readers: .npy (include/qnn/io/npy.hpp) and IDX
// (include/qnn/io/idx.hpp).
//
// Each input is parsed as .npy (plain and with float64 allowed) and as IDX. A parse may fail only
// with qnn::error; anything else (a crash, a sanitizer report, another exception, a hang, a huge
// allocation) is a bug. What parses as .npy must serialize without error, parse back to the same
// dtype, shape and bytes, and serialize to the same bytes again; a violation aborts so libFuzzer
// records the input.
//
// Build and run: tests/fuzz/run_fuzz.sh fuzz_npy SECONDS
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <span>
#include <vector>

#include "qnn/io/idx.hpp"
#include "qnn/io/npy.hpp"

namespace {

bool same(const qnn::Tensor& a, const qnn::Tensor& b) {
  return a.dtype() == b.dtype() && a.shape() == b.shape() && a.bytes() == b.bytes() &&
         (a.bytes() == 0 || std::memcmp(a.raw(), b.raw(), a.bytes()) == 0);
}

template <class Parse>
void check_round_trip(std::span<const std::byte> bytes, Parse&& parse) {
  std::optional<qnn::Tensor> parsed;
  try {
    parsed = parse(bytes);
  } catch (const qnn::error&) {
    return;  // rejected input: the expected outcome for most mutations
  }
  // From here on nothing may throw: the writer must accept whatever the reader produced.
  const std::vector<std::byte> out = qnn::io::serialize_npy(*parsed);
  const qnn::Tensor again = qnn::io::parse_npy(out, "round trip");
  if (!same(again, *parsed)) std::abort();
  if (qnn::io::serialize_npy(again) != out) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(data), size);
  check_round_trip(bytes, [](std::span<const std::byte> b) { return qnn::io::parse_npy(b, "fuzz"); });
  check_round_trip(bytes,
                   [](std::span<const std::byte> b) { return qnn::io::parse_npy_as_f32(b, "fuzz"); });
  try {
    const qnn::Tensor t = qnn::io::parse_idx(bytes, "fuzz");
    // What IDX parses is a plain tensor: .npy must hold it too.
    check_round_trip(qnn::io::serialize_npy(t),
                     [](std::span<const std::byte> b) { return qnn::io::parse_npy(b, "idx"); });
  } catch (const qnn::error&) {
  }
  return 0;
}
