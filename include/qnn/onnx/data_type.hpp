// ONNX element types (TensorProto.DataType) and how they map onto qnn::DType.
//
// The integer a file carries is kept as is: DataType has int32 as its fixed underlying type, so a
// value this header does not name (a type added by a newer ONNX) survives parsing and
// serialization unchanged and is only rejected when someone needs its data.
//
// Three levels of support, stated once here:
//   1. qnn computes with: float32, bfloat16, int8, uint8, int16, uint16, int32, int64, bool —
//      exactly the types to_dtype() maps to a qnn::DType.
//   2. the reader decodes into a little-endian byte buffer but qnn does not compute with: float16,
//      double, uint32, uint64, complex64, complex128 and the 8-bit floats. Their data is parsed
//      (ONNX conformance data is full of float16 and double tensors) so an importer may convert
//      them; tensor_values.hpp converts float16 and double to float32 for reading test data.
//   3. the reader rejects when a tensor holds them: undefined, string, the packed 4- and 2-bit
//      types and any value not named below. element_size() is 0 for exactly these.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>

#include "qnn/core/dtype.hpp"
#include "qnn/core/error.hpp"

namespace qnn::onnx {

// onnx.proto: message TensorProto { enum DataType }.
enum class DataType : std::int32_t {
  undefined = 0,
  float32 = 1,
  uint8 = 2,
  int8 = 3,
  uint16 = 4,
  int16 = 5,
  int32 = 6,
  int64 = 7,
  string = 8,
  boolean = 9,
  float16 = 10,
  float64 = 11,
  uint32 = 12,
  uint64 = 13,
  complex64 = 14,
  complex128 = 15,
  bfloat16 = 16,
  float8e4m3fn = 17,
  float8e4m3fnuz = 18,
  float8e5m2 = 19,
  float8e5m2fnuz = 20,
  uint4 = 21,
  int4 = 22,
  float4e2m1 = 23,
  float8e8m0 = 24,
  uint2 = 25,
  int2 = 26,
};

constexpr std::string_view name_of(DataType t) {
  switch (t) {
    case DataType::undefined: return "undefined";
    case DataType::float32: return "float32";
    case DataType::uint8: return "uint8";
    case DataType::int8: return "int8";
    case DataType::uint16: return "uint16";
    case DataType::int16: return "int16";
    case DataType::int32: return "int32";
    case DataType::int64: return "int64";
    case DataType::string: return "string";
    case DataType::boolean: return "bool";
    case DataType::float16: return "float16";
    case DataType::float64: return "double";
    case DataType::uint32: return "uint32";
    case DataType::uint64: return "uint64";
    case DataType::complex64: return "complex64";
    case DataType::complex128: return "complex128";
    case DataType::bfloat16: return "bfloat16";
    case DataType::float8e4m3fn: return "float8e4m3fn";
    case DataType::float8e4m3fnuz: return "float8e4m3fnuz";
    case DataType::float8e5m2: return "float8e5m2";
    case DataType::float8e5m2fnuz: return "float8e5m2fnuz";
    case DataType::uint4: return "uint4";
    case DataType::int4: return "int4";
    case DataType::float4e2m1: return "float4e2m1";
    case DataType::float8e8m0: return "float8e8m0";
    case DataType::uint2: return "uint2";
    case DataType::int2: return "int2";
  }
  return "unknown";
}

// "float16 (10)": the name and the integer, so an unknown value is still identifiable.
inline std::ostream& operator<<(std::ostream& os, DataType t) {
  return os << name_of(t) << " (" << static_cast<std::int32_t>(t) << ")";
}

// Bytes per element in the decoded little-endian buffer; 0 when the reader cannot decode the type
// (level 3 above). Complex types are two floats (or doubles), real part first.
constexpr std::size_t element_size(DataType t) {
  switch (t) {
    case DataType::uint8:
    case DataType::int8:
    case DataType::boolean:
    case DataType::float8e4m3fn:
    case DataType::float8e4m3fnuz:
    case DataType::float8e5m2:
    case DataType::float8e5m2fnuz:
    case DataType::float8e8m0: return 1;
    case DataType::uint16:
    case DataType::int16:
    case DataType::float16:
    case DataType::bfloat16: return 2;
    case DataType::float32:
    case DataType::int32:
    case DataType::uint32: return 4;
    case DataType::int64:
    case DataType::float64:
    case DataType::uint64:
    case DataType::complex64: return 8;
    case DataType::complex128: return 16;
    case DataType::undefined:
    case DataType::string:
    case DataType::uint4:
    case DataType::int4:
    case DataType::float4e2m1:
    case DataType::uint2:
    case DataType::int2: return 0;
  }
  return 0;
}

// The qnn::DType qnn computes with, or nullopt for every other ONNX type.
constexpr std::optional<DType> to_dtype(DataType t) {
  switch (t) {
    case DataType::float32: return DType::f32;
    case DataType::bfloat16: return DType::bf16;
    case DataType::int8: return DType::i8;
    case DataType::uint8: return DType::u8;
    case DataType::int16: return DType::i16;
    case DataType::uint16: return DType::u16;
    case DataType::int32: return DType::i32;
    case DataType::int64: return DType::i64;
    case DataType::boolean: return DType::boolean;
    default: return std::nullopt;
  }
}

constexpr DataType to_data_type(DType t) {
  switch (t) {
    case DType::f32: return DataType::float32;
    case DType::bf16: return DataType::bfloat16;
    case DType::i8: return DataType::int8;
    case DType::u8: return DataType::uint8;
    case DType::i16: return DataType::int16;
    case DType::u16: return DataType::uint16;
    case DType::i32: return DataType::int32;
    case DType::i64: return DataType::int64;
    case DType::boolean: return DataType::boolean;
  }
  return DataType::undefined;
}

// to_dtype() or a qnn::error naming `what` (a tensor or value name) and the ONNX type.
inline DType require_dtype(DataType t, std::string_view what) {
  const std::optional<DType> d = to_dtype(t);
  if (!d) fail("onnx: '", what, "' has data type ", t, ", which qnn does not support");
  return *d;
}

// IEEE 754 binary16 -> binary32, exact (every half value is a float value). Written from the
// format: 1 sign bit, 5 exponent bits (bias 15), 10 fraction bits.
constexpr float float16_to_float(std::uint16_t h) {
  const std::uint32_t sign = std::uint32_t{h & 0x8000u} << 16;
  const std::uint32_t exponent = (h >> 10) & 0x1fu;
  const std::uint32_t fraction = h & 0x3ffu;
  if (exponent == 0x1f) {
    // Inf or NaN; the NaN payload moves to the top of the float fraction.
    return std::bit_cast<float>(sign | 0x7f800000u | (fraction << 13));
  }
  if (exponent != 0) {
    // Normal: rebias 15 -> 127.
    return std::bit_cast<float>(sign | ((exponent + 112u) << 23) | (fraction << 13));
  }
  // Zero or subnormal: fraction * 2^-24, exact in float.
  const float magnitude = static_cast<float>(fraction) * 0x1p-24f;
  return sign != 0 ? -magnitude : magnitude;
}

}  // namespace qnn::onnx
