#include "qf/quant/backtest/evaluation.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>
#include <stdexcept>

#include "qf/core/require.h"
#include "qf/data/csv.h"
#include "qf/data/json.h"
#include "qf/data/validation.h"
#include "qf/quant/signals/labels.h"
#include "qf/quant/signals/returns.h"

namespace qf::quant {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

std::vector<std::pair<std::string, double>> return_fields(const ReturnMetrics& m) {
  return {{"total_return", m.total_return},
          {"annual_return", m.annual_return},
          {"annual_volatility", m.annual_volatility},
          {"sharpe", m.sharpe},
          {"sortino", m.sortino},
          {"calmar", m.calmar},
          {"omega", m.omega},
          {"max_drawdown", m.max_drawdown},
          {"max_drawdown_days", static_cast<double>(m.max_drawdown_days)},
          {"ulcer_index", m.ulcer_index},
          {"value_at_risk_95", m.value_at_risk},
          {"conditional_value_at_risk_95", m.conditional_value_at_risk},
          {"skew", m.skew},
          {"kurtosis", m.kurtosis},
          {"hit_rate", m.hit_rate},
          {"profit_factor", m.profit_factor},
          {"tail_ratio", m.tail_ratio}};
}

// The probabilities of the calls: an abstained cell becomes NaN, so no rule takes a position from it.
Tensor called_probability(const PredictionPanel& p) {
  Tensor called = p.probability.clone();
  for (std::int64_t cell = 0; cell < called.numel(); ++cell)
    if (p.abstained(cell)) called.data<double>()[cell] = kNaN;
  return called;
}

// A day whose predictions were all abstentions is a decision to hold nothing, not "no order" (NaN, which
// would keep yesterday's positions): its row of targets becomes 0.
void flat_where_all_abstained(Tensor& targets, const PredictionPanel& p) {
  const std::int64_t D = targets.dim(0), N = targets.dim(1);
  for (std::int64_t d = 0; d < D; ++d) {
    double* out = targets.data<double>() + d * N;
    const double* prob = p.probability.data<double>() + d * N;
    if (N == 0 || std::isfinite(out[0]) ||
        std::none_of(prob, prob + N, [](double x) { return std::isfinite(x); }))
      continue;
    std::fill_n(out, N, 0.0);
  }
}

}  // namespace

Tensor strategy_targets(const data::Universe& u, const PredictionPanel& predictions,
                        const StrategySpec& spec) {
  if (spec.rule == "top_k") {
    Tensor t = top_k_targets(called_probability(predictions), spec.k_long, spec.k_short);
    flat_where_all_abstained(t, predictions);
    return t;
  }
  if (spec.rule == "equal_weight" || spec.rule == "buy_and_hold") {
    const std::int64_t N = u.ticker_count();
    Tensor t = spec.rule == "equal_weight" ? equal_weight_targets(u)
                                           : Tensor::full(u.close.shape(), kNaN, DType::f64);
    if (spec.rule == "buy_and_hold" && predictions.first_day <= predictions.last_day) {
      const Tensor equal = equal_weight_targets(u);
      std::copy_n(equal.data<double>() + predictions.first_day * N, N,
                  t.data<double>() + predictions.first_day * N);
    }
    for (std::int64_t d = 0; d < u.day_count(); ++d)  // nothing decided outside the period
      if (d < predictions.first_day || (spec.rule == "equal_weight" && d > predictions.last_day))
        std::fill_n(t.data<double>() + d * N, N, kNaN);
    return t;
  }
  QF_REQUIRE(spec.rule == "threshold", "strategy_targets", "rule", spec.rule,
             "is unknown (top_k, threshold, equal_weight, buy_and_hold)");
  const Tensor p = called_probability(predictions);
  const std::int64_t D = p.dim(0), N = p.dim(1);
  Tensor t = Tensor::full({D, N}, kNaN, DType::f64);
  for (std::int64_t d = 0; d < D; ++d) {
    const double* row = p.data<double>() + d * N;
    double* out = t.data<double>() + d * N;
    std::int64_t longs = 0, shorts = 0, seen = 0;
    for (std::int64_t i = 0; i < N; ++i) {
      if (!std::isfinite(row[i])) continue;
      ++seen;
      longs += row[i] > 0.5 + spec.margin ? 1 : 0;
      shorts += spec.k_short > 0 && row[i] < 0.5 - spec.margin ? 1 : 0;
    }
    if (seen == 0) continue;
    const double share = longs > 0 && shorts > 0 ? 0.5 : 1.0;
    for (std::int64_t i = 0; i < N; ++i) {
      out[i] = 0.0;
      if (!std::isfinite(row[i])) continue;
      if (row[i] > 0.5 + spec.margin) out[i] = share / static_cast<double>(longs);
      if (spec.k_short > 0 && row[i] < 0.5 - spec.margin) out[i] = -share / static_cast<double>(shorts);
    }
  }
  flat_where_all_abstained(t, predictions);
  return t;
}

