// One matmul artefact bound to one weight matrix: C[M,N] = A[M,K]·B[K,N] dispatched to the NPU.
//
// Prepare once (the constructor): open the kernel, upload the instruction stream, pack every
// (K tile, N tile) of B into the artefact's layout and upload it — each into its own buffer, so a
// run only points the kernel at a different weight buffer — and make one lane: `depth` run slots,
// each with its own activation and result buffers and its own xrt::run whose constant arguments
// (opcode, instructions, their count, scalars) are set once. A call allocates nothing and uploads
// no weights: it packs each A tile into a free slot of its lane, syncs it, starts the run and moves
// on, so up to `depth` runs are in flight while the host packs the next tile and folds finished
// results into C. Slots are reused in order, so results are folded in submission order and the K
// tiles of a C tile are summed in ascending K whatever the timing.
//
// A call is split in two for asynchronous callers (the session backend, xrt_session_backend.hpp):
// start() takes a lane and starts the first `depth` runs, finish() drives the rest and folds the
// results; run() is both. Calls in flight at once — several threads, several run contexts of a
// session — each hold their own lane, so they never share a buffer; lanes are made on demand and
// kept, so the pool grows to the most calls seen at once and then allocates nothing.
//
// Every wait is bounded by the timeout. A run that times out is aborted, the other runs in flight
// are drained, and the call fails with the tile and the state; so does a run that ends in any state
// but COMPLETED. Runs carry a completion callback, which makes XRT monitor them itself: only then is
// a timed wait a real condition-variable wait on every XRT version and shim (make_slot). The caller
// (xrt_backend.hpp, xrt_session_backend.hpp) decides whether that is an error or a CPU fallback.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "qnn/backends/npu/xrt_api.hpp"
#include "qnn/backends/npu/xrt_device.hpp"
#include "qnn/backends/npu/xrt_manifest.hpp"
#include "qnn/backends/npu/xrt_tiling.hpp"
#include "qnn/core/dtype.hpp"
#include "qnn/core/error.hpp"

namespace qnn::npu {

// The host-visible buffers of one run, handed to a completion hook after the run has completed and
// its result has been synced back. Indices name the tile.
struct XrtTileIo {
  const XrtArtefact& artefact;
  const void* a;  // tm × tk, row-major, zero-padded
  const void* b;  // tk × tn ("KN") or tn × tk ("NK"), zero-padded
  void* c;        // tm × tn, row-major
  std::int64_t im, ik, in;
};
// Called on the host before a run's result is read. The noop shim computes nothing; a test hook can
// compute the tile on the CPU here ("emulated"), which checks packing, padding and tiling end to end.
using XrtCompletionHook = std::function<void(const XrtTileIo&)>;

struct XrtRunOptions {
  // Bound on each run's wait; 0 waits forever (XRT's convention).
  std::chrono::milliseconds timeout{10000};
  int depth = 2;  // runs in flight per call
  XrtCompletionHook completion_hook;
};

class XrtMatmul {
  struct Lane;

 public:
  // One call of C = A·B: start() packs and starts its first runs, finish() drives the rest and
  // folds every result into C. A call holds one lane from start() until it is destroyed (or
  // finish() throws); a call dropped unfinished settles its runs (each waited for within the
  // timeout, or aborted) before giving its lane back, so no run is ever left writing into a reused
  // buffer. The op, A and C must outlive the call.
  class Call {
   public:
    Call() = default;
    Call(Call&& o) noexcept { *this = std::move(o); }
    Call& operator=(Call&& o) noexcept {
      if (this != &o) {
        abandon();
        op_ = std::exchange(o.op_, nullptr);
        lane_ = std::exchange(o.lane_, nullptr);
        a_ = o.a_;
        c_ = o.c_;
        plan_ = o.plan_;
        next_ = o.next_;
      }
      return *this;
    }
    Call(const Call&) = delete;
    Call& operator=(const Call&) = delete;
    ~Call() { abandon(); }

    bool active() const { return lane_ != nullptr; }
    const XrtTilePlan& plan() const { return plan_; }
    // C as given to start(), or the lane's own M×N buffer when none was given (valid while the
    // call holds its lane).
    void* result() const { return c_; }

