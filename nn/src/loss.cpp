#include "qf/nn/loss.h"

#include <cmath>

namespace qf::nn {

Var bce_with_logits(const Var& logits, const Tensor& targets) {
  if (logits.shape() != targets.shape())
    throw ShapeError("bce_with_logits: logits " + to_string(logits.shape()) + " vs targets " +
                     to_string(targets.shape()));
  const Tensor y = targets.dtype() == logits.dtype() ? targets : targets.to(logits.dtype());
  const std::int64_t n = logits.value().numel();
  Tensor loss = Tensor::empty({}, logits.dtype());
  dispatch(logits.dtype(), [&]<class T>() {
    const T* x = logits.value().data<T>();
    const T* t = y.data<T>();
    double total = 0;
    for (std::int64_t i = 0; i < n; ++i)
      total += std::max(x[i], T(0)) - x[i] * t[i] + std::log1p(std::exp(-std::abs(x[i])));
    *loss.data<T>() = static_cast<T>(total / static_cast<double>(n));
  });
  return record_op("bce_with_logits", loss, {logits}, [x = logits.value(), y, n](Node& self) {
    // d/dx = (sigmoid(x) - y) / n
    Tensor dx = Tensor::empty(x.shape(), x.dtype());
    dispatch(x.dtype(), [&]<class T>() {
      const T g = static_cast<T>(self.grad.item() / static_cast<double>(n));
      const T* px = x.data<T>();
      const T* t = y.data<T>();
      T* d = dx.data<T>();
      for (std::int64_t i = 0; i < n; ++i) d[i] = g * (T(1) / (T(1) + std::exp(-px[i])) - t[i]);
    });
    self.inputs[0]->accumulate_grad(dx);
  });
}

Var cross_entropy(const Var& logits, std::span<const std::int64_t> targets) {
  if (logits.value().rank() != 2 || logits.dim(0) != static_cast<std::int64_t>(targets.size()))
    throw ShapeError("cross_entropy: logits " + to_string(logits.shape()) + " for " +
                     std::to_string(targets.size()) + " targets");
  const std::int64_t n = logits.dim(0), classes = logits.dim(1);
  for (auto t : targets)
    if (t < 0 || t >= classes)
      throw ShapeError("cross_entropy: target " + std::to_string(t) + " outside " + std::to_string(classes) +
                       " classes");
  // One-hot weights turn the pick into an elementwise product, keeping this a composition of ops.
  Tensor picked = Tensor::zeros(logits.shape(), logits.dtype());
  dispatch(picked.dtype(), [&]<class T>() {
    for (std::int64_t i = 0; i < n; ++i)
      picked.data<T>()[i * classes + targets[static_cast<std::size_t>(i)]] = T(1);
  });
  return scale(sum(log_softmax(logits, 1) * Var(picked)), -1.0 / static_cast<double>(n));
}

Var mse_loss(const Var& prediction, const Tensor& target) {
  if (prediction.shape() != target.shape())
    throw ShapeError("mse_loss: prediction " + to_string(prediction.shape()) + " vs target " +
                     to_string(target.shape()));
  const Tensor t = target.dtype() == prediction.dtype() ? target : target.to(prediction.dtype());
  return mean(square(prediction - Var(t)));
}

}  // namespace qf::nn
