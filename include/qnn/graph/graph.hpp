// The graph IR: values (named edges, some constant) and nodes (ONNX operators, plus the
// com.microsoft and qnn-internal ones that lowering produces).
//
// Edges are referenced by name, as in ONNX, so passes read like the graph surgery they are
// (replace an input, drop a node) and an imported model keeps its names for error messages and
// reports. The IR is built once per session; nothing here is on the inference path.
#pragma once

#include <algorithm>
#include <cstdint>
#include <map>
#include <optional>
#include <ostream>
#include <queue>
#include <set>
#include <string>
#include <vector>

#include "qnn/core/dtype.hpp"
#include "qnn/core/error.hpp"
#include "qnn/core/quant_params.hpp"
#include "qnn/core/tensor.hpp"
#include "qnn/graph/attributes.hpp"

namespace qnn {

inline constexpr std::int64_t kDynamicDim = -1;

struct Value {
  std::string name;
  std::optional<DType> dtype;
  // Known dims, kDynamicDim where symbolic or unknown; nullopt when even the rank is unknown.
  std::optional<std::vector<std::int64_t>> dims;
  std::vector<std::string> dim_params;  // symbolic names of graph-input dims ("batch_size"), "" otherwise
  std::optional<Tensor> constant;       // initializers and folded values
};

struct Node {
  std::string name;
  std::string op_type;
  std::string domain;  // "" = ONNX; "com.microsoft"; "qnn" for internal ops
  std::vector<std::string> inputs;   // "" marks an omitted optional input
  std::vector<std::string> outputs;
  Attributes attrs;

  std::string where() const {
    return detail::cat("node '", name, "' (", domain.empty() ? "" : domain + ".", op_type, ")");
  }
  bool has_input(std::size_t i) const { return i < inputs.size() && !inputs[i].empty(); }
};

class Graph {
 public:
  std::vector<Node> nodes;
  std::map<std::string, Value> values;
  std::vector<std::string> inputs;   // graph inputs (not initializers)
  std::vector<std::string> outputs;
  std::map<std::string, std::int64_t> opsets;  // domain -> version ("" = ONNX)

  Value& value(const std::string& name) {
    auto it = values.find(name);
    check(it != values.end(), "value '", name, "' does not exist");
    return it->second;
  }
  const Value& value(const std::string& name) const {
    auto it = values.find(name);
    check(it != values.end(), "value '", name, "' does not exist");
    return it->second;
  }
  Value& ensure_value(const std::string& name) {
    Value& v = values[name];
    v.name = name;
    return v;
  }
  bool is_constant(const std::string& name) const {
    auto it = values.find(name);
    return it != values.end() && it->second.constant.has_value();
  }
  const Tensor* constant(const std::string& name) const {
    auto it = values.find(name);
    return it != values.end() && it->second.constant ? &*it->second.constant : nullptr;
  }
  std::int64_t opset(const std::string& domain = "") const {
    auto it = opsets.find(domain);
    return it == opsets.end() ? 0 : it->second;
  }

  // A fresh value name derived from `base`.
  std::string unique_name(const std::string& base) {
    std::string n = base;
    for (int i = 1; values.count(n); ++i) n = base + "_" + std::to_string(i);
    ensure_value(n);
    return n;
  }
  std::string add_constant(const std::string& base, Tensor t) {
    std::string n = unique_name(base);
    Value& v = value(n);
    v.dtype = t.dtype();
    v.dims = std::vector<std::int64_t>(t.shape().begin(), t.shape().end());
    v.constant = std::move(t);
    return n;
  }

  // Index of the node producing `value`, or -1 (graph input, constant, or unknown).
  int producer(const std::string& name) const {
    for (std::size_t i = 0; i < nodes.size(); ++i)
      for (const auto& o : nodes[i].outputs)
        if (o == name) return static_cast<int>(i);
    return -1;
  }
  // Indices of the nodes reading `value`.
  std::vector<int> consumers(const std::string& name) const {
    std::vector<int> out;
    for (std::size_t i = 0; i < nodes.size(); ++i)
      if (std::find(nodes[i].inputs.begin(), nodes[i].inputs.end(), name) != nodes[i].inputs.end())
        out.push_back(static_cast<int>(i));
    return out;
  }
  bool is_graph_output(const std::string& name) const {
    return std::find(outputs.begin(), outputs.end(), name) != outputs.end();
  }

