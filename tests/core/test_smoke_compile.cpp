#include <doctest/doctest.h>

#include "qnn/qnn.hpp"

using namespace qnn;

TEST_CASE("smoke: a quantized conv and gemm run end to end") {
  Tensor x = Tensor::from<std::uint8_t>(Shape{1, 1, 3, 3}, {1, 2, 3, 4, 5, 6, 7, 8, 9});
  Tensor w = Tensor::from<std::int8_t>(Shape{2, 1, 2, 2}, {1, 0, 0, 1, -1, 0, 0, 1});
  Tensor y(DType::u8, Shape{1, 2, 2, 2});
  PerTensor<std::uint8_t> xq(0.5f, 0);
  PerChannel<std::int8_t, float, Symmetry::symmetric> wq(0, {1.0f, 1.0f});
  PerTensor<std::uint8_t> yq(0.5f, 10);
  const std::vector<std::int32_t> bias{0, 0};
  ConvOptions opt;
  conv2d(QView<const std::uint8_t, PerTensor<std::uint8_t>>{x.view<std::uint8_t>(), xq},
         QView<const std::int8_t, decltype(wq)>{w.view<std::int8_t>(), wq}, bias,
         QView<std::uint8_t, PerTensor<std::uint8_t>>{y.view<std::uint8_t>(), yq}, opt);
  // channel 0: x[i][j] + x[i+1][j+1]; channel 1: x[i+1][j+1] − x[i][j]; y = acc·(0.5·1/0.5) + 10
  const std::vector<std::uint8_t> expect{16, 18, 22, 24, 14, 14, 14, 14};
  auto got = y.span<std::uint8_t>();
  CHECK(std::vector<std::uint8_t>(got.begin(), got.end()) == expect);

  for (RequantPolicy p : {RequantPolicy::onnx_float, RequantPolicy::tflite_double_round,
                          RequantPolicy::tflite_single_round}) {
    GemmOptions go;
    go.policy = p;
    go.trans_b = true;
    Tensor a = Tensor::from<std::int8_t>(Shape{1, 2}, {3, -4});
    Tensor b = Tensor::from<std::int8_t>(Shape{1, 2}, {2, 1});
    Tensor c(DType::i8, Shape{1, 1});
    PerTensor<std::int8_t> aq(1.0f, 0), cq(1.0f, 0);
    PerTensor<std::int8_t, float, Symmetry::symmetric> bq(1.0f);
    QuantizedGemm<std::int8_t, std::int8_t, std::int8_t> g(aq, QView<const std::int8_t, decltype(bq)>{b.view<std::int8_t>(), bq},
                                                           {}, cq, go);
    g.run(a.view<std::int8_t>(), c.view<std::int8_t>());
    CHECK(c.span<std::int8_t>()[0] == 2);
  }
}
