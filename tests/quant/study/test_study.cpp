// Stage 2's plan and study: the calendar plan never lets a training or validation span touch a test
// day, searches enumerate their trials, and a study is bit-reproducible whatever the thread count.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "common/synthetic_store.h"
#include "qf/nn/serialize.h"
#include "qf/quant/study/registry_models.h"
#include "qf/quant/study/training.h"
#include "qf/tensor/hdf5.h"
#include "qf/tensor/parallel.h"

using namespace qf;
namespace fs = std::filesystem;

namespace {

// True when a day of `train` leaks into a day of `test`: a training label (prices up to s + L) reaches
// past a later test decision, or a training window (from s - window + 1) holds an earlier test label.
bool leaks(const std::vector<std::int64_t>& train, const std::vector<std::int64_t>& test, std::int64_t window,
           std::int64_t label_end) {
  for (const std::int64_t s : train)
    for (const std::int64_t t : test) {
      if (s < t && s + label_end > t) return true;
      if (s > t && s - window + 1 <= t + label_end) return true;
    }
  return false;
}

}  // namespace

// Purge what leaks, and no more: the development period ends exactly where its last label ends at the
// first test decision, and a walk-forward fold trains up to exactly the label span before its validation.
TEST(CalendarPlan, PurgesEveryTrainingAndValidationSpanAwayFromTests) {
  for (const std::int64_t label_end : {2, 6})  // next_open held 1 day; held 5 days
    for (const auto scheme : {quant::CvScheme::walk_forward, quant::CvScheme::rolling,
                              quant::CvScheme::purged_kfold, quant::CvScheme::combinatorial}) {
      quant::StudyOptions o;
      o.cv = scheme;
      o.folds = scheme == quant::CvScheme::combinatorial ? 5 : 4;
      const std::int64_t window = 40;
      const quant::CalendarPlan plan = quant::plan_calendar(2000, window, label_end, o);
      const std::string what = quant::to_string(scheme) + " L=" + std::to_string(label_end);
      EXPECT_EQ(plan.test_first, 1600);
      EXPECT_EQ(plan.dev_last + label_end, plan.test_first)
          << "the last dev label ends at the first test decision";
      EXPECT_EQ(plan.test_last, 2000 - 1 - label_end);
      EXPECT_EQ(plan.folds.size(), scheme == quant::CvScheme::combinatorial ? 10u : 4u);
      for (const auto& f : plan.folds) {
        ASSERT_FALSE(f.train.empty());
        ASSERT_FALSE(f.validation.empty());
        EXPECT_FALSE(leaks(f.train, f.test, window, label_end)) << what;
        EXPECT_FALSE(leaks(f.validation, f.test, window, label_end)) << what;
        EXPECT_FALSE(leaks(f.train, f.validation, window, label_end)) << what;
        EXPECT_LE(f.test.back(), plan.dev_last);
        if (scheme == quant::CvScheme::walk_forward || scheme == quant::CvScheme::rolling) {
          EXPECT_LT(f.validation.back(), f.test.front()) << "walk-forward never trains on the future";
          EXPECT_EQ(f.train.back() + label_end, f.validation.front()) << "purged by the label span, no more";
        }
      }
      EXPECT_FALSE(leaks(plan.final.train, plan.final.test, window, label_end));
      EXPECT_FALSE(leaks(plan.final.validation, plan.final.test, window, label_end));
      EXPECT_EQ(plan.final.test.front(), plan.test_first);
    }
  // Fischer & Krauss's setup fits the 5-year real set's length: window 240 over 1,259 days.
  quant::StudyOptions o;
  EXPECT_NO_THROW(quant::plan_calendar(1259, 240, 2, o));
  o.min_train_samples = 900;  // more training windows than the development period holds: a clear error
  EXPECT_THROW(quant::plan_calendar(1259, 240, 2, o), std::invalid_argument);
}

TEST(Search, GridEnumeratesAndRandomDrawsDistinctTrials) {
  quant::SearchSpace space;
  space.hidden = {16, 32, 64};
  space.layers = {1, 2};
  space.learning_rates = {1e-3, 3e-3};
  space.feature_sets = {"returns", "default"};
  const auto grid = quant::grid_trials(space);
  EXPECT_EQ(grid.size(), 24u);
  std::set<std::string> names;
  for (const auto& t : grid) names.insert(t.describe());
  EXPECT_EQ(names.size(), 24u);
  const auto a = quant::random_trials(space, 5, 3), b = quant::random_trials(space, 5, 3),
             c = quant::random_trials(space, 5, 4);
  ASSERT_EQ(a.size(), 5u);
  std::set<std::string> drawn;
  for (std::size_t k = 0; k < a.size(); ++k) {
    EXPECT_EQ(a[k].describe(), b[k].describe());
    drawn.insert(a[k].describe());
  }
  EXPECT_EQ(drawn.size(), 5u);
  bool differs = false;
  for (std::size_t k = 0; k < a.size(); ++k) differs = differs || a[k].describe() != c[k].describe();
  EXPECT_TRUE(differs);
}

