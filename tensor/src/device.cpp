#include "qf/tensor/device.h"

#include <stdexcept>

namespace qf {

#ifdef QF_WITH_CUDA
namespace cuda_detail {
int device_count();  // device_cuda.cu
}
bool built_with_cuda() {
  return true;
}
int cuda_device_count() {
  return cuda_detail::device_count();
}
#else
bool built_with_cuda() {
  return false;
}
int cuda_device_count() {
  return 0;
}
#endif

Device parse_device(const std::string& name) {
  if (name == "cpu") return Device::cpu;
  if (name == "cuda") {
    if (!built_with_cuda()) throw std::invalid_argument("device 'cuda': this build has no CUDA backend");
    if (cuda_device_count() == 0)
      throw std::invalid_argument("device 'cuda': no CUDA device on this machine");
    return Device::cuda;
  }
  throw std::invalid_argument("unknown device '" + name + "' (expected cpu or cuda)");
}

}  // namespace qf
