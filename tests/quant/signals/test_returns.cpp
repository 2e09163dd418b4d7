#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>

#include "qf/quant/signals/returns.h"
#include "qf/quant/ta/ours.h"

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

namespace {

// Bit for bit, NaN where the other is NaN.
void expect_same_bits(const std::vector<double>& a, const std::vector<double>& b, const std::string& what) {
  ASSERT_EQ(a.size(), b.size()) << what;
  for (std::size_t t = 0; t < a.size(); ++t)
    if (std::isnan(a[t]) || std::isnan(b[t]))
      EXPECT_TRUE(std::isnan(a[t]) && std::isnan(b[t]))
          << what << " day " << t << ": " << a[t] << " vs " << b[t];
    else
      EXPECT_EQ(std::memcmp(&a[t], &b[t], sizeof(double)), 0)
          << what << " day " << t << ": " << a[t] << " vs " << b[t];
}

void expect_one_volatility(std::span<const double> prices, int period, const std::string& what) {
  std::vector<double> feature(prices.size());
  qf::quant::ta::rolling_volatility(prices, period, feature);
  expect_same_bits(realized_volatility(prices, period), feature, what + ", period " + std::to_string(period));
}

// The closes of one ticker of the real set (empty when the set is not there).
std::vector<double> real_closes(const std::string& ticker) {
  std::ifstream file(std::string(QF_SHARED_DATA_DIR) + "/sp500_5yr/" + ticker + "_data.csv");
  std::vector<double> close;
  std::string line, cell;
  std::getline(file, line);  // date,open,high,low,close,volume,Name
  while (std::getline(file, line)) {
    std::stringstream fields(line);
    for (int k = 0; k <= 4; ++k) std::getline(fields, cell, ',');
    close.push_back(std::stod(cell));
  }
  return close;
}

}  // namespace

// One realised volatility: realized_volatility (labels' bands, the backtest's impact) is the rvol_<n>
// feature's ta::rolling_volatility, bit for bit, gaps included.
TEST(Returns, RealizedVolatilityIsTheFeaturesRollingVolatility) {
  std::mt19937_64 rng(7);
  std::normal_distribution<double> shock(0.0, 0.02);
  std::vector<double> walk(700);
  double price = 100;
  for (double& p : walk) p = price *= std::exp(shock(rng));
  for (int period : {2, 5, 20, 60}) expect_one_volatility(walk, period, "random walk");
  // A ticker listed late and missing two days: NaN prices, as in a universe panel.
  std::fill_n(walk.begin(), 30, std::numeric_limits<double>::quiet_NaN());
  walk[300] = walk[301] = std::numeric_limits<double>::quiet_NaN();
  expect_one_volatility(walk, 20, "random walk with gaps");
  if (const auto aapl = real_closes("AAPL"); !aapl.empty()) {
    expect_one_volatility(aapl, 20, "AAPL");
    expect_one_volatility(aapl, 2, "AAPL");
  }
}

// A window that holds a missing price has no volatility (NaN, not 0); the first one after the gap is a
// full `period` returns later.
TEST(Returns, RealizedVolatilityIsNaNUntilAFullWindowFollowsAGap) {
  std::vector<double> p(40);
  for (std::size_t t = 0; t < p.size(); ++t) p[t] = 100 + std::sin(0.7 * static_cast<double>(t));
  p[10] = std::numeric_limits<double>::quiet_NaN();
  const auto v = realized_volatility(p, 5);
  for (std::size_t t = 10; t <= 15; ++t) EXPECT_TRUE(std::isnan(v[t])) << t;  // returns 10 and 11 are missing
  EXPECT_GT(v[16], 0.0);                                                      // returns 12..16
  EXPECT_GT(v[9], 0.0);
}

TEST(Returns, ABadPeriodIsNamed) {
  const std::vector<double> p{100, 101, 102};
  try {
    realized_volatility(p, 1);
    FAIL() << "no error";
  } catch (const std::invalid_argument& e) {
    EXPECT_STREQ(e.what(), "realized_volatility: period = 1 must be >= 2");
  }
  EXPECT_THROW(rolling_mean_return(p, 0), std::invalid_argument);
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