  // Every read of `from` (node inputs and graph outputs) now reads `to`.
  void replace_uses(const std::string& from, const std::string& to) {
    for (Node& n : nodes)
      for (auto& in : n.inputs)
        if (in == from) in = to;
    for (auto& o : outputs)
      if (o == from) o = to;
  }

  // Removes the nodes whose indices are flagged, then every value nothing refers to any more.
  void erase_nodes(const std::vector<bool>& dead) {
    std::vector<Node> kept;
    for (std::size_t i = 0; i < nodes.size(); ++i)
      if (!dead[i]) kept.push_back(std::move(nodes[i]));
    nodes = std::move(kept);
    prune_values();
  }

  void prune_values() {
    std::set<std::string> used(inputs.begin(), inputs.end());
    used.insert(outputs.begin(), outputs.end());
    for (const Node& n : nodes) {
      used.insert(n.inputs.begin(), n.inputs.end());
      used.insert(n.outputs.begin(), n.outputs.end());
    }
    for (auto it = values.begin(); it != values.end();)
      it = used.count(it->first) ? std::next(it) : values.erase(it);
  }

  // Reorders nodes so every node follows its producers (Kahn's algorithm, stable: among ready nodes
  // the earlier one in the file goes first). Throws on a cycle or on an input nothing produces.
  void topological_sort() {
    std::map<std::string, int> producer_of;
    for (std::size_t i = 0; i < nodes.size(); ++i)
      for (const auto& o : nodes[i].outputs) {
        if (o.empty()) continue;
        check(!producer_of.count(o) && !is_constant(o) &&
                  std::find(inputs.begin(), inputs.end(), o) == inputs.end(),
              nodes[i].where(), ": output '", o, "' is produced more than once");
        producer_of[o] = static_cast<int>(i);
      }
    std::vector<int> missing(nodes.size(), 0);
    std::vector<std::vector<int>> users(nodes.size());
    for (std::size_t i = 0; i < nodes.size(); ++i) {
      for (const auto& in : nodes[i].inputs) {
        if (in.empty()) continue;
        auto it = producer_of.find(in);
        if (it != producer_of.end()) {
          ++missing[i];
          users[static_cast<std::size_t>(it->second)].push_back(static_cast<int>(i));
        } else {
          check(is_constant(in) || std::find(inputs.begin(), inputs.end(), in) != inputs.end(),
                nodes[i].where(), ": input '", in, "' is neither a graph input, an initializer nor produced by a node");
        }
      }
    }
    std::priority_queue<int, std::vector<int>, std::greater<>> ready;
    for (std::size_t i = 0; i < nodes.size(); ++i)
      if (missing[i] == 0) ready.push(static_cast<int>(i));
    std::vector<int> order;
    while (!ready.empty()) {
      const int i = ready.top();
      ready.pop();
      order.push_back(i);
      for (int u : users[static_cast<std::size_t>(i)])
        if (--missing[static_cast<std::size_t>(u)] == 0) ready.push(u);
    }
    if (order.size() != nodes.size()) {
      for (std::size_t i = 0; i < nodes.size(); ++i)
        if (missing[i] > 0) fail("the graph has a cycle through ", nodes[i].where());
    }
    std::vector<Node> sorted;
    sorted.reserve(nodes.size());
    for (int i : order) sorted.push_back(std::move(nodes[static_cast<std::size_t>(i)]));
    nodes = std::move(sorted);
    for (const auto& o : outputs)
      check(producer_of.count(o) || is_constant(o) || std::find(inputs.begin(), inputs.end(), o) != inputs.end(),
            "graph output '", o, "' is not produced by any node");
  }
};

}  // namespace qnn
