// Tests of the .npy reader and writer (include/qnn/io/npy.hpp).
//
//   cross-check   tests/data/io/*.npy written by NumPy 2.4 (make_io_cases.py): every dtype,
//                 versions 1.0/2.0/3.0, scalar and empty shapes, float64, and the refused kinds
//                 (Fortran order, big-endian, structured); the writer reproduces NumPy's bytes
//   header        hand-made headers: any key order, spacing, quotes, trailing commas, (5,), (),
//                 Python 2 longs; and each kind of malformed header
//   data size     too short (names the file and the byte counts), trailing bytes, hostile shapes
//                 that would need exabytes (refused before allocating), bool bytes other than 0/1
//   writing       round trips of every dtype, 64-byte alignment, atomic save (no partial file)
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "io_test_util.hpp"
#include "qnn/io/npy.hpp"

namespace {

using namespace qnn_io_test;
using namespace std::string_view_literals;
using qnn::DType;
using qnn::Shape;
using qnn::Tensor;
namespace io = qnn::io;

// An .npy file around a header given verbatim (no padding added) and raw data.
Bytes npy_raw(std::string_view header, const Bytes& data = {}, int major = 1) {
  Bytes b = bytes_of("\x93NUMPY");
  b.push_back(static_cast<std::byte>(major));
  b.push_back(std::byte{0});
  const std::size_t n = header.size();
  b.push_back(static_cast<std::byte>(n & 0xFF));
  b.push_back(static_cast<std::byte>((n >> 8) & 0xFF));
  if (major > 1) {
    b.push_back(static_cast<std::byte>((n >> 16) & 0xFF));
    b.push_back(static_cast<std::byte>((n >> 24) & 0xFF));
  }
  return concat(concat(b, bytes_of(header)), data);
}

template <class T>
std::vector<T> values(const Tensor& t) {
  const auto s = t.span<T>();
  return {s.begin(), s.end()};
}

std::string parse_error(const Bytes& b) {
  return error_of([&] { io::parse_npy(b, "case.npy"); });
}

}  // namespace

TEST_CASE("npy: reads every dtype NumPy writes, with the stored dtype and shape") {
  const auto load = [](const char* name) { return io::load_npy(kDataDir / name); };
  {
    const Tensor t = load("f32_2x3.npy");
    CHECK(t.dtype() == DType::f32);
    CHECK(t.shape() == Shape{2, 3});
    CHECK(values<float>(t) == std::vector<float>{-1.0f, -0.5f, 0.0f, 0.5f, 1.0f, 1.5f});
  }
  {
    const Tensor t = load("u8_5.npy");
    CHECK(t.dtype() == DType::u8);
    CHECK(t.shape() == Shape{5});
    CHECK(values<std::uint8_t>(t) == std::vector<std::uint8_t>{0, 1, 127, 128, 255});
  }
  {
    const Tensor t = load("i8_scalar.npy");
    CHECK(t.dtype() == DType::i8);
    CHECK(t.shape().rank() == 0);
    CHECK(values<std::int8_t>(t) == std::vector<std::int8_t>{-7});
  }
  {
    const Tensor t = load("i16_2x2.npy");
    CHECK(t.shape() == Shape{2, 2});
    CHECK(values<std::int16_t>(t) == std::vector<std::int16_t>{-32768, -1, 0, 32767});
  }
  CHECK(values<std::uint16_t>(load("u16_3.npy")) == std::vector<std::uint16_t>{0, 1, 65535});
  {
    const Tensor t = load("i32_2x2x2.npy");
    CHECK(t.shape() == Shape{2, 2, 2});
    CHECK(values<std::int32_t>(t) == std::vector<std::int32_t>{-4000000, -3000000, -2000000,
                                                               -1000000, 0, 1000000, 2000000,
                                                               3000000});
  }
  CHECK(values<std::int64_t>(load("i64_3.npy")) ==
        std::vector<std::int64_t>{-(std::int64_t{1} << 62), 0, (std::int64_t{1} << 62) + 5});
  {
    const Tensor t = load("bool_4.npy");
    CHECK(t.dtype() == DType::boolean);
    CHECK(values<bool>(t) == std::vector<bool>{true, false, false, true});
  }
  {
    const Tensor t = load("f32_empty.npy");
    CHECK(t.shape() == Shape{0, 3});
    CHECK(t.bytes() == 0);
  }
  // Versions 2.0 and 3.0: a 4-byte header length.
  CHECK(values<float>(load("f32_v2.npy")) == std::vector<float>{1.5f, -2.5f});
  CHECK(values<float>(load("f32_v3.npy")) == std::vector<float>{1.5f, -2.5f});
}

