// CUDA runtime queries. The kernels of the CUDA backend live beside this file.
#include <cuda_runtime.h>

namespace qf::cuda_detail {

int device_count() {
  int count = 0;
  // Without a driver or device this fails; that simply means no device.
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky error
    return 0;
  }
  return count;
}

}  // namespace qf::cuda_detail
