#include "qf/nn/layers.h"

#include <cmath>

namespace qf::nn {

Var uniform_parameter(Shape shape, double bound, Rng& rng, DType dtype) {
  Tensor t = Tensor::empty(std::move(shape), dtype);
  rng.fill_uniform(t, -bound, bound);
  return Var::parameter(t);
}

Linear::Linear(std::int64_t in_features, std::int64_t out_features, Rng& rng, bool bias, DType dtype)
    : in_(in_features), out_(out_features) {
  const double bound = 1.0 / std::sqrt(static_cast<double>(in_features));
  weight = uniform_parameter({out_features, in_features}, bound, rng, dtype);
  register_parameter("weight", weight);
  if (bias) {
    this->bias = uniform_parameter({out_features}, bound, rng, dtype);
    register_parameter("bias", this->bias);
  }
}

Config Linear::config() const {
  return {{"in_features", std::to_string(in_)}, {"out_features", std::to_string(out_)}};
}

LayerNorm::LayerNorm(std::int64_t features, double eps, DType dtype) : eps_(eps) {
  weight = Var::parameter(Tensor::full({features}, 1.0, dtype));
  bias = Var::parameter(Tensor::zeros({features}, dtype));
  register_parameter("weight", weight);
  register_parameter("bias", bias);
}

Var LayerNorm::forward(const Var& x) const {
  const Var centered = x - mean(x, -1, true);
  const Var variance = mean(square(centered), -1, true);
  return centered / sqrt(add_scalar(variance, eps_)) * weight + bias;
}

}  // namespace qf::nn
