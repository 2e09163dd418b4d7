#include "qf/quant/study/training.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <iomanip>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <numeric>
#include <optional>
#include <set>
#include <sstream>
#include <stdexcept>

#include "qf/core/require.h"
#include "qf/nn/lstm_multi.h"
#include "qf/nn/serialize.h"
#include "qf/quant/cv/cross_validation.h"
#include "qf/quant/registry/registry.h"
#include "qf/tensor/hash.h"
#include "qf/tensor/hdf5.h"
#include "qf/tensor/parallel.h"

#ifndef QF_BUILD_VERSION
#define QF_BUILD_VERSION "unknown"
#endif

namespace qf::quant {

namespace fs = std::filesystem;

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

std::string format_double(double v) {
  std::ostringstream s;
  s.precision(6);
  s << v;
  return s.str();
}

// Days of `sorted_days` that are also in `allowed` (both ascending).
std::vector<std::int64_t> intersect(std::span<const std::int64_t> sorted_days,
                                    const std::vector<std::int64_t>& allowed) {
  std::vector<std::int64_t> out;
  std::set_intersection(sorted_days.begin(), sorted_days.end(), allowed.begin(), allowed.end(),
                        std::back_inserter(out));
  return out;
}

std::vector<SampleRef> samples_of(std::int64_t ticker, const std::vector<std::int64_t>& days) {
  std::vector<SampleRef> out;
  out.reserve(days.size());
  for (const std::int64_t d : days)
    out.push_back({static_cast<std::int32_t>(ticker), static_cast<std::int32_t>(d)});
  return out;
}

// Moves the last `fraction` of the training days into a validation block, and purges the training days
// whose label reaches past the block's first decision day (the block sits at the end, so only days
// before it can leak; cross_validation.h).
void carve_validation(DaySplit& split, double fraction, std::int64_t label_end_offset) {
  const auto n = static_cast<std::int64_t>(split.train.size());
  const auto k = static_cast<std::int64_t>(std::floor(static_cast<double>(n) * fraction));
  if (k < 1) return;
  split.validation.assign(split.train.end() - k, split.train.end());
  split.train.resize(static_cast<std::size_t>(n - k));
  const std::int64_t first = split.validation.front();
  std::erase_if(split.train, [&](std::int64_t t) { return t + label_end_offset > first; });
}

// The stored form of a unit's outcome (a checkpoint file).
struct UnitResult {
  std::string status = "trained", reason;
  Predictions predictions;
  std::vector<std::int32_t> prediction_fold;  // per prediction (cross-validation units)
  // Cross-validation units: each fold model's predictions of the days from the test period's first to
  // the calendar's last (out of sample: folds train on development days only), for fold ensembles.
  Predictions forward;
  std::vector<std::int32_t> forward_fold;
  std::int64_t train_samples = 0, validation_samples = 0, test_samples = 0, epochs_run = 0, best_epoch = 0;
  double validation_loss = kNaN, last_loss = kNaN;
  std::int64_t fits = 0, train_samples_seen = 0, eval_samples_seen = 0;
};

Tensor doubles(const std::vector<double>& v) {
  return Tensor::from<double>(std::span<const double>(v), {static_cast<std::int64_t>(v.size())});
}
template <class I>
Tensor integers(const std::vector<I>& v) {
  std::vector<double> d(v.begin(), v.end());
  return doubles(d);
}
std::vector<double> read_doubles(const h5::File& f, const std::string& name) {
  const Tensor t = f.read(name);
  return {t.data<double>(), t.data<double>() + t.numel()};
}
template <class I>
std::vector<I> read_integers(const h5::File& f, const std::string& name) {
  const std::vector<double> d = read_doubles(f, name);
  return {d.begin(), d.end()};
}

void write_predictions(h5::File& f, const std::string& group, const Predictions& p) {
  const std::vector<double> ticker(p.ticker.begin(), p.ticker.end()), day(p.day.begin(), p.day.end());
  write_prediction_columns(f, group, {ticker, day, p.probability, p.label, p.traded_return});
}
Predictions read_predictions(const h5::File& f, const std::string& group) {
  Predictions p;
  p.ticker = read_integers<std::int32_t>(f, group + "/ticker");
  p.day = read_integers<std::int32_t>(f, group + "/day");
  p.probability = read_doubles(f, group + "/probability");
  p.label = read_doubles(f, group + "/label");
  p.traded_return = read_doubles(f, group + "/traded_return");
  return p;
}

const char* kCounts[] = {"train_samples",      "validation_samples", "test_samples",
                         "epochs_run",         "best_epoch",         "fits",
                         "train_samples_seen", "eval_samples_seen"};

void write_unit(const fs::path& path, const UnitResult& r, const std::function<void(h5::File&)>& extra) {
  // One writer at a time: workers finish units concurrently, and not every HDF5 build is thread-safe.
  static std::mutex writing;
  const std::lock_guard lock(writing);
  fs::create_directories(path.parent_path());
  h5::write_atomically(path, [&](h5::File& f) {
    f.set_attr("/", "format", std::string("quantforge.checkpoint"));
    f.set_attr("/", "status", r.status);
    f.set_attr("/", "reason", r.reason);
    const std::int64_t counts[] = {r.train_samples,      r.validation_samples, r.test_samples,
                                   r.epochs_run,         r.best_epoch,         r.fits,
                                   r.train_samples_seen, r.eval_samples_seen};
    for (std::size_t k = 0; k < std::size(kCounts); ++k) f.set_attr("/", kCounts[k], counts[k]);
    f.set_attr("/", "validation_loss", r.validation_loss);
    f.set_attr("/", "last_loss", r.last_loss);
    write_predictions(f, "/predictions", r.predictions);
    f.write("/predictions/fold", integers(r.prediction_fold));
    if (!r.forward_fold.empty()) {
      write_predictions(f, "/forward_predictions", r.forward);
      f.write("/forward_predictions/fold", integers(r.forward_fold));
    }
    if (extra) extra(f);
  });
}

UnitResult read_unit(const h5::File& f) {
  if (!f.has_attr("/", "format") || f.attr_string("/", "format") != "quantforge.checkpoint")
    throw std::runtime_error(f.path().string() + ": not a QuantForge checkpoint");
  UnitResult r;
  r.status = f.attr_string("/", "status");
  r.reason = f.attr_string("/", "reason");
  std::int64_t* counts[] = {&r.train_samples,      &r.validation_samples, &r.test_samples,
                            &r.epochs_run,         &r.best_epoch,         &r.fits,
                            &r.train_samples_seen, &r.eval_samples_seen};
  for (std::size_t k = 0; k < std::size(kCounts); ++k) *counts[k] = f.attr_int("/", kCounts[k]);
  r.validation_loss = f.attr_double("/", "validation_loss");
  r.last_loss = f.attr_double("/", "last_loss");
  r.predictions = read_predictions(f, "/predictions");
  r.prediction_fold = read_integers<std::int32_t>(f, "/predictions/fold");
  if (f.exists("/forward_predictions")) {
    r.forward = read_predictions(f, "/forward_predictions");
    r.forward_fold = read_integers<std::int32_t>(f, "/forward_predictions/fold");
  }
  return r;
}

// Predictions of a fitted model on the given samples.
Predictions predict(nn::SequenceClassifier& model, const StockDataset& data,
                    const WindowBatchSource& source) {
  Predictions p;
  p.probability = nn::predict_proba([&](const Var& x) { return model.forward(x); }, source);
  for (const SampleRef& s : source.samples()) {
    p.ticker.push_back(s.ticker);
    p.day.push_back(s.day);
    p.label.push_back(data.label(s.ticker, s.day));
    p.traded_return.push_back(data.traded_return(s.ticker, s.day));
  }
  return p;
}

// The samples of one fit: train (early stopping on validation), then predict test and forward (a CV
// fold model's days from the test period on, for fold ensembles); `stream` seeds the model and the
// shuffling.
struct FitRequest {
  std::vector<SampleRef> train, validation, test, forward;
  std::uint64_t stream = 0;
};

struct FitOutcome {
  std::unique_ptr<nn::SequenceClassifier> model;
  std::vector<data::StandardScaler> scalers;
  nn::FitResult fit;
  Predictions test, forward;
};

// Everything of a fit but the training: scalers from the training rows, the sources, a fresh model
// (its seed from the request's stream) and the samples to predict afterwards.
struct FitSetup {
  FitOutcome out;
  std::vector<SampleRef> test, forward;  // those with a scaler
  std::optional<WindowBatchSource> train, validation;
  Rng rng{0};
  nn::FitOptions fit;
};

FitSetup setup_fit(const StockDataset& data, const Trial& trial, const StudyOptions& o,
                   bool per_ticker_scaling, const FitRequest& q) {
  FitSetup s;
  s.out.scalers = fit_scalers(data, q.train, per_ticker_scaling);
  // A ticker without training rows has no scaler of its own (a pooled model, a listing that starts late):
  // its validation and test samples are left out rather than scaled by anything else.
  auto scaled = [&](const std::vector<SampleRef>& samples) {
    if (!per_ticker_scaling) return samples;
    std::vector<SampleRef> kept;
    for (const SampleRef& r : samples)
      if (!s.out.scalers[static_cast<std::size_t>(r.ticker)].mean().empty()) kept.push_back(r);
    return kept;
  };
  s.test = scaled(q.test);
  s.forward = scaled(q.forward);
  s.train.emplace(data, q.train, s.out.scalers);
  s.validation.emplace(data, scaled(q.validation), s.out.scalers);
  nn::ModelSpec spec = trial.model;
  spec.input_size = data.feature_count();
  s.rng = Rng(o.seed).split(q.stream);
  s.out.model = nn::make_model(spec, s.rng);
  s.fit = o.fit;
  s.fit.learning_rate = trial.learning_rate;
  return s;
}

// After training: refuses a non-finite training loss, then predicts the test and forward samples.
FitOutcome finish_fit(const StockDataset& data, FitSetup& s) {
  for (const auto& e : s.out.fit.train)
    if (!std::isfinite(e.loss)) throw std::runtime_error("training loss is not finite");
  if (!s.test.empty())
    s.out.test = predict(*s.out.model, data, WindowBatchSource(data, s.test, s.out.scalers));
  if (!s.forward.empty())
    s.out.forward = predict(*s.out.model, data, WindowBatchSource(data, s.forward, s.out.scalers));
  return std::move(s.out);
}

// Fits one model as the request says (nn::fit, on this thread) and predicts its test and forward samples.
FitOutcome fit_one(const StockDataset& data, const Trial& trial, const StudyOptions& o,
                   bool per_ticker_scaling, const FitRequest& q) {
  FitSetup s = setup_fit(data, trial, o, per_ticker_scaling, q);
  s.out.fit = nn::fit(*s.out.model, *s.train, &*s.validation, s.fit, s.rng);
  return finish_fit(data, s);
}

// A fit done ahead on the GPU: its outcome, or why it failed.
struct Prefit {
  FitOutcome outcome;
  std::string error;
};

// At most this many fits train in one lockstep group: at the default shape (batch 64, validation batch
// 256, sequence 60, hidden 64) a group of 512 needs about 20 GB of device memory.
constexpr std::size_t kMaxModelsPerGroup = 512;

// The requests of one trial (per-stock LSTMs: one shape) trained in lockstep groups (nn::fit_multi, on
// the GPU or with the CPU reference), each with exactly fit_one's setup and predictions; keyed by stream.
// A group that fails records its error on every fit of the group.
std::map<std::uint64_t, Prefit> fit_grouped(const StockDataset& data, const Trial& trial,
                                            const StudyOptions& o, const std::vector<FitRequest>& requests) {
  std::map<std::uint64_t, Prefit> done;
  for (std::size_t first = 0; first < requests.size(); first += kMaxModelsPerGroup) {
    const std::span<const FitRequest> group(requests.data() + first,
                                            std::min(kMaxModelsPerGroup, requests.size() - first));
    std::vector<FitSetup> setups;
    std::vector<nn::LSTMClassifier*> models;
    std::vector<const nn::BatchSource*> train, validation;
    std::vector<Rng> rngs;
    try {
      for (const FitRequest& r : group) {
        setups.push_back(setup_fit(data, trial, o, true, r));
        auto* lstm = dynamic_cast<nn::LSTMClassifier*>(setups.back().out.model.get());
        QF_REQUIRE(lstm, "--device cuda", "architecture", trial.model.architecture,
                   "is not lstm (the only one it trains)");
        models.push_back(lstm);
      }
      for (FitSetup& s : setups) {  // pointers into setups only once it no longer grows
        train.push_back(&*s.train);
        validation.push_back(&*s.validation);
        rngs.push_back(s.rng);
      }
      std::vector<nn::FitResult> fits = nn::fit_multi(
          models, train, validation, setups.front().fit, rngs,
          o.device == FitDevice::cuda ? nn::MultiBackend::cuda : nn::MultiBackend::cpu_reference);
      for (std::size_t k = 0; k < setups.size(); ++k) setups[k].out.fit = std::move(fits[k]);
    } catch (const std::exception& e) {
      for (const FitRequest& r : group) done[r.stream].error = std::string("grouped training: ") + e.what();
      continue;
    }
    for (std::size_t k = 0; k < setups.size(); ++k) {
      Prefit& p = done[group[k].stream];
      try {
        p.outcome = finish_fit(data, setups[k]);
      } catch (const std::exception& e) {
        p.error = e.what();
      }
    }
  }
  return done;
}

void write_scalers(h5::File& f, const std::string& group, const std::vector<data::StandardScaler>& scalers,
                   std::int64_t features) {
  const auto n = static_cast<std::int64_t>(scalers.size());
  Tensor mean = Tensor::full({n, features}, kNaN, DType::f64),
         scale = Tensor::full({n, features}, kNaN, DType::f64);
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t j = 0; j < features && !scalers[static_cast<std::size_t>(i)].mean().empty(); ++j) {
      mean.data<double>()[i * features + j] =
          scalers[static_cast<std::size_t>(i)].mean()[static_cast<std::size_t>(j)];
      scale.data<double>()[i * features + j] =
          scalers[static_cast<std::size_t>(i)].scale()[static_cast<std::size_t>(j)];
    }
  f.write(group + "/mean", mean);
  f.write(group + "/scale", scale);
}

