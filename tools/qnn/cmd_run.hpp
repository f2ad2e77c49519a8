// qnn run MODEL.onnx --input X.npy [--input X2.npy ...] --output Y.npy [--output Y2.npy ...]
//        [--threads N] [--backend cpu|cpu-ref|npu-emu|xrt] [--precision bf16] [--no-optimize]
#pragma once

#include <cstddef>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "args.hpp"
#include "session_options.hpp"
#include "qnn/io/file.hpp"
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
  std::vector<std::string> read = inputs;
  read.push_back(model);
  for (const auto& out : outputs) check_not_an_input(out, read);
  for (std::size_t i = 0; i < outputs.size(); ++i)
    for (std::size_t j = i + 1; j < outputs.size(); ++j)
      check(outputs[i] != outputs[j], "--output '", outputs[i], "' is given twice");
  return with_session(a, onnx::load_graph(model), [&](const auto& session) {
    check(outputs.size() <= session.output_names().size(), model, ": the model has ", session.output_names().size(),
          " outputs, ", outputs.size(), " --output files given");
    const std::vector<Tensor> xs = load_inputs(session, model, inputs);
    const auto ys = session.run(std::span<const Tensor>(xs));
    // All or nothing: every output is encoded (the step that can refuse a tensor) before the first
    // file is written, and outputs already written are removed if a later write fails.
    std::vector<std::vector<std::byte>> bytes;
    for (std::size_t i = 0; i < outputs.size(); ++i)
      bytes.push_back(with_context(io::file_context(outputs[i]), [&] { return io::serialize_npy(ys[i]); }));
    std::size_t written = 0;
    try {
      for (; written < outputs.size(); ++written) io::write_file_atomic(outputs[written], bytes[written]);
    } catch (...) {
      for (std::size_t i = 0; i < written; ++i) {
        std::error_code ec;
        if (std::filesystem::is_regular_file(outputs[i], ec)) std::filesystem::remove(outputs[i], ec);
      }
      throw;
    }
    return 0;
  });
}

}  // namespace qnn::cli
