// Reverse-mode automatic differentiation over Tensors.
//
// A Var is a handle to a Node: a value, its gradient, and (for results of ops) the inputs and a
// backward function. Ops (ops.h) build the graph as they run; Var::backward() walks it in reverse
// topological order, each node adding its contribution to its inputs' gradients. Leaf gradients
// accumulate across backward() calls until zero_grad(); intermediate gradients and saved tensors are
// released as soon as they are used, so a graph can be run backward once.
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include "qf/tensor/tensor.h"

namespace qf {

struct Node {
  Tensor value;
  Tensor grad;  // undefined until something flows into it
  bool requires_grad = false;
  const char* op = "leaf";
  std::vector<std::shared_ptr<Node>> inputs;
  // Reads this->grad and accumulates into inputs[i]->grad (see accumulate_grad).
  std::function<void(Node& self)> backward;

  // Adds g into grad; no-op when this node does not require grad. The first gradient is adopted
  // without a copy when the caller hands over the only handle to its storage.
  void accumulate_grad(Tensor g);
};

class Var {
 public:
  Var() = default;
  explicit Var(Tensor value, bool requires_grad = false);
  static Var parameter(Tensor value) { return Var(std::move(value), true); }

  bool defined() const { return node_ != nullptr; }
  const Tensor& value() const { return node_->value; }
  Tensor& value() { return node_->value; }  // optimisers update parameters in place
  const Shape& shape() const { return node_->value.shape(); }
  std::int64_t dim(int axis) const { return node_->value.dim(axis); }
  DType dtype() const { return node_->value.dtype(); }
  bool requires_grad() const { return node_->requires_grad; }
  const Tensor& grad() const { return node_->grad; }
  Tensor& grad() { return node_->grad; }
  void zero_grad() { node_->grad = Tensor(); }

  // Runs the graph backward from this Var: a scalar is seeded with 1, otherwise pass the seed.
  void backward();
  void backward(const Tensor& seed);

  Var detach() const { return Var(node_->value, false); }
  const std::shared_ptr<Node>& node() const { return node_; }

 private:
  std::shared_ptr<Node> node_;
};

// True unless a NoGradGuard is alive on this thread.
bool grad_enabled();

// Disables graph recording on this thread while alive (inference, optimiser updates).
class NoGradGuard {
 public:
  NoGradGuard();
  ~NoGradGuard();
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool previous_;
};

// Wraps the result of an op: records inputs and backward only when grad mode is on and some
// input requires grad; otherwise returns a plain constant Var.
Var record_op(const char* op, Tensor value, const std::vector<Var>& inputs,
              std::function<void(Node& self)> backward);

}  // namespace qf
