#include "qf/quant/backtest/backtest.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <stdexcept>
#include <string>

#include "qf/core/require.h"
#include "qf/quant/signals/returns.h"

namespace qf::quant {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kBps = 1e-4;
constexpr double kDefaultVolatility = 0.02;  // impact before a ticker has 20 days of returns

}  // namespace

namespace {

// One backtest in progress: the tranches' holdings and cash, and the result being filled day by day.
class BacktestRun {
 public:
  BacktestRun(const data::Universe& u, const Tensor& targets, const BacktestOptions& o)
      : u_(u),
        o_(o),
        c_(o.costs),
        D_(u.day_count()),
        N_(u.ticker_count()),
        H_(o.timing.horizon),
        w_(targets.data<double>()),
        open_(u.open.data<double>()),
        close_(u.close.data<double>()),
        volume_(u.volume.data<double>()) {
    if (o.costs.impact_coefficient > 0) sigma_ = realized_volatility_panel(u, 20);
    r_.equity.assign(static_cast<std::size_t>(D_), o.initial_capital);
    for (auto* v : {&r_.returns, &r_.gross_returns, &r_.cost_fraction, &r_.turnover, &r_.long_exposure,
                    &r_.short_exposure})
      v->assign(static_cast<std::size_t>(D_), 0.0);
    r_.clipped_orders.assign(static_cast<std::size_t>(D_), 0);
    r_.ticker_pnl.assign(static_cast<std::size_t>(N_), 0.0);
    r_.weights = Tensor::zeros({D_, N_}, DType::f64);
    r_.tranche_equity.assign(static_cast<std::size_t>(D_ * H_), o.initial_capital / static_cast<double>(H_));
    hold_.assign(static_cast<std::size_t>(H_ * N_), 0.0);
    cash_.assign(static_cast<std::size_t>(H_), o.initial_capital / static_cast<double>(H_));
  }

  BacktestResult run() {
    const bool at_open = o_.timing.execution == Execution::next_open;
    const std::int64_t lag = o_.timing.lag();
    for (std::int64_t d = 0; d < D_; ++d) {
      const double before = d > 0 ? r_.equity[static_cast<std::size_t>(d - 1)] : o_.initial_capital;
      if (before <= 0) {  // ruined: nothing left to trade
        r_.equity[static_cast<std::size_t>(d)] = before;
        continue;
      }
      day_costs_ = traded_ = 0;
      if (d > 0) {
        charge_borrow();
        mark(d, at_open ? open_ : close_, close_, d - 1);  // overnight, or close to close
      }
      if (d - lag >= 0) rebalance(d, d - lag, at_open ? open_ : close_, at_open ? d - 1 : d);
      if (at_open) mark(d, close_, open_, d);  // intraday
      close_out_delistings(d);
      record(d, before);
    }
    return std::move(r_);
  }

 private:
  double& hold(std::int64_t tranche, std::int64_t i) {
    return hold_[static_cast<std::size_t>(tranche * N_ + i)];
  }
  bool listed(std::int64_t d, std::int64_t i) const {
    return u_.listed[static_cast<std::size_t>(d * N_ + i)] != 0;
  }
  double tranche_equity(std::int64_t k) {
    double e = cash_[static_cast<std::size_t>(k)];
    for (std::int64_t i = 0; i < N_; ++i) e += hold(k, i);
    return e;
  }

  // Buys (q > 0) or sells q currency of ticker i for tranche k at `price` on day d, with `vol` the day
  // volume known when the order goes in (for the impact).
  void trade(std::int64_t d, std::int64_t k, std::int64_t i, double q, double price, double vol) {
    const double notional = std::abs(q), shares = notional / price;
    double commission = c_.commission_bps * kBps * notional;
    if (c_.commission_per_share > 0)
      commission += std::max(c_.commission_min, c_.commission_per_share * shares);
    const double spread = c_.half_spread_bps * kBps * notional, slippage = c_.slippage_bps * kBps * notional;
    double impact = 0;
    if (c_.impact_coefficient > 0 && vol > 0) {
      const double s = d > 0 ? sigma_[static_cast<std::size_t>((d - 1) * N_ + i)] : kNaN;
      impact = c_.impact_coefficient * (std::isfinite(s) ? s : kDefaultVolatility) * std::sqrt(shares / vol) *
               notional;
    }
    const double cost = commission + spread + slippage + impact;
    r_.costs.commission += commission;
    r_.costs.spread += spread;
    r_.costs.slippage += slippage;
    r_.costs.impact += impact;
    hold(k, i) += q;
    cash_[static_cast<std::size_t>(k)] -= q + cost;
    r_.ticker_pnl[static_cast<std::size_t>(i)] -= cost;
    day_costs_ += cost;
    traded_ += notional;
  }

