// Padding and tiling a matmul onto a fixed-shape NPU artefact, and the host arithmetic around it.
//
// An artefact computes exactly one tm×tk×tn problem. A request C[M,N] = A[M,K]·B[K,N] is covered by
// ceil(M/tm)·ceil(K/tk)·ceil(N/tn) runs: the edge tiles are zero-padded, padded rows and columns of
// C are dropped, and the K tiles of one C tile are summed on the host in ascending K order. Zero
// padding along K is exact because the artefact returns the raw accumulator Σ a·b (never a
// requantized value, see xrt_manifest.hpp): a padded k adds 0·b or a·0.
//
// Weights are packed once per (K tile, N tile) into the artefact's layout; activations are packed
// per run into a reused buffer. The CPU fallback (cpu_matmul_ktiled) sums in the same K tiles, so a
// bf16 result does not depend on whether a call ran on the NPU or fell back; within a tile it
// accumulates in fp32 in ascending k, which is the order qnn assumes, not one the NPU documents.
//
// Accumulator bound: with 8-bit operands |Σ a·b| ≤ max|a| · max_n Σ_k |b[k,n]|, checked against
// INT32_MAX when the weights are prepared (check_int32_accumulator); partial sums over K tiles are
// bounded by the same value, so neither the NPU nor the host addition can overflow.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "qnn/backends/npu/xrt_manifest.hpp"
#include "qnn/core/dtype.hpp"
#include "qnn/core/error.hpp"

namespace qnn::npu {

struct XrtTilePlan {
  std::int64_t M = 0, K = 0, N = 0;     // the request
  std::int64_t tm = 0, tk = 0, tn = 0;  // the artefact's shape
  std::int64_t mt = 0, kt = 0, nt = 0;  // tiles along each axis

