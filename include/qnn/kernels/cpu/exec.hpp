// What a kernel needs to run fast besides its operands: scratch memory and worker threads.
//
// A Workspace is scratch memory that grows to the largest request and is then reused, so steady
// state runs allocate nothing. An Exec bundles one workspace per thread with the thread pool of
// the run context; parallel() splits a range statically (thread_pool.hpp), so every element is
// computed by the same instructions in the same order whatever the thread count.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

#include "qnn/core/aligned_buffer.hpp"
#include "qnn/runtime/thread_pool.hpp"

namespace qnn::cpu {

class Workspace {
 public:
  std::byte* get(std::size_t bytes) {
    if (buf_.size() < bytes) buf_ = AlignedBuffer(bytes);
    return buf_.data();
  }
  template <class T>
  T* get(std::size_t count) {
    return reinterpret_cast<T*>(get(count * sizeof(T)));
  }

 private:
  AlignedBuffer buf_;
};

struct Exec {
  ThreadPool* pool = nullptr;          // null: run on the calling thread
  std::vector<Workspace>* workspaces = nullptr;  // at least one per thread

  int threads() const { return pool ? pool->threads() : 1; }

  // f(workspace, begin, end) over [0, n), parts of at least `grain` items.
  void parallel(std::int64_t n, const std::function<void(Workspace&, std::int64_t, std::int64_t)>& f,
                std::int64_t grain = 1) const {
    if (!pool || n <= 1) {
      f((*workspaces)[0], 0, n);
      return;
    }
    pool->parallel_for(n, [&](int part, std::int64_t b, std::int64_t e) {
      f((*workspaces)[static_cast<std::size_t>(part)], b, e);
    }, grain);
  }
};

// A single-threaded Exec with its own workspace, for one-off calls (tests, constant folding).
struct LocalExec {
  std::vector<Workspace> ws = std::vector<Workspace>(1);
  Exec exec() { return Exec{nullptr, &ws}; }
};

}  // namespace qnn::cpu
