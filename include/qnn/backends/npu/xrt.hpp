// The XRT NPU backend, opt-in: include this header and link the qnn::xrt CMake target
// (-DQNN_WITH_XRT=ON, needs XRT's headers and libxrt_coreutil). qnn.hpp includes it only where
// QNN_WITH_XRT is defined (qnn::xrt defines it), through backends/backends.hpp.
//   XrtSessionBackend  the session backend "xrt": BasicSession<npu::XrtSessionBackend>
//   XrtBackend         standalone matmuls on prepared weights, without a session
// docs/backends_xrt.md: building, the manifest format, what is tested without hardware.
#pragma once

#include "qnn/backends/npu/xrt_api.hpp"
#include "qnn/backends/npu/xrt_backend.hpp"
#include "qnn/backends/npu/xrt_device.hpp"
#include "qnn/backends/npu/xrt_fc_layer.hpp"
#include "qnn/backends/npu/xrt_manifest.hpp"
#include "qnn/backends/npu/xrt_matmul.hpp"
#include "qnn/backends/npu/xrt_session_backend.hpp"
#include "qnn/backends/npu/xrt_tiling.hpp"
