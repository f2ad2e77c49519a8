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
#pragma once

#include <algorithm>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

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

class Session;
inline std::optional<ShapeProbe> probe_graph(const Graph& g, const SessionOptions& options,
                                             const KernelRegistry& registry);

// Per-thread state of a session: the buffers and the run-time tensor table.
class RunContext {
 public:
  RunContext() = default;

 private:
  friend class Session;
  std::unique_ptr<ThreadPool> pool_;           // worker threads of this context (threads > 1)
  std::vector<cpu::Workspace> workspaces_;     // one scratch area per thread
  std::vector<AlignedBuffer> slots_;
  std::vector<TensorRef> refs_;      // one per value id
  std::vector<bool> present_;        // value ids holding data in this run
};

class Session {
 public:
  explicit Session(Graph graph, SessionOptions options = {}, const KernelRegistry& registry = builtin_registry())
      : graph_(std::move(graph)), options_(options) {
    optimize_graph(graph_, options_, registry,
                   [&](const Graph& g) { return probe_graph(g, options_, registry); });
    build(registry);
    if (options_.probe) probe();
  }
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  const Graph& graph() const { return graph_; }
  const SessionOptions& options() const { return options_; }
  const std::vector<std::string>& input_names() const { return graph_.inputs; }
  const std::vector<std::string>& output_names() const { return graph_.outputs; }
  std::size_t num_steps() const { return steps_.size(); }

  // Runs on the caller's context, filling `outputs` (resized; tensors of the right dtype and shape
  // are reused in place).
  void run(RunContext& ctx, std::span<const Tensor> inputs, std::vector<Tensor>& outputs) const {
    execute(ctx, inputs);
    outputs.resize(output_ids_.size());
    for (std::size_t i = 0; i < output_ids_.size(); ++i) {
      const TensorRef& r = ctx.refs_[static_cast<std::size_t>(output_ids_[i])];
      Tensor& o = outputs[i];
      if (o.dtype() != r.dtype || !(o.shape() == r.shape) || o.bytes() != r.bytes()) o = Tensor(r.dtype, r.shape);
      if (r.bytes()) std::memcpy(o.raw(), r.data, r.bytes());
    }
  }

  // Thread-safe convenience form: borrows a context from the session's pool.
  std::vector<Tensor> run(std::span<const Tensor> inputs) const {
    std::unique_ptr<RunContext> ctx = acquire();
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

 private:
  struct Step {
    const Node* node = nullptr;
    std::unique_ptr<OpKernel> kernel;
    std::vector<int> in;   // value ids, -1 for omitted inputs
    std::vector<int> out;  // value ids, -1 for omitted outputs
  };
  enum class Kind : std::uint8_t { input, constant, intermediate };
  struct ValueSlot {
    Kind kind = Kind::intermediate;
    int index = -1;  // input position, or slot number
    const Tensor* constant = nullptr;
  };

  class StepContext final : public KernelContext {
   public:
    StepContext(const Session& s, RunContext& ctx, const Step& step) : s_(s), ctx_(ctx), step_(step) {}
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
    const Session& s_;
    RunContext& ctx_;
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

  void build(const KernelRegistry& registry) {
    std::map<std::string, int> ids;
    for (std::size_t i = 0; i < graph_.inputs.size(); ++i) {
      const int id = id_of(ids, graph_.inputs[i]);
      slots_[static_cast<std::size_t>(id)].kind = Kind::input;
      slots_[static_cast<std::size_t>(id)].index = static_cast<int>(i);
    }
    for (const Node& n : graph_.nodes) {
      Step s;
      s.node = &n;
      s.kernel = registry.make(NodeInfo(n, graph_, options_));
      for (const auto& name : n.inputs) s.in.push_back(name.empty() ? -1 : id_of(ids, name));
      for (const auto& name : n.outputs) s.out.push_back(name.empty() ? -1 : id_of(ids, name));
      steps_.push_back(std::move(s));
    }
    for (const auto& name : graph_.outputs) output_ids_.push_back(id_of(ids, name));
    plan_memory();
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

  void execute(RunContext& ctx, std::span<const Tensor> inputs) const {
    check(inputs.size() == graph_.inputs.size(), "the model has ", graph_.inputs.size(), " inputs, got ",
          inputs.size());
    if (ctx.refs_.size() != slots_.size()) {
      ctx.refs_.assign(slots_.size(), TensorRef{});
      ctx.present_.assign(slots_.size(), false);
      ctx.slots_.resize(static_cast<std::size_t>(num_buffers_));
      ctx.workspaces_.resize(static_cast<std::size_t>(options_.threads));
      if (options_.threads > 1 && !ctx.pool_) ctx.pool_ = std::make_unique<ThreadPool>(options_.threads);
    }
    std::fill(ctx.present_.begin(), ctx.present_.end(), false);
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
    for (const Step& s : steps_) {
      StepContext sc(*this, ctx, s);
      with_context(s.node->where(), [&] {
        for (int id : s.in)
          check(id < 0 || ctx.present_[static_cast<std::size_t>(id)], "an input was not computed");
        s.kernel->run(sc);
        for (std::size_t i = 0; i < s.out.size(); ++i)
          check(s.out[i] < 0 || ctx.present_[static_cast<std::size_t>(s.out[i])], "output ", i, " was not written");
      });
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

  // A batch-1 dry run with zero inputs: validates every kernel's shapes once, at preparation. Only
  // models whose single dynamic axis is the batch are probed (probe_inputs).
  void probe() {
    auto ins = probe_inputs(graph_, 1);
    if (!ins) return;
    RunContext ctx;
    std::vector<Tensor> out;
    run(ctx, *ins, out);
  }

  std::unique_ptr<RunContext> acquire() const {
    std::lock_guard<std::mutex> lock(pool_mutex_);
    if (pool_.empty()) return std::make_unique<RunContext>();
    auto c = std::move(pool_.back());
    pool_.pop_back();
    return c;
  }
  void release(std::unique_ptr<RunContext> c) const {
    std::lock_guard<std::mutex> lock(pool_mutex_);
    pool_.push_back(std::move(c));
  }

  Graph graph_;
  SessionOptions options_;
  std::vector<Step> steps_;
  std::vector<ValueSlot> slots_;  // per value id
  std::vector<int> output_ids_;
  int num_buffers_ = 0;
  mutable std::mutex pool_mutex_;
  mutable std::vector<std::unique_ptr<RunContext>> pool_;
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
