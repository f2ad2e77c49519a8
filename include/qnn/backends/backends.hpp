// Every backend qnn builds, by name: the one place a program (the qnn tool, the examples) turns a
// backend name into a backend type.
//
//   cpu       backends::cpu::SimdBackend      the default; fast kernels where an op has them
//   cpu-ref   backends::cpu::ReferenceBackend scalar reference kernels only
//   npu-emu   backends::npu::Emulator         the NPU's layer table and integer arithmetic, on the CPU
//   xrt       the XRT NPU backend, when built with QNN_WITH_XRT (backends/npu/xrt*.hpp)
//
// visit_backend(name, f) calls f(B{}) with the backend named and returns its result; an unknown or
// unavailable name is a qnn::error listing the available ones. A new backend adds its line here.
#pragma once

#include <string>
#include <string_view>

#include "qnn/backends/backend.hpp"
#include "qnn/backends/cpu/cpu.hpp"
#include "qnn/backends/npu/emulator.hpp"
#include "qnn/core/error.hpp"

namespace qnn::backends {

inline constexpr std::string_view kBackendNames = "cpu, cpu-ref, npu-emu";

template <class F>
decltype(auto) visit_backend(std::string_view name, F&& f) {
  if (name == cpu::SimdBackend::name) return f(cpu::SimdBackend{});
  if (name == cpu::ReferenceBackend::name) return f(cpu::ReferenceBackend{});
  if (name == npu::Emulator::name) return f(npu::Emulator{});
  // The XRT backend plugs in here when QNN_WITH_XRT provides it.
  if (name == "xrt")
    fail("backend 'xrt' is not available in this build (configure with -DQNN_WITH_XRT=ON); available: ", kBackendNames);
  fail("unknown backend '", name, "' (available: ", kBackendNames, ")");
}

}  // namespace qnn::backends
