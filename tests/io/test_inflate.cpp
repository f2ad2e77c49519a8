// Tests of DEFLATE/zlib/gzip decoding and encoding (include/qnn/io/{inflate,deflate,checksum}.hpp).
//
//   checksums     CRC-32 and Adler-32 against their check values and Python's zlib
//   cross-check   tests/data/io/*.gz|.zz|.deflate from Python's zlib and GNU gzip
//                 (make_io_cases.py): stored, fixed and dynamic blocks, all gzip header fields,
//                 multiple members, distances across the whole window; sizes and CRCs from Python
//   hand-made     bit-exact streams for each kind of invalid input: reserved block type, stored
//                 length mismatch, bad symbols, distance too far back, over-subscribed and
//                 incomplete codes, bad code-length repeats, missing end-of-block
//   hostile       every truncation and every single-byte corruption of a real stream is either a
//                 qnn::error or (header bytes no checksum covers) the same output; output cap
//   round trip    deflate_raw / zlib_compress -> inflate on random data of several entropies
//   real files    the Fashion-MNIST test set gunzips to Python's size and CRC-32
#include <doctest/doctest.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "io_test_util.hpp"
#include "qnn/io/checksum.hpp"
#include "qnn/io/deflate.hpp"
#include "qnn/io/inflate.hpp"

namespace {

using namespace qnn_io_test;
namespace io = qnn::io;
using io::detail::BitWriter;

std::string text_of(const Bytes& b) {
  std::string s(b.size(), '\0');
  for (std::size_t i = 0; i < b.size(); ++i) s[i] = static_cast<char>(b[i]);
  return s;
}

// Writes a Huffman code most-significant bit first, as DEFLATE sends them.
void code(BitWriter& bw, std::uint32_t c, int len) { bw.code(c, len); }

// Starts a final dynamic block: HLIT/HDIST/HCLEN and the code-length code lengths, given per
// symbol (index 0..18) and sent in RFC 1951's permuted order, as many as `ncode` of them.
void dynamic_header(BitWriter& bw, int nlen, int ndist, const std::array<int, 19>& cl, int ncode) {
  bw.bits(1, 1);  // BFINAL
  bw.bits(2, 2);  // BTYPE 10
  bw.bits(static_cast<std::uint32_t>(nlen - 257), 5);
  bw.bits(static_cast<std::uint32_t>(ndist - 1), 5);
  bw.bits(static_cast<std::uint32_t>(ncode - 4), 4);
  for (int i = 0; i < ncode; ++i) {
    bw.bits(static_cast<std::uint32_t>(cl[io::detail::kCodeLengthOrder[static_cast<std::size_t>(i)]]), 3);
  }
}

std::string raw_error(const Bytes& b, std::size_t max_output = io::kDefaultMaxOutput) {
  return error_of([&] { io::inflate_raw(b, max_output); });
}

struct Case {
  const char* name;
  std::size_t size;
  std::uint32_t crc;
};
// From make_io_cases.py: uncompressed size and zlib.crc32 of each case.
constexpr Case kCases[] = {
    {"empty.gz", 0, 0x00000000u},
    {"stored.gz", 218, 0x25A06EEDu},
    {"fixed.gz", 100, 0x41DE3DB8u},
    {"dynamic.gz", 8846, 0xE1D0886Au},
    {"far_window.gz", 65536, 0xF9ECC781u},
    {"header_fields.gz", 192, 0x2CB98A44u},
    {"multi_member.gz", 136, 0x5F2D4A8Cu},
    {"gnu_gzip.gz", 4802, 0x3E063159u},
    {"text.zz", 8846, 0xE1D0886Au},
    {"blocks.deflate", 11846, 0x43629241u},
};

}  // namespace

