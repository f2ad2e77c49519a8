// XINT8: the NPU's constraints on power-of-two positions (pos = −log2 scale), applied as AMD
// Quark's NPULimitationCheck does (reference/quantization-toolchains.md §1.5), each change logged
// with its reason:
//   align_pool   AveragePool / GlobalAveragePool: input and output share one position — the
//                smaller (coarser) of the two          (MaxPool and movement ops share by design)
//   align_concat Concat: every input and the output take the smallest position
//   shift_read   Add: max(ipos) − min(ipos) ≤ 7; the largest input position is lowered
//   shift_write  Add: min(ipos) − opos ∈ [−7, 25]; Mul: Σipos − opos ∈ [0, 32]; opos moves
//   shift_cut    Conv / Gemm / MatMul: wpos + ipos − opos ∈ [0, 16]; wpos moves (applied where
//                the weights are quantized, xint8_shift_cut())
// Rules repeat until nothing changes (at most 5 rounds, as Quark). Biases are int32 at s_x·s_w,
// so Quark's shift_bias rule (for int8 biases) does not arise; this is a deliberate choice: an int32
// bias loses nothing, an int8 one can.
#pragma once

#include <algorithm>
#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "qnn/core/error.hpp"
#include "qnn/graph/graph.hpp"
#include "qnn/quantize/config.hpp"
#include "qnn/quantize/plan.hpp"
#include "qnn/quantize/qparams.hpp"

namespace qnn::quant {

inline int pos_of(float scale) { return static_cast<int>(std::lround(-std::log2(double{scale}))); }
inline float scale_of(int pos) { return std::ldexp(1.0f, -pos); }

inline void apply_xint8_rules(const Graph& g, const Plan& plan, const QuantConfig& cfg,
                              std::map<std::string, QParams>& params, std::vector<std::string>& log) {
  (void)cfg;
  auto pos = [&](const std::string& t) { return pos_of(params.at(t).scale); };
  // Sets the position of t — and of every tensor sharing its parameters.
  auto set_pos = [&](const std::string& t, int p, const std::string& why) {
    const int old = pos(t);
    if (old == p) return false;
    const std::string root = plan.root(t);
    for (auto& [name, qp] : params)
      if (plan.root(name) == root) qp.scale = scale_of(p);
    log.push_back(qnn::detail::cat("xint8: tensor '", t, "' position ", old, " -> ", p, " (", why, ")"));
    return true;
  };
  auto quantized = [&](const std::string& t) { return params.count(t) != 0; };
  for (int round = 0; round < 5; ++round) {
    bool changed = false;
    for (std::size_t i : plan.nodes) {
      const Node& n = g.nodes[i];
      const std::string& t = n.op_type;
      if ((t == "AveragePool" || t == "GlobalAveragePool") && quantized(n.inputs[0]) && quantized(n.outputs[0])) {
        const int p = std::min(pos(n.inputs[0]), pos(n.outputs[0]));
        changed |= set_pos(n.inputs[0], p, "align_pool: " + n.name + " input and output share a position");
        changed |= set_pos(n.outputs[0], p, "align_pool: " + n.name + " input and output share a position");
      } else if (t == "Concat") {
        int p = quantized(n.outputs[0]) ? pos(n.outputs[0]) : 1 << 20;
        for (const auto& in : n.inputs)
          if (quantized(in)) p = std::min(p, pos(in));
        for (const auto& in : n.inputs)
          if (quantized(in)) changed |= set_pos(in, p, "align_concat: " + n.name + " inputs and output share a position");
        if (quantized(n.outputs[0]))
          changed |= set_pos(n.outputs[0], p, "align_concat: " + n.name + " inputs and output share a position");
      } else if (t == "Add" && n.inputs.size() == 2 && quantized(n.inputs[0]) && quantized(n.inputs[1]) &&
                 quantized(n.outputs[0])) {
        const int a = pos(n.inputs[0]), b = pos(n.inputs[1]);
        if (std::max(a, b) - std::min(a, b) > 7) {
          const std::string& hi = a > b ? n.inputs[0] : n.inputs[1];
          changed |= set_pos(hi, std::min(a, b) + 7, "shift_read: " + n.name + " input positions may differ by at most 7");
        }
        const int lo = std::min(pos(n.inputs[0]), pos(n.inputs[1]));
        const int o = pos(n.outputs[0]);
        if (lo - o < -7) changed |= set_pos(n.outputs[0], lo + 7, "shift_write: " + n.name + " min(ipos) − opos ≥ −7");
        if (lo - o > 25) changed |= set_pos(n.outputs[0], lo - 25, "shift_write: " + n.name + " min(ipos) − opos ≤ 25");
      } else if (t == "Mul" && n.inputs.size() == 2 && quantized(n.inputs[0]) && quantized(n.inputs[1]) &&
                 quantized(n.outputs[0])) {
        const int sum = pos(n.inputs[0]) + pos(n.inputs[1]);
        const int o = pos(n.outputs[0]);
        if (sum - o < 0) changed |= set_pos(n.outputs[0], sum, "shift_write: " + n.name + " Σipos − opos ≥ 0");
        if (sum - o > 32) changed |= set_pos(n.outputs[0], sum - 32, "shift_write: " + n.name + " Σipos − opos ≤ 32");
      }
    }
    if (!changed) break;
  }
}

// shift_cut for a compute node: the weight position that keeps wpos + ipos − opos in [0, 16].
inline int xint8_shift_cut(const std::string& node, int wpos, int ipos, int opos, std::vector<std::string>& log) {
  const int cut = wpos + ipos - opos;
  int w = wpos;
  if (cut > 16) w = opos - ipos + 16;
  if (cut < 0) w = opos - ipos;
  if (w != wpos)
    log.push_back(qnn::detail::cat("xint8: '", node, "' weight position ", wpos, " -> ", w, " (shift_cut = wpos + ipos − opos = ",
                              cut, " must lie in [0, 16])"));
  return w;
}

}  // namespace qnn::quant
