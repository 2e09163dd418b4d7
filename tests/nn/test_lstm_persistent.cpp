// The persistent recurrent CUDA kernels (qf/nn/lstm_persistent.h) on the CPU, the part CI can check
// without a GPU. The launch geometry, for shapes the tiles divide and shapes they do not: every (batch
// row, hidden unit) is owned by exactly one thread of one block; the W_hh slice layouts are one-to-one
// and keep the float4 reads aligned; staged rows stay within the tile; a block fits the default 48 KB
// of shared memory and 1024 threads. And the kernels' own per-thread steps, run for every thread of
// every block in the kernels' phase order, against the fused CPU layer (forward values, and every
// gradient backward).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "common/compare.h"
#include "common/lstm_reference.h"
#include "common/random_tensor.h"
#include "qf/nn/lstm_persistent.h"
#include "qf/nn/rnn.h"

using namespace qf;
using namespace qf::nn::cuda;
using test_support::random;

namespace {

constexpr int kShapes[][2] = {{1, 1}, {3, 7}, {8, 8}, {33, 100}, {64, 64}, {64, 128}, {257, 128}, {256, 65}};

}  // namespace

TEST(LSTMPersistentPlan, EveryCellHasExactlyOneThread) {
  for (const bool backward : {false, true})
    for (const auto& [batch, hidden] : kShapes) {
      const PersistentPlan p = plan_persistent(batch, hidden, backward);
      std::vector<int> owners(static_cast<std::size_t>(batch * hidden), 0);
      for (int bx = 0; bx < p.blocks_x; ++bx)
        for (int by = 0; by < p.blocks_y; ++by)
          for (int thread = 0; thread < p.threads; ++thread) {
            const PersistentCell c = persistent_cell(p, bx, by, thread);
            ASSERT_LT(c.local_row, p.rows_per_block);
            ASSERT_LT(c.local_unit, kPersistentUnits);
            // The staged tile row a thread reads belongs to its own batch row.
            ASSERT_EQ(c.b, by * p.rows_per_block + c.local_row);
            if (!c.active) continue;
            ASSERT_GE(c.b, 0);
            ASSERT_LT(c.b, batch);
            ASSERT_GE(c.j, 0);
            ASSERT_LT(c.j, hidden);
            ++owners[static_cast<std::size_t>(c.b * hidden + c.j)];
          }
      for (std::size_t k = 0; k < owners.size(); ++k)
        ASSERT_EQ(owners[k], 1) << "batch " << batch << " hidden " << hidden << " backward " << backward
                                << ": cell " << k;
    }
}

TEST(LSTMPersistentPlan, WeightSlicesAreOneToOneAndAligned) {
  for (const auto& [batch, hidden] : kShapes) {
    const PersistentPlan p = plan_persistent(batch, hidden, false);
    std::set<int> forward, backward;
    for (int k = 0; k < hidden; ++k)
      for (int u = 0; u < kPersistentUnits; ++u) {
        ASSERT_EQ(forward_weight_index(k, 0, u) % 4, 0) << "a float4 read of the four gates must be aligned";
        for (int gate = 0; gate < 4; ++gate) {
          const int i = forward_weight_index(k, gate, u);
          ASSERT_EQ(i, forward_weight_index(k, 0, u) + gate);  // the four gates of (k, u) side by side
          ASSERT_TRUE(i >= 0 && i < p.weight_floats);
          forward.insert(i);
        }
      }
    for (int gate_row = 0; gate_row < 4 * hidden; ++gate_row)
      for (int u = 0; u < kPersistentUnits; ++u) {
        const int i = backward_weight_index(gate_row, u);
        ASSERT_TRUE(i >= 0 && i < p.weight_floats);
        // gate rows 4q .. 4q + 3 of a unit side by side, from an aligned start
        ASSERT_EQ(i, backward_weight_index(gate_row - gate_row % 4, u) + gate_row % 4);
        ASSERT_EQ(backward_weight_index(gate_row - gate_row % 4, u) % 4, 0);
        backward.insert(i);
      }
    EXPECT_EQ(static_cast<int>(forward.size()), p.weight_floats) << "hidden " << hidden;
    EXPECT_EQ(static_cast<int>(backward.size()), p.weight_floats) << "hidden " << hidden;
  }
}

