// portfolio_optimizer's engine: its risk model against allocation.h (itself checked against
// scikit-learn), every constraint on every day, causality, and each risk rule doing what it says.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <map>

#include "common/synthetic_store.h"
#include "qf/quant/portfolio/allocation.h"
#include "qf/quant/portfolio/portfolio.h"

using namespace qf;

namespace {

const data::Universe& universe() {
  static const auto s = test_support::synthetic_store("portfolio", {.tickers = 40, .days = 400, .seed = 17});
  return s.universe;
}

// Predictions with some skill (a noisy look at tomorrow's return: fine for testing mechanics) from day
// `first` on.
quant::PredictionPanel skilled_predictions(const data::Universe& u, std::int64_t first) {
  const std::int64_t D = u.day_count(), N = u.ticker_count();
  quant::PredictionPanel p{Tensor::full({D, N}, std::nan(""), DType::f64), first, D - 2, "test", {}};
  const double* c = u.close.data<double>();
  for (std::int64_t d = first; d < D - 1; ++d)
    for (std::int64_t i = 0; i < N; ++i) {
      if (!u.present[static_cast<std::size_t>(d * N + i)] || !std::isfinite(c[(d + 1) * N + i])) continue;
      const double r = c[(d + 1) * N + i] / c[d * N + i] - 1, noise = std::sin(13.0 * d + 7.0 * i);
      p.probability.data<double>()[d * N + i] = 0.5 + 0.1 * std::tanh(40 * r + 0.8 * noise);
    }
  return p;
}

// The ticker's last listed day: the day its constituents market cap is taken as of.
std::int64_t last_listed_day(const data::Universe& u, std::int64_t i) {
  std::int64_t d = u.day_count() - 1;
  while (d > 0 && !u.listed[static_cast<std::size_t>(d * u.ticker_count() + i)]) --d;
  return d;
}

quant::OptimizerSpec small_spec(const std::string& method) {
  quant::OptimizerSpec s;
  s.method = method;
  s.risk.lookback = 60;
  s.constraints.name_max = 0.10;
  s.constraints.sector_max = 0.35;
  s.ic_prior_days = 5;
  return s;
}

}  // namespace

TEST(Portfolio, RiskModelMatchesAllocationEstimators) {
  // Unconstrained but for the budget, min variance is S^-1 1 / 1'S^-1 1 of the window's covariance.
  const auto& u = universe();
  const std::int64_t N = u.ticker_count(), day = 250;
  auto p = skilled_predictions(u, day);
  p.last_day = day;
  for (const std::string estimator : {"ledoit_wolf", "sample", "ewma"}) {
    auto spec = small_spec("min_variance");
    spec.risk.estimator = estimator;
    spec.constraints.long_only = false;
    spec.constraints.name_max = 100;
    spec.constraints.gross_max = quant::kInfinity;
    spec.constraints.sector_max = 0;
    spec.constraints.bucket_max[1] = spec.constraints.bucket_max[2] = 1;
    spec.constraints.cost_penalty_bps = 0;
    spec.solver.eps_abs = spec.solver.eps_rel = 1e-10;
    spec.solver.max_iterations = 100000;
    const auto r = quant::optimize_portfolio(u, p, nullptr, spec);
    ASSERT_EQ(r.decisions.size(), 1u);
    std::vector<std::int64_t> names;
    for (std::int64_t i = 0; i < N; ++i)
      if (r.weights.data<double>()[day * N + i] != 0) names.push_back(i);
    ASSERT_GT(names.size(), 20u);
    const auto n = static_cast<std::int64_t>(names.size());
    Tensor window = Tensor::empty({60, n}, DType::f64);
    for (std::int64_t t = 0; t < 60; ++t)
      for (std::int64_t a = 0; a < n; ++a) {
        const std::int64_t d = day - 59 + t, i = names[static_cast<std::size_t>(a)];
        window.data<double>()[t * n + a] =
            u.close.data<double>()[d * N + i] / u.close.data<double>()[(d - 1) * N + i] - 1;
      }
    const Tensor S = estimator == "ledoit_wolf" ? quant::ledoit_wolf(window).covariance
                     : estimator == "sample"    ? quant::sample_covariance(window)
                                                : quant::ewma_covariance(window, spec.risk.halflife);
    const auto expected = quant::min_variance_weights(S);
    for (std::int64_t a = 0; a < n; ++a)
      EXPECT_NEAR(r.weights.data<double>()[day * N + names[static_cast<std::size_t>(a)]],
                  expected[static_cast<std::size_t>(a)], 1e-6)
          << estimator << " " << u.tickers[static_cast<std::size_t>(names[static_cast<std::size_t>(a)])];
  }
}

