// The profiler: per-node wall time, multiply-accumulates, GMAC/s and share of the run, on any
// backend (`qnn profile MODEL.onnx --input X.npy [--backend NAME]`).
//
//   Profile p = qnn::profile(session, inputs, {.runs = 20});
//   std::cout << qnn::format_profile(p);          // a table; profile_json(p) for tools
//
// Each node's time is the median over the timed runs (after untimed warm-up runs), so one run
// disturbed by another process does not move the figures; the total is the median of the runs'
// sums. Nodes on a device backend are waited for right after they are submitted while profiling,
// so their time is theirs alone (a normal run overlaps them with host work). MACs are counted by
// each kernel on the inputs given (OpKernel::macs), so they scale with the batch.
#pragma once

#include <algorithm>
#include <cstdint>
#include <iomanip>
#include <optional>
#include <span>
#include <sstream>
#include <string>
#include <vector>

#include "qnn/backends/partition.hpp"
#include "qnn/core/error.hpp"
#include "qnn/core/tensor.hpp"
#include "qnn/io/json.hpp"
#include "qnn/runtime/session.hpp"

namespace qnn {

struct NodeProfile {
  std::string node;        // node name
  std::string op;          // as in the partition report: domain.op_type, "+relu" when fused
  std::string device;      // the backend that ran it
  std::int64_t macs = -1;  // on the profiled inputs; −1 when the kernel does not count them
  double seconds = 0;      // median over the timed runs
};

struct Profile {
  std::string backend;
  int runs = 0;
  std::int64_t batch = 0;  // first axis of the first input
  int threads = 1;
  double seconds = 0;      // median over the runs of the sum of the node times
  std::vector<NodeProfile> nodes;

  std::int64_t total_macs() const {
    std::int64_t m = 0;
    for (const NodeProfile& n : nodes) m += std::max<std::int64_t>(n.macs, 0);
    return m;
  }
};

struct ProfileOptions {
  int runs = 20;    // timed runs
  int warmup = 3;   // untimed runs first: buffers grow, caches and thread pools settle
};

namespace detail {
inline double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}
// GMAC/s, or nothing where MACs are not counted or the time is zero (both the table and the JSON).
inline std::optional<double> gmac_per_s(std::int64_t macs, double seconds) {
  if (macs <= 0 || seconds <= 0) return std::nullopt;
  return double(macs) / seconds * 1e-9;
}
inline std::string fixed(double v, int digits) {
  std::ostringstream os;
  os << std::fixed << std::setprecision(digits) << v;
  return os.str();
}
inline std::string gmacs(std::int64_t macs, double seconds) {
  const auto r = gmac_per_s(macs, seconds);
  return r ? fixed(*r, 2) : "-";
}
}  // namespace detail

template <backends::Backend B>
Profile profile(const BasicSession<B>& session, std::span<const Tensor> inputs, ProfileOptions o = {}) {
  check(o.runs >= 1, "profile: runs must be at least 1, got ", o.runs);
  check(o.warmup >= 0, "profile: warm-up runs must not be negative, got ", o.warmup);
  typename BasicSession<B>::Context ctx;
  StepStats stats;
  for (int i = 0; i < o.warmup; ++i) session.run_profiled(ctx, inputs, stats);
  const std::size_t steps = session.num_steps();
  std::vector<std::vector<double>> times(steps);
  std::vector<double> totals;
  for (int r = 0; r < o.runs; ++r) {
    std::fill(stats.seconds.begin(), stats.seconds.end(), 0.0);
    session.run_profiled(ctx, inputs, stats);
    double sum = 0;
    for (std::size_t i = 0; i < steps; ++i) {
      times[i].push_back(stats.seconds[i]);
      sum += stats.seconds[i];
    }
    totals.push_back(sum);
  }
  const backends::Partition& part = session.partition();
  Profile p;
  p.backend = part.backend;
  p.runs = o.runs;
  p.batch = !inputs.empty() && inputs[0].shape().rank() > 0 ? inputs[0].shape()[0] : 1;
  p.threads = session.options().threads;
  p.seconds = detail::median(totals);
  for (std::size_t i = 0; i < steps; ++i) {
    const backends::NodePlacement& n = part.nodes[i];
    p.nodes.push_back({n.node, n.op, n.device, stats.macs[i], detail::median(times[i])});
  }
  return p;
}

