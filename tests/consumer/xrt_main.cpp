// Links qnn::xrt from an installed qnn and uses the XRT backend without a device: this machine has
// no NPU, so the program proves that the installed package finds XRT's headers and libraries, and
// that the no-device path works as documented (docs/backends_xrt.md) — constructing the backend
// fails with XRT's reason, and with require_device = false a matmul runs on the CPU, exactly.
//
//   consumer_xrt          exit 0 when both behave; with a device present, says so and exits 0
#include <qnn/backends/npu/xrt.hpp>

#include <cstdint>
#include <cstdio>
#include <exception>
#include <string>

int main() {
  namespace npu = qnn::npu;
  try {
    try {
      npu::XrtBackend device_required{npu::XrtManifest{}};
      std::printf("consumer_xrt: an XRT device is present (%s); the no-device path is not exercised\n",
                  std::string(npu::XrtBackend::api()).c_str());
      return 0;
    } catch (const qnn::error& e) {
      std::printf("consumer_xrt: without a device: %s\n", e.what());
      if (std::string(e.what()).find("XRT device 0") == std::string::npos) {
        std::fprintf(stderr, "consumer_xrt: the error does not name the device\n");
        return 1;
      }
    }

    npu::XrtOptions options;
    options.require_device = false;
    npu::XrtBackend backend(npu::XrtManifest{}, options);
    // C = A·B with A = [[1, 2, 3]], B = [[1, -1], [2, -2], [3, -3]]: C = [[14, -14]].
    const qnn::Tensor b = qnn::Tensor::from<std::int8_t>(qnn::Shape{3, 2}, {1, -1, 2, -2, 3, -3});
    const qnn::Tensor a = qnn::Tensor::from<std::int8_t>(qnn::Shape{1, 3}, {1, 2, 3});
    npu::XrtMatmulOp op = backend.prepare_matmul("fc", b, qnn::DType::i8);
    qnn::Tensor c;
    op.run(a, c);
    const auto v = c.span<std::int32_t>();
    if (backend.device_available() || op.on_npu() || v.size() != 2 || v[0] != 14 || v[1] != -14) {
      std::fprintf(stderr, "consumer_xrt: the CPU fallback gave the wrong result or placement\n");
      return 1;
    }
    std::printf("consumer_xrt: matmul on the CPU (%s)\n", op.reason().c_str());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "consumer_xrt: %s\n", e.what());
    return 1;
  }
  return 0;
}
