// Session options shared by the commands that run a model (--threads, --backend, --precision,
// --requant, --no-optimize), and the XRT backend's (--xrt-manifest FILE, --xrt-timeout MS,
// --xrt-allow-cpu: run everything on the CPU, reported, when no XRT device can be opened).
#pragma once

#include <set>
#include <string>
#include <vector>

#include "args.hpp"
#include "qnn/backends/backends.hpp"
#include "qnn/core/error.hpp"
#include "qnn/io/npy.hpp"
#include "qnn/runtime/kernel.hpp"
#include "qnn/runtime/session.hpp"

namespace qnn::cli {

inline const std::set<std::string> kSessionValued{"threads", "backend", "precision", "requant", "xrt-manifest",
                                                  "xrt-timeout"};
inline const std::set<std::string> kSessionFlags{"no-optimize", "xrt-allow-cpu"};

inline SessionOptions session_options(const Args& a) {
  SessionOptions o;
  o.threads = a.get_int("threads", 1);
  check(o.threads >= 1 && o.threads <= 256, "--threads must be between 1 and 256, got ", o.threads);
  const std::string backend = a.get("backend", "cpu");
  backends::check_backend_name(backend);  // an unknown or unavailable backend fails here
  const std::string precision = a.get("precision", "as-written");
  if (precision == "bf16") o.precision = Precision::bf16;
  else check(precision == "as-written" || precision == "fp32", "unknown precision '", precision, "' (as-written, bf16)");
  // The NPU emulator's host nodes (quantizing the input) round like the NPU unless told otherwise.
  const std::string rq = a.get("requant", backend == backends::npu::Emulator::name ? "npu-pow2" : "onnx-float");
  bool found = false;
  for (RequantPolicy p : {RequantPolicy::onnx_float, RequantPolicy::tflite_double_round,
                          RequantPolicy::tflite_single_round, RequantPolicy::npu_pow2})
    if (name_of(p) == rq) {
      o.requant = p;
      found = true;
    }
  check(found, "unknown requantization policy '", rq,
        "' (onnx-float, tflite-double-round, tflite-single-round, npu-pow2)");
  o.optimize = !a.has("no-optimize");
  return o;
}

inline backends::BackendOptions backend_options(const Args& a) {
  backends::BackendOptions o;
  o.xrt_manifest = a.get("xrt-manifest", "");
  o.xrt_require_device = !a.has("xrt-allow-cpu");
  o.xrt_timeout_ms = a.get_int("xrt-timeout", 10000);
  check(o.xrt_timeout_ms >= 0, "--xrt-timeout must not be negative, got ", o.xrt_timeout_ms);
  return o;
}

// Makes the session of the --backend the arguments name (cpu by default) and calls f(session).
template <class F>
decltype(auto) with_session(const Args& a, Graph graph, F&& f) {
  const SessionOptions o = session_options(a);
  return backends::visit_backend(a.get("backend", "cpu"), backend_options(a), [&](auto backend) -> decltype(auto) {
    using B = decltype(backend);
    const BasicSession<B> s(std::move(graph), o, builtin_registry(), std::move(backend));
    return f(s);
  });
}

// The --input files of `run` and `profile`: one .npy per model input, in order, each of the dtype
// the model declares (shapes are checked by the session when it runs).
template <class S>
std::vector<Tensor> load_inputs(const S& session, const std::string& model, const std::vector<std::string>& files) {
  check(files.size() == session.input_names().size(), model, ": the model has ", session.input_names().size(),
        " inputs, ", files.size(), " --input files given");
  std::vector<Tensor> xs;
  for (std::size_t i = 0; i < files.size(); ++i) {
    xs.push_back(io::load_npy(files[i]));
    with_context("input '" + session.input_names()[i] + "' (" + files[i] + ")", [&] {
      const Value& v = session.graph().value(session.input_names()[i]);
      if (v.dtype) check(xs[i].dtype() == *v.dtype, "the model expects ", *v.dtype, ", the file holds ", xs[i].dtype());
    });
  }
  return xs;
}

}  // namespace qnn::cli