  std::int64_t runs() const { return mt * kt * nt; }
  std::int64_t padded_macs() const { return mt * tm * kt * tk * nt * tn; }
  // Extent of tile i along an axis of `total` elements cut into tiles of `tile`.
  static std::int64_t extent(std::int64_t total, std::int64_t tile, std::int64_t i) {
    return std::min(tile, total - i * tile);
  }
};

inline XrtTilePlan plan_xrt_matmul(const XrtArtefact& a, std::int64_t M, std::int64_t K, std::int64_t N) {
  check(M >= 0 && K > 0 && N > 0, a.where(), ": matmul of ", M, "x", K, "x", N, " is empty");
  auto tiles = [](std::int64_t n, std::int64_t t) { return (n + t - 1) / t; };
  return XrtTilePlan{M, K, N, a.M, a.K, a.N, tiles(M, a.M), tiles(K, a.K), tiles(N, a.N)};
}

// The artefact a matmul of this dtype triple and shape runs on: among those with the triple, the
// least padded work for M (m_hint, ≤ 0 for "unknown": M is then taken as each artefact's own tm),
// then the fewest runs, then manifest order. Otherwise nothing, and why.
struct XrtSelection {
  const XrtArtefact* artefact = nullptr;
  std::string reason;  // set when artefact is null
};

inline XrtSelection select_xrt_matmul(const XrtManifest& m, DType a, DType b, DType c, std::int64_t m_hint,
                                      std::int64_t K, std::int64_t N) {
  const auto triple = qnn::detail::cat(name_of(a), " x ", name_of(b), " -> ", name_of(c));
  if (!xrt_matmul_dtypes_supported(a, b, c))
    return {nullptr, "dtypes " + triple + " have no NPU matmul (artefacts take 8-bit integers -> int32 or bfloat16 "
                     "-> float32)"};
  const XrtArtefact* best = nullptr;
  XrtTilePlan best_plan;
  std::string available;
  for (const XrtArtefact& art : m.artefacts) {
    if (art.op != "matmul") continue;
    available += qnn::detail::cat(available.empty() ? "" : ", ", art.name, " (", name_of(art.a), " x ", name_of(art.b),
                             " -> ", name_of(art.c), ")");
    if (art.a != a || art.b != b || art.c != c) continue;
    const XrtTilePlan p = plan_xrt_matmul(art, m_hint > 0 ? m_hint : art.M, K, N);
    if (!best || p.padded_macs() < best_plan.padded_macs() ||
        (p.padded_macs() == best_plan.padded_macs() && p.runs() < best_plan.runs())) {
      best = &art;
      best_plan = p;
    }
  }
  if (best) return {best, {}};
  return {nullptr, "no artefact for " + triple + (available.empty() ? " (the manifest has no matmul artefacts)"
                                                                     : " (the manifest has: " + available + ")")};
}

// Copies the rows × cols block at (r0, c0) of a row-major matrix with row stride `ld` (elements)
// into the top-left of a zero-filled tr × tc row-major tile. Elements are `elem` bytes; the zero
// bit pattern is 0 for every operand dtype (int8, uint8, +0.0 in bf16).
inline void pack_tile_rows(const std::byte* src, std::int64_t ld, std::int64_t r0, std::int64_t c0, std::int64_t rows,
                           std::int64_t cols, std::size_t elem, std::byte* dst, std::int64_t tr, std::int64_t tc) {
  const auto row_bytes = static_cast<std::size_t>(cols) * elem;
  const auto tile_row = static_cast<std::size_t>(tc) * elem;
  for (std::int64_t r = 0; r < rows; ++r) {
    std::byte* d = dst + static_cast<std::size_t>(r) * tile_row;
    std::memcpy(d, src + (static_cast<std::size_t>(r0 + r) * static_cast<std::size_t>(ld) + static_cast<std::size_t>(c0)) * elem,
                row_bytes);
    std::memset(d + row_bytes, 0, tile_row - row_bytes);
  }
  if (rows < tr) std::memset(dst + static_cast<std::size_t>(rows) * tile_row, 0, static_cast<std::size_t>(tr - rows) * tile_row);
}

// The (k tile, n tile) block of B[K,N] — given with element strides (sk, sn), so [N,K] weights are
// (1, K) — packed zero-padded into the artefact's layout: tk × tn row-major ("KN") or tn × tk ("NK").
inline void pack_weight_tile(const std::byte* b, std::int64_t sk, std::int64_t sn, std::int64_t k0, std::int64_t n0,
                             std::int64_t rows_k, std::int64_t cols_n, std::size_t elem, XrtLayoutB layout,
                             std::byte* dst, std::int64_t tk, std::int64_t tn) {
  std::memset(dst, 0, static_cast<std::size_t>(tk * tn) * elem);
  for (std::int64_t k = 0; k < rows_k; ++k)
    for (std::int64_t n = 0; n < cols_n; ++n) {
      const std::int64_t d = layout == XrtLayoutB::kn ? k * tn + n : n * tk + k;
      std::memcpy(dst + static_cast<std::size_t>(d) * elem,
                  b + static_cast<std::size_t>((k0 + k) * sk + (n0 + n) * sn) * elem, elem);
    }
}

// Writes (first K tile) or adds (later K tiles) the rows × cols corner of a tm × tn result tile into
// C[M,N] (row stride ldc) at (r0, c0).
template <class TC>
void accumulate_c_tile(const TC* tile, std::int64_t tn, std::int64_t rows, std::int64_t cols, bool first, TC* c,
                       std::int64_t ldc, std::int64_t r0, std::int64_t c0) {
  for (std::int64_t r = 0; r < rows; ++r) {
    const TC* s = tile + r * tn;
    TC* d = c + (r0 + r) * ldc + c0;
    if (first) {
      std::memcpy(d, s, static_cast<std::size_t>(cols) * sizeof(TC));
    } else {
      for (std::int64_t j = 0; j < cols; ++j) d[j] += s[j];
    }
  }
}

// Calls f(TA{}, TB{}, TC{}) with the C++ types of a supported dtype triple.
template <class F>
decltype(auto) visit_xrt_matmul_types(DType a, DType b, F&& f) {
  if (a == DType::bf16 && b == DType::bf16) return f(bf16{}, bf16{}, float{});
  if (a == DType::i8 && b == DType::i8) return f(std::int8_t{}, std::int8_t{}, std::int32_t{});
  if (a == DType::i8 && b == DType::u8) return f(std::int8_t{}, std::uint8_t{}, std::int32_t{});
  if (a == DType::u8 && b == DType::i8) return f(std::uint8_t{}, std::int8_t{}, std::int32_t{});
  if (a == DType::u8 && b == DType::u8) return f(std::uint8_t{}, std::uint8_t{}, std::int32_t{});
  fail("matmul: dtypes ", name_of(a), " x ", name_of(b), " are not supported by the XRT backend");
}

// Fails when Σ_k a·b can leave int32 for some column of these weights B[K,N] (strides sk, sn).
template <class TA, class TB>
void check_int32_accumulator(const TB* b, std::int64_t K, std::int64_t N, std::int64_t sk, std::int64_t sn,
                             const std::string& where) {
  constexpr std::int64_t max_a = std::max<std::int64_t>(-std::int64_t{std::numeric_limits<TA>::min()},
                                                        std::numeric_limits<TA>::max());
  std::int64_t worst = 0;
  for (std::int64_t n = 0; n < N; ++n) {
    std::int64_t s = 0;
    for (std::int64_t k = 0; k < K; ++k) s += std::abs(std::int64_t{b[k * sk + n * sn]});
    worst = std::max(worst, s);
  }
  check(max_a * worst <= std::numeric_limits<std::int32_t>::max(), where, ": the int32 accumulator can reach ",
        max_a * worst, " for these weights (K=", K, "), above INT32_MAX");
}

// C[M,N] = A[M,K]·B[K,N] on the CPU, K cut into tiles of tk and the tile sums added in ascending
// order (the NPU path's order). A and C are row-major; B has element strides (sk, sn).
template <class TA, class TB, class TC>
void cpu_matmul_ktiled(const TA* a, const TB* b, std::int64_t sk, std::int64_t sn, TC* c, std::int64_t M,
                       std::int64_t K, std::int64_t N, std::int64_t tk) {
  check(tk > 0, "cpu_matmul_ktiled: K tile must be positive");
  for (std::int64_t i = 0; i < M; ++i)
    for (std::int64_t j = 0; j < N; ++j) {
      TC total{};
      for (std::int64_t k0 = 0; k0 < K; k0 += tk) {
        TC part{};
        const std::int64_t k1 = std::min(K, k0 + tk);
        for (std::int64_t k = k0; k < k1; ++k) {
          if constexpr (std::is_same_v<TC, float>)
            part = std::fma(static_cast<float>(a[i * K + k]), static_cast<float>(b[k * sk + j * sn]), part);
          else
            part += static_cast<TC>(a[i * K + k]) * static_cast<TC>(b[k * sk + j * sn]);
        }
        total = k0 == 0 ? part : total + part;
      }
      c[i * N + j] = total;
    }
}

}  // namespace qnn::npu
