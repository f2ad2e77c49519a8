// Entry point of qnn_xrt_tests. The first argument names what the run needs:
//
//   --require=noop       XRT's noop shim (XCL_EMULATION_MODE=noop, $XILINX_XRT/lib/libxrt_noop.so.2)
//   --require=no_device  no usable XRT device (the no-device paths cannot be tested next to one)
//   --require=hardware   a real device and a user manifest in QNN_XRT_MANIFEST
//   --require=cli        the noop shim and the qnn tool of this build in QNN_CLI
//
// When it is missing the run exits with 77, which CTest reports as skipped (SKIP_RETURN_CODE), never
// as passed. The remaining arguments go to doctest (e.g. -ts=noop_dispatch).
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <string>
#include <string_view>
#include <vector>

#include "qnn/backends/npu/xrt.hpp"

namespace {

constexpr int kSkip = 77;

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

// Empty when the run can go ahead, else why it is skipped.
std::string missing(std::string_view need) {
  if (need == "noop") {
    if (env("XCL_EMULATION_MODE") != "noop") return "XCL_EMULATION_MODE is not 'noop'";
    const std::filesystem::path shim = std::filesystem::path(env("XILINX_XRT")) / "lib" / "libxrt_noop.so.2";
    if (env("XILINX_XRT").empty() || !std::filesystem::exists(shim))
      return "XRT's noop shim is not at " + shim.string() + " (Debian: package libxrt1)";
    return {};
  }
  if (need == "cli") {
    if (const std::string noop = missing("noop"); !noop.empty()) return noop;
    if (env("QNN_CLI").empty() || !std::filesystem::exists(env("QNN_CLI")))
      return "QNN_CLI does not name the qnn tool (build the qnn_cli target of this build)";
    return {};
  }
  if (need == "no_device") {
    if (!env("XCL_EMULATION_MODE").empty()) return "XCL_EMULATION_MODE is set";
    try {
      qnn::npu::XrtDevice::open(0);
      return "an XRT device is present, so the no-device paths cannot be exercised";
    } catch (const qnn::error&) {
      return {};
    }
  }
  if (need == "hardware") {
    if (!env("XCL_EMULATION_MODE").empty()) return "XCL_EMULATION_MODE is set (an emulated device is not hardware)";
    if (env("QNN_XRT_MANIFEST").empty()) return "QNN_XRT_MANIFEST does not name a manifest of real artefacts";
    try {
      qnn::npu::XrtDevice::open(0);
    } catch (const qnn::error& e) {
      return std::string("no XRT device: ") + e.what();
    }
    return {};
  }
  return "unknown requirement '" + std::string(need) + "'";
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<char*> args(argv, argv + argc);
  if (args.size() > 1) {
    const std::string_view first = args[1];
    if (first.rfind("--require=", 0) == 0) {
      const std::string why = missing(first.substr(10));
      if (!why.empty()) {
        std::cout << "SKIPPED (" << first.substr(10) << "): " << why << "\n";
        return kSkip;
      }
      args.erase(args.begin() + 1);
    }
  }
  doctest::Context ctx(static_cast<int>(args.size()), args.data());
  return ctx.run();
}
