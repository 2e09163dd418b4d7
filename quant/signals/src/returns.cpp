#include "qf/quant/signals/returns.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

#include "qf/core/require.h"
#include "qf/quant/ta/ours.h"

namespace qf::quant {

namespace {
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
}

std::vector<double> log_returns(std::span<const double> prices) {
  std::vector<double> r(prices.size(), kNaN);
  for (std::size_t t = 1; t < prices.size(); ++t) r[t] = std::log(prices[t] / prices[t - 1]);
  return r;
}

std::vector<double> rolling_mean_return(std::span<const double> prices, std::int64_t period) {
  QF_REQUIRE(period >= 1, "rolling_mean_return", "period", period, "must be >= 1");
  const auto n = static_cast<std::size_t>(period);
  std::vector<double> out(prices.size(), kNaN);
  for (std::size_t t = n; t < prices.size(); ++t)
    out[t] = std::log(prices[t] / prices[t - n]) / static_cast<double>(n);  // telescoping sum of log returns
  return out;
}

std::vector<double> realized_volatility(std::span<const double> prices, std::int64_t period) {
  QF_REQUIRE(period >= 2, "realized_volatility", "period", period, "must be >= 2");
  // One implementation: the rvol_<period> feature's. (ta checks the upper bound, kMaxPeriod.)
  std::vector<double> out(prices.size());
  ta::rolling_volatility(
      prices, static_cast<int>(std::min<std::int64_t>(period, std::numeric_limits<int>::max())), out);
  return out;
}

std::vector<double> next_day_direction(std::span<const double> prices) {
  std::vector<double> label(prices.size(), kNaN);
  for (std::size_t t = 0; t + 1 < prices.size(); ++t) label[t] = prices[t + 1] > prices[t] ? 1.0 : 0.0;
  return label;
}

double directional_accuracy(std::span<const double> probabilities, std::span<const double> labels) {
  QF_REQUIRE_MSG(probabilities.size() == labels.size(), "directional_accuracy",
                 probabilities.size() << " predictions for " << labels.size() << " labels");
  std::size_t correct = 0, counted = 0;
  for (std::size_t i = 0; i < labels.size(); ++i) {
    if (std::isnan(labels[i]) || std::isnan(probabilities[i])) continue;
    correct += (probabilities[i] > 0.5) == (labels[i] > 0.5) ? 1 : 0;
    ++counted;
  }
  return counted ? static_cast<double>(correct) / static_cast<double>(counted) : kNaN;
}

std::vector<double> traded_returns(const data::Universe& u, const data::TradeTiming& timing) {
  const std::int64_t D = u.day_count(), N = u.ticker_count();
  std::vector<double> out(static_cast<std::size_t>(D * N));
  std::vector<double> open(static_cast<std::size_t>(D)), close(static_cast<std::size_t>(D));
  std::vector<std::uint8_t> listed(static_cast<std::size_t>(D));
  for (std::int64_t i = 0; i < N; ++i) {
    for (std::int64_t t = 0; t < D; ++t) {
      const auto cell = static_cast<std::size_t>(t * N + i), day = static_cast<std::size_t>(t);
      open[day] = u.open.data<double>()[cell];
      close[day] = u.close.data<double>()[cell];
      listed[day] = u.listed[cell];
    }
    const std::vector<double> r = data::traded_return_series(open, close, listed, timing);
    for (std::int64_t t = 0; t < D; ++t)
      out[static_cast<std::size_t>(t * N + i)] = r[static_cast<std::size_t>(t)];
  }
  return out;
}

std::vector<double> realized_volatility_panel(const data::Universe& u, std::int64_t period) {
  const std::int64_t D = u.day_count(), N = u.ticker_count();
  std::vector<double> out(static_cast<std::size_t>(D * N)), series(static_cast<std::size_t>(D));
  for (std::int64_t i = 0; i < N; ++i) {
    for (std::int64_t t = 0; t < D; ++t)
      series[static_cast<std::size_t>(t)] = u.close.data<double>()[t * N + i];
    const std::vector<double> v = realized_volatility(series, period);
    for (std::int64_t t = 0; t < D; ++t)
      out[static_cast<std::size_t>(t * N + i)] = v[static_cast<std::size_t>(t)];
  }
  return out;
}

}  // namespace qf::quant
