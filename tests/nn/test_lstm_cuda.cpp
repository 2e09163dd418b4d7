// The CUDA LSTM layer against the fused CPU path on fresh random inputs (float32, rel. 1e-4; NaN
// never passes), with every output buffer poisoned with NaN before the run so that an element the
// kernels fail to write is caught; both recurrent paths (per step and persistent), on shapes the
// persistent tiles divide and do not. Skipped without a CUDA device.
#include <gtest/gtest.h>

#include "common/compare.h"
#include "common/cuda_poison.h"
#include "common/lstm_reference.h"
#include "common/random_tensor.h"
#include "qf/nn/lstm_cuda.h"
#include "qf/nn/optim.h"
#include "qf/nn/optim_cuda.h"
#include "qf/nn/rnn.h"
#include "qf/tensor/cuda.h"
#include "qf/tensor/device.h"

using namespace qf;
using test_support::PoisonNewDeviceBlocks;
using test_support::random;
using test_support::scaled_relative_error;

namespace {

using nn::cuda::RecurrentPath;

constexpr std::tuple<int, int, int, int> kShapes[] = {
    {3, 7, 5, 16}, {64, 60, 7, 64}, {33, 20, 32, 128}, {5, 9, 4, 100}};

// Both recurrent paths; a layer of hidden <= 128 at these batch sizes must fit the persistent one.
std::vector<RecurrentPath> paths_for(int batch, int hidden) {
  EXPECT_TRUE(nn::cuda::persistent_path_fits(batch, hidden)) << "batch " << batch << " hidden " << hidden;
  return {RecurrentPath::per_step, RecurrentPath::persistent};
}

const char* name(RecurrentPath path) {
  return path == RecurrentPath::persistent ? "persistent" : "per step";
}

}  // namespace

TEST(LSTMCuda, ForwardMatchesCpu) {
  if (cuda_device_count() == 0) GTEST_SKIP() << "no CUDA device on this machine";
  for (auto [B, S, I, H] : kShapes)
    for (const RecurrentPath path : paths_for(B, H)) {
      Rng rng(static_cast<std::uint64_t>(B * 1000 + H));
      nn::LSTM lstm(nn::RNNOptions{I, H, 1}, rng);
      const Tensor x = random({B, S, I}, 1), h0 = random({B, H}, 2), c0 = random({B, H}, 3);
      const auto& l = lstm.layers[0];
      auto [cpu_out, cpu_h, cpu_c] =
          nn::lstm_layer_fused(Var(x), Var(h0), Var(c0), l.weight_ih, l.weight_hh, l.bias_ih, l.bias_hh);
      const PoisonNewDeviceBlocks poison;  // what the call fails to write stays NaN
      const Tensor x_d = x.to(Device::cuda), h0_d = h0.to(Device::cuda), c0_d = c0.to(Device::cuda),
                   w_ih = l.weight_ih.value().to(Device::cuda), w_hh = l.weight_hh.value().to(Device::cuda),
                   b_ih = l.bias_ih.value().to(Device::cuda), b_hh = l.bias_hh.value().to(Device::cuda);
      const auto gpu = nn::cuda::lstm_layer_forward(x_d, h0_d, c0_d, w_ih, w_hh, b_ih, b_hh, path);
      const Tensor out = gpu.output.to(Device::cpu);
      EXPECT_LT(max_relative_error(out, cpu_out.value(), 1e-3), 1e-4)
          << B << "x" << S << "x" << I << "x" << H << " " << name(path);
      Tensor last_cells = Tensor::empty({B, H});
      const Tensor cells = gpu.cells.to(Device::cpu);
      for (int b = 0; b < B; ++b)
        for (int j = 0; j < H; ++j)
          last_cells.data<float>()[b * H + j] = cells.data<float>()[(b * S + S - 1) * H + j];
      EXPECT_LT(max_relative_error(last_cells, cpu_c.value(), 1e-3), 1e-4) << name(path);
    }
}

TEST(LSTMCuda, CpuOnlyBuildsSayWhy) {
  if (built_with_cuda()) GTEST_SKIP() << "this build has CUDA";
  EXPECT_THROW(Tensor::empty({2}, DType::f32, Device::cuda), std::runtime_error);
}

