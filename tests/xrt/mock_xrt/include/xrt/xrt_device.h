// MOCK of XRT >= 2.15's public API, declarations only, for a compile-only test of qnn's hw_context
// branch (tests/xrt/mock_xrt/README.md). Signatures follow XRT's headers at tags 2.15.225 and
// 2.21.21; nothing here is XRT's code and nothing here can be linked or run.
#pragma once
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

enum xclBOSyncDirection { XCL_BO_SYNC_BO_TO_DEVICE = 0, XCL_BO_SYNC_BO_FROM_DEVICE };
enum ert_cmd_state {
  ERT_CMD_STATE_NEW = 1, ERT_CMD_STATE_QUEUED = 2, ERT_CMD_STATE_RUNNING = 3, ERT_CMD_STATE_COMPLETED = 4,
  ERT_CMD_STATE_ERROR = 5, ERT_CMD_STATE_ABORT = 6, ERT_CMD_STATE_SUBMITTED = 7, ERT_CMD_STATE_TIMEOUT = 8,
  ERT_CMD_STATE_NORESPONSE = 9, ERT_CMD_STATE_SKERROR = 10, ERT_CMD_STATE_SKCRASHED = 11, ERT_CMD_STATE_MAX
};

namespace xrt {
class xclbin;
class uuid {
 public:
  uuid();
};
class device {
 public:
  device() = default;
  explicit device(unsigned int didx);
  uuid register_xclbin(const xrt::xclbin& xclbin);
  uuid load_xclbin(const xrt::xclbin& xclbin);
};
}  // namespace xrt
