#include "qf/quant/cv/cross_validation.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "qf/core/require.h"

namespace qf::quant::cv {

namespace {

// [begin, end) sample ranges of `blocks` contiguous blocks of near-equal size.
std::vector<std::pair<std::int64_t, std::int64_t>> cut(std::int64_t n, int blocks) {
  std::vector<std::pair<std::int64_t, std::int64_t>> out;
  for (int b = 0; b < blocks; ++b) out.emplace_back(n * b / blocks, n * (b + 1) / blocks);
  return out;
}

// Builds a split testing the given sample ranges; training candidates are the samples of
// `train_ranges`, minus those purged or embargoed against every test range.
Split make_split(std::span<const SampleSpan> s,
                 const std::vector<std::pair<std::int64_t, std::int64_t>>& test_ranges,
                 const std::vector<std::pair<std::int64_t, std::int64_t>>& train_ranges,
                 std::int64_t embargo) {
  Split split;
  struct Block {
    std::int64_t first_decision, last_decision, label_end;
  };
  std::vector<Block> blocks;
  for (auto [b, e] : test_ranges) {
    if (b >= e) continue;
    Block block{s[static_cast<std::size_t>(b)].decision, s[static_cast<std::size_t>(b)].decision,
                s[static_cast<std::size_t>(b)].last};
    for (std::int64_t i = b; i < e; ++i) {
      const SampleSpan& x = s[static_cast<std::size_t>(i)];
      block.first_decision = std::min(block.first_decision, x.decision);
      block.last_decision = std::max(block.last_decision, x.decision);
      block.label_end = std::max(block.label_end, x.last);
      split.test.push_back(i);
    }
    blocks.push_back(block);
  }
  for (auto [b, e] : train_ranges)
    for (std::int64_t i = b; i < e; ++i) {
      const SampleSpan& x = s[static_cast<std::size_t>(i)];
      bool leaks = false, in_embargo = false;
      for (const Block& block : blocks) {
        if (x.decision < block.first_decision) leaks = leaks || x.last > block.first_decision;
        if (x.decision > block.last_decision) {
          leaks = leaks || x.first <= block.label_end;
          in_embargo = in_embargo || x.first <= block.label_end + embargo;
        }
      }
      if (leaks) {
        ++split.purged;
      } else if (in_embargo) {
        ++split.embargoed;
      } else {
        split.train.push_back(i);
      }
    }
  std::sort(split.train.begin(), split.train.end());
  return split;
}

void check_samples(std::span<const SampleSpan> s, const char* what) {
  for (std::size_t i = 0; i < s.size(); ++i)
    QF_REQUIRE_MSG(s[i].first <= s[i].decision && s[i].decision < s[i].last, what,
                   "sample " << i << " needs first <= decision < last (first " << s[i].first << ", decision "
                             << s[i].decision << ", last " << s[i].last << ")");
}

}  // namespace

std::vector<SampleSpan> window_spans(std::span<const std::int64_t> decision_days, std::int64_t window,
                                     std::int64_t label_end_offset) {
  QF_REQUIRE(window >= 1, "window_spans", "window", window, "must be >= 1");
  QF_REQUIRE(label_end_offset >= 1, "window_spans", "label_end_offset", label_end_offset, "must be >= 1");
  std::vector<SampleSpan> out;
  out.reserve(decision_days.size());
  for (auto t : decision_days) out.push_back({t - window + 1, t, t + label_end_offset});
  return out;
}

std::vector<Split> purged_kfold(std::span<const SampleSpan> samples, int folds, std::int64_t embargo) {
  check_samples(samples, "purged_kfold");
  const auto n = static_cast<std::int64_t>(samples.size());
  QF_REQUIRE(folds >= 2 && folds <= n, "purged_kfold", "folds", folds,
             "must be in [2, samples = " + std::to_string(n) + "]");
  const auto blocks = cut(n, folds);
  std::vector<Split> out;
  for (int k = 0; k < folds; ++k) {
    std::vector<std::pair<std::int64_t, std::int64_t>> train;
    for (int j = 0; j < folds; ++j)
      if (j != k) train.push_back(blocks[static_cast<std::size_t>(j)]);
    out.push_back(make_split(samples, {blocks[static_cast<std::size_t>(k)]}, train, embargo));
  }
  return out;
}

std::vector<Split> walk_forward(std::span<const SampleSpan> samples, int folds, int rolling_blocks,
                                double initial_share) {
  check_samples(samples, "walk_forward");
  const auto n = static_cast<std::int64_t>(samples.size());
  QF_REQUIRE(folds >= 1 && folds + 1 <= n, "walk_forward", "folds", folds,
             "must be in [1, samples - 1 = " + std::to_string(n - 1) + "]");
  QF_REQUIRE(rolling_blocks >= 0, "walk_forward", "rolling_blocks", rolling_blocks, "must be >= 0");
  QF_REQUIRE(initial_share >= 0 && initial_share < 1, "walk_forward", "initial_share", initial_share,
             "must be in [0, 1)");
  std::vector<std::pair<std::int64_t, std::int64_t>> blocks;
  if (initial_share > 0) {  // one initial training block, the rest cut into `folds` test blocks
    const auto first = static_cast<std::int64_t>(std::llround(static_cast<double>(n) * initial_share));
    QF_REQUIRE(first >= 1 && n - first >= folds, "walk_forward", "initial_share", initial_share,
               "leaves no room for " + std::to_string(folds) + " folds");
    blocks.emplace_back(0, first);
    for (auto [b, e] : cut(n - first, folds)) blocks.emplace_back(first + b, first + e);
  } else {
    blocks = cut(n, folds + 1);
  }
  std::vector<Split> out;
  for (int k = 1; k <= folds; ++k) {
    const int from = rolling_blocks > 0 ? std::max(0, k - rolling_blocks) : 0;
    std::vector<std::pair<std::int64_t, std::int64_t>> train;
    for (int j = from; j < k; ++j) train.push_back(blocks[static_cast<std::size_t>(j)]);
    out.push_back(make_split(samples, {blocks[static_cast<std::size_t>(k)]}, train, 0));
  }
  return out;
}

CombinatorialSplits combinatorial_purged(std::span<const SampleSpan> samples, int groups, int test_groups,
                                         std::int64_t embargo) {
  check_samples(samples, "combinatorial_purged");
  const auto n = static_cast<std::int64_t>(samples.size());
  QF_REQUIRE(groups >= 2 && groups <= n, "combinatorial_purged", "groups", groups,
             "must be in [2, samples = " + std::to_string(n) + "]");
  QF_REQUIRE(test_groups >= 1 && test_groups < groups, "combinatorial_purged", "test_groups", test_groups,
             "must be in [1, groups)");
  const auto blocks = cut(n, groups);
  CombinatorialSplits out;
  // Every subset of `test_groups` blocks, in lexicographic order.
  std::vector<int> chosen(static_cast<std::size_t>(test_groups));
  for (int i = 0; i < test_groups; ++i) chosen[static_cast<std::size_t>(i)] = i;
  for (;;) {
    std::vector<std::pair<std::int64_t, std::int64_t>> test, train;
    for (int g = 0; g < groups; ++g) {
      const bool is_test = std::find(chosen.begin(), chosen.end(), g) != chosen.end();
      (is_test ? test : train).push_back(blocks[static_cast<std::size_t>(g)]);
    }
    out.splits.push_back(make_split(samples, test, train, embargo));
    out.test_blocks.push_back(chosen);
    int i = test_groups - 1;
    while (i >= 0 && chosen[static_cast<std::size_t>(i)] == groups - test_groups + i) --i;
    if (i < 0) break;
    ++chosen[static_cast<std::size_t>(i)];
    for (int j = i + 1; j < test_groups; ++j)
      chosen[static_cast<std::size_t>(j)] = chosen[static_cast<std::size_t>(j - 1)] + 1;
  }
  out.paths = static_cast<int>(out.splits.size()) * test_groups / groups;
  return out;
}

}  // namespace qf::quant::cv
