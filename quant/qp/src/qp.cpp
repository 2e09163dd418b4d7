#include "qf/quant/qp/qp.h"

#include <algorithm>
#include <cmath>
#include <optional>
#include <span>
#include <stdexcept>

#include "qf/core/require.h"
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
  constexpr const char* kWho = "QpSolver";
  QF_REQUIRE(p.n >= 1, kWho, "n", p.n, "must be at least 1 (no variables)");
  QF_REQUIRE_MSG(
      p.P.size() == n * n && p.q.size() == n, kWho,
      "P must be [n, n] and q [n] (n = " << n << "; " << p.P.size() << " and " << p.q.size() << " values)");
  QF_REQUIRE_MSG(p.A.size() == m * n && p.row_upper.size() == m, kWho,
                 "A must be [m, n] with m row bounds (m = " << m << ", n = " << n << "; " << p.A.size()
                                                            << " values and " << p.row_upper.size()
                                                            << " upper bounds)");
  QF_REQUIRE_MSG(p.lower.empty() || (p.lower.size() == n && p.upper.size() == n), kWho,
                 "bounds must be [n] (n = " << n << "; " << p.lower.size() << " lower and " << p.upper.size()
                                            << " upper)");
  QF_REQUIRE_MSG(p.reference.empty() || p.reference.size() == n, kWho,
                 "the reference point must be [n] (n = " << n << "; " << p.reference.size() << " values)");
  QF_REQUIRE_MSG(all_finite(p.P), kWho, "P holds a non-finite value");
  QF_REQUIRE_MSG(all_finite(p.A), kWho, "A holds a non-finite value");
  for (std::size_t i = 0; i < n; ++i) {
    QF_REQUIRE(std::isfinite(p.q[i]), kWho, "q[" + std::to_string(i) + "]", p.q[i], "is not finite");
    QF_REQUIRE_MSG(p.lower.empty() || p.lower[i] <= p.upper[i], kWho,
                   "bounds of " << variable_name(p, i) << " are empty or NaN");
  }
  for (std::size_t j = 0; j < m; ++j)
    QF_REQUIRE_MSG(p.row_lower[j] <= p.row_upper[j], kWho,
                   "bounds of " << row_name(p, j) << " are empty or NaN");
  QF_REQUIRE(p.l1_cost >= 0, kWho, "l1_cost", p.l1_cost, "must be non-negative");
  QF_REQUIRE(p.l1_limit >= 0, kWho, "l1_limit", p.l1_limit, "must be non-negative");
  QF_REQUIRE(p.gross_limit >= 0, kWho, "gross_limit", p.gross_limit, "must be non-negative");
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

// Solves the quasi-definite KKT system K [x; multipliers] = r, K [k, k] row-major whose first f rows
// and columns are the x block, into rc [k]. A regularisation (+delta on the x block, -delta on the
// multipliers, as OSQP) keeps dependent active rows (e.g. a budget that is the sum of binding sector
// rows) solvable; three steps of iterative refinement against the exact K then remove its bias. False
// when even the regularised matrix is singular.
bool solve_regularised_kkt(const Vec& K, const Vec& r, std::size_t k, std::size_t f, Vec& rc) {
  double scale = 1;
  for (const double e : K) scale = std::max(scale, std::abs(e));
  const double delta = 1e-11 * scale;
  Vec Kr = K;
  for (std::size_t u = 0; u < k; ++u) Kr[u * k + u] += u < f ? delta : -delta;
  rc.assign(k, 0.0);
  Vec residual = r;
  std::vector<int> pivots(k);
  if (blas::lu_factor(static_cast<std::int64_t>(k), Kr.data(), pivots) != 0) return false;
  for (int step = 0; step < 3; ++step) {
    blas::lu_solve(static_cast<std::int64_t>(k), Kr.data(), pivots, residual.data());
    for (std::size_t u = 0; u < k; ++u) rc[u] += residual[u];
    blas::gemv(blas::Trans::no, static_cast<std::int64_t>(k), static_cast<std::int64_t>(k), -1.0, K.data(),
               static_cast<std::int64_t>(k), rc.data(), 0.0, residual.data());
    for (std::size_t u = 0; u < k; ++u) residual[u] += r[u];
  }
  return true;
}

// One polishing attempt from a guessed active set: the working set (which coordinates are fixed, at a
// bound or at the kink x0, and the signs s of x - x0 of the free ones; which side of each row binds;
// whether the turnover ball binds), the last feasible candidate, and the passes. Each pass solves the
// working set's KKT system for a candidate xc with multipliers nu (rows) and mu (ball), then
//   - xc infeasible, with a feasible candidate before it: step from that one towards xc as far as
//     feasibility allows, the first constraint met joining the working set (primal active set);
//   - xc infeasible, none yet: correct every broken condition at once (primal-dual active set);
//   - xc feasible: release the constraint whose multiplier most clearly has the wrong sign;
//     with none, xc is the exact optimum.
class Polisher {
 public:
  Polisher(const QpProblem& p, const Vec& lo, const Vec& hi, const Vec& x0, double tol)
      : p_(p),
        lo_(lo),
        hi_(hi),
        x0_(x0),
        tol_(tol),
        n_(static_cast<std::size_t>(p.n)),
        m_(static_cast<std::size_t>(p.rows())) {}

  // See polish() below.
  bool run(int passes, double work_limit, QpActiveSet& guess, const Vec* start, Vec& x, Vec& row_duals,
           double& turnover_dual, int& passes_used) {
    if (guess.variable.size() != n_ || guess.row.size() != m_) return false;
    adopt(guess, start);
    for (int pass = 0; pass < passes; ++pass) {
      ++passes_used;
      kinks_ = p_.l1_cost > 0 || binds_;
      update_fixed_products();
      collect_working_set();
      const std::size_t k = free_.size() + rows_.size() + (binds_ ? 1 : 0);
      // Each pass factors its k x k system; past about one n x n factorisation of work in all, ADMM (whose
      // iterations then cost one matrix-vector product each) is the cheaper way on.
      work_ += static_cast<double>(k) * static_cast<double>(k) * static_cast<double>(k);
      if (work_ > work_limit * static_cast<double>(n_) * static_cast<double>(n_) * static_cast<double>(n_))
        return false;
      if (!solve_candidate(k)) return false;
      const bool primal_ok = candidate_feasible();
      if (!primal_ok && !feasible_.empty() && step_to_blocker()) continue;
      if (!primal_ok) {
        if (correct_broken_conditions()) continue;
        return false;
      }
      feasible_ = xc_;  // from here on one change per pass
      if (release_wrong_sign()) continue;
      report(guess, x, row_duals, turnover_dual);
      return true;
    }
    return false;
  }

