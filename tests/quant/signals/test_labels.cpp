// Labels are the traded return's: for every execution mode and horizon, each label equals the sign (or
// band, or median rank) of entry -> exit prices of data::traded_return_series, and changing a price
// changes only the labels whose trades hold it.
#include <gtest/gtest.h>

#include <cmath>

#include "common/temp_path.h"
#include "qf/data/synthetic_universe.h"
#include "qf/quant/signals/labels.h"
#include "qf/quant/signals/returns.h"

using namespace qf;

namespace {

data::Universe small_universe() {
  const auto dir = test_support::temp_path("labels");
  std::filesystem::remove_all(dir);
  data::write_synthetic_universe(
      data::make_synthetic_universe({.tickers = 15, .days = 120, .seed = 9, .delisting_share = 0.2}), dir);
  const data::IngestOptions options{};
  return data::ingest(data::list_price_files(dir / "prices", options), options);
}

bool same(double a, double b) {
  return a == b || (std::isnan(a) && std::isnan(b));
}

constexpr data::Execution kModes[] = {data::Execution::next_open, data::Execution::next_close,
                                      data::Execution::close};

}  // namespace

TEST(TradedReturn, EntryToExitOfEveryModeAndHorizon) {
  // One listed ticker of 10 days, then a delisted one whose last listed day is 6.
  const std::vector<double> open{10, 11, 12, 13, 14, 15, 16, 17, 18, 19},
      close{10.5, 11.5, 12.5, 13.5, 14.5, 15.5, 16.5, 17.5, 18.5, 19.5};
  const std::vector<std::uint8_t> all(10, 1), until6{1, 1, 1, 1, 1, 1, 1, 0, 0, 0};
  for (const auto mode : kModes)
    for (std::int64_t h = 1; h <= 5; ++h) {
      const data::TradeTiming timing{mode, h};
      const auto r = data::traded_return_series(open, close, all, timing);
      const auto& field = mode == data::Execution::next_open ? open : close;
      for (std::int64_t t = 0; t < 10; ++t) {
        const std::int64_t entry = t + timing.lag(), exit = entry + h;
        if (exit >= 10) {
          EXPECT_TRUE(std::isnan(r[static_cast<std::size_t>(t)])) << "the future is not known yet";
          continue;
        }
        EXPECT_DOUBLE_EQ(r[static_cast<std::size_t>(t)],
                         field[static_cast<std::size_t>(exit)] / field[static_cast<std::size_t>(entry)] - 1)
            << data::to_string(mode) << " h=" << h << " t=" << t;
      }
      const auto d = data::traded_return_series(open, close, until6, timing);
      for (std::int64_t t = 0; t <= 6; ++t) {
        const std::int64_t entry = t + timing.lag(), exit = entry + h;
        if (entry > 6) {
          EXPECT_TRUE(std::isnan(d[static_cast<std::size_t>(t)])) << "nothing to trade after the listing";
        } else if (exit > 6) {  // delisted inside the holding: the close-out at close[6], never NaN
          EXPECT_DOUBLE_EQ(d[static_cast<std::size_t>(t)],
                           close[6] / field[static_cast<std::size_t>(entry)] - 1);
        }
      }
    }
  EXPECT_THROW(data::traded_return_series(open, close, all, {data::Execution::next_open, 0}),
               std::invalid_argument);
  EXPECT_THROW(data::parse_execution("open"), std::invalid_argument);
}

TEST(Labels, DirectionMedianAndThresholdOnTheTradedReturn) {
  const data::Universe u = small_universe();
  const std::int64_t D = u.day_count(), N = u.ticker_count();
  for (const auto mode : kModes)
    for (const std::int64_t h : {1, 3}) {
      const data::TradeTiming timing{mode, h};
      const std::vector<double> r = quant::traded_returns(u, timing);
      const Tensor up = quant::make_labels(u, {quant::LabelKind::next_day_up, timing});
      const Tensor median = quant::make_labels(u, {quant::LabelKind::beats_median, timing});
      const Tensor band = quant::make_labels(u, {quant::LabelKind::beyond_threshold, timing, 0.5});
      for (std::int64_t i = 0; i < N; ++i)
        EXPECT_TRUE(std::isnan(up.at({D - 1, i})));  // the trade has not exited yet
      std::int64_t ones = 0, finite = 0, band_finite = 0;
      for (std::int64_t t = 0; t < D; ++t)
        for (std::int64_t i = 0; i < N; ++i) {
          const double x = r[static_cast<std::size_t>(t * N + i)];
          if (!std::isfinite(x)) {
            ASSERT_TRUE(std::isnan(up.at({t, i})));
            continue;
          }
          ASSERT_EQ(up.at({t, i}), x > 0 ? 1.0 : 0.0);
          ones += static_cast<std::int64_t>(median.at({t, i}));
          ++finite;
          band_finite += std::isfinite(band.at({t, i})) ? 1 : 0;
        }
      EXPECT_NEAR(static_cast<double>(ones) / static_cast<double>(finite), 0.5,
                  0.05);               // half beat the median
      EXPECT_LT(band_finite, finite);  // small moves are left out
      EXPECT_GT(band_finite, finite / 3);
    }
}

TEST(Labels, DependOnlyOnThePricesTheTradeHolds) {
  data::Universe u = small_universe();
  const std::int64_t N = u.ticker_count();
  for (const auto mode : kModes)
    for (const std::int64_t h : {1, 4})
      for (auto kind : {quant::LabelKind::next_day_up, quant::LabelKind::beats_median,
                        quant::LabelKind::beyond_threshold}) {
        const quant::LabelSpec spec{kind, {mode, h}};
        const Tensor before = quant::make_labels(u, spec);
        data::Universe changed = u;
        changed.close = u.close.clone();
        changed.open = u.open.clone();
        for (std::int64_t i = 0; i < N; ++i) {  // day 80 only, both fields
          changed.close.data<double>()[80 * N + i] *= 1.5;
          changed.open.data<double>()[80 * N + i] *= 1.5;
        }
        const Tensor after = quant::make_labels(changed, spec);
        // A trade decided at t holds prices up to t + lag + h: decisions before 80 - (lag + h) can't move.
        const std::int64_t untouched = 80 - spec.timing.label_end_offset();
        for (std::int64_t t = 0; t < untouched; ++t)
          for (std::int64_t i = 0; i < N; ++i)
            ASSERT_TRUE(same(before.at({t, i}), after.at({t, i})))
                << "label of day " << t << " moved (" << spec.describe() << ")";
        bool last_exit_moved = false;  // the decision whose exit is day 80
        for (std::int64_t i = 0; i < N; ++i)
          last_exit_moved = last_exit_moved || !same(before.at({untouched, i}), after.at({untouched, i}));
        EXPECT_TRUE(last_exit_moved || kind == quant::LabelKind::beats_median) << spec.describe();
      }
}
