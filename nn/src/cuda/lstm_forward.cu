// LSTM layer forward and backward on the GPU: the host side of one layer (lstm_cuda.h). Its bias, cell
// and previous-hidden kernels are lstm_elementwise.cu's (one model: rows = B, with h0 and c0), shared with
// the multi-model trainer; the persistent recurrence is lstm_persistent.cu's. cuBLAS is column-major: a
// row-major [R, C] matrix is its column-major transpose, so row-major C = A op(B) is computed as
// column-major C^T = op(B)^T A^T.
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <stdexcept>
#include <string>

#include "cuda_util.h"
#include "lstm_elementwise_launch.h"
#include "lstm_persistent.h"
#include "lstm_persistent_launch.h"
#include "qf/nn/lstm_cuda.h"

namespace qf::nn::cuda {

namespace {

__global__ void fill_kernel(long n, float value, float* out) {
  const long k = static_cast<long>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (k < n) out[k] = value;
}

void require(const Tensor& t, const char* name) {
  if (t.device() != Device::cuda || t.dtype() != DType::f32)
    throw std::invalid_argument(std::string("lstm_layer_forward (CUDA): ") + name +
                                " must be float32 on cuda");
}

// Whether the recurrence of this call runs in the persistent kernels.
bool use_persistent(RecurrentPath path, int batch, int hidden, const char* who) {
  if (path == RecurrentPath::per_step) return false;
  const bool fits = persistent::fits(batch, hidden);
  if (path == RecurrentPath::persistent && !fits)
    throw std::invalid_argument(std::string(who) + " (CUDA): the persistent path does not fit batch " +
                                std::to_string(batch) + ", hidden " + std::to_string(hidden) +
                                " on this device (hidden <= " + std::to_string(kPersistentMaxHidden) +
                                ", all blocks resident at once)");
  return fits;
}

}  // namespace

bool persistent_path_fits(std::int64_t batch, std::int64_t hidden) {
  if (batch > (1 << 30) || hidden > kPersistentMaxHidden) return false;
  return persistent::fits(static_cast<int>(batch), static_cast<int>(hidden));
}

LSTMForwardResult allocate_forward(std::int64_t batch, std::int64_t steps, std::int64_t hidden) {
  const auto on_device = [](Shape shape) { return Tensor::empty(std::move(shape), DType::f32, Device::cuda); };
  return {on_device({batch, steps, hidden}), on_device({batch, steps, 4 * hidden}),
          on_device({batch, steps, hidden}), on_device({batch, steps, hidden})};
}

void enqueue_layer_forward(const Tensor& x, const Tensor& h0, const Tensor& c0, const Tensor& weight_ih,
                           const Tensor& weight_hh, const Tensor& bias_ih, const Tensor& bias_hh,
                           LSTMForwardResult& r, RecurrentPath path) {
  for (auto [t, name] : {std::pair{&x, "x"},
                         {&h0, "h0"},
                         {&c0, "c0"},
                         {&weight_ih, "weight_ih"},
                         {&weight_hh, "weight_hh"},
                         {&bias_ih, "bias_ih"},
                         {&bias_hh, "bias_hh"},
                         {&r.output, "output"},
                         {&r.gates, "gates"},
                         {&r.cells, "cells"},
                         {&r.tanh_cells, "tanh_cells"}})
    require(*t, name);
  const int B = static_cast<int>(x.dim(0)), S = static_cast<int>(x.dim(1)), I = static_cast<int>(x.dim(2)),
            H = static_cast<int>(weight_hh.dim(1)), G = 4 * H;
  if (weight_ih.shape() != Shape{G, I} || weight_hh.shape() != Shape{G, H} || h0.shape() != Shape{B, H} ||
      c0.shape() != Shape{B, H} || r.gates.shape() != Shape{B, S, G} || r.output.shape() != Shape{B, S, H} ||
      r.cells.shape() != Shape{B, S, H} || r.tanh_cells.shape() != Shape{B, S, H})
    throw ShapeError("lstm_layer_forward (CUDA): shapes do not match x " + to_string(x.shape()) +
                     " and weight_hh " + to_string(weight_hh.shape()));
  // Decided (and refused) before anything is queued: a throw after a launch would free blocks that
  // queued work may still be writing.
  const bool persistent_recurrence = use_persistent(path, B, H, "lstm_layer_forward");
  float* gates = r.gates.data<float>();
  elementwise::broadcast_bias(static_cast<long long>(B) * S, static_cast<long long>(B) * S, G,
                              bias_ih.data<float>(), bias_hh.data<float>(), gates);  // one model
  const float one = 1.0f;
  // gates [B*S, G] += x [B*S, I] W_ih^T  ==  (col-major) gates^T [G, B*S] += W_ih [G, I] x^T [I, B*S]
  check(cublasSgemm(cublas_handle(), CUBLAS_OP_T, CUBLAS_OP_N, G, B * S, I, &one, weight_ih.data<float>(), I,
                    x.data<float>(), I, &one, gates, G),
        "input projection");
  if (persistent_recurrence) {
    persistent::forward(B, S, H, weight_hh.data<float>(), h0.data<float>(), c0.data<float>(), gates,
                        r.cells.data<float>(), r.tanh_cells.data<float>(), r.output.data<float>());
    return;
  }
  for (int t = 0; t < S; ++t) {
    // gates_t [B, G] (row stride S*G) += h_{t-1} [B, H] (row stride ld) W_hh^T
    const float* h_prev = t == 0 ? h0.data<float>() : r.output.data<float>() + (t - 1) * H;
    const int ld_h = t == 0 ? H : S * H;
    check(cublasSgemm(cublas_handle(), CUBLAS_OP_T, CUBLAS_OP_N, G, B, H, &one, weight_hh.data<float>(), H,
                      h_prev, ld_h, &one, gates + t * G, S * G),
          "recurrent step");
    elementwise::cell_forward(B, S, H, t, c0.data<float>(), gates, r.cells.data<float>(),
                              r.tanh_cells.data<float>(), r.output.data<float>());
  }
}

LSTMForwardResult lstm_layer_forward(const Tensor& x, const Tensor& h0, const Tensor& c0,
                                     const Tensor& weight_ih, const Tensor& weight_hh, const Tensor& bias_ih,
                                     const Tensor& bias_hh, RecurrentPath path) {
  if (x.rank() != 3 || weight_hh.rank() != 2)
    throw ShapeError("lstm_layer_forward (CUDA): x " + to_string(x.shape()) + " must be [B, T, I] and weight_hh " +
                     to_string(weight_hh.shape()) + " [4H, H]");
  LSTMForwardResult r = allocate_forward(x.dim(0), x.dim(1), weight_hh.dim(1));
  enqueue_layer_forward(x, h0, c0, weight_ih, weight_hh, bias_ih, bias_hh, r, path);
  check(cudaDeviceSynchronize(), "lstm forward");
  return r;
}

LSTMBackwardBuffers allocate_backward(std::int64_t batch, std::int64_t steps, std::int64_t input,
                                      std::int64_t hidden) {
  const auto on_device = [](Shape shape) { return Tensor::empty(std::move(shape), DType::f32, Device::cuda); };
  const std::int64_t G = 4 * hidden, rows = batch * steps;
  LSTMBackwardBuffers b{{on_device({batch, steps, input}), on_device({batch, hidden}), on_device({batch, hidden}),
                         on_device({G, input}), on_device({G, hidden}), on_device({G})},
                        on_device({batch, steps, G}),
                        on_device({batch, steps, hidden}),
                        on_device({rows})};
  fill_kernel<<<blocks(rows), kThreads>>>(rows, 1.0f, b.ones.data<float>());
  check_launch("fill kernel");
  return b;
}

void enqueue_layer_backward(const LSTMForwardResult& fwd, const Tensor& x, const Tensor& h0, const Tensor& c0,
                            const Tensor& weight_ih, const Tensor& weight_hh, const Tensor& grad_output,
                            const Tensor& grad_c_n, LSTMBackwardBuffers& out, RecurrentPath path) {
  for (auto [t, name] : {std::pair{&x, "x"},
                         {&h0, "h0"},
                         {&c0, "c0"},
                         {&weight_ih, "weight_ih"},
                         {&weight_hh, "weight_hh"},
                         {&grad_output, "grad_output"},
                         {&out.dgates, "dgates"},
                         {&out.h_prev, "h_prev"},
                         {&out.ones, "ones"}})
    require(*t, name);
  const int B = static_cast<int>(x.dim(0)), S = static_cast<int>(x.dim(1)), I = static_cast<int>(x.dim(2)),
            H = static_cast<int>(weight_hh.dim(1)), G = 4 * H;
  if (grad_output.shape() != fwd.output.shape())
    throw ShapeError("lstm_layer_backward (CUDA): grad_output " + to_string(grad_output.shape()) +
                     " for output " + to_string(fwd.output.shape()));
  LSTMGradients& g = out.grads;
  if (g.x.shape() != x.shape() || g.h0.shape() != Shape{B, H} || g.c0.shape() != Shape{B, H} ||
      g.weight_ih.shape() != Shape{G, I} || g.weight_hh.shape() != Shape{G, H} || g.bias.shape() != Shape{G} ||
      out.dgates.shape() != Shape{B, S, G} || out.h_prev.shape() != Shape{B, S, H} ||
      out.ones.shape() != Shape{static_cast<std::int64_t>(B) * S})
    throw ShapeError("lstm_layer_backward (CUDA): buffers not allocated for x " + to_string(x.shape()) +
                     " and hidden " + std::to_string(H) + " (allocate_backward)");
  if (grad_c_n.defined()) require(grad_c_n, "grad_c_n");
  const bool persistent_recurrence = use_persistent(path, B, H, "lstm_layer_backward");  // before any launch
  float* dh = g.h0.data<float>();
  float* dc = g.c0.data<float>();
  float* dgates = out.dgates.data<float>();
  check(cudaMemsetAsync(dh, 0, sizeof(float) * B * H), "zero dh");
  if (grad_c_n.defined()) {
    check(cudaMemcpyAsync(dc, grad_c_n.data<float>(), sizeof(float) * B * H, cudaMemcpyDeviceToDevice),
          "dc_n");
  } else {
    check(cudaMemsetAsync(dc, 0, sizeof(float) * B * H), "zero dc");
  }
  const float one = 1.0f, zero = 0.0f;
  if (persistent_recurrence)
    persistent::backward(B, S, H, weight_hh.data<float>(), c0.data<float>(), fwd.gates.data<float>(),
                         fwd.cells.data<float>(), fwd.tanh_cells.data<float>(), grad_output.data<float>(), dh,
                         dc, dgates);
  else
    for (int t = S - 1; t >= 0; --t) {
      elementwise::cell_backward(B, S, H, t, c0.data<float>(), fwd.gates.data<float>(),
                                 fwd.cells.data<float>(), fwd.tanh_cells.data<float>(),
                                 grad_output.data<float>(), dh, dc, dgates);
      // dh [B, H] = dgates_t [B, G] (row stride S*G) W_hh [G, H]  ==  dh^T = W_hh^T dgates_t^T (col-major)
      check(cublasSgemm(cublas_handle(), CUBLAS_OP_N, CUBLAS_OP_N, H, B, G, &one, weight_hh.data<float>(), H,
                        dgates + t * G, S * G, &zero, dh, H),
            "dh");
    }
  // dx [B*S, I] = dgates [B*S, G] W_ih [G, I]
  check(cublasSgemm(cublas_handle(), CUBLAS_OP_N, CUBLAS_OP_N, I, B * S, G, &one, weight_ih.data<float>(), I,
                    dgates, G, &zero, g.x.data<float>(), I),
        "dx");
  // dW_ih [G, I] = dgates^T [G, B*S] x [B*S, I]  ==  dW_ih^T [I, G] = x^T dgates (col-major)
  check(cublasSgemm(cublas_handle(), CUBLAS_OP_N, CUBLAS_OP_T, I, G, B * S, &one, x.data<float>(), I, dgates,
                    G, &zero, g.weight_ih.data<float>(), I),
        "dW_ih");
  elementwise::previous_hidden(B, S, H, h0.data<float>(), fwd.output.data<float>(), out.h_prev.data<float>());
  check(cublasSgemm(cublas_handle(), CUBLAS_OP_N, CUBLAS_OP_T, H, G, B * S, &one, out.h_prev.data<float>(), H,
                    dgates, G, &zero, g.weight_hh.data<float>(), H),
        "dW_hh");
  // db [G] = sum over rows of dgates: (col-major [G, B*S]) times a vector of ones.
  check(cublasSgemv(cublas_handle(), CUBLAS_OP_N, G, B * S, &one, dgates, G, out.ones.data<float>(), 1, &zero,
                    g.bias.data<float>(), 1),
        "db");
}

LSTMGradients lstm_layer_backward(const LSTMForwardResult& fwd, const Tensor& x, const Tensor& h0,
                                  const Tensor& c0, const Tensor& weight_ih, const Tensor& weight_hh,
                                  const Tensor& grad_output, const Tensor& grad_c_n, RecurrentPath path) {
  if (x.rank() != 3 || weight_hh.rank() != 2)
    throw ShapeError("lstm_layer_backward (CUDA): x " + to_string(x.shape()) + " must be [B, T, I] and weight_hh " +
                     to_string(weight_hh.shape()) + " [4H, H]");
  LSTMBackwardBuffers buffers = allocate_backward(x.dim(0), x.dim(1), x.dim(2), weight_hh.dim(1));
  enqueue_layer_backward(fwd, x, h0, c0, weight_ih, weight_hh, grad_output, grad_c_n, buffers, path);
  check(cudaDeviceSynchronize(), "lstm backward");
  return buffers.grads;
}

}  // namespace qf::nn::cuda
