#!/usr/bin/env python3
"""Times one LSTM training step in QuantForge (bench_lstm, Google Benchmark) and in PyTorch on the CPU,
in the same run, same shapes, same thread count, and prints the ratio.

The step: LSTM(input, hidden, layers, batch_first) -> Linear(hidden, 1) on the last hidden state ->
BCE-with-logits -> backward -> Adam. Configs from issue 2:
  A = (input 7, hidden 64, 1 layer, seq 60, batch 64)
  B = (input 32, hidden 128, 2 layers, seq 60, batch 256)

Usage: python3 bench/compare_torch.py [--bench build/bench/bench_lstm] [--threads 1 2] [--repeat 3] [--markdown]
Needs torch (pip install torch); the product itself does not.
"""
import argparse
import json
import os
import platform
import statistics
import subprocess
import time

CONFIGS = {"A": dict(input=7, hidden=64, layers=1, seq=60, batch=64),
           "B": dict(input=32, hidden=128, layers=2, seq=60, batch=256)}


def lstm_flops(c):
    """Multiply-adds x2 of the GEMMs of one forward pass (pointwise work is not counted)."""
    total = 0
    for layer in range(c["layers"]):
        inp = c["input"] if layer == 0 else c["hidden"]
        total += 2 * c["batch"] * c["seq"] * (inp + c["hidden"]) * 4 * c["hidden"]
    return total


def time_torch(c, threads, min_time=2.0):
    import torch
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    lstm = torch.nn.LSTM(c["input"], c["hidden"], num_layers=c["layers"], batch_first=True)
    head = torch.nn.Linear(c["hidden"], 1)
    params = list(lstm.parameters()) + list(head.parameters())
    opt = torch.optim.Adam(params, lr=1e-3)
    x = torch.randn(c["batch"], c["seq"], c["input"])
    y = (torch.rand(c["batch"], 1) > 0.5).float()
    loss_fn = torch.nn.BCEWithLogitsLoss()

    def step():
        opt.zero_grad(set_to_none=True)
        out, (h_n, _) = lstm(x)
        loss = loss_fn(head(h_n[-1]), y)
        loss.backward()
        opt.step()

    for _ in range(3):
        step()
    samples = []
    start = time.perf_counter()
    while time.perf_counter() - start < min_time or len(samples) < 10:
        t0 = time.perf_counter()
        step()
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples)


def time_ours(bench, config_name, threads):
    out = subprocess.run([bench, f"--benchmark_filter=^BM_TrainStep/{config_name}/threads:{threads}(/real_time)?$",
                          "--benchmark_format=json", "--benchmark_min_time=2", "--benchmark_repetitions=1"],
                         check=True, capture_output=True, text=True).stdout
    runs = [b for b in json.loads(out)["benchmarks"] if b.get("run_type") == "iteration"]
    if not runs:
        raise SystemExit(f"no benchmark BM_TrainStep/{config_name}/threads:{threads} in {bench}")
    r = runs[0]
    scale = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}[r["time_unit"]]
    return r["real_time"] * scale


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bench", default="build/bench/bench_lstm")
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--configs", nargs="+", default=list(CONFIGS))
    ap.add_argument("--markdown", action="store_true")
    ap.add_argument("--repeat", type=int, default=3,
                    help="alternate ours/torch this many times per case and report the medians")
    args = ap.parse_args()
    import torch
    rows = []
    for name in args.configs:
        c = CONFIGS[name]
        for threads in args.threads:
            ours_runs, torch_runs = [], []
            for _ in range(args.repeat):  # interleaved, so drifting machine load hits both sides alike
                ours_runs.append(time_ours(args.bench, name, threads))
                torch_runs.append(time_torch(c, threads))
            ours, theirs = statistics.median(ours_runs), statistics.median(torch_runs)
            flops = 3 * lstm_flops(c)  # forward + backward (about twice the forward)
            rows.append((name, threads, ours * 1e3, theirs * 1e3, theirs / ours, flops / ours / 1e9))
    header = ("config", "threads", "ours ms", "torch ms", "speed-up", "ours GFLOP/s")
    print(f"# {time.strftime('%Y-%m-%d')} {platform.processor() or platform.machine()}, {os.cpu_count()} cpus, "
          f"torch {torch.__version__}")
    if args.markdown:
        print("| " + " | ".join(header) + " |")
        print("|" + "---|" * len(header))
        for r in rows:
            print(f"| {r[0]} | {r[1]} | {r[2]:.3f} | {r[3]:.3f} | {r[4]:.2f}x | {r[5]:.1f} |")
    else:
        print("{:>6} {:>7} {:>10} {:>10} {:>9} {:>12}".format(*header))
        for r in rows:
            print(f"{r[0]:>6} {r[1]:>7} {r[2]:>10.3f} {r[3]:>10.3f} {r[4]:>8.2f}x {r[5]:>12.1f}")


if __name__ == "__main__":
    main()
