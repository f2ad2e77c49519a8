// Concurrency on a real model: the Fashion-MNIST CNN (examples/fashion_mnist/fashion_mnist_fp32.onnx)
// and its U8S8 quantization, run from several threads at once.
//
// Session promises (runtime/session.hpp) that run() is thread-safe — each thread on a context of its
// own, the session never written after construction — and that results do not depend on which
// thread or context computed them. So every concurrent result here must equal, bit for bit, the
// result of the same input run alone on one thread. Contexts and pools are shared on purpose: the
// pooled run() hands one context to different threads over time, the sessions with threads = 2 run
// their own ThreadPool inside each context, and AsyncRunner jobs are submitted and collected by
// different threads.
//
// This file is part of qnn_tests and also of qnn_tsan_tests (tests/CMakeLists.txt), the same tests
// built with -fsanitize=thread: there a data race fails the run even when the numbers come out right.
#include <doctest/doctest.h>

#include <atomic>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "qnn/onnx/import.hpp"
#include "qnn/quantize/quantize.hpp"
#include "qnn/runtime/async.hpp"
#include "qnn/runtime/session.hpp"

#include "fmnist_test_images.hpp"

namespace {

using qnn::DType;
using qnn::Shape;
using qnn::Tensor;
using fmnist_test::images;

const std::filesystem::path kModel = std::filesystem::path(QNN_SOURCE_DIR) / "examples/fashion_mnist/fashion_mnist_fp32.onnx";

// Inputs of several batch sizes, so that contexts are resized while other threads run.
std::vector<Tensor> inputs() {
  std::vector<Tensor> in;
  const std::int64_t batches[] = {1, 4, 2, 7, 1, 3};
  for (std::uint32_t i = 0; i < std::size(batches); ++i) in.push_back(images(batches[i], i + 1));
  return in;
}

bool same(const std::vector<Tensor>& a, const std::vector<Tensor>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (a[i].dtype() != b[i].dtype() || !(a[i].shape() == b[i].shape()) || a[i].bytes() != b[i].bytes() ||
        std::memcmp(a[i].raw(), b[i].raw(), a[i].bytes()) != 0)
      return false;
  return true;
}

std::vector<Tensor> one(const Tensor& t) { return std::vector<Tensor>{t}; }

// Each input run alone, one after another, on one thread.
std::vector<std::vector<Tensor>> reference(const qnn::Session& s, const std::vector<Tensor>& in) {
  std::vector<std::vector<Tensor>> out;
  for (const Tensor& t : in) out.push_back(s.run(std::span<const Tensor>(&t, 1)));
  return out;
}

qnn::Graph quantized(const qnn::Graph& fp32) {
  qnn::quant::TensorReader calib({images(16, 99)}, /*batch=*/8);
  return qnn::quant::quantize(fp32, calib, qnn::quant::QuantConfig::make(qnn::quant::Preset::u8s8)).graph;
}

// `threads` threads each run every input `rounds` times, each thread starting at a different input;
// even threads use the session's pooled run(), odd ones a context of their own. Returns the number
// of results that differ from `expected`.
int hammer(const qnn::Session& s, const std::vector<Tensor>& in, const std::vector<std::vector<Tensor>>& expected,
           int threads, int rounds) {
  std::atomic<int> mismatches{0};
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      qnn::RunContext ctx;
      std::vector<Tensor> out;
      for (int r = 0; r < rounds; ++r) {
        for (std::size_t k = 0; k < in.size(); ++k) {
          const std::size_t i = (k + static_cast<std::size_t>(t)) % in.size();
          const std::span<const Tensor> x(&in[i], 1);
          if (t % 2 == 0) {
            out = s.run(x);
          } else {
            s.run(ctx, x, out);
          }
          if (!same(out, expected[i])) ++mismatches;
        }
      }
    });
  }
  for (auto& th : pool) th.join();
  return mismatches.load();
}

}  // namespace

TEST_CASE("concurrency: one Session run from several threads equals the single-threaded runs") {
  const qnn::Graph fp32 = qnn::onnx::load_graph(kModel);
  const std::vector<Tensor> in = inputs();
  for (const bool quant : {false, true}) {
    for (const int intra : {1, 2}) {
      CAPTURE(quant);
      CAPTURE(intra);
      qnn::SessionOptions options;
      options.threads = intra;
      const qnn::Session s(quant ? quantized(fp32) : qnn::Graph(fp32), options);
      const auto expected = reference(s, in);
      REQUIRE(expected.size() == in.size());
      CHECK(expected[0][0].shape() == Shape{1, 10});
      CHECK(hammer(s, in, expected, /*threads=*/4, /*rounds=*/2) == 0);
    }
  }
}

TEST_CASE("concurrency: several sessions at once, each from several threads") {
  const qnn::Graph fp32 = qnn::onnx::load_graph(kModel);
  const std::vector<Tensor> in = inputs();
  qnn::SessionOptions two;
  two.threads = 2;
  const qnn::Session a{qnn::Graph(fp32)};
  const qnn::Session b(quantized(fp32), two);
  const auto expected_a = reference(a, in);
  const auto expected_b = reference(b, in);
  // The FP32 and U8S8 results must differ somewhere, or comparing them against each other's
  // reference below would prove nothing.
  REQUIRE_FALSE(same(expected_a[1], expected_b[1]));
  std::atomic<int> mismatches_a{0}, mismatches_b{0};
  std::thread ta1([&] { mismatches_a += hammer(a, in, expected_a, 2, 2); });
  std::thread tb1([&] { mismatches_b += hammer(b, in, expected_b, 2, 2); });
  ta1.join();
  tb1.join();
  CHECK(mismatches_a.load() == 0);
  CHECK(mismatches_b.load() == 0);
}

TEST_CASE("concurrency: AsyncRunner jobs submitted and collected by several threads") {
  const qnn::Graph fp32 = qnn::onnx::load_graph(kModel);
  const std::vector<Tensor> in = inputs();
  qnn::SessionOptions two;
  two.threads = 2;
  const qnn::Session s(quantized(fp32), two);
  const auto expected = reference(s, in);
  // A queue shorter than the number of producers, so that submit() blocks and wakes up.
  qnn::AsyncRunner<qnn::Session> runner(s, qnn::AsyncOptions{.workers = 3, .max_queued = 2});
  std::atomic<int> mismatches{0};
  std::atomic<int> collected{0};
  std::vector<std::thread> producers;
  for (int p = 0; p < 3; ++p) {
    producers.emplace_back([&, p] {
      std::vector<std::pair<std::size_t, qnn::AsyncRunner<qnn::Session>::JobId>> ids;
      for (std::size_t k = 0; k < in.size(); ++k) {
        const std::size_t i = (k + static_cast<std::size_t>(p)) % in.size();
        ids.emplace_back(i, runner.submit(one(in[i])));
      }
      for (const auto& [i, id] : ids) {
        if (!same(runner.wait(id), expected[i])) ++mismatches;
        ++collected;
      }
    });
  }
  for (auto& t : producers) t.join();
  CHECK(mismatches.load() == 0);
  CHECK(collected.load() == 3 * static_cast<int>(in.size()));
  CHECK(runner.pending() == 0);
}
