// Stage 4's evaluation: prediction panels from a registry, strategy rules, the scorecard, and a
// foresight check that shows the execution lag: knowing tomorrow's direction today is worth nothing when
// the trade can only happen tomorrow.
#include <gtest/gtest.h>

#include <cmath>

#include "common/synthetic_store.h"
#include "qf/data/json.h"
#include "qf/quant/backtest/evaluation.h"
#include "qf/quant/monitoring/monitoring.h"
#include "qf/quant/signals/labels.h"
#include "qf/tensor/hdf5.h"

using namespace qf;

TEST(Evaluation, ScorecardMarksEachTarget) {
  quant::ReturnMetrics m;
  m.annual_return = 0.2;
  m.max_drawdown = -0.05;
  m.sharpe = 2.0;
  for (const auto& l : quant::plan_scorecard(0.56, quant::kMinScoredCalls, m)) EXPECT_TRUE(l.met) << l.name;
  m.annual_return = 0.15;  // the targets are strict
  m.max_drawdown = -0.12;
  m.sharpe = NAN;
  const auto lines = quant::plan_scorecard(0.5, quant::kMinScoredCalls, m);
  for (const auto& l : lines) {
    EXPECT_FALSE(l.met) << l.name;
    EXPECT_EQ(l.state, quant::ScorecardState::not_met) << l.name;
  }
  EXPECT_EQ(lines[2].value, 0.12);  // drawdown reported as a positive depth
}

// An accuracy of 99 calls says nothing about a 55 % target, however high: neither met nor not met.
TEST(Evaluation, TooFewCallsIsNoVerdictOnAccuracy) {
  quant::ReturnMetrics m;
  m.sharpe = 2.0;
  const auto few = quant::plan_scorecard(0.9, quant::kMinScoredCalls - 1, m);
  EXPECT_EQ(few[0].state, quant::ScorecardState::too_few_calls);
  EXPECT_FALSE(few[0].met);
  EXPECT_EQ(quant::to_string(few[0].state), "too few calls");
  EXPECT_EQ(few[3].state, quant::ScorecardState::met);  // the other lines keep their verdicts
  const auto enough = quant::plan_scorecard(0.9, quant::kMinScoredCalls, m);
  EXPECT_EQ(enough[0].state, quant::ScorecardState::met);
  EXPECT_EQ(quant::plan_scorecard(0.5, quant::kMinScoredCalls, m)[0].state, quant::ScorecardState::not_met);
}

TEST(Evaluation, AbstainedCellsTakeNoPosition) {
  // Day 0: 0.7 abstained, 0.65 called; day 1: every cell abstained (flat, not "hold"); day 2: no prediction.
  quant::PredictionPanel p{Tensor::from<double>({0.7, 0.65, 0.3, 0.8, 0.9, 0.2, NAN, NAN, NAN}, {3, 3}),
                           0,
                           1,
                           "test",
                           {},
                           {1, 0, 0, 1, 1, 1, 0, 0, 0}};
  const data::Universe none;
  for (const char* rule : {"threshold", "top_k"}) {
    const Tensor t = quant::strategy_targets(none, p, {rule, 1, 0, 0.1});
    EXPECT_EQ(t.at({0, 0}), 0.0) << rule;  // the highest probability, but no call
    EXPECT_EQ(t.at({0, 1}), 1.0) << rule;
    for (std::int64_t i = 0; i < 3; ++i) {
      EXPECT_EQ(t.at({1, i}), 0.0) << rule;
      EXPECT_TRUE(std::isnan(t.at({2, i}))) << rule;
    }
  }
}

