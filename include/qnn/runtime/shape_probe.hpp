// Shape inference by probing, and the folding it enables.
//
// Every kernel already computes its output shapes from its inputs; rather than restate each op's
// shape rule symbolically, the session runs the (partly optimized) graph twice while preparing,
// with zero inputs whose dynamic batch axis is 1 and then 2, and records every value. A dim equal in
// both runs is static; one that differs depends on the batch. That gives:
//   - Value::dims for every value (kDynamicDim where batch-dependent), for reports and passes;
//   - folding of PyTorch's flatten chain: Reshape(x, Concat(Unsqueeze(Gather(Shape(x), 0)), [-1]))
//     has a shape input that is [1,-1] at batch 1 and [2,-1] at batch 2; an entry that tracks the
//     batch exactly where x's own dim does is "copy that dim" (0 in ONNX Reshape), so the Reshape
//     gets the constant shape [0,-1] and the Shape→Gather→Unsqueeze→Concat chain becomes dead.
// Models whose inputs have dynamic axes other than the first are not probed (their sizes are not
// batch-like); they run correctly, just without this folding.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "qnn/core/tensor.hpp"
#include "qnn/graph/graph.hpp"

namespace qnn {

struct ShapeProbe {
  std::map<std::string, Tensor> batch1;
  std::map<std::string, Tensor> batch2;
};

// Runs a graph at batch 1 and 2 and returns every value, or nullopt when it cannot be probed.
using ShapeProber = std::function<std::optional<ShapeProbe>(const Graph&)>;

// Inputs for one probe run: zeros, with the dynamic first axis set to `batch`; nullopt if an input
// has an unknown type or rank, or a dynamic axis other than the first.
inline std::optional<std::vector<Tensor>> probe_inputs(const Graph& g, std::int64_t batch) {
  std::vector<Tensor> ins;
  for (const auto& name : g.inputs) {
    const Value& v = g.value(name);
    if (!v.dtype || !v.dims) return std::nullopt;
    Shape s;
    for (std::size_t a = 0; a < v.dims->size(); ++a) {
      const std::int64_t d = (*v.dims)[a];
      if (d == kDynamicDim && a != 0) return std::nullopt;
      s.push_back(d == kDynamicDim ? batch : d);
    }
    ins.emplace_back(*v.dtype, s);
  }
  return ins;
}

inline void annotate_shapes(Graph& g, const ShapeProbe& p) {
  for (auto& [name, v] : g.values) {
    if (v.constant) continue;
    auto a = p.batch1.find(name);
    auto b = p.batch2.find(name);
    if (a == p.batch1.end() || b == p.batch2.end()) continue;
    const Shape& s1 = a->second.shape();
    const Shape& s2 = b->second.shape();
    if (s1.rank() != s2.rank()) continue;
    std::vector<std::int64_t> dims;
    for (int i = 0; i < s1.rank(); ++i) dims.push_back(s1[i] == s2[i] ? s1[i] : kDynamicDim);
    v.dims = dims;
    v.dtype = a->second.dtype();
  }
}

// Replaces the computed shape input of each Reshape by a constant when every entry is either the
// same at both batch sizes or equal to the data input's dim at the same position in both runs.
inline int fold_dynamic_reshapes(Graph& g, const ShapeProbe& p) {
  int folded = 0;
  for (Node& n : g.nodes) {
    if (!n.domain.empty() || n.op_type != "Reshape" || n.inputs.size() < 2 || g.is_constant(n.inputs[1])) continue;
    if (n.attrs.get_int("allowzero", 0) != 0) continue;  // 0 would then mean a literal zero
    const auto s1 = p.batch1.find(n.inputs[1]);
    const auto s2 = p.batch2.find(n.inputs[1]);
    const auto x1 = p.batch1.find(n.inputs[0]);
    const auto x2 = p.batch2.find(n.inputs[0]);
    if (s1 == p.batch1.end() || s2 == p.batch2.end() || x1 == p.batch1.end() || x2 == p.batch2.end()) continue;
    if (s1->second.dtype() != DType::i64 || !(s1->second.shape() == s2->second.shape())) continue;
    const auto a = s1->second.span<std::int64_t>();
    const auto b = s2->second.span<std::int64_t>();
    const Shape& xs1 = x1->second.shape();
    const Shape& xs2 = x2->second.shape();
    std::vector<std::int64_t> fixed;
    bool ok = true;
    for (std::size_t i = 0; i < a.size() && ok; ++i) {
      const int ax = static_cast<int>(i);
      if (a[i] == b[i]) {
        fixed.push_back(a[i]);  // the same constant (a 0 keeps meaning "copy the input dim")
      } else if (ax < xs1.rank() && ax < xs2.rank() && a[i] == xs1[ax] && b[i] == xs2[ax]) {
        fixed.push_back(0);
      } else {
        ok = false;
      }
    }
    if (!ok) continue;
    n.inputs[1] = g.add_constant(n.name + "_shape", Tensor::from<std::int64_t>(
                                                        Shape{static_cast<std::int64_t>(fixed.size())},
                                                        std::span<const std::int64_t>(fixed)));
    ++folded;
  }
  return folded;
}

}  // namespace qnn
