#include "qf/quant/portfolio/portfolio.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <deque>
#include <future>
#include <iterator>
#include <map>
#include <numeric>
#include <span>
#include <sstream>
#include <stdexcept>

#include "qf/core/require.h"
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
  constexpr const char* kWho = "portfolio_optimizer";
  const auto& c = s.constraints;
  const std::vector<std::string> methods = {
      "equal_weight", "inverse_volatility", "risk_parity", "hrp",         "confidence_top_k",
      "min_variance", "mean_variance",      "max_sharpe",  "target_risk", "kelly"};
  QF_REQUIRE(std::find(methods.begin(), methods.end(), s.method) != methods.end(), kWho, "method", s.method,
             "is unknown");
  QF_REQUIRE(s.risk.estimator == "ledoit_wolf" || s.risk.estimator == "sample" || s.risk.estimator == "ewma",
             kWho, "covariance estimator", s.risk.estimator, "is unknown (ledoit_wolf, sample, ewma)");
  QF_REQUIRE(s.risk.lookback >= 20, kWho, "covariance lookback", s.risk.lookback, "must be at least 20 days");
  QF_REQUIRE(s.risk.refresh_days >= 1, kWho, "refresh_days", s.risk.refresh_days, "must be at least 1");
  QF_REQUIRE(c.name_max > 0, kWho, "per-name cap", c.name_max, "must be positive");
  QF_REQUIRE_MSG(c.net_min <= c.net_max, kWho,
                 "net_min (" << c.net_min << ") must not exceed net_max (" << c.net_max << ")");
  QF_REQUIRE(!c.long_only || c.net_min >= 0, kWho, "net_min", c.net_min, "must be >= 0 when long only");
  QF_REQUIRE(s.risk_aversion > 0, kWho, "risk aversion", s.risk_aversion, "must be positive");
  QF_REQUIRE(s.kelly_fraction > 0, kWho, "Kelly fraction", s.kelly_fraction, "must be positive");
  QF_REQUIRE(s.method != "target_risk" || s.target_volatility > 0, kWho, "target volatility",
             s.target_volatility, "must be positive for target_risk");
  QF_REQUIRE_MSG(s.rules.regime_exposure.empty() ||
                     static_cast<std::int64_t>(s.rules.regime_exposure.size()) == u.day_count(),
                 kWho,
                 "the regime exposure series must have one value per calendar day ("
                     << s.rules.regime_exposure.size() << " for " << u.day_count() << " days)");
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

// Simple close-to-close returns of day d >= 1 into r [tickers]: close[d] / close[d - 1] - 1, NaN where
// either close is missing or the earlier one is not positive.
void close_to_close_returns(const double* close, std::int64_t N, std::int64_t d, Vec& r) {
  for (std::int64_t i = 0; i < N; ++i) {
    const double c0 = close[(d - 1) * N + i], c1 = close[d * N + i];
    r[static_cast<std::size_t>(i)] = std::isfinite(c0) && std::isfinite(c1) && c0 > 0 ? c1 / c0 - 1 : kNaN;
  }
}

// The sector groups of the constraints, in order of first appearance; a ticker without a sector is in
// "(unknown)".
struct Sectors {
  std::vector<std::string> names;  // [sectors]
  std::vector<int> of;             // [tickers]: index into names
};

Sectors sectors_of(const data::Universe& u) {
  const std::int64_t N = u.ticker_count();
  std::map<std::string, int> sector_index;
  Sectors sectors;
  sectors.of.resize(static_cast<std::size_t>(N));
  for (std::int64_t i = 0; i < N; ++i) {
    const std::string name =
        static_cast<std::size_t>(i) < u.sector.size() && !u.sector[static_cast<std::size_t>(i)].empty()
            ? u.sector[static_cast<std::size_t>(i)]
            : "(unknown)";
    auto [it, added] = sector_index.try_emplace(name, static_cast<int>(sectors.names.size()));
    if (added) sectors.names.push_back(name);
    sectors.of[static_cast<std::size_t>(i)] = it->second;
  }
  return sectors;
}

// The calibration of the predictions, [days]: the daily rank IC of (p_s, traded return of s) over the
// names that have both (NaN with fewer than 10), from `predictions`, or from `history` on its days
// before the predictions' first. The IC of day s is known once the trade of day s has exited, at day
// s + label_end_offset; the caller counts it from then on.
std::vector<double> daily_information_coefficients(const data::Universe& u,
                                                   const PredictionPanel& predictions,
                                                   const PredictionPanel* history) {
  const std::int64_t D = u.day_count(), N = u.ticker_count();
  const std::vector<double> traded = traded_returns(u, predictions.label.timing);
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
  return ic_of_day;
}

// w' S w, with S the day's covariance [n, n] and w [n].
double variance_of(const Vec& S, std::size_t n, const Vec& w) {
  Vec sw(n);
  blas::gemv(blas::Trans::no, static_cast<std::int64_t>(n), static_cast<std::int64_t>(n), 1.0, S.data(),
             static_cast<std::int64_t>(n), w.data(), 0.0, sw.data());
  return std::inner_product(w.begin(), w.end(), sw.begin(), 0.0);
}

