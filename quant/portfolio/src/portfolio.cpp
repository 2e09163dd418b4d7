#include "qf/quant/portfolio/portfolio.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <deque>
#include <future>
#include <map>
#include <numeric>
#include <span>
#include <sstream>
#include <stdexcept>

#include "qf/data/prices.h"
#include "qf/data/store.h"
#include "qf/quant/metrics/calibration.h"
#include "qf/quant/metrics/metrics.h"
#include "qf/quant/portfolio/allocation.h"
#include "qf/quant/signals/returns.h"
#include "qf/tensor/blas.h"
#include "qf/tensor/hdf5.h"
#include "qf/tensor/parallel.h"

namespace qf::quant {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
using Vec = std::vector<double>;

// Yesterday's QP solution on today's names: names that stay keep their values (point, ADMM state,
// active set), new names start at zero at their kink (not held), names that left drop out. Empty when
// the constraint rows changed (a sector emptied or appeared).
QpSolution carried_over(const QpSolution& s, const std::vector<std::int64_t>& from,
                        const std::vector<std::int64_t>& to, std::int64_t rows) {
  if (s.z.size() != 4 || static_cast<std::int64_t>(s.z[3].size()) != rows) return {};
  QpSolution out = s;
  std::vector<std::ptrdiff_t> source(to.size(), -1);
  for (std::size_t a = 0, b = 0; a < to.size(); ++a) {  // both ascend
    while (b < from.size() && from[b] < to[a]) ++b;
    if (b < from.size() && from[b] == to[a]) source[a] = static_cast<std::ptrdiff_t>(b);
  }
  auto map = [&](const Vec& values) {
    Vec mapped(to.size(), 0.0);
    for (std::size_t a = 0; a < to.size(); ++a)
      if (source[a] >= 0) mapped[a] = values[static_cast<std::size_t>(source[a])];
    return mapped;
  };
  out.x = map(s.x);
  for (int block = 0; block < 3; ++block)  // bounds, turnover, gross: one value per name
    if (!s.z[block].empty()) out.z[block] = map(s.z[block]), out.y[block] = map(s.y[block]);
  if (s.active_set.variable.size() == from.size()) {
    out.active_set.variable.assign(to.size(), QpActiveSet::kink);
    for (std::size_t a = 0; a < to.size(); ++a)
      if (source[a] >= 0)
        out.active_set.variable[a] = s.active_set.variable[static_cast<std::size_t>(source[a])];
  }
  return out;
}

// sum_i v_i^2 with eight partial sums, so that the compiler vectorises it (a single running sum
// fixes the order of the additions).
double sum_of_squares(std::span<const double> v) {
  double part[8] = {};
  std::size_t i = 0;
  for (; i + 8 <= v.size(); i += 8)
    for (std::size_t k = 0; k < 8; ++k) part[k] += v[i + k] * v[i + k];
  for (; i < v.size(); ++i) part[0] += v[i] * v[i];
  return ((part[0] + part[1]) + (part[2] + part[3])) + ((part[4] + part[5]) + (part[6] + part[7]));
}

// Trailing-window moments of the daily returns of all tickers (NaN stored as 0 with a validity count),
// updated by one rank-1 addition and one removal a day: the Gram matrix sum_t w_t x_t x_t' and the sums
// sum_t w_t x_t, with w_t = 1 (sample, Ledoit-Wolf) or 0.5^(age / halflife) (ewma), normalised later.
class RollingMoments {
 public:
  RollingMoments(std::int64_t tickers, int window, double decay)
      : n_(static_cast<std::size_t>(tickers)),
        window_(static_cast<std::size_t>(window)),
        decay_(decay),
        gram_(n_ * n_, 0.0),
        sum_(n_, 0.0),
        valid_(n_, 0) {}

  void push(const Vec& returns) {
    Vec row(n_);
    std::vector<std::uint8_t> ok(n_);
    for (std::size_t i = 0; i < n_; ++i) {
      ok[i] = std::isfinite(returns[i]) ? 1 : 0;
      row[i] = ok[i] ? returns[i] : 0.0;
    }
    if (decay_ != 1.0) scale(decay_);
    add(row, 1.0);
    for (std::size_t i = 0; i < n_; ++i) valid_[i] += ok[i];
    rows_.push_back(row);
    masks_.push_back(ok);
    if (rows_.size() > window_) {
      add(rows_.front(), -std::pow(decay_, static_cast<double>(window_)));
      for (std::size_t i = 0; i < n_; ++i) valid_[i] -= masks_.front()[i];
      rows_.pop_front();
      masks_.pop_front();
    }
    if (++pushes_ % 64 == 0) rebuild();  // bound the drift of the running sums
  }
  bool full(std::size_t i) const { return rows_.size() == window_ && valid_[i] == static_cast<int>(window_); }

