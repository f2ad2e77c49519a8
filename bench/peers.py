#!/usr/bin/env python3
"""Peers of bench_model: the Fashion-MNIST CNN in ONNX Runtime and in PyTorch, timed like qnn.

Runs, at batch 1, 64 and 256 with 1 and 2 threads, on the first test images scaled to [0, 1]:

* onnxruntime  CPUExecutionProvider, default graph optimisations, intra_op_num_threads = threads,
               inter_op_num_threads = 1, on the FP32 model and on the INT8 QDQ model that
               bench_model quantized and wrote (--qdq), so ORT runs exactly qnn's INT8 model (it fuses
               the QDQ groups into its QLinearConv / MatMulInteger-style integer kernels); with
               --extra-int8 NAME=PATH also on other INT8 QDQ models qnn wrote (cases
               "model/int8-NAME/..."), so the report can name ORT's fastest INT8 model.
* torch        eager-mode post-training quantization (torch.ao.quantization), engine 'onednn'
               with its default qconfig, Conv+ReLU fused, calibrated on the same 500 images as
               bench_model (the first 50 training images of each class); torch.set_num_threads.
               The network is rebuilt from the FP32 model's initializers
               (examples/fashion_mnist/fmnist_model.py).

Timing (the same as bench_model): after a warm-up, `--repetitions` windows of at least `--min-time`
seconds each; a window's figure is its mean time per batch, and the reported latency is the
fastest window's (the least disturbed on a shared machine), images/s = batch / latency. The CPU time
of the calling thread is recorded the same way (cpu_min_ms): with one thread all the work runs on
it (ONNX Runtime and PyTorch create no workers for 1 intra-op thread), so it is the single-thread
cost without the time other processes took.

Output: JSON (--json) with one record per case, named like bench_model's benchmarks
("model/int8/b64/t2") so bench/report.py can pair them.

Usage:
    .venv/bin/python bench/peers.py --qdq build-bench/fashion_mnist_u8s8_minmax.qdq.onnx --json out.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
EXAMPLE = os.path.join(HERE, "..", "examples", "fashion_mnist")
sys.path.insert(0, EXAMPLE)

import numpy as np  # noqa: E402

import fmnist_data  # noqa: E402

BATCHES = (1, 64, 256)
THREADS = (1, 2)


def time_windows(run, min_time: float, repetitions: int) -> dict:
    """Mean wall-clock and calling-thread CPU seconds per call of run() in each of `repetitions`
    windows of >= min_time seconds; reported: the fastest window of each, and the median wall."""
    for _ in range(3):
        run()
    wall, cpu = [], []
    for _ in range(repetitions):
        calls = 0
        t0, c0 = time.perf_counter(), time.thread_time()
        while True:
            run()
            calls += 1
            elapsed = time.perf_counter() - t0
            if elapsed >= min_time:
                break
        wall.append(elapsed / calls)
        cpu.append((time.thread_time() - c0) / calls)
    return {"min_ms": 1e3 * min(wall), "median_ms": 1e3 * statistics.median(wall),
            "cpu_min_ms": 1e3 * min(cpu), "windows": len(wall)}


def record(name: str, impl: str, batch: int, t: dict, **extra) -> dict:
    r = {"name": name, "impl": impl, "batch": batch, **t,
         "images_per_s": batch / (t["min_ms"] * 1e-3)}
    r.update(extra)
    print(f"  {name:<22} {impl:<14} {t['min_ms']:9.3f} ms  {r['images_per_s']:10.1f} images/s", flush=True)
    return r


def run_ort(models: dict[str, str], inputs: dict[int, np.ndarray], args) -> list[dict]:
    import onnxruntime as ort

    out = []
    for precision, path in models.items():
        for threads in THREADS:
            so = ort.SessionOptions()
            so.intra_op_num_threads = threads
            so.inter_op_num_threads = 1
            so.log_severity_level = 3
            sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
            in_name = sess.get_inputs()[0].name
            for batch in BATCHES:
                feed = {in_name: inputs[batch]}
                t = time_windows(lambda: sess.run(None, feed), args.min_time, args.repetitions)
                out.append(record(f"model/{precision}/b{batch}/t{threads}", "onnxruntime", batch, t,
                                  model=os.path.abspath(path), threads=threads))
    return out


def build_torch_int8(fp32_path: str, calib: np.ndarray, engine: str):
    """Eager PTQ of the rebuilt network: QuantStub → layers → DeQuantStub, Conv+ReLU fused."""
    import fmnist_model  # imports torch, with its numpy-2 probe silenced
    import torch
    from torch import nn
    from torch.ao import quantization as tq

    class Quantized(nn.Module):
        def __init__(self, net: nn.Module) -> None:
            super().__init__()
            self.quant = tq.QuantStub()
            self.net = net
            self.dequant = tq.DeQuantStub()

        def forward(self, x):
            n = self.net
            x = n.layer2(n.layer1(self.quant(x)))
            # Quantized conv outputs are channels-last: reshape (not view) gives the NCHW-ordered
            # 2304 features the FP32 model's flatten gives.
            x = x.reshape(x.size(0), -1)
            return self.dequant(n.fc3(n.fc2(n.drop(n.fc1(x)))))

    torch.backends.quantized.engine = engine
    model = Quantized(fmnist_model.model_from_onnx(fp32_path)).eval()
    model.qconfig = tq.get_default_qconfig(engine)
    qconfig = str(model.qconfig)  # convert() drops the attribute
    tq.fuse_modules(model, [["net.layer1.0", "net.layer1.2"], ["net.layer2.0", "net.layer2.2"]], inplace=True)
    tq.prepare(model, inplace=True)
    with torch.no_grad():
        xc = fmnist_model.np_to_torch(calib)
        for s in range(0, xc.shape[0], 100):
            model(xc[s:s + 100])
    tq.convert(model, inplace=True)
    return model, qconfig


def run_torch(fp32_path: str, calib: np.ndarray, inputs: dict[int, np.ndarray], args) -> list[dict]:
    import fmnist_model
    import torch

    engine = "onednn"
    if engine not in torch.backends.quantized.supported_engines:
        raise RuntimeError(f"torch has no '{engine}' quantized engine: {torch.backends.quantized.supported_engines}")
    model, qconfig = build_torch_int8(fp32_path, calib, engine)
    out = []
    for threads in THREADS:
        torch.set_num_threads(threads)
        for batch in BATCHES:
            x = fmnist_model.np_to_torch(inputs[batch])

            def run():
                with torch.inference_mode():
                    model(x)

            t = time_windows(run, args.min_time, args.repetitions)
            out.append(record(f"model/int8/b{batch}/t{threads}", "torch-onednn", batch, t, threads=threads,
                              qconfig=qconfig))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--fp32", default=os.path.join(EXAMPLE, "fashion_mnist_fp32.onnx"),
                    help="FP32 model (default: %(default)s)")
    ap.add_argument("--qdq", required=True, help="INT8 QDQ model written by bench_model --qdq_out")
    ap.add_argument("--extra-int8", action="append", default=[], metavar="NAME=PATH",
                    help="another INT8 QDQ model for ONNX Runtime, reported as model/int8-NAME/... (repeatable)")
    ap.add_argument("--data", default=fmnist_data.DEFAULT_DATA_DIR, help="Fashion-MNIST IDX directory")
    ap.add_argument("--json", required=True, help="write the results here")
    ap.add_argument("--min-time", type=float, default=0.2, help="seconds per window (default: %(default)s)")
    ap.add_argument("--repetitions", type=int, default=7, help="windows per case (default: %(default)s)")
    ap.add_argument("--only", choices=["onnxruntime", "torch"], help="run this peer alone")
    args = ap.parse_args()
    ort_models = {"fp32": args.fp32, "int8": args.qdq}
    for spec in args.extra_int8:
        name, sep, path = spec.partition("=")
        if not sep or not name or not path:
            ap.error(f"--extra-int8 takes NAME=PATH, got '{spec}'")
        ort_models[f"int8-{name}"] = path

    te_img, _ = fmnist_data.load_split(args.data, "t10k")
    tr_img, tr_lab = fmnist_data.load_split(args.data, "train")
    calib_idx, _ = fmnist_data.calibration_split(tr_lab, 50)
    calib = fmnist_data.to_input(tr_img[calib_idx])
    inputs = {b: fmnist_data.to_input(te_img[:b]) for b in BATCHES}

    results, errors = [], []
    if args.only in (None, "onnxruntime"):
        print("onnxruntime", flush=True)
        try:
            results += run_ort(ort_models, inputs, args)
        except Exception as exc:  # noqa: BLE001  report it and go on with the other peer
            errors.append({"impl": "onnxruntime", "error": f"{type(exc).__name__}: {exc}",
                           "traceback": traceback.format_exc(limit=5)})
    if args.only in (None, "torch"):
        print("torch (eager PTQ, onednn)", flush=True)
        try:
            results += run_torch(args.fp32, calib, inputs, args)
        except Exception as exc:  # noqa: BLE001
            errors.append({"impl": "torch-onednn", "error": f"{type(exc).__name__}: {exc}",
                           "traceback": traceback.format_exc(limit=5)})
    for e in errors:
        print(f"FAILED {e['impl']}: {e['error']}", file=sys.stderr)

    versions = {"python": platform.python_version(), "numpy": np.__version__}
    try:
        import onnxruntime
        versions["onnxruntime"] = onnxruntime.__version__
    except ImportError:
        pass
    if "torch" in sys.modules:
        versions["torch"] = sys.modules["torch"].__version__
    report = {"context": {"versions": versions, "min_time": args.min_time, "repetitions": args.repetitions,
                          "fp32_model": os.path.abspath(args.fp32), "int8_qdq_model": os.path.abspath(args.qdq),
                          "extra_int8_models": {k: os.path.abspath(v) for k, v in ort_models.items()
                                                if k.startswith("int8-")},
                          "omp_num_threads": os.environ.get("OMP_NUM_THREADS")},
              "results": results, "errors": errors}
    os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
    with open(args.json, "w") as f:
        json.dump(report, f, indent=2)
        f.write("\n")
    return 0 if not errors else 2


if __name__ == "__main__":
    sys.exit(main())
