#!/usr/bin/env python3
"""qnn against the post-training int8 quantizers users use today, like for like, in one run.

Every tool starts from the committed FP32 model (fashion_mnist_fp32.onnx), calibrates on the same
images and is evaluated on the same 10,000 test images:

* calibration set: the first --calib-per-class (default 700) images of each class in
  training-file order (7,000 images, file order; see fmnist_data.calibration_split),
  fed in batches of --calib-batch;
* preprocessing: float32 pixel/255, N x 1 x 28 x 28;
* threads: --threads (default 2) everywhere: ORT intra-op threads, torch.set_num_threads,
  qnn --threads.

Peers
  ort    onnxruntime.quantization.quantize_static, QDQ format, calibrate methods MinMax, Entropy
         and Percentile (ORT defaults for each), U8S8 (activations QUInt8, weights QInt8) and
         S8S8 (QInt8 / QInt8), weights per-channel and per-tensor, reduce_range=False; plus one
         U8S8 per-channel MinMax row with reduce_range=True (ORT's advice for non-VNNI x86).
  quark  AMD Quark's ONNX ModelQuantizer: XINT8 and A8W8 presets, and the configuration of the
         reference report (legacy Config/QuantizationConfig API: QDQ, Entropy, per-channel,
         int8 activations and weights, optimize_model=True, no CLE).
  torch  PyTorch eager-mode PTQ (torch.ao.quantization) with the engine's default qconfig on the
         same network, rebuilt from the ONNX initializers (BatchNorm is already folded there),
         Conv+ReLU fused; engines onednn and qnnpack. Evaluated by PyTorch itself.

qnn, beside every peer row
  Right after each peer quantizes (back to back, alternating when --repeat > 1), `qnn quantize`
  runs the closest configuration: the same weight granularity, the same method (ORT/Quark
  Percentile -> percentile at the peer's 99.999, Quark's power-of-two MinMSE -> pow2-mse,
  PyTorch's HistogramObserver, an L2-error search -> mse), the same 7,000 images (written once to
  a .npy; `--calib-idx DIR` selects the same images and gives the same model byte for byte, which
  the run checks), the same batch and threads. What remains different is written in the row
  (`qnn.differences`), with the quantization scheme read back from both QDQ models
  (`scheme`: activation dtype, zero points, weight granularity, power-of-two scales).
  qnn's QDQ model is evaluated by ONNX Runtime exactly as the peers' models are, and by
  `qnn eval` (qnn's own integer kernels).

Times
  peer calib s   the quantizer call: ORT quantize_static / Quark quantize_model (model load,
                 calibration, writing the QDQ model), PyTorch prepare + calibration + convert.
                 The data is already in memory.
  qnn calib s    the time `qnn quantize` prints: quantize() itself (graph preparation,
                 calibration, QDQ build), without reading the model and the .npy or writing.
  qnn wall s     the whole `qnn quantize` process: start, model and .npy reading, writing.
  The fair figure lies between the two qnn times; both ratios peer/qnn are printed. With
  --repeat N the fastest of N is kept for each tool (the machine may be shared).
  The run also measures qnn's FP32 forward throughput (`qnn profile`, batch 100) and records the
  time one or two FP32 passes over the calibration set take: no calibration can be faster.

Accuracy in ORT, fused / unfused: the default session (ORT fuses QDQ groups into QLinearConv /
QGemm kernels; the ops of the optimised graph are recorded) and the same model with every graph
optimisation off, where each QDQ group runs as DequantizeLinear -> float op -> QuantizeLinear,
the exact QDQ semantics. The two differ when ORT's integer kernels do not compute what the QDQ
graph says (int16 saturation in the u8*s8 kernels of AVX2 CPUs without VNNI: the per-channel
rows).

Output: a markdown table on stdout and, with --json, a JSON report. With --save-qdq DIR, the ORT
U8S8 MinMax per-channel QDQ model is also written to DIR (the C++ tests use it as an oracle).

Usage:
    .venv/bin/python examples/fashion_mnist/compare_peers.py --json examples/fashion_mnist/compare_peers.json
    .venv/bin/python examples/fashion_mnist/compare_peers.py --only ort --save-qdq out/ --no-qnn
    .venv/bin/python examples/fashion_mnist/compare_peers.py --only ort --calib-per-class 10 --test-limit 200
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import copy
import dataclasses
import json
import os
import platform
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import traceback
import warnings

# Before torch / OpenMP load: idle workers sleep instead of spinning (see train.py).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import fmnist_data  # noqa: E402

DEFAULT_MODEL = os.path.join(HERE, "fashion_mnist_fp32.onnx")
DEFAULT_QNN = os.path.join(REPO_ROOT, "build", "tools", "qnn")
QDQ_ORACLE_NAME = "fashion_mnist_qdq_u8s8_minmax_perchannel.onnx"
TOOLS = ("ort", "quark", "torch")
# ORT's and Quark's Percentile default (calibrate.py / quark calibrators.py); passed to qnn
# explicitly so the row does not depend on qnn's own default staying the same.
PEER_PERCENTILE = 99.999


# ---------------------------------------------------------------------------------------------
# shared helpers


def make_reader(x: np.ndarray, batch: int):
    """A CalibrationDataReader (onnxruntime's interface, which Quark also uses) yielding
    {"input": x[i:i+batch]} in order; rewind() restarts it."""
    from onnxruntime.quantization import CalibrationDataReader

    class _Reader(CalibrationDataReader):
        def __init__(self) -> None:
            super().__init__()
            self.pos = 0

        def get_next(self):
            if self.pos >= x.shape[0]:
                return None
            b = x[self.pos:self.pos + batch]
            self.pos += batch
            return {"input": b}

        def rewind(self) -> None:  # some quantizers make several passes
            self.pos = 0

        def __len__(self) -> int:
            return (x.shape[0] + batch - 1) // batch

    return _Reader()


@contextlib.contextmanager
def capture_output(log_path: str):
    """Send everything written to stdout/stderr (Python, C++ and tqdm alike) to log_path.

    Works at file-descriptor level because the quantizers' loggers keep their own references
    to the original streams, which contextlib.redirect_stdout would not catch."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with open(log_path, "w") as f:
        os.dup2(f.fileno(), 1)
        os.dup2(f.fileno(), 2)
        try:
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])


def log_tail(log_path: str, n: int = 15) -> str:
    try:
        with open(log_path, errors="replace") as f:
            return "".join(f.readlines()[-n:])
    except OSError:
        return ""