// The method and the settings that shape the weights, one line (OptimizerResult::description).
std::string describe(const OptimizerSpec& spec, std::int64_t horizon) {
  const auto& c = spec.constraints;
  const auto& rules = spec.rules;
  std::ostringstream about;
  about << spec.method << ", " << spec.risk.estimator << " covariance over " << spec.risk.lookback
        << " days, " << (c.long_only ? "long only" : "long/short") << ", name cap " << percent(c.name_max)
        << ", sector cap " << percent(c.sector_max);
  if (c.bucket_max[0] < 1 || c.bucket_max[1] < 1 || c.bucket_max[2] < 1)
    about << ", cap terciles point in time (snapshot shares x close[t])";
  if (horizon > 1) about << ", " << horizon << " overlapping tranches";
  if (std::isfinite(c.turnover_max)) about << ", turnover <= " << percent(c.turnover_max) << "/day";
  if (rules.drawdown_control) about << ", drawdown control";
  if (rules.target_volatility > 0) about << ", vol target " << percent(rules.target_volatility);
  if (rules.stop_loss > 0) about << ", stop-loss " << percent(rules.stop_loss);
  if (rules.take_profit > 0) about << ", take-profit " << percent(rules.take_profit);
  if (!rules.regime_exposure.empty()) about << ", regime exposure";
  return about.str();
}

// What the risk model knows of day d before the day's trades: computed one day ahead on a worker thread.
struct RiskDay {
  std::vector<std::int64_t> candidates;  // present, with a call (not an abstention), a full window
  Vec covariance;                        // of the candidates (decision days with at least 2)
};

// One decision day: the eligible names, what is known of them, and the QP built for them.
struct Day {
  Day(std::int64_t day, double drawdown_, Vec& held_, Vec& entry_) : d(day), held(held_), entry(entry_) {
    decision.day = day;
    decision.drawdown = drawdown_;
  }
  std::int64_t d;
  Vec& held;   // [tickers] the tranche rebalanced today (d mod H), fractions of its equity, drifted
  Vec& entry;  // [tickers] its positions' entry closes; NaN when flat
  bool abstained = false;           // the model abstained on some name today
  std::vector<std::int64_t> names;  // [n] eligible tickers, ascending
  std::vector<bool> kept;           // [n] or empty: held names the model abstains on (no view, not grown)
  std::size_t n = 0;
  Vec p, mu;                  // [n] probabilities of the call, expected daily returns
  QpProblem qp;               // over the n names' weights
  double variance_scale = 0;  // mean of diag(S): the mean-variance family's P = S / variance_scale
  bool kelly = false, mean_variance_family = false;
  bool warm_ok = false;           // the run's warm start fits today's problem
  double last_inverse_gamma = 0;  // 1 / gamma of the last solve (the minimum-position re-solve repeats it)
  DayDecision decision;
  std::vector<std::string> fired;  // risk rules and fallbacks that acted, in order (decision.rules)
};

// One run of optimize_portfolio: the state carried from day to day (risk model, warm starts, the managed
// portfolio's tranches, equity and stops) and the steps of a day's decision. Day d (1 <= d < D):
//   1. mark the tranches to day d's closes (equity, drawdown) and count the ICs known by d;
//   2. on a day with predictions: stops, eligible names, risk model, expected returns, the QP's
//      constraints and objective, the method's solve(s), the minimum position, then the risk rules'
//      exposure scale and the new holdings of tranche d mod H.
class OptimizerRun {
 public:
  OptimizerRun(const data::Universe& u, const PredictionPanel& predictions, const PredictionPanel* history,
               const OptimizerSpec& spec)
      : u_(u),
        predictions_(predictions),
        spec_(spec),
        c_(spec.constraints),
        rules_(spec.rules),
        D_(u.day_count()),
        N_(u.ticker_count()),
        H_(predictions.label.timing.horizon),
        close_(u.close.data<double>()),
        prob_(predictions.probability.data<double>()),
        sectors_(sectors_of(u)),
        bucket_of_(market_cap_buckets(u)),
        ic_of_day_(daily_information_coefficients(u, predictions, history)),
        known_after_(predictions.label.timing.label_end_offset()),
        moments_(N_, spec.risk.lookback,
                 spec.risk.estimator == "ewma" ? std::pow(0.5, 1.0 / spec.risk.halflife) : 1.0),
        solver_(spec.solver),
        tranche_held_(static_cast<std::size_t>(H_), Vec(static_cast<std::size_t>(N_), 0.0)),
        tranche_entry_(static_cast<std::size_t>(H_), Vec(static_cast<std::size_t>(N_), kNaN)),
        barred_until_(static_cast<std::size_t>(N_), -1),
        returns_(static_cast<std::size_t>(N_)) {
    result_.weights = Tensor::full({D_, N_}, kNaN, DType::f64);
    result_.label = predictions.label;
  }

