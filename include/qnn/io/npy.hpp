// NumPy .npy files: read and write qnn::Tensor.
//
// Format (numpy.lib.format): the magic "\x93NUMPY", a major and minor version byte (1.0, 2.0 and
// 3.0 are read; 1.0 is written), the header length (2 bytes little-endian in 1.0, 4 bytes in 2.0
// and 3.0), then the header: a Python dict literal such as
//     {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
// padded with spaces and a final '\n', then the raw elements in C order.
//
// What is read: the dtypes '<f4' '|u1' '|i1' '<i2' '<u2' '<i4' '<i8' '|b1', each to the qnn DType
// of the same width and signedness. load_npy/parse_npy return exactly the stored dtype and never
// convert. '<f8' is refused there; load_npy_as_f32/parse_npy_as_f32 are the one explicit way to
// read float64 data, rounding each value to the nearest float (values beyond the float range
// become ±inf, as numpy's astype(np.float32) does) — for calibration sets or reference outputs
// that were saved as float64 by accident.
//
// What is refused, each with a qnn::error that names the file and says what is wrong: Fortran
// order, big-endian or structured dtypes, any other dtype, unknown/missing/duplicate header keys, a
// data section shorter or longer than the shape says, bool bytes other than 0 and 1. The header is
// parsed as a dict literal (any key order, any spacing, trailing commas, shapes "()" and "(5,)"),
// not by matching a fixed layout. The element count is checked against the bytes actually present
// before anything is allocated, so a hostile header cannot request a huge buffer.
//
// Writing produces version 1.0 with the header padded so that the data starts at a multiple of 64
// bytes, as numpy does; save_npy writes to a temporary file and renames it (io/file.hpp), so an error never leaves a
// partial file. A tensor's quantization parameters are not stored: .npy holds values only.
#pragma once

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "qnn/core/dtype.hpp"
#include "qnn/core/error.hpp"
#include "qnn/core/shape.hpp"
#include "qnn/core/tensor.hpp"
#include "qnn/io/file.hpp"

namespace qnn::io {

static_assert(std::endian::native == std::endian::little,
              "qnn's .npy reader and writer copy little-endian data as is");

namespace detail {

inline constexpr std::string_view kNpyMagic = "\x93NUMPY";

// The stored element type of an .npy file.
struct NpyType {
  std::string_view code;  // descr without the byte-order character
  DType dtype;            // the tensor dtype it loads as
  std::size_t item_size;  // bytes per stored element
  bool float64;           // '<f8': only the _as_f32 readers accept it
};
inline constexpr NpyType kNpyTypes[] = {
    {"f4", DType::f32, 4, false}, {"f8", DType::f32, 8, true},   {"u1", DType::u8, 1, false},
    {"i1", DType::i8, 1, false},  {"i2", DType::i16, 2, false},  {"u2", DType::u16, 2, false},
    {"i4", DType::i32, 4, false}, {"i8", DType::i64, 8, false},  {"b1", DType::boolean, 1, false},
};

struct NpyHeader {
  NpyType type{};
  Shape shape;
  std::size_t data_offset = 0;  // preamble + header
  std::size_t data_bytes = 0;   // shape product × item size, checked against the input
};

// Parses the header dict. Grammar (a subset of Python literals, all numpy has ever written):
//   dict  := '{' [ key ':' value { ',' key ':' value } [','] ] '}'
//   key   := string;  value := string | 'True' | 'False' | tuple
//   tuple := '(' ')' | '(' int ',' ')' | '(' int { ',' int } [','] ')'
//   int   := digits ['L']            (the 'L' of Python 2 longs)
class NpyDictParser {
 public:
  NpyDictParser(std::string_view text, std::string_view what) : text_(text), what_(what) {}

