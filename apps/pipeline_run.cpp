// The plan's stages in order, each its app run as a child process (pipeline.h), and --status.
#include "pipeline_run.h"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <sstream>
#include <tuple>

#include "qf/data/json.h"
#include "qf/data/store.h"
#include "qf/quant/backtest/report.h"
#include "qf/quant/monitoring/run_verdict.h"
#include "qf/tensor/hdf5.h"

namespace fs = std::filesystem;

namespace qf::apps {

const std::vector<std::string> kPipelineStages = {"process",  "train",    "predict",
                                                  "optimise", "backtest", "report"};

namespace {

using quant::format_fixed;

std::vector<std::string> split_words(const std::string& text) {
  std::istringstream in(text);
  std::vector<std::string> out;
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

// The days of the store's calendar and its last date, read from the store alone.
std::pair<std::int64_t, std::string> store_calendar(const fs::path& store) {
  const h5::File f(store, h5::File::Mode::read);
  const auto dates = f.read_strings("/dates");
  return {static_cast<std::int64_t>(dates.size()), dates.empty() ? "" : dates.back()};
}

// A stage's progress on one line: the child's latest output line that carries an ETA (e.g.
// run_lstm_training's "cv 25/518 units, last BWUC, train loss 0.6847, 47.7 s, ETA 941 s"); rewritten in
// place on a terminal, else printed at most every 30 s; then the stage's time.
class ProgressLine {
 public:
  explicit ProgressLine(std::string stage) : stage_(std::move(stage)), tty_(isatty(STDOUT_FILENO) != 0) {}
  void operator()(const std::string& line) {
    if (line.find("ETA") == std::string::npos) return;
    const auto now = std::chrono::steady_clock::now();
    if (!tty_ && printed_ && now - last_ < std::chrono::seconds(30)) return;
    std::printf(tty_ ? "\r\033[Krun_pipeline: %-8s %s" : "run_pipeline: %-8s %s\n", stage_.c_str(),
                line.substr(0, 100).c_str());
    std::fflush(stdout);
    last_ = now;
    printed_ = true;
  }
  void finish(double seconds, bool ok) const {
    if (tty_ && printed_) std::printf("\r\033[K");
    std::printf("run_pipeline: %-8s %s in %.1f s\n", stage_.c_str(), ok ? "done" : "FAILED", seconds);
    std::fflush(stdout);
  }

 private:
  std::string stage_;
  bool tty_ = false, printed_ = false;
  std::chrono::steady_clock::time_point last_;
};

// The backtest's scorecard and P&L, then what the numbers mean (quant::explain_run).
void print_closing_summary(const Monitoring& m, quant::UniverseKind kind) {
  const data::Json& j = m.backtest_metrics;
  quant::RunFigures f;
  f.kind = kind;
  // Stage 2's accuracy and AUC on the untouched test period (the figures the planted edge's oracle and
  // the control's band are set against), both from one source: the backtest's scores of its calls when
  // the monitoring has no stage 2 accuracy.
  const auto stage2 = m.metrics.find("test_accuracy");
  if (stage2 != m.metrics.end() && std::isfinite(stage2->second)) {
    f.test_accuracy = stage2->second;
    f.test_auc = m.metrics.at("test_auc");
  } else {
    f.test_accuracy = json_number(j, "predictions", "accuracy");
    f.test_auc = json_number(j, "predictions", "auc");
  }
  f.sharpe = json_number(j, "strategy", "sharpe");
  if (const auto it = m.metrics.find("oracle_test_accuracy"); it != m.metrics.end())
    f.oracle_accuracy = it->second;
  const std::vector<quant::ScorecardLine> scorecard = read_scorecard(j);
  for (const auto& line : scorecard) {
    ++f.targets;
    f.targets_met += line.met ? 1 : 0;
  }
  std::printf("run_pipeline: scorecard (backtest, out of sample, after costs): %d of %d plan targets met\n",
              f.targets_met, f.targets);
  for (const auto& line : scorecard) {
    const bool ratio = line.name == "sharpe";
    std::printf("  %-14s %9s  target %s %s  %s\n", line.name.c_str(),
                (ratio ? format_fixed(line.value, 2) : format_fixed(100 * line.value, 2) + " %").c_str(),
                line.higher_is_better ? ">" : "<",
                (ratio ? format_fixed(line.target, 2) : format_fixed(100 * line.target, 0) + " %").c_str(),
                quant::to_string(line.state).c_str());
  }
  std::printf("  P&L            %s %% of capital before costs, %s %% costs, %s %% after costs\n",
              format_fixed(100 * json_number(j, "pnl", "gross"), 2).c_str(),
              format_fixed(100 * json_number(j, "pnl", "costs"), 2).c_str(),
              format_fixed(100 * json_number(j, "pnl", "net"), 2).c_str());
  std::printf("run_pipeline: %s\n", quant::explain_run(f).c_str());
}

}  // namespace

PipelineLayout::PipelineLayout(const PipelineSettings& s) {
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

int print_status(const PipelineSettings& s) {
  const PipelineLayout l(s);
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
  for (const auto& stage : kPipelineStages)
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

PipelineRun::PipelineRun(const PipelineSettings& s)
    : s_(s),
      l_(s),
      from_(s.from.empty()
                ? kPipelineStages.size()
                : static_cast<std::size_t>(std::find(kPipelineStages.begin(), kPipelineStages.end(), s.from) -
                                           kPipelineStages.begin())),
      synthetic_(s.input.empty()) {}

int PipelineRun::run() {
  fs::create_directories(l_.logs);
  const FolderLock lock(l_.out);  // one pipeline per folder (overlapping cron runs)
  if (const int stale = remove_stale_temporaries(l_.out); stale > 0)
    std::printf("run_pipeline: removed %d temporary file(s) an interrupted run left\n", stale);
  bin_ = fs::canonical("/proc/self/exe").parent_path();
  state_ = PipelineState::load(l_.state);
  run_utc_ = data::utc_now();
  // A failed stage ends the run with 1 (run_stage has named its log).
  if (!process() || !train() || !predict() || !optimise() || !backtest()) return 1;
  return report();
}

bool PipelineRun::run_stage(std::size_t index, std::vector<std::string> argv,
                            const std::vector<fs::path>& inputs, const std::vector<fs::path>& outputs) {
  const std::string& name = kPipelineStages[index];
  const std::string prefix = "stage." + name + ".";
  if (index >= 1 && index <= 4)  // the same traded return on every stage that uses one
    argv.insert(argv.end(),
                {"--execution", s_.timing.execution, "--horizon", std::to_string(s_.timing.horizon)});
  if (const auto extra = s_.stage_args.find(name); extra != s_.stage_args.end())
    for (const auto& word : split_words(extra->second)) argv.push_back(word);
  std::string described;
  const std::string key = stage_key(argv, inputs, hashes_, &described);
  const bool outputs_exist =
      std::all_of(outputs.begin(), outputs.end(), [](const fs::path& p) { return fs::exists(p); });
  StageRecord r{name, "skipped", 0, 0, "up to date"};
  if (index < from_ && state_.get(prefix + "key") == key && state_.get(prefix + "status") != "failed" &&
      outputs_exist) {
    std::printf("run_pipeline: %-8s up to date\n", name.c_str());
    state_.set(prefix + "status", "skipped");
    records_.push_back(r);
    return true;
  }
  // Training resumes from its checkpoints only when the interrupted run had the same key.
  if (name == "train" && (index >= from_ || state_.get("train.started_key") != key))
    argv.push_back("--restart");
  if (name == "train") state_.set("train.started_key", key);
  state_.set(prefix + "status", "running");
  state_.save(l_.state);
  const fs::path log = l_.logs / (name + ".log");
  const std::string last_time = state_.get(prefix + "seconds");
  std::printf("run_pipeline: %-8s running (log: %s%s)\n", name.c_str(), log.c_str(),
              last_time.empty() ? "" : ("; the last run took " + last_time + " s").c_str());
  std::fflush(stdout);
  ProgressLine progress(name);
  const auto p = run_process(argv, log, s_.verbose, [&](const std::string& line) {
    if (!s_.quiet) progress(line);
  });
  if (!s_.quiet) progress.finish(p.seconds, p.exit_code == 0);
  r.seconds = p.seconds;
  r.peak_rss_mb = p.peak_rss_mb;
  state_.set(prefix + "seconds", format_fixed(p.seconds, 1));
  state_.set(prefix + "peak_rss_mb", format_fixed(p.peak_rss_mb, 0));
  state_.set(prefix + "finished_utc", data::utc_now());
  if (p.exit_code != 0) {
    r.status = "failed";
    state_.set(prefix + "status", "failed");
    state_.set("run.exit", "1");
    state_.save(l_.state);
    std::fprintf(stderr, "run_pipeline: stage %s failed (%s %d); see %s\n", name.c_str(),
                 p.signal ? "signal" : "exit status", p.signal ? p.signal : p.exit_code, log.c_str());
    return false;
  }
  for (const auto& o : outputs) hashes_.forget(o);
  std::string produced;
  for (const auto& o : outputs)
    produced += (produced.empty() ? "" : ";") + o.string() + ":" + hashes_.hash(o);
  r.status = "ran";
  r.note = "";
  state_.set(prefix + "key", key);
  state_.set(prefix + "inputs", described);
  state_.set(prefix + "outputs", produced);
  state_.set(prefix + "status", "ran");
  state_.save(l_.state);
  records_.push_back(r);
  return true;
}

// 1. process: the synthetic universe, or the --input folder (appended to the store in update mode).
bool PipelineRun::process() {
  std::vector<std::string> argv = {(bin_ / "process_new_data").string(), "--out", l_.out.string()};
  std::vector<fs::path> inputs;
  if (synthetic_) {
    argv.insert(argv.end(), {"--tickers", std::to_string(s_.tickers), "--seed", std::to_string(s_.seed),
                             "--days", std::to_string(s_.days), "--edge", format_fixed(s_.edge, 4),
                             // headlines for the sentiment path, unlinked: the edge stays the only one
                             "--headline-strength", "0"});
    if (s_.random_walk) argv.push_back("--pure-random-walk");
  } else {
    argv.insert(argv.end(), {"--input", s_.input});
    inputs.push_back(s_.input);
    if (!s_.constituents.empty()) argv.insert(argv.end(), {"--constituents", s_.constituents});
    if (!s_.benchmark.empty()) argv.insert(argv.end(), {"--benchmark", s_.benchmark});
    for (const auto& p : {s_.constituents, s_.benchmark})
      if (!p.empty()) inputs.push_back(p);
    if (s_.update && fs::exists(l_.store)) argv.push_back("--update");
  }
  if (!run_stage(0, argv, inputs, {l_.store})) return false;
  std::tie(days_, last_day_) = store_calendar(l_.store);
  state_.set("data.days", std::to_string(days_));
  state_.set("data.last_day", last_day_);
  return true;
}

bool PipelineRun::retrain_due(std::string& why_not) {
  if (!(s_.update && fs::exists(l_.registry) && from_ > 1)) return true;
  const h5::File store(l_.store, h5::File::Mode::read), registry(l_.registry, h5::File::Mode::read);
  const bool same_tickers = store.read_strings("/tickers") == registry.read_strings("/tickers");
  const std::string trained = state_.get("train.data_days");
  const std::int64_t age = trained.empty() ? days_ : days_ - std::stoll(trained);
  const bool degraded = s_.retrain_on_degradation && state_.get("report.degraded") == "1";
  why_not = "retrain not due (models " + std::to_string(age) + " of " + std::to_string(s_.retrain_every) +
            " trading days old, not degraded)";
  return !same_tickers || degraded || (s_.retrain_every > 0 && age >= s_.retrain_every);
}

// 2. train: in update mode only when due; otherwise the registry's models predict the new days.
bool PipelineRun::train() {
  std::string why_not;
  if (!retrain_due(why_not)) {
    std::printf("run_pipeline: train    kept: %s\n", why_not.c_str());
    state_.set("stage.train.status", "kept");
    records_.push_back({"train", "kept", 0, 0, why_not});
    return true;
  }
  if (!run_stage(1,
                 {(bin_ / "run_lstm_training").string(), "--store", l_.store.string(), "--out",
                  l_.training.string()},
                 {l_.store}, {l_.registry}))
    return false;
  if (records_.back().status == "ran") {
    state_.set("train.data_days", std::to_string(days_));
    state_.set("train.data_last_day", last_day_);
    state_.set("report.degraded", "0");
  }
  return true;
}

// 3. predict, with the headlines (--headlines, or the synthetic universe's own) for the sentiment signal.
bool PipelineRun::predict() {
  std::string headlines = s_.headlines;
  if (headlines.empty() && synthetic_ && fs::exists(l_.out / "synthetic" / "headlines.csv"))
    headlines = (l_.out / "synthetic" / "headlines.csv").string();
  std::vector<std::string> argv = {(bin_ / "predict_stock_movement").string(),
                                   "--store",
                                   l_.store.string(),
                                   "--registry",
                                   l_.registry.string(),
                                   "--out",
                                   l_.prediction.string(),
                                   "--rows",
                                   "10"};
  std::vector<fs::path> inputs = {l_.store, l_.registry};
  if (!headlines.empty()) {
    argv.insert(argv.end(), {"--headlines", headlines});
    inputs.push_back(headlines);
  }
  return run_stage(2, argv, inputs, {l_.predictions});
}

// 4. optimise: the weights of --optimise.methods, the predictions' regimes included.
bool PipelineRun::optimise() {
  return run_stage(3,
                   {(bin_ / "portfolio_optimizer").string(), "--store", l_.store.string(), "--registry",
                    l_.predictions.string(), "--out", l_.portfolio.string(), "--methods", s_.methods,
                    "--regime", l_.predictions.string()},
                   {l_.store, l_.predictions}, {l_.weights});
}

// 5. backtest: the first method's weights.
bool PipelineRun::backtest() {
  return run_stage(4,
                   {(bin_ / "run_backtest_evaluation").string(), "--store", l_.store.string(), "--registry",
                    l_.predictions.string(), "--weights", l_.weights.string(), "--out", l_.backtest.string()},
                   {l_.store, l_.predictions, l_.weights}, {l_.backtest / "daily.csv"});
}

// 6. report: monitoring, alerts, the day's report (always: freshness depends on the day).
int PipelineRun::report() {
  const auto started = std::chrono::steady_clock::now();
  const Monitoring m = monitor(s_, l_);
  const auto alerts = quant::evaluate_alerts(m.metrics, alert_rules(s_));
  // The report's own row: the monitoring's time (writing the files takes milliseconds) and this
  // process's peak memory.
  rusage self{};
  getrusage(RUSAGE_SELF, &self);
  records_.push_back(
      {"report", "ran", std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count(),
       static_cast<double>(self.ru_maxrss) / 1024.0, std::to_string(alerts.size()) + " alert(s)"});
  write_report(s_, l_, m, alerts, records_, run_utc_);
  raise_alerts(s_, l_, alerts, m.data_day, run_utc_);
  state_.set("stage.report.peak_rss_mb", format_fixed(records_.back().peak_rss_mb, 0));
  std::string listed;
  bool degraded = false;  // a live-accuracy or calibration alert: update mode retrains next time
  for (const auto& a : alerts) {
    listed += (listed.empty() ? "" : "; ") + a.message;
    degraded |= a.rule.metric == "live_accuracy" || a.rule.metric == "brier_drift";
  }
  state_.set("report.alerts", listed);
  state_.set("report.degraded", degraded ? "1" : "0");
  state_.set("stage.report.status", "ran");
  state_.set("stage.report.seconds", format_fixed(records_.back().seconds, 1));
  state_.set("stage.report.finished_utc", data::utc_now());
  state_.set("run.finished_utc", data::utc_now());
  state_.set("run.exit", alerts.empty() ? "0" : "3");
  state_.save(l_.state);
  std::printf("run_pipeline: data up to %s; %zu alert(s)%s\n", m.data_day.c_str(), alerts.size(),
              alerts.empty() ? "" : (": " + listed).c_str());
  std::printf("run_pipeline: report -> %s\n", (l_.report / "index.html").c_str());
  print_closing_summary(m, s_.random_walk ? quant::UniverseKind::random_walk
                           : synthetic_   ? quant::UniverseKind::planted_edge
                                          : quant::UniverseKind::real);
  return alerts.empty() ? 0 : 3;
}

}  // namespace qf::apps