TEST_CASE("inflate: CRC-32 and Adler-32 match their check values and Python's zlib") {
  CHECK(io::crc32(bytes_of("123456789")) == 0xCBF43926u);
  CHECK(io::crc32(Bytes{}) == 0u);
  CHECK(io::adler32(bytes_of("Wikipedia")) == 0x11E60398u);
  CHECK(io::adler32(Bytes{}) == 1u);
  const Bytes ff(1000000, std::byte{0xFF});  // sums overflow without the 5552-byte blocking
  CHECK(io::adler32(ff) == 0x3843E1BEu);
  CHECK(io::crc32(ff) == 0x13FBDA0Du);
  Bytes ramp;
  for (int r = 0; r < 300; ++r) {
    for (int i = 0; i < 256; ++i) ramp.push_back(static_cast<std::byte>(i));
  }
  CHECK(io::adler32(ramp) == 0x09F872BCu);
  CHECK(io::crc32(ramp) == 0xBB9CF916u);
  // Incremental use, split at every offset of a short prefix (covers the 8-byte and tail loops).
  for (std::size_t cut = 0; cut < 20; ++cut) {
    const std::span<const std::byte> s(ramp);
    CHECK(io::crc32(s.subspan(cut), io::crc32(s.first(cut))) == 0xBB9CF916u);
    CHECK(io::adler32(s.subspan(cut), io::adler32(s.first(cut))) == 0x09F872BCu);
  }
}

TEST_CASE("gzip: decodes what Python's zlib and GNU gzip wrote") {
  for (const Case& c : kCases) {
    CAPTURE(c.name);
    const Bytes in = read_bytes(kDataDir / c.name);
    const std::string name = c.name;
    Bytes out;
    if (name.ends_with(".gz")) {
      out = io::gunzip(in);
    } else if (name.ends_with(".zz")) {
      out = io::inflate_zlib(in);
    } else {
      out = io::inflate_raw(in);
    }
    CHECK(out.size() == c.size);
    CHECK(io::crc32(out) == c.crc);
  }
  CHECK(text_of(io::gunzip(read_bytes(kDataDir / "fixed.gz"))) ==
        "hello, hello, hello qnn! hello, hello, hello qnn! hello, hello, hello qnn! "
        "hello, hello, hello qnn! ");
  CHECK(text_of(io::gunzip(read_bytes(kDataDir / "multi_member.gz"))).starts_with("first member\n"));
}

