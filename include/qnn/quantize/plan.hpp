// Which tensors of a float graph get quantized, and how (docs/quantization.md, "What is quantized").
//
//   compute   Conv, Gemm, MatMul           activation inputs, outputs; constant weights (int8) and
//                                           biases (int32 at s_x·s_w)
//   binary    Add, Mul                     both inputs (a constant input is quantized from its
//                                           values), output
//   requant   AveragePool, GlobalAveragePool, Concat, Sigmoid, LeakyRelu, HardSigmoid, HardSwish,
//             Tanh, Relu, Clip              inputs, output
//   movement  MaxPool, Reshape, Flatten, Transpose, Squeeze, Unsqueeze
//                                           quantized when a neighbour is; output shares the
//                                           input's parameters (exact, and what NPUs require)
// A Relu or Clip whose input comes only from a compute node is folded into that node's output
// quantization when activations are asymmetric (the clamp is then the quantization range itself,
// as ONNX Runtime does); with symmetric activations (which keep negative values) it stays, between
// the compute node and its QuantizeLinear, and qnn fuses it into the integer kernel.
// Everything else stays float; nodes excluded by the configuration stay float and read float.
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "qnn/graph/graph.hpp"
#include "qnn/quantize/config.hpp"

namespace qnn::quant {

enum class NodeRole : std::uint8_t { none, compute, binary, requant, movement };

inline NodeRole role_of(const Node& n) {
  if (!n.domain.empty()) return NodeRole::none;
  const std::string& t = n.op_type;
  if (t == "Conv" || t == "Gemm" || t == "MatMul") return NodeRole::compute;
  if (t == "Add" || t == "Mul") return NodeRole::binary;
  if (t == "AveragePool" || t == "GlobalAveragePool" || t == "Concat" || t == "Sigmoid" || t == "LeakyRelu" ||
      t == "HardSigmoid" || t == "HardSwish" || t == "Tanh" || t == "Relu" || t == "Clip")
    return NodeRole::requant;
  if (t == "MaxPool" || t == "Reshape" || t == "Flatten" || t == "Transpose" || t == "Squeeze" || t == "Unsqueeze")
    return NodeRole::movement;
  return NodeRole::none;
}

struct Plan {
  std::set<std::string> tensors;                // activation tensors that get Q→DQ
  std::map<std::string, std::string> same_as;   // movement output -> its input (shared params)
  std::set<std::size_t> nodes;                  // quantized node indices
  std::set<std::size_t> folded_activations;     // Relu/Clip folded into their producer's range
  std::set<std::size_t> kept_activations;       // Relu/Clip kept between a compute node and its Q
  std::set<std::string> unquantized;            // compute outputs that feed a kept activation

  // The tensor whose calibrated parameters `t` uses.
  std::string root(std::string t) const {
    for (auto it = same_as.find(t); it != same_as.end(); it = same_as.find(t)) t = it->second;
    return t;
  }
};

inline bool excluded(const QuantConfig& cfg, const Node& n) {
  return cfg.exclude_nodes.count(n.name) || cfg.exclude_op_types.count(n.op_type);
}

inline Plan plan_quantization(const Graph& g, const QuantConfig& cfg) {
  Plan plan;
  auto activation = [&](const std::string& v) {
    if (v.empty() || g.is_constant(v)) return;
    const Value& val = g.value(v);
    if (val.dtype && *val.dtype != DType::f32) return;
    plan.tensors.insert(v);
  };
  // Relu/Clip reading a compute node's only output, with no other reader.
  auto activation_after_compute = [&](std::size_t i) -> bool {
    const Node& n = g.nodes[i];
    if (n.op_type != "Relu" && n.op_type != "Clip") return false;
    if (n.op_type == "Clip" && (g.opset() < 11 ? false : (n.has_input(1) && !g.is_constant(n.inputs[1])) ||
                                                             (n.has_input(2) && !g.is_constant(n.inputs[2]))))
      return false;
    const int p = g.producer(n.inputs[0]);
    if (p < 0 || g.consumers(n.inputs[0]).size() != 1 || g.is_graph_output(n.inputs[0])) return false;
    const Node& prod = g.nodes[static_cast<std::size_t>(p)];
    return role_of(prod) == NodeRole::compute && !excluded(cfg, prod);
  };

  for (std::size_t i = 0; i < g.nodes.size(); ++i) {
    const Node& n = g.nodes[i];
    const NodeRole r = role_of(n);
    if (r == NodeRole::none || r == NodeRole::movement || excluded(cfg, n)) continue;
    if (r == NodeRole::compute) {
      // Weights must be constant for Conv/Gemm; MatMul may multiply two activations.
      if (n.op_type != "MatMul" && !(n.has_input(1) && g.is_constant(n.inputs[1]))) continue;
      if (n.op_type == "Gemm" && (n.attrs.get_float("alpha", 1.0f) != 1.0f || n.attrs.get_float("beta", 1.0f) != 1.0f))
        continue;
      activation(n.inputs[0]);
      if (n.op_type == "MatMul" && !g.is_constant(n.inputs[1])) activation(n.inputs[1]);
      activation(n.outputs[0]);
      plan.nodes.insert(i);
      continue;
    }
    if (activation_after_compute(i)) {
      if (cfg.activation.symmetric) {
        plan.kept_activations.insert(i);
        plan.unquantized.insert(n.inputs[0]);
      } else {
        plan.folded_activations.insert(i);
      }
      activation(n.outputs[0]);
      plan.nodes.insert(i);
      continue;
    }
    for (const auto& in : n.inputs)
      if (r != NodeRole::requant || n.op_type != "Clip" || &in == &n.inputs[0]) activation(in);
    activation(n.outputs[0]);
    plan.nodes.insert(i);
  }
  // A compute output feeding a kept or folded activation is not quantized itself.
  for (std::size_t i : plan.kept_activations) plan.tensors.erase(g.nodes[i].inputs[0]);
  for (std::size_t i : plan.folded_activations) plan.tensors.erase(g.nodes[i].inputs[0]);

  // Movement ops join when a neighbour is quantized, sharing their input's parameters.
  for (bool changed = true; changed;) {
    changed = false;
    for (std::size_t i = 0; i < g.nodes.size(); ++i) {
      const Node& n = g.nodes[i];
      if (role_of(n) != NodeRole::movement || excluded(cfg, n) || plan.nodes.count(i)) continue;
      if (n.op_type == "MaxPool" && n.outputs.size() > 1 && !n.outputs[1].empty()) continue;
      const std::string& in = n.inputs[0];
      const std::string& out = n.outputs[0];
      if (!(plan.tensors.count(in) || plan.tensors.count(out))) continue;
      const Value& iv = g.value(in);
      if ((iv.dtype && *iv.dtype != DType::f32) || g.is_constant(in)) continue;
      plan.tensors.insert(in);
      plan.tensors.insert(out);
      plan.same_as[out] = in;
      plan.nodes.insert(i);
      changed = true;
    }
  }
  return plan;
}

}  // namespace qnn::quant
