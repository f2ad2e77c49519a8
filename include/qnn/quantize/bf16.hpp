// The BF16 configuration: Conv, Gemm and MatMul compute on bfloat16 operands with float32
// accumulation, everything else stays float32 (what Quark's BF16 preset and Ryzen AI's automatic
// FP32→BF16 conversion do).
//
// In the ONNX file this is written as ONNX Runtime runs it: each weight is stored as a bfloat16
// initializer followed by Cast(to=float), and each activation input passes through
// Cast(to=bfloat16) → Cast(to=float). Both casts are exact except the rounding to bfloat16 (round
// to nearest even, docs/numerics.md §3), so the float Conv/Gemm/MatMul then sees exactly the bf16
// operands — the same numbers qnn's bf16 kernels compute with.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "qnn/core/tensor.hpp"
#include "qnn/graph/graph.hpp"
#include "qnn/quantize/config.hpp"
#include "qnn/quantize/plan.hpp"
#include "qnn/runtime/session.hpp"

namespace qnn::quant {

struct Bf16Result {
  Graph graph;
  std::vector<std::string> log;
};

inline Bf16Result convert_bf16(const Graph& model, const QuantConfig& cfg) {
  Bf16Result r;
  Graph g = model;
  prepare_float_graph(g);
  constexpr std::int64_t kFloat = 1, kBfloat16 = 16;  // ONNX TensorProto data types
  auto cast = [](const std::string& name, const std::string& in, const std::string& out, std::int64_t to) {
    Node n;
    n.name = name;
    n.op_type = "Cast";
    n.inputs = {in};
    n.outputs = {out};
    n.attrs.set("to", to);
    return n;
  };
  std::vector<Node> added;
  std::map<std::string, std::string> rounded;  // activation -> its bf16-rounded copy
  for (Node& n : g.nodes) {
    if (role_of(n) != NodeRole::compute || excluded(cfg, n)) continue;
    for (std::size_t i = 0; i < std::min<std::size_t>(2, n.inputs.size()); ++i) {
      const std::string in = n.inputs[i];
      if (in.empty()) continue;
      if (const Tensor* c = g.constant(in)) {
        if (c->dtype() != DType::f32) continue;
        Tensor b(DType::bf16, c->shape());
        auto dst = b.span<bf16>();
        const auto src = c->span<float>();
        for (std::size_t k = 0; k < src.size(); ++k) dst[k] = bf16(src[k]);
        const std::string bn = g.add_constant(in + "_bf16", std::move(b));
        const std::string fn = g.unique_name(in + "_bf16_as_float");
        g.value(fn).dtype = DType::f32;
        added.push_back(cast(in + "_Cast", bn, fn, kFloat));
        n.inputs[i] = fn;
        continue;
      }
      auto it = rounded.find(in);
      if (it == rounded.end()) {
        const std::string b = g.unique_name(in + "_bf16");
        const std::string f = g.unique_name(in + "_bf16_as_float");
        g.value(b).dtype = DType::bf16;
        g.value(f).dtype = DType::f32;
        added.push_back(cast(in + "_CastToBf16", in, b, kBfloat16));
        added.push_back(cast(in + "_CastToFloat", b, f, kFloat));
        it = rounded.emplace(in, f).first;
      }
      n.inputs[i] = it->second;
    }
    r.log.push_back(qnn::detail::cat("bf16: ", n.op_type, " '", n.name, "' computes on bfloat16 operands"));
  }
  check(!added.empty(), "bf16: the model has no Conv, Gemm or MatMul to convert");
  for (Node& n : added) g.nodes.push_back(std::move(n));
  g.topological_sort();
  g.prune_values();
  r.graph = std::move(g);
  return r;
}

}  // namespace qnn::quant
