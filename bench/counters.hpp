// The counters every kernel benchmark reports, so qnn's and the peer's rows read the same:
//   GMAC      multiply-accumulates per second, in billions (a rate: Google Benchmark divides by
//             the benchmark thread's CPU time, so other processes on a shared machine do not count)
//   pct_peak  the same rate as a percentage of this core's measured peak (peak.hpp) for the
//             arithmetic: int8 rows against the best int8 instruction sequence the core has (the
//             faster u8s8 sequence on AVX2 — u8s8x2 — vpdpbusd with VNNI), fp32 and bf16 rows
//             against the fp32 FMA. One
//             denominator per arithmetic, whichever library and instructions a row uses.
#pragma once

#include <benchmark/benchmark.h>

#include "peak.hpp"

namespace qnn_bench {

enum class Arith { int8, fp32 };  // bf16 runs on fp32 FMAs on machines without AVX512-BF16

inline double arith_peak_gmacs(Arith a) { return a == Arith::int8 ? int8_peak_gmacs() : peak_gmacs("fma32"); }

// `name` = `macs_per_iteration` as a percentage of `peak_gmacs`, per second (omitted without a peak).
inline void add_peak_counter(benchmark::State& st, const char* name, double macs_per_iteration, double peak_gmacs) {
  if (peak_gmacs > 0)
    st.counters[name] = benchmark::Counter(macs_per_iteration * 1e-9 / peak_gmacs * 100,
                                           benchmark::Counter::kIsIterationInvariantRate);
}

inline void set_mac_counters(benchmark::State& st, double macs_per_iteration, Arith a) {
  st.counters["GMAC"] = benchmark::Counter(macs_per_iteration * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  add_peak_counter(st, "pct_peak", macs_per_iteration, arith_peak_gmacs(a));
}

}  // namespace qnn_bench
