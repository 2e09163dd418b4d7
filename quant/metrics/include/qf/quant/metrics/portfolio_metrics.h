// Performance metrics of a daily return series, and against a benchmark's, with the definitions of
// empyrical (and quantstats where empyrical has none), so that figures agree with the Python tools
// researchers know; tests/quant/metrics/test_portfolio_metrics.cpp checks every one against values those
// libraries produced (scripts/make_metrics_golden.py). Returns are simple daily returns; 252 days a year;
// the risk-free rate is 0. NaN where a metric is undefined (too few days, zero dispersion, no losses...).
#pragma once

#include <cstdint>
#include <span>

namespace qf::quant {

inline constexpr double kTradingDaysPerYear = 252.0;

struct ReturnMetrics {
  std::int64_t days = 0;
  double total_return = 0;       // prod(1 + r) - 1
  double annual_return = 0;      // (1 + total)^(252 / days) - 1 (CAGR)
  double annual_volatility = 0;  // sd(r, ddof 1) sqrt(252)
  double sharpe = 0;             // mean(r) / sd(r, ddof 1) sqrt(252)
  double sortino = 0;            // 252 mean(r) / (sqrt(mean(min(r, 0)^2)) sqrt(252))
  double max_drawdown = 0;  // min over t of wealth_t / max(wealth up to t) - 1, wealth_0 = 1 included; <= 0
  std::int64_t max_drawdown_days = 0;  // longest run of days below the previous peak
  double calmar = 0;                   // annual_return / -max_drawdown
  double omega = 0;                    // sum of gains / sum of losses (threshold 0)
  double ulcer_index = 0;    // sqrt(sum(dd_t^2) / (days - 1)), dd from the running peak (quantstats)
  double value_at_risk = 0;  // 5th percentile of r (linear interpolation, numpy's default)
  double conditional_value_at_risk = 0;  // mean of the floor(0.05 (days - 1)) + 1 lowest returns
  double skew = 0;                       // adjusted Fisher-Pearson (pandas' Series.skew)
  double kurtosis = 0;                   // excess, bias-corrected (pandas' Series.kurt)
  double hit_rate = 0;                   // days up / days not flat (quantstats win_rate)
  double profit_factor = 0;              // sum(r >= 0) / -sum(r < 0)
  double tail_ratio = 0;                 // |95th percentile| / |5th percentile|
};

struct BenchmarkMetrics {
  double alpha = 0;              // (1 + mean(r - beta b))^252 - 1
  double beta = 0;               // cov(r, b) / var(b), population moments (empyrical)
  double correlation = 0;        // Pearson
  double tracking_error = 0;     // sd(r - b, ddof 1) sqrt(252)
  double information_ratio = 0;  // mean(r - b) / sd(r - b, ddof 1) sqrt(252)
  double up_capture = 0;         // annual_return(r | b > 0) / annual_return(b | b > 0)
  double down_capture = 0;       // the same on days with b < 0
};

// Every metric of the series; non-finite returns are an error (std::invalid_argument naming the day).
ReturnMetrics return_metrics(std::span<const double> returns);
// Against a benchmark of the same length (same days).
BenchmarkMetrics benchmark_metrics(std::span<const double> returns, std::span<const double> benchmark);

// Building blocks, exposed for reports (drawdown chart, rolling windows).
double annual_return(std::span<const double> returns);
// wealth_t / running peak - 1 for each day (the start, wealth 1, counts as a peak).
void drawdown_series(std::span<const double> returns, std::span<double> out);
// numpy.percentile with linear interpolation, q in [0, 100].
double percentile(std::span<const double> values, double q);

}  // namespace qf::quant
