// Basic layers: Linear, Dropout, LayerNorm. Initialisation follows PyTorch's defaults, drawn from
// the caller's Rng so that a seed fixes every weight.
#pragma once

#include "qf/nn/module.h"
#include "qf/tensor/ops.h"

namespace qf::nn {

// y = x W^T + b; weight [out, in], bias [out]; init U(-1/sqrt(in), 1/sqrt(in)).
class Linear : public Module {
 public:
  Linear(std::int64_t in_features, std::int64_t out_features, Rng& rng, bool bias = true,
         DType dtype = DType::f32);
  Var forward(const Var& x) const { return linear(x, weight, bias); }
  std::string type_name() const override { return "Linear"; }
  Config config() const override;

  Var weight, bias;

 private:
  std::int64_t in_, out_;
};

// Inverted dropout, active only in training mode.
class Dropout : public Module {
 public:
  Dropout(double p, std::uint64_t seed) : p_(p), rng_(seed) {}
  Var forward(const Var& x) { return dropout(x, p_, rng_, training()); }
  std::string type_name() const override { return "Dropout"; }

 private:
  double p_;
  Rng rng_;
};

// Normalises the last axis to zero mean and unit variance, then scales and shifts (weight, bias).
class LayerNorm : public Module {
 public:
  explicit LayerNorm(std::int64_t features, double eps = 1e-5, DType dtype = DType::f32);
  Var forward(const Var& x) const;
  std::string type_name() const override { return "LayerNorm"; }

  Var weight, bias;

 private:
  double eps_;
};

// Uniform(-bound, bound) initialisation of a new parameter.
Var uniform_parameter(Shape shape, double bound, Rng& rng, DType dtype);

}  // namespace qf::nn
