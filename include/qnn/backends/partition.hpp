// The partition report: for every node of a prepared session, the device that runs it or the exact
// reason it falls back to the CPU, with totals of nodes and multiply-accumulates per device — what
// the VitisAI execution provider writes to vitisai_ep_report.json, available before any hardware is
// touched (BasicSession::partition(), `qnn inspect --backend NAME`).
//
// MACs are those of one batch-1 inference, recorded by the session's probe run (OpKernel::macs);
// a session made without the probe (SessionOptions::probe off, or inputs with dynamic axes other
// than the batch) reports them as unknown (−1). A device subgraph is a connected set of nodes on
// the session's backend: two of its nodes are connected when one reads a value the other produces.
// Each subgraph is one hand-over between host and device in each direction at least.
#pragma once

#include <cstdint>
#include <iomanip>
#include <sstream>
#include <string>
#include <vector>

#include "qnn/graph/graph.hpp"
#include "qnn/io/json.hpp"

namespace qnn::backends {

struct NodePlacement {
  std::string node;        // node name
  std::string op;          // domain.op_type, "+relu" when an activation is fused
  std::string device;      // the backend that runs it
  std::string reason;      // why the session's backend does not; empty when it does
  std::int64_t macs = -1;  // per batch-1 inference; −1 unknown
};

struct DeviceTotals {
  std::string device;
  std::int64_t nodes = 0;
  std::int64_t macs = 0;  // −1 when some node's MACs are unknown
};

struct Partition {
  std::string backend;               // the session's backend
  std::string fallback;              // the backend declined nodes run on
  std::vector<NodePlacement> nodes;  // in execution order
  int subgraphs = 0;                 // connected subgraphs on `backend`

  // The session's backend first, then the fallback (each listed even with no nodes, when they differ).
  std::vector<DeviceTotals> totals() const {
    std::vector<DeviceTotals> t{{backend, 0, 0}};
    if (fallback != backend) t.push_back({fallback, 0, 0});
    for (const NodePlacement& p : nodes) {
      DeviceTotals* d = nullptr;
      for (DeviceTotals& x : t)
        if (x.device == p.device) d = &x;
      if (!d) {
        t.push_back({p.device, 0, 0});
        d = &t.back();
      }
      ++d->nodes;
      d->macs = (d->macs < 0 || p.macs < 0) ? -1 : d->macs + p.macs;
    }
    return t;
  }
  std::int64_t total_macs() const {
    std::int64_t m = 0;
    for (const NodePlacement& p : nodes) {
      if (p.macs < 0) return -1;
      m += p.macs;
    }
    return m;
  }
  std::int64_t fallbacks() const {
    std::int64_t n = 0;
    for (const NodePlacement& p : nodes) n += !p.reason.empty();
    return n;
  }
};

// "domain.op_type", with "+relu" / "+clip" when the graph passes fused an activation into the node
// and "+maxpool" when they fused a pooling.
// Reads the attribute map directly, so the lookup is not recorded as a use of the attribute.
inline std::string op_label(const Node& n) {
  std::string s = n.domain;
  if (!s.empty()) s.push_back('.');
  s += n.op_type;
  if (const auto* act = n.attrs.peek<std::string>("qnn_activation")) {
    s.push_back('+');
    s += *act;
  }
  if (const auto* pool = n.attrs.peek<std::string>("qnn_pool")) {
    s.push_back('+');
    s += *pool + "pool";
  }
  return s;
}

namespace detail {
inline std::string grouped(std::int64_t v) {
  if (v < 0) return "?";
  const std::string digits = std::to_string(v);
  std::string s;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) s.push_back(',');
    s.push_back(digits[i]);
  }
  return s;
}
inline std::string percent(std::int64_t part, std::int64_t whole) {
  if (part < 0 || whole <= 0) return "-";
  std::ostringstream os;
  os << std::fixed << std::setprecision(1) << 100.0 * double(part) / double(whole) << " %";
  return os.str();
}
}  // namespace detail

// Text form:
//   partition on npu-emu: 8 of 10 nodes, 100.0 % of 4,335,600 MACs, in 1 subgraph
//     device     nodes  MACs        share
//     npu-emu        8  4,335,600   100.0 %
//     cpu            2  0           0.0 %
//   fallbacks:
//     #0 input_QuantizeLinear (QuantizeLinear) -> cpu: <reason>
inline std::string format_partition(const Partition& p) {
  std::ostringstream os;
  const auto totals = p.totals();
  const std::int64_t all = p.total_macs();
  os << "partition on " << p.backend << ": " << totals[0].nodes << " of " << p.nodes.size() << " nodes, "
     << detail::percent(totals[0].macs, all) << " of " << detail::grouped(all) << " MACs, in " << p.subgraphs
     << (p.subgraphs == 1 ? " subgraph\n" : " subgraphs\n");
  os << "  " << std::left << std::setw(10) << "device" << std::right << std::setw(6) << "nodes" << "  " << std::left
     << std::setw(14) << "MACs" << "share\n";
  for (const DeviceTotals& t : totals)
    os << "  " << std::left << std::setw(10) << t.device << std::right << std::setw(6) << t.nodes << "  " << std::left
       << std::setw(14) << detail::grouped(t.macs) << detail::percent(t.macs, all) << "\n";
  if (p.fallbacks() == 0) {
    os << "fallbacks: none\n";
  } else {
    os << "fallbacks:\n";
    for (std::size_t i = 0; i < p.nodes.size(); ++i) {
      const NodePlacement& n = p.nodes[i];
      if (n.reason.empty()) continue;
      os << "  #" << i << " " << n.node << " (" << n.op << ") -> " << n.device << ": " << n.reason << "\n";
    }
  }
  return os.str();
}

// JSON form: {"backend", "fallback", "subgraphs", "total_macs", "devices": [{"device", "nodes",
// "macs"}], "nodes": [{"index", "name", "op", "device", "reason"?, "macs"}]}.
inline json::Value partition_json(const Partition& p) {
  json::Value devices = json::Value::array();
  for (const DeviceTotals& t : p.totals())
    devices.push(json::Value::object().set("device", t.device).set("nodes", t.nodes).set("macs", t.macs));
  json::Value nodes = json::Value::array();
  for (std::size_t i = 0; i < p.nodes.size(); ++i) {
    const NodePlacement& n = p.nodes[i];
    json::Value v = json::Value::object();
    v.set("index", i).set("name", n.node).set("op", n.op).set("device", n.device);
    if (!n.reason.empty()) v.set("reason", n.reason);
    v.set("macs", n.macs);
    nodes.push(std::move(v));
  }
  return json::Value::object()
      .set("backend", p.backend)
      .set("fallback", p.fallback)
      .set("subgraphs", p.subgraphs)
      .set("total_macs", p.total_macs())
      .set("devices", devices)
      .set("nodes", nodes);
}

}  // namespace qnn::backends
