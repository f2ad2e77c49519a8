// qnn/runtime/async.hpp: jobs submitted and collected later, several in flight, a bounded queue,
// errors delivered to the caller who collects the job.
//
// Concurrency is tested with a model whose runs block on a gate the test opens, so "three jobs are
// running at once" and "the queue is full" are states the test waits for, not timings it hopes
// for. Results are checked with a real Session.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

#include "../ops/ops_test_util.hpp"
#include "qnn/runtime/async.hpp"

using qnn::AsyncOptions;
using qnn::AsyncRunner;
using qnn::DType;
using qnn::RunContext;
using qnn::Shape;
using qnn::Tensor;

namespace {

// y = Relu(x), x: [batch, 4] float32.
qnn::Session relu_session() {
  return qnn::Session(
      qnn_ops_test::GraphBuilder().input("x", DType::f32, {-1, 4}).node("Relu", {"x"}, {"y"}).output("y").graph());
}

Tensor ramp(std::int64_t batch, float start) {
  Tensor t(DType::f32, Shape{batch, 4});
  auto* p = reinterpret_cast<float*>(t.raw());
  for (std::int64_t i = 0; i < t.numel(); ++i) p[i] = start + static_cast<float>(i) - 5.0f;
  return t;
}

std::vector<Tensor> one(Tensor t) {
  std::vector<Tensor> v;
  v.push_back(std::move(t));
  return v;
}

bool same(const Tensor& a, const Tensor& b) {
  return a.dtype() == b.dtype() && a.shape() == b.shape() && std::memcmp(a.raw(), b.raw(), a.bytes()) == 0;
}

// A model whose runs wait until the test opens the gate; it counts runs in progress.
class GatedModel {
 public:
  void run(RunContext&, std::span<const Tensor> in, std::vector<Tensor>& out) const {
    std::unique_lock<std::mutex> lock(m_);
    ++runs_;
    ++active_;
    peak_ = std::max(peak_, active_);
    cv_.notify_all();
    cv_.wait(lock, [&] { return open_; });
    --active_;
    if (!in.empty() && in[0].numel() == 0) throw std::runtime_error("empty input rejected by the model");
    out.assign(in.begin(), in.end());
  }
  void open() {
    std::lock_guard<std::mutex> lock(m_);
    open_ = true;
    cv_.notify_all();
  }
  // Waits (bounded) until `n` runs are in progress at once.
  bool wait_active(int n) const {
    std::unique_lock<std::mutex> lock(m_);
    return cv_.wait_for(lock, std::chrono::seconds(10), [&] { return active_ == n; });
  }
  int peak() const {
    std::lock_guard<std::mutex> lock(m_);
    return peak_;
  }
  int runs() const {
    std::lock_guard<std::mutex> lock(m_);
    return runs_;
  }

 private:
  mutable std::mutex m_;
  mutable std::condition_variable cv_;
  mutable int active_ = 0;
  mutable int peak_ = 0;
  mutable int runs_ = 0;
  bool open_ = false;
};

}  // namespace

TEST_CASE("async: results equal synchronous runs, collected in any order") {
  const qnn::Session s = relu_session();
  AsyncRunner runner(s, AsyncOptions{3, 4});
  std::vector<AsyncRunner<>::JobId> ids;
  std::vector<Tensor> inputs;
  for (int i = 0; i < 12; ++i) {
    inputs.push_back(ramp(1 + i % 3, static_cast<float>(i)));
    ids.push_back(runner.submit(one(inputs.back())));
  }
  for (int i = 11; i >= 0; --i) {  // reverse order
    CAPTURE(i);
    const auto got = runner.wait(ids[static_cast<std::size_t>(i)]);
    const auto want = s.run({inputs[static_cast<std::size_t>(i)]});
    REQUIRE(got.size() == 1);
    CHECK(same(got[0], want[0]));
  }
  CHECK(runner.pending() == 0);
}

