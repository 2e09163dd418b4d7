// Module cv (qf_quant_cv): purged and embargoed splits of overlapping time-series samples. Uses nothing
// but the standard library (the study's calendar plan, built on these splits, is in study/training.h).
//
// Cross-validation for time series with overlapping samples (López de Prado, "Advances in Financial
// Machine Learning", ch. 7 and 12): walk-forward (expanding or rolling), purged k-fold with embargo,
// and combinatorial purged cross-validation.
//
// Each sample knows the span of days its information covers: its feature window starts at `first`, it
// is decided at the close of `decision`, and its label ends at `last` (a window of length W ending at
// day t with a label that uses prices up to day t+L has first = t-W+1, decision = t, last = t+L).
// Purging removes what leaks, and no more:
//   * a training sample before a test block is purged when its label reaches past the block's first
//     decision day (last > first test decision): it would learn from returns the test labels earn;
//   * a training sample after a test block is purged when its window starts on or before the block's
//     last label day (first <= last test label end): its inputs hold test labels;
// and the embargo also drops training samples that start within `embargo` days after that (serial
// correlation leaks past the block's edge). A window that merely overlaps a test window is not a leak:
// features are the past. Samples must be sorted by their decision day.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace qf::quant::cv {

struct SampleSpan {
  std::int64_t first = 0, decision = 0,
               last = 0;  // inclusive day indices: features start, decision, label end
};

// Spans of windows of `window` days ending at each decision day, whose labels use prices up to
// `label_end_offset` days after it (data::TradeTiming::label_end_offset).
std::vector<SampleSpan> window_spans(std::span<const std::int64_t> decision_days, std::int64_t window,
                                     std::int64_t label_end_offset);

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
