// The dtype-generic tensor operators (runtime/ops/shape_ops.hpp, layout_ops.hpp): hand-checked
// one-node graphs, every dtype, dynamic batch, errors that name the node, and the PyTorch flatten
// chain Shape→Gather→Unsqueeze→Concat→Reshape run without any folding.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "ops_test_util.hpp"
#include "qnn/kernels/ref/cast.hpp"
#include "qnn/kernels/ref/pad.hpp"
#include "qnn/kernels/ref/slice.hpp"
#include "qnn/onnx/data_type.hpp"
#include "qnn/runtime/ops/shape_ops.hpp"
#include "qnn/runtime/session.hpp"

using namespace qnn_ops_test;
using doctest::Contains;
using qnn::bf16;
using qnn::Session;

namespace {

// Element i of a test tensor of type T: small integers, so every dtype holds them exactly.
template <class T>
T val(std::int64_t i) {
  if constexpr (std::same_as<T, bool>)
    return i % 2 == 1;
  else if constexpr (std::same_as<T, bf16>)
    return bf16(static_cast<float>(i % 100));
  else
    return static_cast<T>(i % 100);
}
template <class T>
Tensor numbered(const Shape& s) {
  Tensor t(qnn::dtype_of_v<T>, s);
  auto v = t.span<T>();
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = val<T>(static_cast<std::int64_t>(i));
  return t;
}
template <class T>
std::vector<std::int64_t> as_indices(const Tensor& t) {  // inverse of val<T> for i < 100
  std::vector<std::int64_t> out;
  for (T v : t.span<T>()) {
    if constexpr (std::same_as<T, bf16>)
      out.push_back(static_cast<std::int64_t>(v.to_float()));
    else
      out.push_back(static_cast<std::int64_t>(v));
  }
  return out;
}
// The expected indices as the dtype sees them (bool keeps only the parity).
template <class T>
std::vector<std::int64_t> want(std::vector<std::int64_t> idx) {
  for (auto& i : idx) i = as_indices<T>(Tensor::from<T>(Shape{1}, {val<T>(i)}))[0];
  return idx;
}

}  // namespace

// ---- shape functions ---------------------------------------------------------------------------

TEST_CASE("reshape_shape: 0, -1 and allowzero") {
  using qnn::ops::reshape_shape;
  const Shape in{2, 3, 4};
  const std::vector<std::int64_t> a{0, -1}, b{-1}, c{4, 0, 2}, d{0, 4, 6}, e{2, 0};
  CHECK(reshape_shape(in, a, false) == Shape{2, 12});
  CHECK(reshape_shape(in, b, false) == Shape{24});
  CHECK(reshape_shape(in, c, false) == Shape{4, 3, 2});
  CHECK_THROWS_WITH_AS(reshape_shape(in, d, true), Contains("cannot reshape"), qnn::error);
  CHECK(reshape_shape(Shape{0, 3}, e, true) == Shape{2, 0});
  const std::vector<std::int64_t> two_infer{-1, -1}, below{-2, 12}, beyond{0, 0, 0, 0}, zero_inf{0, -1};
  CHECK_THROWS_WITH_AS(reshape_shape(in, two_infer, false), Contains("more than one -1"), qnn::error);
  CHECK_THROWS_WITH_AS(reshape_shape(in, below, false), Contains("invalid extent -2"), qnn::error);
  CHECK_THROWS_WITH_AS(reshape_shape(in, beyond, false), Contains("does not have"), qnn::error);
  CHECK_THROWS_WITH_AS(reshape_shape(in, zero_inf, true), Contains("allowzero"), qnn::error);
  CHECK_THROWS_WITH_AS(reshape_shape(Shape{0, 3}, std::vector<std::int64_t>{0, -1}, false), Contains("infer"),
                       qnn::error);
}

