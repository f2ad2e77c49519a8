// Quantization schemes as types and as runtime values.
#include <doctest/doctest.h>

#include <cstdint>
#include <type_traits>

#include "qnn/core/quant_params.hpp"

using namespace qnn;

TEST_CASE("per-tensor: zero point range and symmetry are enforced") {
  CHECK(PerTensor<std::int8_t>(0.1f, -128).zero_point_at(0) == -128);
  CHECK(PerTensor<std::uint8_t>(0.1f, 255).zero_point_at(0) == 255);
  CHECK_THROWS_WITH_AS(PerTensor<std::int8_t>(0.1f, 128), doctest::Contains("zero point 128 is outside the int8 range"), error);
  CHECK_THROWS_WITH_AS(PerTensor<std::uint8_t>(0.1f, -1), doctest::Contains("outside the uint8 range"), error);
  CHECK_THROWS_WITH_AS(PerTensor<std::int8_t>(0.0f, 0), doctest::Contains("must be positive and finite"), error);
  CHECK_THROWS_WITH_AS(PerTensor<std::int8_t>(-1.0f, 0), doctest::Contains("must be positive"), error);
  // Symmetric schemes: the zero point is the midpoint of the storage range, a constant.
  using SymU8 = PerTensor<std::uint8_t, Pow2, Symmetry::symmetric>;
  CHECK(SymU8(Pow2{7}).zero_point_at(0) == 128);  // XINT8 activations
  CHECK_THROWS_WITH_AS(SymU8(Pow2{7}, 127), doctest::Contains("needs zero point 128"), error);
  CHECK(PerTensor<std::int16_t, float, Symmetry::symmetric>(0.5f).zero_point_at(0) == 0);
  static_assert(PerTensor<std::int8_t, float, Symmetry::symmetric>::symmetric);
  static_assert(!PerTensor<std::int8_t>::per_channel);
}

TEST_CASE("power-of-two scales") {
  CHECK(Pow2{3}.value() == 0.125f);
  CHECK(Pow2{-2}.value() == 4.0f);
  CHECK(to_pow2(0.125f).pos == 3);
  CHECK(to_pow2(8.0f).pos == -3);
  CHECK(is_pow2_scale(1.0f));
  CHECK_FALSE(is_pow2_scale(0.3f));
  CHECK_FALSE(is_pow2_scale(0.0f));
  CHECK_THROWS_WITH_AS(to_pow2(0.3f), doctest::Contains("not a power of two"), error);
}

TEST_CASE("per-channel: counts and zero points") {
  PerChannel<std::int8_t> q(0, {0.5f, 0.25f}, {1, -1});
  CHECK(q.channels() == 2);
  CHECK(q.zero_point_at(1) == -1);
  CHECK(q.scale_at(0) == 0.5f);
  CHECK_THROWS_WITH_AS(PerChannel<std::int8_t>(0, {0.5f, 0.25f}, {1}), doctest::Contains("2 scales but 1 zero points"), error);
  CHECK_THROWS_WITH_AS(PerChannel<std::int8_t>(0, {}, {}), doctest::Contains("at least one scale"), error);
  const auto b = broadcast_channels(PerTensor<std::int8_t>(0.5f, 3), 0, 4);
  CHECK(b.channels() == 4);
  CHECK(b.zero_point_at(3) == 3);
}

using U8Pow2 = PerTensor<std::uint8_t, Pow2>;
using I8SymChannels = PerChannel<std::int8_t, float, Symmetry::symmetric>;
using I8Pow2Channels = PerChannel<std::int8_t, Pow2>;

TEST_CASE("QuantInfo <-> typed schemes") {
  const QuantInfo pt{DType::u8, -1, {0.02f}, {128}};
  const auto a = as_params<PerTensor<std::uint8_t>>(pt, "conv1.input");
  CHECK(a.scale_at(0) == 0.02f);
  CHECK(a.zero_point_at(0) == 128);
  CHECK(to_info(a) == pt);
  CHECK_THROWS_WITH_AS(as_params<U8Pow2>(pt, "conv1.input"),
                       doctest::Contains("conv1.input: scale 0.02 is not a power of two"), error);
  CHECK_THROWS_WITH_AS(as_params<PerTensor<std::int16_t>>(pt, "conv1.input"),
                       doctest::Contains("expected int16 quantization, got uint8"), error);
  const QuantInfo pc{DType::i8, 0, {0.5f, 0.25f}, {0, 1}};
  CHECK_THROWS_WITH_AS(as_params<I8SymChannels>(pc, "w"),
                       doctest::Contains("needs zero point 0, got 1"), error);
  const auto p2 = as_params<I8Pow2Channels>(QuantInfo{DType::i8, 0, {0.5f, 0.25f}, {0, 0}}, "w");
  CHECK(p2.raw_scale_at(1).pos == 2);
  const QuantInfo broken{DType::i8, -1, {}, {}};
  CHECK_THROWS_WITH_AS(as_params<PerTensor<std::int8_t>>(broken, "t"), doctest::Contains("malformed"), error);
}
