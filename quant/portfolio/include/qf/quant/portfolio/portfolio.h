// Module portfolio (qf_quant_portfolio): stage 3: covariance estimators and allocation rules
// (allocation.h), the daily optimiser with its risk models, methods and risk rules (this header). Uses qp,
// registry, metrics (rank IC, logit), signals and data.
//
// Stage 3 of the plan (portfolio_optimizer): daily target weights from predictions, under constraints,
// with risk rules; every day's decision recorded with its reasons.
//
// Timing. The weights of day t are decided at the close of t from data up to t only: the day's
// predictions, closes up to t (covariance window, volatilities, the portfolio's own drawdown, stops),
// and the calibration of the predictions from pairs (prediction of s, return of s+1) with s+1 <= t.
// run_backtest_evaluation executes them on day t+1.
//
// Expected returns (Grinold's rule, "alpha = IC x volatility x score"): mu_i = IC_t * sigma_i * z_i, z the
// cross-sectional z-score of logit(p_i) among the day's eligible names, sigma_i the name's daily
// volatility from the risk model, IC_t the mean daily rank IC of the predictions so far (shrunk towards
// 0 by `ic_prior_days` pseudo-days, floored at 0: a model without measured skill gets no alpha, and a
// model is never traded against its own sign).
//
// Risk model: the covariance of daily close-to-close returns over the trailing `lookback` days, Ledoit-Wolf
// shrunk (or exponentially weighted), maintained incrementally (O(N^2) a day) and re-estimated every
// `refresh_days`. A name is eligible on day t when it is listed and trades that day, has a prediction,
// and has `lookback` returns of history; a name the model abstains on is not, unless held and
// hold_through_abstention is on (then kept or cut, never grown, alpha 0).
//
// Methods (`method`):
//   equal_weight, inverse_volatility, risk_parity, hrp, confidence_top_k   heuristic targets, projected
//       onto the constraints by the QP (min |w - target|^2 subject to them);
//   min_variance, mean_variance (quadratic utility: max mu'w - gamma/2 w'Sw - costs), max_sharpe (the
//       utility's gamma that maximises ex-ante mu'w / sqrt(w'Sw), golden-section search), target_risk (the
//       gamma whose ex-ante volatility is target_volatility, by bisection), kelly (fractional Kelly:
//       quadratic utility with gamma = 1 / kelly_fraction and cash allowed: net exposure in [0, net_max]).
//
// Constraints: long only, or long/short with gross and net limits; per-name cap; sector caps and
// market-cap bucket caps (terciles of each day's point-in-time market caps, see market_cap_buckets:
// large, mid, small) on the net weight of the group; a turnover limit and a transaction-cost penalty
// (mean-variance family) against the current (drifted) weights; a minimum position size (positions below it
// are dropped and the day re-solved without them). Infeasible constraints are an error naming them.
//
// Risk rules, each optional, applied after the optimiser as one exposure scale and the exclusions:
//   drawdown control  exposure stepped down as the managed portfolio's drawdown passes thresholds
//                     (e.g. 5 % -> 0.75, 10 % -> 0.5), back up as it recovers;
//   volatility target exposure scaled to target_volatility (ex ante), at most max_scale;
//   stop-loss / take-profit  a position whose return since entry passes -stop_loss / +take_profit is
//                     closed and barred for `cooldown_days`;
//   regime hook       exposure times a per-day factor (e.g. from predict_stock_movement's filtered regime
//                     probabilities); NaN = 1.
// The portfolio's own path (for drawdown and stops) is marked to market from closes, net of
// estimated_cost_bps on traded weight.
#pragma once

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "qf/data/universe.h"
#include "qf/quant/qp/qp.h"
#include "qf/quant/registry/registry.h"

