// Fashion-MNIST end to end: quantize the reference CNN with every configuration and calibration
// method, evaluate each on the 10,000 test images, predict the NPU's accuracy of the XINT8 model on
// the NPU emulator, and report — the flow of the AMD Ryzen AI tutorial (PyTorch → ONNX → Quark PTQ →
// NPU), in C++ and without Python.
//
//   fashion_mnist [--model fashion_mnist_fp32.onnx] [--data /usr/share/datasets/fashion-mnist]
//                 [--out out/fashion_mnist] [--per-class 700] [--threads N] [--quick]
//
// Calibration set: the first 700 images of each class in the training file (7,000 images, as the
// reference report). Writes, into --out: the QDQ model of the recommended configuration, a
// confusion-matrix heatmap and a grid of test images with their predictions (misclassifications
// framed in red), the per-layer error report, and results.json with every figure printed.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "qnn/backends/npu/emulator.hpp"
#include "qnn/io/idx.hpp"
#include "qnn/io/image.hpp"
#include "qnn/io/json.hpp"
#include "qnn/io/png.hpp"
#include "qnn/onnx/export.hpp"
#include "qnn/onnx/import.hpp"
#include "qnn/quantize/quantize.hpp"
#include "qnn/quantize/report.hpp"
#include "qnn/runtime/evaluate.hpp"
#include "qnn/runtime/session.hpp"

namespace fs = std::filesystem;
using namespace qnn;

namespace {

const char* kClassNames[10] = {"T-shirt", "Trouser", "Pullover", "Dress", "Coat",
                               "Sandal",  "Shirt",   "Sneaker",  "Bag",   "Boot"};

struct Row {
  std::string config, method;
  double accuracy = 0, drop = 0, calib_seconds = 0, eval_seconds = 0, agreement = 0;
  std::int64_t samples = 0;
};

struct Options {
  fs::path model = fs::path(QNN_EXAMPLE_DIR) / "fashion_mnist_fp32.onnx";
  fs::path data = "/usr/share/datasets/fashion-mnist";
  fs::path out = "out/fashion_mnist";
  int per_class = 700;
  int threads = 1;
  bool quick = false;
};

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      check(i + 1 < argc, "option ", a, " needs a value");
      return argv[++i];
    };
    if (a == "--model") o.model = value();
    else if (a == "--data") o.data = value();
    else if (a == "--out") o.out = value();
    else if (a == "--per-class") o.per_class = std::stoi(value());
    else if (a == "--threads") o.threads = std::stoi(value());
    else if (a == "--quick") o.quick = true;
    else fail("unknown option ", a);
  }
  check(o.per_class >= 1 && o.per_class <= 5000, "--per-class must be in [1, 5000]");
  check(o.threads >= 1 && o.threads <= 64, "--threads must be in [1, 64]");
  return o;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

void progress_bar(std::int64_t done, std::int64_t total) {
  static const bool tty = isatty(fileno(stderr));
  if (!tty) return;
  const int width = 30;
  const int filled = static_cast<int>(width * done / std::max<std::int64_t>(total, 1));
  std::fprintf(stderr, "\r  calibration [%s%s] %lld/%lld", std::string(static_cast<std::size_t>(filled), '#').c_str(),
               std::string(static_cast<std::size_t>(width - filled), ' ').c_str(), static_cast<long long>(done),
               static_cast<long long>(total));
  if (done >= total) std::fprintf(stderr, "\r%*s\r", 80, "");
}

