#include "qf/quant/study/registry_models.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

#include "qf/nn/models.h"
#include "qf/nn/serialize.h"
#include "qf/nn/trainer.h"
#include "qf/quant/study/dataset.h"
#include "qf/tensor/hdf5.h"
#include "qf/tensor/parallel.h"

namespace qf::quant {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

std::int64_t config_int(const h5::File& f, const std::string& group, const char* key, std::int64_t fallback) {
  return f.has_attr(group, key) ? std::stoll(f.attr_string(group, key)) : fallback;
}

// The model saved at `group` (nn::write_model layout plus the "architecture" attribute), rebuilt.
std::unique_ptr<nn::SequenceClassifier> load_model(const h5::File& f, const std::string& group) {
  const std::string config = group + "/config";
  nn::ModelSpec spec;
  spec.architecture = f.attr_string(group, "architecture");
  spec.input_size = config_int(f, config, "input_size", 1);
  spec.hidden_size = config_int(f, config, "hidden_size", spec.hidden_size);
  spec.num_layers = config_int(f, config, "num_layers", 1);
  spec.dropout = f.has_attr(config, "dropout") ? std::stod(f.attr_string(config, "dropout")) : 0.0;
  Rng rng(0);  // the weights are overwritten by the stored ones
  auto model = nn::make_model(spec, rng);
  nn::read_parameters(f, group, *model);
  model->eval();
  return model;
}

data::StandardScaler scaler_row(const Tensor& mean, const Tensor& scale, std::int64_t row) {
  const std::int64_t F = mean.dim(mean.rank() - 1);
  const double* m = mean.data<double>() + row * F;
  const double* s = scale.data<double>() + row * F;
  if (!std::all_of(m, m + F, [](double v) { return std::isfinite(v); })) return {};  // no training rows
  return data::StandardScaler(std::vector<double>(m, m + F), std::vector<double>(s, s + F));
}

}  // namespace

PredictionPanel predict_from_registry(const std::filesystem::path& path, const data::Universe& u,
                                      const data::FeaturePanels& panels, std::int64_t first_day,
                                      std::int64_t last_day) {
  const h5::File f(path, h5::File::Mode::read);
  auto fail = [&](const std::string& what) { throw std::runtime_error(path.string() + ": " + what); };
  if (!f.has_attr("/", "format") || f.attr_string("/", "format") != "quantforge.registry")
    fail("not a run_lstm_training registry");
  if (f.read_strings("/tickers") != u.tickers)
    fail("its tickers are not this store's (trained on another store?)");
  const std::int64_t D = u.day_count(), N = u.ticker_count();
  first_day = std::max<std::int64_t>(first_day, 0);
  last_day = std::min(last_day, D - 1);
  PredictionPanel out{Tensor::full({D, N}, kNaN, DType::f64), D, -1, path.string() + " (models reloaded)",
                      read_label_attributes(f, "/", path)};
  if (first_day > last_day) return out;

  DatasetOptions options;
  options.features = f.read_strings("/features");
  for (const auto& name : options.features)
    if (!panels.contains(name)) fail("feature '" + name + "' is not a panel of this store");
  options.window = f.attr_int("/", "window");
  options.label = read_label_attributes(f, "/", path);
  const bool pooled = f.attr_string("/", "scope") == "pooled";

  // Per ticker: its model's group and scaler (pooled: one model, a scaler per ticker).
  std::vector<std::string> group(static_cast<std::size_t>(N));
  std::vector<data::StandardScaler> scalers(static_cast<std::size_t>(N));
  if (pooled) {
    if (!f.exists("/models/pooled")) return out;
    const Tensor mean = f.read("/models/pooled/scalers/mean").to(DType::f64),
                 scale = f.read("/models/pooled/scalers/scale").to(DType::f64);
    for (std::int64_t i = 0; i < N; ++i) {
      scalers[static_cast<std::size_t>(i)] =
          scaler_row(mean, scale, mean.rank() == 2 && mean.dim(0) == N ? i : 0);
      if (!scalers[static_cast<std::size_t>(i)].mean().empty())
        group[static_cast<std::size_t>(i)] = "/models/pooled";
    }
  } else {
    for (std::int64_t i = 0; i < N; ++i) {
      const std::string g = "/models/" + u.tickers[static_cast<std::size_t>(i)];
      if (!f.exists(g + "/parameters")) continue;
      scalers[static_cast<std::size_t>(i)] = scaler_row(f.read(g + "/scaler/mean").to(DType::f64),
                                                        f.read(g + "/scaler/scale").to(DType::f64), 0);
      group[static_cast<std::size_t>(i)] = g;
    }
  }
  for (std::int64_t i = 0; i < N; ++i)
    if (!group[static_cast<std::size_t>(i)].empty()) options.only.push_back(i);
  if (options.only.empty()) return out;
  const StockDataset data(u, panels, options);

  // One model per unit: the pooled model serves every ticker at once, per-stock models one each.
  std::vector<std::vector<SampleRef>> units;
  for (const std::int64_t i : options.only) {
    std::vector<SampleRef> samples;
    for (const std::int64_t d : data.prediction_days(i))
      if (d >= first_day && d <= last_day)
        samples.push_back({static_cast<std::int32_t>(i), static_cast<std::int32_t>(d)});
    if (pooled && !units.empty())
      units.back().insert(units.back().end(), samples.begin(), samples.end());
    else
      units.push_back(std::move(samples));
  }
  std::vector<std::vector<double>> probability(units.size());
  std::vector<std::unique_ptr<nn::SequenceClassifier>> models(units.size());
  for (std::size_t k = 0; k < units.size(); ++k)  // HDF5 reads stay on this thread
    if (!units[k].empty()) models[k] = load_model(f, group[static_cast<std::size_t>(units[k][0].ticker)]);
  // Units spread over the threads, each run serially inside (the same summation order as in training).
  parallel_for(static_cast<std::int64_t>(units.size()), 1, [&](std::int64_t begin, std::int64_t end) {
    const SerialRegion serial;
    for (auto k = static_cast<std::size_t>(begin); k < static_cast<std::size_t>(end); ++k) {
      if (units[k].empty()) continue;
      const WindowBatchSource source(data, units[k], scalers);
      auto& model = *models[k];
      probability[k] = nn::predict_proba([&](const Var& x) { return model.forward(x); }, source);
    }
  });
  for (std::size_t k = 0; k < units.size(); ++k)
    for (std::size_t j = 0; j < units[k].size(); ++j) {
      const SampleRef s = units[k][j];
      out.probability.data<double>()[s.day * N + s.ticker] = probability[k][j];
      out.first_day = std::min<std::int64_t>(out.first_day, s.day);
      out.last_day = std::max<std::int64_t>(out.last_day, s.day);
    }
  return out;
}

}  // namespace qf::quant
