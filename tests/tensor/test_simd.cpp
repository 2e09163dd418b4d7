// The SIMD exp / sigmoid / tanh of qf/tensor/simd.h against float64 std:: functions over their whole
// useful range (relative error within a few float ulp), saturation at the extremes, and NaN in -> NaN
// out. Skipped where the build has no SIMD type.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "qf/tensor/simd.h"

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
