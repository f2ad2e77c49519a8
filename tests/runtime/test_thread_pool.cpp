// qnn::ThreadPool (runtime/thread_pool.hpp): every index of [0, n) runs exactly once, in the
// documented static split; small problems merge parts; a part's exception reaches the caller and
// leaves the pool usable; and the hand-over works both ways a worker can be found — still spinning
// (calls back to back) and asleep (calls further apart than the spin). Part of qnn_tests and of
// qnn_tsan_tests, where a race in the hand-over fails the run.
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <thread>
#include <vector>

#include "qnn/runtime/thread_pool.hpp"

namespace {

// Runs one parallel_for over n items and checks each index was visited once, by the part the
// static split assigns it to.
void check_cover(qnn::ThreadPool& pool, std::int64_t n, std::int64_t grain) {
  std::vector<std::atomic<int>> hits(static_cast<std::size_t>(n));
  std::vector<std::atomic<int>> owner(static_cast<std::size_t>(n));
  std::atomic<int> parts_seen{0};
  pool.parallel_for(n, [&](int part, std::int64_t b, std::int64_t e) {
    parts_seen.fetch_add(1);
    for (std::int64_t i = b; i < e; ++i) {
      hits[static_cast<std::size_t>(i)].fetch_add(1);
      owner[static_cast<std::size_t>(i)].store(part);
    }
  }, grain);
  const int parts = static_cast<int>(std::clamp<std::int64_t>(n / grain, 1, pool.threads()));
  CHECK(parts_seen.load() == parts);
  std::int64_t wrong = 0;
  for (int p = 0; p < parts; ++p) {
    const auto [b, e] = qnn::ThreadPool::split(n, parts, p);
    for (std::int64_t i = b; i < e; ++i)
      wrong += hits[static_cast<std::size_t>(i)].load() != 1 || owner[static_cast<std::size_t>(i)].load() != p;
  }
  CHECK(wrong == 0);
}

}  // namespace

TEST_CASE("thread pool: each index once, in the static split, for any n, grain and pool size") {
  for (const int threads : {1, 2, 3, 5}) {
    qnn::ThreadPool pool(threads);
    CHECK(pool.threads() == threads);
    for (const std::int64_t n : {1, 2, 3, 7, 64, 1000})
      for (const std::int64_t grain : {1, 4, 100}) check_cover(pool, n, grain);
  }
}

TEST_CASE("thread pool: back-to-back calls (workers still spinning) and calls apart (workers asleep)") {
  qnn::ThreadPool pool(3);
  std::atomic<std::int64_t> sum{0};
  const auto add = [&](int, std::int64_t b, std::int64_t e) {
    for (std::int64_t i = b; i < e; ++i) sum.fetch_add(i);
  };
  for (int i = 0; i < 2000; ++i) pool.parallel_for(30, add);
  CHECK(sum.load() == 2000 * (29 * 30 / 2));
  sum = 0;
  for (int i = 0; i < 5; ++i) {
    std::this_thread::sleep_for(qnn::ThreadPool::kSpin * 5);  // past the spin: the workers sleep
    pool.parallel_for(30, add);
  }
  CHECK(sum.load() == 5 * (29 * 30 / 2));
}

TEST_CASE("thread pool: a part's exception reaches the caller, and the pool keeps working") {
  qnn::ThreadPool pool(2);
  for (const int thrower : {0, 1}) {  // the caller's own part, then a worker's
    CHECK_THROWS_WITH_AS(pool.parallel_for(10, [&](int part, std::int64_t, std::int64_t) {
      if (part == thrower) throw std::runtime_error("part failed");
    }), "part failed", std::runtime_error);
    check_cover(pool, 10, 1);
  }
}

TEST_CASE("thread pool: destroyed while its workers spin, and while they sleep") {
  {
    qnn::ThreadPool pool(4);
    check_cover(pool, 100, 1);
  }  // right after a call: workers are spinning
  {
    qnn::ThreadPool pool(4);
    check_cover(pool, 100, 1);
    std::this_thread::sleep_for(qnn::ThreadPool::kSpin * 5);
  }  // workers asleep on the condition variable; a lost wake-up would hang the join here
}