TEST(Portfolio, EveryConstraintHoldsOnEveryDay) {
  const auto& u = universe();
  const std::int64_t N = u.ticker_count();
  const auto buckets = quant::market_cap_buckets(u);
  for (const std::string method : {"mean_variance", "equal_weight", "risk_parity", "confidence_top_k",
                                   "max_sharpe", "target_risk", "kelly", "hrp", "inverse_volatility"}) {
    auto p = skilled_predictions(u, 120);
    const bool searching = method == "max_sharpe" || method == "target_risk";  // many solves a day
    if (searching) p.last_day = 160;
    auto spec = small_spec(method);
    spec.constraints.turnover_max = 0.25;
    spec.constraints.bucket_max[2] = 0.2;
    spec.constraints.min_position = 0.01;
    spec.top_k = 12;
    const auto r = quant::optimize_portfolio(u, p, nullptr, spec);
    ASSERT_GT(r.decisions.size(), searching ? 40u : 200u) << method;
    std::vector<double> previous(static_cast<std::size_t>(N), 0.0);
    int turnover_binding = 0;
    for (const auto& dec : r.decisions) {
      const double* w = r.weights.data<double>() + dec.day * N;
      std::map<std::string, double> sectors;
      double small = 0, net = 0;
      for (std::int64_t i = 0; i < N; ++i) {
        EXPECT_GE(w[i], -1e-9) << method;
        EXPECT_LE(w[i], 0.10 + 1e-5) << method;
        if (w[i] != 0 && dec.rules.find("kept") == std::string::npos) {
          EXPECT_GE(w[i], 0.01 - 1e-9) << method << " min position";
        }
        sectors[u.sector[static_cast<std::size_t>(i)]] += w[i];
        small += buckets[static_cast<std::size_t>(dec.day * N + i)] == 2 ? w[i] : 0.0;
        net += w[i];
      }
      for (const auto& [sector, total] : sectors) EXPECT_LE(total, 0.35 + 1e-4) << method << " " << sector;
      EXPECT_LE(small, 0.2 + 1e-4) << method;
      if (method == "kelly") {
        EXPECT_LE(net, 1 + 1e-4);
      } else {
        EXPECT_NEAR(net, 1.0, 1e-4) << method << " day " << dec.day << " rules " << dec.rules << " binding "
                                    << dec.binding << " it "
                                    << dec.iterations;  // rows hold to the solver tolerance (1e-6) per name
      }
      turnover_binding += dec.binding.find("turnover") != std::string::npos ? 1 : 0;
      previous.assign(w, w + N);
    }
    if (method == "confidence_top_k") {
      EXPECT_GT(turnover_binding, 0) << "the turnover limit never bound";
    }
  }
}

TEST(Portfolio, TurnoverIsMeasuredAgainstDriftedWeights) {
  const auto& u = universe();
  const std::int64_t N = u.ticker_count();
  auto spec = small_spec("mean_variance");
  spec.constraints.turnover_max = 0.1;
  const auto r = quant::optimize_portfolio(u, skilled_predictions(u, 120), nullptr, spec);
  const double* c = u.close.data<double>();
  for (std::size_t k = 1; k < r.decisions.size(); ++k) {
    const std::int64_t d = r.decisions[k].day;
    const double* before = r.weights.data<double>() + (d - 1) * N;
    const double* now = r.weights.data<double>() + d * N;
    double growth = 0;
    std::vector<double> drifted(static_cast<std::size_t>(N));
    for (std::int64_t i = 0; i < N; ++i) {
      const double g = before[i] != 0 ? before[i] * c[d * N + i] / c[(d - 1) * N + i] : 0.0;
      drifted[static_cast<std::size_t>(i)] = g;
      growth += g;
    }
    double traded = 0;
    for (std::int64_t i = 0; i < N; ++i)
      traded += std::abs(now[i] - drifted[static_cast<std::size_t>(i)] / growth);
    EXPECT_LE(traded, 0.1 + 1e-4) << "day " << d;  // to the solver's tolerance (cash of ~1e-5 drifts too)
    EXPECT_NEAR(traded, r.decisions[k].turnover, 1e-4);
  }
}

