#!/usr/bin/env python3
"""Merge the benchmark JSONs of one scripts/bench.sh run into the comparison tables.

Inputs: Google Benchmark JSON of bench_peak, bench_kernels, bench_onednn and bench_model
(--benchmark_format=json, with repetitions), and the JSON of bench/peers.py. Prints, as Markdown
tables (docs/benchmarks.md holds one such print-out):

* the machine (the CPU model line of /proc/cpuinfo, its SIMD flags, the load average each binary
  recorded) and the measured per-core peaks;
* kernels: qnn against oneDNN per case, GMAC/s (median over repetitions of a rate per CPU second),
  % of the arithmetic's peak, and the ratio qnn/oneDNN (> 1: qnn is faster);
  and whether oneDNN's INT8 sums on the case's data were exact (bench_onednn's check);
* the model: images/s from the fastest repetition (wall clock), qnn against ONNX Runtime on the
  same model file and against PyTorch's eager int8, with ratios qnn/peer; for one thread also the
  ratio of CPU time per batch (the calling thread's, where all single-threaded work runs).
  --model-extra NAME=PATH adds the INT8 rows of bench_model run with another configuration
  (model/int8-NAME/...), and a table sets every qnn INT8 row against the fastest INT8 peer of the
  run: ONNX Runtime on any of the INT8 files, or PyTorch;
* with --layers (bench_model --layers_out), each INT8 layer of the model as qnn runs it (its own
  weights, ReLU and pooling fused) against oneDNN's kernel on the same shape.

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


def exactness(onednn_ctx: dict, name: str) -> tuple[str, dict | None]:
    """bench_onednn's check of its INT8 sums on the case's data: 'yes', or how many outputs were wrong."""
    reduced = name.startswith("int8r/")
    raw = onednn_ctx.get("exact:" + name.replace("int8r/", "int8/", 1))
    if not raw:
        return "", None
    wrong, outputs, max_error, wrong_7bit = (int(v) for v in raw.split())
    if reduced:
        wrong, max_error = wrong_7bit, None
    cell = "yes" if wrong == 0 else f"no: {wrong} of {outputs}"
    return cell, {"wrong": wrong, "outputs": outputs, "max_abs_error": max_error}


def kernel_rows(qnn: dict, onednn: dict, onednn_ctx: dict) -> tuple[list[list[str]], list[dict]]:
    rows, merged = [], []
    for name, entry in qnn.items():
        q = pick(entry, "median", "iteration")
        # "int8r/" (qnn with reduce_range weights) is set against oneDNN's int8 run of the same shape.
        o = pick(onednn.get(name.replace("int8r/", "int8/", 1), {}), "median", "iteration")
        q_g = q.get("GMAC") if q else None
        o_g = o.get("GMAC") if o else None
        exact_cell, exact = exactness(onednn_ctx, name)
        rows.append([name, fmt(q_g), fmt(q.get("pct_peak")), fmt(q.get("pct_madd16")) if "pct_madd16" in q else "",
                     fmt(o_g), fmt(o.get("pct_peak")) if o else "-", ratio(q_g, o_g), o.get("label", "") if o else "-",
                     exact_cell])
        merged.append({"case": name, "qnn_gmacs": q_g, "qnn_pct_peak": q.get("pct_peak"),
                       "qnn_pct_madd16": q.get("pct_madd16"), "onednn_gmacs": o_g,
                       "onednn_pct_peak": o.get("pct_peak") if o else None,
                       "onednn_impl": o.get("label") if o else None, "onednn_exact": exact})
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


def fastest_peer_rows(model: list[dict], peers: list[dict], base_config: str) -> tuple[list[list[str]], list[dict]]:
    """Each qnn INT8 row against the fastest INT8 peer of the same batch and threads: ONNX Runtime
    on any INT8 file of the run (its own configuration's or another's), or PyTorch's int8.
    `base_config` names the configuration of the main model file ("model/int8/...")."""
    rows, merged = [], []
    for m in model:
        case = m["case"]
        if not case.startswith("model/int8"):
            continue
        tail = re.search(r"/b\d+/t\d+$", case).group(0)
        best = None
        for p in peers:
            if p["name"].startswith("model/int8") and p["name"].endswith(tail) and p["impl"] in ("onnxruntime", "torch-onednn"):
                if best is None or p["images_per_s"] > best["images_per_s"]:
                    best = p
        if best is None:
            continue
        config = best["name"].split("/")[1].removeprefix("int8").removeprefix("-") or base_config
        label = "PyTorch onednn int8" if best["impl"] == "torch-onednn" else f"ONNX Runtime, {config} file"
        q = m["qnn_images_per_s"]
        rows.append([case, fmt(q, 0), label, fmt(best["images_per_s"], 0), ratio(q, best["images_per_s"])])
        merged.append({"case": case, "qnn_images_per_s": q, "fastest_peer": label,
                       "fastest_peer_images_per_s": best["images_per_s"]})
    return rows, merged


def layer_rows(layer_docs: list[dict], onednn: dict, onednn_ctx: dict) -> tuple[list[str], list[list[str]], list[dict]]:
    """The model's layers as qnn runs them (bench_model --layers_out: qnn::profile at one thread) against
    oneDNN's INT8 kernel on the same shape. Convolutions and Gemms are named conv1, conv2, ..., fc1, ...
    in execution order, the names of bench/shapes.hpp."""
    configs = [d["config"] for d in layer_docs]
    rates: dict[tuple[str, int], dict[str, float]] = {}
    for d in layer_docs:
        for p in d["profiles"]:
            convs = fcs = 0
            for n in p["nodes"]:
                if not n.get("macs") or n["macs"] <= 0 or n.get("gmacs") is None:
                    continue
                if "Conv" in n["op"]:
                    convs += 1
                    layer = f"conv{convs}"
                elif "Gemm" in n["op"] or "MatMul" in n["op"]:
                    fcs += 1
                    layer = f"fc{fcs}"
                else:
                    continue
                rates.setdefault((layer, p["batch"]), {})[d["config"]] = n["gmacs"]
    header = ["layer"] + [f"qnn {c} GMAC/s" for c in configs] + ["oneDNN GMAC/s"] + \
             [f"{c}/oneDNN" for c in configs] + ["oneDNN exact (random full-range weights)"]
    rows, merged = [], []
    for (layer, batch), by_config in sorted(rates.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        case = f"int8/{layer}/b{batch}"
        o = pick(onednn.get(case, {}), "median", "iteration")
        o_g = o.get("GMAC") if o else None
        exact_cell, _ = exactness(onednn_ctx, case)
        rows.append([f"{layer}/b{batch}"] + [fmt(by_config.get(c)) for c in configs] + [fmt(o_g)] +
                    [ratio(by_config.get(c), o_g) for c in configs] + [exact_cell])
        merged.append({"layer": layer, "batch": batch, "qnn_gmacs": by_config, "onednn_gmacs": o_g})
    return header, rows, merged


def named_pairs(specs: list[str], flag: str) -> list[tuple[str, str]]:
    out = []
    for spec in specs:
        name, sep, path = spec.partition("=")
        if not sep or not name or not path:
            sys.exit(f"report.py: {flag} takes NAME=PATH, got '{spec}'")
        out.append((name, path))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--peak")
    ap.add_argument("--kernels")
    ap.add_argument("--onednn")
    ap.add_argument("--model")
    ap.add_argument("--peers")
    ap.add_argument("--model-extra", action="append", default=[], metavar="NAME=PATH",
                    help="bench_model JSON of another INT8 configuration; its int8 rows become model/int8-NAME/...")
    ap.add_argument("--layers", action="append", default=[], help="bench_model --layers_out JSON (repeatable)")
    ap.add_argument("--command", help="the command that produced the inputs, printed with the tables")
    ap.add_argument("--json", help="write the merged rows here")
    args = ap.parse_args()

    peak_ctx, peak = load_gbench(args.peak)
    kern_ctx, kern = load_gbench(args.kernels)
    dnn_ctx, dnn = load_gbench(args.onednn)
    model_ctx, model = load_gbench(args.model)
    for name, path in named_pairs(args.model_extra, "--model-extra"):
        _, extra = load_gbench(path)
        for case, entry in extra.items():
            if case.startswith("model/int8/"):
                model[case.replace("model/int8/", f"model/int8-{name}/", 1)] = entry
    layer_docs = []
    for path in args.layers:
        if os.path.exists(path):
            with open(path) as f:
                layer_docs.append(json.load(f))
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
        rows, merged = kernel_rows(kern, dnn, dnn_ctx)
        print("Kernels, one core (median of repetitions; GMAC/s per CPU second; %peak: int8 of the best u8s8/VNNI peak,\n"
              "fp32/bf16 of the fp32 FMA peak; %madd16: of the int16-pair peak qnn's int8 kernel is built on;\n"
              "qnn/oneDNN > 1: qnn faster; oneDNN exact: its s32 sums on the case's data against exact ones —\n"
              "qnn's are exact on every row):\n")
        print(table(["case", "qnn GMAC/s", "qnn %peak", "qnn %madd16", "oneDNN GMAC/s", "oneDNN %peak",
                     "qnn/oneDNN", "oneDNN impl", "oneDNN exact"], rows))
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
        rows, fastest = fastest_peer_rows(merged, peers.get("results", []), model_ctx.get("int8_config", "int8"))
        if rows:
            print("INT8 models against the fastest INT8 peer of the run (images/s as above; the peer is the\n"
                  "fastest of ONNX Runtime on every INT8 QDQ file of the run and PyTorch's int8 model):\n")
            print(table(["case", "qnn images/s", "fastest peer", "peer images/s", "qnn/fastest peer"], rows))
            print()
            out["fastest_peer"] = fastest
    if layer_docs:
        header, rows, merged = layer_rows(layer_docs, dnn, dnn_ctx)
        # bench_model --layers_out says how many profile windows it kept the fastest of.
        windows = min(int(d.get("windows", 1)) for d in layer_docs)
        print("The model's INT8 layers as qnn runs them (qnn::profile, one thread, the model's own weights and\n"
              f"inputs, the fastest of {windows} window(s); the convolutions include their fused ReLU and max pool)\n"
              "against oneDNN's INT8 kernel on the same shape (random data; its speed does not depend on the\n"
              "values, its exactness does):\n")
        print(table(header, rows))
        print()
        out["layers"] = merged
    for e in peers.get("errors", []):
        print(f"peer FAILED: {e['impl']}: {e['error']}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=2)
            f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
