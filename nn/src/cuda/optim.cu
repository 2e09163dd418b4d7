// Adam(W) and gradient clipping kernels: one thread per element; the norm is reduced in blocks and
// summed on the host (a handful of values per parameter tensor).
#include <cuda_runtime.h>

#include <cmath>
#include <stdexcept>
#include <string>

#include "adam_math.h"
#include "cuda_util.h"
#include "qf/nn/optim_cuda.h"

namespace qf::nn::cuda {

namespace {

__global__ void adam_kernel(long n, float* w, const float* g, float* m, float* v, AdamStep<float> step) {
  const long k = static_cast<long>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (k < n) adam_update(step, g[k], w[k], m[k], v[k]);
}

// Per block: the sum of squares of its elements, into partial[blockIdx.x].
__global__ void sum_squares_kernel(long n, const float* g, float* partial) {
  __shared__ float cache[kThreads];
  const long k = static_cast<long>(blockIdx.x) * blockDim.x + threadIdx.x;
  cache[threadIdx.x] = k < n ? g[k] * g[k] : 0.0f;
  __syncthreads();
  for (unsigned stride = blockDim.x / 2; stride > 0; stride /= 2) {
    if (threadIdx.x < stride) cache[threadIdx.x] += cache[threadIdx.x + stride];
    __syncthreads();
  }
  if (threadIdx.x == 0) partial[blockIdx.x] = cache[0];
}

__global__ void scale_kernel(long n, float factor, float* g) {
  const long k = static_cast<long>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (k < n) g[k] *= factor;
}

}  // namespace

void adam_step(AdamState& s, std::span<Tensor> parameters, std::span<const Tensor> gradients,
               std::span<Tensor> m, std::span<Tensor> v) {
  if (gradients.size() != parameters.size() || m.size() != parameters.size() || v.size() != parameters.size())
    throw std::invalid_argument("adam_step (CUDA): parameter, gradient and state lists differ in length");
  ++s.step;
  const double bias1 = 1.0 - std::pow(s.beta1, static_cast<double>(s.step));
  const double bias2 = 1.0 - std::pow(s.beta2, static_cast<double>(s.step));
  for (std::size_t k = 0; k < parameters.size(); ++k) {
    const long n = static_cast<long>(parameters[k].numel());
    adam_kernel<<<blocks(n), kThreads>>>(
        n, parameters[k].data<float>(), gradients[k].data<float>(), m[k].data<float>(), v[k].data<float>(),
        AdamStep<float>{static_cast<float>(s.beta1), static_cast<float>(s.beta2),
                        static_cast<float>(s.lr / bias1), static_cast<float>(1.0 / std::sqrt(bias2)),
                        static_cast<float>(s.eps), static_cast<float>(s.weight_decay),
                        static_cast<float>(1.0 - s.lr * s.weight_decay), s.decoupled});
    check_launch("adam kernel");
  }
  check(cudaDeviceSynchronize(), "adam step");
}

double clip_grad_norm(std::span<Tensor> gradients, double max_norm) {
  double total = 0.0;
  for (const Tensor& g : gradients) {
    const long n = static_cast<long>(g.numel());
    const unsigned parts = blocks(n);
    Tensor partial = Tensor::empty({static_cast<std::int64_t>(parts)}, DType::f32, Device::cuda);
    sum_squares_kernel<<<parts, kThreads>>>(n, g.data<float>(), partial.data<float>());
    check_launch("sum of squares kernel");
    const Tensor host = partial.to(Device::cpu);
    for (float p : host.span<float>()) total += p;
  }
  const double norm = std::sqrt(total);
  if (norm > max_norm) {
    const auto factor = static_cast<float>(max_norm / (norm + 1e-6));
    for (Tensor& g : gradients) {
      const long n = static_cast<long>(g.numel());
      scale_kernel<<<blocks(n), kThreads>>>(n, factor, g.data<float>());
      check_launch("scale kernel");
    }
    check(cudaDeviceSynchronize(), "clip");
  }
  return norm;
}

}  // namespace qf::nn::cuda
