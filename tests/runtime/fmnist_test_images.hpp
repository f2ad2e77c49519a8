// Inputs for the tests that run the Fashion-MNIST example model (examples/fashion_mnist/) through a
// session: synthetic images, so that the tests need no data set.
#pragma once

#include <cstdint>

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

}  // namespace fmnist_test