// A model saved by nn::write_model at /model of a checkpoint, copied to `group` of the registry (the
// same layout, so nn::read_parameters loads it from there).
void copy_model(const h5::File& from, h5::File& to, const std::string& group) {
  for (const auto& name : from.list("/model/parameters"))
    to.write(group + "/parameters/" + name, from.read("/model/parameters/" + name));
  to.create_group(group + "/config");
  for (const auto& key : from.attr_names("/model/config"))
    to.set_attr(group + "/config", key, from.attr_string("/model/config", key));
  for (const char* key : {"format", "model_type", "architecture"})
    to.set_attr(group, key, from.attr_string("/model", key));
  to.set_attr(group, "format_version", from.attr_int("/model", "format_version"));
}

// Share of labels that are 1: the accuracy of always predicting "up".
double up_share(const std::vector<double>& labels) {
  double ups = 0, count = 0;
  for (const double y : labels)
    if (std::isfinite(y)) {
      ups += y > 0.5 ? 1 : 0;
      count += 1;
    }
  return count > 0 ? ups / count : kNaN;
}

// Mean and sample standard deviation (0 for a single value) of a non-empty list.
struct MeanSd {
  double mean = 0, sd = 0;
};
MeanSd mean_sd(const std::vector<double>& v) {
  const double mean = std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size());
  double ss = 0;
  for (const double x : v) ss += (x - mean) * (x - mean);
  return {mean, v.size() > 1 ? std::sqrt(ss / static_cast<double>(v.size() - 1)) : 0.0};
}

// The folds of a trial, one line each, and the mean +/- sample standard deviation of every metric.
std::string fold_table(const TrialSummary& t) {
  std::ostringstream out;
  out.precision(4);
  out << std::fixed;
  const char* names[] = {"accuracy", "balanced_accuracy", "auc", "log_loss", "ic"};
  auto metrics = [](const Scores& s) {
    return std::array<double, 5>{s.classification.accuracy, s.classification.balanced_accuracy,
                                 s.classification.auc, s.classification.log_loss, s.ic};
  };
  out << "  fold  samples  accuracy  bal.acc     AUC  logloss      IC\n";
  std::array<std::vector<double>, 5> columns;
  for (std::size_t k = 0; k < t.folds.size(); ++k) {
    if (t.fold_samples[k] == 0) {
      out << "  " << std::setw(4) << k << "        0  (no ticker had enough training history)\n";
      continue;
    }
    const auto m = metrics(t.folds[k]);
    out << "  " << std::setw(4) << k << std::setw(9) << t.fold_samples[k];
    for (std::size_t j = 0; j < m.size(); ++j) {
      out << std::setw(j == 0 ? 10 : 8) << m[j];
      columns[j].push_back(m[j]);
    }
    out << '\n';
  }
  out << "  mean +/- sd over folds:";
  for (std::size_t j = 0; j < columns.size(); ++j) {
    if (columns[j].empty()) continue;
    const MeanSd column = mean_sd(columns[j]);
    out << ' ' << names[j] << ' ' << column.mean << " +/- " << column.sd;
  }
  out << '\n';
  return out.str();
}

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string q = "\"";
  for (const char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
  return q + "\"";
}

}  // namespace

// ---- names, trials, plan, scores ------------------------------------------------------------------------

CvScheme parse_cv_scheme(const std::string& name) {
  if (name == "none") return CvScheme::none;
  if (name == "walk_forward") return CvScheme::walk_forward;
  if (name == "rolling") return CvScheme::rolling;
  if (name == "purged_kfold") return CvScheme::purged_kfold;
  if (name == "cpcv") return CvScheme::combinatorial;
  throw std::invalid_argument("unknown cross-validation '" + name +
                              "' (none, walk_forward, rolling, purged_kfold, cpcv)");
}

