// The unquantized operators (runtime/ops/float_nn.hpp, float_linear.hpp, float_eltwise.hpp):
// hand-checked one-node graphs, every preparation path (constant weights, run-time weights, auto_pad
// sizes, folded and unfolded Gemm C, bf16 precision, fused activations), dynamic batch, and errors
// that name the node.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "ops_test_util.hpp"
#include "qnn/runtime/session.hpp"

using namespace qnn_ops_test;
using doctest::Contains;
using qnn::bf16;
using qnn::Session;

namespace {

const float kNaN = std::numeric_limits<float>::quiet_NaN();

qnn::SessionOptions bf16_precision() {
  qnn::SessionOptions o;
  o.precision = qnn::Precision::bf16;
  return o;
}

// One node `op` reading graph input x (dims as given) and the named constants; output y.
Session one_node(const std::string& op, std::vector<std::int64_t> x_dims,
                 std::vector<std::pair<std::string, Tensor>> consts, std::vector<std::string> wiring,
                 std::initializer_list<std::pair<const char*, qnn::AttributeValue>> attrs = {}, std::int64_t opset = 17,
                 qnn::SessionOptions opts = {}) {
  GraphBuilder b(opset);
  b.input("x", DType::f32, std::move(x_dims));
  for (auto& [n, t] : consts) b.constant(n, t);
  b.node(op, std::move(wiring), {"y"}, attrs, "node").output("y");
  return Session(b.graph(), opts);
}

}  // namespace

// ---- Conv ----------------------------------------------------------------------------------------

TEST_CASE("Conv: hand-checked 2-D, 1-D and depthwise") {
  const Tensor w = tensor<float>(Shape{1, 1, 2, 2}, {1, 2, 3, 4});
  const Tensor b = tensor<float>(Shape{1}, {10});
  SUBCASE("valid window with bias") {
    const auto s = one_node("Conv", {1, 1, 3, 3}, {{"w", w}, {"b", b}}, {"x", "w", "b"});
    check_close(run_checked(s, {iota(Shape{1, 1, 3, 3})})[0], {37, 47, 67, 77});
  }
  SUBCASE("pads and strides") {
    const auto s = one_node("Conv", {1, 1, 3, 3}, {{"w", w}, {"b", b}}, {"x", "w", "b"},
                            {{"pads", std::vector<std::int64_t>{1, 1, 1, 1}},
                             {"strides", std::vector<std::int64_t>{2, 2}},
                             {"kernel_shape", std::vector<std::int64_t>{2, 2}}});
    check_close(run_checked(s, {iota(Shape{1, 1, 3, 3})})[0], {10, 21, 40, 77});
  }
  SUBCASE("1-D") {
    const auto s = one_node("Conv", {1, 1, 5}, {{"w", tensor<float>(Shape{1, 1, 3}, {1, 0, -1})}}, {"x", "w"},
                            {{"pads", std::vector<std::int64_t>{1, 1}}});
    const auto y = run_checked(s, {iota(Shape{1, 1, 5})})[0];
    CHECK(y.shape() == Shape{1, 1, 5});
    check_close(y, {-1, -2, -2, -2, 3});
  }
  SUBCASE("depthwise: group = channels") {
    const auto s = one_node("Conv", {1, 2, 2, 2}, {{"w", tensor<float>(Shape{2, 1, 1, 1}, {2, 3})}}, {"x", "w"},
                            {{"group", std::int64_t{2}}});
    check_close(run_checked(s, {iota(Shape{1, 2, 2, 2})})[0], {0, 2, 4, 6, 12, 15, 18, 21});
  }
  SUBCASE("dynamic batch: one session, batch 1 and 5") {
    const auto s = one_node("Conv", {-1, 1, 3, 3}, {{"w", tensor<float>(Shape{1, 1, 2, 2}, {1, 1, 1, 1})}}, {"x", "w"});
    for (std::int64_t n : {1, 5}) {
      std::vector<float> x, want;
      for (std::int64_t i = 0; i < n; ++i) {
        for (int k = 0; k < 9; ++k) x.push_back(static_cast<float>(k + 100 * i));
        for (float base : {8.0f, 12.0f, 20.0f, 24.0f}) want.push_back(base + 400.0f * static_cast<float>(i));
      }
      const auto y = run_checked(s, {tensor<float>(Shape{n, 1, 3, 3}, x)})[0];
      CHECK(y.shape() == Shape{n, 1, 2, 2});
      check_close(y, want);
    }
  }
}

