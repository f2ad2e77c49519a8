// The Fashion-MNIST CNN end to end through qnn::Session: FP32 (the committed model), BF16 (the same
// model with SessionOptions::precision = bf16) and INT8 (the model quantized in-process, once, with
// the U8S8 preset — or --config's — and its default calibration, MinMax for U8S8 and A8W8, on the
// first 50 training images of each class: the example's recipe on a smaller calibration set), at
// batch 1, 64 and 256 on 1 and 2 threads.
// Inputs are the first test images, scaled to [0, 1] as in training.
//
// A timed iteration is Session::run on a reused RunContext (no allocation in steady state) for one
// batch; "images" is a rate (images/s) and the time column is the latency of one batch. Sessions with
// 2 threads use their own worker pool, so times are wall-clock (UseRealTime); the CPU time column is
// the calling thread's, which for 1 thread is all the work. Each case also reports the "min" statistic
// over repetitions: on a machine shared with other work the fastest repetition is the least disturbed
// one, and bench/peers.py reports its peers the same way. "GMAC" is the model's multiply-accumulates
// (qnn::profile's count of one image, 4.34 M for the Fashion-MNIST CNN) times images/s, and
// "pct_peak" that rate as a percentage of this core's measured peak (bench/peak.hpp) for the
// arithmetic: for INT8 the faster u8s8 sequence (or, compiled for it, VNNI), so its 1-thread rows
// are the share of the INT8 roofline (peak ÷ MACs per image) the model reaches; for FP32 and BF16
// the FMA.
//
// Also writes, for bench/peers.py, the INT8 QDQ model qnn ran (--qdq_out) and prints the FP32 model
// path, so ONNX Runtime runs exactly the same two models. --reduce_range quantizes the weights to
// [−64, 64] (`qnn quantize --reduce-range`): every conv and FC layer then runs qnn's u8×s8 byte
// kernel on x86 (kernels/cpu/u8s8.hpp), where full-range U8S8 weights keep the int16 kernel.
// --config=a8w8 or xint8 (symmetric activations, whose ReLU stays a clamp) runs the layers that follow
// a ReLU (conv2, fc1) on bytes with full-range weights (graph/passes/input_range.hpp).
// --layers_out=PATH writes qnn::profile of the INT8 session (1 thread, batch 1 and 256) as JSON
// {"config", "profiles": [profile_json, ...]}: each layer's rate on the model's own weights and
// activations, which bench/report.py sets against oneDNN's kernel on the same shape. Each batch is
// profiled in kLayerWindows windows and the fastest window kept, as the model rows keep the fastest
// repetition: a window's median still moves with the load of the shared machine.
//
//   bench_model [--model=PATH] [--data=DIR] [--qdq_out=PATH] [--config=u8s8|a8w8|xint8] [--reduce_range]
//               [--layers_out=PATH] [benchmark flags]
#include <benchmark/benchmark.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "counters.hpp"
#include "qnn/io/idx.hpp"
#include "qnn/kernels/dispatch.hpp"
#include "qnn/onnx/export.hpp"
#include "qnn/onnx/import.hpp"
#include "qnn/quantize/quantize.hpp"
#include "qnn/runtime/profile.hpp"
#include "qnn/runtime/session.hpp"

namespace fs = std::filesystem;

namespace {

struct Options {
  fs::path model = fs::path(QNN_SOURCE_DIR) / "examples/fashion_mnist/fashion_mnist_fp32.onnx";
  fs::path data = "/usr/share/datasets/fashion-mnist";
  fs::path qdq_out = "fashion_mnist_u8s8_minmax.qdq.onnx";
  fs::path layers_out;
  qnn::quant::Preset config = qnn::quant::Preset::u8s8;
  bool reduce_range = false;
};

// The flags Google Benchmark left in argv (it removes its own in Initialize).
Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    const auto value = [&](std::string_view flag) { return std::string(a.substr(flag.size())); };
    if (a.starts_with("--model=")) o.model = value("--model=");
    else if (a.starts_with("--data=")) o.data = value("--data=");
    else if (a.starts_with("--qdq_out=")) o.qdq_out = value("--qdq_out=");
    else if (a.starts_with("--layers_out=")) o.layers_out = value("--layers_out=");
    else if (a == "--reduce_range") o.reduce_range = true;
    else if (a.starts_with("--config=")) {
      const auto p = qnn::quant::parse_preset(value("--config="));
      qnn::check(p && *p != qnn::quant::Preset::bf16 && *p != qnn::quant::Preset::a16w8, "bench_model: --config ",
                 "must be an 8-bit configuration (u8s8, s8s8, a8w8, xint8), got '", value("--config="), "'");
      o.config = *p;
    }
    else qnn::fail("bench_model: unknown argument '", a, "'");
  }
  return o;
}

qnn::Graph quantize_int8(const qnn::Graph& fp32, const qnn::io::IdxDataset& train, const Options& o) {
  qnn::quant::QuantConfig cfg = qnn::quant::QuantConfig::make(o.config);
  cfg.weight.reduced = o.reduce_range;
  qnn::quant::ImageReader reader(train.images, qnn::io::balanced_subset(train.labels, 50), 100);
  qnn::quant::QuantizeOptions qo;
  qo.threads = 2;
  return qnn::quant::quantize(fp32, reader, cfg, qo).graph;
}

