// Regime detection (qf/quant/regime/regime.h): Baum-Welch against hmmlearn from the same start
// (tests/data/hmm_golden.txt from scripts/make_hmm_golden.py), recovery of the synthetic universe's known
// regime path, causality of the filtered probabilities, and the rule-based baseline.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>

#include "common/golden.h"
#include "qf/data/synthetic_universe.h"
#include "qf/quant/regime/regime.h"

using namespace qf;

namespace {

std::vector<double> vec(const Tensor& t) {
  return {t.data<double>(), t.data<double>() + t.numel()};
}

quant::RegimeFeatures features_of(const Tensor& x) {
  return {x.dim(0), x.dim(1), vec(x), {}};
}

const data::SyntheticUniverse& synthetic() {
  static const auto u = data::make_synthetic_universe({.tickers = 120, .days = 2520});
  return u;
}

// The true path in two states: calm and bull (volatility x0.75, x0.85) vs bear and crisis (x1.3, x2.6).
int turbulent(data::MarketRegime r) {
  return r == data::MarketRegime::bear || r == data::MarketRegime::crisis ? 1 : 0;
}

}  // namespace

TEST(Regime, BaumWelchMatchesHmmlearnFromTheSameStart) {
  const auto golden = test_support::read_golden(QF_TEST_DATA_DIR "/hmm_golden.txt");
  for (const std::string name : {"two_state", "three_state"}) {
    SCOPED_TRACE(name);
    const auto x = features_of(golden.at(name + ".x"));
    quant::GaussianHmm start;
    start.states = static_cast<int>(golden.at(name + ".start_initial").numel());
    start.features = static_cast<int>(x.features);
    start.initial = vec(golden.at(name + ".start_initial"));
    start.transition = vec(golden.at(name + ".start_transition"));
    start.means = vec(golden.at(name + ".start_means"));
    start.variances = vec(golden.at(name + ".start_variances"));
    quant::HmmFitOptions options;
    options.max_iterations = static_cast<int>(golden.at(name + ".iterations").data<double>()[0]);
    options.tolerance = -std::numeric_limits<double>::infinity();  // exactly that many iterations
    options.variance_floor = 0;
    const auto fit = quant::fit_gaussian_hmm_from(x, 0, x.days - 1, start, options);
    EXPECT_EQ(fit.iterations, options.max_iterations);
    auto expect_close = [](const std::vector<double>& ours, const Tensor& theirs, double tolerance,
                           const char* what) {
      ASSERT_EQ(ours.size(), static_cast<std::size_t>(theirs.numel())) << what;
      for (std::size_t i = 0; i < ours.size(); ++i)
        EXPECT_NEAR(ours[i], theirs.data<double>()[i], tolerance * std::max(1.0, std::abs(ours[i])))
            << what << "[" << i << "]";
    };
    expect_close(fit.model.initial, golden.at(name + ".initial"), 1e-6, "initial");
    expect_close(fit.model.transition, golden.at(name + ".transition"), 1e-8, "transition");
    expect_close(fit.model.means, golden.at(name + ".means"), 1e-8, "means");
    expect_close(fit.model.variances, golden.at(name + ".variances"), 1e-8, "variances");
    EXPECT_NEAR(fit.log_likelihood, golden.at(name + ".log_likelihood").data<double>()[0], 1e-6);
    expect_close(quant::filtered_probabilities(fit.model, x), golden.at(name + ".filtered"), 1e-7,
                 "filtered");
  }
}

