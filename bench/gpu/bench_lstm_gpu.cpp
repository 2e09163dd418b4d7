// GPU LSTM benchmarks. Every variant is first checked against the CPU reference (nn::LSTM, float64
// error) and refused (skipped with the error) when it fails; only then is it timed.
//
// 1. One LSTM, batch 64/256, hidden 64/128, 1 and 2 layers, 60 steps, 16 features, forward (training
//    mode) and forward + backward: our kernels (the recurrence per step, and persistent) against every
//    cuDNN algorithm the shape accepts (standard, persist_static, persist_static_small_h,
//    persist_dynamic), in FMA and in TF32 math. Kernels alone: CUDA events around work queued into
//    buffers allocated beforehand; no allocation, copy or synchronisation inside the timed region, on
//    either side. At the end a table compares, shape by shape, our faster path with cuDNN's fastest
//    float32 (FMA) configuration, and shows cuDNN's fastest TF32 one beside it.
// 2. 518 models (hidden 64, batch 64, one epoch of 512 samples each): the multi-model trainer end to
//    end (host data set in, trained parameters out; wall clock), with pinned asynchronous uploads and
//    with pageable ones. bench/gpu/torch_lstm_loop.py trains the same models on the same data one after
//    another in PyTorch (cuDNN), the way a researcher would loop.
// Without a CUDA device it says so and exits 0.
#include <benchmark/benchmark.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "qf/nn/lstm_cuda.h"
#include "qf/nn/lstm_cudnn.h"
#include "qf/nn/lstm_multi.h"
#include "qf/nn/rnn.h"
#include "qf/tensor/cuda.h"
#include "qf/tensor/device.h"

using namespace qf;

namespace {

constexpr std::int64_t kSteps = 60, kFeatures = 16;

Tensor random(Shape shape, std::uint64_t seed) {
  Tensor t = Tensor::empty(std::move(shape));
  Rng(seed).fill_uniform(t, -1.0, 1.0);
  return t;
}

// ---- timing ---------------------------------------------------------------------------------------------

// Device time of the work body() queues: events recorded around it on the backend's stream.
class EventTimer {
 public:
  EventTimer() {
    cudaEventCreate(&start_);
    cudaEventCreate(&stop_);
  }
  ~EventTimer() {
    cudaEventDestroy(start_);
    cudaEventDestroy(stop_);
  }
  EventTimer(const EventTimer&) = delete;
  EventTimer& operator=(const EventTimer&) = delete;
  template <class Body>
  double seconds(Body&& body) {
    cudaEventRecord(start_, cudaStreamLegacy);
    body();
    cudaEventRecord(stop_, cudaStreamLegacy);
    cudaEventSynchronize(stop_);
    float ms = 0;
    cudaEventElapsedTime(&ms, start_, stop_);
    return ms / 1000.0;
  }

