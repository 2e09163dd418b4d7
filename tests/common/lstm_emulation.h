// What the CPU emulations of the CUDA LSTM kernels (test_lstm_persistent, test_lstm_elementwise) share:
// the work lstm_forward.cu queues around the recurrence, emulated on the CPU (the bias kernel, thread by
// thread; the cuBLAS products, summed in double and rounded once; the previous-hidden kernel), and the
// comparison of an emulated layer with the fused CPU layer (LSTMReference). Buffers are the kernels':
// batch-first float32, rows of N models side by side ([N*B, S, ...]), parameters stacked [N, ...].
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <initializer_list>
#include <limits>
#include <string>
#include <vector>

#include "common/compare.h"
#include "common/lstm_reference.h"
#include "lstm_elementwise.h"

namespace qf::test_support {

using Floats = std::vector<float>;

inline Floats values(const Tensor& t) {
  const auto s = t.span<float>();
  return {s.begin(), s.end()};
}

// n floats that fail every comparison until written.
inline Floats unwritten(long long n) {
  return Floats(static_cast<std::size_t>(n), std::numeric_limits<float>::quiet_NaN());
}

// c [m, n] (row stride ldc) = (accumulate ? c : 0) + a [m, k] (row stride lda) b^T, with b [n, k]
// (b_transposed) or b [k, n]: what the cuBLAS calls compute, summed in double.
inline void multiply(int m, int n, int k, const float* a, long long lda, const float* b, bool b_transposed,
                     float* c, long long ldc, bool accumulate) {
  for (int r = 0; r < m; ++r)
    for (int col = 0; col < n; ++col) {
      double sum = accumulate ? c[r * ldc + col] : 0.0;
      for (int i = 0; i < k; ++i)
        sum += static_cast<double>(a[r * lda + i]) * (b_transposed ? b[col * k + i] : b[i * n + col]);
      c[r * ldc + col] = static_cast<float>(sum);
    }
}

// One layer's parameters for N models, stacked [N, ...] (N = 1: the layer's own).
struct StackedWeights {
  Floats w_ih, w_hh, b_ih, b_hh;  // [N, 4H, I], [N, 4H, H], [N, 4H] x 2
};

inline StackedWeights weights_of(const nn::RNNLayer& layer) {
  return {values(layer.weight_ih.value()), values(layer.weight_hh.value()), values(layer.bias_ih.value()),
          values(layer.bias_hh.value())};
}

struct LayerShape {
  int B, S, I, H;
  std::string name() const {
    return std::to_string(B) + "x" + std::to_string(S) + "x" + std::to_string(I) + "x" + std::to_string(H);
  }
};

// check(shape, reference, its weights) for the reference layer of each shape, seeded seed_scale * B + H.
template <class Check>
void for_each_reference(std::initializer_list<LayerShape> shapes, int seed_scale, Check check) {
  for (const LayerShape& s : shapes) {
    const LSTMReference ref(s.B, s.S, s.I, s.H, static_cast<std::uint64_t>(s.B * seed_scale + s.H));
    check(s, ref, weights_of(ref.layer()));
  }
}

// The gate pre-activations before the recurrence, [N*B, S, 4H]: the bias kernel for every thread, then
// each model's input projection x_n W_ih_n^T added on top (the GEMM with beta = 1).
inline Floats project_input(int N, int B, int S, int I, int H, const Floats& x, const StackedWeights& w) {
  const long long G = 4LL * H, model_rows = static_cast<long long>(B) * S;
  Floats gates = unwritten(N * model_rows * G);
  for (long long k = 0; k < N * model_rows * G; ++k)
    nn::cuda::broadcast_bias_element(k, model_rows, static_cast<int>(G), w.b_ih.data(), w.b_hh.data(),
                                     gates.data());
  for (int n = 0; n < N; ++n)
    multiply(static_cast<int>(model_rows), static_cast<int>(G), I, x.data() + n * model_rows * I, I,
             w.w_ih.data() + n * G * I, true, gates.data() + n * model_rows * G, G, true);
  return gates;
}

// h_prev [rows, S, H] from the previous-hidden kernel, every thread.
inline Floats previous_hidden(long long rows, int S, int H, const float* h0, const Floats& output) {
  Floats h_prev = unwritten(rows * S * H);
  for (long long k = 0; k < rows * S * H; ++k)
    nn::cuda::previous_hidden_element(k, S, H, h0, output.data(), h_prev.data());
  return h_prev;
}

// An emulated single-model layer's results, held to the reference below.
struct EmulatedLayer {
  Floats output, cells;  // [B, S, H]
  Floats dgates;         // [B, S, 4H]
  Floats h_prev;         // [B, S, H]: what the previous-hidden kernel gives dW_hh
  Floats dh0, dc0;       // [B, H]
};

// Forward output and c_n; backward dh0, dc0, and db / dW_ih / dW_hh summed in double from the emulated
// dgates and h_prev (as lstm_forward.cu's GEMMs do after the recurrence).
inline void expect_matches_reference(const LSTMReference& ref, const EmulatedLayer& e,
                                     const std::string& what) {
  const int B = static_cast<int>(ref.x.value().dim(0)), S = static_cast<int>(ref.x.value().dim(1)),
            I = static_cast<int>(ref.x.value().dim(2)), H = static_cast<int>(ref.h0.value().dim(1)),
            G = 4 * H;
  const auto as_tensor = [](const auto& v, const Tensor& like) {
    Tensor t = Tensor::empty(like.shape());
    for (std::size_t i = 0; i < v.size(); ++i) t.span<float>()[i] = static_cast<float>(v[i]);
    return t;
  };
  const auto error = [&](const auto& got, const Tensor& want) {  // values of order 1
    return max_relative_error(as_tensor(got, want), want, 1e-3);
  };
  const auto gradient_error = [&](const auto& got, const Tensor& want) {  // sums over B x S terms
    return scaled_relative_error(as_tensor(got, want), want);
  };
  EXPECT_LT(error(e.output, ref.out.output.value()), 1e-4) << "output " << what;
  Floats last_cells(static_cast<std::size_t>(B * H));
  for (int b = 0; b < B; ++b)
    for (int j = 0; j < H; ++j)
      last_cells[static_cast<std::size_t>(b * H + j)] =
          e.cells[static_cast<std::size_t>((b * S + S - 1) * H + j)];
  EXPECT_LT(error(last_cells, ref.out.c_n.value()), 1e-4) << "c_n " << what;
  EXPECT_LT(gradient_error(e.dh0, ref.h0.grad()), 1e-4) << "dh0 " << what;
  EXPECT_LT(gradient_error(e.dc0, ref.c0.grad()), 1e-4) << "dc0 " << what;
  // Summed in double: the reference's own rounding stays out of the comparison.
  const Floats xs = values(ref.x.value());
  std::vector<double> db(static_cast<std::size_t>(G), 0.0), dw_ih(static_cast<std::size_t>(G * I), 0.0),
      dw_hh(static_cast<std::size_t>(G * H), 0.0);
  for (int row = 0; row < B * S; ++row)
    for (int gate = 0; gate < G; ++gate) {
      const double d = e.dgates[static_cast<std::size_t>(row * G + gate)];
      db[static_cast<std::size_t>(gate)] += d;
      for (int k = 0; k < I; ++k)
        dw_ih[static_cast<std::size_t>(gate * I + k)] += d * xs[static_cast<std::size_t>(row * I + k)];
      for (int k = 0; k < H; ++k)
        dw_hh[static_cast<std::size_t>(gate * H + k)] += d * e.h_prev[static_cast<std::size_t>(row * H + k)];
    }
  const nn::RNNLayer& layer = ref.layer();
  EXPECT_LT(gradient_error(db, layer.bias_ih.grad()), 1e-4) << "db " << what;
  EXPECT_LT(gradient_error(dw_ih, layer.weight_ih.grad()), 1e-4) << "dW_ih " << what;
  EXPECT_LT(gradient_error(dw_hh, layer.weight_hh.grad()), 1e-4) << "dW_hh " << what;
}

}  // namespace qf::test_support
