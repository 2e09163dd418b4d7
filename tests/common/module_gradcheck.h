// Gradient check of a whole module against finite differences (qf::gradcheck, float64): the inputs
// and every parameter of the module are the checked inputs, so one call covers the module's backward.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <vector>

#include "qf/nn/module.h"
#include "qf/tensor/gradcheck.h"
#include "qf/tensor/ops.h"
#include "qf/tensor/random.h"

namespace qf::test_support {

// sum(y * w) with fixed weights w ~ U(-1, 1) drawn from `seed`: a scalar whose gradient reaches every
// element of y with a different weight (a plain sum would hide a permuted or transposed gradient).
inline Var weighted_sum(const Var& y, std::uint64_t seed = 99) {
  Tensor weights = Tensor::empty(y.shape(), DType::f64);
  Rng(seed).fill_uniform(weights, -1.0, 1.0);
  return sum(y * Var(weights));
}

// `forward` maps the checked Vars (inputs first, then the module's parameters in named_parameters()
// order, all float64) to a scalar; the module's parameters are swapped for the checked ones.
inline void check_module(nn::Module& m, const std::vector<Tensor>& inputs,
                         const std::function<Var(const std::vector<Var>&)>& forward) {
  std::vector<Var*> params;
  std::vector<Tensor> all = inputs;
  for (auto& [name, p] : m.named_parameters()) {
    params.push_back(p);
    all.push_back(p->value());
  }
  const GradCheckResult r = gradcheck(
      [&](const std::vector<Var>& v) {
        for (std::size_t i = 0; i < params.size(); ++i) *params[i] = v[inputs.size() + i];
        return forward(v);
      },
      all);
  EXPECT_LT(r.max_relative_error, 1e-6) << r.worst_input;
}

// The common case: one input, outputs reduced by a fixed weighted sum.
inline void check_module(nn::Module& m, const Tensor& x, const std::function<Var(const Var&)>& forward) {
  check_module(m, {x}, [&](const std::vector<Var>& v) { return weighted_sum(forward(v[0])); });
}

}  // namespace qf::test_support
