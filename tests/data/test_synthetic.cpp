#include <gtest/gtest.h>

#include <cmath>

#include "qf/data/synthetic.h"
#include "qf/data/windows.h"

using namespace qf;
using namespace qf::data;

TEST(Synthetic, DeterministicFromSeedAndPricesPositive) {
  const auto a = make_synthetic_series({.days = 500, .seed = 3});
  const auto b = make_synthetic_series({.days = 500, .seed = 3});
  const auto c = make_synthetic_series({.days = 500, .seed = 4});
  EXPECT_EQ(a.close, b.close);
  EXPECT_NE(a.close, c.close);
  for (double p : a.close) EXPECT_GT(p, 0.0);
  for (std::size_t t = 1; t < a.close.size(); ++t)
    EXPECT_NEAR(std::log(a.close[t] / a.close[t - 1]), a.log_return[t], 1e-12);
}

TEST(Synthetic, VolatilityNearTarget) {
  const auto s = make_synthetic_series({.days = 20000, .volatility = 0.02, .seed = 5});
  double squares = 0;
  for (double r : s.log_return) squares += r * r;
  EXPECT_NEAR(std::sqrt(squares / 20000), 0.02, 0.003);
}

TEST(Windows, WindowEndingAtTHoldsRowsUpToTAndLabelOfT) {
  Tensor f = Tensor::empty({10, 2}, DType::f64);
  for (int t = 0; t < 10; ++t) {
    f.data<double>()[2 * t] = t;
    f.data<double>()[2 * t + 1] = 100 + t;
  }
  std::vector<double> labels(10);
  for (int t = 0; t < 10; ++t) labels[static_cast<std::size_t>(t)] = t % 2;
  labels[9] = NAN;  // no t+1 for the last day
  const WindowSet w = make_windows(f, labels, 3, 0, 9);
  ASSERT_EQ(w.end_day.front(), 2);
  ASSERT_EQ(w.end_day.back(), 8);  // day 9 has no label
  EXPECT_EQ(w.inputs.shape(), (Shape{7, 3, 2}));
  EXPECT_FLOAT_EQ(w.inputs.at({0, 2, 0}), 2.0f);    // last row of the first window is day 2
  EXPECT_FLOAT_EQ(w.inputs.at({6, 0, 1}), 106.0f);  // first row of the window ending at 8 is day 6
  EXPECT_FLOAT_EQ(w.targets.at({0, 0}), 0.0f);      // label of day 2
  EXPECT_FLOAT_EQ(w.targets.at({1, 0}), 1.0f);      // label of day 3
}

TEST(Scaler, FitsOnTrainingRowsOnly) {
  Tensor f = Tensor::from<double>({1, 2, 3, 1000}, {4, 1});
  StandardScaler s;
  s.fit(f, 0, 3);  // the outlier at row 3 lies in the future and must not leak into the fit
  EXPECT_DOUBLE_EQ(s.mean()[0], 2.0);
  const Tensor z = s.transform(f);
  EXPECT_NEAR(z.at({0, 0}), -1.224744871391589, 1e-12);
}