 private:
  cudaEvent_t start_ = nullptr, stop_ = nullptr;
};

// ---- one shape's problem and its CPU reference ----------------------------------------------------------

struct Problem {
  std::int64_t batch = 0, hidden = 0, layers = 0;
  std::vector<nn::cudnn::LSTMWeights> weights;  // on the device
  Tensor x, dy, zeros;                          // on the device: [B, T, F], [B, T, H], [B, H]
  Tensor y_ref, dx_ref;                         // CPU reference, on the host
  std::vector<Tensor> dw_hh_ref;                // per layer
};

// The shape's weights and inputs (seeded), and the CPU reference's output, dx and every layer's dW_hh
// for the loss sum(y * dy). Built once per shape.
const Problem& problem(std::int64_t B, std::int64_t H, std::int64_t L) {
  static std::map<std::tuple<std::int64_t, std::int64_t, std::int64_t>, Problem> made;
  Problem& p = made[{B, H, L}];
  if (p.batch != 0) return p;
  Rng rng(1);
  nn::LSTM lstm(nn::RNNOptions{kFeatures, H, L}, rng);
  const Tensor x = random({B, kSteps, kFeatures}, 2), dy = random({B, kSteps, H}, 3);
  const Var input = Var::parameter(x);
  nn::RNNOutput out = lstm.forward(input);
  out.output.backward(dy);
  p.batch = B;
  p.hidden = H;
  p.layers = L;
  for (const auto& l : lstm.layers) {
    p.weights.push_back({l.weight_ih.value().to(Device::cuda), l.weight_hh.value().to(Device::cuda),
                         l.bias_ih.value().to(Device::cuda), l.bias_hh.value().to(Device::cuda)});
    p.dw_hh_ref.push_back(l.weight_hh.grad().clone());
  }
  p.x = x.to(Device::cuda);
  p.dy = dy.to(Device::cuda);
  p.zeros = Tensor::zeros({B, H}).to(Device::cuda);
  p.y_ref = out.output.value().clone();
  p.dx_ref = input.grad().clone();
  return p;
}

// Element-wise relative error of got against want, each element judged against at least 1 % of want's
// largest magnitude (a gradient summed over B x T terms carries the rounding of its largest terms).
double scaled_error(const Tensor& got, const Tensor& want) {
  double largest = 0.0;
  for (const float v : want.span<float>()) largest = std::max(largest, std::abs(static_cast<double>(v)));
  return max_relative_error(got.to(Device::cpu), want, std::max(1e-3, 1e-2 * largest));
}

// The largest error of a variant's y (and, with backward, dx and every layer's dW_hh); empty when it is
// within tolerance, else what failed.
struct Outputs {
  Tensor y, dx;
  std::vector<Tensor> dw_hh;
};
std::string validate(const Problem& p, const Outputs& got, bool backward, double tolerance) {
  std::vector<std::pair<std::string, double>> errors{{"y", scaled_error(got.y, p.y_ref)}};
  if (backward) {
    errors.emplace_back("dx", scaled_error(got.dx, p.dx_ref));
    for (std::size_t l = 0; l < got.dw_hh.size(); ++l)
      errors.emplace_back("dW_hh layer " + std::to_string(l), scaled_error(got.dw_hh[l], p.dw_hh_ref[l]));
  }
  for (const auto& [what, error] : errors)
    if (!(error <= tolerance))  // NaN fails
      return "wrong " + what + ": error " + std::to_string(error) + " > " + std::to_string(tolerance);
  return {};
}

constexpr double kFloat32Tolerance = 1e-3, kTf32Tolerance = 3e-2;

// ---- the shape-by-shape table ---------------------------------------------------------------------------

struct Timing {
  double ms = 0.0;
  std::string error;  // why it was not timed
};
using ShapeKey = std::tuple<std::int64_t, std::int64_t, std::int64_t, bool>;  // B, H, L, backward
std::map<ShapeKey, std::map<std::string, Timing>>& results() {
  static std::map<ShapeKey, std::map<std::string, Timing>> r;
  return r;
}

void record(const ShapeKey& key, const std::string& variant, double ms, std::string error = {}) {
  results()[key][variant] = {ms, std::move(error)};
}

// Times run() (work queued only) and records the mean in milliseconds.
template <class Run>
void time_it(benchmark::State& state, const ShapeKey& key, const std::string& variant, Run&& run) {
  EventTimer timer;
  run();  // warm-up: cuBLAS / cuDNN plans, caches
  double total = 0.0;
  std::int64_t iterations = 0;
  for (auto _ : state) {
    const double s = timer.seconds(run);
    state.SetIterationTime(s);
    total += s;
    ++iterations;
  }
  record(key, variant, 1e3 * total / static_cast<double>(std::max<std::int64_t>(iterations, 1)));
  state.counters["sequences/s"] = benchmark::Counter(static_cast<double>(std::get<0>(key)),
                                                     benchmark::Counter::kIsIterationInvariantRate);
}

void refuse(benchmark::State& state, const ShapeKey& key, const std::string& variant,
            const std::string& why) {
  record(key, variant, 0.0, why);
  state.SkipWithError(why.c_str());
}

// ---- our kernels ----------------------------------------------------------------------------------------

// Our layers with their buffers allocated once: enqueue() queues forward (and backward, top layer first,
// dy down to dx) and nothing else.
class OurLayers {
 public:
  OurLayers(const Problem& p, nn::cuda::RecurrentPath path) : p_(p), path_(path) {
    for (std::int64_t l = 0; l < p.layers; ++l) {
      forward_.push_back(nn::cuda::allocate_forward(p.batch, kSteps, p.hidden));
      backward_.push_back(
          nn::cuda::allocate_backward(p.batch, kSteps, l == 0 ? kFeatures : p.hidden, p.hidden));
    }
  }
  void enqueue(bool backward) {
    for (std::size_t l = 0; l < forward_.size(); ++l) {
      const nn::cudnn::LSTMWeights& w = p_.weights[l];
      nn::cuda::enqueue_layer_forward(input(l), p_.zeros, p_.zeros, w.weight_ih, w.weight_hh, w.bias_ih,
                                      w.bias_hh, forward_[l], path_);
    }
    if (!backward) return;
    const Tensor* grad = &p_.dy;
    for (std::size_t l = forward_.size(); l-- > 0;) {
      nn::cuda::enqueue_layer_backward(forward_[l], input(l), p_.zeros, p_.zeros, p_.weights[l].weight_ih,
                                       p_.weights[l].weight_hh, *grad, Tensor(), backward_[l], path_);
      grad = &backward_[l].grads.x;
    }
  }
  Outputs outputs() const {
    cuda::synchronize();
    Outputs o{forward_.back().output.to(Device::cpu), backward_.front().grads.x.to(Device::cpu), {}};
    for (const auto& b : backward_) o.dw_hh.push_back(b.grads.weight_hh.to(Device::cpu));
    return o;
  }

