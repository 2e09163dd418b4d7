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
//
// This file only parses the options; the stages, the monitoring and the report are library code
// (qf_pipeline: pipeline_run.h), where tests and other front ends can reach them.
#include <algorithm>
#include <boost/program_options.hpp>
#include <cstdio>
#include <iostream>

#include "blas_kernels.h"
#include "command_line.h"
#include "pipeline.h"
#include "pipeline_run.h"
#include "qf/data/csv.h"
#include "qf/data/store.h"
#include "qf/data/validation.h"

namespace po = boost::program_options;
namespace fs = std::filesystem;

namespace {

// Every option, bound to the settings; the same names in the --config file.
void describe_options(po::options_description& options, qf::apps::PipelineSettings& s) {
  // clang-format off
  options.add_options()
      ("help,h", "show this help")
      ("config", po::value(&s.config), "configuration file (Boost.Program_options syntax); the command line wins");
  // clang-format on
  qf::apps::add_out_option(options, s.out, "output folder (every stage's outputs, the state and the report)");
  // clang-format off
  options.add_options()
      ("input", po::value(&s.input), "a folder of per-ticker price CSVs (default: the built-in synthetic universe)")
      ("constituents", po::value(&s.constituents), "with --input: Symbol, Sector, Market Cap table")
      ("benchmark", po::value(&s.benchmark), "with --input: the benchmark index's price file")
      ("headlines", po::value(&s.headlines), "dated headlines (date,ticker,text) for the sentiment signal "
       "(default on the synthetic universe: its generated ones)")
      ("tickers", po::value(&s.tickers)->default_value(s.tickers), "synthetic universe: tickers")
      ("seed", po::value(&s.seed)->default_value(s.seed), "synthetic universe: seed")
      ("days", po::value(&s.days)->default_value(s.days), "synthetic universe: business days (five years)")
      ("edge", po::value(&s.edge)->default_value(s.edge),
       "synthetic universe: strength of the planted edge, a 5-day momentum push in the next_open traded "
       "return (0.15: an oracle that knows it calls about 55.5 % of directions; 0: none)")
      ("random-walk", po::bool_switch(&s.random_walk),
       "synthetic universe: the control, a pure random walk (no regimes, GARCH or jumps) with no planted "
       "edge (unless --edge is given too)")
      ("update", po::bool_switch(&s.update), "daily update: append the input's new rows, retrain only when due")
      ("retrain-every", po::value(&s.retrain_every)->default_value(s.retrain_every),
       "update mode: retrain when the models are this many trading days old (0: only when degraded or forced)")
      ("retrain-on-degradation", po::value(&s.retrain_on_degradation)->default_value(s.retrain_on_degradation),
       "update mode: retrain when the last run raised a live-accuracy or calibration alert")
      ("from", po::value(&s.from), "force this stage and the ones after it to run (process, train, predict, "
       "optimise, backtest, report); train then restarts from scratch")
      ("status", po::bool_switch(&s.status), "print the system's state (data, models, last run, alerts) and exit")
      ("as-of", po::value(&s.as_of), "today's date for data freshness (YYYY-MM-DD; default: the clock)")
      ("quiet", po::bool_switch(&s.quiet), "no progress lines: one line per stage, the stage output to the logs only")
      ("verbose", po::bool_switch(&s.verbose), "every stage's output on the screen too (default: one progress line per stage)")
      ("monitor-days", po::value(&s.monitor_days)->default_value(s.monitor_days),
       "days of live accuracy and feature drift")
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
  s.timing.add_to(options,
                  "when a decision at day t's close trades (next_open, next_close, close): the label stage 2 "
                  "learns, the returns stages 3 and 5 expect and stage 4 books");
}

// The checks no single option can make; each failure is a usage error (exit 2) or a bad input (exit 1),
// before any stage runs.
void check_settings(const qf::apps::PipelineSettings& s) {
  const auto& stages = qf::apps::kPipelineStages;
  if (!s.from.empty() && std::find(stages.begin(), stages.end(), s.from) == stages.end())
    throw po::error("--from: expected one of process, train, predict, optimise, backtest, report; got '" +
                    s.from + "'");
  if (s.input.empty() && (!s.constituents.empty() || !s.benchmark.empty()))
    throw po::error("--constituents and --benchmark need --input");
  if (!s.input.empty() && !fs::is_directory(s.input))
    throw qf::data::InputError(s.input, 0, "", "not a folder of price files");
}

}  // namespace

int main(int argc, char** argv) {
  qf::apps::use_best_blas_kernels(argv);
  return qf::apps::run_app("run_pipeline", [&] {
    qf::apps::PipelineSettings s;
    po::options_description options(
        "run_pipeline: the whole plan (process -> train -> predict -> optimise -> backtest -> report) in one "
        "command.\n"
        "Every option can also be set in the --config file (key = value lines; [section] for the dotted "
        "ones)");
    describe_options(options, s);
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
    if (s.random_walk && vm["edge"].defaulted()) s.edge = 0;  // the control plants nothing
    s.timing.timing();  // a bad --execution or --horizon fails here, before any stage runs
    if (s.status) return qf::apps::print_status(s);
    check_settings(s);
    return qf::apps::PipelineRun(s).run();
  });
}
