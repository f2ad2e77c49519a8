// qnn — single-header build. GENERATED FILE: do not edit.
// Regenerate from the repository root with: python3 tools/amalgamate.py
// It is include/qnn/qnn.hpp with every qnn header it reaches inlined once, in include order;
// standard-library and Highway (hwy/...) includes are kept, so Highway stays a dependency.
// CTest's single_include_fresh test fails when this file is out of date.
// Headers inlined: 134.
#pragma once

// ---- begin qnn/qnn.hpp -----------------------------------------------------------------------------
// qnn — quantized neural-network inference, header-only.
//
// Everything a CPU user needs: tensors and quantization types, the numerics, the kernels (scalar
// reference and fast CPU), ONNX import and export, graph passes, sessions, post-training
// quantization, and the I/O helpers (npy, IDX, PNG, JSON). The XRT NPU backend is included only
// where QNN_WITH_XRT is defined, as the qnn::xrt CMake target does (it needs XRT's headers and
// libraries; backends/backends.hpp, docs/backends_xrt.md).
// tools/amalgamate.py checks that every other header is reached from here, so the single header
// (single_include/qnn/qnn.hpp) offers all of it.

// ---- begin qnn/config.hpp --------------------------------------------------------------------------
// Build configuration: the only place qnn defines configuration macros.
//
//   QNN_DYNAMIC_DISPATCH  defined by the opt-in compiled part (qnn::dispatch, src/dispatch.cpp):
//                         SIMD kernels are chosen at run time for the CPU, one binary for AVX2,
//                         AVX-512 and VNNI machines. Otherwise (the default, header-only) the
//                         kernels are compiled for the best target the compile flags allow.
//   QNN_NO_SIMD           use the scalar reference kernels only.

// Highway 1.0.3 refuses -march=native on AVX-512 VNNI machines ("best baseline should be
// included in dynamic targets") unless AVX3_DL is wanted; wanting it is harmless elsewhere.
#ifndef HWY_WANT_AVX3_DL
#define HWY_WANT_AVX3_DL
#endif

// The release, as in CMake's project(VERSION): configuring fails when the two disagree
// (CMakeLists.txt), and the installed qnnConfigVersion.cmake and qnn.pc carry the same number.
// QNN_VERSION orders releases in #if: 0.1.0 is 100, 1.2.3 is 10203.
#define QNN_VERSION_MAJOR 0
#define QNN_VERSION_MINOR 1
#define QNN_VERSION_PATCH 0
#define QNN_VERSION_STRING "0.1.0"
#define QNN_VERSION (QNN_VERSION_MAJOR * 10000 + QNN_VERSION_MINOR * 100 + QNN_VERSION_PATCH)
// ---- end qnn/config.hpp ----------------------------------------------------------------------------

// ---- begin qnn/core/aligned_buffer.hpp -------------------------------------------------------------
// A 64-byte aligned, owning byte buffer: the storage under every qnn tensor.
//
// 64 bytes is one cache line and one AVX-512 register, so any SIMD kernel may use aligned loads on
// a tensor's first element and no two tensors share a line (no false sharing between threads).

#include <cstddef>
#include <cstring>
#include <new>
#include <utility>

// ---- begin qnn/core/error.hpp ----------------------------------------------------------------------
// qnn::error — the one exception type the library throws.
//
// Every failure a user can cause (bad model, wrong shape or dtype, unsupported attribute, NaN in
// calibration data, truncated file) surfaces as a qnn::error whose message says what failed, where
// (node, tensor, file offset) and why. The library never aborts and never returns a silently wrong
// answer; a fallback that changes numerics is reported, not hidden.

#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>

namespace qnn {

class error : public std::runtime_error {
 public:
  explicit error(const std::string& what) : std::runtime_error(what) {}
};

namespace detail {
template <class... Args>
std::string cat(const Args&... args) {
  std::ostringstream os;
  (os << ... << args);
  return os.str();
}
}  // namespace detail

// Throws qnn::error with the arguments streamed into one message.
template <class... Args>
[[noreturn]] void fail(const Args&... args) {
  throw error(detail::cat(args...));
}

// Throws qnn::error when `ok` is false. The message arguments are evaluated eagerly, so pass
// cheap values (names, numbers), not expressions that format large objects.
template <class... Args>
void check(bool ok, const Args&... args) {
  if (!ok) fail(args...);
}

// Runs `f`; a qnn::error escaping it is re-thrown with `context` prepended ("node 'conv1': ...").
// Used at layer boundaries so a kernel's message gains the node or file it concerns.
template <class F>
decltype(auto) with_context(const std::string& context, F&& f) {
  try {
    return std::forward<F>(f)();
  } catch (const error& e) {
    // Nested calls with the same context (the session and the kernel registry both name the node)
    // name it once.
    const std::string what = e.what();
    if (what.starts_with(context + ": ")) throw;
    throw error(context + ": " + what);
  }
}

}  // namespace qnn
// ---- end qnn/core/error.hpp ------------------------------------------------------------------------

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
// ---- end qnn/core/aligned_buffer.hpp ---------------------------------------------------------------
// ---- begin qnn/core/dtype.hpp ----------------------------------------------------------------------
// Element types: the runtime tag (DType), the bf16 storage type, and the C++ <-> DType mapping.
//
// bf16 rounds to nearest even when made from a float. Highway 1.0.3's BF16FromF32 and
// DemoteTo(bf16) truncate instead, so qnn never uses them for conversion; PyTorch, ONNX Runtime and
// the AVX512-BF16 vcvtneps2bf16 instruction all round to nearest even, and so does qnn.

#include <bit>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string_view>
#include <type_traits>

namespace qnn {

// Brain float: the upper 16 bits of an IEEE binary32.
struct bf16 {
  std::uint16_t bits = 0;

  constexpr bf16() = default;
  // Round to nearest, ties to even. NaN stays NaN (quiet, sign kept); values past the largest
  // finite bf16 round to infinity exactly as IEEE rounding demands.
  explicit constexpr bf16(float f) : bits(from_float_bits(std::bit_cast<std::uint32_t>(f))) {}

  static constexpr bf16 from_bits(std::uint16_t b) {
    bf16 r;
    r.bits = b;
    return r;
  }
  constexpr float to_float() const { return std::bit_cast<float>(std::uint32_t{bits} << 16); }
  explicit constexpr operator float() const { return to_float(); }

  friend constexpr bool operator==(bf16 a, bf16 b) { return a.bits == b.bits; }

 private:
  static constexpr std::uint16_t from_float_bits(std::uint32_t u) {
    if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<std::uint16_t>((u >> 16) | 0x0040u);
    const std::uint32_t lsb = (u >> 16) & 1u;
    return static_cast<std::uint16_t>((u + 0x7fffu + lsb) >> 16);
  }
};

// float -> bf16 -> float: the value a bf16 kernel actually sees.
constexpr float round_to_bf16(float f) { return bf16(f).to_float(); }

enum class DType : std::uint8_t { f32, bf16, i8, u8, i16, u16, i32, i64, boolean };

constexpr std::size_t size_of(DType t) {
  switch (t) {
    case DType::f32: return 4;
    case DType::bf16: return 2;
    case DType::i8: return 1;
    case DType::u8: return 1;
    case DType::i16: return 2;
    case DType::u16: return 2;
    case DType::i32: return 4;
    case DType::i64: return 8;
    case DType::boolean: return 1;
  }
  return 0;
}

constexpr std::string_view name_of(DType t) {
  switch (t) {
    case DType::f32: return "float32";
    case DType::bf16: return "bfloat16";
    case DType::i8: return "int8";
    case DType::u8: return "uint8";
    case DType::i16: return "int16";
    case DType::u16: return "uint16";
    case DType::i32: return "int32";
    case DType::i64: return "int64";
    case DType::boolean: return "bool";
  }
  return "?";
}

inline std::ostream& operator<<(std::ostream& os, DType t) { return os << name_of(t); }

constexpr bool is_integer(DType t) {
  return t == DType::i8 || t == DType::u8 || t == DType::i16 || t == DType::u16 ||
         t == DType::i32 || t == DType::i64;
}
// The dtypes a quantized tensor may be stored in.
constexpr bool is_quantized_storage(DType t) {
  return t == DType::i8 || t == DType::u8 || t == DType::i16 || t == DType::u16;
}

// C++ type -> DType.
template <class T> struct dtype_of;
template <> struct dtype_of<float> { static constexpr DType value = DType::f32; };
template <> struct dtype_of<bf16> { static constexpr DType value = DType::bf16; };
template <> struct dtype_of<std::int8_t> { static constexpr DType value = DType::i8; };
template <> struct dtype_of<std::uint8_t> { static constexpr DType value = DType::u8; };
template <> struct dtype_of<std::int16_t> { static constexpr DType value = DType::i16; };
template <> struct dtype_of<std::uint16_t> { static constexpr DType value = DType::u16; };
template <> struct dtype_of<std::int32_t> { static constexpr DType value = DType::i32; };
template <> struct dtype_of<std::int64_t> { static constexpr DType value = DType::i64; };
template <> struct dtype_of<bool> { static constexpr DType value = DType::boolean; };
template <class T> inline constexpr DType dtype_of_v = dtype_of<std::remove_const_t<T>>::value;

// Storage types of quantized values. Kernels constrain their template parameters with these, so
// an int16 tensor handed to an int8-only kernel does not compile.
template <class T>
concept Int8Storage = std::same_as<T, std::int8_t> || std::same_as<T, std::uint8_t>;
template <class T>
concept Int16Storage = std::same_as<T, std::int16_t> || std::same_as<T, std::uint16_t>;
template <class T>
concept QuantStorage = Int8Storage<T> || Int16Storage<T>;

// Calls f(T{}) with the C++ type of a runtime DType; the usual way to go from a type-erased
// tensor to a typed kernel.
template <class F>
decltype(auto) visit_dtype(DType t, F&& f) {
  switch (t) {
    case DType::f32: return f(float{});
    case DType::bf16: return f(bf16{});
    case DType::i8: return f(std::int8_t{});
    case DType::u8: return f(std::uint8_t{});
    case DType::i16: return f(std::int16_t{});
    case DType::u16: return f(std::uint16_t{});
    case DType::i32: return f(std::int32_t{});
    case DType::i64: return f(std::int64_t{});
    case DType::boolean: return f(bool{});
  }
  fail("invalid dtype tag ", static_cast<int>(t));
}

}  // namespace qnn
// ---- end qnn/core/dtype.hpp ------------------------------------------------------------------------
// ---- begin qnn/core/quant_params.hpp ---------------------------------------------------------------
// Quantization parameters, as types and as runtime values.
//
// real = scale · (q − zero_point). Three choices describe a scheme, and each is part of the type:
//   granularity  PerTensor, or PerChannel along an axis (one scale and zero point per slice);
//   scale        float, or Pow2 (scale = 2^−pos, Vitis AI's "fix_pos": shifts instead of multiplies);
//   symmetry     Symmetric types have no zero-point member: their zero point is the midpoint of the
//                storage range (0 for signed, 2^(bits−1) for unsigned, the 128 XINT8 uses), a
//                compile-time constant, so kernels drop the zero-point correction terms statically.
// A kernel that needs per-tensor activations takes PerTensor<...>, so a per-channel tensor does not
// compile there; its storage type T is constrained (Int8Storage, ...), so int16 data does not compile
// in an int8-only kernel.
//
// Graphs carry QuantInfo, the type-erased form. `as_params<Q>(info, what)` converts it to a typed
// Q and throws a qnn::error naming `what` when the scheme does not fit.

#include <cmath>
#include <cstdint>
#include <limits>
#include <ostream>
#include <type_traits>
#include <vector>

namespace qnn {

// scale = 2^−pos.
struct Pow2 {
  int pos = 0;
  float value() const { return std::ldexp(1.0f, -pos); }
  friend bool operator==(Pow2, Pow2) = default;
};

enum class Symmetry : std::uint8_t { asymmetric, symmetric };

template <class S>
concept ScaleType = std::same_as<S, float> || std::same_as<S, Pow2>;

template <QuantStorage T>
inline constexpr std::int32_t symmetric_zero_point_v =
    std::is_signed_v<T> ? 0 : (std::int32_t{1} << (8 * sizeof(T) - 1));

inline float scale_value(float s) { return s; }
inline float scale_value(Pow2 s) { return s.value(); }

// Exact power-of-two test and conversion: 2^−pos == s, or a qnn::error.
inline bool is_pow2_scale(float s) {
  if (!(s > 0.0f) || !std::isfinite(s)) return false;
  int e = 0;
  return std::frexp(s, &e) == 0.5f;
}
inline Pow2 to_pow2(float s) {
  check(is_pow2_scale(s), "scale ", s, " is not a power of two");
  int e = 0;
  std::frexp(s, &e);  // s = 0.5 · 2^e = 2^(e−1)
  return Pow2{1 - e};
}

namespace detail {
template <QuantStorage T>
void check_zero_point(std::int32_t zp) {
  check(zp >= std::numeric_limits<T>::min() && zp <= std::numeric_limits<T>::max(), "zero point ",
        zp, " is outside the ", name_of(dtype_of_v<T>), " range");
}
template <ScaleType S>
void check_scale(S s) {
  const float v = scale_value(s);
  check(v > 0.0f && std::isfinite(v), "scale ", v, " must be positive and finite");
}
}  // namespace detail

template <QuantStorage T, ScaleType S = float, Symmetry Sym = Symmetry::asymmetric>
struct PerTensor {
  using storage_type = T;
  using scale_type = S;
  static constexpr bool per_channel = false;
  static constexpr bool symmetric = Sym == Symmetry::symmetric;

  S scale{};
  T zero_point{};  // ignored for symmetric types, which always use symmetric_zero_point_v<T>

  PerTensor() = default;
  explicit PerTensor(S s, std::int32_t zp = symmetric_zero_point_v<T>) : scale(s) {
    detail::check_scale(s);
    detail::check_zero_point<T>(zp);
    if constexpr (symmetric)
      check(zp == symmetric_zero_point_v<T>, "symmetric ", name_of(dtype_of_v<T>),
            " quantization needs zero point ", symmetric_zero_point_v<T>, ", got ", zp);
    zero_point = static_cast<T>(zp);
  }

  std::int64_t channels() const { return 1; }
  float scale_at(std::int64_t) const { return scale_value(scale); }
  S raw_scale_at(std::int64_t) const { return scale; }
  std::int32_t zero_point_at(std::int64_t) const {
    if constexpr (symmetric) return symmetric_zero_point_v<T>;
    return zero_point;
  }
};

template <QuantStorage T, ScaleType S = float, Symmetry Sym = Symmetry::asymmetric>
struct PerChannel {
  using storage_type = T;
  using scale_type = S;
  static constexpr bool per_channel = true;
  static constexpr bool symmetric = Sym == Symmetry::symmetric;

  int axis = 0;
  std::vector<S> scales;
  std::vector<T> zero_points;  // empty for symmetric types

  PerChannel() = default;
  PerChannel(int ax, std::vector<S> s, std::vector<std::int32_t> zps = {})
      : axis(ax), scales(std::move(s)) {
    check(!scales.empty(), "per-channel quantization needs at least one scale");
    for (const S& v : scales) detail::check_scale(v);
    if constexpr (symmetric) {
      for (std::int32_t z : zps)
        check(z == symmetric_zero_point_v<T>, "symmetric ", name_of(dtype_of_v<T>),
              " quantization needs zero point ", symmetric_zero_point_v<T>, ", got ", z);
    } else {
      if (zps.empty()) zps.assign(scales.size(), 0);
      check(zps.size() == scales.size(), "per-channel quantization has ", scales.size(),
            " scales but ", zps.size(), " zero points");
      for (std::int32_t z : zps) {
        detail::check_zero_point<T>(z);
        zero_points.push_back(static_cast<T>(z));
      }
    }
  }

  std::int64_t channels() const { return static_cast<std::int64_t>(scales.size()); }
  float scale_at(std::int64_t c) const { return scale_value(scales[static_cast<std::size_t>(c)]); }
  S raw_scale_at(std::int64_t c) const { return scales[static_cast<std::size_t>(c)]; }
  std::int32_t zero_point_at(std::int64_t c) const {
    if constexpr (symmetric) return symmetric_zero_point_v<T>;
    return zero_points[static_cast<std::size_t>(c)];
  }
};

template <class Q>
concept QuantParams = requires(const Q& q) {
  typename Q::storage_type;
  typename Q::scale_type;
  { Q::per_channel } -> std::convertible_to<bool>;
  { Q::symmetric } -> std::convertible_to<bool>;
  { q.scale_at(0) } -> std::same_as<float>;
  { q.zero_point_at(0) } -> std::same_as<std::int32_t>;
};

template <class Q>
concept PerTensorParams = QuantParams<Q> && !Q::per_channel;

// ---- runtime form ---------------------------------------------------------------------------

// How a graph tensor is quantized. `axis < 0` means per tensor. Scales and zero points have one
// entry per tensor or per channel.
struct QuantInfo {
  DType storage = DType::i8;
  int axis = -1;
  std::vector<float> scales;
  std::vector<std::int32_t> zero_points;

  bool per_channel() const { return axis >= 0; }
  bool pow2() const {
    for (float s : scales)
      if (!is_pow2_scale(s)) return false;
    return !scales.empty();
  }
  friend bool operator==(const QuantInfo&, const QuantInfo&) = default;
};

inline std::ostream& operator<<(std::ostream& os, const QuantInfo& q) {
  os << q.storage << (q.per_channel() ? " per-channel(axis " : " per-tensor");
  if (q.per_channel()) os << q.axis << ", " << q.scales.size() << " channels)";
  if (q.scales.size() == 1) os << " scale " << q.scales[0] << " zero point " << q.zero_points[0];
  return os;
}

// Typed -> runtime.
template <QuantParams Q>
QuantInfo to_info(const Q& q) {
  QuantInfo info;
  info.storage = dtype_of_v<typename Q::storage_type>;
  if constexpr (Q::per_channel) info.axis = q.axis;
  for (std::int64_t c = 0; c < q.channels(); ++c) {
    info.scales.push_back(q.scale_at(c));
    info.zero_points.push_back(q.zero_point_at(c));
  }
  return info;
}

// Runtime -> typed, checked. `what` names the tensor in the error message. A per-tensor QuantInfo
// converts to a PerChannel type only through broadcast_channels(), never implicitly.
template <QuantParams Q>
Q as_params(const QuantInfo& info, std::string_view what) {
  using T = typename Q::storage_type;
  using S = typename Q::scale_type;
  return with_context(std::string(what), [&]() -> Q {
    check(info.storage == dtype_of_v<T>, "expected ", name_of(dtype_of_v<T>),
          " quantization, got ", info.storage);
    check(!info.scales.empty() && info.scales.size() == info.zero_points.size(),
          "malformed quantization parameters (", info.scales.size(), " scales, ",
          info.zero_points.size(), " zero points)");
    auto scale = [&](std::size_t i) -> S {
      if constexpr (std::same_as<S, Pow2>)
        return to_pow2(info.scales[i]);
      else
        return info.scales[i];
    };
    if constexpr (Q::per_channel) {
      check(info.per_channel(), "expected per-channel quantization, got per-tensor");
      std::vector<S> s;
      for (std::size_t i = 0; i < info.scales.size(); ++i) s.push_back(scale(i));
      return Q(info.axis, std::move(s), info.zero_points);
    } else {
      check(!info.per_channel(), "expected per-tensor quantization, got per-channel along axis ",
            info.axis);
      return Q(scale(0), info.zero_points[0]);
    }
  });
}

// Per-tensor parameters repeated for `channels` channels: the explicit way to hand a per-tensor
// weight to a kernel that takes per-channel weights.
template <QuantStorage T, ScaleType S, Symmetry Sym>
PerChannel<T, S, Sym> broadcast_channels(const PerTensor<T, S, Sym>& q, int axis,
                                         std::int64_t channels) {
  return PerChannel<T, S, Sym>(axis, std::vector<S>(static_cast<std::size_t>(channels), q.scale),
                               std::vector<std::int32_t>(static_cast<std::size_t>(channels),
                                                         q.zero_point_at(0)));
}

}  // namespace qnn
// ---- end qnn/core/quant_params.hpp -----------------------------------------------------------------
// ---- begin qnn/core/shape.hpp ----------------------------------------------------------------------
// Shapes and the two activation layouts.
//
// A Shape is a fixed-capacity list of non-negative extents (rank ≤ 8, the most any op we support
// needs), kept inline so shapes are cheap to copy through graph passes without allocating.
//
// Layout: qnn's native activation layout is NCHW, the layout ONNX models carry, so an imported
// graph needs no transposes. Convolutions lower to GEMMs over an NCHW patch matrix whose output is
// NCHW again. The reference kernels address tensors through strides, so they take NHWC views just as
// well (tests run both).

#include <algorithm>
#include <array>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <ostream>
#include <span>
#include <string>

namespace qnn {

enum class Layout : std::uint8_t { nchw, nhwc };

inline std::ostream& operator<<(std::ostream& os, Layout l) {
  return os << (l == Layout::nchw ? "NCHW" : "NHWC");
}

class Shape {
 public:
  static constexpr int kMaxRank = 8;

  Shape() = default;
  Shape(std::initializer_list<std::int64_t> dims) { assign(std::span(dims.begin(), dims.size())); }
  explicit Shape(std::span<const std::int64_t> dims) { assign(dims); }

  int rank() const { return rank_; }
  std::int64_t operator[](int i) const { return dims_[static_cast<std::size_t>(i)]; }
  std::int64_t& operator[](int i) { return dims_[static_cast<std::size_t>(i)]; }
  // Python-style index: -1 is the last axis. Checked.
  std::int64_t dim(int axis) const { return dims_[static_cast<std::size_t>(normalize_axis(axis))]; }

  const std::int64_t* begin() const { return dims_.data(); }
  const std::int64_t* end() const { return dims_.data() + rank_; }
  std::span<const std::int64_t> dims() const { return {dims_.data(), static_cast<std::size_t>(rank_)}; }

  // Number of elements; 1 for a scalar (rank 0). Overflow-checked so a hostile header cannot
  // produce a wrapped-around small size.
  // The non-zero dimensions must multiply within int64 even when another dimension is 0, as in
  // NumPy: strides are products of trailing dimensions, so an empty [0, 2^32, 2^32] would overflow
  // them; and whether a shape is valid must not depend on the order of its dimensions.
  std::int64_t numel() const {
    std::int64_t n = 1;
    bool empty = false;
    for (int i = 0; i < rank_; ++i) {
      const std::int64_t d = dims_[static_cast<std::size_t>(i)];
      if (d == 0) {
        empty = true;
        continue;
      }
      check(n <= std::numeric_limits<std::int64_t>::max() / d, "shape ", *this,
            " has more elements than int64 can count");
      n *= d;
    }
    return empty ? 0 : n;
  }

  void push_back(std::int64_t d) {
    check(rank_ < kMaxRank, "rank above ", kMaxRank, " is not supported");
    check(d >= 0, "negative dimension ", d);
    dims_[static_cast<std::size_t>(rank_++)] = d;
  }

  // Maps a possibly negative axis into [0, rank). `rank_plus` allows rank itself (for unsqueeze-like
  // ops that insert after the last axis).
  int normalize_axis(int axis, int rank_plus = 0) const {
    const int r = rank_ + rank_plus;
    check(axis >= -r && axis < r, "axis ", axis, " is out of range for rank ", rank_);
    return axis < 0 ? axis + r : axis;
  }

  friend bool operator==(const Shape& a, const Shape& b) {
    return a.rank_ == b.rank_ && std::equal(a.begin(), a.end(), b.begin());
  }

  friend std::ostream& operator<<(std::ostream& os, const Shape& s) {
    os << '[';
    for (int i = 0; i < s.rank_; ++i) os << (i ? "," : "") << s[i];
    return os << ']';
  }
  std::string str() const { return detail::cat(*this); }

 private:
  void assign(std::span<const std::int64_t> dims) {
    check(dims.size() <= kMaxRank, "rank ", dims.size(), " is above the supported ", kMaxRank);
    rank_ = 0;
    for (std::int64_t d : dims) push_back(d);
  }

  std::array<std::int64_t, kMaxRank> dims_{};
  int rank_ = 0;
};

// Element strides of a densely packed row-major tensor of this shape.
inline std::array<std::int64_t, Shape::kMaxRank> contiguous_strides(const Shape& s) {
  std::array<std::int64_t, Shape::kMaxRank> st{};
  std::int64_t acc = 1;
  for (int i = s.rank() - 1; i >= 0; --i) {
    st[static_cast<std::size_t>(i)] = acc;
    acc *= s[i];
  }
  return st;
}

}  // namespace qnn
// ---- end qnn/core/shape.hpp ------------------------------------------------------------------------
// ---- begin qnn/core/tensor.hpp ---------------------------------------------------------------------
// Tensors: the owning, type-erased Tensor that graphs and sessions hold, and the typed,
// non-owning, strided TensorView<T> that kernels take.
//
// A Tensor owns 64-byte aligned storage, knows its dtype and shape, and optionally how it is
// quantized (QuantInfo). Copying a Tensor copies its data: a graph that rewrites a weight never
// changes the tensor the user passed in.
//
// A TensorView<T> is a pointer, a shape and element strides. Strides let one reference kernel read
// NCHW and NHWC (or any transposition) alike; views of a Tensor are dense row-major.

#include <array>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <utility>

namespace qnn {

template <class T>
class TensorView {
 public:
  using Strides = std::array<std::int64_t, Shape::kMaxRank>;

  TensorView() = default;
  TensorView(T* data, const Shape& shape) : data_(data), shape_(shape), strides_(contiguous_strides(shape)) {}
  TensorView(T* data, const Shape& shape, const Strides& strides)
      : data_(data), shape_(shape), strides_(strides) {}
  // A view of mutable data converts to a view of const data.
  template <class U>
    requires std::same_as<T, const U>
  TensorView(const TensorView<U>& v) : data_(v.data()), shape_(v.shape()), strides_(v.strides()) {}

  T* data() const { return data_; }
  const Shape& shape() const { return shape_; }
  const Strides& strides() const { return strides_; }
  int rank() const { return shape_.rank(); }
  std::int64_t dim(int axis) const { return shape_.dim(axis); }
  std::int64_t stride(int axis) const {
    return strides_[static_cast<std::size_t>(shape_.normalize_axis(axis))];
  }
  std::int64_t numel() const { return shape_.numel(); }

  bool contiguous() const { return strides_ == contiguous_strides(shape_); }
  // The elements of a contiguous view as one span.
  std::span<T> span() const {
    check(contiguous(), "tensor view of shape ", shape_, " is not contiguous");
    return {data_, static_cast<std::size_t>(numel())};
  }

  // Element access by index, one index per axis (not bounds-checked: kernels validate shapes once
  // up front, then index in their loops).
  template <class... I>
  T& operator()(I... idx) const {
    static_assert(sizeof...(I) <= Shape::kMaxRank);
    std::int64_t off = 0;
    std::size_t a = 0;
    ((off += static_cast<std::int64_t>(idx) * strides_[a++]), ...);
    return data_[off];
  }

  // The same data seen with axes permuted: result axis i is this view's axis perm[i].
  TensorView permuted(std::span<const int> perm) const {
    check(static_cast<int>(perm.size()) == rank(), "permutation of rank ", perm.size(),
          " for a view of rank ", rank());
    Shape s;
    Strides st{};
    for (std::size_t i = 0; i < perm.size(); ++i) {
      s.push_back(shape_.dim(perm[i]));
      st[i] = stride(perm[i]);
    }
    return TensorView(data_, s, st);
  }

 private:
  T* data_ = nullptr;
  Shape shape_;
  Strides strides_{};
};

// A view of NHWC storage presented with logical axes N, C, H, W (what the reference kernels index).
template <class T>
TensorView<T> nhwc_as_nchw(T* data, std::int64_t n, std::int64_t c, std::int64_t h, std::int64_t w) {
  const std::array<int, 4> perm{0, 3, 1, 2};
  return TensorView<T>(data, Shape{n, h, w, c}).permuted(perm);
}

class Tensor {
 public:
  Tensor() = default;
  Tensor(DType dtype, const Shape& shape)
      : dtype_(dtype), shape_(shape), buffer_(checked_bytes(dtype, shape)) {}
  Tensor(DType dtype, const Shape& shape, QuantInfo quant) : Tensor(dtype, shape) {
    set_quant(std::move(quant));
  }

  // A tensor holding a copy of `values`.
  template <class T>
  static Tensor from(const Shape& shape, std::span<const T> values) {
    Tensor t(dtype_of_v<T>, shape);
    check(static_cast<std::int64_t>(values.size()) == t.numel(), "tensor of shape ", shape,
          " needs ", t.numel(), " values, got ", values.size());
    if (!values.empty()) std::memcpy(t.buffer_.data(), values.data(), values.size_bytes());
    return t;
  }
  template <class T>
  static Tensor from(const Shape& shape, std::initializer_list<T> values) {
    return from<T>(shape, std::span<const T>(values.begin(), values.size()));
  }
  template <class T>
  static Tensor scalar(T v) {
    return from<T>(Shape{}, std::span<const T>(&v, 1));
  }

  DType dtype() const { return dtype_; }
  const Shape& shape() const { return shape_; }
  std::int64_t numel() const { return shape_.numel(); }
  std::size_t bytes() const { return buffer_.size(); }
  std::byte* raw() { return buffer_.data(); }
  const std::byte* raw() const { return buffer_.data(); }

  const std::optional<QuantInfo>& quant() const { return quant_; }
  void set_quant(QuantInfo q) {
    check(q.storage == dtype_, "quantization for ", q.storage, " on a ", dtype_, " tensor");
    if (q.per_channel()) {
      const int axis = shape_.normalize_axis(q.axis);
      check(static_cast<std::int64_t>(q.scales.size()) == shape_[axis], "per-channel quantization with ",
            q.scales.size(), " scales on axis ", axis, " of extent ", shape_[axis]);
      q.axis = axis;
    }
    quant_ = std::move(q);
  }
  void clear_quant() { quant_.reset(); }

  // Same data, new shape with the same element count.
  void reshape(const Shape& s) {
    check(s.numel() == numel(), "cannot reshape ", shape_, " to ", s);
    shape_ = s;
  }

  template <class T>
  TensorView<T> view() {
    check_dtype<T>();
    return TensorView<T>(reinterpret_cast<T*>(buffer_.data()), shape_);
  }
  template <class T>
  TensorView<const T> view() const {
    check_dtype<T>();
    return TensorView<const T>(reinterpret_cast<const T*>(buffer_.data()), shape_);
  }
  template <class T>
  std::span<T> span() { return view<T>().span(); }
  template <class T>
  std::span<const T> span() const { return view<T>().span(); }

 private:
  template <class T>
  void check_dtype() const {
    check(dtype_of_v<T> == dtype_, "tensor holds ", dtype_, ", accessed as ", name_of(dtype_of_v<T>));
  }
  static std::size_t checked_bytes(DType dtype, const Shape& shape) {
    const std::int64_t n = shape.numel();
    const std::int64_t max_elems = std::numeric_limits<std::int64_t>::max() / 8;
    check(n <= max_elems, "tensor of shape ", shape, " is too large");
    return static_cast<std::size_t>(n) * size_of(dtype);
  }

  DType dtype_ = DType::f32;
  Shape shape_;
  AlignedBuffer buffer_;
  std::optional<QuantInfo> quant_;
};

// A typed view that also carries its quantization scheme: what the typed kernel entry points take.
template <class T, QuantParams Q>
struct QView {
  static_assert(std::same_as<std::remove_const_t<T>, typename Q::storage_type>,
                "the view's element type must be the scheme's storage type");
  TensorView<T> data;
  Q quant;
};

// Checked conversion from a graph tensor to a typed quantized view.
template <QuantParams Q>
QView<const typename Q::storage_type, Q> qview(const Tensor& t, std::string_view what) {
  check(t.quant().has_value(), what, ": tensor is not quantized");
  Q q = as_params<Q>(*t.quant(), what);
  return {t.view<typename Q::storage_type>(), std::move(q)};
}
template <QuantParams Q>
QView<typename Q::storage_type, Q> qview(Tensor& t, std::string_view what) {
  check(t.quant().has_value(), what, ": tensor is not quantized");
  Q q = as_params<Q>(*t.quant(), what);
  return {t.view<typename Q::storage_type>(), std::move(q)};
}

}  // namespace qnn
// ---- end qnn/core/tensor.hpp -----------------------------------------------------------------------

// ---- begin qnn/numerics/quantize.hpp ---------------------------------------------------------------
// QuantizeLinear and DequantizeLinear, element by element (docs/numerics.md §2).
//
// quantize:   q = clamp(round(x / scale), qmin − zp, qmax − zp) + zp
//   x / scale is one fp32 division (as ONNX and ONNX Runtime compute it); the clamp happens before
//   the conversion, so no float value — ±inf included — reaches an out-of-range integer conversion.
//   NaN becomes qmin, which is what ONNX Runtime's x86 kernel produces (MAXPS returns its second
//   operand for a NaN first operand).
// dequantize: x = float(q − zp) · scale, one fp32 multiply of an exactly representable difference.

#include <cmath>
#include <cstdint>
#include <span>

// ---- begin qnn/numerics/rounding.hpp ---------------------------------------------------------------
// Rounding and saturation: the scalar primitives every integer path in qnn is defined by.
//
// Three tie rules occur in the runtimes our users compare against (docs/numerics.md §1):
//   half_even  ONNX QuantizeLinear, ONNX Runtime (cvtps2dq under the default MXCSR), XNNPACK;
//   half_up    ties toward +∞: the Vitis AI DPU for activations, TFLite's single-rounding shift;
//   half_away  ties away from zero: std::round, TFLite's QuantizeMultiplier, the DPU for weights
//              and biases, gemmlowp's RoundingDivideByPOT.
// These functions do not depend on the floating-point environment: they never call nearbyint or
// rint, so a caller that changed the rounding mode still gets the pinned results.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

namespace qnn {

enum class Rounding : std::uint8_t { half_even, half_up, half_away };

// ---- float -> integral float ------------------------------------------------------------------

inline double round_half_even(double x) {
  const double r = std::round(x);  // half away from zero
  if (std::fabs(x - std::trunc(x)) == 0.5) return 2.0 * std::round(0.5 * x);
  return r;
}
inline double round_half_up(double x) { return std::floor(x + 0.5); }
inline double round_half_away(double x) { return std::round(x); }

// Exact for every float input: the double holds x + 0.5 without rounding.
inline double round_with(Rounding mode, double x) {
  switch (mode) {
    case Rounding::half_even: return round_half_even(x);
    case Rounding::half_up: return round_half_up(x);
    case Rounding::half_away: return round_half_away(x);
  }
  return x;
}

// ---- saturation --------------------------------------------------------------------------------

template <class T>
constexpr T saturate(std::int64_t v) {
  return static_cast<T>(std::clamp<std::int64_t>(v, std::numeric_limits<T>::min(),
                                                 std::numeric_limits<T>::max()));
}

template <class T>
constexpr std::int32_t min_of() { return static_cast<std::int32_t>(std::numeric_limits<T>::min()); }
template <class T>
constexpr std::int32_t max_of() { return static_cast<std::int32_t>(std::numeric_limits<T>::max()); }

// ---- integer shifts ---------------------------------------------------------------------------

// x / 2^s rounded with the given tie rule, for 0 ≤ s ≤ 62 and |x| < 2^62 (every accumulator qnn
// produces is far inside: int32 products or int64 A16W8 sums below 2^48).
inline std::int64_t shift_right_rounded(std::int64_t x, int s, Rounding mode) {
  if (s == 0) return x;
  const std::int64_t half = std::int64_t{1} << (s - 1);
  const std::int64_t floor_q = x >> s;  // arithmetic shift: floor division
  const std::int64_t rem = x - (floor_q << s);  // in [0, 2^s)
  switch (mode) {
    case Rounding::half_up: return floor_q + (rem >= half ? 1 : 0);
    case Rounding::half_away: return floor_q + ((rem > half || (rem == half && x >= 0)) ? 1 : 0);
    case Rounding::half_even:
      return floor_q + ((rem > half || (rem == half && (floor_q & 1))) ? 1 : 0);
  }
  return floor_q;
}

// x · 2^s for s ≥ 0, saturated to int64 (the callers saturate again to their output type).
inline std::int64_t shift_left_saturating(std::int64_t x, int s) {
  if (s == 0 || x == 0) return x;
  if (s >= 62) return x > 0 ? std::numeric_limits<std::int64_t>::max() : std::numeric_limits<std::int64_t>::min();
  const std::int64_t lim = std::numeric_limits<std::int64_t>::max() >> s;
  if (x > lim) return std::numeric_limits<std::int64_t>::max();
  if (x < -lim) return std::numeric_limits<std::int64_t>::min();
  return x * (std::int64_t{1} << s);
}

}  // namespace qnn
// ---- end qnn/numerics/rounding.hpp -----------------------------------------------------------------

namespace qnn {

template <QuantStorage T>
T quantize_value(float x, float scale, std::int32_t zero_point, Rounding mode = Rounding::half_even) {
  const float lo = static_cast<float>(min_of<T>() - zero_point);
  const float hi = static_cast<float>(max_of<T>() - zero_point);
  float v = x / scale;
  if (std::isnan(v)) return static_cast<T>(min_of<T>());
  v = v < lo ? lo : (v > hi ? hi : v);
  return static_cast<T>(static_cast<std::int32_t>(round_with(mode, v)) + zero_point);
}

template <QuantStorage T>
float dequantize_value(T q, float scale, std::int32_t zero_point) {
  return static_cast<float>(static_cast<std::int32_t>(q) - zero_point) * scale;
}

// Whole-tensor forms over a QuantParams scheme. For per-channel schemes `channel_of(i)` maps a flat
// element index to its channel; the callers build it from the axis and shape.
template <QuantParams Q, class ChannelOf>
void quantize(std::span<const float> x, const Q& q, ChannelOf channel_of,
              std::span<typename Q::storage_type> out, Rounding mode = Rounding::half_even) {
  check(x.size() == out.size(), "quantize: ", x.size(), " inputs for ", out.size(), " outputs");
  for (std::size_t i = 0; i < x.size(); ++i) {
    const std::int64_t c = channel_of(static_cast<std::int64_t>(i));
    out[i] = quantize_value<typename Q::storage_type>(x[i], q.scale_at(c), q.zero_point_at(c), mode);
  }
}

template <QuantParams Q, class ChannelOf>
void dequantize(std::span<const typename Q::storage_type> x, const Q& q, ChannelOf channel_of,
                std::span<float> out) {
  check(x.size() == out.size(), "dequantize: ", x.size(), " inputs for ", out.size(), " outputs");
  for (std::size_t i = 0; i < x.size(); ++i) {
    const std::int64_t c = channel_of(static_cast<std::int64_t>(i));
    out[i] = dequantize_value(x[i], q.scale_at(c), q.zero_point_at(c));
  }
}

// Channel of flat index i for a row-major tensor quantized along `axis` (inner = product of the
// extents after the axis, channels = extent of the axis).
struct ChannelIndex {
  std::int64_t inner = 1;
  std::int64_t channels = 1;
  std::int64_t operator()(std::int64_t i) const { return (i / inner) % channels; }
};
inline constexpr auto per_tensor_index = [](std::int64_t) -> std::int64_t { return 0; };

}  // namespace qnn
// ---- end qnn/numerics/quantize.hpp -----------------------------------------------------------------
// ---- begin qnn/numerics/requantize.hpp -------------------------------------------------------------
// Requantization: from an integer accumulator in the domain of s_acc to an output integer in the
// domain of s_out, under the policy a layer selects (docs/numerics.md §3).
//
//   onnx_float           ONNX Runtime / XNNPACK: m = fp32 product/quotient of the scales, evaluated
//                        left to right; f = fp32(acc)·m; clamp f to [lo−zp, hi−zp]; round half to
//                        even; add zp.
//   tflite_double_round  TFLite/gemmlowp default: m = QuantizeMultiplier(double ratio) → (M, shift);
//                        SaturatingRoundingDoublingHighMul (ties toward +∞), then
//                        RoundingDivideByPOT (ties away from zero): two roundings.
//   tflite_single_round  TFLITE_SINGLE_ROUNDING: (acc·M + 2^(30−shift)) >> (31−shift), ties to +∞.
//   npu_pow2             Vitis AI DPU: all scales are powers of two; shift = Σpos(num) − Σpos(den);
//                        acc >> shift rounding half up (ties to +∞); a negative shift shifts left.
// int64 accumulators (A16W8) take the same rules, except that the TFLite policies use TFLite's
// 16×8 rule: a 16-bit reduced multiplier and one rounding, ties to +∞.
//
// Each policy is a type (OnnxFloat, TfliteDoubleRound, TfliteSingleRound, NpuPow2) with a
// per-channel `Channel` factor made once when a layer is prepared; OutputStage<P> bundles those
// factors with the output zero point and the clamp range (dtype range ∩ fused ReLU/Clip).

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <ostream>
#include <span>
#include <string_view>
#include <vector>

namespace qnn {

enum class RequantPolicy : std::uint8_t { onnx_float, tflite_double_round, tflite_single_round, npu_pow2 };

constexpr std::string_view name_of(RequantPolicy p) {
  switch (p) {
    case RequantPolicy::onnx_float: return "onnx-float";
    case RequantPolicy::tflite_double_round: return "tflite-double-round";
    case RequantPolicy::tflite_single_round: return "tflite-single-round";
    case RequantPolicy::npu_pow2: return "npu-pow2";
  }
  return "?";
}
inline std::ostream& operator<<(std::ostream& os, RequantPolicy p) { return os << name_of(p); }

// The real multiplier of a requantization, kept as the scales it is made of, because each policy
// evaluates it differently (fp32 in order, double, or exact exponents).
//   conv/gemm: {s_x, s_w} / {s_y}     add input: {s_a} / {s_y}     mul: {s_a, s_b} / {s_y}
struct ScaleRatio {
  std::array<float, 3> num{};
  std::array<float, 3> den{};
  int n_num = 0;
  int n_den = 0;

  ScaleRatio(std::initializer_list<float> n, std::initializer_list<float> d) {
    check(n.size() >= 1 && n.size() <= 3 && d.size() <= 3, "scale ratio of ", n.size(), "/",
          d.size(), " factors");
    for (float v : n) num[static_cast<std::size_t>(n_num++)] = v;
    for (float v : d) den[static_cast<std::size_t>(n_den++)] = v;
    for (int i = 0; i < n_num; ++i) check_positive(num[static_cast<std::size_t>(i)]);
    for (int i = 0; i < n_den; ++i) check_positive(den[static_cast<std::size_t>(i)]);
  }
  // fp32, left to right: ((n0·n1)·n2 / d0) / d1 — ONNX Runtime's order for X_scale*W_scale/Y_scale.
  float as_float() const {
    float v = num[0];
    for (int i = 1; i < n_num; ++i) v *= num[static_cast<std::size_t>(i)];
    for (int i = 0; i < n_den; ++i) v /= den[static_cast<std::size_t>(i)];
    return v;
  }
  double as_double() const {
    double v = num[0];
    for (int i = 1; i < n_num; ++i) v *= static_cast<double>(num[static_cast<std::size_t>(i)]);
    for (int i = 0; i < n_den; ++i) v /= static_cast<double>(den[static_cast<std::size_t>(i)]);
    return v;
  }
  // Σpos(num) − Σpos(den): the right shift that applies the ratio when every scale is 2^−pos.
  int as_shift() const {
    int s = 0;
    for (int i = 0; i < n_num; ++i) s += to_pow2(num[static_cast<std::size_t>(i)]).pos;
    for (int i = 0; i < n_den; ++i) s -= to_pow2(den[static_cast<std::size_t>(i)]).pos;
    return s;
  }

 private:
  static void check_positive(float v) {
    check(v > 0.0f && std::isfinite(v), "scale ", v, " must be positive and finite");
  }
};

// ---- TFLite / gemmlowp fixed point ----------------------------------------------------------

// real ≈ multiplier · 2^(shift − 31), multiplier in [2^30, 2^31) or 0.
struct Q31 {
  std::int32_t multiplier = 0;
  int shift = 0;
  friend bool operator==(Q31, Q31) = default;
};

// TFLite QuantizeMultiplier: frexp, round half away from zero, renormalize 2^31, flush below 2^-31.
// Single rounding additionally caps the left shift at 30.
inline Q31 quantize_multiplier(double m, bool single_rounding) {
  check(m >= 0.0 && std::isfinite(m), "requantization multiplier ", m, " must be finite and >= 0");
  if (m == 0.0) return {};
  int shift = 0;
  const double q = std::frexp(m, &shift);
  auto q_fixed = static_cast<std::int64_t>(std::round(q * 2147483648.0));
  if (q_fixed == (std::int64_t{1} << 31)) {
    q_fixed /= 2;
    ++shift;
  }
  if (shift < -31) return {};
  if (single_rounding && shift > 30) {
    shift = 30;
    q_fixed = (std::int64_t{1} << 31) - 1;
  }
  return {static_cast<std::int32_t>(q_fixed), shift};
}

// gemmlowp SaturatingRoundingDoublingHighMul (= ARM VQRDMULH): a·b / 2^31 rounded to nearest with
// ties toward +∞ (the nudge is 2^30, or 1 − 2^30 for a negative product, then C++ truncation),
// saturating only for a = b = INT32_MIN.
inline std::int32_t saturating_rounding_doubling_high_mul(std::int32_t a, std::int32_t b) {
  constexpr std::int32_t kMin = std::numeric_limits<std::int32_t>::min();
  if (a == kMin && b == kMin) return std::numeric_limits<std::int32_t>::max();
  const std::int64_t ab = std::int64_t{a} * std::int64_t{b};
  const std::int64_t nudge = ab >= 0 ? (std::int64_t{1} << 30) : (1 - (std::int64_t{1} << 30));
  return static_cast<std::int32_t>((ab + nudge) / (std::int64_t{1} << 31));  // truncates to zero
}

// gemmlowp RoundingDivideByPOT: x / 2^e, ties away from zero, 0 ≤ e ≤ 31.
inline std::int32_t rounding_divide_by_pot(std::int32_t x, int e) {
  const auto mask = static_cast<std::int32_t>((std::int64_t{1} << e) - 1);
  const std::int32_t remainder = x & mask;
  const std::int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
  return (x >> e) + (remainder > threshold ? 1 : 0);
}

// TFLite MultiplyByQuantizedMultiplier, double rounding. The left shift saturates to int32 where
// TFLite's int32 multiply would overflow (undefined behaviour there; pinned here).
inline std::int32_t multiply_by_q31_double(std::int32_t x, Q31 m) {
  const int left = m.shift > 0 ? m.shift : 0;
  const int right = m.shift > 0 ? 0 : -m.shift;
  const auto shifted = saturate<std::int32_t>(shift_left_saturating(x, left));
  return rounding_divide_by_pot(saturating_rounding_doubling_high_mul(shifted, m.multiplier), right);
}

// TFLITE_SINGLE_ROUNDING: one rounding, ties toward +∞; the result saturates to int32.
inline std::int32_t multiply_by_q31_single(std::int32_t x, Q31 m) {
  const int total_shift = 31 - m.shift;  // shift ∈ [−31, 30] ⇒ total ∈ [1, 62]
  const std::int64_t prod = std::int64_t{x} * m.multiplier;
  return saturate<std::int32_t>(shift_right_rounded(prod, total_shift, Rounding::half_up));
}

// TFLite's int64-accumulator form (16×8 kernels): multiplier reduced to 16 bits, one rounding,
// ties toward +∞. Valid for |x| < 2^47 and shift ≤ 7, which qnn checks when the layer is prepared.
inline std::int32_t multiply_by_q31_wide(std::int64_t x, Q31 m) {
  const std::int64_t reduced =
      m.multiplier < 0x7FFF0000 ? (std::int64_t{m.multiplier} + (1 << 15)) >> 16 : 0x7FFF;
  const int total_shift = 15 - m.shift;
  return saturate<std::int32_t>(shift_right_rounded(x * reduced, total_shift, Rounding::half_up));
}

// ---- the policies ------------------------------------------------------------------------------

template <class Acc>
concept Accumulator = std::same_as<Acc, std::int32_t> || std::same_as<Acc, std::int64_t>;

struct OnnxFloat {
  static constexpr RequantPolicy policy = RequantPolicy::onnx_float;
  struct Channel {
    float multiplier = 0;
  };
  static Channel make(const ScaleRatio& r) { return {r.as_float()}; }
  template <Accumulator Acc>
  static std::int32_t apply(Acc acc, Channel ch, std::int32_t zp, std::int32_t lo, std::int32_t hi) {
    float f = static_cast<float>(acc) * ch.multiplier;
    const auto flo = static_cast<float>(lo - zp);
    const auto fhi = static_cast<float>(hi - zp);
    f = f < flo ? flo : (f > fhi ? fhi : f);
    return static_cast<std::int32_t>(round_half_even(f)) + zp;
  }
};

template <bool SingleRounding>
struct TfliteFixedPoint {
  static constexpr RequantPolicy policy =
      SingleRounding ? RequantPolicy::tflite_single_round : RequantPolicy::tflite_double_round;
  using Channel = Q31;
  static Channel make(const ScaleRatio& r) { return quantize_multiplier(r.as_double(), SingleRounding); }
  template <Accumulator Acc>
  static std::int32_t apply(Acc acc, Channel ch, std::int32_t zp, std::int32_t lo, std::int32_t hi) {
    std::int32_t v = 0;
    if constexpr (std::same_as<Acc, std::int64_t>)
      v = multiply_by_q31_wide(acc, ch);
    else if constexpr (SingleRounding)
      v = multiply_by_q31_single(acc, ch);
    else
      v = multiply_by_q31_double(acc, ch);
    return static_cast<std::int32_t>(std::clamp<std::int64_t>(std::int64_t{v} + zp, lo, hi));
  }
};
using TfliteDoubleRound = TfliteFixedPoint<false>;
using TfliteSingleRound = TfliteFixedPoint<true>;

struct NpuPow2 {
  static constexpr RequantPolicy policy = RequantPolicy::npu_pow2;
  struct Channel {
    int shift = 0;  // right shift; negative shifts left
  };
  static Channel make(const ScaleRatio& r) { return {r.as_shift()}; }
  template <Accumulator Acc>
  static std::int32_t apply(Acc acc, Channel ch, std::int32_t zp, std::int32_t lo, std::int32_t hi) {
    const std::int64_t v = ch.shift >= 0 ? shift_right_rounded(acc, ch.shift, Rounding::half_up)
                                         : shift_left_saturating(acc, -ch.shift);
    // Pre-clamp far outside any output range so adding the zero point cannot overflow.
    const std::int64_t bounded = std::clamp<std::int64_t>(v, -(std::int64_t{1} << 40), std::int64_t{1} << 40);
    return static_cast<std::int32_t>(std::clamp<std::int64_t>(bounded + zp, lo, hi));
  }
};

template <class P>
concept RequantPolicyType = requires(const ScaleRatio& r) {
  typename P::Channel;
  { P::make(r) } -> std::same_as<typename P::Channel>;
  { P::apply(std::int32_t{}, typename P::Channel{}, 0, 0, 0) } -> std::same_as<std::int32_t>;
};

// Calls f(P{}) with the policy type of a runtime RequantPolicy.
template <class F>
decltype(auto) visit_policy(RequantPolicy p, F&& f) {
  switch (p) {
    case RequantPolicy::onnx_float: return f(OnnxFloat{});
    case RequantPolicy::tflite_double_round: return f(TfliteDoubleRound{});
    case RequantPolicy::tflite_single_round: return f(TfliteSingleRound{});
    case RequantPolicy::npu_pow2: return f(NpuPow2{});
  }
  fail("invalid requantization policy tag ", static_cast<int>(p));
}

// ---- fused activation -> clamp range -----------------------------------------------------------

enum class FusedActivation : std::uint8_t { none, relu, clip };

struct ActivationClamp {
  FusedActivation kind = FusedActivation::none;
  float min = -std::numeric_limits<float>::infinity();  // Clip bounds in real units
  float max = std::numeric_limits<float>::infinity();
  static ActivationClamp relu() { return {FusedActivation::relu, 0.0f, std::numeric_limits<float>::infinity()}; }
  static ActivationClamp clip(float lo, float hi) { return {FusedActivation::clip, lo, hi}; }
};

// The integers lo … hi: the values an output may take, or an input is known to take.
struct IntRange {
  std::int32_t lo = 0;
  std::int32_t hi = 0;
  bool contains(const IntRange& r) const { return lo <= r.lo && r.hi <= hi; }
  friend bool operator==(const IntRange&, const IntRange&) = default;
};

template <QuantStorage T>
constexpr IntRange storage_range() {
  return {min_of<T>(), max_of<T>()};
}

// The integer interval an output may take: the storage range of T, narrowed by a fused ReLU
// (q ≥ zp) or Clip (bounds quantized with the output's scale, round half to even — the value the
// unfused Q(Clip(DQ(q))) chain would produce at the bounds).
template <QuantStorage T>
IntRange output_range(const ActivationClamp& act, float scale, std::int32_t zp) {
  IntRange r = storage_range<T>();
  if (act.kind == FusedActivation::none) return r;
  check(act.min <= act.max, "Clip with min ", act.min, " > max ", act.max);
  auto q = [&](float v) -> std::int64_t {
    const double x = static_cast<double>(v) / static_cast<double>(scale);
    if (std::isinf(x)) return x > 0 ? std::numeric_limits<std::int32_t>::max() : std::numeric_limits<std::int32_t>::min();
    return static_cast<std::int64_t>(round_half_even(std::clamp(x, -4.0e9, 4.0e9))) + zp;
  };
  r.lo = static_cast<std::int32_t>(std::clamp<std::int64_t>(q(act.min), r.lo, r.hi));
  r.hi = static_cast<std::int32_t>(std::clamp<std::int64_t>(q(act.max), r.lo, r.hi));
  return r;
}

// ---- the output stage --------------------------------------------------------------------------

// Per-channel requantization factors + output zero point + clamp range: everything the end of a
// conv/GEMM/eltwise kernel needs, computed once when the layer is prepared.
template <RequantPolicyType P>
struct OutputStage {
  using policy_type = P;
  std::vector<typename P::Channel> channels;  // one per output channel, or one for all
  std::int32_t zero_point = 0;
  IntRange range{};

  template <Accumulator Acc>
  std::int32_t operator()(Acc acc, std::int64_t channel) const {
    const auto& ch = channels[channels.size() == 1 ? 0 : static_cast<std::size_t>(channel)];
    return P::apply(acc, ch, zero_point, range.lo, range.hi);
  }
};

// Output stage of a conv/GEMM: ratio s_x·s_w[c]/s_y for each of the weight's channels.
template <RequantPolicyType P, QuantStorage TOut>
OutputStage<P> make_output_stage(float s_x, std::span<const float> s_w, float s_y, std::int32_t zp_y,
                                 const ActivationClamp& act = {}) {
  detail::check_zero_point<TOut>(zp_y);
  OutputStage<P> st;
  for (float w : s_w) st.channels.push_back(P::make(ScaleRatio({s_x, w}, {s_y})));
  st.zero_point = zp_y;
  st.range = output_range<TOut>(act, s_y, zp_y);
  return st;
}

// Output stage of a pure rescale, ratio s_in/s_out (Requantize, Concat inputs, ...).
template <RequantPolicyType P, QuantStorage TOut>
OutputStage<P> make_rescale_stage(float s_in, float s_out, std::int32_t zp_out,
                                  const ActivationClamp& act = {}) {
  detail::check_zero_point<TOut>(zp_out);
  OutputStage<P> st;
  st.channels.push_back(P::make(ScaleRatio({s_in}, {s_out})));
  st.zero_point = zp_out;
  st.range = output_range<TOut>(act, s_out, zp_out);
  return st;
}

}  // namespace qnn
// ---- end qnn/numerics/requantize.hpp ---------------------------------------------------------------

// ---- begin qnn/kernels/conv2d.hpp ------------------------------------------------------------------
// Conv2D entry points: quantized (int8/uint8/int16 activations × int8 weights), fp32 and bf16.
//
// A layer is prepared once — weights copied (the caller's tensor is never touched) and packed for
// the fast CPU path, shapes and quantization validated, the accumulator bound checked against the
// real weights, requantization factors made — and then run on any batch size. run() takes the fast
// path (kernels/cpu/, bit-exact with the reference for integers) for dense tensors with 8-bit
// activations, and the scalar reference otherwise or when `reference` is set. The typed constructor is where quantization
// schemes meet: activations and outputs must be PerTensor (a static_assert says so), weights are
// PerTensor or PerChannel along axis 0, and the storage types are constrained (8- or 16-bit
// activations, 8-bit weights).

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <optional>
#include <span>
#include <utility>
#include <variant>
#include <vector>

// ---- begin qnn/kernels/cpu/conv.hpp ----------------------------------------------------------------
// Fast CPU convolution: im2col (kernels/cpu/im2col.hpp) of each image and group into lane panels,
// GEMM against weights packed once, epilogue per block. NCHW in, NCHW out: lanes run along output pixels, so a block
// row is a run of one output channel's pixels.
//
// Integer: patches hold x − zx (0 for taps in the padding — the zero point, exactly as the
// reference treats them) and weights w − zw[m], both int16, so the int32 sums equal the
// reference's Σ(x − zx)(w − zw) with no correction terms; or, for layers whose weights allow it
// (kernels/cpu/u8s8.hpp), patches hold x − the layer's byte shift as unsigned bytes and weights
// w − zw as signed bytes, and a per-channel correction folded into the bias restores the same sums.
// Float/bf16: patches hold x (0 in the padding), weights w (rounded to bf16 once for bf16 layers;
// products of bf16 values are exact in fp32, so the FMA adds the same value the reference's
// multiply-then-add does, only in another order).
// Parallel over (image, group, pixel chunk) items; every output is computed by the same code
// whatever the split. A max pooling fused after the conv (graph/passes/fuse_pool.hpp) is applied
// per (image, group) as soon as the group's output is complete, or on the int32 sums in the
// epilogue when the requantization never decreases (ConvOutput and pool_sums_lanes below).

#include <algorithm>
#include <array>
#include <cstdint>
#include <numeric>
#include <span>
#include <utility>
#include <vector>

// ---- begin qnn/kernels/cpu/exec.hpp ----------------------------------------------------------------
// What a kernel needs to run fast besides its operands: scratch memory and worker threads.
//
// A Workspace is scratch memory that grows to the largest request and is then reused, so steady
// state runs allocate nothing. An Exec bundles one workspace per thread with the thread pool of
// the run context; parallel() splits a range statically (thread_pool.hpp), so every element is
// computed by the same instructions in the same order whatever the thread count.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

// ---- begin qnn/runtime/thread_pool.hpp -------------------------------------------------------------
// A small fork-join thread pool: parallel_for(n, f) runs f(part, begin, end) over a static split
// of [0, n) and returns when every part is done. `part` (0 ≤ part < threads) lets a part use its
// own scratch memory.
//
// Static, contiguous splits (not work stealing) because qnn's kernels split batch or output
// channels into equal, independent ranges: the split — and so every result — depends only on n
// and the thread count, never on timing. The calling thread takes part 0, so a pool of T threads
// has T − 1 workers. Exceptions thrown by parts are re-thrown to the caller (the first one).
//
// Idle workers, and a caller waiting for its parts, spin for up to kSpin before they sleep on the
// condition variable: a small model runs one parallel_for per layer with a few microseconds of
// serial work between them, and waking a sleeping thread through the kernel costs more than that
// on a VM (the Fashion-MNIST CNN at batch 1 ran slower on 2 threads than on 1 before this).
// The spin is bounded, so an idle session does not keep a core busy.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace qnn {

class ThreadPool {
 public:
  static constexpr std::chrono::microseconds kSpin{100};

  explicit ThreadPool(int threads) : threads_(std::max(1, threads)) {
    for (int i = 1; i < threads_; ++i) workers_.emplace_back([this, i] { work(i); });
  }
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;
  ~ThreadPool() {
    {
      std::lock_guard<std::mutex> lock(m_);
      stop_ = true;
    }
    cv_.notify_all();
    for (auto& t : workers_) t.join();
  }

  int threads() const { return threads_; }

  // Part i of `parts` covers [n·i/parts, n·(i+1)/parts).
  static std::pair<std::int64_t, std::int64_t> split(std::int64_t n, int parts, int i) {
    return {n * i / parts, n * (i + 1) / parts};
  }

  // Runs f(part, begin, end) on up to threads() parts of [0, n). Parts with less than `grain` items are
  // merged (fewer threads on small problems). Not re-entrant: one parallel_for at a time per pool.
  void parallel_for(std::int64_t n, const std::function<void(int, std::int64_t, std::int64_t)>& f,
                    std::int64_t grain = 1) {
    if (n <= 0) return;
    const int parts = static_cast<int>(std::clamp<std::int64_t>(n / std::max<std::int64_t>(grain, 1), 1, threads_));
    if (parts == 1) {
      f(0, 0, n);
      return;
    }
    {
      std::lock_guard<std::mutex> lock(m_);
      job_ = &f;
      n_ = n;
      parts_ = parts;
      pending_.store(parts - 1, std::memory_order_relaxed);
      error_ = nullptr;
      generation_.fetch_add(1, std::memory_order_release);
    }
    cv_.notify_all();
    run_part(0);
    if (!spin_until([&] { return pending_.load(std::memory_order_acquire) == 0; })) {
      std::unique_lock<std::mutex> lock(m_);
      done_.wait(lock, [&] { return pending_.load(std::memory_order_acquire) == 0; });
    }
    std::lock_guard<std::mutex> lock(m_);
    job_ = nullptr;
    if (error_) std::rethrow_exception(error_);
  }

 private:
  void run_part(int i) {
    const auto [b, e] = split(n_, parts_, i);
    try {
      (*job_)(i, b, e);
    } catch (...) {
      std::lock_guard<std::mutex> lock(m_);
      if (!error_) error_ = std::current_exception();
    }
  }

  // True once ready() holds, false if it did not within kSpin.
  template <class Ready>
  static bool spin_until(Ready&& ready) {
    const auto until = std::chrono::steady_clock::now() + kSpin;
    while (true) {
      for (int i = 0; i < 64; ++i) {
        if (ready()) return true;
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#endif
      }
      if (std::chrono::steady_clock::now() > until) return false;
    }
  }

  void work(int index) {
    std::uint64_t seen = 0;
    while (true) {
      spin_until([&] { return generation_.load(std::memory_order_acquire) != seen || stop_.load(std::memory_order_relaxed); });
      {
        std::unique_lock<std::mutex> lock(m_);
        cv_.wait(lock, [&] { return stop_.load(std::memory_order_relaxed) || generation_.load(std::memory_order_relaxed) != seen; });
        if (stop_.load(std::memory_order_relaxed)) return;
        seen = generation_.load(std::memory_order_relaxed);
        if (index >= parts_) continue;
      }
      run_part(index);
      if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
        std::lock_guard<std::mutex> lock(m_);  // the caller may be about to sleep on done_
        done_.notify_one();
      }
    }
  }

  int threads_;
  std::vector<std::thread> workers_;
  std::mutex m_;
  std::condition_variable cv_;
  std::condition_variable done_;
  const std::function<void(int, std::int64_t, std::int64_t)>* job_ = nullptr;
  std::int64_t n_ = 0;
  int parts_ = 1;
  std::atomic<int> pending_{0};
  std::atomic<std::uint64_t> generation_{0};
  std::atomic<bool> stop_{false};
  std::exception_ptr error_;
};

}  // namespace qnn
// ---- end qnn/runtime/thread_pool.hpp ---------------------------------------------------------------

namespace qnn::cpu {

class Workspace {
 public:
  std::byte* get(std::size_t bytes) {
    if (buf_.size() < bytes) buf_ = AlignedBuffer(bytes);
    return buf_.data();
  }
  template <class T>
  T* get(std::size_t count) {
    return reinterpret_cast<T*>(get(count * sizeof(T)));
  }

 private:
  AlignedBuffer buf_;
};

struct Exec {
  ThreadPool* pool = nullptr;          // null: run on the calling thread
  std::vector<Workspace>* workspaces = nullptr;  // at least one per thread

  int threads() const { return pool ? pool->threads() : 1; }

  // f(workspace, begin, end) over [0, n), parts of at least `grain` items.
  void parallel(std::int64_t n, const std::function<void(Workspace&, std::int64_t, std::int64_t)>& f,
                std::int64_t grain = 1) const {
    if (!pool || n <= 1) {
      f((*workspaces)[0], 0, n);
      return;
    }
    pool->parallel_for(n, [&](int part, std::int64_t b, std::int64_t e) {
      f((*workspaces)[static_cast<std::size_t>(part)], b, e);
    }, grain);
  }
};

// A single-threaded Exec with its own workspace, for one-off calls (tests, constant folding).
struct LocalExec {
  std::vector<Workspace> ws = std::vector<Workspace>(1);
  Exec exec() { return Exec{nullptr, &ws}; }
};

}  // namespace qnn::cpu
// ---- end qnn/kernels/cpu/exec.hpp ------------------------------------------------------------------
// ---- begin qnn/kernels/cpu/gemm.hpp ----------------------------------------------------------------
// The CPU GEMM driver: blocking over the packed operands, the per-target block kernels from the
// dispatch table (or their portable equivalents), and the output stage.
//
// Integer (int16 pairs or bytes, kernels/cpu/pack.hpp): blocks of 16 broadcast rows × 8 lane
// panels (64 lanes on AVX2, 128 on AVX-512): a 4 KiB int32 block that the requantizing epilogue
// reads straight back from L1; the lane panels of one block (8 panels × K) are reused by all 16 rows.
// fp32: the block kernel applies bias and clamp itself and stores to the output (a scalar epilogue
// re-reading a scratch block was 8.5 % of the FP32 model's time), so a block is only a unit of
// reuse: 16 rows × 12 panels, 12 being a multiple of the fp32 tile's 3 panels.

#include <algorithm>
#include <cmath>
#include <concepts>
#include <cstdint>
#include <type_traits>
#include <vector>

// ---- begin qnn/kernels/cpu/pack.hpp ----------------------------------------------------------------
// Operand packing for the CPU GEMM kernels (the non-SIMD half; the per-target tiles are in
// kernels/simd/gemm-inl.hpp).
//
// A GEMM here computes C[s][l] = Σ_k S[s][k]·L[l][k]: one operand is spread across SIMD lanes
// ("lane operand", L), the other broadcast one row at a time ("broadcast operand", S). Which is
// which is the caller's choice, made so that output channels end up where the store is contiguous:
//   conv   L = patches of output pixels (im2col, packed per run), S = weights (packed once)
//          → C[m][pixel] is an NCHW output row;
//   FC     L = weights (packed once), S = activation rows (packed per run)
//          → C[batch][n] is a row of the output.
//
// Integer operands are packed in one of two ways, chosen per layer when its weights are prepared:
// * int16 (v − zero point): the exact products of any int8/uint8 pair, even asymmetric weights, with
//   no correction terms. Pairs of k are interleaved for _mm*_madd_epi16 / Highway's
//   ReorderWidenMulAccumulate: a lane panel holds, for each k-pair q,
//     [l0: v(2q), v(2q+1)], [l1: v(2q), v(2q+1)], ... [l(NR−1): ...]      (2·NR int16, one vector)
//   and a broadcast row holds int32 words with v(2q) in the low and v(2q+1) in the high half.
// * bytes, four k per 32-bit unit, for _mm*_maddubs_epi16 (u8 × s8; kernels/cpu/u8s8.hpp says when
//   that is exact): the activations as unsigned bytes (v − the type's minimum), the weights as
//   signed bytes (w − zero point). A lane panel holds, for each k-quad q, [l0: v(4q) .. v(4q+3)],
//   [l1: ...] ... (4·NR bytes), and a broadcast word the four bytes of one row, v(4q) first in
//   memory. Conv patches are the unsigned lane operand, FC weights the signed one.
// Float operands are packed the same way with single k steps: a panel holds NR floats per k.
// K is padded to a whole step with zeros, panels past the last row with zeros.

#include <algorithm>
#include <cstdint>
#include <span>
#include <type_traits>
#include <vector>

namespace qnn::cpu {

// A byte layer may sum two k-quads in int16 before widening them (kernels/cpu/u8s8.hpp, paired
// quads), and a layer whose pairs could saturate may still run on bytes (byte_plan). Their packed
// bytes hold w' − fix for the few weights past that rule's bound, and the GEMM adds fix·u, u
// being the same packed input byte, to the sums of the fix's row (gemm_int).
// row: an output channel (a conv's broadcast row, an FC's lane row); k: in the packed k order.
struct ByteFix {
  std::int64_t row = 0, k = 0;
  std::int32_t w = 0;
};

struct BytePairing {
  bool paired = false;
  std::vector<ByteFix> fixes;  // by row, ascending
};

// The fixes of rows [row0, row0 + rows), which a GEMM call numbers from 0 (a conv group's rows).
struct ByteFixes {
  bool paired = false;
  std::span<const ByteFix> fixes;
  std::int64_t row0 = 0;
};

// The fixes (sorted by row) of rows [lo, hi).
inline std::span<const ByteFix> fixes_of_rows(std::span<const ByteFix> fixes, std::int64_t lo, std::int64_t hi) {
  const auto below = [](const ByteFix& f, std::int64_t r) { return f.row < r; };
  const auto b = std::lower_bound(fixes.begin(), fixes.end(), lo, below);
  return {b, std::lower_bound(b, fixes.end(), hi, below)};
}

inline ByteFixes byte_fixes(const BytePairing& p, std::int64_t row0, std::int64_t rows) {
  return {p.paired, fixes_of_rows(p.fixes, row0, row0 + rows), row0};
}

inline std::int64_t round_up(std::int64_t v, std::int64_t m) { return (v + m - 1) / m * m; }

// Elements of one k-step per lane: a 32-bit unit of int16 pairs or byte quads, or one float.
template <class Elem>
inline constexpr int kStep = std::is_floating_point_v<Elem> ? 1 : static_cast<int>(4 / sizeof(Elem));

// Geometry of a packed lane operand.
struct LaneLayout {
  std::int64_t rows = 0;   // logical rows (L)
  std::int64_t k = 0;      // logical reduction length
  std::int64_t nr = 1;     // lanes per panel
  std::int64_t ksteps = 0; // k-steps: k-pairs (int16), k-quads (bytes) or k (float)
  std::int64_t panels() const { return (rows + nr - 1) / nr; }
  // Elements per panel: per_step (kStep) elements per lane and k-step.
  std::int64_t panel_elems(int per_step) const { return ksteps * nr * per_step; }
};

// Integer or float lane operand from a row accessor: value(l, k) → the element (integers already
// shifted, see above).
template <class Elem, class Value>
void pack_lanes(Elem* dst, const LaneLayout& lay, Value&& value) {
  constexpr int step = kStep<Elem>;
  const std::int64_t panel = lay.panel_elems(step);
  for (std::int64_t p = 0; p < lay.panels(); ++p) {
    Elem* out = dst + p * panel;
    for (std::int64_t q = 0; q < lay.ksteps; ++q)
      for (std::int64_t r = 0; r < lay.nr; ++r) {
        const std::int64_t l = p * lay.nr + r;
        for (std::int64_t h = 0; h < step; ++h) {
          const std::int64_t k = step * q + h;
          out[(q * lay.nr + r) * step + h] = (l < lay.rows && k < lay.k) ? static_cast<Elem>(value(l, k)) : Elem{};
        }
      }
  }
}

// One broadcast word of the kStep<Elem> integers v[0..step), each truncated to Elem, v[0] in the
// lowest bits: for int16, v[0] in the low half and v[1] in the high half. By value, as the tiles
// read a broadcast word (hn::Set of an int32, then a bit cast).
template <class Elem>
std::int32_t pack_word(const std::int32_t* v) {
  constexpr int step = kStep<Elem>, bits = 8 * sizeof(Elem);
  constexpr std::uint32_t mask = (std::uint32_t{1} << bits) - 1;
  std::uint32_t w = 0;
  for (int h = 0; h < step; ++h) w |= (static_cast<std::uint32_t>(v[h]) & mask) << (bits * h);
  return static_cast<std::int32_t>(w);
}

// Integer broadcast rows: dst[s·ksteps + q] = the word of v(s, step·q) .. v(s, step·q + step − 1),
// zeros past k.
template <class Elem, class Value>
void pack_bcast_words(std::int32_t* dst, std::int64_t rows, std::int64_t k, std::int64_t ksteps, Value&& value) {
  constexpr int step = kStep<Elem>;
  for (std::int64_t s = 0; s < rows; ++s)
    for (std::int64_t q = 0; q < ksteps; ++q) {
      std::int32_t e[step];
      for (int h = 0; h < step; ++h) {
        const std::int64_t j = step * q + h;
        e[h] = j < k ? static_cast<std::int32_t>(value(s, j)) : 0;
      }
      dst[s * ksteps + q] = pack_word<Elem>(e);
    }
}

// The same broadcast rows from rows of integer values `row_stride` elements apart, each minus
// `sub` (the zero point for int16, the type's minimum for bytes): one pass per row whose loop the
// compiler vectorizes (the FC's activations, packed on every run; the accessor form above costs a
// strided view lookup per element).
template <class Elem, class T>
void pack_bcast_rows(std::int32_t* dst, const T* src, std::int64_t rows, std::int64_t row_stride, std::int64_t k,
                     std::int64_t ksteps, std::int32_t sub) {
  constexpr int step = kStep<Elem>;
  for (std::int64_t s = 0; s < rows; ++s) {
    const T* in = src + s * row_stride;
    std::int32_t* out = dst + s * ksteps;
    const std::int64_t full = k / step;
    std::int32_t e[step];
    for (std::int64_t q = 0; q < full; ++q) {
      for (int h = 0; h < step; ++h) e[h] = static_cast<std::int32_t>(in[step * q + h]) - sub;
      out[q] = pack_word<Elem>(e);
    }
    if (full < ksteps) {  // K not a whole number of steps: zeros after the last value
      for (int h = 0; h < step; ++h) {
        const std::int64_t j = step * full + h;
        e[h] = j < k ? static_cast<std::int32_t>(in[j]) - sub : 0;
      }
      out[full] = pack_word<Elem>(e);
    }
  }
}

template <class Value>
void pack_bcast_f32(float* dst, std::int64_t rows, std::int64_t k, Value&& value) {
  for (std::int64_t s = 0; s < rows; ++s)
    for (std::int64_t j = 0; j < k; ++j) dst[s * k + j] = static_cast<float>(value(s, j));
}

// The same from rows `row_stride` elements apart (float or bf16), as pack_bcast_rows.
template <class T>
void pack_bcast_rows_f32(float* dst, const T* src, std::int64_t rows, std::int64_t row_stride, std::int64_t k) {
  for (std::int64_t s = 0; s < rows; ++s) {
    const T* in = src + s * row_stride;
    float* out = dst + s * k;
    for (std::int64_t j = 0; j < k; ++j) out[j] = static_cast<float>(in[j]);
  }
}

}  // namespace qnn::cpu
// ---- end qnn/kernels/cpu/pack.hpp ------------------------------------------------------------------
// ---- begin qnn/kernels/dispatch.hpp ----------------------------------------------------------------
// The one place that decides which SIMD code runs.
//
// Header-only (default): the kernels in kernels/simd/*-inl.hpp (GEMM tiles and epilogues, max
// pooling, QuantizeLinear) are compiled once, for the best Highway target the compile flags allow
// (-march=native, -march=x86-64-v3 -maes -mpclmul → AVX2, -march=x86-64-v4 ... → AVX-512).
// Without such flags Highway's target is SCALAR, for which qnn has no SIMD kernels: the portable
// C++ loops (or the reference kernels) run instead (same layouts, same results).
//
// Run-time dispatch (opt-in: link the CMake target qnn::dispatch, which defines
// QNN_DYNAMIC_DISPATCH for its users): src/dispatch.cpp compiles the same kernels for every x86
// target Highway 1.0.3 offers (SSSE3, SSE4, AVX2, AVX3, AVX3_DL; plus the portable loops) and
// picks, at the first use, the best one the CPU supports — the choice HWY_DYNAMIC_DISPATCH would
// make — or the one the environment variable QNN_SIMD_TARGET names (AVX2, SSE4, ..., portable;
// any case). A name that is unknown, or a target this CPU lacks, is a qnn::error naming the ones
// available, raised by that first use; never a silent fallback. Code compiled this way includes no
// kernel: one binary serves AVX2, AVX-512 and VNNI machines.
//
// Kernels never look at targets; they receive this table.

// ---- begin qnn/kernels/simd/kernel_table.hpp -------------------------------------------------------
// The table of per-target SIMD kernels that the CPU drivers (kernels/cpu/) call through: one
// function pointer per kernel, filled for one Highway target by kernels/simd/table-inl.hpp and
// chosen by kernels/dispatch.hpp. A plain struct of pointers, so the drivers need no Highway
// header and the run-time dispatch build can hold one table per target.

#include <cstddef>

// ---- begin qnn/kernels/simd/gemm_args.hpp ----------------------------------------------------------
// Arguments of the per-target GEMM blocks and epilogues (kernels/simd/gemm-inl.hpp). Plain
// structs, so the per-target functions have one non-template signature each and can be exported
// for run-time dispatch.

#include <cstdint>

namespace qnn::simd {

// out[s·out_stride + l] = Σ_q madd(lanes panel(l / nr)[q], bcast[s][q]) for s < rows, l < panels·nr.
struct GemmI16Args {
  const std::int16_t* lanes = nullptr;  // first panel of the block (64-byte aligned)
  std::int64_t panel_stride = 0;        // int16 elements per panel
  std::int64_t panels = 0;
  const std::int32_t* bcast = nullptr;  // first broadcast row of the block
  std::int64_t bcast_stride = 0;        // int32 words per row
  std::int64_t rows = 0;
  std::int64_t ksteps = 0;              // k-pairs
  std::int32_t* out = nullptr;
  std::int64_t out_stride = 0;
};

// The same sums over byte operands: each int32 lane adds, per k-quad, the two int16 results of
// _mm*_maddubs_epi16 (u8 × s8 pairs, saturating — kernels/cpu/u8s8.hpp admits only layers where no
// pair can saturate). Which operand holds the unsigned bytes is `lanes_unsigned`: conv patches
// (true) or FC activations (false, the lanes being the FC's weights).
struct GemmU8S8Args {
  const std::uint8_t* lanes = nullptr;  // first panel of the block (64-byte aligned)
  std::int64_t panel_stride = 0;        // bytes per panel
  std::int64_t panels = 0;
  const std::int32_t* bcast = nullptr;  // first broadcast row of the block: four bytes per word
  std::int64_t bcast_stride = 0;        // int32 words per row
  std::int64_t rows = 0;
  std::int64_t ksteps = 0;              // k-quads
  std::int32_t* out = nullptr;
  std::int64_t out_stride = 0;
  bool lanes_unsigned = true;
  bool paired = false;  // two k-quads summed in int16 per widening (kernels/cpu/u8s8.hpp admits it)
};

// out[s·out_stride + l] = min(max(fma-chain, lo), hi), where each sum starts from the bias and adds
// lanes panel(l / nr)[k]·bcast[s][k] for k ascending: the reference's order (docs/numerics.md §8).
// The bias and the clamp are applied here, in registers, so the block goes to its destination once.
struct GemmF32Args {
  const float* lanes = nullptr;
  std::int64_t panel_stride = 0;  // floats per panel
  std::int64_t panels = 0;
  const float* bcast = nullptr;
  std::int64_t bcast_stride = 0;
  std::int64_t rows = 0;
  std::int64_t ksteps = 0;        // k
  const float* bias = nullptr;    // the block's first row's (or first lane's) bias; null: none
  bool bias_per_lane = false;     // bias[l] (FC: one per output column) rather than bias[s] (conv)
  float lo = 0.0f, hi = 0.0f;     // the clamp of a fused ReLU/Clip (±∞ without one)
  float* out = nullptr;
  std::int64_t out_stride = 0;
};

// onnx_float requantization of an int32 block (rows × cols) into 8-bit outputs.
struct RequantArgs {
  const std::int32_t* acc = nullptr;
  std::int64_t acc_stride = 0;
  std::int64_t rows = 0;
  std::int64_t cols = 0;
  const std::int32_t* bias = nullptr;  // indexed by channel; may be null
  const float* mult = nullptr;         // indexed by channel (or [0] when !per_channel)
  bool per_channel = false;
  bool channel_is_row = true;          // channel = channel0 + row (conv) or channel0 + col (FC)
  std::int64_t channel0 = 0;
  std::int32_t zp = 0, lo = 0, hi = 0;
  void* out = nullptr;
  std::int64_t out_stride = 0;         // elements
};

}  // namespace qnn::simd
// ---- end qnn/kernels/simd/gemm_args.hpp ------------------------------------------------------------
// ---- begin qnn/kernels/simd/pool_args.hpp ----------------------------------------------------------
// Arguments of the per-target max-pooling rows (kernels/simd/pool-inl.hpp): a plain struct, so the
// per-target function has one non-template signature per element type.

#include <algorithm>
#include <cstdint>

namespace qnn::simd {

// Max pooling of `planes` contiguous H×W planes into OH×OW planes. The caller guarantees that every
// window holds at least one input pixel (the reference rejects the others).
struct MaxPoolArgs {
  const void* x = nullptr;
  void* y = nullptr;
  std::int64_t planes = 0;
  std::int64_t h = 0, w = 0, oh = 0, ow = 0;
  std::int64_t kh = 1, kw = 1, sh = 1, sw = 1, dh = 1, dw = 1;
  std::int64_t pad_top = 0, pad_left = 0;
  void* scratch = nullptr;  // max_pool_scratch_elems(*this) elements of the pooled type
};

// The max pooling a conv runs on its int32 sums, block by block, in its epilogue (kernels/cpu/
// conv.hpp, pool_sums_lanes): `rows` block rows, acc_stride apart, each `groups` runs of kh conv
// output rows of width w; windows kh × kw (kw 1 or 2) at stride (kh, kw) tile them, so run g of row
// s pools to one output row of ow = ⌊w / kw⌋ values at out + s·out_stride + g·ow. Loads may reach
// up to two vectors (2·N int32, 32 on AVX-512) past the last window of the last row (rows narrower
// than a vector are read as whole vectors): acc must have kPoolSumsOverRead readable elements
// after it.
inline constexpr std::int64_t kPoolSumsOverRead = 128;

struct PoolSumsArgs {
  const std::int32_t* acc = nullptr;
  std::int64_t acc_stride = 0;
  std::int64_t rows = 0, groups = 0;
  std::int64_t kh = 1, kw = 1, w = 0, ow = 0;
  std::int32_t* out = nullptr;
  std::int64_t out_stride = 0;
  // Elements of each output row from `out` on that may be written, in any order before the
  // kernel returns (those past the block's outputs are rewritten later): lets a narrow row be
  // stored as a whole vector.
  std::int64_t out_room = 0;
};

// Reduced elements per flat column pass of a pairs-tiling pool (below).
inline constexpr std::int64_t kMaxPoolPairBlock = 4096;

// Windows two columns wide at stride 2 that tile each row exactly (no left padding, no dilation,
// w = 2·ow: every column is in one window): the 2×2/2 pooling of most CNNs. Their column pass can
// run over whole planes as one flat array (kernels/simd/pool-inl.hpp) — for planes of at most
// kMaxPoolPairBlock reduced elements, so that the scratch stays small; the rows of larger planes are
// long enough for the general row path to waste little.
inline bool max_pool_pairs_tile_rows(const MaxPoolArgs& a) {
  return a.kw == 2 && a.sw == 2 && a.dw == 1 && a.pad_left == 0 && a.w == 2 * a.ow &&
         a.h * a.ow <= kMaxPoolPairBlock;
}

// Planes per flat column pass of a pairs-tiling pool: at least one.
inline std::int64_t max_pool_pair_block(const MaxPoolArgs& a) {
  return std::max<std::int64_t>(1, kMaxPoolPairBlock / std::max<std::int64_t>(1, a.h * a.ow));
}

// Pairs-tiling pools: the column-reduced rows of one block of planes and an output row, each with
// room for a vector's over-reach (at most 64 elements on any target). Others: a framed input row and
// an output row, each long enough for the output row rounded up to the vector length.
inline std::int64_t max_pool_scratch_elems(const MaxPoolArgs& a) {
  const std::int64_t row = a.ow + 64;
  if (max_pool_pairs_tile_rows(a)) return max_pool_pair_block(a) * a.h * a.ow + 64 + row;
  return row * std::max<std::int64_t>(a.sw, 2) + (a.kw - 1) * a.dw + a.pad_left + a.w + row;
}

}  // namespace qnn::simd
// ---- end qnn/kernels/simd/pool_args.hpp ------------------------------------------------------------
// ---- begin qnn/kernels/simd/quantize_args.hpp ------------------------------------------------------
// Arguments of the per-target QuantizeLinear rows (kernels/simd/quantize-inl.hpp).

#include <cstdint>

namespace qnn::simd {

// y[i] = clamp(rne(x[i] / scale), qmin − zp, qmax − zp) + zp for i < n, NaN → qmin, where qmin and
// qmax are the limits of the output type (docs/numerics.md §2).
struct QuantizeArgs {
  const float* x = nullptr;
  void* y = nullptr;
  std::int64_t n = 0;
  float scale = 1.0f;
  std::int32_t zp = 0;
};

}  // namespace qnn::simd
// ---- end qnn/kernels/simd/quantize_args.hpp --------------------------------------------------------

namespace qnn::simd {

struct KernelTable {
  const char* target = "portable";
  std::size_t lanes = 8;  // int32/float lanes per vector: the packed panel width
  void (*gemm_i16)(const GemmI16Args&) = nullptr;
  void (*gemm_u8s8)(const GemmU8S8Args&) = nullptr;  // x86 only; null: no byte kernels (int16 only)
  void (*gemm_f32)(const GemmF32Args&) = nullptr;
  void (*requant_onnx_u8)(const RequantArgs&) = nullptr;
  void (*requant_onnx_i8)(const RequantArgs&) = nullptr;
  void (*max_pool_u8)(const MaxPoolArgs&) = nullptr;
  void (*max_pool_i8)(const MaxPoolArgs&) = nullptr;
  void (*max_pool_i16)(const MaxPoolArgs&) = nullptr;
  void (*max_pool_f32)(const MaxPoolArgs&) = nullptr;
  void (*max_pool_sums_i32)(const PoolSumsArgs&) = nullptr;
  void (*quantize_u8)(const QuantizeArgs&) = nullptr;
  void (*quantize_i8)(const QuantizeArgs&) = nullptr;
  void (*quantize_u16)(const QuantizeArgs&) = nullptr;
  void (*quantize_i16)(const QuantizeArgs&) = nullptr;
};

}  // namespace qnn::simd
// ---- end qnn/kernels/simd/kernel_table.hpp ---------------------------------------------------------

#if defined(QNN_DYNAMIC_DISPATCH)
#include <string_view>
#include <vector>
#elif !defined(QNN_NO_SIMD)
// ---- begin qnn/kernels/simd/table-inl.hpp ----------------------------------------------------------
// The kernel table of one Highway target: the only place the per-target kernels are named. The
// header-only build includes it once (the static target, kernels/dispatch.hpp); the run-time
// dispatch build (src/dispatch.cpp) has hwy/foreach_target.h re-include it once per x86 target
// (the two-guard -inl idiom), so both builds fill their tables with this one function.
//
// SCALAR and EMU128 get no SIMD kernels (gemm-inl.hpp says why): their table is nullptr, which the
// drivers read as "run the portable loops".

#if defined(QNN_KERNELS_SIMD_TABLE_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef QNN_KERNELS_SIMD_TABLE_INL_H_
#undef QNN_KERNELS_SIMD_TABLE_INL_H_
#else
#define QNN_KERNELS_SIMD_TABLE_INL_H_
#endif

#include "hwy/highway.h"
// ---- begin qnn/kernels/simd/gemm-inl.hpp -----------------------------------------------------------
// Per-target GEMM tiles and epilogues (the SIMD half of the CPU GEMM; packing, blocking and
// threads are in kernels/cpu/). Written with Highway and re-included once per target by the
// dynamic-dispatch build (the two-guard -inl idiom), compiled once for the static target otherwise.
//
// Tiles: MR broadcast rows × NV lane panels, accumulators held in registers across the whole K:
// int16 6 × 2, fp32 4 × 3 and u8×s8 bytes 4 × 2 (see gemm_block_i16/f32/u8s8). The same shapes are
// used on every target, so the packed layouts only depend on the lane count.
//
// fp32 tiles also apply the output stage: each sum starts from its bias (so with FMA every output
// is the reference's k-ascending FMA chain, bit for bit), is clamped in registers and stored to the
// layer's output (GemmF32Args).
//
// int16 tiles use ReorderWidenMulAccumulate (x86: _mm*_madd_epi16): each int32 lane adds
// a(2q)·b(2q) + a(2q+1)·b(2q+1), exact for operands in [−255, 255] (no saturation: only
// (−32768)² overflows a pair), so the int32 accumulator equals the reference's sum bit for bit as
// long as the reference's overflow bound holds (it is checked when the layer is prepared).
//
// Epilogue (onnx_float policy): f = float(acc + bias)·m, clamp to [lo−zp, hi−zp], round half to
// even, + zp: the operations of OnnxFloat::apply, so the result equals the scalar reference bit
// for bit. The rounding is done by adding 1.5·2^23 (see requant_vec), which rounds like cvtps2dq
// under the default MXCSR.

#if defined(QNN_KERNELS_SIMD_GEMM_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef QNN_KERNELS_SIMD_GEMM_INL_H_
#undef QNN_KERNELS_SIMD_GEMM_INL_H_
#else
#define QNN_KERNELS_SIMD_GEMM_INL_H_
#endif

#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "hwy/highway.h"

// Highway's SCALAR/EMU128 targets cannot repartition int32 lanes into int16 pairs; qnn runs its
// portable loops there instead (kernels/cpu/gemm.hpp), so nothing is compiled for them.
#if HWY_TARGET != HWY_SCALAR && HWY_TARGET != HWY_EMU128
HWY_BEFORE_NAMESPACE();
namespace qnn::simd {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

inline std::size_t lanes_i32() {
  const hn::ScalableTag<std::int32_t> d;
  return hn::Lanes(d);
}

// How an integer tile multiplies one k-step: a lane vector (NR lanes × kStep values) against a
// broadcast word, added into each int32 lane. int16 pairs: one madd.
template <class Args>
struct IntStep;

template <>
struct IntStep<GemmI16Args> {
  using Lane = std::int16_t;
  static constexpr int kPerStep = 2;
  static constexpr bool kPaired = false;
  template <class D32, class VL>
  static HWY_INLINE hn::Vec<D32> mul_add(D32 d32, VL l, hn::Vec<D32> b, hn::Vec<D32> acc, hn::Vec<D32>& acc1) {
    const hn::Repartition<std::int16_t, D32> d16;
    return hn::ReorderWidenMulAccumulate(d32, l, hn::BitCast(d16, b), acc, acc1);
  }
};

#if HWY_ARCH_X86
// _mm*_maddubs_epi16 — int16 lane i = sat16(u[2i]·s[2i] + u[2i+1]·s[2i+1]), u unsigned bytes,
// s signed — which Highway 1.0.3 does not offer. Every x86 target qnn compiles has it (SSSE3 on).
template <class D16, class V8>
HWY_INLINE hn::Vec<D16> maddubs(D16 /*d16*/, V8 u, V8 s) {
#if HWY_TARGET <= HWY_AVX3
  return hn::Vec<D16>{_mm512_maddubs_epi16(u.raw, s.raw)};
#elif HWY_TARGET == HWY_AVX2
  return hn::Vec<D16>{_mm256_maddubs_epi16(u.raw, s.raw)};
#else
  return hn::Vec<D16>{_mm_maddubs_epi16(u.raw, s.raw)};
#endif
}

// Bytes: a k-step is a quad; maddubs then a madd against ones add it into each int32 lane (ORT's
// and oneDNN's AVX2 u8s8 sequence), bit for bit the int16 kernel's sum when no pair saturates.
// kLanesUnsigned: which operand holds the unsigned bytes, fixed per block. kPaired: two quads'
// maddubs results are added in int16 before one madd widens them (GemmU8S8Args::paired).
template <bool kLanesUnsigned, bool kPaired>
struct U8S8Block : GemmU8S8Args {
  explicit U8S8Block(const GemmU8S8Args& a) : GemmU8S8Args(a) {}
};

template <bool kLanesUnsigned, bool kPairedQuads>
struct IntStep<U8S8Block<kLanesUnsigned, kPairedQuads>> {
  using Lane = std::uint8_t;
  static constexpr int kPerStep = 4;
  static constexpr bool kPaired = kPairedQuads;
  template <class D16, class VL, class V32>
  static HWY_INLINE hn::Vec<D16> pairs(D16 d16, VL l, V32 b) {
    const auto bb = hn::BitCast(hn::Repartition<std::uint8_t, D16>(), b);
    return kLanesUnsigned ? maddubs(d16, l, bb) : maddubs(d16, bb, l);
  }
  template <class D32, class VL>
  static HWY_INLINE hn::Vec<D32> mul_add(D32 d32, VL l, hn::Vec<D32> b, hn::Vec<D32> acc, hn::Vec<D32>& acc1) {
    const hn::Repartition<std::int16_t, D32> d16;
    return hn::ReorderWidenMulAccumulate(d32, pairs(d16, l, b), hn::Set(d16, std::int16_t{1}), acc, acc1);
  }
  // Quads q (l0, b0) and q + 1 (l1, b1).
  template <class D32, class VL>
  static HWY_INLINE hn::Vec<D32> mul_add2(D32 d32, VL l0, hn::Vec<D32> b0, VL l1, hn::Vec<D32> b1, hn::Vec<D32> acc,
                                          hn::Vec<D32>& acc1) {
    const hn::Repartition<std::int16_t, D32> d16;
    const auto sum = hn::Add(pairs(d16, l0, b0), pairs(d16, l1, b1));
    return hn::ReorderWidenMulAccumulate(d32, sum, hn::Set(d16, std::int16_t{1}), acc, acc1);
  }
};
#endif  // HWY_ARCH_X86

// The integer tile, for either layout (IntStep).
template <int MR, int NV, class Args, class Lane = typename IntStep<Args>::Lane>
HWY_INLINE void tile(const Args& a, std::int64_t s0, std::int64_t p0) {
  using Step = IntStep<Args>;
  const hn::ScalableTag<std::int32_t> d32;
  const hn::Repartition<Lane, decltype(d32)> dl;
  using V32 = hn::Vec<decltype(d32)>;
  const std::int64_t nr = static_cast<std::int64_t>(hn::Lanes(d32));
  V32 acc[MR][NV];
  V32 acc1[MR][NV];  // ReorderWidenMulAccumulate's second sum (unused on x86)
  for (int s = 0; s < MR; ++s)
    for (int v = 0; v < NV; ++v) {
      acc[s][v] = hn::Zero(d32);
      acc1[s][v] = hn::Zero(d32);
    }
  const Lane* HWY_RESTRICT lp[NV];
  for (int v = 0; v < NV; ++v) lp[v] = a.lanes + (p0 + v) * a.panel_stride;
  const std::int32_t* HWY_RESTRICT bp[MR];
  for (int s = 0; s < MR; ++s) bp[s] = a.bcast + (s0 + s) * a.bcast_stride;
  std::int64_t q = 0;
  if constexpr (Step::kPaired) {
    for (; q + 2 <= a.ksteps; q += 2) {
      hn::Vec<decltype(dl)> l0[NV], l1[NV];
      for (int v = 0; v < NV; ++v) {
        l0[v] = hn::Load(dl, lp[v] + q * Step::kPerStep * nr);
        l1[v] = hn::Load(dl, lp[v] + (q + 1) * Step::kPerStep * nr);
      }
      for (int s = 0; s < MR; ++s) {
        const V32 b0 = hn::Set(d32, bp[s][q]), b1 = hn::Set(d32, bp[s][q + 1]);
        for (int v = 0; v < NV; ++v) acc[s][v] = Step::mul_add2(d32, l0[v], b0, l1[v], b1, acc[s][v], acc1[s][v]);
      }
    }
  }
  for (; q < a.ksteps; ++q) {
    hn::Vec<decltype(dl)> l[NV];
    for (int v = 0; v < NV; ++v) l[v] = hn::Load(dl, lp[v] + q * Step::kPerStep * nr);
    for (int s = 0; s < MR; ++s) {
      const V32 b = hn::Set(d32, bp[s][q]);
      for (int v = 0; v < NV; ++v) acc[s][v] = Step::mul_add(d32, l[v], b, acc[s][v], acc1[s][v]);
    }
  }
  // Locals: through `a` the compiler would reload out and out_stride after every store (they might
  // alias the output), which costs at small K (conv1: 5 k-pairs).
  std::int32_t* HWY_RESTRICT out = a.out + s0 * a.out_stride + p0 * nr;
  const std::int64_t out_stride = a.out_stride;
  for (int s = 0; s < MR; ++s)
    for (int v = 0; v < NV; ++v)
      hn::StoreU(hn::RearrangeToOddPlusEven(acc[s][v], acc1[s][v]), d32, out + s * out_stride + v * nr);
}

// std::min(std::max(v, lo), hi) — the reference's clamp — NaN and signed zeros included. x86's
// maxps/minps return their second operand whenever the comparison is false (a NaN, or ±0 against
// ∓0), and max(lo, v) = (lo > v ? lo : v), min(hi, w) = (hi < w ? hi : w) are then exactly
// std::max(v, lo) and std::min(w, hi): one instruction each. Highway leaves those cases of Max/Min
// unspecified, so other architectures compare and select.
template <class D, class V>
HWY_INLINE V clamp_like_std(D d, V v, V lo, V hi) {
  if constexpr (HWY_ARCH_X86) {
    (void)d;
    return hn::Min(hi, hn::Max(lo, v));
  } else {
    const V w = hn::IfThenElse(hn::Lt(v, lo), lo, v);
    return hn::IfThenElse(hn::Lt(hi, w), hi, w);
  }
}

template <int MR, int NV>
HWY_INLINE void tile(const GemmF32Args& a, std::int64_t s0, std::int64_t p0) {
  const hn::ScalableTag<float> df;
  using VF = hn::Vec<decltype(df)>;
  const std::int64_t nr = static_cast<std::int64_t>(hn::Lanes(df));
  VF acc[MR][NV];
  for (int s = 0; s < MR; ++s)
    for (int v = 0; v < NV; ++v)
      acc[s][v] = !a.bias           ? hn::Zero(df)
                  : a.bias_per_lane ? hn::LoadU(df, a.bias + (p0 + v) * nr)
                                    : hn::Set(df, a.bias[s0 + s]);
  const float* HWY_RESTRICT lp[NV];
  for (int v = 0; v < NV; ++v) lp[v] = a.lanes + (p0 + v) * a.panel_stride;
  const float* HWY_RESTRICT bp[MR];
  for (int s = 0; s < MR; ++s) bp[s] = a.bcast + (s0 + s) * a.bcast_stride;
  for (std::int64_t k = 0; k < a.ksteps; ++k) {
    VF l[NV];
    for (int v = 0; v < NV; ++v) l[v] = hn::Load(df, lp[v] + k * nr);
    for (int s = 0; s < MR; ++s) {
      const VF b = hn::Set(df, bp[s][k]);
      for (int v = 0; v < NV; ++v) acc[s][v] = hn::MulAdd(l[v], b, acc[s][v]);
    }
  }
  const VF lo = hn::Set(df, a.lo), hi = hn::Set(df, a.hi);
  float* HWY_RESTRICT out = a.out + s0 * a.out_stride + p0 * nr;  // locals: see tile(GemmI16Args)
  const std::int64_t out_stride = a.out_stride;
  for (int s = 0; s < MR; ++s)
    for (int v = 0; v < NV; ++v) hn::StoreU(clamp_like_std(df, acc[s][v], lo, hi), df, out + s * out_stride + v * nr);
}

// The tile of MR rows × the NV panels left at the end of a row of tiles (0 < NV < the full width).
template <int MR, int NV, class Args>
HWY_INLINE void last_panels(const Args& a, std::int64_t s, std::int64_t p) {
  if constexpr (NV > 0) {
    if (a.panels - p == NV) return tile<MR, NV>(a, s, p);
    last_panels<MR, NV - 1>(a, s, p);
  }
}

// MR rows × all the panels of a block, NV panels at a time.
template <int MR, int NV, class Args>
HWY_INLINE void tile_rows(const Args& a, std::int64_t s) {
  std::int64_t p = 0;
  for (; p + NV <= a.panels; p += NV) tile<MR, NV>(a, s, p);
  last_panels<MR, NV - 1>(a, s, p);
}

// The R < MR rows left at the end of a block, as tiles of about the same accumulator count MR·NV
// (R rows × MR·NV/R panels): a short tile of the full width would have too few independent sums to
// cover the FMA latency (1 × 3: three sums, each waiting on its last FMA), which is the whole GEMM
// when the broadcast operand has one row (an FC layer at batch 1). At most kMaxTilePanels panels:
// panels are K·nr elements apart, a multiple of 4 KiB for many K (fc1: K = 2304), so all the panels
// of a tile can fall in the same L1 set, and an 8-way L1 keeps at most 8 such streams (a 1 × 12
// tile made fc1 at batch 1 slower than 1 × 3).
inline constexpr int kMaxTilePanels = 6;

template <int R, int kAcc, class Args>
HWY_INLINE void last_rows(const Args& a, std::int64_t s) {
  if constexpr (R > 0) {
    if (a.rows - s == R) return tile_rows<R, (kAcc / R < kMaxTilePanels ? kAcc / R : kMaxTilePanels)>(a, s);
    last_rows<R - 1, kAcc>(a, s);
  }
}

// Rows in tiles of MR, panels in groups of NV; the rest as above.
template <int MR, int NV, class Args>
HWY_INLINE void gemm_block(const Args& a) {
  std::int64_t s = 0;
  for (; s + MR <= a.rows; s += MR) tile_rows<MR, NV>(a, s);
  last_rows<MR - 1, MR * NV>(a, s);
}

// C[s][l] for s in [0, rows), l in [0, panels·nr): the int32 sums (the float outputs) of one block.
// Both tiles hold 12 accumulators: with 8 (4 × 2) the FMAs of one k-step barely cover the FMA
// latency on two pipes, and the fp32 kernel ran at 70–78 % of the FMA peak (docs/benchmarks.md).
// int16 6 × 2: each k-step loads the 2 lane vectors once for 12 madds (4 × 2 already ran at about
// 95 % of the madd peak, so this gained only 1–2 %). fp32 4 × 3 (12 accumulators + 2 lane vectors
// + 1 broadcast, the third lane vector read as an FMA memory operand): as fast as 6 × 2 on full
// tiles, and the Fashion-MNIST CNN's shapes (32 and 64 output channels, 18, 75 and 15 panels) fill
// it exactly, where 6 × 2 left a 4 × 2 tile in every 16 rows. Each sum still adds its k terms in
// order, so the results do not depend on the tile shape. Bytes 4 × 2: each product needs a
// temporary and the ones vector besides the accumulators, so 6 × 2 needs 17 of AVX2's 16 registers;
// it measured the same as 4 × 2 (within this VM's noise) on the Fashion-MNIST layers and 1024³.
inline void gemm_block_i16(const GemmI16Args& a) { gemm_block<6, 2>(a); }
#if HWY_ARCH_X86
inline void gemm_block_u8s8(const GemmU8S8Args& a) {
  if (a.paired) {
    if (a.lanes_unsigned) return gemm_block<4, 2>(U8S8Block<true, true>(a));
    return gemm_block<4, 2>(U8S8Block<false, true>(a));
  }
  if (a.lanes_unsigned) return gemm_block<4, 2>(U8S8Block<true, false>(a));
  gemm_block<4, 2>(U8S8Block<false, false>(a));
}
#endif
inline void gemm_block_f32(const GemmF32Args& a) { gemm_block<4, 3>(a); }

// One vector of onnx_float results (docs/numerics.md §4.1), int32 lanes within [lo, hi].
// lo, hi and zp are 8-bit values, so after the clamp |f| < 2^9 (2^22 would do), and
// f + 1.5·2^23 lies in [2^23, 2^24) where the float spacing is 1:
// the addition rounds f half to even, like cvtps2dq under the default MXCSR, and leaves
// round(f) in the low mantissa bits. Subtracting the constant's bits less zp then gives
// round(f) + zp in one integer op; NearestInt would also fix up out-of-range inputs, 4 more
// instructions per vector on AVX2 that the clamp makes useless.
template <class D32, class DF>
HWY_INLINE hn::Vec<D32> requant_vec(D32 d32, DF df, hn::Vec<D32> acc, hn::Vec<D32> bias, hn::Vec<DF> m,
                                    hn::Vec<DF> flo, hn::Vec<DF> fhi, hn::Vec<DF> magic, hn::Vec<D32> magic_less_zp) {
  const auto f = hn::Min(hn::Max(hn::Mul(hn::ConvertTo(df, hn::Add(acc, bias)), m), flo), fhi);
  return hn::Sub(hn::BitCast(d32, hn::Add(f, magic)), magic_less_zp);
}

inline constexpr std::size_t kMaxLanes32 = HWY_MAX_BYTES / sizeof(std::int32_t);

// The rows of a block. kColBias / kColMult: bias / factor indexed by column (FC) rather than one
// per row (conv, or a per-tensor factor); decided once per block, not per vector.
//
// Four vectors are narrowed together: [lo, hi] lies inside TOut's range (output_range), so
// keeping the low half of each lane is exact, and ConcatEven keeps lane order on every target.
// That is 3 ConcatEvens (4 instructions each on AVX2) per 4 vectors instead of one DemoteTo
// (4 instructions on AVX2) per vector.
template <class TOut, bool kColBias, bool kColMult>
HWY_INLINE void requant_rows(const RequantArgs& a) {
  const hn::ScalableTag<std::int32_t> d32;
  const hn::Rebind<float, decltype(d32)> df;
  const hn::Repartition<std::int16_t, decltype(d32)> d16;
  const hn::Repartition<TOut, decltype(d32)> d8;
  const hn::Rebind<TOut, decltype(d32)> d8q;  // one vector's results
  const std::int64_t n = static_cast<std::int64_t>(hn::Lanes(d32));
  constexpr float kMagic = 12582912.0f;  // 1.5·2^23, bits 0x4B400000
  const auto magic = hn::Set(df, kMagic);
  const auto magic_less_zp = hn::Set(d32, std::int32_t{0x4B400000} - a.zp);
  const auto flo = hn::Set(df, static_cast<float>(a.lo - a.zp));
  const auto fhi = hn::Set(df, static_cast<float>(a.hi - a.zp));
  const std::int32_t* col_bias = kColBias ? a.bias + a.channel0 : nullptr;
  const float* col_mult = kColMult ? a.mult + a.channel0 : nullptr;
  for (std::int64_t r = 0; r < a.rows; ++r) {
    const std::int32_t* acc = a.acc + r * a.acc_stride;
    TOut* out = static_cast<TOut*>(a.out) + r * a.out_stride;
    const std::int64_t row_ch = a.channel0 + r;
    const auto vb = hn::Set(d32, a.channel_is_row && a.bias ? a.bias[row_ch] : 0);
    const auto vm = hn::Set(df, a.mult[a.channel_is_row && a.per_channel ? row_ch : 0]);
    const auto quant = [&](std::int64_t c) HWY_ATTR {
      return requant_vec(d32, df, hn::LoadU(d32, acc + c), kColBias ? hn::LoadU(d32, col_bias + c) : vb,
                         kColMult ? hn::LoadU(df, col_mult + c) : vm, flo, fhi, magic, magic_less_zp);
    };
    std::int64_t c = 0;
    for (; c + 4 * n <= a.cols; c += 4 * n) {
      const auto q01 = hn::ConcatEven(d16, hn::BitCast(d16, quant(c + n)), hn::BitCast(d16, quant(c)));
      const auto q23 = hn::ConcatEven(d16, hn::BitCast(d16, quant(c + 3 * n)), hn::BitCast(d16, quant(c + 2 * n)));
      hn::StoreU(hn::ConcatEven(d8, hn::BitCast(d8, q23), hn::BitCast(d8, q01)), d8, out + c);
    }
    for (; c + n <= a.cols; c += n) hn::StoreU(hn::DemoteTo(d8q, quant(c)), d8q, out + c);
    if (c < a.cols && a.cols >= n) {
      // The last vector moved back to end at cols: it rewrites some outputs with the values they
      // already have (conv1's pooled rows, 196 wide, would otherwise each end in the copy below).
      c = a.cols - n;
      hn::StoreU(hn::DemoteTo(d8q, quant(c)), d8q, out + c);
    } else if (c < a.cols) {  // a row narrower than a vector: one over copies padded with zeros
      const std::size_t rem = static_cast<std::size_t>(a.cols - c);
      HWY_ALIGN std::int32_t t_acc[kMaxLanes32] = {};
      HWY_ALIGN std::int32_t t_bias[kMaxLanes32] = {};
      HWY_ALIGN float t_mult[kMaxLanes32] = {};
      HWY_ALIGN TOut t_out[kMaxLanes32];
      std::copy_n(acc + c, rem, t_acc);
      if (kColBias) std::copy_n(col_bias + c, rem, t_bias);
      if (kColMult) std::copy_n(col_mult + c, rem, t_mult);
      const auto q = requant_vec(d32, df, hn::Load(d32, t_acc), kColBias ? hn::Load(d32, t_bias) : vb,
                                 kColMult ? hn::Load(df, t_mult) : vm, flo, fhi, magic, magic_less_zp);
      hn::StoreU(hn::DemoteTo(d8q, q), d8q, t_out);
      std::copy_n(t_out, rem, out + c);
    }
  }
}

// onnx_float requantization of an int32 block into uint8 or int8 (docs/numerics.md §4.1).
template <class TOut>
HWY_INLINE void requant_onnx(const RequantArgs& a) {
  const bool col_bias = !a.channel_is_row && a.bias;
  const bool col_mult = !a.channel_is_row && a.per_channel;
  if (col_bias && col_mult) return requant_rows<TOut, true, true>(a);
  if (col_bias) return requant_rows<TOut, true, false>(a);
  if (col_mult) return requant_rows<TOut, false, true>(a);
  requant_rows<TOut, false, false>(a);
}

inline void requant_onnx_u8(const RequantArgs& a) { requant_onnx<std::uint8_t>(a); }
inline void requant_onnx_i8(const RequantArgs& a) { requant_onnx<std::int8_t>(a); }

}  // namespace HWY_NAMESPACE
}  // namespace qnn::simd
HWY_AFTER_NAMESPACE();
#endif  // HWY_TARGET != HWY_SCALAR && HWY_TARGET != HWY_EMU128

#endif  // include guard
// ---- end qnn/kernels/simd/gemm-inl.hpp -------------------------------------------------------------
// ---- begin qnn/kernels/simd/pool-inl.hpp -----------------------------------------------------------
// Per-target max pooling (the SIMD half; geometry checks and threads are in kernels/cpu/pool.hpp).
// Re-included once per target like gemm-inl.hpp.
//
// Each output row is the running maximum of its window's input rows, each of those first reduced
// across the window's columns: the taps are visited row by row, columns in order, which is the
// reference's order (ref::max_pool). A row whose windows reach into the padding is first copied
// into a buffer framed by the identity of the maximum (lowest() for integers, −∞ for floats), so
// padded taps need no masks: max(v, identity) = v. Other rows are read in place.
//
// Bit-exactness: for integers the maximum does not depend on the order. For floats the reference
// keeps the first of equal values (−0 vs +0) and lets NaN win, the last NaN in tap order; the
// combine below is that same rule (`v > best || v != v ? v : best`), and the rule is associative
// over consecutive runs of taps, so reducing columns first and rows second gives the reference's
// result bit for bit — NaN payloads and signed zeros included. Highway's Max leaves both of those
// unspecified, so floats do not use it.

#if defined(QNN_KERNELS_SIMD_POOL_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef QNN_KERNELS_SIMD_POOL_INL_H_
#undef QNN_KERNELS_SIMD_POOL_INL_H_
#else
#define QNN_KERNELS_SIMD_POOL_INL_H_
#endif

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <limits>

#include "hwy/highway.h"

#if HWY_TARGET != HWY_SCALAR && HWY_TARGET != HWY_EMU128
HWY_BEFORE_NAMESPACE();
namespace qnn::simd {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

template <class T>
HWY_INLINE T max_tap(T best, T v) {
  if constexpr (hwy::IsFloat<T>())
    return (v > best || v != v) ? v : best;
  else
    return v > best ? v : best;
}

template <class D, class V>
HWY_INLINE V max_tap(D, V best, V v) {
  if constexpr (hwy::IsFloat<hn::TFromD<D>>())
    return hn::IfThenElse(hn::Or(v > best, hn::IsNaN(v)), v, best);
  else
    return hn::Max(best, v);
}

// dst[ox] = max over kx of row[ox·sw + kx·dw] for ox < width (a multiple of N), combined into the
// running maximum already in dst when `accumulate` (the rows before come first in tap order).
template <class D, class T = hn::TFromD<D>>
HWY_INLINE void max_pool_columns(D d, const MaxPoolArgs& a, std::int64_t width, const T* row, T* dst,
                                 bool accumulate) {
  using V = hn::Vec<D>;
  const std::int64_t n = static_cast<std::int64_t>(hn::Lanes(d));
  const auto store = [&](V v, std::int64_t ox) {
    hn::StoreU(accumulate ? max_tap(d, hn::LoadU(d, dst + ox), v) : v, d, dst + ox);
  };
  if (a.sw == 1) {
    for (std::int64_t ox = 0; ox < width; ox += n) {
      V v = hn::LoadU(d, row + ox);
      for (std::int64_t kx = 1; kx < a.kw; ++kx) v = max_tap(d, v, hn::LoadU(d, row + ox + kx * a.dw));
      store(v, ox);
    }
  } else if (a.sw == 2) {
    for (std::int64_t ox = 0; ox < width; ox += n) {
      const T* base = row + 2 * ox;
      V v, even, odd;
      if (a.dw == 1) {  // one interleaved load serves taps kx and kx + 1
        hn::LoadInterleaved2(d, base, even, odd);
        v = even;
        if (a.kw > 1) v = max_tap(d, v, odd);
        for (std::int64_t kx = 2; kx < a.kw; kx += 2) {
          hn::LoadInterleaved2(d, base + kx, even, odd);
          v = max_tap(d, v, even);
          if (kx + 1 < a.kw) v = max_tap(d, v, odd);
        }
      } else {
        hn::LoadInterleaved2(d, base, v, odd);
        for (std::int64_t kx = 1; kx < a.kw; ++kx) {
          hn::LoadInterleaved2(d, base + kx * a.dw, even, odd);
          v = max_tap(d, v, even);
        }
      }
      store(v, ox);
    }
  } else {
    for (std::int64_t ox = 0; ox < a.ow; ++ox) {
      const T* tap = row + ox * a.sw;
      T b = tap[0];
      for (std::int64_t kx = 1; kx < a.kw; ++kx) b = max_tap(b, tap[kx * a.dw]);
      dst[ox] = accumulate ? max_tap(dst[ox], b) : b;
    }
  }
}

// How far past its first element the column pass of one row reads: the last vector's lanes reach
// past the row (only the discarded outputs beyond ow use them).
inline std::int64_t max_pool_row_reach(const MaxPoolArgs& a, std::int64_t width) {
  if (a.sw == 1) return width + (a.kw - 1) * a.dw;
  if (a.sw == 2) return 2 * width + (a.kw - 1) * a.dw;
  return (a.ow - 1) * a.sw + (a.kw - 1) * a.dw + 1;
}

// Pools whose windows tile each row in pairs (max_pool_pairs_tile_rows: w = 2·ow) reduce the columns
// of a block of planes as one flat array — input elements 2j and 2j + 1 are then always one window's
// two taps in one row — and then the rows: each output row is the running maximum of the reduced
// rows its window covers. The two taps of a row are consecutive in the reference's order, so the
// argument above holds and floats stay bit for bit. The general path below spends an interleaved
// load of 2·N elements on every input row however short it is (14 and 6 outputs on the
// Fashion-MNIST CNN's pools); here an output row costs one plain load per window row.
template <class D, class T = hn::TFromD<D>>
HWY_INLINE void max_pool_pair_planes(D d, const MaxPoolArgs& a, T identity) {
  static_assert(HWY_MAX_BYTES / sizeof(T) <= 64, "the scratch's over-read slack is 64 elements");
  using V = hn::Vec<D>;
  const std::int64_t n = static_cast<std::int64_t>(hn::Lanes(d));
  const std::int64_t width = (a.ow + n - 1) / n * n;
  const std::int64_t block = max_pool_pair_block(a);
  T* cols = static_cast<T*>(a.scratch);
  T* acc = cols + block * a.h * a.ow + 64;
  T* y_end = static_cast<T*>(a.y) + a.planes * a.oh * a.ow;
  for (std::int64_t p0 = 0; p0 < a.planes; p0 += block) {
    const std::int64_t planes = std::min(block, a.planes - p0);
    const std::int64_t count = planes * a.h * a.ow;
    const T* x = static_cast<const T*>(a.x) + p0 * a.h * a.w;
    std::int64_t j = 0;
    for (; j + n <= count; j += n) {
      V even, odd;
      hn::LoadInterleaved2(d, x + 2 * j, even, odd);
      hn::StoreU(max_tap(d, even, odd), d, cols + j);
    }
    for (; j < count; ++j) cols[j] = max_tap(x[2 * j], x[2 * j + 1]);
    std::fill(cols + count, cols + count + 64, identity);  // what the last row's vectors over-read
    T* y = static_cast<T*>(a.y) + p0 * a.oh * a.ow;
    if (a.kh == 2 && a.sh == 2 && a.dh == 1 && a.pad_top == 0 && a.h == 2 * a.oh) {
      // 2×2 windows tiling the planes: output row r of the block is the maximum of reduced rows 2r
      // and 2r + 1, whatever plane it is in (the common case gets a loop with no bounds to test).
      for (std::int64_t r = 0; r < planes * a.oh; ++r) {
        const T* top = cols + 2 * r * a.ow;
        T* out = y + r * a.ow;
        T* dst = out + width <= y_end ? out : acc;
        for (std::int64_t c = 0; c < a.ow; c += n)
          hn::StoreU(max_tap(d, hn::LoadU(d, top + c), hn::LoadU(d, top + a.ow + c)), d, dst + c);
        if (dst == acc) std::memcpy(out, acc, static_cast<std::size_t>(a.ow) * sizeof(T));
      }
      continue;
    }
    for (std::int64_t p = 0; p < planes; ++p) {
      for (std::int64_t oy = 0; oy < a.oh; ++oy) {
        T* out = y + (p * a.oh + oy) * a.ow;
        // Lanes past ow land on later outputs of this call, written afterwards; past its end, not.
        T* dst = out + width <= y_end ? out : acc;
        for (std::int64_t c = 0; c < a.ow; c += n) {
          V best = hn::Set(d, identity);
          for (std::int64_t ky = 0; ky < a.kh; ++ky) {
            const std::int64_t iy = oy * a.sh - a.pad_top + ky * a.dh;
            if (iy >= 0 && iy < a.h) best = max_tap(d, best, hn::LoadU(d, cols + (p * a.h + iy) * a.ow + c));
          }
          hn::StoreU(best, d, dst + c);
        }
        if (dst == acc) std::memcpy(out, acc, static_cast<std::size_t>(a.ow) * sizeof(T));
      }
    }
  }
}

template <class T>
HWY_INLINE void max_pool_planes(const MaxPoolArgs& a) {
  const hn::ScalableTag<T> d;
  const T identity = hwy::IsFloat<T>() ? -std::numeric_limits<T>::infinity() : std::numeric_limits<T>::lowest();
  if (max_pool_pairs_tile_rows(a)) return max_pool_pair_planes(d, a, identity);
  const std::int64_t n = static_cast<std::int64_t>(hn::Lanes(d));
  const std::int64_t width = (a.ow + n - 1) / n * n;
  const std::int64_t row_cap = a.ow + 64;  // as max_pool_scratch_elems
  const std::int64_t framed = row_cap * std::max<std::int64_t>(a.sw, 2) + (a.kw - 1) * a.dw + a.pad_left + a.w;
  T* row = static_cast<T*>(a.scratch);
  T* acc = row + framed;
  std::fill(row, row + framed, identity);
  std::fill(acc, acc + row_cap, identity);
  // An input row is read in place when no valid output's window leaves it (no framing needed) and
  // the over-reach of the last vector stays inside this call's input; likewise an output row is
  // written in place when its whole last vector lies inside this call's output (the lanes past ow
  // land on later outputs, which are written afterwards).
  const bool in_row = a.pad_left == 0 && (a.ow - 1) * a.sw + (a.kw - 1) * a.dw < a.w;
  const std::int64_t reach = max_pool_row_reach(a, width);
  const T* x_end = static_cast<const T*>(a.x) + a.planes * a.h * a.w;
  T* y_end = static_cast<T*>(a.y) + a.planes * a.oh * a.ow;
  for (std::int64_t p = 0; p < a.planes; ++p) {
    const T* x = static_cast<const T*>(a.x) + p * a.h * a.w;
    T* y = static_cast<T*>(a.y) + p * a.oh * a.ow;
    for (std::int64_t oy = 0; oy < a.oh; ++oy) {
      T* out = y + oy * a.ow;
      T* dst = out + width <= y_end ? out : acc;
      bool first = true;
      for (std::int64_t ky = 0; ky < a.kh; ++ky) {
        const std::int64_t iy = oy * a.sh - a.pad_top + ky * a.dh;
        if (iy < 0 || iy >= a.h) continue;
        const T* src = x + iy * a.w;
        if (!in_row || src + reach > x_end) {
          std::memcpy(row + a.pad_left, src, static_cast<std::size_t>(a.w) * sizeof(T));
          src = row;
        }
        max_pool_columns(d, a, width, src, dst, !first);
        first = false;
      }
      if (dst == acc) std::memcpy(out, acc, static_cast<std::size_t>(a.ow) * sizeof(T));
    }
  }
}

// PoolSumsArgs: the kh window rows are reduced first, vector by vector at the same columns, then for
// kw = 2 the pairs of the result (one deinterleave per output vector instead of one per window row).
// A row's last vector is moved back to end at ow (recomputing outputs already written, with the
// same values) so that nothing is written past the pooled row; a row narrower than a vector (ow = 6
// on the Fashion-MNIST CNN's conv2) is one vector, its loads reaching past the windows and its lanes
// past ow stored where out_room allows (later outputs, rewritten afterwards), else copied out.
template <int KW, int KH>  // KH 0: a.kh
HWY_INLINE void max_pool_sums_window(const PoolSumsArgs& a) {
  const hn::ScalableTag<std::int32_t> d;
  const std::int64_t n = static_cast<std::int64_t>(hn::Lanes(d));
  const std::int64_t kh = KH > 0 ? KH : a.kh, w = a.w;
  const auto rows_max = [&](const std::int32_t* src) HWY_ATTR {
    auto best = hn::LoadU(d, src);
    for (std::int64_t ky = 1; ky < kh; ++ky) best = hn::Max(best, hn::LoadU(d, src + ky * w));
    return best;
  };
  const auto pooled = [&](const std::int32_t* src, std::int64_t c) HWY_ATTR {
    if constexpr (KW == 1) {
      return rows_max(src + c);
    } else {
      const auto lo = rows_max(src + 2 * c), hi = rows_max(src + 2 * c + n);
      return hn::Max(hn::ConcatEven(d, hi, lo), hn::ConcatOdd(d, hi, lo));
    }
  };
  HWY_ALIGN std::int32_t narrow[HWY_MAX_BYTES / sizeof(std::int32_t)];
  for (std::int64_t s = 0; s < a.rows; ++s)
    for (std::int64_t grp = 0; grp < a.groups; ++grp) {
      const std::int32_t* src = a.acc + s * a.acc_stride + grp * kh * w;
      std::int32_t* dst = a.out + s * a.out_stride + grp * a.ow;
      if (a.ow < n) {
        if (grp * a.ow + n <= a.out_room) {
          hn::StoreU(pooled(src, 0), d, dst);
        } else {
          hn::Store(pooled(src, 0), d, narrow);
          std::copy_n(narrow, a.ow, dst);
        }
        continue;
      }
      for (std::int64_t c0 = 0; c0 < a.ow; c0 += n) {
        const std::int64_t c = std::min(c0, a.ow - n);
        hn::StoreU(pooled(src, c), d, dst + c);
      }
    }
}

inline void max_pool_sums_i32(const PoolSumsArgs& a) {
  if (a.kw == 1) return max_pool_sums_window<1, 0>(a);
  if (a.kh == 2) return max_pool_sums_window<2, 2>(a);  // 2×2: the window rows unrolled
  max_pool_sums_window<2, 0>(a);
}

inline void max_pool_u8(const MaxPoolArgs& a) { max_pool_planes<std::uint8_t>(a); }
inline void max_pool_i8(const MaxPoolArgs& a) { max_pool_planes<std::int8_t>(a); }
inline void max_pool_i16(const MaxPoolArgs& a) { max_pool_planes<std::int16_t>(a); }
inline void max_pool_f32(const MaxPoolArgs& a) { max_pool_planes<float>(a); }

}  // namespace HWY_NAMESPACE
}  // namespace qnn::simd
HWY_AFTER_NAMESPACE();
#endif  // HWY_TARGET != HWY_SCALAR && HWY_TARGET != HWY_EMU128

#endif  // include guard
// ---- end qnn/kernels/simd/pool-inl.hpp -------------------------------------------------------------
// ---- begin qnn/kernels/simd/quantize-inl.hpp -------------------------------------------------------
// Per-target QuantizeLinear, float → 8- or 16-bit integers (the SIMD half; the reference is
// numerics/quantize.hpp, and kernels/cpu/quantize.hpp decides when this runs).
// Re-included once per target like gemm-inl.hpp.
//
// The reference's operations, lane by lane: one IEEE fp32 division x / scale (not a multiply by
// 1/scale: the two differ in the last bit), NaN replaced by the lower bound, clamp to
// [qmin − zp, qmax − zp] in fp32, round half to even, + zp. Rounding uses Round (roundps with an
// explicit nearest-even immediate on SSE4 and up, so it does not depend on MXCSR) and the exact
// conversion of the now integral value; the clamp keeps every value inside int32 and the output
// type, so the saturating DemoteTo never saturates. The tail of a row runs the scalar reference.

#if defined(QNN_KERNELS_SIMD_QUANTIZE_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef QNN_KERNELS_SIMD_QUANTIZE_INL_H_
#undef QNN_KERNELS_SIMD_QUANTIZE_INL_H_
#else
#define QNN_KERNELS_SIMD_QUANTIZE_INL_H_
#endif

#include <cstdint>
#include <limits>

#include "hwy/highway.h"

#if HWY_TARGET != HWY_SCALAR && HWY_TARGET != HWY_EMU128
HWY_BEFORE_NAMESPACE();
namespace qnn::simd {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

template <class TOut>
HWY_INLINE void quantize_row(const QuantizeArgs& a) {
  const hn::ScalableTag<float> df;
  const hn::Rebind<std::int32_t, decltype(df)> d32;
  const hn::Rebind<TOut, decltype(df)> dq;
  const std::int64_t n = static_cast<std::int64_t>(hn::Lanes(df));
  const auto scale = hn::Set(df, a.scale);
  const auto lo = hn::Set(df, static_cast<float>(std::int32_t{std::numeric_limits<TOut>::min()} - a.zp));
  const auto hi = hn::Set(df, static_cast<float>(std::int32_t{std::numeric_limits<TOut>::max()} - a.zp));
  const auto zp = hn::Set(d32, a.zp);
  TOut* y = static_cast<TOut*>(a.y);
  std::int64_t i = 0;
  for (; i + n <= a.n; i += n) {
    auto v = hn::LoadU(df, a.x + i) / scale;
    v = hn::IfThenElse(hn::IsNaN(v), lo, v);
    v = hn::Min(hn::Max(v, lo), hi);
    const auto q = hn::Add(hn::ConvertTo(d32, hn::Round(v)), zp);
    hn::StoreU(hn::DemoteTo(dq, q), dq, y + i);
  }
  for (; i < a.n; ++i) y[i] = quantize_value<TOut>(a.x[i], a.scale, a.zp);
}

inline void quantize_u8(const QuantizeArgs& a) { quantize_row<std::uint8_t>(a); }
inline void quantize_i8(const QuantizeArgs& a) { quantize_row<std::int8_t>(a); }
inline void quantize_u16(const QuantizeArgs& a) { quantize_row<std::uint16_t>(a); }
inline void quantize_i16(const QuantizeArgs& a) { quantize_row<std::int16_t>(a); }

}  // namespace HWY_NAMESPACE
}  // namespace qnn::simd
HWY_AFTER_NAMESPACE();
#endif  // HWY_TARGET != HWY_SCALAR && HWY_TARGET != HWY_EMU128

#endif  // include guard
// ---- end qnn/kernels/simd/quantize-inl.hpp ---------------------------------------------------------

HWY_BEFORE_NAMESPACE();
namespace qnn::simd {
namespace HWY_NAMESPACE {

// This target's table (built on first use; call it only on a CPU that supports the target), or
// nullptr where qnn has no SIMD kernels.
inline const KernelTable* target_kernel_table() {
#if HWY_TARGET == HWY_SCALAR || HWY_TARGET == HWY_EMU128
  return nullptr;
#else
  static const KernelTable t = [] {
    KernelTable k;
    k.target = hwy::TargetName(HWY_TARGET);
    k.lanes = lanes_i32();
    k.gemm_i16 = &gemm_block_i16;
#if HWY_ARCH_X86
    k.gemm_u8s8 = &gemm_block_u8s8;
#endif
    k.gemm_f32 = &gemm_block_f32;
    k.requant_onnx_u8 = &requant_onnx_u8;
    k.requant_onnx_i8 = &requant_onnx_i8;
    k.max_pool_u8 = &max_pool_u8;
    k.max_pool_i8 = &max_pool_i8;
    k.max_pool_i16 = &max_pool_i16;
    k.max_pool_f32 = &max_pool_f32;
    k.max_pool_sums_i32 = &max_pool_sums_i32;
    k.quantize_u8 = &quantize_u8;
    k.quantize_i8 = &quantize_i8;
    k.quantize_u16 = &quantize_u16;
    k.quantize_i16 = &quantize_i16;
    return k;
  }();
  return &t;
#endif
}

}  // namespace HWY_NAMESPACE
}  // namespace qnn::simd
HWY_AFTER_NAMESPACE();

#endif  // include guard
// ---- end qnn/kernels/simd/table-inl.hpp ------------------------------------------------------------
#endif

namespace qnn::simd {

#if defined(QNN_DYNAMIC_DISPATCH)
// Defined in src/dispatch.cpp. Target names are those active_target() reports.
const KernelTable* dynamic_kernel_table();
inline const KernelTable* kernel_table() { return dynamic_kernel_table(); }

// Every target src/dispatch.cpp was compiled for, best first; "portable" last.
std::vector<std::string_view> compiled_targets();
// Those of them this CPU supports (as hwy::SupportedTargets() says, so DisableTargets and
// SetSupportedTargetsForTest apply), best first: the candidates select_target() accepts.
std::vector<std::string_view> dispatch_targets();
// Pins the target later calls use (for tests and benchmarks), or returns to the best one.
// Layers and sessions keep the panel width they packed their weights for: select before preparing
// them (a GEMM over weights packed for another width throws). Thread-safe, but a run already in
// progress may mix tables: do not select while one runs.
void select_target(std::string_view name);
void select_best_target();
#elif defined(QNN_NO_SIMD)
inline const KernelTable* kernel_table() { return nullptr; }
#else
inline const KernelTable* kernel_table() { return HWY_NAMESPACE::target_kernel_table(); }
#endif

// Name of the code path GEMMs run on ("AVX2", "AVX3", ..., or "portable").
inline const char* active_target() {
  const KernelTable* t = kernel_table();
  return t ? t->target : "portable";
}

}  // namespace qnn::simd
// ---- end qnn/kernels/dispatch.hpp ------------------------------------------------------------------

namespace qnn::cpu {

inline constexpr std::int64_t kBlockRows = 16;
inline constexpr std::int64_t kBlockPanels = 8;
inline constexpr std::int64_t kBlockPanelsF32 = 12;

// Panel width for packing: the SIMD lane count, or 8 for the portable loops.
inline std::int64_t panel_lanes() {
  const simd::KernelTable* t = simd::kernel_table();
  return t ? static_cast<std::int64_t>(t->lanes) : 8;
}

// Weights are packed once, for the panel width of the target active then. Under run-time dispatch
// another target can be selected later (simd::select_target); its kernels and scratch sizes would
// misread those panels, so the GEMM refuses them.
inline void check_panel_width(std::int64_t nr) {
  if (nr != panel_lanes())
    fail("GEMM operand packed in ", nr, "-lane panels, but the active SIMD target ", simd::active_target(),
         " uses ", panel_lanes(), ": select the target before preparing layers and sessions");
}

// The portable block kernels: the same layouts and the same integer sums as the SIMD ones.
inline void gemm_block_i16_portable(const simd::GemmI16Args& a, std::int64_t nr) {
  for (std::int64_t s = 0; s < a.rows; ++s)
    for (std::int64_t p = 0; p < a.panels; ++p) {
      const std::int16_t* lp = a.lanes + p * a.panel_stride;
      const std::int32_t* bp = a.bcast + s * a.bcast_stride;
      for (std::int64_t r = 0; r < nr; ++r) {
        std::uint32_t acc = 0;  // wraps like the SIMD lanes; the bound check keeps it exact
        for (std::int64_t q = 0; q < a.ksteps; ++q) {
          const auto w = static_cast<std::uint32_t>(bp[q]);
          const auto b0 = static_cast<std::int16_t>(w & 0xFFFFu);
          const auto b1 = static_cast<std::int16_t>(w >> 16);
          const std::int16_t* l = lp + (q * nr + r) * 2;
          acc += static_cast<std::uint32_t>(std::int32_t{l[0]} * b0 + std::int32_t{l[1]} * b1);
        }
        a.out[s * a.out_stride + p * nr + r] = static_cast<std::int32_t>(acc);
      }
    }
}

// The same for byte operands (GemmU8S8Args), pairs saturated to int16 as _mm*_maddubs_epi16 does
// (kernels/cpu/u8s8.hpp admits only layers where that never happens).
inline void gemm_block_u8s8_portable(const simd::GemmU8S8Args& a, std::int64_t nr) {
  const auto sat16 = [](std::int32_t v) { return std::min(std::max(v, -32768), 32767); };
  for (std::int64_t s = 0; s < a.rows; ++s)
    for (std::int64_t p = 0; p < a.panels; ++p) {
      const std::uint8_t* lp = a.lanes + p * a.panel_stride;
      const std::int32_t* bp = a.bcast + s * a.bcast_stride;
      for (std::int64_t r = 0; r < nr; ++r) {
        std::uint32_t acc = 0;
        for (std::int64_t q = 0; q < a.ksteps; ++q) {
          std::uint8_t b[4];  // the word's bytes by value (pack_word), lanes by address (pack_lanes)
          for (int h = 0; h < 4; ++h) b[h] = static_cast<std::uint8_t>(static_cast<std::uint32_t>(bp[q]) >> (8 * h));
          const std::uint8_t* l = lp + (q * nr + r) * 4;
          for (int h = 0; h < 4; h += 2) {
            const std::uint8_t* u = a.lanes_unsigned ? l : b;
            const std::uint8_t* v = a.lanes_unsigned ? b : l;
            const std::int32_t pair = std::int32_t{u[h]} * static_cast<std::int8_t>(v[h]) +
                                      std::int32_t{u[h + 1]} * static_cast<std::int8_t>(v[h + 1]);
            acc += static_cast<std::uint32_t>(sat16(pair));
          }
        }
        a.out[s * a.out_stride + p * nr + r] = static_cast<std::int32_t>(acc);
      }
    }
}

inline void gemm_block_f32_portable(const simd::GemmF32Args& a, std::int64_t nr) {
  for (std::int64_t s = 0; s < a.rows; ++s)
    for (std::int64_t p = 0; p < a.panels; ++p) {
      const float* lp = a.lanes + p * a.panel_stride;
      const float* bp = a.bcast + s * a.bcast_stride;
      for (std::int64_t r = 0; r < nr; ++r) {
        float acc = !a.bias ? 0.0f : a.bias[a.bias_per_lane ? p * nr + r : s];
        for (std::int64_t k = 0; k < a.ksteps; ++k) acc = std::fma(lp[k * nr + r], bp[k], acc);
        a.out[s * a.out_stride + p * nr + r] = std::min(std::max(acc, a.lo), a.hi);
      }
    }
}

// The fixes `fx` of a conv block added to its sums (row r at out + (r − row0)·out_stride) over np
// panels of patches, modulo 2^32: each fix is a multiply-add over every panel's nr lanes. NR, when
// not 0, is nr as a constant: the lane loop then compiles to one vector operation per fix and
// panel (the restrict pointers spare it overlap checks).
template <int NR>
void add_conv_byte_fixes(std::span<const ByteFix> fx, const std::uint8_t* lanes, std::int64_t panel, std::int64_t nr,
                         std::int64_t np, std::int32_t* out, std::int64_t out_stride, std::int64_t row0) {
  const std::int64_t n = NR ? NR : nr;
  for (const ByteFix& x : fx) {
    const int shift = 8 * static_cast<int>(x.k % 4);
    const auto w = static_cast<std::uint32_t>(x.w);
    const auto* words = reinterpret_cast<const std::uint32_t*>(lanes) + x.k / 4 * n;
    std::int32_t* o = out + (x.row - row0) * out_stride;
    for (std::int64_t p = 0; p < np; ++p) {
      // Each lane's quad as one word.
      const std::uint32_t* __restrict u = words + p * (panel / 4);
      std::uint32_t* __restrict op = reinterpret_cast<std::uint32_t*>(o + p * n);
      for (std::int64_t i = 0; i < n; ++i) op[i] += w * ((u[i] >> shift) & 0xFFu);
    }
  }
}

// Adds the fixes of a byte layer (ByteFix) to one block's sums, modulo 2^32 as the kernels
// add: fix·u with u the input byte the kernel multiplied by the rest of that weight — in a conv the
// lane panels' byte k of every pixel (the fixes are on broadcast rows), in an FC the broadcast
// rows' byte k (the fixes are on lane rows, columns of the block).
template <class Elem>
void add_byte_fixes(const ByteFixes& f, const LaneLayout& lay, const Elem* lanes, std::int64_t p0, std::int64_t np,
                    const std::int32_t* bcast, std::int64_t s0, std::int64_t rows, std::int32_t* out,
                    std::int64_t out_stride) {
  const std::int64_t nr = lay.nr, panel = lay.panel_elems(4);
  if constexpr (std::same_as<Elem, std::uint8_t>) {
    const std::span<const ByteFix> fx = fixes_of_rows(f.fixes, f.row0 + s0, f.row0 + s0 + rows);
    const std::uint8_t* first = lanes + p0 * panel;
    const std::int64_t row0 = f.row0 + s0;
    if (nr == 8)
      add_conv_byte_fixes<8>(fx, first, panel, nr, np, out, out_stride, row0);
    else if (nr == 16)
      add_conv_byte_fixes<16>(fx, first, panel, nr, np, out, out_stride, row0);
    else if (nr == 4)
      add_conv_byte_fixes<4>(fx, first, panel, nr, np, out, out_stride, row0);
    else
      add_conv_byte_fixes<0>(fx, first, panel, nr, np, out, out_stride, row0);
  } else {
    const std::int64_t l0 = p0 * nr;
    for (const ByteFix& x : fixes_of_rows(f.fixes, f.row0 + l0, f.row0 + l0 + np * nr)) {
      const int shift = 8 * static_cast<int>(x.k % 4);
      for (std::int64_t s = 0; s < rows; ++s) {
        const auto word = static_cast<std::uint32_t>(bcast[(s0 + s) * lay.ksteps + x.k / 4]);
        auto& o = reinterpret_cast<std::uint32_t&>(out[s * out_stride + x.row - f.row0 - l0]);
        o += static_cast<std::uint32_t>(x.w) * ((word >> shift) & 0xFFu);
      }
    }
  }
}

// The integer block kernel for lane elements Elem: int16 pairs, or bytes — uint8 lanes (conv
// patches) against signed broadcast words, int8 lanes (FC weights) against unsigned ones — with a
// byte layer's fixes added.
template <class Elem>
void int_block(const simd::KernelTable* t, const LaneLayout& lay, const Elem* lanes, std::int64_t p0,
               const std::int32_t* bcast, std::int64_t s0, std::int64_t rows, std::int64_t np, std::int32_t* out,
               std::int64_t out_stride, const ByteFixes& fixes) {
  using Args = std::conditional_t<std::same_as<Elem, std::int16_t>, simd::GemmI16Args, simd::GemmU8S8Args>;
  const std::int64_t panel = lay.panel_elems(kStep<Elem>);
  Args a;
  if constexpr (std::same_as<Elem, std::int16_t>) {
    a.lanes = lanes + p0 * panel;
  } else {
    a.lanes = reinterpret_cast<const std::uint8_t*>(lanes + p0 * panel);
    a.lanes_unsigned = std::same_as<Elem, std::uint8_t>;
    a.paired = fixes.paired;
  }
  a.panel_stride = panel;
  a.panels = np;
  a.bcast = bcast + s0 * lay.ksteps;
  a.bcast_stride = lay.ksteps;
  a.rows = rows;
  a.ksteps = lay.ksteps;
  a.out = out;
  a.out_stride = out_stride;
  if constexpr (std::same_as<Elem, std::int16_t>) {
    if (t) return t->gemm_i16(a);
    gemm_block_i16_portable(a, lay.nr);
  } else {
    if (t && t->gemm_u8s8)
      t->gemm_u8s8(a);
    else
      gemm_block_u8s8_portable(a, lay.nr);
    if (!fixes.fixes.empty()) add_byte_fixes(fixes, lay, lanes, p0, np, bcast, s0, rows, out, out_stride);
  }
}

// C = S·Lᵀ for broadcast rows [0, rows) and the lane rows of panels [panel_begin, panel_end)
// (all panels by default), block by block, lanes of int16 pairs or bytes (int_block; `fixes`: a
// byte layer's, empty otherwise):
// epilogue(s0, nrows, l0, ncols, block, block_stride) gets each block's sums. Blocks are
// `block_panels` ≤ kBlockPanels panels wide (an epilogue may need its blocks to start at multiples
// of some width). `scratch` holds kBlockRows × kBlockPanels·nr accumulators.
template <class Elem, class Epilogue>
void gemm_int(const Elem* lanes, const LaneLayout& lay, const std::int32_t* bcast, std::int64_t rows,
              const ByteFixes& fixes, std::int32_t* scratch, Epilogue&& epilogue, std::int64_t panel_begin = 0,
              std::int64_t panel_end = -1, std::int64_t block_panels = kBlockPanels) {
  const simd::KernelTable* t = simd::kernel_table();
  const std::int64_t nr = lay.nr;
  check_panel_width(nr);
  check(block_panels >= 1 && block_panels <= kBlockPanels, "gemm_int: blocks of ", block_panels, " panels");
  const std::int64_t stride = kBlockPanels * nr;
  const std::int64_t pend = panel_end < 0 ? lay.panels() : panel_end;
  for (std::int64_t p0 = panel_begin; p0 < pend; p0 += block_panels) {
    const std::int64_t np = std::min(block_panels, pend - p0);
    for (std::int64_t s0 = 0; s0 < rows; s0 += kBlockRows) {
      const std::int64_t nrows = std::min(kBlockRows, rows - s0);
      int_block(t, lay, lanes, p0, bcast, s0, nrows, np, scratch, stride, fixes);
      epilogue(s0, nrows, p0 * nr, std::min(np * nr, lay.rows - p0 * nr), scratch, stride);
    }
  }
}

// The output stage of a float GEMM, applied by the block kernels while the sums are in registers:
// C[s][l] = clamp(bias + Σ_k S[s][k]·L[l][k], lo, hi), written to out[s·out_stride + l].
struct F32Output {
  const float* bias = nullptr;  // one per broadcast row (conv) or per lane row (FC); null: none
  bool bias_per_lane = false;
  float lo = 0.0f, hi = 0.0f;
  float* out = nullptr;
  std::int64_t out_stride = 0;
};

// C for broadcast rows [0, rows) and the lane rows of panels [panel_begin, panel_end) (all panels
// by default), written to o.out. A block whose last panel is partial (lane rows not a multiple of
// nr) is computed into `scratch` and its real columns copied out, so that no store passes the end of
// an output row; its per-lane bias is read from a zero-padded copy in scratch for the same reason.
inline void gemm_f32(const float* lanes, const LaneLayout& lay, const float* bcast, std::int64_t rows,
                     const F32Output& o, float* scratch, std::int64_t panel_begin = 0, std::int64_t panel_end = -1) {
  const simd::KernelTable* t = simd::kernel_table();
  const std::int64_t nr = lay.nr;
  check_panel_width(nr);
  const std::int64_t panel = lay.panel_elems(1);
  const std::int64_t stride = kBlockPanelsF32 * nr;
  float* padded_bias = scratch + kBlockRows * stride;
  const std::int64_t pend = panel_end < 0 ? lay.panels() : panel_end;
  for (std::int64_t p0 = panel_begin; p0 < pend; p0 += kBlockPanelsF32) {
    const std::int64_t np = std::min(kBlockPanelsF32, pend - p0);
    const std::int64_t l0 = p0 * nr, cols = std::min(np * nr, lay.rows - l0);
    const bool whole = cols == np * nr;
    const float* lane_bias = o.bias ? o.bias + l0 : nullptr;
    if (!whole && o.bias && o.bias_per_lane) {
      std::copy(lane_bias, lane_bias + cols, padded_bias);
      std::fill(padded_bias + cols, padded_bias + np * nr, 0.0f);
      lane_bias = padded_bias;
    }
    for (std::int64_t s0 = 0; s0 < rows; s0 += kBlockRows) {
      simd::GemmF32Args a;
      a.lanes = lanes + p0 * panel;
      a.panel_stride = panel;
      a.panels = np;
      a.bcast = bcast + s0 * lay.ksteps;
      a.bcast_stride = lay.ksteps;
      a.rows = std::min(kBlockRows, rows - s0);
      a.ksteps = lay.ksteps;
      a.bias = !o.bias ? nullptr : o.bias_per_lane ? lane_bias : o.bias + s0;
      a.bias_per_lane = o.bias_per_lane;
      a.lo = o.lo;
      a.hi = o.hi;
      a.out = whole ? o.out + s0 * o.out_stride + l0 : scratch;
      a.out_stride = whole ? o.out_stride : stride;
      if (t) t->gemm_f32(a);
      else gemm_block_f32_portable(a, nr);
      if (!whole)
        for (std::int64_t r = 0; r < a.rows; ++r)
          std::copy(scratch + r * stride, scratch + r * stride + cols, o.out + (s0 + r) * o.out_stride + l0);
    }
  }
}

// A block of accumulators, and a row of them more for gemm_f32's padded bias.
inline std::size_t gemm_scratch_bytes() {
  return static_cast<std::size_t>((kBlockRows + 1) * std::max(kBlockPanels, kBlockPanelsF32) * panel_lanes()) * 4;
}

}  // namespace qnn::cpu
// ---- end qnn/kernels/cpu/gemm.hpp ------------------------------------------------------------------
// ---- begin qnn/kernels/cpu/im2col.hpp --------------------------------------------------------------
// im2col for the CPU convolution: the patches of a range of output pixels as lane panels
// (kernels/cpu/pack.hpp), in two steps that never divide per element.
//
// 1. frame_input: the group's input channels converted once to the packed element type — int16
//    (x − zx), unsigned bytes (x − the layer's byte shift, kernels/cpu/u8s8.hpp) or float — and
//    surrounded by the padding, whose value is the zero point converted the same way (0 for int16,
//    as the reference treats padded taps). Every tap of every output pixel then reads inside the frame, so step 2 has no
//    bounds checks.
// 2. gather_panels: the panels' element for (pixel, k-step) is the frame at (tap offset + pixel
//    offset), both from small tables built once per call. The pixels are taken a block at a time
//    and split into runs of consecutive frame elements (an output row at stride 1); then for each
//    k-step the block's row of "units" — an int16 tap pair or a byte tap quad as one 32-bit word,
//    or a float — is built run by run into a small buffer and cut into the panels, NR units each.
//    Working a run at a time instead of a panel at a time is what lets the loads be vectors: a
//    panel whose pixels straddle two output rows (half of them with 12-wide rows) is just the end
//    of one run and the start of the next, and the pair interleave of a run is a vector widening
//    instead of NR scalar copies. The k-step loop outside the panel loop keeps the two tap rows
//    hot. Runs of at least kChunk units are built in fixed kChunk-wide steps, the last one
//    overlapping the previous, so the compiler emits whole vectors and no scalar tail; shorter
//    runs (stride > 1, narrow outputs) are built one unit at a time.
// Layers packed in channel units (conv_channel_unit, kernels/cpu/conv.hpp) frame their input in
// units (frame_input's `unit`): a k-step's channels at one position are already one unit there, so
// step 2 is the single-k-step gather, on 32-bit words.
// Lanes past the last pixel repeat the last pixel: their sums are computed and discarded, and a
// repeated real value cannot overflow or trap where a zero would have been equally good.
//
// The old formulation decoded every (tap, pixel) with a 64-bit division and modulo by the panel
// width; on conv2 of the Fashion-MNIST CNN that was 68 % of the layer's time (docs/benchmarks.md).

#include <algorithm>
#include <bit>
#include <concepts>
#include <cstdint>
#include <cstring>
#include <type_traits>

// ---- begin qnn/kernels/geometry.hpp ----------------------------------------------------------------
// Convolution and pooling geometry: attributes in, validated shapes out.
//
// Computed once when a layer is prepared and shared by the reference and SIMD kernels, so every
// kernel agrees on output sizes, padding and which input pixel a tap reads. Tensors are addressed
// with logical axes N, C, H, W (activations) and M, C/groups, KH, KW (weights), whatever their
// memory layout.

#include <array>
#include <cstdint>
#include <ostream>

namespace qnn {

struct Window2D {
  std::array<std::int64_t, 2> kernel{1, 1};
  std::array<std::int64_t, 2> strides{1, 1};
  std::array<std::int64_t, 2> dilations{1, 1};
  // ONNX order: top, left, bottom, right.
  std::array<std::int64_t, 4> pads{0, 0, 0, 0};
};

// Where the window of output row `o` starts in the input, and its extent.
inline std::int64_t window_start(std::int64_t o, std::int64_t stride, std::int64_t pad_begin) {
  return o * stride - pad_begin;
}

namespace detail {
inline void check_window(const Window2D& w) {
  for (int i = 0; i < 2; ++i) {
    check(w.kernel[i] >= 1, "kernel size ", w.kernel[i], " must be positive");
    check(w.strides[i] >= 1, "stride ", w.strides[i], " must be positive");
    check(w.dilations[i] >= 1, "dilation ", w.dilations[i], " must be positive");
  }
  for (std::int64_t p : w.pads) check(p >= 0, "negative padding ", p, " is not supported");
}
// Output extent: floor or ceil of (in + pads − effective kernel) / stride, plus one. With ceil
// mode a last window that would start inside the trailing padding is dropped (PyTorch and ONNX
// Runtime agree on this; the bare formula would create a window covering no input).
inline std::int64_t output_extent(std::int64_t in, std::int64_t k, std::int64_t s, std::int64_t d,
                                  std::int64_t pad_begin, std::int64_t pad_end, bool ceil_mode) {
  const std::int64_t span = in + pad_begin + pad_end - (d * (k - 1) + 1);
  check(span >= 0, "window of extent ", d * (k - 1) + 1, " does not fit input ", in, " with pads ",
        pad_begin, "+", pad_end);
  std::int64_t out = (ceil_mode ? (span + s - 1) / s : span / s) + 1;
  if (ceil_mode && (out - 1) * s >= in + pad_begin) --out;
  return out;
}
}  // namespace detail

struct ConvGeometry {
  std::int64_t n = 0, c = 0, h = 0, w = 0;  // input
  std::int64_t m = 0;                       // output channels
  std::int64_t oh = 0, ow = 0;              // output
  std::int64_t groups = 1;
  Window2D win;

  std::int64_t c_per_group() const { return c / groups; }
  std::int64_t m_per_group() const { return m / groups; }
  // Reduction length of one output value.
  std::int64_t k() const { return c_per_group() * win.kernel[0] * win.kernel[1]; }
  std::int64_t macs() const { return n * m * oh * ow * k(); }
  bool depthwise() const { return groups == c && c_per_group() == 1; }
  Shape output_shape() const { return Shape{n, m, oh, ow}; }
};

// x: N,C,H,W; weight: M, C/groups, KH, KW. The window's kernel comes from the weight shape.
inline ConvGeometry make_conv_geometry(const Shape& x, const Shape& weight, Window2D win,
                                       std::int64_t groups) {
  check(x.rank() == 4, "conv input must be 4-D (N,C,H,W), got ", x);
  check(weight.rank() == 4, "conv weight must be 4-D (M,C/groups,KH,KW), got ", weight);
  check(groups >= 1, "group count ", groups, " must be positive");
  ConvGeometry g;
  g.n = x[0], g.c = x[1], g.h = x[2], g.w = x[3];
  g.m = weight[0];
  g.groups = groups;
  check(g.c % groups == 0, "input channels ", g.c, " are not divisible by group count ", groups);
  check(g.m % groups == 0, "output channels ", g.m, " are not divisible by group count ", groups);
  check(weight[1] == g.c / groups, "weight has ", weight[1], " input channels per group, input has ",
        g.c / groups);
  win.kernel = {weight[2], weight[3]};
  detail::check_window(win);
  g.win = win;
  g.oh = detail::output_extent(g.h, win.kernel[0], win.strides[0], win.dilations[0], win.pads[0], win.pads[2], false);
  g.ow = detail::output_extent(g.w, win.kernel[1], win.strides[1], win.dilations[1], win.pads[1], win.pads[3], false);
  return g;
}

struct PoolGeometry {
  std::int64_t n = 0, c = 0, h = 0, w = 0;
  std::int64_t oh = 0, ow = 0;
  Window2D win;
  bool ceil_mode = false;
  bool count_include_pad = false;  // average pooling only
  Shape output_shape() const { return Shape{n, c, oh, ow}; }
};

inline PoolGeometry make_pool_geometry(const Shape& x, const Window2D& win, bool ceil_mode,
                                       bool count_include_pad = false) {
  check(x.rank() == 4, "pooling input must be 4-D (N,C,H,W), got ", x);
  detail::check_window(win);
  PoolGeometry g;
  g.n = x[0], g.c = x[1], g.h = x[2], g.w = x[3];
  g.win = win;
  g.ceil_mode = ceil_mode;
  g.count_include_pad = count_include_pad;
  g.oh = detail::output_extent(g.h, win.kernel[0], win.strides[0], win.dilations[0], win.pads[0], win.pads[2], ceil_mode);
  g.ow = detail::output_extent(g.w, win.kernel[1], win.strides[1], win.dilations[1], win.pads[1], win.pads[3], ceil_mode);
  return g;
}

// Global pooling is pooling with a window covering the whole image.
inline PoolGeometry make_global_pool_geometry(const Shape& x) {
  check(x.rank() == 4, "global pooling input must be 4-D (N,C,H,W), got ", x);
  Window2D win;
  win.kernel = {x[2], x[3]};
  return make_pool_geometry(x, win, false);
}

}  // namespace qnn
// ---- end qnn/kernels/geometry.hpp ------------------------------------------------------------------

namespace qnn::cpu {

namespace im2col_detail {

// Width of the fixed steps in which runs are converted: 8 int16 → 8 words is one AVX2 vector
// store, 8 bytes → 8 int16 one SSE vector; targets with wider vectors lose little, as the rows of
// small feature maps are short anyway.
inline constexpr std::int64_t kChunk = 8;

// dst[i] = f(i) for i in [0, n): kChunk at a time when n ≥ kChunk (the last step overlaps the one
// before, rewriting equal values), one by one otherwise.
template <class T, class F>
inline void convert_run(T* dst, std::int64_t n, F f) {
  if (n < kChunk) {
    for (std::int64_t i = 0; i < n; ++i) dst[i] = f(i);
    return;
  }
  const auto chunk = [&](std::int64_t i0) {
    for (std::int64_t i = 0; i < kChunk; ++i) dst[i0 + i] = f(i0 + i);
  };
  std::int64_t i = 0;
  for (; i + kChunk <= n; i += kChunk) chunk(i);
  if (i < n) chunk(n - kChunk);
}

// An int16 panel k-step per lane as one 32-bit word: the even tap at the lower address.
inline constexpr int kEvenShift = std::endian::native == std::endian::little ? 0 : 16;
inline std::uint32_t pair_word(std::int16_t even, std::int16_t odd) {
  return std::uint32_t{static_cast<std::uint16_t>(even)} << kEvenShift |
         std::uint32_t{static_cast<std::uint16_t>(odd)} << (16 - kEvenShift);
}

// A byte panel k-step per lane: tap 4q at the lowest address.
inline std::uint32_t quad_word(std::uint8_t b0, std::uint8_t b1, std::uint8_t b2, std::uint8_t b3) {
  if constexpr (std::endian::native == std::endian::little)
    return std::uint32_t{b0} | std::uint32_t{b1} << 8 | std::uint32_t{b2} << 16 | std::uint32_t{b3} << 24;
  else
    return std::uint32_t{b3} | std::uint32_t{b2} << 8 | std::uint32_t{b1} << 16 | std::uint32_t{b0} << 24;
}

// An input value as a frame element: v − sub for integers (see the header comment).
template <class Elem, class TIn>
Elem frame_value(TIn v, std::int32_t sub) {
  if constexpr (std::is_integral_v<Elem>)
    return static_cast<Elem>(static_cast<std::int32_t>(v) - sub);
  else
    return static_cast<Elem>(v);
}

// Consecutive pixels l, l+1, … , l+n−1 of a block whose window origins are off, off+1, ….
struct Run {
  std::int64_t off;
  std::int32_t l, n;
};

}  // namespace im2col_detail

// Elements of one group's frame: c/groups planes of (h + pads) × (w + pads).
inline std::int64_t frame_elems(const ConvGeometry& g) {
  return g.c_per_group() * (g.h + g.win.pads[0] + g.win.pads[2]) * (g.w + g.win.pads[1] + g.win.pads[3]);
}

// True when the frame is the input itself, read as Elem: nothing to convert and no padding — a
// float layer, or a byte layer with shift 0 (an int8 value v ≥ 0 has the bits of uint8 v).
template <class Elem, class TIn>
bool frame_is_input(const ConvGeometry& g, std::int32_t sub) {
  const bool same = std::same_as<Elem, TIn> ? std::is_floating_point_v<Elem>
                                            : std::same_as<Elem, std::uint8_t> && sizeof(TIn) == 1 && sub == 0;
  return same && g.win.pads[0] == 0 && g.win.pads[1] == 0 && g.win.pads[2] == 0 && g.win.pads[3] == 0;
}

namespace im2col_detail {

// Writes `blocks` framed planes to out: each the rows of a source block converted by
// convert(source offset, n, dst) — the block's offsets start at block·step — surrounded by padding
// rows and columns of `pad`. Unpadded, a block's rows are one run.
template <class U, class Convert>
void frame_planes(const ConvGeometry& g, std::int64_t blocks, std::int64_t step, U pad, Convert&& convert, U* out) {
  const std::int64_t pt = g.win.pads[0], pl = g.win.pads[1], pb = g.win.pads[2], pr = g.win.pads[3];
  const std::int64_t wp = g.w + pl + pr;
  const bool padded = pt != 0 || pl != 0 || pb != 0 || pr != 0;
  for (std::int64_t b = 0; b < blocks; ++b) {
    const std::int64_t s0 = b * step;
    if (!padded) {
      convert(s0, g.h * g.w, out);
      out += g.h * g.w;
      continue;
    }
    std::fill(out, out + pt * wp, pad);
    out += pt * wp;
    for (std::int64_t y = 0; y < g.h; ++y, out += wp) {
      std::fill(out, out + pl, pad);
      convert(s0 + y * g.w, g.w, out + pl);
      std::fill(out + pl + g.w, out + wp, pad);
    }
    std::fill(out, out + pb * wp, pad);
    out += pb * wp;
  }
}

}  // namespace im2col_detail

// `Elem` is std::int16_t (value − zx: sub = zx), std::uint8_t (value − the byte shift: sub) or
// float (value; zx and sub are then 0); img is one C×H×W image. With unit = kStep<Elem> > 1 the
// frame is that of a layer packed in channel units (kernels/cpu/conv.hpp, conv_channel_unit): the
// group's channels in blocks of `unit`, a block's values at one position stored together as one
// 32-bit unit (the lowest channel at the lowest address). A k-step of that order — the block's
// channels at one tap — is then one unit of the frame, so gather_panels copies units (the float
// path, on 32-bit words) instead of assembling each from `unit` frame rows once per tap of every
// input value; assembling happens here, once. unit 1: the channels' planes one after another.
template <class Elem, class TIn>
void frame_input(const ConvGeometry& g, const TIn* img, std::int32_t zx, std::int32_t sub, std::int64_t grp,
                 Elem* dst, std::int64_t unit = 1) {
  using namespace im2col_detail;
  const std::int64_t plane = g.h * g.w;
  const TIn* src = img + grp * g.c_per_group() * plane;
  const auto v = [sub](TIn x) { return frame_value<Elem>(x, sub); };
  const Elem pad = frame_value<Elem>(zx, sub);  // the zero point as a frame element (0 for int16, float)
  if constexpr (kStep<Elem> > 1) {
    if (unit > 1) {
      constexpr std::int64_t s = kStep<Elem>;
      const auto word = [src, plane, v](std::int64_t i) {
        if constexpr (s == 4)
          return quad_word(v(src[i]), v(src[plane + i]), v(src[2 * plane + i]), v(src[3 * plane + i]));
        else
          return pair_word(v(src[i]), v(src[plane + i]));
      };
      std::uint32_t pad_word = 0;
      if constexpr (s == 4) pad_word = quad_word(pad, pad, pad, pad);
      else pad_word = pair_word(pad, pad);
      frame_planes(g, g.c_per_group() / s, s * plane, pad_word, [&](std::int64_t s0, std::int64_t n, std::uint32_t* d) {
        convert_run(d, n, [&word, s0](std::int64_t i) { return word(s0 + i); });
      }, reinterpret_cast<std::uint32_t*>(dst));
      return;
    }
  }
  frame_planes(g, g.c_per_group(), plane, pad, [&](std::int64_t s0, std::int64_t n, Elem* d) {
    convert_run(d, n, [src, v, s0](std::int64_t i) { return v(src[s0 + i]); });
  }, dst);
}

// Frame offsets of the k-steps: channel, then kernel row, then kernel column (the weights' order).
// With channel units (`unit` channels per frame element, frame_input) the same walk over
// channel blocks gives the offsets of the unit k-steps.
inline void tap_offsets(const ConvGeometry& g, std::int64_t* tap, std::int64_t unit = 1) {
  const std::int64_t hp = g.h + g.win.pads[0] + g.win.pads[2], wp = g.w + g.win.pads[1] + g.win.pads[3];
  std::int64_t k = 0;
  for (std::int64_t ci = 0; ci < g.c_per_group() / unit; ++ci)
    for (std::int64_t ky = 0; ky < g.win.kernel[0]; ++ky)
      for (std::int64_t kx = 0; kx < g.win.kernel[1]; ++kx)
        tap[k++] = ci * hp * wp + ky * g.win.dilations[0] * wp + kx * g.win.dilations[1];
}

// Frame offsets of the window origins of pixels [l0, l0 + count), count a multiple of the panel
// width; pixels from l_end on repeat the last real one (see the header comment). Output row by
// output row, an arithmetic sequence each: one loop the compiler vectorizes instead of a branch per
// pixel on the row's end (which the branch predictor missed once per row: 6 % of conv1's time in
// the Fashion-MNIST CNN).
inline void pixel_offsets(const ConvGeometry& g, std::int64_t l0, std::int64_t l_end, std::int64_t count,
                          std::int64_t* pix) {
  const std::int64_t wp = g.w + g.win.pads[1] + g.win.pads[3];
  const std::int64_t sy = g.win.strides[0] * wp, sx = g.win.strides[1];
  const std::int64_t real = std::min(count, l_end - l0);
  std::int64_t i = 0;
  for (std::int64_t oy = l0 / g.ow, ox = l0 % g.ow; i < real; ++oy, ox = 0) {
    const std::int64_t n = std::min(g.ow - ox, real - i), base = oy * sy + ox * sx;
    for (std::int64_t j = 0; j < n; ++j) pix[i + j] = base + j * sx;
    i += n;
  }
  for (; i < count; ++i) pix[i] = pix[i - 1];
}

template <int NR, class Elem>
void gather_panels_nr(const Elem* frame, const std::int64_t* tap, std::int64_t k, std::int64_t ksteps,
                      const std::int64_t* pix, std::int64_t panels, Elem* dst) {
  using namespace im2col_detail;
  constexpr std::int64_t per_unit = kStep<Elem>;  // elements per unit
  using Unit = std::conditional_t<per_unit == 1, Elem, std::uint32_t>;
  static_assert(sizeof(Unit) == per_unit * sizeof(Elem));
  // Pixels per block: its units (1 KiB) and runs stay in L1 next to the tap rows.
  constexpr std::int64_t kBlockPanels = 256 / NR;
  const std::int64_t panel = ksteps * NR;  // in units
  Unit units[kBlockPanels * NR];
  Run runs[kBlockPanels * NR];
  for (std::int64_t p0 = 0; p0 < panels; p0 += kBlockPanels) {
    const std::int64_t np = std::min(kBlockPanels, panels - p0);
    const std::int64_t* px = pix + p0 * NR;
    std::int64_t nruns = 0;
    for (std::int32_t l = 0, n = static_cast<std::int32_t>(np * NR), e; l < n; l = e) {
      for (e = l + 1; e < n && px[e] == px[e - 1] + 1;) ++e;
      runs[nruns++] = Run{px[l], l, e - l};
    }
    Elem* d = dst + p0 * panel * per_unit;
    for (std::int64_t q = 0; q < ksteps; ++q) {
      if constexpr (per_unit == 4) {
        // Taps past K repeat the last one: their weights are 0, so any real value will do.
        const Elem* s[4];
        for (std::int64_t j = 0; j < 4; ++j) s[j] = frame + tap[std::min(4 * q + j, k - 1)];
        for (std::int64_t r = 0; r < nruns; ++r) {
          const std::int64_t off = runs[r].off;
          const Elem *t0 = s[0] + off, *t1 = s[1] + off, *t2 = s[2] + off, *t3 = s[3] + off;
          convert_run(units + runs[r].l, runs[r].n,
                      [t0, t1, t2, t3](std::int64_t i) { return quad_word(t0[i], t1[i], t2[i], t3[i]); });
        }
      } else if constexpr (per_unit == 2) {
        const Elem* s0 = frame + tap[2 * q];
        if (2 * q + 1 < k) {
          const Elem* s1 = frame + tap[2 * q + 1];
          for (std::int64_t r = 0; r < nruns; ++r) {
            const Elem* a = s0 + runs[r].off;
            const Elem* b = s1 + runs[r].off;
            convert_run(units + runs[r].l, runs[r].n, [a, b](std::int64_t i) { return pair_word(a[i], b[i]); });
          }
        } else {  // odd K: the second half of the last pair is 0
          for (std::int64_t r = 0; r < nruns; ++r) {
            const Elem* a = s0 + runs[r].off;
            convert_run(units + runs[r].l, runs[r].n, [a](std::int64_t i) { return pair_word(a[i], 0); });
          }
        }
      } else {
        const Elem* s = frame + tap[q];
        for (std::int64_t r = 0; r < nruns; ++r) {
          const Elem* a = s + runs[r].off;
          convert_run(units + runs[r].l, runs[r].n, [a](std::int64_t i) { return a[i]; });
        }
      }
      for (std::int64_t p = 0; p < np; ++p)
        std::memcpy(d + (p * panel + q * NR) * per_unit, units + p * NR, sizeof(Unit) * NR);
    }
  }
}

// Panels of pixels [l0, l0 + panels·nr) from the frame; the k taps' offsets in `tap`.
template <class Elem>
void gather_panels(const Elem* frame, const std::int64_t* tap, const LaneLayout& lay, const std::int64_t* pix,
                   std::int64_t panels, Elem* dst) {
  switch (lay.nr) {
    case 4: return gather_panels_nr<4>(frame, tap, lay.k, lay.ksteps, pix, panels, dst);
    case 8: return gather_panels_nr<8>(frame, tap, lay.k, lay.ksteps, pix, panels, dst);
    case 16: return gather_panels_nr<16>(frame, tap, lay.k, lay.ksteps, pix, panels, dst);
    default: break;
  }
  // Any other width (no target has one today): the same layout, one lane at a time.
  constexpr int per_step = kStep<Elem>;
  const std::int64_t panel = lay.panel_elems(per_step);
  for (std::int64_t p = 0; p < panels; ++p)
    for (std::int64_t q = 0; q < lay.ksteps; ++q)
      for (std::int64_t r = 0; r < lay.nr; ++r)
        for (int h = 0; h < per_step; ++h) {
          const std::int64_t kk = q * per_step + h;
          dst[p * panel + (q * lay.nr + r) * per_step + h] =
              kk < lay.k ? frame[tap[kk] + pix[p * lay.nr + r]] : Elem{};
        }
}

}  // namespace qnn::cpu
// ---- end qnn/kernels/cpu/im2col.hpp ----------------------------------------------------------------
// ---- begin qnn/kernels/cpu/pool.hpp ----------------------------------------------------------------
// Fast CPU max pooling: checks the geometry, splits N·C planes over threads and runs the
// per-target rows of kernels/simd/pool-inl.hpp, which equal ref::max_pool bit for bit (integers
// and floats, NaN and signed zeros included). Without a SIMD target, for a non-contiguous view,
// or when some window covers no input pixel (an error the reference reports), the reference runs.

#include <algorithm>
#include <concepts>
#include <cstdint>

// ---- begin qnn/kernels/ref/pool.hpp ----------------------------------------------------------------
// Reference max and average pooling (2-D windows over N,C,H,W; global pooling is the window that
// covers the image).
//
// Max pooling reads only taps inside the input: padding never wins (it is −∞, not the zero point),
// so a quantized max pool is exact and keeps its input's quantization.
// Average pooling divides by the number of taps inside the input, or — count_include_pad — by the
// taps inside the padded input (a ceil-mode window hanging past the padding still excludes the
// overhang, as PyTorch and ONNX Runtime do).
//   float/bf16: fp32 sum in row-major window order, one division.
//   quantized:  s = Σ (x − zx) in int32 (|s| ≤ count·65535, far from overflow), then the output
//               stage of ratio s_x / (s_y · count) under the layer's requantization policy. The
//               divisor varies only at borders, so one factor per possible count is made up front.
//   quantized, onnx_float: what ONNX Runtime's QLinearAveragePool does (qlinear_pool.cc,
//               qlgavgpool.cpp), which is two different computations:
//     a window covering the whole input with no padding (global pooling) — integer sum, then
//               y = rne(clamp(fl(float(s) · m))) + zy with m = fl(s_x / fl(s_y · count));
//     any other window — fp32: d = fl(s_x · (x − zx)), sum = ((0 + d0) + d1) + … in window order
//               (rows, then columns), avg = fl(sum / count), y = clamp(rne(fl(avg / s_y) + zy))
//               (the zero point is added in fp32 before rounding), and with count_include_pad the
//               divisor is the full kernel size kh·kw even where a ceil-mode window hangs past the
//               padding.

#include <algorithm>
#include <cstdint>
#include <limits>
#include <vector>

// ---- begin qnn/kernels/ref/ort_float.hpp -----------------------------------------------------------
// ONNX Runtime's x86 fp32 idioms: the exact arithmetic the onnx_float policy reproduces for the ops
// whose ORT kernels do not follow the generic requantization of numerics/requantize.hpp
// (QLinearAdd, QLinearMul, QLinearAveragePool, QLinearSigmoid; docs/numerics.md §5).
//
// Every function here is one IEEE binary32 operation sequence, written out: fl(a·b) is `a * b` on
// floats, a fused multiply-add is std::fma (one rounding, correctly rounded by the C library
// whether or not the CPU has FMA). qnn builds in ISO C++ mode, so the compiler never contracts
// `a * b + c` on its own; where ORT's compiled code does contract, std::fma says so.
//
// Sources (ONNX Runtime 1.23–1.32, CPU EP on AVX2; /work/notes/ort-numerics.md has the line
// references and the experiments that pinned each rule):
//   cvtps2dq   the conversion MLAS's SSE/AVX kernels end with;
//   logistic   MlasLogisticKernelFma3 (core/mlas/lib/x86_64/LogisticKernelFma3.S), Eigen's
//              rational approximation evaluated with FMA.

#include <cmath>
#include <cstdint>
#include <limits>

namespace qnn::ref::ort {

// cvtps2dq under the default MXCSR: round half to even. NaN and values outside the int32 range give
// INT32_MIN (the "integer indefinite" value), which the saturating packs that follow turn into the
// storage minimum — what ORT returns, pinned here rather than left undefined.
inline std::int32_t cvtps2dq(float v) {
  if (!(v >= -2147483648.0f && v < 2147483648.0f)) return std::numeric_limits<std::int32_t>::min();
  return static_cast<std::int32_t>(round_half_even(static_cast<double>(v)));
}

// ORT's fp32 logistic on x86 with FMA3: clamp to [−18, 18], odd/even polynomials in x², one
// division, + ½, clamp below at 0 (no upper clamp; the result never exceeds 1 for |x| ≤ 18).
// NaN passes through.
inline float logistic(float x) {
  constexpr float a9 = 4.37031012579801e-11f, a7 = 1.15627324459942e-07f, a5 = 6.08574864600143e-05f,
                  a3 = 8.51377133304701e-03f, a1 = 2.48287947061529e-01f;
  constexpr float b10 = 6.10247389755681e-13f, b8 = 5.76102136993427e-09f, b6 = 6.29106785017040e-06f,
                  b4 = 1.70198817374094e-03f, b2 = 1.16817656904453e-01f, b0 = 9.93151921023180e-01f;
  if (std::isnan(x)) return x;
  const float v = x < -18.0f ? -18.0f : (x > 18.0f ? 18.0f : x);
  const float x2 = v * v;
  float p = std::fma(x2, a9, a7);
  p = std::fma(x2, p, a5);
  p = std::fma(x2, p, a3);
  p = std::fma(x2, p, a1);
  p = v * p;
  float q = std::fma(x2, b10, b8);
  q = std::fma(x2, q, b6);
  q = std::fma(x2, q, b4);
  q = std::fma(x2, q, b2);
  q = std::fma(x2, q, b0);
  const float y = p / q + 0.5f;
  return y < 0.0f ? 0.0f : y;
}

}  // namespace qnn::ref::ort
// ---- end qnn/kernels/ref/ort_float.hpp -------------------------------------------------------------

namespace qnn::ref {

namespace detail {
inline void check_pool_shapes(const PoolGeometry& g, const Shape& x, const Shape& y) {
  check(x == Shape{g.n, g.c, g.h, g.w}, "pool: input ", x, " does not match geometry");
  check(y == g.output_shape(), "pool: output ", y, " should be ", g.output_shape());
}

// Visits the taps of window (oy, ox): f(iy, ix) for taps inside the input. Returns the divisor
// average pooling uses for this window.
template <class F>
std::int64_t for_each_tap(const PoolGeometry& g, std::int64_t oy, std::int64_t ox, F&& f) {
  const auto [kh, kw] = g.win.kernel;
  const auto [sh, sw] = g.win.strides;
  const auto [dh, dw] = g.win.dilations;
  const std::int64_t y0 = oy * sh - g.win.pads[0];
  const std::int64_t x0 = ox * sw - g.win.pads[1];
  std::int64_t inside = 0;
  std::int64_t padded = 0;  // taps inside input + pads
  for (std::int64_t ky = 0; ky < kh; ++ky) {
    const std::int64_t iy = y0 + ky * dh;
    const bool y_in_pad = iy >= -g.win.pads[0] && iy < g.h + g.win.pads[2];
    for (std::int64_t kx = 0; kx < kw; ++kx) {
      const std::int64_t ix = x0 + kx * dw;
      const bool x_in_pad = ix >= -g.win.pads[1] && ix < g.w + g.win.pads[3];
      if (y_in_pad && x_in_pad) ++padded;
      if (iy < 0 || iy >= g.h || ix < 0 || ix >= g.w) continue;
      ++inside;
      f(iy, ix);
    }
  }
  return g.count_include_pad ? padded : inside;
}
}  // namespace detail

template <class T>
void max_pool(const PoolGeometry& g, TensorView<const T> x, TensorView<T> y) {
  detail::check_pool_shapes(g, x.shape(), y.shape());
  for (std::int64_t n = 0; n < g.n; ++n)
    for (std::int64_t c = 0; c < g.c; ++c)
      for (std::int64_t oy = 0; oy < g.oh; ++oy)
        for (std::int64_t ox = 0; ox < g.ow; ++ox) {
          T best = std::numeric_limits<T>::lowest();
          bool any = false;
          detail::for_each_tap(g, oy, ox, [&](std::int64_t iy, std::int64_t ix) {
            const T v = x(n, c, iy, ix);
            // NaN propagates in float pooling (v > best is false for NaN, so test it first).
            if (!any || v > best || v != v) best = v;
            any = true;
          });
          check(any, "pool window (", oy, ",", ox, ") covers no input pixel");
          y(n, c, oy, ox) = best;
        }
}

// fp32 accumulation; T is float or bf16 (output rounded to nearest even for bf16).
template <class T>
void avg_pool_float(const PoolGeometry& g, TensorView<const T> x, TensorView<T> y) {
  detail::check_pool_shapes(g, x.shape(), y.shape());
  for (std::int64_t n = 0; n < g.n; ++n)
    for (std::int64_t c = 0; c < g.c; ++c)
      for (std::int64_t oy = 0; oy < g.oh; ++oy)
        for (std::int64_t ox = 0; ox < g.ow; ++ox) {
          float sum = 0.0f;
          const std::int64_t count = detail::for_each_tap(
              g, oy, ox, [&](std::int64_t iy, std::int64_t ix) { sum += static_cast<float>(x(n, c, iy, ix)); });
          check(count > 0, "pool window (", oy, ",", ox, ") covers no input pixel");
          y(n, c, oy, ox) = T(sum / static_cast<float>(count));
        }
}

// The factors of a quantized average pool, one per possible divisor.
template <RequantPolicyType P>
struct AvgPoolRequant {
  std::int32_t x_zp = 0;
  std::int32_t y_zp = 0;
  float s_x = 1, s_y = 1;  // the fp32 window path of onnx_float reads the scales themselves
  IntRange range{};
  std::vector<typename P::Channel> by_count;  // index = divisor

  template <QuantStorage T>
  static AvgPoolRequant make(const PoolGeometry& g, float s_x, std::int32_t x_zp, float s_y,
                             std::int32_t y_zp) {
    qnn::detail::check_zero_point<T>(x_zp);
    qnn::detail::check_zero_point<T>(y_zp);
    AvgPoolRequant r;
    r.x_zp = x_zp;
    r.y_zp = y_zp;
    r.s_x = s_x;
    r.s_y = s_y;
    r.range = storage_range<T>();
    const std::int64_t max_count = g.win.kernel[0] * g.win.kernel[1];
    // The int32 window sum: count · max|x − zx| must fit (2^15 taps for 16-bit data, 2^23 for 8-bit).
    const std::int64_t span = std::int64_t{max_of<T>()} - min_of<T>();
    check(max_count * span <= std::numeric_limits<std::int32_t>::max(), "pool window of ", max_count,
          " taps is too large for an int32 sum of ", name_of(dtype_of_v<T>), " values");
    r.by_count.resize(static_cast<std::size_t>(max_count + 1));
    for (std::int64_t c = 1; c <= max_count; ++c) {
      // npu_pow2 divides by shifting: only power-of-two divisors have a factor; avg_pool rejects a
      // window with any other count when it meets one.
      if constexpr (P::policy == RequantPolicy::npu_pow2)
        if ((c & (c - 1)) != 0) continue;
      // onnx_float: ORT's global pool multiplier fl(s_x / fl(s_y · count)); the others keep the
      // exact ratio s_x / (s_y · count).
      if constexpr (P::policy == RequantPolicy::onnx_float)
        r.by_count[static_cast<std::size_t>(c)] = P::make(ScaleRatio({s_x}, {s_y * static_cast<float>(c)}));
      else
        r.by_count[static_cast<std::size_t>(c)] = P::make(ScaleRatio({s_x}, {s_y, static_cast<float>(c)}));
    }
    return r;
  }
};

namespace detail {
// ORT's fp32 QLinearAveragePool window (see the header comment).
template <QuantStorage T, RequantPolicyType P>
void avg_pool_ort_float(const PoolGeometry& g, TensorView<const T> x, TensorView<T> y, const AvgPoolRequant<P>& rq) {
  const std::int64_t full = g.win.kernel[0] * g.win.kernel[1];
  for (std::int64_t n = 0; n < g.n; ++n)
    for (std::int64_t c = 0; c < g.c; ++c)
      for (std::int64_t oy = 0; oy < g.oh; ++oy)
        for (std::int64_t ox = 0; ox < g.ow; ++ox) {
          float sum = 0.0f;
          std::int64_t inside = 0;
          for_each_tap(g, oy, ox, [&](std::int64_t iy, std::int64_t ix) {
            sum += rq.s_x * static_cast<float>(static_cast<std::int32_t>(x(n, c, iy, ix)) - rq.x_zp);
            ++inside;
          });
          check(inside > 0, "pool window (", oy, ",", ox, ") covers no input pixel");
          const float avg = sum / static_cast<float>(g.count_include_pad ? full : inside);
          const std::int32_t q = ort::cvtps2dq(avg / rq.s_y + static_cast<float>(rq.y_zp));
          y(n, c, oy, ox) = static_cast<T>(std::clamp(q, rq.range.lo, rq.range.hi));
        }
}
}  // namespace detail

template <QuantStorage T, RequantPolicyType P>
void avg_pool(const PoolGeometry& g, TensorView<const T> x, TensorView<T> y, const AvgPoolRequant<P>& rq) {
  detail::check_pool_shapes(g, x.shape(), y.shape());
  if constexpr (P::policy == RequantPolicy::onnx_float) {
    const bool global = g.win.kernel[0] == g.h && g.win.kernel[1] == g.w && g.win.pads[0] == 0 &&
                        g.win.pads[1] == 0 && g.win.pads[2] == 0 && g.win.pads[3] == 0;
    if (!global) return detail::avg_pool_ort_float(g, x, y, rq);
  }
  for (std::int64_t n = 0; n < g.n; ++n)
    for (std::int64_t c = 0; c < g.c; ++c)
      for (std::int64_t oy = 0; oy < g.oh; ++oy)
        for (std::int64_t ox = 0; ox < g.ow; ++ox) {
          std::int32_t sum = 0;
          const std::int64_t count = detail::for_each_tap(g, oy, ox, [&](std::int64_t iy, std::int64_t ix) {
            sum += static_cast<std::int32_t>(x(n, c, iy, ix)) - rq.x_zp;
          });
          check(count > 0, "pool window (", oy, ",", ox, ") covers no input pixel");
          if constexpr (P::policy == RequantPolicy::npu_pow2)
            check((count & (count - 1)) == 0, "npu_pow2 average pool: window (", oy, ",", ox, ") divides by ", count,
                  ", not a power of two");
          y(n, c, oy, ox) = static_cast<T>(
              P::apply(sum, rq.by_count[static_cast<std::size_t>(count)], rq.y_zp, rq.range.lo, rq.range.hi));
        }
}

}  // namespace qnn::ref
// ---- end qnn/kernels/ref/pool.hpp ------------------------------------------------------------------

namespace qnn::cpu {

template <class T>
auto max_pool_kernel(const simd::KernelTable& t) -> void (*)(const simd::MaxPoolArgs&) {
  if constexpr (std::same_as<T, std::uint8_t>) return t.max_pool_u8;
  else if constexpr (std::same_as<T, std::int8_t>) return t.max_pool_i8;
  else if constexpr (std::same_as<T, std::int16_t>) return t.max_pool_i16;
  else if constexpr (std::same_as<T, float>) return t.max_pool_f32;
  else return nullptr;
}

// True when every output row and column has a window tap inside the input.
inline bool every_window_hits_input(const PoolGeometry& g) {
  const auto covers = [](std::int64_t out, std::int64_t in, std::int64_t k, std::int64_t s, std::int64_t d,
                         std::int64_t pad) {
    for (std::int64_t o = 0; o < out; ++o) {
      bool hit = false;
      for (std::int64_t t = 0; t < k && !hit; ++t) {
        const std::int64_t i = o * s - pad + t * d;
        hit = i >= 0 && i < in;
      }
      if (!hit) return false;
    }
    return true;
  };
  return covers(g.oh, g.h, g.win.kernel[0], g.win.strides[0], g.win.dilations[0], g.win.pads[0]) &&
         covers(g.ow, g.w, g.win.kernel[1], g.win.strides[1], g.win.dilations[1], g.win.pads[1]);
}

inline simd::MaxPoolArgs max_pool_args(const PoolGeometry& g) {
  simd::MaxPoolArgs a;
  a.h = g.h, a.w = g.w, a.oh = g.oh, a.ow = g.ow;
  a.kh = g.win.kernel[0], a.kw = g.win.kernel[1];
  a.sh = g.win.strides[0], a.sw = g.win.strides[1];
  a.dh = g.win.dilations[0], a.dw = g.win.dilations[1];
  a.pad_top = g.win.pads[0], a.pad_left = g.win.pads[1];
  return a;
}

// Scratch elements of T that max_pool_planes needs for planes of g's size.
inline std::int64_t max_pool_planes_scratch(const PoolGeometry& g) {
  return simd::max_pool_scratch_elems(max_pool_args(g));
}

// Pools `planes` contiguous H×W planes of g's size into OH×OW planes on the calling thread: the
// per-target rows, or the reference without a SIMD target. The caller has checked that every
// window hits the input. This is the unit a conv with a fused pooling calls per (image, group),
// while the group's output is still in cache (kernels/cpu/conv.hpp).
template <class T>
void max_pool_planes(const PoolGeometry& g, const T* x, T* y, std::int64_t planes, T* scratch) {
  const simd::KernelTable* t = simd::kernel_table();
  if (const auto kernel = t ? max_pool_kernel<T>(*t) : nullptr) {
    simd::MaxPoolArgs a = max_pool_args(g);
    a.x = x;
    a.y = y;
    a.planes = planes;
    a.scratch = scratch;
    kernel(a);
    return;
  }
  PoolGeometry one = g;
  one.n = 1;
  one.c = planes;
  ref::max_pool(one, TensorView<const T>(x, Shape{1, planes, g.h, g.w}), TensorView<T>(y, one.output_shape()));
}

// The pooling a conv runs on its int32 sums in its epilogue (simd::PoolSumsArgs): the per-target
// kernel, or the same maxima one output at a time.
inline void max_pool_sums(const simd::PoolSumsArgs& a) {
  const simd::KernelTable* t = simd::kernel_table();
  if (t && t->max_pool_sums_i32) return t->max_pool_sums_i32(a);
  for (std::int64_t s = 0; s < a.rows; ++s)
    for (std::int64_t grp = 0; grp < a.groups; ++grp) {
      const std::int32_t* src = a.acc + s * a.acc_stride + grp * a.kh * a.w;
      for (std::int64_t c = 0; c < a.ow; ++c) {
        std::int32_t best = src[c * a.kw];
        for (std::int64_t ky = 0; ky < a.kh; ++ky)
          for (std::int64_t kx = 0; kx < a.kw; ++kx) best = std::max(best, src[ky * a.w + c * a.kw + kx]);
        a.out[s * a.out_stride + grp * a.ow + c] = best;
      }
    }
}

template <class T>
void max_pool(const PoolGeometry& g, TensorView<const T> x, TensorView<T> y, const Exec& ex) {
  const simd::KernelTable* t = simd::kernel_table();
  const auto kernel = t ? max_pool_kernel<T>(*t) : nullptr;
  if (!kernel || !x.contiguous() || !y.contiguous() || x.shape() != Shape{g.n, g.c, g.h, g.w} ||
      y.shape() != g.output_shape() || !every_window_hits_input(g)) {
    ref::max_pool(g, x, y);  // also reports what is wrong with the shapes
    return;
  }
  const auto scratch = static_cast<std::size_t>(max_pool_planes_scratch(g));
  // Threads get at least 2^16 taps each (tens of microseconds): a batch-1 pool of the
  // Fashion-MNIST CNN (25 k taps) is not worth a fork-join.
  const std::int64_t taps = std::max<std::int64_t>(1, g.oh * g.ow * g.win.kernel[0] * g.win.kernel[1]);
  const std::int64_t grain = std::max<std::int64_t>(1, (std::int64_t{1} << 16) / taps);
  ex.parallel(g.n * g.c, [&](Workspace& ws, std::int64_t b, std::int64_t e) {
    max_pool_planes(g, x.data() + b * g.h * g.w, y.data() + b * g.oh * g.ow, e - b, ws.get<T>(scratch));
  }, grain);
}

}  // namespace qnn::cpu
// ---- end qnn/kernels/cpu/pool.hpp ------------------------------------------------------------------

namespace qnn::cpu {

// Weights of one conv layer as broadcast rows, group by group.
template <class T>  // std::int32_t (words of int16 pairs or byte quads) or float
struct PackedConvWeights {
  std::int64_t groups = 1, m_per_group = 0, k = 0, ksteps = 0;
  int step = 1;  // k per broadcast element: 2 (int16 pairs), 4 (bytes) or 1 (float)
  std::int64_t unit = 1;  // conv_channel_unit: `step` when k runs in channel units, else 1
  BytePairing pairing;    // bytes: paired quads and their fixes (kernels/cpu/u8s8.hpp)
  AlignedBuffer data;
  const T* group(std::int64_t g) const {
    return reinterpret_cast<const T*>(data.data()) + g * m_per_group * ksteps;
  }
};

// The k order of an integer layer packed `step` k per unit. In the weights' order (channel, kernel
// row, kernel column) a k-step is `step` consecutive taps, which im2col assembles for every pixel
// from `step` frame rows — for every tap, so each input value is handled K·step/C times. When the
// group's channels come in whole steps, k runs instead over (channel block, kernel row, kernel
// column, channel in block): a k-step is `step` channels at one tap, stored together in the frame
// (frame_input with `unit`), and im2col copies whole units. The unit is then `step`, else 1 (the
// weights' order: conv1 of the Fashion-MNIST CNN, one channel). Integer sums do not depend on the
// order, and the byte kernel's pair rule is checked on the pairs of the order packed.
inline std::int64_t conv_channel_unit(std::int64_t c_per_group, int step) {
  return c_per_group % step == 0 ? step : 1;
}

// w' = w − zw of output channel m and k-step element j in the order of `unit` (conv_channel_unit),
// for w: M × C/G × KH × KW (contiguous) and zero points one per output channel (or one for all).
template <class TW>
auto conv_weight_values(TensorView<const TW> w, std::span<const std::int32_t> w_zp, std::int64_t unit = 1) {
  const std::int64_t k = w.numel() / w.dim(0), taps = w.dim(2) * w.dim(3);
  return [flat = w.span(), w_zp, k, taps, unit](std::int64_t m, std::int64_t j) {
    const std::int32_t zw = w_zp[w_zp.size() == 1 ? 0 : static_cast<std::size_t>(m)];
    // j = (block·taps + tap)·unit + channel in block → weight (block·unit + channel in block, tap)
    const std::int64_t t = j / unit, kk = ((t / taps) * unit + j % unit) * taps + t % taps;
    return static_cast<std::int32_t>(flat[static_cast<std::size_t>(m * k + kk)]) - zw;
  };
}

// As int16 pairs, or as signed bytes when `bytes` (kernels/cpu/u8s8.hpp decides), in channel units
// where the channels allow (conv_channel_unit); bytes less the fixes of `pairing`.
template <class TW>
PackedConvWeights<std::int32_t> pack_conv_weights_int(TensorView<const TW> w, std::span<const std::int32_t> w_zp,
                                                       std::int64_t groups, bool bytes, BytePairing pairing = {}) {
  PackedConvWeights<std::int32_t> p;
  p.groups = groups;
  p.m_per_group = w.dim(0) / groups;
  p.k = w.numel() / w.dim(0);
  p.step = bytes ? 4 : 2;
  p.unit = conv_channel_unit(w.dim(1), p.step);
  p.ksteps = (p.k + p.step - 1) / p.step;
  p.data = AlignedBuffer(static_cast<std::size_t>(w.dim(0) * p.ksteps) * 4);
  auto* dst = reinterpret_cast<std::int32_t*>(p.data.data());
  const auto values = conv_weight_values(w, w_zp, p.unit);
  if (!bytes) {
    pack_bcast_words<std::int16_t>(dst, w.dim(0), p.k, p.ksteps, values);
    return p;
  }
  pack_bcast_words<std::int8_t>(dst, w.dim(0), p.k, p.ksteps, values);
  for (const ByteFix& f : pairing.fixes) {
    auto& word = reinterpret_cast<std::uint32_t&>(dst[f.row * p.ksteps + f.k / 4]);
    const int shift = 8 * static_cast<int>(f.k % 4);
    const auto byte = static_cast<std::int32_t>(static_cast<std::int8_t>(word >> shift)) - f.w;
    word = (word & ~(0xFFu << shift)) | ((static_cast<std::uint32_t>(byte) & 0xFFu) << shift);
  }
  p.pairing = std::move(pairing);
  return p;
}

template <class TW>
PackedConvWeights<float> pack_conv_weights_f32(TensorView<const TW> w, std::int64_t groups) {
  PackedConvWeights<float> p;
  p.groups = groups;
  p.m_per_group = w.dim(0) / groups;
  p.k = w.numel() / w.dim(0);
  p.ksteps = p.k;
  p.data = AlignedBuffer(static_cast<std::size_t>(w.dim(0) * p.k) * 4);
  const auto flat = w.span();
  pack_bcast_f32(reinterpret_cast<float*>(p.data.data()), w.dim(0), p.k,
                 [&](std::int64_t m, std::int64_t k) { return static_cast<float>(flat[static_cast<std::size_t>(m * p.k + k)]); });
  return p;
}

inline LaneLayout conv_lane_layout(const ConvGeometry& g, int per_step) {
  LaneLayout lay;
  lay.rows = g.oh * g.ow;
  lay.k = g.k();
  lay.nr = panel_lanes();
  lay.ksteps = (lay.k + per_step - 1) / per_step;
  return lay;
}

// Requantizes one block (rows = output channels c0.., cols = pixels l0..) into y (NCHW image).
template <class TOut, RequantPolicyType P>
void requantize_block(const std::int32_t* acc, std::int64_t acc_stride, std::int64_t rows, std::int64_t cols,
                      std::int64_t c0, std::span<const std::int32_t> bias, const OutputStage<P>& stage,
                      std::span<const float> onnx_mult, TOut* y, std::int64_t y_stride, bool channel_is_row) {
  const simd::KernelTable* t = simd::kernel_table();
  if constexpr (P::policy == RequantPolicy::onnx_float && Int8Storage<TOut>) {
    if (t) {
      simd::RequantArgs a;
      a.acc = acc;
      a.acc_stride = acc_stride;
      a.rows = rows;
      a.cols = cols;
      a.bias = bias.empty() ? nullptr : bias.data();
      a.mult = onnx_mult.data();
      a.per_channel = onnx_mult.size() > 1;
      a.channel_is_row = channel_is_row;
      a.channel0 = c0;
      a.zp = stage.zero_point;
      a.lo = stage.range.lo;
      a.hi = stage.range.hi;
      a.out = y;
      a.out_stride = y_stride;
      (std::same_as<TOut, std::uint8_t> ? t->requant_onnx_u8 : t->requant_onnx_i8)(a);
      return;
    }
  }
  for (std::int64_t r = 0; r < rows; ++r)
    for (std::int64_t c = 0; c < cols; ++c) {
      const std::int64_t ch = c0 + (channel_is_row ? r : c);
      const auto b = bias.empty() ? 0u : static_cast<std::uint32_t>(bias[static_cast<std::size_t>(ch)]);
      const auto v = static_cast<std::int32_t>(static_cast<std::uint32_t>(acc[r * acc_stride + c]) + b);
      y[r * y_stride + c] = static_cast<TOut>(stage(v, ch));
    }
}

// Work items are (image, group, pixel chunk). With at least as many (image, group) pairs as threads
// there is one chunk per pair; smaller batches (batch 1) split the output pixels, in whole panels,
// so that every thread has work — but only into chunks of at least kMinChunkMacs: a fork-join costs
// microseconds on an idle machine and can cost a scheduler time slice on a busy one, which a small
// layer (conv1 of the Fashion-MNIST CNN: 0.23 M MACs, about 20 µs) does not win back. A pixel's sums
// do not depend on which chunk computes it.
inline constexpr std::int64_t kMinChunkMacs = std::int64_t{1} << 20;

inline std::int64_t conv_chunks(const ConvGeometry& g, const LaneLayout& lay, const Exec& ex) {
  const std::int64_t pairs = g.n * g.groups;
  if (ex.threads() <= 1 || pairs >= ex.threads()) return 1;
  const std::int64_t pair_macs = g.m_per_group() * g.oh * g.ow * g.k();
  const std::int64_t wanted = (ex.threads() + pairs - 1) / pairs;
  return std::max<std::int64_t>(1, std::min({lay.panels(), wanted, pair_macs / kMinChunkMacs}));
}

// Max pooling on the sums. When an integer conv's requantization never decreases (onnx_float with
// factors ≥ 0: max commutes with it) and the pooling's windows tile the conv's output rows —
// kernel = stride, kw 1 or 2, no padding or dilation, every window whole: the 2×2/2 pool of most
// CNNs — the epilogue pools the int32 sums of each block (max_pool_sums) and only the pooled sums
// are requantized: a quarter of them for 2×2, in long rows once the group is done, with no pooling
// pass over staged outputs. The result is the unfused one bit for bit (docs/numerics.md §4.7).
// The lanes keep their order; GEMM blocks are cut at whole runs of KH output rows (KH·OW lanes) —
// every block a multiple of both the run and the panel width, at most kBlockPanels panels — so
// every window lies in one block, and rows no window covers are not computed. The bias is added to
// the pooled sums by the requantization: max commutes with adding a channel's constant, and the
// reference's bound (which includes the bias) keeps them in int32. The byte kernel's sums differ
// from the reference's by another per-channel constant (its bias, kernels/cpu/u8s8.hpp), which max
// commutes with as long as they do not wrap: the caller checks K·255·128 < 2^31.
//
// The lanes of one run of KH output rows when `pool` over g's output can run on the sums, else 0.
inline std::int64_t pool_sums_lanes(const ConvGeometry& g, const PoolGeometry& pool, std::int64_t nr) {
  const Window2D& w = pool.win;
  const std::int64_t run = w.kernel[0] * g.ow;
  const bool tiles = w.kernel == w.strides && (w.kernel[1] == 1 || w.kernel[1] == 2) &&
                     w.kernel[0] * w.kernel[1] > 1 && w.dilations == std::array<std::int64_t, 2>{1, 1} &&
                     w.pads == std::array<std::int64_t, 4>{0, 0, 0, 0} && pool.oh >= 1 && pool.ow >= 1 &&
                     pool.oh * w.kernel[0] <= g.oh && pool.ow * w.kernel[1] <= g.ow;
  return tiles && std::lcm(run, nr) <= kBlockPanels * nr ? run : 0;
}

// Where a conv writes. Plain: straight into y (N×M×OH×OW). With a max pooling fused after it, into
// y's N×M×POH×POW: on the sums (above) when `sums_run` > 0, with the group's pooled sums in the
// stage; otherwise each (image, group)'s output is staged in the thread's workspace and, once
// complete, pooled into y while it is still in cache: the full-size output never goes to memory
// (for conv1 of the Fashion-MNIST CNN at batch 256, 25.7 MB written and read again in fp32).
// Pooling only selects values, so the result is the unfused one bit for bit; the item that stages
// a group must then compute all of it, so pooled convs do not split an image's pixels between
// threads.
template <class TOut>
struct ConvOutput {
  TOut* y = nullptr;
  const PoolGeometry* pool = nullptr;  // over the conv's output (n, m, oh, ow); null: not pooled
  std::int64_t sums_run = 0;           // pool_sums_lanes when pooled on the sums, else 0

  bool staged() const { return pool && sums_run == 0; }
  std::int64_t pooled_plane() const { return pool->oh * pool->ow; }
  std::size_t stage_bytes(const ConvGeometry& g) const {
    if (!pool) return 0;
    if (sums_run > 0) return static_cast<std::size_t>(g.m_per_group() * pooled_plane()) * sizeof(std::int32_t);
    return static_cast<std::size_t>(g.m_per_group() * g.oh * g.ow + max_pool_planes_scratch(*pool)) * sizeof(TOut);
  }
  // Output channel `grp`·M/G of image n at pixel 0: in y, or in the stage.
  TOut* group_out(const ConvGeometry& g, std::int64_t n, std::int64_t grp, std::byte* stage) const {
    if (staged()) return reinterpret_cast<TOut*>(stage);
    return y + (n * g.m + grp * g.m_per_group()) * (pool ? pooled_plane() : g.oh * g.ow);
  }
  void finish(const ConvGeometry& g, std::int64_t n, std::int64_t grp, std::byte* stage) const {
    if (!staged()) return;
    const std::int64_t staged = g.m_per_group() * g.oh * g.ow;
    const auto* src = reinterpret_cast<const TOut*>(stage);
    TOut* dst = y + (n * g.m + grp * g.m_per_group()) * pool->oh * pool->ow;
    max_pool_planes(*pool, src, dst, g.m_per_group(), reinterpret_cast<TOut*>(stage) + staged);
  }
};

// The driver shared by integer and float convolution: per work item, frame the group's input
// (frame_input: elements x − sub, padding zx − sub; in units when the weights are packed in channel
// units, unit > 1), gather the chunk's panels, then gemm(lanes, chunk layout, grp, first pixel,
// gemm scratch, out, stage) with `out` the group's output (ConvOutput::group_out), finished once the
// item is done.
template <class Elem, class TIn, class TOut, class Gemm>
void conv2d_panels(const ConvGeometry& g, const TIn* x, std::int32_t zx, std::int32_t sub, std::int64_t unit,
                   const ConvOutput<TOut>& out, const Exec& ex, Gemm&& gemm) {
  constexpr int per_step = kStep<Elem>;
  LaneLayout lay = conv_lane_layout(g, per_step);
  if (out.sums_run > 0) lay.rows = out.pool->oh * out.sums_run;  // the rows windows cover
  const std::int64_t chunks = out.pool ? 1 : conv_chunks(g, lay, ex);
  const std::int64_t max_panels = (lay.panels() + chunks - 1) / chunks;
  const bool units = per_step > 1 && unit > 1;
  const bool direct = !units && frame_is_input<Elem, TIn>(g, sub);
  const auto aligned = [](std::size_t b) { return (b + 63) / 64 * 64; };
  const std::size_t lane_bytes = aligned(static_cast<std::size_t>(max_panels * lay.panel_elems(per_step)) * sizeof(Elem));
  // Pooling on the sums reads a little past a block's accumulators (simd::kPoolSumsOverRead).
  const std::size_t gemm_bytes =
      aligned(gemm_scratch_bytes() + (out.sums_run > 0 ? simd::kPoolSumsOverRead * sizeof(std::int32_t) : 0));
  const std::size_t frame_bytes = direct ? 0 : aligned(static_cast<std::size_t>(frame_elems(g)) * sizeof(Elem));
  const std::size_t pix_bytes = aligned(static_cast<std::size_t>(max_panels * lay.nr) * 8);
  const std::size_t tap_bytes = aligned(static_cast<std::size_t>(lay.k) * 8);
  const std::size_t stage_bytes = aligned(out.stage_bytes(g));
  ex.parallel(g.n * g.groups * chunks, [&](Workspace& ws, std::int64_t b, std::int64_t e) {
    std::byte* mem = ws.get(lane_bytes + gemm_bytes + frame_bytes + pix_bytes + tap_bytes + stage_bytes);
    auto* lanes = reinterpret_cast<Elem*>(mem);
    std::byte* scratch = mem + lane_bytes;
    auto* frame = reinterpret_cast<Elem*>(scratch + gemm_bytes);
    auto* pix = reinterpret_cast<std::int64_t*>(scratch + gemm_bytes + frame_bytes);
    auto* tap = reinterpret_cast<std::int64_t*>(scratch + gemm_bytes + frame_bytes + pix_bytes);
    std::byte* stage = scratch + gemm_bytes + frame_bytes + pix_bytes + tap_bytes;
    tap_offsets(g, tap, units ? unit : 1);
    std::int64_t framed = -1;  // the (image, group) pair whose frame is in `frame`
    for (std::int64_t item = b; item < e; ++item) {
      const std::int64_t pair = item / chunks, chunk = item % chunks;
      const std::int64_t n = pair / g.groups, grp = pair % g.groups;
      const TIn* img = x + n * g.c * g.h * g.w;
      const Elem* src = nullptr;
      if constexpr (sizeof(Elem) == sizeof(TIn)) {
        if (direct) src = reinterpret_cast<const Elem*>(img + grp * g.c_per_group() * g.h * g.w);
      }
      if (!src) {
        if (framed != pair) frame_input(g, img, zx, sub, grp, frame, units ? unit : 1);
        framed = pair;
        src = frame;
      }
      const std::int64_t p0 = chunk * lay.panels() / chunks, p1 = (chunk + 1) * lay.panels() / chunks;
      if (p0 == p1) continue;
      LaneLayout part = lay;
      part.rows = std::min(lay.rows, p1 * lay.nr) - p0 * lay.nr;
      pixel_offsets(g, p0 * lay.nr, lay.rows, (p1 - p0) * lay.nr, pix);
      if (units) {  // whole units: the gather of single k-steps, on 32-bit words
        LaneLayout words = lay;
        words.k = lay.ksteps;
        gather_panels(reinterpret_cast<const std::uint32_t*>(src), tap, words, pix, p1 - p0,
                      reinterpret_cast<std::uint32_t*>(lanes));
      } else {
        gather_panels(src, tap, lay, pix, p1 - p0, lanes);
      }
      gemm(lanes, part, grp, p0 * lay.nr, scratch, out.group_out(g, n, grp, stage), stage);
      out.finish(g, n, grp, stage);
    }
  }, 1);
}

// Integer conv. x: N×C×H×W contiguous; out.y: N×M×OH×OW (or the pooled shape) contiguous. `bias`
// and `byte_shift` are the ones the packing needs: the layer's bias for int16 weights (the shift
// is then unused), byte_kernel_bias's and byte_plan's for bytes.
template <QuantStorage TIn, QuantStorage TOut, RequantPolicyType P>
void conv2d_int(const ConvGeometry& g, const TIn* x, std::int32_t zx, std::int32_t byte_shift,
                const PackedConvWeights<std::int32_t>& w,
                std::span<const std::int32_t> bias, const OutputStage<P>& stage, std::span<const float> onnx_mult,
                const ConvOutput<TOut>& out, const Exec& ex) {
  const std::int64_t plane = g.oh * g.ow;
  const auto gemm = [&](const auto* lanes, const LaneLayout& part, std::int64_t grp, std::int64_t l0,
                        std::byte* scratch, TOut* ygrp, std::byte* stage_mem) {
    auto* acc_scratch = reinterpret_cast<std::int32_t*>(scratch);
    const ByteFixes fixes = byte_fixes(w.pairing, grp * w.m_per_group, w.m_per_group);
    if (out.sums_run == 0) {
      TOut* yimg = ygrp + l0;
      gemm_int(lanes, part, w.group(grp), w.m_per_group, fixes, acc_scratch,
               [&](std::int64_t s0, std::int64_t rows, std::int64_t c0, std::int64_t cols, const std::int32_t* acc,
                   std::int64_t stride) {
                 requantize_block(acc, stride, rows, cols, grp * w.m_per_group + s0, bias, stage, onnx_mult,
                                  yimg + s0 * plane + c0, plane, true);
               });
      return;
    }
    // Pooled on the sums (the item is the whole group: l0 = 0): blocks of whole runs pool into the
    // stage, which is requantized into y once complete.
    const std::int64_t pooled = out.pooled_plane();
    auto* sums = reinterpret_cast<std::int32_t*>(stage_mem);
    simd::PoolSumsArgs a;
    a.kh = out.pool->win.kernel[0];
    a.kw = out.pool->win.kernel[1];
    a.w = g.ow;
    a.ow = out.pool->ow;
    a.out_stride = pooled;
    const std::int64_t unit = std::lcm(out.sums_run, part.nr);  // lanes: whole runs, whole panels
    const std::int64_t block_panels = kBlockPanels * part.nr / unit * unit / part.nr;
    gemm_int(lanes, part, w.group(grp), w.m_per_group, fixes, acc_scratch,
             [&](std::int64_t s0, std::int64_t rows, std::int64_t c0, std::int64_t cols, const std::int32_t* acc,
                 std::int64_t stride) {
               a.acc = acc;
               a.acc_stride = stride;
               a.rows = rows;
               a.groups = cols / out.sums_run;
               const std::int64_t q0 = c0 / out.sums_run * a.ow;  // the block's first pooled pixel
               a.out = sums + s0 * pooled + q0;
               a.out_room = pooled - q0;  // later blocks of the row rewrite what lands past the block
               max_pool_sums(a);
             }, 0, -1, block_panels);
    requantize_block(sums, pooled, w.m_per_group, pooled, grp * w.m_per_group, bias, stage, onnx_mult, ygrp, pooled,
                     true);
  };
  if (w.step == 4) return conv2d_panels<std::uint8_t>(g, x, zx, byte_shift, w.unit, out, ex, gemm);
  conv2d_panels<std::int16_t>(g, x, zx, zx, w.unit, out, ex, gemm);
}

// Float conv (TIn float or bf16; weights packed as floats, bf16-rounded for bf16 layers).
template <class TIn>
void conv2d_float(const ConvGeometry& g, const TIn* x, const PackedConvWeights<float>& w, std::span<const float> bias,
                  float lo, float hi, const ConvOutput<float>& out, const Exec& ex) {
  const std::int64_t plane = g.oh * g.ow;
  conv2d_panels<float>(g, x, 0, 0, 1, out, ex, [&](const float* lanes, const LaneLayout& part, std::int64_t grp,
                                             std::int64_t l0, std::byte* scratch, float* ygrp, std::byte*) {
    F32Output o;
    o.bias = bias.empty() ? nullptr : bias.data() + grp * w.m_per_group;
    o.lo = lo;
    o.hi = hi;
    o.out = ygrp + l0;
    o.out_stride = plane;
    gemm_f32(lanes, part, w.group(grp), w.m_per_group, o, reinterpret_cast<float*>(scratch));
  });
}

}  // namespace qnn::cpu
// ---- end qnn/kernels/cpu/conv.hpp ------------------------------------------------------------------
// ---- begin qnn/kernels/cpu/u8s8.hpp ----------------------------------------------------------------
// When an integer conv or FC layer runs on bytes (u8 × s8, _mm*_maddubs_epi16) instead of int16
// pairs (kernels/cpu/pack.hpp), and the bias correction that keeps its sums the reference's.
//
// maddubs adds two u8·s8 products in int16, saturating. Activations enter as u = x − s (the layer's
// byte shift), weights as w' = w − zw. If every input lies in [s, s + R] (R ≤ 255: the span), a
// pair (w'0, w'1) of adjacent k can saturate only when R·(max(w'0, 0) + max(w'1, 0)) > 32767 or
// R·(min(w'0, 0) + min(w'1, 0)) < −32768. A layer in which no pair of any output channel can do so
// gets exactly Σ u·w' from the byte kernel, and
//   Σ (x − zx)·w' = Σ u·w' − (zx − s)·Σ w'
// is the reference's sum: a constant per output channel, folded into the bias once. The sums then
// agree modulo 2^32, which is all the reference's own int32 sum (bounded at prepare time) needs.
// What the inputs are known to be decides R:
//   - nothing (any 8-bit value): s = min(TIn), R = 255, so the positive parts of a pair may add up
//     to 128 and the negative ones to −128 — every weight in [−64, 64], as ONNX Runtime's
//     reduce_range writes them (qnn quantize --reduce-range), and many others;
//   - a range the producer guarantees (ConvOptions/GemmOptions::input_range, which a session
//     derives from a fused ReLU or Clip upstream: graph/passes/input_range.hpp): s = its low end,
//     R = its width. Symmetric int8 activations after a ReLU lie in [0, 127], and then any int8
//     weights are exact (127·(127 + 127) = 32258).
// The conv padding is the zero point, so the range is widened to hold zx first. Other layers keep
// the int16 kernel, exact for any weights. The point of bytes: vpmaddubsw does twice the
// multiplies of vpmaddwd per instruction, and patches and activations are half as large.

#include <algorithm>
#include <cstdint>
#include <optional>
#include <span>
#include <type_traits>
#include <vector>

namespace qnn::cpu {

// True when w'(c, k) (c < channels, k < K) are all signed bytes, which the byte kernel packs.
template <class Value>
bool byte_weights(std::int64_t channels, std::int64_t k, Value&& w) {
  for (std::int64_t c = 0; c < channels; ++c)
    for (std::int64_t j = 0; j < k; ++j) {
      const auto v = static_cast<std::int32_t>(w(c, j));
      if (v < -128 || v > 127) return false;
    }
  return true;
}

// The range a layer's TIn inputs are prepared for: `promised` (ConvOptions/GemmOptions::
// input_range), which must be a non-empty range of TIn, or all of TIn.
template <QuantStorage TIn>
IntRange prepared_input_range(const std::optional<IntRange>& promised) {
  if (!promised) return storage_range<TIn>();
  check(promised->lo <= promised->hi && storage_range<TIn>().contains(*promised), "input_range [", promised->lo, ", ",
        promised->hi, "] is not a range of ", dtype_of_v<TIn>);
  return *promised;
}

// Checks, on a run that relies on it, that every input of a rows × cols array lies in `r`: a byte
// layer prepared for a narrower range than its type's would otherwise saturate silently.
template <QuantStorage TIn>
void check_inputs_in(IntRange r, const TIn* x, std::int64_t rows, std::int64_t row_stride, std::int64_t cols,
                     std::int64_t col_stride) {
  if (r == storage_range<TIn>()) return;
  auto lo = static_cast<TIn>(r.lo), hi = static_cast<TIn>(r.hi);
  // A compile-time unit stride lets the compiler vectorize the scan (it runs before every GEMM).
  const auto scan = [&](auto stride) {
    for (std::int64_t i = 0; i < rows; ++i) {
      const TIn* row = x + i * row_stride;
      for (std::int64_t j = 0; j < cols; ++j) {
        lo = std::min(lo, row[j * stride]);
        hi = std::max(hi, row[j * stride]);
      }
    }
  };
  if (col_stride == 1)
    scan(std::integral_constant<std::int64_t, 1>{});
  else
    scan(col_stride);
  check(r.contains({lo, hi}), "an input value (", std::int32_t{lo < r.lo ? lo : hi}, ") lies outside the input_range [", r.lo, ", ",
        r.hi, "] the layer was prepared for");
}

// Splits the weights v of one int16 lane (at packed k = taps; n of them) so that R·(positive ones)
// ≤ 32767 and R·(negative ones) ≥ −32768, as `pos_max` = 32767 / R and `neg_min` = −(32768 / R)
// state it: the excess is taken from the largest weights of that sign, each down to 0 at most (a
// sign never flips), and recorded as fixes of row c (kernels/cpu/pack.hpp, ByteFix).
inline void split_byte_lane(std::int64_t c, const std::int64_t* taps, std::int32_t* v, int n, std::int32_t pos_max,
                            std::int32_t neg_min, std::vector<ByteFix>& fixes) {
  std::int32_t pos = 0, neg = 0;
  for (int t = 0; t < n; ++t) (v[t] > 0 ? pos : neg) += v[t];
  const auto take = [&](std::int32_t excess, std::int32_t sign) {
    while (excess > 0) {
      int t = 0;
      for (int u = 1; u < n; ++u)
        if (sign * v[u] > sign * v[t]) t = u;
      const std::int32_t d = std::min(excess, sign * v[t]);
      fixes.push_back({c, taps[t], sign * d});
      v[t] -= sign * d;
      excess -= d;
    }
  };
  if (pos > pos_max) take(pos - pos_max, 1);
  if (neg < neg_min) take(neg_min - neg, -1);
}

inline std::int32_t byte_pos_max(std::int32_t span) { return span == 0 ? 32767 : 32767 / span; }
inline std::int32_t byte_neg_min(std::int32_t span) { return span == 0 ? -32768 : -(32768 / span); }

// The fixes that make every pair (2j, 2j + 1) of every channel exact against unsigned bytes in
// [0, span] — a pair can saturate an int16 only when span·(its positive weights) > 32767 or
// span·(its negative weights) < −32768: none when no pair can. The weights must be signed bytes.
template <class Value>
std::vector<ByteFix> byte_pair_fixes(std::int64_t channels, std::int64_t k, std::int32_t span, Value&& w) {
  std::vector<ByteFix> fixes;
  for (std::int64_t c = 0; c < channels; ++c)
    for (std::int64_t j = 0; j < k; j += 2) {
      const std::int64_t taps[2] = {j, j + 1};
      std::int32_t v[2] = {static_cast<std::int32_t>(w(c, j)), j + 1 < k ? static_cast<std::int32_t>(w(c, j + 1)) : 0};
      split_byte_lane(c, taps, v, 2, byte_pos_max(span), byte_neg_min(span), fixes);
    }
  return fixes;
}

// Paired quads. The byte kernel widens each maddubs result with a vpmaddwd by ones: 2 multiply
// instructions per quad. Summing two quads' maddubs results in int16 first needs one vpmaddwd per
// two quads, 3 instead of 4 (the multiply pipes are what bounds the kernel), and each int16 lane
// then holds four products: for an even quad q and h ∈ {0, 1}, k = 4q + 2h, 4q + 2h + 1,
// 4q + 4 + 2h, 4q + 5 + 2h (a trailing odd quad stays alone). That sum is exact for every input in
// [0, R] when R·(its positive weights) ≤ 32767 and R·(its negative weights) ≥ −32768 (the int16 add
// wraps, so only the total matters; each pair already has no byte_pair_fixes). Trained
// weights nearly always do: each channel's scale is set by its largest weight, most lie far
// below it. The rest are split, w' = packed + fix (split_byte_lane), and the fixes are added to
// the sums by gemm_int (kernels/cpu/gemm.hpp).
// A fix costs about one scalar multiply-add per output pixel (conv) or input row (FC); the pairing
// saves about K/128 cycles on each, so a layer pairs when it needs at most one fix per 512 weights
// (the Fashion-MNIST CNN's A8W8 conv2: 13 fixes for 18,432 weights, fc1 267 for 1.38 M).
template <class Value>
BytePairing byte_quad_pairing(std::int64_t channels, std::int64_t k, std::int32_t span, Value&& w) {
  BytePairing p;
  const std::int64_t quads = (k + 3) / 4;
  if (quads < 2) return p;
  for (std::int64_t c = 0; c < channels; ++c)
    for (std::int64_t q = 0; q + 1 < quads; q += 2)
      for (std::int64_t h = 0; h < 2; ++h) {
        const std::int64_t taps[4] = {4 * q + 2 * h, 4 * q + 2 * h + 1, 4 * q + 4 + 2 * h, 4 * q + 5 + 2 * h};
        std::int32_t v[4] = {};
        for (int t = 0; t < 4; ++t)
          if (taps[t] < k) v[t] = static_cast<std::int32_t>(w(c, taps[t]));
        split_byte_lane(c, taps, v, 4, byte_pos_max(span), byte_neg_min(span), p.fixes);
      }
  p.paired = static_cast<std::int64_t>(p.fixes.size()) * 512 <= channels * k;
  if (!p.paired) p.fixes.clear();
  return p;
}

// The span R of a byte layer's unsigned inputs: its input range widened to hold the zero point (the
// conv padding).
inline std::int32_t byte_input_span(IntRange x, std::int32_t zx) {
  return std::max(x.hi, zx) - std::min(x.lo, zx);
}

// How a layer runs on bytes: its byte shift, and its paired quads (with their fixes) or the fixes
// that make its pairs exact.
struct BytePlan {
  std::int32_t shift = 0;
  BytePairing pairing;
};

// Weights per fix a layer whose pairs can saturate may need and still run on bytes. Bytes save
// about a quarter of the int16 kernel's time (a third of its multiply instructions; patches half
// as large). A conv's fix is a vector multiply-add over each panel's pixels, ~1/8 of a cycle per
// output: one per 64 weights costs ~1/8 of what bytes save (the U8S8 Fashion-MNIST conv2, 0..255
// inputs against full-range weights, needs one per 74). An FC's fix is a scalar multiply-add per
// input row, ~8× dearer: one per 512 weights, the paired quads' rule.
inline constexpr std::int64_t kConvWeightsPerPairFix = 64;
inline constexpr std::int64_t kFcWeightsPerPairFix = 512;

// The byte plan of a layer with TIn activations in `x` (zero point zx) and weights w', or nothing
// when it keeps int16: 8-bit activations, weights w' that are signed bytes, pairs that are exact
// (no byte_pair_fixes) or need at most one fix per `weights_per_fix` weights, and a target with a
// byte kernel — x86 SIMD, or none (the portable loops run either layout; bytes there keep their
// kernel tested everywhere); Highway's other SIMD targets keep int16. Under run-time dispatch the
// choice is made for the target active when the layer is prepared; any other x86 target or the
// portable loops compute the same sums from the same bytes. A layer whose pairs are exact may
// pair its quads (byte_quad_pairing); one that needs pair fixes widens every quad.
template <class TIn, class Value>
std::optional<BytePlan> byte_plan(IntRange x, std::int32_t zx, std::int64_t channels, std::int64_t k,
                                  std::int64_t weights_per_fix, Value&& w) {
  const simd::KernelTable* t = simd::kernel_table();
  if (sizeof(TIn) != 1 || (t && !t->gemm_u8s8)) return std::nullopt;
  if (!byte_weights(channels, k, w)) return std::nullopt;
  const std::int32_t span = byte_input_span(x, zx);
  BytePlan plan{std::min(x.lo, zx), {}};
  std::vector<ByteFix> fixes = byte_pair_fixes(channels, k, span, w);
  if (fixes.empty())
    plan.pairing = byte_quad_pairing(channels, k, span, w);
  else if (static_cast<std::int64_t>(fixes.size()) * weights_per_fix <= channels * k)
    plan.pairing.fixes = std::move(fixes);
  else
    return std::nullopt;
  return plan;
}

// The bias of a byte layer: bias[c] − (zx − shift)·Σ_k w'(c, k), modulo 2^32 like the kernels'
// sums (an empty bias counts as zeros).
template <class Value>
std::vector<std::int32_t> byte_kernel_bias(std::span<const std::int32_t> bias, std::int64_t channels, std::int64_t k,
                                           std::int32_t zx, std::int32_t shift, Value&& w) {
  const std::int64_t d = std::int64_t{zx} - shift;
  std::vector<std::int32_t> out(static_cast<std::size_t>(channels));
  for (std::int64_t c = 0; c < channels; ++c) {
    std::int64_t sum = 0;
    for (std::int64_t j = 0; j < k; ++j) sum += static_cast<std::int32_t>(w(c, j));
    const std::int64_t b = bias.empty() ? 0 : bias[static_cast<std::size_t>(c)];
    out[static_cast<std::size_t>(c)] = static_cast<std::int32_t>(static_cast<std::uint32_t>(b - d * sum));
  }
  return out;
}

}  // namespace qnn::cpu
// ---- end qnn/kernels/cpu/u8s8.hpp ------------------------------------------------------------------
// ---- begin qnn/kernels/ref/arith.hpp ---------------------------------------------------------------
// The arithmetic of one multiply-accumulate and of the epilogue, for every numeric family the
// reference loop nests (conv2d, gemm) run. A loop nest is written once; what a MAC means is a
// template parameter:
//
//   QuantizedArith  acc = bias[c] + Σ (x − zx)(w − zw[c]) in Acc (int32, or int64 for 16-bit
//                   activations); epilogue = OutputStage<P> (requantize, zero point, clamp).
//   IntegerArith    the same sum, returned as int32 (ConvInteger, MatMulInteger).
//   DequantizeArith the QuantizedArith sum, returned as fp32: fl(float(acc) · scale[c]) (a GEMM with
//                   a float output, ONNX Runtime's QGemm without y_scale).
//   FloatArith      acc = bias[c] + Σ x·w in fp32, k ascending; epilogue = clamp, then store as
//                   float or bf16 (round to nearest even). For bf16 inputs every product is exact
//                   in fp32 (8-bit significands), so only the additions round.
//
// Overflow: QuantizedArith and IntegerArith check, when made, that no accumulator can overflow for
// these weights: max|x − zx| · max_c Σ_k |w − zw[c]| + max|bias| must fit Acc (and 2^47 for int64, the
// domain of TFLite's wide requantization). Using the real weights makes the bound tight: a layer
// that passes can never overflow, whatever its input.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <span>
#include <vector>

namespace qnn::ref {

// int32 accumulators for 8-bit activations, int64 for 16-bit ones (A16W8).
template <QuantStorage TIn>
using accumulator_t = std::conditional_t<(sizeof(TIn) == 1), std::int32_t, std::int64_t>;

// Calls f(index array) for every element of `shape`, row-major.
template <class F>
void for_each_index(const Shape& shape, F&& f) {
  if (shape.numel() == 0) return;
  std::array<std::int64_t, Shape::kMaxRank> idx{};
  const int r = shape.rank();
  while (true) {
    f(idx);
    int a = r - 1;
    for (; a >= 0; --a) {
      if (++idx[static_cast<std::size_t>(a)] < shape[a]) break;
      idx[static_cast<std::size_t>(a)] = 0;
    }
    if (a < 0) return;
  }
}

template <class T>
T& at(const TensorView<T>& v, const std::array<std::int64_t, Shape::kMaxRank>& idx) {
  std::int64_t off = 0;
  for (int a = 0; a < v.rank(); ++a) off += idx[static_cast<std::size_t>(a)] * v.strides()[static_cast<std::size_t>(a)];
  return v.data()[off];
}

// The worst |accumulator| over output channels, bias excluded: max_c max|x − zx| · Σ_k |w − zw[c]|.
// `channel_axis` is the weight axis that indexes output channels (0 for conv weights M×C×KH×KW,
// 1 for GEMM weights K×N).
template <QuantStorage TIn, QuantStorage TW>
std::int64_t accumulator_bound(TensorView<const TW> w, int channel_axis, std::int32_t x_zp,
                               std::span<const std::int32_t> w_zp) {
  const std::int64_t x_dev = std::max<std::int64_t>(std::int64_t{max_of<TIn>()} - x_zp,
                                                    std::int64_t{x_zp} - min_of<TIn>());
  const int ax = w.shape().normalize_axis(channel_axis);
  const std::int64_t channels = w.dim(ax);
  check(w_zp.size() == 1 || static_cast<std::int64_t>(w_zp.size()) == channels, "weight has ",
        channels, " channels but ", w_zp.size(), " zero points");
  std::vector<std::int64_t> wsum(static_cast<std::size_t>(channels), 0);
  for_each_index(w.shape(), [&](const auto& idx) {
    const std::int64_t c = idx[static_cast<std::size_t>(ax)];
    const std::int32_t zw = w_zp[w_zp.size() == 1 ? 0 : static_cast<std::size_t>(c)];
    wsum[static_cast<std::size_t>(c)] += std::abs(std::int64_t{at(w, idx)} - zw);
  });
  std::int64_t worst = 0;
  for (std::int64_t s : wsum) worst = std::max(worst, x_dev * s);
  return worst;
}

// The worst-case |accumulator| when the weights are not known in advance (a MatMul of two
// activations): every term at its extreme.
template <QuantStorage TIn, QuantStorage TW>
std::int64_t worst_case_bound(std::int64_t k, std::int32_t x_zp, std::int32_t w_zp) {
  const std::int64_t x_dev = std::max<std::int64_t>(std::int64_t{max_of<TIn>()} - x_zp, std::int64_t{x_zp} - min_of<TIn>());
  const std::int64_t w_dev = std::max<std::int64_t>(std::int64_t{max_of<TW>()} - w_zp, std::int64_t{w_zp} - min_of<TW>());
  return k * x_dev * w_dev;
}

template <class Acc>
void check_accumulator_fits(std::int64_t bound) {
  constexpr std::int64_t limit = std::same_as<Acc, std::int32_t>
                                     ? std::int64_t{std::numeric_limits<std::int32_t>::max()}
                                     : (std::int64_t{1} << 47) - 1;
  check(bound <= limit, "the accumulator can reach ", bound, ", above the ",
        std::same_as<Acc, std::int32_t> ? "int32" : "2^47 (int64 requantization)", " limit ", limit,
        " for these weights");
}

// Σ (x − zx)(w − zw[c]) (+ bias[c]), requantized by an OutputStage.
template <QuantStorage TIn, RequantPolicyType P, QuantStorage TOut>
struct QuantizedArith {
  using Acc = accumulator_t<TIn>;
  std::int32_t x_zp = 0;
  std::vector<std::int32_t> w_zp;  // 1 or one per channel
  std::vector<Acc> bias;           // empty or one per channel
  OutputStage<P> out;

  // `bound` is the worst |accumulator| without bias (accumulator_bound or worst_case_bound); the
  // constructor adds the bias and checks that the sum fits Acc.
  QuantizedArith(std::int64_t bound, std::int32_t x_zero_point, std::vector<std::int32_t> w_zero_points,
                 std::vector<Acc> b, OutputStage<P> stage)
      : x_zp(x_zero_point), w_zp(std::move(w_zero_points)), bias(std::move(b)), out(std::move(stage)) {
    qnn::detail::check_zero_point<TIn>(x_zp);
    check(!w_zp.empty(), "weight zero points are missing");
    std::int64_t max_bias = 0;
    for (Acc v : bias) max_bias = std::max<std::int64_t>(max_bias, v < 0 ? -std::int64_t{v} : std::int64_t{v});
    check_accumulator_fits<Acc>(bound + max_bias);
    // TFLite's 16×8 rule (multiply_by_q31_wide) is defined for shift ≤ 7, i.e. multipliers < 2^7.
    if constexpr (std::same_as<Acc, std::int64_t> && std::same_as<typename P::Channel, Q31>)
      for (const Q31& ch : out.channels)
        check(ch.shift <= 7, "requantization multiplier 2^", ch.shift - 1, " or more is outside TFLite's 16x8 rule",
              " for 16-bit activations (multipliers must be below 2^7)");
  }

  Acc init(std::int64_t c) const { return bias.empty() ? Acc{0} : bias[static_cast<std::size_t>(c)]; }
  template <class TX, class TW>
  Acc mac(Acc acc, TX x, TW w, std::int64_t c) const {
    const std::int32_t zw = w_zp[w_zp.size() == 1 ? 0 : static_cast<std::size_t>(c)];
    return acc + (static_cast<Acc>(x) - x_zp) * (static_cast<Acc>(w) - zw);
  }
  TOut finish(Acc acc, std::int64_t c) const { return static_cast<TOut>(out(acc, c)); }
};

// Σ (x − zx)(w − zw[c]) as int32: ConvInteger / MatMulInteger, no requantization.
template <Int8Storage TIn>
struct IntegerArith {
  using Acc = std::int32_t;
  std::int32_t x_zp = 0;
  std::vector<std::int32_t> w_zp;

  IntegerArith(std::int64_t bound, std::int32_t x_zero_point, std::vector<std::int32_t> w_zero_points)
      : x_zp(x_zero_point), w_zp(std::move(w_zero_points)) {
    qnn::detail::check_zero_point<TIn>(x_zp);
    check(!w_zp.empty(), "weight zero points are missing");
    check_accumulator_fits<Acc>(bound);
  }
  Acc init(std::int64_t) const { return 0; }
  template <class TX, class TW>
  Acc mac(Acc acc, TX x, TW w, std::int64_t c) const {
    const std::int32_t zw = w_zp[w_zp.size() == 1 ? 0 : static_cast<std::size_t>(c)];
    return acc + (static_cast<Acc>(x) - x_zp) * (static_cast<Acc>(w) - zw);
  }
  std::int32_t finish(Acc acc, std::int64_t) const { return acc; }
};

// Σ (x − zx)(w − zw[c]) (+ bias[c]) in Acc, then y = fl(float(acc) · scale[c]): the accumulator in
// real units. float(acc) rounds to nearest even above 2^24.
template <QuantStorage TIn>
struct DequantizeArith {
  using Acc = accumulator_t<TIn>;
  std::int32_t x_zp = 0;
  std::vector<std::int32_t> w_zp;  // 1 or one per channel
  std::vector<Acc> bias;           // empty or one per channel
  std::vector<float> scale;        // 1 or one per channel

  DequantizeArith(std::int64_t bound, std::int32_t x_zero_point, std::vector<std::int32_t> w_zero_points,
                  std::vector<Acc> b, std::vector<float> scales)
      : x_zp(x_zero_point), w_zp(std::move(w_zero_points)), bias(std::move(b)), scale(std::move(scales)) {
    qnn::detail::check_zero_point<TIn>(x_zp);
    check(!w_zp.empty(), "weight zero points are missing");
    check(!scale.empty(), "output scales are missing");
    std::int64_t max_bias = 0;
    for (Acc v : bias) max_bias = std::max<std::int64_t>(max_bias, v < 0 ? -std::int64_t{v} : std::int64_t{v});
    check_accumulator_fits<Acc>(bound + max_bias);
  }

  Acc init(std::int64_t c) const { return bias.empty() ? Acc{0} : bias[static_cast<std::size_t>(c)]; }
  template <class TX, class TW>
  Acc mac(Acc acc, TX x, TW w, std::int64_t c) const {
    const std::int32_t zw = w_zp[w_zp.size() == 1 ? 0 : static_cast<std::size_t>(c)];
    return acc + (static_cast<Acc>(x) - x_zp) * (static_cast<Acc>(w) - zw);
  }
  float finish(Acc acc, std::int64_t c) const {
    return static_cast<float>(acc) * scale[scale.size() == 1 ? 0 : static_cast<std::size_t>(c)];
  }
};

// fp32 (or bf16-input, fp32-accumulate) MAC with an optional fused clamp.
template <class TOut>
struct FloatArith {
  using Acc = float;
  std::vector<float> bias;  // empty or one per channel
  float lo = -std::numeric_limits<float>::infinity();
  float hi = std::numeric_limits<float>::infinity();

  Acc init(std::int64_t c) const { return bias.empty() ? 0.0f : bias[static_cast<std::size_t>(c)]; }
  template <class TX, class TW>
  Acc mac(Acc acc, TX x, TW w, std::int64_t) const {
    // An explicit fused multiply-add: GCC contracts `acc + x * w` or not depending on the
    // consumer's -march and -ffp-contract, and the reference must not depend on either.
    return std::fma(static_cast<float>(x), static_cast<float>(w), acc);
  }
  TOut finish(Acc acc, std::int64_t) const {
    const float v = std::min(std::max(acc, lo), hi);
    if constexpr (std::same_as<TOut, bf16>)
      return bf16(v);
    else
      return v;
  }
};

}  // namespace qnn::ref
// ---- end qnn/kernels/ref/arith.hpp -----------------------------------------------------------------
// ---- begin qnn/kernels/ref/conv2d.hpp --------------------------------------------------------------
// Reference 2-D convolution: the spec every fast conv kernel must equal.
//
// y[n,m,oy,ox] = finish( init(m) + Σ_{ci,ky,kx} mac(x[n, g·C/G+ci, iy, ix], w[m, ci, ky, kx]) )
//   g = m / (M/G), iy = oy·stride_h − pad_top + ky·dil_h, ix likewise; taps outside the input are
//   skipped. For quantized arithmetic a skipped tap is a padded value equal to the input zero point,
//   whose (x − zx) term is zero, so padding respects the zero point by construction.
// The sum runs ci, ky, kx ascending; that order defines the float result (integer results do not
// depend on order). Groups cover depthwise (G = C = M/multiplier) and grouped convolution.
//
// Accumulator bound: see arith.hpp (checked when the arithmetic is made, from the real weights).

#include <cstdint>

namespace qnn::ref {

template <class Arith, class TX, class TW, class TY>
void conv2d(const ConvGeometry& g, TensorView<const TX> x, TensorView<const TW> w, TensorView<TY> y,
            const Arith& arith) {
  check(x.shape() == Shape{g.n, g.c, g.h, g.w}, "conv2d: input ", x.shape(), " does not match geometry");
  check(w.shape() == Shape{g.m, g.c_per_group(), g.win.kernel[0], g.win.kernel[1]},
        "conv2d: weight ", w.shape(), " does not match geometry");
  check(y.shape() == g.output_shape(), "conv2d: output ", y.shape(), " should be ", g.output_shape());

  const std::int64_t cpg = g.c_per_group();
  const std::int64_t mpg = g.m_per_group();
  const auto [kh, kw] = g.win.kernel;
  const auto [sh, sw] = g.win.strides;
  const auto [dh, dw] = g.win.dilations;
  const std::int64_t pad_top = g.win.pads[0];
  const std::int64_t pad_left = g.win.pads[1];

  for (std::int64_t n = 0; n < g.n; ++n) {
    for (std::int64_t m = 0; m < g.m; ++m) {
      const std::int64_t c0 = (m / mpg) * cpg;  // first input channel of m's group
      for (std::int64_t oy = 0; oy < g.oh; ++oy) {
        for (std::int64_t ox = 0; ox < g.ow; ++ox) {
          auto acc = arith.init(m);
          for (std::int64_t ci = 0; ci < cpg; ++ci) {
            for (std::int64_t ky = 0; ky < kh; ++ky) {
              const std::int64_t iy = oy * sh - pad_top + ky * dh;
              if (iy < 0 || iy >= g.h) continue;
              for (std::int64_t kx = 0; kx < kw; ++kx) {
                const std::int64_t ix = ox * sw - pad_left + kx * dw;
                if (ix < 0 || ix >= g.w) continue;
                acc = arith.mac(acc, x(n, c0 + ci, iy, ix), w(m, ci, ky, kx), m);
              }
            }
          }
          y(n, m, oy, ox) = arith.finish(acc, m);
        }
      }
    }
  }
}

}  // namespace qnn::ref
// ---- end qnn/kernels/ref/conv2d.hpp ----------------------------------------------------------------
// ---- begin qnn/kernels/weights.hpp -----------------------------------------------------------------
// Weight preparation shared by the layer entry points: private dense copies of the caller's
// weights, and the per-output-channel view of a weight's quantization.

#include <cstdint>
#include <string_view>
#include <vector>

namespace qnn {

// A dense row-major copy of any (possibly strided) view.
template <class T>
Tensor dense_copy(TensorView<const T> v) {
  Tensor t(dtype_of_v<T>, v.shape());
  auto out = t.view<T>();
  ref::for_each_index(v.shape(), [&](const auto& idx) { ref::at(out, idx) = ref::at(v, idx); });
  return t;
}

// A dense copy converted to T (float, or bf16 rounded to nearest even).
template <class T>
Tensor converted_copy(TensorView<const float> v) {
  Tensor t(dtype_of_v<T>, v.shape());
  auto out = t.view<T>();
  ref::for_each_index(v.shape(), [&](const auto& idx) { ref::at(out, idx) = T(ref::at(v, idx)); });
  return t;
}

struct ChannelQuant {
  std::vector<float> scales;
  std::vector<std::int32_t> zero_points;
};

// Scales and zero points of a weight, one per output channel along `axis`. Per-tensor schemes are
// broadcast; per-channel ones must run along `axis` and have `channels` entries.
template <QuantParams WQ>
ChannelQuant weight_channel_params(const WQ& q, int axis, std::int64_t channels, std::string_view what) {
  ChannelQuant out;
  if constexpr (WQ::per_channel) {
    check(q.axis == axis, what, ": per-channel quantization must run along axis ", axis,
          " (output channels), not ", q.axis);
    check(q.channels() == channels, what, ": ", q.channels(), " channel scales for ", channels,
          " output channels");
  }
  for (std::int64_t c = 0; c < channels; ++c) {
    const std::int64_t i = WQ::per_channel ? c : 0;
    out.scales.push_back(q.scale_at(i));
    out.zero_points.push_back(q.zero_point_at(i));
  }
  return out;
}

}  // namespace qnn
// ---- end qnn/kernels/weights.hpp -------------------------------------------------------------------

namespace qnn {

struct ConvOptions {
  Window2D window;  // strides, dilations, pads; the kernel size comes from the weights
  std::int64_t groups = 1;
  RequantPolicy policy = RequantPolicy::onnx_float;
  ActivationClamp activation;  // fused ReLU / Clip
  bool reference = false;       // always run the scalar reference kernel
  // The values the input is known to take (quantized integers), when narrower than its type: lets
  // more layers run the byte kernel (kernels/cpu/u8s8.hpp). A session derives it from a fused ReLU
  // or Clip upstream; a run that relies on it checks it and fails on a value outside.
  std::optional<IntRange> input_range;
};

// Checks y against the conv's output, or with a fused pooling against the pooling's.
inline void check_conv_output(const ConvGeometry& g, const PoolGeometry* pool, const Shape& y) {
  if (!pool) {
    check(y == g.output_shape(), "conv2d: output ", y, " should be ", g.output_shape());
    return;
  }
  const Shape pooled{pool->n, pool->c, pool->h, pool->w};
  check(pooled == g.output_shape(), "conv2d: the fused pooling is over ", pooled, " but the conv's output is ",
        g.output_shape());
  check(y == pool->output_shape(), "conv2d: pooled output ", y, " should be ", pool->output_shape());
}

// Runs conv(out, pool) with y checked against the conv's or the fused pooling's output. A fused
// pooling runs as its own pass over a full-size temporary when the conv takes its reference path or
// when some window covers no input pixel (cpu::max_pool then reports it): conv(temporary, nullptr),
// then cpu::max_pool into y. Only then does a run allocate; graph/passes/fuse_pool.hpp fuses neither
// case in a session.
template <class TOut, class Conv>
void run_with_pool(const ConvGeometry& g, const PoolGeometry* pool, bool fast, TensorView<TOut> y,
                   const cpu::Exec& ex, Conv&& conv) {
  check_conv_output(g, pool, y.shape());
  if (pool && (!fast || !cpu::every_window_hits_input(*pool))) {
    Tensor full(dtype_of_v<TOut>, g.output_shape());
    conv(full.view<TOut>(), nullptr);
    cpu::max_pool(*pool, std::as_const(full).view<TOut>(), y, ex);
    return;
  }
  conv(y, pool);
}

template <QuantStorage TIn, Int8Storage TW, QuantStorage TOut>
class QuantizedConv2D {
 public:
  using Acc = ref::accumulator_t<TIn>;

  template <QuantParams XQ, QuantParams WQ, QuantParams YQ>
  QuantizedConv2D(const XQ& xq, QView<const TW, WQ> w, std::span<const std::int32_t> bias, const YQ& yq,
                  const ConvOptions& opt)
      : opt_(opt),
        input_range_(cpu::prepared_input_range<TIn>(opt.input_range)),
        weights_(dense_copy(w.data)),
        arith_(make_arith(xq, w.quant, bias, yq)) {
    std::visit([&](const auto& a) {
      const auto wv = std::as_const(weights_).view<TW>();
      const std::span<const std::int32_t> zw(a.w_zp);
      // In the byte packing's k order: the pair rule is about the pairs it packs.
      const auto values = cpu::conv_weight_values(wv, zw, cpu::conv_channel_unit(wv.dim(1), 4));
      const std::int64_t m = wv.dim(0), k = wv.numel() / m;
      std::optional<cpu::BytePlan> plan =
          cpu::byte_plan<TIn>(input_range_, a.x_zp, m, k, cpu::kConvWeightsPerPairFix, values);
      if (plan) byte_shift_ = plan->shift;
      packed_ = cpu::pack_conv_weights_int(wv, zw, opt_.groups, plan.has_value(),
                                           plan ? std::move(plan->pairing) : cpu::BytePairing{});
      if constexpr (std::same_as<Acc, std::int32_t>)
        fast_bias_ = byte_shift_ ? cpu::byte_kernel_bias(a.bias, m, k, a.x_zp, *byte_shift_, values) : a.bias;
      if constexpr (decltype(a.out)::policy_type::policy == RequantPolicy::onnx_float)
        for (const auto& c : a.out.channels) onnx_mult_.push_back(c.multiplier);
    }, arith_);
    // A fused max pooling may then run on the sums (kernels/cpu/conv.hpp, pool_sums_lanes): max
    // commutes with a requantization that never decreases, as onnx_float's does with factors ≥ 0,
    // and with the byte kernel's per-channel offset while its sums cannot wrap.
    const std::int64_t k = weights_.numel() / weights_.shape()[0];
    pool_sums_ = !onnx_mult_.empty() && (!byte_shift_ || k * 255 * 128 < (std::int64_t{1} << 31)) &&
                 std::all_of(onnx_mult_.begin(), onnx_mult_.end(), [](float m) { return std::isfinite(m) && m >= 0; });
    static_assert(!XQ::per_channel, "conv2d: activations must be quantized per tensor");
    static_assert(!YQ::per_channel, "conv2d: outputs must be quantized per tensor");
    static_assert(std::same_as<typename XQ::storage_type, TIn>, "conv2d: input scheme and storage type differ");
    static_assert(std::same_as<typename YQ::storage_type, TOut>, "conv2d: output scheme and storage type differ");
  }

  ConvGeometry geometry(const Shape& x) const {
    return make_conv_geometry(x, weights_.shape(), opt_.window, opt_.groups);
  }

  // True when the fast path runs the u8×s8 byte kernel (kernels/cpu/u8s8.hpp), false for int16.
  bool byte_kernel() const { return byte_shift_.has_value(); }
  // The byte kernel's paired quads or pair fixes (kernels/cpu/u8s8.hpp, byte_plan).
  const cpu::BytePairing& byte_pairing() const { return packed_.pairing; }

  // With `pool` (a max pooling over this conv's output, fused by graph/passes/fuse_pool.hpp), y is
  // the pooled output.
  void run(TensorView<const TIn> x, TensorView<TOut> y, const cpu::Exec& ex, const PoolGeometry* pool = nullptr) const {
    const ConvGeometry g = geometry(x.shape());
    const bool fast_x = !opt_.reference && std::same_as<Acc, std::int32_t> && x.contiguous();
    run_with_pool(g, pool, fast_x && y.contiguous(), y, ex, [&](TensorView<TOut> out, const PoolGeometry* p) {
      std::visit([&](const auto& arith) {
        if constexpr (std::same_as<Acc, std::int32_t>) {
          if (fast_x && out.contiguous()) {
            if (byte_shift_) cpu::check_inputs_in(input_range_, x.data(), 1, 0, x.numel(), 1);
            cpu::ConvOutput<TOut> o{out.data(), p};
            if (p && pool_sums_) o.sums_run = cpu::pool_sums_lanes(g, *p, cpu::panel_lanes());
            cpu::conv2d_int(g, x.data(), arith.x_zp, byte_shift_.value_or(0), packed_, fast_bias_, arith.out,
                            onnx_mult_, o, ex);
            return;
          }
        }
        ref::conv2d(g, x, weights_.view<TW>(), out, arith);
      }, arith_);
    });
  }
  void run(TensorView<const TIn> x, TensorView<TOut> y) const {
    cpu::LocalExec local;
    run(x, y, local.exec());
  }

 private:
  using ArithVariant = std::variant<ref::QuantizedArith<TIn, OnnxFloat, TOut>,
                                    ref::QuantizedArith<TIn, TfliteDoubleRound, TOut>,
                                    ref::QuantizedArith<TIn, TfliteSingleRound, TOut>,
                                    ref::QuantizedArith<TIn, NpuPow2, TOut>>;
  template <QuantParams XQ, QuantParams WQ, QuantParams YQ>
  ArithVariant make_arith(const XQ& xq, const WQ& wq, std::span<const std::int32_t> bias, const YQ& yq) const {
    check(weights_.shape().rank() == 4, "conv2d: weight must be 4-D (M,C/groups,KH,KW), got ", weights_.shape());
    const std::int64_t m = weights_.shape()[0];
    const auto per_channel = weight_channel_params(wq, 0, m, "conv2d weight");
    check(bias.empty() || static_cast<std::int64_t>(bias.size()) == m, "conv2d: bias has ", bias.size(),
          " values for ", m, " output channels");
    const std::vector<Acc> wide_bias(bias.begin(), bias.end());
    return with_context("conv2d (" + std::string(name_of(opt_.policy)) + ")", [&] {
      return visit_policy(opt_.policy, [&](auto policy) -> ArithVariant {
        using P = decltype(policy);
        auto stage = make_output_stage<P, TOut>(xq.scale_at(0), per_channel.scales, yq.scale_at(0),
                                                yq.zero_point_at(0), opt_.activation);
        const std::int64_t bound = ref::accumulator_bound<TIn, TW>(weights_.view<TW>(), 0, xq.zero_point_at(0),
                                                                  per_channel.zero_points);
        return ref::QuantizedArith<TIn, P, TOut>(bound, xq.zero_point_at(0), per_channel.zero_points,
                                                 wide_bias, std::move(stage));
      });
    });
  }

  ConvOptions opt_;
  IntRange input_range_;  // opt_.input_range, or all of TIn
  Tensor weights_;
  ArithVariant arith_;
  std::optional<std::int32_t> byte_shift_;  // set when the byte kernel runs: inputs enter as x − shift
  cpu::PackedConvWeights<std::int32_t> packed_;
  std::vector<std::int32_t> fast_bias_;  // the bias the packing needs (byte_kernel_bias for bytes)
  std::vector<float> onnx_mult_;  // the onnx_float multipliers, for the vectorized epilogue
  bool pool_sums_ = false;        // a fused pooling may take the max of the sums (see the constructor)
};

// fp32 activations and weights, or bf16 ones (T = bf16: weights rounded to bf16 once, products exact
// in fp32, fp32 accumulation, fp32 output).
template <class T>
  requires std::same_as<T, float> || std::same_as<T, bf16>
class FloatConv2D {
 public:
  FloatConv2D(TensorView<const float> w, std::span<const float> bias, const ConvOptions& opt)
      : opt_(opt), weights_(converted_copy<T>(w)) {
    check(w.rank() == 4, "conv2d: weight must be 4-D (M,C/groups,KH,KW), got ", w.shape());
    packed_ = cpu::pack_conv_weights_f32(std::as_const(weights_).view<T>(), opt.groups);
    check(bias.empty() || static_cast<std::int64_t>(bias.size()) == w.dim(0), "conv2d: bias has ",
          bias.size(), " values for ", w.dim(0), " output channels");
    arith_.bias.assign(bias.begin(), bias.end());
    if (opt.activation.kind != FusedActivation::none) {
      arith_.lo = opt.activation.min;
      arith_.hi = opt.activation.max;
    }
  }

  ConvGeometry geometry(const Shape& x) const {
    return make_conv_geometry(x, weights_.shape(), opt_.window, opt_.groups);
  }
  // With `pool`, y is the pooled output (as QuantizedConv2D::run).
  void run(TensorView<const T> x, TensorView<float> y, const cpu::Exec& ex, const PoolGeometry* pool = nullptr) const {
    const ConvGeometry g = geometry(x.shape());
    const bool fast_x = !opt_.reference && x.contiguous();
    run_with_pool(g, pool, fast_x && y.contiguous(), y, ex, [&](TensorView<float> out, const PoolGeometry* p) {
      if (fast_x && out.contiguous())
        cpu::conv2d_float(g, x.data(), packed_, arith_.bias, arith_.lo, arith_.hi, cpu::ConvOutput<float>{out.data(), p}, ex);
      else
        ref::conv2d(g, x, weights_.view<T>(), out, arith_);
    });
  }
  void run(TensorView<const T> x, TensorView<float> y) const {
    cpu::LocalExec local;
    run(x, y, local.exec());
  }

 private:
  ConvOptions opt_;
  Tensor weights_;
  ref::FloatArith<float> arith_;
  cpu::PackedConvWeights<float> packed_;
};

// One-shot forms: prepare and run.
template <class TIn, class XQ, class TW, class WQ, class TOut, class YQ>
void conv2d(QView<const TIn, XQ> x, QView<const TW, WQ> w, std::span<const std::int32_t> bias,
            QView<TOut, YQ> y, const ConvOptions& opt) {
  QuantizedConv2D<TIn, TW, TOut>(x.quant, w, bias, y.quant, opt).run(x.data, y.data);
}

}  // namespace qnn
// ---- end qnn/kernels/conv2d.hpp --------------------------------------------------------------------
// ---- begin qnn/kernels/gemm.hpp --------------------------------------------------------------------
// GEMM / fully connected / MatMul entry points: quantized, fp32 and bf16.
//
// Weights B are [K,N], or [N,K] with trans_b (the layout of a PyTorch Linear and of the Gemm nodes
// it exports). Their per-channel quantization runs along N, the output columns. A is [M,K], or
// [K,M] with trans_a. Like Conv2D, a layer is prepared once and run on any M.

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <utility>
#include <variant>
#include <vector>

// ---- begin qnn/kernels/cpu/fc.hpp ------------------------------------------------------------------
// Fast CPU fully connected layer / GEMM with constant weights: the weights are the lane operand
// (packed once, output columns across lanes), activation rows the broadcast operand (packed per
// run), so each block row is a contiguous run of one output row. Integer operands are packed as
// int16 differences from their zero points, or as bytes (weights w − zw signed, activations
// x − min(TIn) unsigned) with the bias corrected, exactly as in conv.hpp. Threads split the output
// columns (lane panels); every element is computed identically whatever the split.

#include <algorithm>
#include <concepts>
#include <cstdint>
#include <span>
#include <type_traits>

namespace qnn::cpu {

template <class Elem>  // std::int16_t, std::int8_t (bytes) or float
struct PackedLanes {
  LaneLayout lay;
  BytePairing pairing;  // bytes: paired quads and their fixes (kernels/cpu/u8s8.hpp)
  AlignedBuffer data;
  const Elem* get() const { return reinterpret_cast<const Elem*>(data.data()); }
};

// w' = w − zw of output column n and row k; b: the weight view already oriented K×N (the caller
// undoes trans_b with a permuted view).
template <class TW>
auto fc_weight_values(TensorView<const TW> b, std::span<const std::int32_t> zp) {
  return [b, zp](std::int64_t n, std::int64_t k) {
    return static_cast<std::int32_t>(b(k, n)) - zp[zp.size() == 1 ? 0 : static_cast<std::size_t>(n)];
  };
}

// Elem: std::int16_t or std::int8_t (kernels/cpu/u8s8.hpp decides) for integer weights, float
// for float and bf16 ones; bytes less the fixes of `pairing`.
template <class Elem, class TW>
PackedLanes<Elem> pack_fc_weights(TensorView<const TW> b, std::span<const std::int32_t> zp = {},
                                  const BytePairing& pairing = {}) {
  constexpr int step = kStep<Elem>;
  PackedLanes<Elem> p;
  p.lay.rows = b.dim(1);
  p.lay.k = b.dim(0);
  p.lay.nr = panel_lanes();
  p.lay.ksteps = (p.lay.k + step - 1) / step;
  p.data = AlignedBuffer(static_cast<std::size_t>(p.lay.panels() * p.lay.panel_elems(step)) * sizeof(Elem));
  auto* dst = reinterpret_cast<Elem*>(p.data.data());
  if constexpr (std::is_floating_point_v<Elem>)
    pack_lanes(dst, p.lay, [&](std::int64_t n, std::int64_t k) { return static_cast<float>(b(k, n)); });
  else
    pack_lanes(dst, p.lay, fc_weight_values(b, zp));
  if constexpr (std::same_as<Elem, std::int8_t>) {
    const std::int64_t panel = p.lay.panel_elems(step);
    for (const ByteFix& f : pairing.fixes) {
      std::int8_t& v = dst[f.row / p.lay.nr * panel + (f.k / 4 * p.lay.nr + f.row % p.lay.nr) * 4 + f.k % 4];
      v = static_cast<std::int8_t>(v - f.w);
    }
    p.pairing = pairing;
  }
  return p;
}

// c[i][n] = stage(Σ_k (a[i][k] − zx)(b[k][n] − zb[n]) + bias[n]); a is M×K (any strides), c M×N
// contiguous. Lane: std::int16_t with sub = zx, or std::int8_t with sub and `bias` from
// byte_plan and byte_kernel_bias.
template <class Lane, QuantStorage TIn, QuantStorage TOut, RequantPolicyType P>
void fc_int(TensorView<const TIn> a, std::int32_t sub, const PackedLanes<Lane>& w,
            std::span<const std::int32_t> bias, const OutputStage<P>& stage, std::span<const float> onnx_mult, TOut* c,
            const Exec& ex) {
  // Activations: int16 pairs a − zx, or unsigned bytes a − the byte shift.
  using Act = std::conditional_t<std::same_as<Lane, std::int16_t>, std::int16_t, std::uint8_t>;
  const std::int64_t m = a.dim(0);
  const std::int64_t ks = w.lay.ksteps;
  // Activation rows are packed once, by the calling thread, into the first workspace.
  Workspace& w0 = (*ex.workspaces)[0];
  const std::size_t act_bytes = static_cast<std::size_t>(m * ks) * 4;
  auto* rows = reinterpret_cast<std::int32_t*>(w0.get(act_bytes + gemm_scratch_bytes()));
  if (a.stride(1) == 1)
    pack_bcast_rows<Act>(rows, a.data(), m, a.stride(0), w.lay.k, ks, sub);
  else
    pack_bcast_words<Act>(rows, m, w.lay.k, ks, [&](std::int64_t i, std::int64_t k) {
      return static_cast<std::int32_t>(a(i, k)) - sub;
    });
  const std::int64_t n = w.lay.rows;
  ex.parallel(w.lay.panels(), [&](Workspace& ws, std::int64_t pb, std::int64_t pe) {
    auto* scratch = &ws == &w0 ? reinterpret_cast<std::int32_t*>(reinterpret_cast<std::byte*>(rows) + act_bytes)
                               : ws.get<std::int32_t>(gemm_scratch_bytes() / 4);
    gemm_int(w.get(), w.lay, rows, m, byte_fixes(w.pairing, 0, n), scratch,
             [&](std::int64_t s0, std::int64_t nrows, std::int64_t l0, std::int64_t cols, const std::int32_t* acc,
                 std::int64_t stride) {
               requantize_block(acc, stride, nrows, cols, l0, bias, stage, onnx_mult, c + s0 * n + l0, n, false);
             },
             pb, pe);
  }, 1);
}

template <class TIn>
void fc_float(TensorView<const TIn> a, const PackedLanes<float>& w, std::span<const float> bias, float lo, float hi,
              float* c, const Exec& ex) {
  const std::int64_t m = a.dim(0);
  const std::int64_t k = w.lay.k;
  Workspace& w0 = (*ex.workspaces)[0];
  const std::size_t act_bytes = static_cast<std::size_t>(m * k) * 4;
  auto* rows = reinterpret_cast<float*>(w0.get(act_bytes + gemm_scratch_bytes()));
  if (a.stride(1) == 1)
    pack_bcast_rows_f32(rows, a.data(), m, a.stride(0), k);
  else
    pack_bcast_f32(rows, m, k, [&](std::int64_t i, std::int64_t j) { return static_cast<float>(a(i, j)); });
  const std::int64_t n = w.lay.rows;
  ex.parallel(w.lay.panels(), [&](Workspace& ws, std::int64_t pb, std::int64_t pe) {
    auto* scratch = &ws == &w0 ? reinterpret_cast<float*>(reinterpret_cast<std::byte*>(rows) + act_bytes)
                               : ws.get<float>(gemm_scratch_bytes() / 4);
    F32Output o;
    o.bias = bias.empty() ? nullptr : bias.data();
    o.bias_per_lane = true;
    o.lo = lo;
    o.hi = hi;
    o.out = c;
    o.out_stride = n;
    gemm_f32(w.get(), w.lay, rows, m, o, scratch, pb, pe);
  }, 1);
}

}  // namespace qnn::cpu
// ---- end qnn/kernels/cpu/fc.hpp --------------------------------------------------------------------
// ---- begin qnn/kernels/ref/gemm.hpp ----------------------------------------------------------------
// Reference GEMM and batched MatMul.
//
// c[i,j] = finish( init(j) + Σ_k mac(a[i,k], b[k,j]) ), k ascending. The channel of the
// arithmetic is the column j: per-channel weights and biases of a fully connected layer run along N.
// Transposes are views: pass a.permuted({1,0}) for Aᵀ, so one loop serves Gemm's transA/transB,
// a fully connected layer with N×K weights, and MatMul.
//
// matmul() applies NumPy broadcasting over the leading (batch) axes of rank ≥ 2 operands, which is
// what ONNX MatMul, MatMulInteger and QLinearMatMul specify; 1-D operands are promoted as in NumPy
// by the caller (the MatMul op reshapes them).

#include <cstdint>

namespace qnn::ref {

template <class Arith, class TA, class TB, class TC>
void gemm(TensorView<const TA> a, TensorView<const TB> b, TensorView<TC> c, const Arith& arith) {
  check(a.rank() == 2 && b.rank() == 2 && c.rank() == 2, "gemm: operands must be 2-D, got ",
        a.shape(), " ", b.shape(), " ", c.shape());
  const std::int64_t M = a.dim(0), K = a.dim(1), N = b.dim(1);
  check(b.dim(0) == K, "gemm: A is ", a.shape(), " but B is ", b.shape());
  check(c.dim(0) == M && c.dim(1) == N, "gemm: C is ", c.shape(), ", expected [", M, ",", N, "]");
  for (std::int64_t i = 0; i < M; ++i) {
    for (std::int64_t j = 0; j < N; ++j) {
      auto acc = arith.init(j);
      for (std::int64_t k = 0; k < K; ++k) acc = arith.mac(acc, a(i, k), b(k, j), j);
      c(i, j) = arith.finish(acc, j);
    }
  }
}

// Shape of NumPy-broadcast batched matmul of a (…, M, K) and b (…, K, N).
inline Shape matmul_output_shape(const Shape& a, const Shape& b) {
  check(a.rank() >= 2 && b.rank() >= 2, "matmul: operands must have rank >= 2, got ", a, " and ", b);
  check(a.dim(-1) == b.dim(-2), "matmul: inner dimensions differ: ", a, " x ", b);
  const int r = std::max(a.rank(), b.rank());
  Shape out;
  for (int i = 0; i < r - 2; ++i) {
    const int ia = i - (r - a.rank());
    const int ib = i - (r - b.rank());
    const std::int64_t da = ia >= 0 ? a[ia] : 1;
    const std::int64_t db = ib >= 0 ? b[ib] : 1;
    check(da == db || da == 1 || db == 1, "matmul: batch dimensions ", a, " and ", b, " do not broadcast");
    out.push_back(da == 1 ? db : da);
  }
  out.push_back(a.dim(-2));
  out.push_back(b.dim(-1));
  return out;
}

namespace detail {
// The 2-D slice of `v` at batch index `bidx` (of the broadcast batch shape), broadcasting axes of
// extent 1.
template <class T>
TensorView<T> batch_slice(const TensorView<T>& v, const Shape& batch, const std::array<std::int64_t, Shape::kMaxRank>& bidx) {
  const int offset = batch.rank() - (v.rank() - 2);
  std::int64_t off = 0;
  for (int i = 0; i < v.rank() - 2; ++i) {
    const std::int64_t idx = v.shape()[i] == 1 ? 0 : bidx[static_cast<std::size_t>(i + offset)];
    off += idx * v.strides()[static_cast<std::size_t>(i)];
  }
  typename TensorView<T>::Strides st{};
  st[0] = v.strides()[static_cast<std::size_t>(v.rank() - 2)];
  st[1] = v.strides()[static_cast<std::size_t>(v.rank() - 1)];
  return TensorView<T>(v.data() + off, Shape{v.dim(-2), v.dim(-1)}, st);
}
}  // namespace detail

template <class Arith, class TA, class TB, class TC>
void matmul(TensorView<const TA> a, TensorView<const TB> b, TensorView<TC> c, const Arith& arith) {
  const Shape out = matmul_output_shape(a.shape(), b.shape());
  check(c.shape() == out, "matmul: output ", c.shape(), " should be ", out);
  Shape batch;
  for (int i = 0; i < out.rank() - 2; ++i) batch.push_back(out[i]);
  for_each_index(batch, [&](const auto& bidx) {
    gemm(detail::batch_slice(a, batch, bidx), detail::batch_slice(b, batch, bidx),
         detail::batch_slice(c, batch, bidx), arith);
  });
}

}  // namespace qnn::ref
// ---- end qnn/kernels/ref/gemm.hpp ------------------------------------------------------------------

namespace qnn {

struct GemmOptions {
  bool trans_a = false;
  bool trans_b = false;
  RequantPolicy policy = RequantPolicy::onnx_float;
  ActivationClamp activation;
  bool reference = false;  // always run the scalar reference kernel
  std::optional<IntRange> input_range;  // what A is known to take, as ConvOptions::input_range
};

namespace detail {
template <class T>
TensorView<T> transposed_if(const TensorView<T>& v, bool t) {
  static constexpr std::array<int, 2> kSwap{1, 0};
  return t ? v.permuted(kSwap) : v;
}
}  // namespace detail

template <QuantStorage TIn, Int8Storage TW, QuantStorage TOut>
class QuantizedGemm {
 public:
  using Acc = ref::accumulator_t<TIn>;

  template <QuantParams XQ, QuantParams WQ, QuantParams YQ>
  QuantizedGemm(const XQ& xq, QView<const TW, WQ> b, std::span<const std::int32_t> bias, const YQ& yq,
                const GemmOptions& opt)
      : opt_(opt),
        input_range_(cpu::prepared_input_range<TIn>(opt.input_range)),
        weights_(dense_copy(b.data)),
        arith_(make_arith(xq, b.quant, bias, yq)) {
    std::visit([&](const auto& a) {
      const auto bv = detail::transposed_if(std::as_const(weights_).view<TW>(), opt_.trans_b);
      const std::span<const std::int32_t> zw(a.w_zp);
      const auto values = cpu::fc_weight_values(bv, zw);
      const std::optional<cpu::BytePlan> plan =
          cpu::byte_plan<TIn>(input_range_, a.x_zp, bv.dim(1), bv.dim(0), cpu::kFcWeightsPerPairFix, values);
      if (plan) {
        byte_shift_ = plan->shift;
        packed_ = cpu::pack_fc_weights<std::int8_t>(bv, zw, plan->pairing);
        if constexpr (std::same_as<Acc, std::int32_t>)
          fast_bias_ = cpu::byte_kernel_bias(a.bias, bv.dim(1), bv.dim(0), a.x_zp, *byte_shift_, values);
      } else {
        packed_ = cpu::pack_fc_weights<std::int16_t>(bv, zw);
        if constexpr (std::same_as<Acc, std::int32_t>) fast_bias_ = a.bias;
      }
      if constexpr (decltype(a.out)::policy_type::policy == RequantPolicy::onnx_float)
        for (const auto& c : a.out.channels) onnx_mult_.push_back(c.multiplier);
    }, arith_);
    static_assert(!XQ::per_channel, "gemm: activations must be quantized per tensor");
    static_assert(!YQ::per_channel, "gemm: outputs must be quantized per tensor");
    static_assert(std::same_as<typename XQ::storage_type, TIn>, "gemm: input scheme and storage type differ");
    static_assert(std::same_as<typename YQ::storage_type, TOut>, "gemm: output scheme and storage type differ");
  }

  std::int64_t k() const { return weights_.shape()[opt_.trans_b ? 1 : 0]; }
  // True when the fast path runs the u8×s8 byte kernel (kernels/cpu/u8s8.hpp), false for int16.
  bool byte_kernel() const { return byte_shift_.has_value(); }
  // The byte kernel's paired quads or pair fixes (kernels/cpu/u8s8.hpp, byte_plan).
  const cpu::BytePairing& byte_pairing() const {
    static const cpu::BytePairing none;
    const auto* bytes = std::get_if<cpu::PackedLanes<std::int8_t>>(&packed_);
    return bytes ? bytes->pairing : none;
  }
  std::int64_t n() const { return weights_.shape()[opt_.trans_b ? 0 : 1]; }

  void run(TensorView<const TIn> a, TensorView<TOut> c, const cpu::Exec& ex) const {
    const auto at = detail::transposed_if(a, opt_.trans_a);
    check(at.rank() == 2 && at.dim(1) == k(), "gemm: A is ", a.shape(), ", the weights need K = ", k());
    check(c.shape() == Shape{at.dim(0), n()}, "gemm: output ", c.shape(), " should be [", at.dim(0), ",", n(), "]");
    const bool fast = !opt_.reference && std::same_as<Acc, std::int32_t> && c.contiguous();
    std::visit([&](const auto& arith) {
      if constexpr (std::same_as<Acc, std::int32_t>) {
        if (fast) {
          if (byte_shift_) cpu::check_inputs_in(input_range_, at.data(), at.dim(0), at.stride(0), k(), at.stride(1));
          std::visit([&](const auto& w) {
            cpu::fc_int(at, byte_shift_.value_or(arith.x_zp), w, fast_bias_, arith.out, onnx_mult_, c.data(), ex);
          }, packed_);
          return;
        }
      }
      ref::gemm(at, detail::transposed_if(weights_.view<TW>(), opt_.trans_b), c, arith);
    }, arith_);
  }
  void run(TensorView<const TIn> a, TensorView<TOut> c) const {
    cpu::LocalExec local;
    run(a, c, local.exec());
  }

 private:
  using ArithVariant = std::variant<ref::QuantizedArith<TIn, OnnxFloat, TOut>,
                                    ref::QuantizedArith<TIn, TfliteDoubleRound, TOut>,
                                    ref::QuantizedArith<TIn, TfliteSingleRound, TOut>,
                                    ref::QuantizedArith<TIn, NpuPow2, TOut>>;
  template <QuantParams XQ, QuantParams WQ, QuantParams YQ>
  ArithVariant make_arith(const XQ& xq, const WQ& wq, std::span<const std::int32_t> bias, const YQ& yq) const {
    check(weights_.shape().rank() == 2, "gemm: weight must be 2-D, got ", weights_.shape());
    const int n_axis = opt_.trans_b ? 0 : 1;
    const std::int64_t n = weights_.shape()[n_axis];
    const auto ch = weight_channel_params(wq, n_axis, n, "gemm weight");
    check(bias.empty() || static_cast<std::int64_t>(bias.size()) == n, "gemm: bias has ", bias.size(),
          " values for ", n, " outputs");
    const std::vector<Acc> wide_bias(bias.begin(), bias.end());
    return with_context("gemm (" + std::string(name_of(opt_.policy)) + ")", [&] {
      return visit_policy(opt_.policy, [&](auto policy) -> ArithVariant {
        using P = decltype(policy);
        auto stage = make_output_stage<P, TOut>(xq.scale_at(0), ch.scales, yq.scale_at(0), yq.zero_point_at(0),
                                                opt_.activation);
        const std::int64_t bound =
            ref::accumulator_bound<TIn, TW>(weights_.view<TW>(), n_axis, xq.zero_point_at(0), ch.zero_points);
        return ref::QuantizedArith<TIn, P, TOut>(bound, xq.zero_point_at(0), ch.zero_points, wide_bias,
                                                 std::move(stage));
      });
    });
  }

  GemmOptions opt_;
  IntRange input_range_;  // opt_.input_range, or all of TIn
  Tensor weights_;
  ArithVariant arith_;
  std::optional<std::int32_t> byte_shift_;  // set when the byte kernel runs: inputs enter as x − shift
  std::variant<cpu::PackedLanes<std::int16_t>, cpu::PackedLanes<std::int8_t>> packed_;
  std::vector<std::int32_t> fast_bias_;  // the bias the packing needs (byte_kernel_bias for bytes)
  std::vector<float> onnx_mult_;
};

// fp32, or bf16 inputs with fp32 accumulation and output. Gemm's alpha/beta are folded into the
// weights and bias by the Gemm op before it makes this layer.
template <class T>
  requires std::same_as<T, float> || std::same_as<T, bf16>
class FloatGemm {
 public:
  FloatGemm(TensorView<const float> b, std::span<const float> bias, const GemmOptions& opt)
      : opt_(opt), weights_(converted_copy<T>(b)) {
    check(b.rank() == 2, "gemm: weight must be 2-D, got ", b.shape());
    packed_ = cpu::pack_fc_weights<float>(detail::transposed_if(std::as_const(weights_).view<T>(), opt.trans_b));
    const std::int64_t n = b.dim(opt.trans_b ? 0 : 1);
    check(bias.empty() || static_cast<std::int64_t>(bias.size()) == n, "gemm: bias has ", bias.size(),
          " values for ", n, " outputs");
    arith_.bias.assign(bias.begin(), bias.end());
    if (opt.activation.kind != FusedActivation::none) {
      arith_.lo = opt.activation.min;
      arith_.hi = opt.activation.max;
    }
  }
  void run(TensorView<const T> a, TensorView<float> c, const cpu::Exec& ex) const {
    const auto at = detail::transposed_if(a, opt_.trans_a);
    const auto b = detail::transposed_if(weights_.view<T>(), opt_.trans_b);
    check(at.rank() == 2 && at.dim(1) == b.dim(0), "gemm: A is ", a.shape(), ", the weights need K = ", b.dim(0));
    check(c.shape() == Shape{at.dim(0), b.dim(1)}, "gemm: output ", c.shape(), " should be [", at.dim(0), ",", b.dim(1), "]");
    if (!opt_.reference && c.contiguous())
      cpu::fc_float(at, packed_, arith_.bias, arith_.lo, arith_.hi, c.data(), ex);
    else
      ref::gemm(at, b, c, arith_);
  }
  void run(TensorView<const T> a, TensorView<float> c) const {
    cpu::LocalExec local;
    run(a, c, local.exec());
  }

 private:
  GemmOptions opt_;
  Tensor weights_;
  ref::FloatArith<float> arith_;
  cpu::PackedLanes<float> packed_;
};

// QLinearMatMul-style batched matmul of two per-tensor quantized activations (NumPy broadcasting
// over the batch axes). Neither operand is known in advance, so the overflow bound is the worst
// case over all values: K · max|a − za| · max|b − zb| must fit the accumulator.
template <QuantStorage TA, QuantStorage TB, QuantStorage TOut, QuantParams AQ, QuantParams BQ, QuantParams YQ>
void quantized_matmul(QView<const TA, AQ> a, QView<const TB, BQ> b, QView<TOut, YQ> y, RequantPolicy policy) {
  static_assert(!AQ::per_channel && !YQ::per_channel, "matmul: A and the output must be quantized per tensor");
  const std::int64_t n = b.data.dim(-1);
  const int b_axis = b.data.rank() - 1;
  const auto ch = weight_channel_params(b.quant, b_axis, n, "matmul B");
  std::int64_t bound = 0;
  for (std::int32_t zb : ch.zero_points)
    bound = std::max(bound, ref::worst_case_bound<TA, TB>(a.data.dim(-1), a.quant.zero_point_at(0), zb));
  visit_policy(policy, [&](auto p) {
    using P = decltype(p);
    auto stage = make_output_stage<P, TOut>(a.quant.scale_at(0), ch.scales, y.quant.scale_at(0),
                                            y.quant.zero_point_at(0));
    const ref::QuantizedArith<TA, P, TOut> arith(bound, a.quant.zero_point_at(0), ch.zero_points, {},
                                                 std::move(stage));
    ref::matmul(a.data, b.data, y.data, arith);
  });
}

}  // namespace qnn
// ---- end qnn/kernels/gemm.hpp ----------------------------------------------------------------------
// ---- begin qnn/kernels/ref/activation.hpp ----------------------------------------------------------
// Reference activations, float and quantized.
//
// The float functions are the ONNX definitions, evaluated in fp32 with <cmath>:
//   Relu max(0,x) · Clip min(max(x,lo),hi) · LeakyRelu x<0 ? αx : x · Sigmoid 1/(1+e^−x)
//   HardSigmoid max(0, min(1, αx+β)) · HardSwish x·max(0, min(1, x/6+1/2)) · Tanh tanh(x)
// sigmoid_ort() is ONNX Runtime's x86 logistic (ort_float.hpp: a rational approximation evaluated with
// FMA), which ORT's Sigmoid and QLinearSigmoid compute; the onnx_float policy uses it so quantized
// sigmoid tables equal ORT's bit for bit.
// A quantized activation is defined as Q_out(f(DQ_in(q))): dequantize, apply f in fp32, quantize
// with round half to even and saturation. For 8-bit inputs that definition is tabulated once per
// layer (256 entries), so the table IS the definition evaluated at every input value — exact by
// construction. 16-bit inputs evaluate the same definition per element. ReLU and Clip are also
// exactly a clamp in the integer domain when input and output share quantization; the table
// covers the general case.

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <ostream>
#include <string_view>

// ---- begin qnn/kernels/ref/broadcast.hpp -----------------------------------------------------------
// NumPy multidirectional broadcasting for binary element-wise ops (ONNX Add, Sub, Mul, Div, ...).

#include <algorithm>
#include <cstdint>

namespace qnn::ref {

inline Shape broadcast_shape(const Shape& a, const Shape& b) {
  const int r = std::max(a.rank(), b.rank());
  Shape out;
  for (int i = 0; i < r; ++i) {
    const int ia = i - (r - a.rank());
    const int ib = i - (r - b.rank());
    const std::int64_t da = ia >= 0 ? a[ia] : 1;
    const std::int64_t db = ib >= 0 ? b[ib] : 1;
    check(da == db || da == 1 || db == 1, "shapes ", a, " and ", b, " do not broadcast");
    out.push_back(da == 1 ? db : da);
  }
  return out;
}

// `v` seen with the shape `to` it broadcasts to: leading axes added and extent-1 axes given
// stride 0. No data moves.
template <class T>
TensorView<T> broadcast_to(const TensorView<T>& v, const Shape& to) {
  check(to.rank() >= v.rank(), "cannot broadcast ", v.shape(), " to ", to);
  typename TensorView<T>::Strides st{};
  const int lead = to.rank() - v.rank();
  for (int i = 0; i < v.rank(); ++i) {
    const std::int64_t d = v.shape()[i];
    check(d == to[i + lead] || d == 1, "cannot broadcast ", v.shape(), " to ", to);
    st[static_cast<std::size_t>(i + lead)] = d == 1 ? 0 : v.strides()[static_cast<std::size_t>(i)];
  }
  return TensorView<T>(v.data(), to, st);
}

// y = f(a, b) element-wise with broadcasting; y must have the broadcast shape.
template <class TA, class TB, class TY, class F>
void binary_broadcast(TensorView<const TA> a, TensorView<const TB> b, TensorView<TY> y, F&& f) {
  const Shape out = broadcast_shape(a.shape(), b.shape());
  check(y.shape() == out, "element-wise output ", y.shape(), " should be ", out);
  // Same-shape contiguous operands (what a session passes almost always) walk flat spans: the same
  // f on the same elements in the same order, without an N-d index per element.
  if (a.shape() == out && b.shape() == out && a.contiguous() && b.contiguous() && y.contiguous()) {
    const auto sa = a.span(), sb = b.span();
    const auto sy = y.span();
    for (std::size_t i = 0; i < sy.size(); ++i) sy[i] = f(sa[i], sb[i]);
    return;
  }
  const auto ab = broadcast_to(a, out);
  const auto bb = broadcast_to(b, out);
  for_each_index(out, [&](const auto& idx) { at(y, idx) = f(at(ab, idx), at(bb, idx)); });
}

template <class TX, class TY, class F>
void unary(TensorView<const TX> x, TensorView<TY> y, F&& f) {
  check(x.shape() == y.shape(), "element-wise output ", y.shape(), " should be ", x.shape());
  if (x.contiguous() && y.contiguous()) {  // as in binary_broadcast: same elements, flat walk
    const auto sx = x.span();
    const auto sy = y.span();
    for (std::size_t i = 0; i < sy.size(); ++i) sy[i] = f(sx[i]);
    return;
  }
  for_each_index(x.shape(), [&](const auto& idx) { at(y, idx) = f(at(x, idx)); });
}

}  // namespace qnn::ref
// ---- end qnn/kernels/ref/broadcast.hpp -------------------------------------------------------------

namespace qnn::ref {

enum class ActivationKind : std::uint8_t { relu, clip, leaky_relu, sigmoid, hard_sigmoid, hard_swish, tanh };

struct Activation {
  ActivationKind kind = ActivationKind::relu;
  float alpha = 0.01f;  // LeakyRelu α; HardSigmoid α
  float beta = 0.5f;    // HardSigmoid β
  float lo = -std::numeric_limits<float>::infinity();  // Clip
  float hi = std::numeric_limits<float>::infinity();
  bool ort_logistic = false;  // Sigmoid: ONNX Runtime's approximation (sigmoid_ort)

  static Activation relu() { return {ActivationKind::relu}; }
  static Activation clip(float l, float h) { return {ActivationKind::clip, 0, 0, l, h}; }
  static Activation leaky_relu(float a = 0.01f) { return {ActivationKind::leaky_relu, a}; }
  static Activation sigmoid() { return {ActivationKind::sigmoid}; }
  static Activation hard_sigmoid(float a = 0.2f, float b = 0.5f) { return {ActivationKind::hard_sigmoid, a, b}; }
  static Activation hard_swish() { return {ActivationKind::hard_swish}; }
  static Activation tanh() { return {ActivationKind::tanh}; }
  // ONNX Runtime's sigmoid (ort::logistic) instead of the formula.
  static Activation sigmoid_ort() {
    Activation a{ActivationKind::sigmoid};
    a.ort_logistic = true;
    return a;
  }

  static float relu_of(float x) { return x < 0.0f ? 0.0f : x; }  // NaN passes through
  static float clip_of(float x, float l, float h) { return x < l ? l : (x > h ? h : x); }

  float operator()(float x) const {
    switch (kind) {
      case ActivationKind::relu: return relu_of(x);
      case ActivationKind::clip: return clip_of(x, lo, hi);
      case ActivationKind::leaky_relu: return x < 0.0f ? alpha * x : x;
      case ActivationKind::sigmoid: return ort_logistic ? ort::logistic(x) : 1.0f / (1.0f + std::exp(-x));
      case ActivationKind::hard_sigmoid: return std::max(0.0f, std::min(1.0f, alpha * x + beta));
      case ActivationKind::hard_swish: return x * std::max(0.0f, std::min(1.0f, x / 6.0f + 0.5f));
      case ActivationKind::tanh: return std::tanh(x);
    }
    return x;
  }
};

// fp32 (or bf16) element-wise activation.
template <class T>
void activation_float(TensorView<const T> x, TensorView<T> y, const Activation& f) {
  // Relu and Clip, most of a float model's activations, with the kind decided once, not per element.
  if (f.kind == ActivationKind::relu)
    unary(x, y, [](T v) { return T(Activation::relu_of(static_cast<float>(v))); });
  else if (f.kind == ActivationKind::clip)
    unary(x, y, [lo = f.lo, hi = f.hi](T v) { return T(Activation::clip_of(static_cast<float>(v), lo, hi)); });
  else
    unary(x, y, [&](T v) { return T(f(static_cast<float>(v))); });
}

// Q_out(f(DQ_in(q))) for one input value.
template <QuantStorage TIn, QuantStorage TOut>
TOut quantized_activation_value(TIn q, const Activation& f, float s_x, std::int32_t zx, float s_y,
                                std::int32_t zy) {
  return quantize_value<TOut>(f(dequantize_value(q, s_x, zx)), s_y, zy);
}

// The 256-entry table of an 8-bit quantized activation, indexed by the input's bit pattern.
template <Int8Storage TIn, Int8Storage TOut>
struct ActivationTable {
  std::array<TOut, 256> table{};

  ActivationTable(const Activation& f, float s_x, std::int32_t zx, float s_y, std::int32_t zy) {
    for (int v = min_of<TIn>(); v <= max_of<TIn>(); ++v)
      table[index(static_cast<TIn>(v))] = quantized_activation_value<TIn, TOut>(static_cast<TIn>(v), f, s_x, zx, s_y, zy);
  }
  static std::size_t index(TIn v) { return static_cast<std::uint8_t>(v); }
  TOut operator()(TIn v) const { return table[index(v)]; }
};

template <QuantStorage TIn, QuantStorage TOut>
void activation_quantized(TensorView<const TIn> x, TensorView<TOut> y, const Activation& f, float s_x,
                          std::int32_t zx, float s_y, std::int32_t zy) {
  qnn::detail::check_zero_point<TIn>(zx);
  qnn::detail::check_zero_point<TOut>(zy);
  if constexpr (Int8Storage<TIn> && Int8Storage<TOut>) {
    const ActivationTable<TIn, TOut> lut(f, s_x, zx, s_y, zy);
    unary(x, y, lut);
  } else {
    unary(x, y, [&](TIn v) { return quantized_activation_value<TIn, TOut>(v, f, s_x, zx, s_y, zy); });
  }
}

}  // namespace qnn::ref
// ---- end qnn/kernels/ref/activation.hpp ------------------------------------------------------------
// ---- begin qnn/kernels/ref/concat.hpp --------------------------------------------------------------
// Reference Concat, plain and quantized.
//
// Quantized Concat produces one output scale and zero point. An input already in that
// quantization is copied bit for bit; any other input is requantized element by element:
// y = stage(x − zx) with the factor s_x/s_y of the layer's policy (eltwise.hpp's requantize),
// except under onnx_float, which is ONNX Runtime's QLinearConcat: dequantize then quantize,
// y = QuantizeLinear(fl(s_x · (x − zx)), s_y, zy) — one fp32 multiply and one fp32 division, not a
// multiply by the ratio s_x/s_y (qlinear_concat.cc builds this 256-entry table per input).

#include <cstdint>
#include <span>
#include <vector>

// ---- begin qnn/kernels/ref/eltwise.hpp -------------------------------------------------------------
// Reference quantized element-wise Add and Mul (NumPy broadcasting), and requantizing copy (the
// building block of Concat with differing input scales and of the Requantize op).
//
// Each requantization policy defines its own integer recipe (docs/numerics.md §4):
//   Add  onnx_float  ONNX Runtime's x86 kernel (MLAS qladd_avx2, zero points folded into a fixed
//                    part, FMA): ra = s_a/s_c, rb = s_b/s_c, F = zc − fma(ra, za, rb·zb),
//                    y = clamp(rne(fma(a, ra, fma(b, rb, F)))). The roles of A and B swap when ORT's
//                    broadcaster sees A as a scalar per span (ort_swaps_operands). 16-bit data take
//                    ORT's portable rule: v = (s_a·(a−za) + s_b·(b−zb)) / s_c, y = rne(v + zc).
//        tflite_*    TFLite's recipe: both inputs shifted left by 20 (15 for 16-bit), scaled by
//                    Q31 multipliers s_a/(2·max(s_a,s_b)) and s_b/(2·max), summed, then scaled by
//                    2·max/(2^shift·s_c) and offset by zc
//        npu_pow2    inputs aligned to the finer position p = max(pa, pb) by exact left shifts,
//                    summed, shifted right by p − pc rounding half up (DPU shift_read/shift_write)
//   Mul  onnx_float  ONNX Runtime (MLAS qlmul): m = s_a·s_b/s_c, y = clamp(rne(m·((a−za)(b−zb)) + zc))
//        tflite_*    (a−za)(b−zb) in int32, Q31 multiplier of s_a·s_b/s_c, + zc
//        npu_pow2    (a−za)(b−zb) >> (pa + pb − pc), half up
// Clamping to the output range (fused ReLU included) happens last in every case. In the onnx_float
// rules the zero point is added in fp32 BEFORE rounding, as ORT does (unlike QuantizeLinear).

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

namespace qnn::ref {

enum class EltwiseOp : std::uint8_t { add, mul };

struct EltwiseQuant {
  float s_a = 1, s_b = 1, s_c = 1;
  std::int32_t za = 0, zb = 0, zc = 0;
  IntRange range{};
};

// Precomputed factors of one quantized Add/Mul under policy P.
template <RequantPolicyType P>
struct EltwiseParams {
  EltwiseOp op = EltwiseOp::add;
  EltwiseQuant q;
  // onnx_float
  float ra = 0, rb = 0, m = 0;
  float fixed = 0, fixed_swapped = 0;  // 8-bit Add: zc − fma(ra, za, rb·zb), and with A, B swapped
  bool wide = false;                   // 16-bit data: ORT's portable Add
  // tflite
  int left_shift = 0;
  Q31 qa{}, qb{}, qout{};
  // npu_pow2
  int shift_a = 0, shift_b = 0, shift_out = 0;

  template <QuantStorage T>
  static EltwiseParams make(EltwiseOp op, const EltwiseQuant& q) {
    qnn::detail::check_zero_point<T>(q.za);
    qnn::detail::check_zero_point<T>(q.zb);
    qnn::detail::check_zero_point<T>(q.zc);
    EltwiseParams p;
    p.op = op;
    p.q = q;
    if constexpr (P::policy == RequantPolicy::onnx_float) {
      p.ra = ScaleRatio({q.s_a}, {q.s_c}).as_float();
      p.rb = ScaleRatio({q.s_b}, {q.s_c}).as_float();
      p.m = ScaleRatio({q.s_a, q.s_b}, {q.s_c}).as_float();
      const auto fza = static_cast<float>(q.za), fzb = static_cast<float>(q.zb), fzc = static_cast<float>(q.zc);
      p.fixed = fzc - std::fma(p.ra, fza, p.rb * fzb);
      p.fixed_swapped = fzc - std::fma(p.rb, fzb, p.ra * fza);
      p.wide = sizeof(T) == 2;
    } else if constexpr (P::policy == RequantPolicy::npu_pow2) {
      const int pa = to_pow2(q.s_a).pos, pb = to_pow2(q.s_b).pos, pc = to_pow2(q.s_c).pos;
      if (op == EltwiseOp::add) {
        const int pmax = std::max(pa, pb);
        p.shift_a = pmax - pa;
        p.shift_b = pmax - pb;
        p.shift_out = pmax - pc;
        check(p.shift_a <= 24 && p.shift_b <= 24, "npu add: input positions ", pa, " and ", pb,
              " differ by more than 24");
      } else {
        p.shift_out = pa + pb - pc;
      }
    } else {
      const bool single = P::policy == RequantPolicy::tflite_single_round;
      if (op == EltwiseOp::add) {
        p.left_shift = sizeof(T) == 1 ? 20 : 15;
        const double twice_max = 2.0 * std::max(double{q.s_a}, double{q.s_b});
        p.qa = quantize_multiplier(double{q.s_a} / twice_max, single);
        p.qb = quantize_multiplier(double{q.s_b} / twice_max, single);
        p.qout = quantize_multiplier(twice_max / (double(std::int64_t{1} << p.left_shift) * double{q.s_c}), single);
      } else {
        // MBQM takes the product (a − za)(b − zb) as int32; 16-bit data with zero points away from
        // the middle of the range can exceed it (TFLite's int16 Mul requires zero points 0).
        const std::int64_t dev_a = std::max<std::int64_t>(max_of<T>() - q.za, q.za - min_of<T>());
        const std::int64_t dev_b = std::max<std::int64_t>(max_of<T>() - q.zb, q.zb - min_of<T>());
        check(dev_a * dev_b <= std::numeric_limits<std::int32_t>::max(), "tflite mul: (a - za)(b - zb) can reach ",
              dev_a * dev_b, ", beyond the int32 input of the fixed-point multiply");
        p.qout = quantize_multiplier(double{q.s_a} * double{q.s_b} / double{q.s_c}, single);
      }
    }
    return p;
  }

  // `swapped` (onnx_float Add only): ORT evaluates the operands in the other order; see eltwise().
  std::int32_t operator()(std::int32_t a, std::int32_t b, bool swapped = false) const {
    const std::int64_t da = a - q.za;
    const std::int64_t db = b - q.zb;
    std::int64_t v = 0;
    if constexpr (P::policy == RequantPolicy::onnx_float) {
      (void)swapped;
      std::int32_t r = 0;
      if (op == EltwiseOp::mul) {
        // MLAS qlmul: fl(fl(float(p)·m) + zc), two roundings, then cvtps2dq.
        r = ort::cvtps2dq(static_cast<float>(da * db) * m + static_cast<float>(q.zc));
      } else if (wide) {
        // MLAS qladd's portable helper (ORT's 16-bit QLinearAdd): clamp before adding zc.
        float f = (q.s_a * static_cast<float>(da) + q.s_b * static_cast<float>(db)) / q.s_c;
        const auto lo = static_cast<float>(q.range.lo - q.zc);
        const auto hi = static_cast<float>(q.range.hi - q.zc);
        f = f < lo ? lo : (f > hi ? hi : f);
        r = ort::cvtps2dq(f + static_cast<float>(q.zc));
      } else {
        const auto fa = static_cast<float>(a), fb = static_cast<float>(b);
        r = ort::cvtps2dq(swapped ? std::fma(fb, rb, std::fma(fa, ra, fixed_swapped))
                                  : std::fma(fa, ra, std::fma(fb, rb, fixed)));
      }
      return std::clamp(r, q.range.lo, q.range.hi);
    } else if constexpr (P::policy == RequantPolicy::npu_pow2) {
      const std::int64_t raw = op == EltwiseOp::add ? (da << shift_a) + (db << shift_b) : da * db;
      v = shift_out >= 0 ? shift_right_rounded(raw, shift_out, Rounding::half_up)
                         : shift_left_saturating(raw, -shift_out);
    } else {
      auto mul = [&](std::int32_t x, Q31 mm) {
        return P::policy == RequantPolicy::tflite_single_round ? multiply_by_q31_single(x, mm)
                                                               : multiply_by_q31_double(x, mm);
      };
      if (op == EltwiseOp::add) {
        // |a−za|·2^20 < 2^29 for 8-bit and |a−za|·2^15 < 2^31 for 16-bit: no overflow.
        const auto sa = mul(static_cast<std::int32_t>(da * (std::int64_t{1} << left_shift)), qa);
        const auto sb = mul(static_cast<std::int32_t>(db * (std::int64_t{1} << left_shift)), qb);
        v = mul(sa + sb, qout);
      } else {
        v = mul(static_cast<std::int32_t>(da * db), qout);
      }
    }
    v = std::clamp<std::int64_t>(v, -(std::int64_t{1} << 40), std::int64_t{1} << 40);
    return static_cast<std::int32_t>(std::clamp<std::int64_t>(v + q.zc, q.range.lo, q.range.hi));
  }
};

// Whether ONNX Runtime's broadcaster treats input A as "scalar per span" for these shapes — then its
// QLinearAdd calls the kernel with the operands swapped (qlinear_binary_op.cc), which changes the
// fused products of the 8-bit onnx_float Add. The decision is ORT's Broadcaster (element_wise_ops.h):
// walk the trailing axes shared by both shapes from the last; skip axes of output extent ≤ 1 while
// more shared axes remain; at the first other axis (or the last shared one) A is scalar iff its
// extent there is ≤ 1. A rank-0 A is always scalar.
inline bool ort_swaps_operands(const Shape& a, const Shape& b) {
  const int common = std::min(a.rank(), b.rank());
  if (common == 0) return a.rank() == 0;
  for (int i = 1; i <= common; ++i) {
    const std::int64_t da = a[a.rank() - i], db = b[b.rank() - i];
    const std::int64_t out = std::min(da, db) == 0 ? 0 : std::max(da, db);
    if (out <= 1 && i < common) continue;
    return da <= 1;
  }
  return false;
}

template <QuantStorage T, RequantPolicyType P>
void eltwise(TensorView<const T> a, TensorView<const T> b, TensorView<T> y, const EltwiseParams<P>& p) {
  const bool swapped = ort_swaps_operands(a.shape(), b.shape());
  binary_broadcast(a, b, y, [&](T va, T vb) { return static_cast<T>(p(va, vb, swapped)); });
}

// y = requantize(x): (x − zx) rescaled under policy P by the stage's single factor (made from
// s_x/s_y), plus zy, clamped. Input and output storage may differ: int32 → int8 for the Requantize
// op (whose input zero point must then be 0), int8 → int8 for Concat inputs whose scale differs
// from the output's.
template <class TIn, QuantStorage TOut, RequantPolicyType P>
void requantize(TensorView<const TIn> x, std::int32_t x_zp, TensorView<TOut> y, const OutputStage<P>& stage) {
  static_assert(std::same_as<TIn, std::int32_t> || QuantStorage<TIn>);
  check(!std::same_as<TIn, std::int32_t> || x_zp == 0, "requantize: an int32 input has zero point 0, got ", x_zp);
  check(stage.channels.size() == 1, "requantize: expected one factor, got ", stage.channels.size());
  unary(x, y, [&](TIn v) { return static_cast<TOut>(stage(static_cast<std::int32_t>(v) - x_zp, 0)); });
}

}  // namespace qnn::ref
// ---- end qnn/kernels/ref/eltwise.hpp ---------------------------------------------------------------

namespace qnn::ref {

inline Shape concat_output_shape(std::span<const Shape> inputs, int axis) {
  check(!inputs.empty(), "concat needs at least one input");
  const Shape& first = inputs[0];
  const int ax = first.normalize_axis(axis);
  Shape out = first;
  out[ax] = 0;
  for (const Shape& s : inputs) {
    check(s.rank() == first.rank(), "concat inputs of ranks ", first.rank(), " and ", s.rank());
    for (int i = 0; i < s.rank(); ++i)
      check(i == ax || s[i] == first[i], "concat inputs ", first, " and ", s, " differ off axis ", ax);
    out[ax] += s[ax];
  }
  return out;
}

namespace detail {
// The part of `y` that input number `i` fills: same shape as the input, offset along the axis.
template <class T>
TensorView<T> concat_slot(const TensorView<T>& y, int axis, std::int64_t offset, const Shape& part) {
  return TensorView<T>(y.data() + offset * y.strides()[static_cast<std::size_t>(axis)], part, y.strides());
}
}  // namespace detail

template <class T>
void concat(std::span<const TensorView<const T>> xs, int axis, TensorView<T> y) {
  std::vector<Shape> shapes;
  for (const auto& x : xs) shapes.push_back(x.shape());
  check(y.shape() == concat_output_shape(shapes, axis), "concat output ", y.shape(), " is wrong");
  const int ax = y.shape().normalize_axis(axis);
  std::int64_t offset = 0;
  for (const auto& x : xs) {
    unary(x, detail::concat_slot(y, ax, offset, x.shape()), [](T v) { return v; });
    offset += x.shape()[ax];
  }
}

struct ConcatInputQuant {
  float scale = 1;
  std::int32_t zero_point = 0;
};

template <QuantStorage T, RequantPolicyType P>
void concat_quantized(std::span<const TensorView<const T>> xs, std::span<const ConcatInputQuant> xq,
                      int axis, TensorView<T> y, float s_y, std::int32_t zy) {
  check(xs.size() == xq.size(), "concat: ", xs.size(), " inputs but ", xq.size(), " quantizations");
  std::vector<Shape> shapes;
  for (const auto& x : xs) shapes.push_back(x.shape());
  check(y.shape() == concat_output_shape(shapes, axis), "concat output ", y.shape(), " is wrong");
  const int ax = y.shape().normalize_axis(axis);
  std::int64_t offset = 0;
  for (std::size_t i = 0; i < xs.size(); ++i) {
    const auto slot = detail::concat_slot(y, ax, offset, xs[i].shape());
    if (xq[i].scale == s_y && xq[i].zero_point == zy) {
      unary(xs[i], slot, [](T v) { return v; });
    } else if constexpr (P::policy == RequantPolicy::onnx_float) {
      const ConcatInputQuant in = xq[i];
      unary(xs[i], slot, [&](T v) { return quantize_value<T>(dequantize_value(v, in.scale, in.zero_point), s_y, zy); });
    } else {
      requantize(xs[i], xq[i].zero_point, slot, make_rescale_stage<P, T>(xq[i].scale, s_y, zy));
    }
    offset += xs[i].shape()[ax];
  }
}

}  // namespace qnn::ref
// ---- end qnn/kernels/ref/concat.hpp ----------------------------------------------------------------
// ---- begin qnn/kernels/ref/quantize_linear.hpp -----------------------------------------------------
// Reference QuantizeLinear / DequantizeLinear over tensors, per tensor or along an axis, and the
// float <-> bf16 conversions (round to nearest even). The element rules are numerics/quantize.hpp.

#include <cstdint>

namespace qnn::ref {

namespace detail {
// Channel of an element: its index along the quantization axis (0 for per-tensor schemes).
template <QuantParams Q>
std::int64_t channel_of(const Q& q, const Shape& shape, const std::array<std::int64_t, Shape::kMaxRank>& idx) {
  if constexpr (Q::per_channel) {
    return idx[static_cast<std::size_t>(shape.normalize_axis(q.axis))];
  } else {
    (void)shape;
    (void)idx;
    return 0;
  }
}
template <QuantParams Q>
void check_channels(const Q& q, const Shape& shape) {
  if constexpr (Q::per_channel)
    check(shape.dim(q.axis) == q.channels(), "per-channel quantization has ", q.channels(),
          " channels, the tensor ", shape, " has ", shape.dim(q.axis), " along axis ", q.axis);
}
}  // namespace detail

template <QuantParams Q>
void quantize_linear(TensorView<const float> x, TensorView<typename Q::storage_type> y, const Q& q,
                     Rounding mode = Rounding::half_even) {
  check(x.shape() == y.shape(), "quantize: output ", y.shape(), " should be ", x.shape());
  detail::check_channels(q, x.shape());
  for_each_index(x.shape(), [&](const auto& idx) {
    const std::int64_t c = detail::channel_of(q, x.shape(), idx);
    at(y, idx) = quantize_value<typename Q::storage_type>(at(x, idx), q.scale_at(c), q.zero_point_at(c), mode);
  });
}

template <QuantParams Q>
void dequantize_linear(TensorView<const typename Q::storage_type> x, TensorView<float> y, const Q& q) {
  check(x.shape() == y.shape(), "dequantize: output ", y.shape(), " should be ", x.shape());
  detail::check_channels(q, x.shape());
  for_each_index(x.shape(), [&](const auto& idx) {
    const std::int64_t c = detail::channel_of(q, x.shape(), idx);
    at(y, idx) = dequantize_value(at(x, idx), q.scale_at(c), q.zero_point_at(c));
  });
}

inline void to_bf16(TensorView<const float> x, TensorView<bf16> y) {
  unary(x, y, [](float v) { return bf16(v); });
}
inline void from_bf16(TensorView<const bf16> x, TensorView<float> y) {
  unary(x, y, [](bf16 v) { return v.to_float(); });
}

}  // namespace qnn::ref
// ---- end qnn/kernels/ref/quantize_linear.hpp -------------------------------------------------------
// ---- begin qnn/kernels/ref/softmax.hpp -------------------------------------------------------------
// Reference float Softmax along one axis (ONNX opset 13 semantics):
//   y_i = exp(x_i − max_j x_j) / Σ_j exp(x_j − max_j x_j)
// Subtracting the maximum keeps every exp ≤ 1, so no overflow for any finite input. The sum runs
// in fp32 in index order. Earlier opsets' "coerce to 2-D" semantics are mapped by the Softmax op.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

namespace qnn::ref {

inline void softmax(TensorView<const float> x, int axis, TensorView<float> y) {
  check(x.shape() == y.shape(), "softmax output ", y.shape(), " should be ", x.shape());
  const int ax = x.shape().normalize_axis(axis);
  const std::int64_t len = x.shape()[ax];
  // Visit every 1-D line along `ax`: iterate the shape with that axis collapsed to 1.
  Shape outer = x.shape();
  outer[ax] = 1;
  const std::int64_t xs = x.strides()[static_cast<std::size_t>(ax)];
  const std::int64_t ys = y.strides()[static_cast<std::size_t>(ax)];
  for_each_index(outer, [&](const auto& idx) {
    const float* xl = &at(x, idx);
    float* yl = &at(y, idx);
    float mx = -std::numeric_limits<float>::infinity();
    for (std::int64_t i = 0; i < len; ++i) mx = std::max(mx, xl[i * xs]);
    float sum = 0.0f;
    for (std::int64_t i = 0; i < len; ++i) {
      const float e = std::exp(xl[i * xs] - mx);
      yl[i * ys] = e;
      sum += e;
    }
    for (std::int64_t i = 0; i < len; ++i) yl[i * ys] /= sum;
  });
}

}  // namespace qnn::ref
// ---- end qnn/kernels/ref/softmax.hpp ---------------------------------------------------------------

// ---- begin qnn/graph/describe.hpp ------------------------------------------------------------------
// Human-readable facts about nodes for reports (qnn inspect, profile, partition): the quantization
// each quantized operand carries, read from the node's constant scale and zero-point inputs.

#include <map>
#include <sstream>
#include <string>
#include <vector>

// ---- begin qnn/graph/graph.hpp ---------------------------------------------------------------------
// The graph IR: values (named edges, some constant) and nodes (ONNX operators, plus the
// com.microsoft and qnn-internal ones that lowering produces).
//
// Edges are referenced by name, as in ONNX, so passes read like the graph surgery they are
// (replace an input, drop a node) and an imported model keeps its names for error messages and
// reports. The IR is built once per session; nothing here is on the inference path.

#include <algorithm>
#include <cstdint>
#include <map>
#include <optional>
#include <ostream>
#include <queue>
#include <set>
#include <string>
#include <vector>

// ---- begin qnn/graph/attributes.hpp ----------------------------------------------------------------
// Node attributes: typed values with checked getters.
//
// A kernel reads the attributes it understands through the getters, which record each name they
// were asked for. After the kernel is made, `unused()` lists what the model set but nothing read:
// the session turns that into a qnn::error ("node 'conv1' (Conv): attribute 'foo' is not supported")
// instead of silently ignoring a setting that would change the answer.

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <variant>
#include <vector>

namespace qnn {

using AttributeValue = std::variant<float, std::int64_t, std::string, Tensor, std::vector<float>,
                                    std::vector<std::int64_t>, std::vector<std::string>>;

class Attributes {
 public:
  void set(const std::string& name, AttributeValue v) { values_[name] = std::move(v); }
  void erase(const std::string& name) { values_.erase(name); }
  bool has(const std::string& name) const {
    read_.insert(name);
    return values_.count(name) != 0;
  }
  const std::map<std::string, AttributeValue>& all() const { return values_; }

  std::int64_t get_int(const std::string& name, std::int64_t def) const { return get_or<std::int64_t>(name, def); }
  std::int64_t get_int(const std::string& name) const { return get<std::int64_t>(name); }
  float get_float(const std::string& name, float def) const { return get_or<float>(name, def); }
  float get_float(const std::string& name) const { return get<float>(name); }
  std::string get_string(const std::string& name, const std::string& def) const { return get_or<std::string>(name, def); }
  std::string get_string(const std::string& name) const { return get<std::string>(name); }
  std::vector<std::int64_t> get_ints(const std::string& name, std::vector<std::int64_t> def = {}) const {
    return get_or<std::vector<std::int64_t>>(name, std::move(def));
  }
  std::vector<float> get_floats(const std::string& name, std::vector<float> def = {}) const {
    return get_or<std::vector<float>>(name, std::move(def));
  }
  const Tensor& get_tensor(const std::string& name) const { return get<Tensor>(name); }

  // The value if present and of type T, else nullptr — without recording a use. For code that
  // inspects a node it does not run (a backend's supports(), reports), so the kernel that does run
  // it still answers for every attribute.
  template <class T>
  const T* peek(const std::string& name) const {
    const auto it = values_.find(name);
    return it == values_.end() ? nullptr : std::get_if<T>(&it->second);
  }

  // Attributes present but never read.
  std::vector<std::string> unused() const {
    std::vector<std::string> out;
    for (const auto& [name, v] : values_)
      if (!read_.count(name)) out.push_back(name);
    return out;
  }

 private:
  template <class T>
  static const char* kind_name() {
    if constexpr (std::same_as<T, float>) return "float";
    else if constexpr (std::same_as<T, std::int64_t>) return "int";
    else if constexpr (std::same_as<T, std::string>) return "string";
    else if constexpr (std::same_as<T, Tensor>) return "tensor";
    else if constexpr (std::same_as<T, std::vector<float>>) return "floats";
    else if constexpr (std::same_as<T, std::vector<std::int64_t>>) return "ints";
    else return "strings";
  }
  template <class T>
  const T& get(const std::string& name) const {
    read_.insert(name);
    const auto it = values_.find(name);
    check(it != values_.end(), "required attribute '", name, "' is missing");
    const T* v = std::get_if<T>(&it->second);
    check(v != nullptr, "attribute '", name, "' must be of type ", kind_name<T>());
    return *v;
  }
  template <class T>
  T get_or(const std::string& name, T def) const {
    read_.insert(name);
    const auto it = values_.find(name);
    if (it == values_.end()) return def;
    const T* v = std::get_if<T>(&it->second);
    check(v != nullptr, "attribute '", name, "' must be of type ", kind_name<T>());
    return *v;
  }

  std::map<std::string, AttributeValue> values_;
  mutable std::set<std::string> read_;
};

}  // namespace qnn
// ---- end qnn/graph/attributes.hpp ------------------------------------------------------------------

namespace qnn {

inline constexpr std::int64_t kDynamicDim = -1;

struct Value {
  std::string name;
  std::optional<DType> dtype;
  // Known dims, kDynamicDim where symbolic or unknown; nullopt when even the rank is unknown.
  std::optional<std::vector<std::int64_t>> dims;
  std::vector<std::string> dim_params;  // symbolic names of graph-input dims ("batch_size"), "" otherwise
  std::optional<Tensor> constant;       // initializers and folded values
};

struct Node {
  std::string name;
  std::string op_type;
  std::string domain;  // "" = ONNX; "com.microsoft"; "qnn" for internal ops
  std::vector<std::string> inputs;   // "" marks an omitted optional input
  std::vector<std::string> outputs;
  Attributes attrs;

  std::string where() const {
    return detail::cat("node '", name, "' (", domain.empty() ? "" : domain + ".", op_type, ")");
  }
  bool has_input(std::size_t i) const { return i < inputs.size() && !inputs[i].empty(); }
};

class Graph {
 public:
  std::vector<Node> nodes;
  std::map<std::string, Value> values;
  std::vector<std::string> inputs;   // graph inputs (not initializers)
  std::vector<std::string> outputs;
  std::map<std::string, std::int64_t> opsets;  // domain -> version ("" = ONNX)

  Value& value(const std::string& name) {
    auto it = values.find(name);
    check(it != values.end(), "value '", name, "' does not exist");
    return it->second;
  }
  const Value& value(const std::string& name) const {
    auto it = values.find(name);
    check(it != values.end(), "value '", name, "' does not exist");
    return it->second;
  }
  Value& ensure_value(const std::string& name) {
    Value& v = values[name];
    v.name = name;
    return v;
  }
  bool is_constant(const std::string& name) const {
    auto it = values.find(name);
    return it != values.end() && it->second.constant.has_value();
  }
  const Tensor* constant(const std::string& name) const {
    auto it = values.find(name);
    return it != values.end() && it->second.constant ? &*it->second.constant : nullptr;
  }
  std::int64_t opset(const std::string& domain = "") const {
    auto it = opsets.find(domain);
    return it == opsets.end() ? 0 : it->second;
  }

  // A fresh value name derived from `base`.
  std::string unique_name(const std::string& base) {
    std::string n = base;
    for (int i = 1; values.count(n); ++i) n = base + "_" + std::to_string(i);
    ensure_value(n);
    return n;
  }
  std::string add_constant(const std::string& base, Tensor t) {
    std::string n = unique_name(base);
    Value& v = value(n);
    v.dtype = t.dtype();
    v.dims = std::vector<std::int64_t>(t.shape().begin(), t.shape().end());
    v.constant = std::move(t);
    return n;
  }

  // Index of the node producing `value`, or -1 (graph input, constant, or unknown).
  int producer(const std::string& name) const {
    for (std::size_t i = 0; i < nodes.size(); ++i)
      for (const auto& o : nodes[i].outputs)
        if (o == name) return static_cast<int>(i);
    return -1;
  }
  // Indices of the nodes reading `value`.
  std::vector<int> consumers(const std::string& name) const {
    std::vector<int> out;
    for (std::size_t i = 0; i < nodes.size(); ++i)
      if (std::find(nodes[i].inputs.begin(), nodes[i].inputs.end(), name) != nodes[i].inputs.end())
        out.push_back(static_cast<int>(i));
    return out;
  }
  bool is_graph_output(const std::string& name) const {
    return std::find(outputs.begin(), outputs.end(), name) != outputs.end();
  }

  // Every read of `from` (node inputs and graph outputs) now reads `to`.
  void replace_uses(const std::string& from, const std::string& to) {
    for (Node& n : nodes)
      for (auto& in : n.inputs)
        if (in == from) in = to;
    for (auto& o : outputs)
      if (o == from) o = to;
  }

  // Removes the nodes whose indices are flagged, then every value nothing refers to any more.
  void erase_nodes(const std::vector<bool>& dead) {
    std::vector<Node> kept;
    for (std::size_t i = 0; i < nodes.size(); ++i)
      if (!dead[i]) kept.push_back(std::move(nodes[i]));
    nodes = std::move(kept);
    prune_values();
  }

  void prune_values() {
    std::set<std::string> used(inputs.begin(), inputs.end());
    used.insert(outputs.begin(), outputs.end());
    for (const Node& n : nodes) {
      used.insert(n.inputs.begin(), n.inputs.end());
      used.insert(n.outputs.begin(), n.outputs.end());
    }
    for (auto it = values.begin(); it != values.end();)
      it = used.count(it->first) ? std::next(it) : values.erase(it);
  }

  // Reorders nodes so every node follows its producers (Kahn's algorithm, stable: among ready nodes
  // the earlier one in the file goes first). Throws on a cycle or on an input nothing produces.
  void topological_sort() {
    std::map<std::string, int> producer_of;
    for (std::size_t i = 0; i < nodes.size(); ++i)
      for (const auto& o : nodes[i].outputs) {
        if (o.empty()) continue;
        check(!producer_of.count(o) && !is_constant(o) &&
                  std::find(inputs.begin(), inputs.end(), o) == inputs.end(),
              nodes[i].where(), ": output '", o, "' is produced more than once");
        producer_of[o] = static_cast<int>(i);
      }
    std::vector<int> missing(nodes.size(), 0);
    std::vector<std::vector<int>> users(nodes.size());
    for (std::size_t i = 0; i < nodes.size(); ++i) {
      for (const auto& in : nodes[i].inputs) {
        if (in.empty()) continue;
        auto it = producer_of.find(in);
        if (it != producer_of.end()) {
          ++missing[i];
          users[static_cast<std::size_t>(it->second)].push_back(static_cast<int>(i));
        } else {
          check(is_constant(in) || std::find(inputs.begin(), inputs.end(), in) != inputs.end(),
                nodes[i].where(), ": input '", in, "' is neither a graph input, an initializer nor produced by a node");
        }
      }
    }
    std::priority_queue<int, std::vector<int>, std::greater<>> ready;
    for (std::size_t i = 0; i < nodes.size(); ++i)
      if (missing[i] == 0) ready.push(static_cast<int>(i));
    std::vector<int> order;
    while (!ready.empty()) {
      const int i = ready.top();
      ready.pop();
      order.push_back(i);
      for (int u : users[static_cast<std::size_t>(i)])
        if (--missing[static_cast<std::size_t>(u)] == 0) ready.push(u);
    }
    if (order.size() != nodes.size()) {
      for (std::size_t i = 0; i < nodes.size(); ++i)
        if (missing[i] > 0) fail("the graph has a cycle through ", nodes[i].where());
    }
    std::vector<Node> sorted;
    sorted.reserve(nodes.size());
    for (int i : order) sorted.push_back(std::move(nodes[static_cast<std::size_t>(i)]));
    nodes = std::move(sorted);
    for (const auto& o : outputs)
      check(producer_of.count(o) || is_constant(o) || std::find(inputs.begin(), inputs.end(), o) != inputs.end(),
            "graph output '", o, "' is not produced by any node");
  }
};

}  // namespace qnn
// ---- end qnn/graph/graph.hpp -----------------------------------------------------------------------

namespace qnn {

struct OperandQuant {
  std::string role;   // "x", "w", "y", ...
  std::string value;  // the quantized tensor's name
  std::vector<float> scales;
  std::vector<std::int64_t> zero_points;
  DType storage = DType::u8;
};

namespace detail {
// (role, tensor input index or -1 for the node's output, scale index, zero-point index)
struct OperandLayout {
  const char* role;
  int tensor;
  int scale;
  int zp;
};
inline const std::vector<OperandLayout>* operand_layout(const Node& n) {
  static const std::map<std::string, std::vector<OperandLayout>> layouts = {
      {"QuantizeLinear", {{"y", -1, 1, 2}}},
      {"DequantizeLinear", {{"x", 0, 1, 2}}},
      {"QLinearConv", {{"x", 0, 1, 2}, {"w", 3, 4, 5}, {"y", -1, 6, 7}}},
      {"QLinearMatMul", {{"a", 0, 1, 2}, {"b", 3, 4, 5}, {"y", -1, 6, 7}}},
      {"QGemm", {{"a", 0, 1, 2}, {"b", 3, 4, 5}, {"y", -1, 7, 8}}},
      {"QLinearAdd", {{"a", 0, 1, 2}, {"b", 3, 4, 5}, {"y", -1, 6, 7}}},
      {"QLinearMul", {{"a", 0, 1, 2}, {"b", 3, 4, 5}, {"y", -1, 6, 7}}},
      {"QLinearAveragePool", {{"x", 0, 1, 2}, {"y", -1, 3, 4}}},
      {"QLinearGlobalAveragePool", {{"x", 0, 1, 2}, {"y", -1, 3, 4}}},
      {"QLinearSigmoid", {{"x", 0, 1, 2}, {"y", -1, 3, 4}}},
      {"QLinearLeakyRelu", {{"x", 0, 1, 2}, {"y", -1, 3, 4}}},
      {"QLinearUnary", {{"x", 0, 1, 2}, {"y", -1, 3, 4}}},
      {"QLinearConcat", {{"y", -1, 0, 1}}},
  };
  auto it = layouts.find(n.op_type);
  return it == layouts.end() ? nullptr : &it->second;
}
}  // namespace detail

inline std::vector<OperandQuant> operand_quantization(const Graph& g, const Node& n) {
  std::vector<OperandQuant> out;
  const auto* layout = detail::operand_layout(n);
  if (!layout) return out;
  for (const auto& l : *layout) {
    if (!n.has_input(static_cast<std::size_t>(l.scale))) continue;
    const Tensor* s = g.constant(n.inputs[static_cast<std::size_t>(l.scale)]);
    if (!s || s->dtype() != DType::f32) continue;
    OperandQuant q;
    q.role = l.role;
    q.value = l.tensor < 0 ? n.outputs[0] : n.inputs[static_cast<std::size_t>(l.tensor)];
    for (float v : s->span<float>()) q.scales.push_back(v);
    const Tensor* z = n.has_input(static_cast<std::size_t>(l.zp)) ? g.constant(n.inputs[static_cast<std::size_t>(l.zp)]) : nullptr;
    if (z) {
      q.storage = z->dtype();
      visit_dtype(z->dtype(), [&](auto t) {
        using T = decltype(t);
        if constexpr (std::is_integral_v<T> && !std::same_as<T, bool>)
          for (T v : z->span<T>()) q.zero_points.push_back(static_cast<std::int64_t>(v));
      });
    } else {
      q.zero_points.assign(1, 0);
    }
    out.push_back(std::move(q));
  }
  return out;
}

inline std::string format_quant(const OperandQuant& q) {
  std::ostringstream os;
  os << q.role << ":" << q.storage;
  if (q.scales.size() == 1) {
    os << " s=" << q.scales[0] << " zp=" << (q.zero_points.empty() ? 0 : q.zero_points[0]);
  } else {
    float lo = q.scales[0], hi = q.scales[0];
    for (float v : q.scales) lo = std::min(lo, v), hi = std::max(hi, v);
    os << " per-channel(" << q.scales.size() << ") s=[" << lo << ".." << hi << "]";
  }
  return os.str();
}

inline std::string format_dims(const Value& v) {
  if (!v.dims) return "?";
  std::ostringstream os;
  os << '[';
  for (std::size_t i = 0; i < v.dims->size(); ++i) {
    if (i) os << ',';
    const std::int64_t d = (*v.dims)[i];
    if (d != kDynamicDim) os << d;
    else if (i < v.dim_params.size() && !v.dim_params[i].empty()) os << v.dim_params[i];
    else os << 'N';
  }
  os << ']';
  return os.str();
}

}  // namespace qnn
// ---- end qnn/graph/describe.hpp --------------------------------------------------------------------
// Shared by the operator headers, which runtime/ops/registry.hpp includes only where the registry
// is compiled, and by headers included unconditionally (the NPU backend, fine-tuning): included
// here first so that the single header inlines them outside that conditional (tools/amalgamate.py).
// ---- begin qnn/graph/passes/fuse_activation.hpp ----------------------------------------------------
// Relu / Clip fused into the Conv, Gemm or MatMul before it: the producer clamps its own output
// (attributes qnn_activation = "relu" | "clip", qnn_clip_min, qnn_clip_max, in real units), which
// saves a pass over the tensor and, for quantized producers, is exactly the unfused result
// (docs/numerics.md §4.6). Applies when the producer's output has no other reader and Clip's bounds
// are constants. read_fused_activation is the one reader of those attributes (the kernels', and
// graph/passes/input_range.hpp's).

#include <limits>
#include <string>

// ---- begin qnn/graph/passes/fuse_into_producer.hpp -------------------------------------------------
// The walk the fusion passes share: a node that reads the only output of the node before it, when
// nothing else reads that value and it is not a graph output, can be taken over by that producer,
// which then writes the node's output. Each pass says which pairs it takes and what attributes the
// producer gets (fold_batchnorm.hpp, fuse_activation.hpp, fuse_pool.hpp).

#include <cstddef>
#include <vector>

namespace qnn::passes {

// absorb(producer, node) decides whether `producer` takes `node` over; when it returns true it has
// already set the producer's attributes, and the producer's output becomes the node's first output.
// Returns how many nodes were taken over.
template <class Absorb>
int fuse_into_producer(Graph& g, Absorb&& absorb) {
  std::vector<bool> dead(g.nodes.size(), false);
  int fused = 0;
  for (std::size_t i = 0; i < g.nodes.size(); ++i) {
    const Node& n = g.nodes[i];
    if (n.inputs.empty() || n.outputs.empty()) continue;
    const int p = g.producer(n.inputs[0]);
    if (p < 0 || dead[static_cast<std::size_t>(p)]) continue;
    Node& prod = g.nodes[static_cast<std::size_t>(p)];
    if (prod.outputs.size() != 1) continue;
    if (g.consumers(n.inputs[0]).size() != 1 || g.is_graph_output(n.inputs[0])) continue;
    if (!absorb(prod, n)) continue;
    prod.outputs[0] = n.outputs[0];
    dead[i] = true;
    ++fused;
  }
  g.erase_nodes(dead);
  return fused;
}

}  // namespace qnn::passes
// ---- end qnn/graph/passes/fuse_into_producer.hpp ---------------------------------------------------

namespace qnn::passes {

// `qnn_activation`: "relu" | "clip" (bounds `qnn_clip_min`, `qnn_clip_max` in real units, default ∓∞).
inline ActivationClamp read_fused_activation(const Attributes& a) {
  const std::string act = a.get_string("qnn_activation", "");
  const float inf = std::numeric_limits<float>::infinity();
  const float lo = a.get_float("qnn_clip_min", -inf);
  const float hi = a.get_float("qnn_clip_max", inf);
  if (act.empty()) {
    check(lo == -inf && hi == inf, "qnn_clip_min/qnn_clip_max are set without qnn_activation = clip");
    return {};
  }
  if (act == "relu") {
    check(lo == -inf && hi == inf, "qnn_clip_min/qnn_clip_max are set with qnn_activation = relu");
    return ActivationClamp::relu();
  }
  if (act == "clip") {
    check(!(lo > hi), "qnn_activation clip has qnn_clip_min ", lo, " > qnn_clip_max ", hi);
    return ActivationClamp::clip(lo, hi);
  }
  fail("attribute qnn_activation '", act, "' is not one of relu, clip");
}

inline bool fusable_producer(const Node& n) {
  if (n.attrs.all().count("qnn_activation")) return false;
  if (n.domain.empty()) return n.op_type == "Conv" || n.op_type == "Gemm" || n.op_type == "MatMul";
  if (n.domain == "com.microsoft") return n.op_type == "QGemm";
  return false;
}

// The Clip bounds of `n` if they are known at preparation (attributes before opset 11, constant
// inputs after); false if a bound is not constant.
inline bool clip_bounds(const Graph& g, const Node& n, float& lo, float& hi) {
  lo = -std::numeric_limits<float>::infinity();
  hi = std::numeric_limits<float>::infinity();
  if (g.opset() < 11) {
    lo = n.attrs.get_float("min", lo);
    hi = n.attrs.get_float("max", hi);
    return true;
  }
  for (std::size_t i = 1; i <= 2; ++i) {
    if (!n.has_input(i)) continue;
    const Tensor* t = g.constant(n.inputs[i]);
    if (!t || t->dtype() != DType::f32 || t->numel() != 1) return false;
    (i == 1 ? lo : hi) = t->span<float>()[0];
  }
  return true;
}

inline int fuse_activations(Graph& g) {
  return fuse_into_producer(g, [&](Node& prod, const Node& act) {
    if (!act.domain.empty() || (act.op_type != "Relu" && act.op_type != "Clip")) return false;
    if (!fusable_producer(prod)) return false;
    const auto dt = g.value(act.inputs[0]).dtype;
    if (dt && *dt != DType::f32) return false;
    float lo = 0, hi = 0;
    if (act.op_type == "Clip") {
      if (!clip_bounds(g, act, lo, hi)) return false;
      prod.attrs.set("qnn_activation", std::string("clip"));
      prod.attrs.set("qnn_clip_min", lo);
      prod.attrs.set("qnn_clip_max", hi);
    } else {
      prod.attrs.set("qnn_activation", std::string("relu"));
    }
    return true;
  });
}

}  // namespace qnn::passes
// ---- end qnn/graph/passes/fuse_activation.hpp ------------------------------------------------------
// ---- begin qnn/graph/passes/input_range.hpp --------------------------------------------------------
// Known input ranges of the quantized conv and GEMM nodes: attribute qnn_input_range = [lo, hi],
// the integers a QLinearConv's x or a QGemm's A can take when the node producing it clamps them
// below its type's range — a QLinearConv or QGemm with a fused ReLU or Clip (qnn_activation),
// reached through nodes that only move or select values (selects_input_values: MaxPool, Reshape,
// Flatten, Squeeze, Unsqueeze, Transpose, Slice, Gather, Identity). The kernels take the range as ConvOptions/GemmOptions::
// input_range and with it run the byte kernel on more layers (kernels/cpu/u8s8.hpp): symmetric int8
// activations after a ReLU lie in [0, 127] (int8, A8W8) or [128, 255] (uint8 with zero point 128,
// XINT8), where every int8 weight is exact, which makes every layer that follows a ReLU in such a
// model a byte layer.
//
// The range is the producer's output clamp (numerics/requantize.hpp, output_range), so it holds by
// construction; the kernels still check it on every run that relies on it. Sessions run the pass on
// the CPU backend's kernels only, after QDQ lowering and activation fusion (runtime/optimize.hpp).

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <vector>

// ---- begin qnn/graph/passes/lower_qdq.hpp ----------------------------------------------------------
// QDQ lowering: DequantizeLinear → op → QuantizeLinear node units become integer operators, as
// ONNX Runtime's QDQ transformers do.
//
//   Conv         → QLinearConv          (bias: DQ(int32) with scale ≈ s_x·s_w, or a float constant
//                                        quantized to int32 at s_x·s_w[c], round half to even)
//   Gemm         → com.microsoft.QGemm  (alpha = beta = 1)
//   MatMul       → QLinearMatMul
//   Add, Mul     → com.microsoft.QLinearAdd / QLinearMul
//   Concat       → com.microsoft.QLinearConcat
//   AveragePool, GlobalAveragePool → com.microsoft.QLinear(Global)AveragePool
//   Sigmoid, LeakyRelu → com.microsoft.QLinearSigmoid / QLinearLeakyRelu
//   Relu, Clip, HardSigmoid, HardSwish, Tanh → qnn.QLinearUnary; a Relu/Clip whose input comes
//                  straight from a lowered conv/GEMM with the same output quantization is fused
//                  into it instead (its output range, docs/numerics.md §4.6)
//   MaxPool and data movement (Reshape, Flatten, Transpose, Squeeze, Unsqueeze, Slice, Gather,
//   Identity) with equal input and output quantization → the same op on the quantized data.
// A unit is lowered only when its op's output is read by exactly one QuantizeLinear and by nothing
// else. Everything that does not match runs as written: DequantizeLinear, the float op,
// QuantizeLinear. DQ nodes left without readers are removed afterwards (dead code).

#include <cmath>
#include <cstring>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace qnn::passes {

// A quantized edge: the integer tensor and its (constant) scale and zero point.
struct QEdge {
  std::string q, scale, zp;
  int axis = 1;  // DequantizeLinear's axis attribute (used only when the scale is 1-D)
};

namespace detail {

inline bool is_op(const Node& n, const char* op) {
  return (n.domain.empty() || n.domain == "com.microsoft") && n.op_type == op;
}

// The zero point input of a Q/DQ node, or a constant uint8 0 (the ONNX default) added on demand.
inline std::string zero_point_of(Graph& g, const Node& n) {
  if (n.has_input(2)) return n.inputs[2];
  return g.add_constant(n.name + "_zero_point", Tensor::scalar<std::uint8_t>(0));
}

inline bool constant_scale_zp(const Graph& g, const QEdge& e) {
  const Tensor* s = g.constant(e.scale);
  const Tensor* z = g.constant(e.zp);
  return s && z && s->dtype() == DType::f32 && s->numel() == z->numel();
}

// The DQ feeding `value`, as an edge; nullopt if `value` is not produced by a DequantizeLinear with
// constant parameters.
inline std::optional<QEdge> dq_edge(Graph& g, const std::string& value) {
  const int p = g.producer(value);
  if (p < 0) return std::nullopt;
  const Node& dq = g.nodes[static_cast<std::size_t>(p)];
  if (!is_op(dq, "DequantizeLinear") || dq.attrs.has("block_size")) return std::nullopt;
  QEdge e{dq.inputs[0], dq.inputs[1], zero_point_of(g, dq), static_cast<int>(dq.attrs.get_int("axis", 1))};
  if (!constant_scale_zp(g, e)) return std::nullopt;
  return e;
}

// The single QuantizeLinear reading `value` (and nothing else reading it), as an edge plus its node.
inline std::optional<std::pair<int, QEdge>> q_consumer(Graph& g, const std::string& value) {
  if (g.is_graph_output(value)) return std::nullopt;
  const auto users = g.consumers(value);
  if (users.size() != 1) return std::nullopt;
  const Node& q = g.nodes[static_cast<std::size_t>(users[0])];
  if (!is_op(q, "QuantizeLinear") || q.inputs[0] != value || q.attrs.has("block_size")) return std::nullopt;
  QEdge e{q.outputs[0], q.inputs[1], zero_point_of(g, q), static_cast<int>(q.attrs.get_int("axis", 1))};
  if (!constant_scale_zp(g, e) || g.constant(e.scale)->numel() != 1) return std::nullopt;
  return std::make_pair(users[0], e);
}

inline bool same_tensor(const Tensor* a, const Tensor* b) {
  return a && b && a->dtype() == b->dtype() && a->shape() == b->shape() &&
         std::memcmp(a->raw(), b->raw(), a->bytes()) == 0;
}
inline bool same_quant(const Graph& g, const QEdge& a, const QEdge& b) {
  return same_tensor(g.constant(a.scale), g.constant(b.scale)) && same_tensor(g.constant(a.zp), g.constant(b.zp));
}
inline bool per_tensor(const Graph& g, const QEdge& e) { return g.constant(e.scale)->numel() == 1; }

inline Node make_node(const Node& from, std::string op, std::string domain, std::vector<std::string> inputs,
                      std::string output) {
  Node n;
  n.name = from.name;
  n.op_type = std::move(op);
  n.domain = std::move(domain);
  n.inputs = std::move(inputs);
  n.outputs = {std::move(output)};
  return n;
}

inline void copy_attrs(const Node& from, Node& to, std::initializer_list<const char*> names) {
  for (const char* a : names) {
    auto it = from.attrs.all().find(a);
    if (it != from.attrs.all().end()) to.attrs.set(a, it->second);
  }
}

// Bias of a conv/GEMM unit as an int32 constant at scale s_x·s_w[c]; "" if it cannot be.
inline std::string int32_bias(Graph& g, const Node& op, std::size_t idx, const QEdge& x, const QEdge& w,
                              std::int64_t channels) {
  if (!op.has_input(idx)) return "";
  const float sx = g.constant(x.scale)->span<float>()[0];
  const auto sw = g.constant(w.scale)->span<float>();
  auto sw_at = [&](std::int64_t c) { return sw[sw.size() == 1 ? 0 : static_cast<std::size_t>(c)]; };
  if (auto dq = dq_edge(g, op.inputs[idx])) {
    const Tensor* b = g.constant(dq->q);
    const Tensor* bs = g.constant(dq->scale);
    if (!b || b->dtype() != DType::i32 || b->numel() != channels) return "";
    const auto zp = g.constant(dq->zp);
    for (std::int64_t i = 0; i < zp->numel(); ++i)
      if (zp->dtype() != DType::i32 || zp->span<std::int32_t>()[static_cast<std::size_t>(i)] != 0) return "";
    const auto s = bs->span<float>();
    for (std::int64_t c = 0; c < channels; ++c) {
      const double want = double{sx} * double{sw_at(c)};
      const double have = s[s.size() == 1 ? 0 : static_cast<std::size_t>(c)];
      if (std::fabs(have - want) > 1e-2 * want) return "";  // ONNX Runtime's tolerance
    }
    return dq->q;
  }
  const Tensor* b = g.constant(op.inputs[idx]);
  if (!b || b->dtype() != DType::f32 || b->numel() != channels) return "";
  Tensor q(DType::i32, Shape{channels});
  auto out = q.span<std::int32_t>();
  for (std::int64_t c = 0; c < channels; ++c) {
    const double v = double{b->span<float>()[static_cast<std::size_t>(c)]} / (double{sx} * double{sw_at(c)});
    out[static_cast<std::size_t>(c)] = saturate<std::int32_t>(static_cast<std::int64_t>(
        round_half_even(std::clamp(v, -4.0e9, 4.0e9))));
  }
  return g.add_constant(op.name + "_bias_int32", std::move(q));
}

}  // namespace detail

// True for an ONNX op whose output 0 holds only values of its input 0 — MaxPool (Indices unused)
// and data movement: why it may run on quantized data as it is, here, and why its output keeps its
// input's range (graph/passes/input_range.hpp).
inline bool selects_input_values(const Node& n) {
  if (!n.domain.empty() || n.inputs.empty() || n.outputs.empty()) return false;
  const std::string& t = n.op_type;
  if (t == "MaxPool") return n.outputs.size() == 1 || (n.outputs.size() == 2 && n.outputs[1].empty());
  return t == "Reshape" || t == "Flatten" || t == "Transpose" || t == "Squeeze" || t == "Unsqueeze" || t == "Slice" ||
         t == "Gather" || t == "Identity";
}

// Returns the number of units lowered.
inline int lower_qdq(Graph& g) {
  using namespace detail;
  int lowered = 0;
  // The lowered ops live in these domains; the model need not have imported them.
  if (!g.opsets.count("com.microsoft")) g.opsets["com.microsoft"] = 1;
  if (!g.opsets.count("qnn")) g.opsets["qnn"] = 1;
  // Each iteration lowers one unit and restarts: lowering changes producers and consumers.
  for (bool changed = true; changed;) {
    changed = false;
    for (std::size_t i = 0; i < g.nodes.size() && !changed; ++i) {
      const Node op = g.nodes[i];  // a copy: g.nodes is edited below
      if (!(op.domain.empty()) || op.outputs.size() != 1 || op.inputs.empty()) continue;
      auto qout = q_consumer(g, op.outputs[0]);
      // DQ → Conv/Gemm/MatMul → Relu/Clip → Q (symmetric activations keep the clamp between the
      // op and its Q): the activation is fused into the integer op.
      int fused_act = -1;
      float act_lo = 0, act_hi = 0;
      if (!qout && (op.op_type == "Conv" || op.op_type == "Gemm" || op.op_type == "MatMul") &&
          !g.is_graph_output(op.outputs[0])) {
        const auto users = g.consumers(op.outputs[0]);
        if (users.size() == 1) {
          const Node& act = g.nodes[static_cast<std::size_t>(users[0])];
          const bool relu = act.domain.empty() && act.op_type == "Relu";
          const bool clip = act.domain.empty() && act.op_type == "Clip" && clip_bounds(g, act, act_lo, act_hi);
          if (relu || clip) {
            qout = q_consumer(g, act.outputs[0]);
            fused_act = users[0];
          }
        }
      }
      if (!qout) continue;
      const QEdge& y = qout->second;
      std::optional<Node> repl;
      const std::string& t = op.op_type;

      if (t == "Conv" || t == "Gemm" || t == "MatMul") {
        const auto x = dq_edge(g, op.inputs[0]);
        const auto w = op.inputs.size() > 1 ? dq_edge(g, op.inputs[1]) : std::nullopt;
        if (!x || !w || !per_tensor(g, *x) || !g.is_constant(w->q)) continue;
        const Tensor& wt = *g.constant(w->q);
        const std::int64_t wscales = g.constant(w->scale)->numel();
        if (t == "Conv") {
          if (wt.shape().rank() < 3 || (wscales != 1 && (w->axis != 0 || wscales != wt.shape()[0]))) continue;
          const std::string b = int32_bias(g, op, 2, *x, *w, wt.shape()[0]);
          if (op.has_input(2) && b.empty()) continue;
          repl = make_node(op, "QLinearConv", "",
                           {x->q, x->scale, x->zp, w->q, w->scale, w->zp, y.scale, y.zp}, y.q);
          if (!b.empty()) repl->inputs.push_back(b);
          copy_attrs(op, *repl, {"auto_pad", "dilations", "group", "kernel_shape", "pads", "strides"});
        } else if (t == "Gemm") {
          if (op.attrs.get_float("alpha", 1.0f) != 1.0f || op.attrs.get_float("beta", 1.0f) != 1.0f) continue;
          if (wt.shape().rank() != 2) continue;
          const bool tb = op.attrs.get_int("transB", 0) != 0;
          const std::int64_t n = wt.shape()[tb ? 0 : 1];
          if (wscales != 1 && (w->axis != (tb ? 0 : 1) || wscales != n)) continue;
          const std::string b = int32_bias(g, op, 2, *x, *w, n);
          if (op.has_input(2) && b.empty()) continue;
          repl = make_node(op, "QGemm", "com.microsoft",
                           {x->q, x->scale, x->zp, w->q, w->scale, w->zp, b, y.scale, y.zp}, y.q);
          copy_attrs(op, *repl, {"transA", "transB"});
        } else {
          if (wt.shape().rank() != 2 || (wscales != 1 && (w->axis != 1 || wscales != wt.shape()[1]))) continue;
          repl = make_node(op, "QLinearMatMul", "", {x->q, x->scale, x->zp, w->q, w->scale, w->zp, y.scale, y.zp}, y.q);
        }
        copy_attrs(op, *repl, {"qnn_requant"});
        if (fused_act >= 0) {
          const Node& act = g.nodes[static_cast<std::size_t>(fused_act)];
          repl->attrs.set("qnn_activation", std::string(act.op_type == "Relu" ? "relu" : "clip"));
          if (act.op_type == "Clip") {
            repl->attrs.set("qnn_clip_min", act_lo);
            repl->attrs.set("qnn_clip_max", act_hi);
          }
        }
      } else if (t == "Add" || t == "Mul") {
        const auto a = dq_edge(g, op.inputs[0]);
        const auto b = op.inputs.size() > 1 ? dq_edge(g, op.inputs[1]) : std::nullopt;
        if (!a || !b || !per_tensor(g, *a) || !per_tensor(g, *b)) continue;
        repl = make_node(op, t == "Add" ? "QLinearAdd" : "QLinearMul", "com.microsoft",
                         {a->q, a->scale, a->zp, b->q, b->scale, b->zp, y.scale, y.zp}, y.q);
      } else if (t == "Concat") {
        std::vector<std::string> ins{y.scale, y.zp};
        bool ok = true;
        for (const auto& in : op.inputs) {
          const auto e = dq_edge(g, in);
          ok = ok && e && per_tensor(g, *e);
          if (ok) ins.insert(ins.end(), {e->q, e->scale, e->zp});
        }
        if (!ok) continue;
        repl = make_node(op, "QLinearConcat", "com.microsoft", ins, y.q);
        copy_attrs(op, *repl, {"axis"});
      } else if (t == "AveragePool" || t == "GlobalAveragePool" || t == "Sigmoid" || t == "LeakyRelu" ||
                 t == "Relu" || t == "Clip" || t == "HardSigmoid" || t == "HardSwish" || t == "Tanh") {
        const auto x = dq_edge(g, op.inputs[0]);
        if (!x || !per_tensor(g, *x)) continue;
        const std::vector<std::string> ins{x->q, x->scale, x->zp, y.scale, y.zp};
        if (t == "AveragePool") {
          if (op.attrs.all().count("dilations")) continue;
          repl = make_node(op, "QLinearAveragePool", "com.microsoft", ins, y.q);
          copy_attrs(op, *repl, {"auto_pad", "ceil_mode", "count_include_pad", "kernel_shape", "pads", "strides"});
        } else if (t == "GlobalAveragePool") {
          repl = make_node(op, "QLinearGlobalAveragePool", "com.microsoft", ins, y.q);
        } else if (t == "Sigmoid") {
          repl = make_node(op, "QLinearSigmoid", "com.microsoft", ins, y.q);
        } else if (t == "LeakyRelu") {
          repl = make_node(op, "QLinearLeakyRelu", "com.microsoft", ins, y.q);
          copy_attrs(op, *repl, {"alpha"});
        } else {
          float lo = 0, hi = 0;
          if (t == "Clip") {
            lo = -std::numeric_limits<float>::infinity();
            hi = std::numeric_limits<float>::infinity();
            if (g.opset() < 11) {
              lo = op.attrs.get_float("min", lo);
              hi = op.attrs.get_float("max", hi);
            } else {
              bool ok = true;
              for (std::size_t k = 1; k <= 2; ++k) {
                if (!op.has_input(k)) continue;
                const Tensor* c = g.constant(op.inputs[k]);
                ok = ok && c && c->dtype() == DType::f32 && c->numel() == 1;
                if (ok) (k == 1 ? lo : hi) = c->span<float>()[0];
              }
              if (!ok) continue;
            }
          }
          // Relu/Clip straight after a lowered conv/GEMM with the same output quantization: fuse.
          const int p = g.producer(x->q);
          if ((t == "Relu" || t == "Clip") && p >= 0 && same_quant(g, *x, y) && g.consumers(x->q).size() == 1 &&
              g.consumers(op.inputs[0]).size() == 1 && !g.is_graph_output(x->q)) {
            Node& prod = g.nodes[static_cast<std::size_t>(p)];
            const bool conv_like = (prod.domain.empty() && (prod.op_type == "QLinearConv" || prod.op_type == "QLinearMatMul")) ||
                                   (prod.domain == "com.microsoft" && prod.op_type == "QGemm");
            if (conv_like && !prod.attrs.all().count("qnn_activation")) {
              prod.attrs.set("qnn_activation", std::string(t == "Relu" ? "relu" : "clip"));
              if (t == "Clip") {
                prod.attrs.set("qnn_clip_min", lo);
                prod.attrs.set("qnn_clip_max", hi);
              }
              prod.outputs[0] = y.q;
              std::vector<bool> dead(g.nodes.size(), false);
              dead[i] = true;
              dead[static_cast<std::size_t>(qout->first)] = true;
              // The DQ between them and the old conv output lose their readers: dead code.
              g.erase_nodes(dead);
              ++lowered;
              changed = true;
              continue;
            }
          }
          repl = make_node(op, "QLinearUnary", "qnn", ins, y.q);
          const char* kind = t == "Relu" ? "relu" : t == "Clip" ? "clip" : t == "HardSigmoid" ? "hard_sigmoid"
                           : t == "HardSwish" ? "hard_swish" : "tanh";
          repl->attrs.set("activation", std::string(kind));
          if (t == "Clip") {
            repl->attrs.set("clip_min", lo);
            repl->attrs.set("clip_max", hi);
          }
          if (t == "HardSigmoid") {
            repl->attrs.set("alpha", op.attrs.get_float("alpha", 0.2f));
            repl->attrs.set("beta", op.attrs.get_float("beta", 0.5f));
          }
        }
      } else if (selects_input_values(op)) {
        const auto x = dq_edge(g, op.inputs[0]);
        if (!x || !per_tensor(g, *x) || !same_quant(g, *x, y)) continue;
        Node n = op;
        n.inputs[0] = x->q;
        n.outputs[0] = y.q;
        repl = std::move(n);
      }
      if (!repl) continue;
      g.nodes[i] = std::move(*repl);
      std::vector<bool> dead(g.nodes.size(), false);
      dead[static_cast<std::size_t>(qout->first)] = true;
      if (fused_act >= 0) dead[static_cast<std::size_t>(fused_act)] = true;
      g.erase_nodes(dead);
      ++lowered;
      changed = true;
    }
  }
  return lowered;
}

}  // namespace qnn::passes
// ---- end qnn/graph/passes/lower_qdq.hpp ------------------------------------------------------------

namespace qnn::passes {

namespace input_range_detail {

// Index of the y_scale input of a quantized node whose output range a fused activation narrows.
inline std::optional<std::size_t> clamped_output_scale(const Node& n) {
  if (!n.attrs.all().count("qnn_activation")) return std::nullopt;
  if (n.domain.empty() && n.op_type == "QLinearConv") return 6;
  if (n.domain == "com.microsoft" && n.op_type == "QGemm") return 7;
  return std::nullopt;
}

}  // namespace input_range_detail

// The integers `value` takes when a producer narrows them below its type's range.
inline std::optional<IntRange> produced_range(const Graph& g, std::string value) {
  for (;;) {
    const int p = g.producer(value);
    if (p < 0) return std::nullopt;
    const Node& n = g.nodes[static_cast<std::size_t>(p)];
    if (n.outputs.empty() || n.outputs[0] != value) return std::nullopt;
    if (selects_input_values(n)) {
      value = n.inputs[0];
      continue;
    }
    const auto ys = input_range_detail::clamped_output_scale(n);
    if (!ys || !n.has_input(*ys) || !n.has_input(*ys + 1)) return std::nullopt;
    const Tensor* scale = g.constant(n.inputs[*ys]);
    const Tensor* zp = g.constant(n.inputs[*ys + 1]);
    if (!scale || !zp || scale->dtype() != DType::f32 || scale->numel() != 1 || zp->numel() != 1)
      return std::nullopt;
    return with_context(n.where(), [&] {
      const ActivationClamp act = read_fused_activation(n.attrs);
      return visit_dtype(zp->dtype(), [&](auto v) -> std::optional<IntRange> {
        using T = decltype(v);
        if constexpr (QuantStorage<T>) {
          const IntRange r = output_range<T>(act, scale->span<float>()[0], zp->span<T>()[0]);
          if (r != storage_range<T>()) return r;
        }
        return std::nullopt;
      });
    });
  }
}

// `qnn_input_range` of a node: [lo, hi], or nothing when absent. The kernel checks lo and hi against
// its input type (kernels/cpu/u8s8.hpp, prepared_input_range).
inline std::optional<IntRange> read_input_range(const Attributes& a) {
  if (!a.has("qnn_input_range")) return std::nullopt;
  const std::vector<std::int64_t> v = a.get_ints("qnn_input_range");
  const auto int32 = [](std::int64_t x) {
    return x >= std::numeric_limits<std::int32_t>::min() && x <= std::numeric_limits<std::int32_t>::max();
  };
  check(v.size() == 2 && int32(v[0]) && int32(v[1]), "attribute qnn_input_range must be two int32 values [lo, hi]");
  return IntRange{static_cast<std::int32_t>(v[0]), static_cast<std::int32_t>(v[1])};
}

// Sets qnn_input_range on every QLinearConv, and every QGemm with a quantized output (a float one
// has no byte kernel), whose input a producer narrows; returns how many.
inline int annotate_input_ranges(Graph& g) {
  int count = 0;
  for (Node& n : g.nodes) {
    const bool conv = n.domain.empty() && n.op_type == "QLinearConv";
    const bool gemm = n.domain == "com.microsoft" && n.op_type == "QGemm" && n.has_input(7);
    if ((!conv && !gemm) || !n.has_input(0)) continue;
    if (const auto r = produced_range(g, n.inputs[0])) {
      n.attrs.set("qnn_input_range", std::vector<std::int64_t>{r->lo, r->hi});
      ++count;
    }
  }
  return count;
}

}  // namespace qnn::passes
// ---- end qnn/graph/passes/input_range.hpp ----------------------------------------------------------
// ---- begin qnn/runtime/ops/quant_params_io.hpp -----------------------------------------------------
// Shared plumbing of the quantized operators: reading scales and zero points from a node's constant
// inputs, the per-layer requantization policy and fused activation the graph passes attach
// (attributes `qnn_requant`, `qnn_activation`, `qnn_clip_min`, `qnn_clip_max`), and dtype dispatch.
//
// Every check here runs when the session is prepared, so a model whose quantization qnn cannot
// honour is refused with a message naming the input and the reason, never run with a guess.

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <utility>
#include <vector>

// ---- begin qnn/runtime/kernel.hpp ------------------------------------------------------------------
// The contract between the session and an operator's implementation.
//
// An OpKernel is made once per node when a session is prepared (NodeInfo gives it the node's
// attributes, constant inputs and known dtypes; it validates them and precomputes whatever it can:
// packed weights, requantization factors, lookup tables). run() is then called once per inference
// with a KernelContext that hands out input tensors and output buffers. Output shapes are decided in
// run() from the actual inputs, so one prepared kernel serves every batch size; the session's memory
// plan reuses output buffers across runs, so steady-state runs allocate nothing.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace qnn {

// A run-time tensor: dtype, shape and memory owned elsewhere (a session buffer, a constant, or the
// caller's input — which kernels only ever read).
struct TensorRef {
  DType dtype = DType::f32;
  Shape shape;
  std::byte* data = nullptr;

  std::int64_t numel() const { return shape.numel(); }
  std::size_t bytes() const { return static_cast<std::size_t>(numel()) * size_of(dtype); }

  template <class T>
  TensorView<const T> view() const {
    check(dtype_of_v<T> == dtype, "tensor holds ", dtype, ", read as ", name_of(dtype_of_v<T>));
    return TensorView<const T>(reinterpret_cast<const T*>(data), shape);
  }
  template <class T>
  TensorView<T> mut() const {
    check(dtype_of_v<T> == dtype, "tensor holds ", dtype, ", written as ", name_of(dtype_of_v<T>));
    return TensorView<T>(reinterpret_cast<T*>(data), shape);
  }
  template <class T>
  std::span<const T> span() const { return view<T>().span(); }

  static TensorRef of(const Tensor& t) {
    return {t.dtype(), t.shape(), const_cast<std::byte*>(t.raw())};
  }
};

class KernelContext {
 public:
  virtual ~KernelContext() = default;
  virtual std::size_t num_inputs() const = 0;
  // nullptr for an omitted optional input.
  virtual const TensorRef* input(std::size_t i) const = 0;
  // The buffer for output i, sized for `shape`; its previous contents are unspecified.
  virtual TensorRef& output(std::size_t i, DType dtype, const Shape& shape) = 0;
  // Worker threads the kernel may use (1 = run on the calling thread only).
  virtual int threads() const { return 1; }
  // Threads and per-thread scratch memory for the fast kernels; single-threaded by default.
  virtual cpu::Exec exec() { return local_.exec(); }

  const TensorRef& in(std::size_t i) const {
    const TensorRef* r = i < num_inputs() ? input(i) : nullptr;
    check(r != nullptr, "required input ", i, " is missing");
    return *r;
  }
  bool has(std::size_t i) const { return i < num_inputs() && input(i) != nullptr; }

 private:
  cpu::LocalExec local_;
};

class OpKernel {
 public:
  virtual ~OpKernel() = default;
  virtual void run(KernelContext& ctx) const = 0;
  // Multiply-accumulates of one run on these inputs (0 for ops without any), for reports.
  virtual std::int64_t macs(const KernelContext&) const { return 0; }
};

enum class Precision : std::uint8_t { as_written, bf16 };

struct SessionOptions {
  int threads = 1;
  bool optimize = true;                                // graph passes (folding, fusion, QDQ lowering)
  RequantPolicy requant = RequantPolicy::onnx_float;   // policy of lowered integer kernels
  Precision precision = Precision::as_written;         // bf16: float Conv/Gemm/MatMul run in bf16
  bool probe = true;                                   // a batch-1 dry run when the session is made
  bool reference_kernels = false;                      // scalar reference kernels only (the cpu-ref
                                                       // backend sets it; backends/cpu/cpu.hpp)
};

class KernelRegistry;

// What a kernel factory (or a backend deciding whether it takes a node) may look at: the node, the
// values it touches, the session options, and the registry of CPU kernels the session was given.
class NodeInfo {
 public:
  NodeInfo(const Node& node, const Graph& graph, const SessionOptions& options,
           const KernelRegistry* registry = nullptr)
      : node_(node), graph_(graph), options_(options), registry_(registry) {}

  const Node& node() const { return node_; }
  const Graph& graph() const { return graph_; }
  const Attributes& attrs() const { return node_.attrs; }
  const SessionOptions& options() const { return options_; }
  // The session's CPU kernel registry; nullptr outside a session (then the built-in one applies).
  const KernelRegistry* registry() const { return registry_; }
  std::int64_t opset() const { return graph_.opset(node_.domain == "ai.onnx" ? "" : node_.domain); }
  std::size_t num_inputs() const { return node_.inputs.size(); }
  std::size_t num_outputs() const { return node_.outputs.size(); }
  bool has_input(std::size_t i) const { return node_.has_input(i); }

  const Tensor* constant_input(std::size_t i) const {
    return has_input(i) ? graph_.constant(node_.inputs[i]) : nullptr;
  }
  const Tensor& require_constant(std::size_t i, const char* what) const {
    const Tensor* t = constant_input(i);
    check(t != nullptr, "input ", i, " (", what, ") must be a constant initializer");
    return *t;
  }
  std::optional<DType> input_dtype(std::size_t i) const {
    if (!has_input(i)) return std::nullopt;
    auto it = graph_.values.find(node_.inputs[i]);
    return it == graph_.values.end() ? std::nullopt : it->second.dtype;
  }
  std::optional<std::vector<std::int64_t>> input_dims(std::size_t i) const {
    if (!has_input(i)) return std::nullopt;
    auto it = graph_.values.find(node_.inputs[i]);
    return it == graph_.values.end() ? std::nullopt : it->second.dims;
  }
  std::optional<DType> output_dtype(std::size_t i) const {
    if (i >= node_.outputs.size() || node_.outputs[i].empty()) return std::nullopt;
    auto it = graph_.values.find(node_.outputs[i]);
    return it == graph_.values.end() ? std::nullopt : it->second.dtype;
  }
  std::optional<std::vector<std::int64_t>> output_dims(std::size_t i) const {
    if (i >= node_.outputs.size() || node_.outputs[i].empty()) return std::nullopt;
    auto it = graph_.values.find(node_.outputs[i]);
    return it == graph_.values.end() ? std::nullopt : it->second.dims;
  }

 private:
  const Node& node_;
  const Graph& graph_;
  const SessionOptions& options_;
  const KernelRegistry* registry_;
};

using KernelFactory = std::function<std::unique_ptr<OpKernel>(const NodeInfo&)>;

// Operators by (domain, op type). Each entry states the lowest opset whose semantics it
// implements; the factory sees the model's opset and handles the versions in between.
class KernelRegistry {
 public:
  // The newest ONNX opset whose operator changes qnn tracks. A model importing a newer opset is
  // refused: an operator may have changed meaning in a version qnn does not know.
  static constexpr std::int64_t kMaxOnnxOpset = 21;

  void add(const std::string& domain, const std::string& op, std::int64_t since, KernelFactory f) {
    entries_[{domain, op}] = Entry{since, std::move(f)};
  }
  bool supports(const std::string& domain, const std::string& op) const {
    return entries_.count({norm(domain), op}) != 0;
  }
  std::unique_ptr<OpKernel> make(const NodeInfo& info) const {
    const Node& n = info.node();
    auto it = entries_.find({norm(n.domain), n.op_type});
    check(it != entries_.end(), n.where(), ": operator ", n.domain.empty() ? "" : n.domain + ".",
          n.op_type, " is not supported by qnn");
    check(info.opset() >= it->second.since, n.where(), ": opset ", info.opset(),
          " is older than the oldest version qnn implements (", it->second.since, ")");
    auto k = with_context(n.where(), [&] { return it->second.make(info); });
    const auto unused = n.attrs.unused();
    check(unused.empty(), n.where(), ": attribute '", unused.empty() ? "" : unused.front(),
          "' is not supported");
    return k;
  }

 private:
  static std::string norm(const std::string& d) { return d == "ai.onnx" ? "" : d; }
  struct Entry {
    std::int64_t since = 1;
    KernelFactory make;
  };
  std::map<std::pair<std::string, std::string>, Entry> entries_;
};

}  // namespace qnn
// ---- end qnn/runtime/kernel.hpp --------------------------------------------------------------------

namespace qnn::ops::quant {

// ---- attributes set by qnn's graph passes -------------------------------------------------------

// `qnn_requant`: "onnx-float" | "tflite-double-round" | "tflite-single-round" | "npu-pow2"; default
// the session's policy.
inline RequantPolicy read_policy(const NodeInfo& info) {
  const std::string s = info.attrs().get_string("qnn_requant", std::string(name_of(info.options().requant)));
  for (RequantPolicy p : {RequantPolicy::onnx_float, RequantPolicy::tflite_double_round,
                          RequantPolicy::tflite_single_round, RequantPolicy::npu_pow2})
    if (s == name_of(p)) return p;
  fail("attribute qnn_requant '", s,
       "' is not one of onnx-float, tflite-double-round, tflite-single-round, npu-pow2");
}

// ---- scales and zero points ----------------------------------------------------------------------

// One tensor's quantization as read from a (scale, zero point) input pair: one entry per tensor, or
// one per channel. `dtype` is the storage type the zero point declares.
struct ScaleZp {
  DType dtype = DType::u8;
  std::vector<float> scales;
  std::vector<std::int32_t> zero_points;

  std::size_t size() const { return scales.size(); }
  float scale() const { return scales.front(); }
  std::int32_t zero_point() const { return zero_points.front(); }
};

// The values of an integer tensor as int32 (zero points of any quantized storage type, or int32).
inline std::vector<std::int32_t> int_values(const TensorRef& t) {
  return visit_dtype(t.dtype, [&](auto v) -> std::vector<std::int32_t> {
    using T = decltype(v);
    if constexpr (QuantStorage<T> || std::same_as<T, std::int32_t>) {
      const auto s = t.span<T>();
      return std::vector<std::int32_t>(s.begin(), s.end());
    } else {
      fail("a zero point must be int8, uint8, int16 or uint16, got ", t.dtype);
    }
  });
}

// Reads (scale, zero point) from run-time tensors. The zero point is optional (nullptr): it is
// then 0 of `default_dtype`. Scale and zero point hold the same number of values (or the zero point
// one value, broadcast). `what` names the pair in messages ("x_scale/x_zero_point").
inline ScaleZp scale_zp_from(const TensorRef& scale, const TensorRef* zp, DType default_dtype, const char* what) {
  ScaleZp q;
  check(scale.dtype == DType::f32, what, ": scale must be float32, got ", scale.dtype);
  check(scale.shape.rank() <= 1, what, ": scale of shape ", scale.shape,
        " is blocked quantization, which qnn does not support");
  check(scale.numel() >= 1, what, ": scale is empty");
  const auto s = scale.span<float>();
  q.scales.assign(s.begin(), s.end());
  if (zp) {
    check(is_quantized_storage(zp->dtype), what, ": zero point must be int8, uint8, int16 or uint16, got ",
          zp->dtype, " (float8 and int4 are not supported)");
    check(zp->shape == scale.shape || (zp->numel() == 1 && scale.numel() == 1), what, ": zero point of shape ",
          zp->shape, " does not match the scale's shape ", scale.shape);
    q.dtype = zp->dtype;
    q.zero_points = int_values(*zp);
  } else {
    q.dtype = default_dtype;
    q.zero_points.assign(q.scales.size(), 0);
  }
  for (float v : q.scales)
    check(v > 0.0f && std::isfinite(v), what, ": scale ", v, " must be positive and finite");
  return q;
}

// The data type of input `data` when it cannot be taken from a zero point: the value's declared
// dtype, or an error.
inline DType declared_dtype(const NodeInfo& info, std::size_t data, const char* what) {
  const auto d = info.input_dtype(data);
  check(d.has_value(), what, ": the element type is not known when the session is prepared (give the ",
        "zero point as an initializer, or a value_info for the input)");
  return *d;
}

// (scale, zero point) from constant inputs, which quantized compute nodes require. The zero point
// input may be omitted; its type then defaults to the declared type of input `data`.
inline ScaleZp constant_scale_zp(const NodeInfo& info, std::size_t scale_idx, std::size_t zp_idx,
                                 std::size_t data, const char* what) {
  const Tensor* s = info.constant_input(scale_idx);
  check(s != nullptr, what, ": the scale (input ", scale_idx, ") must be a constant initializer; qnn prepares ",
        "requantization once and does not accept run-time scales for this operator");
  const Tensor* z = info.has_input(zp_idx) ? info.constant_input(zp_idx) : nullptr;
  check(!info.has_input(zp_idx) || z != nullptr, what, ": the zero point (input ", zp_idx,
        ") must be a constant initializer");
  const TensorRef sr = TensorRef::of(*s);
  const TensorRef zr = z ? TensorRef::of(*z) : TensorRef{};
  const DType def = z ? z->dtype() : declared_dtype(info, data, what);
  return scale_zp_from(sr, z ? &zr : nullptr, def, what);
}

// A per-tensor pair: exactly one value (scalar or 1-element tensor).
inline ScaleZp constant_per_tensor(const NodeInfo& info, std::size_t scale_idx, std::size_t zp_idx,
                                   std::size_t data, const char* what) {
  ScaleZp q = constant_scale_zp(info, scale_idx, zp_idx, data, what);
  check(q.size() == 1, what, ": ", q.size(),
        " values; this tensor must be quantized per tensor (one scale and zero point)");
  return q;
}

// Per-channel parameters of a weight: one entry per output channel, or one for all (broadcast).
// Returns the scales and zero points expanded to `channels` entries.
inline ScaleZp expand_channels(ScaleZp q, std::int64_t channels, const char* what) {
  const auto n = static_cast<std::size_t>(channels);
  check(q.scales.size() == 1 || q.scales.size() == n, what, ": ", q.scales.size(), " scales for ", channels,
        " output channels");
  check(q.zero_points.size() == 1 || q.zero_points.size() == n, what, ": ", q.zero_points.size(),
        " zero points for ", channels, " output channels");
  if (q.scales.size() == 1) q.scales.assign(n, q.scales[0]);
  if (q.zero_points.size() == 1) q.zero_points.assign(n, q.zero_points[0]);
  return q;
}

// The constant quantization of a matmul whose output has the type of A (QLinearMatMul, QGemm with
// a quantized output): A per tensor (inputs 1, 2), B per tensor or per column (inputs 4, 5; with
// `columns` > 0 expanded to that many entries), Y per tensor (inputs y_scale, y_scale + 1). `a_name`
// and `y_name` spell A and Y as the operator does ("a"/"y", "A"/"Y") in the message of a Y whose
// type is not A's.
struct MatmulQuant {
  ScaleZp a, b, y;
};
inline MatmulQuant constant_matmul_quant(const NodeInfo& info, std::size_t y_scale, std::int64_t columns,
                                         const char* a_name, const char* y_name) {
  MatmulQuant q;
  q.a = constant_per_tensor(info, 1, 2, 0, "a_scale/a_zero_point");
  q.b = constant_scale_zp(info, 4, 5, 3, "b_scale/b_zero_point");
  if (columns > 0) q.b = expand_channels(std::move(q.b), columns, "b_scale/b_zero_point");
  q.y = constant_per_tensor(info, y_scale, y_scale + 1, 0, "y_scale/y_zero_point");
  check(q.y.dtype == q.a.dtype, y_name, " (", q.y.dtype, ") must have the type of ", a_name, " (", q.a.dtype, ")");
  return q;
}

template <QuantStorage T>
PerTensor<T> per_tensor(const ScaleZp& q, const char* what) {
  return with_context(what, [&] {
    check(q.dtype == dtype_of_v<T>, "expected ", name_of(dtype_of_v<T>), " quantization, got ", q.dtype);
    return PerTensor<T>(q.scale(), q.zero_point());
  });
}

// Calls f(T{}) for the quantized storage types qnn computes with; anything else is an error.
template <class F>
decltype(auto) visit_quant_dtype(DType t, const char* what, F&& f) {
  switch (t) {
    case DType::u8: return f(std::uint8_t{});
    case DType::i8: return f(std::int8_t{});
    case DType::u16: return f(std::uint16_t{});
    case DType::i16: return f(std::int16_t{});
    default: fail(what, ": element type ", t, " is not a quantized type (int8, uint8, int16, uint16)");
  }
}
template <class F>
decltype(auto) visit_int8_dtype(DType t, const char* what, F&& f) {
  switch (t) {
    case DType::u8: return f(std::uint8_t{});
    case DType::i8: return f(std::int8_t{});
    default: fail(what, ": element type ", t, " is not supported here (int8 or uint8)");
  }
}

// A run-time input must have the dtype the kernel was prepared for.
inline void check_dtype(const TensorRef& t, DType want, const char* what) {
  check(t.dtype == want, what, " is ", t.dtype, ", the node was prepared for ", want);
}

}  // namespace qnn::ops::quant
// ---- end qnn/runtime/ops/quant_params_io.hpp -------------------------------------------------------
// ---- begin qnn/runtime/ops/window_attrs.hpp --------------------------------------------------------
// ONNX convolution/pooling attributes (kernel_shape, strides, dilations, pads, auto_pad, ceil_mode)
// read once per node and resolved against each run's input shape.
//
// qnn's kernels are 2-D. A 1-D op (input N×C×L) runs as 2-D with H = 1: its attributes get a
// leading unit entry and its tensors a unit axis, which changes no value. 3-D and higher ops are
// refused with a clear error.

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace qnn::ops {

enum class AutoPad : std::uint8_t { notset, valid, same_upper, same_lower };

struct WindowAttrs {
  int spatial = 2;  // 1 or 2 spatial axes in the model
  std::array<std::int64_t, 2> kernel{0, 0};  // 0: take it from the weights
  std::array<std::int64_t, 2> strides{1, 1};
  std::array<std::int64_t, 2> dilations{1, 1};
  std::array<std::int64_t, 4> pads{0, 0, 0, 0};  // top, left, bottom, right
  AutoPad auto_pad = AutoPad::notset;
  bool ceil_mode = false;

  // Reads the attributes. `spatial` is the number of spatial axes (input rank − 2) if known at
  // prepare time, else 0 to infer it from the attribute lengths.
  static WindowAttrs read(const Attributes& a, int spatial, bool pooling) {
    WindowAttrs w;
    const auto ks = a.get_ints("kernel_shape");
    if (spatial == 0) spatial = ks.empty() ? 2 : static_cast<int>(ks.size());
    check(spatial == 1 || spatial == 2, "only 1-D and 2-D windows are supported, this one has ", spatial,
          " spatial axes");
    w.spatial = spatial;
    const int off = 2 - spatial;  // 1-D: attribute entry 0 is the width
    auto fill2 = [&](const std::vector<std::int64_t>& v, std::array<std::int64_t, 2>& out, const char* what) {
      if (v.empty()) return;
      check(static_cast<int>(v.size()) == spatial, what, " has ", v.size(), " entries for ", spatial,
            " spatial axes");
      for (int i = 0; i < spatial; ++i) out[static_cast<std::size_t>(i + off)] = v[static_cast<std::size_t>(i)];
    };
    if (pooling) check(!ks.empty(), "kernel_shape is required");
    if (!ks.empty()) {
      w.kernel = {1, 1};
      fill2(ks, w.kernel, "kernel_shape");
    }
    fill2(a.get_ints("strides"), w.strides, "strides");
    fill2(a.get_ints("dilations"), w.dilations, "dilations");
    const auto pads = a.get_ints("pads");
    if (!pads.empty()) {
      check(static_cast<int>(pads.size()) == 2 * spatial, "pads has ", pads.size(), " entries for ", spatial,
            " spatial axes");
      for (int i = 0; i < spatial; ++i) {
        w.pads[static_cast<std::size_t>(i + off)] = pads[static_cast<std::size_t>(i)];
        w.pads[static_cast<std::size_t>(i + off + 2)] = pads[static_cast<std::size_t>(i + spatial)];
      }
    }
    const std::string ap = a.get_string("auto_pad", "NOTSET");
    if (ap == "NOTSET") w.auto_pad = AutoPad::notset;
    else if (ap == "VALID") w.auto_pad = AutoPad::valid;
    else if (ap == "SAME_UPPER") w.auto_pad = AutoPad::same_upper;
    else if (ap == "SAME_LOWER") w.auto_pad = AutoPad::same_lower;
    else fail("auto_pad '", ap, "' is not one of NOTSET, VALID, SAME_UPPER, SAME_LOWER");
    check(w.auto_pad == AutoPad::notset || pads.empty(), "pads and auto_pad ", ap, " are both set");
    if (pooling) w.ceil_mode = a.get_int("ceil_mode", 0) != 0;
    return w;
  }

  // The 2-D window for an input of spatial size h×w; `kernel_hw` fills a kernel left at 0.
  Window2D resolve(std::int64_t h, std::int64_t wd, std::array<std::int64_t, 2> kernel_hw = {0, 0}) const {
    Window2D win;
    win.kernel = kernel[0] ? kernel : kernel_hw;
    win.strides = strides;
    win.dilations = dilations;
    win.pads = pads;
    if (auto_pad == AutoPad::valid) {
      win.pads = {0, 0, 0, 0};
    } else if (auto_pad == AutoPad::same_upper || auto_pad == AutoPad::same_lower) {
      // Output = ceil(in / stride); the total padding is split with the odd pixel at the end
      // (SAME_UPPER) or the beginning (SAME_LOWER).
      const std::array<std::int64_t, 2> in{h, wd};
      for (int i = 0; i < 2; ++i) {
        const auto u = static_cast<std::size_t>(i);
        const std::int64_t out = (in[u] + strides[u] - 1) / strides[u];
        const std::int64_t eff = dilations[u] * (win.kernel[u] - 1) + 1;
        const std::int64_t total = std::max<std::int64_t>(0, (out - 1) * strides[u] + eff - in[u]);
        const std::int64_t small = total / 2;
        const std::int64_t big = total - small;
        win.pads[u] = auto_pad == AutoPad::same_upper ? small : big;
        win.pads[u + 2] = auto_pad == AutoPad::same_upper ? big : small;
      }
    }
    return win;
  }
};

// A max pooling the fusion pass put on a Conv or QLinearConv node (graph/passes/fuse_pool.hpp):
// attribute qnn_pool = "max" and the MaxPool's own attributes under the prefix qnn_pool_. Reading
// it marks them all as used; anything MaxPool itself would refuse is refused here.
struct FusedMaxPool {
  WindowAttrs attrs;

  static std::optional<FusedMaxPool> read(const Attributes& a) {
    if (!a.has("qnn_pool")) return std::nullopt;
    const std::string kind = a.get_string("qnn_pool");
    check(kind == "max", "qnn_pool '", kind, "' is not max");
    static const std::string prefix = "qnn_pool_";
    Attributes pool;
    for (const auto& [name, v] : a.all())
      if (name.starts_with(prefix)) {
        (void)a.has(name);
        pool.set(name.substr(prefix.size()), v);
      }
    FusedMaxPool f;
    f.attrs = WindowAttrs::read(pool, 0, true);
    check(pool.get_int("storage_order", 0) == 0, "qnn_pool_storage_order = 1 is not supported");
    const auto unused = pool.unused();
    check(unused.empty(), "attribute 'qnn_pool_", unused.empty() ? "" : unused.front(), "' is not supported");
    return f;
  }

  // The pooling over a conv output of 4-D shape y4 whose op has `spatial` axes.
  PoolGeometry over(const Shape& y4, int spatial) const {
    check(spatial == attrs.spatial, "the fused pooling is ", attrs.spatial, "-D but the conv is ", spatial, "-D");
    return make_pool_geometry(y4, attrs.resolve(y4[2], y4[3]), attrs.ceil_mode);
  }
};

// The N×C×H×W shape a 1-D (N×C×L) or 2-D tensor is computed as.
inline Shape as_4d(const Shape& s, int spatial) {
  if (spatial == 2) {
    check(s.rank() == 4, "expected a 4-D (N,C,H,W) tensor, got ", s);
    return s;
  }
  check(s.rank() == 3, "expected a 3-D (N,C,L) tensor, got ", s);
  return Shape{s[0], s[1], 1, s[2]};
}
// And back: drops the unit H axis of a 1-D op's output.
inline Shape from_4d(const Shape& s, int spatial) {
  return spatial == 2 ? s : Shape{s[0], s[1], s[3]};
}

}  // namespace qnn::ops
// ---- end qnn/runtime/ops/window_attrs.hpp ----------------------------------------------------------
// ---- begin qnn/onnx/export.hpp ---------------------------------------------------------------------
// qnn Graph -> ONNX ModelProto: the writer behind `qnn quantize -o model.onnx`.
//
// Constants become initializers, value dims become ValueInfo for the graph inputs and outputs
// (symbolic dims keep their names, e.g. "batch_size"). qnn's internal state does not leak into the
// file: attributes named qnn_* are dropped, and a graph holding an op of the internal "qnn" domain is
// refused (export the QDQ graph, before lowering, instead). The result is what onnx.checker accepts
// and ONNX Runtime runs.

#include <cstring>
#include <filesystem>
#include <set>
#include <string>
#include <variant>

// ---- begin qnn/onnx/data_type.hpp ------------------------------------------------------------------
// ONNX element types (TensorProto.DataType) and how they map onto qnn::DType.
//
// The integer a file carries is kept as is: DataType has int32 as its fixed underlying type, so a
// value this header does not name (a type added by a newer ONNX) survives parsing and
// serialization unchanged and is only rejected when someone needs its data.
//
// Three levels of support, stated once here:
//   1. qnn computes with: float32, bfloat16, int8, uint8, int16, uint16, int32, int64, bool —
//      exactly the types to_dtype() maps to a qnn::DType.
//   2. the reader decodes into a little-endian byte buffer but qnn does not compute with: float16,
//      double, uint32, uint64, complex64, complex128 and the 8-bit floats. Their data is parsed
//      (ONNX conformance data is full of float16 and double tensors) so an importer may convert
//      them; tensor_values.hpp converts float16 and double to float32 for reading test data.
//   3. the reader rejects when a tensor holds them: undefined, string, the packed 4- and 2-bit
//      types and any value not named below. element_size() is 0 for exactly these.

#include <bit>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>

namespace qnn::onnx {

// onnx.proto: message TensorProto { enum DataType }.
enum class DataType : std::int32_t {
  undefined = 0,
  float32 = 1,
  uint8 = 2,
  int8 = 3,
  uint16 = 4,
  int16 = 5,
  int32 = 6,
  int64 = 7,
  string = 8,
  boolean = 9,
  float16 = 10,
  float64 = 11,
  uint32 = 12,
  uint64 = 13,
  complex64 = 14,
  complex128 = 15,
  bfloat16 = 16,
  float8e4m3fn = 17,
  float8e4m3fnuz = 18,
  float8e5m2 = 19,
  float8e5m2fnuz = 20,
  uint4 = 21,
  int4 = 22,
  float4e2m1 = 23,
  float8e8m0 = 24,
  uint2 = 25,
  int2 = 26,
};

constexpr std::string_view name_of(DataType t) {
  switch (t) {
    case DataType::undefined: return "undefined";
    case DataType::float32: return "float32";
    case DataType::uint8: return "uint8";
    case DataType::int8: return "int8";
    case DataType::uint16: return "uint16";
    case DataType::int16: return "int16";
    case DataType::int32: return "int32";
    case DataType::int64: return "int64";
    case DataType::string: return "string";
    case DataType::boolean: return "bool";
    case DataType::float16: return "float16";
    case DataType::float64: return "double";
    case DataType::uint32: return "uint32";
    case DataType::uint64: return "uint64";
    case DataType::complex64: return "complex64";
    case DataType::complex128: return "complex128";
    case DataType::bfloat16: return "bfloat16";
    case DataType::float8e4m3fn: return "float8e4m3fn";
    case DataType::float8e4m3fnuz: return "float8e4m3fnuz";
    case DataType::float8e5m2: return "float8e5m2";
    case DataType::float8e5m2fnuz: return "float8e5m2fnuz";
    case DataType::uint4: return "uint4";
    case DataType::int4: return "int4";
    case DataType::float4e2m1: return "float4e2m1";
    case DataType::float8e8m0: return "float8e8m0";
    case DataType::uint2: return "uint2";
    case DataType::int2: return "int2";
  }
  return "unknown";
}

// "float16 (10)": the name and the integer, so an unknown value is still identifiable.
inline std::ostream& operator<<(std::ostream& os, DataType t) {
  return os << name_of(t) << " (" << static_cast<std::int32_t>(t) << ")";
}

// Bytes per element in the decoded little-endian buffer; 0 when the reader cannot decode the type
// (level 3 above). Complex types are two floats (or doubles), real part first.
constexpr std::size_t element_size(DataType t) {
  switch (t) {
    case DataType::uint8:
    case DataType::int8:
    case DataType::boolean:
    case DataType::float8e4m3fn:
    case DataType::float8e4m3fnuz:
    case DataType::float8e5m2:
    case DataType::float8e5m2fnuz:
    case DataType::float8e8m0: return 1;
    case DataType::uint16:
    case DataType::int16:
    case DataType::float16:
    case DataType::bfloat16: return 2;
    case DataType::float32:
    case DataType::int32:
    case DataType::uint32: return 4;
    case DataType::int64:
    case DataType::float64:
    case DataType::uint64:
    case DataType::complex64: return 8;
    case DataType::complex128: return 16;
    case DataType::undefined:
    case DataType::string:
    case DataType::uint4:
    case DataType::int4:
    case DataType::float4e2m1:
    case DataType::uint2:
    case DataType::int2: return 0;
  }
  return 0;
}

// The qnn::DType qnn computes with, or nullopt for every other ONNX type.
constexpr std::optional<DType> to_dtype(DataType t) {
  switch (t) {
    case DataType::float32: return DType::f32;
    case DataType::bfloat16: return DType::bf16;
    case DataType::int8: return DType::i8;
    case DataType::uint8: return DType::u8;
    case DataType::int16: return DType::i16;
    case DataType::uint16: return DType::u16;
    case DataType::int32: return DType::i32;
    case DataType::int64: return DType::i64;
    case DataType::boolean: return DType::boolean;
    default: return std::nullopt;
  }
}

constexpr DataType to_data_type(DType t) {
  switch (t) {
    case DType::f32: return DataType::float32;
    case DType::bf16: return DataType::bfloat16;
    case DType::i8: return DataType::int8;
    case DType::u8: return DataType::uint8;
    case DType::i16: return DataType::int16;
    case DType::u16: return DataType::uint16;
    case DType::i32: return DataType::int32;
    case DType::i64: return DataType::int64;
    case DType::boolean: return DataType::boolean;
  }
  return DataType::undefined;
}

// to_dtype() or a qnn::error naming `what` (a tensor or value name) and the ONNX type.
inline DType require_dtype(DataType t, std::string_view what) {
  const std::optional<DType> d = to_dtype(t);
  if (!d) fail("onnx: '", what, "' has data type ", t, ", which qnn does not support");
  return *d;
}

// IEEE 754 binary16 -> binary32, exact (every half value is a float value). Written from the
// format: 1 sign bit, 5 exponent bits (bias 15), 10 fraction bits.
constexpr float float16_to_float(std::uint16_t h) {
  const std::uint32_t sign = std::uint32_t{h & 0x8000u} << 16;
  const std::uint32_t exponent = (h >> 10) & 0x1fu;
  const std::uint32_t fraction = h & 0x3ffu;
  if (exponent == 0x1f) {
    // Inf or NaN; the NaN payload moves to the top of the float fraction.
    return std::bit_cast<float>(sign | 0x7f800000u | (fraction << 13));
  }
  if (exponent != 0) {
    // Normal: rebias 15 -> 127.
    return std::bit_cast<float>(sign | ((exponent + 112u) << 23) | (fraction << 13));
  }
  // Zero or subnormal: fraction * 2^-24, exact in float.
  const float magnitude = static_cast<float>(fraction) * 0x1p-24f;
  return sign != 0 ? -magnitude : magnitude;
}

}  // namespace qnn::onnx
// ---- end qnn/onnx/data_type.hpp --------------------------------------------------------------------
// ---- begin qnn/onnx/proto.hpp ----------------------------------------------------------------------
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

#include <cstddef>
#include <filesystem>
#include <vector>

// ---- begin qnn/io/file.hpp -------------------------------------------------------------------------
// Whole-file reads and atomic writes, shared by the io/ readers and writers.
//
// A write goes to a temporary file beside `<path>` and is renamed over `<path>` only once every byte is on disk, so an
// error (full disk, a tensor the format cannot hold) never leaves a truncated file under the real
// name for a later run to trip over. Every message names the file.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <span>
#include <string>
#include <system_error>
#include <vector>

#include <unistd.h>

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
// ---- end qnn/io/file.hpp ---------------------------------------------------------------------------
// ---- begin qnn/onnx/proto_read.hpp -----------------------------------------------------------------
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

// ---- begin qnn/onnx/proto_fields.hpp ---------------------------------------------------------------
// Field numbers of the onnx.proto messages qnn reads and writes (ONNX IR version 13, onnx.proto in
// the onnx repository, syntax "proto2"). One namespace per message; each constant is the number
// after the `=` in that message's field declaration. Fields not listed are skipped when read.

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
// ---- end qnn/onnx/proto_fields.hpp -----------------------------------------------------------------
// ---- begin qnn/onnx/proto_types.hpp ----------------------------------------------------------------
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

#include <bit>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

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
// ---- end qnn/onnx/proto_types.hpp ------------------------------------------------------------------
// ---- begin qnn/onnx/wire.hpp -----------------------------------------------------------------------
// Protocol-buffer wire format: a bounds-checked reader and an appending writer.
//
// Written from the public encoding spec (protobuf.dev/programming-guides/encoding). A message is a
// sequence of fields; each field starts with a varint tag `(field_number << 3) | wire_type`:
//   0 varint   base-128, least significant group first, at most 10 bytes for 64 bits
//   1 i64      8 bytes little-endian (fixed64, sfixed64, double)
//   2 len      varint byte count, then that many bytes (strings, bytes, messages, packed repeated)
//   3/4        start/end group: deprecated since proto2, never used by onnx.proto, rejected here
//   5 i32      4 bytes little-endian (fixed32, sfixed32, float)
//
// The reader works on a span of the whole file and never reads past it: every length is checked
// against the bytes that remain before anything is copied or allocated, so a hostile header cannot
// make the reader allocate more than the input holds. Errors name the absolute byte offset in the
// input ("onnx: truncated varint at offset 1234"), also inside nested messages, because a
// sub-reader remembers where its span begins.

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace qnn::onnx::wire {

enum class WireType : std::uint8_t {
  varint = 0,
  i64 = 1,
  len = 2,
  start_group = 3,
  end_group = 4,
  i32 = 5,
};

constexpr std::string_view name_of(WireType t) {
  switch (t) {
    case WireType::varint: return "varint";
    case WireType::i64: return "fixed64";
    case WireType::len: return "length-delimited";
    case WireType::start_group: return "start-group";
    case WireType::end_group: return "end-group";
    case WireType::i32: return "fixed32";
  }
  return "invalid";
}

// Field numbers are 29-bit: the tag is a uint32 whose low 3 bits hold the wire type.
inline constexpr std::uint32_t max_field_number = (1u << 29) - 1;

// A 64-bit varint takes ceil(64 / 7) = 10 bytes; the tenth carries only bit 63.
inline constexpr std::size_t max_varint_bytes = 10;

// The header of one field: its number, its wire type and the offset of its tag in the input.
struct Field {
  std::uint32_t number = 0;
  WireType type = WireType::varint;
  std::size_t offset = 0;
};

class Reader {
 public:
  // `base` is the offset of bytes[0] in the outermost input; errors report base + position.
  explicit Reader(std::span<const std::byte> bytes, std::size_t base = 0)
      : bytes_(bytes), base_(base) {}

  bool at_end() const { return pos_ == bytes_.size(); }
  std::size_t offset() const { return base_ + pos_; }
  std::size_t remaining() const { return bytes_.size() - pos_; }

  std::uint64_t read_varint() {
    const std::size_t start = offset();
    std::uint64_t value = 0;
    for (std::size_t i = 0; i < max_varint_bytes; ++i) {
      check(pos_ < bytes_.size(), "onnx: truncated varint at offset ", start);
      const auto b = std::to_integer<std::uint8_t>(bytes_[pos_++]);
      if (i == max_varint_bytes - 1) {
        // Only bit 63 is left: the last byte may be 0 or 1 and must end the varint.
        check((b & 0x80u) == 0, "onnx: overlong varint (more than 10 bytes) at offset ", start);
        check(b <= 1, "onnx: varint overflows 64 bits at offset ", start);
      }
      value |= std::uint64_t{b & 0x7fu} << (7 * i);
      if ((b & 0x80u) == 0) return value;
    }
    fail("onnx: overlong varint at offset ", start);  // not reached: the loop returns or throws
  }

  // Reads a tag. Wire types 3 and 4 (groups) and 6, 7 (undefined) are errors here, so callers only
  // ever see the four wire types they can skip.
  Field read_field() {
    const std::size_t start = offset();
    const std::uint64_t tag = read_varint();
    check(tag <= std::numeric_limits<std::uint32_t>::max(), "onnx: tag ", tag,
          " does not fit 32 bits at offset ", start);
    const auto number = static_cast<std::uint32_t>(tag >> 3);
    const auto type = static_cast<std::uint32_t>(tag & 7u);
    check(number != 0, "onnx: field number 0 at offset ", start);
    check(type != 3 && type != 4, "onnx: field ", number,
          " is a group (wire type ", type, "), which onnx.proto never uses, at offset ", start);
    check(type <= 5, "onnx: field ", number, " has invalid wire type ", type, " at offset ", start);
    return Field{number, static_cast<WireType>(type), start};
  }

  std::uint32_t read_fixed32() {
    const auto b = take(4, "fixed32");
    std::uint32_t v = 0;
    for (std::size_t i = 0; i < 4; ++i) {
      v |= std::uint32_t{std::to_integer<std::uint8_t>(b[i])} << (8 * i);
    }
    return v;
  }

  std::uint64_t read_fixed64() {
    const auto b = take(8, "fixed64");
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < 8; ++i) {
      v |= std::uint64_t{std::to_integer<std::uint8_t>(b[i])} << (8 * i);
    }
    return v;
  }

  // The payload of a length-delimited field. The length is checked against what remains before
  // the span is formed, so no caller ever allocates from an unchecked length.
  std::span<const std::byte> read_len() {
    const std::size_t start = offset();
    const std::uint64_t n = read_varint();
    check(n <= remaining(), "onnx: length ", n, " at offset ", start, " runs past the end (",
          remaining(), " bytes left)");
    return take(static_cast<std::size_t>(n), "length-delimited field");
  }

  // Skips the value of a field whose header was just read (unknown fields are skipped, which is
  // what keeps the reader forward compatible with newer onnx.proto versions).
  void skip(const Field& f) {
    switch (f.type) {
      case WireType::varint: read_varint(); return;
      case WireType::i64: take(8, "fixed64"); return;
      case WireType::len: read_len(); return;
      case WireType::i32: take(4, "fixed32"); return;
      case WireType::start_group:
      case WireType::end_group: break;
    }
    fail("onnx: cannot skip field ", f.number, " with wire type ", static_cast<int>(f.type),
         " at offset ", f.offset);
  }

  // ---- typed reads of a field's value; each checks the wire type first -------------------------

  // int64 / uint64 fields: a varint; negative int64 values are their two's complement.
  std::int64_t read_int64(const Field& f) {
    expect(f, WireType::varint);
    return static_cast<std::int64_t>(read_varint());
  }
  std::uint64_t read_uint64(const Field& f) {
    expect(f, WireType::varint);
    return read_varint();
  }
  // int32 and enum fields: writers sign-extend negatives to 64 bits, so the value read as int64
  // must lie in int32 range; anything else is a corrupt field, not a value to truncate silently.
  std::int32_t read_int32(const Field& f) {
    const std::size_t start = offset();
    const std::int64_t v = read_int64(f);
    check(v >= std::numeric_limits<std::int32_t>::min() &&
              v <= std::numeric_limits<std::int32_t>::max(),
          "onnx: field ", f.number, " value ", v, " does not fit int32 at offset ", start);
    return static_cast<std::int32_t>(v);
  }
  float read_float(const Field& f) {
    expect(f, WireType::i32);
    return std::bit_cast<float>(read_fixed32());
  }
  double read_double(const Field& f) {
    expect(f, WireType::i64);
    return std::bit_cast<double>(read_fixed64());
  }
  std::span<const std::byte> read_bytes(const Field& f) {
    expect(f, WireType::len);
    return read_len();
  }
  std::string read_string(const Field& f) {
    const auto b = read_bytes(f);
    return std::string(reinterpret_cast<const char*>(b.data()), b.size());
  }
  // A reader over an embedded message; its errors still report offsets in the outer input.
  Reader read_message(const Field& f) {
    expect(f, WireType::len);
    const auto payload = read_len();
    return Reader(payload, offset() - payload.size());
  }

  // Repeated scalar fields. proto3 writes them packed (one len field holding the values back to
  // back), proto2 writes one field per value unless [packed = true]; a parser must accept both
  // forms for every repeated scalar, so each helper takes either and appends to `out`.
  void read_repeated_int64(const Field& f, std::vector<std::int64_t>& out) {
    if (f.type != WireType::len) {
      out.push_back(read_int64(f));
      return;
    }
    Reader packed = read_message(f);
    while (!packed.at_end()) out.push_back(static_cast<std::int64_t>(packed.read_varint()));
  }
  void read_repeated_uint64(const Field& f, std::vector<std::uint64_t>& out) {
    if (f.type != WireType::len) {
      out.push_back(read_uint64(f));
      return;
    }
    Reader packed = read_message(f);
    while (!packed.at_end()) out.push_back(packed.read_varint());
  }
  void read_repeated_int32(const Field& f, std::vector<std::int32_t>& out) {
    if (f.type != WireType::len) {
      out.push_back(read_int32(f));
      return;
    }
    Reader packed = read_message(f);
    const Field each{f.number, WireType::varint, f.offset};
    while (!packed.at_end()) out.push_back(packed.read_int32(each));
  }
  void read_repeated_float(const Field& f, std::vector<float>& out) {
    if (f.type != WireType::len) {
      out.push_back(read_float(f));
      return;
    }
    Reader packed = read_message(f);
    check(packed.remaining() % 4 == 0, "onnx: packed float field ", f.number, " at offset ",
          f.offset, " has ", packed.remaining(), " bytes, not a multiple of 4");
    out.reserve(out.size() + packed.remaining() / 4);
    while (!packed.at_end()) out.push_back(std::bit_cast<float>(packed.read_fixed32()));
  }
  void read_repeated_double(const Field& f, std::vector<double>& out) {
    if (f.type != WireType::len) {
      out.push_back(read_double(f));
      return;
    }
    Reader packed = read_message(f);
    check(packed.remaining() % 8 == 0, "onnx: packed double field ", f.number, " at offset ",
          f.offset, " has ", packed.remaining(), " bytes, not a multiple of 8");
    out.reserve(out.size() + packed.remaining() / 8);
    while (!packed.at_end()) out.push_back(std::bit_cast<double>(packed.read_fixed64()));
  }

 private:
  void expect(const Field& f, WireType want) const {
    check(f.type == want, "onnx: field ", f.number, " at offset ", f.offset, " has wire type ",
          name_of(f.type), ", expected ", name_of(want));
  }

  std::span<const std::byte> take(std::size_t n, std::string_view what) {
    check(n <= remaining(), "onnx: truncated ", what, " at offset ", offset(), " (needs ", n,
          " bytes, ", remaining(), " left)");
    const auto s = bytes_.subspan(pos_, n);
    pos_ += n;
    return s;
  }

  std::span<const std::byte> bytes_;
  std::size_t base_ = 0;
  std::size_t pos_ = 0;
};

// Appends fields to a byte vector. Embedded messages are written by the caller into their own
// vector first and then added with write_message, because the length prefix comes before the
// payload; the extra copy is bounded by the nesting depth.
class Writer {
 public:
  explicit Writer(std::vector<std::byte>& out) : out_(out) {}

  void write_varint(std::uint64_t v) {
    while (v >= 0x80u) {
      out_.push_back(static_cast<std::byte>((v & 0x7fu) | 0x80u));
      v >>= 7;
    }
    out_.push_back(static_cast<std::byte>(v));
  }
  void write_tag(std::uint32_t field, WireType type) {
    write_varint((std::uint64_t{field} << 3) | static_cast<std::uint64_t>(type));
  }
  void write_fixed32(std::uint32_t v) {
    for (int i = 0; i < 4; ++i) out_.push_back(static_cast<std::byte>((v >> (8 * i)) & 0xffu));
  }
  void write_fixed64(std::uint64_t v) {
    for (int i = 0; i < 8; ++i) out_.push_back(static_cast<std::byte>((v >> (8 * i)) & 0xffu));
  }

  // int64 and int32/enum fields: negative values are sign-extended to 64 bits (10 bytes), as
  // every protobuf writer does, so readers that treat the field as int64 see the same value.
  void write_int64(std::uint32_t field, std::int64_t v) {
    write_tag(field, WireType::varint);
    write_varint(static_cast<std::uint64_t>(v));
  }
  void write_uint64(std::uint32_t field, std::uint64_t v) {
    write_tag(field, WireType::varint);
    write_varint(v);
  }
  void write_float(std::uint32_t field, float v) {
    write_tag(field, WireType::i32);
    write_fixed32(std::bit_cast<std::uint32_t>(v));
  }
  void write_double(std::uint32_t field, double v) {
    write_tag(field, WireType::i64);
    write_fixed64(std::bit_cast<std::uint64_t>(v));
  }
  void write_bytes(std::uint32_t field, std::span<const std::byte> b) {
    write_tag(field, WireType::len);
    write_varint(b.size());
    out_.insert(out_.end(), b.begin(), b.end());
  }
  void write_string(std::uint32_t field, std::string_view s) {
    write_bytes(field, std::as_bytes(std::span<const char>(s.data(), s.size())));
  }
  void write_message(std::uint32_t field, const std::vector<std::byte>& payload) {
    write_bytes(field, payload);
  }

  // Packed repeated scalars. Nothing is written for an empty list: an absent repeated field and an
  // empty one are the same thing on the wire.
  void write_packed_int64(std::uint32_t field, std::span<const std::int64_t> values) {
    if (values.empty()) return;
    std::vector<std::byte> payload;
    Writer w(payload);
    for (const std::int64_t v : values) w.write_varint(static_cast<std::uint64_t>(v));
    write_message(field, payload);
  }
  void write_packed_float(std::uint32_t field, std::span<const float> values) {
    if (values.empty()) return;
    write_tag(field, WireType::len);
    write_varint(values.size() * 4);
    for (const float v : values) write_fixed32(std::bit_cast<std::uint32_t>(v));
  }

 private:
  std::vector<std::byte>& out_;
};

}  // namespace qnn::onnx::wire
// ---- end qnn/onnx/wire.hpp -------------------------------------------------------------------------

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
// ---- end qnn/onnx/proto_read.hpp -------------------------------------------------------------------
// ---- begin qnn/onnx/proto_write.hpp ----------------------------------------------------------------
// Writing the structs of proto_types.hpp as protobuf bytes that onnx, ONNX Runtime and
// proto_read.hpp all read back.
//
// Fields go out in field-number order, default values are left out, and repeated scalars use the
// encoding onnx.proto declares (dims, ints and floats are proto2 non-packed repeated fields, so
// they are written one field per value). Tensor data is always written as raw_data. The writer
// refuses what the reader would refuse: an inconsistent tensor (dims vs data size, undecodable
// data type, negative dims) and graphs nested deeper than max_graph_depth. So serialize() never
// produces a file qnn cannot load, and parse(serialize(x)) == x for every x it accepts.

#include <bit>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace qnn::onnx {

namespace detail {

using wire::Writer;

inline std::vector<std::byte> encode_tensor(const TensorProto& t) {
  namespace fn = field::tensor;
  check_tensor_consistent(t);
  std::vector<std::byte> out;
  Writer w(out);
  for (const std::int64_t d : t.dims) w.write_int64(fn::dims, d);
  if (t.data_type != DataType::undefined) {
    w.write_int64(fn::data_type, static_cast<std::int32_t>(t.data_type));
  }
  if (!t.name.empty()) w.write_string(fn::name, t.name);
  if (!t.data.empty()) w.write_bytes(fn::raw_data, t.data);
  return out;
}

inline std::vector<std::byte> encode_string_string_entry(const StringStringEntry& e) {
  namespace fn = field::string_string_entry;
  std::vector<std::byte> out;
  Writer w(out);
  if (!e.key.empty()) w.write_string(fn::key, e.key);
  if (!e.value.empty()) w.write_string(fn::value, e.value);
  return out;
}

inline std::vector<std::byte> encode_dimension(const Dimension& d) {
  namespace fn = field::dimension;
  std::vector<std::byte> out;
  Writer w(out);
  switch (d.kind) {
    case DimKind::value:
      check(d.value >= 0, "onnx: cannot write negative dimension ", d.value);
      w.write_int64(fn::dim_value, d.value);
      break;
    case DimKind::param: w.write_string(fn::dim_param, d.param); break;
    case DimKind::unknown: break;  // an empty Dimension: size unknown
  }
  return out;
}

// TypeProto for a ValueInfoProto whose kind is not none.
inline std::vector<std::byte> encode_type(const ValueInfoProto& v) {
  std::vector<std::byte> inner;
  Writer iw(inner);
  if (v.kind == TypeKind::tensor) {
    if (v.elem_type != DataType::undefined) {
      iw.write_int64(field::type_tensor::elem_type, static_cast<std::int32_t>(v.elem_type));
    }
    if (v.shape) {
      std::vector<std::byte> shape;
      Writer sw(shape);
      for (const Dimension& d : *v.shape) {
        sw.write_message(field::tensor_shape::dim, encode_dimension(d));
      }
      iw.write_message(field::type_tensor::shape, shape);
    }
  }
  // Other kinds are recorded without contents, so they are written as an empty message.
  field::Number number = 0;
  switch (v.kind) {
    case TypeKind::tensor: number = field::type::tensor_type; break;
    case TypeKind::sequence: number = field::type::sequence_type; break;
    case TypeKind::map: number = field::type::map_type; break;
    case TypeKind::optional: number = field::type::optional_type; break;
    case TypeKind::sparse_tensor: number = field::type::sparse_tensor_type; break;
    case TypeKind::none: fail("onnx: value '", v.name, "' has no type to write");
  }
  std::vector<std::byte> out;
  Writer w(out);
  w.write_message(number, inner);
  return out;
}

inline std::vector<std::byte> encode_value_info(const ValueInfoProto& v) {
  namespace fn = field::value_info;
  std::vector<std::byte> out;
  Writer w(out);
  if (!v.name.empty()) w.write_string(fn::name, v.name);
  if (v.kind != TypeKind::none) w.write_message(fn::type, encode_type(v));
  return out;
}

inline std::vector<std::byte> encode_graph(const GraphProto& g, int depth);

inline std::vector<std::byte> encode_attribute(const AttributeProto& a, int depth) {
  namespace fn = field::attribute;
  std::vector<std::byte> out;
  Writer w(out);
  if (!a.name.empty()) w.write_string(fn::name, a.name);
  // The value field named by `type` is written even when it holds the default (0, ""), because
  // onnx.checker requires exactly one value field to be present.
  if (a.type == AttributeType::float32 || std::bit_cast<std::uint32_t>(a.f) != 0) {
    w.write_float(fn::f, a.f);
  }
  if (a.type == AttributeType::int64 || a.i != 0) w.write_int64(fn::i, a.i);
  if (a.type == AttributeType::string || !a.s.empty()) w.write_string(fn::s, a.s);
  if (a.t) w.write_message(fn::t, encode_tensor(*a.t));
  if (a.g) w.write_message(fn::g, encode_graph(*a.g, depth + 1));
  for (const float v : a.floats) w.write_float(fn::floats, v);
  for (const std::int64_t v : a.ints) w.write_int64(fn::ints, v);
  for (const std::string& v : a.strings) w.write_string(fn::strings, v);
  for (const TensorProto& v : a.tensors) w.write_message(fn::tensors, encode_tensor(v));
  for (const GraphProto& v : a.graphs) w.write_message(fn::graphs, encode_graph(v, depth + 1));
  if (a.type != AttributeType::undefined) {
    w.write_int64(fn::type, static_cast<std::int32_t>(a.type));
  }
  return out;
}

inline std::vector<std::byte> encode_node(const NodeProto& n, int depth) {
  namespace fn = field::node;
  std::vector<std::byte> out;
  Writer w(out);
  for (const std::string& s : n.input) w.write_string(fn::input, s);
  for (const std::string& s : n.output) w.write_string(fn::output, s);
  if (!n.name.empty()) w.write_string(fn::name, n.name);
  if (!n.op_type.empty()) w.write_string(fn::op_type, n.op_type);
  for (const AttributeProto& a : n.attribute) {
    w.write_message(fn::attribute, with_context("node '" + n.name + "' (" + n.op_type + ")",
                                                [&] { return encode_attribute(a, depth); }));
  }
  if (!n.domain.empty()) w.write_string(fn::domain, n.domain);
  return out;
}

inline std::vector<std::byte> encode_graph(const GraphProto& g, int depth) {
  namespace fn = field::graph;
  check(depth <= max_graph_depth, "onnx: cannot write graph '", g.name,
        "': graphs nested deeper than ", max_graph_depth, " levels");
  std::vector<std::byte> out;
  Writer w(out);
  for (const NodeProto& n : g.node) w.write_message(fn::node, encode_node(n, depth));
  if (!g.name.empty()) w.write_string(fn::name, g.name);
  for (const TensorProto& t : g.initializer) w.write_message(fn::initializer, encode_tensor(t));
  for (const ValueInfoProto& v : g.input) w.write_message(fn::input, encode_value_info(v));
  for (const ValueInfoProto& v : g.output) w.write_message(fn::output, encode_value_info(v));
  for (const ValueInfoProto& v : g.value_info) {
    w.write_message(fn::value_info, encode_value_info(v));
  }
  return out;
}

inline std::vector<std::byte> encode_operator_set_id(const OperatorSetIdProto& o) {
  namespace fn = field::operator_set_id;
  std::vector<std::byte> out;
  Writer w(out);
  if (!o.domain.empty()) w.write_string(fn::domain, o.domain);
  w.write_int64(fn::version, o.version);
  return out;
}

inline std::vector<std::byte> encode_model(const ModelProto& m) {
  namespace fn = field::model;
  std::vector<std::byte> out;
  Writer w(out);
  if (m.ir_version != 0) w.write_int64(fn::ir_version, m.ir_version);
  if (!m.producer_name.empty()) w.write_string(fn::producer_name, m.producer_name);
  if (!m.producer_version.empty()) w.write_string(fn::producer_version, m.producer_version);
  if (!m.domain.empty()) w.write_string(fn::domain, m.domain);
  if (m.model_version != 0) w.write_int64(fn::model_version, m.model_version);
  if (!m.doc_string.empty()) w.write_string(fn::doc_string, m.doc_string);
  w.write_message(fn::graph, encode_graph(m.graph, 0));
  for (const OperatorSetIdProto& o : m.opset_import) {
    w.write_message(fn::opset_import, encode_operator_set_id(o));
  }
  for (const StringStringEntry& e : m.metadata_props) {
    w.write_message(fn::metadata_props, encode_string_string_entry(e));
  }
  for (const FunctionProto& f : m.functions) w.write_message(fn::functions, f.encoded);
  return out;
}

}  // namespace detail

// Serializes a model; tensor data goes out as raw_data.
inline std::vector<std::byte> serialize(const ModelProto& m) { return detail::encode_model(m); }

// Serializes one tensor as a TensorProto (the format of the ONNX test suite's .pb files).
inline std::vector<std::byte> serialize(const TensorProto& t) { return detail::encode_tensor(t); }

}  // namespace qnn::onnx
// ---- end qnn/onnx/proto_write.hpp ------------------------------------------------------------------
// ---- begin qnn/onnx/tensor_values.hpp --------------------------------------------------------------
// Typed access to the little-endian bytes of TensorProto::data, and the reverse: building a
// TensorProto from typed values.
//
// tensor_values<T> requires the tensor's data type to be exactly T's (no silent conversion).
// tensor_values_f32 is the one converting reader, for test data and float weights: it accepts
// float32, float16 and bfloat16 (exact) and double (rounded to nearest float). ONNX conformance
// data holds many float16 and double tensors; qnn does not compute in those types, but a test or an
// importer may want their values as float.

#include <bit>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

namespace qnn::onnx {

// C++ element type -> ONNX data type, for the types tensor_values and make_tensor accept;
// undefined for any other type, which those functions reject at compile time.
template <class T> inline constexpr DataType data_type_of_v = DataType::undefined;
template <> inline constexpr DataType data_type_of_v<float> = DataType::float32;
template <> inline constexpr DataType data_type_of_v<double> = DataType::float64;
template <> inline constexpr DataType data_type_of_v<bf16> = DataType::bfloat16;
template <> inline constexpr DataType data_type_of_v<std::int8_t> = DataType::int8;
template <> inline constexpr DataType data_type_of_v<std::uint8_t> = DataType::uint8;
template <> inline constexpr DataType data_type_of_v<std::int16_t> = DataType::int16;
template <> inline constexpr DataType data_type_of_v<std::uint16_t> = DataType::uint16;
template <> inline constexpr DataType data_type_of_v<std::int32_t> = DataType::int32;
template <> inline constexpr DataType data_type_of_v<std::uint32_t> = DataType::uint32;
template <> inline constexpr DataType data_type_of_v<std::int64_t> = DataType::int64;
template <> inline constexpr DataType data_type_of_v<std::uint64_t> = DataType::uint64;
template <> inline constexpr DataType data_type_of_v<bool> = DataType::boolean;

namespace detail {

template <std::size_t N> struct unsigned_of_size;
template <> struct unsigned_of_size<1> { using type = std::uint8_t; };
template <> struct unsigned_of_size<2> { using type = std::uint16_t; };
template <> struct unsigned_of_size<4> { using type = std::uint32_t; };
template <> struct unsigned_of_size<8> { using type = std::uint64_t; };

// Assembled byte by byte, so the result does not depend on the host's byte order.
template <class T>
T load_le(const std::byte* p) {
  using U = typename unsigned_of_size<sizeof(T)>::type;
  U u = 0;
  for (std::size_t k = 0; k < sizeof(T); ++k) {
    u = static_cast<U>(u | (U{std::to_integer<std::uint8_t>(p[k])} << (8 * k)));
  }
  if constexpr (std::is_same_v<T, bool>) {
    return u != 0;
  } else {
    return std::bit_cast<T>(u);
  }
}

template <class T>
void store_le(std::vector<std::byte>& out, T v) {
  using U = typename unsigned_of_size<sizeof(T)>::type;
  const U u = std::bit_cast<U>(v);
  for (std::size_t k = 0; k < sizeof(T); ++k) {
    out.push_back(static_cast<std::byte>((u >> (8 * k)) & 0xffu));
  }
}

}  // namespace detail

template <class T>
std::vector<T> tensor_values(const TensorProto& t) {
  constexpr DataType want = data_type_of_v<T>;
  static_assert(want != DataType::undefined, "no ONNX data type for T");
  check(t.data_type == want, "onnx: tensor '", t.name, "' has data type ", t.data_type,
        ", not ", want);
  check(t.data.size() % sizeof(T) == 0, "onnx: tensor '", t.name, "' has ", t.data.size(),
        " bytes, not a whole number of ", want, " elements");
  std::vector<T> values(t.data.size() / sizeof(T));
  for (std::size_t k = 0; k < values.size(); ++k) {
    values[k] = detail::load_le<T>(t.data.data() + k * sizeof(T));
  }
  return values;
}

inline std::vector<float> tensor_values_f32(const TensorProto& t) {
  switch (t.data_type) {
    case DataType::float32: return tensor_values<float>(t);
    case DataType::float16: {
      check(t.data.size() % 2 == 0, "onnx: tensor '", t.name,
            "' has an odd number of float16 bytes");
      std::vector<float> values(t.data.size() / 2);
      for (std::size_t k = 0; k < values.size(); ++k) {
        values[k] = float16_to_float(detail::load_le<std::uint16_t>(t.data.data() + 2 * k));
      }
      return values;
    }
    case DataType::bfloat16: {
      const std::vector<bf16> raw = tensor_values<bf16>(t);
      std::vector<float> values(raw.size());
      for (std::size_t k = 0; k < raw.size(); ++k) values[k] = raw[k].to_float();
      return values;
    }
    case DataType::float64: {
      const std::vector<double> raw = tensor_values<double>(t);
      std::vector<float> values(raw.size());
      for (std::size_t k = 0; k < raw.size(); ++k) values[k] = static_cast<float>(raw[k]);
      return values;
    }
    default: break;
  }
  fail("onnx: tensor '", t.name, "' has data type ", t.data_type, ", which is not a float type");
}

// A tensor of `values` with shape `dims`; the count must match the dims.
template <class T>
TensorProto make_tensor(std::string name, std::vector<std::int64_t> dims,
                        const std::vector<T>& values) {
  static_assert(data_type_of_v<T> != DataType::undefined, "no ONNX data type for T");
  TensorProto t;
  t.name = std::move(name);
  t.dims = std::move(dims);
  t.data_type = data_type_of_v<T>;
  t.data.reserve(values.size() * sizeof(T));
  for (const T v : values) {
    if constexpr (std::is_same_v<T, bool>) {
      t.data.push_back(std::byte{v ? std::uint8_t{1} : std::uint8_t{0}});
    } else {
      detail::store_le(t.data, v);
    }
  }
  check_tensor_consistent(t);
  return t;
}

}  // namespace qnn::onnx
// ---- end qnn/onnx/tensor_values.hpp ----------------------------------------------------------------

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
// ---- end qnn/onnx/proto.hpp ------------------------------------------------------------------------

namespace qnn::onnx {

inline TensorProto to_tensor_proto(const std::string& name, const Tensor& t) {
  TensorProto p;
  p.name = name;
  p.dims.assign(t.shape().begin(), t.shape().end());
  p.data_type = to_data_type(t.dtype());
  p.data.resize(t.bytes());
  if (t.bytes()) std::memcpy(p.data.data(), t.raw(), t.bytes());  // little-endian host
  return p;
}

namespace detail {

inline AttributeProto to_attribute_proto(const std::string& name, const AttributeValue& v) {
  AttributeProto a;
  a.name = name;
  std::visit(
      [&](const auto& x) {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::same_as<T, float>) {
          a.type = AttributeType::float32;
          a.f = x;
        } else if constexpr (std::same_as<T, std::int64_t>) {
          a.type = AttributeType::int64;
          a.i = x;
        } else if constexpr (std::same_as<T, std::string>) {
          a.type = AttributeType::string;
          a.s = x;
        } else if constexpr (std::same_as<T, Tensor>) {
          a.type = AttributeType::tensor;
          a.t = to_tensor_proto("", x);
        } else if constexpr (std::same_as<T, std::vector<float>>) {
          a.type = AttributeType::floats;
          a.floats = x;
        } else if constexpr (std::same_as<T, std::vector<std::int64_t>>) {
          a.type = AttributeType::ints;
          a.ints = x;
        } else {
          a.type = AttributeType::strings;
          a.strings = x;
        }
      },
      v);
  return a;
}

inline ValueInfoProto to_value_info(const Value& v) {
  ValueInfoProto info;
  info.name = v.name;
  info.kind = TypeKind::tensor;
  check(v.dtype.has_value(), "onnx export: the element type of '", v.name, "' is unknown");
  info.elem_type = to_data_type(*v.dtype);
  if (v.dims) {
    std::vector<Dimension> dims;
    for (std::size_t i = 0; i < v.dims->size(); ++i) {
      const std::int64_t d = (*v.dims)[i];
      const std::string param = i < v.dim_params.size() ? v.dim_params[i] : "";
      if (d != kDynamicDim) dims.push_back(Dimension::of_value(d));
      else if (!param.empty()) dims.push_back(Dimension::of_param(param));
      else dims.push_back(Dimension{});
    }
    info.shape = dims;
  }
  return info;
}

}  // namespace detail

inline ModelProto export_model(const Graph& g, const std::string& producer = "qnn") {
  ModelProto m;
  m.ir_version = 8;  // ONNX 1.10+; readable by every ONNX Runtime that runs opset 13 QDQ models
  m.producer_name = producer;
  m.producer_version = "0.1.0";
  for (const auto& [domain, version] : g.opsets) {
    if (domain == "qnn") continue;
    m.opset_import.push_back({domain, version});
  }
  GraphProto& gp = m.graph;
  gp.name = "qnn";
  std::set<std::string> used;
  for (const Node& n : g.nodes) {
    check(n.domain != "qnn", "onnx export: ", n.where(), " is internal to qnn; export the graph before lowering");
    NodeProto np;
    np.name = n.name;
    np.op_type = n.op_type;
    np.domain = n.domain;
    np.input = n.inputs;
    np.output = n.outputs;
    for (const auto& [name, v] : n.attrs.all())
      if (name.rfind("qnn_", 0) != 0) np.attribute.push_back(detail::to_attribute_proto(name, v));
    used.insert(n.inputs.begin(), n.inputs.end());
    gp.node.push_back(std::move(np));
  }
  used.insert(g.outputs.begin(), g.outputs.end());
  for (const auto& [name, v] : g.values)
    if (v.constant && used.count(name)) gp.initializer.push_back(to_tensor_proto(name, *v.constant));
  for (const auto& name : g.inputs) gp.input.push_back(detail::to_value_info(g.value(name)));
  for (const auto& name : g.outputs) gp.output.push_back(detail::to_value_info(g.value(name)));
  return m;
}

inline void save_graph(const std::filesystem::path& path, const Graph& g) {
  save_model(path, export_model(g));
}

}  // namespace qnn::onnx
// ---- end qnn/onnx/export.hpp -----------------------------------------------------------------------
// ---- begin qnn/onnx/import.hpp ---------------------------------------------------------------------
// ONNX ModelProto -> qnn Graph.
//
// Initializers and Constant nodes become constant values; graph inputs keep their element type and
// dims (symbolic dims such as "batch_size" become kDynamicDim, their names kept); value_info adds
// what the exporter knew about intermediate values. What qnn cannot run is refused here with the
// reason: an ONNX opset newer than the registry knows, subgraph attributes (If, Loop, Scan),
// model-local functions, tensors of types qnn does not compute with.

#include <cstring>
#include <filesystem>
#include <set>
#include <string>

namespace qnn::onnx {

inline Tensor to_tensor(const TensorProto& t) {
  const std::string what = t.name.empty() ? "(unnamed)" : t.name;
  const DType dtype = require_dtype(t.data_type, what);
  Shape shape;
  check(t.dims.size() <= static_cast<std::size_t>(Shape::kMaxRank), "onnx: tensor '", what, "' has rank ",
        t.dims.size(), ", above qnn's limit of ", Shape::kMaxRank);
  for (std::int64_t d : t.dims) shape.push_back(d);
  Tensor out(dtype, shape);
  check(t.data.size() == out.bytes(), "onnx: tensor '", what, "' holds ", t.data.size(), " bytes for shape ",
        shape, " of ", dtype);
  if (!t.data.empty()) std::memcpy(out.raw(), t.data.data(), t.data.size());  // little-endian host
  return out;
}

namespace detail {

inline AttributeValue to_attribute(const AttributeProto& a, const std::string& where) {
  switch (a.type) {
    case AttributeType::float32: return a.f;
    case AttributeType::int64: return a.i;
    case AttributeType::string: return a.s;
    case AttributeType::tensor:
      check(a.t.has_value(), where, ": tensor attribute '", a.name, "' has no value");
      return to_tensor(*a.t);
    case AttributeType::floats: return a.floats;
    case AttributeType::ints: return a.ints;
    case AttributeType::strings: return a.strings;
    case AttributeType::graph:
    case AttributeType::graphs:
      fail(where, ": attribute '", a.name, "' is a subgraph; control flow (If, Loop, Scan) is not supported");
    default:
      fail(where, ": attribute '", a.name, "' has type ", static_cast<int>(a.type), ", which qnn does not read");
  }
}

// A Constant node's value as a tensor (value, value_float(s), value_int(s)).
inline Tensor constant_node_value(const NodeProto& n, const std::string& where) {
  check(n.attribute.size() == 1, where, ": Constant needs exactly one value attribute");
  const AttributeProto& a = n.attribute[0];
  if (a.name == "value") {
    check(a.t.has_value(), where, ": Constant 'value' has no tensor");
    return to_tensor(*a.t);
  }
  if (a.name == "value_float") return Tensor::scalar(a.f);
  if (a.name == "value_int") return Tensor::scalar(a.i);
  if (a.name == "value_floats")
    return Tensor::from<float>(Shape{static_cast<std::int64_t>(a.floats.size())}, std::span<const float>(a.floats));
  if (a.name == "value_ints")
    return Tensor::from<std::int64_t>(Shape{static_cast<std::int64_t>(a.ints.size())},
                                      std::span<const std::int64_t>(a.ints));
  fail(where, ": Constant attribute '", a.name, "' is not supported");
}

inline void apply_value_info(Value& v, const ValueInfoProto& info) {
  if (info.kind != TypeKind::tensor) return;
  if (auto d = to_dtype(info.elem_type)) v.dtype = *d;
  if (!info.shape) return;
  std::vector<std::int64_t> dims;
  std::vector<std::string> params;
  for (const Dimension& d : *info.shape) {
    dims.push_back(d.kind == DimKind::value ? d.value : kDynamicDim);
    params.push_back(d.kind == DimKind::param ? d.param : "");
  }
  v.dims = dims;
  v.dim_params = params;
}

}  // namespace detail

inline Graph import_model(const ModelProto& m) {
  Graph g;
  for (const OperatorSetIdProto& o : m.opset_import) g.opsets[o.domain == "ai.onnx" ? "" : o.domain] = o.version;
  if (!g.opsets.count("")) g.opsets[""] = 1;  // ONNX: no import means version 1
  check(g.opset("") <= KernelRegistry::kMaxOnnxOpset, "the model imports ONNX opset ", g.opset(""),
        "; qnn implements opsets up to ", KernelRegistry::kMaxOnnxOpset);

  std::set<std::string> local_functions;
  for (const FunctionProto& f : m.functions) local_functions.insert(f.domain + "." + f.name);

  const GraphProto& gp = m.graph;
  for (const TensorProto& t : gp.initializer) {
    check(!t.name.empty(), "onnx: an initializer has no name");
    check(!g.values.count(t.name), "onnx: initializer '", t.name, "' is defined twice");
    Value& v = g.ensure_value(t.name);
    v.constant = to_tensor(t);
    v.dtype = v.constant->dtype();
    v.dims = std::vector<std::int64_t>(v.constant->shape().begin(), v.constant->shape().end());
  }
  for (const ValueInfoProto& in : gp.input) {
    if (g.is_constant(in.name)) continue;  // IR < 4 lists initializers as inputs too
    check(!in.name.empty(), "onnx: a graph input has no name");
    check(in.kind == TypeKind::tensor, "onnx: graph input '", in.name, "' is not a tensor");
    check(to_dtype(in.elem_type).has_value(), "onnx: graph input '", in.name, "' has element type ",
          in.elem_type, ", which qnn does not compute with");
    Value& v = g.ensure_value(in.name);
    detail::apply_value_info(v, in);
    g.inputs.push_back(in.name);
  }
  for (const ValueInfoProto& vi : gp.value_info)
    if (!vi.name.empty() && !g.is_constant(vi.name)) detail::apply_value_info(g.ensure_value(vi.name), vi);
  for (const ValueInfoProto& out : gp.output) {
    check(!out.name.empty(), "onnx: a graph output has no name");
    detail::apply_value_info(g.ensure_value(out.name), out);
    g.outputs.push_back(out.name);
  }
  // An empty file parses as an empty ModelProto; ONNX requires outputs, so this is the place to say so.
  check(!g.outputs.empty(), "onnx: the graph has no outputs (an empty file, or not an ONNX model?)");

  int unnamed = 0;
  for (const NodeProto& np : gp.node) {
    Node n;
    n.name = np.name.empty() ? np.op_type + "_" + std::to_string(unnamed++) : np.name;
    n.op_type = np.op_type;
    n.domain = np.domain == "ai.onnx" ? "" : np.domain;
    n.inputs = np.input;
    n.outputs = np.output;
    const std::string where = n.where();
    check(!local_functions.count(np.domain + "." + np.op_type), where,
          ": calls a model-local function; qnn does not inline functions");
    check(n.domain.empty() || g.opsets.count(n.domain), where, ": domain '", n.domain,
          "' is not imported by the model");
    if (n.op_type == "Constant" && n.domain.empty()) {
      check(np.output.size() == 1, where, ": Constant has ", np.output.size(), " outputs");
      Value& v = g.ensure_value(np.output[0]);
      check(!v.constant, where, ": output '", np.output[0], "' is defined twice");
      v.constant = detail::constant_node_value(np, where);
      v.dtype = v.constant->dtype();
      v.dims = std::vector<std::int64_t>(v.constant->shape().begin(), v.constant->shape().end());
      continue;
    }
    for (const AttributeProto& a : np.attribute) n.attrs.set(a.name, detail::to_attribute(a, where));
    for (const auto& name : n.inputs)
      if (!name.empty()) g.ensure_value(name);
    for (const auto& name : n.outputs)
      if (!name.empty()) g.ensure_value(name);
    g.nodes.push_back(std::move(n));
  }
  g.topological_sort();
  return g;
}

inline Graph load_graph(const std::filesystem::path& path) {
  const ModelProto m = load_model(path);  // its errors already name the file
  return with_context(io::file_context(path), [&] { return import_model(m); });
}

}  // namespace qnn::onnx
// ---- end qnn/onnx/import.hpp -----------------------------------------------------------------------
// ---- begin qnn/runtime/evaluate.hpp ----------------------------------------------------------------
// Evaluating an image classifier on a labelled dataset: top-1 accuracy, per-class accuracy, the
// confusion matrix and every prediction (for figures and for agreement between two models).

#include <algorithm>
#include <cstdint>
#include <vector>

// ---- begin qnn/io/idx.hpp --------------------------------------------------------------------------
// IDX files (the MNIST / Fashion-MNIST format) and the dataset helpers of the example.
//
// IDX layout: two zero bytes, a type byte, the number of dimensions, then each dimension as a
// big-endian uint32, then the elements in C order, big-endian. Types read: 0x08 uint8, 0x09 int8,
// 0x0B int16, 0x0C int32, 0x0D float32 (byte-swapped to the host); 0x0E float64 is refused.
// load_idx gunzips files that start with the gzip magic (io/inflate.hpp), so the .gz files the
// datasets are distributed as load directly. A file whose name ends in ".gz" but is not gzip, data
// shorter or longer than the dimensions say, more than 8 dimensions: each is a qnn::error naming
// the file and the counts. Sizes are checked before the tensor is allocated.
//
// The example's dataset rules live here too, so that the tool, the example and the tests agree:
// images_to_float scales a pixel p to exactly static_cast<float>(p) / 255.0f, and balanced_subset
// picks the calibration set: the first `per_class` images of each class, in file order.

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <vector>

// ---- begin qnn/io/inflate.hpp ----------------------------------------------------------------------
// DEFLATE decoding (RFC 1951) with the zlib (RFC 1950) and gzip (RFC 1952) wrappers.
//
// Written from the RFCs for reading the Fashion-MNIST .gz files without a zlib dependency, and for
// reading back the PNGs qnn writes. It decodes all three block types:
//   stored  (BTYPE 00)  LEN, NLEN (its one's complement), then LEN raw bytes;
//   fixed   (BTYPE 01)  the Huffman codes of RFC 1951 §3.2.6;
//   dynamic (BTYPE 10)  code lengths sent with a code-length code, then run-length coded.
//
// Input is hostile until proven otherwise. Every read is bounds-checked; truncated input, a
// reserved block type, an over-subscribed or (with the one exception RFC 1951 implies, a single
// code of length 1) incomplete Huffman code, a code-length repeat with nothing to repeat, a
// distance reaching before the start of the stream, a CRC-32/ISIZE/Adler-32 mismatch: each is a
// qnn::error that says what is wrong and the byte offset in the input. The output is capped
// (`max_output`, default 1 GiB) so a "zip bomb" is an error, not an out-of-memory kill.
//
// Speed: Huffman codes of up to 11 bits (nearly every symbol in practice: pixel literals of
// MNIST-like images run to 10-12 bits) decode with one lookup in a 2048-entry table; longer codes
// fall back to the canonical bit-by-bit walk. Matches are copied in doubling memcpy pieces, and
// CRC-32 is sliced by 8. The 26 MB Fashion-MNIST training images (47 MB out) gunzip in about
// 0.4 s in a release build: roughly a third of zlib's speed, and plenty for loading a dataset once.

#include <algorithm>
#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>
#include <utility>
#include <vector>

// ---- begin qnn/io/checksum.hpp ---------------------------------------------------------------------
// CRC-32 (the gzip/PNG/zip polynomial) and Adler-32 (zlib streams).
//
// CRC-32 is the reflected polynomial 0xEDB88320, initial value and final xor 0xFFFFFFFF
// (ISO-HDLC; check value crc32("123456789") = 0xCBF43926). Both take
// the running value of a previous call so a stream can be checked in pieces:
// crc32(b, crc32(a)) == crc32(a ++ b).

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

namespace qnn::io {

namespace detail {
// Slicing-by-8: table[k][b] is the CRC of byte b followed by k zero bytes, so eight input bytes
// fold into the CRC with eight independent lookups (about 8x the speed of one lookup per byte,
// which matters for the 47 MB Fashion-MNIST training images).
constexpr std::array<std::array<std::uint32_t, 256>, 8> make_crc32_tables() {
  std::array<std::array<std::uint32_t, 256>, 8> t{};
  for (std::uint32_t n = 0; n < 256; ++n) {
    std::uint32_t c = n;
    for (int k = 0; k < 8; ++k) c = (c & 1u) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    t[0][n] = c;
  }
  for (std::size_t k = 1; k < 8; ++k) {
    for (std::size_t n = 0; n < 256; ++n) t[k][n] = t[0][t[k - 1][n] & 0xFFu] ^ (t[k - 1][n] >> 8);
  }
  return t;
}
inline constexpr std::array<std::array<std::uint32_t, 256>, 8> kCrc32Tables = make_crc32_tables();
}  // namespace detail

inline std::uint32_t crc32(std::span<const std::byte> data, std::uint32_t crc = 0) {
  const auto& t = detail::kCrc32Tables;
  const auto at = [&](std::size_t i) { return static_cast<std::uint32_t>(data[i]); };
  std::uint32_t c = ~crc;
  std::size_t i = 0;
  for (; i + 8 <= data.size(); i += 8) {
    const std::uint32_t lo = c ^ (at(i) | at(i + 1) << 8 | at(i + 2) << 16 | at(i + 3) << 24);
    const std::uint32_t hi = at(i + 4) | at(i + 5) << 8 | at(i + 6) << 16 | at(i + 7) << 24;
    c = t[7][lo & 0xFFu] ^ t[6][(lo >> 8) & 0xFFu] ^ t[5][(lo >> 16) & 0xFFu] ^ t[4][lo >> 24] ^
        t[3][hi & 0xFFu] ^ t[2][(hi >> 8) & 0xFFu] ^ t[1][(hi >> 16) & 0xFFu] ^ t[0][hi >> 24];
  }
  for (; i < data.size(); ++i) c = t[0][(c ^ at(i)) & 0xFFu] ^ (c >> 8);
  return ~c;
}

inline std::uint32_t adler32(std::span<const std::byte> data, std::uint32_t adler = 1) {
  constexpr std::uint32_t kMod = 65521;
  // 5552 is the most bytes that can be summed before b overflows 32 bits (RFC 1950 / zlib's NMAX),
  // so the modulo runs once per block instead of once per byte.
  constexpr std::size_t kBlock = 5552;
  std::uint32_t a = adler & 0xFFFFu;
  std::uint32_t b = adler >> 16;
  while (!data.empty()) {
    const std::size_t n = data.size() < kBlock ? data.size() : kBlock;
    for (std::byte x : data.first(n)) {
      a += static_cast<std::uint32_t>(x);
      b += a;
    }
    a %= kMod;
    b %= kMod;
    data = data.subspan(n);
  }
  return (b << 16) | a;
}

}  // namespace qnn::io
// ---- end qnn/io/checksum.hpp -----------------------------------------------------------------------

namespace qnn::io {

inline constexpr std::size_t kDefaultMaxOutput = std::size_t{1} << 30;  // 1 GiB

namespace detail {

inline std::uint32_t load_le16(std::span<const std::byte> b, std::size_t at) {
  return static_cast<std::uint32_t>(b[at]) | static_cast<std::uint32_t>(b[at + 1]) << 8;
}
inline std::uint32_t load_le32(std::span<const std::byte> b, std::size_t at) {
  return load_le16(b, at) | load_le16(b, at + 2) << 16;
}

// Reads bits least-significant first, as DEFLATE packs them. Up to 64 bits are buffered; past the
// end of the input the buffer fills with zeros, and consuming any of those is the one place a
// truncated stream is detected.
class BitReader {
 public:
  BitReader(std::span<const std::byte> in, std::size_t pos, std::string_view format)
      : in_(in), pos_(pos), format_(format) {}

  // Byte offset of the byte holding the next unread bit: what error messages report.
  std::size_t offset() const { return pos_ - static_cast<std::size_t>((nbits_ + 7) / 8); }
  std::string_view format() const { return format_; }
  bool exhausted(int n) const { return nbits_ < n && pos_ >= in_.size(); }

  // The next n ≤ 32 bits without consuming them (zeros past the end of the input).
  std::uint32_t peek(int n) {
    refill();
    return static_cast<std::uint32_t>(buf_ & ((std::uint64_t{1} << n) - 1));
  }
  void consume(int n) {
    if (n > nbits_) truncated();
    buf_ >>= n;
    nbits_ -= n;
  }
  std::uint32_t bits(int n) {
    const std::uint32_t v = peek(n);
    consume(n);
    return v;
  }

  // Drops the bits up to the next byte boundary and hands the buffered whole bytes back to the
  // input, so that bytes() can read directly. Returns the byte offset reached.
  std::size_t align_to_byte() {
    consume(nbits_ % 8);
    pos_ -= static_cast<std::size_t>(nbits_ / 8);
    buf_ = 0;
    nbits_ = 0;
    return pos_;
  }
  // The next n bytes; only after align_to_byte().
  std::span<const std::byte> bytes(std::size_t n) {
    if (n > in_.size() - pos_) truncated();
    const std::span<const std::byte> s = in_.subspan(pos_, n);
    pos_ += n;
    return s;
  }

  [[noreturn]] void truncated() const {
    fail(format_, ": truncated input: the stream continues past the end of the ", in_.size(),
         "-byte input (at byte offset ", offset(), ")");
  }
  template <class... Args>
  [[noreturn]] void error(const Args&... args) const {
    fail(format_, ": ", args..., " at byte offset ", offset());
  }

 private:
  void refill() {
    if (nbits_ > 32) return;
    if (in_.size() - pos_ >= 8) {
      // Fast path: one little-endian 8-byte load tops the buffer up to 56..63 bits.
      std::uint64_t word = 0;
      std::memcpy(&word, in_.data() + pos_, sizeof word);
      if constexpr (std::endian::native == std::endian::big) word = byteswap64(word);
      buf_ |= word << nbits_;
      pos_ += static_cast<std::size_t>(63 - nbits_) >> 3;
      nbits_ |= 56;
      return;
    }
    while (nbits_ <= 56 && pos_ < in_.size()) {
      buf_ |= static_cast<std::uint64_t>(in_[pos_++]) << nbits_;
      nbits_ += 8;
    }
  }

  static std::uint64_t byteswap64(std::uint64_t v) {
    std::uint64_t r = 0;
    for (int i = 0; i < 8; ++i, v >>= 8) r = r << 8 | (v & 0xFFu);
    return r;
  }

  std::span<const std::byte> in_;
  std::size_t pos_;
  std::uint64_t buf_ = 0;
  int nbits_ = 0;
  std::string_view format_;
};

// A canonical Huffman code (RFC 1951 §3.2.2) built from code lengths.
class Huffman {
 public:
  static constexpr int kMaxBits = 15;
  static constexpr int kFastBits = 11;

  enum class Status { ok, over_subscribed, incomplete };

  // `lengths[s]` is the code length of symbol s (0: unused). An over-subscribed code is refused;
  // so is an incomplete one, except a single code of length 1 when `allow_single` (a block that
  // uses one distance code). A code with no symbols at all is accepted; decoding from it is the
  // error.
  Status build(std::span<const std::uint8_t> lengths, bool allow_single) {
    count_.fill(0);
    for (std::uint8_t len : lengths) ++count_[len];
    count_[0] = 0;
    int left = 1;  // code space left, in units of the current length
    int used = 0;
    for (int len = 1; len <= kMaxBits; ++len) {
      left = left * 2 - count_[static_cast<std::size_t>(len)];
      used += count_[static_cast<std::size_t>(len)];
      if (left < 0) return Status::over_subscribed;
    }
    if (left > 0 && used > 0 && !(allow_single && used == 1 && count_[1] == 1)) {
      return Status::incomplete;
    }
    empty_ = used == 0;

    // Symbols ordered by (length, value): the canonical order codes are assigned in.
    std::array<int, kMaxBits + 2> offs{};
    for (int len = 1; len <= kMaxBits; ++len) {
      offs[static_cast<std::size_t>(len + 1)] = offs[static_cast<std::size_t>(len)] +
                                               count_[static_cast<std::size_t>(len)];
    }
    for (std::size_t s = 0; s < lengths.size(); ++s) {
      if (lengths[s] == 0) continue;
      symbol_[static_cast<std::size_t>(offs[lengths[s]]++)] = static_cast<std::uint16_t>(s);
    }

    // Fast table: every kFastBits-bit window whose low bits start with a short code maps to it.
    fast_.fill(0);
    std::uint32_t code = 0;
    std::size_t index = 0;
    for (int len = 1; len <= kFastBits; ++len) {
      for (int i = 0; i < count_[static_cast<std::size_t>(len)]; ++i, ++code, ++index) {
        const std::uint32_t rev = reverse_bits(code, len);
        const auto entry = static_cast<std::uint16_t>(symbol_[index] << 4 | len);
        for (std::uint32_t k = rev; k < kFastSize; k += std::uint32_t{1} << len) fast_[k] = entry;
      }
      code <<= 1;
    }
    return Status::ok;
  }

  // Builds, or throws naming the code and the byte offset.
  void build_or_throw(std::span<const std::uint8_t> lengths, bool allow_single,
                      std::string_view name, const BitReader& br) {
    switch (build(lengths, allow_single)) {
      case Status::ok: return;
      case Status::over_subscribed: br.error("over-subscribed ", name, " code");
      case Status::incomplete: br.error("incomplete ", name, " code");
    }
  }

  // Decodes one symbol.
  int decode(BitReader& br) const {
    const std::uint32_t window = br.peek(kMaxBits);
    const std::uint16_t e = fast_[window & (kFastSize - 1)];
    if (e != 0) {
      br.consume(e & 15);
      return e >> 4;
    }
    return decode_long(br, window);
  }

 private:
  // Codes longer than kFastBits, and invalid codes: kept out of decode() so that stays small
  // enough to inline into the decoding loop.
  int decode_long(BitReader& br, std::uint32_t window) const {
    if (empty_) br.error("invalid Huffman code: the block declared no codes of this kind");
    // Canonical walk (RFC 1951 §3.2.2): at each length, codes first..first+count-1 are the
    // symbols of that length, in order.
    int code = 0;
    int first = 0;
    int index = 0;
    for (int len = 1; len <= kMaxBits; ++len) {
      code |= static_cast<int>((window >> (len - 1)) & 1u);
      const int count = count_[static_cast<std::size_t>(len)];
      if (code - first < count) {
        br.consume(len);
        return symbol_[static_cast<std::size_t>(index + code - first)];
      }
      index += count;
      first = (first + count) << 1;
      code <<= 1;
    }
    if (br.exhausted(kMaxBits)) br.truncated();
    br.error("invalid Huffman code (no symbol has this code)");
  }

  static constexpr std::uint32_t kFastSize = 1u << kFastBits;
  static std::uint32_t reverse_bits(std::uint32_t v, int n) {
    std::uint32_t r = 0;
    for (int i = 0; i < n; ++i, v >>= 1) r = (r << 1) | (v & 1u);
    return r;
  }

  bool empty_ = true;
  std::array<int, kMaxBits + 1> count_{};
  std::array<std::uint16_t, 288> symbol_{};
  std::array<std::uint16_t, kFastSize> fast_{};  // symbol << 4 | length; 0 = not a short code
};

// Base values and extra-bit counts of length symbols 257..285 and distance symbols 0..29.
inline constexpr std::array<std::uint16_t, 29> kLengthBase = {
    3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31,
    35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258};
inline constexpr std::array<std::uint8_t, 29> kLengthExtra = {
    0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0};
inline constexpr std::array<std::uint16_t, 30> kDistBase = {
    1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769,
    1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577};
inline constexpr std::array<std::uint8_t, 30> kDistExtra = {
    0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7,
    8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13};
// The order code-length code lengths are sent in (RFC 1951 §3.2.7).
inline constexpr std::array<std::uint8_t, 19> kCodeLengthOrder = {
    16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15};

// Decodes one DEFLATE stream, appending to `out`. Distances may not reach into what `out` held
// before (an earlier gzip member): each stream is independent.
class Inflater {
 public:
  Inflater(std::span<const std::byte> in, std::size_t pos, std::size_t max_output,
           std::vector<std::byte>& out, std::string_view format)
      : br_(in, pos, format), out_(out), start_(out.size()), max_output_(max_output) {}

  // Decodes blocks up to and including the final one; returns the byte offset just past it.
  std::size_t run() {
    bool final_block = false;
    while (!final_block) {
      final_block = br_.bits(1) != 0;
      switch (br_.bits(2)) {
        case 0: stored_block(); break;
        case 1: fixed_block(); break;
        case 2: dynamic_block(); break;
        default: br_.error("invalid block type 3 (reserved)");
      }
    }
    return br_.align_to_byte();
  }

 private:
  void stored_block() {
    br_.align_to_byte();
    const std::span<const std::byte> header = br_.bytes(4);
    const std::uint32_t len = load_le16(header, 0);
    const std::uint32_t nlen = load_le16(header, 2);
    if (len != (~nlen & 0xFFFFu)) {
      br_.error("stored block length ", len, " does not match its complement ", nlen);
    }
    reserve_output(len);
    const std::span<const std::byte> data = br_.bytes(len);
    out_.insert(out_.end(), data.begin(), data.end());
  }

  void fixed_block() {
    // Built once; the fixed codes are complete (288 and 32 symbols), symbols 286, 287, 30 and 31
    // are rejected when decoded.
    static const std::pair<Huffman, Huffman> fixed = [] {
      std::array<std::uint8_t, 288> lit{};
      std::fill(lit.begin(), lit.begin() + 144, std::uint8_t{8});
      std::fill(lit.begin() + 144, lit.begin() + 256, std::uint8_t{9});
      std::fill(lit.begin() + 256, lit.begin() + 280, std::uint8_t{7});
      std::fill(lit.begin() + 280, lit.end(), std::uint8_t{8});
      std::array<std::uint8_t, 32> dist{};
      dist.fill(5);
      std::pair<Huffman, Huffman> h;
      h.first.build(lit, false);
      h.second.build(dist, false);
      return h;
    }();
    codes(fixed.first, fixed.second);
  }

  void dynamic_block() {
    const int nlen = static_cast<int>(br_.bits(5)) + 257;
    const int ndist = static_cast<int>(br_.bits(5)) + 1;
    const int ncode = static_cast<int>(br_.bits(4)) + 4;
    if (nlen > 286 || ndist > 30) {
      br_.error("dynamic block declares ", nlen, " literal/length and ", ndist,
                " distance codes (at most 286 and 30)");
    }
    std::array<std::uint8_t, 19> code_lengths{};
    for (int i = 0; i < ncode; ++i) {
      code_lengths[kCodeLengthOrder[static_cast<std::size_t>(i)]] =
          static_cast<std::uint8_t>(br_.bits(3));
    }
    Huffman code_length_code;
    code_length_code.build_or_throw(code_lengths, false, "code-length", br_);

    // Literal/length and distance code lengths form one run-length coded sequence; a repeat may
    // cross from one to the other.
    std::array<std::uint8_t, 286 + 30> lengths{};
    const int total = nlen + ndist;
    int n = 0;
    while (n < total) {
      const int sym = code_length_code.decode(br_);
      if (sym < 16) {
        lengths[static_cast<std::size_t>(n++)] = static_cast<std::uint8_t>(sym);
        continue;
      }
      std::uint8_t value = 0;
      int repeat = 0;
      if (sym == 16) {
        if (n == 0) br_.error("code length repeat (symbol 16) with no previous length");
        value = lengths[static_cast<std::size_t>(n - 1)];
        repeat = 3 + static_cast<int>(br_.bits(2));
      } else if (sym == 17) {
        repeat = 3 + static_cast<int>(br_.bits(3));
      } else {
        repeat = 11 + static_cast<int>(br_.bits(7));
      }
      if (n + repeat > total) {
        br_.error("code length repeat of ", repeat, " runs past the ", total, " lengths declared");
      }
      std::fill_n(lengths.begin() + n, repeat, value);
      n += repeat;
    }
    if (lengths[256] == 0) br_.error("dynamic block has no end-of-block code");

    Huffman lit;
    Huffman dist;
    const std::span<const std::uint8_t> all(lengths);
    lit.build_or_throw(all.first(static_cast<std::size_t>(nlen)), true, "literal/length", br_);
    dist.build_or_throw(
        all.subspan(static_cast<std::size_t>(nlen), static_cast<std::size_t>(ndist)), true,
        "distance", br_);
    codes(lit, dist);
  }

  // Literals, and length/distance pairs, up to the end-of-block symbol.
  void codes(const Huffman& lit, const Huffman& dist) {
    for (;;) {
      int sym = lit.decode(br_);
      if (sym < 256) {
        reserve_output(1);
        out_.push_back(static_cast<std::byte>(sym));
        continue;
      }
      if (sym == 256) return;
      sym -= 257;
      if (sym >= 29) br_.error("invalid length symbol ", sym + 257);
      const std::size_t length = kLengthBase[static_cast<std::size_t>(sym)] +
                                 br_.bits(kLengthExtra[static_cast<std::size_t>(sym)]);
      const int dsym = dist.decode(br_);
      if (dsym >= 30) br_.error("invalid distance symbol ", dsym);
      const std::size_t distance = kDistBase[static_cast<std::size_t>(dsym)] +
                                   br_.bits(kDistExtra[static_cast<std::size_t>(dsym)]);
      const std::size_t produced = out_.size() - start_;
      if (distance > produced) {
        br_.error("distance ", distance, " reaches before the start of the stream (", produced,
                  " bytes decoded so far)");
      }
      reserve_output(length);
      // A match may overlap the bytes it produces (distance 1, length 100 repeats one byte): the
      // output is periodic with period `distance` from dst - distance on. So copy from there in
      // pieces that double in size; each piece reads only bytes already written and starts at a
      // multiple of the period.
      const std::size_t at = out_.size();
      out_.resize(at + length);
      std::byte* dst = out_.data() + at;
      for (std::size_t i = 0; i < length;) {
        const std::size_t n = std::min(i + distance, length - i);
        std::memcpy(dst + i, dst - distance, n);
        i += n;
      }
    }
  }

  void reserve_output(std::size_t n) {
    if (n > max_output_ - std::min(max_output_, out_.size())) {
      br_.error("output would exceed the limit of ", max_output_, " bytes");
    }
  }

  BitReader br_;
  std::vector<std::byte>& out_;
  std::size_t start_;
  std::size_t max_output_;
};

// Parses a gzip member header at `pos`; returns the offset of its DEFLATE data.
inline std::size_t gzip_header(std::span<const std::byte> in, std::size_t pos) {
  const std::size_t start = pos;
  const auto need = [&](std::size_t n, const char* what) {
    check(n <= in.size() - pos, "gzip: truncated input: ", what, " needs ", n,
          " bytes at byte offset ", pos, ", the input has ", in.size());
  };
  need(10, "header");
  const auto byte = [&](std::size_t i) { return static_cast<std::uint32_t>(in[pos + i]); };
  check(byte(0) == 0x1F && byte(1) == 0x8B,
        "gzip: not a gzip stream: no magic 1f 8b at byte offset ", pos);
  check(byte(2) == 8, "gzip: compression method ", byte(2), " is not deflate (8) at byte offset ",
        pos + 2);
  const std::uint32_t flags = byte(3);
  check((flags & 0xE0u) == 0, "gzip: reserved header flags set (0x", std::hex, flags, std::dec,
        ") at byte offset ", pos + 3);
  pos += 10;
  if (flags & 0x04u) {  // FEXTRA: a length and that many bytes
    need(2, "FEXTRA length");
    const std::size_t xlen = load_le16(in, pos);
    pos += 2;
    need(xlen, "FEXTRA field");
    pos += xlen;
  }
  for (const std::uint32_t flag : {0x08u, 0x10u}) {  // FNAME, FCOMMENT: zero-terminated
    if (!(flags & flag)) continue;
    const auto rest = in.subspan(pos);
    const auto zero = std::find(rest.begin(), rest.end(), std::byte{0});
    check(zero != rest.end(), "gzip: truncated input: unterminated ",
          flag == 0x08u ? "file name" : "comment", " starting at byte offset ", pos);
    pos += static_cast<std::size_t>(zero - rest.begin()) + 1;
  }
  if (flags & 0x02u) {  // FHCRC: low 16 bits of the CRC-32 of the header so far
    need(2, "header CRC");
    const std::uint32_t stored = load_le16(in, pos);
    const std::uint32_t actual = crc32(in.subspan(start, pos - start)) & 0xFFFFu;
    check(stored == actual, "gzip: header CRC mismatch at byte offset ", pos, ": stored 0x",
          std::hex, stored, ", computed 0x", actual, std::dec);
    pos += 2;
  }
  return pos;
}

}  // namespace detail

// Decodes a raw DEFLATE stream (no zlib or gzip wrapper). Bytes after the final block are an
// error: without a wrapper nothing could legitimately follow.
inline std::vector<std::byte> inflate_raw(std::span<const std::byte> in,
                                          std::size_t max_output = kDefaultMaxOutput) {
  std::vector<std::byte> out;
  const std::size_t end = detail::Inflater(in, 0, max_output, out, "deflate").run();
  check(end == in.size(), "deflate: ", in.size() - end,
        " bytes follow the final block at byte offset ", end);
  return out;
}

// Decodes a zlib stream (RFC 1950): 2-byte header, DEFLATE data, Adler-32 of the output.
// Preset dictionaries (FDICT) are not supported.
inline std::vector<std::byte> inflate_zlib(std::span<const std::byte> in,
                                           std::size_t max_output = kDefaultMaxOutput) {
  check(in.size() >= 2, "zlib: truncated input: ", in.size(), " bytes, the header alone needs 2");
  const auto cmf = static_cast<std::uint32_t>(in[0]);
  const auto flg = static_cast<std::uint32_t>(in[1]);
  check((cmf & 0x0Fu) == 8 && (cmf >> 4) <= 7, "zlib: header byte 0x", std::hex, cmf, std::dec,
        " is not deflate with a window of at most 32 KiB (byte offset 0)");
  check((cmf * 256 + flg) % 31 == 0, "zlib: header check bits are wrong (byte offset 1)");
  check(!(flg & 0x20u), "zlib: preset dictionaries (FDICT) are not supported (byte offset 1)");
  std::vector<std::byte> out;
  const std::size_t end = detail::Inflater(in, 2, max_output, out, "zlib").run();
  check(in.size() - end >= 4, "zlib: truncated input: the Adler-32 checksum at byte offset ", end,
        " is missing");
  const std::uint32_t stored = static_cast<std::uint32_t>(in[end]) << 24 |
                               static_cast<std::uint32_t>(in[end + 1]) << 16 |
                               static_cast<std::uint32_t>(in[end + 2]) << 8 |
                               static_cast<std::uint32_t>(in[end + 3]);
  const std::uint32_t actual = adler32(out);
  check(stored == actual, "zlib: Adler-32 mismatch at byte offset ", end, ": stored 0x", std::hex,
        stored, ", computed 0x", actual, std::dec);
  check(end + 4 == in.size(), "zlib: ", in.size() - end - 4,
        " bytes follow the checksum at byte offset ", end + 4);
  return out;
}

// Decodes a gzip file (RFC 1952): one or more members, each a header (FEXTRA, FNAME, FCOMMENT and
// FHCRC honoured and checked), DEFLATE data, the CRC-32 and the size mod 2^32 of its output; the
// members' outputs are concatenated, as gzip -d does. Zero bytes after the last member are accepted
// as padding; anything else there is an error.
inline std::vector<std::byte> gunzip(std::span<const std::byte> in,
                                     std::size_t max_output = kDefaultMaxOutput) {
  check(!in.empty(), "gzip: empty input");
  std::vector<std::byte> out;
  // The last member's ISIZE sizes the output up front: only a hint, never trusted for anything
  // else, and capped at 16x the input (a hostile ISIZE cannot reserve much; higher ratios just
  // grow the vector as usual).
  if (in.size() >= 18) {
    const std::size_t hint = detail::load_le32(in, in.size() - 4);
    out.reserve(std::min({hint, max_output, in.size() * 16}));
  }
  std::size_t pos = 0;
  for (int member = 1;; ++member) {
    pos = detail::gzip_header(in, pos);
    const std::size_t start = out.size();
    pos = detail::Inflater(in, pos, max_output, out, "gzip").run();
    check(in.size() - pos >= 8, "gzip: truncated input: member ", member,
          " ends without its 8-byte CRC-32/ISIZE trailer at byte offset ", pos);
    const std::uint32_t stored_crc = detail::load_le32(in, pos);
    const std::uint32_t stored_size = detail::load_le32(in, pos + 4);
    const std::span<const std::byte> produced = std::span<const std::byte>(out).subspan(start);
    const std::uint32_t actual_crc = crc32(produced);
    check(stored_crc == actual_crc, "gzip: CRC-32 mismatch in member ", member, " at byte offset ",
          pos, ": stored 0x", std::hex, stored_crc, ", computed 0x", actual_crc, std::dec,
          " (corrupt data)");
    check(stored_size == static_cast<std::uint32_t>(produced.size()),
          "gzip: ISIZE mismatch in member ", member, " at byte offset ", pos + 4, ": stored ",
          stored_size, ", decoded ", produced.size(), " bytes");
    pos += 8;
    const std::span<const std::byte> rest = in.subspan(pos);
    if (rest.size() >= 2 && rest[0] == std::byte{0x1F} && rest[1] == std::byte{0x8B}) continue;
    const bool padding =
        std::all_of(rest.begin(), rest.end(), [](std::byte b) { return b == std::byte{0}; });
    check(padding, "gzip: ", rest.size(), " bytes of trailing garbage after member ", member,
          " at byte offset ", pos);
    return out;
  }
}

}  // namespace qnn::io
// ---- end qnn/io/inflate.hpp ------------------------------------------------------------------------

namespace qnn::io {

namespace detail {

inline DType idx_dtype(std::uint32_t code, std::string_view what) {
  switch (code) {
    case 0x08: return DType::u8;
    case 0x09: return DType::i8;
    case 0x0B: return DType::i16;
    case 0x0C: return DType::i32;
    case 0x0D: return DType::f32;
    case 0x0E: fail(what, ": IDX type 0x0E (float64) is not supported");
    default: break;
  }
  fail(what, ": IDX type byte 0x", std::hex, code, std::dec,
       " is not one of 08 (uint8), 09 (int8), 0B (int16), 0C (int32), 0D (float32)");
}

inline bool is_gzip(std::span<const std::byte> bytes) {
  return bytes.size() >= 2 && bytes[0] == std::byte{0x1F} && bytes[1] == std::byte{0x8B};
}

}  // namespace detail

// Parses IDX bytes (already decompressed); `what` names the source in messages.
inline Tensor parse_idx(std::span<const std::byte> bytes, std::string_view what) {
  const auto at = [&](std::size_t i) { return static_cast<std::uint32_t>(bytes[i]); };
  check(bytes.size() >= 4 && at(0) == 0 && at(1) == 0, what,
        ": not an IDX file (it does not start with two zero bytes; ", bytes.size(), " bytes)");
  const DType dtype = detail::idx_dtype(at(2), what);
  const std::size_t ndim = at(3);
  check(ndim <= static_cast<std::size_t>(Shape::kMaxRank), what, ": IDX file declares ", ndim,
        " dimensions, at most ", Shape::kMaxRank, " are supported");
  const std::size_t header = 4 + 4 * ndim;
  check(bytes.size() >= header, what, ": truncated IDX header: ", ndim, " dimensions need ", header,
        " bytes, the file has ", bytes.size());
  Shape shape;
  for (std::size_t d = 0; d < ndim; ++d) {
    const std::size_t p = 4 + 4 * d;
    shape.push_back(at(p) << 24 | at(p + 1) << 16 | at(p + 2) << 8 | at(p + 3));
  }
  const std::int64_t numel = with_context(std::string(what), [&] { return shape.numel(); });
  const std::size_t item = size_of(dtype);
  const std::size_t available = bytes.size() - header;
  check(static_cast<std::uint64_t>(numel) <= available / item, what,
        ": IDX data is truncated: dimensions ", shape, " need ", numel, " elements of ", item,
        " bytes, the file has ", available, " bytes after the ", header, "-byte header");
  const std::size_t needed = static_cast<std::size_t>(numel) * item;
  check(needed == available, what, ": IDX file has ", available - needed,
        " trailing bytes after the ", needed, " data bytes of dimensions ", shape);

  Tensor t(dtype, shape);
  if (needed == 0) return t;
  std::memcpy(t.raw(), bytes.data() + header, needed);
  if (item > 1 && std::endian::native == std::endian::little) {  // big-endian in the file
    std::byte* p = t.raw();
    for (std::size_t i = 0; i < needed; i += item) std::reverse(p + i, p + i + item);
  }
  return t;
}

// Reads an IDX file, gunzipping it first when it starts with the gzip magic.
inline Tensor load_idx(const std::filesystem::path& path) {
  const std::string what = file_context(path);
  const std::vector<std::byte> raw = read_file_bytes(path);
  if (!detail::is_gzip(raw)) {
    check(path.extension() != ".gz", what, ": the name ends in .gz but the data is not gzip");
    return parse_idx(raw, what);
  }
  const std::vector<std::byte> data = with_context(what, [&] { return gunzip(raw); });
  return parse_idx(data, what);
}

// A labelled image set: images uint8 [N, H, W], labels uint8 [N].
struct IdxDataset {
  Tensor images;
  Tensor labels;
};

// Loads Fashion-MNIST's `split` ("train" or "t10k") from `dir`: <split>-images-idx3-ubyte and
// <split>-labels-idx1-ubyte, each plain or with .gz appended. Checks that the images are uint8
// N×H×W, the labels uint8 N, the counts agree and every label is below 10.
inline IdxDataset load_fashion_mnist(const std::filesystem::path& dir, std::string_view split) {
  check(split == "train" || split == "t10k", "Fashion-MNIST split '", split,
        "' is neither 'train' nor 't10k'");
  const auto find = [&](const char* kind) {
    std::filesystem::path plain = dir / (std::string(split) + kind);
    std::filesystem::path gz = plain;
    gz += ".gz";
    std::error_code ec;
    if (std::filesystem::exists(plain, ec)) return plain;
    if (std::filesystem::exists(gz, ec)) return gz;
    fail("Fashion-MNIST: neither '", plain.string(), "' nor '", gz.string(), "' exists");
  };
  const std::filesystem::path image_path = find("-images-idx3-ubyte");
  const std::filesystem::path label_path = find("-labels-idx1-ubyte");
  IdxDataset ds{load_idx(image_path), load_idx(label_path)};
  check(ds.images.dtype() == DType::u8 && ds.images.shape().rank() == 3, file_context(image_path),
        ": expected uint8 images N x H x W, got ", ds.images.dtype(), " ", ds.images.shape());
  check(ds.labels.dtype() == DType::u8 && ds.labels.shape().rank() == 1, file_context(label_path),
        ": expected uint8 labels N, got ", ds.labels.dtype(), " ", ds.labels.shape());
  check(ds.images.shape()[0] == ds.labels.shape()[0], "Fashion-MNIST '", split, "': ",
        ds.images.shape()[0], " images in '", image_path.string(), "' but ", ds.labels.shape()[0],
        " labels in '", label_path.string(), "'");
  const std::span<const std::uint8_t> labels = ds.labels.span<std::uint8_t>();
  for (std::size_t i = 0; i < labels.size(); ++i) {
    check(labels[i] < 10, file_context(label_path), ": label ", i, " is ", int{labels[i]},
          ", not a class 0..9");
  }
  return ds;
}

// Images [first, first + count) of uint8 N×H×W images as float32 count×1×H×W, each pixel p as
// exactly static_cast<float>(p) / 255.0f (what the model was trained on: ToTensor()).
inline Tensor images_to_float(const Tensor& u8_images, std::int64_t first, std::int64_t count) {
  check(u8_images.dtype() == DType::u8 && u8_images.shape().rank() == 3,
        "images_to_float: expected uint8 images N x H x W, got ", u8_images.dtype(), " ",
        u8_images.shape());
  const std::int64_t n = u8_images.shape()[0];
  const std::int64_t h = u8_images.shape()[1];
  const std::int64_t w = u8_images.shape()[2];
  check(first >= 0 && count >= 0 && first <= n && count <= n - first, "images_to_float: images [",
        first, ", ", first, " + ", count, ") are not within the ", n, " images");
  Tensor out(DType::f32, Shape{count, 1, h, w});
  const std::span<const std::uint8_t> src =
      u8_images.span<std::uint8_t>().subspan(static_cast<std::size_t>(first * h * w),
                                             static_cast<std::size_t>(count * h * w));
  const std::span<float> dst = out.span<float>();
  for (std::size_t i = 0; i < src.size(); ++i) dst[i] = static_cast<float>(src[i]) / 255.0f;
  return out;
}

// The calibration-set rule: the indices of the first `per_class` examples of each class
// 0..num_classes-1, in file order (so the result is sorted ascending). Every class must have at
// least `per_class` examples: a silently unbalanced calibration set would skew the quantization
// ranges, so it is an error instead.
inline std::vector<std::int64_t> balanced_subset(const Tensor& labels, int per_class,
                                                 int num_classes = 10) {
  check(labels.dtype() == DType::u8 && labels.shape().rank() == 1,
        "balanced_subset: expected uint8 labels N, got ", labels.dtype(), " ", labels.shape());
  check(per_class >= 0 && num_classes > 0 && num_classes <= 256, "balanced_subset: per_class ",
        per_class, " and num_classes ", num_classes, " are out of range");
  const std::span<const std::uint8_t> y = labels.span<std::uint8_t>();
  std::vector<int> taken(static_cast<std::size_t>(num_classes), 0);
  std::vector<std::int64_t> picked;
  picked.reserve(static_cast<std::size_t>(per_class) * static_cast<std::size_t>(num_classes));
  for (std::size_t i = 0; i < y.size(); ++i) {
    check(y[i] < num_classes, "balanced_subset: label ", i, " is ", int{y[i]}, ", not below ",
          num_classes);
    int& k = taken[y[i]];
    if (k < per_class) {
      ++k;
      picked.push_back(static_cast<std::int64_t>(i));
    }
  }
  for (int c = 0; c < num_classes; ++c) {
    const int n = taken[static_cast<std::size_t>(c)];
    check(n == per_class, "balanced_subset: class ", c, " has ", n, " examples, fewer than the ",
          per_class, " asked for");
  }
  return picked;
}

}  // namespace qnn::io
// ---- end qnn/io/idx.hpp ----------------------------------------------------------------------------
// ---- begin qnn/runtime/session.hpp -----------------------------------------------------------------
// Session: a model prepared once, run many times, from many threads.
//
// Preparing (the constructor) runs the graph passes, makes one kernel per node (weights packed,
// factors precomputed, attributes validated), and plans memory: every intermediate value gets a
// buffer slot, and a slot is reused once the last reader of its previous value has run. A RunContext
// owns the slots, so each thread that runs the session concurrently uses its own context; the
// session itself is never written after construction. Slots grow to the largest batch seen and are
// then reused: steady-state runs allocate nothing but the returned output tensors (and nothing at
// all through the run() overload that takes the outputs to fill).
//
// Inputs are only read: a caller's tensor is never modified, and never aliased by an output.
//
// Backends. A session is instantiated on a backend type: BasicSession<B> for any B satisfying
// backends::Backend (backends/backend.hpp), and `Session` = BasicSession<backends::cpu::SimdBackend>,
// the CPU, which is what every existing caller gets. A template parameter rather than a run-time
// choice because a backend brings its own kernel and ticket types (an XRT run handle, the emulator's
// kernels) that the session stores and calls without virtual dispatch or type erasure, and because a
// backend the program does not name is not compiled in (the XRT headers stay out of CPU builds).
// When the session is prepared it asks B once per node whether it takes it; declined nodes are
// prepared by the fallback backend (the CPU) and the reason is kept in partition(). Running never
// revisits that decision. Nodes on B are started with B::submit and waited for just before the first
// node that reads their outputs or reuses their buffers, so a device with queues overlaps independent
// nodes with host work; everything is complete when run() returns.

#include <algorithm>
#include <chrono>
#include <cstring>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <numeric>
#include <optional>
#include <span>
#include <string>
#include <vector>

// ---- begin qnn/backends/backend.hpp ----------------------------------------------------------------
// The backend trait: what a type must provide to run a session's nodes (docs/backends.md).
//
// A session is instantiated on a backend type, BasicSession<B> (runtime/session.hpp; `Session` is
// BasicSession<backends::cpu::SimdBackend>). When the session is prepared it asks B, once per node,
// whether it takes the node; nodes B declines run on the CPU backend, with B's reason recorded in the
// session's partition (backends/partition.hpp). Nothing about placement is decided while running.
//
// A type B is a Backend when it provides:
//
//   B::name                 static constexpr std::string_view — "cpu", "cpu-ref", "npu-emu", "xrt";
//                           reports and the command line use it.
//   B::Kernel               the node as B prepared it. Derives from OpKernel, so its run() is the
//                           synchronous execution and its macs() feeds the partition report.
//   B::Ticket               the handle of one submitted run: default-constructible and movable
//                           (the session keeps one per node in each run context and reuses it).
//   b.supports(info)        -> Support. Yes, or no with the exact reason a user can act on: which op,
//                           dtype, shape, attribute or quantization rule the device cannot take
//                           ("MaxPool kernel 2x1 is not supported by the NPU (kernels 2x1, 1x2, 3x1
//                           and 1x3)"). Must not modify the node (read attributes through
//                           Attributes::all(), whose reads are not recorded as uses). Only nodes B
//                           accepts reach prepare().
//   b.prepare(info)         -> std::unique_ptr<B::Kernel>. One-time preparation: validate, pack or
//                           upload weights, precompute factors. Throws qnn::error for a node that is
//                           invalid on every backend (the CPU would refuse it too).
//   b.run(k, ctx)           synchronous execution of a prepared node.
//   b.submit(k, ctx)        -> Ticket. Asynchronous start. `ctx` is valid only during the call:
//                           submit reads its inputs' addresses and obtains its output buffers
//                           (ctx.output) before returning. The session then leaves those inputs and
//                           outputs untouched until wait() has returned for the ticket.
//   b.wait(t)               blocks until the run of `t` completed; a device failure is a qnn::error.
//
// All members are const: one backend object serves every run context of a session, possibly from
// several threads at once, so a backend with device state must make submit/wait thread-safe.
//
// The session drives B only through these members. It submits a node and waits for the ticket just
// before the first node that reads the node's outputs or reuses one of its buffers (and at the end
// of the run), so a device with real queues (XRT) overlaps independent nodes; the CPU backends and
// the NPU emulator complete inside submit() and return tickets that are born ready.
//
// Adding a backend touches one folder: include/qnn/backends/<device>/ with a type satisfying the
// concept, plus its line in backends/backends.hpp (visit_backend), which is how `qnn inspect
// --backend NAME` and the other tools find it.

#include <concepts>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

namespace qnn::backends {

// Whether a backend takes a node, and if not, why.
class Support {
 public:
  static Support yes() { return Support(); }
  template <class... A>
  static Support no(const A&... why) {
    Support s;
    s.reason_ = qnn::detail::cat(why...);
    if (s.reason_.empty()) s.reason_ = "not supported";
    return s;
  }

  bool ok() const { return reason_.empty(); }
  explicit operator bool() const { return ok(); }
  const std::string& reason() const { return reason_; }

 private:
  std::string reason_;  // empty: supported
};

// The completed-on-return ticket of backends that execute inside submit().
struct ReadyTicket {};

template <class B>
concept Backend =
    std::move_constructible<B> && std::derived_from<typename B::Kernel, OpKernel> &&
    std::default_initializable<typename B::Ticket> && std::movable<typename B::Ticket> &&
    requires(const B& b, const NodeInfo& info, const typename B::Kernel& k, KernelContext& ctx,
             typename B::Ticket& t) {
      { B::name } -> std::convertible_to<std::string_view>;
      { b.supports(info) } -> std::same_as<Support>;
      { b.prepare(info) } -> std::same_as<std::unique_ptr<typename B::Kernel>>;
      { b.run(k, ctx) } -> std::same_as<void>;
      { b.submit(k, ctx) } -> std::same_as<typename B::Ticket>;
      { b.wait(t) } -> std::same_as<void>;
    };

// The backend that runs the nodes B declines: B::fallback_type if B names one, else the CPU backend
// given (runtime/session.hpp passes cpu::SimdBackend).
template <class B, class Default>
struct fallback_of {
  using type = Default;
};
template <class B, class Default>
  requires requires { typename B::fallback_type; }
struct fallback_of<B, Default> {
  using type = typename B::fallback_type;
};

}  // namespace qnn::backends
// ---- end qnn/backends/backend.hpp ------------------------------------------------------------------
// ---- begin qnn/backends/cpu/cpu.hpp ----------------------------------------------------------------
// The CPU backends: qnn's kernel registry as a Backend (backends/backend.hpp).
//
//   SimdBackend       "cpu"      the registry's kernels as they are: the fast paths (kernels/cpu,
//                                Highway) where an op has one, the scalar reference elsewhere. The
//                                default backend of Session and the fallback of every other backend.
//   ReferenceBackend  "cpu-ref"  the same kernels with SessionOptions::reference_kernels set, so
//                                Conv, Gemm and MatMul (float and quantized) run their scalar
//                                reference loops — the spec the fast paths equal bit for bit
//                                (docs/numerics.md).
//
// Both take every node: the registry is the CPU's operator table, and an operator missing from it is
// refused by KernelRegistry::make when the session is prepared (there is nothing left to fall back
// to). Both compute inside submit(), so their tickets are born ready. The registry is the one the
// session was given (NodeInfo::registry), the built-in one when a node is prepared outside a session.

#include <memory>
#include <string_view>

// ---- begin qnn/runtime/ops/registry.hpp ------------------------------------------------------------
// The operators qnn runs out of the box.
//
// Compiling every operator kernel is most of the cost of a translation unit that makes a session,
// and a header-only library pays it in every such unit. A program with many of them can pay it
// once (as fmt's optional compiled part does): define QNN_COMPILED_REGISTRY for the whole program,
// and in exactly one source file define QNN_REGISTRY_IMPLEMENTATION too before including qnn,
//
//   #define QNN_REGISTRY_IMPLEMENTATION
//   #include <qnn/qnn.hpp>
//
// Elsewhere builtin_registry() is then only declared and the operator headers are not included:
// their factories (make_qlinear_conv, ...) are ordinary functions, so merely parsing them compiles
// every kernel they build. A file that uses an operator class directly includes its header itself.
// Without QNN_COMPILED_REGISTRY (the default) nothing changes: header-only, nothing to link.

#if defined(QNN_COMPILED_REGISTRY) && !defined(QNN_REGISTRY_IMPLEMENTATION)

namespace qnn {
const KernelRegistry& builtin_registry();
}  // namespace qnn

#else

// ---- begin qnn/runtime/ops/float_ops.hpp -----------------------------------------------------------
// The unquantized operators: convolution, pooling and batch norm (float_nn.hpp), Gemm and MatMul
// (float_linear.hpp), activations, arithmetic and Softmax (float_eltwise.hpp). Each registration
// names the oldest ONNX opset whose semantics the kernel implements.

#include <memory>

// ---- begin qnn/kernels/ref/binary.hpp --------------------------------------------------------------
// Reference element-wise Add, Sub, Mul, Div on unquantized tensors (NumPy broadcasting).
//
//   float      one fp32 operation;
//   bfloat16   the fp32 operation on the exact float values, rounded to nearest even;
//   integers   two's complement, modulo 2^bits (a wider sum or product truncated: NumPy's and ONNX
//              Runtime's behaviour, without C++'s signed-overflow undefined behaviour); Div
//              truncates toward zero (C++ '/', ONNX Runtime, and the ONNX reference's
//              astype(int) of the quotient); MIN / −1 wraps to MIN; division by zero is an error.
// Quantized Add and Mul are eltwise.hpp.

#include <cstdint>
#include <limits>
#include <string_view>
#include <type_traits>

namespace qnn::ref {

enum class BinaryOp : std::uint8_t { add, sub, mul, div };

constexpr std::string_view name_of(BinaryOp op) {
  switch (op) {
    case BinaryOp::add:
      return "Add";
    case BinaryOp::sub:
      return "Sub";
    case BinaryOp::mul:
      return "Mul";
    case BinaryOp::div:
      return "Div";
  }
  return "?";
}

template <class T>
T binary_value(BinaryOp op, T a, T b) {
  if constexpr (std::same_as<T, bf16>) {
    return bf16(binary_value<float>(op, a.to_float(), b.to_float()));
  } else if constexpr (std::same_as<T, float>) {
    switch (op) {
      case BinaryOp::add:
        return a + b;
      case BinaryOp::sub:
        return a - b;
      case BinaryOp::mul:
        return a * b;
      case BinaryOp::div:
        return a / b;
    }
    return a;
  } else {
    static_assert(std::is_integral_v<T> && !std::same_as<T, bool>, "binary arithmetic on bool");
    const auto ua = static_cast<std::uint64_t>(a);
    const auto ub = static_cast<std::uint64_t>(b);
    switch (op) {
      case BinaryOp::add:
        return static_cast<T>(ua + ub);
      case BinaryOp::sub:
        return static_cast<T>(ua - ub);
      case BinaryOp::mul:
        return static_cast<T>(ua * ub);
      case BinaryOp::div:
        check(b != 0, "integer division by zero");
        if constexpr (std::is_signed_v<T>)
          if (a == std::numeric_limits<T>::min() && b == -1) return a;
        return static_cast<T>(a / b);
    }
    return a;
  }
}

template <class T>
void binary(BinaryOp op, TensorView<const T> a, TensorView<const T> b, TensorView<T> y) {
  binary_broadcast(a, b, y, [op](T va, T vb) { return binary_value(op, va, vb); });
}

}  // namespace qnn::ref
// ---- end qnn/kernels/ref/binary.hpp ----------------------------------------------------------------
// ---- begin qnn/runtime/ops/float_eltwise.hpp -------------------------------------------------------
// Unquantized element-wise operators: the activations (Relu, LeakyRelu, Clip, Sigmoid, HardSigmoid,
// HardSwish, Tanh), Add/Sub/Mul/Div with broadcasting, and Softmax.
//
// Float activations evaluate ref::Activation, the same function the quantized kernels tabulate, so
// a float model and its quantized form agree on what each activation means. Relu and Clip also run
// on integer tensors (opset 14 / 12), exactly in the element type (ref/clamp.hpp). Add–Div run on
// float32, bfloat16 and every integer type: exported graphs compute shapes in int64 (ref/binary.hpp
// states the integer rules).

#include <cstdint>
#include <limits>

// ---- begin qnn/kernels/ref/clamp.hpp ---------------------------------------------------------------
// Reference Clip (and Relu) on unquantized tensors, exact in the element type:
//   y = min(max(x, lo), hi)     with lo ≤ hi
// Float Clip is also ref::Activation::clip (activation.hpp), which this equals for lo ≤ hi; integer
// tensors (int32/int64 values beyond 2^24) must not pass through float, hence this typed form.
// NaN stays NaN.

namespace qnn::ref {

template <class T>
void clamp(TensorView<const T> x, T lo, T hi, TensorView<T> y) {
  check(!(hi < lo), "clip: min is above max");
  unary(x, y, [&](T v) { return v < lo ? lo : (hi < v ? hi : v); });
}

}  // namespace qnn::ref
// ---- end qnn/kernels/ref/clamp.hpp -----------------------------------------------------------------
// ---- begin qnn/runtime/ops/op_util.hpp -------------------------------------------------------------
// Helpers shared by the operator kernels: dtype sets and checks, small integer inputs (shapes, axes,
// pads) read without allocating, axis lists, fused activations, and the per-thread bf16 scratch.
//
// Kernels validate at prepare time what NodeInfo knows (attributes, constant inputs, declared
// dtypes) and at run time the rest; these helpers word the errors the same way everywhere.

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <limits>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace qnn::ops {

// ---- dtypes ------------------------------------------------------------------------------------

class DTypeSet {
 public:
  constexpr DTypeSet(std::initializer_list<DType> ts) {
    for (DType t : ts) bits_ |= bit(t);
  }
  static constexpr DTypeSet all() {
    return {DType::f32, DType::bf16, DType::i8,  DType::u8,     DType::i16,
            DType::u16, DType::i32,  DType::i64, DType::boolean};
  }
  constexpr bool has(DType t) const { return (bits_ & bit(t)) != 0; }
  friend std::ostream& operator<<(std::ostream& os, const DTypeSet& s) {
    bool first = true;
    for (int i = 0; i <= static_cast<int>(DType::boolean); ++i) {
      const auto t = static_cast<DType>(i);
      if (!s.has(t)) continue;
      os << (first ? "" : ", ") << t;
      first = false;
    }
    return os;
  }

 private:
  static constexpr std::uint32_t bit(DType t) { return std::uint32_t{1} << static_cast<unsigned>(t); }
  std::uint32_t bits_ = 0;
};

inline constexpr DTypeSet kFloat32{DType::f32};
inline constexpr DTypeSet kFloats{DType::f32, DType::bf16};
inline constexpr DTypeSet kIntegers{DType::i8, DType::u8, DType::i16, DType::u16, DType::i32, DType::i64};
inline constexpr DTypeSet kNumeric{DType::f32, DType::bf16, DType::i8,  DType::u8,
                                   DType::i16, DType::u16,  DType::i32, DType::i64};
inline constexpr DTypeSet kIndices{DType::i32, DType::i64};

// Run time: the input's dtype must be in `allowed`.
inline void check_dtype(DType got, DTypeSet allowed, std::string_view what) {
  check(allowed.has(got), what, " is ", got, "; supported: ", allowed);
}
// Prepare time: the same check when the graph states the dtype.
inline void check_input_dtype(const NodeInfo& n, std::size_t i, DTypeSet allowed, std::string_view what) {
  if (const auto t = n.input_dtype(i)) check_dtype(*t, allowed, what);
}
// Prepare time: inputs i and j must have one dtype when both are known.
inline void check_same_input_dtype(const NodeInfo& n, std::size_t i, std::size_t j) {
  const auto a = n.input_dtype(i);
  const auto b = n.input_dtype(j);
  if (a && b) check(*a == *b, "inputs ", i, " and ", j, " have different dtypes (", *a, " and ", *b, ")");
}
inline void check_same_dtype(const TensorRef& a, const TensorRef& b, std::string_view what) {
  check(a.dtype == b.dtype, what, ": ", a.dtype, " and ", b.dtype, " differ");
}

// visit_dtype for kernels that compute: f(T{}) for every dtype but bool, which is refused.
template <class F>
void visit_numeric(DType t, std::string_view what, F&& f) {
  check(t != DType::boolean, what, " is bool, which this operator does not compute with");
  visit_dtype(t, [&](auto v) {
    if constexpr (!std::same_as<decltype(v), bool>) f(v);
  });
}

// The rank of input i if the graph states it.
inline std::optional<int> known_rank(const NodeInfo& n, std::size_t i) {
  if (const auto d = n.input_dims(i)) return static_cast<int>(d->size());
  return std::nullopt;
}
// Prepare time: `axis` must be in [−rank, rank + extra) when input i's rank is known.
inline void check_axis(const NodeInfo& n, std::size_t i, std::int64_t axis, int extra = 0) {
  if (const auto r = known_rank(n, i))
    check(axis >= -*r && axis < *r + extra, "axis ", axis, " is out of range for an input of rank ", *r);
}

// ---- small integer inputs ----------------------------------------------------------------------

// A short list of integers (a shape, axes, pads, slice bounds) in fixed storage, so reading one at
// run time allocates nothing. Holds up to two entries per axis of the largest rank.
class IntList {
 public:
  static constexpr int kCapacity = 2 * Shape::kMaxRank;

  IntList() = default;
  explicit IntList(std::span<const std::int64_t> v) {
    check(v.size() <= static_cast<std::size_t>(kCapacity), "a list of ", v.size(), " integers is longer than ",
          kCapacity);
    for (std::int64_t x : v) push_back(x);
  }
  void push_back(std::int64_t x) {
    check(size_ < kCapacity, "a list of integers is longer than ", kCapacity);
    v_[static_cast<std::size_t>(size_++)] = x;
  }
  int size() const { return size_; }
  bool empty() const { return size_ == 0; }
  std::int64_t operator[](int i) const { return v_[static_cast<std::size_t>(i)]; }
  std::int64_t& operator[](int i) { return v_[static_cast<std::size_t>(i)]; }
  std::span<const std::int64_t> span() const { return {v_.data(), static_cast<std::size_t>(size_)}; }
  const std::int64_t* begin() const { return v_.data(); }
  const std::int64_t* end() const { return v_.data() + size_; }

 private:
  std::array<std::int64_t, kCapacity> v_{};
  int size_ = 0;
};

// The values of a 0-D or 1-D int32/int64 tensor.
inline IntList read_ints(const TensorRef& t, std::string_view what) {
  check(t.shape.rank() <= 1, what, " must be a 1-D tensor, got shape ", t.shape);
  check_dtype(t.dtype, kIndices, what);
  IntList out;
  check(t.numel() <= IntList::kCapacity, what, " has ", t.numel(), " values, more than ", IntList::kCapacity);
  if (t.dtype == DType::i64)
    for (std::int64_t v : t.span<std::int64_t>()) out.push_back(v);
  else
    for (std::int32_t v : t.span<std::int32_t>()) out.push_back(v);
  return out;
}
inline IntList read_ints(const Tensor& t, std::string_view what) { return read_ints(TensorRef::of(t), what); }

// A one-element tensor's value as T (Clip bounds, Pad's constant value).
template <class T>
T read_scalar(const TensorRef& t, std::string_view what) {
  check(t.numel() == 1, what, " must hold one value, got shape ", t.shape);
  check(t.dtype == dtype_of_v<T>, what, " is ", t.dtype, ", expected ", name_of(dtype_of_v<T>));
  T v;
  std::memcpy(&v, t.data, sizeof(T));
  return v;
}

// Axes normalized to [0, rank), each at most once.
inline IntList normalize_axes(std::span<const std::int64_t> axes, int rank, std::string_view what) {
  IntList out;
  for (std::int64_t a : axes) {
    check(a >= -rank && a < rank, what, ": axis ", a, " is out of range for rank ", rank);
    const std::int64_t n = a < 0 ? a + rank : a;
    check(std::find(out.begin(), out.end(), n) == out.end(), what, ": axis ", a, " is repeated");
    out.push_back(n);
  }
  return out;
}

// ---- outputs -----------------------------------------------------------------------------------

// Whether the node's output i is connected (ONNX marks an unused optional output with "").
inline bool output_used(const NodeInfo& n, std::size_t i) {
  return i < n.num_outputs() && !n.node().outputs[i].empty();
}

// Output 0 = input 0 reinterpreted with a new shape (Reshape, Flatten, Squeeze, Identity, ...).
inline void copy_with_shape(KernelContext& ctx, const TensorRef& x, const Shape& shape) {
  check(shape.numel() == x.numel(), "cannot reshape ", x.shape, " (", x.numel(), " elements) to ", shape);
  TensorRef& y = ctx.output(0, x.dtype, shape);
  if (x.bytes()) std::memcpy(y.data, x.data, x.bytes());
}

// ---- bf16 precision ----------------------------------------------------------------------------

// A float activation rounded to bf16 (nearest even) in a per-thread scratch buffer that grows to the
// largest size seen and is then reused, so steady-state runs allocate nothing. The view is valid
// until the same thread's next call.
inline TensorView<const bf16> bf16_scratch(TensorView<const float> x) {
  thread_local AlignedBuffer buffer;
  const std::size_t bytes = static_cast<std::size_t>(x.numel()) * sizeof(bf16);
  if (buffer.size() < bytes) buffer = AlignedBuffer(bytes);
  const TensorView<bf16> v(reinterpret_cast<bf16*>(buffer.data()), x.shape());
  ref::to_bf16(x, v);
  return v;
}

// ---- registration ------------------------------------------------------------------------------

template <class K>
KernelFactory factory() {
  return [](const NodeInfo& n) -> std::unique_ptr<OpKernel> { return std::make_unique<K>(n); };
}

}  // namespace qnn::ops
// ---- end qnn/runtime/ops/op_util.hpp ---------------------------------------------------------------

namespace qnn::ops {

// A float activation y = f(x) on float32 or bfloat16.
class FloatActivationKernel final : public OpKernel {
 public:
  FloatActivationKernel(const NodeInfo& n, const ref::Activation& f) : f_(f) {
    check_input_dtype(n, 0, kFloats, "X (input 0)");
  }
  void run(KernelContext& ctx) const override {
    const TensorRef& x = ctx.in(0);
    check_dtype(x.dtype, kFloats, "X (input 0)");
    const TensorRef& y = ctx.output(0, x.dtype, x.shape);
    if (x.dtype == DType::bf16)
      ref::activation_float(x.view<bf16>(), y.mut<bf16>(), f_);
    else
      ref::activation_float(x.view<float>(), y.mut<float>(), f_);
  }

 private:
  ref::Activation f_;
};

inline constexpr DTypeSet kReluTypes{DType::f32, DType::bf16, DType::i8, DType::i16, DType::i32, DType::i64};

class ReluKernel final : public OpKernel {
 public:
  explicit ReluKernel(const NodeInfo& n) { check_input_dtype(n, 0, kReluTypes, "X (input 0)"); }
  void run(KernelContext& ctx) const override {
    const TensorRef& x = ctx.in(0);
    check_dtype(x.dtype, kReluTypes, "X (input 0)");
    const TensorRef& y = ctx.output(0, x.dtype, x.shape);
    visit_numeric(x.dtype, "X (input 0)", [&](auto t) {
      using T = decltype(t);
      if constexpr (std::same_as<T, float> || std::same_as<T, bf16>)
        ref::activation_float(x.view<T>(), y.mut<T>(), ref::Activation::relu());
      else
        ref::clamp(x.view<T>(), T{0}, std::numeric_limits<T>::max(), y.mut<T>());
    });
  }
};

// Clip: bounds as attributes (opset < 11, float) or optional inputs 1 and 2 of the input's type
// (opset ≥ 11; integer types from opset 12). A missing bound is unbounded. min > max is refused:
// ONNX does not define it, and runtimes disagree (NumPy returns max, a clamp written the other
// way round returns min).
class ClipKernel final : public OpKernel {
 public:
  explicit ClipKernel(const NodeInfo& n) : inputs_(n.opset() >= 11) {
    if (!inputs_) {
      lo_ = n.attrs().get_float("min", std::numeric_limits<float>::lowest());
      hi_ = n.attrs().get_float("max", std::numeric_limits<float>::max());
      check(!(hi_ < lo_), "Clip min ", lo_, " is above max ", hi_);
      check_input_dtype(n, 0, kFloats, "X (input 0)");
    } else {
      check_input_dtype(n, 0, kNumeric, "X (input 0)");
      check_same_input_dtype(n, 0, 1);
      check_same_input_dtype(n, 0, 2);
    }
  }
  void run(KernelContext& ctx) const override {
    const TensorRef& x = ctx.in(0);
    check_dtype(x.dtype, inputs_ ? kNumeric : kFloats, "X (input 0)");
    const TensorRef& y = ctx.output(0, x.dtype, x.shape);
    visit_numeric(x.dtype, "X (input 0)", [&](auto t) {
      using T = decltype(t);
      if constexpr (std::same_as<T, float> || std::same_as<T, bf16>) {
        float lo = lo_, hi = hi_;
        if (inputs_ && ctx.has(1)) lo = static_cast<float>(read_scalar<T>(ctx.in(1), "min (input 1)"));
        if (inputs_ && ctx.has(2)) hi = static_cast<float>(read_scalar<T>(ctx.in(2), "max (input 2)"));
        check(!(hi < lo), "Clip min ", lo, " is above max ", hi);
        ref::activation_float(x.view<T>(), y.mut<T>(), ref::Activation::clip(lo, hi));
      } else {
        const T lo = ctx.has(1) ? read_scalar<T>(ctx.in(1), "min (input 1)") : std::numeric_limits<T>::lowest();
        const T hi = ctx.has(2) ? read_scalar<T>(ctx.in(2), "max (input 2)") : std::numeric_limits<T>::max();
        check(lo <= hi, "Clip min ", +lo, " is above max ", +hi);
        ref::clamp(x.view<T>(), lo, hi, y.mut<T>());
      }
    });
  }

 private:
  bool inputs_;
  float lo_ = -std::numeric_limits<float>::infinity();
  float hi_ = std::numeric_limits<float>::infinity();
};

class BinaryKernel final : public OpKernel {
 public:
  BinaryKernel(const NodeInfo& n, ref::BinaryOp op) : op_(op) {
    check_input_dtype(n, 0, kNumeric, "A (input 0)");
    check_input_dtype(n, 1, kNumeric, "B (input 1)");
    check_same_input_dtype(n, 0, 1);
  }
  void run(KernelContext& ctx) const override {
    const TensorRef& a = ctx.in(0);
    const TensorRef& b = ctx.in(1);
    check_dtype(a.dtype, kNumeric, "A (input 0)");
    check_same_dtype(a, b, "inputs A and B");
    const TensorRef& y = ctx.output(0, a.dtype, ref::broadcast_shape(a.shape, b.shape));
    visit_numeric(a.dtype, "A (input 0)", [&](auto t) {
      using T = decltype(t);
      ref::binary(op_, a.view<T>(), b.view<T>(), y.mut<T>());
    });
  }

 private:
  ref::BinaryOp op_;
};

// Softmax. Opset 13: along `axis` (default −1). Before: the input is seen as a 2-D matrix
// [d0·…·d(axis−1), d(axis)·…·d(r−1)] (axis default 1) and each row is normalized.
class SoftmaxKernel final : public OpKernel {
 public:
  explicit SoftmaxKernel(const NodeInfo& n)
      : coerce_2d_(n.opset() < 13), axis_(n.attrs().get_int("axis", n.opset() < 13 ? 1 : -1)) {
    check_input_dtype(n, 0, kFloat32, "input 0");
    check_axis(n, 0, axis_);
  }
  void run(KernelContext& ctx) const override {
    const TensorRef& x = ctx.in(0);
    check_dtype(x.dtype, kFloat32, "input 0");
    const TensorRef& y = ctx.output(0, x.dtype, x.shape);
    const int r = x.shape.rank();
    check(axis_ >= -r && axis_ < std::max(r, 1), "axis ", axis_, " is out of range for rank ", r);
    const int axis = static_cast<int>(axis_ < 0 ? axis_ + r : axis_);
    if (!coerce_2d_) {
      check(r >= 1, "softmax of a scalar");
      ref::softmax(x.view<float>(), axis, y.mut<float>());
      return;
    }
    std::int64_t outer = 1, inner = 1;
    for (int i = 0; i < r; ++i) (i < axis ? outer : inner) *= x.shape[i];
    const Shape m{outer, inner};
    ref::softmax(TensorView<const float>(x.span<float>().data(), m), 1, TensorView<float>(y.mut<float>().data(), m));
  }

 private:
  bool coerce_2d_;
  std::int64_t axis_;
};

}  // namespace qnn::ops
// ---- end qnn/runtime/ops/float_eltwise.hpp ---------------------------------------------------------
// ---- begin qnn/runtime/ops/float_linear.hpp --------------------------------------------------------
// Unquantized Gemm and MatMul.
//
// With constant weights the layer is a FloatGemm prepared once (fp32, or bf16 inputs with fp32
// accumulation when the session asks for bf16). Gemm folds α into the weights and β·C into the bias
// when C is constant and varies only along N; any other C is added after the product. Weights
// computed at run time take the reference path: ref::gemm_alpha_beta for Gemm, ref::matmul (NumPy
// batch broadcasting) for MatMul. A fused ReLU/Clip (qnn_activation) is applied last in every path.

#include <cstdint>
#include <optional>
#include <span>
#include <variant>
#include <vector>

// ---- begin qnn/kernels/ref/gemm_onnx.hpp -----------------------------------------------------------
// ONNX Gemm in full, as the reference for every way qnn runs it:
//
//   Y = α · A·B + β · C       A is [M,K], B is [K,N] (transposes are views), C broadcasts to [M,N]
// A·B is ref::gemm with FloatArith (fp32, k ascending); then each element is α·ab + β·c in fp32.
// A prepared layer with constant B and C folds α into the weights and β·C into the bias instead;
// that rounds differently (inside ONNX's tolerance) and is what the session runs when it can.

#include <optional>

namespace qnn::ref {

// y = α·y + β·C, C broadcast to y's shape (the epilogue when C is not folded into a bias).
inline void gemm_add_c(TensorView<float> y, float alpha, std::optional<TensorView<const float>> c, float beta) {
  if (c) {
    const auto cb = broadcast_to(*c, y.shape());
    for_each_index(y.shape(), [&](const auto& idx) { at(y, idx) = alpha * at(y, idx) + beta * at(cb, idx); });
  } else if (alpha != 1.0f) {
    for_each_index(y.shape(), [&](const auto& idx) { at(y, idx) = alpha * at(y, idx); });
  }
}

inline void gemm_alpha_beta(TensorView<const float> a, TensorView<const float> b,
                            std::optional<TensorView<const float>> c, float alpha, float beta, TensorView<float> y) {
  gemm(a, b, y, FloatArith<float>{});
  gemm_add_c(y, alpha, c, beta);
}

}  // namespace qnn::ref
// ---- end qnn/kernels/ref/gemm_onnx.hpp -------------------------------------------------------------

namespace qnn::ops {

namespace internal {
using PreparedGemm = std::variant<std::monostate, FloatGemm<float>, FloatGemm<bf16>>;

inline PreparedGemm make_gemm(TensorView<const float> b, std::span<const float> bias, const GemmOptions& opt,
                              bool bf16_inputs) {
  PreparedGemm g;
  if (bf16_inputs)
    g.emplace<FloatGemm<bf16>>(b, bias, opt);
  else
    g.emplace<FloatGemm<float>>(b, bias, opt);
  return g;
}
inline void run_gemm(const PreparedGemm& g, TensorView<const float> a, TensorView<float> c, const cpu::Exec& ex) {
  if (const auto* f = std::get_if<FloatGemm<float>>(&g)) f->run(a, c, ex);
  if (const auto* f = std::get_if<FloatGemm<bf16>>(&g)) f->run(bf16_scratch(a), c, ex);
}
inline void apply_clamp(TensorView<float> y, const ActivationClamp& act) {
  if (act.kind != FusedActivation::none) ref::activation_float<float>(y, y, ref::Activation::clip(act.min, act.max));
}
inline TensorView<const float> as_matrix(const TensorRef& t, const char* what) {
  check_dtype(t.dtype, kFloat32, what);
  check(t.shape.rank() == 2, what, " must be 2-D, got ", t.shape);
  return t.view<float>();
}
}  // namespace internal

class GemmKernel final : public OpKernel {
 public:
  explicit GemmKernel(const NodeInfo& n) {
    const Attributes& a = n.attrs();
    alpha_ = a.get_float("alpha", 1.0f);
    beta_ = a.get_float("beta", 1.0f);
    trans_a_ = a.get_int("transA", 0) != 0;
    trans_b_ = a.get_int("transB", 0) != 0;
    act_ = passes::read_fused_activation(a);
    for (std::size_t i : {0, 1, 2}) check_input_dtype(n, i, kFloat32, "Gemm input");
    check(n.opset() >= 11 || n.has_input(2), "input 2 (C) is required before opset 11");
    const Tensor* b = n.constant_input(1);
    if (!b) return;
    check_dtype(b->dtype(), kFloat32, "B (input 1)");
    check(b->shape().rank() == 2, "B (input 1) must be 2-D, got ", b->shape());
    const std::int64_t nn = b->shape()[trans_b_ ? 0 : 1];
    Tensor w = *b;
    if (alpha_ != 1.0f)
      for (float& v : w.span<float>()) v *= alpha_;
    std::vector<float> bias;
    const Tensor* c = n.constant_input(2);
    c_in_bias_ = !n.has_input(2) || (c && per_column(c->shape(), nn));
    if (n.has_input(2) && c_in_bias_) {
      check_dtype(c->dtype(), kFloat32, "C (input 2)");
      const auto cv = c->span<float>();
      for (std::int64_t j = 0; j < nn; ++j)
        bias.push_back(beta_ * cv[cv.size() == 1 ? 0 : static_cast<std::size_t>(j)]);
    }
    GemmOptions opt;
    opt.trans_a = trans_a_;
    opt.trans_b = trans_b_;
    opt.reference = n.options().reference_kernels;
    if (c_in_bias_) opt.activation = act_;  // else the clamp follows the addition of C
    k_ = b->shape()[trans_b_ ? 1 : 0];
    n_ = nn;
    gemm_ = internal::make_gemm(w.view<float>(), bias, opt, n.options().precision == Precision::bf16);
  }

  void run(KernelContext& ctx) const override {
    const auto a = internal::as_matrix(ctx.in(0), "A (input 0)");
    const std::int64_t m = a.dim(trans_a_ ? 1 : 0);
    const std::int64_t k = a.dim(trans_a_ ? 0 : 1);
    std::optional<TensorView<const float>> c;
    if (ctx.has(2)) {
      check_dtype(ctx.in(2).dtype, kFloat32, "C (input 2)");
      c = ctx.in(2).view<float>();
    }
    if (gemm_.index() != 0) {
      check(k == k_, "A (input 0) ", a.shape(), " has K = ", k, ", the weights have K = ", k_);
      const TensorRef& y = ctx.output(0, DType::f32, Shape{m, n_});
      const auto yv = y.mut<float>();
      internal::run_gemm(gemm_, a, yv, ctx.exec());
      if (!c_in_bias_) {
        ref::gemm_add_c(yv, 1.0f, c, beta_);
        internal::apply_clamp(yv, act_);
      }
      return;
    }
    const auto b = internal::as_matrix(ctx.in(1), "B (input 1)");
    const std::int64_t kb = b.dim(trans_b_ ? 1 : 0);
    check(k == kb, "A (input 0) ", a.shape(), " and B (input 1) ", b.shape(), " differ in K (", k, " vs ", kb, ")");
    const TensorRef& y = ctx.output(0, DType::f32, Shape{m, b.dim(trans_b_ ? 0 : 1)});
    const auto yv = y.mut<float>();
    ref::gemm_alpha_beta(qnn::detail::transposed_if(a, trans_a_), qnn::detail::transposed_if(b, trans_b_), c, alpha_,
                         beta_, yv);
    internal::apply_clamp(yv, act_);
  }

  std::int64_t macs(const KernelContext& ctx) const override {
    const TensorRef* a = ctx.input(0);
    const TensorRef* b = ctx.input(1);
    if (!a || a->shape.rank() != 2) return 0;
    const std::int64_t nn = gemm_.index() != 0 ? n_ : (b && b->shape.rank() == 2 ? b->shape[trans_b_ ? 0 : 1] : 0);
    return a->shape[0] * a->shape[1] * nn;
  }

 private:
  // C broadcasts to [M, N] as one value per column: a scalar, [1], [N] or [1, N].
  static bool per_column(const Shape& c, std::int64_t n) {
    if (c.numel() == 1 && c.rank() <= 2) return true;
    if (c.rank() == 1) return c[0] == n;
    return c.rank() == 2 && c[0] == 1 && c[1] == n;
  }

  float alpha_ = 1.0f, beta_ = 1.0f;
  bool trans_a_ = false, trans_b_ = false;
  ActivationClamp act_;
  bool c_in_bias_ = false;
  std::int64_t k_ = 0, n_ = 0;
  internal::PreparedGemm gemm_;
};

// MatMul with NumPy semantics: 1-D operands are promoted ([K] → [1,K] for A, [K,1] for B) and the
// promoted axis removed from the result; leading axes broadcast.
class MatMulKernel final : public OpKernel {
 public:
  explicit MatMulKernel(const NodeInfo& n) : act_(passes::read_fused_activation(n.attrs())) {
    check_input_dtype(n, 0, kFloat32, "A (input 0)");
    check_input_dtype(n, 1, kFloat32, "B (input 1)");
    const Tensor* b = n.constant_input(1);
    if (!b || b->shape().rank() != 2) return;
    check_dtype(b->dtype(), kFloat32, "B (input 1)");
    GemmOptions opt;
    opt.activation = act_;
    opt.reference = n.options().reference_kernels;
    k_ = b->shape()[0];
    n_ = b->shape()[1];
    gemm_ = internal::make_gemm(b->view<float>(), {}, opt, n.options().precision == Precision::bf16);
  }

  void run(KernelContext& ctx) const override {
    const TensorRef& a = ctx.in(0);
    check_dtype(a.dtype, kFloat32, "A (input 0)");
    check(a.shape.rank() >= 1, "A (input 0) must have rank >= 1");
    if (gemm_.index() != 0) {
      // [..., M, K] x [K, N]: every leading axis folds into M.
      const std::int64_t k = a.shape.dim(-1);
      check(k == k_, "A (input 0) ", a.shape, " has K = ", k, ", B (input 1) is [", k_, ",", n_, "]");
      Shape out;
      std::int64_t rows = 1;
      for (int i = 0; i + 1 < a.shape.rank(); ++i) {
        out.push_back(a.shape[i]);
        rows *= a.shape[i];
      }
      out.push_back(n_);
      const TensorRef& y = ctx.output(0, DType::f32, out);
      internal::run_gemm(gemm_, TensorView<const float>(a.span<float>().data(), Shape{rows, k}),
                         TensorView<float>(y.mut<float>().data(), Shape{rows, n_}), ctx.exec());
      return;
    }
    const TensorRef& b = ctx.in(1);
    check_dtype(b.dtype, kFloat32, "B (input 1)");
    check(b.shape.rank() >= 1, "B (input 1) must have rank >= 1");
    const Shape ap = a.shape.rank() == 1 ? Shape{1, a.shape[0]} : a.shape;
    const Shape bp = b.shape.rank() == 1 ? Shape{b.shape[0], 1} : b.shape;
    const Shape full = ref::matmul_output_shape(ap, bp);
    Shape out;
    for (int i = 0; i < full.rank(); ++i)
      if (!(a.shape.rank() == 1 && i == full.rank() - 2) && !(b.shape.rank() == 1 && i == full.rank() - 1))
        out.push_back(full[i]);
    const TensorRef& y = ctx.output(0, DType::f32, out);
    ref::FloatArith<float> arith;
    if (act_.kind != FusedActivation::none) {
      arith.lo = act_.min;
      arith.hi = act_.max;
    }
    ref::matmul(TensorView<const float>(a.span<float>().data(), ap),
                TensorView<const float>(b.span<float>().data(), bp), TensorView<float>(y.mut<float>().data(), full),
                arith);
  }

  std::int64_t macs(const KernelContext& ctx) const override {
    const TensorRef* a = ctx.input(0);
    const TensorRef* b = ctx.input(1);
    if (!a || !b || a->shape.rank() == 0 || b->shape.rank() == 0) return 0;
    const std::int64_t nn = b->shape.rank() == 1 ? 1 : b->shape.dim(-1);
    return a->numel() * nn;  // (batch · M · K) · N for broadcast-free shapes
  }

 private:
  ActivationClamp act_;
  std::int64_t k_ = 0, n_ = 0;
  internal::PreparedGemm gemm_;
};

}  // namespace qnn::ops
// ---- end qnn/runtime/ops/float_linear.hpp ----------------------------------------------------------
// ---- begin qnn/runtime/ops/float_nn.hpp ------------------------------------------------------------
// Unquantized convolution, batch normalization and pooling: Conv, BatchNormalization, MaxPool,
// AveragePool, GlobalAveragePool, GlobalMaxPool.
//
// Conv with constant weights is prepared once as a FloatConv2D (fp32, or bf16 when the session asks
// for it: inputs rounded to bf16 at run time, fp32 accumulation and output); weights that are
// computed at run time (rare; ONNX conformance does it) make a FloatConv2D per run. 1-D windows run
// as 2-D with H = 1 (window_attrs.hpp). A fused ReLU/Clip from the fusion pass (attribute
// qnn_activation) clamps in the accumulator's epilogue; a fused MaxPool (qnn_pool, fuse_pool.hpp)
// pools each image's output while it is in cache, and the node's output is the pooled tensor.

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <variant>
#include <vector>

// ---- begin qnn/kernels/ref/batch_norm.hpp ----------------------------------------------------------
// Reference BatchNormalization, inference form (ONNX, training_mode = 0):
//
//   y = (x − mean[c]) / sqrt(var[c] + ε) · scale[c] + bias[c]      c = index along axis 1
// evaluated in fp32 in exactly that order, for any rank ≥ 2 (N, C, D1, …). Folding the statistics
// into one multiply-add per channel (what a fused Conv does) rounds differently; this is the
// definition the folded form is checked against.

#include <cmath>
#include <cstdint>
#include <span>

namespace qnn::ref {

struct BatchNormParams {
  std::span<const float> scale, bias, mean, var;
  float epsilon = 1e-5f;
};

inline void batch_norm(TensorView<const float> x, const BatchNormParams& p, TensorView<float> y) {
  check(x.rank() >= 2, "batch norm: input must have rank >= 2 (N, C, ...), got ", x.shape());
  check(y.shape() == x.shape(), "batch norm: output ", y.shape(), " should be ", x.shape());
  const std::int64_t c = x.dim(1);
  for (auto [s, what] : {std::pair{p.scale, "scale"}, {p.bias, "bias"}, {p.mean, "mean"}, {p.var, "var"}})
    check(static_cast<std::int64_t>(s.size()) == c, "batch norm: ", what, " has ", s.size(), " values for ", c,
          " channels");
  for_each_index(x.shape(), [&](const auto& idx) {
    const auto ch = static_cast<std::size_t>(idx[1]);
    at(y, idx) = (at(x, idx) - p.mean[ch]) / std::sqrt(p.var[ch] + p.epsilon) * p.scale[ch] + p.bias[ch];
  });
}

}  // namespace qnn::ref
// ---- end qnn/kernels/ref/batch_norm.hpp ------------------------------------------------------------

namespace qnn::ops {

namespace internal {
// Spatial axes from whatever the node states: a known input rank, else the length of a window
// attribute; 0 when nothing says (every window attribute then has its default, the same for 1-D
// and 2-D, and the input's rank decides at run time).
inline int spatial_axes(const NodeInfo& n, std::initializer_list<std::size_t> inputs) {
  for (std::size_t i : inputs) {
    if (const Tensor* t = n.constant_input(i)) return t->shape().rank() - 2;
    if (const auto d = n.input_dims(i)) return static_cast<int>(d->size()) - 2;
  }
  const Attributes& a = n.attrs();
  for (const char* name : {"kernel_shape", "strides", "dilations"})
    if (a.has(name)) return static_cast<int>(a.get_ints(name).size());
  if (a.has("pads")) return static_cast<int>(a.get_ints("pads").size()) / 2;
  return 0;
}

struct Window {
  WindowAttrs attrs;
  int spatial = 0;  // 0: any of 1 or 2, decided by the input

  Window(const NodeInfo& n, std::initializer_list<std::size_t> inputs, bool pooling)
      : spatial(spatial_axes(n, inputs)) {
    attrs = WindowAttrs::read(n.attrs(), spatial == 0 ? 2 : spatial, pooling);
  }
  // The input's spatial axes, checked against the attributes.
  int spatial_of(const Shape& x) const {
    const int s = x.rank() - 2;
    check(s == 1 || s == 2, "only 1-D and 2-D windows are supported; the input ", x, " has ", s, " spatial axes");
    check(spatial == 0 || s == spatial, "the node is ", spatial,
          "-D (by its weights or window attributes) but the input ", x, " is ", s, "-D");
    return s;
  }
};

inline bool same_window(const Window2D& a, const Window2D& b) {
  return a.kernel == b.kernel && a.strides == b.strides && a.dilations == b.dilations && a.pads == b.pads;
}

// Weights computed at run time, or a window that differs from the prepared one, run through a
// FloatConv2D made for this call.
template <class T>
void conv_once(TensorView<const float> w, std::span<const float> bias, const ConvOptions& opt,
               TensorView<const float> x, TensorView<float> y, const PoolGeometry* pool) {
  const FloatConv2D<T> conv(w, bias, opt);
  cpu::LocalExec local;
  if constexpr (std::same_as<T, bf16>)
    conv.run(bf16_scratch(x), y, local.exec(), pool);
  else
    conv.run(x, y, local.exec(), pool);
}
}  // namespace internal

class ConvKernel final : public OpKernel {
 public:
  explicit ConvKernel(const NodeInfo& n) : window_(n, {1, 0}, false) {
    for (std::size_t i : {0, 1, 2}) check_input_dtype(n, i, kFloat32, "Conv input");
    groups_ = n.attrs().get_int("group", 1);
    check(groups_ >= 1, "group ", groups_, " must be positive");
    opt_.groups = groups_;
    opt_.activation = passes::read_fused_activation(n.attrs());
    pool_ = FusedMaxPool::read(n.attrs());
    opt_.reference = n.options().reference_kernels;
    bf16_ = n.options().precision == Precision::bf16;
    const Tensor* w = n.constant_input(1);
    const Tensor* b = n.constant_input(2);
    if (!w || (n.has_input(2) && !b)) return;  // weights or bias computed at run time
    check_dtype(w->dtype(), kFloat32, "W (input 1)");
    const int sp = window_.spatial_of(w->shape());
    weights_ = *w;
    weights_->reshape(as_4d(w->shape(), sp));
    w4_ = weights_->shape();
    check_kernel_shape(w4_);
    if (b) {
      check_dtype(b->dtype(), kFloat32, "B (input 2)");
      check(b->shape().rank() == 1, "B (input 2) must be 1-D, got ", b->shape());
      bias_.assign(b->span<float>().begin(), b->span<float>().end());
    }
    // The window is fixed unless auto_pad = SAME_* makes the padding depend on the input size; then
    // the layer is prepared for the input size the graph states, if it states one, and the weights
    // are kept to make a layer for any other size.
    const bool same = window_.attrs.auto_pad == AutoPad::same_upper || window_.attrs.auto_pad == AutoPad::same_lower;
    std::array<std::int64_t, 2> hw{1, 1};
    bool sized = !same;
    if (const auto d = n.input_dims(0); same && d && static_cast<int>(d->size()) == sp + 2) {
      hw = {sp == 2 ? (*d)[2] : 1, d->back()};
      sized = hw[0] != kDynamicDim && hw[1] != kDynamicDim;
    }
    if (sized) {
      opt_.window = window_.attrs.resolve(hw[0], hw[1], {w4_[2], w4_[3]});
      const auto wv = weights_->view<float>();
      if (bf16_)
        prepared_.emplace<FloatConv2D<bf16>>(wv, bias_, opt_);
      else
        prepared_.emplace<FloatConv2D<float>>(wv, bias_, opt_);
    }
    if (!same) weights_.reset();
  }

  void run(KernelContext& ctx) const override {
    const TensorRef& x = ctx.in(0);
    check_dtype(x.dtype, kFloat32, "X (input 0)");
    const int sp = window_.spatial_of(x.shape);
    const Shape x4 = as_4d(x.shape, sp);
    const Shape w4 = weight_shape(ctx, sp);
    ConvOptions opt = opt_;
    opt.window = window_.attrs.resolve(x4[2], x4[3], {w4[2], w4[3]});
    const ConvGeometry g = make_conv_geometry(x4, w4, opt.window, groups_);
    std::optional<PoolGeometry> pg;
    if (pool_) pg = pool_->over(g.output_shape(), sp);
    const Shape y4 = pg ? pg->output_shape() : g.output_shape();
    const PoolGeometry* pool = pg ? &*pg : nullptr;
    const TensorRef& y = ctx.output(0, DType::f32, from_4d(y4, sp));
    const TensorView<const float> xv(x.span<float>().data(), x4);
    const TensorView<float> yv(y.mut<float>().data(), y4);

    if (prepared_.index() != 0 && internal::same_window(opt.window, opt_.window)) {
      if (const auto* c = std::get_if<FloatConv2D<float>>(&prepared_)) c->run(xv, yv, ctx.exec(), pool);
      if (const auto* c = std::get_if<FloatConv2D<bf16>>(&prepared_)) c->run(bf16_scratch(xv), yv, ctx.exec(), pool);
      return;
    }
    if (weights_) {  // constant weights, an input size the prepared layer was not made for
      if (bf16_)
        internal::conv_once<bf16>(weights_->view<float>(), bias_, opt, xv, yv, pool);
      else
        internal::conv_once<float>(weights_->view<float>(), bias_, opt, xv, yv, pool);
      return;
    }
    std::span<const float> bias;
    if (ctx.has(2)) {
      const TensorRef& b = ctx.in(2);
      check_dtype(b.dtype, kFloat32, "B (input 2)");
      check(b.shape.rank() == 1, "B (input 2) must be 1-D, got ", b.shape);
      bias = b.span<float>();
    }
    internal::conv_once<float>(TensorView<const float>(ctx.in(1).span<float>().data(), w4), bias, opt, xv, yv, pool);
  }

  std::int64_t macs(const KernelContext& ctx) const override {
    const TensorRef* x = ctx.input(0);
    if (!x || x->shape.rank() < 3 || x->shape.rank() > 4) return 0;
    const int sp = x->shape.rank() - 2;
    const Shape x4 = as_4d(x->shape, sp);
    const Shape w4 = weight_shape(ctx, sp);
    return make_conv_geometry(x4, w4, window_.attrs.resolve(x4[2], x4[3], {w4[2], w4[3]}), groups_).macs();
  }

 private:
  // The 4-D weight shape: prepared, or the run-time weights' (checked).
  Shape weight_shape(const KernelContext& ctx, int sp) const {
    if (w4_.rank()) return w4_;
    const TensorRef& w = ctx.in(1);
    check_dtype(w.dtype, kFloat32, "W (input 1)");
    check(w.shape.rank() == sp + 2, "W (input 1) ", w.shape, " and X (input 0) differ in rank");
    const Shape w4 = as_4d(w.shape, sp);
    check_kernel_shape(w4);
    return w4;
  }
  void check_kernel_shape(const Shape& w4) const {
    const auto& k = window_.attrs.kernel;
    check(k[0] == 0 || (k[0] == w4[2] && k[1] == w4[3]), "kernel_shape ", k[0], "x", k[1], " differs from the weights ",
          w4);
  }

  internal::Window window_;
  std::int64_t groups_ = 1;
  ConvOptions opt_;  // its window: the one the prepared layer was made for
  std::optional<FusedMaxPool> pool_;
  bool bf16_ = false;
  Shape w4_;                       // constant weights' 4-D shape; rank 0 when computed at run time
  std::optional<Tensor> weights_;  // constant weights, kept when auto_pad may change the window
  std::vector<float> bias_;
  std::variant<std::monostate, FloatConv2D<float>, FloatConv2D<bf16>> prepared_;
};

// BatchNormalization at inference (ref/batch_norm.hpp). training_mode (opset 14) and the
// running-statistics outputs it would produce are refused; so is spatial = 0 (opsets 7–8).
class BatchNormKernel final : public OpKernel {
 public:
  explicit BatchNormKernel(const NodeInfo& n) {
    const Attributes& a = n.attrs();
    epsilon_ = a.get_float("epsilon", 1e-5f);
    (void)a.get_float("momentum", 0.9f);  // only updates running statistics in training
    if (n.opset() >= 14)
      check(a.get_int("training_mode", 0) == 0, "training_mode = 1 is not supported: qnn runs inference only");
    if (n.opset() < 9) check(a.get_int("spatial", 1) == 1, "spatial = 0 (per-element statistics) is not supported");
    for (std::size_t i = 1; i < n.num_outputs(); ++i)
      check(!output_used(n, i), "output ", i, " (running statistics) exists in training mode only");
    for (std::size_t i = 0; i < 5; ++i) check_input_dtype(n, i, kFloat32, "BatchNormalization input");
  }
  void run(KernelContext& ctx) const override {
    const TensorRef& x = ctx.in(0);
    check_dtype(x.dtype, kFloat32, "X (input 0)");
    check(x.shape.rank() >= 2, "X (input 0) must have rank >= 2 (N, C, ...), got ", x.shape);
    const char* names[] = {"", "scale (input 1)", "B (input 2)", "mean (input 3)", "var (input 4)"};
    std::array<std::span<const float>, 5> p;
    for (std::size_t i = 1; i < 5; ++i) {
      const TensorRef& t = ctx.in(i);
      check_dtype(t.dtype, kFloat32, names[i]);
      check(t.shape.rank() == 1 && t.shape[0] == x.shape[1], names[i], " must have shape [", x.shape[1], "], got ",
            t.shape);
      p[i] = t.span<float>();
    }
    const TensorRef& y = ctx.output(0, DType::f32, x.shape);
    ref::batch_norm(x.view<float>(), {p[1], p[2], p[3], p[4], epsilon_}, y.mut<float>());
  }

 private:
  float epsilon_ = 1e-5f;
};

// MaxPool and AveragePool over 1-D or 2-D windows.
class PoolKernel final : public OpKernel {
 public:
  PoolKernel(const NodeInfo& n, bool max) : max_(max), window_(n, {0}, true) {
    const Attributes& a = n.attrs();
    if (max_) {
      check(!output_used(n, 1), "the Indices output of MaxPool is not supported");
      if (n.opset() >= 8) check(a.get_int("storage_order", 0) == 0, "storage_order = 1 is not supported");
      check_input_dtype(n, 0, types(), "X (input 0)");
    } else {
      if (n.opset() >= 7) count_include_pad_ = a.get_int("count_include_pad", 0) != 0;
      check_input_dtype(n, 0, types(), "X (input 0)");
    }
  }
  void run(KernelContext& ctx) const override {
    const TensorRef& x = ctx.in(0);
    check_dtype(x.dtype, types(), "X (input 0)");
    const int sp = window_.spatial_of(x.shape);
    const Shape x4 = as_4d(x.shape, sp);
    const PoolGeometry g =
        make_pool_geometry(x4, window_.attrs.resolve(x4[2], x4[3]), window_.attrs.ceil_mode, count_include_pad_);
    const TensorRef& y = ctx.output(0, x.dtype, from_4d(g.output_shape(), sp));
    visit_dtype(x.dtype, [&](auto t) {
      using T = decltype(t);
      if constexpr (std::same_as<T, float> || std::same_as<T, std::int8_t> || std::same_as<T, std::uint8_t> ||
                    std::same_as<T, std::int16_t>) {
        const TensorView<const T> xv(x.view<T>().data(), x4);
        const TensorView<T> yv(y.mut<T>().data(), g.output_shape());
        if (max_)
          cpu::max_pool(g, xv, yv, ctx.exec());
        else if constexpr (std::same_as<T, float>)
          ref::avg_pool_float(g, xv, yv);
      }
    });
  }

 private:
  // MaxPool commutes with any monotone quantization, so lowered QDQ models run it on the integers
  // (int16 for A16W8 activations).
  DTypeSet types() const { return max_ ? DTypeSet{DType::f32, DType::i8, DType::u8, DType::i16} : kFloat32; }
  bool max_;
  internal::Window window_;
  bool count_include_pad_ = false;
};

// GlobalAveragePool / GlobalMaxPool over every spatial axis of an N×C×D1×…×Dk input (k ≥ 1): the
// spatial axes are one row of a 2-D image, whose window is the whole row.
class GlobalPoolKernel final : public OpKernel {
 public:
  GlobalPoolKernel(const NodeInfo& n, bool max) : max_(max) { check_input_dtype(n, 0, kFloat32, "X (input 0)"); }
  void run(KernelContext& ctx) const override {
    const TensorRef& x = ctx.in(0);
    check_dtype(x.dtype, kFloat32, "X (input 0)");
    check(x.shape.rank() >= 3, "X (input 0) must be N x C x D1 x ..., got ", x.shape);
    std::int64_t spatial = 1;
    Shape out{x.shape[0], x.shape[1]};
    for (int i = 2; i < x.shape.rank(); ++i) {
      spatial *= x.shape[i];
      out.push_back(1);
    }
    const Shape x4{x.shape[0], x.shape[1], 1, spatial};
    const PoolGeometry g = make_global_pool_geometry(x4);
    const TensorRef& y = ctx.output(0, DType::f32, out);
    const TensorView<const float> xv(x.span<float>().data(), x4);
    const TensorView<float> yv(y.mut<float>().data(), g.output_shape());
    if (max_)
      cpu::max_pool(g, xv, yv, ctx.exec());
    else
      ref::avg_pool_float(g, xv, yv);
  }

 private:
  bool max_;
};

}  // namespace qnn::ops
// ---- end qnn/runtime/ops/float_nn.hpp --------------------------------------------------------------

namespace qnn::ops {

inline void register_float_ops(KernelRegistry& r) {
  r.add("", "Conv", 1, factory<ConvKernel>());
  r.add("", "BatchNormalization", 7, factory<BatchNormKernel>());  // opset 6 had is_test
  r.add("", "MaxPool", 1, [](const NodeInfo& n) { return std::make_unique<PoolKernel>(n, true); });
  r.add("", "AveragePool", 1, [](const NodeInfo& n) { return std::make_unique<PoolKernel>(n, false); });
  r.add("", "GlobalMaxPool", 1, [](const NodeInfo& n) { return std::make_unique<GlobalPoolKernel>(n, true); });
  r.add("", "GlobalAveragePool", 1, [](const NodeInfo& n) { return std::make_unique<GlobalPoolKernel>(n, false); });
  r.add("", "Gemm", 7, factory<GemmKernel>());  // opset 6 had the 'broadcast' attribute
  r.add("", "MatMul", 1, factory<MatMulKernel>());

  // Activations: opset 6 dropped 'consumed_inputs'.
  auto activation = [](auto make) {
    return [make](const NodeInfo& n) -> std::unique_ptr<OpKernel> {
      return std::make_unique<FloatActivationKernel>(n, make(n.attrs()));
    };
  };
  r.add("", "Relu", 6, factory<ReluKernel>());
  r.add("", "Clip", 6, factory<ClipKernel>());
  r.add("", "LeakyRelu", 6,
        activation([](const Attributes& a) { return ref::Activation::leaky_relu(a.get_float("alpha", 0.01f)); }));
  r.add("", "HardSigmoid", 6, activation([](const Attributes& a) {
          return ref::Activation::hard_sigmoid(a.get_float("alpha", 0.2f), a.get_float("beta", 0.5f));
        }));
  r.add("", "Sigmoid", 6, activation([](const Attributes&) { return ref::Activation::sigmoid(); }));
  r.add("", "Tanh", 6, activation([](const Attributes&) { return ref::Activation::tanh(); }));
  r.add("", "HardSwish", 14, activation([](const Attributes&) { return ref::Activation::hard_swish(); }));

  // Arithmetic: opset 7 replaced the 'broadcast' attribute by NumPy broadcasting.
  auto binary = [](ref::BinaryOp op) {
    return [op](const NodeInfo& n) -> std::unique_ptr<OpKernel> { return std::make_unique<BinaryKernel>(n, op); };
  };
  r.add("", "Add", 7, binary(ref::BinaryOp::add));
  r.add("", "Sub", 7, binary(ref::BinaryOp::sub));
  r.add("", "Mul", 7, binary(ref::BinaryOp::mul));
  r.add("", "Div", 7, binary(ref::BinaryOp::div));

  r.add("", "Softmax", 1, factory<SoftmaxKernel>());
}

}  // namespace qnn::ops
// ---- end qnn/runtime/ops/float_ops.hpp -------------------------------------------------------------
// ---- begin qnn/runtime/ops/quantized_ops.hpp -------------------------------------------------------
// The quantized operators: registration of every kernel in qdq_ops.hpp, qlinear_conv_gemm.hpp,
// qlinear_matmul.hpp and qlinear_eltwise.hpp.

// ---- begin qnn/runtime/ops/qdq_ops.hpp -------------------------------------------------------------
// QuantizeLinear and DequantizeLinear: ONNX (opsets 10–21) and com.microsoft (the 16-bit forms ONNX
// Runtime's quantizer writes before opset 21).
//
//   QuantizeLinear(x, y_scale, [y_zero_point])   y = clamp(rne(x / s), qmin − zp, qmax − zp) + zp
//   DequantizeLinear(x, x_scale, [x_zero_point]) y = float(x − zp) · s          (numerics.md §2)
//
// Per tensor (scale with one value) or per axis (`axis`, default 1; scale 1-D with one value per
// index of that axis). The zero point's type is the quantized type (uint8 when it is omitted, or
// QuantizeLinear-21's `output_dtype`); int8, uint8, int16, uint16, and int32 for DequantizeLinear.
// Refused with a reason: blocked quantization (`block_size`, opset 21), float8 and int4 types,
// `saturate` = 0 (meaningful only for float8).
//
// Scales and zero points may be run-time inputs here (the ONNX conformance cases feed them so, and
// quantizing costs the same either way); constant ones are turned into typed parameters once.
// `qnn_requant` = npu-pow2 makes QuantizeLinear the DPU's quantizer (numerics.md §2, §6): the scale
// must be a power of two, activations round half up, and a constant input — a weight or bias being
// folded — rounds half away from zero. Every other policy rounds half to even.
// DequantizeLinear accepts the attribute and is exact under every policy.

#include <cstdint>
#include <memory>
#include <optional>
#include <variant>

// ---- begin qnn/kernels/cpu/quantize.hpp ------------------------------------------------------------
// Fast CPU QuantizeLinear (float → int8/uint8/int16/uint16): the per-target rows of
// kernels/simd/quantize-inl.hpp, equal to ref::quantize_linear bit for bit, per tensor or per
// channel (one row per run of elements sharing a channel). Round half to even only — the rounding
// of every policy but npu_pow2 —; other rounding modes, non-contiguous views and builds without a
// SIMD target run the reference.

#include <concepts>
#include <cstdint>

namespace qnn::cpu {

template <class T>
auto quantize_kernel(const simd::KernelTable& t) -> void (*)(const simd::QuantizeArgs&) {
  if constexpr (std::same_as<T, std::uint8_t>) return t.quantize_u8;
  else if constexpr (std::same_as<T, std::int8_t>) return t.quantize_i8;
  else if constexpr (std::same_as<T, std::uint16_t>) return t.quantize_u16;
  else if constexpr (std::same_as<T, std::int16_t>) return t.quantize_i16;
  else return nullptr;
}

template <QuantParams Q>
void quantize_linear(TensorView<const float> x, TensorView<typename Q::storage_type> y, const Q& q,
                     Rounding mode = Rounding::half_even) {
  using T = typename Q::storage_type;
  const simd::KernelTable* t = simd::kernel_table();
  const auto kernel = t ? quantize_kernel<T>(*t) : nullptr;
  if (!kernel || mode != Rounding::half_even || !x.contiguous() || !y.contiguous() || x.shape() != y.shape()) {
    ref::quantize_linear(x, y, q, mode);  // also reports what is wrong with the shapes
    return;
  }
  // Runs of `inner` elements share a channel: all of them per tensor, one slice per channel.
  std::int64_t inner = x.numel(), channels = 1;
  if constexpr (Q::per_channel) {
    ref::detail::check_channels(q, x.shape());
    const int axis = x.shape().normalize_axis(q.axis);
    channels = x.shape()[axis];
    inner = 1;
    for (int i = axis + 1; i < x.shape().rank(); ++i) inner *= x.shape()[i];
  }
  if (inner == 0) return;
  simd::QuantizeArgs a;
  a.n = inner;
  for (std::int64_t run = 0; run * inner < x.numel(); ++run) {
    const std::int64_t c = run % channels;
    a.x = x.data() + run * inner;
    a.y = y.data() + run * inner;
    a.scale = q.scale_at(c);
    a.zp = q.zero_point_at(c);
    kernel(a);
  }
}

}  // namespace qnn::cpu
// ---- end qnn/kernels/cpu/quantize.hpp --------------------------------------------------------------

namespace qnn::ops {

namespace qdq_detail {

// Attributes shared by both ops.
struct QdqAttrs {
  std::int64_t axis = 1;
  static QdqAttrs read(const Attributes& a) {
    QdqAttrs r;
    r.axis = a.get_int("axis", 1);
    const std::int64_t block = a.get_int("block_size", 0);
    check(block == 0, "block_size ", block, ": blocked quantization is not supported");
    return r;
  }
};

// Typed parameters for T, per tensor or along an axis of `shape`.
template <QuantStorage T>
using TypedQuant = std::variant<PerTensor<T>, PerChannel<T>>;

template <QuantStorage T>
TypedQuant<T> typed(const quant::ScaleZp& q, std::int64_t axis, const Shape& shape, const char* what) {
  return with_context(what, [&]() -> TypedQuant<T> {
    if (q.size() == 1) return PerTensor<T>(q.scale(), q.zero_point());
    const int ax = shape.normalize_axis(static_cast<int>(axis));
    check(shape[ax] == static_cast<std::int64_t>(q.size()), "per-axis quantization along axis ", axis, " has ",
          q.size(), " scales, the input ", shape, " has ", shape[ax], " there");
    return PerChannel<T>(ax, q.scales, q.zero_points);
  });
}

inline const TensorRef* optional_input(const KernelContext& ctx, std::size_t i) {
  return ctx.has(i) ? ctx.input(i) : nullptr;
}

// The parameters of this run: the prepared ones, or read from the run-time inputs.
inline quant::ScaleZp run_params(const KernelContext& ctx, const std::optional<quant::ScaleZp>& prepared,
                                 DType dtype, const char* what) {
  if (prepared) return *prepared;
  quant::ScaleZp q = quant::scale_zp_from(ctx.in(1), optional_input(ctx, 2), dtype, what);
  check(q.dtype == dtype, what, ": zero point is ", q.dtype, ", the node was prepared for ", dtype);
  return q;
}

// Reads scale and zero point now when both are constant.
inline std::optional<quant::ScaleZp> prepared_params(const NodeInfo& info, DType dtype, const char* what) {
  const Tensor* s = info.constant_input(1);
  const Tensor* z = info.constant_input(2);
  if (!s || (info.has_input(2) && !z)) return std::nullopt;
  const TensorRef sr = TensorRef::of(*s);
  const TensorRef zr = z ? TensorRef::of(*z) : TensorRef{};
  quant::ScaleZp q = quant::scale_zp_from(sr, z ? &zr : nullptr, dtype, what);
  check(q.dtype == dtype, what, ": zero point is ", q.dtype, ", expected ", dtype);
  return q;
}

inline void check_pow2(const quant::ScaleZp& q) {
  for (float s : q.scales) check(is_pow2_scale(s), "npu-pow2 quantization: scale ", s, " is not a power of two");
}

template <QuantStorage T>
class QuantizeLinearKernel final : public OpKernel {
 public:
  QuantizeLinearKernel(QdqAttrs attrs, std::optional<quant::ScaleZp> params, RequantPolicy policy, bool weight)
      : attrs_(attrs), params_(std::move(params)), policy_(policy), weight_(weight) {
    if (params_ && policy_ == RequantPolicy::npu_pow2) check_pow2(*params_);
  }

  void run(KernelContext& ctx) const override {
    const TensorRef& x = ctx.in(0);
    check(x.dtype == DType::f32, "QuantizeLinear input must be float32, got ", x.dtype);
    const quant::ScaleZp q = run_params(ctx, params_, dtype_of_v<T>, "y_scale/y_zero_point");
    const bool npu = policy_ == RequantPolicy::npu_pow2;
    if (npu && !params_) check_pow2(q);
    const TypedQuant<T> tq = typed<T>(q, attrs_.axis, x.shape, "y_scale/y_zero_point");
    TensorRef& y = ctx.output(0, dtype_of_v<T>, x.shape);
    const Rounding mode = !npu ? Rounding::half_even : (weight_ ? Rounding::half_away : Rounding::half_up);
    std::visit([&](const auto& p) { cpu::quantize_linear(x.view<float>(), y.mut<T>(), p, mode); }, tq);
  }

 private:
  QdqAttrs attrs_;
  std::optional<quant::ScaleZp> params_;
  RequantPolicy policy_;
  bool weight_;  // the input is a constant (a weight or bias)
};

template <QuantStorage T>
class DequantizeLinearKernel final : public OpKernel {
 public:
  DequantizeLinearKernel(QdqAttrs attrs, std::optional<quant::ScaleZp> params)
      : attrs_(attrs), params_(std::move(params)) {}

  void run(KernelContext& ctx) const override {
    const TensorRef& x = ctx.in(0);
    quant::check_dtype(x, dtype_of_v<T>, "DequantizeLinear input");
    const quant::ScaleZp q = run_params(ctx, params_, dtype_of_v<T>, "x_scale/x_zero_point");
    const TypedQuant<T> tq = typed<T>(q, attrs_.axis, x.shape, "x_scale/x_zero_point");
    TensorRef& y = ctx.output(0, DType::f32, x.shape);
    std::visit([&](const auto& p) { ref::dequantize_linear(x.view<T>(), y.mut<float>(), p); }, tq);
  }

 private:
  QdqAttrs attrs_;
  std::optional<quant::ScaleZp> params_;
};

// int32 input (a quantized bias): y = float(x − zp) · s, the difference in int64 (exact; ORT's int32
// difference would wrap where this does not), converted with round to nearest even above 2^24.
class DequantizeInt32Kernel final : public OpKernel {
 public:
  DequantizeInt32Kernel(QdqAttrs attrs, std::optional<quant::ScaleZp> params)
      : attrs_(attrs), params_(std::move(params)) {}

  void run(KernelContext& ctx) const override {
    const TensorRef& x = ctx.in(0);
    quant::check_dtype(x, DType::i32, "DequantizeLinear input");
    quant::ScaleZp q;
    if (params_) {
      q = *params_;
    } else {
      const TensorRef& s = ctx.in(1);
      check(s.dtype == DType::f32 && s.shape.rank() <= 1, "x_scale must be a float32 scalar or 1-D tensor");
      const auto sv = s.span<float>();
      q.scales.assign(sv.begin(), sv.end());
      if (const TensorRef* z = optional_input(ctx, 2)) {
        check(z->dtype == DType::i32 && z->numel() == s.numel(), "x_zero_point must be int32 like x");
        q.zero_points = quant::int_values(*z);
      } else {
        q.zero_points.assign(q.scales.size(), 0);
      }
    }
    TensorRef& y = ctx.output(0, DType::f32, x.shape);
    const auto in = x.span<std::int32_t>();
    const auto out = y.mut<float>().span();
    ChannelIndex ci;
    if (q.scales.size() > 1) {
      const int ax = x.shape.normalize_axis(static_cast<int>(attrs_.axis));
      check(x.shape[ax] == static_cast<std::int64_t>(q.scales.size()), "per-axis quantization along axis ",
            attrs_.axis, " has ", q.scales.size(), " scales, the input ", x.shape, " has ", x.shape[ax]);
      ci.channels = x.shape[ax];
      for (int a = ax + 1; a < x.shape.rank(); ++a) ci.inner *= x.shape[a];
    }
    for (std::size_t i = 0; i < in.size(); ++i) {
      const auto c = static_cast<std::size_t>(q.scales.size() > 1 ? ci(static_cast<std::int64_t>(i)) : 0);
      out[i] = static_cast<float>(std::int64_t{in[i]} - q.zero_points[c]) * q.scales[c];
    }
  }

 private:
  QdqAttrs attrs_;
  std::optional<quant::ScaleZp> params_;
};

inline std::unique_ptr<OpKernel> make_quantize_linear(const NodeInfo& info) {
  const QdqAttrs attrs = QdqAttrs::read(info.attrs());
  // `saturate` only concerns float8 outputs; 1 (the default) is the integer behaviour.
  check(info.attrs().get_int("saturate", 1) == 1, "saturate = 0 applies to float8 outputs, which qnn does not support");
  if (const auto in = info.input_dtype(0))
    check(*in == DType::f32, "QuantizeLinear input must be float32, got ", *in);
  // The output type: the zero point's, else output_dtype (opset 21), else uint8.
  std::optional<DType> out;
  const std::int64_t odt = info.attrs().get_int("output_dtype", 0);
  if (odt != 0) {
    const auto d = onnx::to_dtype(static_cast<onnx::DataType>(odt));
    check(d.has_value() && is_quantized_storage(*d), "output_dtype ", odt,
          " is not one of uint8, int8, uint16, int16");
    out = *d;
  }
  if (info.has_input(2)) {
    const auto z = info.input_dtype(2);
    check(z.has_value(), "the type of y_zero_point is not known when the session is prepared");
    if (out) check(*out == *z, "output_dtype ", *out, " differs from y_zero_point's type ", *z);
    out = *z;
  }
  const DType dtype = out.value_or(DType::u8);
  auto params = prepared_params(info, dtype, "y_scale/y_zero_point");
  const RequantPolicy policy = quant::read_policy(info);
  return quant::visit_quant_dtype(dtype, "QuantizeLinear output", [&](auto t) -> std::unique_ptr<OpKernel> {
    return std::make_unique<QuantizeLinearKernel<decltype(t)>>(attrs, std::move(params), policy,
                                                               info.constant_input(0) != nullptr);
  });
}

inline std::unique_ptr<OpKernel> make_dequantize_linear(const NodeInfo& info) {
  const QdqAttrs attrs = QdqAttrs::read(info.attrs());
  (void)quant::read_policy(info);  // validated; dequantization is exact under every policy
  std::optional<DType> dtype = info.input_dtype(0);
  if (info.has_input(2)) {
    const auto z = info.input_dtype(2);
    if (dtype && z) check(*dtype == *z, "x is ", *dtype, " but x_zero_point is ", *z);
    if (!dtype) dtype = z;
  }
  check(dtype.has_value(), "the type of x is not known when the session is prepared (give x_zero_point or a ",
        "value_info)");
  if (*dtype == DType::i32) {
    std::optional<quant::ScaleZp> params;
    const Tensor* s = info.constant_input(1);
    const Tensor* z = info.constant_input(2);
    if (s && (!info.has_input(2) || z)) {
      check(s->dtype() == DType::f32 && s->shape().rank() <= 1, "x_scale must be a float32 scalar or 1-D tensor");
      quant::ScaleZp q;
      q.dtype = DType::i32;
      const auto sv = s->span<float>();
      q.scales.assign(sv.begin(), sv.end());
      if (z) {
        check(z->dtype() == DType::i32 && z->numel() == s->numel(), "x_zero_point must be int32 like x");
        q.zero_points = quant::int_values(TensorRef::of(*z));
      } else {
        q.zero_points.assign(q.scales.size(), 0);
      }
      params = std::move(q);
    }
    return std::make_unique<DequantizeInt32Kernel>(attrs, std::move(params));
  }
  auto params = prepared_params(info, *dtype, "x_scale/x_zero_point");
  return quant::visit_quant_dtype(*dtype, "DequantizeLinear input", [&](auto t) -> std::unique_ptr<OpKernel> {
    return std::make_unique<DequantizeLinearKernel<decltype(t)>>(attrs, std::move(params));
  });
}

}  // namespace qdq_detail

inline void register_qdq_ops(KernelRegistry& r) {
  r.add("", "QuantizeLinear", 10, qdq_detail::make_quantize_linear);
  r.add("", "DequantizeLinear", 10, qdq_detail::make_dequantize_linear);
  r.add("com.microsoft", "QuantizeLinear", 1, qdq_detail::make_quantize_linear);
  r.add("com.microsoft", "DequantizeLinear", 1, qdq_detail::make_dequantize_linear);
}

}  // namespace qnn::ops
// ---- end qnn/runtime/ops/qdq_ops.hpp ---------------------------------------------------------------
// ---- begin qnn/runtime/ops/qlinear_conv_gemm.hpp ---------------------------------------------------
// Quantized convolutions and GEMMs: ONNX QLinearConv and ConvInteger, com.microsoft QGemm.
//
//   QLinearConv(x, x_scale, x_zp, w, w_scale, w_zp, y_scale, y_zp, [B])
//       x uint8/int8 (or int16/uint16: A16W8), w int8/uint8 per tensor or per output channel, B
//       int32 with scale x_scale·w_scale; y has x's type. 1-D and 2-D, groups, pads, auto_pad,
//       strides, dilations. Runs QuantizedConv2D, made once here.
//   ConvInteger(x, w, [x_zp], [w_zp])
//       y = Σ (x − x_zp)(w − w_zp[m]) as int32 (ref::IntegerArith); zero points and weights may be
//       run-time tensors (dynamic quantization feeds x_zp at run time).
//   QGemm(A, a_scale, a_zp, B, b_scale, b_zp, [C], [y_scale], [y_zp])   (com.microsoft)
//       Y = requant(alpha · A'·B' + C), A' = Aᵀ with transA, B' likewise; b per tensor or per
//       column; C int32 of shape (), (1), (N) or (1, N). Without y_scale/y_zp the output is float:
//       fl(float(acc) · fl(fl(alpha · a_scale) · b_scale[n])) — ONNX Runtime's float QGemm.
//       The quantized output uses the ratio fl(fl(alpha · a_scale) · b_scale[n]) / y_scale, the
//       order ORT evaluates it in (quant_gemm.cc).
//
// Weights, biases and every scale and zero point of QLinearConv and QGemm are constant
// initializers: the requantization factors, packed weights and accumulator bounds are made once.
// Each node reads the policy (`qnn_requant`), fused ReLU/Clip (`qnn_activation`) and known input
// range (`qnn_input_range`) the graph passes attach.

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <variant>
#include <vector>

namespace qnn::ops {

namespace conv_detail {

template <class T>
TensorView<const T> view_as(const TensorRef& r, const Shape& s) {
  check(r.numel() == s.numel(), "tensor of shape ", r.shape, " viewed as ", s);
  return TensorView<const T>(reinterpret_cast<const T*>(r.data), s);
}
template <class T>
TensorView<T> mut_as(const TensorRef& r, const Shape& s) {
  check(r.numel() == s.numel(), "tensor of shape ", r.shape, " viewed as ", s);
  return TensorView<T>(reinterpret_cast<T*>(r.data), s);
}

// A conv node's window: attributes read once, resolved against the weight's kernel and, for
// auto_pad SAME with a stride above 1 (whose pads depend on the input size), the declared input
// size. Runs check that their input resolves to the same pads.
struct ConvWindow {
  WindowAttrs attrs;
  int spatial = 2;
  std::int64_t groups = 1;
  Window2D prepared;

  static ConvWindow read(const NodeInfo& info, std::size_t x_index, const Shape& w4, int spatial) {
    ConvWindow cw;
    cw.spatial = spatial;
    cw.attrs = WindowAttrs::read(info.attrs(), spatial, false);
    cw.groups = info.attrs().get_int("group", 1);
    const std::array<std::int64_t, 2> k{w4[2], w4[3]};
    if (cw.attrs.kernel[0] != 0)
      check(cw.attrs.kernel == k, "kernel_shape does not match the weight's spatial size ", w4);
    std::int64_t h = 1, w = 1;
    const bool same = cw.attrs.auto_pad == AutoPad::same_upper || cw.attrs.auto_pad == AutoPad::same_lower;
    if (same && (cw.attrs.strides[0] > 1 || cw.attrs.strides[1] > 1)) {
      const auto dims = info.input_dims(x_index);
      check(dims && static_cast<int>(dims->size()) == spatial + 2 && dims->back() > 0 &&
                (spatial == 1 || (*dims)[2] > 0),
            "auto_pad SAME with a stride above 1 needs the input's spatial size when the session is prepared");
      h = spatial == 2 ? (*dims)[2] : 1;
      w = dims->back();
    }
    cw.prepared = cw.attrs.resolve(h, w, k);
    return cw;
  }

  void check_input(const Shape& x4) const {
    const Window2D now = attrs.resolve(x4[2], x4[3], prepared.kernel);
    check(now.pads == prepared.pads, "input ", x4, " needs other auto_pad padding than the size the node was ",
          "prepared for");
  }
};

// The 4-D (M, C/groups, KH, KW) shape of a 3-D or 4-D weight, and the number of spatial axes.
inline std::pair<Shape, int> weight_4d(const Shape& w) {
  check(w.rank() == 3 || w.rank() == 4, "the weight must be 3-D (1-D conv) or 4-D (2-D conv), got ", w,
        "; 3-D convolutions are not supported");
  return {w.rank() == 4 ? w : Shape{w[0], w[1], 1, w[2]}, w.rank() - 2};
}

template <QuantStorage TIn, Int8Storage TW>
class QLinearConvKernel final : public OpKernel {
 public:
  QLinearConvKernel(ConvWindow window, const PerTensor<TIn>& xq, QView<const TW, PerChannel<TW>> w,
                    std::span<const std::int32_t> bias, const PerTensor<TIn>& yq, RequantPolicy policy,
                    const ActivationClamp& act, bool reference, std::optional<FusedMaxPool> pool,
                    std::optional<IntRange> x_range)
      : window_(std::move(window)),
        conv_(xq, w, bias, yq, ConvOptions{window_.prepared, window_.groups, policy, act, reference, x_range}),
        pool_(std::move(pool)) {}

  void run(KernelContext& ctx) const override {
    const TensorRef& x = ctx.in(0);
    quant::check_dtype(x, dtype_of_v<TIn>, "input x");
    const Shape x4 = as_4d(x.shape, window_.spatial);
    window_.check_input(x4);
    const ConvGeometry g = conv_.geometry(x4);
    std::optional<PoolGeometry> pg;
    if (pool_) pg = pool_->over(g.output_shape(), window_.spatial);
    const Shape y4 = pg ? pg->output_shape() : g.output_shape();
    TensorRef& y = ctx.output(0, dtype_of_v<TIn>, from_4d(y4, window_.spatial));
    conv_.run(view_as<TIn>(x, x4), mut_as<TIn>(y, y4), ctx.exec(), pg ? &*pg : nullptr);
  }
  std::int64_t macs(const KernelContext& ctx) const override {
    return conv_.geometry(as_4d(ctx.in(0).shape, window_.spatial)).macs();
  }

 private:
  ConvWindow window_;
  QuantizedConv2D<TIn, TW, TIn> conv_;
  std::optional<FusedMaxPool> pool_;  // a MaxPool fused after the conv (graph/passes/fuse_pool.hpp)
};

inline std::unique_ptr<OpKernel> make_qlinear_conv(const NodeInfo& info) {
  const Tensor& w = info.require_constant(3, "w");
  const auto w4s = weight_4d(w.shape());
  const Shape w4 = w4s.first;
  const int spatial = w4s.second;
  const ConvWindow window = ConvWindow::read(info, 0, w4, spatial);
  const quant::ScaleZp xq = quant::constant_per_tensor(info, 1, 2, 0, "x_scale/x_zero_point");
  const quant::ScaleZp yq = quant::constant_per_tensor(info, 6, 7, 0, "y_scale/y_zero_point");
  const quant::ScaleZp wq =
      quant::expand_channels(quant::constant_scale_zp(info, 4, 5, 3, "w_scale/w_zero_point"), w4[0], "w_scale/w_zero_point");
  check(wq.dtype == w.dtype(), "w is ", w.dtype(), " but w_zero_point is ", wq.dtype);
  check(yq.dtype == xq.dtype, "y (", yq.dtype, ") must have the type of x (", xq.dtype, ")");
  if (const auto d = info.input_dtype(0)) check(*d == xq.dtype, "x is ", *d, " but x_zero_point is ", xq.dtype);
  std::vector<std::int32_t> bias;
  if (info.has_input(8)) {
    const Tensor& b = info.require_constant(8, "B");
    check(b.dtype() == DType::i32 && b.shape().rank() == 1 && b.numel() == w4[0], "B must be int32 of shape [",
          w4[0], "], got ", b.dtype(), " ", b.shape());
    const auto s = b.span<std::int32_t>();
    bias.assign(s.begin(), s.end());
  }
  const RequantPolicy policy = quant::read_policy(info);
  const ActivationClamp act = passes::read_fused_activation(info.attrs());
  const std::optional<FusedMaxPool> pool = FusedMaxPool::read(info.attrs());
  const std::optional<IntRange> x_range = passes::read_input_range(info.attrs());
  return quant::visit_quant_dtype(xq.dtype, "x", [&](auto tin) -> std::unique_ptr<OpKernel> {
    using TIn = decltype(tin);
    return quant::visit_int8_dtype(w.dtype(), "w", [&](auto tw) -> std::unique_ptr<OpKernel> {
      using TW = decltype(tw);
      const QView<const TW, PerChannel<TW>> wv{TensorView<const TW>(w.view<TW>().data(), w4),
                                               with_context("w_scale/w_zero_point", [&] {
                                                 return PerChannel<TW>(0, wq.scales, wq.zero_points);
                                               })};
      return std::make_unique<QLinearConvKernel<TIn, TW>>(window, quant::per_tensor<TIn>(xq, "x_scale/x_zero_point"),
                                                          wv, bias, quant::per_tensor<TIn>(yq, "y_scale/y_zero_point"),
                                                          policy, act, info.options().reference_kernels, pool,
                                                          x_range);
    });
  });
}

// ---- ConvInteger -------------------------------------------------------------------------------

// Zero points of ConvInteger / MatMulInteger: x's one value (default 0), w's one value or one per
// output channel.
inline std::int32_t scalar_zp(const TensorRef* t, DType data, const char* what) {
  if (!t) return 0;
  check(t->dtype == data, what, " is ", t->dtype, " but its tensor is ", data);
  check(t->numel() == 1, what, " must hold one value, got shape ", t->shape);
  return quant::int_values(*t)[0];
}
inline std::vector<std::int32_t> channel_zps(const TensorRef* t, DType data, std::int64_t channels, const char* what) {
  if (!t) return {0};
  check(t->dtype == data, what, " is ", t->dtype, " but its tensor is ", data);
  check(t->shape.rank() <= 1 && (t->numel() == 1 || t->numel() == channels), what, " must hold 1 or ", channels,
        " values, got shape ", t->shape);
  return quant::int_values(*t);
}

template <Int8Storage TX, Int8Storage TW>
class ConvIntegerKernel final : public OpKernel {
 public:
  ConvIntegerKernel(ConvWindow window, std::optional<ref::IntegerArith<TX>> arith)
      : window_(std::move(window)), arith_(std::move(arith)) {}

  void run(KernelContext& ctx) const override {
    const TensorRef& x = ctx.in(0);
    const TensorRef& w = ctx.in(1);
    quant::check_dtype(x, dtype_of_v<TX>, "input x");
    quant::check_dtype(w, dtype_of_v<TW>, "input w");
    const auto w4s = weight_4d(w.shape);
    const Shape w4 = w4s.first;
    check(w4s.second == window_.spatial, "w of shape ", w.shape, " differs from the prepared rank");
    const Shape x4 = as_4d(x.shape, window_.spatial);
    window_.check_input(x4);
    const ConvGeometry g = make_conv_geometry(x4, w4, window_.prepared, window_.groups);
    TensorRef& y = ctx.output(0, DType::i32, from_4d(g.output_shape(), window_.spatial));
    const auto xv = view_as<TX>(x, x4);
    const auto wv = view_as<TW>(w, w4);
    const auto yv = mut_as<std::int32_t>(y, g.output_shape());
    if (arith_) return ref::conv2d(g, xv, wv, yv, *arith_);
    ref::conv2d(g, xv, wv, yv, make_arith(ctx, w4[0], wv));
  }

  // Zero points and bound for weights and zero points given now.
  static ref::IntegerArith<TX> make_arith(const KernelContext& ctx, std::int64_t m, TensorView<const TW> wv) {
    const std::int32_t xz = scalar_zp(ctx.has(2) ? ctx.input(2) : nullptr, dtype_of_v<TX>, "x_zero_point");
    const auto wz = channel_zps(ctx.has(3) ? ctx.input(3) : nullptr, dtype_of_v<TW>, m, "w_zero_point");
    return ref::IntegerArith<TX>(ref::accumulator_bound<TX, TW>(wv, 0, xz, wz), xz, wz);
  }

 private:
  ConvWindow window_;
  std::optional<ref::IntegerArith<TX>> arith_;  // when weights and zero points are constant
};

inline std::unique_ptr<OpKernel> make_conv_integer(const NodeInfo& info) {
  const auto wdims = info.input_dims(1);
  check(wdims.has_value(), "the shape of w is not known when the session is prepared");
  Shape wshape;
  for (std::int64_t d : *wdims) {
    check(d >= 0, "the shape of w is not known when the session is prepared");
    wshape.push_back(d);
  }
  const auto w4s = weight_4d(wshape);
  const Shape w4 = w4s.first;
  const int spatial = w4s.second;
  const ConvWindow window = ConvWindow::read(info, 0, w4, spatial);
  const auto xt = info.has_input(2) && info.input_dtype(2) ? info.input_dtype(2) : info.input_dtype(0);
  const auto wt = info.has_input(3) && info.input_dtype(3) ? info.input_dtype(3) : info.input_dtype(1);
  check(xt && wt, "the types of x and w are not known when the session is prepared");
  const bool constant = info.constant_input(1) && (!info.has_input(2) || info.constant_input(2)) &&
                        (!info.has_input(3) || info.constant_input(3));
  return quant::visit_int8_dtype(*xt, "x", [&](auto tx) -> std::unique_ptr<OpKernel> {
    using TX = decltype(tx);
    return quant::visit_int8_dtype(*wt, "w", [&](auto tw) -> std::unique_ptr<OpKernel> {
      using TW = decltype(tw);
      std::optional<ref::IntegerArith<TX>> arith;
      if (constant) {
        const Tensor& w = *info.constant_input(1);
        check(w.dtype() == dtype_of_v<TW>, "w is ", w.dtype(), " but w_zero_point is ", dtype_of_v<TW>);
        const TensorRef xz = info.has_input(2) ? TensorRef::of(*info.constant_input(2)) : TensorRef{};
        const TensorRef wz = info.has_input(3) ? TensorRef::of(*info.constant_input(3)) : TensorRef{};
        const std::int32_t x0 = scalar_zp(info.has_input(2) ? &xz : nullptr, dtype_of_v<TX>, "x_zero_point");
        const auto w0 = channel_zps(info.has_input(3) ? &wz : nullptr, dtype_of_v<TW>, w4[0], "w_zero_point");
        const TensorView<const TW> wv(w.view<TW>().data(), w4);
        arith.emplace(ref::accumulator_bound<TX, TW>(wv, 0, x0, w0), x0, w0);
      }
      return std::make_unique<ConvIntegerKernel<TX, TW>>(window, std::move(arith));
    });
  });
}

}  // namespace conv_detail

// ---- QGemm ---------------------------------------------------------------------------------------

namespace gemm_detail {

struct QGemmParts {
  bool trans_a = false, trans_b = false;
  float alpha = 1.0f;
  std::int64_t n = 0;
  std::vector<std::int32_t> bias;  // empty or N values
};

template <QuantStorage TA, Int8Storage TB>
class QGemmKernel final : public OpKernel {
 public:
  // Quantized output.
  QGemmKernel(const QGemmParts& parts, QuantizedGemm<TA, TB, TA> gemm) : parts_(parts), body_(std::move(gemm)) {}
  // Float output.
  QGemmKernel(const QGemmParts& parts, Tensor weights, ref::DequantizeArith<TA> arith)
      : parts_(parts), body_(FloatOut{std::move(weights), std::move(arith)}) {}

  void run(KernelContext& ctx) const override {
    const TensorRef& a = ctx.in(0);
    quant::check_dtype(a, dtype_of_v<TA>, "input A");
    check(a.shape.rank() == 2, "A must be 2-D, got ", a.shape);
    const std::int64_t m = a.shape[parts_.trans_a ? 1 : 0];
    const Shape out{m, parts_.n};
    const auto av = a.view<TA>();
    if (const auto* q = std::get_if<QuantizedGemm<TA, TB, TA>>(&body_)) {
      TensorRef& y = ctx.output(0, dtype_of_v<TA>, out);
      q->run(av, y.mut<TA>(), ctx.exec());
    } else {
      const auto& f = std::get<FloatOut>(body_);
      TensorRef& y = ctx.output(0, DType::f32, out);
      ref::gemm(qnn::detail::transposed_if(av, parts_.trans_a),
                qnn::detail::transposed_if(f.weights.template view<TB>(), parts_.trans_b), y.mut<float>(), f.arith);
    }
  }
  std::int64_t macs(const KernelContext& ctx) const override {
    const Shape& s = ctx.in(0).shape;
    return s.rank() == 2 ? s[0] * s[1] * parts_.n : 0;
  }

 private:
  struct FloatOut {
    Tensor weights;
    ref::DequantizeArith<TA> arith;
  };
  QGemmParts parts_;
  std::variant<QuantizedGemm<TA, TB, TA>, FloatOut> body_;
};

// QGemm's bias C (input 6) as N int32 values at the accumulator scale; empty without one.
inline std::vector<std::int32_t> qgemm_bias(const NodeInfo& info, std::int64_t n) {
  if (!info.has_input(6)) return {};
  const Tensor& c = info.require_constant(6, "C");
  check(c.dtype() == DType::i32, "C must be int32, got ", c.dtype());
  const Shape& cs = c.shape();
  const bool scalar = c.numel() == 1 && cs.rank() <= 2;
  const bool row = (cs.rank() == 1 && cs[0] == n) || (cs.rank() == 2 && cs[0] == 1 && cs[1] == n);
  check(scalar || row, "C of shape ", cs, " is not supported: qnn takes (), (1), (N) or (1, N) biases, N = ", n);
  const auto s = c.span<std::int32_t>();
  return scalar ? std::vector<std::int32_t>(static_cast<std::size_t>(n), s[0])
                : std::vector<std::int32_t>(s.begin(), s.end());
}

inline std::unique_ptr<OpKernel> make_qgemm(const NodeInfo& info) {
  const Attributes& at = info.attrs();
  QGemmParts parts;
  parts.trans_a = at.get_int("transA", 0) != 0;
  parts.trans_b = at.get_int("transB", 0) != 0;
  parts.alpha = at.get_float("alpha", 1.0f);
  check(parts.alpha > 0.0f && std::isfinite(parts.alpha), "alpha ", parts.alpha,
        " is not supported (it scales the accumulator's scale, which must stay positive)");
  const Tensor& b = info.require_constant(3, "B");
  check(b.shape().rank() == 2, "B must be 2-D, got ", b.shape());
  const int n_axis = parts.trans_b ? 0 : 1;
  parts.n = b.shape()[n_axis];
  const quant::ScaleZp aq = quant::constant_per_tensor(info, 1, 2, 0, "a_scale/a_zero_point");
  const quant::ScaleZp bq =
      quant::expand_channels(quant::constant_scale_zp(info, 4, 5, 3, "b_scale/b_zero_point"), parts.n, "b_scale/b_zero_point");
  check(bq.dtype == b.dtype(), "B is ", b.dtype(), " but b_zero_point is ", bq.dtype);
  if (const auto d = info.input_dtype(0)) check(*d == aq.dtype, "A is ", *d, " but a_zero_point is ", aq.dtype);
  parts.bias = qgemm_bias(info, parts.n);
  const bool quantized_out = info.has_input(7) || info.has_input(8);
  check(!quantized_out || (info.has_input(7) && info.has_input(8)),
        "y_scale and y_zero_point must be given together (without both the output is float)");
  const RequantPolicy policy = quant::read_policy(info);
  const ActivationClamp act = passes::read_fused_activation(info.attrs());
  // ORT's accumulator scale: fl(alpha · a_scale), then · b_scale[n].
  const float a_scale = parts.alpha * aq.scale();
  return quant::visit_quant_dtype(aq.dtype, "A", [&](auto ta) -> std::unique_ptr<OpKernel> {
    using TA = decltype(ta);
    return quant::visit_int8_dtype(b.dtype(), "B", [&](auto tb) -> std::unique_ptr<OpKernel> {
      using TB = decltype(tb);
      const PerTensor<TA> xq = with_context("a_scale/a_zero_point", [&] { return PerTensor<TA>(a_scale, aq.zero_point()); });
      if (quantized_out) {
        const quant::ScaleZp yq = quant::constant_per_tensor(info, 7, 8, 0, "y_scale/y_zero_point");
        check(yq.dtype == aq.dtype, "Y (", yq.dtype, ") must have the type of A (", aq.dtype, ")");
        const QView<const TB, PerChannel<TB>> bv{b.view<TB>(), with_context("b_scale/b_zero_point", [&] {
                                                   return PerChannel<TB>(n_axis, bq.scales, bq.zero_points);
                                                 })};
        return std::make_unique<QGemmKernel<TA, TB>>(
            parts, QuantizedGemm<TA, TB, TA>(xq, bv, parts.bias, quant::per_tensor<TA>(yq, "y_scale/y_zero_point"),
                                             GemmOptions{parts.trans_a, parts.trans_b, policy, act,
                                                         info.options().reference_kernels,
                                                         passes::read_input_range(info.attrs())}));
      }
      check(act.kind == FusedActivation::none, "a fused activation needs a quantized output (y_scale, y_zero_point)");
      std::vector<float> scales;
      for (float s : bq.scales) scales.push_back(a_scale * s);
      using Acc = ref::accumulator_t<TA>;
      const std::int64_t bound = ref::accumulator_bound<TA, TB>(b.view<TB>(), n_axis, aq.zero_point(), bq.zero_points);
      ref::DequantizeArith<TA> arith(bound, aq.zero_point(), bq.zero_points,
                                     std::vector<Acc>(parts.bias.begin(), parts.bias.end()), std::move(scales));
      return std::make_unique<QGemmKernel<TA, TB>>(parts, dense_copy(b.view<TB>()), std::move(arith));
    });
  });
}

}  // namespace gemm_detail

inline void register_qlinear_conv_gemm(KernelRegistry& r) {
  r.add("", "QLinearConv", 10, conv_detail::make_qlinear_conv);
  r.add("", "ConvInteger", 10, conv_detail::make_conv_integer);
  r.add("com.microsoft", "QGemm", 1, gemm_detail::make_qgemm);
}

}  // namespace qnn::ops
// ---- end qnn/runtime/ops/qlinear_conv_gemm.hpp -----------------------------------------------------
// ---- begin qnn/runtime/ops/qlinear_eltwise.hpp -----------------------------------------------------
// The com.microsoft quantized operators ONNX Runtime's quantizer and QDQ fusion produce around the
// convolutions, and qnn's own table activation:
//
//   QLinearAdd, QLinearMul (A, A_scale, A_zp, B, B_scale, B_zp, C_scale, C_zp)  NumPy broadcasting
//   QLinearConcat (Y_scale, Y_zp, X0, X0_scale, X0_zp, ...)                      attribute axis
//   QLinearAveragePool (X, x_scale, x_zp, y_scale, y_zp)    kernel_shape, strides, pads, auto_pad,
//                                                           ceil_mode, count_include_pad (1-D, 2-D)
//   QLinearGlobalAveragePool (X, x_scale, x_zp, y_scale, y_zp)                   any rank ≥ 3
//   QLinearSigmoid, QLinearLeakyRelu (X, X_scale, X_zp, Y_scale, Y_zp)           alpha (LeakyRelu)
//   qnn.QLinearUnary (x, x_scale, x_zp, y_scale, y_zp)   activation = relu | clip | leaky_relu |
//       sigmoid | hard_sigmoid | hard_swish | tanh, with alpha, beta, clip_min, clip_max: what the
//       QDQ lowering emits for DQ → activation → Q where ONNX Runtime has no QLinear operator.
//
// Zero points are optional (0 of the data type). Scales and zero points are constant initializers;
// the integer factors (EltwiseParams, AvgPoolRequant) and the 256-entry tables of 8-bit
// activations are made once. Every node reads `qnn_requant` (quant_params_io.hpp); under
// onnx-float each op is ONNX Runtime's x86 arithmetic (numerics.md §5), including its sigmoid.
// The pools' channels_last = 1 (ORT's NHWC variant) is refused.

#include <array>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace qnn::ops {

namespace eltwise_detail {

// ---- QLinearAdd / QLinearMul -------------------------------------------------------------------

template <QuantStorage T>
class QLinearBinaryKernel final : public OpKernel {
 public:
  using Params = std::variant<ref::EltwiseParams<OnnxFloat>, ref::EltwiseParams<TfliteDoubleRound>,
                              ref::EltwiseParams<TfliteSingleRound>, ref::EltwiseParams<NpuPow2>>;
  explicit QLinearBinaryKernel(Params p) : params_(std::move(p)) {}

  void run(KernelContext& ctx) const override {
    const TensorRef& a = ctx.in(0);
    const TensorRef& b = ctx.in(3);
    quant::check_dtype(a, dtype_of_v<T>, "input A");
    quant::check_dtype(b, dtype_of_v<T>, "input B");
    TensorRef& y = ctx.output(0, dtype_of_v<T>, ref::broadcast_shape(a.shape, b.shape));
    std::visit([&](const auto& p) { ref::eltwise(a.view<T>(), b.view<T>(), y.mut<T>(), p); }, params_);
  }

 private:
  Params params_;
};

inline std::unique_ptr<OpKernel> make_qlinear_binary(const NodeInfo& info, ref::EltwiseOp op) {
  const quant::ScaleZp aq = quant::constant_per_tensor(info, 1, 2, 0, "A_scale/A_zero_point");
  const quant::ScaleZp bq = quant::constant_per_tensor(info, 4, 5, 3, "B_scale/B_zero_point");
  const quant::ScaleZp cq = quant::constant_per_tensor(info, 6, 7, 0, "C_scale/C_zero_point");
  check(aq.dtype == bq.dtype && aq.dtype == cq.dtype, "A, B and C must share one type, got ", aq.dtype, ", ",
        bq.dtype, ", ", cq.dtype);
  const RequantPolicy policy = quant::read_policy(info);
  return quant::visit_quant_dtype(aq.dtype, "A", [&](auto t) -> std::unique_ptr<OpKernel> {
    using T = decltype(t);
    const ref::EltwiseQuant q{aq.scale(), bq.scale(), cq.scale(), aq.zero_point(), bq.zero_point(), cq.zero_point(),
                              storage_range<T>()};
    return with_context(std::string("requantization (") + std::string(name_of(policy)) + ")", [&] {
      return visit_policy(policy, [&](auto p) -> std::unique_ptr<OpKernel> {
        using P = decltype(p);
        return std::make_unique<QLinearBinaryKernel<T>>(ref::EltwiseParams<P>::template make<T>(op, q));
      });
    });
  });
}

// ---- QLinearConcat -----------------------------------------------------------------------------

template <QuantStorage T>
class QLinearConcatKernel final : public OpKernel {
 public:
  QLinearConcatKernel(std::int64_t axis, std::vector<ref::ConcatInputQuant> xq, float sy, std::int32_t zy,
                      RequantPolicy policy)
      : axis_(axis), xq_(std::move(xq)), sy_(sy), zy_(zy), policy_(policy) {}

  void run(KernelContext& ctx) const override {
    std::vector<TensorView<const T>> xs;
    std::vector<Shape> shapes;
    for (std::size_t i = 0; i < xq_.size(); ++i) {
      const TensorRef& x = ctx.in(2 + 3 * i);
      quant::check_dtype(x, dtype_of_v<T>, "a concatenated input");
      xs.push_back(x.view<T>());
      shapes.push_back(x.shape);
    }
    check(!shapes.empty() && shapes[0].rank() > 0, "QLinearConcat needs inputs of rank >= 1");
    const int axis = shapes[0].normalize_axis(static_cast<int>(axis_));
    TensorRef& y = ctx.output(0, dtype_of_v<T>, ref::concat_output_shape(shapes, axis));
    visit_policy(policy_, [&](auto p) {
      ref::concat_quantized<T, decltype(p)>(xs, xq_, axis, y.mut<T>(), sy_, zy_);
    });
  }

 private:
  std::int64_t axis_;
  std::vector<ref::ConcatInputQuant> xq_;
  float sy_;
  std::int32_t zy_;
  RequantPolicy policy_;
};

inline std::unique_ptr<OpKernel> make_qlinear_concat(const NodeInfo& info) {
  check(info.num_inputs() >= 5 && (info.num_inputs() - 2) % 3 == 0,
        "QLinearConcat takes Y_scale, Y_zero_point, then (X, X_scale, X_zero_point) triples; got ",
        info.num_inputs(), " inputs");
  const std::int64_t axis = info.attrs().get_int("axis");
  const quant::ScaleZp yq = quant::constant_per_tensor(info, 0, 1, 2, "Y_scale/Y_zero_point");
  std::vector<ref::ConcatInputQuant> xq;
  for (std::size_t i = 2; i < info.num_inputs(); i += 3) {
    // (Appended piecewise: GCC 12 misreports `"X" + std::to_string(n)` under -Werror=restrict.)
    std::string what("X");
    what += std::to_string((i - 2) / 3);
    what += "_scale/zero_point";
    const quant::ScaleZp q = quant::constant_per_tensor(info, i + 1, i + 2, i, what.c_str());
    check(q.dtype == yq.dtype, what, ": type ", q.dtype, " differs from Y's ", yq.dtype);
    xq.push_back({q.scale(), q.zero_point()});
  }
  const RequantPolicy policy = quant::read_policy(info);
  return quant::visit_quant_dtype(yq.dtype, "Y", [&](auto t) -> std::unique_ptr<OpKernel> {
    using T = decltype(t);
    (void)quant::per_tensor<T>(yq, "Y_scale/Y_zero_point");
    for (const auto& q : xq) {
      quant::ScaleZp one;
      one.dtype = yq.dtype;
      one.scales = {q.scale};
      one.zero_points = {q.zero_point};
      (void)quant::per_tensor<T>(one, "X_scale/X_zero_point");
      // npu-pow2 and the TFLite policies need factors they can represent: make one now to check.
      with_context(std::string("requantization (") + std::string(name_of(policy)) + ")", [&] {
        visit_policy(policy, [&](auto p) { (void)make_rescale_stage<decltype(p), T>(q.scale, yq.scale(), yq.zero_point()); });
      });
    }
    return std::make_unique<QLinearConcatKernel<T>>(axis, std::move(xq), yq.scale(), yq.zero_point(), policy);
  });
}

// ---- pools ---------------------------------------------------------------------------------------

template <QuantStorage T>
using PoolRequantVariant = std::variant<ref::AvgPoolRequant<OnnxFloat>, ref::AvgPoolRequant<TfliteDoubleRound>,
                                        ref::AvgPoolRequant<TfliteSingleRound>, ref::AvgPoolRequant<NpuPow2>>;

template <QuantStorage T>
PoolRequantVariant<T> make_pool_requant(RequantPolicy policy, const std::array<std::int64_t, 2>& kernel,
                                        const quant::ScaleZp& xq, const quant::ScaleZp& yq) {
  PoolGeometry g;
  g.win.kernel = kernel;
  return with_context(std::string("requantization (") + std::string(name_of(policy)) + ")", [&] {
    return visit_policy(policy, [&](auto p) -> PoolRequantVariant<T> {
      return ref::AvgPoolRequant<decltype(p)>::template make<T>(g, xq.scale(), xq.zero_point(), yq.scale(),
                                                               yq.zero_point());
    });
  });
}

template <QuantStorage T>
class QLinearAveragePoolKernel final : public OpKernel {
 public:
  QLinearAveragePoolKernel(WindowAttrs attrs, bool count_include_pad, PoolRequantVariant<T> rq)
      : attrs_(attrs), count_include_pad_(count_include_pad), rq_(std::move(rq)) {}

  void run(KernelContext& ctx) const override {
    const TensorRef& x = ctx.in(0);
    quant::check_dtype(x, dtype_of_v<T>, "input X");
    const Shape x4 = as_4d(x.shape, attrs_.spatial);
    const PoolGeometry g =
        make_pool_geometry(x4, attrs_.resolve(x4[2], x4[3]), attrs_.ceil_mode, count_include_pad_);
    TensorRef& y = ctx.output(0, dtype_of_v<T>, from_4d(g.output_shape(), attrs_.spatial));
    const TensorView<const T> xv(reinterpret_cast<const T*>(x.data), x4);
    const TensorView<T> yv(reinterpret_cast<T*>(y.data), g.output_shape());
    std::visit([&](const auto& rq) { ref::avg_pool(g, xv, yv, rq); }, rq_);
  }

 private:
  WindowAttrs attrs_;
  bool count_include_pad_;
  PoolRequantVariant<T> rq_;
};

inline std::unique_ptr<OpKernel> make_qlinear_average_pool(const NodeInfo& info) {
  const Attributes& at = info.attrs();
  check(at.get_int("channels_last", 0) == 0, "channels_last = 1 (NHWC) is not supported");
  const auto dims = info.input_dims(0);
  const int spatial = dims ? static_cast<int>(dims->size()) - 2 : 0;
  const WindowAttrs attrs = WindowAttrs::read(at, spatial, true);
  check(attrs.dilations[0] == 1 && attrs.dilations[1] == 1, "dilations are not supported");
  const bool include_pad = at.get_int("count_include_pad", 0) != 0;
  const quant::ScaleZp xq = quant::constant_per_tensor(info, 1, 2, 0, "x_scale/x_zero_point");
  const quant::ScaleZp yq = quant::constant_per_tensor(info, 3, 4, 0, "y_scale/y_zero_point");
  check(xq.dtype == yq.dtype, "X (", xq.dtype, ") and Y (", yq.dtype, ") must share one type");
  const RequantPolicy policy = quant::read_policy(info);
  return quant::visit_quant_dtype(xq.dtype, "X", [&](auto t) -> std::unique_ptr<OpKernel> {
    using T = decltype(t);
    return std::make_unique<QLinearAveragePoolKernel<T>>(attrs, include_pad,
                                                         make_pool_requant<T>(policy, attrs.kernel, xq, yq));
  });
}

// Global pooling over every axis after the channels: computed as a 1 × S window over the input
// viewed as N × C × 1 × S.
template <QuantStorage T>
class QLinearGlobalAveragePoolKernel final : public OpKernel {
 public:
  QLinearGlobalAveragePoolKernel(RequantPolicy policy, quant::ScaleZp xq, quant::ScaleZp yq, std::int64_t prepared_size)
      : policy_(policy), xq_(std::move(xq)), yq_(std::move(yq)), size_(prepared_size) {
    if (size_ > 0) rq_ = make_pool_requant<T>(policy_, {1, size_}, xq_, yq_);
  }

  void run(KernelContext& ctx) const override {
    const TensorRef& x = ctx.in(0);
    quant::check_dtype(x, dtype_of_v<T>, "input X");
    check(x.shape.rank() >= 3, "QLinearGlobalAveragePool input must have rank >= 3 (N, C, spatial...), got ",
          x.shape);
    std::int64_t s = 1;
    Shape out;
    out.push_back(x.shape[0]);
    out.push_back(x.shape[1]);
    for (int i = 2; i < x.shape.rank(); ++i) {
      s *= x.shape[i];
      out.push_back(1);
    }
    const Shape x4{x.shape[0], x.shape[1], 1, s};
    const PoolGeometry g = make_global_pool_geometry(x4);
    TensorRef& y = ctx.output(0, dtype_of_v<T>, out);
    const TensorView<const T> xv(reinterpret_cast<const T*>(x.data), x4);
    const TensorView<T> yv(reinterpret_cast<T*>(y.data), g.output_shape());
    // The factors were made for the declared image size; another size (dynamic dims) makes them now.
    const bool prepared = rq_.has_value() && s == size_;
    const PoolRequantVariant<T> fresh =
        prepared ? PoolRequantVariant<T>{} : make_pool_requant<T>(policy_, {1, s}, xq_, yq_);
    std::visit([&](const auto& rq) { ref::avg_pool(g, xv, yv, rq); }, prepared ? *rq_ : fresh);
  }

 private:
  RequantPolicy policy_;
  quant::ScaleZp xq_, yq_;
  std::int64_t size_;
  std::optional<PoolRequantVariant<T>> rq_;
};

inline std::unique_ptr<OpKernel> make_qlinear_global_average_pool(const NodeInfo& info) {
  check(info.attrs().get_int("channels_last", 0) == 0, "channels_last = 1 (NHWC) is not supported");
  const quant::ScaleZp xq = quant::constant_per_tensor(info, 1, 2, 0, "x_scale/x_zero_point");
  const quant::ScaleZp yq = quant::constant_per_tensor(info, 3, 4, 0, "y_scale/y_zero_point");
  check(xq.dtype == yq.dtype, "X (", xq.dtype, ") and Y (", yq.dtype, ") must share one type");
  std::int64_t size = 0;
  if (const auto dims = info.input_dims(0); dims && dims->size() >= 3) {
    size = 1;
    for (std::size_t i = 2; i < dims->size(); ++i) size = (*dims)[i] > 0 && size > 0 ? size * (*dims)[i] : 0;
  }
  const RequantPolicy policy = quant::read_policy(info);
  return quant::visit_quant_dtype(xq.dtype, "X", [&](auto t) -> std::unique_ptr<OpKernel> {
    using T = decltype(t);
    (void)quant::per_tensor<T>(xq, "x_scale/x_zero_point");
    (void)quant::per_tensor<T>(yq, "y_scale/y_zero_point");
    (void)make_pool_requant<T>(policy, {1, 1}, xq, yq);  // validates the policy's factors now
    return std::make_unique<QLinearGlobalAveragePoolKernel<T>>(policy, xq, yq, size);
  });
}

// ---- table activations ---------------------------------------------------------------------------

struct NoTable {};
template <class TIn, class TOut, bool = Int8Storage<TIn> && Int8Storage<TOut>>
struct TableFor {
  using type = NoTable;
};
template <class TIn, class TOut>
struct TableFor<TIn, TOut, true> {
  using type = ref::ActivationTable<TIn, TOut>;
};

// y = Q_out(f(DQ_in(x))); 8-bit → 8-bit through the 256-entry table made here, other type pairs
// element by element (ref::activation_quantized).
template <QuantStorage TIn, QuantStorage TOut>
class QLinearActivationKernel final : public OpKernel {
 public:
  QLinearActivationKernel(const ref::Activation& f, const quant::ScaleZp& xq, const quant::ScaleZp& yq)
      : f_(f), sx_(xq.scale()), zx_(xq.zero_point()), sy_(yq.scale()), zy_(yq.zero_point()) {
    qnn::detail::check_zero_point<TIn>(zx_);
    qnn::detail::check_zero_point<TOut>(zy_);
    if constexpr (Int8Storage<TIn> && Int8Storage<TOut>) table_.emplace(f_, sx_, zx_, sy_, zy_);
  }

  void run(KernelContext& ctx) const override {
    const TensorRef& x = ctx.in(0);
    quant::check_dtype(x, dtype_of_v<TIn>, "input X");
    TensorRef& y = ctx.output(0, dtype_of_v<TOut>, x.shape);
    if constexpr (Int8Storage<TIn> && Int8Storage<TOut>)
      ref::unary(x.view<TIn>(), y.mut<TOut>(), *table_);
    else
      ref::activation_quantized(x.view<TIn>(), y.mut<TOut>(), f_, sx_, zx_, sy_, zy_);
  }

 private:
  ref::Activation f_;
  float sx_;
  std::int32_t zx_;
  float sy_;
  std::int32_t zy_;
  std::optional<typename TableFor<TIn, TOut>::type> table_;
};

// The sigmoid a policy means: ONNX Runtime's (onnx-float), else the ONNX formula 1/(1 + e^−x).
inline ref::Activation sigmoid_for(RequantPolicy policy) {
  return policy == RequantPolicy::onnx_float ? ref::Activation::sigmoid_ort() : ref::Activation::sigmoid();
}

inline std::unique_ptr<OpKernel> make_qlinear_activation(const NodeInfo& info, const ref::Activation& f,
                                                         bool same_type) {
  const quant::ScaleZp xq = quant::constant_per_tensor(info, 1, 2, 0, "X_scale/X_zero_point");
  const quant::ScaleZp yq = quant::constant_per_tensor(info, 3, 4, 0, "Y_scale/Y_zero_point");
  if (const auto d = info.input_dtype(0)) check(*d == xq.dtype, "X is ", *d, " but X_zero_point is ", xq.dtype);
  if (same_type) check(xq.dtype == yq.dtype, "X (", xq.dtype, ") and Y (", yq.dtype, ") must share one type");
  return quant::visit_quant_dtype(xq.dtype, "X", [&](auto ti) -> std::unique_ptr<OpKernel> {
    return quant::visit_quant_dtype(yq.dtype, "Y", [&](auto to) -> std::unique_ptr<OpKernel> {
      using TIn = decltype(ti);
      using TOut = decltype(to);
      (void)quant::per_tensor<TIn>(xq, "X_scale/X_zero_point");
      (void)quant::per_tensor<TOut>(yq, "Y_scale/Y_zero_point");
      return std::make_unique<QLinearActivationKernel<TIn, TOut>>(f, xq, yq);
    });
  });
}

inline std::unique_ptr<OpKernel> make_qlinear_sigmoid(const NodeInfo& info) {
  return make_qlinear_activation(info, sigmoid_for(quant::read_policy(info)), true);
}

inline std::unique_ptr<OpKernel> make_qlinear_leaky_relu(const NodeInfo& info) {
  (void)quant::read_policy(info);  // accepted for uniformity; a table activation has no requantization
  return make_qlinear_activation(info, ref::Activation::leaky_relu(info.attrs().get_float("alpha", 0.01f)), true);
}

inline std::unique_ptr<OpKernel> make_qlinear_unary(const NodeInfo& info) {
  const Attributes& at = info.attrs();
  const std::string act = at.get_string("activation");
  const RequantPolicy policy = quant::read_policy(info);
  const float inf = std::numeric_limits<float>::infinity();
  auto no = [&](const char* name) { check(!at.has(name), "attribute '", name, "' does not apply to ", act); };
  ref::Activation f;
  if (act == "relu") {
    no("alpha"), no("beta"), no("clip_min"), no("clip_max");
    f = ref::Activation::relu();
  } else if (act == "clip") {
    no("alpha"), no("beta");
    f = ref::Activation::clip(at.get_float("clip_min", -inf), at.get_float("clip_max", inf));
    check(!(f.lo > f.hi), "clip_min ", f.lo, " > clip_max ", f.hi);
  } else if (act == "leaky_relu") {
    no("beta"), no("clip_min"), no("clip_max");
    f = ref::Activation::leaky_relu(at.get_float("alpha", 0.01f));
  } else if (act == "sigmoid") {
    no("alpha"), no("beta"), no("clip_min"), no("clip_max");
    f = sigmoid_for(policy);
  } else if (act == "hard_sigmoid") {
    no("clip_min"), no("clip_max");
    f = ref::Activation::hard_sigmoid(at.get_float("alpha", 0.2f), at.get_float("beta", 0.5f));
  } else if (act == "hard_swish") {
    no("alpha"), no("beta"), no("clip_min"), no("clip_max");
    f = ref::Activation::hard_swish();
  } else if (act == "tanh") {
    no("alpha"), no("beta"), no("clip_min"), no("clip_max");
    f = ref::Activation::tanh();
  } else {
    fail("activation '", act, "' is not one of relu, clip, leaky_relu, sigmoid, hard_sigmoid, hard_swish, tanh");
  }
  return make_qlinear_activation(info, f, false);
}

}  // namespace eltwise_detail

inline void register_qlinear_eltwise(KernelRegistry& r) {
  r.add("com.microsoft", "QLinearAdd", 1,
        [](const NodeInfo& i) { return eltwise_detail::make_qlinear_binary(i, ref::EltwiseOp::add); });
  r.add("com.microsoft", "QLinearMul", 1,
        [](const NodeInfo& i) { return eltwise_detail::make_qlinear_binary(i, ref::EltwiseOp::mul); });
  r.add("com.microsoft", "QLinearConcat", 1, eltwise_detail::make_qlinear_concat);
  r.add("com.microsoft", "QLinearAveragePool", 1, eltwise_detail::make_qlinear_average_pool);
  r.add("com.microsoft", "QLinearGlobalAveragePool", 1, eltwise_detail::make_qlinear_global_average_pool);
  r.add("com.microsoft", "QLinearSigmoid", 1, eltwise_detail::make_qlinear_sigmoid);
  r.add("com.microsoft", "QLinearLeakyRelu", 1, eltwise_detail::make_qlinear_leaky_relu);
  r.add("qnn", "QLinearUnary", 1, eltwise_detail::make_qlinear_unary);
}

}  // namespace qnn::ops
// ---- end qnn/runtime/ops/qlinear_eltwise.hpp -------------------------------------------------------
// ---- begin qnn/runtime/ops/qlinear_matmul.hpp ------------------------------------------------------
// Quantized MatMuls: ONNX QLinearMatMul and MatMulInteger, NumPy batching (1-D operands promoted
// and the added axis dropped again, as numpy.matmul does).
//
//   QLinearMatMul(a, a_scale, a_zp, b, b_scale, b_zp, y_scale, y_zp)
//       a uint8/int8 (int16/uint16 too: A16W8), b int8/uint8 per tensor or per column (b_scale,
//       b_zp of N values); y has a's type. b may be a run-time tensor (a MatMul of two activations);
//       every scale and zero point is a constant, so the output stage is made once. The accumulator
//       bound is the worst case over all values, K · max|a − za| · max|b − zb|, checked per run
//       against the actual K.
//   MatMulInteger(A, B, [a_zp], [b_zp])
//       int32 output; a_zp one value or one per row of A (M), b_zp one value or one per column of B
//       (N); everything may be a run-time tensor (dynamic quantization feeds a_zp at run time).

#include <cstdint>
#include <memory>
#include <optional>
#include <variant>
#include <vector>

namespace qnn::ops {

namespace matmul_detail {

// numpy.matmul's treatment of 1-D operands: a [K] is [1, K], b [K] is [K, 1], and the added axis is
// removed from the output.
struct MatmulShapes {
  Shape a, b, out_full, out;
  std::int64_t k = 0;

  static MatmulShapes of(const Shape& a, const Shape& b) {
    check(a.rank() >= 1 && b.rank() >= 1, "matmul operands must have rank >= 1, got ", a, " and ", b);
    MatmulShapes s;
    s.a = a.rank() == 1 ? Shape{1, a[0]} : a;
    s.b = b.rank() == 1 ? Shape{b[0], 1} : b;
    s.out_full = ref::matmul_output_shape(s.a, s.b);
    s.k = s.a.dim(-1);
    for (int i = 0; i < s.out_full.rank(); ++i) {
      const bool drop = (a.rank() == 1 && i == s.out_full.rank() - 2) || (b.rank() == 1 && i == s.out_full.rank() - 1);
      if (!drop) s.out.push_back(s.out_full[i]);
    }
    return s;
  }
};

template <class T>
TensorView<const T> view_as(const TensorRef& r, const Shape& s) {
  return TensorView<const T>(reinterpret_cast<const T*>(r.data), s);
}

template <QuantStorage TA, Int8Storage TB>
class QLinearMatMulKernel final : public OpKernel {
  using Acc = ref::accumulator_t<TA>;
  template <class P>
  using Arith = ref::QuantizedArith<TA, P, TA>;

 public:
  QLinearMatMulKernel(std::int32_t za, const std::vector<std::int32_t>& zb, std::int64_t columns,
                      RequantPolicy policy, float sa, const std::vector<float>& sb, float sy, std::int32_t zy,
                      const ActivationClamp& act)
      : za_(za), zb_(zb), columns_(columns),
        arith_(visit_policy(policy, [&](auto p) -> ArithVariant {
          using P = decltype(p);
          // The bound is checked per run with the actual K; here only the zero points are validated.
          return Arith<P>(0, za, zb, {}, make_output_stage<P, TA>(sa, sb, sy, zy, act));
        })) {}

  void run(KernelContext& ctx) const override {
    const TensorRef& a = ctx.in(0);
    const TensorRef& b = ctx.in(3);
    quant::check_dtype(a, dtype_of_v<TA>, "input a");
    quant::check_dtype(b, dtype_of_v<TB>, "input b");
    const MatmulShapes s = MatmulShapes::of(a.shape, b.shape);
    check(columns_ == 1 || s.b.dim(-1) == columns_, "b has ", s.b.dim(-1), " columns but b_scale/b_zero_point ",
          columns_, " values");
    std::int64_t bound = 0;
    for (std::int32_t z : zb_) bound = std::max(bound, ref::worst_case_bound<TA, TB>(s.k, za_, z));
    ref::check_accumulator_fits<Acc>(bound);
    TensorRef& y = ctx.output(0, dtype_of_v<TA>, s.out);
    const TensorView<TA> yv(reinterpret_cast<TA*>(y.data), s.out_full);
    std::visit([&](const auto& arith) { ref::matmul(view_as<TA>(a, s.a), view_as<TB>(b, s.b), yv, arith); }, arith_);
  }
  std::int64_t macs(const KernelContext& ctx) const override {
    const MatmulShapes s = MatmulShapes::of(ctx.in(0).shape, ctx.in(3).shape);
    return s.out_full.numel() * s.k;
  }

 private:
  using ArithVariant = std::variant<Arith<OnnxFloat>, Arith<TfliteDoubleRound>, Arith<TfliteSingleRound>, Arith<NpuPow2>>;
  std::int32_t za_;
  std::vector<std::int32_t> zb_;
  std::int64_t columns_;
  ArithVariant arith_;
};

inline std::unique_ptr<OpKernel> make_qlinear_matmul(const NodeInfo& info) {
  // b is not expanded here: it may be a run-time tensor, whose column count is known at run time.
  const quant::MatmulQuant q = quant::constant_matmul_quant(info, 6, 0, "a", "y");
  const quant::ScaleZp& aq = q.a;
  const quant::ScaleZp& bq = q.b;
  const quant::ScaleZp& yq = q.y;
  if (const auto d = info.input_dtype(0)) check(*d == aq.dtype, "a is ", *d, " but a_zero_point is ", aq.dtype);
  if (const auto d = info.input_dtype(3)) check(*d == bq.dtype, "b is ", *d, " but b_zero_point is ", bq.dtype);
  check(bq.scales.size() == bq.zero_points.size() || bq.zero_points.size() == 1,
        "b_scale and b_zero_point hold different numbers of values");
  std::vector<std::int32_t> zb = bq.zero_points;
  std::vector<float> sb = bq.scales;
  const std::int64_t columns = static_cast<std::int64_t>(std::max(sb.size(), zb.size()));
  if (columns > 1) {
    if (sb.size() == 1) sb.assign(static_cast<std::size_t>(columns), sb[0]);
    if (zb.size() == 1) zb.assign(static_cast<std::size_t>(columns), zb[0]);
  }
  const RequantPolicy policy = quant::read_policy(info);
  const ActivationClamp act = passes::read_fused_activation(info.attrs());
  return quant::visit_quant_dtype(aq.dtype, "a", [&](auto ta) -> std::unique_ptr<OpKernel> {
    using TA = decltype(ta);
    return quant::visit_int8_dtype(bq.dtype, "b", [&](auto tb) -> std::unique_ptr<OpKernel> {
      using TB = decltype(tb);
      (void)quant::per_tensor<TA>(aq, "a_scale/a_zero_point");
      (void)quant::per_tensor<TA>(yq, "y_scale/y_zero_point");
      with_context("b_scale/b_zero_point", [&] { return PerChannel<TB>(0, sb, zb); });
      return with_context(std::string("requantization (") + std::string(name_of(policy)) + ")", [&] {
        return std::make_unique<QLinearMatMulKernel<TA, TB>>(aq.zero_point(), zb, columns, policy, aq.scale(), sb,
                                                             yq.scale(), yq.zero_point(), act);
      });
    });
  });
}

// ---- MatMulInteger -------------------------------------------------------------------------------

template <Int8Storage TA, Int8Storage TB>
class MatMulIntegerKernel final : public OpKernel {
 public:
  void run(KernelContext& ctx) const override {
    const TensorRef& a = ctx.in(0);
    const TensorRef& b = ctx.in(1);
    quant::check_dtype(a, dtype_of_v<TA>, "input A");
    quant::check_dtype(b, dtype_of_v<TB>, "input B");
    const MatmulShapes s = MatmulShapes::of(a.shape, b.shape);
    const std::int64_t m = s.a.dim(-2), n = s.b.dim(-1);
    const std::vector<std::int32_t> za = zero_points(ctx, 2, dtype_of_v<TA>, m, "a_zero_point (per row of A)");
    const std::vector<std::int32_t> zb = zero_points(ctx, 3, dtype_of_v<TB>, n, "b_zero_point (per column of B)");
    std::int64_t bound = 0;
    for (std::int32_t x : za)
      for (std::int32_t w : zb) bound = std::max(bound, ref::worst_case_bound<TA, TB>(s.k, x, w));
    TensorRef& y = ctx.output(0, DType::i32, s.out);
    const TensorView<std::int32_t> yv(reinterpret_cast<std::int32_t*>(y.data), s.out_full);
    const auto av = view_as<TA>(a, s.a);
    const auto bv = view_as<TB>(b, s.b);
    if (za.size() == 1) return ref::matmul(av, bv, yv, ref::IntegerArith<TA>(bound, za[0], zb));
    // One zero point per row of A: each row is its own matmul (a view with a single row).
    for (std::int64_t r = 0; r < m; ++r) {
      Shape as = s.a, ys = s.out_full;
      as[as.rank() - 2] = 1;
      ys[ys.rank() - 2] = 1;
      const TensorView<const TA> ar(av.data() + r * av.strides()[static_cast<std::size_t>(as.rank() - 2)], as, av.strides());
      const TensorView<std::int32_t> yr(yv.data() + r * yv.strides()[static_cast<std::size_t>(ys.rank() - 2)], ys,
                                        yv.strides());
      ref::matmul(ar, bv, yr, ref::IntegerArith<TA>(bound, za[static_cast<std::size_t>(r)], zb));
    }
  }
  std::int64_t macs(const KernelContext& ctx) const override {
    const MatmulShapes s = MatmulShapes::of(ctx.in(0).shape, ctx.in(1).shape);
    return s.out_full.numel() * s.k;
  }

 private:
  static std::vector<std::int32_t> zero_points(const KernelContext& ctx, std::size_t i, DType data, std::int64_t count,
                                               const char* what) {
    if (!ctx.has(i)) return {0};
    const TensorRef& t = *ctx.input(i);
    check(t.dtype == data, what, " is ", t.dtype, " but its matrix is ", data);
    check(t.shape.rank() <= 1 && (t.numel() == 1 || t.numel() == count), what, " must hold 1 or ", count,
          " values, got shape ", t.shape);
    return quant::int_values(t);
  }
};

inline std::unique_ptr<OpKernel> make_matmul_integer(const NodeInfo& info) {
  const auto ta = info.has_input(2) && info.input_dtype(2) ? info.input_dtype(2) : info.input_dtype(0);
  const auto tb = info.has_input(3) && info.input_dtype(3) ? info.input_dtype(3) : info.input_dtype(1);
  check(ta && tb, "the types of A and B are not known when the session is prepared");
  return quant::visit_int8_dtype(*ta, "A", [&](auto a) -> std::unique_ptr<OpKernel> {
    return quant::visit_int8_dtype(*tb, "B", [&](auto b) -> std::unique_ptr<OpKernel> {
      return std::make_unique<MatMulIntegerKernel<decltype(a), decltype(b)>>();
    });
  });
}

}  // namespace matmul_detail

inline void register_qlinear_matmul(KernelRegistry& r) {
  r.add("", "QLinearMatMul", 10, matmul_detail::make_qlinear_matmul);
  r.add("", "MatMulInteger", 10, matmul_detail::make_matmul_integer);
}

}  // namespace qnn::ops
// ---- end qnn/runtime/ops/qlinear_matmul.hpp --------------------------------------------------------

namespace qnn::ops {

inline void register_quantized_ops(KernelRegistry& r) {
  register_qdq_ops(r);
  register_qlinear_conv_gemm(r);
  register_qlinear_matmul(r);
  register_qlinear_eltwise(r);
}

}  // namespace qnn::ops
// ---- end qnn/runtime/ops/quantized_ops.hpp ---------------------------------------------------------
// ---- begin qnn/runtime/ops/tensor_ops.hpp ----------------------------------------------------------
// The dtype-generic tensor operators: shape changes (shape_ops.hpp) and data movement
// (layout_ops.hpp). Each registration names the oldest ONNX opset whose semantics the kernel
// implements; the kernel reads the model's opset for the versions in between.

// ---- begin qnn/runtime/ops/layout_ops.hpp ----------------------------------------------------------
// Operators that move elements without computing on them: Transpose, Gather, Slice, Pad, Concat —
// dtype-generic, the data movement of float and quantized graphs alike — and Cast.
//
// The loops are the reference kernels (kernels/ref/{transpose,gather,slice,pad,concat,cast}.hpp);
// these kernels read attributes and index inputs, decide output shapes, and dispatch on dtype.

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

// ---- begin qnn/kernels/ref/cast.hpp ----------------------------------------------------------------
// Reference Cast between qnn's element types (ONNX Cast for float32, bfloat16, the integers, bool).
//
//   to bool             v ≠ 0 (NaN is true, as NumPy's astype(bool))
//   from bool           0 or 1
//   float → bfloat16    round to nearest even (dtype.hpp)
//   float → integer     truncation toward zero, saturated to the target range; NaN → 0. ONNX leaves
//                       out-of-range values undefined; saturating keeps the result defined (a plain
//                       C++ conversion would be undefined behaviour).
//   integer → float     nearest float (int32/int64 beyond 2^24 round)
//   integer → integer   modulo 2^bits, two's complement (NumPy's astype)
//   bfloat16 → x        through its exact float value

#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>

namespace qnn::ref {

template <class To, class From>
To cast_value(From v) {
  if constexpr (std::same_as<To, From>) {
    return v;
  } else if constexpr (std::same_as<From, bf16>) {
    return cast_value<To>(v.to_float());
  } else if constexpr (std::same_as<To, bool>) {
    return v != From{0};
  } else if constexpr (std::same_as<From, bool>) {
    return cast_value<To>(static_cast<std::uint8_t>(v ? 1 : 0));
  } else if constexpr (std::same_as<To, bf16>) {
    return bf16(static_cast<float>(v));
  } else if constexpr (std::same_as<To, float>) {
    return static_cast<float>(v);
  } else if constexpr (std::same_as<From, float>) {
    // To is an integer type here.
    if (std::isnan(v)) return To{0};
    const float t = std::trunc(v);
    // Compare in double: the limits of int32/int64 are not all floats, but every float is a double.
    if (static_cast<double>(t) <= static_cast<double>(std::numeric_limits<To>::lowest()))
      return std::numeric_limits<To>::lowest();
    if (static_cast<double>(t) >= static_cast<double>(std::numeric_limits<To>::max()))
      return std::numeric_limits<To>::max();
    return static_cast<To>(t);
  } else {
    static_assert(std::is_integral_v<To> && std::is_integral_v<From>);
    return static_cast<To>(v);  // modular since C++20
  }
}

template <class From, class To>
void cast(TensorView<const From> x, TensorView<To> y) {
  unary(x, y, [](From v) { return cast_value<To>(v); });
}

}  // namespace qnn::ref
// ---- end qnn/kernels/ref/cast.hpp ------------------------------------------------------------------
// ---- begin qnn/kernels/ref/gather.hpp --------------------------------------------------------------
// Reference Gather (ONNX): picks slices of x along `axis` by index.
//
//   y[p…, q…, s…] = x[p…, indices[q…], s…]     (p: axes before `axis`, s: axes after)
// so y's shape is x.shape[:axis] + indices.shape + x.shape[axis+1:]. Indices are int32 or int64;
// a negative index counts from the end; one outside [−d, d) is an error (checked for every index
// before anything is written).

#include <array>
#include <cstdint>

namespace qnn::ref {

inline Shape gather_output_shape(const Shape& x, int axis, const Shape& indices) {
  const int ax = x.normalize_axis(axis);
  check(x.rank() - 1 + indices.rank() <= Shape::kMaxRank, "gather: output rank ", x.rank() - 1 + indices.rank(),
        " is above ", Shape::kMaxRank);
  Shape out;
  for (int a = 0; a < ax; ++a) out.push_back(x[a]);
  for (std::int64_t d : indices) out.push_back(d);
  for (int a = ax + 1; a < x.rank(); ++a) out.push_back(x[a]);
  return out;
}

template <class T, class I>
requires std::same_as<I, std::int32_t> || std::same_as<I, std::int64_t>
void gather(TensorView<const T> x, int axis, TensorView<const I> indices, TensorView<T> y) {
  const int ax = x.shape().normalize_axis(axis);
  const Shape out = gather_output_shape(x.shape(), ax, indices.shape());
  check(y.shape() == out, "gather: output ", y.shape(), " should be ", out);
  const std::int64_t d = x.shape()[ax];
  for_each_index(indices.shape(), [&](const auto& idx) {
    const std::int64_t v = at(indices, idx);
    check(v >= -d && v < d, "gather: index ", v, " is out of range for axis ", ax, " of extent ", d);
  });
  const int q = indices.rank();
  std::array<std::int64_t, Shape::kMaxRank> xi{};
  std::array<std::int64_t, Shape::kMaxRank> ii{};
  for_each_index(out, [&](const auto& idx) {
    for (int a = 0; a < q; ++a) ii[static_cast<std::size_t>(a)] = idx[static_cast<std::size_t>(ax + a)];
    const std::int64_t v = at(indices, ii);
    for (int a = 0; a < ax; ++a) xi[static_cast<std::size_t>(a)] = idx[static_cast<std::size_t>(a)];
    xi[static_cast<std::size_t>(ax)] = v < 0 ? v + d : v;
    for (int a = ax + 1; a < x.rank(); ++a) xi[static_cast<std::size_t>(a)] = idx[static_cast<std::size_t>(a - 1 + q)];
    at(y, idx) = at(x, xi);
  });
}

}  // namespace qnn::ref
// ---- end qnn/kernels/ref/gather.hpp ----------------------------------------------------------------
// ---- begin qnn/kernels/ref/pad.hpp -----------------------------------------------------------------
// Reference Pad: constant, reflect, edge and wrap modes, any rank, negative pads crop.
//
// Output extent along axis a is d + begin[a] + end[a]. Output coordinate o reads input coordinate
// i = o − begin[a]; when i falls outside [0, d) the mode decides:
//   constant  the element is `value` (for every axis at once: one outside coordinate suffices);
//   edge      i clamped to [0, d − 1];
//   reflect   mirrored about the edge elements without repeating them (NumPy 'reflect'): period
//             2(d − 1), so pads larger than d keep reflecting, and d = 1 repeats its element;
//   wrap      i mod d (NumPy 'wrap').
// Negative begin/end remove elements; i then never leaves [0, d) on that side.

#include <array>
#include <cstdint>
#include <span>
#include <string_view>

namespace qnn::ref {

enum class PadMode : std::uint8_t { constant, reflect, edge, wrap };

constexpr std::string_view name_of(PadMode m) {
  switch (m) {
    case PadMode::constant:
      return "constant";
    case PadMode::reflect:
      return "reflect";
    case PadMode::edge:
      return "edge";
    case PadMode::wrap:
      return "wrap";
  }
  return "?";
}

// `pads` holds rank begins then rank ends (the ONNX order).
inline Shape pad_output_shape(const Shape& x, std::span<const std::int64_t> pads) {
  check(static_cast<int>(pads.size()) == 2 * x.rank(), "pad: ", pads.size(), " pads for rank ", x.rank());
  Shape out;
  for (int a = 0; a < x.rank(); ++a) {
    const std::int64_t d = x[a] + pads[static_cast<std::size_t>(a)] + pads[static_cast<std::size_t>(a + x.rank())];
    check(d >= 0, "pad: axis ", a, " of extent ", x[a], " padded by ", pads[static_cast<std::size_t>(a)], " and ",
          pads[static_cast<std::size_t>(a + x.rank())], " would have negative extent");
    out.push_back(d);
  }
  return out;
}

namespace detail {
// Input coordinate for an outside coordinate i of an axis of extent d (d ≥ 1), non-constant modes.
inline std::int64_t pad_source(std::int64_t i, std::int64_t d, PadMode mode) {
  switch (mode) {
    case PadMode::edge:
      return i < 0 ? 0 : d - 1;
    case PadMode::wrap:
      return ((i % d) + d) % d;
    case PadMode::reflect: {
      if (d == 1) return 0;
      const std::int64_t period = 2 * (d - 1);
      const std::int64_t m = ((i % period) + period) % period;
      return m < d ? m : period - m;
    }
    case PadMode::constant:
      break;
  }
  return i;
}
}  // namespace detail

template <class T>
void pad(TensorView<const T> x, std::span<const std::int64_t> pads, PadMode mode, T value, TensorView<T> y) {
  const Shape out = pad_output_shape(x.shape(), pads);
  check(y.shape() == out, "pad: output ", y.shape(), " should be ", out);
  const int r = x.rank();
  if (mode != PadMode::constant)
    for (int a = 0; a < r; ++a)
      check(x.shape()[a] > 0 || out[a] == 0, "pad: ", name_of(mode), " padding of an empty axis ", a);
  std::array<std::int64_t, Shape::kMaxRank> src{};
  for_each_index(out, [&](const auto& idx) {
    bool outside = false;
    for (int a = 0; a < r; ++a) {
      const auto u = static_cast<std::size_t>(a);
      const std::int64_t d = x.shape()[a];
      std::int64_t i = idx[u] - pads[u];
      if (i < 0 || i >= d) {
        outside = true;
        if (mode != PadMode::constant) i = detail::pad_source(i, d, mode);
      }
      src[u] = i;
    }
    at(y, idx) = (outside && mode == PadMode::constant) ? value : at(x, src);
  });
}

}  // namespace qnn::ref
// ---- end qnn/kernels/ref/pad.hpp -------------------------------------------------------------------
// ---- begin qnn/kernels/ref/slice.hpp ---------------------------------------------------------------
// Reference Slice (ONNX opset 10+ semantics; opset 1 is the case step = 1).
//
// Per axis, (start, end, step) are resolved against the extent d exactly as the ONNX spec states:
//   start, end < 0 → += d;
//   step > 0: start, end clamped to [0, d];   count = max(0, ⌈(end − start) / step⌉)
//   step < 0: start clamped to [0, d − 1], end to [−1, d − 1];   count = max(0, ⌈(start − end) / −step⌉)
// The copy then reads a strided view: offset Σ start·stride, strides multiplied by step (negative
// for a reversed axis). Values far outside int64 arithmetic (INT64_MIN/MAX, which exporters use for
// "to the end") are clamped before any sum, so nothing overflows.

#include <algorithm>
#include <cstdint>
#include <limits>
#include <span>

namespace qnn::ref {

struct SliceRange {
  std::int64_t start = 0;
  std::int64_t step = 1;
  std::int64_t count = 0;
};

inline SliceRange slice_range(std::int64_t d, std::int64_t start, std::int64_t end, std::int64_t step) {
  check(step != 0, "slice: step must not be 0");
  // |start|, |end| beyond 2^62 behave exactly like ±2^62 for any real extent; so does |step|.
  constexpr std::int64_t big = std::int64_t{1} << 62;
  start = std::clamp(start, -big, big);
  end = std::clamp(end, -big, big);
  step = std::clamp(step, -big, big);
  if (start < 0) start += d;
  if (end < 0) end += d;
  SliceRange r;
  r.step = step;
  if (d == 0) return r;  // nothing to take, whatever the bounds
  if (step > 0) {
    start = std::clamp<std::int64_t>(start, 0, d);
    end = std::clamp<std::int64_t>(end, 0, d);
    r.count = end > start ? (end - start + step - 1) / step : 0;
  } else {
    start = std::clamp<std::int64_t>(start, 0, d - 1);
    end = std::clamp<std::int64_t>(end, -1, d - 1);
    r.count = start > end ? (start - end - step - 1) / -step : 0;
  }
  r.start = start;
  return r;
}

// y = x[ranges], one range per axis of x.
template <class T>
void slice(TensorView<const T> x, std::span<const SliceRange> ranges, TensorView<T> y) {
  check(static_cast<int>(ranges.size()) == x.rank(), "slice: ", ranges.size(), " ranges for rank ", x.rank());
  Shape out;
  for (const SliceRange& r : ranges) out.push_back(r.count);
  check(y.shape() == out, "slice: output ", y.shape(), " should be ", out);
  if (out.numel() == 0) return;  // a start may sit one past the end: form no pointer from it
  std::int64_t offset = 0;
  typename TensorView<const T>::Strides st{};
  for (int a = 0; a < x.rank(); ++a) {
    const auto u = static_cast<std::size_t>(a);
    offset += ranges[u].start * x.strides()[u];
    st[u] = ranges[u].step * x.strides()[u];
  }
  unary(TensorView<const T>(x.data() + offset, out, st), y, [](T v) { return v; });
}

}  // namespace qnn::ref
// ---- end qnn/kernels/ref/slice.hpp -----------------------------------------------------------------
// ---- begin qnn/kernels/ref/transpose.hpp -----------------------------------------------------------
// Reference Transpose: output axis i is input axis perm[i].
//
//   y[i_0, …, i_{r−1}] = x[j]  with  j[perm[a]] = i_a
// The kernel is a copy through a permuted view (TensorView::permuted), so it moves elements of any
// type without looking at them.

#include <span>
#include <vector>

namespace qnn::ref {

// The output shape; checks that `perm` is a permutation of 0 … rank−1.
inline Shape transpose_shape(const Shape& x, std::span<const int> perm) {
  check(static_cast<int>(perm.size()) == x.rank(), "transpose: permutation has ", perm.size(), " entries for rank ",
        x.rank());
  std::vector<bool> seen(perm.size(), false);
  Shape out;
  for (int p : perm) {
    check(p >= 0 && p < x.rank() && !seen[static_cast<std::size_t>(p)], "transpose: perm is not a permutation of 0..",
          x.rank() - 1);
    seen[static_cast<std::size_t>(p)] = true;
    out.push_back(x[p]);
  }
  return out;
}

template <class T>
void transpose(TensorView<const T> x, std::span<const int> perm, TensorView<T> y) {
  check(y.shape() == transpose_shape(x.shape(), perm), "transpose: output ", y.shape(), " is wrong");
  unary(x.permuted(perm), y, [](T v) { return v; });
}

}  // namespace qnn::ref
// ---- end qnn/kernels/ref/transpose.hpp -------------------------------------------------------------

namespace qnn::ops {

class TransposeKernel final : public OpKernel {
 public:
  explicit TransposeKernel(const NodeInfo& n) {
    const auto perm = n.attrs().get_ints("perm");
    check(perm.size() <= static_cast<std::size_t>(Shape::kMaxRank), "perm has ", perm.size(), " entries, above rank ",
          Shape::kMaxRank);
    for (std::int64_t p : perm) {
      check(p >= 0 && p < static_cast<std::int64_t>(perm.size()), "perm entry ", p, " is out of range");
      perm_[static_cast<std::size_t>(rank_++)] = static_cast<int>(p);
    }
    if (rank_ > 0) ref::transpose_shape(Shape(std::vector<std::int64_t>(perm.size(), 1)), perm_span());
  }
  void run(KernelContext& ctx) const override {
    const TensorRef& x = ctx.in(0);
    std::array<int, Shape::kMaxRank> reversed{};
    std::span<const int> perm = perm_span();
    if (rank_ == 0) {  // default: reverse the axes
      for (int i = 0; i < x.shape.rank(); ++i) reversed[static_cast<std::size_t>(i)] = x.shape.rank() - 1 - i;
      perm = std::span<const int>(reversed.data(), static_cast<std::size_t>(x.shape.rank()));
    }
    check(static_cast<int>(perm.size()) == x.shape.rank(), "perm has ", perm.size(), " entries for an input of shape ",
          x.shape);
    const TensorRef& y = ctx.output(0, x.dtype, ref::transpose_shape(x.shape, perm));
    visit_dtype(x.dtype, [&](auto t) {
      using T = decltype(t);
      ref::transpose(x.view<T>(), perm, y.mut<T>());
    });
  }

 private:
  std::span<const int> perm_span() const { return {perm_.data(), static_cast<std::size_t>(rank_)}; }
  std::array<int, Shape::kMaxRank> perm_{};
  int rank_ = 0;  // 0: no perm attribute
};

class GatherKernel final : public OpKernel {
 public:
  explicit GatherKernel(const NodeInfo& n) : axis_(static_cast<int>(n.attrs().get_int("axis", 0))) {
    check_input_dtype(n, 1, kIndices, "indices (input 1)");
    check_axis(n, 0, axis_);
  }
  void run(KernelContext& ctx) const override {
    const TensorRef& x = ctx.in(0);
    const TensorRef& idx = ctx.in(1);
    check_dtype(idx.dtype, kIndices, "indices (input 1)");
    const TensorRef& y = ctx.output(0, x.dtype, ref::gather_output_shape(x.shape, axis_, idx.shape));
    visit_dtype(x.dtype, [&](auto t) {
      using T = decltype(t);
      if (idx.dtype == DType::i64)
        ref::gather(x.view<T>(), axis_, idx.view<std::int64_t>(), y.mut<T>());
      else
        ref::gather(x.view<T>(), axis_, idx.view<std::int32_t>(), y.mut<T>());
    });
  }

 private:
  int axis_;
};

// Slice: starts/ends/axes as attributes (opset < 10) or inputs 1–4 (opset ≥ 10: starts, ends,
// optional axes and steps, int32 or int64).
class SliceKernel final : public OpKernel {
 public:
  explicit SliceKernel(const NodeInfo& n) : inputs_(n.opset() >= 10) {
    if (!inputs_) {
      starts_ = IntList(n.attrs().get_ints("starts"));
      ends_ = IntList(n.attrs().get_ints("ends"));
      if (n.attrs().has("axes")) axes_ = IntList(n.attrs().get_ints("axes"));
      check(!starts_->empty(), "attribute 'starts' is required");
    } else {
      for (std::size_t i = 1; i <= 4; ++i) check_input_dtype(n, i, kIndices, "slice bounds");
      check(n.has_input(1) && n.has_input(2), "inputs 1 (starts) and 2 (ends) are required");
      if (const Tensor* t = n.constant_input(1)) starts_ = read_ints(*t, "starts (input 1)");
      if (const Tensor* t = n.constant_input(2)) ends_ = read_ints(*t, "ends (input 2)");
      if (const Tensor* t = n.constant_input(3)) axes_ = read_ints(*t, "axes (input 3)");
      if (const Tensor* t = n.constant_input(4)) steps_ = read_ints(*t, "steps (input 4)");
      if (steps_)
        for (std::int64_t v : *steps_) check(v != 0, "slice step must not be 0");
      if (starts_ && ends_)
        check(starts_->size() == ends_->size(), "slice has ", starts_->size(), " starts but ", ends_->size(), " ends");
    }
  }
  void run(KernelContext& ctx) const override {
    const TensorRef& x = ctx.in(0);
    auto arg = [&](const std::optional<IntList>& pre, std::size_t i, const char* what) -> std::optional<IntList> {
      if (pre || !inputs_ || !ctx.has(i)) return pre;
      return read_ints(ctx.in(i), what);
    };
    const IntList starts = *arg(starts_, 1, "starts (input 1)");
    const IntList ends = *arg(ends_, 2, "ends (input 2)");
    const auto axes = arg(axes_, 3, "axes (input 3)");
    const auto steps = arg(steps_, 4, "steps (input 4)");
    const int n = starts.size();
    check(ends.size() == n, "slice has ", n, " starts but ", ends.size(), " ends");
    if (axes) check(axes->size() == n, "slice has ", n, " starts but ", axes->size(), " axes");
    if (steps) check(steps->size() == n, "slice has ", n, " starts but ", steps->size(), " steps");
    const int r = x.shape.rank();
    std::array<ref::SliceRange, Shape::kMaxRank> ranges{};
    for (int a = 0; a < r; ++a) ranges[static_cast<std::size_t>(a)] = {0, 1, x.shape[a]};
    IntList order;
    if (axes) {
      order = normalize_axes(axes->span(), r, "slice");
    } else {
      check(n <= r, "slice has ", n, " starts for an input of rank ", r);
      for (int i = 0; i < n; ++i) order.push_back(i);
    }
    for (int i = 0; i < n; ++i) {
      const int a = static_cast<int>(order[i]);
      ranges[static_cast<std::size_t>(a)] = ref::slice_range(x.shape[a], starts[i], ends[i], steps ? (*steps)[i] : 1);
    }
    const std::span<const ref::SliceRange> rs(ranges.data(), static_cast<std::size_t>(r));
    Shape out;
    for (const auto& rg : rs) out.push_back(rg.count);
    const TensorRef& y = ctx.output(0, x.dtype, out);
    visit_dtype(x.dtype, [&](auto t) {
      using T = decltype(t);
      ref::slice(x.view<T>(), rs, y.mut<T>());
    });
  }

 private:
  bool inputs_;
  std::optional<IntList> starts_, ends_, axes_, steps_;
};

// Pad: pads/value as attributes (opset < 11) or inputs (opset ≥ 11: pads, optional constant_value
// of the data's type, optional axes from opset 18).
class PadKernel final : public OpKernel {
 public:
  explicit PadKernel(const NodeInfo& n) : inputs_(n.opset() >= 11) {
    const std::string mode = n.attrs().get_string("mode", "constant");
    if (mode == "constant")
      mode_ = ref::PadMode::constant;
    else if (mode == "reflect")
      mode_ = ref::PadMode::reflect;
    else if (mode == "edge")
      mode_ = ref::PadMode::edge;
    else if (mode == "wrap")
      mode_ = ref::PadMode::wrap;
    else
      fail("pad mode '", mode, "' is not one of constant, reflect, edge, wrap");
    if (!inputs_) {
      pads_ = IntList(n.attrs().get_ints("pads"));
      value_ = n.attrs().get_float("value", 0.0f);
    } else {
      check(n.has_input(1), "input 1 (pads) is required");
      check_input_dtype(n, 1, {DType::i64}, "pads (input 1)");
      check_same_input_dtype(n, 0, 2);
      check(n.opset() >= 18 || !n.has_input(3), "input 3 (axes) needs opset 18");
      if (const Tensor* t = n.constant_input(1)) pads_ = read_ints(*t, "pads (input 1)");
      if (const Tensor* t = n.constant_input(3)) axes_ = read_ints(*t, "axes (input 3)");
    }
  }
  void run(KernelContext& ctx) const override {
    const TensorRef& x = ctx.in(0);
    const int r = x.shape.rank();
    IntList given = pads_ ? *pads_ : read_ints(ctx.in(1), "pads (input 1)");
    std::optional<IntList> axes = axes_;
    if (!axes && inputs_ && ctx.has(3)) axes = read_ints(ctx.in(3), "axes (input 3)");
    // Full pads: r begins then r ends.
    IntList pads;
    if (axes) {
      const IntList ax = normalize_axes(axes->span(), r, "pad");
      check(given.size() == 2 * ax.size(), "pad has ", given.size(), " pads for ", ax.size(), " axes");
      for (int i = 0; i < 2 * r; ++i) pads.push_back(0);
      for (int i = 0; i < ax.size(); ++i) {
        pads[static_cast<int>(ax[i])] = given[i];
        pads[static_cast<int>(ax[i]) + r] = given[i + ax.size()];
      }
    } else {
      check(given.size() == 2 * r, "pad has ", given.size(), " pads for an input of rank ", r);
      pads = given;
    }
    const TensorRef& y = ctx.output(0, x.dtype, ref::pad_output_shape(x.shape, pads.span()));
    visit_dtype(x.dtype, [&](auto t) {
      using T = decltype(t);
      T value = ref::cast_value<T>(value_);
      if (inputs_ && ctx.has(2)) value = read_scalar<T>(ctx.in(2), "constant_value (input 2)");
      ref::pad(x.view<T>(), pads.span(), mode_, value, y.mut<T>());
    });
  }

 private:
  bool inputs_;
  ref::PadMode mode_ = ref::PadMode::constant;
  float value_ = 0.0f;
  std::optional<IntList> pads_, axes_;
};

class ConcatKernel final : public OpKernel {
 public:
  explicit ConcatKernel(const NodeInfo& n) {
    // Opset 4 made axis required; before, it defaulted to 1.
    axis_ = static_cast<int>(n.opset() >= 4 ? n.attrs().get_int("axis") : n.attrs().get_int("axis", 1));
    check(n.num_inputs() >= 1, "concat needs at least one input");
    check_axis(n, 0, axis_);
    for (std::size_t i = 1; i < n.num_inputs(); ++i) check_same_input_dtype(n, 0, i);
  }
  void run(KernelContext& ctx) const override {
    const std::size_t k = ctx.num_inputs();
    const TensorRef& first = ctx.in(0);
    // Views live in a fixed array for the usual handful of inputs; only a very wide Concat allocates.
    constexpr std::size_t kInline = 16;
    std::array<Shape, kInline> inline_shapes;
    std::vector<Shape> heap_shapes(k > kInline ? k : 0);
    const std::span<Shape> shapes =
        k > kInline ? std::span<Shape>(heap_shapes) : std::span<Shape>(inline_shapes.data(), k);
    for (std::size_t i = 0; i < k; ++i) {
      check_same_dtype(first, ctx.in(i), "concat inputs");
      shapes[i] = ctx.in(i).shape;
    }
    const TensorRef& y = ctx.output(0, first.dtype, ref::concat_output_shape(shapes, axis_));
    visit_dtype(first.dtype, [&](auto t) {
      using T = decltype(t);
      std::array<TensorView<const T>, kInline> inline_views;
      std::vector<TensorView<const T>> heap_views(k > kInline ? k : 0);
      const auto views = k > kInline ? std::span<TensorView<const T>>(heap_views)
                                     : std::span<TensorView<const T>>(inline_views.data(), k);
      for (std::size_t i = 0; i < k; ++i) views[i] = ctx.in(i).view<T>();
      ref::concat<T>(views, axis_, y.mut<T>());
    });
  }

 private:
  int axis_ = 0;
};

// Cast to the ONNX type `to` (any qnn dtype); see ref/cast.hpp for the conversion rules.
class CastKernel final : public OpKernel {
 public:
  explicit CastKernel(const NodeInfo& n) {
    const auto to = static_cast<onnx::DataType>(n.attrs().get_int("to"));
    const auto d = onnx::to_dtype(to);
    check(d.has_value(), "Cast to ", to, ", which qnn does not compute with");
    to_ = *d;
    // saturate (opset 19) only affects casts to 8-bit floats, which qnn does not have.
    if (n.opset() >= 19) (void)n.attrs().get_int("saturate", 1);
  }
  void run(KernelContext& ctx) const override {
    const TensorRef& x = ctx.in(0);
    const TensorRef& y = ctx.output(0, to_, x.shape);
    visit_dtype(x.dtype, [&](auto from) {
      visit_dtype(to_, [&](auto to) { ref::cast(x.view<decltype(from)>(), y.mut<decltype(to)>()); });
    });
  }

 private:
  DType to_ = DType::f32;
};

}  // namespace qnn::ops
// ---- end qnn/runtime/ops/layout_ops.hpp ------------------------------------------------------------
// ---- begin qnn/runtime/ops/shape_ops.hpp -----------------------------------------------------------
// Operators that change only a tensor's shape, or pass it through: Reshape, Flatten, Squeeze,
// Unsqueeze, Shape, Identity, Dropout (inference). They move bytes and so work on every dtype.
//
// Each computes the output shape from the actual input in run(), so one kernel serves every batch
// size; the shape functions are free functions so tests and graph passes can call them.

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>

namespace qnn::ops {

// ---- shape functions ---------------------------------------------------------------------------

// ONNX Reshape: 0 copies the input extent at its position (allowzero = 0) or means a zero extent
// (allowzero = 1); −1 takes what is left.
inline Shape reshape_shape(const Shape& in, std::span<const std::int64_t> spec, bool allowzero) {
  check(static_cast<int>(spec.size()) <= Shape::kMaxRank, "reshape: target rank ", spec.size(), " is above ",
        Shape::kMaxRank);
  int infer = -1;
  bool has_zero = false;
  std::int64_t known = 1;
  Shape out;
  for (std::size_t i = 0; i < spec.size(); ++i) {
    std::int64_t d = spec[i];
    check(d >= -1, "reshape: invalid extent ", d, " in the target shape");
    if (d == -1) {
      check(infer < 0, "reshape: the target shape has more than one -1");
      infer = static_cast<int>(i);
      out.push_back(0);
      continue;
    }
    if (d == 0) {
      has_zero = true;
      if (!allowzero) {
        check(static_cast<int>(i) < in.rank(), "reshape: 0 at position ", i, " copies an axis the input ", in,
              " does not have");
        d = in[static_cast<int>(i)];
      }
    }
    out.push_back(d);
    known = d == 0 ? 0 : known * d;
  }
  check(!(allowzero && has_zero && infer >= 0), "reshape: allowzero with both 0 and -1 in the target shape");
  if (infer >= 0) {
    check(known != 0, "reshape: cannot infer the -1 extent of ", in, " next to a zero extent");
    check(in.numel() % known == 0, "reshape: cannot reshape ", in, " (", in.numel(), " elements) to a multiple of ",
          known);
    out[infer] = in.numel() / known;
  }
  check(out.numel() == in.numel(), "reshape: cannot reshape ", in, " (", in.numel(), " elements) to ", out);
  return out;
}

// ONNX Flatten: [d0·…·d(axis−1), d(axis)·…·d(r−1)], axis in [−r, r].
inline Shape flatten_shape(const Shape& in, std::int64_t axis) {
  const int r = in.rank();
  check(axis >= -r && axis <= r, "flatten: axis ", axis, " is out of range for rank ", r);
  const int a = static_cast<int>(axis < 0 ? axis + r : axis);
  std::int64_t outer = 1, inner = 1;
  for (int i = 0; i < r; ++i) (i < a ? outer : inner) *= in[i];
  return Shape{outer, inner};
}

// ONNX Squeeze: removes the given axes (each of extent 1), or every extent-1 axis when none given.
inline Shape squeeze_shape(const Shape& in, std::optional<std::span<const std::int64_t>> axes) {
  Shape out;
  if (!axes) {
    for (std::int64_t d : in)
      if (d != 1) out.push_back(d);
    return out;
  }
  const IntList ax = normalize_axes(*axes, in.rank(), "squeeze");
  for (int i = 0; i < in.rank(); ++i) {
    const bool drop = std::find(ax.begin(), ax.end(), i) != ax.end();
    check(!drop || in[i] == 1, "squeeze: axis ", i, " of ", in, " has extent ", in[i], ", not 1");
    if (!drop) out.push_back(in[i]);
  }
  return out;
}

// ONNX Unsqueeze: inserts extent-1 axes at the given positions of the output.
inline Shape unsqueeze_shape(const Shape& in, std::span<const std::int64_t> axes) {
  const int r = in.rank() + static_cast<int>(axes.size());
  check(r <= Shape::kMaxRank, "unsqueeze: output rank ", r, " is above ", Shape::kMaxRank);
  const IntList ax = normalize_axes(axes, r, "unsqueeze");
  Shape out;
  int next = 0;
  for (int i = 0; i < r; ++i) out.push_back(std::find(ax.begin(), ax.end(), i) != ax.end() ? 1 : in[next++]);
  return out;
}

// ONNX Shape (opset 15): the extents start … end−1, negative bounds counted from the end, clamped.
inline std::pair<int, int> shape_op_range(int rank, std::int64_t start, std::int64_t end) {
  auto clamp = [&](std::int64_t v) {
    if (v < 0) v += rank;
    return static_cast<int>(std::clamp<std::int64_t>(v, 0, rank));
  };
  const int s = clamp(start);
  return {s, std::max(s, clamp(end))};
}

// ---- kernels -----------------------------------------------------------------------------------

class ReshapeKernel final : public OpKernel {
 public:
  explicit ReshapeKernel(const NodeInfo& n) {
    allowzero_ = n.opset() >= 14 && n.attrs().get_int("allowzero", 0) != 0;
    check_input_dtype(n, 1, {DType::i64}, "shape (input 1)");
    if (const Tensor* s = n.constant_input(1)) {
      spec_ = read_ints(*s, "shape (input 1)");
      // Validate what does not depend on the input now: count of −1, values below −1.
      check(std::count(spec_->begin(), spec_->end(), -1) <= 1, "reshape: the target shape has more than one -1");
      for (std::int64_t d : *spec_) check(d >= -1, "reshape: invalid extent ", d, " in the target shape");
    }
  }
  void run(KernelContext& ctx) const override {
    const TensorRef& x = ctx.in(0);
    const IntList spec = spec_ ? *spec_ : read_ints(ctx.in(1), "shape (input 1)");
    copy_with_shape(ctx, x, reshape_shape(x.shape, spec.span(), allowzero_));
  }

 private:
  bool allowzero_ = false;
  std::optional<IntList> spec_;
};

class FlattenKernel final : public OpKernel {
 public:
  explicit FlattenKernel(const NodeInfo& n) : axis_(n.attrs().get_int("axis", 1)) {
    check(n.opset() >= 11 || axis_ >= 0, "flatten: negative axis ", axis_, " needs opset 11");
    check_axis(n, 0, axis_, 1);
  }
  void run(KernelContext& ctx) const override {
    const TensorRef& x = ctx.in(0);
    copy_with_shape(ctx, x, flatten_shape(x.shape, axis_));
  }

 private:
  std::int64_t axis_;
};

// Axes as an attribute (opset < 13) or as input 1 (opset ≥ 13; constant or computed).
class AxesArg {
 public:
  AxesArg(const NodeInfo& n, bool required) : from_input_(n.opset() >= 13) {
    if (!from_input_) {
      if (required || n.attrs().has("axes")) axes_ = IntList(n.attrs().get_ints("axes"));
      check(!required || !axes_->empty(), "attribute 'axes' is required and must not be empty");
    } else if (const Tensor* t = n.constant_input(1)) {
      axes_ = read_ints(*t, "axes (input 1)");
    } else {
      check(!required || n.has_input(1), "input 1 (axes) is required");
      check_input_dtype(n, 1, {DType::i64}, "axes (input 1)");
    }
  }
  // nullopt: no axes given.
  std::optional<IntList> get(const KernelContext& ctx) const {
    if (axes_ || !from_input_ || !ctx.has(1)) return axes_;
    return read_ints(ctx.in(1), "axes (input 1)");
  }

 private:
  bool from_input_;
  std::optional<IntList> axes_;
};

class SqueezeKernel final : public OpKernel {
 public:
  explicit SqueezeKernel(const NodeInfo& n) : axes_(n, false) {}
  void run(KernelContext& ctx) const override {
    const TensorRef& x = ctx.in(0);
    const auto axes = axes_.get(ctx);
    copy_with_shape(ctx, x, axes ? squeeze_shape(x.shape, axes->span()) : squeeze_shape(x.shape, std::nullopt));
  }

 private:
  AxesArg axes_;
};

class UnsqueezeKernel final : public OpKernel {
 public:
  explicit UnsqueezeKernel(const NodeInfo& n) : axes_(n, true) {}
  void run(KernelContext& ctx) const override {
    const TensorRef& x = ctx.in(0);
    const auto axes = axes_.get(ctx);
    check(axes.has_value(), "input 1 (axes) is required");
    copy_with_shape(ctx, x, unsqueeze_shape(x.shape, axes->span()));
  }

 private:
  AxesArg axes_;
};

class ShapeKernel final : public OpKernel {
 public:
  explicit ShapeKernel(const NodeInfo& n) {
    if (n.opset() >= 15) {
      start_ = n.attrs().get_int("start", 0);
      end_ = n.attrs().get_int("end", std::numeric_limits<std::int64_t>::max());
    }
  }
  void run(KernelContext& ctx) const override {
    const Shape& s = ctx.in(0).shape;
    const auto [b, e] = shape_op_range(s.rank(), start_, end_);
    TensorRef& y = ctx.output(0, DType::i64, Shape{e - b});
    const auto out = y.mut<std::int64_t>();
    for (int i = b; i < e; ++i) out(i - b) = s[i];
  }

 private:
  std::int64_t start_ = 0;
  std::int64_t end_ = std::numeric_limits<std::int64_t>::max();
};

class IdentityKernel final : public OpKernel {
 public:
  explicit IdentityKernel(const NodeInfo&) {}
  void run(KernelContext& ctx) const override {
    const TensorRef& x = ctx.in(0);
    copy_with_shape(ctx, x, x.shape);
  }
};

// Dropout at inference: y = x, and the mask (if connected) all true. Training mode draws random
// numbers, which an inference runtime does not reproduce: refused, except with ratio 0, where
// training mode is the identity too (ONNX: "if ratio is 0 ... output = input, mask = ones").
class DropoutKernel final : public OpKernel {
 public:
  explicit DropoutKernel(const NodeInfo& n) : opset_(n.opset()), mask_(output_used(n, 1)) {
    if (opset_ < 12) {
      ratio_ = n.attrs().get_float("ratio", 0.5f);
    } else {
      (void)n.attrs().get_int("seed", 0);  // only drives training-mode randomness
      const Tensor* ratio = n.constant_input(1);
      const Tensor* training = n.constant_input(2);
      if (ratio) ratio_ = read_scalar<float>(TensorRef::of(*ratio), "ratio (input 1)");
      if (training && (ratio || !n.has_input(1)))
        check_training(read_scalar<bool>(TensorRef::of(*training), "training_mode (input 2)"), ratio_);
    }
  }
  void run(KernelContext& ctx) const override {
    if (opset_ >= 12 && ctx.has(2)) {
      const float ratio = ctx.has(1) ? read_scalar<float>(ctx.in(1), "ratio (input 1)") : 0.5f;
      check_training(read_scalar<bool>(ctx.in(2), "training_mode (input 2)"), ratio);
    }
    const TensorRef& x = ctx.in(0);
    copy_with_shape(ctx, x, x.shape);
    if (!mask_) return;
    // Opset 10 made the mask bool; before, it had the input's type.
    const DType mt = opset_ >= 10 ? DType::boolean : x.dtype;
    const TensorRef& m = ctx.output(1, mt, x.shape);
    visit_dtype(mt, [&](auto t) {
      using T = decltype(t);
      const auto v = m.mut<T>();
      std::fill(v.data(), v.data() + v.numel(), ref::cast_value<T>(true));
    });
  }

 private:
  static void check_training(bool training, float ratio) {
    check(!training || ratio == 0.0f, "Dropout in training mode (ratio ", ratio,
          ") is random; qnn runs inference only");
  }
  std::int64_t opset_;
  bool mask_;
  float ratio_ = 0.5f;
};

}  // namespace qnn::ops
// ---- end qnn/runtime/ops/shape_ops.hpp -------------------------------------------------------------

namespace qnn::ops {

inline void register_tensor_ops(KernelRegistry& r) {
  r.add("", "Reshape", 5, factory<ReshapeKernel>());  // opset 1 had the shape as an attribute
  r.add("", "Flatten", 1, factory<FlattenKernel>());
  r.add("", "Squeeze", 1, factory<SqueezeKernel>());
  r.add("", "Unsqueeze", 1, factory<UnsqueezeKernel>());
  r.add("", "Shape", 1, factory<ShapeKernel>());
  r.add("", "Identity", 1, factory<IdentityKernel>());
  r.add("", "Dropout", 7, factory<DropoutKernel>());  // opsets 1 and 6 had is_test
  r.add("", "Transpose", 1, factory<TransposeKernel>());
  r.add("", "Gather", 1, factory<GatherKernel>());
  r.add("", "Slice", 1, factory<SliceKernel>());
  r.add("", "Pad", 2, factory<PadKernel>());  // opset 1 named the attribute 'paddings'
  r.add("", "Concat", 1, factory<ConcatKernel>());
  r.add("", "Cast", 6, factory<CastKernel>());  // opset 1 gave 'to' as a string
}

}  // namespace qnn::ops
// ---- end qnn/runtime/ops/tensor_ops.hpp ------------------------------------------------------------

namespace qnn {

#if defined(QNN_COMPILED_REGISTRY)
const KernelRegistry& builtin_registry() {
#else
inline const KernelRegistry& builtin_registry() {
#endif
  static const KernelRegistry registry = [] {
    KernelRegistry r;
    ops::register_tensor_ops(r);
    ops::register_float_ops(r);
    ops::register_quantized_ops(r);
    return r;
  }();
  return registry;
}

}  // namespace qnn

#endif
// ---- end qnn/runtime/ops/registry.hpp --------------------------------------------------------------

namespace qnn::backends::cpu {

namespace detail {
inline const KernelRegistry& registry_of(const NodeInfo& info) {
  return info.registry() ? *info.registry() : builtin_registry();
}
}  // namespace detail

template <bool Reference>
class RegistryBackend {
 public:
  static constexpr std::string_view name = Reference ? "cpu-ref" : "cpu";
  using Kernel = OpKernel;
  using Ticket = ReadyTicket;

  Support supports(const NodeInfo&) const { return Support::yes(); }

  std::unique_ptr<Kernel> prepare(const NodeInfo& info) const {
    if constexpr (Reference) {
      SessionOptions o = info.options();
      o.reference_kernels = true;
      return detail::registry_of(info).make(NodeInfo(info.node(), info.graph(), o, info.registry()));
    } else {
      return detail::registry_of(info).make(info);
    }
  }

  void run(const Kernel& k, KernelContext& ctx) const { k.run(ctx); }
  Ticket submit(const Kernel& k, KernelContext& ctx) const {
    k.run(ctx);
    return {};
  }
  void wait(Ticket&) const {}
};

using SimdBackend = RegistryBackend<false>;
using ReferenceBackend = RegistryBackend<true>;

static_assert(Backend<SimdBackend>);
static_assert(Backend<ReferenceBackend>);

}  // namespace qnn::backends::cpu
// ---- end qnn/backends/cpu/cpu.hpp ------------------------------------------------------------------
// ---- begin qnn/backends/partition.hpp --------------------------------------------------------------
// The partition report: for every node of a prepared session, the device that runs it or the exact
// reason it falls back to the CPU, with totals of nodes and multiply-accumulates per device — what
// the VitisAI execution provider writes to vitisai_ep_report.json, available before any hardware is
// touched (BasicSession::partition(), `qnn inspect --backend NAME`).
//
// MACs are those of one batch-1 inference, recorded by the session's probe run (OpKernel::macs);
// a session made without the probe (SessionOptions::probe off, or inputs with dynamic axes other
// than the batch) reports them as unknown (−1). A device subgraph is a connected set of nodes on
// the session's backend: two of its nodes are connected when one reads a value the other produces.
// Each subgraph is one hand-over between host and device in each direction at least.

#include <cstdint>
#include <iomanip>
#include <sstream>
#include <string>
#include <vector>

// ---- begin qnn/io/json.hpp -------------------------------------------------------------------------
// A minimal JSON writer for qnn's reports (inspect, profile, the per-layer error report): values
// are built as a tree and printed with two-space indentation. Strings are escaped per RFC 8259;
// non-finite numbers, which JSON cannot hold, are written as null.

#include <cmath>
#include <cstdint>
#include <iomanip>
#include <map>
#include <memory>
#include <ostream>
#include <sstream>
#include <string>
#include <utility>
#include <tuple>
#include <variant>
#include <vector>

namespace qnn::json {

class Value {
 public:
  using Object = std::vector<std::pair<std::string, Value>>;  // keeps insertion order
  using Array = std::vector<Value>;

  Value() : v_(nullptr) {}
  Value(std::nullptr_t) : v_(nullptr) {}
  Value(bool b) : v_(b) {}
  Value(int i) : v_(static_cast<std::int64_t>(i)) {}
  Value(std::int64_t i) : v_(i) {}
  Value(std::size_t i) : v_(static_cast<std::int64_t>(i)) {}
  Value(double d) : v_(d) {}
  Value(float d) : v_(static_cast<double>(d)) {}
  Value(const char* s) : v_(std::string(s)) {}
  Value(std::string s) : v_(std::move(s)) {}
  Value(Array a) : v_(std::make_shared<Array>(std::move(a))) {}
  Value(Object o) : v_(std::make_shared<Object>(std::move(o))) {}

  static Value object() { return Value(Object{}); }
  static Value array() { return Value(Array{}); }

  // Appends to an object (key, value) or an array (value).
  // The element is constructed in place: moving a whole variant here makes GCC 12 report a false
  // -Wmaybe-uninitialized on the string alternative.
  template <class T>
  // key is moved (through forward_as_tuple), which clang-tidy 14 does not see.
  // NOLINTNEXTLINE(performance-unnecessary-value-param)
  Value& set(std::string key, T&& v) {
    std::get<std::shared_ptr<Object>>(v_)->emplace_back(std::piecewise_construct, std::forward_as_tuple(std::move(key)),
                                                        std::forward_as_tuple(std::forward<T>(v)));
    return *this;
  }
  template <class T>
  Value& push(T&& v) {
    std::get<std::shared_ptr<Array>>(v_)->emplace_back(std::forward<T>(v));
    return *this;
  }

  void write(std::ostream& os, int indent = 0) const {
    const std::string pad(static_cast<std::size_t>(indent), ' ');
    const std::string pad2(static_cast<std::size_t>(indent + 2), ' ');
    std::visit(
        [&](const auto& x) {
          using T = std::decay_t<decltype(x)>;
          if constexpr (std::same_as<T, std::nullptr_t>) {
            os << "null";
          } else if constexpr (std::same_as<T, bool>) {
            os << (x ? "true" : "false");
          } else if constexpr (std::same_as<T, std::int64_t>) {
            os << x;
          } else if constexpr (std::same_as<T, double>) {
            if (!std::isfinite(x)) {
              os << "null";
            } else {
              std::ostringstream s;
              s << std::setprecision(9) << x;
              os << s.str();
            }
          } else if constexpr (std::same_as<T, std::string>) {
            write_string(os, x);
          } else if constexpr (std::same_as<T, std::shared_ptr<Array>>) {
            if (x->empty()) {
              os << "[]";
              return;
            }
            os << "[\n";
            for (std::size_t i = 0; i < x->size(); ++i) {
              os << pad2;
              (*x)[i].write(os, indent + 2);
              os << (i + 1 < x->size() ? ",\n" : "\n");
            }
            os << pad << "]";
          } else {
            if (x->empty()) {
              os << "{}";
              return;
            }
            os << "{\n";
            for (std::size_t i = 0; i < x->size(); ++i) {
              os << pad2;
              write_string(os, (*x)[i].first);
              os << ": ";
              (*x)[i].second.write(os, indent + 2);
              os << (i + 1 < x->size() ? ",\n" : "\n");
            }
            os << pad << "}";
          }
        },
        v_);
  }
  std::string dump() const {
    std::ostringstream os;
    write(os);
    os << "\n";
    return os.str();
  }

 private:
  static void write_string(std::ostream& os, const std::string& s) {
    os << '"';
    for (unsigned char c : s) {
      switch (c) {
        case '"': os << "\\\""; break;
        case '\\': os << "\\\\"; break;
        case '\n': os << "\\n"; break;
        case '\r': os << "\\r"; break;
        case '\t': os << "\\t"; break;
        default:
          if (c < 0x20) {
            os << "\\u" << std::hex << std::setw(4) << std::setfill('0') << int{c} << std::dec << std::setfill(' ');
          } else {
            os << static_cast<char>(c);
          }
      }
    }
    os << '"';
  }

  std::variant<std::nullptr_t, bool, std::int64_t, double, std::string, std::shared_ptr<Array>, std::shared_ptr<Object>> v_;
};

}  // namespace qnn::json
// ---- end qnn/io/json.hpp ---------------------------------------------------------------------------

namespace qnn::backends {

struct NodePlacement {
  std::string node;        // node name
  std::string op;          // domain.op_type, "+relu" when an activation is fused
  std::string device;      // the backend that runs it
  std::string reason;      // why the session's backend does not; empty when it does
  std::int64_t macs = -1;  // per batch-1 inference; −1 unknown
};

struct DeviceTotals {
  std::string device;
  std::int64_t nodes = 0;
  std::int64_t macs = 0;  // −1 when some node's MACs are unknown
};

struct Partition {
  std::string backend;               // the session's backend
  std::string fallback;              // the backend declined nodes run on
  std::vector<NodePlacement> nodes;  // in execution order
  int subgraphs = 0;                 // connected subgraphs on `backend`

  // The session's backend first, then the fallback (each listed even with no nodes, when they differ).
  std::vector<DeviceTotals> totals() const {
    std::vector<DeviceTotals> t{{backend, 0, 0}};
    if (fallback != backend) t.push_back({fallback, 0, 0});
    for (const NodePlacement& p : nodes) {
      DeviceTotals* d = nullptr;
      for (DeviceTotals& x : t)
        if (x.device == p.device) d = &x;
      if (!d) {
        t.push_back({p.device, 0, 0});
        d = &t.back();
      }
      ++d->nodes;
      d->macs = (d->macs < 0 || p.macs < 0) ? -1 : d->macs + p.macs;
    }
    return t;
  }
  std::int64_t total_macs() const {
    std::int64_t m = 0;
    for (const NodePlacement& p : nodes) {
      if (p.macs < 0) return -1;
      m += p.macs;
    }
    return m;
  }
  std::int64_t fallbacks() const {
    std::int64_t n = 0;
    for (const NodePlacement& p : nodes) n += !p.reason.empty();
    return n;
  }
};

// "domain.op_type", with "+relu" / "+clip" when the graph passes fused an activation into the node
// and "+maxpool" when they fused a pooling.
// Reads the attribute map directly, so the lookup is not recorded as a use of the attribute.
inline std::string op_label(const Node& n) {
  std::string s = n.domain;
  if (!s.empty()) s.push_back('.');
  s += n.op_type;
  if (const auto* act = n.attrs.peek<std::string>("qnn_activation")) {
    s.push_back('+');
    s += *act;
  }
  if (const auto* pool = n.attrs.peek<std::string>("qnn_pool")) {
    s.push_back('+');
    s += *pool + "pool";
  }
  return s;
}

namespace detail {
inline std::string grouped(std::int64_t v) {
  if (v < 0) return "?";
  const std::string digits = std::to_string(v);
  std::string s;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) s.push_back(',');
    s.push_back(digits[i]);
  }
  return s;
}
inline std::string percent(std::int64_t part, std::int64_t whole) {
  if (part < 0 || whole <= 0) return "-";
  std::ostringstream os;
  os << std::fixed << std::setprecision(1) << 100.0 * double(part) / double(whole) << " %";
  return os.str();
}
}  // namespace detail

// Text form:
//   partition on npu-emu: 8 of 10 nodes, 100.0 % of 4,335,600 MACs, in 1 subgraph
//     device     nodes  MACs        share
//     npu-emu        8  4,335,600   100.0 %
//     cpu            2  0           0.0 %
//   fallbacks:
//     #0 input_QuantizeLinear (QuantizeLinear) -> cpu: <reason>
inline std::string format_partition(const Partition& p) {
  std::ostringstream os;
  const auto totals = p.totals();
  const std::int64_t all = p.total_macs();
  os << "partition on " << p.backend << ": " << totals[0].nodes << " of " << p.nodes.size() << " nodes, "
     << detail::percent(totals[0].macs, all) << " of " << detail::grouped(all) << " MACs, in " << p.subgraphs
     << (p.subgraphs == 1 ? " subgraph\n" : " subgraphs\n");
  os << "  " << std::left << std::setw(10) << "device" << std::right << std::setw(6) << "nodes" << "  " << std::left
     << std::setw(14) << "MACs" << "share\n";
  for (const DeviceTotals& t : totals)
    os << "  " << std::left << std::setw(10) << t.device << std::right << std::setw(6) << t.nodes << "  " << std::left
       << std::setw(14) << detail::grouped(t.macs) << detail::percent(t.macs, all) << "\n";
  if (p.fallbacks() == 0) {
    os << "fallbacks: none\n";
  } else {
    os << "fallbacks:\n";
    for (std::size_t i = 0; i < p.nodes.size(); ++i) {
      const NodePlacement& n = p.nodes[i];
      if (n.reason.empty()) continue;
      os << "  #" << i << " " << n.node << " (" << n.op << ") -> " << n.device << ": " << n.reason << "\n";
    }
  }
  return os.str();
}

// JSON form: {"backend", "fallback", "subgraphs", "total_macs", "devices": [{"device", "nodes",
// "macs"}], "nodes": [{"index", "name", "op", "device", "reason"?, "macs"}]}.
inline json::Value partition_json(const Partition& p) {
  json::Value devices = json::Value::array();
  for (const DeviceTotals& t : p.totals())
    devices.push(json::Value::object().set("device", t.device).set("nodes", t.nodes).set("macs", t.macs));
  json::Value nodes = json::Value::array();
  for (std::size_t i = 0; i < p.nodes.size(); ++i) {
    const NodePlacement& n = p.nodes[i];
    json::Value v = json::Value::object();
    v.set("index", i).set("name", n.node).set("op", n.op).set("device", n.device);
    if (!n.reason.empty()) v.set("reason", n.reason);
    v.set("macs", n.macs);
    nodes.push(std::move(v));
  }
  return json::Value::object()
      .set("backend", p.backend)
      .set("fallback", p.fallback)
      .set("subgraphs", p.subgraphs)
      .set("total_macs", p.total_macs())
      .set("devices", devices)
      .set("nodes", nodes);
}

}  // namespace qnn::backends
// ---- end qnn/backends/partition.hpp ----------------------------------------------------------------
// ---- begin qnn/runtime/optimize.hpp ----------------------------------------------------------------
// The graph passes a session runs before making kernels, in order:
//   1. Identity/Dropout removal          graph/passes/cleanup.hpp
//   2. constant folding                  runtime/constant_folding.hpp
//   3. BatchNormalization folding        graph/passes/fold_batchnorm.hpp
//   4. shape probing: value dims, Reshape shape chains folded, dead nodes removed
//                                        runtime/shape_probe.hpp, graph/passes/dead_code.hpp
//   5. QDQ lowering to integer ops       graph/passes/lower_qdq.hpp
//   6. Relu/Clip fusion into float Conv/Gemm/MatMul   graph/passes/fuse_activation.hpp
//   7. MaxPool fusion into Conv/QLinearConv            graph/passes/fuse_pool.hpp
//   8. input ranges of QLinearConv/QGemm               graph/passes/input_range.hpp
//      — 7 and 8 only when the nodes will run on the CPU backend's fast kernels (`cpu_kernels`): a
//      device backend decides what it takes by the ONNX nodes, and the reference kernels run
//      pooling on its own and have no use for ranges.
// With SessionOptions::optimize off, only the topological sort runs: the graph executes as
// written (QDQ models then run DequantizeLinear → float op → QuantizeLinear).

// ---- begin qnn/graph/passes/cleanup.hpp ------------------------------------------------------------
// Inference-time no-ops: Identity, and Dropout (which is the identity at inference; its optional
// mask output must be unused). Their output is replaced by their input everywhere.

#include <vector>

namespace qnn::passes {

inline int remove_identities(Graph& g) {
  std::vector<bool> dead(g.nodes.size(), false);
  int removed = 0;
  for (std::size_t i = 0; i < g.nodes.size(); ++i) {
    Node& n = g.nodes[i];
    if (!n.domain.empty() || (n.op_type != "Identity" && n.op_type != "Dropout")) continue;
    if (n.op_type == "Dropout") {
      if (n.outputs.size() > 1 && !n.outputs[1].empty() && !g.consumers(n.outputs[1]).empty()) continue;
      if (n.has_input(2)) continue;  // training_mode given: leave it to the kernel to check
    }
    if (n.inputs.empty() || n.outputs.empty() || n.inputs[0].empty()) continue;
    const std::string in = n.inputs[0];
    const std::string out = n.outputs[0];
    if (g.is_graph_output(out) && (g.is_graph_output(in) ||
                                   std::find(g.inputs.begin(), g.inputs.end(), in) != g.inputs.end()))
      continue;  // keep a node so the output stays a distinct value
    if (g.is_graph_output(out)) {
      // Rename the producer's output instead, so the graph output keeps its name.
      const int p = g.producer(in);
      if (p < 0 || g.consumers(in).size() != 1) continue;
      for (auto& o : g.nodes[static_cast<std::size_t>(p)].outputs)
        if (o == in) o = out;
    } else {
      g.replace_uses(out, in);
    }
    dead[i] = true;
    ++removed;
  }
  g.erase_nodes(dead);
  return removed;
}

}  // namespace qnn::passes
// ---- end qnn/graph/passes/cleanup.hpp --------------------------------------------------------------
// ---- begin qnn/graph/passes/dead_code.hpp ----------------------------------------------------------
// Removes nodes none of whose outputs is read (by a node or as a graph output), repeatedly, so a
// chain left dangling by another pass (the Shape→Gather→...→Concat of a folded Reshape) goes too.

#include <set>
#include <vector>

namespace qnn::passes {

inline int remove_dead_nodes(Graph& g) {
  int removed = 0;
  while (true) {
    std::set<std::string> read(g.outputs.begin(), g.outputs.end());
    for (const Node& n : g.nodes) read.insert(n.inputs.begin(), n.inputs.end());
    std::vector<bool> dead(g.nodes.size(), false);
    bool any = false;
    for (std::size_t i = 0; i < g.nodes.size(); ++i) {
      bool used = false;
      for (const auto& o : g.nodes[i].outputs) used = used || (!o.empty() && read.count(o));
      if (!used) {
        dead[i] = true;
        any = true;
        ++removed;
      }
    }
    if (!any) return removed;
    g.erase_nodes(dead);
  }
}

}  // namespace qnn::passes
// ---- end qnn/graph/passes/dead_code.hpp ------------------------------------------------------------
// ---- begin qnn/graph/passes/fold_batchnorm.hpp -----------------------------------------------------
// BatchNormalization folded into the Conv or Gemm before it.
//
// y = γ·(conv(x) − μ)/√(σ² + ε) + β = conv'(x) with, per output channel c,
//   W'[c] = W[c]·k[c],  b'[c] = (b[c] − μ[c])·k[c] + β[c],  k[c] = γ[c]/√(σ²[c] + ε)
// computed in double and rounded once to fp32. It applies when the producer is a float Conv (or a
// Gemm whose output channel is its column: BatchNorm1d after Linear) with constant weights and
// bias, it has no other reader, and all BN parameters are constants. A BN with nothing to fold into
// stays and runs as its own op.

#include <cmath>
#include <string>
#include <vector>

namespace qnn::passes {

namespace detail {
inline std::vector<double> bn_factor(const Tensor& scale, const Tensor& var, float eps) {
  const auto g = scale.span<float>();
  const auto v = var.span<float>();
  std::vector<double> k(g.size());
  for (std::size_t c = 0; c < g.size(); ++c) k[c] = double{g[c]} / std::sqrt(double{v[c]} + double{eps});
  return k;
}

inline bool all_f32_constants(const Graph& g, const Node& n, std::size_t first, std::size_t last) {
  for (std::size_t i = first; i <= last; ++i) {
    const Tensor* t = n.has_input(i) ? g.constant(n.inputs[i]) : nullptr;
    if (!t || t->dtype() != DType::f32) return false;
  }
  return true;
}
}  // namespace detail

inline int fold_batchnorm(Graph& g) {
  return fuse_into_producer(g, [&](Node& prod, const Node& bn) {
    if (!bn.domain.empty() || bn.op_type != "BatchNormalization" || bn.inputs.size() != 5) return false;
    if (bn.outputs.size() > 1) return false;  // training outputs requested
    if (bn.attrs.get_int("training_mode", 0) != 0) return false;
    if (!detail::all_f32_constants(g, bn, 1, 4)) return false;
    if (!prod.domain.empty()) return false;
    const bool conv = prod.op_type == "Conv";
    const bool gemm = prod.op_type == "Gemm";
    if (!conv && !gemm) return false;
    const Tensor* w = prod.has_input(1) ? g.constant(prod.inputs[1]) : nullptr;
    if (!w || w->dtype() != DType::f32) return false;
    const Tensor* b = prod.has_input(2) ? g.constant(prod.inputs[2]) : nullptr;
    if (prod.has_input(2) && (!b || b->dtype() != DType::f32)) return false;
    if (gemm && (prod.attrs.get_float("alpha", 1.0f) != 1.0f || prod.attrs.get_float("beta", 1.0f) != 1.0f ||
                 prod.attrs.get_int("transA", 0) != 0))
      return false;

    const Tensor& gamma = *g.constant(bn.inputs[1]);
    const Tensor& beta = *g.constant(bn.inputs[2]);
    const Tensor& mean = *g.constant(bn.inputs[3]);
    const Tensor& var = *g.constant(bn.inputs[4]);
    const std::int64_t channels = gamma.numel();
    const bool trans_b = gemm && prod.attrs.get_int("transB", 0) != 0;
    const int ch_axis = conv ? 0 : (trans_b ? 0 : 1);
    if (w->shape().rank() < 2 || w->shape()[ch_axis] != channels) return false;
    if (beta.numel() != channels || mean.numel() != channels || var.numel() != channels) return false;
    if (b && b->numel() != channels) return false;

    const auto k = detail::bn_factor(gamma, var, bn.attrs.get_float("epsilon", 1e-5f));
    Tensor w2 = *w;  // the model's tensor stays as it was; the folded copy replaces the reference
    auto wv = w2.span<float>();
    const std::int64_t inner = w2.numel() / w2.shape()[0];
    for (std::int64_t idx = 0; idx < w2.numel(); ++idx) {
      const std::int64_t c = ch_axis == 0 ? idx / inner : idx % w2.shape()[1];
      wv[static_cast<std::size_t>(idx)] =
          static_cast<float>(double{wv[static_cast<std::size_t>(idx)]} * k[static_cast<std::size_t>(c)]);
    }
    Tensor b2(DType::f32, Shape{channels});
    auto bv = b2.span<float>();
    for (std::int64_t c = 0; c < channels; ++c) {
      const auto u = static_cast<std::size_t>(c);
      const double bias = b ? double{b->span<float>()[u]} : 0.0;
      bv[u] = static_cast<float>((bias - double{mean.span<float>()[u]}) * k[u] + double{beta.span<float>()[u]});
    }
    const std::string wname = g.add_constant(prod.inputs[1] + "_bn_folded", std::move(w2));
    const std::string bname = g.add_constant(bn.name + "_bias_folded", std::move(b2));
    prod.inputs[1] = wname;
    if (prod.inputs.size() < 3) prod.inputs.resize(3);
    prod.inputs[2] = bname;
    // fuse_into_producer gives the producer the BN's output name: graph outputs and readers are unchanged.
    return true;
  });
}

}  // namespace qnn::passes
// ---- end qnn/graph/passes/fold_batchnorm.hpp -------------------------------------------------------
// ---- begin qnn/graph/passes/fuse_pool.hpp ----------------------------------------------------------
// MaxPool fused into the Conv or QLinearConv before it: the conv pools each image's output while it
// is still in cache (kernels/cpu/conv.hpp, ConvOutput) instead of writing the full-size tensor for a
// separate pass to read back. For conv1 of the Fashion-MNIST CNN at batch 256 that tensor is 25.7 MB
// in fp32, so both passes ran from memory. The conv node takes attribute qnn_pool = "max" and the
// MaxPool's attributes under the prefix qnn_pool_, and its output becomes the MaxPool's.
//
// Max pooling only selects values, so the fused node computes exactly what the two did (an integer
// conv may pool its int32 sums instead, exact by docs/numerics.md §4.7). It applies
// when the conv's output has no other reader and is not a graph output (calibration and the
// per-layer report observe conv outputs as graph outputs), the MaxPool's Indices output is unused,
// and the conv is a fast-path one: float Conv, or QLinearConv on 8-bit activations (int16 ones run
// the reference conv, which would then need a full-size temporary). Sessions run it on the CPU
// backend only: another backend judges nodes by their ONNX form (runtime/optimize.hpp).

#include <string>

namespace qnn::passes {

namespace fuse_pool_detail {

inline bool fast_conv(const Graph& g, const Node& n) {
  if (!n.domain.empty() || n.outputs.size() != 1 || n.attrs.all().count("qnn_pool")) return false;
  if (n.op_type == "Conv") return true;
  if (n.op_type != "QLinearConv" || !n.has_input(2)) return false;
  const Tensor* zx = g.constant(n.inputs[2]);
  return zx && (zx->dtype() == DType::u8 || zx->dtype() == DType::i8);
}

// MaxPool attributes whose meaning the fused kernel reads (runtime/ops/window_attrs.hpp).
inline bool known_attributes(const Node& pool) {
  for (const auto& [name, v] : pool.attrs.all())
    if (name != "auto_pad" && name != "ceil_mode" && name != "dilations" && name != "kernel_shape" && name != "pads" &&
        name != "strides" && name != "storage_order")
      return false;
  return true;
}

}  // namespace fuse_pool_detail

inline int fuse_pools(Graph& g) {
  return fuse_into_producer(g, [&](Node& conv, const Node& pool) {
    if (!pool.domain.empty() || pool.op_type != "MaxPool" || pool.inputs.size() != 1) return false;
    if (pool.outputs.size() != 1 && !(pool.outputs.size() == 2 && pool.outputs[1].empty())) return false;
    if (!fuse_pool_detail::known_attributes(pool) || !fuse_pool_detail::fast_conv(g, conv)) return false;
    conv.attrs.set("qnn_pool", std::string("max"));
    for (const auto& [name, v] : pool.attrs.all()) conv.attrs.set("qnn_pool_" + name, v);
    return true;
  });
}

}  // namespace qnn::passes
// ---- end qnn/graph/passes/fuse_pool.hpp ------------------------------------------------------------
// ---- begin qnn/runtime/constant_folding.hpp --------------------------------------------------------
// Constant folding: a node whose inputs are all constant runs once, when the session is prepared,
// through the same kernel that would run it at inference, and its outputs become constants.
//
// DequantizeLinear is never folded: a QDQ model's DQ(weight) is how the model states the weight's
// quantization, which QDQ lowering needs to see. (QuantizeLinear of a float weight is folded: the
// result is the int8 weight the model means.)

#include <memory>
#include <vector>

namespace qnn {

namespace detail {
class FoldContext final : public KernelContext {
 public:
  explicit FoldContext(std::vector<const Tensor*> ins, std::size_t n_out) : ins_(std::move(ins)), outs_(n_out) {
    for (const Tensor* t : ins_) refs_.push_back(t ? TensorRef::of(*t) : TensorRef{});
  }
  std::size_t num_inputs() const override { return ins_.size(); }
  const TensorRef* input(std::size_t i) const override { return ins_[i] ? &refs_[i] : nullptr; }
  TensorRef& output(std::size_t i, DType dtype, const Shape& shape) override {
    check(i < outs_.size(), "output ", i, " is not connected");
    outs_[i] = Tensor(dtype, shape);
    out_refs_.resize(outs_.size());
    out_refs_[i] = TensorRef::of(outs_[i]);
    return out_refs_[i];
  }
  std::vector<Tensor>& outputs() { return outs_; }

 private:
  std::vector<const Tensor*> ins_;
  std::vector<TensorRef> refs_;
  std::vector<Tensor> outs_;
  std::vector<TensorRef> out_refs_;
};
}  // namespace detail

inline bool foldable(const Node& n) {
  if (n.inputs.empty()) return false;  // sources (random generators) are never folded
  return !(n.domain.empty() && n.op_type == "DequantizeLinear");
}

inline int fold_constants(Graph& g, const SessionOptions& options, const KernelRegistry& registry) {
  std::vector<bool> dead(g.nodes.size(), false);
  int folded = 0;
  for (std::size_t i = 0; i < g.nodes.size(); ++i) {
    const Node& n = g.nodes[i];
    if (!foldable(n) || !registry.supports(n.domain, n.op_type)) continue;
    bool all_const = true;
    std::vector<const Tensor*> ins;
    for (std::size_t k = 0; k < n.inputs.size(); ++k) {
      if (n.inputs[k].empty()) {
        ins.push_back(nullptr);
        continue;
      }
      const Tensor* t = g.constant(n.inputs[k]);
      all_const = all_const && t != nullptr;
      ins.push_back(t);
    }
    if (!all_const) continue;
    const auto kernel = registry.make(NodeInfo(n, g, options));
    detail::FoldContext ctx(ins, n.outputs.size());
    with_context(n.where(), [&] { kernel->run(ctx); });
    for (std::size_t k = 0; k < n.outputs.size(); ++k) {
      if (n.outputs[k].empty()) continue;
      Value& v = g.value(n.outputs[k]);
      v.constant = std::move(ctx.outputs()[k]);
      v.dtype = v.constant->dtype();
      v.dims = std::vector<std::int64_t>(v.constant->shape().begin(), v.constant->shape().end());
    }
    dead[i] = true;
    ++folded;
  }
  g.erase_nodes(dead);
  return folded;
}

}  // namespace qnn
// ---- end qnn/runtime/constant_folding.hpp ----------------------------------------------------------
// ---- begin qnn/runtime/shape_probe.hpp -------------------------------------------------------------
// Shape inference by probing, and the folding it enables.
//
// Every kernel already computes its output shapes from its inputs; rather than restate each op's
// shape rule symbolically, the session runs the (partly optimized) graph twice while preparing,
// with zero inputs whose dynamic batch axis is 1 and then 2, and records every value. A dim equal in
// both runs is static; one that differs depends on the batch. That gives:
//   - Value::dims for every value (kDynamicDim where batch-dependent), for reports and passes;
//   - folding of PyTorch's flatten chain: Reshape(x, Concat(Unsqueeze(Gather(Shape(x), 0)), [-1]))
//     has a shape input that is [1,-1] at batch 1 and [2,-1] at batch 2; an entry that tracks the
//     batch exactly where x's own dim does is "copy that dim" (0 in ONNX Reshape), so the Reshape
//     gets the constant shape [0,-1] and the Shape→Gather→Unsqueeze→Concat chain becomes dead.
// Models whose inputs have dynamic axes other than the first are not probed (their sizes are not
// batch-like); they run correctly, just without this folding.

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace qnn {

struct ShapeProbe {
  std::map<std::string, Tensor> batch1;
  std::map<std::string, Tensor> batch2;
};

// Runs a graph at batch 1 and 2 and returns every value, or nullopt when it cannot be probed.
using ShapeProber = std::function<std::optional<ShapeProbe>(const Graph&)>;

// Inputs for one probe run: zeros, with the dynamic first axis set to `batch`; nullopt if an input
// has an unknown type or rank, or a dynamic axis other than the first.
inline std::optional<std::vector<Tensor>> probe_inputs(const Graph& g, std::int64_t batch) {
  std::vector<Tensor> ins;
  for (const auto& name : g.inputs) {
    const Value& v = g.value(name);
    if (!v.dtype || !v.dims) return std::nullopt;
    Shape s;
    for (std::size_t a = 0; a < v.dims->size(); ++a) {
      const std::int64_t d = (*v.dims)[a];
      if (d == kDynamicDim && a != 0) return std::nullopt;
      s.push_back(d == kDynamicDim ? batch : d);
    }
    ins.emplace_back(*v.dtype, s);
  }
  return ins;
}

inline void annotate_shapes(Graph& g, const ShapeProbe& p) {
  for (auto& [name, v] : g.values) {
    if (v.constant) continue;
    auto a = p.batch1.find(name);
    auto b = p.batch2.find(name);
    if (a == p.batch1.end() || b == p.batch2.end()) continue;
    const Shape& s1 = a->second.shape();
    const Shape& s2 = b->second.shape();
    if (s1.rank() != s2.rank()) continue;
    std::vector<std::int64_t> dims;
    for (int i = 0; i < s1.rank(); ++i) dims.push_back(s1[i] == s2[i] ? s1[i] : kDynamicDim);
    v.dims = dims;
    v.dtype = a->second.dtype();
  }
}

// Replaces the computed shape input of each Reshape by a constant when every entry is either the
// same at both batch sizes or equal to the data input's dim at the same position in both runs.
inline int fold_dynamic_reshapes(Graph& g, const ShapeProbe& p) {
  int folded = 0;
  for (Node& n : g.nodes) {
    if (!n.domain.empty() || n.op_type != "Reshape" || n.inputs.size() < 2 || g.is_constant(n.inputs[1])) continue;
    if (n.attrs.get_int("allowzero", 0) != 0) continue;  // 0 would then mean a literal zero
    const auto s1 = p.batch1.find(n.inputs[1]);
    const auto s2 = p.batch2.find(n.inputs[1]);
    const auto x1 = p.batch1.find(n.inputs[0]);
    const auto x2 = p.batch2.find(n.inputs[0]);
    if (s1 == p.batch1.end() || s2 == p.batch2.end() || x1 == p.batch1.end() || x2 == p.batch2.end()) continue;
    if (s1->second.dtype() != DType::i64 || !(s1->second.shape() == s2->second.shape())) continue;
    const auto a = s1->second.span<std::int64_t>();
    const auto b = s2->second.span<std::int64_t>();
    const Shape& xs1 = x1->second.shape();
    const Shape& xs2 = x2->second.shape();
    std::vector<std::int64_t> fixed;
    bool ok = true;
    for (std::size_t i = 0; i < a.size() && ok; ++i) {
      const int ax = static_cast<int>(i);
      if (a[i] == b[i]) {
        fixed.push_back(a[i]);  // the same constant (a 0 keeps meaning "copy the input dim")
      } else if (ax < xs1.rank() && ax < xs2.rank() && a[i] == xs1[ax] && b[i] == xs2[ax]) {
        fixed.push_back(0);
      } else {
        ok = false;
      }
    }
    if (!ok) continue;
    n.inputs[1] = g.add_constant(n.name + "_shape", Tensor::from<std::int64_t>(
                                                        Shape{static_cast<std::int64_t>(fixed.size())},
                                                        std::span<const std::int64_t>(fixed)));
    ++folded;
  }
  return folded;
}

}  // namespace qnn
// ---- end qnn/runtime/shape_probe.hpp ---------------------------------------------------------------

namespace qnn {

inline void optimize_graph(Graph& g, const SessionOptions& options, const KernelRegistry& registry,
                           const ShapeProber& prober, bool cpu_kernels = false) {
  g.topological_sort();
  if (options.optimize) {
    passes::remove_identities(g);
    fold_constants(g, options, registry);
    passes::fold_batchnorm(g);
    if (const auto probe = prober(g)) {
      annotate_shapes(g, *probe);
      if (fold_dynamic_reshapes(g, *probe)) passes::remove_dead_nodes(g);
    }
    if (passes::lower_qdq(g)) passes::remove_dead_nodes(g);
    passes::fuse_activations(g);
    if (cpu_kernels && !options.reference_kernels) {
      passes::fuse_pools(g);
      passes::annotate_input_ranges(g);
    }
  }
  g.topological_sort();
  g.prune_values();
}

}  // namespace qnn
// ---- end qnn/runtime/optimize.hpp ------------------------------------------------------------------

namespace qnn {

template <backends::Backend B>
class BasicSession;

using Session = BasicSession<backends::cpu::SimdBackend>;

inline std::optional<ShapeProbe> probe_graph(const Graph& g, const SessionOptions& options,
                                             const KernelRegistry& registry);

// What an instrumented run records per step (BasicSession::run_profiled, runtime/profile.hpp).
struct StepStats {
  std::vector<std::int64_t> macs;  // multiply-accumulates of the step on this run's inputs
  std::vector<double> seconds;     // wall time of the step, added to on every run
};

// Per-thread state of a session: the buffers, the run-time tensor table and the backend's tickets.
template <backends::Backend B>
class BasicRunContext {
 public:
  BasicRunContext() = default;

 private:
  friend class BasicSession<B>;
  std::unique_ptr<ThreadPool> pool_;           // worker threads of this context (threads > 1)
  std::vector<cpu::Workspace> workspaces_;     // one scratch area per thread
  std::vector<AlignedBuffer> slots_;
  std::vector<TensorRef> refs_;      // one per value id
  std::vector<bool> present_;        // value ids holding data in this run
  std::vector<typename B::Ticket> tickets_;  // one per step
  std::vector<int> slot_user_;       // per buffer: the last step submitted to B that reads or writes it
};

using RunContext = BasicRunContext<backends::cpu::SimdBackend>;

template <backends::Backend B>
class BasicSession {
 public:
  using backend_type = B;
  using fallback_type = typename backends::fallback_of<B, backends::cpu::SimdBackend>::type;
  using Context = BasicRunContext<B>;
  static_assert(backends::Backend<fallback_type>, "the fallback of a backend must itself be a backend");

  explicit BasicSession(Graph graph, SessionOptions options = {}, const KernelRegistry& registry = builtin_registry())
    requires std::default_initializable<B>
      : BasicSession(std::move(graph), options, registry, B{}) {}

  BasicSession(Graph graph, SessionOptions options, const KernelRegistry& registry, B backend)
      : graph_(std::move(graph)), options_(options), backend_(std::move(backend)) {
    optimize_graph(graph_, options_, registry, [&](const Graph& g) { return probe_graph(g, options_, registry); },
                   B::name == backends::cpu::SimdBackend::name);
    build(registry);
    if (options_.probe) probe();
  }
  BasicSession(const BasicSession&) = delete;
  BasicSession& operator=(const BasicSession&) = delete;

  const Graph& graph() const { return graph_; }
  const SessionOptions& options() const { return options_; }
  const std::vector<std::string>& input_names() const { return graph_.inputs; }
  const std::vector<std::string>& output_names() const { return graph_.outputs; }
  std::size_t num_steps() const { return steps_.size(); }
  const B& backend() const { return backend_; }
  // Where each node runs and why (backends/partition.hpp), decided when the session was prepared.
  const backends::Partition& partition() const { return partition_; }

  // Runs on the caller's context, filling `outputs` (resized; tensors of the right dtype and shape
  // are reused in place).
  void run(Context& ctx, std::span<const Tensor> inputs, std::vector<Tensor>& outputs) const {
    execute(ctx, inputs);
    outputs.resize(output_ids_.size());
    for (std::size_t i = 0; i < output_ids_.size(); ++i) {
      const TensorRef& r = ctx.refs_[static_cast<std::size_t>(output_ids_[i])];
      Tensor& o = outputs[i];
      if (o.dtype() != r.dtype || !(o.shape() == r.shape) || o.bytes() != r.bytes()) o = Tensor(r.dtype, r.shape);
      if (r.bytes()) std::memcpy(o.raw(), r.data, r.bytes());
    }
  }

  // Runs on the caller's context and points `outputs` at the results where they lie in it, without
  // copying; they stay valid until the next run on `ctx`. Calibration reads every probed activation
  // of every batch this way (the copies of run() were 8 % of its time).
  void run_in_place(Context& ctx, std::span<const Tensor> inputs, std::vector<TensorRef>& outputs) const {
    execute(ctx, inputs);
    outputs.clear();
    for (const int id : output_ids_) outputs.push_back(ctx.refs_[static_cast<std::size_t>(id)]);
  }

  // Thread-safe convenience form: borrows a context from the session's pool.
  std::vector<Tensor> run(std::span<const Tensor> inputs) const {
    std::unique_ptr<Context> ctx = acquire();
    std::vector<Tensor> out;
    try {
      run(*ctx, inputs, out);
    } catch (...) {
      release(std::move(ctx));
      throw;
    }
    release(std::move(ctx));
    return out;
  }
  std::vector<Tensor> run(std::initializer_list<Tensor> inputs) const {
    return run(std::span<const Tensor>(inputs.begin(), inputs.size()));
  }

  // An instrumented run (outputs stay in the context): `stats` is sized to num_steps() on first use
  // and each step's time is added to it, so repeated calls accumulate. runtime/profile.hpp builds
  // the per-node report on this.
  void run_profiled(Context& ctx, std::span<const Tensor> inputs, StepStats& stats) const {
    if (stats.seconds.size() != steps_.size()) {
      stats.seconds.assign(steps_.size(), 0.0);
      stats.macs.assign(steps_.size(), -1);
    }
    execute(ctx, inputs, &stats);
  }

 private:
  struct Step {
    const Node* node = nullptr;
    std::unique_ptr<OpKernel> kernel;  // a B::Kernel when on_backend, else a fallback_type::Kernel
    bool on_backend = false;
    std::vector<int> in;   // value ids, -1 for omitted inputs
    std::vector<int> out;  // value ids, -1 for omitted outputs
  };
  enum class Kind : std::uint8_t { input, constant, intermediate };
  struct ValueSlot {
    Kind kind = Kind::intermediate;
    int index = -1;  // input position, or slot number
    const Tensor* constant = nullptr;
    int producer = -1;  // step writing it (intermediates)
  };

  class StepContext final : public KernelContext {
   public:
    StepContext(const BasicSession& s, Context& ctx, const Step& step) : s_(s), ctx_(ctx), step_(step) {}
    std::size_t num_inputs() const override { return step_.in.size(); }
    const TensorRef* input(std::size_t i) const override {
      const int id = step_.in[i];
      return id < 0 ? nullptr : &ctx_.refs_[static_cast<std::size_t>(id)];
    }
    TensorRef& output(std::size_t i, DType dtype, const Shape& shape) override {
      check(i < step_.out.size() && step_.out[i] >= 0, "output ", i, " is not connected");
      const auto id = static_cast<std::size_t>(step_.out[i]);
      const ValueSlot& vs = s_.slots_[id];
      AlignedBuffer& buf = ctx_.slots_[static_cast<std::size_t>(vs.index)];
      const std::size_t bytes = static_cast<std::size_t>(shape.numel()) * size_of(dtype);
      if (buf.size() < bytes) buf = AlignedBuffer(bytes);
      ctx_.refs_[id] = TensorRef{dtype, shape, buf.data()};
      ctx_.present_[id] = true;
      return ctx_.refs_[id];
    }
    int threads() const override { return s_.options_.threads; }
    cpu::Exec exec() override { return cpu::Exec{ctx_.pool_.get(), &ctx_.workspaces_}; }

   private:
    const BasicSession& s_;
    Context& ctx_;
    const Step& step_;
  };

  int id_of(std::map<std::string, int>& ids, const std::string& name) {
    auto it = ids.find(name);
    if (it != ids.end()) return it->second;
    const int id = static_cast<int>(slots_.size());
    ids[name] = id;
    ValueSlot vs;
    if (const Tensor* c = graph_.constant(name)) {
      vs.kind = Kind::constant;
      vs.constant = c;
    }
    slots_.push_back(vs);
    return id;
  }

  // Places each node: on B when B supports it, else on the fallback with B's reason.
  void build(const KernelRegistry& registry) {
    std::map<std::string, int> ids;
    for (std::size_t i = 0; i < graph_.inputs.size(); ++i) {
      const int id = id_of(ids, graph_.inputs[i]);
      slots_[static_cast<std::size_t>(id)].kind = Kind::input;
      slots_[static_cast<std::size_t>(id)].index = static_cast<int>(i);
    }
    partition_.backend = std::string(B::name);
    partition_.fallback = std::string(fallback_type::name);
    for (const Node& n : graph_.nodes) {
      Step s;
      s.node = &n;
      const NodeInfo info(n, graph_, options_, &registry);
      backends::NodePlacement place{n.name, backends::op_label(n), std::string(B::name), "", -1};
      const backends::Support sup = with_context(n.where(), [&] { return backend_.supports(info); });
      if (sup) {
        s.kernel = with_context(n.where(), [&] { return std::unique_ptr<OpKernel>(backend_.prepare(info)); });
        s.on_backend = true;
      } else {
        s.kernel = std::unique_ptr<OpKernel>(fallback_.prepare(info));
        place.device = std::string(fallback_type::name);
        place.reason = sup.reason();
      }
      check(s.kernel != nullptr, n.where(), ": backend ", place.device, " prepared no kernel");
      for (const auto& name : n.inputs) s.in.push_back(name.empty() ? -1 : id_of(ids, name));
      for (const auto& name : n.outputs) s.out.push_back(name.empty() ? -1 : id_of(ids, name));
      for (int id : s.out)
        if (id >= 0 && slots_[static_cast<std::size_t>(id)].kind == Kind::intermediate)
          slots_[static_cast<std::size_t>(id)].producer = static_cast<int>(steps_.size());
      steps_.push_back(std::move(s));
      partition_.nodes.push_back(std::move(place));
    }
    for (const auto& name : graph_.outputs) output_ids_.push_back(id_of(ids, name));
    plan_memory();
    count_subgraphs();
  }

  // Connected sets of nodes on B (an edge: one reads a value the other produces).
  void count_subgraphs() {
    std::vector<int> root(steps_.size());
    std::iota(root.begin(), root.end(), 0);
    auto find = [&](int x) {
      while (root[static_cast<std::size_t>(x)] != x) x = root[static_cast<std::size_t>(x)] = root[static_cast<std::size_t>(root[static_cast<std::size_t>(x)])];
      return x;
    };
    for (std::size_t i = 0; i < steps_.size(); ++i) {
      if (!steps_[i].on_backend) continue;
      for (int id : steps_[i].in) {
        const int p = id < 0 ? -1 : slots_[static_cast<std::size_t>(id)].producer;
        if (p >= 0 && steps_[static_cast<std::size_t>(p)].on_backend) root[static_cast<std::size_t>(find(p))] = find(static_cast<int>(i));
      }
    }
    partition_.subgraphs = 0;
    for (std::size_t i = 0; i < steps_.size(); ++i)
      partition_.subgraphs += steps_[i].on_backend && find(static_cast<int>(i)) == static_cast<int>(i);
  }

  // Greedy slot assignment in execution order: a value takes a free slot when produced and returns
  // it after its last reader. Graph outputs keep their slots to the end of the run.
  void plan_memory() {
    std::vector<int> last_use(slots_.size(), -1);
    for (std::size_t s = 0; s < steps_.size(); ++s)
      for (int id : steps_[s].in)
        if (id >= 0) last_use[static_cast<std::size_t>(id)] = static_cast<int>(s);
    for (int id : output_ids_) last_use[static_cast<std::size_t>(id)] = static_cast<int>(steps_.size());
    std::vector<int> free_slots;
    for (std::size_t s = 0; s < steps_.size(); ++s) {
      for (int id : steps_[s].out) {
        if (id < 0) continue;
        ValueSlot& vs = slots_[static_cast<std::size_t>(id)];
        check(vs.kind == Kind::intermediate, steps_[s].node->where(), ": output '",
              steps_[s].node->outputs[0], "' overwrites a graph input or constant");
        if (free_slots.empty()) {
          vs.index = num_buffers_++;
        } else {
          vs.index = free_slots.back();
          free_slots.pop_back();
        }
      }
      // Outputs nobody reads are released right after their step; inputs after their last reader.
      for (int id : steps_[s].out)
        if (id >= 0 && last_use[static_cast<std::size_t>(id)] < 0)
          free_slots.push_back(slots_[static_cast<std::size_t>(id)].index);
      for (int id : steps_[s].in) {
        if (id < 0 || last_use[static_cast<std::size_t>(id)] != static_cast<int>(s)) continue;
        const ValueSlot& vs = slots_[static_cast<std::size_t>(id)];
        if (vs.kind != Kind::intermediate) continue;
        // A value read twice by this step is released once.
        if (std::find(free_slots.begin(), free_slots.end(), vs.index) == free_slots.end())
          free_slots.push_back(vs.index);
      }
    }
  }

  // `stats`, when given, receives each step's multiply-accumulates on these inputs and adds its wall
  // time. Timing a step needs it to have finished, so an instrumented run waits for every node on B
  // right after submitting it: per-node times then exclude the overlap a device queue would give.
  void execute(Context& ctx, std::span<const Tensor> inputs, StepStats* stats = nullptr) const {
    check(inputs.size() == graph_.inputs.size(), "the model has ", graph_.inputs.size(), " inputs, got ",
          inputs.size());
    if (ctx.refs_.size() != slots_.size()) {
      ctx.refs_.assign(slots_.size(), TensorRef{});
      ctx.present_.assign(slots_.size(), false);
      ctx.slots_.resize(static_cast<std::size_t>(num_buffers_));
      ctx.workspaces_.resize(static_cast<std::size_t>(options_.threads));
      ctx.tickets_.resize(steps_.size());
      ctx.slot_user_.resize(static_cast<std::size_t>(num_buffers_));
      if (options_.threads > 1 && !ctx.pool_) ctx.pool_ = std::make_unique<ThreadPool>(options_.threads);
    }
    std::fill(ctx.present_.begin(), ctx.present_.end(), false);
    std::fill(ctx.slot_user_.begin(), ctx.slot_user_.end(), -1);
    for (std::size_t id = 0; id < slots_.size(); ++id) {
      const ValueSlot& vs = slots_[id];
      if (vs.kind == Kind::constant) {
        ctx.refs_[id] = TensorRef::of(*vs.constant);
        ctx.present_[id] = true;
      } else if (vs.kind == Kind::input) {
        const Tensor& t = inputs[static_cast<std::size_t>(vs.index)];
        check_input(static_cast<std::size_t>(vs.index), t);
        ctx.refs_[id] = TensorRef::of(t);
        ctx.present_[id] = true;
      }
    }
    // Steps [0, done) have completed; steps on B in [done, submitted) may still be in flight.
    std::size_t done = 0, submitted = 0;
    auto complete_through = [&](int last) {
      while (static_cast<int>(done) <= last) {
        const std::size_t j = done++;  // advanced first: a failed wait is not retried below
        if (steps_[j].on_backend) with_context(steps_[j].node->where(), [&] { backend_.wait(ctx.tickets_[j]); });
      }
    };
    try {
      for (std::size_t i = 0; i < steps_.size(); ++i) {
        const Step& s = steps_[i];
        // Wait for the in-flight producers of this step's inputs, and for in-flight steps still
        // using a buffer this step is about to write.
        int need = -1;
        for (int id : s.in) {
          if (id < 0) continue;
          const int p = slots_[static_cast<std::size_t>(id)].producer;
          if (p >= static_cast<int>(done)) need = std::max(need, p);
        }
        for (int id : s.out) {
          if (id < 0) continue;
          const int u = ctx.slot_user_[static_cast<std::size_t>(slots_[static_cast<std::size_t>(id)].index)];
          if (u >= static_cast<int>(done)) need = std::max(need, u);
        }
        complete_through(need);
        StepContext sc(*this, ctx, s);
        const auto t0 = stats ? std::chrono::steady_clock::now() : std::chrono::steady_clock::time_point{};
        with_context(s.node->where(), [&] {
          for (int id : s.in)
            check(id < 0 || ctx.present_[static_cast<std::size_t>(id)], "an input was not computed");
          if (s.on_backend) {
            ctx.tickets_[i] = backend_.submit(static_cast<const typename B::Kernel&>(*s.kernel), sc);
            submitted = i + 1;
            for (int id : s.in)
              if (id >= 0 && slots_[static_cast<std::size_t>(id)].kind == Kind::intermediate)
                ctx.slot_user_[static_cast<std::size_t>(slots_[static_cast<std::size_t>(id)].index)] = static_cast<int>(i);
            for (int id : s.out)
              if (id >= 0) ctx.slot_user_[static_cast<std::size_t>(slots_[static_cast<std::size_t>(id)].index)] = static_cast<int>(i);
          } else {
            fallback_.run(static_cast<const typename fallback_type::Kernel&>(*s.kernel), sc);
          }
          for (std::size_t o = 0; o < s.out.size(); ++o)
            check(s.out[o] < 0 || ctx.present_[static_cast<std::size_t>(s.out[o])], "output ", o, " was not written");
        });
        if (stats) {
          if (s.on_backend) complete_through(static_cast<int>(i));
          stats->seconds[i] += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
          stats->macs[i] = s.kernel->macs(sc);
        }
        if (!s.on_backend && done == i) done = i + 1;  // completed inline, nothing in flight before it
      }
      complete_through(static_cast<int>(steps_.size()) - 1);
    } catch (...) {
      // Nothing may still write into the context's buffers once the error leaves run().
      for (; done < submitted; ++done)
        if (steps_[done].on_backend) {
          try {
            backend_.wait(ctx.tickets_[done]);
          } catch (...) {
          }
        }
      throw;
    }
  }

  void check_input(std::size_t i, const Tensor& t) const {
    const Value& v = graph_.value(graph_.inputs[i]);
    const std::string& name = graph_.inputs[i];
    if (v.dtype)
      check(t.dtype() == *v.dtype, "input '", name, "' must be ", *v.dtype, ", got ", t.dtype());
    if (v.dims) {
      const auto& dims = *v.dims;
      check(t.shape().rank() == static_cast<int>(dims.size()), "input '", name, "' must have rank ", dims.size(),
            ", got shape ", t.shape());
      for (std::size_t a = 0; a < dims.size(); ++a)
        check(dims[a] == kDynamicDim || dims[a] == t.shape()[static_cast<int>(a)], "input '", name, "' dimension ",
              a, " must be ", dims[a], ", got shape ", t.shape());
    }
  }

  // A batch-1 dry run with zero inputs: validates every kernel's shapes once, at preparation, and
  // records each node's MACs for the partition report. Only models whose single dynamic axis is the
  // batch are probed (probe_inputs).
  void probe() {
    auto ins = probe_inputs(graph_, 1);
    if (!ins) return;
    Context ctx;
    StepStats stats;
    run_profiled(ctx, *ins, stats);
    for (std::size_t i = 0; i < steps_.size(); ++i) partition_.nodes[i].macs = stats.macs[i];
  }

  std::unique_ptr<Context> acquire() const {
    std::lock_guard<std::mutex> lock(pool_mutex_);
    if (pool_.empty()) return std::make_unique<Context>();
    auto c = std::move(pool_.back());
    pool_.pop_back();
    return c;
  }
  void release(std::unique_ptr<Context> c) const {
    std::lock_guard<std::mutex> lock(pool_mutex_);
    pool_.push_back(std::move(c));
  }

  Graph graph_;
  SessionOptions options_;
  B backend_;
  fallback_type fallback_{};
  std::vector<Step> steps_;
  std::vector<ValueSlot> slots_;  // per value id
  std::vector<int> output_ids_;
  int num_buffers_ = 0;
  backends::Partition partition_;
  mutable std::mutex pool_mutex_;
  mutable std::vector<std::unique_ptr<Context>> pool_;
};

// Runs a copy of `g`, unoptimized and with every value as an output, at batch 1 and 2.
inline std::optional<ShapeProbe> probe_graph(const Graph& g, const SessionOptions& options,
                                             const KernelRegistry& registry) {
  auto in1 = probe_inputs(g, 1);
  auto in2 = probe_inputs(g, 2);
  if (!in1 || !in2) return std::nullopt;
  Graph copy = g;
  copy.outputs.clear();
  for (const Node& n : copy.nodes)
    for (const auto& o : n.outputs)
      if (!o.empty()) copy.outputs.push_back(o);
  SessionOptions o = options;
  o.optimize = false;
  o.probe = false;
  try {
    const Session s(std::move(copy), o, registry);
    ShapeProbe p;
    const auto r1 = s.run(std::span<const Tensor>(*in1));
    const auto r2 = s.run(std::span<const Tensor>(*in2));
    for (std::size_t i = 0; i < r1.size(); ++i) {
      p.batch1.emplace(s.output_names()[i], r1[i]);
      p.batch2.emplace(s.output_names()[i], r2[i]);
    }
    return p;
  } catch (const error&) {
    return std::nullopt;  // the session's own batch-1 probe reports what is wrong
  }
}

// The float graph as the quantizer wants it: Identity/Dropout removed, constants and BatchNorm
// folded, dims probed and computed Reshape shapes folded — but nothing lowered or fused, so every
// activation the quantizer may place a QuantizeLinear on is still a value of its own.
inline void prepare_float_graph(Graph& g, const KernelRegistry& registry = builtin_registry()) {
  SessionOptions o;
  g.topological_sort();
  passes::remove_identities(g);
  fold_constants(g, o, registry);
  passes::fold_batchnorm(g);
  if (const auto probe = probe_graph(g, o, registry)) {
    annotate_shapes(g, *probe);
    if (fold_dynamic_reshapes(g, *probe)) passes::remove_dead_nodes(g);
  }
  g.topological_sort();
  g.prune_values();
}

}  // namespace qnn
// ---- end qnn/runtime/session.hpp -------------------------------------------------------------------

namespace qnn {

struct ClassificationReport {
  int classes = 0;
  std::int64_t total = 0;
  std::int64_t correct = 0;
  std::vector<std::int64_t> confusion;  // [true class][predicted class]
  std::vector<std::int32_t> predictions;

  double accuracy() const { return total ? double(correct) / double(total) : 0.0; }
  double class_accuracy(int c) const {
    std::int64_t n = 0;
    for (int p = 0; p < classes; ++p) n += confusion[static_cast<std::size_t>(c * classes + p)];
    return n ? double(confusion[static_cast<std::size_t>(c * classes + c)]) / double(n) : 0.0;
  }
  // Fraction of images on which two reports predict the same class.
  double agreement(const ClassificationReport& o) const {
    check(o.predictions.size() == predictions.size(), "agreement between reports of ", predictions.size(), " and ",
          o.predictions.size(), " images");
    std::int64_t same = 0;
    for (std::size_t i = 0; i < predictions.size(); ++i) same += predictions[i] == o.predictions[i];
    return predictions.empty() ? 0.0 : double(same) / double(predictions.size());
  }
};

// Runs uint8 N×H×W images (scaled to [0,1], as io::images_to_float does) through a one-input,
// one-output classifier in batches; the class is the argmax of the output row (first on ties).
// `S` is a Session or any BasicSession<Backend> (the NPU emulator predicts the device's accuracy).
template <class S>
ClassificationReport evaluate_classifier(const S& s, const Tensor& images, const Tensor& labels,
                                         std::int64_t batch = 250, int classes = 10) {
  check(s.input_names().size() == 1, "the classifier must have one input, it has ", s.input_names().size());
  check(labels.dtype() == DType::u8 && labels.shape().rank() == 1 && labels.shape()[0] == images.shape()[0],
        "labels must be uint8 with one entry per image");
  ClassificationReport r;
  r.classes = classes;
  r.confusion.assign(static_cast<std::size_t>(classes * classes), 0);
  typename S::Context ctx;
  std::vector<Tensor> out;
  const std::int64_t n = images.shape()[0];
  const auto y = labels.span<std::uint8_t>();
  for (std::int64_t first = 0; first < n; first += batch) {
    const std::int64_t count = std::min(batch, n - first);
    const Tensor x = io::images_to_float(images, first, count);
    s.run(ctx, std::span<const Tensor>(&x, 1), out);
    check(out.size() >= 1 && out[0].dtype() == DType::f32 && out[0].shape().rank() == 2 &&
              out[0].shape()[0] == count && out[0].shape()[1] == classes,
          "the classifier's output must be float32 [batch, ", classes, "], got ", out[0].dtype(), " ", out[0].shape());
    const auto logits = out[0].span<float>();
    for (std::int64_t i = 0; i < count; ++i) {
      const float* row = logits.data() + i * classes;
      const int pred = static_cast<int>(std::max_element(row, row + classes) - row);
      const int truth = y[static_cast<std::size_t>(first + i)];
      ++r.confusion[static_cast<std::size_t>(truth * classes + pred)];
      r.correct += pred == truth;
      r.predictions.push_back(pred);
    }
    r.total += count;
  }
  return r;
}

}  // namespace qnn
// ---- end qnn/runtime/evaluate.hpp ------------------------------------------------------------------
// ---- begin qnn/runtime/profile.hpp -----------------------------------------------------------------
// The profiler: per-node wall time, multiply-accumulates, GMAC/s and share of the run, on any
// backend (`qnn profile MODEL.onnx --input X.npy [--backend NAME]`).
//
//   Profile p = qnn::profile(session, inputs, {.runs = 20});
//   std::cout << qnn::format_profile(p);          // a table; profile_json(p) for tools
//
// Each node's time is the median over the timed runs (after untimed warm-up runs), so one run
// disturbed by another process does not move the figures; the total is the median of the runs'
// sums. Nodes on a device backend are waited for right after they are submitted while profiling,
// so their time is theirs alone (a normal run overlaps them with host work). MACs are counted by
// each kernel on the inputs given (OpKernel::macs), so they scale with the batch.

#include <algorithm>
#include <cstdint>
#include <iomanip>
#include <optional>
#include <span>
#include <sstream>
#include <string>
#include <vector>

namespace qnn {

struct NodeProfile {
  std::string node;        // node name
  std::string op;          // as in the partition report: domain.op_type, "+relu" when fused
  std::string device;      // the backend that ran it
  std::int64_t macs = -1;  // on the profiled inputs; −1 when the kernel does not count them
  double seconds = 0;      // median over the timed runs
};

struct Profile {
  std::string backend;
  int runs = 0;
  std::int64_t batch = 0;  // first axis of the first input
  int threads = 1;
  double seconds = 0;      // median over the runs of the sum of the node times
  std::vector<NodeProfile> nodes;

  std::int64_t total_macs() const {
    std::int64_t m = 0;
    for (const NodeProfile& n : nodes) m += std::max<std::int64_t>(n.macs, 0);
    return m;
  }
};

struct ProfileOptions {
  int runs = 20;    // timed runs
  int warmup = 3;   // untimed runs first: buffers grow, caches and thread pools settle
};

namespace detail {
inline double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}
// GMAC/s, or nothing where MACs are not counted or the time is zero (both the table and the JSON).
inline std::optional<double> gmac_per_s(std::int64_t macs, double seconds) {
  if (macs <= 0 || seconds <= 0) return std::nullopt;
  return double(macs) / seconds * 1e-9;
}
inline std::string fixed(double v, int digits) {
  std::ostringstream os;
  os << std::fixed << std::setprecision(digits) << v;
  return os.str();
}
inline std::string gmacs(std::int64_t macs, double seconds) {
  const auto r = gmac_per_s(macs, seconds);
  return r ? fixed(*r, 2) : "-";
}
}  // namespace detail

template <backends::Backend B>
Profile profile(const BasicSession<B>& session, std::span<const Tensor> inputs, ProfileOptions o = {}) {
  check(o.runs >= 1, "profile: runs must be at least 1, got ", o.runs);
  check(o.warmup >= 0, "profile: warm-up runs must not be negative, got ", o.warmup);
  typename BasicSession<B>::Context ctx;
  StepStats stats;
  for (int i = 0; i < o.warmup; ++i) session.run_profiled(ctx, inputs, stats);
  const std::size_t steps = session.num_steps();
  std::vector<std::vector<double>> times(steps);
  std::vector<double> totals;
  for (int r = 0; r < o.runs; ++r) {
    std::fill(stats.seconds.begin(), stats.seconds.end(), 0.0);
    session.run_profiled(ctx, inputs, stats);
    double sum = 0;
    for (std::size_t i = 0; i < steps; ++i) {
      times[i].push_back(stats.seconds[i]);
      sum += stats.seconds[i];
    }
    totals.push_back(sum);
  }
  const backends::Partition& part = session.partition();
  Profile p;
  p.backend = part.backend;
  p.runs = o.runs;
  p.batch = !inputs.empty() && inputs[0].shape().rank() > 0 ? inputs[0].shape()[0] : 1;
  p.threads = session.options().threads;
  p.seconds = detail::median(totals);
  for (std::size_t i = 0; i < steps; ++i) {
    const backends::NodePlacement& n = part.nodes[i];
    p.nodes.push_back({n.node, n.op, n.device, stats.macs[i], detail::median(times[i])});
  }
  return p;
}

// Text form, nodes in execution order:
//   profile on cpu: batch 64, 2 threads, median of 20 runs: 18.42 ms, 277,478,400 MACs, 15.06 GMAC/s
//   #   node                  op          device   time (us)  share    MACs          GMAC/s
//   0   /layer1/.../Conv      Conv+relu   cpu        2130.4   11.6 %   14,450,688    6.78
inline std::string format_profile(const Profile& p) {
  std::ostringstream os;
  const std::int64_t all = p.total_macs();
  os << "profile on " << p.backend << ": batch " << p.batch << ", " << p.threads
     << (p.threads == 1 ? " thread" : " threads") << ", median of " << p.runs << " runs: "
     << detail::fixed(p.seconds * 1e3, 3) << " ms, " << backends::detail::grouped(all) << " MACs, "
     << detail::gmacs(all, p.seconds) << " GMAC/s\n";
  std::size_t w = 4;
  std::size_t wop = 2;
  for (const NodeProfile& n : p.nodes) {
    w = std::max(w, n.node.size());
    wop = std::max(wop, n.op.size());
  }
  os << std::left << std::setw(4) << "#" << std::setw(static_cast<int>(w + 2)) << "node"
     << std::setw(static_cast<int>(wop + 2)) << "op" << std::setw(10) << "device" << std::right << std::setw(11)
     << "time (us)" << std::setw(9) << "share" << std::setw(16) << "MACs" << std::setw(9) << "GMAC/s" << "\n";
  for (std::size_t i = 0; i < p.nodes.size(); ++i) {
    const NodeProfile& n = p.nodes[i];
    const double share = p.seconds > 0 ? 100.0 * n.seconds / p.seconds : 0.0;
    os << std::left << std::setw(4) << i << std::setw(static_cast<int>(w + 2)) << n.node
       << std::setw(static_cast<int>(wop + 2)) << n.op << std::setw(10) << n.device << std::right << std::setw(11)
       << detail::fixed(n.seconds * 1e6, 1) << std::setw(7) << detail::fixed(share, 1) << " %" << std::setw(16)
       << backends::detail::grouped(n.macs) << std::setw(9) << detail::gmacs(n.macs, n.seconds) << "\n";
  }
  return os.str();
}

// JSON form: {"backend", "batch", "threads", "runs", "seconds", "total_macs", "gmacs",
// "nodes": [{"index", "name", "op", "device", "seconds", "share", "macs", "gmacs"}]}; "gmacs" is
// null where MACs are not counted or the time is zero.
inline json::Value profile_json(const Profile& p) {
  const auto rate = [](std::int64_t macs, double s) {
    const auto r = detail::gmac_per_s(macs, s);
    return r ? json::Value(*r) : json::Value(nullptr);
  };
  json::Value nodes = json::Value::array();
  for (std::size_t i = 0; i < p.nodes.size(); ++i) {
    const NodeProfile& n = p.nodes[i];
    nodes.push(json::Value::object()
                   .set("index", i)
                   .set("name", n.node)
                   .set("op", n.op)
                   .set("device", n.device)
                   .set("seconds", n.seconds)
                   .set("share", p.seconds > 0 ? n.seconds / p.seconds : 0.0)
                   .set("macs", n.macs)
                   .set("gmacs", rate(n.macs, n.seconds)));
  }
  return json::Value::object()
      .set("backend", p.backend)
      .set("batch", p.batch)
      .set("threads", p.threads)
      .set("runs", p.runs)
      .set("seconds", p.seconds)
      .set("total_macs", p.total_macs())
      .set("gmacs", rate(p.total_macs(), p.seconds))
      .set("nodes", nodes);
}

}  // namespace qnn
// ---- end qnn/runtime/profile.hpp -------------------------------------------------------------------
// ---- begin qnn/backends/backends.hpp ---------------------------------------------------------------
// Every backend qnn builds, by name: the one place a program (the qnn tool, the examples) turns a
// backend name into a backend type.
//
//   cpu       backends::cpu::SimdBackend      the default; fast kernels where an op has them
//   cpu-ref   backends::cpu::ReferenceBackend scalar reference kernels only
//   npu-emu   backends::npu::Emulator         the NPU's layer table and integer arithmetic, on the CPU
//   xrt       npu::XrtSessionBackend          prebuilt NPU artefacts through XRT; only in programs
//                                             built with QNN_WITH_XRT (the qnn::xrt CMake target
//                                             defines it and links XRT), elsewhere a clear error
//
// visit_backend(name, options, f) calls f(B) with the backend named, made from `options`, and
// returns its result; an unknown or unavailable name is a qnn::error listing the available ones
// (check_backend_name says so without making anything). A new backend adds its line here.

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <utility>

// ---- begin qnn/backends/npu/emulator.hpp -----------------------------------------------------------
// The NPU emulator backend ("npu-emu"): runs on the CPU what the NPU would run, with the NPU's
// integer arithmetic, and leaves on the CPU — with the reason — what the NPU would not take. This is
// how a user predicts NPU accuracy before touching hardware:
//
//   qnn::BasicSession<qnn::backends::npu::Emulator> s(graph, options);   // a Quark/qnn XINT8 model
//   s.partition();                                                       // what runs where, and why
//   evaluate_classifier(s, images, labels);                              // the NPU's accuracy
//
// Placement is npu::check_layer (layer_support.hpp): the NPU layer-support table and the XINT8
// shift rules. Arithmetic, per operator:
//   Conv, FC (QGemm, QLinearMatMul with constant weights), Add, Mul, Concat
//       qnn's kernels under the npu_pow2 policy (docs/numerics.md §4.4, §5), which is the DPU's rule:
//       int32 accumulation, bias at the accumulator scale, one arithmetic shift by
//       shift_cut = ipos + wpos − opos rounding half up, saturation to int8 (XINT8: uint8 = int8 +
//       128), fused ReLU/Clip as the output clamp; Add aligns its inputs by exact left shifts
//       (shift_read) and writes with one rounded shift (shift_write). Integer results are therefore
//       bit-exact with the reference kernels under npu_pow2 — tests/backends prove it.
//   MaxPool, Reshape, Flatten, Squeeze, Unsqueeze, Identity, Slice (crop)
//       exact data movement: qnn's kernels on the INT8 data.
//   AveragePool, GlobalAveragePool, Sigmoid (as a hard sigmoid), HardSigmoid, LeakyReLU, ReLU, Clip
//       the emulator's own kernels (emu_kernels.hpp) with the DPU's fixed-point constants
//       (dpu_arith.hpp): sum·k/2^n, relu6(x+3)·2731/16384, α → round(256α)/256, shifts rounding half
//       up. These differ from a float model by design: that difference is what is being predicted.
// The session's requantization option does not apply to nodes on the emulator (the NPU has one
// arithmetic); nodes that fall back to the CPU follow it as usual, and `qnn inspect --backend
// npu-emu` sets npu-pow2 for them (the DPU's half-up rounding also on the host quantize step).
// The emulator computes inside submit(): its tickets are born ready.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

// ---- begin qnn/backends/npu/dpu_arith.hpp ----------------------------------------------------------
// The NPU's integer arithmetic (the Vitis AI DPU conventions that AMD Quark's XINT8 targets): the
// scalar rules the NPU emulator (backends/npu/emulator.hpp) is built from, each with its source.
//
// Numbers are fixed point with power-of-two scales, s = 2^−pos (docs/numerics.md §6). A value at
// position p moves to position p' by a shift of p − p' bits, right shifts rounding half up (ties
// toward +∞) and everything saturating to the int8 range [−128, 127] (XINT8 stores activations as
// uint8 = int8 + 128). Where an operator needs a constant the DPU has no exact form for, it uses a
// fixed-point approximation, which is what makes its results differ from a float model:
//
//   LeakyReLU  α is applied as k/256, k = round(256·α)          (Quark dpu_leaky_relu_alpha; Python
//              round, ties to even): α = 0.1 → 26/256 = 0.1015625
//   Sigmoid    computed as the hard sigmoid relu6(x + 3) · 2731/16384, 2731/16384 ≈ 1/6 (Quark
//              ConvertSigmoidToHardSigmoid + HARD_SIGMOID_SCALE = (2731/16384)/(1/6); vai_q_pytorch
//              deephi_Hardsigmoid: relu6(x + 3), then × 2731/16384, then the output fix)
//              In integers at input position ip and output position op:
//                t = clamp(v + 3·2^ip, 0, 6·2^ip),  y = rhu(t · 2731 / 2^(14 + ip − op))
//              which is why Quark requires ip ∈ [0, 15] (3·2^ip must be an integer), op ≥ 7 and
//              shift_sigmoid = 14 + ip − op ∈ [0, 31] (refine.py adjust_hard_sigmoid).
//   AvgPool    sum · k / 2^n instead of sum / (kh·kw) (Quark SimulateDPU convert_avg_pool_to_dpu_version,
//              vai_q_pytorch get_avgpool_dpu_coeff): 3×3 → 7/64, 5×5 → 10/256, 6×6 → 7/256,
//              7×7 → 21/1024, 14×14 → 21/4096; any other square k×k: the k'/2^n nearest 1/(k·k) over
//              n = 0 … 6 + ⌈log2(k·k)⌉, k' = round(2^n/(k·k)) (ties to even), the first n on ties.
//              Power-of-two windows get their exact reciprocal (2×2 → 1/4). Quark leaves windows with
//              a side above 255 and non-square windows unsimulated; the emulator does not guess there.
//
// Requantization of conv / FC / element-wise results is numerics.md §4.4 and §5 (npu_pow2), which
// the emulator runs through qnn's own kernels under that policy.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <optional>

namespace qnn::backends::npu {

// pos of a power-of-two scale s = 2^−pos; nullopt for any other scale.
inline std::optional<int> position_of(float scale) {
  if (!is_pow2_scale(scale)) return std::nullopt;
  return to_pow2(scale).pos;
}

// v · 2^−shift as the DPU computes it: a right shift rounds half up; a left shift is exact and
// saturates (far beyond any int8 result, so the clamp that follows decides).
inline std::int64_t dpu_shift(std::int64_t v, int shift) {
  if (shift >= 0) return shift_right_rounded(v, std::min(shift, 62), Rounding::half_up);
  return shift_left_saturating(v, -shift);
}

// The stored value: v (an integer at the output position) plus the output zero point, saturated
// to [lo, hi] (the storage range, narrowed by a fused ReLU/Clip).
inline std::int32_t dpu_store(std::int64_t v, std::int32_t zp, std::int32_t lo, std::int32_t hi) {
  const std::int64_t bounded = std::clamp<std::int64_t>(v, -(std::int64_t{1} << 40), std::int64_t{1} << 40);
  return static_cast<std::int32_t>(std::clamp<std::int64_t>(bounded + zp, lo, hi));
}

// ---- LeakyReLU -------------------------------------------------------------------------------

// k of the slope k/256 the DPU applies for LeakyRelu(alpha): round(256·alpha), ties to even
// (Python's round in Quark's dpu_leaky_relu_alpha). 256·alpha is exact in double.
inline std::int64_t leaky_relu_slope(float alpha) {
  return static_cast<std::int64_t>(round_half_even(static_cast<double>(alpha) * 256.0));
}

// v (input integer, position ip) → output integer at position op (before the zero point):
// v ≥ 0 ? v : v·k/256, one rounding (half up) of the exact value.
inline std::int64_t dpu_leaky_relu(std::int64_t v, std::int64_t k, int ip, int op) {
  return dpu_shift(v >= 0 ? v * 256 : v * k, 8 + ip - op);
}

// ---- hard sigmoid (also the NPU's Sigmoid) ----------------------------------------------------

inline constexpr std::int64_t kHardSigmoidMultiplier = 2731;  // 2731/16384 ≈ 1/6
inline constexpr int kHardSigmoidShift = 14;

// relu6(x + 3) · 2731/16384 for v at position ip (0 ≤ ip ≤ 15), output at position op.
inline std::int64_t dpu_hard_sigmoid(std::int64_t v, int ip, int op) {
  const std::int64_t three = std::int64_t{3} << ip;
  const std::int64_t t = std::clamp<std::int64_t>(v + three, 0, 2 * three);
  return dpu_shift(t * kHardSigmoidMultiplier, kHardSigmoidShift + ip - op);
}

// ---- average pooling ----------------------------------------------------------------------------

struct AvgPoolFactor {
  std::int64_t k = 1;  // the window sum is multiplied by k …
  int n = 0;           // … and shifted right by n (plus the input/output position difference)
  friend bool operator==(AvgPoolFactor, AvgPoolFactor) = default;
};

// The DPU's factor k/2^n for a kh×kw window; nullopt where Quark does not simulate one
// (non-square windows, a side above 255).
inline std::optional<AvgPoolFactor> avg_pool_factor(std::int64_t kh, std::int64_t kw) {
  if (kh != kw || kh < 1 || kh > 255) return std::nullopt;
  switch (kh) {
    case 3: return AvgPoolFactor{7, 6};
    case 5: return AvgPoolFactor{10, 8};
    case 6: return AvgPoolFactor{7, 8};
    case 7: return AvgPoolFactor{21, 10};
    case 14: return AvgPoolFactor{21, 12};
    default: break;
  }
  const std::int64_t rec = kh * kw;
  const int n_max = 7 + static_cast<int>(std::ceil(std::log2(static_cast<double>(rec))));
  const double inv = 1.0 / static_cast<double>(rec);
  AvgPoolFactor best{0, 0};
  double best_diff = 0;
  for (int n = 0; n < n_max; ++n) {
    const double p = std::ldexp(1.0, n);
    const auto k = static_cast<std::int64_t>(round_half_even(p / static_cast<double>(rec)));
    const double diff = std::fabs(static_cast<double>(k) / p - inv);
    if (n == 0 || diff < best_diff) {
      best = {k, n};
      best_diff = diff;
    }
  }
  return best;
}

}  // namespace qnn::backends::npu
// ---- end qnn/backends/npu/dpu_arith.hpp ------------------------------------------------------------
// ---- begin qnn/backends/npu/emu_kernels.hpp --------------------------------------------------------
// The NPU emulator's own kernels: the operators whose NPU arithmetic differs from every qnn policy
// (backends/npu/dpu_arith.hpp). Everything else the emulator runs is qnn's kernel under the npu_pow2
// policy, which is the DPU's arithmetic already (emulator.hpp).
//
//   DpuAvgPoolKernel     AveragePool / GlobalAveragePool: acc = Σ (x − zx) over the window (taps in
//                        the padding add 0: the NPU pads with the zero point), y = rhu(acc·k / 2^n)
//                        + zy, saturated. The input and output share one position (align_pool).
//   DpuActivationKernel  ReLU, Clip, LeakyReLU (k/256), hard sigmoid (2731/16384, also for Sigmoid):
//                        8-bit in, 8-bit out, so the integer rule is tabulated once over the 256
//                        input codes when the node is prepared and the run is a table lookup.

#include <array>
#include <cstdint>
#include <functional>
#include <limits>

namespace qnn::backends::npu {

template <Int8Storage T>
class DpuAvgPoolKernel final : public OpKernel {
 public:
  // A windowed pool (attrs) or, with `global`, one window over the prepared H×W.
  DpuAvgPoolKernel(ops::WindowAttrs attrs, bool global, std::array<std::int64_t, 2> global_hw, AvgPoolFactor f,
                   std::int32_t zp)
      : attrs_(attrs), global_(global), global_hw_(global_hw), f_(f), zp_(zp) {}

  void run(KernelContext& ctx) const override {
    const TensorRef& x = ctx.in(0);
    check(x.dtype == dtype_of_v<T>, "input X is ", x.dtype, ", the node was prepared for ", dtype_of_v<T>);
    PoolGeometry g;
    Shape out_shape;
    if (global_) {
      check(x.shape.rank() == 4 && x.shape[2] == global_hw_[0] && x.shape[3] == global_hw_[1], "input ", x.shape,
            " differs from the ", global_hw_[0], "x", global_hw_[1], " image the NPU layer was prepared for");
      g = make_global_pool_geometry(x.shape);
      out_shape = g.output_shape();
    } else {
      const Shape x4 = ops::as_4d(x.shape, attrs_.spatial);
      g = make_pool_geometry(x4, attrs_.resolve(x4[2], x4[3]), attrs_.ceil_mode, true);
      out_shape = ops::from_4d(g.output_shape(), attrs_.spatial);
    }
    TensorRef& y = ctx.output(0, dtype_of_v<T>, out_shape);
    const T* xp = reinterpret_cast<const T*>(x.data);
    T* yp = reinterpret_cast<T*>(y.data);
    for (std::int64_t nc = 0; nc < g.n * g.c; ++nc) {
      const T* plane = xp + nc * g.h * g.w;
      for (std::int64_t oy = 0; oy < g.oh; ++oy)
        for (std::int64_t ox = 0; ox < g.ow; ++ox) {
          // The divisor ref::detail::for_each_tap returns is not used: the NPU multiplies by
          // k/2^n for the whole window whatever part of it lies in the padding.
          std::int64_t acc = 0;  // |acc| ≤ 2048 · 255: far inside any accumulator
          ref::detail::for_each_tap(g, oy, ox, [&](std::int64_t iy, std::int64_t ix) {
            acc += static_cast<std::int32_t>(plane[iy * g.w + ix]) - zp_;
          });
          yp[(nc * g.oh + oy) * g.ow + ox] =
              static_cast<T>(dpu_store(dpu_shift(acc * f_.k, f_.n), zp_, min_of<T>(), max_of<T>()));
        }
    }
  }

 private:
  ops::WindowAttrs attrs_;
  bool global_;
  std::array<std::int64_t, 2> global_hw_;
  AvgPoolFactor f_;
  std::int32_t zp_;  // input and output (aligned)
};

template <Int8Storage T>
class DpuActivationKernel final : public OpKernel {
 public:
  // rule(v): the output integer (before the zero point) for the input integer v = q − zx.
  DpuActivationKernel(const std::function<std::int64_t(std::int64_t)>& rule, std::int32_t zx, std::int32_t zy,
                      std::int32_t lo, std::int32_t hi) {
    for (int q = min_of<T>(); q <= max_of<T>(); ++q)
      table_[static_cast<std::uint8_t>(static_cast<T>(q))] = static_cast<T>(dpu_store(rule(q - zx), zy, lo, hi));
  }

  void run(KernelContext& ctx) const override {
    const TensorRef& x = ctx.in(0);
    check(x.dtype == dtype_of_v<T>, "input X is ", x.dtype, ", the node was prepared for ", dtype_of_v<T>);
    TensorRef& y = ctx.output(0, dtype_of_v<T>, x.shape);
    const T* xp = reinterpret_cast<const T*>(x.data);  // session tensors are dense
    T* yp = reinterpret_cast<T*>(y.data);
    for (std::int64_t i = 0, n = x.numel(); i < n; ++i) yp[i] = table_[static_cast<std::uint8_t>(xp[i])];
  }

  T at(T q) const { return table_[static_cast<std::uint8_t>(q)]; }

 private:
  std::array<T, 256> table_{};
};

}  // namespace qnn::backends::npu
// ---- end qnn/backends/npu/emu_kernels.hpp ----------------------------------------------------------
// ---- begin qnn/backends/npu/layer_support.hpp ------------------------------------------------------
// Which nodes of a prepared (QDQ-lowered) graph the NPU takes, and the exact reason for each one it
// does not: the NPU layer-support table and the XINT8 fixed-point constraints as one function,
// npu::check_layer(info). The NPU emulator's supports() is this function; an XRT backend adds its
// kernel catalogue on top of it.
//
// Sources:
//   table  Vitis AI NPU IP, "Bring your own model" — Layer Support (/work/shared/seeds/003):
//          Max/Avg Pooling 2D: window W×H ≤ 2048; MaxPool kernels 2x1, 1x2, 3x1, 1x3 not supported;
//          pooling that excludes padding from the divisor not supported. Padding: value 0 (the zero
//          point), at most 15 pixels on every edge — applied here to Pad and to the implicit pads of
//          Conv and pooling windows (an assumption on the safe side: it can only move a node to the
//          CPU). Conv2d: all strides; depthwise, dilated, grouped: no limitation. FC: yes. Concat,
//          Crop (Slice with unit steps), BatchNorm / constant Mul and Add, element-wise Add: yes;
//          element-wise Mul: yes with a W×H×1 operand, a 1×1×C run-time operand is APU-only.
//          Deconvolution, Depth-to-Space, L2Norm, Square, 3-D pooling: APU-only. Activations
//          other than those below are "approximations with 16 intervals" whose breakpoints are not
//          public: the emulator cannot reproduce them bit for bit and leaves them on the CPU.
//   XINT8  AMD Quark, quark/onnx/postprocess/refinement/refine.py (NPULimitationCheck), for
//          positions pos = −log2(scale): shift_cut = wpos + ipos − opos ∈ [0, 16] (Conv, Gemm);
//          shift_read = max(ipos) − min(ipos) ≤ 7 (Add); shift_write = min(ipos) − opos ∈ [−7, 25]
//          (Add), Σipos − opos ∈ [0, 32] (Mul); shift_swish = ipos0 + ipos1 − opos ∈ [0, 15] (the
//          Mul of x·hsigmoid(x)); HardSigmoid: ipos ∈ [0, 15], opos ≥ 7, 14 + ipos − opos ∈ [0, 31];
//          align_concat, align_pool, align_pad, align_slice: input and output share one position.
//          quark/onnx/quantizers/npu_cnn_quantizer.py: activations symmetric (int8 zp 0, stored as
//          uint8 zp 128), weights int8 symmetric per tensor, all scales powers of two.
//          Biases: qnn's XINT8 stores them as int32 at the accumulator scale (quantize/xint8.hpp),
//          Quark's Int32Bias option, so shift_bias = wpos + ipos − bpos = 0 always holds.
//
// Inputs the NPU never computes on are host work by definition: QuantizeLinear of the float model
// input and DequantizeLinear of its output (the table: "a quantize operation ... executed on the
// APU"), and any node left in float32 because the quantizer did not cover it.

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <vector>

namespace qnn::backends::npu {

// The layer-support table's numbers.
struct LayerLimits {
  static constexpr std::int64_t max_pool_window = 2048;  // kernel W×H of max and average pooling
  static constexpr std::int64_t max_padding = 15;        // pixels on each edge
  static constexpr std::int64_t max_avg_pool_side = 255;  // Quark simulates no DPU factor beyond
};

// XINT8's shift ranges (Quark refine.py).
struct ShiftLimits {
  static constexpr int shift_cut_min = 0, shift_cut_max = 16;
  static constexpr int shift_read_max = 7;
  static constexpr int add_write_min = -7, add_write_max = 25;
  static constexpr int mul_write_min = 0, mul_write_max = 32;
  static constexpr int swish_min = 0, swish_max = 15;
  static constexpr int hsigmoid_ipos_min = 0, hsigmoid_ipos_max = 15, hsigmoid_opos_min = 7;
  static constexpr int hsigmoid_shift_min = 0, hsigmoid_shift_max = 31;
};

// The quantization of one activation tensor as the NPU sees it.
struct ActQuant {
  DType dtype = DType::u8;
  std::int32_t zero_point = 128;
  float scale = 1;
  int pos = 0;
};

namespace detail {

// Attribute reads that are not recorded as uses (supports() must leave the node as it found it).
inline std::int64_t attr_int(const Node& n, const std::string& name, std::int64_t def) {
  const auto* v = n.attrs.peek<std::int64_t>(name);
  return v ? *v : def;
}
inline float attr_float(const Node& n, const std::string& name, float def) {
  const auto* v = n.attrs.peek<float>(name);
  return v ? *v : def;
}
inline std::string attr_string(const Node& n, const std::string& name, const std::string& def) {
  const auto* v = n.attrs.peek<std::string>(name);
  return v ? *v : def;
}
inline std::optional<std::string> unknown_attr(const Node& n, std::initializer_list<const char*> known) {
  for (const auto& attr : n.attrs.all()) {
    const std::string& name = attr.first;
    if (std::find_if(known.begin(), known.end(), [&](const char* k) { return name == k; }) == known.end()) return name;
  }
  return std::nullopt;
}

inline std::string dims_text(const std::optional<std::vector<std::int64_t>>& d) {
  if (!d) return "[?]";
  std::string s = "[";
  for (std::size_t i = 0; i < d->size(); ++i) {
    if (i) s.push_back(',');
    s.append((*d)[i] == kDynamicDim ? std::string("N") : std::to_string((*d)[i]));
  }
  s.push_back(']');
  return s;
}

inline Support int16_reason(const char* what, DType t) {
  return Support::no(what, " is ", t, " (A16W8): the NPU's INT8 path takes 8-bit activations");
}

// The activation quantization of inputs (scale_i, zp_i), or why the NPU cannot take it.
inline std::optional<ActQuant> activation_quant(const NodeInfo& info, std::size_t scale_i, std::size_t zp_i,
                                                const char* what, Support& why) {
  const Tensor* s = info.constant_input(scale_i);
  if (!s || s->dtype() != DType::f32) {
    why = Support::no(what, ": the scale is not a constant float32");
    return std::nullopt;
  }
  if (s->numel() != 1) {
    why = Support::no(what, ": ", s->numel(), " scales; NPU activations are quantized per tensor");
    return std::nullopt;
  }
  const Tensor* z = info.has_input(zp_i) ? info.constant_input(zp_i) : nullptr;
  if (info.has_input(zp_i) && (!z || z->numel() != 1 || !is_quantized_storage(z->dtype()))) {
    why = Support::no(what, ": the zero point is not one constant integer");
    return std::nullopt;
  }
  ActQuant q;
  q.dtype = z ? z->dtype() : DType::u8;
  q.zero_point = z ? ops::quant::int_values(TensorRef::of(*z))[0] : 0;
  q.scale = s->span<float>()[0];
  if (q.dtype == DType::i16 || q.dtype == DType::u16) {
    why = int16_reason(what, q.dtype);
    return std::nullopt;
  }
  if ((q.dtype == DType::i8 && q.zero_point != 0) || (q.dtype == DType::u8 && q.zero_point != 128)) {
    why = Support::no(what, ": ", q.dtype, " zero point ", q.zero_point,
                      "; NPU activations are symmetric (int8 zero point 0, or XINT8's uint8 zero point 128)");
    return std::nullopt;
  }
  const auto pos = position_of(q.scale);
  if (!pos) {
    why = Support::no(what, ": scale ", q.scale, " is not a power of two (XINT8 scales are 2^-pos)");
    return std::nullopt;
  }
  q.pos = *pos;
  return q;
}

// The position of constant int8 symmetric per-tensor weights (w_i, scale_i, zp_i).
inline std::optional<int> weight_pos(const NodeInfo& info, std::size_t w_i, std::size_t scale_i, std::size_t zp_i,
                                     Support& why) {
  const Tensor* w = info.constant_input(w_i);
  if (!w) {
    why = Support::no("the weights are a run-time tensor; the NPU runs Conv and FC layers with constant weights");
    return std::nullopt;
  }
  if (w->dtype() != DType::i8) {
    why = Support::no("weights are ", w->dtype(), "; the NPU takes int8 weights (XINT8)");
    return std::nullopt;
  }
  const Tensor* s = info.constant_input(scale_i);
  if (!s || s->dtype() != DType::f32) {
    why = Support::no("the weight scale is not a constant float32");
    return std::nullopt;
  }
  if (s->numel() != 1) {
    why = Support::no("per-channel weight quantization (", s->numel(),
                      " scales); XINT8 quantizes weights per tensor");
    return std::nullopt;
  }
  if (info.has_input(zp_i)) {
    const Tensor* z = info.constant_input(zp_i);
    const std::int32_t zp = z && z->numel() == 1 ? ops::quant::int_values(TensorRef::of(*z))[0] : 1;
    if (zp != 0) {
      why = Support::no("weight zero point ", zp, "; NPU weights are symmetric (zero point 0)");
      return std::nullopt;
    }
  }
  const float scale = s->span<float>()[0];
  const auto pos = position_of(scale);
  if (!pos) {
    why = Support::no("weight scale ", scale, " is not a power of two (XINT8 scales are 2^-pos)");
    return std::nullopt;
  }
  return pos;
}

inline Support policy_rule(const Node& n) {
  const std::string p = attr_string(n, "qnn_requant", "npu-pow2");
  if (p != "npu-pow2")
    return Support::no("qnn_requant = ", p, "; the NPU requantizes with power-of-two shifts (npu-pow2)");
  return Support::yes();
}

inline Support shift_cut_rule(int ipos, int wpos, int opos) {
  const int cut = wpos + ipos - opos;
  if (cut < ShiftLimits::shift_cut_min || cut > ShiftLimits::shift_cut_max)
    return Support::no("shift_cut = wpos + ipos - opos = ", wpos, " + ", ipos, " - ", opos, " = ", cut,
                       " is outside the NPU's range [", ShiftLimits::shift_cut_min, ", ", ShiftLimits::shift_cut_max,
                       "]");
  return Support::yes();
}

inline Support padding_rule(const char* op, const Window2D& w) {
  const auto& p = w.pads;
  if (*std::max_element(p.begin(), p.end()) > LayerLimits::max_padding)
    return Support::no(op, " padding (top ", p[0], ", left ", p[1], ", bottom ", p[2], ", right ", p[3],
                       ") exceeds the NPU limit of ", LayerLimits::max_padding, " pixels per edge");
  return Support::yes();
}

// The window of a conv or pooling node, resolved like the CPU kernel does (1-D as 1×L).
inline std::optional<std::pair<ops::WindowAttrs, Window2D>> window_of(const NodeInfo& info, bool pooling,
                                                                      std::array<std::int64_t, 2> kernel_hw,
                                                                      Support& why) {
  const auto dims = info.input_dims(0);
  const int spatial = dims ? static_cast<int>(dims->size()) - 2 : 0;
  try {
    const Attributes copy = info.node().attrs;  // reads on a copy are not recorded on the node
    const ops::WindowAttrs a = ops::WindowAttrs::read(copy, spatial, pooling);
    std::int64_t h = 1, w = 1;
    const bool same = a.auto_pad == ops::AutoPad::same_upper || a.auto_pad == ops::AutoPad::same_lower;
    if (same && (a.strides[0] > 1 || a.strides[1] > 1)) {
      const bool known = dims && dims->size() >= 3 && dims->back() > 0 && (*dims)[dims->size() - 2] > 0;
      if (!known) {
        why = Support::no("auto_pad SAME with a stride above 1 and an input size unknown when the session is "
                          "prepared: the padding cannot be checked against the NPU's limit");
        return std::nullopt;
      }
      w = dims->back();
      h = a.spatial == 2 ? (*dims)[dims->size() - 2] : 1;
    }
    return std::make_pair(a, a.resolve(h, w, kernel_hw));
  } catch (const error& e) {
    why = Support::no("the window attributes are invalid: ", e.what());
    return std::nullopt;
  }
}

inline bool is_int8(std::optional<DType> t) { return t && (*t == DType::u8 || *t == DType::i8); }

// Why a node whose data input has element type `t` is not an INT8 layer (empty when it is).
inline std::optional<Support> data_type_rule(const Node& n, std::optional<DType> t) {
  if (is_int8(t)) return std::nullopt;
  if (!t) return Support::no(n.op_type, ": the element type of the input is unknown when the session is prepared");
  if (*t == DType::i16 || *t == DType::u16) return int16_reason("the input", *t);
  if (*t == DType::f32 || *t == DType::bf16)
    return Support::no(n.op_type, " on ", *t,
                       " data: only quantized (INT8) layers run on the NPU, and this node was not quantized");
  return Support::no(n.op_type, " on ", *t, " data: not an INT8 layer");
}

}  // namespace detail

// ---- the rules, operator by operator --------------------------------------------------------------

inline Support check_conv(const NodeInfo& info) {
  using namespace detail;
  const Node& n = info.node();
  if (auto a = unknown_attr(n, {"auto_pad", "dilations", "group", "kernel_shape", "pads", "strides", "qnn_activation",
                                "qnn_clip_min", "qnn_clip_max", "qnn_requant"}))
    return Support::no("attribute '", *a, "' is not handled by the NPU emulator");
  if (Support p = policy_rule(n); !p) return p;
  Support why;
  const auto x = activation_quant(info, 1, 2, "x", why);
  if (!x) return why;
  const auto wpos = weight_pos(info, 3, 4, 5, why);
  if (!wpos) return why;
  const auto y = activation_quant(info, 6, 7, "y", why);
  if (!y) return why;
  if (Support s = shift_cut_rule(x->pos, *wpos, y->pos); !s) return s;
  const Shape& ws = info.constant_input(3)->shape();
  if (ws.rank() != 3 && ws.rank() != 4) return Support::no("a ", ws.rank() - 2, "-D convolution (weights ", ws, ")");
  const auto win = window_of(info, false, {ws.rank() == 4 ? ws[2] : 1, ws[ws.rank() - 1]}, why);
  if (!win) return why;
  return padding_rule("Conv", win->second);
}

// com.microsoft.QGemm: an FC layer.
inline Support check_gemm(const NodeInfo& info) {
  using namespace detail;
  const Node& n = info.node();
  if (auto a = unknown_attr(n, {"alpha", "transA", "transB", "qnn_activation", "qnn_clip_min", "qnn_clip_max",
                                "qnn_requant"}))
    return Support::no("attribute '", *a, "' is not handled by the NPU emulator");
  if (Support p = policy_rule(n); !p) return p;
  if (const float alpha = attr_float(n, "alpha", 1.0f); alpha != 1.0f)
    return Support::no("alpha = ", alpha, "; the NPU's FC layer has no output factor");
  if (attr_int(n, "transA", 0) != 0) return Support::no("transA = 1; the NPU's FC layer reads activations row by row");
  if (!info.has_input(7) || !info.has_input(8))
    return Support::no("float output (no y_scale/y_zero_point); the NPU's INT8 FC layer writes INT8");
  Support why;
  const auto a = activation_quant(info, 1, 2, "A", why);
  if (!a) return why;
  const auto wpos = weight_pos(info, 3, 4, 5, why);
  if (!wpos) return why;
  const auto y = activation_quant(info, 7, 8, "Y", why);
  if (!y) return why;
  return shift_cut_rule(a->pos, *wpos, y->pos);
}

// QLinearMatMul with constant 2-D weights is an FC layer; a product of two activations is not.
inline Support check_matmul(const NodeInfo& info) {
  using namespace detail;
  const Node& n = info.node();
  if (auto a = unknown_attr(n, {"qnn_activation", "qnn_clip_min", "qnn_clip_max", "qnn_requant"}))
    return Support::no("attribute '", *a, "' is not handled by the NPU emulator");
  if (Support p = policy_rule(n); !p) return p;
  const Tensor* b = info.constant_input(3);
  if (!b) return Support::no("MatMul of two run-time tensors; the NPU's FC layer needs constant weights");
  if (b->shape().rank() != 2) return Support::no("MatMul weights of shape ", b->shape(), "; the NPU's FC layer takes 2-D weights");
  Support why;
  const auto a = activation_quant(info, 1, 2, "a", why);
  if (!a) return why;
  const auto wpos = weight_pos(info, 3, 4, 5, why);
  if (!wpos) return why;
  const auto y = activation_quant(info, 6, 7, "y", why);
  if (!y) return why;
  return shift_cut_rule(a->pos, *wpos, y->pos);
}

// Whether a value is read by a hard sigmoid (QLinearSigmoid, or QLinearUnary hard_sigmoid with
// alpha 1/6, beta 1/2): the other factor of Mul(x, hsigmoid(x)) — a swish.
inline bool feeds_hard_sigmoid(const Graph& g, const std::string& value) {
  for (const Node& m : g.nodes) {
    if (m.inputs.empty() || m.inputs[0] != value) continue;
    if (m.domain == "com.microsoft" && m.op_type == "QLinearSigmoid") return true;
    if (m.domain == "qnn" && m.op_type == "QLinearUnary") {
      const std::string act = detail::attr_string(m, "activation", "");
      if (act == "sigmoid") return true;
      if (act == "hard_sigmoid" && std::fabs(detail::attr_float(m, "alpha", 0.2f) - 1.0f / 6.0f) < 1e-6f &&
          std::fabs(detail::attr_float(m, "beta", 0.5f) - 0.5f) < 1e-6f)
        return true;
    }
  }
  return false;
}

// com.microsoft.QLinearAdd / QLinearMul.
inline Support check_eltwise(const NodeInfo& info, bool add) {
  using namespace detail;
  const Node& n = info.node();
  const char* op = add ? "Add" : "Mul";
  if (auto a = unknown_attr(n, {"qnn_requant"})) return Support::no("attribute '", *a, "' is not handled by the NPU emulator");
  if (Support p = policy_rule(n); !p) return p;
  Support why;
  const auto a = activation_quant(info, 1, 2, "A", why);
  if (!a) return why;
  const auto b = activation_quant(info, 4, 5, "B", why);
  if (!b) return why;
  const auto c = activation_quant(info, 6, 7, "C", why);
  if (!c) return why;
  if (a->dtype != b->dtype || a->dtype != c->dtype) return Support::no("A, B and C differ in type");
  // Shapes: equal, or one operand a constant (the table's "Const Mul/Add"), or for Mul a W×H×1
  // run-time operand.
  const bool constant = info.constant_input(0) || info.constant_input(3);
  const auto da = info.input_dims(0), db = info.input_dims(3);
  if (!constant && !(da && db && *da == *db && std::find(da->begin(), da->end(), kDynamicDim) == da->end())) {
    if (!da || !db)
      return Support::no(op, " operand shapes unknown when the session is prepared");
    const bool same_rank4 = da->size() == 4 && db->size() == 4;
    auto matches_except_c = [&](const std::vector<std::int64_t>& big, const std::vector<std::int64_t>& small) {
      return small[1] == 1 && small[2] == big[2] && small[3] == big[3];
    };
    auto per_channel = [&](const std::vector<std::int64_t>& big, const std::vector<std::int64_t>& small) {
      return small[1] == big[1] && small[2] == 1 && small[3] == 1;
    };
    const bool equal_shapes = *da == *db;
    if (!equal_shapes) {
      if (add || !same_rank4)
        return Support::no("broadcast ", op, " of run-time tensors ", dims_text(da), " and ", dims_text(db),
                           " is not in the NPU layer-support table (equal shapes, or a constant operand)");
      if (per_channel(*da, *db) || per_channel(*db, *da))
        return Support::no("Mul by a 1x1xC run-time tensor (", dims_text(da), " * ", dims_text(db),
                           ") is APU-only on the NPU");
      if (!matches_except_c(*da, *db) && !matches_except_c(*db, *da))
        return Support::no("broadcast Mul of ", dims_text(da), " and ", dims_text(db),
                           " is not in the NPU layer-support table (equal shapes, a WxHx1 operand, or a constant)");
    }
  }
  if (add) {
    const int read = std::max(a->pos, b->pos) - std::min(a->pos, b->pos);
    if (read > ShiftLimits::shift_read_max)
      return Support::no("shift_read = max(ipos) - min(ipos) = ", std::max(a->pos, b->pos), " - ",
                         std::min(a->pos, b->pos), " = ", read, " exceeds the NPU's limit ", ShiftLimits::shift_read_max);
    const int write = std::min(a->pos, b->pos) - c->pos;
    if (write < ShiftLimits::add_write_min || write > ShiftLimits::add_write_max)
      return Support::no("shift_write = min(ipos) - opos = ", std::min(a->pos, b->pos), " - ", c->pos, " = ", write,
                         " is outside the NPU's range [", ShiftLimits::add_write_min, ", ", ShiftLimits::add_write_max,
                         "]");
    return Support::yes();
  }
  const int write = a->pos + b->pos - c->pos;
  if (write < ShiftLimits::mul_write_min || write > ShiftLimits::mul_write_max)
    return Support::no("shift_write = ipos0 + ipos1 - opos = ", a->pos, " + ", b->pos, " - ", c->pos, " = ", write,
                       " is outside the NPU's range [", ShiftLimits::mul_write_min, ", ", ShiftLimits::mul_write_max, "]");
  if (feeds_hard_sigmoid(info.graph(), n.inputs[0]) || feeds_hard_sigmoid(info.graph(), n.inputs[3]))
    if (write < ShiftLimits::swish_min || write > ShiftLimits::swish_max)
      return Support::no("shift_swish = ipos0 + ipos1 - opos = ", write, " is outside the NPU's range [",
                         ShiftLimits::swish_min, ", ", ShiftLimits::swish_max, "] for the Mul of a swish");
  return Support::yes();
}

// com.microsoft.QLinearConcat: every input at the output's position and zero point (align_concat).
inline Support check_concat(const NodeInfo& info) {
  using namespace detail;
  const Node& n = info.node();
  if (auto a = unknown_attr(n, {"axis", "qnn_requant"})) return Support::no("attribute '", *a, "' is not handled by the NPU emulator");
  if (Support p = policy_rule(n); !p) return p;
  if (n.inputs.size() < 5 || (n.inputs.size() - 2) % 3 != 0) return Support::no("malformed QLinearConcat inputs");
  Support why;
  const auto y = activation_quant(info, 0, 1, "Y", why);
  if (!y) return why;
  for (std::size_t i = 2, k = 0; i < n.inputs.size(); i += 3, ++k) {
    const auto x = activation_quant(info, i + 1, i + 2, "a concatenated input", why);
    if (!x) return why;
    if (x->pos != y->pos || x->dtype != y->dtype || x->zero_point != y->zero_point)
      return Support::no("align_concat: input ", k, " has position ", x->pos, ", the output ", y->pos,
                         "; the NPU concatenates at one position");
  }
  return Support::yes();
}

// MaxPool on INT8 data (the QDQ lowering keeps it on the integers).
inline Support check_max_pool(const NodeInfo& info) {
  using namespace detail;
  const Node& n = info.node();
  if (auto s = data_type_rule(n, info.input_dtype(0))) return *s;
  if (auto a = unknown_attr(n, {"auto_pad", "ceil_mode", "dilations", "kernel_shape", "pads", "storage_order", "strides"}))
    return Support::no("attribute '", *a, "' is not handled by the NPU emulator");
  if (n.outputs.size() > 1 && !n.outputs[1].empty()) return Support::no("MaxPool with an Indices output");
  Support why;
  const auto win = window_of(info, true, {0, 0}, why);
  if (!win) return why;
  const Window2D& w = win->second;
  if (w.dilations[0] != 1 || w.dilations[1] != 1)
    return Support::no("dilated MaxPool (dilations ", w.dilations[0], "x", w.dilations[1],
                       ") is not in the NPU layer-support table");
  const std::int64_t kh = w.kernel[0], kw = w.kernel[1];
  if ((kh == 2 && kw == 1) || (kh == 1 && kw == 2) || (kh == 3 && kw == 1) || (kh == 1 && kw == 3))
    return Support::no("MaxPool kernel ", kh, "x", kw, " is not supported by the NPU (kernels 2x1, 1x2, 3x1 and 1x3)");
  if (kh * kw > LayerLimits::max_pool_window)
    return Support::no("MaxPool kernel ", kh, "x", kw, " (", kh * kw, " taps) exceeds the NPU limit of W x H <= ",
                       LayerLimits::max_pool_window);
  return padding_rule("MaxPool", w);
}

// The DPU factor of a kh×kw average, or why there is none.
inline Support avg_window_rule(const char* op, std::int64_t kh, std::int64_t kw) {
  if (kh * kw > LayerLimits::max_pool_window)
    return Support::no(op, " window ", kh, "x", kw, " (", kh * kw, " taps) exceeds the NPU limit of W x H <= ",
                       LayerLimits::max_pool_window);
  if (kh != kw)
    return Support::no("non-square ", op, " window ", kh, "x", kw,
                       ": the NPU's averaging factor k/2^n is defined for square windows only");
  if (kh > LayerLimits::max_avg_pool_side)
    return Support::no(op, " window side ", kh, " exceeds ", LayerLimits::max_avg_pool_side,
                       ": the NPU's averaging factor is not defined there");
  return Support::yes();
}

inline Support align_pool_rule(const ActQuant& x, const ActQuant& y) {
  if (x.pos != y.pos || x.dtype != y.dtype || x.zero_point != y.zero_point)
    return Support::no("align_pool: input position ", x.pos, " differs from output position ", y.pos,
                       "; the NPU pools at one position");
  return Support::yes();
}

// com.microsoft.QLinearAveragePool.
inline Support check_avg_pool(const NodeInfo& info) {
  using namespace detail;
  const Node& n = info.node();
  if (auto a = unknown_attr(n, {"auto_pad", "ceil_mode", "count_include_pad", "kernel_shape", "pads", "strides",
                                "channels_last", "qnn_requant"}))
    return Support::no("attribute '", *a, "' is not handled by the NPU emulator");
  if (attr_int(n, "channels_last", 0) != 0) return Support::no("channels_last = 1 (NHWC)");
  if (Support p = policy_rule(n); !p) return p;
  Support why;
  const auto x = activation_quant(info, 1, 2, "x", why);
  if (!x) return why;
  const auto y = activation_quant(info, 3, 4, "y", why);
  if (!y) return why;
  if (Support s = align_pool_rule(*x, *y); !s) return s;
  const auto win = window_of(info, true, {0, 0}, why);
  if (!win) return why;
  const Window2D& w = win->second;
  if (Support s = avg_window_rule("AveragePool", w.kernel[0], w.kernel[1]); !s) return s;
  if (Support s = padding_rule("AveragePool", w); !s) return s;
  const bool padded = std::any_of(w.pads.begin(), w.pads.end(), [](std::int64_t p) { return p > 0; });
  if (padded && attr_int(n, "count_include_pad", 0) == 0)
    return Support::no("AveragePool with padding excluded from the divisor (count_include_pad = 0): the NPU does "
                       "not support excluding padding");
  if (win->first.ceil_mode) {
    const auto d = info.input_dims(0);
    if (!d || d->size() != 4 || (*d)[2] <= 0 || (*d)[3] <= 0)
      return Support::no("ceil_mode = 1 with an input size unknown when the session is prepared");
    for (int a = 0; a < 2; ++a) {
      const auto u = static_cast<std::size_t>(a);
      const std::int64_t in = (*d)[2 + u];
      const std::int64_t out = qnn::detail::output_extent(in, w.kernel[u], w.strides[u], 1, w.pads[u], w.pads[u + 2], true);
      if ((out - 1) * w.strides[u] + w.kernel[u] > in + w.pads[u] + w.pads[u + 2])
        return Support::no("ceil_mode = 1: the last window extends past the padded input, which the NPU does not "
                           "average");
    }
  }
  return Support::yes();
}

// com.microsoft.QLinearGlobalAveragePool.
inline Support check_global_avg_pool(const NodeInfo& info) {
  using namespace detail;
  const Node& n = info.node();
  if (auto a = unknown_attr(n, {"channels_last", "qnn_requant"}))
    return Support::no("attribute '", *a, "' is not handled by the NPU emulator");
  if (attr_int(n, "channels_last", 0) != 0) return Support::no("channels_last = 1 (NHWC)");
  if (Support p = policy_rule(n); !p) return p;
  Support why;
  const auto x = activation_quant(info, 1, 2, "x", why);
  if (!x) return why;
  const auto y = activation_quant(info, 3, 4, "y", why);
  if (!y) return why;
  if (Support s = align_pool_rule(*x, *y); !s) return s;
  const auto d = info.input_dims(0);
  if (!d || d->size() != 4 || (*d)[2] <= 0 || (*d)[3] <= 0)
    return Support::no("GlobalAveragePool over ", dims_text(d),
                       ": the NPU needs a 4-D input whose H and W are known when the session is prepared");
  return avg_window_rule("GlobalAveragePool", (*d)[2], (*d)[3]);
}

// The hard-sigmoid position rules (the NPU's Sigmoid and HardSigmoid).
inline Support hard_sigmoid_rule(const ActQuant& x, const ActQuant& y) {
  const int shift = kHardSigmoidShift + x.pos - y.pos;
  if (x.pos < ShiftLimits::hsigmoid_ipos_min || x.pos > ShiftLimits::hsigmoid_ipos_max)
    return Support::no("hard sigmoid input position ", x.pos, " is outside the NPU's range [",
                       ShiftLimits::hsigmoid_ipos_min, ", ", ShiftLimits::hsigmoid_ipos_max, "]");
  if (y.pos < ShiftLimits::hsigmoid_opos_min)
    return Support::no("hard sigmoid output position ", y.pos, " is below the NPU's minimum ",
                       ShiftLimits::hsigmoid_opos_min);
  if (shift < ShiftLimits::hsigmoid_shift_min || shift > ShiftLimits::hsigmoid_shift_max)
    return Support::no("shift_sigmoid = 14 + ipos - opos = ", shift, " is outside the NPU's range [",
                       ShiftLimits::hsigmoid_shift_min, ", ", ShiftLimits::hsigmoid_shift_max, "]");
  return Support::yes();
}

// Quantized activations: com.microsoft.QLinearSigmoid / QLinearLeakyRelu and qnn.QLinearUnary.
// `kind`: relu, clip, leaky_relu, sigmoid, hard_sigmoid, hard_swish, tanh.
inline Support check_activation(const NodeInfo& info, const std::string& kind) {
  using namespace detail;
  const Node& n = info.node();
  if (auto a = unknown_attr(n, {"activation", "alpha", "beta", "clip_min", "clip_max", "qnn_requant"}))
    return Support::no("attribute '", *a, "' is not handled by the NPU emulator");
  if (kind == "hard_swish" || kind == "tanh")
    return Support::no(kind == "tanh" ? "Tanh" : "HardSwish",
                       " runs on the NPU as an approximation with up to 16 intervals whose breakpoints are not "
                       "published; the emulator cannot reproduce it bit for bit");
  if (kind != "relu" && kind != "clip" && kind != "leaky_relu" && kind != "sigmoid" && kind != "hard_sigmoid")
    return Support::no("activation '", kind, "' is not in the NPU layer-support table");
  Support why;
  const auto x = activation_quant(info, 1, 2, "X", why);
  if (!x) return why;
  const auto y = activation_quant(info, 3, 4, "Y", why);
  if (!y) return why;
  if (x->dtype != y->dtype) return Support::no("X (", x->dtype, ") and Y (", y->dtype, ") differ in type");
  if (kind == "hard_sigmoid") {
    const float alpha = attr_float(n, "alpha", 0.2f), beta = attr_float(n, "beta", 0.5f);
    if (std::fabs(alpha - 1.0f / 6.0f) >= 1e-6f || std::fabs(beta - 0.5f) >= 1e-6f)
      return Support::no("HardSigmoid alpha ", alpha, ", beta ", beta,
                         ": the NPU computes relu6(x + 3) * 2731/16384 (alpha 1/6, beta 0.5) only");
  }
  if (kind == "sigmoid" || kind == "hard_sigmoid") return hard_sigmoid_rule(*x, *y);
  return Support::yes();
}

// Data movement on INT8 tensors with static parameters: Reshape, Flatten, Squeeze, Unsqueeze,
// Identity, and Slice with unit steps (the table's Crop).
inline Support check_layout(const NodeInfo& info) {
  using namespace detail;
  const Node& n = info.node();
  if (auto s = data_type_rule(n, info.input_dtype(0))) return *s;
  for (std::size_t i = 1; i < n.inputs.size(); ++i)
    if (info.has_input(i) && !info.constant_input(i))
      return Support::no(n.op_type, " with a run-time input ", i, "; the NPU needs static shapes");
  if (n.op_type == "Slice" && info.has_input(4)) {
    const Tensor* steps = info.constant_input(4);
    for (std::int64_t i = 0; i < steps->numel(); ++i) {
      const std::int64_t s = steps->dtype() == DType::i64 ? steps->span<std::int64_t>()[static_cast<std::size_t>(i)]
                                                          : steps->span<std::int32_t>()[static_cast<std::size_t>(i)];
      if (s != 1) return Support::no("Slice with step ", s, "; the NPU crops with unit steps only");
    }
  }
  return Support::yes();
}

// The whole table: whether the NPU runs this node, and if not, why.
inline Support check_layer(const NodeInfo& info) {
  const Node& n = info.node();
  const std::string& t = n.op_type;
  if (n.domain.empty()) {
    if (t == "QLinearConv") return check_conv(info);
    if (t == "QLinearMatMul") return check_matmul(info);
    if (t == "MaxPool") return check_max_pool(info);
    if (t == "Reshape" || t == "Flatten" || t == "Squeeze" || t == "Unsqueeze" || t == "Identity" || t == "Slice")
      return check_layout(info);
    if (t == "QuantizeLinear")
      return Support::no("quantizes float data: the NPU computes on INT8 tensors, the model input is quantized on the "
                         "host");
    if (t == "DequantizeLinear")
      return Support::no("produces float data: the NPU writes INT8 tensors, dequantizing runs on the host");
    if (t == "Pad")
      return Support::no("Pad outside a quantized unit (qnn's QDQ lowering keeps Pad in float32)");
    if (t == "ConvTranspose") return Support::no("Deconvolution is APU-only on the NPU");
    if (t == "DepthToSpace") return Support::no("Depth-to-Space is APU-only on the NPU");
    if (t == "Transpose" || t == "Gather")
      return Support::no(t, " is not in the NPU layer-support table");
  } else if (n.domain == "com.microsoft") {
    if (t == "QGemm") return check_gemm(info);
    if (t == "QLinearAdd") return check_eltwise(info, true);
    if (t == "QLinearMul") return check_eltwise(info, false);
    if (t == "QLinearConcat") return check_concat(info);
    if (t == "QLinearAveragePool") return check_avg_pool(info);
    if (t == "QLinearGlobalAveragePool") return check_global_avg_pool(info);
    if (t == "QLinearSigmoid") return check_activation(info, "sigmoid");
    if (t == "QLinearLeakyRelu") return check_activation(info, "leaky_relu");
  } else if (n.domain == "qnn" && t == "QLinearUnary") {
    return check_activation(info, detail::attr_string(n, "activation", ""));
  }
  if (auto s = detail::data_type_rule(n, info.input_dtype(0))) return *s;
  return Support::no("operator ", n.domain.empty() ? "" : n.domain + ".", t, " is not in the NPU layer-support table");
}

}  // namespace qnn::backends::npu
// ---- end qnn/backends/npu/layer_support.hpp --------------------------------------------------------

namespace qnn::backends::npu {

class Emulator {
 public:
  static constexpr std::string_view name = "npu-emu";

  // A node prepared for the emulated NPU: its kernel, run on the calling thread.
  class Kernel final : public OpKernel {
   public:
    explicit Kernel(std::unique_ptr<OpKernel> body) : body_(std::move(body)) {}
    void run(KernelContext& ctx) const override { body_->run(ctx); }
    std::int64_t macs(const KernelContext& ctx) const override { return body_->macs(ctx); }

   private:
    std::unique_ptr<OpKernel> body_;
  };
  using Ticket = ReadyTicket;

  Support supports(const NodeInfo& info) const { return check_layer(info); }

  std::unique_ptr<Kernel> prepare(const NodeInfo& info) const {
    const Node& n = info.node();
    std::unique_ptr<OpKernel> body = with_context(n.where(), [&] { return make_body(info); });
    const auto unused = n.attrs.unused();
    check(unused.empty(), n.where(), ": attribute '", unused.empty() ? "" : unused.front(), "' is not supported");
    return std::make_unique<Kernel>(std::move(body));
  }

  void run(const Kernel& k, KernelContext& ctx) const { k.run(ctx); }
  Ticket submit(const Kernel& k, KernelContext& ctx) const {
    k.run(ctx);
    return {};
  }
  void wait(Ticket&) const {}

 private:
  static std::unique_ptr<OpKernel> make_body(const NodeInfo& info) {
    const Node& n = info.node();
    const std::string& t = n.op_type;
    (void)info.attrs().get_string("qnn_requant", "npu-pow2");  // checked by check_layer
    if (n.domain == "com.microsoft" && (t == "QLinearAveragePool" || t == "QLinearGlobalAveragePool"))
      return make_avg_pool(info, t == "QLinearGlobalAveragePool");
    if (n.domain == "com.microsoft" && t == "QLinearSigmoid") return make_activation(info, "sigmoid");
    if (n.domain == "com.microsoft" && t == "QLinearLeakyRelu") return make_activation(info, "leaky_relu");
    if (n.domain == "qnn" && t == "QLinearUnary") return make_activation(info, info.attrs().get_string("activation"));
    // The DPU's arithmetic is qnn's npu_pow2 policy: the built-in kernels under that policy.
    SessionOptions o = info.options();
    o.requant = RequantPolicy::npu_pow2;
    return builtin_registry().make(NodeInfo(n, info.graph(), o, info.registry()));
  }

  static std::unique_ptr<OpKernel> make_avg_pool(const NodeInfo& info, bool global) {
    const ops::quant::ScaleZp xq = ops::quant::constant_per_tensor(info, 1, 2, 0, "x_scale/x_zero_point");
    (void)ops::quant::constant_per_tensor(info, 3, 4, 0, "y_scale/y_zero_point");  // aligned with x (check_layer)
    check(info.attrs().get_int("channels_last", 0) == 0, "channels_last = 1 (NHWC) is not supported");
    ops::WindowAttrs attrs;
    std::array<std::int64_t, 2> hw{0, 0};
    std::array<std::int64_t, 2> k{0, 0};
    if (global) {
      const auto d = info.input_dims(0);
      check(d && d->size() == 4, "the input must be 4-D with a known H and W");
      hw = {(*d)[2], (*d)[3]};
      k = hw;
    } else {
      const auto d = info.input_dims(0);
      attrs = ops::WindowAttrs::read(info.attrs(), d ? static_cast<int>(d->size()) - 2 : 0, true);
      (void)info.attrs().get_int("count_include_pad", 0);  // padding adds zeros either way (check_layer)
      k = attrs.kernel;
    }
    const auto f = avg_pool_factor(k[0], k[1]);
    check(f.has_value(), "no NPU averaging factor for a ", k[0], "x", k[1], " window");
    return ops::quant::visit_int8_dtype(xq.dtype, "x", [&](auto tag) -> std::unique_ptr<OpKernel> {
      using T = decltype(tag);
      return std::make_unique<DpuAvgPoolKernel<T>>(attrs, global, hw, *f, xq.zero_point());
    });
  }

  static std::unique_ptr<OpKernel> make_activation(const NodeInfo& info, const std::string& kind) {
    const ops::quant::ScaleZp xq = ops::quant::constant_per_tensor(info, 1, 2, 0, "X_scale/X_zero_point");
    const ops::quant::ScaleZp yq = ops::quant::constant_per_tensor(info, 3, 4, 0, "Y_scale/Y_zero_point");
    check(xq.dtype == yq.dtype, "X (", xq.dtype, ") and Y (", yq.dtype, ") must share one type");
    const int ip = to_pow2(xq.scale()).pos;
    const int op = to_pow2(yq.scale()).pos;
    const Attributes& at = info.attrs();
    const float inf = std::numeric_limits<float>::infinity();
    std::function<std::int64_t(std::int64_t)> rule;
    ActivationClamp clamp;
    if (kind == "relu") {
      rule = [=](std::int64_t v) { return dpu_shift(std::max<std::int64_t>(v, 0), ip - op); };
    } else if (kind == "clip") {
      clamp = ActivationClamp::clip(at.get_float("clip_min", -inf), at.get_float("clip_max", inf));
      rule = [=](std::int64_t v) { return dpu_shift(v, ip - op); };
    } else if (kind == "leaky_relu") {
      const std::int64_t k = leaky_relu_slope(at.get_float("alpha", 0.01f));
      rule = [=](std::int64_t v) { return dpu_leaky_relu(v, k, ip, op); };
    } else if (kind == "sigmoid" || kind == "hard_sigmoid") {
      if (kind == "hard_sigmoid") (void)at.get_float("alpha", 0.2f), (void)at.get_float("beta", 0.5f);
      rule = [=](std::int64_t v) { return dpu_hard_sigmoid(v, ip, op); };
    } else {
      fail("activation '", kind, "' has no NPU emulation");
    }
    return ops::quant::visit_int8_dtype(xq.dtype, "X", [&](auto tag) -> std::unique_ptr<OpKernel> {
      using T = decltype(tag);
      const IntRange r = output_range<T>(clamp, yq.scale(), yq.zero_point());
      return std::make_unique<DpuActivationKernel<T>>(rule, xq.zero_point(), yq.zero_point(), r.lo, r.hi);
    });
  }
};

static_assert(Backend<Emulator>);

}  // namespace qnn::backends::npu
// ---- end qnn/backends/npu/emulator.hpp -------------------------------------------------------------
#ifdef QNN_WITH_XRT
#include "qnn/backends/npu/xrt_session_backend.hpp"
#endif

namespace qnn::backends {

#ifdef QNN_WITH_XRT
inline constexpr bool kHaveXrt = true;
inline constexpr std::string_view kBackendNames = "cpu, cpu-ref, npu-emu, xrt";
#else
inline constexpr bool kHaveXrt = false;
inline constexpr std::string_view kBackendNames = "cpu, cpu-ref, npu-emu";
#endif

// What making a backend may need beyond its name. Only the XRT backend reads anything today: the
// user's artefact manifest (an NPU cannot run what was not compiled for it ahead of time,
// docs/backends_xrt.md) and how to behave without a device.
struct BackendOptions {
  std::string xrt_manifest;            // manifest JSON; empty: the QNN_XRT_MANIFEST environment variable
  bool xrt_require_device = true;      // false: without an XRT device every node runs on the CPU, reported
  std::int64_t xrt_timeout_ms = 10000;  // bound on each NPU run; 0 waits forever
};

// Fails unless `name` is a backend of this build.
inline void check_backend_name(std::string_view name) {
  if (name == cpu::SimdBackend::name || name == cpu::ReferenceBackend::name || name == npu::Emulator::name) return;
  if (name == "xrt") {
    check(kHaveXrt, "backend 'xrt' is not available in this build (configure with -DQNN_WITH_XRT=ON and link ",
          "qnn::xrt); available: ", kBackendNames);
    return;
  }
  fail("unknown backend '", name, "' (available: ", kBackendNames, ")");
}

template <class F>
decltype(auto) visit_backend(std::string_view name, [[maybe_unused]] const BackendOptions& options, F&& f) {
  if (name == cpu::SimdBackend::name) return f(cpu::SimdBackend{});
  if (name == cpu::ReferenceBackend::name) return f(cpu::ReferenceBackend{});
  if (name == npu::Emulator::name) return f(npu::Emulator{});
#ifdef QNN_WITH_XRT
  if (name == qnn::npu::XrtSessionBackend::name) {
    std::string manifest = options.xrt_manifest;
    if (const char* env = std::getenv("QNN_XRT_MANIFEST"); manifest.empty() && env) manifest = env;
    check(!manifest.empty(), "backend 'xrt' needs the manifest of your prebuilt NPU artefacts: pass ",
          "--xrt-manifest FILE or set QNN_XRT_MANIFEST (docs/backends_xrt.md)");
    check(options.xrt_timeout_ms >= 0, "the XRT timeout must not be negative, got ", options.xrt_timeout_ms);
    qnn::npu::XrtOptions o;
    o.require_device = options.xrt_require_device;
    o.run.timeout = std::chrono::milliseconds(options.xrt_timeout_ms);
    return f(qnn::npu::XrtSessionBackend::from_file(manifest, o));
  }
#endif
  check_backend_name(name);  // an unknown name, or xrt in a build without it
  fail("backend '", name, "' is not wired into visit_backend");
}

template <class F>
decltype(auto) visit_backend(std::string_view name, F&& f) {
  return visit_backend(name, BackendOptions{}, std::forward<F>(f));
}

}  // namespace qnn::backends
// ---- end qnn/backends/backends.hpp -----------------------------------------------------------------
// ---- begin qnn/runtime/async.hpp -------------------------------------------------------------------
// Asynchronous inference: submit jobs now, collect their results later.
//
// The model of the Vitis AI runtime's execute_async()/wait(): submit() hands a job (its inputs) to
// the runner and returns its id at once; wait(id) blocks until that job is done and returns its
// outputs — or rethrows, to that caller, exactly the exception the job raised. Several jobs run at
// once, one per worker thread, each worker with a run context of its own (Session::run is
// thread-safe that way; its results do not depend on which worker ran them).
//
// Bounded: at most max_queued jobs wait for a worker. submit() blocks while the queue is full
// (backpressure on a producer that outruns the model), try_submit() returns nothing instead.
// Running jobs and finished-but-uncollected ones do not count against the bound: a caller that
// submits many jobs and only then waits can never deadlock on its own results.
//
// Errors are never lost or swallowed: a job's exception is stored with the job and rethrown by the
// wait() that collects it; asking for an id that was never issued, or collected already, is itself
// an error. Every method may be called from any thread. Destroying the runner cancels the jobs
// still queued, lets the running ones finish and joins the workers; results and errors of jobs
// nobody collected are dropped with it.

#include <chrono>
#include <concepts>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <exception>
#include <map>
#include <mutex>
#include <optional>
#include <span>
#include <thread>
#include <utility>
#include <vector>

namespace qnn {

namespace detail {
// The per-thread context a model runs with: M::Context (a session's), else RunContext.
template <class M>
struct async_context {
  using type = RunContext;
};
template <class M>
  requires requires { typename M::Context; }
struct async_context<M> {
  using type = typename M::Context;
};
}  // namespace detail

// What the runner needs of a model: a session's run on a context of its own per thread.
template <class M>
concept AsyncRunnable = std::default_initializable<typename detail::async_context<M>::type> &&
                        requires(const M& m, typename detail::async_context<M>::type& ctx,
                                 std::span<const Tensor> in, std::vector<Tensor>& out) { m.run(ctx, in, out); };

struct AsyncOptions {
  int workers = 2;              // jobs running at once
  std::size_t max_queued = 16;  // jobs waiting for a worker
};

template <AsyncRunnable Model = Session>
class AsyncRunner {
 public:
  using JobId = std::uint64_t;
  using Context = typename detail::async_context<Model>::type;
  enum class JobState : std::uint8_t { queued, running, done, failed };

  explicit AsyncRunner(const Model& model, AsyncOptions options = {}) : model_(model), options_(options) {
    check(options_.workers >= 1, "AsyncRunner: workers must be at least 1, got ", options_.workers);
    check(options_.max_queued >= 1, "AsyncRunner: max_queued must be at least 1");
    workers_.reserve(static_cast<std::size_t>(options_.workers));
    for (int i = 0; i < options_.workers; ++i) workers_.emplace_back([this] { work(); });
  }
  AsyncRunner(const AsyncRunner&) = delete;
  AsyncRunner& operator=(const AsyncRunner&) = delete;

  ~AsyncRunner() {
    {
      std::lock_guard<std::mutex> lock(m_);
      stopping_ = true;
      for (JobId id : queue_) jobs_.erase(id);  // cancelled: nobody can collect them any more
      queue_.clear();
    }
    work_ready_.notify_all();
    space_ready_.notify_all();
    job_done_.notify_all();
    for (auto& t : workers_) t.join();
  }

  // Queues a job, blocking while max_queued jobs are already waiting. The job owns its inputs.
  JobId submit(std::vector<Tensor> inputs) {
    std::unique_lock<std::mutex> lock(m_);
    space_ready_.wait(lock, [&] { return stopping_ || queue_.size() < options_.max_queued; });
    check(!stopping_, "AsyncRunner: submit() while the runner is being destroyed");
    return enqueue(lock, std::move(inputs));
  }
  // Queues a job unless the queue is full.
  std::optional<JobId> try_submit(std::vector<Tensor> inputs) {
    std::unique_lock<std::mutex> lock(m_);
    if (stopping_ || queue_.size() >= options_.max_queued) return std::nullopt;
    return enqueue(lock, std::move(inputs));
  }

  // Blocks until job `id` has finished, then collects it: its outputs, or its exception rethrown.
  std::vector<Tensor> wait(JobId id) {
    std::unique_lock<std::mutex> lock(m_);
    find_or_fail(id);
    job_done_.wait(lock, [&] { return finished_or_gone(id); });
    return collect(lock, id);
  }
  // As wait(), but gives up after `timeout`: nothing, and the job stays to be collected later.
  std::optional<std::vector<Tensor>> wait_for(JobId id, std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(m_);
    find_or_fail(id);
    if (!job_done_.wait_for(lock, timeout, [&] { return finished_or_gone(id); })) return std::nullopt;
    return collect(lock, id);
  }

  JobState state(JobId id) const {
    std::lock_guard<std::mutex> lock(m_);
    return find_or_fail(id).state;
  }
  std::size_t queued() const {
    std::lock_guard<std::mutex> lock(m_);
    return queue_.size();
  }
  std::size_t running() const {
    std::lock_guard<std::mutex> lock(m_);
    return running_;
  }
  // Jobs submitted and not yet collected, in any state.
  std::size_t pending() const {
    std::lock_guard<std::mutex> lock(m_);
    return jobs_.size();
  }
  const AsyncOptions& options() const { return options_; }

 private:
  struct Job {
    std::vector<Tensor> inputs;
    std::vector<Tensor> outputs;
    std::exception_ptr error;
    JobState state = JobState::queued;
  };

  // The inputs are moved into the job; clang-tidy 14 misses the move in this class template.
  // NOLINTNEXTLINE(performance-unnecessary-value-param)
  JobId enqueue(std::unique_lock<std::mutex>& lock, std::vector<Tensor> inputs) {
    const JobId id = next_id_++;
    jobs_[id].inputs = std::move(inputs);
    queue_.push_back(id);
    lock.unlock();
    work_ready_.notify_one();
    return id;
  }

  const Job& find_or_fail(JobId id) const {
    auto it = jobs_.find(id);
    check(it != jobs_.end(), "AsyncRunner: job ", id, " is unknown (never submitted, already collected, or cancelled)");
    return it->second;
  }
  bool finished_or_gone(JobId id) const {
    auto it = jobs_.find(id);
    return it == jobs_.end() || it->second.state == JobState::done || it->second.state == JobState::failed;
  }
  std::vector<Tensor> collect(std::unique_lock<std::mutex>& lock, JobId id) {
    auto it = jobs_.find(id);
    check(it != jobs_.end(), "AsyncRunner: job ", id, " was collected by another caller, or cancelled");
    Job job = std::move(it->second);
    jobs_.erase(it);
    lock.unlock();
    if (job.error) std::rethrow_exception(job.error);
    return std::move(job.outputs);
  }

  void work() {
    std::optional<Context> ctx(std::in_place);
    while (true) {
      Job* job = nullptr;
      {
        std::unique_lock<std::mutex> lock(m_);
        work_ready_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
        if (queue_.empty()) return;  // stopping: the queue was cancelled
        job = &jobs_.at(queue_.front());
        queue_.pop_front();
        job->state = JobState::running;
        ++running_;
      }
      space_ready_.notify_one();
      // The job is ours until it is marked finished: nobody else touches a running job, and
      // std::map keeps its address while other jobs come and go.
      std::vector<Tensor> out;
      std::exception_ptr err;
      try {
        model_.run(*ctx, std::span<const Tensor>(job->inputs), out);
      } catch (...) {
        err = std::current_exception();
        ctx.emplace();  // the failed run's scratch state is not trusted for the next job
      }
      {
        std::lock_guard<std::mutex> lock(m_);
        job->inputs.clear();
        job->outputs = std::move(out);
        job->state = err ? JobState::failed : JobState::done;
        job->error = std::move(err);  // moved: the collector must hold the only reference
        --running_;
      }
      job_done_.notify_all();
    }
  }

  const Model& model_;
  const AsyncOptions options_;
  mutable std::mutex m_;
  std::condition_variable work_ready_;   // a job was queued, or stopping
  std::condition_variable space_ready_;  // the queue shrank, or stopping
  std::condition_variable job_done_;     // a job finished
  std::map<JobId, Job> jobs_;            // submitted, not yet collected
  std::deque<JobId> queue_;              // waiting for a worker
  std::size_t running_ = 0;
  JobId next_id_ = 1;
  bool stopping_ = false;
  std::vector<std::thread> workers_;     // last: started after everything above exists
};

}  // namespace qnn
// ---- end qnn/runtime/async.hpp ---------------------------------------------------------------------

// ---- begin qnn/quantize/as_written.hpp -------------------------------------------------------------
// A QDQ model as written versus as qnn runs it.
//
// As written, every quantized op computes DequantizeLinear → float op → QuantizeLinear: a float
// accumulation, then one rounding of x/s. qnn (like ONNX Runtime) fuses the unit into an integer
// kernel: an exact int32 sum, then the fp32 requantization of docs/numerics.md §4. The two agree
// except where the float result lands within float rounding of a half step — the 1-LSB "tie"
// differences users otherwise find by accident (onnxruntime#32132). This report runs both on the
// same inputs and lists every element that differs, with the reason:
//   tie         the as-written value before rounding is within `tie_window` LSB of x.5
//   propagated  an input of the op already differed between the two runs
//   arithmetic  neither: float accumulation error larger than the tie window (rare; listed so
//               nothing is hidden)

#include <cmath>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace qnn::quant {

struct ElementDiff {
  std::string tensor;       // the QuantizeLinear output
  std::int64_t index = 0;   // flat element index
  std::int32_t as_written = 0;
  std::int32_t fused = 0;
  double value_lsb = 0;     // the as-written float value / scale, before rounding
  std::string why;          // "tie", "propagated" or "arithmetic"
};

struct TensorDiff {
  std::string tensor;
  std::string op;           // the op the QuantizeLinear follows
  std::int64_t elements = 0;
  std::int64_t differing = 0;
  std::int32_t max_abs = 0;
};

struct AsWrittenReport {
  std::vector<TensorDiff> tensors;
  std::vector<ElementDiff> elements;  // every differing element, in graph order
  std::int64_t total_elements = 0;
  std::int64_t total_differing = 0;
};

inline AsWrittenReport compare_as_written(const Graph& qdq, std::span<const Tensor> inputs, int threads = 1,
                                          double tie_window = 1e-3) {
  struct QInfo {
    std::string q, x;  // the QuantizeLinear output and its float input
    float scale = 1;
    std::string op;
  };
  std::vector<QInfo> qs;
  for (const Node& n : qdq.nodes) {
    if (n.op_type != "QuantizeLinear" || !n.has_input(1)) continue;
    const Tensor* s = qdq.constant(n.inputs[1]);
    if (!s || s->numel() != 1 || qdq.is_constant(n.inputs[0])) continue;
    const int p = qdq.producer(n.inputs[0]);
    qs.push_back({n.outputs[0], n.inputs[0], s->span<float>()[0], p >= 0 ? qdq.nodes[static_cast<std::size_t>(p)].op_type : "input"});
  }
  check(!qs.empty(), "the model has no QuantizeLinear on an activation: nothing to compare");
  Graph written = qdq, fused = qdq;
  for (const auto& q : qs) {
    for (Graph* g : {&written, &fused})
      if (!g->is_graph_output(q.q)) g->outputs.push_back(q.q);
    if (!written.is_graph_output(q.x)) written.outputs.push_back(q.x);
  }
  SessionOptions wo;
  wo.optimize = false;
  wo.probe = false;
  wo.threads = threads;
  SessionOptions fo = wo;
  fo.optimize = true;
  const Session ws(std::move(written), wo);
  const Session fs(std::move(fused), fo);
  const auto wout = ws.run(inputs);
  const auto fout = fs.run(inputs);
  std::map<std::string, const Tensor*> wm, fm;
  for (std::size_t i = 0; i < wout.size(); ++i) wm[ws.output_names()[i]] = &wout[i];
  for (std::size_t i = 0; i < fout.size(); ++i) fm[fs.output_names()[i]] = &fout[i];

  // Which quantized tensors feed each op (through their DequantizeLinear).
  auto quantized_inputs = [&](const std::string& x) {
    std::vector<std::string> out;
    const int p = qdq.producer(x);
    if (p < 0) return out;
    for (const auto& in : qdq.nodes[static_cast<std::size_t>(p)].inputs) {
      const int dq = qdq.producer(in);
      if (dq >= 0 && qdq.nodes[static_cast<std::size_t>(dq)].op_type == "DequantizeLinear")
        out.push_back(qdq.nodes[static_cast<std::size_t>(dq)].inputs[0]);
    }
    return out;
  };

  AsWrittenReport rep;
  std::set<std::string> differed;
  for (const auto& q : qs) {
    const Tensor& a = *wm.at(q.q);
    const Tensor& b = *fm.at(q.q);
    const Tensor& x = *wm.at(q.x);
    check(a.dtype() == b.dtype() && a.numel() == b.numel(), "tensor '", q.q, "' differs in type or size between the runs");
    TensorDiff td{q.q, q.op, a.numel(), 0, 0};
    bool upstream = false;
    for (const auto& in : quantized_inputs(q.x)) upstream = upstream || differed.count(in);
    visit_dtype(a.dtype(), [&](auto t) {
      using T = decltype(t);
      if constexpr (QuantStorage<T>) {
        const auto av = a.span<T>();
        const auto bv = b.span<T>();
        const auto xv = x.span<float>();
        for (std::size_t i = 0; i < av.size(); ++i) {
          if (av[i] == bv[i]) continue;
          ElementDiff d;
          d.tensor = q.q;
          d.index = static_cast<std::int64_t>(i);
          d.as_written = av[i];
          d.fused = bv[i];
          d.value_lsb = double{xv[i] / q.scale};  // the fp32 quotient QuantizeLinear rounds
          const double frac = d.value_lsb - std::floor(d.value_lsb);
          d.why = std::fabs(frac - 0.5) <= tie_window ? "tie" : upstream ? "propagated" : "arithmetic";
          td.differing += 1;
          td.max_abs = std::max<std::int32_t>(td.max_abs, std::abs(static_cast<std::int32_t>(av[i]) - bv[i]));
          rep.elements.push_back(std::move(d));
        }
      }
    });
    if (td.differing) differed.insert(q.q);
    rep.total_elements += td.elements;
    rep.total_differing += td.differing;
    rep.tensors.push_back(td);
  }
  return rep;
}

}  // namespace qnn::quant
// ---- end qnn/quantize/as_written.hpp ---------------------------------------------------------------
// ---- begin qnn/quantize/bf16.hpp -------------------------------------------------------------------
// The BF16 configuration: Conv, Gemm and MatMul compute on bfloat16 operands with float32
// accumulation, everything else stays float32 (what Quark's BF16 preset and Ryzen AI's automatic
// FP32→BF16 conversion do).
//
// In the ONNX file this is written as ONNX Runtime runs it: each weight is stored as a bfloat16
// initializer followed by Cast(to=float), and each activation input passes through
// Cast(to=bfloat16) → Cast(to=float). Both casts are exact except the rounding to bfloat16 (round
// to nearest even, docs/numerics.md §3), so the float Conv/Gemm/MatMul then sees exactly the bf16
// operands — the same numbers qnn's bf16 kernels compute with.

#include <map>
#include <string>
#include <vector>

// ---- begin qnn/quantize/config.hpp -----------------------------------------------------------------
// Quantization configurations: the presets AMD Quark and ONNX Runtime users know, as data.
//
//   preset  activations                      weights                         default method
//   u8s8    uint8 asymmetric, float scale    int8 symmetric [−127,127]       minmax   (ONNX Runtime's default)
//   s8s8    int8 asymmetric, float scale     int8 symmetric                   minmax   (ONNX Runtime QInt8/QInt8)
//   a8w8    int8 symmetric, float scale      int8 symmetric                   minmax   (Quark A8W8)
//   a16w8   int16 symmetric, float scale     int8 symmetric                   minmax   (Quark A16W8)
//   xint8   uint8 symmetric (zp 128), 2^−pos int8 symmetric 2^−pos, per tensor pow2-mse (Quark XINT8, NPU)
//   bf16    bfloat16 (no integer quantization: Conv/Gemm/MatMul inputs and weights rounded to bf16)
// Weights are per output channel unless `per_channel` is off (XINT8 requires per tensor, as Quark
// does). `weight.reduced` is ONNX Runtime's reduce_range (weights on [−64, 64]; not for XINT8, whose
// NPU rules fix the int8 range). Nodes can be kept in float by name or by op type.

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>

// ---- begin qnn/quantize/methods.hpp ----------------------------------------------------------------
// Calibration methods: from one tensor's statistics (exact min/max, and a histogram covering
// [min, max]) to its quantization parameters. Normative description: docs/quantization.md,
// "Calibration methods"; tests: tests/quantize/test_methods.cpp.
//
// Statistical model. A histogram bin holds its count spread uniformly over the bin. Every method
// reads the histogram through that one model: the CDF is piecewise linear (percentiles interpolate
// inside a bin), the |x| histogram is the exact fold of that density around 0 (a bin straddling 0 is
// split where 0 cuts it), and the squared error of a bin is the integral of (x − Q(x))² over the bin,
// not the error at its centre (see quantization_mse).
//
//   minmax      range [min, max]; qparams_from_range adds 0 and applies the target's rules.
//   percentile  p (default 99.999, ONNX Runtime's and Quark's). Symmetric target: t = the p-th
//               percentile of |x|, range [−t, t]. Asymmetric target: (100 − p)/2 % of the mass is cut
//               from each tail (ONNX Runtime's rule), range [low, high]. Linear inside a bin.
//   entropy     TensorRT's KL-divergence search (Migacz, GTC 2017), as NVIDIA's pytorch-quantization
//               implements it (calib/histogram.py, _compute_amax_entropy), on the |x| histogram A
//               (bins of the histogram's width from 0 to past max|x|, the fold of the histogram; see
//               entropy_bins) whose first bin takes the count of the second (NVIDIA's bins[0] = bins[1]: the exact zeros
//               after a ReLU must not decide the threshold). For each candidate of i kept bins,
//               levels ≤ i ≤ bins:
//               P = A[0, i) with the mass beyond added to bin i−1; Q = A[0, i) (without that mass)
//               merged into `levels` groups — bin j joins group ⌊j·levels/i⌋ — each group's count
//               spread evenly over its non-empty bins (empty bins get 0); t = i·width minimizing
//               KL(P‖Q). A candidate whose bin i−1 is empty while mass lies beyond has P > 0 = Q there
//               (infinite divergence) and is skipped. Near-ties (1e−12 nats) go to the larger t, as
//               NVIDIA's "last argmin". levels = the codes on the positive side of the target range
//               (NVIDIA: 1 << (bits − 1 + unsigned)):
//                 symmetric target                      symmetric_levels() + 1   (int8: 128)
//                 asymmetric, tensor of one sign        qmax − qmin + 1          (uint8: 256)
//                 asymmetric, signed tensor             (qmax − qmin + 1) / 2    (uint8: 128)
//               and the range is [−t, t] ∩ [min, max]. Why one threshold for both sides of a signed
//               tensor with an asymmetric target: a per-side search would need each side's share of the
//               codes, which depends on the answer, and KL misbehaves for a side with few codes (with
//               levels → 1 it clips everything); one threshold on |x| is what ONNX Runtime's entropy
//               calibrator computes too, and a lopsided tensor keeps its short side unclipped.
//               Prefix sums make a candidate O(levels), the search O(bins·levels): ~0.3 M steps for
//               int8 on 2048 bins. If levels ≥ bins the histogram cannot resolve one step and the
//               range is [min, max].
//   mse         minimizes quantization_mse (the expected squared error under the actual scale, zero
//               point, rounding and clamping) over clipping ranges. Symmetric target: one threshold t,
//               range [−t, t] ∩ [min, max]. Asymmetric target: both ends, by alternating 1-D searches
//               (upper end with the lower fixed, then the lower end), each with the zero point the
//               range implies (qparams_from_range), until a round gains nothing. Each 1-D search
//               tries a geometric grid over [mse_min_fraction, 1]·extent, the current end and the
//               extent itself, then refines twice on a linear grid around the best. The search starts
//               from the better of the minmax and the percentile ranges, so its objective is never
//               worse than either.
//   pow2_mse    Quark's PowerOfTwoMethod.MinMSE (XINT8): scale = 2^−pos for pos = pos0 + pow2_first
//               … pos0 + pow2_last (default pos0 … pos0 + 4, five positions), the smallest
//               quantization_mse wins (ties: the smaller pos). pos0 is the non-overflow position, the
//               pos of qparams_from_range(min, max) on a power-of-two target, i.e. for symmetric
//               targets the largest pos with max|x|·2^pos ≤ symmetric_levels(): floor(log2(levels /
//               max|x|)). The zero point is the one of that minmax parameter set, kept for every pos
//               (as Quark keeps it). The result is a power-of-two scale whatever target.pow2 says.
//               Relation to the tools (docs/quantization.md has the citations): vai_q_onnx's
//               get_pos_overflow is floor(log2(min(128.5/|min|, 127.5/max))), one higher than pos0
//               when the extreme lands within half a step past the last code; it scans pos … pos+4.
//               Quark's current MinMSE starts from rint(−log2(s_minmax)) ∈ {pos0, pos0+1} and scans
//               −1 … +3 around it. pos0 … pos0+4 contains every position either tool can choose except
//               vai_q's pos0+5 in that half-step case and Quark's pos0−1 (coarser than non-overflow:
//               never smaller error in practice).
// Non-power-of-two methods on a power-of-two target: qparams_from_range rounds the scale up.
// All methods: a tensor with min == max gets the minmax parameters (a scale that represents the
// value; scale 1 if it is 0). No observed values is a qnn::error; so is a histogram method given an
// empty histogram.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

// ---- begin qnn/quantize/histogram.hpp --------------------------------------------------------------
// Streaming statistics of one tensor over a calibration set, in bounded memory.
//
// Calibration makes one pass over the data. Each tensor keeps its running minimum and maximum
// (RangeObserver) and, for the histogram methods, a GridHistogram: a histogram whose bins lie on a
// power-of-two grid that coarsens as the range grows. Memory is O(tensors × bins), independent of
// the number of calibration samples, and the result does not depend on batch boundaries or on the
// order of batches. NaN or infinity in a tensor is a qnn::error naming the tensor: a poisoned range
// would silently ruin the scale.

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <span>
#include <string>
#include <vector>

namespace qnn::quant {

namespace detail {
[[noreturn]] inline void fail_nonfinite(const std::string& tensor, float x) {
  fail("calibration: tensor '", tensor, "' holds ", x, "; NaN or infinity in calibration data would poison its scale");
}
}  // namespace detail

struct RangeObserver {
  float min = std::numeric_limits<float>::infinity();
  float max = -std::numeric_limits<float>::infinity();
  std::int64_t count = 0;

  void observe(std::span<const float> v, const std::string& tensor) {
    // One branch-free pass the compiler vectorizes (this runs on every activation of every
    // calibration image); only a batch holding a non-finite value is walked again to name it.
    float lo = min, hi = max;
    bool nan = false;
    for (const float x : v) {
      lo = x < lo ? x : lo;
      hi = x > hi ? x : hi;
      nan |= x != x;
    }
    if (nan || !std::isfinite(lo) || !std::isfinite(hi))
      for (std::size_t i = 0; i < v.size(); ++i)
        if (!std::isfinite(v[i]))
          fail("calibration: tensor '", tensor, "' holds ", v[i], " (value ", count + static_cast<std::int64_t>(i),
               "); NaN or infinity in calibration data would poison its scale");
    min = lo;
    max = hi;
    count += static_cast<std::int64_t>(v.size());
  }
  bool empty() const { return count == 0; }

  // Statistics of the union: what one observer of both spans would hold.
  void merge(const RangeObserver& o) {
    min = std::min(min, o.min);
    max = std::max(max, o.max);
    count += o.count;
  }
};

// `bins` equal-width bins over [lo, hi]. Values outside (possible only if the range came from other
// data) go to the end bins. The ends are doubles so that a GridHistogram's edges, multiples of a
// power of two far from 0, are held exactly.
struct Histogram {
  double lo = 0;
  double hi = 0;
  std::vector<std::int64_t> counts;

  Histogram() = default;
  Histogram(double l, double h, int bins) : lo(l), hi(h), counts(static_cast<std::size_t>(bins), 0) {
    check(bins >= 1, "histogram needs at least one bin");
    check(h >= l, "histogram range [", l, ", ", h, "] is inverted");
  }

  int bins() const { return static_cast<int>(counts.size()); }
  double width() const { return (hi - lo) / bins(); }
  double center(int i) const { return lo + (i + 0.5) * width(); }
  double edge(int i) const { return lo + i * width(); }
  std::int64_t total() const {
    std::int64_t t = 0;
    for (auto c : counts) t += c;
    return t;
  }

  int bin_of(float x) const {
    if (hi == lo) return 0;
    const double f = (double{x} - lo) / width();
    return static_cast<int>(std::clamp<double>(std::floor(f), 0, bins() - 1));
  }

  // Counts of the union: what one histogram of both spans would hold.
  void merge(const Histogram& o) {
    check(o.lo == lo && o.hi == hi && o.counts.size() == counts.size(), "histogram merge: different bins");
    for (std::size_t k = 0; k < counts.size(); ++k) counts[k] += o.counts[k];
  }

  // Same bins as bin_of, element for element. The division is bin_of's, hoisted width and all, so
  // edges land in the same bin.
  void observe(std::span<const float> v, const std::string& tensor) {
    if (hi == lo) {  // bin_of's one-bin case
      count(v, tensor, [](const float*, std::int32_t* idx, std::size_t n) { std::fill_n(idx, n, 0); });
      return;
    }
    const double w = width(), l = lo, top = bins() - 1;
    count(v, tensor, [&](const float* p, std::int32_t* idx, std::size_t n) {
      for (std::size_t i = 0; i < n; ++i) {
        // bin_of's clamp(floor(f), 0, top) without floor, which keeps GCC from vectorizing: clamped
        // to [0, top] first (NaN lands on 0, reported by count), truncation is floor, and top is whole.
        const double f = (double{p[i]} - l) / w;
        const double c = f >= 0 ? f : 0.0;
        idx[i] = static_cast<std::int32_t>(c <= top ? c : top);
      }
    });
  }

  // Adds v's values to the bins `index(chunk, idx, n)` writes to idx for the n values at `chunk`.
  // Two passes per chunk: the bin indices (a loop the compiler
  // can vectorize), then the counting into two interleaved 32-bit tables. Post-ReLU tensors put most
  // values in one bin, and incrementing one counter back to back waits on the previous store each
  // time; alternating tables halves that chain.
  template <class Index>
  void count(std::span<const float> v, const std::string& tensor, Index index) {
    if (v.empty()) return;
    constexpr std::size_t kChunk = 512;
    // Flushed before a 32-bit count could overflow.
    constexpr std::size_t kFlush = std::size_t{1} << 30;
    std::int32_t idx[kChunk];
    // Per-thread scratch, reused from call to call: calibration calls this for every tensor of
    // every batch.
    thread_local std::vector<std::uint32_t> scratch;
    scratch.assign(2 * counts.size(), 0);
    const std::span<std::uint32_t> even(scratch.data(), counts.size()), odd(scratch.data() + counts.size(), counts.size());
    const auto flush = [&] {
      for (std::size_t k = 0; k < counts.size(); ++k) {
        counts[k] += std::int64_t{even[k]} + std::int64_t{odd[k]};
        even[k] = odd[k] = 0;
      }
    };
    std::size_t since_flush = 0;
    for (std::size_t b = 0; b < v.size(); b += kChunk) {
      const std::size_t n = std::min(kChunk, v.size() - b);
      const float* p = v.data() + b;
      int nonfinite = 0;
      for (std::size_t i = 0; i < n; ++i) {
        std::uint32_t bits;  // an all-ones exponent: NaN or infinity, tested on the bits to stay vectorizable
        std::memcpy(&bits, p + i, sizeof bits);
        nonfinite |= (bits & 0x7f800000u) == 0x7f800000u;
      }
      if (nonfinite)
        for (std::size_t i = 0; i < n; ++i)
          if (!std::isfinite(p[i])) detail::fail_nonfinite(tensor, p[i]);
      index(p, idx, n);
      std::size_t i = 0;
      for (; i + 1 < n; i += 2) {
        ++even[static_cast<std::size_t>(idx[i])];
        ++odd[static_cast<std::size_t>(idx[i + 1])];
      }
      if (i < n) ++even[static_cast<std::size_t>(idx[i])];
      if ((since_flush += n) >= kFlush) {
        flush();
        since_flush = 0;
      }
    }
    flush();
  }
};

// A histogram built in the same pass as the range, before the range is known. Its bins are
// [k·2^e, (k+1)·2^e) for consecutive integers k: the finest power-of-two width for which the range
// covered so far takes at most `max_bins` bins. When the range grows, the width doubles as often as
// it must and runs of bins merge. That is exact, because every edge of the coarser grid is an edge
// of the finer one: the counts are those of the final grid, whatever the batches and their order,
// and the width is fixed by the final range alone. The final range [min, max] spans more than
// (max_bins − 1)/2 bins, so each bin is narrower than 2·(max − min)/(max_bins − 1).
//
// Binning is exact too. f = x·2^−e is exact in double, and the bin ⌊f⌋ − k_first is computed as
// f − k_first truncated. That subtraction is exact when |f| ≥ ½: f is then a multiple of 2^−24 and the
// result is below 2^25 in magnitude. A value in (−½, 0), whose f − k_first could round up onto the
// edge at 0 (x = −10^−30), is replaced by −½, which has the same floor; [0, ½) cannot round up to
// the next integer.
class GridHistogram {
 public:
  explicit GridHistogram(int max_bins) : max_bins_(max_bins) {
    check(max_bins >= 2 && max_bins <= (1 << 24), "grid histogram: max_bins ", max_bins, " is not in [2, 2^24]");
  }

  // Widens the grid to cover [lo, hi] too (finite, lo ≤ hi). Until the covered range has a width
  // the values are one point and are only counted.
  void cover(float lo, float hi) {
    check(std::isfinite(lo) && std::isfinite(hi) && lo <= hi, "grid histogram: range [", lo, ", ", hi,
          "] is not finite and ordered");
    if (h_.counts.empty() && lo_ <= hi_) point_ = lo_;  // what the values counted so far all are
    lo_ = std::min(lo_, lo);
    hi_ = std::max(hi_, hi);
    if (lo_ == hi_) return;
    // Without a grid yet, start from a width that surely gives too many bins; the minimal width
    // never shrinks as the range grows, so the search only ever goes up.
    int e = h_.counts.empty()
                ? static_cast<int>(std::floor(std::log2((double{hi_} - double{lo_}) / max_bins_))) - 1
                : exp_;
    while (last(e) - first(e) + 1 > max_bins_) ++e;
    if (h_.counts.empty() || e != exp_ || first(e) != first_ || last(e) != first_ + h_.bins() - 1) regrid(e);
  }

  void observe(std::span<const float> v, const std::string& tensor) {
    if (h_.counts.empty()) {  // a point range: every value is that point
      check(lo_ <= hi_ || v.empty(), "grid histogram: values observed before any range was covered");
      for (const float x : v)
        if (!std::isfinite(x)) detail::fail_nonfinite(tensor, x);
      point_count_ += static_cast<std::int64_t>(v.size());
      return;
    }
    const double inv_w = std::ldexp(1.0, -exp_), k0 = static_cast<double>(first_), top = h_.bins() - 1;
    h_.count(v, tensor, [&](const float* p, std::int32_t* idx, std::size_t n) {
      for (std::size_t i = 0; i < n; ++i) {
        const double f = double{p[i]} * inv_w;
        // (−½, 0) → −½: the same floor, −1, and f − k0 is then exact (see the class comment).
        const double fa = f < 0 ? (f < -0.5 ? f : -0.5) : f;
        // Clamped to [0, top] (a value outside the covered range goes to an end bin), truncation is
        // floor. Written without floor, which keeps GCC from vectorizing below SSE4.1.
        const double g = fa - k0;
        const double c = g >= 0 ? g : 0.0;
        idx[i] = static_cast<std::int32_t>(c <= top ? c : top);
      }
    });
  }

  // Counts of the union; `o` has the same grid (it was covered with the same ranges).
  void merge(const GridHistogram& o) {
    check(o.exp_ == exp_ && o.first_ == first_, "grid histogram merge: different grids");
    h_.merge(o.h_);
    point_count_ += o.point_count_;
  }

  // The same grid, no counts: a part for another thread to fill and merge.
  GridHistogram empty_copy() const {
    GridHistogram g = *this;
    std::fill(g.h_.counts.begin(), g.h_.counts.end(), 0);
    g.point_count_ = 0;
    return g;
  }

  // The counts as a Histogram over [k_first·2^e, (k_last + 1)·2^e] ⊇ [min, max]; a point range is
  // one bin of zero width at that point; nothing covered yet, an empty Histogram.
  Histogram histogram() const {
    if (h_.counts.empty()) {
      if (!(lo_ <= hi_)) return {};
      Histogram h(lo_, hi_, 1);
      h.counts[0] = point_count_;
      return h;
    }
    return h_;
  }

 private:
  // ⌊x / 2^e⌋, exact: the scaling is, and the result stays below 2^50 in magnitude, because a range
  // with a width spans at least one float step (2^−23 of its ends' magnitude) and e is never chosen
  // finer than a quarter of width / max_bins.
  static std::int64_t grid_index(float x, int e) { return static_cast<std::int64_t>(std::floor(std::ldexp(double{x}, -e))); }
  std::int64_t first(int e) const { return grid_index(lo_, e); }
  std::int64_t last(int e) const { return grid_index(hi_, e); }

  void regrid(int e) {
    const std::int64_t k0 = first(e), k1 = last(e);
    Histogram h(std::ldexp(static_cast<double>(k0), e), std::ldexp(static_cast<double>(k1 + 1), e),
                static_cast<int>(k1 - k0 + 1));
    if (!h_.counts.empty()) {
      const int shift = std::min(e - exp_, 62);  // arithmetic shift: ⌊k / 2^shift⌋ for negative k too
      for (int j = 0; j < h_.bins(); ++j)
        h.counts[static_cast<std::size_t>(((first_ + j) >> shift) - k0)] += h_.counts[static_cast<std::size_t>(j)];
    } else if (point_count_ > 0) {  // the values seen while the range was the single point lo_ or hi_
      h.counts[static_cast<std::size_t>(grid_index(point_, e) - k0)] += point_count_;
      point_count_ = 0;
    }
    h_ = std::move(h);
    exp_ = e;
    first_ = k0;
  }

  int max_bins_;
  float lo_ = std::numeric_limits<float>::infinity();
  float hi_ = -std::numeric_limits<float>::infinity();
  float point_ = 0;
  std::int64_t point_count_ = 0;
  int exp_ = 0;
  std::int64_t first_ = 0;
  Histogram h_;
};

}  // namespace qnn::quant
// ---- end qnn/quantize/histogram.hpp ----------------------------------------------------------------
// ---- begin qnn/quantize/qparams.hpp ----------------------------------------------------------------
// From a calibrated real range to quantization parameters (scale, zero point), for each kind of
// target the configurations use (docs/quantization.md):
//   asymmetric   [rmin, rmax] ∪ {0} mapped onto [qmin, qmax]: s = (rmax − rmin)/(qmax − qmin),
//                zp = rne(qmin − rmin/s), clamped to [qmin, qmax]  (ONNX Runtime's rule)
//   symmetric    signed: s = max(|rmin|, |rmax|)/qmax_sym with the range [−qmax, qmax]
//                (int8: [−127, 127], as ONNX Runtime and Quark store weights), zp = 0;
//                with `reduced` (ONNX Runtime's reduce_range: 7-bit weights) int8 is [−64, 64]
//                unsigned (XINT8 activations): zp = 2^(bits−1), s = absmax / (2^(bits−1) − 1)
//   power of two s rounded up to 2^⌈log2 s⌉ (so the calibrated range is never clipped further),
//                or chosen by a pow2 method directly (pos given).
// A degenerate range (all values zero) gets scale 1 — any scale represents 0 exactly. So does a range
// so small that its scale would be below FLT_MIN (zero or subnormal, which flush-to-zero SIMD code
// reads as 0): ONNX Runtime's and Quark's rule (`scale < finfo.tiny`); every value then maps to zp.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

namespace qnn::quant {

struct QuantTarget {
  DType storage = DType::u8;  // u8, i8, u16, i16
  bool symmetric = false;
  bool pow2 = false;
  // ONNX Runtime's reduce_range: int8 on [−64, 64], uint8 on [0, 127]. With 7-bit weights no pair of
  // u8×s8 products overflows int16 (2·255·64 < 2^15), so ORT's `vpmaddubsw` kernels on CPUs without
  // VNNI compute them exactly; qnn's kernels are exact either way.
  bool reduced = false;

  std::int32_t qmin() const {
    check_reduced();
    switch (storage) {
      case DType::u8: return 0;
      case DType::i8: return reduced ? -64 : symmetric ? -127 : -128;
      case DType::u16: return 0;
      case DType::i16: return symmetric ? -32767 : -32768;
      default: fail("quantization target must be u8, i8, u16 or i16, got ", storage);
    }
  }
  std::int32_t qmax() const {
    check_reduced();
    switch (storage) {
      case DType::u8: return reduced ? 127 : 255;
      case DType::i8: return reduced ? 64 : 127;
      case DType::u16: return 65535;
      case DType::i16: return 32767;
      default: fail("quantization target must be u8, i8, u16 or i16, got ", storage);
    }
  }
  void check_reduced() const {
    if (reduced) check(storage == DType::i8 || storage == DType::u8, "a reduced range needs int8 or uint8, got ", storage);
  }
  bool is_signed() const { return storage == DType::i8 || storage == DType::i16; }
  // Symmetric unsigned storage centres on 2^(bits−1): 128 for uint8 (XINT8), 32768 for uint16.
  std::int32_t symmetric_zero_point() const {
    return is_signed() ? 0 : (storage == DType::u8 ? 128 : 32768);
  }
  // Largest |q − zp| a symmetric scheme uses on both sides.
  std::int32_t symmetric_levels() const {
    return is_signed() ? qmax() : symmetric_zero_point() - 1;
  }
};

struct QParams {
  float scale = 1.0f;
  std::int32_t zero_point = 0;
};

// 2^⌈log2 s⌉ (as a float, exact).
inline float pow2_ceil(float s) {
  int e = 0;
  const float m = std::frexp(s, &e);  // s = m·2^e, m in [0.5, 1)
  return m == 0.5f ? s : std::ldexp(1.0f, e);
}

inline QParams qparams_from_range(double rmin, double rmax, const QuantTarget& t) {
  check(std::isfinite(rmin) && std::isfinite(rmax) && rmin <= rmax, "invalid calibrated range [", rmin, ", ", rmax, "]");
  rmin = std::min(rmin, 0.0);
  rmax = std::max(rmax, 0.0);
  QParams p;
  constexpr float tiny = std::numeric_limits<float>::min();
  if (t.symmetric) {
    const double absmax = std::max(-rmin, rmax);
    p.zero_point = t.symmetric_zero_point();
    p.scale = static_cast<float>(absmax / t.symmetric_levels());
    if (!(p.scale >= tiny)) p.scale = 1.0f;
  } else {
    const double span = rmax - rmin;
    p.scale = static_cast<float>(span / (t.qmax() - t.qmin()));
    if (!(p.scale >= tiny)) return {1.0f, t.qmin() < 0 && t.qmax() > 0 ? 0 : t.qmin()};
    const double zp = round_half_even(t.qmin() - rmin / double{p.scale});
    p.zero_point = static_cast<std::int32_t>(std::clamp<double>(zp, t.qmin(), t.qmax()));
  }
  if (t.pow2) p.scale = pow2_ceil(p.scale);
  return p;
}

}  // namespace qnn::quant
// ---- end qnn/quantize/qparams.hpp ------------------------------------------------------------------

namespace qnn::quant {

enum class CalibMethod : std::uint8_t { minmax, percentile, entropy, mse, pow2_mse };

constexpr std::string_view name_of(CalibMethod m) {
  switch (m) {
    case CalibMethod::minmax: return "minmax";
    case CalibMethod::percentile: return "percentile";
    case CalibMethod::entropy: return "entropy";
    case CalibMethod::mse: return "mse";
    case CalibMethod::pow2_mse: return "pow2-mse";
  }
  return "?";
}

inline std::optional<CalibMethod> parse_method(std::string_view s) {
  for (CalibMethod m : {CalibMethod::minmax, CalibMethod::percentile, CalibMethod::entropy, CalibMethod::mse,
                        CalibMethod::pow2_mse})
    if (name_of(m) == s) return m;
  return std::nullopt;
}

struct MethodOptions {
  // percentile (and mse's starting candidate): p in (0, 100].
  double percentile = 99.999;
  // Resolution of the statistics: the calibration driver's GridHistogram spans [min, max] with
  // between histogram_bins and 2·histogram_bins + 1 bins (each narrower than (max − min) /
  // histogram_bins). The methods use the bins of the Histogram they receive, whatever their number.
  int histogram_bins = 2048;
  // entropy: quantization bins on one side; 0 = derived from the target (see the header comment).
  int entropy_levels = 0;
  // mse: smallest clipping threshold tried, as a fraction of the side's extent; points of the
  // geometric grid; points of each of the two linear refinements; alternating rounds (asymmetric).
  double mse_min_fraction = 1e-3;
  int mse_grid = 96;
  int mse_refine = 17;
  int mse_rounds = 4;
  // pow2_mse: positions pos0 + pow2_first … pos0 + pow2_last (Quark: −1 … +3 around its rint start).
  int pow2_first = 0;
  int pow2_last = 4;

  void validate() const {
    check(percentile > 0 && percentile <= 100, "calibration: percentile ", percentile, " is not in (0, 100]");
    check(histogram_bins >= 1 && histogram_bins <= (1 << 23), "calibration: histogram_bins ", histogram_bins,
          " is not in [1, 2^23]");
    check(entropy_levels >= 0, "calibration: entropy_levels ", entropy_levels, " must be 0 (derived) or positive");
    check(mse_min_fraction > 0 && mse_min_fraction <= 1, "calibration: mse_min_fraction ", mse_min_fraction,
          " is not in (0, 1]");
    check(mse_grid >= 2 && mse_refine >= 3 && mse_rounds >= 1, "calibration: mse_grid (", mse_grid,
          ") must be ≥ 2, mse_refine (", mse_refine, ") ≥ 3 and mse_rounds (", mse_rounds, ") ≥ 1");
    check(pow2_first <= pow2_last && pow2_last - pow2_first <= 64, "calibration: pow2 scan ", pow2_first, " … ",
          pow2_last, " is empty or wider than 64 positions");
  }
};

// Quark's scale2pos / pos2scale: pos = rint(−log2(clamp(s, 2^−127, 2^127))), scale = 2^−pos.
inline int scale_to_pos(float s) {
  check(s > 0, "scale_to_pos: scale ", s, " is not positive");
  const double c = std::clamp(double{s}, std::ldexp(1.0, -127), std::ldexp(1.0, 127));
  return static_cast<int>(round_half_even(-std::log2(c)));
}
inline float pos_to_scale(int pos) {
  check(pos >= -127 && pos <= 127, "pos_to_scale: position ", pos, " is outside [−127, 127]");
  return std::ldexp(1.0f, -pos);
}

namespace method_detail {

// The range the quantizer actually clamps to: the storage type's, also for symmetric targets
// (QuantizeLinear on int8 produces −128 for x < −127.5·s whatever the calibration assumed).
inline std::pair<std::int32_t, std::int32_t> storage_range(DType t) {
  switch (t) {
    case DType::u8: return {0, 255};
    case DType::i8: return {-128, 127};
    case DType::u16: return {0, 65535};
    case DType::i16: return {-32768, 32767};
    default: fail("quantization target must be u8, i8, u16 or i16, got ", t);
  }
}

inline double cube(double x) { return x * x * x; }

// An antiderivative of (x − Q(x))² for the quantizer with step s whose reconstruction values are the
// multiples of s in [rlo, rhi] (clamped outside): on the staircase, with n the nearest integer to
// x/s and φ = x − n·s ∈ [−s/2, s/2), H(x) = n·s³/12 + (φ³ + s³/8)/3; beyond the ends, (x − end)³/3.
// One evaluation per bin edge; a bin's integral is the difference at its two edges.
struct SqErrorAntiderivative {
  double s, inv_s, rlo, rhi;
  double operator()(double x) const {
    const double xc = std::clamp(x, rlo, rhi);
    const double n = std::floor(xc * inv_s + 0.5);
    const double phi = xc - n * s;
    return n * cube(s) / 12 + (cube(phi) + cube(s) / 8) / 3 + cube(x - xc) / 3;
  }
};

}  // namespace method_detail

// Mean squared quantization error of the histogram's values under `p` on `t`'s storage:
// Σ_bins count·(1/width)∫_bin (x − Q(x))² dx / Σ count, Q(x) = s·(clamp(rne(x/s) + zp) − zp) in real
// arithmetic. Integrating over the bin instead of taking (centre − Q(centre))² matters when a step
// is not much wider than a bin (fine power-of-two positions, 16-bit targets): the centres then sit at
// a few fixed offsets from the grid and their error says little about the bin's — at a step of half
// a bin the centres of a symmetric histogram are exactly representable and the centre rule reports
// zero error. A histogram of zero width (min == max) is a point mass at lo.
inline double quantization_mse(const Histogram& h, const QParams& p, const QuantTarget& t) {
  check(p.scale > 0 && std::isfinite(p.scale), "quantization_mse: scale ", p.scale, " is not positive and finite");
  const auto [smin, smax] = method_detail::storage_range(t.storage);
  check(p.zero_point >= smin && p.zero_point <= smax, "quantization_mse: zero point ", p.zero_point,
        " is outside the ", t.storage, " range");
  const std::int64_t total = h.total();
  check(total > 0, "quantization_mse: the histogram is empty");
  const double s = p.scale;
  const double rlo = (smin - p.zero_point) * s, rhi = (smax - p.zero_point) * s;
  const double w = h.width();
  if (!(w > 0)) {
    const double x = h.lo;
    const double q = s * round_half_even(std::clamp(x / s, rlo / s, rhi / s));
    return (x - q) * (x - q);
  }
  const method_detail::SqErrorAntiderivative f{s, 1 / s, rlo, rhi};
  double sum = 0, f_left = f(h.edge(0));
  for (int k = 0; k < h.bins(); ++k) {
    const double f_right = f(h.edge(k + 1));
    const auto c = h.counts[static_cast<std::size_t>(k)];
    if (c != 0) sum += static_cast<double>(c) * (f_right - f_left);
    f_left = f_right;
  }
  return sum / w / static_cast<double>(total);
}

namespace method_detail {

struct Range {
  double lo, hi;
};

// The piecewise-linear CDF of a histogram (uniform density inside each bin).
class Cdf {
 public:
  explicit Cdf(const Histogram& h) : lo_(h.lo), w_(h.width()), n_(h.bins()), pre_(static_cast<std::size_t>(n_) + 1, 0.0) {
    for (int k = 0; k < n_; ++k) pre_[k + 1] = pre_[k] + static_cast<double>(h.counts[static_cast<std::size_t>(k)]);
  }
  double total() const { return pre_.back(); }

  // Mass below x.
  double below(double x) const {
    const double u = position(x);
    const int k = std::min(static_cast<int>(u), n_ - 1);
    return pre_[k] + (pre_[k + 1] - pre_[k]) * (u - k);
  }
  // Mass of |x| ≤ t: the folded CDF.
  double within(double t) const { return below(t) - below(-t); }

  // Smallest x with below(x) ≥ m (0 < m ≤ total).
  double quantile_high(double m) const {
    const auto it = std::lower_bound(pre_.begin() + 1, pre_.end(), m);
    const int k = static_cast<int>(it - pre_.begin()) - 1;  // pre[k] < m ≤ pre[k+1], so bin k is not empty
    if (k >= n_) return edge(n_);
    return edge(k) + (m - pre_[k]) / (pre_[k + 1] - pre_[k]) * w_;
  }
  // Largest x with below(x) ≤ m (0 ≤ m < total).
  double quantile_low(double m) const {
    const auto it = std::upper_bound(pre_.begin(), pre_.end(), m);
    const int k = static_cast<int>(it - pre_.begin()) - 1;  // pre[k] ≤ m < pre[k+1]
    if (k >= n_) return edge(n_);
    return edge(k) + (m - pre_[k]) / (pre_[k + 1] - pre_[k]) * w_;
  }
  // Smallest t ≥ 0 with within(t) ≥ m, by bisection (within is continuous and non-decreasing).
  double abs_quantile(double m, double tmax) const {
    double a = 0, b = tmax;
    for (int it = 0; it < 200 && b - a > 1e-15 * tmax; ++it) {
      const double c = 0.5 * (a + b);
      (within(c) >= m ? b : a) = c;
    }
    return b;
  }

 private:
  double edge(int k) const { return lo_ + k * w_; }
  // x in bin units, clamped to [0, n]; a position within 1e−9 of a bin edge is that edge, so a grid
  // aligned with the histogram's (the |x| grid of a tensor with min = 0) reads whole bins exactly.
  double position(double x) const {
    double u = (x - lo_) / w_;
    const double r = std::round(u);
    if (std::fabs(u - r) <= 1e-9 * std::max(1.0, std::fabs(u))) u = r;
    return std::clamp(u, 0.0, static_cast<double>(n_));
  }

  double lo_, w_;
  int n_;
  std::vector<double> pre_;
};

inline Range clip(Range r, const RangeObserver& obs) {
  return {std::clamp(r.lo, double{obs.min}, double{obs.max}), std::clamp(r.hi, double{obs.min}, double{obs.max})};
}
inline Range symmetric_window(double t, const RangeObserver& obs) { return clip({-t, t}, obs); }

inline QParams params_of(Range r, const QuantTarget& t) { return qparams_from_range(r.lo, r.hi, t); }

inline Range percentile_range(const Cdf& cdf, const RangeObserver& obs, const QuantTarget& t, double percentile) {
  const double total = cdf.total();
  if (t.symmetric) {
    const double amax = std::max(-double{obs.min}, double{obs.max});
    return symmetric_window(cdf.abs_quantile(percentile / 100 * total, amax), obs);
  }
  const double tail = (100 - percentile) / 200 * total;
  return clip({cdf.quantile_low(tail), cdf.quantile_high(total - tail)}, obs);
}

inline int entropy_levels(const RangeObserver& obs, const QuantTarget& t, const MethodOptions& o) {
  if (o.entropy_levels > 0) return o.entropy_levels;
  if (t.symmetric) return t.symmetric_levels() + 1;
  const int codes = t.qmax() - t.qmin() + 1;
  return (obs.min >= 0 || obs.max <= 0) ? codes : codes / 2;
}

// The |x| histogram's bins: the histogram's own width from 0 up to the first edge at or past max|x|.
// On a grid histogram (0 is an edge) folding then moves whole bins, so every |x| count is exact. A
// histogram far narrower than max|x| (a tensor far from 0) would need more than 4 times its own
// bins; it is read at histogram_bins bins over [0, max|x|] instead, interpolated.
inline std::pair<int, double> entropy_bins(const Histogram& h, const RangeObserver& obs, const MethodOptions& o) {
  const double amax = std::max(std::fabs(double{obs.min}), std::fabs(double{obs.max}));
  const double w = h.width(), r = amax / w;
  if (!(r <= 4.0 * h.bins())) return {o.histogram_bins, amax};
  const int n = std::max(1, static_cast<int>(std::ceil(r * (1 - 1e-12))));
  return {n, n * w};
}

// TensorRT's KL search on the |x| histogram of n bins over [0, tmax] (NVIDIA pytorch-quantization's
// _compute_amax_entropy); returns the threshold t.
inline double entropy_threshold(const Cdf& cdf, double tmax, int n, int levels) {
  if (levels >= n) return tmax;
  // The |x| histogram A over [0, tmax], n bins, from the folded CDF.
  std::vector<double> a(static_cast<std::size_t>(n));
  double prev = 0;
  for (int j = 0; j < n; ++j) {
    // The last bin ends at max|x| and takes all the rest: a histogram bin may reach past max|x|.
    const double cur = j + 1 == n ? cdf.total() : cdf.within(tmax * (j + 1) / n);
    a[j] = std::max(0.0, cur - prev);
    prev = cur;
  }
  // The first bin takes its neighbour's count, as NVIDIA's search does (bins[0] = bins[1]). After a
  // ReLU that bin holds the exact zeros, often most of the tensor; every range keeps 0 exact, so
  // that mass says nothing about the threshold, yet spread over Q's first group it dominates the
  // divergence and drives the search to the narrowest groups, i.e. to clipping hard.
  if (n > 1) a[0] = a[1];
  // Prefix sums: counts, non-empty bins, Σ a·log a.
  std::vector<double> pre(static_cast<std::size_t>(n) + 1, 0.0), plogp(static_cast<std::size_t>(n) + 1, 0.0);
  std::vector<int> nz(static_cast<std::size_t>(n) + 1, 0);
  for (int j = 0; j < n; ++j) {
    pre[j + 1] = pre[j] + a[j];
    nz[j + 1] = nz[j] + (a[j] > 0);
    plogp[j + 1] = plogp[j] + (a[j] > 0 ? a[j] * std::log(a[j]) : 0.0);
  }
  const double total = pre[n];
  double best_kl = std::numeric_limits<double>::infinity();
  int best_i = n;
  for (int i = levels; i <= n; ++i) {
    const double outliers = total - pre[i];
    if (a[i - 1] == 0 && outliers > 0) continue;  // P > 0 where Q = 0: infinite divergence
    // KL(P‖Q) = Σ_j P_j log(P_j/Q_j) over P_j > 0, P = p/total, Q = q/pre[i], q_j = C_g/nz_g on group g.
    const double last = a[i - 1] + outliers;
    const double sum_plogp = plogp[i - 1] + (last > 0 ? last * std::log(last) : 0.0);
    double sum_plogq = 0;
    for (int g = 0, b = 0; g < levels; ++g) {
      const int e = static_cast<int>((static_cast<std::int64_t>(g + 1) * i + levels - 1) / levels);  // ⌈(g+1)·i/L⌉
      const double c = pre[e] - pre[b];
      if (c > 0) sum_plogq += (e == i ? c + outliers : c) * std::log(c / (nz[e] - nz[b]));
      b = e;
    }
    const double kl = (sum_plogp - sum_plogq) / total - std::log(total) + std::log(pre[i]);
    if (kl <= best_kl + 1e-12) {
      best_kl = std::min(best_kl, kl);
      best_i = i;
    }
  }
  return best_i == n ? tmax : tmax * best_i / n;
}

struct Candidate {
  Range range;
  QParams params;
  double mse;
};

// One clipping threshold in (0, extent]. A full search tries the extent and a geometric grid; both
// kinds then refine twice on a linear grid around the best (a local search only refines around
// `current`). `make(t)` gives the range for threshold t; `best` holds the threshold `current`.
template <class Make>
Candidate search_threshold(double extent, double current, bool full, Make make, const Histogram& h,
                           const QuantTarget& t, const MethodOptions& o, Candidate best) {
  double th_best = current;
  auto consider = [&](double th) {
    if (!(th > 0) || th > extent) return;
    const Range r = make(th);
    const QParams p = params_of(r, t);
    const double e = quantization_mse(h, p, t);
    if (e < best.mse) {
      best = {r, p, e};
      th_best = th;
    }
  };
  if (full) {
    consider(extent);
    for (int j = 0; j < o.mse_grid; ++j)
      consider(extent * std::pow(o.mse_min_fraction, 1.0 - double(j) / (o.mse_grid - 1)));
  }
  const double ratio = std::pow(1 / o.mse_min_fraction, 1.0 / (o.mse_grid - 1));
  double lo = th_best / ratio, hi = std::min(th_best * ratio, extent);
  for (int pass = 0; pass < 2; ++pass) {
    const double step = (hi - lo) / (o.mse_refine - 1);
    for (int j = 0; j < o.mse_refine; ++j) consider(lo + j * step);
    lo = std::max(th_best - step, 0.0);
    hi = std::min(th_best + step, extent);
  }
  return best;
}

inline QParams mse_params(const Histogram& h, const Cdf& cdf, const RangeObserver& obs, const QuantTarget& t,
                          const MethodOptions& o) {
  const Range mm{obs.min, obs.max};
  const Range pr = percentile_range(cdf, obs, t, o.percentile);
  const QParams pmm = params_of(mm, t), ppr = params_of(pr, t);
  const double emm = quantization_mse(h, pmm, t), epr = quantization_mse(h, ppr, t);
  Candidate best = epr < emm ? Candidate{pr, ppr, epr} : Candidate{mm, pmm, emm};
  if (t.symmetric) {
    const double amax = std::max(-mm.lo, mm.hi);
    const double cur = std::max(-best.range.lo, best.range.hi);
    return search_threshold(amax, cur, true, [&](double th) { return symmetric_window(th, obs); }, h, t, o, best)
        .params;
  }
  for (int round = 0; round < o.mse_rounds; ++round) {
    const double before = best.mse;
    const bool full = round == 0;
    if (mm.hi > 0) {
      const double lo = best.range.lo;
      best = search_threshold(mm.hi, best.range.hi, full, [&](double th) { return Range{lo, th}; }, h, t, o, best);
    }
    if (mm.lo < 0) {
      const double hi = best.range.hi;
      best = search_threshold(-mm.lo, -best.range.lo, full, [&](double th) { return Range{-th, hi}; }, h, t, o, best);
    }
    if (!(best.mse < before * (1 - 1e-6))) break;
  }
  return best.params;
}

inline QParams pow2_mse_params(const Histogram& h, const RangeObserver& obs, QuantTarget t, const MethodOptions& o) {
  t.pow2 = true;
  const QParams p0 = qparams_from_range(obs.min, obs.max, t);
  const int pos0 = scale_to_pos(p0.scale);
  QParams best = p0;
  double best_mse = std::numeric_limits<double>::infinity();
  for (int k = o.pow2_first; k <= o.pow2_last; ++k) {
    const int pos = pos0 + k;
    if (pos < -127 || pos > 127) continue;
    const QParams p{pos_to_scale(pos), p0.zero_point};
    const double e = quantization_mse(h, p, t);
    if (e < best_mse) {
      best_mse = e;
      best = p;
    }
  }
  return best;
}

}  // namespace method_detail

inline QParams calibrate_tensor(CalibMethod method, const RangeObserver& obs, const Histogram& hist,
                                const QuantTarget& target, const MethodOptions& opts = {}) {
  opts.validate();
  check(!obs.empty(), "calibration (", name_of(method), "): no values were observed for this tensor");
  QuantTarget t = target;
  if (method == CalibMethod::pow2_mse) t.pow2 = true;
  const QParams minmax = qparams_from_range(obs.min, obs.max, t);
  if (method == CalibMethod::minmax || obs.min == obs.max) return minmax;
  check(hist.bins() > 0 && hist.total() > 0, "calibration (", name_of(method),
        "): the histogram of this tensor is empty; this method needs one");
  check(hist.hi > hist.lo, "calibration (", name_of(method), "): histogram range [", hist.lo, ", ", hist.hi,
        "] is empty while the observed range is [", obs.min, ", ", obs.max, "]");
  const method_detail::Cdf cdf(hist);
  switch (method) {
    case CalibMethod::percentile: return method_detail::params_of(method_detail::percentile_range(cdf, obs, t, opts.percentile), t);
    case CalibMethod::entropy: {
      const auto [n, tmax] = method_detail::entropy_bins(hist, obs, opts);
      const double th = method_detail::entropy_threshold(cdf, tmax, n, method_detail::entropy_levels(obs, t, opts));
      return method_detail::params_of(method_detail::symmetric_window(th, obs), t);
    }
    case CalibMethod::mse: return method_detail::mse_params(hist, cdf, obs, t, opts);
    case CalibMethod::pow2_mse: return method_detail::pow2_mse_params(hist, obs, t, opts);
    case CalibMethod::minmax: break;
  }
  return minmax;
}

}  // namespace qnn::quant
// ---- end qnn/quantize/methods.hpp ------------------------------------------------------------------

namespace qnn::quant {

enum class Preset : std::uint8_t { u8s8, s8s8, a8w8, a16w8, xint8, bf16 };

constexpr std::string_view name_of(Preset p) {
  switch (p) {
    case Preset::u8s8: return "u8s8";
    case Preset::s8s8: return "s8s8";
    case Preset::a8w8: return "a8w8";
    case Preset::a16w8: return "a16w8";
    case Preset::xint8: return "xint8";
    case Preset::bf16: return "bf16";
  }
  return "?";
}

inline std::optional<Preset> parse_preset(std::string_view s) {
  for (Preset p : {Preset::u8s8, Preset::s8s8, Preset::a8w8, Preset::a16w8, Preset::xint8, Preset::bf16})
    if (name_of(p) == s) return p;
  return std::nullopt;
}

// Options of the accuracy tools (docs/quantization.md, "Cross-layer equalization", "Bias correction",
// "Finetuning").
struct CleOptions {
  int max_steps = 64;          // sweeps over all pairs at most
  double threshold = 1.9e-7;   // stop when a sweep changes Σ_layers mean|ΔW| by less (Quark's value)
};
struct BiasCorrectionOptions {
  std::int64_t samples = 512;  // calibration samples averaged per layer (the first ones the reader gives)
};
struct FinetuneOptions {
  std::int64_t samples = 1024;  // calibration samples per layer (the first ones the reader gives)
  std::int64_t rows = 8192;     // rows (output positions) kept per layer, drawn evenly from the samples
  int passes = 4;               // greedy sweeps over the weights of a channel at most
  std::uint64_t seed = 0;       // of the row subsampling
};

struct QuantConfig {
  Preset preset = Preset::u8s8;
  QuantTarget activation{DType::u8, false, false};
  QuantTarget weight{DType::i8, true, false};
  bool per_channel = true;
  CalibMethod method = CalibMethod::minmax;
  MethodOptions method_options;
  std::set<std::string> exclude_nodes;     // kept in float, by node name
  std::set<std::string> exclude_op_types;  // kept in float, by op type
  bool cle = false;               // cross-layer equalization before calibration
  bool bias_correction = false;   // per-channel output-mean correction after quantization
  bool finetune = false;          // layer-wise rounding/bias finetuning (AdaQuant-style)
  CleOptions cle_options;
  BiasCorrectionOptions bias_correction_options;
  FinetuneOptions finetune_options;

  bool integer() const { return preset != Preset::bf16; }

  static QuantConfig make(Preset p) {
    QuantConfig c;
    c.preset = p;
    switch (p) {
      case Preset::u8s8:
        c.activation = {DType::u8, false, false};
        break;
      case Preset::s8s8:  // a post-ReLU tensor keeps all 256 codes (zero point −128), unlike a8w8
        c.activation = {DType::i8, false, false};
        break;
      case Preset::a8w8:
        c.activation = {DType::i8, true, false};
        break;
      case Preset::a16w8:
        c.activation = {DType::i16, true, false};
        break;
      case Preset::xint8:
        c.activation = {DType::u8, true, true};
        c.weight = {DType::i8, true, true};
        c.per_channel = false;
        c.method = CalibMethod::pow2_mse;
        break;
      case Preset::bf16:
        break;
    }
    return c;
  }

  void validate() const {
    if (preset == Preset::xint8) {
      check(!per_channel, "xint8: weights must be quantized per tensor (the NPU's rule; Quark refuses per-channel XINT8)");
      check(activation.pow2 && weight.pow2, "xint8: scales must be powers of two");
    }
    check(weight.storage == DType::i8 && weight.symmetric, "weights must be int8 symmetric");
    check(!activation.reduced, "a reduced range (reduce_range) applies to weights only, as in ONNX Runtime");
    check(!(weight.reduced && preset == Preset::xint8), "xint8: weights use the full int8 range (reduce_range is not an NPU configuration)");
    check(cle_options.max_steps >= 1 && cle_options.threshold >= 0, "cle: max_steps must be ≥ 1, threshold ≥ 0");
    check(bias_correction_options.samples >= 1, "bias correction: samples must be ≥ 1");
    check(finetune_options.samples >= 1 && finetune_options.rows >= 1 && finetune_options.passes >= 0,
          "finetune: samples and rows must be ≥ 1, passes ≥ 0");
  }
};

}  // namespace qnn::quant
// ---- end qnn/quantize/config.hpp -------------------------------------------------------------------
// ---- begin qnn/quantize/plan.hpp -------------------------------------------------------------------
// Which tensors of a float graph get quantized, and how (docs/quantization.md, "What is quantized").
//
//   compute   Conv, Gemm, MatMul           activation inputs, outputs; constant weights (int8) and
//                                           biases (int32 at s_x·s_w)
//   binary    Add, Mul                     both inputs (a constant input is quantized from its
//                                           values), output
//   requant   AveragePool, GlobalAveragePool, Concat, Sigmoid, LeakyRelu, HardSigmoid, HardSwish,
//             Tanh, Relu, Clip              inputs, output
//   movement  MaxPool, Reshape, Flatten, Transpose, Squeeze, Unsqueeze
//                                           quantized when a neighbour is; output shares the
//                                           input's parameters (exact, and what NPUs require)
// A Relu or Clip whose input comes only from a compute node is folded into that node's output
// quantization when activations are asymmetric (the clamp is then the quantization range itself,
// as ONNX Runtime does); with symmetric activations (which keep negative values) it stays, between
// the compute node and its QuantizeLinear, and qnn fuses it into the integer kernel.
// Everything else stays float; nodes excluded by the configuration stay float and read float.

#include <map>
#include <set>
#include <string>
#include <vector>

namespace qnn::quant {

enum class NodeRole : std::uint8_t { none, compute, binary, requant, movement };

inline NodeRole role_of(const Node& n) {
  if (!n.domain.empty()) return NodeRole::none;
  const std::string& t = n.op_type;
  if (t == "Conv" || t == "Gemm" || t == "MatMul") return NodeRole::compute;
  if (t == "Add" || t == "Mul") return NodeRole::binary;
  if (t == "AveragePool" || t == "GlobalAveragePool" || t == "Concat" || t == "Sigmoid" || t == "LeakyRelu" ||
      t == "HardSigmoid" || t == "HardSwish" || t == "Tanh" || t == "Relu" || t == "Clip")
    return NodeRole::requant;
  if (t == "MaxPool" || t == "Reshape" || t == "Flatten" || t == "Transpose" || t == "Squeeze" || t == "Unsqueeze")
    return NodeRole::movement;
  return NodeRole::none;
}

struct Plan {
  std::set<std::string> tensors;                // activation tensors that get Q→DQ
  std::map<std::string, std::string> same_as;   // movement output -> its input (shared params)
  std::set<std::size_t> nodes;                  // quantized node indices
  std::set<std::size_t> folded_activations;     // Relu/Clip folded into their producer's range
  std::set<std::size_t> kept_activations;       // Relu/Clip kept between a compute node and its Q
  std::set<std::string> unquantized;            // compute outputs that feed a kept activation

  // The tensor whose calibrated parameters `t` uses.
  std::string root(std::string t) const {
    for (auto it = same_as.find(t); it != same_as.end(); it = same_as.find(t)) t = it->second;
    return t;
  }
};

inline bool excluded(const QuantConfig& cfg, const Node& n) {
  return cfg.exclude_nodes.count(n.name) || cfg.exclude_op_types.count(n.op_type);
}

inline Plan plan_quantization(const Graph& g, const QuantConfig& cfg) {
  Plan plan;
  auto activation = [&](const std::string& v) {
    if (v.empty() || g.is_constant(v)) return;
    const Value& val = g.value(v);
    if (val.dtype && *val.dtype != DType::f32) return;
    plan.tensors.insert(v);
  };
  // Relu/Clip reading a compute node's only output, with no other reader.
  auto activation_after_compute = [&](std::size_t i) -> bool {
    const Node& n = g.nodes[i];
    if (n.op_type != "Relu" && n.op_type != "Clip") return false;
    if (n.op_type == "Clip" && (g.opset() < 11 ? false : (n.has_input(1) && !g.is_constant(n.inputs[1])) ||
                                                             (n.has_input(2) && !g.is_constant(n.inputs[2]))))
      return false;
    const int p = g.producer(n.inputs[0]);
    if (p < 0 || g.consumers(n.inputs[0]).size() != 1 || g.is_graph_output(n.inputs[0])) return false;
    const Node& prod = g.nodes[static_cast<std::size_t>(p)];
    return role_of(prod) == NodeRole::compute && !excluded(cfg, prod);
  };

  for (std::size_t i = 0; i < g.nodes.size(); ++i) {
    const Node& n = g.nodes[i];
    const NodeRole r = role_of(n);
    if (r == NodeRole::none || r == NodeRole::movement || excluded(cfg, n)) continue;
    if (r == NodeRole::compute) {
      // Weights must be constant for Conv/Gemm; MatMul may multiply two activations.
      if (n.op_type != "MatMul" && !(n.has_input(1) && g.is_constant(n.inputs[1]))) continue;
      if (n.op_type == "Gemm" && (n.attrs.get_float("alpha", 1.0f) != 1.0f || n.attrs.get_float("beta", 1.0f) != 1.0f))
        continue;
      activation(n.inputs[0]);
      if (n.op_type == "MatMul" && !g.is_constant(n.inputs[1])) activation(n.inputs[1]);
      activation(n.outputs[0]);
      plan.nodes.insert(i);
      continue;
    }
    if (activation_after_compute(i)) {
      if (cfg.activation.symmetric) {
        plan.kept_activations.insert(i);
        plan.unquantized.insert(n.inputs[0]);
      } else {
        plan.folded_activations.insert(i);
      }
      activation(n.outputs[0]);
      plan.nodes.insert(i);
      continue;
    }
    for (const auto& in : n.inputs)
      if (r != NodeRole::requant || n.op_type != "Clip" || &in == &n.inputs[0]) activation(in);
    activation(n.outputs[0]);
    plan.nodes.insert(i);
  }
  // A compute output feeding a kept or folded activation is not quantized itself.
  for (std::size_t i : plan.kept_activations) plan.tensors.erase(g.nodes[i].inputs[0]);
  for (std::size_t i : plan.folded_activations) plan.tensors.erase(g.nodes[i].inputs[0]);

  // Movement ops join when a neighbour is quantized, sharing their input's parameters.
  for (bool changed = true; changed;) {
    changed = false;
    for (std::size_t i = 0; i < g.nodes.size(); ++i) {
      const Node& n = g.nodes[i];
      if (role_of(n) != NodeRole::movement || excluded(cfg, n) || plan.nodes.count(i)) continue;
      if (n.op_type == "MaxPool" && n.outputs.size() > 1 && !n.outputs[1].empty()) continue;
      const std::string& in = n.inputs[0];
      const std::string& out = n.outputs[0];
      if (!(plan.tensors.count(in) || plan.tensors.count(out))) continue;
      const Value& iv = g.value(in);
      if ((iv.dtype && *iv.dtype != DType::f32) || g.is_constant(in)) continue;
      plan.tensors.insert(in);
      plan.tensors.insert(out);
      plan.same_as[out] = in;
      plan.nodes.insert(i);
      changed = true;
    }
  }
  return plan;
}

}  // namespace qnn::quant
// ---- end qnn/quantize/plan.hpp ---------------------------------------------------------------------

namespace qnn::quant {

struct Bf16Result {
  Graph graph;
  std::vector<std::string> log;
};

inline Bf16Result convert_bf16(const Graph& model, const QuantConfig& cfg) {
  Bf16Result r;
  Graph g = model;
  prepare_float_graph(g);
  constexpr std::int64_t kFloat = 1, kBfloat16 = 16;  // ONNX TensorProto data types
  auto cast = [](const std::string& name, const std::string& in, const std::string& out, std::int64_t to) {
    Node n;
    n.name = name;
    n.op_type = "Cast";
    n.inputs = {in};
    n.outputs = {out};
    n.attrs.set("to", to);
    return n;
  };
  std::vector<Node> added;
  std::map<std::string, std::string> rounded;  // activation -> its bf16-rounded copy
  for (Node& n : g.nodes) {
    if (role_of(n) != NodeRole::compute || excluded(cfg, n)) continue;
    for (std::size_t i = 0; i < std::min<std::size_t>(2, n.inputs.size()); ++i) {
      const std::string in = n.inputs[i];
      if (in.empty()) continue;
      if (const Tensor* c = g.constant(in)) {
        if (c->dtype() != DType::f32) continue;
        Tensor b(DType::bf16, c->shape());
        auto dst = b.span<bf16>();
        const auto src = c->span<float>();
        for (std::size_t k = 0; k < src.size(); ++k) dst[k] = bf16(src[k]);
        const std::string bn = g.add_constant(in + "_bf16", std::move(b));
        const std::string fn = g.unique_name(in + "_bf16_as_float");
        g.value(fn).dtype = DType::f32;
        added.push_back(cast(in + "_Cast", bn, fn, kFloat));
        n.inputs[i] = fn;
        continue;
      }
      auto it = rounded.find(in);
      if (it == rounded.end()) {
        const std::string b = g.unique_name(in + "_bf16");
        const std::string f = g.unique_name(in + "_bf16_as_float");
        g.value(b).dtype = DType::bf16;
        g.value(f).dtype = DType::f32;
        added.push_back(cast(in + "_CastToBf16", in, b, kBfloat16));
        added.push_back(cast(in + "_CastToFloat", b, f, kFloat));
        it = rounded.emplace(in, f).first;
      }
      n.inputs[i] = it->second;
    }
    r.log.push_back(qnn::detail::cat("bf16: ", n.op_type, " '", n.name, "' computes on bfloat16 operands"));
  }
  check(!added.empty(), "bf16: the model has no Conv, Gemm or MatMul to convert");
  for (Node& n : added) g.nodes.push_back(std::move(n));
  g.topological_sort();
  g.prune_values();
  r.graph = std::move(g);
  return r;
}

}  // namespace qnn::quant
// ---- end qnn/quantize/bf16.hpp ---------------------------------------------------------------------
// ---- begin qnn/quantize/quantize.hpp ---------------------------------------------------------------
// qnn::quant::quantize — the entry point of post-training quantization (see quantizer.hpp for the
// steps). Returns the QDQ graph and a log of every decision a user may want to audit.

#include <chrono>
#include <map>
#include <set>
#include <string>

// ---- begin qnn/quantize/bias_correction.hpp --------------------------------------------------------
// Empirical bias correction (as vai_q and AMD Quark's BiasCorrection do; the data-free variant is
// Nagel et al. 2019, §4.2): for each quantized Conv/Gemm in execution order, the expected error that
// weight quantization adds to each output channel is measured on calibration data and subtracted
// through the bias.
//
// Both the float layer and the quantized one see the same quantized input x̂ (the value the
// quantized model, as corrected so far, feeds the layer), so the correction targets the layer's own
// weight error and not the error upstream:
//   Δb[c] = E[(W x̂ + b)[c] − (Ŵ x̂ + b̂)[c]] = E[((W − Ŵ) x̂)[c]] + b[c] − b̂[c]
//   b̂' = b + E[((W − Ŵ) x̂)[c]], requantized to int32 at s_x·s_w[c]
// The layer is linear, so the expectation over samples and output positions is the layer applied
// to the mean input: with x̄ = mean of x̂ over the samples (an N×C×H×W activation averages to
// 1×C×H×W; zero padding is linear too), E[(W − Ŵ) x̂] per channel = the spatial mean of
// conv((W − Ŵ), x̄). One streaming pass per layer keeps only x̄ (bounded memory, any N); qnn's float
// kernel then applies W − Ŵ to it once.
//
// Samples: the reader's first `BiasCorrectionOptions::samples` (default 512). Layers are processed
// in order and each pass runs the QDQ model as corrected so far (with qnn's integer kernels).
// MatMul has no bias input and is left as it is. Weights never change; a Conv/Gemm without a bias
// gets one. The correction is on the accumulator, before output requantization.

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

// ---- begin qnn/quantize/calib_reader.hpp -----------------------------------------------------------
// Calibration data: a reader hands out batches (one tensor per model input) and can start over:
// calibration reads the data once, from the start; bias correction and finetuning read it again.
// Readers convert lazily, one batch at a time, so a large dataset never has to sit in memory as
// float.
//
//   TensorReader  batches along the first axis of in-memory tensors (e.g. a loaded .npy file)
//   ImageReader   uint8 images (N×H×W or N×C×H×W, an IDX file) selected by index, converted to
//                 float32 N×1×H×W (or N×C×H×W) as pixel / 255 per batch

#include <cstdint>
#include <cstring>
#include <optional>
#include <vector>

namespace qnn::quant {

class CalibrationReader {
 public:
  virtual ~CalibrationReader() = default;
  // The next batch, one tensor per model input; nullopt after the last one.
  virtual std::optional<std::vector<Tensor>> next() = 0;
  // Starts again from the first batch.
  virtual void rewind() = 0;
  // Number of samples, for progress reports.
  virtual std::int64_t samples() const = 0;
};

// The rows [begin, end) of t along axis 0, as a new tensor.
inline Tensor slice_rows(const Tensor& t, std::int64_t begin, std::int64_t end) {
  check(t.shape().rank() >= 1 && begin >= 0 && begin <= end && end <= t.shape()[0], "cannot take rows ", begin,
        "..", end, " of a tensor of shape ", t.shape());
  Shape s = t.shape();
  s[0] = end - begin;
  Tensor out(t.dtype(), s);
  const std::size_t row = t.shape()[0] ? t.bytes() / static_cast<std::size_t>(t.shape()[0]) : 0;
  if (out.bytes()) std::memcpy(out.raw(), t.raw() + static_cast<std::size_t>(begin) * row, out.bytes());
  return out;
}

class TensorReader final : public CalibrationReader {
 public:
  TensorReader(std::vector<Tensor> inputs, std::int64_t batch) : inputs_(std::move(inputs)), batch_(batch) {
    check(!inputs_.empty(), "calibration data has no tensors");
    check(batch_ >= 1, "calibration batch size must be positive, got ", batch_);
    for (const Tensor& t : inputs_) {
      check(t.shape().rank() >= 1 && t.shape()[0] == inputs_[0].shape()[0], "calibration tensors of shapes ",
            inputs_[0].shape(), " and ", t.shape(), " differ in their first (sample) axis");
      check(t.dtype() == DType::f32, "calibration data must be float32, got ", t.dtype());
    }
    check(samples() > 0, "calibration data is empty");
  }
  std::optional<std::vector<Tensor>> next() override {
    if (pos_ >= samples()) return std::nullopt;
    const std::int64_t end = std::min(samples(), pos_ + batch_);
    std::vector<Tensor> out;
    for (const Tensor& t : inputs_) out.push_back(slice_rows(t, pos_, end));
    pos_ = end;
    return out;
  }
  void rewind() override { pos_ = 0; }
  std::int64_t samples() const override { return inputs_[0].shape()[0]; }

 private:
  std::vector<Tensor> inputs_;
  std::int64_t batch_;
  std::int64_t pos_ = 0;
};

class ImageReader final : public CalibrationReader {
 public:
  // images: uint8 N×H×W (a channel axis of 1 is added) or N×C×H×W; indices select and order them.
  ImageReader(const Tensor& images, std::vector<std::int64_t> indices, std::int64_t batch)
      : images_(&images), indices_(std::move(indices)), batch_(batch) {
    check(images.dtype() == DType::u8, "image calibration data must be uint8, got ", images.dtype());
    check(images.shape().rank() == 3 || images.shape().rank() == 4, "images must be N×H×W or N×C×H×W, got ",
          images.shape());
    check(batch_ >= 1, "calibration batch size must be positive, got ", batch_);
    check(!indices_.empty(), "no calibration images selected");
    for (std::int64_t i : indices_)
      check(i >= 0 && i < images.shape()[0], "image index ", i, " is outside the ", images.shape()[0], " images");
  }
  std::optional<std::vector<Tensor>> next() override {
    const auto n = static_cast<std::int64_t>(indices_.size());
    if (pos_ >= n) return std::nullopt;
    const std::int64_t end = std::min(n, pos_ + batch_);
    const Shape& s = images_->shape();
    const std::int64_t per = images_->numel() / s[0];
    Shape bs = s.rank() == 3 ? Shape{end - pos_, 1, s[1], s[2]} : Shape{end - pos_, s[1], s[2], s[3]};
    Tensor out(DType::f32, bs);
    auto dst = out.span<float>();
    const auto src = images_->span<std::uint8_t>();
    for (std::int64_t b = 0; b < end - pos_; ++b) {
      const std::int64_t img = indices_[static_cast<std::size_t>(pos_ + b)];
      for (std::int64_t j = 0; j < per; ++j)
        dst[static_cast<std::size_t>(b * per + j)] = static_cast<float>(src[static_cast<std::size_t>(img * per + j)]) / 255.0f;
    }
    pos_ = end;
    return std::vector<Tensor>{std::move(out)};
  }
  void rewind() override { pos_ = 0; }
  std::int64_t samples() const override { return static_cast<std::int64_t>(indices_.size()); }

 private:
  const Tensor* images_;
  std::vector<std::int64_t> indices_;
  std::int64_t batch_;
  std::int64_t pos_ = 0;
};

}  // namespace qnn::quant
// ---- end qnn/quantize/calib_reader.hpp -------------------------------------------------------------
// ---- begin qnn/quantize/qdq_layers.hpp -------------------------------------------------------------
// The quantized weight layers of a QDQ graph, each paired with its float original: what bias
// correction (bias_correction.hpp) and finetuning (finetune.hpp) read and rewrite.
//
// build_qdq keeps node names, so a Conv/Gemm/MatMul of the QDQ graph is matched to the float node
// of the same name and type. Such a layer reads x̂ = DequantizeLinear(…) on input 0, int8 weights
// `<w>_quantized` with their scales behind a DequantizeLinear on input 1, and optionally an int32
// bias at s_x·s_w[c] behind a DequantizeLinear on input 2. Rewriting a layer replaces those
// constants (each belongs to one layer: build_qdq makes them per node); scales never change.
//
// The helpers that run data: a tap session (a copy of a graph whose outputs are the tensors to
// observe), a single-layer float graph (one Conv/Gemm/MatMul with given weights, input "x", output
// "y") for computing a layer's output on tapped inputs with qnn's own float kernels, and a loop over
// the first N calibration samples.

#include <cmath>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

// ---- begin qnn/quantize/qdq_build.hpp --------------------------------------------------------------
// Building the QDQ graph from a float graph, a quantization plan and the chosen parameters.
//
// Every quantized activation t gets QuantizeLinear(t) → DequantizeLinear, and its readers read the
// dequantized value (nodes excluded by the configuration keep reading the float t). A quantized
// graph output keeps its name on the DequantizeLinear, so the model's interface does not change.
// Weights become int8 initializers (per channel along the output-channel axis, or per tensor)
// behind a DequantizeLinear; biases int32 at s_x·s_w[c] behind another. Names follow ONNX
// Runtime's quantizer (t_quantized, t_scale, t_zero_point, t_QuantizeLinear_Output, ...), so a
// user who knows those files finds their way.

#include <map>
#include <set>
#include <string>
#include <vector>

// ---- begin qnn/quantize/quantizer.hpp --------------------------------------------------------------
// Post-training quantization: float graph + calibration data + configuration → QDQ graph.
//
//   1. the float graph is prepared (constants and BatchNorm folded, shapes probed) and, optionally,
//      equalized across layers (CLE);
//   2. plan.hpp decides which tensors are quantized;
//   3. calibration streams the data once through a float session that also outputs those tensors,
//      keeping each one's min/max and histogram (bounded memory, any number of samples);
//   4. each tensor's parameters come from the configured method (methods.hpp); movement outputs
//      share their input's; XINT8 then applies the NPU's rules (xint8.hpp), logging each change;
//   5. the QDQ graph is built: QuantizeLinear→DequantizeLinear on every quantized tensor, int8
//      weights and int32 biases behind DequantizeLinear, folded activations removed;
//   6. optionally bias correction and finetuning adjust weights and biases on calibration data.
// The QDQ graph is the result: a Session runs it with integer kernels (QDQ lowering), and
// onnx::save_graph writes it for ONNX Runtime. 16-bit Q/DQ use the com.microsoft domain, as ONNX
// Runtime's own quantizer does before opset 21, so the model's opset does not change.

#include <chrono>
#include <concepts>
#include <cmath>
#include <functional>
#include <map>
#include <set>
#include <span>
#include <string>
#include <vector>

namespace qnn::quant {

// Progress of calibration: (samples done, samples total).
using ProgressFn = std::function<void(std::int64_t, std::int64_t)>;

struct QuantizeResult {
  Graph graph;                              // the QDQ graph
  std::vector<std::string> log;             // every adjustment made, with its reason
  std::map<std::string, QParams> params;    // chosen parameters per quantized tensor
  std::int64_t samples = 0;                 // calibration samples seen
  double seconds = 0;                       // wall time of the whole quantization
};

struct CalibrationStats {
  std::map<std::string, RangeObserver> ranges;
  std::map<std::string, Histogram> histograms;
  std::int64_t samples = 0;
};

namespace detail {

// Fails on the first NaN or infinity in a float calibration batch whose first sample is `first`.
inline void check_finite_input(const Tensor& t, const std::string& name, std::int64_t first) {
  if (t.dtype() != DType::f32) return;
  const auto v = t.span<float>();
  const std::int64_t per_sample =
      t.shape().rank() && t.shape()[0] > 0 ? static_cast<std::int64_t>(v.size()) / t.shape()[0] : 1;
  for (std::size_t i = 0; i < v.size(); ++i)
    if (!std::isfinite(v[i]))
      fail("calibration data: input '", name, "' sample ", first + static_cast<std::int64_t>(i) / per_sample,
           " holds ", v[i], " (element ", static_cast<std::int64_t>(i) % per_sample,
           "); NaN or infinity would poison every scale");
}

// Observes one tensor of a batch with `pool`'s threads: the first part of the values goes straight
// into `into`, each other part into an observer of its own, merged afterwards. Counts add and
// min/max commute, so the statistics are the same for every thread count. A tensor of fewer than
// 2 × 2^16 values is not split (and allocates nothing).
template <class Observer, class Fresh>
void observe_parallel(ThreadPool& pool, std::vector<Observer>& parts, Observer& into, std::span<const float> v,
                      const std::string& tensor, Fresh fresh) {
  constexpr std::int64_t kGrain = std::int64_t{1} << 16;
  const auto n = static_cast<std::int64_t>(v.size());
  if (pool.threads() == 1 || n < 2 * kGrain) {
    into.observe(v, tensor);
    return;
  }
  std::int64_t base = 0;  // RangeObserver: where this batch starts, to name a non-finite value by position
  if constexpr (std::same_as<Observer, RangeObserver>) base = into.count;
  parts.assign(static_cast<std::size_t>(pool.threads() - 1), fresh());
  pool.parallel_for(
      n,
      [&](int part, std::int64_t b, std::int64_t e) {
        const std::span<const float> mine = v.subspan(static_cast<std::size_t>(b), static_cast<std::size_t>(e - b));
        if (part == 0) return into.observe(mine, tensor);
        Observer& o = parts[static_cast<std::size_t>(part - 1)];
        if constexpr (std::same_as<Observer, RangeObserver>) o.count = base + b;
        o.observe(mine, tensor);
        if constexpr (std::same_as<Observer, RangeObserver>) o.count = e - b;
      },
      kGrain);
  for (const Observer& o : parts) into.merge(o);
}

}  // namespace detail

// Streams the reader through `g` and collects statistics of `tensors`.
inline CalibrationStats collect_statistics(const Graph& g, const std::set<std::string>& tensors,
                                           CalibrationReader& reader, const QuantConfig& cfg, int threads,
                                           const ProgressFn& progress) {
  Graph probe = g;
  std::vector<std::string> wanted;
  for (const auto& t : tensors)
    if (!probe.is_graph_output(t)) probe.outputs.push_back(t);
  // Relu/Clip fold into the producer where its output is not observed (a graph output is never
  // fused away): the same values, one pass over the tensor fewer.
  passes::fuse_activations(probe);
  SessionOptions so;
  so.optimize = false;
  so.probe = false;
  so.threads = threads;
  const Session s(std::move(probe), so);
  std::map<std::string, std::size_t> index;
  for (std::size_t i = 0; i < s.output_names().size(); ++i) index[s.output_names()[i]] = i;

  CalibrationStats st;
  const bool need_hist = cfg.method != CalibMethod::minmax;
  // One pass: each batch's values widen the range first, then land in a histogram whose
  // power-of-two grid follows the range (histogram.hpp), so the data is read and the model run once.
  std::map<std::string, GridHistogram> grids;
  if (need_hist)
    for (const auto& t : tensors) grids.emplace(t, GridHistogram(2 * cfg.method_options.histogram_bins + 1));
  RunContext ctx;
  std::vector<TensorRef> outs;
  ThreadPool pool(threads);  // observes while the session's own pool is idle
  std::vector<RangeObserver> range_parts;
  std::vector<GridHistogram> hist_parts;
  reader.rewind();
  std::int64_t done = 0;
  while (auto batch = reader.next()) {
    // Checked at the input first, so the message names the sample rather than the first
    // activation the NaN happens to reach (ReLU and MaxPool may even swallow it on the way).
    for (std::size_t i = 0; i < batch->size() && i < s.input_names().size(); ++i)
      detail::check_finite_input((*batch)[i], s.input_names()[i], done);
    s.run_in_place(ctx, *batch, outs);
    for (const auto& t : tensors) {
      const TensorRef& v = outs[index.at(t)];
      check(v.dtype == DType::f32, "calibration: tensor '", t, "' is ", v.dtype, ", not float32");
      RangeObserver& r = st.ranges[t];
      detail::observe_parallel(pool, range_parts, r, v.span<float>(), t, [] { return RangeObserver(); });
      if (!need_hist || r.empty()) continue;
      GridHistogram& h = grids.at(t);
      h.cover(r.min, r.max);
      detail::observe_parallel(pool, hist_parts, h, v.span<float>(), t, [&] { return h.empty_copy(); });
    }
    done += (*batch)[0].shape().rank() ? (*batch)[0].shape()[0] : 1;
    if (progress) progress(done, reader.samples());
  }
  check(done > 0, "calibration: the reader produced no data");
  st.samples = done;
  for (const auto& [t, h] : grids) st.histograms.emplace(t, h.histogram());
  return st;
}

namespace detail {

inline Tensor scale_tensor(const std::vector<float>& s) {
  if (s.size() == 1) return Tensor::scalar(s[0]);
  return Tensor::from<float>(Shape{static_cast<std::int64_t>(s.size())}, std::span<const float>(s));
}

inline Tensor zero_point_tensor(DType storage, const std::vector<std::int32_t>& zps, bool vector) {
  Tensor t(storage, vector ? Shape{static_cast<std::int64_t>(zps.size())} : Shape{});
  visit_dtype(storage, [&](auto v) {
    using T = decltype(v);
    if constexpr (QuantStorage<T> || std::same_as<T, std::int32_t>) {
      auto out = t.span<T>();
      for (std::size_t i = 0; i < out.size(); ++i) out[i] = static_cast<T>(zps[i]);
    }
  });
  return t;
}

// The Q/DQ domain for a storage type: 16-bit uses ONNX Runtime's com.microsoft ops (no opset bump).
inline std::string qdq_domain(DType storage) {
  return storage == DType::i16 || storage == DType::u16 ? "com.microsoft" : "";
}

inline Node qdq_node(const std::string& op, const std::string& name, const std::string& domain,
                     std::vector<std::string> inputs, std::string output, std::int64_t axis = -1) {
  Node n;
  n.name = name;
  n.op_type = op;
  n.domain = domain;
  n.inputs = std::move(inputs);
  n.outputs = {std::move(output)};
  if (axis >= 0) n.attrs.set("axis", axis);
  return n;
}

}  // namespace detail

// Symmetric int8 weight quantization, per channel along `axis` or per tensor: scale = max|w|/127
// (a power of two 2^−pos for pow2 targets, chosen to minimize the weights' squared error), values
// rounded half to even (half away from zero for XINT8, the DPU's rule for parameters).
struct QuantizedWeight {
  Tensor q;                    // int8
  std::vector<float> scales;   // one per channel, or one
  int axis = 0;
};

// `forced_scale` > 0 replaces the chosen scale (per tensor only): the XINT8 shift_cut rule.
inline QuantizedWeight quantize_weight(const Tensor& w, int axis, bool per_channel, const QuantTarget& target,
                                       Rounding rounding, float forced_scale = 0.0f) {
  check(w.dtype() == DType::f32, "weights must be float32, got ", w.dtype());
  QuantizedWeight out;
  out.axis = axis;
  const Shape& s = w.shape();
  const std::int64_t channels = per_channel ? s.dim(axis) : 1;
  std::int64_t inner = 1;
  for (int i = s.normalize_axis(axis) + 1; i < s.rank(); ++i) inner *= s[i];
  const ChannelIndex ci{inner, s.dim(axis)};
  auto channel_of = [&](std::int64_t i) { return per_channel ? ci(i) : 0; };
  const auto v = w.span<float>();
  std::vector<double> absmax(static_cast<std::size_t>(channels), 0.0);
  for (std::size_t i = 0; i < v.size(); ++i) {
    check(std::isfinite(v[i]), "weights hold a non-finite value");
    auto& m = absmax[static_cast<std::size_t>(channel_of(static_cast<std::int64_t>(i)))];
    m = std::max(m, double{std::fabs(v[i])});
  }
  const int levels = target.symmetric_levels();
  for (std::int64_t c = 0; c < channels; ++c) {
    const double am = absmax[static_cast<std::size_t>(c)];
    float scale = am > 0 ? static_cast<float>(am / levels) : 1.0f;
    if (target.pow2 && am > 0) {
      // Candidates around the non-overflowing position; keep the one with the least squared error.
      const int pos0 = static_cast<int>(std::floor(std::log2(levels / am)));
      double best = -1;
      for (int pos = pos0; pos <= pos0 + 3; ++pos) {
        const float sc = std::ldexp(1.0f, -pos);
        double err = 0;
        for (std::size_t i = 0; i < v.size(); ++i) {
          if (channel_of(static_cast<std::int64_t>(i)) != c) continue;
          const double q = std::clamp(round_with(rounding, double{v[i]} / sc), double(-levels), double(levels));
          err += (q * sc - v[i]) * (q * sc - v[i]);
        }
        if (best < 0 || err < best) {
          best = err;
          scale = sc;
        }
      }
    }
    out.scales.push_back(forced_scale > 0 ? forced_scale : scale);
  }
  out.q = Tensor(DType::i8, s);
  auto q = out.q.span<std::int8_t>();
  for (std::size_t i = 0; i < v.size(); ++i) {
    const float sc = out.scales[static_cast<std::size_t>(channel_of(static_cast<std::int64_t>(i)))];
    q[i] = static_cast<std::int8_t>(std::clamp(round_with(rounding, double{v[i] / sc}), double(-levels), double(levels)));
  }
  return out;
}

// int32 bias at scale s_x·s_w[c] (fp32 product, as ONNX Runtime computes it), round half to even.
inline Tensor quantize_bias(const Tensor& b, float sx, const std::vector<float>& sw, std::vector<float>& scales) {
  check(b.dtype() == DType::f32, "bias must be float32, got ", b.dtype());
  const auto v = b.span<float>();
  Tensor q(DType::i32, b.shape());
  auto out = q.span<std::int32_t>();
  scales.clear();
  for (std::size_t c = 0; c < v.size(); ++c) {
    const float s = sx * sw[sw.size() == 1 ? 0 : c];
    scales.push_back(s);
    const double r = round_half_even(double{v[c]} / double{s});
    out[c] = saturate<std::int32_t>(static_cast<std::int64_t>(std::clamp(r, -4.0e9, 4.0e9)));
  }
  return q;
}

}  // namespace qnn::quant
// ---- end qnn/quantize/quantizer.hpp ----------------------------------------------------------------
// ---- begin qnn/quantize/xint8.hpp ------------------------------------------------------------------
// XINT8: the NPU's constraints on power-of-two positions (pos = −log2 scale), applied as AMD
// Quark's NPULimitationCheck does (reference/quantization-toolchains.md §1.5), each change logged
// with its reason:
//   align_pool   AveragePool / GlobalAveragePool: input and output share one position — the
//                smaller (coarser) of the two          (MaxPool and movement ops share by design)
//   align_concat Concat: every input and the output take the smallest position
//   shift_read   Add: max(ipos) − min(ipos) ≤ 7; the largest input position is lowered
//   shift_write  Add: min(ipos) − opos ∈ [−7, 25]; Mul: Σipos − opos ∈ [0, 32]; opos moves
//   shift_cut    Conv / Gemm / MatMul: wpos + ipos − opos ∈ [0, 16]; wpos moves (applied where
//                the weights are quantized, xint8_shift_cut())
// Rules repeat until nothing changes (at most 5 rounds, as Quark). Biases are int32 at s_x·s_w,
// so Quark's shift_bias rule (for int8 biases) does not arise; this is a deliberate choice: an int32
// bias loses nothing, an int8 one can.

#include <algorithm>
#include <cmath>
#include <map>
#include <string>
#include <vector>

namespace qnn::quant {

inline int pos_of(float scale) { return static_cast<int>(std::lround(-std::log2(double{scale}))); }
inline float scale_of(int pos) { return std::ldexp(1.0f, -pos); }

inline void apply_xint8_rules(const Graph& g, const Plan& plan, const QuantConfig& cfg,
                              std::map<std::string, QParams>& params, std::vector<std::string>& log) {
  (void)cfg;
  auto pos = [&](const std::string& t) { return pos_of(params.at(t).scale); };
  // Sets the position of t — and of every tensor sharing its parameters.
  auto set_pos = [&](const std::string& t, int p, const std::string& why) {
    const int old = pos(t);
    if (old == p) return false;
    const std::string root = plan.root(t);
    for (auto& [name, qp] : params)
      if (plan.root(name) == root) qp.scale = scale_of(p);
    log.push_back(qnn::detail::cat("xint8: tensor '", t, "' position ", old, " -> ", p, " (", why, ")"));
    return true;
  };
  auto quantized = [&](const std::string& t) { return params.count(t) != 0; };
  for (int round = 0; round < 5; ++round) {
    bool changed = false;
    for (std::size_t i : plan.nodes) {
      const Node& n = g.nodes[i];
      const std::string& t = n.op_type;
      if ((t == "AveragePool" || t == "GlobalAveragePool") && quantized(n.inputs[0]) && quantized(n.outputs[0])) {
        const int p = std::min(pos(n.inputs[0]), pos(n.outputs[0]));
        changed |= set_pos(n.inputs[0], p, "align_pool: " + n.name + " input and output share a position");
        changed |= set_pos(n.outputs[0], p, "align_pool: " + n.name + " input and output share a position");
      } else if (t == "Concat") {
        int p = quantized(n.outputs[0]) ? pos(n.outputs[0]) : 1 << 20;
        for (const auto& in : n.inputs)
          if (quantized(in)) p = std::min(p, pos(in));
        for (const auto& in : n.inputs)
          if (quantized(in)) changed |= set_pos(in, p, "align_concat: " + n.name + " inputs and output share a position");
        if (quantized(n.outputs[0]))
          changed |= set_pos(n.outputs[0], p, "align_concat: " + n.name + " inputs and output share a position");
      } else if (t == "Add" && n.inputs.size() == 2 && quantized(n.inputs[0]) && quantized(n.inputs[1]) &&
                 quantized(n.outputs[0])) {
        const int a = pos(n.inputs[0]), b = pos(n.inputs[1]);
        if (std::max(a, b) - std::min(a, b) > 7) {
          const std::string& hi = a > b ? n.inputs[0] : n.inputs[1];
          changed |= set_pos(hi, std::min(a, b) + 7, "shift_read: " + n.name + " input positions may differ by at most 7");
        }
        const int lo = std::min(pos(n.inputs[0]), pos(n.inputs[1]));
        const int o = pos(n.outputs[0]);
        if (lo - o < -7) changed |= set_pos(n.outputs[0], lo + 7, "shift_write: " + n.name + " min(ipos) − opos ≥ −7");
        if (lo - o > 25) changed |= set_pos(n.outputs[0], lo - 25, "shift_write: " + n.name + " min(ipos) − opos ≤ 25");
      } else if (t == "Mul" && n.inputs.size() == 2 && quantized(n.inputs[0]) && quantized(n.inputs[1]) &&
                 quantized(n.outputs[0])) {
        const int sum = pos(n.inputs[0]) + pos(n.inputs[1]);
        const int o = pos(n.outputs[0]);
        if (sum - o < 0) changed |= set_pos(n.outputs[0], sum, "shift_write: " + n.name + " Σipos − opos ≥ 0");
        if (sum - o > 32) changed |= set_pos(n.outputs[0], sum - 32, "shift_write: " + n.name + " Σipos − opos ≤ 32");
      }
    }
    if (!changed) break;
  }
}

// shift_cut for a compute node: the weight position that keeps wpos + ipos − opos in [0, 16].
inline int xint8_shift_cut(const std::string& node, int wpos, int ipos, int opos, std::vector<std::string>& log) {
  const int cut = wpos + ipos - opos;
  int w = wpos;
  if (cut > 16) w = opos - ipos + 16;
  if (cut < 0) w = opos - ipos;
  if (w != wpos)
    log.push_back(qnn::detail::cat("xint8: '", node, "' weight position ", wpos, " -> ", w, " (shift_cut = wpos + ipos − opos = ",
                              cut, " must lie in [0, 16])"));
  return w;
}

}  // namespace qnn::quant
// ---- end qnn/quantize/xint8.hpp --------------------------------------------------------------------

namespace qnn::quant {

inline int weight_axis(const Graph& g, const Node& n) {
  if (n.op_type == "Conv") return 0;
  if (n.op_type == "Gemm") return n.attrs.get_int("transB", 0) ? 0 : 1;
  (void)g;
  return 1;  // MatMul: K×N, one scale per output column
}

inline Graph build_qdq(const Graph& f, const Plan& plan, const std::map<std::string, QParams>& params,
                       const QuantConfig& cfg, std::vector<std::string>& log) {
  Graph g = f;
  check(g.opset("") >= 10, "the model uses ONNX opset ", g.opset(""), "; QDQ quantization needs opset 10 or newer");
  check(!cfg.per_channel || g.opset("") >= 13, "per-channel quantization needs ONNX opset 13 (the model has ",
        g.opset(""), "): re-export the model with opset 13, or quantize per tensor");
  const std::string qdomain = detail::qdq_domain(cfg.activation.storage);
  if (!qdomain.empty() && !g.opsets.count(qdomain)) g.opsets[qdomain] = 1;
  const Rounding wround = cfg.preset == Preset::xint8 ? Rounding::half_away : Rounding::half_even;
  std::vector<bool> dead(g.nodes.size(), false);
  std::vector<Node> added;

  // Folded activations: the compute node now writes the activation's output.
  for (std::size_t i : plan.folded_activations) {
    const Node& act = g.nodes[i];
    const int p = g.producer(act.inputs[0]);
    check(p >= 0, "internal: folded activation without producer");
    Node& prod = g.nodes[static_cast<std::size_t>(p)];
    log.push_back(qnn::detail::cat("folded ", act.op_type, " '", act.name, "' into the output quantization of '", prod.name,
                              "' (asymmetric activations clip at the zero point, which is the activation)"));
    prod.outputs[0] = act.outputs[0];
    dead[i] = true;
  }

  // Weights and biases.
  for (std::size_t i : plan.nodes) {
    Node& n = g.nodes[i];
    if (role_of(n) != NodeRole::compute || !n.has_input(1) || !g.is_constant(n.inputs[1])) continue;
    const Tensor w = *g.constant(n.inputs[1]);
    const int axis = weight_axis(g, n);
    QuantizedWeight qw = quantize_weight(w, axis, cfg.per_channel, cfg.weight, wround);
    if (cfg.preset == Preset::xint8) {
      // shift_cut: the output's parameters sit on n's output, or on the kept activation after it.
      auto out = params.find(n.outputs[0]);
      if (out == params.end()) {
        const auto users = g.consumers(n.outputs[0]);
        if (users.size() == 1) out = params.find(g.nodes[static_cast<std::size_t>(users[0])].outputs[0]);
      }
      if (out != params.end()) {
        const int wpos = pos_of(qw.scales[0]);
        const int fixed = xint8_shift_cut(n.name, wpos, pos_of(params.at(n.inputs[0]).scale), pos_of(out->second.scale), log);
        if (fixed != wpos) qw = quantize_weight(w, axis, cfg.per_channel, cfg.weight, wround, scale_of(fixed));
      }
    }
    const bool vec = qw.scales.size() > 1;
    const std::string base = n.inputs[1];
    const std::string wq = g.add_constant(base + "_quantized", qw.q);
    const std::string ws = g.add_constant(base + "_scale", detail::scale_tensor(qw.scales));
    const std::string wz = g.add_constant(
        base + "_zero_point", detail::zero_point_tensor(DType::i8, std::vector<std::int32_t>(qw.scales.size(), 0), vec));
    const std::string wdq = g.unique_name(base + "_DequantizeLinear_Output");
    added.push_back(detail::qdq_node("DequantizeLinear", base + "_DequantizeLinear", "", {wq, ws, wz}, wdq, vec ? axis : -1));
    n.inputs[1] = wdq;
    if (n.has_input(2) && g.is_constant(n.inputs[2])) {
      const Tensor b = *g.constant(n.inputs[2]);
      const QParams xp = params.at(n.inputs[0]);
      std::vector<float> bscales;
      const Tensor bq = quantize_bias(b, xp.scale, qw.scales, bscales);
      const bool bvec = bscales.size() > 1 && vec;
      if (!bvec) bscales.resize(1);
      const std::string bb = n.inputs[2];
      const std::string bqn = g.add_constant(bb + "_quantized", bq);
      const std::string bs = g.add_constant(bb + "_scale", detail::scale_tensor(bscales));
      const std::string bz = g.add_constant(
          bb + "_zero_point", detail::zero_point_tensor(DType::i32, std::vector<std::int32_t>(bscales.size(), 0), bvec));
      const std::string bdq = g.unique_name(bb + "_DequantizeLinear_Output");
      added.push_back(detail::qdq_node("DequantizeLinear", bb + "_DequantizeLinear", "", {bqn, bs, bz}, bdq, bvec ? 0 : -1));
      n.inputs[2] = bdq;
    }
  }

  // Constant inputs of binary ops: quantized from their own values with the activation target.
  for (std::size_t i : plan.nodes) {
    Node& n = g.nodes[i];
    if (role_of(n) != NodeRole::binary) continue;
    for (auto& in : n.inputs) {
      const Tensor* c = g.constant(in);
      if (!c || c->dtype() != DType::f32) continue;
      double lo = 0, hi = 0;
      for (float v : c->span<float>()) lo = std::min(lo, double{v}), hi = std::max(hi, double{v});
      const QParams p = qparams_from_range(lo, hi, cfg.activation);
      Tensor q(cfg.activation.storage, c->shape());
      visit_dtype(cfg.activation.storage, [&](auto t) {
        using T = decltype(t);
        if constexpr (QuantStorage<T>) {
          auto out = q.span<T>();
          for (std::size_t k = 0; k < out.size(); ++k) out[k] = quantize_value<T>(c->span<float>()[k], p.scale, p.zero_point);
        }
      });
      const std::string qn = g.add_constant(in + "_quantized", std::move(q));
      const std::string sn = g.add_constant(in + "_scale", Tensor::scalar(p.scale));
      const std::string zn = g.add_constant(in + "_zero_point", detail::zero_point_tensor(cfg.activation.storage, {p.zero_point}, false));
      const std::string dq = g.unique_name(in + "_DequantizeLinear_Output");
      added.push_back(detail::qdq_node("DequantizeLinear", in + "_DequantizeLinear", qdomain, {qn, sn, zn}, dq));
      in = dq;
    }
  }

  // Activations.
  std::set<std::size_t> float_readers;
  for (std::size_t i = 0; i < g.nodes.size(); ++i)
    if (excluded(cfg, g.nodes[i])) float_readers.insert(i);
  for (const std::string& t : plan.tensors) {
    const QParams& p = params.at(t);
    const std::string sn = g.add_constant(t + "_scale", Tensor::scalar(p.scale));
    const std::string zn = g.add_constant(t + "_zero_point", detail::zero_point_tensor(cfg.activation.storage, {p.zero_point}, false));
    std::string src = t;
    std::string dq;
    if (g.is_graph_output(t)) {
      // The model's output keeps its name: the producer writes a new name, the DQ writes t.
      const int p_idx = g.producer(t);
      check(p_idx >= 0, "graph output '", t, "' is a graph input; nothing to quantize");
      src = g.unique_name(t + "_float");
      for (auto& o : g.nodes[static_cast<std::size_t>(p_idx)].outputs)
        if (o == t) o = src;
      for (std::size_t i = 0; i < g.nodes.size(); ++i)
        for (auto& in : g.nodes[i].inputs)
          if (in == t && float_readers.count(i)) in = src;
      g.value(src).dtype = DType::f32;
      dq = t;
    } else {
      dq = g.unique_name(t + "_DequantizeLinear_Output");
      for (std::size_t i = 0; i < g.nodes.size(); ++i)
        if (!float_readers.count(i) && !dead[i])
          for (auto& in : g.nodes[i].inputs)
            if (in == t) in = dq;
    }
    const std::string q = g.unique_name(t + "_QuantizeLinear_Output");
    g.value(q).dtype = cfg.activation.storage;
    g.value(dq).dtype = DType::f32;
    added.push_back(detail::qdq_node("QuantizeLinear", t + "_QuantizeLinear", qdomain, {src, sn, zn}, q));
    added.push_back(detail::qdq_node("DequantizeLinear", t + "_DequantizeLinear", qdomain, {q, sn, zn}, dq));
  }

  // New nodes join before dead ones go: erase_nodes prunes values no node refers to.
  for (Node& n : added) {
    g.nodes.push_back(std::move(n));
    dead.push_back(false);
  }
  g.erase_nodes(dead);
  g.topological_sort();
  g.prune_values();
  return g;
}

}  // namespace qnn::quant
// ---- end qnn/quantize/qdq_build.hpp ----------------------------------------------------------------

namespace qnn::quant {

struct QdqLayer {
  std::string name, op_type;
  Node float_node;                   // the float node (its attributes make single-layer graphs)
  std::string input;                 // QDQ graph: the DequantizeLinear output the layer reads (x̂)
  float input_scale = 1;             // s_x
  std::string float_output;          // float graph: the layer's output, before any activation
  std::string weight_q;              // QDQ graph: the int8 weight constant
  std::vector<float> weight_scales;  // one per output channel, or one
  int axis = 0;                      // output-channel axis of the weights
  std::int64_t channels = 0;
  std::string bias_q;                // QDQ graph: the int32 bias constant; "" when there is none
  Tensor weight;                     // float weights
  std::vector<float> bias;           // float bias per output channel (zeros when there is none)
  float output_scale = 0;            // scale of the layer's quantized output; 0 when not quantized

  float weight_scale(std::int64_t c) const {
    return weight_scales[weight_scales.size() == 1 ? 0 : static_cast<std::size_t>(c)];
  }
  // MatMul has no bias input; Conv and Gemm get one when they have none.
  bool can_have_bias() const { return op_type != "MatMul"; }
};

namespace detail {

inline const Node* producer_node(const Graph& g, const std::string& v, const char* op) {
  const int p = g.producer(v);
  if (p < 0) return nullptr;
  const Node& n = g.nodes[static_cast<std::size_t>(p)];
  return n.domain.empty() && n.op_type == op ? &n : nullptr;
}

inline float scalar_scale(const Graph& g, const Node& qdq) {
  const Tensor* s = qdq.has_input(1) ? g.constant(qdq.inputs[1]) : nullptr;
  return s && s->dtype() == DType::f32 && s->numel() == 1 ? s->span<float>()[0] : 0.0f;
}

// The scale of the QuantizeLinear that quantizes `out` (directly, or after a Relu/Clip kept
// between the layer and its QuantizeLinear); 0 if there is none.
inline float output_scale_of(const Graph& g, std::string out) {
  for (int hop = 0; hop < 2; ++hop) {
    if (g.is_graph_output(out)) return 0;
    const auto users = g.consumers(out);
    if (users.size() != 1) return 0;
    const Node& u = g.nodes[static_cast<std::size_t>(users[0])];
    if (u.op_type == "QuantizeLinear") return scalar_scale(g, u);
    if (u.op_type != "Relu" && u.op_type != "Clip") return 0;
    out = u.outputs[0];
  }
  return 0;
}

inline std::optional<std::size_t> node_index(const Graph& g, const std::string& name, const std::string& op) {
  std::optional<std::size_t> found;
  for (std::size_t i = 0; i < g.nodes.size(); ++i)
    if (g.nodes[i].name == name && g.nodes[i].op_type == op) {
      if (found) return std::nullopt;  // ambiguous
      found = i;
    }
  return found;
}

}  // namespace detail

// The quantized Conv/Gemm/MatMul layers with constant weights of `qdq`, in execution order. Layers
// that cannot be matched or rewritten are left out with a log line saying why (prefix `what`).
inline std::vector<QdqLayer> qdq_layers(const Graph& fp, const Graph& qdq, const std::string& what,
                                        std::vector<std::string>& log) {
  std::vector<QdqLayer> out;
  for (const Node& n : qdq.nodes) {
    if (role_of(n) != NodeRole::compute) continue;
    const Node* wdq = n.has_input(1) ? detail::producer_node(qdq, n.inputs[1], "DequantizeLinear") : nullptr;
    if (!wdq || !qdq.constant(wdq->inputs[0]) || qdq.constant(wdq->inputs[0])->dtype() != DType::i8) continue;
    auto skip = [&](const std::string& why) { log.push_back(what + ": skipped '" + n.name + "' (" + why + ")"); };
    const auto fi = detail::node_index(fp, n.name, n.op_type);
    if (!fi) {
      skip("no float node of that name and type, or several");
      continue;
    }
    QdqLayer L;
    L.name = n.name;
    L.op_type = n.op_type;
    L.float_node = fp.nodes[*fi];
    const Node* xdq = detail::producer_node(qdq, n.inputs[0], "DequantizeLinear");
    L.input_scale = xdq ? detail::scalar_scale(qdq, *xdq) : 0.0f;
    if (!(L.input_scale > 0)) {
      skip("its input is not quantized per tensor");
      continue;
    }
    L.input = n.inputs[0];
    const Tensor* w = L.float_node.has_input(1) ? fp.constant(L.float_node.inputs[1]) : nullptr;
    const Tensor& q = *qdq.constant(wdq->inputs[0]);
    if (!w || w->dtype() != DType::f32 || !(w->shape() == q.shape())) {
      skip("its float weights are not a constant of the quantized weights' shape");
      continue;
    }
    if (n.op_type != "Conv" && w->shape().rank() != 2) {
      skip("its weights are not 2-D");
      continue;
    }
    if (n.op_type == "Conv" && w->shape().rank() != 3 && w->shape().rank() != 4) {
      skip("only 1-D and 2-D convolutions are handled");
      continue;
    }
    L.weight = *w;
    L.weight_q = wdq->inputs[0];
    const Tensor* ws = qdq.constant(wdq->inputs[1]);
    L.axis = weight_axis(fp, L.float_node);
    L.channels = w->shape().dim(L.axis);
    if (!ws || ws->dtype() != DType::f32 || (ws->numel() != 1 && ws->numel() != L.channels)) {
      skip("its weight scales are not per tensor or per output channel");
      continue;
    }
    L.weight_scales.assign(ws->span<float>().begin(), ws->span<float>().end());
    L.bias.assign(static_cast<std::size_t>(L.channels), 0.0f);
    if (L.float_node.has_input(2)) {
      const Tensor* b = fp.constant(L.float_node.inputs[2]);
      const Node* bdq = n.has_input(2) ? detail::producer_node(qdq, n.inputs[2], "DequantizeLinear") : nullptr;
      const Tensor* bq = bdq ? qdq.constant(bdq->inputs[0]) : nullptr;
      if (!b || b->dtype() != DType::f32 || b->numel() != L.channels || !bq || bq->dtype() != DType::i32 ||
          bq->numel() != L.channels) {
        skip("its bias is not a constant with one value per output channel, quantized to int32");
        continue;
      }
      L.bias.assign(b->span<float>().begin(), b->span<float>().end());
      L.bias_q = bdq->inputs[0];
    } else if (n.has_input(2)) {
      skip("its bias is computed at run time");
      continue;
    }
    L.float_output = L.float_node.outputs[0];
    L.output_scale = detail::output_scale_of(qdq, n.outputs[0]);
    out.push_back(std::move(L));
  }
  return out;
}

// The layer's int8 weights as they stand in the QDQ graph.
inline const Tensor& quantized_weight(const Graph& qdq, const QdqLayer& L) { return *qdq.constant(L.weight_q); }

// s_w[c]·q, the weights the quantized layer computes with.
inline Tensor dequantized_weight(const Graph& qdq, const QdqLayer& L) {
  const Tensor& q = quantized_weight(qdq, L);
  Tensor w(DType::f32, q.shape());
  const Shape& s = q.shape();
  std::int64_t inner = 1;
  for (int a = L.axis + 1; a < s.rank(); ++a) inner *= s[a];
  const auto qs = q.span<std::int8_t>();
  auto out = w.span<float>();
  for (std::size_t i = 0; i < out.size(); ++i) {
    const std::int64_t c = (static_cast<std::int64_t>(i) / inner) % L.channels;
    out[i] = L.weight_scale(c) * static_cast<float>(qs[i]);
  }
  return w;
}

// The bias the quantized layer adds, per output channel (zeros when it has none).
inline std::vector<float> dequantized_bias(const Graph& qdq, const QdqLayer& L) {
  std::vector<float> b(static_cast<std::size_t>(L.channels), 0.0f);
  if (L.bias_q.empty()) return b;
  const auto q = qdq.constant(L.bias_q)->span<std::int32_t>();
  for (std::int64_t c = 0; c < L.channels; ++c)
    b[static_cast<std::size_t>(c)] =
        static_cast<float>(double{L.input_scale * L.weight_scale(c)} * q[static_cast<std::size_t>(c)]);
  return b;
}

// Replaces the layer's int8 weights (same shape; scales unchanged).
inline void set_quantized_weight(Graph& qdq, const QdqLayer& L, Tensor q) {
  Value& v = qdq.value(L.weight_q);
  check(q.dtype() == DType::i8 && q.shape() == v.constant->shape(), "internal: replacement weights of '", L.name,
        "' have the wrong type or shape");
  v.constant = std::move(q);
}

// Sets the layer's int32 bias (one value per output channel, at scale s_x·s_w[c]); a Conv or Gemm
// without a bias gets one (int32 constant, scale, zero point, DequantizeLinear), as build_qdq makes it.
inline void set_quantized_bias(Graph& qdq, QdqLayer& L, const std::vector<std::int32_t>& q) {
  check(L.can_have_bias(), "internal: '", L.name, "' (", L.op_type, ") has no bias input");
  check(static_cast<std::int64_t>(q.size()) == L.channels, "internal: bias of '", L.name, "' has the wrong size");
  Tensor bq = Tensor::from<std::int32_t>(Shape{L.channels}, std::span<const std::int32_t>(q));
  if (!L.bias_q.empty()) {
    Value& v = qdq.value(L.bias_q);
    bq.reshape(v.constant->shape());
    v.constant = std::move(bq);
    return;
  }
  const auto idx = detail::node_index(qdq, L.name, L.op_type);
  check(idx.has_value(), "internal: layer '", L.name, "' not found in the QDQ graph");
  const bool vec = L.weight_scales.size() > 1;
  std::vector<float> scales;
  for (float sw : L.weight_scales) scales.push_back(L.input_scale * sw);
  const std::string base = L.name + "_bias";
  L.bias_q = qdq.add_constant(base + "_quantized", std::move(bq));
  const std::string bs = qdq.add_constant(base + "_scale", detail::scale_tensor(scales));
  const std::string bz = qdq.add_constant(
      base + "_zero_point", detail::zero_point_tensor(DType::i32, std::vector<std::int32_t>(scales.size(), 0), vec));
  const std::string bdq = qdq.unique_name(base + "_DequantizeLinear_Output");
  qdq.value(bdq).dtype = DType::f32;
  Node& n = qdq.nodes[*idx];
  n.inputs.resize(std::max<std::size_t>(n.inputs.size(), 3));
  n.inputs[2] = bdq;
  qdq.nodes.push_back(detail::qdq_node("DequantizeLinear", base + "_DequantizeLinear", "", {L.bias_q, bs, bz}, bdq,
                                       vec ? 0 : -1));
  qdq.topological_sort();
}

// Sets the layer's bias to `b` (float, per output channel), quantized to int32 at s_x·s_w[c] with
// round half to even, as build_qdq quantizes biases.
inline void set_bias(Graph& qdq, QdqLayer& L, const std::vector<float>& b) {
  const Tensor bt = Tensor::from<float>(Shape{L.channels}, std::span<const float>(b));
  std::vector<float> scales;
  const Tensor bq = quantize_bias(bt, L.input_scale, L.weight_scales, scales);
  set_quantized_bias(qdq, L, std::vector<std::int32_t>(bq.span<std::int32_t>().begin(), bq.span<std::int32_t>().end()));
}

// A graph of the one float layer with weights `w` and, if given, `bias`: input "x", output "y".
inline Graph single_layer_graph(const QdqLayer& L, const Tensor& w, const std::vector<float>* bias,
                                const std::map<std::string, std::int64_t>& opsets) {
  Graph g;
  g.opsets = opsets;
  g.ensure_value("x").dtype = DType::f32;
  g.inputs = {"x"};
  Node n;
  n.name = L.name;
  n.op_type = L.op_type;
  n.attrs = L.float_node.attrs;
  n.inputs = {"x", g.add_constant("w", w)};
  if (bias) n.inputs.push_back(g.add_constant("b", Tensor::from<float>(Shape{L.channels}, std::span<const float>(*bias))));
  n.outputs = {"y"};
  g.ensure_value("y");
  g.outputs = {"y"};
  g.nodes.push_back(std::move(n));
  return g;
}

// A session computing `taps` (values of `g`) as its outputs, in that order.
inline Session tap_session(const Graph& g, const std::vector<std::string>& taps, bool optimize,
                                            int threads) {
  Graph copy = g;
  copy.outputs = taps;
  SessionOptions so;
  so.optimize = optimize;
  so.probe = false;
  so.threads = threads;
  return Session(std::move(copy), so);
}

inline Session layer_session(Graph g) {
  SessionOptions so;
  so.optimize = false;
  so.probe = false;
  return Session(std::move(g), so);
}

// Calls f(batch) for the reader's first `samples` samples (from the start), the last batch cut to size.
inline std::int64_t for_first_samples(CalibrationReader& reader, std::int64_t samples,
                                      const std::function<void(const std::vector<Tensor>&)>& f) {
  reader.rewind();
  std::int64_t done = 0;
  while (done < samples) {
    auto batch = reader.next();
    if (!batch) break;
    const std::int64_t n = (*batch)[0].shape().rank() ? (*batch)[0].shape()[0] : 1;
    if (done + n > samples)
      for (Tensor& t : *batch) t = slice_rows(t, 0, samples - done);
    f(*batch);
    done += std::min(n, samples - done);
  }
  check(done > 0, "the calibration reader produced no data");
  return done;
}

}  // namespace qnn::quant
// ---- end qnn/quantize/qdq_layers.hpp ---------------------------------------------------------------

namespace qnn::quant {

struct BiasCorrectionResult {
  std::string layer;
  std::vector<float> correction;  // b̂' − b̂ per output channel
  double max_lsb = 0;             // max |correction| in LSB of the layer's output (0 if not quantized)
};

namespace detail {

// Accumulates the mean of a layer's input over its rows: N×C×… → 1×C×… for Conv, …×K → 1×K for
// Gemm and MatMul, K×M → K×1 for Gemm with transA.
class MeanInput {
 public:
  explicit MeanInput(const QdqLayer& L) : conv_(L.op_type == "Conv"), trans_a_(L.op_type == "Gemm" && L.float_node.attrs.get_int("transA", 0)) {}

  void add(const Tensor& x) {
    check(x.dtype() == DType::f32 && x.shape().rank() >= (conv_ ? 3 : 2), "unexpected layer input ", x.shape());
    const Shape& s = x.shape();
    Shape mean_shape;
    std::int64_t rows = 0, width = 0;
    if (conv_) {
      rows = s[0];
      width = rows ? x.numel() / rows : 0;
      mean_shape = s;
      mean_shape[0] = 1;
    } else if (trans_a_) {
      rows = s[1];
      width = s[0];
      mean_shape = Shape{s[0], 1};
    } else {
      width = s[s.rank() - 1];
      rows = width ? x.numel() / width : 0;
      mean_shape = Shape{1, width};
    }
    if (sum_.empty()) {
      sum_.assign(static_cast<std::size_t>(width), 0.0);
      shape_ = mean_shape;
    }
    check(shape_ == mean_shape, "layer inputs of shapes ", shape_, " and ", mean_shape, " cannot be averaged");
    const auto v = x.span<float>();
    for (std::int64_t r = 0; r < rows; ++r)
      for (std::int64_t k = 0; k < width; ++k)
        sum_[static_cast<std::size_t>(k)] +=
            v[static_cast<std::size_t>(trans_a_ ? k * rows + r : r * width + k)];
    rows_ += rows;
  }
  Tensor mean() const {
    check(rows_ > 0, "no layer input was seen");
    Tensor m(DType::f32, shape_);
    auto out = m.span<float>();
    for (std::size_t k = 0; k < out.size(); ++k) out[k] = static_cast<float>(sum_[k] / static_cast<double>(rows_));
    return m;
  }

 private:
  bool conv_, trans_a_;
  std::vector<double> sum_;
  Shape shape_;
  std::int64_t rows_ = 0;
};

}  // namespace detail

inline std::vector<BiasCorrectionResult> correct_bias(const Graph& float_graph, Graph& qdq_graph, CalibrationReader& reader,
                                                      const QuantConfig& cfg, int threads, std::vector<std::string>& log) {
  const std::int64_t samples = cfg.bias_correction_options.samples;
  std::vector<BiasCorrectionResult> results;
  for (QdqLayer& L : qdq_layers(float_graph, qdq_graph, "bias correction", log)) {
    if (!L.can_have_bias()) {
      log.push_back("bias correction: skipped '" + L.name + "' (MatMul has no bias input)");
      continue;
    }
    with_context("bias correction of '" + L.name + "'", [&] {
      detail::MeanInput mean(L);
      const Session taps = tap_session(qdq_graph, {L.input}, true, threads);
      RunContext ctx;
      std::vector<Tensor> outs;
      const std::int64_t seen = for_first_samples(reader, samples, [&](const std::vector<Tensor>& batch) {
        taps.run(ctx, batch, outs);
        mean.add(outs[0]);
      });
      // E[(W − Ŵ) x̂] per output channel: the layer with weights W − Ŵ and no bias, on the mean input.
      Tensor dw = dequantized_weight(qdq_graph, L);
      const auto w = L.weight.span<float>();
      for (std::size_t i = 0; i < w.size(); ++i) dw.span<float>()[i] = w[i] - dw.span<float>()[i];
      const Session layer = layer_session(single_layer_graph(L, dw, nullptr, float_graph.opsets));
      const Tensor xm = mean.mean();
      const Tensor y = layer.run(std::span<const Tensor>(&xm, 1))[0];
      const std::int64_t per = y.numel() / L.channels;  // output positions per channel
      const auto yv = y.span<float>();
      const std::vector<float> old_bias = dequantized_bias(qdq_graph, L);
      std::vector<float> bias(static_cast<std::size_t>(L.channels));
      BiasCorrectionResult r;
      r.layer = L.name;
      double max_abs = 0, sum_abs = 0;
      for (std::int64_t c = 0; c < L.channels; ++c) {
        double e = 0;
        for (std::int64_t p = 0; p < per; ++p) e += yv[static_cast<std::size_t>(c * per + p)];
        e /= static_cast<double>(per);
        bias[static_cast<std::size_t>(c)] = static_cast<float>(L.bias[static_cast<std::size_t>(c)] + e);
      }
      set_bias(qdq_graph, L, bias);
      const std::vector<float> new_bias = dequantized_bias(qdq_graph, L);
      for (std::int64_t c = 0; c < L.channels; ++c) {
        const auto u = static_cast<std::size_t>(c);
        r.correction.push_back(new_bias[u] - old_bias[u]);
        max_abs = std::max(max_abs, double{std::fabs(r.correction.back())});
        sum_abs += std::fabs(r.correction.back());
      }
      r.max_lsb = L.output_scale > 0 ? max_abs / L.output_scale : 0;
      log.push_back(qnn::detail::cat(
          "bias correction: '", L.name, "' bias += E[(W − Ŵ)·x̂] over ", seen, " samples: max |Δb| = ", max_abs,
          L.output_scale > 0 ? qnn::detail::cat(" (", r.max_lsb, " LSB of the output)") : std::string(" (output not quantized)"),
          ", mean |Δb| = ", sum_abs / static_cast<double>(L.channels), " over ", L.channels, " channels"));
      results.push_back(std::move(r));
    });
  }
  return results;
}

}  // namespace qnn::quant
// ---- end qnn/quantize/bias_correction.hpp ----------------------------------------------------------
// ---- begin qnn/quantize/cle.hpp --------------------------------------------------------------------
// Cross-layer equalization (CLE; Nagel et al., "Data-Free Quantization Through Weight Equalization
// and Bias Correction", ICCV 2019 — what AMD Quark's CLEConfig does), on the prepared float graph.
//
// Two weight layers A → B joined only through positively homogeneous ops, f(s·x) = s·f(x) for
// s > 0 (Relu, LeakyRelu, MaxPool, AveragePool, GlobalAveragePool, and one Flatten/Reshape that
// turns an N×C×H×W tensor into N×(C·H·W), where channel c becomes the contiguous feature group
// [c·H·W, (c+1)·H·W)), compute the same function when output channel c of A is divided by s_c and
// the inputs of B that read channel c are multiplied by s_c. With the per-channel weight ranges
//   r1[c] = max |W_A[c, …]|      r2[c] = max |W_B[…, inputs of c]|
// the choice s_c = sqrt(r1·r2) / r2 gives both the same range sqrt(r1·r2), which is what a
// per-tensor weight quantizer wants (and it evens out the activation channels between A and B).
// b_A[c] is divided by s_c too. Channels with r1 = 0 or r2 = 0 keep s = 1.
//
// In a chain (conv1 → conv2 → fc1 → …) equalizing one pair disturbs its neighbours, so all pairs
// are equalized in order, repeatedly, until one sweep changes the weights by less than
// `threshold` (Σ over the layers of mean |ΔW|, Quark's convergence measure and threshold 1.9e−7)
// or after `max_steps` sweeps. Balance method: "max" (Quark's default and only documented one).
// Deliberate differences from Quark: r1 does not include the bias (Quark's cle_scale_append_bias
// appends a heuristically shrunk bias), and channels with small weights are equalized too (Quark's
// cle_scale_use_threshold skips channels with r1 + r2 < 0.5, which on a small model is most of them).
//
// Layers: Conv (any group count; the tail maps input channel c into its group), Gemm (transA = 0
// as a tail, a bias C with one value per output or none) and MatMul with a constant 2-D weight.
// Every tensor on the chain must have exactly one reader and not be a graph output. A weight or
// bias shared with another node is copied first (Graph::add_constant), so nothing outside the pair
// changes.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace qnn::quant {

namespace detail {

// Where the weights of one channel of a layer sit in its (row-major) weight tensor: for channel c,
// `outer` runs of `inner` consecutive elements, `outer_stride` apart, starting at
// (c / per_group)·group_stride + (c % per_group)·channel_stride.
struct ChannelSlices {
  std::int64_t outer = 1, outer_stride = 0, inner = 1;
  std::int64_t per_group = std::numeric_limits<std::int64_t>::max(), group_stride = 0, channel_stride = 0;

  template <class F>
  void each(std::span<float> w, std::int64_t c, F&& f) const {
    const std::int64_t base = (c / per_group) * group_stride + (c % per_group) * channel_stride;
    for (std::int64_t o = 0; o < outer; ++o)
      for (std::int64_t i = 0; i < inner; ++i) f(w[static_cast<std::size_t>(base + o * outer_stride + i)]);
  }
  double absmax(std::span<float> w, std::int64_t c) const {
    double m = 0;
    each(w, c, [&](float v) { m = std::max(m, double{std::fabs(v)}); });
    return m;
  }
};

struct ClePair {
  std::size_t head = 0, tail = 0;   // node indices
  std::string via;                  // the ops in between, for the log
  std::int64_t channels = 0;
  ChannelSlices head_slices, tail_slices;
  std::vector<double> total_scale;  // product of the s_c applied over all sweeps
  std::vector<double> r1_before, r2_before;
};

// A constant input of node `i` that only this node reads; copied (and rewired) when it is shared.
inline std::string private_constant(Graph& g, std::size_t i, std::size_t input) {
  std::string name = g.nodes[i].inputs[input];
  std::size_t uses = 0;
  for (const Node& n : g.nodes)
    for (const auto& in : n.inputs) uses += in == name;
  if (uses == 1 && !g.is_graph_output(name)) return name;
  std::string copy = g.add_constant(name + "_cle", *g.constant(name));
  g.nodes[i].inputs[input] = copy;
  return copy;
}

// Output-channel slices of a head layer, and its channel count; false if the layer cannot head a pair.
inline bool head_slices(const Graph& g, const Node& n, ChannelSlices& s, std::int64_t& channels) {
  const Tensor* w = n.has_input(1) ? g.constant(n.inputs[1]) : nullptr;
  if (!w || w->dtype() != DType::f32) return false;
  const Shape& ws = w->shape();
  if (n.op_type == "Conv") {
    if (ws.rank() < 3) return false;
    channels = ws[0];
    s.inner = w->numel() / channels;
    s.channel_stride = s.inner;
  } else if (n.op_type == "Gemm" || n.op_type == "MatMul") {
    if (ws.rank() != 2) return false;
    if (n.op_type == "Gemm" && n.attrs.get_int("transB", 0)) {
      channels = ws[0];
      s.inner = ws[1];
      s.channel_stride = ws[1];
    } else {
      channels = ws[1];
      s.outer = ws[0];
      s.outer_stride = ws[1];
      s.channel_stride = 1;
    }
  } else {
    return false;
  }
  if (n.has_input(2)) {  // the bias must hold one value per output channel
    const Tensor* b = g.constant(n.inputs[2]);
    if (!b || b->dtype() != DType::f32 || b->numel() != channels) return false;
    if (n.op_type == "Gemm" && b->shape().rank() == 2 && b->shape()[0] != 1) return false;
  }
  return channels > 0;
}

// Input-channel slices of a tail layer for `channels` channels of `group` features each.
inline bool tail_slices(const Graph& g, const Node& n, std::int64_t channels, std::int64_t group, bool spatial,
                        ChannelSlices& s) {
  const Tensor* w = n.has_input(1) ? g.constant(n.inputs[1]) : nullptr;
  if (!w || w->dtype() != DType::f32) return false;
  const Shape& ws = w->shape();
  if (n.op_type == "Conv") {
    if (!spatial || group != 1 || ws.rank() < 3) return false;
    const std::int64_t groups = n.attrs.get_int("group", 1);
    const std::int64_t cpg = ws[1];
    if (groups < 1 || cpg * groups != channels || ws[0] % groups) return false;
    const std::int64_t mpg = ws[0] / groups;
    const std::int64_t khw = w->numel() / (ws[0] * cpg);
    s.per_group = cpg;
    s.group_stride = mpg * cpg * khw;
    s.channel_stride = khw;
    s.outer = mpg;
    s.outer_stride = cpg * khw;
    s.inner = khw;
    return true;
  }
  if ((n.op_type != "Gemm" && n.op_type != "MatMul") || spatial) return false;
  if (ws.rank() != 2 || (n.op_type == "Gemm" && n.attrs.get_int("transA", 0))) return false;
  const bool trans_b = n.op_type == "Gemm" && n.attrs.get_int("transB", 0);
  const std::int64_t k = trans_b ? ws[1] : ws[0];
  if (k != channels * group) return false;
  if (trans_b) {  // [N, K]: columns c·G … c·G + G − 1
    s.outer = ws[0];
    s.outer_stride = ws[1];
    s.inner = group;
    s.channel_stride = group;
  } else {        // [K, N]: rows c·G … c·G + G − 1, contiguous
    s.inner = group * ws[1];
    s.channel_stride = group * ws[1];
  }
  return true;
}

// The features per channel after a Flatten/Reshape from N×C×spatial to N×(C·spatial); 0 if it is not one.
inline std::int64_t flatten_group(const Graph& g, const Node& n) {
  const Value& in = g.value(n.inputs[0]);
  const Value& out = g.value(n.outputs[0]);
  if (!in.dims || !out.dims || in.dims->size() < 3 || out.dims->size() != 2) return 0;
  if (n.op_type == "Flatten" && n.attrs.get_int("axis", 1) != 1) return 0;
  const auto& id = *in.dims;
  const auto& od = *out.dims;
  if (id[0] != od[0]) return 0;
  std::int64_t group = 1;
  for (std::size_t a = 2; a < id.size(); ++a) {
    if (id[a] == kDynamicDim) return 0;
    group *= id[a];
  }
  if (id[1] == kDynamicDim || od[1] != id[1] * group) return 0;
  return group;
}

// Walks from layer `h` through positively homogeneous ops to the next weight layer.
inline std::optional<ClePair> find_pair(const Graph& g, std::size_t h) {
  ClePair p;
  p.head = h;
  const Node& head = g.nodes[h];
  if (!head.domain.empty() || !head_slices(g, head, p.head_slices, p.channels)) return std::nullopt;
  bool spatial = head.op_type == "Conv";  // the channel axis is 1 of an N×C×… tensor
  std::int64_t group = 1;
  std::string t = head.outputs[0];
  for (int hops = 0; hops < 16; ++hops) {
    if (t.empty() || g.is_graph_output(t)) return std::nullopt;
    const auto users = g.consumers(t);
    if (users.size() != 1) return std::nullopt;
    const auto u = static_cast<std::size_t>(users[0]);
    const Node& n = g.nodes[u];
    if (!n.domain.empty() || n.inputs.empty() || n.inputs[0] != t) return std::nullopt;
    for (std::size_t i = 1; i < n.inputs.size(); ++i)
      if (n.inputs[i] == t) return std::nullopt;
    const std::string& op = n.op_type;
    if (op == "Conv" || op == "Gemm" || op == "MatMul") {
      if (!tail_slices(g, n, p.channels, group, spatial, p.tail_slices)) return std::nullopt;
      p.tail = u;
      return p;
    }
    const bool elementwise = op == "Relu" || op == "LeakyRelu";
    const bool pool = op == "MaxPool" || op == "AveragePool" || op == "GlobalAveragePool";
    if (pool && (!spatial || (n.outputs.size() > 1 && !n.outputs[1].empty()))) return std::nullopt;
    if (op == "Flatten" || op == "Reshape") {
      if (!spatial) return std::nullopt;
      group = flatten_group(g, n);
      if (group == 0) return std::nullopt;
      spatial = false;
    } else if (!elementwise && !pool) {
      return std::nullopt;
    }
    p.via += (p.via.empty() ? "" : "→") + op;
    t = n.outputs[0];
  }
  return std::nullopt;
}

inline std::string range_text(const std::vector<double>& r) {
  double lo = std::numeric_limits<double>::infinity(), hi = 0;
  for (double v : r)
    if (v > 0) lo = std::min(lo, v), hi = std::max(hi, v);
  if (hi == 0) return "[0, 0]";
  return qnn::detail::cat("[", lo, ", ", hi, "] (", hi / lo, "×)");
}

}  // namespace detail

// Equalizes every pair of the float graph in place; one log line per equalized pair and one summary.
inline void apply_cle(Graph& g, std::vector<std::string>& log, const CleOptions& opt = {}) {
  check(opt.max_steps >= 1 && opt.threshold >= 0, "cle: max_steps must be ≥ 1 and threshold ≥ 0");
  std::vector<detail::ClePair> pairs;
  for (std::size_t i = 0; i < g.nodes.size(); ++i)
    if (auto p = detail::find_pair(g, i)) pairs.push_back(std::move(*p));
  if (pairs.empty()) {
    log.push_back("cle: no pair of weight layers joined by positively homogeneous ops; nothing equalized");
    return;
  }
  // Make every weight and bias the pairs touch private to its node.
  std::vector<std::size_t> layers;
  for (const auto& p : pairs) layers.push_back(p.head), layers.push_back(p.tail);
  std::sort(layers.begin(), layers.end());
  layers.erase(std::unique(layers.begin(), layers.end()), layers.end());
  for (std::size_t i : layers) {
    detail::private_constant(g, i, 1);
    if (g.nodes[i].has_input(2)) detail::private_constant(g, i, 2);
  }
  auto weights = [&](std::size_t i) { return g.value(g.nodes[i].inputs[1]).constant->span<float>(); };
  for (auto& p : pairs) {
    p.total_scale.assign(static_cast<std::size_t>(p.channels), 1.0);
    for (std::int64_t c = 0; c < p.channels; ++c) {
      p.r1_before.push_back(p.head_slices.absmax(weights(p.head), c));
      p.r2_before.push_back(p.tail_slices.absmax(weights(p.tail), c));
    }
  }

  int steps = 0;
  double diff = 0;
  for (; steps < opt.max_steps;) {
    std::vector<std::vector<float>> before;
    for (std::size_t i : layers) before.emplace_back(weights(i).begin(), weights(i).end());
    for (auto& p : pairs) {
      auto w1 = weights(p.head);
      auto w2 = weights(p.tail);
      std::span<float> b1;
      if (g.nodes[p.head].has_input(2)) b1 = g.value(g.nodes[p.head].inputs[2]).constant->span<float>();
      for (std::int64_t c = 0; c < p.channels; ++c) {
        const double r1 = p.head_slices.absmax(w1, c);
        const double r2 = p.tail_slices.absmax(w2, c);
        if (!(r1 > 0) || !(r2 > 0)) continue;
        const double s = std::sqrt(r1 * r2) / r2;
        p.head_slices.each(w1, c, [&](float& v) { v = static_cast<float>(v / s); });
        p.tail_slices.each(w2, c, [&](float& v) { v = static_cast<float>(v * s); });
        if (!b1.empty()) b1[static_cast<std::size_t>(c)] = static_cast<float>(b1[static_cast<std::size_t>(c)] / s);
        p.total_scale[static_cast<std::size_t>(c)] *= s;
      }
    }
    ++steps;
    diff = 0;
    for (std::size_t l = 0; l < layers.size(); ++l) {
      const auto w = weights(layers[l]);
      double sum = 0;
      for (std::size_t k = 0; k < w.size(); ++k) sum += std::fabs(double{w[k]} - double{before[l][k]});
      diff += w.empty() ? 0 : sum / static_cast<double>(w.size());
    }
    if (diff < opt.threshold) break;
  }

  for (const auto& p : pairs) {
    const Node& a = g.nodes[p.head];
    const Node& b = g.nodes[p.tail];
    std::vector<double> r1, r2;
    double smin = std::numeric_limits<double>::infinity(), smax = 0;
    std::int64_t scaled = 0;
    for (std::int64_t c = 0; c < p.channels; ++c) {
      r1.push_back(p.head_slices.absmax(weights(p.head), c));
      r2.push_back(p.tail_slices.absmax(weights(p.tail), c));
      const double s = p.total_scale[static_cast<std::size_t>(c)];
      smin = std::min(smin, s), smax = std::max(smax, s);
      scaled += s != 1.0;
    }
    log.push_back(qnn::detail::cat(
        "cle: '", a.name, "' → '", b.name, "' (via ", p.via.empty() ? "nothing" : p.via, "): ", scaled, " of ",
        p.channels, " channels rescaled, s ∈ [", smin, ", ", smax, "] (W_", a.name, "[c] and its bias /= s, the '",
        b.name, "' weights reading c *= s); per-channel max|W| of '", a.name, "' ", detail::range_text(p.r1_before),
        " → ", detail::range_text(r1), ", of '", b.name, "' per input channel ", detail::range_text(p.r2_before), " → ",
        detail::range_text(r2)));
  }
  log.push_back(qnn::detail::cat("cle: ", pairs.size(), " pairs, ", steps, " sweeps, last sweep changed the weights by ",
                                 diff, " (Σ mean|ΔW|; ", diff < opt.threshold ? "converged below " : "stopped at max_steps, threshold ",
                                 opt.threshold, ")"));
}

}  // namespace qnn::quant
// ---- end qnn/quantize/cle.hpp ----------------------------------------------------------------------
// ---- begin qnn/quantize/finetune.hpp ---------------------------------------------------------------
// Layer-wise finetuning of the int8 rounding and the bias (AdaRound's search space, AdaQuant's
// bias update), on the CPU and without PyTorch — AMD Quark runs AdaRound/AdaQuant by rebuilding the
// model in PyTorch.
//
// For each quantized Conv/Gemm/MatMul in execution order:
//  1. Data. The reader's first `samples` calibration samples run through the QDQ model as finetuned
//     so far (qnn's integer kernels) and through the float model. From each sample, the same
//     randomly chosen output positions of the layer (seeded; `rows` in total, spread evenly over
//     the samples) give rows: x̂ = the quantized input patch the layer reads there, and y = the
//     float model's layer output (before any activation) for that sample and position.
//  2. Objective, per output channel c (separable: channel c only depends on its own weights):
//       f_c(Ŵ_c, b̂_c) = Σ_rows (Ŵ_c·x̂ + b̂_c − y_c)²
//     With d = (Ŵ_c − W_c, b̂_c − b_c) and e = W_c·x̂ + b_c − y_c (the float layer's output on the
//     quantized input minus the float model's), f_c = dᵀG d + 2 dᵀu_c + Σe², G = Σ x̃x̃ᵀ over rows
//     (x̃ = [x̂, 1]), u_c = Σ x̃·e_c. G is shared by all channels (of a conv group) and accumulated in
//     chunks with qnn's float GEMM, summed in double; e is computed with qnn's float layer on x̂.
//     Memory: G is (K+1)², the rows are never all kept.
//  3. Search: Ŵ_c = s_c·q with each q_k ∈ {⌊w_k/s_c⌋, ⌈w_k/s_c⌉} ∩ [−L, L] (AdaRound's space; L = 127,
//     64 with reduce_range),
//     starting from the quantizer's rounding. Greedy coordinate descent on the exact quadratic:
//     flipping q_k by δ changes f_c by 2δs·g_k + (δs)²·G_kk, g = G d + u maintained incrementally
//     (O(K) per accepted flip), less what re-minimising the bias after the flip recovers; a flip
//     is taken when the two together lower f_c. The bias, continuous (its step
//     s_x·s_w is far below the weights'), is set to its exact minimizer −g_b/G_bb before the first
//     sweep and after each; at most `passes` sweeps, fewer when one flips nothing. The bias is then
//     rounded to int32 and f_c evaluated exactly; a channel whose f_c is not below the plain
//     rounding's keeps its original weights and bias. So the layer's objective never gets worse.
//  Scales never change (XINT8's power-of-two scales stay); MatMul keeps a zero bias (it has none).
//
// Why greedy instead of AdaRound's annealed sigmoid relaxation with Adam: the objective of one
// layer before its activation is an exact quadratic (G precomputed), so each candidate flip is
// evaluated exactly in O(1) and descent is monotone, deterministic and needs no hyper-parameters
// (learning rate, β schedule, regularizer weight); AdaRound's own ablation shows the pre-activation
// layer-wise objective close to its best variant. Cost: building G, O(rows·K²) in float GEMM;
// the sweeps, O(K·M) checks plus O(K) per flip.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace qnn::quant {

struct FinetuneLayerResult {
  std::string layer;
  std::int64_t rows = 0;
  double before = 0;           // objective with the quantizer's rounding: mean over rows and channels
  double after = 0;            // of (Ŵx̂ + b̂ − y)²; after ≤ before
  std::int64_t flipped = 0;    // weights rounded the other way
  std::int64_t weights = 0;
  std::int64_t kept = 0;       // channels left as they were (no improvement)
};

namespace detail {

// How a layer's input batch splits into rows: `samples` samples with `positions` output positions
// each; a row of group g is the layer's input patch there (k values) and its m_per_group outputs.
class LayerRows {
 public:
  LayerRows(const QdqLayer& L, const Shape& x) : op_(L.op_type), channels_(L.channels) {
    const Shape& ws = L.weight.shape();
    if (op_ == "Conv") {
      const int spatial = ws.rank() - 2;
      const Shape x4 = ops::as_4d(x, spatial);
      const Shape w4 = ops::as_4d(ws, spatial);
      const auto attrs = ops::WindowAttrs::read(L.float_node.attrs, spatial, false);
      const Window2D win = attrs.resolve(x4[2], x4[3], {w4[2], w4[3]});
      geo_ = make_conv_geometry(x4, w4, win, L.float_node.attrs.get_int("group", 1));
      groups_ = geo_.groups;
      k_ = geo_.k();
      samples_ = geo_.n;
      positions_ = geo_.oh * geo_.ow;
    } else {
      trans_a_ = op_ == "Gemm" && L.float_node.attrs.get_int("transA", 0);
      trans_b_ = op_ == "Gemm" && L.float_node.attrs.get_int("transB", 0);
      k_ = trans_b_ ? ws[1] : ws[0];
      if (trans_a_) {
        check(x.rank() == 2 && x[0] == k_, "input ", x, " does not match K = ", k_);
        samples_ = x[1];
        positions_ = 1;
      } else {
        check(x.rank() >= 2 && x[x.rank() - 1] == k_, "input ", x, " does not match K = ", k_);
        samples_ = x[0];
        positions_ = samples_ ? x.numel() / (samples_ * k_) : 0;
      }
    }
  }
  std::int64_t groups() const { return groups_; }
  std::int64_t k() const { return k_; }
  std::int64_t m_per_group() const { return channels_ / groups_; }
  std::int64_t samples() const { return samples_; }
  std::int64_t positions() const { return positions_; }

  // The input patch of sample i, position p, group g (k values, the order of the weights' row).
  void patch(const float* x, std::int64_t i, std::int64_t p, std::int64_t g, float* out) const {
    if (op_ == "Conv") {
      const auto& w = geo_.win;
      const std::int64_t oy = p / geo_.ow, ox = p % geo_.ow;
      const std::int64_t cpg = geo_.c_per_group();
      for (std::int64_t ci = 0; ci < cpg; ++ci) {
        const float* plane = x + ((i * geo_.c + g * cpg + ci) * geo_.h) * geo_.w;
        for (std::int64_t ky = 0; ky < w.kernel[0]; ++ky) {
          const std::int64_t iy = oy * w.strides[0] - w.pads[0] + ky * w.dilations[0];
          for (std::int64_t kx = 0; kx < w.kernel[1]; ++kx) {
            const std::int64_t ix = ox * w.strides[1] - w.pads[1] + kx * w.dilations[1];
            *out++ = iy >= 0 && iy < geo_.h && ix >= 0 && ix < geo_.w ? plane[iy * geo_.w + ix] : 0.0f;
          }
        }
      }
    } else if (trans_a_) {
      for (std::int64_t k = 0; k < k_; ++k) out[k] = x[k * samples_ + i];
    } else {
      std::copy_n(x + (i * positions_ + p) * k_, k_, out);
    }
  }
  // Index of output channel c at sample i, position p in the layer's output tensor.
  std::size_t out_index(std::int64_t i, std::int64_t p, std::int64_t c) const {
    if (op_ == "Conv") return static_cast<std::size_t>((i * channels_ + c) * positions_ + p);
    return static_cast<std::size_t>((i * positions_ + p) * channels_ + c);
  }
  // Index of weight k (within its group's row) of output channel c in the weight tensor.
  std::size_t weight_index(std::int64_t c, std::int64_t k) const {
    if (op_ == "Conv" || trans_b_) return static_cast<std::size_t>(c * k_ + k);
    return static_cast<std::size_t>(k * channels_ + c);
  }

 private:
  std::string op_;
  std::int64_t channels_;
  ConvGeometry geo_;
  bool trans_a_ = false, trans_b_ = false;
  std::int64_t groups_ = 1, k_ = 0, samples_ = 0, positions_ = 0;
};

// Σ x̃x̃ᵀ, Σ x̃·e_c and Σ e_c² of one group's rows, accumulated chunk by chunk.
class RowStats {
 public:
  static constexpr std::int64_t kChunk = 256;
  RowStats(std::int64_t k, std::int64_t m)
      : k1_(k + 1), m_(m), g_(static_cast<std::size_t>(k1_ * k1_), 0.0), u_(static_cast<std::size_t>(m * k1_), 0.0),
        ee_(static_cast<std::size_t>(m), 0.0), x_(static_cast<std::size_t>(kChunk * k1_)),
        e_(static_cast<std::size_t>(kChunk * m)) {}

  float* next_x() { return x_.data() + n_ * k1_; }
  float* next_e() { return e_.data() + n_ * m_; }
  void push() {
    x_[static_cast<std::size_t>(n_ * k1_ + k1_ - 1)] = 1.0f;
    if (++n_ == kChunk) flush();
    ++rows_;
  }
  void flush() {
    if (n_ == 0) return;
    std::vector<float> xt(static_cast<std::size_t>(k1_ * n_));
    for (std::int64_t r = 0; r < n_; ++r)
      for (std::int64_t k = 0; k < k1_; ++k) xt[static_cast<std::size_t>(k * n_ + r)] = x_[static_cast<std::size_t>(r * k1_ + k)];
    const TensorView<const float> a(xt.data(), Shape{k1_, n_});
    std::vector<float> prod(static_cast<std::size_t>(k1_ * std::max(k1_, m_)));
    FloatGemm<float>(TensorView<const float>(x_.data(), Shape{n_, k1_}), {}, GemmOptions{})
        .run(a, TensorView<float>(prod.data(), Shape{k1_, k1_}));
    for (std::size_t i = 0; i < g_.size(); ++i) g_[i] += prod[i];
    FloatGemm<float>(TensorView<const float>(e_.data(), Shape{n_, m_}), {}, GemmOptions{})
        .run(a, TensorView<float>(prod.data(), Shape{k1_, m_}));
    for (std::int64_t k = 0; k < k1_; ++k)
      for (std::int64_t c = 0; c < m_; ++c)
        u_[static_cast<std::size_t>(c * k1_ + k)] += prod[static_cast<std::size_t>(k * m_ + c)];
    for (std::int64_t r = 0; r < n_; ++r)
      for (std::int64_t c = 0; c < m_; ++c) {
        const double e = e_[static_cast<std::size_t>(r * m_ + c)];
        ee_[static_cast<std::size_t>(c)] += e * e;
      }
    n_ = 0;
  }
  std::int64_t k1() const { return k1_; }
  std::int64_t rows() const { return rows_; }
  const double* g_row(std::int64_t k) const { return g_.data() + k * k1_; }
  const double* u(std::int64_t c) const { return u_.data() + c * k1_; }
  double ee(std::int64_t c) const { return ee_[static_cast<std::size_t>(c)]; }

 private:
  std::int64_t k1_, m_;
  std::vector<double> g_, u_, ee_;
  std::vector<float> x_, e_;
  std::int64_t n_ = 0, rows_ = 0;
};

// One output channel: its float weights w (k), scale s, current int8 q (k) and bias (float b, int32 bq
// at scale sb); on return q and bq hold the result. Returns {f before, f after, flips}.
struct ChannelFit {
  double before = 0, after = 0;
  std::int64_t flips = 0;
  bool kept = false;
};

inline ChannelFit fit_channel(const RowStats& st, std::int64_t c, std::span<const float> w, double s,
                              std::span<std::int8_t> q, double b, std::int32_t& bq, float sb, bool bias, int passes,
                              int levels) {
  const std::int64_t k = static_cast<std::int64_t>(w.size());
  const std::int64_t k1 = k + 1;
  const double* u = st.u(c);
  std::vector<double> d(static_cast<std::size_t>(k1)), g(u, u + k1);
  std::vector<std::int8_t> lo(static_cast<std::size_t>(k)), hi(static_cast<std::size_t>(k));
  const std::vector<std::int8_t> q0(q.begin(), q.end());
  const std::int32_t bq0 = bq;
  for (std::int64_t j = 0; j < k; ++j) {
    const auto J = static_cast<std::size_t>(j);
    const double r = double{w[J]} / s;
    lo[J] = static_cast<std::int8_t>(std::clamp(std::floor(r), -double(levels), double(levels)));
    hi[J] = static_cast<std::int8_t>(std::clamp(std::ceil(r), -double(levels), double(levels)));
    d[J] = s * q[J] - double{w[J]};
  }
  const auto bias_value = [&](std::int32_t v) { return double{sb} * v; };
  d[static_cast<std::size_t>(k)] = bias_value(bq) - b;
  auto axpy = [&](double a, std::int64_t row) {
    const double* gr = st.g_row(row);
    for (std::int64_t i = 0; i < k1; ++i) g[static_cast<std::size_t>(i)] += a * gr[i];
  };
  for (std::int64_t j = 0; j < k1; ++j)
    if (d[static_cast<std::size_t>(j)] != 0) axpy(d[static_cast<std::size_t>(j)], j);
  auto objective = [&] {
    double f = st.ee(c);
    for (std::int64_t j = 0; j < k1; ++j) f += d[static_cast<std::size_t>(j)] * (g[static_cast<std::size_t>(j)] + u[j]);
    return f;
  };
  ChannelFit r;
  r.before = objective();
  const double gbb = st.g_row(k)[k];
  auto bias_step = [&] {
    if (!bias || !(gbb > 0)) return;
    const double t = -g[static_cast<std::size_t>(k)] / gbb;
    d[static_cast<std::size_t>(k)] += t;
    axpy(t, k);
  };
  bias_step();
  for (int pass = 0; pass < passes; ++pass) {
    std::int64_t flips = 0;
    for (std::int64_t j = 0; j < k; ++j) {
      const auto J = static_cast<std::size_t>(j);
      const std::int8_t alt = q[J] == lo[J] ? hi[J] : q[J] == hi[J] ? lo[J] : q[J];
      if (alt == q[J]) continue;
      const double delta = s * (alt - q[J]);
      const double* gj = st.g_row(j);
      double change = 2 * delta * g[J] + delta * delta * gj[j];
      if (bias && gbb > 0) {
        // The flip is judged with the bias re-minimised after it, as it will be: a flip whose effect
        // is mostly a constant shift of the output is then not penalised for what the bias absorbs.
        const double gb = g[static_cast<std::size_t>(k)];
        change += (gb * gb - (gb + delta * gj[k]) * (gb + delta * gj[k])) / gbb;
      }
      if (change < 0) {
        q[J] = alt;
        d[J] += delta;
        axpy(delta, j);
        bias_step();
        ++flips;
      }
    }
    bias_step();
    r.flips += flips;
    if (flips == 0) break;
  }
  if (bias) {  // the int32 bias the layer will hold, as quantize_bias rounds it
    const double want = b + d[static_cast<std::size_t>(k)];
    const float v = static_cast<float>(want);
    const double rq = round_half_even(double{v} / double{sb});
    bq = static_cast<std::int32_t>(std::clamp(rq, -2147483648.0, 2147483647.0));
    const double t = bias_value(bq) - b - d[static_cast<std::size_t>(k)];
    d[static_cast<std::size_t>(k)] += t;
    axpy(t, k);
  }
  r.after = objective();
  if (!(r.after < r.before)) {
    std::copy(q0.begin(), q0.end(), q.begin());
    bq = bq0;
    r.after = r.before;
    r.flips = 0;
    r.kept = true;
  } else {
    r.flips = 0;
    for (std::size_t j = 0; j < q.size(); ++j) r.flips += q[j] != q0[j];
  }
  return r;
}

}  // namespace detail

inline std::vector<FinetuneLayerResult> finetune(const Graph& float_graph, Graph& qdq_graph, CalibrationReader& reader,
                                                 const QuantConfig& cfg, int threads, std::vector<std::string>& log) {
  const FinetuneOptions& opt = cfg.finetune_options;
  const std::int64_t samples = std::min(opt.samples, reader.samples());
  std::vector<FinetuneLayerResult> results;
  std::vector<QdqLayer> layers = qdq_layers(float_graph, qdq_graph, "finetune", log);
  for (std::size_t li = 0; li < layers.size(); ++li) {
    QdqLayer& L = layers[li];
    with_context("finetune of '" + L.name + "'", [&] {
      const Session taps = tap_session(qdq_graph, {L.input}, true, threads);
      const Session ftaps = tap_session(float_graph, {L.float_output}, false, threads);
      const bool has_bias_input = L.can_have_bias();
      const Session layer =
          layer_session(single_layer_graph(L, L.weight, has_bias_input ? &L.bias : nullptr, float_graph.opsets));
      std::mt19937_64 rng(opt.seed ^ (0x9E3779B97F4A7C15ull * (li + 1)));
      std::vector<detail::RowStats> stats;
      std::optional<detail::LayerRows> shape0;
      RunContext c1, c2, c3;
      std::vector<Tensor> xo, yo, zo;
      std::vector<std::int64_t> order;
      for_first_samples(reader, samples, [&](const std::vector<Tensor>& batch) {
        taps.run(c1, batch, xo);
        ftaps.run(c2, batch, yo);
        layer.run(c3, std::span<const Tensor>(&xo[0], 1), zo);
        check(yo[0].shape() == zo[0].shape(), "the float model's output ", yo[0].shape(),
              " and the layer's output on the quantized input ", zo[0].shape(), " differ in shape");
        const detail::LayerRows rows(L, xo[0].shape());
        if (stats.empty())
          for (std::int64_t g = 0; g < rows.groups(); ++g) stats.emplace_back(rows.k(), rows.m_per_group());
        check(stats[0].k1() == rows.k() + 1, "layer input patches changed size between batches");
        const std::int64_t per_sample =
            std::min(rows.positions(), (opt.rows + samples - 1) / samples);
        order.resize(static_cast<std::size_t>(rows.positions()));
        const float* x = xo[0].span<float>().data();
        const auto y = yo[0].span<float>();
        const auto z = zo[0].span<float>();
        for (std::int64_t i = 0; i < rows.samples(); ++i) {
          for (std::size_t p = 0; p < order.size(); ++p) order[p] = static_cast<std::int64_t>(p);
          for (std::int64_t j = 0; j < per_sample; ++j) {  // partial Fisher–Yates with the raw engine
            const auto left = static_cast<std::uint64_t>(rows.positions() - j);
            std::swap(order[static_cast<std::size_t>(j)], order[static_cast<std::size_t>(j + static_cast<std::int64_t>(rng() % left))]);
            const std::int64_t p = order[static_cast<std::size_t>(j)];
            for (std::int64_t g = 0; g < rows.groups(); ++g) {
              detail::RowStats& st = stats[static_cast<std::size_t>(g)];
              rows.patch(x, i, p, g, st.next_x());
              float* e = st.next_e();
              for (std::int64_t c = 0; c < rows.m_per_group(); ++c) {
                const std::size_t o = rows.out_index(i, p, g * rows.m_per_group() + c);
                e[c] = z[o] - y[o];
              }
              st.push();
            }
          }
        }
        if (!shape0) shape0.emplace(rows);
      });
      for (auto& st : stats) st.flush();
      const detail::LayerRows& rows = *shape0;

      // Solve channel by channel (independent, so threads split them without changing the result).
      Tensor q = quantized_weight(qdq_graph, L);
      std::vector<std::int32_t> bq(static_cast<std::size_t>(L.channels), 0);
      std::vector<float> sb(static_cast<std::size_t>(L.channels));
      for (std::int64_t c = 0; c < L.channels; ++c) {
        const auto C = static_cast<std::size_t>(c);
        sb[C] = L.input_scale * L.weight_scale(c);
        bq[C] = L.bias_q.empty() ? 0 : qdq_graph.constant(L.bias_q)->span<std::int32_t>()[C];
      }
      std::vector<detail::ChannelFit> fits(static_cast<std::size_t>(L.channels));
      const auto wv = L.weight.span<float>();
      auto qv = q.span<std::int8_t>();
      auto solve = [&](int, std::int64_t begin, std::int64_t end) {
        std::vector<float> w(static_cast<std::size_t>(rows.k()));
        std::vector<std::int8_t> qc(w.size());
        for (std::int64_t c = begin; c < end; ++c) {
          for (std::int64_t j = 0; j < rows.k(); ++j) {
            w[static_cast<std::size_t>(j)] = wv[rows.weight_index(c, j)];
            qc[static_cast<std::size_t>(j)] = qv[rows.weight_index(c, j)];
          }
          const auto C = static_cast<std::size_t>(c);
          fits[C] = detail::fit_channel(stats[static_cast<std::size_t>(c / rows.m_per_group())], c % rows.m_per_group(), w,
                                        double{L.weight_scale(c)}, qc, double{L.bias[C]}, bq[C], sb[C], has_bias_input,
                                        opt.passes, cfg.weight.symmetric_levels());
          for (std::int64_t j = 0; j < rows.k(); ++j) qv[rows.weight_index(c, j)] = qc[static_cast<std::size_t>(j)];
        }
      };
      if (threads > 1) {
        ThreadPool pool(threads);
        pool.parallel_for(L.channels, solve);
      } else {
        solve(0, 0, L.channels);
      }

      FinetuneLayerResult r;
      r.layer = L.name;
      r.rows = stats[0].rows();
      r.weights = L.weight.numel();
      std::int64_t bias_changed = 0;
      for (std::int64_t c = 0; c < L.channels; ++c) {
        const auto& f = fits[static_cast<std::size_t>(c)];
        r.before += f.before;
        r.after += f.after;
        r.flipped += f.flips;
        r.kept += f.kept;
      }
      const double n = static_cast<double>(r.rows) * static_cast<double>(L.channels);
      r.before /= n;
      r.after /= n;
      set_quantized_weight(qdq_graph, L, std::move(q));
      if (has_bias_input) {
        const std::vector<std::int32_t> old = L.bias_q.empty() ? std::vector<std::int32_t>(bq.size(), 0)
                                                               : std::vector<std::int32_t>(qdq_graph.constant(L.bias_q)->span<std::int32_t>().begin(),
                                                                                           qdq_graph.constant(L.bias_q)->span<std::int32_t>().end());
        for (std::size_t c = 0; c < bq.size(); ++c) bias_changed += bq[c] != old[c];
        if (bias_changed) set_quantized_bias(qdq_graph, L, bq);
      }
      log.push_back(qnn::detail::cat(
          "finetune: '", L.name, "' objective mean (Ŵx̂ + b̂ − y)² over ", r.rows, " rows from ", samples, " samples: ",
          r.before, " → ", r.after, " (", r.before > 0 ? 100.0 * (r.after - r.before) / r.before : 0.0, " %); ",
          r.flipped, " of ", r.weights, " weights rounded the other way, ", bias_changed, " of ", L.channels,
          " biases changed, ", r.kept, " channels kept as rounded"));
      results.push_back(r);
    });
  }
  return results;
}

}  // namespace qnn::quant
// ---- end qnn/quantize/finetune.hpp -----------------------------------------------------------------

namespace qnn::quant {

struct QuantizeOptions {
  int threads = 1;        // threads of the calibration session
  ProgressFn progress;    // called after every calibration batch
};

inline QuantizeResult quantize(const Graph& model, CalibrationReader& reader, const QuantConfig& cfg,
                               const QuantizeOptions& opt = {}) {
  const auto t0 = std::chrono::steady_clock::now();
  cfg.validate();
  check(cfg.integer(), "the bf16 configuration has no integer quantization; use quantize_bf16()");
  QuantizeResult r;
  Graph g = model;
  prepare_float_graph(g);
  if (cfg.cle) apply_cle(g, r.log);
  const Plan plan = plan_quantization(g, cfg);
  check(!plan.tensors.empty(), "nothing to quantize: the model has no operator qnn quantizes");
  std::set<std::string> roots;
  for (const auto& t : plan.tensors) roots.insert(plan.root(t));
  const CalibrationStats stats = collect_statistics(g, roots, reader, cfg, opt.threads, opt.progress);
  r.samples = stats.samples;
  const Histogram none;
  for (const auto& t : roots) {
    const auto h = stats.histograms.find(t);
    r.params[t] = with_context("tensor '" + t + "'", [&] {
      return calibrate_tensor(cfg.method, stats.ranges.at(t), h == stats.histograms.end() ? none : h->second,
                              cfg.activation, cfg.method_options);
    });
  }
  for (const auto& t : plan.tensors) r.params[t] = r.params.at(plan.root(t));
  if (cfg.preset == Preset::xint8) apply_xint8_rules(g, plan, cfg, r.params, r.log);
  r.graph = build_qdq(g, plan, r.params, cfg, r.log);
  if (cfg.finetune) finetune(g, r.graph, reader, cfg, opt.threads, r.log);
  if (cfg.bias_correction) correct_bias(g, r.graph, reader, cfg, opt.threads, r.log);
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return r;
}

}  // namespace qnn::quant
// ---- end qnn/quantize/quantize.hpp -----------------------------------------------------------------
// ---- begin qnn/quantize/report.hpp -----------------------------------------------------------------
// The per-layer error report: for every quantized activation, how far the quantized model's value
// (as qnn's integer kernels compute it) is from the float model's, on the same inputs.
//
//   SQNR    10·log10(Σ f² / Σ (f − q)²) in dB (higher is better; ~6 dB per bit)
//   cosine  Σ f·q / (‖f‖·‖q‖)
//   max LSB max |f − q| / scale: the worst element in units of the tensor's quantization step
// Errors accumulate along the network (each layer sees its predecessors' quantized outputs), which
// is what the model's accuracy feels; a layer where SQNR drops sharply is the one that hurts.
// As a table (format_report) and as JSON (report_json).

#include <cmath>
#include <cstdint>
#include <iomanip>
#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace qnn::quant {

struct LayerError {
  std::string tensor;  // the float tensor's name
  std::string op;      // the op producing it in the float graph
  float scale = 0;
  std::int32_t zero_point = 0;
  std::int64_t elements = 0;
  double sqnr_db = 0;
  double cosine = 0;
  double max_lsb = 0;
  double mean_abs = 0;
};

// Pairs each QuantizeLinear of a QDQ graph with the float tensor it quantizes.
struct QuantizedTensor {
  std::string float_name;  // in the float graph
  std::string q_name;      // the QuantizeLinear output in the QDQ graph
  float scale = 1;
  std::int32_t zero_point = 0;
};

inline std::vector<QuantizedTensor> quantized_tensors(const Graph& qdq, const Graph& fp) {
  std::vector<QuantizedTensor> out;
  for (const Node& n : qdq.nodes) {
    if (n.op_type != "QuantizeLinear" || !n.has_input(1)) continue;
    const Tensor* s = qdq.constant(n.inputs[1]);
    if (!s || s->numel() != 1) continue;
    QuantizedTensor q;
    q.q_name = n.outputs[0];
    q.float_name = n.inputs[0];
    // A quantized graph output is renamed "<name>_float" in the QDQ graph; the float graph has <name>.
    if (!fp.values.count(q.float_name) && q.float_name.size() > 6 &&
        q.float_name.compare(q.float_name.size() - 6, 6, "_float") == 0)
      q.float_name = q.float_name.substr(0, q.float_name.size() - 6);
    if (!fp.values.count(q.float_name)) continue;
    q.scale = s->span<float>()[0];
    const Tensor* z = n.has_input(2) ? qdq.constant(n.inputs[2]) : nullptr;
    if (z) visit_dtype(z->dtype(), [&](auto v) {
        using T = decltype(v);
        if constexpr (QuantStorage<T>) q.zero_point = z->span<T>()[0];
      });
    out.push_back(q);
  }
  return out;
}

// Runs both models on `inputs` and compares every quantized tensor.
inline std::vector<LayerError> layer_errors(const Graph& float_graph, const Graph& qdq_graph,
                                            std::span<const Tensor> inputs, int threads = 1) {
  Graph fp = float_graph;
  prepare_float_graph(fp);
  const auto qts = quantized_tensors(qdq_graph, fp);
  check(!qts.empty(), "the quantized model has no QuantizeLinear on a tensor of the float model");
  Graph fcopy = fp;
  Graph qcopy = qdq_graph;
  for (const auto& q : qts) {
    if (!fcopy.is_graph_output(q.float_name)) fcopy.outputs.push_back(q.float_name);
    if (!qcopy.is_graph_output(q.q_name)) qcopy.outputs.push_back(q.q_name);
  }
  SessionOptions so;
  so.threads = threads;
  so.probe = false;
  const Session fs(std::move(fcopy), so);
  const Session qs(std::move(qcopy), so);
  const auto fout = fs.run(inputs);
  const auto qout = qs.run(inputs);
  std::map<std::string, const Tensor*> fmap, qmap;
  for (std::size_t i = 0; i < fout.size(); ++i) fmap[fs.output_names()[i]] = &fout[i];
  for (std::size_t i = 0; i < qout.size(); ++i) qmap[qs.output_names()[i]] = &qout[i];
  std::vector<LayerError> rows;
  for (const auto& q : qts) {
    const Tensor& f = *fmap.at(q.float_name);
    const Tensor& qt = *qmap.at(q.q_name);
    check(f.numel() == qt.numel(), "tensor '", q.float_name, "' has ", f.numel(), " elements in the float model and ",
          qt.numel(), " in the quantized one");
    LayerError e;
    e.tensor = q.float_name;
    const int p = fp.producer(q.float_name);
    e.op = p >= 0 ? fp.nodes[static_cast<std::size_t>(p)].op_type : "input";
    e.scale = q.scale;
    e.zero_point = q.zero_point;
    e.elements = f.numel();
    double sig = 0, noise = 0, dot = 0, qq = 0, maxd = 0, sumd = 0;
    const auto fv = f.span<float>();
    visit_dtype(qt.dtype(), [&](auto v) {
      using T = decltype(v);
      if constexpr (QuantStorage<T>) {
        const auto qv = qt.span<T>();
        for (std::size_t i = 0; i < fv.size(); ++i) {
          const double a = fv[i];
          const double b = dequantize_value(qv[i], q.scale, q.zero_point);
          sig += a * a;
          noise += (a - b) * (a - b);
          dot += a * b;
          qq += b * b;
          maxd = std::max(maxd, std::fabs(a - b));
          sumd += std::fabs(a - b);
        }
      } else {
        fail("tensor '", q.q_name, "' is ", qt.dtype(), ", not a quantized type");
      }
    });
    e.sqnr_db = noise > 0 ? 10 * std::log10(sig / noise) : std::numeric_limits<double>::infinity();
    e.cosine = sig > 0 && qq > 0 ? dot / std::sqrt(sig * qq) : 1.0;
    e.max_lsb = maxd / q.scale;
    e.mean_abs = fv.empty() ? 0 : sumd / double(fv.size());
    rows.push_back(e);
  }
  return rows;
}

inline std::string format_report(const std::vector<LayerError>& rows) {
  std::ostringstream os;
  os << std::left << std::setw(34) << "tensor" << std::setw(14) << "op" << std::right << std::setw(11) << "SQNR (dB)"
     << std::setw(10) << "cosine" << std::setw(10) << "max LSB" << std::setw(12) << "mean |err|" << std::setw(12)
     << "scale" << "\n";
  for (const auto& r : rows) {
    const std::string t = r.tensor.size() > 33 ? "…" + r.tensor.substr(r.tensor.size() - 32) : r.tensor;
    os << std::left << std::setw(34) << t << std::setw(14) << r.op << std::right << std::fixed << std::setprecision(2)
       << std::setw(11) << r.sqnr_db << std::setprecision(5) << std::setw(10) << r.cosine << std::setprecision(2)
       << std::setw(10) << r.max_lsb << std::scientific << std::setprecision(2) << std::setw(12) << r.mean_abs
       << std::setw(12) << r.scale << std::defaultfloat << "\n";
  }
  return os.str();
}

inline json::Value report_json(const std::vector<LayerError>& rows) {
  json::Value arr = json::Value::array();
  for (const auto& r : rows)
    arr.push(json::Value::object()
                 .set("tensor", r.tensor)
                 .set("op", r.op)
                 .set("scale", r.scale)
                 .set("zero_point", r.zero_point)
                 .set("elements", r.elements)
                 .set("sqnr_db", r.sqnr_db)
                 .set("cosine", r.cosine)
                 .set("max_lsb", r.max_lsb)
                 .set("mean_abs_error", r.mean_abs));
  return arr;
}

}  // namespace qnn::quant
// ---- end qnn/quantize/report.hpp -------------------------------------------------------------------

// ---- begin qnn/io/json_read.hpp --------------------------------------------------------------------
// A small JSON reader (RFC 8259) for the files qnn is given: the XRT artefact manifest, and any
// other configuration a user writes by hand. json.hpp is the writer; this is the reader.
//
// Every parsed value remembers where it was found (the source name and a path such as
// `artefacts[1].shape.K`), so a wrong type or a missing key fails with a message that names the
// file and the exact field. Syntax errors name the line and column. Integers are kept exactly
// (int64, not via double); nesting deeper than kMaxDepth is rejected instead of overflowing the
// stack; duplicate keys in an object are an error, not "last one wins".

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <initializer_list>
#include <limits>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace qnn::json {

class Node {
 public:
  enum class Kind : std::uint8_t { null, boolean, number, string, array, object };

  Kind kind() const { return kind_; }
  // "<source>: <path>", e.g. "manifest.json: artefacts[0].shape.M"; the root's path is "(root)".
  std::string where() const { return source_ + ": " + (path_.empty() ? std::string("(root)") : path_); }

  bool is_null() const { return kind_ == Kind::null; }
  bool is_object() const { return kind_ == Kind::object; }
  bool is_array() const { return kind_ == Kind::array; }
  bool is_string() const { return kind_ == Kind::string; }

  bool as_bool() const {
    expect(Kind::boolean);
    return bool_;
  }
  double as_number() const {
    expect(Kind::number);
    return number_;
  }
  // An integer literal (no fraction or exponent) within [lo, hi].
  std::int64_t as_int(std::int64_t lo = std::numeric_limits<std::int64_t>::min(),
                      std::int64_t hi = std::numeric_limits<std::int64_t>::max()) const {
    expect(Kind::number);
    check(integral_, where(), ": expected an integer, got ", text_);
    check(int_ >= lo && int_ <= hi, where(), ": ", int_, " is outside [", lo, ", ", hi, "]");
    return int_;
  }
  const std::string& as_string() const {
    expect(Kind::string);
    return text_;
  }
  const std::vector<Node>& items() const {
    expect(Kind::array);
    return items_;
  }

  // Object access. Members keep the order of the file.
  const std::vector<std::pair<std::string, Node>>& members() const {
    expect(Kind::object);
    return members_;
  }
  const Node* find(std::string_view key) const {
    expect(Kind::object);
    for (const auto& [k, v] : members_)
      if (k == key) return &v;
    return nullptr;
  }
  const Node& at(std::string_view key) const {
    const Node* n = find(key);
    check(n != nullptr, where(), ": missing key \"", key, "\"");
    return *n;
  }
  // Fails on a key outside `allowed`: a misspelt optional field must not be silently ignored.
  void check_keys(std::initializer_list<std::string_view> allowed) const {
    for (const auto& [k, v] : members()) {
      bool ok = false;
      for (std::string_view a : allowed) ok = ok || a == k;
      if (!ok) {
        std::string list;
        for (std::string_view a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
        fail(where(), ": unknown key \"", k, "\" (expected one of: ", list, ")");
      }
    }
  }

  static std::string_view kind_name(Kind k) {
    switch (k) {
      case Kind::null: return "null";
      case Kind::boolean: return "a boolean";
      case Kind::number: return "a number";
      case Kind::string: return "a string";
      case Kind::array: return "an array";
      case Kind::object: return "an object";
    }
    return "?";
  }

 private:
  friend class Parser;
  void expect(Kind k) const {
    check(kind_ == k, where(), ": expected ", kind_name(k), ", got ", kind_name(kind_));
  }

  Kind kind_ = Kind::null;
  bool bool_ = false;
  bool integral_ = false;
  double number_ = 0;
  std::int64_t int_ = 0;
  std::string text_;  // string value, or the literal of a number
  std::vector<Node> items_;
  std::vector<std::pair<std::string, Node>> members_;
  std::string source_;
  std::string path_;
};

class Parser {
 public:
  static constexpr int kMaxDepth = 256;

  Parser(std::string_view text, std::string source) : s_(text), source_(std::move(source)) {}

  Node parse_document() {
    skip_ws();
    Node n = parse_value("", 0);
    skip_ws();
    if (pos_ != s_.size()) error("unexpected text after the JSON value");
    return n;
  }

 private:
  [[noreturn]] void error(std::string_view what) const {
    std::size_t line = 1, col = 1;
    for (std::size_t i = 0; i < pos_ && i < s_.size(); ++i) {
      if (s_[i] == '\n') {
        ++line;
        col = 1;
      } else {
        ++col;
      }
    }
    fail(source_, ":", line, ":", col, ": ", what);
  }

  void skip_ws() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r')) ++pos_;
  }
  bool eat(char c) {
    if (pos_ < s_.size() && s_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  bool eat_word(std::string_view w) {
    if (s_.substr(pos_, w.size()) != w) return false;
    pos_ += w.size();
    return true;
  }

  Node make(Node::Kind k, const std::string& path) const {
    Node n;
    n.kind_ = k;
    n.source_ = source_;
    n.path_ = path;
    return n;
  }

  Node parse_value(const std::string& path, int depth) {
    if (depth > kMaxDepth) error("nesting deeper than 256 levels");
    if (pos_ >= s_.size()) error("unexpected end of input, expected a value");
    const char c = s_[pos_];
    if (c == '{') return parse_object(path, depth);
    if (c == '[') return parse_array(path, depth);
    if (c == '"') {
      Node n = make(Node::Kind::string, path);
      n.text_ = parse_string();
      return n;
    }
    if (c == '-' || (c >= '0' && c <= '9')) return parse_number(path);
    if (eat_word("true") || eat_word("false")) {
      Node n = make(Node::Kind::boolean, path);
      n.bool_ = c == 't';
      return n;
    }
    if (eat_word("null")) return make(Node::Kind::null, path);
    error(std::string("unexpected character '") + c + "', expected a value");
  }

  Node parse_object(const std::string& path, int depth) {
    Node n = make(Node::Kind::object, path);
    ++pos_;  // '{'
    skip_ws();
    if (eat('}')) return n;
    while (true) {
      skip_ws();
      if (pos_ >= s_.size() || s_[pos_] != '"') error("expected a string key in object");
      const std::size_t key_pos = pos_;
      std::string key = parse_string();
      for (const auto& [k, v] : n.members_) {
        if (k != key) continue;
        pos_ = key_pos;
        error("duplicate key \"" + key + "\"");
      }
      skip_ws();
      if (!eat(':')) error("expected ':' after an object key");
      skip_ws();
      const std::string child = path.empty() ? key : path + "." + key;
      Node v = parse_value(child, depth + 1);
      n.members_.emplace_back(std::move(key), std::move(v));
      skip_ws();
      if (eat('}')) return n;
      if (!eat(',')) error("expected ',' or '}' in object");
    }
  }

  Node parse_array(const std::string& path, int depth) {
    Node n = make(Node::Kind::array, path);
    ++pos_;  // '['
    skip_ws();
    if (eat(']')) return n;
    while (true) {
      skip_ws();
      n.items_.push_back(parse_value(path + "[" + std::to_string(n.items_.size()) + "]", depth + 1));
      skip_ws();
      if (eat(']')) return n;
      if (!eat(',')) error("expected ',' or ']' in array");
    }
  }

  Node parse_number(const std::string& path) {
    const std::size_t start = pos_;
    eat('-');
    if (eat('0')) {
      // a leading zero stands alone
    } else if (pos_ < s_.size() && s_[pos_] >= '1' && s_[pos_] <= '9') {
      while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') ++pos_;
    } else {
      error("malformed number");
    }
    bool integral = true;
    if (eat('.')) {
      integral = false;
      if (!digits()) error("malformed number: digits expected after '.'");
    }
    if (pos_ < s_.size() && (s_[pos_] == 'e' || s_[pos_] == 'E')) {
      integral = false;
      ++pos_;
      if (!eat('+')) eat('-');
      if (!digits()) error("malformed number: digits expected in the exponent");
    }
    Node n = make(Node::Kind::number, path);
    n.text_ = std::string(s_.substr(start, pos_ - start));
    n.number_ = std::strtod(n.text_.c_str(), nullptr);
    if (integral) {
      errno = 0;
      const long long v = std::strtoll(n.text_.c_str(), nullptr, 10);
      n.integral_ = errno == 0;  // out-of-range integers stay numbers, but as_int() refuses them
      n.int_ = v;
    }
    return n;
  }
  bool digits() {
    const std::size_t start = pos_;
    while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') ++pos_;
    return pos_ > start;
  }

  std::string parse_string() {
    ++pos_;  // opening quote
    std::string out;
    while (true) {
      if (pos_ >= s_.size()) error("unterminated string");
      const auto c = static_cast<unsigned char>(s_[pos_++]);
      if (c == '"') return out;
      if (c < 0x20) error("control character in string (escape it)");
      if (c != '\\') {
        out.push_back(static_cast<char>(c));
        continue;
      }
      if (pos_ >= s_.size()) error("unterminated escape");
      const char e = s_[pos_++];
      switch (e) {
        case '"': out.push_back('"'); break;
        case '\\': out.push_back('\\'); break;
        case '/': out.push_back('/'); break;
        case 'b': out.push_back('\b'); break;
        case 'f': out.push_back('\f'); break;
        case 'n': out.push_back('\n'); break;
        case 'r': out.push_back('\r'); break;
        case 't': out.push_back('\t'); break;
        case 'u': append_utf8(out, code_point()); break;
        default: error(std::string("invalid escape '\\") + e + "'");
      }
    }
  }
  std::uint32_t hex4() {
    if (pos_ + 4 > s_.size()) error("truncated \\u escape");
    std::uint32_t v = 0;
    for (int i = 0; i < 4; ++i) {
      const char h = s_[pos_++];
      v <<= 4;
      if (h >= '0' && h <= '9') v |= static_cast<std::uint32_t>(h - '0');
      else if (h >= 'a' && h <= 'f') v |= static_cast<std::uint32_t>(h - 'a' + 10);
      else if (h >= 'A' && h <= 'F') v |= static_cast<std::uint32_t>(h - 'A' + 10);
      else error("invalid hex digit in \\u escape");
    }
    return v;
  }
  // A \uXXXX escape, joining a UTF-16 surrogate pair into one code point.
  std::uint32_t code_point() {
    const std::uint32_t hi = hex4();
    if (hi >= 0xDC00 && hi <= 0xDFFF) error("unpaired low surrogate in \\u escape");
    if (hi < 0xD800 || hi > 0xDBFF) return hi;
    if (!eat_word("\\u")) error("unpaired high surrogate in \\u escape");
    const std::uint32_t lo = hex4();
    if (lo < 0xDC00 || lo > 0xDFFF) error("invalid low surrogate in \\u escape");
    return 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
  }
  static void append_utf8(std::string& out, std::uint32_t cp) {
    if (cp < 0x80) {
      out.push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
      out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
      out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
      out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
  }

  std::string_view s_;
  std::string source_;
  std::size_t pos_ = 0;
};

// Parses one JSON document; `source` names it in error messages (a file name, "manifest", ...).
inline Node parse(std::string_view text, std::string source = "json") {
  return Parser(text, std::move(source)).parse_document();
}

}  // namespace qnn::json
// ---- end qnn/io/json_read.hpp ----------------------------------------------------------------------
// ---- begin qnn/io/npy.hpp --------------------------------------------------------------------------
// NumPy .npy files: read and write qnn::Tensor.
//
// Format (numpy.lib.format): the magic "\x93NUMPY", a major and minor version byte (1.0, 2.0 and
// 3.0 are read; 1.0 is written), the header length (2 bytes little-endian in 1.0, 4 bytes in 2.0
// and 3.0), then the header: a Python dict literal such as
//     {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
// padded with spaces and a final '\n', then the raw elements in C order.
//
// What is read: the dtypes '<f4' '|u1' '|i1' '<i2' '<u2' '<i4' '<i8' '|b1', each to the qnn DType
// of the same width and signedness. load_npy/parse_npy return exactly the stored dtype and never
// convert. '<f8' is refused there; load_npy_as_f32/parse_npy_as_f32 are the one explicit way to
// read float64 data, rounding each value to the nearest float (values beyond the float range
// become ±inf, as numpy's astype(np.float32) does) — for calibration sets or reference outputs
// that were saved as float64 by accident.
//
// What is refused, each with a qnn::error that names the file and says what is wrong: Fortran
// order, big-endian or structured dtypes, any other dtype, unknown/missing/duplicate header keys, a
// data section shorter or longer than the shape says, bool bytes other than 0 and 1. The header is
// parsed as a dict literal (any key order, any spacing, trailing commas, shapes "()" and "(5,)"),
// not by matching a fixed layout. The element count is checked against the bytes actually present
// before anything is allocated, so a hostile header cannot request a huge buffer.
//
// Writing produces version 1.0 with the header padded so that the data starts at a multiple of 64
// bytes, as numpy does; save_npy writes to a temporary file and renames it (io/file.hpp), so an error never leaves a
// partial file. A tensor's quantization parameters are not stored: .npy holds values only.

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace qnn::io {

static_assert(std::endian::native == std::endian::little,
              "qnn's .npy reader and writer copy little-endian data as is");

namespace detail {

inline constexpr std::string_view kNpyMagic = "\x93NUMPY";

// The stored element type of an .npy file.
struct NpyType {
  std::string_view code;  // descr without the byte-order character
  DType dtype;            // the tensor dtype it loads as
  std::size_t item_size;  // bytes per stored element
  bool float64;           // '<f8': only the _as_f32 readers accept it
};
inline constexpr NpyType kNpyTypes[] = {
    {"f4", DType::f32, 4, false}, {"f8", DType::f32, 8, true},   {"u1", DType::u8, 1, false},
    {"i1", DType::i8, 1, false},  {"i2", DType::i16, 2, false},  {"u2", DType::u16, 2, false},
    {"i4", DType::i32, 4, false}, {"i8", DType::i64, 8, false},  {"b1", DType::boolean, 1, false},
};

struct NpyHeader {
  NpyType type{};
  Shape shape;
  std::size_t data_offset = 0;  // preamble + header
  std::size_t data_bytes = 0;   // shape product × item size, checked against the input
};

// Parses the header dict. Grammar (a subset of Python literals, all numpy has ever written):
//   dict  := '{' [ key ':' value { ',' key ':' value } [','] ] '}'
//   key   := string;  value := string | 'True' | 'False' | tuple
//   tuple := '(' ')' | '(' int ',' ')' | '(' int { ',' int } [','] ')'
//   int   := digits ['L']            (the 'L' of Python 2 longs)
class NpyDictParser {
 public:
  NpyDictParser(std::string_view text, std::string_view what) : text_(text), what_(what) {}

  NpyHeader parse() {
    NpyHeader h;
    bool have_descr = false, have_order = false, have_shape = false;
    expect('{');
    while (true) {
      skip_space();
      if (peek() == '}') break;
      const std::string_view key = string_literal("a key");
      skip_space();
      expect(':');
      skip_space();
      if (key == "descr") {
        check_once(have_descr, key);
        h.type = descr();
      } else if (key == "fortran_order") {
        check_once(have_order, key);
        const std::size_t at = pos_;
        if (word("True")) {
          pos_ = at;
          error("fortran_order is True: Fortran-ordered (column-major) arrays are not supported; "
                "save np.ascontiguousarray(a) instead");
        }
        if (!word("False")) error("fortran_order must be True or False");
      } else if (key == "shape") {
        check_once(have_shape, key);
        h.shape = shape();
      } else {
        error("unknown header key '", key, "' (expected descr, fortran_order and shape)");
      }
      skip_space();
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      if (peek() != '}') error("expected ',' or '}' after the value of '", key, "'");
    }
    ++pos_;
    skip_space();
    if (pos_ != text_.size()) error("unexpected text after the closing '}'");
    if (!have_descr || !have_order || !have_shape) {
      fail(what_, ": .npy header lacks the key '",
           !have_descr ? "descr" : !have_order ? "fortran_order" : "shape", "' (header ",
           quoted_header(), ")");
    }
    return h;
  }

 private:
  template <class... Args>
  [[noreturn]] void error(const Args&... args) const {
    fail(what_, ": .npy header: ", args..., " (at character ", pos_, " of the header ",
         quoted_header(), ")");
  }
  // The header as it was, shortened and with control bytes escaped, for messages.
  std::string quoted_header() const {
    std::string s = "\"";
    for (char c : text_.substr(0, 160)) {
      if (c >= 0x20 && c < 0x7F) {
        s += c;
      } else {
        constexpr std::string_view kHex = "0123456789abcdef";
        s += qnn::detail::cat("\\x", kHex[static_cast<std::size_t>((c >> 4) & 0xF)],
                              kHex[static_cast<std::size_t>(c & 0xF)]);
      }
    }
    return s + (text_.size() > 160 ? "...\"" : "\"");
  }

  char peek() const { return pos_ < text_.size() ? text_[pos_] : '\0'; }
  void skip_space() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\t' ||
                                   text_[pos_] == '\n' || text_[pos_] == '\r')) {
      ++pos_;
    }
  }
  void expect(char c) {
    skip_space();
    if (peek() != c) error("expected '", c, "'");
    ++pos_;
  }
  bool word(std::string_view w) {
    if (text_.substr(pos_, w.size()) != w) return false;
    pos_ += w.size();
    return true;
  }
  void check_once(bool& seen, std::string_view key) {
    if (seen) error("duplicate key '", key, "'");
    seen = true;
  }

  std::string_view string_literal(const char* what) {
    const char quote = peek();
    if (quote != '\'' && quote != '"') error("expected ", what, " as a quoted string");
    const std::size_t start = ++pos_;
    while (pos_ < text_.size() && text_[pos_] != quote) {
      if (text_[pos_] == '\\') error("escape sequences are not supported in header strings");
      ++pos_;
    }
    if (pos_ >= text_.size()) error("unterminated string");
    return text_.substr(start, pos_++ - start);
  }

  NpyType descr() {
    if (peek() == '[') {
      error("structured dtypes (a list as 'descr') are not supported; save a plain array");
    }
    const std::size_t at = pos_;
    const std::string_view d = string_literal("'descr'");
    std::string_view code = d;
    char order = '\0';
    if (!code.empty() && std::string_view("<>|=").find(code[0]) != std::string_view::npos) {
      order = code[0];
      code.remove_prefix(1);
    }
    const std::size_t end = pos_;
    pos_ = at;  // errors point at the descr string
    for (const NpyType& t : kNpyTypes) {
      if (t.code != code) continue;
      if (t.item_size > 1 && order == '>') {
        error("big-endian dtype '", d, "' is not supported; save a.astype('<", code, "')");
      }
      if (t.item_size > 1 && order != '<') {
        error("dtype '", d, "' does not state little-endian byte order ('<", code, "')");
      }
      pos_ = end;
      return t;
    }
    error("dtype '", d, "' is not supported (supported: <f4 |u1 |i1 <i2 <u2 <i4 <i8 |b1, and <f8 "
          "through load_npy_as_f32)");
  }

  Shape shape() {
    if (peek() != '(') error("shape must be a tuple such as (2, 3), (5,) or ()");
    ++pos_;
    Shape s;
    int count = 0;
    bool trailing_comma = false;
    while (true) {
      skip_space();
      if (peek() == ')') break;
      if (count > 0 && !trailing_comma) error("expected ',' or ')' in the shape");
      if (count == Shape::kMaxRank) error("shape has more than ", Shape::kMaxRank, " dimensions");
      s.push_back(integer());
      ++count;
      skip_space();
      trailing_comma = peek() == ',';
      if (trailing_comma) ++pos_;
    }
    if (count == 1 && !trailing_comma) error("shape (n) is an int, not a tuple; write (n,)");
    ++pos_;
    return s;
  }

  std::int64_t integer() {
    if (peek() < '0' || peek() > '9') error("expected a non-negative integer dimension");
    std::int64_t v = 0;
    while (peek() >= '0' && peek() <= '9') {
      const int digit = peek() - '0';
      if (v > (std::numeric_limits<std::int64_t>::max() - digit) / 10) {
        error("dimension does not fit in 64 bits");
      }
      v = v * 10 + digit;
      ++pos_;
    }
    if (peek() == 'L') ++pos_;
    return v;
  }

  std::string_view text_;
  std::string_view what_;
  std::size_t pos_ = 0;
};

// Reads the preamble (the first 10 or 12 bytes: magic, version, header length) and returns the
// offset where the data starts. `file_size` bounds the header length before anything is read.
inline std::size_t npy_data_offset(std::span<const std::byte> preamble, std::uint64_t file_size,
                                   std::string_view what) {
  const auto at = [&](std::size_t i) { return static_cast<std::uint32_t>(preamble[i]); };
  check(preamble.size() >= 10 &&
            std::memcmp(preamble.data(), kNpyMagic.data(), kNpyMagic.size()) == 0,
        what, ": not an .npy file (", file_size, " bytes, no \\x93NUMPY magic at the start)");
  const std::uint32_t major = at(6), minor = at(7);
  check((major == 1 || major == 2 || major == 3) && minor == 0, what, ": .npy format version ",
        major, ".", minor, " is not supported (1.0, 2.0 and 3.0 are)");
  const std::size_t len_bytes = major == 1 ? 2 : 4;
  check(preamble.size() >= 8 + len_bytes, what, ": truncated .npy preamble (", file_size,
        " bytes)");
  std::uint64_t header_len = 0;
  for (std::size_t i = len_bytes; i-- > 0;) header_len = header_len << 8 | at(8 + i);
  const std::uint64_t offset = 8 + len_bytes + header_len;
  check(offset <= file_size, what, ": truncated .npy header: it declares ", header_len,
        " bytes, the file has ", file_size, " bytes in all");
  return static_cast<std::size_t>(offset);
}

// Parses preamble + header (`head`, exactly data_offset bytes) and checks that `file_size` holds
// exactly the data the shape needs.
inline NpyHeader parse_npy_header(std::span<const std::byte> head, std::uint64_t file_size,
                                  std::string_view what) {
  const std::size_t offset = npy_data_offset(head, file_size, what);
  const std::size_t start = head[6] == std::byte{1} ? 10 : 12;
  const std::string_view text(reinterpret_cast<const char*>(head.data()) + start, offset - start);
  NpyHeader h = NpyDictParser(text, what).parse();
  h.data_offset = offset;
  const std::int64_t numel = with_context(std::string(what), [&] { return h.shape.numel(); });
  const std::uint64_t available = file_size - offset;
  const std::uint64_t item = h.type.item_size;
  // Compared as counts first, so numel × item_size cannot overflow.
  if (static_cast<std::uint64_t>(numel) > available / item) {
    const auto count = static_cast<std::uint64_t>(numel);
    fail(what, ": .npy data is too short: shape ", h.shape, " of '", h.type.code, "' needs ",
         count <= std::numeric_limits<std::uint64_t>::max() / item
             ? qnn::detail::cat(count * item, " bytes")
             : qnn::detail::cat(count, " elements of ", item, " bytes"),
         ", the file has ", available, " bytes after the ", offset, "-byte header");
  }
  const std::uint64_t needed = static_cast<std::uint64_t>(numel) * item;
  check(needed == available, what, ": .npy file has ", available - needed,
        " trailing bytes after the ", needed, " data bytes of shape ", h.shape);
  h.data_bytes = static_cast<std::size_t>(needed);
  return h;
}

// Rounds to nearest like IEEE conversion (numpy's astype), without the undefined behaviour of
// casting a double beyond the float range: from halfway between FLT_MAX and 2^128 on, ±inf.
inline float f64_to_f32(double v) {
  constexpr double kMax = std::numeric_limits<float>::max();
  constexpr double kRoundsToInf = 0x1.ffffffp127;  // 2^128 - 2^103
  if (std::isnan(v)) return std::numeric_limits<float>::quiet_NaN();
  if (std::fabs(v) >= kRoundsToInf) {
    return v > 0 ? std::numeric_limits<float>::infinity() : -std::numeric_limits<float>::infinity();
  }
  return static_cast<float>(std::clamp(v, -kMax, kMax));
}

// Builds the tensor from the data, which `read(dst, offset)` copies out of the source.
template <class Read>
Tensor npy_tensor(const NpyHeader& h, bool allow_f64, Read&& read, std::string_view what) {
  if (h.type.float64 && !allow_f64) {
    fail(what, ": .npy dtype '<f8' (float64) is not read as is; use load_npy_as_f32 to convert "
               "to float32 explicitly");
  }
  Tensor t(h.type.dtype, h.shape);
  if (!h.type.float64) {
    read(std::span<std::byte>(t.raw(), h.data_bytes), std::size_t{0});
  } else {
    // float64 -> float32 in chunks, never holding the float64 data whole.
    const std::span<float> dst = t.span<float>();
    std::vector<double> chunk(std::min<std::size_t>(dst.size(), 1 << 16));
    for (std::size_t i = 0; i < dst.size(); i += chunk.size()) {
      const std::size_t n = std::min(chunk.size(), dst.size() - i);
      read(std::as_writable_bytes(std::span<double>(chunk).first(n)), i * sizeof(double));
      for (std::size_t k = 0; k < n; ++k) dst[i + k] = f64_to_f32(chunk[k]);
    }
  }
  if (h.type.dtype == DType::boolean) {
    const std::span<const std::byte> bytes(t.raw(), t.bytes());
    for (std::size_t i = 0; i < bytes.size(); ++i) {
      check(bytes[i] == std::byte{0} || bytes[i] == std::byte{1}, what, ": .npy bool element ", i,
            " has byte value ", static_cast<int>(bytes[i]), " (must be 0 or 1)");
    }
  }
  return t;
}

inline Tensor parse_npy_impl(std::span<const std::byte> bytes, std::string_view what,
                             bool allow_f64) {
  const std::size_t offset = npy_data_offset(bytes, bytes.size(), what);
  const NpyHeader h = parse_npy_header(bytes.first(offset), bytes.size(), what);
  return npy_tensor(h, allow_f64,
                    [&](std::span<std::byte> dst, std::size_t at) {
                      if (dst.empty()) return;
                      std::memcpy(dst.data(), bytes.data() + offset + at, dst.size());
                    },
                    what);
}

inline Tensor load_npy_impl(const std::filesystem::path& path, bool allow_f64) {
  const std::string what = file_context(path);
  const std::uintmax_t size = file_size_checked(path);
  std::ifstream in(path, std::ios::binary);
  check(in.good(), what, ": cannot open for reading");
  // Header first: its claims are checked against the file size before the data is allocated.
  std::vector<std::byte> head(static_cast<std::size_t>(std::min<std::uintmax_t>(size, 12)));
  read_exact(in, head, path);
  const std::size_t offset = npy_data_offset(head, size, what);
  const std::size_t have = head.size();
  head.resize(offset);
  if (offset > have) read_exact(in, std::span<std::byte>(head).subspan(have), path);
  in.seekg(static_cast<std::streamoff>(offset));
  const NpyHeader h = parse_npy_header(head, size, what);
  const auto read = [&](std::span<std::byte> dst, std::size_t) { read_exact(in, dst, path); };
  return npy_tensor(h, allow_f64, read, what);
}

inline std::string_view npy_descr(DType t) {
  switch (t) {
    case DType::f32: return "<f4";
    case DType::u8: return "|u1";
    case DType::i8: return "|i1";
    case DType::i16: return "<i2";
    case DType::u16: return "<u2";
    case DType::i32: return "<i4";
    case DType::i64: return "<i8";
    case DType::boolean: return "|b1";
    case DType::bf16: break;
  }
  fail("NumPy has no ", t, " dtype; convert the tensor to float32 before saving it as .npy");
}

}  // namespace detail

// Parses .npy bytes; `what` names the source in error messages (a file name, "weights of conv1").
inline Tensor parse_npy(std::span<const std::byte> bytes, std::string_view what) {
  return detail::parse_npy_impl(bytes, what, false);
}

// Reads an .npy file; the tensor has exactly the stored dtype.
inline Tensor load_npy(const std::filesystem::path& path) {
  return detail::load_npy_impl(path, false);
}

// As parse_npy/load_npy, but also reads '<f8' data, rounded to float32. Only float dtypes are
// accepted: the result is always a float32 tensor.
inline Tensor parse_npy_as_f32(std::span<const std::byte> bytes, std::string_view what) {
  Tensor t = detail::parse_npy_impl(bytes, what, true);
  check(t.dtype() == DType::f32, what, ": parse_npy_as_f32 reads float32 or float64, not ",
        t.dtype());
  return t;
}
inline Tensor load_npy_as_f32(const std::filesystem::path& path) {
  Tensor t = detail::load_npy_impl(path, true);
  check(t.dtype() == DType::f32, file_context(path),
        ": load_npy_as_f32 reads float32 or float64 .npy files, not ", t.dtype());
  return t;
}

// The .npy bytes (version 1.0) of a tensor: header padded so the data starts at a multiple of 64.
inline std::vector<std::byte> serialize_npy(const Tensor& t) {
  std::string header = "{'descr': '";
  header += detail::npy_descr(t.dtype());
  header += "', 'fortran_order': False, 'shape': (";
  for (int i = 0; i < t.shape().rank(); ++i) {
    header += std::to_string(t.shape()[i]);
    if (i + 1 < t.shape().rank() || t.shape().rank() == 1) header += ",";
    if (i + 1 < t.shape().rank()) header += " ";
  }
  header += "), }";
  constexpr std::size_t kPreamble = 10;
  const std::size_t total = (kPreamble + header.size() + 1 + 63) / 64 * 64;
  header.append(total - kPreamble - header.size() - 1, ' ');
  header += '\n';

  std::vector<std::byte> out;
  out.reserve(total + t.bytes());
  for (char c : detail::kNpyMagic) out.push_back(static_cast<std::byte>(c));
  out.push_back(std::byte{1});
  out.push_back(std::byte{0});
  out.push_back(static_cast<std::byte>(header.size() & 0xFF));
  out.push_back(static_cast<std::byte>(header.size() >> 8));
  for (char c : header) out.push_back(static_cast<std::byte>(c));
  out.insert(out.end(), t.raw(), t.raw() + t.bytes());
  return out;
}

// Writes a tensor as an .npy file, atomically (see io/file.hpp).
inline void save_npy(const std::filesystem::path& path, const Tensor& t) {
  const std::vector<std::byte> bytes =
      with_context(file_context(path), [&] { return serialize_npy(t); });
  write_file_atomic(path, bytes);
}

}  // namespace qnn::io
// ---- end qnn/io/npy.hpp ----------------------------------------------------------------------------
// ---- begin qnn/io/png.hpp --------------------------------------------------------------------------
// PNG output for the example's figures (confusion-matrix heatmap, sample grids).
//
// Why our own writer rather than wrapping stb_image_write.h (Debian's libstb-dev): stb compiles
// warning-free, but it would make qnn's install depend on a distribution-specific header path
// (<stb/stb_image_write.h> exists only where libstb-dev is installed, and qnnConfig.cmake would
// have to find it), and a header-only library would need the STB_IMAGE_WRITE_IMPLEMENTATION
// "define in exactly one TU" dance. A PNG writer is small when the pieces already exist: the
// CRC-32 (io/checksum.hpp), a DEFLATE encoder (io/deflate.hpp: fixed Huffman codes and LZ77, the
// same scheme stb uses, so files are about as small) and, to test it, our DEFLATE decoder. Every
// function here is an ordinary inline function: no ODR concerns, any TU may include this.
//
// Format written: 8-bit RGB (colour type 2), no interlace, filter type 0 (None) on every row; the
// chunks IHDR, one IDAT (a zlib stream) and IEND, each with its CRC-32 (PNG spec, ISO 15948).

#include <array>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string_view>
#include <vector>

// ---- begin qnn/io/deflate.hpp ----------------------------------------------------------------------
// DEFLATE compression (RFC 1951) and the zlib wrapper (RFC 1950), for the PNG writer.
//
// Deliberately simple: one block coded with the fixed Huffman codes of RFC 1951 §3.2.6, and greedy
// LZ77 matching that tries the last 32 positions sharing a 3-byte hash. On the figures qnn draws
// (flat colour fields, scaled-up pixels, text) the matches are long and this is within a small
// factor of zlib -9; on noise it expands by at most 1/8 (9-bit literals), which no figure is.
// What it produces is plain DEFLATE: io/inflate.hpp, zlib and every PNG viewer read it.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

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
// ---- end qnn/io/deflate.hpp ------------------------------------------------------------------------
// ---- begin qnn/io/image.hpp ------------------------------------------------------------------------
// An RGB image in memory and the few drawing operations the example's figures need: filled
// rectangles, borders, scaled-up grayscale images (28×28 Fashion-MNIST items), text in a built-in
// 5×7 pixel font, and a white-to-blue colour ramp for heatmaps. Written out by io/png.hpp.
//
// Coordinates are pixels, x to the right and y down from the top-left corner. Every drawing
// operation clips to the image, so a label running off the edge is cut, not an error.

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace qnn::io {

struct Rgb {
  std::uint8_t r = 0, g = 0, b = 0;
  friend bool operator==(const Rgb&, const Rgb&) = default;
};

inline constexpr Rgb kBlack{0, 0, 0};
inline constexpr Rgb kWhite{255, 255, 255};
inline constexpr Rgb kRed{220, 30, 30};
inline constexpr Rgb kGreen{30, 160, 60};

// Row-major RGB, 3 bytes per pixel, no padding: rgb.size() == width * height * 3.
struct Image {
  int width = 0;
  int height = 0;
  std::vector<std::uint8_t> rgb;

  static Image filled(int width, int height, Rgb colour) {
    check(width > 0 && height > 0 && width <= (1 << 15) && height <= (1 << 15), "image size ",
          width, " x ", height, " is not within 1..32768 on each side");
    Image im{width, height, {}};
    im.rgb.resize(static_cast<std::size_t>(width) * static_cast<std::size_t>(height) * 3);
    for (std::size_t i = 0; i < im.rgb.size(); i += 3) {
      im.rgb[i] = colour.r;
      im.rgb[i + 1] = colour.g;
      im.rgb[i + 2] = colour.b;
    }
    return im;
  }

  bool contains(int x, int y) const { return x >= 0 && y >= 0 && x < width && y < height; }
  Rgb at(int x, int y) const {
    check(contains(x, y), "pixel (", x, ", ", y, ") is outside the ", width, " x ", height,
          " image");
    const std::size_t i = index(x, y);
    return {rgb[i], rgb[i + 1], rgb[i + 2]};
  }
  // Sets a pixel; outside the image it does nothing (drawing clips).
  void set(int x, int y, Rgb c) {
    if (!contains(x, y)) return;
    const std::size_t i = index(x, y);
    rgb[i] = c.r;
    rgb[i + 1] = c.g;
    rgb[i + 2] = c.b;
  }

 private:
  std::size_t index(int x, int y) const {
    return (static_cast<std::size_t>(y) * static_cast<std::size_t>(width) +
            static_cast<std::size_t>(x)) * 3;
  }
};

inline void fill_rect(Image& im, int x, int y, int w, int h, Rgb c) {
  const int x0 = std::max(x, 0), y0 = std::max(y, 0);
  const int x1 = std::min(x + w, im.width), y1 = std::min(y + h, im.height);
  for (int yy = y0; yy < y1; ++yy) {
    for (int xx = x0; xx < x1; ++xx) im.set(xx, yy, c);
  }
}

// A frame `thickness` pixels wide just inside the rectangle (x, y, w, h).
inline void draw_border(Image& im, int x, int y, int w, int h, int thickness, Rgb c) {
  const int t = std::min({thickness, w, h});
  fill_rect(im, x, y, w, t, c);
  fill_rect(im, x, y + h - t, w, t, c);
  fill_rect(im, x, y, t, h, c);
  fill_rect(im, x + w - t, y, t, h, c);
}

// A grayscale image (src_w × src_h bytes, row-major, 0 black .. 255 white) drawn with its top-left
// corner at (x, y), each source pixel as a scale × scale square.
inline void draw_gray(Image& im, int x, int y, std::span<const std::uint8_t> pixels, int src_w,
                      int src_h, int scale) {
  check(src_w >= 0 && src_h >= 0 && scale >= 1 &&
            pixels.size() == static_cast<std::size_t>(src_w) * static_cast<std::size_t>(src_h),
        "draw_gray: ", pixels.size(), " pixels for a ", src_w, " x ", src_h, " image at scale ",
        scale);
  for (int sy = 0; sy < src_h; ++sy) {
    for (int sx = 0; sx < src_w; ++sx) {
      const std::uint8_t v = pixels[static_cast<std::size_t>(sy * src_w + sx)];
      fill_rect(im, x + sx * scale, y + sy * scale, scale, scale, Rgb{v, v, v});
    }
  }
}

// t in [0, 1] (clamped; NaN as 0) to a colour from white through light blue to dark blue: the
// confusion-matrix heatmap's ramp.
inline Rgb heat_colour(float t) {
  t = t > 0.0f ? std::min(t, 1.0f) : 0.0f;
  constexpr std::array<Rgb, 3> stops{Rgb{255, 255, 255}, Rgb{107, 174, 214}, Rgb{8, 48, 107}};
  const float s = t * 2.0f;
  const auto i = static_cast<std::size_t>(std::min(s, 1.0f));
  const float f = s - static_cast<float>(i);
  const auto mix = [&](std::uint8_t a, std::uint8_t b) {
    return static_cast<std::uint8_t>(std::lround(a + (b - a) * f));
  };
  return {mix(stops[i].r, stops[i + 1].r), mix(stops[i].g, stops[i + 1].g),
          mix(stops[i].b, stops[i + 1].b)};
}

// ---- text: a 5×7 pixel font --------------------------------------------------------------------

inline constexpr int kGlyphWidth = 5;
inline constexpr int kGlyphHeight = 7;
inline constexpr int kGlyphAdvance = 6;  // one column of space between characters

namespace detail {

// Each glyph is 7 rows, top first; bit 4 of a row is its leftmost pixel.
struct Glyph {
  char c;
  std::array<std::uint8_t, kGlyphHeight> rows;
};

// clang-format off
inline constexpr Glyph kFont[] = {
  {' ', {0b00000, 0b00000, 0b00000, 0b00000, 0b00000, 0b00000, 0b00000}},
  {'0', {0b01110, 0b10001, 0b10011, 0b10101, 0b11001, 0b10001, 0b01110}},
  {'1', {0b00100, 0b01100, 0b00100, 0b00100, 0b00100, 0b00100, 0b01110}},
  {'2', {0b01110, 0b10001, 0b00001, 0b00010, 0b00100, 0b01000, 0b11111}},
  {'3', {0b11111, 0b00010, 0b00100, 0b00010, 0b00001, 0b10001, 0b01110}},
  {'4', {0b00010, 0b00110, 0b01010, 0b10010, 0b11111, 0b00010, 0b00010}},
  {'5', {0b11111, 0b10000, 0b11110, 0b00001, 0b00001, 0b10001, 0b01110}},
  {'6', {0b00110, 0b01000, 0b10000, 0b11110, 0b10001, 0b10001, 0b01110}},
  {'7', {0b11111, 0b00001, 0b00010, 0b00100, 0b01000, 0b01000, 0b01000}},
  {'8', {0b01110, 0b10001, 0b10001, 0b01110, 0b10001, 0b10001, 0b01110}},
  {'9', {0b01110, 0b10001, 0b10001, 0b01111, 0b00001, 0b00010, 0b01100}},
  {'A', {0b01110, 0b10001, 0b10001, 0b10001, 0b11111, 0b10001, 0b10001}},
  {'B', {0b11110, 0b10001, 0b10001, 0b11110, 0b10001, 0b10001, 0b11110}},
  {'C', {0b01110, 0b10001, 0b10000, 0b10000, 0b10000, 0b10001, 0b01110}},
  {'D', {0b11100, 0b10010, 0b10001, 0b10001, 0b10001, 0b10010, 0b11100}},
  {'E', {0b11111, 0b10000, 0b10000, 0b11110, 0b10000, 0b10000, 0b11111}},
  {'F', {0b11111, 0b10000, 0b10000, 0b11110, 0b10000, 0b10000, 0b10000}},
  {'G', {0b01110, 0b10001, 0b10000, 0b10111, 0b10001, 0b10001, 0b01111}},
  {'H', {0b10001, 0b10001, 0b10001, 0b11111, 0b10001, 0b10001, 0b10001}},
  {'I', {0b01110, 0b00100, 0b00100, 0b00100, 0b00100, 0b00100, 0b01110}},
  {'J', {0b00111, 0b00010, 0b00010, 0b00010, 0b00010, 0b10010, 0b01100}},
  {'K', {0b10001, 0b10010, 0b10100, 0b11000, 0b10100, 0b10010, 0b10001}},
  {'L', {0b10000, 0b10000, 0b10000, 0b10000, 0b10000, 0b10000, 0b11111}},
  {'M', {0b10001, 0b11011, 0b10101, 0b10101, 0b10001, 0b10001, 0b10001}},
  {'N', {0b10001, 0b10001, 0b11001, 0b10101, 0b10011, 0b10001, 0b10001}},
  {'O', {0b01110, 0b10001, 0b10001, 0b10001, 0b10001, 0b10001, 0b01110}},
  {'P', {0b11110, 0b10001, 0b10001, 0b11110, 0b10000, 0b10000, 0b10000}},
  {'Q', {0b01110, 0b10001, 0b10001, 0b10001, 0b10101, 0b10010, 0b01101}},
  {'R', {0b11110, 0b10001, 0b10001, 0b11110, 0b10100, 0b10010, 0b10001}},
  {'S', {0b01111, 0b10000, 0b10000, 0b01110, 0b00001, 0b00001, 0b11110}},
  {'T', {0b11111, 0b00100, 0b00100, 0b00100, 0b00100, 0b00100, 0b00100}},
  {'U', {0b10001, 0b10001, 0b10001, 0b10001, 0b10001, 0b10001, 0b01110}},
  {'V', {0b10001, 0b10001, 0b10001, 0b10001, 0b10001, 0b01010, 0b00100}},
  {'W', {0b10001, 0b10001, 0b10001, 0b10101, 0b10101, 0b10101, 0b01010}},
  {'X', {0b10001, 0b10001, 0b01010, 0b00100, 0b01010, 0b10001, 0b10001}},
  {'Y', {0b10001, 0b10001, 0b10001, 0b01010, 0b00100, 0b00100, 0b00100}},
  {'Z', {0b11111, 0b00001, 0b00010, 0b00100, 0b01000, 0b10000, 0b11111}},
  {'a', {0b00000, 0b00000, 0b01110, 0b00001, 0b01111, 0b10001, 0b01111}},
  {'b', {0b10000, 0b10000, 0b10110, 0b11001, 0b10001, 0b10001, 0b11110}},
  {'c', {0b00000, 0b00000, 0b01110, 0b10000, 0b10000, 0b10001, 0b01110}},
  {'d', {0b00001, 0b00001, 0b01101, 0b10011, 0b10001, 0b10001, 0b01111}},
  {'e', {0b00000, 0b00000, 0b01110, 0b10001, 0b11111, 0b10000, 0b01110}},
  {'f', {0b00110, 0b01001, 0b01000, 0b11100, 0b01000, 0b01000, 0b01000}},
  {'g', {0b00000, 0b01111, 0b10001, 0b10001, 0b01111, 0b00001, 0b01110}},
  {'h', {0b10000, 0b10000, 0b10110, 0b11001, 0b10001, 0b10001, 0b10001}},
  {'i', {0b00100, 0b00000, 0b01100, 0b00100, 0b00100, 0b00100, 0b01110}},
  {'j', {0b00010, 0b00000, 0b00110, 0b00010, 0b00010, 0b10010, 0b01100}},
  {'k', {0b10000, 0b10000, 0b10010, 0b10100, 0b11000, 0b10100, 0b10010}},
  {'l', {0b01100, 0b00100, 0b00100, 0b00100, 0b00100, 0b00100, 0b01110}},
  {'m', {0b00000, 0b00000, 0b11010, 0b10101, 0b10101, 0b10001, 0b10001}},
  {'n', {0b00000, 0b00000, 0b10110, 0b11001, 0b10001, 0b10001, 0b10001}},
  {'o', {0b00000, 0b00000, 0b01110, 0b10001, 0b10001, 0b10001, 0b01110}},
  {'p', {0b00000, 0b00000, 0b11110, 0b10001, 0b11110, 0b10000, 0b10000}},
  {'q', {0b00000, 0b00000, 0b01101, 0b10011, 0b01111, 0b00001, 0b00001}},
  {'r', {0b00000, 0b00000, 0b10110, 0b11001, 0b10000, 0b10000, 0b10000}},
  {'s', {0b00000, 0b00000, 0b01110, 0b10000, 0b01110, 0b00001, 0b11110}},
  {'t', {0b01000, 0b01000, 0b11100, 0b01000, 0b01000, 0b01001, 0b00110}},
  {'u', {0b00000, 0b00000, 0b10001, 0b10001, 0b10001, 0b10011, 0b01101}},
  {'v', {0b00000, 0b00000, 0b10001, 0b10001, 0b10001, 0b01010, 0b00100}},
  {'w', {0b00000, 0b00000, 0b10001, 0b10001, 0b10101, 0b10101, 0b01010}},
  {'x', {0b00000, 0b00000, 0b10001, 0b01010, 0b00100, 0b01010, 0b10001}},
  {'y', {0b00000, 0b00000, 0b10001, 0b10001, 0b01111, 0b00001, 0b01110}},
  {'z', {0b00000, 0b00000, 0b11111, 0b00010, 0b00100, 0b01000, 0b11111}},
  {'.', {0b00000, 0b00000, 0b00000, 0b00000, 0b00000, 0b01100, 0b01100}},
  {',', {0b00000, 0b00000, 0b00000, 0b00000, 0b01100, 0b00100, 0b01000}},
  {':', {0b00000, 0b01100, 0b01100, 0b00000, 0b01100, 0b01100, 0b00000}},
  {';', {0b00000, 0b01100, 0b01100, 0b00000, 0b01100, 0b00100, 0b01000}},
  {'-', {0b00000, 0b00000, 0b00000, 0b11111, 0b00000, 0b00000, 0b00000}},
  {'+', {0b00000, 0b00100, 0b00100, 0b11111, 0b00100, 0b00100, 0b00000}},
  {'=', {0b00000, 0b00000, 0b11111, 0b00000, 0b11111, 0b00000, 0b00000}},
  {'/', {0b00000, 0b00001, 0b00010, 0b00100, 0b01000, 0b10000, 0b00000}},
  {'(', {0b00010, 0b00100, 0b01000, 0b01000, 0b01000, 0b00100, 0b00010}},
  {')', {0b01000, 0b00100, 0b00010, 0b00010, 0b00010, 0b00100, 0b01000}},
  {'[', {0b01110, 0b01000, 0b01000, 0b01000, 0b01000, 0b01000, 0b01110}},
  {']', {0b01110, 0b00010, 0b00010, 0b00010, 0b00010, 0b00010, 0b01110}},
  {'<', {0b00010, 0b00100, 0b01000, 0b10000, 0b01000, 0b00100, 0b00010}},
  {'>', {0b01000, 0b00100, 0b00010, 0b00001, 0b00010, 0b00100, 0b01000}},
  {'%', {0b11000, 0b11001, 0b00010, 0b00100, 0b01000, 0b10011, 0b00011}},
  {'!', {0b00100, 0b00100, 0b00100, 0b00100, 0b00100, 0b00000, 0b00100}},
  {'?', {0b01110, 0b10001, 0b00001, 0b00010, 0b00100, 0b00000, 0b00100}},
  {'_', {0b00000, 0b00000, 0b00000, 0b00000, 0b00000, 0b00000, 0b11111}},
  {'#', {0b01010, 0b01010, 0b11111, 0b01010, 0b11111, 0b01010, 0b01010}},
  {'*', {0b00000, 0b00100, 0b10101, 0b01110, 0b10101, 0b00100, 0b00000}},
  {'|', {0b00100, 0b00100, 0b00100, 0b00100, 0b00100, 0b00100, 0b00100}},
  {'\'', {0b01100, 0b00100, 0b01000, 0b00000, 0b00000, 0b00000, 0b00000}},
  {'"', {0b01010, 0b01010, 0b01010, 0b00000, 0b00000, 0b00000, 0b00000}},
};
// clang-format on

// A character outside the font draws as a hollow box, visibly wrong rather than silently blank.
inline constexpr std::array<std::uint8_t, kGlyphHeight> kMissingGlyph = {
    0b11111, 0b10001, 0b10001, 0b10001, 0b10001, 0b10001, 0b11111};

inline const std::array<std::uint8_t, kGlyphHeight>& glyph(char c) {
  for (const Glyph& g : kFont) {
    if (g.c == c) return g.rows;
  }
  return kMissingGlyph;
}

}  // namespace detail

// Width in pixels of `text` drawn at `scale` (no trailing space).
inline int text_width(std::string_view text, int scale = 1) {
  return text.empty() ? 0 : (static_cast<int>(text.size()) * kGlyphAdvance - 1) * scale;
}

// Draws `text` with its top-left corner at (x, y), each font pixel a scale × scale square. The
// font has digits, both cases of letters and common punctuation; other characters draw as a box.
inline void draw_text(Image& im, int x, int y, std::string_view text, Rgb colour, int scale = 1) {
  check(scale >= 1, "draw_text: scale ", scale, " must be at least 1");
  for (char c : text) {
    const auto& rows = detail::glyph(c);
    for (int r = 0; r < kGlyphHeight; ++r) {
      for (int col = 0; col < kGlyphWidth; ++col) {
        if (rows[static_cast<std::size_t>(r)] & (0x10 >> col)) {
          fill_rect(im, x + col * scale, y + r * scale, scale, scale, colour);
        }
      }
    }
    x += kGlyphAdvance * scale;
  }
}

}  // namespace qnn::io
// ---- end qnn/io/image.hpp --------------------------------------------------------------------------

namespace qnn::io {

inline constexpr std::array<std::uint8_t, 8> kPngSignature = {0x89, 'P',  'N',  'G',
                                                              '\r', '\n', 0x1A, '\n'};

namespace detail {

inline void put_be32(std::vector<std::byte>& out, std::uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) {
    out.push_back(static_cast<std::byte>((v >> shift) & 0xFFu));
  }
}

// length, type, data, CRC-32 of type and data.
inline void put_png_chunk(std::vector<std::byte>& out, std::string_view type,
                          std::span<const std::byte> data) {
  put_be32(out, static_cast<std::uint32_t>(data.size()));
  const std::size_t type_at = out.size();
  for (char c : type) out.push_back(static_cast<std::byte>(c));
  out.insert(out.end(), data.begin(), data.end());
  put_be32(out, crc32(std::span<const std::byte>(out).subspan(type_at)));
}

}  // namespace detail

// The PNG file bytes of an image.
inline std::vector<std::byte> encode_png(const Image& im) {
  const std::size_t w = im.width > 0 ? static_cast<std::size_t>(im.width) : 0;
  const std::size_t h = im.height > 0 ? static_cast<std::size_t>(im.height) : 0;
  check(w > 0 && h > 0 && im.rgb.size() == w * h * 3, "encode_png: a ", im.width, " x ",
        im.height, " RGB image needs ", w * h * 3, " bytes of pixels, it has ", im.rgb.size());
  std::vector<std::byte> out;
  for (std::uint8_t b : kPngSignature) out.push_back(static_cast<std::byte>(b));

  std::vector<std::byte> ihdr;
  detail::put_be32(ihdr, static_cast<std::uint32_t>(im.width));
  detail::put_be32(ihdr, static_cast<std::uint32_t>(im.height));
  // Bit depth 8, colour type 2 (RGB), compression 0, filter method 0, no interlace.
  for (int b : {8, 2, 0, 0, 0}) ihdr.push_back(static_cast<std::byte>(b));
  detail::put_png_chunk(out, "IHDR", ihdr);

  // Scanlines: a filter-type byte (0, None) and the row's pixels.
  const std::size_t row = w * 3;
  std::vector<std::byte> raw;
  raw.reserve((row + 1) * h);
  for (std::size_t y = 0; y < h; ++y) {
    raw.push_back(std::byte{0});
    const auto* p = reinterpret_cast<const std::byte*>(im.rgb.data() + y * row);
    raw.insert(raw.end(), p, p + row);
  }
  detail::put_png_chunk(out, "IDAT", zlib_compress(raw));
  detail::put_png_chunk(out, "IEND", {});
  return out;
}

// Writes an image as a PNG file, atomically (see io/file.hpp).
inline void save_png(const std::filesystem::path& path, const Image& im) {
  const std::vector<std::byte> bytes =
      with_context(file_context(path), [&] { return encode_png(im); });
  write_file_atomic(path, bytes);
}

}  // namespace qnn::io
// ---- end qnn/io/png.hpp ----------------------------------------------------------------------------
// ---- end qnn/qnn.hpp -------------------------------------------------------------------------------