TEST(LSTMPersistentPlan, StagedTilesFitAndBlocksFitTheDevice) {
  for (int hidden = 1; hidden <= kPersistentMaxHidden; ++hidden)
    for (const bool backward : {false, true}) {
      const PersistentPlan p = plan_persistent(64, hidden, backward);
      const int row_floats = backward ? 4 * hidden : hidden;
      EXPECT_GE(p.stage_stride, row_floats);  // a staged row never runs into the next
      EXPECT_EQ(p.stage_floats, p.rows_per_block * p.stage_stride);
      if (backward) {  // float4 reads of every staged row start 16-byte aligned
        EXPECT_EQ(p.stage_stride % 4, 0);
        EXPECT_EQ(p.weight_floats % 4, 0);
      }
      EXPECT_LE(p.shared_bytes(), 48 * 1024) << "hidden " << hidden << " backward " << backward;
      EXPECT_LE(p.threads, 1024);
      EXPECT_EQ(p.threads % 32, 0) << "whole warps";
    }
}

namespace {

// The layer's buffers as the kernels see them (batch-first, float32).
struct Layer {
  int B, S, I, H;
  std::vector<float> w_hh, h0, c0;
  std::vector<float> gates;  // forward: pre-activations in (x W_ih^T + b_ih + b_hh), activations out
  std::vector<float> cells, tanh_cells, output;
};

std::vector<float> values(const Tensor& t) {
  const auto s = t.span<float>();
  return {s.begin(), s.end()};
}

// Blocks in a different order at every step: within a step nothing orders one block's phases against
// another's on the GPU, so no result may depend on that order.
std::vector<std::pair<int, int>> shuffled_blocks(const PersistentPlan& p, std::mt19937& order) {
  std::vector<std::pair<int, int>> blocks;
  for (int x = 0; x < p.blocks_x; ++x)
    for (int y = 0; y < p.blocks_y; ++y) blocks.emplace_back(x, y);
  std::shuffle(blocks.begin(), blocks.end(), order);
  return blocks;
}

// forward_kernel, one block and one thread at a time: each block's shared memory is its own vector;
// `__syncthreads()` separates a block's staging from its cells; a grid sync, the steps.
void emulate_forward(Layer& l) {
  const PersistentPlan p = plan_persistent(l.B, l.H, false);
  std::vector<std::vector<float>> shared(
      static_cast<std::size_t>(p.blocks()),
      std::vector<float>(static_cast<std::size_t>(p.weight_floats + p.stage_floats)));
  auto memory = [&](int x, int y) { return shared[static_cast<std::size_t>(x * p.blocks_y + y)].data(); };
  for (int x = 0; x < p.blocks_x; ++x)
    for (int y = 0; y < p.blocks_y; ++y)
      for (int i = 0; i < p.weight_floats; ++i) forward_load_weight(p, x, i, l.w_hh.data(), memory(x, y));
  std::mt19937 order(7);
  for (int t = 0; t < l.S; ++t)
    for (const auto& [x, y] : shuffled_blocks(p, order)) {
      float* w = memory(x, y);
      float* h_prev = w + p.weight_floats;
      for (int i = 0; i < p.rows_per_block * p.hidden; ++i)
        forward_stage(p, y, i, t, l.S, l.h0.data(), l.output.data(), h_prev);
      for (int thread = 0; thread < p.threads; ++thread)
        forward_cell(p, persistent_cell(p, x, y, thread), t, l.S, w, h_prev, l.c0.data(), l.gates.data(),
                     l.cells.data(), l.tanh_cells.data(), l.output.data());
    }
}

struct Gradients {
  std::vector<float> dgates, dh0, dc0;
};

// backward_kernel likewise; dh_t and dc_t live in each thread's registers: one slot per thread here.
Gradients emulate_backward(const Layer& l, const std::vector<float>& grad_output,
                           const std::vector<float>& grad_c_n) {
  const PersistentPlan p = plan_persistent(l.B, l.H, true);
  const auto blocks = static_cast<std::size_t>(p.blocks()), threads = static_cast<std::size_t>(p.threads);
  std::vector<std::vector<float>> shared(
      blocks, std::vector<float>(static_cast<std::size_t>(p.weight_floats + p.stage_floats)));
  std::vector<float> dh(blocks * threads, 0.0f), dc(blocks * threads, 0.0f);
  Gradients g{std::vector<float>(static_cast<std::size_t>(l.B * l.S * 4 * l.H), 0.0f),
              std::vector<float>(static_cast<std::size_t>(l.B * l.H), 0.0f),
              std::vector<float>(static_cast<std::size_t>(l.B * l.H), 0.0f)};
  auto block_index = [&](int x, int y) { return static_cast<std::size_t>(x * p.blocks_y + y); };
  for (int x = 0; x < p.blocks_x; ++x)
    for (int y = 0; y < p.blocks_y; ++y) {
      for (int i = 0; i < p.weight_floats; ++i)
        backward_load_weight(p, x, i, l.w_hh.data(), shared[block_index(x, y)].data());
      for (int thread = 0; thread < p.threads; ++thread)
        if (const PersistentCell c = persistent_cell(p, x, y, thread); c.active)
          dc[block_index(x, y) * threads + static_cast<std::size_t>(thread)] =
              grad_c_n[static_cast<std::size_t>(c.b * l.H + c.j)];
    }
  std::mt19937 order(11);
  for (int t = l.S - 1; t >= -1; --t)
    for (const auto& [x, y] : shuffled_blocks(p, order)) {
      float* w = shared[block_index(x, y)].data();
      float* stage = w + p.weight_floats;
      if (t < l.S - 1)
        for (int i = 0; i < p.rows_per_block * 4 * p.hidden; ++i)
          backward_stage(p, y, i, t, l.S, g.dgates.data(), stage);
      for (int thread = 0; thread < p.threads; ++thread) {
        const PersistentCell c = persistent_cell(p, x, y, thread);
        const std::size_t slot = block_index(x, y) * threads + static_cast<std::size_t>(thread);
        dh[slot] = t < l.S - 1 ? backward_recurrent_dh(p, c, w, stage) : 0.0f;
        if (t >= 0)
          dc[slot] =
              backward_cell(p, c, t, l.S, l.c0.data(), l.gates.data(), l.cells.data(), l.tanh_cells.data(),
                            grad_output.data(), dh[slot], dc[slot], g.dgates.data());
      }
    }
  for (int x = 0; x < p.blocks_x; ++x)
    for (int y = 0; y < p.blocks_y; ++y)
      for (int thread = 0; thread < p.threads; ++thread)
        if (const PersistentCell c = persistent_cell(p, x, y, thread); c.active) {
          const std::size_t slot = block_index(x, y) * threads + static_cast<std::size_t>(thread);
          g.dh0[static_cast<std::size_t>(c.b * l.H + c.j)] = dh[slot];
          g.dc0[static_cast<std::size_t>(c.b * l.H + c.j)] = dc[slot];
        }
  return g;
}

template <class T>
Tensor as_tensor(const std::vector<T>& v, const Shape& shape) {
  Tensor t = Tensor::empty(shape);
  std::transform(v.begin(), v.end(), t.span<float>().begin(), [](T x) { return static_cast<float>(x); });
  return t;
}
template <class T>
double error(const std::vector<T>& got, const Tensor& want) {  // values of order 1
  return max_relative_error(as_tensor(got, want.shape()), want, 1e-3);
}
template <class T>
double gradient_error(const std::vector<T>& got, const Tensor& want) {  // sums over B x S terms
  return test_support::scaled_relative_error(as_tensor(got, want.shape()), want);
}

}  // namespace

