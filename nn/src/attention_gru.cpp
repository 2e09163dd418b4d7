#include "qf/nn/examples/attention_gru.h"

namespace qf::nn {

AttentionGRU::AttentionGRU(std::int64_t input_size, std::int64_t hidden_size, std::int64_t attention_size,
                           Rng& rng, DType dtype)
    : gru(RNNOptions{input_size, hidden_size, 1, 0.0, dtype}, rng),
      attention(hidden_size, attention_size, rng, true, dtype),
      score(attention_size, 1, rng, false, dtype),
      head(hidden_size, 1, rng, true, dtype),
      input_(input_size),
      hidden_(hidden_size),
      attention_size_(attention_size) {
  register_module("gru", gru);
  register_module("attention", attention);
  register_module("score", score);
  register_module("head", head);
}

Var AttentionGRU::forward(const Var& x) {
  const Var states = gru.forward(x).output;                           // [B, T, H]
  const Var scores = score.forward(tanh(attention.forward(states)));  // [B, T, 1]
  const Var weights = softmax(scores, 1);                             // over time
  const Var pooled = sum(states * weights, 1);                        // [B, H]
  return head.forward(pooled);                                        // [B, 1]
}

Config AttentionGRU::config() const {
  return {{"input_size", std::to_string(input_)},
          {"hidden_size", std::to_string(hidden_)},
          {"attention_size", std::to_string(attention_size_)}};
}

}  // namespace qf::nn
