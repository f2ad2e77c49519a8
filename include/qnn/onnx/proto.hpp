// The ONNX protobuf reader and writer: parse and serialize ModelProto and TensorProto without
// libprotobuf, and load or save them as files.
//
//   ModelProto  parse_model(std::span<const std::byte>)       proto_read.hpp
//   TensorProto parse_tensor(std::span<const std::byte>)      proto_read.hpp
//   std::vector<std::byte> serialize(const ModelProto&)        proto_write.hpp
//   std::vector<std::byte> serialize(const TensorProto&)       proto_write.hpp
//   load_model / load_tensor / save_model / save_tensor         here
//
// The structs are in proto_types.hpp, ONNX element types in data_type.hpp, typed access to tensor
// data in tensor_values.hpp, the wire format in wire.hpp. File errors name the file:
// "file 'model.onnx': onnx: truncated varint at offset 1234". Saves are atomic (io/file.hpp): a
// failed save leaves no partial model behind.
#pragma once

#include <cstddef>
#include <filesystem>
#include <vector>

#include "qnn/core/error.hpp"
#include "qnn/io/file.hpp"
#include "qnn/onnx/data_type.hpp"
#include "qnn/onnx/proto_read.hpp"
#include "qnn/onnx/proto_types.hpp"
#include "qnn/onnx/proto_write.hpp"
#include "qnn/onnx/tensor_values.hpp"

namespace qnn::onnx {

inline ModelProto load_model(const std::filesystem::path& path) {
  const std::vector<std::byte> bytes = io::read_file_bytes(path);
  return with_context(io::file_context(path), [&] { return parse_model(bytes); });
}

inline TensorProto load_tensor(const std::filesystem::path& path) {
  const std::vector<std::byte> bytes = io::read_file_bytes(path);
  return with_context(io::file_context(path), [&] { return parse_tensor(bytes); });
}

inline void save_model(const std::filesystem::path& path, const ModelProto& model) {
  const std::vector<std::byte> bytes =
      with_context(io::file_context(path), [&] { return serialize(model); });
  io::write_file_atomic(path, bytes);
}

inline void save_tensor(const std::filesystem::path& path, const TensorProto& tensor) {
  const std::vector<std::byte> bytes =
      with_context(io::file_context(path), [&] { return serialize(tensor); });
  io::write_file_atomic(path, bytes);
}

}  // namespace qnn::onnx
