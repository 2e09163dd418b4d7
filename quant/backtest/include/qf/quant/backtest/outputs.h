// Stage 4's files (run_backtest_evaluation): one evaluation's folder (report.html, metrics.json,
// metrics.csv, daily.csv) and, for several strategies, the comparison (comparison.csv, comparison.html).
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "qf/quant/backtest/evaluation.h"

namespace qf::quant {

// The trading settings in words, for report subtitles: ", executed next_open (open[t+1] -> ..., held 1
// day); costs: commission 1 bp, half spread 2 bp, ..." (starts with ", ").
std::string costs_description(const BacktestOptions& options);

// daily.csv: date,equity,return,benchmark_return,cost_fraction,turnover,long_exposure,short_exposure over
// the evaluated days (10 significant digits).
std::string evaluation_daily_csv(const Evaluation& e, const data::Universe& universe);

// <folder>/report.html (titled "QuantForge backtest", `subtitle`), metrics.json, metrics.csv and
// daily.csv, each written atomically.
void write_evaluation(const std::filesystem::path& folder, const Evaluation& e,
                      const data::Universe& universe, const std::string& subtitle);

// <folder>/comparison.csv (one row per strategy: its headline metrics, cost fraction of `capital` and
// targets met) and comparison.html (the strategies side by side; `costs` from costs_description).
void write_comparison(const std::filesystem::path& folder, const std::vector<std::string>& names,
                      const std::vector<Evaluation>& evaluations, const data::Universe& universe,
                      double capital, const std::string& costs);

}  // namespace qf::quant
