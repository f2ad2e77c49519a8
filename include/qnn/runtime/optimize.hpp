// The graph passes a session runs before making kernels, in order:
//   1. Identity/Dropout removal          graph/passes/cleanup.hpp
//   2. constant folding                  runtime/constant_folding.hpp
//   3. BatchNormalization folding        graph/passes/fold_batchnorm.hpp
//   4. shape probing: value dims, Reshape shape chains folded, dead nodes removed
//                                        runtime/shape_probe.hpp, graph/passes/dead_code.hpp
//   5. QDQ lowering to integer ops       graph/passes/lower_qdq.hpp
//   6. Relu/Clip fusion into float Conv/Gemm/MatMul   graph/passes/fuse_activation.hpp
//   7. MaxPool fusion into Conv/QLinearConv            graph/passes/fuse_pool.hpp
//   8. input ranges of QLinearConv/QGemm               graph/passes/input_range.hpp
//      — 7 and 8 only when the nodes will run on the CPU backend's fast kernels (`cpu_kernels`): a
//      device backend decides what it takes by the ONNX nodes, and the reference kernels run
//      pooling on its own and have no use for ranges.
// With SessionOptions::optimize off, only the topological sort runs: the graph executes as
// written (QDQ models then run DequantizeLinear → float op → QuantizeLinear).
#pragma once

#include "qnn/graph/graph.hpp"
#include "qnn/graph/passes/cleanup.hpp"
#include "qnn/graph/passes/dead_code.hpp"
#include "qnn/graph/passes/fold_batchnorm.hpp"
#include "qnn/graph/passes/fuse_activation.hpp"
#include "qnn/graph/passes/fuse_pool.hpp"
#include "qnn/graph/passes/input_range.hpp"
#include "qnn/graph/passes/lower_qdq.hpp"
#include "qnn/runtime/constant_folding.hpp"
#include "qnn/runtime/kernel.hpp"
#include "qnn/runtime/shape_probe.hpp"

namespace qnn {

inline void optimize_graph(Graph& g, const SessionOptions& options, const KernelRegistry& registry,
                           const ShapeProber& prober, bool cpu_kernels = false) {
  g.topological_sort();
  if (options.optimize) {
    passes::remove_identities(g);
    fold_constants(g, options, registry);
    passes::fold_batchnorm(g);
    if (const auto probe = prober(g)) {
      annotate_shapes(g, *probe);
      if (fold_dynamic_reshapes(g, *probe)) passes::remove_dead_nodes(g);
    }
    if (passes::lower_qdq(g)) passes::remove_dead_nodes(g);
    passes::fuse_activations(g);
    if (cpu_kernels && !options.reference_kernels) {
      passes::fuse_pools(g);
      passes::annotate_input_ranges(g);
    }
  }
  g.topological_sort();
  g.prune_values();
}

}  // namespace qnn
