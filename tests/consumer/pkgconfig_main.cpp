// Compiled with nothing but `pkg-config --cflags --libs qnn` against an installed qnn: the .pc's
// include path and language flags must be enough for a qnn header, and the version the header
// states must be the one the .pc states (run_consumer.sh compares the two).
#include <qnn/config.hpp>
#include <qnn/core/tensor.hpp>

#include <cstdio>

int main() {
  const qnn::Tensor t = qnn::Tensor::from<float>(qnn::Shape{2, 2}, {1.0f, 2.0f, 3.0f, 4.0f});
  if (t.span<float>()[3] != 4.0f) return 1;
  std::printf("%s\n", QNN_VERSION_STRING);
  return 0;
}