std::string to_string(CvScheme scheme) {
  switch (scheme) {
    case CvScheme::none:
      return "none";
    case CvScheme::walk_forward:
      return "walk_forward";
    case CvScheme::rolling:
      return "rolling";
    case CvScheme::purged_kfold:
      return "purged_kfold";
    case CvScheme::combinatorial:
      return "cpcv";
  }
  return "?";
}

std::string Trial::describe() const {
  return model.architecture + " h=" + std::to_string(model.hidden_size) +
         " L=" + std::to_string(model.num_layers) + " drop=" + format_double(model.dropout) +
         " lr=" + format_double(learning_rate) + " w=" + std::to_string(window) + " f=" + features;
}

std::vector<Trial> grid_trials(const SearchSpace& s) {
  std::vector<Trial> trials;
  for (const auto& features : s.feature_sets)
    for (const auto window : s.windows)
      for (const auto& architecture : s.architectures)
        for (const auto hidden : s.hidden)
          for (const auto layers : s.layers)
            for (const auto dropout : s.dropout)
              for (const auto lr : s.learning_rates) {
                Trial t;
                t.model = nn::ModelSpec{architecture, 0, hidden, layers, dropout};
                t.learning_rate = lr;
                t.window = window;
                t.features = features;
                trials.push_back(t);
              }
  QF_REQUIRE_MSG(!trials.empty(), "grid_trials", "the search space is empty (a hyperparameter has no value)");
  return trials;
}

std::vector<Trial> random_trials(const SearchSpace& space, int count, std::uint64_t seed) {
  std::vector<Trial> all = grid_trials(space);
  if (count >= static_cast<int>(all.size())) return all;
  Rng rng(seed);  // a partial Fisher-Yates: the first `count` of a uniform permutation
  for (std::size_t i = 0; i < static_cast<std::size_t>(count); ++i)
    std::swap(all[i], all[i + rng.next_u64() % (all.size() - i)]);
  all.resize(static_cast<std::size_t>(std::max(count, 1)));
  return all;
}

CalendarPlan plan_calendar(std::int64_t days, std::int64_t window, std::int64_t label_end_offset,
                           const StudyOptions& o) {
  CalendarPlan plan;
  plan.test_last = days - 1 - label_end_offset;  // the last day whose label can be known
  plan.test_first =
      days - static_cast<std::int64_t>(std::llround(o.test_fraction * static_cast<double>(days)));
  plan.dev_first = window - 1;
  // No development label may use a price after the first test decision: t + L <= test_first. (Test
  // windows may hold development days: features are the past.)
  plan.dev_last = plan.test_first - label_end_offset;
  QF_REQUIRE(o.test_fraction > 0 && o.test_fraction < 1 && plan.test_first <= plan.test_last, "plan_calendar",
             "test_fraction", o.test_fraction, "leaves no test period in " + std::to_string(days) + " days");
  // What a fit really needs: enough training windows (min_train_samples) in the development period (a
  // fold or ticker with fewer training samples is skipped, as before).
  const std::int64_t dev_days_count = plan.dev_last - plan.dev_first + 1;
  QF_REQUIRE_MSG(dev_days_count >= o.min_train_samples, "plan_calendar",
                 days << " calendar days leave " << std::max<std::int64_t>(dev_days_count, 0)
                      << " development days for window " << window << " and a test period of "
                      << format_double(o.test_fraction * 100) << " %, fewer than --min-train "
                      << o.min_train_samples);
  std::vector<std::int64_t> dev_days(static_cast<std::size_t>(plan.dev_last - plan.dev_first + 1));
  std::iota(dev_days.begin(), dev_days.end(), plan.dev_first);
  const std::vector<cv::SampleSpan> spans = cv::window_spans(dev_days, window, label_end_offset);
  std::vector<cv::Split> splits;
  switch (o.cv) {
    case CvScheme::none:
      break;
    case CvScheme::walk_forward:
      splits = cv::walk_forward(spans, o.folds, 0, o.initial_train_share);
      break;
    case CvScheme::rolling:
      splits = cv::walk_forward(spans, o.folds, o.rolling_blocks, o.initial_train_share);
      break;
    case CvScheme::purged_kfold:
      splits = cv::purged_kfold(spans, o.folds, o.embargo);
      break;
    case CvScheme::combinatorial:
      splits = cv::combinatorial_purged(spans, o.folds, o.cpcv_test_groups, o.embargo).splits;
      break;
  }
  auto to_days = [&](const std::vector<std::int64_t>& samples) {
    std::vector<std::int64_t> out;
    for (const std::int64_t s : samples) out.push_back(dev_days[static_cast<std::size_t>(s)]);
    return out;
  };
  for (const cv::Split& s : splits) {
    DaySplit d{to_days(s.train), {}, to_days(s.test), s.purged, s.embargoed};
    carve_validation(d, o.validation_fraction, label_end_offset);
    plan.folds.push_back(std::move(d));
  }
  plan.final.train = dev_days;
  carve_validation(plan.final, o.validation_fraction, label_end_offset);
  for (std::int64_t t = plan.test_first; t <= plan.test_last; ++t) plan.final.test.push_back(t);
  return plan;
}

Scores score_predictions(std::span<const double> p, std::span<const double> labels,
                         std::span<const double> r) {
  Scores s;
  s.classification = classification_scores(p, labels);
  std::vector<double> centred(p.begin(), p.end());
  for (double& v : centred) v -= 0.5;
  s.ic = centred.size() > 2 ? information_coefficient(centred, r) : kNaN;
  s.rank_ic = centred.size() > 2 ? rank_information_coefficient(centred, r) : kNaN;
  return s;
}

bool higher_is_better(const std::string& metric) {
  return metric != "log_loss" && metric != "brier";
}

double selection_value(const Scores& s, const std::string& metric) {
  if (metric == "accuracy") return s.classification.accuracy;
  if (metric == "balanced_accuracy") return s.classification.balanced_accuracy;
  if (metric == "auc") return s.classification.auc;
  if (metric == "log_loss") return s.classification.log_loss;
  if (metric == "brier") return s.classification.brier;
  if (metric == "ic") return s.ic;
  if (metric == "rank_ic") return s.rank_ic;
  throw std::invalid_argument("unknown selection metric '" + metric +
                              "' (accuracy, balanced_accuracy, auc, log_loss, brier, ic, rank_ic)");
}

void Predictions::append(const Predictions& o) {
  ticker.insert(ticker.end(), o.ticker.begin(), o.ticker.end());
  day.insert(day.end(), o.day.begin(), o.day.end());
  probability.insert(probability.end(), o.probability.begin(), o.probability.end());
  label.insert(label.end(), o.label.begin(), o.label.end());
  traded_return.insert(traded_return.end(), o.traded_return.begin(), o.traded_return.end());
}

std::string study_key(const StudyOptions& o, const std::vector<Trial>& trials, const std::string& data_hash) {
  std::ostringstream k;
  k << "data=" << data_hash << " scope=" << (o.scope == Scope::pooled ? "pooled" : "per_stock")
    << " label=" << to_string(o.label.kind) << " threshold=" << o.label.threshold_in_vols
    << " execution=" << data::to_string(o.label.timing.execution) << " horizon=" << o.label.timing.horizon
    << " cv=" << to_string(o.cv) << " folds=" << o.folds << " initial=" << o.initial_train_share
    << " rolling=" << o.rolling_blocks << " cpcv_test=" << o.cpcv_test_groups << " embargo=" << o.embargo
    << " test=" << o.test_fraction << " validation=" << o.validation_fraction
    << " min_train=" << o.min_train_samples << " per_ticker_scaling=" << o.per_ticker_scaling
    << " select=" << o.select_by << " epochs=" << o.fit.epochs << " patience=" << o.fit.patience
    << " wd=" << o.fit.weight_decay << " cosine=" << o.fit.cosine_schedule
    << " batch=" << o.fit.train.batch_size << " clip=" << o.fit.train.clip_norm << " seed=" << o.seed
    << " tickers=";
  for (const auto& t : o.tickers) k << t << ',';
  for (const auto& t : trials) k << " | " << t.describe();
  return k.str();
}

// ---- the study ------------------------------------------------------------------------------------------

