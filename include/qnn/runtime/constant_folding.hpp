// Constant folding: a node whose inputs are all constant runs once, when the session is prepared,
// through the same kernel that would run it at inference, and its outputs become constants.
//
// DequantizeLinear is never folded: a QDQ model's DQ(weight) is how the model states the weight's
// quantization, which QDQ lowering needs to see. (QuantizeLinear of a float weight is folded: the
// result is the int8 weight the model means.)
#pragma once

#include <memory>
#include <vector>

#include "qnn/core/error.hpp"
#include "qnn/graph/graph.hpp"
#include "qnn/runtime/kernel.hpp"

namespace qnn {

namespace detail {
class FoldContext final : public KernelContext {
 public:
  explicit FoldContext(std::vector<const Tensor*> ins, std::size_t n_out) : ins_(std::move(ins)), outs_(n_out) {
    for (const Tensor* t : ins_) refs_.push_back(t ? TensorRef::of(*t) : TensorRef{});
  }
  std::size_t num_inputs() const override { return ins_.size(); }
  const TensorRef* input(std::size_t i) const override { return ins_[i] ? &refs_[i] : nullptr; }
  TensorRef& output(std::size_t i, DType dtype, const Shape& shape) override {
    check(i < outs_.size(), "output ", i, " is not connected");
    outs_[i] = Tensor(dtype, shape);
    out_refs_.resize(outs_.size());
    out_refs_[i] = TensorRef::of(outs_[i]);
    return out_refs_[i];
  }
  std::vector<Tensor>& outputs() { return outs_; }

 private:
  std::vector<const Tensor*> ins_;
  std::vector<TensorRef> refs_;
  std::vector<Tensor> outs_;
  std::vector<TensorRef> out_refs_;
};
}  // namespace detail

inline bool foldable(const Node& n) {
  if (n.inputs.empty()) return false;  // sources (random generators) are never folded
  return !(n.domain.empty() && n.op_type == "DequantizeLinear");
}

inline int fold_constants(Graph& g, const SessionOptions& options, const KernelRegistry& registry) {
  std::vector<bool> dead(g.nodes.size(), false);
  int folded = 0;
  for (std::size_t i = 0; i < g.nodes.size(); ++i) {
    const Node& n = g.nodes[i];
    if (!foldable(n) || !registry.supports(n.domain, n.op_type)) continue;
    bool all_const = true;
    std::vector<const Tensor*> ins;
    for (std::size_t k = 0; k < n.inputs.size(); ++k) {
      if (n.inputs[k].empty()) {
        ins.push_back(nullptr);
        continue;
      }
      const Tensor* t = g.constant(n.inputs[k]);
      all_const = all_const && t != nullptr;
      ins.push_back(t);
    }
    if (!all_const) continue;
    const auto kernel = registry.make(NodeInfo(n, g, options));
    detail::FoldContext ctx(ins, n.outputs.size());
    with_context(n.where(), [&] { kernel->run(ctx); });
    for (std::size_t k = 0; k < n.outputs.size(); ++k) {
      if (n.outputs[k].empty()) continue;
      Value& v = g.value(n.outputs[k]);
      v.constant = std::move(ctx.outputs()[k]);
      v.dtype = v.constant->dtype();
      v.dims = std::vector<std::int64_t>(v.constant->shape().begin(), v.constant->shape().end());
    }
    dead[i] = true;
    ++folded;
  }
  g.erase_nodes(dead);
  return folded;
}

}  // namespace qnn