TEST_CASE("gzip: header fields, members, trailers and trailing data") {
  const Bytes fixed = read_bytes(kDataDir / "fixed.gz");
  const auto gz_error = [](const Bytes& b) { return error_of([&] { io::gunzip(b); }); };

  CHECK(gz_error({}).find("gzip: empty input") != std::string::npos);
  Bytes b = fixed;
  b[1] = std::byte{0x8C};
  CHECK(gz_error(b).find("not a gzip stream: no magic 1f 8b at byte offset 0") != std::string::npos);
  b = fixed;
  b[2] = std::byte{7};
  CHECK(gz_error(b).find("compression method 7 is not deflate") != std::string::npos);
  b = fixed;
  b[3] = std::byte{0x20};
  CHECK(gz_error(b).find("reserved header flags set (0x20) at byte offset 3") != std::string::npos);
  CHECK(gz_error(std::vector(fixed.begin(), fixed.begin() + 9)).find("truncated input: header") !=
        std::string::npos);

  // The header CRC (FHCRC) is checked: header_fields.gz has FEXTRA, FNAME, FCOMMENT and FHCRC.
  Bytes h = read_bytes(kDataDir / "header_fields.gz");
  CHECK(h[3] == std::byte{0x1E});
  const std::size_t hcrc_at = 10 + 2 + 6 + 10 + 10;  // fixed part, XLEN, extra, name, comment
  h[hcrc_at] ^= std::byte{1};
  CHECK(gz_error(h).find("header CRC mismatch at byte offset 38") != std::string::npos);
  // An unterminated file name.
  Bytes name_only = bytes_of({0x1F, 0x8B, 8, 0x08, 0, 0, 0, 0, 0, 255, 'a', 'b'});
  CHECK(gz_error(name_only).find("unterminated file name starting at byte offset 10") !=
        std::string::npos);

  // Trailer: CRC-32 and ISIZE of the member.
  b = fixed;
  b[b.size() - 8] ^= std::byte{0x10};
  const std::string crc = gz_error(b);
  CHECK_MESSAGE(crc.find("CRC-32 mismatch in member 1") != std::string::npos, crc);
  b = fixed;
  b[b.size() - 4] ^= std::byte{0x01};
  CHECK(gz_error(b).find("ISIZE mismatch in member 1") != std::string::npos);
  CHECK(gz_error(std::vector(fixed.begin(), fixed.end() - 3)).find("8-byte CRC-32/ISIZE trailer") !=
        std::string::npos);

  // Members concatenate; zero padding after the last is accepted, other trailing bytes are not.
  const Bytes two = concat(fixed, fixed);
  CHECK(io::gunzip(two).size() == 200);
  CHECK(io::gunzip(concat(two, Bytes(7))).size() == 200);
  const std::string garbage = gz_error(concat(fixed, bytes_of("xyz")));
  CHECK_MESSAGE(garbage.find("3 bytes of trailing garbage after member 1 at byte offset 39") !=
                    std::string::npos,
                garbage);
  // Each member decodes on its own; a second member's distances cannot reach into the first
  // member's output.
  const auto member = [](const Bytes& deflate, std::string_view plain) {
    return gzip_member(deflate, bytes_of(plain));
  };
  const Bytes abc = member(io::deflate_raw(bytes_of("abcabc")), "abcabc");  // a match, distance 3
  CHECK(text_of(io::gunzip(concat(abc, abc))) == "abcabcabcabc");
  Bytes reach_back;
  BitWriter bw(reach_back);
  bw.bits(1, 1);
  bw.bits(1, 2);
  io::detail::put_match(bw, 3, 3);  // "abc" again, but from the previous member
  io::detail::put_fixed_literal(bw, 256);
  bw.flush();
  const std::string e = gz_error(concat(abc, member(reach_back, "abc")));
  CHECK_MESSAGE(e.find("distance 3 reaches before the start of the stream (0 bytes decoded") !=
                    std::string::npos,
                e);
}

