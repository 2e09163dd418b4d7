#!/usr/bin/env python3
"""Times our indicators (bench_indicators, Google Benchmark) and TA-Lib's Python binding on the same work,
in the same run, and prints the ratio.

The work: every TA-Lib indicator of our registry (the TA-Lib outputs of qf::quant::ta::all_indicators(),
same parameters; the calls are TALIB_GROUPS in scripts/make_talib_golden.py) on all 505 tickers of
../shared/data/sp500_5yr (1,259 days each, 29 tickers shorter). Ours: BM_TalibSubset/sp500, i.e.
compute_all(..., IndicatorSet::talib_only) per ticker. TA-Lib: one Python call per TA-Lib function per
ticker on float64 numpy arrays prepared beforehand (so the binding's per-call overhead is included,
reading the CSVs is not). The two sides alternate for --rounds rounds; the medians are compared.

Usage: python3 bench/compare_talib.py [--bench build/bench/bench_indicators] [--rounds 5] [--markdown]
       [--per-indicator]  (also TA-Lib vs our BM_Indicator cases on AAPL, one line per TA-Lib function)
Needs talib, numpy and pandas; the product itself does not.
"""
import argparse
import json
import pathlib
import platform
import statistics
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import talib

REPO = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "scripts"))
from make_talib_golden import TALIB_GROUPS  # noqa: E402  (the same calls as the golden reference)

DATA = REPO.parent / "shared" / "data" / "sp500_5yr"


def load():
    series = []
    for path in sorted(DATA.glob("*_data.csv")):
        frame = pd.read_csv(path)
        series.append({k: np.ascontiguousarray(frame[k].to_numpy(dtype=float))
                       for k in ("open", "high", "low", "close", "volume")})
    return series


def time_talib(series, min_time=1.0):
    """Median seconds of one pass over all series (repeated for at least min_time)."""
    def one_pass():
        for d in series:
            for _, fn in TALIB_GROUPS:
                fn(d)
    one_pass()  # warm-up
    samples = []
    start = time.perf_counter()
    while time.perf_counter() - start < min_time or len(samples) < 3:
        t0 = time.perf_counter()
        one_pass()
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples)


def run_bench(bench, pattern, min_time=1.0):
    out = subprocess.run([bench, f"--benchmark_filter={pattern}", "--benchmark_format=json",
                          f"--benchmark_min_time={min_time}"], check=True, capture_output=True, text=True).stdout
    result = {}
    for b in json.loads(out)["benchmarks"]:
        if b.get("run_type", "iteration") != "iteration":
            continue
        scale = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}[b["time_unit"]]
        result[b["name"].removesuffix("/real_time")] = (b["real_time"] * scale, b)
    return result


def per_indicator(bench, series):
    """TA-Lib per function on AAPL against our BM_Indicator case of the group's first output."""
    aapl = next(d for d, p in zip(series, sorted(DATA.glob("*_data.csv"))) if p.name == "AAPL_data.csv")
    ours = run_bench(bench, "^BM_Indicator/", 0.2)
    rows = []
    for names, fn in TALIB_GROUPS:
        n, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < 0.2:
            fn(aapl)
            n += 1
        theirs = (time.perf_counter() - t0) / n
        mine = ours[f"BM_Indicator/{names[0]}"][0]
        rows.append((names[0] if len(names) == 1 else "+".join(names), mine * 1e6, theirs * 1e6))
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bench", default=str(REPO / "build" / "bench" / "bench_indicators"))
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--markdown", action="store_true")
    ap.add_argument("--per-indicator", action="store_true")
    args = ap.parse_args()
    if not DATA.is_dir():
        sys.exit(f"no data at {DATA}: nothing to compare")
    series = load()
    calls = len(TALIB_GROUPS)
    outputs = sum(len(names) for names, _ in TALIB_GROUPS)
    ours_talib, ours_all, theirs = [], [], []
    for _ in range(args.rounds):
        r = run_bench(args.bench, "sp500")
        ours_talib.append(r["BM_TalibSubset/sp500"][0])
        ours_all.append(r["BM_AllIndicators/sp500"][0])
        theirs.append(time_talib(series))
    counters = r["BM_TalibSubset/sp500"][1]
    if int(counters["outputs"]) != outputs or int(counters["series"]) != len(series):
        sys.exit(f"mismatch: bench computes {counters['outputs']} outputs on {counters['series']} series, "
                 f"TA-Lib {outputs} outputs on {len(series)}")
    o, t, a = statistics.median(ours_talib), statistics.median(theirs), statistics.median(ours_all)
    print(f"# {platform.processor() or platform.machine()}, TA-Lib {talib.__version__} "
          f"(C {talib.__ta_version__.decode()}), {len(series)} series, {calls} TA-Lib calls = {outputs} outputs "
          f"per series, medians of {args.rounds} alternating rounds")
    if args.markdown:
        print("| work | ours ms | TA-Lib ms | speed-up |")
        print("|---|---|---|---|")
        print(f"| {outputs} TA-Lib outputs x {len(series)} tickers | {o * 1e3:.1f} | {t * 1e3:.1f} | {t / o:.2f}x |")
        print(f"| all {int(r['BM_AllIndicators/sp500'][1]['outputs'])} registry outputs x {len(series)} tickers "
              f"| {a * 1e3:.1f} | | |")
    else:
        print(f"TA-Lib subset: ours {o * 1e3:.1f} ms, TA-Lib {t * 1e3:.1f} ms, speed-up {t / o:.2f}x")
        print(f"all registry outputs (ours): {a * 1e3:.1f} ms")
    if args.per_indicator:
        rows = per_indicator(args.bench, series)
        print("| indicator (AAPL, 1259 days) | ours us | TA-Lib us | speed-up |" if args.markdown else "")
        if args.markdown:
            print("|---|---|---|---|")
        for name, mine, other in rows:
            print(f"| {name} | {mine:.2f} | {other:.2f} | {other / mine:.2f}x |" if args.markdown
                  else f"{name:50s} ours {mine:7.2f} us  TA-Lib {other:7.2f} us  {other / mine:5.2f}x")


if __name__ == "__main__":
    main()
