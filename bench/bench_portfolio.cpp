// Google Benchmark cases for stage 3 (qf/quant/portfolio/portfolio.h, qf/quant/qp/qp.h):
//   BM_Rebalance5y/<method>  daily decisions over 5 years (1260 days; 252-day Ledoit-Wolf risk model, so
//                            1008 rebalances) for 505 names with sector caps (30 %), a name cap (5 %) and
//                            a turnover limit (20 %/day): the issue's performance case
//   BM_QpSolve/<n>           one cold long-only mean-variance QP with a budget and 11 sector rows
// The universe is the synthetic generator's (505 tickers, in memory); predictions are a causal 20-day
// momentum score squashed into (0, 1), i.e. any day's inputs, not a model.
#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>

#include "qf/data/synthetic_universe.h"
#include "qf/quant/portfolio/portfolio.h"

namespace {

struct Fixture {
  qf::data::Universe universe;
  qf::quant::PredictionPanel predictions;
};

const Fixture& fixture() {
  static const Fixture f = [] {
    const auto dir = std::filesystem::temp_directory_path() / "qf_bench_portfolio";
    std::filesystem::remove_all(dir);
    qf::data::write_synthetic_universe(qf::data::make_synthetic_universe({.tickers = 505, .days = 1260}),
                                       dir);
    const qf::data::IngestOptions options{{}, dir / "constituents.csv", dir / "index.csv"};
    Fixture out{qf::data::ingest(qf::data::list_price_files(dir / "prices", options), options), {}};
    std::filesystem::remove_all(dir);
    const auto& u = out.universe;
    const std::int64_t D = u.day_count(), N = u.ticker_count();
    out.predictions = {qf::Tensor::full({D, N}, std::nan(""), qf::DType::f64), 20, D - 2, "momentum", {}};
    if (const char* e = std::getenv("QF_DAYS")) out.predictions.last_day = 252 + std::atoi(e);
    for (std::int64_t d = 20; d < D - 1; ++d)
      for (std::int64_t i = 0; i < N; ++i) {
        const double now = u.close.data<double>()[d * N + i], then = u.close.data<double>()[(d - 20) * N + i];
        if (std::isfinite(now) && std::isfinite(then))
          out.predictions.probability.data<double>()[d * N + i] = 1 / (1 + std::exp(-10 * (now / then - 1)));
      }
    return out;
  }();
  return f;
}

qf::quant::OptimizerSpec issue_case(const std::string& method) {
  qf::quant::OptimizerSpec s;
  s.method = method;
  s.constraints.sector_max = 0.30;
  s.constraints.name_max = 0.05;
  s.constraints.turnover_max = 0.20;
  if (const char* e = std::getenv("QF_EPS")) s.solver.eps_rel = std::atof(e);
  if (const char* e = std::getenv("QF_CHECK")) s.solver.check_every = std::atoi(e);
  if (const char* e = std::getenv("QF_COST")) s.constraints.cost_penalty_bps = std::atof(e);
  if (const char* e = std::getenv("QF_TURNOVER")) s.constraints.turnover_max = std::atof(e);
  if (const char* e = std::getenv("QF_RHO")) s.solver.rho = std::atof(e);
  if (const char* e = std::getenv("QF_POLISH_BELOW")) s.solver.polish_below = std::atof(e);
  if (const char* e = std::getenv("QF_POLISH_EVERY")) s.solver.polish_every = std::atoi(e);
  if (const char* e = std::getenv("QF_POLISH_WORK")) s.solver.polish_work = std::atof(e);
  return s;
}

void BM_Rebalance5y(benchmark::State& state, const std::string& method) {
  const Fixture& f = fixture();
  std::size_t days = 0;
  double iterations = 0, admm_days = 0, passes = 0;
  for (auto _ : state) {
    const auto r = qf::quant::optimize_portfolio(f.universe, f.predictions, nullptr, issue_case(method));
    days = r.decisions.size();
    iterations = admm_days = passes = 0;
    for (const auto& d : r.decisions)
      iterations += d.iterations, passes += d.active_set_passes, admm_days += d.iterations > 0 ? 1 : 0;
    benchmark::DoNotOptimize(r.weights.data<double>());
  }
  state.counters["rebalances"] = static_cast<double>(days);
  state.counters["days_needing_admm"] = admm_days;  // the rest: solved by yesterday's active set
  state.counters["active_set_passes_per_day"] = passes / static_cast<double>(std::max<std::size_t>(days, 1));
  state.counters["qp_iterations_per_day"] = iterations / static_cast<double>(std::max<std::size_t>(days, 1));
}
BENCHMARK_CAPTURE(BM_Rebalance5y, mean_variance, std::string("mean_variance"))
    ->Unit(benchmark::kSecond)
    ->Iterations(1);
BENCHMARK_CAPTURE(BM_Rebalance5y, equal_weight, std::string("equal_weight"))
    ->Unit(benchmark::kSecond)
    ->Iterations(1);
BENCHMARK_CAPTURE(BM_Rebalance5y, min_variance, std::string("min_variance"))
    ->Unit(benchmark::kSecond)
    ->Iterations(1);

void BM_QpSolve(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  qf::quant::QpProblem p;
  p.n = static_cast<std::int64_t>(n);
  p.P.assign(n * n, 0.0);
  p.q.resize(n);
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t j = 0; j < n; ++j)  // one factor plus specific risk: positive definite
      p.P[i * n + j] =
          0.3 * std::cos(0.01 * static_cast<double>(i)) * std::cos(0.01 * static_cast<double>(j));
    p.P[i * n + i] += 1.0;
    p.q[i] = -0.01 * std::sin(static_cast<double>(i));
  }
  p.lower.assign(n, 0.0);
  p.upper.assign(n, 0.05);
  p.A.assign(12 * n, 0.0);
  for (std::size_t i = 0; i < n; ++i) p.A[i] = 1, p.A[(1 + i % 11) * n + i] = 1;
  p.row_lower.assign(12, 0.0);
  p.row_upper.assign(12, 0.3);
  p.row_lower[0] = p.row_upper[0] = 1.0;
  int iterations = 0;
  for (auto _ : state) {
    qf::quant::QpSolver solver;
    const auto s = solver.solve(p);
    iterations = s.iterations;
    benchmark::DoNotOptimize(s.x.data());
  }
  state.counters["iterations"] = iterations;
}
BENCHMARK(BM_QpSolve)->Arg(100)->Arg(505)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
