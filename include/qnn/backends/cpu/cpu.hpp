// The CPU backends: qnn's kernel registry as a Backend (backends/backend.hpp).
//
//   SimdBackend       "cpu"      the registry's kernels as they are: the fast paths (kernels/cpu,
//                                Highway) where an op has one, the scalar reference elsewhere. The
//                                default backend of Session and the fallback of every other backend.
//   ReferenceBackend  "cpu-ref"  the same kernels with SessionOptions::reference_kernels set, so
//                                Conv, Gemm and MatMul (float and quantized) run their scalar
//                                reference loops — the spec the fast paths equal bit for bit
//                                (docs/numerics.md).
//
// Both take every node: the registry is the CPU's operator table, and an operator missing from it is
// refused by KernelRegistry::make when the session is prepared (there is nothing left to fall back
// to). Both compute inside submit(), so their tickets are born ready. The registry is the one the
// session was given (NodeInfo::registry), the built-in one when a node is prepared outside a session.
#pragma once

#include <memory>
#include <string_view>

#include "qnn/backends/backend.hpp"
#include "qnn/runtime/kernel.hpp"
#include "qnn/runtime/ops/registry.hpp"

namespace qnn::backends::cpu {

namespace detail {
inline const KernelRegistry& registry_of(const NodeInfo& info) {
  return info.registry() ? *info.registry() : builtin_registry();
}
}  // namespace detail

template <bool Reference>
class RegistryBackend {
 public:
  static constexpr std::string_view name = Reference ? "cpu-ref" : "cpu";
  using Kernel = OpKernel;
  using Ticket = ReadyTicket;

  Support supports(const NodeInfo&) const { return Support::yes(); }

  std::unique_ptr<Kernel> prepare(const NodeInfo& info) const {
    if constexpr (Reference) {
      SessionOptions o = info.options();
      o.reference_kernels = true;
      return detail::registry_of(info).make(NodeInfo(info.node(), info.graph(), o, info.registry()));
    } else {
      return detail::registry_of(info).make(info);
    }
  }

  void run(const Kernel& k, KernelContext& ctx) const { k.run(ctx); }
  Ticket submit(const Kernel& k, KernelContext& ctx) const {
    k.run(ctx);
    return {};
  }
  void wait(Ticket&) const {}
};

using SimdBackend = RegistryBackend<false>;
using ReferenceBackend = RegistryBackend<true>;

static_assert(Backend<SimdBackend>);
static_assert(Backend<ReferenceBackend>);

}  // namespace qnn::backends::cpu
