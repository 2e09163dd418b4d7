// Test inputs: a float32 tensor of uniform values from a seeded generator, and (CUDA tests) device
// blocks poisoned with NaN so that an element a kernel fails to write is caught.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "qf/tensor/random.h"
#include "qf/tensor/tensor.h"

namespace qf::test_support {

inline Tensor random(Shape shape, std::uint64_t seed, double low = -1.0, double high = 1.0) {
  Tensor t = Tensor::empty(std::move(shape));
  Rng(seed).fill_uniform(t, low, high);
  return t;
}

}  // namespace qf::test_support
