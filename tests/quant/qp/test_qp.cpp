// The QP solver against closed forms, against cvxpy (tests/data/qp_golden.txt from
// scripts/make_qp_golden.py) on well- and ill-conditioned problems, and on infeasible problems, whose
// error must name the constraints in conflict.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <numeric>

#include "common/golden.h"
#include "qf/quant/qp/qp.h"

using namespace qf;
using quant::kInfinity;

namespace {

std::vector<double> vec(const Tensor& t) {
  return {t.data<double>(), t.data<double>() + t.numel()};
}

quant::QpSettings tight() {
  quant::QpSettings s;
  s.eps_abs = s.eps_rel = 1e-10;
  s.max_iterations = 200000;
  return s;
}

// Solves the KKT system [P A'; A 0] [x; y] = [-q; b] by Gaussian elimination with partial pivoting.
std::vector<double> equality_qp(const std::vector<double>& P, const std::vector<double>& q,
                                const std::vector<double>& A, const std::vector<double>& b) {
  const std::size_t n = q.size(), m = b.size(), k = n + m;
  std::vector<double> K(k * (k + 1), 0.0);
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t j = 0; j < n; ++j) K[i * (k + 1) + j] = P[i * n + j];
    K[i * (k + 1) + k] = -q[i];
  }
  for (std::size_t r = 0; r < m; ++r) {
    for (std::size_t j = 0; j < n; ++j) K[(n + r) * (k + 1) + j] = K[j * (k + 1) + n + r] = A[r * n + j];
    K[(n + r) * (k + 1) + k] = b[r];
  }
  for (std::size_t c = 0; c < k; ++c) {
    std::size_t pivot = c;
    for (std::size_t r = c + 1; r < k; ++r)
      if (std::abs(K[r * (k + 1) + c]) > std::abs(K[pivot * (k + 1) + c])) pivot = r;
    for (std::size_t j = 0; j <= k; ++j) std::swap(K[c * (k + 1) + j], K[pivot * (k + 1) + j]);
    for (std::size_t r = 0; r < k; ++r) {
      if (r == c) continue;
      const double f = K[r * (k + 1) + c] / K[c * (k + 1) + c];
      for (std::size_t j = c; j <= k; ++j) K[r * (k + 1) + j] -= f * K[c * (k + 1) + j];
    }
  }
  std::vector<double> x(n);
  for (std::size_t i = 0; i < n; ++i) x[i] = K[i * (k + 1) + k] / K[i * (k + 1) + i];
  return x;
}

std::vector<double> random_covariance(std::size_t n, unsigned seed) {
  std::vector<double> f(n * 3), P(n * n, 0.0);
  unsigned state = seed;
  auto uniform = [&] {
    state = state * 1664525u + 1013904223u;
    return static_cast<double>(state >> 8) / 16777216.0 - 0.5;
  };
  for (auto& v : f) v = uniform() * 0.04;
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j < n; ++j) {
      for (std::size_t k = 0; k < 3; ++k) P[i * n + j] += f[i * 3 + k] * f[j * 3 + k];
      if (i == j) P[i * n + j] += 1e-4 * (1 + 0.5 * static_cast<double>(i % 3));
    }
  return P;
}

quant::QpProblem budget_problem(std::size_t n, double cap) {
  quant::QpProblem p;
  p.n = static_cast<std::int64_t>(n);
  p.P = random_covariance(n, 3);
  p.q.assign(n, 0.0);
  for (std::size_t i = 0; i < n; ++i) p.q[i] = -1e-4 * static_cast<double>(i % 5);
  p.lower.assign(n, 0.0);
  p.upper.assign(n, cap);
  p.A.assign(n, 1.0);
  p.row_lower = p.row_upper = {1.0};
  p.row_names = {"budget"};
  return p;
}

std::string joined(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += x + "; ";
  return s;
}

}  // namespace

TEST(Qp, EqualityConstrainedMatchesTheKktSolution) {
  const std::size_t n = 12;
  quant::QpProblem p;
  p.n = n;
  p.P = random_covariance(n, 5);
  p.q.resize(n);
  for (std::size_t i = 0; i < n; ++i) p.q[i] = 1e-4 * (static_cast<double>(i) - 6);
  p.A.assign(2 * n, 0.0);
  for (std::size_t i = 0; i < n; ++i) p.A[i] = 1, p.A[n + i] = i < 4 ? 1 : 0;
  p.row_lower = p.row_upper = {1.0, 0.25};
  const auto x = quant::QpSolver(tight()).solve(p).x;
  const auto expected = equality_qp(p.P, p.q, p.A, p.row_lower);
  for (std::size_t i = 0; i < n; ++i) EXPECT_NEAR(x[i], expected[i], 1e-7) << i;
}