 private:
  // The working set of `guess` under today's bounds: a kink outside them is not held, a coordinate whose
  // bounds meet is fixed, a row side without a finite bound cannot bind. `start`, when given, is a
  // feasible point whose tight constraints are the guess.
  void adopt(const QpActiveSet& guess, const Vec* start) {
    // The sign of x - x0 matters where |x - x0| enters: with a cost, or in the turnover ball's equality
    // once it binds. Without either, a coordinate may cross x0 freely (no kink to stop at).
    kinks_ = p_.l1_cost > 0;
    v_.assign(n_, 0.0);
    s_.assign(n_, 1.0);
    kink_.assign(n_, 0);
    fixed_.assign(n_, 0);
    for (std::size_t i = 0; i < n_; ++i) {
      switch (guess.variable[i]) {
        case QpActiveSet::kink:
          if (!(x0_[i] >= lo_[i] && x0_[i] <= hi_[i])) break;  // yesterday's kink is outside today's bounds
          fixed_[i] = kink_[i] = 1, v_[i] = x0_[i];
          continue;
        case QpActiveSet::lower:
        case QpActiveSet::upper:
          fixed_[i] = 1, v_[i] = guess.variable[i] == QpActiveSet::lower ? lo_[i] : hi_[i];
          continue;
        case QpActiveSet::down:
          s_[i] = -1;
          continue;
        default:
          break;
      }
      if (lo_[i] == hi_[i]) fixed_[i] = 1, v_[i] = lo_[i];
    }
    side_.assign(guess.row.begin(), guess.row.end());
    for (std::size_t j = 0; j < m_; ++j)  // a side without a finite bound cannot bind
      if ((side_[j] > 0 && !std::isfinite(p_.row_upper[j])) ||
          (side_[j] < 0 && !std::isfinite(p_.row_lower[j])))
        side_[j] = 0;
    binds_ = guess.turnover_binds && std::isfinite(p_.l1_limit);
    if (start != nullptr) {
      feasible_ = *start;
      for (std::size_t i = 0; i < n_; ++i)
        if (fixed_[i]) feasible_[i] = v_[i];
    }
    fixed_part_.assign(n_, 0.0);
    P_fixed_.assign(n_, 0.0);
    A_fixed_.assign(m_, 0.0);
  }

  // P and A times the fixed part of the point (v where fixed, 0 where free), kept up to date for the
  // coordinates that changed since the last pass: each pass changes one or a few, so this costs O(n)
  // instead of the O(n * free) of recomputing the right-hand sides.
  void update_fixed_products() {
    for (std::size_t i = 0; i < n_; ++i) {
      const double now = fixed_[i] ? v_[i] : 0.0, change = now - fixed_part_[i];
      if (change == 0) continue;
      const double* column = p_.P.data() + i * n_;  // P is symmetric: row i is column i
      for (std::size_t r = 0; r < n_; ++r) P_fixed_[r] += column[r] * change;
      for (std::size_t j = 0; j < m_; ++j) A_fixed_[j] += p_.A[j * n_ + i] * change;
      fixed_part_[i] = now;
    }
  }

  // The free coordinates, and the active rows that still involve one.
  void collect_working_set() {
    free_.clear();
    rows_.clear();
    for (std::size_t i = 0; i < n_; ++i)
      if (!fixed_[i]) free_.push_back(i);
    for (std::size_t j = 0; j < m_; ++j) {
      if (side_[j] == 0) continue;
      bool involved = false;
      for (const std::size_t i : free_) involved |= p_.A[j * n_ + i] != 0;
      if (involved) rows_.push_back(j);
    }
  }

  // The candidate of the working set, k = free + active rows (+ 1 when the ball binds) unknowns:
  //   [P_FF A_F' b; A_F 0 0; b' 0 0] [x_F; nu; mu] = [-q_F - P_FC v_C - kappa s_F; bound - A_C v_C; ball]
  // with kappa the l1 cost, b = s_F and ball = limit - sum_C |v_i - x0_i| + sum_F s_i x0_i (the ball's
  // equality sum_F s_i (x_i - x0_i) + sum_C |v_i - x0_i| = limit). xc is v on the fixed coordinates.
  bool solve_candidate(std::size_t k) {
    const std::size_t f = free_.size(), a = rows_.size();
    xc_ = v_;
    nu_.assign(m_, 0.0);
    mu_ = 0;
    if (k == 0) return true;
    Vec K(k * k, 0.0), r(k, 0.0);
    for (std::size_t u = 0; u < f; ++u) {
      const std::size_t i = free_[u];
      for (std::size_t w = 0; w < f; ++w) K[u * k + w] = p_.P[i * n_ + free_[w]];
      r[u] = -p_.q[i] - p_.l1_cost * s_[i] - P_fixed_[i];
    }
    for (std::size_t t = 0; t < a; ++t) {
      const std::size_t j = rows_[t];
      const double rhs = (side_[j] > 0 ? p_.row_upper[j] : p_.row_lower[j]) - A_fixed_[j];
      for (std::size_t u = 0; u < f; ++u) K[(f + t) * k + u] = K[u * k + f + t] = p_.A[j * n_ + free_[u]];
      r[f + t] = rhs;
    }
    if (binds_) {
      double rhs = p_.l1_limit;
      for (std::size_t col = 0; col < n_; ++col)
        if (fixed_[col]) rhs -= std::abs(v_[col] - x0_[col]);
      for (std::size_t u = 0; u < f; ++u) {
        K[(k - 1) * k + u] = K[u * k + k - 1] = s_[free_[u]];
        rhs += s_[free_[u]] * x0_[free_[u]];
      }
      r[k - 1] = rhs;
    }
    Vec rc;
    if (!solve_regularised_kkt(K, r, k, f, rc)) return false;
    for (std::size_t u = 0; u < f; ++u) xc_[free_[u]] = rc[u];
    for (std::size_t t = 0; t < a; ++t) nu_[rows_[t]] = rc[f + t];
    if (binds_) mu_ = rc[k - 1];
    return true;
  }

