// Relu / Clip fused into the Conv, Gemm or MatMul before it: the producer clamps its own output
// (attributes qnn_activation = "relu" | "clip", qnn_clip_min, qnn_clip_max, in real units), which
// saves a pass over the tensor and, for quantized producers, is exactly the unfused result
// (docs/numerics.md §4.6). Applies when the producer's output has no other reader and Clip's bounds
// are constants. read_fused_activation is the one reader of those attributes (the kernels', and
// graph/passes/input_range.hpp's).
#pragma once

#include <limits>
#include <string>

#include "qnn/core/error.hpp"
#include "qnn/graph/graph.hpp"
#include "qnn/graph/passes/fuse_into_producer.hpp"
#include "qnn/numerics/requantize.hpp"

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