def op_counts(model_path: str) -> dict[str, int]:
    import onnx

    m = onnx.load(model_path)
    return dict(collections.Counter(
        (f"{n.domain}::{n.op_type}" if n.domain not in ("", "ai.onnx") else n.op_type)
        for n in m.graph.node))


def qdq_scheme(model_path: str) -> dict:
    """The quantization a QDQ model actually holds, read from its initializers, so that a row's
    stated differences can be checked against the files rather than the tools' documentation.

    Activations are the QuantizeLinear inputs (all tools store weights already quantized, behind
    a DequantizeLinear); weights are the int8 initializers behind a DequantizeLinear."""
    import onnx
    from onnx import numpy_helper

    m = onnx.load(model_path)
    init = {i.name: numpy_helper.to_array(i) for i in m.graph.initializer}
    for n in m.graph.node:  # some exporters keep scales and zero points in Constant nodes
        if n.op_type == "Constant" and n.attribute and n.attribute[0].name == "value":
            init[n.output[0]] = numpy_helper.to_array(n.attribute[0].t)
    act_dtypes, act_zps, scales, w_gran = set(), set(), [], set()
    for n in m.graph.node:
        if n.op_type == "QuantizeLinear" and len(n.input) >= 3 and n.input[2] in init:
            zp = init[n.input[2]]
            act_dtypes.add(str(zp.dtype))
            act_zps.update(int(v) for v in np.ravel(zp))
            scales.append(init[n.input[1]])
        elif n.op_type == "DequantizeLinear" and n.input[0] in init:
            q = init[n.input[0]]
            if q.dtype == np.int8:
                s = init[n.input[1]]
                w_gran.add("per-channel" if s.size > 1 else "per-tensor")
                scales.append(s)
    flat = np.concatenate([np.ravel(s).astype(np.float64) for s in scales]) if scales else np.zeros(0)
    pow2 = bool(flat.size) and bool(np.all(np.exp2(np.round(np.log2(flat))) == flat))
    return {"activation_dtypes": sorted(act_dtypes), "activation_zero_points": sorted(act_zps),
            "weights": "/".join(sorted(w_gran)) or "?", "pow2_scales": pow2}


def evaluate_onnx(path: str, x: np.ndarray, y: np.ndarray, threads: int, work: str,
                  custom_op_lib: str | None = None) -> dict:
    """Accuracy with ORT CPU EP; also records the ops ORT actually runs after its graph
    optimisations (by saving the optimised graph), which shows whether QDQ got fused."""
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.log_severity_level = 3
    if custom_op_lib:
        so.register_custom_ops_library(custom_op_lib)
    # Extended (not ALL) so the saved graph is the portable, layout-independent one: ALL adds
    # NCHWc transforms that only matter for float Conv; the int8 fusions happen at Extended.
    opt_path = os.path.join(work, os.path.basename(path).replace(".onnx", ".ort_opt.onnx"))
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
    so.optimized_model_filepath = opt_path
    ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    fused_ops = op_counts(opt_path)

    so2 = ort.SessionOptions()
    so2.intra_op_num_threads = threads
    so2.inter_op_num_threads = 1
    so2.log_severity_level = 3
    if custom_op_lib:
        so2.register_custom_ops_library(custom_op_lib)
    sess = ort.InferenceSession(path, so2, providers=["CPUExecutionProvider"])  # default: ALL
    t0 = time.perf_counter()
    pred = fmnist_data.ort_predict(sess, x, batch_size=500)
    infer_s = time.perf_counter() - t0
    correct = int((pred == y).sum())

    # The same model with every graph optimisation off: each QDQ group then runs literally as
    # DequantizeLinear -> float op -> QuantizeLinear, i.e. the exact QDQ semantics without ORT's
    # integer kernels. A gap between the two numbers comes from the kernels, not the
    # quantization parameters (on AVX2 CPUs without VNNI, the u8*s8 kernels can saturate).
    so3 = ort.SessionOptions()
    so3.intra_op_num_threads = threads
    so3.inter_op_num_threads = 1
    so3.log_severity_level = 3
    so3.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    if custom_op_lib:
        so3.register_custom_ops_library(custom_op_lib)
    sess3 = ort.InferenceSession(path, so3, providers=["CPUExecutionProvider"])
    pred3 = fmnist_data.ort_predict(sess3, x, batch_size=500)
    correct3 = int((pred3 == y).sum())
    return {"correct": correct, "accuracy": 100.0 * correct / y.shape[0],
            "correct_unfused": correct3, "accuracy_unfused": 100.0 * correct3 / y.shape[0],
            "top1_disagreements_fused_vs_unfused": int((pred != pred3).sum()),
            "eval_seconds": round(infer_s, 2), "model_ops": op_counts(path),
            "ort_optimized_ops": fused_ops}


def row(tool: str, config: str, granularity: str, method: str, **kw) -> dict:
    r = {"tool": tool, "config": config, "weights": granularity, "method": method,
         "accuracy": None, "drop_pp": None, "calib_seconds": None, "status": "ok"}
    r.update(kw)
    return r


def fail_row(r: dict, exc: BaseException, log: str = "") -> dict:
    r["status"] = "failed"
    r["error"] = f"{type(exc).__name__}: {exc}"
    r["traceback"] = traceback.format_exc(limit=6)
    if log:
        r["log_tail"] = log
    print(f"   FAILED: {r['error']}", flush=True)
    return r


# ---------------------------------------------------------------------------------------------
# qnn, run as the command-line tool on the same data


@dataclasses.dataclass
class QnnSpec:
    """The qnn configuration matched to one peer row, and what still differs from the peer."""
    config: str                 # --config
    per_channel: bool           # --per-channel / --per-tensor
    method: str                 # --method
    differences: list[str]
    percentile: float | None = None
    reduce_range: bool = False  # --reduce-range (7-bit weights, ORT's reduce_range)

    def args(self) -> list[str]:
        a = ["--config", self.config, "--method", self.method,
             "--per-channel" if self.per_channel else "--per-tensor"]
        if self.reduce_range:
            a.append("--reduce-range")
        if self.percentile is not None:
            a += ["--percentile", repr(self.percentile)]
        return a