  // Row values A point [m], all rows by one matrix-vector product.
  Vec row_values(const Vec& point) const {
    Vec values(m_, 0.0);
    if (m_ > 0)
      blas::gemv(blas::Trans::no, p_.rows(), p_.n, 1.0, p_.A.data(), p_.n, point.data(), 0.0, values.data());
    return values;
  }
  // sum_i |point_i - x0_i|.
  double turnover_of(const Vec& point) const {
    double t = 0;
    for (std::size_t i = 0; i < n_; ++i) t += std::abs(point[i] - x0_[i]);
    return t;
  }

  // Primal feasibility of the candidate (within tol): the turnover ball, the free coordinates' bounds
  // and signs, the rows (their values A xc kept for the corrections).
  bool candidate_feasible() {
    A_xc_ = row_values(xc_);
    bool primal_ok = !std::isfinite(p_.l1_limit) || turnover_of(xc_) <= p_.l1_limit + tol_;
    for (const std::size_t i : free_)
      primal_ok = primal_ok && xc_[i] >= lo_[i] - tol_ && xc_[i] <= hi_[i] + tol_ &&
                  (!kinks_ || s_[i] * (xc_[i] - x0_[i]) >= -tol_);
    for (std::size_t j = 0; j < m_ && primal_ok; ++j) {
      const double value = A_xc_[j];
      primal_ok = value <= p_.row_upper[j] + tol_ && value >= p_.row_lower[j] - tol_;
    }
    return primal_ok;
  }

  // The first constraint met along feasible + t d, t in [0, 1]: the smallest step, the first found on
  // ties.
  struct Blocker {
    enum Kind { none, to_lower, to_upper, to_kink, to_row, to_turnover };
    Kind kind = none;
    double t = 1;
    std::size_t which = 0;
    int side = 0;  // of a row: +1 upper, -1 lower
    void consider(double step, Kind k, std::size_t index, int row_side) {
      if (step < t) t = std::max(step, 0.0), kind = k, which = index, side = row_side;
    }
  };

  // Primal active-set step: from the last feasible candidate towards this one, as far as feasibility
  // allows; the first constraint met joins the working set. False when nothing blocks the step: then a
  // working-set equality itself is broken (dependent rows with inconsistent right-hand sides), which
  // the corrections repair.
  bool step_to_blocker() {
    Vec d(n_, 0.0);
    for (const std::size_t i : free_) d[i] = xc_[i] - feasible_[i];
    const Blocker b = first_blocker(d);
    if (b.kind == Blocker::none) return false;
    for (const std::size_t i : free_) feasible_[i] += b.t * d[i];
    const std::size_t which = b.which;
    if (b.kind == Blocker::to_lower || b.kind == Blocker::to_upper || b.kind == Blocker::to_kink) {
      fixed_[which] = 1, kink_[which] = b.kind == Blocker::to_kink ? 1 : 0;
      v_[which] = feasible_[which] =
          b.kind == Blocker::to_lower ? lo_[which] : (b.kind == Blocker::to_upper ? hi_[which] : x0_[which]);
    }
    if (b.kind == Blocker::to_row) side_[which] = b.side;
    if (b.kind == Blocker::to_turnover) ball_binds(feasible_);
    return true;
  }

  // The ratio test along d: the free coordinates' bounds and kinks, the rows outside the working set,
  // then the turnover ball.
  Blocker first_blocker(const Vec& d) const {
    Blocker b;
    for (const std::size_t i : free_) {
      if (d[i] < 0) b.consider((feasible_[i] - lo_[i]) / -d[i], Blocker::to_lower, i, 0);
      if (d[i] > 0) b.consider((hi_[i] - feasible_[i]) / d[i], Blocker::to_upper, i, 0);
      if (kinks_ && s_[i] * d[i] < 0 && x0_[i] >= lo_[i] && x0_[i] <= hi_[i])
        b.consider(s_[i] * (feasible_[i] - x0_[i]) / (-s_[i] * d[i]), Blocker::to_kink, i, 0);
    }
    const Vec A_feasible = row_values(feasible_), A_d = row_values(d);
    for (std::size_t j = 0; j < m_; ++j) {
      if (side_[j] != 0 && std::find(rows_.begin(), rows_.end(), j) != rows_.end()) continue;
      const double now = A_feasible[j], rate = A_d[j];
      if (rate > 0) b.consider((p_.row_upper[j] - now) / rate, Blocker::to_row, j, 1);
      if (rate < 0) b.consider((p_.row_lower[j] - now) / rate, Blocker::to_row, j, -1);
    }
    if (!std::isfinite(p_.l1_limit) || binds_) return b;
    if (kinks_) {  // signs held: the turnover is linear along the step
      double rate = 0;
      for (const std::size_t i : free_) rate += s_[i] * d[i];
      if (rate > 0) b.consider((p_.l1_limit - turnover_of(feasible_)) / rate, Blocker::to_turnover, 0, 0);
    } else {  // convex and piecewise linear along the step: bisect for where it reaches the limit
      Vec point(feasible_);
      auto turnover_at = [&](double step) {
        for (const std::size_t i : free_) point[i] = feasible_[i] + step * d[i];
        return turnover_of(point);
      };
      if (turnover_at(b.t) > p_.l1_limit) {
        double low = 0, high = b.t;
        for (int k = 0; k < 60; ++k) {
          const double mid = 0.5 * (low + high);
          (turnover_at(mid) > p_.l1_limit ? high : low) = mid;
        }
        b.consider(low, Blocker::to_turnover, 0, 0);
      }
    }
    return b;
  }

  // No feasible candidate yet: correct every broken condition at once (a primal-dual active-set step),
  // which from a good guess reaches a feasible candidate in a pass or two. First the free coordinates
  // (a crossed bound or kink fixes them there); only when none broke, the rows and the ball. False:
  // give up (nothing to correct, or a correction that cannot be made).
  bool correct_broken_conditions() {
    bool changed = false;
    for (const std::size_t i : free_) {
      if (xc_[i] < lo_[i] - tol_ || xc_[i] > hi_[i] + tol_) {
        fixed_[i] = 1, kink_[i] = 0, v_[i] = xc_[i] < lo_[i] ? lo_[i] : hi_[i];
        changed = true;
      } else if (kinks_ && s_[i] * (xc_[i] - x0_[i]) < -tol_) {
        if (x0_[i] < lo_[i] || x0_[i] > hi_[i]) return false;  // cannot sit at a kink outside the bounds
        fixed_[i] = 1, kink_[i] = 1, v_[i] = x0_[i];
        changed = true;
      }
    }
    if (changed) return true;
    Vec gradient;                           // the smooth gradient q + P xc, once per pass when needed
    for (std::size_t j = 0; j < m_; ++j) {  // a crossed row becomes active
      const double value = A_xc_[j];
      if (value <= p_.row_upper[j] + tol_ && value >= p_.row_lower[j] - tol_) continue;
      const int want = value > p_.row_upper[j] ? 1 : -1;
      if (side_[j] != want && (side_[j] == 0 || p_.row_lower[j] != p_.row_upper[j])) {  // an equality stays
        side_[j] = want, changed = true;
        continue;
      }
      const std::size_t best = cheapest_release(j, want, gradient);
      if (best == n_) return false;
      const double direction = -want * (p_.A[j * n_ + best] > 0 ? 1.0 : -1.0);
      s_[best] = v_[best] != x0_[best] ? (v_[best] > x0_[best] ? 1.0 : -1.0) : direction;
      fixed_[best] = 0, kink_[best] = 0;
      changed = true;
    }
    if (std::isfinite(p_.l1_limit) && turnover_of(xc_) > p_.l1_limit + tol_) {
      if (binds_) return false;
      ball_binds(xc_), changed = true;
    }
    return changed;
  }

