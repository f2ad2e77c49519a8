// The layer shapes both kernel benchmarks run (bench_kernels for qnn, bench_onednn for the peer),
// and the case names that pair their results in bench/report.py.
//
// Fashion-MNIST CNN (examples/fashion_mnist, BatchNorm folded):
//   conv1  1→32, 3×3, pad 1, 28×28 → 28×28        conv2  32→64, 3×3, no pad, 14×14 → 12×12
//   fc1    2304→600      fc2  600→120      fc3  120→10
// at batch 1 (latency) and 256 (throughput), plus square and FC-like GEMMs large enough to show a
// kernel's steady-state rate. The source zero point is what the quantized model has there: 0 after
// a ReLU (and for the image, whose range starts at 0), non-zero after the un-activated fc1/fc2; the
// standard GEMMs take a non-zero one, the general case.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace qnn_bench {

struct ConvCase {
  std::string name;  // "conv1/b256"
  std::int64_t n, c, h, w, m, k, pad;
  std::int32_t src_zero_point;
  std::int64_t oh() const { return h + 2 * pad - k + 1; }
  std::int64_t ow() const { return w + 2 * pad - k + 1; }
  double macs() const { return double(n) * double(m) * double(oh() * ow()) * double(c * k * k); }
};

// C[M,N] = A[M,K] · B[K,N]; B is the constant operand (the weights).
struct GemmCase {
  std::string name;  // "fc1/b1", "gemm/M256_K256_N256"
  std::int64_t m, k, n;
  std::int32_t src_zero_point;
  double macs() const { return double(m) * double(k) * double(n); }
};

inline constexpr std::int64_t kBatches[] = {1, 256};

inline std::vector<ConvCase> conv_cases() {
  std::vector<ConvCase> v;
  for (const std::int64_t b : kBatches) {
    const std::string sb = "/b" + std::to_string(b);
    v.push_back({"conv1" + sb, b, 1, 28, 28, 32, 3, 1, 0});
    v.push_back({"conv2" + sb, b, 32, 14, 14, 64, 3, 0, 0});
  }
  return v;
}

inline std::vector<GemmCase> gemm_cases() {
  std::vector<GemmCase> v;
  for (const std::int64_t b : kBatches) {
    const std::string sb = "/b" + std::to_string(b);
    v.push_back({"fc1" + sb, b, 2304, 600, 0});
    v.push_back({"fc2" + sb, b, 600, 120, 131});
    v.push_back({"fc3" + sb, b, 120, 10, 117});
  }
  for (const auto& [m, k, n] : {std::array<std::int64_t, 3>{256, 256, 256}, {1024, 1024, 1024}, {512, 2304, 600}})
    v.push_back({"gemm/M" + std::to_string(m) + "_K" + std::to_string(k) + "_N" + std::to_string(n), m, k, n, 128});
  return v;
}

}  // namespace qnn_bench
