// bf16 rounding (docs/numerics.md §3) and the DType table.
#include <doctest/doctest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>

#include "qnn/core/dtype.hpp"

using qnn::bf16;

namespace {
float from_bits(std::uint32_t u) { return std::bit_cast<float>(u); }
}  // namespace

TEST_CASE("bf16: exact values convert unchanged") {
  for (float f : {0.0f, -0.0f, 1.0f, -2.0f, 0.5f, 3.0f, 65280.0f, 1.0f / 1024})
    CHECK(bf16(f).to_float() == f);
  CHECK(bf16(-0.0f).bits == 0x8000);
}

TEST_CASE("bf16: rounds to nearest, ties to even (not truncation)") {
  // 1 + 2^-8 is exactly halfway between bf16 1.0 (0x3F80) and 1 + 2^-7 (0x3F81): tie -> even 0x3F80.
  CHECK(bf16(from_bits(0x3F808000u)).bits == 0x3F80);
  // 1 + 3·2^-8 is halfway between 0x3F81 and 0x3F82: tie -> even 0x3F82 (truncation gives 0x3F81).
  CHECK(bf16(from_bits(0x3F818000u)).bits == 0x3F82);
  // Just above the tie rounds up, just below rounds down.
  CHECK(bf16(from_bits(0x3F808001u)).bits == 0x3F81);
  CHECK(bf16(from_bits(0x3F807FFFu)).bits == 0x3F80);
  // Negative values mirror: the sign bit does not change the rounding of the magnitude.
  CHECK(bf16(from_bits(0xBF818000u)).bits == 0xBF82);
  CHECK(bf16(from_bits(0xBF808001u)).bits == 0xBF81);
  // 1/3 = 0x3EAAAAAB: dropped bits 0xAAAB > 0x8000 -> rounds up to 0x3EAB.
  CHECK(bf16(1.0f / 3.0f).bits == 0x3EAB);
}

TEST_CASE("bf16: overflow, infinities, NaN and subnormals") {
  const float max_f = std::numeric_limits<float>::max();  // 0x7F7FFFFF rounds past bf16's max
  CHECK(std::isinf(bf16(max_f).to_float()));
  CHECK(bf16(from_bits(0x7F7F7FFFu)).bits == 0x7F7F);  // largest value that stays finite
  CHECK(bf16(std::numeric_limits<float>::infinity()).bits == 0x7F80);
  CHECK(bf16(-std::numeric_limits<float>::infinity()).bits == 0xFF80);
  const bf16 n = bf16(std::numeric_limits<float>::quiet_NaN());
  CHECK(std::isnan(n.to_float()));
  // A signalling NaN whose payload lives only in the low 16 bits must not become infinity.
  const bf16 s = bf16(from_bits(0x7F800001u));
  CHECK(std::isnan(s.to_float()));
  CHECK((bf16(from_bits(0xFF800001u)).bits >> 15) == 1);  // sign kept
  // Subnormals round like everything else: 0x00018000 is a tie between 0x0001 and 0x0002 -> 0x0002.
  CHECK(bf16(from_bits(0x00018000u)).bits == 0x0002);
}

TEST_CASE("bf16: round_to_bf16 matches the constructor") {
  CHECK(qnn::round_to_bf16(1.0f / 3.0f) == bf16(1.0f / 3.0f).to_float());
}

TEST_CASE("dtype table") {
  using qnn::DType;
  CHECK(qnn::size_of(DType::f32) == 4);
  CHECK(qnn::size_of(DType::bf16) == 2);
  CHECK(qnn::size_of(DType::i8) == 1);
  CHECK(qnn::size_of(DType::u16) == 2);
  CHECK(qnn::size_of(DType::i64) == 8);
  CHECK(qnn::name_of(DType::u8) == "uint8");
  CHECK(qnn::dtype_of_v<const std::int16_t> == DType::i16);
  CHECK(qnn::is_quantized_storage(DType::u16));
  CHECK_FALSE(qnn::is_quantized_storage(DType::i32));
  static_assert(qnn::Int8Storage<std::uint8_t> && !qnn::Int8Storage<std::int16_t>);
  static_assert(qnn::QuantStorage<std::uint16_t> && !qnn::QuantStorage<std::int32_t>);
  CHECK(qnn::visit_dtype(DType::i16, [](auto v) { return sizeof(v); }) == 2);
}
