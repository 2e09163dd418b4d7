#include "qf/quant/qp/qp.h"

#include <algorithm>
#include <cmath>
#include <optional>
#include <span>
#include <stdexcept>

#include "qf/tensor/blas.h"

namespace qf::quant {

namespace {

using Vec = std::vector<double>;
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kPolishTolerance = 1e-9;  // feasibility and multiplier-sign slack of a polished point

double inf_norm(const Vec& v) {
  double m = 0;
  for (const double x : v) m = std::max(m, std::abs(x));
  return m;
}

double soft(double a, double t) {
  return a > t ? a - t : (a < -t ? a + t : 0.0);
}

// The proximal step of the bounds block: argmin_z sum_i rho_i / 2 (z_i - v_i)^2 + kappa |z_i - c_i|
// over lower <= z <= upper and sum_i |z_i - c_i| <= tau. Per coordinate it is a clamped soft threshold;
// the ball adds a multiplier lambda to the threshold, found by bisection (the l1 norm falls
// monotonically in lambda). Returns lambda. With an empty intersection it returns the point of least
// l1 distance (ADMM's duals then diverge, and the infeasibility check names the constraints).
double prox_bounds(const Vec& v, const Vec& rho, double kappa, const Vec& c, const Vec& lower,
                   const Vec& upper, double tau, Vec& z) {
  const std::size_t n = v.size();
  auto point = [&](double lambda) {
    double norm = 0;
    for (std::size_t i = 0; i < n; ++i) {
      const double d =
          std::clamp(soft(v[i] - c[i], (kappa + lambda) / rho[i]), lower[i] - c[i], upper[i] - c[i]);
      z[i] = c[i] + d;
      norm += std::abs(d);
    }
    return norm;
  };
  if (point(0.0) <= tau) return 0.0;
  double lo = 0, hi = 0;
  for (std::size_t i = 0; i < n; ++i) hi = std::max(hi, rho[i] * std::abs(v[i] - c[i]));
  for (int k = 0; k < 100 && hi - lo > 1e-15 * std::max(1.0, hi); ++k) {
    const double mid = 0.5 * (lo + hi);
    (point(mid) > tau ? lo : hi) = mid;
  }
  point(hi);
  return hi;
}

// Whether every value is finite: v * 0 is 0 for a finite v and NaN otherwise, so the sum tells, in a
// loop without branches that the compiler vectorises (the daily check of a 505 x 505 P).
bool all_finite(std::span<const double> values) {
  double part[8] = {};
  std::size_t i = 0;
  for (; i + 8 <= values.size(); i += 8)
    for (std::size_t k = 0; k < 8; ++k) part[k] += values[i + k] * 0.0;
  for (; i < values.size(); ++i) part[0] += values[i] * 0.0;
  double total = 0;
  for (const double v : part) total += v;
  return total == 0;
}

std::string variable_name(const QpProblem& p, std::size_t i) {
  return i < p.variable_names.size() ? p.variable_names[i] : "x[" + std::to_string(i) + "]";
}
std::string row_name(const QpProblem& p, std::size_t j) {
  return j < p.row_names.size() ? p.row_names[j] : "row " + std::to_string(j);
}

void check(const QpProblem& p) {
  const auto n = static_cast<std::size_t>(p.n), m = static_cast<std::size_t>(p.rows());
  auto fail = [](const std::string& what) { throw std::invalid_argument("QpSolver: " + what); };
  if (p.n < 1) fail("no variables");
  if (p.P.size() != n * n || p.q.size() != n) fail("P must be [n, n] and q [n]");
  if (p.A.size() != m * n || p.row_upper.size() != m) fail("A must be [m, n] with m row bounds");
  if (!p.lower.empty() && (p.lower.size() != n || p.upper.size() != n)) fail("bounds must be [n]");
  if (!p.reference.empty() && p.reference.size() != n) fail("the reference point must be [n]");
  if (!all_finite(p.P)) fail("P holds a non-finite value");
  if (!all_finite(p.A)) fail("A holds a non-finite value");
  for (std::size_t i = 0; i < n; ++i) {
    if (!std::isfinite(p.q[i])) fail("q holds a non-finite value");
    if (!p.lower.empty() && !(p.lower[i] <= p.upper[i]))
      fail("bounds of " + variable_name(p, i) + " are empty or NaN");
  }
  for (std::size_t j = 0; j < m; ++j)
    if (!(p.row_lower[j] <= p.row_upper[j])) fail("bounds of " + row_name(p, j) + " are empty or NaN");
  if (!(p.l1_cost >= 0) || !(p.l1_limit >= 0) || !(p.gross_limit >= 0))
    fail("l1_cost, l1_limit and gross_limit must be non-negative");
}

// OSQP's polishing, extended to the l1 terms and refined like an active-set method: from ADMM's
// approximate solution, guess which bounds and rows are active, which coordinates sit at the l1 kink x0,
// and whether the turnover ball binds; solve the equality-constrained KKT system of that guess; then
// correct the guess where the candidate breaks a condition (a bound or row crossed: make it active; a
// multiplier of the wrong sign: release it) and solve again, a few times. A candidate that passes every
// check (feasible, multipliers of the right signs, stationary on the fixed coordinates) is the exact
// optimum. ADMM can then stop early: the iterations it would spend creeping towards the kinks are the
// slow part.
// The guess of ADMM's iterate: the bounds block's point z sits exactly at a bound or a kink when that
// constraint is active, and the rows' z and duals show which side of a row binds.
QpActiveSet guess_from_admm(const QpProblem& p, const Vec& lo, const Vec& hi, const Vec& x0, const Vec& zb,
                            const Vec* z_turnover, const Vec& z_rows, const Vec& y_rows,
                            bool turnover_binds) {
  const auto n = static_cast<std::size_t>(p.n), m = static_cast<std::size_t>(p.rows());
  const bool l1 = p.l1_cost > 0 || std::isfinite(p.l1_limit);
  QpActiveSet g;
  g.variable.assign(n, QpActiveSet::up);
  for (std::size_t i = 0; i < n; ++i) {
    const bool at_kink = l1 && x0[i] >= lo[i] && x0[i] <= hi[i] &&
                         (zb[i] == x0[i] || (z_turnover && (*z_turnover)[i] == x0[i]));
    if (at_kink)
      g.variable[i] = QpActiveSet::kink;
    else if (zb[i] == lo[i] || zb[i] == hi[i])
      g.variable[i] = zb[i] == lo[i] ? QpActiveSet::lower : QpActiveSet::upper;
    else
      g.variable[i] = zb[i] > x0[i] ? QpActiveSet::up : QpActiveSet::down;
  }
  g.row.assign(m, 0);
  for (std::size_t j = 0; j < m; ++j) {
    const double zj = z_rows[j], yj = y_rows[j];
    if (zj == p.row_upper[j] || (yj > 1e-10 && std::isfinite(p.row_upper[j])))
      g.row[j] = 1;
    else if (zj == p.row_lower[j] || (yj < -1e-10 && std::isfinite(p.row_lower[j])))
      g.row[j] = -1;
  }
  g.turnover_binds = turnover_binds;
  return g;
}

// The constraints that hold with equality at `point`, when it is feasible (within tol); nullopt otherwise.
// Yesterday's optimum usually is feasible today (only drift separates it from the reference point),
// which gives the active-set iterations a feasible start.
std::optional<QpActiveSet> active_set_at(const QpProblem& p, const Vec& lo, const Vec& hi, const Vec& x0,
                                         const Vec& point, double tol) {
  const auto n = static_cast<std::size_t>(p.n), m = static_cast<std::size_t>(p.rows());
  if (point.size() != n) return std::nullopt;
  QpActiveSet g;
  g.variable.resize(n);
  double turnover = 0;
  for (std::size_t i = 0; i < n; ++i) {
    if (!(point[i] >= lo[i] - tol && point[i] <= hi[i] + tol)) return std::nullopt;
    turnover += std::abs(point[i] - x0[i]);
    g.variable[i] = std::abs(point[i] - x0[i]) <= tol && x0[i] >= lo[i] && x0[i] <= hi[i] ? QpActiveSet::kink
                    : point[i] <= lo[i] + tol                                             ? QpActiveSet::lower
                    : point[i] >= hi[i] - tol                                             ? QpActiveSet::upper
                    : point[i] > x0[i]                                                    ? QpActiveSet::up
                                                                                          : QpActiveSet::down;
  }
  if (std::isfinite(p.l1_limit) && turnover > p.l1_limit + tol) return std::nullopt;
  g.turnover_binds = std::isfinite(p.l1_limit) && turnover >= p.l1_limit - tol;
  g.row.assign(m, 0);
  for (std::size_t j = 0; j < m; ++j) {
    double value = 0;
    for (std::size_t i = 0; i < n; ++i) value += p.A[j * n + i] * point[i];
    if (value > p.row_upper[j] + tol || value < p.row_lower[j] - tol) return std::nullopt;
    g.row[j] = value >= p.row_upper[j] - tol ? 1 : (value <= p.row_lower[j] + tol ? -1 : 0);
  }
  return g;
}

// Polishes from `guess`; on success x, the row duals and the turnover dual hold the exact optimum and
// `guess` its active set.
bool polish(const QpProblem& p, const Vec& lo, const Vec& hi, const Vec& x0, double tol, int passes,
            double work_limit, QpActiveSet& guess, const Vec* start, Vec& x, Vec& row_duals,
            double& turnover_dual, int& passes_used) {
  const auto n = static_cast<std::size_t>(p.n), m = static_cast<std::size_t>(p.rows());
  if (guess.variable.size() != n || guess.row.size() != m) return false;
  // The sign of x - x0 matters where |x - x0| enters: with a cost, or in the turnover ball's equality
  // once it binds. Without either, a coordinate may cross x0 freely (no kink to stop at).
  bool kinks = p.l1_cost > 0;
  // Coordinates: fixed at a bound or at the kink (value v), or free with the sign s of x - x0.
  // Rows: side +1 (upper active), -1 (lower active), 0 (inactive).
  Vec v(n, 0.0), s(n, 1.0);
  std::vector<std::uint8_t> kink(n, 0), fixed(n, 0);
  for (std::size_t i = 0; i < n; ++i) {
    switch (guess.variable[i]) {
      case QpActiveSet::kink:
        if (!(x0[i] >= lo[i] && x0[i] <= hi[i])) break;  // yesterday's kink is outside today's bounds
        fixed[i] = kink[i] = 1, v[i] = x0[i];
        continue;
      case QpActiveSet::lower:
      case QpActiveSet::upper:
        fixed[i] = 1, v[i] = guess.variable[i] == QpActiveSet::lower ? lo[i] : hi[i];
        continue;
      case QpActiveSet::down:
        s[i] = -1;
        continue;
      default:
        break;
    }
    if (lo[i] == hi[i]) fixed[i] = 1, v[i] = lo[i];
  }
  std::vector<int> side(guess.row.begin(), guess.row.end());
  for (std::size_t j = 0; j < m; ++j)  // a side without a finite bound cannot bind
    if ((side[j] > 0 && !std::isfinite(p.row_upper[j])) || (side[j] < 0 && !std::isfinite(p.row_lower[j])))
      side[j] = 0;
  bool binds = guess.turnover_binds && std::isfinite(p.l1_limit);
  Vec feasible;            // the last feasible candidate; once there is one, each pass makes one change
  if (start != nullptr) {  // a feasible point whose tight constraints are the guess
    feasible = *start;
    for (std::size_t i = 0; i < n; ++i)
      if (fixed[i]) feasible[i] = v[i];
  }

  // P and A times the fixed part of the point (v where fixed, 0 where free), kept up to date for the
  // coordinates that changed since the last pass: each pass changes one or a few, so this costs O(n)
  // instead of the O(n * free) of recomputing the right-hand sides.
  Vec fixed_part(n, 0.0), P_fixed(n, 0.0), A_fixed(m, 0.0);
  double work = 0;
  // The turnover ball starts to bind: the signs of the free coordinates are those of the point reached.
  auto ball_binds = [&](const Vec& point) {
    binds = true;
    for (std::size_t i = 0; i < n; ++i)
      if (!fixed[i] && point[i] != x0[i]) s[i] = point[i] > x0[i] ? 1.0 : -1.0;
  };
  for (int pass = 0; pass < passes; ++pass) {
    ++passes_used;
    kinks = p.l1_cost > 0 || binds;
    for (std::size_t i = 0; i < n; ++i) {
      const double now = fixed[i] ? v[i] : 0.0, change = now - fixed_part[i];
      if (change == 0) continue;
      const double* column = p.P.data() + i * n;  // P is symmetric: row i is column i
      for (std::size_t r = 0; r < n; ++r) P_fixed[r] += column[r] * change;
      for (std::size_t j = 0; j < m; ++j) A_fixed[j] += p.A[j * n + i] * change;
      fixed_part[i] = now;
    }
    std::vector<std::size_t> free, rows;
    for (std::size_t i = 0; i < n; ++i)
      if (!fixed[i]) free.push_back(i);
    for (std::size_t j = 0; j < m; ++j) {  // active rows that still involve a free coordinate
      if (side[j] == 0) continue;
      bool involved = false;
      for (const std::size_t i : free) involved |= p.A[j * n + i] != 0;
      if (involved) rows.push_back(j);
    }
    const std::size_t f = free.size(), a = rows.size(), k = f + a + (binds ? 1 : 0);
    // Each pass factors its k x k system; past about one n x n factorisation of work in all, ADMM (whose
    // iterations then cost one matrix-vector product each) is the cheaper way on.
    work += static_cast<double>(k) * static_cast<double>(k) * static_cast<double>(k);
    if (work > work_limit * static_cast<double>(n) * static_cast<double>(n) * static_cast<double>(n))
      return false;
    Vec xc = v;
    Vec nu(m, 0.0);
    double mu = 0;
    if (k > 0) {
      // [P_FF A_F' b; A_F 0 0; b' 0 0] [x_F; nu; mu] = [-q_F - P_FC v_C - kappa s_F; bound - A_C v_C; ball]
      Vec K(k * k, 0.0), r(k, 0.0);
      for (std::size_t u = 0; u < f; ++u) {
        const std::size_t i = free[u];
        for (std::size_t w = 0; w < f; ++w) K[u * k + w] = p.P[i * n + free[w]];
        r[u] = -p.q[i] - p.l1_cost * s[i] - P_fixed[i];
      }
      for (std::size_t t = 0; t < a; ++t) {
        const std::size_t j = rows[t];
        const double rhs = (side[j] > 0 ? p.row_upper[j] : p.row_lower[j]) - A_fixed[j];
        for (std::size_t u = 0; u < f; ++u) K[(f + t) * k + u] = K[u * k + f + t] = p.A[j * n + free[u]];
        r[f + t] = rhs;
      }
      if (binds) {  // sum_F s_i (x_i - x0_i) + sum_C |v_i - x0_i| = limit
        double rhs = p.l1_limit;
        for (std::size_t col = 0; col < n; ++col)
          if (fixed[col]) rhs -= std::abs(v[col] - x0[col]);
        for (std::size_t u = 0; u < f; ++u) {
          K[(k - 1) * k + u] = K[u * k + k - 1] = s[free[u]];
          rhs += s[free[u]] * x0[free[u]];
        }
        r[k - 1] = rhs;
      }
      // Quasi-definite regularisation (+delta on the x block, -delta on the multipliers, as OSQP) keeps
      // dependent active rows (e.g. a budget that is the sum of binding sector rows) solvable;
      // iterative refinement against the exact matrix then removes its bias.
      double scale = 1;
      for (const double e : K) scale = std::max(scale, std::abs(e));
      const double delta = 1e-11 * scale;
      Vec Kr = K;
      for (std::size_t u = 0; u < k; ++u) Kr[u * k + u] += u < f ? delta : -delta;
      Vec rc(k, 0.0), residual = r;
      std::vector<int> pivots(k);
      if (blas::lu_factor(static_cast<std::int64_t>(k), Kr.data(), pivots) != 0) return false;
      for (int step = 0; step < 3; ++step) {
        blas::lu_solve(static_cast<std::int64_t>(k), Kr.data(), pivots, residual.data());
        for (std::size_t u = 0; u < k; ++u) rc[u] += residual[u];
        blas::gemv(blas::Trans::no, static_cast<std::int64_t>(k), static_cast<std::int64_t>(k), -1.0,
                   K.data(), static_cast<std::int64_t>(k), rc.data(), 0.0, residual.data());
        for (std::size_t u = 0; u < k; ++u) residual[u] += r[u];
      }
      for (std::size_t u = 0; u < f; ++u) xc[free[u]] = rc[u];
      for (std::size_t t = 0; t < a; ++t) nu[rows[t]] = rc[f + t];
      if (binds) mu = rc[k - 1];
    }
    // Primal feasibility of the candidate. Row values A point, all rows by one matrix-vector product.
    auto row_values = [&](const Vec& point) {
      Vec values(m, 0.0);
      if (m > 0)
        blas::gemv(blas::Trans::no, p.rows(), p.n, 1.0, p.A.data(), p.n, point.data(), 0.0, values.data());
      return values;
    };
    const Vec A_xc = row_values(xc);
    auto turnover_of = [&](const Vec& point) {
      double t = 0;
      for (std::size_t i = 0; i < n; ++i) t += std::abs(point[i] - x0[i]);
      return t;
    };
    bool primal_ok = !std::isfinite(p.l1_limit) || turnover_of(xc) <= p.l1_limit + tol;
    for (const std::size_t i : free)
      primal_ok = primal_ok && xc[i] >= lo[i] - tol && xc[i] <= hi[i] + tol &&
                  (!kinks || s[i] * (xc[i] - x0[i]) >= -tol);
    for (std::size_t j = 0; j < m && primal_ok; ++j) {
      const double value = A_xc[j];
      primal_ok = value <= p.row_upper[j] + tol && value >= p.row_lower[j] - tol;
    }

    if (!primal_ok && !feasible.empty()) {
      // Primal active-set step: from the last feasible candidate towards this one, as far as feasibility
      // allows; the first constraint met joins the working set.
      Vec d(n, 0.0);
      for (const std::size_t i : free) d[i] = xc[i] - feasible[i];
      enum Blocker { none, to_lower, to_upper, to_kink, to_row, to_turnover };
      Blocker blocker = none;
      double t = 1;
      std::size_t which = 0;
      int which_side = 0;
      auto consider = [&](double step, Blocker kind, std::size_t index, int row_side) {
        if (step < t) t = std::max(step, 0.0), blocker = kind, which = index, which_side = row_side;
      };
      for (const std::size_t i : free) {
        if (d[i] < 0) consider((feasible[i] - lo[i]) / -d[i], to_lower, i, 0);
        if (d[i] > 0) consider((hi[i] - feasible[i]) / d[i], to_upper, i, 0);
        if (kinks && s[i] * d[i] < 0 && x0[i] >= lo[i] && x0[i] <= hi[i])
          consider(s[i] * (feasible[i] - x0[i]) / (-s[i] * d[i]), to_kink, i, 0);
      }
      const Vec A_feasible = row_values(feasible), A_d = row_values(d);
      for (std::size_t j = 0; j < m; ++j) {
        if (side[j] != 0 && std::find(rows.begin(), rows.end(), j) != rows.end()) continue;
        const double now = A_feasible[j], rate = A_d[j];
        if (rate > 0) consider((p.row_upper[j] - now) / rate, to_row, j, 1);
        if (rate < 0) consider((p.row_lower[j] - now) / rate, to_row, j, -1);
      }
      if (std::isfinite(p.l1_limit) && !binds) {
        if (kinks) {  // signs held: the turnover is linear along the step
          double rate = 0;
          for (const std::size_t i : free) rate += s[i] * d[i];
          if (rate > 0) consider((p.l1_limit - turnover_of(feasible)) / rate, to_turnover, 0, 0);
        } else {  // convex and piecewise linear along the step: bisect for where it reaches the limit
          Vec point(feasible);
          auto turnover_at = [&](double step) {
            for (const std::size_t i : free) point[i] = feasible[i] + step * d[i];
            return turnover_of(point);
          };
          if (turnover_at(t) > p.l1_limit) {
            double low = 0, high = t;
            for (int k = 0; k < 60; ++k) {
              const double mid = 0.5 * (low + high);
              (turnover_at(mid) > p.l1_limit ? high : low) = mid;
            }
            consider(low, to_turnover, 0, 0);
          }
        }
      }
      // No blocker: a working-set equality itself is broken (dependent rows with inconsistent
      // right-hand sides), which the corrections below repair.
      if (blocker != none) {
        for (const std::size_t i : free) feasible[i] += t * d[i];
        if (blocker == to_lower || blocker == to_upper || blocker == to_kink) {
          fixed[which] = 1, kink[which] = blocker == to_kink ? 1 : 0;
          v[which] = feasible[which] =
              blocker == to_lower ? lo[which] : (blocker == to_upper ? hi[which] : x0[which]);
        }
        if (blocker == to_row) side[which] = which_side;
        if (blocker == to_turnover) ball_binds(feasible);
        continue;
      }
    }
    if (!primal_ok) {
      // No feasible candidate yet: correct every broken condition at once (a primal-dual active-set
      // step), which from a good guess reaches a feasible candidate in a pass or two.
      bool changed = false;
      for (const std::size_t i : free) {
        if (xc[i] < lo[i] - tol || xc[i] > hi[i] + tol) {
          fixed[i] = 1, kink[i] = 0, v[i] = xc[i] < lo[i] ? lo[i] : hi[i];
          changed = true;
        } else if (kinks && s[i] * (xc[i] - x0[i]) < -tol) {
          if (x0[i] < lo[i] || x0[i] > hi[i]) return false;  // cannot sit at a kink outside the bounds
          fixed[i] = 1, kink[i] = 1, v[i] = x0[i];
          changed = true;
        }
      }
      if (changed) continue;
      Vec gradient;
      for (std::size_t j = 0; j < m; ++j) {  // a crossed row becomes active
        const double value = A_xc[j];
        if (value <= p.row_upper[j] + tol && value >= p.row_lower[j] - tol) continue;
        const int want = value > p.row_upper[j] ? 1 : -1;
        if (side[j] != want && (side[j] == 0 || p.row_lower[j] != p.row_upper[j])) {  // an equality stays
          side[j] = want, changed = true;
          continue;
        }
        // Active and still crossed: the guess's equalities are inconsistent (e.g. a sector that drifted
        // above its cap with every name at its kink, or a budget its free names cannot reach), so release
        // the fixed coordinate that moves most cheaply in the direction that repairs the row (the least
        // marginal objective: smooth gradient plus the l1 cost it starts paying); with none, give up.
        std::size_t best = n;
        double best_cost = kInfinity;
        for (std::size_t i = 0; i < n; ++i) {
          if (p.A[j * n + i] == 0 || !fixed[i] || lo[i] == hi[i]) continue;
          const double direction = -want * (p.A[j * n + i] > 0 ? 1.0 : -1.0);
          if (direction > 0 ? v[i] >= hi[i] : v[i] <= lo[i]) continue;  // against its bound
          if (gradient.empty()) {  // the smooth gradient q + P xc, once per pass
            gradient = p.q;
            blas::gemv(blas::Trans::no, p.n, p.n, 1.0, p.P.data(), p.n, xc.data(), 1.0, gradient.data());
          }
          const double moving_cost =
              direction * gradient[i] +
              (v[i] == x0[i] ? 1.0 : (v[i] > x0[i] ? direction : -direction)) * p.l1_cost;
          if (moving_cost < best_cost) best_cost = moving_cost, best = i;
        }
        if (best == n) return false;
        const double direction = -want * (p.A[j * n + best] > 0 ? 1.0 : -1.0);
        s[best] = v[best] != x0[best] ? (v[best] > x0[best] ? 1.0 : -1.0) : direction;
        fixed[best] = 0, kink[best] = 0;
        changed = true;
      }
      if (std::isfinite(p.l1_limit) && turnover_of(xc) > p.l1_limit + tol) {
        if (binds) return false;
        ball_binds(xc), changed = true;
      }
      if (!changed) return false;
      continue;
    }

    // Feasible: from here on one change per pass. Release the constraint whose multiplier most clearly
    // has the wrong sign (a row, the turnover ball, or a fixed coordinate that wants to move).
    feasible = xc;
    double worst = tol;
    enum Release { optimal, release_row, release_turnover, release_coordinate };
    Release release = optimal;
    std::size_t which = 0;
    double which_sign = 0;
    for (const std::size_t j : rows)
      if (p.row_lower[j] != p.row_upper[j] && -side[j] * nu[j] > worst)
        worst = -side[j] * nu[j], release = release_row, which = j;
    if (binds && -mu > worst) worst = -mu, release = release_turnover;
    // Stationarity of the fixed coordinates: 0 in h + c d|x - x0| + N_[lo, hi](x), h the smooth gradient.
    const double c = p.l1_cost + mu;
    Vec h(p.q);
    blas::gemv(blas::Trans::no, p.n, p.n, 1.0, p.P.data(), p.n, xc.data(), 1.0, h.data());
    if (m > 0) blas::gemv(blas::Trans::yes, p.rows(), p.n, 1.0, p.A.data(), p.n, nu.data(), 1.0, h.data());
    for (std::size_t i = 0; i < n; ++i) {
      if (!fixed[i] || lo[i] == hi[i]) continue;
      const bool at_lower = v[i] == lo[i], at_upper = v[i] == hi[i];
      double low_end = h[i], high_end = h[i];  // the reachable range of h + the l1 subgradient
      if (kink[i] || v[i] == x0[i])            // at the kink (also when a bound sits there)
        low_end -= c, high_end += c;
      else if (kinks)
        low_end = high_end = h[i] + c * (v[i] > x0[i] ? 1 : -1);
      // The normal cone: at the lower bound high_end >= 0 is needed; at the upper bound low_end <= 0;
      // inside (a kink): 0 in [low_end, high_end].
      if (!at_upper && -high_end > worst)
        worst = -high_end, release = release_coordinate, which = i, which_sign = 1;
      if (!at_lower && low_end > worst)
        worst = low_end, release = release_coordinate, which = i, which_sign = -1;
    }
    if (release == release_row) side[which] = 0;
    if (release == release_turnover) binds = false;
    if (release == release_coordinate) {
      fixed[which] = 0, kink[which] = 0;
      s[which] = v[which] != x0[which] ? (v[which] > x0[which] ? 1.0 : -1.0) : which_sign;
    }
    if (release != optimal) continue;
    for (std::size_t i = 0; i < n; ++i)
      guess.variable[i] = kink[i]         ? QpActiveSet::kink
                          : !fixed[i]     ? (s[i] > 0 ? QpActiveSet::up : QpActiveSet::down)
                          : v[i] == lo[i] ? QpActiveSet::lower
                                          : QpActiveSet::upper;
    guess.row.assign(side.begin(), side.end());
    guess.turnover_binds = binds;
    x = std::move(xc);
    row_duals = std::move(nu);
    turnover_dual = mu;
    return true;
  }
  return false;
}

}  // namespace

const char* to_string(QpStatus s) {
  switch (s) {
    case QpStatus::solved:
      return "solved";
    case QpStatus::max_iterations:
      return "not converged (iteration limit)";
    case QpStatus::primal_infeasible:
      return "primal infeasible";
  }
  return "?";
}

bool QpSolver::factorise(const QpProblem& p, const Vec& diagonal, const Vec& rho_rows) {
  const auto n = static_cast<std::size_t>(p.n), m = rho_rows.size();
  if (factor_.size() == n * n && cached_P_ == p.P && cached_A_ == p.A && cached_diagonal_ == diagonal &&
      cached_rho_rows_ == rho_rows)
    return false;
  factor_ = p.P;
  for (std::size_t i = 0; i < n; ++i) factor_[i * n + i] += settings_.sigma + diagonal[i];
  for (std::size_t j = 0; j < m; ++j) {  // + A' diag(rho_rows) A (rows are few and often sparse)
    const double* a = p.A.data() + j * n;
    for (std::size_t r = 0; r < n; ++r) {
      if (a[r] == 0) continue;
      const double s = rho_rows[j] * a[r];
      for (std::size_t col = 0; col < n; ++col) factor_[r * n + col] += s * a[col];
    }
  }
  // The explicit inverse: each iteration then costs one matrix-vector product, which BLAS runs several
  // times faster than the two triangular solves of the factor (measured: docs/performance.md).
  if (const int info = blas::cholesky_inverse(p.n, factor_.data()); info != 0) {
    factor_.clear();
    throw std::invalid_argument("QpSolver: P + sigma I + A' rho A is not positive definite (minor " +
                                std::to_string(info) + "): is P symmetric positive semi-definite?");
  }
  cached_P_ = p.P;
  cached_A_ = p.A;
  cached_diagonal_ = diagonal;
  cached_rho_rows_ = rho_rows;
  return true;
}

QpSolution QpSolver::solve(const QpProblem& p, const QpSolution* previous) {
  check(p);
  const QpSettings& s = settings_;
  const auto n = static_cast<std::size_t>(p.n), m = static_cast<std::size_t>(p.rows());
  const Vec lower = p.lower.empty() ? Vec(n, -kInfinity) : p.lower;
  const Vec upper = p.upper.empty() ? Vec(n, kInfinity) : p.upper;
  const Vec zeros(n, 0.0), no_lower(n, -kInfinity), no_upper(n, kInfinity);
  const Vec& reference = p.reference.empty() ? zeros : p.reference;

  // The constraint blocks z_b = A_b x, each with its own exact projection (proximal step):
  // bounds (z = x, with the l1 cost), the turnover ball (z = x), the gross ball (z = x), the rows (z = A x).
  enum Kind { bounds, turnover, gross, rows, kinds };
  const bool active[kinds] = {true, std::isfinite(p.l1_limit), std::isfinite(p.gross_limit), m > 0};
  const std::size_t size[kinds] = {n, n, n, m};

  QpSolution out;
  const bool warm = previous != nullptr && previous->x.size() == n && previous->z.size() == kinds &&
                    previous->z[rows].size() == m;
  if (warm) {
    out = *previous;
    out.status = QpStatus::max_iterations;
    out.conflicting.clear();
  } else {
    out.x.assign(n, 0.0);
    out.z.assign(kinds, {});
    out.y.assign(kinds, {});
    out.rho = s.rho;
  }
  for (int b = 0; b < kinds; ++b) {  // blocks switched on since the warm start start from zero
    if (!active[b]) out.z[b].clear(), out.y[b].clear();
    if (active[b] && out.z[b].size() != size[b]) out.z[b].assign(size[b], 0.0), out.y[b].assign(size[b], 0.0);
  }
  out.iterations = 0;
  out.factorisations = 0;
  out.polish_passes = 0;

  // rho per constraint: larger on equalities (OSQP's heuristic), so that they converge as fast as the rest.
  double rho = 0;
  std::vector<Vec> rho_of(kinds);
  Vec diagonal(n);
  bool factor_stale = true;
  auto set_rho = [&](double r) {
    rho = std::clamp(r, 1e-6, 1e6);
    for (int b = 0; b < kinds; ++b) rho_of[b].assign(active[b] ? size[b] : 0, rho);
    for (std::size_t i = 0; i < n; ++i)
      if (lower[i] == upper[i]) rho_of[bounds][i] *= s.equality_rho_scale;
    for (std::size_t j = 0; j < m; ++j)
      if (p.row_lower[j] == p.row_upper[j]) rho_of[rows][j] *= s.equality_rho_scale;
    for (std::size_t i = 0; i < n; ++i)
      diagonal[i] = rho_of[bounds][i] + (active[turnover] ? rho : 0.0) + (active[gross] ? rho : 0.0);
    factor_stale = true;  // refactored before the next x step: a day the warm active set solves needs none
  };
  set_rho(out.rho);

  Vec& x = out.x;
  std::vector<Vec>&z = out.z, &y = out.y;
  std::vector<Vec> ax(kinds), dy(kinds);
  for (int b = 0; b < kinds; ++b) ax[b].assign(z[b].size(), 0.0), dy[b].assign(z[b].size(), 0.0);
  Vec xt(n), solved(n), v, px(n), aty(n), tmp(m), polished, polished_duals;
  double polished_turnover_dual = 0;
  int next_polish = 0;
  out.polished = false;
  // A_b' w summed over blocks, and A_b x per block.
  auto transpose_sum = [&](const std::vector<Vec>& w, Vec& result) {
    if (m > 0)
      blas::gemv(blas::Trans::yes, p.rows(), p.n, 1.0, p.A.data(), p.n, w[rows].data(), 0.0, result.data());
    else
      std::fill(result.begin(), result.end(), 0.0);
    for (int b = bounds; b <= gross; ++b)
      if (active[b])
        for (std::size_t i = 0; i < n; ++i) result[i] += w[b][i];
  };
  auto apply = [&](const Vec& in) {
    for (int b = bounds; b <= gross; ++b)
      if (active[b]) std::copy(in.begin(), in.end(), ax[b].begin());
    if (m > 0)
      blas::gemv(blas::Trans::no, p.rows(), p.n, 1.0, p.A.data(), p.n, in.data(), 0.0, ax[rows].data());
  };
  auto project = [&](int b, const Vec& in, Vec& result) {
    if (b == bounds) prox_bounds(in, rho_of[b], p.l1_cost, reference, lower, upper, kInfinity, result);
    if (b == turnover) prox_bounds(in, rho_of[b], 0.0, reference, no_lower, no_upper, p.l1_limit, result);
    if (b == gross) prox_bounds(in, rho_of[b], 0.0, zeros, no_lower, no_upper, p.gross_limit, result);
    if (b == rows)
      for (std::size_t j = 0; j < m; ++j) result[j] = std::clamp(in[j], p.row_lower[j], p.row_upper[j]);
  };

  // A certificate of primal infeasibility from the dual step dy (OSQP section 3.4): sum_b A_b' dy_b ~ 0
  // while the support function of the constraint set in direction dy is negative. Its support names
  // the constraints in conflict.
  auto infeasible = [&]() {
    double scale = 0;
    for (int b = 0; b < kinds; ++b) scale = std::max(scale, inf_norm(dy[b]));
    if (!(scale > 1e-12)) return false;
    transpose_sum(dy, aty);
    if (inf_norm(aty) > s.eps_infeasible * scale) return false;
    double support = 0;
    auto add = [&](double lo, double hi, double d) {
      if (d > 0) support += std::isfinite(hi) ? hi * d : kInfinity;
      if (d < 0) support += std::isfinite(lo) ? lo * d : kInfinity;
    };
    for (std::size_t j = 0; j < m; ++j) add(p.row_lower[j], p.row_upper[j], dy[rows][j]);
    for (std::size_t i = 0; i < n; ++i) add(lower[i], upper[i], dy[bounds][i]);
    if (active[turnover]) {
      for (std::size_t i = 0; i < n; ++i) support += reference[i] * dy[turnover][i];
      support += p.l1_limit * inf_norm(dy[turnover]);
    }
    if (active[gross]) support += p.gross_limit * inf_norm(dy[gross]);
    if (!(support < -s.eps_infeasible * scale)) return false;
    const double cut = 1e-3 * scale;
    for (std::size_t j = 0; j < m; ++j)
      if (std::abs(dy[rows][j]) > cut)
        out.conflicting.push_back(row_name(p, j) + (dy[rows][j] > 0 ? " (upper)" : " (lower)"));
    for (const double side : {1.0, -1.0}) {
      std::size_t count = 0;
      std::string first;
      for (std::size_t i = 0; i < n; ++i)
        if (side * dy[bounds][i] > cut && (first.empty() ? (first = variable_name(p, i), true) : true))
          ++count;
      const std::string which = side > 0 ? "upper" : "lower";
      if (count == 1) out.conflicting.push_back(which + " bound of " + first);
      if (count > 1)
        out.conflicting.push_back(which + " bounds of " + std::to_string(count) + " variables (" + first +
                                  ", ...)");
    }
    if (active[turnover] && inf_norm(dy[turnover]) > cut) out.conflicting.push_back("turnover limit");
    if (active[gross] && inf_norm(dy[gross]) > cut) out.conflicting.push_back("gross limit");
    return true;
  };

  QpActiveSet guess;
  if (warm && s.polish && !active[gross] && s.warm_polish_passes > 0) {
    // First yesterday's active set as it stands (a few corrections when little changed); then, from
    // yesterday's point when it is still feasible, the active-set iterations proper, which cannot cycle
    // but add one constraint per pass.
    guess = previous->active_set;
    out.polished = polish(p, lower, upper, reference, kPolishTolerance, std::min(s.warm_polish_passes, 12),
                          s.polish_work, guess, nullptr, polished, polished_duals, polished_turnover_dual,
                          out.polish_passes);
    const auto at_previous = out.polished
                                 ? std::nullopt
                                 : active_set_at(p, lower, upper, reference, previous->x, kPolishTolerance);
    if (at_previous) {
      guess = *at_previous;
      out.polished =
          polish(p, lower, upper, reference, kPolishTolerance, s.warm_polish_passes, s.polish_work, guess,
                 &previous->x, polished, polished_duals, polished_turnover_dual, out.polish_passes);
    }
    if (out.polished) out.status = QpStatus::solved;
  }
  for (int k = 1; k <= s.max_iterations && !out.polished; ++k) {
    // x step: (P + sigma I + sum_b A_b' rho_b A_b) x~ = sigma x - q + sum_b A_b' (rho_b z_b - y_b).
    if (factor_stale)
      out.factorisations += factorise(p, diagonal, rho_of[rows]) ? 1 : 0, factor_stale = false;
    std::vector<Vec>& w = dy;  // scratch: rho z - y per block
    for (int b = 0; b < kinds; ++b)
      for (std::size_t i = 0; i < z[b].size(); ++i) w[b][i] = rho_of[b][i] * z[b][i] - y[b][i];
    transpose_sum(w, xt);
    for (std::size_t i = 0; i < n; ++i) xt[i] += s.sigma * x[i] - p.q[i];
    blas::gemv(blas::Trans::no, p.n, p.n, 1.0, factor_.data(), p.n, xt.data(), 0.0, solved.data());
    std::swap(xt, solved);
    apply(xt);
    // z and y steps, over-relaxed.
    for (int b = 0; b < kinds; ++b) {
      if (!active[b]) continue;
      const std::size_t nb = size[b];
      v.resize(nb);
      tmp.resize(nb);
      for (std::size_t i = 0; i < nb; ++i) {
        v[i] = s.alpha * ax[b][i] + (1 - s.alpha) * z[b][i];
        tmp[i] = v[i] + y[b][i] / rho_of[b][i];
      }
      project(b, tmp, z[b]);
      for (std::size_t i = 0; i < nb; ++i) {
        dy[b][i] = rho_of[b][i] * (v[i] - z[b][i]);
        y[b][i] += dy[b][i];
      }
    }
    for (std::size_t i = 0; i < n; ++i) x[i] = s.alpha * xt[i] + (1 - s.alpha) * x[i];
    out.iterations = k;

    const bool adapt = s.adapt_rho_every > 0 && k % s.adapt_rho_every == 0;
    if (k % s.check_every != 0 && !adapt && k != s.max_iterations) continue;
    // Residuals at x: primal max_b |A_b x - z_b|, dual |P x + q + sum_b A_b' y_b|.
    apply(x);
    double primal = 0, primal_scale = 0;
    for (int b = 0; b < kinds; ++b)
      for (std::size_t i = 0; i < z[b].size(); ++i) {
        primal = std::max(primal, std::abs(ax[b][i] - z[b][i]));
        primal_scale = std::max({primal_scale, std::abs(ax[b][i]), std::abs(z[b][i])});
      }
    blas::gemv(blas::Trans::no, p.n, p.n, 1.0, p.P.data(), p.n, x.data(), 0.0, px.data());
    transpose_sum(y, aty);
    double dual = 0;
    for (std::size_t i = 0; i < n; ++i) dual = std::max(dual, std::abs(px[i] + p.q[i] + aty[i]));
    const double dual_scale = std::max({inf_norm(px), inf_norm(p.q), inf_norm(aty)});
    out.primal_residual = primal;
    out.dual_residual = dual;
    if (s.polish && !active[gross] && k >= next_polish &&
        primal <= s.polish_below * std::max(1.0, primal_scale) &&
        dual <= s.polish_below * std::max(1.0, dual_scale)) {
      next_polish = k + s.polish_every;  // a failed guess is retried only after more iterations
      const bool binds = active[turnover] && inf_norm(y[turnover]) > 1e-12;
      guess = guess_from_admm(p, lower, upper, reference, z[bounds],
                              active[turnover] ? &z[turnover] : nullptr, z[rows], y[rows], binds);
      if (polish(p, lower, upper, reference, kPolishTolerance, s.polish_passes, s.polish_work, guess, nullptr,
                 polished, polished_duals, polished_turnover_dual, out.polish_passes)) {
        out.status = QpStatus::solved;
        out.polished = true;
        break;
      }
    }
    if (primal <= s.eps_abs + s.eps_rel * primal_scale && dual <= s.eps_abs + s.eps_rel * dual_scale) {
      out.status = QpStatus::solved;
      break;
    }
    if (infeasible()) {
      out.status = QpStatus::primal_infeasible;
      break;
    }
    if (adapt) {  // OSQP's rule: balance the relative residuals; refactor only for a large change
      const double ratio = (primal / std::max(primal_scale, 1e-30)) / (dual / std::max(dual_scale, 1e-30));
      const double proposed = rho * std::sqrt(std::max(ratio, 1e-30));
      if (proposed > 5 * rho || proposed < rho / 5) set_rho(proposed);
    }
  }
  // The bounds block's point: inside the bounds exactly (and exactly at x0 where the l1 cost holds it),
  // within the tolerance of the rest, where x is only within the tolerance of everything.
  if (out.status == QpStatus::solved) x = out.polished ? polished : z[bounds];
  out.rho = rho;
  out.row_duals = out.polished ? polished_duals : y[rows];
  out.bound_duals = y[bounds];
  // Unpolished, ADMM's final iterate still gives tomorrow's warm start a guess.
  out.active_set =
      out.polished || out.status != QpStatus::solved
          ? std::move(guess)
          : guess_from_admm(p, lower, upper, reference, z[bounds], active[turnover] ? &z[turnover] : nullptr,
                            z[rows], y[rows], active[turnover] && inf_norm(y[turnover]) > 1e-12);
  out.l1_limit_dual =
      out.polished ? polished_turnover_dual : (active[turnover] ? inf_norm(y[turnover]) : 0.0);
  out.gross_dual = active[gross] ? inf_norm(y[gross]) : 0.0;
  blas::gemv(blas::Trans::no, p.n, p.n, 1.0, p.P.data(), p.n, x.data(), 0.0, px.data());
  out.objective = 0;
  for (std::size_t i = 0; i < n; ++i)
    out.objective += 0.5 * x[i] * px[i] + p.q[i] * x[i] + p.l1_cost * std::abs(x[i] - reference[i]);
  return out;
}

const QpSolution& require_solved(const QpSolution& solution, const std::string& context) {
  if (solution.status == QpStatus::primal_infeasible) {
    std::string names;
    for (const auto& c : solution.conflicting) names += (names.empty() ? "" : ", ") + c;
    throw std::runtime_error(context + ": infeasible constraints: " + names);
  }
  if (solution.status != QpStatus::solved)
    throw std::runtime_error(context + ": the QP did not converge in " + std::to_string(solution.iterations) +
                             " iterations (primal residual " + std::to_string(solution.primal_residual) +
                             ", dual " + std::to_string(solution.dual_residual) + ")");
  return solution;
}

}  // namespace qf::quant
