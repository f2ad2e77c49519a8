// MOCK (see xrt/xrt_device.h): xrt::kernel and xrt::run with XRT >= 2.15's hw_context constructor.
#pragma once
#include "xrt/xrt_bo.h"
#include "xrt/xrt_hw_context.h"

#include <functional>

namespace xrt {
class kernel {
 public:
  enum class cu_access_mode : std::uint8_t { exclusive = 0, shared = 1, none = 2 };
  kernel() = default;
  kernel(const xrt::device& device, const xrt::uuid& xclbin_id, const std::string& name,
         cu_access_mode mode = cu_access_mode::shared);
  kernel(const xrt::hw_context& ctx, const std::string& name);
  int group_id(int argno) const;
};
class run {
 public:
  run() = default;
  explicit run(const kernel& krnl);
  void start();
  ert_cmd_state abort();
  ert_cmd_state wait(const std::chrono::milliseconds& timeout = std::chrono::milliseconds{0}) const;
  ert_cmd_state state() const;
  void add_callback(ert_cmd_state state, std::function<void(const void*, ert_cmd_state, void*)> callback, void* data);
  template <typename ArgType>
  void set_arg(int index, ArgType&& arg) { set_arg_at_index(index, &arg, sizeof(arg)); }
  void set_arg(int index, xrt::bo& boh);
  void set_arg(int index, const xrt::bo& boh);

 private:
  void set_arg_at_index(int index, const void* value, std::size_t bytes);
};
}  // namespace xrt
