#!/usr/bin/env python3
"""Train the reference Fashion-MNIST CNN and export it to ONNX (opset 13).

This reproduces the float model of the reference flow (PyTorch -> ONNX -> PTQ):

* Data: the gzipped IDX files in --data (default /usr/share/datasets/fashion-mnist).
  Inputs are float32 pixel/255 in [0, 1], shape N x 1 x 28 x 28, no mean/std normalisation.
* Split: the calibration set is the first 700 images of each class in training-file order
  (7,000 images, kept in file order); the remaining 53,000 training images are used for
  training. See ``fmnist_data.calibration_split``; the C++ example implements the same rule.
  The calibration images are never trained on, so they double as the validation set here.
  The 10,000 t10k images are only used once, for the final test accuracy.
* Model: see ``fmnist_model.FashionCNN`` (2 conv blocks with BatchNorm, 3 Linear layers, no
  activation between the Linear layers, Dropout(0.25) after fc1).
* Reproducibility: fixed seed, ``torch.use_deterministic_algorithms(True)``, 2 threads, and a
  data order / augmentation stream drawn from a seeded ``torch.Generator``. Re-running on the
  same machine and torch build gives bit-identical weights; a different CPU or torch build can
  pick different kernels, so expect the same accuracy to within a few hundredths of a point,
  not identical bits.
* Export: ``torch.onnx.export`` in eval mode, opset 13, input ``input``, output ``output``,
  dynamic batch axis ``batch_size`` on both, export_params=True. In eval mode the exporter folds
  BatchNormalization into the preceding Conv, and ``x.view(x.size(0), -1)`` becomes the
  Shape -> Gather -> Unsqueeze -> Concat -> Reshape chain.
* Verification: ``onnx.checker.check_model`` and an onnxruntime (CPU EP) run over all 10,000
  test images; the ORT top-1 accuracy must equal PyTorch's, else the script fails.

Outputs (in --out, default: this script's directory):
    fashion_mnist_fp32.onnx   the model
    fashion_mnist_fp32.json   accuracies, recipe, versions, timing, sha256 of the .onnx
    fashion_mnist_fp32.pt     state_dict, only with --save-pt (not needed by anything else:
                              compare_peers.py rebuilds the PyTorch model from the ONNX file)

Usage:
    .venv/bin/python examples/fashion_mnist/train.py [--out DIR] [--epochs N] [--data DIR]
"""

from __future__ import annotations

import argparse
import collections
import hashlib
import json
import os
import platform
import sys
import time

# Must be set before torch (and its OpenMP runtime) is loaded. With the default (active) policy,
# idle OpenMP workers spin, which made epochs several times slower on a busy 2-core machine.
# Results are unaffected. An explicit OMP_WAIT_POLICY in the environment wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fmnist_data  # noqa: E402
from fmnist_model import FashionCNN, np_to_torch, torch_to_np  # noqa: E402

import torch  # noqa: E402  (imported after fmnist_model, which silences torch's numpy probe)
import torch.nn.functional as F  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ONNX_NAME = "fashion_mnist_fp32.onnx"
JSON_NAME = "fashion_mnist_fp32.json"
PT_NAME = "fashion_mnist_fp32.pt"

# Training recipe. Kept in one place so it can be recorded verbatim in the JSON.
RECIPE = {
    "optimizer": "SGD(momentum=0.9, nesterov=True)",
    "weight_decay": 5e-4,           # applied to conv/linear weights only (not biases, not BN)
    "lr_schedule": "OneCycleLR(max_lr=0.05, pct_start=0.2, cos anneal, div 25, final div 1e4)",
    "max_lr": 0.05,
    "batch_size": 128,
    "label_smoothing": 0.05,
    "hflip": True,                  # random horizontal flip, p = 0.5
    "crop_pad": 0,                  # >0: random 28x28 crop from a zero-padded image (translation)
}


def set_determinism(seed: int, threads: int) -> torch.Generator:
    torch.manual_seed(seed)
    np.random.seed(seed)
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True)
    gen = torch.Generator()
    gen.manual_seed(seed)
    return gen


def augment(x: torch.Tensor, gen: torch.Generator, hflip: bool, pad: int) -> torch.Tensor:
    """Random horizontal flip and/or random translation by up to ``pad`` pixels (zero fill).

    Vectorised over the batch: one padded copy, then per-sample gather of a 28x28 window."""
    n, _, h, w = x.shape
    if hflip:
        flip = torch.rand(n, generator=gen) < 0.5
        x = torch.where(flip[:, None, None, None], x.flip(3), x)
    if pad <= 0:
        return x
    xp = F.pad(x, (pad, pad, pad, pad))
    oy = torch.randint(0, 2 * pad + 1, (n,), generator=gen)
    ox = torch.randint(0, 2 * pad + 1, (n,), generator=gen)
    rows = (oy[:, None] + torch.arange(h))[:, :, None]          # n x h x 1
    cols = (ox[:, None] + torch.arange(w))[:, None, :]          # n x 1 x w
    idx = torch.arange(n)[:, None, None]
    return xp[idx, 0, rows, cols].unsqueeze(1)


