// Cross-layer equalization (CLE; Nagel et al., "Data-Free Quantization Through Weight Equalization
// and Bias Correction", ICCV 2019 — what AMD Quark's CLEConfig does), on the prepared float graph.
//
// Two weight layers A → B joined only through positively homogeneous ops, f(s·x) = s·f(x) for
// s > 0 (Relu, LeakyRelu, MaxPool, AveragePool, GlobalAveragePool, and one Flatten/Reshape that
// turns an N×C×H×W tensor into N×(C·H·W), where channel c becomes the contiguous feature group
// [c·H·W, (c+1)·H·W)), compute the same function when output channel c of A is divided by s_c and
// the inputs of B that read channel c are multiplied by s_c. With the per-channel weight ranges
//   r1[c] = max |W_A[c, …]|      r2[c] = max |W_B[…, inputs of c]|
// the choice s_c = sqrt(r1·r2) / r2 gives both the same range sqrt(r1·r2), which is what a
// per-tensor weight quantizer wants (and it evens out the activation channels between A and B).
// b_A[c] is divided by s_c too. Channels with r1 = 0 or r2 = 0 keep s = 1.
//
// In a chain (conv1 → conv2 → fc1 → …) equalizing one pair disturbs its neighbours, so all pairs
// are equalized in order, repeatedly, until one sweep changes the weights by less than
// `threshold` (Σ over the layers of mean |ΔW|, Quark's convergence measure and threshold 1.9e−7)
// or after `max_steps` sweeps. Balance method: "max" (Quark's default and only documented one).
// Deliberate differences from Quark: r1 does not include the bias (Quark's cle_scale_append_bias
// appends a heuristically shrunk bias), and channels with small weights are equalized too (Quark's
// cle_scale_use_threshold skips channels with r1 + r2 < 0.5, which on a small model is most of them).
//
// Layers: Conv (any group count; the tail maps input channel c into its group), Gemm (transA = 0
// as a tail, a bias C with one value per output or none) and MatMul with a constant 2-D weight.
// Every tensor on the chain must have exactly one reader and not be a graph output. A weight or
// bias shared with another node is copied first (Graph::add_constant), so nothing outside the pair
// changes.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "qnn/core/error.hpp"
#include "qnn/core/tensor.hpp"
#include "qnn/graph/graph.hpp"
#include "qnn/quantize/config.hpp"

namespace qnn::quant {

namespace detail {

// Where the weights of one channel of a layer sit in its (row-major) weight tensor: for channel c,
// `outer` runs of `inner` consecutive elements, `outer_stride` apart, starting at
// (c / per_group)·group_stride + (c % per_group)·channel_stride.
struct ChannelSlices {
  std::int64_t outer = 1, outer_stride = 0, inner = 1;
  std::int64_t per_group = std::numeric_limits<std::int64_t>::max(), group_stride = 0, channel_stride = 0;

