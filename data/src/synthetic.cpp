#include "qf/data/synthetic.h"

#include <cmath>
#include <stdexcept>

#include "qf/core/require.h"
#include "qf/tensor/random.h"

namespace qf::data {

SyntheticSeries make_synthetic_series(const SyntheticSeriesOptions& o) {
  QF_REQUIRE(o.days >= 2, "make_synthetic_series", "days", o.days, "must be >= 2");
  QF_REQUIRE(o.start_price > 0, "make_synthetic_series", "start_price", o.start_price, "must be positive");
  QF_REQUIRE(o.volatility > 0, "make_synthetic_series", "volatility", o.volatility, "must be positive");
  // GARCH(1,1) with persistence alpha + beta = 0.97 around the long-run variance.
  const double alpha = 0.07, beta = 0.90, omega = o.volatility * o.volatility * (1.0 - alpha - beta);
  Rng rng(o.seed);
  SyntheticSeries s;
  const auto n = static_cast<std::size_t>(o.days);
  s.close.resize(n);
  s.log_return.assign(n, 0.0);
  s.volatility.assign(n, o.volatility);
  s.close[0] = o.start_price;
  double variance = o.volatility * o.volatility, momentum = 0.0, shock = 0.0;
  for (std::size_t t = 1; t < n; ++t) {
    variance = omega + alpha * shock * shock + beta * variance;
    const double sigma = std::sqrt(variance);
    shock = sigma * rng.normal();
    const double r = o.drift + o.predictability * momentum + shock;
    s.log_return[t] = r;
    s.volatility[t] = sigma;
    s.close[t] = s.close[t - 1] * std::exp(r);
    // 5-day mean of returns up to and including t (used for t+1).
    double total = 0;
    const std::size_t first = t >= 4 ? t - 4 : 1;
    for (std::size_t k = first; k <= t; ++k) total += s.log_return[k];
    momentum = total / static_cast<double>(t - first + 1);
  }
  return s;
}

}  // namespace qf::data
