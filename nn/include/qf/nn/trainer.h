// Minibatch training for sequence classifiers (one logit per sequence, BCE-with-logits): one epoch,
// evaluation, prediction, and fit() with early stopping on a validation set. Data comes through a
// BatchSource, so a dataset too large to hold as one [N, T, F] tensor (windows over hundreds of stocks)
// is built batch by batch.
#pragma once

#include <functional>
#include <span>
#include <vector>

#include "qf/nn/models.h"
#include "qf/nn/optim.h"

namespace qf::nn {

// Samples 0 .. size()-1; batch(rows) returns {inputs [rows, T, F] float32, targets [rows, 1] in {0, 1}}.
class BatchSource {
 public:
  virtual ~BatchSource() = default;
  virtual std::int64_t size() const = 0;
  virtual std::pair<Tensor, Tensor> batch(std::span<const std::int64_t> rows) const = 0;
};

// A BatchSource over tensors held in memory.
class TensorBatchSource : public BatchSource {
 public:
  TensorBatchSource(Tensor inputs, Tensor targets);
  std::int64_t size() const override { return inputs_.dim(0); }
  std::pair<Tensor, Tensor> batch(std::span<const std::int64_t> rows) const override;

 private:
  Tensor inputs_, targets_;
};

struct EpochStats {
  double loss = 0.0;      // mean BCE over samples
  double accuracy = 0.0;  // share of samples with (logit > 0) == (target > 0.5)
};

struct TrainOptions {
  std::int64_t batch_size = 64;
  double clip_norm = 1.0;  // <= 0 disables clipping
  bool shuffle = true;
};

using ModelFunction = std::function<Var(const Var&)>;

// One pass over the samples with BCE-with-logits; shuffled by rng.
EpochStats train_epoch(const ModelFunction& model, Optimizer& optimizer, const BatchSource& data,
                       const TrainOptions& options, Rng& rng);
EpochStats train_epoch(const ModelFunction& model, Optimizer& optimizer, const Tensor& inputs,
                       const Tensor& targets, const TrainOptions& options, Rng& rng);
// Loss and accuracy without gradients, in order, in batches.
EpochStats evaluate(const ModelFunction& model, const BatchSource& data, std::int64_t batch_size = 256);
EpochStats evaluate(const ModelFunction& model, const Tensor& inputs, const Tensor& targets,
                    std::int64_t batch_size = 256);
// Predicted probabilities sigmoid(logit), one per sample in order.
std::vector<double> predict_proba(const ModelFunction& model, const BatchSource& data,
                                  std::int64_t batch_size = 256);

struct FitOptions {
  std::int64_t epochs = 20;
  std::int64_t patience = 5;  // stop after this many epochs without a better validation loss; 0: never
  double learning_rate = 1e-3;
  double weight_decay = 0.0;  // AdamW's decoupled decay
  bool cosine_schedule = false;
  TrainOptions train;
};

struct FitResult {
  std::vector<EpochStats> train, validation;  // per epoch run
  std::int64_t epochs_run = 0;
  std::int64_t best_epoch = 0;  // 1-based; the model holds this epoch's parameters on return
  double best_validation_loss = 0.0;
  std::int64_t train_samples_seen = 0, eval_samples_seen = 0;
};

// Trains with AdamW (Adam when weight_decay is 0). With a non-empty validation set, the parameters of
// the epoch with the lowest validation loss are restored at the end; without one (or when no epoch
// had a finite validation loss: best_validation_loss is then NaN), the last epoch's are kept. on_epoch
// (optional) sees each epoch's stats as they come.
FitResult fit(SequenceClassifier& model, const BatchSource& train, const BatchSource* validation,
              const FitOptions& options, Rng& rng,
              const std::function<void(std::int64_t epoch, const EpochStats& train,
                                       const EpochStats* validation)>& on_epoch = {});

// Rows `rows` of a [N, ...] tensor, gathered into a new [rows.size(), ...] tensor.
Tensor gather_rows(const Tensor& t, std::span<const std::int64_t> rows);

}  // namespace qf::nn
