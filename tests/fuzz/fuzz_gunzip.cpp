// libFuzzer target for DEFLATE decoding and encoding (include/qnn/io/{inflate,deflate}.hpp).
//
// Each input is decoded as gzip, as zlib and as raw DEFLATE, with a 16 MiB output cap. A decode may
// fail only with qnn::error; anything else (a crash, a sanitizer report, another exception, a hang,
// an allocation beyond the cap) is a bug. Two properties abort so libFuzzer records the input:
//   - the encoder round-trips: inflate_zlib(zlib_compress(x)) == x for (the first 1 KiB of) the
//     input and for what raw decoding produced, if small;
//   - with QNN_FUZZ_ZLIB (run_fuzz.sh sets it when zlib.h is installed), raw DEFLATE decoding agrees
//     with zlib's inflate: both accept with the same output or both reject, and zlib's own
//     uncompress() accepts what zlib_compress wrote.
//
// Build and run: tests/fuzz/run_fuzz.sh fuzz_gunzip SECONDS
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <span>
#include <vector>

#include "qnn/io/deflate.hpp"
#include "qnn/io/inflate.hpp"

#ifdef QNN_FUZZ_ZLIB
#include <zlib.h>
#endif

namespace {

constexpr std::size_t kCap = std::size_t{16} << 20;

void check_encoder(std::span<const std::byte> plain) {
  const std::vector<std::byte> z = qnn::io::zlib_compress(plain);
  std::vector<std::byte> back;
  try {
    back = qnn::io::inflate_zlib(z, plain.size());
  } catch (const qnn::error&) {
    std::abort();
  }
  if (!std::equal(back.begin(), back.end(), plain.begin(), plain.end())) std::abort();
#ifdef QNN_FUZZ_ZLIB
  std::vector<Bytef> out(plain.size() + 1);
  uLongf out_len = static_cast<uLongf>(out.size());
  if (uncompress(out.data(), &out_len, reinterpret_cast<const Bytef*>(z.data()),
                 static_cast<uLong>(z.size())) != Z_OK ||
      out_len != plain.size() ||
      (out_len != 0 && std::memcmp(out.data(), plain.data(), out_len) != 0)) {
    std::abort();
  }
#endif
}

template <class Decode>
std::optional<std::vector<std::byte>> try_decode(Decode&& decode) {
  try {
    return decode();
  } catch (const qnn::error&) {
    return std::nullopt;
  }
}

#ifdef QNN_FUZZ_ZLIB
// zlib's raw inflate: the output if the stream ends exactly at the end of the input within the
// cap; std::nullopt if zlib rejects, the stream is truncated or bytes follow it; `capped` if the
// output passed the cap (then the two decoders are not compared).
std::optional<std::vector<std::byte>> zlib_inflate_raw(std::span<const std::byte> in, bool& capped) {
  z_stream s{};
  if (inflateInit2(&s, -15) != Z_OK) std::abort();
  s.next_in = reinterpret_cast<Bytef*>(const_cast<std::byte*>(in.data()));
  s.avail_in = static_cast<uInt>(in.size());
  std::vector<std::byte> out;
  static std::vector<Bytef> chunk(1 << 16);  // reused: one allocation, not one per input
  int ret = Z_OK;
  capped = false;
  while (ret == Z_OK) {
    s.next_out = chunk.data();
    s.avail_out = static_cast<uInt>(chunk.size());
    ret = inflate(&s, Z_NO_FLUSH);
    const auto* begin = reinterpret_cast<const std::byte*>(chunk.data());
    out.insert(out.end(), begin, begin + (chunk.size() - s.avail_out));
    if (out.size() > kCap) {
      capped = true;
      break;
    }
  }
  const bool consumed_all = s.avail_in == 0;
  inflateEnd(&s);
  if (ret != Z_STREAM_END || !consumed_all) return std::nullopt;
  return out;
}
#endif

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(data), size);

  const auto gz = try_decode([&] { return qnn::io::gunzip(bytes, kCap); });
  const auto zl = try_decode([&] { return qnn::io::inflate_zlib(bytes, kCap); });
  const auto raw = try_decode([&] { return qnn::io::inflate_raw(bytes, kCap); });
  for (const auto* out : {&gz, &zl, &raw}) {
    if (*out && out->value().size() > kCap) std::abort();
  }

#ifdef QNN_FUZZ_ZLIB
  bool capped = false;
  const auto ref = zlib_inflate_raw(bytes, capped);
  if (!capped && ref.has_value() != raw.has_value()) std::abort();
  if (!capped && ref && *ref != *raw) std::abort();
#endif

  // The encoder is checked on at most 1 KiB, so that the decoders (the point of this target) get
  // most of the time.
  check_encoder(bytes.first(std::min<std::size_t>(bytes.size(), 1024)));
  if (raw && raw->size() <= 1024) check_encoder(*raw);
  return 0;
}
