// Plain structs mirroring the parts of onnx.proto that qnn uses.
//
// They are values: copyable, comparable with ==, no hidden state. Fields that are absent in a file
// hold their default value, and serialization leaves default values out, so a parse -> serialize ->
// parse round trip gives an equal struct. Two deliberate departures from onnx.proto:
//   - TensorProto holds its elements decoded into one little-endian byte buffer, whichever field
//     (raw_data or a typed field) they came in; they are always written back as raw_data.
//   - ValueInfoProto flattens TypeProto: its kind, and for tensors the element type and shape.
//     Sequence, map and optional types are recorded only by kind (qnn does not run them).
// Fields qnn has no use for are skipped when read and so not written back: doc strings other than
// the model's, node and graph metadata_props, graph quantization_annotation, training_info,
// dimension denotations, NodeProto.overload, and the values of TYPE_PROTO(S) attributes.
// Equality compares floats by their bits, so NaN attributes round-trip too.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "qnn/core/error.hpp"
#include "qnn/onnx/data_type.hpp"

namespace qnn::onnx {

// onnx.proto: message StringStringEntryProto.
struct StringStringEntry {
  std::string key;
  std::string value;
  friend bool operator==(const StringStringEntry&, const StringStringEntry&) = default;
};

// onnx.proto: message TensorProto.
struct TensorProto {
  std::string name;
  std::vector<std::int64_t> dims;  // each >= 0; empty for a scalar
  DataType data_type = DataType::undefined;
  // Every element, little-endian, element_size(data_type) bytes each. Bool is one byte, 0 or 1.
  std::vector<std::byte> data;

  friend bool operator==(const TensorProto&, const TensorProto&) = default;
};

// onnx.proto: message TensorShapeProto.Dimension (oneof value { dim_value, dim_param }).
enum class DimKind : std::uint8_t { unknown, value, param };

struct Dimension {
  DimKind kind = DimKind::unknown;
  std::int64_t value = 0;  // when kind == value; >= 0
  std::string param;       // when kind == param: a symbolic size such as "batch"

  static Dimension of_value(std::int64_t v) { return {DimKind::value, v, {}}; }
  static Dimension of_param(std::string p) { return {DimKind::param, 0, std::move(p)}; }

  friend bool operator==(const Dimension&, const Dimension&) = default;
};

// onnx.proto: message TypeProto (oneof value).
enum class TypeKind : std::uint8_t { none, tensor, sequence, map, optional, sparse_tensor };

// onnx.proto: message ValueInfoProto, with TypeProto.tensor_type flattened into it.
struct ValueInfoProto {
  std::string name;
  TypeKind kind = TypeKind::none;             // none: the value has no type recorded
  DataType elem_type = DataType::undefined;   // kind == tensor only
  std::optional<std::vector<Dimension>> shape;  // kind == tensor only; nullopt: rank unknown

  friend bool operator==(const ValueInfoProto&, const ValueInfoProto&) = default;
};

// onnx.proto: message AttributeProto { enum AttributeType }. The names say what the value is.
enum class AttributeType : std::int32_t {
  undefined = 0,
  float32 = 1,  // f
  int64 = 2,    // i
  string = 3,   // s
  tensor = 4,   // t
  graph = 5,    // g
  floats = 6,
  ints = 7,
  strings = 8,
  tensors = 9,
  graphs = 10,
  sparse_tensor = 11,
  sparse_tensors = 12,
  type_proto = 13,
  type_protos = 14,
};

struct AttributeProto;

// onnx.proto: message NodeProto.
struct NodeProto {
  std::string name;
  std::string op_type;
  std::string domain;  // "" and "ai.onnx" both mean the default operator set
  std::vector<std::string> input;   // "" marks an omitted optional input
  std::vector<std::string> output;
  std::vector<AttributeProto> attribute;

  friend bool operator==(const NodeProto&, const NodeProto&) = default;
};

// onnx.proto: message GraphProto.
struct GraphProto {
  std::string name;
  std::vector<NodeProto> node;
  std::vector<TensorProto> initializer;
  std::vector<ValueInfoProto> input;
  std::vector<ValueInfoProto> output;
  std::vector<ValueInfoProto> value_info;

  friend bool operator==(const GraphProto&, const GraphProto&) = default;
};

// onnx.proto: message AttributeProto. `type` says which value field is meant; the others stay
// empty. TYPE_PROTO(S) attributes keep their type but not their value (qnn runs no op that uses
// them); sparse tensors and ref_attr_name are rejected by the reader.
struct AttributeProto {
  std::string name;
  AttributeType type = AttributeType::undefined;
  float f = 0.0f;
  std::int64_t i = 0;
  std::string s;  // bytes: UTF-8 text for ONNX operators, but not checked
  std::optional<TensorProto> t;
  std::optional<GraphProto> g;
  std::vector<float> floats;
  std::vector<std::int64_t> ints;
  std::vector<std::string> strings;
  std::vector<TensorProto> tensors;
  std::vector<GraphProto> graphs;

