#!/usr/bin/env python3
"""Write tiny deterministic ONNX models (opset 13) for the C++ ONNX importer tests.

Unlike the exported Fashion-MNIST model (where torch.onnx.export folds BatchNorm into Conv),
these keep ``BatchNormalization`` as separate nodes, so the importer's BN folding is exercised.
All graphs are hand-built with ``onnx.helper``; no torch needed. Weights come from
``numpy.random.default_rng(seed)`` so reruns write identical bytes.

Models (batch dimension is symbolic, ``batch_size``):

  conv_bn_relu        input 1x8x8 -> Conv(1->4, 3x3, pad 1, bias) -> BatchNormalization
                      -> Relu -> MaxPool 2x2 -> flatten chain -> Gemm(64 -> 5, transB=1)
  input_bn_conv_bn    input 3x8x8 -> BatchNormalization (first node: nothing precedes it,
                      cannot be folded into the padded Conv that follows it exactly)
                      -> Conv(3->4, 3x3, pad 1, bias) -> BatchNormalization -> Relu
                      -> MaxPool 2x2 -> flatten chain -> Gemm(64 -> 5); BN epsilon 1e-3
  conv_nobias_bn      like conv_bn_relu but the Conv has no bias input (as in exports of
                      Conv2d(bias=False) + BatchNorm2d), so folding must create one

"flatten chain" is PyTorch's export of ``x.view(x.size(0), -1)``:
Shape -> Gather(0) -> Unsqueeze([0]) -> Concat(., [-1]) -> Reshape, with 3 Constant nodes.

For every model NAME this writes, into the output directory:
  NAME.onnx      the model
  NAME.in.f32    a seeded input batch (2 x C x 8 x 8), raw little-endian float32
  NAME.out.f32   the expected output (2 x 5), raw little-endian float32, computed by the
                 numpy reference below (and cross-checked against onnxruntime if importable)
  manifest.json  shapes, seeds and sha256 of all files

Usage:  python tools/make_test_models.py OUT_DIR
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 13
BATCH = 2          # batch of the stored example input/output
HW = 8             # spatial size of the input
NUM_OUT = 5        # Gemm output features


# ---------------------------------------------------------------------------------------------
# parameter generation


def bn_params(rng: np.random.Generator, c: int) -> dict[str, np.ndarray]:
    """Non-trivial BN statistics so that a wrong fold (e.g. forgetting sqrt or epsilon, or
    mixing up scale and mean) changes the output visibly."""
    return {
        "scale": rng.uniform(0.5, 1.5, c).astype(np.float32),
        "bias": rng.normal(0.0, 0.2, c).astype(np.float32),
        "mean": rng.normal(0.0, 0.3, c).astype(np.float32),
        "var": rng.uniform(0.3, 2.0, c).astype(np.float32),
    }


# ---------------------------------------------------------------------------------------------
# graph building


class GraphBuilder:
    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self._n = 0

    def init(self, name: str, arr: np.ndarray) -> str:
        self.inits.append(numpy_helper.from_array(arr, name))
        return name

    def node(self, op: str, inputs: list[str], name: str, out: str | None = None, **attrs) -> str:
        out = out or f"{name}_out"
        self.nodes.append(helper.make_node(op, inputs, [out], name=name, **attrs))
        return out

    def const(self, name: str, arr: np.ndarray) -> str:
        out = f"{name}_out"
        self.nodes.append(helper.make_node(
            "Constant", [], [out], name=name, value=numpy_helper.from_array(arr, name + "_value")))
        return out

    def batchnorm(self, x: str, name: str, p: dict[str, np.ndarray], eps: float) -> str:
        ins = [x] + [self.init(f"{name}.{k}", p[k]) for k in ("scale", "bias", "mean", "var")]
        return self.node("BatchNormalization", ins, name, epsilon=eps, momentum=0.9)

    def flatten_chain(self, x: str, prefix: str) -> str:
        """PyTorch's export of x.view(x.size(0), -1)."""
        shape = self.node("Shape", [x], f"{prefix}/Shape")
        idx0 = self.const(f"{prefix}/Constant", np.array(0, dtype=np.int64))
        dim0 = self.node("Gather", [shape, idx0], f"{prefix}/Gather", axis=0)
        axes = self.const(f"{prefix}/Constant_1", np.array([0], dtype=np.int64))
        dim0_1d = self.node("Unsqueeze", [dim0, axes], f"{prefix}/Unsqueeze")
        minus1 = self.const(f"{prefix}/Constant_2", np.array([-1], dtype=np.int64))
        new_shape = self.node("Concat", [dim0_1d, minus1], f"{prefix}/Concat", axis=0)
        return self.node("Reshape", [x, new_shape], f"{prefix}/Reshape")

    def model(self, name: str, in_ch: int) -> onnx.ModelProto:
        graph = helper.make_graph(
            self.nodes, name,
            [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch_size", in_ch, HW, HW])],
            [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["batch_size", NUM_OUT])],
            initializer=self.inits)
        m = helper.make_model(graph, producer_name="qnn/tools/make_test_models.py",
                              opset_imports=[helper.make_opsetid("", OPSET)])
        m.ir_version = 7  # the IR version that goes with opset 13; keeps older readers happy
        onnx.checker.check_model(m, full_check=True)
        return m


