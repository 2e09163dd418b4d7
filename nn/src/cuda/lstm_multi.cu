// N LSTM classifiers trained in lockstep on the GPU. Every tensor is stacked along a model axis and
// flattened so that rows of all models sit side by side: activations [N*B, T, ...], weights [N, ...].
// Each GEMM is one cublasSgemmStridedBatched over the models; each pointwise kernel covers every
// (model, row, unit) at once. cuBLAS is column-major: row-major C = A op(B) is computed as the
// column-major C^T = op(B)^T A^T (as in lstm_forward.cu). Every kernel runs on the legacy default stream,
// in order; the batches arrive on a second stream (MultiUpload::pinned_async), each step's compute
// waiting for its batch's copy by an event. The host waits only to refill a staging buffer whose copy
// is still running, or to download results.
// Each kernel's plain CPU counterpart is MultiLSTMReference (lstm_multi.cpp), checked in
// tests/nn/test_lstm_multi_cuda.cpp. The bias, cell and previous-hidden kernels are lstm_elementwise.cu's,
// shared with the single-model layer (lstm_forward.cu); the cuBLAS handle is cuda_util.h's.
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <array>
#include <cmath>
#include <cstring>
#include <map>
#include <stdexcept>
#include <string>
#include <utility>

#include "adam_math.h"
#include "cuda_util.h"
#include "lstm_elementwise_launch.h"
#include "qf/nn/lstm_multi.h"
#include "qf/tensor/cuda.h"
#include "qf/tensor/device.h"

namespace qf::nn {

using cuda::check;

namespace {

using cuda::blocks;
using cuda::check_launch;
using cuda::kThreads;
using Index = long long;

// Device memory for per-model scalars (Tensor holds floats only), freed by the caching allocator.
template <class T>
class DeviceArray {
 public:
  explicit DeviceArray(std::size_t n = 1)
      : n_(std::max<std::size_t>(n, 1)), data_(qf::cuda::allocate(bytes())) {}
  ~DeviceArray() {
    if (data_) qf::cuda::release(data_, bytes());
  }
  DeviceArray(const DeviceArray&) = delete;
  DeviceArray& operator=(const DeviceArray&) = delete;
  T* get() const { return reinterpret_cast<T*>(data_); }
  void upload(std::span<const T> values) {
    check(cudaMemcpy(get(), values.data(), values.size_bytes(), cudaMemcpyHostToDevice), "upload");
  }
  std::vector<T> download() const {
    std::vector<T> out(n_);
    check(cudaMemcpy(out.data(), get(), bytes(), cudaMemcpyDeviceToHost), "download");
    return out;
  }
  void zero() { check(cudaMemset(get(), 0, bytes()), "zero"); }

 private:
  std::size_t bytes() const { return n_ * sizeof(T); }
  std::size_t n_;
  std::byte* data_;
};

Tensor device_empty(Shape shape) {
  return Tensor::empty(std::move(shape), DType::f32, Device::cuda);
}

void upload(Tensor& device, const Tensor& host) {
  check(cudaMemcpy(device.data<float>(), host.data<float>(),
                   sizeof(float) * static_cast<std::size_t>(host.numel()), cudaMemcpyHostToDevice),
        "upload");
}

// Page-locked host memory (what an asynchronous host-to-device copy needs), freed with its owner.
class PinnedBuffer {
 public:
  PinnedBuffer() = default;
  explicit PinnedBuffer(std::size_t bytes) : bytes_(bytes) {
    check(cudaMallocHost(&data_, bytes), "pinned host buffer");
  }
  ~PinnedBuffer() {
    if (data_) cudaFreeHost(data_);
  }
  PinnedBuffer(PinnedBuffer&& other) noexcept
      : data_(std::exchange(other.data_, nullptr)), bytes_(std::exchange(other.bytes_, 0)) {}
  PinnedBuffer& operator=(PinnedBuffer&& other) noexcept {
    std::swap(data_, other.data_);
    std::swap(bytes_, other.bytes_);
    return *this;
  }
  std::byte* get() const { return static_cast<std::byte*>(data_); }
  std::size_t bytes() const { return bytes_; }

 private:
  void* data_ = nullptr;
  std::size_t bytes_ = 0;
};

class Event {
 public:
  Event() { check(cudaEventCreateWithFlags(&event_, cudaEventDisableTiming), "event"); }
  ~Event() { cudaEventDestroy(event_); }
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;
  cudaEvent_t get() const { return event_; }

