// Helpers of the operator tests (tests/ops/test_*.cpp): build a small qnn::Graph in C++, make a
// Session, run it, and compare results.
#pragma once

#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

#include "qnn/core/tensor.hpp"
#include "qnn/graph/graph.hpp"
#include "qnn/runtime/session.hpp"

namespace qnn_ops_test {

using qnn::DType;
using qnn::Shape;
using qnn::Tensor;

// A graph under construction. Inputs take dims with -1 for a dynamic extent.
class GraphBuilder {
 public:
  explicit GraphBuilder(std::int64_t opset = 17) { g_.opsets[""] = opset; }

  GraphBuilder& input(const std::string& name, DType t, std::vector<std::int64_t> dims) {
    qnn::Value& v = g_.ensure_value(name);
    v.dtype = t;
    v.dims = std::move(dims);
    g_.inputs.push_back(name);
    return *this;
  }
  // An input whose dtype and shape the graph does not state.
  GraphBuilder& untyped_input(const std::string& name) {
    g_.ensure_value(name);
    g_.inputs.push_back(name);
    return *this;
  }
  GraphBuilder& constant(const std::string& name, Tensor t) {
    qnn::Value& v = g_.ensure_value(name);
    v.dtype = t.dtype();
    v.dims = std::vector<std::int64_t>(t.shape().begin(), t.shape().end());
    v.constant = std::move(t);
    return *this;
  }
  GraphBuilder& node(const std::string& op, std::vector<std::string> inputs, std::vector<std::string> outputs,
                     std::initializer_list<std::pair<const char*, qnn::AttributeValue>> attrs = {},
                     std::string name = "") {
    qnn::Node n;
    // Appended, not "n" + std::to_string(...): GCC 12 misreports that under -Werror=restrict.
    if (name.empty()) {
      n.name = "n";
      n.name += std::to_string(g_.nodes.size());
    } else {
      n.name = std::move(name);
    }
    n.op_type = op;
    n.inputs = std::move(inputs);
    n.outputs = std::move(outputs);
    for (const auto& [k, v] : attrs) n.attrs.set(k, v);
    for (const auto& s : n.inputs)
      if (!s.empty()) g_.ensure_value(s);
    for (const auto& s : n.outputs)
      if (!s.empty()) g_.ensure_value(s);
    g_.nodes.push_back(std::move(n));
    return *this;
  }
  GraphBuilder& output(const std::string& name) {
    g_.ensure_value(name);
    g_.outputs.push_back(name);
    return *this;
  }
  qnn::Graph graph() const { return g_; }

 private:
  qnn::Graph g_;
};

inline qnn::SessionOptions no_passes() {
  qnn::SessionOptions o;
  o.optimize = false;
  return o;
}

template <class T>
Tensor tensor(const Shape& s, std::initializer_list<T> v) {
  return Tensor::from<T>(s, v);
}
template <class T>
Tensor tensor(const Shape& s, const std::vector<T>& v) {
  return Tensor::from<T>(s, std::span<const T>(v));
}
inline Tensor ints(std::initializer_list<std::int64_t> v) {
  return Tensor::from<std::int64_t>(Shape{static_cast<std::int64_t>(v.size())}, v);
}
// 0, 1, 2, ... (times `scale`, plus `offset`) as float32.
inline Tensor iota(const Shape& s, float scale = 1.0f, float offset = 0.0f) {
  std::vector<float> v(static_cast<std::size_t>(s.numel()));
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(i) * scale + offset;
  return Tensor::from<float>(s, std::span<const float>(v));
}

template <class T>
std::vector<T> values(const Tensor& t) {
  const auto s = t.span<T>();
  return {s.begin(), s.end()};
}

inline bool same_bytes(const Tensor& a, const Tensor& b) {
  return a.dtype() == b.dtype() && a.shape() == b.shape() && std::memcmp(a.raw(), b.raw(), a.bytes()) == 0;
}

// Float comparison with a relative tolerance; tolerance 0 means exact.
inline void check_close(const Tensor& got, const std::vector<float>& want, float rtol = 0.0f, float atol = 0.0f) {
  REQUIRE(got.dtype() == DType::f32);
  const auto g = got.span<float>();
  REQUIRE(g.size() == want.size());
  for (std::size_t i = 0; i < want.size(); ++i) {
    INFO("element " << i << ": got " << g[i] << ", want " << want[i]);
    if (std::isnan(want[i])) {
      CHECK(std::isnan(g[i]));
    } else {
      CHECK(std::fabs(g[i] - want[i]) <= atol + rtol * std::fabs(want[i]));
    }
  }
}

// Runs a session on copies of `inputs` and checks the inputs are left untouched.
inline std::vector<Tensor> run_checked(const qnn::Session& s, const std::vector<Tensor>& inputs) {
  const std::vector<Tensor> before = inputs;
  auto out = s.run(std::span<const Tensor>(inputs));
  for (std::size_t i = 0; i < inputs.size(); ++i)
    CHECK_MESSAGE(same_bytes(inputs[i], before[i]), "input " << i << " was modified");
  return out;
}

inline qnn::SessionOptions no_probe() {
  qnn::SessionOptions o;
  o.probe = false;
  return o;
}

}  // namespace qnn_ops_test