  void charge_borrow() {  // on the shorts carried overnight
    const double per_day = c_.borrow_bps_per_year * kBps / 252.0;
    for (std::int64_t k = 0; k < H_; ++k)
      for (std::int64_t i = 0; i < N_; ++i) {
        if (hold(k, i) >= 0) continue;
        const double fee = -hold(k, i) * per_day;
        cash_[static_cast<std::size_t>(k)] -= fee;
        r_.ticker_pnl[static_cast<std::size_t>(i)] -= fee;
        r_.costs.borrow += fee;
        day_costs_ += fee;
      }
  }

  // Moves every tranche's holdings by the price ratio to[d] / from[from_day] (listed tickers).
  void mark(std::int64_t d, const double* to, const double* from, std::int64_t from_day) {
    for (std::int64_t k = 0; k < H_; ++k)
      for (std::int64_t i = 0; i < N_; ++i) {
        double& h = hold(k, i);
        if (h == 0 || !listed(d, i)) continue;
        const double gain = h * (to[d * N_ + i] / from[from_day * N_ + i] - 1);
        h += gain;
        r_.ticker_pnl[static_cast<std::size_t>(i)] += gain;
      }
  }

  // Orders of the tranche of decision `row` towards its targets, scaled to the leverage limit, at
  // price[d]; `volume_day` is the day whose volume is known when the orders go in.
  void rebalance(std::int64_t d, std::int64_t row_day, const double* price, std::int64_t volume_day) {
    const std::int64_t k = row_day % H_;
    const double* row = w_ + row_day * N_;
    double gross = 0;
    for (std::int64_t i = 0; i < N_; ++i)
      if (std::isfinite(row[i]) && listed(d, i)) gross += std::abs(row[i]);
    const double scale = gross > o_.max_gross_leverage ? o_.max_gross_leverage / gross : 1.0;
    const double equity_now = tranche_equity(k);
    // A ruined tranche (equity <= 0) places no orders: they would flip every target's sign.
    for (std::int64_t i = 0; i < N_ && equity_now > 0; ++i) {
      if (!std::isfinite(row[i]) || !listed(d, i)) continue;
      double q = row[i] * scale * equity_now - hold(k, i);
      if (std::abs(q) <= 1e-12 * equity_now) continue;
      const double p = price[d * N_ + i], vol = volume_day >= 0 ? volume_[volume_day * N_ + i] : 0.0;
      if (!u_.present[static_cast<std::size_t>(d * N_ + i)] || !(vol > 0) || !(p > 0)) {
        ++r_.clipped_orders[static_cast<std::size_t>(d)];
        continue;
      }
      if (c_.max_participation > 0 && std::abs(q) / p > c_.max_participation * vol) {
        q = std::copysign(c_.max_participation * vol * p, q);
        ++r_.clipped_orders[static_cast<std::size_t>(d)];
      }
      trade(d, k, i, q, p, vol);
    }
  }

  // Closes out, at today's close, what stops being listed after today.
  void close_out_delistings(std::int64_t d) {
    for (std::int64_t i = 0; i < N_; ++i) {
      if (!listed(d, i) || d + 1 >= D_ || listed(d + 1, i)) continue;
      for (std::int64_t k = 0; k < H_; ++k)
        if (hold(k, i) != 0) trade(d, k, i, -hold(k, i), close_[d * N_ + i], volume_[d * N_ + i]);
    }
  }

  void record(std::int64_t d, double before) {
    const auto day = static_cast<std::size_t>(d);
    double equity = 0;
    for (std::int64_t k = 0; k < H_; ++k) {
      const double e = tranche_equity(k);
      r_.tranche_equity[static_cast<std::size_t>(d * H_ + k)] = e;
      equity += e;
    }
    r_.equity[day] = equity;
    r_.returns[day] = equity / before - 1;
    r_.gross_returns[day] = (equity + day_costs_) / before - 1;
    r_.cost_fraction[day] = day_costs_ / before;
    r_.turnover[day] = traded_ / before;
    double longs = 0, shorts = 0;
    for (std::int64_t i = 0; i < N_; ++i) {
      double h = 0;
      for (std::int64_t k = 0; k < H_; ++k) h += hold(k, i);
      (h > 0 ? longs : shorts) += std::abs(h);
      r_.weights.data<double>()[d * N_ + i] = equity > 0 ? h / equity : 0.0;
    }
    r_.long_exposure[day] = equity > 0 ? longs / equity : 0.0;
    r_.short_exposure[day] = equity > 0 ? shorts / equity : 0.0;
  }

  const data::Universe& u_;
  const BacktestOptions& o_;
  const CostModel& c_;
  const std::int64_t D_, N_, H_;
  const double *w_, *open_, *close_, *volume_;
  std::vector<double> sigma_, hold_, cash_;  // hold_: [tranches, tickers] currency; cash_: [tranches]
  double day_costs_ = 0, traded_ = 0;
  BacktestResult r_;
};

}  // namespace

