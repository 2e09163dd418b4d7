// The model recipe of docs/architecture.md, followed by a toy: toy_model.cpp registers
// "toy_last_and_mean" from its own file (QF_REGISTER_ARCHITECTURE) and reaches this executable only
// through qf_add_models(). Without that registration, or with the file in a static library, every
// test here fails: the name is unknown.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "common/module_gradcheck.h"
#include "common/temp_path.h"
#include "qf/nn/serialize.h"
#include "qf/nn/trainer.h"

using namespace qf;

namespace {

const nn::ModelSpec kToy{"toy_last_and_mean", 3, 8, 1, 0.0};

// Windows [n, 6, 3] whose label is whether the last step's feature 0 is positive: learnable by the
// toy's last-step path.
nn::TensorBatchSource last_step_sign(std::int64_t n, std::uint64_t seed) {
  Rng rng(seed);
  Tensor x = Tensor::empty({n, 6, 3});
  rng.fill_normal(x, 0, 1);
  Tensor y = Tensor::empty({n, 1});
  for (std::int64_t i = 0; i < n; ++i) y.data<float>()[i] = x.data<float>()[i * 18 + 15] > 0 ? 1.0f : 0.0f;
  return nn::TensorBatchSource(x, y);
}

}  // namespace

TEST(ToyModel, IsFoundByName) {
  const auto names = nn::architectures();
  EXPECT_NE(std::find(names.begin(), names.end(), "toy_last_and_mean"), names.end());
  Rng rng(1);
  auto model = nn::make_model(kToy, rng);
  EXPECT_EQ(model->type_name(), "LastAndMeanClassifier");
  EXPECT_EQ(model->forward(Var(Tensor::zeros({4, 6, 3}))).shape(), (Shape{4, 1}));
  EXPECT_THROW(nn::make_model({"toy_last_and_mean", 3, 8, 2, 0.0}, rng), std::invalid_argument);
}

TEST(ToyModel, TrainsWithFallingLoss) {
  const auto train = last_step_sign(512, 2), validation = last_step_sign(256, 3);
  Rng rng(4);
  auto model = nn::make_model(kToy, rng);
  nn::FitOptions o;
  o.epochs = 5;
  o.learning_rate = 1e-2;
  const nn::FitResult r = nn::fit(*model, train, &validation, o, rng);
  ASSERT_EQ(r.epochs_run, 5);
  for (std::size_t e = 1; e < r.train.size(); ++e) EXPECT_LT(r.train[e].loss, r.train[e - 1].loss) << e;
  EXPECT_GT(r.validation[static_cast<std::size_t>(r.best_epoch - 1)].accuracy, 0.8);
}

TEST(ToyModel, GradientsMatchFiniteDifferences) {
  Rng rng(5);
  auto model = nn::make_model(kToy, rng);
  Tensor x = Tensor::empty({2, 6, 3}, DType::f64);
  rng.fill_uniform(x, -1.0, 1.0);
  test_support::check_module(*model, x, [&](const Var& input) { return model->forward(input); });
}

// What predict_stock_movement does with a registry: rebuild the model by name from its saved
// configuration, then load the weights; it must give the same logits.
TEST(ToyModel, IsRebuiltFromItsSavedConfiguration) {
  Rng rng(6);
  auto model = nn::make_model(kToy, rng);
  const auto path = test_support::temp_path("toy_model.h5");
  nn::save_model(path, *model);
  const auto [type, config] = nn::read_model_config(path);
  EXPECT_EQ(type, "LastAndMeanClassifier");
  Rng other(7);
  auto reloaded = nn::make_model({"toy_last_and_mean", std::stoll(config.at("input_size")),
                                  std::stoll(config.at("hidden_size")), 1, 0.0},
                                 other);
  nn::load_parameters(path, *reloaded);
  std::filesystem::remove(path);
  Tensor x = Tensor::empty({3, 6, 3});
  rng.fill_normal(x, 0, 1);
  const Tensor a = model->forward(Var(x)).value(), b = reloaded->forward(Var(x)).value();
  for (std::int64_t i = 0; i < 3; ++i) EXPECT_EQ(a.data<float>()[i], b.data<float>()[i]);
}

TEST(ToyModel, ANameIsRegisteredOnce) {
  const nn::ModelFactory none = [](const nn::ModelSpec&, Rng&) {
    return std::unique_ptr<nn::SequenceClassifier>();
  };
  EXPECT_THROW(nn::ArchitectureRegistration("toy_last_and_mean", none), std::logic_error);
  EXPECT_THROW(nn::ArchitectureRegistration("lstm", none), std::logic_error);
  EXPECT_THROW(nn::ArchitectureRegistration("Toy", none), std::invalid_argument);
}
