// Asynchronous inference: submit jobs now, collect their results later.
//
// The model of the Vitis AI runtime's execute_async()/wait(): submit() hands a job (its inputs) to
// the runner and returns its id at once; wait(id) blocks until that job is done and returns its
// outputs — or rethrows, to that caller, exactly the exception the job raised. Several jobs run at
// once, one per worker thread, each worker with a run context of its own (Session::run is
// thread-safe that way; its results do not depend on which worker ran them).
//
// Bounded: at most max_queued jobs wait for a worker. submit() blocks while the queue is full
// (backpressure on a producer that outruns the model), try_submit() returns nothing instead.
// Running jobs and finished-but-uncollected ones do not count against the bound: a caller that
// submits many jobs and only then waits can never deadlock on its own results.
//
// Errors are never lost or swallowed: a job's exception is stored with the job and rethrown by the
// wait() that collects it; asking for an id that was never issued, or collected already, is itself
// an error. Every method may be called from any thread. Destroying the runner cancels the jobs
// still queued, lets the running ones finish and joins the workers; results and errors of jobs
// nobody collected are dropped with it.
#pragma once

#include <chrono>
#include <concepts>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <exception>
#include <map>
#include <mutex>
#include <optional>
#include <span>
#include <thread>
#include <utility>
#include <vector>

#include "qnn/core/error.hpp"
#include "qnn/core/tensor.hpp"
#include "qnn/runtime/session.hpp"

namespace qnn {

namespace detail {
// The per-thread context a model runs with: M::Context (a session's), else RunContext.
template <class M>
struct async_context {
  using type = RunContext;
};
template <class M>
  requires requires { typename M::Context; }
struct async_context<M> {
  using type = typename M::Context;
};
}  // namespace detail

// What the runner needs of a model: a session's run on a context of its own per thread.
template <class M>
concept AsyncRunnable = std::default_initializable<typename detail::async_context<M>::type> &&
                        requires(const M& m, typename detail::async_context<M>::type& ctx,
                                 std::span<const Tensor> in, std::vector<Tensor>& out) { m.run(ctx, in, out); };

struct AsyncOptions {
  int workers = 2;              // jobs running at once
  std::size_t max_queued = 16;  // jobs waiting for a worker
};

template <AsyncRunnable Model = Session>
class AsyncRunner {
 public:
  using JobId = std::uint64_t;
  using Context = typename detail::async_context<Model>::type;
  enum class JobState : std::uint8_t { queued, running, done, failed };

  explicit AsyncRunner(const Model& model, AsyncOptions options = {}) : model_(model), options_(options) {
    check(options_.workers >= 1, "AsyncRunner: workers must be at least 1, got ", options_.workers);
    check(options_.max_queued >= 1, "AsyncRunner: max_queued must be at least 1");
    workers_.reserve(static_cast<std::size_t>(options_.workers));
    for (int i = 0; i < options_.workers; ++i) workers_.emplace_back([this] { work(); });
  }
  AsyncRunner(const AsyncRunner&) = delete;
  AsyncRunner& operator=(const AsyncRunner&) = delete;

  ~AsyncRunner() {
    {
      std::lock_guard<std::mutex> lock(m_);
      stopping_ = true;
      for (JobId id : queue_) jobs_.erase(id);  // cancelled: nobody can collect them any more
      queue_.clear();
    }
    work_ready_.notify_all();
    space_ready_.notify_all();
    job_done_.notify_all();
    for (auto& t : workers_) t.join();
  }

  // Queues a job, blocking while max_queued jobs are already waiting. The job owns its inputs.
  JobId submit(std::vector<Tensor> inputs) {
    std::unique_lock<std::mutex> lock(m_);
    space_ready_.wait(lock, [&] { return stopping_ || queue_.size() < options_.max_queued; });
    check(!stopping_, "AsyncRunner: submit() while the runner is being destroyed");
    return enqueue(lock, std::move(inputs));
  }
  // Queues a job unless the queue is full.
  std::optional<JobId> try_submit(std::vector<Tensor> inputs) {
    std::unique_lock<std::mutex> lock(m_);
    if (stopping_ || queue_.size() >= options_.max_queued) return std::nullopt;
    return enqueue(lock, std::move(inputs));
  }

