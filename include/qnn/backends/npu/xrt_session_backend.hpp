// The XRT NPU backend of a session ("xrt"): BasicSession<npu::XrtSessionBackend> runs the
// matmul nodes that an artefact of the user's manifest can take on the NPU, and every other node
// on the CPU with the reason in the partition report.
//
//   qnn::npu::XrtOptions o;                       // require_device, on_error, run.timeout, run.depth
//   qnn::BasicSession<qnn::npu::XrtSessionBackend> s(
//       graph, {}, qnn::builtin_registry(), qnn::npu::XrtSessionBackend::from_file("manifest.json", o));
//   s.partition();                                // which node runs where, and why
//
// Decided once, when the session is prepared (supports/prepare):
//   - no device (no driver, no XILINX_XRT, ...): the backend fails to construct with XRT's reason,
//     or, with require_device = false, every node falls back with "no XRT device (...): running on
//     the CPU" and results are the CPU's, bit for bit;
//   - a node that is not an 8-bit matmul with constant symmetric weights, or whose dtypes no
//     artefact has: the CPU, with the reason (xrt_fc_layer.hpp, xrt_tiling.hpp);
//   - an artefact that does not load (bad xclbin, missing kernel, argument layout wrong, missing
//     instruction file): an error naming the node (on_error = fail, the default), or with
//     on_error = cpu the CPU with the load error as the reason. Each artefact is loaded once, by
//     the first node that would use it.
//   - the rest is prepared: weights packed, padded to the artefact's tiles and uploaded once
//     (xrt_matmul.hpp), the host epilogue precomputed (xrt_fc_layer.hpp).
// Running: submit() takes the node's input, obtains its output buffer and starts the first runs on
// the device; wait() drives the remaining tiles within the timeout, folds the int32 accumulators and
// applies the host epilogue. A run that fails or times out is a qnn::error (the session prefixes the
// node); runtime errors do not move a node to the CPU, whatever on_error says: placement is never
// revisited while running. One backend serves every run context and thread of a session: each
// call in flight holds a lane of buffers of its own (XrtMatmul::Call), the device's counters are
// atomic, and loading artefacts is locked.
//
// The noop shim computes nothing: dispatch, traffic, timeouts and errors are tested against it
// (tests/xrt), values only where a completion hook emulates the kernel on the CPU.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>

#include "qnn/backends/backend.hpp"
#include "qnn/backends/npu/xrt_backend.hpp"
#include "qnn/backends/npu/xrt_device.hpp"
#include "qnn/backends/npu/xrt_fc_layer.hpp"
#include "qnn/backends/npu/xrt_manifest.hpp"
#include "qnn/backends/npu/xrt_matmul.hpp"
#include "qnn/backends/npu/xrt_tiling.hpp"
#include "qnn/core/error.hpp"
#include "qnn/runtime/kernel.hpp"
#include "qnn/runtime/ops/qlinear_matmul.hpp"
#include "qnn/runtime/ops/quant_params_io.hpp"

namespace qnn::npu {

class XrtSessionBackend {
 public:
  static constexpr std::string_view name = "xrt";

  class Kernel;

  // One node's run in flight.
  class Ticket {
   public:
    Ticket() = default;

   private:
    friend class Kernel;
    const Kernel* kernel_ = nullptr;  // null: nothing in flight
    XrtMatmul::Call call_;
    std::byte* y_ = nullptr;  // the node's output, obtained in submit()
    std::int64_t m_ = 0;
  };

  // A node prepared on the NPU: its artefact with the weights uploaded, and its host epilogue.
  class Kernel final : public OpKernel {
   public:
    Kernel(XrtFcLayer layer, std::shared_ptr<XrtDevice> device, const XrtArtefact& artefact,
           const XrtRunOptions& options)
        : layer_(std::move(layer)),
          matmul_(std::move(device), artefact, layer_.weights->raw(), layer_.K, layer_.N, layer_.stride_k(),
                  layer_.stride_n(), options),
          epilogue_(make_xrt_fc_epilogue(layer_)) {}

    // Synchronous: submit and wait.
    void run(KernelContext& ctx) const override {
      Ticket t = submit(ctx);
      wait(t);
    }
    std::int64_t macs(const KernelContext& ctx) const override { return rows(ctx.in(0)) * layer_.K * layer_.N; }

    const XrtFcLayer& layer() const { return layer_; }
    const XrtArtefact& artefact() const { return matmul_.artefact(); }
    // Lanes made so far: the most runs of this node in flight at once.
    std::size_t lanes() const { return matmul_.lanes(); }

    // Reads A, obtains the output buffer and starts the first runs on the device.
    Ticket submit(KernelContext& ctx) const {
      const TensorRef& a = ctx.in(0);
      ops::quant::check_dtype(a, layer_.a, "input A");
      const std::int64_t m = rows(a);
      TensorRef& y = ctx.output(0, layer_.output_dtype(), output_shape(a));
      Ticket t;
      t.kernel_ = this;
      t.y_ = y.data;
      t.m_ = m;
      // MatMulInteger's int32 output takes the accumulators directly; the others requantize from
      // the call's own buffer.
      t.call_ = matmul_.start(a.data, m, layer_.op == XrtFcOp::matmul_integer ? y.data : nullptr);
      return t;
    }

