// docs/numerics.md §1: the three tie rules, integer shifts, saturation.
#include <doctest/doctest.h>

#include <cstdint>
#include <limits>

#include "qnn/numerics/rounding.hpp"

using namespace qnn;

TEST_CASE("float rounding: ties") {
  struct Row { double x, even, up, away; };
  const Row rows[] = {
      {0.5, 0, 1, 1},    {1.5, 2, 2, 2},    {2.5, 2, 3, 3},    {-0.5, 0, 0, -1},
      {-1.5, -2, -1, -2}, {-2.5, -2, -2, -3}, {0.49999997, 0, 0, 0}, {-0.50000001, -1, -1, -1},
      {3.0, 3, 3, 3},    {-7.25, -7, -7, -7}, {1e10 + 0.5, 1e10, 1e10 + 1, 1e10 + 1},
  };
  for (const Row& r : rows) {
    CAPTURE(r.x);
    CHECK(round_half_even(r.x) == r.even);
    CHECK(round_half_up(r.x) == r.up);
    CHECK(round_half_away(r.x) == r.away);
    CHECK(round_with(Rounding::half_even, r.x) == r.even);
    CHECK(round_with(Rounding::half_up, r.x) == r.up);
    CHECK(round_with(Rounding::half_away, r.x) == r.away);
  }
}

TEST_CASE("integer shift right: ties for each rule, negative values") {
  // x / 2^s: 5/2 = 2.5, -5/2 = -2.5, 7/2 = 3.5, -7/2 = -3.5, -5/4 = -1.25, -6/4 = -1.5
  CHECK(shift_right_rounded(5, 1, Rounding::half_even) == 2);
  CHECK(shift_right_rounded(5, 1, Rounding::half_up) == 3);
  CHECK(shift_right_rounded(5, 1, Rounding::half_away) == 3);
  CHECK(shift_right_rounded(-5, 1, Rounding::half_even) == -2);
  CHECK(shift_right_rounded(-5, 1, Rounding::half_up) == -2);
  CHECK(shift_right_rounded(-5, 1, Rounding::half_away) == -3);
  CHECK(shift_right_rounded(7, 1, Rounding::half_even) == 4);
  CHECK(shift_right_rounded(-7, 1, Rounding::half_even) == -4);
  CHECK(shift_right_rounded(-5, 2, Rounding::half_up) == -1);
  CHECK(shift_right_rounded(-6, 2, Rounding::half_up) == -1);
  CHECK(shift_right_rounded(-6, 2, Rounding::half_away) == -2);
  CHECK(shift_right_rounded(-7, 2, Rounding::half_up) == -2);  // -1.75
  CHECK(shift_right_rounded(123, 0, Rounding::half_up) == 123);
  const std::int64_t big = std::int64_t{1} << 50;
  CHECK(shift_right_rounded(big + (std::int64_t{1} << 19), 20, Rounding::half_even) == (std::int64_t{1} << 30));
  CHECK(shift_right_rounded(big + (std::int64_t{3} << 19), 20, Rounding::half_even) == (std::int64_t{1} << 30) + 2);
}

TEST_CASE("integer shift left saturates") {
  CHECK(shift_left_saturating(3, 4) == 48);
  CHECK(shift_left_saturating(-3, 4) == -48);
  CHECK(shift_left_saturating(std::int64_t{1} << 62, 2) == std::numeric_limits<std::int64_t>::max());
  CHECK(shift_left_saturating(-(std::int64_t{1} << 62), 2) == std::numeric_limits<std::int64_t>::min());
  CHECK(shift_left_saturating(0, 70) == 0);
}

TEST_CASE("saturate to storage types") {
  CHECK(saturate<std::int8_t>(200) == 127);
  CHECK(saturate<std::int8_t>(-200) == -128);
  CHECK(saturate<std::uint8_t>(-1) == 0);
  CHECK(saturate<std::uint8_t>(256) == 255);
  CHECK(saturate<std::int16_t>(40000) == 32767);
  CHECK(saturate<std::int32_t>(std::int64_t{1} << 40) == std::numeric_limits<std::int32_t>::max());
  CHECK(saturate<std::int8_t>(-5) == -5);
}