  // Blocks until job `id` has finished, then collects it: its outputs, or its exception rethrown.
  std::vector<Tensor> wait(JobId id) {
    std::unique_lock<std::mutex> lock(m_);
    find_or_fail(id);
    job_done_.wait(lock, [&] { return finished_or_gone(id); });
    return collect(lock, id);
  }
  // As wait(), but gives up after `timeout`: nothing, and the job stays to be collected later.
  std::optional<std::vector<Tensor>> wait_for(JobId id, std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(m_);
    find_or_fail(id);
    if (!job_done_.wait_for(lock, timeout, [&] { return finished_or_gone(id); })) return std::nullopt;
    return collect(lock, id);
  }

  JobState state(JobId id) const {
    std::lock_guard<std::mutex> lock(m_);
    return find_or_fail(id).state;
  }
  std::size_t queued() const {
    std::lock_guard<std::mutex> lock(m_);
    return queue_.size();
  }
  std::size_t running() const {
    std::lock_guard<std::mutex> lock(m_);
    return running_;
  }
  // Jobs submitted and not yet collected, in any state.
  std::size_t pending() const {
    std::lock_guard<std::mutex> lock(m_);
    return jobs_.size();
  }
  const AsyncOptions& options() const { return options_; }

 private:
  struct Job {
    std::vector<Tensor> inputs;
    std::vector<Tensor> outputs;
    std::exception_ptr error;
    JobState state = JobState::queued;
  };

  // The inputs are moved into the job; clang-tidy 14 misses the move in this class template.
  // NOLINTNEXTLINE(performance-unnecessary-value-param)
  JobId enqueue(std::unique_lock<std::mutex>& lock, std::vector<Tensor> inputs) {
    const JobId id = next_id_++;
    jobs_[id].inputs = std::move(inputs);
    queue_.push_back(id);
    lock.unlock();
    work_ready_.notify_one();
    return id;
  }

  const Job& find_or_fail(JobId id) const {
    auto it = jobs_.find(id);
    check(it != jobs_.end(), "AsyncRunner: job ", id, " is unknown (never submitted, already collected, or cancelled)");
    return it->second;
  }
  bool finished_or_gone(JobId id) const {
    auto it = jobs_.find(id);
    return it == jobs_.end() || it->second.state == JobState::done || it->second.state == JobState::failed;
  }
  std::vector<Tensor> collect(std::unique_lock<std::mutex>& lock, JobId id) {
    auto it = jobs_.find(id);
    check(it != jobs_.end(), "AsyncRunner: job ", id, " was collected by another caller, or cancelled");
    Job job = std::move(it->second);
    jobs_.erase(it);
    lock.unlock();
    if (job.error) std::rethrow_exception(job.error);
    return std::move(job.outputs);
  }

  void work() {
    std::optional<Context> ctx(std::in_place);
    while (true) {
      Job* job = nullptr;
      {
        std::unique_lock<std::mutex> lock(m_);
        work_ready_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
        if (queue_.empty()) return;  // stopping: the queue was cancelled
        job = &jobs_.at(queue_.front());
        queue_.pop_front();
        job->state = JobState::running;
        ++running_;
      }
      space_ready_.notify_one();
      // The job is ours until it is marked finished: nobody else touches a running job, and
      // std::map keeps its address while other jobs come and go.
      std::vector<Tensor> out;
      std::exception_ptr err;
      try {
        model_.run(*ctx, std::span<const Tensor>(job->inputs), out);
      } catch (...) {
        err = std::current_exception();
        ctx.emplace();  // the failed run's scratch state is not trusted for the next job
      }
      {
        std::lock_guard<std::mutex> lock(m_);
        job->inputs.clear();
        job->outputs = std::move(out);
        job->state = err ? JobState::failed : JobState::done;
        job->error = std::move(err);  // moved: the collector must hold the only reference
        --running_;
      }
      job_done_.notify_all();
    }
  }

  const Model& model_;
  const AsyncOptions options_;
  mutable std::mutex m_;
  std::condition_variable work_ready_;   // a job was queued, or stopping
  std::condition_variable space_ready_;  // the queue shrank, or stopping
  std::condition_variable job_done_;     // a job finished
  std::map<JobId, Job> jobs_;            // submitted, not yet collected
  std::deque<JobId> queue_;              // waiting for a worker
  std::size_t running_ = 0;
  JobId next_id_ = 1;
  bool stopping_ = false;
  std::vector<std::thread> workers_;     // last: started after everything above exists
};

}  // namespace qnn
