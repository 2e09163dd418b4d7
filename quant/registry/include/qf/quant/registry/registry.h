// Module registry (qf_quant_registry): the files the stages hand each other, as the stages after
// training read them: a registry's or predictions file's predictions as a PredictionPanel, its CV fold
// scores, and a weights file's target weights. Depends on signals (LabelSpec and the label attributes
// that every such file carries), data and tensor (HDF5). One writer of the prediction columns
// (write_prediction_columns) serves registry.h5, predictions.h5 and the study's checkpoints; the rest
// of each file is written by the stage that owns it: study (registry.h5), forecast (predictions.h5),
// portfolio (weights.h5); docs/hdf5-layout.md.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "qf/data/execution.h"
#include "qf/data/universe.h"
#include "qf/quant/signals/labels.h"
#include "qf/tensor/hdf5.h"

namespace qf::quant {

// Predicted probabilities of the label (labels.h: e.g. "the traded return is positive") as a
// [days, tickers] float64 panel on the universe calendar, NaN where there is none, and the days they
// cover.
struct PredictionPanel {
  Tensor probability;
  std::int64_t first_day = 0, last_day = -1;  // calendar indices, inclusive
  std::string source;                         // e.g. "registry.h5 /test_predictions"
  LabelSpec label;                            // what was predicted: label kind, execution, horizon
  // [days * tickers], non-zero where the model abstained (stage 5's /test_predictions/abstain): the
  // probability is there and scored as one, but the cell is no call: no position and no accuracy from
  // it. Empty: no abstention (a registry without the flag).
  std::vector<std::uint8_t> abstain = {};
  bool abstained(std::int64_t cell) const {
    return !abstain.empty() && abstain[static_cast<std::size_t>(cell)] != 0;
  }
};

// The final models' test-period predictions of a run_lstm_training registry (or of predict_stock_movement's
// predictions.h5, which has the same /test_predictions layout). The registry must come
// from this store (same tickers and, for each prediction, a day of this calendar); errors name the file.
// `group` selects /test_predictions (default) or /cv_predictions (the best trial's out-of-fold
// predictions, which precede the test period: history for calibrating the predictions) or
// /fold_predictions (the fold models' predictions from the test period on); fold >= 0 keeps the
// predictions of that CV fold only (/cv_predictions, /fold_predictions).
PredictionPanel read_registry_predictions(const std::filesystem::path& registry,
                                          const data::Universe& universe,
                                          const std::string& group = "/test_predictions", int fold = -1);

// The columns of a predictions group, one row per prediction, as read_registry_predictions reads them:
// the ticker (universe index) and the day (calendar index), stored as float64 like the rest; the
// probability; the label and the traded return it is scored against (NaN where unknown); and stage 5's
// abstain flag (1: no call; no such column without it).
struct PredictionColumns {
  std::span<const double> ticker, day, probability, label, traded_return;
  std::optional<std::span<const double>> abstain = std::nullopt;
};
// Writes them as the datasets of `group` (ticker, day, probability, [abstain,] label, traded_return):
// the one writer of /test_predictions, /cv_predictions and /fold_predictions (registry.h5 and
// predict_stock_movement's predictions.h5) and of a study checkpoint's predictions.
void write_prediction_columns(h5::File& file, const std::string& group, const PredictionColumns& columns);

// The best trial's cross-validation scores of a registry, fold by fold (/trials/<best>/fold_scores);
// empty for a study without CV.
struct FoldScore {
  double accuracy = 0, brier = 0;
};
std::vector<FoldScore> read_cv_fold_scores(const std::filesystem::path& registry);

// Target weights computed elsewhere (e.g. by portfolio_optimizer): an HDF5 file with /target_weights
// float64 [days, tickers] on this store's calendar, /tickers equal to the store's, and the label
// attributes (labels.h) of the predictions they were made for, whose execution and horizon must be
// `timing` (an error names both otherwise).
Tensor read_target_weights(const std::filesystem::path& path, const data::Universe& universe,
                           const data::TradeTiming& timing);

// The exposure factor per day that stage 5 writes for stage 3's regime rule (predictions.h5
// /regime_exposure, [days] on this store's calendar, NaN = 1). Throws data::InputError naming the file
// when the dataset is missing or has another length.
std::vector<double> read_regime_exposure(const std::filesystem::path& path, const data::Universe& universe);

}  // namespace qf::quant
