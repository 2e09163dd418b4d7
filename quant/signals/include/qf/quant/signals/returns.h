// Module signals (qf_quant_signals): what the models read and what they predict: returns and the traded
// return (this header), labels and their HDF5 attributes (labels.h), the universe's feature panels
// (features.h). Uses ta (the indicators behind the features), data and tensor.
//
// Returns, simple causal features and the traded return. Every feature value at day t uses prices up
// to t only; the traded return of day t uses the prices after t that a trade decided at t's close
// earns (data/execution.h). NaN marks "not enough history yet" (TA-Lib's lookback) or "not known yet".
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "qf/data/execution.h"
#include "qf/data/universe.h"

namespace qf::quant {

// log(p_t / p_{t-1}); lookback 1.
std::vector<double> log_returns(std::span<const double> prices);
// Mean of log returns over the last `period` days; lookback `period`.
std::vector<double> rolling_mean_return(std::span<const double> prices, std::int64_t period);
// Standard deviation (population) of the last `period` log returns; lookback `period`. NaN where the
// window holds a missing (NaN) price: a full `period` returns after a gap or a late listing. The same
// numbers, bit for bit, as the rvol_<period> feature (ta::rolling_volatility, which computes them).
std::vector<double> realized_volatility(std::span<const double> prices, std::int64_t period);
// 1 if p_{t+1} > p_t else 0; NaN on the last day.
std::vector<double> next_day_direction(std::span<const double> prices);
// Share of correct directions: probability > 0.5 against label > 0.5 (NaN labels skipped).
double directional_accuracy(std::span<const double> probabilities, std::span<const double> labels);

// The same over a universe, as [days x tickers] row-major panels (the universe's layout):
// the traded return of every (decision day, ticker) for an execution mode and horizon (simple returns,
// data::traded_return_series per ticker): what labels, scores, expected returns and the backtest's P&L
// of a decision on day t are about;
std::vector<double> traded_returns(const data::Universe& universe, const data::TradeTiming& timing);
// realized_volatility of each ticker's closes, up to each day (NaN before `period` returns).
std::vector<double> realized_volatility_panel(const data::Universe& universe, std::int64_t period);

}  // namespace qf::quant
