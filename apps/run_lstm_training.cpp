// Stage 2 of the plan: train, cross-validate and tune sequence models for every stock of the store that
// process_new_data wrote, and save them with their metadata in one HDF5 registry (qf/quant/study/training.h).
// Under mpirun the ranks share the units of work; a rerun into the same --out resumes from checkpoints.
#include <unistd.h>

#include <boost/program_options.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>

#include "blas_kernels.h"
#include "cluster.h"
#include "command_line.h"
#include "qf/data/csv.h"
#include "qf/data/store.h"
#include "qf/quant/study/study_folder.h"
#include "qf/quant/study/training.h"
#include "qf/tensor/device.h"
#include "qf/tensor/parallel.h"

namespace po = boost::program_options;
namespace fs = std::filesystem;

namespace {

// The command line: the study options, the search space as lists, and how the run goes.
qf::quant::StudyOptions first_run_study_options() {
  qf::quant::StudyOptions o;
  o.fit.epochs = 10;
  o.fit.patience = 2;
  return o;
}

struct Settings {
  std::string store = "out/universe.h5", out = "out/training", tickers, scope = "per_stock",
              label = "next_day_up";
  // Defaults sized for a first run (docs/run_lstm_training.md, "Defaults"): the plan's sequence length
  // 60, hidden 32 at learning rate 3e-3, at most 10 epochs with patience 2 (early stopping ends most
  // fits in 3 to 5): 518 stocks x 5 years train in minutes on 2 cores and recover a planted edge.
  std::string models = "lstm", hidden = "32", layers = "1", dropout = "0", lrs = "3e-3", windows = "60";
  std::string features = "default", search = "grid", cv = "walk_forward", device = "cpu";
  int trials = 0, threads = 2, abort_after = 0;
  bool quiet = false, cosine = false, pooled_scaling = false, restart = false;
  qf::quant::StudyOptions o = first_run_study_options();
  qf::apps::TradeTimingOptions timing;
};

// A progress bar on a terminal; otherwise a plain line every ~5 % of the units.
class Progress {
 public:
  explicit Progress(bool quiet) : quiet_(quiet), terminal_(::isatty(STDERR_FILENO) != 0) {}
  void operator()(const qf::quant::StudyProgress& p) {
    if (quiet_ || p.total == 0) return;
    const auto now = std::chrono::steady_clock::now();
    if (p.phase != phase_) {
      phase_ = p.phase;
      started_ = now;
      first_done_ = p.done;
      last_logged_ = -1;
      std::fprintf(stderr, "%s%s: %lld units (%lld resumed from checkpoints)\n",
                   terminal_ && bar_open_ ? "\n" : "", p.phase.c_str(), static_cast<long long>(p.total),
                   static_cast<long long>(p.resumed));
      bar_open_ = false;
    }
    const double secs = std::chrono::duration<double>(now - started_).count();
    const auto fresh = static_cast<double>(p.done - first_done_);
    const double eta = fresh > 0 ? secs / fresh * static_cast<double>(p.total - p.done) : NAN;
    const std::int64_t step = std::max<std::int64_t>(1, p.total / 20);
    if (terminal_) {
      const int width = 30, filled = static_cast<int>(width * p.done / p.total);
      std::fprintf(stderr, "\r%-5s [%.*s%*s] %lld/%lld  %-8s loss %.4f  ETA %4.0f s ", p.phase.c_str(),
                   filled, "##############################", width - filled, "",
                   static_cast<long long>(p.done), static_cast<long long>(p.total), p.last_unit.c_str(),
                   p.last_loss, eta);
      bar_open_ = true;
      if (p.done == p.total) {
        std::fprintf(stderr, "\n");
        bar_open_ = false;
      }
    } else if (p.done > first_done_ && (p.done == p.total || p.done / step != last_logged_)) {
      last_logged_ = p.done / step;
      std::fprintf(stderr, "%s %lld/%lld units, last %s, train loss %.4f, %.1f s, ETA %.0f s\n",
                   p.phase.c_str(), static_cast<long long>(p.done), static_cast<long long>(p.total),
                   p.last_unit.c_str(), p.last_loss, secs, eta);
    }
    std::fflush(stderr);
  }

