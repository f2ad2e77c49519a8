// Human-readable facts about nodes for reports (qnn inspect, profile, partition): the quantization
// each quantized operand carries, read from the node's constant scale and zero-point inputs.
#pragma once

#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "qnn/graph/graph.hpp"

namespace qnn {

struct OperandQuant {
  std::string role;   // "x", "w", "y", ...
  std::string value;  // the quantized tensor's name
  std::vector<float> scales;
  std::vector<std::int64_t> zero_points;
  DType storage = DType::u8;
};

namespace detail {
// (role, tensor input index or -1 for the node's output, scale index, zero-point index)
struct OperandLayout {
  const char* role;
  int tensor;
  int scale;
  int zp;
};
inline const std::vector<OperandLayout>* operand_layout(const Node& n) {
  static const std::map<std::string, std::vector<OperandLayout>> layouts = {
      {"QuantizeLinear", {{"y", -1, 1, 2}}},
      {"DequantizeLinear", {{"x", 0, 1, 2}}},
      {"QLinearConv", {{"x", 0, 1, 2}, {"w", 3, 4, 5}, {"y", -1, 6, 7}}},
      {"QLinearMatMul", {{"a", 0, 1, 2}, {"b", 3, 4, 5}, {"y", -1, 6, 7}}},
      {"QGemm", {{"a", 0, 1, 2}, {"b", 3, 4, 5}, {"y", -1, 7, 8}}},
      {"QLinearAdd", {{"a", 0, 1, 2}, {"b", 3, 4, 5}, {"y", -1, 6, 7}}},
      {"QLinearMul", {{"a", 0, 1, 2}, {"b", 3, 4, 5}, {"y", -1, 6, 7}}},
      {"QLinearAveragePool", {{"x", 0, 1, 2}, {"y", -1, 3, 4}}},
      {"QLinearGlobalAveragePool", {{"x", 0, 1, 2}, {"y", -1, 3, 4}}},
      {"QLinearSigmoid", {{"x", 0, 1, 2}, {"y", -1, 3, 4}}},
      {"QLinearLeakyRelu", {{"x", 0, 1, 2}, {"y", -1, 3, 4}}},
      {"QLinearUnary", {{"x", 0, 1, 2}, {"y", -1, 3, 4}}},
      {"QLinearConcat", {{"y", -1, 0, 1}}},
  };
  auto it = layouts.find(n.op_type);
  return it == layouts.end() ? nullptr : &it->second;
}
}  // namespace detail

inline std::vector<OperandQuant> operand_quantization(const Graph& g, const Node& n) {
  std::vector<OperandQuant> out;
  const auto* layout = detail::operand_layout(n);
  if (!layout) return out;
  for (const auto& l : *layout) {
    if (!n.has_input(static_cast<std::size_t>(l.scale))) continue;
    const Tensor* s = g.constant(n.inputs[static_cast<std::size_t>(l.scale)]);
    if (!s || s->dtype() != DType::f32) continue;
    OperandQuant q;
    q.role = l.role;
    q.value = l.tensor < 0 ? n.outputs[0] : n.inputs[static_cast<std::size_t>(l.tensor)];
    for (float v : s->span<float>()) q.scales.push_back(v);
    const Tensor* z = n.has_input(static_cast<std::size_t>(l.zp)) ? g.constant(n.inputs[static_cast<std::size_t>(l.zp)]) : nullptr;
    if (z) {
      q.storage = z->dtype();
      visit_dtype(z->dtype(), [&](auto t) {
        using T = decltype(t);
        if constexpr (std::is_integral_v<T> && !std::same_as<T, bool>)
          for (T v : z->span<T>()) q.zero_points.push_back(static_cast<std::int64_t>(v));
      });
    } else {
      q.zero_points.assign(1, 0);
    }
    out.push_back(std::move(q));
  }
  return out;
}

inline std::string format_quant(const OperandQuant& q) {
  std::ostringstream os;
  os << q.role << ":" << q.storage;
  if (q.scales.size() == 1) {
    os << " s=" << q.scales[0] << " zp=" << (q.zero_points.empty() ? 0 : q.zero_points[0]);
  } else {
    float lo = q.scales[0], hi = q.scales[0];
    for (float v : q.scales) lo = std::min(lo, v), hi = std::max(hi, v);
    os << " per-channel(" << q.scales.size() << ") s=[" << lo << ".." << hi << "]";
  }
  return os.str();
}

inline std::string format_dims(const Value& v) {
  if (!v.dims) return "?";
  std::ostringstream os;
  os << '[';
  for (std::size_t i = 0; i < v.dims->size(); ++i) {
    if (i) os << ',';
    const std::int64_t d = (*v.dims)[i];
    if (d != kDynamicDim) os << d;
    else if (i < v.dim_params.size() && !v.dim_params[i].empty()) os << v.dim_params[i];
    else os << 'N';
  }
  os << ']';
  return os.str();
}

}  // namespace qnn