TEST(Portfolio, DecisionsUseNoFutureData) {
  const auto& u = universe();
  const std::int64_t N = u.ticker_count(), t = 260;
  auto spec = small_spec("mean_variance");
  spec.rules.drawdown_control = true;
  spec.rules.stop_loss = 0.03;
  spec.rules.target_volatility = 0.15;
  const auto p = skilled_predictions(u, 120);
  const auto a = quant::optimize_portfolio(u, p, nullptr, spec);
  data::Universe changed = u;
  auto factor = [](std::int64_t k) { return 1.3 + 0.01 * static_cast<double>(k % 7); };
  for (std::int64_t k = (t + 1) * N; k < changed.close.numel(); ++k)
    changed.close.data<double>()[k] *= factor(k);
  // The constituents' caps are a snapshot on each ticker's last listed day: they move with its close.
  for (std::int64_t i = 0; i < N; ++i)
    if (const std::int64_t snapshot = last_listed_day(u, i); snapshot > t)
      changed.market_cap[static_cast<std::size_t>(i)] *= factor(snapshot * N + i);
  const auto b = quant::optimize_portfolio(changed, p, nullptr, spec);
  for (std::int64_t k = 0; k <= t * N + N - 1; ++k) {
    const double x = a.weights.data<double>()[k], y = b.weights.data<double>()[k];
    ASSERT_TRUE((std::isnan(x) && std::isnan(y)) || x == y) << "day " << k / N << " ticker " << k % N;
  }
  bool differs = false;  // and the perturbation does reach later days
  for (std::int64_t k = (t + 2) * N; k < a.weights.numel(); ++k)
    differs |= a.weights.data<double>()[k] != b.weights.data<double>()[k];
  EXPECT_TRUE(differs);
}

TEST(Portfolio, MarketCapBucketsArePointInTime) {
  // A large cap that crashes after day t is small in the constituents snapshot (taken on the last
  // day, at the crashed price). Buckets from that snapshot would have known on day t that it would be
  // small; the point-in-time caps (snapshot shares x that day's close) must not, so no weight on days
  // <= t may move.
  const auto& u = universe();
  const std::int64_t D = u.day_count(), N = u.ticker_count(), t = 200;
  const auto buckets = quant::market_cap_buckets(u);
  std::int64_t large = -1;
  for (std::int64_t i = 0; i < N && large < 0; ++i)
    if (buckets[static_cast<std::size_t>(t * N + i)] == 0 && last_listed_day(u, i) == D - 1) large = i;
  ASSERT_GE(large, 0);
  data::Universe crashed = u;
  for (Tensor* panel : {&crashed.open, &crashed.high, &crashed.low, &crashed.close})
    for (std::int64_t d = t + 1; d < D; ++d) panel->data<double>()[d * N + large] *= 0.02;
  crashed.market_cap[static_cast<std::size_t>(large)] *= 0.02;  // the same shares at the crashed price
  EXPECT_EQ(quant::market_cap_buckets(crashed)[static_cast<std::size_t>((D - 1) * N + large)], 2);

  auto spec = small_spec("mean_variance");
  spec.constraints.bucket_max[0] = 0.5;  // every tercile's cap binds on some days
  spec.constraints.bucket_max[1] = 0.45;
  spec.constraints.bucket_max[2] = 0.1;
  const auto p = skilled_predictions(u, 120);
  const auto a = quant::optimize_portfolio(u, p, nullptr, spec);
  const auto b = quant::optimize_portfolio(crashed, p, nullptr, spec);
  for (std::int64_t k = 0; k < (t + 1) * N; ++k) {
    const double x = a.weights.data<double>()[k], y = b.weights.data<double>()[k];
    ASSERT_TRUE((std::isnan(x) && std::isnan(y)) || x == y) << "day " << k / N << " ticker " << k % N;
  }
}

TEST(Portfolio, DrawdownControlScalesExposureByItsSteps) {
  const auto& u = universe();
  auto spec = small_spec("equal_weight");
  spec.rules.drawdown_control = true;
  spec.rules.drawdown_steps = {{0.01, 0.8}, {0.03, 0.5}};  // low thresholds, so that they fire here
  const auto r = quant::optimize_portfolio(u, skilled_predictions(u, 120), nullptr, spec);
  auto off = spec;
  off.rules.drawdown_control = false;
  const auto base = quant::optimize_portfolio(u, skilled_predictions(u, 120), nullptr, off);
  int scaled = 0;
  for (const auto& d : r.decisions) {
    const double expected = d.drawdown >= 0.03 ? 0.5 : (d.drawdown >= 0.01 ? 0.8 : 1.0);
    EXPECT_DOUBLE_EQ(d.exposure_scale, expected) << d.day;
    EXPECT_NEAR(d.gross, expected, 1e-5) << d.day;
    scaled += expected < 1 ? 1 : 0;
    if (expected < 1) {
      EXPECT_NE(d.rules.find("drawdown"), std::string::npos);
    }
  }
  EXPECT_GT(scaled, 10);
  // Without the rule the portfolio stays fully invested.
  for (const auto& d : base.decisions) EXPECT_NEAR(d.gross, 1.0, 1e-5);
}

