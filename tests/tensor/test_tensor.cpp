#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <string>

#include "qf/tensor/hash.h"
#include "qf/tensor/ops.h"

using namespace qf;

TEST(Tensor, FactoriesShapeAndItem) {
  Tensor t = Tensor::full({2, 3}, 1.5);
  EXPECT_EQ(t.shape(), (Shape{2, 3}));
  EXPECT_EQ(t.numel(), 6);
  EXPECT_EQ(t.dtype(), DType::f32);
  EXPECT_EQ(t.dim(-1), 3);
  EXPECT_FLOAT_EQ(t.at({1, 2}), 1.5f);
  EXPECT_THROW(t.item(), ShapeError);
  EXPECT_THROW(t.dim(2), ShapeError);
  EXPECT_THROW(t.data<double>(), ShapeError);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(t.data<float>()) % 64, 0u);
}

TEST(Tensor, SliceAndIndexAreViews) {
  Tensor t = Tensor::from<float>({0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, {3, 2, 2});
  Tensor rows = t.slice(1, 3);
  EXPECT_EQ(rows.shape(), (Shape{2, 2, 2}));
  EXPECT_FLOAT_EQ(rows.at({0, 0, 0}), 4.0f);
  Tensor step = t[2];
  EXPECT_EQ(step.shape(), (Shape{2, 2}));
  EXPECT_FLOAT_EQ(step.at({1, 1}), 11.0f);
  step.data<float>()[0] = -1;  // writes through to the parent
  EXPECT_FLOAT_EQ(t.at({2, 0, 0}), -1.0f);
  EXPECT_TRUE(step.shares_storage_with(t));
  EXPECT_THROW(t.slice(2, 4), ShapeError);
}

TEST(Tensor, ReshapeInfersOneAxisAndChecksSize) {
  Tensor t = Tensor::zeros({4, 6});
  EXPECT_EQ(t.reshape({-1, 3}).shape(), (Shape{8, 3}));
  EXPECT_THROW(t.reshape({5, 5}), ShapeError);
}

TEST(Tensor, CloneIsIndependentAndDtypeConverts) {
  Tensor t = Tensor::from<float>({1.25f, -2.0f}, {2});
  Tensor c = t.clone();
  c.data<float>()[0] = 9;
  EXPECT_FLOAT_EQ(t.at({0}), 1.25f);
  Tensor d = t.to(DType::f64);
  EXPECT_EQ(d.dtype(), DType::f64);
  EXPECT_DOUBLE_EQ(d.at({1}), -2.0);
}

TEST(Tensor, MaxRelativeErrorNeverPassesNaN) {
  Tensor a = Tensor::from<float>({1, 2, 3}, {3});
  Tensor b = Tensor::from<float>({1, NAN, 3}, {3});
  EXPECT_TRUE(std::isnan(max_relative_error(a, b)));
  EXPECT_FALSE(max_relative_error(a, b) < 1e-3);
  EXPECT_DOUBLE_EQ(max_relative_error(a, a), 0.0);
}

TEST(Ops, BroadcastingValues) {
  Var a(Tensor::from<float>({1, 2, 3, 4, 5, 6}, {2, 3}));
  Var row(Tensor::from<float>({10, 20, 30}, {3}));
  Var col(Tensor::from<float>({100, 200}, {2, 1}));
  Tensor s = (a + row).value();
  EXPECT_FLOAT_EQ(s.at({1, 2}), 36.0f);
  Tensor p = (a * col).value();
  EXPECT_FLOAT_EQ(p.at({1, 0}), 800.0f);
  Tensor outer = (col - row).value();  // [2,1] - [3] -> [2,3]
  EXPECT_EQ(outer.shape(), (Shape{2, 3}));
  EXPECT_FLOAT_EQ(outer.at({0, 2}), 70.0f);
}

TEST(Ops, ShapeErrorsNameBothShapes) {
  Var a(Tensor::zeros({2, 3})), b(Tensor::zeros({4, 5}));
  try {
    (void)add(a, b);
    FAIL() << "expected ShapeError";
  } catch (const ShapeError& e) {
    EXPECT_NE(std::string(e.what()).find("[2, 3]"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("[4, 5]"), std::string::npos);
  }
  EXPECT_THROW((void)matmul(a, b), ShapeError);
}

TEST(Ops, MatmulAgainstHandComputed) {
  Var a(Tensor::from<double>({1, 2, 3, 4, 5, 6}, {2, 3}));
  Var b(Tensor::from<double>({7, 8, 9, 10, 11, 12}, {3, 2}));
  Tensor c = matmul(a, b).value();
  EXPECT_DOUBLE_EQ(c.at({0, 0}), 58);
  EXPECT_DOUBLE_EQ(c.at({0, 1}), 64);
  EXPECT_DOUBLE_EQ(c.at({1, 0}), 139);
  EXPECT_DOUBLE_EQ(c.at({1, 1}), 154);
}

TEST(Ops, SoftmaxRowsSumToOneAndAreStable) {
  Var x(Tensor::from<float>({1000, 1001, 1002, -5, 0, 5}, {2, 3}));
  Tensor y = softmax(x, 1).value();
  for (int r = 0; r < 2; ++r) EXPECT_NEAR(y.at({r, 0}) + y.at({r, 1}) + y.at({r, 2}), 1.0, 1e-6);
  EXPECT_FALSE(std::isnan(y.at({0, 0})));
}

TEST(Autodiff, GradientsAccumulateUntilZeroed) {
  Var w = Var::parameter(Tensor::from<double>({2.0}, {1}));
  for (int i = 0; i < 2; ++i) sum(square(w)).backward();
  EXPECT_DOUBLE_EQ(w.grad().at({0}), 8.0);  // 2 * (2w)
  w.zero_grad();
  sum(square(w)).backward();
  EXPECT_DOUBLE_EQ(w.grad().at({0}), 4.0);
}

TEST(Autodiff, NoGradRecordsNothing) {
  Var w = Var::parameter(Tensor::from<double>({2.0}, {1}));
  NoGradGuard guard;
  Var y = square(w);
  EXPECT_FALSE(y.requires_grad());
  EXPECT_TRUE(y.node()->inputs.empty());
}

TEST(Autodiff, SharedSubexpressionGetsBothContributions) {
  Var x = Var::parameter(Tensor::from<double>({3.0}, {1}));
  Var y = x * x + x;  // dy/dx = 2x + 1
  sum(y).backward();
  EXPECT_DOUBLE_EQ(x.grad().at({0}), 7.0);
}

TEST(Random, DeterministicAndSplitStreamsDiffer) {
  Rng a(42), b(42);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(a.next_u64(), b.next_u64());
  Rng s1 = Rng(42).split(1), s2 = Rng(42).split(2);
  EXPECT_NE(s1.next_u64(), s2.next_u64());
  double mean = 0, sq = 0;
  Rng n(7);
  for (int i = 0; i < 20000; ++i) {
    const double v = n.normal();
    mean += v;
    sq += v * v;
  }
  EXPECT_NEAR(mean / 20000, 0.0, 0.03);
  EXPECT_NEAR(sq / 20000, 1.0, 0.04);
}

TEST(Hash, ByteWiseIsTextbookFnv1aAndWordWiseAgreesBelowEightBytes) {
  EXPECT_EQ(qf::fnv1a_bytewise(""), 0xcbf29ce484222325ULL);  // published FNV-1a 64 test vectors
  EXPECT_EQ(qf::fnv1a_bytewise("a"), 0xaf63dc4c8601ec8cULL);
  EXPECT_EQ(qf::fnv1a_bytewise("foobar"), 0x85944171f73967e8ULL);
  EXPECT_EQ(qf::fnv1a("foobar"), qf::fnv1a_bytewise("foobar"));
  const std::string key = "lstm h=64 L=1 drop=0 lr=0.001 w=60 f=default|AAPL|-1";
  EXPECT_NE(qf::fnv1a(key), qf::fnv1a_bytewise(key));  // words from the 8th byte on
  // The loop quant's seeds and splits were made with (training.cpp, sentiment.cpp), seed included.
  std::uint64_t h = 1469598103934665603ull;
  for (const unsigned char c : key) h = (h ^ c) * 1099511628211ull;
  EXPECT_EQ(qf::fnv1a_bytewise(key, qf::kQuantKeySeed), h);
}
