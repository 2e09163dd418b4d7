#include "qf/nn/trainer.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "early_stopping.h"
#include "qf/core/require.h"
#include "qf/nn/loss.h"

namespace qf::nn {

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

TensorBatchSource::TensorBatchSource(Tensor inputs, Tensor targets)
    : inputs_(std::move(inputs)), targets_(std::move(targets)) {
  if (inputs_.dim(0) != targets_.dim(0))
    throw ShapeError("TensorBatchSource: inputs " + to_string(inputs_.shape()) + " and targets " +
                     to_string(targets_.shape()) + " differ in their first axis");
}

std::pair<Tensor, Tensor> TensorBatchSource::batch(std::span<const std::int64_t> rows) const {
  return {gather_rows(inputs_, rows), gather_rows(targets_, rows)};
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

// Calls body(rows of the batch) for consecutive batches of 0 .. n-1.
template <class Body>
void for_each_batch(std::int64_t n, std::int64_t batch_size, Body&& body) {
  std::vector<std::int64_t> rows;
  for (std::int64_t begin = 0; begin < n; begin += batch_size) {
    rows.resize(static_cast<std::size_t>(std::min(batch_size, n - begin)));
    std::iota(rows.begin(), rows.end(), begin);
    body(std::span<const std::int64_t>(rows));
  }
}

}  // namespace

EpochStats train_epoch(const ModelFunction& model, Optimizer& optimizer, const BatchSource& data,
                       const TrainOptions& options, Rng& rng) {
  const std::int64_t n = data.size();
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
    const auto [x, y] = data.batch(rows);
    optimizer.zero_grad();
    const Var logits = model(Var(x));
    Var loss = bce_with_logits(logits, y);
    loss.backward();
    if (options.clip_norm > 0) clip_grad_norm(optimizer.parameters(), options.clip_norm);
    optimizer.step();
    tally(logits, y, loss.value().item(), totals);
  }
  finish(totals, n);
  return totals;
}

EpochStats train_epoch(const ModelFunction& model, Optimizer& optimizer, const Tensor& inputs,
                       const Tensor& targets, const TrainOptions& options, Rng& rng) {
  return train_epoch(model, optimizer, TensorBatchSource(inputs, targets), options, rng);
}

EpochStats evaluate(const ModelFunction& model, const BatchSource& data, std::int64_t batch_size) {
  NoGradGuard no_grad;
  EpochStats totals;
  for_each_batch(data.size(), batch_size, [&](std::span<const std::int64_t> rows) {
    const auto [x, y] = data.batch(rows);
    const Var logits = model(Var(x));
    tally(logits, y, bce_with_logits(logits, y).value().item(), totals);
  });
  finish(totals, data.size());
  return totals;
}

EpochStats evaluate(const ModelFunction& model, const Tensor& inputs, const Tensor& targets,
                    std::int64_t batch_size) {
  return evaluate(model, TensorBatchSource(inputs, targets), batch_size);
}

std::vector<double> predict_proba(const ModelFunction& model, const BatchSource& data,
                                  std::int64_t batch_size) {
  NoGradGuard no_grad;
  std::vector<double> p;
  p.reserve(static_cast<std::size_t>(data.size()));
  for_each_batch(data.size(), batch_size, [&](std::span<const std::int64_t> rows) {
    const Var logits = model(Var(data.batch(rows).first));
    dispatch(logits.dtype(), [&]<class T>() {
      for (const T z : logits.value().span<T>()) p.push_back(1.0 / (1.0 + std::exp(-static_cast<double>(z))));
    });
  });
  return p;
}

FitResult fit(SequenceClassifier& model, const BatchSource& train, const BatchSource* validation,
              const FitOptions& o, Rng& rng,
              const std::function<void(std::int64_t, const EpochStats&, const EpochStats*)>& on_epoch) {
  Adam optimizer(model.parameters(), AdamOptions{o.learning_rate, 0.9, 0.999, 1e-8, o.weight_decay},
                 /*decoupled_weight_decay=*/true);
  const CosineLR schedule(o.learning_rate, o.epochs, o.learning_rate * 0.05);
  QF_REQUIRE(o.train.batch_size >= 1, "fit", "batch_size", o.train.batch_size, "must be at least 1");
  QF_REQUIRE(o.epochs >= 1, "fit", "epochs", o.epochs, "must be at least 1");
  const ModelFunction forward = [&](const Var& x) { return model.forward(x); };
  const bool validate = validation != nullptr && validation->size() > 0;
  const EarlyStopping stopping{o.patience};
  FitResult result;
  EarlyStopping::start(result);
  std::vector<Tensor> best;  // parameter values of the best epoch so far
  for (std::int64_t epoch = 1; epoch <= o.epochs; ++epoch) {
    if (o.cosine_schedule) optimizer.set_lr(schedule.lr(epoch - 1));
    model.train();
    result.train.push_back(train_epoch(forward, optimizer, train, o.train, rng));
    result.train_samples_seen += train.size();
    result.epochs_run = epoch;
    if (!validate) {
      if (on_epoch) on_epoch(epoch, result.train.back(), nullptr);
      continue;
    }
    model.eval();
    result.validation.push_back(evaluate(forward, *validation));
    result.eval_samples_seen += validation->size();
    if (on_epoch) on_epoch(epoch, result.train.back(), &result.validation.back());
    const EpochVerdict verdict = stopping.after_epoch(result, epoch);
    if (verdict == EpochVerdict::improved) {
      best.clear();
      for (const Var& p : optimizer.parameters()) best.push_back(p.value().clone());
    } else if (verdict == EpochVerdict::stop) {
      break;
    }
  }
  model.eval();
  if (!EarlyStopping::finish(result, validate)) return result;  // the last epoch's parameters stay
  const auto& parameters = optimizer.parameters();
  for (std::size_t k = 0; k < best.size(); ++k) {
    Tensor value = parameters[k].value();  // a handle on the live parameter's storage
    value.copy_from(best[k]);
  }
  return result;
}

}  // namespace qf::nn
