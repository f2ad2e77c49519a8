// ONNX Runtime as the oracle for whole models: the Fashion-MNIST example model
// (examples/fashion_mnist/fashion_mnist_fp32.onnx) on all 10,000 test images.
//   FP32   qnn's top-1 equals ORT's on every image, and no logit is more than 1e-4 from ORT's.
//   QDQ    models made by onnxruntime.quantization.quantize_static (U8S8, MinMax, weights per
//          channel and per tensor): the uint8 output of every QuantizeLinear node, on the first
//          1,000 images, and of the one the model output dequantizes, on all 10,000 — at least
//          99.9 % identical to ORT's and none more than 1 apart (the bound) — in fact all
//          identical, which is checked too.
// tests/oracle/make_model_oracle.py makes the models and ORT's values at test time (with the
// project's virtual environment, QNN_SOURCE_DIR/.venv); its docstring says which ORT run is the
// reference and why: ORT's default session on AVX2 without VNNI saturates u8 x s8 sums, so the
// reference is the fused run with session.x64quantprecision = 1, whose integer sums are exact.
// qnn runs with its default session options (QDQ lowered to integer operators).
#include <doctest/doctest.h>

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "qnn/io/idx.hpp"
#include "qnn/io/npy.hpp"
#include "qnn/onnx/import.hpp"
#include "qnn/runtime/session.hpp"

