#!/usr/bin/env python3
"""Writes reference values for tests/quant/ta/test_indicators.cpp: TA-Lib (the Python binding, whose C
library is the reference) for the TA-Lib indicators, pandas/numpy for our own ones.

Run from the repository root: python3 scripts/make_talib_golden.py  (needs talib, numpy, pandas; the C++
product and its tests do not). Output: tests/data/talib_golden.txt, plain text, one record per two lines:

    input <series> <field> <n>                      # a random series' input (open/high/low/close/volume/benchmark)
    <n values>
    real <series> <ticker csv under ../shared/data> <benchmark csv> <n>   # no data line: the test reads the CSVs
    output <series> <name> <first_valid> <n> <k>   # reference output <name>; first_valid = leading NaN count
    <k pairs "index value">                          # a subsample: first 10 valid, every STRIDE-th, last 10
    panel <name> <days> <tickers>                   # cross-sectional rank input and pandas' ranks
    <days*tickers values, row-major, nan allowed>

Values are written with repr() (shortest exact round trip, at most 17 significant digits). The output
names are the C++ registry's names (qf::quant::ta::all_indicators()); EXTRA_TALIB holds a few calls with
non-default parameters (period 1 special cases, other periods) that the test maps to the C++ functions.
compare_talib.py imports TALIB_GROUPS from here to time TA-Lib on exactly the same calls.
"""
import pathlib
import sys

import numpy as np
import pandas as pd
import talib

REPO = pathlib.Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared" / "data"
OUT = REPO / "tests" / "data" / "talib_golden.txt"
REAL_TICKERS = {"aapl": "AAPL", "amd": "AMD"}  # a large cap and a low-priced one (1.6 .. 15 $), no empty fields
RANDOM_DAYS = 600
STRIDE = {"random": 5, "real": 9}

# TA-Lib calls of the registry, grouped as the C++ registry groups them: (names, function(d) -> outputs).
# d holds float64 arrays open, high, low, close, volume.
TALIB_GROUPS = [
    (["sma_20"], lambda d: talib.SMA(d["close"], 20)),
    (["ema_20"], lambda d: talib.EMA(d["close"], 20)),
    (["wma_20"], lambda d: talib.WMA(d["close"], 20)),
    (["dema_20"], lambda d: talib.DEMA(d["close"], 20)),
    (["tema_20"], lambda d: talib.TEMA(d["close"], 20)),
    (["trima_20"], lambda d: talib.TRIMA(d["close"], 20)),
    (["kama_30"], lambda d: talib.KAMA(d["close"], 30)),
    (["t3_5"], lambda d: talib.T3(d["close"], 5, 0.7)),
    (["bbands_upper_20", "bbands_middle_20", "bbands_lower_20"], lambda d: talib.BBANDS(d["close"], 20, 2.0, 2.0, 0)),
    (["midprice_14"], lambda d: talib.MIDPRICE(d["high"], d["low"], 14)),
    (["macd", "macd_signal", "macd_hist"], lambda d: talib.MACD(d["close"], 12, 26, 9)),
    (["apo_12_26"], lambda d: talib.APO(d["close"], 12, 26, 1)),
    (["ppo_12_26"], lambda d: talib.PPO(d["close"], 12, 26, 1)),
    (["rsi_14"], lambda d: talib.RSI(d["close"], 14)),
    (["cmo_14"], lambda d: talib.CMO(d["close"], 14)),
    (["stoch_slowk", "stoch_slowd"], lambda d: talib.STOCH(d["high"], d["low"], d["close"], 5, 3, 0, 3, 0)),
    (["stochrsi_fastk", "stochrsi_fastd"], lambda d: talib.STOCHRSI(d["close"], 14, 5, 3, 0)),
    (["willr_14"], lambda d: talib.WILLR(d["high"], d["low"], d["close"], 14)),
    (["cci_14"], lambda d: talib.CCI(d["high"], d["low"], d["close"], 14)),
    (["plus_dm_14"], lambda d: talib.PLUS_DM(d["high"], d["low"], 14)),
    (["minus_dm_14"], lambda d: talib.MINUS_DM(d["high"], d["low"], 14)),
    (["plus_di_14"], lambda d: talib.PLUS_DI(d["high"], d["low"], d["close"], 14)),
    (["minus_di_14"], lambda d: talib.MINUS_DI(d["high"], d["low"], d["close"], 14)),
    (["dx_14"], lambda d: talib.DX(d["high"], d["low"], d["close"], 14)),
    (["adx_14"], lambda d: talib.ADX(d["high"], d["low"], d["close"], 14)),
    (["adxr_14"], lambda d: talib.ADXR(d["high"], d["low"], d["close"], 14)),
    (["aroon_down_14", "aroon_up_14"], lambda d: talib.AROON(d["high"], d["low"], 14)),
    (["aroonosc_14"], lambda d: talib.AROONOSC(d["high"], d["low"], 14)),
    (["mfi_14"], lambda d: talib.MFI(d["high"], d["low"], d["close"], d["volume"], 14)),
    (["roc_10"], lambda d: talib.ROC(d["close"], 10)),
    (["rocp_10"], lambda d: talib.ROCP(d["close"], 10)),
    (["mom_10"], lambda d: talib.MOM(d["close"], 10)),
    (["trix_15"], lambda d: talib.TRIX(d["close"], 15)),
    (["ultosc_7_14_28"], lambda d: talib.ULTOSC(d["high"], d["low"], d["close"], 7, 14, 28)),
    (["bop"], lambda d: talib.BOP(d["open"], d["high"], d["low"], d["close"])),
    (["obv"], lambda d: talib.OBV(d["close"], d["volume"])),
    (["ad"], lambda d: talib.AD(d["high"], d["low"], d["close"], d["volume"])),
    (["adosc_3_10"], lambda d: talib.ADOSC(d["high"], d["low"], d["close"], d["volume"], 3, 10)),
    (["trange"], lambda d: talib.TRANGE(d["high"], d["low"], d["close"])),
    (["atr_14"], lambda d: talib.ATR(d["high"], d["low"], d["close"], 14)),
    (["natr_14"], lambda d: talib.NATR(d["high"], d["low"], d["close"], 14)),
    (["stddev_20"], lambda d: talib.STDDEV(d["close"], 20, 1.0)),
    (["linearreg_slope_14"], lambda d: talib.LINEARREG_SLOPE(d["close"], 14)),
    (["typprice"], lambda d: talib.TYPPRICE(d["high"], d["low"], d["close"])),
]

