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
#pragma once

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "qnn/core/dtype.hpp"
#include "qnn/core/error.hpp"
#include "qnn/graph/graph.hpp"
#include "qnn/graph/passes/fuse_activation.hpp"
#include "qnn/graph/passes/lower_qdq.hpp"
#include "qnn/numerics/requantize.hpp"

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
