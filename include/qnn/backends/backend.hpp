// The backend trait: what a type must provide to run a session's nodes (docs/backends.md).
//
// A session is instantiated on a backend type, BasicSession<B> (runtime/session.hpp; `Session` is
// BasicSession<backends::cpu::SimdBackend>). When the session is prepared it asks B, once per node,
// whether it takes the node; nodes B declines run on the CPU backend, with B's reason recorded in the
// session's partition (backends/partition.hpp). Nothing about placement is decided while running.
//
// A type B is a Backend when it provides:
//
//   B::name                 static constexpr std::string_view — "cpu", "cpu-ref", "npu-emu", "xrt";
//                           reports and the command line use it.
//   B::Kernel               the node as B prepared it. Derives from OpKernel, so its run() is the
//                           synchronous execution and its macs() feeds the partition report.
//   B::Ticket               the handle of one submitted run: default-constructible and movable
//                           (the session keeps one per node in each run context and reuses it).
//   b.supports(info)        -> Support. Yes, or no with the exact reason a user can act on: which op,
//                           dtype, shape, attribute or quantization rule the device cannot take
//                           ("MaxPool kernel 2x1 is not supported by the NPU (kernels 2x1, 1x2, 3x1
//                           and 1x3)"). Must not modify the node (read attributes through
//                           Attributes::all(), whose reads are not recorded as uses). Only nodes B
//                           accepts reach prepare().
//   b.prepare(info)         -> std::unique_ptr<B::Kernel>. One-time preparation: validate, pack or
//                           upload weights, precompute factors. Throws qnn::error for a node that is
//                           invalid on every backend (the CPU would refuse it too).
//   b.run(k, ctx)           synchronous execution of a prepared node.
//   b.submit(k, ctx)        -> Ticket. Asynchronous start. `ctx` is valid only during the call:
//                           submit reads its inputs' addresses and obtains its output buffers
//                           (ctx.output) before returning. The session then leaves those inputs and
//                           outputs untouched until wait() has returned for the ticket.
//   b.wait(t)               blocks until the run of `t` completed; a device failure is a qnn::error.
//
// All members are const: one backend object serves every run context of a session, possibly from
// several threads at once, so a backend with device state must make submit/wait thread-safe.
//
// The session drives B only through these members. It submits a node and waits for the ticket just
// before the first node that reads the node's outputs or reuses one of its buffers (and at the end
// of the run), so a device with real queues (XRT) overlaps independent nodes; the CPU backends and
// the NPU emulator complete inside submit() and return tickets that are born ready.
//
// Adding a backend touches one folder: include/qnn/backends/<device>/ with a type satisfying the
// concept, plus its line in backends/backends.hpp (visit_backend), which is how `qnn inspect
// --backend NAME` and the other tools find it.
#pragma once

#include <concepts>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "qnn/core/error.hpp"
#include "qnn/runtime/kernel.hpp"

namespace qnn::backends {

// Whether a backend takes a node, and if not, why.
class Support {
 public:
  static Support yes() { return Support(); }
  template <class... A>
  static Support no(const A&... why) {
    Support s;
    s.reason_ = qnn::detail::cat(why...);
    if (s.reason_.empty()) s.reason_ = "not supported";
    return s;
  }

  bool ok() const { return reason_.empty(); }
  explicit operator bool() const { return ok(); }
  const std::string& reason() const { return reason_; }

 private:
  std::string reason_;  // empty: supported
};

// The completed-on-return ticket of backends that execute inside submit().
struct ReadyTicket {};

template <class B>
concept Backend =
    std::move_constructible<B> && std::derived_from<typename B::Kernel, OpKernel> &&
    std::default_initializable<typename B::Ticket> && std::movable<typename B::Ticket> &&
    requires(const B& b, const NodeInfo& info, const typename B::Kernel& k, KernelContext& ctx,
             typename B::Ticket& t) {
      { B::name } -> std::convertible_to<std::string_view>;
      { b.supports(info) } -> std::same_as<Support>;
      { b.prepare(info) } -> std::same_as<std::unique_ptr<typename B::Kernel>>;
      { b.run(k, ctx) } -> std::same_as<void>;
      { b.submit(k, ctx) } -> std::same_as<typename B::Ticket>;
      { b.wait(t) } -> std::same_as<void>;
    };

// The backend that runs the nodes B declines: B::fallback_type if B names one, else the CPU backend
// given (runtime/session.hpp passes cpu::SimdBackend).
template <class B, class Default>
struct fallback_of {
  using type = Default;
};
template <class B, class Default>
  requires requires { typename B::fallback_type; }
struct fallback_of<B, Default> {
  using type = typename B::fallback_type;
};

}  // namespace qnn::backends
