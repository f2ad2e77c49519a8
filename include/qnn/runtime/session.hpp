// Session: a model prepared once, run many times, from many threads.
//
// Preparing (the constructor) runs the graph passes, makes one kernel per node (weights packed,
// factors precomputed, attributes validated), and plans memory: every intermediate value gets a
// buffer slot, and a slot is reused once the last reader of its previous value has run. A RunContext
// owns the slots, so each thread that runs the session concurrently uses its own context; the
// session itself is never written after construction. Slots grow to the largest batch seen and are
// then reused: steady-state runs allocate nothing but the returned output tensors (and nothing at
// all through the run() overload that takes the outputs to fill).
//
// Inputs are only read: a caller's tensor is never modified, and never aliased by an output.
//
// Backends. A session is instantiated on a backend type: BasicSession<B> for any B satisfying
// backends::Backend (backends/backend.hpp), and `Session` = BasicSession<backends::cpu::SimdBackend>,
// the CPU, which is what every existing caller gets. A template parameter rather than a run-time
// choice because a backend brings its own kernel and ticket types (an XRT run handle, the emulator's
// kernels) that the session stores and calls without virtual dispatch or type erasure, and because a
// backend the program does not name is not compiled in (the XRT headers stay out of CPU builds).
// When the session is prepared it asks B once per node whether it takes it; declined nodes are
// prepared by the fallback backend (the CPU) and the reason is kept in partition(). Running never
// revisits that decision. Nodes on B are started with B::submit and waited for just before the first
// node that reads their outputs or reuses their buffers, so a device with queues overlaps independent
// nodes with host work; everything is complete when run() returns.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstring>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <numeric>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "qnn/backends/backend.hpp"
#include "qnn/backends/cpu/cpu.hpp"
#include "qnn/backends/partition.hpp"
#include "qnn/core/aligned_buffer.hpp"
#include "qnn/core/error.hpp"
#include "qnn/core/tensor.hpp"
#include "qnn/graph/graph.hpp"
#include "qnn/kernels/cpu/exec.hpp"
#include "qnn/runtime/kernel.hpp"
#include "qnn/runtime/ops/registry.hpp"
#include "qnn/runtime/optimize.hpp"
#include "qnn/runtime/shape_probe.hpp"
#include "qnn/runtime/thread_pool.hpp"

namespace qnn {

template <backends::Backend B>
class BasicSession;

using Session = BasicSession<backends::cpu::SimdBackend>;

inline std::optional<ShapeProbe> probe_graph(const Graph& g, const SessionOptions& options,
                                             const KernelRegistry& registry);

// What an instrumented run records per step (BasicSession::run_profiled, runtime/profile.hpp).
struct StepStats {
  std::vector<std::int64_t> macs;  // multiply-accumulates of the step on this run's inputs
  std::vector<double> seconds;     // wall time of the step, added to on every run
};

// Per-thread state of a session: the buffers, the run-time tensor table and the backend's tickets.
template <backends::Backend B>
class BasicRunContext {
 public:
  BasicRunContext() = default;

 private:
  friend class BasicSession<B>;
  std::unique_ptr<ThreadPool> pool_;           // worker threads of this context (threads > 1)
  std::vector<cpu::Workspace> workspaces_;     // one scratch area per thread
  std::vector<AlignedBuffer> slots_;
  std::vector<TensorRef> refs_;      // one per value id
  std::vector<bool> present_;        // value ids holding data in this run
  std::vector<typename B::Ticket> tickets_;  // one per step
  std::vector<int> slot_user_;       // per buffer: the last step submitted to B that reads or writes it
};

using RunContext = BasicRunContext<backends::cpu::SimdBackend>;

template <backends::Backend B>
class BasicSession {
 public:
  using backend_type = B;
  using fallback_type = typename backends::fallback_of<B, backends::cpu::SimdBackend>::type;
  using Context = BasicRunContext<B>;
  static_assert(backends::Backend<fallback_type>, "the fallback of a backend must itself be a backend");