   private:
    friend class XrtMatmul;
    void abandon() noexcept {
      if (lane_) op_->release(*lane_, true);
      lane_ = nullptr;
    }
    XrtMatmul* op_ = nullptr;
    Lane* lane_ = nullptr;
    const void* a_ = nullptr;
    void* c_ = nullptr;
    XrtTilePlan plan_;
    std::int64_t next_ = 0;  // the next job to start
  };

  // `b` holds B[K,N] of dtype artefact.b with element strides (sk, sn): (N, 1) for [K,N] weights,
  // (1, K) for [N,K] ones.
  XrtMatmul(std::shared_ptr<XrtDevice> device, const XrtArtefact& artefact, const void* b, std::int64_t K,
            std::int64_t N, std::int64_t sk, std::int64_t sn, XrtRunOptions options)
      : device_(std::move(device)), art_(artefact), where_(art_.where()), K_(K), N_(N), options_(std::move(options)) {
    check(options_.depth >= 1, art_.where(), ": pipeline depth must be at least 1, got ", options_.depth);
    check(options_.timeout.count() >= 0, art_.where(), ": the timeout is negative");
    const XrtKernel& k = device_->kernel(art_);
    kernel_ = k.kernel;
    sig_ = k.args;
    slot_a_ = art_.slot_of(XrtArgRole::a);
    slot_b_ = art_.slot_of(XrtArgRole::b);
    slot_c_ = art_.slot_of(XrtArgRole::c);
    upload_instructions();
    upload_weights(static_cast<const std::byte*>(b), sk, sn);
    free_.push_back(make_lane());  // the first call allocates nothing
  }

  XrtMatmul(const XrtMatmul&) = delete;
  XrtMatmul& operator=(const XrtMatmul&) = delete;

  ~XrtMatmul() {
    // A run still in flight (a call leaked past its op) must finish before its buffers go.
    for (auto& lane : lanes_)
      for (Slot& s : lane->slots)
        if (s.job >= 0) settle(s);
  }

  const XrtArtefact& artefact() const { return art_; }
  std::int64_t K() const { return K_; }
  std::int64_t N() const { return N_; }
  XrtTilePlan plan(std::int64_t M) const { return plan_xrt_matmul(art_, M, K_, N_); }
  // Lanes made so far: the most calls that were in flight at once (at least 1).
  std::size_t lanes() const {
    std::lock_guard<std::mutex> lock(m_);
    return lanes_.size();
  }

  // C[M,N] = A[M,K]·B, A row-major of dtype artefact.a, C row-major of dtype artefact.c.
  void run(const void* a, std::int64_t M, void* c) {
    Call call = start(a, M, c);
    finish(call);
  }

  // Starts C = A·B: takes a free lane (or makes one: calls in flight at once each need their own)
  // and starts up to `depth` runs. `c` null: the result goes to a buffer of the lane, call.result().
  Call start(const void* a, std::int64_t M, void* c = nullptr) {
    Call call;
    call.plan_ = plan(M);
    call.op_ = this;
    call.lane_ = acquire();
    call.a_ = a;
    const auto c_bytes = static_cast<std::size_t>(M * N_) * size_of(art_.c);
    if (!c) {
      if (call.lane_->result.size() < c_bytes) call.lane_->result.resize(c_bytes);
      c = call.lane_->result.data();
    }
    call.c_ = c;
    const std::int64_t first = std::min<std::int64_t>(call.plan_.runs(), options_.depth);
    while (call.next_ < first) launch(call);  // a failure drops the call: its runs are settled
    return call;
  }

  // Completes a started call: every remaining run started, every result folded into C. The call
  // keeps its lane, so result() stays valid, until it is destroyed or assigned to. Throws when a
  // run fails or times out, the lane then given back at once, no run left in flight.
  void finish(Call& call) {
    check(call.op_ == this && call.active(), where_, ": finish() of a call that is not in flight on this op");
    const std::int64_t jobs = call.plan_.runs();
    std::vector<Slot>& slots = call.lane_->slots;
    try {
      while (call.next_ < jobs) {
        Slot& s = slots[static_cast<std::size_t>(call.next_ % options_.depth)];
        if (s.job >= 0) complete(call, s);
        launch(call);
      }
      for (std::int64_t j = std::max<std::int64_t>(0, jobs - options_.depth); j < jobs; ++j) {
        Slot& s = slots[static_cast<std::size_t>(j % options_.depth)];
        if (s.job >= 0) complete(call, s);
      }
    } catch (...) {
      call.abandon();
      throw;
    }
  }

