// The LSTM layer on a CUDA device (forward, inference or training): the same algorithm as the fused
// CPU path (lstm_fused.cpp): the input projection of all steps as one cuBLAS GEMM, then the recurrence,
// then (backward) dx, dW and db as GEMMs over all steps. The recurrence runs one of two ways:
//  - per step: a cuBLAS GEMM h_{t-1} W_hh^T and one cell kernel per time step (any hidden size): the
//    bias, cell and previous-hidden kernels are those of the multi-model trainer (lstm_multi.h) too;
//  - persistent: one cooperative kernel for all steps, each block holding its slice of W_hh in shared
//    memory throughout, for hidden <= 128 where the grid fits on the device.
// (Kernel internals: nn/internal/lstm_elementwise.h, lstm_persistent.h, lstm_cell_math.h.)
// Tensors are float32 on Device::cuda, batch-first: x [B, T, I], h0/c0 [B, H], weights as in PyTorch.
// In CPU-only builds these throw.
#pragma once

#include "qf/tensor/tensor.h"

namespace qf::nn::cuda {

// automatic: persistent where it fits (persistent_path_fits), per step otherwise. persistent: throws
// std::invalid_argument where it does not fit.
enum class RecurrentPath { automatic, per_step, persistent };

// True when the persistent kernels can run a layer of this batch and hidden size on the current
// device (false without a device, or in CPU-only builds).
bool persistent_path_fits(std::int64_t batch, std::int64_t hidden);

struct LSTMForwardResult {
  Tensor output;      // [B, T, H]
  Tensor gates;       // [B, T, 4H] activations, kept for backward
  Tensor cells;       // [B, T, H]
  Tensor tanh_cells;  // [B, T, H]
};

LSTMForwardResult lstm_layer_forward(const Tensor& x, const Tensor& h0, const Tensor& c0,
                                     const Tensor& weight_ih, const Tensor& weight_hh, const Tensor& bias_ih,
                                     const Tensor& bias_hh, RecurrentPath path = RecurrentPath::automatic);

struct LSTMGradients {
  Tensor x, h0, c0, weight_ih, weight_hh, bias;  // bias: the gradient of both bias_ih and bias_hh
};

// Backward through the layer from the gradients of its output [B, T, H] and of its last cell state
// [B, H] (may be undefined for zero), given the forward's saved result: BPTT (per step: one cell
// kernel and one GEMM per step; persistent: one kernel), then dx, dW_ih, dW_hh and the bias gradient
// over all steps at once.
LSTMGradients lstm_layer_backward(const LSTMForwardResult& forward, const Tensor& x, const Tensor& h0,
                                  const Tensor& c0, const Tensor& weight_ih, const Tensor& weight_hh,
                                  const Tensor& grad_output, const Tensor& grad_c_n,
                                  RecurrentPath path = RecurrentPath::automatic);

// The same work without allocating or waiting, for callers that reuse buffers across calls (a
// benchmark timing the kernels alone with CUDA events, a trainer): allocate_* makes the buffers once,
// enqueue_* queues the kernels on the backend's stream and returns at once. Read the results on the
// host only after qf::cuda::synchronize().
LSTMForwardResult allocate_forward(std::int64_t batch, std::int64_t steps, std::int64_t hidden);
void enqueue_layer_forward(const Tensor& x, const Tensor& h0, const Tensor& c0, const Tensor& weight_ih,
                           const Tensor& weight_hh, const Tensor& bias_ih, const Tensor& bias_hh,
                           LSTMForwardResult& out, RecurrentPath path = RecurrentPath::automatic);

struct LSTMBackwardBuffers {
  LSTMGradients grads;  // what lstm_layer_backward returns
  Tensor dgates;        // [B, T, 4H] scratch
  Tensor h_prev;        // [B, T, H] scratch: h_{t-1} for dW_hh
  Tensor ones;          // [B*T] ones, for the bias gradient as a GEMV
};
LSTMBackwardBuffers allocate_backward(std::int64_t batch, std::int64_t steps, std::int64_t input,
                                      std::int64_t hidden);
void enqueue_layer_backward(const LSTMForwardResult& forward, const Tensor& x, const Tensor& h0,
                            const Tensor& c0, const Tensor& weight_ih, const Tensor& weight_hh,
                            const Tensor& grad_output, const Tensor& grad_c_n, LSTMBackwardBuffers& out,
                            RecurrentPath path = RecurrentPath::automatic);

}  // namespace qf::nn::cuda
