// The multi-model CUDA trainer against the CPU reference (MultiLSTMReference, itself checked bit for bit
// against nn in test_lstm_multi), and cuDNN's LSTM against our single-model kernels, with the same
// weights (float32, rel. 1e-4; NaN never passes). Device blocks start NaN-filled during the runs, so
// that an element the kernels fail to write is caught. Skipped without a CUDA device.
#include <gtest/gtest.h>

#include "common/compare.h"
#include "common/cuda_poison.h"
#include "common/random_tensor.h"
#include "qf/nn/lstm_cuda.h"
#include "qf/nn/lstm_cudnn.h"
#include "qf/nn/lstm_multi.h"
#include "qf/tensor/cuda.h"
#include "qf/tensor/device.h"

using namespace qf;
using test_support::PoisonNewDeviceBlocks;
using test_support::random;

namespace {

std::vector<std::unique_ptr<nn::LSTMClassifier>> make_models(std::int64_t n, std::int64_t input,
                                                             std::int64_t hidden, std::int64_t layers,
                                                             std::uint64_t base) {
  std::vector<std::unique_ptr<nn::LSTMClassifier>> models;
  for (std::int64_t k = 0; k < n; ++k) {
    Rng rng(base + static_cast<std::uint64_t>(k));
    models.push_back(std::make_unique<nn::LSTMClassifier>(nn::RNNOptions{input, hidden, layers, 0.0}, rng));
  }
  return models;
}

std::vector<nn::LSTMClassifier*> pointers(std::vector<std::unique_ptr<nn::LSTMClassifier>>& models) {
  std::vector<nn::LSTMClassifier*> out;
  for (auto& m : models) out.push_back(m.get());
  return out;
}

}  // namespace

// Three lockstep steps (some models idle, some with padding rows, clipping active) against the reference.
TEST(LSTMMultiCuda, TrainStepsMatchReference) {
  if (cuda_device_count() == 0) GTEST_SKIP() << "no CUDA device on this machine";
  for (auto [N, B, T, F, H, L] :
       {std::tuple<std::int64_t, std::int64_t, std::int64_t, std::int64_t, std::int64_t, std::int64_t>{
            5, 9, 7, 4, 16, 1},
        {7, 64, 60, 16, 64, 1},
        {3, 17, 11, 5, 32, 2}}) {
    auto cpu = make_models(N, F, H, L, 500);
    auto gpu_init = make_models(N, F, H, L, 500);
    const auto pc = pointers(cpu), pg = pointers(gpu_init);
    nn::MultiOptimizerOptions o;
    o.lr = 0.01;
    o.weight_decay = 0.01;
    o.clip_norm = 0.5;
    nn::MultiLSTMReference reference(pc, o);
    const std::vector<Tensor> start = nn::stack_parameters(pg);
    const PoisonNewDeviceBlocks poison;  // what a kernel fails to write stays NaN
    auto gpu = nn::make_cuda_multi_lstm(nn::multi_shape_of(pg), start, o);
    for (int step = 0; step < 3; ++step) {
      nn::MultiBatch batch = nn::make_multi_batch(N, B, T, F);
      batch.x = random({N, B, T, F}, 10 + static_cast<std::uint64_t>(step));  // finite data in padding too
      batch.y = random({N, B}, 20 + static_cast<std::uint64_t>(step), 0.0, 1.0);
      for (float& v : batch.y.span<float>()) v = v > 0.5f ? 1.0f : 0.0f;
      for (std::int64_t n = 0; n < N; ++n)
        batch.rows[static_cast<std::size_t>(n)] = (n + step) % 3 == 0 ? 0 : B - n % B;
      reference.train_step(batch);
      gpu->train_step(batch);
    }
    const auto want = reference.parameters(), got = gpu->parameters();
    ASSERT_EQ(want.size(), got.size());
    for (std::size_t k = 0; k < want.size(); ++k)
      EXPECT_LT(max_relative_error(got[k], want[k], 1e-3), 1e-4)
          << N << "x" << B << "x" << H << " L" << L << " tensor " << k;
    const nn::MultiTotals a = reference.take_totals(), b = gpu->take_totals();
    for (std::int64_t n = 0; n < N; ++n) {
      const auto i = static_cast<std::size_t>(n);
      EXPECT_NEAR(b.loss_sum[i], a.loss_sum[i], 1e-4 * std::max(1.0, a.loss_sum[i])) << n;
      EXPECT_NEAR(b.correct[i], a.correct[i], 1.0) << n;  // a logit at 0 may fall either way
    }
  }
}

