// Builds without cuDNN: the reference LSTM says so clearly.
#include <stdexcept>

#include "qf/nn/lstm_cudnn.h"

namespace qf::nn::cudnn {

struct LSTM::Impl {};

bool available() {
  return false;
}

LSTM::LSTM(std::int64_t, std::int64_t, std::int64_t, std::int64_t, std::int64_t, Config) {
  throw std::runtime_error("cuDNN LSTM: this build has no cuDNN (CMake did not find cuDNN 9)");
}
LSTM::~LSTM() = default;
void LSTM::set_weights(std::span<const LSTMWeights>) {}
Tensor LSTM::forward(const Tensor&, bool) {
  return {};
}
LSTM::Gradients LSTM::backward(const Tensor&, const Tensor&) {
  return {};
}
void LSTM::enqueue_forward(const Tensor&, bool) {}
void LSTM::enqueue_backward(const Tensor&, const Tensor&) {}

}  // namespace qf::nn::cudnn
