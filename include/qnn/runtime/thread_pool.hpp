// A small fork-join thread pool: parallel_for(n, f) runs f(part, begin, end) over a static split
// of [0, n) and returns when every part is done. `part` (0 ≤ part < threads) lets a part use its
// own scratch memory.
//
// Static, contiguous splits (not work stealing) because qnn's kernels split batch or output
// channels into equal, independent ranges: the split — and so every result — depends only on n
// and the thread count, never on timing. The calling thread takes part 0, so a pool of T threads
// has T − 1 workers. Exceptions thrown by parts are re-thrown to the caller (the first one).
#pragma once

#include <algorithm>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "qnn/core/error.hpp"

namespace qnn {

class ThreadPool {
 public:
  explicit ThreadPool(int threads) : threads_(std::max(1, threads)) {
    for (int i = 1; i < threads_; ++i) workers_.emplace_back([this, i] { work(i); });
  }
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;
  ~ThreadPool() {
    {
      std::lock_guard<std::mutex> lock(m_);
      stop_ = true;
    }
    cv_.notify_all();
    for (auto& t : workers_) t.join();
  }

  int threads() const { return threads_; }

  // Part i of `parts` covers [n·i/parts, n·(i+1)/parts).
  static std::pair<std::int64_t, std::int64_t> split(std::int64_t n, int parts, int i) {
    return {n * i / parts, n * (i + 1) / parts};
  }

  // Runs f(part, begin, end) on up to threads() parts of [0, n). Parts with less than `grain` items are
  // merged (fewer threads on small problems). Not re-entrant: one parallel_for at a time per pool.
  void parallel_for(std::int64_t n, const std::function<void(int, std::int64_t, std::int64_t)>& f,
                    std::int64_t grain = 1) {
    if (n <= 0) return;
    const int parts = static_cast<int>(std::clamp<std::int64_t>(n / std::max<std::int64_t>(grain, 1), 1, threads_));
    if (parts == 1) {
      f(0, 0, n);
      return;
    }
    {
      std::lock_guard<std::mutex> lock(m_);
      job_ = &f;
      n_ = n;
      parts_ = parts;
      pending_ = parts - 1;
      error_ = nullptr;
      ++generation_;
    }
    cv_.notify_all();
    run_part(0);
    std::unique_lock<std::mutex> lock(m_);
    done_.wait(lock, [&] { return pending_ == 0; });
    job_ = nullptr;
    if (error_) std::rethrow_exception(error_);
  }

 private:
  void run_part(int i) {
    const auto [b, e] = split(n_, parts_, i);
    try {
      (*job_)(i, b, e);
    } catch (...) {
      std::lock_guard<std::mutex> lock(m_);
      if (!error_) error_ = std::current_exception();
    }
  }

  void work(int index) {
    std::uint64_t seen = 0;
    while (true) {
      {
        std::unique_lock<std::mutex> lock(m_);
        cv_.wait(lock, [&] { return stop_ || generation_ != seen; });
        if (stop_) return;
        seen = generation_;
        if (index >= parts_) continue;
      }
      run_part(index);
      {
        std::lock_guard<std::mutex> lock(m_);
        if (--pending_ == 0) done_.notify_one();
      }
    }
  }

  int threads_;
  std::vector<std::thread> workers_;
  std::mutex m_;
  std::condition_variable cv_;
  std::condition_variable done_;
  const std::function<void(int, std::int64_t, std::int64_t)>* job_ = nullptr;
  std::int64_t n_ = 0;
  int parts_ = 1;
  int pending_ = 0;
  std::uint64_t generation_ = 0;
  bool stop_ = false;
  std::exception_ptr error_;
};

}  // namespace qnn
