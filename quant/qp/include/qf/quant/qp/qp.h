// Module qp (qf_quant_qp): the dense convex QP solver behind the portfolio optimiser. Uses tensor (BLAS).
//
// A dense convex quadratic programme solver for the constrained portfolio problems of stage 3:
//
//   minimise    1/2 x' P x + q' x + l1_cost * sum_i |x_i - x0_i|
//   subject to  lower <= x <= upper                  (per-variable bounds)
//               row_lower <= A x <= row_upper        (linear rows: budget, sector caps, ...)
//               sum_i |x_i - x0_i| <= l1_limit       (turnover against the reference point x0)
//               sum_i |x_i| <= gross_limit           (gross exposure)
//
// P symmetric positive semi-definite. The method is ADMM as in OSQP (Stellato et al. 2020): operator
// splitting with over-relaxation, the reduced linear system (P + sigma I + A' rho A) factored once by
// Cholesky and reused while rho and the matrices stay, rho adapted to balance the residuals, and
// primal infeasibility detected from the dual iterates' differences (a Farkas certificate), whose
// support names the conflicting constraints. The l1 terms are not rewritten with auxiliary variables
// (which would double the system's size): they live in the proximal steps, which stay separable.
//
// A warm start (yesterday's solution) first tries yesterday's active set: a few primal-dual corrections
// of it, then, from yesterday's point when it is still feasible, a primal active-set method (a ratio
// test along each step, one constraint added or dropped per pass, each pass one small KKT solve over
// the free names). Most rebalance days end there, exact to rounding, without an ADMM iteration or an
// n x n factorisation. ADMM, factored lazily and kept between calls while P, A and rho stay, takes the
// rest.
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace qf::quant {

inline constexpr double kInfinity = std::numeric_limits<double>::infinity();

struct QpProblem {
  std::int64_t n = 0;                // variables
  std::vector<double> P;             // [n, n] row-major, symmetric PSD
  std::vector<double> q;             // [n]
  std::vector<double> lower, upper;  // [n]; +-kInfinity where unbounded; empty: unbounded
  std::vector<double> A;             // [m, n] row-major (m = row_lower.size())
  std::vector<double> row_lower, row_upper;
  std::vector<std::string> row_names;       // [m] for errors and binding reports ("row k" when empty)
  std::vector<std::string> variable_names;  // [n] likewise ("x[i]" when empty)
  std::vector<double> reference;            // x0 [n]; empty: zeros
  double l1_cost = 0;
  double l1_limit = kInfinity;
  double gross_limit = kInfinity;

  std::int64_t rows() const { return static_cast<std::int64_t>(row_lower.size()); }
};

struct QpSettings {
  double rho = 0.1, sigma = 1e-6, alpha = 1.6;
  double eps_abs = 1e-6, eps_rel = 1e-6, eps_infeasible = 1e-5;
  int max_iterations = 20000;
  int check_every = 5;              // residuals and termination every this many iterations
  int adapt_rho_every = 25;         // iterations between rho updates (0: never)
  double equality_rho_scale = 1e3;  // rho of equality rows and fixed variables, relative
  // Polishing: once both relative residuals are below polish_below, guess the active set and solve its
  // KKT system exactly; accepted only when it checks out (feasible, multipliers of the right sign), so
  // a polished solution is exact to rounding. Not with a gross limit.
  bool polish = true;
  double polish_below = 1e-3;
  int polish_every = 25;   // iterations before a failed guess is tried again
  int polish_passes = 40;  // corrections of one guess before it is given up
  // A warm start with the previous solution's active set first tries that set (with up to
  // warm_polish_passes corrections) before any ADMM iteration.
  int warm_polish_passes = 200;
  // Work limit of one polishing attempt, in units of n^3 (each pass factors its own KKT system): past
  // it, ADMM is the cheaper way on.
  double polish_work = 1.0;
};

// Which constraints hold with equality at a solution: per variable, free (with the sign of x - x0) or
// fixed at a bound or at the l1 kink x0; per row the binding side; whether the turnover ball binds.
// A warm start tries yesterday's set first: most days it is today's too, or a few corrections away.
struct QpActiveSet {
  enum Variable : std::int8_t { up, down, lower, upper, kink };
  std::vector<Variable> variable;  // [n]
  std::vector<std::int8_t> row;    // [m]: +1 upper bound binds, -1 lower, 0 neither
  bool turnover_binds = false;
};

enum class QpStatus { solved, max_iterations, primal_infeasible };
const char* to_string(QpStatus status);

struct QpSolution {
  QpStatus status = QpStatus::max_iterations;
  std::vector<double> x;            // [n]; when solved, exactly within the bounds (the rest within tolerance)
  std::vector<double> row_duals;    // [m] multipliers of the rows (> 0: the upper bound binds)
  std::vector<double> bound_duals;  // [n] multipliers of the bounds (with the l1 cost's subgradient)
  double l1_limit_dual = 0, gross_dual = 0;  // > 0 when the turnover / gross limit binds
  double objective = 0, primal_residual = 0, dual_residual = 0;
  int iterations = 0, factorisations = 0;
  int inverse_updates = 0;  // x-step inverses updated for a few changed rows of A instead of refactored
  int polish_passes = 0;    // active-set corrections tried (each one equality-constrained KKT solve)
  bool polished = false;    // the solution came from the polishing step (exact for its active set)
  QpActiveSet active_set;   // when polished
  std::vector<std::string> conflicting;  // when infeasible: the constraints of the certificate

  // ADMM state per constraint block (bounds, turnover ball, gross ball, rows), for warm starts.
  std::vector<std::vector<double>> z, y;
  double rho = 0;
};

class QpSolver {
 public:
  explicit QpSolver(QpSettings settings = {}) : settings_(settings) {}
  // Solves; warm starts from `previous` when given (same n and m). Throws std::invalid_argument for
  // malformed input (sizes, NaN, lower > upper); an infeasible problem is reported in the status, with
  // the conflicting constraints named.
  QpSolution solve(const QpProblem& problem, const QpSolution* previous = nullptr);
  const QpSettings& settings() const { return settings_; }

 private:
  enum class FactorStep { reused, updated, factored };
  // The inverse of P + sigma I + diagonal + A' diag(rho_rows) A: the cached one when it is of the same
  // matrix, the cached one updated when only a few rows of A changed (update_inverse), else factored.
  FactorStep factorise(const QpProblem& p, const std::vector<double>& diagonal,
                       const std::vector<double>& rho_rows);
  bool update_inverse(const QpProblem& p, const std::vector<double>& rho_rows);
  QpSettings settings_;
  std::vector<double> factor_, cached_P_, cached_A_, cached_diagonal_, cached_rho_rows_;
  int updates_since_factor_ = 0;
};

// Throws std::runtime_error("<context>: infeasible constraints: a, b, c") for an infeasible solution,
// and a similar error for one that did not converge; returns the solution otherwise.
const QpSolution& require_solved(const QpSolution& solution, const std::string& context);

}  // namespace qf::quant
