// The persistent recurrent LSTM kernels (nn/src/cuda/lstm_persistent.cu) written as what one thread
// does between two barriers, in __host__ __device__ functions: the kernels call them on the GPU, and a
// CPU emulation (tests/nn/test_lstm_persistent.cpp) calls the same functions for every thread of every
// block, phase by phase, so that CI checks the kernels' indexing and arithmetic without a GPU.
//
// Tiling (both kernels): block (x, y) owns hidden units [x U, x U + U) and batch rows [y R, y R + R);
// its U x R threads own one (row, unit) each for all time steps, so a cell's state never leaves the
// thread that computes it. The block keeps its slice of W_hh in shared memory for the whole sequence;
// per step it stages what changes (h_{t-1} forward, dgates_{t+1} backward) for its R rows, and a
// grid-wide sync separates the steps. Per step and block:
//   forward:  stage h_{t-1} | barrier | forward_cell          | grid sync
//   backward: stage dgates_{t+1} | barrier | backward_cell    | grid sync   (then dh0 after t = 0)
// Within a step, a block reads only what other blocks wrote before the last grid sync (h_{t-1},
// dgates_{t+1}) and writes only step t's values, so the blocks of one step never race.
// Buffers are batch-first [B, S, ...], float32, as in lstm_forward.cu. The bias kernel before the forward
// kernel and the previous-hidden kernel after the backward one are lstm_elementwise.h's.
#pragma once

#include <cstdint>

#include "lstm_cell_math.h"

