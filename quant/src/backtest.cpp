#include "qf/quant/backtest.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <stdexcept>
#include <string>

#include "qf/quant/returns.h"

namespace qf::quant {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kBps = 1e-4;
constexpr double kDefaultVolatility = 0.02;  // impact before a ticker has 20 days of returns

}  // namespace

BacktestResult run_backtest(const data::Universe& u, const Tensor& targets, const BacktestOptions& o) {
  const std::int64_t D = u.day_count(), N = u.ticker_count();
  if (targets.shape() != Shape{D, N} || targets.dtype() != DType::f64)
    throw ShapeError("run_backtest: target weights must be float64 [" + std::to_string(D) + ", " +
                     std::to_string(N) + "], got " + to_string(targets.shape()) + " " +
                     to_string(targets.dtype()));
  if (!(o.initial_capital > 0) || !(o.max_gross_leverage > 0))
    throw std::invalid_argument("run_backtest: initial capital and max_gross_leverage must be positive");
  const double* w = targets.data<double>();
  if (!o.allow_short)
    for (std::int64_t k = 0; k < D * N; ++k)
      if (w[k] < 0)
        throw std::invalid_argument("run_backtest: short target " + std::to_string(w[k]) + " for " +
                                    u.tickers[static_cast<std::size_t>(k % N)] + " on day " +
                                    std::to_string(k / N) + " while shorting is not allowed");
  const double* open = u.open.data<double>();
  const double* close = u.close.data<double>();
  const double* volume = u.volume.data<double>();
  const std::vector<double> sigma =
      o.costs.impact_coefficient > 0 ? realized_volatility_panel(u, 20) : std::vector<double>{};
  const CostModel& c = o.costs;
  const double borrow_per_day = c.borrow_bps_per_year * kBps / 252.0;

  BacktestResult r;
  r.equity.assign(static_cast<std::size_t>(D), o.initial_capital);
  for (auto* v :
       {&r.returns, &r.gross_returns, &r.cost_fraction, &r.turnover, &r.long_exposure, &r.short_exposure})
    v->assign(static_cast<std::size_t>(D), 0.0);
  r.clipped_orders.assign(static_cast<std::size_t>(D), 0);
  r.ticker_pnl.assign(static_cast<std::size_t>(N), 0.0);
  r.weights = Tensor::zeros({D, N}, DType::f64);
  std::vector<double> hold(static_cast<std::size_t>(N), 0.0);
  double cash = o.initial_capital;
  auto listed = [&](std::int64_t d, std::int64_t i) {
    return u.listed[static_cast<std::size_t>(d * N + i)] != 0;
  };

  // Buys (q > 0) or sells q currency of ticker i at `price` on day d, with `vol` the day volume known when
  // the order goes in (for the impact); adds the cost to day_costs.
  auto trade = [&](std::int64_t d, std::int64_t i, double q, double price, double vol, double& day_costs,
                   double& traded) {
    const double notional = std::abs(q), shares = notional / price;
    double commission = c.commission_bps * kBps * notional;
    if (c.commission_per_share > 0) commission += std::max(c.commission_min, c.commission_per_share * shares);
    const double spread = c.half_spread_bps * kBps * notional, slippage = c.slippage_bps * kBps * notional;
    double impact = 0;
    if (c.impact_coefficient > 0 && vol > 0) {
      const double s = sigma[static_cast<std::size_t>((d - 1) * N + i)];
      impact = c.impact_coefficient * (std::isfinite(s) ? s : kDefaultVolatility) * std::sqrt(shares / vol) *
               notional;
    }
    const double cost = commission + spread + slippage + impact;
    r.costs.commission += commission;
    r.costs.spread += spread;
    r.costs.slippage += slippage;
    r.costs.impact += impact;
    hold[static_cast<std::size_t>(i)] += q;
    cash -= q + cost;
    r.ticker_pnl[static_cast<std::size_t>(i)] -= cost;
    day_costs += cost;
    traded += notional;
  };
  auto holdings_value = [&] { return std::accumulate(hold.begin(), hold.end(), 0.0); };
  // Moves holdings by the price ratio to[i] / from[i] (listed tickers with a holding).
  auto mark = [&](std::int64_t d, const double* to, const double* from, std::int64_t from_day) {
    for (std::int64_t i = 0; i < N; ++i) {
      double& h = hold[static_cast<std::size_t>(i)];
      if (h == 0 || !listed(d, i)) continue;
      const double gain = h * (to[d * N + i] / from[from_day * N + i] - 1);
      h += gain;
      r.ticker_pnl[static_cast<std::size_t>(i)] += gain;
    }
  };

  for (std::int64_t d = 1; d < D; ++d) {
    const double before = r.equity[static_cast<std::size_t>(d - 1)];
    if (before <= 0) {  // ruined: nothing left to trade
      r.equity[static_cast<std::size_t>(d)] = before;
      continue;
    }
    double day_costs = 0, traded = 0;
    for (std::int64_t i = 0; i < N; ++i) {  // borrow on the shorts carried overnight
      const double h = hold[static_cast<std::size_t>(i)];
      if (h >= 0) continue;
      const double fee = -h * borrow_per_day;
      cash -= fee;
      r.ticker_pnl[static_cast<std::size_t>(i)] -= fee;
      r.costs.borrow += fee;
      day_costs += fee;
    }
    const bool at_open = o.execution == Execution::next_open;
    const double* price = at_open ? open : close;
    mark(d, price, close, d - 1);  // overnight (next_open) or close to close (next_close)

    // Orders towards yesterday's targets, scaled to the leverage limit.
    const double* row = w + (d - 1) * N;
    double gross = 0;
    for (std::int64_t i = 0; i < N; ++i)
      if (std::isfinite(row[i]) && listed(d, i)) gross += std::abs(row[i]);
    const double scale = gross > o.max_gross_leverage ? o.max_gross_leverage / gross : 1.0;
    const double equity_now = cash + holdings_value();
    // Ruined overnight (equity <= 0): no orders, they would flip every target's sign.
    for (std::int64_t i = 0; i < N && equity_now > 0; ++i) {
      if (!std::isfinite(row[i]) || !listed(d, i)) continue;
      double q = row[i] * scale * equity_now - hold[static_cast<std::size_t>(i)];
      if (std::abs(q) <= 1e-12 * equity_now) continue;
      // At the open only yesterday's volume is known: it sizes the participation cap and the impact.
      const double p = price[d * N + i], vol = volume[(at_open ? d - 1 : d) * N + i];
      if (!u.present[static_cast<std::size_t>(d * N + i)] || !(vol > 0) || !(p > 0)) {
        ++r.clipped_orders[static_cast<std::size_t>(d)];
        continue;
      }
      if (c.max_participation > 0 && std::abs(q) / p > c.max_participation * vol) {
        q = std::copysign(c.max_participation * vol * p, q);
        ++r.clipped_orders[static_cast<std::size_t>(d)];
      }
      trade(d, i, q, p, vol, day_costs, traded);
    }
    if (at_open) mark(d, close, open, d);  // intraday

    // Close out what stops being listed after today, at today's close.
    for (std::int64_t i = 0; i < N; ++i)
      if (hold[static_cast<std::size_t>(i)] != 0 && listed(d, i) && d + 1 < D && !listed(d + 1, i))
        trade(d, i, -hold[static_cast<std::size_t>(i)], close[d * N + i], volume[d * N + i], day_costs,
              traded);

    const double equity = cash + holdings_value();
    r.equity[static_cast<std::size_t>(d)] = equity;
    r.returns[static_cast<std::size_t>(d)] = equity / before - 1;
    r.gross_returns[static_cast<std::size_t>(d)] = (equity + day_costs) / before - 1;
    r.cost_fraction[static_cast<std::size_t>(d)] = day_costs / before;
    r.turnover[static_cast<std::size_t>(d)] = traded / before;
    double longs = 0, shorts = 0;
    for (std::int64_t i = 0; i < N; ++i) {
      const double h = hold[static_cast<std::size_t>(i)];
      (h > 0 ? longs : shorts) += std::abs(h);
      r.weights.data<double>()[d * N + i] = equity > 0 ? h / equity : 0.0;
    }
    r.long_exposure[static_cast<std::size_t>(d)] = equity > 0 ? longs / equity : 0.0;
    r.short_exposure[static_cast<std::size_t>(d)] = equity > 0 ? shorts / equity : 0.0;
  }
  return r;
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
  if (k_long < 0 || k_short < 0 || k_long + k_short == 0)
    throw std::invalid_argument("top_k_targets: need k_long, k_short >= 0 and at least one of them > 0");
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
