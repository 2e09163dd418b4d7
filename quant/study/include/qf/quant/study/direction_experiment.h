// The smallest honest end-to-end experiment: predict tomorrow's direction of one price series with an
// LSTM. Features at day t use prices up to t; the label of day t is the direction from t to t+1;
// the scaler is fitted on the training period only; validation days come strictly after training
// days, separated by a gap of `window` days so that no validation window overlaps a training label.
#pragma once

#include <functional>
#include <span>

#include "qf/nn/rnn.h"

namespace qf::quant {

struct DirectionExperimentOptions {
  std::int64_t window = 60;
  std::int64_t hidden = 32;
  std::int64_t layers = 1;
  std::int64_t epochs = 10;
  std::int64_t batch_size = 64;
  double learning_rate = 1e-3;
  double train_fraction = 0.7;
  std::uint64_t seed = 7;
};

struct EpochReport {
  std::int64_t epoch;
  double train_loss, train_accuracy, validation_loss, validation_accuracy;
};

struct DirectionExperimentResult {
  std::vector<EpochReport> epochs;
  std::int64_t train_samples = 0, validation_samples = 0;
  double validation_up_share = 0.0;  // base rate: accuracy of always predicting "up"
};

// Causal features per day: 1-day log return, 5-day mean return, 20-day realised volatility.
Tensor direction_features(std::span<const double> close);

DirectionExperimentResult run_direction_experiment(
    std::span<const double> close, const DirectionExperimentOptions& options,
    const std::function<void(const EpochReport&)>& on_epoch = {});

}  // namespace qf::quant