 private:
  struct Weight {
    ::xrt::bo bo;
    void* host = nullptr;
  };
  struct Slot {
    ::xrt::bo a, c;
    std::byte* a_host = nullptr;
    void* c_host = nullptr;
    ::xrt::run run;
    std::int64_t job = -1;  // the job in flight, -1 when free
  };
  // `depth` run slots and the result buffer of one call in flight.
  struct Lane {
    std::vector<Slot> slots;
    std::vector<std::byte> result;  // M×N of artefact.c, grown to the largest M seen
  };

  Lane* acquire() {
    {
      std::lock_guard<std::mutex> lock(m_);
      if (!free_.empty()) {
        Lane* l = free_.back();
        free_.pop_back();
        return l;
      }
    }
    return make_lane();  // allocates outside the lock: other calls go on meanwhile
  }
  // Gives a lane back; `settle_runs`: its runs may still be in flight (a failed or dropped call).
  void release(Lane& lane, bool settle_runs) noexcept {
    if (settle_runs)
      for (Slot& s : lane.slots)
        if (s.job >= 0) settle(s);
    std::lock_guard<std::mutex> lock(m_);
    free_.push_back(&lane);
  }

  // Packs the call's next A tile into its slot, syncs it and starts the run.
  void launch(Call& call) {
    const XrtTilePlan& p = call.plan_;
    const std::int64_t j = call.next_;
    Slot& s = call.lane_->slots[static_cast<std::size_t>(j % options_.depth)];
    const std::int64_t ik = j % p.kt, in = (j / p.kt) % p.nt, im = j / (p.kt * p.nt);
    const std::size_t ea = size_of(art_.a);
    pack_tile_rows(static_cast<const std::byte*>(call.a_), K_, im * p.tm, ik * p.tk, XrtTilePlan::extent(p.M, p.tm, im),
                   XrtTilePlan::extent(K_, p.tk, ik), ea, s.a_host, p.tm, p.tk);
    device_->to_device(s.a, static_cast<std::size_t>(p.tm * p.tk) * ea, where_);
    Weight& w = weights_[static_cast<std::size_t>(ik * p.nt + in)];
    xrt_call([&] { return where_ + ": starting a run"; }, [&] {
      s.run.set_arg(slot_b_, w.bo);
      s.run.start();
    });
    ++device_->stats().runs_started;
    s.job = j;
    ++call.next_;
  }

  int group(int slot) const {
    return xrt_call(qnn::detail::cat(art_.where(), ": memory group of argument ", slot),
                    [&] { return kernel_.group_id(slot); });
  }

  void upload_instructions() {
    const int slot = art_.slot_of(XrtArgRole::instructions);
    if (slot < 0) return;
    const std::vector<std::uint32_t> words = load_instruction_stream(art_);
    const std::size_t bytes = words.size() * sizeof(std::uint32_t);
    // The instruction stream is read by the NPU's command processor: cacheable, as mlir-aie does.
    instructions_ = device_->alloc(bytes, XrtBufferKind::cacheable, group(slot), art_.where() + ": instructions");
    instruction_words_ = words.size();
    std::memcpy(xrt_call(art_.where(), [&] { return instructions_.map<void*>(); }), words.data(), bytes);
    device_->to_device(instructions_, bytes, art_.where() + ": instructions");
    device_->stats().instruction_bytes += bytes;
  }

