#include "qf/quant/metrics/metrics.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <nlohmann/json.hpp>
#include <numeric>
#include <stdexcept>
#include <string>
#include <vector>

#include "qf/core/require.h"

namespace qf::quant {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// The pairs where both values are finite.
void finite_pairs(std::span<const double> a, std::span<const double> b, std::vector<double>& x,
                  std::vector<double>& y, const char* what) {
  QF_REQUIRE_MSG(a.size() == b.size(), what, a.size() << " predictions for " << b.size() << " values");
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

// Accuracy, balanced accuracy and the confusion counts over the calls; coverage = calls / scored cells.
void score_calls(const std::vector<double>& p, const std::vector<double>& y,
                 const std::vector<std::uint8_t>& called, ClassificationScores& s) {
  for (std::size_t i = 0; i < p.size(); ++i) {
    if (!called[i]) continue;
    const bool up = y[i] > 0.5, predicted_up = p[i] > 0.5;
    s.true_positives += up && predicted_up ? 1 : 0;
    s.false_positives += !up && predicted_up ? 1 : 0;
    s.true_negatives += !up && !predicted_up ? 1 : 0;
    s.false_negatives += up && !predicted_up ? 1 : 0;
  }
  s.calls = s.true_positives + s.false_positives + s.true_negatives + s.false_negatives;
  s.coverage = s.count > 0 ? static_cast<double>(s.calls) / static_cast<double>(s.count) : 0.0;
  const auto share = [](long part, long whole) {
    return whole > 0 ? static_cast<double>(part) / static_cast<double>(whole) : kNaN;
  };
  s.accuracy = share(s.true_positives + s.true_negatives, s.calls);
  const double up_recall = share(s.true_positives, s.true_positives + s.false_negatives),
               down_recall = share(s.true_negatives, s.true_negatives + s.false_positives);
  s.balanced_accuracy = 0.5 * (up_recall + down_recall);  // NaN when the calls saw one class only
}

// AUC, log loss and Brier over every scored cell, abstained or not.
void score_probabilities(const std::vector<double>& p, const std::vector<double>& y,
                         ClassificationScores& s) {
  if (p.empty()) {
    s.auc = s.log_loss = s.brier = kNaN;
    return;
  }
  double positives = 0;
  for (std::size_t i = 0; i < p.size(); ++i) {
    const bool up = y[i] > 0.5;
    positives += up ? 1 : 0;
    const double q = std::clamp(p[i], 1e-15, 1 - 1e-15);
    s.log_loss -= up ? std::log(q) : std::log(1 - q);
    s.brier += (p[i] - (up ? 1.0 : 0.0)) * (p[i] - (up ? 1.0 : 0.0));
  }
  const double n = static_cast<double>(p.size()), negatives = n - positives;
  s.log_loss /= n;
  s.brier /= n;
  s.auc = kNaN;
  if (positives > 0 && negatives > 0) {  // Mann-Whitney U from the ranks of the predictions
    const std::vector<double> rank = average_ranks(p);
    double rank_sum = 0;
    for (std::size_t i = 0; i < p.size(); ++i)
      if (y[i] > 0.5) rank_sum += rank[i];
    s.auc = (rank_sum - positives * (positives + 1) / 2) / (positives * negatives);
  }
}

}  // namespace

ClassificationScores classification_scores(std::span<const double> probabilities,
                                           std::span<const double> labels,
                                           std::span<const std::uint8_t> abstain) {
  QF_REQUIRE_MSG(abstain.empty() || abstain.size() == probabilities.size(), "classification_scores",
                 abstain.size() << " abstain flags for " << probabilities.size() << " predictions");
  std::vector<double> p, y;
  std::vector<std::uint8_t> called;
  finite_pairs(probabilities, labels, p, y, "classification_scores");
  for (std::size_t i = 0; i < probabilities.size(); ++i)  // the same cells finite_pairs kept
    if (std::isfinite(probabilities[i]) && std::isfinite(labels[i]))
      called.push_back(abstain.empty() || abstain[i] == 0 ? 1 : 0);
  ClassificationScores s;
  s.count = static_cast<long>(p.size());
  score_calls(p, y, called, s);
  score_probabilities(p, y, s);
  return s;
}

std::string format_fixed(double v, int digits) {
  if (!std::isfinite(v)) return "n/a";
  char text[64];
  std::snprintf(text, sizeof text, "%.*f", digits, v);
  return text;
}

std::string accuracy_text(double accuracy) {
  return std::isfinite(accuracy) ? format_fixed(100 * accuracy, 2) + " %" : "n/a";
}

nlohmann::ordered_json accuracy_json(double accuracy) {
  return std::isfinite(accuracy) ? nlohmann::ordered_json(accuracy) : nlohmann::ordered_json("n/a");
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