  OptimizerResult run() {
    if (D_ > 1) next_day_ = std::async(std::launch::async, [this] { return prepare(1); });
    for (std::int64_t d = 1; d < D_; ++d) {
      RiskDay risk_day = next_day_.get();
      const double drawdown = mark_to_market(d);
      count_known_outcomes(d);
      if (d < predictions_.first_day || d > predictions_.last_day) {
        start_next_day(d);
        continue;
      }
      decide(d, risk_day, drawdown);
    }
    return std::move(result_);
  }

 private:
  // ---- the risk model, one day ahead ----------------------------------------------------------------
  // The risk model runs one day ahead on a second thread: day d + 1's moments and covariance (of the
  // names eligible before the stop-loss bars, which depend on today's trades) are computed while day d's
  // QP is solved. The results are the serial ones: a day whose names differ (a barred name) computes its
  // covariance on this thread, while the worker is idle.

  // Day d's returns into the moments, and the day's candidates with their covariance.
  RiskDay prepare(std::int64_t d) {
    SerialRegion serial;  // the thread pool belongs to the caller's thread
    RiskDay day;
    Vec r(static_cast<std::size_t>(N_));
    close_to_close_returns(close_, N_, d, r);
    moments_.push(r);
    if (d < predictions_.first_day || d > predictions_.last_day) return day;
    for (std::int64_t i = 0; i < N_; ++i)
      if (u_.present[static_cast<std::size_t>(d * N_ + i)] && std::isfinite(prob_[d * N_ + i]) &&
          !predictions_.abstained(d * N_ + i) && moments_.full(static_cast<std::size_t>(i)))
        day.candidates.push_back(i);
    if (day.candidates.size() >= 2)
      day.covariance = moments_.covariance(day.candidates, spec_.risk.estimator);
    return day;
  }
  // Once per day, after this thread's last use of `moments_`.
  void start_next_day(std::int64_t d) {
    if (d + 1 < D_ && !next_day_.valid())
      next_day_ = std::async(std::launch::async, [this, d] { return prepare(d + 1); });
  }

  // ---- the managed portfolio ------------------------------------------------------------------------
  // With a horizon of h days the book is h overlapping tranches (backtest.h): the decision of day d
  // rebalances tranche d mod h only, so its turnover, entries and stops are that tranche's. Each
  // tranche's weights are fractions of its own equity, drifted daily; the book's return is their mean.

  // Marks each tranche with today's returns and drifts its weights (the worker fed the same returns to
  // the risk model); returns the book's drawdown from its peak, 1 - equity / peak.
  double mark_to_market(std::int64_t d) {
    close_to_close_returns(close_, N_, d, returns_);
    double portfolio_return = 0;
    for (Vec& held : tranche_held_)
      portfolio_return += drift_tranche(held, returns_, u_, d) / static_cast<double>(H_);
    equity_ *= 1 + portfolio_return;
    peak_ = std::max(peak_, equity_);
    return 1 - equity_ / peak_;
  }
  // The IC of the decision whose trade exited by today joins the running mean.
  void count_known_outcomes(std::int64_t d) {
    const std::int64_t outcome_day = d - known_after_;
    if (outcome_day >= 0 && std::isfinite(ic_of_day_[static_cast<std::size_t>(outcome_day)])) {
      ic_sum_ += ic_of_day_[static_cast<std::size_t>(outcome_day)];
      ++ic_count_;
    }
  }

  // ---- one decision day -----------------------------------------------------------------------------
  void decide(std::int64_t d, RiskDay& risk_day, double drawdown) {
    Day day(d, drawdown, tranche_held_[static_cast<std::size_t>(d % H_)],
            tranche_entry_[static_cast<std::size_t>(d % H_)]);
    for (std::int64_t i = 0; i < N_ && !day.abstained; ++i)
      day.abstained = predictions_.abstained(d * N_ + i);
    apply_stops(day);
    for (const std::int64_t i : risk_day.candidates)  // eligible: candidates not barred by a stop
      if (barred_until_[static_cast<std::size_t>(i)] < d) day.names.push_back(i);
    if (day.abstained && spec_.hold_through_abstention) add_held_abstentions(day);
    day.n = day.names.size();
    day.decision.eligible = static_cast<int>(day.n);
    double* out = result_.weights.data<double>() + d * N_;
    std::fill_n(out, N_, 0.0);
    if (day.n < 2) {
      day.decision.rules = "fewer than 2 eligible names: flat";
      for (std::int64_t i = 0; i < N_; ++i) day.held[static_cast<std::size_t>(i)] = 0;
      result_.decisions.push_back(day.decision);
      start_next_day(d);
      return;
    }
    refresh_risk_model(day, risk_day);
    start_next_day(d);
    expected_returns(day);
    add_constraints(day);
    set_objective(day);
    QpSolution solution = solve_method(day);
    apply_min_position(day, solution);
    warm_ = solution;
    warm_names_ = day.names;
    const std::vector<std::string> binding = binding_constraints(day, solution);
    double volatility = 0;
    const double scale = exposure_scale(day, solution, volatility);
    rebalance(day, solution, scale, volatility, binding, out);
  }

