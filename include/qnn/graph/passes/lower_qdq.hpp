// QDQ lowering: DequantizeLinear → op → QuantizeLinear node units become integer operators, as
// ONNX Runtime's QDQ transformers do.
//
//   Conv         → QLinearConv          (bias: DQ(int32) with scale ≈ s_x·s_w, or a float constant
//                                        quantized to int32 at s_x·s_w[c], round half to even)
//   Gemm         → com.microsoft.QGemm  (alpha = beta = 1)
//   MatMul       → QLinearMatMul
//   Add, Mul     → com.microsoft.QLinearAdd / QLinearMul
//   Concat       → com.microsoft.QLinearConcat
//   AveragePool, GlobalAveragePool → com.microsoft.QLinear(Global)AveragePool
//   Sigmoid, LeakyRelu → com.microsoft.QLinearSigmoid / QLinearLeakyRelu
//   Relu, Clip, HardSigmoid, HardSwish, Tanh → qnn.QLinearUnary; a Relu/Clip whose input comes
//                  straight from a lowered conv/GEMM with the same output quantization is fused
//                  into it instead (its output range, docs/numerics.md §4.6)
//   MaxPool and data movement (Reshape, Flatten, Transpose, Squeeze, Unsqueeze, Slice, Gather,
//   Identity) with equal input and output quantization → the same op on the quantized data.
// A unit is lowered only when its op's output is read by exactly one QuantizeLinear and by nothing
// else. Everything that does not match runs as written: DequantizeLinear, the float op,
// QuantizeLinear. DQ nodes left without readers are removed afterwards (dead code).
#pragma once

#include <cmath>
#include <cstring>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "qnn/core/error.hpp"
#include "qnn/core/tensor.hpp"
#include "qnn/graph/graph.hpp"
#include "qnn/graph/passes/fuse_activation.hpp"
#include "qnn/numerics/rounding.hpp"

