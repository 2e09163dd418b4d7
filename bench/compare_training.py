#!/usr/bin/env python3
"""Times per-stock LSTM training in QuantForge (apps/run_lstm_training) against PyTorch on the CPU doing
the same fits, in the same run, same thread count, and prints samples/s of both and the ratio.

Ours: one run of the app with --cv none --patience 0 on the chosen tickers; it reports "fit_seconds"
(fitting only, no data loading) and "train_samples_seen" in training_summary.json, and per-ticker
train/validation window counts and epochs_run in coverage.csv.
PyTorch: for every ticker ours trained, random float32 windows of the same counts and shape
[n, window, F] (the time does not depend on the values) and the same loop: LSTM(batch_first) ->
Linear(hidden, 1) on the last layer's final hidden state -> BCEWithLogits -> backward ->
clip_grad_norm_(1.0) -> Adam, shuffled minibatches (last one partial), and after each epoch a no-grad
validation pass in batches of 256. Timed: building the model and the loop, not creating the data.
Ours and PyTorch alternate --repeat times; the medians are reported.

Usage: python3 bench/compare_training.py [--app build/apps/run_lstm_training] [--store out-real/universe.h5]
           [--subset 5 | --tickers AAPL,MSFT] [--epochs 20] [--threads 2] [--repeat 3] [--markdown]
Self-test of the PyTorch half alone: python3 bench/compare_training.py --torch-only --fake-samples 1000,250 --subset 2
Needs torch, numpy and h5py (pip install torch h5py); the product itself does not.
"""
import argparse
import csv
import json
import os
import platform
import shutil
import statistics
import subprocess
import tempfile
import time

import numpy as np
import torch


def store_tickers(store, n):
    import h5py
    with h5py.File(store, "r") as f:
        names = [t.decode() if isinstance(t, bytes) else str(t) for t in f["tickers"][()]]
    return names[:n]


