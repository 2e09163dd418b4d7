// The launchers of the LSTM's one-thread-per-element kernels (lstm_elementwise.cu), for the single-model
// layer (lstm_forward.cu, rows = B) and the multi-model trainer (lstm_multi.cu, rows = N*B): the layout
// and what each thread does are in lstm_elementwise.h. Each queues one kernel on the legacy default
// stream and checks its launch.
#pragma once

namespace qf::nn::cuda::elementwise {

// gates [rows, G] (rows flattened over the steps) = b_ih + b_hh of each row's model; bias_ih, bias_hh
// [rows / rows_per_model, G].
void broadcast_bias(long long rows, long long rows_per_model, int gates, const float* bias_ih,
                    const float* bias_hh, float* out);

// Step t's cells of every row: gates [rows, steps, 4H] (pre-activations in, activations out), cells,
// tanh_cells, output [rows, steps, H] out; c0 [rows, H] or null for zero.
void cell_forward(long long rows, int steps, int hidden, int t, const float* c0, float* gates, float* cells,
                  float* tanh_cells, float* output);

// Step t's cell backward of every row: dgates [rows, steps, 4H] out at step t; dh [rows, H] the gradient
// reaching h_t from above; grad_output [rows, steps, H] or null; dc [rows, H] in (from step t+1) and out
// (for c_{t-1}).
void cell_backward(long long rows, int steps, int hidden, int t, const float* c0, const float* gates,
                   const float* cells, const float* tanh_cells, const float* grad_output, const float* dh,
                   float* dc, float* dgates);

// h_prev [rows, steps, H] = h_{t-1} of each step (h0 [rows, H] at t = 0, or zero when h0 is null).
void previous_hidden(long long rows, int steps, int hidden, const float* h0, const float* output,
                     float* h_prev);

}  // namespace qf::nn::cuda::elementwise
