// The operators qnn runs out of the box.
//
// Compiling every operator kernel is most of the cost of a translation unit that makes a session,
// and a header-only library pays it in every such unit. A program with many of them can pay it
// once (as fmt's optional compiled part does): define QNN_COMPILED_REGISTRY for the whole program,
// and in exactly one source file define QNN_REGISTRY_IMPLEMENTATION too before including qnn,
//
//   #define QNN_REGISTRY_IMPLEMENTATION
//   #include <qnn/qnn.hpp>
//
// Elsewhere builtin_registry() is then only declared and the operator headers are not included:
// their factories (make_qlinear_conv, ...) are ordinary functions, so merely parsing them compiles
// every kernel they build. A file that uses an operator class directly includes its header itself.
// Without QNN_COMPILED_REGISTRY (the default) nothing changes: header-only, nothing to link.
#pragma once

#include "qnn/runtime/kernel.hpp"

#if defined(QNN_COMPILED_REGISTRY) && !defined(QNN_REGISTRY_IMPLEMENTATION)

namespace qnn {
const KernelRegistry& builtin_registry();
}  // namespace qnn

#else

#include "qnn/runtime/ops/float_ops.hpp"
#include "qnn/runtime/ops/quantized_ops.hpp"
#include "qnn/runtime/ops/tensor_ops.hpp"

namespace qnn {

#if defined(QNN_COMPILED_REGISTRY)
const KernelRegistry& builtin_registry() {
#else
inline const KernelRegistry& builtin_registry() {
#endif
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

#endif
