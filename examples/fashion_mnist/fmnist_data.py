"""Fashion-MNIST data helpers shared by train.py and compare_peers.py (numpy only, no torch).

The dataset is read straight from the four gzipped IDX files; nothing is downloaded.

Preprocessing (the same in Python and in the C++ example):
    x = pixel / 255.0   as float32, shape N x 1 x 28 x 28, no mean/std normalisation.

Calibration / training split (must be reproducible bit-for-bit from C++):
    Walk the 60,000 training labels in file order. The first ``per_class`` (default 700)
    images of each class go to the calibration set; every other image goes to the training
    set. Both sets keep training-file order, i.e. the calibration set is NOT grouped by
    class: it is the sorted list of the selected file indices. With per_class=700 that is
    7,000 calibration images and 53,000 training images. No randomness is involved.
"""

from __future__ import annotations

import gzip
import os
import struct

import numpy as np

DEFAULT_DATA_DIR = "/usr/share/datasets/fashion-mnist"
NUM_CLASSES = 10
CLASS_NAMES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)

# IDX magic numbers: 0x00000801 = unsigned-byte vector, 0x00000803 = unsigned-byte 3-D tensor.
_IDX_LABELS_MAGIC = 0x00000801
_IDX_IMAGES_MAGIC = 0x00000803


def read_idx(path: str) -> np.ndarray:
    """Read a (optionally gzipped) IDX file of unsigned bytes; returns a uint8 array."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    (magic,) = struct.unpack(">I", data[:4])
    if magic == _IDX_LABELS_MAGIC:
        (n,) = struct.unpack(">I", data[4:8])
        shape, offset = (n,), 8
    elif magic == _IDX_IMAGES_MAGIC:
        n, rows, cols = struct.unpack(">III", data[4:16])
        shape, offset = (n, rows, cols), 16
    else:
        raise ValueError(f"{path}: unsupported IDX magic 0x{magic:08x}")
    arr = np.frombuffer(data, dtype=np.uint8, offset=offset)
    if arr.size != int(np.prod(shape)):
        raise ValueError(f"{path}: expected {np.prod(shape)} bytes of payload, got {arr.size}")
    return arr.reshape(shape)


def load_split(data_dir: str, split: str) -> tuple[np.ndarray, np.ndarray]:
    """Return (images uint8 Nx28x28, labels uint8 N) for split 'train' or 't10k'."""
    images = read_idx(os.path.join(data_dir, f"{split}-images-idx3-ubyte.gz"))
    labels = read_idx(os.path.join(data_dir, f"{split}-labels-idx1-ubyte.gz"))
    if images.shape[0] != labels.shape[0]:
        raise ValueError(f"{split}: {images.shape[0]} images but {labels.shape[0]} labels")
    return images, labels


def calibration_split(labels: np.ndarray, per_class: int = 700) -> tuple[np.ndarray, np.ndarray]:
    """Split training-file indices into (calibration, training) by the documented rule.

    The first ``per_class`` images of each class, in training-file order, are calibration;
    all the others are training. Both returned index arrays are ascending (file order).
    """
    if per_class < 0:
        raise ValueError("per_class must be >= 0")
    seen = np.zeros(NUM_CLASSES, dtype=np.int64)
    is_calib = np.zeros(labels.shape[0], dtype=bool)
    for i, y in enumerate(labels.tolist()):
        if seen[y] < per_class:
            seen[y] += 1
            is_calib[i] = True
    if np.any(seen < per_class):
        raise ValueError(f"not enough images for {per_class} per class: {seen.tolist()}")
    idx = np.arange(labels.shape[0], dtype=np.int64)
    return idx[is_calib], idx[~is_calib]


def to_input(images_u8: np.ndarray) -> np.ndarray:
    """uint8 N x 28 x 28 -> float32 N x 1 x 28 x 28 in [0, 1] (pixel / 255, no normalisation)."""
    x = images_u8.astype(np.float32) / np.float32(255.0)
    return np.ascontiguousarray(x.reshape(images_u8.shape[0], 1, 28, 28))


def ort_predict(session, x: np.ndarray, batch_size: int = 500) -> np.ndarray:
    """Top-1 predictions of an onnxruntime session over x (float32 Nx1x28x28), batched."""
    in_name = session.get_inputs()[0].name
    preds = []
    for s in range(0, x.shape[0], batch_size):
        (logits,) = session.run(None, {in_name: x[s:s + batch_size]})
        preds.append(np.argmax(logits, axis=1))
    return np.concatenate(preds)


def ort_session(model_path: str, threads: int = 2):
    """CPUExecutionProvider session with a fixed thread count (results must not depend on it,
    but timing does)."""
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    return ort.InferenceSession(model_path, so, providers=["CPUExecutionProvider"])