TEST_CASE("inflate: hand-made invalid streams give errors with byte offsets") {
  Bytes out;
  BitWriter bw(out);
  const auto take = [&] {
    bw.flush();
    Bytes r = out;
    out.clear();
    return r;
  };

  // Reserved block type 3.
  bw.bits(1, 1);
  bw.bits(3, 2);
  CHECK(raw_error(take()) == "deflate: invalid block type 3 (reserved) at byte offset 0");

  // Stored block: LEN and NLEN disagree; LEN beyond the input.
  CHECK(raw_error(bytes_of({0x01, 0x05, 0x00, 0x00, 0x00})).find(
            "stored block length 5 does not match its complement 0") != std::string::npos);
  const std::string cut = raw_error(bytes_of({0x01, 0x05, 0x00, 0xFA, 0xFF, 'a', 'b'}));
  CHECK_MESSAGE(cut.find("deflate: truncated input") != std::string::npos, cut);
  CHECK(text_of(io::inflate_raw(bytes_of({0x01, 0x02, 0x00, 0xFD, 0xFF, 'o', 'k'}))) == "ok");

  // Fixed block: a length/distance pair before any output (distance 1 of 0 bytes).
  bw.bits(1, 1);
  bw.bits(1, 2);
  io::detail::put_fixed_literal(bw, 257);
  code(bw, 0, 5);
  CHECK(raw_error(take()).find("distance 1 reaches before the start of the stream (0 bytes") !=
        std::string::npos);
  // Literal/length symbol 286 and distance symbol 30 exist in the fixed code but are invalid.
  bw.bits(1, 1);
  bw.bits(1, 2);
  io::detail::put_fixed_literal(bw, 286);
  CHECK(raw_error(take()).find("invalid length symbol 286 at byte offset 1") != std::string::npos);
  bw.bits(1, 1);
  bw.bits(1, 2);
  io::detail::put_fixed_literal(bw, 'a');
  io::detail::put_fixed_literal(bw, 257);
  code(bw, 30, 5);
  CHECK(raw_error(take()).find("invalid distance symbol 30") != std::string::npos);
  // A fixed block without its end-of-block: truncated.
  bw.bits(1, 1);
  bw.bits(1, 2);
  io::detail::put_fixed_literal(bw, 'a');
  CHECK(raw_error(take()).find("truncated input") != std::string::npos);

  // Dynamic blocks.
  std::array<int, 19> cl{};
  // Too many literal/length codes (HLIT 30 -> 287).
  dynamic_header(bw, 287, 1, cl, 4);
  CHECK(raw_error(take()).find("declares 287 literal/length and 1 distance codes") !=
        std::string::npos);
  // Four code-length codes of length 1: over-subscribed.
  cl = {};
  cl[16] = cl[17] = cl[18] = cl[0] = 1;
  dynamic_header(bw, 257, 1, cl, 4);
  CHECK(raw_error(take()).find("over-subscribed code-length code") != std::string::npos);
  // One code-length code of length 2: incomplete (no single-code exception for this code).
  cl = {};
  cl[16] = 2;
  dynamic_header(bw, 257, 1, cl, 4);
  CHECK(raw_error(take()).find("incomplete code-length code") != std::string::npos);
  // Code-length symbols 0 (code 0) and 16 (code 1): a repeat first has nothing to repeat.
  cl = {};
  cl[0] = cl[16] = 1;
  dynamic_header(bw, 257, 1, cl, 4);
  code(bw, 1, 1);
  CHECK(raw_error(take()).find("repeat (symbol 16) with no previous length") != std::string::npos);
  // Symbols 0 (code 0) and 18 (code 1): two runs of 138 zeros overflow the 258 lengths.
  cl = {};
  cl[0] = cl[18] = 1;
  dynamic_header(bw, 257, 1, cl, 4);
  code(bw, 1, 1);
  bw.bits(127, 7);
  code(bw, 1, 1);
  bw.bits(127, 7);
  CHECK(raw_error(take()).find("code length repeat of 138 runs past the 258 lengths declared") !=
        std::string::npos);
  // Symbols 0 and 1, all 258 lengths zero: no end-of-block code.
  cl = {};
  cl[0] = cl[1] = 1;
  dynamic_header(bw, 257, 1, cl, 18);
  for (int i = 0; i < 258; ++i) code(bw, 0, 1);
  CHECK(raw_error(take()).find("no end-of-block code") != std::string::npos);

  // Code-length code {0: "0", 1: "10", 2: "11"}; literal/length lengths are sent one per symbol.
  cl = {};
  cl[0] = 1;
  cl[1] = cl[2] = 2;
  const auto send_lengths = [&](const std::vector<int>& lengths) {
    for (int len : lengths) {
      if (len == 0) code(bw, 0, 1);
      if (len == 1) code(bw, 2, 2);
      if (len == 2) code(bw, 3, 2);
    }
  };
  const auto lit_lengths = [](std::initializer_list<std::pair<int, int>> set, int n) {
    std::vector<int> v(static_cast<std::size_t>(n), 0);
    for (auto [sym, len] : set) v[static_cast<std::size_t>(sym)] = len;
    return v;
  };
  // Literal/length code {'a': 2, 256: 2}: incomplete.
  dynamic_header(bw, 257, 1, cl, 18);
  send_lengths(lit_lengths({{'a', 2}, {256, 2}}, 258));
  CHECK(raw_error(take()).find("incomplete literal/length code") != std::string::npos);
  // {'a': 1, 'b': 1, 256: 1}: over-subscribed.
  dynamic_header(bw, 257, 1, cl, 18);
  send_lengths(lit_lengths({{'a', 1}, {'b', 1}, {256, 1}}, 258));
  CHECK(raw_error(take()).find("over-subscribed literal/length code") != std::string::npos);
  // Distance code of one length-2 code: incomplete (only length 1 may stand alone).
  dynamic_header(bw, 258, 1, cl, 18);
  send_lengths(lit_lengths({{'a', 1}, {256, 2}, {257, 2}, {258, 2}}, 259));
  CHECK(raw_error(take()).find("incomplete distance code") != std::string::npos);

  // Valid: literal/length {'a': "0", 256: "10", 257: "11"}, a single distance code of length 1
  // (RFC 1951 allows one distance code; it is sent with one bit). "a" + (length 3, distance 1).
  dynamic_header(bw, 258, 1, cl, 18);
  send_lengths(lit_lengths({{'a', 1}, {256, 2}, {257, 2}, {258, 1}}, 259));
  code(bw, 0, 1);  // 'a'
  code(bw, 3, 2);  // 257: length 3
  code(bw, 0, 1);  // distance symbol 0: distance 1
  code(bw, 2, 2);  // end of block
  CHECK(text_of(io::inflate_raw(take())) == "aaaa");
  // The same with no distance code at all is fine until a match needs one.
  dynamic_header(bw, 258, 1, cl, 18);
  send_lengths(lit_lengths({{'a', 1}, {256, 2}, {257, 2}}, 259));
  code(bw, 0, 1);
  code(bw, 2, 2);
  CHECK(text_of(io::inflate_raw(take())) == "a");
  dynamic_header(bw, 258, 1, cl, 18);
  send_lengths(lit_lengths({{'a', 1}, {256, 2}, {257, 2}}, 259));
  code(bw, 0, 1);
  code(bw, 3, 2);
  const std::string no_dist = raw_error(take());
  CHECK_MESSAGE(no_dist.find("invalid Huffman code") != std::string::npos, no_dist);

  // Bytes after the final block of a raw stream.
  CHECK(raw_error(bytes_of({0x03, 0x00, 0x00})).find("1 bytes follow the final block") !=
        std::string::npos);
}

