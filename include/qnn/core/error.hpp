// qnn::error — the one exception type the library throws.
//
// Every failure a user can cause (bad model, wrong shape or dtype, unsupported attribute, NaN in
// calibration data, truncated file) surfaces as a qnn::error whose message says what failed, where
// (node, tensor, file offset) and why. The library never aborts and never returns a silently wrong
// answer; a fallback that changes numerics is reported, not hidden.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>

namespace qnn {

class error : public std::runtime_error {
 public:
  explicit error(const std::string& what) : std::runtime_error(what) {}
};

namespace detail {
template <class... Args>
std::string cat(const Args&... args) {
  std::ostringstream os;
  (os << ... << args);
  return os.str();
}
}  // namespace detail

// Throws qnn::error with the arguments streamed into one message.
template <class... Args>
[[noreturn]] void fail(const Args&... args) {
  throw error(detail::cat(args...));
}

// Throws qnn::error when `ok` is false. The message arguments are evaluated eagerly, so pass
// cheap values (names, numbers), not expressions that format large objects.
template <class... Args>
void check(bool ok, const Args&... args) {
  if (!ok) fail(args...);
}

// Runs `f`; a qnn::error escaping it is re-thrown with `context` prepended ("node 'conv1': ...").
// Used at layer boundaries so a kernel's message gains the node or file it concerns.
template <class F>
decltype(auto) with_context(const std::string& context, F&& f) {
  try {
    return std::forward<F>(f)();
  } catch (const error& e) {
    // Nested calls with the same context (the session and the kernel registry both name the node)
    // name it once.
    const std::string what = e.what();
    if (what.starts_with(context + ": ")) throw;
    throw error(context + ": " + what);
  }
}

}  // namespace qnn