TEST_CASE("flatten, squeeze, unsqueeze, shape ranges") {
  using namespace qnn::ops;
  CHECK(flatten_shape(Shape{2, 3, 4}, 0) == Shape{1, 24});
  CHECK(flatten_shape(Shape{2, 3, 4}, 3) == Shape{24, 1});
  CHECK(flatten_shape(Shape{2, 3, 4}, -1) == Shape{6, 4});
  CHECK_THROWS_AS(flatten_shape(Shape{2, 3}, 3), qnn::error);
  const std::vector<std::int64_t> ax{-1, 0};
  CHECK(squeeze_shape(Shape{1, 3, 1}, std::nullopt) == Shape{3});
  CHECK(squeeze_shape(Shape{1, 3, 1}, ax) == Shape{3});
  CHECK_THROWS_WITH_AS(squeeze_shape(Shape{1, 3, 1}, std::vector<std::int64_t>{1}), Contains("not 1"), qnn::error);
  CHECK(unsqueeze_shape(Shape{3, 4}, std::vector<std::int64_t>{3, 0}) == Shape{1, 3, 4, 1});
  CHECK(unsqueeze_shape(Shape{3, 4}, std::vector<std::int64_t>{-1}) == Shape{3, 4, 1});
  CHECK_THROWS_WITH_AS(unsqueeze_shape(Shape{3}, std::vector<std::int64_t>{0, 0}), Contains("repeated"), qnn::error);
  CHECK(shape_op_range(4, 1, -1) == std::pair{1, 3});
  CHECK(shape_op_range(4, -10, 10) == std::pair{0, 4});
  CHECK(shape_op_range(4, 3, 1) == std::pair{3, 3});
}

TEST_CASE("slice_range follows the ONNX clamping rules") {
  using qnn::ref::slice_range;
  constexpr auto big = std::numeric_limits<std::int64_t>::max();
  constexpr auto small = std::numeric_limits<std::int64_t>::min();
  auto check_range = [](qnn::ref::SliceRange r, std::int64_t start, std::int64_t count) {
    CHECK(r.start == start);
    CHECK(r.count == count);
  };
  check_range(slice_range(10, 1, 8, 3), 1, 3);     // 1, 4, 7
  check_range(slice_range(10, 0, big, 1), 0, 10);  // "to the end"
  check_range(slice_range(10, -3, big, 1), 7, 3);
  check_range(slice_range(10, -1, small, -1), 9, 10);  // reversed whole axis
  check_range(slice_range(10, 20, -20, -3), 9, 4);     // 9, 6, 3, 0
  check_range(slice_range(10, 5, 5, 1), 5, 0);
  check_range(slice_range(10, 2, 7, -1), 2, 0);
  check_range(slice_range(0, 0, 5, -1), 0, 0);
  check_range(slice_range(10, 0, 10, big), 0, 1);
  check_range(slice_range(10, 9, -big, small), 9, 1);
  CHECK_THROWS_WITH_AS(slice_range(10, 0, 1, 0), Contains("step"), qnn::error);
}

TEST_CASE("cast_value rules") {
  using qnn::ref::cast_value;
  CHECK(cast_value<std::int32_t>(-2.7f) == -2);
  CHECK(cast_value<std::int32_t>(2.7f) == 2);
  CHECK(cast_value<std::int8_t>(300.0f) == 127);
  CHECK(cast_value<std::uint8_t>(-5.0f) == 0);
  CHECK(cast_value<std::int64_t>(std::nanf("")) == 0);
  CHECK(cast_value<std::int64_t>(1e30f) == std::numeric_limits<std::int64_t>::max());
  CHECK(cast_value<std::int32_t>(std::numeric_limits<float>::infinity()) == std::numeric_limits<std::int32_t>::max());
  CHECK(cast_value<bool>(0.0f) == false);
  CHECK(cast_value<bool>(-0.5f) == true);
  CHECK(cast_value<bool>(std::nanf("")) == true);
  CHECK(cast_value<float>(true) == 1.0f);
  CHECK(cast_value<std::int8_t>(std::int64_t{300}) == 44);  // modulo 256
  CHECK(cast_value<std::uint8_t>(std::int32_t{-1}) == 255);
  CHECK(cast_value<bf16>(1.0f + 0x1p-8f).bits == bf16(1.0f).bits);                          // tie → even
  CHECK(cast_value<bf16>(1.0f + 0x1p-8f + 0x1p-10f).bits == bf16::from_bits(0x3f81).bits);  // above the tie
  CHECK(cast_value<float>(bf16::from_bits(0x3f81)) == 1.0078125f);
  CHECK(cast_value<std::int32_t>(bf16(-3.5f)) == -3);
}

// ---- dtype-generic data movement ---------------------------------------------------------------

