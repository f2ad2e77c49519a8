// Inputs for the tests that run the Fashion-MNIST example model (examples/fashion_mnist/) through a
// session: synthetic images, so that the tests need no data set; and the check that two sessions
// of it give the same bits.
#pragma once

#include <doctest/doctest.h>

#include <cstdint>
#include <cstring>

#include "qnn/core/tensor.hpp"

namespace fmnist_test {

// `batch` images [batch, 1, 28, 28] in [0, 1] from a fixed linear congruential sequence: the same on
// every run and platform.
inline qnn::Tensor images(std::int64_t batch, std::uint32_t seed) {
  qnn::Tensor t(qnn::DType::f32, qnn::Shape{batch, 1, 28, 28});
  std::uint32_t x = seed * 2654435761u + 1;
  for (float& v : t.span<float>()) {
    x = x * 1664525u + 1013904223u;
    v = static_cast<float>(x >> 8) / static_cast<float>(1u << 24);
  }
  return t;
}

inline bool same_bits(const qnn::Tensor& a, const qnn::Tensor& b) {
  return a.dtype() == b.dtype() && a.shape() == b.shape() && std::memcmp(a.raw(), b.raw(), a.bytes()) == 0;
}

// Checks that sessions `a` and `b` give the same output bits on batches of 1, 3 and 17 images (one
// full pixel block and tails).
template <class A, class B>
void check_same_runs(const A& a, const B& b, std::uint32_t seed) {
  for (const std::int64_t n : {1, 3, 17}) {
    const qnn::Tensor x = images(n, seed + static_cast<std::uint32_t>(n));
    INFO("batch ", n);
    CHECK(same_bits(a.run({x})[0], b.run({x})[0]));
  }
}

}  // namespace fmnist_test
