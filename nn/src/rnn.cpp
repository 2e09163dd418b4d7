#include "qf/nn/rnn.h"

#include <cmath>

#include "qf/core/require.h"
#include "qf/nn/layers.h"

namespace qf::nn {

namespace {

void check_options(const RNNOptions& o, const char* what) {
  QF_REQUIRE(o.input_size > 0, what, "input_size", o.input_size, "must be positive");
  QF_REQUIRE(o.hidden_size > 0, what, "hidden_size", o.hidden_size, "must be positive");
  QF_REQUIRE(o.num_layers > 0, what, "num_layers", o.num_layers, "must be positive");
  QF_REQUIRE(o.dropout >= 0.0 && o.dropout < 1.0, what, "dropout", o.dropout, "must be in [0, 1)");
}

// Initial state of layer k: the given [L, B, H] state's slice, or zeros.
Var initial_state(const Var& state, std::int64_t k, std::int64_t batch, const RNNOptions& o) {
  if (!state.defined()) return Var(Tensor::zeros({batch, o.hidden_size}, o.dtype));
  const Shape expect{o.num_layers, batch, o.hidden_size};
  if (state.shape() != expect)
    throw ShapeError("RNN: initial state " + to_string(state.shape()) +
                     " is not [layers, batch, hidden] = " + to_string(expect));
  return reshape(slice(state, 0, k, k + 1), {batch, o.hidden_size});
}

// [B, H] states of each layer -> [L, B, H].
Var stack_layers(const std::vector<Var>& states) {
  std::vector<Var> parts;
  for (const auto& s : states) parts.push_back(reshape(s, {1, s.dim(0), s.dim(1)}));
  return concat(parts, 0);
}

}  // namespace

// ---- shared ----------------------------------------------------------------------------------------

RNNBase::RNNBase(RNNOptions options, std::int64_t gates, Rng& rng, const char* what)
    : options_(options), dropout_rng_(rng.split(0x15f3)) {
  check_options(options_, what);
  const std::int64_t H = options_.hidden_size;
  const double bound = 1.0 / std::sqrt(static_cast<double>(H));
  layers.reserve(static_cast<std::size_t>(options_.num_layers));  // registered addresses must stay put
  for (std::int64_t k = 0; k < options_.num_layers; ++k) {
    const std::int64_t in = k == 0 ? options_.input_size : H;
    RNNLayer& l = layers.emplace_back();
    l.weight_ih = uniform_parameter({gates * H, in}, bound, rng, options_.dtype);
    l.weight_hh = uniform_parameter({gates * H, H}, bound, rng, options_.dtype);
    l.bias_ih = uniform_parameter({gates * H}, bound, rng, options_.dtype);
    l.bias_hh = uniform_parameter({gates * H}, bound, rng, options_.dtype);
    const std::string s = std::to_string(k);
    register_parameter("weight_ih_l" + s, l.weight_ih);
    register_parameter("weight_hh_l" + s, l.weight_hh);
    register_parameter("bias_ih_l" + s, l.bias_ih);
    register_parameter("bias_hh_l" + s, l.bias_hh);
  }
}

Config RNNBase::config() const {
  return {{"input_size", std::to_string(options_.input_size)},
          {"hidden_size", std::to_string(options_.hidden_size)},
          {"num_layers", std::to_string(options_.num_layers)},
          {"dropout", std::to_string(options_.dropout)}};
}

// ---- LSTM ------------------------------------------------------------------------------------------

RNNOutput LSTM::forward(const Var& x, const Var& h0, const Var& c0, bool sequence_output) {
  if (x.value().rank() != 3 || x.dim(2) != options_.input_size)
    throw ShapeError("LSTM: input " + to_string(x.shape()) + " is not [batch, time, " +
                     std::to_string(options_.input_size) + "]");
  const std::int64_t batch = x.dim(0);
  Var input = x;
  std::vector<Var> h_n, c_n;
  for (std::int64_t k = 0; k < options_.num_layers; ++k) {
    if (k > 0) input = dropout(input, options_.dropout, dropout_rng_, training());
    const RNNLayer& l = layers[static_cast<std::size_t>(k)];
    const Var h = initial_state(h0, k, batch, options_), c = initial_state(c0, k, batch, options_);
    const bool sequence = sequence_output || k + 1 < options_.num_layers;  // the next layer's input
    LSTMLayerOutput layer =
        path == LSTMPath::fused
            ? lstm_layer_fused(input, h, c, l.weight_ih, l.weight_hh, l.bias_ih, l.bias_hh, sequence)
            : lstm_layer_composed(input, h, c, l.weight_ih, l.weight_hh, l.bias_ih, l.bias_hh);
    if (!sequence) layer.output = Var();
    h_n.push_back(layer.h_n);
    c_n.push_back(layer.c_n);
    input = layer.output;
  }
  return {input, stack_layers(h_n), stack_layers(c_n)};
}

// ---- GRU -------------------------------------------------------------------------------------------

RNNOutput GRU::forward(const Var& x, const Var& h0) {
  if (x.value().rank() != 3 || x.dim(2) != options_.input_size)
    throw ShapeError("GRU: input " + to_string(x.shape()) + " is not [batch, time, " +
                     std::to_string(options_.input_size) + "]");
  const std::int64_t batch = x.dim(0), steps = x.dim(1), H = options_.hidden_size;
  Var input = x;
  std::vector<Var> h_n;
  for (std::int64_t k = 0; k < options_.num_layers; ++k) {
    if (k > 0) input = dropout(input, options_.dropout, dropout_rng_, training());
    const RNNLayer& l = layers[static_cast<std::size_t>(k)];
    const Var projected = linear(input, l.weight_ih, l.bias_ih);  // [B, T, 3H]: r, z, n blocks
    Var h = initial_state(h0, k, batch, options_);
    std::vector<Var> outputs;
    for (std::int64_t t = 0; t < steps; ++t) {
      const Var gx = reshape(slice(projected, 1, t, t + 1), {batch, 3 * H});
      const Var gh = linear(h, l.weight_hh, l.bias_hh);
      const Var r = sigmoid(slice(gx, 1, 0, H) + slice(gh, 1, 0, H));
      const Var z = sigmoid(slice(gx, 1, H, 2 * H) + slice(gh, 1, H, 2 * H));
      const Var n = tanh(slice(gx, 1, 2 * H, 3 * H) + r * slice(gh, 1, 2 * H, 3 * H));
      h = n + z * (h - n);  // (1 - z) * n + z * h
      outputs.push_back(reshape(h, {batch, 1, H}));
    }
    input = concat(outputs, 1);
    h_n.push_back(h);
  }
  return {input, stack_layers(h_n), Var()};
}

}  // namespace qf::nn