    // Drives the remaining runs, then the host epilogue into the output — before `done` gives the
    // lane (and the accumulators in it) back. The ticket is empty afterwards, also when this throws
    // (no run left in flight).
    static void wait(Ticket& t) {
      if (!t.kernel_) return;
      Ticket done = std::exchange(t, Ticket{});
      done.kernel_->matmul_.finish(done.call_);
      done.kernel_->epilogue_(static_cast<const std::int32_t*>(done.call_.result()), done.m_, done.y_);
    }

   private:
    // Rows of A: every axis but the last.
    std::int64_t rows(const TensorRef& a) const {
      check(a.shape.rank() >= 1 && a.shape.dim(-1) == layer_.K, "A of shape ", a.shape, " does not have K = ",
            layer_.K, " columns");
      return a.numel() / layer_.K;
    }
    Shape output_shape(const TensorRef& a) const {
      if (layer_.op == XrtFcOp::qgemm) {
        check(a.shape.rank() == 2, "A must be 2-D, got ", a.shape);
        return Shape{a.shape[0], layer_.N};
      }
      return ops::matmul_detail::MatmulShapes::of(a.shape, Shape{layer_.K, layer_.N}).out;
    }

    XrtFcLayer layer_;
    mutable XrtMatmul matmul_;  // thread-safe: each call in flight holds a lane of its own
    XrtFcEpilogue epilogue_;
  };

  // Opens the manifest's device once; every session prepared on this backend (and its copies)
  // shares it.
  explicit XrtSessionBackend(XrtManifest manifest, XrtOptions options = {}) : state_(std::make_shared<State>()) {
    State& s = *state_;
    s.manifest = std::move(manifest);
    s.options = std::move(options);
    try {
      s.device = XrtDevice::open(static_cast<unsigned>(s.manifest.device));
    } catch (const error& e) {
      if (s.options.require_device) throw;
      s.device_error = e.what();
    }
  }
  static XrtSessionBackend from_file(const std::filesystem::path& manifest, XrtOptions options = {}) {
    return XrtSessionBackend(load_xrt_manifest(manifest), std::move(options));
  }

  static constexpr std::string_view api() { return XrtDevice::api(); }
  bool device_available() const { return state_->device != nullptr; }
  const std::string& device_error() const { return state_->device_error; }
  const XrtManifest& manifest() const { return state_->manifest; }
  // The device's traffic: buffers, bytes each way, runs started/completed/timed out/failed.
  XrtCounters counters() const { return state_->device ? state_->device->stats().snapshot() : XrtCounters{}; }

  backends::Support supports(const NodeInfo& info) const {
    const State& s = *state_;
    if (!s.device) return backends::Support::no("no XRT device (", s.device_error, "): running on the CPU");
    backends::Support why;
    const std::optional<XrtFcLayer> layer = read_xrt_fc_layer(info, why);
    if (!layer) return why;
    const XrtSelection sel = select(*layer);
    if (!sel.artefact)
      return backends::Support::no(sel.reason, " in ", s.manifest.source, ", for a matmul of K=", layer->K,
                                   " N=", layer->N);
    const std::string load_error = load(*sel.artefact);
    if (!load_error.empty()) {
      if (s.options.on_error == XrtOnError::fail) fail(load_error);
      return backends::Support::no(load_error);
    }
    return backends::Support::yes();
  }

  std::unique_ptr<Kernel> prepare(const NodeInfo& info) const {
    backends::Support why;
    std::optional<XrtFcLayer> layer = read_xrt_fc_layer(info, why);
    check(layer.has_value(), why.reason());
    const XrtSelection sel = select(*layer);
    check(sel.artefact != nullptr, sel.reason);
    return std::make_unique<Kernel>(std::move(*layer), state_->device, *sel.artefact, state_->options.run);
  }

  void run(const Kernel& k, KernelContext& ctx) const {
    Ticket t = submit(k, ctx);
    wait(t);
  }

  Ticket submit(const Kernel& k, KernelContext& ctx) const { return k.submit(ctx); }
  void wait(Ticket& t) const { Kernel::wait(t); }

 private:
  struct State {
    XrtManifest manifest;
    XrtOptions options;
    std::shared_ptr<XrtDevice> device;  // null without a device (require_device = false)
    std::string device_error;
    std::mutex m;
    std::map<std::string, std::string> loaded;  // artefact name -> load error, empty when it loaded
  };

  XrtSelection select(const XrtFcLayer& l) const {
    return select_xrt_matmul(state_->manifest, l.a, l.b, DType::i32, l.m_hint, l.K, l.N);
  }

  // Makes the artefact's xclbin live, opens its kernel (signature checked) and reads its
  // instruction stream — once per artefact. Returns the error, or empty.
  std::string load(const XrtArtefact& art) const {
    State& s = *state_;
    std::lock_guard<std::mutex> lock(s.m);
    if (auto it = s.loaded.find(art.name); it != s.loaded.end()) return it->second;
    std::string err;
    try {
      (void)s.device->kernel(art);
      if (!art.instructions.empty()) (void)load_instruction_stream(art);
    } catch (const error& e) {
      err = qnn::detail::cat("artefact '", art.name, "' failed to load: ", e.what());
    }
    return s.loaded.emplace(art.name, err).first->second;
  }

  std::shared_ptr<State> state_;
};

static_assert(backends::Backend<XrtSessionBackend>);

}  // namespace qnn::npu