TEST(LSTMCuda, BackwardMatchesCpu) {
  if (cuda_device_count() == 0) GTEST_SKIP() << "no CUDA device on this machine";
  for (auto [B, S, I, H] : kShapes)
    for (const RecurrentPath path : paths_for(B, H)) {
      const test_support::LSTMReference ref(B, S, I, H, static_cast<std::uint64_t>(B * 7 + H));
      const auto& l = ref.layer();
      const Var &x = ref.x, &h0 = ref.h0, &c0 = ref.c0;
      const Tensor &w_out = ref.w_out, &w_c = ref.w_c;

      auto dev = [](const Tensor& t) { return t.to(Device::cuda); };
      const Tensor x_d = dev(x.value()), h0_d = dev(h0.value()), c0_d = dev(c0.value()),
                   w_ih = dev(l.weight_ih.value()), w_hh = dev(l.weight_hh.value()), dy = dev(w_out),
                   dc_n = dev(w_c);
      const auto fwd = nn::cuda::lstm_layer_forward(x_d, h0_d, c0_d, w_ih, w_hh, dev(l.bias_ih.value()),
                                                    dev(l.bias_hh.value()), path);
      const PoisonNewDeviceBlocks poison;  // what the backward fails to write stays NaN
      const auto g = nn::cuda::lstm_layer_backward(fwd, x_d, h0_d, c0_d, w_ih, w_hh, dy, dc_n, path);
      const std::string shape = std::to_string(B) + "x" + std::to_string(S) + "x" + std::to_string(I) + "x" +
                                std::to_string(H) + " " + name(path);
      EXPECT_LT(scaled_relative_error(g.x, x.grad()), 1e-4) << "dx " << shape;
      EXPECT_LT(scaled_relative_error(g.h0, h0.grad()), 1e-4) << "dh0 " << shape;
      EXPECT_LT(scaled_relative_error(g.c0, c0.grad()), 1e-4) << "dc0 " << shape;
      EXPECT_LT(scaled_relative_error(g.weight_ih, l.weight_ih.grad()), 1e-4) << "dW_ih " << shape;
      EXPECT_LT(scaled_relative_error(g.weight_hh, l.weight_hh.grad()), 1e-4) << "dW_hh " << shape;
      EXPECT_LT(scaled_relative_error(g.bias, l.bias_ih.grad()), 1e-4) << "db " << shape;
    }
}

// Beyond hidden 128 the persistent path refuses (and automatic falls back to the per-step one).
TEST(LSTMCuda, PersistentPathRefusesWhatItCannotHold) {
  if (cuda_device_count() == 0) GTEST_SKIP() << "no CUDA device on this machine";
  const int B = 4, S = 3, I = 2, H = 160;
  EXPECT_FALSE(nn::cuda::persistent_path_fits(B, H));
  Rng rng(3);
  nn::LSTM lstm(nn::RNNOptions{I, H, 1}, rng);
  const auto& l = lstm.layers[0];
  auto dev = [](const Tensor& t) { return t.to(Device::cuda); };
  const Tensor x = dev(random({B, S, I}, 1)), zeros = dev(Tensor::zeros({B, H}));
  auto run = [&](RecurrentPath path) {
    return nn::cuda::lstm_layer_forward(x, zeros, zeros, dev(l.weight_ih.value()), dev(l.weight_hh.value()),
                                        dev(l.bias_ih.value()), dev(l.bias_hh.value()), path);
  };
  EXPECT_THROW(run(RecurrentPath::persistent), std::invalid_argument);
  const Tensor automatic = run(RecurrentPath::automatic).output.to(Device::cpu);
  const Tensor per_step = run(RecurrentPath::per_step).output.to(Device::cpu);
  EXPECT_EQ(max_relative_error(automatic, per_step, 1e-3), 0.0);
}

TEST(LSTMCuda, NoPersistentPathWithoutADevice) {
  if (cuda_device_count() != 0) GTEST_SKIP() << "this machine has a CUDA device";
  EXPECT_FALSE(nn::cuda::persistent_path_fits(64, 64));
}

