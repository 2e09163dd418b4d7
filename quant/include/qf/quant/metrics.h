// Scores of probabilistic up/down predictions against realised labels, as cross-validation folds and
// backtests report them. NaN labels or predictions are skipped (pairwise); with nothing left, NaN.
#pragma once

#include <span>

namespace qf::quant {

struct ClassificationScores {
  double accuracy = 0;           // share of (p > 0.5) == (label > 0.5)
  double balanced_accuracy = 0;  // mean of the recalls of both classes
  double auc = 0;                // ROC AUC (Mann-Whitney, ties count one half); NaN with one class only
  double log_loss = 0;           // mean of -[y log p + (1-y) log(1-p)], p clipped to [1e-15, 1 - 1e-15]
  double brier = 0;              // mean of (p - y)^2
  long count = 0;                // samples scored
};

ClassificationScores classification_scores(std::span<const double> probabilities,
                                           std::span<const double> labels);

// Information coefficient: Pearson correlation of predictions and realised returns; rank IC: the
// Spearman correlation (average ranks for ties).
double information_coefficient(std::span<const double> predictions, std::span<const double> returns);
double rank_information_coefficient(std::span<const double> predictions, std::span<const double> returns);

}  // namespace qf::quant
