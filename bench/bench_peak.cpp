// The peak probes of peak.hpp as benchmarks: one per instruction this build can run, each reporting
// GMAC/s on one core. Rates are per CPU second of the benchmark thread (Google Benchmark's default),
// so time the scheduler gives to other processes on a shared machine does not count. The kernel
// benchmarks' "% of peak" counters divide by the same probes, run again in their own process.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <string>

#include "peak.hpp"

namespace {

void bm_peak(benchmark::State& state, qnn_bench::PeakProbe probe) {
  constexpr std::int64_t kIters = 1 << 16;
  double macs = 0;
  for (auto _ : state) macs = probe.run(kIters);
  state.counters["GMAC"] = benchmark::Counter(macs * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  state.SetLabel(std::string(qnn_bench::peak_isa()) + " " + probe.instruction);
}

}  // namespace

int main(int argc, char** argv) {
  for (const qnn_bench::PeakProbe& p : qnn_bench::peak_probes())
    benchmark::RegisterBenchmark((std::string("peak/") + p.name).c_str(), bm_peak, p);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
