// PNG output for the example's figures (confusion-matrix heatmap, sample grids).
//
// Why our own writer rather than wrapping stb_image_write.h (Debian's libstb-dev): stb compiles
// warning-free, but it would make qnn's install depend on a distribution-specific header path
// (<stb/stb_image_write.h> exists only where libstb-dev is installed, and qnnConfig.cmake would
// have to find it), and a header-only library would need the STB_IMAGE_WRITE_IMPLEMENTATION
// "define in exactly one TU" dance. A PNG writer is small when the pieces already exist: the
// CRC-32 (io/checksum.hpp), a DEFLATE encoder (io/deflate.hpp: fixed Huffman codes and LZ77, the
// same scheme stb uses, so files are about as small) and, to test it, our DEFLATE decoder. Every
// function here is an ordinary inline function: no ODR concerns, any TU may include this.
//
// Format written: 8-bit RGB (colour type 2), no interlace, filter type 0 (None) on every row; the
// chunks IHDR, one IDAT (a zlib stream) and IEND, each with its CRC-32 (PNG spec, ISO 15948).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string_view>
#include <vector>

#include "qnn/core/error.hpp"
#include "qnn/io/checksum.hpp"
#include "qnn/io/deflate.hpp"
#include "qnn/io/file.hpp"
#include "qnn/io/image.hpp"

namespace qnn::io {

inline constexpr std::array<std::uint8_t, 8> kPngSignature = {0x89, 'P',  'N',  'G',
                                                              '\r', '\n', 0x1A, '\n'};

namespace detail {

inline void put_be32(std::vector<std::byte>& out, std::uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) {
    out.push_back(static_cast<std::byte>((v >> shift) & 0xFFu));
  }
}

// length, type, data, CRC-32 of type and data.
inline void put_png_chunk(std::vector<std::byte>& out, std::string_view type,
                          std::span<const std::byte> data) {
  put_be32(out, static_cast<std::uint32_t>(data.size()));
  const std::size_t type_at = out.size();
  for (char c : type) out.push_back(static_cast<std::byte>(c));
  out.insert(out.end(), data.begin(), data.end());
  put_be32(out, crc32(std::span<const std::byte>(out).subspan(type_at)));
}

}  // namespace detail

// The PNG file bytes of an image.
inline std::vector<std::byte> encode_png(const Image& im) {
  const std::size_t w = im.width > 0 ? static_cast<std::size_t>(im.width) : 0;
  const std::size_t h = im.height > 0 ? static_cast<std::size_t>(im.height) : 0;
  check(w > 0 && h > 0 && im.rgb.size() == w * h * 3, "encode_png: a ", im.width, " x ",
        im.height, " RGB image needs ", w * h * 3, " bytes of pixels, it has ", im.rgb.size());
  std::vector<std::byte> out;
  for (std::uint8_t b : kPngSignature) out.push_back(static_cast<std::byte>(b));

  std::vector<std::byte> ihdr;
  detail::put_be32(ihdr, static_cast<std::uint32_t>(im.width));
  detail::put_be32(ihdr, static_cast<std::uint32_t>(im.height));
  // Bit depth 8, colour type 2 (RGB), compression 0, filter method 0, no interlace.
  for (int b : {8, 2, 0, 0, 0}) ihdr.push_back(static_cast<std::byte>(b));
  detail::put_png_chunk(out, "IHDR", ihdr);

  // Scanlines: a filter-type byte (0, None) and the row's pixels.
  const std::size_t row = w * 3;
  std::vector<std::byte> raw;
  raw.reserve((row + 1) * h);
  for (std::size_t y = 0; y < h; ++y) {
    raw.push_back(std::byte{0});
    const auto* p = reinterpret_cast<const std::byte*>(im.rgb.data() + y * row);
    raw.insert(raw.end(), p, p + row);
  }
  detail::put_png_chunk(out, "IDAT", zlib_compress(raw));
  detail::put_png_chunk(out, "IEND", {});
  return out;
}

// Writes an image as a PNG file, atomically (see io/file.hpp).
inline void save_png(const std::filesystem::path& path, const Image& im) {
  const std::vector<std::byte> bytes =
      with_context(file_context(path), [&] { return encode_png(im); });
  write_file_atomic(path, bytes);
}

}  // namespace qnn::io
