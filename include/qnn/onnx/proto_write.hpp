// Writing the structs of proto_types.hpp as protobuf bytes that onnx, ONNX Runtime and
// proto_read.hpp all read back.
//
// Fields go out in field-number order, default values are left out, and repeated scalars use the
// encoding onnx.proto declares (dims, ints and floats are proto2 non-packed repeated fields, so
// they are written one field per value). Tensor data is always written as raw_data. The writer
// refuses what the reader would refuse: an inconsistent tensor (dims vs data size, undecodable
// data type, negative dims) and graphs nested deeper than max_graph_depth. So serialize() never
// produces a file qnn cannot load, and parse(serialize(x)) == x for every x it accepts.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "qnn/core/error.hpp"
#include "qnn/onnx/proto_fields.hpp"
#include "qnn/onnx/proto_read.hpp"
#include "qnn/onnx/proto_types.hpp"
#include "qnn/onnx/wire.hpp"

namespace qnn::onnx {

namespace detail {

using wire::Writer;

inline std::vector<std::byte> encode_tensor(const TensorProto& t) {
  namespace fn = field::tensor;
  check_tensor_consistent(t);
  std::vector<std::byte> out;
  Writer w(out);
  for (const std::int64_t d : t.dims) w.write_int64(fn::dims, d);
  if (t.data_type != DataType::undefined) {
    w.write_int64(fn::data_type, static_cast<std::int32_t>(t.data_type));
  }
  if (!t.name.empty()) w.write_string(fn::name, t.name);
  if (!t.data.empty()) w.write_bytes(fn::raw_data, t.data);
  return out;
}

inline std::vector<std::byte> encode_string_string_entry(const StringStringEntry& e) {
  namespace fn = field::string_string_entry;
  std::vector<std::byte> out;
  Writer w(out);
  if (!e.key.empty()) w.write_string(fn::key, e.key);
  if (!e.value.empty()) w.write_string(fn::value, e.value);
  return out;
}

inline std::vector<std::byte> encode_dimension(const Dimension& d) {
  namespace fn = field::dimension;
  std::vector<std::byte> out;
  Writer w(out);
  switch (d.kind) {
    case DimKind::value:
      check(d.value >= 0, "onnx: cannot write negative dimension ", d.value);
      w.write_int64(fn::dim_value, d.value);
      break;
    case DimKind::param: w.write_string(fn::dim_param, d.param); break;
    case DimKind::unknown: break;  // an empty Dimension: size unknown
  }
  return out;
}

// TypeProto for a ValueInfoProto whose kind is not none.
inline std::vector<std::byte> encode_type(const ValueInfoProto& v) {
  std::vector<std::byte> inner;
  Writer iw(inner);
  if (v.kind == TypeKind::tensor) {
    if (v.elem_type != DataType::undefined) {
      iw.write_int64(field::type_tensor::elem_type, static_cast<std::int32_t>(v.elem_type));
    }
    if (v.shape) {
      std::vector<std::byte> shape;
      Writer sw(shape);
      for (const Dimension& d : *v.shape) {
        sw.write_message(field::tensor_shape::dim, encode_dimension(d));
      }
      iw.write_message(field::type_tensor::shape, shape);
    }
  }
  // Other kinds are recorded without contents, so they are written as an empty message.
  field::Number number = 0;
  switch (v.kind) {
    case TypeKind::tensor: number = field::type::tensor_type; break;
    case TypeKind::sequence: number = field::type::sequence_type; break;
    case TypeKind::map: number = field::type::map_type; break;
    case TypeKind::optional: number = field::type::optional_type; break;
    case TypeKind::sparse_tensor: number = field::type::sparse_tensor_type; break;
    case TypeKind::none: fail("onnx: value '", v.name, "' has no type to write");
  }
  std::vector<std::byte> out;
  Writer w(out);
  w.write_message(number, inner);
  return out;
}

inline std::vector<std::byte> encode_value_info(const ValueInfoProto& v) {
  namespace fn = field::value_info;
  std::vector<std::byte> out;
  Writer w(out);
  if (!v.name.empty()) w.write_string(fn::name, v.name);
  if (v.kind != TypeKind::none) w.write_message(fn::type, encode_type(v));
  return out;
}

inline std::vector<std::byte> encode_graph(const GraphProto& g, int depth);

inline std::vector<std::byte> encode_attribute(const AttributeProto& a, int depth) {
  namespace fn = field::attribute;
  std::vector<std::byte> out;
  Writer w(out);
  if (!a.name.empty()) w.write_string(fn::name, a.name);
  // The value field named by `type` is written even when it holds the default (0, ""), because
  // onnx.checker requires exactly one value field to be present.
  if (a.type == AttributeType::float32 || std::bit_cast<std::uint32_t>(a.f) != 0) {
    w.write_float(fn::f, a.f);
  }
  if (a.type == AttributeType::int64 || a.i != 0) w.write_int64(fn::i, a.i);
  if (a.type == AttributeType::string || !a.s.empty()) w.write_string(fn::s, a.s);
  if (a.t) w.write_message(fn::t, encode_tensor(*a.t));
  if (a.g) w.write_message(fn::g, encode_graph(*a.g, depth + 1));
  for (const float v : a.floats) w.write_float(fn::floats, v);
  for (const std::int64_t v : a.ints) w.write_int64(fn::ints, v);
  for (const std::string& v : a.strings) w.write_string(fn::strings, v);
  for (const TensorProto& v : a.tensors) w.write_message(fn::tensors, encode_tensor(v));
  for (const GraphProto& v : a.graphs) w.write_message(fn::graphs, encode_graph(v, depth + 1));
  if (a.type != AttributeType::undefined) {
    w.write_int64(fn::type, static_cast<std::int32_t>(a.type));
  }
  return out;
}

inline std::vector<std::byte> encode_node(const NodeProto& n, int depth) {
  namespace fn = field::node;
  std::vector<std::byte> out;
  Writer w(out);
  for (const std::string& s : n.input) w.write_string(fn::input, s);
  for (const std::string& s : n.output) w.write_string(fn::output, s);
  if (!n.name.empty()) w.write_string(fn::name, n.name);
  if (!n.op_type.empty()) w.write_string(fn::op_type, n.op_type);
  for (const AttributeProto& a : n.attribute) {
    w.write_message(fn::attribute, with_context("node '" + n.name + "' (" + n.op_type + ")",
                                                [&] { return encode_attribute(a, depth); }));
  }
  if (!n.domain.empty()) w.write_string(fn::domain, n.domain);
  return out;
}

inline std::vector<std::byte> encode_graph(const GraphProto& g, int depth) {
  namespace fn = field::graph;
  check(depth <= max_graph_depth, "onnx: cannot write graph '", g.name,
        "': graphs nested deeper than ", max_graph_depth, " levels");
  std::vector<std::byte> out;
  Writer w(out);
  for (const NodeProto& n : g.node) w.write_message(fn::node, encode_node(n, depth));
  if (!g.name.empty()) w.write_string(fn::name, g.name);
  for (const TensorProto& t : g.initializer) w.write_message(fn::initializer, encode_tensor(t));
  for (const ValueInfoProto& v : g.input) w.write_message(fn::input, encode_value_info(v));
  for (const ValueInfoProto& v : g.output) w.write_message(fn::output, encode_value_info(v));
  for (const ValueInfoProto& v : g.value_info) {
    w.write_message(fn::value_info, encode_value_info(v));
  }
  return out;
}

inline std::vector<std::byte> encode_operator_set_id(const OperatorSetIdProto& o) {
  namespace fn = field::operator_set_id;
  std::vector<std::byte> out;
  Writer w(out);
  if (!o.domain.empty()) w.write_string(fn::domain, o.domain);
  w.write_int64(fn::version, o.version);
  return out;
}

inline std::vector<std::byte> encode_model(const ModelProto& m) {
  namespace fn = field::model;
  std::vector<std::byte> out;
  Writer w(out);
  if (m.ir_version != 0) w.write_int64(fn::ir_version, m.ir_version);
  if (!m.producer_name.empty()) w.write_string(fn::producer_name, m.producer_name);
  if (!m.producer_version.empty()) w.write_string(fn::producer_version, m.producer_version);
  if (!m.domain.empty()) w.write_string(fn::domain, m.domain);
  if (m.model_version != 0) w.write_int64(fn::model_version, m.model_version);
  if (!m.doc_string.empty()) w.write_string(fn::doc_string, m.doc_string);
  w.write_message(fn::graph, encode_graph(m.graph, 0));
  for (const OperatorSetIdProto& o : m.opset_import) {
    w.write_message(fn::opset_import, encode_operator_set_id(o));
  }
  for (const StringStringEntry& e : m.metadata_props) {
    w.write_message(fn::metadata_props, encode_string_string_entry(e));
  }
  for (const FunctionProto& f : m.functions) w.write_message(fn::functions, f.encoded);
  return out;
}

}  // namespace detail

// Serializes a model; tensor data goes out as raw_data.
inline std::vector<std::byte> serialize(const ModelProto& m) { return detail::encode_model(m); }

// Serializes one tensor as a TensorProto (the format of the ONNX test suite's .pb files).
inline std::vector<std::byte> serialize(const TensorProto& t) { return detail::encode_tensor(t); }

}  // namespace qnn::onnx
