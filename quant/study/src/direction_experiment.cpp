#include "qf/quant/study/direction_experiment.h"

#include <cmath>
#include <limits>

#include "qf/core/require.h"
#include "qf/data/windows.h"
#include "qf/nn/trainer.h"
#include "qf/quant/signals/returns.h"

namespace qf::quant {

Tensor direction_features(std::span<const double> close) {
  const std::vector<std::vector<double>> columns{log_returns(close), rolling_mean_return(close, 5),
                                                 realized_volatility(close, 20)};
  const auto days = static_cast<std::int64_t>(close.size()),
             width = static_cast<std::int64_t>(columns.size());
  Tensor features = Tensor::empty({days, width}, DType::f64);
  for (std::int64_t t = 0; t < days; ++t)
    for (std::int64_t j = 0; j < width; ++j)
      features.data<double>()[t * width + j] =
          columns[static_cast<std::size_t>(j)][static_cast<std::size_t>(t)];
  return features;
}

DirectionExperimentResult run_direction_experiment(std::span<const double> close,
                                                   const DirectionExperimentOptions& o,
                                                   const std::function<void(const EpochReport&)>& on_epoch) {
  const auto days = static_cast<std::int64_t>(close.size());
  const std::int64_t split = static_cast<std::int64_t>(static_cast<double>(days) * o.train_fraction);
  QF_REQUIRE_MSG(split >= o.window + 50 && days - split >= o.window + 50, "run_direction_experiment",
                 days << " days are too few for window " << o.window);
  const Tensor raw = direction_features(close);
  const std::vector<double> labels = next_day_direction(close);

  // Training windows end before `split - 1` so their labels (day t+1) stay inside training.
  data::StandardScaler scaler;
  scaler.fit(raw, 0, split);
  const Tensor features = scaler.transform(raw);
  const data::WindowSet train = data::make_windows(features, labels, o.window, 0, split - 2);
  const data::WindowSet validation =
      data::make_windows(features, labels, o.window, split + o.window, days - 1);

  Rng rng(o.seed);
  nn::LSTMClassifier model(nn::RNNOptions{features.dim(1), o.hidden, o.layers, 0.0, DType::f32}, rng);

  DirectionExperimentResult result;
  result.train_samples = train.inputs.dim(0);
  result.validation_samples = validation.inputs.dim(0);
  double ups = 0;
  for (float y : validation.targets.span<float>()) ups += y;
  result.validation_up_share =
      ups / static_cast<double>(std::max<std::int64_t>(result.validation_samples, 1));

  // Every epoch runs (no early stopping) and reports its validation scores.
  nn::FitOptions fit;
  fit.epochs = o.epochs;
  fit.patience = 0;
  fit.learning_rate = o.learning_rate;
  fit.cosine_schedule = true;
  fit.train = nn::TrainOptions{o.batch_size, 1.0, true};
  const nn::TensorBatchSource train_source(train.inputs, train.targets),
      validation_source(validation.inputs, validation.targets);
  nn::fit(model, train_source, &validation_source, fit, rng,
          [&](std::int64_t epoch, const nn::EpochStats& t, const nn::EpochStats* v) {
            const double nan = std::numeric_limits<double>::quiet_NaN();  // no validation windows
            result.epochs.push_back({epoch, t.loss, t.accuracy, v ? v->loss : nan, v ? v->accuracy : nan});
            if (on_epoch) on_epoch(result.epochs.back());
          });
  return result;
}

}  // namespace qf::quant
