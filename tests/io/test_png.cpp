// Tests of the PNG writer and the drawing helpers (include/qnn/io/{png,image}.hpp).
//
//   PNG           the bytes are parsed back here: signature, chunk order, lengths, every CRC-32,
//                 IHDR fields, and the IDAT zlib stream inflated (io/inflate.hpp, itself checked
//                 against Python's zlib) to exactly the filter bytes and pixels drawn. When this
//                 test was written the same files were also decoded with Pillow 9.4 (identical
//                 pixels) and checked with zlib.decompress.
//   drawing       clipping, borders, scaled grayscale, the 5×7 font, the heatmap ramp
#include <doctest/doctest.h>

#include <cstdint>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "io_test_util.hpp"
#include "qnn/io/inflate.hpp"
#include "qnn/io/png.hpp"

namespace {

using namespace qnn_io_test;
namespace io = qnn::io;
using io::Image;
using io::Rgb;

struct Chunk {
  std::string type;
  Bytes data;
};

std::uint32_t be32(const Bytes& b, std::size_t at) {
  return std::to_integer<std::uint32_t>(b[at]) << 24 | std::to_integer<std::uint32_t>(b[at + 1]) << 16 |
         std::to_integer<std::uint32_t>(b[at + 2]) << 8 | std::to_integer<std::uint32_t>(b[at + 3]);
}

// Splits a PNG into chunks, checking the signature and each chunk's length and CRC-32.
std::vector<Chunk> parse_png(const Bytes& png) {
  REQUIRE(png.size() >= 8);
  CHECK(std::vector(png.begin(), png.begin() + 8) ==
        bytes_of({0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'}));
  std::vector<Chunk> chunks;
  std::size_t at = 8;
  while (at < png.size()) {
    REQUIRE(png.size() - at >= 12);
    const std::size_t len = be32(png, at);
    REQUIRE(png.size() - at - 12 >= len);
    Chunk c;
    for (std::size_t i = 0; i < 4; ++i) c.type += static_cast<char>(png[at + 4 + i]);
    c.data.assign(png.begin() + static_cast<std::ptrdiff_t>(at + 8),
                  png.begin() + static_cast<std::ptrdiff_t>(at + 8 + len));
    const std::span<const std::byte> typed(png.data() + at + 4, len + 4);
    CHECK_MESSAGE(be32(png, at + 8 + len) == io::crc32(typed), "CRC of chunk ", c.type);
    chunks.push_back(std::move(c));
    at += 12 + len;
  }
  return chunks;
}

// Decodes what encode_png writes (8-bit RGB, filter 0 rows) back to an Image.
Image decode_png(const Bytes& png) {
  const std::vector<Chunk> chunks = parse_png(png);
  REQUIRE(chunks.size() >= 3);
  CHECK(chunks.front().type == "IHDR");
  CHECK(chunks.back().type == "IEND");
  CHECK(chunks.back().data.empty());
  const Bytes& ihdr = chunks.front().data;
  REQUIRE(ihdr.size() == 13);
  Image im{static_cast<int>(be32(ihdr, 0)), static_cast<int>(be32(ihdr, 4)), {}};
  CHECK(std::vector(ihdr.begin() + 8, ihdr.end()) == bytes_of({8, 2, 0, 0, 0}));
  Bytes z;
  for (std::size_t i = 1; i + 1 < chunks.size(); ++i) {
    CHECK(chunks[i].type == "IDAT");
    z.insert(z.end(), chunks[i].data.begin(), chunks[i].data.end());
  }
  const Bytes raw = io::inflate_zlib(z);
  const std::size_t row = static_cast<std::size_t>(im.width) * 3;
  REQUIRE(raw.size() == (row + 1) * static_cast<std::size_t>(im.height));
  for (std::size_t y = 0; y < static_cast<std::size_t>(im.height); ++y) {
    CHECK(raw[y * (row + 1)] == std::byte{0});  // filter type None
    for (std::size_t i = 0; i < row; ++i) {
      im.rgb.push_back(std::to_integer<std::uint8_t>(raw[y * (row + 1) + 1 + i]));
    }
  }
  return im;
}

// A figure like the example's: heatmap cells with text, a scaled grayscale item, borders.
Image sample_figure() {
  Image im = Image::filled(97, 61, io::kWhite);
  for (int i = 0; i < 5; ++i) {
    io::fill_rect(im, 2 + i * 12, 2, 12, 12, io::heat_colour(static_cast<float>(i) / 4.0f));
  }
  io::draw_text(im, 3, 16, "Ankle boot 97.5%", io::kBlack);
  std::vector<std::uint8_t> item(28 * 28);
  for (std::size_t i = 0; i < item.size(); ++i) item[i] = static_cast<std::uint8_t>(i * 7);
  io::draw_gray(im, 40, 26, item, 28, 28, 2);  // runs off the right and bottom edges: clipped
  io::draw_border(im, 38, 24, 60, 60, 2, io::kRed);
  return im;
}

}  // namespace

TEST_CASE("png: encode_png parses back to the same pixels, with valid chunks and CRCs") {
  const Image im = sample_figure();
  const Bytes png = io::encode_png(im);
  const Image back = decode_png(png);
  CHECK(back.width == 97);
  CHECK(back.height == 61);
  CHECK(back.rgb == im.rgb);

  // Odd sizes: 1×1, one row, one column, a large flat image (long matches).
  for (const std::pair<int, int>& size : {std::pair{1, 1}, {33, 1}, {1, 40}, {640, 480}}) {
    const int w = size.first;
    const int h = size.second;
    CAPTURE(w);
    CAPTURE(h);
    Image flat = Image::filled(w, h, Rgb{10, 200, 30});
    flat.set(w - 1, h - 1, Rgb{1, 2, 3});
    const Bytes b = io::encode_png(flat);
    CHECK(decode_png(b).rgb == flat.rgb);
    if (w * h > 1000) CHECK(b.size() < static_cast<std::size_t>(w * h * 3) / 50);
  }
}

TEST_CASE("png: save_png writes atomically; a bad image is an error naming the file") {
  TempDir dir;
  const Image im = sample_figure();
  io::save_png(dir / "fig.png", im);
  CHECK(read_bytes(dir / "fig.png") == io::encode_png(im));

  Image bad{4, 4, std::vector<std::uint8_t>(47)};
  const std::string e = error_of([&] { io::save_png(dir / "bad.png", bad); });
  CHECK_MESSAGE(e.find("bad.png': encode_png: a 4 x 4 RGB image needs 48 bytes of pixels, it has 47") !=
                    std::string::npos,
                e);
  CHECK(error_of([&] { io::encode_png(Image{}); }).find("needs 0 bytes") != std::string::npos);
  CHECK(dir.files() == std::vector<std::string>{"fig.png"});
}

TEST_CASE("png: drawing helpers clip, scale and draw the font") {
  Image im = Image::filled(10, 8, io::kBlack);
  CHECK(im.rgb.size() == 240);
  io::fill_rect(im, -3, -3, 5, 5, io::kWhite);  // clipped to (0,0)-(1,1)
  CHECK(im.at(1, 1) == io::kWhite);
  CHECK(im.at(2, 1) == io::kBlack);
  CHECK(im.at(1, 2) == io::kBlack);
  io::fill_rect(im, 8, 6, 100, 100, io::kGreen);
  CHECK(im.at(9, 7) == io::kGreen);
  CHECK(im.at(7, 7) == io::kBlack);
  im.set(-1, 0, io::kRed);  // outside: ignored
  im.set(10, 0, io::kRed);
  CHECK(error_of([&] { im.at(10, 0); }).find("pixel (10, 0) is outside the 10 x 8 image") !=
        std::string::npos);
  CHECK_THROWS_AS(Image::filled(0, 5, io::kBlack), qnn::error);

  // A border is drawn inside its rectangle.
  Image b = Image::filled(6, 6, io::kWhite);
  io::draw_border(b, 1, 1, 4, 4, 1, io::kRed);
  CHECK(b.at(1, 1) == io::kRed);
  CHECK(b.at(4, 4) == io::kRed);
  CHECK(b.at(4, 2) == io::kRed);
  CHECK(b.at(2, 2) == io::kWhite);
  CHECK(b.at(0, 0) == io::kWhite);
  CHECK(b.at(5, 5) == io::kWhite);

  // draw_gray: each source pixel becomes a scale × scale square.
  Image g = Image::filled(4, 4, io::kRed);
  const std::vector<std::uint8_t> px{0, 85, 170, 255};
  io::draw_gray(g, 0, 0, px, 2, 2, 2);
  CHECK(g.at(0, 0) == Rgb{0, 0, 0});
  CHECK(g.at(1, 1) == Rgb{0, 0, 0});
  CHECK(g.at(2, 0) == Rgb{85, 85, 85});
  CHECK(g.at(3, 1) == Rgb{85, 85, 85});
  CHECK(g.at(1, 2) == Rgb{170, 170, 170});
  CHECK(g.at(3, 3) == Rgb{255, 255, 255});
  CHECK_THROWS_AS(io::draw_gray(g, 0, 0, px, 3, 2, 1), qnn::error);

  // Text: '1' is 00100 / 01100 / 00100 x4 / 01110; characters advance by 6 pixels.
  Image t = Image::filled(20, 9, io::kWhite);
  io::draw_text(t, 1, 1, "1", io::kBlack);
  std::string rows;
  for (int y = 1; y < 8; ++y) {
    for (int x = 1; x < 6; ++x) rows += t.at(x, y) == io::kBlack ? '#' : '.';
    rows += '/';
  }
  CHECK(rows == "..#../.##../..#../..#../..#../..#../.###./");
  // Scale 2: the top stroke of 'T' is 10 pixels wide and 2 high.
  Image big = Image::filled(12, 16, io::kWhite);
  io::draw_text(big, 0, 0, "T", io::kBlack, 2);
  CHECK(big.at(0, 0) == io::kBlack);
  CHECK(big.at(9, 1) == io::kBlack);
  CHECK(big.at(10, 0) == io::kWhite);
  CHECK(big.at(0, 2) == io::kWhite);
  CHECK(big.at(4, 13) == io::kBlack);
  CHECK(io::text_width("") == 0);
  CHECK(io::text_width("ab") == 11);
  CHECK(io::text_width("ab", 3) == 33);
  // A character outside the font is drawn as a box, not silently skipped.
  Image box = Image::filled(7, 9, io::kWhite);
  io::draw_text(box, 1, 1, "\x01", io::kBlack);
  CHECK(box.at(1, 1) == io::kBlack);
  CHECK(box.at(5, 7) == io::kBlack);
  CHECK(box.at(3, 4) == io::kWhite);
  // Every printable character the example uses has a glyph of its own (no boxes).
  const std::string charset =
      "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz .,:;-+=/()[]<>%!?_#*|'\"";
  for (char c : charset) {
    CAPTURE(c);
    CHECK(&io::detail::glyph(c) != &io::detail::kMissingGlyph);
  }

  // The heatmap ramp: white at 0, dark blue at 1, clamped outside, NaN as 0.
  CHECK(io::heat_colour(0.0f) == io::kWhite);
  CHECK(io::heat_colour(1.0f) == Rgb{8, 48, 107});
  CHECK(io::heat_colour(0.5f) == Rgb{107, 174, 214});
  CHECK(io::heat_colour(2.0f) == Rgb{8, 48, 107});
  CHECK(io::heat_colour(-1.0f) == io::kWhite);
  CHECK(io::heat_colour(std::numeric_limits<float>::quiet_NaN()) == io::kWhite);
}
