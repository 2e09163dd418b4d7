// CPU-only builds: the CUDA LSTM entry point says clearly that there is no backend.
#include <stdexcept>

#include "qf/nn/lstm_cuda.h"
#include "qf/nn/optim_cuda.h"

namespace qf::nn::cuda {

bool persistent_path_fits(std::int64_t, std::int64_t) {
  return false;
}

LSTMForwardResult lstm_layer_forward(const Tensor&, const Tensor&, const Tensor&, const Tensor&,
                                     const Tensor&, const Tensor&, const Tensor&, RecurrentPath) {
  throw std::runtime_error("lstm_layer_forward (CUDA): this build has no CUDA backend (QF_WITH_CUDA=OFF)");
}

LSTMGradients lstm_layer_backward(const LSTMForwardResult&, const Tensor&, const Tensor&, const Tensor&,
                                  const Tensor&, const Tensor&, const Tensor&, const Tensor&, RecurrentPath) {
  throw std::runtime_error("lstm_layer_backward (CUDA): this build has no CUDA backend (QF_WITH_CUDA=OFF)");
}

LSTMForwardResult allocate_forward(std::int64_t, std::int64_t, std::int64_t) {
  throw std::runtime_error("allocate_forward (CUDA): this build has no CUDA backend (QF_WITH_CUDA=OFF)");
}

void enqueue_layer_forward(const Tensor&, const Tensor&, const Tensor&, const Tensor&, const Tensor&,
                           const Tensor&, const Tensor&, LSTMForwardResult&, RecurrentPath) {
  throw std::runtime_error("enqueue_layer_forward (CUDA): this build has no CUDA backend (QF_WITH_CUDA=OFF)");
}

LSTMBackwardBuffers allocate_backward(std::int64_t, std::int64_t, std::int64_t, std::int64_t) {
  throw std::runtime_error("allocate_backward (CUDA): this build has no CUDA backend (QF_WITH_CUDA=OFF)");
}

void enqueue_layer_backward(const LSTMForwardResult&, const Tensor&, const Tensor&, const Tensor&,
                            const Tensor&, const Tensor&, const Tensor&, const Tensor&, LSTMBackwardBuffers&,
                            RecurrentPath) {
  throw std::runtime_error("enqueue_layer_backward (CUDA): this build has no CUDA backend (QF_WITH_CUDA=OFF)");
}

void adam_step(AdamState&, std::span<Tensor>, std::span<const Tensor>, std::span<Tensor>, std::span<Tensor>) {
  throw std::runtime_error("adam_step (CUDA): this build has no CUDA backend (QF_WITH_CUDA=OFF)");
}

double clip_grad_norm(std::span<Tensor>, double) {
  throw std::runtime_error("clip_grad_norm (CUDA): this build has no CUDA backend (QF_WITH_CUDA=OFF)");
}

}  // namespace qf::nn::cuda
