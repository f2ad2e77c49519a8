// Per-core peak multiply-accumulate rate of the instructions the kernels are built from, measured on
// this machine at its current clock rather than taken from a datasheet. The "% of peak" counters of
// the kernel benchmarks divide by these rates, so a figure says how much of one core's arithmetic a
// kernel turns into useful MACs, given the instruction it is built on.
//
//   madd16   vpmaddwd + vpaddd: int16 pairs into int32 lanes. qnn's int8 GEMM packs both operands
//            as int16 differences from their zero points and runs on this (exact for any u8/s8
//            pair, 2 MACs per 32-bit lane).
//   u8s8     vpmaddubsw + vpmaddwd(·1) + vpaddd: the AVX2 u8×s8 sequence of oneDNN and ONNX
//            Runtime's MLAS (4 MACs per 32-bit lane, but the u8·s8 pair sums saturate at int16).
//   u8s8x2   2 × vpmaddubsw + vpaddw + vpmaddwd(·1) + vpaddd: qnn's paired quads (kernels/cpu/u8s8.hpp),
//            two quads summed in int16 before one widening — 3 multiply instructions per 64 MACs
//            instead of 4, so the int8 ceiling of a core without VNNI.
//   fma32    vfmadd231ps: fp32, and qnn's bf16 path, which widens bf16 to fp32 and runs the same FMA.
//   vnni     vpdpbusd (AVX-512 VNNI), 4 MACs per lane in one instruction.
//   bf16dot  vdpbf16ps (AVX512-BF16), 2 bf16 MACs per fp32 lane.
// The vector width is the widest the translation unit is compiled for (the one Highway picks for
// qnn's kernels); vnni and bf16dot exist only when the compile target has them. Without AVX2 there
// is nothing to probe and peaks() is empty: the benchmarks then report no "% of peak".
//
// Method: each probe runs several independent accumulator chains (more than latency × throughput
// needs), with its inputs passed through an empty asm statement every iteration, so the compiler can
// neither hoist nor merge the products. A rate is the best of many short trials: the machine may be
// shared, and a preempted trial can only look slower, never faster.
#pragma once

#include <immintrin.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace qnn_bench {

struct Peak {
  std::string name;         // madd16, u8s8, u8s8x2, fma32, vnni, bf16dot
  std::string instruction;  // what is measured, for the report
  double gmacs = 0;         // GMAC/s on one core
};

// What this build can probe, with a probe function (MACs done in `iters` iterations) per entry.
struct PeakProbe {
  const char* name;
  const char* instruction;
  double (*run)(std::int64_t iters);
};