Study::Study(const data::Universe& universe, const data::FeaturePanels& panels, StudyOptions options,
             std::vector<Trial> trials, fs::path out_dir)
    : universe_(universe),
      panels_(panels),
      options_(std::move(options)),
      trials_(std::move(trials)),
      out_(std::move(out_dir)) {
  QF_REQUIRE_MSG(!trials_.empty(), "Study", "a study needs at least one trial");
  QF_REQUIRE_MSG(trials_.size() == 1 || options_.cv != CvScheme::none, "Study",
                 "a search over " << trials_.size()
                                  << " trials needs cross-validation to choose (--cv none allows one trial)");
  selection_value(Scores{}, options_.select_by);  // validates the metric name
  if (options_.tickers.empty()) {
    tickers_.resize(static_cast<std::size_t>(universe.ticker_count()));
    std::iota(tickers_.begin(), tickers_.end(), 0);
  } else {
    for (const auto& t : options_.tickers) {
      const std::int64_t i = universe.index_of(t);
      QF_REQUIRE(i >= 0, "Study", "ticker", t, "is not in the store");
      tickers_.push_back(i);
    }
    std::sort(tickers_.begin(), tickers_.end());
    tickers_.erase(std::unique(tickers_.begin(), tickers_.end()), tickers_.end());
  }
  for (Trial& t : trials_) {  // fail early on a bad feature or architecture name, or settings it refuses
    resolve_features(t.features, panels_);
    nn::ModelSpec probe = t.model;
    probe.input_size = 1;
    Rng rng(0);
    nn::make_model(probe, rng);
  }
  std::int64_t window = 0;
  for (const Trial& t : trials_) window = std::max(window, t.window);
  // One calendar plan for every trial (the longest window purges the most), so their CV scores compare.
  options_.label.timing.check();
  plan_ = plan_calendar(universe.day_count(), window, options_.label.timing.label_end_offset(), options_);
}

const StockDataset& Study::dataset(const Trial& trial) {
  const std::string key = std::to_string(trial.window) + "|" + trial.features;
  for (const auto& [k, d] : datasets_)
    if (k == key) return *d;
  DatasetOptions o{resolve_features(trial.features, panels_), trial.window, options_.label, tickers_};
  datasets_.emplace_back(key, std::make_unique<StockDataset>(universe_, panels_, std::move(o)));
  return *datasets_.back().second;
}

// ---- one run of the study, phase by phase ---------------------------------------------------------------

namespace {

// The seed stream of one fit: trial, who ("pooled" or the ticker) and fold (-1: the final fit).
std::uint64_t fit_stream(const Trial& trial, const std::string& who, std::int64_t fold) {
  return fnv1a_bytewise(trial.describe() + "|" + who + "|" + std::to_string(static_cast<int>(fold)),
                        kQuantKeySeed);
}

// Counts a fit in its unit's statistics.
void account(const nn::FitResult& f, UnitResult& r) {
  ++r.fits;
  r.train_samples_seen += f.train_samples_seen;
  r.eval_samples_seen += f.eval_samples_seen;
  if (!f.train.empty()) r.last_loss = f.train.back().loss;
}

// Runs one CV fold's work; a fold that fails is recorded in the unit and the unit's other folds kept.
template <class Body>
void record_failure(UnitResult& r, std::int64_t fold, Body&& body) {
  try {
    body();
  } catch (const std::exception& e) {
    r.status = "failed";
    r.reason += (r.reason.empty() ? "" : "; ") + ("fold " + std::to_string(fold) + ": " + e.what());
  }
}

UnitResult read_checkpoint(const fs::path& p) {
  if (!fs::exists(p)) throw std::runtime_error("checkpoint " + p.string() + " is missing (did a rank fail?)");
  const h5::File f(p, h5::File::Mode::read);
  return read_unit(f);
}

// (ticker, fold) -> the number of trials whose CV units predicted that pair.
using PairCounts = std::map<std::pair<std::int32_t, std::int32_t>, std::int64_t>;
PairCounts trials_predicting(const std::vector<std::vector<UnitResult>>& units) {
  PairCounts counts;
  for (const auto& trial_units : units)
    for (const UnitResult& r : trial_units) {
      std::set<std::pair<std::int32_t, std::int32_t>> pairs;
      for (std::size_t j = 0; j < r.predictions.size(); ++j)
        pairs.insert({r.predictions.ticker[j], r.prediction_fold[j]});
      for (const auto& pair : pairs) ++counts[pair];
    }
  return counts;
}

// One trial's CV predictions by fold ([folds]), keeping only the (ticker, fold) pairs that all `trials`
// trials predicted: a trial that failed or was skipped on hard cases is not scored on an easier subset.
std::vector<Predictions> common_predictions_by_fold(const std::vector<UnitResult>& units,
                                                    const PairCounts& predicted_by, std::int64_t trials,
                                                    std::int64_t folds) {
  std::vector<Predictions> by_fold(static_cast<std::size_t>(folds));
  for (const UnitResult& r : units)
    for (std::size_t j = 0; j < r.predictions.size(); ++j) {
      if (predicted_by.at({r.predictions.ticker[j], r.prediction_fold[j]}) != trials) continue;
      Predictions& target = by_fold[static_cast<std::size_t>(r.prediction_fold[j])];
      target.ticker.push_back(r.predictions.ticker[j]);
      target.day.push_back(r.predictions.day[j]);
      target.probability.push_back(r.predictions.probability[j]);
      target.label.push_back(r.predictions.label[j]);
      target.traded_return.push_back(r.predictions.traded_return[j]);
    }
  return by_fold;
}

// A trial's CV outcome: its summary, and all its scored predictions with the fold of each.
struct ScoredTrial {
  TrialSummary summary;
  Predictions all;
  std::vector<std::int32_t> fold_of_all;
};

// Scores each fold over all tickers, the selection metric's mean and spread over the folds that have
// predictions, and all folds' predictions together.
ScoredTrial score_trial(const Trial& trial, const std::vector<Predictions>& by_fold,
                        const std::string& select_by) {
  ScoredTrial out{TrialSummary{trial, {}, {}, 0, 0, {}}, {}, {}};
  TrialSummary& summary = out.summary;
  std::vector<double> values;
  for (const Predictions& p : by_fold) {
    out.fold_of_all.insert(out.fold_of_all.end(), p.size(),
                           static_cast<std::int32_t>(summary.fold_samples.size()));
    summary.fold_samples.push_back(static_cast<std::int64_t>(p.size()));
    summary.folds.push_back(score_predictions(p.probability, p.label, p.traded_return));
    if (p.size() > 0) values.push_back(selection_value(summary.folds.back(), select_by));
    out.all.append(p);
  }
  summary.pooled = score_predictions(out.all.probability, out.all.label, out.all.traded_return);
  if (!values.empty()) {
    const MeanSd m = mean_sd(values);
    summary.mean = m.mean;
    summary.spread = m.sd;
  } else {
    summary.mean = kNaN;
  }
  return out;
}

// Test accuracy per ticker from the pooled test predictions, scored as the pooled ones are (a cell
// without a label, e.g. a small move under beyond_threshold, is not scored).
void set_test_accuracy(std::vector<Coverage>& coverage, const Predictions& tp, const data::Universe& u) {
  std::map<std::int32_t, std::pair<std::vector<double>, std::vector<double>>> by_ticker;  // (p, label)
  for (std::size_t j = 0; j < tp.size(); ++j) {
    auto& [p, y] = by_ticker[tp.ticker[j]];
    p.push_back(tp.probability[j]);
    y.push_back(tp.label[j]);
  }
  for (Coverage& c : coverage) {
    const auto it = by_ticker.find(static_cast<std::int32_t>(u.index_of(c.ticker)));
    c.test_accuracy =
        it == by_ticker.end() ? kNaN : classification_scores(it->second.first, it->second.second).accuracy;
  }
}

}  // namespace

// The state one call of Study::run shares between its phases (this rank's place, the progress callback,
// the result being filled, the lockstep groups of the phase in progress), and the phases as member
// functions; all_phases() reads as the study's outline.
//
// Units, one checkpoint file each (T trials, N tickers, K folds; paths under <out>/checkpoints):
// clang-format off
//   phase  scope      units  unit u                                 checkpoint
//   cv     per_stock  T * N  trial u / N, ticker u % N, every fold  cv/trial_<t>/<ticker>.h5
//   cv     pooled     T * K  trial u / K, fold u % K, all tickers   cv/trial_<t>/fold_<k>.h5
//   final  per_stock  N      the best trial, ticker u               final/trial_<best>/<ticker>.h5
//   final  pooled     1      the best trial, all tickers            final/trial_<best>/pooled.h5
// clang-format on
class Study::Run {
 public:
  Run(Study& study, int rank, int ranks, const std::function<void()>& barrier,
      const std::function<void(const StudyProgress&)>& on_progress, int abort_after);
  StudyResult all_phases();

 private:
  enum class Phase { cv, final };
  // --device cuda: the per-stock fits of one trial in one phase (this rank's pending units) are trained
  // together in lockstep when the first unit of that trial needs one; the trial's other units then find
  // theirs by stream. A run killed meanwhile loses at most the group in training, never a written unit.
  struct Group {
    std::once_flag trained;
    std::map<std::uint64_t, Prefit> fits;  // by stream
  };

