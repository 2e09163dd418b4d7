// Early stopping on the validation loss: the one rule of nn::fit and nn::fit_multi, applied to one
// model's FitResult at a time (fit_multi: to each model of the group). An epoch whose validation loss
// is below the best so far becomes the best epoch (the caller keeps its parameters aside); after
// `patience` epochs without one the model stops (patience 0: never). At the end the best epoch's
// parameters are restored; without a validation set, or when no epoch had a finite validation loss,
// the last epoch's stay and the result reports the last epoch with a NaN loss (trainer.h's FitResult).
#pragma once

#include <cstdint>
#include <limits>

#include "qf/nn/trainer.h"

namespace qf::nn {

enum class EpochVerdict { improved, go_on, stop };

struct EarlyStopping {
  std::int64_t patience = 0;

  // Before the first epoch: every finite loss improves on this.
  static void start(FitResult& r) { r.best_validation_loss = std::numeric_limits<double>::infinity(); }

  // After epoch `epoch` (1-based) has pushed its validation stats onto r.validation.
  EpochVerdict after_epoch(FitResult& r, std::int64_t epoch) const {
    if (r.validation.back().loss < r.best_validation_loss) {
      r.best_validation_loss = r.validation.back().loss;
      r.best_epoch = epoch;
      return EpochVerdict::improved;
    }
    return patience > 0 && epoch - r.best_epoch >= patience ? EpochVerdict::stop : EpochVerdict::go_on;
  }

  // After the last epoch: whether the caller restores the best epoch's parameters. When not (no
  // validation set, or no finite validation loss at all), r reports the last epoch as the best.
  static bool finish(FitResult& r, bool validated) {
    if (validated && r.best_epoch != 0) return true;
    r.best_epoch = r.epochs_run;
    r.best_validation_loss = std::numeric_limits<double>::quiet_NaN();
    return false;
  }
};

}  // namespace qf::nn