TEST_CASE("Conv: run-time weights, auto_pad sizes and the prepared layer agree") {
  std::vector<float> wv(2 * 2 * 3 * 3);
  for (std::size_t i = 0; i < wv.size(); ++i) wv[i] = static_cast<float>((static_cast<int>(i) * 7) % 5) - 2.0f;
  const Tensor w = tensor<float>(Shape{2, 2, 3, 3}, wv);
  const Tensor b = tensor<float>(Shape{2}, {0.5f, -1.0f});
  for (std::int64_t hw : {5, 6}) {
    CAPTURE(hw);
    const Tensor x = iota(Shape{1, 2, hw, hw}, 0.25f, -3.0f);
    // SAME_UPPER, kernel 3, stride 2: total padding 2 (5) or 1 (6), the odd one at the end.
    const std::vector<std::int64_t> pads =
        hw == 5 ? std::vector<std::int64_t>{1, 1, 1, 1} : std::vector<std::int64_t>{0, 0, 1, 1};
    const auto explicit_pads = one_node("Conv", {1, 2, hw, hw}, {{"w", w}, {"b", b}}, {"x", "w", "b"},
                                        {{"pads", pads}, {"strides", std::vector<std::int64_t>{2, 2}}});
    const auto want = explicit_pads.run({x})[0];
    const auto same_static =
        one_node("Conv", {1, 2, hw, hw}, {{"w", w}, {"b", b}}, {"x", "w", "b"},
                 {{"auto_pad", std::string("SAME_UPPER")}, {"strides", std::vector<std::int64_t>{2, 2}}});
    const auto same_dynamic =
        one_node("Conv", {1, 2, -1, -1}, {{"w", w}, {"b", b}}, {"x", "w", "b"},
                 {{"auto_pad", std::string("SAME_UPPER")}, {"strides", std::vector<std::int64_t>{2, 2}}});
    CHECK(same_bytes(run_checked(same_static, {x})[0], want));
    CHECK(same_bytes(run_checked(same_dynamic, {x})[0], want));
    const Session runtime_w(
        GraphBuilder()
            .input("x", DType::f32, {1, 2, hw, hw})
            .input("w", DType::f32, {2, 2, 3, 3})
            .input("b", DType::f32, {2})
            .node("Conv", {"x", "w", "b"}, {"y"}, {{"pads", pads}, {"strides", std::vector<std::int64_t>{2, 2}}})
            .output("y")
            .graph());
    CHECK(same_bytes(run_checked(runtime_w, {x, w, b})[0], want));
  }
  // The session prepared for one size runs another one too (dims declared dynamic, the first run
  // 5x5 then 6x6 through the same kernel).
  const auto s = one_node("Conv", {1, 2, -1, -1}, {{"w", w}}, {"x", "w"}, {{"auto_pad", std::string("SAME_LOWER")}});
  for (std::int64_t hw : {5, 6, 5})
    CHECK(run_checked(s, {iota(Shape{1, 2, hw, hw})})[0].shape() == Shape{1, 2, hw, hw});
}

TEST_CASE("Conv: fused activation attributes and bf16 precision") {
  const Tensor w = tensor<float>(Shape{1, 1, 1, 1}, {-1});
  const auto relu = one_node("Conv", {1, 1, 1, 3}, {{"w", w}}, {"x", "w"}, {{"qnn_activation", std::string("relu")}},
                             17, no_passes());
  check_close(relu.run({tensor<float>(Shape{1, 1, 1, 3}, {-2, 0, 3})})[0], {2, 0, 0});
  const auto clip = one_node("Conv", {1, 1, 1, 3}, {{"w", w}}, {"x", "w"},
                             {{"qnn_activation", std::string("clip")}, {"qnn_clip_min", -1.0f}, {"qnn_clip_max", 1.5f}},
                             17, no_passes());
  check_close(clip.run({tensor<float>(Shape{1, 1, 1, 3}, {-2, 0, 3})})[0], {1.5f, 0, -1});
  CHECK_THROWS_WITH_AS(
      one_node("Conv", {1, 1, 1, 3}, {{"w", w}}, {"x", "w"}, {{"qnn_activation", std::string("gelu")}}),
      Contains("node 'node' (Conv): attribute qnn_activation 'gelu' is not one of relu, clip"), qnn::error);

  // 1 + 2^-9 is not a bfloat16: rounded to 1 in the input and in the weight.
  const float v = 1.0f + 0x1p-9f;
  const Tensor wv = tensor<float>(Shape{1, 1, 1, 1}, {v});
  const Tensor x = tensor<float>(Shape{1, 1, 1, 1}, {v});
  CHECK(one_node("Conv", {1, 1, 1, 1}, {{"w", wv}}, {"x", "w"}).run({x})[0].span<float>()[0] == v * v);
  CHECK(
      one_node("Conv", {1, 1, 1, 1}, {{"w", wv}}, {"x", "w"}, {}, 17, bf16_precision()).run({x})[0].span<float>()[0] ==
      1.0f);
}

TEST_CASE("Conv: errors name the node") {
  const Tensor w = tensor<float>(Shape{1, 1, 2, 2}, {1, 2, 3, 4});
  // (Dims all dynamic: the session's batch-1 dry run with 1x1 images would already refuse it.)
  const auto s = one_node("Conv", {-1, -1, -1, -1}, {{"w", w}}, {"x", "w"}, {}, 17, no_probe());
  CHECK_THROWS_WITH_AS(s.run({iota(Shape{1, 2, 3, 3})}),
                       Contains("node 'node' (Conv): weight has 1 input channels per group"), qnn::error);
  CHECK_THROWS_WITH_AS(one_node("Conv", {1, 1, 3, 3}, {{"w", w}}, {"x", "w"}, {{"group", std::int64_t{0}}}),
                       Contains("node 'node' (Conv): group 0 must be positive"), qnn::error);
  CHECK_THROWS_WITH_AS(
      one_node("Conv", {1, 1, 3, 3}, {{"w", w}}, {"x", "w"}, {{"kernel_shape", std::vector<std::int64_t>{3, 3}}}),
      Contains("kernel_shape 3x3 differs from the weights"), qnn::error);
  CHECK_THROWS_WITH_AS(one_node("Conv", {1, 1, 3, 3, 3}, {{"w", tensor<float>(Shape{1, 1, 1, 1, 1}, {1})}}, {"x", "w"}),
                       Contains("only 1-D and 2-D windows are supported"), qnn::error);
  CHECK_THROWS_WITH_AS(
      one_node("Conv", {1, 1, 3, 3}, {{"w", Tensor::from<std::int8_t>(Shape{1, 1, 1, 1}, {1})}}, {"x", "w"}),
      Contains("node 'node' (Conv): Conv input is int8"), qnn::error);
  CHECK_THROWS_WITH_AS(one_node("Conv", {1, 1, 3, 3}, {{"w", w}}, {"x", "w"}, {{"auto_pad", std::string("SAME")}}),
                       Contains("auto_pad 'SAME' is not one of"), qnn::error);
}

