// What a pipeline run's numbers mean, in one sentence for a newcomer (run_pipeline's last lines): on the
// synthetic default, whether the planted edge was recovered; on the random-walk control, whether the
// model found nothing, as it should; on real data, the figures in neutral words.
#pragma once

#include <cmath>
#include <string>

namespace qf::quant {

enum class UniverseKind { planted_edge, random_walk, real };

struct RunFigures {
  UniverseKind kind = UniverseKind::real;
  double test_accuracy = NAN;    // stage 2's direction accuracy out of sample (the calls), fraction
  double test_auc = NAN;         // its AUC
  double oracle_accuracy = NAN;  // the planted component's oracle on the same decisions; NaN: unknown
  double sharpe = NAN;           // the backtest's, after costs
  int targets_met = 0, targets = 0;
};

// Recovered: accuracy >= 50 % + 0.6 x (oracle - 50 %) (the suite's band) and Sharpe after costs > 0.
inline constexpr double kRecoveredShareOfOracleEdge = 0.6;
// The control finds nothing: accuracy within 50 % +/- 1.5 points and |Sharpe| < 1.
inline constexpr double kControlAccuracyBand = 0.015, kControlSharpeBand = 1.0;

// One sentence, e.g. "The synthetic universe carries a planted edge (an oracle that knows it scores
// 55.60 %); it was recovered: test accuracy 54.90 % (at least 53.36 % needed), AUC 0.55, Sharpe after
// costs 1.32 (> 0)." Without an oracle the clause about it is left out and the
// verdict reads on the Sharpe and accuracy > 50 % alone.
std::string explain_run(const RunFigures& figures);

}  // namespace qf::quant
