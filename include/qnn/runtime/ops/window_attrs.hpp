// ONNX convolution/pooling attributes (kernel_shape, strides, dilations, pads, auto_pad, ceil_mode)
// read once per node and resolved against each run's input shape.
//
// qnn's kernels are 2-D. A 1-D op (input N×C×L) runs as 2-D with H = 1: its attributes get a
// leading unit entry and its tensors a unit axis, which changes no value. 3-D and higher ops are
// refused with a clear error.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "qnn/core/error.hpp"
#include "qnn/core/shape.hpp"
#include "qnn/graph/attributes.hpp"
#include "qnn/kernels/geometry.hpp"

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
