// Module regime (qf_quant_regime): market regimes from the benchmark's returns (a Gaussian HMM and a
// rule baseline). Uses nothing but the standard library.
//
// Market regimes for stage 5 (predict_stock_movement) and the regime hook of stage 3:
//
//   regime_features        causal market features per day: the index's log return and, optionally,
//                          the log of its realised volatility (closes up to day t only)
//   GaussianHmm            a hidden Markov model with diagonal Gaussian emissions, 2..4 states
//   fit_gaussian_hmm       Baum-Welch (EM with scaled forward-backward), deterministic start
//   filtered_probabilities P(state_t | x_1..x_t): the only probabilities trading may use
//   smoothed_probabilities P(state_t | x_1..x_T): uses the future, for analysis and fitting only
//   viterbi_path           the most likely state path (also uses the whole sample)
//   rule_regimes           a volatility / trend rule as a baseline
//
// States are ordered by the variance of their returns after fitting, so state 0 is the calmest and
// state K-1 the most turbulent whatever EM's start; an exposure table indexed by state then means the
// same thing for every fit.
//
// The default features are the returns alone, as in Hamilton's regime-switching model: the states
// differ in mean and variance. A rolling volatility as a second feature is available, but its days
// overlap, which breaks the model's independence of emissions given the state. On the synthetic
// universe it recovers the regimes worse (73 % vs 83 %, tests/quant/regime/test_regime.cpp).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace qf::quant {

// Observations [days, features] row-major; rows with a NaN (the warm-up days) are skipped by the fit and
// leave the filter's prediction step running (the state still moves, nothing is observed).
struct RegimeFeatures {
  std::int64_t days = 0, features = 2;
  std::vector<double> values;  // [days, features]
  std::vector<std::string> names;
};
// The log return of `close` (a price series on the calendar; NaN gaps allowed) and, with window > 0, the
// log of its `window`-day realised volatility. Day t's features use closes up to t: NaN on day 0 and,
// with a window, until `window` returns are available.
RegimeFeatures regime_features(std::span<const double> close, int window = 0);

struct GaussianHmm {
  int states = 0, features = 0;
  std::vector<double> initial;     // [K]
  std::vector<double> transition;  // [K, K], rows sum to 1
  std::vector<double> means;       // [K, F]
  std::vector<double> variances;   // [K, F] (diagonal covariance)
};

struct HmmFitOptions {
  int states = 2;
  int max_iterations = 500;
  double tolerance = 1e-7;            // stop when the log-likelihood gains less than this (per iteration)
  double variance_floor = 1e-6;       // relative to each feature's sample variance
  double initial_persistence = 0.95;  // the starting transition matrix's diagonal
};

struct HmmFit {
  GaussianHmm model;
  double log_likelihood = 0;  // of the fitted model on the fit's observations
  int iterations = 0;
  bool converged = false;
};

// Baum-Welch on the rows [first, last] of `x` (NaN rows are gaps: the chain runs on, unobserved). The
// start is deterministic: the observed days sorted by the distance of their return from its median and
// cut into K equal slices give the states' means and variances. Throws std::invalid_argument for K
// outside 2..4 or fewer than 10 K observed rows.
HmmFit fit_gaussian_hmm(const RegimeFeatures& x, std::int64_t first, std::int64_t last,
                        const HmmFitOptions& options = {});
// EM from a given model, for comparisons with other implementations (same start, same iterations).
HmmFit fit_gaussian_hmm_from(const RegimeFeatures& x, std::int64_t first, std::int64_t last,
                             GaussianHmm start, const HmmFitOptions& options);

// [days, K]: P(state_t | x_1..x_t) under `model` for every day of x (day 0 starts from the model's
// fitted initial distribution, model.initial; NaN rows propagate the chain without an observation).
std::vector<double> filtered_probabilities(const GaussianHmm& model, const RegimeFeatures& x);
// [days, K]: P(state_t | all of x). Looks ahead: never for trading.
std::vector<double> smoothed_probabilities(const GaussianHmm& model, const RegimeFeatures& x);
std::vector<int> viterbi_path(const GaussianHmm& model, const RegimeFeatures& x);
double log_likelihood(const GaussianHmm& model, const RegimeFeatures& x);

// The baseline: state 1 (turbulent) when the 20-day realised volatility is above `threshold` times its
// trailing median over `median_window` days (both up to day t), else 0; -1 during the warm-up.
// trend[t] = +1 when the close is above its `trend_window`-day mean, -1 below, 0 in the warm-up.
struct RuleRegimes {
  std::vector<int> volatility_state, trend;
};
RuleRegimes rule_regimes(std::span<const double> close, int vol_window = 20, int median_window = 252,
                         double threshold = 1.25, int trend_window = 200);

// Exposure per day from per-state exposures: sum_k p_k(t) exposure[k] (NaN where p is NaN).
std::vector<double> regime_exposure(std::span<const double> probabilities, int states,
                                    std::span<const double> exposure_by_state);

}  // namespace qf::quant