TEST_CASE_TEMPLATE("data movement works on every dtype", T, float, bf16, std::int8_t, std::uint8_t, std::int16_t,
                   std::uint16_t, std::int32_t, std::int64_t, bool) {
  const DType dt = qnn::dtype_of_v<T>;
  const Tensor x = numbered<T>(Shape{2, 3, 4});

  SUBCASE("Transpose") {
    const Session s(GraphBuilder()
                        .input("x", dt, {2, 3, 4})
                        .node("Transpose", {"x"}, {"y"}, {{"perm", std::vector<std::int64_t>{2, 0, 1}}})
                        .output("y")
                        .graph());
    const auto y = run_checked(s, {x})[0];
    REQUIRE(y.shape() == Shape{4, 2, 3});
    const auto v = as_indices<T>(y);
    for (std::int64_t k = 0; k < 4; ++k)
      for (std::int64_t i = 0; i < 2; ++i)
        for (std::int64_t j = 0; j < 3; ++j)
          CHECK(v[static_cast<std::size_t>(k * 6 + i * 3 + j)] ==
                as_indices<T>(numbered<T>(Shape{24}))[static_cast<std::size_t>(i * 12 + j * 4 + k)]);
  }
  SUBCASE("Slice with a negative step") {
    const Session s(GraphBuilder()
                        .input("x", dt, {2, 3, 4})
                        .constant("st", ints({-1, 1}))
                        .constant("en", ints({std::numeric_limits<std::int64_t>::min(), 3}))
                        .constant("ax", ints({2, 1}))
                        .constant("sp", ints({-2, 1}))
                        .node("Slice", {"x", "st", "en", "ax", "sp"}, {"y"})
                        .output("y")
                        .graph());
    const auto y = run_checked(s, {x})[0];
    REQUIRE(y.shape() == Shape{2, 2, 2});
    // x[i, j, k] = 12i + 4j + k; rows j = 1, 2; columns k = 3, 1.
    CHECK(as_indices<T>(y) == want<T>({7, 5, 11, 9, 19, 17, 23, 21}));
  }
  SUBCASE("Gather along axis 1 with negative indices") {
    const Session s(GraphBuilder()
                        .input("x", dt, {2, 3, 4})
                        .constant("i", Tensor::from<std::int32_t>(Shape{2}, {-1, 0}))
                        .node("Gather", {"x", "i"}, {"y"}, {{"axis", std::int64_t{1}}})
                        .output("y")
                        .graph());
    const auto y = run_checked(s, {x})[0];
    REQUIRE(y.shape() == Shape{2, 2, 4});
    CHECK(as_indices<T>(y) == want<T>({8, 9, 10, 11, 0, 1, 2, 3, 20, 21, 22, 23, 12, 13, 14, 15}));
  }
  SUBCASE("Concat along the last axis") {
    const Session s(GraphBuilder()
                        .input("a", dt, {2, 3, 4})
                        .input("b", dt, {2, 3, 1})
                        .node("Concat", {"a", "b"}, {"y"}, {{"axis", std::int64_t{-1}}})
                        .output("y")
                        .graph());
    const auto y = run_checked(s, {x, numbered<T>(Shape{2, 3, 1})})[0];
    REQUIRE(y.shape() == Shape{2, 3, 5});
    const auto v = as_indices<T>(y);
    const std::vector<std::int64_t> got{v[4], v[9], v[29], v[25]};
    CHECK(got == want<T>({0, 1, 5, 20}));
  }
  SUBCASE("Pad, edge mode") {
    const Session s(GraphBuilder()
                        .input("x", dt, {2, 3, 4})
                        .constant("p", ints({0, 1, 0, 0, 0, 2}))
                        .node("Pad", {"x", "p"}, {"y"}, {{"mode", std::string("edge")}})
                        .output("y")
                        .graph());
    const auto y = run_checked(s, {x})[0];
    REQUIRE(y.shape() == Shape{2, 4, 6});
    const auto v = as_indices<T>(y);
    CHECK(std::vector<std::int64_t>(v.begin(), v.begin() + 12) == want<T>({0, 1, 2, 3, 3, 3, 0, 1, 2, 3, 3, 3}));
  }
  SUBCASE("Reshape, Flatten, Squeeze, Unsqueeze, Identity keep the bytes") {
    const Session s(GraphBuilder()
                        .input("x", dt, {2, 3, 4})
                        .constant("shape", ints({4, -1}))
                        .constant("axes", ints({0}))
                        .node("Reshape", {"x", "shape"}, {"r"})
                        .node("Flatten", {"r"}, {"f"}, {{"axis", std::int64_t{0}}})
                        .node("Squeeze", {"f", "axes"}, {"s"})
                        .node("Unsqueeze", {"s", "axes"}, {"u"})
                        .node("Identity", {"u"}, {"y"})
                        .output("y")
                        .graph(),
                    no_passes());
    const auto y = run_checked(s, {x})[0];
    CHECK(y.shape() == Shape{1, 24});
    CHECK(std::memcmp(y.raw(), x.raw(), x.bytes()) == 0);
  }
  SUBCASE("Cast to float and back") {
    const Session s(GraphBuilder()
                        .input("x", dt, {2, 3, 4})
                        .node("Cast", {"x"}, {"f"}, {{"to", std::int64_t{1}}})
                        .node("Cast", {"f"}, {"y"}, {{"to", static_cast<std::int64_t>(qnn::onnx::to_data_type(dt))}})
                        .output("f")
                        .output("y")
                        .graph());
    const auto out = run_checked(s, {x});
    CHECK(same_bytes(out[1], x));
    CHECK(out[0].span<float>()[3] == (std::same_as<T, bool> ? 1.0f : 3.0f));
  }
}

