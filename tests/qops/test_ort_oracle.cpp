// ONNX Runtime as the oracle: tests/qops/make_ort_cases.py builds single-operator models, runs them
// with ONNX Runtime's CPU provider and writes inputs and ORT's outputs; every case must come out of
// qnn (session defaults: the onnx-float policy) bit for bit — integer and float outputs alike.
//
// The cases are generated at test time into a temporary directory with the project's virtual
// environment (QNN_SOURCE_DIR/.venv, which has onnx and onnxruntime). A missing environment is a
// failure with instructions, never a silent skip.
#include <doctest/doctest.h>

#include <unistd.h>

#include <bit>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "qnn/onnx/import.hpp"
#include "qnn/onnx/proto.hpp"
#include "qnn/runtime/session.hpp"

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

std::string read_text(const fs::path& p) {
  std::ifstream f(p);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// One element as text, for messages.
std::string element(const Tensor& t, std::int64_t i) {
  return visit_dtype(t.dtype(), [&](auto v) -> std::string {
    using T = decltype(v);
    if constexpr (std::same_as<T, bf16> || std::same_as<T, bool>) {
      return "?";
    } else {
      const T x = t.span<T>()[static_cast<std::size_t>(i)];
      if constexpr (std::same_as<T, float>)
        return detail::cat(x, " (0x", std::hex, std::bit_cast<std::uint32_t>(x), ")");
      else
        return std::to_string(static_cast<long long>(x));
    }
  });
}

bool same_element(const Tensor& a, const Tensor& b, std::int64_t i) {
  const std::size_t es = size_of(a.dtype());
  const auto* pa = a.raw() + static_cast<std::size_t>(i) * es;
  const auto* pb = b.raw() + static_cast<std::size_t>(i) * es;
  if (a.dtype() == DType::f32) {
    float x = 0, y = 0;
    std::memcpy(&x, pa, 4);
    std::memcpy(&y, pb, 4);
    if (x != x && y != y) return true;  // NaN against NaN
  }
  return std::memcmp(pa, pb, es) == 0;
}

struct Outcome {
  std::string op;
  bool exact = false;
  std::string detail;
};

Outcome run_case(const fs::path& dir) {
  Outcome o;
  const onnx::ModelProto model = onnx::load_model(dir / "model.onnx");
  REQUIRE(model.graph.node.size() == 1);
  const auto& node = model.graph.node[0];
  o.op = (node.domain.empty() ? "" : node.domain + ".") + node.op_type;
  try {
    SessionOptions opts;
    opts.probe = false;
    const Session session(onnx::import_model(model), opts);
    const fs::path set = dir / "test_data_set_0";
    std::vector<Tensor> ins;
    for (std::size_t i = 0; i < session.input_names().size(); ++i)
      ins.push_back(onnx::to_tensor(onnx::load_tensor(set / numbered("input_", i, ".pb"))));
    const auto outs = session.run(ins);
    for (std::size_t k = 0; k < outs.size(); ++k) {
      const Tensor want = onnx::to_tensor(onnx::load_tensor(set / numbered("output_", k, ".pb")));
      const Tensor& got = outs[k];
      if (want.dtype() != got.dtype() || !(want.shape() == got.shape())) {
        o.detail = detail::cat("output ", k, ": ", got.dtype(), got.shape(), ", ORT ", want.dtype(), want.shape());
        return o;
      }
      std::int64_t bad = 0, first = -1;
      for (std::int64_t i = 0; i < want.numel(); ++i)
        if (!same_element(want, got, i)) {
          if (first < 0) first = i;
          ++bad;
        }
      if (bad) {
        std::ostringstream os;
        os << "output " << k << ": " << bad << " of " << want.numel() << " elements differ; first at flat index "
           << first << ": qnn " << element(got, first) << ", ORT " << element(want, first);
        for (std::size_t i = 0; i < ins.size(); ++i)
          if (ins[i].numel() == want.numel())
            os << "; input " << i << " there = " << element(ins[i], first);
        o.detail = os.str();
        return o;
      }
    }
    o.exact = true;
  } catch (const std::exception& e) {
    o.detail = e.what();
  }
  return o;
}

}  // namespace

TEST_CASE("ONNX Runtime oracle: quantized operators are bit-exact") {
  const fs::path src = QNN_SOURCE_DIR;
  const fs::path python = src / ".venv" / "bin" / "python";
  const fs::path script = src / "tests" / "qops" / "make_ort_cases.py";
  REQUIRE_MESSAGE(fs::exists(python), "the ONNX Runtime oracle needs ", python.string(),
                  ". Create it with: cd ", src.string(),
                  " && python3 -m venv .venv && .venv/bin/pip install numpy onnx onnxruntime");
  const fs::path dir = fs::temp_directory_path() / numbered("qnn_ort_cases_", static_cast<std::size_t>(::getpid()), "");
  fs::remove_all(dir);
  fs::create_directories(dir);
  const std::string cmd = "'" + python.string() + "' '" + script.string() + "' '" + (dir / "cases").string() + "' > '" +
                          (dir / "log.txt").string() + "' 2>&1";
  const int rc = std::system(cmd.c_str());
  REQUIRE_MESSAGE(rc == 0, "make_ort_cases.py failed (", rc, "):\n", read_text(dir / "log.txt"),
                  "\nIs onnxruntime installed in ", python.string(), "?");
  MESSAGE(read_text(dir / "log.txt"));

  std::vector<fs::path> cases;
  for (const auto& e : fs::directory_iterator(dir / "cases"))
    if (e.is_directory()) cases.push_back(e.path());
  std::sort(cases.begin(), cases.end());
  CHECK(cases.size() >= 200);

  std::map<std::string, std::pair<int, int>> per_op;  // op -> (exact, cases)
  std::vector<std::string> failures;
  for (const auto& c : cases) {
    const Outcome o = run_case(c);
    auto& t = per_op[o.op];
    ++t.second;
    if (o.exact)
      ++t.first;
    else
      failures.push_back(c.filename().string() + ": " + o.detail);
  }
  std::ostringstream summary;
  summary << "ONNX Runtime oracle, exact / cases per operator:\n";
  for (const auto& [op, t] : per_op) summary << "  " << op << ": " << t.first << "/" << t.second << "\n";
  MESSAGE(summary.str());
  for (const auto& f : failures) FAIL_CHECK(f);
  CHECK(failures.empty());
  fs::remove_all(dir);
}