  // The names held in today's tranche that the model abstains on (listed, trading, with a full window,
  // not barred) join the eligible names, in ascending order, as no-view names (`Day::kept`): kept or
  // cut, never grown. moments_ is this thread's here: the worker starts after refresh_risk_model.
  void add_held_abstentions(Day& day) {
    const std::int64_t d = day.d;
    std::vector<std::int64_t> kept;
    for (std::int64_t i = 0; i < N_; ++i) {
      const auto k = static_cast<std::size_t>(i);
      if (day.held[k] != 0 && predictions_.abstained(d * N_ + i) &&
          u_.present[static_cast<std::size_t>(d * N_ + i)] && std::isfinite(prob_[d * N_ + i]) &&
          moments_.full(k) && barred_until_[k] < d)
        kept.push_back(i);
    }
    if (kept.empty()) return;
    std::vector<std::int64_t> merged;
    std::merge(day.names.begin(), day.names.end(), kept.begin(), kept.end(), std::back_inserter(merged));
    day.names = std::move(merged);
    day.kept.assign(day.names.size(), false);
    for (std::size_t a = 0; a < day.names.size(); ++a)
      day.kept[a] = std::binary_search(kept.begin(), kept.end(), day.names[a]);
  }
  bool kept(const Day& day, std::size_t a) const { return !day.kept.empty() && day.kept[a]; }

  // Stops act on positions held into today's close: the gain since entry, signed by the position,
  // at or beyond -stop_loss or +take_profit bars the name for cooldown_days.
  void apply_stops(Day& day) {
    const std::int64_t d = day.d;
    if (rules_.stop_loss > 0 || rules_.take_profit > 0)
      for (std::int64_t i = 0; i < N_; ++i) {
        const double w = day.held[static_cast<std::size_t>(i)], e = day.entry[static_cast<std::size_t>(i)];
        if (w == 0 || !std::isfinite(e) || !std::isfinite(close_[d * N_ + i])) continue;
        const double gain = (w > 0 ? 1 : -1) * (close_[d * N_ + i] / e - 1);
        const bool stop = rules_.stop_loss > 0 && gain <= -rules_.stop_loss,
                   take = rules_.take_profit > 0 && gain >= rules_.take_profit;
        if (stop || take) {
          barred_until_[static_cast<std::size_t>(i)] = d + rules_.cooldown_days;
          day.fired.push_back((stop ? "stop-loss " : "take-profit ") +
                              u_.tickers[static_cast<std::size_t>(i)]);
        }
      }
  }

  // The covariance S [n, n] of today's names: re-estimated when the names changed or every refresh_days,
  // the worker's when its candidates are today's names (no barred name), else computed here.
  void refresh_risk_model(const Day& day, RiskDay& risk_day) {
    if (day.names != risk_names_ || day.d - last_refresh_ >= spec_.risk.refresh_days) {
      risk_covariance_ = day.names == risk_day.candidates
                             ? std::move(risk_day.covariance)
                             : moments_.covariance(day.names, spec_.risk.estimator);
      risk_names_ = day.names;
      last_refresh_ = day.d;
    }
  }

  // Grinold's rule (portfolio.h): mu_a = IC * sqrt(S_aa) * (z_a - mean z) / sd z, z_a = logit(p_a),
  // with IC the running mean IC shrunk by ic_prior_days pseudo-days and floored at 0.
  void expected_returns(Day& day) {
    const std::size_t n = day.n;
    const Vec& S = risk_covariance_;
    const double ic = std::max(0.0, ic_count_ > 0 ? ic_sum_ / (ic_count_ + spec_.ic_prior_days) : 0.0);
    day.decision.ic = ic;
    Vec z(n);
    day.mu.resize(n);
    day.p.resize(n);
    double zm = 0, zs = 0, called = 0;  // the z-score's moments over the names with a call
    for (std::size_t a = 0; a < n; ++a) {
      day.p[a] = kept(day, a) ? 0.5 : prob_[day.d * N_ + day.names[a]];
      z[a] = logit(day.p[a]);
      if (!kept(day, a)) zm += z[a], called += 1;
    }
    zm /= std::max(1.0, called);
    for (std::size_t a = 0; a < n; ++a)
      if (!kept(day, a)) zs += (z[a] - zm) * (z[a] - zm);
    zs = std::sqrt(zs / std::max(1.0, called));
    for (std::size_t a = 0; a < n; ++a)
      day.mu[a] = zs > 0 && !kept(day, a) ? ic * std::sqrt(S[a * n + a]) * (z[a] - zm) / zs : 0.0;
  }

