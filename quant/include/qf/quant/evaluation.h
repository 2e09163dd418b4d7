// Stage 4 of the plan: a strategy evaluated over an out-of-sample period: the backtest, its metrics, the
// benchmark's, the classification scores of the predictions behind it, and the scorecard against the
// plan's targets. Used by run_backtest_evaluation; everything here is deterministic.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "qf/quant/backtest.h"
#include "qf/quant/labels.h"
#include "qf/quant/metrics.h"
#include "qf/quant/portfolio_metrics.h"

namespace qf::quant {

// Predicted probabilities of the label (labels.h: e.g. "the traded return is positive") as a
// [days, tickers] float64 panel on the universe calendar, NaN where there is none, and the days they
// cover.
struct PredictionPanel {
  Tensor probability;
  std::int64_t first_day = 0, last_day = -1;  // calendar indices, inclusive
  std::string source;                         // e.g. "registry.h5 /test_predictions"
  LabelSpec label;                            // what was predicted: label kind, execution, horizon
  // [days * tickers], non-zero where the model abstained (stage 5's /test_predictions/abstain): the
  // probability is there and scored as one, but the cell is no call: no position and no accuracy from
  // it. Empty: no abstention (a registry without the flag).
  std::vector<std::uint8_t> abstain = {};
  bool abstained(std::int64_t cell) const {
    return !abstain.empty() && abstain[static_cast<std::size_t>(cell)] != 0;
  }
};

// The final models' test-period predictions of a run_lstm_training registry (or of predict_stock_movement's
// predictions.h5, which has the same /test_predictions layout). The registry must come
// from this store (same tickers and, for each prediction, a day of this calendar); errors name the file.
// `group` selects /test_predictions (default) or /cv_predictions (the best trial's out-of-fold
// predictions, which precede the test period: history for calibrating the predictions) or
// /fold_predictions (the fold models' predictions from the test period on); fold >= 0 keeps the
// predictions of that CV fold only (/cv_predictions, /fold_predictions).
PredictionPanel read_registry_predictions(const std::filesystem::path& registry,
                                          const data::Universe& universe,
                                          const std::string& group = "/test_predictions", int fold = -1);

// The columns of a predictions group, one row per prediction, as read_registry_predictions reads them:
// the ticker (universe index) and the day (calendar index), stored as float64 like the rest; the
// probability; the label and the traded return it is scored against (NaN where unknown); and stage 5's
// abstain flag (1: no call; no such column without it).
struct PredictionColumns {
  std::span<const double> ticker, day, probability, label, traded_return;
  std::optional<std::span<const double>> abstain = std::nullopt;
};
// Writes them as the datasets of `group` (ticker, day, probability, [abstain,] label, traded_return):
// the one writer of /test_predictions, /cv_predictions and /fold_predictions (registry.h5 and
// predict_stock_movement's predictions.h5) and of a study checkpoint's predictions.
void write_prediction_columns(h5::File& file, const std::string& group, const PredictionColumns& columns);

// The best trial's cross-validation scores of a registry, fold by fold (/trials/<best>/fold_scores);
// empty for a study without CV.
struct FoldScore {
  double accuracy = 0, brier = 0;
};
std::vector<FoldScore> read_cv_fold_scores(const std::filesystem::path& registry);

struct StrategySpec {
  std::string rule = "top_k";  // top_k: long the k_long most likely up, short the k_short least likely;
                               // threshold: equal weight long every ticker with p > 0.5 + margin (and
                               // short p < 0.5 - margin when k_short > 0);
                               // equal_weight / buy_and_hold: the universe over the prediction period
                               // (rebalanced daily / bought on its first day), the reference strategies
  int k_long = 50, k_short = 0;
  double margin = 0.0;
};
// Target weights from the predictions (NaN rows outside the prediction period: nothing held before it).
Tensor strategy_targets(const data::Universe& universe, const PredictionPanel& predictions,
                        const StrategySpec& spec);

// Target weights computed elsewhere (e.g. by portfolio_optimizer): an HDF5 file with /target_weights
// float64 [days, tickers] on this store's calendar, /tickers equal to the store's, and the label
// attributes (labels.h) of the predictions they were made for, whose execution and horizon must be
// `timing` (an error names both otherwise).
Tensor read_target_weights(const std::filesystem::path& path, const data::Universe& universe,
                           const data::TradeTiming& timing);

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
  std::int64_t first_day = 0, last_day = 0;        // the days whose returns are scored (calendar indices)
  BacktestResult backtest;                         // over the whole calendar (flat before the period)
  std::vector<double> returns, benchmark_returns;  // over [first_day, last_day]
  std::string benchmark_name;
  ReturnMetrics metrics, benchmark_metrics;
  BenchmarkMetrics relative;
  ClassificationScores classification;     // the predictions of the period against their labels
  double daily_ic = 0, daily_rank_ic = 0;  // means over days of the cross-sectional IC / rank IC
  double mean_turnover = 0, mean_gross_exposure = 0;
  std::vector<ScorecardLine>
      scorecard;  // accuracy > 55 %, annual return > 15 %, max drawdown < 10 %, Sharpe > 1.5
  // The store's set-level findings (data::data_warnings: survivorship, price returns only): they bias
  // every figure above, so each output repeats them beside the scorecard.
  std::vector<std::string> data_warnings;
  std::string
      target;  // what the predictions are about (LabelSpec::describe), e.g. "... open[t+1] -> open[t+2] > 0"
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
