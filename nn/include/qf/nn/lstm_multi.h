// Multi-model LSTM training: N independent LSTM classifiers (LSTMClassifier: LSTM -> Linear(H, 1) on
// the last hidden state) of one shape, different weights and data, trained in lockstep. One small
// per-stock model cannot keep a GPU busy; ~500 of them stacked along a model axis can, since every
// GEMM becomes one strided-batched GEMM over the models and every pointwise kernel covers all of them.
//
// Two backends with one interface (MultiLSTM):
//   * make_cuda_multi_lstm: parameters, Adam state and per-model accumulators live on the device
//     (nn/src/cuda/lstm_multi.cu); a step uploads the batch and nothing comes back until take_totals.
//   * MultiLSTMReference: the same step on the CPU, looping over the models with the ordinary nn ops
//     (LSTMClassifier, bce_with_logits, clip_grad_norm, AdamW): bit for bit N separate nn training steps.
// fit_multi drives either with the semantics of nn::fit per model (shuffling with each model's Rng,
// minibatches, early stopping on its validation loss, best-epoch restore).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "qf/nn/models.h"
#include "qf/nn/trainer.h"

namespace qf::nn {

struct MultiLSTMShape {
  std::int64_t models = 1, input_size = 1, hidden_size = 64, num_layers = 1;
};

// Adam(W) and clipping settings shared by all models (PyTorch semantics, as nn::Adam / clip_grad_norm).
struct MultiOptimizerOptions {
  double lr = 1e-3, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0.0;
  bool decoupled = true;   // AdamW, as nn::fit
  double clip_norm = 1.0;  // per model; <= 0 disables clipping
};

// One lockstep step's data. Rows at or beyond rows[n] are padding: they never touch model n's loss,
// gradients or totals, and a model with rows[n] == 0 is left exactly as it was (no Adam step either).
struct MultiBatch {
  Tensor x;                        // [N, B, T, F] float32, host
  Tensor y;                        // [N, B] float32 targets in {0, 1}, host
  std::vector<std::int64_t> rows;  // valid rows per model, 0 .. B
};

// Per model since the last take_totals: sum over steps of (batch mean loss as float) * rows, and the
// number of rows with (logit > 0) == (target > 0.5); what nn::train_epoch / evaluate add up.
struct MultiTotals {
  std::vector<double> loss_sum, correct;
};

class MultiLSTM {
 public:
  virtual ~MultiLSTM() = default;
  virtual const MultiLSTMShape& shape() const = 0;
  // Forward, BCE-with-logits, backward, per-model clipping and Adam for the models with rows > 0.
  virtual void train_step(const MultiBatch& batch) = 0;
  // Forward only (inference): adds to the totals; logits (optional) becomes [N, B] on the host.
  virtual void evaluate_step(const MultiBatch& batch, Tensor* logits) = 0;
  virtual MultiTotals take_totals() = 0;
  virtual void set_lr(double lr) = 0;
  // The parameters in LSTMClassifier::parameters() order, each stacked [N, ...], on the host.
  virtual std::vector<Tensor> parameters() = 0;
  // Copies the current parameters of the models with keep[n] != 0 aside / back (best-epoch restore).
  virtual void keep_best(std::span<const std::uint8_t> keep) = 0;
  virtual void restore_best(std::span<const std::uint8_t> restore) = 0;
};

// The classifiers' parameters stacked along a new first axis (all models of one shape), and back.
std::vector<Tensor> stack_parameters(std::span<LSTMClassifier* const> models);
void unstack_parameters(std::span<const Tensor> stacked, std::span<LSTMClassifier* const> models);
// The shape of these classifiers; throws std::invalid_argument unless all are float32 LSTMClassifiers
// of one shape and without dropout (the multi-model step has none).
MultiLSTMShape multi_shape_of(std::span<LSTMClassifier* const> models);
// The shapes stack_parameters gives classifiers of this shape, in its order: per layer W_ih [N, 4H, in],
// W_hh [N, 4H, H], b_ih and b_hh [N, 4H]; then the head's weight [N, 1, H] and bias [N, 1].
std::vector<Shape> stacked_parameter_shapes(const MultiLSTMShape& shape);

// The CPU reference: one LSTMClassifier and one Adam per model, updated in place (it does not own them);
// each model's step runs single-threaded (SerialRegion), as per-stock fits do in the study.
class MultiLSTMReference : public MultiLSTM {
 public:
  MultiLSTMReference(std::span<LSTMClassifier* const> models, const MultiOptimizerOptions& options);
  const MultiLSTMShape& shape() const override { return shape_; }
  void train_step(const MultiBatch& batch) override;
  void evaluate_step(const MultiBatch& batch, Tensor* logits) override;
  MultiTotals take_totals() override;
  void set_lr(double lr) override;
  std::vector<Tensor> parameters() override;
  void keep_best(std::span<const std::uint8_t> keep) override;
  void restore_best(std::span<const std::uint8_t> restore) override;

 private:
  std::vector<LSTMClassifier*> models_;
  std::vector<std::unique_ptr<Adam>> optimizers_;
  std::vector<std::vector<Tensor>> best_;
  MultiOptimizerOptions options_;
  MultiLSTMShape shape_;
  MultiTotals totals_;
};

// How the CUDA backend moves each step's batch (x, y, rows) to the device. pinned_async stages it in
// page-locked host memory and copies it on a second stream while the previous step still computes
// (two slots, ordered by events); pageable copies it synchronously from the caller's memory, leaving
// the GPU idle meanwhile. Both give bit-identical results (tests/nn/test_lstm_multi_cuda.cpp).
enum class MultiUpload { pinned_async, pageable };

// The CUDA backend, starting from these stacked host parameters (stack_parameters order) with fresh
// Adam state. Throws std::runtime_error in a build without CUDA or on a machine without a device.
std::unique_ptr<MultiLSTM> make_cuda_multi_lstm(const MultiLSTMShape& shape,
                                                std::span<const Tensor> parameters,
                                                const MultiOptimizerOptions& options,
                                                MultiUpload upload = MultiUpload::pinned_async);

// Rows `rows` of model n's source, gathered into slot n of a padded MultiBatch of `batch` rows per model
// (rows.size() <= batch); the other slots stay zero with rows 0. x is [N, batch, T, F]. The source may
// be null when rows is empty (a model without validation data).
MultiBatch make_multi_batch(std::int64_t models, std::int64_t batch, std::int64_t steps,
                            std::int64_t features);
void fill_multi_batch(MultiBatch& batch, std::int64_t model, const BatchSource* source,
                      std::span<const std::int64_t> rows);

enum class MultiBackend { cpu_reference, cuda };

// nn::fit for N LSTMClassifiers of one shape at once: each model n trains on train[n] with early
// stopping on validation[n] (may be null or empty) and shuffles with rngs[n], exactly as nn::fit would
// (same batches, same order of updates, same stopping rule); the models hold their best epoch's
// parameters on return. With the CPU reference backend the results equal N calls of nn::fit bit for bit.
std::vector<FitResult> fit_multi(std::span<LSTMClassifier* const> models,
                                 std::span<const BatchSource* const> train,
                                 std::span<const BatchSource* const> validation, const FitOptions& options,
                                 std::span<Rng> rngs, MultiBackend backend,
                                 std::int64_t eval_batch_size = 256);

}  // namespace qf::nn
