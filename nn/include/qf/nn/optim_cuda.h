// Optimiser steps and gradient clipping on a CUDA device, so that a training step never leaves the
// GPU. Same arithmetic as nn::Adam / nn::AdamW / nn::clip_grad_norm (optim.h), float32 device tensors
// updated in place. In CPU-only builds they throw.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "qf/tensor/tensor.h"

namespace qf::nn::cuda {

struct AdamState {
  double lr = 1e-3, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0.0;
  bool decoupled = false;  // AdamW
  std::int64_t step = 0;   // incremented by adam_step
};

// One Adam(W) step for every (parameter, gradient, m, v) quadruple (all on cuda, same shapes).
void adam_step(AdamState& state, std::span<Tensor> parameters, std::span<const Tensor> gradients,
               std::span<Tensor> m, std::span<Tensor> v);

// Scales the gradients so that their global L2 norm is at most max_norm; returns the norm before.
double clip_grad_norm(std::span<Tensor> gradients, double max_norm);

}  // namespace qf::nn::cuda
