// Reference quantized element-wise Add and Mul (NumPy broadcasting), and requantizing copy (the
// building block of Concat with differing input scales and of the Requantize op).
//
// Each requantization policy defines its own integer recipe (docs/numerics.md §4):
//   Add  onnx_float  ONNX Runtime's x86 kernel (MLAS qladd_avx2, zero points folded into a fixed
//                    part, FMA): ra = s_a/s_c, rb = s_b/s_c, F = zc − fma(ra, za, rb·zb),
//                    y = clamp(rne(fma(a, ra, fma(b, rb, F)))). The roles of A and B swap when ORT's
//                    broadcaster sees A as a scalar per span (ort_swaps_operands). 16-bit data take
//                    ORT's portable rule: v = (s_a·(a−za) + s_b·(b−zb)) / s_c, y = rne(v + zc).
//        tflite_*    TFLite's recipe: both inputs shifted left by 20 (15 for 16-bit), scaled by
//                    Q31 multipliers s_a/(2·max(s_a,s_b)) and s_b/(2·max), summed, then scaled by
//                    2·max/(2^shift·s_c) and offset by zc
//        npu_pow2    inputs aligned to the finer position p = max(pa, pb) by exact left shifts,
//                    summed, shifted right by p − pc rounding half up (DPU shift_read/shift_write)
//   Mul  onnx_float  ONNX Runtime (MLAS qlmul): m = s_a·s_b/s_c, y = clamp(rne(m·((a−za)(b−zb)) + zc))
//        tflite_*    (a−za)(b−zb) in int32, Q31 multiplier of s_a·s_b/s_c, + zc
//        npu_pow2    (a−za)(b−zb) >> (pa + pb − pc), half up
// Clamping to the output range (fused ReLU included) happens last in every case. In the onnx_float
// rules the zero point is added in fp32 BEFORE rounding, as ORT does (unlike QuantizeLinear).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

#include "qnn/core/quant_params.hpp"
#include "qnn/core/tensor.hpp"
#include "qnn/kernels/ref/broadcast.hpp"
#include "qnn/kernels/ref/ort_float.hpp"
#include "qnn/numerics/requantize.hpp"

namespace qnn::ref {

enum class EltwiseOp : std::uint8_t { add, mul };

struct EltwiseQuant {
  float s_a = 1, s_b = 1, s_c = 1;
  std::int32_t za = 0, zb = 0, zc = 0;
  IntRange range{};
};

// Precomputed factors of one quantized Add/Mul under policy P.
template <RequantPolicyType P>
struct EltwiseParams {
  EltwiseOp op = EltwiseOp::add;
  EltwiseQuant q;
  // onnx_float
  float ra = 0, rb = 0, m = 0;
  float fixed = 0, fixed_swapped = 0;  // 8-bit Add: zc − fma(ra, za, rb·zb), and with A, B swapped
  bool wide = false;                   // 16-bit data: ORT's portable Add
  // tflite
  int left_shift = 0;
  Q31 qa{}, qb{}, qout{};
  // npu_pow2
  int shift_a = 0, shift_b = 0, shift_out = 0;

