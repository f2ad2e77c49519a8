// The XRT NPU backend: a manifest of prebuilt artefacts, one device, and matmul ops that run on the
// NPU when an artefact fits and on the CPU otherwise — with every CPU decision written in the report.
//
// Decisions, each made once and recorded per op (report()):
//   - no device (no driver, no XILINX_XRT, ...): the backend fails to construct with XRT's reason,
//     or, with require_device = false, every op runs on the CPU and the report says why;
//   - no artefact for the op's dtypes: CPU, with the dtypes the manifest does have;
//   - an artefact that does not load (bad xclbin, kernel missing, argument layout wrong, missing
//     instruction file) or a call that fails or times out: an error (on_error = fail, the default),
//     or with on_error = cpu a CPU fallback that is counted and reported, and sticky — an op whose
//     NPU call failed once stays on the CPU rather than paying the timeout on every call.
// The CPU path sums K in the artefact's K tiles (xrt_tiling.hpp), so a fallback gives the NPU
// path's integers exactly, and the same bf16 summation order.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "qnn/backends/npu/xrt_device.hpp"
#include "qnn/backends/npu/xrt_manifest.hpp"
#include "qnn/backends/npu/xrt_matmul.hpp"
#include "qnn/backends/npu/xrt_tiling.hpp"
#include "qnn/core/error.hpp"
#include "qnn/core/tensor.hpp"
#include "qnn/io/json.hpp"

namespace qnn::npu {

enum class XrtOnError : std::uint8_t { fail, cpu };

struct XrtOptions {
  bool require_device = true;              // false: without a device, run everything on the CPU
  XrtOnError on_error = XrtOnError::fail;  // artefact load or NPU call failure: throw, or CPU fallback
  XrtRunOptions run;                       // timeout, runs in flight, completion hook
};

// One op's line in the report. Counters are updated by concurrent calls.
struct XrtOpRecord {
  std::string name;
  std::int64_t K = 0, N = 0;
  DType a = DType::i8, b = DType::i8, c = DType::i32;
  std::string artefact;  // empty when no artefact was chosen
  std::string reason;    // why the op is on the CPU; empty on the NPU
  std::atomic<bool> npu{false};
  std::atomic<std::uint64_t> npu_calls{0}, cpu_calls{0}, fallbacks{0}, npu_macs{0}, cpu_macs{0};
  mutable std::mutex m;
  std::string last_error;  // the NPU failure that caused the latest fallback

  json::Value to_json() const {
    json::Value v = json::Value::object();
    v.set("name", name).set("op", "matmul").set("K", K).set("N", N);
    v.set("dtypes", qnn::detail::cat(name_of(a), " x ", name_of(b), " -> ", name_of(c)));
    v.set("device", npu.load() ? "npu" : "cpu");
    v.set("artefact", artefact);
    std::lock_guard<std::mutex> lock(m);
    v.set("reason", npu.load() ? std::string() : (last_error.empty() ? reason : reason + ": " + last_error));
    v.set("npu_calls", static_cast<std::int64_t>(npu_calls.load()));
    v.set("cpu_calls", static_cast<std::int64_t>(cpu_calls.load()));
    v.set("fallbacks", static_cast<std::int64_t>(fallbacks.load()));
    v.set("npu_macs", static_cast<std::int64_t>(npu_macs.load()));
    v.set("cpu_macs", static_cast<std::int64_t>(cpu_macs.load()));
    return v;
  }
};

// C[M,N] = A[M,K]·B for prepared weights B. Thread-safe.
class XrtMatmulOp {
 public:
  const std::string& name() const { return rec_->name; }
  bool on_npu() const { return rec_->npu.load(); }
  std::string reason() const {
    std::lock_guard<std::mutex> lock(rec_->m);
    return rec_->last_error.empty() ? rec_->reason : rec_->reason + ": " + rec_->last_error;
  }
  DType a_dtype() const { return rec_->a; }
  DType c_dtype() const { return rec_->c; }
  std::int64_t K() const { return rec_->K; }
  std::int64_t N() const { return rec_->N; }
  const XrtMatmul* npu() const { return npu_.get(); }

  // a: [M,K] of a_dtype(); c becomes [M,N] of c_dtype() (reused when it already is).
  void run(const Tensor& a, Tensor& c) {
    check(a.dtype() == rec_->a && a.shape().rank() == 2 && a.shape()[1] == rec_->K, "op '", rec_->name,
          "': A must be [M,", rec_->K, "] of ", name_of(rec_->a), ", got ", a.shape(), " of ", name_of(a.dtype()));
    const Shape out{a.shape()[0], rec_->N};
    if (c.dtype() != rec_->c || !(c.shape() == out)) c = Tensor(rec_->c, out);
    run(a.raw(), a.shape()[0], c.raw());
  }