class Qnn:
    """Runs `qnn quantize` and `qnn eval` on the files the peers use."""

    # `qnn quantize` prints "... N calibration samples, T s" (tools/qnn/cmd_quantize.hpp); the
    # --log JSON holds the decision log only, so the time is read from here.
    _TIME = re.compile(r"(\d+) calibration samples, ([0-9.eE+-]+) s")

    def __init__(self, exe: str, model: str, calib_npy: str, idx_dir: str, args, work: str):
        self.exe, self.model, self.calib_npy, self.idx_dir = exe, model, calib_npy, idx_dir
        self.threads, self.batch, self.work = args.threads, args.calib_batch, work

    def _run(self, argv: list[str]) -> tuple[str, float]:
        t0 = time.perf_counter()
        p = subprocess.run([self.exe] + argv, capture_output=True, text=True)
        wall = time.perf_counter() - t0
        if p.returncode != 0:
            raise RuntimeError(f"qnn {argv[0]} exited {p.returncode}: {p.stderr.strip()[-500:]}")
        return p.stdout, wall

    def quantize(self, spec: QnnSpec, out: str, calib: list[str] | None = None) -> dict:
        argv = (["quantize", self.model] + (calib or ["--calib", self.calib_npy]) + ["-o", out]
                + spec.args() + ["--batch", str(self.batch), "--threads", str(self.threads)])
        stdout, wall = self._run(argv)
        m = self._TIME.search(stdout)
        if not m:
            raise RuntimeError(f"no calibration time in qnn's output: {stdout[:300]!r}")
        return {"samples": int(m.group(1)), "calib_seconds": float(m.group(2)), "wall_seconds": wall,
                "command": "qnn " + " ".join(os.path.relpath(a, self.work) if a.startswith(self.work)
                                             else a for a in argv)}

    def eval(self, path: str) -> dict:
        stdout, _ = self._run(["eval", path, "--idx", self.idx_dir, "--json",
                               "--threads", str(self.threads)])
        d = json.loads(stdout)
        return {"accuracy": d["top1"], "images": d["images"], "eval_seconds": round(d["seconds"], 2)}

    def fp32_throughput(self, x: np.ndarray, tries: int = 3) -> dict:
        """Images/s of the FP32 forward pass (qnn profile, median of 30 runs; best of `tries`
        calls, since the machine may be shared): the floor under any calibration time."""
        x_path = os.path.join(self.work, "profile_input.npy")
        np.save(x_path, x)
        best = None
        for _ in range(tries):
            stdout, _ = self._run(["profile", self.model, "--input", x_path, "--runs", "30",
                                   "--json", "--threads", str(self.threads)])
            d = json.loads(stdout)
            if best is None or d["seconds"] < best["seconds"]:
                best = d
        return {"batch": best["batch"], "threads": best["threads"], "seconds_per_batch": best["seconds"],
                "images_per_second": round(best["batch"] / best["seconds"]),
                "macs_per_image": best["total_macs"] // best["batch"], "gmacs": round(best["gmacs"], 2)}

    def version(self) -> dict:
        info = {"path": self.exe}
        git = subprocess.run(["git", "-C", os.path.dirname(self.exe), "log", "-1", "--format=%h %cI"],
                             capture_output=True, text=True)
        if git.returncode == 0:
            info["repo_head_when_run"] = git.stdout.strip()
        info["binary_mtime"] = time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(os.path.getmtime(self.exe)))
        return info


def write_idx_subset(images: np.ndarray, labels: np.ndarray, out_dir: str) -> str:
    """Uncompressed t10k IDX files of the given images, so `qnn eval` (which reads whole IDX
    files) sees the same --test-limit images as the Python side."""
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "t10k-images-idx3-ubyte"), "wb") as f:
        f.write(struct.pack(">IIII", 0x803, *images.shape))
        f.write(np.ascontiguousarray(images, dtype=np.uint8).tobytes())
    with open(os.path.join(out_dir, "t10k-labels-idx1-ubyte"), "wb") as f:
        f.write(struct.pack(">II", 0x801, labels.shape[0]))
        f.write(np.ascontiguousarray(labels, dtype=np.uint8).tobytes())
    return out_dir


def fastest(times: list[float]) -> float:
    return round(min(times), 3)


def run_pair(ctx, r: dict, quantize_once, evaluate, spec: QnnSpec | None, tag: str,
             log_path: str):
    """Quantize with the peer and with qnn back to back, --repeat times, alternating, so both
    see the same machine load; then evaluate both results. Returns the peer's last result.

    A peer failure raises (the caller records it); a qnn failure is recorded in r["qnn"] and
    does not stop the peer's row."""
    peer_times, qnn_runs, qnn_error, result = [], [], None, None
    q_out = os.path.join(ctx.work, f"qnn_{tag}.onnx")
    for _ in range(ctx.args.repeat):
        t0 = time.perf_counter()
        with capture_output(log_path), warnings.catch_warnings():
            # The quantizers are chatty (tables, progress bars); keep it out of our table.
            warnings.simplefilter("ignore")
            result = quantize_once()
        peer_times.append(time.perf_counter() - t0)
        if ctx.qnn and spec and qnn_error is None:
            try:
                qnn_runs.append(ctx.qnn.quantize(spec, q_out))
            except Exception as exc:  # noqa: BLE001
                qnn_error = f"{type(exc).__name__}: {exc}"
    r["calib_seconds"] = fastest(peer_times)
    r["calib_seconds_all"] = [round(t, 3) for t in peer_times]
    r.update(evaluate(result))
    r["qnn"] = qnn_side(ctx, spec, q_out, qnn_runs, qnn_error)
    return result


def qnn_side(ctx, spec: QnnSpec | None, q_out: str, runs: list[dict], error: str | None) -> dict:
    if spec is None:
        return {"status": "unmatched", "reason": "no qnn configuration corresponds to this row"}
    side = {"config": spec.config,
            "weights": ("per-channel" if spec.per_channel else "per-tensor") + (", 7-bit" if spec.reduce_range else ""),
            "method": spec.method + (f" {spec.percentile}" if spec.percentile is not None else ""),
            "differences": spec.differences}
    if ctx.qnn is None:
        side.update(status="skipped", reason=ctx.qnn_skip_reason)
        return side
    if error is not None:
        side.update(status="failed", error=error)
        print(f"   qnn FAILED: {error}", flush=True)
        return side
    side.update(status="ok", command=runs[-1]["command"], samples=runs[-1]["samples"],
                calib_seconds=fastest([q["calib_seconds"] for q in runs]),
                wall_seconds=fastest([q["wall_seconds"] for q in runs]),
                calib_seconds_all=[round(q["calib_seconds"], 3) for q in runs],
                wall_seconds_all=[round(q["wall_seconds"], 3) for q in runs])
    try:
        side["ort"] = evaluate_onnx(q_out, ctx.x_test, ctx.y_test, ctx.args.threads, ctx.work)
        side["qnn_eval"] = ctx.qnn.eval(q_out)
        side["scheme"] = qdq_scheme(q_out)
    except Exception as exc:  # noqa: BLE001
        side.update(status="failed", error=f"evaluation: {type(exc).__name__}: {exc}")
        print(f"   qnn FAILED: {side['error']}", flush=True)
    return side


