// The backtester: timing of execution, every cost against its formula, the participation cap, delisting
// close-outs, leverage, conservation of money, and no look-ahead (later prices never move earlier P&L).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <numeric>

#include "common/synthetic_store.h"
#include "qf/quant/backtest/backtest.h"
#include "qf/tensor/random.h"

using namespace qf;

namespace {

// A hand-made universe: per ticker its opens, closes and volumes (NaN close = not listed that day).
data::Universe make_universe(const std::vector<std::vector<double>>& opens,
                             const std::vector<std::vector<double>>& closes,
                             const std::vector<std::vector<double>>& volumes) {
  data::Universe u;
  const auto N = static_cast<std::int64_t>(closes.size()), D = static_cast<std::int64_t>(closes[0].size());
  for (std::int64_t i = 0; i < N; ++i) u.tickers.push_back("T" + std::to_string(i));
  for (std::int64_t d = 0; d < D; ++d) u.days.push_back(static_cast<data::Day>(18000 + d));
  for (Tensor* t : {&u.open, &u.high, &u.low, &u.close, &u.volume}) *t = Tensor::empty({D, N}, DType::f64);
  u.listed.assign(static_cast<std::size_t>(D * N), 0);
  u.present.assign(static_cast<std::size_t>(D * N), 0);
  for (std::int64_t d = 0; d < D; ++d)
    for (std::int64_t i = 0; i < N; ++i) {
      const auto k = static_cast<std::size_t>(d * N + i);
      const double c = closes[static_cast<std::size_t>(i)][static_cast<std::size_t>(d)];
      const double o = opens[static_cast<std::size_t>(i)][static_cast<std::size_t>(d)];
      u.close.data<double>()[k] = c;
      u.open.data<double>()[k] = o;
      u.high.data<double>()[k] = std::max(o, c);
      u.low.data<double>()[k] = std::min(o, c);
      u.volume.data<double>()[k] = volumes[static_cast<std::size_t>(i)][static_cast<std::size_t>(d)];
      u.listed[k] = u.present[k] = std::isfinite(c) ? 1 : 0;
    }
  return u;
}

Tensor constant_targets(std::int64_t days, std::vector<double> row) {
  const auto N = static_cast<std::int64_t>(row.size());
  Tensor t = Tensor::empty({days, N}, DType::f64);
  for (std::int64_t d = 0; d < days; ++d) std::copy(row.begin(), row.end(), t.data<double>() + d * N);
  return t;
}

// The hand-worked cases below trade at the next close (close to close), not the default next open.
quant::BacktestOptions close_to_close() {
  quant::BacktestOptions o;
  o.timing.execution = quant::Execution::next_close;
  return o;
}

const std::vector<double> kOpen{100, 100.5, 100, 100, 103}, kClose{100, 101, 99, 102, 104};
const std::vector<double> kVolume(5, 1e9);

}  // namespace

TEST(Backtest, NextCloseAndNextOpenTiming) {
  const auto u = make_universe({kOpen}, {kClose}, {kVolume});
  const Tensor all_in = constant_targets(5, {1.0});
  quant::BacktestOptions o = close_to_close();
  const auto at_close = quant::run_backtest(u, all_in, o);
  // Bought at the close of day 1 on the decision of day 0: day 1 earns nothing, then close to close.
  EXPECT_EQ(at_close.returns[0], 0.0);
  EXPECT_NEAR(at_close.returns[1], 0.0, 1e-15);
  EXPECT_NEAR(at_close.returns[2], 99.0 / 101 - 1, 1e-13);
  EXPECT_NEAR(at_close.returns[3], 102.0 / 99 - 1, 1e-13);
  EXPECT_NEAR(at_close.returns[4], 104.0 / 102 - 1, 1e-13);
  EXPECT_NEAR(at_close.long_exposure[4], 1.0, 1e-12);
  o.timing.execution = quant::Execution::next_open;
  const auto at_open = quant::run_backtest(u, all_in, o);
  EXPECT_NEAR(at_open.returns[1], 101.0 / 100.5 - 1, 1e-13);  // bought at day 1's open
  EXPECT_NEAR(at_open.returns[2], 99.0 / 101 - 1, 1e-13);
  EXPECT_NEAR(at_open.turnover[1], 1.0, 1e-12);
}

