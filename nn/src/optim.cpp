#include "qf/nn/optim.h"

#include <cmath>
#include <numbers>

#include "adam_math.h"

namespace qf::nn {

void Optimizer::zero_grad() {
  for (auto& p : parameters_) p.zero_grad();
}

SGD::SGD(std::vector<Var> parameters, SGDOptions options)
    : Optimizer(std::move(parameters), options.lr), options_(options) {
  for (auto& p : parameters_) velocity_.push_back(Tensor::zeros_like(p.value()));
}

void SGD::step() {
  for (std::size_t k = 0; k < parameters_.size(); ++k) {
    Var& p = parameters_[k];
    if (!p.grad().defined()) continue;
    dispatch(p.dtype(), [&]<class T>() {
      T* w = p.value().data<T>();
      const T* g = p.grad().data<T>();
      T* v = velocity_[k].data<T>();
      const T lr = static_cast<T>(lr_), mu = static_cast<T>(options_.momentum),
              wd = static_cast<T>(options_.weight_decay);
      for (std::int64_t i = 0; i < p.value().numel(); ++i) {
        T d = g[i] + wd * w[i];
        if (options_.momentum != 0.0) {
          v[i] = mu * v[i] + d;
          d = options_.nesterov ? d + mu * v[i] : v[i];
        }
        w[i] -= lr * d;
      }
    });
  }
}

Adam::Adam(std::vector<Var> parameters, AdamOptions options, bool decoupled_weight_decay)
    : Optimizer(std::move(parameters), options.lr), options_(options), decoupled_(decoupled_weight_decay) {
  for (auto& p : parameters_) {
    m_.push_back(Tensor::zeros_like(p.value()));
    v_.push_back(Tensor::zeros_like(p.value()));
  }
}

void Adam::step() {
  ++steps_;
  const double bias1 = 1.0 - std::pow(options_.beta1, static_cast<double>(steps_));
  const double bias2 = 1.0 - std::pow(options_.beta2, static_cast<double>(steps_));
  for (std::size_t k = 0; k < parameters_.size(); ++k) {
    Var& p = parameters_[k];
    if (!p.grad().defined()) continue;
    dispatch(p.dtype(), [&]<class T>() {
      T* w = p.value().data<T>();
      const T* g = p.grad().data<T>();
      T* m = m_[k].data<T>();
      T* v = v_[k].data<T>();
      const AdamStep<T> step{static_cast<T>(options_.beta1),
                             static_cast<T>(options_.beta2),
                             static_cast<T>(lr_ / bias1),
                             static_cast<T>(1.0 / std::sqrt(bias2)),
                             static_cast<T>(options_.eps),
                             static_cast<T>(options_.weight_decay),
                             static_cast<T>(1.0 - lr_ * options_.weight_decay),
                             decoupled_};
      for (std::int64_t i = 0; i < p.value().numel(); ++i) adam_update(step, g[i], w[i], m[i], v[i]);
    });
  }
}

double clip_grad_norm(const std::vector<Var>& parameters, double max_norm) {
  double total = 0.0;
  for (const auto& p : parameters) {
    if (!p.grad().defined()) continue;
    dispatch(p.dtype(), [&]<class T>() {
      for (T g : p.grad().span<T>()) total += static_cast<double>(g) * static_cast<double>(g);
    });
  }
  const double norm = std::sqrt(total);
  if (norm > max_norm) {
    const double factor = max_norm / (norm + 1e-6);
    for (auto p : parameters) {
      if (!p.grad().defined()) continue;
      dispatch(p.dtype(), [&]<class T>() {
        for (T& g : p.grad().span<T>()) g *= static_cast<T>(factor);
      });
    }
  }
  return norm;
}

double StepLR::lr(std::int64_t epoch) const {
  return base_ * std::pow(gamma_, static_cast<double>(epoch / std::max<std::int64_t>(step_, 1)));
}

double CosineLR::lr(std::int64_t epoch) const {
  const double progress =
      std::min(1.0, static_cast<double>(epoch) / static_cast<double>(std::max<std::int64_t>(total_, 1)));
  return min_ + 0.5 * (base_ - min_) * (1.0 + std::cos(std::numbers::pi * progress));
}

}  // namespace qf::nn
