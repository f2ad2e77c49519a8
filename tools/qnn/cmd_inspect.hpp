// qnn inspect MODEL.onnx [--json] [--backend cpu|cpu-ref|npu-emu|xrt] [session options]: the
// model's inputs and outputs, and every node of the prepared graph with its op (and fused
// activation), output dtype and shape, the quantization of its operands, and the device that runs
// it; then the partition report (backends/partition.hpp): for each node that falls back to the CPU
// the exact reason, and nodes and MACs per device. Placement is decided when the session is
// prepared; nothing else runs on a device, except that --backend xrt uploads the weights of the
// nodes it takes and the session's batch-1 probe run (which measures MACs) dispatches them once.
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

inline std::string op_label(const Node& n) { return backends::op_label(n); }

template <class S>
int print_inspect(const Args& a, const std::string& path, const onnx::ModelProto& m, const S& s) {
  const std::size_t file_nodes = m.graph.node.size();
  const Graph& g = s.graph();
  const backends::Partition& part = s.partition();

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
      const std::size_t i = static_cast<std::size_t>(&n - g.nodes.data());
      json::Value node = json::Value::object();
      node.set("name", n.name).set("op", op_label(n)).set("outputs", outs).set("quantization", quant).set("device", part.nodes[i].device);
      if (!part.nodes[i].reason.empty()) node.set("reason", part.nodes[i].reason);
      nodes.push(std::move(node));
    }
    root.set("nodes", nodes);
    root.set("partition", backends::partition_json(part));
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
            << "dtype" << std::setw(18) << "output shape" << std::setw(9) << "device" << "quantization\n";
  for (std::size_t i = 0; i < g.nodes.size(); ++i) {
    const Node& n = g.nodes[i];
    const Value& v = g.value(n.outputs[0]);
    std::string quant;
    for (const auto& q : operand_quantization(g, n)) quant += (quant.empty() ? "" : "  ") + format_quant(q);
    std::string name = n.name.size() > 27 ? n.name.substr(n.name.size() - 27) : n.name;
    std::cout << std::left << std::setw(4) << i << std::setw(28) << name << std::setw(34) << op_label(n) << std::setw(9)
              << (v.dtype ? name_of(*v.dtype) : "?") << std::setw(18) << format_dims(v) << std::setw(9)
              << part.nodes[i].device << quant << "\n";
  }
  std::cout << "\n" << backends::format_partition(part);
  return 0;
}

inline int cmd_inspect(int argc, char** argv) {
  auto flags = kSessionFlags;
  flags.insert("json");
  const Args a(argc, argv, 2, kSessionValued, flags);
  const std::string path = a.require_positional(0, "MODEL.onnx");
  const onnx::ModelProto m = onnx::load_model(path);
  return with_session(a, with_context(path, [&] { return onnx::import_model(m); }),
                      [&](const auto& s) { return print_inspect(a, path, m, s); });
}

}  // namespace qnn::cli
