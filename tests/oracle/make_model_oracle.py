#!/usr/bin/env python3
"""ONNX Runtime as the model-level oracle: the Fashion-MNIST example model, FP32 and quantized.

    make_model_oracle.py OUT_DIR [--data DIR] [--tap-images N]

Writes, for tests/oracle/test_model_oracle.cpp:

    OUT_DIR/fp32_logits.npy          ORT's logits of examples/fashion_mnist/fashion_mnist_fp32.onnx
                                     on all 10,000 test images (float32 [10000, 10])
    OUT_DIR/variants.txt             the QDQ variants, one name a line
    OUT_DIR/<v>.onnx                 the QDQ model onnxruntime.quantization.quantize_static makes
    OUT_DIR/<v>_taps.txt             the output of every QuantizeLinear node, one name a line, in
                                     graph order; the last line is the one the model output
                                     dequantizes
    OUT_DIR/<v>_tap<k>.npy           ORT's values of tap k (uint8/int8) on test images [0, N)
    OUT_DIR/<v>_output_q.npy         ORT's values of the last tap on all 10,000 test images

Input: pixel / 255 as float32, N x 1 x 28 x 28 (examples/fashion_mnist/fmnist_data.py), read from the
gzipped IDX files in DIR (default /usr/share/datasets/fashion-mnist).

QDQ variants (quantize_static, QuantFormat.QDQ, activations QUInt8, weights QInt8 — "U8S8" —,
CalibrationMethod.MinMax, reduce_range off), calibrated on the first 100 training images of each
class in training-file order (1,000 images):
    u8s8_per_channel    weights per output channel
    u8s8_per_tensor     weights per tensor

Which ONNX Runtime run is the reference. On this kind of machine (x86-64 AVX2 without VNNI) ORT's
default session multiplies u8 activations by s8 weights with vpmaddubsw, which adds pairs of
products in int16 *with saturation* (docs/numerics.md §5.2): its integer results are then not the
exact sums the ONNX operators define, and on this model they are far from them (the script's log
says how far). Two runs avoid that:
  - graph optimizations on, session option session.x64quantprecision = 1: ORT's
    Avx2WeightS8ToU8Transformer turns every s8 weight outside [-64, 64] into u8 (+128, zero point
    +128), which runs on the exact u8 x u8 kernel, and weights inside [-64, 64] cannot saturate.
    QDQ units are still fused into QLinearConv / QGemm with exact int32 sums and fp32
    requantization — the arithmetic qnn's lowered graph performs;
  - graph optimizations off (ORT_DISABLE_ALL): the model as written, DequantizeLinear -> float op ->
    QuantizeLinear. Its float sums round differently from an exact integer sum, so values that land
    near a .5 tie come out 1 apart from the fused result.
The reference written here is the first (fused, exact); qnn runs the model with its default
session options, which lower QDQ units the same way. The log reports, on the first N images, how
far ORT's default run and ORT's unfused run are from the reference, for comparison.

Adding QuantizeLinear outputs as graph outputs does not change ORT's fusion (the float op's output
stays internal); the script checks that the model output is the same with and without them (on
the first N images).
"""

from __future__ import annotations

import argparse
import gzip
import logging
import os
import struct
import sys
import time

import numpy as np
import onnx
import onnxruntime as ort
from onnx import helper
from onnxruntime.quantization import (CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType,
                                      quantize_static)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MODEL = os.path.join(ROOT, "examples", "fashion_mnist", "fashion_mnist_fp32.onnx")
CALIB_PER_CLASS = 100
BATCH = 1000


def read_idx_u8(path: str) -> np.ndarray:
    with gzip.open(path, "rb") as f:
        data = f.read()
    magic, = struct.unpack(">I", data[:4])
    ndim = magic & 0xFF
    if magic >> 8 != 0x08 or ndim not in (1, 3):
        raise SystemExit(f"{path}: not an unsigned-byte IDX file (magic 0x{magic:08x})")
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    return np.frombuffer(data, np.uint8, offset=4 + 4 * ndim).reshape(dims)


def to_input(images: np.ndarray) -> np.ndarray:
    x = images.astype(np.float32) / np.float32(255.0)
    return np.ascontiguousarray(x.reshape(images.shape[0], 1, 28, 28))


def calibration_images(labels: np.ndarray, per_class: int) -> np.ndarray:
    """Indices of the first `per_class` images of each class, in file order."""
    seen = np.zeros(10, np.int64)
    keep = []
    for i, y in enumerate(labels.tolist()):
        if seen[y] < per_class:
            seen[y] += 1
            keep.append(i)
    if np.any(seen < per_class):
        raise SystemExit(f"not {per_class} training images of every class: {seen.tolist()}")
    return np.array(keep, np.int64)


class Reader(CalibrationDataReader):
    def __init__(self, x: np.ndarray, name: str):
        self.x, self.name, self.i = x, name, 0

    def get_next(self):
        if self.i >= len(self.x):
            return None
        batch = self.x[self.i:self.i + 100]
        self.i += 100
        return {self.name: batch}

    def rewind(self):
        self.i = 0


def session(model, level=ort.GraphOptimizationLevel.ORT_ENABLE_ALL, config=None):
    so = ort.SessionOptions()
    so.graph_optimization_level = level
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    for k, v in (config or {}).items():
        so.add_session_config_entry(k, v)
    data = model if isinstance(model, str) else model.SerializeToString()
    return ort.InferenceSession(data, so, providers=["CPUExecutionProvider"])


def run_batched(sess, x: np.ndarray, n_outputs_kept=None):
    name = sess.get_inputs()[0].name
    parts = []
    for s in range(0, len(x), BATCH):
        out = sess.run(None, {name: x[s:s + BATCH]})
        parts.append(out if n_outputs_kept is None else out[:n_outputs_kept])
    return [np.concatenate([p[k] for p in parts]) for k in range(len(parts[0]))]


