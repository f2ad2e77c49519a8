// Shared helpers of the io/ tests (tests/io/test_*.cpp).
#pragma once

#include <doctest/doctest.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "qnn/core/error.hpp"
#include "qnn/io/checksum.hpp"
#include "qnn/io/deflate.hpp"

namespace qnn_io_test {

namespace fs = std::filesystem;
using Bytes = std::vector<std::byte>;

inline const fs::path kDataDir = fs::path(QNN_TEST_DATA_DIR) / "io";
inline const fs::path kFashionDir = "/usr/share/datasets/fashion-mnist";

inline Bytes bytes_of(std::string_view s) {
  Bytes b(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) b[i] = static_cast<std::byte>(s[i]);
  return b;
}
inline Bytes bytes_of(std::initializer_list<int> values) {
  Bytes b;
  for (const int v : values) b.push_back(static_cast<std::byte>(v));
  return b;
}
inline Bytes concat(Bytes a, std::span<const std::byte> b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// A gzip member (RFC 1952, no optional fields) around `deflate`, the DEFLATE data of `plain`.
inline Bytes gzip_member(std::span<const std::byte> deflate, std::span<const std::byte> plain) {
  Bytes m = bytes_of({0x1F, 0x8B, 8, 0, 0, 0, 0, 0, 0, 255});
  m.insert(m.end(), deflate.begin(), deflate.end());
  const std::uint32_t crc = qnn::io::crc32(plain);
  for (int s = 0; s < 32; s += 8) m.push_back(static_cast<std::byte>((crc >> s) & 0xFF));
  for (int s = 0; s < 32; s += 8) m.push_back(static_cast<std::byte>((plain.size() >> s) & 0xFF));
  return m;
}
inline Bytes gzip(std::span<const std::byte> plain) {
  return gzip_member(qnn::io::deflate_raw(plain), plain);
}

inline Bytes read_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  REQUIRE_MESSAGE(in.good(), "cannot open ", p.string());
  const std::string s((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return bytes_of(s);
}
inline void write_bytes(const fs::path& p, std::span<const std::byte> b) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
  REQUIRE_MESSAGE(out.good(), "cannot write ", p.string());
}

// The message of the qnn::error `f` throws, or "<no error>"; anything else thrown fails the test.
template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const qnn::error& e) {
    return e.what();
  }
  return "<no error>";
}

// A fresh directory under the system temp directory, removed with everything in it afterwards.
class TempDir {
 public:
  TempDir() {
    std::random_device rd;
    path_ = fs::temp_directory_path() / ("qnn_io_test_" + std::to_string(rd()) + std::to_string(rd()));
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const fs::path& path() const { return path_; }
  fs::path operator/(std::string_view name) const { return path_ / name; }
  // Names of the files in the directory (to check that nothing, e.g. a .tmp, was left behind).
  std::vector<std::string> files() const {
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(path_)) names.push_back(e.path().filename().string());
    return names;
  }

 private:
  fs::path path_;
};

}  // namespace qnn_io_test