TEST_CASE("inflate: zlib wrapper checks") {
  const Bytes zz = read_bytes(kDataDir / "text.zz");
  const auto z_error = [](const Bytes& b) { return error_of([&] { io::inflate_zlib(b); }); };
  Bytes b = zz;
  b[1] ^= std::byte{1};
  CHECK(z_error(b).find("header check bits are wrong") != std::string::npos);
  CHECK(z_error(bytes_of({0x78, 0xBB})).find("preset dictionaries") != std::string::npos);
  CHECK(z_error(bytes_of({0x79, 0x9C})).find("is not deflate") != std::string::npos);
  b = zz;
  b.back() ^= std::byte{1};
  CHECK(z_error(b).find("Adler-32 mismatch") != std::string::npos);
  CHECK(z_error(concat(zz, Bytes(1))).find("1 bytes follow the checksum") != std::string::npos);
  CHECK(z_error(std::vector(zz.begin(), zz.end() - 2)).find("Adler-32 checksum at byte offset") !=
        std::string::npos);
}

TEST_CASE("gzip: every truncation and every single-byte corruption is caught") {
  const Bytes gz = read_bytes(kDataDir / "dynamic.gz");
  const Bytes plain = io::gunzip(gz);
  for (std::size_t n = 0; n < gz.size(); ++n) {
    CAPTURE(n);
    CHECK_THROWS_AS(io::gunzip(std::span(gz).first(n)), qnn::error);
  }
  // No checksum covers FTEXT (bit 0 of byte 3), MTIME, XFL, OS (bytes 4..9) or the padding bits
  // after the end-of-block code in the last byte of DEFLATE data: flipping those may go
  // unnoticed, but the output must not change. Every other flip is an error.
  const std::size_t last_deflate_byte = gz.size() - 9;
  int unchanged = 0;
  for (std::size_t i = 0; i < gz.size(); ++i) {
    for (int bit : {0x01, 0x80}) {
      Bytes b = gz;
      b[i] ^= static_cast<std::byte>(bit);
      try {
        const Bytes out = io::gunzip(b);
        CHECK_MESSAGE(out == plain, "corrupting byte ", i, " changed the output undetected");
        CHECK_MESSAGE(((i >= 3 && i < 10) || i == last_deflate_byte), "corrupting byte ", i,
                      " went unnoticed");
        ++unchanged;
      } catch (const qnn::error&) {
      }
    }
  }
  CHECK(unchanged >= 13);
}

