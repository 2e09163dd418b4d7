// The CPU side of multi-model training: stacking, the reference step (bit for bit N separate nn training
// steps, padding and idle models included) and fit_multi (bit for bit N calls of nn::fit).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "common/random_tensor.h"
#include "qf/nn/lstm_multi.h"
#include "qf/tensor/device.h"
#include "qf/tensor/parallel.h"

using namespace qf;
using test_support::random;

namespace {

Tensor labels(std::int64_t n, std::uint64_t seed) {
  Tensor t = random({n, 1}, seed, 0.0, 1.0);
  for (float& v : t.span<float>()) v = v > 0.5f ? 1.0f : 0.0f;
  return t;
}

bool same_bits(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && std::memcmp(a.data<float>(), b.data<float>(),
                                               sizeof(float) * static_cast<std::size_t>(a.numel())) == 0;
}

nn::RNNOptions options(std::int64_t input, std::int64_t hidden, std::int64_t layers) {
  return nn::RNNOptions{input, hidden, layers, 0.0, DType::f32};
}

std::vector<nn::LSTMClassifier*> pointers(std::vector<std::unique_ptr<nn::LSTMClassifier>>& models) {
  std::vector<nn::LSTMClassifier*> out;
  for (auto& m : models) out.push_back(m.get());
  return out;
}

// N classifiers with weights from seeds base + n; called twice it gives identical copies.
std::vector<std::unique_ptr<nn::LSTMClassifier>> make_models(std::size_t n, const nn::RNNOptions& o,
                                                             std::uint64_t base) {
  std::vector<std::unique_ptr<nn::LSTMClassifier>> models;
  for (std::size_t k = 0; k < n; ++k) {
    Rng rng(base + k);
    models.push_back(std::make_unique<nn::LSTMClassifier>(o, rng));
  }
  return models;
}

}  // namespace

TEST(LSTMMulti, StackAndUnstackRoundTrip) {
  auto a = make_models(3, options(4, 8, 2), 10);
  auto b = make_models(3, options(4, 8, 2), 20);
  const auto pa = pointers(a), pb = pointers(b);
  const std::vector<Tensor> stacked = nn::stack_parameters(pa);
  ASSERT_EQ(stacked.size(), 10u);  // 4 per layer + the head's weight and bias
  EXPECT_EQ(stacked[0].shape(), (Shape{3, 32, 4}));
  EXPECT_EQ(stacked[8].shape(), (Shape{3, 1, 8}));
  nn::unstack_parameters(stacked, pb);
  for (std::size_t m = 0; m < 3; ++m) {
    const auto x = a[m]->parameters(), y = b[m]->parameters();
    for (std::size_t k = 0; k < x.size(); ++k) EXPECT_TRUE(same_bits(x[k].value(), y[k].value()));
  }
  const nn::MultiLSTMShape s = nn::multi_shape_of(pa);
  EXPECT_EQ(s.models, 3);
  EXPECT_EQ(s.hidden_size, 8);
  EXPECT_EQ(s.num_layers, 2);
  // What the CUDA trainer checks its parameters against.
  const std::vector<Shape> shapes = nn::stacked_parameter_shapes(s);
  ASSERT_EQ(shapes.size(), stacked.size());
  for (std::size_t k = 0; k < shapes.size(); ++k) EXPECT_EQ(shapes[k], stacked[k].shape()) << k;
  auto other = make_models(1, options(4, 16, 2), 1);
  std::vector<nn::LSTMClassifier*> mixed{pa[0], other[0].get()};
  EXPECT_THROW(nn::multi_shape_of(mixed), std::invalid_argument);
}