 private:
  bool quiet_, terminal_, bar_open_ = false;
  std::string phase_;
  std::chrono::steady_clock::time_point started_;
  std::int64_t first_done_ = 0, last_logged_ = -1;
};

void describe_options(po::options_description& options, Settings& s) {
  auto& o = s.o;
  options.add_options()("help,h", "show this help");
  qf::apps::add_store_option(options, s.store);
  qf::apps::add_out_option(options, s.out, "output folder (registry, tables, checkpoints); a rerun resumes");
  // clang-format off
  options.add_options()
      ("tickers", po::value(&s.tickers), "comma list of tickers to train (default: all)")
      ("scope", po::value(&s.scope)->default_value(s.scope), "per_stock (one model per ticker) or pooled (one for all)")
      ("model", po::value(&s.models)->default_value(s.models), "architectures: lstm, gru, attention_gru or registered ones")
      ("hidden", po::value(&s.hidden)->default_value(s.hidden), "hidden sizes")
      ("layers", po::value(&s.layers)->default_value(s.layers), "recurrent layers")
      ("dropout", po::value(&s.dropout)->default_value(s.dropout), "dropout between recurrent layers")
      ("lr", po::value(&s.lrs)->default_value(s.lrs), "learning rates (AdamW)")
      ("window", po::value(&s.windows)->default_value(s.windows), "sequence lengths")
      ("features", po::value(&s.features)->default_value(s.features),
       "feature sets or lists: a set name (default, returns, momentum, technical, all) or panels, "
       "e.g. 'returns,rsi_14;default'")
      ("search", po::value(&s.search)->default_value(s.search), "grid (every combination) or random")
      ("trials", po::value(&s.trials)->default_value(0), "random search: number of trials")
      ("label", po::value(&s.label)->default_value(s.label), "next_day_up, beyond_threshold or beats_median")
      ("threshold", po::value(&o.label.threshold_in_vols)->default_value(o.label.threshold_in_vols),
       "beyond_threshold: band in units of 20-day volatility (times sqrt(horizon))")
      ("cv", po::value(&s.cv)->default_value(s.cv), "none, walk_forward, rolling, purged_kfold or cpcv")
      ("folds", po::value(&o.folds)->default_value(o.folds), "CV folds (cpcv: groups)")
      ("initial-train", po::value(&o.initial_train_share)->default_value(o.initial_train_share),
       "walk_forward/rolling: share of the development days in the first training block (0: equal blocks)")
      ("rolling-blocks", po::value(&o.rolling_blocks)->default_value(o.rolling_blocks), "rolling: training blocks")
      ("cpcv-test-groups", po::value(&o.cpcv_test_groups)->default_value(o.cpcv_test_groups), "cpcv: groups tested per split")
      ("embargo", po::value(&o.embargo)->default_value(o.embargo), "embargo days after a test block (k-fold, cpcv)")
      ("test-fraction", po::value(&o.test_fraction)->default_value(o.test_fraction),
       "share of the calendar kept as the untouched final test period")
      ("validation-fraction", po::value(&o.validation_fraction)->default_value(o.validation_fraction),
       "share of each training period used for early stopping")
      ("min-train", po::value(&o.min_train_samples)->default_value(o.min_train_samples),
       "skip a ticker (or fold) with fewer training windows")
      ("pooled-scaling", po::bool_switch(&s.pooled_scaling), "pooled scope: one scaler for all tickers (default: per ticker)")
      ("select-by", po::value(&o.select_by)->default_value(o.select_by),
       "CV metric choosing the best trial: accuracy, balanced_accuracy, auc, log_loss, ic")
      ("epochs", po::value(&o.fit.epochs)->default_value(o.fit.epochs), "maximum epochs")
      ("patience", po::value(&o.fit.patience)->default_value(o.fit.patience), "early-stopping patience (0: off)")
      ("batch-size", po::value(&o.fit.train.batch_size)->default_value(o.fit.train.batch_size), "minibatch size")
      ("weight-decay", po::value(&o.fit.weight_decay)->default_value(o.fit.weight_decay), "AdamW weight decay")
      ("clip", po::value(&o.fit.train.clip_norm)->default_value(o.fit.train.clip_norm), "gradient norm clip (0: off)")
      ("cosine", po::bool_switch(&s.cosine), "cosine learning-rate schedule")
      ("seed", po::value(&o.seed)->default_value(o.seed), "seed of every initialisation and shuffle");
  // clang-format on
  qf::apps::add_threads_option(options, s.threads);
  // clang-format off
  options.add_options()
      ("device", po::value(&s.device)->default_value(s.device),
       "cpu, or cuda: per-stock LSTM fits trained together on the GPU, one lockstep group per trial")
      ("quiet", po::bool_switch(&s.quiet), "no progress output")
      ("restart", po::bool_switch(&s.restart),
       "discard the checkpoints and results in --out and start over (default: resume the same study)")
      ("abort-after", po::value(&s.abort_after)->default_value(0),
       "test hook: end abruptly after this many new units, as a kill would");
  // clang-format on
  s.timing.add_to(options);
}

// The study options and the trials the settings ask for; usage errors throw po::error.
std::vector<qf::quant::Trial> study_plan(Settings& s) {
  using qf::apps::parse_list;
  auto& o = s.o;
  if (o.fit.train.batch_size < 1 || o.fit.epochs < 1)
    throw po::error("--batch-size and --epochs must be >= 1");
  if (s.device != "cpu" && s.device != "cuda")
    throw po::error("--device must be cpu or cuda, not " + s.device);
  if (s.scope != "per_stock" && s.scope != "pooled") throw po::error("--scope must be per_stock or pooled");
  if (s.search != "grid" && s.search != "random") throw po::error("--search must be grid or random");
  o.scope = s.scope == "pooled" ? qf::quant::Scope::pooled : qf::quant::Scope::per_stock;
  o.label.kind = qf::quant::parse_label_kind(s.label);
  o.label.timing = s.timing.timing();
  o.cv = qf::quant::parse_cv_scheme(s.cv);
  o.fit.cosine_schedule = s.cosine;
  o.per_ticker_scaling = !s.pooled_scaling;
  if (!s.tickers.empty()) o.tickers = parse_list<std::string>(s.tickers, "tickers");
  qf::quant::SearchSpace space;
  space.architectures = parse_list<std::string>(s.models, "model");
  space.hidden = parse_list<std::int64_t>(s.hidden, "hidden");
  space.layers = parse_list<std::int64_t>(s.layers, "layers");
  space.dropout = parse_list<double>(s.dropout, "dropout");
  space.learning_rates = parse_list<double>(s.lrs, "lr");
  space.windows = parse_list<std::int64_t>(s.windows, "window");
  space.feature_sets = parse_list<std::string>(s.features, "features", ';');
  const auto trials = s.search == "random"
                          ? qf::quant::random_trials(space, s.trials > 0 ? s.trials : 8, o.seed)
                          : qf::quant::grid_trials(space);
  if (s.device == "cuda") {  // the multi-model GPU trainer: per-stock LSTM classifiers without dropout
    if (o.scope != qf::quant::Scope::per_stock) throw po::error("--device cuda: only --scope per_stock");
    for (const auto& t : trials)
      if (t.model.architecture != "lstm" || (t.model.num_layers > 1 && t.model.dropout != 0.0))
        throw po::error("--device cuda: only lstm models without dropout (not " + t.describe() + ")");
    if (qf::cuda_device_count() == 0) throw std::runtime_error("--device cuda: no CUDA device found");
    o.device = qf::quant::FitDevice::cuda;
  }
  return trials;
}

}  // namespace