  NpyHeader parse() {
    NpyHeader h;
    bool have_descr = false, have_order = false, have_shape = false;
    expect('{');
    while (true) {
      skip_space();
      if (peek() == '}') break;
      const std::string_view key = string_literal("a key");
      skip_space();
      expect(':');
      skip_space();
      if (key == "descr") {
        check_once(have_descr, key);
        h.type = descr();
      } else if (key == "fortran_order") {
        check_once(have_order, key);
        const std::size_t at = pos_;
        if (word("True")) {
          pos_ = at;
          error("fortran_order is True: Fortran-ordered (column-major) arrays are not supported; "
                "save np.ascontiguousarray(a) instead");
        }
        if (!word("False")) error("fortran_order must be True or False");
      } else if (key == "shape") {
        check_once(have_shape, key);
        h.shape = shape();
      } else {
        error("unknown header key '", key, "' (expected descr, fortran_order and shape)");
      }
      skip_space();
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      if (peek() != '}') error("expected ',' or '}' after the value of '", key, "'");
    }
    ++pos_;
    skip_space();
    if (pos_ != text_.size()) error("unexpected text after the closing '}'");
    if (!have_descr || !have_order || !have_shape) {
      fail(what_, ": .npy header lacks the key '",
           !have_descr ? "descr" : !have_order ? "fortran_order" : "shape", "' (header ",
           quoted_header(), ")");
    }
    return h;
  }

 private:
  template <class... Args>
  [[noreturn]] void error(const Args&... args) const {
    fail(what_, ": .npy header: ", args..., " (at character ", pos_, " of the header ",
         quoted_header(), ")");
  }
  // The header as it was, shortened and with control bytes escaped, for messages.
  std::string quoted_header() const {
    std::string s = "\"";
    for (char c : text_.substr(0, 160)) {
      if (c >= 0x20 && c < 0x7F) {
        s += c;
      } else {
        constexpr std::string_view kHex = "0123456789abcdef";
        s += qnn::detail::cat("\\x", kHex[static_cast<std::size_t>((c >> 4) & 0xF)],
                              kHex[static_cast<std::size_t>(c & 0xF)]);
      }
    }
    return s + (text_.size() > 160 ? "...\"" : "\"");
  }

  char peek() const { return pos_ < text_.size() ? text_[pos_] : '\0'; }
  void skip_space() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\t' ||
                                   text_[pos_] == '\n' || text_[pos_] == '\r')) {
      ++pos_;
    }
  }
  void expect(char c) {
    skip_space();
    if (peek() != c) error("expected '", c, "'");
    ++pos_;
  }
  bool word(std::string_view w) {
    if (text_.substr(pos_, w.size()) != w) return false;
    pos_ += w.size();
    return true;
  }
  void check_once(bool& seen, std::string_view key) {
    if (seen) error("duplicate key '", key, "'");
    seen = true;
  }

  std::string_view string_literal(const char* what) {
    const char quote = peek();
    if (quote != '\'' && quote != '"') error("expected ", what, " as a quoted string");
    const std::size_t start = ++pos_;
    while (pos_ < text_.size() && text_[pos_] != quote) {
      if (text_[pos_] == '\\') error("escape sequences are not supported in header strings");
      ++pos_;
    }
    if (pos_ >= text_.size()) error("unterminated string");
    return text_.substr(start, pos_++ - start);
  }

  NpyType descr() {
    if (peek() == '[') {
      error("structured dtypes (a list as 'descr') are not supported; save a plain array");
    }
    const std::size_t at = pos_;
    const std::string_view d = string_literal("'descr'");
    std::string_view code = d;
    char order = '\0';
    if (!code.empty() && std::string_view("<>|=").find(code[0]) != std::string_view::npos) {
      order = code[0];
      code.remove_prefix(1);
    }
    const std::size_t end = pos_;
    pos_ = at;  // errors point at the descr string
    for (const NpyType& t : kNpyTypes) {
      if (t.code != code) continue;
      if (t.item_size > 1 && order == '>') {
        error("big-endian dtype '", d, "' is not supported; save a.astype('<", code, "')");
      }
      if (t.item_size > 1 && order != '<') {
        error("dtype '", d, "' does not state little-endian byte order ('<", code, "')");
      }
      pos_ = end;
      return t;
    }
    error("dtype '", d, "' is not supported (supported: <f4 |u1 |i1 <i2 <u2 <i4 <i8 |b1, and <f8 "
          "through load_npy_as_f32)");
  }

  Shape shape() {
    if (peek() != '(') error("shape must be a tuple such as (2, 3), (5,) or ()");
    ++pos_;
    Shape s;
    int count = 0;
    bool trailing_comma = false;
    while (true) {
      skip_space();
      if (peek() == ')') break;
      if (count > 0 && !trailing_comma) error("expected ',' or ')' in the shape");
      if (count == Shape::kMaxRank) error("shape has more than ", Shape::kMaxRank, " dimensions");
      s.push_back(integer());
      ++count;
      skip_space();
      trailing_comma = peek() == ',';
      if (trailing_comma) ++pos_;
    }
    if (count == 1 && !trailing_comma) error("shape (n) is an int, not a tuple; write (n,)");
    ++pos_;
    return s;
  }

  std::int64_t integer() {
    if (peek() < '0' || peek() > '9') error("expected a non-negative integer dimension");
    std::int64_t v = 0;
    while (peek() >= '0' && peek() <= '9') {
      const int digit = peek() - '0';
      if (v > (std::numeric_limits<std::int64_t>::max() - digit) / 10) {
        error("dimension does not fit in 64 bits");
      }
      v = v * 10 + digit;
      ++pos_;
    }
    if (peek() == 'L') ++pos_;
    return v;
  }

  std::string_view text_;
  std::string_view what_;
  std::size_t pos_ = 0;
};

