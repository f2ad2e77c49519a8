// Inference-time no-ops: Identity, and Dropout (which is the identity at inference; its optional
// mask output must be unused). Their output is replaced by their input everywhere.
#pragma once

#include <vector>

#include "qnn/core/error.hpp"
#include "qnn/graph/graph.hpp"

namespace qnn::passes {

inline int remove_identities(Graph& g) {
  std::vector<bool> dead(g.nodes.size(), false);
  int removed = 0;
  for (std::size_t i = 0; i < g.nodes.size(); ++i) {
    Node& n = g.nodes[i];
    if (!n.domain.empty() || (n.op_type != "Identity" && n.op_type != "Dropout")) continue;
    if (n.op_type == "Dropout") {
      if (n.outputs.size() > 1 && !n.outputs[1].empty() && !g.consumers(n.outputs[1]).empty()) continue;
      if (n.has_input(2)) continue;  // training_mode given: leave it to the kernel to check
    }
    if (n.inputs.empty() || n.outputs.empty() || n.inputs[0].empty()) continue;
    const std::string in = n.inputs[0];
    const std::string out = n.outputs[0];
    if (g.is_graph_output(out) && (g.is_graph_output(in) ||
                                   std::find(g.inputs.begin(), g.inputs.end(), in) != g.inputs.end()))
      continue;  // keep a node so the output stays a distinct value
    if (g.is_graph_output(out)) {
      // Rename the producer's output instead, so the graph output keeps its name.
      const int p = g.producer(in);
      if (p < 0 || g.consumers(in).size() != 1) continue;
      for (auto& o : g.nodes[static_cast<std::size_t>(p)].outputs)
        if (o == in) o = out;
    } else {
      g.replace_uses(out, in);
    }
    dead[i] = true;
    ++removed;
  }
  g.erase_nodes(dead);
  return removed;
}

}  // namespace qnn::passes
