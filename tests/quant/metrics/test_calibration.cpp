// Calibration (qf/quant/metrics/calibration.h): Platt scaling and isotonic regression against scikit-learn
// (tests/data/calibration_golden.txt from scripts/make_calibration_golden.py), and the point of it:
// on held-out days, calibrated probabilities have a lower Brier score than the raw ones.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "common/golden.h"
#include "qf/quant/metrics/calibration.h"
#include "qf/quant/metrics/metrics.h"

using namespace qf;

namespace {

std::vector<double> vec(const Tensor& t) {
  return {t.data<double>(), t.data<double>() + t.numel()};
}

// Predictions of a model whose logit is `temperature` times the true one (> 1: overconfident).
struct Sample {
  std::vector<double> p, y;
};
Sample miscalibrated(std::size_t n, double temperature, unsigned seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> truth(0.25, 0.75), u(0, 1);
  Sample s;
  for (std::size_t i = 0; i < n; ++i) {
    const double q = truth(rng);
    s.y.push_back(u(rng) < q ? 1 : 0);
    s.p.push_back(1 / (1 + std::exp(-temperature * std::log(q / (1 - q)))));
  }
  return s;
}

}  // namespace

TEST(Calibration, PlattAndIsotonicMatchScikitLearn) {
  const auto golden = test_support::read_golden(QF_TEST_DATA_DIR "/calibration_golden.txt");
  for (const std::string name : {"overconfident", "underconfident"}) {
    SCOPED_TRACE(name);
    const auto p = vec(golden.at(name + ".p")), y = vec(golden.at(name + ".y")),
               query = vec(golden.at(name + ".query"));
    const auto platt = quant::fit_platt(p, y);
    // scikit-learn stops BFGS at its gradient tolerance; Newton here goes to the optimum.
    EXPECT_NEAR(platt.slope, golden.at(name + ".platt").data<double>()[0], 1e-4);
    EXPECT_NEAR(platt.intercept, golden.at(name + ".platt").data<double>()[1], 1e-4);
    const auto isotonic = quant::fit_isotonic(p, y);
    for (std::size_t i = 0; i < query.size(); ++i) {
      EXPECT_NEAR(platt.apply(query[i]), golden.at(name + ".platt_query").data<double>()[i], 1e-5)
          << query[i];
      EXPECT_NEAR(isotonic.apply(query[i]), golden.at(name + ".isotonic_query").data<double>()[i], 1e-12)
          << query[i];
    }
  }
}

TEST(Calibration, LowersTheBrierScoreOnHeldOutData) {
  for (const double temperature : {3.0, 0.4}) {  // overconfident and underconfident models
    SCOPED_TRACE(temperature);
    const auto fit = miscalibrated(4000, temperature, 1), held_out = miscalibrated(4000, temperature, 2);
    const double raw = quant::classification_scores(held_out.p, held_out.y).brier;
    for (const std::string method : {"platt", "isotonic"}) {
      const auto c = quant::fit_calibrator(method, fit.p, fit.y);
      std::vector<double> calibrated;
      for (const double v : held_out.p) calibrated.push_back(c.apply(v));
      const double brier = quant::classification_scores(calibrated, held_out.y).brier;
      const double ece_raw =
                       quant::expected_calibration_error(quant::reliability_curve(held_out.p, held_out.y)),
                   ece = quant::expected_calibration_error(quant::reliability_curve(calibrated, held_out.y));
      EXPECT_LT(brier, raw) << method;
      EXPECT_LT(ece, 0.5 * ece_raw) << method;
      // Calibration keeps the order: the AUC cannot improve (Platt) or can only tie (isotonic steps).
      EXPECT_LE(quant::classification_scores(calibrated, held_out.y).auc,
                quant::classification_scores(held_out.p, held_out.y).auc + 1e-12)
          << method;
    }
  }
  // A calibrated model gains nothing: Platt's slope stays near 1 and its intercept near 0.
  const auto good = miscalibrated(20000, 1.0, 3);
  const auto platt = quant::fit_platt(good.p, good.y);
  EXPECT_NEAR(platt.slope, 1.0, 0.1);
  EXPECT_NEAR(platt.intercept, 0.0, 0.05);
}

TEST(Calibration, ReliabilityCurveAndBadInput) {
  const std::vector<double> p = {0.05, 0.15, 0.12, 0.95, 0.91, std::nan("")}, y = {0, 1, 0, 1, 1, 1};
  const auto curve = quant::reliability_curve(p, y, 10);
  ASSERT_EQ(curve.size(), 10u);
  EXPECT_EQ(curve[0].count, 1);
  EXPECT_EQ(curve[1].count, 2);
  EXPECT_DOUBLE_EQ(curve[1].frequency, 0.5);
  EXPECT_DOUBLE_EQ(curve[1].mean_probability, 0.135);
  EXPECT_EQ(curve[9].count, 2);
  EXPECT_TRUE(std::isnan(curve[5].frequency));
  EXPECT_NEAR(quant::expected_calibration_error(curve), (0.05 + 2 * 0.365 + 2 * 0.07) / 5, 1e-12);
  EXPECT_THROW(quant::fit_platt(std::vector<double>{0.3, 0.6}, std::vector<double>{1, 1}),
               std::invalid_argument);
  EXPECT_THROW(quant::fit_calibrator("beta", p, y), std::invalid_argument);
}
