// Module metrics (qf_quant_metrics): how good a result is, one definition for every stage: scores of
// probabilistic predictions (this header), performance of a return series (portfolio_metrics.h) and
// probability calibration (calibration.h: logit, Platt, isotonic, reliability). Uses nlohmann/json (an
// accuracy as a JSON value).
//
// Scores of probabilistic up/down predictions against realised labels, as cross-validation folds,
// backtests, stage 5 and the monitoring report them (one function, so that their figures compare).
// NaN labels or predictions are skipped (pairwise); with nothing left, NaN.
#pragma once

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <span>
#include <string>

namespace qf::quant {

// A scored cell has a finite probability and a finite label (a NaN label is never scored). A call is a
// scored cell the model did not abstain on: predicted up when p > 0.5, down otherwise. An abstention is
// not a call, so accuracy and the confusion counts are over the calls only, while the probabilistic
// scores (AUC, log loss, Brier) are over every scored cell: the probability is there either way.
struct ClassificationScores {
  double accuracy = 0;           // over the calls: share of (p > 0.5) == (label > 0.5); NaN without calls
  double balanced_accuracy = 0;  // over the calls: mean of the recalls of both classes; NaN with one class
  double auc = 0;                // ROC AUC (Mann-Whitney, ties count one half); NaN with one class only
  double log_loss = 0;           // mean of -[y log p + (1-y) log(1-p)], p clipped to [1e-15, 1 - 1e-15]
  double brier = 0;              // mean of (p - y)^2
  long count = 0;                // scored cells (the AUC, log loss and Brier samples)
  long calls = 0;                // scored cells not abstained on (the accuracy samples)
  double coverage = 0;           // calls / count; 0 when count is 0 (no call is no coverage)
  long true_positives = 0, false_positives = 0, true_negatives = 0, false_negatives = 0;  // of the calls
};

// `abstain` (optional, one flag per cell, non-zero = abstained) marks the cells that are no call; empty:
// every scored cell is a call. Throws std::invalid_argument when the lengths differ.
ClassificationScores classification_scores(std::span<const double> probabilities,
                                           std::span<const double> labels,
                                           std::span<const std::uint8_t> abstain = {});

// An accuracy without calls (NaN) is "n/a", never a number: printed as n/a, and in JSON as the string
// "n/a" (accuracy_json; a finite accuracy is a JSON number), so that no reader mistakes it for 0.
std::string accuracy_text(double accuracy);  // "57.31 %" or "n/a"
// A number with `digits` decimals, "n/a" when not finite (every printed figure: reports, apps).
std::string format_fixed(double value, int digits);
nlohmann::ordered_json accuracy_json(double accuracy);  // 0.5731 or "n/a"

// Information coefficient: Pearson correlation of predictions and realised returns; rank IC: the
// Spearman correlation (average ranks for ties).
double information_coefficient(std::span<const double> predictions, std::span<const double> returns);
double rank_information_coefficient(std::span<const double> predictions, std::span<const double> returns);

}  // namespace qf::quant
