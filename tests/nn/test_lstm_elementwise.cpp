// The LSTM's one-thread-per-element CUDA kernels (nn/internal/lstm_elementwise.h: bias, cell forward and
// backward, previous hidden state) on the CPU, every thread, in both layouts they serve:
//  - one model (lstm_forward.cu's per-step path, with h0 and c0): the whole layer, the cuBLAS products
//    emulated in double, against the fused CPU layer;
//  - N models side by side (lstm_multi.cu: rows n*B.., zero initial state, no output gradient for the
//    top layer): each model's slice equal bit for bit to that model run alone;
// zero states given as null equal zero states given as zeros; and the index formulas equal those of the
// kernels they replaced (lstm_forward.cu's and lstm_multi.cu's own copies, before issue 24).
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "common/lstm_emulation.h"
#include "common/random_tensor.h"
#include "lstm_elementwise.h"

using namespace qf;
using namespace qf::nn::cuda;
using test_support::Floats;
using test_support::unwritten;

namespace {

struct Dims {
  int N, B, S, I, H;
  long long rows() const { return static_cast<long long>(N) * B; }
};

struct Forward {
  Floats gates, cells, tanh_cells, output;  // [rows, S, 4H], [rows, S, H] x 3
};

// lstm_forward.cu's per-step recurrence (lstm_multi.cu's when h0 is null: it skips the product with a
// zero h_{-1}): per step, each row's gates += h_{t-1} W_hh^T of its model, then the cell kernel.
Forward emulate_forward(const Dims& d, const Floats& x, const test_support::StackedWeights& w,
                        const float* h0, const float* c0) {
  const int G = 4 * d.H;
  Forward f{test_support::project_input(d.N, d.B, d.S, d.I, d.H, x, w), unwritten(d.rows() * d.S * d.H),
            unwritten(d.rows() * d.S * d.H), unwritten(d.rows() * d.S * d.H)};
  for (int t = 0; t < d.S; ++t) {
    if (t > 0 || h0)
      for (long long r = 0; r < d.rows(); ++r) {
        const float* h_prev = t == 0 ? h0 + r * d.H : f.output.data() + (r * d.S + t - 1) * d.H;
        test_support::multiply(1, G, d.H, h_prev, d.H, w.w_hh.data() + r / d.B * G * d.H, true,
                               f.gates.data() + (r * d.S + t) * G, G, true);
      }
    for (long long k = 0; k < d.rows() * d.H; ++k)
      cell_forward_thread(k, d.S, d.H, t, c0, f.gates.data(), f.cells.data(), f.tanh_cells.data(),
                          f.output.data());
  }
  return f;
}

struct Backward {
  Floats dgates, dh, dc, h_prev;  // [rows, S, 4H]; [rows, H] x 2 (those of h0, c0); [rows, S, H]
};

// The backward recurrence: per step the cell backward kernel, then dh = dgates_t W_hh of each row's
// model (skipped at t = 0 without h0, as lstm_multi.cu); then the previous-hidden kernel. dh starts as
// the gradient reaching h_{S-1} from above, dc as that of c_{S-1}.
Backward emulate_backward(const Dims& d, const test_support::StackedWeights& w, const Forward& f,
                          const float* h0, const float* c0, const float* grad_output, Floats dh, Floats dc) {
  const int G = 4 * d.H;
  Backward g{unwritten(d.rows() * d.S * G), std::move(dh), std::move(dc), {}};
  for (int t = d.S - 1; t >= 0; --t) {
    for (long long k = 0; k < d.rows() * d.H; ++k)
      cell_backward_thread(k, d.S, d.H, t, c0, f.gates.data(), f.cells.data(), f.tanh_cells.data(),
                           grad_output, g.dh.data(), g.dc.data(), g.dgates.data());
    if (t > 0 || h0)
      for (long long r = 0; r < d.rows(); ++r)
        test_support::multiply(1, d.H, G, g.dgates.data() + (r * d.S + t) * G, G,
                               w.w_hh.data() + r / d.B * G * d.H, false, g.dh.data() + r * d.H, d.H, false);
  }
  g.h_prev = test_support::previous_hidden(d.rows(), d.S, d.H, h0, f.output);
  return g;
}

// Model n's part of a stacked buffer of `per_model` floats a model.
Floats slice(const Floats& v, int n, long long per_model) {
  return {v.begin() + n * per_model, v.begin() + (n + 1) * per_model};
}

Floats random_floats(long long n, std::uint64_t seed) {
  return test_support::values(test_support::random({n}, seed));
}

bool same_bits(const Floats& a, const Floats& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), sizeof(float) * a.size()) == 0;
}

}  // namespace