 private:
  cudaEvent_t event_ = nullptr;
};

// A stream that does not synchronise with the legacy default stream: copies on it overlap kernels.
class CopyStream {
 public:
  CopyStream() { check(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), "copy stream"); }
  ~CopyStream() { cudaStreamDestroy(stream_); }
  CopyStream(const CopyStream&) = delete;
  CopyStream& operator=(const CopyStream&) = delete;
  cudaStream_t get() const { return stream_; }

 private:
  cudaStream_t stream_ = nullptr;
};

// Row-major [rows, cols] operands given as cuBLAS sees them (column-major), one per model.
void gemm_batched(cublasOperation_t op_a, cublasOperation_t op_b, int m, int n, int k, const float* a,
                  int lda, Index stride_a, const float* b, int ldb, Index stride_b, float beta, float* c,
                  int ldc, Index stride_c, int models, const char* what) {
  const float one = 1.0f;
  check(cublasSgemmStridedBatched(cuda::cublas_handle(), op_a, op_b, m, n, k, &one, a, lda, stride_a, b, ldb,
                                  stride_b, &beta, c, ldc, stride_c, models),
        what);
}

// ---- kernels --------------------------------------------------------------------------------------------

// db[n, g] = sum over the model's B*T rows of dgates; written to both bias gradients (b_ih and b_hh
// enter the gates alike, so nn's autodiff gives them the same gradient).
__global__ void bias_grad_kernel(int models, Index rows_per_model, int gates, const float* dgates,
                                 float* d_ih, float* d_hh) {
  const Index k = static_cast<Index>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (k >= static_cast<Index>(models) * gates) return;
  const Index n = k / gates, g = k % gates;
  const float* d = dgates + n * rows_per_model * gates + g;
  float sum = 0.0f;
  for (Index r = 0; r < rows_per_model; ++r) sum += d[r * gates];
  d_ih[k] = sum;
  d_hh[k] = sum;
}

// logits[n*B + b] = w[n] . h_T(n, b) + bias[n]: the Linear(H, 1) head on the last hidden state.
__global__ void head_forward_kernel(Index rows, int steps, int hidden, int batch, const float* output,
                                    const float* weight, const float* bias, float* logits) {
  const Index nb = static_cast<Index>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (nb >= rows) return;
  const Index n = nb / batch;
  const float* h = output + (nb * steps + steps - 1) * hidden;
  float z = bias[n];
  for (int j = 0; j < hidden; ++j) z += weight[n * hidden + j] * h[j];
  logits[nb] = z;
}

// One thread per model: the mean BCE-with-logits over its valid rows (as nn::bce_with_logits: float
// terms summed in double), added to the totals as (float mean) * rows with the correct predictions, and,
// when dlogits is given, the loss gradient (sigmoid(z) - y) / rows (zero on padding rows).
__global__ void bce_kernel(int models, int batch, const long long* rows, const float* logits, const float* y,
                           double* loss_sum, double* correct, float* dlogits) {
  const int n = blockIdx.x * blockDim.x + threadIdx.x;
  if (n >= models) return;
  const long long r = rows[n];
  double total = 0.0, hits = 0.0;
  const float scale = r > 0 ? static_cast<float>(1.0 / static_cast<double>(r)) : 0.0f;
  for (int b = 0; b < batch; ++b) {
    const float z = logits[n * batch + b], t = y[n * batch + b];
    if (b < r) {
      total += fmaxf(z, 0.0f) - z * t + log1pf(expf(-fabsf(z)));
      hits += (z > 0) == (t > 0.5f) ? 1.0 : 0.0;
    }
    if (dlogits) dlogits[n * batch + b] = b < r ? scale * (1.0f / (1.0f + expf(-z)) - t) : 0.0f;
  }
  if (r == 0) return;
  loss_sum[n] +=
      static_cast<double>(static_cast<float>(total / static_cast<double>(r))) * static_cast<double>(r);
  correct[n] += hits;
}

// The head's gradients: d_weight[n, j] = sum_b dz[n, b] h_T(n, b, j), one thread per (n, j).
__global__ void head_weight_grad_kernel(int models, int batch, int steps, int hidden, const float* dlogits,
                                        const float* output, float* d_weight) {
  const Index k = static_cast<Index>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (k >= static_cast<Index>(models) * hidden) return;
  const Index n = k / hidden, j = k % hidden;
  float sum = 0.0f;
  for (int b = 0; b < batch; ++b)
    sum += dlogits[n * batch + b] * output[((n * batch + b) * steps + steps - 1) * hidden + j];
  d_weight[k] = sum;
}

__global__ void head_bias_grad_kernel(int models, int batch, const float* dlogits, float* d_bias) {
  const int n = blockIdx.x * blockDim.x + threadIdx.x;
  if (n >= models) return;
  float sum = 0.0f;
  for (int b = 0; b < batch; ++b) sum += dlogits[n * batch + b];
  d_bias[n] = sum;
}

// dh_T[nb, j] = dz[nb] w[n, j]: what the head sends back into the top layer's last step.
__global__ void head_input_grad_kernel(Index rows, int batch, int hidden, const float* dlogits,
                                       const float* weight, float* dh) {
  const Index k = static_cast<Index>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (k >= rows * hidden) return;
  const Index nb = k / hidden, j = k % hidden;
  dh[k] = dlogits[nb] * weight[(nb / batch) * hidden + j];
}

// One block per model: partial[n * tensors + which] = the sum of squares of the model's `per_model`
// gradient elements (double, in a fixed order: the clipping factor is deterministic).
__global__ void sum_squares_per_model_kernel(Index per_model, const float* g, int tensors, int which,
                                             double* partial) {
  __shared__ double cache[kThreads];
  const Index n = blockIdx.x;
  double sum = 0.0;
  for (Index i = threadIdx.x; i < per_model; i += blockDim.x) {
    const double v = g[n * per_model + i];
    sum += v * v;
  }
  cache[threadIdx.x] = sum;
  __syncthreads();
  for (unsigned stride = blockDim.x / 2; stride > 0; stride /= 2) {
    if (threadIdx.x < stride) cache[threadIdx.x] += cache[threadIdx.x + stride];
    __syncthreads();
  }
  if (threadIdx.x == 0) partial[n * tensors + which] = cache[0];
}

// Per model: the factor of nn::clip_grad_norm (1 when within max_norm or clipping is off), then the
// Adam step size and bias correction of its own step count (models without rows do not step).
__global__ void prepare_step_kernel(int models, int tensors, const double* partial, double max_norm,
                                    const long long* rows, long long* step, double lr, double beta1,
                                    double beta2, float* factor, float* step_size, float* inv_sqrt_bias2) {
  const int n = blockIdx.x * blockDim.x + threadIdx.x;
  if (n >= models) return;
  float f = 1.0f;
  if (max_norm > 0) {
    double total = 0.0;
    for (int k = 0; k < tensors; ++k) total += partial[n * tensors + k];
    const double norm = ::sqrt(total);
    if (norm > max_norm) f = static_cast<float>(max_norm / (norm + 1e-6));
  }
  factor[n] = f;
  if (rows[n] == 0) return;
  const long long s = ++step[n];
  step_size[n] = static_cast<float>(lr / (1.0 - ::pow(beta1, static_cast<double>(s))));
  inv_sqrt_bias2[n] = static_cast<float>(1.0 / ::sqrt(1.0 - ::pow(beta2, static_cast<double>(s))));
}

// Adam(W) over one stacked parameter tensor, one thread per element (optim.cu's arithmetic), with the
// clipping factor applied to the gradient first; models without rows are left alone.
__global__ void adam_kernel(Index total, Index per_model, const long long* rows, const float* factor,
                            const float* step_size, const float* inv_sqrt_bias2, float* w, const float* g,
                            float* m, float* v, float beta1, float beta2, float eps, float weight_decay,
                            float decay, bool decoupled) {
  const Index k = static_cast<Index>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (k >= total) return;
  const Index n = k / per_model;
  if (rows[n] == 0) return;
  const AdamStep<float> step{beta1, beta2,        step_size[n], inv_sqrt_bias2[n],
                             eps,   weight_decay, decay,        decoupled};
  adam_update(step, factor[n] == 1.0f ? g[k] : g[k] * factor[n], w[k], m[k], v[k]);
}

// to[k] = from[k] for the elements of models with mask[n] != 0 (best-epoch snapshots).
__global__ void masked_copy_kernel(Index total, Index per_model, const unsigned char* mask, const float* from,
                                   float* to) {
  const Index k = static_cast<Index>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (k < total && mask[k / per_model]) to[k] = from[k];
}

// ---- the backend ----------------------------------------------------------------------------------------

struct LayerForward {
  Tensor gates, cells, tanh_cells, output;  // [N*B, T, 4H] activations and [N*B, T, H]
};

// One step's inputs on the device and, for asynchronous uploads, their page-locked staging copy (x, y
// and rows back to back). copied: the upload has finished (the staging copy may be refilled, the step
// may read the inputs); consumed: the step's kernels are done with them (the next upload may overwrite).
struct InputSlot {
  Tensor x, y;                                    // [N, B, T, F], [N, B]
  std::unique_ptr<DeviceArray<long long>> rows;   // [N] valid rows per model
  PinnedBuffer staging;
  Event copied, consumed;
};

// The buffers of one batch size, kept across steps: no allocation per step, and no block is freed while
// queued kernels still use it. Two input slots, used in turn: step k's upload overlaps step k-1's compute.
struct Workspace {
  std::array<InputSlot, 2> inputs;
  int next_slot = 0;
  InputSlot* in = nullptr;                  // the current step's inputs
  Tensor logits, dlogits;                   // [N, B] x 2
  std::vector<LayerForward> layers;         // per layer
  Tensor dgates, h_prev, dh, dc, lower_dx;  // backward only, allocated on the first train step
};

class CudaMultiLSTM final : public MultiLSTM {
 public:
  CudaMultiLSTM(const MultiLSTMShape& shape, std::span<const Tensor> parameters,
                const MultiOptimizerOptions& o, MultiUpload upload_path)
      : shape_(shape),
        options_(o),
        upload_(upload_path),
        lr_(o.lr),
        n_(static_cast<std::size_t>(shape.models)),
        steps_(n_),
        loss_sum_(n_),
        correct_(n_),
        factor_(n_),
        step_size_(n_),
        inv_sqrt_bias2_(n_) {
    // The kernels index the parameters by these shapes, unchecked.
    const std::vector<Shape> expected_shapes = stacked_parameter_shapes(shape);
    if (parameters.size() != expected_shapes.size())
      throw std::invalid_argument("multi-model LSTM (CUDA): " + std::to_string(parameters.size()) +
                                  " parameter tensors, expected " + std::to_string(expected_shapes.size()));
    for (std::size_t k = 0; k < parameters.size(); ++k) {
      const Tensor& p = parameters[k];
      if (p.shape() != expected_shapes[k] || p.dtype() != DType::f32 || p.device() != Device::cpu)
        throw ShapeError("multi-model LSTM (CUDA): parameter " + std::to_string(k) +
                         " must be a float32 host tensor " + to_string(expected_shapes[k]) + ", got " +
                         to_string(p.shape()));
      Tensor d = device_empty(p.shape());
      upload(d, p);
      params_.push_back(d);
      grads_.push_back(device_empty(p.shape()));
      m_.push_back(zeros_like(p));
      v_.push_back(zeros_like(p));
    }
    partial_ = std::make_unique<DeviceArray<double>>(n_ * params_.size());
    kept_.assign(n_, 0);
    steps_.zero();
    loss_sum_.zero();
    correct_.zero();
  }

