// expect: QuantStorage
// int32 is an accumulator type, not a quantized storage type.
#include "qnn/qnn.hpp"

int main() {
#ifdef QNN_EXPECT_COMPILE_ERROR
  using T = std::int32_t;
#else
  using T = std::int16_t;
#endif
  const qnn::PerTensor<T> q(0.5f, 0);
  (void)q;
}
