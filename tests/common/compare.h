// Comparing float32 results of two implementations (CPU and GPU paths, kernels and references).
#pragma once

#include <algorithm>
#include <cmath>

#include "qf/tensor/tensor.h"

namespace qf::test_support {

// Element-wise relative error of `got` against `want`, each element measured against at least 1 % of
// want's largest magnitude (and 1e-3): a gradient summed over B x T terms carries the float rounding of
// its largest terms, so an element that nearly cancels is judged at the tensor's scale, not its own. A
// wrong index or a missing term still shows as an error of order 1; a NaN anywhere never passes.
inline double scaled_relative_error(const Tensor& got, const Tensor& want) {
  const Tensor w = want.to(Device::cpu).to(DType::f64);
  double largest = 0.0;
  for (const double v : w.span<double>()) largest = std::max(largest, std::abs(v));
  return max_relative_error(got.to(Device::cpu), want.to(Device::cpu), std::max(1e-3, 1e-2 * largest));
}

}  // namespace qf::test_support
