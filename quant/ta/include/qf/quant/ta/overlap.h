// Module ta, overlap studies (TA-Lib's overlap group): moving averages, Bollinger bands, midprice.
// Every function follows the conventions of qf/quant/ta/indicators.h (causal, `<name>_lookback`, the NaN
// rule, argument checks). The code, in the same order: src/overlap.cpp; its registry rows at its end.
#pragma once

#include <span>

namespace qf::quant::ta {

int sma_lookback(int period);
void sma(std::span<const double> in, int period, std::span<double> out);
// Seeded with the SMA of the first `period` values, then x_t = x_{t-1} + k (in_t - x_{t-1}), k =
// 2/(period+1).
int ema_lookback(int period);
void ema(std::span<const double> in, int period, std::span<double> out);
int wma_lookback(int period);
void wma(std::span<const double> in, int period, std::span<double> out);
// 2 EMA - EMA(EMA).
int dema_lookback(int period);
void dema(std::span<const double> in, int period, std::span<double> out);
// 3 EMA - 3 EMA(EMA) + EMA(EMA(EMA)).
int tema_lookback(int period);
void tema(std::span<const double> in, int period, std::span<double> out);
// Triangular moving average (an SMA of an SMA).
int trima_lookback(int period);
void trima(std::span<const double> in, int period, std::span<double> out);
// Kaufman adaptive moving average (TA-Lib's fast/slow constants 2 and 30).
int kama_lookback(int period);
void kama(std::span<const double> in, int period, std::span<double> out);
// Tillson T3: six cascaded EMAs combined with the volume factor (0 <= vfactor <= 1).
int t3_lookback(int period);
void t3(std::span<const double> in, int period, double vfactor, std::span<double> out);
// Bollinger bands around the SMA: middle +- nbdev * population standard deviation.
int bbands_lookback(int period);
void bbands(std::span<const double> in, int period, double nbdev_up, double nbdev_down,
            std::span<double> upper, std::span<double> middle, std::span<double> lower);
// (highest high + lowest low) / 2 over `period` bars.
int midprice_lookback(int period);
void midprice(std::span<const double> high, std::span<const double> low, int period, std::span<double> out);

}  // namespace qf::quant::ta
