// Covariance estimates and the unconstrained allocation rules of stage 3 (portfolio_optimizer). Inputs
// are complete daily return matrices [T, N] (row-major, float64; the caller picks tickers with a full
// window); outputs are [N, N] matrices or N weights summing to 1.
//
// Estimators follow scikit-learn's definitions, and HRP PyPortfolioOpt's, so that results can be checked
// against them (tests/quant/portfolio/test_allocation.cpp, values from scripts/make_allocation_golden.py):
// clang-format off
//   sample_covariance  centred, divided by T (the maximum-likelihood estimate, sklearn's
//                      empirical_covariance)
//   ledoit_wolf        Ledoit & Wolf (2004): (1 - s) S + s mu I, mu = trace(S) / N, s estimated from the
//                      data and capped at 1 (sklearn.covariance.LedoitWolf)
//   ewma_covariance    observation t weighted by 0.5^((T-1-t) / halflife), normalised, centred on the
//                      weighted mean
// clang-format on
#pragma once

#include <span>
#include <vector>

#include "qf/tensor/tensor.h"

namespace qf::quant {

Tensor sample_covariance(const Tensor& returns);
struct ShrunkCovariance {
  Tensor covariance;
  double shrinkage = 0;  // s in [0, 1]
};
ShrunkCovariance ledoit_wolf(const Tensor& returns);
Tensor ewma_covariance(const Tensor& returns, double halflife);

// Weights (summing to 1, long only unless said otherwise) from a covariance matrix [N, N]:
std::vector<double> equal_weights(std::int64_t n);
// w_i proportional to 1 / sigma_i.
std::vector<double> inverse_volatility_weights(const Tensor& covariance);
// The global minimum-variance portfolio without bounds: w = S^-1 1 / (1' S^-1 1) (may hold shorts).
// Throws when S is not positive definite (Cholesky fails; the error names the pivot).
std::vector<double> min_variance_weights(const Tensor& covariance);
// Equal risk contribution (risk parity): w_i (S w)_i equal for all i, w > 0, by Newton's method on
// Spinu's convex formulation; tolerance on the relative spread of the contributions. Starts from
// `start` (e.g. yesterday's weights, same names) when given, from inverse volatility otherwise.
std::vector<double> risk_parity_weights(const Tensor& covariance, double tolerance = 1e-12,
                                        int max_iterations = 100, std::span<const double> start = {});
// Hierarchical risk parity (Lopez de Prado 2016) as PyPortfolioOpt computes it: single-linkage clusters
// of the distance sqrt((1 - corr) / 2), leaves in the tree's pre-order, recursive bisection by
// inverse-variance cluster risk.
std::vector<double> hrp_weights(const Tensor& covariance);

// Risk contributions w_i (S w)_i / (w' S w), summing to 1.
std::vector<double> risk_contributions(const Tensor& covariance, const std::vector<double>& weights);

}  // namespace qf::quant
