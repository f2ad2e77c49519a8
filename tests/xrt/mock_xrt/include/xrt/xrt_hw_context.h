// MOCK (see xrt/xrt_device.h): xrt::hw_context, XRT >= 2.15 include path.
#pragma once
#include "xrt/xrt_device.h"

namespace xrt {
class hw_context {
 public:
  enum class access_mode : std::uint8_t { exclusive = 0, shared = 1 };
  hw_context() = default;
  hw_context(const xrt::device& device, const xrt::uuid& xclbin_id, access_mode mode);
  hw_context(const xrt::device& device, const xrt::uuid& xclbin_id);
};
}  // namespace xrt