// ---- one op at a time --------------------------------------------------------------------------

TEST_CASE("Reshape: dynamic batch, computed shapes, allowzero, errors") {
  SUBCASE("0 keeps the batch, the same session runs batch 1 and 5") {
    const Session s(GraphBuilder()
                        .input("x", DType::f32, {-1, 3, 4})
                        .constant("shape", ints({0, -1}))
                        .node("Reshape", {"x", "shape"}, {"y"})
                        .output("y")
                        .graph());
    for (std::int64_t n : {1, 5, 1}) {
      const auto y = run_checked(s, {iota(Shape{n, 3, 4})})[0];
      CHECK(y.shape() == Shape{n, 12});
      CHECK(values<float>(y) == values<float>(iota(Shape{n * 12})));
    }
  }
  SUBCASE("the shape computed at run time") {
    const Session s(GraphBuilder()
                        .input("x", DType::f32, {2, 6})
                        .input("shape", DType::i64, {3})
                        .node("Reshape", {"x", "shape"}, {"y"})
                        .output("y")
                        .graph(),
                    no_probe());
    CHECK(run_checked(s, {iota(Shape{2, 6}), ints({3, 2, 2})})[0].shape() == Shape{3, 2, 2});
    CHECK(run_checked(s, {iota(Shape{2, 6}), ints({-1, 1, 1})})[0].shape() == Shape{12, 1, 1});
    CHECK_THROWS_WITH_AS(s.run({iota(Shape{2, 6}), ints({5, -1, 1})}), Contains("node 'n0' (Reshape)"), qnn::error);
  }
  SUBCASE("allowzero = 1 makes 0 an extent") {
    const Session s(GraphBuilder(14)
                        .input("x", DType::f32, {0, 4})
                        .constant("shape", ints({4, 0}))
                        .node("Reshape", {"x", "shape"}, {"y"}, {{"allowzero", std::int64_t{1}}})
                        .output("y")
                        .graph());
    CHECK(s.run({Tensor(DType::f32, Shape{0, 4})})[0].shape() == Shape{4, 0});
  }
  SUBCASE("errors at prepare time") {
    CHECK_THROWS_WITH_AS(Session(GraphBuilder()
                                     .input("x", DType::f32, {2, 6})
                                     .constant("shape", ints({-1, -1}))
                                     .node("Reshape", {"x", "shape"}, {"y"}, {}, "bad")
                                     .output("y")
                                     .graph()),
                         Contains("node 'bad' (Reshape): reshape: the target shape has more than one -1"), qnn::error);
    CHECK_THROWS_WITH_AS(Session(GraphBuilder()
                                     .input("x", DType::f32, {2, 6})
                                     .constant("shape", Tensor::from<float>(Shape{1}, {12.0f}))
                                     .node("Reshape", {"x", "shape"}, {"y"}, {}, "bad")
                                     .output("y")
                                     .graph()),
                         Contains("shape (input 1) is float32"), qnn::error);
    CHECK_THROWS_WITH_AS(Session(GraphBuilder()
                                     .input("x", DType::f32, {2, 6})
                                     .constant("shape", ints({12}))
                                     .node("Reshape", {"x", "shape"}, {"y"}, {{"foo", std::int64_t{1}}}, "bad")
                                     .output("y")
                                     .graph()),
                         Contains("attribute 'foo' is not supported"), qnn::error);
  }
}

