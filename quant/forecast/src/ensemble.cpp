#include "qf/quant/forecast/ensemble.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

#include "qf/core/require.h"
#include "qf/quant/metrics/calibration.h"

namespace qf::quant {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

void check(const EnsembleMembers& m) {
  QF_REQUIRE(m.members >= 1, "ensemble", "members", m.members, "must be at least 1");
  QF_REQUIRE_MSG(m.probability.size() == static_cast<std::size_t>(m.members * m.samples), "ensemble",
                 m.probability.size()
                     << " probabilities for [members, samples] = [" << m.members << ", " << m.samples << "]");
}

// Stacking's features for one sample: the members' logits, a missing member at logit 0 (p = 0.5).
void logits_of(const EnsembleMembers& m, std::int64_t s, std::vector<double>& out) {
  out.resize(static_cast<std::size_t>(m.members));
  for (std::int64_t k = 0; k < m.members; ++k) {
    const double p = m.probability[static_cast<std::size_t>(k * m.samples + s)];
    out[static_cast<std::size_t>(k)] = std::isfinite(p) ? logit(p) : 0.0;
  }
}

std::vector<double> fit_meta(const EnsembleMembers& m, std::span<const double> labels,
                             const std::vector<std::uint8_t>& use) {
  std::vector<double> x, y, row;
  for (std::int64_t s = 0; s < m.samples; ++s) {
    if (!use[static_cast<std::size_t>(s)]) continue;
    logits_of(m, s, row);
    x.insert(x.end(), row.begin(), row.end());
    y.push_back(labels[static_cast<std::size_t>(s)] > 0.5 ? 1.0 : 0.0);
  }
  QF_REQUIRE(y.size() >= 10, "stacking", "labelled samples", y.size(), "must be at least 10 to fit on");
  return fit_logistic(x, static_cast<std::size_t>(m.members), y, 1e-4);
}

}  // namespace

double EnsembleModel::combine(std::span<const double> p) const {
  if (method == "stacking") {
    std::vector<double> z(p.size());
    bool any = false;
    for (std::size_t k = 0; k < p.size(); ++k) {
      any |= std::isfinite(p[k]);
      z[k] = std::isfinite(p[k]) ? logit(p[k]) : 0.0;
    }
    return any ? logistic(meta, z) : kNaN;
  }
  double sum = 0, weight = 0;
  for (std::size_t k = 0; k < p.size(); ++k)
    if (std::isfinite(p[k])) sum += weights[k] * p[k], weight += weights[k];
  return weight > 0 ? sum / weight : kNaN;
}

EnsembleModel fit_ensemble(const std::string& method, const EnsembleMembers& m,
                           std::span<const double> labels) {
  check(m);
  EnsembleModel e;
  e.method = method;
  e.weights.assign(static_cast<std::size_t>(m.members), 1.0);
  if (method == "mean") return e;
  if (method == "cv_weighted") {
    QF_REQUIRE_MSG(m.cv_score.size() == static_cast<std::size_t>(m.members), "cv_weighted ensemble",
                   m.cv_score.size() << " CV scores for " << m.members << " members (one per member)");
    double total = 0;
    for (std::size_t k = 0; k < e.weights.size(); ++k)
      total += e.weights[k] = std::isfinite(m.cv_score[k]) ? std::max(m.cv_score[k] - 0.5, 0.0) : 0.0;
    if (!(total > 0)) std::fill(e.weights.begin(), e.weights.end(), 1.0);
    return e;
  }
  if (method == "stacking") {
    QF_REQUIRE_MSG(labels.size() == static_cast<std::size_t>(m.samples), "stacking",
                   labels.size() << " labels for " << m.samples << " samples (one per sample)");
    std::vector<std::uint8_t> use(static_cast<std::size_t>(m.samples));
    for (std::size_t s = 0; s < use.size(); ++s) use[s] = std::isfinite(labels[s]) ? 1 : 0;
    e.meta = fit_meta(m, labels, use);
    return e;
  }
  throw std::invalid_argument("unknown ensemble '" + method + "' (mean, cv_weighted, stacking)");
}

EnsemblePrediction predict_ensemble(const EnsembleModel& model, const EnsembleMembers& m) {
  check(m);
  EnsemblePrediction out;
  out.probability.assign(static_cast<std::size_t>(m.samples), kNaN);
  out.disagreement.assign(static_cast<std::size_t>(m.samples), kNaN);
  out.count.assign(static_cast<std::size_t>(m.samples), 0);
  std::vector<double> column(static_cast<std::size_t>(m.members));
  for (std::int64_t s = 0; s < m.samples; ++s) {
    double sum = 0, sum2 = 0;
    int count = 0;
    for (std::int64_t k = 0; k < m.members; ++k) {
      const double p = column[static_cast<std::size_t>(k)] =
          m.probability[static_cast<std::size_t>(k * m.samples + s)];
      if (std::isfinite(p)) sum += p, sum2 += p * p, ++count;
    }
    const auto i = static_cast<std::size_t>(s);
    out.count[i] = count;
    if (count == 0) continue;
    out.probability[i] = model.combine(column);
    const double mean = sum / count;
    out.disagreement[i] = count > 1 ? std::sqrt(std::max(sum2 / count - mean * mean, 0.0)) : 0.0;
  }
  return out;
}

EnsemblePrediction stack_out_of_fold(const EnsembleMembers& m, std::span<const double> labels,
                                     std::span<const int> fold) {
  check(m);
  QF_REQUIRE_MSG(labels.size() == static_cast<std::size_t>(m.samples) && fold.size() == labels.size(),
                 "stack_out_of_fold",
                 labels.size() << " labels and " << fold.size() << " fold ids for " << m.samples
                               << " samples (one of each per sample)");
  EnsembleModel model;
  model.method = "stacking";
  EnsemblePrediction out = predict_ensemble(fit_ensemble("mean", m, labels), m);  // disagreement, counts
  const int folds = fold.empty() ? 0 : *std::max_element(fold.begin(), fold.end()) + 1;
  std::vector<std::uint8_t> use(labels.size());
  std::vector<double> column(static_cast<std::size_t>(m.members));
  for (int f = -1; f < folds; ++f) {
    for (std::size_t s = 0; s < use.size(); ++s)
      use[s] = std::isfinite(labels[s]) && fold[s] >= 0 && fold[s] != f ? 1 : 0;  // f = -1: all folds
    bool needed = false;
    for (std::size_t s = 0; s < use.size(); ++s) needed |= fold[s] == f;
    if (!needed) continue;
    model.meta = fit_meta(m, labels, use);
    for (std::size_t s = 0; s < use.size(); ++s) {
      if (fold[s] != f || out.count[s] == 0) continue;
      for (std::int64_t k = 0; k < m.members; ++k)
        column[static_cast<std::size_t>(k)] = m.probability[static_cast<std::size_t>(k * m.samples) + s];
      out.probability[s] = model.combine(column);
    }
  }
  return out;
}

}  // namespace qf::quant
