// Protocol-buffer wire format: a bounds-checked reader and an appending writer.
//
// Written from the public encoding spec (protobuf.dev/programming-guides/encoding). A message is a
// sequence of fields; each field starts with a varint tag `(field_number << 3) | wire_type`:
//   0 varint   base-128, least significant group first, at most 10 bytes for 64 bits
//   1 i64      8 bytes little-endian (fixed64, sfixed64, double)
//   2 len      varint byte count, then that many bytes (strings, bytes, messages, packed repeated)
//   3/4        start/end group: deprecated since proto2, never used by onnx.proto, rejected here
//   5 i32      4 bytes little-endian (fixed32, sfixed32, float)
//
// The reader works on a span of the whole file and never reads past it: every length is checked
// against the bytes that remain before anything is copied or allocated, so a hostile header cannot
// make the reader allocate more than the input holds. Errors name the absolute byte offset in the
// input ("onnx: truncated varint at offset 1234"), also inside nested messages, because a
// sub-reader remembers where its span begins.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "qnn/core/error.hpp"

namespace qnn::onnx::wire {

enum class WireType : std::uint8_t {
  varint = 0,
  i64 = 1,
  len = 2,
  start_group = 3,
  end_group = 4,
  i32 = 5,
};

constexpr std::string_view name_of(WireType t) {
  switch (t) {
    case WireType::varint: return "varint";
    case WireType::i64: return "fixed64";
    case WireType::len: return "length-delimited";
    case WireType::start_group: return "start-group";
    case WireType::end_group: return "end-group";
    case WireType::i32: return "fixed32";
  }
  return "invalid";
}

// Field numbers are 29-bit: the tag is a uint32 whose low 3 bits hold the wire type.
inline constexpr std::uint32_t max_field_number = (1u << 29) - 1;

// A 64-bit varint takes ceil(64 / 7) = 10 bytes; the tenth carries only bit 63.
inline constexpr std::size_t max_varint_bytes = 10;

// The header of one field: its number, its wire type and the offset of its tag in the input.
struct Field {
  std::uint32_t number = 0;
  WireType type = WireType::varint;
  std::size_t offset = 0;
};

class Reader {
 public:
  // `base` is the offset of bytes[0] in the outermost input; errors report base + position.
  explicit Reader(std::span<const std::byte> bytes, std::size_t base = 0)
      : bytes_(bytes), base_(base) {}

  bool at_end() const { return pos_ == bytes_.size(); }
  std::size_t offset() const { return base_ + pos_; }
  std::size_t remaining() const { return bytes_.size() - pos_; }

  std::uint64_t read_varint() {
    const std::size_t start = offset();
    std::uint64_t value = 0;
    for (std::size_t i = 0; i < max_varint_bytes; ++i) {
      check(pos_ < bytes_.size(), "onnx: truncated varint at offset ", start);
      const auto b = std::to_integer<std::uint8_t>(bytes_[pos_++]);
      if (i == max_varint_bytes - 1) {
        // Only bit 63 is left: the last byte may be 0 or 1 and must end the varint.
        check((b & 0x80u) == 0, "onnx: overlong varint (more than 10 bytes) at offset ", start);
        check(b <= 1, "onnx: varint overflows 64 bits at offset ", start);
      }
      value |= std::uint64_t{b & 0x7fu} << (7 * i);
      if ((b & 0x80u) == 0) return value;
    }
    fail("onnx: overlong varint at offset ", start);  // not reached: the loop returns or throws
  }

  // Reads a tag. Wire types 3 and 4 (groups) and 6, 7 (undefined) are errors here, so callers only
  // ever see the four wire types they can skip.
  Field read_field() {
    const std::size_t start = offset();
    const std::uint64_t tag = read_varint();
    check(tag <= std::numeric_limits<std::uint32_t>::max(), "onnx: tag ", tag,
          " does not fit 32 bits at offset ", start);
    const auto number = static_cast<std::uint32_t>(tag >> 3);
    const auto type = static_cast<std::uint32_t>(tag & 7u);
    check(number != 0, "onnx: field number 0 at offset ", start);
    check(type != 3 && type != 4, "onnx: field ", number,
          " is a group (wire type ", type, "), which onnx.proto never uses, at offset ", start);
    check(type <= 5, "onnx: field ", number, " has invalid wire type ", type, " at offset ", start);
    return Field{number, static_cast<WireType>(type), start};
  }

  std::uint32_t read_fixed32() {
    const auto b = take(4, "fixed32");
    std::uint32_t v = 0;
    for (std::size_t i = 0; i < 4; ++i) {
      v |= std::uint32_t{std::to_integer<std::uint8_t>(b[i])} << (8 * i);
    }
    return v;
  }