// The kernels' steps against the fused CPU layer: forward outputs and c_n; backward dh0, dc0, and
// db / dW_ih / dW_hh summed from the emulated dgates (as lstm_forward.cu's GEMMs do).
TEST(LSTMPersistentEmulation, MatchesTheFusedCpuLayer) {
  for (const auto& [B, S, I, H] : {std::tuple{3, 7, 5, 16}, std::tuple{9, 12, 7, 64},
                                   std::tuple{5, 9, 4, 100}, std::tuple{17, 6, 3, 128}}) {
    const std::string shape =
        std::to_string(B) + "x" + std::to_string(S) + "x" + std::to_string(I) + "x" + std::to_string(H);
    const test_support::LSTMReference ref(B, S, I, H, static_cast<std::uint64_t>(B * 31 + H));
    const auto& layer = ref.layer();
    const Var &x = ref.x, &h0 = ref.h0, &c0 = ref.c0, &y = ref.out.output, &c_n = ref.out.c_n;
    const Tensor &w_out = ref.w_out, &w_c = ref.w_c;

    Layer l{B,  S,  I,  H, values(layer.weight_hh.value()), values(h0.value()), values(c0.value()),
            {}, {}, {}, {}};
    const std::vector<float> xs = values(x.value()), w_ih = values(layer.weight_ih.value()),
                             b_ih = values(layer.bias_ih.value()), b_hh = values(layer.bias_hh.value());
    const int G = 4 * H;
    l.gates.resize(static_cast<std::size_t>(B * S * G));
    for (int r = 0; r < B * S; ++r)  // the input projection lstm_forward.cu runs before the kernel
      for (int g = 0; g < G; ++g) {
        double acc =
            static_cast<double>(b_ih[static_cast<std::size_t>(g)]) + b_hh[static_cast<std::size_t>(g)];
        for (int k = 0; k < I; ++k)
          acc += static_cast<double>(xs[static_cast<std::size_t>(r * I + k)]) *
                 w_ih[static_cast<std::size_t>(g * I + k)];
        l.gates[static_cast<std::size_t>(r * G + g)] = static_cast<float>(acc);
      }
    const auto nan = std::numeric_limits<float>::quiet_NaN();  // unwritten elements fail every comparison
    l.cells.assign(static_cast<std::size_t>(B * S * H), nan);
    l.tanh_cells = l.cells;
    l.output = l.cells;
    emulate_forward(l);
    EXPECT_LT(error(l.output, y.value()), 1e-4) << "output " << shape;
    std::vector<float> last_cells(static_cast<std::size_t>(B * H));
    for (int b = 0; b < B; ++b)
      for (int j = 0; j < H; ++j)
        last_cells[static_cast<std::size_t>(b * H + j)] =
            l.cells[static_cast<std::size_t>((b * S + S - 1) * H + j)];
    EXPECT_LT(error(last_cells, c_n.value()), 1e-4) << "c_n " << shape;

    const Gradients g = emulate_backward(l, values(w_out), values(w_c));
    EXPECT_LT(gradient_error(g.dh0, h0.grad()), 1e-4) << "dh0 " << shape;
    EXPECT_LT(gradient_error(g.dc0, c0.grad()), 1e-4) << "dc0 " << shape;
    // Summed in double: the reference's own rounding stays out of the comparison.
    std::vector<double> db(static_cast<std::size_t>(G), 0.0), dw_ih(static_cast<std::size_t>(G * I), 0.0),
        dw_hh(static_cast<std::size_t>(G * H), 0.0);
    for (int b = 0; b < B; ++b)
      for (int t = 0; t < S; ++t)
        for (int gate = 0; gate < G; ++gate) {
          const double d = g.dgates[static_cast<std::size_t>((b * S + t) * G + gate)];
          db[static_cast<std::size_t>(gate)] += d;
          for (int k = 0; k < I; ++k)
            dw_ih[static_cast<std::size_t>(gate * I + k)] +=
                d * xs[static_cast<std::size_t>((b * S + t) * I + k)];
          for (int k = 0; k < H; ++k) {
            const float h_prev = t == 0 ? l.h0[static_cast<std::size_t>(b * H + k)]
                                        : l.output[static_cast<std::size_t>((b * S + t - 1) * H + k)];
            dw_hh[static_cast<std::size_t>(gate * H + k)] += d * h_prev;
          }
        }
    EXPECT_LT(gradient_error(db, layer.bias_ih.grad()), 1e-4) << "db " << shape;
    EXPECT_LT(gradient_error(dw_ih, layer.weight_ih.grad()), 1e-4) << "dW_ih " << shape;
    EXPECT_LT(gradient_error(dw_hh, layer.weight_hh.grad()), 1e-4) << "dW_hh " << shape;
  }
}