std::string to_string(ScorecardState state) {
  switch (state) {
    case ScorecardState::met:
      return "met";
    case ScorecardState::not_met:
      return "not met";
    case ScorecardState::too_few_calls:
      return "too few calls";
  }
  return "?";
}

std::vector<ScorecardLine> plan_scorecard(double accuracy, long calls, const ReturnMetrics& m) {
  std::vector<ScorecardLine> lines{{"accuracy", accuracy, 0.55, true, false},
                                   {"annual_return", m.annual_return, 0.15, true, false},
                                   {"max_drawdown", -m.max_drawdown, 0.10, false, false},
                                   {"sharpe", m.sharpe, 1.5, true, false}};
  for (auto& l : lines) {
    l.met = std::isfinite(l.value) && (l.higher_is_better ? l.value > l.target : l.value < l.target);
    l.state = l.met ? ScorecardState::met : ScorecardState::not_met;
  }
  if (calls < kMinScoredCalls) {
    lines[0].met = false;
    lines[0].state = ScorecardState::too_few_calls;
  }
  return lines;
}

int targets_met(const std::vector<ScorecardLine>& scorecard) {
  return static_cast<int>(
      std::count_if(scorecard.begin(), scorecard.end(), [](const auto& l) { return l.met; }));
}

Evaluation evaluate_strategy(const data::Universe& u, const Tensor& targets, const PredictionPanel& p,
                             const BacktestOptions& options, BenchmarkKind benchmark) {
  const std::int64_t D = u.day_count(), N = u.ticker_count();
  require_same_timing(p.label, p.source, options.timing, "the backtest");
  Evaluation e;
  e.target = p.label.describe();
  e.first_day = p.first_day + 1;
  e.last_day = std::min(p.last_day + 1, D - 1);
  QF_REQUIRE_MSG(e.first_day <= e.last_day, "evaluate_strategy", "the prediction period has no next day");
  // Flat before the period, no new orders after it: costs, P&L and exposures all belong to the period
  // (weights from a file may cover more days).
  Tensor in_period = targets.clone();
  for (std::int64_t d = 0; d < D; ++d)
    if (d < p.first_day || d > p.last_day) std::fill_n(in_period.data<double>() + d * N, N, kNaN);
  e.backtest = run_backtest(u, in_period, options);
  e.returns.assign(e.backtest.returns.begin() + e.first_day, e.backtest.returns.begin() + e.last_day + 1);
  if (benchmark == BenchmarkKind::index) {
    QF_REQUIRE_MSG(!u.benchmark_close.empty(), "evaluate_strategy",
                   "the store has no benchmark index (process_new_data --benchmark): use equal_weight");
    e.benchmark_name = u.benchmark_name.empty() ? "index" : u.benchmark_name;
    // A day the index file has no row: no move that day, and the next row's move counts from the last
    // close there was (so a gap never loses the index's move).
    double last = kNaN;
    for (std::int64_t d = 0; d < e.first_day; ++d)
      if (std::isfinite(u.benchmark_close[static_cast<std::size_t>(d)]))
        last = u.benchmark_close[static_cast<std::size_t>(d)];
    for (std::int64_t d = e.first_day; d <= e.last_day; ++d) {
      const double now = u.benchmark_close[static_cast<std::size_t>(d)];
      const bool moved = std::isfinite(now) && std::isfinite(last) && last > 0;
      e.benchmark_returns.push_back(moved ? now / last - 1 : 0.0);
      if (std::isfinite(now)) last = now;
    }
  } else {
    e.benchmark_name = "equal-weight universe";
    Tensor equal = equal_weight_targets(u);
    for (std::int64_t k = 0; k < (e.first_day - 1) * N; ++k) equal.data<double>()[k] = kNaN;
    BacktestOptions plain;  // no costs, the strategy's execution, held a day
    plain.timing.execution = options.timing.execution;
    const BacktestResult b = run_backtest(u, equal, plain);
    e.benchmark_returns.assign(b.returns.begin() + e.first_day, b.returns.begin() + e.last_day + 1);
    // The equal-weight portfolio is bought at the close of first_day: its first day earns nothing.
  }
  e.metrics = return_metrics(e.returns);
  e.benchmark_metrics = return_metrics(e.benchmark_returns);
  e.relative = benchmark_metrics(e.returns, e.benchmark_returns);

  // The predictions of the period against their labels, and their IC against the traded return.
  const Tensor labels = make_labels(u, p.label);
  const std::vector<double> traded = traded_returns(u, p.label.timing);
  std::vector<double> probs, outcomes, ics, rank_ics, day_p, day_r;
  std::vector<std::uint8_t> abstained;  // calls for accuracy; every probability for AUC, Brier and IC
  for (std::int64_t d = p.first_day; d <= p.last_day; ++d) {
    day_p.clear();
    day_r.clear();
    for (std::int64_t i = 0; i < N; ++i) {
      const double prob = p.probability.data<double>()[d * N + i], y = labels.data<double>()[d * N + i];
      if (!std::isfinite(prob) || !std::isfinite(y)) continue;
      probs.push_back(prob);
      outcomes.push_back(y);
      abstained.push_back(p.abstained(d * N + i) ? 1 : 0);
      day_p.push_back(prob);
      day_r.push_back(traded[static_cast<std::size_t>(d * N + i)]);
    }
    if (day_p.size() >= 3) {
      const double ic = information_coefficient(day_p, day_r),
                   ric = rank_information_coefficient(day_p, day_r);
      if (std::isfinite(ic)) ics.push_back(ic);
      if (std::isfinite(ric)) rank_ics.push_back(ric);
    }
  }
  e.classification = classification_scores(probs, outcomes, abstained);
  auto mean = [](const std::vector<double>& v) {
    double s = 0;
    for (const double x : v) s += x;
    return v.empty() ? kNaN : s / static_cast<double>(v.size());
  };
  e.daily_ic = mean(ics);
  e.daily_rank_ic = mean(rank_ics);
  std::vector<double> turnover, gross;
  for (std::int64_t d = e.first_day; d <= e.last_day; ++d) {
    turnover.push_back(e.backtest.turnover[static_cast<std::size_t>(d)]);
    gross.push_back(e.backtest.long_exposure[static_cast<std::size_t>(d)] +
                    e.backtest.short_exposure[static_cast<std::size_t>(d)]);
  }
  e.mean_turnover = mean(turnover);
  e.mean_gross_exposure = mean(gross);
  // cost_fraction[d] is day d's costs over the equity of d - 1.
  const auto& equity = e.backtest.equity;
  const double start = equity[static_cast<std::size_t>(e.first_day - 1)];
  double costs = 0;
  for (std::int64_t d = e.first_day; d <= e.last_day; ++d)
    costs += e.backtest.cost_fraction[static_cast<std::size_t>(d)] * equity[static_cast<std::size_t>(d - 1)];
  e.net_pnl = equity[static_cast<std::size_t>(e.last_day)] / start - 1;
  e.costs_paid = costs / start;
  e.gross_pnl = e.net_pnl + e.costs_paid;
  e.scorecard = plan_scorecard(e.classification.accuracy, e.classification.calls, e.metrics);
  e.data_warnings = data::data_warnings(u);
  return e;
}

