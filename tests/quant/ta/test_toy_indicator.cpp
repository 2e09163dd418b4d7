// The toy indicator of toy_indicator.h, registered from outside qf_quant_ta: its values, causality and
// lookback, its row after the built-in rows of this program's registry, and the registration's checks.
#include <gtest/gtest.h>

#include <cmath>
#include <cstddef>
#include <limits>
#include <random>
#include <stdexcept>
#include <vector>

#include "qf/quant/ta/registry.h"
#include "quant/ta/toy_indicator.h"

namespace ta = qf::quant::ta;

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

bool same(double a, double b) {
  return a == b || (std::isnan(a) && std::isnan(b));
}

std::vector<double> random_walk(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> step(0.0, 0.02);
  std::vector<double> close(n);
  double price = 100;
  for (double& c : close) c = price *= std::exp(step(rng));
  return close;
}

std::vector<double> up_day_share(const std::vector<double>& close, int period) {
  std::vector<double> out(close.size());
  toy::up_day_share(close, period, out);
  return out;
}

TEST(ToyIndicator, ValuesByHand) {
  const std::vector<double> close{1, 2, 1, 1, 3, 4, 2};  // changes: up, down, flat, up, up, down
  const std::vector<double> expected{kNaN, kNaN, kNaN, 1.0 / 3, 1.0 / 3, 2.0 / 3, 2.0 / 3};
  const auto out = up_day_share(close, 3);
  for (std::size_t t = 0; t < close.size(); ++t)
    EXPECT_TRUE(same(out[t], expected[t])) << t << ": " << out[t];
}

TEST(ToyIndicator, LookbackIsTheFirstValue) {
  const auto close = random_walk(100, 1);
  for (int period : {1, 5, 20}) {
    const auto out = up_day_share(close, period);
    const auto lookback = static_cast<std::size_t>(toy::up_day_share_lookback(period));
    EXPECT_EQ(lookback, static_cast<std::size_t>(period));
    for (std::size_t t = 0; t < close.size(); ++t)
      EXPECT_EQ(std::isnan(out[t]), t < lookback) << period << " " << t;
  }
  EXPECT_THROW(toy::up_day_share_lookback(0), std::invalid_argument);
}

TEST(ToyIndicator, IsCausal) {
  const auto close = random_walk(300, 2);
  const auto base = up_day_share(close, 20);
  for (std::size_t t : {30u, 150u}) {
    auto changed = close;
    for (std::size_t i = t + 1; i < changed.size(); ++i)
      changed[i] = 300.0 - changed[i];  // falls become rises
    const auto after = up_day_share(changed, 20);
    for (std::size_t i = 0; i <= t; ++i)
      ASSERT_TRUE(same(base[i], after[i])) << "day " << i << " moved, t " << t;
    bool moved = false;
    for (std::size_t i = t + 1; i < after.size(); ++i) moved = moved || !same(base[i], after[i]);
    EXPECT_TRUE(moved) << "no reaction to the days after " << t;
  }
}

TEST(ToyIndicator, NonFiniteCloseBlanksTheWindowsThatHoldIt) {
  auto close = random_walk(100, 3);
  close[50] = kNaN;
  const auto out = up_day_share(close, 10);
  for (std::size_t t = 10; t < close.size(); ++t) EXPECT_EQ(std::isnan(out[t]), t >= 50 && t <= 60) << t;
}

// ---- the registration ----

TEST(ToyIndicator, ItsRowFollowsTheBuiltInRows) {
  const auto specs = ta::all_indicators();
  ASSERT_EQ(specs.size(), ta::indicator_count());
  const ta::IndicatorSpec& row = specs.back();
  EXPECT_EQ(row.name, "up_day_share_20");
  EXPECT_EQ(row.lookback, 20);
  EXPECT_EQ(specs[specs.size() - 2].name, "volume_z_20");  // the last built-in row

  const auto close = random_walk(200, 4);
  const std::vector<double> flat(close.size(), 1.0);
  const ta::Ohlcv bars{close, close, close, close, flat};
  const auto expected = up_day_share(close, 20);
  const auto rows = ta::compute_all(bars, {});
  std::vector<double> alone(close.size());
  row.compute(bars, {}, alone);
  std::vector<double> talib_only(specs.size() * close.size());
  ta::compute_all(bars, {}, talib_only, ta::IndicatorSet::talib_only);
  for (std::size_t t = 0; t < close.size(); ++t) {
    ASSERT_TRUE(same(rows.back()[t], expected[t])) << t;
    ASSERT_TRUE(same(alone[t], expected[t])) << t;
    ASSERT_TRUE(std::isnan(talib_only[(specs.size() - 1) * close.size() + t])) << t;  // not a TA-Lib output
  }
}

TEST(ToyIndicator, BadRegistrationsThrow) {
  auto spec = [](const char* name, int lookback = 0) {
    ta::IndicatorSpec s;
    s.name = name;
    s.lookback = lookback;
    s.compute = [](const ta::Ohlcv&, std::span<const double>, std::span<double>) {};
    return s;
  };
  ta::IndicatorSpec no_compute = spec("late_row");
  no_compute.compute = nullptr;
  EXPECT_THROW(ta::IndicatorRegistration{spec("Bad-Name")}, std::invalid_argument);
  EXPECT_THROW(ta::IndicatorRegistration{spec("rsi_14")}, std::invalid_argument);           // built in
  EXPECT_THROW(ta::IndicatorRegistration{spec("up_day_share_20")}, std::invalid_argument);  // the toy's
  EXPECT_THROW(ta::IndicatorRegistration{spec("late_row", -1)}, std::invalid_argument);
  EXPECT_THROW(ta::IndicatorRegistration{no_compute}, std::invalid_argument);
  // Once the registry has been read its rows are fixed.
  EXPECT_GT(ta::indicator_count(), 0u);
  EXPECT_THROW(ta::IndicatorRegistration{spec("late_row")}, std::logic_error);
}

}  // namespace
