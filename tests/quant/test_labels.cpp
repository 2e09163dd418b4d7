// Labels come from the next day only: changing a day's close changes the labels of that day and the
// day before, never earlier ones.
#include <gtest/gtest.h>

#include <cmath>

#include "common/temp_path.h"
#include "qf/data/synthetic_universe.h"
#include "qf/quant/labels.h"

using namespace qf;

namespace {

data::Universe small_universe() {
  const auto dir = test_support::temp_path("labels");
  std::filesystem::remove_all(dir);
  data::write_synthetic_universe(data::make_synthetic_universe({.tickers = 15, .days = 120, .seed = 9}), dir);
  const data::IngestOptions options{};
  return data::ingest(data::list_price_files(dir / "prices", options), options);
}

bool same(double a, double b) {
  return a == b || (std::isnan(a) && std::isnan(b));
}

}  // namespace

TEST(Labels, DirectionMedianAndThresholdDefinitions) {
  const data::Universe u = small_universe();
  const std::int64_t D = u.day_count(), N = u.ticker_count();
  const Tensor up = quant::make_labels(u, quant::LabelKind::next_day_up);
  const Tensor median = quant::make_labels(u, quant::LabelKind::beats_median);
  const Tensor band = quant::make_labels(u, quant::LabelKind::beyond_threshold, 0.5);
  for (std::int64_t i = 0; i < N; ++i) EXPECT_TRUE(std::isnan(up.at({D - 1, i})));  // no next day
  std::int64_t ones = 0, finite = 0, band_finite = 0;
  for (std::int64_t t = 0; t + 1 < D; ++t)
    for (std::int64_t i = 0; i < N; ++i) {
      const double now = u.close.at({t, i}), after = u.close.at({t + 1, i});
      if (!std::isfinite(now) || !std::isfinite(after)) {
        EXPECT_TRUE(std::isnan(up.at({t, i})));
        continue;
      }
      EXPECT_EQ(up.at({t, i}), after > now ? 1.0 : 0.0);
      ones += static_cast<std::int64_t>(median.at({t, i}));
      ++finite;
      band_finite += std::isfinite(band.at({t, i})) ? 1 : 0;
    }
  EXPECT_NEAR(static_cast<double>(ones) / static_cast<double>(finite), 0.5, 0.05);  // half beat the median
  EXPECT_LT(band_finite, finite);  // small moves are left out
  EXPECT_GT(band_finite, finite / 3);
}

TEST(Labels, DependOnTheNextDayOnly) {
  data::Universe u = small_universe();
  const std::int64_t N = u.ticker_count();
  for (auto kind :
       {quant::LabelKind::next_day_up, quant::LabelKind::beats_median, quant::LabelKind::beyond_threshold}) {
    const Tensor before = quant::make_labels(u, kind);
    data::Universe changed = u;
    changed.close = u.close.clone();
    for (std::int64_t i = 0; i < N; ++i) changed.close.data<double>()[80 * N + i] *= 1.5;  // day 80 only
    const Tensor after = quant::make_labels(changed, kind);
    for (std::int64_t t = 0; t < 79; ++t)
      for (std::int64_t i = 0; i < N; ++i)
        ASSERT_TRUE(same(before.at({t, i}), after.at({t, i}))) << "label of day " << t << " moved";
    bool day_79_moved = false;
    for (std::int64_t i = 0; i < N; ++i)
      day_79_moved = day_79_moved || !same(before.at({79, i}), after.at({79, i}));
    EXPECT_TRUE(day_79_moved ||
                kind == quant::LabelKind::beats_median);  // all up by 50 %: the median moves too
  }
}