  template <QuantStorage T>
  static EltwiseParams make(EltwiseOp op, const EltwiseQuant& q) {
    qnn::detail::check_zero_point<T>(q.za);
    qnn::detail::check_zero_point<T>(q.zb);
    qnn::detail::check_zero_point<T>(q.zc);
    EltwiseParams p;
    p.op = op;
    p.q = q;
    if constexpr (P::policy == RequantPolicy::onnx_float) {
      p.ra = ScaleRatio({q.s_a}, {q.s_c}).as_float();
      p.rb = ScaleRatio({q.s_b}, {q.s_c}).as_float();
      p.m = ScaleRatio({q.s_a, q.s_b}, {q.s_c}).as_float();
      const auto fza = static_cast<float>(q.za), fzb = static_cast<float>(q.zb), fzc = static_cast<float>(q.zc);
      p.fixed = fzc - std::fma(p.ra, fza, p.rb * fzb);
      p.fixed_swapped = fzc - std::fma(p.rb, fzb, p.ra * fza);
      p.wide = sizeof(T) == 2;
    } else if constexpr (P::policy == RequantPolicy::npu_pow2) {
      const int pa = to_pow2(q.s_a).pos, pb = to_pow2(q.s_b).pos, pc = to_pow2(q.s_c).pos;
      if (op == EltwiseOp::add) {
        const int pmax = std::max(pa, pb);
        p.shift_a = pmax - pa;
        p.shift_b = pmax - pb;
        p.shift_out = pmax - pc;
        check(p.shift_a <= 24 && p.shift_b <= 24, "npu add: input positions ", pa, " and ", pb,
              " differ by more than 24");
      } else {
        p.shift_out = pa + pb - pc;
      }
    } else {
      const bool single = P::policy == RequantPolicy::tflite_single_round;
      if (op == EltwiseOp::add) {
        p.left_shift = sizeof(T) == 1 ? 20 : 15;
        const double twice_max = 2.0 * std::max(double{q.s_a}, double{q.s_b});
        p.qa = quantize_multiplier(double{q.s_a} / twice_max, single);
        p.qb = quantize_multiplier(double{q.s_b} / twice_max, single);
        p.qout = quantize_multiplier(twice_max / (double(std::int64_t{1} << p.left_shift) * double{q.s_c}), single);
      } else {
        // MBQM takes the product (a − za)(b − zb) as int32; 16-bit data with zero points away from
        // the middle of the range can exceed it (TFLite's int16 Mul requires zero points 0).
        const std::int64_t dev_a = std::max<std::int64_t>(max_of<T>() - q.za, q.za - min_of<T>());
        const std::int64_t dev_b = std::max<std::int64_t>(max_of<T>() - q.zb, q.zb - min_of<T>());
        check(dev_a * dev_b <= std::numeric_limits<std::int32_t>::max(), "tflite mul: (a - za)(b - zb) can reach ",
              dev_a * dev_b, ", beyond the int32 input of the fixed-point multiply");
        p.qout = quantize_multiplier(double{q.s_a} * double{q.s_b} / double{q.s_c}, single);
      }
    }
    return p;
  }

