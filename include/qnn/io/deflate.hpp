// DEFLATE compression (RFC 1951) and the zlib wrapper (RFC 1950), for the PNG writer.
//
// Deliberately simple: one block coded with the fixed Huffman codes of RFC 1951 §3.2.6, and greedy
// LZ77 matching that tries the last 32 positions sharing a 3-byte hash. On the figures qnn draws
// (flat colour fields, scaled-up pixels, text) the matches are long and this is within a small
// factor of zlib -9; on noise it expands by at most 1/8 (9-bit literals), which no figure is.
// What it produces is plain DEFLATE: io/inflate.hpp, zlib and every PNG viewer read it.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "qnn/core/error.hpp"
#include "qnn/io/checksum.hpp"
#include "qnn/io/inflate.hpp"

namespace qnn::io {

namespace detail {

// Packs bits least-significant first; Huffman codes go most-significant bit first (§3.1.1).
class BitWriter {
 public:
  explicit BitWriter(std::vector<std::byte>& out) : out_(out) {}

  void bits(std::uint32_t value, int n) {
    buf_ |= static_cast<std::uint64_t>(value) << nbits_;
    nbits_ += n;
    while (nbits_ >= 8) {
      out_.push_back(static_cast<std::byte>(buf_ & 0xFFu));
      buf_ >>= 8;
      nbits_ -= 8;
    }
  }
  void code(std::uint32_t code, int len) {
    std::uint32_t rev = 0;
    for (int i = 0; i < len; ++i, code >>= 1) rev = (rev << 1) | (code & 1u);
    bits(rev, len);
  }
  void flush() {
    if (nbits_ > 0) out_.push_back(static_cast<std::byte>(buf_ & 0xFFu));
    buf_ = 0;
    nbits_ = 0;
  }

 private:
  std::vector<std::byte>& out_;
  std::uint64_t buf_ = 0;
  int nbits_ = 0;
};

// The fixed literal/length code: 0-143 8 bits from 0x30, 144-255 9 bits from 0x190, 256-279
// 7 bits from 0, 280-287 8 bits from 0xC0.
inline void put_fixed_literal(BitWriter& bw, int sym) {
  const auto s = static_cast<std::uint32_t>(sym);
  if (sym < 144) {
    bw.code(0x30u + s, 8);
  } else if (sym < 256) {
    bw.code(0x190u + s - 144, 9);
  } else if (sym < 280) {
    bw.code(s - 256, 7);
  } else {
    bw.code(0xC0u + s - 280, 8);
  }
}

inline void put_match(BitWriter& bw, std::size_t length, std::size_t distance) {
  std::size_t i = kLengthBase.size() - 1;
  while (kLengthBase[i] > length) --i;
  put_fixed_literal(bw, static_cast<int>(257 + i));
  bw.bits(static_cast<std::uint32_t>(length - kLengthBase[i]), kLengthExtra[i]);
  std::size_t d = kDistBase.size() - 1;
  while (kDistBase[d] > distance) --d;
  bw.code(static_cast<std::uint32_t>(d), 5);
  bw.bits(static_cast<std::uint32_t>(distance - kDistBase[d]), kDistExtra[d]);
}

}  // namespace detail

// Compresses `in` into one final fixed-Huffman DEFLATE block.
inline std::vector<std::byte> deflate_raw(std::span<const std::byte> in) {
  constexpr std::size_t kWindow = 32768;
  constexpr std::size_t kMinMatch = 3;
  constexpr std::size_t kMaxMatch = 258;
  constexpr int kMaxChain = 32;
  constexpr std::int32_t kNone = -1;
  check(in.size() < (std::size_t{1} << 31), "deflate_raw: ", in.size(),
        " bytes is above the 2 GiB this encoder supports");

  std::vector<std::byte> out;
  out.reserve(in.size() / 4 + 16);
  detail::BitWriter bw(out);
  bw.bits(1, 1);  // BFINAL
  bw.bits(1, 2);  // BTYPE 01: fixed Huffman codes

  // head[h]: the latest position whose next 3 bytes hash to h; prev[p % window]: the position
  // before p with the same hash (a window's worth of slots, fewer for a shorter input). Chains
  // only ever point backwards, and a position more than a window back ends the walk, so a slot
  // reused by a newer position is never followed.
  // The hash table has 2^8..2^15 buckets, no more than the input needs, so that short inputs
  // do not pay for a 128 KiB table; a multiplicative hash spreads the 3 bytes over any size.
  int hash_bits = 8;
  while (hash_bits < 15 && (std::size_t{1} << hash_bits) < in.size()) ++hash_bits;
  std::vector<std::int32_t> head(std::size_t{1} << hash_bits, kNone);
  std::vector<std::int32_t> prev(std::min(kWindow, in.size()), kNone);
  const auto hash = [&](std::size_t p) {
    const auto b = [&](std::size_t i) { return static_cast<std::uint32_t>(in[p + i]); };
    return ((b(0) | b(1) << 8 | b(2) << 16) * 2654435761u) >> (32 - hash_bits);
  };
  const auto insert = [&](std::size_t p) {
    if (p + kMinMatch > in.size()) return;
    const std::uint32_t h = hash(p);
    prev[p % kWindow] = head[h];
    head[h] = static_cast<std::int32_t>(p);
  };

  std::size_t pos = 0;
  while (pos < in.size()) {
    std::size_t best_len = 0;
    std::size_t best_dist = 0;
    if (pos + kMinMatch <= in.size()) {
      const std::size_t max_len = std::min(kMaxMatch, in.size() - pos);
      std::int32_t cand = head[hash(pos)];
      for (int chain = 0; cand != kNone && chain < kMaxChain; ++chain) {
        const auto c = static_cast<std::size_t>(cand);
        if (pos - c > kWindow) break;
        std::size_t len = 0;
        while (len < max_len && in[c + len] == in[pos + len]) ++len;
        if (len > best_len) {
          best_len = len;
          best_dist = pos - c;
          if (len == max_len) break;
        }
        cand = prev[c % kWindow];
      }
    }
    if (best_len >= kMinMatch) {
      detail::put_match(bw, best_len, best_dist);
      for (std::size_t i = 0; i < best_len; ++i) insert(pos + i);
      pos += best_len;
    } else {
      detail::put_fixed_literal(bw, static_cast<int>(in[pos]));
      insert(pos);
      ++pos;
    }
  }
  detail::put_fixed_literal(bw, 256);  // end of block
  bw.flush();
  return out;
}

// A zlib stream (RFC 1950): header 78 01 (DEFLATE, 32 KiB window), DEFLATE data, Adler-32.
inline std::vector<std::byte> zlib_compress(std::span<const std::byte> in) {
  std::vector<std::byte> out{std::byte{0x78}, std::byte{0x01}};
  const std::vector<std::byte> body = deflate_raw(in);
  out.insert(out.end(), body.begin(), body.end());
  const std::uint32_t a = adler32(in);
  for (int shift = 24; shift >= 0; shift -= 8) {
    out.push_back(static_cast<std::byte>((a >> shift) & 0xFFu));
  }
  return out;
}

}  // namespace qnn::io
