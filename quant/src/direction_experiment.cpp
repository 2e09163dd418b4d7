#include "qf/quant/direction_experiment.h"

#include <cmath>

#include "qf/data/windows.h"
#include "qf/nn/trainer.h"
#include "qf/quant/returns.h"

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
  if (split < o.window + 50 || days - split < o.window + 50)
    throw std::invalid_argument("run_direction_experiment: " + std::to_string(days) +
                                " days are too few for window " + std::to_string(o.window));
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
  nn::Adam optimizer(model.parameters(), nn::AdamOptions{o.learning_rate});
  const nn::CosineLR schedule(o.learning_rate, o.epochs, o.learning_rate * 0.05);
  auto forward = [&](const Var& x) { return model.forward(x); };

  DirectionExperimentResult result;
  result.train_samples = train.inputs.dim(0);
  result.validation_samples = validation.inputs.dim(0);
  double ups = 0;
  for (float y : validation.targets.span<float>()) ups += y;
  result.validation_up_share =
      ups / static_cast<double>(std::max<std::int64_t>(result.validation_samples, 1));

  for (std::int64_t epoch = 0; epoch < o.epochs; ++epoch) {
    optimizer.set_lr(schedule.lr(epoch));
    model.train();
    const nn::EpochStats fit = nn::train_epoch(forward, optimizer, train.inputs, train.targets,
                                               nn::TrainOptions{o.batch_size, 1.0, true}, rng);
    model.eval();
    const nn::EpochStats val = nn::evaluate(forward, validation.inputs, validation.targets);
    result.epochs.push_back({epoch + 1, fit.loss, fit.accuracy, val.loss, val.accuracy});
    if (on_epoch) on_epoch(result.epochs.back());
  }
  return result;
}

}  // namespace qf::quant
