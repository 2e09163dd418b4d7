// The LSTM's one-thread-per-element kernels, one implementation for the single-model layer and the
// multi-model trainer: each kernel runs thread k's body from lstm_elementwise.h (checked on the CPU by
// tests/nn/test_lstm_elementwise.cpp).
#include <cuda_runtime.h>

#include "cuda_util.h"
#include "lstm_elementwise.h"
#include "lstm_elementwise_launch.h"

namespace qf::nn::cuda {

namespace {

__device__ Index thread_index() {
  return static_cast<Index>(blockIdx.x) * blockDim.x + threadIdx.x;
}

__global__ void broadcast_bias_kernel(Index total, Index rows_per_model, int gates, const float* bias_ih,
                                      const float* bias_hh, float* out) {
  if (const Index k = thread_index(); k < total)
    broadcast_bias_element(k, rows_per_model, gates, bias_ih, bias_hh, out);
}

__global__ void cell_forward_kernel(Index total, int steps, int hidden, int t, const float* c0, float* gates,
                                    float* cells, float* tanh_cells, float* output) {
  if (const Index k = thread_index(); k < total)
    cell_forward_thread(k, steps, hidden, t, c0, gates, cells, tanh_cells, output);
}

__global__ void cell_backward_kernel(Index total, int steps, int hidden, int t, const float* c0,
                                     const float* gates, const float* cells, const float* tanh_cells,
                                     const float* grad_output, const float* dh, float* dc, float* dgates) {
  if (const Index k = thread_index(); k < total)
    cell_backward_thread(k, steps, hidden, t, c0, gates, cells, tanh_cells, grad_output, dh, dc, dgates);
}

__global__ void previous_hidden_kernel(Index total, int steps, int hidden, const float* h0,
                                       const float* output, float* h_prev) {
  if (const Index k = thread_index(); k < total)
    previous_hidden_element(k, steps, hidden, h0, output, h_prev);
}

}  // namespace

namespace elementwise {

void broadcast_bias(Index rows, Index rows_per_model, int gates, const float* bias_ih, const float* bias_hh,
                    float* out) {
  const Index total = rows * gates;
  broadcast_bias_kernel<<<blocks(total), kThreads>>>(total, rows_per_model, gates, bias_ih, bias_hh, out);
  check_launch("bias kernel");
}

void cell_forward(Index rows, int steps, int hidden, int t, const float* c0, float* gates, float* cells,
                  float* tanh_cells, float* output) {
  const Index total = rows * hidden;
  cell_forward_kernel<<<blocks(total), kThreads>>>(total, steps, hidden, t, c0, gates, cells, tanh_cells,
                                                   output);
  check_launch("cell kernel");
}

void cell_backward(Index rows, int steps, int hidden, int t, const float* c0, const float* gates,
                   const float* cells, const float* tanh_cells, const float* grad_output, const float* dh,
                   float* dc, float* dgates) {
  const Index total = rows * hidden;
  cell_backward_kernel<<<blocks(total), kThreads>>>(total, steps, hidden, t, c0, gates, cells, tanh_cells,
                                                    grad_output, dh, dc, dgates);
  check_launch("cell backward kernel");
}

void previous_hidden(Index rows, int steps, int hidden, const float* h0, const float* output, float* h_prev) {
  const Index total = rows * steps * hidden;
  previous_hidden_kernel<<<blocks(total), kThreads>>>(total, steps, hidden, h0, output, h_prev);
  check_launch("previous hidden kernel");
}

}  // namespace elementwise

}  // namespace qf::nn::cuda