  // Raw form: a is M×K row-major, c is M×N row-major, of the op's dtypes.
  void run(const void* a, std::int64_t M, void* c) {
    const auto macs = static_cast<std::uint64_t>(M * rec_->K * rec_->N);
    if (rec_->npu.load()) {
      try {
        npu_->run(a, M, c);
        ++rec_->npu_calls;
        rec_->npu_macs += macs;
        return;
      } catch (const error& e) {
        if (on_error_ == XrtOnError::fail) throw error("op '" + rec_->name + "': " + e.what());
        std::lock_guard<std::mutex> lock(rec_->m);
        rec_->npu.store(false);
        rec_->reason = "NPU call failed, op moved to the CPU";
        rec_->last_error = e.what();
        ++rec_->fallbacks;
      }
    }
    cpu_run(a, M, c);
    ++rec_->cpu_calls;
    rec_->cpu_macs += macs;
  }

 private:
  friend class XrtBackend;
  XrtMatmulOp() = default;

  void cpu_run(const void* a, std::int64_t M, void* c) const {
    check(!host_b_.empty(), "op '", rec_->name, "': no host copy of the weights for the CPU path");
    visit_xrt_matmul_types(rec_->a, rec_->b, [&](auto ta, auto tb, auto tc) {
      using TA = decltype(ta);
      using TB = decltype(tb);
      using TC = decltype(tc);
      cpu_matmul_ktiled(static_cast<const TA*>(a), reinterpret_cast<const TB*>(host_b_.data()), rec_->N, 1,
                        static_cast<TC*>(c), M, rec_->K, rec_->N, k_tile_);
    });
  }

  std::shared_ptr<XrtOpRecord> rec_;
  std::unique_ptr<XrtMatmul> npu_;
  std::vector<std::byte> host_b_;  // B as [K,N] row-major, kept when the CPU may run
  std::int64_t k_tile_ = 1;        // K tile of the CPU summation
  XrtOnError on_error_ = XrtOnError::fail;
};

class XrtBackend {
 public:
  explicit XrtBackend(XrtManifest manifest, XrtOptions options = {})
      : manifest_(std::move(manifest)), options_(std::move(options)) {
    try {
      device_ = XrtDevice::open(static_cast<unsigned>(manifest_.device));
    } catch (const error& e) {
      if (options_.require_device) throw;
      device_error_ = e.what();
    }
  }
  static XrtBackend from_file(const std::filesystem::path& manifest, XrtOptions options = {}) {
    return XrtBackend(load_xrt_manifest(manifest), std::move(options));
  }

  static constexpr std::string_view api() { return XrtDevice::api(); }
  bool device_available() const { return device_ != nullptr; }
  const std::string& device_error() const { return device_error_; }
  const XrtManifest& manifest() const { return manifest_; }
  XrtDevice* device() const { return device_.get(); }

  // Which artefact a matmul would use, or why none would; decides nothing.
  XrtSelection select_matmul(DType a, DType b, std::int64_t K, std::int64_t N, std::int64_t m_hint = 0) const {
    return select_xrt_matmul(manifest_, a, b, accumulator_of(a), m_hint, K, N);
  }