// ---- BatchNormalization and pooling --------------------------------------------------------------

TEST_CASE("BatchNormalization: inference formula, any rank; training refused") {
  const std::vector<std::pair<std::string, Tensor>> params{{"s", tensor<float>(Shape{2}, {1, 2})},
                                                           {"b", tensor<float>(Shape{2}, {0, 1})},
                                                           {"m", tensor<float>(Shape{2}, {1, 2})},
                                                           {"v", tensor<float>(Shape{2}, {3, 3})}};
  const std::vector<std::string> wiring{"x", "s", "b", "m", "v"};
  for (const auto& opts : {no_passes(), qnn::SessionOptions{}}) {
    const auto s2 = one_node("BatchNormalization", {-1, 2}, params, wiring, {{"epsilon", 1.0f}}, 15, opts);
    check_close(run_checked(s2, {tensor<float>(Shape{2, 2}, {1, 2, 5, 6})})[0], {0, 1, 2, 5});
    const auto s4 = one_node("BatchNormalization", {1, 2, 1, 2}, params, wiring, {{"epsilon", 1.0f}}, 15, opts);
    check_close(run_checked(s4, {tensor<float>(Shape{1, 2, 1, 2}, {1, 5, 2, 6})})[0], {0, 2, 1, 5});
  }
  CHECK_THROWS_WITH_AS(one_node("BatchNormalization", {1, 2}, params, wiring, {{"training_mode", std::int64_t{1}}}, 15),
                       Contains("node 'node' (BatchNormalization): training_mode = 1 is not supported"), qnn::error);
  GraphBuilder g(9);
  g.input("x", DType::f32, {1, 2});
  for (auto& [n, t] : params) g.constant(n, t);
  g.node("BatchNormalization", wiring, {"y", "mean_out"}, {}, "bn").output("y").output("mean_out");
  CHECK_THROWS_WITH_AS(Session(g.graph()), Contains("node 'bn' (BatchNormalization): output 1 (running statistics)"),
                       qnn::error);
  const auto s = one_node("BatchNormalization", {-1, -1}, params, wiring, {}, 15, no_probe());
  CHECK_THROWS_WITH_AS(s.run({iota(Shape{1, 3})}),
                       Contains("node 'node' (BatchNormalization): scale (input 1) must have shape [3]"), qnn::error);
}

TEST_CASE("MaxPool and AveragePool: pads, strides, ceil mode, 1-D, uint8") {
  const Tensor x = iota(Shape{1, 1, 3, 3});
  const std::initializer_list<std::pair<const char*, qnn::AttributeValue>> k2 = {
      {"kernel_shape", std::vector<std::int64_t>{2, 2}}};
  check_close(run_checked(one_node("MaxPool", {1, 1, 3, 3}, {}, {"x"}, k2), {x})[0], {4, 5, 7, 8});
  const std::initializer_list<std::pair<const char*, qnn::AttributeValue>> padded = {
      {"kernel_shape", std::vector<std::int64_t>{2, 2}},
      {"pads", std::vector<std::int64_t>{1, 1, 1, 1}},
      {"strides", std::vector<std::int64_t>{2, 2}}};
  check_close(run_checked(one_node("MaxPool", {1, 1, 3, 3}, {}, {"x"}, padded), {x})[0], {0, 2, 6, 8});
  check_close(run_checked(one_node("AveragePool", {1, 1, 3, 3}, {}, {"x"}, padded), {x})[0], {0, 1.5f, 4.5f, 6});
  const auto incl = one_node("AveragePool", {1, 1, 3, 3}, {}, {"x"},
                             {{"kernel_shape", std::vector<std::int64_t>{2, 2}},
                              {"pads", std::vector<std::int64_t>{1, 1, 1, 1}},
                              {"strides", std::vector<std::int64_t>{2, 2}},
                              {"count_include_pad", std::int64_t{1}}});
  check_close(run_checked(incl, {x})[0], {0, 0.75f, 2.25f, 6});
  const auto floor =
      one_node("MaxPool", {1, 1, 3, 3}, {}, {"x"},
               {{"kernel_shape", std::vector<std::int64_t>{2, 2}}, {"strides", std::vector<std::int64_t>{2, 2}}});
  check_close(run_checked(floor, {x})[0], {4});
  const auto ceil = one_node("MaxPool", {1, 1, 3, 3}, {}, {"x"},
                             {{"kernel_shape", std::vector<std::int64_t>{2, 2}},
                              {"strides", std::vector<std::int64_t>{2, 2}},
                              {"ceil_mode", std::int64_t{1}}});
  check_close(run_checked(ceil, {x})[0], {4, 5, 7, 8});

  const Tensor x1 = tensor<float>(Shape{1, 1, 5}, {3, 1, 4, 1, 5});
  const auto p1 = one_node("MaxPool", {-1, 1, 5}, {}, {"x"},
                           {{"kernel_shape", std::vector<std::int64_t>{2}},
                            {"strides", std::vector<std::int64_t>{2}},
                            {"ceil_mode", std::int64_t{1}}});
  const auto y1 = run_checked(p1, {x1})[0];
  CHECK(y1.shape() == Shape{1, 1, 3});
  check_close(y1, {3, 4, 5});

  const Session u8(GraphBuilder(12)
                       .input("x", DType::u8, {1, 1, 2, 2})
                       .node("MaxPool", {"x"}, {"y"}, {{"kernel_shape", std::vector<std::int64_t>{2, 2}}})
                       .output("y")
                       .graph());
  CHECK(values<std::uint8_t>(u8.run({Tensor::from<std::uint8_t>(Shape{1, 1, 2, 2}, {7, 250, 3, 9})})[0]) ==
        std::vector<std::uint8_t>{250});
}

