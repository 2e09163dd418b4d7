// Datasets for sequence models over a stored universe: named feature sets, per-ticker feature
// matrices on the universe calendar, labels, and windows built batch by batch.
//
// Honesty: the window of decision day t holds the feature rows t-window+1 .. t (each computed from data
// up to its own day) and pairs with the label of day t, formed from the traded return after t (labels.h). A
// decision day needs a full finite window and a finite label. Scalers are fitted by the caller on training
// days only (fit_scalers), never on the days they are applied to.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "qf/data/store.h"
#include "qf/data/windows.h"
#include "qf/nn/trainer.h"
#include "qf/quant/signals/labels.h"

namespace qf::quant {

// Named feature sets: "default" (16 scale-free indicators and ranks), "returns", "momentum",
// "technical", "all" (every stored panel). Each name is a stored feature panel.
std::vector<std::string> feature_set_names();
// A set name, or a comma-separated list of panel names and set names ("returns,rsi_14,macd_hist").
// Duplicates are dropped, order kept. Throws std::invalid_argument naming the unknown entry and the
// stored panels when a name is neither.
std::vector<std::string> resolve_features(const std::string& spec, const data::FeaturePanels& panels);

struct DatasetOptions {
  std::vector<std::string> features;  // resolved panel names
  std::int64_t window = 60;
  LabelSpec label;                   // the label kind on the traded return (labels.h)
  std::vector<std::int64_t> only{};  // build these tickers (universe indices) only; empty: all
};

// A (ticker, decision day) pair.
struct SampleRef {
  std::int32_t ticker = 0;
  std::int32_t day = 0;
};

class StockDataset {
 public:
  StockDataset(const data::Universe& universe, const data::FeaturePanels& panels, DatasetOptions options);

  const DatasetOptions& options() const { return options_; }
  std::int64_t ticker_count() const { return static_cast<std::int64_t>(features_.size()); }
  std::int64_t day_count() const { return days_; }
  std::int64_t feature_count() const { return static_cast<std::int64_t>(options_.features.size()); }
  std::int64_t window() const { return options_.window; }

  // Raw features of a ticker: [days, F] float64, NaN where unknown (undefined when not in options.only).
  const Tensor& features(std::int64_t ticker) const { return features_[static_cast<std::size_t>(ticker)]; }
  // Days a prediction can be made for (ascending): a full finite window and the ticker's own row that day.
  std::span<const std::int64_t> prediction_days(std::int64_t ticker) const {
    return prediction_days_[static_cast<std::size_t>(ticker)];
  }
  // Prediction days that also have a finite label from a real next-day row: what training sees. Test
  // sets use every prediction day, so that which days get predicted never depends on the outcome (a
  // beyond_threshold label is NaN for small moves); scores skip the unlabelled ones.
  std::span<const std::int64_t> decision_days(std::int64_t ticker) const {
    return decision_days_[static_cast<std::size_t>(ticker)];
  }
  double label(std::int64_t ticker, std::int64_t day) const;
  // The traded return the label of day t is about (simple return; NaN when unknown).
  double traded_return(std::int64_t ticker, std::int64_t day) const;

 private:
  DatasetOptions options_;
  std::int64_t days_ = 0, tickers_ = 0;
  std::vector<Tensor> features_;
  Tensor labels_;                // [days, tickers]
  std::vector<double> returns_;  // [days, tickers]
  std::vector<std::vector<std::int64_t>> prediction_days_, decision_days_;
};

// Scalers fitted on the feature rows of the given training samples only: one per ticker
// (per_ticker), or one over all tickers' rows, shared (result has one element).
std::vector<data::StandardScaler> fit_scalers(const StockDataset& data, std::span<const SampleRef> training,
                                              bool per_ticker);

// Windows of the given samples, scaled (scalers from fit_scalers: one per ticker or one shared),
// as float32 batches. Scaled features are computed once, for the tickers the samples use.
class WindowBatchSource : public nn::BatchSource {
 public:
  WindowBatchSource(const StockDataset& data, std::vector<SampleRef> samples,
                    const std::vector<data::StandardScaler>& scalers);
  std::int64_t size() const override { return static_cast<std::int64_t>(samples_.size()); }
  std::pair<Tensor, Tensor> batch(std::span<const std::int64_t> rows) const override;
  const std::vector<SampleRef>& samples() const { return samples_; }

 private:
  const StockDataset& data_;
  std::vector<SampleRef> samples_;
  std::vector<Tensor> scaled_;  // per ticker [days, F] float32; undefined for unused tickers
};

}  // namespace qf::quant