TEST_CASE("npy: the writer reproduces NumPy's bytes") {
  for (const char* name : {"f32_2x3.npy", "u8_5.npy", "i8_scalar.npy", "i16_2x2.npy", "u16_3.npy",
                           "i32_2x2x2.npy", "i64_3.npy", "bool_4.npy", "f32_empty.npy"}) {
    CAPTURE(name);
    const Bytes file = read_bytes(kDataDir / name);
    CHECK(io::serialize_npy(io::parse_npy(file, name)) == file);
  }
}

TEST_CASE("npy: float64 is read only through the explicit _as_f32 helpers") {
  const fs::path f64 = kDataDir / "f64_4.npy";
  const std::string e = error_of([&] { io::load_npy(f64); });
  CHECK(e.find("f64_4.npy") != std::string::npos);
  CHECK(e.find("load_npy_as_f32") != std::string::npos);

  const Tensor t = io::load_npy_as_f32(f64);
  CHECK(t.dtype() == DType::f32);
  const auto v = values<float>(t);
  REQUIRE(v.size() == 4);
  CHECK(v[0] == 0.1f);  // rounded to nearest, as numpy's astype(np.float32)
  CHECK(v[1] == 0.0f);
  CHECK(std::signbit(v[1]));  // -1e-50 underflows to -0
  CHECK(v[2] == std::numeric_limits<float>::infinity());  // 1e300
  CHECK(std::isnan(v[3]));
  const Tensor parsed = io::parse_npy_as_f32(read_bytes(f64), "x");
  CHECK(std::memcmp(parsed.raw(), t.raw(), t.bytes()) == 0);

  // float32 passes through; other dtypes are refused, not converted.
  CHECK(values<float>(io::load_npy_as_f32(kDataDir / "f32_v2.npy")) ==
        std::vector<float>{1.5f, -2.5f});
  CHECK(error_of([&] { io::load_npy_as_f32(kDataDir / "u8_5.npy"); })
            .find("reads float32 or float64") != std::string::npos);

  // Just beyond FLT_MAX rounds to FLT_MAX, from the halfway point on to inf (IEEE, like numpy).
  const double halfway = 0x1.ffffffp127;
  Bytes data(24);
  const double vals[3] = {std::nextafter(halfway, 0.0), halfway, -halfway};
  std::memcpy(data.data(), vals, 24);
  const Tensor edge = io::parse_npy_as_f32(
      npy_raw("{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }\n", data), "edge");
  CHECK(values<float>(edge) == std::vector<float>{std::numeric_limits<float>::max(),
                                                  std::numeric_limits<float>::infinity(),
                                                  -std::numeric_limits<float>::infinity()});
}

TEST_CASE("npy: Fortran order, big-endian and structured dtypes are refused by name") {
  const auto msg = [](const char* name) {
    return error_of([&] { io::load_npy(kDataDir / name); });
  };
  const std::string fortran = msg("f32_fortran.npy");
  CHECK(fortran.find("f32_fortran.npy") != std::string::npos);
  CHECK(fortran.find("fortran_order is True") != std::string::npos);
  const std::string big = msg("f32_big_endian.npy");
  CHECK(big.find("f32_big_endian.npy") != std::string::npos);
  CHECK(big.find("big-endian dtype '>f4'") != std::string::npos);
  const std::string structured = msg("structured.npy");
  CHECK(structured.find("structured.npy") != std::string::npos);
  CHECK(structured.find("structured dtypes") != std::string::npos);
}