TEST_CASE("pooling errors") {
  GraphBuilder g;
  g.input("x", DType::f32, {1, 1, 3, 3})
      .node("MaxPool", {"x"}, {"y", "idx"}, {{"kernel_shape", std::vector<std::int64_t>{2, 2}}}, "mp");
  g.output("y").output("idx");
  CHECK_THROWS_WITH_AS(Session(g.graph()),
                       Contains("node 'mp' (MaxPool): the Indices output of MaxPool is not supported"), qnn::error);
  CHECK_THROWS_WITH_AS(
      one_node("MaxPool", {1, 1, 3, 3}, {}, {"x"},
               {{"kernel_shape", std::vector<std::int64_t>{2, 2}}, {"storage_order", std::int64_t{1}}}),
      Contains("storage_order = 1 is not supported"), qnn::error);
  CHECK_THROWS_WITH_AS(one_node("AveragePool", {1, 1, 3, 3}, {}, {"x"}), Contains("kernel_shape is required"),
                       qnn::error);
  const auto s = one_node("AveragePool", {-1, -1, -1, -1}, {}, {"x"},
                          {{"kernel_shape", std::vector<std::int64_t>{4, 4}}}, 17, no_probe());
  CHECK_THROWS_WITH_AS(s.run({iota(Shape{1, 1, 3, 3})}),
                       Contains("node 'node' (AveragePool): window of extent 4 does not fit"), qnn::error);
  const Session any_rank(GraphBuilder()
                             .untyped_input("x")
                             .node("MaxPool", {"x"}, {"y"}, {{"kernel_shape", std::vector<std::int64_t>{2, 2}}}, "mp")
                             .output("y")
                             .graph());
  CHECK_THROWS_WITH_AS(
      any_rank.run({iota(Shape{1, 1, 5})}),
      Contains(
          "node 'mp' (MaxPool): the node is 2-D (by its weights or window attributes) but the input [1,1,5] is 1-D"),
      qnn::error);
}

TEST_CASE("GlobalAveragePool and GlobalMaxPool over ranks 3, 4, 5") {
  const auto avg = one_node("GlobalAveragePool", {-1, -1, -1, -1}, {}, {"x"});
  const auto mx = one_node("GlobalMaxPool", {-1, -1, -1, -1}, {}, {"x"});
  auto y = run_checked(avg, {iota(Shape{1, 2, 2, 2})})[0];
  CHECK(y.shape() == Shape{1, 2, 1, 1});
  check_close(y, {1.5f, 5.5f});
  check_close(run_checked(mx, {iota(Shape{1, 2, 2, 2})})[0], {3, 7});
  y = run_checked(mx, {iota(Shape{5, 2, 2, 2})})[0];  // the same session, batch 5
  CHECK(y.shape() == Shape{5, 2, 1, 1});
  check_close(y, {3, 7, 11, 15, 19, 23, 27, 31, 35, 39});
  const Session any_rank(GraphBuilder().untyped_input("x").node("GlobalAveragePool", {"x"}, {"y"}).output("y").graph());
  y = any_rank.run({iota(Shape{1, 2, 3})})[0];
  CHECK(y.shape() == Shape{1, 2, 1});
  check_close(y, {1, 4});
  y = any_rank.run({iota(Shape{1, 1, 2, 1, 2})})[0];
  CHECK(y.shape() == Shape{1, 1, 1, 1, 1});
  check_close(y, {1.5f});
  CHECK_THROWS_WITH_AS(any_rank.run({iota(Shape{2, 2})}), Contains("must be N x C x D1"), qnn::error);
}

// ---- Gemm and MatMul -------------------------------------------------------------------------------

