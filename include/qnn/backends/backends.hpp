// Every backend qnn builds, by name: the one place a program (the qnn tool, the examples) turns a
// backend name into a backend type.
//
//   cpu       backends::cpu::SimdBackend      the default; fast kernels where an op has them
//   cpu-ref   backends::cpu::ReferenceBackend scalar reference kernels only
//   npu-emu   backends::npu::Emulator         the NPU's layer table and integer arithmetic, on the CPU
//   xrt       npu::XrtSessionBackend          prebuilt NPU artefacts through XRT; only in programs
//                                             built with QNN_WITH_XRT (the qnn::xrt CMake target
//                                             defines it and links XRT), elsewhere a clear error
//
// visit_backend(name, options, f) calls f(B) with the backend named, made from `options`, and
// returns its result; an unknown or unavailable name is a qnn::error listing the available ones
// (check_backend_name says so without making anything). A new backend adds its line here.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <utility>

#include "qnn/backends/backend.hpp"
#include "qnn/backends/cpu/cpu.hpp"
#include "qnn/backends/npu/emulator.hpp"
#include "qnn/core/error.hpp"
#ifdef QNN_WITH_XRT
#include "qnn/backends/npu/xrt_session_backend.hpp"
#endif

namespace qnn::backends {

#ifdef QNN_WITH_XRT
inline constexpr bool kHaveXrt = true;
inline constexpr std::string_view kBackendNames = "cpu, cpu-ref, npu-emu, xrt";
#else
inline constexpr bool kHaveXrt = false;
inline constexpr std::string_view kBackendNames = "cpu, cpu-ref, npu-emu";
#endif

// What making a backend may need beyond its name. Only the XRT backend reads anything today: the
// user's artefact manifest (an NPU cannot run what was not compiled for it ahead of time,
// docs/backends_xrt.md) and how to behave without a device.
struct BackendOptions {
  std::string xrt_manifest;            // manifest JSON; empty: the QNN_XRT_MANIFEST environment variable
  bool xrt_require_device = true;      // false: without an XRT device every node runs on the CPU, reported
  std::int64_t xrt_timeout_ms = 10000;  // bound on each NPU run; 0 waits forever
};

// Fails unless `name` is a backend of this build.
inline void check_backend_name(std::string_view name) {
  if (name == cpu::SimdBackend::name || name == cpu::ReferenceBackend::name || name == npu::Emulator::name) return;
  if (name == "xrt") {
    check(kHaveXrt, "backend 'xrt' is not available in this build (configure with -DQNN_WITH_XRT=ON and link ",
          "qnn::xrt); available: ", kBackendNames);
    return;
  }
  fail("unknown backend '", name, "' (available: ", kBackendNames, ")");
}

template <class F>
decltype(auto) visit_backend(std::string_view name, [[maybe_unused]] const BackendOptions& options, F&& f) {
  if (name == cpu::SimdBackend::name) return f(cpu::SimdBackend{});
  if (name == cpu::ReferenceBackend::name) return f(cpu::ReferenceBackend{});
  if (name == npu::Emulator::name) return f(npu::Emulator{});
#ifdef QNN_WITH_XRT
  if (name == qnn::npu::XrtSessionBackend::name) {
    std::string manifest = options.xrt_manifest;
    if (const char* env = std::getenv("QNN_XRT_MANIFEST"); manifest.empty() && env) manifest = env;
    check(!manifest.empty(), "backend 'xrt' needs the manifest of your prebuilt NPU artefacts: pass ",
          "--xrt-manifest FILE or set QNN_XRT_MANIFEST (docs/backends_xrt.md)");
    check(options.xrt_timeout_ms >= 0, "the XRT timeout must not be negative, got ", options.xrt_timeout_ms);
    qnn::npu::XrtOptions o;
    o.require_device = options.xrt_require_device;
    o.run.timeout = std::chrono::milliseconds(options.xrt_timeout_ms);
    return f(qnn::npu::XrtSessionBackend::from_file(manifest, o));
  }
#endif
  check_backend_name(name);  // an unknown name, or xrt in a build without it
  fail("backend '", name, "' is not wired into visit_backend");
}

template <class F>
decltype(auto) visit_backend(std::string_view name, F&& f) {
  return visit_backend(name, BackendOptions{}, std::forward<F>(f));
}

}  // namespace qnn::backends
