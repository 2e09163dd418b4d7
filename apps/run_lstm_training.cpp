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
#include <sstream>

#include "blas_kernels.h"
#include "cluster.h"
#include "command_line.h"
#include "qf/data/csv.h"
#include "qf/data/validation.h"
#include "qf/quant/study/training.h"
#include "qf/tensor/device.h"
#include "qf/tensor/parallel.h"

namespace po = boost::program_options;
namespace fs = std::filesystem;

namespace {

template <class T>
std::vector<T> parse_list(const std::string& text, const char* option, char separator = ',') {
  std::vector<T> out;
  std::stringstream in(text);
  for (std::string item; std::getline(in, item, separator);) {
    if (item.empty()) continue;
    std::istringstream field(item);
    T value;
    if constexpr (std::is_same_v<T, std::string>) {
      value = item;
    } else if (!(field >> value) || !field.eof()) {
      throw po::error(std::string("--") + option + ": '" + item + "' is not a number");
    }
    out.push_back(value);
  }
  if (out.empty()) throw po::error(std::string("--") + option + " needs at least one value");
  return out;
}

// The store's content hash, checked against the state manifest of process_new_data when it is there.
std::string data_hash(const fs::path& store) {
  const std::string hash = qf::data::file_hash(store);
  const fs::path manifest = store.parent_path() / "manifest_process_new_data.json";
  std::ifstream in(manifest);
  if (!in) return hash;
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::string name = store.filename().string();
  const std::size_t at = text.find(name + "\"");
  const std::size_t key = at == std::string::npos ? at : text.find("\"hash\"", at);
  if (key != std::string::npos) {
    const std::size_t open = text.find('"', text.find(':', key) + 1);
    const std::string recorded = text.substr(open + 1, text.find('"', open + 1) - open - 1);
    if (recorded != hash)
      throw qf::data::InputError(store.string(), 0, "hash",
                                 "the store changed since " + manifest.string() + " recorded it (" +
                                     recorded + "): rerun process_new_data");
  }
  return hash;
}

using qf::data::json_number;
std::string json_string(const std::string& s) {
  return qf::data::json_quoted(s);
}

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

// The settings two study keys ("name=value name=value | trial ...") disagree on, e.g. "the folder's
// execution=next_close, this run's execution=next_open", so that a refused resume names both.
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

int main(int argc, char** argv) {
  qf::apps::use_best_blas_kernels(argv);  // before MPI starts
  qf::apps::Cluster cluster(argc, argv);
  try {
    std::string store = "out/universe.h5", out = "out/training", tickers, scope = "per_stock",
                label = "next_day_up";
    // Defaults sized for a first run that recovers a planted edge in minutes (docs/run_lstm_training.md,
    // "Defaults"); the window stays the plan's 60 days.
    std::string models = "lstm", hidden = "32", layers = "1", dropout = "0", lrs = "3e-3", windows = "60";
    std::string features = "default", search = "grid", cv = "walk_forward", device = "cpu";
    int trials = 0, threads = 2, abort_after = 0;
    bool quiet = false, cosine = false, pooled_scaling = false, restart = false;
    qf::quant::StudyOptions o;
    o.fit.epochs = 10;
    o.fit.patience = 2;
    qf::apps::TradeTimingOptions timing;
    po::options_description options(
        "run_lstm_training: train, cross-validate and tune LSTM (and other) models for every stock of a "
        "store.\n"
        "Comma lists (--hidden 32,64) span a search; --features alternatives are separated by ';'");
    // clang-format off
    options.add_options()
        ("help,h", "show this help")
        ("store", po::value(&store)->default_value(store), "universe store written by process_new_data")
        ("out", po::value(&out)->default_value(out), "output folder (registry, tables, checkpoints); a rerun resumes")
        ("tickers", po::value(&tickers), "comma list of tickers to train (default: all)")
        ("scope", po::value(&scope)->default_value(scope), "per_stock (one model per ticker) or pooled (one for all)")
        ("model", po::value(&models)->default_value(models), "architectures: lstm, gru, attention_gru or registered ones")
        ("hidden", po::value(&hidden)->default_value(hidden), "hidden sizes")
        ("layers", po::value(&layers)->default_value(layers), "recurrent layers")
        ("dropout", po::value(&dropout)->default_value(dropout), "dropout between recurrent layers")
        ("lr", po::value(&lrs)->default_value(lrs), "learning rates (AdamW)")
        ("window", po::value(&windows)->default_value(windows), "sequence lengths")
        ("features", po::value(&features)->default_value(features),
         "feature sets or lists: a set name (default, returns, momentum, technical, all) or panels, "
         "e.g. 'returns,rsi_14;default'")
        ("search", po::value(&search)->default_value(search), "grid (every combination) or random")
        ("trials", po::value(&trials)->default_value(0), "random search: number of trials")
        ("label", po::value(&label)->default_value(label), "next_day_up, beyond_threshold or beats_median")
        ("threshold", po::value(&o.label.threshold_in_vols)->default_value(o.label.threshold_in_vols),
         "beyond_threshold: band in units of 20-day volatility (times sqrt(horizon))")
        ("cv", po::value(&cv)->default_value(cv), "none, walk_forward, rolling, purged_kfold or cpcv")
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
        ("pooled-scaling", po::bool_switch(&pooled_scaling), "pooled scope: one scaler for all tickers (default: per ticker)")
        ("select-by", po::value(&o.select_by)->default_value(o.select_by),
         "CV metric choosing the best trial: accuracy, balanced_accuracy, auc, log_loss, ic")
        ("epochs", po::value(&o.fit.epochs)->default_value(o.fit.epochs), "maximum epochs")
        ("patience", po::value(&o.fit.patience)->default_value(o.fit.patience), "early-stopping patience (0: off)")
        ("batch-size", po::value(&o.fit.train.batch_size)->default_value(o.fit.train.batch_size), "minibatch size")
        ("weight-decay", po::value(&o.fit.weight_decay)->default_value(o.fit.weight_decay), "AdamW weight decay")
        ("clip", po::value(&o.fit.train.clip_norm)->default_value(o.fit.train.clip_norm), "gradient norm clip (0: off)")
        ("cosine", po::bool_switch(&cosine), "cosine learning-rate schedule")
        ("seed", po::value(&o.seed)->default_value(o.seed), "seed of every initialisation and shuffle")
        ("threads", po::value(&threads)->default_value(threads), "threads per process")
        ("device", po::value(&device)->default_value(device),
         "cpu, or cuda: per-stock LSTM fits trained together on the GPU, one lockstep group per trial")
        ("quiet", po::bool_switch(&quiet), "no progress output")
        ("restart", po::bool_switch(&restart),
         "discard the checkpoints and results in --out and start over (default: resume the same study)")
        ("abort-after", po::value(&abort_after)->default_value(0),
         "test hook: end abruptly after this many new units, as a kill would");
    // clang-format on
    timing.add_to(options);
    if (!qf::apps::parse_command_line(argc, argv, options, cluster.rank() == 0)) return 0;
    if (o.fit.train.batch_size < 1 || o.fit.epochs < 1)
      throw po::error("--batch-size and --epochs must be >= 1");
    if (device != "cpu" && device != "cuda") throw po::error("--device must be cpu or cuda, not " + device);
    if (scope != "per_stock" && scope != "pooled") throw po::error("--scope must be per_stock or pooled");
    if (search != "grid" && search != "random") throw po::error("--search must be grid or random");
    o.scope = scope == "pooled" ? qf::quant::Scope::pooled : qf::quant::Scope::per_stock;
    o.label.kind = qf::quant::parse_label_kind(label);
    o.label.timing = timing.timing();
    o.cv = qf::quant::parse_cv_scheme(cv);
    o.fit.cosine_schedule = cosine;
    o.per_ticker_scaling = !pooled_scaling;
    if (!tickers.empty()) o.tickers = parse_list<std::string>(tickers, "tickers");
    qf::quant::SearchSpace space;
    space.architectures = parse_list<std::string>(models, "model");
    space.hidden = parse_list<std::int64_t>(hidden, "hidden");
    space.layers = parse_list<std::int64_t>(layers, "layers");
    space.dropout = parse_list<double>(dropout, "dropout");
    space.learning_rates = parse_list<double>(lrs, "lr");
    space.windows = parse_list<std::int64_t>(windows, "window");
    space.feature_sets = parse_list<std::string>(features, "features", ';');
    const auto trial_list = search == "random"
                                ? qf::quant::random_trials(space, trials > 0 ? trials : 8, o.seed)
                                : qf::quant::grid_trials(space);
    if (device == "cuda") {  // the multi-model GPU trainer: per-stock LSTM classifiers without dropout
      if (o.scope != qf::quant::Scope::per_stock) throw po::error("--device cuda: only --scope per_stock");
      for (const auto& t : trial_list)
        if (t.model.architecture != "lstm" || (t.model.num_layers > 1 && t.model.dropout != 0.0))
          throw po::error("--device cuda: only lstm models without dropout (not " + t.describe() + ")");
      if (qf::cuda_device_count() == 0) throw std::runtime_error("--device cuda: no CUDA device found");
      o.device = qf::quant::FitDevice::cuda;
    }
    qf::set_num_threads(threads);

    if (!fs::exists(store))
      throw qf::data::InputError(store, 0, "", "no store here: run process_new_data first");
    const auto load_start = std::chrono::steady_clock::now();
    const std::string hash = data_hash(store);
    qf::data::FeaturePanels panels;
    const qf::data::Universe universe = qf::data::read_universe(store, &panels);
    qf::quant::Study study(universe, panels, o, trial_list, out);

    // The study key guards the folder: a rerun resumes only the same study.
    // A pooled model's gradient sums depend on the thread count (per-stock fits never split theirs); GPU
    // sums differ from the CPU's in the last bits, so a folder never mixes the two devices either.
    const bool cuda = o.device == qf::quant::FitDevice::cuda;
    const std::string key =
        qf::quant::study_key(o, trial_list, hash) +
        (o.scope == qf::quant::Scope::pooled ? " threads=" + std::to_string(threads) : "") +
        (cuda ? " device=cuda" : "");
    const fs::path key_file = fs::path(out) / "study_key.txt";
    if (restart && cluster.rank() == 0)
      for (const char* name : {"checkpoints", "registry.h5", "study_key.txt", "summary.txt", "trials.csv",
                               "cv_folds.csv", "coverage.csv", "sectors.csv", "training_summary.json"})
        fs::remove_all(fs::path(out) / name);
    cluster.barrier();
    if (fs::exists(key_file)) {
      std::ifstream in(key_file);
      const std::string stored((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      if (stored != key + "\n")
        throw std::invalid_argument(
            out + " holds a different study (" + key_difference(stored, key) + "; see " + key_file.string() +
            "): use a fresh --out, --restart, or the same settings and store to resume");
    }
    cluster.barrier();  // every rank compared the key before rank 0 may write it
    if (cluster.rank() == 0) {
      fs::create_directories(out);
      qf::data::write_text_atomically(key_file, key + "\n");
    }
    const double load_secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - load_start).count();
    if (cluster.rank() == 0 && !quiet)
      std::fprintf(stderr,
                   "run_lstm_training: %zu tickers, %zu trial(s), %zu CV folds, %d rank(s) x %d thread(s), "
                   "OpenBLAS %s kernels; store loaded in %.2f s\n",
                   study.tickers().size(), trial_list.size(), study.plan().folds.size(), cluster.size(),
                   threads, qf::blas::core_name(), load_secs);

    Progress progress(quiet || cluster.rank() != 0);
    const auto started = std::chrono::steady_clock::now();
    const qf::quant::StudyResult result = study.run(
        cluster.rank(), cluster.size(), [&] { cluster.barrier(); }, [&](const auto& p) { progress(p); },
        abort_after);
    const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    const auto totals =
        cluster.sum({static_cast<double>(result.fits), static_cast<double>(result.train_samples_seen),
                     static_cast<double>(result.eval_samples_seen)});
    if (cluster.rank() != 0) return 0;

    study.write_registry(result, hash);
    const auto& best = trial_list[static_cast<std::size_t>(result.best_trial)];
    const auto feature_names = qf::quant::resolve_features(best.features, panels);
    std::int64_t trained = 0;
    for (const auto& c : result.coverage) trained += c.status == "trained" ? 1 : 0;
    std::ostringstream json;
    json << "{\n  \"created_utc\": " << json_string(qf::data::utc_now())
         << ",\n  \"store\": " << json_string(store) << ",\n  \"data_hash\": " << json_string(hash)
         << ",\n  \"ranks\": " << cluster.size() << ",\n  \"threads\": " << threads
         << ",\n  \"fit_seconds\": " << json_number(wall) << ",\n  \"fits\": " << totals[0]
         << ",\n  \"train_samples_seen\": " << totals[1] << ",\n  \"eval_samples_seen\": " << totals[2]
         << ",\n  \"train_samples_per_second\": " << json_number(totals[1] / wall)
         << ",\n  \"best_trial\": " << result.best_trial
         << ",\n  \"best_config\": " << json_string(best.describe()) << ",\n  \"features\": [";
    for (std::size_t k = 0; k < feature_names.size(); ++k)
      json << (k ? ", " : "") << json_string(feature_names[k]);
    json << "],\n  \"window\": " << best.window << ",\n  \"hidden\": " << best.model.hidden_size
         << ",\n  \"layers\": " << best.model.num_layers << ",\n  \"batch_size\": " << o.fit.train.batch_size
         << ",\n  \"epochs\": " << o.fit.epochs
         << ",\n  \"test_accuracy\": " << json_number(result.test.classification.accuracy)
         << ",\n  \"test_auc\": " << json_number(result.test.classification.auc)
         << ",\n  \"test_predictions\": " << result.test.classification.count
         << ",\n  \"tickers\": " << result.coverage.size() << ",\n  \"trained\": " << trained << "\n}\n";
    qf::data::write_text_atomically(fs::path(out) / "training_summary.json", json.str());
    if (!quiet) {
      std::ifstream summary(fs::path(out) / "summary.txt");
      std::cout << summary.rdbuf();
      std::printf("%.0f fits, %.0f training samples in %.1f s (%.0f samples/s) -> %s/registry.h5\n",
                  totals[0], totals[1], wall, totals[1] / wall, out.c_str());
    }
    return 0;
  } catch (const qf::data::InputError& e) {
    std::fprintf(stderr, "run_lstm_training: bad input: %s\n", e.what());
    if (cluster.size() > 1) cluster.abort(1);
    return 1;
  } catch (const po::error& e) {
    std::fprintf(stderr, "run_lstm_training: %s (see --help)\n", e.what());
    if (cluster.size() > 1) cluster.abort(2);
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "run_lstm_training: %s\n", e.what());
    if (cluster.size() > 1) cluster.abort(1);
    return 1;
  }
}
