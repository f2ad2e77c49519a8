// Helpers of the backend tests: multi-node graphs built in code, XINT8-style quantized layers, and
// random int8/uint8 data.
#pragma once

#include <doctest/doctest.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "qnn/graph/graph.hpp"
#include "qnn/runtime/session.hpp"

namespace backend_test {

using namespace qnn;

struct GraphBuilder {
  Graph g;

  GraphBuilder() {
    g.opsets[""] = 21;
    g.opsets["com.microsoft"] = 1;
    g.opsets["qnn"] = 1;
  }
  GraphBuilder& input(const std::string& name, DType dtype, std::vector<std::int64_t> dims) {
    Value& v = g.ensure_value(name);
    v.dtype = dtype;
    v.dims = std::move(dims);
    g.inputs.push_back(name);
    return *this;
  }
  std::string constant(const std::string& name, Tensor t) {
    Value& v = g.ensure_value(name);
    v.dtype = t.dtype();
    v.dims = std::vector<std::int64_t>(t.shape().begin(), t.shape().end());
    v.constant = std::move(t);
    return name;
  }
  // Adds a node; `dtype`/`dims` describe its (first) output when given.
  Node& node(const std::string& domain, const std::string& op, std::vector<std::string> inputs,
             std::vector<std::string> outputs, const std::string& name = "") {
    Node n;
    n.name = name.empty() ? outputs.at(0) : name;
    n.domain = domain;
    n.op_type = op;
    n.inputs = std::move(inputs);
    n.outputs = std::move(outputs);
    for (const auto& o : n.outputs) g.ensure_value(o);
    g.nodes.push_back(std::move(n));
    return g.nodes.back();
  }
  void describe(const std::string& value, DType dtype, std::vector<std::int64_t> dims) {
    Value& v = g.ensure_value(value);
    v.dtype = dtype;
    v.dims = std::move(dims);
  }
  GraphBuilder& output(const std::string& name) {
    g.outputs.push_back(name);
    return *this;
  }
};

// Scale / zero-point constants of an XINT8 tensor at position `pos` (uint8, zero point 128), or an
// int8 one (zero point 0).
inline std::pair<std::string, std::string> xint8_quant(GraphBuilder& b, const std::string& name, int pos,
                                                       bool uint8 = true) {
  const std::string s = b.constant(name + "_s", Tensor::scalar<float>(std::ldexp(1.0f, -pos)));
  const std::string z = uint8 ? b.constant(name + "_z", Tensor::scalar<std::uint8_t>(128))
                              : b.constant(name + "_z", Tensor::scalar<std::int8_t>(0));
  return {s, z};
}

inline Tensor random_int8(const Shape& s, std::uint32_t seed, int lo = -128, int hi = 127) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> d(lo, hi);
  Tensor t(DType::i8, s);
  for (auto& v : t.span<std::int8_t>()) v = static_cast<std::int8_t>(d(rng));
  return t;
}
inline Tensor random_uint8(const Shape& s, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> d(0, 255);
  Tensor t(DType::u8, s);
  for (auto& v : t.span<std::uint8_t>()) v = static_cast<std::uint8_t>(d(rng));
  return t;
}
inline Tensor random_int32(const Shape& s, std::uint32_t seed, int lo, int hi) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> d(lo, hi);
  Tensor t(DType::i32, s);
  for (auto& v : t.span<std::int32_t>()) v = d(rng);
  return t;
}

template <class T>
std::vector<long long> values(const Tensor& x) {
  std::vector<long long> out;
  for (T v : x.span<T>()) out.push_back(static_cast<long long>(v));
  return out;
}

inline bool same_bytes(const Tensor& a, const Tensor& b) {
  return a.dtype() == b.dtype() && a.shape() == b.shape() && std::memcmp(a.raw(), b.raw(), a.bytes()) == 0;
}

}  // namespace backend_test