  // Row j is active and still crossed (on side `want`): the guess's equalities are inconsistent (e.g. a
  // sector that drifted above its cap with every name at its kink, or a budget its free names cannot
  // reach). The fixed coordinate to release is the one that moves most cheaply in the direction that
  // repairs the row (the least marginal objective: smooth gradient plus the l1 cost it starts paying);
  // n when none can move.
  std::size_t cheapest_release(std::size_t j, int want, Vec& gradient) const {
    std::size_t best = n_;
    double best_cost = kInfinity;
    for (std::size_t i = 0; i < n_; ++i) {
      if (p_.A[j * n_ + i] == 0 || !fixed_[i] || lo_[i] == hi_[i]) continue;
      const double direction = -want * (p_.A[j * n_ + i] > 0 ? 1.0 : -1.0);
      if (direction > 0 ? v_[i] >= hi_[i] : v_[i] <= lo_[i]) continue;  // against its bound
      if (gradient.empty()) {
        gradient = p_.q;
        blas::gemv(blas::Trans::no, p_.n, p_.n, 1.0, p_.P.data(), p_.n, xc_.data(), 1.0, gradient.data());
      }
      const double moving_cost =
          direction * gradient[i] +
          (v_[i] == x0_[i] ? 1.0 : (v_[i] > x0_[i] ? direction : -direction)) * p_.l1_cost;
      if (moving_cost < best_cost) best_cost = moving_cost, best = i;
    }
    return best;
  }

  // The turnover ball starts to bind: the signs of the free coordinates are those of the point reached.
  void ball_binds(const Vec& point) {
    binds_ = true;
    for (std::size_t i = 0; i < n_; ++i)
      if (!fixed_[i] && point[i] != x0_[i]) s_[i] = point[i] > x0_[i] ? 1.0 : -1.0;
  }

  // Feasible: release the constraint whose multiplier most clearly (beyond tol) has the wrong sign: a
  // row (nu against its side), the turnover ball (mu < 0), or a fixed coordinate that wants to move.
  // False when there is none: the candidate is optimal.
  bool release_wrong_sign() {
    double worst = tol_;
    enum Release { optimal, release_row, release_turnover, release_coordinate };
    Release release = optimal;
    std::size_t which = 0;
    double which_sign = 0;
    for (const std::size_t j : rows_)
      if (p_.row_lower[j] != p_.row_upper[j] && -side_[j] * nu_[j] > worst)
        worst = -side_[j] * nu_[j], release = release_row, which = j;
    if (binds_ && -mu_ > worst) worst = -mu_, release = release_turnover;
    // Stationarity of the fixed coordinates: 0 in h + c d|x - x0| + N_[lo, hi](x), h the smooth gradient
    // q + P xc + A' nu, c = kappa + mu.
    const double c = p_.l1_cost + mu_;
    Vec h(p_.q);
    blas::gemv(blas::Trans::no, p_.n, p_.n, 1.0, p_.P.data(), p_.n, xc_.data(), 1.0, h.data());
    if (m_ > 0)
      blas::gemv(blas::Trans::yes, p_.rows(), p_.n, 1.0, p_.A.data(), p_.n, nu_.data(), 1.0, h.data());
    for (std::size_t i = 0; i < n_; ++i) {
      if (!fixed_[i] || lo_[i] == hi_[i]) continue;
      const bool at_lower = v_[i] == lo_[i], at_upper = v_[i] == hi_[i];
      double low_end = h[i], high_end = h[i];  // the reachable range of h + the l1 subgradient
      if (kink_[i] || v_[i] == x0_[i])         // at the kink (also when a bound sits there)
        low_end -= c, high_end += c;
      else if (kinks_)
        low_end = high_end = h[i] + c * (v_[i] > x0_[i] ? 1 : -1);
      // The normal cone: at the lower bound high_end >= 0 is needed; at the upper bound low_end <= 0;
      // inside (a kink): 0 in [low_end, high_end].
      if (!at_upper && -high_end > worst)
        worst = -high_end, release = release_coordinate, which = i, which_sign = 1;
      if (!at_lower && low_end > worst)
        worst = low_end, release = release_coordinate, which = i, which_sign = -1;
    }
    if (release == release_row) side_[which] = 0;
    if (release == release_turnover) binds_ = false;
    if (release == release_coordinate) {
      fixed_[which] = 0, kink_[which] = 0;
      s_[which] = v_[which] != x0_[which] ? (v_[which] > x0_[which] ? 1.0 : -1.0) : which_sign;
    }
    return release != optimal;
  }

  // The optimum found: its active set into `guess`, the point and its multipliers.
  void report(QpActiveSet& guess, Vec& x, Vec& row_duals, double& turnover_dual) {
    for (std::size_t i = 0; i < n_; ++i)
      guess.variable[i] = kink_[i]          ? QpActiveSet::kink
                          : !fixed_[i]      ? (s_[i] > 0 ? QpActiveSet::up : QpActiveSet::down)
                          : v_[i] == lo_[i] ? QpActiveSet::lower
                                            : QpActiveSet::upper;
    guess.row.assign(side_.begin(), side_.end());
    guess.turnover_binds = binds_;
    x = std::move(xc_);
    row_duals = std::move(nu_);
    turnover_dual = mu_;
  }

