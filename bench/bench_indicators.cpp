// Google Benchmark cases for the technical indicators (qf/quant/ta/registry.h):
//   BM_AllIndicators/sp500      every registry output for all 505 tickers of ../shared/data/sp500_5yr
//   BM_TalibSubset/sp500        only the outputs with a TA-Lib counterpart, the same tickers; this is the
//                               case bench/compare_talib.py times against TA-Lib's Python binding
//   BM_Indicator/<name>         one registry output on one 1259-day series (AAPL; a synthetic random
//                               walk when the real data is absent). Outputs computed together
//                               (MACD's three lines, the Bollinger bands...) are timed as their group.
// The real data is read with a small CSV reader here; without it the sp500 cases are not registered and
// a message says so. QF_SHARED_DATA overrides the data folder.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <limits>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "qf/quant/ta/registry.h"

namespace ta = qf::quant::ta;

namespace {

struct Bars {
  std::string ticker;
  std::vector<double> open, high, low, close, volume, benchmark;
  ta::Ohlcv view() const { return {open, high, low, close, volume}; }
};

std::filesystem::path data_dir() {
  if (const char* dir = std::getenv("QF_SHARED_DATA")) return dir;
  return QF_SHARED_DATA_DIR;
}

double cell(const std::string& text) {
  return text.empty() ? std::numeric_limits<double>::quiet_NaN() : std::strtod(text.c_str(), nullptr);
}

std::vector<std::string> split(const std::string& line) {
  std::vector<std::string> cells;
  std::stringstream s(line);
  for (std::string c; std::getline(s, c, ',');) cells.push_back(c);
  if (!line.empty() && line.back() == ',') cells.emplace_back();
  return cells;
}

// All sp500_5yr/<TICKER>_data.csv (date,open,high,low,close,volume,Name; empty fields become NaN) with
// the S&P 500 index close of the same dates as benchmark. Empty when the folder is missing.
std::vector<Bars> load_sp500() {
  const auto dir = data_dir();
  std::vector<Bars> all;
  if (!std::filesystem::is_directory(dir / "sp500_5yr")) return all;
  std::map<std::string, double> index_close;
  {
    std::ifstream in(dir / "gspc_daily.csv");
    std::string line;
    std::getline(in, line);
    while (std::getline(in, line)) {
      const auto c = split(line);
      if (c.size() >= 5) index_close[c[0]] = cell(c[4]);
    }
  }
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(dir / "sp500_5yr"))
    if (entry.path().string().ends_with("_data.csv")) files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  for (const auto& file : files) {
    Bars b;
    b.ticker = file.stem().string();
    std::ifstream in(file);
    std::string line;
    std::getline(in, line);
    while (std::getline(in, line)) {
      const auto c = split(line);
      if (c.size() < 6) continue;
      b.open.push_back(cell(c[1]));
      b.high.push_back(cell(c[2]));
      b.low.push_back(cell(c[3]));
      b.close.push_back(cell(c[4]));
      b.volume.push_back(cell(c[5]));
      const auto it = index_close.find(c[0]);
      b.benchmark.push_back(it == index_close.end() ? std::numeric_limits<double>::quiet_NaN() : it->second);
    }
    all.push_back(std::move(b));
  }
  return all;
}

Bars synthetic_series(std::size_t days) {
  std::mt19937_64 rng(42);
  std::normal_distribution<double> noise(0.0, 0.015);
  Bars b;
  b.ticker = "synthetic";
  double price = 100, level = 2000;
  for (std::size_t t = 0; t < days; ++t) {
    const double open = price;
    price *= std::exp(noise(rng));
    level *= std::exp(0.5 * noise(rng));
    b.open.push_back(open);
    b.close.push_back(price);
    b.high.push_back(std::max(open, price) * (1 + std::fabs(noise(rng)) / 2));
    b.low.push_back(std::min(open, price) * (1 - std::fabs(noise(rng)) / 2));
    b.volume.push_back(1e6 * std::exp(noise(rng) * 20));
    b.benchmark.push_back(level);
  }
  return b;
}

const std::vector<Bars>& sp500() {
  static const std::vector<Bars> all = load_sp500();
  return all;
}

std::size_t total_days(const std::vector<Bars>& all) {
  std::size_t days = 0;
  for (const auto& b : all) days += b.close.size();
  return days;
}

void BM_Universe(benchmark::State& state, ta::IndicatorSet set) {
  const auto& all = sp500();
  const std::size_t outputs = ta::indicator_count();
  std::vector<double> out;
  for (auto _ : state) {
    for (const auto& b : all) {
      out.resize(outputs * b.close.size());  // no reallocation after the first iteration
      ta::compute_all(b.view(), b.benchmark, out, set);
      benchmark::DoNotOptimize(out.data());
    }
  }
  std::size_t rows = 0;
  for (const auto& spec : ta::all_indicators()) rows += set == ta::IndicatorSet::all || !spec.talib.empty();
  state.counters["series"] = static_cast<double>(all.size());
  state.counters["outputs"] = static_cast<double>(rows);
  state.counters["values/s"] = benchmark::Counter(
      static_cast<double>(rows * total_days(all)) * static_cast<double>(state.iterations()),
      benchmark::Counter::kIsRate);
}

void BM_Indicator(benchmark::State& state, const Bars* bars, std::size_t index) {
  const auto specs = ta::all_indicators();
  const auto& spec = specs[index];
  std::vector<double> out(bars->close.size());
  for (auto _ : state) {
    spec.compute(bars->view(), bars->benchmark, out);
    benchmark::DoNotOptimize(out.data());
  }
  state.counters["days"] = static_cast<double>(out.size());
}

void register_cases() {
  if (sp500().empty()) {
    std::cerr << "bench_indicators: no real data under " << data_dir()
              << "; skipping the sp500 cases (the per-indicator cases run on a synthetic series)\n";
  } else {
    benchmark::RegisterBenchmark("BM_AllIndicators/sp500", BM_Universe, ta::IndicatorSet::all)
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime();
    benchmark::RegisterBenchmark("BM_TalibSubset/sp500", BM_Universe, ta::IndicatorSet::talib_only)
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime();
  }
  static const Bars one = [] {
    for (const auto& b : sp500())
      if (b.ticker == "AAPL_data") return b;
    return synthetic_series(1259);
  }();
  const auto specs = ta::all_indicators();
  for (std::size_t i = 0; i < specs.size(); ++i)
    benchmark::RegisterBenchmark(("BM_Indicator/" + specs[i].name).c_str(), BM_Indicator, &one, i)
        ->Unit(benchmark::kMicrosecond)
        ->UseRealTime();
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  register_cases();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
