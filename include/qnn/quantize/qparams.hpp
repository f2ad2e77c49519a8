// From a calibrated real range to quantization parameters (scale, zero point), for each kind of
// target the configurations use (docs/quantization.md):
//   asymmetric   [rmin, rmax] ∪ {0} mapped onto [qmin, qmax]: s = (rmax − rmin)/(qmax − qmin),
//                zp = rne(qmin − rmin/s), clamped to [qmin, qmax]  (ONNX Runtime's rule)
//   symmetric    signed: s = max(|rmin|, |rmax|)/qmax_sym with the range [−qmax, qmax]
//                (int8: [−127, 127], as ONNX Runtime and Quark store weights), zp = 0;
//                with `reduced` (ONNX Runtime's reduce_range: 7-bit weights) int8 is [−64, 64]
//                unsigned (XINT8 activations): zp = 2^(bits−1), s = absmax / (2^(bits−1) − 1)
//   power of two s rounded up to 2^⌈log2 s⌉ (so the calibrated range is never clipped further),
//                or chosen by a pow2 method directly (pos given).
// A degenerate range (all values zero) gets scale 1 — any scale represents 0 exactly. So does a range
// so small that its scale would be below FLT_MIN (zero or subnormal, which flush-to-zero SIMD code
// reads as 0): ONNX Runtime's and Quark's rule (`scale < finfo.tiny`); every value then maps to zp.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

#include "qnn/core/dtype.hpp"
#include "qnn/core/error.hpp"
#include "qnn/numerics/rounding.hpp"

namespace qnn::quant {

struct QuantTarget {
  DType storage = DType::u8;  // u8, i8, u16, i16
  bool symmetric = false;
  bool pow2 = false;
  // ONNX Runtime's reduce_range: int8 on [−64, 64], uint8 on [0, 127]. With 7-bit weights no pair of
  // u8×s8 products overflows int16 (2·255·64 < 2^15), so ORT's `vpmaddubsw` kernels on CPUs without
  // VNNI compute them exactly; qnn's kernels are exact either way.
  bool reduced = false;

  std::int32_t qmin() const {
    check_reduced();
    switch (storage) {
      case DType::u8: return 0;
      case DType::i8: return reduced ? -64 : symmetric ? -127 : -128;
      case DType::u16: return 0;
      case DType::i16: return symmetric ? -32767 : -32768;
      default: fail("quantization target must be u8, i8, u16 or i16, got ", storage);
    }
  }
  std::int32_t qmax() const {
    check_reduced();
    switch (storage) {
      case DType::u8: return reduced ? 127 : 255;
      case DType::i8: return reduced ? 64 : 127;
      case DType::u16: return 65535;
      case DType::i16: return 32767;
      default: fail("quantization target must be u8, i8, u16 or i16, got ", storage);
    }
  }
  void check_reduced() const {
    if (reduced) check(storage == DType::i8 || storage == DType::u8, "a reduced range needs int8 or uint8, got ", storage);
  }
  bool is_signed() const { return storage == DType::i8 || storage == DType::i16; }
  // Symmetric unsigned storage centres on 2^(bits−1): 128 for uint8 (XINT8), 32768 for uint16.
  std::int32_t symmetric_zero_point() const {
    return is_signed() ? 0 : (storage == DType::u8 ? 128 : 32768);
  }
  // Largest |q − zp| a symmetric scheme uses on both sides.
  std::int32_t symmetric_levels() const {
    return is_signed() ? qmax() : symmetric_zero_point() - 1;
  }
};

struct QParams {
  float scale = 1.0f;
  std::int32_t zero_point = 0;
};

// 2^⌈log2 s⌉ (as a float, exact).
inline float pow2_ceil(float s) {
  int e = 0;
  const float m = std::frexp(s, &e);  // s = m·2^e, m in [0.5, 1)
  return m == 0.5f ? s : std::ldexp(1.0f, e);
}

inline QParams qparams_from_range(double rmin, double rmax, const QuantTarget& t) {
  check(std::isfinite(rmin) && std::isfinite(rmax) && rmin <= rmax, "invalid calibrated range [", rmin, ", ", rmax, "]");
  rmin = std::min(rmin, 0.0);
  rmax = std::max(rmax, 0.0);
  QParams p;
  constexpr float tiny = std::numeric_limits<float>::min();
  if (t.symmetric) {
    const double absmax = std::max(-rmin, rmax);
    p.zero_point = t.symmetric_zero_point();
    p.scale = static_cast<float>(absmax / t.symmetric_levels());
    if (!(p.scale >= tiny)) p.scale = 1.0f;
  } else {
    const double span = rmax - rmin;
    p.scale = static_cast<float>(span / (t.qmax() - t.qmin()));
    if (!(p.scale >= tiny)) return {1.0f, t.qmin() < 0 && t.qmax() > 0 ? 0 : t.qmin()};
    const double zp = round_half_even(t.qmin() - rmin / double{p.scale});
    p.zero_point = static_cast<std::int32_t>(std::clamp<double>(zp, t.qmin(), t.qmax()));
  }
  if (t.pow2) p.scale = pow2_ceil(p.scale);
  return p;
}

}  // namespace qnn::quant
