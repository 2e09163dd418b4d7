#include "qf/quant/metrics/portfolio_metrics.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <stdexcept>
#include <string>
#include <vector>

#include "qf/core/require.h"

namespace qf::quant {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

double mean(std::span<const double> x) {
  return x.empty() ? kNaN : std::accumulate(x.begin(), x.end(), 0.0) / static_cast<double>(x.size());
}

double sample_sd(std::span<const double> x) {
  if (x.size() < 2) return kNaN;
  const double m = mean(x);
  double ss = 0;
  for (const double v : x) ss += (v - m) * (v - m);
  return std::sqrt(ss / static_cast<double>(x.size() - 1));
}

void check_finite(std::span<const double> x, const char* what) {
  for (std::size_t i = 0; i < x.size(); ++i)
    QF_REQUIRE_MSG(std::isfinite(x[i]), what, "return of day " << i << " is not finite (" << x[i] << ")");
}

double ratio(double numerator, double denominator) {
  return denominator != 0 && std::isfinite(denominator) ? numerator / denominator : kNaN;
}

}  // namespace

double annual_return(std::span<const double> r) {
  if (r.empty()) return kNaN;
  double wealth = 1;
  for (const double v : r) wealth *= 1 + v;
  return std::pow(wealth, kTradingDaysPerYear / static_cast<double>(r.size())) - 1;
}

void drawdown_series(std::span<const double> r, std::span<double> out) {
  QF_REQUIRE_MSG(out.size() == r.size(), "drawdown_series",
                 out.size() << " outputs for " << r.size() << " returns");
  double wealth = 1, peak = 1;
  for (std::size_t i = 0; i < r.size(); ++i) {
    wealth *= 1 + r[i];
    peak = std::max(peak, wealth);
    out[i] = (wealth - peak) / peak;
  }
}

double percentile(std::span<const double> values, double q) {
  if (values.empty()) return kNaN;
  std::vector<double> v(values.begin(), values.end());
  std::sort(v.begin(), v.end());
  const double position = q / 100.0 * static_cast<double>(v.size() - 1);
  const auto below = static_cast<std::size_t>(std::floor(position));
  const std::size_t above = std::min(below + 1, v.size() - 1);
  return v[below] + (v[above] - v[below]) * (position - static_cast<double>(below));
}