TEST_CASE("npy: the header dict is parsed, not pattern-matched") {
  const Bytes two_floats = bytes_of({0, 0, 0xC0, 0x3F, 0, 0, 0x20, 0xC0});  // 1.5f, -2.5f
  for (const char* header : {
           "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }",
           "{'shape': (2,), 'fortran_order': False, 'descr': '<f4'}",  // any order, no comma
           "{ 'fortran_order' :False,'shape':(  2 , ) ,'descr' : '<f4' , }   \n",
           "{\"descr\": \"<f4\", \"fortran_order\": False, \"shape\": (2,)}\n",  // double quotes
           "\t{'descr':'<f4',\n 'fortran_order':False,\r\n 'shape':(2L,)}",  // tabs, CRLF, 2L
       }) {
    CAPTURE(header);
    const Tensor t = io::parse_npy(npy_raw(header, two_floats), "x");
    CHECK(t.shape() == Shape{2});
    CHECK(values<float>(t) == std::vector<float>{1.5f, -2.5f});
  }
  // Shapes: scalar, trailing commas, several dimensions.
  const Bytes four = bytes_of({1, 2, 3, 4});
  CHECK(io::parse_npy(npy_raw("{'descr': '|u1', 'fortran_order': False, 'shape': ()}", bytes_of({9})),
                      "x").shape().rank() == 0);
  CHECK(io::parse_npy(npy_raw("{'descr': '|u1', 'fortran_order': False, 'shape': (2, 2,)}", four),
                      "x").shape() == Shape{2, 2});
  CHECK(io::parse_npy(npy_raw("{'descr': '|u1', 'fortran_order': False, 'shape': (1,4,1)}", four),
                      "x").shape() == Shape{1, 4, 1});
  // One-byte types may carry any byte-order character.
  for (const char* descr : {"|u1", "<u1", ">u1", "=u1", "u1"}) {
    CAPTURE(descr);
    const std::string h = std::string("{'descr': '") + descr + "', 'fortran_order': False, 'shape': (4,)}";
    CHECK(values<std::uint8_t>(io::parse_npy(npy_raw(h, four), "x")) ==
          std::vector<std::uint8_t>{1, 2, 3, 4});
  }
  // A version 2.0 header.
  CHECK(io::parse_npy(npy_raw("{'descr': '<f4', 'fortran_order': False, 'shape': (2,)}",
                              two_floats, 2), "x").shape() == Shape{2});
}

TEST_CASE("npy: each kind of malformed header is a clear error naming the source") {
  const std::string ok_tail = "'fortran_order': False, 'shape': (1,)}";
  struct Case {
    std::string header;
    const char* expect;
  };
  const Case cases[] = {
      {"{'descr': '<f4', 'shape': (1,)}", "lacks the key 'fortran_order'"},
      {"{'fortran_order': False, 'shape': (1,)}", "lacks the key 'descr'"},
      {"{'descr': '<f4', 'fortran_order': False}", "lacks the key 'shape'"},
      {"{'descr': '<f4', 'descr': '<f4', " + ok_tail, "duplicate key 'descr'"},
      {"{'descr': '<f4', 'extra': 1, " + ok_tail, "unknown header key 'extra'"},
      {"{'descr': '<f4', 'fortran_order': True, 'shape': (1,)}", "fortran_order is True"},
      {"{'descr': '<f4', 'fortran_order': 0, 'shape': (1,)}", "must be True or False"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (1)}", "not a tuple"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': [1]}", "must be a tuple"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (-1,)}", "non-negative integer"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (1 2)}", "expected ',' or ')'"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,)}",
       "does not fit in 64 bits"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (1,1,1,1,1,1,1,1,1)}",
       "more than 8 dimensions"},
      {"{'descr': '<f2', " + ok_tail, "dtype '<f2' is not supported"},
      {"{'descr': '<U8', " + ok_tail, "dtype '<U8' is not supported"},
      {"{'descr': '>i4', " + ok_tail, "big-endian dtype '>i4'"},
      {"{'descr': '|i4', " + ok_tail, "does not state little-endian"},
      {"{'descr': 'f4', " + ok_tail, "does not state little-endian"},
      {"{'descr': [('a', '<f4')], " + ok_tail, "structured dtypes"},
      {"{'descr': 4, " + ok_tail, "quoted string"},
      {"{'descr': '<f4, " + ok_tail, "dtype '<f4, ' is not supported"},
      {"{'descr': '<f\\4', " + ok_tail, "escape sequences"},
      {"{'descr': '<f4', " + ok_tail + " x", "unexpected text after the closing '}'"},
      {"{'descr' '<f4', " + ok_tail, "expected ':'"},
      {"['descr', '<f4']", "expected '{'"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (1,)", "expected ',' or '}'"},
      {"", "expected '{'"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'x", "unterminated string"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.header);
    const std::string e = parse_error(npy_raw(c.header, Bytes(4)));
    CHECK_MESSAGE(e.find(c.expect) != std::string::npos, e);
    CHECK_MESSAGE(e.rfind("case.npy: ", 0) == 0, e);
  }

  // The preamble: magic, version, header length.
  CHECK(parse_error(bytes_of("\x93NUMPZ\x01\x00\x00\x00"sv)).find("not an .npy file") !=
        std::string::npos);
  CHECK(parse_error(bytes_of("\x93NUM")).find("not an .npy file") != std::string::npos);
  CHECK(parse_error(Bytes{}).find("not an .npy file") != std::string::npos);
  Bytes v4 = npy_raw("{}");
  v4[6] = std::byte{4};
  CHECK(parse_error(v4).find("version 4.0 is not supported") != std::string::npos);
  Bytes v11 = npy_raw("{}");
  v11[7] = std::byte{1};
  CHECK(parse_error(v11).find("version 1.1") != std::string::npos);
  // A header length beyond the end of the input.
  Bytes long_header = npy_raw("{}");
  long_header[8] = std::byte{0xFF};
  CHECK(parse_error(long_header).find("truncated .npy header: it declares 255 bytes") !=
        std::string::npos);
  Bytes v2_huge = npy_raw("{}", {}, 2);
  v2_huge[11] = std::byte{0xFF};
  CHECK(parse_error(v2_huge).find("truncated .npy header") != std::string::npos);
  CHECK(parse_error(bytes_of("\x93NUMPY\x02\x00\x05\x00"sv)).find("truncated .npy preamble") !=
        std::string::npos);
}

