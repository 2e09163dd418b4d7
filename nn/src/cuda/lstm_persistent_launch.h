// The persistent recurrent kernels' launchers (lstm_persistent.cu), for lstm_forward.cu: the whole recurrence
// of a layer, forward or backward, in one cooperative launch, W_hh held in shared memory across all steps.
// Buffers are lstm_forward.cu's: batch-first [B, S, ...] on the device, float32.
#pragma once

namespace qf::nn::cuda::persistent {

// True when the current device can run both kernels for this shape: hidden <= kPersistentMaxHidden,
// cooperative launch supported, and every block of each grid resident at once (what a grid-wide sync
// needs). Queried once per (batch, hidden) and device.
bool fits(int batch, int hidden);

// gates [B, S, 4H]: pre-activations of the input projection (x W_ih^T + b_ih + b_hh) in, activations
// out; cells, tanh_cells, output [B, S, H] out.
void forward(int batch, int steps, int hidden, const float* weight_hh, const float* h0, const float* c0,
             float* gates, float* cells, float* tanh_cells, float* output);

// From the saved activations and grad_output [B, S, H]: dgates [B, S, 4H] out; dh [B, H] out (the
// gradient of h0); dc [B, H] in (the gradient of c_n) and out (that of c0).
void backward(int batch, int steps, int hidden, const float* weight_hh, const float* c0, const float* gates,
              const float* cells, const float* tanh_cells, const float* grad_output, float* dh, float* dc,
              float* dgates);

}  // namespace qf::nn::cuda::persistent
