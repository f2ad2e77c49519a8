// Session options shared by the commands that run a model (--threads, --backend, --precision,
// --no-optimize).
#pragma once

#include <set>
#include <string>

#include "args.hpp"
#include "qnn/backends/backends.hpp"
#include "qnn/core/error.hpp"
#include "qnn/runtime/kernel.hpp"
#include "qnn/runtime/session.hpp"

namespace qnn::cli {

inline const std::set<std::string> kSessionValued{"threads", "backend", "precision", "requant"};
inline const std::set<std::string> kSessionFlags{"no-optimize"};

inline SessionOptions session_options(const Args& a) {
  SessionOptions o;
  o.threads = a.get_int("threads", 1);
  check(o.threads >= 1 && o.threads <= 256, "--threads must be between 1 and 256, got ", o.threads);
  const std::string backend = a.get("backend", "cpu");
  backends::visit_backend(backend, [](auto) {});  // an unknown or unavailable backend fails here
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

// Makes the session of the --backend the arguments name (cpu by default) and calls f(session).
template <class F>
decltype(auto) with_session(const Args& a, Graph graph, F&& f) {
  const SessionOptions o = session_options(a);
  return backends::visit_backend(a.get("backend", "cpu"), [&](auto backend) -> decltype(auto) {
    using B = decltype(backend);
    const BasicSession<B> s(std::move(graph), o, builtin_registry(), std::move(backend));
    return f(s);
  });
}

}  // namespace qnn::cli
