// The walk the fusion passes share: a node that reads the only output of the node before it, when
// nothing else reads that value and it is not a graph output, can be taken over by that producer,
// which then writes the node's output. Each pass says which pairs it takes and what attributes the
// producer gets (fold_batchnorm.hpp, fuse_activation.hpp, fuse_pool.hpp).
#pragma once

#include <cstddef>
#include <vector>

#include "qnn/graph/graph.hpp"

namespace qnn::passes {

// absorb(producer, node) decides whether `producer` takes `node` over; when it returns true it has
// already set the producer's attributes, and the producer's output becomes the node's first output.
// Returns how many nodes were taken over.
template <class Absorb>
int fuse_into_producer(Graph& g, Absorb&& absorb) {
  std::vector<bool> dead(g.nodes.size(), false);
  int fused = 0;
  for (std::size_t i = 0; i < g.nodes.size(); ++i) {
    const Node& n = g.nodes[i];
    if (n.inputs.empty() || n.outputs.empty()) continue;
    const int p = g.producer(n.inputs[0]);
    if (p < 0 || dead[static_cast<std::size_t>(p)]) continue;
    Node& prod = g.nodes[static_cast<std::size_t>(p)];
    if (prod.outputs.size() != 1) continue;
    if (g.consumers(n.inputs[0]).size() != 1 || g.is_graph_output(n.inputs[0])) continue;
    if (!absorb(prod, n)) continue;
    prod.outputs[0] = n.outputs[0];
    dead[i] = true;
    ++fused;
  }
  g.erase_nodes(dead);
  return fused;
}

}  // namespace qnn::passes
