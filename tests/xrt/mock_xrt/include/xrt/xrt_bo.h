// MOCK (see xrt/xrt_device.h): xrt::bo with the XRT >= 2.15 device overloads.
#pragma once
#include "xrt/xrt_device.h"

namespace xrt {
using memory_group = std::uint32_t;
class bo {
 public:
  enum class flags : std::uint32_t { normal = 0, cacheable = 1 << 24, p2p = 1 << 30, svm = 1 << 27,
                                     device_only = 1 << 28, host_only = 1 << 29 };
  bo() = default;
  bo(const xrt::device& device, std::size_t sz, flags flags, memory_group grp);
  void sync(xclBOSyncDirection dir, std::size_t sz, std::size_t offset);
  void* map();
  template <typename MapType>
  MapType map() { return reinterpret_cast<MapType>(map()); }
  std::size_t size() const;
};
}  // namespace xrt
