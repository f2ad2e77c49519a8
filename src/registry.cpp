// The one translation unit of qnn's own programs that compiles the operator kernels: the test
// suites, the docs samples and the qnn tool are built with QNN_COMPILED_REGISTRY
// (runtime/ops/registry.hpp) and link this file (CMake target qnn_registry), so that none of their
// files compiles every kernel again. Not installed: a program using qnn gets the header-only
// default, which the example, the SIMD tests and the single-header and package consumers keep.
#define QNN_REGISTRY_IMPLEMENTATION
#include "qnn/runtime/ops/registry.hpp"
