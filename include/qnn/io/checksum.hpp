// CRC-32 (the gzip/PNG/zip polynomial) and Adler-32 (zlib streams).
//
// CRC-32 is the reflected polynomial 0xEDB88320, initial value and final xor 0xFFFFFFFF
// (ISO-HDLC; check value crc32("123456789") = 0xCBF43926). Both take
// the running value of a previous call so a stream can be checked in pieces:
// crc32(b, crc32(a)) == crc32(a ++ b).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

namespace qnn::io {

namespace detail {
// Slicing-by-8: table[k][b] is the CRC of byte b followed by k zero bytes, so eight input bytes
// fold into the CRC with eight independent lookups (about 8x the speed of one lookup per byte,
// which matters for the 47 MB Fashion-MNIST training images).
constexpr std::array<std::array<std::uint32_t, 256>, 8> make_crc32_tables() {
  std::array<std::array<std::uint32_t, 256>, 8> t{};
  for (std::uint32_t n = 0; n < 256; ++n) {
    std::uint32_t c = n;
    for (int k = 0; k < 8; ++k) c = (c & 1u) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    t[0][n] = c;
  }
  for (std::size_t k = 1; k < 8; ++k) {
    for (std::size_t n = 0; n < 256; ++n) t[k][n] = t[0][t[k - 1][n] & 0xFFu] ^ (t[k - 1][n] >> 8);
  }
  return t;
}
inline constexpr std::array<std::array<std::uint32_t, 256>, 8> kCrc32Tables = make_crc32_tables();
}  // namespace detail

inline std::uint32_t crc32(std::span<const std::byte> data, std::uint32_t crc = 0) {
  const auto& t = detail::kCrc32Tables;
  const auto at = [&](std::size_t i) { return static_cast<std::uint32_t>(data[i]); };
  std::uint32_t c = ~crc;
  std::size_t i = 0;
  for (; i + 8 <= data.size(); i += 8) {
    const std::uint32_t lo = c ^ (at(i) | at(i + 1) << 8 | at(i + 2) << 16 | at(i + 3) << 24);
    const std::uint32_t hi = at(i + 4) | at(i + 5) << 8 | at(i + 6) << 16 | at(i + 7) << 24;
    c = t[7][lo & 0xFFu] ^ t[6][(lo >> 8) & 0xFFu] ^ t[5][(lo >> 16) & 0xFFu] ^ t[4][lo >> 24] ^
        t[3][hi & 0xFFu] ^ t[2][(hi >> 8) & 0xFFu] ^ t[1][(hi >> 16) & 0xFFu] ^ t[0][hi >> 24];
  }
  for (; i < data.size(); ++i) c = t[0][(c ^ at(i)) & 0xFFu] ^ (c >> 8);
  return ~c;
}

inline std::uint32_t adler32(std::span<const std::byte> data, std::uint32_t adler = 1) {
  constexpr std::uint32_t kMod = 65521;
  // 5552 is the most bytes that can be summed before b overflows 32 bits (RFC 1950 / zlib's NMAX),
  // so the modulo runs once per block instead of once per byte.
  constexpr std::size_t kBlock = 5552;
  std::uint32_t a = adler & 0xFFFFu;
  std::uint32_t b = adler >> 16;
  while (!data.empty()) {
    const std::size_t n = data.size() < kBlock ? data.size() : kBlock;
    for (std::byte x : data.first(n)) {
      a += static_cast<std::uint32_t>(x);
      b += a;
    }
    a %= kMod;
    b %= kMod;
    data = data.subspan(n);
  }
  return (b << 16) | a;
}

}  // namespace qnn::io