TEST(LSTMMultiCuda, EvaluateMatchesReference) {
  if (cuda_device_count() == 0) GTEST_SKIP() << "no CUDA device on this machine";
  constexpr std::int64_t N = 6, B = 33, T = 20, F = 8, H = 32;
  auto models = make_models(N, F, H, 2, 900);
  const auto p = pointers(models);
  nn::MultiLSTMReference reference(p, {});
  const PoisonNewDeviceBlocks poison;
  auto gpu = nn::make_cuda_multi_lstm(nn::multi_shape_of(p), nn::stack_parameters(p), {});
  nn::MultiBatch batch = nn::make_multi_batch(N, B, T, F);
  batch.x = random({N, B, T, F}, 3);
  Tensor coins = random({N, B}, 4, 0.0, 1.0);
  for (float& t : coins.span<float>()) t = t < 0.5f ? 0.0f : 1.0f;
  batch.y = coins;
  batch.rows = {33, 1, 0, 20, 33, 7};
  Tensor want, got;
  reference.evaluate_step(batch, &want);
  gpu->evaluate_step(batch, &got);
  for (std::int64_t n = 0; n < N; ++n)
    for (std::int64_t b = 0; b < batch.rows[static_cast<std::size_t>(n)]; ++b) {
      const double w = want.at({n, b}), g = got.at({n, b});
      EXPECT_LT(std::abs(g - w) / std::max({std::abs(w), std::abs(g), 1e-3}), 1e-4) << n << " " << b;
    }
  // Validation loss drives early stopping: evaluation must add to the totals like a training step.
  const nn::MultiTotals a = reference.take_totals(), b = gpu->take_totals();
  for (std::size_t i = 0; i < static_cast<std::size_t>(N); ++i) {
    EXPECT_NEAR(b.loss_sum[i], a.loss_sum[i], 1e-4 * std::max(1.0, a.loss_sum[i])) << i;
    EXPECT_NEAR(b.correct[i], a.correct[i], 1.0) << i;
    if (batch.rows[i] > 0) {
      EXPECT_GT(a.loss_sum[i], 0.0) << i;
    }
  }
}

// A whole fit_multi on both backends: the same epochs, and weights that agree closely.
TEST(LSTMMultiCuda, FitMultiMatchesReference) {
  if (cuda_device_count() == 0) GTEST_SKIP() << "no CUDA device on this machine";
  constexpr std::int64_t T = 10, F = 4, H = 16;
  const std::vector<std::int64_t> sizes{80, 41, 63};
  std::vector<nn::TensorBatchSource> train, validation;
  for (std::size_t n = 0; n < sizes.size(); ++n) {
    Tensor y = random({sizes[n], 1}, 30 + n, 0.0, 1.0), yv = random({20, 1}, 40 + n, 0.0, 1.0);
    for (float& v : y.span<float>()) v = v > 0.5f ? 1.0f : 0.0f;
    for (float& v : yv.span<float>()) v = v > 0.5f ? 1.0f : 0.0f;
    train.emplace_back(random({sizes[n], T, F}, 10 + n), y);
    validation.emplace_back(random({20, T, F}, 20 + n), yv);
  }
  std::vector<const nn::BatchSource*> tp, vp;
  for (std::size_t n = 0; n < sizes.size(); ++n) {
    tp.push_back(&train[n]);
    vp.push_back(&validation[n]);
  }
  nn::FitOptions o;
  o.epochs = 3;
  o.patience = 0;
  o.train.batch_size = 16;
  auto cpu = make_models(3, F, H, 1, 7), gpu = make_models(3, F, H, 1, 7);
  const auto pc = pointers(cpu), pg = pointers(gpu);
  std::vector<Rng> rc{Rng(1), Rng(2), Rng(3)}, rg{Rng(1), Rng(2), Rng(3)};
  const auto want = nn::fit_multi(pc, tp, vp, o, rc, nn::MultiBackend::cpu_reference);
  const auto got = nn::fit_multi(pg, tp, vp, o, rg, nn::MultiBackend::cuda);
  for (std::size_t n = 0; n < sizes.size(); ++n) {
    EXPECT_EQ(got[n].epochs_run, want[n].epochs_run);
    ASSERT_EQ(got[n].train.size(), want[n].train.size());
    for (std::size_t e = 0; e < want[n].train.size(); ++e)
      EXPECT_NEAR(got[n].train[e].loss, want[n].train[e].loss, 1e-4) << n << " epoch " << e;
    ASSERT_EQ(got[n].validation.size(), want[n].validation.size());
    for (std::size_t e = 0; e < want[n].validation.size(); ++e)
      EXPECT_NEAR(got[n].validation[e].loss, want[n].validation[e].loss, 1e-4) << n << " epoch " << e;
    EXPECT_EQ(got[n].best_epoch, want[n].best_epoch) << n;
    const auto a = cpu[n]->parameters(), b = gpu[n]->parameters();
    for (std::size_t k = 0; k < a.size(); ++k)
      EXPECT_LT(max_relative_error(b[k].value(), a[k].value(), 1e-3), 1e-3) << n << " " << k;
  }
}

