// Every differentiable op against central finite differences in float64 (relative error < 1e-6).
#include <gtest/gtest.h>

#include "qf/tensor/gradcheck.h"
#include "qf/tensor/ops.h"

using namespace qf;

namespace {

Tensor random(Shape shape, std::uint64_t seed, double low = -1.0, double high = 1.0) {
  Tensor t = Tensor::empty(std::move(shape), DType::f64);
  Rng rng(seed);
  rng.fill_uniform(t, low, high);
  return t;
}

// Reduces any output to a scalar through fixed random weights, so that every output element's
// gradient is distinct.
Var weighted_sum(const Var& y) {
  Rng rng(99);
  Tensor w = Tensor::empty(y.shape(), DType::f64);
  rng.fill_uniform(w, -1.0, 1.0);
  return sum(y * Var(w));
}

void expect_gradients(const std::function<Var(const std::vector<Var>&)>& f,
                      const std::vector<Tensor>& inputs) {
  const GradCheckResult r = gradcheck([&](const std::vector<Var>& v) { return weighted_sum(f(v)); }, inputs);
  EXPECT_LT(r.max_relative_error, 1e-6) << r.worst_input;
}

}  // namespace

TEST(GradCheck, Matmul2D) {
  expect_gradients([](auto& v) { return matmul(v[0], v[1]); }, {random({3, 4}, 1), random({4, 5}, 2)});
}
TEST(GradCheck, MatmulSharedWeights) {
  expect_gradients([](auto& v) { return matmul(v[0], v[1]); }, {random({2, 3, 4}, 1), random({4, 5}, 2)});
}
TEST(GradCheck, MatmulBatched) {
  expect_gradients([](auto& v) { return matmul(v[0], v[1]); }, {random({2, 3, 4}, 1), random({2, 4, 5}, 2)});
}
TEST(GradCheck, Linear) {
  expect_gradients([](auto& v) { return linear(v[0], v[1], v[2]); },
                   {random({2, 3, 4}, 1), random({5, 4}, 2), random({5}, 3)});
}
TEST(GradCheck, AddSubMulDivWithBroadcasting) {
  const std::vector<Tensor> in{random({2, 3, 4}, 1), random({3, 1}, 2, 0.5, 1.5)};
  expect_gradients([](auto& v) { return add(v[0], v[1]); }, in);
  expect_gradients([](auto& v) { return sub(v[1], v[0]); }, in);
  expect_gradients([](auto& v) { return mul(v[0], v[1]); }, in);
  expect_gradients([](auto& v) { return div(v[0], v[1]); }, in);
  expect_gradients([](auto& v) { return div(v[1], add_scalar(square(v[0]), 1.0)); }, in);
}
TEST(GradCheck, ScalarOps) {
  expect_gradients([](auto& v) { return add_scalar(scale(neg(v[0]), 2.5), 3.0); }, {random({4, 3}, 4)});
}
TEST(GradCheck, ElementwiseFunctions) {
  const std::vector<Tensor> any{random({3, 5}, 5, -2.0, 2.0)};
  const std::vector<Tensor> positive{random({3, 5}, 6, 0.2, 2.0)};
  expect_gradients([](auto& v) { return sigmoid(v[0]); }, any);
  expect_gradients([](auto& v) { return tanh(v[0]); }, any);
  expect_gradients([](auto& v) { return relu(v[0]); }, any);
  expect_gradients([](auto& v) { return exp(v[0]); }, any);
  expect_gradients([](auto& v) { return square(v[0]); }, any);
  expect_gradients([](auto& v) { return log(v[0]); }, positive);
  expect_gradients([](auto& v) { return sqrt(v[0]); }, positive);
}
TEST(GradCheck, SoftmaxAndLogSoftmaxOnEveryAxis) {
  for (int axis : {0, 1, -1}) {
    expect_gradients([axis](auto& v) { return softmax(v[0], axis); }, {random({3, 4, 2}, 7, -2, 2)});
    expect_gradients([axis](auto& v) { return log_softmax(v[0], axis); }, {random({3, 4, 2}, 8, -2, 2)});
  }
}
TEST(GradCheck, Reductions) {
  for (int axis : {0, 1, 2})
    for (bool keep : {false, true}) {
      expect_gradients([axis, keep](auto& v) { return sum(v[0], axis, keep); }, {random({2, 3, 4}, 9)});
      expect_gradients([axis, keep](auto& v) { return mean(v[0], axis, keep); }, {random({2, 3, 4}, 10)});
    }
  expect_gradients([](auto& v) { return sum(v[0]); }, {random({2, 3}, 11)});
  expect_gradients([](auto& v) { return mean(v[0]); }, {random({2, 3}, 12)});
}
TEST(GradCheck, ConcatSliceReshapeTranspose) {
  expect_gradients(
      [](auto& v) {
        return concat({v[0], v[1]}, 1);
      },
      {random({2, 3, 2}, 13), random({2, 1, 2}, 14)});
  expect_gradients([](auto& v) { return concat({v[0], v[1]}, 0); }, {random({2, 3}, 15), random({1, 3}, 16)});
  expect_gradients([](auto& v) { return slice(v[0], 1, 1, 3); }, {random({2, 4, 3}, 17)});
  expect_gradients([](auto& v) { return slice(v[0], -1, 0, 2); }, {random({2, 4, 3}, 18)});
  expect_gradients([](auto& v) { return reshape(v[0], {3, -1}); }, {random({2, 3, 2}, 19)});
  expect_gradients([](auto& v) { return transpose(v[0], 0, 2); }, {random({2, 3, 4}, 20)});
  expect_gradients([](auto& v) { return transpose(v[0], 1, 0); }, {random({3, 5}, 21)});
}
TEST(GradCheck, DropoutWithFixedMask) {
  // A fresh Rng with the same seed on every call gives the same mask, as finite differences need.
  expect_gradients(
      [](auto& v) {
        Rng rng(5);
        return dropout(v[0], 0.3, rng, true);
      },
      {random({4, 6}, 22)});
}
TEST(GradCheck, EmbeddingWithRepeatedIndices) {
  const std::vector<std::int64_t> idx{2, 0, 2, 3, 1, 2};
  expect_gradients([&](auto& v) { return embedding(v[0], idx, {2, 3}); }, {random({4, 5}, 23)});
}

TEST(Dropout, KeepsExpectationAndIsIdentityInEval) {
  Rng rng(1);
  Var x(Tensor::full({10000}, 1.0, DType::f64));
  const double m = mean(dropout(x, 0.25, rng, true)).value().item();
  EXPECT_NEAR(m, 1.0, 0.03);
  EXPECT_TRUE(dropout(x, 0.25, rng, false).node() == x.node());
}

TEST(GradCheck, CheckerDetectsAWrongGradient) {
  // A deliberately wrong backward (factor 2 too large) must be caught: the checker can fail.
  auto wrong_square = [](const Var& a) {
    Tensor y = square(a.detach()).value();
    return record_op("wrong", y, {a}, [x = a.value()](Node& self) {
      Tensor g = Tensor::empty(x.shape(), x.dtype());
      for (std::int64_t i = 0; i < x.numel(); ++i)
        g.data<double>()[i] = 4 * x.data<double>()[i] * self.grad.data<double>()[i];
      self.inputs[0]->accumulate_grad(g);
    });
  };
  const GradCheckResult r = gradcheck([&](auto& v) { return sum(wrong_square(v[0])); }, {random({3}, 24)});
  EXPECT_GT(r.max_relative_error, 0.1);
}