def build(kind: str, seed: int) -> tuple[onnx.ModelProto, dict]:
    """Build model ``kind``; also return its parameters for the numpy reference."""
    rng = np.random.default_rng(seed)
    in_ch = 3 if kind == "input_bn_conv_bn" else 1
    cout = 4
    eps = 1e-3 if kind == "input_bn_conv_bn" else 1e-5
    p: dict = {"kind": kind, "in_ch": in_ch, "eps": eps}
    p["conv_w"] = rng.normal(0.0, 0.5, (cout, in_ch, 3, 3)).astype(np.float32)
    p["conv_b"] = None if kind == "conv_nobias_bn" else rng.normal(0.0, 0.1, cout).astype(np.float32)
    p["bn"] = bn_params(rng, cout)
    p["in_bn"] = bn_params(rng, in_ch) if kind == "input_bn_conv_bn" else None
    feat = cout * (HW // 2) * (HW // 2)
    p["fc_w"] = rng.normal(0.0, 1.0 / np.sqrt(feat), (NUM_OUT, feat)).astype(np.float32)
    p["fc_b"] = rng.normal(0.0, 0.1, NUM_OUT).astype(np.float32)

    g = GraphBuilder()
    x = "input"
    if p["in_bn"] is not None:
        x = g.batchnorm(x, "/bn_in/BatchNormalization", p["in_bn"], eps)
    conv_in = [x, g.init("conv.weight", p["conv_w"])]
    if p["conv_b"] is not None:
        conv_in.append(g.init("conv.bias", p["conv_b"]))
    x = g.node("Conv", conv_in, "/conv/Conv", kernel_shape=[3, 3], pads=[1, 1, 1, 1],
               strides=[1, 1], dilations=[1, 1], group=1)
    x = g.batchnorm(x, "/bn/BatchNormalization", p["bn"], eps)
    x = g.node("Relu", [x], "/relu/Relu")
    x = g.node("MaxPool", [x], "/pool/MaxPool", kernel_shape=[2, 2], strides=[2, 2],
               pads=[0, 0, 0, 0])
    x = g.flatten_chain(x, "/flatten")
    g.node("Gemm", [x, g.init("fc.weight", p["fc_w"]), g.init("fc.bias", p["fc_b"])],
           "/fc/Gemm", out="output", alpha=1.0, beta=1.0, transB=1)
    return g.model(kind, in_ch), p


# ---------------------------------------------------------------------------------------------
# numpy reference forward pass (float64 internally, rounded to float32 at the end)


def ref_bn(x: np.ndarray, bn: dict, eps: float) -> np.ndarray:
    c = (slice(None),) + (None,) * (x.ndim - 2)
    sh = lambda v: v.astype(np.float64)[c]  # noqa: E731  per-channel broadcast over N,C,H,W
    return (x - sh(bn["mean"])) / np.sqrt(sh(bn["var"]) + eps) * sh(bn["scale"]) + sh(bn["bias"])


def ref_forward(p: dict, x: np.ndarray) -> np.ndarray:
    x = x.astype(np.float64)
    if p["in_bn"] is not None:
        x = ref_bn(x, p["in_bn"], p["eps"])
    n, _, h, w = x.shape
    wgt = p["conv_w"].astype(np.float64)
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    y = np.zeros((n, wgt.shape[0], h, w))
    for ky in range(3):
        for kx in range(3):
            y += np.einsum("nchw,oc->nohw", xp[:, :, ky:ky + h, kx:kx + w], wgt[:, :, ky, kx])
    if p["conv_b"] is not None:
        y += p["conv_b"].astype(np.float64)[None, :, None, None]
    y = np.maximum(ref_bn(y, p["bn"], p["eps"]), 0.0)
    y = y.reshape(n, y.shape[1], h // 2, 2, w // 2, 2).max(axis=(3, 5))
    y = y.reshape(n, -1)
    return (y @ p["fc_w"].astype(np.float64).T + p["fc_b"]).astype(np.float32)


# ---------------------------------------------------------------------------------------------


def sha256(path: str) -> str:
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


MODELS = {"conv_bn_relu": 101, "input_bn_conv_bn": 102, "conv_nobias_bn": 103}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out_dir", help="directory to write the models into (created if missing)")
    args = ap.parse_args()
    os.makedirs(args.out_dir, exist_ok=True)

    try:
        import onnxruntime as ort
    except ImportError:  # the cross-check is optional; the numpy reference is authoritative
        ort = None

    manifest = {"opset": OPSET, "input_name": "input", "output_name": "output", "models": {}}
    for kind, seed in MODELS.items():
        model, params = build(kind, seed)
        x = np.random.default_rng(seed + 1000).uniform(-1.0, 1.0, (BATCH, params["in_ch"], HW, HW))
        x = x.astype(np.float32)
        y = ref_forward(params, x)

        onnx_path = os.path.join(args.out_dir, f"{kind}.onnx")
        with open(onnx_path, "wb") as f:
            f.write(model.SerializeToString(deterministic=True))
        in_path = os.path.join(args.out_dir, f"{kind}.in.f32")
        out_path = os.path.join(args.out_dir, f"{kind}.out.f32")
        x.astype("<f4").tofile(in_path)
        y.astype("<f4").tofile(out_path)

        ort_diff = None
        if ort is not None:
            sess = ort.InferenceSession(onnx_path, providers=["CPUExecutionProvider"])
            (y_ort,) = sess.run(None, {"input": x})
            ort_diff = float(np.abs(y_ort - y).max())
            if ort_diff > 1e-4:
                print(f"ERROR: {kind}: onnxruntime differs from the numpy reference by {ort_diff}")
                return 1

        ops = [n.op_type for n in model.graph.node]
        manifest["models"][kind] = {
            "seed": seed,
            "input_shape": list(x.shape),
            "output_shape": list(y.shape),
            "bn_epsilon": params["eps"],
            "batchnorm_nodes": ops.count("BatchNormalization"),
            "ops": ops,
            "files": {os.path.basename(p): sha256(p) for p in (onnx_path, in_path, out_path)},
            "max_abs_diff_vs_onnxruntime": ort_diff,
        }
        print(f"wrote {onnx_path} ({os.path.getsize(onnx_path)} bytes; "
              f"{ops.count('BatchNormalization')} BatchNormalization; ops {' '.join(ops)})")
        print(f"wrote {in_path} {list(x.shape)} and {out_path} {list(y.shape)}"
              + (f"  (|ref - onnxruntime| <= {ort_diff:.1e})" if ort_diff is not None else ""))

    man_path = os.path.join(args.out_dir, "manifest.json")
    with open(man_path, "w") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")
    print(f"wrote {man_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