// Reads the preamble (the first 10 or 12 bytes: magic, version, header length) and returns the
// offset where the data starts. `file_size` bounds the header length before anything is read.
inline std::size_t npy_data_offset(std::span<const std::byte> preamble, std::uint64_t file_size,
                                   std::string_view what) {
  const auto at = [&](std::size_t i) { return static_cast<std::uint32_t>(preamble[i]); };
  check(preamble.size() >= 10 &&
            std::memcmp(preamble.data(), kNpyMagic.data(), kNpyMagic.size()) == 0,
        what, ": not an .npy file (", file_size, " bytes, no \\x93NUMPY magic at the start)");
  const std::uint32_t major = at(6), minor = at(7);
  check((major == 1 || major == 2 || major == 3) && minor == 0, what, ": .npy format version ",
        major, ".", minor, " is not supported (1.0, 2.0 and 3.0 are)");
  const std::size_t len_bytes = major == 1 ? 2 : 4;
  check(preamble.size() >= 8 + len_bytes, what, ": truncated .npy preamble (", file_size,
        " bytes)");
  std::uint64_t header_len = 0;
  for (std::size_t i = len_bytes; i-- > 0;) header_len = header_len << 8 | at(8 + i);
  const std::uint64_t offset = 8 + len_bytes + header_len;
  check(offset <= file_size, what, ": truncated .npy header: it declares ", header_len,
        " bytes, the file has ", file_size, " bytes in all");
  return static_cast<std::size_t>(offset);
}

// Parses preamble + header (`head`, exactly data_offset bytes) and checks that `file_size` holds
// exactly the data the shape needs.
inline NpyHeader parse_npy_header(std::span<const std::byte> head, std::uint64_t file_size,
                                  std::string_view what) {
  const std::size_t offset = npy_data_offset(head, file_size, what);
  const std::size_t start = head[6] == std::byte{1} ? 10 : 12;
  const std::string_view text(reinterpret_cast<const char*>(head.data()) + start, offset - start);
  NpyHeader h = NpyDictParser(text, what).parse();
  h.data_offset = offset;
  const std::int64_t numel = with_context(std::string(what), [&] { return h.shape.numel(); });
  const std::uint64_t available = file_size - offset;
  const std::uint64_t item = h.type.item_size;
  // Compared as counts first, so numel × item_size cannot overflow.
  if (static_cast<std::uint64_t>(numel) > available / item) {
    const auto count = static_cast<std::uint64_t>(numel);
    fail(what, ": .npy data is too short: shape ", h.shape, " of '", h.type.code, "' needs ",
         count <= std::numeric_limits<std::uint64_t>::max() / item
             ? qnn::detail::cat(count * item, " bytes")
             : qnn::detail::cat(count, " elements of ", item, " bytes"),
         ", the file has ", available, " bytes after the ", offset, "-byte header");
  }
  const std::uint64_t needed = static_cast<std::uint64_t>(numel) * item;
  check(needed == available, what, ": .npy file has ", available - needed,
        " trailing bytes after the ", needed, " data bytes of shape ", h.shape);
  h.data_bytes = static_cast<std::size_t>(needed);
  return h;
}

