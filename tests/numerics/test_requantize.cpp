// docs/numerics.md §4: the four requantization policies, hand-derived.
#include <doctest/doctest.h>

#include <cstdint>
#include <limits>
#include <vector>

#include "qnn/numerics/requantize.hpp"

using namespace qnn;

namespace {
constexpr std::int32_t kI32Min = std::numeric_limits<std::int32_t>::min();
constexpr std::int32_t kI32Max = std::numeric_limits<std::int32_t>::max();

// Requantizes acc with ratio {s_x, s_w}/{s_y} into int8 with zero point zp under policy P.
template <class P>
std::int32_t rq(std::int32_t acc, float sx, float sw, float sy, std::int32_t zp = 0) {
  const std::vector<float> sws{sw};
  const auto st = make_output_stage<P, std::int8_t>(sx, sws, sy, zp);
  return st(acc, 0);
}
}  // namespace

TEST_CASE("the tie table: 2.5 and -2.5 LSB under each policy") {
  // acc · 0.25 with acc = ±10 is exactly ±2.5; acc = ±6 is ±1.5; acc = 5 is 1.25.
  const float sx = 0.5f, sw = 0.5f, sy = 1.0f;
  CHECK(rq<OnnxFloat>(10, sx, sw, sy) == 2);
  CHECK(rq<OnnxFloat>(-10, sx, sw, sy) == -2);
  CHECK(rq<OnnxFloat>(6, sx, sw, sy) == 2);
  CHECK(rq<OnnxFloat>(-6, sx, sw, sy) == -2);
  CHECK(rq<OnnxFloat>(5, sx, sw, sy) == 1);
  // TFLite double rounding: SRDHM (ties up) then RDBPOT (ties away).
  CHECK(rq<TfliteDoubleRound>(10, sx, sw, sy) == 3);
  CHECK(rq<TfliteDoubleRound>(-10, sx, sw, sy) == -3);
  CHECK(rq<TfliteDoubleRound>(6, sx, sw, sy) == 2);
  CHECK(rq<TfliteDoubleRound>(-6, sx, sw, sy) == -2);
  // The double-rounding artefact: 1.25 -> SRDHM gives 2.5 -> 3, RDBPOT(3, 1) = 1.5 -> 2.
  CHECK(rq<TfliteDoubleRound>(5, sx, sw, sy) == 2);
  // TFLite single rounding: one rounding, ties toward +inf.
  CHECK(rq<TfliteSingleRound>(10, sx, sw, sy) == 3);
  CHECK(rq<TfliteSingleRound>(-10, sx, sw, sy) == -2);
  CHECK(rq<TfliteSingleRound>(5, sx, sw, sy) == 1);
  CHECK(rq<TfliteSingleRound>(-6, sx, sw, sy) == -1);
  // DPU: shift 2 (pos 1 + 1 − 0), half up.
  CHECK(rq<NpuPow2>(10, sx, sw, sy) == 3);
  CHECK(rq<NpuPow2>(-10, sx, sw, sy) == -2);
  CHECK(rq<NpuPow2>(-6, sx, sw, sy) == -1);
  CHECK(rq<NpuPow2>(5, sx, sw, sy) == 1);
  CHECK(rq<NpuPow2>(-7, sx, sw, sy) == -2);  // -1.75
}

