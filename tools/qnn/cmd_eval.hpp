// qnn eval MODEL.onnx --idx DIR [--split t10k|train] [--batch N] [--threads N] [--backend B] [--json]
// Top-1 accuracy, per-class accuracy and the confusion matrix of an image classifier on an IDX
// dataset (Fashion-MNIST layout: <split>-images-idx3-ubyte[.gz], <split>-labels-idx1-ubyte[.gz]),
// images scaled to [0, 1].
#pragma once

#include <chrono>
#include <iomanip>
#include <iostream>
#include <string>

#include "args.hpp"
#include "session_options.hpp"
#include "qnn/io/idx.hpp"
#include "qnn/io/json.hpp"
#include "qnn/onnx/import.hpp"
#include "qnn/runtime/evaluate.hpp"

namespace qnn::cli {

inline int cmd_eval(int argc, char** argv) {
  auto valued = kSessionValued;
  valued.insert({"idx", "split", "batch"});
  auto flags = kSessionFlags;
  flags.insert("json");
  const Args a(argc, argv, 2, valued, flags);
  const std::string model = a.require_positional(0, "MODEL.onnx");
  check(a.has("idx"), "--idx DIR is required");
  const io::IdxDataset ds = io::load_fashion_mnist(a.get("idx"), a.get("split", "t10k"));
  const auto t0 = std::chrono::steady_clock::now();
  // --backend npu-emu: the accuracy the NPU would give (backends/npu/emulator.hpp).
  const ClassificationReport r = with_session(a, onnx::load_graph(model), [&](const auto& s) {
    return evaluate_classifier(s, ds.images, ds.labels, a.get_int("batch", 250));
  });
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (a.has("json")) {
    json::Value per = json::Value::array();
    for (int c = 0; c < r.classes; ++c) per.push(100 * r.class_accuracy(c));
    json::Value conf = json::Value::array();
    for (int t = 0; t < r.classes; ++t) {
      json::Value row = json::Value::array();
      for (int p = 0; p < r.classes; ++p) row.push(r.confusion[static_cast<std::size_t>(t * r.classes + p)]);
      conf.push(row);
    }
    std::cout << json::Value::object()
                     .set("model", model)
                     .set("images", r.total)
                     .set("top1", 100 * r.accuracy())
                     .set("per_class", per)
                     .set("confusion", conf)
                     .set("seconds", secs)
                     .dump();
    return 0;
  }
  std::cout << model << ": top-1 " << std::fixed << std::setprecision(2) << 100 * r.accuracy() << " % ("
            << r.correct << "/" << r.total << ", " << std::setprecision(1) << secs << " s)\n\nper class:";
  for (int c = 0; c < r.classes; ++c) std::cout << "  " << c << ": " << std::setprecision(1) << 100 * r.class_accuracy(c) << "%";
  std::cout << "\n\nconfusion matrix (rows: true class, columns: predicted)\n     ";
  for (int p = 0; p < r.classes; ++p) std::cout << std::setw(6) << p;
  std::cout << "\n";
  for (int t = 0; t < r.classes; ++t) {
    std::cout << std::setw(5) << t;
    for (int p = 0; p < r.classes; ++p) std::cout << std::setw(6) << r.confusion[static_cast<std::size_t>(t * r.classes + p)];
    std::cout << "\n";
  }
  return 0;
}

}  // namespace qnn::cli
