// Every portfolio metric against the value empyrical / quantstats / pandas give for the same series
// (tests/data/metrics_golden.txt, made by scripts/make_metrics_golden.py), to a relative 1e-9.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "common/golden.h"
#include "qf/quant/metrics/portfolio_metrics.h"

using namespace qf;

namespace {

const std::map<std::string, Tensor>& golden() {
  static const auto g = test_support::read_golden(QF_TEST_DATA_DIR "/metrics_golden.txt");
  return g;
}

std::vector<double> series(const std::string& name) {
  const Tensor& t = golden().at(name);
  return {t.data<double>(), t.data<double>() + t.numel()};
}

void expect_close(double ours, const std::string& key) {
  const double reference = golden().at(key).data<double>()[0];
  EXPECT_NEAR(ours, reference, 1e-9 * std::max(1.0, std::abs(reference))) << key;
}

}  // namespace

TEST(PortfolioMetrics, MatchEmpyricalQuantstatsAndPandas) {
  for (const std::string c : {"long", "short"}) {
    const auto r = series(c + ".returns"), b = series(c + ".benchmark");
    const quant::ReturnMetrics m = quant::return_metrics(r);
    const quant::BenchmarkMetrics x = quant::benchmark_metrics(r, b);
    const std::pair<double, const char*> checks[] = {
        {m.total_return, "total_return"},
        {m.annual_return, "annual_return"},
        {m.annual_volatility, "annual_volatility"},
        {m.sharpe, "sharpe"},
        {m.sortino, "sortino"},
        {m.max_drawdown, "max_drawdown"},
        {static_cast<double>(m.max_drawdown_days), "max_drawdown_days"},
        {m.calmar, "calmar"},
        {m.omega, "omega"},
        {m.ulcer_index, "ulcer_index"},
        {m.value_at_risk, "value_at_risk"},
        {m.conditional_value_at_risk, "conditional_value_at_risk"},
        {m.skew, "skew"},
        {m.kurtosis, "kurtosis"},
        {m.hit_rate, "hit_rate"},
        {m.profit_factor, "profit_factor"},
        {m.tail_ratio, "tail_ratio"},
        {x.alpha, "alpha"},
        {x.beta, "beta"},
        {x.correlation, "correlation"},
        {x.tracking_error, "tracking_error"},
        {x.information_ratio, "information_ratio"},
        {x.up_capture, "up_capture"},
        {x.down_capture, "down_capture"},
    };
    for (const auto& [ours, key] : checks) expect_close(ours, c + "." + key);
    std::vector<double> dd(r.size());
    quant::drawdown_series(r, dd);
    expect_close(*std::min_element(dd.begin(), dd.end()), c + ".drawdown_min");
  }
}

TEST(PortfolioMetrics, EdgeCasesAreNaNOrErrorsNotGarbage) {
  const std::vector<double> flat(10, 0.0);
  const auto m = quant::return_metrics(flat);
  EXPECT_EQ(m.total_return, 0.0);
  EXPECT_TRUE(std::isnan(m.sharpe));  // zero dispersion
  EXPECT_TRUE(std::isnan(m.calmar));  // no drawdown
  EXPECT_TRUE(std::isnan(m.hit_rate));
  const std::vector<double> bad{0.01, NAN, 0.02};
  EXPECT_THROW(quant::return_metrics(bad), std::invalid_argument);
  EXPECT_THROW(quant::benchmark_metrics(flat, std::vector<double>(9, 0.0)), std::invalid_argument);
}
