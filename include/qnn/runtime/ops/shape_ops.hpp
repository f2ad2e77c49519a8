// Operators that change only a tensor's shape, or pass it through: Reshape, Flatten, Squeeze,
// Unsqueeze, Shape, Identity, Dropout (inference). They move bytes and so work on every dtype.
//
// Each computes the output shape from the actual input in run(), so one kernel serves every batch
// size; the shape functions are free functions so tests and graph passes can call them.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>

#include "qnn/core/dtype.hpp"
#include "qnn/core/error.hpp"
#include "qnn/core/shape.hpp"
#include "qnn/kernels/ref/cast.hpp"
#include "qnn/runtime/kernel.hpp"
#include "qnn/runtime/ops/op_util.hpp"

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
