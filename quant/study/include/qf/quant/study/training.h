// Module study (qf_quant_study): stage 2: datasets of windows (dataset.h), the study with its calendar
// plan, search, checkpoints and registry writer (this header), models reloaded from a registry
// (registry_models.h) and the one-series direction experiment (direction_experiment.h). Uses signals,
// metrics, cv, registry, nn and data.
//
// Stage 2 of the plan: train, cross-validate and tune sequence models for a whole universe.
//
// A Study runs trials (model configurations) over a StockDataset:
//   * per_stock: one model per ticker; pooled: one model over all tickers together.
//   * Calendar plan (plan_calendar): the last test_fraction of the calendar is a final test period that
//     no tuning sees. The development period before it ends window + horizon days earlier (purged: no
//     development label or window reaches into the test period). Cross-validation folds split the
//     development days (cross_validation.h), purged by the window and label spans and embargoed; inside
//     every fold's training days, the last validation_fraction serves early stopping (purged likewise),
//     so a test fold never influences a fit.
//   * Work comes in units: (trial, ticker) for per-stock cross-validation, (trial, fold) for pooled;
//     then one final fit per ticker (or one pooled) of the trial with the best mean CV score, scored on
//     the test period. Each finished unit is written atomically to <out>/checkpoints, so a killed run
//     resumes where it stopped, and ranks of an MPI run (rank, ranks) share the units and the files.
// Every fit draws its seed from (seed, trial, ticker, fold); per-stock fits run single-threaded, so
// their results are bit-identical whatever the thread or rank count.
#pragma once

#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "qf/quant/metrics/metrics.h"
#include "qf/quant/study/dataset.h"

namespace qf::quant {

enum class CvScheme { none, walk_forward, rolling, purged_kfold, combinatorial };
CvScheme parse_cv_scheme(const std::string& name);  // none, walk_forward, rolling, purged_kfold, cpcv
std::string to_string(CvScheme scheme);

// One configuration of the search.
struct Trial {
  nn::ModelSpec model;  // input_size is set from the features
  double learning_rate = 1e-3;
  std::int64_t window = 60;
  std::string features = "default";  // a feature spec (see resolve_features)
  std::string describe() const;      // e.g. "lstm h=64 L=1 drop=0 lr=0.001 w=60 f=default"
};

// Lists of values per hyperparameter; a trial picks one of each.
struct SearchSpace {
  std::vector<std::string> architectures{"lstm"};
  std::vector<std::int64_t> hidden{64}, layers{1}, windows{60};
  std::vector<double> dropout{0.0}, learning_rates{1e-3};
  std::vector<std::string> feature_sets{"default"};
};
std::vector<Trial> grid_trials(const SearchSpace& space);  // every combination, in a fixed order
// `count` distinct combinations drawn uniformly with the seed (all of them when count >= the grid).
std::vector<Trial> random_trials(const SearchSpace& space, int count, std::uint64_t seed);

enum class Scope { per_stock, pooled };

// Where per-stock fits train. cpu: one fit at a time. cuda: all pending fits of a phase, grouped by trial
// (one shape), trained in lockstep on the GPU by nn::fit_multi, with the same data, scalers, early
// stopping and outputs. cpu_grouped: that grouped path with the CPU reference backend, which gives the
// cpu path's results bit for bit (how CI checks the grouping without a GPU).
enum class FitDevice { cpu, cuda, cpu_grouped };

struct StudyOptions {
  // clang-format off
  Scope scope = Scope::per_stock;
  LabelSpec label;                       // the label on the traded return of an execution mode and
                                         // horizon (labels.h)
  CvScheme cv = CvScheme::walk_forward;
  int folds = 4;                         // walk_forward / rolling / purged_kfold; cpcv: the number of groups
  int rolling_blocks = 2;                // rolling: training blocks per fold
  double initial_train_share = 0.5;      // walk_forward / rolling: the first block's share of the
                                         // development days
  int cpcv_test_groups = 2;              // cpcv: groups tested per split
  std::int64_t embargo = 5;              // days after a test block that training may not use
  double test_fraction = 0.2;            // final test period, share of the calendar
  double validation_fraction = 0.15;
  std::int64_t min_train_samples = 200;  // fewer: the ticker (or fold) is skipped
  bool per_ticker_scaling = true;        // pooled: scale each ticker by its own training rows
  std::string select_by = "accuracy";    // accuracy, balanced_accuracy, auc, log_loss, brier, ic, rank_ic
  nn::FitOptions fit;
  FitDevice device = FitDevice::cpu;
  std::uint64_t seed = 7;
  std::vector<std::string> tickers;      // restrict to these (empty: all)
  // clang-format on
};

// Calendar days (indices into the universe calendar) of one split.
struct DaySplit {
  std::vector<std::int64_t> train, validation, test;
  std::int64_t purged = 0, embargoed = 0;
};
struct CalendarPlan {
  std::int64_t dev_first = 0, dev_last = 0;  // development decision days [first, last]
  std::int64_t test_first = 0, test_last = 0;
  std::vector<DaySplit> folds;  // cross-validation over the development days
  DaySplit final;               // train/validation over the development days, test = the test period
};
CalendarPlan plan_calendar(std::int64_t days, std::int64_t window, std::int64_t horizon,
                           const StudyOptions& options);

// Scores of a set of out-of-sample predictions.
struct Scores {
  ClassificationScores classification;
  double ic = 0, rank_ic = 0;  // against the next-day return
};
Scores score_predictions(std::span<const double> probabilities, std::span<const double> labels,
                         std::span<const double> traded_returns);
double selection_value(const Scores& scores, const std::string& metric);  // larger is better
bool higher_is_better(const std::string& metric);

struct Predictions {
  std::vector<std::int32_t> ticker, day;
  std::vector<double> probability, label, traded_return;
  void append(const Predictions& other);
  std::size_t size() const { return day.size(); }
};

// What became of one ticker in the final fit.
struct Coverage {
  std::string ticker, status, reason;  // status: trained, skipped, failed
  std::int64_t train_samples = 0, validation_samples = 0, test_samples = 0, epochs_run = 0, best_epoch = 0;
  double validation_loss = 0, test_accuracy = 0;
};

struct TrialSummary {
  Trial trial;
  std::vector<Scores> folds;  // per fold, over all tickers' predictions
  std::vector<std::int64_t> fold_samples;
  double mean = 0, spread = 0;  // of the selection metric over folds (sample standard deviation)
  Scores pooled;                // all out-of-sample predictions of all folds together
};

struct StudyProgress {
  std::string phase;  // "cv" or "final"
  std::int64_t done = 0, total = 0, resumed = 0;
  std::string last_unit;
  double last_loss = 0;
};

struct StudyResult {
  std::vector<TrialSummary> trials;
  int best_trial = 0;
  Scores test;  // the final models on the untouched test period
  std::vector<Coverage> coverage;
  Predictions test_predictions, cv_predictions;  // cv: the best trial's out-of-sample predictions
  std::vector<std::int32_t> cv_fold;             // the fold of each CV prediction
  // The best trial's fold models on the days from the test period's first to the calendar's last (fold
  // ensembles: the folds trained on development days only), with each prediction's fold.
  Predictions fold_predictions;
  std::vector<std::int32_t> fold_of_prediction;
  std::int64_t fits = 0, train_samples_seen = 0, eval_samples_seen = 0;  // this process's fits only
  double fit_seconds = 0;
};

class Study {
 public:
  Study(const data::Universe& universe, const data::FeaturePanels& panels, StudyOptions options,
        std::vector<Trial> trials, std::filesystem::path out_dir);

