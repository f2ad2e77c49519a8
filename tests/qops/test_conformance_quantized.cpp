// ONNX node conformance cases of the quantized operators (QuantizeLinear, DequantizeLinear,
// QLinearConv, QLinearMatMul, ConvInteger, MatMulInteger).
//
// The conformance models feed every input — weights, scales and zero points included — as a graph
// input. QuantizeLinear, DequantizeLinear, ConvInteger and MatMulInteger accept run-time parameters
// and run as the models are (qnn::testing::run_conformance). QLinearConv and QLinearMatMul require
// their scales, zero points (and QLinearConv its weights) to be constant initializers, because qnn
// prepares the requantization once; their cases run with those inputs turned into initializers
// holding the data set's values ("frozen"), which changes no value the operator computes.
#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "../onnx/conformance.hpp"

namespace {

namespace fs = std::filesystem;

// "prefix<n>suffix", appended piecewise (GCC 12 misreports `"a" + std::to_string(n)` under
// -Werror=restrict).
std::string numbered(const char* prefix, std::size_t n, const char* suffix) {
  std::string s(prefix);
  s += std::to_string(n);
  s += suffix;
  return s;
}

using namespace qnn;

const std::set<std::string> kRuntimeParamOps{"QuantizeLinear", "DequantizeLinear", "ConvInteger", "MatMulInteger"};
const std::set<std::string> kFrozenOps{"QLinearConv", "QLinearMatMul"};

// Node inputs that stay graph inputs when a case is frozen: the data (x / a) and QLinearMatMul's b.
bool is_data_input(const std::string& op, std::size_t index) {
  return index == 0 || (op == "QLinearMatMul" && index == 3);
}

testing::CaseResult run_frozen(const fs::path& dir) {
  testing::CaseResult r;
  r.name = dir.filename().string();
  const onnx::ModelProto model = onnx::load_model(dir / "model.onnx");
  for (const auto& n : model.graph.node) r.ops.insert(testing::op_key(n.domain, n.op_type));
  if (model.graph.node.size() != 1 || !kFrozenOps.count(model.graph.node[0].op_type)) return r;  // unclaimed
  const auto& node = model.graph.node[0];
  std::set<std::string> keep;
  for (std::size_t i = 0; i < node.input.size(); ++i)
    if (is_data_input(node.op_type, i)) keep.insert(node.input[i]);
  try {
    std::vector<fs::path> sets;
    for (const auto& e : fs::directory_iterator(dir))
      if (e.is_directory() && e.path().filename().string().rfind("test_data_set_", 0) == 0) sets.push_back(e.path());
    std::sort(sets.begin(), sets.end());
    for (const auto& set : sets) {
      onnx::ModelProto frozen = model;
      std::vector<onnx::ValueInfoProto> inputs;
      std::vector<Tensor> feeds;
      for (std::size_t i = 0; i < model.graph.input.size(); ++i) {
        onnx::TensorProto t = onnx::load_tensor(set / numbered("input_", i, ".pb"));
        const auto& vi = model.graph.input[i];
        if (keep.count(vi.name)) {
          inputs.push_back(vi);
          feeds.push_back(onnx::to_tensor(t));
        } else {
          t.name = vi.name;
          frozen.graph.initializer.push_back(std::move(t));
        }
      }
      frozen.graph.input = inputs;
      SessionOptions opts;
      opts.probe = false;
      const Session session(onnx::import_model(frozen), opts);
      const auto outs = session.run(feeds);
      for (std::size_t i = 0; i < outs.size(); ++i) {
        const Tensor want = onnx::to_tensor(onnx::load_tensor(set / numbered("output_", i, ".pb")));
        const std::string diff = testing::compare(want, outs[i]);
        if (!diff.empty()) {
          r.status = testing::CaseStatus::fail;
          r.detail = set.filename().string() + ": " + diff;
          return r;
        }
      }
    }
    r.status = testing::CaseStatus::pass;
  } catch (const std::exception& e) {
    r.status = testing::CaseStatus::fail;
    r.detail = e.what();
  }
  return r;
}

}  // namespace

TEST_CASE("ONNX conformance: QuantizeLinear, DequantizeLinear, ConvInteger, MatMulInteger") {
  const auto rep = testing::run_conformance(kRuntimeParamOps, kRuntimeParamOps);
  MESSAGE("quantized ops, passed / run:\n" << rep.summary());
  for (const auto* f : rep.failures()) FAIL_CHECK(f->name << ": " << f->detail);
  for (const auto& c : rep.cases)
    if (c.status == testing::CaseStatus::skipped) MESSAGE(c.name << " skipped: " << c.detail);
  for (const auto& op : kRuntimeParamOps) CHECK_MESSAGE(rep.per_op.count(op), "no conformance case ran ", op);
}

TEST_CASE("ONNX conformance: QLinearConv, QLinearMatMul (parameters frozen to initializers)") {
  std::vector<fs::path> dirs;
  for (const auto& e : fs::directory_iterator(testing::kConformanceDir))
    if (e.is_directory()) dirs.push_back(e.path());
  std::sort(dirs.begin(), dirs.end());
  std::map<std::string, std::pair<int, int>> per_op;
  for (const auto& d : dirs) {
    const auto r = run_frozen(d);
    if (r.status == testing::CaseStatus::unclaimed) continue;
    auto& t = per_op[*r.ops.begin()];
    ++t.second;
    if (r.status == testing::CaseStatus::pass)
      ++t.first;
    else
      FAIL_CHECK(r.name << ": " << r.detail);
  }
  std::ostringstream os;
  for (const auto& [op, t] : per_op) os << "  " << op << ": " << t.first << "/" << t.second << "\n";
  MESSAGE("frozen-parameter cases, passed / run:\n" << os.str());
  for (const auto& op : kFrozenOps) CHECK_MESSAGE(per_op.count(op), "no conformance case ran ", op);
}