// Text form, nodes in execution order:
//   profile on cpu: batch 64, 2 threads, median of 20 runs: 18.42 ms, 277,478,400 MACs, 15.06 GMAC/s
//   #   node                  op          device   time (us)  share    MACs          GMAC/s
//   0   /layer1/.../Conv      Conv+relu   cpu        2130.4   11.6 %   14,450,688    6.78
inline std::string format_profile(const Profile& p) {
  std::ostringstream os;
  const std::int64_t all = p.total_macs();
  os << "profile on " << p.backend << ": batch " << p.batch << ", " << p.threads
     << (p.threads == 1 ? " thread" : " threads") << ", median of " << p.runs << " runs: "
     << detail::fixed(p.seconds * 1e3, 3) << " ms, " << backends::detail::grouped(all) << " MACs, "
     << detail::gmacs(all, p.seconds) << " GMAC/s\n";
  std::size_t w = 4;
  std::size_t wop = 2;
  for (const NodeProfile& n : p.nodes) {
    w = std::max(w, n.node.size());
    wop = std::max(wop, n.op.size());
  }
  os << std::left << std::setw(4) << "#" << std::setw(static_cast<int>(w + 2)) << "node"
     << std::setw(static_cast<int>(wop + 2)) << "op" << std::setw(10) << "device" << std::right << std::setw(11)
     << "time (us)" << std::setw(9) << "share" << std::setw(16) << "MACs" << std::setw(9) << "GMAC/s" << "\n";
  for (std::size_t i = 0; i < p.nodes.size(); ++i) {
    const NodeProfile& n = p.nodes[i];
    const double share = p.seconds > 0 ? 100.0 * n.seconds / p.seconds : 0.0;
    os << std::left << std::setw(4) << i << std::setw(static_cast<int>(w + 2)) << n.node
       << std::setw(static_cast<int>(wop + 2)) << n.op << std::setw(10) << n.device << std::right << std::setw(11)
       << detail::fixed(n.seconds * 1e6, 1) << std::setw(7) << detail::fixed(share, 1) << " %" << std::setw(16)
       << backends::detail::grouped(n.macs) << std::setw(9) << detail::gmacs(n.macs, n.seconds) << "\n";
  }
  return os.str();
}

// JSON form: {"backend", "batch", "threads", "runs", "seconds", "total_macs", "gmacs",
// "nodes": [{"index", "name", "op", "device", "seconds", "share", "macs", "gmacs"}]}; "gmacs" is
// null where MACs are not counted or the time is zero.
inline json::Value profile_json(const Profile& p) {
  const auto rate = [](std::int64_t macs, double s) {
    const auto r = detail::gmac_per_s(macs, s);
    return r ? json::Value(*r) : json::Value(nullptr);
  };
  json::Value nodes = json::Value::array();
  for (std::size_t i = 0; i < p.nodes.size(); ++i) {
    const NodeProfile& n = p.nodes[i];
    nodes.push(json::Value::object()
                   .set("index", i)
                   .set("name", n.node)
                   .set("op", n.op)
                   .set("device", n.device)
                   .set("seconds", n.seconds)
                   .set("share", p.seconds > 0 ? n.seconds / p.seconds : 0.0)
                   .set("macs", n.macs)
                   .set("gmacs", rate(n.macs, n.seconds)));
  }
  return json::Value::object()
      .set("backend", p.backend)
      .set("batch", p.batch)
      .set("threads", p.threads)
      .set("runs", p.runs)
      .set("seconds", p.seconds)
      .set("total_macs", p.total_macs())
      .set("gmacs", rate(p.total_macs(), p.seconds))
      .set("nodes", nodes);
}

}  // namespace qnn
