// A 64-byte aligned, owning byte buffer: the storage under every qnn tensor.
//
// 64 bytes is one cache line and one AVX-512 register, so any SIMD kernel may use aligned loads on
// a tensor's first element and no two tensors share a line (no false sharing between threads).
#pragma once

#include <cstddef>
#include <cstring>
#include <new>
#include <utility>

#include "qnn/core/error.hpp"

namespace qnn {

inline constexpr std::size_t kAlignment = 64;

class AlignedBuffer {
 public:
  AlignedBuffer() = default;
  // Zero-filled, so a fresh tensor never exposes stale memory.
  explicit AlignedBuffer(std::size_t bytes) : size_(bytes) {
    if (bytes == 0) return;
    // Round up so a SIMD kernel reading a whole final vector stays inside the allocation.
    const std::size_t padded = (bytes + kAlignment - 1) / kAlignment * kAlignment;
    try {
      data_ = static_cast<std::byte*>(::operator new(padded, std::align_val_t{kAlignment}));
    } catch (const std::bad_alloc&) {
      fail("cannot allocate ", bytes, " bytes");
    }
    std::memset(data_, 0, padded);
  }
  AlignedBuffer(const AlignedBuffer& other) : AlignedBuffer(other.size_) {
    if (size_) std::memcpy(data_, other.data_, size_);
  }
  AlignedBuffer(AlignedBuffer&& other) noexcept
      : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}
  AlignedBuffer& operator=(AlignedBuffer other) noexcept {
    std::swap(data_, other.data_);
    std::swap(size_, other.size_);
    return *this;
  }
  ~AlignedBuffer() {
    if (data_) ::operator delete(data_, std::align_val_t{kAlignment});
  }

  std::byte* data() { return data_; }
  const std::byte* data() const { return data_; }
  std::size_t size() const { return size_; }

 private:
  std::byte* data_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace qnn
