// ONNX ModelProto -> qnn Graph.
//
// Initializers and Constant nodes become constant values; graph inputs keep their element type and
// dims (symbolic dims such as "batch_size" become kDynamicDim, their names kept); value_info adds
// what the exporter knew about intermediate values. What qnn cannot run is refused here with the
// reason: an ONNX opset newer than the registry knows, subgraph attributes (If, Loop, Scan),
// model-local functions, tensors of types qnn does not compute with.
#pragma once

#include <cstring>
#include <filesystem>
#include <set>
#include <string>

#include "qnn/core/error.hpp"
#include "qnn/core/tensor.hpp"
#include "qnn/graph/graph.hpp"
#include "qnn/io/file.hpp"
#include "qnn/onnx/data_type.hpp"
#include "qnn/onnx/proto.hpp"
#include "qnn/runtime/kernel.hpp"

namespace qnn::onnx {

inline Tensor to_tensor(const TensorProto& t) {
  const std::string what = t.name.empty() ? "(unnamed)" : t.name;
  const DType dtype = require_dtype(t.data_type, what);
  Shape shape;
  check(t.dims.size() <= static_cast<std::size_t>(Shape::kMaxRank), "onnx: tensor '", what, "' has rank ",
        t.dims.size(), ", above qnn's limit of ", Shape::kMaxRank);
  for (std::int64_t d : t.dims) shape.push_back(d);
  Tensor out(dtype, shape);
  check(t.data.size() == out.bytes(), "onnx: tensor '", what, "' holds ", t.data.size(), " bytes for shape ",
        shape, " of ", dtype);
  if (!t.data.empty()) std::memcpy(out.raw(), t.data.data(), t.data.size());  // little-endian host
  return out;
}

namespace detail {

inline AttributeValue to_attribute(const AttributeProto& a, const std::string& where) {
  switch (a.type) {
    case AttributeType::float32: return a.f;
    case AttributeType::int64: return a.i;
    case AttributeType::string: return a.s;
    case AttributeType::tensor:
      check(a.t.has_value(), where, ": tensor attribute '", a.name, "' has no value");
      return to_tensor(*a.t);
    case AttributeType::floats: return a.floats;
    case AttributeType::ints: return a.ints;
    case AttributeType::strings: return a.strings;
    case AttributeType::graph:
    case AttributeType::graphs:
      fail(where, ": attribute '", a.name, "' is a subgraph; control flow (If, Loop, Scan) is not supported");
    default:
      fail(where, ": attribute '", a.name, "' has type ", static_cast<int>(a.type), ", which qnn does not read");
  }
}

// A Constant node's value as a tensor (value, value_float(s), value_int(s)).
inline Tensor constant_node_value(const NodeProto& n, const std::string& where) {
  check(n.attribute.size() == 1, where, ": Constant needs exactly one value attribute");
  const AttributeProto& a = n.attribute[0];
  if (a.name == "value") {
    check(a.t.has_value(), where, ": Constant 'value' has no tensor");
    return to_tensor(*a.t);
  }
  if (a.name == "value_float") return Tensor::scalar(a.f);
  if (a.name == "value_int") return Tensor::scalar(a.i);
  if (a.name == "value_floats")
    return Tensor::from<float>(Shape{static_cast<std::int64_t>(a.floats.size())}, std::span<const float>(a.floats));
  if (a.name == "value_ints")
    return Tensor::from<std::int64_t>(Shape{static_cast<std::int64_t>(a.ints.size())},
                                      std::span<const std::int64_t>(a.ints));
  fail(where, ": Constant attribute '", a.name, "' is not supported");
}

inline void apply_value_info(Value& v, const ValueInfoProto& info) {
  if (info.kind != TypeKind::tensor) return;
  if (auto d = to_dtype(info.elem_type)) v.dtype = *d;
  if (!info.shape) return;
  std::vector<std::int64_t> dims;
  std::vector<std::string> params;
  for (const Dimension& d : *info.shape) {
    dims.push_back(d.kind == DimKind::value ? d.value : kDynamicDim);
    params.push_back(d.kind == DimKind::param ? d.param : "");
  }
  v.dims = dims;
  v.dim_params = params;
}

}  // namespace detail

inline Graph import_model(const ModelProto& m) {
  Graph g;
  for (const OperatorSetIdProto& o : m.opset_import) g.opsets[o.domain == "ai.onnx" ? "" : o.domain] = o.version;
  if (!g.opsets.count("")) g.opsets[""] = 1;  // ONNX: no import means version 1
  check(g.opset("") <= KernelRegistry::kMaxOnnxOpset, "the model imports ONNX opset ", g.opset(""),
        "; qnn implements opsets up to ", KernelRegistry::kMaxOnnxOpset);

  std::set<std::string> local_functions;
  for (const FunctionProto& f : m.functions) local_functions.insert(f.domain + "." + f.name);

  const GraphProto& gp = m.graph;
  for (const TensorProto& t : gp.initializer) {
    check(!t.name.empty(), "onnx: an initializer has no name");
    check(!g.values.count(t.name), "onnx: initializer '", t.name, "' is defined twice");
    Value& v = g.ensure_value(t.name);
    v.constant = to_tensor(t);
    v.dtype = v.constant->dtype();
    v.dims = std::vector<std::int64_t>(v.constant->shape().begin(), v.constant->shape().end());
  }
  for (const ValueInfoProto& in : gp.input) {
    if (g.is_constant(in.name)) continue;  // IR < 4 lists initializers as inputs too
    check(!in.name.empty(), "onnx: a graph input has no name");
    check(in.kind == TypeKind::tensor, "onnx: graph input '", in.name, "' is not a tensor");
    check(to_dtype(in.elem_type).has_value(), "onnx: graph input '", in.name, "' has element type ",
          in.elem_type, ", which qnn does not compute with");
    Value& v = g.ensure_value(in.name);
    detail::apply_value_info(v, in);
    g.inputs.push_back(in.name);
  }
  for (const ValueInfoProto& vi : gp.value_info)
    if (!vi.name.empty() && !g.is_constant(vi.name)) detail::apply_value_info(g.ensure_value(vi.name), vi);
  for (const ValueInfoProto& out : gp.output) {
    check(!out.name.empty(), "onnx: a graph output has no name");
    detail::apply_value_info(g.ensure_value(out.name), out);
    g.outputs.push_back(out.name);
  }
  // An empty file parses as an empty ModelProto; ONNX requires outputs, so this is the place to say so.
  check(!g.outputs.empty(), "onnx: the graph has no outputs (an empty file, or not an ONNX model?)");

  int unnamed = 0;
  for (const NodeProto& np : gp.node) {
    Node n;
    n.name = np.name.empty() ? np.op_type + "_" + std::to_string(unnamed++) : np.name;
    n.op_type = np.op_type;
    n.domain = np.domain == "ai.onnx" ? "" : np.domain;
    n.inputs = np.input;
    n.outputs = np.output;
    const std::string where = n.where();
    check(!local_functions.count(np.domain + "." + np.op_type), where,
          ": calls a model-local function; qnn does not inline functions");
    check(n.domain.empty() || g.opsets.count(n.domain), where, ": domain '", n.domain,
          "' is not imported by the model");
    if (n.op_type == "Constant" && n.domain.empty()) {
      check(np.output.size() == 1, where, ": Constant has ", np.output.size(), " outputs");
      Value& v = g.ensure_value(np.output[0]);
      check(!v.constant, where, ": output '", np.output[0], "' is defined twice");
      v.constant = detail::constant_node_value(np, where);
      v.dtype = v.constant->dtype();
      v.dims = std::vector<std::int64_t>(v.constant->shape().begin(), v.constant->shape().end());
      continue;
    }
    for (const AttributeProto& a : np.attribute) n.attrs.set(a.name, detail::to_attribute(a, where));
    for (const auto& name : n.inputs)
      if (!name.empty()) g.ensure_value(name);
    for (const auto& name : n.outputs)
      if (!name.empty()) g.ensure_value(name);
    g.nodes.push_back(std::move(n));
  }
  g.topological_sort();
  return g;
}

inline Graph load_graph(const std::filesystem::path& path) {
  const ModelProto m = load_model(path);  // its errors already name the file
  return with_context(io::file_context(path), [&] { return import_model(m); });
}

}  // namespace qnn::onnx
