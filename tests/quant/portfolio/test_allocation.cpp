// Covariance estimators and allocation rules against scikit-learn, PyPortfolioOpt and closed forms
// (tests/data/allocation_golden.txt from scripts/make_allocation_golden.py), and risk parity by its
// defining property.
#include <gtest/gtest.h>

#include <cmath>
#include <numeric>

#include "common/golden.h"
#include "qf/quant/portfolio/allocation.h"

using namespace qf;

namespace {

const std::map<std::string, Tensor>& golden() {
  static const auto g = test_support::read_golden(QF_TEST_DATA_DIR "/allocation_golden.txt");
  return g;
}

void expect_close(std::span<const double> ours, const std::string& key, double tolerance) {
  const Tensor& reference = golden().at(key);
  ASSERT_EQ(static_cast<std::int64_t>(ours.size()), reference.numel()) << key;
  double scale = 0;
  for (const double v : reference.span<double>()) scale = std::max(scale, std::abs(v));
  for (std::size_t k = 0; k < ours.size(); ++k)
    ASSERT_NEAR(ours[k], reference.data<double>()[k], tolerance * scale) << key << " element " << k;
}

}  // namespace

TEST(Allocation, CovariancesMatchScikitLearnAndTheirDefinitions) {
  for (const std::string c : {"factor", "short"}) {
    const Tensor& r = golden().at(c + ".returns");
    expect_close(quant::sample_covariance(r).span<double>(), c + ".sample", 1e-12);
    const auto lw = quant::ledoit_wolf(r);
    EXPECT_NEAR(lw.shrinkage, golden().at(c + ".shrinkage").item(), 1e-12) << c;
    expect_close(lw.covariance.span<double>(), c + ".ledoit_wolf", 1e-12);
    expect_close(quant::ewma_covariance(r, 20.0).span<double>(), c + ".ewma20", 1e-12);
  }
  EXPECT_GT(golden().at("short.shrinkage").item(), 0.2) << "the ill-conditioned case must exercise shrinkage";
}

TEST(Allocation, MinVarianceAndHrpMatchReferences) {
  for (const std::string c : {"factor", "short"}) {
    const Tensor& r = golden().at(c + ".returns");
    const Tensor s = quant::ledoit_wolf(r).covariance;
    expect_close(quant::min_variance_weights(s), c + ".min_variance_lw", 1e-9);
    expect_close(quant::hrp_weights(quant::sample_covariance(r)), c + ".hrp", 1e-9);
  }
  // The sample covariance of 40 assets over 60 days with near-collinear pairs is singular-ish but
  // positive definite; a rank-deficient one is refused with a clear error.
  const Tensor flat = Tensor::from<double>({0.01, 0.01, 0.02, 0.02, -0.01, -0.01}, {3, 2});
  EXPECT_THROW(quant::min_variance_weights(quant::sample_covariance(flat)), std::invalid_argument);
}

TEST(Allocation, RiskParityEqualisesRiskContributions) {
  const Tensor s = quant::ledoit_wolf(golden().at("factor.returns")).covariance;
  const auto w = quant::risk_parity_weights(s);
  EXPECT_NEAR(std::accumulate(w.begin(), w.end(), 0.0), 1.0, 1e-12);
  for (const double rc : quant::risk_contributions(s, w)) EXPECT_NEAR(rc, 1.0 / 12, 1e-10);
  for (const double v : w) EXPECT_GT(v, 0);
  // Uncorrelated assets: risk parity is inverse volatility.
  const Tensor diagonal = Tensor::from<double>({0.04, 0, 0, 0, 0.01, 0, 0, 0, 0.0025}, {3, 3});
  const auto a = quant::risk_parity_weights(diagonal), b = quant::inverse_volatility_weights(diagonal);
  for (std::size_t k = 0; k < 3; ++k) EXPECT_NEAR(a[k], b[k], 1e-12);
  EXPECT_NEAR(b[0], 0.5 / 3.5, 1e-15);  // 1/0.2 : 1/0.1 : 1/0.05 = 5 : 10 : 20
}

TEST(Allocation, RiskParityFromAWarmStartReachesTheSameWeights) {
  const Tensor s = quant::ledoit_wolf(golden().at("factor.returns")).covariance;
  const auto cold = quant::risk_parity_weights(s);
  // Yesterday's weights (any scale): equal weights, and a scaled perturbation of the answer. With one
  // Newton step allowed, the near start must already be closer than the inverse-volatility start.
  std::vector<double> near(cold);
  for (std::size_t k = 0; k < near.size(); ++k)
    near[k] *= 3.0 * (1 + 0.01 * std::sin(static_cast<double>(k)));
  for (const auto& start : {std::vector<double>(12, 0.5), near}) {
    const auto warm = quant::risk_parity_weights(s, 1e-12, 100, start);
    for (std::size_t k = 0; k < 12; ++k) EXPECT_NEAR(warm[k], cold[k], 1e-10);
  }
  auto error = [&](const std::vector<double>& w) {
    double e = 0;
    for (std::size_t k = 0; k < 12; ++k) e = std::max(e, std::abs(w[k] - cold[k]));
    return e;
  };
  EXPECT_LT(error(quant::risk_parity_weights(s, 1e-12, 1, near)),
            error(quant::risk_parity_weights(s, 1e-12, 1)));
  // A start of the wrong size or with a non-positive weight is ignored.
  EXPECT_NEAR(quant::risk_parity_weights(s, 1e-12, 100, std::vector<double>(3, 1.0))[0], cold[0], 1e-10);
}
