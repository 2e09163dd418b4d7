// Module ta (qf_quant_ta): technical indicators for the features of training. TA-Lib's definitions (tested
// against TA-Lib's values) plus a few of our own, one function per indicator, and a registry that computes
// all of them for one ticker in one call (its rows are the feature rows of quant/signals). Depends on the
// standard library only. This header includes the whole module; each part has its own header:
//   overlap.h     moving averages, Bollinger bands, midprice
//   momentum.h    MACD, RSI, stochastics, directional movement, Aroon, MFI, ROC... (TA-Lib's momentum)
//   volume.h      OBV, AD, ADOSC
//   volatility.h  true range, ATR, NATR, standard deviation, linear-regression slope, typical price
//   ours.h        Keltner and Donchian channels, returns, rolling volatility/beta/correlation, volume
//                 z-score, cross-sectional rank (not in TA-Lib)
//   registry.h    all_indicators, compute_all, and IndicatorRegistration for rows from outside the library
// Each family's code is src/<family>.cpp: per indicator its kernel, lookback and public function, and the
// family's registry rows at the end. docs/architecture.md says how to add an indicator.
//
// Conventions (every function):
// * Outputs are as long as the inputs. Index t uses inputs at indices <= t only (causal).
// * `<name>_lookback(params)` is the first index with a value; outputs before it are NaN. For the
//   TA-Lib indicators it is exactly where TA-Lib (0.8, default unstable period 0 and default
//   compatibility) starts its output when called on the whole series, and the values are TA-Lib's:
//   bit for bit except WMA, TRIMA and the Bollinger bands (within 1e-13 relative); the golden test
//   (tests/quant/ta/test_indicators.cpp) asks for 1e-9.
// * NaN/inf in the input: each indicator runs separately on every maximal run of rows whose inputs
//   are all finite. Rows with a non-finite input get NaN, and a run after a gap starts afresh, as if
//   the series began there (its first `lookback` outputs are NaN again; OBV and AD restart from 0).
//   So no output ever depends on a NaN input, and one bad row costs `lookback` rows, not the rest of
//   the series. Only the inputs an indicator reads count (a NaN open leaves RSI alone). The main
//   path (all finite) is a single run.
// * Bad arguments (period out of range, spans of different lengths) throw std::invalid_argument
//   naming the function and the value. The loops themselves never throw.
// * Periods accept TA-Lib's ranges (up to 100000). Where TA-Lib accepts 1 for a moving average, the
//   output is the input (lookback 0); its other period-1 special cases (PLUS_DM, PLUS_DI, ATR, TRIX...)
//   are reproduced too.
// * TA-Lib functions with a moving-average type are fixed to TA-Lib's default type: SMA for BBANDS,
//   STOCH and STOCHRSI, EMA for APO and PPO.
#pragma once

#include "qf/quant/ta/momentum.h"
#include "qf/quant/ta/ours.h"
#include "qf/quant/ta/overlap.h"
#include "qf/quant/ta/registry.h"
#include "qf/quant/ta/volatility.h"
#include "qf/quant/ta/volume.h"
