// Removes nodes none of whose outputs is read (by a node or as a graph output), repeatedly, so a
// chain left dangling by another pass (the Shape→Gather→...→Concat of a folded Reshape) goes too.
#pragma once

#include <set>
#include <vector>

#include "qnn/graph/graph.hpp"

namespace qnn::passes {

inline int remove_dead_nodes(Graph& g) {
  int removed = 0;
  while (true) {
    std::set<std::string> read(g.outputs.begin(), g.outputs.end());
    for (const Node& n : g.nodes) read.insert(n.inputs.begin(), n.inputs.end());
    std::vector<bool> dead(g.nodes.size(), false);
    bool any = false;
    for (std::size_t i = 0; i < g.nodes.size(); ++i) {
      bool used = false;
      for (const auto& o : g.nodes[i].outputs) used = used || (!o.empty() && read.count(o));
      if (!used) {
        dead[i] = true;
        any = true;
        ++removed;
      }
    }
    if (!any) return removed;
    g.erase_nodes(dead);
  }
}

}  // namespace qnn::passes