TEST_CASE("Gemm: every way of running it gives α·A·B + β·C") {
  const Tensor a = tensor<float>(Shape{2, 3}, {1, 2, 3, 4, 5, 6});
  const Tensor at = tensor<float>(Shape{3, 2}, {1, 4, 2, 5, 3, 6});
  const Tensor b = tensor<float>(Shape{3, 2}, {1, 0, 0, 1, 1, 1});
  const Tensor bt = tensor<float>(Shape{2, 3}, {1, 0, 1, 0, 1, 1});
  const Tensor c_row = tensor<float>(Shape{1, 2}, {10, 20});
  const std::vector<float> want{13, 20, 25, 32};  // 2·[[4,5],[10,11]] + 0.5·[10,20]
  const std::initializer_list<std::pair<const char*, qnn::AttributeValue>> ab = {{"alpha", 2.0f}, {"beta", 0.5f}};

  SUBCASE("constant B and C: alpha and beta folded") {
    check_close(run_checked(one_node("Gemm", {2, 3}, {{"b", b}, {"c", c_row}}, {"x", "b", "c"}, ab), {a})[0], want);
  }
  SUBCASE("transposed operands") {
    const auto s =
        one_node("Gemm", {3, 2}, {{"b", bt}, {"c", c_row}}, {"x", "b", "c"},
                 {{"alpha", 2.0f}, {"beta", 0.5f}, {"transA", std::int64_t{1}}, {"transB", std::int64_t{1}}});
    check_close(run_checked(s, {at})[0], want);
  }
  SUBCASE("C that varies along M is added after the product") {
    const Tensor c_full = tensor<float>(Shape{2, 2}, {10, 20, 10, 20});
    const Tensor c_col = tensor<float>(Shape{2, 1}, {10, 30});
    check_close(run_checked(one_node("Gemm", {2, 3}, {{"b", b}, {"c", c_full}}, {"x", "b", "c"}, ab), {a})[0], want);
    check_close(run_checked(one_node("Gemm", {2, 3}, {{"b", b}, {"c", c_col}}, {"x", "b", "c"}, ab), {a})[0],
                {13, 15, 35, 37});
  }
  SUBCASE("scalar C, no C") {
    check_close(
        run_checked(one_node("Gemm", {2, 3}, {{"b", b}, {"c", Tensor::scalar(4.0f)}}, {"x", "b", "c"}, ab), {a})[0],
        {10, 12, 22, 24});
    check_close(run_checked(one_node("Gemm", {2, 3}, {{"b", b}}, {"x", "b"}, ab), {a})[0], {8, 10, 20, 22});
  }
  SUBCASE("B and C computed at run time") {
    const Session s(
        GraphBuilder()
            .input("a", DType::f32, {3, 2})
            .input("b", DType::f32, {2, 3})
            .input("c", DType::f32, {1, 2})
            .node("Gemm", {"a", "b", "c"}, {"y"},
                  {{"alpha", 2.0f}, {"beta", 0.5f}, {"transA", std::int64_t{1}}, {"transB", std::int64_t{1}}})
            .output("y")
            .graph());
    check_close(run_checked(s, {at, bt, c_row})[0], want);
  }
  SUBCASE("dynamic batch") {
    const auto s = one_node("Gemm", {-1, 3}, {{"b", b}, {"c", c_row}}, {"x", "b", "c"}, ab);
    for (std::int64_t n : {1, 5}) {
      std::vector<float> x, w;
      for (std::int64_t i = 0; i < n; ++i) {
        x.insert(x.end(), {1, 2, 3});
        w.insert(w.end(), {13, 20});
      }
      const auto y = run_checked(s, {tensor<float>(Shape{n, 3}, x)})[0];
      CHECK(y.shape() == Shape{n, 2});
      check_close(y, w);
    }
  }
}

TEST_CASE("Gemm: fused ReLU clamps after C; bf16 precision; errors") {
  const Tensor a = tensor<float>(Shape{2, 3}, {1, 2, 3, 4, 5, 6});
  const Tensor b = tensor<float>(Shape{3, 2}, {1, 0, 0, 1, 1, 1});  // A·B = [[4,5],[10,11]]
  const std::initializer_list<std::pair<const char*, qnn::AttributeValue>> relu = {
      {"qnn_activation", std::string("relu")}};
  check_close(one_node("Gemm", {2, 3}, {{"b", b}, {"c", tensor<float>(Shape{2, 2}, {-100, 0, 0, 0})}}, {"x", "b", "c"},
                       relu, 17, no_passes())
                  .run({a})[0],
              {0, 5, 10, 11});
  check_close(one_node("Gemm", {2, 3}, {{"b", b}, {"c", tensor<float>(Shape{2}, {-100, 0})}}, {"x", "b", "c"}, relu, 17,
                       no_passes())
                  .run({a})[0],
              {0, 5, 0, 11});
  // The same through the fusion pass: Gemm followed by Relu.
  const Session fused(GraphBuilder()
                          .input("x", DType::f32, {2, 3})
                          .constant("b", b)
                          .constant("c", tensor<float>(Shape{2, 2}, {-100, 0, 0, 0}))
                          .node("Gemm", {"x", "b", "c"}, {"t"})
                          .node("Relu", {"t"}, {"y"})
                          .output("y")
                          .graph());
  check_close(fused.run({a})[0], {0, 5, 10, 11});

  const float v = 1.0f + 0x1p-9f;
  const Tensor one = tensor<float>(Shape{1, 1}, {v});
  CHECK(one_node("Gemm", {1, 1}, {{"b", one}}, {"x", "b"}).run({one})[0].span<float>()[0] == v * v);
  CHECK(one_node("Gemm", {1, 1}, {{"b", one}}, {"x", "b"}, {}, 17, bf16_precision()).run({one})[0].span<float>()[0] ==
        1.0f);

  const auto s = one_node("Gemm", {-1, -1}, {{"b", b}}, {"x", "b"}, {}, 17, no_probe());
  CHECK_THROWS_WITH_AS(s.run({iota(Shape{2, 4})}),
                       Contains("node 'node' (Gemm): A (input 0) [2,4] has K = 4, the weights have K = 3"), qnn::error);
  const Session any_rank(
      GraphBuilder().untyped_input("x").constant("b", b).node("Gemm", {"x", "b"}, {"y"}, {}, "g").output("y").graph());
  CHECK_THROWS_WITH_AS(any_rank.run({iota(Shape{2, 3, 1})}), Contains("node 'g' (Gemm): A (input 0) must be 2-D"),
                       qnn::error);
  CHECK_THROWS_WITH_AS(one_node("Gemm", {2, 3}, {{"b", iota(Shape{1, 3, 2})}}, {"x", "b"}),
                       Contains("node 'node' (Gemm): B (input 1) must be 2-D"), qnn::error);
  CHECK_THROWS_WITH_AS(one_node("Gemm", {2, 3}, {{"b", b}, {"c", iota(Shape{3})}}, {"x", "b", "c"}),
                       Contains("cannot broadcast [3] to [2,2]"), qnn::error);
}