TEST_CASE("npy: the data must be exactly what the shape says") {
  const std::string header = "{'descr': '<i4', 'fortran_order': False, 'shape': (2, 3), }";
  // Too short: the message names the source and both byte counts.
  const std::string short_msg = parse_error(npy_raw(header, Bytes(20)));
  CHECK_MESSAGE(short_msg.find("case.npy: .npy data is too short") != std::string::npos, short_msg);
  CHECK_MESSAGE(short_msg.find("needs 24 bytes, the file has 20 bytes") != std::string::npos,
                short_msg);
  // Trailing bytes.
  const std::string long_msg = parse_error(npy_raw(header, Bytes(25)));
  CHECK_MESSAGE(long_msg.find("1 trailing bytes after the 24 data bytes") != std::string::npos,
                long_msg);
  CHECK(io::parse_npy(npy_raw(header, Bytes(24)), "x").bytes() == 24);

  // Hostile shapes are refused from the counts alone, before any allocation: 2^62 float64s would
  // need 2^65 bytes (more than size_t), (2^40)^2 elements overflow int64.
  const std::string huge = parse_error(
      npy_raw("{'descr': '<i8', 'fortran_order': False, 'shape': (4611686018427387904,)}", Bytes(8)));
  CHECK_MESSAGE(huge.find("needs 4611686018427387904 elements of 8 bytes") != std::string::npos,
                huge);
  const std::string overflow = parse_error(npy_raw(
      "{'descr': '|u1', 'fortran_order': False, 'shape': (1099511627776, 1099511627776)}"));
  CHECK_MESSAGE(overflow.find("case.npy: shape [1099511627776,1099511627776] has more elements") !=
                    std::string::npos,
                overflow);
  // Zero-size shapes need no data at all.
  CHECK(io::parse_npy(npy_raw("{'descr': '<f4', 'fortran_order': False, 'shape': (0, 1000000000)}"),
                      "x").numel() == 0);

  // bool bytes must be 0 or 1 (anything else is not a valid C++ bool).
  const std::string bool_msg = parse_error(
      npy_raw("{'descr': '|b1', 'fortran_order': False, 'shape': (3,)}", bytes_of({1, 0, 2})));
  CHECK_MESSAGE(bool_msg.find("bool element 2 has byte value 2") != std::string::npos, bool_msg);
}

TEST_CASE("npy: round trips of every dtype, aligned headers, and the writer's refusals") {
  std::vector<Tensor> tensors;
  tensors.push_back(Tensor::from<float>(Shape{2, 2}, {1.0f, -0.0f, 3.4e38f, 1e-45f}));
  tensors.push_back(Tensor::from<std::uint8_t>(Shape{3}, {0, 128, 255}));
  tensors.push_back(Tensor::from<std::int8_t>(Shape{1, 2, 1}, {-128, 127}));
  tensors.push_back(Tensor::from<std::int16_t>(Shape{2}, {-32768, 32767}));
  tensors.push_back(Tensor::from<std::uint16_t>(Shape{1}, {65535}));
  tensors.push_back(Tensor::from<std::int32_t>(Shape{2}, {-2147483647 - 1, 2147483647}));
  tensors.push_back(Tensor::from<std::int64_t>(Shape{1, 1}, {std::numeric_limits<std::int64_t>::min()}));
  tensors.push_back(Tensor::from<bool>(Shape{2}, {true, false}));
  tensors.push_back(Tensor::scalar<float>(42.0f));
  tensors.push_back(Tensor(DType::i16, Shape{0, 7}));
  tensors.push_back(Tensor(DType::u8, Shape{1, 2, 3, 4, 5, 6, 7, 8}));
  TempDir dir;
  for (const Tensor& t : tensors) {
    CAPTURE(t.dtype());
    CAPTURE(t.shape());
    const Bytes b = io::serialize_npy(t);
    CHECK(b[6] == std::byte{1});  // version 1.0
    const std::size_t header_len = std::to_integer<std::size_t>(b[8]) |
                                   std::to_integer<std::size_t>(b[9]) << 8;
    CHECK((10 + header_len) % 64 == 0);
    CHECK(b[10 + header_len - 1] == std::byte{'\n'});
    const Tensor back = io::parse_npy(b, "round trip");
    CHECK(back.dtype() == t.dtype());
    CHECK(back.shape() == t.shape());
    CHECK(io::serialize_npy(back) == b);
    const fs::path p = dir / "t.npy";
    io::save_npy(p, t);
    CHECK(read_bytes(p) == b);
    CHECK(io::serialize_npy(io::load_npy(p)) == b);
  }

  // bfloat16 has no NumPy dtype: an error naming the file, and no file (or .tmp) left behind.
  const fs::path p = dir / "bf16.npy";
  const std::string e = error_of([&] { io::save_npy(p, Tensor(DType::bf16, Shape{2})); });
  CHECK_MESSAGE(e.find("bf16.npy") != std::string::npos, e);
  CHECK_MESSAGE(e.find("NumPy has no bfloat16 dtype") != std::string::npos, e);
  CHECK(dir.files() == std::vector<std::string>{"t.npy"});
}

