#include "qf/quant/backtest/outputs.h"

#include <sstream>

#include "qf/data/store.h"
#include "qf/quant/backtest/report.h"

namespace fs = std::filesystem;

namespace qf::quant {

std::string costs_description(const BacktestOptions& o) {
  std::ostringstream costs;
  costs << ", executed " << data::to_string(o.timing.execution) << " (" << o.timing.describe() << ", held "
        << o.timing.horizon << (o.timing.horizon == 1 ? " day" : " days") << "); costs: commission "
        << o.costs.commission_bps << " bp, half spread " << o.costs.half_spread_bps << " bp, slippage "
        << o.costs.slippage_bps << " bp, impact " << o.costs.impact_coefficient << ", participation cap "
        << o.costs.max_participation << ", borrow " << o.costs.borrow_bps_per_year << " bp/yr";
  return costs.str();
}

std::string evaluation_daily_csv(const Evaluation& e, const data::Universe& universe) {
  std::ostringstream daily;
  daily.precision(10);
  daily << "date,equity,return,benchmark_return,cost_fraction,turnover,long_exposure,short_exposure\n";
  for (std::int64_t d = e.first_day; d <= e.last_day; ++d) {
    const auto k = static_cast<std::size_t>(d), j = static_cast<std::size_t>(d - e.first_day);
    daily << data::format_date(universe.days[k]) << ',' << e.backtest.equity[k] << ',' << e.returns[j] << ','
          << e.benchmark_returns[j] << ',' << e.backtest.cost_fraction[k] << ',' << e.backtest.turnover[k]
          << ',' << e.backtest.long_exposure[k] << ',' << e.backtest.short_exposure[k] << '\n';
  }
  return daily.str();
}

void write_evaluation(const fs::path& folder, const Evaluation& e, const data::Universe& universe,
                      const std::string& subtitle) {
  fs::create_directories(folder);
  data::write_text_atomically(folder / "metrics.json", evaluation_json(e, universe));
  data::write_text_atomically(folder / "metrics.csv", evaluation_csv(e));
  data::write_text_atomically(folder / "daily.csv", evaluation_daily_csv(e, universe));
  data::write_text_atomically(folder / "report.html",
                              html_report(e, universe, {"QuantForge backtest", subtitle, 63}));
}

void write_comparison(const fs::path& folder, const std::vector<std::string>& names,
                      const std::vector<Evaluation>& evaluations, const data::Universe& universe,
                      double capital, const std::string& costs) {
  std::vector<NamedEvaluation> named;
  std::ostringstream csv;
  csv.precision(10);
  csv << "strategy,annual_return,annual_volatility,sharpe,sortino,max_drawdown,calmar,mean_daily_turnover,"
         "mean_gross_exposure,cost_fraction,targets_met\n";
  for (std::size_t k = 0; k < evaluations.size(); ++k) {
    const auto& e = evaluations[k];
    named.push_back({names[k], &e});
    csv << names[k] << ',' << e.metrics.annual_return << ',' << e.metrics.annual_volatility << ','
        << e.metrics.sharpe << ',' << e.metrics.sortino << ',' << e.metrics.max_drawdown << ','
        << e.metrics.calmar << ',' << e.mean_turnover << ',' << e.mean_gross_exposure << ','
        << e.backtest.costs.total() / capital << ',' << targets_met(e.scorecard) << '\n';
  }
  data::write_text_atomically(folder / "comparison.csv", csv.str());
  data::write_text_atomically(
      folder / "comparison.html",
      comparison_report(named, universe,
                        {"QuantForge: strategies side by side", "Costs" + costs.substr(1), 63}));
}

}  // namespace qf::quant
