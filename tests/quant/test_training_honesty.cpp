// The honesty checks of stage 2 on the synthetic universe: on a pure random walk nothing can be
// predicted, so out-of-sample accuracy over all stocks must stay at 50 % +/- 1.5 points (more is
// look-ahead leakage); with the planted momentum component a model must find it (> 55 %).
#include <gtest/gtest.h>

#include "common/synthetic_store.h"
#include "qf/quant/training.h"
#include "qf/tensor/parallel.h"

using namespace qf;

namespace {

quant::StudyResult study_on(const data::SyntheticUniverseOptions& universe, const std::string& name) {
  const auto store = test_support::synthetic_store(name, universe);
  quant::StudyOptions o;
  o.folds = 3;
  o.fit.epochs = 4;
  quant::Trial trial;
  trial.model = {"lstm", 0, 16, 1, 0.0};
  trial.window = 30;
  trial.features = "returns";
  const auto out = test_support::temp_path(name);
  std::filesystem::remove_all(out);
  set_num_threads(2);
  quant::Study study(store.universe, store.features, o, {trial}, out);
  auto result = study.run();
  std::filesystem::remove_all(out);
  return result;
}

}  // namespace

TEST(Honesty, PureRandomWalkGivesFiftyPercentOutOfSample) {
  const auto r = study_on({.tickers = 100, .seed = 41, .pure_random_walk = true}, "honesty_random_walk");
  const auto& cv = r.trials[0].pooled.classification;
  // ~57,000 CV and ~48,000 test predictions: one standard error is ~0.2-0.3 points even with the market
  // factor correlating the stocks, so 1.5 points is far outside chance.
  ASSERT_GT(cv.count, 40000);
  ASSERT_GT(r.test.classification.count, 40000);
  EXPECT_NEAR(cv.accuracy, 0.5, 0.015);
  EXPECT_NEAR(r.test.classification.accuracy, 0.5, 0.015);
  EXPECT_NEAR(r.test.classification.auc, 0.5, 0.015);
}

TEST(Honesty, PlantedMomentumIsFoundOutOfSample) {
  const auto r = study_on({.tickers = 40, .seed = 42, .predictability = 0.3}, "honesty_planted");
  EXPECT_GT(r.trials[0].pooled.classification.accuracy, 0.55);
  EXPECT_GT(r.test.classification.accuracy, 0.55);
}