void write_confusion_png(const fs::path& path, const ClassificationReport& r, const std::string& title) {
  const int cell = 36, left = 80, top = 40;
  io::Image im = io::Image::filled(left + cell * 10 + 10, top + cell * 10 + 70, io::Rgb{255, 255, 255});
  io::draw_text(im, 10, 10, title, io::Rgb{0, 0, 0}, 2);
  std::int64_t max_off = 1;
  for (int t = 0; t < 10; ++t)
    for (int p = 0; p < 10; ++p)
      if (t != p) max_off = std::max(max_off, r.confusion[static_cast<std::size_t>(t * 10 + p)]);
  for (int t = 0; t < 10; ++t) {
    io::draw_text(im, 4, top + t * cell + cell / 2 - 4, kClassNames[t], io::Rgb{0, 0, 0});
    for (int p = 0; p < 10; ++p) {
      const std::int64_t v = r.confusion[static_cast<std::size_t>(t * 10 + p)];
      // Diagonal cells shade by per-class accuracy, off-diagonal by the largest confusion.
      const float heat = t == p ? static_cast<float>(r.class_accuracy(t))
                                : static_cast<float>(double(v) / double(max_off));
      const io::Rgb c = t == p ? io::Rgb{static_cast<std::uint8_t>(255 - 200 * heat), 255, static_cast<std::uint8_t>(255 - 200 * heat)}
                               : io::heat_colour(heat);
      io::fill_rect(im, left + p * cell, top + t * cell, cell - 1, cell - 1, c);
      io::draw_text(im, left + p * cell + 3, top + t * cell + cell / 2 - 4, std::to_string(v), io::Rgb{0, 0, 0});
    }
  }
  for (int p = 0; p < 10; ++p)
    io::draw_text(im, left + p * cell + 2, top + 10 * cell + 6, std::string(kClassNames[p]).substr(0, 5), io::Rgb{0, 0, 0});
  io::draw_text(im, left, top + 10 * cell + 24, "rows: true class, columns: predicted", io::Rgb{60, 60, 60});
  io::save_png(path, im);
}