BacktestResult run_backtest(const data::Universe& u, const Tensor& targets, const BacktestOptions& o) {
  const std::int64_t D = u.day_count(), N = u.ticker_count();
  if (targets.shape() != Shape{D, N} || targets.dtype() != DType::f64)
    throw ShapeError("run_backtest: target weights must be float64 [" + std::to_string(D) + ", " +
                     std::to_string(N) + "], got " + to_string(targets.shape()) + " " +
                     to_string(targets.dtype()));
  QF_REQUIRE(o.initial_capital > 0, "run_backtest", "initial_capital", o.initial_capital, "must be positive");
  QF_REQUIRE(o.max_gross_leverage > 0, "run_backtest", "max_gross_leverage", o.max_gross_leverage,
             "must be positive");
  o.timing.check();
  const double* w = targets.data<double>();
  if (!o.allow_short)
    for (std::int64_t k = 0; k < D * N; ++k)
      QF_REQUIRE_MSG(!(w[k] < 0), "run_backtest",
                     "short target " << w[k] << " for " << u.tickers[static_cast<std::size_t>(k % N)]
                                     << " on day " << k / N << " while shorting is not allowed");
  return BacktestRun(u, targets, o).run();
}

Tensor equal_weight_targets(const data::Universe& u) {
  const std::int64_t D = u.day_count(), N = u.ticker_count();
  Tensor t = Tensor::zeros({D, N}, DType::f64);
  for (std::int64_t d = 0; d < D; ++d) {
    std::int64_t n = 0;
    for (std::int64_t i = 0; i < N; ++i) n += u.listed[static_cast<std::size_t>(d * N + i)];
    for (std::int64_t i = 0; i < N && n > 0; ++i)
      if (u.listed[static_cast<std::size_t>(d * N + i)])
        t.data<double>()[d * N + i] = 1.0 / static_cast<double>(n);
  }
  return t;
}

Tensor buy_and_hold_targets(const data::Universe& u) {
  const std::int64_t D = u.day_count(), N = u.ticker_count();
  Tensor t = Tensor::full({D, N}, kNaN, DType::f64);
  if (D == 0) return t;
  std::int64_t n = 0;
  for (std::int64_t i = 0; i < N; ++i) n += u.listed[static_cast<std::size_t>(i)];
  for (std::int64_t i = 0; i < N; ++i)
    t.data<double>()[i] = u.listed[static_cast<std::size_t>(i)] && n > 0 ? 1.0 / static_cast<double>(n) : 0.0;
  return t;
}

Tensor top_k_targets(const Tensor& scores, int k_long, int k_short) {
  if (scores.rank() != 2 || scores.dtype() != DType::f64)
    throw ShapeError("top_k_targets: scores must be float64 [days, tickers], got " +
                     to_string(scores.shape()));
  QF_REQUIRE(k_long >= 0, "top_k_targets", "k_long", k_long, "must be >= 0");
  QF_REQUIRE(k_short >= 0, "top_k_targets", "k_short", k_short, "must be >= 0");
  QF_REQUIRE(k_long + k_short > 0, "top_k_targets", "k_long + k_short", k_long + k_short, "must be positive");
  const std::int64_t D = scores.dim(0), N = scores.dim(1);
  Tensor t = Tensor::full({D, N}, kNaN, DType::f64);
  std::vector<std::int64_t> order;
  for (std::int64_t d = 0; d < D; ++d) {
    const double* s = scores.data<double>() + d * N;
    double* out = t.data<double>() + d * N;
    order.clear();
    for (std::int64_t i = 0; i < N; ++i)
      if (std::isfinite(s[i])) order.push_back(i);
    if (order.empty()) continue;  // nothing decided today: hold
    // Highest score first; ties by ticker index, so the choice is deterministic.
    std::stable_sort(order.begin(), order.end(), [&](std::int64_t a, std::int64_t b) { return s[a] > s[b]; });
    std::fill(out, out + N, 0.0);
    const auto n = static_cast<std::int64_t>(order.size());
    const std::int64_t longs = std::min<std::int64_t>(k_long, n),
                       shorts = std::min<std::int64_t>(k_short, n - longs);
    // Gross 1: half and half when both sides hold names today, else all on the one side.
    const double long_share = longs > 0 && shorts > 0 ? 0.5 : 1.0, short_share = long_share;
    for (std::int64_t k = 0; k < longs; ++k)
      out[order[static_cast<std::size_t>(k)]] = long_share / static_cast<double>(longs);
    for (std::int64_t k = 0; k < shorts; ++k)
      out[order[static_cast<std::size_t>(n - 1 - k)]] = -short_share / static_cast<double>(shorts);
  }
  return t;
}

}  // namespace qf::quant
