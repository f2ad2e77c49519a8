// ONNX node conformance for the float and tensor operators (tests/onnx/conformance.hpp).
//
// Every case whose ops are all claimed here runs; any failure fails the test, except the few
// listed in kExcluded, each with the reason and a piece of the error it must still fail with (so an
// exclusion cannot outlive its reason or hide a different failure).
#include <doctest/doctest.h>

#include <chrono>
#include <map>
#include <set>
#include <string>

#include "../onnx/conformance.hpp"

namespace {

const std::set<std::string> kClaimed = {
    "Add",
    "AveragePool",
    "BatchNormalization",
    "Cast",
    "Clip",
    "Concat",
    "Constant",
    "Conv",
    "Div",
    "Dropout",
    "Flatten",
    "Gather",
    "Gemm",
    "GlobalAveragePool",
    "GlobalMaxPool",
    "HardSigmoid",
    "HardSwish",
    "Identity",
    "LeakyRelu",
    "MatMul",
    "MaxPool",
    "Mul",
    "Pad",
    "Relu",
    "Reshape",
    "Shape",
    "Sigmoid",
    "Slice",
    "Softmax",
    "Squeeze",
    "Sub",
    "Tanh",
    "Transpose",
    "Unsqueeze",
};

struct Exclusion {
  const char* reason;
  const char* must_mention;  // a substring of the failure it must still produce
};

const std::map<std::string, Exclusion> kExcluded = {
    // Training only: the outputs are batch statistics and updated running means, not inference.
    {"test_batchnorm_epsilon_training_mode", {"training_mode = 1 is not supported", "training_mode"}},
    {"test_batchnorm_example_training_mode", {"training_mode = 1 is not supported", "training_mode"}},
    // Dropout in training mode with ratio > 0 draws random numbers.
    {"test_training_dropout", {"training mode draws random numbers", "training mode"}},
    {"test_training_dropout_default", {"training mode draws random numbers", "training mode"}},
    {"test_training_dropout_default_mask", {"training mode draws random numbers", "training mode"}},
    {"test_training_dropout_mask", {"training mode draws random numbers", "training mode"}},
    // MaxPool's Indices output is not supported (refused with a clear error).
    {"test_maxpool_with_argmax_2d_precomputed_pads", {"Indices output", "Indices"}},
    {"test_maxpool_with_argmax_2d_precomputed_strides", {"Indices output", "Indices"}},
    // 3-D windows: qnn's kernels are 1-D and 2-D.
    {"test_averagepool_3d_default", {"3-D windows are not supported", "spatial axes"}},
    {"test_maxpool_3d_default", {"3-D windows are not supported", "spatial axes"}},
    // ONNX 1.12's test data stores bfloat16 tensors as uint16, and made the expected bfloat16 values
    // by truncation; qnn's bfloat16 is a real type that rounds to nearest even (as ONNX >= 1.13,
    // PyTorch and ONNX Runtime do). Three of these the runner reports as skipped, because their error
    // ("must be bfloat16, got uint16") contains "float16".
    {"test_cast_BFLOAT16_to_FLOAT", {"bfloat16 data stored as uint16", "uint16"}},
    {"test_castlike_BFLOAT16_to_FLOAT_expanded", {"bfloat16 data stored as uint16", "uint16"}},
    {"test_cast_FLOAT_to_BFLOAT16", {"bfloat16 data stored as uint16, truncated", "uint16"}},
    {"test_castlike_FLOAT_to_BFLOAT16_expanded", {"bfloat16 data stored as uint16, truncated", "uint16"}},
    // Identity of an optional and of a sequence: qnn values are tensors only (the importer refuses).
    {"test_identity_opt", {"optional-typed graph input", "is not a tensor"}},
    {"test_identity_sequence", {"sequence-typed graph input", "is not a tensor"}},
};

}  // namespace

TEST_CASE("ONNX conformance: float and tensor operators") {
  namespace fs = std::filesystem;
  if (!fs::exists(qnn::testing::kConformanceDir)) {
    MESSAGE("ONNX conformance data not installed at ", qnn::testing::kConformanceDir.string(), "; skipped");
    return;
  }
  const auto t0 = std::chrono::steady_clock::now();
  const auto rep = qnn::testing::run_conformance(kClaimed, kClaimed);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  std::map<std::string, int> skipped;
  int n_run = 0, n_pass = 0, n_skip = 0;
  for (const auto& c : rep.cases) {
    if (c.status == qnn::testing::CaseStatus::skipped) {
      ++n_skip;
      for (const auto& op : c.ops) ++skipped[op];
    } else {
      ++n_run;
      n_pass += c.status == qnn::testing::CaseStatus::pass;
    }
  }
  std::string counts;
  for (const auto& [op, pr] : rep.per_op)
    counts += "  " + op + ": " + std::to_string(pr.first) + "/" + std::to_string(pr.second) + " passed" +
              (skipped.count(op) ? ", " + std::to_string(skipped[op]) + " skipped" : "") + "\n";
  MESSAGE("conformance: ", n_pass, "/", n_run, " run cases passed, ", n_skip, " skipped (unsupported dtypes), in ",
          secs, " s\n", counts);

  std::map<std::string, const qnn::testing::CaseResult*> by_name;
  for (const auto& c : rep.cases) by_name[c.name] = &c;
  for (const auto* f : rep.failures()) {
    if (kExcluded.count(f->name)) continue;
    FAIL_CHECK(f->name << ": " << f->detail);
  }
  // An excluded case must still not pass, and must fail for its stated reason.
  for (const auto& [name, ex] : kExcluded) {
    const auto it = by_name.find(name);
    INFO(name << " is excluded (" << std::string(ex.reason) << ")");
    REQUIRE(it != by_name.end());
    const auto& c = *it->second;
    INFO("status detail: " << c.detail);
    CHECK_MESSAGE(c.status != qnn::testing::CaseStatus::pass, "it passes now: remove the exclusion");
    if (c.status == qnn::testing::CaseStatus::fail) CHECK(c.detail.find(ex.must_mention) != std::string::npos);
  }
  CHECK(secs < 20.0);
}