namespace qnn::passes {

// A quantized edge: the integer tensor and its (constant) scale and zero point.
struct QEdge {
  std::string q, scale, zp;
  int axis = 1;  // DequantizeLinear's axis attribute (used only when the scale is 1-D)
};

namespace detail {

inline bool is_op(const Node& n, const char* op) {
  return (n.domain.empty() || n.domain == "com.microsoft") && n.op_type == op;
}

// The zero point input of a Q/DQ node, or a constant uint8 0 (the ONNX default) added on demand.
inline std::string zero_point_of(Graph& g, const Node& n) {
  if (n.has_input(2)) return n.inputs[2];
  return g.add_constant(n.name + "_zero_point", Tensor::scalar<std::uint8_t>(0));
}

inline bool constant_scale_zp(const Graph& g, const QEdge& e) {
  const Tensor* s = g.constant(e.scale);
  const Tensor* z = g.constant(e.zp);
  return s && z && s->dtype() == DType::f32 && s->numel() == z->numel();
}

// The DQ feeding `value`, as an edge; nullopt if `value` is not produced by a DequantizeLinear with
// constant parameters.
inline std::optional<QEdge> dq_edge(Graph& g, const std::string& value) {
  const int p = g.producer(value);
  if (p < 0) return std::nullopt;
  const Node& dq = g.nodes[static_cast<std::size_t>(p)];
  if (!is_op(dq, "DequantizeLinear") || dq.attrs.has("block_size")) return std::nullopt;
  QEdge e{dq.inputs[0], dq.inputs[1], zero_point_of(g, dq), static_cast<int>(dq.attrs.get_int("axis", 1))};
  if (!constant_scale_zp(g, e)) return std::nullopt;
  return e;
}

// The single QuantizeLinear reading `value` (and nothing else reading it), as an edge plus its node.
inline std::optional<std::pair<int, QEdge>> q_consumer(Graph& g, const std::string& value) {
  if (g.is_graph_output(value)) return std::nullopt;
  const auto users = g.consumers(value);
  if (users.size() != 1) return std::nullopt;
  const Node& q = g.nodes[static_cast<std::size_t>(users[0])];
  if (!is_op(q, "QuantizeLinear") || q.inputs[0] != value || q.attrs.has("block_size")) return std::nullopt;
  QEdge e{q.outputs[0], q.inputs[1], zero_point_of(g, q), static_cast<int>(q.attrs.get_int("axis", 1))};
  if (!constant_scale_zp(g, e) || g.constant(e.scale)->numel() != 1) return std::nullopt;
  return std::make_pair(users[0], e);
}

inline bool same_tensor(const Tensor* a, const Tensor* b) {
  return a && b && a->dtype() == b->dtype() && a->shape() == b->shape() &&
         std::memcmp(a->raw(), b->raw(), a->bytes()) == 0;
}
inline bool same_quant(const Graph& g, const QEdge& a, const QEdge& b) {
  return same_tensor(g.constant(a.scale), g.constant(b.scale)) && same_tensor(g.constant(a.zp), g.constant(b.zp));
}
inline bool per_tensor(const Graph& g, const QEdge& e) { return g.constant(e.scale)->numel() == 1; }

inline Node make_node(const Node& from, std::string op, std::string domain, std::vector<std::string> inputs,
                      std::string output) {
  Node n;
  n.name = from.name;
  n.op_type = std::move(op);
  n.domain = std::move(domain);
  n.inputs = std::move(inputs);
  n.outputs = {std::move(output)};
  return n;
}

inline void copy_attrs(const Node& from, Node& to, std::initializer_list<const char*> names) {
  for (const char* a : names) {
    auto it = from.attrs.all().find(a);
    if (it != from.attrs.all().end()) to.attrs.set(a, it->second);
  }
}

// Bias of a conv/GEMM unit as an int32 constant at scale s_x·s_w[c]; "" if it cannot be.
inline std::string int32_bias(Graph& g, const Node& op, std::size_t idx, const QEdge& x, const QEdge& w,
                              std::int64_t channels) {
  if (!op.has_input(idx)) return "";
  const float sx = g.constant(x.scale)->span<float>()[0];
  const auto sw = g.constant(w.scale)->span<float>();
  auto sw_at = [&](std::int64_t c) { return sw[sw.size() == 1 ? 0 : static_cast<std::size_t>(c)]; };
  if (auto dq = dq_edge(g, op.inputs[idx])) {
    const Tensor* b = g.constant(dq->q);
    const Tensor* bs = g.constant(dq->scale);
    if (!b || b->dtype() != DType::i32 || b->numel() != channels) return "";
    const auto zp = g.constant(dq->zp);
    for (std::int64_t i = 0; i < zp->numel(); ++i)
      if (zp->dtype() != DType::i32 || zp->span<std::int32_t>()[static_cast<std::size_t>(i)] != 0) return "";
    const auto s = bs->span<float>();
    for (std::int64_t c = 0; c < channels; ++c) {
      const double want = double{sx} * double{sw_at(c)};
      const double have = s[s.size() == 1 ? 0 : static_cast<std::size_t>(c)];
      if (std::fabs(have - want) > 1e-2 * want) return "";  // ONNX Runtime's tolerance
    }
    return dq->q;
  }
  const Tensor* b = g.constant(op.inputs[idx]);
  if (!b || b->dtype() != DType::f32 || b->numel() != channels) return "";
  Tensor q(DType::i32, Shape{channels});
  auto out = q.span<std::int32_t>();
  for (std::int64_t c = 0; c < channels; ++c) {
    const double v = double{b->span<float>()[static_cast<std::size_t>(c)]} / (double{sx} * double{sw_at(c)});
    out[static_cast<std::size_t>(c)] = saturate<std::int32_t>(static_cast<std::int64_t>(
        round_half_even(std::clamp(v, -4.0e9, 4.0e9))));
  }
  return g.add_constant(op.name + "_bias_int32", std::move(q));
}

}  // namespace detail

// True for an ONNX op whose output 0 holds only values of its input 0 — MaxPool (Indices unused)
// and data movement: why it may run on quantized data as it is, here, and why its output keeps its
// input's range (graph/passes/input_range.hpp).
inline bool selects_input_values(const Node& n) {
  if (!n.domain.empty() || n.inputs.empty() || n.outputs.empty()) return false;
  const std::string& t = n.op_type;
  if (t == "MaxPool") return n.outputs.size() == 1 || (n.outputs.size() == 2 && n.outputs[1].empty());
  return t == "Reshape" || t == "Flatten" || t == "Transpose" || t == "Squeeze" || t == "Unsqueeze" || t == "Slice" ||
         t == "Gather" || t == "Identity";
}

// Returns the number of units lowered.
inline int lower_qdq(Graph& g) {
  using namespace detail;
  int lowered = 0;
  // The lowered ops live in these domains; the model need not have imported them.
  if (!g.opsets.count("com.microsoft")) g.opsets["com.microsoft"] = 1;
  if (!g.opsets.count("qnn")) g.opsets["qnn"] = 1;
  // Each iteration lowers one unit and restarts: lowering changes producers and consumers.
  for (bool changed = true; changed;) {
    changed = false;
    for (std::size_t i = 0; i < g.nodes.size() && !changed; ++i) {
      const Node op = g.nodes[i];  // a copy: g.nodes is edited below
      if (!(op.domain.empty()) || op.outputs.size() != 1 || op.inputs.empty()) continue;
      auto qout = q_consumer(g, op.outputs[0]);
      // DQ → Conv/Gemm/MatMul → Relu/Clip → Q (symmetric activations keep the clamp between the
      // op and its Q): the activation is fused into the integer op.
      int fused_act = -1;
      float act_lo = 0, act_hi = 0;
      if (!qout && (op.op_type == "Conv" || op.op_type == "Gemm" || op.op_type == "MatMul") &&
          !g.is_graph_output(op.outputs[0])) {
        const auto users = g.consumers(op.outputs[0]);
        if (users.size() == 1) {
          const Node& act = g.nodes[static_cast<std::size_t>(users[0])];
          const bool relu = act.domain.empty() && act.op_type == "Relu";
          const bool clip = act.domain.empty() && act.op_type == "Clip" && clip_bounds(g, act, act_lo, act_hi);
          if (relu || clip) {
            qout = q_consumer(g, act.outputs[0]);
            fused_act = users[0];
          }
        }
      }
      if (!qout) continue;
      const QEdge& y = qout->second;
      std::optional<Node> repl;
      const std::string& t = op.op_type;

      if (t == "Conv" || t == "Gemm" || t == "MatMul") {
        const auto x = dq_edge(g, op.inputs[0]);
        const auto w = op.inputs.size() > 1 ? dq_edge(g, op.inputs[1]) : std::nullopt;
        if (!x || !w || !per_tensor(g, *x) || !g.is_constant(w->q)) continue;
        const Tensor& wt = *g.constant(w->q);
        const std::int64_t wscales = g.constant(w->scale)->numel();
        if (t == "Conv") {
          if (wt.shape().rank() < 3 || (wscales != 1 && (w->axis != 0 || wscales != wt.shape()[0]))) continue;
          const std::string b = int32_bias(g, op, 2, *x, *w, wt.shape()[0]);
          if (op.has_input(2) && b.empty()) continue;
          repl = make_node(op, "QLinearConv", "",
                           {x->q, x->scale, x->zp, w->q, w->scale, w->zp, y.scale, y.zp}, y.q);
          if (!b.empty()) repl->inputs.push_back(b);
          copy_attrs(op, *repl, {"auto_pad", "dilations", "group", "kernel_shape", "pads", "strides"});
        } else if (t == "Gemm") {
          if (op.attrs.get_float("alpha", 1.0f) != 1.0f || op.attrs.get_float("beta", 1.0f) != 1.0f) continue;
          if (wt.shape().rank() != 2) continue;
          const bool tb = op.attrs.get_int("transB", 0) != 0;
          const std::int64_t n = wt.shape()[tb ? 0 : 1];
          if (wscales != 1 && (w->axis != (tb ? 0 : 1) || wscales != n)) continue;
          const std::string b = int32_bias(g, op, 2, *x, *w, n);
          if (op.has_input(2) && b.empty()) continue;
          repl = make_node(op, "QGemm", "com.microsoft",
                           {x->q, x->scale, x->zp, w->q, w->scale, w->zp, b, y.scale, y.zp}, y.q);
          copy_attrs(op, *repl, {"transA", "transB"});
        } else {
          if (wt.shape().rank() != 2 || (wscales != 1 && (w->axis != 1 || wscales != wt.shape()[1]))) continue;
          repl = make_node(op, "QLinearMatMul", "", {x->q, x->scale, x->zp, w->q, w->scale, w->zp, y.scale, y.zp}, y.q);
        }
        copy_attrs(op, *repl, {"qnn_requant"});
        if (fused_act >= 0) {
          const Node& act = g.nodes[static_cast<std::size_t>(fused_act)];
          repl->attrs.set("qnn_activation", std::string(act.op_type == "Relu" ? "relu" : "clip"));
          if (act.op_type == "Clip") {
            repl->attrs.set("qnn_clip_min", act_lo);
            repl->attrs.set("qnn_clip_max", act_hi);
          }
        }
      } else if (t == "Add" || t == "Mul") {
        const auto a = dq_edge(g, op.inputs[0]);
        const auto b = op.inputs.size() > 1 ? dq_edge(g, op.inputs[1]) : std::nullopt;
        if (!a || !b || !per_tensor(g, *a) || !per_tensor(g, *b)) continue;
        repl = make_node(op, t == "Add" ? "QLinearAdd" : "QLinearMul", "com.microsoft",
                         {a->q, a->scale, a->zp, b->q, b->scale, b->zp, y.scale, y.zp}, y.q);
      } else if (t == "Concat") {
        std::vector<std::string> ins{y.scale, y.zp};
        bool ok = true;
        for (const auto& in : op.inputs) {
          const auto e = dq_edge(g, in);
          ok = ok && e && per_tensor(g, *e);
          if (ok) ins.insert(ins.end(), {e->q, e->scale, e->zp});
        }
        if (!ok) continue;
        repl = make_node(op, "QLinearConcat", "com.microsoft", ins, y.q);
        copy_attrs(op, *repl, {"axis"});
      } else if (t == "AveragePool" || t == "GlobalAveragePool" || t == "Sigmoid" || t == "LeakyRelu" ||
                 t == "Relu" || t == "Clip" || t == "HardSigmoid" || t == "HardSwish" || t == "Tanh") {
        const auto x = dq_edge(g, op.inputs[0]);
        if (!x || !per_tensor(g, *x)) continue;
        const std::vector<std::string> ins{x->q, x->scale, x->zp, y.scale, y.zp};
        if (t == "AveragePool") {
          if (op.attrs.all().count("dilations")) continue;
          repl = make_node(op, "QLinearAveragePool", "com.microsoft", ins, y.q);
          copy_attrs(op, *repl, {"auto_pad", "ceil_mode", "count_include_pad", "kernel_shape", "pads", "strides"});
        } else if (t == "GlobalAveragePool") {
          repl = make_node(op, "QLinearGlobalAveragePool", "com.microsoft", ins, y.q);
        } else if (t == "Sigmoid") {
          repl = make_node(op, "QLinearSigmoid", "com.microsoft", ins, y.q);
        } else if (t == "LeakyRelu") {
          repl = make_node(op, "QLinearLeakyRelu", "com.microsoft", ins, y.q);
          copy_attrs(op, *repl, {"alpha"});
        } else {
          float lo = 0, hi = 0;
          if (t == "Clip") {
            lo = -std::numeric_limits<float>::infinity();
            hi = std::numeric_limits<float>::infinity();
            if (g.opset() < 11) {
              lo = op.attrs.get_float("min", lo);
              hi = op.attrs.get_float("max", hi);
            } else {
              bool ok = true;
              for (std::size_t k = 1; k <= 2; ++k) {
                if (!op.has_input(k)) continue;
                const Tensor* c = g.constant(op.inputs[k]);
                ok = ok && c && c->dtype() == DType::f32 && c->numel() == 1;
                if (ok) (k == 1 ? lo : hi) = c->span<float>()[0];
              }
              if (!ok) continue;
            }
          }
          // Relu/Clip straight after a lowered conv/GEMM with the same output quantization: fuse.
          const int p = g.producer(x->q);
          if ((t == "Relu" || t == "Clip") && p >= 0 && same_quant(g, *x, y) && g.consumers(x->q).size() == 1 &&
              g.consumers(op.inputs[0]).size() == 1 && !g.is_graph_output(x->q)) {
            Node& prod = g.nodes[static_cast<std::size_t>(p)];
            const bool conv_like = (prod.domain.empty() && (prod.op_type == "QLinearConv" || prod.op_type == "QLinearMatMul")) ||
                                   (prod.domain == "com.microsoft" && prod.op_type == "QGemm");
            if (conv_like && !prod.attrs.all().count("qnn_activation")) {
              prod.attrs.set("qnn_activation", std::string(t == "Relu" ? "relu" : "clip"));
              if (t == "Clip") {
                prod.attrs.set("qnn_clip_min", lo);
                prod.attrs.set("qnn_clip_max", hi);
              }
              prod.outputs[0] = y.q;
              std::vector<bool> dead(g.nodes.size(), false);
              dead[i] = true;
              dead[static_cast<std::size_t>(qout->first)] = true;
              // The DQ between them and the old conv output lose their readers: dead code.
              g.erase_nodes(dead);
              ++lowered;
              changed = true;
              continue;
            }
          }
          repl = make_node(op, "QLinearUnary", "qnn", ins, y.q);
          const char* kind = t == "Relu" ? "relu" : t == "Clip" ? "clip" : t == "HardSigmoid" ? "hard_sigmoid"
                           : t == "HardSwish" ? "hard_swish" : "tanh";
          repl->attrs.set("activation", std::string(kind));
          if (t == "Clip") {
            repl->attrs.set("clip_min", lo);
            repl->attrs.set("clip_max", hi);
          }
          if (t == "HardSigmoid") {
            repl->attrs.set("alpha", op.attrs.get_float("alpha", 0.2f));
            repl->attrs.set("beta", op.attrs.get_float("beta", 0.5f));
          }
        }
      } else if (selects_input_values(op)) {
        const auto x = dq_edge(g, op.inputs[0]);
        if (!x || !per_tensor(g, *x) || !same_quant(g, *x, y)) continue;
        Node n = op;
        n.inputs[0] = x->q;
        n.outputs[0] = y.q;
        repl = std::move(n);
      }
      if (!repl) continue;
      g.nodes[i] = std::move(*repl);
      std::vector<bool> dead(g.nodes.size(), false);
      dead[static_cast<std::size_t>(qout->first)] = true;
      if (fused_act >= 0) dead[static_cast<std::size_t>(fused_act)] = true;
      g.erase_nodes(dead);
      ++lowered;
      changed = true;
    }
  }
  return lowered;
}

}  // namespace qnn::passes
