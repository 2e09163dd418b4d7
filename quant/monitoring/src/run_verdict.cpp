#include "qf/quant/monitoring/run_verdict.h"

#include <cmath>

#include "qf/quant/metrics/metrics.h"

namespace qf::quant {

namespace {

// Accuracies print as "55.60 %" (accuracy_text), AUC and Sharpe with two decimals; n/a when not finite.
std::string planted(const RunFigures& f) {
  const bool oracle = std::isfinite(f.oracle_accuracy);
  const double needed = oracle ? 0.5 + kRecoveredShareOfOracleEdge * (f.oracle_accuracy - 0.5) : 0.5;
  const bool recovered = f.test_accuracy >= needed && f.sharpe > 0;
  std::string s = "The synthetic universe carries a planted edge";
  if (oracle) s += " (an oracle that knows it scores " + accuracy_text(f.oracle_accuracy) + ")";
  s += recovered ? "; it was recovered" : "; it was NOT recovered";
  s += ": test accuracy " + accuracy_text(f.test_accuracy) + " (" + (oracle ? "at least " : "above ") +
       accuracy_text(needed) + " needed), AUC " + format_fixed(f.test_auc, 2) + ", Sharpe after costs " +
       format_fixed(f.sharpe, 2) + (recovered ? " (> 0)." : " (needs > 0).");
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
         ": test accuracy " + accuracy_text(f.test_accuracy) + ", AUC " + format_fixed(f.test_auc, 2) +
         " (50 % +/- 1.5 points expected), Sharpe after costs " +
         (flat_book ? std::string("n/a: the book took no position")
                    : format_fixed(f.sharpe, 2) + " (|Sharpe| < 1 expected)") +
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
  return "Out of sample on this data: test accuracy " + accuracy_text(f.test_accuracy) + ", AUC " +
         format_fixed(f.test_auc, 2) + ", Sharpe after costs " + format_fixed(f.sharpe, 2) + "; " +
         std::to_string(f.targets_met) + " of " + std::to_string(f.targets) + " plan targets met.";
}

}  // namespace qf::quant
