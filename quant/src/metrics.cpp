#include "qf/quant/metrics.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <stdexcept>
#include <string>
#include <vector>

namespace qf::quant {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// The pairs where both values are finite.
void finite_pairs(std::span<const double> a, std::span<const double> b, std::vector<double>& x,
                  std::vector<double>& y, const char* what) {
  if (a.size() != b.size())
    throw std::invalid_argument(std::string(what) + ": " + std::to_string(a.size()) + " predictions for " +
                                std::to_string(b.size()) + " values");
  for (std::size_t i = 0; i < a.size(); ++i)
    if (std::isfinite(a[i]) && std::isfinite(b[i])) {
      x.push_back(a[i]);
      y.push_back(b[i]);
    }
}

// Average ranks (1-based), ties sharing the mean of their positions.
std::vector<double> average_ranks(const std::vector<double>& v) {
  std::vector<std::size_t> order(v.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return v[a] < v[b]; });
  std::vector<double> rank(v.size());
  for (std::size_t i = 0; i < order.size();) {
    std::size_t j = i;
    while (j + 1 < order.size() && v[order[j + 1]] == v[order[i]]) ++j;
    const double mean_rank = (static_cast<double>(i) + static_cast<double>(j)) / 2.0 + 1.0;
    for (std::size_t k = i; k <= j; ++k) rank[order[k]] = mean_rank;
    i = j + 1;
  }
  return rank;
}

double pearson(const std::vector<double>& x, const std::vector<double>& y) {
  const auto n = static_cast<double>(x.size());
  if (x.size() < 2) return kNaN;
  const double mx = std::accumulate(x.begin(), x.end(), 0.0) / n,
               my = std::accumulate(y.begin(), y.end(), 0.0) / n;
  double sxy = 0, sxx = 0, syy = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    sxy += (x[i] - mx) * (y[i] - my);
    sxx += (x[i] - mx) * (x[i] - mx);
    syy += (y[i] - my) * (y[i] - my);
  }
  return sxx > 0 && syy > 0 ? sxy / std::sqrt(sxx * syy) : kNaN;
}

}  // namespace

ClassificationScores classification_scores(std::span<const double> probabilities,
                                           std::span<const double> labels) {
  std::vector<double> p, y;
  finite_pairs(probabilities, labels, p, y, "classification_scores");
  ClassificationScores s;
  s.count = static_cast<long>(p.size());
  if (p.empty()) return {kNaN, kNaN, kNaN, kNaN, kNaN, 0};
  double correct = 0, positives = 0, true_positives = 0, true_negatives = 0;
  for (std::size_t i = 0; i < p.size(); ++i) {
    const bool up = y[i] > 0.5, predicted_up = p[i] > 0.5;
    correct += up == predicted_up ? 1 : 0;
    positives += up ? 1 : 0;
    true_positives += up && predicted_up ? 1 : 0;
    true_negatives += !up && !predicted_up ? 1 : 0;
    const double q = std::clamp(p[i], 1e-15, 1 - 1e-15);
    s.log_loss -= up ? std::log(q) : std::log(1 - q);
    s.brier += (p[i] - (up ? 1.0 : 0.0)) * (p[i] - (up ? 1.0 : 0.0));
  }
  const double n = static_cast<double>(p.size()), negatives = n - positives;
  s.accuracy = correct / n;
  s.log_loss /= n;
  s.brier /= n;
  s.balanced_accuracy =
      positives > 0 && negatives > 0 ? 0.5 * (true_positives / positives + true_negatives / negatives) : kNaN;
  if (positives > 0 && negatives > 0) {  // Mann-Whitney U from the ranks of the predictions
    const std::vector<double> rank = average_ranks(p);
    double rank_sum = 0;
    for (std::size_t i = 0; i < p.size(); ++i)
      if (y[i] > 0.5) rank_sum += rank[i];
    s.auc = (rank_sum - positives * (positives + 1) / 2) / (positives * negatives);
  } else {
    s.auc = kNaN;
  }
  return s;
}

double information_coefficient(std::span<const double> predictions, std::span<const double> returns) {
  std::vector<double> x, y;
  finite_pairs(predictions, returns, x, y, "information_coefficient");
  return pearson(x, y);
}

double rank_information_coefficient(std::span<const double> predictions, std::span<const double> returns) {
  std::vector<double> x, y;
  finite_pairs(predictions, returns, x, y, "rank_information_coefficient");
  return pearson(average_ranks(x), average_ranks(y));
}

}  // namespace qf::quant