TEST(Portfolio, StopLossBarsTheNameForItsCooldown) {
  const auto& u = universe();
  const std::int64_t N = u.ticker_count();
  auto spec = small_spec("equal_weight");
  spec.rules.stop_loss = 0.02;
  spec.rules.cooldown_days = 4;
  const auto r = quant::optimize_portfolio(u, skilled_predictions(u, 120), nullptr, spec);
  int stops = 0;
  for (std::size_t k = 0; k < r.decisions.size(); ++k) {
    const std::string& text = r.decisions[k].rules;
    for (std::size_t at = text.find("stop-loss "); at != std::string::npos;
         at = text.find("stop-loss ", at + 1)) {
      const std::string ticker = text.substr(at + 10, text.find(';', at) - at - 10);
      const std::int64_t i = u.index_of(ticker);
      ASSERT_GE(i, 0) << ticker;
      ++stops;
      for (std::size_t j = k; j < std::min(r.decisions.size(), k + 5); ++j)
        EXPECT_EQ(r.weights.data<double>()[r.decisions[j].day * N + i], 0.0)
            << ticker << " held during its cooldown";
    }
  }
  EXPECT_GT(stops, 5);
}

TEST(Portfolio, RegimeHookAndVolatilityTargetScaleExposure) {
  const auto& u = universe();
  auto spec = small_spec("min_variance");
  spec.rules.regime_exposure.assign(static_cast<std::size_t>(u.day_count()), std::nan(""));
  for (std::size_t d = 200; d < 260; ++d) spec.rules.regime_exposure[d] = 0.4;
  const auto r = quant::optimize_portfolio(u, skilled_predictions(u, 120), nullptr, spec);
  for (const auto& d : r.decisions)
    EXPECT_NEAR(d.gross, d.day >= 200 && d.day < 260 ? 0.4 : 1.0, 1e-4) << d.day;
  spec.rules.regime_exposure.clear();
  spec.rules.target_volatility = 0.02;  // far below the minimum-variance portfolio's
  const auto v = quant::optimize_portfolio(u, skilled_predictions(u, 120), nullptr, spec);
  for (const auto& d : v.decisions) EXPECT_NEAR(d.ex_ante_volatility, 0.02, 1e-9) << d.day;
}

TEST(Portfolio, InfeasibleConstraintsAreNamed) {
  const auto& u = universe();
  auto spec = small_spec("mean_variance");
  spec.constraints.name_max = 0.005;  // 40 names x 0.5 % < 100 %
  try {
    quant::optimize_portfolio(u, skilled_predictions(u, 120), nullptr, spec);
    FAIL() << "no error";
  } catch (const std::runtime_error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("net exposure (lower)"), std::string::npos) << what;
    EXPECT_NE(what.find("upper bounds of"), std::string::npos) << what;
  }
  spec = small_spec("mean_variance");
  spec.method = "no_such_method";
  EXPECT_THROW(quant::optimize_portfolio(u, skilled_predictions(u, 120), nullptr, spec),
               std::invalid_argument);
}

// Abstentions are no candidates: on a day the model calls only a few names, the net floor they cannot
// hold under the name cap stays in cash (and the day says so) instead of failing the run.
TEST(Portfolio, FewCallableNamesKeepTheRestInCash) {
  const auto& u = universe();
  const std::int64_t N = u.ticker_count();
  auto p = skilled_predictions(u, 120);
  p.abstain.assign(static_cast<std::size_t>(u.day_count() * N), 0);
  const std::int64_t day = 150;
  for (std::int64_t i = 5; i < N; ++i) p.abstain[static_cast<std::size_t>(day * N + i)] = 1;  // 5 calls left
  auto spec = small_spec("equal_weight");
  spec.constraints.name_max = 0.05;      // 5 names x 5 % < 100 %
  spec.hold_through_abstention = false;  // every abstained name sold (the default)
  const auto r = quant::optimize_portfolio(u, p, nullptr, spec);
  double net = 0;
  for (std::int64_t i = 0; i < N; ++i) {
    const double w = r.weights.at({day, i});
    net += w;
    if (i >= 5) {
      EXPECT_EQ(w, 0.0) << "an abstained name got weight";
    }
  }
  EXPECT_GT(net, 0.0);
  EXPECT_LE(net, 0.25 + 1e-9) << "at most 5 names at the 5 % cap";
  bool said = false;
  for (const auto& d : r.decisions)
    said = said || (d.day == day && d.rules.find("net floor") != std::string::npos);
  EXPECT_TRUE(said);
}

