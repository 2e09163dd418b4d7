// run_pipeline: the plan's stages in one command, from one configuration.
//
//   process -> train -> predict -> optimise -> backtest -> report
//
// Each stage is its app (found beside this program), run as a child process whose wall time and peak
// memory are recorded. The state manifest (<out>/pipeline_state.txt) keeps, per stage, the key of its
// last finished run: its command line and its inputs' content hashes. A rerun skips the stages whose key
// did not change; --from STAGE forces that stage and the ones after it. A stage killed half way is simply
// rerun (every app writes atomically, and training resumes from its checkpoints).
//
// Daily update mode (--update): the new price rows are appended (process_new_data --update); the models
// are retrained only when the schedule says so (--retrain-every trading days), when the store gained
// tickers, or when the last run's monitoring found them degraded; otherwise the registry's models,
// reloaded, predict the new days. The report stage computes the monitoring metrics, checks the alert
// rules, and writes the day's report.
//
// Exit status: 0 done, 1 a stage failed (its log is named), 2 bad usage, 3 done with alerts.
#include <sys/resource.h>

#include <boost/program_options.hpp>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>

#include "blas_kernels.h"
#include "command_line.h"
#include "pipeline.h"
#include "qf/data/csv.h"
#include "qf/data/store.h"
#include "qf/data/validation.h"
#include "qf/quant/backtest/evaluation.h"
#include "qf/quant/backtest/report.h"
#include "qf/quant/monitoring/monitoring.h"
#include "qf/tensor/hdf5.h"

namespace po = boost::program_options;
namespace fs = std::filesystem;
using qf::apps::PipelineState;
using qf::quant::format_fixed, qf::quant::html_escape;

namespace {

const std::vector<std::string> kStages = {"process", "train", "predict", "optimise", "backtest", "report"};

struct Settings {
  std::string out = "out", config, input, constituents, benchmark, headlines, from, as_of;
  std::int64_t tickers = 518;
  std::uint64_t seed = 20100104;
  bool update = false, status = false, quiet = false;
  int retrain_every = 5, monitor_days = 20;
  bool retrain_on_degradation = true;
  std::string methods = "mean_variance";
  qf::apps::TradeTimingOptions timing;            // one traded return for stages 2 to 5
  std::map<std::string, std::string> stage_args;  // extra arguments per stage
  // Alert thresholds (a NaN or 0 where noted switches a rule off).
  double min_live_accuracy = 0.45, max_brier_drift = 0.01, max_feature_psi = 0.25, max_drawdown = 0.25,
         min_coverage = 0.9, max_data_age_days = 0, max_rejected_tickers = 0;
  std::string alert_command;
};

std::vector<std::string> split_words(const std::string& text) {
  std::istringstream in(text);
  std::vector<std::string> out;
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::int64_t count_of(const std::string& text, const std::string& what) {
  std::int64_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + what.size())) ++n;
  return n;
}

// Where everything lives under --out.
struct Layout {
  fs::path out, store, training, registry, prediction, predictions, portfolio, weights, backtest, report,
      logs, state, alerts;
  explicit Layout(const Settings& s) {
    out = s.out;
    store = out / "universe.h5";
    training = out / "training";
    registry = training / "registry.h5";
    prediction = out / "prediction";
    predictions = prediction / "predictions.h5";
    portfolio = out / "portfolio";
    weights = portfolio / s.methods.substr(0, s.methods.find(',')) / "weights.h5";
    backtest = out / "backtest";
    report = out / "report";
    logs = out / "logs";
    state = out / "pipeline_state.txt";
    alerts = out / "alerts.jsonl";
  }
};

struct StageRecord {
  std::string name, status;  // ran, skipped (up to date), kept (update mode: retrain not due), failed
  double seconds = 0, peak_rss_mb = 0;
  std::string note;
};

