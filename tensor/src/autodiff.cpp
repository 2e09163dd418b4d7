#include "qf/tensor/autodiff.h"

#include <unordered_set>

namespace qf {

namespace {
thread_local bool g_grad_enabled = true;
}

bool grad_enabled() {
  return g_grad_enabled;
}
NoGradGuard::NoGradGuard() : previous_(g_grad_enabled) {
  g_grad_enabled = false;
}
NoGradGuard::~NoGradGuard() {
  g_grad_enabled = previous_;
}

void Node::accumulate_grad(Tensor g) {
  if (!requires_grad) return;
  if (g.shape() != value.shape())
    throw ShapeError(std::string("backward of ") + op + ": gradient of shape " + to_string(g.shape()) +
                     " for a value of shape " + to_string(value.shape()));
  if (!grad.defined()) {
    // A shared gradient (e.g. add passing the same tensor to both inputs) must be copied, or a later
    // accumulation into one input's gradient would change the other's.
    grad = g.dtype() != value.dtype() ? g.to(value.dtype())
                                      : (g.owns_storage_alone() ? std::move(g) : g.clone());
  } else {
    grad.add_(g);
  }
}

Var::Var(Tensor value, bool requires_grad) : node_(std::make_shared<Node>()) {
  node_->value = std::move(value);
  node_->requires_grad = requires_grad;
}

void Var::backward() {
  if (value().numel() != 1)
    throw ShapeError("Var::backward: output of shape " + to_string(shape()) +
                     " is not a scalar; pass a seed gradient");
  backward(Tensor::full(shape(), 1.0, dtype()));
}

void Var::backward(const Tensor& seed) {
  if (!node_->requires_grad) throw std::logic_error("Var::backward: this value does not require grad");
  // Iterative post-order DFS gives a topological order without recursion depth limits. `order`
  // owns its nodes: releasing a node's inputs below must not free nodes still to be processed.
  std::vector<std::shared_ptr<Node>> order;
  std::unordered_set<Node*> visited;
  std::vector<std::pair<std::shared_ptr<Node>, std::size_t>> stack{{node_, 0}};
  visited.insert(node_.get());
  while (!stack.empty()) {
    auto& [node, next] = stack.back();
    if (next < node->inputs.size()) {
      std::shared_ptr<Node> child = node->inputs[next++];
      if (child->requires_grad && visited.insert(child.get()).second) stack.emplace_back(std::move(child), 0);
    } else {
      order.push_back(node);
      stack.pop_back();
    }
  }
  node_->accumulate_grad(seed);
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    Node* node = it->get();
    if (!node->backward) continue;  // leaf: keep its gradient
    if (node->grad.defined()) node->backward(*node);
    // Free what this node held for backward; its gradient is of no further use.
    node->backward = nullptr;
    node->inputs.clear();
    node->grad = Tensor();
  }
}

Var record_op(const char* op, Tensor value, const std::vector<Var>& inputs,
              std::function<void(Node& self)> backward) {
  Var out(std::move(value), false);
  if (!g_grad_enabled) return out;
  bool any = false;
  for (const auto& in : inputs) any = any || (in.defined() && in.requires_grad());
  if (!any) return out;
  Node& node = *out.node();
  node.requires_grad = true;
  node.op = op;
  node.backward = std::move(backward);
  for (const auto& in : inputs) node.inputs.push_back(in.defined() ? in.node() : std::make_shared<Node>());
  return out;
}

}  // namespace qf
