// Module ta, our own indicators (not in TA-Lib; the reference is pandas): Keltner and Donchian channels,
// returns, rolling volatility, beta and correlation against a benchmark, volume z-score, and the
// cross-sectional rank of a panel.
// Every function follows the conventions of qf/quant/ta/indicators.h (causal, `<name>_lookback`, the NaN
// rule, argument checks). The code, in the same order: src/ours.cpp; its registry rows at its end.
#pragma once

#include <cstddef>
#include <span>

namespace qf::quant::ta {

// Keltner channels: middle = EMA(typical price, ema_period) with TA-Lib's EMA (SMA seed), upper/lower =
// middle +- multiplier * ATR(atr_period) with TA-Lib's ATR. Lookback max(ema_period - 1, atr_period).
int keltner_lookback(int ema_period, int atr_period);
void keltner(std::span<const double> high, std::span<const double> low, std::span<const double> close,
             int ema_period, int atr_period, double multiplier, std::span<double> upper,
             std::span<double> middle, std::span<double> lower);
// Donchian channels: highest high and lowest low of the last `period` bars (today included), and their mean.
int donchian_lookback(int period);
void donchian(std::span<const double> high, std::span<const double> low, int period, std::span<double> upper,
              std::span<double> middle, std::span<double> lower);
// close_t / close_{t-days} - 1.
int simple_return_lookback(int days);
void simple_return(std::span<const double> close, int days, std::span<double> out);
// log(close_t / close_{t-days}).
int log_return_lookback(int days);
void log_return(std::span<const double> close, int days, std::span<double> out);
// Population standard deviation of the last `period` one-day log returns (not annualised); the same
// definition as qf::quant::realized_volatility. Lookback `period`.
int rolling_volatility_lookback(int period);
void rolling_volatility(std::span<const double> close, int period, std::span<double> out);
// Over the last `period` one-day simple returns of close and of the benchmark's close:
// beta = cov(r, r_b) / var(r_b) and correlation = cov / (sd(r) sd(r_b)). NaN where a variance is 0.
// Lookback `period`.
int rolling_beta_lookback(int period);
void rolling_beta(std::span<const double> close, std::span<const double> benchmark_close, int period,
                  std::span<double> out);
int rolling_correlation_lookback(int period);
void rolling_correlation(std::span<const double> close, std::span<const double> benchmark_close, int period,
                         std::span<double> out);
// (volume_t - mean) / population sd over the last `period` volumes, today included; 0 where the sd is 0.
int volume_zscore_lookback(int period);
void volume_zscore(std::span<const double> volume, int period, std::span<double> out);
// Cross-sectional percentile rank of a [days x tickers] row-major panel: per day, the average rank
// (1-based, ties share their mean rank) among the tickers with a finite value, divided by how many
// there are; so values lie in (0, 1] (pandas' rank(axis=1, pct=True)). Non-finite stays NaN.
void cross_sectional_rank(std::span<const double> panel, std::size_t days, std::size_t tickers,
                          std::span<double> out);

}  // namespace qf::quant::ta