# Non-default parameters: TA-Lib's period-1 special cases, odd/short periods, unsorted ULTOSC periods.
EXTRA_TALIB = [
    (["x_sma_1"], lambda d: talib.SMA(d["close"], 1)),
    (["x_ema_1"], lambda d: talib.EMA(d["close"], 1)),
    (["x_ema_2"], lambda d: talib.EMA(d["close"], 2)),
    (["x_wma_1"], lambda d: talib.WMA(d["close"], 1)),
    (["x_kama_1"], lambda d: talib.KAMA(d["close"], 1)),
    (["x_kama_10"], lambda d: talib.KAMA(d["close"], 10)),
    (["x_t3_3_0"], lambda d: talib.T3(d["close"], 3, 0.0)),
    (["x_trima_7"], lambda d: talib.TRIMA(d["close"], 7)),
    (["x_dema_1"], lambda d: talib.DEMA(d["close"], 1)),
    (["x_bbands_upper_5_1_3", "x_bbands_middle_5_1_3", "x_bbands_lower_5_1_3"],
     lambda d: talib.BBANDS(d["close"], 5, 1.0, 3.0, 0)),
    (["x_macd_5_3_1", "x_macd_signal_5_3_1", "x_macd_hist_5_3_1"], lambda d: talib.MACD(d["close"], 5, 3, 1)),
    (["x_ppo_26_12"], lambda d: talib.PPO(d["close"], 26, 12, 1)),
    (["x_rsi_2"], lambda d: talib.RSI(d["close"], 2)),
    (["x_stoch_slowk_1_1_1", "x_stoch_slowd_1_1_1"],
     lambda d: talib.STOCH(d["high"], d["low"], d["close"], 1, 1, 0, 1, 0)),
    (["x_stochrsi_fastk_9_4_1", "x_stochrsi_fastd_9_4_1"], lambda d: talib.STOCHRSI(d["close"], 9, 4, 1, 0)),
    (["x_cci_2"], lambda d: talib.CCI(d["high"], d["low"], d["close"], 2)),
    (["x_plus_dm_1"], lambda d: talib.PLUS_DM(d["high"], d["low"], 1)),
    (["x_minus_dm_1"], lambda d: talib.MINUS_DM(d["high"], d["low"], 1)),
    (["x_plus_di_1"], lambda d: talib.PLUS_DI(d["high"], d["low"], d["close"], 1)),
    (["x_minus_di_1"], lambda d: talib.MINUS_DI(d["high"], d["low"], d["close"], 1)),
    (["x_adx_2"], lambda d: talib.ADX(d["high"], d["low"], d["close"], 2)),
    (["x_aroonosc_2"], lambda d: talib.AROONOSC(d["high"], d["low"], 2)),
    (["x_mfi_2"], lambda d: talib.MFI(d["high"], d["low"], d["close"], d["volume"], 2)),
    (["x_trix_1"], lambda d: talib.TRIX(d["close"], 1)),
    (["x_roc_1"], lambda d: talib.ROC(d["close"], 1)),
    (["x_ultosc_28_1_14"], lambda d: talib.ULTOSC(d["high"], d["low"], d["close"], 28, 1, 14)),
    (["x_adosc_10_3"], lambda d: talib.ADOSC(d["high"], d["low"], d["close"], d["volume"], 10, 3)),
    (["x_atr_1"], lambda d: talib.ATR(d["high"], d["low"], d["close"], 1)),
    (["x_natr_2"], lambda d: talib.NATR(d["high"], d["low"], d["close"], 2)),
    (["x_stddev_2_1_5"], lambda d: talib.STDDEV(d["close"], 2, 1.5)),
    (["x_linearreg_slope_2"], lambda d: talib.LINEARREG_SLOPE(d["close"], 2)),
]