  explicit BasicSession(Graph graph, SessionOptions options = {}, const KernelRegistry& registry = builtin_registry())
    requires std::default_initializable<B>
      : BasicSession(std::move(graph), options, registry, B{}) {}

  BasicSession(Graph graph, SessionOptions options, const KernelRegistry& registry, B backend)
      : graph_(std::move(graph)), options_(options), backend_(std::move(backend)) {
    optimize_graph(graph_, options_, registry, [&](const Graph& g) { return probe_graph(g, options_, registry); },
                   B::name == backends::cpu::SimdBackend::name);
    build(registry);
    if (options_.probe) probe();
  }
  BasicSession(const BasicSession&) = delete;
  BasicSession& operator=(const BasicSession&) = delete;

  const Graph& graph() const { return graph_; }
  const SessionOptions& options() const { return options_; }
  const std::vector<std::string>& input_names() const { return graph_.inputs; }
  const std::vector<std::string>& output_names() const { return graph_.outputs; }
  std::size_t num_steps() const { return steps_.size(); }
  const B& backend() const { return backend_; }
  // Where each node runs and why (backends/partition.hpp), decided when the session was prepared.
  const backends::Partition& partition() const { return partition_; }

  // Runs on the caller's context, filling `outputs` (resized; tensors of the right dtype and shape
  // are reused in place).
  void run(Context& ctx, std::span<const Tensor> inputs, std::vector<Tensor>& outputs) const {
    execute(ctx, inputs);
    outputs.resize(output_ids_.size());
    for (std::size_t i = 0; i < output_ids_.size(); ++i) {
      const TensorRef& r = ctx.refs_[static_cast<std::size_t>(output_ids_[i])];
      Tensor& o = outputs[i];
      if (o.dtype() != r.dtype || !(o.shape() == r.shape) || o.bytes() != r.bytes()) o = Tensor(r.dtype, r.shape);
      if (r.bytes()) std::memcpy(o.raw(), r.data, r.bytes());
    }
  }

  // Runs on the caller's context and points `outputs` at the results where they lie in it, without
  // copying; they stay valid until the next run on `ctx`. Calibration reads every probed activation
  // of every batch this way (the copies of run() were 8 % of its time).
  void run_in_place(Context& ctx, std::span<const Tensor> inputs, std::vector<TensorRef>& outputs) const {
    execute(ctx, inputs);
    outputs.clear();
    for (const int id : output_ids_) outputs.push_back(ctx.refs_[static_cast<std::size_t>(id)]);
  }

  // Thread-safe convenience form: borrows a context from the session's pool.
  std::vector<Tensor> run(std::span<const Tensor> inputs) const {
    std::unique_ptr<Context> ctx = acquire();
    std::vector<Tensor> out;
    try {
      run(*ctx, inputs, out);
    } catch (...) {
      release(std::move(ctx));
      throw;
    }
    release(std::move(ctx));
    return out;
  }
  std::vector<Tensor> run(std::initializer_list<Tensor> inputs) const {
    return run(std::span<const Tensor>(inputs.begin(), inputs.size()));
  }

  // An instrumented run (outputs stay in the context): `stats` is sized to num_steps() on first use
  // and each step's time is added to it, so repeated calls accumulate. runtime/profile.hpp builds
  // the per-node report on this.
  void run_profiled(Context& ctx, std::span<const Tensor> inputs, StepStats& stats) const {
    if (stats.seconds.size() != steps_.size()) {
      stats.seconds.assign(steps_.size(), 0.0);
      stats.macs.assign(steps_.size(), -1);
    }
    execute(ctx, inputs, &stats);
  }

 private:
  struct Step {
    const Node* node = nullptr;
    std::unique_ptr<OpKernel> kernel;  // a B::Kernel when on_backend, else a fallback_type::Kernel
    bool on_backend = false;
    std::vector<int> in;   // value ids, -1 for omitted inputs
    std::vector<int> out;  // value ids, -1 for omitted outputs
  };
  enum class Kind : std::uint8_t { input, constant, intermediate };
  struct ValueSlot {
    Kind kind = Kind::intermediate;
    int index = -1;  // input position, or slot number
    const Tensor* constant = nullptr;
    int producer = -1;  // step writing it (intermediates)
  };

