// Stage 5's combination (qf/quant/forecast/prediction.h) end to end on a synthetic universe: a member without
// skill, then synthetic headlines whose tone correlates with the next day's return. The headline
// sentiment must join the ensemble and lift the out-of-sample AUC; without headlines nothing changes; the
// regime exposure and the outputs follow the honesty rules.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "common/synthetic_store.h"
#include "qf/quant/forecast/prediction.h"
#include "qf/quant/forecast/sentiment.h"

using namespace qf;

namespace {

// With the generator's headlines (30 % of the cells), whose tone follows the next day's return plus noise.
const test_support::SyntheticStore& store() {
  static const auto s =
      test_support::synthetic_store("qf_test_prediction", {.tickers = 60, .days = 900, .headline_rate = 0.3});
  return s;
}
const data::Universe& universe() {
  return store().universe;
}

// A member without skill: probabilities drawn around 0.5, CV days before `split`, test days after.
quant::MovementMember noise_member(const data::Universe& u, std::int64_t split, unsigned seed) {
  const std::int64_t D = u.day_count(), N = u.ticker_count();
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> z(0, 0.03);
  quant::MovementMember m;
  m.name = "noise/registry.h5";
  m.cv = {Tensor::full({D, N}, std::nan(""), DType::f64), 100, split - 1, "cv", {}};
  m.test = {Tensor::full({D, N}, std::nan(""), DType::f64), split, D - 2, "test", {}};
  for (std::int64_t d = 100; d < D - 1; ++d)
    for (std::int64_t i = 0; i < N; ++i)
      if (std::isfinite(u.close.data<double>()[d * N + i]))
        (d < split ? m.cv : m.test).probability.data<double>()[d * N + i] = 0.5 + z(rng);
  return m;
}

}  // namespace

TEST(Prediction, HeadlineSentimentJoinsTheEnsembleAndLiftsTheAuc) {
  const auto& u = universe();
  const std::int64_t split = 600;
  const std::vector<quant::MovementMember> members = {noise_member(u, split, 1)};
  quant::MovementSpec spec;
  spec.ensemble = "stacking";
  spec.calibration = "platt";
  const auto without = quant::predict_movements(u, members, spec);
  const auto headlines = quant::read_headlines(store().headlines);
  spec.sentiment = quant::daily_sentiment(u, headlines, quant::finance_lexicon());
  const auto with = quant::predict_movements(u, members, spec);
  std::printf("test AUC without headlines %.4f, with %.4f (%lld headline cells; logistic slope %.3f)\n",
              without.calibrated.scores.auc, with.calibrated.scores.auc,
              static_cast<long long>(with.sentiment_cells), with.sentiment_slope);
  EXPECT_EQ(with.member_names.size(), 2u);
  EXPECT_GT(with.sentiment_slope, 0) << "positive tone, up move";
  EXPECT_LT(std::abs(without.calibrated.scores.auc - 0.5), 0.03) << "the noise member has no skill";
  EXPECT_GT(with.calibrated.scores.auc, without.calibrated.scores.auc + 0.05);
  // No headlines at all: the signal is simply absent.
  spec.sentiment = Tensor::full({u.day_count(), u.ticker_count()}, std::nan(""), DType::f64);
  const auto absent = quant::predict_movements(u, members, spec);
  EXPECT_EQ(absent.member_names.size(), 1u);
  EXPECT_EQ(absent.calibrated.scores.auc, without.calibrated.scores.auc);
}

// The control: on a pure random walk whose headlines carry no link to any return (strength 0), the
// sentiment member must not lift stage 5's AUC off 0.5 (a leak through the headlines or the sentiment
// fit's purge would).
TEST(Prediction, UnlinkedHeadlinesOnARandomWalkGiveNoSkill) {
  const auto control = test_support::synthetic_store(
      "qf_test_prediction_control",
      {.tickers = 80, .days = 900, .pure_random_walk = true, .headline_rate = 0.5, .headline_strength = 0.0});
  const auto& u = control.universe;
  const std::int64_t split = 600;
  quant::MovementSpec spec;
  spec.calibration = "platt";
  spec.sentiment =
      quant::daily_sentiment(u, quant::read_headlines(control.headlines), quant::finance_lexicon());
  const auto r = quant::predict_movements(u, {noise_member(u, split, 3)}, spec);
  ASSERT_EQ(r.member_names.size(), 2u) << "the sentiment member joined";
  ASSERT_GT(r.calibrated.scores.count, 10000);
  EXPECT_NEAR(r.calibrated.scores.auc, 0.5, 0.02);
}