TEST(Backtest, EveryCostFollowsItsFormula) {
  const std::vector<double> volume(5, 50000);
  const auto u = make_universe({kOpen}, {kClose}, {volume});
  quant::BacktestOptions o = close_to_close();
  o.initial_capital = 1e6;
  o.costs = {10, 0.005, 1.0, 5, 3, 0.1, 0.0, 0.0};
  Tensor once = constant_targets(5, {0.5});  // one order: NaN (hold) after day 0
  for (std::int64_t d = 1; d < 5; ++d) once.data<double>()[d] = std::nan("");
  const auto r = quant::run_backtest(u, once, o);
  const double q = 0.5e6, shares = q / 101;  // bought at the close of day 1
  const double commission = 10e-4 * q + std::max(1.0, 0.005 * shares), spread = 5e-4 * q, slippage = 3e-4 * q;
  const double impact = 0.1 * 0.02 * std::sqrt(shares / 50000) * q;  // sigma: the 2 % default before 20 days
  EXPECT_NEAR(r.costs.commission, commission, 1e-8);
  EXPECT_NEAR(r.costs.spread, spread, 1e-8);
  EXPECT_NEAR(r.costs.slippage, slippage, 1e-8);
  EXPECT_NEAR(r.costs.impact, impact, 1e-8);
  const double total = commission + spread + slippage + impact;
  EXPECT_NEAR(r.equity[1], 1e6 - total, 1e-6);
  EXPECT_NEAR(r.cost_fraction[1], total / 1e6, 1e-15);
  EXPECT_NEAR(r.gross_returns[1], 0.0, 1e-15);
  // Daily targets rebalance back to 50 % after every move: more orders, more costs.
  EXPECT_GT(quant::run_backtest(u, constant_targets(5, {0.5}), o).costs.total(), total + 3 * 1.0);
}

TEST(Backtest, BorrowIsChargedOnShortsCarriedOvernight) {
  const auto u = make_universe({kOpen}, {kClose}, {kVolume});
  quant::BacktestOptions o = close_to_close();
  o.costs.borrow_bps_per_year = 252;  // 1 bp a day
  const auto r = quant::run_backtest(u, constant_targets(5, {-0.5}), o);
  // Short 0.5e6 at the close of day 1; on day 2 the short of 0.5e6 carried overnight pays 1 bp.
  EXPECT_NEAR(r.equity[2] - r.equity[1], -0.5e6 * (99.0 / 101 - 1) - 0.5e6 * 1e-4, 1e-6);
  EXPECT_NEAR(r.short_exposure[2], 0.5, 1e-12);  // rebalanced to -50 % at the close
  EXPECT_GT(r.costs.borrow, 3 * 0.45e6 * 1e-4);
  o.allow_short = false;
  EXPECT_THROW(quant::run_backtest(u, constant_targets(5, {-0.5}), o), std::invalid_argument);
}

TEST(Backtest, ParticipationCapAndUntradableDays) {
  std::vector<double> volume{1000, 1000, 0, 1000, 1000};  // day 2: no volume
  const auto u = make_universe({kOpen}, {kClose}, {volume});
  quant::BacktestOptions o = close_to_close();
  o.costs.max_participation = 0.1;
  const auto r = quant::run_backtest(u, constant_targets(5, {1.0}), o);
  EXPECT_NEAR(r.weights.at({1, 0}) * r.equity[1], 100 * 101.0, 1e-6);  // 10 % of 1000 shares
  EXPECT_EQ(r.clipped_orders[1], 1);
  EXPECT_EQ(r.clipped_orders[2], 1);  // nothing traded without volume
  EXPECT_NEAR(r.turnover[2], 0.0, 0);
  EXPECT_NEAR(r.weights.at({3, 0}) * r.equity[3], 200 * 102.0, 1e-6);  // another 100 shares on day 3
}

TEST(Backtest, DelistedTickerIsClosedOutAtItsLastClose) {
  const double nan = std::nan("");
  const auto u =
      make_universe({kOpen, {50, 50, 50, nan, nan}}, {kClose, {50, 51, 52, nan, nan}}, {kVolume, kVolume});
  const auto r = quant::run_backtest(u, constant_targets(5, {0.5, 0.5}), close_to_close());
  EXPECT_NEAR(r.weights.at({2, 1}), 0.0, 0) << "sold at the close of day 2, its last";
  EXPECT_NEAR(r.ticker_pnl[1], 0.5e6 * (52.0 / 51 - 1), 1e-6);
  // The proceeds stay in cash: day 3 earns only on the first ticker's half (rebalanced at day 2's close).
  const double equity2 = r.equity[2];
  EXPECT_NEAR(r.equity[3] / equity2 - 1, 0.5 * (102.0 / 99 - 1), 1e-12);
}

