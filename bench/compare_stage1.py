#!/usr/bin/env python3
"""Times stage 1 (ingest + validate + all indicators + HDF5 store) of QuantForge's process_new_data
against the equivalent pandas + TA-Lib + h5py script, in the same run, on the same input folder.

The reference does the same work: read every per-ticker CSV with pandas, the same validation checks
(missing fields, OHLC consistency, duplicates, order, non-positive prices), repair, align all tickers
on the union calendar, compute TA-Lib's indicators plus the pandas-defined ones (returns, realised
volatility, rolling beta/correlation to the benchmark, volume z-score, Donchian and Keltner channels,
cross-sectional ranks) for every ticker, and write price panels, masks and feature panels to HDF5.

Usage: python3 bench/compare_stage1.py [--bench-app build/apps/process_new_data]
                                       [--data ../shared/data] [--repeat 3] [--markdown]
Needs pandas, numpy, h5py and TA-Lib (pip install ta-lib); the product does not.
"""
import argparse
import glob
import os
import platform
import statistics
import subprocess
import tempfile
import time

import h5py
import numpy as np
import pandas as pd
import talib


def reference_stage1(prices_dir, constituents, benchmark, out_path):
    frames = {}
    for path in sorted(glob.glob(os.path.join(prices_dir, "*.csv"))):
        df = pd.read_csv(path)
        df.columns = [c.lower() for c in df.columns]
        ticker = os.path.basename(path).split("_")[0].split(".")[0].upper()
        df["date"] = pd.to_datetime(df["date"])
        df = df.sort_values("date").drop_duplicates("date")
        df = df[df["close"].notna() & (df["close"] > 0)]
        for col in ("open", "high", "low"):
            df[col] = df[col].fillna(df["close"])
        df["volume"] = df["volume"].fillna(0)
        ohlc = df[["open", "high", "low", "close"]]
        df["high"] = ohlc.max(axis=1)
        df["low"] = ohlc.min(axis=1)
        frames[ticker] = df.set_index("date")
    calendar = sorted(set().union(*[f.index for f in frames.values()]))
    bench = pd.read_csv(benchmark, parse_dates=["Date"]).set_index("Date")["Close"].reindex(calendar)
    meta = pd.read_csv(constituents).set_index("Symbol")
    tickers = sorted(frames)
    features = {}
    for j, t in enumerate(tickers):
        f = frames[t]
        listed = f.index.min(), f.index.max()
        f = f.reindex([d for d in calendar if listed[0] <= d <= listed[1]])
        f["close"] = f["close"].ffill()
        for col in ("open", "high", "low"):
            f[col] = f[col].fillna(f["close"])
        f["volume"] = f["volume"].fillna(0)
        o, h, l, c, v = (f[k].to_numpy(float) for k in ("open", "high", "low", "close", "volume"))
        b = bench.reindex(f.index).to_numpy(float)
        out = {
            "sma_20": talib.SMA(c, 20), "ema_20": talib.EMA(c, 20), "wma_20": talib.WMA(c, 20),
            "dema_20": talib.DEMA(c, 20), "tema_20": talib.TEMA(c, 20), "trima_20": talib.TRIMA(c, 20),
            "kama_30": talib.KAMA(c, 30), "t3_5": talib.T3(c, 5), "rsi_14": talib.RSI(c, 14),
            "willr_14": talib.WILLR(h, l, c, 14), "cci_14": talib.CCI(h, l, c, 14), "adx_14": talib.ADX(h, l, c, 14),
            "adxr_14": talib.ADXR(h, l, c, 14), "dx_14": talib.DX(h, l, c, 14),
            "plus_di_14": talib.PLUS_DI(h, l, c, 14), "minus_di_14": talib.MINUS_DI(h, l, c, 14),
            "plus_dm_14": talib.PLUS_DM(h, l, 14), "minus_dm_14": talib.MINUS_DM(h, l, 14),
            "aroonosc_14": talib.AROONOSC(h, l, 14), "mfi_14": talib.MFI(h, l, c, v, 14), "obv": talib.OBV(c, v),
            "ad": talib.AD(h, l, c, v), "adosc_3_10": talib.ADOSC(h, l, c, v, 3, 10), "atr_14": talib.ATR(h, l, c, 14),
            "natr_14": talib.NATR(h, l, c, 14), "trange": talib.TRANGE(h, l, c), "roc_10": talib.ROC(c, 10),
            "rocp_10": talib.ROCP(c, 10), "mom_10": talib.MOM(c, 10), "trix_15": talib.TRIX(c, 15),
            "ultosc_7_14_28": talib.ULTOSC(h, l, c, 7, 14, 28), "ppo_12_26": talib.PPO(c, 12, 26),
            "apo_12_26": talib.APO(c, 12, 26), "cmo_14": talib.CMO(c, 14), "bop": talib.BOP(o, h, l, c),
            "linearreg_slope_14": talib.LINEARREG_SLOPE(c, 14), "stddev_20": talib.STDDEV(c, 20),
            "midprice_14": talib.MIDPRICE(h, l, 14), "typprice": talib.TYPPRICE(h, l, c),
        }
        out["macd"], out["macd_signal"], out["macd_hist"] = talib.MACD(c, 12, 26, 9)
        out["stoch_slowk"], out["stoch_slowd"] = talib.STOCH(h, l, c)
        out["stochrsi_fastk"], out["stochrsi_fastd"] = talib.STOCHRSI(c, 14, 5, 3)
        out["aroon_down_14"], out["aroon_up_14"] = talib.AROON(h, l, 14)
        out["bbands_upper_20"], out["bbands_middle_20"], out["bbands_lower_20"] = talib.BBANDS(c, 20)
        cs, hs, ls, vs, bs = pd.Series(c), pd.Series(h), pd.Series(l), pd.Series(v), pd.Series(b)
        logret = np.log(cs).diff()
        for n in (1, 5, 20):
            out[f"ret_{n}"] = cs.pct_change(n).to_numpy()
            out[f"logret_{n}"] = np.log(cs / cs.shift(n)).to_numpy()
        out["rvol_20"] = logret.rolling(20).std(ddof=0).to_numpy()
        bret = np.log(bs).diff()
        out["beta_60"] = (logret.rolling(60).cov(bret) / bret.rolling(60).var()).to_numpy()
        out["corr_60"] = logret.rolling(60).corr(bret).to_numpy()
        out["volume_z_20"] = ((vs - vs.rolling(20).mean()) / vs.rolling(20).std(ddof=0)).to_numpy()
        out["donchian_upper_20"] = hs.rolling(20).max().to_numpy()
        out["donchian_lower_20"] = ls.rolling(20).min().to_numpy()
        out["donchian_middle_20"] = (out["donchian_upper_20"] + out["donchian_lower_20"]) / 2
        mid = talib.EMA(talib.TYPPRICE(h, l, c), 20)
        atr = talib.ATR(h, l, c, 20)
        out["keltner_middle_20"], out["keltner_upper_20"], out["keltner_lower_20"] = mid, mid + 2 * atr, mid - 2 * atr
        rows = [calendar.index(d) for d in (f.index[0], f.index[-1])]
        for name, values in out.items():
            panel = features.setdefault(name, np.full((len(calendar), len(tickers)), np.nan))
            panel[rows[0]:rows[1] + 1, j] = values
    for name in ("rsi_14", "natr_14", "ret_5", "ret_20", "volume_z_20"):
        features["xrank_" + name] = pd.DataFrame(features[name]).rank(axis=1, pct=True).to_numpy()
    panels = {k: pd.DataFrame({t: frames[t][k] for t in tickers}).reindex(calendar) for k in
              ("open", "high", "low", "close", "volume")}
    with h5py.File(out_path, "w") as f:
        f["tickers"] = np.array(tickers, dtype=object)
        f["dates"] = np.array([str(d.date()) for d in calendar], dtype=object)
        for k, p in panels.items():
            f.create_dataset(f"prices/{k}", data=p.to_numpy(), compression="gzip", compression_opts=4, shuffle=True)
        f["meta/market_cap"] = meta["Market Cap"].reindex(tickers).to_numpy(float)
        for name, panel in features.items():
            f[f"features/{name}"] = panel.astype(np.float32)  # as ours: float32 features


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bench-app", default="build/apps/process_new_data")
    ap.add_argument("--data", default="../shared/data")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--markdown", action="store_true")
    args = ap.parse_args()
    prices = os.path.join(args.data, "sp500_5yr")
    constituents = os.path.join(args.data, "sp500_constituents.csv")
    benchmark = os.path.join(args.data, "gspc_daily.csv")
    if not os.path.isdir(prices):
        raise SystemExit(f"no real data at {prices}")
    ours, theirs = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.repeat):  # interleaved
            t0 = time.perf_counter()
            subprocess.run([args.bench_app, "--input", prices, "--constituents", constituents, "--benchmark", benchmark,
                            "--out", os.path.join(tmp, "ours")], check=True, capture_output=True)
            ours.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            reference_stage1(prices, constituents, benchmark, os.path.join(tmp, "reference.h5"))
            theirs.append(time.perf_counter() - t0)
    a, b = statistics.median(ours), statistics.median(theirs)
    print(f"# {time.strftime('%Y-%m-%d')} {platform.machine()}, {os.cpu_count()} cpus, pandas {pd.__version__}, "
          f"TA-Lib {talib.__version__}; medians of {args.repeat}")
    if args.markdown:
        print("| work | QuantForge s | pandas + TA-Lib s | speed-up |\n|---|---|---|---|")
        print(f"| stage 1 on the 505-stock set | {a:.2f} | {b:.2f} | {b / a:.1f}x |")
    else:
        print(f"QuantForge process_new_data {a:.2f} s, pandas + TA-Lib + h5py {b:.2f} s: {b / a:.1f}x")


if __name__ == "__main__":
    main()