TEST_CASE("MatMul: NumPy semantics, constant and run-time B") {
  const Tensor b = tensor<float>(Shape{3, 2}, {1, 0, 0, 1, 1, 1});
  SUBCASE("constant 2-D B, A of rank 1, 2 and 3") {
    const Session s(
        GraphBuilder().untyped_input("x").constant("b", b).node("MatMul", {"x", "b"}, {"y"}).output("y").graph());
    auto y = run_checked(s, {tensor<float>(Shape{2, 3}, {1, 2, 3, 4, 5, 6})})[0];
    CHECK(y.shape() == Shape{2, 2});
    check_close(y, {4, 5, 10, 11});
    y = run_checked(s, {tensor<float>(Shape{3}, {1, 2, 3})})[0];
    CHECK(y.shape() == Shape{2});
    check_close(y, {4, 5});
    y = run_checked(s, {iota(Shape{2, 2, 3}, 1.0f, 1.0f)})[0];
    CHECK(y.shape() == Shape{2, 2, 2});
    check_close(y, {4, 5, 10, 11, 16, 17, 22, 23});
    CHECK_THROWS_WITH_AS(s.run({iota(Shape{2, 4})}), Contains("has K = 4"), qnn::error);
  }
  SUBCASE("run-time B: 1-D operands and batch broadcasting") {
    const Session s(GraphBuilder()
                        .untyped_input("a")
                        .untyped_input("b")
                        .node("MatMul", {"a", "b"}, {"y"}, {}, "mm")
                        .output("y")
                        .graph());
    auto y = run_checked(s, {tensor<float>(Shape{2, 3}, {1, 2, 3, 4, 5, 6}), tensor<float>(Shape{3}, {1, 1, 1})})[0];
    CHECK(y.shape() == Shape{2});
    check_close(y, {6, 15});
    {
      // A scalar result. (Through the run() that takes outputs, primed with a tensor of another shape:
      // the convenience run() hands a default Tensor — f32, shape [], no storage — to the output copy,
      // which then sees a matching scalar and writes through a null pointer.)
      qnn::RunContext ctx;
      std::vector<Tensor> outs{Tensor(DType::f32, Shape{1})};
      const std::vector<Tensor> in{tensor<float>(Shape{3}, {1, 2, 3}), tensor<float>(Shape{3}, {1, 2, 3})};
      s.run(ctx, in, outs);
      CHECK(outs[0].shape() == Shape{});
      check_close(outs[0], {14});
    }
    // [2,1,1,2] x [3,2,1] -> [2,3,1,1]: B[j] = [[j+1],[1]].
    y = run_checked(
        s, {tensor<float>(Shape{2, 1, 1, 2}, {1, 2, 3, 4}), tensor<float>(Shape{3, 2, 1}, {1, 1, 2, 1, 3, 1})})[0];
    CHECK(y.shape() == Shape{2, 3, 1, 1});
    check_close(y, {3, 4, 5, 7, 10, 13});
    CHECK_THROWS_WITH_AS(s.run({iota(Shape{2, 3}), iota(Shape{2, 3})}),
                         Contains("node 'mm' (MatMul): matmul: inner dimensions differ"), qnn::error);
    CHECK_THROWS_WITH_AS(s.run({iota(Shape{2, 3}), ints({1, 2, 3})}), Contains("B (input 1) is int64"), qnn::error);
  }
  SUBCASE("bf16 precision and a fused clip") {
    const float v = 1.0f + 0x1p-9f;
    const Tensor one = tensor<float>(Shape{1, 1}, {v});
    CHECK(
        one_node("MatMul", {1, 1}, {{"b", one}}, {"x", "b"}, {}, 17, bf16_precision()).run({one})[0].span<float>()[0] ==
        1.0f);
    const auto clip = one_node(
        "MatMul", {2, 3}, {{"b", b}}, {"x", "b"},
        {{"qnn_activation", std::string("clip")}, {"qnn_clip_min", 4.5f}, {"qnn_clip_max", 10.5f}}, 17, no_passes());
    check_close(clip.run({tensor<float>(Shape{2, 3}, {1, 2, 3, 4, 5, 6})})[0], {4.5f, 5, 10, 10.5f});
  }
}

// ---- element-wise ------------------------------------------------------------------------------