  void prepare();
  void sync() const {
    if (barrier_) barrier_();
  }
  // Units of a phase.
  void run_phase(Phase phase);
  std::int64_t unit_count() const;
  fs::path unit_path(std::int64_t u) const { return phase_ == Phase::cv ? cv_path(u) : final_path(u); }
  fs::path cv_path(std::int64_t u) const;
  fs::path final_path(std::int64_t u) const;
  std::vector<std::int64_t> pending_units(StudyProgress& progress) const;
  void unit_done(StudyProgress& progress, const std::string& unit, double loss);
  void add_stats(const UnitResult& r);
  // Fits.
  const DaySplit& split(std::int64_t fold) const {
    return fold < 0 ? plan_.final : plan_.folds[static_cast<std::size_t>(fold)];
  }
  std::vector<SampleRef> samples_in(const StockDataset& d, const std::vector<std::int64_t>& days,
                                    bool for_test) const;
  FitRequest per_stock_request(const StockDataset& d, const Trial& trial, std::int64_t i,
                               std::int64_t fold) const;
  FitRequest pooled_request(const StockDataset& d, const Trial& trial, std::int64_t fold) const;
  bool wanted(const FitRequest& q) const {
    return static_cast<std::int64_t>(q.train.size()) >= options_.min_train_samples && !q.test.empty();
  }
  std::vector<FitRequest> pending_fits(std::size_t trial_index) const;
  FitOutcome fit(std::size_t trial_index, const StockDataset& d, const FitRequest& q);
  // Phase 1: cross-validation, then the choice of the best trial.
  double cv_unit(std::int64_t u);
  void add_fold(UnitResult& r, std::size_t trial_index, const StockDataset& d, std::int64_t fold,
                const FitRequest& q);
  void select_best_trial();
  bool beats_best(const TrialSummary& candidate, std::size_t t) const;
  // Phase 2: the final fits of the best trial, then their predictions and coverage.
  double final_unit(std::int64_t u);
  void write_final_model(h5::File& file, std::int64_t u, const UnitResult& r, const FitOutcome& f) const;
  void collect_finals();
  void add_pooled_coverage(const UnitResult& r);

  // The study's k-th ticker (a universe index) and a universe index's name.
  std::int64_t ticker(std::int64_t k) const { return tickers_[static_cast<std::size_t>(k)]; }
  const std::string& ticker_name(std::int64_t i) const {
    return universe_.tickers[static_cast<std::size_t>(i)];
  }

  Study& study_;
  const data::Universe& universe_;
  const StudyOptions& options_;
  const std::vector<Trial>& trials_;
  const std::vector<std::int64_t>& tickers_;
  const CalendarPlan& plan_;
  const int rank_, ranks_;
  const std::function<void()>& barrier_;
  const std::function<void(const StudyProgress&)>& on_progress_;
  const int abort_after_;
  const bool pooled_;
  const bool scaling_;  // per-ticker scalers (always per stock; pooled: per_ticker_scaling)
  const bool grouped_;  // per-stock fits in lockstep groups (--device cuda or cpu_grouped)
  const fs::path checkpoints_;
  const std::int64_t T_, N_, K_;            // trials, tickers, CV folds
  std::vector<std::int64_t> forward_days_;  // the test period's first day to the calendar's last

  StudyResult result_;
  std::mutex mutex_;  // guards result_'s counters and the progress of the phase
  std::atomic<int> new_units_{0};
  std::chrono::steady_clock::time_point started_;
  Phase phase_ = Phase::cv;
  std::vector<std::unique_ptr<Group>> groups_;  // by trial, for the current phase
  const Trial* best_ = nullptr;                 // phase 2: the best trial and its dataset
  const StockDataset* best_data_ = nullptr;
};

Study::Run::Run(Study& study, int rank, int ranks, const std::function<void()>& barrier,
                const std::function<void(const StudyProgress&)>& on_progress, int abort_after)
    : study_(study),
      universe_(study.universe_),
      options_(study.options_),
      trials_(study.trials_),
      tickers_(study.tickers_),
      plan_(study.plan_),
      rank_(rank),
      ranks_(ranks),
      barrier_(barrier),
      on_progress_(on_progress),
      abort_after_(abort_after),
      pooled_(options_.scope == Scope::pooled),
      scaling_(!pooled_ || options_.per_ticker_scaling),
      grouped_(options_.device != FitDevice::cpu && !pooled_),
      checkpoints_(study.out_ / "checkpoints"),
      T_(static_cast<std::int64_t>(trials_.size())),
      N_(static_cast<std::int64_t>(tickers_.size())),
      K_(static_cast<std::int64_t>(plan_.folds.size())),
      forward_days_(static_cast<std::size_t>(universe_.day_count() - plan_.test_first)) {
  std::iota(forward_days_.begin(), forward_days_.end(), plan_.test_first);
}

StudyResult Study::run(int rank, int ranks, const std::function<void()>& barrier,
                       const std::function<void(const StudyProgress&)>& on_progress, int abort_after) {
  return Run(*this, rank, ranks, barrier, on_progress, abort_after).all_phases();
}

StudyResult Study::Run::all_phases() {
  prepare();
  started_ = std::chrono::steady_clock::now();
  run_phase(Phase::cv);  // phase 1: every trial cross-validated, unit by unit
  sync();
  select_best_trial();  // every rank reads every CV unit and scores the trials
  best_ = &trials_[static_cast<std::size_t>(result_.best_trial)];
  best_data_ = &study_.dataset(*best_);
  run_phase(Phase::final);  // phase 2: the best trial's final fits, scored on the test period
  sync();
  collect_finals();
  result_.fit_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
  return std::move(result_);
}

// Rank 0 removes the temporaries of a killed run; every trial's dataset is built before threads share it.
void Study::Run::prepare() {
  if (rank_ == 0 && fs::exists(checkpoints_))
    for (const auto& entry : fs::recursive_directory_iterator(checkpoints_))
      if (entry.is_regular_file() && entry.path().filename().string().find(".tmp.") != std::string::npos)
        fs::remove(entry.path());
  for (const Trial& t : trials_) study_.dataset(t);
  sync();
}

// ---- units ----

// Runs this rank's pending units of a phase; `cv_unit` / `final_unit` computes and writes one. Per-stock
// units run in parallel, one thread each (SerialRegion); pooled units one after another, each using
// every thread.
void Study::Run::run_phase(Phase phase) {
  phase_ = phase;
  groups_.clear();
  for (std::size_t t = 0; t < trials_.size(); ++t) groups_.push_back(std::make_unique<Group>());
  StudyProgress progress{phase == Phase::cv ? "cv" : "final", 0, 0, 0, "", kNaN};
  const std::vector<std::int64_t> todo = pending_units(progress);
  if (on_progress_) on_progress_(progress);
  std::atomic<std::size_t> next{0};
  auto worker = [&] {
    for (std::size_t k; (k = next.fetch_add(1)) < todo.size();) {
      const double loss = phase == Phase::cv ? cv_unit(todo[k]) : final_unit(todo[k]);
      unit_done(progress, unit_path(todo[k]).stem().string(), loss);
    }
  };
  if (pooled_) {
    worker();
  } else {
    parallel_for(num_threads(), 1, [&](std::int64_t, std::int64_t) {
      const SerialRegion serial;
      worker();
    });
  }
}

std::int64_t Study::Run::unit_count() const {
  if (phase_ == Phase::final) return pooled_ ? 1 : N_;
  return K_ == 0 ? 0 : (pooled_ ? T_ * K_ : T_ * N_);
}

fs::path Study::Run::cv_path(std::int64_t u) const {
  const std::int64_t trial = pooled_ ? u / K_ : u / N_;
  const std::string who = pooled_ ? "fold_" + std::to_string(u % K_) : ticker_name(ticker(u % N_));
  return checkpoints_ / "cv" / ("trial_" + std::to_string(trial)) / (who + ".h5");
}

// The trial is part of the path: a resume that selects another trial never reuses these fits.
fs::path Study::Run::final_path(std::int64_t u) const {
  return checkpoints_ / "final" / ("trial_" + std::to_string(result_.best_trial)) /
         ((pooled_ ? std::string("pooled") : ticker_name(ticker(u))) + ".h5");
}

// This rank's share of the phase's units (index % ranks == rank) without a checkpoint; those with one
// count as resumed.
std::vector<std::int64_t> Study::Run::pending_units(StudyProgress& progress) const {
  std::vector<std::int64_t> todo;
  for (std::int64_t u = rank_; u < unit_count(); u += ranks_) {
    ++progress.total;
    if (fs::exists(unit_path(u))) {
      ++progress.resumed;
      ++progress.done;
    } else {
      todo.push_back(u);
    }
  }
  return todo;
}

// Reports a finished unit; abort_after > 0 ends the process abruptly after that many new units.
void Study::Run::unit_done(StudyProgress& progress, const std::string& unit, double loss) {
  const std::lock_guard lock(mutex_);
  ++progress.done;
  progress.last_loss = loss;
  progress.last_unit = unit;
  if (on_progress_) on_progress_(progress);
  if (abort_after_ > 0 && ++new_units_ >= abort_after_) {
    std::fflush(nullptr);
    std::_Exit(137);  // as if killed: nothing is cleaned up
  }
}