  friend bool operator==(const AttributeProto& a, const AttributeProto& b) {
    return a.name == b.name && a.type == b.type && same_bits(a.f, b.f) && a.i == b.i &&
           a.s == b.s && a.t == b.t && a.g == b.g && same_bits(a.floats, b.floats) &&
           a.ints == b.ints && a.strings == b.strings && a.tensors == b.tensors &&
           a.graphs == b.graphs;
  }

 private:
  static bool same_bits(float x, float y) {
    return std::bit_cast<std::uint32_t>(x) == std::bit_cast<std::uint32_t>(y);
  }
  static bool same_bits(const std::vector<float>& x, const std::vector<float>& y) {
    if (x.size() != y.size()) return false;
    for (std::size_t k = 0; k < x.size(); ++k) {
      if (!same_bits(x[k], y[k])) return false;
    }
    return true;
  }
};

// onnx.proto: message OperatorSetIdProto.
struct OperatorSetIdProto {
  std::string domain;  // "" is the default ONNX operator set
  std::int64_t version = 0;

  friend bool operator==(const OperatorSetIdProto&, const OperatorSetIdProto&) = default;
};

// onnx.proto: message FunctionProto — a model-local function. qnn does not inline functions: the
// reader decodes only the name and domain (to reject a graph that calls one) and keeps the whole
// message as bytes so that a model that merely carries functions round-trips unchanged.
struct FunctionProto {
  std::string name;
  std::string domain;
  std::vector<std::byte> encoded;  // the serialized FunctionProto, written back verbatim

  friend bool operator==(const FunctionProto&, const FunctionProto&) = default;
};

// onnx.proto: message ModelProto.
struct ModelProto {
  std::int64_t ir_version = 0;
  std::vector<OperatorSetIdProto> opset_import;
  std::string producer_name;
  std::string producer_version;
  std::string domain;
  std::int64_t model_version = 0;
  std::string doc_string;
  GraphProto graph;
  std::vector<StringStringEntry> metadata_props;
  std::vector<FunctionProto> functions;

  friend bool operator==(const ModelProto&, const ModelProto&) = default;
};

// Number of elements `dims` describe, or a qnn::error naming `what` when a dim is negative or the
// product overflows. With `element_bytes`, the byte size is checked for overflow as well.
inline std::size_t element_count(const std::vector<std::int64_t>& dims, std::string_view what,
                                 std::size_t element_bytes = 1) {
  std::size_t count = 1;
  for (std::size_t k = 0; k < dims.size(); ++k) {
    const std::int64_t d = dims[k];
    check(d >= 0, "onnx: tensor '", what, "' has negative dimension ", d, " at index ", k);
    const auto ud = static_cast<std::uint64_t>(d);
    check(ud == 0 || count <= std::numeric_limits<std::size_t>::max() / ud, "onnx: tensor '",
          what, "' has too many elements (product of dims overflows)");
    count *= static_cast<std::size_t>(ud);
  }
  check(element_bytes == 0 || count <= std::numeric_limits<std::size_t>::max() / element_bytes,
        "onnx: tensor '", what, "' is too large (byte size overflows)");
  return count;
}

// Checks that a tensor's data type can be decoded and its data size matches its dims; the reader
// and the writer both call this, so neither accepts or produces an inconsistent tensor.
inline void check_tensor_consistent(const TensorProto& t) {
  const std::size_t size = element_size(t.data_type);
  check(size != 0, "onnx: tensor '", t.name, "' has data type ", t.data_type,
        ", whose data qnn does not decode");
  const std::size_t count = element_count(t.dims, t.name, size);
  check(count * size == t.data.size(), "onnx: tensor '", t.name, "' has ", t.data.size(),
        " bytes of data, but its dims describe ", count, " elements of ", size,
        " bytes = ", count * size, " bytes");
  if (t.data_type == DataType::boolean) {
    // A bool byte other than 0 or 1 has no meaning, and reading it as C++ bool would be undefined.
    for (std::size_t k = 0; k < t.data.size(); ++k) {
      const auto b = std::to_integer<unsigned>(t.data[k]);
      check(b <= 1, "onnx: tensor '", t.name, "' bool element ", k, " has byte value ", b);
    }
  }
}

}  // namespace qnn::onnx
