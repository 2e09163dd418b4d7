// The LSTM layer on a CUDA device (forward, inference or training): the same algorithm as the fused
// CPU path (lstm_fused.cpp), with the input projection and the per-step recurrent GEMMs in cuBLAS and
// the gate arithmetic of lstm_cell_math.h in one kernel per step. Tensors are float32 on Device::cuda,
// batch-first: x [B, T, I], h0/c0 [B, H], weights as in PyTorch. In CPU-only builds it throws.
// (The persistent recurrent kernel, multi-model mode and the cuDNN reference: still to come.)
#pragma once

#include "qf/tensor/tensor.h"

namespace qf::nn::cuda {

struct LSTMForwardResult {
  Tensor output;      // [B, T, H]
  Tensor gates;       // [B, T, 4H] activations, kept for backward
  Tensor cells;       // [B, T, H]
  Tensor tanh_cells;  // [B, T, H]
};

LSTMForwardResult lstm_layer_forward(const Tensor& x, const Tensor& h0, const Tensor& c0,
                                     const Tensor& weight_ih, const Tensor& weight_hh, const Tensor& bias_ih,
                                     const Tensor& bias_hh);

struct LSTMGradients {
  Tensor x, h0, c0, weight_ih, weight_hh, bias;  // bias: the gradient of both bias_ih and bias_hh
};

// Backward through the layer from the gradients of its output [B, T, H] and of its last cell state
// [B, H] (may be undefined for zero), given the forward's saved result: BPTT with one cell kernel and
// one GEMM per step, then dx, dW_ih, dW_hh and the bias gradient over all steps at once.
LSTMGradients lstm_layer_backward(const LSTMForwardResult& forward, const Tensor& x, const Tensor& h0,
                                  const Tensor& c0, const Tensor& weight_ih, const Tensor& weight_hh,
                                  const Tensor& grad_output, const Tensor& grad_c_n);

}  // namespace qf::nn::cuda
