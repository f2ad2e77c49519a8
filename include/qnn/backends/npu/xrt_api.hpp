// The one place qnn includes XRT, and the one place the two XRT API generations differ.
//
// XRT ≥ 2.14 (what Ryzen AI's amdxdna driver needs) registers an xclbin with the device and opens
// kernels inside an xrt::hw_context; several xclbins can be live at once, each in its own context.
// XRT 2.13 (Debian's libxrt-dev) has neither: it load_xclbin()s one xclbin onto the device and opens
// kernels by (device, uuid, name). The choice is made at compile time from which headers exist
// (XRT's own version header moved between releases, so it is not a reliable key); everything above
// this header — buffers, runs, waits — is written against the API common to both.
//
// The hw_context branch cannot be compiled against Debian's XRT 2.13; it is compiled here only
// against a mock of the ≥ 2.15 signatures (tests/xrt/mock_xrt). The load_xclbin branch is compiled
// and run against the real 2.13 libraries through XRT's noop shim (docs/backends_xrt.md).
#pragma once

#include <exception>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include <xrt/xrt_bo.h>
#include <xrt/xrt_device.h>
#include <xrt/xrt_kernel.h>
#if __has_include(<xrt/experimental/xrt_xclbin.h>)
#include <xrt/experimental/xrt_xclbin.h>
#else
#include <experimental/xrt_xclbin.h>
#endif

#include "qnn/core/error.hpp"

#if __has_include(<xrt/xrt_hw_context.h>) || __has_include(<experimental/xrt_hw_context.h>)
#if __has_include(<xrt/xrt_hw_context.h>)
#include <xrt/xrt_hw_context.h>
#else
#include <experimental/xrt_hw_context.h>
#endif

namespace qnn::npu {

// An xclbin made live on a device, and the kernels it provides. XRT ≥ 2.14: one hw_context each.
class XrtXclbinContext {
 public:
  static constexpr std::string_view kApi = "hw_context (XRT >= 2.14)";
  // Several xclbins may be live on one device at once.
  static constexpr bool kManyXclbins = true;

  XrtXclbinContext(::xrt::device& device, const ::xrt::xclbin& xclbin)
      : uuid_(device.register_xclbin(xclbin)), context_(device, uuid_) {}

  ::xrt::kernel open_kernel(::xrt::device&, const std::string& name) const { return ::xrt::kernel(context_, name); }
  const ::xrt::uuid& uuid() const { return uuid_; }

 private:
  ::xrt::uuid uuid_;
  ::xrt::hw_context context_;
};

}  // namespace qnn::npu

#else

namespace qnn::npu {

// An xclbin made live on a device, and the kernels it provides. XRT 2.13: load_xclbin.
class XrtXclbinContext {
 public:
  static constexpr std::string_view kApi = "load_xclbin (XRT 2.13)";
  // load_xclbin replaces what the device holds: one xclbin per device at a time.
  static constexpr bool kManyXclbins = false;

  XrtXclbinContext(::xrt::device& device, const ::xrt::xclbin& xclbin) : uuid_(device.load_xclbin(xclbin)) {}

  ::xrt::kernel open_kernel(::xrt::device& device, const std::string& name) const {
    return ::xrt::kernel(device, uuid_, name);
  }
  const ::xrt::uuid& uuid() const { return uuid_; }

 private:
  ::xrt::uuid uuid_;
};

}  // namespace qnn::npu

#endif

namespace qnn::npu {

// Runs an XRT call; XRT's exceptions (std::exception subclasses, sometimes with terse messages
// such as "Invalid xclbin") become qnn::error with the context in front. The context is a string,
// or a callable returning one, evaluated only on failure: the dispatch loop formats nothing when
// all goes well.
template <class Context, class F>
decltype(auto) xrt_call(Context&& context, F&& f) {
  try {
    return std::forward<F>(f)();
  } catch (const error&) {
    throw;
  } catch (const std::exception& e) {
    if constexpr (std::is_invocable_v<Context>)
      throw error(std::string(context()) + ": XRT: " + e.what());
    else
      throw error(std::string(context) + ": XRT: " + e.what());
  }
}

}  // namespace qnn::npu
