#!/usr/bin/env python3
"""Times the backtest engine (qf/quant/backtest/backtest.h, through apps/run_backtest_evaluation
--repeat) against vectorbt doing the same backtest, in the same run, and checks that the two agree.

The strategy: the test-period predictions of a run_lstm_training registry, long the --long tickers with
the highest probability each day (ties by ticker order), equal weights, traded daily at the next open
(our engine's default execution, next_open, passed explicitly) and valued at each close, with proportional costs only (commission + half spread + slippage in bps, which vectorbt charges as
`fees`); impact, participation cap and borrow are off on both sides (vectorbt has no square-root impact).
vectorbt: Portfolio.from_orders(close, size = yesterday's targets, price = today's open,
size_type="targetpercent", cash_sharing,
call_seq="auto"); its first call compiles with numba and is not timed.

Usage: python3 bench/compare_backtest.py [--store out-real/universe.h5] [--registry out-real/training/registry.h5]
           [--long 50] [--fees-bps 5] [--repeat 5]
Needs vectorbt, h5py, numpy, pandas (pip install vectorbt h5py); the product itself does not.
"""
import argparse
import os
import re
import statistics
import subprocess
import tempfile
import time

import h5py
import numpy as np
import pandas as pd


def load(store, registry):
    with h5py.File(store, "r") as f:
        tickers = [t.decode() for t in f["tickers"][()]]
        dates = pd.to_datetime([d.decode() for d in f["dates"][()]])
        close = f["prices/close"][()]
        open_ = f["prices/open"][()]
    with h5py.File(registry, "r") as r:
        if [t.decode() for t in r["tickers"][()]] != tickers:
            raise SystemExit(f"{registry} was not trained on {store}")
        p = np.full(close.shape, np.nan)
        g = r["test_predictions"]
        p[g["day"][()].astype(int), g["ticker"][()].astype(int)] = g["probability"][()]
    return tickers, dates, close, open_, p


def top_k_targets(p, k):
    """As qf::quant::top_k_targets(scores, k, 0): NaN rows where nothing is predicted."""
    t = np.full(p.shape, np.nan)
    for d in range(p.shape[0]):
        finite = np.flatnonzero(np.isfinite(p[d]))
        if finite.size == 0:
            continue
        order = finite[np.argsort(-p[d, finite], kind="stable")]
        t[d] = 0.0
        t[d, order[:k]] = 1.0 / min(k, finite.size)
    return t


def run_vectorbt(close, open_, targets, dates, tickers, fees):
    import vectorbt as vbt
    value = pd.DataFrame(close, index=dates, columns=tickers).ffill()
    # Targets of day t are executed at the open of t+1 (our engine's default execution, next_open), the
    # positions valued at each close; NaN: no order.
    fill = pd.DataFrame(open_, index=dates, columns=tickers).ffill()
    size = pd.DataFrame(targets, index=dates, columns=tickers).shift(1)
    return vbt.Portfolio.from_orders(value, size=size, price=fill, size_type="targetpercent", direction="longonly",
                                     fees=fees, init_cash=1e6, cash_sharing=True, group_by=True, call_seq="auto",
                                     freq="1D")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--app", default="build/apps/run_backtest_evaluation")
    ap.add_argument("--store", default="out-real/universe.h5")
    ap.add_argument("--registry", default="out-real/training/registry.h5")
    ap.add_argument("--long", type=int, default=50)
    ap.add_argument("--fees-bps", type=float, default=5.0, help="commission + half spread + slippage, bps")
    ap.add_argument("--repeat", type=int, default=5)
    a = ap.parse_args()

    tickers, dates, close, open_, p = load(a.store, a.registry)
    targets = top_k_targets(p, a.long)
    fees = a.fees_bps * 1e-4
    run_vectorbt(close, open_, targets, dates, tickers, fees)  # numba compilation, not timed
    vbt_times = []
    for _ in range(a.repeat):
        t0 = time.perf_counter()
        pf = run_vectorbt(close, open_, targets, dates, tickers, fees)
        value = pf.value()
        vbt_times.append(time.perf_counter() - t0)

    out = tempfile.mkdtemp(prefix="qf_backtest_")
    cmd = [a.app, "--store", a.store, "--registry", a.registry, "--out", out, "--long", str(a.long), "--short", "0",
           "--execution", "next_open", "--commission-bps", str(a.fees_bps), "--half-spread-bps", "0", "--slippage-bps", "0", "--impact", "0",
           "--max-participation", "0", "--borrow-bps", "0", "--repeat", str(a.repeat)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=True)
    ours_ms = float(re.search(r"engine: ([0-9.]+) ms", done.stdout).group(1))
    daily = pd.read_csv(os.path.join(out, "daily.csv"), index_col="date", parse_dates=True)

    theirs = value.reindex(daily.index)
    ratio = (daily["equity"] / theirs).to_numpy()
    print(f"# {time.strftime('%Y-%m-%d')} {len(tickers)} tickers x {len(dates)} days, top {a.long} long, daily, "
          f"fees {a.fees_bps} bps; vectorbt {__import__('vectorbt').__version__}; medians of {a.repeat}")
    print(f"final equity: ours {daily['equity'].iloc[-1]:.2f}, vectorbt {theirs.iloc[-1]:.2f}; "
          f"max |ours / vectorbt - 1| over the period {np.nanmax(np.abs(ratio - 1)):.2e}")
    vbt_ms = 1e3 * statistics.median(vbt_times)
    print("| engine | ours ms | vectorbt ms | speed-up |\n|---|---|---|---|")
    print(f"| backtest ({len(tickers)} x {len(dates)}) | {ours_ms:.2f} | {vbt_ms:.1f} | {vbt_ms / ours_ms:.1f}x |")


if __name__ == "__main__":
    main()
