// Whole-file reads and atomic writes, shared by the io/ readers and writers.
//
// A write goes to `<path>.tmp` and is renamed over `<path>` only once every byte is on disk, so an
// error (full disk, a tensor the format cannot hold) never leaves a truncated file under the real
// name for a later run to trip over. Every message names the file.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <span>
#include <string>
#include <system_error>
#include <vector>

#include "qnn/core/error.hpp"

namespace qnn::io {

// "file 'dir/x.npy'": the prefix of every message about a file.
inline std::string file_context(const std::filesystem::path& path) {
  return "file '" + path.string() + "'";
}

// The size of a regular file; a missing file or a directory is an error here rather than a bogus
// size later.
inline std::uintmax_t file_size_checked(const std::filesystem::path& path) {
  std::error_code ec;
  check(std::filesystem::is_regular_file(path, ec), file_context(path),
        ": cannot open for reading (", ec ? ec.message() : "not a regular file", ")");
  const std::uintmax_t size = std::filesystem::file_size(path, ec);
  check(!ec, file_context(path), ": cannot open for reading (", ec.message(), ")");
  return size;
}

// Reads exactly `out.size()` bytes at the stream's position.
inline void read_exact(std::ifstream& in, std::span<std::byte> out,
                       const std::filesystem::path& path) {
  in.read(reinterpret_cast<char*>(out.data()), static_cast<std::streamsize>(out.size()));
  check(static_cast<std::size_t>(in.gcount()) == out.size(), file_context(path), ": read ",
        in.gcount(), " of ", out.size(), " bytes");
}

inline std::vector<std::byte> read_file_bytes(const std::filesystem::path& path) {
  const std::uintmax_t size = file_size_checked(path);
  std::ifstream in(path, std::ios::binary);
  check(in.good(), file_context(path), ": cannot open for reading");
  std::vector<std::byte> bytes(static_cast<std::size_t>(size));
  read_exact(in, bytes, path);
  return bytes;
}

// Writes `bytes` to `<path>.tmp`, then renames it to `path`. On any error the temporary file is
// removed and `path` is left as it was.
inline void write_file_atomic(const std::filesystem::path& path, std::span<const std::byte> bytes) {
  std::filesystem::path tmp = path;
  tmp += ".tmp";
  std::error_code ec;
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    check(out.good(), file_context(tmp), ": cannot open for writing");
    out.write(reinterpret_cast<const char*>(bytes.data()),
              static_cast<std::streamsize>(bytes.size()));
    out.close();
    if (out.fail()) {
      std::filesystem::remove(tmp, ec);
      fail(file_context(path), ": writing ", bytes.size(), " bytes to '", tmp.string(), "' failed");
    }
  }
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    const std::string why = ec.message();
    std::filesystem::remove(tmp, ec);
    fail(file_context(path), ": cannot rename '", tmp.string(), "' into place (", why, ")");
  }
}

}  // namespace qnn::io
