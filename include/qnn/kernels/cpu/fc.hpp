// Fast CPU fully connected layer / GEMM with constant weights: the weights are the lane operand
// (packed once, output columns across lanes), activation rows the broadcast operand (packed per
// run), so each block row is a contiguous run of one output row. Integer operands are packed as
// int16 differences from their zero points, or as bytes (weights w − zw signed, activations
// x − min(TIn) unsigned) with the bias corrected, exactly as in conv.hpp. Threads split the output
// columns (lane panels); every element is computed identically whatever the split.
#pragma once

#include <algorithm>
#include <concepts>
#include <cstdint>
#include <span>
#include <type_traits>

#include "qnn/core/aligned_buffer.hpp"
#include "qnn/core/tensor.hpp"
#include "qnn/kernels/cpu/conv.hpp"
#include "qnn/kernels/cpu/exec.hpp"
#include "qnn/kernels/cpu/gemm.hpp"
#include "qnn/kernels/cpu/pack.hpp"

namespace qnn::cpu {

template <class Elem>  // std::int16_t, std::int8_t (bytes) or float
struct PackedLanes {
  LaneLayout lay;
  BytePairing pairing;  // bytes: paired quads and their fixes (kernels/cpu/u8s8.hpp)
  AlignedBuffer data;
  const Elem* get() const { return reinterpret_cast<const Elem*>(data.data()); }
};

// w' = w − zw of output column n and row k; b: the weight view already oriented K×N (the caller
// undoes trans_b with a permuted view).
template <class TW>
auto fc_weight_values(TensorView<const TW> b, std::span<const std::int32_t> zp) {
  return [b, zp](std::int64_t n, std::int64_t k) {
    return static_cast<std::int32_t>(b(k, n)) - zp[zp.size() == 1 ? 0 : static_cast<std::size_t>(n)];
  };
}

// Elem: std::int16_t or std::int8_t (kernels/cpu/u8s8.hpp decides) for integer weights, float
// for float and bf16 ones; bytes less the fixes of `pairing`.
template <class Elem, class TW>
PackedLanes<Elem> pack_fc_weights(TensorView<const TW> b, std::span<const std::int32_t> zp = {},
                                  const BytePairing& pairing = {}) {
  constexpr int step = kStep<Elem>;
  PackedLanes<Elem> p;
  p.lay.rows = b.dim(1);
  p.lay.k = b.dim(0);
  p.lay.nr = panel_lanes();
  p.lay.ksteps = (p.lay.k + step - 1) / step;
  p.data = AlignedBuffer(static_cast<std::size_t>(p.lay.panels() * p.lay.panel_elems(step)) * sizeof(Elem));
  auto* dst = reinterpret_cast<Elem*>(p.data.data());
  if constexpr (std::is_floating_point_v<Elem>)
    pack_lanes(dst, p.lay, [&](std::int64_t n, std::int64_t k) { return static_cast<float>(b(k, n)); });
  else
    pack_lanes(dst, p.lay, fc_weight_values(b, zp));
  if constexpr (std::same_as<Elem, std::int8_t>) {
    const std::int64_t panel = p.lay.panel_elems(step);
    for (const ByteFix& f : pairing.fixes) {
      std::int8_t& v = dst[f.row / p.lay.nr * panel + (f.k / 4 * p.lay.nr + f.row % p.lay.nr) * 4 + f.k % 4];
      v = static_cast<std::int8_t>(v - f.w);
    }
    p.pairing = pairing;
  }
  return p;
}

// c[i][n] = stage(Σ_k (a[i][k] − zx)(b[k][n] − zb[n]) + bias[n]); a is M×K (any strides), c M×N
// contiguous. Lane: std::int16_t with sub = zx, or std::int8_t with sub and `bias` from
// byte_plan and byte_kernel_bias.
template <class Lane, QuantStorage TIn, QuantStorage TOut, RequantPolicyType P>
void fc_int(TensorView<const TIn> a, std::int32_t sub, const PackedLanes<Lane>& w,
            std::span<const std::int32_t> bias, const OutputStage<P>& stage, std::span<const float> onnx_mult, TOut* c,
            const Exec& ex) {
  // Activations: int16 pairs a − zx, or unsigned bytes a − the byte shift.
  using Act = std::conditional_t<std::same_as<Lane, std::int16_t>, std::int16_t, std::uint8_t>;
  const std::int64_t m = a.dim(0);
  const std::int64_t ks = w.lay.ksteps;
  // Activation rows are packed once, by the calling thread, into the first workspace.
  Workspace& w0 = (*ex.workspaces)[0];
  const std::size_t act_bytes = static_cast<std::size_t>(m * ks) * 4;
  auto* rows = reinterpret_cast<std::int32_t*>(w0.get(act_bytes + gemm_scratch_bytes()));
  if (a.stride(1) == 1)
    pack_bcast_rows<Act>(rows, a.data(), m, a.stride(0), w.lay.k, ks, sub);
  else
    pack_bcast_words<Act>(rows, m, w.lay.k, ks, [&](std::int64_t i, std::int64_t k) {
      return static_cast<std::int32_t>(a(i, k)) - sub;
    });
  const std::int64_t n = w.lay.rows;
  ex.parallel(w.lay.panels(), [&](Workspace& ws, std::int64_t pb, std::int64_t pe) {
    auto* scratch = &ws == &w0 ? reinterpret_cast<std::int32_t*>(reinterpret_cast<std::byte*>(rows) + act_bytes)
                               : ws.get<std::int32_t>(gemm_scratch_bytes() / 4);
    gemm_int(w.get(), w.lay, rows, m, byte_fixes(w.pairing, 0, n), scratch,
             [&](std::int64_t s0, std::int64_t nrows, std::int64_t l0, std::int64_t cols, const std::int32_t* acc,
                 std::int64_t stride) {
               requantize_block(acc, stride, nrows, cols, l0, bias, stage, onnx_mult, c + s0 * n + l0, n, false);
             },
             pb, pe);
  }, 1);
}

template <class TIn>
void fc_float(TensorView<const TIn> a, const PackedLanes<float>& w, std::span<const float> bias, float lo, float hi,
              float* c, const Exec& ex) {
  const std::int64_t m = a.dim(0);
  const std::int64_t k = w.lay.k;
  Workspace& w0 = (*ex.workspaces)[0];
  const std::size_t act_bytes = static_cast<std::size_t>(m * k) * 4;
  auto* rows = reinterpret_cast<float*>(w0.get(act_bytes + gemm_scratch_bytes()));
  if (a.stride(1) == 1)
    pack_bcast_rows_f32(rows, a.data(), m, a.stride(0), k);
  else
    pack_bcast_f32(rows, m, k, [&](std::int64_t i, std::int64_t j) { return static_cast<float>(a(i, j)); });
  const std::int64_t n = w.lay.rows;
  ex.parallel(w.lay.panels(), [&](Workspace& ws, std::int64_t pb, std::int64_t pe) {
    auto* scratch = &ws == &w0 ? reinterpret_cast<float*>(reinterpret_cast<std::byte*>(rows) + act_bytes)
                               : ws.get<float>(gemm_scratch_bytes() / 4);
    F32Output o;
    o.bias = bias.empty() ? nullptr : bias.data();
    o.bias_per_lane = true;
    o.lo = lo;
    o.hi = hi;
    o.out = c;
    o.out_stride = n;
    gemm_f32(w.get(), w.lay, rows, m, o, scratch, pb, pe);
  }, 1);
}

}  // namespace qnn::cpu
