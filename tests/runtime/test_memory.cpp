// Long runs do not grow memory: 10,000 inferences on one session and context, and sessions made and
// destroyed over and over, on the Fashion-MNIST model. Measured as the process's resident set
// (/proc/self/statm) after a warm-up, so that first-touch allocations (slots growing to the batch,
// the thread pool, the allocator's own arenas) are not counted as growth.
//
// Under AddressSanitizer the resident set is not judged (its quarantine holds freed memory on
// purpose, and LeakSanitizer checks for leaks instead), and the runs are a tenth as many: the
// sanitizer build is -O0, and what it checks (every access of every run) the first runs show.
#include <doctest/doctest.h>

#include <cstdint>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include <unistd.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include "qnn/onnx/import.hpp"
#include "qnn/runtime/session.hpp"

namespace {

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kJudgeRss = false;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kJudgeRss = false;
#else
constexpr bool kJudgeRss = true;
#endif
#else
constexpr bool kJudgeRss = true;
#endif
constexpr int kRuns = kJudgeRss ? 10000 : 1000;
constexpr int kSessions = kJudgeRss ? 200 : 20;

// The resident set after the allocator has given its free memory back. glibc keeps or returns a
// freed block the size of a session's packed weights (fc1: 5.5 MB, above its adaptive mmap
// threshold) depending on what was freed last, so without the trim the figure swings by a whole
// session from one measurement to the next (+5.4 MB in one full-suite run, −5.4 MB alone).
std::int64_t resident_bytes() {
#if defined(__GLIBC__)
  malloc_trim(0);
#endif
  std::ifstream statm("/proc/self/statm");
  std::int64_t pages_total = 0, pages_resident = 0;
  statm >> pages_total >> pages_resident;
  REQUIRE(statm);
  return pages_resident * static_cast<std::int64_t>(sysconf(_SC_PAGESIZE));
}

const char* kModel = QNN_SOURCE_DIR "/examples/fashion_mnist/fashion_mnist_fp32.onnx";

qnn::Tensor image(float v) {
  qnn::Tensor x(qnn::DType::f32, qnn::Shape{1, 1, 28, 28});
  for (float& p : x.span<float>()) p = v;
  return x;
}

}  // namespace

TEST_CASE("memory: 10,000 inferences on one session do not grow the resident set") {
  const qnn::Graph g = qnn::onnx::load_graph(kModel);
  qnn::SessionOptions o;
  o.threads = 2;
  const qnn::Session session(g, o);
  qnn::RunContext ctx;
  std::vector<qnn::Tensor> outs;
  const std::vector<qnn::Tensor> in{image(0.5f)};
  for (int i = 0; i < 200; ++i) session.run(ctx, in, outs);
  const std::vector<float> first(outs[0].span<float>().begin(), outs[0].span<float>().end());
  const std::int64_t before = resident_bytes();
  for (int i = 0; i < kRuns; ++i) session.run(ctx, in, outs);
  const std::int64_t grown = resident_bytes() - before;
  MESSAGE("resident set after ", kRuns, " runs: ", grown / 1024, " KiB more than after the warm-up");
  // Same answer at the end as at the start: the reused buffers were not corrupted along the way.
  CHECK(std::vector<float>(outs[0].span<float>().begin(), outs[0].span<float>().end()) == first);
  if (kJudgeRss) CHECK(grown < 512 * 1024);
}

TEST_CASE("memory: making and destroying sessions repeatedly does not grow the resident set") {
  const qnn::Graph g = qnn::onnx::load_graph(kModel);
  const std::vector<qnn::Tensor> in{image(0.25f)};
  auto cycle = [&] {
    const qnn::Session session(g);
    const std::vector<qnn::Tensor> y = session.run(in);
    REQUIRE(y.size() == 1);
  };
  for (int i = 0; i < 20; ++i) cycle();
  const std::int64_t before = resident_bytes();
  for (int i = 0; i < kSessions; ++i) cycle();
  const std::int64_t grown = resident_bytes() - before;
  MESSAGE("resident set after ", kSessions, " sessions: ", grown / 1024, " KiB more than after the warm-up");
  // One session holds ~6 MB of packed weights: a leak of even one per cycle would be ~1.2 GB here.
  if (kJudgeRss) CHECK(grown < 2 * 1024 * 1024);
}

TEST_CASE("memory: run_in_place points at the results inside the context, equal to run()'s copies") {
  qnn::Graph g = qnn::onnx::load_graph(kModel);
  g.outputs.insert(g.outputs.begin(), g.nodes.front().outputs.front());  // an intermediate, probed
  const qnn::Session session(g, qnn::SessionOptions{});
  qnn::RunContext ctx;
  const std::vector<qnn::Tensor> in{image(0.25f)};
  std::vector<qnn::Tensor> copies;
  session.run(ctx, in, copies);
  std::vector<qnn::TensorRef> refs;
  session.run_in_place(ctx, in, refs);
  REQUIRE(refs.size() == copies.size());
  for (std::size_t i = 0; i < refs.size(); ++i) {
    CAPTURE(i);
    CHECK(refs[i].dtype == copies[i].dtype());
    CHECK(refs[i].shape == copies[i].shape());
    CHECK(std::memcmp(refs[i].data, copies[i].raw(), copies[i].bytes()) == 0);
    CHECK(refs[i].data != copies[i].raw());
  }
  // Still the same memory after another run on the context: the views follow the context.
  const std::byte* where = refs[0].data;
  const std::vector<qnn::Tensor> other{image(0.75f)};
  session.run_in_place(ctx, other, refs);
  CHECK(refs[0].data == where);
}
