// Reference GEMM and batched MatMul.
//
// c[i,j] = finish( init(j) + Σ_k mac(a[i,k], b[k,j]) ), k ascending. The channel of the
// arithmetic is the column j: per-channel weights and biases of a fully connected layer run along N.
// Transposes are views: pass a.permuted({1,0}) for Aᵀ, so one loop serves Gemm's transA/transB,
// a fully connected layer with N×K weights, and MatMul.
//
// matmul() applies NumPy broadcasting over the leading (batch) axes of rank ≥ 2 operands, which is
// what ONNX MatMul, MatMulInteger and QLinearMatMul specify; 1-D operands are promoted as in NumPy
// by the caller (the MatMul op reshapes them).
#pragma once

#include <cstdint>

#include "qnn/core/error.hpp"
#include "qnn/core/tensor.hpp"
#include "qnn/kernels/ref/arith.hpp"

namespace qnn::ref {

template <class Arith, class TA, class TB, class TC>
void gemm(TensorView<const TA> a, TensorView<const TB> b, TensorView<TC> c, const Arith& arith) {
  check(a.rank() == 2 && b.rank() == 2 && c.rank() == 2, "gemm: operands must be 2-D, got ",
        a.shape(), " ", b.shape(), " ", c.shape());
  const std::int64_t M = a.dim(0), K = a.dim(1), N = b.dim(1);
  check(b.dim(0) == K, "gemm: A is ", a.shape(), " but B is ", b.shape());
  check(c.dim(0) == M && c.dim(1) == N, "gemm: C is ", c.shape(), ", expected [", M, ",", N, "]");
  for (std::int64_t i = 0; i < M; ++i) {
    for (std::int64_t j = 0; j < N; ++j) {
      auto acc = arith.init(j);
      for (std::int64_t k = 0; k < K; ++k) acc = arith.mac(acc, a(i, k), b(k, j), j);
      c(i, j) = arith.finish(acc, j);
    }
  }
}

// Shape of NumPy-broadcast batched matmul of a (…, M, K) and b (…, K, N).
inline Shape matmul_output_shape(const Shape& a, const Shape& b) {
  check(a.rank() >= 2 && b.rank() >= 2, "matmul: operands must have rank >= 2, got ", a, " and ", b);
  check(a.dim(-1) == b.dim(-2), "matmul: inner dimensions differ: ", a, " x ", b);
  const int r = std::max(a.rank(), b.rank());
  Shape out;
  for (int i = 0; i < r - 2; ++i) {
    const int ia = i - (r - a.rank());
    const int ib = i - (r - b.rank());
    const std::int64_t da = ia >= 0 ? a[ia] : 1;
    const std::int64_t db = ib >= 0 ? b[ib] : 1;
    check(da == db || da == 1 || db == 1, "matmul: batch dimensions ", a, " and ", b, " do not broadcast");
    out.push_back(da == 1 ? db : da);
  }
  out.push_back(a.dim(-2));
  out.push_back(b.dim(-1));
  return out;
}

namespace detail {
// The 2-D slice of `v` at batch index `bidx` (of the broadcast batch shape), broadcasting axes of
// extent 1.
template <class T>
TensorView<T> batch_slice(const TensorView<T>& v, const Shape& batch, const std::array<std::int64_t, Shape::kMaxRank>& bidx) {
  const int offset = batch.rank() - (v.rank() - 2);
  std::int64_t off = 0;
  for (int i = 0; i < v.rank() - 2; ++i) {
    const std::int64_t idx = v.shape()[i] == 1 ? 0 : bidx[static_cast<std::size_t>(i + offset)];
    off += idx * v.strides()[static_cast<std::size_t>(i)];
  }
  typename TensorView<T>::Strides st{};
  st[0] = v.strides()[static_cast<std::size_t>(v.rank() - 2)];
  st[1] = v.strides()[static_cast<std::size_t>(v.rank() - 1)];
  return TensorView<T>(v.data() + off, Shape{v.dim(-2), v.dim(-1)}, st);
}
}  // namespace detail

template <class Arith, class TA, class TB, class TC>
void matmul(TensorView<const TA> a, TensorView<const TB> b, TensorView<TC> c, const Arith& arith) {
  const Shape out = matmul_output_shape(a.shape(), b.shape());
  check(c.shape() == out, "matmul: output ", c.shape(), " should be ", out);
  Shape batch;
  for (int i = 0; i < out.rank() - 2; ++i) batch.push_back(out[i]);
  for_each_index(batch, [&](const auto& bidx) {
    gemm(detail::batch_slice(a, batch, bidx), detail::batch_slice(b, batch, bidx),
         detail::batch_slice(c, batch, bidx), arith);
  });
}

}  // namespace qnn::ref