  const QpProblem& p_;
  const Vec &lo_, &hi_, &x0_;  // [n] bounds and the l1 kinks (the reference point)
  const double tol_;
  const std::size_t n_, m_;
  // The working set. Coordinates: fixed at a bound or at the kink (value v), or free with the sign s of
  // x - x0. Rows: side +1 (upper active), -1 (lower active), 0 (inactive).
  Vec v_, s_;                               // [n]
  std::vector<std::uint8_t> kink_, fixed_;  // [n]
  std::vector<int> side_;                   // [m]
  bool binds_ = false;                      // the turnover ball binds
  bool kinks_ = false;                      // the sign of x - x0 is held (l1 cost, or the ball binds)
  Vec feasible_;  // the last feasible candidate; once there is one, each pass makes one change
  Vec fixed_part_, P_fixed_, A_fixed_;  // [n], [n], [m]: see update_fixed_products
  double work_ = 0;                     // sum of k^3 over the passes
  // This pass: the free coordinates and the active rows that involve one, the candidate xc [n] with
  // its multipliers nu [m] and mu, and A xc [m].
  std::vector<std::size_t> free_, rows_;
  Vec xc_, nu_, A_xc_;
  double mu_ = 0;
};

// Polishes from `guess`; on success x, the row duals and the turnover dual hold the exact optimum and
// `guess` its active set. At most `passes` passes and work_limit n^3 of KKT factorisations; `start`, when
// given, is a feasible point whose tight constraints are the guess (the active-set iterations proper).
bool polish(const QpProblem& p, const Vec& lo, const Vec& hi, const Vec& x0, double tol, int passes,
            double work_limit, QpActiveSet& guess, const Vec* start, Vec& x, Vec& row_duals,
            double& turnover_dual, int& passes_used) {
  return Polisher(p, lo, hi, x0, tol)
      .run(passes, work_limit, guess, start, x, row_duals, turnover_dual, passes_used);
}

// One solve's ADMM (OSQP's iteration, Stellato et al. 2020, section 3) over the constraint blocks
// z_b = A_b x, each with its own exact projection (proximal step): bounds (z = x, with the l1 cost),
// the turnover ball (z = x), the gross ball (z = x), the rows (z = A x). Holds the iterate (x, z, y in
// the solution, for warm starts), rho per constraint, and the polishing attempts. The x step's matrix
// inverse belongs to QpSolver, which caches it between solves.
class Admm {
 public:
  enum Kind { bounds, turnover, gross, rows, kinds };

  // Starts from `previous` when it fits (same n and m), else from zero.
  Admm(const QpProblem& p, const QpSettings& s, const QpSolution* previous)
      : p_(p),
        s_(s),
        n_(static_cast<std::size_t>(p.n)),
        m_(static_cast<std::size_t>(p.rows())),
        lower_(p.lower.empty() ? Vec(n_, -kInfinity) : p.lower),
        upper_(p.upper.empty() ? Vec(n_, kInfinity) : p.upper),
        zeros_(n_, 0.0),
        no_lower_(n_, -kInfinity),
        no_upper_(n_, kInfinity),
        reference_(p.reference.empty() ? zeros_ : p.reference),
        active_{true, std::isfinite(p.l1_limit), std::isfinite(p.gross_limit), m_ > 0},
        size_{n_, n_, n_, m_},
        warm_(previous != nullptr && previous->x.size() == n_ && previous->z.size() == kinds &&
              previous->z[rows].size() == m_) {
    if (warm_) {
      out_ = *previous;
      out_.status = QpStatus::max_iterations;
      out_.conflicting.clear();
    } else {
      out_.x.assign(n_, 0.0);
      out_.z.assign(kinds, {});
      out_.y.assign(kinds, {});
      out_.rho = s.rho;
    }
    for (int b = 0; b < kinds; ++b) {  // blocks switched on since the warm start start from zero
      if (!active_[b]) out_.z[b].clear(), out_.y[b].clear();
      if (active_[b] && out_.z[b].size() != size_[b])
        out_.z[b].assign(size_[b], 0.0), out_.y[b].assign(size_[b], 0.0);
    }
    out_.iterations = 0;
    out_.factorisations = 0;
    out_.polish_passes = 0;
    diagonal_.resize(n_);
    rho_of_.resize(kinds);
    set_rho(out_.rho);
    ax_.resize(kinds);
    dy_.resize(kinds);
    for (int b = 0; b < kinds; ++b)
      ax_[b].assign(out_.z[b].size(), 0.0), dy_[b].assign(out_.z[b].size(), 0.0);
    xt_.resize(n_);
    solved_.resize(n_);
    px_.resize(n_);
    aty_.resize(n_);
    tmp_.resize(m_);
    out_.polished = false;
  }
  Admm(const Admm&) = delete;  // reference_ may point into the object
  Admm& operator=(const Admm&) = delete;

  // A warm start first tries yesterday's active set as it stands (a few corrections when little
  // changed); then, from yesterday's point when it is still feasible, the active-set iterations proper,
  // which cannot cycle but add one constraint per pass. True when that solved the problem.
  bool polish_warm_start(const QpSolution* previous) {
    if (!(warm_ && s_.polish && !active_[gross] && s_.warm_polish_passes > 0)) return false;
    guess_ = previous->active_set;
    out_.polished = polish(p_, lower_, upper_, reference_, kPolishTolerance,
                           std::min(s_.warm_polish_passes, 12), s_.polish_work, guess_, nullptr, polished_,
                           polished_duals_, polished_turnover_dual_, out_.polish_passes);
    const auto at_previous =
        out_.polished ? std::nullopt
                      : active_set_at(p_, lower_, upper_, reference_, previous->x, kPolishTolerance);
    if (at_previous) {
      guess_ = *at_previous;
      out_.polished = polish(p_, lower_, upper_, reference_, kPolishTolerance, s_.warm_polish_passes,
                             s_.polish_work, guess_, &previous->x, polished_, polished_duals_,
                             polished_turnover_dual_, out_.polish_passes);
    }
    if (out_.polished) out_.status = QpStatus::solved;
    return out_.polished;
  }

  // The x step's matrix P + sigma I + diagonal + A' diag(row_rho) A must be (re)factored before the next
  // iteration (rho changed); `refactored` says whether QpSolver had to (its cache may hold it).
  bool factor_stale() const { return factor_stale_; }
  const Vec& diagonal() const { return diagonal_; }
  const Vec& row_rho() const { return rho_of_[rows]; }
  void factored(bool refactored, bool updated) {
    out_.factorisations += refactored ? 1 : 0;
    out_.inverse_updates += updated ? 1 : 0;
    factor_stale_ = false;
  }