  class StepContext final : public KernelContext {
   public:
    StepContext(const BasicSession& s, Context& ctx, const Step& step) : s_(s), ctx_(ctx), step_(step) {}
    std::size_t num_inputs() const override { return step_.in.size(); }
    const TensorRef* input(std::size_t i) const override {
      const int id = step_.in[i];
      return id < 0 ? nullptr : &ctx_.refs_[static_cast<std::size_t>(id)];
    }
    TensorRef& output(std::size_t i, DType dtype, const Shape& shape) override {
      check(i < step_.out.size() && step_.out[i] >= 0, "output ", i, " is not connected");
      const auto id = static_cast<std::size_t>(step_.out[i]);
      const ValueSlot& vs = s_.slots_[id];
      AlignedBuffer& buf = ctx_.slots_[static_cast<std::size_t>(vs.index)];
      const std::size_t bytes = static_cast<std::size_t>(shape.numel()) * size_of(dtype);
      if (buf.size() < bytes) buf = AlignedBuffer(bytes);
      ctx_.refs_[id] = TensorRef{dtype, shape, buf.data()};
      ctx_.present_[id] = true;
      return ctx_.refs_[id];
    }
    int threads() const override { return s_.options_.threads; }
    cpu::Exec exec() override { return cpu::Exec{ctx_.pool_.get(), &ctx_.workspaces_}; }

   private:
    const BasicSession& s_;
    Context& ctx_;
    const Step& step_;
  };

  int id_of(std::map<std::string, int>& ids, const std::string& name) {
    auto it = ids.find(name);
    if (it != ids.end()) return it->second;
    const int id = static_cast<int>(slots_.size());
    ids[name] = id;
    ValueSlot vs;
    if (const Tensor* c = graph_.constant(name)) {
      vs.kind = Kind::constant;
      vs.constant = c;
    }
    slots_.push_back(vs);
    return id;
  }

  // Places each node: on B when B supports it, else on the fallback with B's reason.
  void build(const KernelRegistry& registry) {
    std::map<std::string, int> ids;
    for (std::size_t i = 0; i < graph_.inputs.size(); ++i) {
      const int id = id_of(ids, graph_.inputs[i]);
      slots_[static_cast<std::size_t>(id)].kind = Kind::input;
      slots_[static_cast<std::size_t>(id)].index = static_cast<int>(i);
    }
    partition_.backend = std::string(B::name);
    partition_.fallback = std::string(fallback_type::name);
    for (const Node& n : graph_.nodes) {
      Step s;
      s.node = &n;
      const NodeInfo info(n, graph_, options_, &registry);
      backends::NodePlacement place{n.name, backends::op_label(n), std::string(B::name), "", -1};
      const backends::Support sup = with_context(n.where(), [&] { return backend_.supports(info); });
      if (sup) {
        s.kernel = with_context(n.where(), [&] { return std::unique_ptr<OpKernel>(backend_.prepare(info)); });
        s.on_backend = true;
      } else {
        s.kernel = std::unique_ptr<OpKernel>(fallback_.prepare(info));
        place.device = std::string(fallback_type::name);
        place.reason = sup.reason();
      }
      check(s.kernel != nullptr, n.where(), ": backend ", place.device, " prepared no kernel");
      for (const auto& name : n.inputs) s.in.push_back(name.empty() ? -1 : id_of(ids, name));
      for (const auto& name : n.outputs) s.out.push_back(name.empty() ? -1 : id_of(ids, name));
      for (int id : s.out)
        if (id >= 0 && slots_[static_cast<std::size_t>(id)].kind == Kind::intermediate)
          slots_[static_cast<std::size_t>(id)].producer = static_cast<int>(steps_.size());
      steps_.push_back(std::move(s));
      partition_.nodes.push_back(std::move(place));
    }
    for (const auto& name : graph_.outputs) output_ids_.push_back(id_of(ids, name));
    plan_memory();
    count_subgraphs();
  }