  // Queued kernels may still use the buffers the members are about to hand back to the allocator (an
  // exception mid-step, or take_totals' trailing memsets).
  ~CudaMultiLSTM() override { cudaDeviceSynchronize(); }
  CudaMultiLSTM(const CudaMultiLSTM&) = delete;
  CudaMultiLSTM& operator=(const CudaMultiLSTM&) = delete;

  const MultiLSTMShape& shape() const override { return shape_; }

  void train_step(const MultiBatch& batch) override {
    if (empty_batch(batch)) return;
    Workspace& w = upload_batch(batch);
    forward(w);
    loss(w, w.dlogits.data<float>());
    backward(w);
    optimizer_step(w.in->rows->get());
    check(cudaEventRecord(w.in->consumed.get(), cudaStreamLegacy), "inputs consumed");
  }

  void evaluate_step(const MultiBatch& batch, Tensor* logits) override {
    if (empty_batch(batch)) {
      if (logits) *logits = Tensor::zeros(batch.y.shape());
      return;
    }
    Workspace& w = upload_batch(batch);
    forward(w);
    loss(w, nullptr);
    check(cudaEventRecord(w.in->consumed.get(), cudaStreamLegacy), "inputs consumed");
    if (logits) {
      *logits = Tensor::empty(w.logits.shape());
      check(cudaMemcpy(logits->data<float>(), w.logits.data<float>(), sizeof(float) * w.logits.numel(),
                       cudaMemcpyDeviceToHost),
            "logits");
      // Padding rows read 0, as the reference's.
      const std::int64_t B = batch.x.dim(1);
      float* out = logits->data<float>();
      for (std::size_t n = 0; n < n_; ++n)
        for (std::int64_t b = batch.rows[n]; b < B; ++b) out[static_cast<std::int64_t>(n) * B + b] = 0.0f;
    }
  }

