// Our LSTM, GRU and optimisers against values saved from PyTorch (scripts/make_torch_golden.py):
// the same weights and inputs must give the same outputs and gradients.
#include <gtest/gtest.h>

#include "common/golden.h"
#include "qf/nn/optim.h"
#include "qf/nn/rnn.h"

using namespace qf;
using namespace qf::nn;

namespace {

const std::map<std::string, Tensor>& golden() {
  static const auto values = test_support::read_golden(QF_TEST_DATA_DIR "/torch_reference.txt");
  return values;
}
Tensor g(const std::string& name, DType dtype) {
  return golden().at(name).to(dtype);
}

void load_rnn(Module& m, const std::string& prefix, DType dtype) {
  for (auto& [name, p] : m.named_parameters()) p->value().copy_from(g(prefix + "." + name, dtype));
}

}  // namespace

class TorchLSTM : public ::testing::TestWithParam<std::pair<DType, LSTMPath>> {};

TEST_P(TorchLSTM, OutputsStatesAndGradientsMatch) {
  const auto [dtype, path] = GetParam();
  // Outputs: rel. 1e-5 in float32 (the contract with PyTorch). Gradients are sums over batch and
  // time whose float32 rounding is about ten times larger, hence 1e-4 for them.
  const double tolerance = dtype == DType::f64 ? 1e-10 : 1e-5;
  const double grad_tolerance = dtype == DType::f64 ? 1e-10 : 1e-4;
  Rng rng(0);
  LSTM lstm(RNNOptions{5, 4, 2, 0.0, dtype}, rng);
  lstm.path = path;
  load_rnn(lstm, "lstm", dtype);
  Var x = Var::parameter(g("lstm.x", dtype)), h0 = Var::parameter(g("lstm.h0", dtype)),
      c0 = Var::parameter(g("lstm.c0", dtype));
  RNNOutput out = lstm.forward(x, h0, c0);
  EXPECT_LT(max_relative_error(out.output.value(), g("lstm.output", dtype), 1e-3), tolerance);
  EXPECT_LT(max_relative_error(out.h_n.value(), g("lstm.h_n", dtype), 1e-3), tolerance);
  EXPECT_LT(max_relative_error(out.c_n.value(), g("lstm.c_n", dtype), 1e-3), tolerance);

  Var loss = sum(out.output * Var(g("lstm.w_out", dtype))) + sum(out.c_n * Var(g("lstm.w_c", dtype)));
  loss.backward();
  EXPECT_LT(max_relative_error(x.grad(), g("lstm.grad_x", dtype), 1e-3), grad_tolerance);
  EXPECT_LT(max_relative_error(h0.grad(), g("lstm.grad_h0", dtype), 1e-3), grad_tolerance);
  EXPECT_LT(max_relative_error(c0.grad(), g("lstm.grad_c0", dtype), 1e-3), grad_tolerance);
  for (auto& [name, p] : lstm.named_parameters())
    EXPECT_LT(max_relative_error(p->grad(), g("lstm.grad_" + name, dtype), 1e-3), grad_tolerance) << name;
}

INSTANTIATE_TEST_SUITE_P(AllPaths, TorchLSTM,
                         ::testing::Values(std::pair{DType::f32, LSTMPath::fused},
                                           std::pair{DType::f64, LSTMPath::fused},
                                           std::pair{DType::f32, LSTMPath::composed},
                                           std::pair{DType::f64, LSTMPath::composed}));

TEST(TorchGRU, OutputsMatch) {
  for (DType dtype : {DType::f32, DType::f64}) {
    Rng rng(0);
    GRU gru(RNNOptions{5, 4, 1, 0.0, dtype}, rng);
    load_rnn(gru, "gru", dtype);
    const RNNOutput out = gru.forward(Var(g("gru.x", dtype)));
    EXPECT_LT(max_relative_error(out.output.value(), g("gru.output", dtype), 1e-3),
              dtype == DType::f64 ? 1e-10 : 1e-5);
  }
}

TEST(TorchOptimizers, FiveStepsMatch) {
  const Tensor a = g("optim.a", DType::f64), b = g("optim.b", DType::f64);
  auto run = [&](const std::function<std::unique_ptr<Optimizer>(std::vector<Var>)>& make) {
    Var w = Var::parameter(g("optim.w0", DType::f64));
    auto opt = make({w});
    for (int i = 0; i < 5; ++i) {
      opt->zero_grad();
      sum(Var(a) * w * w + Var(b) * w).backward();
      opt->step();
    }
    return w.value();
  };
  EXPECT_LT(max_relative_error(run([](auto p) {
                                 return std::make_unique<SGD>(p, SGDOptions{0.1, 0.9, 0.01, false});
                               }),
                               g("optim.sgd", DType::f64)),
            1e-12);
  EXPECT_LT(max_relative_error(run([](auto p) {
                                 return std::make_unique<SGD>(p, SGDOptions{0.1, 0.9, 0.0, true});
                               }),
                               g("optim.sgd_nesterov", DType::f64)),
            1e-12);
  EXPECT_LT(max_relative_error(run([](auto p) {
                                 return std::make_unique<Adam>(p, AdamOptions{0.05, 0.9, 0.999, 1e-8, 0.01});
                               }),
                               g("optim.adam", DType::f64)),
            1e-12);
  EXPECT_LT(max_relative_error(run([](auto p) {
                                 return std::make_unique<AdamW>(p, AdamOptions{0.05, 0.9, 0.999, 1e-8, 0.1});
                               }),
                               g("optim.adamw", DType::f64)),
            1e-12);
}
