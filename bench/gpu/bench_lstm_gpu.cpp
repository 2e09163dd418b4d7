// GPU LSTM benchmarks, timed with CUDA events (manual time): our layer kernels (lstm_cuda.h; the
// recurrence per step and persistent) against cuDNN (lstm_cudnn.h), forward and forward + backward,
// batch 64/256, hidden 64/128, 1 and 2 layers, 60 steps; and the multi-model trainer (518 models, hidden 64,
// F = 16, B = 64, T = 60) against the same models' steps one after another. Without a CUDA device it says so
// and exits 0.
#include <benchmark/benchmark.h>
#include <cuda_runtime.h>

#include <cstdio>
#include <memory>
#include <vector>

#include "qf/nn/lstm_cuda.h"
#include "qf/nn/lstm_cudnn.h"
#include "qf/nn/lstm_multi.h"
#include "qf/tensor/device.h"

using namespace qf;

namespace {

constexpr std::int64_t kSteps = 60, kFeatures = 16;

Tensor random(Shape shape, std::uint64_t seed) {
  Tensor t = Tensor::empty(std::move(shape));
  Rng(seed).fill_uniform(t, -1.0, 1.0);
  return t;
}

// Times body() on the device: events around it, after it has finished.
template <class Body>
double device_seconds(Body&& body) {
  cudaEvent_t start = nullptr, stop = nullptr;
  cudaEventCreate(&start);
  cudaEventCreate(&stop);
  cudaEventRecord(start);
  body();
  cudaEventRecord(stop);
  cudaEventSynchronize(stop);
  float ms = 0;
  cudaEventElapsedTime(&ms, start, stop);
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  return ms / 1000.0;
}

struct Layers {
  std::vector<nn::cudnn::LSTMWeights> weights;  // on the device
  Tensor x, dy, zeros;
};

Layers make_layers(std::int64_t B, std::int64_t H, std::int64_t L) {
  Rng rng(1);
  nn::LSTM lstm(nn::RNNOptions{kFeatures, H, L}, rng);
  Layers s;
  for (const auto& l : lstm.layers)
    s.weights.push_back({l.weight_ih.value().to(Device::cuda), l.weight_hh.value().to(Device::cuda),
                         l.bias_ih.value().to(Device::cuda), l.bias_hh.value().to(Device::cuda)});
  s.x = random({B, kSteps, kFeatures}, 2).to(Device::cuda);
  s.dy = random({B, kSteps, H}, 3).to(Device::cuda);
  s.zeros = Tensor::zeros({B, H}).to(Device::cuda);
  return s;
}

// Our kernels, layer by layer; with backward, from dy at the top down to dx.
void ours(const Layers& s, bool backward, nn::cuda::RecurrentPath path) {
  std::vector<nn::cuda::LSTMForwardResult> forward;
  std::vector<Tensor> inputs{s.x};
  for (const auto& w : s.weights) {
    forward.push_back(nn::cuda::lstm_layer_forward(inputs.back(), s.zeros, s.zeros, w.weight_ih, w.weight_hh,
                                                   w.bias_ih, w.bias_hh, path));
    inputs.push_back(forward.back().output);
  }
  if (!backward) return;
  Tensor grad = s.dy;
  for (std::size_t l = s.weights.size(); l-- > 0;)
    grad = nn::cuda::lstm_layer_backward(forward[l], inputs[l], s.zeros, s.zeros, s.weights[l].weight_ih,
                                         s.weights[l].weight_hh, grad, Tensor(), path)
               .x;
}

// Args: B, H, L, bwd, persistent (0: the recurrence per step, 1: the persistent kernels).
void BM_Ours(benchmark::State& state) {
  const std::int64_t B = state.range(0), H = state.range(1), L = state.range(2);
  const bool backward = state.range(3) != 0;
  const auto path =
      state.range(4) != 0 ? nn::cuda::RecurrentPath::persistent : nn::cuda::RecurrentPath::per_step;
  if (path == nn::cuda::RecurrentPath::persistent && !nn::cuda::persistent_path_fits(B, H)) {
    state.SkipWithError("the persistent path does not fit this shape on this device");
    return;
  }
  const Layers s = make_layers(B, H, L);
  ours(s, backward, path);  // warm-up: cuBLAS handle, allocator cache
  for (auto _ : state) state.SetIterationTime(device_seconds([&] { ours(s, backward, path); }));
  state.counters["sequences/s"] =
      benchmark::Counter(static_cast<double>(B), benchmark::Counter::kIsIterationInvariantRate);
}

void BM_Cudnn(benchmark::State& state) {
  if (!nn::cudnn::available()) {
    state.SkipWithError("this build has no cuDNN");
    return;
  }
  const std::int64_t B = state.range(0), H = state.range(1), L = state.range(2);
  const bool backward = state.range(3) != 0;
  const Layers s = make_layers(B, H, L);
  // Training-mode forward even when timed alone: like our kernels, it keeps what backward needs.
  std::unique_ptr<nn::cudnn::LSTM> reference;
  auto run = [&] {
    reference->forward(s.x, true);
    if (backward) reference->backward(s.x, s.dy);
  };
  try {  // a cuDNN error skips this case instead of ending the whole run
    reference = std::make_unique<nn::cudnn::LSTM>(kFeatures, H, L, B, kSteps);
    reference->set_weights(s.weights);
    run();
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
    return;
  }
  for (auto _ : state) state.SetIterationTime(device_seconds(run));
  state.counters["sequences/s"] =
      benchmark::Counter(static_cast<double>(B), benchmark::Counter::kIsIterationInvariantRate);
}

// 518 models of hidden 64 with a full batch each: one lockstep training step per iteration (upload of
// the batch included), or the same 518 steps one model after another (N = 1 trainers).
constexpr std::int64_t kModels = 518, kMultiHidden = 64, kMultiBatch = 64;

nn::MultiBatch full_batch(std::int64_t models) {
  nn::MultiBatch b = nn::make_multi_batch(models, kMultiBatch, kSteps, kFeatures);
  b.x = random({models, kMultiBatch, kSteps, kFeatures}, 4);
  b.y = random({models, kMultiBatch}, 5);
  for (float& v : b.y.span<float>()) v = v > 0.0f ? 1.0f : 0.0f;
  std::fill(b.rows.begin(), b.rows.end(), kMultiBatch);
  return b;
}

std::vector<Tensor> stacked_parameters(std::int64_t models) {
  std::vector<std::unique_ptr<nn::LSTMClassifier>> owned;
  std::vector<nn::LSTMClassifier*> p;
  for (std::int64_t n = 0; n < models; ++n) {
    Rng rng(static_cast<std::uint64_t>(n));
    owned.push_back(std::make_unique<nn::LSTMClassifier>(nn::RNNOptions{kFeatures, kMultiHidden, 1}, rng));
    p.push_back(owned.back().get());
  }
  return nn::stack_parameters(p);
}

void BM_MultiModelStep(benchmark::State& state) {
  const nn::MultiLSTMShape shape{kModels, kFeatures, kMultiHidden, 1};
  auto trainer = nn::make_cuda_multi_lstm(shape, stacked_parameters(kModels), {});
  const nn::MultiBatch batch = full_batch(kModels);
  trainer->train_step(batch);
  for (auto _ : state) state.SetIterationTime(device_seconds([&] { trainer->train_step(batch); }));
  state.counters["model_steps/s"] =
      benchmark::Counter(static_cast<double>(kModels), benchmark::Counter::kIsIterationInvariantRate);
}

void BM_OneModelAfterAnother(benchmark::State& state) {
  const std::vector<Tensor> all = stacked_parameters(kModels);
  std::vector<std::unique_ptr<nn::MultiLSTM>> trainers;
  for (std::int64_t n = 0; n < kModels; ++n) {
    std::vector<Tensor> one;
    for (const Tensor& t : all) one.push_back(t.slice(n, n + 1).clone());
    trainers.push_back(nn::make_cuda_multi_lstm({1, kFeatures, kMultiHidden, 1}, one, {}));
  }
  const nn::MultiBatch batch = full_batch(1);
  for (auto& t : trainers) t->train_step(batch);
  for (auto _ : state)
    state.SetIterationTime(device_seconds([&] {
      for (auto& t : trainers) t->train_step(batch);
    }));
  state.counters["model_steps/s"] =
      benchmark::Counter(static_cast<double>(kModels), benchmark::Counter::kIsIterationInvariantRate);
}

void layer_grid(benchmark::internal::Benchmark* b, bool with_paths) {
  if (with_paths)
    b->ArgNames({"B", "H", "L", "bwd", "persistent"});
  else
    b->ArgNames({"B", "H", "L", "bwd"});
  for (const std::int64_t backward : {0, 1})
    for (const std::int64_t layers : {1, 2})
      for (const std::int64_t hidden : {64, 128})
        for (const std::int64_t batch : {64, 256}) {
          if (!with_paths) {
            b->Args({batch, hidden, layers, backward});
            continue;
          }
          b->Args({batch, hidden, layers, backward, 0});
          b->Args({batch, hidden, layers, backward, 1});
        }
  b->UseManualTime()->Unit(benchmark::kMillisecond);
}

BENCHMARK(BM_Ours)->Apply([](benchmark::internal::Benchmark* b) { layer_grid(b, true); });
BENCHMARK(BM_Cudnn)->Apply([](benchmark::internal::Benchmark* b) { layer_grid(b, false); });
BENCHMARK(BM_MultiModelStep)->UseManualTime()->Unit(benchmark::kMillisecond)->Iterations(10);
BENCHMARK(BM_OneModelAfterAnother)->UseManualTime()->Unit(benchmark::kMillisecond)->Iterations(3);

}  // namespace

int main(int argc, char** argv) {
  if (cuda_device_count() == 0) {
    std::printf("bench_lstm_gpu: no CUDA device found; skipping the GPU benchmarks\n");
    return 0;
  }
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