  template <class F>
  void each(std::span<float> w, std::int64_t c, F&& f) const {
    const std::int64_t base = (c / per_group) * group_stride + (c % per_group) * channel_stride;
    for (std::int64_t o = 0; o < outer; ++o)
      for (std::int64_t i = 0; i < inner; ++i) f(w[static_cast<std::size_t>(base + o * outer_stride + i)]);
  }
  double absmax(std::span<float> w, std::int64_t c) const {
    double m = 0;
    each(w, c, [&](float v) { m = std::max(m, double{std::fabs(v)}); });
    return m;
  }
};

struct ClePair {
  std::size_t head = 0, tail = 0;   // node indices
  std::string via;                  // the ops in between, for the log
  std::int64_t channels = 0;
  ChannelSlices head_slices, tail_slices;
  std::vector<double> total_scale;  // product of the s_c applied over all sweeps
  std::vector<double> r1_before, r2_before;
};

// A constant input of node `i` that only this node reads; copied (and rewired) when it is shared.
inline std::string private_constant(Graph& g, std::size_t i, std::size_t input) {
  std::string name = g.nodes[i].inputs[input];
  std::size_t uses = 0;
  for (const Node& n : g.nodes)
    for (const auto& in : n.inputs) uses += in == name;
  if (uses == 1 && !g.is_graph_output(name)) return name;
  std::string copy = g.add_constant(name + "_cle", *g.constant(name));
  g.nodes[i].inputs[input] = copy;
  return copy;
}

// Output-channel slices of a head layer, and its channel count; false if the layer cannot head a pair.
inline bool head_slices(const Graph& g, const Node& n, ChannelSlices& s, std::int64_t& channels) {
  const Tensor* w = n.has_input(1) ? g.constant(n.inputs[1]) : nullptr;
  if (!w || w->dtype() != DType::f32) return false;
  const Shape& ws = w->shape();
  if (n.op_type == "Conv") {
    if (ws.rank() < 3) return false;
    channels = ws[0];
    s.inner = w->numel() / channels;
    s.channel_stride = s.inner;
  } else if (n.op_type == "Gemm" || n.op_type == "MatMul") {
    if (ws.rank() != 2) return false;
    if (n.op_type == "Gemm" && n.attrs.get_int("transB", 0)) {
      channels = ws[0];
      s.inner = ws[1];
      s.channel_stride = ws[1];
    } else {
      channels = ws[1];
      s.outer = ws[0];
      s.outer_stride = ws[1];
      s.channel_stride = 1;
    }
  } else {
    return false;
  }
  if (n.has_input(2)) {  // the bias must hold one value per output channel
    const Tensor* b = g.constant(n.inputs[2]);
    if (!b || b->dtype() != DType::f32 || b->numel() != channels) return false;
    if (n.op_type == "Gemm" && b->shape().rank() == 2 && b->shape()[0] != 1) return false;
  }
  return channels > 0;
}

// Input-channel slices of a tail layer for `channels` channels of `group` features each.
inline bool tail_slices(const Graph& g, const Node& n, std::int64_t channels, std::int64_t group, bool spatial,
                        ChannelSlices& s) {
  const Tensor* w = n.has_input(1) ? g.constant(n.inputs[1]) : nullptr;
  if (!w || w->dtype() != DType::f32) return false;
  const Shape& ws = w->shape();
  if (n.op_type == "Conv") {
    if (!spatial || group != 1 || ws.rank() < 3) return false;
    const std::int64_t groups = n.attrs.get_int("group", 1);
    const std::int64_t cpg = ws[1];
    if (groups < 1 || cpg * groups != channels || ws[0] % groups) return false;
    const std::int64_t mpg = ws[0] / groups;
    const std::int64_t khw = w->numel() / (ws[0] * cpg);
    s.per_group = cpg;
    s.group_stride = mpg * cpg * khw;
    s.channel_stride = khw;
    s.outer = mpg;
    s.outer_stride = cpg * khw;
    s.inner = khw;
    return true;
  }
  if ((n.op_type != "Gemm" && n.op_type != "MatMul") || spatial) return false;
  if (ws.rank() != 2 || (n.op_type == "Gemm" && n.attrs.get_int("transA", 0))) return false;
  const bool trans_b = n.op_type == "Gemm" && n.attrs.get_int("transB", 0);
  const std::int64_t k = trans_b ? ws[1] : ws[0];
  if (k != channels * group) return false;
  if (trans_b) {  // [N, K]: columns c·G … c·G + G − 1
    s.outer = ws[0];
    s.outer_stride = ws[1];
    s.inner = group;
    s.channel_stride = group;
  } else {        // [K, N]: rows c·G … c·G + G − 1, contiguous
    s.inner = group * ws[1];
    s.channel_stride = group * ws[1];
  }
  return true;
}

// The features per channel after a Flatten/Reshape from N×C×spatial to N×(C·spatial); 0 if it is not one.
inline std::int64_t flatten_group(const Graph& g, const Node& n) {
  const Value& in = g.value(n.inputs[0]);
  const Value& out = g.value(n.outputs[0]);
  if (!in.dims || !out.dims || in.dims->size() < 3 || out.dims->size() != 2) return 0;
  if (n.op_type == "Flatten" && n.attrs.get_int("axis", 1) != 1) return 0;
  const auto& id = *in.dims;
  const auto& od = *out.dims;
  if (id[0] != od[0]) return 0;
  std::int64_t group = 1;
  for (std::size_t a = 2; a < id.size(); ++a) {
    if (id[a] == kDynamicDim) return 0;
    group *= id[a];
  }
  if (id[1] == kDynamicDim || od[1] != id[1] * group) return 0;
  return group;
}

// Walks from layer `h` through positively homogeneous ops to the next weight layer.
inline std::optional<ClePair> find_pair(const Graph& g, std::size_t h) {
  ClePair p;
  p.head = h;
  const Node& head = g.nodes[h];
  if (!head.domain.empty() || !head_slices(g, head, p.head_slices, p.channels)) return std::nullopt;
  bool spatial = head.op_type == "Conv";  // the channel axis is 1 of an N×C×… tensor
  std::int64_t group = 1;
  std::string t = head.outputs[0];
  for (int hops = 0; hops < 16; ++hops) {
    if (t.empty() || g.is_graph_output(t)) return std::nullopt;
    const auto users = g.consumers(t);
    if (users.size() != 1) return std::nullopt;
    const auto u = static_cast<std::size_t>(users[0]);
    const Node& n = g.nodes[u];
    if (!n.domain.empty() || n.inputs.empty() || n.inputs[0] != t) return std::nullopt;
    for (std::size_t i = 1; i < n.inputs.size(); ++i)
      if (n.inputs[i] == t) return std::nullopt;
    const std::string& op = n.op_type;
    if (op == "Conv" || op == "Gemm" || op == "MatMul") {
      if (!tail_slices(g, n, p.channels, group, spatial, p.tail_slices)) return std::nullopt;
      p.tail = u;
      return p;
    }
    const bool elementwise = op == "Relu" || op == "LeakyRelu";
    const bool pool = op == "MaxPool" || op == "AveragePool" || op == "GlobalAveragePool";
    if (pool && (!spatial || (n.outputs.size() > 1 && !n.outputs[1].empty()))) return std::nullopt;
    if (op == "Flatten" || op == "Reshape") {
      if (!spatial) return std::nullopt;
      group = flatten_group(g, n);
      if (group == 0) return std::nullopt;
      spatial = false;
    } else if (!elementwise && !pool) {
      return std::nullopt;
    }
    p.via += (p.via.empty() ? "" : "→") + op;
    t = n.outputs[0];
  }
  return std::nullopt;
}

inline std::string range_text(const std::vector<double>& r) {
  double lo = std::numeric_limits<double>::infinity(), hi = 0;
  for (double v : r)
    if (v > 0) lo = std::min(lo, v), hi = std::max(hi, v);
  if (hi == 0) return "[0, 0]";
  return qnn::detail::cat("[", lo, ", ", hi, "] (", hi / lo, "×)");
}

}  // namespace detail

// Equalizes every pair of the float graph in place; one log line per equalized pair and one summary.
inline void apply_cle(Graph& g, std::vector<std::string>& log, const CleOptions& opt = {}) {
  check(opt.max_steps >= 1 && opt.threshold >= 0, "cle: max_steps must be ≥ 1 and threshold ≥ 0");
  std::vector<detail::ClePair> pairs;
  for (std::size_t i = 0; i < g.nodes.size(); ++i)
    if (auto p = detail::find_pair(g, i)) pairs.push_back(std::move(*p));
  if (pairs.empty()) {
    log.push_back("cle: no pair of weight layers joined by positively homogeneous ops; nothing equalized");
    return;
  }
  // Make every weight and bias the pairs touch private to its node.
  std::vector<std::size_t> layers;
  for (const auto& p : pairs) layers.push_back(p.head), layers.push_back(p.tail);
  std::sort(layers.begin(), layers.end());
  layers.erase(std::unique(layers.begin(), layers.end()), layers.end());
  for (std::size_t i : layers) {
    detail::private_constant(g, i, 1);
    if (g.nodes[i].has_input(2)) detail::private_constant(g, i, 2);
  }
  auto weights = [&](std::size_t i) { return g.value(g.nodes[i].inputs[1]).constant->span<float>(); };
  for (auto& p : pairs) {
    p.total_scale.assign(static_cast<std::size_t>(p.channels), 1.0);
    for (std::int64_t c = 0; c < p.channels; ++c) {
      p.r1_before.push_back(p.head_slices.absmax(weights(p.head), c));
      p.r2_before.push_back(p.tail_slices.absmax(weights(p.tail), c));
    }
  }

  int steps = 0;
  double diff = 0;
  for (; steps < opt.max_steps;) {
    std::vector<std::vector<float>> before;
    for (std::size_t i : layers) before.emplace_back(weights(i).begin(), weights(i).end());
    for (auto& p : pairs) {
      auto w1 = weights(p.head);
      auto w2 = weights(p.tail);
      std::span<float> b1;
      if (g.nodes[p.head].has_input(2)) b1 = g.value(g.nodes[p.head].inputs[2]).constant->span<float>();
      for (std::int64_t c = 0; c < p.channels; ++c) {
        const double r1 = p.head_slices.absmax(w1, c);
        const double r2 = p.tail_slices.absmax(w2, c);
        if (!(r1 > 0) || !(r2 > 0)) continue;
        const double s = std::sqrt(r1 * r2) / r2;
        p.head_slices.each(w1, c, [&](float& v) { v = static_cast<float>(v / s); });
        p.tail_slices.each(w2, c, [&](float& v) { v = static_cast<float>(v * s); });
        if (!b1.empty()) b1[static_cast<std::size_t>(c)] = static_cast<float>(b1[static_cast<std::size_t>(c)] / s);
        p.total_scale[static_cast<std::size_t>(c)] *= s;
      }
    }
    ++steps;
    diff = 0;
    for (std::size_t l = 0; l < layers.size(); ++l) {
      const auto w = weights(layers[l]);
      double sum = 0;
      for (std::size_t k = 0; k < w.size(); ++k) sum += std::fabs(double{w[k]} - double{before[l][k]});
      diff += w.empty() ? 0 : sum / static_cast<double>(w.size());
    }
    if (diff < opt.threshold) break;
  }

  for (const auto& p : pairs) {
    const Node& a = g.nodes[p.head];
    const Node& b = g.nodes[p.tail];
    std::vector<double> r1, r2;
    double smin = std::numeric_limits<double>::infinity(), smax = 0;
    std::int64_t scaled = 0;
    for (std::int64_t c = 0; c < p.channels; ++c) {
      r1.push_back(p.head_slices.absmax(weights(p.head), c));
      r2.push_back(p.tail_slices.absmax(weights(p.tail), c));
      const double s = p.total_scale[static_cast<std::size_t>(c)];
      smin = std::min(smin, s), smax = std::max(smax, s);
      scaled += s != 1.0;
    }
    log.push_back(qnn::detail::cat(
        "cle: '", a.name, "' → '", b.name, "' (via ", p.via.empty() ? "nothing" : p.via, "): ", scaled, " of ",
        p.channels, " channels rescaled, s ∈ [", smin, ", ", smax, "] (W_", a.name, "[c] and its bias /= s, the '",
        b.name, "' weights reading c *= s); per-channel max|W| of '", a.name, "' ", detail::range_text(p.r1_before),
        " → ", detail::range_text(r1), ", of '", b.name, "' per input channel ", detail::range_text(p.r2_before), " → ",
        detail::range_text(r2)));
  }
  log.push_back(qnn::detail::cat("cle: ", pairs.size(), " pairs, ", steps, " sweeps, last sweep changed the weights by ",
                                 diff, " (Σ mean|ΔW|; ", diff < opt.threshold ? "converged below " : "stopped at max_steps, threshold ",
                                 opt.threshold, ")"));
}

}  // namespace qnn::quant