  // Connected sets of nodes on B (an edge: one reads a value the other produces).
  void count_subgraphs() {
    std::vector<int> root(steps_.size());
    std::iota(root.begin(), root.end(), 0);
    auto find = [&](int x) {
      while (root[static_cast<std::size_t>(x)] != x) x = root[static_cast<std::size_t>(x)] = root[static_cast<std::size_t>(root[static_cast<std::size_t>(x)])];
      return x;
    };
    for (std::size_t i = 0; i < steps_.size(); ++i) {
      if (!steps_[i].on_backend) continue;
      for (int id : steps_[i].in) {
        const int p = id < 0 ? -1 : slots_[static_cast<std::size_t>(id)].producer;
        if (p >= 0 && steps_[static_cast<std::size_t>(p)].on_backend) root[static_cast<std::size_t>(find(p))] = find(static_cast<int>(i));
      }
    }
    partition_.subgraphs = 0;
    for (std::size_t i = 0; i < steps_.size(); ++i)
      partition_.subgraphs += steps_[i].on_backend && find(static_cast<int>(i)) == static_cast<int>(i);
  }

  // Greedy slot assignment in execution order: a value takes a free slot when produced and returns
  // it after its last reader. Graph outputs keep their slots to the end of the run.
  void plan_memory() {
    std::vector<int> last_use(slots_.size(), -1);
    for (std::size_t s = 0; s < steps_.size(); ++s)
      for (int id : steps_[s].in)
        if (id >= 0) last_use[static_cast<std::size_t>(id)] = static_cast<int>(s);
    for (int id : output_ids_) last_use[static_cast<std::size_t>(id)] = static_cast<int>(steps_.size());
    std::vector<int> free_slots;
    for (std::size_t s = 0; s < steps_.size(); ++s) {
      for (int id : steps_[s].out) {
        if (id < 0) continue;
        ValueSlot& vs = slots_[static_cast<std::size_t>(id)];
        check(vs.kind == Kind::intermediate, steps_[s].node->where(), ": output '",
              steps_[s].node->outputs[0], "' overwrites a graph input or constant");
        if (free_slots.empty()) {
          vs.index = num_buffers_++;
        } else {
          vs.index = free_slots.back();
          free_slots.pop_back();
        }
      }
      // Outputs nobody reads are released right after their step; inputs after their last reader.
      for (int id : steps_[s].out)
        if (id >= 0 && last_use[static_cast<std::size_t>(id)] < 0)
          free_slots.push_back(slots_[static_cast<std::size_t>(id)].index);
      for (int id : steps_[s].in) {
        if (id < 0 || last_use[static_cast<std::size_t>(id)] != static_cast<int>(s)) continue;
        const ValueSlot& vs = slots_[static_cast<std::size_t>(id)];
        if (vs.kind != Kind::intermediate) continue;
        // A value read twice by this step is released once.
        if (std::find(free_slots.begin(), free_slots.end(), vs.index) == free_slots.end())
          free_slots.push_back(vs.index);
      }
    }
  }

