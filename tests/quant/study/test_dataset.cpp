// Datasets over a stored universe: feature sets by name, decision days, causality of windows and
// labels, and scalers that never see anything but training days.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "common/synthetic_store.h"
#include "qf/quant/study/dataset.h"

using namespace qf;

namespace {

const test_support::SyntheticStore& store() {
  static const test_support::SyntheticStore s =
      test_support::synthetic_store("dataset", {.tickers = 12, .days = 400, .seed = 21, .ipo_share = 0.2});
  return s;
}

}  // namespace

TEST(Dataset, FeatureSetsAndListsResolveToStoredPanels) {
  const auto& panels = store().features;
  EXPECT_EQ(quant::resolve_features("returns", panels),
            (std::vector<std::string>{"logret_1", "logret_5", "logret_20", "rvol_20"}));
  EXPECT_EQ(quant::resolve_features("rsi_14, returns,rsi_14", panels),
            (std::vector<std::string>{"rsi_14", "logret_1", "logret_5", "logret_20", "rvol_20"}));
  EXPECT_EQ(quant::resolve_features("all", panels).size(), panels.size());
  for (const auto& set : quant::feature_set_names())
    EXPECT_FALSE(quant::resolve_features(set, panels).empty()) << set;
  try {
    quant::resolve_features("returns,rsi_15", panels);
    FAIL() << "no error";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("'rsi_15'"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("rsi_14"), std::string::npos) << "lists what is stored";
  }
}

TEST(Dataset, DecisionDaysHaveFullFiniteWindowsAndLabels) {
  const auto& s = store();
  const quant::StockDataset d(s.universe, s.features,
                              {quant::resolve_features("default", s.features), 20, {}});
  std::int64_t late_starters = 0;
  for (std::int64_t i = 0; i < d.ticker_count(); ++i) {
    const auto days = d.decision_days(i);
    ASSERT_FALSE(days.empty());
    std::int64_t first_listed = 0;
    while (!s.universe.listed[static_cast<std::size_t>(first_listed * d.ticker_count() + i)]) ++first_listed;
    late_starters += first_listed > 0 ? 1 : 0;
    // The first decision day needs the longest lookback of the set (adx_14: 27 days) plus the window.
    EXPECT_GE(days.front(), first_listed + 27 + 20 - 1);
    for (const std::int64_t t : days) {
      ASSERT_TRUE(std::isfinite(d.label(i, t)));
      for (std::int64_t k = (t - 19) * d.feature_count(); k < (t + 1) * d.feature_count(); ++k)
        ASSERT_TRUE(std::isfinite(d.features(i).data<double>()[k]));
    }
    EXPECT_LT(days.back(), d.day_count() - 1) << "the last day has no label";
  }
  EXPECT_GT(late_starters, 0) << "the test should cover a late listing";
}

TEST(Dataset, WindowsAndLabelsOfEarlierDaysIgnoreLaterPrices) {
  const auto& s = store();
  const std::int64_t cut = 250;
  data::Universe changed = s.universe;
  changed.close = s.universe.close.clone();
  changed.high = s.universe.high.clone();
  for (std::int64_t t = cut; t < changed.day_count(); ++t)
    for (std::int64_t i = 0; i < changed.ticker_count(); ++i) {
      changed.close.data<double>()[t * changed.ticker_count() + i] *= 1.3;
      changed.high.data<double>()[t * changed.ticker_count() + i] *= 1.3;
    }
  const data::FeaturePanels changed_features = quant::compute_features(changed);
  const quant::DatasetOptions o{quant::resolve_features("default", s.features), 30, {}};
  const quant::StockDataset before(s.universe, s.features, o), after(changed, changed_features, o);
  std::int64_t compared = 0;
  for (std::int64_t i = 0; i < before.ticker_count(); ++i) {
    const auto a = before.decision_days(i), b = after.decision_days(i);
    for (std::size_t k = 0; k < a.size() && a[k] < cut - 1; ++k) {
      ASSERT_EQ(a[k], b[k]);
      const std::int64_t t = a[k];
      // Labels of days up to cut-2 use closes up to cut-1; windows ending there use rows up to t.
      EXPECT_EQ(before.label(i, t), after.label(i, t));
      const auto F = before.feature_count();
      EXPECT_EQ(
          std::memcmp(before.features(i).data<double>() + (t - 29) * F,
                      after.features(i).data<double>() + (t - 29) * F, static_cast<std::size_t>(30 * F) * 8),
          0);
      ++compared;
    }
  }
  EXPECT_GT(compared, 1000);
}