TEST(Qp, SeparableBoundsAndL1CostMatchTheirClosedForm) {
  // Diagonal P: each x_i minimises p/2 x^2 + q x + kappa |x - x0| on [lo, hi], which is the clamped
  // soft threshold x0 + soft(-q/p - x0, kappa/p).
  const std::size_t n = 9;
  quant::QpProblem p;
  p.n = n;
  p.P.assign(n * n, 0.0);
  p.q.resize(n);
  p.reference.resize(n);
  for (std::size_t i = 0; i < n; ++i) {
    p.P[i * n + i] = 1.0 + static_cast<double>(i);
    p.q[i] = 0.4 * std::sin(static_cast<double>(i));
    p.reference[i] = 0.05 * static_cast<double>(i % 4);
  }
  p.lower.assign(n, -0.2);
  p.upper.assign(n, 0.25);
  p.l1_cost = 0.03;
  const auto x = quant::QpSolver(tight()).solve(p).x;
  for (std::size_t i = 0; i < n; ++i) {
    const double pi = p.P[i * n + i], a = -p.q[i] / pi - p.reference[i], t = p.l1_cost / pi;
    const double shrunk = a > t ? a - t : (a < -t ? a + t : 0.0);
    EXPECT_NEAR(x[i], std::clamp(p.reference[i] + shrunk, -0.2, 0.25), 1e-8) << i;
  }
}

TEST(Qp, MatchesCvxpyOnWellAndIllConditionedProblems) {
  const auto g = test_support::read_golden(QF_TEST_DATA_DIR "/qp_golden.txt");
  int cases = 0, polished = 0;
  for (const auto& [key, value] : g) {
    if (!key.ends_with(".objective")) continue;
    const std::string name = key.substr(0, key.size() - 10);
    quant::QpProblem p;
    p.q = vec(g.at(name + ".q"));
    p.n = static_cast<std::int64_t>(p.q.size());
    p.P = vec(g.at(name + ".P"));
    p.lower = vec(g.at(name + ".lower"));
    p.upper = vec(g.at(name + ".upper"));
    p.A = vec(g.at(name + ".A"));
    p.row_lower = vec(g.at(name + ".row_lower"));
    p.row_upper = vec(g.at(name + ".row_upper"));
    p.reference = vec(g.at(name + ".reference"));
    const auto scalars = vec(g.at(name + ".scalars"));
    p.l1_cost = scalars[0];
    p.l1_limit = scalars[1];
    p.gross_limit = scalars[2];
    auto plain_settings = tight();
    plain_settings.polish = false;
    const auto plain = quant::QpSolver(plain_settings).solve(p);
    ASSERT_EQ(plain.status, quant::QpStatus::solved)
        << name << " after " << plain.iterations << " iterations";
    const auto s = quant::QpSolver(tight()).solve(p);
    ASSERT_EQ(s.status, quant::QpStatus::solved) << name << " after " << s.iterations << " iterations";
    polished += s.polished ? 1 : 0;
    if (s.polished) {
      EXPECT_LT(s.iterations, plain.iterations) << name;
    }
    std::printf("%-20s ADMM alone %6d iterations, with polishing %5d%s\n", name.c_str(), plain.iterations,
                s.iterations, s.polished ? " (polished)" : "");
    const auto expected = vec(g.at(name + ".x"));
    const double objective = value.item();
    EXPECT_NEAR(s.objective, objective, 1e-7 * std::max(1.0, std::abs(objective)) + 1e-10) << name;
    for (std::size_t i = 0; i < expected.size(); ++i)
      EXPECT_NEAR(s.x[i], expected[i], 2e-5) << name << " x" << i;
    // Feasible to the tolerance.
    double turnover = 0, gross = 0;
    for (std::size_t i = 0; i < expected.size(); ++i) {
      EXPECT_GE(s.x[i], p.lower[i] - 1e-8);
      EXPECT_LE(s.x[i], p.upper[i] + 1e-8);
      turnover += std::abs(s.x[i] - p.reference[i]);
      gross += std::abs(s.x[i]);
    }
    EXPECT_LE(turnover, p.l1_limit + 1e-8) << name;
    EXPECT_LE(gross, p.gross_limit + 1e-8) << name;
    ++cases;
  }
  EXPECT_EQ(cases, 11);
  EXPECT_GE(polished, 5)
      << "polishing (not done with a gross limit) should find the active sets of most of the 6 "
         "cases without one";
}

