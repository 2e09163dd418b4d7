// Google Benchmark cases for the CPU LSTM: the sgemm shapes it uses, forward, forward+backward, and
// the whole training step (LSTM -> Linear on the last hidden state -> BCE -> backward -> Adam).
// Configs (issue 2): A = (input 7, hidden 64, 1 layer, seq 60, batch 64),
//                    B = (input 32, hidden 128, 2 layers, seq 60, batch 256);
//         (issue 5): C = (input 16, hidden 64, 1 layer, seq 60, batch 64), stage 2's default model.
// The hand-written kernels (blas::PackedMatrix, blas::multiply_transposed_add) at the shapes the LSTM
// gives them run beside OpenBLAS's sgemm on the same shapes.
// Counters: GFLOP/s of the GEMM work (pointwise work not counted). bench/compare_torch.py runs the
// TrainStep cases beside PyTorch.
#include <benchmark/benchmark.h>

#include "qf/nn/loss.h"
#include "qf/nn/trainer.h"
#include "qf/tensor/blas.h"
#include "qf/tensor/packed_gemm.h"
#include "qf/tensor/parallel.h"

using namespace qf;

namespace {

struct Config {
  const char* name;
  std::int64_t input, hidden, layers, seq, batch;
  // Multiply-adds x2 of one forward pass.
  double forward_flops() const {
    double total = 0;
    for (std::int64_t l = 0; l < layers; ++l)
      total += 2.0 * static_cast<double>(batch * seq * ((l == 0 ? input : hidden) + hidden) * 4 * hidden);
    return total;
  }
};
constexpr Config kConfigs[] = {{"A", 7, 64, 1, 60, 64}, {"B", 32, 128, 2, 60, 256}, {"C", 16, 64, 1, 60, 64}};

Tensor random_tensor(Shape shape, std::uint64_t seed) {
  Tensor t = Tensor::empty(std::move(shape));
  Rng(seed).fill_uniform(t, -1.0, 1.0);
  return t;
}

void set_flops(benchmark::State& state, double flops_per_iteration) {
  state.counters["GFLOP/s"] = benchmark::Counter(
      flops_per_iteration * 1e-9 * static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}

void BM_Sgemm(benchmark::State& state, std::int64_t m, std::int64_t n, std::int64_t k, int threads) {
  set_num_threads(threads);
  const Tensor a = random_tensor({m, k}, 1), b = random_tensor({n, k}, 2);
  Tensor c = Tensor::zeros({m, n});
  for (auto _ : state) {
    blas::gemm_parallel(blas::Trans::no, blas::Trans::yes, m, n, k, 1.0f, a.data<float>(), k, b.data<float>(),
                        k, 0.0f, c.data<float>(), n);
    benchmark::DoNotOptimize(c.data<float>());
  }
  set_flops(state, 2.0 * static_cast<double>(m * n * k));
}

// One recurrent step's h_{t-1} W_hh^T through the packed kernel (W_hh packed once, outside the loop).
void BM_PackedRecurrentStep(benchmark::State& state, std::int64_t batch, std::int64_t hidden) {
  set_num_threads(1);
  const Tensor h = random_tensor({batch, hidden}, 1), w_hh = random_tensor({4 * hidden, hidden}, 2);
  Tensor gates = Tensor::zeros({batch, 4 * hidden});
  const blas::PackedMatrix packed(w_hh.data<float>(), hidden, hidden, 4 * hidden, /*transposed=*/true);
  for (auto _ : state) {
    packed.multiply(batch, h.data<float>(), hidden, gates.data<float>(), 4 * hidden, /*accumulate=*/true);
    benchmark::DoNotOptimize(gates.data<float>());
  }
  set_flops(state, 2.0 * static_cast<double>(batch * hidden * 4 * hidden));
}

// The weight gradient of 4 steps, [x | h_prev]^T dgates, as backward sums it.
void BM_WeightGradSteps(benchmark::State& state, std::int64_t batch, std::int64_t input,
                        std::int64_t hidden) {
  set_num_threads(1);
  const std::int64_t rows = 4 * batch, in = input + hidden, g = 4 * hidden;
  const Tensor inputs = random_tensor({rows, in}, 1), dgates = random_tensor({rows, g}, 2);
  Tensor dw_t = Tensor::zeros({in, g});
  for (auto _ : state) {
    blas::multiply_transposed_add(in, g, rows, inputs.data<float>(), in, dgates.data<float>(), g,
                                  dw_t.data<float>(), g);
    benchmark::DoNotOptimize(dw_t.data<float>());
  }
  set_flops(state, 2.0 * static_cast<double>(rows * in * g));
}

enum class Work { forward, forward_backward, train_step };

void BM_LSTM(benchmark::State& state, Config c, Work work, int threads) {
  set_num_threads(threads);
  Rng rng(7);
  nn::LSTMClassifier model(nn::RNNOptions{c.input, c.hidden, c.layers, 0.0, DType::f32}, rng);
  nn::Adam adam(model.parameters(), nn::AdamOptions{1e-3});
  const Var x(random_tensor({c.batch, c.seq, c.input}, 3));
  Tensor y = Tensor::empty({c.batch, 1});
  for (float& v : y.span<float>()) v = rng.uniform() < 0.5 ? 0.0f : 1.0f;
  for (auto _ : state) {
    if (work == Work::forward) {
      NoGradGuard no_grad;
      benchmark::DoNotOptimize(model.lstm.forward(x).output.value().data<float>());
      continue;
    }
    adam.zero_grad();
    Var loss = nn::bce_with_logits(model.forward(x), y);
    loss.backward();
    if (work == Work::train_step) adam.step();
  }
  set_flops(state, (work == Work::forward ? 1.0 : 3.0) * c.forward_flops());
}

void register_all() {
  for (const Config& c : kConfigs)
    for (int threads : {1, 2}) {
      const std::string suffix = std::string("/") + c.name + "/threads:" + std::to_string(threads);
      const std::int64_t g = 4 * c.hidden, bt = c.batch * c.seq;
      benchmark::RegisterBenchmark(("BM_Sgemm_InputProjection" + suffix).c_str(), BM_Sgemm, bt, g, c.input,
                                   threads)
          ->UseRealTime();
      benchmark::RegisterBenchmark(("BM_Sgemm_RecurrentStep" + suffix).c_str(), BM_Sgemm, c.batch, g,
                                   c.hidden, threads)
          ->UseRealTime();
      benchmark::RegisterBenchmark(("BM_Sgemm_WeightGrad" + suffix).c_str(), BM_Sgemm, g, c.hidden, bt,
                                   threads)
          ->UseRealTime();
      if (threads == 1) {
        benchmark::RegisterBenchmark(("BM_PackedRecurrentStep" + suffix).c_str(), BM_PackedRecurrentStep,
                                     c.batch, c.hidden)
            ->UseRealTime();
        benchmark::RegisterBenchmark(("BM_Sgemm_WeightGradSteps" + suffix).c_str(), BM_Sgemm,
                                     c.input + c.hidden, g, 4 * c.batch, threads)
            ->UseRealTime();
        benchmark::RegisterBenchmark(("BM_WeightGradSteps" + suffix).c_str(), BM_WeightGradSteps, c.batch,
                                     c.input, c.hidden)
            ->UseRealTime();
      }
      benchmark::RegisterBenchmark(("BM_LSTMForward" + suffix).c_str(), BM_LSTM, c, Work::forward, threads)
          ->Unit(benchmark::kMillisecond)
          ->UseRealTime();
      benchmark::RegisterBenchmark(("BM_LSTMForwardBackward" + suffix).c_str(), BM_LSTM, c,
                                   Work::forward_backward, threads)
          ->Unit(benchmark::kMillisecond)
          ->UseRealTime();
      benchmark::RegisterBenchmark(("BM_TrainStep" + suffix).c_str(), BM_LSTM, c, Work::train_step, threads)
          ->Unit(benchmark::kMillisecond)
          ->UseRealTime();
    }
  for (int threads : {1, 2})  // the machine's practical sgemm peak
    benchmark::RegisterBenchmark(("BM_Sgemm_Peak/1024/threads:" + std::to_string(threads)).c_str(), BM_Sgemm,
                                 1024, 1024, 1024, threads)
        ->UseRealTime();
}

}  // namespace

int main(int argc, char** argv) {
  register_all();
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