def ema_seeded(x, period):
    """TA-Lib's EMA definition in pandas: the mean of the first `period` values, then ewm(adjust=False)."""
    s = pd.Series(x, dtype=float).copy()
    seed = s.iloc[:period].mean()
    s.iloc[: period - 1] = np.nan
    s.iloc[period - 1] = seed
    return s.ewm(span=period, adjust=False).mean().to_numpy()


def atr_wilder(high, low, close, period):
    """Wilder's ATR in pandas: the mean of the first `period` true ranges, then ewm(alpha=1/period)."""
    prev = pd.Series(close).shift(1)
    tr = pd.concat([pd.Series(high - low), (pd.Series(high) - prev).abs(), (pd.Series(low) - prev).abs()],
                   axis=1).max(axis=1)
    tr.iloc[0] = np.nan
    seeded = tr.copy()
    seeded.iloc[:period] = np.nan
    seeded.iloc[period] = tr.iloc[1 : period + 1].mean()
    return seeded.ewm(alpha=1.0 / period, adjust=False).mean().to_numpy()


def ours(d):
    """pandas/numpy references for the indicators that are not in TA-Lib (definitions in qf/quant/ta/ours.h)."""
    h, l, c, v, b = (pd.Series(d[k]) for k in ("high", "low", "close", "volume", "benchmark"))
    out = {}
    typical = (h + l + c) / 3.0
    middle = pd.Series(ema_seeded(typical.to_numpy(), 20))
    band = 2.0 * pd.Series(atr_wilder(d["high"], d["low"], d["close"], 10))
    valid = middle.notna() & band.notna()
    out["keltner_upper_20"] = (middle + band).where(valid)
    out["keltner_middle_20"] = middle.where(valid)
    out["keltner_lower_20"] = (middle - band).where(valid)
    upper, lower = h.rolling(20).max(), l.rolling(20).min()
    out["donchian_upper_20"] = upper
    out["donchian_middle_20"] = (upper + lower) / 2.0
    out["donchian_lower_20"] = lower
    for k in (1, 5, 20):
        out[f"ret_{k}"] = c / c.shift(k) - 1.0
    for k in (1, 5, 20):
        out[f"logret_{k}"] = np.log(c / c.shift(k))
    out["rvol_20"] = np.log(c / c.shift(1)).rolling(20).std(ddof=0)
    r, rb = c / c.shift(1) - 1.0, b / b.shift(1) - 1.0
    out["beta_60"] = r.rolling(60).cov(rb) / rb.rolling(60).var()
    out["corr_60"] = r.rolling(60).corr(rb)
    out["volume_z_20"] = (v - v.rolling(20).mean()) / v.rolling(20).std(ddof=0)
    return {k: np.asarray(s, dtype=float) for k, s in out.items()}


def reference_outputs(d, groups):
    result = {}
    for names, fn in groups:
        values = fn(d)
        values = list(values) if isinstance(values, (tuple, list)) else [values]
        assert len(values) == len(names), names
        result.update(zip(names, (np.asarray(x, dtype=float) for x in values)))
    return result


