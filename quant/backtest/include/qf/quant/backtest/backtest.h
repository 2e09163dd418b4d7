// Module backtest (qf_quant_backtest): stage 4: the engine (this header), strategies evaluated against a
// benchmark and the plan's scorecard (evaluation.h), the HTML report (report.h). Uses signals, metrics,
// registry and data.
//
// A daily, multi-asset, portfolio-level backtest over the universe panels, with trading costs.
//
// Timing (data/execution.h). Row t of the target weights is decided at the close of day t, with data up
// to t, and is executed at the open of t+1 (Execution::next_open, the default), at the close of t+1
// (next_close) or at the close of t itself (close: market-on-close, an optimistic approximation). A
// decision is held `horizon` days (h): the book is h overlapping tranches, each with 1/h of the
// initial capital; row t rebalances tranche t mod h, which then holds its shares untouched until row
// t+h replaces them. So the tranche of row t books exactly the traded return of decision day t
// (data::traded_return_series), and with h = 1 the book is rebalanced every day.
//
// Accounting, per day d, in currency (holdings per tranche and ticker, and cash per tranche):
//   next_open:  holdings move overnight (open_d / close_{d-1}); trade at open_d towards the targets of
//               d-1 times the tranche's equity at that moment; holdings move intraday (close_d / open_d).
//   next_close: holdings move close to close; trade at close_d towards the targets of d-1.
//   close:      holdings move close to close; trade at close_d towards the targets of d.
// Equity = cash + sum of holdings over all tranches; the day's return is equity_d / equity_{d-1} - 1.
//
// Targets. A weight is a fraction of the tranche's equity (negative: short). NaN means "no order": the
// holding is kept as it is (so a buy-and-hold strategy sets one row and NaN after it). Rows are scaled
// down so that their gross weight (sum of |w|) is at most max_gross_leverage; with allow_short = false
// a negative target is an error. A ticker can be traded only on days with its own row and positive
// volume; before its listing every target is ignored. A ticker whose listing ends is closed out at its
// last close on its last listed day (costs apply).
//
// Costs of a trade of q currency (|q| / price shares) in ticker i on day d, all charged to cash:
//   commission   commission_bps of |q|, plus max(commission_min, commission_per_share * shares) per order
//   spread       half_spread_bps of |q| (half the bid-ask spread is paid on every trade)
//   slippage     slippage_bps of |q|
//   impact       impact_coefficient * sigma_i * sqrt(shares / volume_d) * |q|: the square-root law, sigma_i
//                the 20-day volatility of daily log returns up to d-1 (2 % until 20 returns follow
//                a listing or a missing price)
// and a trade is cut to max_participation * volume_d shares (0 disables the cap). Shorts pay
// borrow_bps_per_year / 252 of their notional each day; cash earns nothing and may go negative only up to
// the leverage limit the targets obey. A tranche whose equity is <= 0 places no orders (ruin).
// With next_open execution, the participation cap and the impact use the previous day's volume (the
// one known at the open).
#pragma once

#include <vector>

#include "qf/data/execution.h"
#include "qf/data/universe.h"

namespace qf::quant {

using data::Execution;

struct CostModel {
  double commission_bps = 0.0;
  double commission_per_share = 0.0;
  double commission_min = 0.0;  // per order, when commission_per_share > 0
  double half_spread_bps = 0.0;
  double slippage_bps = 0.0;
  double impact_coefficient = 0.0;
  double max_participation = 0.0;  // share of the day's volume one order may take; 0: no cap
  double borrow_bps_per_year = 0.0;
};

struct BacktestOptions {
  // When a decision trades and how long it is held (horizon: the number of overlapping tranches).
  data::TradeTiming timing;
  CostModel costs;
  double initial_capital = 1e6;
  double max_gross_leverage = 1.0;
  bool allow_short = true;
};

struct CostBreakdown {
  double commission = 0, spread = 0, slippage = 0, impact = 0, borrow = 0;  // currency, whole backtest
  double total() const { return commission + spread + slippage + impact + borrow; }
};

struct BacktestResult {
  std::vector<double> equity;          // [days] at each close
  std::vector<double> returns;         // [days] net of costs (day 0: 0)
  std::vector<double> gross_returns;   // [days] before that day's costs
  std::vector<double> cost_fraction;   // [days] that day's costs / the previous equity
  std::vector<double> turnover;        // [days] traded notional / the previous equity
  std::vector<double> long_exposure;   // [days] sum of long holdings / equity, at the close
  std::vector<double> short_exposure;  // [days] sum of |short holdings| / equity, at the close
  Tensor weights;                      // [days, tickers] held at each close, fractions of equity
  std::vector<double> tranche_equity;  // [days, horizon] each tranche's equity at each close
  std::vector<double> ticker_pnl;      // [tickers] currency, after each ticker's trading costs and borrow
  std::vector<std::int64_t> clipped_orders;  // [days] orders cut by the participation cap or untradable
  CostBreakdown costs;
};

// target_weights: [days, tickers] float64 (row-major like the universe's panels).
BacktestResult run_backtest(const data::Universe& universe, const Tensor& target_weights,
                            const BacktestOptions& options);

// Simple built-in strategies, as target weights (NaN where nothing is decided):
// equal weights over the tickers listed each day, rebalanced daily;
Tensor equal_weight_targets(const data::Universe& universe);
// the equal-weight portfolio bought on day 0 (over the tickers listed then) and held;
Tensor buy_and_hold_targets(const data::Universe& universe);
// long the k_long highest scores and short the k_short lowest each day (equal weights, gross 1 split
// half long and half short when both are used), among tickers with a finite score; scores [days, tickers].
Tensor top_k_targets(const Tensor& scores, int k_long, int k_short);

}  // namespace qf::quant