TEST_CASE("Squeeze and Unsqueeze: axes as attribute (opset 11) and as input (opset 13)") {
  const Tensor x = iota(Shape{1, 3, 1});
  const Session s11(GraphBuilder(11)
                        .input("x", DType::f32, {1, 3, 1})
                        .node("Squeeze", {"x"}, {"s"}, {{"axes", std::vector<std::int64_t>{-1}}})
                        .node("Unsqueeze", {"s"}, {"y"}, {{"axes", std::vector<std::int64_t>{3, 1}}})
                        .output("s")
                        .output("y")
                        .graph());
  auto out = run_checked(s11, {x});
  CHECK(out[0].shape() == Shape{1, 3});
  CHECK(out[1].shape() == Shape{1, 1, 3, 1});
  const Session s13(GraphBuilder(13)
                        .input("x", DType::f32, {1, 3, 1})
                        .input("axes", DType::i64, {1})
                        .node("Squeeze", {"x"}, {"s"})
                        .node("Unsqueeze", {"s", "axes"}, {"y"})
                        .output("s")
                        .output("y")
                        .graph());
  out = run_checked(s13, {x, ints({-2})});
  CHECK(out[0].shape() == Shape{3});
  CHECK(out[1].shape() == Shape{1, 3});
  CHECK_THROWS_WITH_AS(s13.run({x, ints({5})}), Contains("out of range"), qnn::error);
  CHECK_THROWS_WITH_AS(
      Session(
          GraphBuilder(11).input("x", DType::f32, {1, 3}).node("Unsqueeze", {"x"}, {"y"}, {}, "u").output("y").graph()),
      Contains("node 'u' (Unsqueeze): attribute 'axes' is required"), qnn::error);
  CHECK_THROWS_WITH_AS(Session(GraphBuilder(13)
                                   .input("x", DType::f32, {2, 3})
                                   .constant("axes", ints({0}))
                                   .node("Squeeze", {"x", "axes"}, {"y"}, {}, "sq")
                                   .output("y")
                                   .graph()),
                       Contains("node 'sq' (Squeeze): squeeze: axis 0 of [2,3] has extent 2, not 1"), qnn::error);
}

TEST_CASE("Shape with start and end") {
  const Session s(GraphBuilder(15)
                      .input("x", DType::u8, {-1, 3, 4, 5})
                      .node("Shape", {"x"}, {"all"})
                      .node("Shape", {"x"}, {"mid"}, {{"start", std::int64_t{1}}, {"end", std::int64_t{-1}}})
                      .node("Shape", {"x"}, {"none"}, {{"start", std::int64_t{-1}}, {"end", std::int64_t{1}}})
                      .output("all")
                      .output("mid")
                      .output("none")
                      .graph());
  const auto out = run_checked(s, {Tensor(DType::u8, Shape{7, 3, 4, 5})});
  CHECK(values<std::int64_t>(out[0]) == std::vector<std::int64_t>{7, 3, 4, 5});
  CHECK(values<std::int64_t>(out[1]) == std::vector<std::int64_t>{3, 4});
  CHECK(out[2].shape() == Shape{0});
}

TEST_CASE("Dropout at inference") {
  const Tensor x = iota(Shape{2, 3});
  SUBCASE("opset 13: y = x, bool mask all true") {
    const Session s(GraphBuilder(13)
                        .input("x", DType::f32, {2, 3})
                        .constant("ratio", Tensor::scalar(0.3f))
                        .node("Dropout", {"x", "ratio"}, {"y", "mask"}, {{"seed", std::int64_t{3}}})
                        .output("y")
                        .output("mask")
                        .graph());
    const auto out = run_checked(s, {x});
    CHECK(same_bytes(out[0], x));
    REQUIRE(out[1].dtype() == DType::boolean);
    CHECK(values<bool>(out[1]) == std::vector<bool>(6, true));
  }
  SUBCASE("opset 7: the mask has the input's type") {
    const Session s(GraphBuilder(7)
                        .input("x", DType::f32, {2, 3})
                        .node("Dropout", {"x"}, {"y", "mask"}, {{"ratio", 0.2f}})
                        .output("y")
                        .output("mask")
                        .graph());
    const auto out = run_checked(s, {x});
    CHECK(same_bytes(out[0], x));
    CHECK(values<float>(out[1]) == std::vector<float>(6, 1.0f));
  }
  SUBCASE("training mode: refused unless the ratio is 0") {
    auto graph = [](float ratio) {
      return GraphBuilder(13)
          .input("x", DType::f32, {2, 3})
          .constant("ratio", Tensor::scalar(ratio))
          .constant("train", Tensor::scalar(true))
          .node("Dropout", {"x", "ratio", "train"}, {"y"}, {}, "drop")
          .output("y")
          .graph();
    };
    CHECK_THROWS_WITH_AS(Session(graph(0.5f)), Contains("node 'drop' (Dropout): Dropout in training mode"), qnn::error);
    CHECK(same_bytes(Session(graph(0.0f)).run({x})[0], x));
    // training_mode computed at run time
    const Session s(GraphBuilder(13)
                        .input("x", DType::f32, {2, 3})
                        .input("train", DType::boolean, {})
                        .node("Dropout", {"x", "", "train"}, {"y"}, {}, "drop")
                        .output("y")
                        .graph());
    CHECK(same_bytes(s.run({x, Tensor::scalar(false)})[0], x));
    CHECK_THROWS_WITH_AS(s.run({x, Tensor::scalar(true)}), Contains("node 'drop'"), qnn::error);
  }
}

