// Ensembles of up-move predictions for stage 5: several members (CV folds, seeds, architectures) that
// predicted the same (ticker, day) samples, combined into one probability and a disagreement.
//
//   mean         the members' average probability
//   cv_weighted  weights proportional to each member's CV score above chance (max(score - 0.5, 0);
//                equal weights when none is above chance)
//   stacking     a logistic meta-model on the members' logits, fitted out of fold: the samples of each
//                fold are predicted by a meta-model fitted on the other folds only
//
// Members are rows of a [members, samples] panel aligned on the same samples; NaN where a member has no
// prediction (it is left out of that sample's combination).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace qf::quant {

struct EnsembleMembers {
  std::int64_t members = 0, samples = 0;
  std::vector<double> probability;  // [members, samples]
  std::vector<double> cv_score;     // [members]: e.g. CV accuracy (for cv_weighted)
  std::vector<std::string> names;   // [members]
};

struct EnsembleModel {
  std::string method = "mean";  // mean, cv_weighted, stacking
  std::vector<double> weights;  // [members] for mean / cv_weighted
  std::vector<double> meta;     // stacking: [members + 1] logistic coefficients on logits, then bias
  // One sample's combination; `member_probabilities` has one entry per member (NaN: missing).
  double combine(std::span<const double> member_probabilities) const;
};

// Fits the combination on labelled samples (labels in {0, 1}, NaN: unlabelled and skipped). Stacking
// needs labels; the others use only the scores.
EnsembleModel fit_ensemble(const std::string& method, const EnsembleMembers& members,
                           std::span<const double> labels);

struct EnsemblePrediction {
  std::vector<double> probability;   // [samples]
  std::vector<double> disagreement;  // [samples]: standard deviation of the members' probabilities
  std::vector<int> count;            // [samples]: members with a prediction
};
EnsemblePrediction predict_ensemble(const EnsembleModel& model, const EnsembleMembers& members);

// Stacking evaluated honestly on its own training samples: each fold's samples are predicted by a
// meta-model fitted on the other folds (fold ids >= 0; -1: not in any fold, predicted by the model of
// all folds). The members' disagreement as in predict_ensemble.
EnsemblePrediction stack_out_of_fold(const EnsembleMembers& members, std::span<const double> labels,
                                     std::span<const int> fold);

}  // namespace qf::quant
