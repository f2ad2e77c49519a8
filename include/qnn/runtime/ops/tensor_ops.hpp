// The dtype-generic tensor operators: shape changes (shape_ops.hpp) and data movement
// (layout_ops.hpp). Each registration names the oldest ONNX opset whose semantics the kernel
// implements; the kernel reads the model's opset for the versions in between.
#pragma once

#include "qnn/runtime/kernel.hpp"
#include "qnn/runtime/ops/layout_ops.hpp"
#include "qnn/runtime/ops/op_util.hpp"
#include "qnn/runtime/ops/shape_ops.hpp"

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
