// Optimisers (PyTorch semantics), gradient clipping and learning-rate schedules. Optimisers update
// parameter values in place from their accumulated gradients; parameters without a gradient are
// skipped.
#pragma once

#include <vector>

#include "qf/tensor/autodiff.h"

namespace qf::nn {

class Optimizer {
 public:
  explicit Optimizer(std::vector<Var> parameters, double lr) : parameters_(std::move(parameters)), lr_(lr) {}
  virtual ~Optimizer() = default;
  virtual void step() = 0;
  void zero_grad();
  const std::vector<Var>& parameters() const { return parameters_; }
  double lr() const { return lr_; }
  void set_lr(double lr) { lr_ = lr; }

 protected:
  std::vector<Var> parameters_;
  double lr_;
};

struct SGDOptions {
  double lr = 0.01, momentum = 0.0, weight_decay = 0.0;
  bool nesterov = false;
};
class SGD : public Optimizer {
 public:
  SGD(std::vector<Var> parameters, SGDOptions options);
  void step() override;

 private:
  SGDOptions options_;
  std::vector<Tensor> velocity_;
};

struct AdamOptions {
  double lr = 1e-3, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0.0;
};
// Adam adds weight_decay * w to the gradient (L2); AdamW decays the weights directly (decoupled).
class Adam : public Optimizer {
 public:
  Adam(std::vector<Var> parameters, AdamOptions options, bool decoupled_weight_decay = false);
  void step() override;

 private:
  AdamOptions options_;
  bool decoupled_;
  std::int64_t steps_ = 0;
  std::vector<Tensor> m_, v_;
};
class AdamW : public Adam {
 public:
  AdamW(std::vector<Var> parameters, AdamOptions options) : Adam(std::move(parameters), options, true) {}
};

// Scales all gradients so that their global L2 norm is at most max_norm; returns the norm before.
double clip_grad_norm(const std::vector<Var>& parameters, double max_norm);

// Learning rate as a function of the epoch (0-based).
class StepLR {
 public:
  StepLR(double base_lr, std::int64_t step_size, double gamma)
      : base_(base_lr), step_(step_size), gamma_(gamma) {}
  double lr(std::int64_t epoch) const;

 private:
  double base_;
  std::int64_t step_;
  double gamma_;
};
class CosineLR {
 public:
  CosineLR(double base_lr, std::int64_t total_epochs, double min_lr = 0.0)
      : base_(base_lr), total_(total_epochs), min_(min_lr) {}
  double lr(std::int64_t epoch) const;

 private:
  double base_;
  std::int64_t total_;
  double min_;
};

}  // namespace qf::nn