int main(int argc, char** argv) {
  qf::apps::use_best_blas_kernels(argv);  // before MPI starts
  qf::apps::Cluster cluster(argc, argv);
  return qf::apps::run_app(
      "run_lstm_training",
      [&] {
        Settings s;
        po::options_description options(
            "run_lstm_training: train, cross-validate and tune LSTM (and other) models for every stock of a "
            "store.\n"
            "Comma lists (--hidden 32,64) span a search; --features alternatives are separated by ';'");
        describe_options(options, s);
        if (!qf::apps::parse_command_line(argc, argv, options, cluster.rank() == 0)) return 0;
        const auto trials = study_plan(s);
        qf::set_num_threads(s.threads);
        qf::apps::require_files({s.store}, "run process_new_data first");
        const auto load_start = std::chrono::steady_clock::now();
        const std::string hash = qf::data::checked_store_hash(s.store);
        qf::data::FeaturePanels panels;
        const qf::data::Universe universe = qf::data::read_universe(s.store, &panels);
        qf::quant::Study study(universe, panels, s.o, trials, s.out);

        // The key guards the folder: a rerun resumes only the same study.
        const std::string key = qf::quant::folder_key(s.o, trials, hash, s.threads);
        if (s.restart && cluster.rank() == 0) qf::quant::remove_study_outputs(s.out);
        cluster.barrier();
        qf::quant::require_same_study(s.out, key);
        cluster.barrier();  // every rank compared the key before rank 0 may write it
        if (cluster.rank() == 0) qf::quant::write_study_key(s.out, key);
        const double load_secs =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - load_start).count();
        if (cluster.rank() == 0 && !s.quiet)
          std::fprintf(
              stderr,
              "run_lstm_training: %zu tickers, %zu trial(s), %zu CV folds, %d rank(s) x %d thread(s), "
              "OpenBLAS %s kernels; store loaded in %.2f s\n",
              study.tickers().size(), trials.size(), study.plan().folds.size(), cluster.size(), s.threads,
              qf::blas::core_name(), load_secs);

        Progress progress(s.quiet || cluster.rank() != 0);
        const auto started = std::chrono::steady_clock::now();
        const qf::quant::StudyResult result = study.run(
            cluster.rank(), cluster.size(), [&] { cluster.barrier(); }, [&](const auto& p) { progress(p); },
            s.abort_after);
        const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
        const auto totals =
            cluster.sum({static_cast<double>(result.fits), static_cast<double>(result.train_samples_seen),
                         static_cast<double>(result.eval_samples_seen)});
        if (cluster.rank() != 0) return 0;

        study.write_registry(result, hash);
        const qf::quant::TrainingRun run{s.store,
                                         hash,
                                         cluster.size(),
                                         s.threads,
                                         wall,
                                         static_cast<std::int64_t>(totals[0]),
                                         static_cast<std::int64_t>(totals[1]),
                                         static_cast<std::int64_t>(totals[2])};
        qf::data::write_text_atomically(fs::path(s.out) / "training_summary.json",
                                        qf::quant::training_summary_json(run, s.o, study, result, panels));
        if (!s.quiet) {
          std::ifstream summary(fs::path(s.out) / "summary.txt");
          std::cout << summary.rdbuf();
          std::printf("%.0f fits, %.0f training samples in %.1f s (%.0f samples/s) -> %s/registry.h5\n",
                      totals[0], totals[1], wall, totals[1] / wall, s.out.c_str());
        }
        return 0;
      },
      [&](int status) {
        if (cluster.size() > 1) cluster.abort(status);
      });
}
