// expect: the view's element type must be the scheme's storage type
#include "qnn/qnn.hpp"

int main() {
  using namespace qnn;
  Tensor x(DType::i8, Shape{4});
#ifdef QNN_EXPECT_COMPILE_ERROR
  const QView<const std::int8_t, PerTensor<std::uint8_t>> v{x.view<std::int8_t>(), PerTensor<std::uint8_t>(0.5f, 0)};
#else
  const QView<const std::int8_t, PerTensor<std::int8_t>> v{x.view<std::int8_t>(), PerTensor<std::int8_t>(0.5f, 0)};
#endif
  (void)v;
}
