// An XRT device, the xclbins made live on it and the kernels opened from them, and the counters of
// everything that crosses to the device.
//
// Lifetime: a device is shared (std::shared_ptr) by every op prepared on it, so it outlives their
// buffers and runs. Inside, members are declared device → xclbin contexts → kernels, so they are
// destroyed kernels → contexts → device, the order XRT wants. An xclbin is loaded once per file and
// a kernel opened once per (file, name), whatever the number of ops that use it: NPU context space is
// small (a Phoenix NPU holds four), so ops share contexts.
//
// A kernel is opened only after the manifest's argument layout has been checked against the
// kernel's signature in the xclbin — count, and buffer-versus-scalar for each role — so a wrong
// manifest fails at load with the argument's name, not later as a hang or a garbage result.
#pragma once

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "qnn/backends/npu/xrt_api.hpp"
#include "qnn/backends/npu/xrt_manifest.hpp"
#include "qnn/core/error.hpp"
#include "qnn/io/json.hpp"

namespace qnn::npu {

// A copy of the counters at one moment.
struct XrtCounters {
  std::uint64_t xclbins_loaded = 0;
  std::uint64_t kernels_opened = 0;
  std::uint64_t buffers_allocated = 0;
  std::uint64_t buffer_bytes = 0;        // total size of the buffers allocated
  std::uint64_t bytes_to_device = 0;     // synced host → device (weights, instructions, activations)
  std::uint64_t bytes_from_device = 0;   // synced device → host (results)
  std::uint64_t weight_bytes = 0;        // of bytes_to_device: packed weights (uploaded once per op)
  std::uint64_t instruction_bytes = 0;   // of bytes_to_device: instruction streams
  std::uint64_t runs_started = 0;
  std::uint64_t runs_completed = 0;
  std::uint64_t runs_timed_out = 0;
  std::uint64_t runs_failed = 0;         // finished in a state other than COMPLETED

  json::Value to_json() const {
    json::Value v = json::Value::object();
    v.set("xclbins_loaded", static_cast<std::int64_t>(xclbins_loaded));
    v.set("kernels_opened", static_cast<std::int64_t>(kernels_opened));
    v.set("buffers_allocated", static_cast<std::int64_t>(buffers_allocated));
    v.set("buffer_bytes", static_cast<std::int64_t>(buffer_bytes));
    v.set("bytes_to_device", static_cast<std::int64_t>(bytes_to_device));
    v.set("bytes_from_device", static_cast<std::int64_t>(bytes_from_device));
    v.set("weight_bytes", static_cast<std::int64_t>(weight_bytes));
    v.set("instruction_bytes", static_cast<std::int64_t>(instruction_bytes));
    v.set("runs_started", static_cast<std::int64_t>(runs_started));
    v.set("runs_completed", static_cast<std::int64_t>(runs_completed));
    v.set("runs_timed_out", static_cast<std::int64_t>(runs_timed_out));
    v.set("runs_failed", static_cast<std::int64_t>(runs_failed));
    return v;
  }
};

// The live counters: updated from any thread.
struct XrtStats {
  std::atomic<std::uint64_t> xclbins_loaded{0}, kernels_opened{0}, buffers_allocated{0}, buffer_bytes{0},
      bytes_to_device{0}, bytes_from_device{0}, weight_bytes{0}, instruction_bytes{0}, runs_started{0},
      runs_completed{0}, runs_timed_out{0}, runs_failed{0};

  XrtCounters snapshot() const {
    return {xclbins_loaded.load(),   kernels_opened.load(),    buffers_allocated.load(), buffer_bytes.load(),
            bytes_to_device.load(),  bytes_from_device.load(), weight_bytes.load(),      instruction_bytes.load(),
            runs_started.load(),     runs_completed.load(),    runs_timed_out.load(),    runs_failed.load()};
  }
};

// What the xclbin says about one kernel argument.
struct XrtKernelArg {
  std::string name;
  std::string host_type;  // "void*", "uint64_t", ...
  std::size_t size = 0;   // bytes in the register map
  bool buffer = false;    // a global memory (pointer) argument
};

struct XrtKernel {
  ::xrt::kernel kernel;
  std::vector<XrtKernelArg> args;
};

// Checks the manifest's argument roles against a kernel signature; throws naming the argument.
inline void check_xrt_signature(const XrtArtefact& a, const std::vector<XrtKernelArg>& sig) {
  check(a.args.size() <= sig.size(), a.where(), ": the manifest lists ", a.args.size(), " arguments but kernel '",
        a.kernel, "' has ", sig.size());
  for (std::size_t i = 0; i < a.args.size(); ++i) {
    const XrtArgRole r = a.args[i].role;
    if (r == XrtArgRole::unused) continue;
    const XrtKernelArg& k = sig[i];
    const std::string what = qnn::detail::cat(a.where(), ": argument ", i, " ('", k.name, "', ", k.host_type, ") ");
    if (is_buffer_role(r)) {
      check(k.buffer, what, "is a scalar in the xclbin but the manifest gives it buffer role \"", name_of(r), "\"");
    } else {
      check(!k.buffer, what, "is a buffer in the xclbin but the manifest gives it scalar role \"", name_of(r), "\"");
      check(k.size == 4 || k.size == 8, what, "is ", k.size, " bytes; scalar roles need 4 or 8");
    }
  }
}

class XrtDevice {
 public:
  // Opens device `index`. Without a usable device (no driver, no XILINX_XRT, wrong shim) this
  // fails with XRT's reason and where XRT looked.
  static std::shared_ptr<XrtDevice> open(unsigned index) {
    const char* root = std::getenv("XILINX_XRT");
    const char* mode = std::getenv("XCL_EMULATION_MODE");
    const std::string where = qnn::detail::cat(
        "XRT device ", index, " (XILINX_XRT=", root ? root : "<unset>", ", XCL_EMULATION_MODE=", mode ? mode : "<unset>",
        ", API ", XrtXclbinContext::kApi, ") cannot be opened");
    auto d = std::shared_ptr<XrtDevice>(new XrtDevice());
    d->index_ = index;
    d->device_ = xrt_call(where, [&] { return ::xrt::device(index); });
    return d;
  }

