// Example of a custom architecture written only with autodiff ops: a GRU whose hidden states are
// pooled over time by additive attention, then mapped to one logit per sequence.
//
//   h_1..h_T = GRU(x)                         [B, T, H]
//   score_t  = v . tanh(W_a h_t + b_a)        [B, T, 1]
//   alpha    = softmax over t of score        [B, T, 1]
//   pooled   = sum_t alpha_t h_t              [B, H]
//   logit    = head(pooled)                   [B, 1]
//
// To add your own model: derive from SequenceClassifier, create parameters (or sub-modules) in the
// constructor, register them, and write forward() with the ops of qf/tensor/ops.h. Gradients come for
// free; check them with qf::gradcheck as tests/nn/test_layers_gradcheck.cpp does. Register it by name
// from your own file: docs/architecture.md, "Recipe: add a model" (tests/nn/toy_model/ follows it).
#pragma once

#include "qf/nn/models.h"

namespace qf::nn {

class AttentionGRU : public SequenceClassifier {
 public:
  AttentionGRU(std::int64_t input_size, std::int64_t hidden_size, std::int64_t attention_size, Rng& rng,
               DType dtype = DType::f32);
  Var forward(const Var& x) override;  // x [B, T, input] -> logits [B, 1]
  std::string type_name() const override { return "AttentionGRU"; }
  Config config() const override;

  GRU gru;
  Linear attention, score, head;

 private:
  std::int64_t input_, hidden_, attention_size_;
};

}  // namespace qf::nn