TEST_CASE("Transpose: default perm reverses; a bad perm is refused") {
  const Session s(GraphBuilder().input("x", DType::f32, {2, 3}).node("Transpose", {"x"}, {"y"}).output("y").graph());
  const auto y = run_checked(s, {iota(Shape{2, 3})})[0];
  CHECK(y.shape() == Shape{3, 2});
  CHECK(values<float>(y) == std::vector<float>{0, 3, 1, 4, 2, 5});
  CHECK_THROWS_WITH_AS(Session(GraphBuilder()
                                   .input("x", DType::f32, {2, 3})
                                   .node("Transpose", {"x"}, {"y"}, {{"perm", std::vector<std::int64_t>{0, 0}}}, "t")
                                   .output("y")
                                   .graph()),
                       Contains("node 't' (Transpose): transpose: perm is not a permutation"), qnn::error);
  const Session s3(GraphBuilder()
                       .untyped_input("x")
                       .node("Transpose", {"x"}, {"y"}, {{"perm", std::vector<std::int64_t>{1, 0}}}, "t")
                       .output("y")
                       .graph());
  CHECK_THROWS_WITH_AS(s3.run({iota(Shape{2, 3, 1})}), Contains("node 't' (Transpose): perm has 2 entries"),
                       qnn::error);
}

TEST_CASE("Gather: int64 and 2-D indices, out-of-range index names the node") {
  const Session s(GraphBuilder()
                      .input("x", DType::f32, {3, 2})
                      .input("i", DType::i64, {2, 2})
                      .node("Gather", {"x", "i"}, {"y"}, {}, "g")
                      .output("y")
                      .graph());
  const auto y = run_checked(s, {iota(Shape{3, 2}), Tensor::from<std::int64_t>(Shape{2, 2}, {0, 1, -1, 1})})[0];
  CHECK(y.shape() == Shape{2, 2, 2});
  CHECK(values<float>(y) == std::vector<float>{0, 1, 2, 3, 4, 5, 2, 3});
  CHECK_THROWS_WITH_AS(s.run({iota(Shape{3, 2}), Tensor::from<std::int64_t>(Shape{2, 2}, {0, 3, 0, 0})}),
                       Contains("node 'g' (Gather): gather: index 3 is out of range for axis 0 of extent 3"),
                       qnn::error);
  // A scalar index drops the axis.
  const Session s0(GraphBuilder()
                       .input("x", DType::f32, {3, 2})
                       .constant("i", Tensor::scalar(std::int64_t{2}))
                       .node("Gather", {"x", "i"}, {"y"}, {{"axis", std::int64_t{0}}})
                       .output("y")
                       .graph());
  CHECK(values<float>(run_checked(s0, {iota(Shape{3, 2})})[0]) == std::vector<float>{4, 5});
}

