// Module ta, volatility and statistics (TA-Lib): true range, ATR, NATR, standard deviation,
// linear-regression slope, typical price.
// Every function follows the conventions of qf/quant/ta/indicators.h (causal, `<name>_lookback`, the NaN
// rule, argument checks). The code, in the same order: src/volatility.cpp; its registry rows at its end.
#pragma once

#include <span>

namespace qf::quant::ta {

int trange_lookback();
void trange(std::span<const double> high, std::span<const double> low, std::span<const double> close,
            std::span<double> out);
// Wilder-smoothed true range, seeded with the mean of the first `period` true ranges.
int atr_lookback(int period);
void atr(std::span<const double> high, std::span<const double> low, std::span<const double> close, int period,
         std::span<double> out);
// 100 ATR / close.
int natr_lookback(int period);
void natr(std::span<const double> high, std::span<const double> low, std::span<const double> close,
          int period, std::span<double> out);
// Population standard deviation times nbdev (TA-Lib STDDEV).
int stddev_lookback(int period);
void stddev(std::span<const double> in, int period, double nbdev, std::span<double> out);
// Least-squares slope over the last `period` values (per bar).
int linearreg_slope_lookback(int period);
void linearreg_slope(std::span<const double> in, int period, std::span<double> out);
// (high + low + close) / 3.
int typprice_lookback();
void typprice(std::span<const double> high, std::span<const double> low, std::span<const double> close,
              std::span<double> out);

}  // namespace qf::quant::ta