// One model with h0 and c0, as lstm_forward.cu's per-step path runs it, against the fused CPU layer.
TEST(LSTMElementwiseEmulation, OneModelMatchesTheFusedCpuLayer) {
  const auto check = [](const test_support::LayerShape& s, const test_support::LSTMReference& ref,
                        const test_support::StackedWeights& w) {
    const int B = s.B, H = s.H;
    const Dims d{1, B, s.S, s.I, H};
    const Floats h0 = test_support::values(ref.h0.value()), c0 = test_support::values(ref.c0.value());
    const Forward f = emulate_forward(d, test_support::values(ref.x.value()), w, h0.data(), c0.data());
    const Floats grad_output = test_support::values(ref.w_out);
    const Backward g =
        emulate_backward(d, w, f, h0.data(), c0.data(), grad_output.data(),
                         Floats(static_cast<std::size_t>(B * H), 0.0f), test_support::values(ref.w_c));
    test_support::expect_matches_reference(ref, {f.output, f.cells, g.dgates, g.h_prev, g.dh, g.dc},
                                           s.name());
  };
  test_support::for_each_reference({{3, 7, 5, 16}, {9, 12, 7, 64}, {5, 9, 4, 100}, {2, 4, 3, 129}}, 17,
                                   check);
}

// N models side by side with zero initial state, as lstm_multi.cu runs them (the top layer: the head's
// gradient in dh, no output gradient; a lower layer: dh zero, the upper layer's dx as output gradient):
// every buffer of model n equals, bit for bit, that model run alone.
TEST(LSTMElementwiseEmulation, ModelsSideBySideEqualEachModelAlone) {
  for (const Dims d : {Dims{3, 4, 5, 3, 6}, Dims{2, 1, 3, 2, 9}, Dims{4, 5, 2, 4, 8}})
    for (const bool top_layer : {true, false}) {
      const long long G = 4LL * d.H, model_rows = static_cast<long long>(d.B) * d.S;
      const test_support::StackedWeights w{random_floats(d.N * G * d.I, 1), random_floats(d.N * G * d.H, 2),
                                           random_floats(d.N * G, 3), random_floats(d.N * G, 4)};
      const Floats x = random_floats(d.rows() * d.S * d.I, 5);
      const Floats grad_output = random_floats(d.rows() * d.S * d.H, 6);
      const Floats dh = top_layer ? random_floats(d.rows() * d.H, 7) : Floats(d.rows() * d.H, 0.0f);
      const Forward all = emulate_forward(d, x, w, nullptr, nullptr);
      const Backward all_grads =
          emulate_backward(d, w, all, nullptr, nullptr, top_layer ? nullptr : grad_output.data(), dh,
                           Floats(d.rows() * d.H, 0.0f));
      for (int n = 0; n < d.N; ++n) {
        const Dims one{1, d.B, d.S, d.I, d.H};
        const test_support::StackedWeights wn{slice(w.w_ih, n, G * d.I), slice(w.w_hh, n, G * d.H),
                                              slice(w.b_ih, n, G), slice(w.b_hh, n, G)};
        const Forward alone = emulate_forward(one, slice(x, n, model_rows * d.I), wn, nullptr, nullptr);
        const Floats alone_grad_output = slice(grad_output, n, model_rows * d.H);
        const Backward alone_grads =
            emulate_backward(one, wn, alone, nullptr, nullptr, top_layer ? nullptr : alone_grad_output.data(),
                             slice(dh, n, d.B * d.H), Floats(static_cast<std::size_t>(d.B * d.H), 0.0f));
        const std::string what = "model " + std::to_string(n) + " of " + std::to_string(d.N) +
                                 (top_layer ? ", top layer" : ", lower layer");
        EXPECT_TRUE(same_bits(slice(all.gates, n, model_rows * G), alone.gates)) << "gates, " << what;
        EXPECT_TRUE(same_bits(slice(all.cells, n, model_rows * d.H), alone.cells)) << "cells, " << what;
        EXPECT_TRUE(same_bits(slice(all.tanh_cells, n, model_rows * d.H), alone.tanh_cells)) << what;
        EXPECT_TRUE(same_bits(slice(all.output, n, model_rows * d.H), alone.output)) << "output, " << what;
        EXPECT_TRUE(same_bits(slice(all_grads.dgates, n, model_rows * G), alone_grads.dgates)) << what;
        EXPECT_TRUE(same_bits(slice(all_grads.dh, n, d.B * d.H), alone_grads.dh)) << "dh, " << what;
        EXPECT_TRUE(same_bits(slice(all_grads.dc, n, d.B * d.H), alone_grads.dc)) << "dc, " << what;
        EXPECT_TRUE(same_bits(slice(all_grads.h_prev, n, model_rows * d.H), alone_grads.h_prev)) << what;
      }
    }
}

