"""The reference Fashion-MNIST CNN in PyTorch, plus numpy<->torch helpers.

Architecture (as in the reference report / notebook):
    layer1: Conv(1->32, 3x3, pad 1) + BatchNorm + ReLU + MaxPool 2x2      28x28 -> 14x14
    layer2: Conv(32->64, 3x3, no pad) + BatchNorm + ReLU + MaxPool 2x2    14x14 -> 12x12 -> 6x6
    flatten with x.view(x.size(0), -1)                                   -> 2304
    fc1: Linear(2304 -> 600), Dropout(0.25), fc2: Linear(600 -> 120), fc3: Linear(120 -> 10)
There is deliberately no activation between the fully connected layers (the reference float
model has exactly two Relu ops).

Why the numpy helpers: Debian's torch 1.13 is built against numpy 1.x, but amd-quark (and the
ml_dtypes wheel that onnx needs) pull numpy 2.x into the venv, which breaks torch.from_numpy /
Tensor.numpy ("Numpy is not available"). We therefore move data across through raw byte buffers,
which works with either numpy major version.
"""

from __future__ import annotations

import contextlib
import ctypes
import io
import warnings

import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402


def _quiet_numpy_probe() -> None:
    """torch 1.13 probes numpy's C API on the first tensor it creates. Under numpy 2 the probe
    fails: numpy prints a long 'compiled using NumPy 1.x' notice to stderr and torch warns
    'Failed to initialize NumPy'. Both are harmless for us (we never use the bridge), so trigger
    the probe once here with both silenced."""
    with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
        warnings.simplefilter("ignore")
        torch.empty(1)


_quiet_numpy_probe()

_NP_TO_TORCH = {
    np.dtype(np.float32): torch.float32,
    np.dtype(np.int64): torch.int64,
    np.dtype(np.uint8): torch.uint8,
}


def np_to_torch(arr: np.ndarray) -> torch.Tensor:
    """Copy a numpy array into a new torch tensor without torch's numpy bridge."""
    arr = np.ascontiguousarray(arr)
    dtype = _NP_TO_TORCH[arr.dtype]
    if arr.size == 0:
        return torch.empty(arr.shape, dtype=dtype)
    return torch.frombuffer(bytearray(arr.tobytes()), dtype=dtype).reshape(arr.shape)


def torch_to_np(t: torch.Tensor) -> np.ndarray:
    """Copy a float32/int64/uint8 torch tensor into a new numpy array (reads its raw memory)."""
    t = t.detach().contiguous().cpu()
    for np_dt, t_dt in _NP_TO_TORCH.items():
        if t.dtype == t_dt:
            nbytes = t.numel() * t.element_size()
            if nbytes == 0:
                return np.empty(tuple(t.shape), dtype=np_dt)
            raw = (ctypes.c_char * nbytes).from_address(t.data_ptr())
            # .copy() detaches the result from t's memory before t can be freed
            return np.frombuffer(raw, dtype=np_dt).reshape(tuple(t.shape)).copy()
    raise TypeError(f"unsupported dtype {t.dtype}")


class FashionCNN(nn.Module):
    """The reference CNN. ``with_bn=False`` gives the inference form in which BatchNorm has
    already been folded into the convolutions (that is what the exported ONNX contains)."""

    def __init__(self, with_bn: bool = True):
        super().__init__()

        def bn(c: int) -> nn.Module:
            return nn.BatchNorm2d(c) if with_bn else nn.Identity()

        self.layer1 = nn.Sequential(
            nn.Conv2d(1, 32, kernel_size=3, padding=1), bn(32), nn.ReLU(), nn.MaxPool2d(2, 2))
        self.layer2 = nn.Sequential(
            nn.Conv2d(32, 64, kernel_size=3), bn(64), nn.ReLU(), nn.MaxPool2d(2, 2))
        self.fc1 = nn.Linear(64 * 6 * 6, 600)
        self.drop = nn.Dropout(0.25)
        self.fc2 = nn.Linear(600, 120)
        self.fc3 = nn.Linear(120, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.layer1(x)
        out = self.layer2(out)
        # The reference flattens with view(size(0), -1); the exporter turns this into the
        # Shape -> Gather -> Unsqueeze -> Concat -> Reshape chain that the C++ importer handles.
        out = out.view(out.size(0), -1)
        out = self.fc1(out)
        out = self.drop(out)
        out = self.fc2(out)
        return self.fc3(out)


def model_from_onnx(onnx_path: str) -> FashionCNN:
    """Rebuild the (BN-folded) PyTorch model from the initializers of the exported ONNX file.

    Walks the graph in order and assigns Conv (W, B) and Gemm (B, C) initializers to the
    Conv2d / Linear modules in the same order, so the only artefact to keep is the .onnx.
    """
    import onnx
    from onnx import numpy_helper

    model = onnx.load(onnx_path)
    inits = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    convs = [n for n in model.graph.node if n.op_type == "Conv"]
    gemms = [n for n in model.graph.node if n.op_type == "Gemm"]
    net = FashionCNN(with_bn=False)
    conv_mods = [net.layer1[0], net.layer2[0]]
    fc_mods = [net.fc1, net.fc2, net.fc3]
    if len(convs) != len(conv_mods) or len(gemms) != len(fc_mods):
        raise ValueError(f"{onnx_path}: expected 2 Conv + 3 Gemm, got {len(convs)} + {len(gemms)}"
                         " (was BatchNormalization left unfolded?)")
    with torch.no_grad():
        for node, mod in zip(convs, conv_mods):
            mod.weight.copy_(np_to_torch(inits[node.input[1]]))
            mod.bias.copy_(np_to_torch(inits[node.input[2]]))
        for node, mod in zip(gemms, fc_mods):
            attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
            w = inits[node.input[1]]
            if attrs.get("transB", 0) != 1:
                w = w.T  # torch Linear stores (out, in); ONNX Gemm with transB=0 stores (in, out)
            if attrs.get("transA", 0) != 0 or attrs.get("alpha", 1.0) != 1.0 \
                    or attrs.get("beta", 1.0) != 1.0:
                raise ValueError(f"unexpected Gemm attributes {attrs}")
            mod.weight.copy_(np_to_torch(w))
            mod.bias.copy_(np_to_torch(inits[node.input[2]]))
    return net.eval()
