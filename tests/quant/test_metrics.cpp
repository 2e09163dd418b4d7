// Classification scores and information coefficients against values worked out by hand.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "qf/quant/metrics.h"

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
