// Probability calibration for stage 5: map a model's up-move probabilities to frequencies that hold.
//
//   PlattScaling     p' = sigmoid(a * logit(p) + b), a and b by maximum likelihood (Newton), with
//                    Platt's (1999) smoothed targets so that a perfectly separated fit stays finite
//   IsotonicScaling  the monotone step function of least squares (pool adjacent violators), clamped
//                    outside the fitted range, as scikit-learn's IsotonicRegression(out_of_bounds="clip")
//   reliability_curve, expected_calibration_error (Brier score and log loss: metrics.h)
//
// Calibrators are fitted on validation (out-of-fold) predictions only and then applied to later days:
// fitting on the days they score would flatter them.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace qf::quant {

// log(p / (1 - p)) with p clamped to [1e-6, 1 - 1e-6] (a probability of exactly 0 or 1 stays finite),
// and its inverse.
double logit(double probability);
double sigmoid(double z);

// Logistic regression by Newton's method with a ridge: P(up) = sigmoid(w' x + b), x of `dimension`
// features, on soft targets in [0, 1]. Returns [w..., b].
std::vector<double> fit_logistic(std::span<const double> features, std::size_t dimension,
                                 std::span<const double> target, double ridge = 0);
double logistic(std::span<const double> coefficients, std::span<const double> features);

struct PlattScaling {
  double slope = 1, intercept = 0;  // on the logit scale; identity by default
  double apply(double probability) const;
};
// Fits on (probability, outcome in {0, 1}) pairs; NaN probabilities are skipped. Throws
// std::invalid_argument with fewer than 2 pairs or a single outcome class.
PlattScaling fit_platt(std::span<const double> probability, std::span<const double> outcome);

struct IsotonicScaling {
  std::vector<double> x, y;  // knots: increasing x, non-decreasing y; linear between, flat outside
  double apply(double probability) const;
};
IsotonicScaling fit_isotonic(std::span<const double> probability, std::span<const double> outcome);

// The calibrator a study picked, by name: "none", "platt" or "isotonic".
struct Calibrator {
  std::string method = "none";
  PlattScaling platt;
  IsotonicScaling isotonic;
  double apply(double probability) const;
};
Calibrator fit_calibrator(const std::string& method, std::span<const double> probability,
                          std::span<const double> outcome);

struct ReliabilityBin {
  double lower = 0, upper = 0;                 // the bin's probability range
  double mean_probability = 0, frequency = 0;  // NaN for an empty bin
  std::int64_t count = 0;
};
// Equal-width bins over [0, 1].
std::vector<ReliabilityBin> reliability_curve(std::span<const double> probability,
                                              std::span<const double> outcome, int bins = 10);
// sum over bins of count / total * |frequency - mean probability|.
double expected_calibration_error(const std::vector<ReliabilityBin>& curve);

}  // namespace qf::quant
