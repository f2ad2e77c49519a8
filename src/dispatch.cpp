// Run-time SIMD dispatch: the one compiled file of qnn (CMake target qnn::dispatch, linked with
// libhwy). kernels/dispatch.hpp documents the behaviour; this file only selects, it computes
// nothing.
//
// hwy/foreach_target.h re-includes kernels/simd/table-inl.hpp once per target in HWY_TARGETS
// (with Debian's Highway 1.0.3, GCC 12 and no -march flags: AVX3_DL — wanted by qnn/config.hpp —
// AVX3, AVX2, SSE4, SSSE3 and SCALAR; EMU128 is disabled for GCC < 12.3), so each target's
// namespace gets its own target_kernel_table(). HWY_EXPORT gathers them into Highway's dispatch
// table. The table of one target is read the way HWY_DYNAMIC_DISPATCH reads it, but through a
// local hwy::ChosenTarget updated with that target alone, so selecting a target never touches
// Highway's process-wide choice (which other Highway users in the process share).

// qnn/config.hpp first: it must define HWY_WANT_AVX3_DL before Highway chooses its targets.
#include "qnn/config.hpp"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "qnn/kernels/simd/table-inl.hpp"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "qnn/kernels/simd/table-inl.hpp"  // the static target's turn (SCALAR without -march flags)

#include <atomic>
#include <cctype>
#include <cstdint>
#include <cstdlib>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "qnn/core/error.hpp"
#include "qnn/kernels/dispatch.hpp"

#ifndef QNN_DYNAMIC_DISPATCH
#error "src/dispatch.cpp is the QNN_DYNAMIC_DISPATCH build; compile it through the qnn::dispatch target"
#endif

// With a single target, HWY_EXPORT's table has one entry and the per-target lookup below would
// read past it; a one-target build is the header-only mode's job.
static_assert((HWY_TARGETS & (HWY_TARGETS - 1)) != 0,
              "src/dispatch.cpp must compile several targets: build it without HWY_COMPILE_ONLY_* and -march");

namespace qnn::simd {

HWY_EXPORT(target_kernel_table);

namespace {

constexpr std::string_view kPortable = "portable";

// qnn's name of a Highway target: Highway's own for SIMD targets, "portable" for the fallback.
std::string_view name_of(std::int64_t target) {
  return (target & (HWY_SCALAR | HWY_EMU128)) ? kPortable : std::string_view(hwy::TargetName(target));
}

// The targets of HWY_TARGETS, best (lowest bit) first; "portable" is the last.
std::vector<std::int64_t> compiled() {
  std::vector<std::int64_t> out;
  for (std::int64_t bits = HWY_TARGETS; bits != 0; bits &= bits - 1) out.push_back(bits & -bits);
  return out;
}

bool supported(std::int64_t target) {
  return (target & (HWY_SCALAR | HWY_EMU128)) || (hwy::SupportedTargets() & target);
}

// The kernel table of one compiled target the CPU supports.
const KernelTable* table_of(std::int64_t target) {
  hwy::ChosenTarget only;
  only.Update(target);
  return HWY_DISPATCH_TABLE(target_kernel_table)[only.GetIndex()]();
}

bool same_name(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (std::toupper(static_cast<unsigned char>(a[i])) != std::toupper(static_cast<unsigned char>(b[i]))) return false;
  return true;
}

std::string list(const std::vector<std::string_view>& names) {
  std::string s;
  for (const std::string_view n : names) s.append(s.empty() ? "" : ", ").append(n);
  return s;
}

// The choice: a target's table, or kPortableChoice for the portable loops (whose table pointer is
// nullptr, which cannot also mean "not chosen yet").
const KernelTable kPortableChoice{};
std::atomic<const KernelTable*> g_choice{nullptr};
std::mutex g_choose;

const KernelTable* resolve(std::string_view name, std::string_view where) {
  for (const std::int64_t t : compiled()) {
    if (!same_name(name, name_of(t))) continue;
    if (!supported(t))
      fail(where, ": SIMD target ", name_of(t), " is compiled but this CPU does not support it; available: ",
           list(dispatch_targets()));
    const KernelTable* k = table_of(t);
    return k ? k : &kPortableChoice;
  }
  fail(where, ": unknown SIMD target '", name, "'; available on this CPU: ", list(dispatch_targets()),
       " (compiled: ", list(compiled_targets()), ")");
}

const KernelTable* best() {
  for (const std::int64_t t : compiled())
    if (supported(t)) {
      const KernelTable* k = table_of(t);
      return k ? k : &kPortableChoice;
    }
  return &kPortableChoice;
}

// The first use: QNN_SIMD_TARGET if set and not empty, else the best target. A bad name throws
// here and again at every later use, until select_target() makes a choice.
const KernelTable* choose_once() {
  const std::lock_guard<std::mutex> lock(g_choose);
  const KernelTable* k = g_choice.load(std::memory_order_acquire);
  if (!k) {
    const char* env = std::getenv("QNN_SIMD_TARGET");  // NOLINT(concurrency-mt-unsafe): read under g_choose
    k = (env && *env) ? resolve(env, "QNN_SIMD_TARGET") : best();
    g_choice.store(k, std::memory_order_release);
  }
  return k;
}

}  // namespace

const KernelTable* dynamic_kernel_table() {
  const KernelTable* k = g_choice.load(std::memory_order_acquire);
  if (!k) k = choose_once();
  return k == &kPortableChoice ? nullptr : k;
}

std::vector<std::string_view> compiled_targets() {
  std::vector<std::string_view> out;
  for (const std::int64_t t : compiled()) out.push_back(name_of(t));
  return out;
}

std::vector<std::string_view> dispatch_targets() {
  std::vector<std::string_view> out;
  for (const std::int64_t t : compiled())
    if (supported(t)) out.push_back(name_of(t));
  return out;
}

void select_target(std::string_view name) {
  const std::lock_guard<std::mutex> lock(g_choose);
  g_choice.store(resolve(name, "qnn::simd::select_target"), std::memory_order_release);
}

void select_best_target() {
  const std::lock_guard<std::mutex> lock(g_choose);
  g_choice.store(best(), std::memory_order_release);
}

}  // namespace qnn::simd
