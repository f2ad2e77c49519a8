// The single-header build (single_include/qnn/qnn.hpp) on its own: this file is compiled with
// single_include/ as its only qnn include path (tests/CMakeLists.txt), so any header the
// amalgamation missed, or any declaration it put in the wrong order, fails to compile here. It then
// quantizes a small image, runs a quantized conv on the fast path and on the scalar reference, and
// checks both against numbers worked out by hand; then runs a whole model through a Session:
//
//   qnn_single_header_smoke MODEL.onnx X.npy EXPECTED.npy
//
// the Fashion-MNIST model on four images, within 1e-4 of ONNX Runtime's logits
// (tests/consumer/make_data.py wrote X and EXPECTED).
#include <qnn/qnn.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <vector>

#ifdef QNN_KERNELS_SIMD_GEMM_INL_H_
#define QNN_SMOKE_HAS_SIMD 1
#else
#define QNN_SMOKE_HAS_SIMD 0
#endif

namespace {

int failures = 0;

void expect(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "single_header_smoke: FAILED: %s\n", what);
    ++failures;
  }
}

}  // namespace

int main(int argc, char** argv) {
  using namespace qnn;
  if (argc != 4) {
    std::fprintf(stderr, "usage: qnn_single_header_smoke MODEL.onnx X.npy EXPECTED.npy\n");
    return 2;
  }
  try {
    // x = 0.5·(1..9) quantized at scale 0.5, zero point 0 → 1..9 exactly.
    std::vector<float> xf;
    for (int i = 1; i <= 9; ++i) xf.push_back(0.5f * static_cast<float>(i));
    const Tensor xfloat = Tensor::from<float>(Shape{1, 1, 3, 3}, std::span<const float>(xf));
    Tensor x(DType::u8, Shape{1, 1, 3, 3});
    const PerTensor<std::uint8_t> xq(0.5f, 0);
    ref::quantize_linear(xfloat.view<float>(), x.view<std::uint8_t>(), xq);
    const auto xs = x.span<std::uint8_t>();
    expect(std::vector<std::uint8_t>(xs.begin(), xs.end()) == std::vector<std::uint8_t>{1, 2, 3, 4, 5, 6, 7, 8, 9},
           "quantize_linear");

    // Channel 0 sums the 2×2 diagonal, channel 1 takes its difference: y = acc + 10.
    const Tensor w = Tensor::from<std::int8_t>(Shape{2, 1, 2, 2}, {1, 0, 0, 1, -1, 0, 0, 1});
    const PerChannel<std::int8_t, float, Symmetry::symmetric> wq(0, {1.0f, 1.0f});
    const PerTensor<std::uint8_t> yq(0.5f, 10);
    const std::vector<std::int32_t> bias{0, 0};
    const std::vector<std::uint8_t> want{16, 18, 22, 24, 14, 14, 14, 14};
    for (const bool reference : {false, true}) {
      ConvOptions opt;
      opt.reference = reference;
      Tensor y(DType::u8, Shape{1, 2, 2, 2});
      conv2d(QView<const std::uint8_t, PerTensor<std::uint8_t>>{x.view<std::uint8_t>(), xq},
             QView<const std::int8_t, decltype(wq)>{w.view<std::int8_t>(), wq}, bias,
             QView<std::uint8_t, PerTensor<std::uint8_t>>{y.view<std::uint8_t>(), yq}, opt);
      const auto ys = y.span<std::uint8_t>();
      expect(std::vector<std::uint8_t>(ys.begin(), ys.end()) == want,
             reference ? "conv2d (reference)" : "conv2d (fast path)");
    }
    const Session session(onnx::load_graph(argv[1]));
    const std::vector<Tensor> y = session.run({io::load_npy(argv[2])});
    const Tensor logits = io::load_npy(argv[3]);
    expect(y.size() == 1 && y[0].shape() == logits.shape(), "model output shape");
    if (failures == 0) {
      float worst = 0;
      for (std::size_t i = 0; i < logits.span<float>().size(); ++i)
        worst = std::max(worst, std::fabs(y[0].span<float>()[i] - logits.span<float>()[i]));
      std::printf("single_header_smoke: model max |logit - ONNX Runtime| = %g\n", worst);
      expect(worst <= 1e-4f, "model output within 1e-4 of ONNX Runtime");
    }
    std::printf("single_header_smoke: GEMM target %s, SIMD kernels %s\n", simd::active_target(),
                QNN_SMOKE_HAS_SIMD ? "compiled in" : "not compiled in");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "single_header_smoke: FAILED: exception: %s\n", e.what());
    return 1;
  }
  return failures == 0 ? 0 : 1;
}
