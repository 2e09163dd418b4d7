// LSTM layer forward on the GPU. cuBLAS is column-major: a row-major [R, C] matrix is its
// column-major transpose, so row-major C = A op(B) is computed as column-major C^T = op(B)^T A^T.
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <stdexcept>
#include <string>

#include "qf/nn/lstm_cell_math.h"
#include "qf/nn/lstm_cuda.h"

namespace qf::nn::cuda {

namespace {

void check(cudaError_t status, const char* what) {
  if (status != cudaSuccess) throw std::runtime_error(std::string("CUDA ") + what + ": " + cudaGetErrorString(status));
}
void check(cublasStatus_t status, const char* what) {
  if (status != CUBLAS_STATUS_SUCCESS) throw std::runtime_error(std::string("cuBLAS ") + what + " failed");
}

cublasHandle_t handle() {
  static cublasHandle_t h = [] {
    cublasHandle_t created = nullptr;
    check(cublasCreate(&created), "create");
    return created;
  }();
  return h;
}

// gates[r, :] = b_ih + b_hh for every row r of [rows, G].
__global__ void broadcast_bias_kernel(int rows, int gates, const float* bias_ih, const float* bias_hh, float* out) {
  const int k = blockIdx.x * blockDim.x + threadIdx.x;
  if (k >= rows * gates) return;
  const int g = k % gates;
  out[k] = bias_ih[g] + bias_hh[g];
}

// One thread per (batch row b, hidden unit j) at time step t: the shared cell arithmetic.
__global__ void cell_forward_kernel(int batch, int steps, int hidden, int t, const float* c0, float* gates,
                                    float* cells, float* tanh_cells, float* output) {
  const int k = blockIdx.x * blockDim.x + threadIdx.x;
  if (k >= batch * hidden) return;
  const int b = k / hidden, j = k % hidden;
  const long row = static_cast<long>(b) * steps + t;
  float* g = gates + row * 4 * hidden;
  const float c_prev = t == 0 ? c0[b * hidden + j] : cells[(row - 1) * hidden + j];
  const auto r = lstm_math::cell_forward_element(g[j], g[hidden + j], g[2 * hidden + j], g[3 * hidden + j], c_prev);
  g[j] = r.i;
  g[hidden + j] = r.f;
  g[2 * hidden + j] = r.g;
  g[3 * hidden + j] = r.o;
  cells[row * hidden + j] = r.c;
  tanh_cells[row * hidden + j] = r.tanh_c;
  output[row * hidden + j] = r.h;
}

void require(const Tensor& t, const char* name) {
  if (t.device() != Device::cuda || t.dtype() != DType::f32)
    throw std::invalid_argument(std::string("lstm_layer_forward (CUDA): ") + name + " must be float32 on cuda");
}

}  // namespace

LSTMForwardResult lstm_layer_forward(const Tensor& x, const Tensor& h0, const Tensor& c0, const Tensor& weight_ih,
                                     const Tensor& weight_hh, const Tensor& bias_ih, const Tensor& bias_hh) {
  for (auto [t, name] : {std::pair{&x, "x"}, {&h0, "h0"}, {&c0, "c0"}, {&weight_ih, "weight_ih"},
                         {&weight_hh, "weight_hh"}, {&bias_ih, "bias_ih"}, {&bias_hh, "bias_hh"}})
    require(*t, name);
  const int B = static_cast<int>(x.dim(0)), S = static_cast<int>(x.dim(1)), I = static_cast<int>(x.dim(2)),
            H = static_cast<int>(weight_hh.dim(1)), G = 4 * H;
  if (weight_ih.shape() != Shape{G, I} || weight_hh.shape() != Shape{G, H} || h0.shape() != Shape{B, H} ||
      c0.shape() != Shape{B, H})
    throw ShapeError("lstm_layer_forward (CUDA): shapes do not match x " + to_string(x.shape()) + " and weight_hh " +
                     to_string(weight_hh.shape()));
  LSTMForwardResult r{Tensor::empty({B, S, H}, DType::f32, Device::cuda), Tensor::empty({B, S, G}, DType::f32, Device::cuda),
                      Tensor::empty({B, S, H}, DType::f32, Device::cuda), Tensor::empty({B, S, H}, DType::f32, Device::cuda)};
  float* gates = r.gates.data<float>();
  const int threads = 256;
  broadcast_bias_kernel<<<(B * S * G + threads - 1) / threads, threads>>>(B * S, G, bias_ih.data<float>(),
                                                                          bias_hh.data<float>(), gates);
  check(cudaGetLastError(), "bias kernel");
  const float one = 1.0f;
  // gates [B*S, G] += x [B*S, I] W_ih^T  ==  (col-major) gates^T [G, B*S] += W_ih [G, I] x^T [I, B*S]
  check(cublasSgemm(handle(), CUBLAS_OP_T, CUBLAS_OP_N, G, B * S, I, &one, weight_ih.data<float>(), I,
                    x.data<float>(), I, &one, gates, G),
        "input projection");
  for (int t = 0; t < S; ++t) {
    // gates_t [B, G] (row stride S*G) += h_{t-1} [B, H] (row stride ld) W_hh^T
    const float* h_prev = t == 0 ? h0.data<float>() : r.output.data<float>() + (t - 1) * H;
    const int ld_h = t == 0 ? H : S * H;
    check(cublasSgemm(handle(), CUBLAS_OP_T, CUBLAS_OP_N, G, B, H, &one, weight_hh.data<float>(), H, h_prev, ld_h, &one,
                      gates + t * G, S * G),
          "recurrent step");
    cell_forward_kernel<<<(B * H + threads - 1) / threads, threads>>>(B, S, H, t, c0.data<float>(), gates,
                                                                      r.cells.data<float>(), r.tanh_cells.data<float>(),
                                                                      r.output.data<float>());
    check(cudaGetLastError(), "cell kernel");
  }
  check(cudaDeviceSynchronize(), "lstm forward");
  return r;
}

}  // namespace qf::nn::cuda