  std::uint64_t read_fixed64() {
    const auto b = take(8, "fixed64");
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < 8; ++i) {
      v |= std::uint64_t{std::to_integer<std::uint8_t>(b[i])} << (8 * i);
    }
    return v;
  }

  // The payload of a length-delimited field. The length is checked against what remains before
  // the span is formed, so no caller ever allocates from an unchecked length.
  std::span<const std::byte> read_len() {
    const std::size_t start = offset();
    const std::uint64_t n = read_varint();
    check(n <= remaining(), "onnx: length ", n, " at offset ", start, " runs past the end (",
          remaining(), " bytes left)");
    return take(static_cast<std::size_t>(n), "length-delimited field");
  }

  // Skips the value of a field whose header was just read (unknown fields are skipped, which is
  // what keeps the reader forward compatible with newer onnx.proto versions).
  void skip(const Field& f) {
    switch (f.type) {
      case WireType::varint: read_varint(); return;
      case WireType::i64: take(8, "fixed64"); return;
      case WireType::len: read_len(); return;
      case WireType::i32: take(4, "fixed32"); return;
      case WireType::start_group:
      case WireType::end_group: break;
    }
    fail("onnx: cannot skip field ", f.number, " with wire type ", static_cast<int>(f.type),
         " at offset ", f.offset);
  }

  // ---- typed reads of a field's value; each checks the wire type first -------------------------

  // int64 / uint64 fields: a varint; negative int64 values are their two's complement.
  std::int64_t read_int64(const Field& f) {
    expect(f, WireType::varint);
    return static_cast<std::int64_t>(read_varint());
  }
  std::uint64_t read_uint64(const Field& f) {
    expect(f, WireType::varint);
    return read_varint();
  }
  // int32 and enum fields: writers sign-extend negatives to 64 bits, so the value read as int64
  // must lie in int32 range; anything else is a corrupt field, not a value to truncate silently.
  std::int32_t read_int32(const Field& f) {
    const std::size_t start = offset();
    const std::int64_t v = read_int64(f);
    check(v >= std::numeric_limits<std::int32_t>::min() &&
              v <= std::numeric_limits<std::int32_t>::max(),
          "onnx: field ", f.number, " value ", v, " does not fit int32 at offset ", start);
    return static_cast<std::int32_t>(v);
  }
  float read_float(const Field& f) {
    expect(f, WireType::i32);
    return std::bit_cast<float>(read_fixed32());
  }
  double read_double(const Field& f) {
    expect(f, WireType::i64);
    return std::bit_cast<double>(read_fixed64());
  }
  std::span<const std::byte> read_bytes(const Field& f) {
    expect(f, WireType::len);
    return read_len();
  }
  std::string read_string(const Field& f) {
    const auto b = read_bytes(f);
    return std::string(reinterpret_cast<const char*>(b.data()), b.size());
  }
  // A reader over an embedded message; its errors still report offsets in the outer input.
  Reader read_message(const Field& f) {
    expect(f, WireType::len);
    const auto payload = read_len();
    return Reader(payload, offset() - payload.size());
  }

  // Repeated scalar fields. proto3 writes them packed (one len field holding the values back to
  // back), proto2 writes one field per value unless [packed = true]; a parser must accept both
  // forms for every repeated scalar, so each helper takes either and appends to `out`.
  void read_repeated_int64(const Field& f, std::vector<std::int64_t>& out) {
    if (f.type != WireType::len) {
      out.push_back(read_int64(f));
      return;
    }
    Reader packed = read_message(f);
    while (!packed.at_end()) out.push_back(static_cast<std::int64_t>(packed.read_varint()));
  }
  void read_repeated_uint64(const Field& f, std::vector<std::uint64_t>& out) {
    if (f.type != WireType::len) {
      out.push_back(read_uint64(f));
      return;
    }
    Reader packed = read_message(f);
    while (!packed.at_end()) out.push_back(packed.read_varint());
  }
  void read_repeated_int32(const Field& f, std::vector<std::int32_t>& out) {
    if (f.type != WireType::len) {
      out.push_back(read_int32(f));
      return;
    }
    Reader packed = read_message(f);
    const Field each{f.number, WireType::varint, f.offset};
    while (!packed.at_end()) out.push_back(packed.read_int32(each));
  }
  void read_repeated_float(const Field& f, std::vector<float>& out) {
    if (f.type != WireType::len) {
      out.push_back(read_float(f));
      return;
    }
    Reader packed = read_message(f);
    check(packed.remaining() % 4 == 0, "onnx: packed float field ", f.number, " at offset ",
          f.offset, " has ", packed.remaining(), " bytes, not a multiple of 4");
    out.reserve(out.size() + packed.remaining() / 4);
    while (!packed.at_end()) out.push_back(std::bit_cast<float>(packed.read_fixed32()));
  }
  void read_repeated_double(const Field& f, std::vector<double>& out) {
    if (f.type != WireType::len) {
      out.push_back(read_double(f));
      return;
    }
    Reader packed = read_message(f);
    check(packed.remaining() % 8 == 0, "onnx: packed double field ", f.number, " at offset ",
          f.offset, " has ", packed.remaining(), " bytes, not a multiple of 8");
    out.reserve(out.size() + packed.remaining() / 8);
    while (!packed.at_end()) out.push_back(std::bit_cast<double>(packed.read_fixed64()));
  }