std::string evaluation_json(const Evaluation& e, const data::Universe& u) {
  using data::Json;
  auto object = [](const ReturnMetrics& m, Json out) {
    for (const auto& [name, value] : return_fields(m)) out[name] = value;
    return out;
  };
  Json strategy = object(e.metrics, Json::object());
  strategy["mean_daily_turnover"] = e.mean_turnover;
  strategy["mean_gross_exposure"] = e.mean_gross_exposure;
  const auto& r = e.relative;
  const auto& c = e.classification;
  const auto& costs = e.backtest.costs;
  Json scorecard = Json::array();
  for (const auto& l : e.scorecard)
    scorecard.push_back({{"name", l.name},
                         {"value", l.name == "accuracy" ? accuracy_json(l.value) : Json(l.value)},
                         {"target", l.target},
                         {"higher_is_better", l.higher_is_better},
                         {"met", l.met},
                         {"state", to_string(l.state)}});
  const Json j = {{"target", e.target},
                  {"period",
                   {{"first", data::format_date(u.days[static_cast<std::size_t>(e.first_day)])},
                    {"last", data::format_date(u.days[static_cast<std::size_t>(e.last_day)])},
                    {"days", e.returns.size()}}},
                  {"strategy", std::move(strategy)},
                  {"benchmark", object(e.benchmark_metrics, {{"name", e.benchmark_name}})},
                  {"relative",
                   {{"alpha", r.alpha},
                    {"beta", r.beta},
                    {"correlation", r.correlation},
                    {"information_ratio", r.information_ratio},
                    {"tracking_error", r.tracking_error},
                    {"up_capture", r.up_capture},
                    {"down_capture", r.down_capture}}},
                  {"predictions",
                   {{"count", c.count},
                    {"calls", c.calls},
                    {"coverage", c.coverage},
                    {"accuracy", accuracy_json(c.accuracy)},
                    {"balanced_accuracy", c.balanced_accuracy},
                    {"auc", c.auc},
                    {"daily_ic", e.daily_ic},
                    {"daily_rank_ic", e.daily_rank_ic}}},
                  {"pnl", {{"gross", e.gross_pnl}, {"costs", e.costs_paid}, {"net", e.net_pnl}}},
                  {"costs",
                   {{"commission", costs.commission},
                    {"spread", costs.spread},
                    {"slippage", costs.slippage},
                    {"impact", costs.impact},
                    {"borrow", costs.borrow}}},
                  {"scorecard", std::move(scorecard)},
                  {"data_warnings", e.data_warnings}};
  return data::json_text(j);
}

