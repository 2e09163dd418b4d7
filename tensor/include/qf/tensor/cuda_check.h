// Error checking for CUDA runtime calls, for .cu sources only (it includes the CUDA runtime).
#pragma once

#include <cuda_runtime.h>

#include <stdexcept>
#include <string>

namespace qf::cuda {

// Throws std::runtime_error("CUDA <what>: <reason>") unless the call succeeded.
inline void check(cudaError_t status, const char* what) {
  if (status != cudaSuccess)
    throw std::runtime_error(std::string("CUDA ") + what + ": " + cudaGetErrorString(status));
}

}  // namespace qf::cuda