 private:
  void expect(const Field& f, WireType want) const {
    check(f.type == want, "onnx: field ", f.number, " at offset ", f.offset, " has wire type ",
          name_of(f.type), ", expected ", name_of(want));
  }

  std::span<const std::byte> take(std::size_t n, std::string_view what) {
    check(n <= remaining(), "onnx: truncated ", what, " at offset ", offset(), " (needs ", n,
          " bytes, ", remaining(), " left)");
    const auto s = bytes_.subspan(pos_, n);
    pos_ += n;
    return s;
  }

  std::span<const std::byte> bytes_;
  std::size_t base_ = 0;
  std::size_t pos_ = 0;
};

// Appends fields to a byte vector. Embedded messages are written by the caller into their own
// vector first and then added with write_message, because the length prefix comes before the
// payload; the extra copy is bounded by the nesting depth.
class Writer {
 public:
  explicit Writer(std::vector<std::byte>& out) : out_(out) {}

  void write_varint(std::uint64_t v) {
    while (v >= 0x80u) {
      out_.push_back(static_cast<std::byte>((v & 0x7fu) | 0x80u));
      v >>= 7;
    }
    out_.push_back(static_cast<std::byte>(v));
  }
  void write_tag(std::uint32_t field, WireType type) {
    write_varint((std::uint64_t{field} << 3) | static_cast<std::uint64_t>(type));
  }
  void write_fixed32(std::uint32_t v) {
    for (int i = 0; i < 4; ++i) out_.push_back(static_cast<std::byte>((v >> (8 * i)) & 0xffu));
  }
  void write_fixed64(std::uint64_t v) {
    for (int i = 0; i < 8; ++i) out_.push_back(static_cast<std::byte>((v >> (8 * i)) & 0xffu));
  }

  // int64 and int32/enum fields: negative values are sign-extended to 64 bits (10 bytes), as
  // every protobuf writer does, so readers that treat the field as int64 see the same value.
  void write_int64(std::uint32_t field, std::int64_t v) {
    write_tag(field, WireType::varint);
    write_varint(static_cast<std::uint64_t>(v));
  }
  void write_uint64(std::uint32_t field, std::uint64_t v) {
    write_tag(field, WireType::varint);
    write_varint(v);
  }
  void write_float(std::uint32_t field, float v) {
    write_tag(field, WireType::i32);
    write_fixed32(std::bit_cast<std::uint32_t>(v));
  }
  void write_double(std::uint32_t field, double v) {
    write_tag(field, WireType::i64);
    write_fixed64(std::bit_cast<std::uint64_t>(v));
  }
  void write_bytes(std::uint32_t field, std::span<const std::byte> b) {
    write_tag(field, WireType::len);
    write_varint(b.size());
    out_.insert(out_.end(), b.begin(), b.end());
  }
  void write_string(std::uint32_t field, std::string_view s) {
    write_bytes(field, std::as_bytes(std::span<const char>(s.data(), s.size())));
  }
  void write_message(std::uint32_t field, const std::vector<std::byte>& payload) {
    write_bytes(field, payload);
  }

  // Packed repeated scalars. Nothing is written for an empty list: an absent repeated field and an
  // empty one are the same thing on the wire.
  void write_packed_int64(std::uint32_t field, std::span<const std::int64_t> values) {
    if (values.empty()) return;
    std::vector<std::byte> payload;
    Writer w(payload);
    for (const std::int64_t v : values) w.write_varint(static_cast<std::uint64_t>(v));
    write_message(field, payload);
  }
  void write_packed_float(std::uint32_t field, std::span<const float> values) {
    if (values.empty()) return;
    write_tag(field, WireType::len);
    write_varint(values.size() * 4);
    for (const float v : values) write_fixed32(std::bit_cast<std::uint32_t>(v));
  }

 private:
  std::vector<std::byte>& out_;
};

}  // namespace qnn::onnx::wire
