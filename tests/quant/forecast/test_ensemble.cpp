// Ensembles (qf/quant/forecast/ensemble.h): disagreement is higher where the data are noise than where a signal
// is planted; CV weighting and out-of-fold stacking discount a useless member; stacking's out-of-fold
// predictions never see their own fold's labels.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "qf/quant/forecast/ensemble.h"
#include "qf/quant/metrics/metrics.h"

using namespace qf;

namespace {

// y for x in [-1, 1]: left half a planted signal (up when x < -0.5, 90 % of the time), right half
// coin flips.
double draw_label(double x, std::mt19937_64& rng) {
  std::uniform_real_distribution<double> u(0, 1);
  if (x < 0) return (x < -0.5) == (u(rng) < 0.9) ? 1.0 : 0.0;
  return u(rng) < 0.5 ? 1.0 : 0.0;
}

}  // namespace

TEST(Ensemble, DisagreementIsHigherOnNoiseThanOnPlantedSignal) {
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> ux(-1, 1);
  const int n = 2000, members = 10, k = 30, queries = 400;
  std::vector<double> x(n), y(n);
  for (int i = 0; i < n; ++i) x[i] = ux(rng), y[i] = draw_label(x[i], rng);
  // Members: k-nearest-neighbour classifiers, each fitted on its own bootstrap sample (bagging).
  quant::EnsembleMembers m;
  m.members = members;
  m.samples = queries;
  m.probability.resize(static_cast<std::size_t>(members * queries));
  std::vector<double> qx(queries);
  for (int q = 0; q < queries; ++q) qx[q] = -1 + 2 * (q + 0.5) / queries;
  std::uniform_int_distribution<int> pick(0, n - 1);
  for (int member = 0; member < members; ++member) {
    std::vector<std::pair<double, double>> sample(n);
    for (auto& s : sample) {
      const int i = pick(rng);
      s = {x[i], y[i]};
    }
    for (int q = 0; q < queries; ++q) {
      std::nth_element(sample.begin(), sample.begin() + k, sample.end(), [&](const auto& a, const auto& b) {
        return std::abs(a.first - qx[q]) < std::abs(b.first - qx[q]);
      });
      double ups = 0;
      for (int j = 0; j < k; ++j) ups += sample[j].second;
      m.probability[static_cast<std::size_t>(member * queries + q)] = ups / k;
    }
  }
  const auto e = quant::predict_ensemble(quant::fit_ensemble("mean", m, {}), m);
  double signal = 0, noise = 0;
  int signal_count = 0, noise_count = 0;
  for (int q = 0; q < queries; ++q) {
    if (qx[q] < 0 && std::abs(qx[q] + 0.5) > 0.1)
      signal += e.disagreement[q], ++signal_count;  // off the edge
    if (qx[q] > 0) noise += e.disagreement[q], ++noise_count;
  }
  signal /= signal_count, noise /= noise_count;
  std::printf("mean disagreement (sd of 10 bagged members): planted signal %.4f, noise %.4f\n", signal,
              noise);
  EXPECT_GT(noise, 1.5 * signal);
}

TEST(Ensemble, WeightingAndStackingDiscountAUselessMember) {
  std::mt19937_64 rng(3);
  std::uniform_real_distribution<double> u(0, 1);
  const int n = 6000;
  quant::EnsembleMembers m;
  m.members = 3;
  m.samples = n;
  m.probability.resize(3 * n);
  std::vector<double> labels(n);
  std::vector<int> fold(n);
  for (int s = 0; s < n; ++s) {
    const double truth = 0.2 + 0.6 * u(rng);
    labels[s] = u(rng) < truth ? 1 : 0;
    m.probability[s] = truth;                                                     // informed
    m.probability[n + s] = std::clamp(truth + 0.2 * (u(rng) - 0.5), 0.01, 0.99);  // informed, noisier
    m.probability[2 * n + s] = 0.2 + 0.6 * u(rng);                                // useless
    fold[s] = s * 5 / n;                                                          // 5 contiguous folds
  }
  m.cv_score = {0.64, 0.62, 0.50};
  const auto weighted = quant::fit_ensemble("cv_weighted", m, labels);
  EXPECT_DOUBLE_EQ(weighted.weights[2], 0.0);
  EXPECT_GT(weighted.weights[0], weighted.weights[1]);
  const double mean_brier =
      quant::classification_scores(
          quant::predict_ensemble(quant::fit_ensemble("mean", m, labels), m).probability, labels)
          .brier;
  const double weighted_brier =
      quant::classification_scores(quant::predict_ensemble(weighted, m).probability, labels).brier;
  const auto stacked = quant::stack_out_of_fold(m, labels, fold);
  const double stacked_brier = quant::classification_scores(stacked.probability, labels).brier;
  std::printf("Brier: mean %.5f, cv-weighted %.5f, stacked out of fold %.5f\n", mean_brier, weighted_brier,
              stacked_brier);
  EXPECT_LT(weighted_brier, mean_brier);
  EXPECT_LT(stacked_brier, mean_brier);
  const auto meta = quant::fit_ensemble("stacking", m, labels).meta;
  EXPECT_LT(std::abs(meta[2]), 0.1) << "the useless member's coefficient";
  EXPECT_GT(meta[0], 0.5);
}

TEST(Ensemble, OutOfFoldStackingNeverSeesItsOwnFoldsLabels) {
  std::mt19937_64 rng(5);
  std::uniform_real_distribution<double> u(0, 1);
  const int n = 900;
  quant::EnsembleMembers m;
  m.members = 2;
  m.samples = n;
  m.probability.resize(2 * n);
  std::vector<double> labels(n);
  std::vector<int> fold(n);
  for (int s = 0; s < n; ++s) {
    m.probability[s] = 0.3 + 0.4 * u(rng);
    m.probability[n + s] = 0.3 + 0.4 * u(rng);
    labels[s] = u(rng) < m.probability[s] ? 1 : 0;
    fold[s] = s % 3;
  }
  const auto before = quant::stack_out_of_fold(m, labels, fold);
  for (int s = 0; s < n; ++s)
    if (fold[s] == 1) labels[s] = 1 - labels[s];  // rewrite fold 1's outcomes
  const auto after = quant::stack_out_of_fold(m, labels, fold);
  int changed_elsewhere = 0;
  for (int s = 0; s < n; ++s) {
    if (fold[s] == 1) {
      ASSERT_EQ(before.probability[s], after.probability[s]) << "sample " << s;
    } else {
      changed_elsewhere += before.probability[s] != after.probability[s];
    }
  }
  EXPECT_GT(changed_elsewhere, n / 2) << "the other folds' meta-models did see fold 1";
  EXPECT_THROW(quant::fit_ensemble("median", m, labels), std::invalid_argument);
}
