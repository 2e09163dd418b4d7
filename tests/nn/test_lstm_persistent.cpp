// The persistent recurrent CUDA kernels (nn/internal/lstm_persistent.h) on the CPU, the part CI can check
// without a GPU. The launch geometry, for shapes the tiles divide and shapes they do not: every (batch
// row, hidden unit) is owned by exactly one thread of one block; the W_hh slice layouts are one-to-one
// and keep the float4 reads aligned; staged rows stay within the tile; a block fits the default 48 KB
// of shared memory and 1024 threads. And the kernels' own per-thread steps, run for every thread of
// every block in the kernels' phase order, against the fused CPU layer (forward values, and every
// gradient backward).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "common/lstm_emulation.h"
#include "lstm_persistent.h"
#include "qf/nn/rnn.h"

using namespace qf;
using namespace qf::nn::cuda;

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

}  // namespace

// The kernels' steps against the fused CPU layer: forward outputs and c_n; backward dh0, dc0, and
// db / dW_ih / dW_hh from the emulated dgates (lstm_forward.cu's bias kernel and input projection before
// the forward kernel, its previous-hidden kernel and GEMMs after the backward one).
TEST(LSTMPersistentEmulation, MatchesTheFusedCpuLayer) {
  const auto check = [](const test_support::LayerShape& s, const test_support::LSTMReference& ref,
                        const test_support::StackedWeights& w) {
    const int B = s.B, S = s.S, I = s.I, H = s.H;
    Layer l{B,
            S,
            I,
            H,
            w.w_hh,
            test_support::values(ref.h0.value()),
            test_support::values(ref.c0.value()),
            test_support::project_input(1, B, S, I, H, test_support::values(ref.x.value()), w),
            test_support::unwritten(B * S * H),
            test_support::unwritten(B * S * H),
            test_support::unwritten(B * S * H)};
    emulate_forward(l);
    const Gradients g = emulate_backward(l, test_support::values(ref.w_out), test_support::values(ref.w_c));
    test_support::expect_matches_reference(
        ref,
        {l.output, l.cells, g.dgates, test_support::previous_hidden(B, S, H, l.h0.data(), l.output), g.dh0,
         g.dc0},
        s.name());
  };
  test_support::for_each_reference({{3, 7, 5, 16}, {9, 12, 7, 64}, {5, 9, 4, 100}, {17, 6, 3, 128}}, 31,
                                   check);
}
