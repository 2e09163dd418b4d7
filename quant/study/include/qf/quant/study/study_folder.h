// The output folder of a study (run_lstm_training --out): the key that guards it (a rerun resumes only
// the same study), what a restart removes, and training_summary.json (the run's wall time and figures).
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "qf/quant/study/training.h"

namespace qf::quant {

// The folder's key: study_key, and what else changes results in the last bits: a pooled model's
// gradient sums depend on the thread count (per-stock fits never split theirs), and GPU sums differ
// from the CPU's, so a folder never mixes two thread counts (pooled) or the two devices.
std::string folder_key(const StudyOptions& options, const std::vector<Trial>& trials,
                       const std::string& data_hash, int threads);

// Throws std::invalid_argument when <out>/study_key.txt holds another key, naming the settings the two
// disagree on ("the folder's execution=next_close, this run's execution=next_open").
void require_same_study(const std::filesystem::path& out, const std::string& key);
void write_study_key(const std::filesystem::path& out, const std::string& key);
// --restart: removes the checkpoints, the registry, the key and the tables.
void remove_study_outputs(const std::filesystem::path& out);

// What training_summary.json records beside the result: the run's facts, summed over the MPI ranks.
struct TrainingRun {
  std::string store, data_hash;
  int ranks = 1, threads = 1;
  double fit_seconds = 0;  // wall time of Study::run
  std::int64_t fits = 0, train_samples_seen = 0, eval_samples_seen = 0;
};
// training_summary.json: {"created_utc", "store", "data_hash", "ranks", "threads", "fit_seconds",
// "fits", "train_samples_seen", "eval_samples_seen", "train_samples_per_second", "best_trial",
// "best_config", "features", "window", "hidden", "layers", "batch_size", "epochs", "test_accuracy",
// "test_auc", "test_predictions", "tickers", "trained"} (data/json.h has the number format).
std::string training_summary_json(const TrainingRun& run, const StudyOptions& options, const Study& study,
                                  const StudyResult& result, const data::FeaturePanels& panels);

}  // namespace qf::quant
