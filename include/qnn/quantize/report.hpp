// The per-layer error report: for every quantized activation, how far the quantized model's value
// (as qnn's integer kernels compute it) is from the float model's, on the same inputs.
//
//   SQNR    10·log10(Σ f² / Σ (f − q)²) in dB (higher is better; ~6 dB per bit)
//   cosine  Σ f·q / (‖f‖·‖q‖)
//   max LSB max |f − q| / scale: the worst element in units of the tensor's quantization step
// Errors accumulate along the network (each layer sees its predecessors' quantized outputs), which
// is what the model's accuracy feels; a layer where SQNR drops sharply is the one that hurts.
// As a table (format_report) and as JSON (report_json).
#pragma once

#include <cmath>
#include <cstdint>
#include <iomanip>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "qnn/core/error.hpp"
#include "qnn/core/tensor.hpp"
#include "qnn/graph/graph.hpp"
#include "qnn/io/json.hpp"
#include "qnn/numerics/quantize.hpp"
#include "qnn/runtime/session.hpp"

namespace qnn::quant {

struct LayerError {
  std::string tensor;  // the float tensor's name
  std::string op;      // the op producing it in the float graph
  float scale = 0;
  std::int32_t zero_point = 0;
  std::int64_t elements = 0;
  double sqnr_db = 0;
  double cosine = 0;
  double max_lsb = 0;
  double mean_abs = 0;
};

// Pairs each QuantizeLinear of a QDQ graph with the float tensor it quantizes.
struct QuantizedTensor {
  std::string float_name;  // in the float graph
  std::string q_name;      // the QuantizeLinear output in the QDQ graph
  float scale = 1;
  std::int32_t zero_point = 0;
};

inline std::vector<QuantizedTensor> quantized_tensors(const Graph& qdq, const Graph& fp) {
  std::vector<QuantizedTensor> out;
  for (const Node& n : qdq.nodes) {
    if (n.op_type != "QuantizeLinear" || !n.has_input(1)) continue;
    const Tensor* s = qdq.constant(n.inputs[1]);
    if (!s || s->numel() != 1) continue;
    QuantizedTensor q;
    q.q_name = n.outputs[0];
    q.float_name = n.inputs[0];
    // A quantized graph output is renamed "<name>_float" in the QDQ graph; the float graph has <name>.
    if (!fp.values.count(q.float_name) && q.float_name.size() > 6 &&
        q.float_name.compare(q.float_name.size() - 6, 6, "_float") == 0)
      q.float_name = q.float_name.substr(0, q.float_name.size() - 6);
    if (!fp.values.count(q.float_name)) continue;
    q.scale = s->span<float>()[0];
    const Tensor* z = n.has_input(2) ? qdq.constant(n.inputs[2]) : nullptr;
    if (z) visit_dtype(z->dtype(), [&](auto v) {
        using T = decltype(v);
        if constexpr (QuantStorage<T>) q.zero_point = z->span<T>()[0];
      });
    out.push_back(q);
  }
  return out;
}

// Runs both models on `inputs` and compares every quantized tensor.
inline std::vector<LayerError> layer_errors(const Graph& float_graph, const Graph& qdq_graph,
                                            std::span<const Tensor> inputs, int threads = 1) {
  Graph fp = float_graph;
  prepare_float_graph(fp);
  const auto qts = quantized_tensors(qdq_graph, fp);
  check(!qts.empty(), "the quantized model has no QuantizeLinear on a tensor of the float model");
  Graph fcopy = fp;
  Graph qcopy = qdq_graph;
  for (const auto& q : qts) {
    if (!fcopy.is_graph_output(q.float_name)) fcopy.outputs.push_back(q.float_name);
    if (!qcopy.is_graph_output(q.q_name)) qcopy.outputs.push_back(q.q_name);
  }
  SessionOptions so;
  so.threads = threads;
  so.probe = false;
  const Session fs(std::move(fcopy), so);
  const Session qs(std::move(qcopy), so);
  const auto fout = fs.run(inputs);
  const auto qout = qs.run(inputs);
  std::map<std::string, const Tensor*> fmap, qmap;
  for (std::size_t i = 0; i < fout.size(); ++i) fmap[fs.output_names()[i]] = &fout[i];
  for (std::size_t i = 0; i < qout.size(); ++i) qmap[qs.output_names()[i]] = &qout[i];
  std::vector<LayerError> rows;
  for (const auto& q : qts) {
    const Tensor& f = *fmap.at(q.float_name);
    const Tensor& qt = *qmap.at(q.q_name);
    check(f.numel() == qt.numel(), "tensor '", q.float_name, "' has ", f.numel(), " elements in the float model and ",
          qt.numel(), " in the quantized one");
    LayerError e;
    e.tensor = q.float_name;
    const int p = fp.producer(q.float_name);
    e.op = p >= 0 ? fp.nodes[static_cast<std::size_t>(p)].op_type : "input";
    e.scale = q.scale;
    e.zero_point = q.zero_point;
    e.elements = f.numel();
    double sig = 0, noise = 0, dot = 0, qq = 0, maxd = 0, sumd = 0;
    const auto fv = f.span<float>();
    visit_dtype(qt.dtype(), [&](auto v) {
      using T = decltype(v);
      if constexpr (QuantStorage<T>) {
        const auto qv = qt.span<T>();
        for (std::size_t i = 0; i < fv.size(); ++i) {
          const double a = fv[i];
          const double b = dequantize_value(qv[i], q.scale, q.zero_point);
          sig += a * a;
          noise += (a - b) * (a - b);
          dot += a * b;
          qq += b * b;
          maxd = std::max(maxd, std::fabs(a - b));
          sumd += std::fabs(a - b);
        }
      } else {
        fail("tensor '", q.q_name, "' is ", qt.dtype(), ", not a quantized type");
      }
    });
    e.sqnr_db = noise > 0 ? 10 * std::log10(sig / noise) : std::numeric_limits<double>::infinity();
    e.cosine = sig > 0 && qq > 0 ? dot / std::sqrt(sig * qq) : 1.0;
    e.max_lsb = maxd / q.scale;
    e.mean_abs = fv.empty() ? 0 : sumd / double(fv.size());
    rows.push_back(e);
  }
  return rows;
}

inline std::string format_report(const std::vector<LayerError>& rows) {
  std::ostringstream os;
  os << std::left << std::setw(34) << "tensor" << std::setw(14) << "op" << std::right << std::setw(11) << "SQNR (dB)"
     << std::setw(10) << "cosine" << std::setw(10) << "max LSB" << std::setw(12) << "mean |err|" << std::setw(12)
     << "scale" << "\n";
  for (const auto& r : rows) {
    const std::string t = r.tensor.size() > 33 ? "…" + r.tensor.substr(r.tensor.size() - 32) : r.tensor;
    os << std::left << std::setw(34) << t << std::setw(14) << r.op << std::right << std::fixed << std::setprecision(2)
       << std::setw(11) << r.sqnr_db << std::setprecision(5) << std::setw(10) << r.cosine << std::setprecision(2)
       << std::setw(10) << r.max_lsb << std::scientific << std::setprecision(2) << std::setw(12) << r.mean_abs
       << std::setw(12) << r.scale << std::defaultfloat << "\n";
  }
  return os.str();
}

inline json::Value report_json(const std::vector<LayerError>& rows) {
  json::Value arr = json::Value::array();
  for (const auto& r : rows)
    arr.push(json::Value::object()
                 .set("tensor", r.tensor)
                 .set("op", r.op)
                 .set("scale", r.scale)
                 .set("zero_point", r.zero_point)
                 .set("elements", r.elements)
                 .set("sqnr_db", r.sqnr_db)
                 .set("cosine", r.cosine)
                 .set("max_lsb", r.max_lsb)
                 .set("mean_abs_error", r.mean_abs));
  return arr;
}

}  // namespace qnn::quant
