// The LSTM's one-thread-per-element CUDA kernels (nn/src/cuda/lstm_elementwise.cu) written as what thread
// k does, in __host__ __device__ functions: the kernels call them on the GPU, and a CPU emulation
// (tests/nn/test_lstm_elementwise.cpp) calls them for every k, so that CI checks their indexing without a
// GPU. The cell arithmetic itself is lstm_cell_math.h.
//
// One layout serves the single-model layer (lstm_forward.cu) and the multi-model trainer
// (lstm_multi.cu): `rows` sequences of `steps` time steps, row-major [rows, steps, ...] on the device,
// with rows = B for one model and rows = N*B for N models side by side (model n's rows n*B .. n*B+B-1);
// per-model parameters are stacked [N, ...] (N = 1: the layer's own). The initial states h0, c0 [rows, H]
// may be null, for zero (the trainer's classifiers start from zero).
#pragma once

#include "lstm_cell_math.h"

namespace qf::nn::cuda {

using Index = long long;

// Element k of gates [rows, G] (rows = N * rows_per_model, flattened over the steps):
// b_ih[n, g] + b_hh[n, g] for the row's model n.
QF_HOST_DEVICE inline void broadcast_bias_element(Index k, Index rows_per_model, int gates,
                                                  const float* bias_ih, const float* bias_hh, float* out) {
  const Index g = k % gates, n = k / gates / rows_per_model;
  out[k] = bias_ih[n * gates + g] + bias_hh[n * gates + g];
}

// Thread k of [rows, H] at step t: row r = k / H, unit j = k % H. Its cell from the gate pre-activations
// (activations written back into gates) and c_{t-1} (c0, or zero, at t = 0): c_t, tanh(c_t), h_t.
QF_HOST_DEVICE inline void cell_forward_thread(Index k, int steps, int hidden, int t, const float* c0,
                                               float* gates, float* cells, float* tanh_cells, float* output) {
  const Index r = k / hidden, j = k % hidden, row = r * steps + t;
  const float c_prev = t == 0 ? (c0 ? c0[r * hidden + j] : 0.0f) : cells[(row - 1) * hidden + j];
  const auto c = lstm_math::cell_forward_unit(gates + row * 4 * hidden, hidden, j, c_prev);
  cells[row * hidden + j] = c.c;
  tanh_cells[row * hidden + j] = c.tanh_c;
  output[row * hidden + j] = c.h;
}

// Thread k of [rows, H] at step t, backward: dh [rows, H] holds the gradient reaching h_t from step t+1
// (or from a head), grad_output [rows, steps, H] (null for none) that of the layer's output; dc [rows, H]
// holds the cell gradient from step t+1 and is replaced by the one for c_{t-1}. Writes the row's four
// gate gradients into dgates.
QF_HOST_DEVICE inline void cell_backward_thread(Index k, int steps, int hidden, int t, const float* c0,
                                                const float* gates, const float* cells,
                                                const float* tanh_cells, const float* grad_output,
                                                const float* dh, float* dc, float* dgates) {
  const Index r = k / hidden, j = k % hidden, row = r * steps + t;
  const float c_prev = t == 0 ? (c0 ? c0[r * hidden + j] : 0.0f) : cells[(row - 1) * hidden + j];
  const float dh_total = dh[r * hidden + j] + (grad_output ? grad_output[row * hidden + j] : 0.0f);
  dc[r * hidden + j] =
      lstm_math::cell_backward_unit(gates + row * 4 * hidden, hidden, j, c_prev, tanh_cells[row * hidden + j],
                                    dh_total, dc[r * hidden + j], dgates + row * 4 * hidden);
}

// Element k of h_prev [rows, steps, H]: h_{t-1} of its row, h0 (or zero) at t = 0, for dW_hh over all
// steps at once.
QF_HOST_DEVICE inline void previous_hidden_element(Index k, int steps, int hidden, const float* h0,
                                                   const float* output, float* h_prev) {
  const Index row = k / hidden;  // of [rows * steps]
  h_prev[k] = row % steps == 0 ? (h0 ? h0[row / steps * hidden + k % hidden] : 0.0f) : output[k - hidden];
}

}  // namespace qf::nn::cuda
