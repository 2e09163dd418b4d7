// Cross-validation for time series with overlapping samples (López de Prado, "Advances in Financial
// Machine Learning", ch. 7 and 12): walk-forward (expanding or rolling), purged k-fold with embargo,
// and combinatorial purged cross-validation.
//
// Each sample knows the span of days its information covers: its feature window starts at `first`
// and its label ends at `last` (a window of length W ending at day t with a label from t+1 to t+h has
// first = t-W+1, last = t+h). Purging drops every training sample whose span overlaps the span of a
// test block, so no training label was formed from days the test features or labels use; the embargo
// also drops training samples that start within `embargo` days after a test block ends (serial
// correlation leaks past the block's edge). Samples must be sorted by their decision day.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace qf::quant::cv {

struct SampleSpan {
  std::int64_t first = 0, last = 0;  // inclusive day indices: features start .. label end
};

// Spans of windows of `window` days ending at each decision day, labelled `horizon` days ahead.
std::vector<SampleSpan> window_spans(std::span<const std::int64_t> decision_days, std::int64_t window,
                                     std::int64_t horizon);

struct Split {
  std::vector<std::int64_t> train, test;   // sample indices, ascending
  std::int64_t purged = 0, embargoed = 0;  // training samples removed by each rule
};

// k contiguous test folds; each sample is tested exactly once.
std::vector<Split> purged_kfold(std::span<const SampleSpan> samples, int folds, std::int64_t embargo);

// The samples cut into folds + 1 contiguous blocks; split k tests block k + 1 and trains on the blocks
// before it: all of them (expanding) or the last `rolling_blocks` (rolling, > 0). Training never sees
// the future: nothing after the test block is used.
// With initial_share > 0, the first initial_share of the samples is one initial training block and the
// rest is cut into `folds` test blocks (so the first fold does not train on a sliver of history).
std::vector<Split> walk_forward(std::span<const SampleSpan> samples, int folds, int rolling_blocks = 0,
                                double initial_share = 0.0);

// All C(groups, test_groups) ways of testing `test_groups` of `groups` contiguous blocks, purged and
// embargoed around every test block. Each block is tested in C(groups-1, test_groups-1) splits, which
// combine into that many full backtest paths.
struct CombinatorialSplits {
  std::vector<Split> splits;
  std::vector<std::vector<int>> test_blocks;  // per split, the blocks it tests
  int paths = 0;
};
CombinatorialSplits combinatorial_purged(std::span<const SampleSpan> samples, int groups, int test_groups,
                                         std::int64_t embargo);

}  // namespace qf::quant::cv
