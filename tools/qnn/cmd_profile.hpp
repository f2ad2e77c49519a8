// qnn profile MODEL.onnx --input X.npy [--input X2.npy ...] [--runs N] [--warmup N] [--json]
//        [--threads N] [--backend cpu|cpu-ref|npu-emu|xrt] [--precision bf16] [--requant POLICY]
//
// Per-node time (median of the runs), MACs, GMAC/s and share of the run, as a table or as JSON
// (runtime/profile.hpp). The batch is the inputs' first axis.
#pragma once

#include <iostream>
#include <span>
#include <string>
#include <vector>

#include "args.hpp"
#include "session_options.hpp"
#include "qnn/io/npy.hpp"
#include "qnn/onnx/import.hpp"
#include "qnn/runtime/profile.hpp"

namespace qnn::cli {

inline int cmd_profile(int argc, char** argv) {
  auto valued = kSessionValued;
  valued.insert({"input", "runs", "warmup"});
  auto flags = kSessionFlags;
  flags.insert("json");
  const Args a(argc, argv, 2, valued, flags);
  const std::string model = a.require_positional(0, "MODEL.onnx");
  check(a.positional().size() == 1, "unexpected argument '", a.positional().size() > 1 ? a.positional()[1] : "", "'");
  const auto inputs = a.all("input");
  ProfileOptions po;
  po.runs = a.get_int("runs", po.runs);
  po.warmup = a.get_int("warmup", po.warmup);
  check(po.runs >= 1 && po.runs <= 100000, "--runs must be between 1 and 100000, got ", po.runs);
  check(po.warmup >= 0 && po.warmup <= 100000, "--warmup must be between 0 and 100000, got ", po.warmup);
  return with_session(a, onnx::load_graph(model), [&](const auto& session) {
    const std::vector<Tensor> xs = load_inputs(session, model, inputs);
    const Profile p = profile(session, std::span<const Tensor>(xs), po);
    if (a.has("json")) std::cout << profile_json(p).dump() << "\n";
    else std::cout << model << "\n" << format_profile(p);
    return 0;
  });
}

}  // namespace qnn::cli
