// Google Benchmark cases for the backtester (qf/quant/backtest/backtest.h) and the metrics:
//   BM_Backtest/<costs>   a top-50 long / 50 short strategy rebalanced daily over the synthetic default's
//                         shape (518 tickers x 1260 days), without costs and with every cost enabled
//   BM_ReturnMetrics      every metric of one 1260-day return series, with the benchmark's
// The universe is built in memory (process_new_data's synthetic default, 5 years), so nothing is read.
#include <benchmark/benchmark.h>

#include <filesystem>

#include "qf/data/synthetic_universe.h"
#include "qf/quant/backtest/backtest.h"
#include "qf/quant/metrics/portfolio_metrics.h"
#include "qf/quant/signals/features.h"

namespace {

struct Fixture {
  qf::data::Universe universe;
  qf::Tensor targets;
};

const Fixture& fixture() {
  static const Fixture f = [] {
    const auto dir = std::filesystem::temp_directory_path() / "qf_bench_backtest";
    std::filesystem::remove_all(dir);
    qf::data::write_synthetic_universe(qf::data::make_synthetic_universe({.tickers = 518, .days = 1260}),
                                       dir);
    const qf::data::IngestOptions options{{}, dir / "constituents.csv", dir / "index.csv"};
    Fixture out{qf::data::ingest(qf::data::list_price_files(dir / "prices", options), options), {}};
    std::filesystem::remove_all(dir);
    const auto features = qf::quant::compute_features(out.universe);
    qf::Tensor scores = features.at("rsi_14").to(qf::DType::f64);
    out.targets = qf::quant::top_k_targets(scores, 50, 50);
    return out;
  }();
  return f;
}

void BM_Backtest(benchmark::State& state) {
  const Fixture& f = fixture();
  qf::quant::BacktestOptions o;
  if (state.range(0)) o.costs = {1.0, 0.005, 1.0, 2.0, 2.0, 0.1, 0.05, 50.0};
  for (auto _ : state) benchmark::DoNotOptimize(qf::quant::run_backtest(f.universe, f.targets, o));
  state.SetLabel(state.range(0) ? "all costs" : "no costs");
  state.counters["cells/s"] =
      benchmark::Counter(static_cast<double>(f.universe.day_count() * f.universe.ticker_count()),
                         benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_Backtest)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_ReturnMetrics(benchmark::State& state) {
  const Fixture& f = fixture();
  const auto r = qf::quant::run_backtest(f.universe, f.targets, {});
  std::vector<double> benchmark_returns(r.returns.size());
  for (std::size_t d = 1; d < r.returns.size(); ++d)
    benchmark_returns[d] = f.universe.benchmark_close[d] / f.universe.benchmark_close[d - 1] - 1;
  for (auto _ : state) {
    benchmark::DoNotOptimize(qf::quant::return_metrics(r.returns));
    benchmark::DoNotOptimize(qf::quant::benchmark_metrics(r.returns, benchmark_returns));
  }
}
BENCHMARK(BM_ReturnMetrics)->Unit(benchmark::kMicrosecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
