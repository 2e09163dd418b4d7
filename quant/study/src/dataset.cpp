#include "qf/quant/study/dataset.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <stdexcept>

#include "qf/core/require.h"
#include "qf/quant/signals/returns.h"

namespace qf::quant {

namespace {

// Scale-free features only in the named sets (price levels such as sma_20 differ by orders of
// magnitude between stocks and drift over time; the model sees returns, oscillators and ranks).
const std::map<std::string, std::vector<std::string>>& named_sets() {
  static const std::map<std::string, std::vector<std::string>> sets{
      {"returns", {"logret_1", "logret_5", "logret_20", "rvol_20"}},
      {"momentum",
       {"logret_1", "logret_5", "logret_20", "rvol_20", "roc_10", "rsi_14", "ppo_12_26", "macd_hist"}},
      {"technical",
       {"rsi_14", "cmo_14", "ppo_12_26", "stoch_slowk", "stoch_slowd", "stochrsi_fastk", "willr_14", "cci_14",
        "adx_14", "plus_di_14", "minus_di_14", "aroonosc_14", "mfi_14", "ultosc_7_14_28", "bop", "natr_14",
        "trix_15"}},
      {"default",
       {"logret_1", "logret_5", "logret_20", "rvol_20", "rsi_14", "ppo_12_26", "stoch_slowk", "willr_14",
        "cci_14", "adx_14", "natr_14", "bop", "mfi_14", "volume_z_20", "xrank_ret_5", "xrank_rsi_14"}},
  };
  return sets;
}

std::vector<std::string> split_commas(const std::string& text) {
  std::vector<std::string> parts;
  std::size_t begin = 0;
  while (begin <= text.size()) {
    const std::size_t end = std::min(text.find(',', begin), text.size());
    std::string part = text.substr(begin, end - begin);
    part.erase(0, part.find_first_not_of(" \t"));
    part.erase(part.find_last_not_of(" \t") + 1);
    if (!part.empty()) parts.push_back(part);
    begin = end + 1;
  }
  return parts;
}

}  // namespace

std::vector<std::string> feature_set_names() {
  std::vector<std::string> names{"all"};
  for (const auto& [name, members] : named_sets()) names.push_back(name);
  return names;
}

std::vector<std::string> resolve_features(const std::string& spec, const data::FeaturePanels& panels) {
  std::vector<std::string> out;
  auto add = [&](const std::string& name) {
    if (!panels.contains(name)) {
      std::string stored;
      for (const auto& [panel, tensor] : panels) stored += (stored.empty() ? "" : " ") + panel;
      std::string sets;
      for (const auto& set : feature_set_names()) sets += (sets.empty() ? "" : " ") + set;
      throw std::invalid_argument("feature '" + name + "' is not in the store (sets: " + sets +
                                  "; stored panels: " + stored + ")");
    }
    if (std::find(out.begin(), out.end(), name) == out.end()) out.push_back(name);
  };
  for (const std::string& part : split_commas(spec)) {
    if (part == "all") {
      for (const auto& [name, tensor] : panels) add(name);
    } else if (const auto it = named_sets().find(part); it != named_sets().end()) {
      for (const auto& name : it->second) add(name);
    } else {
      add(part);
    }
  }
  QF_REQUIRE(!out.empty(), "resolve_features", "feature list", spec, "names no feature");
  return out;
}

StockDataset::StockDataset(const data::Universe& u, const data::FeaturePanels& panels, DatasetOptions options)
    : options_(std::move(options)), days_(u.day_count()), tickers_(u.ticker_count()) {
  QF_REQUIRE(options_.window >= 1, "StockDataset", "window", options_.window, "must be at least 1");
  QF_REQUIRE_MSG(!options_.features.empty(), "StockDataset", "no features");
  const auto F = static_cast<std::int64_t>(options_.features.size());
  std::vector<const float*> columns;
  for (const auto& name : options_.features) {
    const auto it = panels.find(name);
    QF_REQUIRE(it != panels.end(), "StockDataset", "feature", name, "has no panel");
    if (it->second.shape() != Shape{days_, tickers_} || it->second.dtype() != DType::f32)
      throw ShapeError("StockDataset: panel '" + name + "' is " + qf::to_string(it->second.shape()) +
                       ", the universe is [" + std::to_string(days_) + ", " + std::to_string(tickers_) + "]");
    columns.push_back(it->second.data<float>());
  }
  labels_ = make_labels(u, options_.label);
  returns_ = traded_returns(u, options_.label.timing);
  features_.resize(static_cast<std::size_t>(tickers_));
  decision_days_.resize(static_cast<std::size_t>(tickers_));
  prediction_days_.resize(static_cast<std::size_t>(tickers_));
  const double* labels = labels_.data<double>();
  std::vector<std::uint8_t> wanted(static_cast<std::size_t>(tickers_), options_.only.empty() ? 1 : 0);
  for (const std::int64_t i : options_.only) wanted.at(static_cast<std::size_t>(i)) = 1;
  for (std::int64_t i = 0; i < tickers_; ++i) {
    if (!wanted[static_cast<std::size_t>(i)]) continue;  // no features, no decision days
    Tensor f = Tensor::empty({days_, F}, DType::f64);
    double* x = f.data<double>();
    std::vector<std::uint8_t> row_ok(static_cast<std::size_t>(days_));
    for (std::int64_t t = 0; t < days_; ++t) {
      bool ok = u.listed[static_cast<std::size_t>(t * tickers_ + i)] != 0;
      for (std::int64_t j = 0; j < F; ++j) {
        x[t * F + j] = static_cast<double>(columns[static_cast<std::size_t>(j)][t * tickers_ + i]);
        ok = ok && std::isfinite(x[t * F + j]);
      }
      row_ok[static_cast<std::size_t>(t)] = ok;
    }
    // Prediction day t: rows t-window+1 .. t all finite (a running count of bad rows) and the ticker's own
    // row on t (not a calendar gap). Decision day: also a finite label and a real row on the entry day (a
    // gap's carried-forward price would fake a flat fill).
    auto present = [&](std::int64_t t) {
      return t < days_ && u.present[static_cast<std::size_t>(t * tickers_ + i)] != 0;
    };
    std::int64_t bad_in_window = 0;
    for (std::int64_t t = 0; t < days_; ++t) {
      bad_in_window += row_ok[static_cast<std::size_t>(t)] ? 0 : 1;
      if (t >= options_.window)
        bad_in_window -= row_ok[static_cast<std::size_t>(t - options_.window)] ? 0 : 1;
      if (t < options_.window - 1 || bad_in_window != 0 || !present(t)) continue;
      prediction_days_[static_cast<std::size_t>(i)].push_back(t);
      if (std::isfinite(labels[t * tickers_ + i]) && present(t + options_.label.timing.lag()))
        decision_days_[static_cast<std::size_t>(i)].push_back(t);
    }
    features_[static_cast<std::size_t>(i)] = std::move(f);
  }
}

double StockDataset::label(std::int64_t ticker, std::int64_t day) const {
  return labels_.data<double>()[day * tickers_ + ticker];
}

double StockDataset::traded_return(std::int64_t ticker, std::int64_t day) const {
  return returns_[static_cast<std::size_t>(day * tickers_ + ticker)];
}

std::vector<data::StandardScaler> fit_scalers(const StockDataset& data, std::span<const SampleRef> training,
                                              bool per_ticker) {
  std::vector<std::vector<std::int64_t>> rows(static_cast<std::size_t>(data.ticker_count()));
  for (const SampleRef& s : training) rows[static_cast<std::size_t>(s.ticker)].push_back(s.day);
  if (!per_ticker) {
    std::vector<Tensor> matrices;
    std::vector<std::vector<std::int64_t>> used;
    for (std::int64_t i = 0; i < data.ticker_count(); ++i)
      if (!rows[static_cast<std::size_t>(i)].empty()) {
        matrices.push_back(data.features(i));
        used.push_back(std::move(rows[static_cast<std::size_t>(i)]));
      }
    QF_REQUIRE_MSG(!matrices.empty(), "fit_scalers", "no training samples");
    data::StandardScaler pooled;
    pooled.fit(matrices, used);
    return {pooled};
  }
  std::vector<data::StandardScaler> scalers(static_cast<std::size_t>(data.ticker_count()));
  for (std::int64_t i = 0; i < data.ticker_count(); ++i)
    if (rows[static_cast<std::size_t>(i)].size() >= 2)  // one row has no spread to scale by
      scalers[static_cast<std::size_t>(i)].fit(
          std::span<const Tensor>(&data.features(i), 1),
          std::span<const std::vector<std::int64_t>>(&rows[static_cast<std::size_t>(i)], 1));
  return scalers;
}

WindowBatchSource::WindowBatchSource(const StockDataset& data, std::vector<SampleRef> samples,
                                     const std::vector<data::StandardScaler>& scalers)
    : data_(data), samples_(std::move(samples)), scaled_(static_cast<std::size_t>(data.ticker_count())) {
  const bool shared = scalers.size() == 1;
  QF_REQUIRE_MSG(
      shared || static_cast<std::int64_t>(scalers.size()) == data.ticker_count(), "WindowBatchSource",
      scalers.size() << " scalers for " << data.ticker_count() << " tickers (one, or one per ticker)");
  for (const SampleRef& s : samples_) {
    Tensor& scaled = scaled_[static_cast<std::size_t>(s.ticker)];
    if (scaled.defined()) continue;
    const auto& scaler = scalers[shared ? 0 : static_cast<std::size_t>(s.ticker)];
    QF_REQUIRE_MSG(!scaler.mean().empty(), "WindowBatchSource",
                   "ticker " << s.ticker << " has no fitted scaler");
    scaled = scaler.transform(data.features(s.ticker)).to(DType::f32);
  }
}

std::pair<Tensor, Tensor> WindowBatchSource::batch(std::span<const std::int64_t> rows) const {
  const std::int64_t W = data_.window(), F = data_.feature_count(),
                     B = static_cast<std::int64_t>(rows.size());
  Tensor x = Tensor::empty({B, W, F});
  Tensor y = Tensor::empty({B, 1});
  float* xs = x.data<float>();
  float* ys = y.data<float>();
  for (std::int64_t b = 0; b < B; ++b) {
    const SampleRef s = samples_[static_cast<std::size_t>(rows[static_cast<std::size_t>(b)])];
    const float* f = scaled_[static_cast<std::size_t>(s.ticker)].data<float>();
    std::copy_n(f + (s.day - W + 1) * F, W * F, xs + b * W * F);
    ys[b] = static_cast<float>(data_.label(s.ticker, s.day));
  }
  return {x, y};
}

}  // namespace qf::quant
