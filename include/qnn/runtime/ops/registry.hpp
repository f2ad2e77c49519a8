// The operators qnn runs out of the box.
#pragma once

#include "qnn/runtime/kernel.hpp"
#include "qnn/runtime/ops/float_ops.hpp"
#include "qnn/runtime/ops/quantized_ops.hpp"
#include "qnn/runtime/ops/tensor_ops.hpp"

namespace qnn {

inline const KernelRegistry& builtin_registry() {
  static const KernelRegistry registry = [] {
    KernelRegistry r;
    ops::register_tensor_ops(r);
    ops::register_float_ops(r);
    ops::register_quantized_ops(r);
    return r;
  }();
  return registry;
}

}  // namespace qnn
