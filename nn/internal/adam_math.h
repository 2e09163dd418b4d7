// One Adam(W) element update with PyTorch's arithmetic, written once for the CPU optimiser (optim.cpp)
// and, through QF_HOST_DEVICE, the CUDA kernels (optim.cu, lstm_multi.cu): all apply the same
// operations in the same order.
#pragma once

#include <cmath>

#include "lstm_cell_math.h"  // QF_HOST_DEVICE

namespace qf::nn {

// The constants of one step, in the element type.
template <class T>
struct AdamStep {
  T beta1, beta2;
  T step_size;       // lr / (1 - beta1^t)
  T inv_sqrt_bias2;  // 1 / sqrt(1 - beta2^t)
  T eps, weight_decay;
  T decay;         // 1 - lr * weight_decay, for decoupled (AdamW) decay
  bool decoupled;  // AdamW: decay the weight; Adam: add weight_decay * w to the gradient
};

template <class T>
QF_HOST_DEVICE inline void adam_update(const AdamStep<T>& s, T grad, T& w, T& m, T& v) {
  if (s.decoupled) {
    w *= s.decay;
  } else {
    grad += s.weight_decay * w;
  }
  m = s.beta1 * m + (T(1) - s.beta1) * grad;
  v = s.beta2 * v + (T(1) - s.beta2) * grad * grad;
  w -= s.step_size * m / (std::sqrt(v) * s.inv_sqrt_bias2 + s.eps);
}

}  // namespace qf::nn