namespace {

const test_support::SyntheticStore& small_store() {
  static const test_support::SyntheticStore s = test_support::synthetic_store(
      "training", {.tickers = 8, .days = 900, .seed = 31, .predictability = 0.2});
  return s;
}

quant::StudyOptions small_options() {
  quant::StudyOptions o;
  o.folds = 2;
  o.fit.epochs = 2;
  o.min_train_samples = 100;
  return o;
}

quant::Trial small_trial() {
  quant::Trial t;
  t.model = {"lstm", 0, 8, 1, 0.0};
  t.window = 20;
  t.features = "returns";
  return t;
}

quant::StudyResult run_study(const fs::path& out, int threads, quant::StudyOptions o = small_options()) {
  fs::remove_all(out);
  set_num_threads(threads);
  quant::Study study(small_store().universe, small_store().features, o, {small_trial()}, out);
  auto r = study.run();
  study.write_registry(r, "test");
  return r;
}

}  // namespace

TEST(Study, SameBitsWithOneOrTwoThreadsAndAFullRegistry) {
  const auto one = run_study(test_support::temp_path("study_1"), 1);
  const auto two = run_study(test_support::temp_path("study_2"), 2);
  ASSERT_GT(one.test_predictions.size(), 1000u);
  EXPECT_EQ(one.test_predictions.probability, two.test_predictions.probability);
  EXPECT_EQ(one.cv_predictions.probability, two.cv_predictions.probability);
  ASSERT_EQ(one.trials.size(), 1u);
  EXPECT_EQ(one.trials[0].folds.size(), 2u);
  // Every test prediction lies in the test period, every CV one before it.
  quant::Study study(small_store().universe, small_store().features, small_options(), {small_trial()},
                     test_support::temp_path("study_1"));
  for (const auto d : one.test_predictions.day) EXPECT_GE(d, study.plan().test_first);
  for (const auto d : one.cv_predictions.day) EXPECT_LE(d, study.plan().dev_last);
  // The fold models (trained on development days only) predict from the test period to the calendar's
  // end, for fold ensembles: every fold, on days where the final models did too and on the last day.
  ASSERT_EQ(one.fold_of_prediction.size(), one.fold_predictions.size());
  ASSERT_EQ(one.cv_fold.size(), one.cv_predictions.size());
  std::set<std::int32_t> folds_seen;
  std::int64_t unlabelled_days = 0;  // after the test period's last labelled day (the trades not exited)
  for (std::size_t j = 0; j < one.fold_predictions.size(); ++j) {
    EXPECT_GE(one.fold_predictions.day[j], study.plan().test_first);
    folds_seen.insert(one.fold_of_prediction[j]);
    unlabelled_days += one.fold_predictions.day[j] > study.plan().test_last ? 1 : 0;
  }
  EXPECT_EQ(folds_seen, (std::set<std::int32_t>{0, 1}));
  EXPECT_GT(unlabelled_days, 7) << "both folds' models on the unlabelled last days";
  EXPECT_EQ(one.fold_predictions.size(), 2 * one.test_predictions.size() + unlabelled_days);
  EXPECT_EQ(one.fold_predictions.probability, two.fold_predictions.probability);
  // The registry holds a loadable model per trained ticker, with its scaler.
  const h5::File registry(test_support::temp_path("study_1") / "registry.h5", h5::File::Mode::read);
  EXPECT_EQ(registry.attr_string("/", "format"), "quantforge.registry");
  std::int64_t trained = 0;
  for (const auto& c : one.coverage) {
    if (c.status != "trained") continue;
    ++trained;
    Rng rng(0);
    auto model = nn::make_model({"lstm", 4, 8, 1, 0.0}, rng);
    nn::read_parameters(registry, "/models/" + c.ticker, *model);
    const Tensor mean = registry.read("/models/" + c.ticker + "/scaler/mean");
    ASSERT_EQ(mean.numel(), 4);
    // The ticker's own scaler: the mean of its first feature over its final training days.
    const quant::StockDataset data(small_store().universe, small_store().features,
                                   {quant::resolve_features("returns", small_store().features), 20, {}});
    const std::int64_t i = small_store().universe.index_of(c.ticker);
    double total = 0;
    std::int64_t count = 0;
    for (const std::int64_t t : data.decision_days(i))
      if (std::binary_search(study.plan().final.train.begin(), study.plan().final.train.end(), t)) {
        total += data.features(i).data<double>()[t * 4];
        ++count;
      }
    EXPECT_NEAR(mean.data<double>()[0], total / static_cast<double>(count), 1e-12) << c.ticker;
  }
  EXPECT_GE(trained, 7);
  fs::remove_all(test_support::temp_path("study_1"));
  fs::remove_all(test_support::temp_path("study_2"));
}

