#!/usr/bin/env python3
"""Merge the benchmark JSONs of one scripts/bench.sh run into the comparison tables.

Inputs: Google Benchmark JSON of bench_peak, bench_kernels, bench_onednn and bench_model
(--benchmark_format=json, with repetitions), and the JSON of bench/peers.py. Prints, as Markdown
tables (docs/benchmarks.md holds one such print-out):

* the machine (the CPU model line of /proc/cpuinfo, its SIMD flags, the load average each binary
  recorded) and the measured per-core peaks;
* kernels: qnn against oneDNN per case, GMAC/s (median over repetitions of a rate per CPU second),
  % of the arithmetic's peak, and the ratio qnn/oneDNN (> 1: qnn is faster);
* the model: images/s from the fastest repetition (wall clock), qnn against ONNX Runtime on the
  same model file and against PyTorch's eager int8, with ratios qnn/peer; for one thread also the
  ratio of CPU time per batch (the calling thread's, where all single-threaded work runs).

Every ratio pairs two numbers of the same run. --json writes the merged rows.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys


def load_gbench(path: str | None) -> tuple[dict, dict]:
    """(context, {run_name: {aggregate_name or 'iteration': entry}}) of a Google Benchmark JSON."""
    if not path or not os.path.exists(path):
        return {}, {}
    with open(path) as f:
        doc = json.load(f)
    runs: dict[str, dict] = {}
    for b in doc.get("benchmarks", []):
        name = re.sub(r"/real_time$", "", b.get("run_name", b["name"]))
        kind = b.get("aggregate_name", "iteration") if b.get("run_type") == "aggregate" else "iteration"
        runs.setdefault(name, {})[kind] = b
    return doc.get("context", {}), runs


def pick(entry: dict, *kinds: str) -> dict | None:
    for k in kinds:
        if k in entry:
            return entry[k]
    return None


def cpu_line() -> tuple[str, str]:
    model, flags = "unknown CPU", ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name") and model == "unknown CPU":
                    model = line.split(":", 1)[1].strip()
                elif line.startswith("flags") and not flags:
                    have = set(line.split(":", 1)[1].split())
                    wanted = ["avx2", "fma", "avx512f", "avx512bw", "avx512_vnni", "avx_vnni", "avx512_bf16"]
                    flags = " ".join(f for f in wanted if f in have)
    except OSError:
        pass
    return model, flags


def fmt(v: float | None, digits: int = 1) -> str:
    return "-" if v is None else f"{v:.{digits}f}"


def ratio(a: float | None, b: float | None) -> str:
    return "-" if a is None or b is None or b == 0 else f"{a / b:.2f}"


def table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(header[i]), *(len(r[i]) for r in rows)) for i in range(len(header))]
    line = lambda cells: "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths)) + " |"  # noqa: E731
    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(header), sep] + [line(r) for r in rows])


def kernel_rows(qnn: dict, onednn: dict) -> tuple[list[list[str]], list[dict]]:
    rows, merged = [], []
    for name, entry in qnn.items():
        q = pick(entry, "median", "iteration")
        # "int8r/" (qnn with reduce_range weights) is set against oneDNN's int8 run of the same shape.
        o = pick(onednn.get(name.replace("int8r/", "int8/", 1), {}), "median", "iteration")
        q_g = q.get("GMAC") if q else None
        o_g = o.get("GMAC") if o else None
        rows.append([name, fmt(q_g), fmt(q.get("pct_peak")), fmt(q.get("pct_madd16")) if "pct_madd16" in q else "",
                     fmt(o_g), fmt(o.get("pct_peak")) if o else "-", ratio(q_g, o_g), o.get("label", "") if o else "-"])
        merged.append({"case": name, "qnn_gmacs": q_g, "qnn_pct_peak": q.get("pct_peak"),
                       "qnn_pct_madd16": q.get("pct_madd16"), "onednn_gmacs": o_g,
                       "onednn_pct_peak": o.get("pct_peak") if o else None,
                       "onednn_impl": o.get("label") if o else None})
    return rows, merged


def model_rows(qnn: dict, peers: list[dict]) -> tuple[list[list[str]], list[dict]]:
    by = {(p["name"], p["impl"]): p for p in peers}
    rows, merged = [], []
    for name, entry in qnn.items():
        q = pick(entry, "min", "iteration")
        scale = {"ns": 1e-6, "us": 1e-3, "ms": 1.0, "s": 1e3}[q["time_unit"]]
        q_ms = q["real_time"] * scale
        q_cpu_ms = q["cpu_time"] * scale
        batch = int(re.search(r"/b(\d+)/", name).group(1))
        single = name.endswith("/t1")
        q_ips = batch / (q_ms * 1e-3)
        # The model's MAC rate as a share of the core's peak for its arithmetic, at the fastest
        # repetition: pct_peak and images are both rates over the same run, so their ratio is per image.
        m = pick(entry, "median", "iteration") or {}
        q_pct = q_ips * m["pct_peak"] / m["images"] if m.get("pct_peak") and m.get("images") else None
        # BF16 has no peer here (ONNX Runtime's CPU provider has no bf16 Conv/Gemm kernels, PyTorch's
        # bf16 needs AVX512-BF16 to be fast): its row is set against ONNX Runtime FP32.
        ort_name = name.replace("/bf16/", "/fp32/")
        ort = by.get((ort_name, "onnxruntime"))
        tor = by.get((name, "torch-onednn"))
        ort_ips = ort["images_per_s"] if ort else None
        tor_ips = tor["images_per_s"] if tor else None
        label = name + (" (vs ORT fp32)" if ort_name != name else "")
        # One thread: every library works on the calling thread, whose CPU time is the cost of a batch
        # without what other processes took; a ratio of those is the steadier single-core comparison.
        ort_cpu = ort.get("cpu_min_ms") if ort and single else None
        tor_cpu = tor.get("cpu_min_ms") if tor and single else None
        rows.append([label, fmt(q_ips, 0), fmt(q_ms, 3), fmt(q_pct), fmt(ort_ips, 0), ratio(q_ips, ort_ips), fmt(tor_ips, 0),
                     ratio(q_ips, tor_ips), ratio(ort_cpu, q_cpu_ms if single else None),
                     ratio(tor_cpu, q_cpu_ms if single else None)])
        merged.append({"case": name, "qnn_images_per_s": q_ips, "qnn_latency_ms": q_ms, "qnn_pct_peak": q_pct,
                       "qnn_cpu_ms": q_cpu_ms if single else None,
                       "onnxruntime_case": ort_name, "onnxruntime_images_per_s": ort_ips,
                       "onnxruntime_cpu_ms": ort_cpu, "torch_onednn_images_per_s": tor_ips,
                       "torch_onednn_cpu_ms": tor_cpu})
    return rows, merged


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--peak")
    ap.add_argument("--kernels")
    ap.add_argument("--onednn")
    ap.add_argument("--model")
    ap.add_argument("--peers")
    ap.add_argument("--command", help="the command that produced the inputs, printed with the tables")
    ap.add_argument("--json", help="write the merged rows here")
    args = ap.parse_args()

    peak_ctx, peak = load_gbench(args.peak)
    kern_ctx, kern = load_gbench(args.kernels)
    dnn_ctx, dnn = load_gbench(args.onednn)
    model_ctx, model = load_gbench(args.model)
    peers: dict = {}
    if args.peers and os.path.exists(args.peers):
        with open(args.peers) as f:
            peers = json.load(f)

    model_name, flags = cpu_line()
    print(f"- CPU: {model_name} ({os.cpu_count()} logical CPUs; flags: {flags or 'none of note'})")
    if args.command:
        print(f"- command: {args.command}")
    loads = {n: c.get("load_avg") for n, c in
             [("bench_peak", peak_ctx), ("bench_kernels", kern_ctx), ("bench_onednn", dnn_ctx), ("bench_model", model_ctx)] if c}
    if loads:
        print("- load average (1/5/15 min) at the start of each binary: " +
              "; ".join(f"{n} {' '.join(f'{x:.2f}' for x in v)}" for n, v in loads.items() if v))
    versions = dict(peers.get("context", {}).get("versions", {}))
    if dnn_ctx.get("onednn_version"):
        versions["onednn"] = dnn_ctx["onednn_version"]
    if versions:
        print("- peers: " + ", ".join(f"{k} {v}" for k, v in versions.items()))
    print()

    out: dict = {"cpu": model_name, "flags": flags, "load_avg": loads, "versions": versions}
    if peak:
        rows = []
        for name, entry in peak.items():
            p = pick(entry, "median", "iteration")
            rows.append([name.removeprefix("peak/"), p.get("label", ""), fmt(p.get("GMAC"))])
        print("Per-core peak, measured (bench_peak; median of repetitions, per CPU second):\n")
        print(table(["probe", "instruction", "GMAC/s"], rows))
        print()
        out["peaks"] = {r[0]: float(r[2]) for r in rows}
    if kern:
        rows, merged = kernel_rows(kern, dnn)
        print("Kernels, one core (median of repetitions; GMAC/s per CPU second; %peak: int8 of the best u8s8/VNNI peak,\n"
              "fp32/bf16 of the fp32 FMA peak; %madd16: of the int16-pair peak qnn's int8 kernel is built on;\n"
              "qnn/oneDNN > 1: qnn faster):\n")
        print(table(["case", "qnn GMAC/s", "qnn %peak", "qnn %madd16", "oneDNN GMAC/s", "oneDNN %peak",
                     "qnn/oneDNN", "oneDNN impl"], rows))
        print()
        out["kernels"] = merged
    if model:
        rows, merged = model_rows(model, peers.get("results", []))
        print("Fashion-MNIST model end to end (fastest of the repetitions, wall clock; tN = N threads;\n"
              "qnn %peak: the model's MACs per second as a share of one core's measured peak for its arithmetic —\n"
              "for INT8 at 1 thread, the share of the INT8 roofline; ratios qnn/peer > 1: qnn faster; the (CPU)\n"
              "ratios, for 1 thread, compare CPU time per batch):\n")
        print(table(["case", "qnn images/s", "qnn ms/batch", "qnn %peak", "ORT images/s", "qnn/ORT", "torch int8 images/s",
                     "qnn/torch", "qnn/ORT (CPU)", "qnn/torch (CPU)"], rows))
        print()
        out["model"] = merged
    for e in peers.get("errors", []):
        print(f"peer FAILED: {e['impl']}: {e['error']}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=2)
            f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
