// Synthetic price series for demos and honesty tests. Daily log returns follow
//   r_t = drift + predictability * m_{t-1} + sigma_t * e_t,   m_t = mean(r_{t-4..t})
// where sigma_t follows a GARCH(1,1)-like recursion. With predictability = 0 the series is a pure
// random walk (nothing to learn); a positive value plants a weak momentum component.
// For a whole multi-stock universe see synthetic_universe.h.
#pragma once

#include <cstdint>
#include <vector>

namespace qf::data {

struct SyntheticSeriesOptions {
  std::int64_t days = 2520;  // ten years of trading days
  double start_price = 100.0;
  double drift = 0.0002;        // per day
  double volatility = 0.015;    // long-run daily volatility
  double predictability = 0.0;  // momentum coefficient on the 5-day mean return
  std::uint64_t seed = 7;
};

struct SyntheticSeries {
  std::vector<double> close;       // [days]
  std::vector<double> log_return;  // [days], log_return[0] = 0
  std::vector<double> volatility;  // [days], the true sigma_t
};

SyntheticSeries make_synthetic_series(const SyntheticSeriesOptions& options);

}  // namespace qf::data
