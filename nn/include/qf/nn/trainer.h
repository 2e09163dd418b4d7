// A plain minibatch training loop for sequence models with one logit per sequence, and the model
// most stages use: an LSTM whose last hidden state feeds a Linear head.
#pragma once

#include <functional>

#include "qf/nn/layers.h"
#include "qf/nn/optim.h"
#include "qf/nn/rnn.h"

namespace qf::nn {

// x [B, T, input] -> logits [B, 1] from the last layer's final hidden state.
class LSTMClassifier : public Module {
 public:
  LSTMClassifier(RNNOptions options, Rng& rng);
  Var forward(const Var& x);
  std::string type_name() const override { return "LSTMClassifier"; }
  Config config() const override { return lstm.config(); }

  LSTM lstm;
  Linear head;
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

// One pass over (inputs [N, T, F], targets [N, 1] in {0, 1}) with BCE-with-logits; shuffled by rng.
EpochStats train_epoch(const std::function<Var(const Var&)>& model, Optimizer& optimizer,
                       const Tensor& inputs, const Tensor& targets, const TrainOptions& options, Rng& rng);
// Loss and accuracy without gradients, in batches.
EpochStats evaluate(const std::function<Var(const Var&)>& model, const Tensor& inputs, const Tensor& targets,
                    std::int64_t batch_size = 256);

// Rows `rows` of a [N, ...] tensor, gathered into a new [rows.size(), ...] tensor.
Tensor gather_rows(const Tensor& t, std::span<const std::int64_t> rows);

}  // namespace qf::nn