TEST(OptimCuda, AdamWAndClippingMatchCpu) {
  if (cuda_device_count() == 0) GTEST_SKIP() << "no CUDA device on this machine";
  for (bool decoupled : {false, true}) {
    const Tensor w0 = random({1000}, 11), grad = random({1000}, 12);
    // CPU reference: three steps with clipping to norm 1.
    Var w = Var::parameter(w0.clone());
    nn::Adam cpu({w}, nn::AdamOptions{0.01, 0.9, 0.999, 1e-8, 0.05}, decoupled);
    nn::cuda::AdamState gpu_state{0.01, 0.9, 0.999, 1e-8, 0.05, decoupled, 0};
    std::vector<Tensor> params{w0.to(Device::cuda)}, m{Tensor::zeros({1000}).to(Device::cuda)},
        v{Tensor::zeros({1000}).to(Device::cuda)};
    for (int step = 0; step < 3; ++step) {
      w.grad() = grad.clone();
      const double cpu_norm = nn::clip_grad_norm({w}, 1.0);
      cpu.step();
      std::vector<Tensor> grads{grad.to(Device::cuda)};
      EXPECT_NEAR(nn::cuda::clip_grad_norm(grads, 1.0), cpu_norm, 1e-4 * cpu_norm);
      nn::cuda::adam_step(gpu_state, params, grads, m, v);
    }
    EXPECT_LT(max_relative_error(params[0].to(Device::cpu), w.value(), 1e-3), 1e-5)
        << "decoupled " << decoupled;
  }
}

// The queue-only entry points (buffers allocated once, what the benchmark times) give exactly what the
// allocating ones give, on both recurrent paths, and reusing the buffers twice changes nothing.
TEST(LSTMCuda, EnqueuedLayerEqualsAllocatingCall) {
  if (cuda_device_count() == 0) GTEST_SKIP() << "no CUDA device on this machine";
  constexpr int B = 16, S = 12, I = 6, H = 32;
  const test_support::LSTMReference ref(B, S, I, H, 77);
  const auto& l = ref.layer();
  auto dev = [](const Tensor& t) { return t.to(Device::cuda); };
  const Tensor x = dev(ref.x.value()), h0 = dev(ref.h0.value()), c0 = dev(ref.c0.value()),
               w_ih = dev(l.weight_ih.value()), w_hh = dev(l.weight_hh.value()), b_ih = dev(l.bias_ih.value()),
               b_hh = dev(l.bias_hh.value()), dy = dev(ref.w_out), dc = dev(ref.w_c);
  for (const RecurrentPath path : paths_for(B, H)) {
    const auto fwd = nn::cuda::lstm_layer_forward(x, h0, c0, w_ih, w_hh, b_ih, b_hh, path);
    const auto g = nn::cuda::lstm_layer_backward(fwd, x, h0, c0, w_ih, w_hh, dy, dc, path);
    auto out = nn::cuda::allocate_forward(B, S, H);
    auto buffers = nn::cuda::allocate_backward(B, S, I, H);
    for (int round = 0; round < 2; ++round) {
      nn::cuda::enqueue_layer_forward(x, h0, c0, w_ih, w_hh, b_ih, b_hh, out, path);
      nn::cuda::enqueue_layer_backward(out, x, h0, c0, w_ih, w_hh, dy, dc, buffers, path);
      cuda::synchronize();
      EXPECT_EQ(max_relative_error(out.output.to(Device::cpu), fwd.output.to(Device::cpu), 1e-30), 0.0)
          << name(path);
      for (auto [got, want] : {std::pair{&buffers.grads.x, &g.x},
                               {&buffers.grads.h0, &g.h0},
                               {&buffers.grads.c0, &g.c0},
                               {&buffers.grads.weight_ih, &g.weight_ih},
                               {&buffers.grads.weight_hh, &g.weight_hh},
                               {&buffers.grads.bias, &g.bias}})
        EXPECT_EQ(max_relative_error(got->to(Device::cpu), want->to(Device::cpu), 1e-30), 0.0) << name(path);
    }
  }
}
