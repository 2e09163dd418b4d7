// Gradient checking: compares reverse-mode gradients with central finite differences in float64.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "qf/tensor/autodiff.h"

namespace qf {

struct GradCheckResult {
  // Worst over inputs of max_i |analytic_i - numeric_i| / max(max_i |numeric_i|, max_i |analytic_i|),
  // i.e. the error relative to the gradient's own scale (elementwise ratios are noise for tiny entries).
  double max_relative_error = 0.0;
  std::string worst_input;  // "input k, element i: analytic a vs numeric n"
};

// `f` maps float64 Vars (one per entry of `inputs`, all requiring grad) to a scalar Var.
GradCheckResult gradcheck(const std::function<Var(const std::vector<Var>&)>& f,
                          const std::vector<Tensor>& inputs, double eps = 1e-6);

}  // namespace qf