# ---------------------------------------------------------------------------------------------
# onnxruntime

def ort_qnn_spec(cfg: str, per_channel: bool, method: str, reduce_range: bool) -> QnnSpec:
    diffs = []
    if method == "Entropy":
        diffs.append("entropy: ORT's defaults are 128 histogram bins and 128 quantized bins (its search has"
                     " nothing to choose from, so it returns MinMax's range here); qnn searches the exact |x| fold"
                     " of its grid histogram (1024-4097 bins) with 256/128 levels (TensorRT's algorithm) and"
                     " has no CLI option for bins or levels")
    if method == "Percentile":
        diffs.append(f"percentile {PEER_PERCENTILE} in both; ORT returns the edge of the bin of a 2048-bin"
                     " histogram where the CDF reaches p, qnn interpolates inside the bin")
    return QnnSpec(config="u8s8" if cfg == "U8S8" else "s8s8", per_channel=per_channel,
                   method=method.lower(), differences=diffs,
                   percentile=PEER_PERCENTILE if method == "Percentile" else None, reduce_range=reduce_range)


def run_ort(ctx, x_cal, full: bool) -> list[dict]:
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    args = ctx.args
    act_types = {"U8S8": QuantType.QUInt8, "S8S8": QuantType.QInt8}
    methods = {"MinMax": CalibrationMethod.MinMax, "Entropy": CalibrationMethod.Entropy,
               "Percentile": CalibrationMethod.Percentile}
    # (config, per_channel, method, reduce_range)
    combos = [(c, pc, m, False) for c in act_types for pc in (True, False) for m in methods]
    # Extra: ORT's advice for x86 CPUs without VNNI is reduce_range=True (7-bit weights) to
    # avoid saturation in the u8*s8 kernels; one row shows its effect.
    combos.append(("U8S8", True, "MinMax", True))
    if not full:  # only what --save-qdq needs
        combos = [("U8S8", True, "MinMax", False)]
    rows = []
    for cfg, per_channel, method, reduce_range in combos:
        gran = "per-channel" if per_channel else "per-tensor"
        label = cfg + (" reduce_range" if reduce_range else "")
        tag = f"ort_{cfg}{'_rr' if reduce_range else ''}_{'pc' if per_channel else 'pt'}_{method}"
        out = os.path.join(ctx.work, tag + ".onnx")
        r = row("onnxruntime", label, gran, method, reduce_range=reduce_range)
        print(f"-- ORT quantize_static {label} {gran} {method}", flush=True)

        def quantize_once(out=out, per_channel=per_channel, reduce_range=reduce_range, cfg=cfg,
                          method=method):
            quantize_static(args.model, out, make_reader(x_cal, args.calib_batch),
                            quant_format=QuantFormat.QDQ, per_channel=per_channel,
                            reduce_range=reduce_range, activation_type=act_types[cfg],
                            weight_type=QuantType.QInt8, calibrate_method=methods[method])
            return out

        def evaluate(path):
            return {**evaluate_onnx(path, ctx.x_test, ctx.y_test, args.threads, ctx.work),
                    "scheme": qdq_scheme(path)}

        spec = ort_qnn_spec(cfg, per_channel, method, reduce_range)
        log_path = out.replace(".onnx", ".log")
        try:
            run_pair(ctx, r, quantize_once, evaluate, spec, tag, log_path)
        except Exception as exc:  # noqa: BLE001  keep going, report the failure
            rows.append(fail_row(r, exc, log_tail(log_path)))
            continue
        if per_channel and r.get("accuracy_unfused") is not None and r["accuracy"] != r["accuracy_unfused"]:
            r["fused_vs_unfused_note"] = (
                "ORT's fused u8*s8 / s8*s8 integer kernels (QLinearConv, QGemm) differ from the QDQ graph"
                " run unfused: on AVX2 CPUs without VNNI the int16 pair sums of vpmaddubsw saturate, which"
                " per-channel weights (each channel scaled to use the full int8 range) trigger;"
                " reduce_range=True avoids it at the cost of 7-bit weights")
        rows.append(r)
        if args.save_qdq and (cfg, per_channel, method, reduce_range) == ("U8S8", True, "MinMax", False):
            os.makedirs(args.save_qdq, exist_ok=True)
            dst = os.path.join(args.save_qdq, QDQ_ORACLE_NAME)
            shutil.copyfile(out, dst)
            r["saved_to"] = dst
            print(f"   saved {dst}", flush=True)
    return rows


# ---------------------------------------------------------------------------------------------
# AMD Quark


def import_quark():
    """Import quark.onnx on Debian's torch 1.13.

    quark.common.utils.import_utils does ``from torch.ao.quantization.pt2e.utils import
    _get_tensor_constant_from_node`` for any torch <= 2.10. torch 1.13 has no pt2e package, so the
    import fails although the ONNX quantizer never calls that function. If (and only if) the
    module is missing, register an empty stand-in whose function raises when called."""
    import importlib.util
    import types

    import fmnist_model  # noqa: F401  silences torch's numpy-2 probe before quark imports torch

    try:
        missing = importlib.util.find_spec("torch.ao.quantization.pt2e") is None
    except ModuleNotFoundError:
        missing = True
    shimmed = False
    if missing:
        def _unavailable(*_a, **_k):
            raise NotImplementedError("torch.ao.quantization.pt2e is not available in this torch")

        pt2e = types.ModuleType("torch.ao.quantization.pt2e")
        utils = types.ModuleType("torch.ao.quantization.pt2e.utils")
        utils._get_tensor_constant_from_node = _unavailable
        pt2e.utils = utils
        sys.modules["torch.ao.quantization.pt2e"] = pt2e
        sys.modules["torch.ao.quantization.pt2e.utils"] = utils
        shimmed = True
    import quark
    import quark.onnx

    return quark, shimmed