  MultiTotals take_totals() override {
    MultiTotals out{loss_sum_.download(), correct_.download()};
    out.loss_sum.resize(n_);
    out.correct.resize(n_);
    loss_sum_.zero();
    correct_.zero();
    return out;
  }

  void set_lr(double lr) override { lr_ = lr; }

  std::vector<Tensor> parameters() override {
    check(cudaDeviceSynchronize(), "multi-model LSTM");
    std::vector<Tensor> out;
    for (const Tensor& p : params_) {
      Tensor host = Tensor::empty(p.shape());
      check(cudaMemcpy(host.data<float>(), p.data<float>(),
                       sizeof(float) * static_cast<std::size_t>(p.numel()), cudaMemcpyDeviceToHost),
            "parameters");
      out.push_back(host);
    }
    return out;
  }

  void keep_best(std::span<const std::uint8_t> keep) override {
    if (best_.empty())
      for (const Tensor& p : params_) best_.push_back(device_empty(p.shape()));
    masked_copy(keep, params_, best_);
    for (std::size_t n = 0; n < n_; ++n) kept_[n] |= keep[n];
  }

  // Only models that keep_best saved (best_ is uninitialised elsewhere), as the reference.
  void restore_best(std::span<const std::uint8_t> restore) override {
    check_mask(restore);
    std::vector<std::uint8_t> mask(n_);
    for (std::size_t n = 0; n < n_; ++n) mask[n] = restore[n] && kept_[n];
    if (!best_.empty()) masked_copy(mask, best_, params_);
  }

