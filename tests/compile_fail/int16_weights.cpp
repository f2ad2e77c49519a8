// expect: Int8Storage
// A16W8 means 16-bit activations with 8-bit weights: 16-bit weights do not compile.
#include "qnn/qnn.hpp"

int main() {
  using namespace qnn;
#ifdef QNN_EXPECT_COMPILE_ERROR
  using TW = std::int16_t;
#else
  using TW = std::int8_t;
#endif
  using W = PerTensor<TW>;
  Tensor w(dtype_of_v<TW>, Shape{1, 1, 1, 1});
  const QView<const TW, W> wv{w.view<TW>(), W(0.5f, 0)};
  QuantizedConv2D<std::int16_t, TW, std::int16_t> conv(PerTensor<std::int16_t>(0.1f, 0), wv, {},
                                                       PerTensor<std::int16_t>(0.1f, 0), ConvOptions{});
  (void)conv;
}