TEST(Study, PooledModelCoversEveryTickerAndTooShortHistoriesAreSkippedWithAReason) {
  auto o = small_options();
  o.scope = quant::Scope::pooled;
  const auto r = run_study(test_support::temp_path("study_pooled"), 2, o);
  EXPECT_EQ(r.coverage.size(), 8u);
  EXPECT_GT(r.test.classification.count, 1000);
  o.scope = quant::Scope::per_stock;
  o.min_train_samples = 650;  // the 700 development days hold it, no ticker's training share (85 %) does
  const auto skipped = run_study(test_support::temp_path("study_skipped"), 2, o);
  for (const auto& c : skipped.coverage) {
    EXPECT_EQ(c.status, "skipped");
    EXPECT_NE(c.reason.find("too little history"), std::string::npos) << c.reason;
  }
  fs::remove_all(test_support::temp_path("study_pooled"));
  fs::remove_all(test_support::temp_path("study_skipped"));
}

TEST(Study, PooledModelWithLateListingsAndBandLabelsPredictsEveryTestDay) {
  const auto store = test_support::synthetic_store(
      "study_late", {.tickers = 10, .days = 900, .seed = 33, .ipo_share = 0.5, .predictability = 0.2});
  auto o = small_options();
  o.scope = quant::Scope::pooled;
  o.label.kind = quant::LabelKind::beyond_threshold;
  const auto out = test_support::temp_path("study_late");
  fs::remove_all(out);
  set_num_threads(2);
  quant::Study study(store.universe, store.features, o, {small_trial()}, out);
  const auto r = study.run();
  for (const auto& c : r.coverage) EXPECT_NE(c.status, "failed") << c.ticker << ": " << c.reason;
  // Predictions on every test-period prediction day of the tickers with training rows, labelled or not.
  std::size_t unlabelled = 0;
  for (const double y : r.test_predictions.label) unlabelled += std::isnan(y) ? 1 : 0;
  EXPECT_GT(unlabelled, r.test_predictions.size() / 10) << "band labels leave small moves unlabelled";
  std::int64_t expected = 0;
  for (const auto& c : r.coverage)
    if (c.status == "trained") expected += c.test_samples;
  EXPECT_EQ(static_cast<std::int64_t>(r.test_predictions.size()), expected);
  fs::remove_all(out);
}

TEST(RegistryModels, ReloadedModelsRepeatTheTestPredictionsAndPredictTheUnlabelledLastDay) {
  const auto& u = small_store().universe;
  const std::int64_t D = u.day_count(), N = u.ticker_count();
  for (const auto scope : {quant::Scope::per_stock, quant::Scope::pooled}) {
    auto o = small_options();
    o.scope = scope;
    const auto out = test_support::temp_path("study_reload");
    const auto r = run_study(out, 2, o);
    ASSERT_GT(r.test_predictions.size(), 1000u);
    const auto reloaded =
        quant::predict_from_registry(out / "registry.h5", u, small_store().features, 0, D - 1);
    const double* p = reloaded.probability.data<double>();
    for (std::size_t j = 0; j < r.test_predictions.size(); ++j)
      ASSERT_NEAR(p[r.test_predictions.day[j] * N + r.test_predictions.ticker[j]],
                  r.test_predictions.probability[j], 1e-6)
          << "ticker " << r.test_predictions.ticker[j] << " day " << r.test_predictions.day[j];
    // The store's last day has no label, so training never predicted it; the reloaded models do.
    std::int64_t last_day_predictions = 0, trained = 0;
    for (std::int64_t i = 0; i < N; ++i) last_day_predictions += std::isfinite(p[(D - 1) * N + i]) ? 1 : 0;
    for (const auto& c : r.coverage) trained += c.status == "trained" ? 1 : 0;
    EXPECT_EQ(reloaded.last_day, D - 1);
    EXPECT_EQ(last_day_predictions, scope == quant::Scope::pooled ? N : trained);
    for (const auto d : r.test_predictions.day) EXPECT_LT(d, D - 1);
    // Another store's tickers are refused, naming the file.
    const auto other = test_support::synthetic_store("reload_other", {.tickers = 3, .days = 300, .seed = 5});
    try {
      quant::predict_from_registry(out / "registry.h5", other.universe, other.features, 0, 10);
      ADD_FAILURE() << "expected an error";
    } catch (const std::runtime_error& e) {
      EXPECT_NE(std::string(e.what()).find("registry.h5"), std::string::npos) << e.what();
    }
    fs::remove_all(out);
  }
}