void write_samples_png(const fs::path& path, const Tensor& images, const Tensor& labels,
                       const ClassificationReport& r) {
  // The first 40 misclassified test images and the first 40 correct ones, 10 per row.
  std::vector<std::int64_t> wrong, right;
  const auto y = labels.span<std::uint8_t>();
  for (std::size_t i = 0; i < r.predictions.size(); ++i)
    (r.predictions[i] == y[i] ? right : wrong).push_back(static_cast<std::int64_t>(i));
  wrong.resize(std::min<std::size_t>(wrong.size(), 40));
  right.resize(std::min<std::size_t>(right.size(), 40));
  std::vector<std::int64_t> show = right;
  show.insert(show.end(), wrong.begin(), wrong.end());
  const int scale = 3, tile = 28 * scale + 8, label_h = 24;
  const int cols = 10, rows = static_cast<int>((show.size() + cols - 1) / cols);
  io::Image im = io::Image::filled(cols * tile, rows * (tile + label_h), io::Rgb{255, 255, 255});
  const auto px = images.span<std::uint8_t>();
  for (std::size_t k = 0; k < show.size(); ++k) {
    const std::int64_t i = show[k];
    const int x = static_cast<int>(k % cols) * tile, yy = static_cast<int>(k / cols) * (tile + label_h);
    io::draw_gray(im, x + 4, yy + 4, px.subspan(static_cast<std::size_t>(i * 784), 784), 28, 28, scale);
    const bool ok = r.predictions[static_cast<std::size_t>(i)] == y[static_cast<std::size_t>(i)];
    if (!ok) io::draw_border(im, x + 1, yy + 1, tile - 2, tile - 2, 3, io::Rgb{220, 30, 30});
    io::draw_text(im, x + 4, yy + tile, kClassNames[r.predictions[static_cast<std::size_t>(i)]],
                  ok ? io::Rgb{20, 120, 20} : io::Rgb{200, 20, 20});
    if (!ok)  // the true class under the wrong prediction
      io::draw_text(im, x + 4, yy + tile + 10, std::string("is ") + kClassNames[y[static_cast<std::size_t>(i)]],
                    io::Rgb{90, 90, 90});
  }
  io::save_png(path, im);
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const Options opt = parse(argc, argv);
    fs::create_directories(opt.out);
    std::cout << "qnn Fashion-MNIST example — kernels: " << simd::active_target() << ", threads: " << opt.threads
              << "\n";
    const io::IdxDataset train = io::load_fashion_mnist(opt.data, "train");
    const io::IdxDataset test = io::load_fashion_mnist(opt.data, "t10k");
    const auto calib_idx = io::balanced_subset(train.labels, opt.per_class);
    std::cout << "data: " << train.images.shape()[0] << " training images (" << calib_idx.size()
              << " for calibration: the first " << opt.per_class << " of each class), "
              << test.images.shape()[0] << " test images\n";

    const Graph fp32 = onnx::load_graph(opt.model);
    SessionOptions so;
    so.threads = opt.threads;
    auto t0 = std::chrono::steady_clock::now();
    const Session fsess(Graph(fp32), so);
    const ClassificationReport base = evaluate_classifier(fsess, test.images, test.labels);
    const double fp32_eval = seconds_since(t0);
    std::cout << "FP32 model " << opt.model.filename().string() << ": " << std::fixed << std::setprecision(2)
              << 100 * base.accuracy() << " % top-1 (" << std::setprecision(1) << fp32_eval << " s)\n\n";

    struct Job {
      quant::Preset preset;
      std::vector<quant::CalibMethod> methods;
    };
    using quant::CalibMethod;
    using quant::Preset;
    std::vector<Job> jobs = {
        {Preset::u8s8, {CalibMethod::minmax, CalibMethod::percentile, CalibMethod::entropy, CalibMethod::mse}},
        {Preset::a8w8, {CalibMethod::minmax, CalibMethod::percentile, CalibMethod::entropy, CalibMethod::mse}},
        {Preset::a16w8, {CalibMethod::minmax, CalibMethod::mse}},
        {Preset::xint8, {CalibMethod::pow2_mse, CalibMethod::minmax}},
    };
    if (opt.quick) jobs = {{Preset::u8s8, {CalibMethod::minmax}}, {Preset::xint8, {CalibMethod::pow2_mse}}};

    std::vector<Row> rows;
    std::optional<Graph> xint8;  // the XINT8 pow2-mse model and its CPU result, for the NPU prediction
    ClassificationReport xint8_cpu;
    quant::QuantizeResult best;
    ClassificationReport best_report;
    Row best_row;
    for (const Job& job : jobs) {
      for (const CalibMethod m : job.methods) {
        quant::QuantConfig cfg = quant::QuantConfig::make(job.preset);
        cfg.method = m;
        quant::ImageReader reader(train.images, calib_idx, 100);
        quant::QuantizeOptions qo;
        qo.threads = opt.threads;
        qo.progress = progress_bar;
        quant::QuantizeResult q = quant::quantize(fp32, reader, cfg, qo);
        t0 = std::chrono::steady_clock::now();
        const Session qs(Graph(q.graph), so);
        const ClassificationReport rep = evaluate_classifier(qs, test.images, test.labels);
        Row row{std::string(quant::name_of(job.preset)), std::string(quant::name_of(m)), 100 * rep.accuracy(),
                100 * (base.accuracy() - rep.accuracy()), q.seconds, seconds_since(t0), 100 * rep.agreement(base),
                q.samples};
        std::cout << std::left << std::setw(7) << row.config << std::setw(11) << row.method << std::right
                  << std::fixed << std::setprecision(2) << std::setw(7) << row.accuracy << " %  drop "
                  << std::setw(5) << row.drop << " pp  calibration " << std::setprecision(1) << std::setw(5)
                  << row.calib_seconds << " s  top-1 agreement with FP32 " << std::setprecision(2) << row.agreement
                  << " %\n";
        rows.push_back(row);
        if (job.preset == Preset::xint8 && m == CalibMethod::pow2_mse) {
          xint8 = q.graph;
          xint8_cpu = rep;
        }
        if (best_row.config.empty() || (job.preset == Preset::u8s8 && row.accuracy > best_row.accuracy)) {
          best_row = row;
          best = std::move(q);
          best_report = rep;
        }
      }
    }

    std::cout << "\n" << std::left << std::setw(8) << "config" << std::setw(12) << "method" << std::right << std::setw(10)
              << "accuracy" << std::setw(12) << "drop (pp)" << std::setw(14) << "calib (s)" << "\n";
    std::cout << std::left << std::setw(8) << "fp32" << std::setw(12) << "-" << std::right << std::fixed
              << std::setprecision(2) << std::setw(9) << 100 * base.accuracy() << "%" << std::setw(12) << "-"
              << std::setw(14) << "-" << "\n";
    for (const Row& r : rows)
      std::cout << std::left << std::setw(8) << r.config << std::setw(12) << r.method << std::right << std::fixed
                << std::setprecision(2) << std::setw(9) << r.accuracy << "%" << std::setw(12) << r.drop
                << std::setprecision(1) << std::setw(14) << r.calib_seconds << "\n";

    // The NPU prediction: the XINT8 model on the NPU emulator (the NPU's layer table and integer
    // arithmetic, backends/npu/emulator.hpp), next to FP32 and the same model on the CPU.
    json::Value npu_js;
    if (xint8) {
      SessionOptions no = so;
      no.requant = RequantPolicy::npu_pow2;  // the host-side quantize step rounds like the NPU
      t0 = std::chrono::steady_clock::now();
      const BasicSession<backends::npu::Emulator> npu(Graph(*xint8), no);
      const ClassificationReport nr = evaluate_classifier(npu, test.images, test.labels);
      std::cout << "\nNPU prediction, xint8 pow2-mse (" << std::setprecision(1) << seconds_since(t0) << " s):\n"
                << std::setprecision(2) << "  FP32                " << std::setw(6) << 100 * base.accuracy()
                << " %\n  CPU INT8            " << std::setw(6) << 100 * xint8_cpu.accuracy()
                << " %\n  NPU INT8 (emulated) " << std::setw(6) << 100 * nr.accuracy()
                << " %   top-1 agreement with CPU INT8 " << 100 * nr.agreement(xint8_cpu) << " %\n"
                << backends::format_partition(npu.partition());
      npu_js = json::Value::object()
                   .set("fp32", 100 * base.accuracy())
                   .set("cpu_int8", 100 * xint8_cpu.accuracy())
                   .set("npu_int8_emulated", 100 * nr.accuracy())
                   .set("agreement_with_cpu_int8", 100 * nr.agreement(xint8_cpu))
                   .set("partition", backends::partition_json(npu.partition()));
    }

    const fs::path qdq = opt.out / ("fashion_mnist_" + best_row.config + "_" + best_row.method + ".qdq.onnx");
    onnx::save_graph(qdq, best.graph);
    write_confusion_png(opt.out / "confusion.png", best_report,
                        best_row.config + " " + best_row.method + ": " + std::to_string(best_row.accuracy).substr(0, 5) + " %");
    write_samples_png(opt.out / "samples.png", test.images, test.labels, best_report);
    std::cout << "\nwrote " << qdq.string() << ", " << (opt.out / "confusion.png").string() << ", "
              << (opt.out / "samples.png").string() << "\n";

    const Tensor sample = io::images_to_float(test.images, 0, 256);
    const auto layers = quant::layer_errors(fp32, best.graph, std::span<const Tensor>(&sample, 1), opt.threads);
    std::cout << "\nper-layer error of " << best_row.config << " " << best_row.method
              << " against FP32 (256 test images):\n" << quant::format_report(layers);
    std::ofstream(opt.out / "layer_report.json") << quant::report_json(layers).dump();

    json::Value js = json::Value::object();
    js.set("fp32_accuracy", 100 * base.accuracy()).set("kernels", std::string(simd::active_target()));
    json::Value arr = json::Value::array();
    for (const Row& r : rows)
      arr.push(json::Value::object()
                   .set("config", r.config)
                   .set("method", r.method)
                   .set("accuracy", r.accuracy)
                   .set("drop_pp", r.drop)
                   .set("calibration_seconds", r.calib_seconds)
                   .set("top1_agreement_with_fp32", r.agreement)
                   .set("calibration_samples", r.samples));
    js.set("results", arr);
    if (xint8) js.set("npu_prediction", npu_js);
    std::ofstream(opt.out / "results.json") << js.dump();
    return 0;
  } catch (const qnn::error& e) {
    std::cerr << "fashion_mnist: error: " << e.what() << "\n";
    return 1;
  }
}