// cuDNN's LSTM layer and ours (lstm_cuda.h) with the same weights: outputs and every gradient.
TEST(LSTMMultiCuda, CudnnMatchesOurKernels) {
  if (cuda_device_count() == 0) GTEST_SKIP() << "no CUDA device on this machine";
  if (!nn::cudnn::available()) GTEST_SKIP() << "this build has no cuDNN";
  for (auto [B, S, I, H] : {std::tuple{3, 7, 5, 16}, std::tuple{64, 60, 16, 64}}) {
    Rng rng(static_cast<std::uint64_t>(B + H));
    nn::LSTM lstm(nn::RNNOptions{I, H, 1}, rng);
    const auto& l = lstm.layers[0];
    auto dev = [](const Tensor& t) { return t.to(Device::cuda); };
    const Tensor x = dev(random({B, S, I}, 1)), dy = dev(random({B, S, H}, 2));
    const Tensor zeros = dev(Tensor::zeros({B, H}));
    const nn::cudnn::LSTMWeights w{dev(l.weight_ih.value()), dev(l.weight_hh.value()), dev(l.bias_ih.value()),
                                   dev(l.bias_hh.value())};
    nn::cudnn::LSTM reference(I, H, 1, B, S);
    reference.set_weights(std::span(&w, 1));
    const Tensor y_cudnn = reference.forward(x, true).to(Device::cpu);
    const auto g_cudnn = reference.backward(x, dy);
    const auto fwd =
        nn::cuda::lstm_layer_forward(x, zeros, zeros, w.weight_ih, w.weight_hh, w.bias_ih, w.bias_hh);
    const auto g =
        nn::cuda::lstm_layer_backward(fwd, x, zeros, zeros, w.weight_ih, w.weight_hh, dy, Tensor());
    const std::string shape =
        std::to_string(B) + "x" + std::to_string(S) + "x" + std::to_string(I) + "x" + std::to_string(H);
    auto host = [](const Tensor& t) { return t.to(Device::cpu); };
    EXPECT_LT(max_relative_error(host(fwd.output), y_cudnn, 1e-3), 1e-4) << "y " << shape;
    EXPECT_LT(test_support::scaled_relative_error(host(g.x), host(g_cudnn.x)), 1e-4) << "dx " << shape;
    EXPECT_LT(test_support::scaled_relative_error(host(g.weight_ih), host(g_cudnn.weights[0].weight_ih)),
              1e-4)
        << shape;
    EXPECT_LT(test_support::scaled_relative_error(host(g.weight_hh), host(g_cudnn.weights[0].weight_hh)),
              1e-4)
        << shape;
    EXPECT_LT(test_support::scaled_relative_error(host(g.bias), host(g_cudnn.weights[0].bias_ih)), 1e-4)
        << shape;
    EXPECT_LT(test_support::scaled_relative_error(host(g.bias), host(g_cudnn.weights[0].bias_hh)), 1e-4)
        << shape;
  }
}

// Two cuDNN layers against the CPU LSTM forward (our multi-layer path is the multi-model trainer's).
TEST(LSTMMultiCuda, CudnnTwoLayersMatchCpu) {
  if (cuda_device_count() == 0) GTEST_SKIP() << "no CUDA device on this machine";
  if (!nn::cudnn::available()) GTEST_SKIP() << "this build has no cuDNN";
  constexpr std::int64_t B = 8, S = 12, I = 6, H = 32;
  Rng rng(5);
  nn::LSTM lstm(nn::RNNOptions{I, H, 2}, rng);
  const Tensor x = random({B, S, I}, 9);
  const NoGradGuard no_grad;
  const Tensor want = lstm.forward(Var(x)).output.value();
  std::vector<nn::cudnn::LSTMWeights> w;
  for (const auto& l : lstm.layers)
    w.push_back({l.weight_ih.value().to(Device::cuda), l.weight_hh.value().to(Device::cuda),
                 l.bias_ih.value().to(Device::cuda), l.bias_hh.value().to(Device::cuda)});
  nn::cudnn::LSTM reference(I, H, 2, B, S);
  reference.set_weights(w);
  EXPECT_LT(max_relative_error(reference.forward(x.to(Device::cuda), false).to(Device::cpu), want, 1e-3),
            1e-4);
}

TEST(LSTMMultiCuda, CudnnStubSaysWhy) {
  if (nn::cudnn::available()) GTEST_SKIP() << "this build has cuDNN";
  EXPECT_THROW(nn::cudnn::LSTM(2, 4, 1, 2, 3), std::runtime_error);
}

