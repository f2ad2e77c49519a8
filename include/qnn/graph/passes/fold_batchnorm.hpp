// BatchNormalization folded into the Conv or Gemm before it.
//
// y = γ·(conv(x) − μ)/√(σ² + ε) + β = conv'(x) with, per output channel c,
//   W'[c] = W[c]·k[c],  b'[c] = (b[c] − μ[c])·k[c] + β[c],  k[c] = γ[c]/√(σ²[c] + ε)
// computed in double and rounded once to fp32. It applies when the producer is a float Conv (or a
// Gemm whose output channel is its column: BatchNorm1d after Linear) with constant weights and
// bias, it has no other reader, and all BN parameters are constants. A BN with nothing to fold into
// stays and runs as its own op.
#pragma once

#include <cmath>
#include <string>
#include <vector>

#include "qnn/core/error.hpp"
#include "qnn/core/tensor.hpp"
#include "qnn/graph/graph.hpp"
#include "qnn/graph/passes/fuse_into_producer.hpp"

namespace qnn::passes {

namespace detail {
inline std::vector<double> bn_factor(const Tensor& scale, const Tensor& var, float eps) {
  const auto g = scale.span<float>();
  const auto v = var.span<float>();
  std::vector<double> k(g.size());
  for (std::size_t c = 0; c < g.size(); ++c) k[c] = double{g[c]} / std::sqrt(double{v[c]} + double{eps});
  return k;
}

inline bool all_f32_constants(const Graph& g, const Node& n, std::size_t first, std::size_t last) {
  for (std::size_t i = first; i <= last; ++i) {
    const Tensor* t = n.has_input(i) ? g.constant(n.inputs[i]) : nullptr;
    if (!t || t->dtype() != DType::f32) return false;
  }
  return true;
}
}  // namespace detail

inline int fold_batchnorm(Graph& g) {
  return fuse_into_producer(g, [&](Node& prod, const Node& bn) {
    if (!bn.domain.empty() || bn.op_type != "BatchNormalization" || bn.inputs.size() != 5) return false;
    if (bn.outputs.size() > 1) return false;  // training outputs requested
    if (bn.attrs.get_int("training_mode", 0) != 0) return false;
    if (!detail::all_f32_constants(g, bn, 1, 4)) return false;
    if (!prod.domain.empty()) return false;
    const bool conv = prod.op_type == "Conv";
    const bool gemm = prod.op_type == "Gemm";
    if (!conv && !gemm) return false;
    const Tensor* w = prod.has_input(1) ? g.constant(prod.inputs[1]) : nullptr;
    if (!w || w->dtype() != DType::f32) return false;
    const Tensor* b = prod.has_input(2) ? g.constant(prod.inputs[2]) : nullptr;
    if (prod.has_input(2) && (!b || b->dtype() != DType::f32)) return false;
    if (gemm && (prod.attrs.get_float("alpha", 1.0f) != 1.0f || prod.attrs.get_float("beta", 1.0f) != 1.0f ||
                 prod.attrs.get_int("transA", 0) != 0))
      return false;

    const Tensor& gamma = *g.constant(bn.inputs[1]);
    const Tensor& beta = *g.constant(bn.inputs[2]);
    const Tensor& mean = *g.constant(bn.inputs[3]);
    const Tensor& var = *g.constant(bn.inputs[4]);
    const std::int64_t channels = gamma.numel();
    const bool trans_b = gemm && prod.attrs.get_int("transB", 0) != 0;
    const int ch_axis = conv ? 0 : (trans_b ? 0 : 1);
    if (w->shape().rank() < 2 || w->shape()[ch_axis] != channels) return false;
    if (beta.numel() != channels || mean.numel() != channels || var.numel() != channels) return false;
    if (b && b->numel() != channels) return false;

    const auto k = detail::bn_factor(gamma, var, bn.attrs.get_float("epsilon", 1e-5f));
    Tensor w2 = *w;  // the model's tensor stays as it was; the folded copy replaces the reference
    auto wv = w2.span<float>();
    const std::int64_t inner = w2.numel() / w2.shape()[0];
    for (std::int64_t idx = 0; idx < w2.numel(); ++idx) {
      const std::int64_t c = ch_axis == 0 ? idx / inner : idx % w2.shape()[1];
      wv[static_cast<std::size_t>(idx)] =
          static_cast<float>(double{wv[static_cast<std::size_t>(idx)]} * k[static_cast<std::size_t>(c)]);
    }
    Tensor b2(DType::f32, Shape{channels});
    auto bv = b2.span<float>();
    for (std::int64_t c = 0; c < channels; ++c) {
      const auto u = static_cast<std::size_t>(c);
      const double bias = b ? double{b->span<float>()[u]} : 0.0;
      bv[u] = static_cast<float>((bias - double{mean.span<float>()[u]}) * k[u] + double{beta.span<float>()[u]});
    }
    const std::string wname = g.add_constant(prod.inputs[1] + "_bn_folded", std::move(w2));
    const std::string bname = g.add_constant(bn.name + "_bias_folded", std::move(b2));
    prod.inputs[1] = wname;
    if (prod.inputs.size() < 3) prod.inputs.resize(3);
    prod.inputs[2] = bname;
    // fuse_into_producer gives the producer the BN's output name: graph outputs and readers are unchanged.
    return true;
  });
}

}  // namespace qnn::passes