// The days of the store's calendar and its last date, read from the store alone.
std::pair<std::int64_t, std::string> store_calendar(const fs::path& store) {
  const qf::h5::File f(store, qf::h5::File::Mode::read);
  const auto dates = f.read_strings("/dates");
  return {static_cast<std::int64_t>(dates.size()), dates.empty() ? "" : dates.back()};
}

// ---- monitoring and the report --------------------------------------------------------------------

struct Monitoring {
  std::map<std::string, double> metrics;
  std::vector<std::pair<std::string, double>> top_drift;  // feature, PSI
  std::string data_day;
  std::string target;                      // what the predictions are about (LabelSpec::describe)
  std::vector<std::string> data_warnings;  // the store's set-level findings (survivorship, ...)
};

Monitoring monitor(const Settings& s, const Layout& l) {
  Monitoring m;
  qf::data::FeaturePanels panels;
  const qf::data::Universe u = qf::data::read_universe(l.store, &panels);
  const std::int64_t D = u.day_count();
  m.data_day = qf::data::format_date(u.days.back());
  // Data: freshness against --as-of (default today) and the validation findings.
  qf::data::Day as_of{};
  if (s.as_of.empty() || !qf::data::parse_date(s.as_of, as_of))
    as_of = static_cast<qf::data::Day>(
        std::chrono::floor<std::chrono::days>(std::chrono::system_clock::now()).time_since_epoch().count());
  m.metrics["data_age_days"] = static_cast<double>(as_of - u.days.back());
  const std::string validation = read_text(l.out / "validation.json");
  m.metrics["validation_findings"] = static_cast<double>(count_of(validation, "\"kind\": "));
  m.metrics["rejected_tickers"] = static_cast<double>(count_of(validation, "\"rejected\": true"));
  m.metrics["tickers"] = static_cast<double>(u.ticker_count());
  // Models: coverage, CV scores, age.
  const qf::h5::File registry(l.registry, qf::h5::File::Mode::read);
  const auto status = registry.read_strings("/coverage/status");
  double trained = 0;
  for (const auto& x : status) trained += x == "trained" ? 1 : 0;
  m.metrics["coverage"] = status.empty() ? NAN : trained / static_cast<double>(status.size());
  double cv_accuracy = NAN, cv_brier = NAN;
  if (const auto folds = qf::quant::read_cv_fold_scores(l.registry); !folds.empty()) {
    double accuracy = 0, brier = 0;
    for (const auto& fold : folds) accuracy += fold.accuracy, brier += fold.brier;
    cv_accuracy = accuracy / static_cast<double>(folds.size());
    cv_brier = brier / static_cast<double>(folds.size());
  }
  m.metrics["cv_accuracy"] = cv_accuracy;
  m.metrics["cv_brier"] = cv_brier;
  // Live: the final predictions of the last monitor_days days whose outcome is known.
  const auto panel = qf::quant::read_registry_predictions(l.predictions, u);
  m.target = panel.label.describe();
  m.data_warnings = qf::data::data_warnings(u);
  const auto live = qf::quant::live_scores(u, panel, D - 1 - s.monitor_days, D - 1);
  m.metrics["live_predictions"] = static_cast<double>(live.count);
  m.metrics["live_calls"] = static_cast<double>(live.calls);
  m.metrics["live_coverage"] = live.coverage;
  // Too few calls: no verdict on the accuracy (the scorecard's rule).
  m.metrics["live_accuracy"] = live.calls >= qf::quant::kMinScoredCalls ? live.accuracy : NAN;
  m.metrics["live_brier"] = live.count >= 100 ? live.brier : NAN;
  m.metrics["accuracy_drift"] = m.metrics["live_accuracy"] - cv_accuracy;
  m.metrics["brier_drift"] = m.metrics["live_brier"] - cv_brier;
  // Features: the registry's, recent days against its development days.
  qf::data::FeaturePanels used;
  for (const auto& name : registry.read_strings("/features"))
    if (panels.contains(name)) used[name] = panels[name];
  std::int64_t dev_last = D / 2;
  if (registry.has_attr("/", "dev_last_day")) {
    qf::data::Day day{};
    if (qf::data::parse_date(registry.attr_string("/", "dev_last_day"), day))
      dev_last = std::lower_bound(u.days.begin(), u.days.end(), day) - u.days.begin();
  }
  const auto drift = qf::quant::feature_drift(used, 0, dev_last, D - s.monitor_days, D - 1);
  m.metrics["max_feature_psi"] = drift.empty() ? NAN : drift.front().psi;
  for (std::size_t k = 0; k < drift.size() && k < 5; ++k)
    m.top_drift.push_back({drift[k].feature, drift[k].psi});
  // Portfolio: the backtest of the optimiser's weights.
  const qf::data::CsvTable daily = qf::data::read_csv(l.backtest / "daily.csv");
  double peak = 0, worst = 0, drawdown = 0, gross = NAN, first = NAN, last = NAN;
  for (const auto& row : daily.rows) {
    if (row.size() < 8) continue;
    const double equity = std::stod(row[1]);
    if (!std::isfinite(first)) first = equity;
    last = equity;
    peak = std::max(peak, equity);
    drawdown = peak > 0 ? 1 - equity / peak : 0;
    worst = std::max(worst, drawdown);
    gross = std::stod(row[6]) + std::stod(row[7]);
  }
  m.metrics["portfolio_drawdown"] = drawdown;
  m.metrics["portfolio_max_drawdown"] = worst;
  m.metrics["portfolio_gross_exposure"] = gross;
  m.metrics["portfolio_total_return"] = last / first - 1;
  return m;
}

