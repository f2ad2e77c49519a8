"""The `qnn` tool from the outside: error paths and the QDQ round trip through ONNX Runtime.

    test_cli.py QNN_BINARY WORK_DIR [--part errors|roundtrip|all]

errors     `qnn --help` and `qnn COMMAND --help` print the usage and succeed; every command given bad input (missing, truncated, random and wrong-dtype files, NaN and
           empty calibration data, a missing or truncated dataset, an output that names an input, an
           output directory that cannot be written, a file-size limit that stops a write halfway)
           must print exactly one line "qnn: error: ..." naming what is wrong, exit with a status in
           1..127 (2 for usage errors), leave no output file (nor a temporary one) behind, and leave
           every input file byte for byte as it was.
roundtrip  `qnn quantize` writes the Fashion-MNIST model in every configuration; each file must pass
           onnx.checker (full check), run in ONNX Runtime, and agree with `qnn run` on 1,000 test
           images: top-1 identical on >= 99.9 %, integer outputs within one quantum of the output's
           scale on every element; u8s8 --reduce-range (7-bit weights) does so in ORT's default
           kernels, the others with session.x64quantprecision.

Needs numpy (both parts) and onnx + onnxruntime (roundtrip); run by CTest with the project's venv
(tests/CMakeLists.txt). Exits 77 (CTest: skipped) when they are missing, 1 on any failure.
"""

import argparse
import gzip
import hashlib
import os
import resource
import shutil
import subprocess
import sys
from pathlib import Path

try:
    import numpy as np
except ImportError:
    print("numpy is not installed: skipped")
    sys.exit(77)

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "examples" / "fashion_mnist" / "fashion_mnist_fp32.onnx"
DATASET = Path("/usr/share/datasets/fashion-mnist")

failures = []


def fail(msg):
    failures.append(msg)
    print("FAIL:", msg)


def digest_tree(paths):
    out = {}
    for p in paths:
        p = Path(p)
        files = [p] if p.is_file() else sorted(q for q in p.rglob("*") if q.is_file()) if p.is_dir() else []
        for f in files:
            out[str(f)] = hashlib.sha256(f.read_bytes()).hexdigest()
    return out


def run_qnn(qnn, args, cwd, limit_fsize=None):
    def pre():
        if limit_fsize is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit_fsize, resource.RLIM_INFINITY))
    return subprocess.run([str(qnn)] + [str(a) for a in args], cwd=cwd, capture_output=True, text=True,
                          timeout=600, preexec_fn=pre)


def expect_error(qnn, work, name, args, contains, outputs=(), inputs=(), status=(1,), limit_fsize=None):
    """Runs qnn, expecting a clean failure; checks the message, the exit status and the files."""
    failed_before = len(failures)
    before = digest_tree(inputs)
    listing_before = sorted(os.listdir(work))
    r = run_qnn(qnn, args, work, limit_fsize)
    lines = [l for l in r.stderr.splitlines() if l.strip()]
    where = f"[{name}] qnn {' '.join(map(str, args))}"
    if r.returncode not in status:
        fail(f"{where}: exit status {r.returncode}, expected {status}; stderr: {r.stderr.strip()[:300]}")
    if not lines or not lines[0].startswith("qnn: error: "):
        fail(f"{where}: stderr does not start with 'qnn: error: ': {r.stderr.strip()[:300]!r}")
    elif status == (1,) and len(lines) != 1:
        fail(f"{where}: expected one line on stderr, got {len(lines)}: {r.stderr.strip()[:300]!r}")
    for c in contains:
        if c not in r.stderr:
            fail(f"{where}: message does not mention {c!r}: {r.stderr.strip()[:300]!r}")
    for o in outputs:
        if Path(work, o).exists():
            fail(f"{where}: output {o} exists after the failure")
    new = sorted(set(os.listdir(work)) - set(listing_before))
    if new:
        fail(f"{where}: files left behind: {new}")
    after = digest_tree(inputs)
    if after != before:
        changed = [k for k in before if before.get(k) != after.get(k)]
        fail(f"{where}: input files changed: {changed}")
    if len(failures) == failed_before:
        print(f"ok   {name}: {lines[0] if lines else ''}")