TEST_CASE("Slice: opset 1 attributes, computed bounds, errors") {
  const Tensor x = iota(Shape{3, 4});
  const Session s1(
      GraphBuilder(1)
          .input("x", DType::f32, {3, 4})
          .node("Slice", {"x"}, {"y"},
                {{"starts", std::vector<std::int64_t>{1, 0}}, {"ends", std::vector<std::int64_t>{1000, -1}}})
          .output("y")
          .graph());
  auto y = run_checked(s1, {x})[0];
  CHECK(y.shape() == Shape{2, 3});
  CHECK(values<float>(y) == std::vector<float>{4, 5, 6, 8, 9, 10});
  const Session s13(GraphBuilder(13)
                        .input("x", DType::f32, {3, 4})
                        .untyped_input("st")
                        .untyped_input("en")
                        .node("Slice", {"x", "st", "en"}, {"y"}, {}, "sl")
                        .output("y")
                        .graph(),
                    no_probe());
  y = run_checked(s13, {x, Tensor::from<std::int32_t>(Shape{1}, {2}), Tensor::from<std::int32_t>(Shape{1}, {3})})[0];
  CHECK(values<float>(y) == std::vector<float>{8, 9, 10, 11});
  CHECK_THROWS_WITH_AS(
      s13.run({x, Tensor::from<std::int32_t>(Shape{1}, {0}), Tensor::from<std::int32_t>(Shape{2}, {1, 1})}),
      Contains("node 'sl' (Slice): slice has 1 starts but 2 ends"), qnn::error);
  CHECK_THROWS_WITH_AS(Session(GraphBuilder(13)
                                   .input("x", DType::f32, {3, 4})
                                   .constant("st", ints({0}))
                                   .constant("en", ints({1}))
                                   .constant("ax", ints({0}))
                                   .constant("sp", ints({0}))
                                   .node("Slice", {"x", "st", "en", "ax", "sp"}, {"y"}, {}, "sl")
                                   .output("y")
                                   .graph()),
                       Contains("node 'sl' (Slice): slice step must not be 0"), qnn::error);
}

TEST_CASE("Pad: modes, negative pads, opset 2 attributes, opset 18 axes") {
  const Tensor x = iota(Shape{1, 3}, 1.0f, 1.0f);  // 1 2 3
  auto pad = [&](const char* mode, std::initializer_list<std::int64_t> pads) {
    const Session s(GraphBuilder(13)
                        .input("x", DType::f32, {1, 3})
                        .constant("p", ints(pads))
                        .constant("v", Tensor::scalar(9.0f))
                        .node("Pad", {"x", "p", "v"}, {"y"}, {{"mode", std::string(mode)}})
                        .output("y")
                        .graph());
    return values<float>(run_checked(s, {x})[0]);
  };
  CHECK(pad("constant", {0, 2, 0, 1}) == std::vector<float>{9, 9, 1, 2, 3, 9});
  CHECK(pad("reflect", {0, 2, 0, 1}) == std::vector<float>{3, 2, 1, 2, 3, 2});
  CHECK(pad("reflect", {0, 5, 0, 0}) == std::vector<float>{2, 1, 2, 3, 2, 1, 2, 3});  // repeats like NumPy
  CHECK(pad("edge", {0, 2, 0, 1}) == std::vector<float>{1, 1, 1, 2, 3, 3});
  CHECK(pad("wrap", {0, 2, 0, 1}) == std::vector<float>{2, 3, 1, 2, 3, 1});
  CHECK(pad("constant", {0, -1, 0, 1}) == std::vector<float>{2, 3, 9});
  CHECK(pad("constant", {1, 0, 0, 0}) == std::vector<float>{9, 9, 9, 1, 2, 3});

  const Session s2(GraphBuilder(2)
                       .input("x", DType::i32, {1, 3})
                       .node("Pad", {"x"}, {"y"}, {{"pads", std::vector<std::int64_t>{0, 1, 0, 0}}, {"value", 7.0f}})
                       .output("y")
                       .graph());
  CHECK(values<std::int32_t>(s2.run({Tensor::from<std::int32_t>(Shape{1, 3}, {1, 2, 3})})[0]) ==
        std::vector<std::int32_t>{7, 1, 2, 3});
  const Session s18(GraphBuilder(18)
                        .input("x", DType::f32, {1, 3})
                        .constant("p", ints({1, 2}))
                        .constant("ax", ints({-1}))
                        .node("Pad", {"x", "p", "", "ax"}, {"y"})
                        .output("y")
                        .graph());
  CHECK(values<float>(s18.run({x})[0]) == std::vector<float>{0, 1, 2, 3, 0, 0});
  CHECK_THROWS_WITH_AS(Session(GraphBuilder(13)
                                   .input("x", DType::f32, {1, 3})
                                   .constant("p", ints({0, 0, 0, 0}))
                                   .node("Pad", {"x", "p"}, {"y"}, {{"mode", std::string("mirror")}}, "pd")
                                   .output("y")
                                   .graph()),
                       Contains("node 'pd' (Pad): pad mode 'mirror' is not one of"), qnn::error);
  const Session bad(GraphBuilder(13)
                        .input("x", DType::f32, {-1, 3})
                        .constant("p", ints({1, 0, 0, 0}))
                        .node("Pad", {"x", "p"}, {"y"}, {{"mode", std::string("reflect")}}, "pd")
                        .output("y")
                        .graph());
  CHECK_THROWS_WITH_AS(bad.run({iota(Shape{0, 3})}),
                       Contains("node 'pd' (Pad): pad: reflect padding of an empty axis 0"), qnn::error);
}

