// The persistent recurrent LSTM kernels: one cooperative launch runs all time steps of a layer's
// forward (or backward) recurrence. Each block keeps its slice of W_hh in shared memory for the whole
// sequence, instead of the per-step path's cuBLAS GEMM streaming all of W_hh from L2 at every step, and
// the steps are separated by a grid-wide sync instead of a kernel launch each. What each thread does
// between two barriers is in nn/internal/lstm_persistent.h (host and device; CI runs it in a CPU emulation).
#include <cooperative_groups.h>
#include <cuda_runtime.h>

#include <map>
#include <mutex>
#include <optional>
#include <tuple>

#include "cuda_util.h"
#include "lstm_persistent.h"
#include "lstm_persistent_launch.h"
#include "qf/tensor/device.h"

namespace qf::nn::cuda::persistent {

namespace {

namespace cg = cooperative_groups;

__global__ void forward_kernel(PersistentPlan p, int steps, const float* __restrict__ weight_hh,
                               const float* __restrict__ h0, const float* __restrict__ c0, float* gates,
                               float* cells, float* tanh_cells, float* output) {
  extern __shared__ float4 shared_vectors[];            // declared float4: the slice is read as float4
  float* w = reinterpret_cast<float*>(shared_vectors);  // the W_hh slice, at forward_weight_index
  float* h_prev = w + p.weight_floats;                  // h_{t-1} of the block's rows
  for (int i = threadIdx.x; i < p.weight_floats; i += blockDim.x)
    forward_load_weight(p, blockIdx.x, i, weight_hh, w);
  const PersistentCell cell = persistent_cell(p, blockIdx.x, blockIdx.y, threadIdx.x);
  cg::grid_group grid = cg::this_grid();
  for (int t = 0; t < steps; ++t) {
    for (int i = threadIdx.x; i < p.rows_per_block * p.hidden; i += blockDim.x)
      forward_stage(p, blockIdx.y, i, t, steps, h0, output, h_prev);
    __syncthreads();  // (at t = 0 also orders the W_hh slice before its first use)
    forward_cell(p, cell, t, steps, w, h_prev, c0, gates, cells, tanh_cells, output);
    grid.sync();  // every block's h_t is written before any block stages it, and h_prev is free again
  }
}

__global__ void backward_kernel(PersistentPlan p, int steps, const float* __restrict__ weight_hh,
                                const float* __restrict__ c0, const float* __restrict__ gates,
                                const float* __restrict__ cells, const float* __restrict__ tanh_cells,
                                const float* __restrict__ grad_output, float* dh, float* dc, float* dgates) {
  extern __shared__ float4 shared_vectors[];
  float* w = reinterpret_cast<float*>(shared_vectors);  // the W_hh slice, at backward_weight_index
  float* stage = w + p.weight_floats;                   // dgates_{t+1} of the block's rows
  for (int i = threadIdx.x; i < p.weight_floats; i += blockDim.x)
    backward_load_weight(p, blockIdx.x, i, weight_hh, w);
  const PersistentCell cell = persistent_cell(p, blockIdx.x, blockIdx.y, threadIdx.x);
  const int H = p.hidden;
  float dc_t = cell.active ? dc[cell.b * H + cell.j] : 0.0f;  // the gradient of c_t from above
  float dh_t = 0.0f;  // the gradient reaching h_t from step t + 1; after the loop, that of h0
  cg::grid_group grid = cg::this_grid();
  for (int t = steps - 1; t >= -1; --t) {
    dh_t = 0.0f;
    if (t < steps - 1) {
      for (int i = threadIdx.x; i < p.rows_per_block * 4 * H; i += blockDim.x)
        backward_stage(p, blockIdx.y, i, t, steps, dgates, stage);
      __syncthreads();  // (the first time also orders the W_hh slice before its first use)
      dh_t = backward_recurrent_dh(p, cell, w, stage);
    }
    if (t < 0) break;  // dh_t is now the gradient of h0
    dc_t = backward_cell(p, cell, t, steps, c0, gates, cells, tanh_cells, grad_output, dh_t, dc_t, dgates);
    grid.sync();  // every block's dgates_t is written before any block stages it, and stage is free again
  }
  if (cell.active) {
    dh[cell.b * H + cell.j] = dh_t;
    dc[cell.b * H + cell.j] = dc_t;
  }
}

// Whether every block of the plan's grid can be resident at once on the device; nothing when a query
// failed.
std::optional<bool> grid_is_resident(const void* kernel, const PersistentPlan& p, int device) {
  int sms = 0, per_sm = 0;
  if (cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device) != cudaSuccess ||
      cudaOccupancyMaxActiveBlocksPerMultiprocessor(
          &per_sm, kernel, p.threads, static_cast<std::size_t>(p.shared_bytes())) != cudaSuccess)
    return std::nullopt;
  return static_cast<long>(per_sm) * sms >= p.blocks();
}

void launch(const void* kernel, const PersistentPlan& p, void** args, const char* what) {
  check(
      cudaLaunchCooperativeKernel(
          kernel, dim3(static_cast<unsigned>(p.blocks_x), static_cast<unsigned>(p.blocks_y)),
          dim3(static_cast<unsigned>(p.threads)), args, static_cast<std::size_t>(p.shared_bytes()), nullptr),
      what);
}

}  // namespace

bool fits(int batch, int hidden) {
  if (batch < 1 || hidden < 1 || hidden > kPersistentMaxHidden) return false;
  int device = 0, cooperative = 0;
  if (cuda_device_count() == 0 || cudaGetDevice(&device) != cudaSuccess) return false;
  static std::mutex mutex;
  static std::map<std::tuple<int, int, int>, bool> known;  // answers of queries that succeeded
  const std::lock_guard lock(mutex);
  const auto key = std::tuple{device, batch, hidden};
  if (const auto found = known.find(key); found != known.end()) return found->second;
  if (cudaDeviceGetAttribute(&cooperative, cudaDevAttrCooperativeLaunch, device) != cudaSuccess) {
    cudaGetLastError();  // this query's error, so that no later check reports it as its own
    return false;
  }
  bool ok = cooperative != 0;
  for (const auto& [kernel, backward] : {std::pair{reinterpret_cast<const void*>(forward_kernel), false},
                                         {reinterpret_cast<const void*>(backward_kernel), true}}) {
    if (!ok) break;
    const auto resident = grid_is_resident(kernel, plan_persistent(batch, hidden, backward), device);
    if (!resident) {
      cudaGetLastError();
      return false;  // unknown (and the error cleared, as above): asked again next time
    }
    ok = *resident;
  }
  return known[key] = ok;
}

void forward(int batch, int steps, int hidden, const float* weight_hh, const float* h0, const float* c0,
             float* gates, float* cells, float* tanh_cells, float* output) {
  PersistentPlan p = plan_persistent(batch, hidden, false);
  void* args[] = {&p, &steps, &weight_hh, &h0, &c0, &gates, &cells, &tanh_cells, &output};
  launch(reinterpret_cast<const void*>(forward_kernel), p, args, "persistent LSTM forward");
}

void backward(int batch, int steps, int hidden, const float* weight_hh, const float* c0, const float* gates,
              const float* cells, const float* tanh_cells, const float* grad_output, float* dh, float* dc,
              float* dgates) {
  PersistentPlan p = plan_persistent(batch, hidden, true);
  void* args[] = {&p, &steps, &weight_hh, &c0, &gates, &cells, &tanh_cells, &grad_output, &dh, &dc, &dgates};
  launch(reinterpret_cast<const void*>(backward_kernel), p, args, "persistent LSTM backward");
}

}  // namespace qf::nn::cuda::persistent
