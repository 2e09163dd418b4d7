// Every layer and loss against finite differences (float64, relative error < 1e-6), and the fused
// LSTM against the same LSTM composed of autodiff ops.
#include <gtest/gtest.h>

#include <cmath>

#include "common/module_gradcheck.h"
#include "qf/nn/examples/attention_gru.h"
#include "qf/nn/layers.h"
#include "qf/nn/loss.h"
#include "qf/nn/rnn.h"
#include "qf/tensor/gradcheck.h"

using namespace qf;
using namespace qf::nn;
using qf::test_support::check_module;
using qf::test_support::weighted_sum;

namespace {

Tensor random(Shape shape, std::uint64_t seed, DType dtype = DType::f64) {
  Tensor t = Tensor::empty(std::move(shape), dtype);
  Rng(seed).fill_uniform(t, -1.0, 1.0);
  return t;
}

RNNOptions f64_options(std::int64_t in, std::int64_t hidden, std::int64_t layers) {
  return RNNOptions{in, hidden, layers, 0.0, DType::f64};
}

}  // namespace

TEST(LayerGradCheck, Linear) {
  Rng rng(1);
  Linear layer(4, 3, rng, true, DType::f64);
  check_module(layer, random({2, 5, 4}, 2), [&](const Var& x) { return layer.forward(x); });
}

TEST(LayerGradCheck, LayerNorm) {
  LayerNorm norm(5, 1e-5, DType::f64);
  Rng(3).fill_uniform(norm.weight.value(), 0.5, 1.5);
  check_module(norm, random({3, 5}, 4), [&](const Var& x) { return norm.forward(x); });
}

TEST(LayerGradCheck, LSTMFusedTwoLayersWithStatesAndCellOutput) {
  Rng rng(5);
  LSTM lstm(f64_options(3, 4, 2), rng);
  check_module(lstm, {random({2, 5, 3}, 8), random({2, 2, 4}, 6), random({2, 2, 4}, 7)},
               [&](const std::vector<Var>& v) {
                 RNNOutput out = lstm.forward(v[0], v[1], v[2]);
                 return weighted_sum(out.output, 1) + weighted_sum(out.h_n, 2) + weighted_sum(out.c_n, 3);
               });
}

TEST(LayerGradCheck, LSTMComposed) {
  Rng rng(9);
  LSTM lstm(f64_options(3, 2, 1), rng);
  lstm.path = LSTMPath::composed;
  check_module(lstm, random({2, 4, 3}, 10), [&](const Var& x) { return lstm.forward(x).output; });
}

TEST(LayerGradCheck, GRUTwoLayers) {
  Rng rng(11);
  GRU gru(f64_options(3, 4, 2), rng);
  check_module(gru, random({2, 4, 3}, 12), [&](const Var& x) { return gru.forward(x).output; });
}

TEST(LayerGradCheck, AttentionGRUExample) {
  Rng rng(13);
  AttentionGRU model(3, 4, 5, rng, DType::f64);
  check_module(model, random({2, 6, 3}, 14), [&](const Var& x) { return model.forward(x); });
}

TEST(LossGradCheck, BCEWithLogitsCrossEntropyMSE) {
  const Tensor targets01 = Tensor::from<double>({1, 0, 0, 1, 1, 0}, {2, 3});
  const std::vector<std::int64_t> classes{2, 0};
  const Tensor regression = random({2, 3}, 15);
  for (const auto& loss : std::vector<std::function<Var(const Var&)>>{
           [&](const Var& x) { return bce_with_logits(x, targets01); },
           [&](const Var& x) { return cross_entropy(x, classes); },
           [&](const Var& x) { return mse_loss(x, regression); }}) {
    const GradCheckResult r = gradcheck([&](auto& v) { return loss(v[0]); }, {random({2, 3}, 16)});
    EXPECT_LT(r.max_relative_error, 1e-6) << r.worst_input;
  }
}

TEST(Loss, ValuesMatchDefinitions) {
  Var logits(Tensor::from<double>({2.0, -1.0}, {2}));
  const double bce = bce_with_logits(logits, Tensor::from<double>({1.0, 0.0}, {2})).value().item();
  EXPECT_NEAR(bce, 0.5 * (std::log1p(std::exp(-2.0)) + std::log1p(std::exp(-1.0))), 1e-12);
  Var big(Tensor::from<double>({800.0}, {1}));  // stable for large logits
  EXPECT_NEAR(bce_with_logits(big, Tensor::from<double>({0.0}, {1})).value().item(), 800.0, 1e-9);
  const std::vector<std::int64_t> cls{1};
  Var two(Tensor::from<double>({0.0, 0.0}, {1, 2}));
  EXPECT_NEAR(cross_entropy(two, cls).value().item(), std::log(2.0), 1e-12);
}

