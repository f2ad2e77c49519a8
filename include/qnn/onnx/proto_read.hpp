// Reading ONNX models and tensors from protobuf bytes into the structs of proto_types.hpp.
//
// What the reader accepts, and why it refuses the rest:
//   - Unknown fields of any wire type are skipped, so files from newer ONNX versions load.
//   - Repeated scalars are accepted packed or unpacked (both are legal protobuf).
//   - A singular field seen twice keeps the last value (protobuf semantics for scalars; for
//     messages protobuf would merge, which no ONNX writer relies on).
//   - Tensor data is decoded into TensorProto::data; the typed field must be the one ONNX assigns
//     to the data type, each value must fit the type (int32_data 300 is no int8), and the element
//     count implied by dims must equal what the data holds. Only one data field may be used.
//   - Refused with a qnn::error: external data, segmented tensors, string tensors, sub-byte types,
//     sparse tensors (initializers or attributes), ref_attr_name, graphs nested deeper than
//     max_graph_depth, negative dims, and a node that calls a model-local function.
// Hostile input: memory use is linear in the input size and never driven by a declared number.
// Every length is checked against the bytes that remain before anything is copied, and decoded
// tensor data is sized only after its element count has been checked against the values actually
// present, so neither a length field nor dims can request a large allocation. The worst case is a
// file made of empty nested messages: a 2-byte empty AttributeProto becomes a ~450-byte struct
// (libprotobuf's generated classes have the same property).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "qnn/core/error.hpp"
#include "qnn/onnx/data_type.hpp"
#include "qnn/onnx/proto_fields.hpp"
#include "qnn/onnx/proto_types.hpp"
#include "qnn/onnx/wire.hpp"