 private:
  int H() const { return static_cast<int>(shape_.hidden_size); }
  int G() const { return 4 * H(); }
  int N() const { return static_cast<int>(shape_.models); }
  const Tensor& weight_ih(std::int64_t l) const { return params_[static_cast<std::size_t>(4 * l)]; }
  const Tensor& weight_hh(std::int64_t l) const { return params_[static_cast<std::size_t>(4 * l + 1)]; }
  const Tensor& bias_ih(std::int64_t l) const { return params_[static_cast<std::size_t>(4 * l + 2)]; }
  const Tensor& bias_hh(std::int64_t l) const { return params_[static_cast<std::size_t>(4 * l + 3)]; }
  const Tensor& head_weight() const { return params_[params_.size() - 2]; }
  const Tensor& head_bias() const { return params_.back(); }

  static Tensor zeros_like(const Tensor& p) {
    Tensor t = device_empty(p.shape());
    check(cudaMemset(t.data<float>(), 0, sizeof(float) * static_cast<std::size_t>(t.numel())), "zero");
    return t;
  }

  // True for a batch without rows (nothing to compute; a launch of zero blocks would fail).
  bool empty_batch(const MultiBatch& b) const {
    if (b.x.rank() == 4 && b.x.dim(2) < 1)
      throw ShapeError("multi-model LSTM (CUDA): batch x " + to_string(b.x.shape()) + " has no time steps");
    return b.x.rank() == 4 && b.x.dim(1) == 0 && b.y.shape() == Shape{shape_.models, 0} &&
           b.rows.size() == n_;
  }

  // Validates the batch and queues its upload into the workspace's next input slot (w.in). On return the
  // caller's host buffers may be refilled at once: they were copied (pageable) or staged (pinned).
  Workspace& upload_batch(const MultiBatch& b) {
    if (b.x.rank() != 4 || b.x.dim(0) != shape_.models || b.x.dim(3) != shape_.input_size ||
        b.x.dtype() != DType::f32 || b.y.shape() != Shape{shape_.models, b.x.dim(1)} || b.rows.size() != n_)
      throw ShapeError("multi-model LSTM (CUDA): batch x " + to_string(b.x.shape()) + ", y " +
                       to_string(b.y.shape()) + " for " + std::to_string(shape_.models) +
                       " models of input " + std::to_string(shape_.input_size));
    for (const std::int64_t r : b.rows)
      if (r < 0 || r > b.x.dim(1)) throw ShapeError("multi-model LSTM (CUDA): rows outside the batch");
    Workspace& w = workspaces_[b.x.shape()];
    if (w.layers.empty()) {
      const Index rows = b.x.dim(0) * b.x.dim(1), S = b.x.dim(2), H = shape_.hidden_size;
      w.logits = device_empty(b.y.shape());
      w.dlogits = device_empty(b.y.shape());
      for (std::int64_t l = 0; l < shape_.num_layers; ++l)
        w.layers.push_back({device_empty({rows, S, 4 * H}), device_empty({rows, S, H}),
                            device_empty({rows, S, H}), device_empty({rows, S, H})});
    }
    InputSlot& slot = w.inputs[static_cast<std::size_t>(w.next_slot)];
    if (upload_ == MultiUpload::pinned_async) w.next_slot ^= 1;
    if (!slot.x.defined()) {
      slot.x = device_empty(b.x.shape());
      slot.y = device_empty(b.y.shape());
      slot.rows = std::make_unique<DeviceArray<long long>>(n_);
    }
    const std::vector<long long> rows(b.rows.begin(), b.rows.end());
    if (upload_ == MultiUpload::pageable) {
      upload(slot.x, b.x);
      upload(slot.y, b.y);
      slot.rows->upload(rows);
    } else {
      upload_async(slot, b, rows);
    }
    w.in = &slot;
    return w;
  }