TEST(Qp, InfeasibleBudgetAndCapsNameTheConflict) {
  auto p = budget_problem(20, 0.04);  // 20 names x 4 % < 100 %
  const auto s = quant::QpSolver().solve(p);
  ASSERT_EQ(s.status, quant::QpStatus::primal_infeasible) << quant::to_string(s.status);
  const std::string names = joined(s.conflicting);
  EXPECT_NE(names.find("budget (lower)"), std::string::npos) << names;
  EXPECT_NE(names.find("upper bounds of 20 variables"), std::string::npos) << names;
  EXPECT_THROW(quant::require_solved(s, "test"), std::runtime_error);
}

TEST(Qp, InfeasibleGroupCapsAndTurnoverNameTheConflict) {
  auto p = budget_problem(12, 1.0);
  for (int g = 0; g < 3; ++g) {  // three sectors of 4 names, each capped at 20 %: 60 % < 100 %
    std::vector<double> row(12, 0.0);
    for (int i = 0; i < 4; ++i) row[static_cast<std::size_t>(4 * g + i)] = 1;
    p.A.insert(p.A.end(), row.begin(), row.end());
    p.row_lower.push_back(0.0);
    p.row_upper.push_back(0.2);
    p.row_names.push_back("sector " + std::to_string(g));
  }
  auto s = quant::QpSolver().solve(p);
  ASSERT_EQ(s.status, quant::QpStatus::primal_infeasible);
  std::string names = joined(s.conflicting);
  for (const char* expected : {"budget (lower)", "sector 0 (upper)", "sector 1 (upper)", "sector 2 (upper)"})
    EXPECT_NE(names.find(expected), std::string::npos) << expected << " in " << names;
  EXPECT_EQ(names.find("bound"), std::string::npos) << "the per-name bounds are not in conflict: " << names;

  // Turnover: from all-in-one-name to 10 % caps needs 1.8 of turnover; allow 0.5.
  auto t = budget_problem(12, 0.1);
  t.reference.assign(12, 0.0);
  t.reference[0] = 1.0;
  t.l1_limit = 0.5;
  s = quant::QpSolver().solve(t);
  ASSERT_EQ(s.status, quant::QpStatus::primal_infeasible);
  names = joined(s.conflicting);
  EXPECT_NE(names.find("turnover"), std::string::npos) << names;
  t.l1_limit = 2.0;  // feasible now
  EXPECT_EQ(quant::QpSolver().solve(t).status, quant::QpStatus::solved);
}

TEST(Qp, WarmStartReusesTheFactorisationAndConvergesFaster) {
  auto p = budget_problem(60, 0.05);
  quant::QpSolver solver;
  const auto cold = solver.solve(p);
  ASSERT_EQ(cold.status, quant::QpStatus::solved);
  EXPECT_GE(cold.factorisations, 1);
  for (auto& v : p.q) v *= 1.02;  // tomorrow's slightly different expected returns
  const auto warm = solver.solve(p, &cold);
  ASSERT_EQ(warm.status, quant::QpStatus::solved);
  EXPECT_LT(warm.factorisations, cold.factorisations) << "same P and A: the last factorisation is reused";
  EXPECT_LT(warm.iterations, cold.iterations);
  const auto fresh = quant::QpSolver().solve(p);
  for (std::size_t i = 0; i < 60; ++i) EXPECT_NEAR(warm.x[i], fresh.x[i], 1e-4);
}