// A model that abstains everywhere makes no call: the scorecard has no accuracy (n/a, coverage 0, too few
// calls) where the old 0.5-for-abstain output scored the share of down days; the monitoring agrees.
TEST(Evaluation, AbstainingEverywhereHasNoAccuracy) {
  const auto s =
      test_support::synthetic_store("evaluation_abstain", {.tickers = 10, .days = 120, .seed = 11});
  const auto& u = s.universe;
  const std::int64_t D = u.day_count(), N = u.ticker_count();
  quant::PredictionPanel p{Tensor::full({D, N}, 0.5, DType::f64), 20, 100, "abstaining", {}};
  quant::BacktestOptions o;
  const auto as_calls = quant::evaluate_strategy(u, quant::strategy_targets(u, p, {"top_k", 2, 0, 0}), p, o,
                                                 quant::BenchmarkKind::equal_weight);
  EXPECT_GT(as_calls.classification.accuracy, 0.3);  // "down" everywhere: the share of down days
  p.abstain.assign(static_cast<std::size_t>(D * N), 1);
  const Tensor targets = quant::strategy_targets(u, p, {"top_k", 2, 0, 0});
  for (std::int64_t d = p.first_day; d <= p.last_day; ++d)
    for (std::int64_t i = 0; i < N; ++i) ASSERT_EQ(targets.at({d, i}), 0.0);
  const auto e = quant::evaluate_strategy(u, targets, p, o, quant::BenchmarkKind::equal_weight);
  EXPECT_TRUE(std::isnan(e.classification.accuracy));
  EXPECT_EQ(e.classification.coverage, 0.0);
  EXPECT_EQ(e.classification.calls, 0);
  EXPECT_GT(e.classification.count, 500);
  EXPECT_EQ(e.scorecard[0].state, quant::ScorecardState::too_few_calls);
  const auto json = data::Json::parse(quant::evaluation_json(e, u));
  EXPECT_EQ(json["predictions"]["accuracy"], "n/a") << json;
  EXPECT_EQ(json["scorecard"][0]["state"], "too few calls") << json;
  const auto live = quant::live_scores(u, p, 20, 100);
  EXPECT_TRUE(std::isnan(live.accuracy));
  EXPECT_EQ(live.calls, 0);
  EXPECT_EQ(live.coverage, 0.0);
  EXPECT_EQ(live.count, e.classification.count);
}

TEST(Evaluation, AbstainFlagIsReadFromTheRegistry) {
  const auto s = test_support::synthetic_store("evaluation_flag", {.tickers = 3, .days = 30, .seed = 12});
  const auto& u = s.universe;
  const auto path = test_support::temp_path("abstain_predictions.h5");
  h5::write_atomically(path, [&](h5::File& f) {
    f.set_attr("/", "format", std::string("quantforge.predictions"));
    f.write_strings("/tickers", u.tickers);
    quant::write_label_attributes(f, "/", quant::LabelSpec{});
    f.write("/test_predictions/ticker", Tensor::from<double>({0, 1, 2}, {3}));
    f.write("/test_predictions/day", Tensor::from<double>({10, 10, 11}, {3}));
    f.write("/test_predictions/probability", Tensor::from<double>({0.7, 0.4, 0.6}, {3}));
    f.write("/test_predictions/abstain", Tensor::from<double>({1, 0, 1}, {3}));
  });
  const auto p = quant::read_registry_predictions(path, u);
  const std::int64_t N = u.ticker_count();
  EXPECT_EQ(p.probability.at({10, 0}), 0.7);  // the real probability, not 0.5
  EXPECT_TRUE(p.abstained(10 * N + 0));
  EXPECT_FALSE(p.abstained(10 * N + 1));
  EXPECT_TRUE(p.abstained(11 * N + 2));
  EXPECT_FALSE(p.abstained(12 * N + 2));
  std::filesystem::remove(path);
}

TEST(Evaluation, ThresholdRuleWeights) {
  quant::PredictionPanel p{Tensor::from<double>({0.7, 0.4, 0.55, NAN, NAN, NAN}, {2, 3}), 0, 0, "test", {}};
  const data::Universe none;
  const Tensor t = quant::strategy_targets(none, p, {"threshold", 0, 1, 0.1});
  EXPECT_EQ(t.at({0, 0}), 1.0);  // p > 0.6: long, the only position
  EXPECT_EQ(t.at({0, 1}), 0.0);  // 0.4 is not below 0.5 - 0.1: no short
  EXPECT_EQ(t.at({0, 2}), 0.0);
  EXPECT_TRUE(std::isnan(t.at({1, 0})));
  EXPECT_THROW(quant::strategy_targets(none, p, {"momentum", 1, 0, 0}), std::invalid_argument);
}