TEST_CASE("async: a job's error reaches the caller that collects it, and only that job fails") {
  const qnn::Session s = relu_session();
  AsyncRunner runner(s, AsyncOptions{2, 8});
  const auto good1 = runner.submit(one(ramp(2, 0)));
  const auto bad = runner.submit(one(Tensor(DType::f32, Shape{2, 5})));  // wrong inner dimension
  const auto good2 = runner.submit(one(ramp(1, 3)));
  CHECK_THROWS_WITH_AS(runner.wait(bad), "input 'x' dimension 1 must be 4, got shape [2,5]", qnn::error);
  CHECK(runner.wait(good1).size() == 1);
  CHECK(runner.wait(good2).size() == 1);
  // The failed job was collected with its error; asking again is an error too, not a hang.
  CHECK_THROWS_WITH_AS(runner.wait(bad), doctest::Contains("job 2 is unknown"), qnn::error);
  CHECK_THROWS_WITH_AS(runner.wait(99), doctest::Contains("job 99 is unknown"), qnn::error);
  // The worker that ran the failed job keeps working.
  for (int i = 0; i < 4; ++i) CHECK(runner.wait(runner.submit(one(ramp(1, 0)))).size() == 1);
}

TEST_CASE("async: exceptions other than qnn::error are delivered unchanged") {
  GatedModel model;
  model.open();
  AsyncRunner runner(model, AsyncOptions{1, 2});
  const auto id = runner.submit(one(Tensor(DType::f32, Shape{0})));
  CHECK_THROWS_WITH_AS(runner.wait(id), "empty input rejected by the model", std::runtime_error);
}

TEST_CASE("async: several jobs in flight, a bounded queue, and states") {
  GatedModel model;
  AsyncRunner runner(model, AsyncOptions{3, 2});
  std::vector<AsyncRunner<GatedModel>::JobId> ids;
  for (int i = 0; i < 3; ++i) ids.push_back(runner.submit(one(ramp(1, static_cast<float>(i)))));
  REQUIRE(model.wait_active(3));  // three workers, three jobs running at once
  CHECK(runner.running() == 3);
  CHECK(runner.state(ids[0]) == AsyncRunner<GatedModel>::JobState::running);

  ids.push_back(runner.submit(one(ramp(1, 3))));
  ids.push_back(runner.submit(one(ramp(1, 4))));
  CHECK(runner.queued() == 2);
  CHECK(runner.state(ids[4]) == AsyncRunner<GatedModel>::JobState::queued);
  CHECK_FALSE(runner.try_submit(one(ramp(1, 5))).has_value());  // full
  CHECK_FALSE(runner.wait_for(ids[0], std::chrono::milliseconds(20)).has_value());  // still running

  // A blocking submit waits for room, and gets it once the gate opens.
  std::atomic<bool> submitted{false};
  std::thread producer([&] {
    ids.push_back(runner.submit(one(ramp(1, 6))));
    submitted = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  CHECK_FALSE(submitted.load());
  model.open();
  producer.join();
  CHECK(submitted.load());

  for (std::size_t i = 0; i < ids.size(); ++i) {
    const auto out = runner.wait_for(ids[i], std::chrono::seconds(10));
    REQUIRE(out.has_value());
    CHECK(same((*out)[0], ramp(1, i == 5 ? 6.0f : static_cast<float>(i))));
  }
  CHECK(model.peak() == 3);
  CHECK(runner.pending() == 0);
}

TEST_CASE("async: many producers and collectors on one runner") {
  const qnn::Session s = relu_session();
  AsyncRunner runner(s, AsyncOptions{2, 3});
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 25; ++i) {
        const Tensor x = ramp(1 + (t + i) % 4, static_cast<float>(t * 100 + i));
        const auto id = runner.submit(one(x));
        const auto got = runner.wait(id);
        if (!same(got[0], s.run({x})[0])) ++wrong;
      }
    });
  for (auto& th : threads) th.join();
  CHECK(wrong.load() == 0);
  CHECK(runner.pending() == 0);
}

TEST_CASE("async: destroying the runner cancels queued jobs and waits for running ones") {
  GatedModel model;
  std::thread opener;
  {
    AsyncRunner runner(model, AsyncOptions{1, 4});
    runner.submit(one(ramp(1, 0)));
    REQUIRE(model.wait_active(1));
    runner.submit(one(ramp(1, 1)));
    runner.submit(one(ramp(1, 2)));
    CHECK(runner.pending() == 3);
    opener = std::thread([&] {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      model.open();
    });
  }  // returns once the running job is done; the two queued ones never run
  opener.join();
  CHECK(model.runs() == 1);
}

TEST_CASE("async: options are checked") {
  const qnn::Session s = relu_session();
  CHECK_THROWS_WITH_AS(AsyncRunner(s, AsyncOptions{0, 4}), "AsyncRunner: workers must be at least 1, got 0", qnn::error);
  CHECK_THROWS_WITH_AS(AsyncRunner(s, AsyncOptions{1, 0}), "AsyncRunner: max_queued must be at least 1", qnn::error);
}
