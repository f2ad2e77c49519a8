#!/usr/bin/env bash
# The README's main job: the Fashion-MNIST example. Installs what it needs, builds the example and the
# qnn tool, then quantizes the committed FP32 model (examples/fashion_mnist/fashion_mnist_fp32.onnx)
# with every configuration and calibration method, evaluates each on the 10,000 test images and
# writes the report to out/fashion_mnist/. Safe to run again.
#   bash scripts/example.sh [--quick] [--threads N] ...   (arguments go to the example program)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/deps.sh"
qnn_apt "${QNN_BUILD_PACKAGES[@]}"

build="$QNN_ROOT/build"
cmake -S "$QNN_ROOT" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DQNN_WERROR=ON >/dev/null
cmake --build "$build" -j "$(nproc)" --target fashion_mnist qnn
cd "$QNN_ROOT"
"$build/examples/fashion_mnist/fashion_mnist" --out out/fashion_mnist --threads "$(nproc)" "$@"