  // Stages the batch in the slot's pinned buffer and copies it on the copy stream; the compute stream
  // waits for that copy. The slot was last used two steps ago: its staging copy must have left (host
  // waits) and that step's kernels must be done with its device buffers (the copy stream waits).
  void upload_async(InputSlot& slot, const MultiBatch& b, const std::vector<long long>& rows) {
    const std::size_t x_bytes = sizeof(float) * static_cast<std::size_t>(b.x.numel()),
                      y_bytes = sizeof(float) * static_cast<std::size_t>(b.y.numel()),
                      rows_bytes = sizeof(long long) * rows.size();
    check(cudaEventSynchronize(slot.copied.get()), "staging buffer free");
    if (slot.staging.bytes() < x_bytes + y_bytes + rows_bytes)
      slot.staging = PinnedBuffer(x_bytes + y_bytes + rows_bytes);
    std::byte* staged = slot.staging.get();
    std::memcpy(staged, b.x.data<float>(), x_bytes);
    std::memcpy(staged + x_bytes, b.y.data<float>(), y_bytes);
    std::memcpy(staged + x_bytes + y_bytes, rows.data(), rows_bytes);
    const cudaStream_t copies = copy_stream_.get();
    check(cudaStreamWaitEvent(copies, slot.consumed.get(), 0), "wait for the slot's last step");
    check(cudaMemcpyAsync(slot.x.data<float>(), staged, x_bytes, cudaMemcpyHostToDevice, copies), "upload x");
    check(cudaMemcpyAsync(slot.y.data<float>(), staged + x_bytes, y_bytes, cudaMemcpyHostToDevice, copies),
          "upload y");
    check(cudaMemcpyAsync(slot.rows->get(), staged + x_bytes + y_bytes, rows_bytes, cudaMemcpyHostToDevice,
                          copies),
          "upload rows");
    check(cudaEventRecord(slot.copied.get(), copies), "inputs copied");
    check(cudaStreamWaitEvent(cudaStreamLegacy, slot.copied.get(), 0), "wait for the inputs");
  }

  // Adds each model's batch loss and correct predictions to the totals; with dlogits, also the loss
  // gradient (what backward starts from).
  void loss(Workspace& w, float* dlogits) {
    const int N = this->N(), B = static_cast<int>(w.in->x.dim(1));
    bce_kernel<<<blocks(N), kThreads>>>(N, B, w.in->rows->get(), w.logits.data<float>(), w.in->y.data<float>(),
                                        loss_sum_.get(), correct_.get(), dlogits);
    check_launch("loss kernel");
  }

  // The layers' forward for all models, then the head's logits.
  void forward(Workspace& w) {
    const int B = static_cast<int>(w.in->x.dim(1)), S = static_cast<int>(w.in->x.dim(2)), N = this->N(),
              H = this->H(), G = this->G();
    const Index rows = static_cast<Index>(N) * B;
    const float* input = w.in->x.data<float>();
    for (std::int64_t l = 0; l < shape_.num_layers; ++l) {
      const int in = l == 0 ? static_cast<int>(shape_.input_size) : H;
      LayerForward& f = w.layers[static_cast<std::size_t>(l)];
      float* gates = f.gates.data<float>();
      cuda::elementwise::broadcast_bias(rows * S, static_cast<Index>(B) * S, G, bias_ih(l).data<float>(),
                                        bias_hh(l).data<float>(), gates);
      // gates_n [B*T, G] += x_n [B*T, in] W_ih_n^T, for every model n.
      gemm_batched(CUBLAS_OP_T, CUBLAS_OP_N, G, B * S, in, weight_ih(l).data<float>(), in,
                   static_cast<Index>(G) * in, input, in, static_cast<Index>(B) * S * in, 1.0f, gates, G,
                   static_cast<Index>(B) * S * G, N, "input projection");
      for (int t = 0; t < S; ++t) {
        if (t > 0)  // gates_{n,t} [B, G] += h_{n,t-1} [B, H] W_hh_n^T; h_{-1} = 0 adds nothing
          gemm_batched(CUBLAS_OP_T, CUBLAS_OP_N, G, B, H, weight_hh(l).data<float>(), H,
                       static_cast<Index>(G) * H, f.output.data<float>() + static_cast<Index>(t - 1) * H,
                       S * H, static_cast<Index>(B) * S * H, 1.0f, gates + static_cast<Index>(t) * G, S * G,
                       static_cast<Index>(B) * S * G, N, "recurrent step");
        // zero initial state, as LSTMClassifier
        cuda::elementwise::cell_forward(rows, S, H, t, nullptr, gates, f.cells.data<float>(),
                                        f.tanh_cells.data<float>(), f.output.data<float>());
      }
      input = f.output.data<float>();
    }
    head_forward_kernel<<<blocks(rows), kThreads>>>(rows, S, H, B, w.layers.back().output.data<float>(),
                                                    head_weight().data<float>(), head_bias().data<float>(),
                                                    w.logits.data<float>());
    check_launch("head kernel");
  }