def quark_configs(quark):
    """(name, weights granularity, method as configured, config object, qnn counterpart)."""
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType
    from quark.onnx import A8W8_QCONFIG, XINT8_QCONFIG, Config, QuantizationConfig

    # The report's configuration, verbatim (legacy API, still accepted by Quark 0.13).
    reference = Config(global_quant_config=QuantizationConfig(
        quant_format=QuantFormat.QDQ,
        calibrate_method=CalibrationMethod.Entropy,
        input_nodes=[], output_nodes=[], op_types_to_quantize=[],
        per_channel=True,
        reduce_range=False,
        activation_type=QuantType.QInt8,
        weight_type=QuantType.QInt8,
        nodes_to_quantize=[], nodes_to_exclude=[],
        optimize_model=True,
        use_dynamic_quant=False,
        use_external_data_format=False,
        execution_providers=["CPUExecutionProvider"],
        enable_npu_cnn=False,
        enable_npu_transformer=False,
        convert_fp16_to_fp32=False,
        convert_nchw_to_nhwc=False,
        include_cle=False,
        include_sq=False,
        extra_options={},
    ))
    xint8 = QnnSpec("xint8", False, "pow2-mse", [
        "power-of-two MinMSE in both; Quark scans positions -1..+3 around rint(-log2 s_minmax) and measures"
        " the error at histogram-bin centres, qnn scans pos0..pos0+4 (pos0 = non-overflow) and integrates the"
        " error over each bin (docs/quantization.md, pow2-mse)",
        "activations: Quark int8 zero point 0, qnn uint8 zero point 128 (the NPU's form): the same 256 codes"
        " of the same grid (q_u8 = q_i8 + 128), so no difference in values",
    ])
    a8w8 = QnnSpec("a8w8", False, "percentile", [
        f"percentile {PEER_PERCENTILE} of |x| in both (Quark's Int8Spec is symmetric); Quark takes the bin edge"
        " of its own 2048-bin |x| histogram, qnn interpolates in the fold of its signed histogram",
        "Quark's A8W8 extra options (FoldRelu, AlignConcat) have no qnn counterpart; qnn folds Relu into the"
        " preceding quantization only for asymmetric activations",
    ], percentile=PEER_PERCENTILE)
    report = QnnSpec("s8s8", True, "entropy", [
        "entropy: Quark uses ORT's entropy calibrator with 128 bins and 128 quantized bins (its search has"
        " nothing to choose from here); qnn searches the exact |x| fold of its grid histogram (1024-4097"
        " bins) with 256/128 levels and has no CLI option for either",
        "optimize_model=True lets ORT's float graph optimiser rewrite the model before Quark quantizes it;"
        " qnn quantizes the graph as given",
    ])
    return [
        ("XINT8", "per-tensor", "MinMSE, power-of-2 scales", XINT8_QCONFIG, xint8),
        ("A8W8", "per-tensor", f"Percentile {PEER_PERCENTILE} (Int8Spec default)", A8W8_QCONFIG, a8w8),
        ("report (S8S8 QDQ)", "per-channel", "Entropy", reference, report),
    ]


def run_quark(ctx, x_cal) -> list[dict]:
    args = ctx.args
    rows = []
    # The first import of quark.onnx JIT-builds Quark's custom-op library with
    # torch.utils.cpp_extension (into ~/.cache/torch_extensions) and logs about it.
    import_log = os.path.join(ctx.work, "quark_import.log")
    try:
        t0 = time.perf_counter()
        with capture_output(import_log):
            quark, shimmed = import_quark()
        import_seconds = round(time.perf_counter() - t0, 1)
    except Exception as exc:  # noqa: BLE001
        return [fail_row(row("quark", "-", "-", "-"), exc, log_tail(import_log))]
    from quark.onnx import ModelQuantizer

    version = getattr(quark, "__version__", "?")
    try:
        from quark.onnx import get_library_path
        custom_lib = get_library_path()
    except Exception:  # noqa: BLE001
        custom_lib = None
    for name, gran, method, cfg, spec in quark_configs(quark):
        tag = f"quark_{name.split()[0]}"
        out = os.path.join(ctx.work, tag + ".onnx")
        r = row(f"quark {version}", name, gran, method, pt2e_shim=shimmed,
                quark_import_seconds=import_seconds)
        print(f"-- Quark {name}", flush=True)

        def quantize_once(cfg=cfg, out=out):
            # A fresh copy each time: a quantizer may annotate the config it is given.
            ModelQuantizer(copy.deepcopy(cfg)).quantize_model(args.model, out, make_reader(x_cal, args.calib_batch))
            return out

        def evaluate(path):
            ops = op_counts(path)
            res = {"custom_ops": sorted(o for o in ops if "::" in o), "scheme": qdq_scheme(path)}
            try:
                res.update(evaluate_onnx(path, ctx.x_test, ctx.y_test, args.threads, ctx.work))
            except Exception as exc:  # noqa: BLE001
                # XINT8-style models may carry Quark's own ops; retry with its op library.
                res["plain_ort_error"] = f"{type(exc).__name__}: {str(exc)[:300]}"
                if not custom_lib or not os.path.exists(custom_lib):
                    raise
                res.update(evaluate_onnx(path, ctx.x_test, ctx.y_test, args.threads, ctx.work, custom_lib))
                res["needed_quark_custom_op_library"] = custom_lib
            return res

        log_path = out.replace(".onnx", ".log")
        try:
            run_pair(ctx, r, quantize_once, evaluate, spec, tag, log_path)
        except Exception as exc:  # noqa: BLE001
            rows.append(fail_row(r, exc, log_tail(log_path)))
            continue
        rows.append(r)
    return rows


# ---------------------------------------------------------------------------------------------
# PyTorch eager-mode PTQ


def torch_qnn_spec(per_channel: bool) -> QnnSpec:
    return QnnSpec("u8s8", per_channel, "mse", [
        "method: PyTorch's HistogramObserver shrinks [min, max] greedily, in steps of 1e-5 of the mass from"
        " the side that frees more bins, and stops at the first step that raises the L2 quantization error"
        " estimated on its 2048-bin histogram; qnn's mse searches both ends for the least error integrated"
        " over the bins -- the closest qnn method, not the same search",
        "activations uint8 asymmetric in both (quint8, reduce_range=False)",
        "weights: PyTorch symmetric int8 on [-128, 127] (scale = max|w| / 127.5); qnn on [-127, 127]"
        " (scale = max|w| / 127)",
        "quantized ops: PyTorch quantizes Conv+ReLU and Linear between QuantStub/DeQuantStub and runs its own"
        f" {'onednn' if per_channel else 'qnnpack'} kernels; qnn's model is QDQ, evaluated by ORT and qnn",
    ])