void Study::Run::add_stats(const UnitResult& r) {
  const std::lock_guard lock(mutex_);
  result_.fits += r.fits;
  result_.train_samples_seen += r.train_samples_seen;
  result_.eval_samples_seen += r.eval_samples_seen;
}

// ---- fits ----

// Every ticker's samples on `days`: training and validation samples need labels (decision days); test
// samples are every prediction day.
std::vector<SampleRef> Study::Run::samples_in(const StockDataset& d, const std::vector<std::int64_t>& days,
                                              bool for_test) const {
  std::vector<SampleRef> out;
  for (const std::int64_t i : tickers_) {
    const auto s = samples_of(i, intersect(for_test ? d.prediction_days(i) : d.decision_days(i), days));
    out.insert(out.end(), s.begin(), s.end());
  }
  return out;
}

// Ticker i's fit on CV fold `fold` (-1: the final fit of the best trial).
FitRequest Study::Run::per_stock_request(const StockDataset& d, const Trial& trial, std::int64_t i,
                                         std::int64_t fold) const {
  const DaySplit& s = split(fold);
  return FitRequest{
      samples_of(i, intersect(d.decision_days(i), s.train)),
      samples_of(i, intersect(d.decision_days(i), s.validation)),
      samples_of(i, intersect(d.prediction_days(i), s.test)),
      fold < 0 ? std::vector<SampleRef>{} : samples_of(i, intersect(d.prediction_days(i), forward_days_)),
      fit_stream(trial, ticker_name(i), fold)};
}

// The pooled model's fit on CV fold `fold` (-1: the final fit): every ticker's samples.
FitRequest Study::Run::pooled_request(const StockDataset& d, const Trial& trial, std::int64_t fold) const {
  const DaySplit& s = split(fold);
  return FitRequest{samples_in(d, s.train, false), samples_in(d, s.validation, false),
                    samples_in(d, s.test, true),
                    fold < 0 ? std::vector<SampleRef>{} : samples_in(d, forward_days_, true),
                    fit_stream(trial, "pooled", fold)};
}

// The per-stock fits of a trial that this rank's pending units of the phase will ask for: one lockstep
// group (the final phase has one trial, the best).
std::vector<FitRequest> Study::Run::pending_fits(std::size_t trial_index) const {
  std::vector<FitRequest> requests;
  if (phase_ == Phase::cv) {
    const Trial& trial = trials_[trial_index];
    const auto t = static_cast<std::int64_t>(trial_index);
    for (std::int64_t u = t * N_; u < (t + 1) * N_; ++u)
      if (u % ranks_ == rank_ && !fs::exists(cv_path(u)))
        for (std::int64_t fold = 0; fold < K_; ++fold)
          if (FitRequest q = per_stock_request(study_.dataset(trial), trial, ticker(u % N_), fold); wanted(q))
            requests.push_back(std::move(q));
  } else {
    for (std::int64_t u = rank_; u < N_; u += ranks_)
      if (!fs::exists(final_path(u)))
        if (FitRequest q = per_stock_request(*best_data_, *best_, ticker(u), -1); wanted(q))
          requests.push_back(std::move(q));
  }
  return requests;
}

// One fit of a trial: on this thread (fit_one), or, grouped, taken from the trial's lockstep group
// (trained by the first unit that needs it).
FitOutcome Study::Run::fit(std::size_t trial_index, const StockDataset& d, const FitRequest& q) {
  const Trial& trial = trials_[trial_index];
  if (grouped_) {
    Group& g = *groups_[trial_index];
    std::call_once(g.trained, [&] { g.fits = fit_grouped(d, trial, options_, pending_fits(trial_index)); });
    if (const auto it = g.fits.find(q.stream); it != g.fits.end()) {  // distinct units: distinct entries
      if (!it->second.error.empty()) throw std::runtime_error(it->second.error);
      return std::move(it->second.outcome);
    }
  }
  return fit_one(d, trial, options_, scaling_, q);
}

// ---- phase 1: cross-validation of every trial ----

// Unit u: per stock, one ticker on every fold; pooled, one fold (the table above). Returns the last
// training loss, for the progress report.
double Study::Run::cv_unit(std::int64_t u) {
  UnitResult r;
  const auto trial_index = static_cast<std::size_t>(pooled_ ? u / K_ : u / N_);
  const Trial& trial = trials_[trial_index];
  const StockDataset& d = study_.dataset(trial);  // built before the workers started: a lookup only
  if (pooled_) {
    const std::int64_t fold = u % K_;
    record_failure(r, fold, [&] { add_fold(r, trial_index, d, fold, pooled_request(d, trial, fold)); });
  } else {
    const std::int64_t i = ticker(u % N_);
    for (std::int64_t fold = 0; fold < K_; ++fold)
      record_failure(r, fold,
                     [&] { add_fold(r, trial_index, d, fold, per_stock_request(d, trial, i, fold)); });
  }
  add_stats(r);
  write_unit(cv_path(u), r, {});
  return r.last_loss;
}

// One fold's fit, its test and forward predictions appended to the unit with their fold; a fold with
// too little history or no test day is left out.
void Study::Run::add_fold(UnitResult& r, std::size_t trial_index, const StockDataset& d, std::int64_t fold,
                          const FitRequest& q) {
  if (!wanted(q)) return;
  FitOutcome f = fit(trial_index, d, q);
  account(f.fit, r);
  r.predictions.append(f.test);
  r.prediction_fold.insert(r.prediction_fold.end(), f.test.size(), static_cast<std::int32_t>(fold));
  r.forward.append(f.forward);
  r.forward_fold.insert(r.forward_fold.end(), f.forward.size(), static_cast<std::int32_t>(fold));
}

// Every rank reads every unit and scores each trial fold by fold over all tickers, on the (ticker,
// fold) pairs that every trial predicted; the best mean score wins. The winner's CV predictions and its
// fold models' forward predictions go into the result.
void Study::Run::select_best_trial() {
  std::vector<std::vector<UnitResult>> units(static_cast<std::size_t>(T_));  // [trial][unit]
  for (std::int64_t t = 0; t < T_; ++t)
    for (std::int64_t k = 0; k < (pooled_ ? K_ : N_) && K_ > 0; ++k)
      units[static_cast<std::size_t>(t)].push_back(read_checkpoint(cv_path(t * (pooled_ ? K_ : N_) + k)));
  const PairCounts predicted_by = trials_predicting(units);
  for (std::size_t t = 0; t < units.size(); ++t) {
    ScoredTrial scored = score_trial(trials_[t], common_predictions_by_fold(units[t], predicted_by, T_, K_),
                                     options_.select_by);
    if (beats_best(scored.summary, t)) result_.best_trial = static_cast<int>(t);
    result_.trials.push_back(std::move(scored.summary));
    if (static_cast<int>(t) != result_.best_trial) continue;
    result_.cv_predictions = std::move(scored.all);
    result_.cv_fold = std::move(scored.fold_of_all);
    result_.fold_predictions = {};
    result_.fold_of_prediction.clear();
    for (const UnitResult& r : units[t]) {
      result_.fold_predictions.append(r.forward);
      result_.fold_of_prediction.insert(result_.fold_of_prediction.end(), r.forward_fold.begin(),
                                        r.forward_fold.end());
    }
  }
  if (T_ > 1 && !std::isfinite(result_.trials[static_cast<std::size_t>(result_.best_trial)].mean))
    throw std::runtime_error(
        "no trial produced a cross-validation score (too little history for every fold?)");
}

// Whether trial t's mean CV score beats the best so far: the first trial does, any trial does a best
// without a finite score, and otherwise only a finite, strictly better one.
bool Study::Run::beats_best(const TrialSummary& candidate, std::size_t t) const {
  if (t == 0) return true;
  const double best = result_.trials[static_cast<std::size_t>(result_.best_trial)].mean;
  return !std::isfinite(best) ||
         (std::isfinite(candidate.mean) &&
          (higher_is_better(options_.select_by) ? candidate.mean > best : candidate.mean < best));
}

// ---- phase 2: the final fits of the best trial, scored on the test period ----

