// The contract between the session and an operator's implementation.
//
// An OpKernel is made once per node when a session is prepared (NodeInfo gives it the node's
// attributes, constant inputs and known dtypes; it validates them and precomputes whatever it can:
// packed weights, requantization factors, lookup tables). run() is then called once per inference
// with a KernelContext that hands out input tensors and output buffers. Output shapes are decided in
// run() from the actual inputs, so one prepared kernel serves every batch size; the session's memory
// plan reuses output buffers across runs, so steady-state runs allocate nothing.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "qnn/core/dtype.hpp"
#include "qnn/core/error.hpp"
#include "qnn/core/shape.hpp"
#include "qnn/core/tensor.hpp"
#include "qnn/graph/graph.hpp"
#include "qnn/kernels/cpu/exec.hpp"
#include "qnn/numerics/requantize.hpp"

namespace qnn {

// A run-time tensor: dtype, shape and memory owned elsewhere (a session buffer, a constant, or the
// caller's input — which kernels only ever read).
struct TensorRef {
  DType dtype = DType::f32;
  Shape shape;
  std::byte* data = nullptr;

  std::int64_t numel() const { return shape.numel(); }
  std::size_t bytes() const { return static_cast<std::size_t>(numel()) * size_of(dtype); }

  template <class T>
  TensorView<const T> view() const {
    check(dtype_of_v<T> == dtype, "tensor holds ", dtype, ", read as ", name_of(dtype_of_v<T>));
    return TensorView<const T>(reinterpret_cast<const T*>(data), shape);
  }
  template <class T>
  TensorView<T> mut() const {
    check(dtype_of_v<T> == dtype, "tensor holds ", dtype, ", written as ", name_of(dtype_of_v<T>));
    return TensorView<T>(reinterpret_cast<T*>(data), shape);
  }
  template <class T>
  std::span<const T> span() const { return view<T>().span(); }

  static TensorRef of(const Tensor& t) {
    return {t.dtype(), t.shape(), const_cast<std::byte*>(t.raw())};
  }
};

class KernelContext {
 public:
  virtual ~KernelContext() = default;
  virtual std::size_t num_inputs() const = 0;
  // nullptr for an omitted optional input.
  virtual const TensorRef* input(std::size_t i) const = 0;
  // The buffer for output i, sized for `shape`; its previous contents are unspecified.
  virtual TensorRef& output(std::size_t i, DType dtype, const Shape& shape) = 0;
  // Worker threads the kernel may use (1 = run on the calling thread only).
  virtual int threads() const { return 1; }
  // Threads and per-thread scratch memory for the fast kernels; single-threaded by default.
  virtual cpu::Exec exec() { return local_.exec(); }

  const TensorRef& in(std::size_t i) const {
    const TensorRef* r = i < num_inputs() ? input(i) : nullptr;
    check(r != nullptr, "required input ", i, " is missing");
    return *r;
  }
  bool has(std::size_t i) const { return i < num_inputs() && input(i) != nullptr; }

 private:
  cpu::LocalExec local_;
};

class OpKernel {
 public:
  virtual ~OpKernel() = default;
  virtual void run(KernelContext& ctx) const = 0;
  // Multiply-accumulates of one run on these inputs (0 for ops without any), for reports.
  virtual std::int64_t macs(const KernelContext&) const { return 0; }
};

enum class Precision : std::uint8_t { as_written, bf16 };

struct SessionOptions {
  int threads = 1;
  bool optimize = true;                                // graph passes (folding, fusion, QDQ lowering)
  RequantPolicy requant = RequantPolicy::onnx_float;   // policy of lowered integer kernels
  Precision precision = Precision::as_written;         // bf16: float Conv/Gemm/MatMul run in bf16
  bool probe = true;                                   // a batch-1 dry run when the session is made
  bool reference_kernels = false;                      // scalar reference kernels only (the cpu-ref
                                                       // backend sets it; backends/cpu/cpu.hpp)
};

class KernelRegistry;

// What a kernel factory (or a backend deciding whether it takes a node) may look at: the node, the
// values it touches, the session options, and the registry of CPU kernels the session was given.
class NodeInfo {
 public:
  NodeInfo(const Node& node, const Graph& graph, const SessionOptions& options,
           const KernelRegistry* registry = nullptr)
      : node_(node), graph_(graph), options_(options), registry_(registry) {}

