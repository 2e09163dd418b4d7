// run_pipeline's closing sentence: the planted edge recovered or not (with and without an oracle), the
// random-walk control clean or suspicious, real data in neutral words.
#include <gtest/gtest.h>

#include "qf/quant/monitoring/run_verdict.h"

using namespace qf;

namespace {
bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}
}  // namespace

TEST(RunVerdict, PlantedEdgeRecoveredNeedsSixTenthsOfTheOracleEdgeAndAPositiveSharpe) {
  quant::RunFigures f{quant::UniverseKind::planted_edge, 0.535, 0.55, 0.556, 1.2, 2, 4};
  const std::string yes = quant::explain_run(f);
  EXPECT_TRUE(has(yes, "; it was recovered")) << yes;
  EXPECT_TRUE(has(yes, "oracle that knows it scores 55.60 %")) << yes;
  EXPECT_TRUE(has(yes, "at least 53.36 % needed")) << yes;  // 50 + 0.6 x 5.6
  f.test_accuracy = 0.533;                                  // below 53.36 %
  EXPECT_TRUE(has(quant::explain_run(f), "NOT recovered"));
  f.test_accuracy = 0.54, f.sharpe = -0.1;  // accurate enough, but losing after costs
  EXPECT_TRUE(has(quant::explain_run(f), "NOT recovered"));
  f.oracle_accuracy = NAN, f.sharpe = 0.5, f.test_accuracy = 0.51;  // no oracle: its clause is left out
  const std::string no_oracle = quant::explain_run(f);
  EXPECT_FALSE(has(no_oracle, "oracle")) << no_oracle;
  EXPECT_TRUE(has(no_oracle, "; it was recovered")) << no_oracle;
}

TEST(RunVerdict, TheControlFindsNothingOrPointsToALeak) {
  quant::RunFigures f{quant::UniverseKind::random_walk, 0.503, 0.501, NAN, 0.4, 0, 4};
  EXPECT_TRUE(has(quant::explain_run(f), "found nothing, as it should"));
  f.test_accuracy = 0.52;
  EXPECT_TRUE(has(quant::explain_run(f), "look for a leak"));
  f.test_accuracy = 0.5, f.sharpe = -1.5;
  EXPECT_TRUE(has(quant::explain_run(f), "look for a leak"));
  // A book that never traded (no Sharpe) found nothing; an AUC out of the band still points to a leak.
  f.sharpe = NAN;
  EXPECT_TRUE(has(quant::explain_run(f), "found nothing, as it should"));
  EXPECT_TRUE(has(quant::explain_run(f), "took no position"));
  f.test_auc = 0.53;
  EXPECT_TRUE(has(quant::explain_run(f), "look for a leak"));
}

TEST(RunVerdict, RealDataInNeutralWords) {
  const std::string s = quant::explain_run({quant::UniverseKind::real, 0.51, 0.52, NAN, 0.3, 1, 4});
  EXPECT_EQ(
      s,
      "Out of sample on this data: test accuracy 51.00 %, AUC 0.52, Sharpe after costs 0.30; 1 of 4 plan "
      "targets met.");
}