TEST_CASE("inflate: the output cap turns a zip bomb into an error") {
  const Bytes zeros(1 << 20);
  const Bytes bomb = io::deflate_raw(zeros);
  CHECK(bomb.size() < 7000);  // 13 bits per 258 bytes with the fixed code
  CHECK(io::inflate_raw(bomb, zeros.size()) == zeros);
  const std::string e = raw_error(bomb, zeros.size() - 1);
  CHECK_MESSAGE(e.find("output would exceed the limit of 1048575 bytes") != std::string::npos, e);
  // Stored data counts too.
  CHECK(raw_error(bytes_of({0x01, 0x02, 0x00, 0xFD, 0xFF, 'o', 'k'}), 1).find("limit of 1 bytes") !=
        std::string::npos);
  const Bytes gz = read_bytes(kDataDir / "far_window.gz");
  CHECK(error_of([&] { io::gunzip(gz, 65535); }).find("gzip: output would exceed") !=
        std::string::npos);
  CHECK(io::gunzip(gz, 65536).size() == 65536);
}

TEST_CASE("inflate: round trips through deflate_raw and zlib_compress") {
  std::mt19937 rng(20240601);
  for (const std::size_t size : {0, 1, 2, 3, 4, 257, 258, 259, 1000, 32768, 32769, 100000}) {
    for (const int alphabet : {1, 2, 4, 256}) {
      CAPTURE(size);
      CAPTURE(alphabet);
      Bytes data(size);
      for (std::byte& x : data) x = static_cast<std::byte>(rng() % static_cast<unsigned>(alphabet));
      const Bytes z = io::zlib_compress(data);
      CHECK(io::inflate_zlib(z) == data);
      if (alphabet == 1 && size > 1000) CHECK(z.size() < size / 100);
    }
  }
  // A repeat exactly one window (32768 bytes) back: the longest distance DEFLATE allows. zlib
  // never emits it (its matches stop 262 bytes short), our encoder does.
  Bytes block(32768);
  for (std::byte& x : block) x = static_cast<std::byte>(rng());
  const Bytes twice = concat(block, block);
  const Bytes d = io::deflate_raw(twice);
  CHECK(d.size() < block.size() * 9 / 8 + 200);  // the second copy costs almost nothing
  CHECK(io::inflate_raw(d) == twice);
}

TEST_CASE("gzip: the Fashion-MNIST test set decodes to Python's size and CRC-32") {
  const fs::path images = kFashionDir / "t10k-images-idx3-ubyte.gz";
  const fs::path labels = kFashionDir / "t10k-labels-idx1-ubyte.gz";
  if (!fs::exists(images) || !fs::exists(labels)) {
    MESSAGE("skipped: Fashion-MNIST not installed in ", kFashionDir.string());
    return;
  }
  const Bytes x = io::gunzip(read_bytes(images));
  CHECK(x.size() == 7840016);
  CHECK(io::crc32(x) == 0x678FE0B1u);  // zlib.crc32(gzip.open(...).read())
  const Bytes y = io::gunzip(read_bytes(labels));
  CHECK(y.size() == 10008);
  CHECK(io::crc32(y) == 0x80142C1Fu);
}
