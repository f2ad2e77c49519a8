// Relu / Clip fused into the Conv, Gemm or MatMul before it: the producer clamps its own output
// (attributes qnn_activation = "relu" | "clip", qnn_clip_min, qnn_clip_max, in real units), which
// saves a pass over the tensor and, for quantized producers, is exactly the unfused result
// (docs/numerics.md §4.6). Applies when the producer's output has no other reader and Clip's bounds
// are constants.
#pragma once

#include <limits>
#include <string>
#include <vector>

#include "qnn/graph/graph.hpp"

namespace qnn::passes {

inline bool fusable_producer(const Node& n) {
  if (n.attrs.all().count("qnn_activation")) return false;
  if (n.domain.empty()) return n.op_type == "Conv" || n.op_type == "Gemm" || n.op_type == "MatMul";
  if (n.domain == "com.microsoft") return n.op_type == "QGemm";
  return false;
}

// The Clip bounds of `n` if they are known at preparation (attributes before opset 11, constant
// inputs after); false if a bound is not constant.
inline bool clip_bounds(const Graph& g, const Node& n, float& lo, float& hi) {
  lo = -std::numeric_limits<float>::infinity();
  hi = std::numeric_limits<float>::infinity();
  if (g.opset() < 11) {
    lo = n.attrs.get_float("min", lo);
    hi = n.attrs.get_float("max", hi);
    return true;
  }
  for (std::size_t i = 1; i <= 2; ++i) {
    if (!n.has_input(i)) continue;
    const Tensor* t = g.constant(n.inputs[i]);
    if (!t || t->dtype() != DType::f32 || t->numel() != 1) return false;
    (i == 1 ? lo : hi) = t->span<float>()[0];
  }
  return true;
}

inline int fuse_activations(Graph& g) {
  std::vector<bool> dead(g.nodes.size(), false);
  int fused = 0;
  for (std::size_t i = 0; i < g.nodes.size(); ++i) {
    const Node& act = g.nodes[i];
    if (!act.domain.empty() || (act.op_type != "Relu" && act.op_type != "Clip") || act.inputs.empty()) continue;
    const int p = g.producer(act.inputs[0]);
    if (p < 0 || dead[static_cast<std::size_t>(p)]) continue;
    Node& prod = g.nodes[static_cast<std::size_t>(p)];
    if (!fusable_producer(prod) || prod.outputs.size() != 1) continue;
    if (g.consumers(act.inputs[0]).size() != 1 || g.is_graph_output(act.inputs[0])) continue;
    const auto dt = g.value(act.inputs[0]).dtype;
    if (dt && *dt != DType::f32) continue;
    float lo = 0, hi = 0;
    if (act.op_type == "Clip") {
      if (!clip_bounds(g, act, lo, hi)) continue;
      prod.attrs.set("qnn_activation", std::string("clip"));
      prod.attrs.set("qnn_clip_min", lo);
      prod.attrs.set("qnn_clip_max", hi);
    } else {
      prod.attrs.set("qnn_activation", std::string("relu"));
    }
    prod.outputs[0] = act.outputs[0];
    dead[i] = true;
    ++fused;
  }
  g.erase_nodes(dead);
  return fused;
}

}  // namespace qnn::passes
