// The CPU reference the GPU LSTM paths and their CPU emulation are held to: a one-layer LSTM with
// seeded random weights and inputs through the fused CPU layer, with the loss
// sum(output * w_out) + sum(c_n * w_c) run backward, so that x, h0, c0 and every weight hold gradients.
#pragma once

#include <cstdint>

#include "common/random_tensor.h"
#include "qf/nn/rnn.h"

namespace qf::test_support {

struct LSTMReference {
  LSTMReference(int B, int S, int I, int H, std::uint64_t seed)
      : rng(seed),
        lstm(nn::RNNOptions{I, H, 1}, rng),
        x(Var::parameter(random({B, S, I}, seed + 1))),
        h0(Var::parameter(random({B, H}, seed + 2))),
        c0(Var::parameter(random({B, H}, seed + 3))),
        w_out(random({B, S, H}, seed + 4)),
        w_c(random({B, H}, seed + 5)),
        out(nn::lstm_layer_fused(x, h0, c0, layer().weight_ih, layer().weight_hh, layer().bias_ih,
                                 layer().bias_hh)) {
    (sum(out.output * Var(w_out)) + sum(out.c_n * Var(w_c))).backward();
  }
  const nn::RNNLayer& layer() const { return lstm.layers[0]; }

  Rng rng;
  nn::LSTM lstm;
  Var x, h0, c0;
  Tensor w_out, w_c;  // the loss weights: the gradients of output and c_n
  nn::LSTMLayerOutput out;
};

}  // namespace qf::test_support