 private:
  const Tensor& input(std::size_t l) const { return l == 0 ? p_.x : forward_[l - 1].output; }
  const Problem& p_;
  nn::cuda::RecurrentPath path_;
  std::vector<nn::cuda::LSTMForwardResult> forward_;
  std::vector<nn::cuda::LSTMBackwardBuffers> backward_;
};

// Args: B, H, L, bwd, persistent (0: the recurrence per step, 1: the persistent kernels).
void BM_Ours(benchmark::State& state) {
  const std::int64_t B = state.range(0), H = state.range(1), L = state.range(2);
  const bool backward = state.range(3) != 0, persistent = state.range(4) != 0;
  const ShapeKey key{B, H, L, backward};
  const std::string variant = persistent ? "ours persistent" : "ours per step";
  const auto path = persistent ? nn::cuda::RecurrentPath::persistent : nn::cuda::RecurrentPath::per_step;
  if (persistent && !nn::cuda::persistent_path_fits(B, H))
    return refuse(state, key, variant, "the persistent path does not fit this shape on this device");
  const Problem& p = problem(B, H, L);
  OurLayers ours(p, path);
  ours.enqueue(true);  // validated with backward always: the forward-only timing runs the same kernels
  if (const std::string wrong = validate(p, ours.outputs(), true, kFloat32Tolerance); !wrong.empty())
    return refuse(state, key, variant, wrong);
  time_it(state, key, variant, [&] { ours.enqueue(backward); });
}

// ---- cuDNN ----------------------------------------------------------------------------------------------

// Args: B, H, L, bwd, algorithm (index into kAlgorithms), tf32.
void BM_Cudnn(benchmark::State& state) {
  const std::int64_t B = state.range(0), H = state.range(1), L = state.range(2);
  const bool backward = state.range(3) != 0;
  const nn::cudnn::Config config{nn::cudnn::kAlgorithms[state.range(4)],
                                 state.range(5) != 0 ? nn::cudnn::Math::tf32 : nn::cudnn::Math::fma};
  const ShapeKey key{B, H, L, backward};
  const std::string variant = "cuDNN " + to_string(config.algorithm) + " " + to_string(config.math);
  if (!nn::cudnn::available()) return refuse(state, key, variant, "this build has no cuDNN");
  const Problem& p = problem(B, H, L);
  std::unique_ptr<nn::cudnn::LSTM> reference;
  try {  // NOT_SUPPORTED (or any cuDNN error) skips this configuration, not the whole run
    reference = std::make_unique<nn::cudnn::LSTM>(kFeatures, H, L, B, kSteps, config);
    reference->set_weights(p.weights);
    Outputs got{reference->forward(p.x, true).to(Device::cpu), {}, {}};
    const nn::cudnn::LSTM::Gradients g = reference->backward(p.x, p.dy);
    got.dx = g.x.to(Device::cpu);
    for (const auto& w : g.weights) got.dw_hh.push_back(w.weight_hh.to(Device::cpu));
    const double tolerance = config.math == nn::cudnn::Math::tf32 ? kTf32Tolerance : kFloat32Tolerance;
    if (const std::string wrong = validate(p, got, true, tolerance); !wrong.empty())
      return refuse(state, key, variant, wrong);
  } catch (const nn::cudnn::NotSupported& e) {
    return refuse(state, key, variant, std::string("not supported: ") + e.what());
  } catch (const std::exception& e) {
    return refuse(state, key, variant, e.what());
  }
  // Training-mode forward even when timed alone: like our kernels, it keeps what backward needs.
  time_it(state, key, variant, [&] {
    reference->enqueue_forward(p.x, true);
    if (backward) reference->enqueue_backward(p.x, p.dy);
  });
}

void layer_grid(benchmark::internal::Benchmark* b, bool cudnn) {
  if (cudnn)
    b->ArgNames({"B", "H", "L", "bwd", "algo", "tf32"});
  else
    b->ArgNames({"B", "H", "L", "bwd", "persistent"});
  for (const std::int64_t backward : {0, 1})
    for (const std::int64_t layers : {1, 2})
      for (const std::int64_t hidden : {64, 128})
        for (const std::int64_t batch : {64, 256}) {
          if (!cudnn) {
            for (const std::int64_t persistent : {0, 1})
              b->Args({batch, hidden, layers, backward, persistent});
            continue;
          }
          for (std::int64_t algo = 0; algo < static_cast<std::int64_t>(std::size(nn::cudnn::kAlgorithms));
               ++algo)
            for (const std::int64_t tf32 : {0, 1}) b->Args({batch, hidden, layers, backward, algo, tf32});
        }
  b->UseManualTime()->Unit(benchmark::kMillisecond);
}

// ---- 518 models, one epoch ------------------------------------------------------------------------------

constexpr std::int64_t kModels = 518, kMultiHidden = 64, kMultiBatch = 64, kSamples = 512;

// The data set shared with bench/gpu/torch_lstm_loop.py (same formula): x[n, s, t, f] in [-0.5, 0.5)
// from an integer hash, y[n, s] = x[n, s, T-1, 0] > 0.
float sample_value(std::uint32_t n, std::uint32_t s, std::uint32_t t, std::uint32_t f) {
  std::uint32_t h = (n * 73856093u) ^ (s * 19349663u) ^ (t * 83492791u) ^ (f * 2654435761u);
  h ^= h >> 13;
  h *= 0x5bd1e995u;
  h ^= h >> 15;
  return static_cast<float>(h) / 4294967296.0f - 0.5f;
}

struct MultiData {
  Tensor x, y;  // [N, S, T, F], [N, S] on the host
};

const MultiData& multi_data() {
  static const MultiData d = [] {
    MultiData m{Tensor::empty({kModels, kSamples, kSteps, kFeatures}), Tensor::empty({kModels, kSamples})};
    float* x = m.x.data<float>();
    float* y = m.y.data<float>();
    for (std::uint32_t n = 0; n < kModels; ++n)
      for (std::uint32_t s = 0; s < kSamples; ++s) {
        for (std::uint32_t t = 0; t < kSteps; ++t)
          for (std::uint32_t f = 0; f < kFeatures; ++f) *x++ = sample_value(n, s, t, f);
        *y++ = sample_value(n, s, kSteps - 1, 0) > 0.0f ? 1.0f : 0.0f;
      }
    return m;
  }();
  return d;
}

// The models of the multi-model benchmark, model n seeded with n, and pointers to them (what the
// trainer's API takes).
struct Classifiers {
  std::vector<std::unique_ptr<nn::LSTMClassifier>> owned;
  std::vector<nn::LSTMClassifier*> pointers;
};

Classifiers make_classifiers(std::int64_t models) {
  Classifiers c;
  for (std::int64_t n = 0; n < models; ++n) {
    Rng rng(static_cast<std::uint64_t>(n));
    c.owned.push_back(std::make_unique<nn::LSTMClassifier>(nn::RNNOptions{kFeatures, kMultiHidden, 1}, rng));
    c.pointers.push_back(c.owned.back().get());
  }
  return c;
}

// Rows [first, first + B) of every model's samples into the batch (what fit_multi's batching does).
void fill_rows(nn::MultiBatch& batch, const MultiData& d, std::int64_t models, std::int64_t first) {
  const std::size_t row = kSteps * kFeatures;
  for (std::int64_t n = 0; n < models; ++n) {
    std::memcpy(batch.x.data<float>() + n * kMultiBatch * row,
                d.x.data<float>() + (n * kSamples + first) * row, sizeof(float) * row * kMultiBatch);
    std::memcpy(batch.y.data<float>() + n * kMultiBatch, d.y.data<float>() + n * kSamples + first,
                sizeof(float) * kMultiBatch);
    batch.rows[static_cast<std::size_t>(n)] = kMultiBatch;
  }
}

// Two steps of the CUDA trainer (either upload path) against the CPU reference on a few models; empty
// when the parameters agree.
std::string validate_multi(nn::MultiUpload upload) {
  constexpr std::int64_t models = 3;
  const Classifiers c = make_classifiers(models);
  const std::vector<nn::LSTMClassifier*>& p = c.pointers;
  auto gpu = nn::make_cuda_multi_lstm(nn::multi_shape_of(p), nn::stack_parameters(p), {}, upload);
  nn::MultiLSTMReference cpu(p, {});
  nn::MultiBatch batch = nn::make_multi_batch(models, kMultiBatch, kSteps, kFeatures);
  fill_rows(batch, multi_data(), models, 0);
  for (int step = 0; step < 2; ++step) {  // two steps: the second uses the other input slot
    gpu->train_step(batch);
    cpu.train_step(batch);
  }
  const std::vector<Tensor> want = cpu.parameters(), got = gpu->parameters();
  for (std::size_t k = 0; k < want.size(); ++k)
    if (const double e = scaled_error(got[k], want[k]); !(e <= kFloat32Tolerance))
      return "parameter " + std::to_string(k) + " differs from the CPU reference: error " + std::to_string(e);
  return {};
}

// Arg: 0 pinned asynchronous uploads, 1 pageable. Wall-clock seconds for: creating the trainer from the
// host parameters, every batch of one epoch (filled on the host from the data set, uploaded, trained),
// and the trained parameters back on the host.
void BM_MultiModelEpoch(benchmark::State& state) {
  const auto upload = state.range(0) == 0 ? nn::MultiUpload::pinned_async : nn::MultiUpload::pageable;
  const ShapeKey key{kMultiBatch, kMultiHidden, 1, true};
  const std::string variant =
      upload == nn::MultiUpload::pinned_async ? "518 models, pinned" : "518 models, pageable";
  if (const std::string wrong = validate_multi(upload); !wrong.empty())
    return refuse(state, key, variant, wrong);
  const MultiData& data = multi_data();
  const std::vector<Tensor> start = nn::stack_parameters(make_classifiers(kModels).pointers);
  nn::MultiBatch batch = nn::make_multi_batch(kModels, kMultiBatch, kSteps, kFeatures);
  double total = 0.0;
  for (auto _ : state) {
    const auto begin = std::chrono::steady_clock::now();
    auto trainer = nn::make_cuda_multi_lstm({kModels, kFeatures, kMultiHidden, 1}, start, {}, upload);
    for (std::int64_t first = 0; first + kMultiBatch <= kSamples; first += kMultiBatch) {
      fill_rows(batch, data, kModels, first);
      trainer->train_step(batch);
    }
    benchmark::DoNotOptimize(trainer->parameters());
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - begin).count();
    state.SetIterationTime(s);
    total += s;
  }
  record(key, variant, 1e3 * total / static_cast<double>(state.iterations()));
  state.counters["model_epochs/s"] =
      benchmark::Counter(static_cast<double>(kModels), benchmark::Counter::kIsIterationInvariantRate);
}