std::vector<qf::quant::AlertRule> alert_rules(const Settings& s) {
  std::vector<qf::quant::AlertRule> rules;
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

void write_report(const Settings& s, const Layout& l, const Monitoring& m,
                  const std::vector<qf::quant::Alert>& alerts, const std::vector<StageRecord>& stages,
                  const std::string& run_utc) {
  using qf::data::json_number, qf::data::json_quoted;
  fs::create_directories(l.report);
  std::ostringstream j;
  j << "{\n  \"run_utc\": " << json_quoted(run_utc) << ",\n  \"data_day\": " << json_quoted(m.data_day)
    << ",\n  \"metrics\": {";
  bool first = true;
  for (const auto& [k, v] : m.metrics)
    j << (first ? "" : ", ") << json_quoted(k) << ": " << json_number(v), first = false;
  j << "},\n  \"stages\": [";
  for (std::size_t k = 0; k < stages.size(); ++k)
    j << (k ? ", " : "") << "{\"stage\": " << json_quoted(stages[k].name)
      << ", \"status\": " << json_quoted(stages[k].status)
      << ", \"seconds\": " << json_number(stages[k].seconds)
      << ", \"peak_rss_mb\": " << json_number(stages[k].peak_rss_mb) << "}";
  j << "],\n  \"alerts\": [";
  for (std::size_t k = 0; k < alerts.size(); ++k) j << (k ? ", " : "") << json_quoted(alerts[k].message);
  j << "]\n}\n";
  qf::data::write_text_atomically(l.report / "metrics.json", j.str());

  std::ostringstream h;
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
  h << "</p>\n<h2>Today's predictions (most confident first)</h2><table>\n";
  const qf::data::CsvTable table = qf::data::read_csv(l.prediction / "predictions.csv");
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
  qf::data::write_text_atomically(l.report / "index.html", h.str());
  qf::data::write_text_atomically(l.report / (m.data_day + ".html"), h.str());
}

// Appends the alerts to the JSON log (one object per line) and runs the user's command for each, with
// the alert in its environment.
void raise_alerts(const Settings& s, const Layout& l, const std::vector<qf::quant::Alert>& alerts,
                  const std::string& data_day, const std::string& run_utc) {
  if (alerts.empty()) return;
  std::string lines = read_text(l.alerts);
  for (const auto& a : alerts)
    lines += "{\"run_utc\": " + qf::data::json_quoted(run_utc) +
             ", \"data_day\": " + qf::data::json_quoted(data_day) +
             ", \"metric\": " + qf::data::json_quoted(a.rule.metric) +
             ", \"value\": " + qf::data::json_number(a.value) +
             ", \"threshold\": " + qf::data::json_number(a.rule.threshold) +
             ", \"message\": " + qf::data::json_quoted(a.message) + "}\n";
  qf::data::write_text_atomically(l.alerts, lines);
  if (s.alert_command.empty()) return;
  for (const auto& a : alerts) {
    setenv("QF_ALERT_METRIC", a.rule.metric.c_str(), 1);
    setenv("QF_ALERT_VALUE", format_fixed(a.value, 6).c_str(), 1);
    setenv("QF_ALERT_THRESHOLD", format_fixed(a.rule.threshold, 6).c_str(), 1);
    setenv("QF_ALERT_MESSAGE", a.message.c_str(), 1);
    setenv("QF_ALERT_REPORT", fs::absolute(l.report / "index.html").c_str(), 1);
    const auto r =
        qf::apps::run_process({"/bin/sh", "-c", s.alert_command}, l.logs / "alert_command.log", false);
    if (r.exit_code != 0)
      std::fprintf(stderr, "run_pipeline: warning: the alert command exited with %d (see %s)\n", r.exit_code,
                   (l.logs / "alert_command.log").c_str());
  }
}

int print_status(const Settings& s) {
  const Layout l(s);
  if (!fs::exists(l.state)) {
    std::printf("run_pipeline: no pipeline state in %s (nothing has run there yet)\n", s.out.c_str());
    return 1;
  }
  const PipelineState st = PipelineState::load(l.state);
  std::printf("pipeline state of %s\n", s.out.c_str());
  std::printf("  last run      %s, exit %s\n", st.get("run.finished_utc", "?").c_str(),
              st.get("run.exit", "?").c_str());
  std::printf("  data          up to %s (%s trading days)\n", st.get("data.last_day", "?").c_str(),
              st.get("data.days", "?").c_str());
  const std::string trained_days = st.get("train.data_days");
  const std::string age = trained_days.empty() || st.get("data.days").empty()
                              ? "?"
                              : std::to_string(std::stoll(st.get("data.days")) - std::stoll(trained_days));
  std::printf("  models        trained %s on data up to %s (%s trading days old)\n",
              st.get("stage.train.finished_utc", "?").c_str(), st.get("train.data_last_day", "?").c_str(),
              age.c_str());
  for (const auto& stage : kStages)
    std::printf("  %-9s     %-8s %8s s %7s MB  %s\n", stage.c_str(),
                st.get("stage." + stage + ".status", "-").c_str(),
                st.get("stage." + stage + ".seconds", "-").c_str(),
                st.get("stage." + stage + ".peak_rss_mb", "-").c_str(),
                st.get("stage." + stage + ".finished_utc", "").c_str());
  const std::string alerts = st.get("report.alerts");
  std::printf("  last alerts   %s\n", alerts.empty() ? "none" : alerts.c_str());
  std::printf("  report        %s\n", (l.report / "index.html").c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) try {
  qf::apps::use_best_blas_kernels(argv);
  Settings s;
  po::options_description options(
      "run_pipeline: the whole plan (process -> train -> predict -> optimise -> backtest -> report) in one "
      "command.\n"
      "Every option can also be set in the --config file (key = value lines; [section] for the dotted ones)");
  // clang-format off
  options.add_options()
      ("help,h", "show this help")
      ("config", po::value(&s.config), "configuration file (Boost.Program_options syntax); the command line wins")
      ("out", po::value(&s.out)->default_value(s.out), "output folder (every stage's outputs, the state and the report)")
      ("input", po::value(&s.input), "a folder of per-ticker price CSVs (default: the built-in synthetic universe)")
      ("constituents", po::value(&s.constituents), "with --input: Symbol, Sector, Market Cap table")
      ("benchmark", po::value(&s.benchmark), "with --input: the benchmark index's price file")
      ("headlines", po::value(&s.headlines), "dated headlines (date,ticker,text) for the sentiment signal "
       "(default on the synthetic universe: its generated ones)")
      ("tickers", po::value(&s.tickers)->default_value(s.tickers), "synthetic universe: tickers")
      ("seed", po::value(&s.seed)->default_value(s.seed), "synthetic universe: seed")
      ("update", po::bool_switch(&s.update), "daily update: append the input's new rows, retrain only when due")
      ("retrain-every", po::value(&s.retrain_every)->default_value(s.retrain_every),
       "update mode: retrain when the models are this many trading days old (0: only when degraded or forced)")
      ("retrain-on-degradation", po::value(&s.retrain_on_degradation)->default_value(s.retrain_on_degradation),
       "update mode: retrain when the last run raised a live-accuracy or calibration alert")
      ("from", po::value(&s.from), "force this stage and the ones after it to run (process, train, predict, "
       "optimise, backtest, report); train then restarts from scratch")
      ("status", po::bool_switch(&s.status), "print the system's state (data, models, last run, alerts) and exit")
      ("as-of", po::value(&s.as_of), "today's date for data freshness (YYYY-MM-DD; default: the clock)")
      ("quiet", po::bool_switch(&s.quiet), "stage output to the logs only")
      ("monitor-days", po::value(&s.monitor_days)->default_value(s.monitor_days),
       "days of live accuracy and feature drift")
      ("execution", po::value(&s.timing.execution)->default_value(s.timing.execution),
       "when a decision at day t's close trades (next_open, next_close, close): the label stage 2 learns, "
       "the returns stages 3 and 5 expect and stage 4 books")
      ("horizon", po::value(&s.timing.horizon)->default_value(s.timing.horizon),
       "days each decision is held (h overlapping tranches in stages 3 and 4)")
      ("optimise.methods", po::value(&s.methods)->default_value(s.methods),
       "portfolio_optimizer --methods; the first is backtested")
      ("process.args", po::value(&s.stage_args["process"]), "extra arguments for process_new_data")
      ("train.args", po::value(&s.stage_args["train"]), "extra arguments for run_lstm_training (e.g. \"--epochs 5\")")
      ("predict.args", po::value(&s.stage_args["predict"]), "extra arguments for predict_stock_movement")
      ("optimise.args", po::value(&s.stage_args["optimise"]), "extra arguments for portfolio_optimizer")
      ("backtest.args", po::value(&s.stage_args["backtest"]), "extra arguments for run_backtest_evaluation")
      ("alert.min-live-accuracy", po::value(&s.min_live_accuracy)->default_value(s.min_live_accuracy),
       "alert below this live accuracy (0: off)")
      ("alert.max-brier-drift", po::value(&s.max_brier_drift)->default_value(s.max_brier_drift),
       "alert when the live Brier score exceeds the CV one by more (0: off)")
      ("alert.max-feature-psi", po::value(&s.max_feature_psi)->default_value(s.max_feature_psi),
       "alert when a feature's PSI (recent vs training days) exceeds this (0: off)")
      ("alert.max-drawdown", po::value(&s.max_drawdown)->default_value(s.max_drawdown),
       "alert when the portfolio's current drawdown exceeds this (0: off)")
      ("alert.min-coverage", po::value(&s.min_coverage)->default_value(s.min_coverage),
       "alert when fewer tickers than this share have a model (0: off)")
      ("alert.max-data-age-days", po::value(&s.max_data_age_days)->default_value(s.max_data_age_days),
       "alert when the last data day is older than this many calendar days (0: off)")
      ("alert.max-rejected-tickers", po::value(&s.max_rejected_tickers)->default_value(s.max_rejected_tickers),
       "alert when validation rejects more tickers than this")
      ("alert.command", po::value(&s.alert_command),
       "shell command run once per alert, with QF_ALERT_METRIC, _VALUE, _THRESHOLD, _MESSAGE, _REPORT set");
  // clang-format on
  po::variables_map vm;
  po::store(po::parse_command_line(argc, argv, options), vm);
  if (vm.count("help")) {
    std::cout << options << '\n';
    return 0;
  }
  if (vm.count("config")) {
    const std::string config = vm["config"].as<std::string>();
    if (!fs::exists(config)) throw qf::data::InputError(config, 0, "", "no such configuration file");
    po::store(po::parse_config_file(config.c_str(), options), vm);
  }
  po::notify(vm);
  s.timing.timing();  // a bad --execution or --horizon fails here, before any stage runs
  if (s.status) return print_status(s);
  if (!s.from.empty() && std::find(kStages.begin(), kStages.end(), s.from) == kStages.end())
    throw po::error("--from: expected one of process, train, predict, optimise, backtest, report; got '" +
                    s.from + "'");
  if (s.input.empty() && (!s.constituents.empty() || !s.benchmark.empty()))
    throw po::error("--constituents and --benchmark need --input");
  if (!s.input.empty() && !fs::is_directory(s.input))
    throw qf::data::InputError(s.input, 0, "", "not a folder of price files");

  const Layout l(s);
  fs::create_directories(l.logs);
  const qf::apps::FolderLock lock(l.out);  // one pipeline per folder (overlapping cron runs)
  if (const int stale = qf::apps::remove_stale_temporaries(l.out); stale > 0)
    std::printf("run_pipeline: removed %d temporary file(s) an interrupted run left\n", stale);
  const fs::path bin = fs::canonical("/proc/self/exe").parent_path();
  PipelineState state = PipelineState::load(l.state);
  qf::apps::HashCache hashes;
  const std::string run_utc = qf::data::utc_now();
  const std::size_t from =
      s.from.empty()
          ? kStages.size()
          : static_cast<std::size_t>(std::find(kStages.begin(), kStages.end(), s.from) - kStages.begin());
  std::vector<StageRecord> records;
  const bool synthetic = s.input.empty();

  // One stage: skipped when its key matches the last finished run's and its outputs exist.
  auto run_stage = [&](std::size_t index, std::vector<std::string> argv, const std::vector<fs::path>& inputs,
                       const std::vector<fs::path>& outputs) -> bool {
    const std::string& name = kStages[index];
    const std::string prefix = "stage." + name + ".";
    if (index >= 1 && index <= 4)  // the same traded return on every stage that uses one
      argv.insert(argv.end(),
                  {"--execution", s.timing.execution, "--horizon", std::to_string(s.timing.horizon)});
    for (const auto& extra : split_words(s.stage_args[name])) argv.push_back(extra);
    std::string described;
    const std::string key = qf::apps::stage_key(argv, inputs, hashes, &described);
    const bool outputs_exist =
        std::all_of(outputs.begin(), outputs.end(), [](const fs::path& p) { return fs::exists(p); });
    StageRecord r{name, "skipped", 0, 0, "up to date"};
    if (index < from && state.get(prefix + "key") == key && state.get(prefix + "status") != "failed" &&
        outputs_exist) {
      std::printf("run_pipeline: %-8s up to date\n", name.c_str());
      state.set(prefix + "status", "skipped");
      records.push_back(r);
      return true;
    }
    if (name == "train" && (index >= from || state.get("train.started_key") != key))
      argv.push_back("--restart");
    if (name == "train") state.set("train.started_key", key);
    state.set(prefix + "status", "running");
    state.save(l.state);
    const fs::path log = l.logs / (name + ".log");
    std::printf("run_pipeline: %-8s running (log: %s)\n", name.c_str(), log.c_str());
    std::fflush(stdout);
    const auto p = qf::apps::run_process(argv, log, !s.quiet);
    r.seconds = p.seconds;
    r.peak_rss_mb = p.peak_rss_mb;
    state.set(prefix + "seconds", format_fixed(p.seconds, 1));
    state.set(prefix + "peak_rss_mb", format_fixed(p.peak_rss_mb, 0));
    state.set(prefix + "finished_utc", qf::data::utc_now());
    if (p.exit_code != 0) {
      r.status = "failed";
      state.set(prefix + "status", "failed");
      state.set("run.exit", "1");
      state.save(l.state);
      std::fprintf(stderr, "run_pipeline: stage %s failed (%s %d); see %s\n", name.c_str(),
                   p.signal ? "signal" : "exit status", p.signal ? p.signal : p.exit_code, log.c_str());
      return false;
    }
    for (const auto& o : outputs) hashes.forget(o);
    std::string produced;
    for (const auto& o : outputs)
      produced += (produced.empty() ? "" : ";") + o.string() + ":" + hashes.hash(o);
    r.status = "ran";
    r.note = "";
    state.set(prefix + "key", key);
    state.set(prefix + "inputs", described);
    state.set(prefix + "outputs", produced);
    state.set(prefix + "status", "ran");
    state.save(l.state);
    records.push_back(r);
    return true;
  };

  // 1. process
  std::vector<std::string> process = {(bin / "process_new_data").string(), "--out", l.out.string()};
  std::vector<fs::path> process_inputs;
  if (synthetic) {
    for (const std::string& x :
         {std::string("--tickers"), std::to_string(s.tickers), std::string("--seed"), std::to_string(s.seed)})
      process.push_back(x);
  } else {
    process.insert(process.end(), {"--input", s.input});
    process_inputs.push_back(s.input);
    if (!s.constituents.empty()) process.insert(process.end(), {"--constituents", s.constituents});
    if (!s.benchmark.empty()) process.insert(process.end(), {"--benchmark", s.benchmark});
    for (const auto& p : {s.constituents, s.benchmark})
      if (!p.empty()) process_inputs.push_back(p);
    if (s.update && fs::exists(l.store)) process.push_back("--update");
  }
  if (!run_stage(0, process, process_inputs, {l.store})) return 1;
  const auto [days, last_day] = store_calendar(l.store);
  state.set("data.days", std::to_string(days));
  state.set("data.last_day", last_day);

  // 2. train: in update mode only when due.
  bool retrain = true;
  std::string why_not;
  if (s.update && fs::exists(l.registry) && from > 1) {
    const qf::h5::File store(l.store, qf::h5::File::Mode::read),
        registry(l.registry, qf::h5::File::Mode::read);
    const bool same_tickers = store.read_strings("/tickers") == registry.read_strings("/tickers");
    const std::string trained = state.get("train.data_days");
    const std::int64_t age = trained.empty() ? days : days - std::stoll(trained);
    const bool degraded = s.retrain_on_degradation && state.get("report.degraded") == "1";
    retrain = !same_tickers || degraded || (s.retrain_every > 0 && age >= s.retrain_every);
    why_not = "retrain not due (models " + std::to_string(age) + " of " + std::to_string(s.retrain_every) +
              " trading days old, not degraded)";
  }
  if (retrain) {
    if (!run_stage(
            1,
            {(bin / "run_lstm_training").string(), "--store", l.store.string(), "--out", l.training.string()},
            {l.store}, {l.registry}))
      return 1;
    if (records.back().status == "ran") {
      state.set("train.data_days", std::to_string(days));
      state.set("train.data_last_day", last_day);
      state.set("report.degraded", "0");
    }
  } else {
    std::printf("run_pipeline: train    kept: %s\n", why_not.c_str());
    state.set("stage.train.status", "kept");
    records.push_back({"train", "kept", 0, 0, why_not});
  }

  // 3. predict, 4. optimise, 5. backtest
  std::string headlines = s.headlines;
  if (headlines.empty() && synthetic && fs::exists(l.out / "synthetic" / "headlines.csv"))
    headlines = (l.out / "synthetic" / "headlines.csv").string();
  std::vector<std::string> predict = {(bin / "predict_stock_movement").string(),
                                      "--store",
                                      l.store.string(),
                                      "--registry",
                                      l.registry.string(),
                                      "--out",
                                      l.prediction.string(),
                                      "--rows",
                                      "10"};
  std::vector<fs::path> predict_inputs = {l.store, l.registry};
  if (!headlines.empty()) {
    predict.insert(predict.end(), {"--headlines", headlines});
    predict_inputs.push_back(headlines);
  }
  if (!run_stage(2, predict, predict_inputs, {l.predictions})) return 1;
  if (!run_stage(3,
                 {(bin / "portfolio_optimizer").string(), "--store", l.store.string(), "--registry",
                  l.predictions.string(), "--out", l.portfolio.string(), "--methods", s.methods, "--regime",
                  l.predictions.string()},
                 {l.store, l.predictions}, {l.weights}))
    return 1;
  if (!run_stage(4,
                 {(bin / "run_backtest_evaluation").string(), "--store", l.store.string(), "--registry",
                  l.predictions.string(), "--weights", l.weights.string(), "--out", l.backtest.string()},
                 {l.store, l.predictions, l.weights}, {l.backtest / "daily.csv"}))
    return 1;

  // 6. report: monitoring, alerts, the day's report (always: freshness depends on the day).
  const auto started = std::chrono::steady_clock::now();
  const Monitoring m = monitor(s, l);
  const auto alerts = qf::quant::evaluate_alerts(m.metrics, alert_rules(s));
  // The report's own row: the monitoring's time (writing the files takes milliseconds) and this
  // process's peak memory.
  rusage self{};
  getrusage(RUSAGE_SELF, &self);
  records.push_back(
      {"report", "ran", std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count(),
       static_cast<double>(self.ru_maxrss) / 1024.0, std::to_string(alerts.size()) + " alert(s)"});
  write_report(s, l, m, alerts, records, run_utc);
  raise_alerts(s, l, alerts, m.data_day, run_utc);
  state.set("stage.report.peak_rss_mb", format_fixed(records.back().peak_rss_mb, 0));
  std::string listed;
  bool degraded = false;
  for (const auto& a : alerts) {
    listed += (listed.empty() ? "" : "; ") + a.message;
    degraded |= a.rule.metric == "live_accuracy" || a.rule.metric == "brier_drift";
  }
  state.set("report.alerts", listed);
  state.set("report.degraded", degraded ? "1" : "0");
  state.set("stage.report.status", "ran");
  state.set("stage.report.seconds", format_fixed(records.back().seconds, 1));
  state.set("stage.report.finished_utc", qf::data::utc_now());
  state.set("run.finished_utc", qf::data::utc_now());
  state.set("run.exit", alerts.empty() ? "0" : "3");
  state.save(l.state);
  std::printf("run_pipeline: data up to %s; %zu alert(s)%s\n", m.data_day.c_str(), alerts.size(),
              alerts.empty() ? "" : (": " + listed).c_str());
  std::printf("run_pipeline: report -> %s\n", (l.report / "index.html").c_str());
  return alerts.empty() ? 0 : 3;
} catch (const qf::data::InputError& e) {
  std::fprintf(stderr, "run_pipeline: bad input: %s\n", e.what());
  return 1;
} catch (const po::error& e) {
  std::fprintf(stderr, "run_pipeline: %s (see --help)\n", e.what());
  return 2;
} catch (const std::exception& e) {
  std::fprintf(stderr, "run_pipeline: %s\n", e.what());
  return 1;
}