  XrtDevice(const XrtDevice&) = delete;
  XrtDevice& operator=(const XrtDevice&) = delete;

  unsigned index() const { return index_; }
  static constexpr std::string_view api() { return XrtXclbinContext::kApi; }
  ::xrt::device& handle() { return device_; }
  XrtStats& stats() { return stats_; }
  const XrtStats& stats() const { return stats_; }

  // The artefact's kernel: its xclbin made live (once per file), the kernel opened (once per file
  // and name) after its signature has been checked against the manifest. Thread-safe.
  const XrtKernel& kernel(const XrtArtefact& a) {
    std::lock_guard<std::mutex> lock(m_);
    const std::string file = a.xclbin.string();
    const std::string key = file + '\n' + a.kernel;
    if (auto it = kernels_.find(key); it != kernels_.end()) {
      check_xrt_signature(a, it->second.args);
      return it->second;
    }
    const std::string ctx = a.where() + ": xclbin '" + file + "'";
    Xclbin& x = xclbin(file, ctx);

    const ::xrt::xclbin::kernel meta = xrt_call(ctx, [&] { return x.xclbin.get_kernel(a.kernel); });
    if (!meta) {
      std::string names;
      for (const auto& k : x.xclbin.get_kernels()) names += (names.empty() ? "" : ", ") + k.get_name();
      fail(ctx, ": has no kernel '", a.kernel, "' (it has: ", names.empty() ? "none" : names, ")");
    }
    XrtKernel k;
    xrt_call(ctx, [&] {
      for (std::size_t i = 0; i < meta.get_num_args(); ++i) {
        const auto arg = meta.get_arg(static_cast<std::int32_t>(i));
        XrtKernelArg info{arg.get_name(), arg.get_host_type(), arg.get_size(), false};
        info.buffer = !info.host_type.empty() && info.host_type.back() == '*';
        k.args.push_back(std::move(info));
      }
    });
    check_xrt_signature(a, k.args);
    k.kernel = xrt_call(ctx + ": kernel '" + a.kernel + "'", [&] { return x.context->open_kernel(device_, a.kernel); });
    ++stats_.kernels_opened;
    return kernels_.emplace(key, std::move(k)).first->second;
  }

  // A buffer object of `bytes` in memory group `group` (the kernel's group_id for its argument).
  ::xrt::bo alloc(std::size_t bytes, XrtBufferKind kind, int group, const std::string& what) {
    const auto flags = kind == XrtBufferKind::host_only ? ::xrt::bo::flags::host_only
                       : kind == XrtBufferKind::cacheable ? ::xrt::bo::flags::cacheable
                                                         : ::xrt::bo::flags::normal;
    ::xrt::bo bo = xrt_call(qnn::detail::cat(what, ": allocating a buffer of ", bytes, " bytes in memory group ", group),
                            [&] { return ::xrt::bo(device_, bytes, flags, static_cast<::xrt::memory_group>(group)); });
    ++stats_.buffers_allocated;
    stats_.buffer_bytes += bytes;
    return bo;
  }

  void to_device(::xrt::bo& bo, std::size_t bytes, const std::string& what) {
    xrt_call([&] { return what + ": sync to device"; }, [&] { bo.sync(XCL_BO_SYNC_BO_TO_DEVICE, bytes, 0); });
    stats_.bytes_to_device += bytes;
  }
  void from_device(::xrt::bo& bo, std::size_t bytes, const std::string& what) {
    xrt_call([&] { return what + ": sync from device"; }, [&] { bo.sync(XCL_BO_SYNC_BO_FROM_DEVICE, bytes, 0); });
    stats_.bytes_from_device += bytes;
  }

 private:
  struct Xclbin {
    ::xrt::xclbin xclbin;
    std::unique_ptr<XrtXclbinContext> context;
  };

  XrtDevice() = default;

  Xclbin& xclbin(const std::string& file, const std::string& ctx) {
    if (auto it = xclbins_.find(file); it != xclbins_.end()) return it->second;
    if constexpr (!XrtXclbinContext::kManyXclbins) {
      check(xclbins_.empty(), ctx, ": this XRT (", XrtXclbinContext::kApi, ") holds one xclbin per device and '",
            xclbins_.empty() ? std::string() : xclbins_.begin()->first,
            "' is already loaded; artefacts of other xclbins need XRT >= 2.14");
    }
    Xclbin x;
    x.xclbin = xrt_call(ctx, [&] { return ::xrt::xclbin(file); });
    x.context = xrt_call(ctx + ": loading", [&] { return std::make_unique<XrtXclbinContext>(device_, x.xclbin); });
    ++stats_.xclbins_loaded;
    return xclbins_.emplace(file, std::move(x)).first->second;
  }

  // Declaration order is destruction order reversed: kernels, then contexts, then the device.
  unsigned index_ = 0;
  ::xrt::device device_;
  std::map<std::string, Xclbin> xclbins_;
  std::map<std::string, XrtKernel> kernels_;
  XrtStats stats_;
  std::mutex m_;
};

}  // namespace qnn::npu