TEST_CASE("saturation both ways, zero points, fused ranges") {
  CHECK(rq<OnnxFloat>(1000, 1.0f, 1.0f, 1.0f) == 127);
  CHECK(rq<OnnxFloat>(-1000, 1.0f, 1.0f, 1.0f) == -128);
  CHECK(rq<OnnxFloat>(0, 1.0f, 1.0f, 1.0f, -128) == -128);
  CHECK(rq<OnnxFloat>(-1, 1.0f, 1.0f, 1.0f, -128) == -128);
  CHECK(rq<OnnxFloat>(255, 1.0f, 1.0f, 1.0f, -128) == 127);
  CHECK(rq<OnnxFloat>(256, 1.0f, 1.0f, 1.0f, -128) == 127);
  for (std::int32_t acc : {kI32Max, kI32Min}) {
    CAPTURE(acc);
    const std::int32_t expect = acc > 0 ? 127 : -128;
    CHECK(rq<OnnxFloat>(acc, 1.0f, 1.0f, 1.0f) == expect);
    CHECK(rq<TfliteDoubleRound>(acc, 1.0f, 1.0f, 1.0f) == expect);
    CHECK(rq<TfliteSingleRound>(acc, 1.0f, 1.0f, 1.0f) == expect);
    CHECK(rq<NpuPow2>(acc, 1.0f, 1.0f, 1.0f) == expect);
    CHECK(rq<NpuPow2>(acc, 1.0f, 1.0f, 0.25f) == expect);  // left shift by 2, saturated
    CHECK(rq<TfliteDoubleRound>(acc, 1.0f, 1.0f, 0.25f) == expect);  // m = 4: saturating left shift
  }
  // Fused ReLU: lo = zp. Fused Clip(−1, 2) at s_y = 0.5, zp = 10: [8, 14].
  const std::vector<float> one{1.0f};
  const auto relu = make_output_stage<OnnxFloat, std::int8_t>(1.0f, one, 0.5f, 10, ActivationClamp::relu());
  CHECK(relu.range.lo == 10);
  CHECK(relu(-30, 0) == 10);
  CHECK(relu(30, 0) == 70);
  const auto clip = make_output_stage<OnnxFloat, std::int8_t>(1.0f, one, 0.5f, 10, ActivationClamp::clip(-1.0f, 2.0f));
  CHECK(clip.range.lo == 8);
  CHECK(clip.range.hi == 14);
  CHECK(clip(-30, 0) == 8);
  CHECK(clip(30, 0) == 14);
  CHECK(clip(1, 0) == 12);
  // Clip bounds quantize with rne: 0.75/0.5 = 1.5 -> 2, + 10.
  const auto clip2 = make_output_stage<OnnxFloat, std::int8_t>(1.0f, one, 0.5f, 10, ActivationClamp::clip(-100.0f, 0.75f));
  CHECK(clip2.range.hi == 12);
  CHECK(clip2.range.lo == -128);
  CHECK_THROWS_AS((make_output_stage<OnnxFloat, std::int8_t>(1.0f, one, 0.5f, 200)), error);
}

TEST_CASE("onnx_float: fp32 multiplier order and fp32 accumulator conversion") {
  // ORT computes X_scale * W_scale / Y_scale in fp32, left to right.
  const float sx = 0.1f, sw = 0.3f, sy = 0.7f;
  CHECK(OnnxFloat::make(ScaleRatio({sx, sw}, {sy})).multiplier == (sx * sw) / sy);
  // float(acc) rounds: 2^24 + 1 becomes 2^24 before the multiply.
  const OnnxFloat::Channel unit{1.0f};
  CHECK(OnnxFloat::apply(16777217, unit, 0, -(1 << 30), 1 << 30) == 16777216);
  CHECK(OnnxFloat::apply(std::int64_t{16777217}, unit, 0, -(1 << 30), 1 << 30) == 16777216);
}

TEST_CASE("TFLite QuantizeMultiplier") {
  CHECK(quantize_multiplier(0.5, false) == Q31{1073741824, 0});
  CHECK(quantize_multiplier(0.75, false) == Q31{1610612736, 0});
  CHECK(quantize_multiplier(1.0, false) == Q31{1073741824, 1});
  CHECK(quantize_multiplier(0.1, false) == Q31{1717986918, -3});  // 0.8·2^31 = 1717986918.4
  CHECK(quantize_multiplier(0.0, false) == Q31{0, 0});
  // q·2^31 rounds up to 2^31: renormalized to 2^30 with shift + 1.
  CHECK(quantize_multiplier(1.0 - 1e-12, false) == Q31{1073741824, 1});
  // Below 2^-32 the multiplier flushes to zero.
  CHECK(quantize_multiplier(0x1p-40, false) == Q31{0, 0});
  // Single rounding caps the left shift at 30.
  CHECK(quantize_multiplier(0x1p40, true) == Q31{kI32Max, 30});
  CHECK(quantize_multiplier(0x1p40, false) == Q31{1073741824, 41});
  CHECK_THROWS_AS(quantize_multiplier(-1.0, false), error);
}