namespace qf::nn::cuda {

// Hidden units per block: a warp holds 32 / U rows of one unit block, so the W_hh slice is read as U
// consecutive float4s (no bank conflict) and each staged row element is broadcast to U threads.
constexpr int kPersistentUnits = 8;
// The largest hidden size the persistent path takes (the bound), and the batch rows per block:
// small tiles, so that even batch 64 spreads over dozens of SMs (the recurrence is latency-bound).
constexpr int kPersistentMaxHidden = 128;
constexpr int kPersistentRows = 8;

struct PersistentPlan {
  int batch = 0, hidden = 0;
  int rows_per_block = 0;          // R
  int blocks_x = 0, blocks_y = 0;  // unit blocks, row blocks
  int threads = 0;                 // U * R
  // Shared memory, in floats: the W_hh slice (4U x H either way), then the staged per-step tile.
  // Forward stages h_{t-1} (H per row, read one float at a time: rows padded by 1 so that the rows of a
  // warp fall in different banks); backward stages dgates_{t+1} (4H per row, read as float4: padded by
  // 4, which keeps every row 16-byte aligned).
  int weight_floats = 0, stage_stride = 0, stage_floats = 0;
  long shared_bytes() const { return 4L * (weight_floats + stage_floats); }
  long blocks() const { return static_cast<long>(blocks_x) * blocks_y; }
};

QF_HOST_DEVICE inline PersistentPlan plan_persistent(int batch, int hidden, bool backward) {
  PersistentPlan p;
  p.batch = batch;
  p.hidden = hidden;
  p.rows_per_block = kPersistentRows;
  p.blocks_x = (hidden + kPersistentUnits - 1) / kPersistentUnits;
  p.blocks_y = (batch + p.rows_per_block - 1) / p.rows_per_block;
  p.threads = kPersistentUnits * p.rows_per_block;
  p.weight_floats = 4 * kPersistentUnits * hidden;
  p.stage_stride = backward ? 4 * hidden + 4 : hidden + 1;
  p.stage_floats = p.rows_per_block * p.stage_stride;
  return p;
}

// What thread `thread` of block (block_x, block_y) owns: batch row b and hidden unit j, and whether
// they exist (the last blocks of a shape that U or R does not divide have idle threads, which still take
// part in every barrier). local_row indexes the block's staged tile.
struct PersistentCell {
  int b, j, local_row, local_unit;
  bool active;
};
QF_HOST_DEVICE inline PersistentCell persistent_cell(const PersistentPlan& p, int block_x, int block_y,
                                                     int thread) {
  PersistentCell c;
  c.local_unit = thread % kPersistentUnits;
  c.local_row = thread / kPersistentUnits;
  c.j = block_x * kPersistentUnits + c.local_unit;
  c.b = block_y * p.rows_per_block + c.local_row;
  c.active = c.j < p.hidden && c.b < p.batch;
  return c;
}

// Where the block's W_hh slice keeps W_hh[g H + j, k] (gate g of unit j = first unit + u, input k):
// forward: [k][u][g], so that one float4 holds the four gates a thread needs for one k;
// backward: [gate row / 4][u][gate row % 4], so that one float4 holds four consecutive gate rows of
// the thread's unit (4H is a multiple of 4). Either way a warp's U threads of one row read U
// consecutive float4s.
QF_HOST_DEVICE inline int forward_weight_index(int k, int gate, int u) {
  return (k * kPersistentUnits + u) * 4 + gate;
}
QF_HOST_DEVICE inline int backward_weight_index(int gate_row, int u) {
  return ((gate_row / 4) * kPersistentUnits + u) * 4 + gate_row % 4;
}

namespace persistent_detail {

struct Quad {
  float x, y, z, w;
};
// Four floats from a 16-byte aligned address: one vector load on the GPU.
QF_HOST_DEVICE inline Quad load_quad(const float* p) {
#ifdef __CUDA_ARCH__
  const float4 v = *reinterpret_cast<const float4*>(p);
  return {v.x, v.y, v.z, v.w};
#else
  return {p[0], p[1], p[2], p[3]};
#endif
}
// A value another block wrote before the last grid sync: through L2, since the reading SM's L1 is not
// coherent with other SMs' stores.
QF_HOST_DEVICE inline float load_shared_by_blocks(const float* p) {
#ifdef __CUDA_ARCH__
  return __ldcg(p);
#else
  return *p;
#endif
}
QF_HOST_DEVICE inline float multiply_add(float a, float b, float c) {
#ifdef __CUDA_ARCH__
  return fmaf(a, b, c);
#else
  return a * b + c;
#endif
}

}  // namespace persistent_detail

// ---- forward ----

// Element i (of p.weight_floats; a block's threads stride over i once, before the first step) of
// block_x's W_hh slice: w[forward_weight_index(k, g, u)] = W_hh[g H + j, k], zero past H.
QF_HOST_DEVICE inline void forward_load_weight(const PersistentPlan& p, int block_x, int i,
                                               const float* weight_hh, float* w) {
  const int U = kPersistentUnits, H = p.hidden;
  const int u = i % U, gate = (i / U) % 4, k = i / (4 * U), j = block_x * U + u;
  w[forward_weight_index(k, gate, u)] = j < H ? weight_hh[(gate * H + j) * H + k] : 0.0f;
}

// Element i (of R x H) of block_y's staged h_{t-1}: h0 at t = 0, zero past the batch.
QF_HOST_DEVICE inline void forward_stage(const PersistentPlan& p, int block_y, int i, int t, int steps,
                                         const float* h0, const float* output, float* h_prev) {
  const int H = p.hidden, r = i / H, k = i % H, b = block_y * p.rows_per_block + r;
  float v = 0.0f;
  if (b < p.batch)
    v = t == 0 ? h0[b * H + k]
               : persistent_detail::load_shared_by_blocks(output +
                                                          (static_cast<long>(b) * steps + t - 1) * H + k);
  h_prev[r * p.stage_stride + k] = v;
}

// Thread c's step t: gates_t (holding x_t W_ih^T + b) += h_{t-1} W_hh^T for its unit, then its cell:
// activations into gates, c_t, tanh(c_t), h_t into cells, tanh_cells, output.
QF_HOST_DEVICE inline void forward_cell(const PersistentPlan& p, const PersistentCell& c, int t, int steps,
                                        const float* w, const float* h_prev, const float* c0, float* gates,
                                        float* cells, float* tanh_cells, float* output) {
  if (!c.active) return;
  const int H = p.hidden;
  float* row = gates + (static_cast<long>(c.b) * steps + t) * 4 * H;
  float acc[4] = {row[c.j], row[H + c.j], row[2 * H + c.j], row[3 * H + c.j]};
  const float* h = h_prev + c.local_row * p.stage_stride;
  for (int k = 0; k < H; ++k) {
    const persistent_detail::Quad wk =
        persistent_detail::load_quad(w + forward_weight_index(k, 0, c.local_unit));
    acc[0] = persistent_detail::multiply_add(wk.x, h[k], acc[0]);
    acc[1] = persistent_detail::multiply_add(wk.y, h[k], acc[1]);
    acc[2] = persistent_detail::multiply_add(wk.z, h[k], acc[2]);
    acc[3] = persistent_detail::multiply_add(wk.w, h[k], acc[3]);
  }
  for (int gate = 0; gate < 4; ++gate) row[gate * H + c.j] = acc[gate];
  const long at = (static_cast<long>(c.b) * steps + t) * H + c.j;
  const float c_prev = t == 0 ? c0[c.b * H + c.j] : cells[at - H];
  const auto r = lstm_math::cell_forward_unit(row, static_cast<std::int64_t>(H), c.j, c_prev);
  cells[at] = r.c;
  tanh_cells[at] = r.tanh_c;
  output[at] = r.h;
}

// ---- backward ----

// Element i of block_x's W_hh slice: w[backward_weight_index(g, u)] = W_hh[g, j] for all 4H gate rows g.
QF_HOST_DEVICE inline void backward_load_weight(const PersistentPlan& p, int block_x, int i,
                                                const float* weight_hh, float* w) {
  const int U = kPersistentUnits, H = p.hidden;
  const int u = i % U, gate_row = i / U, j = block_x * U + u;
  w[backward_weight_index(gate_row, u)] = j < H ? weight_hh[gate_row * H + j] : 0.0f;
}

// Element i (of R x 4H) of block_y's staged dgates_{t+1} (run for t < steps - 1, and t = -1).
QF_HOST_DEVICE inline void backward_stage(const PersistentPlan& p, int block_y, int i, int t, int steps,
                                          const float* dgates, float* stage) {
  const int G = 4 * p.hidden, r = i / G, g = i % G, b = block_y * p.rows_per_block + r;
  stage[r * p.stage_stride + g] =
      b < p.batch
          ? persistent_detail::load_shared_by_blocks(dgates + (static_cast<long>(b) * steps + t + 1) * G + g)
          : 0.0f;
}

// The gradient reaching thread c's h_t from step t + 1: (dgates_{t+1} W_hh)[b, j], from the staged tile.
QF_HOST_DEVICE inline float backward_recurrent_dh(const PersistentPlan& p, const PersistentCell& c,
                                                  const float* w, const float* stage) {
  if (!c.active) return 0.0f;
  const float* d = stage + c.local_row * p.stage_stride;
  // Four partial sums, one per float4 lane: four independent FMA chains of H instead of one of 4H,
  // whose latency would bound every step.
  float sum[4] = {0.0f, 0.0f, 0.0f, 0.0f};
  for (int g = 0; g < 4 * p.hidden; g += 4) {  // four gate rows at a time
    const persistent_detail::Quad dg = persistent_detail::load_quad(d + g);
    const persistent_detail::Quad wg =
        persistent_detail::load_quad(w + backward_weight_index(g, c.local_unit));
    sum[0] = persistent_detail::multiply_add(dg.x, wg.x, sum[0]);
    sum[1] = persistent_detail::multiply_add(dg.y, wg.y, sum[1]);
    sum[2] = persistent_detail::multiply_add(dg.z, wg.z, sum[2]);
    sum[3] = persistent_detail::multiply_add(dg.w, wg.w, sum[3]);
  }
  return (sum[0] + sum[1]) + (sum[2] + sum[3]);
}

// Thread c's cell backward at step t, from dh_t (recurrent) and its dc_t: writes its four gate
// gradients into dgates and returns dc_{t-1}.
QF_HOST_DEVICE inline float backward_cell(const PersistentPlan& p, const PersistentCell& c, int t, int steps,
                                          const float* c0, const float* gates, const float* cells,
                                          const float* tanh_cells, const float* grad_output, float dh_t,
                                          float dc_t, float* dgates) {
  if (!c.active) return 0.0f;
  const int H = p.hidden;
  const long at = (static_cast<long>(c.b) * steps + t) * H + c.j;
  const long row = (static_cast<long>(c.b) * steps + t) * 4 * H;
  const float c_prev = t == 0 ? c0[c.b * H + c.j] : cells[at - H];
  return lstm_math::cell_backward_unit(gates + row, static_cast<std::int64_t>(H), c.j, c_prev, tanh_cells[at],
                                       grad_output[at] + dh_t, dc_t, dgates + row);
}

}  // namespace qf::nn::cuda
