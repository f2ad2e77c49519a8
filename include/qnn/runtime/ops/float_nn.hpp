// Unquantized convolution, batch normalization and pooling: Conv, BatchNormalization, MaxPool,
// AveragePool, GlobalAveragePool, GlobalMaxPool.
//
// Conv with constant weights is prepared once as a FloatConv2D (fp32, or bf16 when the session asks
// for it: inputs rounded to bf16 at run time, fp32 accumulation and output); weights that are
// computed at run time (rare; ONNX conformance does it) make a FloatConv2D per run. 1-D windows run
// as 2-D with H = 1 (window_attrs.hpp). A fused ReLU/Clip from the fusion pass (attribute
// qnn_activation) clamps in the accumulator's epilogue; a fused MaxPool (qnn_pool, fuse_pool.hpp)
// pools each image's output while it is in cache, and the node's output is the pooled tensor.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <variant>
#include <vector>

#include "qnn/core/dtype.hpp"
#include "qnn/core/error.hpp"
#include "qnn/graph/passes/fuse_activation.hpp"
#include "qnn/kernels/conv2d.hpp"
#include "qnn/kernels/cpu/pool.hpp"
#include "qnn/kernels/geometry.hpp"
#include "qnn/kernels/ref/batch_norm.hpp"
#include "qnn/kernels/ref/pool.hpp"
#include "qnn/runtime/kernel.hpp"
#include "qnn/runtime/ops/op_util.hpp"
#include "qnn/runtime/ops/window_attrs.hpp"

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