TEST(Regime, TwoStateHmmRecoversTheSyntheticRegimes) {
  const auto& u = synthetic();
  const auto x = quant::regime_features(u.index.close);
  const auto fit = quant::fit_gaussian_hmm(x, 0, x.days - 1, {.states = 2});
  EXPECT_TRUE(fit.converged) << fit.iterations << " iterations";
  ASSERT_LT(fit.model.variances[0], fit.model.variances[1]) << "state 1 is the turbulent one";
  const auto filtered = quant::filtered_probabilities(fit.model, x);
  const auto path = quant::viterbi_path(fit.model, x);
  const auto smoothed = quant::smoothed_probabilities(fit.model, x);
  int days = 0, viterbi_hits = 0, filtered_hits = 0, smoothed_hits = 0;
  for (std::int64_t t = 0; t < x.days; ++t) {
    if (!std::isfinite(x.values[static_cast<std::size_t>(t)])) continue;  // day 0
    const int truth = turbulent(u.regimes[static_cast<std::size_t>(t)]);
    ++days;
    viterbi_hits += path[static_cast<std::size_t>(t)] == truth;
    filtered_hits += (filtered[static_cast<std::size_t>(t * 2 + 1)] > 0.5) == (truth == 1);
    smoothed_hits += (smoothed[static_cast<std::size_t>(t * 2 + 1)] > 0.5) == (truth == 1);
  }
  const double viterbi = static_cast<double>(viterbi_hits) / days,
               filtered_accuracy = static_cast<double>(filtered_hits) / days,
               smoothed_accuracy = static_cast<double>(smoothed_hits) / days;
  std::printf(
      "2-state HMM on the synthetic index returns, %d days: accuracy viterbi %.3f, filtered %.3f, smoothed %.3f\n",
      days, viterbi, filtered_accuracy, smoothed_accuracy);
  EXPECT_GT(viterbi, 0.80);
  EXPECT_GT(filtered_accuracy, 0.80);
  // With the 20-day volatility as a second feature (overlapping windows), for the record.
  const auto x2 = quant::regime_features(u.index.close, 20);
  const auto fit2 = quant::fit_gaussian_hmm(x2, 0, x2.days - 1, {.states = 2});
  const auto path2 = quant::viterbi_path(fit2.model, x2);
  int days2 = 0, hits2 = 0;
  for (std::int64_t t = 0; t < x2.days; ++t)
    if (std::isfinite(x2.values[static_cast<std::size_t>(t * 2 + 1)]))
      ++days2,
          hits2 += path2[static_cast<std::size_t>(t)] == turbulent(u.regimes[static_cast<std::size_t>(t)]);
  std::printf("2-state HMM on returns and log 20-day volatility: accuracy viterbi %.3f\n",
              static_cast<double>(hits2) / days2);
  // The rule baseline on the same path, for the record (no target).
  const auto rules = quant::rule_regimes(u.index.close);
  int rule_days = 0, rule_hits = 0;
  for (std::size_t t = 0; t < rules.volatility_state.size(); ++t)
    if (rules.volatility_state[t] >= 0)
      ++rule_days, rule_hits += rules.volatility_state[t] == turbulent(u.regimes[t]);
  std::printf("volatility rule (20-day vol > 1.25 x its 252-day median): accuracy %.3f over %d days\n",
              static_cast<double>(rule_hits) / rule_days, rule_days);
  EXPECT_GT(rule_days, 2000);
}

TEST(Regime, FilteredProbabilitiesUseNoFutureData) {
  const auto& u = synthetic();
  auto x = quant::regime_features(u.index.close);
  const auto fit = quant::fit_gaussian_hmm(x, 0, 1259, {.states = 2});  // fitted on the first half only
  const auto before = quant::filtered_probabilities(fit.model, x);
  const auto smoothed_before = quant::smoothed_probabilities(fit.model, x);
  // Rewrite the second half: days up to 1500 must keep their filtered probabilities bit for bit.
  for (std::size_t i = 1501; i < x.values.size(); ++i) x.values[i] = x.values[i] * 1.7 + 0.01;
  const auto after = quant::filtered_probabilities(fit.model, x);
  const auto smoothed_after = quant::smoothed_probabilities(fit.model, x);
  for (std::size_t i = 0; i < 1501 * 2; ++i) ASSERT_EQ(before[i], after[i]) << "day " << i / 2;
  double moved = 0;  // smoothing looks ahead: its probabilities before day 1501 do move
  for (std::size_t i = 0; i < 1501 * 2; ++i)
    moved = std::max(moved, std::abs(smoothed_before[i] - smoothed_after[i]));
  EXPECT_GT(moved, 1e-6);
  // Regime features are causal too: changing a close after t leaves day t's features alone.
  std::vector<double> close = u.index.close;
  const auto f0 = quant::regime_features(close, 20);
  for (std::size_t t = 800; t < close.size(); ++t) close[t] *= 1.1 + 0.01 * static_cast<double>(t % 7);
  const auto f1 = quant::regime_features(close, 20);
  for (std::size_t i = 0; i < 800 * 2; ++i)
    if (std::isfinite(f0.values[i])) {
      ASSERT_EQ(f0.values[i], f1.values[i]);
    }
}

TEST(Regime, ExposureTableAndBadInput) {
  const std::vector<double> p = {1, 0, 0.25, 0.75, 0.5, 0.5};
  const auto e = quant::regime_exposure(p, 2, std::vector<double>{1.0, 0.4});
  ASSERT_EQ(e.size(), 3u);
  EXPECT_DOUBLE_EQ(e[0], 1.0);
  EXPECT_DOUBLE_EQ(e[1], 0.25 + 0.75 * 0.4);
  EXPECT_DOUBLE_EQ(e[2], 0.7);
  EXPECT_THROW(quant::regime_exposure(p, 2, std::vector<double>{1.0}), std::invalid_argument);
  const auto x = quant::regime_features(synthetic().index.close);
  EXPECT_THROW(quant::fit_gaussian_hmm(x, 0, x.days - 1, {.states = 5}), std::invalid_argument);
  EXPECT_THROW(quant::fit_gaussian_hmm(x, 0, 15, {.states = 2}), std::invalid_argument);  // 15 days
}