@torch.no_grad()
def predict(model: torch.nn.Module, x: torch.Tensor, batch: int = 1000) -> tuple[torch.Tensor, torch.Tensor]:
    """(logits, top-1) of model in eval mode over x."""
    model.eval()
    logits = torch.cat([model(x[s:s + batch]) for s in range(0, x.shape[0], batch)])
    return logits, logits.argmax(1)


def param_groups(model: torch.nn.Module, wd: float) -> list[dict]:
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        # weight decay on conv / linear weights only; BN affine params and biases are excluded
        (decay if p.ndim > 1 else no_decay).append(p)
    return [{"params": decay, "weight_decay": wd}, {"params": no_decay, "weight_decay": 0.0}]


def train(model, x_train, y_train, x_val, y_val, epochs: int, gen: torch.Generator, log) -> list[dict]:
    bs = RECIPE["batch_size"]
    steps_per_epoch = (x_train.shape[0] + bs - 1) // bs
    opt = torch.optim.SGD(param_groups(model, RECIPE["weight_decay"]), lr=RECIPE["max_lr"],
                          momentum=0.9, nesterov=True)
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=RECIPE["max_lr"], epochs=epochs, steps_per_epoch=steps_per_epoch,
        pct_start=0.2, anneal_strategy="cos", div_factor=25.0, final_div_factor=1e4)
    history = []
    for epoch in range(1, epochs + 1):
        t0 = time.time()
        model.train()
        order = torch.randperm(x_train.shape[0], generator=gen)
        loss_sum, correct = 0.0, 0
        for s in range(0, x_train.shape[0], bs):
            idx = order[s:s + bs]
            xb = augment(x_train[idx], gen, RECIPE["hflip"], RECIPE["crop_pad"])
            yb = y_train[idx]
            logits = model(xb)
            loss = F.cross_entropy(logits, yb, label_smoothing=RECIPE["label_smoothing"])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            loss_sum += loss.item() * idx.numel()
            correct += int((logits.argmax(1) == yb).sum())
        _, val_pred = predict(model, x_val)
        val_acc = float((val_pred == y_val).float().mean()) * 100
        rec = {"epoch": epoch, "train_loss": round(loss_sum / x_train.shape[0], 5),
               "train_acc": round(100.0 * correct / x_train.shape[0], 3),
               "val_acc": round(val_acc, 3), "seconds": round(time.time() - t0, 1)}
        history.append(rec)
        log(f"epoch {epoch:2d}/{epochs}  loss {rec['train_loss']:.4f}  train {rec['train_acc']:.2f}%"
            f"  val(calib set) {rec['val_acc']:.2f}%  {rec['seconds']:.0f}s")
    return history


def export_onnx(model: torch.nn.Module, path: str) -> None:
    model.eval()
    dummy = torch.zeros(1, 1, 28, 28)
    torch.onnx.export(
        model, dummy, path,
        export_params=True,
        opset_version=13,
        input_names=["input"],
        output_names=["output"],
        dynamic_axes={"input": {0: "batch_size"}, "output": {0: "batch_size"}},
    )


