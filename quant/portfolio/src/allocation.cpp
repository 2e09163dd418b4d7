#include "qf/quant/portfolio/allocation.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>
#include <string>

#include "qf/core/require.h"
#include "qf/tensor/blas.h"

namespace qf::quant {

namespace {

void check_returns(const Tensor& r, const char* what) {
  if (r.rank() != 2 || r.dtype() != DType::f64 || r.dim(0) < 2 || r.dim(1) < 1)
    throw ShapeError(std::string(what) + ": returns must be float64 [T >= 2, N >= 1], got " +
                     to_string(r.shape()) + " " + to_string(r.dtype()));
  for (const double v : r.span<double>())
    QF_REQUIRE(std::isfinite(v), what, "a return", v, "is not finite (returns must have no NaN)");
}

void check_covariance(const Tensor& c, const char* what) {
  if (c.rank() != 2 || c.dim(0) != c.dim(1) || c.dtype() != DType::f64 || c.dim(0) < 1)
    throw ShapeError(std::string(what) + ": covariance must be float64 [N, N], got " + to_string(c.shape()));
}

// X - column means, [T, N].
Tensor centred(const Tensor& r) {
  const std::int64_t T = r.dim(0), N = r.dim(1);
  Tensor x = r.clone();
  double* p = x.data<double>();
  for (std::int64_t j = 0; j < N; ++j) {
    double m = 0;
    for (std::int64_t t = 0; t < T; ++t) m += p[t * N + j];
    m /= static_cast<double>(T);
    for (std::int64_t t = 0; t < T; ++t) p[t * N + j] -= m;
  }
  return x;
}

// a' b / T for centred [T, N] matrices: [N, N].
Tensor cross_product(const Tensor& x, double scale) {
  const std::int64_t T = x.dim(0), N = x.dim(1);
  Tensor c = Tensor::empty({N, N}, DType::f64);
  blas::gemm(blas::Trans::yes, blas::Trans::no, N, N, T, scale, x.data<double>(), N, x.data<double>(), N, 0.0,
             c.data<double>(), N);
  return c;
}

// Cholesky factor (LAPACK, in place) of a symmetric positive definite [n, n] matrix.
// Pivots that are positive only by rounding (relative to the diagonal) count as singular.
void cholesky(std::vector<double>& a, std::int64_t n, const char* what) {
  std::vector<double> diagonal(static_cast<std::size_t>(n));
  for (std::int64_t j = 0; j < n; ++j)
    diagonal[static_cast<std::size_t>(j)] = a[static_cast<std::size_t>(j * n + j)];
  std::int64_t bad = blas::cholesky_factor(n, a.data()) - 1;
  for (std::int64_t j = 0; j < n && bad < 0; ++j) {
    const double pivot = a[static_cast<std::size_t>(j * n + j)];
    if (!(pivot * pivot > 1e-14 * std::abs(diagonal[static_cast<std::size_t>(j)]))) bad = j;
  }
  QF_REQUIRE_MSG(bad < 0, what, "the covariance is not positive definite (pivot " << bad << ")");
}

// Solves A x = b given the factor from cholesky().
std::vector<double> cholesky_solve(const std::vector<double>& factor, std::int64_t n, std::vector<double> b) {
  blas::cholesky_solve(n, factor.data(), b.data());
  return b;
}

std::vector<double> normalised(std::vector<double> w) {
  const double total = std::accumulate(w.begin(), w.end(), 0.0);
  for (double& v : w) v /= total;
  return w;
}

std::vector<double> times(const Tensor& c, const std::vector<double>& w) {
  const std::int64_t n = c.dim(0);
  std::vector<double> out(static_cast<std::size_t>(n), 0.0);
  blas::gemv(blas::Trans::no, n, n, 1.0, c.data<double>(), n, w.data(), 0.0, out.data());
  return out;
}

}  // namespace

Tensor sample_covariance(const Tensor& returns) {
  check_returns(returns, "sample_covariance");
  return cross_product(centred(returns), 1.0 / static_cast<double>(returns.dim(0)));
}

ShrunkCovariance ledoit_wolf(const Tensor& returns) {
  check_returns(returns, "ledoit_wolf");
  const std::int64_t T = returns.dim(0), N = returns.dim(1);
  const Tensor x = centred(returns);
  Tensor s = cross_product(x, 1.0 / static_cast<double>(T));
  const double* xs = x.data<double>();
  double* sp = s.data<double>();
  double trace = 0;
  for (std::int64_t i = 0; i < N; ++i) trace += sp[i * N + i];
  const double mu = trace / static_cast<double>(N);
  // sklearn's ledoit_wolf_shrinkage: beta_ = sum(X2' X2), delta_ = sum((X' X)^2) / T^2, X2 = X^2.
  double beta_ = 0, delta_ = 0;
  for (std::int64_t t = 0; t < T; ++t) {
    double row = 0;
    for (std::int64_t j = 0; j < N; ++j) row += xs[t * N + j] * xs[t * N + j];
    beta_ += row * row;
  }
  for (std::int64_t k = 0; k < N * N; ++k) delta_ += sp[k] * sp[k];  // (X'X / T)^2 = (X'X)^2 / T^2
  const double n = static_cast<double>(N), t = static_cast<double>(T);
  double beta = 1.0 / (n * t) * (beta_ / t - delta_);
  double delta = (delta_ - 2.0 * mu * trace + n * mu * mu) / n;
  beta = std::min(beta, delta);
  const double shrinkage = beta == 0 ? 0.0 : beta / delta;
  for (std::int64_t i = 0; i < N; ++i)
    for (std::int64_t j = 0; j < N; ++j)
      sp[i * N + j] = (1 - shrinkage) * sp[i * N + j] + (i == j ? shrinkage * mu : 0.0);
  return {s, shrinkage};
}

Tensor ewma_covariance(const Tensor& returns, double halflife) {
  check_returns(returns, "ewma_covariance");
  QF_REQUIRE(halflife > 0, "ewma_covariance", "halflife", halflife, "must be positive");
  const std::int64_t T = returns.dim(0), N = returns.dim(1);
  std::vector<double> w(static_cast<std::size_t>(T));
  for (std::int64_t k = 0; k < T; ++k)
    w[static_cast<std::size_t>(k)] = std::pow(0.5, static_cast<double>(T - 1 - k) / halflife);
  w = normalised(w);
  const double* r = returns.data<double>();
  std::vector<double> mean(static_cast<std::size_t>(N), 0.0);
  for (std::int64_t k = 0; k < T; ++k)
    for (std::int64_t j = 0; j < N; ++j)
      mean[static_cast<std::size_t>(j)] += w[static_cast<std::size_t>(k)] * r[k * N + j];
  Tensor x = Tensor::empty({T, N}, DType::f64);  // sqrt(w_t) (x_t - mean)
  for (std::int64_t k = 0; k < T; ++k)
    for (std::int64_t j = 0; j < N; ++j)
      x.data<double>()[k * N + j] =
          std::sqrt(w[static_cast<std::size_t>(k)]) * (r[k * N + j] - mean[static_cast<std::size_t>(j)]);
  return cross_product(x, 1.0);
}

std::vector<double> equal_weights(std::int64_t n) {
  QF_REQUIRE(n >= 1, "equal_weights", "assets", n, "must be at least 1");
  return std::vector<double>(static_cast<std::size_t>(n), 1.0 / static_cast<double>(n));
}

std::vector<double> inverse_volatility_weights(const Tensor& c) {
  check_covariance(c, "inverse_volatility_weights");
  const std::int64_t n = c.dim(0);
  std::vector<double> w(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) {
    const double var = c.data<double>()[i * n + i];
    QF_REQUIRE_MSG(var > 0, "inverse_volatility_weights",
                   "asset " << i << " has no variance (" << var << ")");
    w[static_cast<std::size_t>(i)] = 1.0 / std::sqrt(var);
  }
  return normalised(w);
}

std::vector<double> min_variance_weights(const Tensor& c) {
  check_covariance(c, "min_variance_weights");
  const std::int64_t n = c.dim(0);
  std::vector<double> l(c.data<double>(), c.data<double>() + n * n);
  cholesky(l, n, "min_variance_weights");
  return normalised(cholesky_solve(l, n, std::vector<double>(static_cast<std::size_t>(n), 1.0)));
}

std::vector<double> risk_contributions(const Tensor& c, const std::vector<double>& w) {
  check_covariance(c, "risk_contributions");
  const std::vector<double> sw = times(c, w);
  double variance = 0;
  for (std::size_t i = 0; i < w.size(); ++i) variance += w[i] * sw[i];
  std::vector<double> rc(w.size());
  for (std::size_t i = 0; i < w.size(); ++i) rc[i] = w[i] * sw[i] / variance;
  return rc;
}

std::vector<double> risk_parity_weights(const Tensor& c, double tolerance, int max_iterations,
                                        std::span<const double> start) {
  check_covariance(c, "risk_parity_weights");
  const std::int64_t n = c.dim(0);
  const double b = 1.0 / static_cast<double>(n);
  // Spinu (2013): y minimises y' S y / 2 - b sum(log y); then w = y / sum(y) has equal contributions.
  std::vector<double> y = inverse_volatility_weights(c);
  if (start.size() == y.size() && std::all_of(start.begin(), start.end(), [](double w) { return w > 0; })) {
    // At the optimum y' S y = n b = 1, so a start of any scale is brought onto that scale.
    y.assign(start.begin(), start.end());
    const std::vector<double> sy = times(c, y);
    const double scale = 1 / std::sqrt(std::inner_product(y.begin(), y.end(), sy.begin(), 0.0));
    for (double& v : y) v *= scale;
  }
  for (int iteration = 0; iteration < max_iterations; ++iteration) {
    const std::vector<double> sy = times(c, y);
    std::vector<double> gradient(static_cast<std::size_t>(n)),
        hessian(c.data<double>(), c.data<double>() + n * n);
    for (std::int64_t i = 0; i < n; ++i) {
      const auto k = static_cast<std::size_t>(i);
      gradient[k] = -(sy[k] - b / y[k]);
      hessian[static_cast<std::size_t>(i * n + i)] += b / (y[k] * y[k]);
    }
    cholesky(hessian, n, "risk_parity_weights");
    const std::vector<double> step = cholesky_solve(hessian, n, gradient);
    double t = 1.0;  // keep y > 0
    for (std::int64_t i = 0; i < n; ++i) {
      const auto k = static_cast<std::size_t>(i);
      if (y[k] + t * step[k] <= 0) t = std::min(t, 0.5 * y[k] / -step[k]);
    }
    for (std::int64_t i = 0; i < n; ++i)
      y[static_cast<std::size_t>(i)] += t * step[static_cast<std::size_t>(i)];
    const std::vector<double> rc = risk_contributions(c, y);
    const auto [lo, hi] = std::minmax_element(rc.begin(), rc.end());
    if ((*hi - *lo) * static_cast<double>(n) < tolerance) break;
  }
  return normalised(y);
}

std::vector<double> hrp_weights(const Tensor& c) {
  check_covariance(c, "hrp_weights");
  const std::int64_t n = c.dim(0);
  const double* cv = c.data<double>();
  // Single linkage of d_ij = sqrt((1 - rho_ij) / 2): Kruskal over all pairs, merging clusters in order of
  // distance; cluster ids as SciPy's linkage (leaves 0..n-1, the k-th merge n+k, smaller id on the left).
  struct Edge {
    double d;
    std::int64_t i, j;
  };
  std::vector<Edge> edges;
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t j = i + 1; j < n; ++j) {
      const double rho = cv[i * n + j] / std::sqrt(cv[i * n + i] * cv[j * n + j]);
      edges.push_back({std::sqrt(std::clamp((1.0 - rho) / 2.0, 0.0, 1.0)), i, j});
    }
  std::stable_sort(edges.begin(), edges.end(), [](const Edge& a, const Edge& b) { return a.d < b.d; });
  std::vector<std::int64_t> parent(static_cast<std::size_t>(n)), cluster_of(static_cast<std::size_t>(n));
  std::iota(parent.begin(), parent.end(), 0);
  std::iota(cluster_of.begin(), cluster_of.end(), 0);           // union-find root -> its current cluster id
  std::vector<std::pair<std::int64_t, std::int64_t>> children;  // of cluster n + k
  auto find = [&](std::int64_t v) {
    while (parent[static_cast<std::size_t>(v)] != v)
      v = parent[static_cast<std::size_t>(v)] =
          parent[static_cast<std::size_t>(parent[static_cast<std::size_t>(v)])];
    return v;
  };
  for (const Edge& e : edges) {
    const std::int64_t a = find(e.i), b = find(e.j);
    if (a == b) continue;
    const std::int64_t ca = cluster_of[static_cast<std::size_t>(a)],
                       cb = cluster_of[static_cast<std::size_t>(b)];
    children.emplace_back(std::min(ca, cb), std::max(ca, cb));
    parent[static_cast<std::size_t>(b)] = a;
    cluster_of[static_cast<std::size_t>(a)] = n + static_cast<std::int64_t>(children.size()) - 1;
  }
  // Leaves in pre-order from the root (left first).
  std::vector<std::int64_t> order, stack{n == 1 ? 0 : 2 * n - 2};
  while (!stack.empty()) {
    const std::int64_t id = stack.back();
    stack.pop_back();
    if (id < n) {
      order.push_back(id);
      continue;
    }
    const auto [left, right] = children[static_cast<std::size_t>(id - n)];
    stack.push_back(right);
    stack.push_back(left);
  }
  // Recursive bisection of the ordered leaves by the inverse-variance risk of each half.
  auto cluster_variance = [&](std::span<const std::int64_t> items) {
    std::vector<double> w;
    for (const std::int64_t i : items) w.push_back(1.0 / cv[i * n + i]);
    w = normalised(w);
    double v = 0;
    for (std::size_t a = 0; a < items.size(); ++a)
      for (std::size_t b = 0; b < items.size(); ++b) v += w[a] * w[b] * cv[items[a] * n + items[b]];
    return v;
  };
  std::vector<double> weights(static_cast<std::size_t>(n), 1.0);
  std::vector<std::pair<std::size_t, std::size_t>> ranges{{0, order.size()}};  // [begin, end) of `order`
  while (!ranges.empty()) {
    std::vector<std::pair<std::size_t, std::size_t>> next;
    for (const auto& [begin, end] : ranges) {
      if (end - begin < 2) continue;
      const std::size_t middle = begin + (end - begin) / 2;
      const std::span<const std::int64_t> first(order.data() + begin, middle - begin),
          second(order.data() + middle, end - middle);
      const double v1 = cluster_variance(first), v2 = cluster_variance(second), alpha = 1 - v1 / (v1 + v2);
      for (const std::int64_t i : first) weights[static_cast<std::size_t>(i)] *= alpha;
      for (const std::int64_t i : second) weights[static_cast<std::size_t>(i)] *= 1 - alpha;
      next.emplace_back(begin, middle);
      next.emplace_back(middle, end);
    }
    ranges = std::move(next);
  }
  return weights;
}

}  // namespace qf::quant
