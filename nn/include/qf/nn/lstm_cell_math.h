// The LSTM cell's pointwise arithmetic for one (batch row, time step), PyTorch gate order i, f, g, o.
// Written once for the CPU path and, through QF_HOST_DEVICE, for CUDA kernels, so the same math is
// unit-tested on the CPU. float on the host uses the vectorisable qf::fast_* functions; the
// buffers of one call never overlap (__restrict__), which lets the loops vectorise.
#pragma once

#include <cmath>
#include <cstdint>

#ifdef __CUDACC__
#define QF_HOST_DEVICE __host__ __device__
#else
#define QF_HOST_DEVICE
#include "qf/tensor/fast_math.h"
#endif

namespace qf::nn::lstm_math {

QF_HOST_DEVICE inline double sigmoid(double x) {
  return 1.0 / (1.0 + std::exp(-x));
}
QF_HOST_DEVICE inline double tanh(double x) {
  return std::tanh(x);
}
#ifdef __CUDA_ARCH__
__device__ inline float sigmoid(float x) {
  return 1.0f / (1.0f + expf(-x));
}
__device__ inline float tanh(float x) {
  return tanhf(x);
}
#else
inline float sigmoid(float x) {
  return fast_sigmoid(x);
}
inline float tanh(float x) {
  return fast_tanh(x);
}
#endif

// gates: [4H] pre-activations on entry, activations (i, f, g, o) on exit (kept for backward).
// c_prev, c, tanh_c, h: [H]. tanh_c is kept so that backward need not recompute it.
template <class T>
QF_HOST_DEVICE inline void cell_forward(std::int64_t hidden, T* __restrict__ gates,
                                        const T* __restrict__ c_prev, T* __restrict__ c,
                                        T* __restrict__ tanh_c, T* __restrict__ h) {
  for (std::int64_t j = 0; j < hidden; ++j) {
    const T i = sigmoid(gates[j]);
    const T f = sigmoid(gates[hidden + j]);
    const T g = tanh(gates[2 * hidden + j]);
    const T o = sigmoid(gates[3 * hidden + j]);
    const T cell = f * c_prev[j] + i * g;
    const T tc = tanh(cell);
    gates[j] = i;
    gates[hidden + j] = f;
    gates[2 * hidden + j] = g;
    gates[3 * hidden + j] = o;
    c[j] = cell;
    tanh_c[j] = tc;
    h[j] = o * tc;
  }
}

// Backward through one cell. dh: gradient reaching h (from the output and the next step);
// dc: on entry the gradient from the next step's cell, on exit the gradient for c_prev.
// dgates: [4H] gradients of the gate pre-activations.
template <class T>
QF_HOST_DEVICE inline void cell_backward(std::int64_t hidden, const T* __restrict__ gates,
                                         const T* __restrict__ c_prev, const T* __restrict__ tanh_c,
                                         const T* __restrict__ dh, T* __restrict__ dc,
                                         T* __restrict__ dgates) {
  for (std::int64_t j = 0; j < hidden; ++j) {
    const T i = gates[j], f = gates[hidden + j], g = gates[2 * hidden + j], o = gates[3 * hidden + j];
    const T tc = tanh_c[j];
    const T d_cell = dc[j] + dh[j] * o * (T(1) - tc * tc);
    dgates[j] = d_cell * g * i * (T(1) - i);
    dgates[hidden + j] = d_cell * c_prev[j] * f * (T(1) - f);
    dgates[2 * hidden + j] = d_cell * i * (T(1) - g * g);
    dgates[3 * hidden + j] = dh[j] * tc * o * (T(1) - o);
    dc[j] = d_cell * f;
  }
}

}  // namespace qf::nn::lstm_math