  // Iteration k with `inverse` the x step's matrix inverse [n, n]:
  //   x~ = inverse (sigma x - q + sum_b A_b' (rho_b z_b - y_b)),
  //   v_b = alpha A_b x~ + (1 - alpha) z_b, z_b = project_b(v_b + y_b / rho_b), y_b += rho_b (v_b - z_b),
  //   x = alpha x~ + (1 - alpha) x.
  void iterate(int k, const Vec& inverse) {
    Vec& x = out_.x;
    std::vector<Vec>&z = out_.z, &y = out_.y;
    std::vector<Vec>& w = dy_;  // scratch: rho z - y per block
    for (int b = 0; b < kinds; ++b)
      for (std::size_t i = 0; i < z[b].size(); ++i) w[b][i] = rho_of_[b][i] * z[b][i] - y[b][i];
    transpose_sum(w, xt_);
    for (std::size_t i = 0; i < n_; ++i) xt_[i] += s_.sigma * x[i] - p_.q[i];
    blas::gemv(blas::Trans::no, p_.n, p_.n, 1.0, inverse.data(), p_.n, xt_.data(), 0.0, solved_.data());
    std::swap(xt_, solved_);
    apply(xt_);
    // z and y steps, over-relaxed.
    for (int b = 0; b < kinds; ++b) {
      if (!active_[b]) continue;
      const std::size_t nb = size_[b];
      v_.resize(nb);
      tmp_.resize(nb);
      for (std::size_t i = 0; i < nb; ++i) {
        v_[i] = s_.alpha * ax_[b][i] + (1 - s_.alpha) * z[b][i];
        tmp_[i] = v_[i] + y[b][i] / rho_of_[b][i];
      }
      project(b, tmp_, z[b]);
      for (std::size_t i = 0; i < nb; ++i) {
        dy_[b][i] = rho_of_[b][i] * (v_[i] - z[b][i]);
        y[b][i] += dy_[b][i];
      }
    }
    for (std::size_t i = 0; i < n_; ++i) x[i] = s_.alpha * xt_[i] + (1 - s_.alpha) * x[i];
    out_.iterations = k;
  }

  // After iteration k, every check_every iterations (and at the rho updates and the last iteration):
  // the residuals, a polishing attempt, the termination and infeasibility tests, and rho's
  // adaptation. True when the solve is over (solved or infeasible).
  bool check(int k) {
    const bool adapt = s_.adapt_rho_every > 0 && k % s_.adapt_rho_every == 0;
    if (k % s_.check_every != 0 && !adapt && k != s_.max_iterations) return false;
    const Residuals r = residuals();
    out_.primal_residual = r.primal;
    out_.dual_residual = r.dual;
    if (s_.polish && !active_[gross] && k >= next_polish_ &&
        r.primal <= s_.polish_below * std::max(1.0, r.primal_scale) &&
        r.dual <= s_.polish_below * std::max(1.0, r.dual_scale)) {
      next_polish_ = k + s_.polish_every;  // a failed guess is retried only after more iterations
      if (polish_admm_iterate()) {
        out_.status = QpStatus::solved;
        out_.polished = true;
        return true;
      }
    }
    if (r.primal <= s_.eps_abs + s_.eps_rel * r.primal_scale &&
        r.dual <= s_.eps_abs + s_.eps_rel * r.dual_scale) {
      out_.status = QpStatus::solved;
      return true;
    }
    if (infeasible()) {
      out_.status = QpStatus::primal_infeasible;
      return true;
    }
    if (adapt) {  // OSQP's rule: balance the relative residuals; refactor only for a large change
      const double ratio =
          (r.primal / std::max(r.primal_scale, 1e-30)) / (r.dual / std::max(r.dual_scale, 1e-30));
      const double proposed = rho_ * std::sqrt(std::max(ratio, 1e-30));
      if (proposed > 5 * rho_ || proposed < rho_ / 5) set_rho(proposed);
    }
    return false;
  }

  // The solution: when solved, the polished point or the bounds block's point z (inside the bounds
  // exactly, and exactly at x0 where the l1 cost holds it; within the tolerance of the rest, where x is
  // only within the tolerance of everything); duals, active set, objective.
  QpSolution finish() {
    Vec& x = out_.x;
    std::vector<Vec>&z = out_.z, &y = out_.y;
    if (out_.status == QpStatus::solved) x = out_.polished ? polished_ : z[bounds];
    out_.rho = rho_;
    out_.row_duals = out_.polished ? polished_duals_ : y[rows];
    out_.bound_duals = y[bounds];
    // Unpolished, ADMM's final iterate still gives tomorrow's warm start a guess.
    out_.active_set = out_.polished || out_.status != QpStatus::solved
                          ? std::move(guess_)
                          : guess_from_admm(p_, lower_, upper_, reference_, z[bounds],
                                            active_[turnover] ? &z[turnover] : nullptr, z[rows], y[rows],
                                            active_[turnover] && inf_norm(y[turnover]) > 1e-12);
    out_.l1_limit_dual =
        out_.polished ? polished_turnover_dual_ : (active_[turnover] ? inf_norm(y[turnover]) : 0.0);
    out_.gross_dual = active_[gross] ? inf_norm(y[gross]) : 0.0;
    blas::gemv(blas::Trans::no, p_.n, p_.n, 1.0, p_.P.data(), p_.n, x.data(), 0.0, px_.data());
    out_.objective = 0;
    for (std::size_t i = 0; i < n_; ++i)
      out_.objective += 0.5 * x[i] * px_[i] + p_.q[i] * x[i] + p_.l1_cost * std::abs(x[i] - reference_[i]);
    return std::move(out_);
  }

 private:
  // rho per constraint: larger on equalities (OSQP's heuristic), so that they converge as fast as the
  // rest; the x step's diagonal sums the rho of the blocks z = x.
  void set_rho(double r) {
    rho_ = std::clamp(r, 1e-6, 1e6);
    for (int b = 0; b < kinds; ++b) rho_of_[b].assign(active_[b] ? size_[b] : 0, rho_);
    for (std::size_t i = 0; i < n_; ++i)
      if (lower_[i] == upper_[i]) rho_of_[bounds][i] *= s_.equality_rho_scale;
    for (std::size_t j = 0; j < m_; ++j)
      if (p_.row_lower[j] == p_.row_upper[j]) rho_of_[rows][j] *= s_.equality_rho_scale;
    for (std::size_t i = 0; i < n_; ++i)
      diagonal_[i] = rho_of_[bounds][i] + (active_[turnover] ? rho_ : 0.0) + (active_[gross] ? rho_ : 0.0);
    factor_stale_ = true;  // refactored before the next x step: a day the warm active set solves needs none
  }

