// What nn's CUDA sources share (private to nn): error checks for the CUDA runtime and cuBLAS, the one
// cuBLAS handle, and the launch geometry of the one-thread-per-element kernels.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <stdexcept>
#include <string>

#include "qf/tensor/cuda_check.h"

namespace qf::nn::cuda {

using qf::cuda::check;  // cudaError_t

inline void check(cublasStatus_t status, const char* what) {
  if (status != CUBLAS_STATUS_SUCCESS) throw std::runtime_error(std::string("cuBLAS ") + what + " failed");
}

// After a kernel launch: throws if the launch itself failed (errors inside a kernel surface later).
inline void check_launch(const char* what) {
  check(cudaGetLastError(), what);
}

// The process's cuBLAS handle, created on first use, with cuBLAS's defaults: it runs on the legacy
// default stream, as every kernel of ours.
inline cublasHandle_t cublas_handle() {
  static cublasHandle_t h = [] {
    cublasHandle_t created = nullptr;
    check(cublasCreate(&created), "create");
    return created;
  }();
  return h;
}

// Threads per block of the one-thread-per-element kernels, and the blocks that cover n elements.
constexpr int kThreads = 256;
inline unsigned blocks(long long n) {
  return static_cast<unsigned>((n + kThreads - 1) / kThreads);
}

}  // namespace qf::nn::cuda
