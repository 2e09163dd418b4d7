// Stage 4 of the plan: backtest a model-driven strategy on the out-of-sample period of a
// run_lstm_training registry, with trading costs, against a benchmark; writes the HTML report, the
// metrics as JSON and CSV, the daily series, and prints the scorecard against the plan's targets.
#include <algorithm>
#include <boost/program_options.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <sstream>

#include "command_line.h"
#include "qf/data/csv.h"
#include "qf/data/store.h"
#include "qf/quant/backtest/evaluation.h"
#include "qf/quant/backtest/report.h"

namespace po = boost::program_options;
namespace fs = std::filesystem;

namespace {

// The report, JSON, CSV and daily series of one evaluation, into `folder`.
void write_evaluation(const fs::path& folder, const qf::quant::Evaluation& e,
                      const qf::data::Universe& universe, const std::string& subtitle) {
  std::ostringstream daily;
  daily.precision(10);
  daily << "date,equity,return,benchmark_return,cost_fraction,turnover,long_exposure,short_exposure\n";
  for (std::int64_t d = e.first_day; d <= e.last_day; ++d) {
    const auto k = static_cast<std::size_t>(d), j = static_cast<std::size_t>(d - e.first_day);
    daily << qf::data::format_date(universe.days[k]) << ',' << e.backtest.equity[k] << ',' << e.returns[j]
          << ',' << e.benchmark_returns[j] << ',' << e.backtest.cost_fraction[k] << ','
          << e.backtest.turnover[k] << ',' << e.backtest.long_exposure[k] << ','
          << e.backtest.short_exposure[k] << '\n';
  }
  fs::create_directories(folder);
  qf::data::write_text_atomically(folder / "metrics.json", qf::quant::evaluation_json(e, universe));
  qf::data::write_text_atomically(folder / "metrics.csv", qf::quant::evaluation_csv(e));
  qf::data::write_text_atomically(folder / "daily.csv", daily.str());
  qf::data::write_text_atomically(folder / "report.html",
                                  qf::quant::html_report(e, universe, {"QuantForge backtest", subtitle, 63}));
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

int main(int argc, char** argv) try {
  std::string store = "out/universe.h5", registry = "out/training/registry.h5", out = "out/backtest";
  std::string benchmark = "index";
  qf::apps::TradeTimingOptions timing;
  std::vector<std::string> weights;
  int repeat = 0;
  qf::quant::StrategySpec strategy;
  qf::quant::BacktestOptions o;
  o.costs = {1.0, 0.0, 0.0, 2.0, 2.0, 0.1, 0.05, 50.0};  // large-cap defaults, see --help
  po::options_description options(
      "run_backtest_evaluation: backtest the predictions of a model registry out of sample, with costs");
  // clang-format off
  options.add_options()
      ("help,h", "show this help")
      ("store", po::value(&store)->default_value(store), "universe store (process_new_data)")
      ("registry", po::value(&registry)->default_value(registry), "model registry (run_lstm_training): its test-period predictions")
      ("out", po::value(&out)->default_value(out), "output folder")
      ("rule", po::value(&strategy.rule)->default_value(strategy.rule),
       "top_k: long the --long most likely up (short the --short least); threshold: long every p > 0.5 + "
       "margin; equal_weight or buy_and_hold: the universe, for reference")
      ("weights", po::value(&weights)->multitoken(),
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
      ("benchmark", po::value(&benchmark)->default_value(benchmark), "index (the store's benchmark) or equal_weight")
      ("repeat", po::value(&repeat)->default_value(repeat), "also time the backtest alone this many times (median)");
  // clang-format on
  timing.add_to(options);
  if (!qf::apps::parse_command_line(argc, argv, options)) return 0;
  if (benchmark != "index" && benchmark != "equal_weight")
    throw po::error("--benchmark must be index or equal_weight");
  o.timing = timing.timing();
  for (const auto& f : {store, registry})
    if (!fs::exists(f)) throw qf::data::InputError(f, 0, "", "no such file (run the earlier stages first)");

  const qf::data::Universe universe = qf::data::read_universe(store);
  const qf::quant::PredictionPanel predictions = qf::quant::read_registry_predictions(registry, universe);
  const auto kind =
      benchmark == "index" ? qf::quant::BenchmarkKind::index : qf::quant::BenchmarkKind::equal_weight;
  std::ostringstream costs;
  costs << ", executed " << timing.execution << " (" << o.timing.describe() << ", held " << o.timing.horizon
        << (o.timing.horizon == 1 ? " day" : " days") << "); costs: commission " << o.costs.commission_bps
        << " bp, half spread " << o.costs.half_spread_bps << " bp, slippage " << o.costs.slippage_bps
        << " bp, impact " << o.costs.impact_coefficient << ", participation cap " << o.costs.max_participation
        << ", borrow " << o.costs.borrow_bps_per_year << " bp/yr";

  struct Strategy {
    std::string name, subtitle;
    fs::path folder;
    qf::Tensor targets;
  };
  std::vector<Strategy> strategies;
  if (weights.empty()) {
    std::ostringstream s;
    s << "Strategy " << strategy.rule << " (long " << strategy.k_long << ", short " << strategy.k_short
      << ") on the predictions of " << registry << costs.str();
    strategies.push_back(
        {strategy.rule, s.str(), out, qf::quant::strategy_targets(universe, predictions, strategy)});
  }
  for (const auto& file : weights) {
    const std::string name = fs::path(file).parent_path().filename().string();
    strategies.push_back(
        {name.empty() ? fs::path(file).stem().string() : name,
         "Target weights of " + file + " over the prediction period of " + registry + costs.str(),
         weights.size() > 1 ? fs::path(out) / name : fs::path(out),
         qf::quant::read_target_weights(file, universe, o.timing)});
  }
  std::vector<qf::quant::Evaluation> evaluations;
  for (const auto& s : strategies) {
    const auto start = std::chrono::steady_clock::now();
    evaluations.push_back(qf::quant::evaluate_strategy(universe, s.targets, predictions, o, kind));
    const double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    const auto& e = evaluations.back();
    if (repeat > 0) {  // the engine alone, for bench/compare_backtest.py
      std::vector<double> times;
      for (int k = 0; k < repeat; ++k) {
        const auto t0 = std::chrono::steady_clock::now();
        const auto again = qf::quant::run_backtest(universe, s.targets, o);
        times.push_back(
            std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
        if (again.equity.back() != e.backtest.equity.back())
          throw std::logic_error("the backtest is not deterministic");
      }
      std::sort(times.begin(), times.end());
      std::printf("engine: %.3f ms (median of %d runs)\n", times[times.size() / 2], repeat);
    }
    write_evaluation(s.folder, e, universe, s.subtitle);
    if (strategies.size() > 1) std::printf("== %s\n", s.name.c_str());
    print_summary(e, universe, ms, o.initial_capital, s.folder.string());
  }
  if (strategies.size() > 1) {
    std::vector<qf::quant::NamedEvaluation> named;
    std::ostringstream csv;
    csv.precision(10);
    csv << "strategy,annual_return,annual_volatility,sharpe,sortino,max_drawdown,calmar,mean_daily_turnover,"
           "mean_gross_exposure,cost_fraction,targets_met\n";
    for (std::size_t k = 0; k < strategies.size(); ++k) {
      const auto& e = evaluations[k];
      named.push_back({strategies[k].name, &e});
      const int met = qf::quant::targets_met(e.scorecard);
      csv << strategies[k].name << ',' << e.metrics.annual_return << ',' << e.metrics.annual_volatility << ','
          << e.metrics.sharpe << ',' << e.metrics.sortino << ',' << e.metrics.max_drawdown << ','
          << e.metrics.calmar << ',' << e.mean_turnover << ',' << e.mean_gross_exposure << ','
          << e.backtest.costs.total() / o.initial_capital << ',' << met << '\n';
    }
    qf::data::write_text_atomically(fs::path(out) / "comparison.csv", csv.str());
    qf::data::write_text_atomically(
        fs::path(out) / "comparison.html",
        qf::quant::comparison_report(
            named, universe, {"QuantForge: strategies side by side", "Costs" + costs.str().substr(1), 63}));
    std::printf("comparison of %zu strategies -> %s/comparison.html, comparison.csv\n", strategies.size(),
                out.c_str());
  }
  return 0;
} catch (const qf::data::InputError& e) {
  std::fprintf(stderr, "run_backtest_evaluation: bad input: %s\n", e.what());
  return 1;
} catch (const po::error& e) {
  std::fprintf(stderr, "run_backtest_evaluation: %s (see --help)\n", e.what());
  return 2;
} catch (const std::exception& e) {
  std::fprintf(stderr, "run_backtest_evaluation: %s\n", e.what());
  return 1;
}
