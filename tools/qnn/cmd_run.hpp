// qnn run MODEL.onnx --input X.npy [--input X2.npy ...] --output Y.npy [--output Y2.npy ...]
//        [--threads N] [--backend cpu|cpu-ref|npu-emu] [--precision bf16] [--no-optimize]
#pragma once

#include <iostream>
#include <string>
#include <vector>

#include "args.hpp"
#include "session_options.hpp"
#include "qnn/io/npy.hpp"
#include "qnn/onnx/import.hpp"
#include "qnn/runtime/session.hpp"

namespace qnn::cli {

inline int cmd_run(int argc, char** argv) {
  auto valued = kSessionValued;
  valued.insert({"input", "output"});
  const Args a(argc, argv, 2, valued, kSessionFlags);
  const std::string model = a.require_positional(0, "MODEL.onnx");
  check(a.positional().size() == 1, "unexpected argument '", a.positional().size() > 1 ? a.positional()[1] : "", "'");
  const auto inputs = a.all("input");
  const auto outputs = a.all("output");
  check(!outputs.empty(), "--output Y.npy is required");
  return with_session(a, onnx::load_graph(model), [&](const auto& session) {
    check(inputs.size() == session.input_names().size(), model, ": the model has ", session.input_names().size(),
          " inputs, ", inputs.size(), " --input files given");
    check(outputs.size() <= session.output_names().size(), model, ": the model has ", session.output_names().size(),
          " outputs, ", outputs.size(), " --output files given");
    std::vector<Tensor> xs;
    for (const auto& f : inputs) xs.push_back(io::load_npy(f));
    for (std::size_t i = 0; i < xs.size(); ++i)
      with_context("input '" + session.input_names()[i] + "' (" + inputs[i] + ")", [&] {
        const Value& v = session.graph().value(session.input_names()[i]);
        if (v.dtype) check(xs[i].dtype() == *v.dtype, "the model expects ", *v.dtype, ", the file holds ", xs[i].dtype());
      });
    const auto ys = session.run(std::span<const Tensor>(xs));
    for (std::size_t i = 0; i < outputs.size(); ++i) io::save_npy(outputs[i], ys[i]);
    return 0;
  });
}

}  // namespace qnn::cli