namespace peak_detail {

// The compiler must assume v was changed here, at the cost of no instruction.
template <class V>
inline void opaque(V& v) {
  asm volatile("" : "+v"(v));
}

// The widest integer + FMA vector ISA of this translation unit, as a type: the probes below are
// written once against it.
#if defined(__AVX512F__) && defined(__AVX512BW__)
struct Vec {
  static constexpr bool available = true;
  static constexpr const char* isa = "AVX-512";
  using I = __m512i;
  using F = __m512;
  static constexpr int lanes32 = 16;
  static I splat16(std::int16_t v) { return _mm512_set1_epi16(v); }
  static I splat8(std::int8_t v) { return _mm512_set1_epi8(v); }
  static F splat(float v) { return _mm512_set1_ps(v); }
  static I madd16(I a, I b) { return _mm512_madd_epi16(a, b); }
  static I maddubs(I u8, I s8) { return _mm512_maddubs_epi16(u8, s8); }
  static I add16(I a, I b) { return _mm512_add_epi16(a, b); }
  static I add32(I a, I b) { return _mm512_add_epi32(a, b); }
  static F fma(F a, F b, F c) { return _mm512_fmadd_ps(a, b, c); }
};
#elif defined(__AVX2__) && defined(__FMA__)
struct Vec {
  static constexpr bool available = true;
  static constexpr const char* isa = "AVX2";
  using I = __m256i;
  using F = __m256;
  static constexpr int lanes32 = 8;
  static I splat16(std::int16_t v) { return _mm256_set1_epi16(v); }
  static I splat8(std::int8_t v) { return _mm256_set1_epi8(v); }
  static F splat(float v) { return _mm256_set1_ps(v); }
  static I madd16(I a, I b) { return _mm256_madd_epi16(a, b); }
  static I maddubs(I u8, I s8) { return _mm256_maddubs_epi16(u8, s8); }
  static I add16(I a, I b) { return _mm256_add_epi16(a, b); }
  static I add32(I a, I b) { return _mm256_add_epi32(a, b); }
  static F fma(F a, F b, F c) { return _mm256_fmadd_ps(a, b, c); }
};
#else
struct Vec {
  static constexpr bool available = false;
  static constexpr const char* isa = "none";
};
#endif

// Each probe runs `iters` iterations and returns the MACs it did. Chain counts: vpmaddwd and the FMA
// have 3–5 cycles of latency at up to 2 per cycle, so 6 and 10 chains keep every unit busy while
// inputs and accumulators still fit in 16 vector registers. The chain loops are unrolled by pragma:
// only then does GCC keep the arrays in registers (otherwise every accumulator goes through memory
// each iteration and the probe measures store forwarding).

template <class V>
double probe_madd16(std::int64_t iters) {
  constexpr int kChains = 6;
  typename V::I a = V::splat16(3), b[kChains], acc[kChains];
#pragma GCC unroll 16
  for (int j = 0; j < kChains; ++j) {
    b[j] = V::splat16(static_cast<std::int16_t>(j + 1));
    acc[j] = V::splat16(0);
  }
  for (std::int64_t i = 0; i < iters; ++i) {
    opaque(a);
#pragma GCC unroll 16
    for (int j = 0; j < kChains; ++j) {
      opaque(b[j]);
      acc[j] = V::add32(acc[j], V::madd16(a, b[j]));
    }
  }
#pragma GCC unroll 16
  for (int j = 0; j < kChains; ++j) opaque(acc[j]);
  return static_cast<double>(iters) * kChains * V::lanes32 * 2;
}

// kPaired: two quads' vpmaddubsw results added in int16 before the one widening (u8s8x2).
template <class V, bool kPaired>
double probe_u8s8(std::int64_t iters) {
  constexpr int kChains = 5;
  typename V::I a = V::splat8(3), a2 = V::splat8(5), ones = V::splat16(1), b[kChains], acc[kChains];
#pragma GCC unroll 16
  for (int j = 0; j < kChains; ++j) {
    b[j] = V::splat8(static_cast<std::int8_t>(j + 1));
    acc[j] = V::splat16(0);
  }
  for (std::int64_t i = 0; i < iters; ++i) {
    opaque(a);
    if constexpr (kPaired) opaque(a2);
#pragma GCC unroll 16
    for (int j = 0; j < kChains; ++j) {
      opaque(b[j]);
      typename V::I pairs = V::maddubs(a, b[j]);
      if constexpr (kPaired) pairs = V::add16(pairs, V::maddubs(a2, b[j]));
      acc[j] = V::add32(acc[j], V::madd16(pairs, ones));
    }
  }
#pragma GCC unroll 16
  for (int j = 0; j < kChains; ++j) opaque(acc[j]);
  return static_cast<double>(iters) * kChains * V::lanes32 * (kPaired ? 8 : 4);
}

template <class V>
double probe_fma32(std::int64_t iters) {
  constexpr int kChains = 10;
  // Accumulators grow by ~1e-3 per step: no overflow, no denormals within any trial.
  typename V::F a = V::splat(0.999f), b = V::splat(0.001f), acc[kChains];
#pragma GCC unroll 16
  for (int j = 0; j < kChains; ++j) acc[j] = V::splat(static_cast<float>(j));  // distinct, or they merge
  for (std::int64_t i = 0; i < iters; ++i) {
    opaque(a);
#pragma GCC unroll 16
    for (int j = 0; j < kChains; ++j) acc[j] = V::fma(a, b, acc[j]);
  }
#pragma GCC unroll 16
  for (int j = 0; j < kChains; ++j) opaque(acc[j]);
  return static_cast<double>(iters) * kChains * V::lanes32;
}

#if defined(__AVX512VNNI__)
inline double probe_vnni(std::int64_t iters) {
  constexpr int kChains = 10;
  __m512i a = _mm512_set1_epi8(3), b = _mm512_set1_epi8(-5), acc[kChains];
#pragma GCC unroll 16
  for (int j = 0; j < kChains; ++j) acc[j] = _mm512_set1_epi32(j);  // distinct, or they merge
  for (std::int64_t i = 0; i < iters; ++i) {
    opaque(a);
#pragma GCC unroll 16
    for (int j = 0; j < kChains; ++j) acc[j] = _mm512_dpbusd_epi32(acc[j], a, b);
  }
#pragma GCC unroll 16
  for (int j = 0; j < kChains; ++j) opaque(acc[j]);
  return static_cast<double>(iters) * kChains * 16 * 4;
}
#endif

#if defined(__AVX512BF16__)
inline double probe_bf16dot(std::int64_t iters) {
  constexpr int kChains = 10;
  const __m512bh a = _mm512_cvtne2ps_pbh(_mm512_set1_ps(0.5f), _mm512_set1_ps(0.25f));
  __m512bh b = _mm512_cvtne2ps_pbh(_mm512_set1_ps(0.001f), _mm512_set1_ps(0.002f));
  __m512 acc[kChains];
#pragma GCC unroll 16
  for (int j = 0; j < kChains; ++j) acc[j] = _mm512_set1_ps(static_cast<float>(j));
  for (std::int64_t i = 0; i < iters; ++i) {
    opaque(b);
#pragma GCC unroll 16
    for (int j = 0; j < kChains; ++j) acc[j] = _mm512_dpbf16_ps(acc[j], a, b);
  }
#pragma GCC unroll 16
  for (int j = 0; j < kChains; ++j) opaque(acc[j]);
  return static_cast<double>(iters) * kChains * 16 * 2;
}
#endif

// Best rate over `trials` runs of `iters` iterations, in GMAC/s.
template <class Probe>
double best_gmacs(Probe probe, std::int64_t iters = 1 << 16, int trials = 40) {
  probe(iters);  // warm-up: wakes the vector units and lifts the clock
  double best = 0;
  for (int t = 0; t < trials; ++t) {
    const auto t0 = std::chrono::steady_clock::now();
    const double macs = probe(iters);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    best = std::max(best, macs / s * 1e-9);
  }
  return best;
}

// A template so that the probes are only instantiated for a vector type that exists.
template <class V>
void add_vector_probes(std::vector<PeakProbe>& p) {
  if constexpr (V::available) {
    p.push_back({"madd16", "vpmaddwd+vpaddd (int16 pairs)", &probe_madd16<V>});
    p.push_back({"u8s8", "vpmaddubsw+vpmaddwd+vpaddd (u8*s8, int16-saturating)", &probe_u8s8<V, false>});
    p.push_back({"u8s8x2", "2 vpmaddubsw+vpaddw+vpmaddwd+vpaddd (paired quads)", &probe_u8s8<V, true>});
    p.push_back({"fma32", "vfmadd231ps (fp32)", &probe_fma32<V>});
  }
}
}  // namespace peak_detail