def with_taps(model: onnx.ModelProto):
    """A copy of `model` with every QuantizeLinear output added as a graph output (graph order);
    the output the model's own output dequantizes is moved last."""
    m = onnx.ModelProto()
    m.CopyFrom(model)
    inits = {t.name: t for t in m.graph.initializer}
    producer = {o: n for n in m.graph.node for o in n.output}
    final_dq = producer[m.graph.output[0].name]
    if final_dq.op_type != "DequantizeLinear":
        raise SystemExit(f"the QDQ model's output comes from {final_dq.op_type}, not DequantizeLinear")
    final_q = final_dq.input[0]
    taps = [n.output[0] for n in m.graph.node if n.op_type == "QuantizeLinear" and n.output[0] != final_q]
    taps.append(final_q)
    for name in taps:
        q = producer[name]
        zp = inits.get(q.input[2]) if len(q.input) > 2 else None
        elem = zp.data_type if zp is not None else onnx.TensorProto.UINT8
        m.graph.output.append(helper.make_tensor_value_info(name, elem, None))
    return m, taps


def diff_stats(a: np.ndarray, b: np.ndarray) -> str:
    d = np.abs(a.astype(np.int32) - b.astype(np.int32))
    return f"{np.count_nonzero(d)} of {d.size} differ ({100.0 * np.count_nonzero(d) / d.size:.4f} %), max {d.max()}"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    ap.add_argument("--tap-images", type=int, default=1000,
                    help="test images whose every QuantizeLinear output is written (default 1000)")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    logging.getLogger().setLevel(logging.ERROR)  # quantize_static's advice to run its pre-processing
    t0 = time.time()
    print(f"onnxruntime {ort.__version__}, onnx {onnx.__version__}, numpy {np.__version__}")

    test_x = to_input(read_idx_u8(os.path.join(args.data, "t10k-images-idx3-ubyte.gz")))
    test_y = read_idx_u8(os.path.join(args.data, "t10k-labels-idx1-ubyte.gz"))
    train_labels = read_idx_u8(os.path.join(args.data, "train-labels-idx1-ubyte.gz"))
    train_x = to_input(read_idx_u8(os.path.join(args.data, "train-images-idx3-ubyte.gz"))
                       [calibration_images(train_labels, CALIB_PER_CLASS)])
    n_tap = min(args.tap_images, len(test_x))

    fp32 = onnx.load(MODEL)
    input_name = fp32.graph.input[0].name
    logits, = run_batched(session(MODEL), test_x)
    np.save(os.path.join(args.out, "fp32_logits.npy"), logits.astype(np.float32))
    print(f"FP32: ORT top-1 accuracy {100.0 * np.mean(logits.argmax(1) == test_y):.2f} % on {len(test_x)} images")

    variants = {"u8s8_per_channel": True, "u8s8_per_tensor": False}
    exact = {"session.x64quantprecision": "1"}
    for name, per_channel in variants.items():
        path = os.path.join(args.out, name + ".onnx")
        quantize_static(MODEL, path, Reader(train_x, input_name), quant_format=QuantFormat.QDQ,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                        per_channel=per_channel, reduce_range=False,
                        calibrate_method=CalibrationMethod.MinMax)
        model = onnx.load(path)
        tapped, taps = with_taps(model)
        with open(os.path.join(args.out, name + "_taps.txt"), "w") as f:
            f.write("".join(t + "\n" for t in taps))

        ref = session(tapped, config=exact)
        # Every tap on the first n_tap images; the last tap (and the float output) on all of them.
        head = run_batched(ref, test_x[:n_tap])
        for k in range(len(taps)):
            np.save(os.path.join(args.out, f"{name}_tap{k}.npy"), head[1 + k])
        rest = run_batched(ref, test_x[n_tap:]) if n_tap < len(test_x) else [h[:0] for h in head]
        final_q = np.concatenate([head[-1], rest[-1]])
        np.save(os.path.join(args.out, name + "_output_q.npy"), final_q)
        out_float = np.concatenate([head[0], rest[0]])

        # Self-checks: the taps do not change what ORT computes; the tap values are integers.
        plain, = run_batched(session(model, config=exact), test_x[:n_tap])
        if not np.array_equal(plain, head[0]):
            raise SystemExit(f"{name}: adding QuantizeLinear outputs as graph outputs changed ORT's result")
        for k, t in enumerate(taps):
            if head[1 + k].dtype not in (np.uint8, np.int8):
                raise SystemExit(f"{name}: tap {t} is {head[1 + k].dtype}, not 8-bit")

        print(f"{name}: {len(taps)} QuantizeLinear outputs; ORT top-1 accuracy "
              f"{100.0 * np.mean(out_float.argmax(1) == test_y):.2f} %")
        # How far the two other ORT runs are from the reference, on the tapped images.
        for label, sess in (("ORT default (u8 x s8 saturating)", session(tapped)),
                            ("ORT unfused (ORT_DISABLE_ALL)",
                             session(tapped, ort.GraphOptimizationLevel.ORT_DISABLE_ALL))):
            other = run_batched(sess, test_x[:n_tap])
            every = diff_stats(np.concatenate([o.ravel() for o in other[1:]]),
                               np.concatenate([h.ravel() for h in head[1:]]))
            print(f"  {label} vs reference, first {n_tap} images: all taps {every}; "
                  f"output {diff_stats(other[-1], head[-1])}")

    with open(os.path.join(args.out, "variants.txt"), "w") as f:
        f.write("".join(v + "\n" for v in variants))
    print(f"done in {time.time() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