// Stage 3's market-cap buckets are point in time: from one day to the next a few names change bucket, so
// a few rows of A change and nothing else. The solver then updates its cached x-step inverse (Woodbury)
// instead of factoring anew, and must reach what a fresh solver reaches, also past the point where the
// accumulated updates are replaced by a new factorisation.
TEST(Qp, ChangedRowsUpdateTheInverseAndMatchAFreshSolve) {
  const std::size_t n = 60;
  auto p = budget_problem(n, 0.05);
  for (double& v : p.P) v *= 1e3;  // unit-scale variances, as stage 3 passes them
  for (std::size_t i = 0; i < n; ++i) p.q[i] = -0.02 * std::sin(0.7 * static_cast<double>(i));
  p.A.resize(3 * n, 0.0);  // budget plus two group caps, which bind
  for (std::size_t i = 0; i < n; ++i) p.A[(1 + i % 2) * n + i] = i % 3 == 0 ? 1.0 : 0.0;
  p.row_lower = {1.0, -0.15, -0.15};
  p.row_upper = {1.0, 0.15, 0.15};
  p.row_names = {"budget", "group a", "group b"};
  quant::QpSettings settings = tight();
  settings.polish = false;       // every solve runs ADMM, so every one uses the x-step inverse
  settings.adapt_rho_every = 0;  // the same rho on every solve: only A differs between them
  quant::QpSolver solver(settings);
  ASSERT_EQ(solver.solve(p).status, quant::QpStatus::solved);
  int updates = 0, factorisations = 0;
  for (std::size_t day = 0; day < 20; ++day) {  // each day one name moves to the other group
    const std::size_t name = (7 * day) % n, from = p.A[n + name] != 0 ? 1 : 2, to = 3 - from;
    p.A[from * n + name] = 0.0;
    p.A[to * n + name] = 1.0;
    const auto s = solver.solve(p);
    const auto fresh = quant::QpSolver(settings).solve(p);
    ASSERT_EQ(s.status, quant::QpStatus::solved) << "day " << day;
    ASSERT_EQ(fresh.status, quant::QpStatus::solved) << "day " << day;
    for (std::size_t i = 0; i < n; ++i) EXPECT_NEAR(s.x[i], fresh.x[i], 1e-7) << "day " << day << ", x" << i;
    EXPECT_EQ(s.inverse_updates + s.factorisations, 1) << "day " << day;
    updates += s.inverse_updates, factorisations += s.factorisations;
  }
  EXPECT_EQ(updates, 19) << "16 updates, a factorisation, then updates again";
  EXPECT_EQ(factorisations, 1);
}

// A rebalance sequence as stage 3 runs it: each day the reference point is yesterday's solution drifted
// by that day's returns and the expected returns move. Warm starts from yesterday's active set must
// reach the same optimum as a cold, tight solve, and most days without a single ADMM iteration.
TEST(Qp, WarmActiveSetFollowsADailySequenceExactly) {
  const std::size_t n = 80;
  auto p = budget_problem(n, 0.05);
  for (double& v : p.P) v *= 1e3;  // unit-scale variances, as stage 3 passes them
  p.A.resize(3 * n, 0.0);          // budget plus two group caps
  for (std::size_t i = 0; i < n; ++i) p.A[(1 + i % 2) * n + i] = i % 4 == 0 ? 1.0 : 0.0;
  p.row_lower = {1.0, -0.3, -0.3};
  p.row_upper = {1.0, 0.3, 0.3};
  p.row_names = {"budget", "group a", "group b"};
  p.l1_cost = 0.02;
  p.l1_limit = 0.2;
  unsigned state = 11;
  auto uniform = [&] {
    state = state * 1664525u + 1013904223u;
    return static_cast<double>(state >> 8) / 16777216.0 - 0.5;
  };
  quant::QpSolver solver;
  quant::QpSolution yesterday;
  p.reference.assign(n, 1.0 / static_cast<double>(n));
  int warm_polished = 0;
  const int days = 40;
  for (int day = 0; day < days; ++day) {
    for (std::size_t i = 0; i < n; ++i) p.q[i] = 0.9 * p.q[i] + 0.3 * uniform();
    const auto today = solver.solve(p, day > 0 ? &yesterday : nullptr);
    ASSERT_EQ(today.status, quant::QpStatus::solved) << "day " << day;
    const auto cold = quant::QpSolver(tight()).solve(p);
    ASSERT_EQ(cold.status, quant::QpStatus::solved);
    double gap = 0;
    for (std::size_t i = 0; i < n; ++i) gap = std::max(gap, std::abs(today.x[i] - cold.x[i]));
    EXPECT_LT(gap, 1e-6) << "day " << day;
    EXPECT_LE(today.objective, cold.objective + 1e-9) << "day " << day;
    if (day > 0 && today.polished && today.iterations == 0) ++warm_polished;
    // Drift: tomorrow's reference is today's weights after random returns, renormalised.
    double total = 0;
    for (std::size_t i = 0; i < n; ++i) total += p.reference[i] = today.x[i] * (1 + 0.02 * uniform());
    for (double& w : p.reference) w /= total;
    yesterday = today;
  }
  EXPECT_GE(warm_polished, days / 2) << "the warm active set should solve most days outright";
}

TEST(Qp, MalformedInputIsRefused) {
  auto p = budget_problem(5, 0.5);
  p.q[2] = std::nan("");
  EXPECT_THROW(quant::QpSolver().solve(p), std::invalid_argument);
  p = budget_problem(5, 0.5);
  p.lower[1] = 0.6;  // lower > upper
  EXPECT_THROW(quant::QpSolver().solve(p), std::invalid_argument);
  p = budget_problem(5, 0.5);
  p.P.pop_back();
  EXPECT_THROW(quant::QpSolver().solve(p), std::invalid_argument);
}
