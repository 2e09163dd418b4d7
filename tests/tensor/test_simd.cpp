// The SIMD exp / sigmoid / tanh of qf/tensor/simd.h against float64 std:: functions over their whole
// useful range (relative error within a few float ulp), saturation at the extremes, and NaN in -> NaN
// out (skipped where the build has no SIMD type); and their scalar twins fast_exp / fast_sigmoid /
// fast_tanh of qf/tensor/fast_math.h (every build) to the bounds that header states.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "qf/tensor/fast_math.h"
#include "qf/tensor/simd.h"

// fast_exp within 2 ulp on [-87, 88]; fast_sigmoid and fast_tanh within a few ulp (relative, against
// float64), small tanh arguments included, where 1 - e would cancel.
TEST(FastMath, ExpSigmoidTanhWithinTheirStatedUlp) {
  const double ulp = std::numeric_limits<float>::epsilon();
  for (int i = 0; i <= 200000; ++i) {
    const float x = -87.0f + 175.0f * static_cast<float>(i) / 200000.0f;
    ASSERT_NEAR(qf::fast_exp(x) / std::exp(double(x)), 1.0, 2 * ulp) << "exp " << x;
  }
  for (int i = 0; i <= 200000; ++i) {
    const float x = -30.0f + 60.0f * static_cast<float>(i) / 200000.0f;
    ASSERT_NEAR(qf::fast_sigmoid(x) * (1.0 + std::exp(-double(x))), 1.0, 4 * ulp) << "sigmoid " << x;
    if (std::tanh(double(x)) != 0.0) {
      ASSERT_NEAR(qf::fast_tanh(x) / std::tanh(double(x)), 1.0, 4 * ulp) << "tanh " << x;
    }
    const float small = -0.2f + 0.4f * static_cast<float>(i) / 200000.0f;
    if (small != 0.0f) {
      ASSERT_NEAR(qf::fast_tanh(small) / std::tanh(double(small)), 1.0, 4 * ulp) << "tanh " << small;
    }
  }
  EXPECT_EQ(qf::fast_tanh(0.0f), 0.0f);
  EXPECT_EQ(qf::fast_sigmoid(0.0f), 0.5f);
}

#ifdef QF_SIMD
namespace {

template <class F>
std::vector<float> elementwise(F f, const std::vector<float>& x) {
  std::vector<float> out(x.size());
  for (std::size_t i = 0; i < x.size(); i += qf::simd::kLanes)
    qf::simd::store(out.data() + i, f(qf::simd::load(x.data() + i)));
  return out;
}

std::vector<float> sweep(float lo, float hi, std::size_t n) {
  std::vector<float> x(n);
  for (std::size_t i = 0; i < n; ++i)
    x[i] = lo + (hi - lo) * static_cast<float>(i) / static_cast<float>(n - 1);
  return x;
}

}  // namespace

TEST(Simd, ExpSigmoidTanhWithinAFewUlp) {
  const auto x = sweep(-30.0f, 30.0f, 16 * 4096);
  const auto e = elementwise([](qf::simd::Vec v) { return qf::simd::exp(v); }, x);
  const auto s = elementwise([](qf::simd::Vec v) { return qf::simd::sigmoid(v); }, x);
  const auto t = elementwise([](qf::simd::Vec v) { return qf::simd::tanh(v); }, x);
  const double ulp = std::numeric_limits<float>::epsilon();
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double xi = x[i];
    ASSERT_NEAR(e[i] / std::exp(xi), 1.0, 4 * ulp) << "exp " << xi;
    ASSERT_NEAR(s[i] / (1.0 / (1.0 + std::exp(-xi))), 1.0, 4 * ulp) << "sigmoid " << xi;
    if (std::tanh(xi) != 0.0) {
      ASSERT_NEAR(t[i] / std::tanh(xi), 1.0, 4 * ulp) << "tanh " << xi;
    }
    ASSERT_LE(std::abs(t[i]), 1.0f) << "tanh " << xi;  // a cell state must never be pushed outside [-1, 1]
    ASSERT_LE(s[i], 1.0f) << "sigmoid " << xi;
  }
  // Small arguments, where relative error is the hard part.
  const auto small = sweep(-0.2f, 0.2f, 16 * 1024);
  const auto ts = elementwise([](qf::simd::Vec v) { return qf::simd::tanh(v); }, small);
  for (std::size_t i = 0; i < small.size(); ++i)
    if (small[i] != 0.0f) {
      ASSERT_NEAR(ts[i] / std::tanh(double(small[i])), 1.0, 4 * ulp) << small[i];
    }
}

// exp over its whole clamped range, where the scaling by 2^n meets the ends of the float exponent.
TEST(Simd, ExpWithinAFewUlpUpToTheFloatRange) {
  auto x = sweep(-87.3f, 88.7f, 16 * 4096);
  for (float edge : {-87.3f, -87.0f, -86.99f, 88.37f, 88.38f, 88.7f}) x.push_back(edge);
  while (x.size() % qf::simd::kLanes != 0) x.push_back(0.0f);
  const auto e = elementwise([](qf::simd::Vec v) { return qf::simd::exp(v); }, x);
  for (std::size_t i = 0; i < x.size(); ++i) {
    ASSERT_TRUE(std::isnormal(e[i])) << x[i];
    ASSERT_NEAR(e[i] / std::exp(double(x[i])), 1.0, 4 * std::numeric_limits<float>::epsilon()) << x[i];
  }
}

TEST(Simd, SaturatesAtTheExtremesAndPropagatesNaN) {
  std::vector<float> x(qf::simd::kLanes, 0.0f);
  x[0] = -1000.0f;
  x[1] = 1000.0f;
  x[2] = std::numeric_limits<float>::quiet_NaN();
  const auto s = elementwise([](qf::simd::Vec v) { return qf::simd::sigmoid(v); }, x);
  const auto t = elementwise([](qf::simd::Vec v) { return qf::simd::tanh(v); }, x);
  const auto e = elementwise([](qf::simd::Vec v) { return qf::simd::exp(v); }, x);
  EXPECT_NEAR(s[0], 0.0f, 1e-30f);
  EXPECT_EQ(s[1], 1.0f);
  EXPECT_EQ(t[0], -1.0f);
  EXPECT_EQ(t[1], 1.0f);
  EXPECT_TRUE(std::isfinite(e[1]));
  EXPECT_TRUE(std::isnan(s[2]));
  EXPECT_TRUE(std::isnan(t[2]));
  EXPECT_TRUE(std::isnan(e[2]));
  EXPECT_EQ(s[3], 0.5f);
  EXPECT_EQ(t[3], 0.0f);
}
#else
TEST(Simd, ExpSigmoidTanhWithinAFewUlp) {
  GTEST_SKIP() << "no SIMD type in this build";
}
#endif
