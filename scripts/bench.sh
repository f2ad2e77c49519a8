#!/usr/bin/env bash
# The benchmark command (docs/benchmarks.md): installs what the suites need, builds them in
# build-bench/ with -DQNN_BUILD_BENCHMARKS=ON, runs the peak probe, qnn's kernels, oneDNN's kernels and
# the Fashion-MNIST model in qnn, then ONNX Runtime and PyTorch on the same models (bench/peers.py),
# and prints one report with qnn/peer ratios (bench/report.py) and where the peers' saturating
# u8×s8 sequence would be wrong on the model's own layers (bench/saturation.py). About 2½ minutes of
# measuring on a 2-core machine, plus the build (about 4 minutes from scratch with one job).
#   bash scripts/bench.sh            build jobs: QNN_BUILD_JOBS (default: nproc)
# Results: build-bench/results/*.json and report.md.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/deps.sh"
# The peers: oneDNN for the kernels; PyTorch (Debian's, seen by the venv) for the model. Debian's
# oneDNN is built with its OpenCL GPU runtime, so its CMake package calls find_package(OpenCL
# REQUIRED): the OpenCL headers and library link are only a Recommends of libdnnl-dev, which
# qnn_apt does not install.
qnn_apt "${QNN_BUILD_PACKAGES[@]}" "${QNN_PYTHON_PACKAGES[@]}" libdnnl-dev ocl-icd-opencl-dev python3-torch
qnn_venv

build="$QNN_ROOT/build-bench"
results="$build/results"
mkdir -p "$results"
cmake -S "$QNN_ROOT" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DQNN_BUILD_BENCHMARKS=ON \
      -DQNN_BUILD_TESTS=OFF -DQNN_BUILD_EXAMPLES=OFF -DQNN_BUILD_TOOLS=OFF -DQNN_WERROR=ON >/dev/null
cmake --build "$build" -j "${QNN_BUILD_JOBS:-$(nproc)}" --target bench_peak bench_kernels bench_onednn bench_model

# Kernels: rates per CPU second, median of 3 repetitions. Model: wall clock, 7 repetitions (the
# report takes the fastest; bench/peers.py times its peers the same way).
kernel_flags=(--benchmark_min_time=0.1 --benchmark_repetitions=3 --benchmark_report_aggregates_only=true
              --benchmark_format=json)
model_flags=(--benchmark_min_time=0.2 --benchmark_repetitions=7 --benchmark_report_aggregates_only=true
             --benchmark_format=json)
run() {  # run NAME ARGS...: one suite, JSON to results/NAME.json
  local name=$1
  shift
  echo "qnn bench: $name" >&2
  local start=$SECONDS
  "$@" >"$results/$name.json"
  echo "qnn bench: $name took $((SECONDS - start)) s" >&2
}
run peak "$build/bench/bench_peak" "${kernel_flags[@]}"
run kernels "$build/bench/bench_kernels" "${kernel_flags[@]}"
run onednn "$build/bench/bench_onednn" "${kernel_flags[@]}"
# The model: FP32, BF16 and the U8S8 INT8 model (ORT's default configuration, the like-for-like file);
# then the INT8 rows of A8W8 (symmetric activations: the layers after a ReLU run qnn's byte kernel),
# whose QDQ file ONNX Runtime also runs. Both write their layers' profile for the per-layer table.
qdq="$results/fashion_mnist_u8s8_minmax.qdq.onnx"
qdq_a8w8="$results/fashion_mnist_a8w8_minmax.qdq.onnx"
run model "$build/bench/bench_model" --qdq_out="$qdq" --layers_out="$results/layers_u8s8.json" "${model_flags[@]}"
run model_a8w8 "$build/bench/bench_model" --config=a8w8 --qdq_out="$qdq_a8w8" \
  --layers_out="$results/layers_a8w8.json" --benchmark_filter='model/int8/' "${model_flags[@]}"
echo "qnn bench: peers (ONNX Runtime, PyTorch)" >&2
start=$SECONDS
"$QNN_PYTHON" "$QNN_ROOT/bench/peers.py" --qdq "$qdq" --extra-int8 "a8w8=$qdq_a8w8" --json "$results/peers.json" \
  --min-time 0.2 --repetitions 7 >&2 || echo "qnn bench: a peer failed (see the report)" >&2
echo "qnn bench: peers took $((SECONDS - start)) s" >&2

"$QNN_PYTHON" "$QNN_ROOT/bench/report.py" --peak "$results/peak.json" --kernels "$results/kernels.json" \
  --onednn "$results/onednn.json" --model "$results/model.json" --model-extra "a8w8=$results/model_a8w8.json" \
  --layers "$results/layers_u8s8.json" --layers "$results/layers_a8w8.json" --peers "$results/peers.json" \
  --command "bash scripts/bench.sh" --json "$results/report.json" | tee "$results/report.md"
# Where the peers' faster u8×s8 sequence would be wrong on the model's own layers (bench/saturation.py).
{ echo; "$QNN_PYTHON" "$QNN_ROOT/bench/saturation.py" --qdq "$qdq"; } | tee -a "$results/report.md"
