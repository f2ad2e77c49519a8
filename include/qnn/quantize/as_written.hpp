// A QDQ model as written versus as qnn runs it.
//
// As written, every quantized op computes DequantizeLinear → float op → QuantizeLinear: a float
// accumulation, then one rounding of x/s. qnn (like ONNX Runtime) fuses the unit into an integer
// kernel: an exact int32 sum, then the fp32 requantization of docs/numerics.md §4. The two agree
// except where the float result lands within float rounding of a half step — the 1-LSB "tie"
// differences users otherwise find by accident (onnxruntime#32132). This report runs both on the
// same inputs and lists every element that differs, with the reason:
//   tie         the as-written value before rounding is within `tie_window` LSB of x.5
//   propagated  an input of the op already differed between the two runs
//   arithmetic  neither: float accumulation error larger than the tie window (rare; listed so
//               nothing is hidden)
#pragma once

#include <cmath>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "qnn/core/error.hpp"
#include "qnn/graph/graph.hpp"
#include "qnn/numerics/quantize.hpp"
#include "qnn/runtime/session.hpp"

namespace qnn::quant {

struct ElementDiff {
  std::string tensor;       // the QuantizeLinear output
  std::int64_t index = 0;   // flat element index
  std::int32_t as_written = 0;
  std::int32_t fused = 0;
  double value_lsb = 0;     // the as-written float value / scale, before rounding
  std::string why;          // "tie", "propagated" or "arithmetic"
};

struct TensorDiff {
  std::string tensor;
  std::string op;           // the op the QuantizeLinear follows
  std::int64_t elements = 0;
  std::int64_t differing = 0;
  std::int32_t max_abs = 0;
};

struct AsWrittenReport {
  std::vector<TensorDiff> tensors;
  std::vector<ElementDiff> elements;  // every differing element, in graph order
  std::int64_t total_elements = 0;
  std::int64_t total_differing = 0;
};

inline AsWrittenReport compare_as_written(const Graph& qdq, std::span<const Tensor> inputs, int threads = 1,
                                          double tie_window = 1e-3) {
  struct QInfo {
    std::string q, x;  // the QuantizeLinear output and its float input
    float scale = 1;
    std::string op;
  };
  std::vector<QInfo> qs;
  for (const Node& n : qdq.nodes) {
    if (n.op_type != "QuantizeLinear" || !n.has_input(1)) continue;
    const Tensor* s = qdq.constant(n.inputs[1]);
    if (!s || s->numel() != 1 || qdq.is_constant(n.inputs[0])) continue;
    const int p = qdq.producer(n.inputs[0]);
    qs.push_back({n.outputs[0], n.inputs[0], s->span<float>()[0], p >= 0 ? qdq.nodes[static_cast<std::size_t>(p)].op_type : "input"});
  }
  check(!qs.empty(), "the model has no QuantizeLinear on an activation: nothing to compare");
  Graph written = qdq, fused = qdq;
  for (const auto& q : qs) {
    for (Graph* g : {&written, &fused})
      if (!g->is_graph_output(q.q)) g->outputs.push_back(q.q);
    if (!written.is_graph_output(q.x)) written.outputs.push_back(q.x);
  }
  SessionOptions wo;
  wo.optimize = false;
  wo.probe = false;
  wo.threads = threads;
  SessionOptions fo = wo;
  fo.optimize = true;
  const Session ws(std::move(written), wo);
  const Session fs(std::move(fused), fo);
  const auto wout = ws.run(inputs);
  const auto fout = fs.run(inputs);
  std::map<std::string, const Tensor*> wm, fm;
  for (std::size_t i = 0; i < wout.size(); ++i) wm[ws.output_names()[i]] = &wout[i];
  for (std::size_t i = 0; i < fout.size(); ++i) fm[fs.output_names()[i]] = &fout[i];

  // Which quantized tensors feed each op (through their DequantizeLinear).
  auto quantized_inputs = [&](const std::string& x) {
    std::vector<std::string> out;
    const int p = qdq.producer(x);
    if (p < 0) return out;
    for (const auto& in : qdq.nodes[static_cast<std::size_t>(p)].inputs) {
      const int dq = qdq.producer(in);
      if (dq >= 0 && qdq.nodes[static_cast<std::size_t>(dq)].op_type == "DequantizeLinear")
        out.push_back(qdq.nodes[static_cast<std::size_t>(dq)].inputs[0]);
    }
    return out;
  };

  AsWrittenReport rep;
  std::set<std::string> differed;
  for (const auto& q : qs) {
    const Tensor& a = *wm.at(q.q);
    const Tensor& b = *fm.at(q.q);
    const Tensor& x = *wm.at(q.x);
    check(a.dtype() == b.dtype() && a.numel() == b.numel(), "tensor '", q.q, "' differs in type or size between the runs");
    TensorDiff td{q.q, q.op, a.numel(), 0, 0};
    bool upstream = false;
    for (const auto& in : quantized_inputs(q.x)) upstream = upstream || differed.count(in);
    visit_dtype(a.dtype(), [&](auto t) {
      using T = decltype(t);
      if constexpr (QuantStorage<T>) {
        const auto av = a.span<T>();
        const auto bv = b.span<T>();
        const auto xv = x.span<float>();
        for (std::size_t i = 0; i < av.size(); ++i) {
          if (av[i] == bv[i]) continue;
          ElementDiff d;
          d.tensor = q.q;
          d.index = static_cast<std::int64_t>(i);
          d.as_written = av[i];
          d.fused = bv[i];
          d.value_lsb = double{xv[i] / q.scale};  // the fp32 quotient QuantizeLinear rounds
          const double frac = d.value_lsb - std::floor(d.value_lsb);
          d.why = std::fabs(frac - 0.5) <= tie_window ? "tie" : upstream ? "propagated" : "arithmetic";
          td.differing += 1;
          td.max_abs = std::max<std::int32_t>(td.max_abs, std::abs(static_cast<std::int32_t>(av[i]) - bv[i]));
          rep.elements.push_back(std::move(d));
        }
      }
    });
    if (td.differing) differed.insert(q.q);
    rep.total_elements += td.elements;
    rep.total_differing += td.differing;
    rep.tensors.push_back(td);
  }
  return rep;
}

}  // namespace qnn::quant