  // `stats`, when given, receives each step's multiply-accumulates on these inputs and adds its wall
  // time. Timing a step needs it to have finished, so an instrumented run waits for every node on B
  // right after submitting it: per-node times then exclude the overlap a device queue would give.
  void execute(Context& ctx, std::span<const Tensor> inputs, StepStats* stats = nullptr) const {
    check(inputs.size() == graph_.inputs.size(), "the model has ", graph_.inputs.size(), " inputs, got ",
          inputs.size());
    if (ctx.refs_.size() != slots_.size()) {
      ctx.refs_.assign(slots_.size(), TensorRef{});
      ctx.present_.assign(slots_.size(), false);
      ctx.slots_.resize(static_cast<std::size_t>(num_buffers_));
      ctx.workspaces_.resize(static_cast<std::size_t>(options_.threads));
      ctx.tickets_.resize(steps_.size());
      ctx.slot_user_.resize(static_cast<std::size_t>(num_buffers_));
      if (options_.threads > 1 && !ctx.pool_) ctx.pool_ = std::make_unique<ThreadPool>(options_.threads);
    }
    std::fill(ctx.present_.begin(), ctx.present_.end(), false);
    std::fill(ctx.slot_user_.begin(), ctx.slot_user_.end(), -1);
    for (std::size_t id = 0; id < slots_.size(); ++id) {
      const ValueSlot& vs = slots_[id];
      if (vs.kind == Kind::constant) {
        ctx.refs_[id] = TensorRef::of(*vs.constant);
        ctx.present_[id] = true;
      } else if (vs.kind == Kind::input) {
        const Tensor& t = inputs[static_cast<std::size_t>(vs.index)];
        check_input(static_cast<std::size_t>(vs.index), t);
        ctx.refs_[id] = TensorRef::of(t);
        ctx.present_[id] = true;
      }
    }
    // Steps [0, done) have completed; steps on B in [done, submitted) may still be in flight.
    std::size_t done = 0, submitted = 0;
    auto complete_through = [&](int last) {
      while (static_cast<int>(done) <= last) {
        const std::size_t j = done++;  // advanced first: a failed wait is not retried below
        if (steps_[j].on_backend) with_context(steps_[j].node->where(), [&] { backend_.wait(ctx.tickets_[j]); });
      }
    };
    try {
      for (std::size_t i = 0; i < steps_.size(); ++i) {
        const Step& s = steps_[i];
        // Wait for the in-flight producers of this step's inputs, and for in-flight steps still
        // using a buffer this step is about to write.
        int need = -1;
        for (int id : s.in) {
          if (id < 0) continue;
          const int p = slots_[static_cast<std::size_t>(id)].producer;
          if (p >= static_cast<int>(done)) need = std::max(need, p);
        }
        for (int id : s.out) {
          if (id < 0) continue;
          const int u = ctx.slot_user_[static_cast<std::size_t>(slots_[static_cast<std::size_t>(id)].index)];
          if (u >= static_cast<int>(done)) need = std::max(need, u);
        }
        complete_through(need);
        StepContext sc(*this, ctx, s);
        const auto t0 = stats ? std::chrono::steady_clock::now() : std::chrono::steady_clock::time_point{};
        with_context(s.node->where(), [&] {
          for (int id : s.in)
            check(id < 0 || ctx.present_[static_cast<std::size_t>(id)], "an input was not computed");
          if (s.on_backend) {
            ctx.tickets_[i] = backend_.submit(static_cast<const typename B::Kernel&>(*s.kernel), sc);
            submitted = i + 1;
            for (int id : s.in)
              if (id >= 0 && slots_[static_cast<std::size_t>(id)].kind == Kind::intermediate)
                ctx.slot_user_[static_cast<std::size_t>(slots_[static_cast<std::size_t>(id)].index)] = static_cast<int>(i);
            for (int id : s.out)
              if (id >= 0) ctx.slot_user_[static_cast<std::size_t>(slots_[static_cast<std::size_t>(id)].index)] = static_cast<int>(i);
          } else {
            fallback_.run(static_cast<const typename fallback_type::Kernel&>(*s.kernel), sc);
          }
          for (std::size_t o = 0; o < s.out.size(); ++o)
            check(s.out[o] < 0 || ctx.present_[static_cast<std::size_t>(s.out[o])], "output ", o, " was not written");
        });
        if (stats) {
          if (s.on_backend) complete_through(static_cast<int>(i));
          stats->seconds[i] += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
          stats->macs[i] = s.kernel->macs(sc);
        }
        if (!s.on_backend && done == i) done = i + 1;  // completed inline, nothing in flight before it
      }
      complete_through(static_cast<int>(steps_.size()) - 1);
    } catch (...) {
      // Nothing may still write into the context's buffers once the error leaves run().
      for (; done < submitted; ++done)
        if (steps_[done].on_backend) {
          try {
            backend_.wait(ctx.tickets_[done]);
          } catch (...) {
          }
        }
      throw;
    }
  }

