// Compile-only test (ctest xrt_hw_context_mock_compile): qnn's XRT backend compiled against the
// MOCK XRT >= 2.15 headers in include/, so the hw_context branch of xrt_api.hpp — which Debian's
// XRT 2.13 cannot compile — is at least type-checked against the documented signatures.
#include "qnn/backends/npu/xrt.hpp"
#include "qnn/runtime/session.hpp"

static_assert(qnn::npu::XrtXclbinContext::kManyXclbins, "the mock headers must select the hw_context branch");

// Instantiates what is templated on the backend's side.
void qnn_xrt_mock_compile(qnn::npu::XrtBackend& be, const qnn::Tensor& w, const qnn::Tensor& a, qnn::Tensor& c) {
  auto op = be.prepare_matmul("op", w, qnn::DType::i8);
  op.run(a, c);
  (void)be.report();
}

// The session backend: a session on it, with its submit/wait path.
std::vector<qnn::Tensor> qnn_xrt_mock_session(qnn::Graph g, const qnn::npu::XrtManifest& m, const qnn::Tensor& x) {
  const qnn::BasicSession<qnn::npu::XrtSessionBackend> s(std::move(g), {}, qnn::builtin_registry(),
                                                         qnn::npu::XrtSessionBackend(m));
  return s.run({x});
}