// Multiply-accumulates of one image through the session's nodes (OpKernel::macs, one profiled run).
double macs_per_image(const qnn::Session& session, const qnn::Tensor& one_image) {
  return static_cast<double>(qnn::profile(session, std::span<const qnn::Tensor>(&one_image, 1), {.runs = 1}).total_macs());
}

void bm_session(benchmark::State& st, std::shared_ptr<const qnn::Session> session, qnn::Tensor input,
                double image_macs, qnn_bench::Arith arith) {
  qnn::RunContext ctx;
  std::vector<qnn::Tensor> out;
  const std::span<const qnn::Tensor> in(&input, 1);
  for (auto _ : st) {
    session->run(ctx, in, out);
    benchmark::DoNotOptimize(out.front().raw());
  }
  st.counters["images"] = benchmark::Counter(static_cast<double>(input.shape()[0]),
                                             benchmark::Counter::kIsIterationInvariantRate);
  if (image_macs > 0) qnn_bench::set_mac_counters(st, image_macs * static_cast<double>(input.shape()[0]), arith);
}

// The INT8 session's per-node profile at batch 1 and 256 on one thread (the window with the
// smallest median total of kLayerWindows), written as JSON to `path`.
constexpr int kLayerWindows = 5;

void write_layer_profiles(const fs::path& path, const qnn::Graph& int8, const qnn::io::IdxDataset& test,
                          qnn::quant::Preset config) {
  qnn::SessionOptions one_thread;
  one_thread.threads = 1;
  const qnn::Session session{qnn::Graph(int8), one_thread};
  qnn::json::Value profiles = qnn::json::Value::array();
  for (const auto& [batch, runs] : {std::pair<std::int64_t, int>{1, 400}, {256, 20}}) {
    const qnn::Tensor x = qnn::io::images_to_float(test.images, 0, batch);
    std::optional<qnn::Profile> best;
    for (int w = 0; w < kLayerWindows; ++w) {
      qnn::Profile p = qnn::profile(session, std::span<const qnn::Tensor>(&x, 1), {.runs = runs});
      if (!best || p.seconds < best->seconds) best = std::move(p);
    }
    profiles.push(qnn::profile_json(*best));
  }
  if (!path.parent_path().empty()) fs::create_directories(path.parent_path());
  std::ofstream f(path);
  f << qnn::json::Value::object()
           .set("config", std::string(qnn::quant::name_of(config)))
           .set("windows", kLayerWindows)
           .set("profiles", profiles)
           .dump()
    << "\n";
  qnn::check(f.good(), "bench_model: cannot write '", path.string(), "'");
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  try {
    const Options opt = parse(argc, argv);
    const qnn::Graph fp32 = qnn::onnx::load_graph(opt.model);
    const qnn::io::IdxDataset train = qnn::io::load_fashion_mnist(opt.data, "train");
    const qnn::io::IdxDataset test = qnn::io::load_fashion_mnist(opt.data, "t10k");
    const qnn::Graph int8 = quantize_int8(fp32, train, opt);
    if (!opt.qdq_out.parent_path().empty()) fs::create_directories(opt.qdq_out.parent_path());
    qnn::onnx::save_graph(opt.qdq_out, int8);
    if (!opt.layers_out.empty()) write_layer_profiles(opt.layers_out, int8, test, opt.config);
    std::cerr << "bench_model: fp32 model " << fs::absolute(opt.model).string() << "\n"
              << "bench_model: int8 QDQ model " << fs::absolute(opt.qdq_out).string() << "\n";

    struct Variant {
      const char* name;
      const qnn::Graph* graph;
      qnn::Precision precision;
    };
    const Variant variants[] = {{"fp32", &fp32, qnn::Precision::as_written},
                                {"bf16", &fp32, qnn::Precision::bf16},
                                {"int8", &int8, qnn::Precision::as_written}};
    for (const Variant& v : variants)
      for (const int threads : {1, 2}) {
        qnn::SessionOptions so;
        so.threads = threads;
        so.precision = v.precision;
        auto session = std::make_shared<const qnn::Session>(qnn::Graph(*v.graph), so);
        const double image_macs = macs_per_image(*session, qnn::io::images_to_float(test.images, 0, 1));
        const auto arith = std::string(v.name) == "int8" ? qnn_bench::Arith::int8 : qnn_bench::Arith::fp32;
        for (const std::int64_t batch : {1, 64, 256}) {
          const std::string name = std::string("model/") + v.name + "/b" + std::to_string(batch) + "/t" +
                                   std::to_string(threads);
          benchmark::RegisterBenchmark(name.c_str(), bm_session, session, qnn::io::images_to_float(test.images, 0, batch),
                                       image_macs, arith)
              ->UseRealTime()
              ->Unit(benchmark::kMillisecond)
              ->ComputeStatistics("min", [](const std::vector<double>& x) { return *std::min_element(x.begin(), x.end()); });
        }
      }
    benchmark::AddCustomContext("qnn_kernels", qnn::simd::active_target());
    benchmark::AddCustomContext("fp32_model", fs::absolute(opt.model).string());
    benchmark::AddCustomContext("int8_qdq_model", fs::absolute(opt.qdq_out).string());
    benchmark::AddCustomContext("int8_config", std::string(qnn::quant::name_of(opt.config)));
    benchmark::AddCustomContext("int8_weights", opt.reduce_range ? "reduce_range [-64, 64]" : "full range");
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
  } catch (const qnn::error& e) {
    std::cerr << "bench_model: error: " << e.what() << "\n";
    return 1;
  }
}