  // The QP's constraints on the n weights: bounds (the name cap; >= 0 long only), the rows (net
  // exposure; each sector's and each market-cap bucket's net weight, point in time), the gross limit
  // (long/short) and the turnover limit against the drifted weights. Names that left the eligible set
  // are sold outside the QP, and that forced turnover comes off the limit.
  void add_constraints(Day& day) {
    const std::size_t n = day.n;
    const std::int64_t d = day.d;
    const auto& names = day.names;
    QpProblem& qp = day.qp;
    qp.n = static_cast<std::int64_t>(n);
    qp.lower.assign(n, c_.long_only ? 0.0 : -c_.name_max);
    qp.upper.assign(n, c_.name_max);
    for (std::size_t a = 0; a < n; ++a)
      qp.variable_names.push_back(u_.tickers[static_cast<std::size_t>(names[a])]);
    for (std::size_t a = 0; a < n; ++a)  // a no-view name: between 0 and what is held
      if (kept(day, a)) {
        const double held = day.held[static_cast<std::size_t>(names[a])];
        qp.lower[a] = std::max(qp.lower[a], std::min(0.0, held));
        qp.upper[a] = std::min(qp.upper[a], std::max(0.0, held));
      }
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
    day.kelly = spec_.method == "kelly";
    add_row("net exposure", day.kelly ? std::min(0.0, c_.net_min) : c_.net_min, c_.net_max,
            [](std::int64_t) { return true; });
    if (c_.sector_max > 0)
      for (std::size_t g = 0; g < sectors_.names.size(); ++g)
        add_row("sector " + sectors_.names[g], -c_.sector_max, c_.sector_max, [&](std::int64_t i) {
          return sectors_.of[static_cast<std::size_t>(i)] == static_cast<int>(g);
        });
    const char* bucket_names[3] = {"large cap", "mid cap", "small cap"};
    for (int b = 0; b < 3; ++b)
      if (c_.bucket_max[b] < 1)
        add_row(bucket_names[b], -c_.bucket_max[b], c_.bucket_max[b],
                [&](std::int64_t i) { return bucket_of_[static_cast<std::size_t>(d * N_ + i)] == b; });
    if (!c_.long_only) qp.gross_limit = c_.gross_max;
    qp.reference.assign(n, 0.0);
    double forced = 0;
    for (std::int64_t i = 0; i < N_; ++i) forced += std::abs(day.held[static_cast<std::size_t>(i)]);
    for (std::size_t a = 0; a < n; ++a) {
      qp.reference[a] = day.held[static_cast<std::size_t>(names[a])];
      forced -= std::abs(qp.reference[a]);
    }
    if (std::isfinite(c_.turnover_max)) qp.l1_limit = std::max(0.0, c_.turnover_max - forced);
  }

  // The objective: a heuristic method's target w* (scaled to the budget) projected, P = I and
  // q = -w*; or the mean-variance family's P = S / variance_scale (unit mean variance, as ADMM
  // converges best with P of order 1; OSQP scales too), whose q = -mu / (gamma variance_scale) and l1
  // cost are set per solve.
  void set_objective(Day& day) {
    const std::size_t n = day.n;
    const Vec& S = risk_covariance_;
    QpProblem& qp = day.qp;
    for (std::size_t a = 0; a < n; ++a) day.variance_scale += S[a * n + a] / static_cast<double>(n);
    day.mean_variance_family = spec_.method == "min_variance" || spec_.method == "mean_variance" ||
                               spec_.method == "max_sharpe" || spec_.method == "target_risk" || day.kelly;
    Vec target = heuristic_target(day);
    const double budget =
        std::min(std::clamp(1.0, c_.net_min, c_.net_max), static_cast<double>(n) * c_.name_max);
    if (!target.empty()) {
      for (double& w : target) w *= budget;
      qp.P.assign(n * n, 0.0);
      for (std::size_t a = 0; a < n; ++a) qp.P[a * n + a] = 1.0;
      qp.q.resize(n);
      for (std::size_t a = 0; a < n; ++a) qp.q[a] = -target[a];
    } else {
      qp.P.resize(n * n);
      const double inverse_scale = 1 / day.variance_scale;
      std::transform(S.begin(), S.end(), qp.P.begin(), [&](double v) { return v * inverse_scale; });
      qp.q.assign(n, 0.0);
    }
  }