// The pinned asynchronous uploads (two input slots, a copy stream) change when the bytes arrive, never
// which: five steps (both slots used twice, an evaluation between) equal the pageable path bit for bit.
TEST(LSTMMultiCuda, PinnedUploadsEqualPageableBitForBit) {
  if (cuda_device_count() == 0) GTEST_SKIP() << "no CUDA device on this machine";
  constexpr std::int64_t N = 6, B = 16, T = 20, F = 5, H = 32;
  auto models = make_models(N, F, H, 1, 900);
  const auto p = pointers(models);
  const std::vector<Tensor> start = nn::stack_parameters(p);
  std::vector<std::vector<Tensor>> trained;
  std::vector<Tensor> logits;
  for (const nn::MultiUpload upload : {nn::MultiUpload::pageable, nn::MultiUpload::pinned_async}) {
    auto gpu = nn::make_cuda_multi_lstm(nn::multi_shape_of(p), start, {}, upload);
    nn::MultiBatch batch = nn::make_multi_batch(N, B, T, F);
    for (int step = 0; step < 5; ++step) {
      batch.x = random({N, B, T, F}, 40 + static_cast<std::uint64_t>(step));  // refilled at once: staged
      batch.y = random({N, B}, 50 + static_cast<std::uint64_t>(step), 0.0, 1.0);
      for (float& v : batch.y.span<float>()) v = v > 0.5f ? 1.0f : 0.0f;
      for (std::int64_t n = 0; n < N; ++n) batch.rows[static_cast<std::size_t>(n)] = B - (n + step) % 4;
      gpu->train_step(batch);
      if (step == 2) gpu->evaluate_step(batch, &logits.emplace_back());
    }
    trained.push_back(gpu->parameters());
  }
  for (std::size_t k = 0; k < trained[0].size(); ++k)
    EXPECT_EQ(max_relative_error(trained[1][k], trained[0][k], 1e-30), 0.0) << "tensor " << k;
  EXPECT_EQ(max_relative_error(logits[1], logits[0], 1e-30), 0.0);
}

// Every cuDNN algorithm in both math modes, where cuDNN accepts the shape, against the CPU LSTM: y, dx
// and dW_hh (FMA to 1e-4 scaled, TF32 to 3e-2). At least standard must be accepted.
TEST(LSTMMultiCuda, EveryCudnnAlgorithmMatchesCpu) {
  if (cuda_device_count() == 0) GTEST_SKIP() << "no CUDA device on this machine";
  if (!nn::cudnn::available()) GTEST_SKIP() << "this build has no cuDNN";
  constexpr std::int64_t B = 32, S = 20, I = 8, H = 64;
  Rng rng(11);
  nn::LSTM lstm(nn::RNNOptions{I, H, 1}, rng);
  const Tensor x = random({B, S, I}, 12), dy = random({B, S, H}, 13);
  const Var input = Var::parameter(x);
  nn::RNNOutput out = lstm.forward(input);
  out.output.backward(dy);
  const auto& l = lstm.layers[0];
  const nn::cudnn::LSTMWeights w{l.weight_ih.value().to(Device::cuda), l.weight_hh.value().to(Device::cuda),
                                 l.bias_ih.value().to(Device::cuda), l.bias_hh.value().to(Device::cuda)};
  int accepted = 0;
  for (const nn::cudnn::Algorithm algorithm : nn::cudnn::kAlgorithms)
    for (const nn::cudnn::Math math : {nn::cudnn::Math::fma, nn::cudnn::Math::tf32}) {
      const std::string name = to_string(algorithm) + " " + to_string(math);
      try {
        nn::cudnn::LSTM reference(I, H, 1, B, S, {algorithm, math});
        reference.set_weights(std::span(&w, 1));
        const Tensor y = reference.forward(x.to(Device::cuda), true).to(Device::cpu);
        const auto g = reference.backward(x.to(Device::cuda), dy.to(Device::cuda));
        const double tolerance = math == nn::cudnn::Math::fma ? 1e-4 : 3e-2;
        EXPECT_LT(test_support::scaled_relative_error(y, out.output.value()), tolerance) << "y " << name;
        EXPECT_LT(test_support::scaled_relative_error(g.x, input.grad()), tolerance) << "dx " << name;
        EXPECT_LT(test_support::scaled_relative_error(g.weights[0].weight_hh, l.weight_hh.grad()), tolerance)
            << "dW_hh " << name;
        ++accepted;
      } catch (const nn::cudnn::NotSupported& e) {
        std::printf("cuDNN %s: not supported here (%s)\n", name.c_str(), e.what());
      }
    }
  EXPECT_GE(accepted, 2) << "cuDNN's standard algorithm must run in both math modes";
}