  // Runs this rank's share of the units of a phase (units with a checkpoint are loaded, not rerun);
  // `barrier` is called between phases (MPI_Barrier; a no-op for one process). abort_after > 0 ends
  // the process abruptly after that many new units (a test hook standing in for a kill).
  StudyResult run(int rank = 0, int ranks = 1, const std::function<void()>& barrier = {},
                  const std::function<void(const StudyProgress&)>& on_progress = {}, int abort_after = 0);

  // Writes the registry (registry.h5) and the tables (trials.csv, cv_folds.csv, coverage.csv,
  // sectors.csv, summary.txt) from the checkpoints; deterministic content only (no clocks).
  void write_registry(const StudyResult& result, const std::string& data_hash) const;

  const std::vector<Trial>& trials() const { return trials_; }
  const CalendarPlan& plan() const { return plan_; }
  const data::Universe& universe() const { return universe_; }
  std::vector<std::int64_t> tickers() const { return tickers_; }  // universe indices in the study

 private:
  class Run;  // one call of run(): its phases and the state they share (training.cpp)
  const StockDataset& dataset(const Trial& trial);
  const data::Universe& universe_;
  const data::FeaturePanels& panels_;
  StudyOptions options_;
  std::vector<Trial> trials_;
  std::filesystem::path out_;
  std::vector<std::int64_t> tickers_;
  CalendarPlan plan_;
  std::vector<std::pair<std::string, std::unique_ptr<StockDataset>>> datasets_;  // by (window, features)
};

// The key of everything that decides a study's results (options, trials, data hash): a rerun into the
// same folder must have the same key.
std::string study_key(const StudyOptions& options, const std::vector<Trial>& trials,
                      const std::string& data_hash);

}  // namespace qf::quant