  // The heuristic methods' target weights [n] summing to 1 (allocation.h); empty for the mean-variance
  // family. risk_parity starts from yesterday's target when the names are the same.
  Vec heuristic_target(const Day& day) {
    const std::size_t n = day.n;
    const Vec& S = risk_covariance_;
    Vec target;
    auto covariance_tensor = [&] {  // allocation.h's rules take a Tensor: a copy, made only for them
      return Tensor::from<double>(S, {static_cast<std::int64_t>(n), static_cast<std::int64_t>(n)});
    };
    if (spec_.method == "equal_weight") target = equal_weights(static_cast<std::int64_t>(n));
    if (spec_.method == "inverse_volatility") target = inverse_volatility_weights(covariance_tensor());
    if (spec_.method == "risk_parity") {
      target = risk_parity_weights(
          covariance_tensor(), 1e-8, 50,
          day.names == target_names_ ? std::span<const double>(last_target_) : std::span<const double>());
      last_target_ = target, target_names_ = day.names;
    }
    if (spec_.method == "hrp") target = hrp_weights(covariance_tensor());
    if (spec_.method == "confidence_top_k") {  // the top_k names by p above 1/2, weighted by p - 1/2
      const Vec& p = day.p;
      std::vector<std::size_t> order(n);
      std::iota(order.begin(), order.end(), 0);
      std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return p[a] > p[b]; });
      target.assign(n, 0.0);
      double total = 0;
      for (std::size_t k = 0; k < order.size() && k < static_cast<std::size_t>(spec_.top_k); ++k)
        if (p[order[k]] > 0.5) total += target[order[k]] = p[order[k]] - 0.5;
      for (double& w : target) w = total > 0 ? w / total : 1.0 / static_cast<double>(n);
    }
    return target;
  }

  // One solve at 1 / gamma = inverse_gamma (the mean-variance family's q = -mu / (gamma variance_scale)
  // and l1 cost = cost_penalty / (gamma variance_scale)), warm from the last solution, with the
  // fallbacks that keep a day tradable: a stalled warm start solved cold, an unreachable turnover limit
  // dropped, and on a day with abstentions an unreachable net floor dropped. Unless `required` is false,
  // a day that still fails is an error naming the conflicting constraints; a solved one becomes the warm
  // start and counts in the decision's iterations.
  QpSolution solve(Day& day, double inverse_gamma, bool required = true) {
    const std::size_t n = day.n;
    QpProblem& qp = day.qp;
    day.last_inverse_gamma = inverse_gamma;
    if (day.mean_variance_family) {
      for (std::size_t a = 0; a < n; ++a) qp.q[a] = -day.mu[a] * inverse_gamma / day.variance_scale;
      qp.l1_cost = c_.cost_penalty_bps * 1e-4 * inverse_gamma / day.variance_scale;
    }
    QpSolution s = solver_.solve(qp, day.warm_ok ? &warm_ : nullptr);
    if (s.status == QpStatus::max_iterations && day.warm_ok)
      s = solver_.solve(qp);  // a stalled warm start: cold
    if (s.status == QpStatus::primal_infeasible && std::isfinite(qp.l1_limit)) {
      const double limit = qp.l1_limit;  // the turnover limit can be out of reach after a forced sale
      qp.l1_limit = kInfinity;
      s = solver_.solve(qp);
      if (s.status == QpStatus::solved)
        day.fired.push_back("turnover limit " + percent(limit) + " relaxed (infeasible)");
    }
    // On a day the model abstained on some names (no candidates), the few callable ones may not hold
    // the whole net floor under the name, sector and cap-bucket limits: the rest stays in cash rather
    // than the day failing. (Without abstentions, such limits are a configuration error, named below.)
    const auto net_row = static_cast<std::size_t>(
        std::find(qp.row_names.begin(), qp.row_names.end(), "net exposure") - qp.row_names.begin());
    if (s.status == QpStatus::primal_infeasible && day.abstained && net_row < qp.row_lower.size() &&
        qp.row_lower[net_row] > 0) {
      const double floor = qp.row_lower[net_row];
      qp.row_lower[net_row] = 0;
      s = solver_.solve(qp);
      if (s.status == QpStatus::solved)
        day.fired.push_back("net floor " + percent(floor) + " relaxed (infeasible with " + std::to_string(n) +
                            " callable names)");
    }
    if (!required && s.status != QpStatus::solved) return s;
    require_solved(s, "portfolio_optimizer, " + data::format_date(u_.days[static_cast<std::size_t>(day.d)]) +
                          ", " + spec_.method);
    day.decision.iterations += s.iterations;
    day.decision.active_set_passes += s.polish_passes;
    warm_ = s;
    day.warm_ok = true;
    return s;
  }

  // The method's solution: minimum variance (1 / gamma = 0; also the mean-variance family's fallback
  // without measured skill, but for target_risk), one solve at the method's gamma (mean_variance, kelly),
  // a search over gamma (max_sharpe, target_risk), or the projection of a heuristic target.
  QpSolution solve_method(Day& day) {
    // Yesterday's solution as today's start, carried over to today's names when they changed.
    if (day.names != warm_names_ && !warm_.x.empty())
      warm_ = carried_over(warm_, warm_names_, day.names, day.qp.rows());
    day.warm_ok = !warm_.x.empty();
    const bool has_alpha = std::any_of(day.mu.begin(), day.mu.end(), [](double m) { return m != 0; });
    if (spec_.method == "min_variance" ||
        (day.mean_variance_family && !has_alpha && spec_.method != "target_risk")) {
      QpSolution solution = solve(day, 0.0);
      if (spec_.method != "min_variance") day.fired.push_back("no measured skill (IC 0): minimum variance");
      return solution;
    }
    if (spec_.method == "mean_variance" || day.kelly)
      return solve(day, day.kelly ? spec_.kelly_fraction : 1.0 / spec_.risk_aversion);
    if (spec_.method == "max_sharpe") return solve_max_sharpe(day);
    if (spec_.method == "target_risk") return solve_target_risk(day, has_alpha);
    return solve(day, 0.0);
  }

  // Golden-section search on log10(1/gamma) in [-3, 1] (from about minimum variance to concentrated
  // portfolios at daily alphas) for the highest ex-ante Sharpe ratio mu'w / sqrt(w'Sw); points the
  // solver cannot reach within its iterations are skipped.
  QpSolution solve_max_sharpe(Day& day) {
    const std::size_t n = day.n;
    auto sharpe = [&](double log_inverse_gamma, QpSolution* keep) {
      QpSolution s = solve(day, std::pow(10.0, log_inverse_gamma), false);
      if (s.status != QpStatus::solved) return -kInfinity;  // a corner the solver could not reach: skip
      double m = 0;
      for (std::size_t a = 0; a < n; ++a) m += day.mu[a] * s.x[a];
      const double value = m / std::sqrt(std::max(variance_of(risk_covariance_, n, s.x), 1e-30));
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
    if (sharpe(0.5 * (lo + hi), &best) > -kInfinity) return best;
    QpSolution solution = solve(day, 0.0);
    day.fired.push_back("max Sharpe search did not converge: minimum variance");
    return solution;
  }

  // The gamma whose ex-ante variance w'Sw reaches target_volatility^2 / 252, by bisection on
  // log10(1/gamma) in [-3, 1] (the variance rises with 1/gamma); minimum variance when even that is
  // above the target, the riskiest solution when the target is out of reach.
  QpSolution solve_target_risk(Day& day, bool has_alpha) {
    const std::size_t n = day.n;
    const Vec& S = risk_covariance_;
    const double target_variance = std::pow(spec_.target_volatility, 2) / 252.0;
    QpSolution solution = solve(day, 0.0);
    if (variance_of(S, n, solution.x) > target_variance) {
      day.fired.push_back("target risk below the minimum-variance portfolio's: minimum variance");
    } else if (has_alpha) {
      double lo = -3, hi = 1;  // log10(1/gamma); volatility rises with 1/gamma
      QpSolution top = solve(day, std::pow(10.0, hi), false);
      if (top.status == QpStatus::solved && variance_of(S, n, top.x) <= target_variance) {
        solution = std::move(top);
        day.fired.push_back("target risk above reach: the riskiest solution");
      } else {
        for (int k = 0; k < 20; ++k) {
          const double mid = 0.5 * (lo + hi);
          QpSolution s = solve(day, std::pow(10.0, mid), false);
          const bool within = s.status == QpStatus::solved && variance_of(S, n, s.x) <= target_variance;
          (within ? lo : hi) = mid;  // an unsolved point counts as too far
          if (within) solution = std::move(s);
        }
      }
    }
    return solution;
  }

  // Minimum position size (not convex): the names below it are fixed at 0 and the others held at least
  // at it, and the day solved again; when that is infeasible the first solution stands, and says so.
  // The QP is restored afterwards (the binding report reads the day's bounds and rows).
  void apply_min_position(Day& day, QpSolution& solution) {
    if (!(c_.min_position > 0)) return;
    QpProblem& qp = day.qp;
    const QpProblem before = qp;
    int dropped = 0;
    for (std::size_t a = 0; a < day.n; ++a) {
      if (std::abs(solution.x[a]) < c_.min_position) {
        dropped += solution.x[a] != 0 ? 1 : 0;
        qp.lower[a] = qp.upper[a] = 0.0;
      } else if (solution.x[a] > 0) {
        qp.lower[a] = c_.min_position;
      } else {
        qp.upper[a] = -c_.min_position;
      }
    }
    if (dropped > 0) {
      QpSolution again = solve(day, day.last_inverse_gamma, false);
      if (again.status == QpStatus::solved) {
        solution = std::move(again);
        day.fired.push_back("minimum position: " + std::to_string(dropped) + " dropped");
      } else {
        day.fired.push_back("minimum position: " + std::to_string(dropped) +
                            " kept (dropping them is infeasible)");
      }
    }
    qp = before;
  }

  // The constraints at their bound (within 1e-5): the name cap (with a count), the rows (but the net
  // exposure row when it is an equality, which always binds), the turnover and gross limits.
  std::vector<std::string> binding_constraints(const Day& day, const QpSolution& solution) const {
    const std::size_t n = day.n;
    const QpProblem& qp = day.qp;
    std::vector<std::string> binding;
    const double tol = 1e-5;
    int at_cap = 0;
    for (std::size_t a = 0; a < n; ++a) at_cap += std::abs(solution.x[a]) >= c_.name_max - tol ? 1 : 0;
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
    if (!c_.long_only && gross >= c_.gross_max - tol) binding.push_back("gross limit");
    return binding;
  }

  // Risk rules: one exposure scale, the product of the drawdown step, the regime factor and the
  // volatility target's min(max_scale, target / ex-ante volatility); `volatility` receives the
  // solution's annualised ex-ante volatility sqrt(252 w'Sw).
  double exposure_scale(Day& day, const QpSolution& solution, double& volatility) {
    double scale = 1.0;
    if (rules_.drawdown_control) {
      const double drawdown = day.decision.drawdown;
      const double s = drawdown_scale(drawdown, rules_.drawdown_steps);
      if (s < 1) day.fired.push_back("drawdown " + percent(drawdown) + " -> exposure " + percent(s));
      scale *= s;
    }
    if (!rules_.regime_exposure.empty()) {
      const double r = rules_.regime_exposure[static_cast<std::size_t>(day.d)];
      if (std::isfinite(r) && r != 1) {
        day.fired.push_back("regime -> exposure " + percent(r));
        scale *= r;
      }
    }
    volatility = std::sqrt(std::max(0.0, variance_of(risk_covariance_, day.n, solution.x)) * 252.0);
    if (rules_.target_volatility > 0 && volatility > 0) {
      const double s = std::min(rules_.max_scale, rules_.target_volatility / volatility);
      day.fired.push_back("volatility target: x" + std::to_string(s).substr(0, 5));
      scale *= s;
    }
    return scale;
  }

  // The decision (weights below 1e-9 dropped) into `out` [tickers], the tranche's new holdings and entry
  // closes, and the managed portfolio's equity net of estimated costs on the traded weight.
  void rebalance(Day& day, const QpSolution& solution, double scale, double volatility,
                 const std::vector<std::string>& binding, double* out) {
    const std::int64_t d = day.d;
    Vec& held = day.held;
    Vec& entry = day.entry;
    DayDecision& decision = day.decision;
    double traded = 0;
    Vec next(static_cast<std::size_t>(N_), 0.0);
    for (std::size_t a = 0; a < day.n; ++a)
      next[static_cast<std::size_t>(day.names[a])] = scale * solution.x[a];
    for (std::int64_t i = 0; i < N_; ++i) {
      const double w =
          std::abs(next[static_cast<std::size_t>(i)]) < 1e-9 ? 0.0 : next[static_cast<std::size_t>(i)];
      traded += std::abs(w - held[static_cast<std::size_t>(i)]);
      if (w != 0 &&
          (held[static_cast<std::size_t>(i)] == 0 || (w > 0) != (held[static_cast<std::size_t>(i)] > 0)))
        entry[static_cast<std::size_t>(i)] = close_[d * N_ + i];
      if (w == 0) entry[static_cast<std::size_t>(i)] = kNaN;
      out[i] = held[static_cast<std::size_t>(i)] = w;
      decision.positions += w != 0 ? 1 : 0;
      decision.net += w;
      decision.gross += std::abs(w);
    }
    equity_ *= 1 - spec_.estimated_cost_bps * 1e-4 * traded;
    decision.turnover = traded;
    decision.exposure_scale = scale;
    decision.ex_ante_volatility = scale * volatility;
    for (const auto& b : binding) decision.binding += (decision.binding.empty() ? "" : "; ") + b;
    for (const auto& f : day.fired) decision.rules += (decision.rules.empty() ? "" : "; ") + f;
    result_.decisions.push_back(std::move(decision));
  }

  const data::Universe& u_;
  const PredictionPanel& predictions_;
  const OptimizerSpec& spec_;
  const ConstraintSpec& c_;
  const RiskRules& rules_;
  const std::int64_t D_, N_, H_;  // days, tickers, horizon (tranches)
  const double* close_;           // [days, tickers]
  const double* prob_;            // [days, tickers] the predictions
  const Sectors sectors_;
  const std::vector<int> bucket_of_;     // [days x tickers] market-cap bucket, point in time
  const std::vector<double> ic_of_day_;  // [days] rank IC of the decision of that day
  const std::int64_t known_after_;       // days until a decision's IC is known (label_end_offset)
  OptimizerResult result_;

  RollingMoments moments_;  // fed by the worker (prepare), read here between its runs
  Vec risk_covariance_;     // [n, n] of risk_names_
  std::vector<std::int64_t> risk_names_;
  std::int64_t last_refresh_ = -1'000'000;

  QpSolver solver_;
  QpSolution warm_;  // the last solution, for the names of warm_names_ (empty before the first)
  std::vector<std::int64_t> warm_names_, target_names_;
  Vec last_target_;  // yesterday's risk-parity target, a warm start for today's

  std::vector<Vec> tranche_held_;              // [H][tickers] each tranche's weights
  std::vector<Vec> tranche_entry_;             // [H][tickers] entry closes
  std::vector<std::int64_t> barred_until_;     // [tickers] last day a stopped name is barred
  double equity_ = 1, peak_ = 1, ic_sum_ = 0;  // the managed portfolio; the sum of the known ICs
  int ic_count_ = 0;
  Vec returns_;  // [tickers] today's close-to-close returns

  // Last, so that it is destroyed first: its destructor waits for a running worker, which reads the
  // members above.
  std::future<RiskDay> next_day_;
};

}  // namespace

OptimizerResult optimize_portfolio(const data::Universe& u, const PredictionPanel& predictions,
                                   const PredictionPanel* history, const OptimizerSpec& spec) {
  check_spec(spec, u);
  const auto start = std::chrono::steady_clock::now();
  if (history != nullptr)
    require_same_timing(history->label, history->source, predictions.label.timing, predictions.source);
  OptimizerResult result = OptimizerRun(u, predictions, history, spec).run();
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  result.description = describe(spec, predictions.label.timing.horizon);
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
