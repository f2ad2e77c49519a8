// Field numbers of the onnx.proto messages qnn reads and writes (ONNX IR version 13, onnx.proto in
// the onnx repository, syntax "proto2"). One namespace per message; each constant is the number
// after the `=` in that message's field declaration. Fields not listed are skipped when read.
#pragma once

#include <cstdint>

namespace qnn::onnx::field {

using Number = std::uint32_t;

// message StringStringEntryProto
namespace string_string_entry {
inline constexpr Number key = 1;    // optional string
inline constexpr Number value = 2;  // optional string
}  // namespace string_string_entry

// message TensorProto
namespace tensor {
inline constexpr Number dims = 1;            // repeated int64
inline constexpr Number data_type = 2;       // optional int32 (enum DataType)
inline constexpr Number segment = 3;         // optional Segment — rejected
inline constexpr Number float_data = 4;      // repeated float [packed]
inline constexpr Number int32_data = 5;      // repeated int32 [packed]
inline constexpr Number string_data = 6;     // repeated bytes — rejected
inline constexpr Number int64_data = 7;      // repeated int64 [packed]
inline constexpr Number name = 8;            // optional string
inline constexpr Number raw_data = 9;        // optional bytes
inline constexpr Number double_data = 10;    // repeated double [packed]
inline constexpr Number uint64_data = 11;    // repeated uint64 [packed]
inline constexpr Number external_data = 13;  // repeated StringStringEntryProto — rejected
inline constexpr Number data_location = 14;  // optional enum DataLocation — EXTERNAL rejected
}  // namespace tensor

// enum TensorProto.DataLocation
inline constexpr std::int32_t data_location_external = 1;

// message SparseTensorProto is never decoded: every field that holds one is rejected.

// message TensorShapeProto
namespace tensor_shape {
inline constexpr Number dim = 1;  // repeated Dimension
}
// message TensorShapeProto.Dimension
namespace dimension {
inline constexpr Number dim_value = 1;  // oneof value: int64
inline constexpr Number dim_param = 2;  // oneof value: string
}  // namespace dimension

// message TypeProto
namespace type {
inline constexpr Number tensor_type = 1;         // oneof value: Tensor
inline constexpr Number sequence_type = 4;       // oneof value: Sequence
inline constexpr Number map_type = 5;            // oneof value: Map
inline constexpr Number sparse_tensor_type = 8;  // oneof value: SparseTensor
inline constexpr Number optional_type = 9;       // oneof value: Optional
}  // namespace type
// message TypeProto.Tensor
namespace type_tensor {
inline constexpr Number elem_type = 1;  // optional int32
inline constexpr Number shape = 2;      // optional TensorShapeProto
}  // namespace type_tensor

// message ValueInfoProto
namespace value_info {
inline constexpr Number name = 1;  // optional string
inline constexpr Number type = 2;  // optional TypeProto
}  // namespace value_info

// message AttributeProto
namespace attribute {
inline constexpr Number name = 1;             // optional string
inline constexpr Number f = 2;                // optional float
inline constexpr Number i = 3;                // optional int64
inline constexpr Number s = 4;                // optional bytes
inline constexpr Number t = 5;                // optional TensorProto
inline constexpr Number g = 6;                // optional GraphProto
inline constexpr Number floats = 7;           // repeated float
inline constexpr Number ints = 8;             // repeated int64
inline constexpr Number strings = 9;          // repeated bytes
inline constexpr Number tensors = 10;         // repeated TensorProto
inline constexpr Number graphs = 11;          // repeated GraphProto
inline constexpr Number type = 20;            // optional enum AttributeType
inline constexpr Number ref_attr_name = 21;   // optional string — rejected
inline constexpr Number sparse_tensor = 22;   // optional SparseTensorProto — rejected
inline constexpr Number sparse_tensors = 23;  // repeated SparseTensorProto — rejected
}  // namespace attribute

// message NodeProto
namespace node {
inline constexpr Number input = 1;      // repeated string
inline constexpr Number output = 2;     // repeated string
inline constexpr Number name = 3;       // optional string
inline constexpr Number op_type = 4;    // optional string
inline constexpr Number attribute = 5;  // repeated AttributeProto
inline constexpr Number domain = 7;     // optional string
}  // namespace node

// message GraphProto
namespace graph {
inline constexpr Number node = 1;                 // repeated NodeProto
inline constexpr Number name = 2;                 // optional string
inline constexpr Number initializer = 5;          // repeated TensorProto
inline constexpr Number input = 11;               // repeated ValueInfoProto
inline constexpr Number output = 12;              // repeated ValueInfoProto
inline constexpr Number value_info = 13;          // repeated ValueInfoProto
inline constexpr Number sparse_initializer = 15;  // repeated SparseTensorProto — rejected
}  // namespace graph

// message OperatorSetIdProto
namespace operator_set_id {
inline constexpr Number domain = 1;   // optional string
inline constexpr Number version = 2;  // optional int64
}  // namespace operator_set_id

// message FunctionProto (only its identity is decoded; the message is kept as bytes)
namespace function {
inline constexpr Number name = 1;     // optional string
inline constexpr Number domain = 10;  // optional string
}  // namespace function

// message ModelProto
namespace model {
inline constexpr Number ir_version = 1;        // optional int64
inline constexpr Number producer_name = 2;     // optional string
inline constexpr Number producer_version = 3;  // optional string
inline constexpr Number domain = 4;            // optional string
inline constexpr Number model_version = 5;     // optional int64
inline constexpr Number doc_string = 6;        // optional string
inline constexpr Number graph = 7;             // optional GraphProto
inline constexpr Number opset_import = 8;      // repeated OperatorSetIdProto
inline constexpr Number metadata_props = 14;   // repeated StringStringEntryProto
inline constexpr Number functions = 25;        // repeated FunctionProto
}  // namespace model

}  // namespace qnn::onnx::field
