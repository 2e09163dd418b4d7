// cuDNN 9's RNN API for an LSTM with PyTorch's parameters. cuDNN keeps all weights in one buffer; per
// layer, linear layers 0-3 are the input weights and biases of gates i, f, g, o and 4-7 the recurrent
// ones, each an [H, in] row-major block: exactly PyTorch's row blocks of weight_ih / weight_hh, so the
// parameters are copied block by block (cudnnGetRNNWeightParams gives each block's address).
#include <cuda_runtime.h>
#include <cudnn.h>

#include <algorithm>
#include <stdexcept>
#include <string>

#include "cuda_util.h"
#include "qf/nn/lstm_cudnn.h"

namespace qf::nn::cudnn {

using cuda::check;
using qf::to_string;  // beside the Algorithm / Math overloads

namespace {

using cuda::check;  // beside the cuDNN overload below, which would hide it here

void check(cudnnStatus_t status, const char* what) {
  if (status == CUDNN_STATUS_SUCCESS) return;
  const std::string message = std::string("cuDNN ") + what + ": " + cudnnGetErrorString(status);
  // cuDNN 9 may answer a sub-code of NOT_SUPPORTED (e.g. ..._SHAPE): compare the category.
  if (status / 1000 == CUDNN_STATUS_NOT_SUPPORTED / 1000) throw NotSupported(message);
  throw std::runtime_error(message);
}

cudnnRNNAlgo_t algorithm_of(Algorithm a) {
  switch (a) {
    case Algorithm::standard: return CUDNN_RNN_ALGO_STANDARD;
    case Algorithm::persist_static: return CUDNN_RNN_ALGO_PERSIST_STATIC;
    case Algorithm::persist_static_small_h: return CUDNN_RNN_ALGO_PERSIST_STATIC_SMALL_H;
    case Algorithm::persist_dynamic: return CUDNN_RNN_ALGO_PERSIST_DYNAMIC;
  }
  throw std::invalid_argument("cuDNN LSTM: unknown algorithm");
}

// A cuDNN object destroyed with its owner.
template <class T, cudnnStatus_t (*Destroy)(T)>
struct Handle {
  T value = nullptr;
  Handle() = default;
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  ~Handle() {
    if (value) Destroy(value);
  }
};

Tensor device_zeros(Shape shape) {
  Tensor t = Tensor::empty(std::move(shape), DType::f32, Device::cuda);
  check(cudaMemset(t.data<float>(), 0, sizeof(float) * static_cast<std::size_t>(t.numel())), "zero");
  return t;
}

Tensor device_bytes(std::size_t bytes) {  // a float buffer of at least `bytes`
  return Tensor::empty({static_cast<std::int64_t>(bytes / sizeof(float) + 1)}, DType::f32, Device::cuda);
}

}  // namespace

bool available() {
  return true;
}

struct LSTM::Impl {
  int input = 0, hidden = 0, layers = 0, batch = 0, steps = 0;
  Handle<cudnnHandle_t, cudnnDestroy> handle;
  Handle<cudnnRNNDescriptor_t, cudnnDestroyRNNDescriptor> rnn;
  Handle<cudnnDropoutDescriptor_t, cudnnDestroyDropoutDescriptor> dropout;
  Handle<cudnnRNNDataDescriptor_t, cudnnDestroyRNNDataDescriptor> x_desc, y_desc;
  Handle<cudnnTensorDescriptor_t, cudnnDestroyTensorDescriptor> h_desc, matrix_desc, bias_desc;
  Tensor weights, weight_grads, workspace, reserve, seq_lengths, y, dx;
  std::size_t weight_bytes = 0, workspace_bytes = 0, reserve_bytes = 0;
  bool trained = false;  // the last forward ran in training mode

