// The backend-independent half of multi-model training: stacking, batches, the CPU reference step and
// fit_multi (nn::fit's loop, run for all models at once).
#include "qf/nn/lstm_multi.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>
#include <string>

#include "early_stopping.h"
#include "qf/core/require.h"
#include "qf/nn/loss.h"
#include "qf/tensor/parallel.h"

namespace qf::nn {

std::vector<Tensor> stack_parameters(std::span<LSTMClassifier* const> models) {
  QF_REQUIRE_MSG(!models.empty(), "stack_parameters", "no models");
  const std::vector<Var> first = models[0]->parameters();
  const auto n = static_cast<std::int64_t>(models.size());
  std::vector<Tensor> stacked;
  for (const Var& p : first) {
    Shape shape{n};
    shape.insert(shape.end(), p.shape().begin(), p.shape().end());
    stacked.push_back(Tensor::empty(shape, DType::f32));
  }
  for (std::int64_t m = 0; m < n; ++m) {
    const std::vector<Var> params = models[static_cast<std::size_t>(m)]->parameters();
    for (std::size_t k = 0; k < params.size(); ++k) {
      Tensor row = stacked[k][m];  // a view of slot m
      row.copy_from(params[k].value());
    }
  }
  return stacked;
}

void unstack_parameters(std::span<const Tensor> stacked, std::span<LSTMClassifier* const> models) {
  for (std::size_t m = 0; m < models.size(); ++m) {
    const std::vector<Var> params = models[m]->parameters();
    QF_REQUIRE_MSG(params.size() == stacked.size(), "unstack_parameters",
                   stacked.size() << " stacked tensors for model " << m << " with " << params.size());
    for (std::size_t k = 0; k < params.size(); ++k) {
      Tensor value = params[k].value();  // a handle on the live parameter's storage
      value.copy_from(stacked[k][static_cast<std::int64_t>(m)]);
    }
  }
}

MultiLSTMShape multi_shape_of(std::span<LSTMClassifier* const> models) {
  QF_REQUIRE_MSG(!models.empty(), "multi-model LSTM", "no models");
  const RNNOptions& o = models[0]->lstm.options();
  for (std::size_t k = 0; k < models.size(); ++k) {
    const RNNOptions& p = models[k]->lstm.options();
    QF_REQUIRE_MSG(p.input_size == o.input_size && p.hidden_size == o.hidden_size &&
                       p.num_layers == o.num_layers && p.dtype == DType::f32,
                   "multi-model LSTM",
                   "the models must be float32 and of one shape (model "
                       << k << ": " << to_string(p.dtype) << ", input " << p.input_size << ", hidden "
                       << p.hidden_size << ", layers " << p.num_layers << "; model 0: input " << o.input_size
                       << ", hidden " << o.hidden_size << ", layers " << o.num_layers << ")");
    // Dropout acts between layers only; the lockstep step has none.
    QF_REQUIRE(p.num_layers == 1 || p.dropout == 0.0, "multi-model LSTM", "dropout", p.dropout,
               "between layers is not supported");
  }
  return {static_cast<std::int64_t>(models.size()), o.input_size, o.hidden_size, o.num_layers};
}

std::vector<Shape> stacked_parameter_shapes(const MultiLSTMShape& shape) {
  const std::int64_t N = shape.models, H = shape.hidden_size;
  std::vector<Shape> shapes;
  for (std::int64_t l = 0; l < shape.num_layers; ++l) {
    const std::int64_t in = l == 0 ? shape.input_size : H;
    for (const Shape& s : {Shape{N, 4 * H, in}, Shape{N, 4 * H, H}, Shape{N, 4 * H}, Shape{N, 4 * H}})
      shapes.push_back(s);
  }
  shapes.push_back({N, 1, H});
  shapes.push_back({N, 1});
  return shapes;
}

MultiBatch make_multi_batch(std::int64_t models, std::int64_t batch, std::int64_t steps,
                            std::int64_t features) {
  return {Tensor::zeros({models, batch, steps, features}), Tensor::zeros({models, batch}),
          std::vector<std::int64_t>(static_cast<std::size_t>(models), 0)};
}

void fill_multi_batch(MultiBatch& b, std::int64_t model, const BatchSource* source,
                      std::span<const std::int64_t> rows) {
  const auto r = static_cast<std::int64_t>(rows.size());
  QF_REQUIRE_MSG(r <= b.x.dim(1), "fill_multi_batch", r << " rows for a batch of " << b.x.dim(1));
  b.rows[static_cast<std::size_t>(model)] = r;
  // Padding rows are computed on the GPU (and masked out): zeros keep them finite, whatever came before.
  Tensor padding = b.x[model].slice(r, b.x.dim(1));
  std::fill_n(padding.data<float>(), padding.numel(), 0.0f);
  if (r == 0) return;
  QF_REQUIRE_MSG(source, "fill_multi_batch", "rows of model " << model << ", which has no source");
  const auto [x, y] = source->batch(rows);
  const Shape expected{r, b.x.dim(2), b.x.dim(3)};
  if (x.shape() != expected || x.dtype() != DType::f32 || y.numel() != r)
    throw ShapeError("fill_multi_batch: a batch " + to_string(x.shape()) + " for slots " +
                     to_string(expected));
  Tensor x_slot = b.x[model].slice(0, r);
  x_slot.copy_from(x);
  std::copy_n(y.to(DType::f32).data<float>(), r, b.y.data<float>() + model * b.y.dim(1));
}

// ---- the CPU reference ----------------------------------------------------------------------------------

MultiLSTMReference::MultiLSTMReference(std::span<LSTMClassifier* const> models,
                                       const MultiOptimizerOptions& o)
    : models_(models.begin(), models.end()),
      best_(models.size()),
      options_(o),
      shape_(multi_shape_of(models)) {
  for (LSTMClassifier* m : models_)
    optimizers_.push_back(std::make_unique<Adam>(
        m->parameters(), AdamOptions{o.lr, o.beta1, o.beta2, o.eps, o.weight_decay}, o.decoupled));
  totals_.loss_sum.assign(models_.size(), 0.0);
  totals_.correct.assign(models_.size(), 0.0);
}

namespace {

// Model n's valid rows of a batch: x [rows, T, F] and targets [rows, 1] (views of the batch).
std::pair<Tensor, Tensor> rows_of(const MultiBatch& b, std::size_t n) {
  const std::int64_t r = b.rows[n];
  return {b.x[static_cast<std::int64_t>(n)].slice(0, r),
          b.y[static_cast<std::int64_t>(n)].slice(0, r).reshape({r, 1})};
}

void check_batch(const MultiBatch& b, const MultiLSTMShape& s) {
  if (b.x.rank() != 4 || b.x.dim(0) != s.models || b.x.dim(3) != s.input_size ||
      b.y.shape() != Shape{s.models, b.x.dim(1)} || static_cast<std::int64_t>(b.rows.size()) != s.models)
    throw ShapeError("multi-model LSTM: batch x " + to_string(b.x.shape()) + ", y " + to_string(b.y.shape()) +
                     " for " + std::to_string(s.models) + " models of input " + std::to_string(s.input_size));
  for (const std::int64_t r : b.rows)
    if (r < 0 || r > b.x.dim(1)) throw ShapeError("multi-model LSTM: rows outside the batch");
}

// The same bookkeeping as nn::train_epoch / evaluate's tally.
void tally(const Var& logits, const Tensor& y, double batch_loss, double& loss_sum, double& correct) {
  const std::int64_t n = y.numel();
  loss_sum += batch_loss * static_cast<double>(n);
  const float* z = logits.value().data<float>();
  const float* t = y.data<float>();
  for (std::int64_t i = 0; i < n; ++i) correct += (z[i] > 0) == (t[i] > 0.5f) ? 1.0 : 0.0;
}

}  // namespace

void MultiLSTMReference::train_step(const MultiBatch& b) {
  check_batch(b, shape_);
  const SerialRegion serial;  // each model's step single-threaded, as the study's per-stock fits run
  for (std::size_t n = 0; n < models_.size(); ++n) {
    if (b.rows[n] == 0) continue;
    const auto [x, y] = rows_of(b, n);
    models_[n]->train();
    optimizers_[n]->zero_grad();
    const Var logits = models_[n]->forward(Var(x));
    Var loss = bce_with_logits(logits, y);
    loss.backward();
    if (options_.clip_norm > 0) clip_grad_norm(optimizers_[n]->parameters(), options_.clip_norm);
    optimizers_[n]->step();
    tally(logits, y, loss.value().item(), totals_.loss_sum[n], totals_.correct[n]);
  }
}

void MultiLSTMReference::evaluate_step(const MultiBatch& b, Tensor* logits_out) {
  check_batch(b, shape_);
  const SerialRegion serial;
  const NoGradGuard no_grad;
  if (logits_out) *logits_out = Tensor::zeros({shape_.models, b.x.dim(1)});
  for (std::size_t n = 0; n < models_.size(); ++n) {
    if (b.rows[n] == 0) continue;
    const auto [x, y] = rows_of(b, n);
    models_[n]->eval();
    const Var logits = models_[n]->forward(Var(x));
    tally(logits, y, bce_with_logits(logits, y).value().item(), totals_.loss_sum[n], totals_.correct[n]);
    if (logits_out)
      std::copy_n(logits.value().data<float>(), b.rows[n],
                  logits_out->data<float>() + static_cast<std::int64_t>(n) * b.x.dim(1));
  }
}

MultiTotals MultiLSTMReference::take_totals() {
  MultiTotals out = totals_;
  std::fill(totals_.loss_sum.begin(), totals_.loss_sum.end(), 0.0);
  std::fill(totals_.correct.begin(), totals_.correct.end(), 0.0);
  return out;
}

void MultiLSTMReference::set_lr(double lr) {
  for (auto& o : optimizers_) o->set_lr(lr);
}

std::vector<Tensor> MultiLSTMReference::parameters() {
  return stack_parameters(models_);
}

void MultiLSTMReference::keep_best(std::span<const std::uint8_t> keep) {
  for (std::size_t n = 0; n < models_.size(); ++n) {
    if (!keep[n]) continue;
    best_[n].clear();
    for (const Var& p : optimizers_[n]->parameters()) best_[n].push_back(p.value().clone());
  }
}

void MultiLSTMReference::restore_best(std::span<const std::uint8_t> restore) {
  for (std::size_t n = 0; n < models_.size(); ++n) {
    if (!restore[n] || best_[n].empty()) continue;
    const auto& params = optimizers_[n]->parameters();
    for (std::size_t k = 0; k < params.size(); ++k) {
      Tensor value = params[k].value();
      value.copy_from(best_[n][k]);
    }
  }
}

// ---- fit_multi ------------------------------------------------------------------------------------------

namespace {

std::int64_t batches_of(std::int64_t n, std::int64_t batch) {
  return (n + batch - 1) / batch;
}

// Fills slot n of `b` for every model that has a batch `step` of `rows_for(n, step)`, in parallel over
// models (each slot is written by one thread; the sources are read-only).
template <class RowsFor>
void fill_step(MultiBatch& b, std::span<const BatchSource* const> sources, const RowsFor& rows_for) {
  const auto n = static_cast<std::int64_t>(sources.size());
  parallel_for(n, 1, [&](std::int64_t begin, std::int64_t end) {
    for (std::int64_t m = begin; m < end; ++m) {
      const std::span<const std::int64_t> rows = rows_for(m);
      fill_multi_batch(b, m, sources[static_cast<std::size_t>(m)], rows);
    }
  });
}

}  // namespace

std::vector<FitResult> fit_multi(std::span<LSTMClassifier* const> models,
                                 std::span<const BatchSource* const> train,
                                 std::span<const BatchSource* const> validation, const FitOptions& o,
                                 std::span<Rng> rngs, MultiBackend backend, std::int64_t eval_batch_size) {
  const MultiLSTMShape shape = multi_shape_of(models);
  const std::size_t N = models.size();
  QF_REQUIRE_MSG(train.size() == N && validation.size() == N && rngs.size() == N, "fit_multi",
                 N << " models, " << train.size() << " training and " << validation.size()
                   << " validation sources, " << rngs.size() << " generators");
  QF_REQUIRE(o.train.batch_size >= 1, "fit_multi", "batch_size", o.train.batch_size, "must be at least 1");
  QF_REQUIRE(o.epochs >= 1, "fit_multi", "epochs", o.epochs, "must be at least 1");
  QF_REQUIRE(eval_batch_size >= 1, "fit_multi", "eval_batch_size", eval_batch_size, "must be at least 1");
  std::int64_t steps = 0;  // the sequence length, from any model's first sample
  for (const BatchSource* s : train)
    if (s->size() > 0) {
      const std::int64_t first[] = {0};
      steps = s->batch(first).first.dim(1);
      break;
    }
  const MultiOptimizerOptions optimizer{o.learning_rate,  0.9, 0.999, 1e-8, o.weight_decay, true,
                                        o.train.clip_norm};
  std::unique_ptr<MultiLSTM> net;
  if (backend == MultiBackend::cuda) {
    net = make_cuda_multi_lstm(shape, stack_parameters(models), optimizer);
  } else {
    net = std::make_unique<MultiLSTMReference>(models, optimizer);
  }
  const CosineLR schedule(o.learning_rate, o.epochs, o.learning_rate * 0.05);

  const EarlyStopping stopping{o.patience};
  std::vector<FitResult> results(N);
  std::vector<std::uint8_t> active(N, 1), validate(N), improved(N);
  for (std::size_t n = 0; n < N; ++n) {
    validate[n] = validation[n] != nullptr && validation[n]->size() > 0;
    EarlyStopping::start(results[n]);
  }
  std::vector<std::vector<std::int64_t>> order(N);
  const auto S = static_cast<std::int64_t>(N);
  MultiBatch train_batch = make_multi_batch(S, o.train.batch_size, steps, shape.input_size);
  MultiBatch eval_batch;  // allocated on the first validation
  for (std::int64_t epoch = 1; epoch <= o.epochs; ++epoch) {
    if (std::none_of(active.begin(), active.end(), [](std::uint8_t a) { return a != 0; })) break;
    if (o.cosine_schedule) net->set_lr(schedule.lr(epoch - 1));
    std::int64_t train_steps = 0;
    for (std::size_t n = 0; n < N; ++n) {
      if (!active[n]) continue;
      const std::int64_t size = train[n]->size();
      order[n].resize(static_cast<std::size_t>(size));
      std::iota(order[n].begin(), order[n].end(), 0);
      if (o.train.shuffle)  // nn::train_epoch's Fisher-Yates, with this model's generator
        for (std::int64_t i = size - 1; i > 0; --i)
          std::swap(order[n][static_cast<std::size_t>(i)],
                    order[n][rngs[n].next_u64() % static_cast<std::uint64_t>(i + 1)]);
      train_steps = std::max(train_steps, batches_of(size, o.train.batch_size));
    }
    for (std::int64_t step = 0; step < train_steps; ++step) {
      fill_step(train_batch, train, [&](std::int64_t m) -> std::span<const std::int64_t> {
        const auto& rows = order[static_cast<std::size_t>(m)];
        const std::int64_t begin = step * o.train.batch_size, size = static_cast<std::int64_t>(rows.size());
        if (!active[static_cast<std::size_t>(m)] || begin >= size) return {};
        return {rows.data() + begin, static_cast<std::size_t>(std::min(o.train.batch_size, size - begin))};
      });
      net->train_step(train_batch);
    }
    const MultiTotals trained = net->take_totals();
    std::int64_t eval_steps = 0;
    for (std::size_t n = 0; n < N; ++n) {
      if (!active[n]) continue;
      const auto size = static_cast<double>(std::max<std::int64_t>(train[n]->size(), 1));
      results[n].train.push_back({trained.loss_sum[n] / size, trained.correct[n] / size});
      results[n].train_samples_seen += train[n]->size();
      results[n].epochs_run = epoch;
      if (validate[n]) eval_steps = std::max(eval_steps, batches_of(validation[n]->size(), eval_batch_size));
    }
    if (eval_steps == 0) continue;
    if (!eval_batch.x.defined()) eval_batch = make_multi_batch(S, eval_batch_size, steps, shape.input_size);
    std::vector<std::int64_t> rows;
    for (std::int64_t step = 0; step < eval_steps; ++step) {
      fill_step(eval_batch, validation, [&](std::int64_t m) -> std::span<const std::int64_t> {
        static thread_local std::vector<std::int64_t> in_order;  // nn::evaluate's batches: in order
        const auto n = static_cast<std::size_t>(m);
        const std::int64_t begin = step * eval_batch_size;
        if (!active[n] || !validate[n] || begin >= validation[n]->size()) return {};
        in_order.resize(static_cast<std::size_t>(std::min(eval_batch_size, validation[n]->size() - begin)));
        std::iota(in_order.begin(), in_order.end(), begin);
        return in_order;
      });
      net->evaluate_step(eval_batch, nullptr);
    }
    const MultiTotals evaluated = net->take_totals();
    std::fill(improved.begin(), improved.end(), 0);
    for (std::size_t n = 0; n < N; ++n) {
      if (!active[n] || !validate[n]) continue;
      FitResult& r = results[n];
      const auto size = static_cast<double>(validation[n]->size());
      r.validation.push_back({evaluated.loss_sum[n] / size, evaluated.correct[n] / size});
      r.eval_samples_seen += validation[n]->size();
      const EpochVerdict verdict = stopping.after_epoch(r, epoch);
      if (verdict == EpochVerdict::improved) {
        improved[n] = 1;
      } else if (verdict == EpochVerdict::stop) {
        active[n] = 0;
      }
    }
    net->keep_best(improved);
  }
  std::vector<std::uint8_t> restore(N);  // 0: the last epoch's parameters stay
  for (std::size_t n = 0; n < N; ++n)
    restore[n] = EarlyStopping::finish(results[n], validate[n] != 0) ? 1 : 0;
  net->restore_best(restore);
  unstack_parameters(net->parameters(), models);
  for (std::size_t n = 0; n < N; ++n) models[n]->eval();
  return results;
}

}  // namespace qf::nn
