#include "qf/quant/monitoring/monitoring.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>

#include "qf/quant/metrics/metrics.h"
#include "qf/quant/signals/labels.h"

namespace qf::quant {

double population_stability_index(std::span<const double> reference, std::span<const double> recent,
                                  int bins) {
  std::vector<double> sorted;
  for (const double v : reference)
    if (std::isfinite(v)) sorted.push_back(v);
  std::vector<double> now;
  for (const double v : recent)
    if (std::isfinite(v)) now.push_back(v);
  if (sorted.size() < static_cast<std::size_t>(bins) || now.empty() || bins < 2)
    return std::numeric_limits<double>::quiet_NaN();
  std::sort(sorted.begin(), sorted.end());
  std::vector<double> edges;  // inner edges at the reference's quantiles
  for (int b = 1; b < bins; ++b)
    edges.push_back(sorted[static_cast<std::size_t>(b) * sorted.size() / static_cast<std::size_t>(bins)]);
  auto shares = [&](const std::vector<double>& values) {
    std::vector<double> count(static_cast<std::size_t>(bins), 0);
    for (const double v : values)
      count[static_cast<std::size_t>(std::upper_bound(edges.begin(), edges.end(), v) - edges.begin())] += 1;
    for (double& c : count) c = std::max(c / static_cast<double>(values.size()), 1e-4);  // no log(0)
    return count;
  };
  const auto e = shares(sorted), a = shares(now);
  double psi = 0;
  for (std::size_t b = 0; b < e.size(); ++b) psi += (a[b] - e[b]) * std::log(a[b] / e[b]);
  return psi;
}

std::vector<FeatureDrift> feature_drift(const data::FeaturePanels& panels, std::int64_t reference_first,
                                        std::int64_t reference_last, std::int64_t recent_first,
                                        std::int64_t recent_last) {
  std::vector<FeatureDrift> out;
  for (const auto& [name, panel] : panels) {
    if (panel.rank() != 2) continue;
    const std::int64_t D = panel.dim(0), N = panel.dim(1);
    const Tensor values = panel.to(DType::f64);
    const double* p = values.data<double>();
    auto rows = [&](std::int64_t first, std::int64_t last) {
      first = std::max<std::int64_t>(first, 0);
      last = std::min(last, D - 1);
      return first <= last
                 ? std::span<const double>(p + first * N, static_cast<std::size_t>((last - first + 1) * N))
                 : std::span<const double>();
    };
    const double psi =
        population_stability_index(rows(reference_first, reference_last), rows(recent_first, recent_last));
    if (std::isfinite(psi)) out.push_back({name, psi});
  }
  std::stable_sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.psi > b.psi; });
  return out;
}

LiveScores live_scores(const data::Universe& u, const PredictionPanel& predictions, std::int64_t first_day,
                       std::int64_t last_day) {
  const std::int64_t D = u.day_count(), N = u.ticker_count();
  first_day = std::max<std::int64_t>(first_day, 0);
  last_day = std::min(last_day, D - 1);
  if (first_day > last_day)
    return {0, std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::quiet_NaN(), 0, 0.0};
  // The panels' rows of those days; classification_scores leaves out the cells without a prediction
  // or an outcome.
  const Tensor labels = make_labels(u, predictions.label);
  const auto cells = static_cast<std::size_t>((last_day - first_day + 1) * N);
  const auto abstain = predictions.abstain.empty()
                           ? std::span<const std::uint8_t>()
                           : std::span<const std::uint8_t>(predictions.abstain.data() + first_day * N, cells);
  const ClassificationScores s = classification_scores(
      std::span<const double>(predictions.probability.data<double>() + first_day * N, cells),
      std::span<const double>(labels.data<double>() + first_day * N, cells), abstain);
  return {s.count, s.accuracy, s.brier, s.calls, s.coverage};
}

std::vector<Alert> evaluate_alerts(const std::map<std::string, double>& metrics,
                                   const std::vector<AlertRule>& rules) {
  std::vector<Alert> out;
  for (const AlertRule& rule : rules) {
    const auto it = metrics.find(rule.metric);
    if (it == metrics.end() || !std::isfinite(it->second)) continue;
    const double v = it->second;
    if (rule.fires_above ? v > rule.threshold : v < rule.threshold) {
      std::ostringstream m;
      m << rule.metric << ' ' << v << (rule.fires_above ? " > " : " < ") << rule.threshold;
      out.push_back({rule, v, m.str()});
    }
  }
  return out;
}

}  // namespace qf::quant
