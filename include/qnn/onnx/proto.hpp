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
// "file 'model.onnx': onnx: truncated varint at offset 1234".
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <ios>
#include <span>
#include <string>
#include <system_error>
#include <vector>

#include "qnn/core/error.hpp"
#include "qnn/onnx/data_type.hpp"
#include "qnn/onnx/proto_read.hpp"
#include "qnn/onnx/proto_types.hpp"
#include "qnn/onnx/proto_write.hpp"
#include "qnn/onnx/tensor_values.hpp"

namespace qnn::onnx {

namespace detail {

inline std::string file_context(const std::filesystem::path& path) {
  return "file '" + path.string() + "'";
}

inline std::vector<std::byte> read_file_bytes(const std::filesystem::path& path) {
  // The size comes from the file system, not from a seek, so a directory or a missing file is an
  // error here rather than a bogus size.
  std::error_code ec;
  const std::uintmax_t size = std::filesystem::file_size(path, ec);
  check(!ec, file_context(path), ": cannot open for reading (", ec.message(), ")");
  std::ifstream in(path, std::ios::binary);
  check(in.good(), file_context(path), ": cannot open for reading");
  std::vector<std::byte> bytes(static_cast<std::size_t>(size));
  in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  check(static_cast<std::uintmax_t>(in.gcount()) == size, file_context(path), ": read ",
        in.gcount(), " of ", size, " bytes");
  return bytes;
}

inline void write_file_bytes(const std::filesystem::path& path,
                             const std::vector<std::byte>& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  check(out.good(), file_context(path), ": cannot open for writing");
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
  out.close();
  check(!out.fail(), file_context(path), ": write failed");
}

}  // namespace detail

inline ModelProto load_model(const std::filesystem::path& path) {
  const std::vector<std::byte> bytes = detail::read_file_bytes(path);
  return with_context(detail::file_context(path), [&] { return parse_model(bytes); });
}

inline TensorProto load_tensor(const std::filesystem::path& path) {
  const std::vector<std::byte> bytes = detail::read_file_bytes(path);
  return with_context(detail::file_context(path), [&] { return parse_tensor(bytes); });
}

inline void save_model(const std::filesystem::path& path, const ModelProto& model) {
  const std::vector<std::byte> bytes =
      with_context(detail::file_context(path), [&] { return serialize(model); });
  detail::write_file_bytes(path, bytes);
}

inline void save_tensor(const std::filesystem::path& path, const TensorProto& tensor) {
  const std::vector<std::byte> bytes =
      with_context(detail::file_context(path), [&] { return serialize(tensor); });
  detail::write_file_bytes(path, bytes);
}

}  // namespace qnn::onnx