// The reference step against N independent nn::train_epoch calls of one batch each (batch_size = the
// rows, no shuffle): same parameters bit for bit, padding rows ignored, models without rows untouched.
TEST(LSTMMulti, ReferenceStepEqualsSeparateTrainingSteps) {
  const SerialRegion serial;  // the reference runs each model serially; so must the comparison
  for (const std::int64_t layers : {1, 2}) {
    constexpr std::int64_t N = 4, B = 6, T = 5, F = 3, H = 8;
    auto multi = make_models(N, options(F, H, layers), 100);
    auto single = make_models(N, options(F, H, layers), 100);
    const auto pm = pointers(multi);
    nn::MultiOptimizerOptions o;
    o.lr = 0.01;
    o.weight_decay = 0.01;
    o.clip_norm = 0.5;  // small enough that some steps clip
    nn::MultiLSTMReference reference(pm, o);
    std::vector<std::unique_ptr<nn::Adam>> optimizers;
    for (auto& m : single)
      optimizers.push_back(std::make_unique<nn::Adam>(
          m->parameters(), nn::AdamOptions{o.lr, o.beta1, o.beta2, o.eps, o.weight_decay}, true));
    const std::vector<std::vector<std::int64_t>> rows_per_step{{6, 4, 0, 1}, {2, 6, 3, 0}, {6, 6, 6, 6}};
    std::vector<double> expected_loss(N, 0.0), expected_correct(N, 0.0);
    for (std::size_t step = 0; step < rows_per_step.size(); ++step) {
      nn::MultiBatch batch = nn::make_multi_batch(N, B, T, F);
      batch.x = random({N, B, T, F}, 7 + step);  // padding rows hold data too: it must be ignored
      batch.y = random({N, B}, 8 + step, 0.0, 1.0);
      for (float& v : batch.y.span<float>()) v = v > 0.5f ? 1.0f : 0.0f;
      batch.rows = rows_per_step[step];
      reference.train_step(batch);
      for (std::int64_t n = 0; n < N; ++n) {
        const std::int64_t r = batch.rows[static_cast<std::size_t>(n)];
        if (r == 0) continue;
        const Tensor x = batch.x[n].slice(0, r).clone(), y = batch.y[n].slice(0, r).clone().reshape({r, 1});
        Rng unused(0);
        nn::LSTMClassifier& model = *single[static_cast<std::size_t>(n)];
        const auto stats = nn::train_epoch([&](const Var& v) { return model.forward(v); },
                                           *optimizers[static_cast<std::size_t>(n)], x, y,
                                           nn::TrainOptions{r, o.clip_norm, false}, unused);
        expected_loss[static_cast<std::size_t>(n)] += stats.loss * static_cast<double>(r);
        expected_correct[static_cast<std::size_t>(n)] += stats.accuracy * static_cast<double>(r);
      }
    }
    for (std::size_t n = 0; n < N; ++n) {
      const auto a = multi[n]->parameters(), b = single[n]->parameters();
      for (std::size_t k = 0; k < a.size(); ++k)
        EXPECT_TRUE(same_bits(a[k].value(), b[k].value()))
            << "layers " << layers << " model " << n << " tensor " << k;
    }
    const nn::MultiTotals totals = reference.take_totals();
    for (std::size_t n = 0; n < N; ++n) {
      EXPECT_DOUBLE_EQ(totals.loss_sum[n], expected_loss[n]);
      EXPECT_DOUBLE_EQ(totals.correct[n], expected_correct[n]);
    }
    EXPECT_EQ(reference.take_totals().loss_sum[0], 0.0);  // taken: reset
  }
}

TEST(LSTMMulti, ReferenceEvaluateGivesEachModelsLogits) {
  constexpr std::int64_t N = 2, B = 5, T = 4, F = 2, H = 6;
  auto models = make_models(N, options(F, H, 1), 3);
  const auto p = pointers(models);
  nn::MultiLSTMReference reference(p, {});
  nn::MultiBatch batch = nn::make_multi_batch(N, B, T, F);
  batch.x = random({N, B, T, F}, 1);
  batch.rows = {5, 2};
  Tensor logits;
  reference.evaluate_step(batch, &logits);
  ASSERT_EQ(logits.shape(), (Shape{N, B}));
  const NoGradGuard no_grad;
  for (std::int64_t n = 0; n < N; ++n) {
    const std::int64_t r = batch.rows[static_cast<std::size_t>(n)];
    const Tensor z =
        models[static_cast<std::size_t>(n)]->forward(Var(batch.x[n].slice(0, r).clone())).value();
    for (std::int64_t b = 0; b < r; ++b) EXPECT_EQ(logits.at({n, b}), z.at({b, 0}));
  }
}

