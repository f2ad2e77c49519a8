#!/usr/bin/env python3
"""bench/report.py on hand-made inputs: the tables the benchmark command prints pair the right numbers.

Writes small Google Benchmark, peers and layer-profile JSONs with known values to a temporary
directory, runs report.py on them, and checks its merged JSON (--json): qnn/oneDNN pairs, oneDNN's
exactness cell for full-range ("int8/") and 7-bit ("int8r/") rows, the INT8 rows of a second
configuration (--model-extra), the fastest INT8 peer of each case, and the per-layer table's naming
and rates. Exit status 0 when every check holds.

    python3 tests/bench/test_report.py
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
REPORT = os.path.join(ROOT, "bench", "report.py")


def gbench(context: dict, entries: list[dict]) -> dict:
    """A Google Benchmark JSON with one 'median' (kernels) or 'min'/'median' (model) aggregate per entry."""
    out = []
    for e in entries:
        for agg in e.get("aggregates", ["median"]):
            out.append({"name": e["name"] + "_" + agg, "run_name": e["name"], "run_type": "aggregate",
                        "aggregate_name": agg, **e["fields"]})
    return {"context": context, "benchmarks": out}


def model_entry(name: str, ms: float, images_per_s_median: float, pct: float) -> dict:
    return {"name": name, "aggregates": ["min", "median"],
            "fields": {"real_time": ms, "cpu_time": ms, "time_unit": "ms", "images": images_per_s_median,
                       "pct_peak": pct}}


def main() -> int:
    failures: list[str] = []

    def expect(cond: bool, what: str) -> None:
        if not cond:
            failures.append(what)

    with tempfile.TemporaryDirectory() as d:
        def dump(name: str, doc: dict) -> str:
            path = os.path.join(d, name)
            with open(path, "w") as f:
                json.dump(doc, f)
            return path

        kernels = dump("kernels.json", gbench({}, [
            {"name": "int8/fc2/b256", "fields": {"GMAC": 60.0, "pct_peak": 50.0, "pct_madd16": 80.0}},
            {"name": "int8r/fc2/b256", "fields": {"GMAC": 90.0, "pct_peak": 75.0}},
        ]))
        onednn = dump("onednn.json", gbench({"exact:int8/fc2/b256": "30717 30720 110846 0",
                                             "exact:int8/conv2/b256": "9 100 7 3"}, [
            {"name": "int8/fc2/b256", "fields": {"GMAC": 80.0, "pct_peak": 66.0, "label": "gemm:jit"}},
            {"name": "int8/conv2/b256", "fields": {"GMAC": 40.0, "pct_peak": 33.0, "label": "jit"}},
            {"name": "int8/fc1/b256", "fields": {"GMAC": 50.0, "pct_peak": 40.0, "label": "gemm:jit"}},
        ]))
        # 256 images in 20 ms = 12,800 images/s (U8S8); 256 in 16 ms = 16,000 images/s (A8W8).
        model = dump("model.json", gbench({}, [model_entry("model/int8/b256/t1", 20.0, 12000.0, 40.0),
                                                model_entry("model/fp32/b256/t1", 40.0, 6000.0, 30.0)]))
        model_a8w8 = dump("model_a8w8.json", gbench({}, [model_entry("model/int8/b256/t1", 16.0, 15000.0, 50.0),
                                                          model_entry("model/fp32/b256/t1", 99.0, 1.0, 1.0)]))
        peers = dump("peers.json", {"context": {}, "results": [
            {"name": "model/int8/b256/t1", "impl": "onnxruntime", "images_per_s": 10000.0, "cpu_min_ms": 25.6},
            {"name": "model/int8-a8w8/b256/t1", "impl": "onnxruntime", "images_per_s": 4000.0, "cpu_min_ms": 64.0},
            {"name": "model/int8/b256/t1", "impl": "torch-onednn", "images_per_s": 10666.0, "cpu_min_ms": 24.0},
            {"name": "model/fp32/b256/t1", "impl": "onnxruntime", "images_per_s": 8000.0, "cpu_min_ms": 32.0},
        ]})
        node = lambda name, op, macs, gmacs: {"name": name, "op": op, "macs": macs, "gmacs": gmacs}  # noqa: E731
        layers = dump("layers.json", {"config": "a8w8", "windows": 5, "profiles": [{"batch": 256, "nodes": [
            node("q", "QuantizeLinear", 0, None),
            node("c1", "QLinearConv+relu+maxpool", 100, 20.0),
            node("c2", "QLinearConv+relu+maxpool", 100, 88.0),
            node("g1", "com.microsoft.QGemm", 100, 110.0),
            node("g2", "com.microsoft.QGemm", 100, 66.0),
        ]}]})
        merged = os.path.join(d, "report.json")
        run = subprocess.run([sys.executable, REPORT, "--kernels", kernels, "--onednn", onednn, "--model", model,
                              "--model-extra", f"a8w8={model_a8w8}", "--layers", layers, "--peers", peers,
                              "--json", merged], capture_output=True, text=True)
        expect(run.returncode == 0, f"report.py exited {run.returncode}: {run.stderr}")
        if run.returncode == 0:
            with open(merged) as f:
                r = json.load(f)
            k = {row["case"]: row for row in r["kernels"]}
            expect(k["int8/fc2/b256"]["onednn_gmacs"] == 80.0, "int8/ row paired with oneDNN's int8/ case")
            expect(k["int8r/fc2/b256"]["onednn_gmacs"] == 80.0, "int8r/ row paired with oneDNN's int8/ case")
            expect(k["int8/fc2/b256"]["onednn_exact"] == {"wrong": 30717, "outputs": 30720, "max_abs_error": 110846},
                   f"full-range exactness: {k['int8/fc2/b256']['onednn_exact']}")
            expect(k["int8r/fc2/b256"]["onednn_exact"]["wrong"] == 0, "7-bit exactness from the fourth field")
            expect("| no: 30717 of 30720 |" in run.stdout.replace("  ", " ").replace("  ", " "),
                   "the exactness cell is printed")
            m = {row["case"]: row for row in r["model"]}
            expect("model/int8-a8w8/b256/t1" in m and "model/fp32-a8w8/b256/t1" not in m,
                   f"only the extra config's int8 rows are added: {sorted(m)}")
            expect(abs(m["model/int8-a8w8/b256/t1"]["qnn_images_per_s"] - 16000.0) < 1e-6, "A8W8 images/s from min")
            expect(m["model/int8-a8w8/b256/t1"]["onnxruntime_images_per_s"] == 4000.0, "A8W8 paired with ORT's A8W8 file")
            fp = {row["case"]: row for row in r["fastest_peer"]}
            expect(fp["model/int8/b256/t1"]["fastest_peer"] == "PyTorch onednn int8",
                   f"fastest peer of U8S8: {fp['model/int8/b256/t1']}")
            expect(fp["model/int8-a8w8/b256/t1"]["fastest_peer_images_per_s"] == 10666.0,
                   "the A8W8 row is set against the fastest peer of any file")
            expect("model/fp32/b256/t1" not in fp, "FP32 rows are not in the fastest INT8 peer table")
            lay = {(row["layer"], row["batch"]): row for row in r["layers"]}
            expect(sorted(lay) == [("conv1", 256), ("conv2", 256), ("fc1", 256), ("fc2", 256)],
                   f"layers named in execution order: {sorted(lay)}")
            expect(lay[("conv2", 256)]["qnn_gmacs"] == {"a8w8": 88.0} and lay[("conv2", 256)]["onednn_gmacs"] == 40.0,
                   f"conv2 rates: {lay[('conv2', 256)]}")
            expect(lay[("fc2", 256)]["onednn_gmacs"] == 80.0, "fc2 paired with oneDNN's fc2 case")
            expect(lay[("conv1", 256)]["onednn_gmacs"] is None, "a case oneDNN did not run has no rate")
            expect("the fastest of 5 window(s)" in run.stdout, "the layer table names bench_model's window count")
    for f in failures:
        print("FAILED:", f)
    print(f"{'ok' if not failures else 'FAILED'}: bench/report.py on hand-made inputs ({len(failures)} failures)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