TEST(Backtest, LeverageLimitAndConservationOfMoney) {
  const auto s = test_support::synthetic_store(
      "backtest_money", {.tickers = 30, .days = 300, .seed = 5, .ipo_share = 0.2, .delisting_share = 0.2});
  Tensor scores = Tensor::empty({s.universe.day_count(), s.universe.ticker_count()}, DType::f64);
  const Tensor& ret5 = s.features.at("ret_5");
  for (std::int64_t k = 0; k < scores.numel(); ++k) scores.data<double>()[k] = ret5.data<float>()[k];
  Tensor targets = quant::top_k_targets(scores, 5, 5);
  for (std::int64_t k = 0; k < targets.numel(); ++k) targets.data<double>()[k] *= 3.0;  // gross 3
  quant::BacktestOptions o = close_to_close();
  o.max_gross_leverage = 1.5;
  o.costs = {5, 0, 0, 2, 2, 0.1, 0.05, 30};
  const auto r = quant::run_backtest(s.universe, targets, o);
  for (std::int64_t d = 1; d < s.universe.day_count(); ++d)
    EXPECT_LE(r.long_exposure[static_cast<std::size_t>(d)] + r.short_exposure[static_cast<std::size_t>(d)],
              1.5 * 1.05);
  const double pnl = std::accumulate(r.ticker_pnl.begin(), r.ticker_pnl.end(), 0.0);
  EXPECT_NEAR(pnl, r.equity.back() - o.initial_capital, 1e-6 * o.initial_capital);
  EXPECT_GT(r.costs.total(), 0);
}

TEST(Backtest, LaterPricesNeverMoveEarlierReturns) {
  const auto s = test_support::synthetic_store("backtest_causal", {.tickers = 40, .days = 300, .seed = 6});
  const std::int64_t D = s.universe.day_count(), N = s.universe.ticker_count(), cut = 200;
  auto strategy = [&](const data::Universe& u, const data::FeaturePanels& f) {
    Tensor scores = Tensor::empty({D, N}, DType::f64);
    for (std::int64_t k = 0; k < D * N; ++k) scores.data<double>()[k] = f.at("rsi_14").data<float>()[k];
    quant::BacktestOptions o = close_to_close();
    o.costs = {2, 0.005, 1, 3, 2, 0.1, 0.1, 50};
    return quant::run_backtest(u, quant::top_k_targets(scores, 8, 8), o);
  };
  const auto before = strategy(s.universe, s.features);
  data::Universe changed = s.universe;
  for (Tensor* t : {&changed.open, &changed.high, &changed.low, &changed.close, &changed.volume})
    *t = t->clone();
  Rng rng(1);
  for (std::int64_t d = cut + 1; d < D; ++d)
    for (std::int64_t i = 0; i < N; ++i) {
      const double factor = 0.7 + 0.6 * rng.uniform();
      for (Tensor* t : {&changed.open, &changed.high, &changed.low, &changed.close})
        t->data<double>()[d * N + i] *= factor;
      changed.volume.data<double>()[d * N + i] *= 0.5 + rng.uniform();
    }
  const auto after = strategy(changed, quant::compute_features(changed));
  for (std::int64_t d = 0; d <= cut; ++d)
    ASSERT_EQ(before.returns[static_cast<std::size_t>(d)], after.returns[static_cast<std::size_t>(d)])
        << "day " << d;
  bool later_differs = false;
  for (std::int64_t d = cut + 1; d < D; ++d)
    later_differs = later_differs ||
                    before.returns[static_cast<std::size_t>(d)] != after.returns[static_cast<std::size_t>(d)];
  EXPECT_TRUE(later_differs) << "the perturbation must reach the P&L, or the test proves nothing";
}

