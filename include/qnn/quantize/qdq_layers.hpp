// The quantized weight layers of a QDQ graph, each paired with its float original: what bias
// correction (bias_correction.hpp) and finetuning (finetune.hpp) read and rewrite.
//
// build_qdq keeps node names, so a Conv/Gemm/MatMul of the QDQ graph is matched to the float node
// of the same name and type. Such a layer reads x̂ = DequantizeLinear(…) on input 0, int8 weights
// `<w>_quantized` with their scales behind a DequantizeLinear on input 1, and optionally an int32
// bias at s_x·s_w[c] behind a DequantizeLinear on input 2. Rewriting a layer replaces those
// constants (each belongs to one layer: build_qdq makes them per node); scales never change.
//
// The helpers that run data: a tap session (a copy of a graph whose outputs are the tensors to
// observe), a single-layer float graph (one Conv/Gemm/MatMul with given weights, input "x", output
// "y") for computing a layer's output on tapped inputs with qnn's own float kernels, and a loop over
// the first N calibration samples.
#pragma once

#include <cmath>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "qnn/core/error.hpp"
#include "qnn/core/tensor.hpp"
#include "qnn/graph/graph.hpp"
#include "qnn/quantize/calib_reader.hpp"
#include "qnn/quantize/plan.hpp"
#include "qnn/quantize/qdq_build.hpp"
#include "qnn/quantize/quantizer.hpp"
#include "qnn/runtime/session.hpp"

namespace qnn::quant {

struct QdqLayer {
  std::string name, op_type;
  Node float_node;                   // the float node (its attributes make single-layer graphs)
  std::string input;                 // QDQ graph: the DequantizeLinear output the layer reads (x̂)
  float input_scale = 1;             // s_x
  std::string float_output;          // float graph: the layer's output, before any activation
  std::string weight_q;              // QDQ graph: the int8 weight constant
  std::vector<float> weight_scales;  // one per output channel, or one
  int axis = 0;                      // output-channel axis of the weights
  std::int64_t channels = 0;
  std::string bias_q;                // QDQ graph: the int32 bias constant; "" when there is none
  Tensor weight;                     // float weights
  std::vector<float> bias;           // float bias per output channel (zeros when there is none)
  float output_scale = 0;            // scale of the layer's quantized output; 0 when not quantized

