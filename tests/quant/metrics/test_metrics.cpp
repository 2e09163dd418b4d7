// Classification scores and information coefficients against values worked out by hand.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <vector>

#include "qf/quant/metrics/metrics.h"

using namespace qf::quant;

TEST(ClassificationScores, HandWorkedExample) {
  const std::vector<double> p{0.9, 0.8, 0.3, 0.6, 0.2, 0.6, NAN};
  const std::vector<double> y{1, 0, 1, 0, 0, 1, 1};  // the NaN prediction is skipped
  const auto s = classification_scores(p, y);
  EXPECT_EQ(s.count, 6);
  // Predicted up: 0.9, 0.8, 0.6, 0.6 -> correct: 0.9 (1), 0.2 (0), 0.6 (1): 3 of 6.
  EXPECT_DOUBLE_EQ(s.accuracy, 0.5);
  // Recall of ups: 2 of 3; of downs: 1 of 3.
  EXPECT_DOUBLE_EQ(s.balanced_accuracy, 0.5);
  // AUC: pairs (up, down): (0.9: beats 0.8, 0.6, 0.2 -> 3), (0.3: beats 0.2 -> 1), (0.6: beats 0.2, ties 0.6
  // -> 1.5)
  EXPECT_DOUBLE_EQ(s.auc, 5.5 / 9.0);
  const double ll =
      -(std::log(0.9) + std::log(0.2) + std::log(0.3) + std::log(0.4) + std::log(0.8) + std::log(0.6)) / 6;
  EXPECT_NEAR(s.log_loss, ll, 1e-15);
  EXPECT_NEAR(s.brier, (0.01 + 0.64 + 0.49 + 0.36 + 0.04 + 0.16) / 6, 1e-15);
}

TEST(ClassificationScores, PerfectAndOneClass) {
  const auto perfect =
      classification_scores(std::vector<double>{0.1, 0.9, 0.7}, std::vector<double>{0, 1, 1});
  EXPECT_DOUBLE_EQ(perfect.auc, 1.0);
  EXPECT_DOUBLE_EQ(perfect.accuracy, 1.0);
  const auto one_class = classification_scores(std::vector<double>{0.1, 0.9}, std::vector<double>{1, 1});
  EXPECT_TRUE(std::isnan(one_class.auc));
  EXPECT_THROW(classification_scores(std::vector<double>{0.1}, std::vector<double>{1, 0}),
               std::invalid_argument);
}

// Stage 5's old output: p = 0.5 where it abstains. Scored as calls, that is "down" everywhere, and a
// universe with 60 % down days gave 0.6. An abstention is no call: no accuracy, coverage 0.
TEST(ClassificationScores, AbstainingEverywhereIsNoAccuracy) {
  const std::vector<double> p(10, 0.5), y{0, 0, 0, 0, 0, 0, 1, 1, 1, 1};
  EXPECT_DOUBLE_EQ(classification_scores(p, y).accuracy, 0.6);  // the old figure, as calls
  const std::vector<std::uint8_t> everywhere(10, 1);
  const auto s = classification_scores(p, y, everywhere);
  EXPECT_TRUE(std::isnan(s.accuracy));
  EXPECT_TRUE(std::isnan(s.balanced_accuracy));
  EXPECT_EQ(s.calls, 0);
  EXPECT_EQ(s.coverage, 0.0);
  EXPECT_EQ(s.count, 10);  // the probabilities are still scored as probabilities
  EXPECT_DOUBLE_EQ(s.brier, 0.25);
  EXPECT_EQ(accuracy_text(s.accuracy), "n/a");
  EXPECT_EQ(accuracy_json(s.accuracy), "n/a");
  EXPECT_EQ(accuracy_json(0.5731), 0.5731);
  EXPECT_EQ(accuracy_text(0.5731), "57.31 %");
  const auto none = classification_scores(std::vector<double>{}, std::vector<double>{});
  EXPECT_TRUE(std::isnan(none.accuracy));
  EXPECT_EQ(none.coverage, 0.0);
}

TEST(ClassificationScores, NaNLabelsAreNeverScored) {
  // A beyond_threshold label is NaN for a small move: neither a hit nor a miss, nor in the coverage.
  const std::vector<double> p{0.9, 0.2, 0.8, 0.3}, y{1, NAN, NAN, 0};
  const std::vector<std::uint8_t> abstain{0, 0, 0, 1};
  const auto s = classification_scores(p, y, abstain);
  EXPECT_EQ(s.count, 2);
  EXPECT_EQ(s.calls, 1);
  EXPECT_DOUBLE_EQ(s.coverage, 0.5);
  EXPECT_DOUBLE_EQ(s.accuracy, 1.0);
  EXPECT_DOUBLE_EQ(s.brier, (0.01 + 0.09) / 2);
  EXPECT_THROW(classification_scores(p, y, std::vector<std::uint8_t>{0, 1}), std::invalid_argument);
}

TEST(ClassificationScores, ConfusionCountsOfTheCalls) {
  // cell:     0    1    2    3    4    5    6    7
  // p:       0.9  0.7  0.6  0.4  0.2  0.1  0.8  0.3
  // label:    1    0    1    1    0    0    0    1
  // abstain:  0    0    0    0    0    0    1    1
  // calls: 0 tp, 1 fp, 2 tp, 3 fn, 4 tn, 5 tn; cells 6 (would be fp) and 7 (would be fn) are no calls.
  const std::vector<double> p{0.9, 0.7, 0.6, 0.4, 0.2, 0.1, 0.8, 0.3}, y{1, 0, 1, 1, 0, 0, 0, 1};
  const std::vector<std::uint8_t> abstain{0, 0, 0, 0, 0, 0, 1, 1};
  const auto s = classification_scores(p, y, abstain);
  EXPECT_EQ(s.true_positives, 2);
  EXPECT_EQ(s.false_positives, 1);
  EXPECT_EQ(s.true_negatives, 2);
  EXPECT_EQ(s.false_negatives, 1);
  EXPECT_EQ(s.calls, 6);
  EXPECT_EQ(s.count, 8);
  EXPECT_DOUBLE_EQ(s.coverage, 0.75);
  EXPECT_DOUBLE_EQ(s.accuracy, 4.0 / 6.0);
  EXPECT_DOUBLE_EQ(s.balanced_accuracy, 0.5 * (2.0 / 3.0 + 2.0 / 3.0));
  // AUC over all 8 cells: ups 0.9, 0.6, 0.4, 0.3 against downs 0.7, 0.2, 0.1, 0.8: 4 + 2 + 2 + 2 of 16.
  EXPECT_DOUBLE_EQ(s.auc, 10.0 / 16.0);
}

TEST(InformationCoefficient, PearsonAndSpearman) {
  const std::vector<double> pred{1, 2, 3, 4, 5}, ret{0.1, 0.4, 0.9, 1.6, 2.5};  // monotone, not linear
  EXPECT_NEAR(rank_information_coefficient(pred, ret), 1.0, 1e-15);
  EXPECT_LT(information_coefficient(pred, ret), 1.0);
  EXPECT_GT(information_coefficient(pred, ret), 0.95);
  const std::vector<double> reversed{5, 4, 3, 2, 1};
  EXPECT_NEAR(information_coefficient(reversed, pred), -1.0, 1e-15);
  // Ties get average ranks: ranks of {1, 1, 2} are {1.5, 1.5, 3}.
  EXPECT_NEAR(rank_information_coefficient(std::vector<double>{1, 1, 2}, std::vector<double>{1, 2, 3}),
              0.8660254037844386, 1e-12);
}