BENCHMARK(BM_Ours)->Apply([](benchmark::internal::Benchmark* b) { layer_grid(b, false); });
BENCHMARK(BM_Cudnn)->Apply([](benchmark::internal::Benchmark* b) { layer_grid(b, true); });
BENCHMARK(BM_MultiModelEpoch)
    ->ArgName("pageable")
    ->Arg(0)
    ->Arg(1)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond)
    ->Iterations(3);

// ---- the table ------------------------------------------------------------------------------------------

// The fastest timed variant whose name starts with `prefix` and ends with `suffix`.
std::pair<std::string, double> fastest(const std::map<std::string, Timing>& row, const std::string& prefix,
                                       const std::string& suffix = {}) {
  std::pair<std::string, double> best{"-", 0.0};
  for (const auto& [name, t] : row)
    if (t.error.empty() && name.starts_with(prefix) && name.ends_with(suffix) &&
        (best.second == 0.0 || t.ms < best.second))
      best = {name, t.ms};
  return best;
}

void print_table() {
  std::printf("\n== shape by shape (kernels alone, CUDA events; ms per call, mean)\n");
  std::printf(
      "| B | H | L | pass | ours per step | ours persistent | cuDNN fastest FMA | cuDNN fastest TF32 | "
      "ours / cuDNN FMA |\n|---|---|---|---|---|---|---|---|---|\n");
  for (const auto& [key, row] : results()) {
    const auto [B, H, L, backward] = key;
    if (row.contains("518 models, pinned") || row.contains("518 models, pageable")) continue;
    const auto ms = [&](const std::string& name) {
      const auto found = row.find(name);
      return found == row.end() || !found->second.error.empty() ? std::string("refused")
                                                                : std::to_string(found->second.ms);
    };
    const auto ours = fastest(row, "ours"), fma = fastest(row, "cuDNN", "fma"),
               tf32 = fastest(row, "cuDNN", "tf32");
    const std::string ratio =
        ours.second > 0 && fma.second > 0 ? std::to_string(ours.second / fma.second) : "-";
    std::printf("| %lld | %lld | %lld | %s | %s | %s | %.4f (%s) | %.4f (%s) | %s |\n",
                static_cast<long long>(B), static_cast<long long>(H), static_cast<long long>(L),
                backward ? "fwd+bwd" : "fwd", ms("ours per step").c_str(), ms("ours persistent").c_str(),
                fma.second, fma.first.c_str(), tf32.second, tf32.first.c_str(), ratio.c_str());
  }
  for (const auto& [key, row] : results())
    for (const auto& [name, t] : row)
      if (name.starts_with("518 models"))
        std::printf(
            "%s: one epoch end to end %s\n", name.c_str(),
            t.error.empty() ? (std::to_string(t.ms / 1e3) + " s").c_str() : ("refused: " + t.error).c_str());
  std::printf(
      "(ratio < 1: ours faster. Refused variants failed validation or are not supported; see the log.)\n");
}

}  // namespace

int main(int argc, char** argv) {
  if (cuda_device_count() == 0) {
    std::printf("bench_lstm_gpu: no CUDA device found; skipping the GPU benchmarks\n");
    return 0;
  }
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  print_table();
  return 0;
}
