// End-to-end: the demo's experiment learns a planted signal, learns nothing from a random walk, and is
// reproducible bit for bit from its seed.
#include <gtest/gtest.h>

#include "qf/data/synthetic.h"
#include "qf/quant/study/direction_experiment.h"
#include "qf/tensor/parallel.h"

using namespace qf;

namespace {
quant::DirectionExperimentOptions small_run() {
  quant::DirectionExperimentOptions o;
  o.window = 30;
  o.hidden = 16;
  o.epochs = 6;
  return o;
}
}  // namespace

TEST(Training, LossGoesDownAndPlantedSignalIsFound) {
  set_num_threads(1);
  const auto series = data::make_synthetic_series({.days = 2500, .predictability = 0.5, .seed = 11});
  const auto r = quant::run_direction_experiment(series.close, small_run());
  EXPECT_LT(r.epochs.back().train_loss, r.epochs.front().train_loss);
  EXPECT_GT(r.epochs.back().validation_accuracy, r.validation_up_share + 0.03);
}

TEST(Training, RandomWalkGivesNoEdge) {
  set_num_threads(1);
  const auto series = data::make_synthetic_series({.days = 2500, .predictability = 0.0, .seed = 12});
  const auto r = quant::run_direction_experiment(series.close, small_run());
  // ~690 validation windows: one standard error of an accuracy of 0.5 is ~0.019.
  EXPECT_NEAR(r.epochs.back().validation_accuracy, 0.5, 0.06);
}

TEST(Training, ReproducibleFromSeed) {
  set_num_threads(1);
  const auto series = data::make_synthetic_series({.days = 800, .predictability = 0.3, .seed = 13});
  auto o = small_run();
  o.epochs = 2;
  const auto a = quant::run_direction_experiment(series.close, o);
  const auto b = quant::run_direction_experiment(series.close, o);
  for (std::size_t i = 0; i < a.epochs.size(); ++i) {
    EXPECT_EQ(a.epochs[i].train_loss, b.epochs[i].train_loss);
    EXPECT_EQ(a.epochs[i].validation_loss, b.epochs[i].validation_loss);
  }
}