  // `swapped` (onnx_float Add only): ORT evaluates the operands in the other order; see eltwise().
  std::int32_t operator()(std::int32_t a, std::int32_t b, bool swapped = false) const {
    const std::int64_t da = a - q.za;
    const std::int64_t db = b - q.zb;
    std::int64_t v = 0;
    if constexpr (P::policy == RequantPolicy::onnx_float) {
      (void)swapped;
      std::int32_t r = 0;
      if (op == EltwiseOp::mul) {
        // MLAS qlmul: fl(fl(float(p)·m) + zc), two roundings, then cvtps2dq.
        r = ort::cvtps2dq(static_cast<float>(da * db) * m + static_cast<float>(q.zc));
      } else if (wide) {
        // MLAS qladd's portable helper (ORT's 16-bit QLinearAdd): clamp before adding zc.
        float f = (q.s_a * static_cast<float>(da) + q.s_b * static_cast<float>(db)) / q.s_c;
        const auto lo = static_cast<float>(q.range.lo - q.zc);
        const auto hi = static_cast<float>(q.range.hi - q.zc);
        f = f < lo ? lo : (f > hi ? hi : f);
        r = ort::cvtps2dq(f + static_cast<float>(q.zc));
      } else {
        const auto fa = static_cast<float>(a), fb = static_cast<float>(b);
        r = ort::cvtps2dq(swapped ? std::fma(fb, rb, std::fma(fa, ra, fixed_swapped))
                                  : std::fma(fa, ra, std::fma(fb, rb, fixed)));
      }
      return std::clamp(r, q.range.lo, q.range.hi);
    } else if constexpr (P::policy == RequantPolicy::npu_pow2) {
      const std::int64_t raw = op == EltwiseOp::add ? (da << shift_a) + (db << shift_b) : da * db;
      v = shift_out >= 0 ? shift_right_rounded(raw, shift_out, Rounding::half_up)
                         : shift_left_saturating(raw, -shift_out);
    } else {
      auto mul = [&](std::int32_t x, Q31 mm) {
        return P::policy == RequantPolicy::tflite_single_round ? multiply_by_q31_single(x, mm)
                                                               : multiply_by_q31_double(x, mm);
      };
      if (op == EltwiseOp::add) {
        // |a−za|·2^20 < 2^29 for 8-bit and |a−za|·2^15 < 2^31 for 16-bit: no overflow.
        const auto sa = mul(static_cast<std::int32_t>(da * (std::int64_t{1} << left_shift)), qa);
        const auto sb = mul(static_cast<std::int32_t>(db * (std::int64_t{1} << left_shift)), qb);
        v = mul(sa + sb, qout);
      } else {
        v = mul(static_cast<std::int32_t>(da * db), qout);
      }
    }
    v = std::clamp<std::int64_t>(v, -(std::int64_t{1} << 40), std::int64_t{1} << 40);
    return static_cast<std::int32_t>(std::clamp<std::int64_t>(v + q.zc, q.range.lo, q.range.hi));
  }
};

// Whether ONNX Runtime's broadcaster treats input A as "scalar per span" for these shapes — then its
// QLinearAdd calls the kernel with the operands swapped (qlinear_binary_op.cc), which changes the
// fused products of the 8-bit onnx_float Add. The decision is ORT's Broadcaster (element_wise_ops.h):
// walk the trailing axes shared by both shapes from the last; skip axes of output extent ≤ 1 while
// more shared axes remain; at the first other axis (or the last shared one) A is scalar iff its
// extent there is ≤ 1. A rank-0 A is always scalar.
inline bool ort_swaps_operands(const Shape& a, const Shape& b) {
  const int common = std::min(a.rank(), b.rank());
  if (common == 0) return a.rank() == 0;
  for (int i = 1; i <= common; ++i) {
    const std::int64_t da = a[a.rank() - i], db = b[b.rank() - i];
    const std::int64_t out = std::min(da, db) == 0 ? 0 : std::max(da, db);
    if (out <= 1 && i < common) continue;
    return da <= 1;
  }
  return false;
}

template <QuantStorage T, RequantPolicyType P>
void eltwise(TensorView<const T> a, TensorView<const T> b, TensorView<T> y, const EltwiseParams<P>& p) {
  const bool swapped = ort_swaps_operands(a.shape(), b.shape());
  binary_broadcast(a, b, y, [&](T va, T vb) { return static_cast<T>(p(va, vb, swapped)); });
}

// y = requantize(x): (x − zx) rescaled under policy P by the stage's single factor (made from
// s_x/s_y), plus zy, clamped. Input and output storage may differ: int32 → int8 for the Requantize
// op (whose input zero point must then be 0), int8 → int8 for Concat inputs whose scale differs
// from the output's.
template <class TIn, QuantStorage TOut, RequantPolicyType P>
void requantize(TensorView<const TIn> x, std::int32_t x_zp, TensorView<TOut> y, const OutputStage<P>& stage) {
  static_assert(std::same_as<TIn, std::int32_t> || QuantStorage<TIn>);
  check(!std::same_as<TIn, std::int32_t> || x_zp == 0, "requantize: an int32 input has zero point 0, got ", x_zp);
  check(stage.channels.size() == 1, "requantize: expected one factor, got ", stage.channels.size());
  unary(x, y, [&](TIn v) { return static_cast<TOut>(stage(static_cast<std::int32_t>(v) - x_zp, 0)); });
}

}  // namespace qnn::ref