  // The covariance [n, n] of the tickers `names` (all full) by `estimator`, as allocation.h defines it.
  Vec covariance(const std::vector<std::int64_t>& names, const std::string& estimator) const {
    const std::size_t n = names.size(), T = rows_.size();
    double total = 0;  // sum of the weights
    for (std::size_t k = 0; k < T; ++k) total += std::pow(decay_, static_cast<double>(T - 1 - k));
    Vec mean(n), s(n * n);
    const double inverse_total = 1 / total;
    for (std::size_t a = 0; a < n; ++a) mean[a] = sum_[static_cast<std::size_t>(names[a])] / total;
    for (std::size_t a = 0; a < n; ++a) {
      const double* g = gram_.data() + static_cast<std::size_t>(names[a]) * n_;
      double* row = s.data() + a * n;
      for (std::size_t b = 0; b < n; ++b) row[b] = g[names[b]] * inverse_total - mean[a] * mean[b];
    }
    if (estimator != "ledoit_wolf") return s;
    // sklearn's ledoit_wolf_shrinkage (see allocation.cpp), with the window's centred rows.
    double trace = 0, beta_ = 0;
    for (std::size_t a = 0; a < n; ++a) trace += s[a * n + a];
    const double delta_ = sum_of_squares(s);
    Vec centred(n);
    for (const Vec& row : rows_) {
      for (std::size_t a = 0; a < n; ++a) centred[a] = row[static_cast<std::size_t>(names[a])] - mean[a];
      const double norm = sum_of_squares(centred);
      beta_ += norm * norm;
    }
    const double nn = static_cast<double>(n), t = static_cast<double>(T), mu = trace / nn;
    double beta = 1.0 / (nn * t) * (beta_ / t - delta_);
    const double delta = (delta_ - 2.0 * mu * trace + nn * mu * mu) / nn;
    beta = std::min(beta, delta);
    const double shrink = beta == 0 ? 0.0 : beta / delta;
    for (double& v : s) v *= 1 - shrink;
    for (std::size_t a = 0; a < n; ++a) s[a * n + a] += shrink * mu;
    return s;
  }

 private:
  void scale(double f) {
    for (double& v : gram_) v *= f;
    for (double& v : sum_) v *= f;
  }
  // Both triangles, so that covariance() reads whole rows.
  void add(const Vec& x, double w) {
    for (std::size_t i = 0; i < n_; ++i) {
      if (x[i] == 0) continue;
      const double wx = w * x[i];
      double* g = gram_.data() + i * n_;
      for (std::size_t j = 0; j < n_; ++j) g[j] += wx * x[j];
      sum_[i] += wx;
    }
  }
  // From the stored window, by one GEMM (sqrt(w_t) x_t as rows).
  void rebuild() {
    const std::size_t T = rows_.size();
    Vec scaled(T * n_);
    std::fill(sum_.begin(), sum_.end(), 0.0);
    for (std::size_t k = 0; k < T; ++k) {
      const double w = std::pow(decay_, static_cast<double>(T - 1 - k)), root = std::sqrt(w);
      for (std::size_t i = 0; i < n_; ++i) {
        scaled[k * n_ + i] = root * rows_[k][i];
        sum_[i] += w * rows_[k][i];
      }
    }
    const auto n = static_cast<std::int64_t>(n_), t = static_cast<std::int64_t>(T);
    blas::gemm(blas::Trans::yes, blas::Trans::no, n, n, t, 1.0, scaled.data(), n, scaled.data(), n, 0.0,
               gram_.data(), n);
  }
  std::size_t n_, window_;
  double decay_;
  Vec gram_, sum_;
  std::vector<int> valid_;
  std::deque<Vec> rows_;
  std::deque<std::vector<std::uint8_t>> masks_;
  std::int64_t pushes_ = 0;
};

std::string percent(double v) {
  std::ostringstream s;
  s.precision(3);
  s << 100 * v << " %";
  return s.str();
}

// The exposure multiplier of the drawdown steps: the factor of the deepest threshold passed.
double drawdown_scale(double drawdown, const std::vector<std::pair<double, double>>& steps) {
  double scale = 1.0;
  for (const auto& [threshold, exposure] : steps)
    if (drawdown >= threshold) scale = std::min(scale, exposure);
  return scale;
}

void check_spec(const OptimizerSpec& s, const data::Universe& u) {
  auto fail = [](const std::string& what) { throw std::invalid_argument("portfolio_optimizer: " + what); };
  const auto& c = s.constraints;
  const std::vector<std::string> methods = {
      "equal_weight", "inverse_volatility", "risk_parity", "hrp",         "confidence_top_k",
      "min_variance", "mean_variance",      "max_sharpe",  "target_risk", "kelly"};
  if (std::find(methods.begin(), methods.end(), s.method) == methods.end())
    fail("unknown method '" + s.method + "'");
  if (s.risk.estimator != "ledoit_wolf" && s.risk.estimator != "sample" && s.risk.estimator != "ewma")
    fail("unknown covariance estimator '" + s.risk.estimator + "' (ledoit_wolf, sample, ewma)");
  if (s.risk.lookback < 20) fail("the covariance lookback must be at least 20 days");
  if (s.risk.refresh_days < 1) fail("refresh_days must be at least 1");
  if (!(c.name_max > 0)) fail("the per-name cap must be positive");
  if (!(c.net_min <= c.net_max)) fail("net_min must not exceed net_max");
  if (c.long_only && c.net_min < 0) fail("long only needs net_min >= 0");
  if (!(s.risk_aversion > 0) || !(s.kelly_fraction > 0))
    fail("risk aversion and Kelly fraction must be positive");
  if (s.method == "target_risk" && !(s.target_volatility > 0))
    fail("target_risk needs a positive target volatility");
  if (!s.rules.regime_exposure.empty() &&
      static_cast<std::int64_t>(s.rules.regime_exposure.size()) != u.day_count())
    fail("the regime exposure series must have one value per calendar day");
}

}  // namespace

std::vector<double> point_in_time_market_caps(const data::Universe& u) {
  const std::int64_t D = u.day_count(), N = u.ticker_count();
  const double* close = u.close.data<double>();
  std::vector<double> caps(static_cast<std::size_t>(D * N), kNaN);
  for (std::int64_t i = 0; i < N; ++i) {
    const double snapshot_cap =
        static_cast<std::size_t>(i) < u.market_cap.size() ? u.market_cap[static_cast<std::size_t>(i)] : kNaN;
    if (!std::isfinite(snapshot_cap)) continue;
    // The snapshot is taken on the ticker's last listed day (the calendar's last day unless delisted);
    // its share count is held constant, so a day's cap depends on that day's close and no later one
    // but the snapshot's own.
    std::int64_t snapshot_day = D - 1;
    while (snapshot_day >= 0 && !u.listed[static_cast<std::size_t>(snapshot_day * N + i)]) --snapshot_day;
    if (snapshot_day < 0) continue;
    const double snapshot_close = close[snapshot_day * N + i];
    if (!(snapshot_close > 0)) continue;
    const double shares = snapshot_cap / snapshot_close;
    for (std::int64_t d = 0; d <= snapshot_day; ++d)
      if (u.listed[static_cast<std::size_t>(d * N + i)])
        caps[static_cast<std::size_t>(d * N + i)] = shares * close[d * N + i];
  }
  return caps;
}

