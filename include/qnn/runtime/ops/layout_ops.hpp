// Operators that move elements without computing on them: Transpose, Gather, Slice, Pad, Concat —
// dtype-generic, the data movement of float and quantized graphs alike — and Cast.
//
// The loops are the reference kernels (kernels/ref/{transpose,gather,slice,pad,concat,cast}.hpp);
// these kernels read attributes and index inputs, decide output shapes, and dispatch on dtype.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "qnn/core/dtype.hpp"
#include "qnn/core/error.hpp"
#include "qnn/core/shape.hpp"
#include "qnn/kernels/ref/cast.hpp"
#include "qnn/kernels/ref/concat.hpp"
#include "qnn/kernels/ref/gather.hpp"
#include "qnn/kernels/ref/pad.hpp"
#include "qnn/kernels/ref/slice.hpp"
#include "qnn/kernels/ref/transpose.hpp"
#include "qnn/onnx/data_type.hpp"
#include "qnn/runtime/kernel.hpp"
#include "qnn/runtime/ops/op_util.hpp"

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