def run_torch(ctx, x_cal) -> list[dict]:
    import fmnist_model
    import torch
    from torch import nn
    from torch.ao import quantization as tq

    args = ctx.args
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    xt_cal = fmnist_model.np_to_torch(x_cal)
    xt_test = fmnist_model.np_to_torch(ctx.x_test)
    yt_test = fmnist_model.np_to_torch(ctx.y_test.astype(np.int64))

    class Quantizable(nn.Module):
        def __init__(self, net: nn.Module) -> None:
            super().__init__()
            self.quant = tq.QuantStub()
            self.net = net
            self.dequant = tq.DeQuantStub()

        def forward(self, x):
            # FashionCNN.forward, except for the flatten: quantized conv outputs of both engines
            # are channels-last, so the reference's x.view(x.size(0), -1) raises ("view size is
            # not compatible with input tensor's size and stride"); reshape copies as needed and
            # gives the same NCHW-ordered 2304 features.
            n = self.net
            x = n.layer2(n.layer1(self.quant(x)))
            x = x.reshape(x.size(0), -1)
            return self.dequant(n.fc3(n.fc2(n.drop(n.fc1(x)))))

    @torch.no_grad()
    def accuracy(model) -> int:
        return sum(int((model(xt_test[s:s + 1000]).argmax(1) == yt_test[s:s + 1000]).sum())
                   for s in range(0, xt_test.shape[0], 1000))

    fp32 = fmnist_model.model_from_onnx(args.model)
    fp32_correct = accuracy(fp32)
    rows = []
    for engine in args.torch_engines:
        r = row(f"torch {torch.__version__.split('+')[0]}", f"eager PTQ, {engine}", "?", "?",
                torch_fp32_correct=fp32_correct)
        print(f"-- PyTorch eager PTQ, engine {engine}", flush=True)
        try:
            if engine not in torch.backends.quantized.supported_engines:
                raise RuntimeError(f"engine {engine} not in {torch.backends.quantized.supported_engines}")
            torch.backends.quantized.engine = engine
            qconfig = tq.get_default_qconfig(engine)
            w = qconfig.weight()
            per_channel = w.qscheme in (torch.per_channel_symmetric, torch.per_channel_affine)
            r["weights"] = "per-channel" if per_channel else "per-tensor"
            a = qconfig.activation()
            r["method"] = f"{type(a).__name__}" + (" reduce_range" if a.reduce_range else "")
            r["qconfig"] = str(qconfig)

            def quantize_once(qconfig=qconfig):
                model = Quantizable(fmnist_model.model_from_onnx(args.model)).eval()
                model.qconfig = qconfig
                # BN was folded by the exporter, so only Conv+ReLU remain to fuse (layer[1] is Identity)
                tq.fuse_modules(model, [["net.layer1.0", "net.layer1.2"],
                                        ["net.layer2.0", "net.layer2.2"]], inplace=True)
                tq.prepare(model, inplace=True)
                with torch.no_grad():
                    for s in range(0, xt_cal.shape[0], args.calib_batch):
                        model(xt_cal[s:s + args.calib_batch])
                tq.convert(model, inplace=True)
                return model

            def evaluate(model):
                t0 = time.perf_counter()
                correct = accuracy(model)
                return {"correct": correct, "accuracy": 100.0 * correct / ctx.y_test.shape[0],
                        "eval_seconds": round(time.perf_counter() - t0, 2)}

            log_path = os.path.join(ctx.work, f"torch_{engine}.log")
            run_pair(ctx, r, quantize_once, evaluate, torch_qnn_spec(per_channel),
                     f"torch_{engine}", log_path)
        except Exception as exc:  # noqa: BLE001
            rows.append(fail_row(r, exc))
            continue
        rows.append(r)
    return rows


# ---------------------------------------------------------------------------------------------
# the table


def compare(r: dict, fp32_acc: float, forward: dict | None, n_cal: int) -> None:
    """Fill r["comparison"]: qnn against the peer on accuracy and calibration time."""
    q = r.get("qnn", {})
    if r["status"] != "ok" or q.get("status") != "ok":
        return
    peer_acc = r["accuracy"]
    c = {"peer_accuracy": peer_acc,
         "qnn_accuracy_ort": q["ort"]["accuracy"], "qnn_accuracy_ort_unfused": q["ort"]["accuracy_unfused"],
         "qnn_accuracy_qnn": q["qnn_eval"]["accuracy"],
         "qnn_ge_peer_ort": q["ort"]["accuracy"] >= peer_acc,
         "qnn_ge_peer_qnn": q["qnn_eval"]["accuracy"] >= peer_acc,
         "ratio_peer_over_qnn_calib": round(r["calib_seconds"] / q["calib_seconds"], 2),
         "ratio_peer_over_qnn_wall": round(r["calib_seconds"] / q["wall_seconds"], 2)}
    if r.get("accuracy_unfused") is not None:
        c["qnn_ge_peer_unfused"] = q["ort"]["accuracy_unfused"] >= r["accuracy_unfused"]
    c["target_5x_met_calib"] = c["ratio_peer_over_qnn_calib"] >= 5
    if forward:
        # minmax needs one pass over the calibration set, the histogram methods two.
        passes = 1 if q["method"] == "minmax" else 2
        floor = passes * n_cal / forward["images_per_second"]
        c["fp32_passes"] = passes
        c["fp32_forward_floor_seconds"] = round(floor, 3)
        c["five_x_budget_seconds"] = round(r["calib_seconds"] / 5, 3)
        c["five_x_possible_above_floor"] = r["calib_seconds"] / 5 >= floor
    r["comparison"] = c


def fmt(v, spec: str = ".2f", none: str = "-") -> str:
    return none if v is None else format(v, spec)


