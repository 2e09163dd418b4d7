// Module forecast (qf_quant_forecast): stage 5: ensembles (ensemble.h), headline sentiment (sentiment.h)
// and the combined, calibrated, regime-aware prediction (this header). Uses metrics (scores and
// calibration), regime, registry, signals, nn (sentiment's classifier) and data.
//
// Stage 5 of the plan (predict_stock_movement): the stage-2 registries' predictions combined into one
// calibrated, regime-aware probability per stock and day, with a confidence and the signals behind it.
//
//   1. Ensemble: the members (one registry each: other seeds, architectures, feature sets) are combined
//      by mean, CV-weighted mean or stacking (qf/quant/forecast/ensemble.h), fitted on their CV (out-of-fold)
//      predictions; stacking's own CV outputs are out of fold as well.
//   2. Calibration: Platt or isotonic (qf/quant/metrics/calibration.h), fitted on the ensemble's CV outputs
//      only and applied to the test period.
//   3. Regime: a Gaussian HMM on the benchmark's daily returns (qf/quant/regime/regime.h), fitted on the days
//      before the test period; every day gets its filtered probabilities (never smoothed).
//   4. Confidence: 2 |p - 0.5|, times (1 - 2 x the members' disagreement), times the regime's
//      confidence factor (expected over the filtered probabilities). Below the regime's threshold
//      the model abstains (its exported probability is then 0.5: no position).
//   Expected return: (2p - 1) x the ticker's mean absolute daily log return over the last 60 days.
//   Sentiment (optional): the day's headline score per ticker, mapped to P(up) by a logistic fit on the
//   CV days, is one more ensemble member; with no headlines it is absent.
//
// Every input of day t's output is known at day t's close: the members' predictions for day t (made
// from data up to t), the calibrator and the ensemble (fitted on CV days before the test period), the
// HMM's parameters (before the test period) and its filter (returns up to t).
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "qf/data/universe.h"
#include "qf/quant/forecast/ensemble.h"
#include "qf/quant/metrics/calibration.h"
#include "qf/quant/metrics/metrics.h"
#include "qf/quant/regime/regime.h"
#include "qf/quant/registry/registry.h"

namespace qf::quant {

struct MovementMember {
  std::string name;          // e.g. the registry's path
  PredictionPanel cv, test;  // [days, tickers] out-of-fold CV predictions and test-period predictions
  double cv_score = 0.5;     // e.g. the registry's best trial's CV accuracy (for cv_weighted)
};

struct MovementSpec {
  std::string ensemble = "mean";         // mean, cv_weighted, stacking
  std::string calibration = "isotonic";  // none, platt, isotonic
  bool use_regime = true;                // off: no regime factor, threshold and exposure of state 0
  int regime_states = 2;
  // Per regime state (0 = calmest): exposure for stage 3's regime hook, confidence factor, abstention
  // threshold on the confidence.
  std::vector<double> exposure_by_regime = {1.0, 0.6};
  std::vector<double> confidence_by_regime = {1.0, 0.75};
  std::vector<double> threshold_by_regime = {0.02, 0.04};
  int stack_folds = 5;  // contiguous blocks of CV days for out-of-fold stacking
  // [days, tickers] daily headline sentiment in (-1, 1) (qf/quant/forecast/sentiment.h daily_sentiment);
  // empty or all NaN: no sentiment signal. When given it joins the ensemble as one more member, P(up) =
  // sigmoid(a s + b) with a and b fitted on the CV days (missing where a ticker has no headline).
  Tensor sentiment;
};

struct MovementScores {
  ClassificationScores scores;
  double expected_calibration_error = 0;
  std::vector<ReliabilityBin> reliability;
};

struct MovementResult {
  LabelSpec label;                            // what the members predict (one target for all)
  std::int64_t first_day = 0, last_day = -1;  // the test period on the calendar
  // [days, tickers], NaN outside the test period or without a member prediction.
  Tensor ensemble_probability, probability, confidence, disagreement, expected_return;
  std::vector<std::uint8_t> abstain;                    // [days, tickers]
  std::vector<std::vector<double>> member_probability;  // [members][days * tickers] on the test period
  // [days, states] filtered regime probabilities, [days] the most likely state (-1 before any data) and
  // the exposure factor for stage 3.
  std::vector<double> regime_probability, regime_exposure;
  std::vector<int> regime_state;
  GaussianHmm hmm;
  EnsembleModel ensemble;
  Calibrator calibrator;
  std::vector<std::string> member_names;
  // Test-period scores: the first member alone, the ensemble before calibration, the final probability;
  // `acting`: the final probability with the abstentions (classification_scores: accuracy and confusion
  // counts over the calls, coverage = calls / labelled test cells); coverage, acting_accuracy and
  // acting_count are copies of its coverage, accuracy (NaN without calls) and calls.
  MovementScores first_member, ensemble_scores, calibrated;
  ClassificationScores acting;
  double coverage = 0, acting_accuracy = 0;
  std::int64_t acting_count = 0;
  // CV-period scores of the ensemble (what the calibrator was fitted on).
  MovementScores cv_ensemble;
  std::string description;
  double sentiment_slope = 0, sentiment_intercept = 0;  // the sentiment member's logistic map
  std::int64_t sentiment_cells = 0;                     // cells with a headline, CV and test
};

// Throws std::invalid_argument for inconsistent members (calendars, no CV predictions before the test
// period, no test predictions) or settings (tables of the wrong length).
MovementResult predict_movements(const data::Universe& universe, const std::vector<MovementMember>& members,
                                 const MovementSpec& spec);

// <folder>/predictions.h5 (layout in docs/hdf5-layout.md; readable as a --registry by stages 3 and 4),
// predictions.csv (every stock on `day`, most_confident_first, the raw score beside the calibrated one),
// summary.json (settings, scores, reliability curves, regime model). Each written atomically.
void write_movement_output(const std::filesystem::path& folder, const MovementResult& result,
                           const data::Universe& universe, std::int64_t day);
// The tickers with a prediction on `day`, most confident first: by confidence; ties (isotonic calibration
// maps whole ranges of scores to one probability) broken by the raw score, the ensemble probability
// before calibration, farthest from 0.5 first; then by ticker index.
std::vector<std::int64_t> most_confident_first(const MovementResult& result, std::int64_t tickers,
                                               std::int64_t day);
// The readable table of `day` (most_confident_first), at most `rows` rows.
std::string movement_table(const MovementResult& result, const data::Universe& universe, std::int64_t day,
                           int rows = 20);

}  // namespace qf::quant