  void check_input(std::size_t i, const Tensor& t) const {
    const Value& v = graph_.value(graph_.inputs[i]);
    const std::string& name = graph_.inputs[i];
    if (v.dtype)
      check(t.dtype() == *v.dtype, "input '", name, "' must be ", *v.dtype, ", got ", t.dtype());
    if (v.dims) {
      const auto& dims = *v.dims;
      check(t.shape().rank() == static_cast<int>(dims.size()), "input '", name, "' must have rank ", dims.size(),
            ", got shape ", t.shape());
      for (std::size_t a = 0; a < dims.size(); ++a)
        check(dims[a] == kDynamicDim || dims[a] == t.shape()[static_cast<int>(a)], "input '", name, "' dimension ",
              a, " must be ", dims[a], ", got shape ", t.shape());
    }
  }

  // A batch-1 dry run with zero inputs: validates every kernel's shapes once, at preparation, and
  // records each node's MACs for the partition report. Only models whose single dynamic axis is the
  // batch are probed (probe_inputs).
  void probe() {
    auto ins = probe_inputs(graph_, 1);
    if (!ins) return;
    Context ctx;
    StepStats stats;
    run_profiled(ctx, *ins, stats);
    for (std::size_t i = 0; i < steps_.size(); ++i) partition_.nodes[i].macs = stats.macs[i];
  }

  std::unique_ptr<Context> acquire() const {
    std::lock_guard<std::mutex> lock(pool_mutex_);
    if (pool_.empty()) return std::make_unique<Context>();
    auto c = std::move(pool_.back());
    pool_.pop_back();
    return c;
  }
  void release(std::unique_ptr<Context> c) const {
    std::lock_guard<std::mutex> lock(pool_mutex_);
    pool_.push_back(std::move(c));
  }

  Graph graph_;
  SessionOptions options_;
  B backend_;
  fallback_type fallback_{};
  std::vector<Step> steps_;
  std::vector<ValueSlot> slots_;  // per value id
  std::vector<int> output_ids_;
  int num_buffers_ = 0;
  backends::Partition partition_;
  mutable std::mutex pool_mutex_;
  mutable std::vector<std::unique_ptr<Context>> pool_;
};

// Runs a copy of `g`, unoptimized and with every value as an output, at batch 1 and 2.
inline std::optional<ShapeProbe> probe_graph(const Graph& g, const SessionOptions& options,
                                             const KernelRegistry& registry) {
  auto in1 = probe_inputs(g, 1);
  auto in2 = probe_inputs(g, 2);
  if (!in1 || !in2) return std::nullopt;
  Graph copy = g;
  copy.outputs.clear();
  for (const Node& n : copy.nodes)
    for (const auto& o : n.outputs)
      if (!o.empty()) copy.outputs.push_back(o);
  SessionOptions o = options;
  o.optimize = false;
  o.probe = false;
  try {
    const Session s(std::move(copy), o, registry);
    ShapeProbe p;
    const auto r1 = s.run(std::span<const Tensor>(*in1));
    const auto r2 = s.run(std::span<const Tensor>(*in2));
    for (std::size_t i = 0; i < r1.size(); ++i) {
      p.batch1.emplace(s.output_names()[i], r1[i]);
      p.batch2.emplace(s.output_names()[i], r2[i]);
    }
    return p;
  } catch (const error&) {
    return std::nullopt;  // the session's own batch-1 probe reports what is wrong
  }
}

// The float graph as the quantizer wants it: Identity/Dropout removed, constants and BatchNorm
// folded, dims probed and computed Reshape shapes folded — but nothing lowered or fused, so every
// activation the quantizer may place a QuantizeLinear on is still a value of its own.
inline void prepare_float_graph(Graph& g, const KernelRegistry& registry = builtin_registry()) {
  SessionOptions o;
  g.topological_sort();
  passes::remove_identities(g);
  fold_constants(g, o, registry);
  passes::fold_batchnorm(g);
  if (const auto probe = probe_graph(g, o, registry)) {
    annotate_shapes(g, *probe);
    if (fold_dynamic_reshapes(g, *probe)) passes::remove_dead_nodes(g);
  }
  g.topological_sort();
  g.prune_values();
}

}  // namespace qnn