def write_idx(path, array, dtype_code=0x08):
    header = bytes([0, 0, dtype_code, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    Path(path).write_bytes(header + array.astype(np.uint8).tobytes())


def errors(qnn, work):
    work.mkdir(parents=True, exist_ok=True)
    model = work / "model.onnx"
    shutil.copyfile(MODEL, model)
    good = model.read_bytes()
    (work / "truncated.onnx").write_bytes(good[: len(good) // 2])
    (work / "random.onnx").write_bytes(np.random.default_rng(1).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    (work / "empty.onnx").write_bytes(b"")
    x = np.random.default_rng(2).random((4, 1, 28, 28), dtype=np.float32)
    np.save(work / "x.npy", x)
    np.save(work / "x_i64.npy", x.astype(np.int64))
    np.save(work / "x_rank2.npy", x.reshape(4, 784))
    np.save(work / "x_wrong_hw.npy", np.zeros((4, 1, 27, 28), np.float32))
    nan = x.copy()
    nan[1, 0, 3, 4] = np.nan
    np.save(work / "calib_nan.npy", nan)
    np.save(work / "calib_empty.npy", np.zeros((0, 1, 28, 28), np.float32))
    raw = (work / "x.npy").read_bytes()
    (work / "x_truncated.npy").write_bytes(raw[: len(raw) - 100])
    (work / "x_badmagic.npy").write_bytes(b"\x00NUMPY" + raw[6:])
    # A dataset directory with truncated image data, and one with labels out of range.
    cut = work / "idx_truncated"
    cut.mkdir(exist_ok=True)
    write_idx(cut / "train-images-idx3-ubyte", np.zeros((30, 28, 28)))
    (cut / "train-images-idx3-ubyte").write_bytes((cut / "train-images-idx3-ubyte").read_bytes()[:-500])
    write_idx(cut / "train-labels-idx1-ubyte", np.arange(30) % 10)
    write_idx(cut / "t10k-images-idx3-ubyte", np.zeros((30, 28, 28)))
    write_idx(cut / "t10k-labels-idx1-ubyte", np.full(30, 12))
    inputs = [work / f for f in os.listdir(work)]

    e = lambda *a, **k: expect_error(qnn, work, *a, inputs=inputs, **k)
    # Usage. Help, anywhere on the line, is the usage on stdout and status 0, with no file written.
    for args in (["--help"], ["help"], ["-h"], ["quantize", "--help"], ["run", "model.onnx", "-h"]):
        listing_before = sorted(os.listdir(work))
        r = run_qnn(qnn, args, work)
        where = f"[help] qnn {' '.join(args)}"
        if r.returncode != 0 or "usage: qnn" not in r.stdout or "quantize MODEL.onnx" not in r.stdout or r.stderr:
            fail(f"{where}: status {r.returncode}, stdout {r.stdout[:80]!r}, stderr {r.stderr.strip()[:200]!r}")
        elif sorted(os.listdir(work)) != listing_before:
            fail(f"{where}: wrote files")
        else:
            print(f"ok   {where}")
    e("no command", [], ["usage"], status=(2,))
    e("unknown command", ["frobnicate"], ["unknown command 'frobnicate'"], status=(2,))
    e("unknown option", ["run", "model.onnx", "--inptu", "x.npy", "--output", "y.npy"], ["unknown option --inptu"],
      outputs=["y.npy"])
    e("missing value", ["run", "model.onnx", "--input"], ["--input needs a value"])
    e("bad integer", ["run", "model.onnx", "--input", "x.npy", "--output", "y.npy", "--threads", "two"],
      ["--threads needs an integer"], outputs=["y.npy"])
    e("bad number", ["quantize", "model.onnx", "--calib", "x.npy", "-o", "q.onnx", "--method", "percentile",
                     "--percentile", "high"], ["--percentile needs a number"], outputs=["q.onnx"])
    e("percentile range", ["quantize", "model.onnx", "--calib", "x.npy", "-o", "q.onnx", "--method", "percentile",
                           "--percentile", "150"], ["percentile 150"], outputs=["q.onnx"])
    e("reduce_range on xint8", ["quantize", "model.onnx", "--calib", "x.npy", "-o", "q.onnx", "--config", "xint8",
                                "--reduce-range"], ["xint8", "reduce_range"], outputs=["q.onnx"])
    e("unknown backend", ["run", "model.onnx", "--input", "x.npy", "--output", "y.npy", "--backend", "gpu"],
      ["gpu"], outputs=["y.npy"])
    # Models.
    e("missing model", ["run", "nope.onnx", "--input", "x.npy", "--output", "y.npy"], ["nope.onnx"],
      outputs=["y.npy"])
    e("model is a directory", ["inspect", "idx_truncated"], ["idx_truncated"])
    for bad in ["truncated.onnx", "random.onnx", "empty.onnx"]:
        e(f"{bad} (run)", ["run", bad, "--input", "x.npy", "--output", "y.npy"], [bad], outputs=["y.npy"])
        e(f"{bad} (quantize)", ["quantize", bad, "--calib", "x.npy", "-o", "q.onnx"], [bad], outputs=["q.onnx"])
    # Inputs of run.
    e("wrong input rank", ["run", "model.onnx", "--input", "x_rank2.npy", "--output", "y.npy"],
      ["input 'input'", "rank 4"], outputs=["y.npy"])
    e("wrong input shape", ["run", "model.onnx", "--input", "x_wrong_hw.npy", "--output", "y.npy"],
      ["input 'input'"], outputs=["y.npy"])
    e("wrong input dtype", ["run", "model.onnx", "--input", "x_i64.npy", "--output", "y.npy"],
      ["x_i64.npy", "int64"], outputs=["y.npy"])
    e("truncated npy", ["run", "model.onnx", "--input", "x_truncated.npy", "--output", "y.npy"],
      ["x_truncated.npy"], outputs=["y.npy"])
    e("bad npy magic", ["run", "model.onnx", "--input", "x_badmagic.npy", "--output", "y.npy"],
      ["x_badmagic.npy", "not an .npy file"], outputs=["y.npy"])
    e("too many inputs", ["run", "model.onnx", "--input", "x.npy", "--input", "x.npy", "--output", "y.npy"],
      ["1 inputs, 2 --input files"], outputs=["y.npy"])
    # Outputs that must not be written.
    e("output is the input", ["run", "model.onnx", "--input", "x.npy", "--output", "x.npy"],
      ["is the input file"])
    e("output is the model", ["run", "model.onnx", "--input", "x.npy", "--output", "./model.onnx"],
      ["is the input file"])
    e("quantize over the model", ["quantize", "model.onnx", "--calib", "x.npy", "-o", "model.onnx"],
      ["is the input file"])
    e("quantize over the calibration data", ["quantize", "model.onnx", "--calib", "x.npy", "-o", "x.npy"],
      ["is the input file"])
    e("output directory missing", ["run", "model.onnx", "--input", "x.npy", "--output", "no/such/dir/y.npy"],
      ["no/such/dir/y.npy", "no such directory"])
    e("output is a directory", ["run", "model.onnx", "--input", "x.npy", "--output", "idx_truncated"],
      ["is a directory"])
    # /proc refuses new files even to root, so this is an unwritable directory whoever runs the test.
    e("output directory not writable", ["run", "model.onnx", "--input", "x.npy", "--output", "/proc/qnn_y.npy"],
      ["/proc/qnn_y.npy", "cannot open"])
    e("output file too large (ulimit -f)",
      ["quantize", "model.onnx", "--calib", "x.npy", "-o", "q.onnx"], ["q.onnx", "writing"],
      outputs=["q.onnx"], limit_fsize=64 * 1024)
    # Calibration data.
    e("NaN in calibration data", ["quantize", "model.onnx", "--calib", "calib_nan.npy", "-o", "q.onnx"],
      ["NaN"], outputs=["q.onnx"])
    e("empty calibration data", ["quantize", "model.onnx", "--calib", "calib_empty.npy", "-o", "q.onnx"],
      ["empty"], outputs=["q.onnx"])
    e("calibration data of the wrong shape", ["quantize", "model.onnx", "--calib", "x_wrong_hw.npy", "-o", "q.onnx"],
      ["input"], outputs=["q.onnx"])
    e("missing dataset directory", ["quantize", "model.onnx", "--calib-idx", "no_such_dataset", "-o", "q.onnx"],
      ["no_such_dataset"], outputs=["q.onnx"])
    e("truncated dataset (quantize)", ["quantize", "model.onnx", "--calib-idx", "idx_truncated", "-o", "q.onnx"],
      ["train-images-idx3-ubyte"], outputs=["q.onnx"])
    e("missing dataset directory (eval)", ["eval", "model.onnx", "--idx", "no_such_dataset"], ["no_such_dataset"])
    e("labels out of range (eval)", ["eval", "model.onnx", "--idx", "idx_truncated"],
      ["t10k-labels-idx1-ubyte", "not a class"])
    e("compare with a truncated model", ["compare", "model.onnx", "truncated.onnx", "--input", "x.npy"],
      ["truncated.onnx"])

    # The same commands with good arguments succeed (so the failures above are the arguments' fault).
    r = run_qnn(qnn, ["run", "model.onnx", "--input", "x.npy", "--output", "y.npy"], work)
    if r.returncode != 0 or not (work / "y.npy").exists():
        fail(f"qnn run on good input failed: {r.returncode} {r.stderr.strip()}")
    else:
        y = np.load(work / "y.npy")
        if y.shape != (4, 10) or not np.isfinite(y).all():
            fail(f"qnn run wrote {y.shape}")
        print("ok   good run:", y.shape)
    # qnn profile: the JSON names every node with its time and MACs on the given batch.
    r = run_qnn(qnn, ["profile", "model.onnx", "--input", "x.npy", "--runs", "3", "--json"], work)
    if r.returncode != 0:
        fail(f"qnn profile failed: {r.returncode} {r.stderr.strip()}")
    else:
        import json
        p = json.loads(r.stdout)
        convs = [n for n in p["nodes"] if n["op"].startswith("Conv")]
        if p["batch"] != 4 or p["total_macs"] != 4 * 4335600 or len(convs) != 2 or not all(
                n["seconds"] > 0 and n["gmacs"] > 0 for n in convs):
            fail(f"qnn profile JSON: {r.stdout[:400]}")
        else:
            print(f"ok   profile: {len(p['nodes'])} nodes, {p['seconds'] * 1e3:.2f} ms for batch 4")
    e_profile = ["profile", "model.onnx", "--input", "x_rank2.npy"]
    expect_error(qnn, work, "profile with a wrong input", e_profile, ["input 'input'", "rank 4"],
                 inputs=[work / "x_rank2.npy", work / "model.onnx"])
    expect_error(qnn, work, "profile with --runs 0", ["profile", "model.onnx", "--input", "x.npy", "--runs", "0"],
                 ["--runs must be between 1 and 100000"])


def load_test_images(n):
    with gzip.open(DATASET / "t10k-images-idx3-ubyte.gz") as f:
        x = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 1, 28, 28)[:n]
    with gzip.open(DATASET / "t10k-labels-idx1-ubyte.gz") as f:
        y = np.frombuffer(f.read(), np.uint8, offset=8)[:n]
    return x.astype(np.float32) / 255.0, y


def output_quantum(model, onnx):
    """The scale of the DequantizeLinear that writes the graph's output (None for a float output)."""
    out = model.graph.output[0].name
    inits = {t.name: t for t in model.graph.initializer}
    for n in model.graph.node:
        if n.op_type == "DequantizeLinear" and out in n.output and n.input[1] in inits:
            return float(onnx.numpy_helper.to_array(inits[n.input[1]]).max())
    return None


def roundtrip(qnn, work):
    try:
        import onnx
        import onnx.numpy_helper
        import onnxruntime as ort
    except ImportError as e:
        print(f"{e}: skipped")
        return 77
    if not DATASET.is_dir():
        print(f"{DATASET} not found (Debian package dataset-fashion-mnist): skipped")
        return 77
    work.mkdir(parents=True, exist_ok=True)
    x, labels = load_test_images(1000)
    np.save(work / "test1000.npy", x)
    # (config, method, extra quantize arguments). u8s8 with --reduce-range runs in ORT's default
    # kernels: its 7-bit weights are what keeps their int16 pair sums exact.
    cases = [("u8s8", "minmax", []), ("s8s8", "entropy", []), ("a8w8", "percentile", []), ("a16w8", "minmax", []),
             ("xint8", "pow2-mse", []), ("bf16", None, []), ("u8s8", "minmax", ["--reduce-range"])]
    for config, method, extra in cases:
        reduced = "--reduce-range" in extra
        name = config + ("_rr" if reduced else "")
        out = work / f"fm_{name}.onnx"
        args = ["quantize", MODEL, "--calib-idx", DATASET, "--calib-per-class", "20", "--config", config, "-o", out]
        if method:
            args += ["--method", method]
        r = run_qnn(qnn, args + extra, work)
        if r.returncode != 0:
            fail(f"qnn quantize --config {config} {' '.join(extra)}: {r.stderr.strip()}")
            continue
        model = onnx.load(str(out))
        try:
            onnx.checker.check_model(model, full_check=True)
        except Exception as e:  # the checker's own exception types differ between onnx versions
            fail(f"{name}: onnx.checker rejects qnn's model: {e}")
            continue
        if reduced:
            wmax = max(int(np.abs(onnx.numpy_helper.to_array(t).astype(np.int32)).max())
                       for t in model.graph.initializer if t.data_type == onnx.TensorProto.INT8)
            if wmax != 64:
                fail(f"{name}: largest |int8 weight| is {wmax}, reduce_range's is 64")
                continue
        r = run_qnn(qnn, ["run", out, "--input", "test1000.npy", "--output", f"y_{name}.npy"], work)
        if r.returncode != 0:
            fail(f"qnn run {out.name}: {r.stderr.strip()}")
            continue
        y_qnn = np.load(work / f"y_{name}.npy")
        so = ort.SessionOptions()
        if not reduced:  # exact u8 x s8 products: ORT's default AVX2 kernel saturates int16 pairs (docs/numerics.md)
            so.add_session_config_entry("session.x64quantprecision", "1")
        try:
            sess = ort.InferenceSession(str(out), so, providers=["CPUExecutionProvider"])
            y_ort = sess.run(None, {sess.get_inputs()[0].name: x})[0]
        except Exception as e:
            fail(f"{name}: ONNX Runtime cannot run qnn's model: {e}")
            continue
        agree = float((y_ort.argmax(1) == y_qnn.argmax(1)).mean())
        acc_ort = float((y_ort.argmax(1) == labels).mean())
        acc_qnn = float((y_qnn.argmax(1) == labels).mean())
        diff = float(np.abs(y_ort.astype(np.float64) - y_qnn).max())
        q = output_quantum(model, onnx)
        line = (f"{name}: top-1 agreement {100 * agree:.1f} %, accuracy ORT {100 * acc_ort:.1f} % / qnn "
                f"{100 * acc_qnn:.1f} %, max |diff| {diff:.3g}" + (f" = {diff / q:.2f} quanta" if q else ""))
        if agree < 0.999:
            fail(line + " (top-1 agreement below 99.9 %)")
        elif q is not None and diff > 1.5 * q:  # integer outputs: anything under 2 quanta is 1 LSB
            fail(line + " (an output differs by more than one quantum)")
        elif q is None and diff > 0.05 * max(1.0, float(np.abs(y_ort).max())):
            fail(line + " (bf16 outputs differ by more than 5 % of the largest logit)")
        else:
            print("ok  ", line)
    return 0


def main():
    p = argparse.ArgumentParser()
    p.add_argument("qnn", type=Path)
    p.add_argument("work", type=Path)
    p.add_argument("--part", choices=["errors", "roundtrip", "all"], default="all")
    a = p.parse_args()
    if a.work.exists():
        shutil.rmtree(a.work)
    rc = 0
    if a.part in ("errors", "all"):
        errors(a.qnn.resolve(), a.work / "errors")
    if a.part in ("roundtrip", "all"):
        rc = roundtrip(a.qnn.resolve(), a.work / "roundtrip")
    if failures:
        print(f"{len(failures)} failure(s)")
        return 1
    return rc


if __name__ == "__main__":
    sys.exit(main())