TEST_CASE("Add, Sub, Mul, Div: float broadcasting, integer rules") {
  auto binary = [](const char* op, DType t, qnn::SessionOptions o = {}) {
    return Session(GraphBuilder()
                       .input("a", t, {-1, -1})
                       .input("b", t, {-1})
                       .node(op, {"a", "b"}, {"y"}, {}, "op")
                       .output("y")
                       .graph(),
                   o);
  };
  const Tensor a = tensor<float>(Shape{2, 3}, {1, 2, 3, 4, 5, 6});
  const Tensor b = tensor<float>(Shape{3}, {1, 2, 4});
  check_close(run_checked(binary("Add", DType::f32), {a, b})[0], {2, 4, 7, 5, 7, 10});
  check_close(run_checked(binary("Sub", DType::f32), {a, b})[0], {0, 0, -1, 3, 3, 2});
  check_close(run_checked(binary("Mul", DType::f32), {a, b})[0], {1, 4, 12, 4, 10, 24});
  check_close(run_checked(binary("Div", DType::f32), {a, b})[0], {1, 1, 0.75f, 4, 2.5f, 1.5f});

  const auto div32 = binary("Div", DType::i32, no_probe());
  CHECK(values<std::int32_t>(run_checked(div32, {Tensor::from<std::int32_t>(Shape{1, 4}, {-7, 7, -7, 7}),
                                                 Tensor::from<std::int32_t>(Shape{4}, {2, 2, -2, -2})})[0]) ==
        std::vector<std::int32_t>{-3, 3, 3, -3});
  CHECK_THROWS_WITH_AS(
      div32.run({Tensor::from<std::int32_t>(Shape{1, 1}, {1}), Tensor::from<std::int32_t>(Shape{1}, {0})}),
      Contains("node 'op' (Div): integer division by zero"), qnn::error);
  const auto div8 = binary("Div", DType::i8, no_probe());
  CHECK(values<std::int8_t>(
            div8.run({Tensor::from<std::int8_t>(Shape{1, 1}, {-128}), Tensor::from<std::int8_t>(Shape{1}, {-1})})[0]) ==
        std::vector<std::int8_t>{-128});
  CHECK(values<std::uint8_t>(binary("Add", DType::u8)
                                 .run({Tensor::from<std::uint8_t>(Shape{1, 2}, {200, 1}),
                                       Tensor::from<std::uint8_t>(Shape{2}, {100, 2})})[0]) ==
        std::vector<std::uint8_t>{44, 3});
  CHECK(values<std::int8_t>(binary("Mul", DType::i8)
                                .run({Tensor::from<std::int8_t>(Shape{1, 1}, {100}),
                                      Tensor::from<std::int8_t>(Shape{1}, {3})})[0]) == std::vector<std::int8_t>{44});
  CHECK(values<std::int64_t>(
            binary("Sub", DType::i64)
                .run({Tensor::from<std::int64_t>(Shape{1, 1}, {std::numeric_limits<std::int64_t>::min()}),
                      ints({1})})[0]) == std::vector<std::int64_t>{std::numeric_limits<std::int64_t>::max()});
  // bf16: the fp32 sum rounded to nearest even (1 + 2^-8 is a tie between 1 and 1 + 2^-7).
  const auto add16 = binary("Add", DType::bf16);
  CHECK(add16.run({Tensor::from<bf16>(Shape{1, 1}, {bf16(1.0f)}), Tensor::from<bf16>(Shape{1}, {bf16(0x1p-8f)})})[0]
            .span<bf16>()[0] == bf16(1.0f));

  CHECK_THROWS_WITH_AS(binary("Add", DType::boolean), Contains("node 'op' (Add): A (input 0) is bool"), qnn::error);
  CHECK_THROWS_WITH_AS(Session(GraphBuilder()
                                   .input("a", DType::f32, {2})
                                   .input("b", DType::i32, {2})
                                   .node("Add", {"a", "b"}, {"y"}, {}, "op")
                                   .output("y")
                                   .graph()),
                       Contains("node 'op' (Add): inputs 0 and 1 have different dtypes"), qnn::error);
  CHECK_THROWS_WITH_AS(binary("Add", DType::f32).run({iota(Shape{2, 3}), iota(Shape{2})}),
                       Contains("node 'op' (Add): shapes [2,3] and [2] do not broadcast"), qnn::error);
}

TEST_CASE("activations") {
  auto act = [](const char* op, std::initializer_list<std::pair<const char*, qnn::AttributeValue>> attrs = {}) {
    return one_node(op, {-1}, {}, {"x"}, attrs);
  };
  const Tensor x = tensor<float>(Shape{5}, {-4, -1, 0, 1, 4});
  check_close(run_checked(act("Relu"), {x})[0], {0, 0, 0, 1, 4});
  check_close(act("Relu").run({tensor<float>(Shape{1}, {kNaN})})[0], {kNaN});
  check_close(run_checked(act("LeakyRelu", {{"alpha", 0.5f}}), {x})[0], {-2, -0.5f, 0, 1, 4});
  check_close(run_checked(act("HardSigmoid", {{"alpha", 0.5f}, {"beta", 0.25f}}), {x})[0], {0, 0, 0.25f, 0.75f, 1});
  check_close(run_checked(act("HardSwish"), {x})[0], {0, -1.0f / 3.0f, 0, 2.0f / 3.0f, 4}, 1e-6f);
  std::vector<float> sig, th;
  for (float v : {-4.0f, -1.0f, 0.0f, 1.0f, 4.0f}) {
    sig.push_back(1.0f / (1.0f + std::exp(-v)));
    th.push_back(std::tanh(v));
  }
  check_close(run_checked(act("Sigmoid"), {x})[0], sig, 1e-6f);
  check_close(run_checked(act("Tanh"), {x})[0], th, 1e-6f);

  const Session relu_i32(GraphBuilder(14).input("x", DType::i32, {2}).node("Relu", {"x"}, {"y"}).output("y").graph());
  CHECK(values<std::int32_t>(relu_i32.run({Tensor::from<std::int32_t>(Shape{2}, {-(1 << 30), (1 << 30) + 1})})[0]) ==
        std::vector<std::int32_t>{0, (1 << 30) + 1});
  const Session relu_bf16(GraphBuilder().input("x", DType::bf16, {2}).node("Relu", {"x"}, {"y"}).output("y").graph());
  CHECK(relu_bf16.run({Tensor::from<bf16>(Shape{2}, {bf16(-1.0f), bf16(3.0f)})})[0].span<bf16>()[1] == bf16(3.0f));
  CHECK_THROWS_WITH_AS(
      Session(GraphBuilder().input("x", DType::u8, {2}).node("Relu", {"x"}, {"y"}, {}, "r").output("y").graph()),
      Contains("node 'r' (Relu): X (input 0) is uint8"), qnn::error);
  CHECK_THROWS_WITH_AS(
      Session(GraphBuilder().input("x", DType::i32, {2}).node("Sigmoid", {"x"}, {"y"}, {}, "s").output("y").graph()),
      Contains("node 's' (Sigmoid): X (input 0) is int32; supported: float32, bfloat16"), qnn::error);
}