  // From the loss gradient in w.dlogits: the head's and every layer's gradients (BPTT, top layer first)
  // into grads_.
  void backward(Workspace& w) {
    const int B = static_cast<int>(w.in->x.dim(1)), S = static_cast<int>(w.in->x.dim(2)), N = this->N(),
              H = this->H(), G = this->G();
    const Index rows = static_cast<Index>(N) * B, model_rows = static_cast<Index>(B) * S;
    if (!w.dgates.defined()) {
      w.dgates = device_empty({rows, S, G});
      w.h_prev = device_empty({rows, S, H});
      w.dh = device_empty({rows, H});
      w.dc = device_empty({rows, H});
      if (shape_.num_layers > 1) w.lower_dx = device_empty({rows, S, H});
    }
    const float* top = w.layers.back().output.data<float>();
    head_weight_grad_kernel<<<blocks(static_cast<Index>(N) * H), kThreads>>>(
        N, B, S, H, w.dlogits.data<float>(), top, grads_[grads_.size() - 2].data<float>());
    head_bias_grad_kernel<<<blocks(N), kThreads>>>(N, B, w.dlogits.data<float>(),
                                                   grads_.back().data<float>());
    head_input_grad_kernel<<<blocks(rows * H), kThreads>>>(rows, B, H, w.dlogits.data<float>(),
                                                           head_weight().data<float>(), w.dh.data<float>());
    check_launch("head gradient kernels");
    float* dh = w.dh.data<float>();
    float* dc = w.dc.data<float>();
    float* dgates = w.dgates.data<float>();
    for (std::int64_t l = shape_.num_layers - 1; l >= 0; --l) {
      const LayerForward& f = w.layers[static_cast<std::size_t>(l)];
      const int in = l == 0 ? static_cast<int>(shape_.input_size) : H;
      const float* input =
          l == 0 ? w.in->x.data<float>() : w.layers[static_cast<std::size_t>(l - 1)].output.data<float>();
      // The top layer's output gradient is the head's, already in dh; a lower layer's is the dx of the one
      // above (lower_dx, read here before this layer overwrites it for the next one down).
      const float* grad_output = l == shape_.num_layers - 1 ? nullptr : w.lower_dx.data<float>();
      if (grad_output) check(cudaMemsetAsync(dh, 0, sizeof(float) * rows * H), "dh");
      check(cudaMemsetAsync(dc, 0, sizeof(float) * rows * H), "dc");
      for (int t = S - 1; t >= 0; --t) {
        cuda::elementwise::cell_backward(rows, S, H, t, nullptr, f.gates.data<float>(), f.cells.data<float>(),
                                         f.tanh_cells.data<float>(), grad_output, dh, dc, dgates);
        if (t > 0)  // dh_n [B, H] = dgates_{n,t} [B, G] W_hh_n [G, H]
          gemm_batched(CUBLAS_OP_N, CUBLAS_OP_N, H, B, G, weight_hh(l).data<float>(), H,
                       static_cast<Index>(G) * H, dgates + static_cast<Index>(t) * G, S * G, model_rows * G,
                       0.0f, dh, H, static_cast<Index>(B) * H, N, "dh");
      }
      // dW_ih_n [G, in] = dgates_n^T [G, B*T] x_n [B*T, in]
      gemm_batched(CUBLAS_OP_N, CUBLAS_OP_T, in, G, B * S, input, in, model_rows * in, dgates, G,
                   model_rows * G, 0.0f, grads_[static_cast<std::size_t>(4 * l)].data<float>(), in,
                   static_cast<Index>(G) * in, N, "dW_ih");
      cuda::elementwise::previous_hidden(rows, S, H, nullptr, f.output.data<float>(), w.h_prev.data<float>());
      gemm_batched(CUBLAS_OP_N, CUBLAS_OP_T, H, G, B * S, w.h_prev.data<float>(), H, model_rows * H, dgates,
                   G, model_rows * G, 0.0f, grads_[static_cast<std::size_t>(4 * l + 1)].data<float>(), H,
                   static_cast<Index>(G) * H, N, "dW_hh");
      bias_grad_kernel<<<blocks(static_cast<Index>(N) * G), kThreads>>>(
          N, model_rows, G, dgates, grads_[static_cast<std::size_t>(4 * l + 2)].data<float>(),
          grads_[static_cast<std::size_t>(4 * l + 3)].data<float>());
      check_launch("bias gradient kernel");
      if (l > 0)  // dx_n [B*T, H] = dgates_n [B*T, G] W_ih_n [G, H]: the output gradient of layer l-1
        gemm_batched(CUBLAS_OP_N, CUBLAS_OP_N, in, B * S, G, weight_ih(l).data<float>(), in,
                     static_cast<Index>(G) * in, dgates, G, model_rows * G, 0.0f, w.lower_dx.data<float>(),
                     in, model_rows * in, N, "dx");
    }
  }

