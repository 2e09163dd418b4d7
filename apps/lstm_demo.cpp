// Demo until the plan's stages exist: trains an LSTM to predict the next day's direction of a built-in
// synthetic price series (with a weak planted momentum component) and prints the loss going down.
#include <boost/program_options.hpp>
#include <chrono>
#include <cstdio>
#include <iostream>

#include "blas_kernels.h"
#include "command_line.h"
#include "qf/data/synthetic.h"
#include "qf/quant/study/direction_experiment.h"
#include "qf/tensor/parallel.h"

namespace po = boost::program_options;

namespace {

int run(int argc, char** argv) {
  qf::data::SyntheticSeriesOptions series;
  qf::quant::DirectionExperimentOptions experiment;
  int threads = 2;
  po::options_description options("lstm_demo: train an LSTM on a synthetic series");
  // clang-format off
  options.add_options()
      ("help,h", "show this help")
      ("days", po::value(&series.days)->default_value(series.days), "trading days to generate")
      ("predictability", po::value(&series.predictability)->default_value(0.5),
       "planted momentum coefficient (0 = pure random walk)")
      ("seed", po::value(&series.seed)->default_value(series.seed), "random seed (data and model)")
      ("window", po::value(&experiment.window)->default_value(experiment.window), "sequence length")
      ("hidden", po::value(&experiment.hidden)->default_value(experiment.hidden), "LSTM hidden size")
      ("layers", po::value(&experiment.layers)->default_value(experiment.layers), "LSTM layers")
      ("epochs", po::value(&experiment.epochs)->default_value(experiment.epochs), "training epochs")
      ("lr", po::value(&experiment.learning_rate)->default_value(experiment.learning_rate), "Adam learning rate");
  // clang-format on
  qf::apps::add_threads_option(options, threads);
  if (!qf::apps::parse_command_line(argc, argv, options)) return 0;
  experiment.seed = series.seed;
  qf::set_num_threads(threads);

  const auto data = qf::data::make_synthetic_series(series);
  std::printf("synthetic series: %lld days, predictability %.2f, seed %llu\n",
              static_cast<long long>(series.days), series.predictability,
              static_cast<unsigned long long>(series.seed));
  std::printf("%6s %12s %10s %12s %10s %8s\n", "epoch", "train_loss", "train_acc", "valid_loss", "valid_acc",
              "secs");
  auto start = std::chrono::steady_clock::now();
  const auto result = qf::quant::run_direction_experiment(data.close, experiment, [&](const auto& e) {
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("%6lld %12.5f %10.3f %12.5f %10.3f %8.2f\n", static_cast<long long>(e.epoch), e.train_loss,
                e.train_accuracy, e.validation_loss, e.validation_accuracy, secs);
    std::fflush(stdout);
  });
  const auto& first = result.epochs.front();
  const auto& last = result.epochs.back();
  std::printf(
      "train loss %.5f -> %.5f; validation accuracy %.3f (always-up baseline %.3f; %lld train / %lld "
      "validation windows)\n",
      first.train_loss, last.train_loss, last.validation_accuracy, result.validation_up_share,
      static_cast<long long>(result.train_samples), static_cast<long long>(result.validation_samples));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  qf::apps::use_best_blas_kernels(argv);
  return qf::apps::run_app("lstm_demo", [&] { return run(argc, argv); });
}
