// Typed access to the little-endian bytes of TensorProto::data, and the reverse: building a
// TensorProto from typed values.
//
// tensor_values<T> requires the tensor's data type to be exactly T's (no silent conversion).
// tensor_values_f32 is the one converting reader, for test data and float weights: it accepts
// float32, float16 and bfloat16 (exact) and double (rounded to nearest float). ONNX conformance
// data holds many float16 and double tensors; qnn does not compute in those types, but a test or an
// importer may want their values as float.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include "qnn/core/dtype.hpp"
#include "qnn/core/error.hpp"
#include "qnn/onnx/data_type.hpp"
#include "qnn/onnx/proto_types.hpp"

namespace qnn::onnx {

// C++ element type -> ONNX data type, for the types tensor_values and make_tensor accept;
// undefined for any other type, which those functions reject at compile time.
template <class T> inline constexpr DataType data_type_of_v = DataType::undefined;
template <> inline constexpr DataType data_type_of_v<float> = DataType::float32;
template <> inline constexpr DataType data_type_of_v<double> = DataType::float64;
template <> inline constexpr DataType data_type_of_v<bf16> = DataType::bfloat16;
template <> inline constexpr DataType data_type_of_v<std::int8_t> = DataType::int8;
template <> inline constexpr DataType data_type_of_v<std::uint8_t> = DataType::uint8;
template <> inline constexpr DataType data_type_of_v<std::int16_t> = DataType::int16;
template <> inline constexpr DataType data_type_of_v<std::uint16_t> = DataType::uint16;
template <> inline constexpr DataType data_type_of_v<std::int32_t> = DataType::int32;
template <> inline constexpr DataType data_type_of_v<std::uint32_t> = DataType::uint32;
template <> inline constexpr DataType data_type_of_v<std::int64_t> = DataType::int64;
template <> inline constexpr DataType data_type_of_v<std::uint64_t> = DataType::uint64;
template <> inline constexpr DataType data_type_of_v<bool> = DataType::boolean;

namespace detail {

template <std::size_t N> struct unsigned_of_size;
template <> struct unsigned_of_size<1> { using type = std::uint8_t; };
template <> struct unsigned_of_size<2> { using type = std::uint16_t; };
template <> struct unsigned_of_size<4> { using type = std::uint32_t; };
template <> struct unsigned_of_size<8> { using type = std::uint64_t; };

// Assembled byte by byte, so the result does not depend on the host's byte order.
template <class T>
T load_le(const std::byte* p) {
  using U = typename unsigned_of_size<sizeof(T)>::type;
  U u = 0;
  for (std::size_t k = 0; k < sizeof(T); ++k) {
    u = static_cast<U>(u | (U{std::to_integer<std::uint8_t>(p[k])} << (8 * k)));
  }
  if constexpr (std::is_same_v<T, bool>) {
    return u != 0;
  } else {
    return std::bit_cast<T>(u);
  }
}

template <class T>
void store_le(std::vector<std::byte>& out, T v) {
  using U = typename unsigned_of_size<sizeof(T)>::type;
  const U u = std::bit_cast<U>(v);
  for (std::size_t k = 0; k < sizeof(T); ++k) {
    out.push_back(static_cast<std::byte>((u >> (8 * k)) & 0xffu));
  }
}

}  // namespace detail

template <class T>
std::vector<T> tensor_values(const TensorProto& t) {
  constexpr DataType want = data_type_of_v<T>;
  static_assert(want != DataType::undefined, "no ONNX data type for T");
  check(t.data_type == want, "onnx: tensor '", t.name, "' has data type ", t.data_type,
        ", not ", want);
  check(t.data.size() % sizeof(T) == 0, "onnx: tensor '", t.name, "' has ", t.data.size(),
        " bytes, not a whole number of ", want, " elements");
  std::vector<T> values(t.data.size() / sizeof(T));
  for (std::size_t k = 0; k < values.size(); ++k) {
    values[k] = detail::load_le<T>(t.data.data() + k * sizeof(T));
  }
  return values;
}

inline std::vector<float> tensor_values_f32(const TensorProto& t) {
  switch (t.data_type) {
    case DataType::float32: return tensor_values<float>(t);
    case DataType::float16: {
      check(t.data.size() % 2 == 0, "onnx: tensor '", t.name,
            "' has an odd number of float16 bytes");
      std::vector<float> values(t.data.size() / 2);
      for (std::size_t k = 0; k < values.size(); ++k) {
        values[k] = float16_to_float(detail::load_le<std::uint16_t>(t.data.data() + 2 * k));
      }
      return values;
    }
    case DataType::bfloat16: {
      const std::vector<bf16> raw = tensor_values<bf16>(t);
      std::vector<float> values(raw.size());
      for (std::size_t k = 0; k < raw.size(); ++k) values[k] = raw[k].to_float();
      return values;
    }
    case DataType::float64: {
      const std::vector<double> raw = tensor_values<double>(t);
      std::vector<float> values(raw.size());
      for (std::size_t k = 0; k < raw.size(); ++k) values[k] = static_cast<float>(raw[k]);
      return values;
    }
    default: break;
  }
  fail("onnx: tensor '", t.name, "' has data type ", t.data_type, ", which is not a float type");
}

// A tensor of `values` with shape `dims`; the count must match the dims.
template <class T>
TensorProto make_tensor(std::string name, std::vector<std::int64_t> dims,
                        const std::vector<T>& values) {
  static_assert(data_type_of_v<T> != DataType::undefined, "no ONNX data type for T");
  TensorProto t;
  t.name = std::move(name);
  t.dims = std::move(dims);
  t.data_type = data_type_of_v<T>;
  t.data.reserve(values.size() * sizeof(T));
  for (const T v : values) {
    if constexpr (std::is_same_v<T, bool>) {
      t.data.push_back(std::byte{v ? std::uint8_t{1} : std::uint8_t{0}});
    } else {
      detail::store_le(t.data, v);
    }
  }
  check_tensor_consistent(t);
  return t;
}

}  // namespace qnn::onnx
