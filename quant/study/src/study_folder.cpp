#include "qf/quant/study/study_folder.h"

#include <fstream>
#include <sstream>
#include <stdexcept>

#include "qf/data/json.h"
#include "qf/data/store.h"
#include "qf/quant/study/dataset.h"

namespace fs = std::filesystem;

namespace qf::quant {

namespace {

// The settings two keys ("name=value name=value | trial ...") disagree on, word by word.
std::string key_difference(const std::string& stored, const std::string& asked) {
  std::istringstream a(stored), b(asked);
  std::vector<std::string> left, right;
  for (std::string w; a >> w;) left.push_back(w);
  for (std::string w; b >> w;) right.push_back(w);
  std::string out;
  for (std::size_t k = 0; k < std::max(left.size(), right.size()) && out.size() < 400; ++k) {
    const std::string x = k < left.size() ? left[k] : "(none)", y = k < right.size() ? right[k] : "(none)";
    if (x != y) out += (out.empty() ? "" : "; ") + std::string("the folder's ") + x + ", this run's " + y;
  }
  return out.empty() ? "the settings differ" : out;
}

}  // namespace

std::string folder_key(const StudyOptions& options, const std::vector<Trial>& trials,
                       const std::string& data_hash, int threads) {
  return study_key(options, trials, data_hash) +
         (options.scope == Scope::pooled ? " threads=" + std::to_string(threads) : "") +
         (options.device == FitDevice::cuda ? " device=cuda" : "");
}

void require_same_study(const fs::path& out, const std::string& key) {
  const fs::path key_file = out / "study_key.txt";
  if (!fs::exists(key_file)) return;
  std::ifstream in(key_file);
  const std::string stored((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (stored != key + "\n")
    throw std::invalid_argument(out.string() + " holds a different study (" + key_difference(stored, key) +
                                "; see " + key_file.string() +
                                "): use a fresh --out, --restart, or the same settings and store to resume");
}

void write_study_key(const fs::path& out, const std::string& key) {
  fs::create_directories(out);
  data::write_text_atomically(out / "study_key.txt", key + "\n");
}

void remove_study_outputs(const fs::path& out) {
  for (const char* name : {"checkpoints", "registry.h5", "study_key.txt", "summary.txt", "trials.csv",
                           "cv_folds.csv", "coverage.csv", "sectors.csv", "training_summary.json"})
    fs::remove_all(out / name);
}

std::string training_summary_json(const TrainingRun& run, const StudyOptions& options, const Study& study,
                                  const StudyResult& result, const data::FeaturePanels& panels) {
  const Trial& best = study.trials()[static_cast<std::size_t>(result.best_trial)];
  std::int64_t trained = 0;
  for (const auto& c : result.coverage) trained += c.status == "trained" ? 1 : 0;
  const data::Json summary = {
      {"created_utc", data::utc_now()},
      {"store", run.store},
      {"data_hash", run.data_hash},
      {"ranks", run.ranks},
      {"threads", run.threads},
      {"fit_seconds", run.fit_seconds},
      {"fits", run.fits},
      {"train_samples_seen", run.train_samples_seen},
      {"eval_samples_seen", run.eval_samples_seen},
      {"train_samples_per_second", static_cast<double>(run.train_samples_seen) / run.fit_seconds},
      {"best_trial", result.best_trial},
      {"best_config", best.describe()},
      {"features", resolve_features(best.features, panels)},
      {"window", best.window},
      {"hidden", best.model.hidden_size},
      {"layers", best.model.num_layers},
      {"batch_size", options.fit.train.batch_size},
      {"epochs", options.fit.epochs},
      {"test_accuracy", result.test.classification.accuracy},
      {"test_auc", result.test.classification.auc},
      {"test_predictions", result.test.classification.count},
      {"tickers", result.coverage.size()},
      {"trained", trained}};
  return data::json_text(summary);
}

}  // namespace qf::quant