// Rounds to nearest like IEEE conversion (numpy's astype), without the undefined behaviour of
// casting a double beyond the float range: from halfway between FLT_MAX and 2^128 on, ±inf.
inline float f64_to_f32(double v) {
  constexpr double kMax = std::numeric_limits<float>::max();
  constexpr double kRoundsToInf = 0x1.ffffffp127;  // 2^128 - 2^103
  if (std::isnan(v)) return std::numeric_limits<float>::quiet_NaN();
  if (std::fabs(v) >= kRoundsToInf) {
    return v > 0 ? std::numeric_limits<float>::infinity() : -std::numeric_limits<float>::infinity();
  }
  return static_cast<float>(std::clamp(v, -kMax, kMax));
}

// Builds the tensor from the data, which `read(dst, offset)` copies out of the source.
template <class Read>
Tensor npy_tensor(const NpyHeader& h, bool allow_f64, Read&& read, std::string_view what) {
  if (h.type.float64 && !allow_f64) {
    fail(what, ": .npy dtype '<f8' (float64) is not read as is; use load_npy_as_f32 to convert "
               "to float32 explicitly");
  }
  Tensor t(h.type.dtype, h.shape);
  if (!h.type.float64) {
    read(std::span<std::byte>(t.raw(), h.data_bytes), std::size_t{0});
  } else {
    // float64 -> float32 in chunks, never holding the float64 data whole.
    const std::span<float> dst = t.span<float>();
    std::vector<double> chunk(std::min<std::size_t>(dst.size(), 1 << 16));
    for (std::size_t i = 0; i < dst.size(); i += chunk.size()) {
      const std::size_t n = std::min(chunk.size(), dst.size() - i);
      read(std::as_writable_bytes(std::span<double>(chunk).first(n)), i * sizeof(double));
      for (std::size_t k = 0; k < n; ++k) dst[i + k] = f64_to_f32(chunk[k]);
    }
  }
  if (h.type.dtype == DType::boolean) {
    const std::span<const std::byte> bytes(t.raw(), t.bytes());
    for (std::size_t i = 0; i < bytes.size(); ++i) {
      check(bytes[i] == std::byte{0} || bytes[i] == std::byte{1}, what, ": .npy bool element ", i,
            " has byte value ", static_cast<int>(bytes[i]), " (must be 0 or 1)");
    }
  }
  return t;
}

inline Tensor parse_npy_impl(std::span<const std::byte> bytes, std::string_view what,
                             bool allow_f64) {
  const std::size_t offset = npy_data_offset(bytes, bytes.size(), what);
  const NpyHeader h = parse_npy_header(bytes.first(offset), bytes.size(), what);
  return npy_tensor(h, allow_f64,
                    [&](std::span<std::byte> dst, std::size_t at) {
                      if (dst.empty()) return;
                      std::memcpy(dst.data(), bytes.data() + offset + at, dst.size());
                    },
                    what);
}

