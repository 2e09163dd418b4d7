// The evaluation as one self-contained HTML file: inline SVG charts and a few lines of inline script (log
// scale toggle, sortable table), nothing fetched from the network. Sections: scorecard, key metrics
// against the benchmark, equity curve vs benchmark (linear / log), drawdown, rolling 63-day Sharpe and
// volatility, monthly returns heatmap, distribution of daily returns, exposure and turnover, P&L per
// sector, and a sortable per-stock table.
#pragma once

#include <string>
#include <vector>

#include "qf/quant/backtest/evaluation.h"

namespace qf::quant {

// For every HTML page of the project (these reports, run_pipeline's daily report): text escaped for
// HTML (numbers: format_fixed, qf/quant/metrics/metrics.h).
std::string html_escape(const std::string& text);

// The pieces the pages share: the page up to its title (doctype, the shared style, <h1>); a scorecard
// table; a line chart of series over dates (inline SVG: log_y plots log(values), values > 0, labelled in
// the original units; percent labels the y axis in percent; hidden: display none); the growth of 1 from
// daily returns.
struct ChartSeries {
  std::string name, color;
  std::vector<double> values;
};
std::string html_page_start(const std::string& title);
std::string html_scorecard(const std::vector<ScorecardLine>& scorecard);
std::string line_chart(const std::vector<ChartSeries>& series, const std::vector<std::string>& dates,
                       bool log_y, bool percent, const std::string& id, bool hidden = false);
std::vector<double> wealth(const std::vector<double>& daily_returns);

struct ReportOptions {
  std::string title = "QuantForge backtest";
  std::string subtitle;  // e.g. the strategy and cost settings
  int rolling_window = 63;
};

std::string html_report(const Evaluation& evaluation, const data::Universe& universe,
                        const ReportOptions& options);

// Several strategies over the same period side by side: a metrics table (one row each, and the
// benchmark), equity curves, drawdowns and gross exposure on shared charts, and each one's scorecard.
struct NamedEvaluation {
  std::string name;
  const Evaluation* evaluation = nullptr;
};
std::string comparison_report(const std::vector<NamedEvaluation>& strategies, const data::Universe& universe,
                              const ReportOptions& options);

}  // namespace qf::quant
