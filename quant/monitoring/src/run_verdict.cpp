#include "qf/quant/monitoring/run_verdict.h"

#include <cmath>
#include <cstdio>

#include "qf/quant/metrics/metrics.h"

namespace qf::quant {

namespace {

// Fractions as "55.60 %" (n/a when not finite), as the scorecard prints accuracies.
std::string percent(double fraction) {
  return accuracy_text(fraction);
}
std::string fixed2(double value) {
  if (!std::isfinite(value)) return "n/a";
  char text[32];
  std::snprintf(text, sizeof text, "%.2f", value);
  return text;
}

std::string planted(const RunFigures& f) {
  const bool oracle = std::isfinite(f.oracle_accuracy);
  const double needed = oracle ? 0.5 + kRecoveredShareOfOracleEdge * (f.oracle_accuracy - 0.5) : 0.5;
  const bool recovered = f.test_accuracy >= needed && f.sharpe > 0;
  std::string s = "The synthetic universe carries a planted edge";
  if (oracle) s += " (an oracle that knows it scores " + percent(f.oracle_accuracy) + ")";
  s += recovered ? "; it was recovered" : "; it was NOT recovered";
  s += ": test accuracy " + percent(f.test_accuracy) + " (" + (oracle ? "at least " : "above ") +
       percent(needed) + " needed), AUC " + fixed2(f.test_auc) + ", Sharpe after costs " + fixed2(f.sharpe) +
       (recovered ? " (> 0)." : " (needs > 0).");
  return s;
}

std::string control(const RunFigures& f) {
  // A book that never took a position has no Sharpe (NaN): with nothing to find, not trading is right.
  const bool flat_book = !std::isfinite(f.sharpe);
  const bool auc_in_band = !std::isfinite(f.test_auc) || std::abs(f.test_auc - 0.5) <= kControlAccuracyBand;
  const bool nothing = std::abs(f.test_accuracy - 0.5) <= kControlAccuracyBand && auc_in_band &&
                       (flat_book || std::abs(f.sharpe) < kControlSharpeBand);
  return std::string("Control: a pure random walk with nothing to find; ") +
         (nothing ? "the model found nothing, as it should"
                  : "the model SEEMS to find an edge: look for a leak") +
         ": test accuracy " + percent(f.test_accuracy) + ", AUC " + fixed2(f.test_auc) +
         " (50 % +/- 1.5 points expected), Sharpe after costs " +
         (flat_book ? std::string("n/a: the book took no position")
                    : fixed2(f.sharpe) + " (|Sharpe| < 1 expected)") +
         ".";
}

}  // namespace

std::string explain_run(const RunFigures& f) {
  switch (f.kind) {
    case UniverseKind::planted_edge:
      return planted(f);
    case UniverseKind::random_walk:
      return control(f);
    case UniverseKind::real:
      break;
  }
  return "Out of sample on this data: test accuracy " + percent(f.test_accuracy) + ", AUC " +
         fixed2(f.test_auc) + ", Sharpe after costs " + fixed2(f.sharpe) + "; " +
         std::to_string(f.targets_met) + " of " + std::to_string(f.targets) + " plan targets met.";
}

}  // namespace qf::quant
