// Without a usable XRT device (ctest xrt_no_device: XRT's real shim and no driver; and
// xrt_no_device_no_root: XILINX_XRT unset). The backend either refuses to start with XRT's reason,
// or, asked not to require a device, runs every op on the CPU and says so in the report.
#include <doctest/doctest.h>

#include "xrt_test_util.hpp"

using namespace qnn_xrt_test;
using npu::XrtBackend;
using npu::XrtOptions;

TEST_SUITE("no_device") {

TEST_CASE("without a device the backend fails with a clear error") {
  ScratchDir dir;
  const auto m = write_setup(dir, {TestArtefact{}});
  try {
    XrtBackend be(m);
    FAIL("the backend started without a device");
  } catch (const qnn::error& e) {
    const std::string what = e.what();
    MESSAGE(what);
    CHECK(what.find("XRT device 0 (XILINX_XRT=") != std::string::npos);
    CHECK(what.find("cannot be opened: XRT: ") != std::string::npos);
  }
}

TEST_CASE("with require_device = false every op runs on the CPU and the report says why") {
  ScratchDir dir;
  XrtOptions o;
  o.require_device = false;
  XrtBackend be(write_setup(dir, {TestArtefact{}}), o);
  CHECK_FALSE(be.device_available());
  const Tensor b = random_tensor(DType::i8, Shape{70, 45}, 1);
  const Tensor a = random_tensor(DType::i8, Shape{37, 70}, 2);
  auto op = be.prepare_matmul("fc", b, DType::i8);
  CHECK_FALSE(op.on_npu());
  CHECK(op.reason().rfind("no XRT device: XRT device 0", 0) == 0);
  Tensor c;
  op.run(a, c);
  const auto want = naive_matmul_i32<std::int8_t, std::int8_t>(a, b, false);
  CHECK(std::memcmp(c.raw(), want.data(), want.size() * 4) == 0);
  const std::string r = be.report().dump();
  CHECK(r.find("\"available\": false") != std::string::npos);
  CHECK(r.find("\"artefact\": \"mm\"") != std::string::npos);  // what it would have used
  CHECK(r.find("\"cpu_calls\": 1") != std::string::npos);
  CHECK(be.report_text().find("unavailable: XRT device 0") != std::string::npos);
}

}  // TEST_SUITE