namespace {

namespace fs = std::filesystem;
using namespace qnn;

constexpr const char* kDataDir = "/usr/share/datasets/fashion-mnist";
constexpr std::int64_t kBatch = 1000;

// Under a sanitizer (the ASan+UBSan and TSan builds of scripts/test.sh, at -O0) the oracle compares
// the first 1,000 images instead of 10,000: those builds check memory and thread safety, and every
// code path runs on the first batch already; the accuracy bound on all 10,000 images is the plain
// build's. docs/reliability.md says so too.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr std::int64_t kImages = 1000;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
constexpr std::int64_t kImages = 1000;
#else
constexpr std::int64_t kImages = 10000;
#endif
#else
constexpr std::int64_t kImages = 10000;
#endif

std::string read_text(const fs::path& p) {
  std::ifstream f(p);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::vector<std::string> read_lines(const fs::path& p) {
  std::ifstream f(p);
  std::vector<std::string> lines;
  for (std::string line; std::getline(f, line);)
    if (!line.empty()) lines.push_back(line);
  return lines;
}

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

// Rows [first, first + count) of a tensor whose first axis is the batch.
std::span<const std::byte> rows(const Tensor& t, std::int64_t first, std::int64_t count) {
  const auto per_row = static_cast<std::size_t>(t.numel() / t.shape()[0]) * size_of(t.dtype());
  return std::span<const std::byte>(t.raw(), t.bytes())
      .subspan(static_cast<std::size_t>(first) * per_row, static_cast<std::size_t>(count) * per_row);
}

// Element-wise agreement of two 8-bit tensors of one dtype, accumulated over batches.
struct Agreement {
  std::int64_t total = 0, identical = 0, max_abs = 0;
  void add(DType dt, std::span<const std::byte> a, std::span<const std::byte> b) {
    REQUIRE(a.size() == b.size());
    const auto value = [dt](std::byte v) -> int {
      return dt == DType::i8 ? static_cast<std::int8_t>(v) : static_cast<std::uint8_t>(v);
    };
    for (std::size_t i = 0; i < a.size(); ++i) {
      const int x = value(a[i]);
      const int y = value(b[i]);
      identical += x == y;
      max_abs = std::max<std::int64_t>(max_abs, std::abs(x - y));
    }
    total += static_cast<std::int64_t>(a.size());
  }
  double percent() const { return total ? 100.0 * static_cast<double>(identical) / static_cast<double>(total) : 0; }
};

std::int64_t argmax_row(std::span<const float> row) {
  return std::max_element(row.begin(), row.end()) - row.begin();
}

void check_fp32(const fs::path& dir, const Tensor& images) {
  const auto t0 = std::chrono::steady_clock::now();
  const Session session(onnx::load_graph(QNN_SOURCE_DIR "/examples/fashion_mnist/fashion_mnist_fp32.onnx"));
  const Tensor ort = io::load_npy(dir / "fp32_logits.npy");
  const std::int64_t n = kImages;
  REQUIRE(ort.dtype() == DType::f32);
  REQUIRE(ort.shape() == Shape{images.shape()[0], 10});
  const std::span<const float> want = ort.span<float>();
  std::int64_t same_top1 = 0, first_diff = -1;
  double max_abs = 0;
  for (std::int64_t first = 0; first < n; first += kBatch) {
    const std::int64_t count = std::min(kBatch, n - first);
    const auto out = session.run({io::images_to_float(images, first, count)});
    REQUIRE(out.size() == 1);
    REQUIRE(out[0].shape() == Shape{count, 10});
    const std::span<const float> got = out[0].span<float>();
    for (std::int64_t i = 0; i < count; ++i) {
      const auto g = got.subspan(static_cast<std::size_t>(i * 10), 10);
      const auto w = want.subspan(static_cast<std::size_t>((first + i) * 10), 10);
      for (std::size_t k = 0; k < 10; ++k) max_abs = std::max(max_abs, static_cast<double>(std::abs(g[k] - w[k])));
      if (argmax_row(g) == argmax_row(w))
        ++same_top1;
      else if (first_diff < 0)
        first_diff = first + i;
    }
  }
  MESSAGE("FP32 model vs ONNX Runtime: top-1 identical on ", same_top1, " of ", n, " images, max |dlogit| = ",
          max_abs, " (", seconds_since(t0), " s)");
  CHECK_MESSAGE(same_top1 == n, "first image with a different top-1: ", first_diff);
  CHECK(max_abs <= 1e-4);
}

void check_qdq(const fs::path& dir, const std::string& variant, const Tensor& images) {
  const auto t0 = std::chrono::steady_clock::now();
  const std::vector<std::string> taps = read_lines(dir / (variant + "_taps.txt"));
  REQUIRE(taps.size() >= 2);
  Graph g = onnx::load_graph(dir / (variant + ".onnx"));
  g.outputs = taps;  // every QuantizeLinear output, the one the model output dequantizes last
  const Session session(std::move(g));
  // qnn must run the lowered integer graph (as ORT's reference run does), not DQ -> float op -> Q.
  std::string ops;
  for (const Node& node : session.graph().nodes) {
    if (!ops.empty()) ops += ' ';
    ops += node.op_type;
    CHECK_MESSAGE((node.op_type != "Conv" && node.op_type != "Gemm" && node.op_type != "MatMul"), variant,
                  ": node ", node.name, " was not lowered to an integer operator");
  }

  std::vector<Tensor> ort_taps;
  for (std::size_t k = 0; k < taps.size(); ++k) {
    std::string file = variant;
    file += "_tap";
    file += std::to_string(k);
    file += ".npy";
    ort_taps.push_back(io::load_npy(dir / file));
  }
  const Tensor ort_out = io::load_npy(dir / (variant + "_output_q.npy"));
  const std::int64_t n = kImages;
  const std::int64_t n_tap = std::min(ort_taps[0].shape()[0], n);
  REQUIRE(ort_out.shape()[0] == images.shape()[0]);
  REQUIRE(n_tap % kBatch == 0);

  std::vector<Agreement> per_tap(taps.size());
  Agreement all_taps, output;
  for (std::int64_t first = 0; first < n; first += kBatch) {
    const std::int64_t count = std::min(kBatch, n - first);
    const auto out = session.run({io::images_to_float(images, first, count)});
    REQUIRE(out.size() == taps.size());
    for (std::size_t k = 0; k < taps.size(); ++k) {
      const Tensor& want = k + 1 == taps.size() ? ort_out : ort_taps[k];
      INFO(variant, ": tap ", taps[k], ", images from ", first);
      REQUIRE(out[k].dtype() == want.dtype());
      REQUIRE(out[k].shape().rank() == want.shape().rank());
      REQUIRE(out[k].shape()[0] == count);
      if (first < n_tap) {
        per_tap[k].add(want.dtype(), rows(out[k], 0, count), rows(ort_taps[k], first, count));
        all_taps.add(want.dtype(), rows(out[k], 0, count), rows(ort_taps[k], first, count));
      }
      if (k + 1 == taps.size()) output.add(want.dtype(), rows(out[k], 0, count), rows(ort_out, first, count));
    }
  }
  std::ostringstream report;
  report << variant << " vs ONNX Runtime (" << seconds_since(t0) << " s), qnn runs: " << ops << "\n";
  for (std::size_t k = 0; k < taps.size(); ++k)
    report << "  " << taps[k] << ": " << per_tap[k].identical << " of " << per_tap[k].total << " identical, max |d| "
           << per_tap[k].max_abs << "\n";
  report << "  every QuantizeLinear output, first " << n_tap << " images: " << all_taps.percent() << " % identical ("
         << all_taps.total - all_taps.identical << " differ), max |d| " << all_taps.max_abs << "\n";
  report << "  model output (quantized), all " << n << " images: " << output.percent() << " % identical ("
         << output.total - output.identical << " differ), max |d| " << output.max_abs;
  MESSAGE(report.str());
  // The bound: ≥ 99.9 % identical, none more than 1 apart.
  CHECK(all_taps.percent() >= 99.9);
  CHECK(all_taps.max_abs <= 1);
  CHECK(output.percent() >= 99.9);
  CHECK(output.max_abs <= 1);
  // And the stronger fact behind it: the reference run fuses the QDQ units into the integer
  // operators qnn lowers them to (exact int32 sums, the same fp32 requantization), so every value
  // is identical; a difference here is a bug in one of them, not rounding noise.
  CHECK_MESSAGE(all_taps.identical == all_taps.total, variant, ": integer results differ from ONNX Runtime's");
  CHECK_MESSAGE(output.identical == output.total, variant, ": integer results differ from ONNX Runtime's");
}

}  // namespace

TEST_CASE("ONNX Runtime oracle: the Fashion-MNIST model, FP32 and QDQ, on all 10,000 test images") {
  const fs::path src = QNN_SOURCE_DIR;
  const fs::path python = src / ".venv" / "bin" / "python";
  const fs::path script = src / "tests" / "oracle" / "make_model_oracle.py";
  REQUIRE_MESSAGE(fs::exists(python), "the ONNX Runtime oracle needs ", python.string(),
                  ". Create it with: cd ", src.string(),
                  " && python3 -m venv .venv && .venv/bin/pip install numpy onnx onnxruntime");
  REQUIRE_MESSAGE(fs::exists(fs::path(kDataDir) / "t10k-images-idx3-ubyte.gz"), "Fashion-MNIST is not in ",
                  kDataDir, ": install the Debian package dataset-fashion-mnist (scripts/deps.sh)");
  // Appended piecewise: GCC 12 misreports `"a" + std::to_string(n)` under -Werror=restrict.
  std::string dir_name = "qnn_model_oracle_";
  dir_name += std::to_string(static_cast<long long>(::getpid()));
  const fs::path dir = fs::temp_directory_path() / dir_name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  const auto t0 = std::chrono::steady_clock::now();
  std::string cmd = "'";  // built by appending: GCC 12 misreports `"'" + s + ...` under -Werror=restrict
  for (const std::string& part : {python.string(), std::string("' '"), script.string(), std::string("' '"),
                                  (dir / "out").string(), std::string("' --data '"), std::string(kDataDir),
                                  std::string("' > '"), (dir / "log.txt").string(), std::string("' 2>&1")})
    cmd += part;
  const int rc = std::system(cmd.c_str());
  REQUIRE_MESSAGE(rc == 0, "make_model_oracle.py failed (", rc, "):\n", read_text(dir / "log.txt"),
                  "\nIs onnxruntime installed in ", python.string(), "?");
  MESSAGE("make_model_oracle.py (", seconds_since(t0), " s):\n", read_text(dir / "log.txt"));

  const io::IdxDataset test = io::load_fashion_mnist(kDataDir, "t10k");
  REQUIRE(test.images.shape() == Shape{10000, 28, 28});
  check_fp32(dir / "out", test.images);
  for (const std::string& variant : read_lines(dir / "out" / "variants.txt")) check_qdq(dir / "out", variant, test.images);
  fs::remove_all(dir);
}
