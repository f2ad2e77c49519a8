// Runs the Fashion-MNIST model through an installed qnn and holds the result to ONNX Runtime's:
// four test images, logits within 1e-4, the same classes. Then quantizes the model (U8S8, MinMax,
// calibrated on the same four images) and checks that the QDQ session still predicts those classes.
//
//   consumer MODEL.onnx X.npy EXPECTED.npy
#include <qnn/qnn.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <exception>
#include <vector>

namespace {

std::vector<int> classes(const qnn::Tensor& logits) {
  const auto v = logits.span<float>();
  const auto n = static_cast<std::size_t>(logits.shape()[0]);
  const std::size_t k = v.size() / n;
  std::vector<int> out;
  for (std::size_t i = 0; i < n; ++i)
    out.push_back(static_cast<int>(std::max_element(v.begin() + i * k, v.begin() + (i + 1) * k) - (v.begin() + i * k)));
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: consumer MODEL.onnx X.npy EXPECTED.npy\n");
    return 2;
  }
  try {
    const qnn::Tensor x = qnn::io::load_npy(argv[2]);
    const qnn::Tensor want = qnn::io::load_npy(argv[3]);
    const qnn::Graph fp32 = qnn::onnx::load_graph(argv[1]);

    const qnn::Session session{qnn::Graph(fp32)};
    const std::vector<qnn::Tensor> y = session.run({x});
    if (y.size() != 1 || !(y[0].shape() == want.shape())) {
      std::fprintf(stderr, "consumer: output shape %s, expected %s\n", y[0].shape().str().c_str(),
                   want.shape().str().c_str());
      return 1;
    }
    float worst = 0;
    const auto got = y[0].span<float>(), ref = want.span<float>();
    for (std::size_t i = 0; i < got.size(); ++i) worst = std::max(worst, std::fabs(got[i] - ref[i]));
    const std::vector<int> want_classes = classes(want);
    std::printf("consumer: qnn %s, max |logit - ONNX Runtime| = %g\n", QNN_VERSION_STRING, worst);
    if (!(worst <= 1e-4f) || classes(y[0]) != want_classes) {
      std::fprintf(stderr, "consumer: FP32 output differs from ONNX Runtime's\n");
      return 1;
    }

    qnn::quant::TensorReader calib({x}, /*batch=*/4);
    const qnn::quant::QuantConfig cfg = qnn::quant::QuantConfig::make(qnn::quant::Preset::u8s8);
    qnn::quant::QuantizeResult q = qnn::quant::quantize(fp32, calib, cfg);
    const qnn::Session quantized(std::move(q.graph));
    const std::vector<int> got_classes = classes(quantized.run({x})[0]);
    if (got_classes != want_classes) {
      std::fprintf(stderr, "consumer: the U8S8 model predicts other classes than the FP32 one\n");
      return 1;
    }
    std::printf("consumer: U8S8 model agrees on all %zu images\n", got_classes.size());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "consumer: %s\n", e.what());
    return 1;
  }
  return 0;
}