def table_lines(rows: list[dict]) -> list[str]:
    """The like-for-like table (markdown) and its numbered notes."""
    head = ("| # | peer | config | weights | method | qnn (same run) | peer acc % fused / unfused"
            " | qnn acc % ORT fused / unfused | qnn acc % qnn | qnn ≥ peer: fused / unfused / qnn"
            " | peer calib s | qnn calib s"
            " | qnn wall s | peer/qnn calib | peer/qnn wall |")
    lines = [head, "|" + "---|" * head.count(" | ") + "---|"]
    notes = []
    for i, r in enumerate(rows, 1):
        q = r.get("qnn", {})
        c = r.get("comparison", {})
        peer_acc = ("FAIL" if r["status"] != "ok" else
                    fmt(r["accuracy"]) + (f" / {fmt(r['accuracy_unfused'])}" if r.get("accuracy_unfused") is not None
                                          else " (PyTorch)"))
        tool = r["tool"].replace("onnxruntime", "ORT")
        if q.get("status") == "ok":
            qcfg = f"{q['config']} {q['weights']} {q['method']}"
            qort = f"{fmt(q['ort']['accuracy'])} / {fmt(q['ort']['accuracy_unfused'])}"
            qq = fmt(q["qnn_eval"]["accuracy"])
            ge = " / ".join("-" if c.get(k) is None else ("yes" if c[k] else "**no**")
                            for k in ("qnn_ge_peer_ort", "qnn_ge_peer_unfused", "qnn_ge_peer_qnn"))
            times = (fmt(q["calib_seconds"]), fmt(q["wall_seconds"]),
                     fmt(c.get("ratio_peer_over_qnn_calib"), ".1f") + ("×" if c else ""),
                     fmt(c.get("ratio_peer_over_qnn_wall"), ".1f") + ("×" if c else ""))
        else:
            qcfg = f"{q.get('status', 'skipped')}: {q.get('reason') or q.get('error', '')}"[:60]
            qort, qq, ge, times = "-", "-", "-", ("-", "-", "-", "-")
        lines.append(f"| {i} | {tool} | {r['config']} | {r['weights']} | {r['method']} | {qcfg} | {peer_acc}"
                     f" | {qort} | {qq} | {ge} | {fmt(r['calib_seconds'])} | " + " | ".join(times) + " |")
        if "differences" in q:
            notes.append(f"{i}. " + ("; ".join(q["differences"]) or
                                     "none known: same types, granularity, method, images, batch and threads"))
    return lines + ["", "Remaining differences, by row:", ""] + notes


def print_report(rows: list[dict], fp32_acc: float, forward: dict | None, n_cal: int) -> None:
    print()
    print(f"FP32 (ORT): {fp32_acc:.2f}%.  Accuracy in ORT: fused = ORT's default session (integer kernels),"
          " unfused = graph optimisations off (exact QDQ).  qnn ≥ peer compares the fused figures.")
    print("peer calib s: the quantizer call; qnn calib s: the time qnn quantize prints (calibration and QDQ"
          " build); qnn wall s: the whole qnn process (model/.npy read, write).")
    if forward:
        print(f"qnn FP32 forward (same run, {forward['threads']} threads, batch {forward['batch']}):"
              f" {forward['images_per_second']:,} images/s, {forward['macs_per_image']:,} MACs/image ->"
              f" {n_cal / forward['images_per_second']:.2f} s per pass over the {n_cal:,} calibration images"
              " (every method makes 1 pass).")
    print()
    for line in table_lines(rows):
        print(line)