std::string evaluation_csv(const Evaluation& e) {
  std::ostringstream c;
  c.precision(12);
  c << "metric,strategy,benchmark\n";
  const auto a = return_fields(e.metrics), b = return_fields(e.benchmark_metrics);
  for (std::size_t k = 0; k < a.size(); ++k)
    c << a[k].first << ',' << data::format_12g(a[k].second) << ',' << data::format_12g(b[k].second) << '\n';
  const std::pair<const char*, double> extra[] = {{"alpha", e.relative.alpha},
                                                  {"beta", e.relative.beta},
                                                  {"information_ratio", e.relative.information_ratio},
                                                  {"tracking_error", e.relative.tracking_error},
                                                  {"up_capture", e.relative.up_capture},
                                                  {"down_capture", e.relative.down_capture},
                                                  {"accuracy", e.classification.accuracy},
                                                  {"auc", e.classification.auc},
                                                  {"daily_ic", e.daily_ic},
                                                  {"daily_rank_ic", e.daily_rank_ic},
                                                  {"mean_daily_turnover", e.mean_turnover},
                                                  {"mean_gross_exposure", e.mean_gross_exposure}};
  for (const auto& [name, value] : extra) c << name << ',' << data::format_12g(value) << ",\n";
  return c.str();
}

}  // namespace qf::quant
