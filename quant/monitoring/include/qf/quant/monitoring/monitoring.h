// Module monitoring (qf_quant_monitoring): the metrics of a running system and the alerts on them. Uses
// registry, signals, metrics and data.
//
// Monitoring of a running research system (run_pipeline): the metrics of one run and the alert rules
// that watch them.
//
//   population_stability_index  PSI of a recent sample against a reference one, over the reference's
//                               decile bins: sum (a - e) ln(a / e); < 0.1 stable, > 0.25 shifted
//   feature_drift               PSI of every feature panel, recent days against the training days
//   live_scores                 accuracy and Brier of the predictions whose outcome is known since
//   Alert rules                 "metric > threshold" or "metric < threshold" over named metrics; a
//                               missing (NaN) metric never fires
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "qf/data/store.h"
#include "qf/quant/registry/registry.h"

namespace qf::quant {

double population_stability_index(std::span<const double> reference, std::span<const double> recent,
                                  int bins = 10);

struct FeatureDrift {
  std::string feature;
  double psi = 0;
};
// Per feature panel, the recent days [recent_first, recent_last] of every ticker pooled against the
// reference days [reference_first, reference_last]; sorted by PSI, largest first. NaNs are left out.
std::vector<FeatureDrift> feature_drift(const data::FeaturePanels& panels, std::int64_t reference_first,
                                        std::int64_t reference_last, std::int64_t recent_first,
                                        std::int64_t recent_last);

struct LiveScores {
  std::int64_t count = 0;          // predictions with a known outcome (a finite label)
  double accuracy = 0, brier = 0;  // accuracy over the calls (NaN without), Brier over every prediction
  std::int64_t calls = 0;          // predictions not abstained on (PredictionPanel::abstain)
  double coverage = 0;             // calls / count, 0 when count is 0
};
// The predictions of days [first_day, last_day] scored against their labels with classification_scores,
// as stage 4 scores them (unknown outcomes, e.g. the last day's, are left out; an abstention is no call).
LiveScores live_scores(const data::Universe& universe, const PredictionPanel& predictions,
                       std::int64_t first_day, std::int64_t last_day);

struct AlertRule {
  std::string metric;
  bool fires_above = true;  // true: metric > threshold fires; false: metric < threshold
  double threshold = 0;
};
struct Alert {
  AlertRule rule;
  double value = 0;
  std::string message;  // "live_accuracy 0.48 < 0.50"
};
std::vector<Alert> evaluate_alerts(const std::map<std::string, double>& metrics,
                                   const std::vector<AlertRule>& rules);

}  // namespace qf::quant
