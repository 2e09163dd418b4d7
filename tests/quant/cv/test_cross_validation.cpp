// Purged cross-validation: no test sample is trained on, no training label reaches past a later test
// block's first decision, no training window holds an earlier test block's labels, the embargo removes
// exactly the samples it should, nothing more is purged, and the combinatorial counts match the formulas.
#include <gtest/gtest.h>

#include <numeric>
#include <set>

#include "qf/quant/cv/cross_validation.h"

using namespace qf::quant::cv;

namespace {

// Daily samples: a window of 60 days ending at each decision day t, whose label uses prices up to t + 2
// (next_open execution, one day held: open[t+1] -> open[t+2]).
std::vector<SampleSpan> daily_windows(std::int64_t n) {
  std::vector<std::int64_t> days(static_cast<std::size_t>(n));
  std::iota(days.begin(), days.end(), std::int64_t{100});
  return window_spans(days, 60, 2);
}

void expect_clean(const std::vector<SampleSpan>& s, const Split& split) {
  const std::set<std::int64_t> test(split.test.begin(), split.test.end());
  for (auto i : split.train) {
    EXPECT_FALSE(test.count(i)) << "sample " << i << " is both trained and tested";
    for (auto j : split.test) {
      const auto& a = s[static_cast<std::size_t>(i)];
      const auto& b = s[static_cast<std::size_t>(j)];
      if (a.decision < b.decision)
        ASSERT_LE(a.last, b.decision) << "train " << i << "'s label reaches past test " << j << "'s decision";
      else
        ASSERT_GT(a.first, b.last) << "train " << i << "'s window holds test " << j << "'s label";
    }
  }
}

}  // namespace

TEST(PurgedKFold, EverySampleTestedOnceAndNoOverlap) {
  const auto s = daily_windows(1000);
  const auto splits = purged_kfold(s, 5, 10);
  ASSERT_EQ(splits.size(), 5u);
  std::vector<int> tested(1000, 0);
  for (const auto& split : splits) {
    for (auto i : split.test) ++tested[static_cast<std::size_t>(i)];
    expect_clean(s, split);
  }
  for (int t : tested) EXPECT_EQ(t, 1);
  // A middle fold: 1 sample purged before it (the day before its first decision: its label ends a day
  // after it) and 61 after it (their windows start on or before its last label's end, t + 2), then 10
  // embargoed. Windows that merely overlap test windows are kept: features are the past.
  EXPECT_EQ(splits[2].purged, 62);
  EXPECT_EQ(splits[2].embargoed, 10);
  EXPECT_EQ(splits[2].train.size() + splits[2].test.size() + 72, 1000u);
  // The first fold has nothing before it.
  EXPECT_EQ(splits[0].purged, 61);
}

TEST(WalkForward, TrainsOnlyOnThePastExpandingAndRolling) {
  const auto s = daily_windows(600);
  for (int rolling : {0, 2}) {
    const auto splits = walk_forward(s, 5, rolling);
    ASSERT_EQ(splits.size(), 5u);
    for (std::size_t k = 0; k < splits.size(); ++k) {
      expect_clean(s, splits[k]);
      EXPECT_LT(splits[k].train.back(), splits[k].test.front());
      EXPECT_EQ(splits[k].purged, 1);  // the last sample before the test block: its label ends inside it
      if (rolling == 0 && k > 0) {
        EXPECT_GT(splits[k].train.size(), splits[k - 1].train.size());
      }
      if (rolling == 2 && k > 1) {  // the two blocks before the test block
        EXPECT_EQ(splits[k].train.front(), static_cast<std::int64_t>(600 * (k - 1) / 6));
      }
    }
  }
}

TEST(WalkForward, InitialBlockThenEqualTestBlocks) {
  const auto s = daily_windows(1000);
  const auto splits = walk_forward(s, 4, 0, 0.4);
  ASSERT_EQ(splits.size(), 4u);
  for (std::size_t k = 0; k < splits.size(); ++k) {
    expect_clean(s, splits[k]);
    EXPECT_EQ(splits[k].test.front(), static_cast<std::int64_t>(400 + 600 * k / 4));
    EXPECT_EQ(splits[k].test.size(), 150u);
    EXPECT_EQ(splits[k].train.front(), 0);
    EXPECT_EQ(splits[k].train.back(), splits[k].test.front() - 2);  // purged: label span 2
  }
  EXPECT_THROW(walk_forward(s, 4, 0, 1.0), std::invalid_argument);
}

TEST(CombinatorialPurged, CountsAndCoverage) {
  const auto s = daily_windows(1200);
  const auto cpcv = combinatorial_purged(s, 6, 2, 5);
  EXPECT_EQ(cpcv.splits.size(), 15u);  // C(6, 2)
  EXPECT_EQ(cpcv.paths, 5);            // C(6,2) * 2 / 6
  std::vector<int> tested_in(6, 0);
  for (std::size_t k = 0; k < cpcv.splits.size(); ++k) {
    expect_clean(s, cpcv.splits[k]);
    for (int g : cpcv.test_blocks[k]) ++tested_in[static_cast<std::size_t>(g)];
  }
  for (int t : tested_in) EXPECT_EQ(t, 5);  // C(5, 1)
}

TEST(CrossValidation, BadArgumentsAreClearErrors) {
  const auto s = daily_windows(10);
  EXPECT_THROW(purged_kfold(s, 1, 0), std::invalid_argument);
  EXPECT_THROW(walk_forward(s, 10, 0), std::invalid_argument);
  EXPECT_THROW(combinatorial_purged(s, 4, 4, 0), std::invalid_argument);
  EXPECT_THROW(window_spans(std::vector<std::int64_t>{1}, 0, 1), std::invalid_argument);
}
