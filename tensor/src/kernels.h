// Internal CPU helpers shared by the tensor sources (not a public header).
#pragma once

#include "qf/tensor/tensor.h"

namespace qf::kernels {

// The NumPy broadcast of two shapes; throws ShapeError naming both (and the op) when incompatible.
Shape broadcast_shape(const Shape& a, const Shape& b, const char* op);

// Sums g (of a broadcast shape) down to `target`, the shape of an operand that was broadcast.
Tensor sum_to(const Tensor& g, const Shape& target);

}  // namespace qf::kernels
