#!/usr/bin/env python3
"""Post-training int8 quantization of the Fashion-MNIST model with the tools users use today.

All tools start from the committed FP32 model (fashion_mnist_fp32.onnx), calibrate on the same
images and are evaluated on the same 10,000 test images:

* calibration set: the first --calib-per-class (default 700) images of each class in
  training-file order (7,000 images, file order; see fmnist_data.calibration_split),
  fed in batches of --calib-batch;
* preprocessing: float32 pixel/255, N x 1 x 28 x 28.

Peers
  ort    onnxruntime.quantization.quantize_static, QDQ format, calibrate methods MinMax, Entropy
         and Percentile (ORT defaults for each), U8S8 (activations QUInt8, weights QInt8) and
         S8S8 (QInt8 / QInt8), weights per-channel and per-tensor, reduce_range=False; plus one
         U8S8 per-channel MinMax row with reduce_range=True (ORT's advice for non-VNNI x86).
         Evaluated with ORT's CPUExecutionProvider (default graph optimisations, which fuse QDQ
         groups into QLinearConv / QGemm kernels; the ops of the optimised graph are recorded).

Every ONNX row is also evaluated with all ORT graph optimisations disabled ("unfused"): then
each QDQ group runs as DequantizeLinear -> float op -> QuantizeLinear, the exact QDQ semantics.
The two accuracies differ when ORT's integer kernels do not compute what the QDQ graph says
(e.g. int16 saturation in the u8*s8 kernels of AVX2 CPUs without VNNI).
  quark  AMD Quark's ONNX ModelQuantizer: XINT8 and A8W8 presets, and the configuration of the
         reference report (legacy Config/QuantizationConfig API: QDQ, Entropy, per-channel,
         int8 activations and weights, optimize_model=True, no CLE). Evaluated with ORT CPU EP.
  torch  PyTorch eager-mode PTQ (torch.ao.quantization) with the engine's default qconfig on the
         same network, rebuilt from the ONNX initializers (BatchNorm is already folded there),
         Conv+ReLU fused; engines onednn and qnnpack.

Output: a table on stdout and, with --json, a JSON report. With --save-qdq DIR, the ORT U8S8
MinMax per-channel QDQ model is also written to DIR (the C++ tests use it as an oracle).

Usage:
    .venv/bin/python examples/fashion_mnist/compare_peers.py --json out/peers.json
    .venv/bin/python examples/fashion_mnist/compare_peers.py --only ort --save-qdq out/
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import json
import os
import platform
import shutil
import sys
import tempfile
import time
import traceback
import warnings

# Before torch / OpenMP load: idle workers sleep instead of spinning (see train.py).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import fmnist_data  # noqa: E402

DEFAULT_MODEL = os.path.join(HERE, "fashion_mnist_fp32.onnx")
QDQ_ORACLE_NAME = "fashion_mnist_qdq_u8s8_minmax_perchannel.onnx"
TOOLS = ("ort", "quark", "torch")


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
    t0 = time.time()
    pred = fmnist_data.ort_predict(sess, x, batch_size=500)
    infer_s = time.time() - t0
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
# onnxruntime


def run_ort(args, x_cal, x_test, y_test, work, full: bool) -> list[dict]:
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

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
        out = os.path.join(work, f"ort_{cfg}{'_rr' if reduce_range else ''}_"
                                 f"{'pc' if per_channel else 'pt'}_{method}.onnx")
        r = row("onnxruntime", label, gran, method, reduce_range=reduce_range)
        print(f"-- ORT quantize_static {cfg} {gran} {method}", flush=True)
        log_path = out.replace(".onnx", ".log")
        try:
            t0 = time.time()
            with capture_output(log_path):
                quantize_static(
                    args.model, out, make_reader(x_cal, args.calib_batch),
                    quant_format=QuantFormat.QDQ,
                    per_channel=per_channel,
                    reduce_range=reduce_range,
                    activation_type=act_types[cfg],
                    weight_type=QuantType.QInt8,
                    calibrate_method=methods[method],
                )
            r["calib_seconds"] = round(time.time() - t0, 2)
            r.update(evaluate_onnx(out, x_test, y_test, args.threads, work))
        except Exception as exc:  # noqa: BLE001  keep going, report the failure
            rows.append(fail_row(r, exc, log_tail(log_path)))
            continue
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
    # (name, weights granularity, calibration method as configured, config object)
    return [
        ("XINT8", "per-tensor", "MinMSE, power-of-2 scales", XINT8_QCONFIG),
        ("A8W8", "per-tensor", "Percentile (Int8Spec default)", A8W8_QCONFIG),
        ("report (S8S8 QDQ)", "per-channel", "Entropy", reference),
    ]


def run_quark(args, x_cal, x_test, y_test, work) -> list[dict]:
    rows = []
    # The first import of quark.onnx JIT-builds Quark's custom-op library with
    # torch.utils.cpp_extension (into ~/.cache/torch_extensions) and logs about it.
    import_log = os.path.join(work, "quark_import.log")
    try:
        t0 = time.time()
        with capture_output(import_log):
            quark, shimmed = import_quark()
        import_seconds = round(time.time() - t0, 1)
    except Exception as exc:  # noqa: BLE001
        return [fail_row(row("quark", "-", "-", "-"), exc, log_tail(import_log))]
    from quark.onnx import ModelQuantizer

    version = getattr(quark, "__version__", "?")
    try:
        from quark.onnx import get_library_path
        custom_lib = get_library_path()
    except Exception:  # noqa: BLE001
        custom_lib = None
    for name, gran, method, cfg in quark_configs(quark):
        out = os.path.join(work, f"quark_{name.split()[0]}.onnx")
        r = row(f"quark {version}", name, gran, method, pt2e_shim=shimmed,
                quark_import_seconds=import_seconds)
        print(f"-- Quark {name}", flush=True)
        log_path = out.replace(".onnx", ".log")
        try:
            t0 = time.time()
            # Quark is chatty (tables, progress bars); keep its output out of our table.
            with capture_output(log_path), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ModelQuantizer(cfg).quantize_model(args.model, out, make_reader(x_cal, args.calib_batch))
            r["calib_seconds"] = round(time.time() - t0, 2)
            ops = op_counts(out)
            custom = sorted(o for o in ops if "::" in o)
            r["custom_ops"] = custom
            try:
                r.update(evaluate_onnx(out, x_test, y_test, args.threads, work))
            except Exception as exc:  # noqa: BLE001
                # XINT8-style models may carry Quark's own ops; retry with its op library.
                r["plain_ort_error"] = f"{type(exc).__name__}: {str(exc)[:300]}"
                if not custom_lib or not os.path.exists(custom_lib):
                    raise
                r.update(evaluate_onnx(out, x_test, y_test, args.threads, work, custom_lib))
                r["needed_quark_custom_op_library"] = custom_lib
        except Exception as exc:  # noqa: BLE001
            rows.append(fail_row(r, exc, log_tail(log_path)))
            continue
        rows.append(r)
    return rows


# ---------------------------------------------------------------------------------------------
# PyTorch eager-mode PTQ


def run_torch(args, x_cal, x_test, y_test) -> list[dict]:
    import fmnist_model
    import torch
    from torch import nn
    from torch.ao import quantization as tq

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    xt_cal = fmnist_model.np_to_torch(x_cal)
    xt_test = fmnist_model.np_to_torch(x_test)
    yt_test = fmnist_model.np_to_torch(y_test.astype(np.int64))

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
        qcfg_desc = "?"
        r = row(f"torch {torch.__version__.split('+')[0]}", f"eager PTQ, {engine}", "?", "?",
                torch_fp32_correct=fp32_correct)
        print(f"-- PyTorch eager PTQ, engine {engine}", flush=True)
        try:
            if engine not in torch.backends.quantized.supported_engines:
                raise RuntimeError(f"engine {engine} not in {torch.backends.quantized.supported_engines}")
            torch.backends.quantized.engine = engine
            qconfig = tq.get_default_qconfig(engine)
            qcfg_desc = str(qconfig)
            w = qconfig.weight()
            r["weights"] = "per-channel" if w.qscheme in (
                torch.per_channel_symmetric, torch.per_channel_affine) else "per-tensor"
            a = qconfig.activation()
            r["method"] = f"{type(a).__name__}" + (" reduce_range" if a.reduce_range else "")
            r["qconfig"] = qcfg_desc
            t0 = time.time()
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
            r["calib_seconds"] = round(time.time() - t0, 2)
            t0 = time.time()
            correct = accuracy(model)
            r.update({"correct": correct, "accuracy": 100.0 * correct / y_test.shape[0],
                      "eval_seconds": round(time.time() - t0, 2)})
        except Exception as exc:  # noqa: BLE001
            rows.append(fail_row(r, exc))
            continue
        rows.append(r)
    return rows


# ---------------------------------------------------------------------------------------------


def print_table(rows: list[dict], fp32_acc: float) -> None:
    hdr = (f"{'tool':<16} {'config':<19} {'weights':<12} {'method':<30} {'acc %':>6} {'drop pp':>7}"
           f" {'calib s':>7} {'unfused %':>9}")
    print()
    print(f"FP32 (ORT): {fp32_acc:.2f}%   drop pp = FP32 - acc (negative: int8 scored higher)")
    print("unfused % = same QDQ model with ORT graph optimisations off (exact QDQ float simulation)")
    print(hdr)
    print("-" * len(hdr))
    for r in rows:
        acc = f"{r['accuracy']:.2f}" if r["accuracy"] is not None else "FAIL"
        drop = f"{r['drop_pp']:+.2f}" if r["drop_pp"] is not None else "-"
        cal = f"{r['calib_seconds']:.1f}" if r["calib_seconds"] is not None else "-"
        unf = f"{r['accuracy_unfused']:.2f}" if r.get("accuracy_unfused") is not None else "-"
        print(f"{r['tool']:<16} {r['config']:<19} {r['weights']:<12} {r['method'][:30]:<30}"
              f" {acc:>6} {drop:>7} {cal:>7} {unf:>9}")


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


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=DEFAULT_MODEL, help="FP32 ONNX model (default: %(default)s)")
    ap.add_argument("--data", default=fmnist_data.DEFAULT_DATA_DIR, help="IDX directory")
    ap.add_argument("--json", help="write the results as JSON to this path")
    ap.add_argument("--only", action="append",
                    help="run only these tools: ort, quark, torch (repeat or comma-separate)")
    ap.add_argument("--calib-per-class", type=int, default=700,
                    help="calibration images per class (default: %(default)s)")
    ap.add_argument("--calib-batch", type=int, default=100,
                    help="calibration batch size (default: %(default)s)")
    ap.add_argument("--save-qdq", metavar="DIR",
                    help=f"write the ORT U8S8 MinMax per-channel QDQ model to DIR/{QDQ_ORACLE_NAME}")
    ap.add_argument("--torch-engines", default="onednn,qnnpack",
                    help="PyTorch quantized engines to try (default: %(default)s)")
    ap.add_argument("--threads", type=int, default=2, help="intra-op threads (default: %(default)s)")
    ap.add_argument("--work-dir", help="keep the quantized models here (default: temp dir, deleted)")
    args = ap.parse_args()
    args.torch_engines = [e for e in args.torch_engines.split(",") if e]
    only = parse_only(args.only)

    # ---- data ------------------------------------------------------------------------------
    tr_img, tr_lab = fmnist_data.load_split(args.data, "train")
    te_img, te_lab = fmnist_data.load_split(args.data, "t10k")
    calib_idx, _ = fmnist_data.calibration_split(tr_lab, args.calib_per_class)
    x_cal = fmnist_data.to_input(tr_img[calib_idx])
    x_test = fmnist_data.to_input(te_img)
    y_test = te_lab.astype(np.int64)
    print(f"model {args.model}\ncalibration {x_cal.shape[0]} images ({args.calib_per_class}/class,"
          f" batches of {args.calib_batch}), test {x_test.shape[0]} images", flush=True)

    work = args.work_dir or tempfile.mkdtemp(prefix="qnn_peers_")
    os.makedirs(work, exist_ok=True)
    # Some quantizers drop caches / temp files into the current directory: keep them in work.
    cwd = os.getcwd()
    args.model = os.path.abspath(args.model)
    if args.save_qdq:
        args.save_qdq = os.path.abspath(args.save_qdq)
    if args.json:
        args.json = os.path.abspath(args.json)
    os.chdir(work)
    try:
        fp32 = evaluate_onnx(args.model, x_test, y_test, args.threads, work)
        print(f"FP32 ORT accuracy {fp32['accuracy']:.2f}%", flush=True)
        rows: list[dict] = []
        if "ort" in only or args.save_qdq:
            rows += run_ort(args, x_cal, x_test, y_test, work, full="ort" in only)
        if "quark" in only:
            rows += run_quark(args, x_cal, x_test, y_test, work)
        if "torch" in only:
            rows += run_torch(args, x_cal, x_test, y_test)
    finally:
        os.chdir(cwd)
        if not args.work_dir:
            shutil.rmtree(work, ignore_errors=True)

    for r in rows:
        if r["accuracy"] is not None:
            r["drop_pp"] = round(fp32["accuracy"] - r["accuracy"], 2)
            r["accuracy"] = round(r["accuracy"], 2)
        if r.get("accuracy_unfused") is not None:
            r["accuracy_unfused"] = round(r["accuracy_unfused"], 2)
    print_table(rows, fp32["accuracy"])

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
        report = {
            "model": os.path.relpath(args.model, cwd) if args.model.startswith(cwd) else args.model,
            "fp32_accuracy_ort": round(fp32["accuracy"], 2),
            "fp32_correct_ort": fp32["correct"],
            "fp32_model_ops": fp32["model_ops"],
            "calibration": {"per_class": args.calib_per_class, "images": int(x_cal.shape[0]),
                            "batch": args.calib_batch,
                            "rule": "first N images of each class in training-file order"},
            "test_images": int(x_test.shape[0]),
            "threads": args.threads,
            "rows": rows,
            "versions": versions,
            "machine": {"cpu_count": os.cpu_count(), "platform": platform.platform()},
        }
        os.makedirs(os.path.dirname(args.json) or ".", exist_ok=True)
        with open(args.json, "w") as f:
            json.dump(report, f, indent=2)
            f.write("\n")
        print(f"\nwrote {args.json}")
    return 0 if all(r["status"] == "ok" for r in rows) else 2


if __name__ == "__main__":
    sys.exit(main())
