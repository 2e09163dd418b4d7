// Stage 4 of the plan: a strategy evaluated over an out-of-sample period: the backtest, its metrics, the
// benchmark's, the classification scores of the predictions behind it, and the scorecard against the
// plan's targets. Used by run_backtest_evaluation; everything here is deterministic.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "qf/quant/backtest/backtest.h"
#include "qf/quant/metrics/metrics.h"
#include "qf/quant/metrics/portfolio_metrics.h"
#include "qf/quant/registry/registry.h"
#include "qf/quant/signals/labels.h"

namespace qf::quant {

// How a strategy's target weights come from the predictions, by rule:
// clang-format off
//   top_k         long the k_long most likely up, short the k_short least likely
//   threshold     equal weight long every ticker with p > 0.5 + margin (and short p < 0.5 - margin when
//                 k_short > 0)
//   equal_weight  the universe over the prediction period, rebalanced daily (a reference strategy)
//   buy_and_hold  the universe, bought on the prediction period's first day (a reference strategy)
// clang-format on
struct StrategySpec {
  std::string rule = "top_k";  // top_k, threshold, equal_weight or buy_and_hold (above)
  int k_long = 50, k_short = 0;
  double margin = 0.0;
};
// Target weights from the predictions (NaN rows outside the prediction period: nothing held before it).
Tensor strategy_targets(const data::Universe& universe, const PredictionPanel& predictions,
                        const StrategySpec& spec);

enum class BenchmarkKind { index, equal_weight };

// Fewer calls than this and an accuracy says nothing about the 55 % target (the standard error of an
// accuracy near 55 % from 100 calls is about 5 points): the accuracy line is "too few calls".
inline constexpr long kMinScoredCalls = 100;

enum class ScorecardState { met, not_met, too_few_calls };
std::string to_string(ScorecardState state);  // "met", "not met", "too few calls"

struct ScorecardLine {
  std::string name;
  double value = 0, target = 0;
  bool higher_is_better = true, met = false;  // met == (state == met)
  ScorecardState state = ScorecardState::not_met;
};

struct Evaluation {
  // clang-format off
  std::int64_t first_day = 0, last_day = 0;        // the days whose returns are scored (calendar indices)
  BacktestResult backtest;                         // over the whole calendar (flat before the period)
  std::vector<double> returns, benchmark_returns;  // over [first_day, last_day]
  std::string benchmark_name;
  ReturnMetrics metrics, benchmark_metrics;
  BenchmarkMetrics relative;
  ClassificationScores classification;             // the predictions of the period against their labels
  double daily_ic = 0, daily_rank_ic = 0;          // means over days of the cross-sectional IC / rank IC
  double mean_turnover = 0, mean_gross_exposure = 0;
  // The period's P&L as fractions of the equity before it: before costs (gross), the costs paid
  // (commission, spread, slippage, impact, borrow) and after them (net = gross - costs = total return).
  double gross_pnl = 0, costs_paid = 0, net_pnl = 0;
  std::vector<ScorecardLine> scorecard;            // accuracy > 55 %, annual return > 15 %,
                                                   // max drawdown < 10 %, Sharpe > 1.5
  // The store's set-level findings (data::data_warnings: survivorship, price returns only): they bias
  // every figure above, so each output repeats them beside the scorecard.
  std::vector<std::string> data_warnings;
  std::string target;                              // what the predictions are about (LabelSpec::describe),
                                                   // e.g. "... open[t+1] -> open[t+2] > 0"
  // clang-format on
};

// Backtests `targets` and scores the days after the prediction period starts (the first day with a
// position can only be the day after the first prediction). The index benchmark needs the store's
// benchmark close; equal_weight is the universe's equal-weight portfolio, rebalanced daily, without costs.
Evaluation evaluate_strategy(const data::Universe& universe, const Tensor& targets,
                             const PredictionPanel& predictions, const BacktestOptions& options,
                             BenchmarkKind benchmark);

// The plan's targets, out of sample: each line met or not; the accuracy line is too_few_calls when the
// predictions made fewer than kMinScoredCalls calls (ClassificationScores::calls).
std::vector<ScorecardLine> plan_scorecard(double accuracy, long calls, const ReturnMetrics& metrics);
// How many lines of a scorecard are met.
int targets_met(const std::vector<ScorecardLine>& scorecard);

// Every figure of an evaluation as JSON (one object), and the scalar metrics as "metric,strategy,benchmark"
// CSV.
std::string evaluation_json(const Evaluation& e, const data::Universe& universe);
std::string evaluation_csv(const Evaluation& e);

}  // namespace qf::quant