namespace qf::quant {

struct RiskModelSpec {
  std::string estimator = "ledoit_wolf";  // ledoit_wolf, sample, ewma
  int lookback = 252;
  double halflife = 63;  // ewma
  int refresh_days = 1;
};

struct ConstraintSpec {
  bool long_only = true;
  double net_min = 1.0, net_max = 1.0;     // sum of weights
  double gross_max = 1.0;                  // sum of |weights|
  double name_max = 0.05;                  // |w_i|
  double sector_max = 0.30;                // |net weight of a sector|; <= 0: none
  double bucket_max[3] = {1.0, 0.5, 0.3};  // large, mid, small market-cap terciles; >= 1: none
  double turnover_max = kInfinity;         // sum |w - w_current| a day
  double cost_penalty_bps = 10.0;          // mean-variance family: cost per unit of turnover
  double min_position = 0.0;
};

struct RiskRules {
  bool drawdown_control = false;
  std::vector<std::pair<double, double>> drawdown_steps = {{0.05, 0.75}, {0.10, 0.5}, {0.15, 0.25}};
  double target_volatility = 0;  // annualised; 0: off
  double max_scale = 1.0;
  double stop_loss = 0, take_profit = 0;  // fractions; 0: off
  int cooldown_days = 5;
  std::vector<double> regime_exposure;  // [days] on the calendar; empty: off
};

struct OptimizerSpec {
  std::string method = "mean_variance";
  double risk_aversion = 10;        // gamma of the quadratic utility (daily units)
  double target_volatility = 0.10;  // target_risk, annualised
  int top_k = 50;                   // confidence_top_k
  double kelly_fraction = 0.25;
  int ic_prior_days = 63;
  double estimated_cost_bps = 10.0;  // marking the managed portfolio
  // A name held when the model abstains on it (PredictionPanel::abstained) stays eligible with no view
  // (alpha 0, p = 0.5): it may be kept or cut, never grown; false (the default): it is sold, no view
  // meaning no position. On holds the turnover of a model that abstains on most names with a call set
  // that changes daily (~120 % a day sold otherwise) but keeps names without a view through a crash,
  // which cost the planted-edge default its only positive Sharpe in a -48 % test year (seed 3).
  bool hold_through_abstention = false;
  RiskModelSpec risk;
  ConstraintSpec constraints;
  RiskRules rules;
  QpSettings solver = [] {
    QpSettings s;
    s.eps_abs = s.eps_rel = 1e-6;
    return s;
  }();
};

// One day's decision and why.
struct DayDecision {
  std::int64_t day = 0;
  int eligible = 0, positions = 0;
  int iterations = 0, active_set_passes = 0;  // the QP solver's ADMM iterations and active-set passes
  double gross = 0, net = 0, ex_ante_volatility = 0, turnover = 0, exposure_scale = 1, ic = 0;
  double drawdown = 0;
  std::string binding;  // constraints at their bound, e.g. "budget; name cap (18); sector Energy"
  std::string rules;    // risk rules that acted, e.g. "drawdown 6.2 % -> 0.75; stop-loss AAPL"
};

struct OptimizerResult {
  Tensor weights;  // [days, tickers] float64; NaN on days without a decision
  std::vector<DayDecision> decisions;
  double seconds = 0;
  std::string description;  // method and settings, one line
  LabelSpec label;          // of the predictions the weights were made for (written with them)
};

// Daily decisions over the days of `predictions` that have any; `history` (may be empty) holds earlier
// predictions (e.g. the registry's CV predictions) that only calibrate the IC.
OptimizerResult optimize_portfolio(const data::Universe& universe, const PredictionPanel& predictions,
                                   const PredictionPanel* history, const OptimizerSpec& spec);

// Point-in-time market caps, [days x tickers] day-major, NaN where unknown or not listed. The
// constituents table's cap is taken as given on the ticker's last listed day (the snapshot day: the
// calendar's last day unless delisted); shares = that cap / the close there, and the cap on day t is
// shares x close[t]. So a day's cap reads no price between it and the snapshot (only the share count,
// held constant, comes from the snapshot).
std::vector<double> point_in_time_market_caps(const data::Universe& universe);
// Market-cap terciles recomputed every day from those caps among the tickers that have one,
// [days x tickers] day-major (0 large, 1 mid, 2 small; -1 unknown).
std::vector<int> market_cap_buckets(const data::Universe& universe);

// HDF5 (/target_weights, /tickers, /dates, /decisions/*) for run_backtest_evaluation --weights, and the
// CSVs decisions.csv (one row a day with its reasons) and weights.csv (date,ticker,weight, non-zero only);
// each file written atomically.
void write_optimizer_output(const std::filesystem::path& folder, const OptimizerResult& result,
                            const data::Universe& universe);

}  // namespace qf::quant