std::vector<int> market_cap_buckets(const data::Universe& u) {
  const std::int64_t D = u.day_count(), N = u.ticker_count();
  const std::vector<double> caps = point_in_time_market_caps(u);
  std::vector<int> bucket(static_cast<std::size_t>(D * N), -1);
  std::vector<double> known;
  for (std::int64_t d = 0; d < D; ++d) {
    const double* row = caps.data() + d * N;
    known.clear();
    for (std::int64_t i = 0; i < N; ++i)
      if (std::isfinite(row[i])) known.push_back(row[i]);
    if (known.empty()) continue;
    std::sort(known.begin(), known.end());
    const double low = known[known.size() / 3], high = known[2 * known.size() / 3];
    for (std::int64_t i = 0; i < N; ++i)
      if (std::isfinite(row[i]))
        bucket[static_cast<std::size_t>(d * N + i)] = row[i] >= high ? 0 : (row[i] >= low ? 1 : 2);
  }
  return bucket;
}

namespace {

// Marks one tranche's weights with the day's simple returns [tickers] (NaN: no move): returns the
// tranche's return and drifts its weights to fractions of its new equity; a delisted name is gone.
double drift_tranche(Vec& held, const Vec& returns, const data::Universe& u, std::int64_t d) {
  const std::int64_t N = u.ticker_count();
  double tranche_return = 0;
  for (std::int64_t i = 0; i < N; ++i)
    if (held[static_cast<std::size_t>(i)] != 0 && std::isfinite(returns[static_cast<std::size_t>(i)]))
      tranche_return += held[static_cast<std::size_t>(i)] * returns[static_cast<std::size_t>(i)];
  for (std::int64_t i = 0; i < N; ++i) {
    const double r = returns[static_cast<std::size_t>(i)];
    double& w = held[static_cast<std::size_t>(i)];
    if (w == 0) continue;
    if (!std::isfinite(r) && !u.listed[static_cast<std::size_t>(d * N + i)])
      w = 0;  // delisted: gone
    else if (std::isfinite(r))
      w = w * (1 + r) / (1 + tranche_return);
  }
  return tranche_return;
}

}  // namespace

