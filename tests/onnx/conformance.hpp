// Runs ONNX's node conformance cases (/usr/share/libonnx-testdata/data/node/<case>/model.onnx with
// test_data_set_*/input_*.pb -> output_*.pb) through qnn's importer and session.
//
// A case belongs to the ops its model uses. It is run when every one of them is claimed; it is then
// "skipped" only when its data uses a type qnn does not compute with (float16, double, strings...),
// which the importer reports by refusing the tensor. Anything else that goes wrong — an exception,
// a wrong value — is a failure. Float outputs compare with ONNX's backend-test tolerance
// (rtol 1e-3, atol 1e-7); integer and bool outputs must be equal.
#pragma once

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "qnn/onnx/import.hpp"
#include "qnn/onnx/proto.hpp"
#include "qnn/runtime/session.hpp"

namespace qnn::testing {

inline const std::filesystem::path kConformanceDir = "/usr/share/libonnx-testdata/data/node";

enum class CaseStatus { pass, fail, skipped, unclaimed };

struct CaseResult {
  std::string name;
  std::set<std::string> ops;  // "Conv", "com.microsoft.QGemm"
  CaseStatus status = CaseStatus::unclaimed;
  std::string detail;
};

inline std::string op_key(const std::string& domain, const std::string& op) {
  return domain.empty() || domain == "ai.onnx" ? op : domain + "." + op;
}

// The importer's refusals of data qnn does not compute with: element types (float16, double,
// string, ...) and non-tensor values (sequences, optionals).
inline bool unsupported_dtype_message(const std::string& what) {
  if (what.find("which qnn does not compute with") != std::string::npos ||
      what.find("which qnn does not support") != std::string::npos || what.find("is not a tensor") != std::string::npos)
    return true;
  for (const char* t : {"'float16", " float16", "(float16", "double", "string"}) {
    const auto at = what.find(t);
    if (at != std::string::npos && (at == 0 || what.compare(at, 2, "bf") != 0)) return true;
  }
  return false;
}

// Compares one output; returns "" when it matches, else a description of the first mismatch.
inline std::string compare(const Tensor& want, const Tensor& got) {
  if (want.dtype() != got.dtype()) return detail::cat("dtype ", got.dtype(), ", expected ", want.dtype());
  if (!(want.shape() == got.shape())) return detail::cat("shape ", got.shape(), ", expected ", want.shape());
  if (want.dtype() == DType::f32) {
    const auto w = want.span<float>();
    const auto g = got.span<float>();
    for (std::size_t i = 0; i < w.size(); ++i) {
      if (std::isnan(w[i]) && std::isnan(g[i])) continue;
      if (std::isinf(w[i]) && w[i] == g[i]) continue;
      if (!(std::fabs(g[i] - w[i]) <= 1e-7f + 1e-3f * std::fabs(w[i])))
        return detail::cat("element ", i, " is ", g[i], ", expected ", w[i]);
    }
    return "";
  }
  if (std::memcmp(want.raw(), got.raw(), want.bytes()) != 0) {
    const std::size_t es = size_of(want.dtype());
    for (std::size_t i = 0; i < want.bytes(); i += es)
      if (std::memcmp(want.raw() + i, got.raw() + i, es) != 0) return detail::cat("element ", i / es, " differs");
  }
  return "";
}

inline CaseResult run_case(const std::filesystem::path& dir, const std::set<std::string>& claimed) {
  CaseResult r;
  r.name = dir.filename().string();
  onnx::ModelProto model;
  try {
    model = onnx::load_model(dir / "model.onnx");
  } catch (const error& e) {
    r.status = CaseStatus::skipped;
    r.detail = e.what();
    return r;
  }
  for (const auto& n : model.graph.node) r.ops.insert(op_key(n.domain, n.op_type));
  for (const auto& op : r.ops)
    if (!claimed.count(op)) return r;  // unclaimed
  try {
    Graph g = onnx::import_model(model);
    SessionOptions opts;
    opts.probe = false;
    const Session session(std::move(g), opts);
    std::vector<std::filesystem::path> sets;
    for (const auto& e : std::filesystem::directory_iterator(dir))
      if (e.is_directory() && e.path().filename().string().rfind("test_data_set_", 0) == 0) sets.push_back(e.path());
    std::sort(sets.begin(), sets.end());
    for (const auto& set : sets) {
      std::vector<Tensor> ins;
      for (std::size_t i = 0; i < session.input_names().size(); ++i)
        ins.push_back(onnx::to_tensor(onnx::load_tensor(set / ("input_" + std::to_string(i) + ".pb"))));
      const auto outs = session.run(ins);
      for (std::size_t i = 0; i < outs.size(); ++i) {
        const auto file = set / ("output_" + std::to_string(i) + ".pb");
        if (!std::filesystem::exists(file)) continue;
        const Tensor want = onnx::to_tensor(onnx::load_tensor(file));
        const std::string diff = compare(want, outs[i]);
        if (!diff.empty()) {
          r.status = CaseStatus::fail;
          r.detail = detail::cat(set.filename().string(), " output ", i, ": ", diff);
          return r;
        }
      }
    }
    r.status = CaseStatus::pass;
  } catch (const error& e) {
    const std::string what = e.what();
    r.status = unsupported_dtype_message(what) ? CaseStatus::skipped : CaseStatus::fail;
    r.detail = what;
  } catch (const std::exception& e) {
    r.status = CaseStatus::fail;
    r.detail = std::string("non-qnn exception: ") + e.what();
  }
  return r;
}

struct ConformanceReport {
  std::vector<CaseResult> cases;
  std::map<std::string, std::pair<int, int>> per_op;  // op -> (passed, run)

  std::string summary() const {
    std::ostringstream os;
    for (const auto& [op, pr] : per_op) os << "  " << op << ": " << pr.first << "/" << pr.second << "\n";
    return os.str();
  }
  std::vector<const CaseResult*> failures() const {
    std::vector<const CaseResult*> f;
    for (const auto& c : cases)
      if (c.status == CaseStatus::fail) f.push_back(&c);
    return f;
  }
};

// Runs every case whose ops are all in `claimed` and tallies, for each claimed op in `report_ops`,
// passes over cases run.
inline ConformanceReport run_conformance(const std::set<std::string>& claimed, const std::set<std::string>& report_ops) {
  ConformanceReport rep;
  std::vector<std::filesystem::path> dirs;
  for (const auto& e : std::filesystem::directory_iterator(kConformanceDir))
    if (e.is_directory()) dirs.push_back(e.path());
  std::sort(dirs.begin(), dirs.end());
  for (const auto& d : dirs) {
    CaseResult r = run_case(d, claimed);
    if (r.status == CaseStatus::unclaimed) continue;
    for (const auto& op : r.ops) {
      if (!report_ops.count(op)) continue;
      auto& pr = rep.per_op[op];
      if (r.status == CaseStatus::pass) ++pr.first;
      if (r.status != CaseStatus::skipped) ++pr.second;
    }
    rep.cases.push_back(std::move(r));
  }
  return rep;
}

}  // namespace qnn::testing