// Perfect foresight of the label is a huge edge in the backtest, for every execution mode and horizon:
// the label is the return the trade earns. Foresight of a label that does not overlap the trade's
// holding (the decision label_end_offset days later) is no edge.
TEST(Evaluation, ForesightOfTheLabelIsTheTradesEdgeForEveryModeAndHorizon) {
  const auto s = test_support::synthetic_store("evaluation", {.tickers = 40, .days = 400, .seed = 8});
  const auto& u = s.universe;
  const std::int64_t D = u.day_count(), N = u.ticker_count(), first = 150, last = 380;
  for (const auto mode : {data::Execution::next_open, data::Execution::next_close, data::Execution::close})
    for (const std::int64_t h : {1, 2, 5}) {
      const quant::LabelSpec spec{quant::LabelKind::next_day_up, {mode, h}};
      const Tensor labels = quant::make_labels(u, spec);
      const std::int64_t gap = spec.timing.label_end_offset();
      quant::PredictionPanel foresight{Tensor::full({D, N}, NAN, DType::f64), first, last, "foresight", spec};
      quant::PredictionPanel shifted{Tensor::full({D, N}, NAN, DType::f64), first, last, "shifted", spec};
      for (std::int64_t d = first; d <= last; ++d)
        for (std::int64_t i = 0; i < N; ++i) {
          foresight.probability.data<double>()[d * N + i] = labels.data<double>()[d * N + i];
          shifted.probability.data<double>()[d * N + i] = labels.data<double>()[(d + gap) * N + i];
        }
      quant::BacktestOptions o;
      o.timing.execution = mode;
      o.timing.horizon = h;
      const std::string what = spec.describe();
      const auto e = quant::evaluate_strategy(u, quant::strategy_targets(u, foresight, {"top_k", 5, 5, 0}),
                                              foresight, o, quant::BenchmarkKind::equal_weight);
      EXPECT_EQ(e.classification.accuracy, 1.0) << what;
      EXPECT_GT(e.metrics.sharpe, 10.0) << "knowing the label is knowing the trade's return: " << what;
      const auto n = quant::evaluate_strategy(u, quant::strategy_targets(u, shifted, {"top_k", 5, 5, 0}),
                                              shifted, o, quant::BenchmarkKind::equal_weight);
      EXPECT_LT(std::abs(n.metrics.sharpe), 3.0) << "a later, non-overlapping label is no edge: " << what;
      if (mode == data::Execution::next_open && h == 1) {  // the JSON carries every section
        const auto json = data::Json::parse(quant::evaluation_json(e, u));
        std::vector<std::string> keys;
        for (const auto& [key, value] : json.items()) keys.push_back(key);
        EXPECT_EQ(keys,
                  (std::vector<std::string>{"target", "period", "strategy", "benchmark", "relative",
                                            "predictions", "pnl", "costs", "scorecard", "data_warnings"}));
        // P&L before and after costs (here with a 2 bp half spread): net is the period's total return,
        // the costs the backtest's (all in the period), gross their sum; metrics.json carries the three.
        quant::BacktestOptions costly = o;
        costly.costs.half_spread_bps = 2.0;
        const auto c = quant::evaluate_strategy(u, quant::strategy_targets(u, foresight, {"top_k", 5, 5, 0}),
                                                foresight, costly, quant::BenchmarkKind::equal_weight);
        EXPECT_NEAR(c.net_pnl, c.metrics.total_return, 1e-9 * (1 + std::abs(c.net_pnl)));
        EXPECT_GT(c.costs_paid, 0.0);
        EXPECT_NEAR(c.costs_paid, c.backtest.costs.total() / c.backtest.equity.front(), 1e-9);
        EXPECT_NEAR(c.gross_pnl, c.net_pnl + c.costs_paid, 1e-12 * (1 + std::abs(c.gross_pnl)));
        EXPECT_GT(c.gross_pnl, c.net_pnl);
        const auto costly_json = data::Json::parse(quant::evaluation_json(c, u));
        EXPECT_EQ(costly_json["pnl"]["gross"].get<double>(), c.gross_pnl);
        EXPECT_EQ(costly_json["pnl"]["costs"].get<double>(), c.costs_paid);
        EXPECT_EQ(costly_json["pnl"]["net"].get<double>(), c.net_pnl);
      }
      // The backtest refuses predictions made for another mode or horizon.
      quant::BacktestOptions other = o;
      other.timing.horizon = h + 1;
      EXPECT_THROW(quant::evaluate_strategy(u, quant::strategy_targets(u, foresight, {"top_k", 5, 5, 0}),
                                            foresight, other, quant::BenchmarkKind::equal_weight),
                   std::invalid_argument);
    }
}

