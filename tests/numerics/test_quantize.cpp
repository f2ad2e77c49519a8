// docs/numerics.md §2: QuantizeLinear / DequantizeLinear element rules.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <limits>

#include "qnn/numerics/quantize.hpp"

using namespace qnn;

TEST_CASE("quantize: ties round half to even on x / scale") {
  // scale 0.5: x = 0.25 -> 0.5 -> 0; 0.75 -> 1.5 -> 2; 1.25 -> 2.5 -> 2; -0.25 -> -0.5 -> 0; -0.75 -> -2
  CHECK(quantize_value<std::int8_t>(0.25f, 0.5f, 0) == 0);
  CHECK(quantize_value<std::int8_t>(0.75f, 0.5f, 0) == 2);
  CHECK(quantize_value<std::int8_t>(1.25f, 0.5f, 0) == 2);
  CHECK(quantize_value<std::int8_t>(-0.25f, 0.5f, 0) == 0);
  CHECK(quantize_value<std::int8_t>(-0.75f, 0.5f, 0) == -2);
  // The zero point is added after rounding: 1.25/0.5 = 2.5 -> 2, + 3 = 5 (not rne(5.5) = 6).
  CHECK(quantize_value<std::int8_t>(1.25f, 0.5f, 3) == 5);
  // Other tie rules (the DPU's): half up for activations, half away for weights.
  CHECK(quantize_value<std::int8_t>(1.25f, 0.5f, 0, Rounding::half_up) == 3);
  CHECK(quantize_value<std::int8_t>(-1.25f, 0.5f, 0, Rounding::half_up) == -2);
  CHECK(quantize_value<std::int8_t>(-1.25f, 0.5f, 0, Rounding::half_away) == -3);
}

TEST_CASE("quantize: x / scale is a division, not a multiply by 1/scale") {
  // 2.25f / 0.3f = 7.4999995f in fp32 (-> 7), while 2.25f · (1/0.3f) = 7.5f (-> 8 by rne).
  const float s = 0.3f;
  const float x = 2.25f;
  REQUIRE(x / s < 7.5f);
  REQUIRE(x * (1.0f / s) == 7.5f);
  CHECK(quantize_value<std::int8_t>(x, s, 0) == 7);
}

TEST_CASE("quantize: saturation both ways and zero points at the range ends") {
  CHECK(quantize_value<std::int8_t>(1000.0f, 1.0f, 0) == 127);
  CHECK(quantize_value<std::int8_t>(-1000.0f, 1.0f, 0) == -128);
  CHECK(quantize_value<std::int8_t>(0.0f, 1.0f, -128) == -128);
  CHECK(quantize_value<std::int8_t>(-1.0f, 1.0f, -128) == -128);  // saturates below
  CHECK(quantize_value<std::int8_t>(255.0f, 1.0f, -128) == 127);
  CHECK(quantize_value<std::int8_t>(256.0f, 1.0f, -128) == 127);
  CHECK(quantize_value<std::int8_t>(0.0f, 1.0f, 127) == 127);
  CHECK(quantize_value<std::int8_t>(-255.0f, 1.0f, 127) == -128);
  CHECK(quantize_value<std::uint8_t>(-3.0f, 1.0f, 0) == 0);
  CHECK(quantize_value<std::uint8_t>(0.0f, 0.1f, 255) == 255);
  CHECK(quantize_value<std::uint8_t>(-25.5f, 0.1f, 255) == 0);
  CHECK(quantize_value<std::uint8_t>(-25.4f, 0.1f, 255) == 1);
  CHECK(quantize_value<std::int16_t>(1e9f, 1.0f, 0) == 32767);
  CHECK(quantize_value<std::int16_t>(-2.5f, 1.0f, 0) == -2);
  CHECK(quantize_value<std::uint16_t>(70000.0f, 1.0f, 0) == 65535);
  // A huge quotient never reaches the integer conversion unclamped.
  CHECK(quantize_value<std::int8_t>(3e38f, 1e-30f, 0) == 127);
}

TEST_CASE("quantize: NaN and infinities") {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  CHECK(quantize_value<std::int8_t>(nan, 1.0f, 0) == -128);
  CHECK(quantize_value<std::uint8_t>(nan, 1.0f, 128) == 0);
  CHECK(quantize_value<std::int8_t>(inf, 1.0f, 0) == 127);
  CHECK(quantize_value<std::int8_t>(-inf, 1.0f, 0) == -128);
}

TEST_CASE("dequantize: (q - zp) * scale") {
  CHECK(dequantize_value<std::int8_t>(-128, 0.5f, 127) == -127.5f);
  CHECK(dequantize_value<std::uint8_t>(255, 0.25f, 0) == 63.75f);
  CHECK(dequantize_value<std::int16_t>(-32768, 1.0f, 32767) == -65535.0f);
  CHECK(dequantize_value<std::uint8_t>(10, 0.1f, 10) == 0.0f);
  // One rounding: 3 · 0.1f is the fp32 product, not 0.3.
  CHECK(dequantize_value<std::int8_t>(3, 0.1f, 0) == 3.0f * 0.1f);
}

TEST_CASE("quantize/dequantize spans with per-axis channels") {
  const float x[] = {1.0f, 2.0f, 3.0f, 4.0f, 5.0f, 6.0f};  // shape [2,3], axis 0
  std::int8_t q[6];
  const PerChannel<std::int8_t> qp(0, {1.0f, 0.5f}, {0, 1});
  quantize(std::span<const float>(x), qp, ChannelIndex{3, 2}, std::span<std::int8_t>(q));
  const std::int8_t expect[] = {1, 2, 3, 9, 11, 13};
  for (int i = 0; i < 6; ++i) CHECK(q[i] == expect[i]);
  float back[6];
  dequantize(std::span<const std::int8_t>(q), qp, ChannelIndex{3, 2}, std::span<float>(back));
  for (int i = 0; i < 6; ++i) CHECK(back[i] == x[i]);
  CHECK_THROWS_AS(quantize(std::span<const float>(x, 5), qp, ChannelIndex{3, 2}, std::span<std::int8_t>(q)), error);
}
