// Helpers of the quantized-operator tests: single-node graphs built in code, run through a Session.
#pragma once

#include <doctest/doctest.h>

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "qnn/graph/graph.hpp"
#include "qnn/runtime/session.hpp"

namespace qops_test {

using namespace qnn;

// A graph of one node. in() declares a run-time input, c() a constant initializer.
struct OneNode {
  Graph g;
  Node n;

  OneNode(std::string domain, std::string op, std::int64_t opset = 21) {
    g.opsets[""] = opset;
    g.opsets["com.microsoft"] = 1;
    g.opsets["qnn"] = 1;
    n.name = op;
    n.op_type = std::move(op);
    n.domain = std::move(domain);
  }

  OneNode& in(const std::string& name, DType dtype, const Shape& shape) {
    Value& v = g.ensure_value(name);
    v.dtype = dtype;
    v.dims = std::vector<std::int64_t>(shape.begin(), shape.end());
    g.inputs.push_back(name);
    n.inputs.push_back(name);
    return *this;
  }
  OneNode& c(const std::string& name, Tensor t) {
    Value& v = g.ensure_value(name);
    v.dtype = t.dtype();
    v.dims = std::vector<std::int64_t>(t.shape().begin(), t.shape().end());
    v.constant = std::move(t);
    n.inputs.push_back(name);
    return *this;
  }
  OneNode& none() {
    n.inputs.push_back("");
    return *this;
  }
  template <class V>
  OneNode& attr(const std::string& name, V v) {
    n.attrs.set(name, AttributeValue(v));
    return *this;
  }

  std::unique_ptr<Session> session(SessionOptions opts = {}) {
    Graph graph = g;
    Node node = n;
    node.outputs = {"y"};
    graph.ensure_value("y");
    graph.outputs = {"y"};
    graph.nodes.push_back(node);
    opts.probe = false;
    return std::make_unique<Session>(std::move(graph), opts);
  }
  // Runs once; the single output.
  Tensor run(std::initializer_list<Tensor> inputs, SessionOptions opts = {}) {
    auto s = session(opts);
    auto out = s->run(std::span<const Tensor>(inputs.begin(), inputs.size()));
    REQUIRE(out.size() == 1);
    return out[0];
  }
};

template <class T>
Tensor t(const Shape& s, std::initializer_list<T> v) {
  return Tensor::from<T>(s, v);
}
template <class T>
Tensor scalar(T v) {
  return Tensor::scalar<T>(v);
}

template <class T>
std::vector<long long> values(const Tensor& x) {
  std::vector<long long> out;
  for (T v : x.span<T>()) out.push_back(static_cast<long long>(v));
  return out;
}
inline std::vector<float> fvalues(const Tensor& x) {
  const auto s = x.span<float>();
  return {s.begin(), s.end()};
}

}  // namespace qops_test
