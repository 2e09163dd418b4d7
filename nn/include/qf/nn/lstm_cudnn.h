// cuDNN's LSTM (cudnnRNNForward / cudnnRNNBackwardData_v8 / cudnnRNNBackwardWeights_v8, cuDNN 9) with
// PyTorch's weight layout: the reference our CUDA kernels are checked and benchmarked against. Tensors
// are float32 on Device::cuda, batch-first x [B, T, I], zero initial state. Built only when CMake finds
// cuDNN 9; otherwise available() is false and constructing one throws.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "qf/tensor/tensor.h"

namespace qf::nn::cudnn {

bool available();  // this build links cuDNN

// One layer's parameters, PyTorch shapes: weight_ih [4H, in], weight_hh [4H, H], biases [4H].
struct LSTMWeights {
  Tensor weight_ih, weight_hh, bias_ih, bias_hh;
};

class LSTM {
 public:
  LSTM(std::int64_t input_size, std::int64_t hidden_size, std::int64_t num_layers, std::int64_t batch,
       std::int64_t steps);
  ~LSTM();
  LSTM(const LSTM&) = delete;
  LSTM& operator=(const LSTM&) = delete;

  void set_weights(std::span<const LSTMWeights> layers);
  // y [B, T, H] of the last layer; training keeps what backward needs.
  Tensor forward(const Tensor& x, bool training);
  struct Gradients {
    Tensor x;                          // [B, T, I]
    std::vector<LSTMWeights> weights;  // per layer, same shapes as the weights
  };
  // After forward(x, true): the gradients from dy [B, T, H] (no gradient into h_n, c_n).
  Gradients backward(const Tensor& x, const Tensor& dy);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace qf::nn::cudnn
