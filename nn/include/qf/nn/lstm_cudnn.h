// cuDNN's LSTM (cudnnRNNForward / cudnnRNNBackwardData_v8 / cudnnRNNBackwardWeights_v8, cuDNN 9) with
// PyTorch's weight layout: the reference our CUDA kernels are checked and benchmarked against. Tensors
// are float32 on Device::cuda, batch-first x [B, T, I], zero initial state. Built only when CMake finds
// cuDNN 9; otherwise available() is false and constructing one throws.
//
// Every algorithm cuDNN offers can be asked for, in either math mode, so that a benchmark compares with
// cuDNN at its best rather than with its default: PyTorch itself asks for PERSIST_STATIC_SMALL_H at
// small hidden sizes. The persistent algorithms keep the recurrent weights on chip and answer
// NOT_SUPPORTED outside their limits (the constructor then throws NotSupported).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "qf/tensor/tensor.h"

namespace qf::nn::cudnn {

bool available();  // this build links cuDNN

enum class Algorithm { standard, persist_static, persist_static_small_h, persist_dynamic };
inline constexpr Algorithm kAlgorithms[] = {Algorithm::standard, Algorithm::persist_static,
                                            Algorithm::persist_static_small_h, Algorithm::persist_dynamic};
// fma: float32 multiply-adds only (CUDNN_FMA_MATH), comparable with our float32 kernels at 1e-4.
// tf32: tensor cores allowed on float32 data (CUDNN_DEFAULT_MATH, PyTorch's allow_tf32): faster,
// about 1e-3 relative error.
enum class Math { fma, tf32 };

struct Config {
  Algorithm algorithm = Algorithm::standard;
  Math math = Math::fma;
};
inline std::string to_string(Algorithm algorithm) {
  switch (algorithm) {
    case Algorithm::standard: return "standard";
    case Algorithm::persist_static: return "persist_static";
    case Algorithm::persist_static_small_h: return "persist_static_small_h";
    case Algorithm::persist_dynamic: return "persist_dynamic";
  }
  return "unknown";
}
inline std::string to_string(Math math) {
  return math == Math::fma ? "fma" : "tf32";
}

// cuDNN answered NOT_SUPPORTED for this configuration and shape (a persistent algorithm beyond its
// limits): a benchmark skips it, a caller may fall back to Algorithm::standard.
struct NotSupported : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// One layer's parameters, PyTorch shapes: weight_ih [4H, in], weight_hh [4H, H], biases [4H].
struct LSTMWeights {
  Tensor weight_ih, weight_hh, bias_ih, bias_hh;
};

class LSTM {
 public:
  LSTM(std::int64_t input_size, std::int64_t hidden_size, std::int64_t num_layers, std::int64_t batch,
       std::int64_t steps, Config config = {});
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

  // The cuDNN calls alone, queued on the backend's stream into buffers made by the constructor: no
  // allocation, copy or wait, so that CUDA events around them time cuDNN's kernels and nothing else.
  // enqueue_backward zeroes cuDNN's weight-gradient space (a memset; cuDNN adds into it) and needs an
  // enqueue_forward(x, true) before it. forward / backward are these plus copies out and a sync.
  void enqueue_forward(const Tensor& x, bool training);
  void enqueue_backward(const Tensor& x, const Tensor& dy);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace qf::nn::cudnn
