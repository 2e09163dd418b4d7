// Stage 4 of the plan: backtest a model-driven strategy on the out-of-sample period of a
// run_lstm_training registry, with trading costs, against a benchmark; writes the HTML report, the
// metrics as JSON and CSV, the daily series, and prints the scorecard against the plan's targets.
#include <algorithm>
#include <boost/program_options.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "command_line.h"
#include "qf/data/csv.h"
#include "qf/data/store.h"
#include "qf/quant/backtest/evaluation.h"
#include "qf/quant/backtest/outputs.h"
#include "qf/quant/backtest/report.h"

namespace po = boost::program_options;
namespace fs = std::filesystem;

namespace {

struct Settings {
  std::string store = "out/universe.h5", registry = "out/training/registry.h5", out = "out/backtest";
  std::string benchmark = "index";
  qf::apps::TradeTimingOptions timing;
  std::vector<std::string> weights;
  int repeat = 0;
  qf::quant::StrategySpec strategy;
  qf::quant::BacktestOptions o;
  Settings() { o.costs = {1.0, 0.0, 0.0, 2.0, 2.0, 0.1, 0.05, 50.0}; }  // large-cap defaults, see --help
};

void describe_options(po::options_description& options, Settings& s) {
  auto& o = s.o;
  auto& strategy = s.strategy;
  options.add_options()("help,h", "show this help");
  qf::apps::add_store_option(options, s.store);
  options.add_options()("registry", po::value(&s.registry)->default_value(s.registry),
                        "model registry (run_lstm_training): its test-period predictions");
  qf::apps::add_out_option(options, s.out);
  // clang-format off
  options.add_options()
      ("rule", po::value(&strategy.rule)->default_value(strategy.rule),
       "top_k: long the --long most likely up (short the --short least); threshold: long every p > 0.5 + "
       "margin; equal_weight or buy_and_hold: the universe, for reference")
      ("weights", po::value(&s.weights)->multitoken(),
       "trade these target weights instead of a rule (HDF5: /target_weights [days, tickers], /tickers), e.g. "
       "from portfolio_optimizer; the registry's predictions still give the period and the prediction scores. "
       "Several files: each is evaluated (in <out>/<its folder name>/) and compared in <out>/comparison.html")
      ("long", po::value(&strategy.k_long)->default_value(strategy.k_long), "top_k: names held long")
      ("short", po::value(&strategy.k_short)->default_value(strategy.k_short), "top_k: names held short (threshold: > 0 shorts)")
      ("margin", po::value(&strategy.margin)->default_value(strategy.margin), "threshold: confidence margin around 0.5")
      ("capital", po::value(&o.initial_capital)->default_value(o.initial_capital), "initial capital")
      ("leverage", po::value(&o.max_gross_leverage)->default_value(o.max_gross_leverage), "maximum gross exposure / equity")
      ("commission-bps", po::value(&o.costs.commission_bps)->default_value(o.costs.commission_bps), "commission, bps of notional")
      ("commission-per-share", po::value(&o.costs.commission_per_share)->default_value(o.costs.commission_per_share),
       "commission per share (with --commission-min per order)")
      ("commission-min", po::value(&o.costs.commission_min)->default_value(o.costs.commission_min), "minimum commission per order")
      ("half-spread-bps", po::value(&o.costs.half_spread_bps)->default_value(o.costs.half_spread_bps), "half the bid-ask spread, bps")
      ("slippage-bps", po::value(&o.costs.slippage_bps)->default_value(o.costs.slippage_bps), "slippage, bps")
      ("impact", po::value(&o.costs.impact_coefficient)->default_value(o.costs.impact_coefficient),
       "square-root impact coefficient (x daily volatility x sqrt(participation))")
      ("max-participation", po::value(&o.costs.max_participation)->default_value(o.costs.max_participation),
       "largest share of a day's volume one order may take (0: no cap)")
      ("borrow-bps", po::value(&o.costs.borrow_bps_per_year)->default_value(o.costs.borrow_bps_per_year), "short borrow cost, bps a year")
      ("benchmark", po::value(&s.benchmark)->default_value(s.benchmark), "index (the store's benchmark) or equal_weight")
      ("repeat", po::value(&s.repeat)->default_value(s.repeat), "also time the backtest alone this many times (median)");
  // clang-format on
  s.timing.add_to(options);
}

// What is evaluated: the rule on the registry's predictions, or each --weights file.
struct Strategy {
  std::string name, subtitle;
  fs::path folder;
  qf::Tensor targets;
};
std::vector<Strategy> strategies_to_evaluate(const Settings& s, const qf::data::Universe& universe,
                                             const qf::quant::PredictionPanel& predictions) {
  const std::string costs = qf::quant::costs_description(s.o);
  std::vector<Strategy> strategies;
  if (s.weights.empty()) {
    std::ostringstream subtitle;
    subtitle << "Strategy " << s.strategy.rule << " (long " << s.strategy.k_long << ", short "
             << s.strategy.k_short << ") on the predictions of " << s.registry << costs;
    strategies.push_back({s.strategy.rule, subtitle.str(), s.out,
                          qf::quant::strategy_targets(universe, predictions, s.strategy)});
  }
  for (const auto& file : s.weights) {
    const std::string name = fs::path(file).parent_path().filename().string();
    strategies.push_back(
        {name.empty() ? fs::path(file).stem().string() : name,
         "Target weights of " + file + " over the prediction period of " + s.registry + costs,
         s.weights.size() > 1 ? fs::path(s.out) / name : fs::path(s.out),
         qf::quant::read_target_weights(file, universe, s.o.timing)});
  }
  return strategies;
}

// --repeat: the engine alone, timed (for bench/compare_backtest.py); it must give the same equity.
void time_engine(const Settings& s, const qf::data::Universe& universe, const Strategy& strategy,
                 const qf::quant::Evaluation& e) {
  std::vector<double> times;
  for (int k = 0; k < s.repeat; ++k) {
    const auto t0 = std::chrono::steady_clock::now();
    const auto again = qf::quant::run_backtest(universe, strategy.targets, s.o);
    times.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    if (again.equity.back() != e.backtest.equity.back())
      throw std::logic_error("the backtest is not deterministic");
  }
  std::sort(times.begin(), times.end());
  std::printf("engine: %.3f ms (median of %d runs)\n", times[times.size() / 2], s.repeat);
}

void print_summary(const qf::quant::Evaluation& e, const qf::data::Universe& universe, double ms,
                   double capital, const std::string& folder) {
  std::printf("run_backtest_evaluation: %s .. %s (%zu days), %lld tickers; backtest and metrics in %.1f ms\n",
              qf::data::format_date(universe.days[static_cast<std::size_t>(e.first_day)]).c_str(),
              qf::data::format_date(universe.days[static_cast<std::size_t>(e.last_day)]).c_str(),
              e.returns.size(), static_cast<long long>(universe.ticker_count()), ms);
  std::printf(
      "strategy: annual return %.2f %%, volatility %.2f %%, Sharpe %.2f, max drawdown %.2f %%, costs %.2f %% "
      "of capital\n",
      100 * e.metrics.annual_return, 100 * e.metrics.annual_volatility, e.metrics.sharpe,
      100 * e.metrics.max_drawdown, 100 * e.backtest.costs.total() / capital);
  const std::string share =
      e.gross_pnl > 0 ? qf::quant::format_fixed(100 * e.costs_paid / e.gross_pnl, 0) + " % of the gross"
                      : "n/a";
  std::printf(
      "P&L over the period: %.2f %% of capital before costs, costs %.2f %% (%s), %.2f %% after costs\n",
      100 * e.gross_pnl, 100 * e.costs_paid, share.c_str(), 100 * e.net_pnl);
  std::printf("%s: annual return %.2f %%, Sharpe %.2f, max drawdown %.2f %%\n", e.benchmark_name.c_str(),
              100 * e.benchmark_metrics.annual_return, e.benchmark_metrics.sharpe,
              100 * e.benchmark_metrics.max_drawdown);
  std::printf("scorecard (out of sample, after costs):\n");
  for (const auto& l : e.scorecard) {
    char value[32];
    std::snprintf(value, sizeof value, "%10.4f", l.value);
    const bool no_number = l.name == "accuracy" && !std::isfinite(l.value);
    std::printf("  %-14s %10s  target %s %.2f  %s\n", l.name.c_str(), no_number ? "n/a" : value,
                l.higher_is_better ? ">" : "<", l.target,
                l.state == qf::quant::ScorecardState::not_met ? "NOT met" : to_string(l.state).c_str());
  }
  std::printf("predictions: %ld calls of %ld scored cells (coverage %.1f %%), accuracy %s\n",
              e.classification.calls, e.classification.count, 100 * e.classification.coverage,
              qf::quant::accuracy_text(e.classification.accuracy).c_str());
  for (const auto& w : e.data_warnings) std::printf("WARNING: %s\n", w.c_str());
  std::printf("-> %s/report.html, metrics.json, metrics.csv, daily.csv\n", folder.c_str());
}

}  // namespace