OptimizerResult optimize_portfolio(const data::Universe& u, const PredictionPanel& predictions,
                                   const PredictionPanel* history, const OptimizerSpec& spec) {
  check_spec(spec, u);
  const auto start = std::chrono::steady_clock::now();
  const std::int64_t D = u.day_count(), N = u.ticker_count();
  const auto& c = spec.constraints;
  const auto& rules = spec.rules;
  const double* close = u.close.data<double>();
  const double* prob = predictions.probability.data<double>();
  OptimizerResult result;
  result.weights = Tensor::full({D, N}, kNaN, DType::f64);
  result.label = predictions.label;
  if (history != nullptr)
    require_same_timing(history->label, history->source, predictions.label.timing, predictions.source);

  // Groups: sectors (in order of first appearance) and market-cap buckets.
  std::map<std::string, int> sector_index;
  std::vector<std::string> sector_names;
  std::vector<int> sector_of(static_cast<std::size_t>(N));
  for (std::int64_t i = 0; i < N; ++i) {
    const std::string name =
        static_cast<std::size_t>(i) < u.sector.size() && !u.sector[static_cast<std::size_t>(i)].empty()
            ? u.sector[static_cast<std::size_t>(i)]
            : "(unknown)";
    auto [it, added] = sector_index.try_emplace(name, static_cast<int>(sector_names.size()));
    if (added) sector_names.push_back(name);
    sector_of[static_cast<std::size_t>(i)] = it->second;
  }
  const std::vector<int> bucket_of = market_cap_buckets(u);  // [days x tickers], point in time
  const char* bucket_names[3] = {"large cap", "mid cap", "small cap"};

  // The calibration of the predictions: daily rank IC of (p_s, traded return of s), known once the
  // trade of day s has exited, at day s + label_end_offset.
  const std::vector<double> traded = traded_returns(u, predictions.label.timing);
  const std::int64_t known_after = predictions.label.timing.label_end_offset();
  std::vector<double> ic_of_day(static_cast<std::size_t>(D), kNaN);
  auto daily_ic = [&](const PredictionPanel& panel, std::int64_t d) {
    std::vector<double> p, r;
    for (std::int64_t i = 0; i < N; ++i) {
      const double pi = panel.probability.data<double>()[d * N + i];
      const double ri = traded[static_cast<std::size_t>(d * N + i)];
      if (std::isfinite(pi) && std::isfinite(ri)) {
        p.push_back(pi);
        r.push_back(ri);
      }
    }
    return p.size() >= 10 ? rank_information_coefficient(p, r) : kNaN;
  };
  for (std::int64_t d = 0; d + 1 < D; ++d) {
    double ic = d >= predictions.first_day && d <= predictions.last_day ? daily_ic(predictions, d) : kNaN;
    if (!std::isfinite(ic) && history != nullptr && d >= history->first_day && d <= history->last_day &&
        d < predictions.first_day)
      ic = daily_ic(*history, d);
    ic_of_day[static_cast<std::size_t>(d)] = ic;
  }

  const double decay = spec.risk.estimator == "ewma" ? std::pow(0.5, 1.0 / spec.risk.halflife) : 1.0;
  // The risk model runs one day ahead on a second thread: day d + 1's moments and covariance (of the
  // names eligible before the stop-loss bars, which depend on today's trades) are computed while day d's
  // QP is solved. The results are the serial ones: a day whose names differ (a barred name) computes its
  // covariance on this thread, while the worker is idle.
  RollingMoments moments(N, spec.risk.lookback, decay);
  struct RiskDay {
    std::vector<std::int64_t> candidates;  // present, with a call (not an abstention), a full window
    Vec covariance;                        // of the candidates (decision days with at least 2)
  };
  auto prepare = [&](std::int64_t d) {
    SerialRegion serial;  // the thread pool belongs to the caller's thread
    RiskDay day;
    Vec r(static_cast<std::size_t>(N));
    for (std::int64_t i = 0; i < N; ++i) {
      const double c0 = close[(d - 1) * N + i], c1 = close[d * N + i];
      r[static_cast<std::size_t>(i)] = std::isfinite(c0) && std::isfinite(c1) && c0 > 0 ? c1 / c0 - 1 : kNaN;
    }
    moments.push(r);
    if (d < predictions.first_day || d > predictions.last_day) return day;
    for (std::int64_t i = 0; i < N; ++i)
      if (u.present[static_cast<std::size_t>(d * N + i)] && std::isfinite(prob[d * N + i]) &&
          !predictions.abstained(d * N + i) && moments.full(static_cast<std::size_t>(i)))
        day.candidates.push_back(i);
    if (day.candidates.size() >= 2) day.covariance = moments.covariance(day.candidates, spec.risk.estimator);
    return day;
  };
  std::future<RiskDay> next_day;
  auto start_next_day = [&](std::int64_t d) {  // once per day, after this thread's last use of `moments`
    if (d + 1 < D && !next_day.valid()) next_day = std::async(std::launch::async, prepare, d + 1);
  };
  if (D > 1) next_day = std::async(std::launch::async, prepare, 1);
  QpSolver solver(spec.solver);
  QpSolution warm;  // the last solution, for the names of warm_names (empty before the first)
  std::vector<std::int64_t> warm_names, risk_names, target_names;
  Vec last_target;  // yesterday's risk-parity target, a warm start for today's
  Vec risk_covariance;
  std::int64_t last_refresh = -1'000'000;

  // With a horizon of h days the book is h overlapping tranches (backtest.h): the decision of day d
  // rebalances tranche d mod h only, so its turnover, entries and stops are that tranche's. Each
  // tranche's weights are fractions of its own equity, drifted daily; the book's return is their mean.
  const std::int64_t H = predictions.label.timing.horizon;
  std::vector<Vec> tranche_held(static_cast<std::size_t>(H), Vec(static_cast<std::size_t>(N), 0.0));
  std::vector<Vec> tranche_entry(static_cast<std::size_t>(H), Vec(static_cast<std::size_t>(N), kNaN));
  std::vector<std::int64_t> barred_until(static_cast<std::size_t>(N), -1);
  double equity = 1, peak = 1, ic_sum = 0;
  int ic_count = 0;
  Vec returns(static_cast<std::size_t>(N));

  for (std::int64_t d = 1; d < D; ++d) {
    RiskDay risk_day = next_day.get();
    // Today's returns: mark each tranche, drift its weights (the worker fed them to the risk model).
    for (std::int64_t i = 0; i < N; ++i) {
      const double c0 = close[(d - 1) * N + i], c1 = close[d * N + i];
      returns[static_cast<std::size_t>(i)] =
          std::isfinite(c0) && std::isfinite(c1) && c0 > 0 ? c1 / c0 - 1 : kNaN;
    }
    double portfolio_return = 0;
    for (Vec& held : tranche_held)
      portfolio_return += drift_tranche(held, returns, u, d) / static_cast<double>(H);
    equity *= 1 + portfolio_return;
    peak = std::max(peak, equity);
    const double drawdown = 1 - equity / peak;
    const std::int64_t outcome_day = d - known_after;  // the decision whose trade exited by today
    if (outcome_day >= 0 && std::isfinite(ic_of_day[static_cast<std::size_t>(outcome_day)])) {
      ic_sum += ic_of_day[static_cast<std::size_t>(outcome_day)];
      ++ic_count;
    }
    if (d < predictions.first_day || d > predictions.last_day) {
      start_next_day(d);
      continue;
    }

    Vec& held = tranche_held[static_cast<std::size_t>(d % H)];
    Vec& entry = tranche_entry[static_cast<std::size_t>(d % H)];
    bool abstained_today = false;
    for (std::int64_t i = 0; i < N && !abstained_today; ++i)
      abstained_today = predictions.abstained(d * N + i);
    DayDecision decision;
    decision.day = d;
    decision.drawdown = drawdown;
    std::vector<std::string> fired;
    // Stops act on positions held into today's close.
    if (rules.stop_loss > 0 || rules.take_profit > 0)
      for (std::int64_t i = 0; i < N; ++i) {
        const double w = held[static_cast<std::size_t>(i)], e = entry[static_cast<std::size_t>(i)];
        if (w == 0 || !std::isfinite(e) || !std::isfinite(close[d * N + i])) continue;
        const double gain = (w > 0 ? 1 : -1) * (close[d * N + i] / e - 1);
        const bool stop = rules.stop_loss > 0 && gain <= -rules.stop_loss,
                   take = rules.take_profit > 0 && gain >= rules.take_profit;
        if (stop || take) {
          barred_until[static_cast<std::size_t>(i)] = d + rules.cooldown_days;
          fired.push_back((stop ? "stop-loss " : "take-profit ") + u.tickers[static_cast<std::size_t>(i)]);
        }
      }
    // Eligible names.
    std::vector<std::int64_t> names;
    for (const std::int64_t i : risk_day.candidates)
      if (barred_until[static_cast<std::size_t>(i)] < d) names.push_back(i);
    const std::size_t n = names.size();
    decision.eligible = static_cast<int>(n);
    double* out = result.weights.data<double>() + d * N;
    std::fill_n(out, N, 0.0);
    if (n < 2) {
      decision.rules = "fewer than 2 eligible names: flat";
      for (std::int64_t i = 0; i < N; ++i) held[static_cast<std::size_t>(i)] = 0;
      result.decisions.push_back(decision);
      start_next_day(d);
      continue;
    }
    // Risk model.
    if (names != risk_names || d - last_refresh >= spec.risk.refresh_days) {
      risk_covariance = names == risk_day.candidates ? std::move(risk_day.covariance)
                                                     : moments.covariance(names, spec.risk.estimator);
      risk_names = names;
      last_refresh = d;
    }
    start_next_day(d);
    const Vec& S = risk_covariance;
    // Expected returns.
    const double ic = std::max(0.0, ic_count > 0 ? ic_sum / (ic_count + spec.ic_prior_days) : 0.0);
    decision.ic = ic;
    Vec z(n), mu(n), p(n);
    double zm = 0, zs = 0;
    for (std::size_t a = 0; a < n; ++a) {
      p[a] = prob[d * N + names[a]];
      z[a] = logit(p[a]);
      zm += z[a];
    }
    zm /= static_cast<double>(n);
    for (std::size_t a = 0; a < n; ++a) zs += (z[a] - zm) * (z[a] - zm);
    zs = std::sqrt(zs / static_cast<double>(n));
    for (std::size_t a = 0; a < n; ++a)
      mu[a] = zs > 0 ? ic * std::sqrt(S[a * n + a]) * (z[a] - zm) / zs : 0.0;

    // The QP's constraints.
    QpProblem qp;
    qp.n = static_cast<std::int64_t>(n);
    qp.lower.assign(n, c.long_only ? 0.0 : -c.name_max);
    qp.upper.assign(n, c.name_max);
    for (std::size_t a = 0; a < n; ++a)
      qp.variable_names.push_back(u.tickers[static_cast<std::size_t>(names[a])]);
    auto add_row = [&](const std::string& name, double lo, double hi, auto member) {
      Vec row(n, 0.0);
      bool any = false;
      for (std::size_t a = 0; a < n; ++a)
        if (member(names[a])) row[a] = 1.0, any = true;
      if (!any) return;
      qp.A.insert(qp.A.end(), row.begin(), row.end());
      qp.row_lower.push_back(lo);
      qp.row_upper.push_back(hi);
      qp.row_names.push_back(name);
    };
    const bool kelly = spec.method == "kelly";
    add_row("net exposure", kelly ? std::min(0.0, c.net_min) : c.net_min, c.net_max,
            [](std::int64_t) { return true; });
    if (c.sector_max > 0)
      for (std::size_t g = 0; g < sector_names.size(); ++g)
        add_row("sector " + sector_names[g], -c.sector_max, c.sector_max, [&](std::int64_t i) {
          return sector_of[static_cast<std::size_t>(i)] == static_cast<int>(g);
        });
    for (int b = 0; b < 3; ++b)
      if (c.bucket_max[b] < 1)
        add_row(bucket_names[b], -c.bucket_max[b], c.bucket_max[b],
                [&](std::int64_t i) { return bucket_of[static_cast<std::size_t>(d * N + i)] == b; });
    if (!c.long_only) qp.gross_limit = c.gross_max;
    // Turnover against the drifted weights; names that left the eligible set are sold outside the QP.
    qp.reference.assign(n, 0.0);
    double forced = 0;
    for (std::int64_t i = 0; i < N; ++i) forced += std::abs(held[static_cast<std::size_t>(i)]);
    for (std::size_t a = 0; a < n; ++a) {
      qp.reference[a] = held[static_cast<std::size_t>(names[a])];
      forced -= std::abs(qp.reference[a]);
    }
    if (std::isfinite(c.turnover_max)) qp.l1_limit = std::max(0.0, c.turnover_max - forced);

    // The method: a target to project, or the mean-variance family with P = S and q = -mu / gamma.
    double variance_scale = 0;
    for (std::size_t a = 0; a < n; ++a) variance_scale += S[a * n + a] / static_cast<double>(n);
    const bool mean_variance_family = spec.method == "min_variance" || spec.method == "mean_variance" ||
                                      spec.method == "max_sharpe" || spec.method == "target_risk" || kelly;
    Vec target;
    auto covariance_tensor = [&] {  // allocation.h's rules take a Tensor: a copy, made only for them
      return Tensor::from<double>(S, {static_cast<std::int64_t>(n), static_cast<std::int64_t>(n)});
    };
    if (spec.method == "equal_weight") target = equal_weights(static_cast<std::int64_t>(n));
    if (spec.method == "inverse_volatility") target = inverse_volatility_weights(covariance_tensor());
    if (spec.method == "risk_parity") {  // warm from yesterday's target when the names are the same
      target = risk_parity_weights(
          covariance_tensor(), 1e-8, 50,
          names == target_names ? std::span<const double>(last_target) : std::span<const double>());
      last_target = target, target_names = names;
    }
    if (spec.method == "hrp") target = hrp_weights(covariance_tensor());
    if (spec.method == "confidence_top_k") {
      std::vector<std::size_t> order(n);
      std::iota(order.begin(), order.end(), 0);
      std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return p[a] > p[b]; });
      target.assign(n, 0.0);
      double total = 0;
      for (std::size_t k = 0; k < order.size() && k < static_cast<std::size_t>(spec.top_k); ++k)
        if (p[order[k]] > 0.5) total += target[order[k]] = p[order[k]] - 0.5;
      for (double& w : target) w = total > 0 ? w / total : 1.0 / static_cast<double>(n);
    }
    const double budget =
        std::min(std::clamp(1.0, c.net_min, c.net_max), static_cast<double>(n) * c.name_max);
    if (!target.empty()) {
      for (double& w : target) w *= budget;
      qp.P.assign(n * n, 0.0);
      for (std::size_t a = 0; a < n; ++a) qp.P[a * n + a] = 1.0;
      qp.q.resize(n);
      for (std::size_t a = 0; a < n; ++a) qp.q[a] = -target[a];
    } else {  // scaled to unit mean variance, as ADMM converges best with P of order 1 (OSQP scales too)
      qp.P.resize(n * n);
      const double inverse_scale = 1 / variance_scale;
      std::transform(S.begin(), S.end(), qp.P.begin(), [&](double v) { return v * inverse_scale; });
      qp.q.assign(n, 0.0);
    }
    // Yesterday's solution as today's start, carried over to today's names when they changed.
    if (names != warm_names && !warm.x.empty()) warm = carried_over(warm, warm_names, names, qp.rows());
    bool warm_ok = !warm.x.empty();
    double last_inverse_gamma = 0;
    auto solve_with = [&](double inverse_gamma, bool required = true) {
      last_inverse_gamma = inverse_gamma;
      if (mean_variance_family) {
        for (std::size_t a = 0; a < n; ++a) qp.q[a] = -mu[a] * inverse_gamma / variance_scale;
        qp.l1_cost = c.cost_penalty_bps * 1e-4 * inverse_gamma / variance_scale;
      }
      QpSolution s = solver.solve(qp, warm_ok ? &warm : nullptr);
      if (s.status == QpStatus::max_iterations && warm_ok)
        s = solver.solve(qp);  // a stalled warm start: cold
      if (s.status == QpStatus::primal_infeasible && std::isfinite(qp.l1_limit)) {
        const double limit = qp.l1_limit;  // the turnover limit can be out of reach after a forced sale
        qp.l1_limit = kInfinity;
        s = solver.solve(qp);
        if (s.status == QpStatus::solved)
          fired.push_back("turnover limit " + percent(limit) + " relaxed (infeasible)");
      }
      // On a day the model abstained on some names (no candidates), the few callable ones may not hold
      // the whole net floor under the name, sector and cap-bucket limits: the rest stays in cash rather
      // than the day failing. (Without abstentions, such limits are a configuration error, named below.)
      const auto net_row = static_cast<std::size_t>(
          std::find(qp.row_names.begin(), qp.row_names.end(), "net exposure") - qp.row_names.begin());
      if (s.status == QpStatus::primal_infeasible && abstained_today && net_row < qp.row_lower.size() &&
          qp.row_lower[net_row] > 0) {
        const double floor = qp.row_lower[net_row];
        qp.row_lower[net_row] = 0;
        s = solver.solve(qp);
        if (s.status == QpStatus::solved)
          fired.push_back("net floor " + percent(floor) + " relaxed (infeasible with " + std::to_string(n) +
                          " callable names)");
      }
      if (!required && s.status != QpStatus::solved) return s;
      require_solved(s, "portfolio_optimizer, " + data::format_date(u.days[static_cast<std::size_t>(d)]) +
                            ", " + spec.method);
      decision.iterations += s.iterations;
      decision.active_set_passes += s.polish_passes;
      warm = s;
      warm_ok = true;
      return s;
    };
    auto variance_of = [&](const Vec& w) {
      Vec sw(n);
      blas::gemv(blas::Trans::no, static_cast<std::int64_t>(n), static_cast<std::int64_t>(n), 1.0, S.data(),
                 static_cast<std::int64_t>(n), w.data(), 0.0, sw.data());
      return std::inner_product(w.begin(), w.end(), sw.begin(), 0.0);
    };
    QpSolution solution;
    const bool has_alpha = std::any_of(mu.begin(), mu.end(), [](double m) { return m != 0; });
    if (spec.method == "min_variance" ||
        (mean_variance_family && !has_alpha && spec.method != "target_risk")) {
      solution = solve_with(0.0);
      if (spec.method != "min_variance") fired.push_back("no measured skill (IC 0): minimum variance");
    } else if (spec.method == "mean_variance" || kelly) {
      solution = solve_with(kelly ? spec.kelly_fraction : 1.0 / spec.risk_aversion);
    } else if (spec.method == "max_sharpe") {
      // Golden-section search on log10(1/gamma) in [-3, 1] (from about minimum variance to concentrated
      // portfolios at daily alphas) for the highest ex-ante Sharpe ratio; points the solver cannot
      // reach within its iterations are skipped.
      auto sharpe = [&](double log_inverse_gamma, QpSolution* keep) {
        QpSolution s = solve_with(std::pow(10.0, log_inverse_gamma), false);
        if (s.status != QpStatus::solved) return -kInfinity;  // a corner the solver could not reach: skip
        double m = 0;
        for (std::size_t a = 0; a < n; ++a) m += mu[a] * s.x[a];
        const double value = m / std::sqrt(std::max(variance_of(s.x), 1e-30));
        if (keep) *keep = std::move(s);
        return value;
      };
      const double ratio = (std::sqrt(5.0) - 1) / 2;
      double lo = -3, hi = 1, x1 = hi - ratio * (hi - lo), x2 = lo + ratio * (hi - lo);
      double f1 = sharpe(x1, nullptr), f2 = sharpe(x2, nullptr);
      for (int k = 0; k < 12; ++k) {
        if (f1 >= f2)
          hi = x2, x2 = x1, f2 = f1, x1 = hi - ratio * (hi - lo), f1 = sharpe(x1, nullptr);
        else
          lo = x1, x1 = x2, f1 = f2, x2 = lo + ratio * (hi - lo), f2 = sharpe(x2, nullptr);
      }
      QpSolution best;
      if (sharpe(0.5 * (lo + hi), &best) > -kInfinity) {
        solution = std::move(best);
      } else {
        solution = solve_with(0.0);
        fired.push_back("max Sharpe search did not converge: minimum variance");
      }
    } else if (spec.method == "target_risk") {
      const double target_variance = std::pow(spec.target_volatility, 2) / 252.0;
      solution = solve_with(0.0);
      if (variance_of(solution.x) > target_variance) {
        fired.push_back("target risk below the minimum-variance portfolio's: minimum variance");
      } else if (has_alpha) {
        double lo = -3, hi = 1;  // log10(1/gamma); volatility rises with 1/gamma
        QpSolution top = solve_with(std::pow(10.0, hi), false);
        if (top.status == QpStatus::solved && variance_of(top.x) <= target_variance) {
          solution = std::move(top);
          fired.push_back("target risk above reach: the riskiest solution");
        } else {
          for (int k = 0; k < 20; ++k) {
            const double mid = 0.5 * (lo + hi);
            QpSolution s = solve_with(std::pow(10.0, mid), false);
            const bool within = s.status == QpStatus::solved && variance_of(s.x) <= target_variance;
            (within ? lo : hi) = mid;  // an unsolved point counts as too far
            if (within) solution = std::move(s);
          }
        }
      }
    } else {
      solution = solve_with(0.0);
    }
    // Minimum position size (not convex): the names below it are fixed at 0 and the others held at least
    // at it, and the day solved again; when that is infeasible the first solution stands, and says so.
    if (c.min_position > 0) {
      const QpProblem before = qp;
      int dropped = 0;
      for (std::size_t a = 0; a < n; ++a) {
        if (std::abs(solution.x[a]) < c.min_position) {
          dropped += solution.x[a] != 0 ? 1 : 0;
          qp.lower[a] = qp.upper[a] = 0.0;
        } else if (solution.x[a] > 0) {
          qp.lower[a] = c.min_position;
        } else {
          qp.upper[a] = -c.min_position;
        }
      }
      if (dropped > 0) {
        QpSolution again = solve_with(last_inverse_gamma, false);
        if (again.status == QpStatus::solved) {
          solution = std::move(again);
          fired.push_back("minimum position: " + std::to_string(dropped) + " dropped");
        } else {
          fired.push_back("minimum position: " + std::to_string(dropped) +
                          " kept (dropping them is infeasible)");
        }
      }
      qp = before;
    }
    warm = solution;
    warm_names = names;

    // Binding constraints.
    std::vector<std::string> binding;
    const double tol = 1e-5;
    int at_cap = 0;
    for (std::size_t a = 0; a < n; ++a) at_cap += std::abs(solution.x[a]) >= c.name_max - tol ? 1 : 0;
    if (at_cap > 0) binding.push_back("name cap (" + std::to_string(at_cap) + ")");
    for (std::size_t j = 0; j < qp.row_lower.size(); ++j) {
      double v = 0;
      for (std::size_t a = 0; a < n; ++a) v += qp.A[j * n + a] * solution.x[a];
      if (std::abs(v - qp.row_upper[j]) < tol || std::abs(v - qp.row_lower[j]) < tol)
        if (qp.row_lower[j] != qp.row_upper[j] || qp.row_names[j] != "net exposure")
          binding.push_back(qp.row_names[j]);
    }
    double turnover = 0, gross = 0;
    for (std::size_t a = 0; a < n; ++a) {
      turnover += std::abs(solution.x[a] - qp.reference[a]);
      gross += std::abs(solution.x[a]);
    }
    if (std::isfinite(qp.l1_limit) && turnover >= qp.l1_limit - tol) binding.push_back("turnover limit");
    if (!c.long_only && gross >= c.gross_max - tol) binding.push_back("gross limit");

    // Risk rules: one exposure scale.
    double scale = 1.0;
    if (rules.drawdown_control) {
      const double s = drawdown_scale(drawdown, rules.drawdown_steps);
      if (s < 1) fired.push_back("drawdown " + percent(drawdown) + " -> exposure " + percent(s));
      scale *= s;
    }
    if (!rules.regime_exposure.empty()) {
      const double r = rules.regime_exposure[static_cast<std::size_t>(d)];
      if (std::isfinite(r) && r != 1) {
        fired.push_back("regime -> exposure " + percent(r));
        scale *= r;
      }
    }
    const double volatility = std::sqrt(std::max(0.0, variance_of(solution.x)) * 252.0);
    if (rules.target_volatility > 0 && volatility > 0) {
      const double s = std::min(rules.max_scale, rules.target_volatility / volatility);
      fired.push_back("volatility target: x" + std::to_string(s).substr(0, 5));
      scale *= s;
    }
    // The decision, and the managed portfolio's new holdings (costs estimated on the traded weight).
    double traded = 0;
    Vec next(static_cast<std::size_t>(N), 0.0);
    for (std::size_t a = 0; a < n; ++a) next[static_cast<std::size_t>(names[a])] = scale * solution.x[a];
    for (std::int64_t i = 0; i < N; ++i) {
      const double w =
          std::abs(next[static_cast<std::size_t>(i)]) < 1e-9 ? 0.0 : next[static_cast<std::size_t>(i)];
      traded += std::abs(w - held[static_cast<std::size_t>(i)]);
      if (w != 0 &&
          (held[static_cast<std::size_t>(i)] == 0 || (w > 0) != (held[static_cast<std::size_t>(i)] > 0)))
        entry[static_cast<std::size_t>(i)] = close[d * N + i];
      if (w == 0) entry[static_cast<std::size_t>(i)] = kNaN;
      out[i] = held[static_cast<std::size_t>(i)] = w;
      decision.positions += w != 0 ? 1 : 0;
      decision.net += w;
      decision.gross += std::abs(w);
    }
    equity *= 1 - spec.estimated_cost_bps * 1e-4 * traded;
    decision.turnover = traded;
    decision.exposure_scale = scale;
    decision.ex_ante_volatility = scale * volatility;
    for (const auto& b : binding) decision.binding += (decision.binding.empty() ? "" : "; ") + b;
    for (const auto& f : fired) decision.rules += (decision.rules.empty() ? "" : "; ") + f;
    result.decisions.push_back(std::move(decision));
  }
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::ostringstream about;
  about << spec.method << ", " << spec.risk.estimator << " covariance over " << spec.risk.lookback
        << " days, " << (c.long_only ? "long only" : "long/short") << ", name cap " << percent(c.name_max)
        << ", sector cap " << percent(c.sector_max);
  if (c.bucket_max[0] < 1 || c.bucket_max[1] < 1 || c.bucket_max[2] < 1)
    about << ", cap terciles point in time (snapshot shares x close[t])";
  if (predictions.label.timing.horizon > 1)
    about << ", " << predictions.label.timing.horizon << " overlapping tranches";
  if (std::isfinite(c.turnover_max)) about << ", turnover <= " << percent(c.turnover_max) << "/day";
  if (rules.drawdown_control) about << ", drawdown control";
  if (rules.target_volatility > 0) about << ", vol target " << percent(rules.target_volatility);
  if (rules.stop_loss > 0) about << ", stop-loss " << percent(rules.stop_loss);
  if (rules.take_profit > 0) about << ", take-profit " << percent(rules.take_profit);
  if (!rules.regime_exposure.empty()) about << ", regime exposure";
  result.description = about.str();
  return result;
}

