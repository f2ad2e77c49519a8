// A small fork-join thread pool: parallel_for(n, f) runs f(part, begin, end) over a static split
// of [0, n) and returns when every part is done. `part` (0 ≤ part < threads) lets a part use its
// own scratch memory.
//
// Static, contiguous splits (not work stealing) because qnn's kernels split batch or output
// channels into equal, independent ranges: the split — and so every result — depends only on n
// and the thread count, never on timing. The calling thread takes part 0, so a pool of T threads
// has T − 1 workers. Exceptions thrown by parts are re-thrown to the caller (the first one).
//
// Idle workers, and a caller waiting for its parts, spin for up to kSpin before they sleep on the
// condition variable: a small model runs one parallel_for per layer with a few microseconds of
// serial work between them, and waking a sleeping thread through the kernel costs more than that
// on a VM (the Fashion-MNIST CNN at batch 1 ran slower on 2 threads than on 1 before this).
// The spin is bounded, so an idle session does not keep a core busy.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
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
  static constexpr std::chrono::microseconds kSpin{100};

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
      pending_.store(parts - 1, std::memory_order_relaxed);
      error_ = nullptr;
      generation_.fetch_add(1, std::memory_order_release);
    }
    cv_.notify_all();
    run_part(0);
    if (!spin_until([&] { return pending_.load(std::memory_order_acquire) == 0; })) {
      std::unique_lock<std::mutex> lock(m_);
      done_.wait(lock, [&] { return pending_.load(std::memory_order_acquire) == 0; });
    }
    std::lock_guard<std::mutex> lock(m_);
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

  // True once ready() holds, false if it did not within kSpin.
  template <class Ready>
  static bool spin_until(Ready&& ready) {
    const auto until = std::chrono::steady_clock::now() + kSpin;
    while (true) {
      for (int i = 0; i < 64; ++i) {
        if (ready()) return true;
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#endif
      }
      if (std::chrono::steady_clock::now() > until) return false;
    }
  }

  void work(int index) {
    std::uint64_t seen = 0;
    while (true) {
      spin_until([&] { return generation_.load(std::memory_order_acquire) != seen || stop_.load(std::memory_order_relaxed); });
      {
        std::unique_lock<std::mutex> lock(m_);
        cv_.wait(lock, [&] { return stop_.load(std::memory_order_relaxed) || generation_.load(std::memory_order_relaxed) != seen; });
        if (stop_.load(std::memory_order_relaxed)) return;
        seen = generation_.load(std::memory_order_relaxed);
        if (index >= parts_) continue;
      }
      run_part(index);
      if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
        std::lock_guard<std::mutex> lock(m_);  // the caller may be about to sleep on done_
        done_.notify_one();
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
  std::atomic<int> pending_{0};
  std::atomic<std::uint64_t> generation_{0};
  std::atomic<bool> stop_{false};
  std::exception_ptr error_;
};

}  // namespace qnn
