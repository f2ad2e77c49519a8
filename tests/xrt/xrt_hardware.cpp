// Real hardware only (ctest xrt_hardware): every matmul artefact of the manifest named by
// QNN_XRT_MANIFEST runs on the device and is compared with the CPU. Without a device or a manifest
// the run is reported as skipped (xrt_main.cpp), never as passed; on this project's CI machine it
// is always skipped.
//
// Integer results must be exact. bf16 results are compared with the CPU's K-tiled sum within a
// bound, because the order of the NPU's fp32 additions inside a tile is not documented.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdlib>

#include "xrt_test_util.hpp"

using namespace qnn_xrt_test;
using npu::XrtBackend;

TEST_SUITE("hardware") {

TEST_CASE("each artefact of QNN_XRT_MANIFEST agrees with the CPU on padded and tiled shapes") {
  const auto m = npu::load_xrt_manifest(std::getenv("QNN_XRT_MANIFEST"));
  for (const npu::XrtArtefact& art : m.artefacts) {
    // One exact tile, then a shape with a tail on every axis.
    const std::int64_t shapes[2][3] = {{art.M, art.K, art.N}, {art.M + 3, 2 * art.K + 5, art.N + 7}};
    for (const auto& s : shapes) {
      const std::int64_t M = s[0], K = s[1], N = s[2];
      INFO("artefact ", art.name, " M=", M, " K=", K, " N=", N, " target xrt hardware");
      npu::XrtManifest only = m;
      only.artefacts = {art};
      XrtBackend one(only);
      const Tensor b = random_tensor(art.b, Shape{K, N}, 1);
      const Tensor a = random_tensor(art.a, Shape{M, K}, 2);
      auto op = one.prepare_matmul(art.name, b, art.a);
      REQUIRE_MESSAGE(op.on_npu(), op.reason());
      Tensor c;
      op.run(a, c);
      npu::visit_xrt_matmul_types(art.a, art.b, [&](auto ta, auto tb, auto tc) {
        using TC = decltype(tc);
        std::vector<TC> want(static_cast<std::size_t>(M * N));
        npu::cpu_matmul_ktiled(reinterpret_cast<const decltype(ta)*>(a.raw()),
                               reinterpret_cast<const decltype(tb)*>(b.raw()), N, 1, want.data(), M, K, N, art.K);
        const TC* got = reinterpret_cast<const TC*>(c.raw());
        std::size_t bad = 0;
        for (std::size_t i = 0; i < want.size(); ++i) {
          if constexpr (std::is_same_v<TC, float>)
            bad += std::fabs(got[i] - want[i]) > 1e-5f * static_cast<float>(K) * 4.0f;  // |a|,|b| < 2
          else
            bad += got[i] != want[i];
        }
        CHECK(bad == 0);
      });
    }
  }
}

}  // TEST_SUITE