def torch_fit(n_train, n_val, epochs, a, features, seed=0):
    """One fit as ours does it; returns the seconds spent building the model and running the loop."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n_train, a.window, features, generator=g)
    y = (torch.rand(n_train, 1, generator=g) > 0.5).float()
    xv = torch.randn(n_val, a.window, features, generator=g)
    yv = (torch.rand(n_val, 1, generator=g) > 0.5).float()
    t0 = time.perf_counter()
    torch.manual_seed(seed)
    lstm = torch.nn.LSTM(features, a.hidden, num_layers=a.layers, batch_first=True)
    head = torch.nn.Linear(a.hidden, 1)
    params = list(lstm.parameters()) + list(head.parameters())
    opt = torch.optim.Adam(params, lr=a.lr)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    for _ in range(epochs):
        perm = torch.randperm(n_train)
        for i in range(0, n_train, a.batch_size):
            idx = perm[i:i + a.batch_size]
            opt.zero_grad(set_to_none=True)
            _, (h_n, _) = lstm(x[idx])
            loss = loss_fn(head(h_n[-1]), y[idx])
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
        with torch.no_grad():  # validation loss, as ours computes it every epoch
            total = 0.0
            for i in range(0, n_val, 256):
                _, (h_n, _) = lstm(xv[i:i + 256])
                total += loss_fn(head(h_n[-1]), yv[i:i + 256]).item() * len(yv[i:i + 256])
    return time.perf_counter() - t0


def _torch_worker(job):
    fits, a, features = job
    torch.set_num_threads(1)
    return sum(torch_fit(n, v, e, a, features, seed=k) for k, (_, n, v, e) in fits)


def time_torch(fits, a, features):
    """fits: [(ticker, train_samples, validation_samples, epochs_run)]; returns the fitting seconds.
    --torch-processes 1: one process fits the models one after another with --threads intra-op threads.
    --torch-processes P: P processes of one thread each share the models (as ours shares them over
    threads); the seconds are those of the busiest process (each times only its own fits)."""
    if a.torch_processes <= 1:
        return sum(torch_fit(n, v, e, a, features, seed=k) for k, (_, n, v, e) in enumerate(fits))
    import multiprocessing
    shares = [[(k, f) for k, f in enumerate(fits) if k % a.torch_processes == p] for p in range(a.torch_processes)]
    with multiprocessing.get_context("fork").Pool(a.torch_processes) as pool:
        return max(pool.map(_torch_worker, [(share, a, features) for share in shares]))


def run_ours(a, tickers):
    """Runs the app once in a fresh --out; returns (fit_seconds, summary dict, trained coverage rows)."""
    out = tempfile.mkdtemp(prefix="qf_train_")  # fresh: the app resumes from checkpoints in an old dir
    cmd = [a.app, "--store", a.store, "--out", out, "--tickers", ",".join(tickers), "--model", "lstm",
           "--hidden", str(a.hidden), "--layers", str(a.layers), "--window", str(a.window),
           "--epochs", str(a.epochs), "--patience", "0", "--cv", "none", "--batch-size", str(a.batch_size),
           "--lr", str(a.lr), "--threads", str(a.threads), "--quiet"]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    with open(os.path.join(out, "training_summary.json")) as f:
        summary = json.load(f)
    with open(os.path.join(out, "coverage.csv"), newline="") as f:
        fits = [(r["ticker"], int(r["train_samples"]), int(r["validation_samples"]), int(r["epochs_run"]))
                for r in csv.DictReader(f) if r["status"] == "trained"]
    shutil.rmtree(out)
    for key in ("window", "hidden", "layers", "batch_size", "threads"):
        if int(summary[key]) != int(getattr(a, key)):
            raise SystemExit(f"app ran with {key}={summary[key]}, asked for {getattr(a, key)}")
    seen = sum(n * e for _, n, _, e in fits)
    if int(summary["train_samples_seen"]) != seen or int(summary["fits"]) != len(fits):
        raise SystemExit(f"summary says {summary['fits']} fits / {summary['train_samples_seen']} samples, "
                         f"coverage.csv says {len(fits)} / {seen}")
    return float(summary["fit_seconds"]), summary, fits


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--app", default="build/apps/run_lstm_training")
    ap.add_argument("--store", default="out-real/universe.h5")
    ap.add_argument("--tickers", help="comma list; default: the first --subset tickers of the store")
    ap.add_argument("--subset", type=int, default=5)
    for name, kind, default in (("hidden", int, 64), ("layers", int, 1), ("window", int, 60), ("epochs", int, 20),
                                ("batch-size", int, 64), ("lr", float, 1e-3), ("threads", int, 2)):
        ap.add_argument("--" + name, type=kind, default=default)
    ap.add_argument("--torch-processes", type=int, default=1,
                    help="PyTorch side: this many single-thread processes sharing the models (default: one process)")
    ap.add_argument("--repeat", type=int, default=3, help="alternate ours/torch this many times; report medians")
    ap.add_argument("--markdown", action="store_true")
    ap.add_argument("--torch-only", action="store_true", help="self-test: time the PyTorch half alone")
    ap.add_argument("--fake-samples", default="1000,250", help="--torch-only: TRAIN,VAL windows per ticker")
    ap.add_argument("--features", type=int, default=12, help="--torch-only: LSTM input size")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    if a.tickers:
        tickers = a.tickers.split(",")
    elif os.path.exists(a.store):
        tickers = store_tickers(a.store, a.subset)
    elif a.torch_only:
        tickers = [f"FAKE{i}" for i in range(a.subset)]
    else:
        raise SystemExit(f"no store at {a.store}")
    torch_fit(64, 64, 1, a, a.features)  # warm-up (one-time library init) outside all timings

    ours_runs, torch_runs = [], []
    if a.torch_only:
        n, v = (int(s) for s in a.fake_samples.split(","))
        fits, features, seen = [(t, n, v, a.epochs) for t in tickers], a.features, len(tickers) * n * a.epochs
    for _ in range(a.repeat):  # interleaved, so drifting machine load hits both sides alike
        if not a.torch_only:
            seconds, summary, fits = run_ours(a, tickers)
            ours_runs.append(seconds)
            features, seen = len(summary["features"]), int(summary["train_samples_seen"])
        torch_runs.append(time_torch(fits, a, features))
    theirs = statistics.median(torch_runs)
    ours = statistics.median(ours_runs) if ours_runs else float("nan")
    row = (len(fits), seen, ours, theirs, seen / ours, seen / theirs, theirs / ours)

    print(f"# {time.strftime('%Y-%m-%d')} {platform.processor() or platform.machine()}, {os.cpu_count()} cpus, "
          f"torch {torch.__version__}, {a.threads} threads (torch: {a.torch_processes} process(es)); F={features} window={a.window} hidden={a.hidden} "
          f"layers={a.layers} batch={a.batch_size}; medians of {a.repeat}; tickers {','.join(t for t, *_ in fits)}")
    if a.torch_only:
        print("# torch-only: per run " + ", ".join(f"{s:.2f}" for s in torch_runs) + " s")
    header = ("fits", "train samples seen", "ours s", "torch s", "ours samples/s", "torch samples/s", "speed-up")
    if a.markdown:
        print("| " + " | ".join(header) + " |\n|" + "---|" * len(header))
        print(f"| {row[0]} | {row[1]} | {row[2]:.2f} | {row[3]:.2f} | {row[4]:.0f} | {row[5]:.0f} | {row[6]:.2f}x |")
    else:
        print("{:>5} {:>19} {:>8} {:>8} {:>15} {:>16} {:>9}".format(*header))
        print(f"{row[0]:>5} {row[1]:>19} {row[2]:>8.2f} {row[3]:>8.2f} {row[4]:>15.0f} {row[5]:>16.0f} {row[6]:>8.2f}x")


if __name__ == "__main__":
    main()
