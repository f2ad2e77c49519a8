// qnn compare FLOAT.onnx QUANT.onnx --input X.npy [--json] [--threads N]
//     the per-layer error report: SQNR, cosine and max error in LSB of every quantized tensor
// qnn compare QUANT.onnx --as-written --input X.npy [--json] [--list N] [--threads N]
//     the QDQ model as written (DequantizeLinear → float op → QuantizeLinear) against qnn's fused
//     integer kernels: every element that differs, and why
#pragma once

#include <iomanip>
#include <iostream>
#include <string>

#include "args.hpp"
#include "qnn/io/json.hpp"
#include "qnn/io/npy.hpp"
#include "qnn/onnx/import.hpp"
#include "qnn/quantize/as_written.hpp"
#include "qnn/quantize/report.hpp"

namespace qnn::cli {

inline int cmd_compare(int argc, char** argv) {
  const Args a(argc, argv, 2, {"input", "threads", "list"}, {"json", "as-written"});
  check(a.has("input"), "--input X.npy is required");
  std::vector<Tensor> xs;
  for (const auto& f : a.all("input")) xs.push_back(io::load_npy(f));
  const int threads = a.get_int("threads", 1);

  if (a.has("as-written")) {
    check(a.positional().size() == 1, "compare --as-written takes one model (the QDQ model)");
    const std::string model = a.positional()[0];
    const auto rep = quant::compare_as_written(onnx::load_graph(model), xs, threads);
    if (a.has("json")) {
      json::Value ts = json::Value::array();
      for (const auto& t : rep.tensors)
        ts.push(json::Value::object().set("tensor", t.tensor).set("op", t.op).set("elements", t.elements)
                    .set("differing", t.differing).set("max_abs_lsb", t.max_abs));
      json::Value es = json::Value::array();
      for (const auto& e : rep.elements)
        es.push(json::Value::object().set("tensor", e.tensor).set("index", e.index).set("as_written", e.as_written)
                    .set("fused", e.fused).set("value_lsb", e.value_lsb).set("why", e.why));
      std::cout << json::Value::object().set("model", model).set("elements", rep.total_elements)
                       .set("differing", rep.total_differing).set("tensors", ts).set("differences", es).dump();
      return 0;
    }
    std::cout << model << ": as written (DQ → float op → Q) vs qnn's fused integer kernels\n\n"
              << std::left << std::setw(46) << "tensor" << std::setw(14) << "after" << std::right << std::setw(10)
              << "elements" << std::setw(11) << "differing" << std::setw(9) << "max |Δ|" << "\n";
    for (const auto& t : rep.tensors) {
      const std::string name = t.tensor.size() > 45 ? "…" + t.tensor.substr(t.tensor.size() - 44) : t.tensor;
      std::cout << std::left << std::setw(46) << name << std::setw(14) << t.op << std::right << std::setw(10)
                << t.elements << std::setw(11) << t.differing << std::setw(9) << t.max_abs << "\n";
    }
    std::cout << "\n" << rep.total_differing << " of " << rep.total_elements << " elements differ";
    if (rep.total_elements)
      std::cout << " (" << std::setprecision(4) << 100.0 * double(rep.total_differing) / double(rep.total_elements) << " %)";
    std::cout << "\n";
    const int list = a.get_int("list", 20);
    if (!rep.elements.empty()) {
      std::cout << "\n" << std::left << std::setw(46) << "tensor" << std::right << std::setw(9) << "index" << std::setw(12)
                << "as written" << std::setw(7) << "fused" << std::setw(16) << "value (LSB)" << "  why\n";
      int shown = 0;
      for (const auto& e : rep.elements) {
        if (shown++ >= list) {
          std::cout << "... " << rep.elements.size() - static_cast<std::size_t>(list) << " more (--list N, or --json for all)\n";
          break;
        }
        const std::string name = e.tensor.size() > 45 ? "…" + e.tensor.substr(e.tensor.size() - 44) : e.tensor;
        std::cout << std::left << std::setw(46) << name << std::right << std::setw(9) << e.index << std::setw(12)
                  << e.as_written << std::setw(7) << e.fused << std::setw(16) << std::fixed << std::setprecision(6)
                  << e.value_lsb << "  " << e.why << "\n";
      }
    }
    return 0;
  }

  check(a.positional().size() == 2, "compare takes FLOAT.onnx QUANT.onnx (or one QDQ model with --as-written)");
  const auto rows = quant::layer_errors(onnx::load_graph(a.positional()[0]), onnx::load_graph(a.positional()[1]), xs, threads);
  if (a.has("json")) {
    std::cout << quant::report_json(rows).dump();
    return 0;
  }
  std::cout << quant::format_report(rows);
  return 0;
}

}  // namespace qnn::cli