inline Tensor load_npy_impl(const std::filesystem::path& path, bool allow_f64) {
  const std::string what = file_context(path);
  const std::uintmax_t size = file_size_checked(path);
  std::ifstream in(path, std::ios::binary);
  check(in.good(), what, ": cannot open for reading");
  // Header first: its claims are checked against the file size before the data is allocated.
  std::vector<std::byte> head(static_cast<std::size_t>(std::min<std::uintmax_t>(size, 12)));
  read_exact(in, head, path);
  const std::size_t offset = npy_data_offset(head, size, what);
  const std::size_t have = head.size();
  head.resize(offset);
  if (offset > have) read_exact(in, std::span<std::byte>(head).subspan(have), path);
  in.seekg(static_cast<std::streamoff>(offset));
  const NpyHeader h = parse_npy_header(head, size, what);
  const auto read = [&](std::span<std::byte> dst, std::size_t) { read_exact(in, dst, path); };
  return npy_tensor(h, allow_f64, read, what);
}

inline std::string_view npy_descr(DType t) {
  switch (t) {
    case DType::f32: return "<f4";
    case DType::u8: return "|u1";
    case DType::i8: return "|i1";
    case DType::i16: return "<i2";
    case DType::u16: return "<u2";
    case DType::i32: return "<i4";
    case DType::i64: return "<i8";
    case DType::boolean: return "|b1";
    case DType::bf16: break;
  }
  fail("NumPy has no ", t, " dtype; convert the tensor to float32 before saving it as .npy");
}

}  // namespace detail

// Parses .npy bytes; `what` names the source in error messages (a file name, "weights of conv1").
inline Tensor parse_npy(std::span<const std::byte> bytes, std::string_view what) {
  return detail::parse_npy_impl(bytes, what, false);
}

// Reads an .npy file; the tensor has exactly the stored dtype.
inline Tensor load_npy(const std::filesystem::path& path) {
  return detail::load_npy_impl(path, false);
}

// As parse_npy/load_npy, but also reads '<f8' data, rounded to float32. Only float dtypes are
// accepted: the result is always a float32 tensor.
inline Tensor parse_npy_as_f32(std::span<const std::byte> bytes, std::string_view what) {
  Tensor t = detail::parse_npy_impl(bytes, what, true);
  check(t.dtype() == DType::f32, what, ": parse_npy_as_f32 reads float32 or float64, not ",
        t.dtype());
  return t;
}
inline Tensor load_npy_as_f32(const std::filesystem::path& path) {
  Tensor t = detail::load_npy_impl(path, true);
  check(t.dtype() == DType::f32, file_context(path),
        ": load_npy_as_f32 reads float32 or float64 .npy files, not ", t.dtype());
  return t;
}

// The .npy bytes (version 1.0) of a tensor: header padded so the data starts at a multiple of 64.
inline std::vector<std::byte> serialize_npy(const Tensor& t) {
  std::string header = "{'descr': '";
  header += detail::npy_descr(t.dtype());
  header += "', 'fortran_order': False, 'shape': (";
  for (int i = 0; i < t.shape().rank(); ++i) {
    header += std::to_string(t.shape()[i]);
    if (i + 1 < t.shape().rank() || t.shape().rank() == 1) header += ",";
    if (i + 1 < t.shape().rank()) header += " ";
  }
  header += "), }";
  constexpr std::size_t kPreamble = 10;
  const std::size_t total = (kPreamble + header.size() + 1 + 63) / 64 * 64;
  header.append(total - kPreamble - header.size() - 1, ' ');
  header += '\n';

  std::vector<std::byte> out;
  out.reserve(total + t.bytes());
  for (char c : detail::kNpyMagic) out.push_back(static_cast<std::byte>(c));
  out.push_back(std::byte{1});
  out.push_back(std::byte{0});
  out.push_back(static_cast<std::byte>(header.size() & 0xFF));
  out.push_back(static_cast<std::byte>(header.size() >> 8));
  for (char c : header) out.push_back(static_cast<std::byte>(c));
  out.insert(out.end(), t.raw(), t.raw() + t.bytes());
  return out;
}

// Writes a tensor as an .npy file, atomically (see io/file.hpp).
inline void save_npy(const std::filesystem::path& path, const Tensor& t) {
  const std::vector<std::byte> bytes =
      with_context(file_context(path), [&] { return serialize_npy(t); });
  write_file_atomic(path, bytes);
}

}  // namespace qnn::io
