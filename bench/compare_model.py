#!/usr/bin/env python3
"""Before/after comparison of two bench_model binaries, with ONNX Runtime in the same run.

On a shared machine a figure measured minutes apart from another is not comparable; so this runs
the two builds back to back, alternating, for several rounds, and then bench/peers.py (ONNX Runtime
only), and reports
per case the median over rounds of each build's images/s (each round's figure is the fastest of
its windows, as in bench_model), the median of the per-round new/old ratios, and new/ORT from the
ORT figure of the same run. With one thread every runtime does all the work on the calling thread,
so the "(CPU)" columns also compare images per CPU second of that thread: the steadier figure
when other jobs share the machine.

  python3 bench/compare_model.py --old OLD/bench_model --new NEW/bench_model [--rounds 3]
         [--filter 'model/(int8|fp32)/b(1|64)/t(1|2)/'] [--config u8s8|a8w8|xint8] [--reduce-range]
         [--json out.json]

--config and --reduce-range pass --config / --reduce_range to both builds: the INT8 model (and the
one ONNX Runtime runs) then has that configuration, or 7-bit weights. --ort-config gives ONNX
Runtime the model of another configuration instead (written by the new build): its fastest INT8
model is U8S8 (`--config a8w8 --ort-config u8s8` compares qnn's A8W8 with it). --with-torch runs
PyTorch's int8 model too (bench/peers.py: eager PTQ on its onednn engine, the same network, int8
cases only) and adds its columns: with both, one run holds qnn and the two peers' fastest models.
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))


def run_bench(binary: str, qdq: str, flt: str, min_time: float, reps: int, extra: list) -> dict:
    out = subprocess.run(
        [binary, f"--qdq_out={qdq}", f"--benchmark_filter={flt}", f"--benchmark_min_time={min_time}",
         f"--benchmark_repetitions={reps}", "--benchmark_report_aggregates_only=true",
         "--benchmark_format=json", *extra], check=True, capture_output=True, text=True).stdout
    rates = {}
    for b in json.loads(out)["benchmarks"]:
        if b.get("aggregate_name") != "min":
            continue
        name = b["run_name"].removesuffix("/real_time")
        batch = int(re.search(r"/b(\d+)/", name).group(1))
        unit = {"s": 1, "ms": 1e3, "us": 1e6, "ns": 1e9}[b["time_unit"]]
        rates[name] = (batch / (b["real_time"] / unit), batch / (b["cpu_time"] / unit))
    return rates


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--old", required=True, help="bench_model built from the old tree")
    ap.add_argument("--new", required=True, help="bench_model built from the new tree")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--filter", default="model/(int8|fp32)/b(1|64)/t(1|2)/")
    ap.add_argument("--min-time", type=float, default=0.2)
    ap.add_argument("--repetitions", type=int, default=7)
    ap.add_argument("--reduce-range", action="store_true", help="INT8 weights on [-64, 64] in both builds")
    ap.add_argument("--config", default="u8s8", help="the INT8 model's configuration (bench_model --config)")
    ap.add_argument("--ort-config", help="the configuration of the INT8 model ONNX Runtime runs (default: --config)")
    ap.add_argument("--with-torch", action="store_true", help="also run PyTorch's int8 model (bench/peers.py)")
    ap.add_argument("--json", help="write the raw figures here")
    args = ap.parse_args()

    work = tempfile.mkdtemp(prefix="qnn_compare_")
    qdq = os.path.join(work, f"fashion_mnist_{args.config}.qdq.onnx")
    reduce = ["--reduce_range"] if args.reduce_range else []
    extra = [f"--config={args.config}"] + reduce
    ort_qdq = qdq
    if args.ort_config and args.ort_config != args.config:
        ort_qdq = os.path.join(work, f"fashion_mnist_{args.ort_config}.qdq.onnx")
        subprocess.run([args.new, f"--qdq_out={ort_qdq}", f"--config={args.ort_config}", *reduce,
                        "--benchmark_filter=^$"], check=True, capture_output=True)
    old, new = {}, {}
    for r in range(args.rounds):
        for binary, into in ((args.old, old), (args.new, new)):
            for name, rate in run_bench(binary, qdq, args.filter, args.min_time, args.repetitions, extra).items():
                into.setdefault(name, []).append(rate)
        print(f"compare_model: round {r + 1} of {args.rounds} done", file=sys.stderr)
    peers_json = os.path.join(work, "peers.json")
    only = [] if args.with_torch else ["--only", "onnxruntime"]
    subprocess.run([sys.executable, os.path.join(HERE, "peers.py"), *only, "--qdq", ort_qdq,
                    "--json", peers_json, "--min-time", str(args.min_time), "--repetitions", str(args.repetitions)],
                   check=True, stdout=subprocess.DEVNULL)
    with open(peers_json) as f:
        peers = json.load(f)
    if args.with_torch and peers.get("errors"):
        print(f"compare_model: a peer failed: {peers['errors']}", file=sys.stderr)

    def rates(impl):
        return {row["name"]: (row["images_per_s"], row["batch"] / (row["cpu_min_ms"] / 1e3))
                for row in peers["results"] if row["impl"] == impl}

    ort, torch = rates("onnxruntime"), rates("torch-onednn")

    def fmt(v, spec):
        return "-" if v is None else format(v, spec)

    torch_head = " torch images/s | new/torch | new/torch (CPU) |" if args.with_torch else ""
    print("| case | old images/s | new images/s | new/old | new/old (CPU) | ORT images/s | new/ORT | new/ORT (CPU) |"
          + torch_head)
    print("|---|---|---|---|---|---|---|---|" + ("---|---|---|" if args.with_torch else ""))
    for name in old:
        if name not in new:
            continue
        o = statistics.median(r for r, _ in old[name])
        n = statistics.median(r for r, _ in new[name])
        n_cpu = statistics.median(c for _, c in new[name])
        ratio = statistics.median(b[0] / a[0] for a, b in zip(old[name], new[name]))
        ratio_cpu = statistics.median(b[1] / a[1] for a, b in zip(old[name], new[name]))
        one_thread = name.endswith("/t1")
        def peer_cells(peer):
            return (f" {fmt(peer and peer[0], '.0f')} | {fmt(peer and n / peer[0], '.2f')} | "
                    f"{fmt(peer and one_thread and n_cpu / peer[1] or None, '.2f')} |")

        print(f"| {name} | {o:.0f} | {n:.0f} | {ratio:.2f} | {fmt(ratio_cpu if one_thread else None, '.2f')} |"
              + peer_cells(ort.get(name)) + (peer_cells(torch.get(name)) if args.with_torch else ""))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"old": old, "new": new, "onnxruntime": ort, "torch": torch}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
