// The day's report: metrics.json for machines, one HTML page for people (index.html and a copy named
// after the data day, so that past days stay readable).
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

// The head, the headline (alerts or none), the target and the data warnings, the alerts listed.
void html_header(std::ostream& h, const Monitoring& m, const std::vector<quant::Alert>& alerts,
                 const std::string& run_utc) {
  h << "<!doctype html><html><head><meta charset=\"utf-8\"><title>QuantForge daily report " << m.data_day
    << "</title><style>body{font-family:sans-serif;margin:2em;max-width:70em}table{border-collapse:collapse;"
       "margin:1em 0}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}th{background:#eee}"
       "td:first-child,th:first-child{text-align:left}.alert{color:#a00;font-weight:bold}.ok{color:#070}"
       "</style></head><body>\n<h1>Daily report: data up to "
    << m.data_day << "</h1>\n<p>Run " << run_utc << ". "
    << (alerts.empty() ? "<span class=\"ok\">No alerts.</span>"
                       : "<span class=\"alert\">" + std::to_string(alerts.size()) + " alert(s).</span>")
    << "</p>\n<p>Target: " << html_escape(m.target) << ".</p>\n";
  for (const auto& w : m.data_warnings) h << "<p class=\"alert\">Warning: " << html_escape(w) << "</p>\n";
  if (!alerts.empty()) {
    h << "<h2>Alerts</h2><ul>\n";
    for (const auto& a : alerts) h << "<li class=\"alert\">" << html_escape(a.message) << "</li>\n";
    h << "</ul>\n";
  }
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
  h << "</table>\n<h2>Monitoring</h2><table><tr><th>metric</th><th>value</th></tr>\n";
  for (const auto& [k, v] : m.metrics)
    h << "<tr><td>" << k << "</td><td>" << format_fixed(v, 4) << "</td></tr>\n";
  h << "</table>\n<p>Largest feature drift (PSI, recent " << s.monitor_days
    << " days vs the training days): ";
  for (const auto& [name, psi] : m.top_drift) h << html_escape(name) << " " << format_fixed(psi, 3) << "; ";
  h << "</p>\n";
}

// The first 20 rows and 9 columns of the prediction stage's table (already sorted, most confident
// first), then the links to the details.
void html_predictions_and_links(std::ostream& h, const PipelineLayout& l) {
  h << "<h2>Today's predictions (most confident first)</h2><table>\n";
  const data::CsvTable table = data::read_csv(l.prediction / "predictions.csv");
  h << "<tr>";
  for (std::size_t c = 0; c < table.header.size() && c < 9; ++c)
    h << "<th>" << html_escape(table.header[c]) << "</th>";
  h << "</tr>\n";
  for (std::size_t r = 0; r < table.rows.size() && r < 20; ++r) {
    h << "<tr>";
    for (std::size_t c = 0; c < table.rows[r].size() && c < 9; ++c)
      h << "<td>" << html_escape(table.rows[r][c]) << "</td>";
    h << "</tr>\n";
  }
  h << "</table>\n<p>Details: <a href=\"../backtest/report.html\">backtest report</a>, "
       "<a href=\"../prediction/summary.json\">prediction summary</a>, <a "
       "href=\"metrics.json\">metrics.json</a>, "
       "<a href=\"../alerts.jsonl\">alert log</a>.</p>\n</body></html>\n";
}

}  // namespace

void write_report(const PipelineSettings& s, const PipelineLayout& l, const Monitoring& m,
                  const std::vector<quant::Alert>& alerts, const std::vector<StageRecord>& stages,
                  const std::string& run_utc) {
  fs::create_directories(l.report);
  data::write_text_atomically(l.report / "metrics.json",
                              data::json_text(metrics_json(m, alerts, stages, run_utc)));
  std::ostringstream h;
  html_header(h, m, alerts, run_utc);
  html_stages_and_monitoring(h, s, m, stages);
  html_predictions_and_links(h, l);
  data::write_text_atomically(l.report / "index.html", h.str());
  data::write_text_atomically(l.report / (m.data_day + ".html"), h.str());
}

}  // namespace qf::apps
