#!/usr/bin/env bash
# Runs the documentation's samples (the qnn_docs_samples program) in a fresh directory holding the
# files the samples name:
#   model.onnx   examples/fashion_mnist/fashion_mnist_fp32.onnx
#   x.npy        four Fashion-MNIST test images, float32 [4,1,28,28] (tests/consumer/x4.npy)
#   calib.npy    the same four images, as calibration data
#
#   run_samples.sh BINARY WORK_DIR MODEL X_NPY
set -euo pipefail
bin="$1" work="$2" model="$3" x="$4"
rm -rf "$work"
mkdir -p "$work"
cp "$model" "$work/model.onnx"
cp "$x" "$work/x.npy"
cp "$x" "$work/calib.npy"
cd "$work"
exec "$bin"