  float weight_scale(std::int64_t c) const {
    return weight_scales[weight_scales.size() == 1 ? 0 : static_cast<std::size_t>(c)];
  }
  // MatMul has no bias input; Conv and Gemm get one when they have none.
  bool can_have_bias() const { return op_type != "MatMul"; }
};

namespace detail {

inline const Node* producer_node(const Graph& g, const std::string& v, const char* op) {
  const int p = g.producer(v);
  if (p < 0) return nullptr;
  const Node& n = g.nodes[static_cast<std::size_t>(p)];
  return n.domain.empty() && n.op_type == op ? &n : nullptr;
}

inline float scalar_scale(const Graph& g, const Node& qdq) {
  const Tensor* s = qdq.has_input(1) ? g.constant(qdq.inputs[1]) : nullptr;
  return s && s->dtype() == DType::f32 && s->numel() == 1 ? s->span<float>()[0] : 0.0f;
}

// The scale of the QuantizeLinear that quantizes `out` (directly, or after a Relu/Clip kept
// between the layer and its QuantizeLinear); 0 if there is none.
inline float output_scale_of(const Graph& g, std::string out) {
  for (int hop = 0; hop < 2; ++hop) {
    if (g.is_graph_output(out)) return 0;
    const auto users = g.consumers(out);
    if (users.size() != 1) return 0;
    const Node& u = g.nodes[static_cast<std::size_t>(users[0])];
    if (u.op_type == "QuantizeLinear") return scalar_scale(g, u);
    if (u.op_type != "Relu" && u.op_type != "Clip") return 0;
    out = u.outputs[0];
  }
  return 0;
}

inline std::optional<std::size_t> node_index(const Graph& g, const std::string& name, const std::string& op) {
  std::optional<std::size_t> found;
  for (std::size_t i = 0; i < g.nodes.size(); ++i)
    if (g.nodes[i].name == name && g.nodes[i].op_type == op) {
      if (found) return std::nullopt;  // ambiguous
      found = i;
    }
  return found;
}

}  // namespace detail

// The quantized Conv/Gemm/MatMul layers with constant weights of `qdq`, in execution order. Layers
// that cannot be matched or rewritten are left out with a log line saying why (prefix `what`).
inline std::vector<QdqLayer> qdq_layers(const Graph& fp, const Graph& qdq, const std::string& what,
                                        std::vector<std::string>& log) {
  std::vector<QdqLayer> out;
  for (const Node& n : qdq.nodes) {
    if (role_of(n) != NodeRole::compute) continue;
    const Node* wdq = n.has_input(1) ? detail::producer_node(qdq, n.inputs[1], "DequantizeLinear") : nullptr;
    if (!wdq || !qdq.constant(wdq->inputs[0]) || qdq.constant(wdq->inputs[0])->dtype() != DType::i8) continue;
    auto skip = [&](const std::string& why) { log.push_back(what + ": skipped '" + n.name + "' (" + why + ")"); };
    const auto fi = detail::node_index(fp, n.name, n.op_type);
    if (!fi) {
      skip("no float node of that name and type, or several");
      continue;
    }
    QdqLayer L;
    L.name = n.name;
    L.op_type = n.op_type;
    L.float_node = fp.nodes[*fi];
    const Node* xdq = detail::producer_node(qdq, n.inputs[0], "DequantizeLinear");
    L.input_scale = xdq ? detail::scalar_scale(qdq, *xdq) : 0.0f;
    if (!(L.input_scale > 0)) {
      skip("its input is not quantized per tensor");
      continue;
    }
    L.input = n.inputs[0];
    const Tensor* w = L.float_node.has_input(1) ? fp.constant(L.float_node.inputs[1]) : nullptr;
    const Tensor& q = *qdq.constant(wdq->inputs[0]);
    if (!w || w->dtype() != DType::f32 || !(w->shape() == q.shape())) {
      skip("its float weights are not a constant of the quantized weights' shape");
      continue;
    }
    if (n.op_type != "Conv" && w->shape().rank() != 2) {
      skip("its weights are not 2-D");
      continue;
    }
    if (n.op_type == "Conv" && w->shape().rank() != 3 && w->shape().rank() != 4) {
      skip("only 1-D and 2-D convolutions are handled");
      continue;
    }
    L.weight = *w;
    L.weight_q = wdq->inputs[0];
    const Tensor* ws = qdq.constant(wdq->inputs[1]);
    L.axis = weight_axis(fp, L.float_node);
    L.channels = w->shape().dim(L.axis);
    if (!ws || ws->dtype() != DType::f32 || (ws->numel() != 1 && ws->numel() != L.channels)) {
      skip("its weight scales are not per tensor or per output channel");
      continue;
    }
    L.weight_scales.assign(ws->span<float>().begin(), ws->span<float>().end());
    L.bias.assign(static_cast<std::size_t>(L.channels), 0.0f);
    if (L.float_node.has_input(2)) {
      const Tensor* b = fp.constant(L.float_node.inputs[2]);
      const Node* bdq = n.has_input(2) ? detail::producer_node(qdq, n.inputs[2], "DequantizeLinear") : nullptr;
      const Tensor* bq = bdq ? qdq.constant(bdq->inputs[0]) : nullptr;
      if (!b || b->dtype() != DType::f32 || b->numel() != L.channels || !bq || bq->dtype() != DType::i32 ||
          bq->numel() != L.channels) {
        skip("its bias is not a constant with one value per output channel, quantized to int32");
        continue;
      }
      L.bias.assign(b->span<float>().begin(), b->span<float>().end());
      L.bias_q = bdq->inputs[0];
    } else if (n.has_input(2)) {
      skip("its bias is computed at run time");
      continue;
    }
    L.float_output = L.float_node.outputs[0];
    L.output_scale = detail::output_scale_of(qdq, n.outputs[0]);
    out.push_back(std::move(L));
  }
  return out;
}

// The layer's int8 weights as they stand in the QDQ graph.
inline const Tensor& quantized_weight(const Graph& qdq, const QdqLayer& L) { return *qdq.constant(L.weight_q); }

// s_w[c]·q, the weights the quantized layer computes with.
inline Tensor dequantized_weight(const Graph& qdq, const QdqLayer& L) {
  const Tensor& q = quantized_weight(qdq, L);
  Tensor w(DType::f32, q.shape());
  const Shape& s = q.shape();
  std::int64_t inner = 1;
  for (int a = L.axis + 1; a < s.rank(); ++a) inner *= s[a];
  const auto qs = q.span<std::int8_t>();
  auto out = w.span<float>();
  for (std::size_t i = 0; i < out.size(); ++i) {
    const std::int64_t c = (static_cast<std::int64_t>(i) / inner) % L.channels;
    out[i] = L.weight_scale(c) * static_cast<float>(qs[i]);
  }
  return w;
}

// The bias the quantized layer adds, per output channel (zeros when it has none).
inline std::vector<float> dequantized_bias(const Graph& qdq, const QdqLayer& L) {
  std::vector<float> b(static_cast<std::size_t>(L.channels), 0.0f);
  if (L.bias_q.empty()) return b;
  const auto q = qdq.constant(L.bias_q)->span<std::int32_t>();
  for (std::int64_t c = 0; c < L.channels; ++c)
    b[static_cast<std::size_t>(c)] =
        static_cast<float>(double{L.input_scale * L.weight_scale(c)} * q[static_cast<std::size_t>(c)]);
  return b;
}

// Replaces the layer's int8 weights (same shape; scales unchanged).
inline void set_quantized_weight(Graph& qdq, const QdqLayer& L, Tensor q) {
  Value& v = qdq.value(L.weight_q);
  check(q.dtype() == DType::i8 && q.shape() == v.constant->shape(), "internal: replacement weights of '", L.name,
        "' have the wrong type or shape");
  v.constant = std::move(q);
}

// Sets the layer's int32 bias (one value per output channel, at scale s_x·s_w[c]); a Conv or Gemm
// without a bias gets one (int32 constant, scale, zero point, DequantizeLinear), as build_qdq makes it.
inline void set_quantized_bias(Graph& qdq, QdqLayer& L, const std::vector<std::int32_t>& q) {
  check(L.can_have_bias(), "internal: '", L.name, "' (", L.op_type, ") has no bias input");
  check(static_cast<std::int64_t>(q.size()) == L.channels, "internal: bias of '", L.name, "' has the wrong size");
  Tensor bq = Tensor::from<std::int32_t>(Shape{L.channels}, std::span<const std::int32_t>(q));
  if (!L.bias_q.empty()) {
    Value& v = qdq.value(L.bias_q);
    bq.reshape(v.constant->shape());
    v.constant = std::move(bq);
    return;
  }
  const auto idx = detail::node_index(qdq, L.name, L.op_type);
  check(idx.has_value(), "internal: layer '", L.name, "' not found in the QDQ graph");
  const bool vec = L.weight_scales.size() > 1;
  std::vector<float> scales;
  for (float sw : L.weight_scales) scales.push_back(L.input_scale * sw);
  const std::string base = L.name + "_bias";
  L.bias_q = qdq.add_constant(base + "_quantized", std::move(bq));
  const std::string bs = qdq.add_constant(base + "_scale", detail::scale_tensor(scales));
  const std::string bz = qdq.add_constant(
      base + "_zero_point", detail::zero_point_tensor(DType::i32, std::vector<std::int32_t>(scales.size(), 0), vec));
  const std::string bdq = qdq.unique_name(base + "_DequantizeLinear_Output");
  qdq.value(bdq).dtype = DType::f32;
  Node& n = qdq.nodes[*idx];
  n.inputs.resize(std::max<std::size_t>(n.inputs.size(), 3));
  n.inputs[2] = bdq;
  qdq.nodes.push_back(detail::qdq_node("DequantizeLinear", base + "_DequantizeLinear", "", {L.bias_q, bs, bz}, bdq,
                                       vec ? 0 : -1));
  qdq.topological_sort();
}

// Sets the layer's bias to `b` (float, per output channel), quantized to int32 at s_x·s_w[c] with
// round half to even, as build_qdq quantizes biases.
inline void set_bias(Graph& qdq, QdqLayer& L, const std::vector<float>& b) {
  const Tensor bt = Tensor::from<float>(Shape{L.channels}, std::span<const float>(b));
  std::vector<float> scales;
  const Tensor bq = quantize_bias(bt, L.input_scale, L.weight_scales, scales);
  set_quantized_bias(qdq, L, std::vector<std::int32_t>(bq.span<std::int32_t>().begin(), bq.span<std::int32_t>().end()));
}

// A graph of the one float layer with weights `w` and, if given, `bias`: input "x", output "y".
inline Graph single_layer_graph(const QdqLayer& L, const Tensor& w, const std::vector<float>* bias,
                                const std::map<std::string, std::int64_t>& opsets) {
  Graph g;
  g.opsets = opsets;
  g.ensure_value("x").dtype = DType::f32;
  g.inputs = {"x"};
  Node n;
  n.name = L.name;
  n.op_type = L.op_type;
  n.attrs = L.float_node.attrs;
  n.inputs = {"x", g.add_constant("w", w)};
  if (bias) n.inputs.push_back(g.add_constant("b", Tensor::from<float>(Shape{L.channels}, std::span<const float>(*bias))));
  n.outputs = {"y"};
  g.ensure_value("y");
  g.outputs = {"y"};
  g.nodes.push_back(std::move(n));
  return g;
}

// A session computing `taps` (values of `g`) as its outputs, in that order.
inline Session tap_session(const Graph& g, const std::vector<std::string>& taps, bool optimize,
                                            int threads) {
  Graph copy = g;
  copy.outputs = taps;
  SessionOptions so;
  so.optimize = optimize;
  so.probe = false;
  so.threads = threads;
  return Session(std::move(copy), so);
}

inline Session layer_session(Graph g) {
  SessionOptions so;
  so.optimize = false;
  so.probe = false;
  return Session(std::move(g), so);
}

// Calls f(batch) for the reader's first `samples` samples (from the start), the last batch cut to size.
inline std::int64_t for_first_samples(CalibrationReader& reader, std::int64_t samples,
                                      const std::function<void(const std::vector<Tensor>&)>& f) {
  reader.rewind();
  std::int64_t done = 0;
  while (done < samples) {
    auto batch = reader.next();
    if (!batch) break;
    const std::int64_t n = (*batch)[0].shape().rank() ? (*batch)[0].shape()[0] : 1;
    if (done + n > samples)
      for (Tensor& t : *batch) t = slice_rows(t, 0, samples - done);
    f(*batch);
    done += std::min(n, samples - done);
  }
  check(done > 0, "the calibration reader produced no data");
  return done;
}

}  // namespace qnn::quant
