// qnn quantize MODEL.onnx --calib CALIB.npy | --calib-idx DIR  -o OUT.onnx
//        [--config u8s8|s8s8|a8w8|a16w8|xint8|bf16] [--method minmax|percentile|entropy|mse|pow2-mse]
//        [--per-channel | --per-tensor] [--reduce-range] [--percentile P] [--calib-per-class N] [--batch N]
//        [--exclude NODE ...] [--exclude-op TYPE ...] [--cle] [--bias-correction] [--finetune]
//        [--threads N] [--log FILE.json]
//
// Calibration data: a float32 .npy whose first axis is the sample (one model input), or a directory
// of IDX files (train-images-idx3-ubyte[.gz] + train-labels-idx1-ubyte[.gz]) from which the first
// N images of each class are taken (N = --calib-per-class, default 700) and scaled to [0, 1].
#pragma once

#include <filesystem>
#include <span>
#include <iostream>
#include <memory>
#include <string>

#include "args.hpp"
#include "qnn/io/file.hpp"
#include "qnn/io/idx.hpp"
#include "qnn/io/json.hpp"
#include "qnn/io/npy.hpp"
#include "qnn/onnx/export.hpp"
#include "qnn/onnx/import.hpp"
#include "qnn/quantize/bf16.hpp"
#include "qnn/quantize/quantize.hpp"

namespace qnn::cli {

inline int cmd_quantize(int argc, char** argv) {
  const Args a(argc, argv, 2,
               {"calib", "calib-idx", "o", "output", "config", "method", "percentile", "calib-per-class", "batch",
                "exclude", "exclude-op", "threads", "log"},
               {"per-channel", "per-tensor", "reduce-range", "cle", "bias-correction", "finetune"});
  const std::string model = a.require_positional(0, "MODEL.onnx");
  const std::string out = a.has("o") ? a.get("o") : a.get("output");
  check(!out.empty(), "-o OUT.onnx is required");
  check(a.has("calib") != a.has("calib-idx"), "give exactly one of --calib CALIB.npy and --calib-idx DIR");
  check_not_an_input(out, {model, a.has("calib") ? a.get("calib") : a.get("calib-idx")});
  if (a.has("log")) {
    check_not_an_input(a.get("log"), {model, out});
    check(a.get("log") != out, "--log and -o name the same file '", out, "'");
  }

  const auto preset = quant::parse_preset(a.get("config", "u8s8"));
  check(preset.has_value(), "unknown --config '", a.get("config"), "' (u8s8, s8s8, a8w8, a16w8, xint8, bf16)");
  quant::QuantConfig cfg = quant::QuantConfig::make(*preset);
  if (a.has("method")) {
    const auto m = quant::parse_method(a.get("method"));
    check(m.has_value(), "unknown --method '", a.get("method"), "' (minmax, percentile, entropy, mse, pow2-mse)");
    cfg.method = *m;
  }
  check(!(a.has("per-channel") && a.has("per-tensor")), "--per-channel and --per-tensor exclude each other");
  if (a.has("per-channel")) cfg.per_channel = true;
  if (a.has("per-tensor")) cfg.per_channel = false;
  cfg.weight.reduced = a.has("reduce-range");
  if (a.has("percentile")) cfg.method_options.percentile = a.get_double("percentile", 0.0);
  for (const auto& n : a.all("exclude")) cfg.exclude_nodes.insert(n);
  for (const auto& t : a.all("exclude-op")) cfg.exclude_op_types.insert(t);
  cfg.cle = a.has("cle");
  cfg.bias_correction = a.has("bias-correction");
  cfg.finetune = a.has("finetune");
  const int batch = a.get_int("batch", 100);
  check(batch >= 1, "--batch must be positive");

  const Graph g = onnx::load_graph(model);
  // Calibration data.
  std::unique_ptr<quant::CalibrationReader> reader;
  Tensor npy;
  io::IdxDataset idx;
  if (a.has("calib")) {
    npy = io::load_npy(a.get("calib"));
    check(npy.dtype() == DType::f32, a.get("calib"), ": calibration data must be float32, the file holds ", npy.dtype());
    reader = std::make_unique<quant::TensorReader>(std::vector<Tensor>{npy}, batch);
  } else {
    idx = io::load_fashion_mnist(a.get("calib-idx"), "train");
    const auto picked = io::balanced_subset(idx.labels, a.get_int("calib-per-class", 700));
    reader = std::make_unique<quant::ImageReader>(idx.images, picked, batch);
  }

  quant::QuantizeOptions qo;
  qo.threads = a.get_int("threads", 1);
  Graph result;
  std::vector<std::string> log;
  double seconds = 0;
  std::int64_t samples = reader->samples();
  if (*preset == quant::Preset::bf16) {
    quant::Bf16Result r = quant::convert_bf16(g, cfg);
    result = std::move(r.graph);
    log = std::move(r.log);
  } else {
    quant::QuantizeResult r = quant::quantize(g, *reader, cfg, qo);
    result = std::move(r.graph);
    log = std::move(r.log);
    seconds = r.seconds;
    samples = r.samples;
  }
  onnx::save_graph(out, result);
  std::cout << "quantized " << model << " with " << quant::name_of(*preset);
  if (*preset != quant::Preset::bf16)
    std::cout << " / " << quant::name_of(cfg.method) << (cfg.per_channel ? ", per-channel" : ", per-tensor")
              << (cfg.weight.reduced ? " 7-bit weights" : " weights")
              << ", " << samples << " calibration samples, " << seconds << " s";
  std::cout << "\nwrote " << out << "\n";
  for (const auto& line : log) std::cout << "  " << line << "\n";
  if (a.has("log")) {
    json::Value arr = json::Value::array();
    for (const auto& line : log) arr.push(line);
    const std::string text = json::Value::object().set("model", model).set("output", out).set("log", arr).dump();
    io::write_file_atomic(a.get("log"), std::as_bytes(std::span(text.data(), text.size())));
  }
  return 0;
}

}  // namespace qnn::cli
