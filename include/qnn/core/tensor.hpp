// Tensors: the owning, type-erased Tensor that graphs and sessions hold, and the typed,
// non-owning, strided TensorView<T> that kernels take.
//
// A Tensor owns 64-byte aligned storage, knows its dtype and shape, and optionally how it is
// quantized (QuantInfo). Copying a Tensor copies its data: a graph that rewrites a weight never
// changes the tensor the user passed in.
//
// A TensorView<T> is a pointer, a shape and element strides. Strides let one reference kernel read
// NCHW and NHWC (or any transposition) alike; views of a Tensor are dense row-major.
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <utility>

#include "qnn/core/aligned_buffer.hpp"
#include "qnn/core/dtype.hpp"
#include "qnn/core/error.hpp"
#include "qnn/core/quant_params.hpp"
#include "qnn/core/shape.hpp"

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
