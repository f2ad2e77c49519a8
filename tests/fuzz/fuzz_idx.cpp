// libFuzzer target for the IDX reader and the dataset helpers built on it (include/qnn/io/idx.hpp).
//
// Each input goes the way load_idx takes a file: gunzipped first when it starts with the gzip magic
// (with a 16 MiB output cap), then parse_idx. Parsing may fail only with qnn::error; anything else
// (a crash, a sanitizer report, another exception, a hang, a huge allocation) is a bug. What parses
// is checked against properties that abort so libFuzzer records the input:
//   - IDX has exactly one encoding per tensor (no padding, no trailing bytes are accepted), so
//     writing the tensor back as IDX must reproduce the decompressed input byte for byte;
//   - a uint8 N×H×W tensor goes through images_to_float, every pixel exactly p / 255.0f;
//   - a uint8 vector goes through balanced_subset with 1 per class, which either fails with
//     qnn::error or returns one index per class, ascending, each the first of its class.
// fuzz_npy also feeds its inputs to parse_idx, but only to round-trip the result through .npy; this
// target seeds with IDX files and gzip, so mutations reach the header and size checks.
//
// Build and run: tests/fuzz/run_fuzz.sh fuzz_idx SECONDS
#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <span>
#include <vector>

#include "qnn/io/idx.hpp"

namespace {

std::uint8_t idx_type_code(qnn::DType t) {
  switch (t) {
    case qnn::DType::u8: return 0x08;
    case qnn::DType::i8: return 0x09;
    case qnn::DType::i16: return 0x0B;
    case qnn::DType::i32: return 0x0C;
    case qnn::DType::f32: return 0x0D;
    default: std::abort();  // parse_idx produced a dtype IDX cannot hold
  }
}

// Written independently of parse_idx (big-endian dims and elements), so a reader bug that loses or
// reorders bytes shows up as a mismatch instead of cancelling out.
std::vector<std::byte> write_idx(const qnn::Tensor& t) {
  std::vector<std::byte> out{std::byte{0}, std::byte{0}, std::byte{idx_type_code(t.dtype())},
                             std::byte{static_cast<std::uint8_t>(t.shape().rank())}};
  for (std::size_t d = 0; d < t.shape().rank(); ++d) {
    const auto v = static_cast<std::uint32_t>(t.shape()[d]);
    for (int s = 24; s >= 0; s -= 8) out.push_back(std::byte{static_cast<std::uint8_t>(v >> s)});
  }
  const std::size_t item = qnn::size_of(t.dtype());
  for (std::size_t i = 0; i < t.bytes(); i += item)
    for (std::size_t b = 0; b < item; ++b) out.push_back(t.raw()[i + item - 1 - b]);
  return out;
}

void check_images(const qnn::Tensor& t) {
  const std::int64_t n = t.shape()[0];
  const qnn::Tensor f = qnn::io::images_to_float(t, 0, n);
  const std::span<const std::uint8_t> src = t.span<std::uint8_t>();
  const std::span<const float> dst = f.span<float>();
  if (dst.size() != src.size()) std::abort();
  for (std::size_t i = 0; i < src.size(); ++i)
    if (std::bit_cast<std::uint32_t>(dst[i]) != std::bit_cast<std::uint32_t>(static_cast<float>(src[i]) / 255.0f))
      std::abort();
  // The last image alone must be the tail of the whole conversion.
  if (n > 0) {
    const qnn::Tensor last = qnn::io::images_to_float(t, n - 1, 1);
    const std::span<const float> l = last.span<float>();
    if (!std::equal(l.begin(), l.end(), dst.end() - static_cast<std::ptrdiff_t>(l.size()))) std::abort();
  }
}

void check_labels(const qnn::Tensor& t) {
  std::vector<std::int64_t> picked;
  try {
    picked = qnn::io::balanced_subset(t, 1);
  } catch (const qnn::error&) {
    return;  // a label ≥ 10, or a class without an example
  }
  const std::span<const std::uint8_t> y = t.span<std::uint8_t>();
  if (picked.size() != 10) std::abort();
  for (std::size_t c = 0; c < picked.size(); ++c) {
    if (c > 0 && picked[c] <= picked[c - 1]) std::abort();
    const auto i = static_cast<std::size_t>(picked[c]);
    if (i >= y.size()) std::abort();
    for (std::size_t j = 0; j < i; ++j)
      if (y[j] == y[i]) std::abort();  // not the first example of its class
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::byte> in(reinterpret_cast<const std::byte*>(data), size);
  std::vector<std::byte> inflated;
  std::span<const std::byte> bytes = in;
  std::optional<qnn::Tensor> t;
  try {
    if (qnn::io::detail::is_gzip(in)) {
      inflated = qnn::io::gunzip(in, std::size_t{16} << 20);
      bytes = inflated;
    }
    t = qnn::io::parse_idx(bytes, "fuzz");
  } catch (const qnn::error&) {
    return 0;
  }
  const std::vector<std::byte> again = write_idx(*t);
  if (again.size() != bytes.size() || !std::equal(again.begin(), again.end(), bytes.begin())) std::abort();
  if (t->dtype() == qnn::DType::u8 && t->shape().rank() == 3) check_images(*t);
  if (t->dtype() == qnn::DType::u8 && t->shape().rank() == 1) check_labels(*t);
  return 0;
}
