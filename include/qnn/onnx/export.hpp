// qnn Graph -> ONNX ModelProto: the writer behind `qnn quantize -o model.onnx`.
//
// Constants become initializers, value dims become ValueInfo for the graph inputs and outputs
// (symbolic dims keep their names, e.g. "batch_size"). qnn's internal state does not leak into the
// file: attributes named qnn_* are dropped, and a graph holding an op of the internal "qnn" domain is
// refused (export the QDQ graph, before lowering, instead). The result is what onnx.checker accepts
// and ONNX Runtime runs.
#pragma once

#include <cstring>
#include <filesystem>
#include <set>
#include <string>
#include <variant>

#include "qnn/core/error.hpp"
#include "qnn/graph/graph.hpp"
#include "qnn/onnx/data_type.hpp"
#include "qnn/onnx/proto.hpp"

namespace qnn::onnx {

inline TensorProto to_tensor_proto(const std::string& name, const Tensor& t) {
  TensorProto p;
  p.name = name;
  p.dims.assign(t.shape().begin(), t.shape().end());
  p.data_type = to_data_type(t.dtype());
  p.data.resize(t.bytes());
  if (t.bytes()) std::memcpy(p.data.data(), t.raw(), t.bytes());  // little-endian host
  return p;
}

namespace detail {

inline AttributeProto to_attribute_proto(const std::string& name, const AttributeValue& v) {
  AttributeProto a;
  a.name = name;
  std::visit(
      [&](const auto& x) {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::same_as<T, float>) {
          a.type = AttributeType::float32;
          a.f = x;
        } else if constexpr (std::same_as<T, std::int64_t>) {
          a.type = AttributeType::int64;
          a.i = x;
        } else if constexpr (std::same_as<T, std::string>) {
          a.type = AttributeType::string;
          a.s = x;
        } else if constexpr (std::same_as<T, Tensor>) {
          a.type = AttributeType::tensor;
          a.t = to_tensor_proto("", x);
        } else if constexpr (std::same_as<T, std::vector<float>>) {
          a.type = AttributeType::floats;
          a.floats = x;
        } else if constexpr (std::same_as<T, std::vector<std::int64_t>>) {
          a.type = AttributeType::ints;
          a.ints = x;
        } else {
          a.type = AttributeType::strings;
          a.strings = x;
        }
      },
      v);
  return a;
}

inline ValueInfoProto to_value_info(const Value& v) {
  ValueInfoProto info;
  info.name = v.name;
  info.kind = TypeKind::tensor;
  check(v.dtype.has_value(), "onnx export: the element type of '", v.name, "' is unknown");
  info.elem_type = to_data_type(*v.dtype);
  if (v.dims) {
    std::vector<Dimension> dims;
    for (std::size_t i = 0; i < v.dims->size(); ++i) {
      const std::int64_t d = (*v.dims)[i];
      const std::string param = i < v.dim_params.size() ? v.dim_params[i] : "";
      if (d != kDynamicDim) dims.push_back(Dimension::of_value(d));
      else if (!param.empty()) dims.push_back(Dimension::of_param(param));
      else dims.push_back(Dimension{});
    }
    info.shape = dims;
  }
  return info;
}

}  // namespace detail

inline ModelProto export_model(const Graph& g, const std::string& producer = "qnn") {
  ModelProto m;
  m.ir_version = 8;  // ONNX 1.10+; readable by every ONNX Runtime that runs opset 13 QDQ models
  m.producer_name = producer;
  m.producer_version = "0.1.0";
  for (const auto& [domain, version] : g.opsets) {
    if (domain == "qnn") continue;
    m.opset_import.push_back({domain, version});
  }
  GraphProto& gp = m.graph;
  gp.name = "qnn";
  std::set<std::string> used;
  for (const Node& n : g.nodes) {
    check(n.domain != "qnn", "onnx export: ", n.where(), " is internal to qnn; export the graph before lowering");
    NodeProto np;
    np.name = n.name;
    np.op_type = n.op_type;
    np.domain = n.domain;
    np.input = n.inputs;
    np.output = n.outputs;
    for (const auto& [name, v] : n.attrs.all())
      if (name.rfind("qnn_", 0) != 0) np.attribute.push_back(detail::to_attribute_proto(name, v));
    used.insert(n.inputs.begin(), n.inputs.end());
    gp.node.push_back(std::move(np));
  }
  used.insert(g.outputs.begin(), g.outputs.end());
  for (const auto& [name, v] : g.values)
    if (v.constant && used.count(name)) gp.initializer.push_back(to_tensor_proto(name, *v.constant));
  for (const auto& name : g.inputs) gp.input.push_back(detail::to_value_info(g.value(name)));
  for (const auto& name : g.outputs) gp.output.push_back(detail::to_value_info(g.value(name)));
  return m;
}

inline void save_graph(const std::filesystem::path& path, const Graph& g) {
  save_model(path, export_model(g));
}

}  // namespace qnn::onnx