ReturnMetrics return_metrics(std::span<const double> r) {
  check_finite(r, "return_metrics");
  ReturnMetrics m;
  const auto n = static_cast<std::int64_t>(r.size());
  m.days = n;
  double wealth = 1;
  for (const double v : r) wealth *= 1 + v;
  m.total_return = wealth - 1;
  m.annual_return = annual_return(r);
  const double mu = mean(r), sd = sample_sd(r);
  m.annual_volatility = sd * std::sqrt(kTradingDaysPerYear);
  m.sharpe = ratio(mu, sd) * std::sqrt(kTradingDaysPerYear);
  double downside = 0;
  for (const double v : r) downside += std::min(v, 0.0) * std::min(v, 0.0);
  downside = std::sqrt(downside / static_cast<double>(std::max<std::int64_t>(n, 1))) *
             std::sqrt(kTradingDaysPerYear);
  m.sortino = ratio(mu * kTradingDaysPerYear, downside);

  std::vector<double> dd(r.size());
  drawdown_series(r, dd);
  m.max_drawdown = dd.empty() ? kNaN : std::min(0.0, *std::min_element(dd.begin(), dd.end()));
  std::int64_t run = 0;
  double squares = 0;
  for (const double d : dd) {
    run = d < 0 ? run + 1 : 0;
    m.max_drawdown_days = std::max(m.max_drawdown_days, run);
    squares += d * d;
  }
  m.calmar = m.max_drawdown < 0 ? m.annual_return / -m.max_drawdown : kNaN;
  m.ulcer_index = n > 1 ? std::sqrt(squares / static_cast<double>(n - 1)) : kNaN;

  double gains = 0, losses = 0, up = 0, moved = 0;
  for (const double v : r) {
    if (v > 0) gains += v;
    if (v < 0) losses -= v;
    up += v > 0 ? 1 : 0;
    moved += v != 0 ? 1 : 0;
  }
  m.omega = ratio(gains, losses);
  m.profit_factor = ratio(gains, losses);  // quantstats: sum(r >= 0) / |sum(r < 0)|, zeros add nothing
  m.hit_rate = ratio(up, moved);

  m.value_at_risk = percentile(r, 5);
  if (n > 0) {
    std::vector<double> sorted(r.begin(), r.end());
    std::sort(sorted.begin(), sorted.end());
    const auto k = static_cast<std::size_t>(static_cast<double>(n - 1) * 0.05) + 1;
    m.conditional_value_at_risk = mean(std::span<const double>(sorted.data(), k));
  } else {
    m.conditional_value_at_risk = kNaN;
  }
  m.tail_ratio = ratio(std::abs(percentile(r, 95)), std::abs(percentile(r, 5)));

  // Sample skewness and excess kurtosis with pandas' bias corrections.
  if (n > 3) {
    double m2 = 0, m3 = 0, m4 = 0;
    for (const double v : r) {
      const double d = v - mu;
      m2 += d * d;
      m3 += d * d * d;
      m4 += d * d * d * d;
    }
    const auto N = static_cast<double>(n);
    m2 /= N;
    m3 /= N;
    m4 /= N;
    m.skew = m2 > 0 ? std::sqrt(N * (N - 1)) / (N - 2) * m3 / std::pow(m2, 1.5) : kNaN;
    m.kurtosis = m2 > 0 ? (N - 1) / ((N - 2) * (N - 3)) * ((N + 1) * m4 / (m2 * m2) - 3 * (N - 1)) : kNaN;
  } else {
    m.skew = m.kurtosis = kNaN;
  }
  return m;
}

BenchmarkMetrics benchmark_metrics(std::span<const double> r, std::span<const double> b) {
  check_finite(r, "benchmark_metrics");
  check_finite(b, "benchmark_metrics (benchmark)");
  QF_REQUIRE_MSG(r.size() == b.size(), "benchmark_metrics",
                 r.size() << " returns but " << b.size() << " benchmark returns");
  BenchmarkMetrics m;
  const double mb = mean(b), mr = mean(r);
  double cov = 0, var_b = 0, var_r = 0;
  for (std::size_t i = 0; i < r.size(); ++i) {
    cov += (b[i] - mb) * r[i];
    var_b += (b[i] - mb) * (b[i] - mb);
    var_r += (r[i] - mr) * (r[i] - mr);
  }
  m.beta = var_b / static_cast<double>(r.size()) < 1e-30 ? kNaN : cov / var_b;
  double residual = 0;
  for (std::size_t i = 0; i < r.size(); ++i) residual += r[i] - m.beta * b[i];
  m.alpha = std::pow(1 + residual / static_cast<double>(r.size()), kTradingDaysPerYear) - 1;
  double centred_cov = 0;
  for (std::size_t i = 0; i < r.size(); ++i) centred_cov += (r[i] - mr) * (b[i] - mb);
  m.correlation = ratio(centred_cov, std::sqrt(var_r * var_b));
  std::vector<double> active(r.size());
  for (std::size_t i = 0; i < r.size(); ++i) active[i] = r[i] - b[i];
  const double te = sample_sd(active);
  m.tracking_error = te * std::sqrt(kTradingDaysPerYear);
  m.information_ratio = ratio(mean(active), te) * std::sqrt(kTradingDaysPerYear);
  auto capture = [&](bool up) {
    std::vector<double> rs, bs;
    for (std::size_t i = 0; i < r.size(); ++i)
      if (up ? b[i] > 0 : b[i] < 0) {
        rs.push_back(r[i]);
        bs.push_back(b[i]);
      }
    return ratio(annual_return(rs), annual_return(bs));
  };
  m.up_capture = capture(true);
  m.down_capture = capture(false);
  return m;
}

}  // namespace qf::quant
