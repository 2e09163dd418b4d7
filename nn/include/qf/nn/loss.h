// Loss functions, each returning the mean over elements (PyTorch's reduction='mean').
#pragma once

#include <span>

#include "qf/tensor/ops.h"

namespace qf::nn {

// Binary cross-entropy on logits, computed stably: max(x,0) - x*y + log(1 + exp(-|x|)).
// targets: same shape as logits, values in [0, 1].
Var bce_with_logits(const Var& logits, const Tensor& targets);
// Cross-entropy of logits [N, C] against class indices (N of them).
Var cross_entropy(const Var& logits, std::span<const std::int64_t> targets);
// Mean squared error.
Var mse_loss(const Var& prediction, const Tensor& target);

}  // namespace qf::nn