// A null h0 / c0 (lstm_multi.cu) is the zero state (lstm_forward.cu given zeros), value for value.
TEST(LSTMElementwiseEmulation, NullStatesEqualZeroStates) {
  const Dims d{1, 5, 6, 3, 7};
  const long long G = 4LL * d.H;
  const test_support::StackedWeights w{random_floats(G * d.I, 11), random_floats(G * d.H, 12),
                                       random_floats(G, 13), random_floats(G, 14)};
  const Floats x = random_floats(d.rows() * d.S * d.I, 15), zeros(static_cast<std::size_t>(d.B * d.H), 0.0f);
  const Floats grad_output = random_floats(d.rows() * d.S * d.H, 16), dc_n = random_floats(d.B * d.H, 17);
  const Forward null_state = emulate_forward(d, x, w, nullptr, nullptr);
  const Forward zero_state = emulate_forward(d, x, w, zeros.data(), zeros.data());
  const Backward null_grads =
      emulate_backward(d, w, null_state, nullptr, nullptr, grad_output.data(), zeros, dc_n);
  const Backward zero_grads =
      emulate_backward(d, w, zero_state, zeros.data(), zeros.data(), grad_output.data(), zeros, dc_n);
  EXPECT_EQ(null_state.output, zero_state.output);
  EXPECT_EQ(null_state.cells, zero_state.cells);
  EXPECT_EQ(null_grads.dgates, zero_grads.dgates);
  EXPECT_EQ(null_grads.dc, zero_grads.dc);
  EXPECT_EQ(null_grads.h_prev, zero_grads.h_prev);
}

// The element each thread reads and writes, against the formulas of the kernels these replaced: tracer
// buffers hold their own indices, so a value read names its source. Bias: lstm_forward.cu's
// b_ih[k % G] + b_hh[k % G] (one model) and lstm_multi.cu's model offset; previous hidden:
// lstm_forward.cu's t == 0 ? h0[b H + j] : output[(row - 1) H + j] and lstm_multi.cu's
// t == 0 ? 0 : output[k - H].
TEST(LSTMElementwiseEmulation, IndicesEqualTheFormerKernels) {
  for (const Dims d : {Dims{1, 3, 4, 1, 5}, Dims{3, 2, 5, 1, 4}, Dims{1, 7, 1, 1, 3}}) {
    const long long G = 4LL * d.H, model_rows = static_cast<long long>(d.B) * d.S, rows = d.rows();
    const auto tracer = [](long long n, float first) {
      Floats v(static_cast<std::size_t>(n));
      for (long long i = 0; i < n; ++i) v[static_cast<std::size_t>(i)] = first + static_cast<float>(i);
      return v;
    };
    const Floats b_ih = tracer(d.N * G, 0.0f), b_hh = tracer(d.N * G, 0.0f);
    Floats gates = unwritten(rows * d.S * G);
    for (long long k = 0; k < rows * d.S * G; ++k)
      broadcast_bias_element(k, model_rows, static_cast<int>(G), b_ih.data(), b_hh.data(), gates.data());
    for (long long k = 0; k < rows * d.S * G; ++k) {
      const long long g = k % G, n = k / G / model_rows;
      ASSERT_EQ(gates[static_cast<std::size_t>(k)], 2.0f * static_cast<float>(n * G + g)) << k;
      if (d.N == 1) {
        ASSERT_EQ(n * G + g, static_cast<int>(k) % static_cast<int>(G)) << k;
      }
    }
    const Floats output = tracer(rows * d.S * d.H, 0.0f), h0 = tracer(rows * d.H, -1000.0f);
    const Floats with_h0 = test_support::previous_hidden(rows, d.S, d.H, h0.data(), output);
    const Floats without = test_support::previous_hidden(rows, d.S, d.H, nullptr, output);
    for (long long k = 0; k < rows * d.S * d.H; ++k) {
      const long long row = k / d.H, t = row % d.S, b = row / d.S, j = k % d.H;
      const auto at = static_cast<std::size_t>(k);
      ASSERT_EQ(with_h0[at], t == 0 ? h0[static_cast<std::size_t>(b * d.H + j)]
                                    : output[static_cast<std::size_t>((row - 1) * d.H + j)])
          << k;
      ASSERT_EQ(without[at], t == 0 ? 0.0f : output[static_cast<std::size_t>(k - d.H)]) << k;
    }
  }
}