def parse_only(values: list[str] | None) -> list[str]:
    if not values:
        return list(TOOLS)
    out = []
    for v in values:
        for t in v.split(","):
            t = t.strip()
            if t not in TOOLS:
                raise SystemExit(f"--only: unknown tool {t!r} (choose from {', '.join(TOOLS)})")
            if t not in out:
                out.append(t)
    return out


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=DEFAULT_MODEL, help="FP32 ONNX model (default: %(default)s)")
    ap.add_argument("--data", default=fmnist_data.DEFAULT_DATA_DIR, help="IDX directory")
    ap.add_argument("--json", help="write the results as JSON to this path")
    ap.add_argument("--only", action="append",
                    help="run only these peers: ort, quark, torch (repeat or comma-separate); qnn runs"
                         " beside each selected peer row")
    ap.add_argument("--qnn", default=DEFAULT_QNN,
                    help="the qnn tool (default: build/tools/qnn of this repository)")
    ap.add_argument("--no-qnn", action="store_true", help="run the peers only")
    ap.add_argument("--calib-per-class", type=int, default=700,
                    help="calibration images per class (default: %(default)s)")
    ap.add_argument("--calib-batch", type=int, default=100,
                    help="calibration batch size (default: %(default)s)")
    ap.add_argument("--test-limit", type=int, default=0, metavar="N",
                    help="evaluate on the first N test images only (smoke runs; default: all)")
    ap.add_argument("--repeat", type=int, default=1,
                    help="quantize N times per row, peer and qnn alternating; the fastest of each is"
                         " reported (default: %(default)s)")
    ap.add_argument("--save-qdq", metavar="DIR",
                    help=f"write the ORT U8S8 MinMax per-channel QDQ model to DIR/{QDQ_ORACLE_NAME}")
    ap.add_argument("--torch-engines", default="onednn,qnnpack",
                    help="PyTorch quantized engines to try (default: %(default)s)")
    ap.add_argument("--threads", type=int, default=2, help="threads of every tool (default: %(default)s)")
    ap.add_argument("--work-dir", help="keep the quantized models here (default: temp dir, deleted)")
    args = ap.parse_args()
    args.torch_engines = [e for e in args.torch_engines.split(",") if e]
    only = parse_only(args.only)
    if args.repeat < 1 or args.test_limit < 0:
        raise SystemExit("--repeat must be >= 1 and --test-limit >= 0")

    # ---- data ------------------------------------------------------------------------------
    tr_img, tr_lab = fmnist_data.load_split(args.data, "train")
    te_img, te_lab = fmnist_data.load_split(args.data, "t10k")
    if args.test_limit:
        te_img, te_lab = te_img[:args.test_limit], te_lab[:args.test_limit]
    calib_idx, _ = fmnist_data.calibration_split(tr_lab, args.calib_per_class)
    x_cal = fmnist_data.to_input(tr_img[calib_idx])
    print(f"model {args.model}\ncalibration {x_cal.shape[0]} images ({args.calib_per_class}/class,"
          f" batches of {args.calib_batch}), test {te_img.shape[0]} images, {args.threads} threads", flush=True)

    work = args.work_dir or tempfile.mkdtemp(prefix="qnn_peers_")
    os.makedirs(work, exist_ok=True)
    work = os.path.abspath(work)
    # Some quantizers drop caches / temp files into the current directory: keep them in work.
    cwd = os.getcwd()
    args.model = os.path.abspath(args.model)
    args.data = os.path.abspath(args.data)
    if args.save_qdq:
        args.save_qdq = os.path.abspath(args.save_qdq)
    if args.json:
        args.json = os.path.abspath(args.json)
    ctx = argparse.Namespace(args=args, work=work, x_test=fmnist_data.to_input(te_img),
                             y_test=te_lab.astype(np.int64), qnn=None, qnn_skip_reason=None)

    qnn_info: dict = {}
    if args.no_qnn:
        ctx.qnn_skip_reason = "--no-qnn"
    elif not (os.path.isfile(args.qnn) and os.access(args.qnn, os.X_OK)):
        ctx.qnn_skip_reason = f"qnn tool not found at {args.qnn} (build it, or pass --qnn PATH)"
        print(f"qnn rows skipped: {ctx.qnn_skip_reason}", flush=True)
    else:
        calib_npy = os.path.join(work, "calib.npy")
        np.save(calib_npy, x_cal)
        idx_dir = write_idx_subset(te_img, te_lab, os.path.join(work, "t10k")) if args.test_limit else args.data
        ctx.qnn = Qnn(os.path.abspath(args.qnn), args.model, calib_npy, idx_dir, args, work)
        qnn_info = ctx.qnn.version()

    loadavg_start = os.getloadavg()
    os.chdir(work)
    forward = None
    try:
        fp32 = evaluate_onnx(args.model, ctx.x_test, ctx.y_test, args.threads, work)
        print(f"FP32 ORT accuracy {fp32['accuracy']:.2f}%", flush=True)
        if ctx.qnn:
            # qnn's two ways to name the calibration images must be the same images: the
            # .npy written here (fed to every peer and to qnn) and qnn's own --calib-idx rule.
            same = QnnSpec("u8s8", True, "minmax", [])
            a, b = os.path.join(work, "qnn_check_npy.onnx"), os.path.join(work, "qnn_check_idx.onnx")
            ra = ctx.qnn.quantize(same, a)
            rb = ctx.qnn.quantize(same, b, ["--calib-idx", args.data, "--calib-per-class", str(args.calib_per_class)])
            with open(a, "rb") as fa, open(b, "rb") as fb:
                qnn_info["calib_idx_gives_same_model"] = fa.read() == fb.read()
            qnn_info["calib_npy_wall_seconds"] = round(ra["wall_seconds"], 3)
            qnn_info["calib_idx_wall_seconds"] = round(rb["wall_seconds"], 3)
            print(f"qnn --calib-idx gives the same model as --calib calib.npy: {qnn_info['calib_idx_gives_same_model']}",
                  flush=True)
            forward = ctx.qnn.fp32_throughput(x_cal[:100])
            print(f"qnn FP32 forward: {forward['images_per_second']:,} images/s", flush=True)
        rows: list[dict] = []
        if "ort" in only or args.save_qdq:
            rows += run_ort(ctx, x_cal, full="ort" in only)
        if "quark" in only:
            rows += run_quark(ctx, x_cal)
        if "torch" in only:
            rows += run_torch(ctx, x_cal)
    finally:
        os.chdir(cwd)
        if not args.work_dir:
            shutil.rmtree(work, ignore_errors=True)

    def rnd(d: dict) -> None:
        for k in ("accuracy", "accuracy_unfused"):
            if d.get(k) is not None:
                d[k] = round(d[k], 2)

    for r in rows:
        if r["accuracy"] is not None:
            r["drop_pp"] = round(fp32["accuracy"] - r["accuracy"], 2)
        rnd(r)
        if "ort" in r.get("qnn", {}):
            rnd(r["qnn"]["ort"])
            r["qnn"]["ort"]["drop_pp"] = round(fp32["accuracy"] - r["qnn"]["ort"]["accuracy"], 2)
        compare(r, fp32["accuracy"], forward, int(x_cal.shape[0]))
    print_report(rows, fp32["accuracy"], forward, int(x_cal.shape[0]))

    if args.json:
        import onnx
        import onnxruntime

        versions = {"python": platform.python_version(), "numpy": np.__version__,
                    "onnx": onnx.__version__, "onnxruntime": onnxruntime.__version__}
        try:
            import torch
            versions["torch"] = torch.__version__
        except ImportError:
            pass
        try:
            from importlib.metadata import version
            versions["amd-quark"] = version("amd-quark")
        except Exception:  # noqa: BLE001
            pass
        if qnn_info:
            versions["qnn"] = qnn_info
        report = {
            "model": os.path.relpath(args.model, cwd) if args.model.startswith(cwd) else args.model,
            "fp32_accuracy_ort": round(fp32["accuracy"], 2),
            "fp32_correct_ort": fp32["correct"],
            "fp32_model_ops": fp32["model_ops"],
            "calibration": {"per_class": args.calib_per_class, "images": int(x_cal.shape[0]),
                            "batch": args.calib_batch,
                            "rule": "first N images of each class in training-file order"},
            "test_images": int(ctx.x_test.shape[0]),
            "threads": args.threads,
            "repeat": args.repeat,
            "timing": {
                "peer calib_seconds": "the quantizer call (ORT quantize_static, Quark quantize_model: model"
                                      " load, calibration, writing; PyTorch: prepare, calibration, convert),"
                                      " data already in memory; fastest of `repeat`",
                "qnn calib_seconds": "the time qnn quantize prints: quantize() (graph preparation,"
                                     " calibration, QDQ build), without model/.npy reading and writing",
                "qnn wall_seconds": "the whole qnn quantize process",
                "order": "each peer call is followed at once by its qnn counterpart (alternating with --repeat)",
            },
            "qnn_skipped": ctx.qnn_skip_reason,
            "qnn_fp32_forward": forward,
            "table_markdown": table_lines(rows),
            "rows": rows,
            "versions": versions,
            "machine": {"cpu_count": os.cpu_count(), "cpu": cpu_model(), "platform": platform.platform(),
                        "loadavg_start": [round(v, 2) for v in loadavg_start],
                        "loadavg_end": [round(v, 2) for v in os.getloadavg()]},
            "command": "compare_peers.py " + " ".join(sys.argv[1:]),
        }
        os.makedirs(os.path.dirname(args.json) or ".", exist_ok=True)
        with open(args.json, "w") as f:
            json.dump(report, f, indent=2, ensure_ascii=False)
            f.write("\n")
        print(f"\nwrote {args.json}")
    ok = all(r["status"] == "ok" and r.get("qnn", {}).get("status") in (None, "ok", "skipped", "unmatched")
             for r in rows)
    return 0 if ok else 2


if __name__ == "__main__":
    sys.exit(main())