  // A_b' w summed over blocks [n].
  void transpose_sum(const std::vector<Vec>& w, Vec& result) const {
    if (m_ > 0)
      blas::gemv(blas::Trans::yes, p_.rows(), p_.n, 1.0, p_.A.data(), p_.n, w[rows].data(), 0.0,
                 result.data());
    else
      std::fill(result.begin(), result.end(), 0.0);
    for (int b = bounds; b <= gross; ++b)
      if (active_[b])
        for (std::size_t i = 0; i < n_; ++i) result[i] += w[b][i];
  }
  // A_b x per block, into ax_.
  void apply(const Vec& in) {
    for (int b = bounds; b <= gross; ++b)
      if (active_[b]) std::copy(in.begin(), in.end(), ax_[b].begin());
    if (m_ > 0)
      blas::gemv(blas::Trans::no, p_.rows(), p_.n, 1.0, p_.A.data(), p_.n, in.data(), 0.0, ax_[rows].data());
  }
  // Block b's projection (proximal step) of `in` into `result`.
  void project(int b, const Vec& in, Vec& result) const {
    if (b == bounds) prox_bounds(in, rho_of_[b], p_.l1_cost, reference_, lower_, upper_, kInfinity, result);
    if (b == turnover)
      prox_bounds(in, rho_of_[b], 0.0, reference_, no_lower_, no_upper_, p_.l1_limit, result);
    if (b == gross) prox_bounds(in, rho_of_[b], 0.0, zeros_, no_lower_, no_upper_, p_.gross_limit, result);
    if (b == rows)
      for (std::size_t j = 0; j < m_; ++j) result[j] = std::clamp(in[j], p_.row_lower[j], p_.row_upper[j]);
  }

  // Residuals at x: primal max_b |A_b x - z_b|, dual |P x + q + sum_b A_b' y_b|, and their scales.
  struct Residuals {
    double primal, primal_scale, dual, dual_scale;
  };
  Residuals residuals() {
    const Vec& x = out_.x;
    const std::vector<Vec>&z = out_.z, &y = out_.y;
    apply(x);
    double primal = 0, primal_scale = 0;
    for (int b = 0; b < kinds; ++b)
      for (std::size_t i = 0; i < z[b].size(); ++i) {
        primal = std::max(primal, std::abs(ax_[b][i] - z[b][i]));
        primal_scale = std::max({primal_scale, std::abs(ax_[b][i]), std::abs(z[b][i])});
      }
    blas::gemv(blas::Trans::no, p_.n, p_.n, 1.0, p_.P.data(), p_.n, x.data(), 0.0, px_.data());
    transpose_sum(y, aty_);
    double dual = 0;
    for (std::size_t i = 0; i < n_; ++i) dual = std::max(dual, std::abs(px_[i] + p_.q[i] + aty_[i]));
    const double dual_scale = std::max({inf_norm(px_), inf_norm(p_.q), inf_norm(aty_)});
    return {primal, primal_scale, dual, dual_scale};
  }

  // Polishing from the active set that ADMM's iterate shows (guess_from_admm).
  bool polish_admm_iterate() {
    const std::vector<Vec>&z = out_.z, &y = out_.y;
    const bool binds = active_[turnover] && inf_norm(y[turnover]) > 1e-12;
    guess_ = guess_from_admm(p_, lower_, upper_, reference_, z[bounds],
                             active_[turnover] ? &z[turnover] : nullptr, z[rows], y[rows], binds);
    return polish(p_, lower_, upper_, reference_, kPolishTolerance, s_.polish_passes, s_.polish_work, guess_,
                  nullptr, polished_, polished_duals_, polished_turnover_dual_, out_.polish_passes);
  }

  // A certificate of primal infeasibility from the dual step dy (OSQP section 3.4): sum_b A_b' dy_b ~ 0
  // while the support function of the constraint set in direction dy is negative. Its support names
  // the constraints in conflict (into out_.conflicting).
  bool infeasible() {
    double scale = 0;
    for (int b = 0; b < kinds; ++b) scale = std::max(scale, inf_norm(dy_[b]));
    if (!(scale > 1e-12)) return false;
    transpose_sum(dy_, aty_);
    if (inf_norm(aty_) > s_.eps_infeasible * scale) return false;
    double support = 0;
    auto add = [&](double lo, double hi, double d) {
      if (d > 0) support += std::isfinite(hi) ? hi * d : kInfinity;
      if (d < 0) support += std::isfinite(lo) ? lo * d : kInfinity;
    };
    for (std::size_t j = 0; j < m_; ++j) add(p_.row_lower[j], p_.row_upper[j], dy_[rows][j]);
    for (std::size_t i = 0; i < n_; ++i) add(lower_[i], upper_[i], dy_[bounds][i]);
    if (active_[turnover]) {
      for (std::size_t i = 0; i < n_; ++i) support += reference_[i] * dy_[turnover][i];
      support += p_.l1_limit * inf_norm(dy_[turnover]);
    }
    if (active_[gross]) support += p_.gross_limit * inf_norm(dy_[gross]);
    if (!(support < -s_.eps_infeasible * scale)) return false;
    name_conflicts(1e-3 * scale);
    return true;
  }
  // The constraints whose certificate entries exceed `cut`: rows by name and side, bounds by side (one
  // by name, several counted), the turnover and gross limits.
  void name_conflicts(double cut) {
    for (std::size_t j = 0; j < m_; ++j)
      if (std::abs(dy_[rows][j]) > cut)
        out_.conflicting.push_back(row_name(p_, j) + (dy_[rows][j] > 0 ? " (upper)" : " (lower)"));
    for (const double side : {1.0, -1.0}) {
      std::size_t count = 0;
      std::string first;
      for (std::size_t i = 0; i < n_; ++i)
        if (side * dy_[bounds][i] > cut && (first.empty() ? (first = variable_name(p_, i), true) : true))
          ++count;
      const std::string which = side > 0 ? "upper" : "lower";
      if (count == 1) out_.conflicting.push_back(which + " bound of " + first);
      if (count > 1)
        out_.conflicting.push_back(which + " bounds of " + std::to_string(count) + " variables (" + first +
                                   ", ...)");
    }
    if (active_[turnover] && inf_norm(dy_[turnover]) > cut) out_.conflicting.push_back("turnover limit");
    if (active_[gross] && inf_norm(dy_[gross]) > cut) out_.conflicting.push_back("gross limit");
  }