  void upload_weights(const std::byte* b, std::int64_t sk, std::int64_t sn) {
    const XrtTilePlan p = plan(art_.M);
    const std::size_t eb = size_of(art_.b);
    const auto bytes = static_cast<std::size_t>(p.tk * p.tn) * eb;
    const int grp = group(slot_b_);
    for (std::int64_t ik = 0; ik < p.kt; ++ik)
      for (std::int64_t in = 0; in < p.nt; ++in) {
        const std::string what = qnn::detail::cat(art_.where(), ": weight tile (k ", ik, ", n ", in, ")");
        Weight w;
        w.bo = device_->alloc(bytes, art_.buffers, grp, what);
        w.host = xrt_call(what, [&] { return w.bo.map<void*>(); });
        pack_weight_tile(b, sk, sn, ik * p.tk, in * p.tn, XrtTilePlan::extent(K_, p.tk, ik),
                         XrtTilePlan::extent(N_, p.tn, in), eb, art_.b_layout, static_cast<std::byte*>(w.host), p.tk,
                         p.tn);
        device_->to_device(w.bo, bytes, what);
        device_->stats().weight_bytes += bytes;
        weights_.push_back(std::move(w));
      }
  }

  // A lane: `depth` slots, each with its activation and result buffers and its run, whose constant
  // arguments are set here once.
  Lane* make_lane() {
    auto lane = std::make_unique<Lane>();
    for (int i = 0; i < options_.depth; ++i)
      lane->slots.push_back(make_slot(qnn::detail::cat(art_.where(), ": run slot ", i)));
    std::lock_guard<std::mutex> lock(m_);
    lanes_.push_back(std::move(lane));
    return lanes_.back().get();
  }

  Slot make_slot(const std::string& what) {
    Slot s;
    s.a = device_->alloc(static_cast<std::size_t>(art_.M * art_.K) * size_of(art_.a), art_.buffers, group(slot_a_), what);
    s.c = device_->alloc(static_cast<std::size_t>(art_.M * art_.N) * size_of(art_.c), art_.buffers, group(slot_c_), what);
    xrt_call(what, [&] {
      s.a_host = s.a.map<std::byte*>();
      s.c_host = s.c.map<void*>();
      s.run = ::xrt::run(kernel_);
      // A completion callback makes the run "managed": XRT's monitor thread waits for it and
      // run.wait(timeout) is a condition-variable wait. Unmanaged, XRT 2.13 hands the timeout to the
      // shim's exec_wait, which the noop shim ignores (it spins until some run completes).
      s.run.add_callback(ERT_CMD_STATE_COMPLETED, [](const void*, ert_cmd_state, void*) {}, nullptr);
      for (std::size_t slot = 0; slot < art_.args.size(); ++slot) {
        const int idx = static_cast<int>(slot);
        switch (art_.args[slot].role) {
          case XrtArgRole::opcode: set_scalar(s.run, idx, art_.opcode); break;
          case XrtArgRole::instruction_count: set_scalar(s.run, idx, instruction_words_); break;
          case XrtArgRole::scalar: set_scalar(s.run, idx, art_.args[slot].value); break;
          case XrtArgRole::instructions: s.run.set_arg(idx, instructions_); break;
          case XrtArgRole::a: s.run.set_arg(idx, s.a); break;
          case XrtArgRole::c: s.run.set_arg(idx, s.c); break;
          case XrtArgRole::b:
          case XrtArgRole::unused: break;
        }
      }
    });
    return s;
  }

  // A scalar argument, written with the width the xclbin declares (checked to be 4 or 8 bytes).
  void set_scalar(::xrt::run& run, int idx, std::uint64_t v) const {
    if (sig_[static_cast<std::size_t>(idx)].size == 4) {
      check(v <= 0xffffffffu, art_.where(), ": argument ", idx, " is 32-bit but its value is ", v);
      run.set_arg(idx, static_cast<std::uint32_t>(v));
    } else {
      run.set_arg(idx, v);
    }
  }

  // Waits for the slot's run within the timeout; aborts it on timeout. Throws unless COMPLETED.
  void wait(Slot& s, const XrtTilePlan& p) {
    const std::int64_t j = s.job;
    auto tile = [&] {
      return qnn::detail::cat(where_, ": run of tile (m ", j / (p.kt * p.nt), ", n ", (j / p.kt) % p.nt, ", k ",
                              j % p.kt, ")");
    };
    const ert_cmd_state st = xrt_call(tile, [&] { return s.run.wait(options_.timeout); });
    if (st == ERT_CMD_STATE_COMPLETED) {
      ++device_->stats().runs_completed;
      s.job = -1;
      return;
    }
    settle(s, st);
    if (st == ERT_CMD_STATE_TIMEOUT) fail(tile(), ": did not complete within ", options_.timeout.count(), " ms; aborted");
    fail(tile(), ": ended in state ", xrt_state_name(st), " (", static_cast<int>(st), ")");
  }