// Unit u: the best trial fitted on the final split for ticker u (pooled: all tickers), its test
// predictions, or why it was skipped or failed; the model goes into the checkpoint.
double Study::Run::final_unit(std::int64_t u) {
  UnitResult r;
  FitOutcome f;
  try {
    const FitRequest q = pooled_ ? pooled_request(*best_data_, *best_, -1)
                                 : per_stock_request(*best_data_, *best_, ticker(u), -1);
    r.train_samples = static_cast<std::int64_t>(q.train.size());
    r.validation_samples = static_cast<std::int64_t>(q.validation.size());
    r.test_samples = static_cast<std::int64_t>(q.test.size());
    if (r.train_samples < options_.min_train_samples) {
      r.status = "skipped";
      r.reason = "too little history: " + std::to_string(r.train_samples) + " training windows, need " +
                 std::to_string(options_.min_train_samples);
    } else if (q.test.empty()) {
      r.status = "skipped";
      r.reason = "no decision day in the test period (delisted before it)";
    } else {
      f = fit(static_cast<std::size_t>(result_.best_trial), *best_data_, q);
      account(f.fit, r);
      r.epochs_run = f.fit.epochs_run;
      r.best_epoch = f.fit.best_epoch;
      r.validation_loss = f.fit.best_validation_loss;
      r.predictions = f.test;
      r.prediction_fold.assign(f.test.size(), -1);
    }
  } catch (const std::exception& e) {
    r.status = "failed";
    r.reason = e.what();
    f.model.reset();
  }
  add_stats(r);
  write_unit(final_path(u), r, [&](h5::File& file) { write_final_model(file, u, r, f); });
  return r.last_loss;
}

// A trained final model at /model of its checkpoint, with its scalers at /scalers: a per-stock fit has
// one scaler that means anything, its ticker's (a [1, F] row); pooled, all ([N, F]).
void Study::Run::write_final_model(h5::File& file, std::int64_t u, const UnitResult& r,
                                   const FitOutcome& f) const {
  if (r.status != "trained" || !f.model) return;
  nn::write_model(file, "/model", *f.model);
  file.set_attr("/model", "architecture", best_->model.architecture);
  const auto one =
      pooled_ ? f.scalers : std::vector<data::StandardScaler>{f.scalers[static_cast<std::size_t>(ticker(u))]};
  write_scalers(file, "/scalers", one, best_data_->feature_count());
}

// Every rank reads every final unit: the test predictions, what became of each ticker, and the scores
// on the test period.
void Study::Run::collect_finals() {
  const std::int64_t finals = pooled_ ? 1 : N_;
  for (std::int64_t u = 0; u < finals; ++u) {
    const UnitResult r = read_checkpoint(final_path(u));
    result_.test_predictions.append(r.predictions);
    if (pooled_) {
      add_pooled_coverage(r);
    } else {
      result_.coverage.push_back(Coverage{ticker_name(ticker(u)), r.status, r.reason, r.train_samples,
                                          r.validation_samples, r.test_samples, r.epochs_run, r.best_epoch,
                                          r.validation_loss, kNaN});
    }
  }
  set_test_accuracy(result_.coverage, result_.test_predictions, universe_);
  result_.test = score_predictions(result_.test_predictions.probability, result_.test_predictions.label,
                                   result_.test_predictions.traded_return);
}

// One model: the coverage of each ticker from its share of the samples.
void Study::Run::add_pooled_coverage(const UnitResult& r) {
  const DaySplit& fin = plan_.final;
  for (const std::int64_t i : tickers_) {
    Coverage c{ticker_name(i), r.status, r.reason};
    c.train_samples = static_cast<std::int64_t>(intersect(best_data_->decision_days(i), fin.train).size());
    c.validation_samples =
        static_cast<std::int64_t>(intersect(best_data_->decision_days(i), fin.validation).size());
    c.test_samples = static_cast<std::int64_t>(intersect(best_data_->prediction_days(i), fin.test).size());
    c.epochs_run = r.epochs_run;
    c.best_epoch = r.best_epoch;
    c.validation_loss = r.validation_loss;
    if (c.status == "trained" && c.test_samples == 0) {
      c.status = "skipped";
      c.reason = "no decision day in the test period (delisted before it)";
    } else if (c.status == "trained" && c.train_samples == 0) {
      c.status = "skipped";
      c.reason = "no training window (listed too late)";
    }
    result_.coverage.push_back(c);
  }
}

// ---- the registry ---------------------------------------------------------------------------------------