// The float32 fused path is the register-blocked SIMD kernel (lstm_step_simd.cpp) where the CPU has
// one; the shapes cover its row-block remainders (B = 13 = 6 + 6 + 1), hidden sizes that are not a
// multiple of the vector width (8, 20, 130), a single input and two layers (so dx is used).
TEST(LSTMPaths, FusedEqualsComposedInFloat32AndFloat64) {
  for (auto [I, H, L, B, S] : {std::tuple{5, 8, 2, 3, 9}, std::tuple{16, 64, 1, 13, 7},
                               std::tuple{1, 20, 2, 7, 5}, std::tuple{3, 130, 1, 2, 3}})
    for (DType dtype : {DType::f64, DType::f32}) {
      Rng rng(17);
      LSTM lstm(RNNOptions{I, H, L, 0.0, dtype}, rng);
      const Var x = Var::parameter(random({B, S, I}, 18, dtype));
      // Every output in the loss; then h_n alone without the sequence output (a classifier's use: the
      // fused backward then runs with no output gradient at all).
      auto run = [&](LSTMPath path, bool sequence) {
        lstm.path = path;
        for (auto& p : lstm.parameters()) p.zero_grad();
        x.node()->grad = Tensor();
        RNNOutput out = lstm.forward(x, {}, {}, sequence);
        Var loss = sum(out.h_n * Var(random(out.h_n.shape(), 21, dtype)));
        if (sequence)
          loss = loss + sum(out.output * Var(random(out.output.shape(), 19, dtype))) +
                 sum(out.c_n * Var(random(out.c_n.shape(), 20, dtype)));
        loss.backward();
        std::vector<Tensor> result{out.h_n.value().clone(), out.c_n.value().clone(), x.grad().clone()};
        if (sequence)
          result.push_back(out.output.value().clone());
        else
          EXPECT_FALSE(out.output.defined());
        for (auto& p : lstm.parameters()) result.push_back(p.grad().clone());
        return result;
      };
      for (const bool sequence : {true, false}) {
        const auto fused = run(LSTMPath::fused, sequence), composed = run(LSTMPath::composed, sequence);
        // float32: states agree to 1e-4 (relative, floor 1e-3); gradients, sums over up to 91 (batch,
        // time) rows whose terms cancel, carry more rounding (a wrong kernel is off by O(1)).
        ASSERT_EQ(fused.size(), composed.size());
        for (std::size_t i = 0; i < fused.size(); ++i)
          EXPECT_LT(max_relative_error(fused[i], composed[i], 1e-3),
                    dtype == DType::f64 ? 1e-12 : (i < 2 ? 1e-4 : 1e-3))
              << "tensor " << i << ", I " << I << " H " << H << " layers " << L << " B " << B << " S " << S
              << (sequence ? "" : ", h_n only");
      }
    }
}

TEST(LSTMShapes, ErrorsNameTheShapes) {
  Rng rng(21);
  LSTM lstm(RNNOptions{4, 8, 1}, rng);
  try {
    lstm.forward(Var(Tensor::zeros({2, 3, 5})));
    FAIL();
  } catch (const ShapeError& e) {
    EXPECT_NE(std::string(e.what()).find("[2, 3, 5]"), std::string::npos);
  }
}

TEST(Determinism, SameSeedGivesSameWeightsAndDropoutMasks) {
  auto build_and_run = [](std::uint64_t seed) {
    Rng rng(seed);
    LSTM lstm(RNNOptions{3, 8, 2, 0.5}, rng);  // dropout between the layers
    lstm.train();
    std::vector<Tensor> out;
    for (auto& p : lstm.parameters()) out.push_back(p.value().clone());
    out.push_back(lstm.forward(Var(random({2, 5, 3}, 1, DType::f32))).output.value());
    return out;
  };
  const auto a = build_and_run(42), b = build_and_run(42), c = build_and_run(43);
  for (std::size_t i = 0; i < a.size(); ++i) EXPECT_EQ(max_relative_error(a[i], b[i]), 0.0) << i;
  EXPECT_GT(max_relative_error(a[0], c[0]), 0.0);
  EXPECT_GT(max_relative_error(a.back(), c.back()), 0.0);
}
