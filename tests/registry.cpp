// The one translation unit of the test binaries that compiles qnn's operator kernels: the test
// files are built with QNN_COMPILED_REGISTRY (runtime/ops/registry.hpp), so that each of them does
// not compile every kernel again. The header-only default is what every other program here uses
// (the tool, the example, the SIMD tests, the single-header and package consumers).
#define QNN_REGISTRY_IMPLEMENTATION
#include "qnn/runtime/ops/registry.hpp"
