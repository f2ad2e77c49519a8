// The one place that decides which SIMD code runs.
//
// Header-only (default): the kernels in kernels/simd/*-inl.hpp (GEMM tiles and epilogues, max
// pooling, QuantizeLinear) are compiled once, for the best Highway target the compile flags allow
// (-march=native, -march=x86-64-v3 -maes -mpclmul → AVX2, -march=x86-64-v4 ... → AVX-512).
// Without such flags Highway's target is SCALAR, for which qnn has no SIMD kernels: the portable
// C++ loops (or the reference kernels) run instead (same layouts, same results).
//
// Run-time dispatch (opt-in: link the CMake target qnn::dispatch, which defines
// QNN_DYNAMIC_DISPATCH for its users): src/dispatch.cpp compiles the same kernels for every x86
// target Highway 1.0.3 offers (SSSE3, SSE4, AVX2, AVX3, AVX3_DL; plus the portable loops) and
// picks, at the first use, the best one the CPU supports — the choice HWY_DYNAMIC_DISPATCH would
// make — or the one the environment variable QNN_SIMD_TARGET names (AVX2, SSE4, ..., portable;
// any case). A name that is unknown, or a target this CPU lacks, is a qnn::error naming the ones
// available, raised by that first use; never a silent fallback. Code compiled this way includes no
// kernel: one binary serves AVX2, AVX-512 and VNNI machines.
//
// Kernels never look at targets; they receive this table.
#pragma once

#include "qnn/config.hpp"
#include "qnn/kernels/simd/kernel_table.hpp"

#if defined(QNN_DYNAMIC_DISPATCH)
#include <string_view>
#include <vector>
#elif !defined(QNN_NO_SIMD)
#include "qnn/kernels/simd/table-inl.hpp"
#endif

namespace qnn::simd {

#if defined(QNN_DYNAMIC_DISPATCH)
// Defined in src/dispatch.cpp. Target names are those active_target() reports.
const KernelTable* dynamic_kernel_table();
inline const KernelTable* kernel_table() { return dynamic_kernel_table(); }

// Every target src/dispatch.cpp was compiled for, best first; "portable" last.
std::vector<std::string_view> compiled_targets();
// Those of them this CPU supports (as hwy::SupportedTargets() says, so DisableTargets and
// SetSupportedTargetsForTest apply), best first: the candidates select_target() accepts.
std::vector<std::string_view> dispatch_targets();
// Pins the target later calls use (for tests and benchmarks), or returns to the best one.
// Layers and sessions keep the panel width they packed their weights for: select before preparing
// them (a GEMM over weights packed for another width throws). Thread-safe, but a run already in
// progress may mix tables: do not select while one runs.
void select_target(std::string_view name);
void select_best_target();
#elif defined(QNN_NO_SIMD)
inline const KernelTable* kernel_table() { return nullptr; }
#else
inline const KernelTable* kernel_table() { return HWY_NAMESPACE::target_kernel_table(); }
#endif

// Name of the code path GEMMs run on ("AVX2", "AVX3", ..., or "portable").
inline const char* active_target() {
  const KernelTable* t = kernel_table();
  return t ? t->target : "portable";
}

}  // namespace qnn::simd