def sha256_file(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=HERE, help="output directory (default: %(default)s)")
    ap.add_argument("--epochs", type=int, default=18, help="training epochs (default: %(default)s)")
    ap.add_argument("--data", default=fmnist_data.DEFAULT_DATA_DIR,
                    help="directory with the gzipped IDX files (default: %(default)s)")
    ap.add_argument("--seed", type=int, default=1, help="RNG seed (default: %(default)s)")
    ap.add_argument("--threads", type=int, default=2, help="torch threads (default: %(default)s)")
    ap.add_argument("--calib-per-class", type=int, default=700,
                    help="images per class held out for calibration (default: %(default)s)")
    ap.add_argument("--hflip", action=argparse.BooleanOptionalAction, default=RECIPE["hflip"],
                    help="random horizontal flip augmentation (default: %(default)s)")
    ap.add_argument("--crop-pad", type=int, default=RECIPE["crop_pad"],
                    help="random-crop padding in pixels, 0 = off (default: %(default)s)")
    ap.add_argument("--save-pt", action="store_true", help=f"also write {PT_NAME} (state_dict)")
    args = ap.parse_args()
    RECIPE["hflip"] = args.hflip
    RECIPE["crop_pad"] = args.crop_pad

    os.makedirs(args.out, exist_ok=True)
    log = lambda msg: print(msg, flush=True)  # noqa: E731
    gen = set_determinism(args.seed, args.threads)

    # ---- data --------------------------------------------------------------------------------
    tr_img, tr_lab = fmnist_data.load_split(args.data, "train")
    te_img, te_lab = fmnist_data.load_split(args.data, "t10k")
    calib_idx, train_idx = fmnist_data.calibration_split(tr_lab, args.calib_per_class)
    x_train = np_to_torch(fmnist_data.to_input(tr_img[train_idx]))
    y_train = np_to_torch(tr_lab[train_idx].astype(np.int64))
    x_val = np_to_torch(fmnist_data.to_input(tr_img[calib_idx]))
    y_val = np_to_torch(tr_lab[calib_idx].astype(np.int64))
    x_test_np = fmnist_data.to_input(te_img)
    x_test = np_to_torch(x_test_np)
    y_test = np_to_torch(te_lab.astype(np.int64))
    log(f"train {x_train.shape[0]}  calibration/validation {x_val.shape[0]}  test {x_test.shape[0]}")

    # ---- train -------------------------------------------------------------------------------
    model = FashionCNN()
    t0 = time.time()
    history = train(model, x_train, y_train, x_val, y_val, args.epochs, gen, log)
    train_seconds = time.time() - t0
    model.eval()
    logits_pt, pred_pt = predict(model, x_test)
    acc_pt = float((pred_pt == y_test).float().mean()) * 100
    log(f"PyTorch FP32 test accuracy: {acc_pt:.2f}%  (training {train_seconds:.0f}s)")

    # ---- export + verify ---------------------------------------------------------------------
    import onnx
    import onnxruntime as ort

    onnx_path = os.path.join(args.out, ONNX_NAME)
    export_onnx(model, onnx_path)
    onnx_model = onnx.load(onnx_path)
    onnx.checker.check_model(onnx_model, full_check=True)
    op_counts = dict(collections.Counter(n.op_type for n in onnx_model.graph.node))
    bn_folded = "BatchNormalization" not in op_counts
    log(f"ONNX ops: {op_counts}  (BatchNormalization folded into Conv: {bn_folded})")

    sess = fmnist_data.ort_session(onnx_path, threads=args.threads)
    logits_ort = np.concatenate([sess.run(None, {"input": x_test_np[s:s + 1000]})[0]
                                 for s in range(0, x_test_np.shape[0], 1000)])
    pred_ort = logits_ort.argmax(1)
    acc_ort = float((pred_ort == te_lab).mean()) * 100
    pred_pt_np = torch_to_np(pred_pt)
    n_disagree = int((pred_ort != pred_pt_np).sum())
    max_abs_diff = float(np.abs(logits_ort - torch_to_np(logits_pt)).max())
    log(f"ORT FP32 test accuracy: {acc_ort:.2f}%  (top-1 disagreements with PyTorch: {n_disagree},"
        f" max |logit diff| {max_abs_diff:.2e})")

    digest = sha256_file(onnx_path)
    report = {
        "model": ONNX_NAME,
        "sha256": digest,
        "onnx_bytes": os.path.getsize(onnx_path),
        "test_accuracy_pytorch": round(acc_pt, 2),
        "test_accuracy_ort": round(acc_ort, 2),
        "test_correct_pytorch": int((pred_pt == y_test).sum()),
        "test_correct_ort": int((pred_ort == te_lab).sum()),
        "top1_disagreements_pytorch_vs_ort": n_disagree,
        "max_abs_logit_diff_pytorch_vs_ort": max_abs_diff,
        "epochs": args.epochs,
        "seed": args.seed,
        "threads": args.threads,
        "recipe": RECIPE,
        "data": {
            "dir": args.data,
            "preprocessing": "float32 pixel/255, Nx1x28x28, no normalisation",
            "split": f"calibration = first {args.calib_per_class} images of each class in "
                     "training-file order (kept in file order); training = the rest",
            "n_train": int(x_train.shape[0]), "n_calibration": int(x_val.shape[0]),
            "n_test": int(x_test.shape[0]),
        },
        "onnx_export": {"opset": 13, "input": "input", "output": "output",
                        "dynamic_axis": "batch_size", "op_counts": op_counts,
                        "batchnorm_folded_into_conv": bn_folded},
        "history": history,
        "training_seconds": round(train_seconds, 1),
        "versions": {"python": platform.python_version(), "torch": torch.__version__,
                     "onnx": onnx.__version__, "onnxruntime": ort.__version__,
                     "numpy": np.__version__},
        "machine": {"cpu_count": os.cpu_count(), "platform": platform.platform()},
    }
    with open(os.path.join(args.out, JSON_NAME), "w") as f:
        json.dump(report, f, indent=2)
        f.write("\n")
    log(f"wrote {onnx_path} ({report['onnx_bytes']} bytes, sha256 {digest})")
    log(f"wrote {os.path.join(args.out, JSON_NAME)}")

    if args.save_pt:
        pt_path = os.path.join(args.out, PT_NAME)
        torch.save(model.state_dict(), pt_path)
        log(f"wrote {pt_path} ({os.path.getsize(pt_path)} bytes)")

    if report["test_correct_ort"] != report["test_correct_pytorch"]:
        log("ERROR: ORT and PyTorch test accuracies differ")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
