// The report stage's monitoring: the metrics the alert rules read, the rules, and raising the alerts
// (the JSON log and the user's command).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>

#include "pipeline_run.h"
#include "qf/data/csv.h"
#include "qf/data/json.h"
#include "qf/data/store.h"
#include "qf/data/synthetic_universe.h"
#include "qf/data/validation.h"
#include "qf/quant/backtest/evaluation.h"
#include "qf/quant/backtest/report.h"
#include "qf/quant/metrics/metrics.h"
#include "qf/quant/monitoring/monitoring.h"
#include "qf/quant/registry/registry.h"
#include "qf/tensor/hdf5.h"

namespace fs = std::filesystem;

namespace qf::apps {

namespace {

using quant::format_fixed;

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// validation.json (data::reports_to_json): its findings, per ticker and about the set, and its rejected
// tickers.
void validation_metrics(const fs::path& validation_json, std::map<std::string, double>& metrics) {
  std::int64_t findings = 0, rejected = 0;
  const data::Json report =
      fs::exists(validation_json) ? data::read_json(validation_json) : data::Json::object();
  for (const auto& ticker : report.value("tickers", data::Json::array())) {
    findings += static_cast<std::int64_t>(ticker.value("findings", data::Json::array()).size());
    rejected += ticker.value("rejected", false) ? 1 : 0;
  }
  findings += static_cast<std::int64_t>(report.value("set_findings", data::Json::array()).size());
  metrics["validation_findings"] = static_cast<double>(findings);
  metrics["rejected_tickers"] = static_cast<double>(rejected);
}

// Portfolio: the backtest of the optimiser's weights. Its total return, Sharpe ratio and worst drawdown
// are the backtest's own (metrics.json's "strategy", the figures its scorecard and the closing sentence
// use); today's drawdown and exposure come from its daily.csv (equity in column 1; columns 6 and 7 add
// up to the gross exposure).
void portfolio_metrics(const data::Json& book, const data::CsvTable& daily,
                       std::map<std::string, double>& metrics) {
  double peak = 0, drawdown = 0, gross = NAN;
  for (const auto& row : daily.rows) {
    if (row.size() < 8) continue;
    const double equity = std::stod(row[1]);
    peak = std::max(peak, equity);
    drawdown = peak > 0 ? 1 - equity / peak : 0;
    gross = std::stod(row[6]) + std::stod(row[7]);
  }
  metrics["portfolio_drawdown"] = drawdown;
  metrics["portfolio_max_drawdown"] = 0.0 - json_number(book, "strategy", "max_drawdown");  // as a loss > 0
  metrics["portfolio_gross_exposure"] = gross;
  metrics["portfolio_total_return"] = json_number(book, "strategy", "total_return");
  metrics["portfolio_sharpe"] = json_number(book, "strategy", "sharpe");
}

// Stage 2 on the untouched test period: the final models' accuracy and AUC (the registry's
// /test_predictions), and on a synthetic universe the planted edge's oracle on the same decisions
// (data/synthetic_universe.h): what a model that found the whole edge would score (chance without one).
void test_period_metrics(const PipelineSettings& s, const fs::path& registry, const data::Universe& u,
                         std::map<std::string, double>& metrics) {
  const h5::File f(registry, h5::File::Mode::read);
  auto column = [&](const char* name) {
    const Tensor t = f.read(std::string("/test_predictions/") + name);
    return std::vector<double>(t.data<double>(), t.data<double>() + t.numel());
  };
  const auto probability = column("probability"), label = column("label");
  const auto scores = quant::classification_scores(probability, label);
  metrics["test_accuracy"] = scores.accuracy;
  metrics["test_auc"] = scores.auc;
  if (!s.input.empty()) return;
  const auto ticker = column("ticker"), day = column("day");
  const std::vector<std::int32_t> tickers(ticker.begin(), ticker.end()), days(day.begin(), day.end());
  metrics["oracle_test_accuracy"] = data::planted_oracle_accuracy(u, tickers, days, label).accuracy;
}

}  // namespace

Monitoring monitor(const PipelineSettings& s, const PipelineLayout& l) {
  Monitoring m;
  data::FeaturePanels panels;
  const data::Universe u = data::read_universe(l.store, &panels);
  const std::int64_t D = u.day_count();
  m.data_day = data::format_date(u.days.back());
  // Data: freshness against --as-of (default today) and the validation findings.
  data::Day as_of{};
  if (s.as_of.empty() || !data::parse_date(s.as_of, as_of))
    as_of = static_cast<data::Day>(
        std::chrono::floor<std::chrono::days>(std::chrono::system_clock::now()).time_since_epoch().count());
  m.metrics["data_age_days"] = static_cast<double>(as_of - u.days.back());
  validation_metrics(l.out / "validation.json", m.metrics);
  m.metrics["tickers"] = static_cast<double>(u.ticker_count());
  // Models: coverage, CV scores, age.
  const h5::File registry(l.registry, h5::File::Mode::read);
  const auto status = registry.read_strings("/coverage/status");
  double trained = 0;
  for (const auto& x : status) trained += x == "trained" ? 1 : 0;
  m.metrics["coverage"] = status.empty() ? NAN : trained / static_cast<double>(status.size());
  double cv_accuracy = NAN, cv_brier = NAN;
  if (const auto folds = quant::read_cv_fold_scores(l.registry); !folds.empty()) {
    double accuracy = 0, brier = 0;
    for (const auto& fold : folds) accuracy += fold.accuracy, brier += fold.brier;
    cv_accuracy = accuracy / static_cast<double>(folds.size());
    cv_brier = brier / static_cast<double>(folds.size());
  }
  m.metrics["cv_accuracy"] = cv_accuracy;
  m.metrics["cv_brier"] = cv_brier;
  test_period_metrics(s, l.registry, u, m.metrics);
  // Live: the final predictions of the last monitor_days days whose outcome is known.
  const auto panel = quant::read_registry_predictions(l.predictions, u);
  m.target = panel.label.describe();
  m.data_warnings = data::data_warnings(u);
  const auto live = quant::live_scores(u, panel, D - 1 - s.monitor_days, D - 1);
  m.metrics["live_predictions"] = static_cast<double>(live.count);
  m.metrics["live_calls"] = static_cast<double>(live.calls);
  m.metrics["live_coverage"] = live.coverage;
  // Too few calls: no verdict on the accuracy (the scorecard's rule).
  m.metrics["live_accuracy"] = live.calls >= quant::kMinScoredCalls ? live.accuracy : NAN;
  m.metrics["live_brier"] = live.count >= 100 ? live.brier : NAN;
  m.metrics["accuracy_drift"] = m.metrics["live_accuracy"] - cv_accuracy;
  m.metrics["brier_drift"] = m.metrics["live_brier"] - cv_brier;
  for (std::int64_t d = std::max<std::int64_t>(0, D - 1 - s.monitor_days); d < D; ++d) {
    const auto day = quant::live_scores(u, panel, d, d);
    if (day.count == 0) continue;  // no known outcome yet (the last days)
    m.monitored_dates.push_back(data::format_date(u.days[static_cast<std::size_t>(d)]));
    m.monitored_accuracy.push_back(day.calls > 0 ? day.accuracy : NAN);
  }
  // Features: the registry's, recent days against its development days.
  data::FeaturePanels used;
  for (const auto& name : registry.read_strings("/features"))
    if (panels.contains(name)) used[name] = panels[name];
  std::int64_t dev_last = D / 2;
  if (registry.has_attr("/", "dev_last_day")) {
    data::Day day{};
    if (data::parse_date(registry.attr_string("/", "dev_last_day"), day))
      dev_last = std::lower_bound(u.days.begin(), u.days.end(), day) - u.days.begin();
  }
  const auto drift = quant::feature_drift(used, 0, dev_last, D - s.monitor_days, D - 1);
  m.metrics["max_feature_psi"] = drift.empty() ? NAN : drift.front().psi;
  for (std::size_t k = 0; k < drift.size() && k < 5; ++k)
    m.top_drift.push_back({drift[k].feature, drift[k].psi});
  m.backtest_metrics = data::read_json(l.backtest / "metrics.json");
  m.backtest_daily = data::read_csv(l.backtest / "daily.csv");
  portfolio_metrics(m.backtest_metrics, m.backtest_daily, m.metrics);
  return m;
}

std::vector<quant::AlertRule> alert_rules(const PipelineSettings& s) {
  std::vector<quant::AlertRule> rules;
  auto add = [&](const char* metric, bool above, double threshold, bool on) {
    if (on && std::isfinite(threshold)) rules.push_back({metric, above, threshold});
  };
  add("live_accuracy", false, s.min_live_accuracy, s.min_live_accuracy > 0);
  add("brier_drift", true, s.max_brier_drift, s.max_brier_drift > 0);
  add("max_feature_psi", true, s.max_feature_psi, s.max_feature_psi > 0);
  add("portfolio_drawdown", true, s.max_drawdown, s.max_drawdown > 0);
  add("coverage", false, s.min_coverage, s.min_coverage > 0);
  add("data_age_days", true, s.max_data_age_days, s.max_data_age_days > 0);
  add("rejected_tickers", true, s.max_rejected_tickers, true);
  return rules;
}

void raise_alerts(const PipelineSettings& s, const PipelineLayout& l, const std::vector<quant::Alert>& alerts,
                  const std::string& data_day, const std::string& run_utc) {
  if (alerts.empty()) return;
  std::string lines = read_text(l.alerts);
  for (const auto& a : alerts)
    lines += data::json_line({{"run_utc", run_utc},
                              {"data_day", data_day},
                              {"metric", a.rule.metric},
                              {"value", a.value},
                              {"threshold", a.rule.threshold},
                              {"message", a.message}});
  data::write_text_atomically(l.alerts, lines);
  if (s.alert_command.empty()) return;
  for (const auto& a : alerts) {
    setenv("QF_ALERT_METRIC", a.rule.metric.c_str(), 1);
    setenv("QF_ALERT_VALUE", format_fixed(a.value, 6).c_str(), 1);
    setenv("QF_ALERT_THRESHOLD", format_fixed(a.rule.threshold, 6).c_str(), 1);
    setenv("QF_ALERT_MESSAGE", a.message.c_str(), 1);
    setenv("QF_ALERT_REPORT", fs::absolute(l.report / "index.html").c_str(), 1);
    const auto r = run_process({"/bin/sh", "-c", s.alert_command}, l.logs / "alert_command.log", false);
    if (r.exit_code != 0)
      std::fprintf(stderr, "run_pipeline: warning: the alert command exited with %d (see %s)\n", r.exit_code,
                   (l.logs / "alert_command.log").c_str());
  }
}

}  // namespace qf::apps
