#include <gtest/gtest.h>

#include <cmath>

#include "qf/quant/signals/returns.h"

using namespace qf::quant;

TEST(Returns, LogReturnsAndLookbacks) {
  const std::vector<double> p{100, 110, 99, 99, 120};
  const auto r = log_returns(p);
  EXPECT_TRUE(std::isnan(r[0]));
  EXPECT_NEAR(r[1], std::log(1.1), 1e-15);
  const auto m = rolling_mean_return(p, 2);
  EXPECT_TRUE(std::isnan(m[1]));
  EXPECT_NEAR(m[2], (r[1] + r[2]) / 2, 1e-15);
  const auto v = realized_volatility(p, 3);
  EXPECT_TRUE(std::isnan(v[2]));
  const double mu = (r[1] + r[2] + r[3]) / 3;
  EXPECT_NEAR(
      v[3],
      std::sqrt(((r[1] - mu) * (r[1] - mu) + (r[2] - mu) * (r[2] - mu) + (r[3] - mu) * (r[3] - mu)) / 3),
      1e-15);
}

TEST(Returns, FeaturesAreCausal) {
  // Changing prices after day t never changes any feature at or before t.
  std::vector<double> p(60);
  for (std::size_t t = 0; t < p.size(); ++t) p[t] = 100 + std::sin(0.3 * static_cast<double>(t)) * 5;
  auto q = p;
  for (std::size_t t = 41; t < q.size(); ++t) q[t] *= 1.7;
  for (auto f : {+[](std::span<const double> x) { return log_returns(x); },
                 +[](std::span<const double> x) { return rolling_mean_return(x, 5); },
                 +[](std::span<const double> x) { return realized_volatility(x, 20); }}) {
    const auto a = f(p), b = f(q);
    for (std::size_t t = 0; t <= 40; ++t)
      EXPECT_TRUE(a[t] == b[t] || (std::isnan(a[t]) && std::isnan(b[t]))) << t;
    EXPECT_NE(a[41], b[41]);
  }
}

TEST(Labels, NextDayDirectionUsesTomorrow) {
  const std::vector<double> p{1, 2, 1, 1};
  const auto y = next_day_direction(p);
  EXPECT_EQ(y[0], 1.0);
  EXPECT_EQ(y[1], 0.0);
  EXPECT_EQ(y[2], 0.0);  // flat is not up
  EXPECT_TRUE(std::isnan(y[3]));
  EXPECT_DOUBLE_EQ(directional_accuracy(std::vector<double>{0.9, 0.2, 0.7, 0.5}, y), 2.0 / 3.0);
}
