// expect: conv2d: activations must be quantized per tensor
#include "qnn/qnn.hpp"

int main() {
  using namespace qnn;
  using W = PerChannel<std::int8_t, float, Symmetry::symmetric>;
  const W wq(0, {0.5f});
  const PerTensor<std::uint8_t> yq(0.1f, 0);
  Tensor w(DType::i8, Shape{1, 1, 1, 1});
  const QView<const std::int8_t, W> wv{w.view<std::int8_t>(), wq};
#ifdef QNN_EXPECT_COMPILE_ERROR
  const PerChannel<std::uint8_t> xq(1, {0.1f}, {0});  // a per-channel activation scheme
#else
  const PerTensor<std::uint8_t> xq(0.1f, 0);
#endif
  QuantizedConv2D<std::uint8_t, std::int8_t, std::uint8_t> conv(xq, wv, {}, yq, ConvOptions{});
  (void)conv;
}
