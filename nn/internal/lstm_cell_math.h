// The LSTM cell's pointwise arithmetic for one (batch row, time step), PyTorch gate order i, f, g, o.
// Written once for the CPU path and, through QF_HOST_DEVICE, for CUDA kernels, so the same math is
// unit-tested on the CPU. float on the host uses the vectorisable qf::fast_* functions; the
// buffers of one call never overlap (__restrict__), which lets the loops vectorise.
#pragma once

#include <cmath>
#include <cstdint>

#include "qf/tensor/fast_math.h"

#ifdef __CUDACC__
#define QF_HOST_DEVICE __host__ __device__
#else
#define QF_HOST_DEVICE
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

// One cell element, from the gate pre-activations (i, f, g, o) and c_prev: the activations (kept for
// backward), c, tanh(c) and h. CUDA kernels call this per thread, the CPU per row below. Values in,
// a struct out (no references), which keeps the CPU row loops vectorisable.
template <class T>
struct CellForward {
  T i, f, g, o, c, tanh_c, h;
};
template <class T>
QF_HOST_DEVICE inline CellForward<T> cell_forward_element(T i, T f, T g, T o, T c_prev) {
  CellForward<T> r;
  r.i = sigmoid(i);
  r.f = sigmoid(f);
  r.g = tanh(g);
  r.o = sigmoid(o);
  r.c = r.f * c_prev + r.i * r.g;
  r.tanh_c = tanh(r.c);
  r.h = r.o * r.tanh_c;
  return r;
}

// Backward through one cell element, from the saved activations, c_prev and tanh(c), the gradient dh
// reaching h (output + next step) and dc from the next step's cell: the gate pre-activation
// gradients and the gradient for c_prev.
template <class T>
struct CellBackward {
  T di, df, dg, d_o, dc_prev;
};
template <class T>
QF_HOST_DEVICE inline CellBackward<T> cell_backward_element(T i, T f, T g, T o, T c_prev, T tanh_c, T dh, T dc) {
  const T d_cell = dc + dh * o * (T(1) - tanh_c * tanh_c);
  CellBackward<T> r;
  r.di = d_cell * g * i * (T(1) - i);
  r.df = d_cell * c_prev * f * (T(1) - f);
  r.dg = d_cell * i * (T(1) - g * g);
  r.d_o = dh * tanh_c * o * (T(1) - o);
  r.dc_prev = d_cell * f;
  return r;
}

// Unit j of one row, for the CUDA kernels (one thread per unit): the row's gates [4H] (blocks i, f, g, o)
// pre-activations in, activations out; returns c, tanh(c) and h.
template <class T>
QF_HOST_DEVICE inline CellForward<T> cell_forward_unit(T* gates, std::int64_t hidden, std::int64_t j,
                                                       T c_prev) {
  const CellForward<T> r =
      cell_forward_element(gates[j], gates[hidden + j], gates[2 * hidden + j], gates[3 * hidden + j], c_prev);
  gates[j] = r.i;
  gates[hidden + j] = r.f;
  gates[2 * hidden + j] = r.g;
  gates[3 * hidden + j] = r.o;
  return r;
}
// Unit j's backward, likewise: its four gate gradients into the row's dgates [4H]; returns dc_prev.
template <class T>
QF_HOST_DEVICE inline T cell_backward_unit(const T* gates, std::int64_t hidden, std::int64_t j, T c_prev,
                                           T tanh_c, T dh, T dc, T* dgates) {
  const CellBackward<T> r = cell_backward_element(gates[j], gates[hidden + j], gates[2 * hidden + j],
                                                  gates[3 * hidden + j], c_prev, tanh_c, dh, dc);
  dgates[j] = r.di;
  dgates[hidden + j] = r.df;
  dgates[2 * hidden + j] = r.dg;
  dgates[3 * hidden + j] = r.d_o;
  return r.dc_prev;
}

// A row of H elements; gates: [4H] (blocks i, f, g, o), pre-activations in, activations out.
// c_prev, c, tanh_c, h: [H]. The buffers never overlap (__restrict__), so the loop vectorises.
template <class T>
QF_HOST_DEVICE inline void cell_forward(std::int64_t hidden, T* __restrict__ gates,
                                        const T* __restrict__ c_prev, T* __restrict__ c,
                                        T* __restrict__ tanh_c, T* __restrict__ h) {
  for (std::int64_t j = 0; j < hidden; ++j) {
    const CellForward<T> r = cell_forward_element(gates[j], gates[hidden + j], gates[2 * hidden + j],
                                                  gates[3 * hidden + j], c_prev[j]);
    gates[j] = r.i;
    gates[hidden + j] = r.f;
    gates[2 * hidden + j] = r.g;
    gates[3 * hidden + j] = r.o;
    c[j] = r.c;
    tanh_c[j] = r.tanh_c;
    h[j] = r.h;
  }
}

// Backward through a row; dc: in, from the next step; out, for c_prev. dgates: [4H].
template <class T>
QF_HOST_DEVICE inline void cell_backward(std::int64_t hidden, const T* __restrict__ gates,
                                         const T* __restrict__ c_prev, const T* __restrict__ tanh_c,
                                         const T* __restrict__ dh, T* __restrict__ dc,
                                         T* __restrict__ dgates) {
  for (std::int64_t j = 0; j < hidden; ++j) {
    const CellBackward<T> r =
        cell_backward_element(gates[j], gates[hidden + j], gates[2 * hidden + j], gates[3 * hidden + j],
                              c_prev[j], tanh_c[j], dh[j], dc[j]);
    dgates[j] = r.di;
    dgates[hidden + j] = r.df;
    dgates[2 * hidden + j] = r.dg;
    dgates[3 * hidden + j] = r.d_o;
    dc[j] = r.dc_prev;
  }
}

}  // namespace qf::nn::lstm_math