  const QpProblem& p_;
  const QpSettings& s_;
  const std::size_t n_, m_;
  const Vec lower_, upper_;                // [n] the bounds, +-infinity where none
  const Vec zeros_, no_lower_, no_upper_;  // [n]
  const Vec& reference_;                   // [n] x0: p.reference, or zeros_
  const bool active_[kinds];
  const std::size_t size_[kinds];
  const bool warm_;
  QpSolution out_;  // x, z, y: the iterate

  double rho_ = 0;
  std::vector<Vec> rho_of_;  // [kinds][size]
  Vec diagonal_;             // [n]
  bool factor_stale_ = true;
  std::vector<Vec> ax_, dy_;  // A_b x per block; the last dual step (and the x step's scratch)
  Vec xt_, solved_, v_, px_, aty_, tmp_;
  Vec polished_, polished_duals_;  // the polished point and row duals
  double polished_turnover_dual_ = 0;
  int next_polish_ = 0;  // the first iteration at which ADMM's iterate may be polished
  QpActiveSet guess_;    // the last active-set guess polished
};

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

// A few rows of A changed and nothing else (stage 3: names moving between market-cap buckets from one day
// to the next): with B = M0^-1 cached and M1 = M0 + U S U', U [n, r] the new and the old rows that
// changed and S = diag(+rho_j, -rho_j), Woodbury's identity gives
//   M1^-1 = B - W K^-1 W',  W = B U [n, r],  K = S^-1 + U' W [r, r]
// in O(n^2 r) instead of the O(n^3) factorisation. K is non-singular whenever M1 is (determinant lemma).
// Rounding accumulates over consecutive updates, so after kMaxInverseUpdates the matrix is factored anew;
// more than kMaxChangedRows changed rows are factored too.
bool QpSolver::update_inverse(const QpProblem& p, const Vec& rho_rows) {
  constexpr int kMaxInverseUpdates = 16;
  constexpr std::size_t kMaxChangedRows = 8;
  const auto n = static_cast<std::size_t>(p.n), m = rho_rows.size();
  if (factor_.size() != n * n || cached_A_.size() != p.A.size() || cached_rho_rows_ != rho_rows ||
      updates_since_factor_ >= kMaxInverseUpdates)
    return false;
  std::vector<std::size_t> changed;
  for (std::size_t j = 0; j < m; ++j)
    if (!std::equal(p.A.begin() + static_cast<std::ptrdiff_t>(j * n),
                    p.A.begin() + static_cast<std::ptrdiff_t>((j + 1) * n),
                    cached_A_.begin() + static_cast<std::ptrdiff_t>(j * n)))
      changed.push_back(j);
  if (changed.empty() || changed.size() > kMaxChangedRows) return false;
  const std::size_t r = 2 * changed.size();
  Vec U(r * n), inverse_S(r);  // U stored as r rows of length n (U')
  for (std::size_t k = 0; k < changed.size(); ++k) {
    const std::size_t j = changed[k];
    std::copy_n(p.A.begin() + static_cast<std::ptrdiff_t>(j * n), n,
                U.begin() + static_cast<std::ptrdiff_t>(2 * k * n));
    std::copy_n(cached_A_.begin() + static_cast<std::ptrdiff_t>(j * n), n,
                U.begin() + static_cast<std::ptrdiff_t>((2 * k + 1) * n));
    inverse_S[2 * k] = 1 / rho_rows[j];
    inverse_S[2 * k + 1] = -1 / rho_rows[j];
  }
  const auto N = static_cast<std::int64_t>(n), R = static_cast<std::int64_t>(r);
  Vec Wt(r * n);  // W' = U' B [r, n] (B symmetric)
  blas::gemm(blas::Trans::no, blas::Trans::no, R, N, N, 1.0, U.data(), N, factor_.data(), N, 0.0, Wt.data(),
             N);
  Vec K(r * r);  // S^-1 + U' W = S^-1 + W' U
  blas::gemm(blas::Trans::no, blas::Trans::yes, R, R, N, 1.0, Wt.data(), N, U.data(), N, 0.0, K.data(), R);
  for (std::size_t k = 0; k < r; ++k) K[k * r + k] += inverse_S[k];
  std::vector<int> pivots(r);
  if (blas::lu_factor(R, K.data(), pivots) != 0) return false;
  Vec Z = Wt;  // K^-1 W' [r, n], column by column of W'
  Vec column(r);
  for (std::size_t c = 0; c < n; ++c) {
    for (std::size_t k = 0; k < r; ++k) column[k] = Z[k * n + c];
    blas::lu_solve(R, K.data(), pivots, column.data());
    for (std::size_t k = 0; k < r; ++k) Z[k * n + c] = column[k];
  }
  // B -= W (K^-1 W') = Wt' Z
  blas::gemm(blas::Trans::yes, blas::Trans::no, N, N, R, -1.0, Wt.data(), N, Z.data(), N, 1.0, factor_.data(),
             N);
  cached_A_ = p.A;
  ++updates_since_factor_;
  return true;
}

QpSolver::FactorStep QpSolver::factorise(const QpProblem& p, const Vec& diagonal, const Vec& rho_rows) {
  const auto n = static_cast<std::size_t>(p.n), m = rho_rows.size();
  const bool same_rest = factor_.size() == n * n && cached_P_ == p.P && cached_diagonal_ == diagonal;
  if (same_rest && cached_A_ == p.A && cached_rho_rows_ == rho_rows) return FactorStep::reused;
  if (same_rest && update_inverse(p, rho_rows)) return FactorStep::updated;
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
  updates_since_factor_ = 0;
  return FactorStep::factored;
}

QpSolution QpSolver::solve(const QpProblem& p, const QpSolution* previous) {
  check(p);
  Admm admm(p, settings_, previous);
  if (!admm.polish_warm_start(previous))
    for (int k = 1; k <= settings_.max_iterations; ++k) {
      // x step: (P + sigma I + sum_b A_b' rho_b A_b) x~ = sigma x - q + sum_b A_b' (rho_b z_b - y_b), by
      // the inverse, factored lazily and kept between calls while P, A and rho stay.
      if (admm.factor_stale()) {
        const FactorStep step = factorise(p, admm.diagonal(), admm.row_rho());
        admm.factored(step == FactorStep::factored, step == FactorStep::updated);
      }
      admm.iterate(k, factor_);
      if (admm.check(k)) break;
    }
  return admm.finish();
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