TEST(Prediction, OutputsForDayTUseNothingAfterT) {
  const auto& u = universe();
  const std::int64_t split = 600, probe = 700, N = u.ticker_count();
  const std::vector<quant::MovementMember> members = {noise_member(u, split, 2), noise_member(u, split, 3)};
  quant::MovementSpec spec;
  const auto before = quant::predict_movements(u, members, spec);
  // Rewrite every close after the probe day: the probe day's probability, confidence and regime stay.
  data::Universe later = u;
  for (std::int64_t k = (probe + 1) * N; k < later.close.numel(); ++k) later.close.data<double>()[k] *= 1.3;
  for (std::size_t d = static_cast<std::size_t>(probe) + 1; d < later.benchmark_close.size(); ++d)
    later.benchmark_close[d] *= 0.7 + 0.001 * static_cast<double>(d % 13);
  const auto after = quant::predict_movements(later, members, spec);
  for (std::int64_t i = 0; i < N; ++i) {
    const std::int64_t cell = probe * N + i;
    if (!std::isfinite(before.probability.data<double>()[cell])) continue;
    ASSERT_EQ(before.probability.data<double>()[cell], after.probability.data<double>()[cell]);
    ASSERT_EQ(before.confidence.data<double>()[cell], after.confidence.data<double>()[cell]);
  }
  for (std::size_t k = 0; k < static_cast<std::size_t>((probe + 1) * before.hmm.states); ++k)
    ASSERT_EQ(before.regime_probability[k], after.regime_probability[k]);
  EXPECT_THROW(quant::predict_movements(u, {}, spec), std::invalid_argument);
  spec.exposure_by_regime = {1.0};
  EXPECT_THROW(quant::predict_movements(u, members, spec), std::invalid_argument);
}

// predictions.h5 keeps the real probability where stage 5 abstains, with the abstain flag beside it; read
// back as a --registry, the flag is there, and the acting figures are the calls' scores.
TEST(Prediction, AbstentionsAreWrittenAsAFlagNotAsOneHalf) {
  const auto& u = universe();
  const std::int64_t split = 600, N = u.ticker_count();
  quant::MovementSpec spec;
  const auto r = quant::predict_movements(u, {noise_member(u, split, 4)}, spec);
  const auto folder = test_support::temp_path("prediction_abstain");
  quant::write_movement_output(folder, r, u, r.last_day);
  const auto p = quant::read_registry_predictions(folder / "predictions.h5", u);
  ASSERT_FALSE(p.abstain.empty());
  std::int64_t abstained = 0, called = 0;
  for (std::int64_t d = r.first_day; d <= r.last_day; ++d)
    for (std::int64_t i = 0; i < N; ++i) {
      const std::int64_t cell = d * N + i;
      if (!std::isfinite(r.probability.data<double>()[cell])) continue;
      ASSERT_EQ(p.probability.data<double>()[cell], r.probability.data<double>()[cell]);
      ASSERT_EQ(p.abstained(cell), r.abstain[static_cast<std::size_t>(cell)] != 0);
      (p.abstained(cell) ? abstained : called) += 1;
    }
  EXPECT_GT(abstained, 0) << "a member without skill abstains somewhere";
  EXPECT_GT(called, 0);
  EXPECT_EQ(r.acting_count, r.acting.calls);
  EXPECT_LE(r.acting.calls, called);  // cells without a label are no calls either
  EXPECT_NEAR(r.coverage,
              static_cast<double>(r.acting.calls) / static_cast<double>(r.calibrated.scores.count), 1e-12);
  std::filesystem::remove_all(folder);
}

// Isotonic calibration maps whole ranges of scores to one probability (the default universe tied 20 names
// at 0.5455): the raw score, farthest from 0.5 first, orders the tie; the ticker index orders the rest.
TEST(Prediction, MostConfidentFirstBreaksCalibrationTiesByTheRawScore) {
  quant::MovementResult r;
  r.probability = Tensor::from<double>({0.5455, 0.5455, NAN, 0.4545, 0.6, 0.5455}, {1, 6});
  r.confidence = Tensor::from<double>({0.091, 0.091, NAN, 0.091, 0.2, 0.091}, {1, 6});
  r.ensemble_probability = Tensor::from<double>({0.51, 0.53, 0.9, 0.45, 0.52, 0.51}, {1, 6});
  EXPECT_EQ(quant::most_confident_first(r, 6, 0), (std::vector<std::int64_t>{4, 3, 1, 0, 5}));
}