// An abstention is no view, not a sell: a name held into a day the model abstains on may be kept or cut
// but never grown (hold_through_abstention); with it off (the default) every such name is sold.
TEST(Portfolio, HeldNamesAreKeptNotGrownThroughAnAbstention) {
  const auto& u = universe();
  const std::int64_t N = u.ticker_count(), day = 150;
  auto p = skilled_predictions(u, 120);
  p.abstain.assign(static_cast<std::size_t>(u.day_count() * N), 0);
  for (std::int64_t i = 5; i < N; ++i) p.abstain[static_cast<std::size_t>(day * N + i)] = 1;
  auto spec = small_spec("mean_variance");
  spec.constraints.cost_penalty_bps = 30;
  spec.hold_through_abstention = true;
  const auto kept = quant::optimize_portfolio(u, p, nullptr, spec);
  spec.hold_through_abstention = false;
  const auto sold = quant::optimize_portfolio(u, p, nullptr, spec);
  const double* c = u.close.data<double>();
  const double* before = kept.weights.data<double>() + (day - 1) * N;
  double growth = 0;
  for (std::int64_t i = 0; i < N; ++i)
    growth += before[i] != 0 ? before[i] * c[day * N + i] / c[(day - 1) * N + i] : 0.0;
  double kept_abstained = 0, sold_abstained = 0, held_abstained = 0;
  for (std::int64_t i = 5; i < N; ++i) {
    const double drifted = before[i] != 0 ? before[i] * c[day * N + i] / c[(day - 1) * N + i] / growth : 0.0;
    EXPECT_LE(kept.weights.at({day, i}), drifted + 1e-5) << "abstained name " << i << " grew";
    kept_abstained += kept.weights.at({day, i});
    sold_abstained += sold.weights.at({day, i});
    held_abstained += drifted;
  }
  ASSERT_GT(held_abstained, 0.5) << "the test needs names held into the abstention";
  EXPECT_GT(kept_abstained, 0.5 * held_abstained) << "held names were sold on no view";
  EXPECT_EQ(sold_abstained, 0.0);
  const auto turnover_on = [&](const quant::OptimizerResult& r) {
    for (const auto& d : r.decisions)
      if (d.day == day) return d.turnover;
    return -1.0;
  };
  EXPECT_LT(turnover_on(kept), 0.5 * turnover_on(sold));
}

// With a horizon of h days the book is h overlapping tranches: the decision of day d rebalances tranche
// d mod h against that tranche's own holdings. Predictions that alternate between two halves of the
// universe day by day make a one-tranche book turn over almost everything daily, while with h = 2 each
// tranche sees the same half every time and hardly trades after its first decision.
TEST(Portfolio, EachTrancheTradesAgainstItsOwnHoldings) {
  const auto& u = universe();
  const std::int64_t D = u.day_count(), N = u.ticker_count(), first = 150;
  quant::PredictionPanel p{Tensor::full({D, N}, std::nan(""), DType::f64), first, D - 10, "alternating", {}};
  for (std::int64_t d = first; d <= p.last_day; ++d)
    for (std::int64_t i = 0; i < N; ++i)
      if (u.present[static_cast<std::size_t>(d * N + i)])
        p.probability.data<double>()[d * N + i] = (i < N / 2) == (d % 2 == 0) ? 0.9 : 0.1;
  auto spec = small_spec("confidence_top_k");
  spec.top_k = 8;
  auto mean_turnover = [&](std::int64_t horizon) {
    p.label.timing.horizon = horizon;
    const auto r = quant::optimize_portfolio(u, p, nullptr, spec);
    double total = 0;
    int days = 0;
    for (const auto& d : r.decisions)
      if (d.day >= first + 2 * horizon) total += d.turnover, ++days;
    return total / days;
  };
  const double one = mean_turnover(1), two = mean_turnover(2);
  std::printf("mean decision turnover: one tranche %.3f, two tranches %.3f\n", one, two);
  EXPECT_GT(one, 1.0) << "one book flips between the halves every day";
  EXPECT_LT(two, 0.3) << "each tranche keeps its half";
}