  // Calls f(layer, linear id, matrix address, bias address) for every block of `space`.
  template <class F>
  void for_each_block(Tensor& space, F&& f) {
    for (int l = 0; l < layers; ++l)
      for (int id = 0; id < 8; ++id) {
        void* matrix = nullptr;
        void* bias = nullptr;
        check(cudnnGetRNNWeightParams(handle.value, rnn.value, l, weight_bytes, space.data<float>(), id,
                                      matrix_desc.value, &matrix, bias_desc.value, &bias),
              "weight params");
        f(l, id, static_cast<float*>(matrix), static_cast<float*>(bias));
      }
  }
};

LSTM::LSTM(std::int64_t input_size, std::int64_t hidden_size, std::int64_t num_layers, std::int64_t batch,
           std::int64_t steps, Config config)
    : impl_(std::make_unique<Impl>()) {
  Impl& m = *impl_;
  m.input = static_cast<int>(input_size);
  m.hidden = static_cast<int>(hidden_size);
  m.layers = static_cast<int>(num_layers);
  m.batch = static_cast<int>(batch);
  m.steps = static_cast<int>(steps);
  check(cudnnCreate(&m.handle.value), "create");
  check(cudnnCreateDropoutDescriptor(&m.dropout.value), "dropout descriptor");
  check(cudnnSetDropoutDescriptor(m.dropout.value, m.handle.value, 0.0f, nullptr, 0, 0), "dropout");
  check(cudnnCreateRNNDescriptor(&m.rnn.value), "RNN descriptor");
  // FMA math: no TF32 tensor cores, so results compare with our float32 kernels; DEFAULT math lets
  // cuDNN use TF32 tensor cores on float32 data, as PyTorch does with allow_tf32.
  check(cudnnSetRNNDescriptor_v8(m.rnn.value, algorithm_of(config.algorithm), CUDNN_LSTM, CUDNN_RNN_DOUBLE_BIAS,
                                 CUDNN_UNIDIRECTIONAL, CUDNN_LINEAR_INPUT, CUDNN_DATA_FLOAT, CUDNN_DATA_FLOAT,
                                 config.math == Math::fma ? CUDNN_FMA_MATH : CUDNN_DEFAULT_MATH, m.input,
                                 m.hidden, m.hidden, m.layers, m.dropout.value,
                                 // the unpacked (batch-major) data layouts require padded I/O enabled
                                 CUDNN_RNN_PADDED_IO_ENABLED),
        "RNN");
  // The dynamic persistent algorithm compiles its kernels for this batch size at run time.
  if (config.algorithm == Algorithm::persist_dynamic)
    check(cudnnBuildRNNDynamic(m.handle.value, m.rnn.value, m.batch), "build dynamic RNN");
  const std::vector<int> lengths(static_cast<std::size_t>(m.batch), m.steps);
  float padding = 0.0f;
  for (auto [desc, width] : {std::pair{&m.x_desc, m.input}, {&m.y_desc, m.hidden}}) {
    check(cudnnCreateRNNDataDescriptor(&desc->value), "data descriptor");
    check(cudnnSetRNNDataDescriptor(desc->value, CUDNN_DATA_FLOAT, CUDNN_RNN_DATA_LAYOUT_BATCH_MAJOR_UNPACKED,
                                    m.steps, m.batch, width, lengths.data(), &padding),
          "data");
  }
  const int dims[] = {m.layers, m.batch, m.hidden}, strides[] = {m.batch * m.hidden, m.hidden, 1};
  check(cudnnCreateTensorDescriptor(&m.h_desc.value), "state descriptor");
  check(cudnnSetTensorNdDescriptor(m.h_desc.value, CUDNN_DATA_FLOAT, 3, dims, strides), "state");
  check(cudnnCreateTensorDescriptor(&m.matrix_desc.value), "matrix descriptor");
  check(cudnnCreateTensorDescriptor(&m.bias_desc.value), "bias descriptor");
  check(cudnnGetRNNWeightSpaceSize(m.handle.value, m.rnn.value, &m.weight_bytes), "weight space");
  // The workspace serves both modes; the sizes need not be monotonic in the mode, so take the larger.
  std::size_t inference_workspace = 0, inference_reserve = 0;
  check(cudnnGetRNNTempSpaceSizes(m.handle.value, m.rnn.value, CUDNN_FWD_MODE_TRAINING, m.x_desc.value,
                                  &m.workspace_bytes, &m.reserve_bytes),
        "temp space");
  check(cudnnGetRNNTempSpaceSizes(m.handle.value, m.rnn.value, CUDNN_FWD_MODE_INFERENCE, m.x_desc.value,
                                  &inference_workspace, &inference_reserve),
        "temp space (inference)");
  m.workspace_bytes = std::max(m.workspace_bytes, inference_workspace);
  m.weights = device_bytes(m.weight_bytes);
  m.weight_grads = device_bytes(m.weight_bytes);
  m.workspace = device_bytes(m.workspace_bytes);
  m.reserve = device_bytes(m.reserve_bytes);
  m.y = Tensor::empty({batch, steps, hidden_size}, DType::f32, Device::cuda);
  m.dx = Tensor::empty({batch, steps, input_size}, DType::f32, Device::cuda);
  m.seq_lengths = Tensor::empty({batch}, DType::f32, Device::cuda);  // int32 lengths in float-sized slots
  check(cudaMemcpy(m.seq_lengths.data<float>(), lengths.data(), sizeof(int) * lengths.size(),
                   cudaMemcpyHostToDevice),
        "lengths");
}

LSTM::~LSTM() = default;

void LSTM::set_weights(std::span<const LSTMWeights> layers) {
  Impl& m = *impl_;
  if (static_cast<int>(layers.size()) != m.layers)
    throw std::invalid_argument("cuDNN LSTM: one weight set per layer");
  const std::int64_t G = 4 * static_cast<std::int64_t>(m.hidden);
  for (std::size_t l = 0; l < layers.size(); ++l) {
    const LSTMWeights& w = layers[l];
    const std::int64_t in = l == 0 ? m.input : m.hidden;
    for (const auto& [t, shape] : {std::pair{&w.weight_ih, Shape{G, in}},
                                   {&w.weight_hh, Shape{G, m.hidden}},
                                   {&w.bias_ih, Shape{G}},
                                   {&w.bias_hh, Shape{G}}})
      if (t->shape() != shape || t->device() != Device::cuda || t->dtype() != DType::f32)
        throw ShapeError("cuDNN LSTM: layer " + std::to_string(l) + " weight " + to_string(t->shape()) +
                         " is not a float32 CUDA tensor " + to_string(shape));
  }
  m.for_each_block(m.weights, [&](int l, int id, float* matrix, float* bias) {
    const LSTMWeights& w = layers[static_cast<std::size_t>(l)];
    const int in = id < 4 ? (l == 0 ? m.input : m.hidden) : m.hidden, gate = id % 4;
    const Tensor& weight = id < 4 ? w.weight_ih : w.weight_hh;
    const Tensor& b = id < 4 ? w.bias_ih : w.bias_hh;
    const std::size_t block = static_cast<std::size_t>(m.hidden) * in;
    check(cudaMemcpy(matrix, weight.data<float>() + gate * block, sizeof(float) * block,
                     cudaMemcpyDeviceToDevice),
          "weights");
    check(cudaMemcpy(bias, b.data<float>() + gate * m.hidden, sizeof(float) * m.hidden,
                     cudaMemcpyDeviceToDevice),
          "biases");
  });
  check(cudaDeviceSynchronize(), "cuDNN weights");  // the sources may be freed as soon as we return
}

void LSTM::enqueue_forward(const Tensor& x, bool training) {
  Impl& m = *impl_;
  if (x.shape() != Shape{m.batch, m.steps, m.input} || x.device() != Device::cuda)
    throw ShapeError("cuDNN LSTM: x " + to_string(x.shape()) + " does not match the configured sizes");
  check(cudnnRNNForward(
            m.handle.value, m.rnn.value, training ? CUDNN_FWD_MODE_TRAINING : CUDNN_FWD_MODE_INFERENCE,
            reinterpret_cast<const int32_t*>(m.seq_lengths.data<float>()), m.x_desc.value, x.data<float>(),
            m.y_desc.value, m.y.data<float>(), m.h_desc.value, nullptr, nullptr, m.h_desc.value, nullptr,
            nullptr, m.weight_bytes, m.weights.data<float>(), m.workspace_bytes, m.workspace.data<float>(),
            m.reserve_bytes, m.reserve.data<float>()),
        "forward");
  m.trained = training;  // backward needs the reserve space of a training forward
}

Tensor LSTM::forward(const Tensor& x, bool training) {
  enqueue_forward(x, training);
  check(cudaDeviceSynchronize(), "cuDNN forward");
  return impl_->y.clone();  // y stays what backward hands to cuDNN
}

void LSTM::enqueue_backward(const Tensor& x, const Tensor& dy) {
  Impl& m = *impl_;
  if (!m.trained) throw std::logic_error("cuDNN LSTM: backward needs a forward with training = true first");
  if (x.shape() != Shape{m.batch, m.steps, m.input} || x.device() != Device::cuda ||
      dy.shape() != Shape{m.batch, m.steps, m.hidden} || dy.device() != Device::cuda)
    throw ShapeError("cuDNN LSTM: backward with x " + to_string(x.shape()) + ", dy " + to_string(dy.shape()) +
                     " (CUDA tensors of the configured sizes expected)");
  const auto* lengths = reinterpret_cast<const int32_t*>(m.seq_lengths.data<float>());
  check(cudnnRNNBackwardData_v8(m.handle.value, m.rnn.value, lengths, m.y_desc.value, m.y.data<float>(),
                                dy.data<float>(), m.x_desc.value, m.dx.data<float>(), m.h_desc.value, nullptr,
                                nullptr, nullptr, m.h_desc.value, nullptr, nullptr, nullptr, m.weight_bytes,
                                m.weights.data<float>(), m.workspace_bytes, m.workspace.data<float>(),
                                m.reserve_bytes, m.reserve.data<float>()),
        "backward data");
  check(cudaMemsetAsync(m.weight_grads.data<float>(), 0, m.weight_bytes), "zero weight gradients");
  check(
      cudnnRNNBackwardWeights_v8(m.handle.value, m.rnn.value, CUDNN_WGRAD_MODE_ADD, lengths, m.x_desc.value,
                                 x.data<float>(), m.h_desc.value, nullptr, m.y_desc.value, m.y.data<float>(),
                                 m.weight_bytes, m.weight_grads.data<float>(), m.workspace_bytes,
                                 m.workspace.data<float>(), m.reserve_bytes, m.reserve.data<float>()),
      "backward weights");
}

LSTM::Gradients LSTM::backward(const Tensor& x, const Tensor& dy) {
  Impl& m = *impl_;
  enqueue_backward(x, dy);
  Gradients g{Tensor::empty(x.shape(), DType::f32, Device::cuda), {}};
  check(cudaMemcpyAsync(g.x.data<float>(), m.dx.data<float>(), sizeof(float) * static_cast<std::size_t>(x.numel()),
                        cudaMemcpyDeviceToDevice),
        "dx");
  const std::int64_t G = 4 * static_cast<std::int64_t>(m.hidden);
  for (int l = 0; l < m.layers; ++l)
    g.weights.push_back({device_zeros({G, l == 0 ? m.input : m.hidden}), device_zeros({G, m.hidden}),
                         device_zeros({G}), device_zeros({G})});
  m.for_each_block(m.weight_grads, [&](int l, int id, float* matrix, float* bias) {
    LSTMWeights& w = g.weights[static_cast<std::size_t>(l)];
    const int in = id < 4 ? (l == 0 ? m.input : m.hidden) : m.hidden, gate = id % 4;
    Tensor& weight = id < 4 ? w.weight_ih : w.weight_hh;
    Tensor& b = id < 4 ? w.bias_ih : w.bias_hh;
    const std::size_t block = static_cast<std::size_t>(m.hidden) * in;
    check(cudaMemcpy(weight.data<float>() + gate * block, matrix, sizeof(float) * block,
                     cudaMemcpyDeviceToDevice),
          "weight gradients");
    check(cudaMemcpy(b.data<float>() + gate * m.hidden, bias, sizeof(float) * m.hidden,
                     cudaMemcpyDeviceToDevice),
          "bias gradients");
  });
  check(cudaDeviceSynchronize(), "cuDNN backward");
  return g;
}

}  // namespace qf::nn::cudnn
