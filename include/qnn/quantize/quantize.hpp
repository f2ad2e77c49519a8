// qnn::quant::quantize — the entry point of post-training quantization (see quantizer.hpp for the
// steps). Returns the QDQ graph and a log of every decision a user may want to audit.
#pragma once

#include <chrono>
#include <map>
#include <set>
#include <string>

#include "qnn/graph/graph.hpp"
#include "qnn/quantize/bias_correction.hpp"
#include "qnn/quantize/calib_reader.hpp"
#include "qnn/quantize/cle.hpp"
#include "qnn/quantize/finetune.hpp"
#include "qnn/quantize/config.hpp"
#include "qnn/quantize/methods.hpp"
#include "qnn/quantize/plan.hpp"
#include "qnn/quantize/qdq_build.hpp"
#include "qnn/quantize/quantizer.hpp"
#include "qnn/quantize/xint8.hpp"
#include "qnn/runtime/session.hpp"

namespace qnn::quant {

struct QuantizeOptions {
  int threads = 1;        // threads of the calibration session
  ProgressFn progress;    // called after every calibration batch
};

inline QuantizeResult quantize(const Graph& model, CalibrationReader& reader, const QuantConfig& cfg,
                               const QuantizeOptions& opt = {}) {
  const auto t0 = std::chrono::steady_clock::now();
  cfg.validate();
  check(cfg.integer(), "the bf16 configuration has no integer quantization; use quantize_bf16()");
  QuantizeResult r;
  Graph g = model;
  prepare_float_graph(g);
  if (cfg.cle) apply_cle(g, r.log);
  const Plan plan = plan_quantization(g, cfg);
  check(!plan.tensors.empty(), "nothing to quantize: the model has no operator qnn quantizes");
  std::set<std::string> roots;
  for (const auto& t : plan.tensors) roots.insert(plan.root(t));
  const CalibrationStats stats = collect_statistics(g, roots, reader, cfg, opt.threads, opt.progress);
  r.samples = stats.samples;
  const Histogram none;
  for (const auto& t : roots) {
    const auto h = stats.histograms.find(t);
    r.params[t] = with_context("tensor '" + t + "'", [&] {
      return calibrate_tensor(cfg.method, stats.ranges.at(t), h == stats.histograms.end() ? none : h->second,
                              cfg.activation, cfg.method_options);
    });
  }
  for (const auto& t : plan.tensors) r.params[t] = r.params.at(plan.root(t));
  if (cfg.preset == Preset::xint8) apply_xint8_rules(g, plan, cfg, r.params, r.log);
  r.graph = build_qdq(g, plan, r.params, cfg, r.log);
  if (cfg.finetune) finetune(g, r.graph, reader, cfg, opt.threads, r.log);
  if (cfg.bias_correction) correct_bias(g, r.graph, reader, cfg, opt.threads, r.log);
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return r;
}

}  // namespace qnn::quant