  // Waits for the slot's run, then folds its result tile into the call's C.
  void complete(const Call& call, Slot& s) {
    const XrtTilePlan& p = call.plan_;
    void* c = call.c_;
    const std::int64_t j = s.job;
    wait(s, p);
    const std::int64_t ik = j % p.kt, in = (j / p.kt) % p.nt, im = j / (p.kt * p.nt);
    device_->from_device(s.c, static_cast<std::size_t>(p.tm * p.tn) * size_of(art_.c), where_);
    if (options_.completion_hook)
      options_.completion_hook(
          XrtTileIo{art_, s.a_host, weights_[static_cast<std::size_t>(ik * p.nt + in)].host, s.c_host, im, ik, in});
    const std::int64_t rows = XrtTilePlan::extent(p.M, p.tm, im), cols = XrtTilePlan::extent(p.N, p.tn, in);
    if (art_.c == DType::i32)
      accumulate_c_tile(static_cast<const std::int32_t*>(s.c_host), p.tn, rows, cols, ik == 0,
                        static_cast<std::int32_t*>(c), p.N, im * p.tm, in * p.tn);
    else
      accumulate_c_tile(static_cast<const float*>(s.c_host), p.tn, rows, cols, ik == 0, static_cast<float*>(c), p.N,
                        im * p.tm, in * p.tn);
  }

  // Leaves the slot free without throwing, its run accounted for: waited for (within the timeout)
  // unless `known` is its state already, and aborted if still running, so no run is left in flight
  // when its buffers are reused or freed. Runs started = completed + timed out + failed.
  void settle(Slot& s, std::optional<ert_cmd_state> known = std::nullopt) noexcept {
    XrtStats& st = device_->stats();
    try {
      const ert_cmd_state state = known ? *known : s.run.wait(options_.timeout);
      if (state == ERT_CMD_STATE_COMPLETED) {
        ++st.runs_completed;
      } else if (state == ERT_CMD_STATE_TIMEOUT) {
        ++st.runs_timed_out;
        s.run.abort();
      } else {
        ++st.runs_failed;
      }
    } catch (...) {
      // Nothing more to do: the error that brought us here is the one the caller sees.
      ++st.runs_failed;
    }
    s.job = -1;
  }

  static const char* xrt_state_name(ert_cmd_state s) {
    switch (s) {
      case ERT_CMD_STATE_NEW: return "NEW";
      case ERT_CMD_STATE_QUEUED: return "QUEUED";
      case ERT_CMD_STATE_RUNNING: return "RUNNING";
      case ERT_CMD_STATE_COMPLETED: return "COMPLETED";
      case ERT_CMD_STATE_ERROR: return "ERROR";
      case ERT_CMD_STATE_ABORT: return "ABORT";
      case ERT_CMD_STATE_SUBMITTED: return "SUBMITTED";
      case ERT_CMD_STATE_TIMEOUT: return "TIMEOUT";
      case ERT_CMD_STATE_NORESPONSE: return "NORESPONSE";
      default: return "unknown";
    }
  }

  std::shared_ptr<XrtDevice> device_;  // first: outlives every buffer and run below
  XrtArtefact art_;
  std::string where_;  // "artefact 'name'", for messages
  std::int64_t K_, N_;
  XrtRunOptions options_;
  ::xrt::kernel kernel_;
  std::vector<XrtKernelArg> sig_;
  int slot_a_ = -1, slot_b_ = -1, slot_c_ = -1;
  ::xrt::bo instructions_;
  std::uint64_t instruction_words_ = 0;
  std::vector<Weight> weights_;  // [k tile][n tile]
  std::vector<std::unique_ptr<Lane>> lanes_;  // every lane made; lanes are never freed before the op
  std::vector<Lane*> free_;                   // lanes no call holds
  mutable std::mutex m_;                      // guards lanes_ and free_
};

}  // namespace qnn::npu