TEST_CASE("Concat: dtype and shape mismatches are errors") {
  const Session s(GraphBuilder()
                      .untyped_input("a")
                      .untyped_input("b")
                      .node("Concat", {"a", "b"}, {"y"}, {{"axis", std::int64_t{0}}}, "cat")
                      .output("y")
                      .graph());
  CHECK(values<float>(s.run({iota(Shape{1, 2}), iota(Shape{2, 2}, 1.0f, 10.0f)})[0]) ==
        std::vector<float>{0, 1, 10, 11, 12, 13});
  CHECK_THROWS_WITH_AS(s.run({iota(Shape{1, 2}), iota(Shape{1, 3})}), Contains("node 'cat' (Concat)"), qnn::error);
  CHECK_THROWS_WITH_AS(s.run({iota(Shape{1, 2}), ints({1, 2})}), Contains("node 'cat' (Concat): concat inputs"),
                       qnn::error);
  CHECK_THROWS_WITH_AS(
      Session(GraphBuilder().input("a", DType::f32, {1}).node("Concat", {"a"}, {"y"}, {}, "cat").output("y").graph()),
      Contains("required attribute 'axis' is missing"), qnn::error);
}

TEST_CASE("Cast: refuses types qnn does not compute with") {
  CHECK_THROWS_WITH_AS(Session(GraphBuilder()
                                   .input("x", DType::f32, {2})
                                   .node("Cast", {"x"}, {"y"}, {{"to", std::int64_t{11}}}, "c")
                                   .output("y")
                                   .graph()),
                       Contains("node 'c' (Cast): Cast to double (11), which qnn does not compute with"), qnn::error);
  const Session s(GraphBuilder()
                      .input("x", DType::f32, {4})
                      .node("Cast", {"x"}, {"y"}, {{"to", std::int64_t{3}}})
                      .output("y")
                      .graph());
  CHECK(values<std::int8_t>(s.run({tensor<float>(Shape{4}, {-1.5f, 2.9f, 1000.0f, -1000.0f})})[0]) ==
        std::vector<std::int8_t>{-1, 2, 127, -128});
}

// ---- the PyTorch flatten chain -----------------------------------------------------------------

TEST_CASE("PyTorch flatten chain Shape -> Gather -> Unsqueeze -> Concat -> Reshape runs unfolded") {
  // What torch.flatten(x, 1) exports as (opset 11 and 13 forms): y = Reshape(x, [N, -1]).
  for (std::int64_t opset : {11, 13}) {
    CAPTURE(opset);
    GraphBuilder b(opset);
    b.input("x", DType::f32, {-1, 2, 3, 2})
        .constant("zero", Tensor::scalar(std::int64_t{0}))
        .constant("minus_one", ints({-1}))
        .node("Shape", {"x"}, {"shape"})
        .node("Gather", {"shape", "zero"}, {"batch"}, {{"axis", std::int64_t{0}}});
    if (opset < 13) {
      b.node("Unsqueeze", {"batch"}, {"batch1"}, {{"axes", std::vector<std::int64_t>{0}}});
    } else {
      b.constant("axes", ints({0})).node("Unsqueeze", {"batch", "axes"}, {"batch1"});
    }
    b.node("Concat", {"batch1", "minus_one"}, {"target"}, {{"axis", std::int64_t{0}}})
        .node("Reshape", {"x", "target"}, {"y"})
        .output("y");
    // Unoptimized, all five kernels run; optimized, the session may fold the chain away.
    for (const auto& opts : {no_passes(), qnn::SessionOptions{}}) {
      const Session s(b.graph(), opts);
      if (!opts.optimize) CHECK(s.num_steps() == 5);
      for (std::int64_t n : {1, 5}) {
        const Tensor x = iota(Shape{n, 2, 3, 2});
        const auto y = run_checked(s, {x})[0];
        CHECK(y.shape() == Shape{n, 12});
        CHECK(values<float>(y) == values<float>(x));
      }
    }
  }
}