TEST_CASE("Clip: attributes, optional inputs, integers") {
  const Tensor x = tensor<float>(Shape{3}, {-2, 0.5f, 2});
  check_close(run_checked(one_node("Clip", {3}, {}, {"x"}, {{"min", -1.0f}, {"max", 1.0f}}, 6), {x})[0], {-1, 0.5f, 1});
  check_close(run_checked(one_node("Clip", {3}, {{"hi", Tensor::scalar(1.0f)}}, {"x", "", "hi"}, {}, 13), {x})[0],
              {-2, 0.5f, 1});
  check_close(run_checked(one_node("Clip", {3}, {}, {"x"}, {}, 13), {x})[0], {-2, 0.5f, 2});
  const Session i8(GraphBuilder(13)
                       .input("x", DType::i8, {3})
                       .constant("lo", Tensor::scalar(std::int8_t{-5}))
                       .constant("hi", Tensor::scalar(std::int8_t{5}))
                       .node("Clip", {"x", "lo", "hi"}, {"y"})
                       .output("y")
                       .graph());
  CHECK(values<std::int8_t>(i8.run({Tensor::from<std::int8_t>(Shape{3}, {-128, 3, 127})})[0]) ==
        std::vector<std::int8_t>{-5, 3, 5});
  const Session i64(GraphBuilder(13)
                        .input("x", DType::i64, {2})
                        .constant("lo", Tensor::scalar(std::int64_t{(1LL << 40) + 1}))
                        .node("Clip", {"x", "lo"}, {"y"})
                        .output("y")
                        .graph());
  CHECK(values<std::int64_t>(i64.run({ints({0, (1LL << 40) + 3})})[0]) ==
        std::vector<std::int64_t>{(1LL << 40) + 1, (1LL << 40) + 3});
  CHECK_THROWS_WITH_AS(one_node("Clip", {3}, {}, {"x"}, {{"min", 2.0f}, {"max", 1.0f}}, 6),
                       Contains("node 'node' (Clip): Clip min 2 is above max 1"), qnn::error);
  const auto s = one_node("Clip", {3}, {{"lo", Tensor::scalar(3.0f)}, {"hi", Tensor::scalar(1.0f)}}, {"x", "lo", "hi"},
                          {}, 13, no_probe());
  CHECK_THROWS_WITH_AS(s.run({x}), Contains("node 'node' (Clip): Clip min 3 is above max 1"), qnn::error);
  CHECK_THROWS_WITH_AS(one_node("Clip", {3}, {{"lo", Tensor::scalar(std::int32_t{0})}}, {"x", "lo"}, {}, 13),
                       Contains("inputs 0 and 1 have different dtypes"), qnn::error);
}

TEST_CASE("Softmax: opset 13 per axis, opset < 13 coerced to 2-D") {
  const float l3 = std::log(3.0f);
  const Tensor x = tensor<float>(Shape{1, 2, 2}, {0, l3, 0, 0});
  check_close(run_checked(one_node("Softmax", {1, 2, 2}, {}, {"x"}, {}, 13), {x})[0], {0.25f, 0.75f, 0.5f, 0.5f},
              1e-6f);
  check_close(run_checked(one_node("Softmax", {1, 2, 2}, {}, {"x"}, {{"axis", std::int64_t{1}}}, 13), {x})[0],
              {0.5f, 0.75f, 0.5f, 0.25f}, 1e-6f);
  check_close(run_checked(one_node("Softmax", {1, 2, 2}, {}, {"x"}, {}, 11), {x})[0],
              {1.0f / 6.0f, 0.5f, 1.0f / 6.0f, 1.0f / 6.0f}, 1e-6f);
  check_close(run_checked(one_node("Softmax", {1, 2, 2}, {}, {"x"}, {{"axis", std::int64_t{2}}}, 11), {x})[0],
              {0.25f, 0.75f, 0.5f, 0.5f}, 1e-6f);
  // Large inputs do not overflow.
  check_close(one_node("Softmax", {2}, {}, {"x"}, {}, 13).run({tensor<float>(Shape{2}, {1000, 1000})})[0],
              {0.5f, 0.5f});
  CHECK_THROWS_WITH_AS(one_node("Softmax", {-1, -1, -1}, {}, {"x"}, {{"axis", std::int64_t{3}}}, 13),
                       Contains("node 'node' (Softmax): axis 3 is out of range for an input of rank 3"), qnn::error);
  const Session any_rank(GraphBuilder(13)
                             .untyped_input("x")
                             .node("Softmax", {"x"}, {"y"}, {{"axis", std::int64_t{3}}}, "sm")
                             .output("y")
                             .graph());
  CHECK_THROWS_WITH_AS(any_rank.run({x}), Contains("node 'sm' (Softmax): axis 3 is out of range for rank 3"),
                       qnn::error);
}
