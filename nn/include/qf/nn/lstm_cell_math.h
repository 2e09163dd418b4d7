// The LSTM cell's pointwise arithmetic for one (batch row, time step), PyTorch gate order i, f, g, o.
// Written once for the CPU path and, through QF_HOST_DEVICE, for CUDA kernels, so the same math is
// unit-tested on the CPU.
#pragma once

#include <cmath>
#include <cstdint>

#ifdef __CUDACC__
#define QF_HOST_DEVICE __host__ __device__
#else
#define QF_HOST_DEVICE
#endif

namespace qf::nn::lstm_math {

template <class T>
QF_HOST_DEVICE inline T sigmoid(T x) {
  return T(1) / (T(1) + std::exp(-x));
}

// gates: [4H] pre-activations on entry, activations (i, f, g, o) on exit (kept for backward).
// c_prev, c, h: [H].
template <class T>
QF_HOST_DEVICE inline void cell_forward(std::int64_t hidden, T* gates, const T* c_prev, T* c, T* h) {
  for (std::int64_t j = 0; j < hidden; ++j) {
    const T i = sigmoid(gates[j]);
    const T f = sigmoid(gates[hidden + j]);
    const T g = std::tanh(gates[2 * hidden + j]);
    const T o = sigmoid(gates[3 * hidden + j]);
    const T cell = f * c_prev[j] + i * g;
    gates[j] = i;
    gates[hidden + j] = f;
    gates[2 * hidden + j] = g;
    gates[3 * hidden + j] = o;
    c[j] = cell;
    h[j] = o * std::tanh(cell);
  }
}

// Backward through one cell. dh: gradient reaching h (from the output and the next step);
// dc: on entry the gradient from the next step's cell, on exit the gradient for c_prev.
// dgates: [4H] gradients of the gate pre-activations.
template <class T>
QF_HOST_DEVICE inline void cell_backward(std::int64_t hidden, const T* gates, const T* c_prev, const T* c,
                                         const T* dh, T* dc, T* dgates) {
  for (std::int64_t j = 0; j < hidden; ++j) {
    const T i = gates[j], f = gates[hidden + j], g = gates[2 * hidden + j], o = gates[3 * hidden + j];
    const T tanh_c = std::tanh(c[j]);
    const T d_cell = dc[j] + dh[j] * o * (T(1) - tanh_c * tanh_c);
    dgates[j] = d_cell * g * i * (T(1) - i);
    dgates[hidden + j] = d_cell * c_prev[j] * f * (T(1) - f);
    dgates[2 * hidden + j] = d_cell * i * (T(1) - g * g);
    dgates[3 * hidden + j] = dh[j] * tanh_c * o * (T(1) - o);
    dc[j] = d_cell * f;
  }
}

}  // namespace qf::nn::lstm_math
