// qnn — quantized neural-network inference, header-only.
//
// Everything a CPU user needs: tensors and quantization types, the numerics, the kernels (scalar
// reference and fast CPU), ONNX import and export, graph passes, sessions, post-training
// quantization, and the I/O helpers (npy, IDX, PNG, JSON). The XRT NPU backend is included only
// where QNN_WITH_XRT is defined, as the qnn::xrt CMake target does (it needs XRT's headers and
// libraries; backends/backends.hpp, docs/backends_xrt.md).
// tools/amalgamate.py checks that every other header is reached from here, so the single header
// (single_include/qnn/qnn.hpp) offers all of it.
#pragma once

#include "qnn/config.hpp"

#include "qnn/core/aligned_buffer.hpp"
#include "qnn/core/dtype.hpp"
#include "qnn/core/error.hpp"
#include "qnn/core/quant_params.hpp"
#include "qnn/core/shape.hpp"
#include "qnn/core/tensor.hpp"

#include "qnn/numerics/quantize.hpp"
#include "qnn/numerics/requantize.hpp"
#include "qnn/numerics/rounding.hpp"

#include "qnn/kernels/conv2d.hpp"
#include "qnn/kernels/dispatch.hpp"
#include "qnn/kernels/gemm.hpp"
#include "qnn/kernels/geometry.hpp"
#include "qnn/kernels/ref/activation.hpp"
#include "qnn/kernels/ref/concat.hpp"
#include "qnn/kernels/ref/eltwise.hpp"
#include "qnn/kernels/ref/pool.hpp"
#include "qnn/kernels/ref/quantize_linear.hpp"
#include "qnn/kernels/ref/softmax.hpp"

#include "qnn/graph/describe.hpp"
#include "qnn/graph/graph.hpp"
// Shared by the operator headers, which runtime/ops/registry.hpp includes only where the registry
// is compiled, and by headers included unconditionally (the NPU backend, fine-tuning): included
// here first so that the single header inlines them outside that conditional (tools/amalgamate.py).
#include "qnn/graph/passes/fuse_activation.hpp"
#include "qnn/graph/passes/fuse_into_producer.hpp"
#include "qnn/graph/passes/input_range.hpp"
#include "qnn/runtime/ops/quant_params_io.hpp"
#include "qnn/runtime/ops/window_attrs.hpp"
#include "qnn/onnx/export.hpp"
#include "qnn/onnx/import.hpp"
#include "qnn/runtime/evaluate.hpp"
#include "qnn/runtime/profile.hpp"
#include "qnn/runtime/session.hpp"
#include "qnn/backends/backends.hpp"
#include "qnn/runtime/async.hpp"

#include "qnn/quantize/as_written.hpp"
#include "qnn/quantize/bf16.hpp"
#include "qnn/quantize/quantize.hpp"
#include "qnn/quantize/report.hpp"

#include "qnn/io/idx.hpp"
#include "qnn/io/json.hpp"
#include "qnn/io/json_read.hpp"
#include "qnn/io/npy.hpp"
#include "qnn/io/png.hpp"