TEST(Dataset, ScalersSeeOnlyTrainingDays) {
  const auto& s = store();
  const quant::StockDataset d(s.universe, s.features,
                              {quant::resolve_features("returns", s.features), 10, {}});
  std::vector<quant::SampleRef> train;
  for (const std::int64_t t : d.decision_days(0))
    if (t < 200) train.push_back({0, static_cast<std::int32_t>(t)});
  const auto scalers = quant::fit_scalers(d, train, true);
  ASSERT_EQ(static_cast<std::int64_t>(scalers.size()), d.ticker_count());
  EXPECT_TRUE(scalers[1].mean().empty()) << "a ticker without training samples gets no scaler";
  // The mean of feature 0 over exactly the training rows.
  double total = 0;
  for (const auto& r : train) total += d.features(0).data<double>()[r.day * d.feature_count()];
  EXPECT_NEAR(scalers[0].mean()[0], total / static_cast<double>(train.size()), 1e-15);
  // Pooled scaler: one, over both tickers' rows; windows come out scaled by it.
  std::vector<quant::SampleRef> two = train;
  for (const std::int64_t t : d.decision_days(1))
    if (t < 200) two.push_back({1, static_cast<std::int32_t>(t)});
  const auto pooled = quant::fit_scalers(d, two, false);
  ASSERT_EQ(pooled.size(), 1u);
  const quant::WindowBatchSource source(d, two, pooled);
  const std::vector<std::int64_t> rows{0, static_cast<std::int64_t>(two.size()) - 1};
  const auto [x, y] = source.batch(rows);
  EXPECT_EQ(x.shape(), (Shape{2, 10, 4}));
  const auto last = two.back();
  const double raw = d.features(1).data<double>()[last.day * 4 + 2];
  EXPECT_FLOAT_EQ(x.data<float>()[1 * 40 + 9 * 4 + 2],
                  static_cast<float>((raw - pooled[0].mean()[2]) / pooled[0].scale()[2]));
  EXPECT_EQ(y.data<float>()[1], static_cast<float>(d.label(1, last.day)));
}

TEST(Dataset, CalendarGapsAreNeitherPredictedNorLabelled) {
  const auto& s = store();
  data::Universe gapped = s.universe;
  const std::int64_t N = gapped.ticker_count(), gap = 300, i = 0;
  gapped.present[static_cast<std::size_t>(gap * N + i)] = 0;  // day 300 of ticker 0: a carried-forward row
  const quant::DatasetOptions o{quant::resolve_features("returns", s.features), 10, {}};
  const quant::StockDataset d(gapped, s.features, o), plain(s.universe, s.features, o);
  auto has = [](std::span<const std::int64_t> days, std::int64_t t) {
    return std::find(days.begin(), days.end(), t) != days.end();
  };
  ASSERT_TRUE(has(plain.prediction_days(i), gap) && has(plain.decision_days(i), gap - 1));
  EXPECT_FALSE(has(d.prediction_days(i), gap));
  EXPECT_FALSE(has(d.decision_days(i), gap - 1)) << "its label would come from a fake flat day";
  EXPECT_TRUE(has(d.prediction_days(i), gap - 1)) << "it can still be predicted";
}

TEST(Dataset, PredictionDaysDoNotDependOnTheLabel) {
  const auto& s = store();
  quant::DatasetOptions o{
      quant::resolve_features("returns", s.features), 10, {quant::LabelKind::beyond_threshold, {}, 1.0}};
  const quant::StockDataset banded(s.universe, s.features, o);
  o.label.kind = quant::LabelKind::next_day_up;
  const quant::StockDataset plain(s.universe, s.features, o);
  for (std::int64_t i = 0; i < plain.ticker_count(); ++i) {
    const auto a = banded.prediction_days(i), b = plain.prediction_days(i);
    ASSERT_TRUE(std::equal(a.begin(), a.end(), b.begin(), b.end())) << "ticker " << i;
    EXPECT_LT(banded.decision_days(i).size(), plain.decision_days(i).size()) << "small moves have no label";
  }
}