  const Node& node() const { return node_; }
  const Graph& graph() const { return graph_; }
  const Attributes& attrs() const { return node_.attrs; }
  const SessionOptions& options() const { return options_; }
  // The session's CPU kernel registry; nullptr outside a session (then the built-in one applies).
  const KernelRegistry* registry() const { return registry_; }
  std::int64_t opset() const { return graph_.opset(node_.domain == "ai.onnx" ? "" : node_.domain); }
  std::size_t num_inputs() const { return node_.inputs.size(); }
  std::size_t num_outputs() const { return node_.outputs.size(); }
  bool has_input(std::size_t i) const { return node_.has_input(i); }

  const Tensor* constant_input(std::size_t i) const {
    return has_input(i) ? graph_.constant(node_.inputs[i]) : nullptr;
  }
  const Tensor& require_constant(std::size_t i, const char* what) const {
    const Tensor* t = constant_input(i);
    check(t != nullptr, "input ", i, " (", what, ") must be a constant initializer");
    return *t;
  }
  std::optional<DType> input_dtype(std::size_t i) const {
    if (!has_input(i)) return std::nullopt;
    auto it = graph_.values.find(node_.inputs[i]);
    return it == graph_.values.end() ? std::nullopt : it->second.dtype;
  }
  std::optional<std::vector<std::int64_t>> input_dims(std::size_t i) const {
    if (!has_input(i)) return std::nullopt;
    auto it = graph_.values.find(node_.inputs[i]);
    return it == graph_.values.end() ? std::nullopt : it->second.dims;
  }
  std::optional<DType> output_dtype(std::size_t i) const {
    if (i >= node_.outputs.size() || node_.outputs[i].empty()) return std::nullopt;
    auto it = graph_.values.find(node_.outputs[i]);
    return it == graph_.values.end() ? std::nullopt : it->second.dtype;
  }
  std::optional<std::vector<std::int64_t>> output_dims(std::size_t i) const {
    if (i >= node_.outputs.size() || node_.outputs[i].empty()) return std::nullopt;
    auto it = graph_.values.find(node_.outputs[i]);
    return it == graph_.values.end() ? std::nullopt : it->second.dims;
  }

 private:
  const Node& node_;
  const Graph& graph_;
  const SessionOptions& options_;
  const KernelRegistry* registry_;
};

using KernelFactory = std::function<std::unique_ptr<OpKernel>(const NodeInfo&)>;

// Operators by (domain, op type). Each entry states the lowest opset whose semantics it
// implements; the factory sees the model's opset and handles the versions in between.
class KernelRegistry {
 public:
  // The newest ONNX opset whose operator changes qnn tracks. A model importing a newer opset is
  // refused: an operator may have changed meaning in a version qnn does not know.
  static constexpr std::int64_t kMaxOnnxOpset = 21;

  void add(const std::string& domain, const std::string& op, std::int64_t since, KernelFactory f) {
    entries_[{domain, op}] = Entry{since, std::move(f)};
  }
  bool supports(const std::string& domain, const std::string& op) const {
    return entries_.count({norm(domain), op}) != 0;
  }
  std::unique_ptr<OpKernel> make(const NodeInfo& info) const {
    const Node& n = info.node();
    auto it = entries_.find({norm(n.domain), n.op_type});
    check(it != entries_.end(), n.where(), ": operator ", n.domain.empty() ? "" : n.domain + ".",
          n.op_type, " is not supported by qnn");
    check(info.opset() >= it->second.since, n.where(), ": opset ", info.opset(),
          " is older than the oldest version qnn implements (", it->second.since, ")");
    auto k = with_context(n.where(), [&] { return it->second.make(info); });
    const auto unused = n.attrs.unused();
    check(unused.empty(), n.where(), ": attribute '", unused.empty() ? "" : unused.front(),
          "' is not supported");
    return k;
  }

 private:
  static std::string norm(const std::string& d) { return d == "ai.onnx" ? "" : d; }
  struct Entry {
    std::int64_t since = 1;
    KernelFactory make;
  };
  std::map<std::pair<std::string, std::string>, Entry> entries_;
};

}  // namespace qnn
