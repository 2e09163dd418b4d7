// Returns, simple causal features and next-day labels. Every feature value at day t uses prices up
// to t only; labels at day t use t+1 (and are NaN where t+1 does not exist). NaN marks "not enough
// history yet" (TA-Lib's lookback).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace qf::quant {

// log(p_t / p_{t-1}); lookback 1.
std::vector<double> log_returns(std::span<const double> prices);
// Mean of log returns over the last `period` days; lookback `period`.
std::vector<double> rolling_mean_return(std::span<const double> prices, std::int64_t period);
// Standard deviation (population) of the last `period` log returns; lookback `period`.
std::vector<double> realized_volatility(std::span<const double> prices, std::int64_t period);
// 1 if p_{t+1} > p_t else 0; NaN on the last day.
std::vector<double> next_day_direction(std::span<const double> prices);
// Share of correct directions: probability > 0.5 against label > 0.5 (NaN labels skipped).
double directional_accuracy(std::span<const double> probabilities, std::span<const double> labels);

}  // namespace qf::quant
