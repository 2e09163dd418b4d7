#include <gtest/gtest.h>

#include <cmath>

#include "qf/nn/optim.h"
#include "qf/tensor/ops.h"

using namespace qf;
using namespace qf::nn;

TEST(ClipGradNorm, ScalesToMaxNormAndReportsTheNormBefore) {
  Var a = Var::parameter(Tensor::zeros({2}, DType::f64)), b = Var::parameter(Tensor::zeros({1}, DType::f64));
  a.grad() = Tensor::from<double>({3, 0}, {2});
  b.grad() = Tensor::from<double>({4}, {1});
  EXPECT_NEAR(clip_grad_norm({a, b}, 1.0), 5.0, 1e-12);
  const double after = std::hypot(a.grad().at({0}), a.grad().at({1}), b.grad().at({0}));
  EXPECT_NEAR(after, 1.0, 1e-6);
  EXPECT_NEAR(clip_grad_norm({a, b}, 10.0), after, 1e-12);  // below the limit: unchanged
  EXPECT_NEAR(a.grad().at({0}) / b.grad().at({0}), 0.75, 1e-12);
}

TEST(Schedules, StepAndCosine) {
  const StepLR step(0.1, 10, 0.5);
  EXPECT_DOUBLE_EQ(step.lr(0), 0.1);
  EXPECT_DOUBLE_EQ(step.lr(9), 0.1);
  EXPECT_DOUBLE_EQ(step.lr(10), 0.05);
  EXPECT_DOUBLE_EQ(step.lr(25), 0.025);
  const CosineLR cosine(0.1, 100, 0.001);
  EXPECT_DOUBLE_EQ(cosine.lr(0), 0.1);
  EXPECT_NEAR(cosine.lr(50), 0.0505, 1e-12);
  EXPECT_NEAR(cosine.lr(100), 0.001, 1e-12);
  EXPECT_NEAR(cosine.lr(200), 0.001, 1e-12);
}

TEST(Optimizers, SkipParametersWithoutGradients) {
  Var w = Var::parameter(Tensor::full({3}, 1.0, DType::f64));
  Adam adam({w}, AdamOptions{});
  adam.step();
  EXPECT_EQ(w.value().at({0}), 1.0);
}

TEST(Optimizers, AdamMinimisesAQuadratic) {
  Var w = Var::parameter(Tensor::from<float>({5.0f, -3.0f}, {2}));
  Adam adam({w}, AdamOptions{0.1});
  for (int i = 0; i < 500; ++i) {
    adam.zero_grad();
    sum(square(w)).backward();
    adam.step();
  }
  EXPECT_LT(std::abs(w.value().at({0})), 1e-2);
  EXPECT_LT(std::abs(w.value().at({1})), 1e-2);
}