inline std::vector<PeakProbe> peak_probes() {
  std::vector<PeakProbe> p;
  peak_detail::add_vector_probes<peak_detail::Vec>(p);
#if defined(__AVX512VNNI__)
  p.push_back({"vnni", "vpdpbusd (AVX-512 VNNI u8*s8)", &peak_detail::probe_vnni});
#endif
#if defined(__AVX512BF16__)
  p.push_back({"bf16dot", "vdpbf16ps (AVX512-BF16)", &peak_detail::probe_bf16dot});
#endif
  return p;
}

inline const char* peak_isa() { return peak_detail::Vec::isa; }

// The measured peaks, probed once per process (about 0.1 s per probe).
inline const std::vector<Peak>& peaks() {
  static const std::vector<Peak> all = [] {
    std::vector<Peak> out;
    for (const PeakProbe& p : peak_probes()) out.push_back({p.name, p.instruction, peak_detail::best_gmacs(p.run)});
    return out;
  }();
  return all;
}

// The peak named `name`, or 0 when this build has no such probe.
inline double peak_gmacs(const std::string& name) {
  for (const Peak& p : peaks())
    if (p.name == name) return p.gmacs;
  return 0;
}

// The best int8 rate the core offers (VNNI when compiled for it, else the faster of the u8s8
// sequences): the ceiling for any int8 kernel, whatever instruction it is built on.
inline double int8_peak_gmacs() {
  return std::max({peak_gmacs("vnni"), peak_gmacs("u8s8"), peak_gmacs("u8s8x2")});
}

}  // namespace qnn_bench
