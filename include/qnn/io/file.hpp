// Whole-file reads and atomic writes, shared by the io/ readers and writers.
//
// A write goes to a temporary file beside `<path>` and is renamed over `<path>` only once every byte is on disk, so an
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

#include <unistd.h>

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
  const auto status = std::filesystem::status(path, ec);
  check(std::filesystem::exists(status), file_context(path), ": cannot open for reading (no such file)");
  check(std::filesystem::is_regular_file(status), file_context(path), ": cannot open for reading (",
        std::filesystem::is_directory(status) ? "a directory" : "not a regular file", ")");
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

// The temporary name a write goes to before it is renamed into place: `<path>.tmp.<pid>`, so that
// neither a user's own `<path>.tmp` nor another process writing the same path is clobbered.
inline std::filesystem::path temp_path_for(const std::filesystem::path& path) {
  std::filesystem::path tmp = path;
  tmp += ".tmp." + std::to_string(static_cast<long long>(::getpid()));
  return tmp;
}

namespace detail {

// Writes all of `bytes` to `file`; the messages name `path`, the file the caller asked for (`file`
// is `path` itself or its temporary twin).
inline void write_all(const std::filesystem::path& file, const std::filesystem::path& path,
                      std::span<const std::byte> bytes) {
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  if (!out.good()) {
    std::error_code ec;
    const std::filesystem::path dir = path.parent_path().empty() ? "." : path.parent_path();
    fail(file_context(path), ": cannot open '", file.string(), "' for writing (",
         std::filesystem::exists(dir, ec) ? "directory not writable" : "no such directory", ")");
  }
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  out.close();
  check(!out.fail(), file_context(path), ": writing ", bytes.size(), " bytes failed (",
        file == path ? "" : "to '" + file.string() + "'; ", "disk full or file size limit?)");
}

}  // namespace detail

// Writes `bytes` to a temporary file beside `path`, then renames it to `path`. On any error the
// temporary file is removed and `path` is left as it was. An existing `path` that is not a regular
// file (/dev/null, a FIFO, /dev/stdout) is written in place: renaming over a device node would
// replace it, and such a target has no "partial file" to protect.
inline void write_file_atomic(const std::filesystem::path& path, std::span<const std::byte> bytes) {
  std::error_code ec;
  const auto status = std::filesystem::status(path, ec);
  check(!std::filesystem::is_directory(status), file_context(path), ": is a directory");
  if (std::filesystem::exists(status) && !std::filesystem::is_regular_file(status)) {
    detail::write_all(path, path, bytes);
    return;
  }
  const std::filesystem::path tmp = temp_path_for(path);
  try {
    detail::write_all(tmp, path, bytes);
  } catch (...) {
    std::filesystem::remove(tmp, ec);
    throw;
  }
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    const std::string why = ec.message();
    std::filesystem::remove(tmp, ec);
    fail(file_context(path), ": cannot rename '", tmp.string(), "' into place (", why, ")");
  }
}

}  // namespace qnn::io
