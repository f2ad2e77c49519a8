// MOCK (see xrt/xrt_device.h): xrt::xclbin at XRT >= 2.19's include path.
#pragma once
#include "xrt/xrt_device.h"

namespace xrt {
class xclbin {
 public:
  class arg {
   public:
    std::string get_name() const;
    std::string get_host_type() const;
    std::uint64_t get_size() const;
  };
  class kernel {
   public:
    explicit operator bool() const;
    std::string get_name() const;
    std::size_t get_num_args() const;
    arg get_arg(std::int32_t index) const;
  };
  xclbin() = default;
  explicit xclbin(const std::string& filename);
  std::vector<kernel> get_kernels() const;
  kernel get_kernel(const std::string& name) const;
  uuid get_uuid() const;
};
}  // namespace xrt
