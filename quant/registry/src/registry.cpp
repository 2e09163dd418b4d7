#include "qf/quant/registry/registry.h"

#include <algorithm>
#include <limits>
#include <stdexcept>

#include "qf/data/csv.h"
#include "qf/quant/signals/labels.h"
#include "qf/tensor/hdf5.h"

namespace qf::quant {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

}  // namespace

PredictionPanel read_registry_predictions(const std::filesystem::path& path, const data::Universe& u,
                                          const std::string& group, int fold) {
  const h5::File f(path, h5::File::Mode::read);
  const std::string format = f.has_attr("/", "format") ? f.attr_string("/", "format") : "";
  if (format != "quantforge.registry" && format != "quantforge.predictions")
    throw std::runtime_error(path.string() +
                             ": not a run_lstm_training registry or predict_stock_movement output");
  if (f.read_strings("/tickers") != u.tickers)
    throw std::runtime_error(path.string() +
                             ": its tickers are not this store's (trained on another store?)");
  const Tensor ticker = f.read(group + "/ticker"), day = f.read(group + "/day"),
               probability = f.read(group + "/probability");
  if (fold >= 0 && !f.exists(group + "/fold"))
    throw std::runtime_error(path.string() + ": " + group + " has no folds (trained before fold ensembles?)");
  const Tensor folds = fold >= 0 ? f.read(group + "/fold") : Tensor();
  // Stage 5 writes the real probability and an abstain flag beside it (older files: no flag).
  const Tensor abstain = f.exists(group + "/abstain") ? f.read(group + "/abstain").to(DType::f64) : Tensor();
  const std::int64_t D = u.day_count(), N = u.ticker_count();
  PredictionPanel p{Tensor::full({D, N}, kNaN, DType::f64), D, -1,
                    path.string() + " " + group + (fold >= 0 ? " fold " + std::to_string(fold) : ""),
                    read_label_attributes(f, "/", path)};
  for (std::int64_t k = 0; k < probability.numel(); ++k) {
    if (fold >= 0 && folds.data<double>()[k] != fold) continue;
    const auto i = static_cast<std::int64_t>(ticker.data<double>()[k]),
               d = static_cast<std::int64_t>(day.data<double>()[k]);
    if (i < 0 || i >= N || d < 0 || d >= D)
      throw std::runtime_error(path.string() + ": prediction " + std::to_string(k) + " (ticker " +
                               std::to_string(i) + ", day " + std::to_string(d) +
                               ") is outside the store's " + std::to_string(N) + " tickers x " +
                               std::to_string(D) + " days");
    p.probability.data<double>()[d * N + i] = probability.data<double>()[k];
    if (abstain.defined()) {
      if (p.abstain.empty()) p.abstain.assign(static_cast<std::size_t>(D * N), 0);
      p.abstain[static_cast<std::size_t>(d * N + i)] = abstain.data<double>()[k] != 0 ? 1 : 0;
    }
    p.first_day = std::min(p.first_day, d);
    p.last_day = std::max(p.last_day, d);
  }
  if (p.last_day < 0) throw std::runtime_error("no predictions in " + p.source);
  return p;
}

void write_prediction_columns(h5::File& f, const std::string& group, const PredictionColumns& c) {
  auto column = [](std::span<const double> v) {
    return Tensor::from<double>(v, {static_cast<std::int64_t>(v.size())});
  };
  f.create_group(group);
  f.write(group + "/ticker", column(c.ticker));
  f.write(group + "/day", column(c.day));
  f.write(group + "/probability", column(c.probability));
  if (c.abstain) f.write(group + "/abstain", column(*c.abstain));
  f.write(group + "/label", column(c.label));
  f.write(group + "/traded_return", column(c.traded_return));
}

std::vector<FoldScore> read_cv_fold_scores(const std::filesystem::path& path) {
  const h5::File f(path, h5::File::Mode::read);
  if (!f.has_attr("/", "best_trial")) return {};
  const std::string group = "/trials/" + std::to_string(f.attr_int("/", "best_trial")) + "/fold_scores";
  if (!f.exists(group)) return {};
  // Columns: samples, accuracy, balanced_accuracy, auc, log_loss, brier, ic, rank_ic.
  const Tensor t = f.read(group).to(DType::f64);
  std::vector<FoldScore> out;
  for (std::int64_t k = 0; k < t.dim(0); ++k)
    out.push_back({t.data<double>()[k * t.dim(1) + 1], t.data<double>()[k * t.dim(1) + 5]});
  return out;
}

Tensor read_target_weights(const std::filesystem::path& path, const data::Universe& u,
                           const data::TradeTiming& timing) {
  const h5::File f(path, h5::File::Mode::read);
  if (!f.exists("/target_weights") || !f.exists("/tickers"))
    throw std::runtime_error(path.string() + ": needs /target_weights [days, tickers] and /tickers");
  require_same_timing(read_label_attributes(f, "/", path), path, timing, "this backtest");
  if (f.read_strings("/tickers") != u.tickers)
    throw std::runtime_error(path.string() + ": its tickers are not this store's");
  Tensor w = f.read("/target_weights").to(DType::f64);
  if (w.shape() != Shape{u.day_count(), u.ticker_count()})
    throw std::runtime_error(path.string() + " [/target_weights]: " + qf::to_string(w.shape()) +
                             ", the store is [" + std::to_string(u.day_count()) + ", " +
                             std::to_string(u.ticker_count()) + "]");
  return w;
}

std::vector<double> read_regime_exposure(const std::filesystem::path& path, const data::Universe& universe) {
  const h5::File f(path, h5::File::Mode::read);
  if (!f.exists("/regime_exposure"))
    throw data::InputError(path.string(), 0, "/regime_exposure", "missing dataset");
  const Tensor e = f.read("/regime_exposure").to(DType::f64);
  if (e.numel() != universe.day_count())
    throw data::InputError(path.string(), 0, "/regime_exposure",
                           std::to_string(e.numel()) + " values, the store has " +
                               std::to_string(universe.day_count()) + " days");
  return {e.data<double>(), e.data<double>() + e.numel()};
}

}  // namespace qf::quant