TEST(Evaluation, RegistryFromAnotherStoreIsRefused) {
  const auto s = test_support::synthetic_store("evaluation_registry", {.tickers = 5, .days = 100, .seed = 9});
  const auto path = test_support::temp_path("foreign_registry.h5");
  h5::write_atomically(path, [](h5::File& f) {
    f.set_attr("/", "format", std::string("quantforge.registry"));
    f.write_strings("/tickers", {"AAA", "BBB"});
  });
  try {
    quant::read_registry_predictions(path, s.universe);
    FAIL() << "no error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(path.string()), std::string::npos) << e.what();
  }
  std::filesystem::remove(path);
}

TEST(Evaluation, ReferenceRulesAndWeightsFromAFile) {
  const auto s = test_support::synthetic_store("evaluation_rules", {.tickers = 6, .days = 60, .seed = 10});
  const auto& u = s.universe;
  const std::int64_t D = u.day_count(), N = u.ticker_count();
  quant::PredictionPanel p{Tensor::full({D, N}, 0.5, DType::f64), 20, 50, "flat", {}};
  const Tensor equal = quant::strategy_targets(u, p, {"equal_weight", 0, 0, 0});
  const Tensor hold = quant::strategy_targets(u, p, {"buy_and_hold", 0, 0, 0});
  EXPECT_TRUE(std::isnan(equal.at({19, 0})));
  EXPECT_NEAR(equal.at({20, 0}) * static_cast<double>(N), 1.0, 1e-12);
  EXPECT_TRUE(std::isnan(equal.at({51, 0})));
  EXPECT_NEAR(hold.at({20, 3}) * static_cast<double>(N), 1.0, 1e-12);
  EXPECT_TRUE(std::isnan(hold.at({21, 3})));
  const auto path = test_support::temp_path("weights.h5");
  const quant::LabelSpec made_for{quant::LabelKind::next_day_up, {data::Execution::next_close, 2}};
  h5::write_atomically(path, [&](h5::File& f) {
    f.write("/target_weights", equal);
    f.write_strings("/tickers", u.tickers);
    quant::write_label_attributes(f, "/", made_for);
  });
  const Tensor read = quant::read_target_weights(path, u, made_for.timing);
  ASSERT_EQ(read.shape(), equal.shape());
  EXPECT_EQ(read.at({30, 2}), equal.at({30, 2}));
  // Weights covering the whole calendar trade only inside the prediction period.
  const auto e = quant::evaluate_strategy(u, quant::equal_weight_targets(u), p, quant::BacktestOptions{},
                                          quant::BenchmarkKind::equal_weight);
  EXPECT_EQ(e.backtest.equity[static_cast<std::size_t>(p.first_day)], 1e6);
  EXPECT_EQ(e.backtest.turnover[static_cast<std::size_t>(p.first_day)], 0.0);
  EXPECT_GT(e.backtest.turnover[static_cast<std::size_t>(p.first_day + 1)], 0.9);
  try {  // made for another execution mode: an error naming both
    quant::read_target_weights(path, u, {data::Execution::next_open, 2});
    FAIL() << "no error";
  } catch (const std::invalid_argument& error) {
    const std::string text = error.what();
    EXPECT_NE(text.find("next_close"), std::string::npos) << text;
    EXPECT_NE(text.find("next_open"), std::string::npos) << text;
    EXPECT_NE(text.find(path.string()), std::string::npos) << text;
  }
  h5::write_atomically(path, [&](h5::File& f) {  // no label attributes: made before format_version 2
    f.write("/target_weights", equal);
    f.write_strings("/tickers", u.tickers);
  });
  EXPECT_THROW(quant::read_target_weights(path, u, made_for.timing), std::invalid_argument);
  h5::write_atomically(path, [&](h5::File& f) {
    f.write("/target_weights", Tensor::zeros({D - 1, N}, DType::f64));
    f.write_strings("/tickers", u.tickers);
    quant::write_label_attributes(f, "/", made_for);
  });
  EXPECT_THROW(quant::read_target_weights(path, u, made_for.timing), std::runtime_error);
  std::filesystem::remove(path);
}