TEST(Backtest, BuiltInStrategies) {
  const double nan = std::nan("");
  const auto u =
      make_universe({kOpen, {50, 50, 50, 50, 50}}, {kClose, {50, 55, 60, 50, 45}}, {kVolume, kVolume});
  const auto hold = quant::run_backtest(u, quant::buy_and_hold_targets(u), close_to_close());
  EXPECT_NEAR(hold.turnover[1], 1.0, 1e-12);
  for (std::size_t d = 2; d < 5; ++d) EXPECT_EQ(hold.turnover[d], 0.0) << "held, never rebalanced";
  const auto equal = quant::equal_weight_targets(u);
  EXPECT_EQ(equal.at({3, 0}), 0.5);
  Tensor scores = Tensor::from<double>({1.0, 2.0, nan, nan}, {2, 2});
  const Tensor top = quant::top_k_targets(scores, 1, 1);
  EXPECT_EQ(top.at({0, 1}), 0.5);
  EXPECT_EQ(top.at({0, 0}), -0.5);
  EXPECT_TRUE(std::isnan(top.at({1, 0})));  // no score: no decision, hold
  // One name with a score: it gets the whole book (no empty short side halving it).
  const Tensor one = quant::top_k_targets(Tensor::from<double>({0.7, nan}, {1, 2}), 1, 1);
  EXPECT_EQ(one.at({0, 0}), 1.0);
}

TEST(Backtest, TargetsOfDayTActOnDayTPlusOneOnly) {
  const auto s = test_support::synthetic_store("backtest_timing", {.tickers = 20, .days = 120, .seed = 7});
  const std::int64_t N = s.universe.ticker_count(), t = 60;
  const Tensor base = quant::equal_weight_targets(s.universe);
  Tensor changed = base.clone();
  for (std::int64_t i = 0; i < N; ++i) changed.data<double>()[t * N + i] = i % 2 ? 0.09 : 0.0;
  for (const auto execution : {quant::Execution::next_close, quant::Execution::next_open}) {
    quant::BacktestOptions o = close_to_close();
    o.timing.execution = execution;
    o.costs.commission_bps = 5;  // so that a trade shows on the day it happens
    const auto a = quant::run_backtest(s.universe, base, o), b = quant::run_backtest(s.universe, changed, o);
    for (std::int64_t d = 0; d <= t; ++d)
      ASSERT_EQ(a.returns[static_cast<std::size_t>(d)], b.returns[static_cast<std::size_t>(d)])
          << "day " << d;
    EXPECT_NE(a.returns[static_cast<std::size_t>(t + 1)], b.returns[static_cast<std::size_t>(t + 1)]);
  }
}

// The backtest books the label's return: a one-name, zero-cost book with weight 1 decided on day t only
// earns, in that decision's tranche, exactly the traded return of day t, for every execution mode and
// horizon (a delisting inside the holding included).
TEST(Backtest, OneDecisionBooksExactlyTheTradedReturn) {
  const std::vector<double> open{100, 101, 99.5, 103, 102, 104, 107, 106, 108, 110, 109, 111};
  const std::vector<double> close{100.5, 100, 102, 102.5, 103, 106, 105, 107, 109, 108, 110, 112};
  std::vector<double> delisted = close;  // the same prices, listed up to day 7
  for (std::size_t d = 8; d < delisted.size(); ++d) delisted[d] = NAN;
  const std::vector<double> volume(open.size(), 1e9);
  const auto D = static_cast<std::int64_t>(open.size());
  for (const auto& closes : {close, delisted}) {
    const auto u = make_universe({open}, {closes}, {volume});
    std::vector<std::uint8_t> listed(u.listed.begin(), u.listed.end());
    for (const auto mode :
         {quant::Execution::next_open, quant::Execution::next_close, quant::Execution::close})
      for (std::int64_t h = 1; h <= 5; ++h) {
        const auto traded = data::traded_return_series(open, closes, listed, {mode, h});
        for (std::int64_t t = 0; t < D; ++t) {
          const double expected = traded[static_cast<std::size_t>(t)];
          if (!std::isfinite(expected)) continue;
          Tensor w = Tensor::zeros({D, 1}, DType::f64);  // every other decision: flat
          w.data<double>()[t] = 1.0;
          quant::BacktestOptions o;
          o.timing.execution = mode;
          o.timing.horizon = h;
          const auto r = quant::run_backtest(u, w, o);
          const auto tranche = static_cast<std::size_t>(t % h);
          const double start = 1e6 / static_cast<double>(h);
          EXPECT_NEAR(r.tranche_equity[static_cast<std::size_t>((D - 1) * h) + tranche] / start - 1, expected,
                      1e-12)
              << data::to_string(mode) << " h=" << h << " t=" << t;
          EXPECT_NEAR(r.equity.back() - 1e6, start * expected, 1e-6);  // the other tranches stay in cash
        }
      }
  }
}
