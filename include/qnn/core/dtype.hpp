// Element types: the runtime tag (DType), the bf16 storage type, and the C++ <-> DType mapping.
//
// bf16 rounds to nearest even when made from a float. Highway 1.0.3's BF16FromF32 and
// DemoteTo(bf16) truncate instead, so qnn never uses them for conversion; PyTorch, ONNX Runtime and
// the AVX512-BF16 vcvtneps2bf16 instruction all round to nearest even, and so does qnn.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string_view>
#include <type_traits>

#include "qnn/core/error.hpp"

namespace qnn {

// Brain float: the upper 16 bits of an IEEE binary32.
struct bf16 {
  std::uint16_t bits = 0;

  constexpr bf16() = default;
  // Round to nearest, ties to even. NaN stays NaN (quiet, sign kept); values past the largest
  // finite bf16 round to infinity exactly as IEEE rounding demands.
  explicit constexpr bf16(float f) : bits(from_float_bits(std::bit_cast<std::uint32_t>(f))) {}

  static constexpr bf16 from_bits(std::uint16_t b) {
    bf16 r;
    r.bits = b;
    return r;
  }
  constexpr float to_float() const { return std::bit_cast<float>(std::uint32_t{bits} << 16); }
  explicit constexpr operator float() const { return to_float(); }

  friend constexpr bool operator==(bf16 a, bf16 b) { return a.bits == b.bits; }

 private:
  static constexpr std::uint16_t from_float_bits(std::uint32_t u) {
    if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<std::uint16_t>((u >> 16) | 0x0040u);
    const std::uint32_t lsb = (u >> 16) & 1u;
    return static_cast<std::uint16_t>((u + 0x7fffu + lsb) >> 16);
  }
};

// float -> bf16 -> float: the value a bf16 kernel actually sees.
constexpr float round_to_bf16(float f) { return bf16(f).to_float(); }

enum class DType : std::uint8_t { f32, bf16, i8, u8, i16, u16, i32, i64, boolean };

constexpr std::size_t size_of(DType t) {
  switch (t) {
    case DType::f32: return 4;
    case DType::bf16: return 2;
    case DType::i8: return 1;
    case DType::u8: return 1;
    case DType::i16: return 2;
    case DType::u16: return 2;
    case DType::i32: return 4;
    case DType::i64: return 8;
    case DType::boolean: return 1;
  }
  return 0;
}

constexpr std::string_view name_of(DType t) {
  switch (t) {
    case DType::f32: return "float32";
    case DType::bf16: return "bfloat16";
    case DType::i8: return "int8";
    case DType::u8: return "uint8";
    case DType::i16: return "int16";
    case DType::u16: return "uint16";
    case DType::i32: return "int32";
    case DType::i64: return "int64";
    case DType::boolean: return "bool";
  }
  return "?";
}

inline std::ostream& operator<<(std::ostream& os, DType t) { return os << name_of(t); }

constexpr bool is_integer(DType t) {
  return t == DType::i8 || t == DType::u8 || t == DType::i16 || t == DType::u16 ||
         t == DType::i32 || t == DType::i64;
}
// The dtypes a quantized tensor may be stored in.
constexpr bool is_quantized_storage(DType t) {
  return t == DType::i8 || t == DType::u8 || t == DType::i16 || t == DType::u16;
}

// C++ type -> DType.
template <class T> struct dtype_of;
template <> struct dtype_of<float> { static constexpr DType value = DType::f32; };
template <> struct dtype_of<bf16> { static constexpr DType value = DType::bf16; };
template <> struct dtype_of<std::int8_t> { static constexpr DType value = DType::i8; };
template <> struct dtype_of<std::uint8_t> { static constexpr DType value = DType::u8; };
template <> struct dtype_of<std::int16_t> { static constexpr DType value = DType::i16; };
template <> struct dtype_of<std::uint16_t> { static constexpr DType value = DType::u16; };
template <> struct dtype_of<std::int32_t> { static constexpr DType value = DType::i32; };
template <> struct dtype_of<std::int64_t> { static constexpr DType value = DType::i64; };
template <> struct dtype_of<bool> { static constexpr DType value = DType::boolean; };
template <class T> inline constexpr DType dtype_of_v = dtype_of<std::remove_const_t<T>>::value;

// Storage types of quantized values. Kernels constrain their template parameters with these, so
// an int16 tensor handed to an int8-only kernel does not compile.
template <class T>
concept Int8Storage = std::same_as<T, std::int8_t> || std::same_as<T, std::uint8_t>;
template <class T>
concept Int16Storage = std::same_as<T, std::int16_t> || std::same_as<T, std::uint16_t>;
template <class T>
concept QuantStorage = Int8Storage<T> || Int16Storage<T>;

// Calls f(T{}) with the C++ type of a runtime DType; the usual way to go from a type-erased
// tensor to a typed kernel.
template <class F>
decltype(auto) visit_dtype(DType t, F&& f) {
  switch (t) {
    case DType::f32: return f(float{});
    case DType::bf16: return f(bf16{});
    case DType::i8: return f(std::int8_t{});
    case DType::u8: return f(std::uint8_t{});
    case DType::i16: return f(std::int16_t{});
    case DType::u16: return f(std::uint16_t{});
    case DType::i32: return f(std::int32_t{});
    case DType::i64: return f(std::int64_t{});
    case DType::boolean: return f(bool{});
  }
  fail("invalid dtype tag ", static_cast<int>(t));
}

}  // namespace qnn