namespace {

// /trials/config (one description per trial) and, per trial t, /trials/<t>/fold_scores ([folds, 8], the
// columns named in its attribute) with the trial's configuration and CV mean and spread.
void write_trial_scores(h5::File& f, const std::vector<TrialSummary>& trials) {
  std::vector<std::string> describe;
  for (const auto& t : trials) describe.push_back(t.trial.describe());
  f.write_strings("/trials/config", describe);
  for (std::size_t t = 0; t < trials.size(); ++t) {
    const auto& s = trials[t];
    const std::string g = "/trials/" + std::to_string(t);
    const auto K = static_cast<std::int64_t>(s.folds.size());
    Tensor table = Tensor::empty({K, 8}, DType::f64);
    for (std::int64_t k = 0; k < K; ++k) {
      const Scores& x = s.folds[static_cast<std::size_t>(k)];
      const double row[] = {static_cast<double>(s.fold_samples[static_cast<std::size_t>(k)]),
                            x.classification.accuracy,
                            x.classification.balanced_accuracy,
                            x.classification.auc,
                            x.classification.log_loss,
                            x.classification.brier,
                            x.ic,
                            x.rank_ic};
      std::copy(std::begin(row), std::end(row), table.data<double>() + k * 8);
    }
    f.write(g + "/fold_scores", table);
    f.set_attr(g + "/fold_scores", "columns",
               std::string("samples,accuracy,balanced_accuracy,auc,log_loss,brier,ic,rank_ic"));
    f.set_attr(g, "config", s.trial.describe());
    f.set_attr(g, "cv_mean", s.mean);
    f.set_attr(g, "cv_spread", s.spread);
  }
}

// Per stock: /models/<ticker> for every trained ticker, the model and its scaler (a [F] row each of
// mean and scale) copied from its final checkpoint in `checkpoints`.
void copy_stock_models(h5::File& f, const std::vector<Coverage>& coverage, const fs::path& checkpoints) {
  for (const Coverage& c : coverage) {
    if (c.status != "trained") continue;
    const h5::File unit(checkpoints / (c.ticker + ".h5"), h5::File::Mode::read);
    const std::string g = "/models/" + c.ticker;
    copy_model(unit, f, g);
    f.write(g + "/scaler/mean", unit.read("/scalers/mean")[0]);
    f.write(g + "/scaler/scale", unit.read("/scalers/scale")[0]);
    f.set_attr(g, "best_epoch", c.best_epoch);
    f.set_attr(g, "validation_loss", c.validation_loss);
    f.set_attr(g, "test_accuracy", c.test_accuracy);
  }
}

// Pooled: /models/pooled, the one model with every ticker's scaler ([N, F] mean and scale, NaN rows for
// tickers without training rows), when it was trained.
void copy_pooled_model(h5::File& f, const fs::path& checkpoints, const std::vector<std::string>& tickers) {
  if (!fs::exists(checkpoints / "pooled.h5")) return;
  const h5::File unit(checkpoints / "pooled.h5", h5::File::Mode::read);
  if (!unit.exists("/model")) return;
  copy_model(unit, f, "/models/pooled");
  f.write("/models/pooled/scalers/mean", unit.read("/scalers/mean"));
  f.write("/models/pooled/scalers/scale", unit.read("/scalers/scale"));
  f.write_strings("/models/pooled/scalers/tickers", tickers);
}

// /coverage: per ticker its status, the reason and the counts ([tickers, 5], columns in the attribute).
void write_coverage(h5::File& f, const std::vector<Coverage>& coverage) {
  std::vector<std::string> tickers, status, reason;
  Tensor counts = Tensor::empty({static_cast<std::int64_t>(coverage.size()), 5}, DType::f64);
  for (std::size_t k = 0; k < coverage.size(); ++k) {
    const Coverage& c = coverage[k];
    tickers.push_back(c.ticker);
    status.push_back(c.status);
    reason.push_back(c.reason);
    const double row[] = {static_cast<double>(c.train_samples), static_cast<double>(c.validation_samples),
                          static_cast<double>(c.test_samples), static_cast<double>(c.epochs_run),
                          c.test_accuracy};
    std::copy(std::begin(row), std::end(row), counts.data<double>() + static_cast<std::int64_t>(k) * 5);
  }
  f.write_strings("/coverage/ticker", tickers);
  f.write_strings("/coverage/status", status);
  f.write_strings("/coverage/reason", reason);
  f.write("/coverage/counts", counts);
  f.set_attr("/coverage/counts", "columns",
             std::string("train_samples,validation_samples,test_samples,epochs_run,test_accuracy"));
}

// trials.csv: one line per trial, its configuration and CV scores.
std::string trials_csv(const StudyResult& r, const std::string& select_by) {
  std::ostringstream csv;
  csv << "trial,architecture,hidden,layers,dropout,learning_rate,window,features,folds,cv_" << select_by
      << "_mean,cv_" << select_by
      << "_spread,cv_accuracy,cv_balanced_accuracy,cv_auc,cv_log_loss,cv_ic,selected\n";
  for (std::size_t t = 0; t < r.trials.size(); ++t) {
    const auto& s = r.trials[t];
    const auto& m = s.trial.model;
    const auto& p = s.pooled.classification;
    csv << t << ',' << m.architecture << ',' << m.hidden_size << ',' << m.num_layers << ',' << m.dropout
        << ',' << s.trial.learning_rate << ',' << s.trial.window << ',' << csv_field(s.trial.features) << ','
        << s.folds.size() << ',' << s.mean << ',' << s.spread << ',' << p.accuracy << ','
        << p.balanced_accuracy << ',' << p.auc << ',' << p.log_loss << ',' << s.pooled.ic << ','
        << (static_cast<int>(t) == r.best_trial ? 1 : 0) << '\n';
  }
  return csv.str();
}

// cv_folds.csv: one line per (trial, fold).
std::string folds_csv(const StudyResult& r) {
  std::ostringstream csv;
  csv << "trial,fold,samples,accuracy,balanced_accuracy,auc,log_loss,brier,ic,rank_ic\n";
  for (std::size_t t = 0; t < r.trials.size(); ++t) {
    const auto& s = r.trials[t];
    for (std::size_t k = 0; k < s.folds.size(); ++k) {
      const auto& x = s.folds[k];
      csv << t << ',' << k << ',' << s.fold_samples[k] << ',' << x.classification.accuracy << ','
          << x.classification.balanced_accuracy << ',' << x.classification.auc << ','
          << x.classification.log_loss << ',' << x.classification.brier << ',' << x.ic << ',' << x.rank_ic
          << '\n';
    }
  }
  return csv.str();
}

// coverage.csv: what became of each ticker in the final fit.
std::string coverage_csv(const std::vector<Coverage>& coverage) {
  std::ostringstream csv;
  csv << "ticker,status,reason,train_samples,validation_samples,test_samples,epochs_run,best_epoch,"
         "validation_loss,test_accuracy\n";
  for (const Coverage& c : coverage)
    csv << c.ticker << ',' << c.status << ',' << csv_field(c.reason) << ',' << c.train_samples << ','
        << c.validation_samples << ',' << c.test_samples << ',' << c.epochs_run << ',' << c.best_epoch << ','
        << c.validation_loss << ',' << c.test_accuracy << '\n';
  return csv.str();
}

// sectors.csv: the test-period scores per sector ("(unknown)" for a ticker without one).
std::string sectors_csv(const Predictions& test, const data::Universe& u) {
  std::map<std::string, Predictions> by_sector;
  for (std::size_t j = 0; j < test.size(); ++j) {
    const auto i = static_cast<std::size_t>(test.ticker[j]);
    std::string sector = i < u.sector.size() ? u.sector[i] : "";
    Predictions& p = by_sector[sector.empty() ? "(unknown)" : sector];
    p.probability.push_back(test.probability[j]);
    p.label.push_back(test.label[j]);
    p.traded_return.push_back(test.traded_return[j]);
    p.ticker.push_back(test.ticker[j]);
  }
  std::ostringstream csv;
  csv << "sector,tickers,samples,accuracy,balanced_accuracy,auc,ic\n";
  for (const auto& [sector, p] : by_sector) {
    const Scores s = score_predictions(p.probability, p.label, p.traded_return);
    const std::set<std::int32_t> distinct(p.ticker.begin(), p.ticker.end());
    csv << csv_field(sector) << ',' << distinct.size() << ',' << p.probability.size() << ','
        << s.classification.accuracy << ',' << s.classification.balanced_accuracy << ','
        << s.classification.auc << ',' << s.ic << '\n';
  }
  return csv.str();
}

// summary.txt: the study in a few lines: plan, best trial with its folds, test scores, coverage and the
// plan's targets, then the data's warnings.
std::string summary_text(const StudyResult& r, const StudyOptions& o, const CalendarPlan& plan,
                         const data::Universe& u) {
  const auto trained = std::count_if(r.coverage.begin(), r.coverage.end(),
                                     [](const Coverage& c) { return c.status == "trained"; });
  const double coverage_share =
      r.coverage.empty() ? 0.0 : static_cast<double>(trained) / static_cast<double>(r.coverage.size());
  auto date = [&](std::int64_t day) { return data::format_date(u.days[static_cast<std::size_t>(day)]); };
  const auto& bt = r.trials[static_cast<std::size_t>(r.best_trial)];
  std::ostringstream summary;
  summary.precision(4);
  summary << "run_lstm_training: " << (o.scope == Scope::pooled ? "pooled model" : "per-stock models") << ", "
          << r.trials.size() << " trial(s), cross-validation " << to_string(o.cv) << " (" << plan.folds.size()
          << " folds), label " << o.label.describe() << "\n"
          << "development days " << date(plan.dev_first) << " .. " << date(plan.dev_last)
          << ", untouched test period " << date(plan.test_first) << " .. " << date(plan.test_last) << "\n"
          << "best trial " << r.best_trial << ": " << bt.trial.describe() << "\n"
          << "  CV " << o.select_by << " " << bt.mean << " +/- " << bt.spread << " over folds; CV accuracy "
          << bt.pooled.classification.accuracy << ", AUC " << bt.pooled.classification.auc << ", IC "
          << bt.pooled.ic << "\n"
          << fold_table(bt) << "test period: accuracy " << r.test.classification.accuracy
          << ", balanced accuracy " << r.test.classification.balanced_accuracy << ", AUC "
          << r.test.classification.auc << ", log loss " << r.test.classification.log_loss << ", IC "
          << r.test.ic << " over " << r.test.classification.count << " predictions (always-up baseline "
          << up_share(r.test_predictions.label) << ")\n"
          << "coverage: " << trained << " of " << r.coverage.size() << " tickers trained ("
          << coverage_share * 100 << " %)\n"
          << "plan targets: accuracy > 55 %: " << (r.test.classification.accuracy > 0.55 ? "met" : "NOT met")
          << " (" << r.test.classification.accuracy * 100
          << " %); models for > 90 % of stocks: " << (coverage_share > 0.9 ? "met" : "NOT met") << " ("
          << coverage_share * 100 << " %)\n";
  for (const auto& w : data::data_warnings(u)) summary << "WARNING: " << w << "\n";
  return summary.str();
}

}  // namespace

void Study::write_registry(const StudyResult& r, const std::string& data_hash) const {
  const bool pooled = options_.scope == Scope::pooled;
  const Trial& best = trials_[static_cast<std::size_t>(r.best_trial)];
  const auto features = resolve_features(best.features, panels_);
  const fs::path checkpoints = out_ / "checkpoints" / "final" / ("trial_" + std::to_string(r.best_trial));
  h5::write_atomically(out_ / "registry.h5", [&](h5::File& f) {
    f.set_attr("/", "format", std::string("quantforge.registry"));
    f.set_attr("/", "format_version", std::int64_t{2});
    f.set_attr("/", "build_version", std::string(QF_BUILD_VERSION));
    f.set_attr("/", "data_hash", data_hash);
    f.set_attr("/", "study_key", study_key(options_, trials_, data_hash));
    f.set_attr("/", "scope", std::string(pooled ? "pooled" : "per_stock"));
    write_label_attributes(f, "/", options_.label);
    f.set_attr("/", "cv", to_string(options_.cv));
    f.set_attr("/", "select_by", options_.select_by);
    f.set_attr("/", "seed", static_cast<std::int64_t>(options_.seed));
    f.set_attr("/", "best_trial", static_cast<std::int64_t>(r.best_trial));
    f.set_attr("/", "best_config", best.describe());
    f.set_attr("/", "window", best.window);
    f.set_attr("/", "test_first_day",
               data::format_date(universe_.days[static_cast<std::size_t>(plan_.test_first)]));
    f.set_attr("/", "dev_last_day",
               data::format_date(universe_.days[static_cast<std::size_t>(plan_.dev_last)]));
    f.write_strings("/features", features);
    write_trial_scores(f, r.trials);
    if (pooled) {
      copy_pooled_model(f, checkpoints, universe_.tickers);
    } else {
      copy_stock_models(f, r.coverage, checkpoints);
    }
    write_coverage(f, r.coverage);
    write_predictions(f, "/test_predictions", r.test_predictions);
    write_predictions(f, "/cv_predictions", r.cv_predictions);
    f.write("/cv_predictions/fold", integers(r.cv_fold));
    write_predictions(f, "/fold_predictions", r.fold_predictions);
    f.write("/fold_predictions/fold", integers(r.fold_of_prediction));
    f.write_strings("/tickers", universe_.tickers);  // what the predictions' ticker indices refer to
  });
  data::write_text_atomically(out_ / "trials.csv", trials_csv(r, options_.select_by));
  data::write_text_atomically(out_ / "cv_folds.csv", folds_csv(r));
  data::write_text_atomically(out_ / "coverage.csv", coverage_csv(r.coverage));
  data::write_text_atomically(out_ / "sectors.csv", sectors_csv(r.test_predictions, universe_));
  data::write_text_atomically(out_ / "summary.txt", summary_text(r, options_, plan_, universe_));
}

}  // namespace qf::quant