def random_series(seed, days, price, rounded):
    """Consistent OHLCV bars: low <= min(open, close) <= max(open, close) <= high, volume > 0, and a
    correlated benchmark close. `rounded` prices are in cents, which makes ties (equal highs, unchanged
    closes) as in real data."""
    rng = np.random.default_rng(seed)
    market = rng.normal(0.0003, 0.01, days)
    close = price * np.exp(np.cumsum(0.8 * market + rng.normal(0, 0.015, days)))
    open_ = np.empty(days)
    open_[0] = price
    open_[1:] = close[:-1] * np.exp(rng.normal(0, 0.004, days - 1))
    high = np.maximum(open_, close) * np.exp(np.abs(rng.normal(0, 0.008, days)))
    low = np.minimum(open_, close) * np.exp(-np.abs(rng.normal(0, 0.008, days)))
    volume = np.round(rng.lognormal(13.5, 0.5, days))
    benchmark = 2000 * np.exp(np.cumsum(market))
    if rounded:
        open_, high, low, close = (np.round(x, 2) for x in (open_, high, low, close))
        flat = rng.random(days) < 0.05  # some unchanged closes
        close[1:][flat[1:]] = close[:-1][flat[1:]]
        high, low = np.maximum(high, np.maximum(open_, close)), np.minimum(low, np.minimum(open_, close))
    d = dict(open=open_, high=high, low=low, close=close, volume=volume, benchmark=benchmark)
    assert np.all(d["low"] <= np.minimum(d["open"], d["close"])) and np.all(np.maximum(d["open"], d["close"]) <= d["high"])
    assert np.all(d["volume"] > 0)
    return d


def read_real(ticker):
    bars = pd.read_csv(SHARED / "sp500_5yr" / f"{ticker}_data.csv")
    index = pd.read_csv(SHARED / "gspc_daily.csv").set_index("Date")
    assert not bars[["open", "high", "low", "close", "volume"]].isna().any().any(), ticker
    d = {k: bars[k].to_numpy(dtype=float) for k in ("open", "high", "low", "close", "volume")}
    d["benchmark"] = index.loc[bars["date"], "Close"].to_numpy(dtype=float)  # every date is an index date
    return d


def subsample(values, stride):
    valid = np.flatnonzero(~np.isnan(values))
    if valid.size == 0:
        return valid
    keep = set(valid[:10]) | set(valid[-10:]) | set(valid[::stride])
    return np.array(sorted(keep))


def fmt(x):
    """Inputs: exact (shortest round trip), since every output depends on them."""
    return "nan" if np.isnan(x) else repr(float(x))


def fmt_output(x):
    """Outputs: 11 significant digits (at most 5e-11 relative), inside the tests' 1e-9; keeps the file small."""
    return "nan" if np.isnan(x) else f"{float(x):.11g}"


def main():
    lines = [f"# generated by scripts/make_talib_golden.py with TA-Lib {talib.__version__} "
             f"(C library {talib.__ta_version__.decode()}), numpy {np.__version__}, pandas {pd.__version__}"]

    def put_outputs(series, d, kind, extra):
        refs = reference_outputs(d, TALIB_GROUPS + (EXTRA_TALIB if extra else []))
        refs.update(ours(d))
        n = len(d["close"])
        for name, values in refs.items():
            assert len(values) == n
            nan = np.isnan(values)
            first = int(np.argmax(~nan)) if not nan.all() else n
            assert not nan[first:].any(), f"{series} {name}: NaN after the first valid value"
            idx = subsample(values, STRIDE[kind])
            lines.append(f"output {series} {name} {first} {n} {len(idx)}")
            lines.append(" ".join(f"{i} {fmt_output(values[i])}" for i in idx))

    for series, seed, price, rounded in (("random_a", 11, 80.0, False), ("random_b", 22, 4.0, True)):
        d = random_series(seed, RANDOM_DAYS, price, rounded)
        for field in ("open", "high", "low", "close", "volume", "benchmark"):
            lines.append(f"input {series} {field} {RANDOM_DAYS}")
            lines.append(" ".join(fmt(x) for x in d[field]))
        put_outputs(series, d, "random", extra=True)

    if not SHARED.exists():
        sys.exit(f"{SHARED} is missing: the real-ticker part of the golden file needs it")
    for series, ticker in REAL_TICKERS.items():
        d = read_real(ticker)
        lines.append(f"real {series} sp500_5yr/{ticker}_data.csv gspc_daily.csv {len(d['close'])}")
        put_outputs(series, d, "real", extra=False)

    # Cross-sectional rank: 30 days x 9 tickers with ties and NaNs (a day with one value, a day with none).
    rng = np.random.default_rng(5)
    panel = np.round(rng.normal(0, 1, (30, 9)), 1)
    panel[rng.random(panel.shape) < 0.15] = np.nan
    panel[3, :] = np.nan
    panel[4, 1:] = np.nan
    panel[5, :] = 0.5
    ranks = pd.DataFrame(panel).rank(axis=1, pct=True).to_numpy()
    for name, values in (("rank_input", panel), ("rank_output", ranks)):
        lines.append(f"panel {name} {values.shape[0]} {values.shape[1]}")
        lines.append(" ".join(fmt(x) for x in values.ravel()))

    OUT.write_text("\n".join(lines) + "\n")
    print(f"wrote {OUT.relative_to(REPO)}: {OUT.stat().st_size / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
