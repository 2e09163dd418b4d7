#include "qf/nn/trainer.h"

#include <algorithm>
#include <numeric>

#include "qf/nn/loss.h"

namespace qf::nn {

LSTMClassifier::LSTMClassifier(RNNOptions options, Rng& rng)
    : lstm(options, rng), head(options.hidden_size, 1, rng, true, options.dtype) {
  register_module("lstm", lstm);
  register_module("head", head);
}

Var LSTMClassifier::forward(const Var& x) {
  const RNNOutput out = lstm.forward(x);
  const std::int64_t layers = out.h_n.dim(0);
  const Var last = reshape(slice(out.h_n, 0, layers - 1, layers), {x.dim(0), out.h_n.dim(2)});
  return head.forward(last);
}

Tensor gather_rows(const Tensor& t, std::span<const std::int64_t> rows) {
  Shape shape = t.shape();
  shape[0] = static_cast<std::int64_t>(rows.size());
  Tensor out = Tensor::empty(shape, t.dtype());
  const std::int64_t width = t.numel() / std::max<std::int64_t>(t.dim(0), 1);
  dispatch(t.dtype(), [&]<class T>() {
    for (std::size_t i = 0; i < rows.size(); ++i)
      std::copy_n(t.data<T>() + rows[i] * width, width, out.data<T>() + static_cast<std::int64_t>(i) * width);
  });
  return out;
}

namespace {

// Adds a batch's loss and correct predictions to the running totals.
void tally(const Var& logits, const Tensor& targets, double batch_loss, EpochStats& totals) {
  const std::int64_t n = targets.numel();
  totals.loss += batch_loss * static_cast<double>(n);
  dispatch(logits.dtype(), [&]<class T>() {
    const T* z = logits.value().data<T>();
    const T* y = targets.data<T>();
    for (std::int64_t i = 0; i < n; ++i) totals.accuracy += (z[i] > 0) == (y[i] > T(0.5)) ? 1.0 : 0.0;
  });
}

void finish(EpochStats& totals, std::int64_t n) {
  totals.loss /= static_cast<double>(std::max<std::int64_t>(n, 1));
  totals.accuracy /= static_cast<double>(std::max<std::int64_t>(n, 1));
}

}  // namespace

EpochStats train_epoch(const std::function<Var(const Var&)>& model, Optimizer& optimizer,
                       const Tensor& inputs, const Tensor& targets, const TrainOptions& options, Rng& rng) {
  const std::int64_t n = inputs.dim(0);
  std::vector<std::int64_t> order(static_cast<std::size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  if (options.shuffle)  // Fisher-Yates with our own generator, identical on every platform
    for (std::int64_t i = n - 1; i > 0; --i)
      std::swap(order[static_cast<std::size_t>(i)],
                order[rng.next_u64() % static_cast<std::uint64_t>(i + 1)]);
  EpochStats totals;
  for (std::int64_t begin = 0; begin < n; begin += options.batch_size) {
    const std::span<const std::int64_t> rows(
        order.data() + begin, static_cast<std::size_t>(std::min(options.batch_size, n - begin)));
    const Tensor y = gather_rows(targets, rows);
    optimizer.zero_grad();
    const Var logits = model(Var(gather_rows(inputs, rows)));
    Var loss = bce_with_logits(logits, y);
    loss.backward();
    if (options.clip_norm > 0) clip_grad_norm(optimizer.parameters(), options.clip_norm);
    optimizer.step();
    tally(logits, y, loss.value().item(), totals);
  }
  finish(totals, n);
  return totals;
}

EpochStats evaluate(const std::function<Var(const Var&)>& model, const Tensor& inputs, const Tensor& targets,
                    std::int64_t batch_size) {
  NoGradGuard no_grad;
  const std::int64_t n = inputs.dim(0);
  EpochStats totals;
  for (std::int64_t begin = 0; begin < n; begin += batch_size) {
    const std::int64_t end = std::min(begin + batch_size, n);
    const Tensor y = targets.slice(begin, end);
    const Var logits = model(Var(inputs.slice(begin, end)));
    tally(logits, y, bce_with_logits(logits, y).value().item(), totals);
  }
  finish(totals, n);
  return totals;
}

}  // namespace qf::nn
