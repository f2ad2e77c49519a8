#!/usr/bin/env python3
"""How often the AVX2 u8×s8 byte sequence would saturate on a QDQ model's own layers and data.

Without VNNI, oneDNN's and ONNX Runtime's (MLAS) int8 kernels multiply with `vpmaddubsw`, which adds
two u8·s8 products in int16 with saturation; full-range weights against activations that reach 255
overflow it, and the layer's sums are then wrong. bench_onednn checks oneDNN on random data; this
script asks the question on real data: it runs the model in ONNX Runtime with every conv/Gemm input
exposed (the quantized u8 activations), pairs the products as those kernels do — consecutive k of a
Gemm row, consecutive input channels at one tap of a convolution — and counts the outputs that
have at least one pair outside int16. qnn's kernels never saturate (docs/numerics.md §7), so this is
the share of outputs the faster, saturating sequence would get wrong on that layer.

    .venv/bin/python bench/saturation.py --qdq build-bench/results/fashion_mnist_u8s8_minmax.qdq.onnx

Needs a model with u8 activations (U8S8: the layout oneDNN's and ORT's u8×s8 kernels take as is).
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "examples", "fashion_mnist"))

import fmnist_data  # noqa: E402


def saturating(pairs: np.ndarray) -> np.ndarray:
    return (pairs > 32767) | (pairs < -32768)


def gemm_outputs_hit(u: np.ndarray, w: np.ndarray) -> float:
    """u [M, K] u8 values, w [N, K] s8: share of the M·N outputs with a saturating pair."""
    if u.shape[1] % 2:
        u, w = np.pad(u, ((0, 0), (0, 1))), np.pad(w, ((0, 0), (0, 1)))
    hit = np.zeros((u.shape[0], w.shape[0]), dtype=bool)
    for k in range(0, u.shape[1], 2):
        hit |= saturating(np.outer(u[:, k], w[:, k]) + np.outer(u[:, k + 1], w[:, k + 1]))
    return float(hit.mean())


def conv_outputs_hit(u: np.ndarray, w: np.ndarray, pads: list[int], zero_point: int) -> float:
    """u [B, C, H, W] u8, w [M, C, kh, kw] s8, stride 1: pairs of consecutive input channels at each tap."""
    b, c, h, wd = u.shape
    m, _, kh, kw = w.shape
    if c % 2:  # an odd last channel pairs with a zero weight
        u, w, c = np.pad(u, ((0, 0), (0, 1), (0, 0), (0, 0))), np.pad(w, ((0, 0), (0, 1), (0, 0), (0, 0))), c + 1
    up = np.pad(u, ((0, 0), (0, 0), (pads[0], pads[2]), (pads[1], pads[3])), constant_values=zero_point)
    oh, ow = up.shape[2] - kh + 1, up.shape[3] - kw + 1
    hit = np.zeros((b, m, oh, ow), dtype=bool)
    for ky in range(kh):
        for kx in range(kw):
            patch = up[:, :, ky:ky + oh, kx:kx + ow]  # [B, C, oh, ow]
            for ci in range(0, c, 2):
                p = (np.einsum("bhw,m->bmhw", patch[:, ci], w[:, ci, ky, kx]) +
                     np.einsum("bhw,m->bmhw", patch[:, ci + 1], w[:, ci + 1, ky, kx]))
                hit |= saturating(p)
    return float(hit.mean())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--qdq", required=True, help="QDQ model with u8 activations (U8S8)")
    ap.add_argument("--data", default=fmnist_data.DEFAULT_DATA_DIR, help="Fashion-MNIST IDX directory")
    ap.add_argument("--images", type=int, default=200, help="first test images to run (default: %(default)s)")
    args = ap.parse_args()

    import onnx
    import onnxruntime as ort
    from onnx import numpy_helper

    model = onnx.load(args.qdq)
    inits = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    producer = {o: n for n in model.graph.node for o in n.output}

    def quantized_source(name: str) -> tuple[str, np.ndarray | None]:
        """The DequantizeLinear input behind a float tensor, and its zero point (None: not a DQ)."""
        n = producer.get(name)
        if n is None or n.op_type != "DequantizeLinear":
            return name, None
        zp = inits.get(n.input[2]) if len(n.input) > 2 else None
        return n.input[0], zp

    layers = []
    for n in model.graph.node:
        if n.op_type not in ("Conv", "Gemm"):
            continue
        x, x_zp = quantized_source(n.input[0])
        w, _ = quantized_source(n.input[1])
        if x_zp is None or x in inits or w not in inits:
            print(f"{n.name}: not a quantized layer, skipped")
            continue
        if x_zp.dtype != np.uint8:
            sys.exit(f"saturation.py: {n.name}'s input is {x_zp.dtype}, not u8: pass a U8S8 model")
        layers.append((n, x, int(x_zp.reshape(-1)[0]), inits[w].astype(np.int64)))
    for _, x, _, _ in layers:
        model.graph.output.append(onnx.helper.make_tensor_value_info(x, onnx.TensorProto.UINT8, None))
    so = ort.SessionOptions()
    so.log_severity_level = 3
    sess = ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
    images, _ = fmnist_data.load_split(args.data, "t10k")
    feed = {sess.get_inputs()[0].name: fmnist_data.to_input(images[:args.images])}
    values = sess.run([x for _, x, _, _ in layers], feed)
    print(f"{args.qdq}, first {args.images} test images: outputs whose u8·s8 pair sums leave int16")
    for (node, _, zp, w), u in zip(layers, values):
        u = u.astype(np.int64)
        if node.op_type == "Gemm":
            trans_b = any(a.name == "transB" and a.i for a in node.attribute)
            share = gemm_outputs_hit(u.reshape(u.shape[0], -1), w if trans_b else w.T)
        else:
            attrs = {a.name: a for a in node.attribute}
            pads = list(attrs["pads"].ints) if "pads" in attrs else [0, 0, 0, 0]
            strides = list(attrs["strides"].ints) if "strides" in attrs else [1, 1]
            if strides != [1, 1] or w.shape[1] != u.shape[1]:
                print(f"{node.name}: strided or grouped conv, skipped")
                continue
            share = conv_outputs_hit(u, w, pads, zp)
        print(f"  {node.name:<24} {node.op_type:<5} input {u.min()}..{u.max()}  {100 * share:6.2f} % of outputs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
