// run_pipeline's plan as library code: the settings, where everything lives under --out, the stages run
// in order (process -> train -> predict -> optimise -> backtest -> report), the monitoring that the
// report stage computes, the day's report and the alerts. The app itself only parses the options into a
// PipelineSettings and calls PipelineRun::run or print_status.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "command_line.h"
#include "pipeline.h"
#include "qf/data/csv.h"
#include "qf/data/json.h"
#include "qf/quant/backtest/evaluation.h"
#include "qf/quant/monitoring/monitoring.h"

namespace qf::apps {

// The stages in the order they run; --from names one of them.
extern const std::vector<std::string> kPipelineStages;

struct PipelineSettings {
  std::string out = "out", config, input, constituents, benchmark, headlines, from, as_of;
  std::int64_t tickers = 518, days = 1260;  // the synthetic universe: five years, like the real set
  std::uint64_t seed = 20100104;
  // The synthetic universe's planted edge (SyntheticUniverseOptions::predictability), and the control:
  // a pure random walk without one.
  double edge = 0.15;
  bool random_walk = false;
  bool update = false, status = false, quiet = false, verbose = false;
  int retrain_every = 5, monitor_days = 20;
  bool retrain_on_degradation = true;
  std::string methods = "mean_variance";
  TradeTimingOptions timing;                      // one traded return for stages 2 to 5
  std::map<std::string, std::string> stage_args;  // extra arguments per stage
  // Alert thresholds (a NaN or 0 where noted switches a rule off).
  double min_live_accuracy = 0.45, max_brier_drift = 0.01, max_feature_psi = 0.25, max_drawdown = 0.25,
         min_coverage = 0.9, max_data_age_days = 0, max_rejected_tickers = 0;
  std::string alert_command;
};

// Where everything lives under --out.
struct PipelineLayout {
  std::filesystem::path out, store, training, registry, prediction, predictions, portfolio, weights, backtest,
      report, logs, state, alerts;
  explicit PipelineLayout(const PipelineSettings& s);
};

struct StageRecord {
  std::string name, status;  // ran, skipped (up to date), kept (update mode: retrain not due), failed
  double seconds = 0, peak_rss_mb = 0;
  std::string note;
};

// ---- monitoring, alerts and the report (pipeline_monitoring.cpp, pipeline_report.cpp) ---------------

struct Monitoring {
  std::map<std::string, double> metrics;
  std::vector<std::pair<std::string, double>> top_drift;  // feature, PSI
  std::string data_day;
  std::string target;                      // what the predictions are about (LabelSpec::describe)
  std::vector<std::string> data_warnings;  // the store's set-level findings (survivorship, ...)
  // The monitored days with a known outcome: their dates and each day's live accuracy (NaN: no call).
  std::vector<std::string> monitored_dates;
  std::vector<double> monitored_accuracy;
  // The backtest of the optimiser's weights, read once for the portfolio metrics, the report and the
  // closing summary: its metrics.json and daily.csv.
  data::Json backtest_metrics;
  data::CsvTable backtest_daily;
};

// The metrics the alert rules read: data freshness and validation, model coverage and CV scores, live
// accuracy and calibration, feature drift, the backtested portfolio.
Monitoring monitor(const PipelineSettings& s, const PipelineLayout& l);
std::vector<quant::AlertRule> alert_rules(const PipelineSettings& s);
// The backtest's scorecard lines back from its metrics.json (the daily report and the closing summary).
std::vector<quant::ScorecardLine> read_scorecard(const data::Json& backtest_metrics);
// A number of a metrics.json section, NaN when absent or not a number (an accuracy without calls is "n/a").
double json_number(const data::Json& j, const std::string& section, const std::string& key);
// The report folder: metrics.json, index.html and <data day>.html (the same page).
void write_report(const PipelineSettings& s, const PipelineLayout& l, const Monitoring& m,
                  const std::vector<quant::Alert>& alerts, const std::vector<StageRecord>& stages,
                  const std::string& run_utc);
// Appends the alerts to the JSON log (one object per line) and runs the user's command for each, with
// the alert in its environment.
void raise_alerts(const PipelineSettings& s, const PipelineLayout& l, const std::vector<quant::Alert>& alerts,
                  const std::string& data_day, const std::string& run_utc);

// ---- the run (pipeline_run.cpp) ----------------------------------------------------------------------

// --status: prints the system's state from the manifest; 1 when nothing has run in --out yet.
int print_status(const PipelineSettings& s);

// One run of the plan. run() returns the exit status: 0 done, 1 a stage failed, 3 done with alerts.
class PipelineRun {
 public:
  explicit PipelineRun(const PipelineSettings& s);
  int run();

 private:
  bool process();
  bool train();
  bool predict();
  bool optimise();
  bool backtest();
  int report();
  // Decides, in update mode, whether the models are retrained; fills `why_not` when they are not.
  bool retrain_due(std::string& why_not);
  // One stage: skipped when its key matches the last finished run's and its outputs exist.
  bool run_stage(std::size_t index, std::vector<std::string> argv,
                 const std::vector<std::filesystem::path>& inputs,
                 const std::vector<std::filesystem::path>& outputs);

  const PipelineSettings& s_;
  const PipelineLayout l_;
  std::filesystem::path bin_;  // where the stage apps are: beside this program
  PipelineState state_;
  HashCache hashes_;
  std::string run_utc_;
  std::size_t from_ = 0;  // the first stage forced to run (kPipelineStages.size(): none)
  bool synthetic_ = false;
  std::vector<StageRecord> records_;
  std::int64_t days_ = 0;  // the store's calendar after the process stage
  std::string last_day_;
};

}  // namespace qf::apps
