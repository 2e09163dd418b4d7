// The day's report: metrics.json for machines, one HTML page for people (index.html and a copy named
// after the data day, so that past days stay readable).
#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <sstream>

#include "pipeline_run.h"
#include "qf/data/csv.h"
#include "qf/data/json.h"
#include "qf/data/store.h"
#include "qf/data/validation.h"
#include "qf/quant/backtest/report.h"

namespace fs = std::filesystem;

namespace qf::apps {

namespace {

using quant::format_fixed, quant::html_escape;

data::Json metrics_json(const Monitoring& m, const std::vector<quant::Alert>& alerts,
                        const std::vector<StageRecord>& stages, const std::string& run_utc) {
  data::Json metrics = data::Json::object();
  for (const auto& [name, value] : m.metrics) metrics[name] = value;
  data::Json stage_list = data::Json::array();
  for (const auto& x : stages)
    stage_list.push_back(
        {{"stage", x.name}, {"status", x.status}, {"seconds", x.seconds}, {"peak_rss_mb", x.peak_rss_mb}});
  data::Json messages = data::Json::array();
  for (const auto& a : alerts) messages.push_back(a.message);
  return {{"run_utc", run_utc},
          {"data_day", m.data_day},
          {"metrics", std::move(metrics)},
          {"stages", std::move(stage_list)},
          {"alerts", std::move(messages)}};
}

// Counts print as integers, days as days, the rest with 4 decimals.
std::string metric_text(const std::string& name, double v) {
  static const std::set<std::string> counts = {"tickers", "live_predictions", "live_calls",
                                               "validation_findings", "rejected_tickers"};
  if (!std::isfinite(v)) return "n/a";
  if (counts.contains(name)) return format_fixed(v, 0);
  if (name.ends_with("_days")) return format_fixed(v, 0) + (v == 1 ? " day" : " days");
  return format_fixed(v, 4);
}

// The first screen: the title and run, the scorecard with the P&L before and after costs, equity vs the
// benchmark over the backtest, then the data's findings and the alerts in a few lines.
void html_first_screen(std::ostream& h, const PipelineLayout& l, const Monitoring& m,
                       const std::vector<quant::Alert>& alerts, const std::string& run_utc) {
  h << quant::html_page_start("QuantForge daily report: data up to " + m.data_day)
    << "<div class=\"sub\">Run " << run_utc << ". Target: " << html_escape(m.target) << ". "
    << (alerts.empty() ? "<span class=\"met\">No alerts.</span>"
                       : "<span class=\"warning\">" + std::to_string(alerts.size()) + " alert(s).</span>")
    << "</div>\n";
  const auto pnl = m.backtest_metrics.value("pnl", data::Json::object());
  h << "<h2>Scorecard (backtest: plan targets, out of sample, after costs)</h2>\n"
    << quant::html_scorecard(read_scorecard(m.backtest_metrics))
    << "<p id=\"pnl\">P&amp;L, % of capital: " << format_fixed(100 * pnl.value("gross", NAN), 2)
    << " % before costs, " << format_fixed(100 * pnl.value("costs", NAN), 2) << " % costs, "
    << format_fixed(100 * pnl.value("net", NAN), 2) << " % after costs.</p>\n";
  std::vector<std::string> dates;
  std::vector<double> strategy, benchmark;
  for (const auto& row : m.backtest_daily.rows) {
    if (row.size() < 4) continue;
    dates.push_back(row[0]);
    strategy.push_back(std::stod(row[2]));
    benchmark.push_back(std::stod(row[3]));
  }
  h << "<h2>Equity vs benchmark (backtest, after costs)</h2>\n"
    << quant::line_chart({{"strategy", "#1f5fa8", quant::wealth(strategy)},
                          {"benchmark", "#999", quant::wealth(benchmark)}},
                         dates, false, false, "equity");
  h << "<h2>Data findings</h2>\n<ul id=\"findings\">\n";
  for (const auto& w : m.data_warnings) h << "<li class=\"warning\">" << html_escape(w) << "</li>\n";
  const auto count = [&](const char* name) {
    const auto it = m.metrics.find(name);
    return it == m.metrics.end() ? std::string("n/a") : metric_text(name, it->second);
  };
  h << "<li>Validation: " << count("validation_findings") << " finding(s)";
  if (const fs::path v = l.out / "validation.json"; fs::exists(v)) {
    std::string kinds;
    const data::Json summary = data::read_json(v).value("summary", data::Json::object());
    for (const auto& [kind, n] : summary.items())
      kinds += (kinds.empty() ? "" : ", ") + html_escape(kind) + " " + n.dump();
    if (!kinds.empty()) h << " (" << kinds << ")";
  }
  h << ", " << count("rejected_tickers") << " ticker(s) rejected; details in "
    << "<a href=\"../validation.txt\">validation.txt</a>.</li>\n</ul>\n";
  if (!alerts.empty()) {
    h << "<h2>Alerts</h2><ul>\n";
    for (const auto& a : alerts) h << "<li class=\"alert\">" << html_escape(a.message) << "</li>\n";
    h << "</ul>\n";
  }
}

// The monitored days: each day's live accuracy and the backtested equity over them (growth of 1).
void html_monitored_days(std::ostream& h, const PipelineSettings& s, const Monitoring& m) {
  std::map<std::string, double> daily_return;
  for (const auto& row : m.backtest_daily.rows)
    if (row.size() >= 3) daily_return[row[0]] = std::stod(row[2]);
  std::vector<double> returns;
  for (const auto& date : m.monitored_dates)
    returns.push_back(daily_return.contains(date) ? daily_return[date] : 0.0);
  h << "<h2>The last " << s.monitor_days << " days</h2>\n"
    << quant::line_chart({{"live accuracy (calls)", "#8e44ad", m.monitored_accuracy}}, m.monitored_dates,
                         false, true, "live_accuracy")
    << quant::line_chart({{"equity (backtest, growth of 1)", "#1f5fa8", quant::wealth(returns)}},
                         m.monitored_dates, false, false, "recent_equity");
}

// The stages' table, the monitoring metrics and the largest feature drifts.
void html_stages_and_monitoring(std::ostream& h, const PipelineSettings& s, const Monitoring& m,
                                const std::vector<StageRecord>& stages) {
  h << "<h2>Stages</h2><table><tr><th>stage</th><th>status</th><th>seconds</th><th>peak "
       "MB</th><th>note</th></tr>\n";
  for (const auto& st : stages)
    h << "<tr><td>" << st.name << "</td><td>" << st.status << "</td><td>" << format_fixed(st.seconds, 1)
      << "</td><td>" << format_fixed(st.peak_rss_mb, 0) << "</td><td>" << html_escape(st.note)
      << "</td></tr>\n";
  h << "</table>\n<h2>Monitoring</h2><table id=\"monitoring\"><tr><th>metric</th><th>value</th></tr>\n";
  for (const auto& [k, v] : m.metrics)
    h << "<tr><td>" << k << "</td><td>" << metric_text(k, v) << "</td></tr>\n";
  h << "</table>\n<p>Largest feature drift (PSI, recent " << s.monitor_days
    << " days vs the training days): ";
  for (const auto& [name, psi] : m.top_drift) h << html_escape(name) << " " << format_fixed(psi, 3) << "; ";
  h << "</p>\n";
}

// The first 20 rows of the prediction stage's table (most confident first: confidence, ties by the raw
// score), the calibrated and the raw probability side by side, then the links to the details.
void html_predictions_and_links(std::ostream& h, const PipelineLayout& l) {
  const data::CsvTable table = data::read_csv(l.prediction / "predictions.csv");
  const auto column = [&](const std::string& name) {
    return static_cast<std::size_t>(std::find(table.header.begin(), table.header.end(), name) -
                                    table.header.begin());
  };
  const std::vector<std::pair<std::string, std::string>> shown = {
      {"ticker", "ticker"},
      {"probability", "P(up), calibrated"},
      {"raw_probability", "P(up), raw (breaks ties)"},
      {"confidence", "confidence"},
      {"expected_return", "E[return]"},
      {"abstain", "call"}};
  h << "<h2>Today's predictions (most confident first)</h2><table id=\"predictions\"><tr>";
  for (const auto& [name, title] : shown) h << "<th>" << html_escape(title) << "</th>";
  h << "</tr>\n";
  for (std::size_t r = 0; r < table.rows.size() && r < 20; ++r) {
    const auto& row = table.rows[r];
    h << "<tr>";
    for (const auto& [name, title] : shown) {
      const std::size_t c = column(name);
      const std::string cell = c < row.size() ? row[c] : "";
      if (name == "ticker")
        h << "<td>" << html_escape(cell) << "</td>";
      else if (name == "abstain")
        h << "<td>"
          << (cell == "1"                                   ? "abstain"
              : std::stod(row[column("probability")]) > 0.5 ? "up"
                                                            : "down")
          << "</td>";
      else
        h << "<td>" << (cell.empty() ? "n/a" : format_fixed(std::stod(cell), 4)) << "</td>";
    }
    h << "</tr>\n";
  }
  h << "</table>\n<p>Details: <a href=\"../backtest/report.html\">backtest report</a>, "
       "<a href=\"../prediction/summary.json\">prediction summary</a>, <a "
       "href=\"metrics.json\">metrics.json</a>, "
       "<a href=\"../alerts.jsonl\">alert log</a>.</p>\n";
}

}  // namespace

double json_number(const data::Json& j, const std::string& section, const std::string& key) {
  if (!j.contains(section) || !j[section].contains(key) || !j[section][key].is_number()) return NAN;
  return j[section][key].get<double>();
}

// The backtest's scorecard lines back from its metrics.json.
std::vector<quant::ScorecardLine> read_scorecard(const data::Json& metrics) {
  std::vector<quant::ScorecardLine> lines;
  for (const auto& j : metrics.value("scorecard", data::Json::array())) {
    quant::ScorecardLine l;
    l.name = j.value("name", "");
    l.value = j["value"].is_number() ? j["value"].get<double>() : NAN;
    l.target = j.value("target", NAN);
    l.higher_is_better = j.value("higher_is_better", true);
    l.met = j.value("met", false);
    const std::string state = j.value("state", "");
    l.state = state == "met"             ? quant::ScorecardState::met
              : state == "too few calls" ? quant::ScorecardState::too_few_calls
                                         : quant::ScorecardState::not_met;
    lines.push_back(l);
  }
  return lines;
}

void write_report(const PipelineSettings& s, const PipelineLayout& l, const Monitoring& m,
                  const std::vector<quant::Alert>& alerts, const std::vector<StageRecord>& stages,
                  const std::string& run_utc) {
  fs::create_directories(l.report);
  data::write_text_atomically(l.report / "metrics.json",
                              data::json_text(metrics_json(m, alerts, stages, run_utc)));
  std::ostringstream h;
  html_first_screen(h, l, m, alerts, run_utc);
  html_monitored_days(h, s, m);
  html_predictions_and_links(h, l);
  html_stages_and_monitoring(h, s, m, stages);
  h << "</body></html>\n";
  data::write_text_atomically(l.report / "index.html", h.str());
  data::write_text_atomically(l.report / (m.data_day + ".html"), h.str());
}

}  // namespace qf::apps
