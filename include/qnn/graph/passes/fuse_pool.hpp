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
#pragma once

#include <string>

#include "qnn/core/dtype.hpp"
#include "qnn/graph/graph.hpp"
#include "qnn/graph/passes/fuse_into_producer.hpp"

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