void write_optimizer_output(const std::filesystem::path& folder, const OptimizerResult& r,
                            const data::Universe& u) {
  std::filesystem::create_directories(folder);
  const std::int64_t N = u.ticker_count();
  const auto weights_path = folder / "weights.h5", temporary = folder / "weights.h5.tmp";
  {
    h5::File f(temporary, h5::File::Mode::create);
    f.set_attr("/", "format", std::string("quantforge.target_weights"));
    f.set_attr("/", "description", r.description);
    write_label_attributes(f, "/", r.label);
    f.write("/target_weights", r.weights, 4);
    f.write_strings("/tickers", u.tickers);
    std::vector<std::string> dates;
    for (const auto& day : u.days) dates.push_back(data::format_date(day));
    f.write_strings("/dates", dates);
    const std::int64_t K = static_cast<std::int64_t>(r.decisions.size());
    std::vector<double> day(static_cast<std::size_t>(K)), gross(day.size()), net(day.size()), vol(day.size()),
        turnover(day.size()), scale(day.size()), ic(day.size()), dd(day.size());
    std::vector<std::string> binding, rules;
    for (std::size_t k = 0; k < r.decisions.size(); ++k) {
      const auto& x = r.decisions[k];
      day[k] = static_cast<double>(x.day);
      gross[k] = x.gross, net[k] = x.net, vol[k] = x.ex_ante_volatility, turnover[k] = x.turnover;
      scale[k] = x.exposure_scale, ic[k] = x.ic, dd[k] = x.drawdown;
      binding.push_back(x.binding);
      rules.push_back(x.rules);
    }
    f.create_group("/decisions");
    const std::pair<const char*, const std::vector<double>*> columns[] = {
        {"day", &day},           {"gross", &gross},          {"net", &net}, {"ex_ante_volatility", &vol},
        {"turnover", &turnover}, {"exposure_scale", &scale}, {"ic", &ic},   {"drawdown", &dd}};
    for (const auto& [name, values] : columns)
      f.write(std::string("/decisions/") + name, Tensor::from<double>(*values, {K}));
    if (K > 0) {
      f.write_strings("/decisions/binding", binding);
      f.write_strings("/decisions/rules", rules);
    }
    f.close();
  }
  std::filesystem::rename(temporary, weights_path);
  std::ostringstream decisions, weights;
  decisions.precision(8);
  weights.precision(8);
  decisions << "date,eligible,positions,gross,net,turnover,ex_ante_volatility,exposure_scale,drawdown,ic,"
               "iterations,active_set_passes,binding,rules\n";
  weights << "date,ticker,weight\n";
  for (const auto& x : r.decisions) {
    const std::string date = data::format_date(u.days[static_cast<std::size_t>(x.day)]);
    decisions << date << ',' << x.eligible << ',' << x.positions << ',' << x.gross << ',' << x.net << ','
              << x.turnover << ',' << x.ex_ante_volatility << ',' << x.exposure_scale << ',' << x.drawdown
              << ',' << x.ic << ',' << x.iterations << ',' << x.active_set_passes << ",\"" << x.binding
              << "\",\"" << x.rules << "\"\n";
    for (std::int64_t i = 0; i < N; ++i) {
      const double w = r.weights.data<double>()[x.day * N + i];
      if (w != 0 && std::isfinite(w))
        weights << date << ',' << u.tickers[static_cast<std::size_t>(i)] << ',' << w << '\n';
    }
  }
  data::write_text_atomically(folder / "decisions.csv", decisions.str());
  data::write_text_atomically(folder / "weights.csv", weights.str());
}

}  // namespace qf::quant
