// The LSTM layer's forward recurrence on the CPU as one register-blocked kernel per time step (float32,
// AVX-512 or AVX2): gates_t = [x_t | h_{t-1}] [W_ih | W_hh]^T + b_ih + b_hh is accumulated in
// registers, block by block of rows x (4 gates of kLanes hidden units), and the cell arithmetic runs on
// the accumulators before anything is stored. Compared with one input-projection GEMM over all steps
// plus a GEMM and a pointwise pass per step, the [B, T, 4H] pre-activations never travel through
// memory (at batch 64, hidden 64 they are 4 MB, twice the L2) and no operand is repacked per step.
// Outputs and their layout are those of the plain path in lstm_fused.cpp (activations in `gates`
// for backward); values agree with the composed autodiff reference to float rounding
// (tests/nn/test_layers_gradcheck.cpp, LSTMPaths.FusedEqualsComposedInFloat32AndFloat64).
#pragma once

#include <cstdint>

#include "qf/tensor/simd.h"

namespace qf::nn::lstm_simd {

// True when this build has the kernel (QF_SIMD); otherwise callers use the plain path.
constexpr bool available() {
#ifdef QF_SIMD
  return true;
#else
  return false;
#endif
}

// One layer's [W_ih | W_hh]^T and b_ih + b_hh, packed by unit blocks: panel q holds, for each of the
// I + H input rows, gates i, f, g, o of hidden units [q L, q L + L) (L = simd::kLanes), zero past H.
class PackedLSTMWeights {
 public:
  PackedLSTMWeights(const float* weight_ih, const float* weight_hh, const float* bias_ih,
                    const float* bias_hh, std::int64_t input, std::int64_t hidden);
  std::int64_t input() const { return input_; }
  std::int64_t hidden() const { return hidden_; }
  std::int64_t panels() const { return panels_; }
  const float* panel(std::int64_t q) const;
  const float* bias(std::int64_t q) const;

 private:
  std::int64_t input_, hidden_, panels_;
  simd::AlignedBuffer weights_, bias_;
};

// The layer's buffers as in lstm_fused.cpp: x [B, S, I] batch-first, h0/c0 [B, H]; out, time-major:
// gates [S, B, 4H] (activations i, f, g, o), cells / tanh_cells / hidden [S, B, H].
struct LSTMForwardBuffers {
  std::int64_t batch, steps;
  const float* x;
  const float* h0;
  const float* c0;
  float* gates;
  float* cells;
  float* tanh_cells;
  float* hidden;
};

// Runs all time steps for batch rows [b0, b1). Rows are independent, so threads take disjoint ranges.
void forward_rows(const PackedLSTMWeights& w, const LSTMForwardBuffers& buffers, std::int64_t b0,
                  std::int64_t b1);

}  // namespace qf::nn::lstm_simd