// fit_multi with the reference backend against nn::fit per model: different sample counts (so models
// run out of batches at different steps), one model without a validation set, early stopping with a
// short patience, the cosine schedule. Everything must agree bit for bit.
TEST(LSTMMulti, FitMultiReferenceEqualsSeparateFits) {
  const SerialRegion serial;
  constexpr std::int64_t T = 6, F = 3, H = 8;
  const std::vector<std::int64_t> train_sizes{50, 23, 37, 9}, validation_sizes{12, 0, 7, 5};
  const std::size_t N = train_sizes.size();
  std::vector<nn::TensorBatchSource> train, validation;
  for (std::size_t n = 0; n < N; ++n) {
    train.emplace_back(random({train_sizes[n], T, F}, 40 + n), labels(train_sizes[n], 50 + n));
    validation.emplace_back(random({validation_sizes[n], T, F}, 60 + n), labels(validation_sizes[n], 70 + n));
  }
  nn::FitOptions o;
  o.epochs = 6;
  o.patience = 2;
  o.learning_rate = 0.02;
  o.weight_decay = 0.01;
  o.cosine_schedule = true;
  o.train.batch_size = 8;
  o.train.clip_norm = 0.5;

  auto multi = make_models(N, options(F, H, 1), 200);
  auto single = make_models(N, options(F, H, 1), 200);
  std::vector<Rng> rngs;
  for (std::size_t n = 0; n < N; ++n) rngs.push_back(Rng(300 + n));
  std::vector<const nn::BatchSource*> train_ptr, validation_ptr;
  for (std::size_t n = 0; n < N; ++n) {
    train_ptr.push_back(&train[n]);
    validation_ptr.push_back(n == 1 ? nullptr : &validation[n]);
  }
  const auto pm = pointers(multi);
  const std::vector<nn::FitResult> got =
      nn::fit_multi(pm, train_ptr, validation_ptr, o, rngs, nn::MultiBackend::cpu_reference);
  ASSERT_EQ(got.size(), N);
  bool some_stopped_early = false;
  for (std::size_t n = 0; n < N; ++n) {
    Rng rng(300 + n);
    const nn::FitResult want = nn::fit(*single[n], train[n], validation_ptr[n], o, rng);
    EXPECT_EQ(got[n].epochs_run, want.epochs_run) << n;
    EXPECT_EQ(got[n].best_epoch, want.best_epoch) << n;
    if (std::isnan(want.best_validation_loss)) {
      EXPECT_TRUE(std::isnan(got[n].best_validation_loss)) << n;
    } else {
      EXPECT_EQ(got[n].best_validation_loss, want.best_validation_loss) << n;
    }
    EXPECT_EQ(got[n].train_samples_seen, want.train_samples_seen);
    EXPECT_EQ(got[n].eval_samples_seen, want.eval_samples_seen);
    ASSERT_EQ(got[n].train.size(), want.train.size());
    for (std::size_t e = 0; e < want.train.size(); ++e) {
      EXPECT_EQ(got[n].train[e].loss, want.train[e].loss) << n << " epoch " << e;
      EXPECT_EQ(got[n].train[e].accuracy, want.train[e].accuracy) << n << " epoch " << e;
    }
    ASSERT_EQ(got[n].validation.size(), want.validation.size());
    for (std::size_t e = 0; e < want.validation.size(); ++e)
      EXPECT_EQ(got[n].validation[e].loss, want.validation[e].loss) << n << " epoch " << e;
    EXPECT_EQ(rngs[n].next_u64(), rng.next_u64()) << "the generators advanced alike";
    const auto a = multi[n]->parameters(), b = single[n]->parameters();
    for (std::size_t k = 0; k < a.size(); ++k)
      EXPECT_TRUE(same_bits(a[k].value(), b[k].value())) << n << " " << k;
    some_stopped_early |= want.epochs_run < o.epochs;
  }
  EXPECT_TRUE(some_stopped_early) << "the data should make early stopping happen for at least one model";
}

TEST(LSTMMulti, CudaBackendWithoutDeviceSaysWhy) {
  if (cuda_device_count() > 0) GTEST_SKIP() << "this machine has a CUDA device";
  auto models = make_models(2, options(3, 4, 1), 1);
  const auto p = pointers(models);
  try {
    nn::make_cuda_multi_lstm(nn::multi_shape_of(p), nn::stack_parameters(p), {});
    FAIL() << "expected an error";
  } catch (const std::runtime_error& e) {
    const std::string what = e.what();
    EXPECT_TRUE(what.find("no CUDA device") != std::string::npos ||
                what.find("no CUDA backend") != std::string::npos)
        << what;
  }
}
