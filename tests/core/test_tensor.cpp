// Shapes, views, owning tensors and typed quantized views.
#include <doctest/doctest.h>

#include <array>
#include <cstdint>
#include <limits>

#include "qnn/core/tensor.hpp"

using namespace qnn;

TEST_CASE("shape: numel, axes, limits") {
  const Shape s{2, 3, 4};
  CHECK(s.rank() == 3);
  CHECK(s.numel() == 24);
  CHECK(s.dim(-1) == 4);
  CHECK(Shape{}.numel() == 1);
  CHECK(Shape{5, 0, 3}.numel() == 0);
  CHECK(s.str() == "[2,3,4]");
  CHECK_THROWS_WITH_AS(s.dim(3), doctest::Contains("axis 3 is out of range"), error);
  CHECK_THROWS_WITH_AS(Shape({1, -2}), doctest::Contains("negative dimension"), error);
  CHECK_THROWS_WITH_AS(Shape({1, 1, 1, 1, 1, 1, 1, 1, 1}), doctest::Contains("rank 9"), error);
  // A hostile header cannot produce a wrapped-around element count.
  const std::int64_t big = std::int64_t{1} << 40;
  CHECK_THROWS_WITH_AS(Shape({big, big}).numel(), doctest::Contains("more elements"), error);
  // ... nor, with a zero dimension, strides that overflow (found by fuzz_idx): the non-zero
  // dimensions must multiply within int64 wherever the zero is.
  CHECK_THROWS_WITH_AS(Shape({0, big, big}).numel(), doctest::Contains("more elements"), error);
  CHECK_THROWS_WITH_AS(Shape({big, 0, big}).numel(), doctest::Contains("more elements"), error);
  CHECK_THROWS_WITH_AS(Shape({big, big, 0}).numel(), doctest::Contains("more elements"), error);
  CHECK(Shape({0, big, 1 << 20}).numel() == 0);
  const auto st = contiguous_strides(s);
  CHECK(st[0] == 12);
  CHECK(st[1] == 4);
  CHECK(st[2] == 1);
}

TEST_CASE("tensor: storage is 64-byte aligned, zeroed and deep-copied") {
  Tensor t(DType::f32, Shape{3, 5});
  CHECK(reinterpret_cast<std::uintptr_t>(t.raw()) % 64 == 0);
  for (float v : t.span<float>()) CHECK(v == 0.0f);
  t.span<float>()[7] = 1.5f;
  Tensor copy = t;
  copy.span<float>()[7] = 2.0f;
  CHECK(t.span<float>()[7] == 1.5f);  // the original is untouched
  CHECK(t.bytes() == 60);
}

TEST_CASE("tensor: typed access is checked") {
  Tensor t = Tensor::from<std::int8_t>(Shape{2, 2}, {1, -2, 3, -4});
  CHECK(t.view<std::int8_t>()(1, 0) == 3);
  CHECK_THROWS_WITH_AS(t.view<std::uint8_t>(), doctest::Contains("holds int8, accessed as uint8"), error);
  CHECK_THROWS_WITH_AS(Tensor::from<float>(Shape{3}, {1.0f, 2.0f}), doctest::Contains("needs 3 values"), error);
  t.reshape(Shape{4});
  CHECK(t.view<std::int8_t>()(3) == -4);
  CHECK_THROWS_WITH_AS(t.reshape(Shape{5}), doctest::Contains("cannot reshape"), error);
  const Tensor s = Tensor::scalar(2.5f);
  CHECK(s.shape().rank() == 0);
  CHECK(s.span<float>()[0] == 2.5f);
}

TEST_CASE("view: permutation and NHWC addressing") {
  // NHWC storage of a 1×2×2×3 (N,C,H,W) tensor: element (c,h,w) lives at (h·3 + w)·2 + c.
  std::array<int, 12> nhwc{};
  for (int h = 0; h < 2; ++h)
    for (int w = 0; w < 3; ++w)
      for (int c = 0; c < 2; ++c) nhwc[static_cast<std::size_t>((h * 3 + w) * 2 + c)] = 100 * c + 10 * h + w;
  const auto v = nhwc_as_nchw(nhwc.data(), 1, 2, 2, 3);
  CHECK(v.shape() == Shape{1, 2, 2, 3});
  CHECK(v(0, 1, 1, 2) == 112);
  CHECK(v(0, 0, 1, 0) == 10);
  CHECK_FALSE(v.contiguous());
  CHECK_THROWS_WITH_AS(v.span(), doctest::Contains("not contiguous"), error);
}

TEST_CASE("tensor: quantization metadata is validated") {
  Tensor w(DType::i8, Shape{4, 3});
  QuantInfo q{DType::i8, 0, {0.1f, 0.2f, 0.3f, 0.4f}, {0, 0, 0, 0}};
  w.set_quant(q);
  CHECK(w.quant()->per_channel());
  QuantInfo wrong_count{DType::i8, 1, {0.1f, 0.2f}, {0, 0}};
  CHECK_THROWS_WITH_AS(w.set_quant(wrong_count), doctest::Contains("2 scales on axis 1 of extent 3"), error);
  QuantInfo wrong_type{DType::u8, -1, {0.1f}, {0}};
  CHECK_THROWS_WITH_AS(w.set_quant(wrong_type), doctest::Contains("uint8 on a int8 tensor"), error);
  QuantInfo negative_axis{DType::i8, -1, {0.5f}, {3}};
  Tensor a(DType::i8, Shape{2});
  a.set_quant(negative_axis);
  CHECK_FALSE(a.quant()->per_channel());
}

TEST_CASE("qview: a per-channel tensor cannot pass as per-tensor, nor int8 as uint8") {
  Tensor w(DType::i8, Shape{2, 3}, QuantInfo{DType::i8, 0, {0.5f, 0.25f}, {0, 0}});
  const Tensor& cw = w;
  CHECK_THROWS_WITH_AS(qview<PerTensor<std::int8_t>>(cw, "fc1.weight"),
                       doctest::Contains("fc1.weight: expected per-tensor quantization, got per-channel"), error);
  CHECK_THROWS_WITH_AS(qview<PerChannel<std::uint8_t>>(cw, "fc1.weight"),
                       doctest::Contains("expected uint8 quantization, got int8"), error);
  const auto v = qview<PerChannel<std::int8_t, float, Symmetry::symmetric>>(cw, "fc1.weight");
  CHECK(v.quant.scale_at(1) == 0.25f);
  CHECK(v.quant.zero_point_at(1) == 0);
  Tensor plain(DType::i8, Shape{2});
  const Tensor& cp = plain;
  CHECK_THROWS_WITH_AS(qview<PerTensor<std::int8_t>>(cp, "x"), doctest::Contains("x: tensor is not quantized"), error);
}