TEST_CASE("npy: files on disk: errors name the file, saves are atomic") {
  TempDir dir;
  // Missing file, directory.
  const std::string missing = error_of([&] { io::load_npy(dir / "missing.npy"); });
  CHECK_MESSAGE(missing.find("missing.npy': cannot open for reading") != std::string::npos, missing);
  CHECK(error_of([&] { io::load_npy(dir.path()); }).find("cannot open") != std::string::npos);

  // A truncated file: the message names the file and both byte counts.
  const Bytes good = read_bytes(kDataDir / "f32_2x3.npy");
  const fs::path cut = dir / "cut.npy";
  write_bytes(cut, std::span(good).first(good.size() - 5));
  const std::string e = error_of([&] { io::load_npy(cut); });
  CHECK_MESSAGE(e.find("cut.npy': .npy data is too short") != std::string::npos, e);
  CHECK_MESSAGE(e.find("needs 24 bytes, the file has 19 bytes after the 128-byte header") !=
                    std::string::npos,
                e);
  // Cut inside the header, and inside the preamble.
  write_bytes(cut, std::span(good).first(50));
  CHECK(error_of([&] { io::load_npy(cut); }).find("truncated .npy header") != std::string::npos);
  write_bytes(cut, std::span(good).first(9));
  CHECK(error_of([&] { io::load_npy(cut); }).find("not an .npy file") != std::string::npos);
  // A hostile header on disk: refused before the 2^61-byte tensor is allocated.
  write_bytes(cut, npy_raw("{'descr': '<i8', 'fortran_order': False, 'shape': (288230376151711744,)}",
                           Bytes(64)));
  CHECK(error_of([&] { io::load_npy(cut); }).find("too short") != std::string::npos);

  // A failing save leaves an existing file as it was and no .tmp behind.
  const fs::path p = dir / "keep.npy";
  io::save_npy(p, Tensor::from<float>(Shape{1}, {7.0f}));
  const Bytes before = read_bytes(p);
  CHECK_THROWS_AS(io::save_npy(p, Tensor(DType::bf16, Shape{1})), qnn::error);
  CHECK(read_bytes(p) == before);
  // A directory that does not exist: an error naming the file.
  const std::string nodir =
      error_of([&] { io::save_npy(dir / "no" / "such" / "x.npy", Tensor(DType::f32, Shape{1})); });
  CHECK_MESSAGE(nodir.find("x.npy': cannot open") != std::string::npos, nodir);
  CHECK_MESSAGE(nodir.find("(no such directory)") != std::string::npos, nodir);
  // A directory in the way, and a device (written in place, never renamed over).
  CHECK(error_of([&] { io::save_npy(dir.path(), Tensor(DType::f32, Shape{1})); }).find("is a directory") !=
        std::string::npos);
  io::save_npy("/dev/null", Tensor(DType::f32, Shape{1}));
  CHECK(fs::is_character_file("/dev/null"));
  const std::string full = error_of([&] { io::save_npy("/dev/full", Tensor(DType::f32, Shape{4096})); });
  CHECK_MESSAGE(full.find("/dev/full': writing 16512 bytes failed") != std::string::npos, full);
  std::vector<std::string> files = dir.files();
  std::sort(files.begin(), files.end());
  CHECK(files == std::vector<std::string>{"cut.npy", "keep.npy"});
}
