// expect: Int8Storage
// The 256-entry activation table exists only for 8-bit data; int16 input does not compile there.
#include "qnn/qnn.hpp"

int main() {
#ifdef QNN_EXPECT_COMPILE_ERROR
  using TIn = std::int16_t;
#else
  using TIn = std::int8_t;
#endif
  const qnn::ref::ActivationTable<TIn, std::int8_t> table(qnn::ref::Activation::sigmoid(), 0.1f, 0, 1.0f / 256, -128);
  (void)table;
}