  // Prepares C = A·B for weights `b` ([K,N], or [N,K] with trans_b) and activations of `a_dtype`:
  // 8-bit integers (C int32) or bf16 (C float32). m_hint is the usual M, if known, for the choice
  // between artefacts.
  XrtMatmulOp prepare_matmul(std::string name, const Tensor& b, DType a_dtype, bool trans_b = false,
                             std::int64_t m_hint = 0) {
    check(b.shape().rank() == 2, "op '", name, "': weights must be 2-D, got ", b.shape());
    const DType c_dtype = accumulator_of(a_dtype);
    check(xrt_matmul_dtypes_supported(a_dtype, b.dtype(), c_dtype), "op '", name, "': the XRT backend's matmul takes ",
          "8-bit integer or bfloat16 operands, got ", name_of(a_dtype), " x ", name_of(b.dtype()));
    const std::int64_t K = trans_b ? b.shape()[1] : b.shape()[0];
    const std::int64_t N = trans_b ? b.shape()[0] : b.shape()[1];
    const std::int64_t sk = trans_b ? 1 : N, sn = trans_b ? K : 1;
    check(K > 0 && N > 0, "op '", name, "': weights of shape ", b.shape(), " are empty");
    visit_xrt_matmul_types(a_dtype, b.dtype(), [&](auto ta, auto tb, auto tc) {
      if constexpr (std::is_same_v<decltype(tc), std::int32_t>)
        check_int32_accumulator<decltype(ta)>(reinterpret_cast<const decltype(tb)*>(b.raw()), K, N, sk, sn,
                                              "op '" + name + "'");
    });

    XrtMatmulOp op;
    op.on_error_ = options_.on_error;
    op.rec_ = std::make_shared<XrtOpRecord>();
    XrtOpRecord& r = *op.rec_;
    r.name = std::move(name);
    r.K = K;
    r.N = N;
    r.a = a_dtype;
    r.b = b.dtype();
    r.c = c_dtype;
    const XrtSelection sel = select_matmul(a_dtype, b.dtype(), K, N, m_hint);
    if (sel.artefact) {
      r.artefact = sel.artefact->name;
      op.k_tile_ = sel.artefact->K;
    } else {
      op.k_tile_ = K;
    }
    if (!device_) {
      r.reason = "no XRT device: " + device_error_;
    } else if (!sel.artefact) {
      r.reason = sel.reason;
    } else {
      try {
        op.npu_ = std::make_unique<XrtMatmul>(device_, *sel.artefact, b.raw(), K, N, sk, sn, options_.run);
        r.npu.store(true);
      } catch (const error& e) {
        if (options_.on_error == XrtOnError::fail) throw error("op '" + r.name + "': " + e.what());
        r.reason = qnn::detail::cat("artefact '", sel.artefact->name, "' failed to load: ", e.what());
      }
    }
    if (!r.npu.load() || options_.on_error == XrtOnError::cpu) {
      const std::size_t e = size_of(b.dtype());
      op.host_b_.resize(static_cast<std::size_t>(K * N) * e);
      for (std::int64_t k = 0; k < K; ++k)
        for (std::int64_t n = 0; n < N; ++n)
          std::memcpy(op.host_b_.data() + static_cast<std::size_t>(k * N + n) * e,
                      b.raw() + static_cast<std::size_t>(k * sk + n * sn) * e, e);
    }
    std::lock_guard<std::mutex> lock(m_);
    ops_.push_back(op.rec_);
    return op;
  }

  XrtCounters counters() const { return device_ ? device_->stats().snapshot() : XrtCounters{}; }

  // Per op: where it runs and why, calls and MACs per device; then the device and its traffic.
  json::Value report() const {
    json::Value ops = json::Value::array();
    std::int64_t on_npu = 0, on_cpu = 0;
    std::uint64_t npu_macs = 0, cpu_macs = 0;
    {
      std::lock_guard<std::mutex> lock(m_);
      for (const auto& r : ops_) {
        ops.push(r->to_json());
        (r->npu.load() ? on_npu : on_cpu) += 1;
        npu_macs += r->npu_macs.load();
        cpu_macs += r->cpu_macs.load();
      }
    }
    json::Value dev = json::Value::object();
    dev.set("index", manifest_.device).set("available", device_available()).set("error", device_error_);
    json::Value totals = json::Value::object();
    totals.set("ops_npu", on_npu).set("ops_cpu", on_cpu);
    totals.set("npu_macs", static_cast<std::int64_t>(npu_macs)).set("cpu_macs", static_cast<std::int64_t>(cpu_macs));
    json::Value v = json::Value::object();
    v.set("backend", "xrt").set("api", std::string(api())).set("manifest", manifest_.source);
    v.set("device", std::move(dev)).set("ops", std::move(ops)).set("totals", std::move(totals));
    v.set("counters", counters().to_json());
    return v;
  }

  // One line per op, for a terminal.
  std::string report_text() const {
    std::ostringstream os;
    os << "XRT backend (" << api() << "), device " << manifest_.device
       << (device_ ? "" : " unavailable: " + device_error_) << "\n";
    std::lock_guard<std::mutex> lock(m_);
    for (const auto& r : ops_) {
      std::lock_guard<std::mutex> rl(r->m);
      os << "  " << r->name << "  matmul K=" << r->K << " N=" << r->N << "  " << name_of(r->a) << " x " << name_of(r->b)
         << " -> " << name_of(r->c) << "  " << (r->npu.load() ? "npu [" + r->artefact + "]" : "cpu (" + r->reason +
                                                                    (r->last_error.empty() ? "" : ": " + r->last_error) + ")")
         << "  calls npu " << r->npu_calls.load() << ", cpu " << r->cpu_calls.load() << "\n";
    }
    return os.str();
  }

 private:
  static DType accumulator_of(DType a) { return a == DType::bf16 ? DType::f32 : DType::i32; }

  XrtManifest manifest_;
  XrtOptions options_;
  std::shared_ptr<XrtDevice> device_;
  std::string device_error_;
  mutable std::mutex m_;
  std::vector<std::shared_ptr<XrtOpRecord>> ops_;
};

}  // namespace qnn::npu