namespace qnn::onnx {

// Graphs nest through attributes (the bodies of If, Loop, Scan). Real models nest a handful of
// levels; the limit bounds stack depth and work on hostile input. The writer enforces it too.
inline constexpr int max_graph_depth = 32;

namespace detail {

using wire::Field;
using wire::Reader;

inline void append_le(std::vector<std::byte>& out, std::uint64_t v, std::size_t bytes) {
  for (std::size_t k = 0; k < bytes; ++k) {
    out.push_back(static_cast<std::byte>((v >> (8 * k)) & 0xffu));
  }
}

// The data-bearing fields of one TensorProto, gathered while reading. They are decoded after the
// whole message is read because data_type may come after the data.
struct TensorFields {
  std::size_t offset = 0;  // where the TensorProto message starts, for errors
  bool has_raw = false;
  std::span<const std::byte> raw;
  std::vector<float> float_data;
  std::vector<std::int32_t> int32_data;
  std::vector<std::int64_t> int64_data;
  std::vector<double> double_data;
  std::vector<std::uint64_t> uint64_data;
  bool has_string_data = false;
  bool has_segment = false;
  bool has_external_data = false;
  std::int32_t data_location = 0;
};

// int32_data carries every type narrower than 32 bits, one value per element. The allowed range
// is that of the type; float16, bfloat16 and the 8-bit floats are bit patterns in the low bits
// (onnx.proto), accepted whether the writer stored them zero- or sign-extended.
struct Int32Range {
  std::int64_t lo;
  std::int64_t hi;
};
inline Int32Range int32_data_range(DataType t) {
  switch (t) {
    case DataType::int8: return {-128, 127};
    case DataType::uint8: return {0, 255};
    case DataType::boolean: return {0, 1};
    case DataType::float8e4m3fn:
    case DataType::float8e4m3fnuz:
    case DataType::float8e5m2:
    case DataType::float8e5m2fnuz:
    case DataType::float8e8m0: return {-128, 255};
    case DataType::int16: return {-32768, 32767};
    case DataType::uint16: return {0, 65535};
    case DataType::float16:
    case DataType::bfloat16: return {-32768, 65535};
    case DataType::int32:
      return {std::numeric_limits<std::int32_t>::min(), std::numeric_limits<std::int32_t>::max()};
    default: return {1, 0};  // empty: the type does not use int32_data
  }
}

// Fails unless `values` holds exactly `expected` numbers; called before any output is allocated.
inline void check_value_count(const TensorProto& t, std::string_view field, std::size_t have,
                              std::size_t expected) {
  check(have == expected, "onnx: tensor '", t.name, "' has ", have, " values in ", field,
        ", but its dims and data type (", t.data_type, ") need ", expected);
}

[[noreturn]] inline void fail_wrong_field(const TensorProto& t, std::string_view field) {
  fail("onnx: tensor '", t.name, "' of data type ", t.data_type, " stores its data in ", field,
       ", which ONNX does not use for that type");
}

inline void decode_tensor_data(TensorProto& t, const TensorFields& f) {
  check(!f.has_external_data && f.data_location != field::data_location_external, "onnx: tensor '",
        t.name, "' uses external data, which qnn does not load (offset ", f.offset, ")");
  check(!f.has_segment, "onnx: tensor '", t.name,
        "' is a segment of a larger tensor, which qnn does not support (offset ", f.offset, ")");
  check(t.data_type != DataType::string && !f.has_string_data, "onnx: tensor '", t.name,
        "' holds strings, which qnn does not support (offset ", f.offset, ")");
  const int sources = int{f.has_raw} + int{!f.float_data.empty()} + int{!f.int32_data.empty()} +
                      int{!f.int64_data.empty()} + int{!f.double_data.empty()} +
                      int{!f.uint64_data.empty()};
  check(sources <= 1, "onnx: tensor '", t.name, "' has its data in ", sources,
        " different fields (offset ", f.offset, ")");

  const std::size_t size = element_size(t.data_type);
  check(size != 0, "onnx: tensor '", t.name, "' has data type ", t.data_type,
        ", whose data qnn does not decode (offset ", f.offset, ")");
  const std::size_t count = element_count(t.dims, t.name, size);

  if (f.has_raw) {
    check(f.raw.size() == count * size, "onnx: tensor '", t.name, "' has ", f.raw.size(),
          " bytes of raw_data, but its dims describe ", count, " elements of ", size, " bytes");
    t.data.assign(f.raw.begin(), f.raw.end());
  } else if (!f.float_data.empty()) {
    // float32 stores one float per element, complex64 two (real, imaginary).
    if (t.data_type != DataType::float32 && t.data_type != DataType::complex64) {
      fail_wrong_field(t, "float_data");
    }
    check_value_count(t, "float_data", f.float_data.size(), count * (size / 4));
    t.data.reserve(count * size);
    for (const float v : f.float_data) append_le(t.data, std::bit_cast<std::uint32_t>(v), 4);
  } else if (!f.int32_data.empty()) {
    const Int32Range range = int32_data_range(t.data_type);
    if (range.lo > range.hi) fail_wrong_field(t, "int32_data");
    check_value_count(t, "int32_data", f.int32_data.size(), count);
    t.data.reserve(count * size);
    for (std::size_t k = 0; k < f.int32_data.size(); ++k) {
      const std::int32_t v = f.int32_data[k];
      check(v >= range.lo && v <= range.hi, "onnx: tensor '", t.name, "' int32_data[", k,
            "] = ", v, " is out of range for data type ", t.data_type);
      // Two's complement truncation to `size` bytes keeps the low bits, which is the value for
      // signed and unsigned types alike once the range check has passed.
      append_le(t.data, static_cast<std::uint32_t>(v), size);
    }
  } else if (!f.int64_data.empty()) {
    if (t.data_type != DataType::int64) fail_wrong_field(t, "int64_data");
    check_value_count(t, "int64_data", f.int64_data.size(), count);
    t.data.reserve(count * size);
    for (const std::int64_t v : f.int64_data) append_le(t.data, static_cast<std::uint64_t>(v), 8);
  } else if (!f.double_data.empty()) {
    // double stores one per element, complex128 two (real, imaginary).
    if (t.data_type != DataType::float64 && t.data_type != DataType::complex128) {
      fail_wrong_field(t, "double_data");
    }
    check_value_count(t, "double_data", f.double_data.size(), count * (size / 8));
    t.data.reserve(count * size);
    for (const double v : f.double_data) append_le(t.data, std::bit_cast<std::uint64_t>(v), 8);
  } else if (!f.uint64_data.empty()) {
    if (t.data_type != DataType::uint32 && t.data_type != DataType::uint64) {
      fail_wrong_field(t, "uint64_data");
    }
    check_value_count(t, "uint64_data", f.uint64_data.size(), count);
    t.data.reserve(count * size);
    for (std::size_t k = 0; k < f.uint64_data.size(); ++k) {
      const std::uint64_t v = f.uint64_data[k];
      check(size == 8 || v <= std::numeric_limits<std::uint32_t>::max(), "onnx: tensor '", t.name,
            "' uint64_data[", k, "] = ", v, " is out of range for data type ", t.data_type);
      append_le(t.data, v, size);
    }
  } else {
    check(count == 0, "onnx: tensor '", t.name, "' has no data, but its dims describe ", count,
          " elements (offset ", f.offset, ")");
  }
  check_tensor_consistent(t);
}

inline TensorProto read_tensor(Reader r) {
  namespace fn = field::tensor;
  TensorProto t;
  TensorFields f;
  f.offset = r.offset();
  while (!r.at_end()) {
    const Field h = r.read_field();
    switch (h.number) {
      case fn::dims: r.read_repeated_int64(h, t.dims); break;
      case fn::data_type: t.data_type = static_cast<DataType>(r.read_int32(h)); break;
      case fn::name: t.name = r.read_string(h); break;
      case fn::raw_data:
        f.raw = r.read_bytes(h);
        f.has_raw = true;
        break;
      case fn::float_data: r.read_repeated_float(h, f.float_data); break;
      case fn::int32_data: r.read_repeated_int32(h, f.int32_data); break;
      case fn::int64_data: r.read_repeated_int64(h, f.int64_data); break;
      case fn::double_data: r.read_repeated_double(h, f.double_data); break;
      case fn::uint64_data: r.read_repeated_uint64(h, f.uint64_data); break;
      case fn::string_data:
        r.skip(h);
        f.has_string_data = true;
        break;
      case fn::segment:
        r.skip(h);
        f.has_segment = true;
        break;
      case fn::external_data:
        r.skip(h);
        f.has_external_data = true;
        break;
      case fn::data_location: f.data_location = r.read_int32(h); break;
      default: r.skip(h);
    }
  }
  decode_tensor_data(t, f);
  return t;
}

inline StringStringEntry read_string_string_entry(Reader r) {
  namespace fn = field::string_string_entry;
  StringStringEntry e;
  while (!r.at_end()) {
    const Field h = r.read_field();
    switch (h.number) {
      case fn::key: e.key = r.read_string(h); break;
      case fn::value: e.value = r.read_string(h); break;
      default: r.skip(h);
    }
  }
  return e;
}

inline Dimension read_dimension(Reader r) {
  namespace fn = field::dimension;
  Dimension d;
  while (!r.at_end()) {
    const Field h = r.read_field();
    switch (h.number) {
      case fn::dim_value: d = Dimension::of_value(r.read_int64(h)); break;
      case fn::dim_param: d = Dimension::of_param(r.read_string(h)); break;
      default: r.skip(h);
    }
  }
  return d;
}

inline std::vector<Dimension> read_shape(Reader r) {
  std::vector<Dimension> shape;
  while (!r.at_end()) {
    const Field h = r.read_field();
    if (h.number == field::tensor_shape::dim) {
      shape.push_back(read_dimension(r.read_message(h)));
    } else {
      r.skip(h);
    }
  }
  return shape;
}

// TypeProto.tensor_type into `v`.
inline void read_tensor_type(Reader r, ValueInfoProto& v) {
  namespace fn = field::type_tensor;
  while (!r.at_end()) {
    const Field h = r.read_field();
    switch (h.number) {
      case fn::elem_type: v.elem_type = static_cast<DataType>(r.read_int32(h)); break;
      case fn::shape: v.shape = read_shape(r.read_message(h)); break;
      default: r.skip(h);
    }
  }
}

// TypeProto into `v`. Only a tensor type is described further; for the others the oneof case
// is recorded and the contents skipped (they would recurse, and qnn does not run them).
inline void read_type(Reader r, ValueInfoProto& v) {
  namespace fn = field::type;
  while (!r.at_end()) {
    const Field h = r.read_field();
    // A oneof keeps the last case seen: reset what an earlier tensor_type filled in.
    const auto other_kind = [&](TypeKind k) {
      r.read_message(h);
      v.kind = k;
      v.elem_type = DataType::undefined;
      v.shape.reset();
    };
    switch (h.number) {
      case fn::tensor_type:
        v.kind = TypeKind::tensor;
        v.elem_type = DataType::undefined;
        v.shape.reset();
        read_tensor_type(r.read_message(h), v);
        break;
      case fn::sequence_type: other_kind(TypeKind::sequence); break;
      case fn::map_type: other_kind(TypeKind::map); break;
      case fn::optional_type: other_kind(TypeKind::optional); break;
      case fn::sparse_tensor_type: other_kind(TypeKind::sparse_tensor); break;
      default: r.skip(h);
    }
  }
}

inline ValueInfoProto read_value_info(Reader r) {
  namespace fn = field::value_info;
  ValueInfoProto v;
  while (!r.at_end()) {
    const Field h = r.read_field();
    switch (h.number) {
      case fn::name: v.name = r.read_string(h); break;
      case fn::type: read_type(r.read_message(h), v); break;
      default: r.skip(h);
    }
  }
  if (v.shape) {
    for (std::size_t k = 0; k < v.shape->size(); ++k) {
      const Dimension& d = (*v.shape)[k];
      check(d.kind != DimKind::value || d.value >= 0, "onnx: value '", v.name,
            "' has negative dimension ", d.value, " at index ", k);
    }
  }
  return v;
}

inline GraphProto read_graph(Reader r, int depth);

inline AttributeProto read_attribute(Reader r, int depth) {
  namespace fn = field::attribute;
  AttributeProto a;
  const std::size_t start = r.offset();
  bool sparse = false;
  std::string ref_attr_name;
  while (!r.at_end()) {
    const Field h = r.read_field();
    switch (h.number) {
      case fn::name: a.name = r.read_string(h); break;
      case fn::type: a.type = static_cast<AttributeType>(r.read_int32(h)); break;
      case fn::f: a.f = r.read_float(h); break;
      case fn::i: a.i = r.read_int64(h); break;
      case fn::s: a.s = r.read_string(h); break;
      case fn::t: a.t = read_tensor(r.read_message(h)); break;
      case fn::g: a.g = read_graph(r.read_message(h), depth + 1); break;
      case fn::floats: r.read_repeated_float(h, a.floats); break;
      case fn::ints: r.read_repeated_int64(h, a.ints); break;
      case fn::strings: a.strings.push_back(r.read_string(h)); break;
      case fn::tensors: a.tensors.push_back(read_tensor(r.read_message(h))); break;
      case fn::graphs: a.graphs.push_back(read_graph(r.read_message(h), depth + 1)); break;
      case fn::ref_attr_name: ref_attr_name = r.read_string(h); break;
      case fn::sparse_tensor:
      case fn::sparse_tensors:
        r.skip(h);
        sparse = true;
        break;
      default: r.skip(h);
    }
  }
  check(ref_attr_name.empty(), "onnx: attribute '", a.name, "' refers to function attribute '",
        ref_attr_name, "', which qnn does not support (offset ", start, ")");
  check(!sparse, "onnx: attribute '", a.name,
        "' holds a sparse tensor, which qnn does not support (offset ", start, ")");
  return a;
}

inline NodeProto read_node(Reader r, int depth) {
  namespace fn = field::node;
  NodeProto n;
  while (!r.at_end()) {
    const Field h = r.read_field();
    switch (h.number) {
      case fn::input: n.input.push_back(r.read_string(h)); break;
      case fn::output: n.output.push_back(r.read_string(h)); break;
      case fn::name: n.name = r.read_string(h); break;
      case fn::op_type: n.op_type = r.read_string(h); break;
      case fn::domain: n.domain = r.read_string(h); break;
      case fn::attribute: {
        // Writers emit name and op_type (fields 3, 4) before attributes (5), so an attribute's
        // error can usually say which node it belongs to.
        Reader sub = r.read_message(h);
        n.attribute.push_back(with_context("node '" + n.name + "' (" + n.op_type + ")",
                                           [&] { return read_attribute(sub, depth); }));
        break;
      }
      default: r.skip(h);
    }
  }
  return n;
}

inline GraphProto read_graph(Reader r, int depth) {
  namespace fn = field::graph;
  check(depth <= max_graph_depth, "onnx: graphs nested deeper than ", max_graph_depth,
        " levels at offset ", r.offset());
  GraphProto g;
  while (!r.at_end()) {
    const Field h = r.read_field();
    switch (h.number) {
      case fn::node: g.node.push_back(read_node(r.read_message(h), depth)); break;
      case fn::name: g.name = r.read_string(h); break;
      case fn::initializer: g.initializer.push_back(read_tensor(r.read_message(h))); break;
      case fn::input: g.input.push_back(read_value_info(r.read_message(h))); break;
      case fn::output: g.output.push_back(read_value_info(r.read_message(h))); break;
      case fn::value_info: g.value_info.push_back(read_value_info(r.read_message(h))); break;
      case fn::sparse_initializer:
        fail("onnx: graph '", g.name, "' has a sparse initializer, which qnn does not support ",
             "(offset ", h.offset, ")");
      default: r.skip(h);
    }
  }
  return g;
}

inline OperatorSetIdProto read_operator_set_id(Reader r) {
  namespace fn = field::operator_set_id;
  OperatorSetIdProto o;
  while (!r.at_end()) {
    const Field h = r.read_field();
    switch (h.number) {
      case fn::domain: o.domain = r.read_string(h); break;
      case fn::version: o.version = r.read_int64(h); break;
      default: r.skip(h);
    }
  }
  return o;
}

inline FunctionProto read_function(std::span<const std::byte> bytes, std::size_t base) {
  namespace fn = field::function;
  FunctionProto f;
  f.encoded.assign(bytes.begin(), bytes.end());
  Reader r(bytes, base);
  while (!r.at_end()) {
    const Field h = r.read_field();
    switch (h.number) {
      case fn::name: f.name = r.read_string(h); break;
      case fn::domain: f.domain = r.read_string(h); break;
      default: r.skip(h);
    }
  }
  return f;
}

// (domain, name) of the model-local functions, for lookup while walking the graph.
using FunctionIds = std::set<std::pair<std::string, std::string>>;

// Fails if a node of `g` or of a nested graph calls one of `functions`. qnn runs only operators it
// implements; silently running a function body it cannot see is not an option. A set keeps the
// walk O(nodes * log(functions)) even for a hostile file with many of both.
inline void check_no_local_function_calls(const GraphProto& g, const FunctionIds& functions) {
  for (const NodeProto& n : g.node) {
    check(!functions.contains({n.domain, n.op_type}), "onnx: node '", n.name,
          "' calls the model-local function '", n.domain, ".", n.op_type,
          "', which qnn does not inline");
    for (const AttributeProto& a : n.attribute) {
      if (a.g) check_no_local_function_calls(*a.g, functions);
      for (const GraphProto& sub : a.graphs) check_no_local_function_calls(sub, functions);
    }
  }
}

inline ModelProto read_model(Reader r) {
  namespace fn = field::model;
  ModelProto m;
  while (!r.at_end()) {
    const Field h = r.read_field();
    switch (h.number) {
      case fn::ir_version: m.ir_version = r.read_int64(h); break;
      case fn::producer_name: m.producer_name = r.read_string(h); break;
      case fn::producer_version: m.producer_version = r.read_string(h); break;
      case fn::domain: m.domain = r.read_string(h); break;
      case fn::model_version: m.model_version = r.read_int64(h); break;
      case fn::doc_string: m.doc_string = r.read_string(h); break;
      case fn::graph: m.graph = read_graph(r.read_message(h), 0); break;
      case fn::opset_import:
        m.opset_import.push_back(read_operator_set_id(r.read_message(h)));
        break;
      case fn::metadata_props:
        m.metadata_props.push_back(read_string_string_entry(r.read_message(h)));
        break;
      case fn::functions: {
        const auto bytes = r.read_bytes(h);
        m.functions.push_back(read_function(bytes, r.offset() - bytes.size()));
        break;
      }
      default: r.skip(h);
    }
  }
  if (!m.functions.empty()) {
    FunctionIds ids;
    for (const FunctionProto& f : m.functions) ids.emplace(f.domain, f.name);
    check_no_local_function_calls(m.graph, ids);
  }
  return m;
}

}  // namespace detail

// Parses a serialized onnx.ModelProto.
inline ModelProto parse_model(std::span<const std::byte> bytes) {
  return detail::read_model(wire::Reader(bytes));
}

// Parses a serialized onnx.TensorProto (the test_data_set_*/*.pb files of the ONNX test suite).
inline TensorProto parse_tensor(std::span<const std::byte> bytes) {
  return detail::read_tensor(wire::Reader(bytes));
}

}  // namespace qnn::onnx