  // Per-model clipping factors and Adam steps, then Adam over every stacked parameter.
  void optimizer_step(const long long* rows) {
    const int N = this->N(), tensors = static_cast<int>(params_.size());
    if (options_.clip_norm > 0)
      for (int k = 0; k < tensors; ++k) {
        sum_squares_per_model_kernel<<<N, kThreads>>>(grads_[static_cast<std::size_t>(k)].numel() / N,
                                                      grads_[static_cast<std::size_t>(k)].data<float>(),
                                                      tensors, k, partial_->get());
        check_launch("sum of squares kernel");
      }
    prepare_step_kernel<<<blocks(N), kThreads>>>(N, tensors, partial_->get(), options_.clip_norm, rows,
                                                 steps_.get(), lr_, options_.beta1, options_.beta2,
                                                 factor_.get(), step_size_.get(), inv_sqrt_bias2_.get());
    check_launch("prepare step kernel");
    for (std::size_t k = 0; k < params_.size(); ++k) {
      const Index total = params_[k].numel();
      adam_kernel<<<blocks(total), kThreads>>>(
          total, total / N, rows, factor_.get(), step_size_.get(), inv_sqrt_bias2_.get(),
          params_[k].data<float>(), grads_[k].data<float>(), m_[k].data<float>(), v_[k].data<float>(),
          static_cast<float>(options_.beta1), static_cast<float>(options_.beta2),
          static_cast<float>(options_.eps), static_cast<float>(options_.weight_decay),
          static_cast<float>(1.0 - lr_ * options_.weight_decay), options_.decoupled);
      check_launch("adam kernel");
    }
  }

  void check_mask(std::span<const std::uint8_t> mask) const {
    if (mask.size() != n_) throw std::invalid_argument("multi-model LSTM (CUDA): a mask per model expected");
  }

  void masked_copy(std::span<const std::uint8_t> mask, const std::vector<Tensor>& from,
                   std::vector<Tensor>& to) {
    check_mask(mask);
    DeviceArray<unsigned char> m(n_);
    m.upload(
        std::span<const unsigned char>(reinterpret_cast<const unsigned char*>(mask.data()), mask.size()));
    for (std::size_t k = 0; k < from.size(); ++k) {
      const Index total = from[k].numel();
      masked_copy_kernel<<<blocks(total), kThreads>>>(total, total / N(), m.get(), from[k].data<float>(),
                                                      to[k].data<float>());
      check_launch("masked copy kernel");
    }
    check(cudaDeviceSynchronize(), "masked copy");  // the mask's memory is released on return
  }

  MultiLSTMShape shape_;
  MultiOptimizerOptions options_;
  MultiUpload upload_;
  CopyStream copy_stream_;  // declared before the workspaces: destroyed after their events
  double lr_;
  std::size_t n_;
  std::vector<Tensor> params_, grads_, m_, v_, best_;
  std::vector<std::uint8_t> kept_;         // per model: has keep_best saved it
  std::map<Shape, Workspace> workspaces_;  // by batch shape (training and validation batches differ)
  DeviceArray<long long> steps_;
  DeviceArray<double> loss_sum_, correct_;
  DeviceArray<float> factor_, step_size_, inv_sqrt_bias2_;
  std::unique_ptr<DeviceArray<double>> partial_;
};

}  // namespace

std::unique_ptr<MultiLSTM> make_cuda_multi_lstm(const MultiLSTMShape& shape,
                                                std::span<const Tensor> parameters,
                                                const MultiOptimizerOptions& options, MultiUpload upload) {
  if (cuda_device_count() == 0) throw std::runtime_error("multi-model LSTM (CUDA): no CUDA device found");
  return std::make_unique<CudaMultiLSTM>(shape, parameters, options, upload);
}

}  // namespace qf::nn
