// CUDA tests: device blocks of the given shapes NaN-filled and freed again, so that the caching
// allocator hands the poisoned blocks to the next allocations of the same sizes and an element a kernel
// fails to write shows up as NaN (which no comparison passes).
#pragma once

#include <cstddef>
#include <vector>

#include "qf/tensor/cuda.h"
#include "qf/tensor/tensor.h"

namespace qf::test_support {

inline void poison_next_allocations(const std::vector<Shape>& shapes) {
  std::vector<Tensor> blocks;
  for (const auto& s : shapes) {
    blocks.push_back(Tensor::empty(s, DType::f32, Device::cuda));
    cuda::fill_bytes(blocks.back().data<float>(), 0xFF, static_cast<std::size_t>(blocks.back().numel()) * 4);
  }
}

}  // namespace qf::test_support
