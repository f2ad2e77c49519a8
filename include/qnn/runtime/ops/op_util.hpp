// Helpers shared by the operator kernels: dtype sets and checks, small integer inputs (shapes, axes,
// pads) read without allocating, axis lists, fused activations, and the per-thread bf16 scratch.
//
// Kernels validate at prepare time what NodeInfo knows (attributes, constant inputs, declared
// dtypes) and at run time the rest; these helpers word the errors the same way everywhere.
#pragma once

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

#include "qnn/core/aligned_buffer.hpp"
#include "qnn/core/dtype.hpp"
#include "qnn/core/error.hpp"
#include "qnn/core/shape.hpp"
#include "qnn/core/tensor.hpp"
#include "qnn/kernels/ref/quantize_linear.hpp"
#include "qnn/numerics/requantize.hpp"
#include "qnn/runtime/kernel.hpp"

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