int main(int argc, char** argv) {
  return qf::apps::run_app("run_backtest_evaluation", [&] {
    Settings s;
    po::options_description options(
        "run_backtest_evaluation: backtest the predictions of a model registry out of sample, with costs");
    describe_options(options, s);
    if (!qf::apps::parse_command_line(argc, argv, options)) return 0;
    if (s.benchmark != "index" && s.benchmark != "equal_weight")
      throw po::error("--benchmark must be index or equal_weight");
    s.o.timing = s.timing.timing();
    qf::apps::require_files({s.store, s.registry}, "run the earlier stages first");

    const qf::data::Universe universe = qf::data::read_universe(s.store);
    const qf::quant::PredictionPanel predictions = qf::quant::read_registry_predictions(s.registry, universe);
    const auto kind =
        s.benchmark == "index" ? qf::quant::BenchmarkKind::index : qf::quant::BenchmarkKind::equal_weight;
    const auto strategies = strategies_to_evaluate(s, universe, predictions);
    std::vector<std::string> names;
    std::vector<qf::quant::Evaluation> evaluations;
    for (const auto& strategy : strategies) {
      const auto start = std::chrono::steady_clock::now();
      evaluations.push_back(qf::quant::evaluate_strategy(universe, strategy.targets, predictions, s.o, kind));
      names.push_back(strategy.name);
      const double ms =
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
      if (s.repeat > 0) time_engine(s, universe, strategy, evaluations.back());
      qf::quant::write_evaluation(strategy.folder, evaluations.back(), universe, strategy.subtitle);
      if (strategies.size() > 1) std::printf("== %s\n", strategy.name.c_str());
      print_summary(evaluations.back(), universe, ms, s.o.initial_capital, strategy.folder.string());
    }
    if (strategies.size() > 1) {
      qf::quant::write_comparison(s.out, names, evaluations, universe, s.o.initial_capital,
                                  qf::quant::costs_description(s.o));
      std::printf("comparison of %zu strategies -> %s/comparison.html, comparison.csv\n", strategies.size(),
                  s.out.c_str());
    }
    return 0;
  });
}
