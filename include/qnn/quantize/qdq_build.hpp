// Building the QDQ graph from a float graph, a quantization plan and the chosen parameters.
//
// Every quantized activation t gets QuantizeLinear(t) → DequantizeLinear, and its readers read the
// dequantized value (nodes excluded by the configuration keep reading the float t). A quantized
// graph output keeps its name on the DequantizeLinear, so the model's interface does not change.
// Weights become int8 initializers (per channel along the output-channel axis, or per tensor)
// behind a DequantizeLinear; biases int32 at s_x·s_w[c] behind another. Names follow ONNX
// Runtime's quantizer (t_quantized, t_scale, t_zero_point, t_QuantizeLinear_Output, ...), so a
// user who knows those files finds their way.
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "qnn/core/error.hpp"
#include "qnn/graph/graph.hpp"
#include "qnn/quantize/config.hpp"
#include "qnn/quantize/plan.hpp"
#include "qnn/quantize/qparams.hpp"
#include "qnn/quantize/quantizer.hpp"
#include "qnn/quantize/xint8.hpp"

namespace qnn::quant {

inline int weight_axis(const Graph& g, const Node& n) {
  if (n.op_type == "Conv") return 0;
  if (n.op_type == "Gemm") return n.attrs.get_int("transB", 0) ? 0 : 1;
  (void)g;
  return 1;  // MatMul: K×N, one scale per output column
}

inline Graph build_qdq(const Graph& f, const Plan& plan, const std::map<std::string, QParams>& params,
                       const QuantConfig& cfg, std::vector<std::string>& log) {
  Graph g = f;
  check(g.opset("") >= 10, "the model uses ONNX opset ", g.opset(""), "; QDQ quantization needs opset 10 or newer");
  check(!cfg.per_channel || g.opset("") >= 13, "per-channel quantization needs ONNX opset 13 (the model has ",
        g.opset(""), "): re-export the model with opset 13, or quantize per tensor");
  const std::string qdomain = detail::qdq_domain(cfg.activation.storage);
  if (!qdomain.empty() && !g.opsets.count(qdomain)) g.opsets[qdomain] = 1;
  const Rounding wround = cfg.preset == Preset::xint8 ? Rounding::half_away : Rounding::half_even;
  std::vector<bool> dead(g.nodes.size(), false);
  std::vector<Node> added;

  // Folded activations: the compute node now writes the activation's output.
  for (std::size_t i : plan.folded_activations) {
    const Node& act = g.nodes[i];
    const int p = g.producer(act.inputs[0]);
    check(p >= 0, "internal: folded activation without producer");
    Node& prod = g.nodes[static_cast<std::size_t>(p)];
    log.push_back(qnn::detail::cat("folded ", act.op_type, " '", act.name, "' into the output quantization of '", prod.name,
                              "' (asymmetric activations clip at the zero point, which is the activation)"));
    prod.outputs[0] = act.outputs[0];
    dead[i] = true;
  }

  // Weights and biases.
  for (std::size_t i : plan.nodes) {
    Node& n = g.nodes[i];
    if (role_of(n) != NodeRole::compute || !n.has_input(1) || !g.is_constant(n.inputs[1])) continue;
    const Tensor w = *g.constant(n.inputs[1]);
    const int axis = weight_axis(g, n);
    QuantizedWeight qw = quantize_weight(w, axis, cfg.per_channel, cfg.weight, wround);
    if (cfg.preset == Preset::xint8) {
      // shift_cut: the output's parameters sit on n's output, or on the kept activation after it.
      auto out = params.find(n.outputs[0]);
      if (out == params.end()) {
        const auto users = g.consumers(n.outputs[0]);
        if (users.size() == 1) out = params.find(g.nodes[static_cast<std::size_t>(users[0])].outputs[0]);
      }
      if (out != params.end()) {
        const int wpos = pos_of(qw.scales[0]);
        const int fixed = xint8_shift_cut(n.name, wpos, pos_of(params.at(n.inputs[0]).scale), pos_of(out->second.scale), log);
        if (fixed != wpos) qw = quantize_weight(w, axis, cfg.per_channel, cfg.weight, wround, scale_of(fixed));
      }
    }
    const bool vec = qw.scales.size() > 1;
    const std::string base = n.inputs[1];
    const std::string wq = g.add_constant(base + "_quantized", qw.q);
    const std::string ws = g.add_constant(base + "_scale", detail::scale_tensor(qw.scales));
    const std::string wz = g.add_constant(
        base + "_zero_point", detail::zero_point_tensor(DType::i8, std::vector<std::int32_t>(qw.scales.size(), 0), vec));
    const std::string wdq = g.unique_name(base + "_DequantizeLinear_Output");
    added.push_back(detail::qdq_node("DequantizeLinear", base + "_DequantizeLinear", "", {wq, ws, wz}, wdq, vec ? axis : -1));
    n.inputs[1] = wdq;
    if (n.has_input(2) && g.is_constant(n.inputs[2])) {
      const Tensor b = *g.constant(n.inputs[2]);
      const QParams xp = params.at(n.inputs[0]);
      std::vector<float> bscales;
      const Tensor bq = quantize_bias(b, xp.scale, qw.scales, bscales);
      const bool bvec = bscales.size() > 1 && vec;
      if (!bvec) bscales.resize(1);
      const std::string bb = n.inputs[2];
      const std::string bqn = g.add_constant(bb + "_quantized", bq);
      const std::string bs = g.add_constant(bb + "_scale", detail::scale_tensor(bscales));
      const std::string bz = g.add_constant(
          bb + "_zero_point", detail::zero_point_tensor(DType::i32, std::vector<std::int32_t>(bscales.size(), 0), bvec));
      const std::string bdq = g.unique_name(bb + "_DequantizeLinear_Output");
      added.push_back(detail::qdq_node("DequantizeLinear", bb + "_DequantizeLinear", "", {bqn, bs, bz}, bdq, bvec ? 0 : -1));
      n.inputs[2] = bdq;
    }
  }

  // Constant inputs of binary ops: quantized from their own values with the activation target.
  for (std::size_t i : plan.nodes) {
    Node& n = g.nodes[i];
    if (role_of(n) != NodeRole::binary) continue;
    for (auto& in : n.inputs) {
      const Tensor* c = g.constant(in);
      if (!c || c->dtype() != DType::f32) continue;
      double lo = 0, hi = 0;
      for (float v : c->span<float>()) lo = std::min(lo, double{v}), hi = std::max(hi, double{v});
      const QParams p = qparams_from_range(lo, hi, cfg.activation);
      Tensor q(cfg.activation.storage, c->shape());
      visit_dtype(cfg.activation.storage, [&](auto t) {
        using T = decltype(t);
        if constexpr (QuantStorage<T>) {
          auto out = q.span<T>();
          for (std::size_t k = 0; k < out.size(); ++k) out[k] = quantize_value<T>(c->span<float>()[k], p.scale, p.zero_point);
        }
      });
      const std::string qn = g.add_constant(in + "_quantized", std::move(q));
      const std::string sn = g.add_constant(in + "_scale", Tensor::scalar(p.scale));
      const std::string zn = g.add_constant(in + "_zero_point", detail::zero_point_tensor(cfg.activation.storage, {p.zero_point}, false));
      const std::string dq = g.unique_name(in + "_DequantizeLinear_Output");
      added.push_back(detail::qdq_node("DequantizeLinear", in + "_DequantizeLinear", qdomain, {qn, sn, zn}, dq));
      in = dq;
    }
  }

  // Activations.
  std::set<std::size_t> float_readers;
  for (std::size_t i = 0; i < g.nodes.size(); ++i)
    if (excluded(cfg, g.nodes[i])) float_readers.insert(i);
  for (const std::string& t : plan.tensors) {
    const QParams& p = params.at(t);
    const std::string sn = g.add_constant(t + "_scale", Tensor::scalar(p.scale));
    const std::string zn = g.add_constant(t + "_zero_point", detail::zero_point_tensor(cfg.activation.storage, {p.zero_point}, false));
    std::string src = t;
    std::string dq;
    if (g.is_graph_output(t)) {
      // The model's output keeps its name: the producer writes a new name, the DQ writes t.
      const int p_idx = g.producer(t);
      check(p_idx >= 0, "graph output '", t, "' is a graph input; nothing to quantize");
      src = g.unique_name(t + "_float");
      for (auto& o : g.nodes[static_cast<std::size_t>(p_idx)].outputs)
        if (o == t) o = src;
      for (std::size_t i = 0; i < g.nodes.size(); ++i)
        for (auto& in : g.nodes[i].inputs)
          if (in == t && float_readers.count(i)) in = src;
      g.value(src).dtype = DType::f32;
      dq = t;
    } else {
      dq = g.unique_name(t + "_DequantizeLinear_Output");
      for (std::size_t i = 0; i < g.nodes.size(); ++i)
        if (!float_readers.count(i) && !dead[i])
          for (auto& in : g.nodes[i].inputs)
            if (in == t) in = dq;
    }
    const std::string q = g.unique_name(t + "_QuantizeLinear_Output");
    g.value(q).dtype = cfg.activation.storage;
    g.value(dq).dtype = DType::f32;
    added.push_back(detail::qdq_node("QuantizeLinear", t + "_QuantizeLinear", qdomain, {src, sn, zn}, q));
    added.push_back(detail::qdq_node("DequantizeLinear", t + "_DequantizeLinear", qdomain, {q, sn, zn}, dq));
  }

  // New nodes join before dead ones go: erase_nodes prunes values no node refers to.
  for (Node& n : added) {
    g.nodes.push_back(std::move(n));
    dead.push_back(false);
  }
  g.erase_nodes(dead);
  g.topological_sort();
  g.prune_values();
  return g;
}

}  // namespace qnn::quant
