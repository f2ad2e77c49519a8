// qnn inspect MODEL.onnx [--json] [session options]: the model's inputs and outputs, and every
// node of the prepared graph with its op (and fused activation), output dtype and shape, the
// quantization of its operands, and the device that runs it.
#pragma once

#include <iomanip>
#include <iostream>
#include <string>

#include "args.hpp"
#include "session_options.hpp"
#include "qnn/graph/describe.hpp"
#include "qnn/io/json.hpp"
#include "qnn/onnx/import.hpp"
#include "qnn/onnx/proto.hpp"
#include "qnn/runtime/session.hpp"

namespace qnn::cli {

inline std::string op_label(const Node& n) {
  std::string s = (n.domain.empty() ? "" : n.domain + ".") + n.op_type;
  if (n.attrs.all().count("qnn_activation")) s += "+" + n.attrs.get_string("qnn_activation");
  return s;
}

inline int cmd_inspect(int argc, char** argv) {
  auto flags = kSessionFlags;
  flags.insert("json");
  const Args a(argc, argv, 2, kSessionValued, flags);
  const std::string path = a.require_positional(0, "MODEL.onnx");
  const onnx::ModelProto m = onnx::load_model(path);
  const std::size_t file_nodes = m.graph.node.size();
  const Session s(with_context(path, [&] { return onnx::import_model(m); }), session_options(a));
  const Graph& g = s.graph();

  if (a.has("json")) {
    json::Value root = json::Value::object();
    root.set("model", path).set("opset", g.opset("")).set("producer", m.producer_name + " " + m.producer_version);
    auto io = [&](const std::vector<std::string>& names) {
      json::Value arr = json::Value::array();
      for (const auto& n : names) {
        const Value& v = g.value(n);
        arr.push(json::Value::object()
                     .set("name", n)
                     .set("dtype", v.dtype ? std::string(name_of(*v.dtype)) : "?")
                     .set("shape", format_dims(v)));
      }
      return arr;
    };
    root.set("inputs", io(g.inputs)).set("outputs", io(g.outputs));
    root.set("nodes_in_file", file_nodes).set("nodes_prepared", g.nodes.size());
    json::Value nodes = json::Value::array();
    for (const Node& n : g.nodes) {
      json::Value outs = json::Value::array();
      for (const auto& o : n.outputs) {
        if (o.empty()) continue;
        const Value& v = g.value(o);
        outs.push(json::Value::object().set("name", o).set("dtype", v.dtype ? std::string(name_of(*v.dtype)) : "?").set("shape", format_dims(v)));
      }
      json::Value quant = json::Value::array();
      for (const auto& q : operand_quantization(g, n)) {
        json::Value scales = json::Value::array();
        for (float f : q.scales) scales.push(f);
        json::Value zps = json::Value::array();
        for (auto z : q.zero_points) zps.push(z);
        quant.push(json::Value::object().set("role", q.role).set("tensor", q.value).set("storage", std::string(name_of(q.storage))).set("scales", scales).set("zero_points", zps));
      }
      nodes.push(json::Value::object().set("name", n.name).set("op", op_label(n)).set("outputs", outs).set("quantization", quant).set("device", "cpu"));
    }
    root.set("nodes", nodes);
    std::cout << root.dump();
    return 0;
  }

  std::cout << "model   " << path << "  (ONNX opset " << g.opset("") << ", producer '" << m.producer_name << " "
            << m.producer_version << "')\n";
  for (const auto& n : g.inputs) {
    const Value& v = g.value(n);
    std::cout << "input   " << n << "  " << (v.dtype ? name_of(*v.dtype) : "?") << " " << format_dims(v) << "\n";
  }
  for (const auto& n : g.outputs) {
    const Value& v = g.value(n);
    std::cout << "output  " << n << "  " << (v.dtype ? name_of(*v.dtype) : "?") << " " << format_dims(v) << "\n";
  }
  std::cout << "nodes   " << g.nodes.size() << " prepared (" << file_nodes << " in the file)\n\n";
  std::cout << std::left << std::setw(4) << "#" << std::setw(28) << "node" << std::setw(34) << "op" << std::setw(9)
            << "dtype" << std::setw(18) << "output shape" << std::setw(6) << "dev" << "quantization\n";
  for (std::size_t i = 0; i < g.nodes.size(); ++i) {
    const Node& n = g.nodes[i];
    const Value& v = g.value(n.outputs[0]);
    std::string quant;
    for (const auto& q : operand_quantization(g, n)) quant += (quant.empty() ? "" : "  ") + format_quant(q);
    std::string name = n.name.size() > 27 ? n.name.substr(n.name.size() - 27) : n.name;
    std::cout << std::left << std::setw(4) << i << std::setw(28) << name << std::setw(34) << op_label(n) << std::setw(9)
              << (v.dtype ? name_of(*v.dtype) : "?") << std::setw(18) << format_dims(v) << std::setw(6) << "cpu"
              << quant << "\n";
  }
  return 0;
}

}  // namespace qnn::cli