TEST_CASE("gemmlowp primitives") {
  const std::int32_t half = 1 << 30;  // 0.5 in Q31
  CHECK(saturating_rounding_doubling_high_mul(3, half) == 2);    // 1.5 -> 2
  CHECK(saturating_rounding_doubling_high_mul(-3, half) == -1);  // -1.5 -> -1 (ties up)
  CHECK(saturating_rounding_doubling_high_mul(-5, half) == -2);  // -2.5 -> -2
  CHECK(saturating_rounding_doubling_high_mul(-4, half) == -2);
  CHECK(saturating_rounding_doubling_high_mul(kI32Min, kI32Min) == kI32Max);
  CHECK(saturating_rounding_doubling_high_mul(kI32Max, kI32Max) == kI32Max - 1);
  CHECK(saturating_rounding_doubling_high_mul(kI32Min, kI32Max) == kI32Min + 1);
  CHECK(rounding_divide_by_pot(3, 1) == 2);    // 1.5 -> 2
  CHECK(rounding_divide_by_pot(-3, 1) == -2);  // -1.5 -> -2 (away)
  CHECK(rounding_divide_by_pot(-5, 2) == -1);  // -1.25
  CHECK(rounding_divide_by_pot(-6, 2) == -2);  // -1.5
  CHECK(rounding_divide_by_pot(kI32Min, 31) == -1);
  CHECK(rounding_divide_by_pot(kI32Max, 31) == 1);
  CHECK(multiply_by_q31_double(5, Q31{half, -1}) == 2);
  CHECK(multiply_by_q31_single(5, Q31{half, -1}) == 1);
  // Left shift larger than int32 saturates before the multiply (TFLite would overflow).
  CHECK(multiply_by_q31_double(1 << 30, Q31{half, 4}) == kI32Max / 2 + 1);
}

TEST_CASE("int64 accumulators (A16W8)") {
  // TFLite 16x8: multiplier reduced to 16 bits, one rounding, ties up.
  const Q31 quarter{1 << 30, -1};  // 0.25
  CHECK(multiply_by_q31_wide(10, quarter) == 3);
  CHECK(multiply_by_q31_wide(-10, quarter) == -2);
  CHECK(multiply_by_q31_wide(std::int64_t{1} << 32, quarter) == (1 << 30));
  CHECK(multiply_by_q31_wide(std::int64_t{1} << 40, quarter) == kI32Max);  // saturates
  // The reduction is visible: 0.1 -> M16 = (1717986918 + 2^15) >> 16 = 26214, real 0.099998...
  const Q31 tenth = quantize_multiplier(0.1, false);
  CHECK(multiply_by_q31_wide(1000000, tenth) == 99998);  // 1e6·26214/2^18 = 99998.47; exact 0.1 gives 100000
  const std::vector<float> one{1.0f};
  const auto st = make_output_stage<TfliteDoubleRound, std::int16_t>(0.5f, one, 1.0f, 0);
  CHECK(st(std::int64_t{10}, 0) == 5);
  CHECK(st(std::int64_t{1} << 40, 0) == 32767);
  const auto np = make_output_stage<NpuPow2, std::int16_t>(0.5f, one, 1.0f, 0);
  CHECK(np(std::int64_t{-3}, 0) == -1);  // -1.5 -> -1
}

TEST_CASE("npu_pow2 needs power-of-two scales") {
  CHECK_THROWS_WITH_AS(NpuPow2::make(ScaleRatio({0.3f, 0.5f}, {1.0f})), doctest::Contains("not a power of two"), error);
  CHECK(NpuPow2::make(ScaleRatio({0.125f, 0.25f}, {0.5f})).shift == 4);   // 3 + 2 − 1
  CHECK(NpuPow2::make(ScaleRatio({1.0f, 1.0f}, {0.25f})).shift == -2);    // left shift
  CHECK_THROWS_AS(ScaleRatio({0.0f}, {1.0f}), error);
}

TEST_CASE("rescale stage (Requantize, Concat)") {
  const auto st = make_rescale_stage<OnnxFloat, std::uint8_t>(0.5f, 0.25f, 128);
  CHECK(st(3, 0) == 134);
  CHECK(st(-100, 0) == 0);
  CHECK(visit_policy(RequantPolicy::npu_pow2, [](auto p) { return decltype(p)::policy; }) == RequantPolicy::npu_pow2);
  CHECK(name_of(RequantPolicy::tflite_single_round) == "tflite-single-round");
}
