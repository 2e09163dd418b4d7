// Which compute devices this build and this machine offer.
#pragma once

#include <string>

#include "qf/tensor/tensor.h"

namespace qf {

bool built_with_cuda();
// Number of usable CUDA devices: 0 in a CPU-only build or on a machine without a GPU or driver.
int cuda_device_count();
// "cpu" or "cuda" -> Device; throws std::invalid_argument naming the choice when it is unknown or
// not available here.
Device parse_device(const std::string& name);

}  // namespace qf
