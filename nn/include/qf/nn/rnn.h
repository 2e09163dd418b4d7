// Recurrent layers with PyTorch's layout and names: batch-first input [B, T, input], per layer k the
// parameters weight_ih_l{k} [G*H, in], weight_hh_l{k} [G*H, H], bias_ih_l{k}, bias_hh_l{k} [G*H]
// (G = 4 for LSTM with gates i,f,g,o; G = 3 for GRU with gates r,z,n), init U(-1/sqrt(H), 1/sqrt(H)).
// Weights copied from torch.nn.LSTM / GRU give the same outputs.
#pragma once

#include <vector>

#include "qf/nn/module.h"
#include "qf/tensor/ops.h"

namespace qf::nn {

struct RNNOptions {
  std::int64_t input_size = 1;
  std::int64_t hidden_size = 32;
  std::int64_t num_layers = 1;
  double dropout = 0.0;  // between layers, training only (as in PyTorch)
  DType dtype = DType::f32;
};

struct RNNOutput {
  Var output;  // [B, T, H] of the last layer
  Var h_n;     // [L, B, H]
  Var c_n;     // [L, B, H]; LSTM only
};

// The two implementations of an LSTM layer; both are differentiable and give the same numbers.
enum class LSTMPath {
  fused,     // one GEMM for all input projections, fused gate kernels, hand-written backward
  composed,  // the same recurrence written with autodiff ops (the reference)
};

// Parameters of one recurrent layer (G gate blocks stacked along the first axis).
struct RNNLayer {
  Var weight_ih, weight_hh, bias_ih, bias_hh;
};

// Shared by LSTM and GRU: options, the layers' parameters (registered with PyTorch's names), config.
class RNNBase : public Module {
 public:
  const RNNOptions& options() const { return options_; }
  Config config() const override;
  std::vector<RNNLayer> layers;

 protected:
  RNNBase(RNNOptions options, std::int64_t gates, Rng& rng, const char* what);
  RNNOptions options_;
  Rng dropout_rng_;
};

class LSTM : public RNNBase {
 public:
  LSTM(RNNOptions options, Rng& rng) : RNNBase(options, 4, rng, "LSTM") {}
  // h0, c0: [L, B, H] or undefined for zeros. sequence_output false leaves `output` undefined: a model
  // that reads only the last state saves the fused path a [B, T, H] copy.
  RNNOutput forward(const Var& x, const Var& h0 = {}, const Var& c0 = {}, bool sequence_output = true);
  std::string type_name() const override { return "LSTM"; }

  LSTMPath path = LSTMPath::fused;
};

// GRU with PyTorch's equations: n = tanh(W_in x + b_in + r * (W_hn h + b_hn)), h' = (1-z) n + z h.
// Composed of autodiff ops (no fused path).
class GRU : public RNNBase {
 public:
  GRU(RNNOptions options, Rng& rng) : RNNBase(options, 3, rng, "GRU") {}
  RNNOutput forward(const Var& x, const Var& h0 = {});
  std::string type_name() const override { return "GRU"; }
};

// One LSTM layer's results: every step's hidden state and the last step's states. Gradients flow from
// whichever are used.
struct LSTMLayerOutput {
  Var output;  // [B, T, H]
  Var h_n;     // [B, H], the last step of output
  Var c_n;     // [B, H]
};
// One LSTM layer over a whole sequence by the fused path. x [B,T,I], h0/c0 [B,H] (may be constants);
// sequence_output false: `output` is left undefined (not copied out).
LSTMLayerOutput lstm_layer_fused(const Var& x, const Var& h0, const Var& c0, const Var& weight_ih,
                                 const Var& weight_hh, const Var& bias_ih, const Var& bias_hh,
                                 bool sequence_output = true);
// The same layer composed of autodiff ops, for checking and as a template for new cells.
LSTMLayerOutput lstm_layer_composed(const Var& x, const Var& h0, const Var& c0, const Var& weight_ih,
                                    const Var& weight_hh, const Var& bias_ih, const Var& bias_hh);

}  // namespace qf::nn
