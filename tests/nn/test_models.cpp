// Architectures by name, and fit(): early stopping restores the best epoch, seeds reproduce runs.
#include <gtest/gtest.h>

#include <cmath>

#include "qf/nn/trainer.h"

using namespace qf;

namespace {

// Windows whose label is the sign of the mean of the last three steps of feature 0 (learnable).
nn::TensorBatchSource toy_data(std::int64_t n, std::uint64_t seed) {
  Rng rng(seed);
  Tensor x = Tensor::empty({n, 10, 3});
  rng.fill_normal(x, 0, 1);
  Tensor y = Tensor::empty({n, 1});
  for (std::int64_t i = 0; i < n; ++i) {
    const float* w = x.data<float>() + i * 30;
    y.data<float>()[i] = w[21] + w[24] + w[27] > 0 ? 1.0f : 0.0f;
  }
  return nn::TensorBatchSource(x, y);
}

}  // namespace

TEST(Models, EveryBuiltInArchitectureMapsWindowsToOneLogit) {
  for (const std::string name : {"lstm", "gru", "attention_gru"}) {
    Rng rng(1);
    const std::int64_t layers = name == std::string("attention_gru") ? 1 : 2;
    auto model = nn::make_model({name, 3, 8, layers, 0.0}, rng);
    Tensor x = Tensor::empty({5, 7, 3});
    rng.fill_normal(x, 0, 1);
    const Var logits = model->forward(Var(x));
    EXPECT_EQ(logits.shape(), (Shape{5, 1})) << name;
    for (const float z : logits.value().span<float>()) EXPECT_TRUE(std::isfinite(z)) << name;
  }
}

TEST(Models, UnknownNameListsTheKnownOnes) {
  Rng rng(1);
  try {
    nn::make_model({"transformer_xl", 3, 8, 1, 0.0}, rng);
    FAIL() << "no error";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("transformer_xl"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("attention_gru, gru, lstm"), std::string::npos) << e.what();
  }
  EXPECT_THROW(nn::register_architecture("Bad Name", {}), std::invalid_argument);
  // Settings an architecture would ignore are refused, not silently dropped.
  EXPECT_THROW(nn::make_model({"attention_gru", 3, 8, 2, 0.0}, rng), std::invalid_argument);
  EXPECT_THROW(nn::make_model({"attention_gru", 3, 8, 1, 0.2}, rng), std::invalid_argument);
}

namespace {
// A researcher's architecture: mean over time of a Linear projection, then a head.
class MeanPoolClassifier : public nn::SequenceClassifier {
 public:
  MeanPoolClassifier(std::int64_t in, std::int64_t hidden, Rng& rng)
      : project(in, hidden, rng), head(hidden, 1, rng) {
    register_module("project", project);
    register_module("head", head);
  }
  Var forward(const Var& x) override { return head.forward(mean(tanh(project.forward(x)), 1)); }
  std::string type_name() const override { return "MeanPoolClassifier"; }
  nn::Linear project, head;
};
}  // namespace

TEST(Models, RegisteredArchitectureIsBuiltByName) {
  nn::register_architecture("mean_pool", [](const nn::ModelSpec& s, Rng& rng) {
    return std::make_unique<MeanPoolClassifier>(s.input_size, s.hidden_size, rng);
  });
  const auto names = nn::architectures();
  EXPECT_NE(std::find(names.begin(), names.end(), "mean_pool"), names.end());
  Rng rng(2);
  auto model = nn::make_model({"mean_pool", 3, 4, 1, 0.0}, rng);
  EXPECT_EQ(model->type_name(), "MeanPoolClassifier");
  EXPECT_EQ(model->forward(Var(Tensor::zeros({2, 6, 3}))).shape(), (Shape{2, 1}));
}

TEST(Fit, LearnsAndRestoresTheBestEpoch) {
  const auto train = toy_data(512, 3), validation = toy_data(256, 4);
  Rng rng(5);
  auto model = nn::make_model({"lstm", 3, 16, 1, 0.0}, rng);
  nn::FitOptions o;
  o.epochs = 12;
  o.patience = 3;
  o.learning_rate = 1e-2;
  const nn::FitResult r = nn::fit(*model, train, &validation, o, rng);
  ASSERT_EQ(static_cast<std::int64_t>(r.validation.size()), r.epochs_run);
  EXPECT_GE(r.best_epoch, 1);
  EXPECT_LE(r.epochs_run - r.best_epoch, o.patience);
  EXPECT_LT(r.train.back().loss, r.train.front().loss);
  EXPECT_GT(r.validation[static_cast<std::size_t>(r.best_epoch - 1)].accuracy, 0.75);
  // The model holds the best epoch's parameters: re-evaluating gives its validation loss exactly.
  const nn::EpochStats again = nn::evaluate([&](const Var& x) { return model->forward(x); }, validation);
  EXPECT_EQ(again.loss, r.best_validation_loss);
  EXPECT_EQ(r.train_samples_seen, 512 * r.epochs_run);
}

TEST(Fit, PatienceStopsWhenValidationStopsImproving) {
  // Labels of pure noise: validation loss cannot improve for long.
  auto noise = [](std::int64_t n, std::uint64_t seed) {
    Rng rng(seed);
    Tensor x = Tensor::empty({n, 5, 2});
    rng.fill_normal(x, 0, 1);
    Tensor y = Tensor::empty({n, 1});
    for (float& v : y.span<float>()) v = rng.uniform() < 0.5 ? 0.0f : 1.0f;
    return nn::TensorBatchSource(x, y);
  };
  const auto train = noise(256, 6), validation = noise(256, 7);
  Rng rng(8);
  auto model = nn::make_model({"gru", 2, 16, 1, 0.0}, rng);
  nn::FitOptions o;
  o.epochs = 50;
  o.patience = 2;
  o.learning_rate = 3e-2;
  const nn::FitResult r = nn::fit(*model, train, &validation, o, rng);
  EXPECT_LT(r.epochs_run, 50);
  EXPECT_EQ(r.epochs_run - r.best_epoch, 2);
}

TEST(Fit, SameSeedSameBits) {
  const auto train = toy_data(256, 9), validation = toy_data(64, 10);
  auto run = [&] {
    Rng rng(11);
    auto model = nn::make_model({"lstm", 3, 8, 2, 0.1}, rng);
    nn::FitOptions o;
    o.epochs = 3;
    nn::fit(*model, train, &validation, o, rng);
    std::vector<float> weights;
    for (const Var& p : model->parameters())
      weights.insert(weights.end(), p.value().span<float>().begin(), p.value().span<float>().end());
    return weights;
  };
  EXPECT_EQ(run(), run());
}
