#!/usr/bin/env python3
"""Writes the consumer test's data: x4.npy, the first four Fashion-MNIST test images (float32
[4,1,28,28], pixel / 255), and y4_onnxruntime.npy, ONNX Runtime's logits for them from
examples/fashion_mnist/fashion_mnist_fp32.onnx — the judge the installed qnn is held to.

    .venv/bin/python tests/consumer/make_data.py [--fashion-mnist /usr/share/datasets/fashion-mnist]
"""

import argparse
import gzip
import pathlib

import numpy as np
import onnxruntime as ort

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent.parent


def read(path: pathlib.Path) -> bytes:
    gz = path.with_name(path.name + ".gz")
    return path.read_bytes() if path.exists() else gzip.decompress(gz.read_bytes())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--fashion-mnist", type=pathlib.Path, default=pathlib.Path("/usr/share/datasets/fashion-mnist"))
    args = ap.parse_args()
    images = np.frombuffer(read(args.fashion_mnist / "t10k-images-idx3-ubyte"), np.uint8, offset=16)
    x = images.reshape(-1, 1, 28, 28)[:4].astype(np.float32) / np.float32(255)
    session = ort.InferenceSession(str(ROOT / "examples/fashion_mnist/fashion_mnist_fp32.onnx"),
                                   providers=["CPUExecutionProvider"])
    y = session.run(None, {"input": x})[0]
    np.save(HERE / "x4.npy", x)
    np.save(HERE / "y4_onnxruntime.npy", y)
    print("classes", y.argmax(1))


if __name__ == "__main__":
    main()
