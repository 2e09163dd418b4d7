#include "qf/quant/metrics/calibration.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <stdexcept>

#include "qf/core/require.h"

namespace qf::quant {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// The finite (probability, outcome) pairs; throws when there is nothing to fit.
void pairs(std::span<const double> probability, std::span<const double> outcome, const char* who,
           std::vector<double>& p, std::vector<double>& y) {
  QF_REQUIRE_MSG(probability.size() == outcome.size(), who,
                 probability.size() << " probabilities but " << outcome.size() << " outcomes");
  for (std::size_t i = 0; i < probability.size(); ++i)
    if (std::isfinite(probability[i]) && std::isfinite(outcome[i])) {
      p.push_back(probability[i]);
      y.push_back(outcome[i] > 0.5 ? 1.0 : 0.0);
    }
  const double ups = std::accumulate(y.begin(), y.end(), 0.0);
  QF_REQUIRE_MSG(p.size() >= 2 && ups != 0 && ups != static_cast<double>(y.size()), who,
                 "needs at least 2 outcomes of both classes (got " << p.size() << " with "
                                                                   << static_cast<long>(ups) << " up)");
}

}  // namespace

double logit(double p) {
  p = std::clamp(p, 1e-6, 1 - 1e-6);
  return std::log(p / (1 - p));
}

double sigmoid(double z) {
  return z >= 0 ? 1 / (1 + std::exp(-z)) : std::exp(z) / (1 + std::exp(z));
}

double PlattScaling::apply(double probability) const {
  return std::isfinite(probability) ? sigmoid(slope * logit(probability) + intercept) : kNaN;
}

std::vector<double> fit_logistic(std::span<const double> features, std::size_t dimension,
                                 std::span<const double> target, double ridge) {
  const std::size_t n = target.size(), d = dimension + 1;  // + intercept
  QF_REQUIRE_MSG(features.size() == n * dimension, "fit_logistic",
                 features.size() << " features for [n, dimension] = [" << n << ", " << dimension << "]");
  std::vector<double> w(d, 0.0), gradient(d), hessian(d * d), step(d);
  auto score = [&](const std::vector<double>& c, std::size_t i) {
    double f = c[dimension];
    for (std::size_t k = 0; k < dimension; ++k) f += c[k] * features[i * dimension + k];
    return f;
  };
  auto loss = [&](const std::vector<double>& c) {  // mean of -[t log q + (1 - t) log(1 - q)] + ridge
    double s = 0;
    for (std::size_t i = 0; i < n; ++i) {
      const double f = score(c, i), t = target[i];
      s += f >= 0 ? (1 - t) * f + std::log1p(std::exp(-f)) : -t * f + std::log1p(std::exp(f));
    }
    double r = 0;
    for (std::size_t k = 0; k < dimension; ++k) r += c[k] * c[k];
    return s / static_cast<double>(n) + 0.5 * ridge * r;
  };
  double current = loss(w);
  for (int iteration = 0; iteration < 100; ++iteration) {
    std::fill(gradient.begin(), gradient.end(), 0.0);
    std::fill(hessian.begin(), hessian.end(), 0.0);
    for (std::size_t i = 0; i < n; ++i) {
      const double q = sigmoid(score(w, i)), r = q - target[i], v = q * (1 - q);
      for (std::size_t a = 0; a < d; ++a) {
        const double xa = a < dimension ? features[i * dimension + a] : 1.0;
        gradient[a] += r * xa / static_cast<double>(n);
        for (std::size_t b = 0; b < d; ++b) {
          const double xb = b < dimension ? features[i * dimension + b] : 1.0;
          hessian[a * d + b] += v * xa * xb / static_cast<double>(n);
        }
      }
    }
    for (std::size_t k = 0; k < d; ++k) {
      if (k < dimension) gradient[k] += ridge * w[k], hessian[k * d + k] += ridge;
      hessian[k * d + k] += 1e-12;
    }
    double norm = 0;
    for (const double g : gradient) norm = std::max(norm, std::abs(g));
    if (norm < 1e-12) break;
    // Solve hessian * step = -gradient (d is small: Gaussian elimination with partial pivoting).
    std::vector<double> m = hessian;
    for (std::size_t k = 0; k < d; ++k) step[k] = -gradient[k];
    for (std::size_t c = 0; c < d; ++c) {
      std::size_t pivot = c;
      for (std::size_t r = c + 1; r < d; ++r)
        if (std::abs(m[r * d + c]) > std::abs(m[pivot * d + c])) pivot = r;
      for (std::size_t k = 0; k < d; ++k) std::swap(m[c * d + k], m[pivot * d + k]);
      std::swap(step[c], step[pivot]);
      for (std::size_t r = c + 1; r < d; ++r) {
        const double f = m[r * d + c] / m[c * d + c];
        for (std::size_t k = c; k < d; ++k) m[r * d + k] -= f * m[c * d + k];
        step[r] -= f * step[c];
      }
    }
    for (std::size_t c = d; c-- > 0;) {
      for (std::size_t k = c + 1; k < d; ++k) step[c] -= m[c * d + k] * step[k];
      step[c] /= m[c * d + c];
    }
    double slope = 0;  // minus the squared Newton decrement
    for (std::size_t k = 0; k < d; ++k) slope += gradient[k] * step[k];
    if (-slope < 1e-14) break;  // the loss can gain no more than rounding
    double t = 1;
    std::vector<double> trial(d);
    for (; t > 1e-10; t /= 2) {  // backtracking (Armijo)
      for (std::size_t k = 0; k < d; ++k) trial[k] = w[k] + t * step[k];
      if (loss(trial) <= current + 1e-4 * t * slope) break;
    }
    if (t <= 1e-10) break;
    w.swap(trial);
    current = loss(w);
  }
  return w;
}

double logistic(std::span<const double> coefficients, std::span<const double> features) {
  double f = coefficients.back();
  for (std::size_t k = 0; k < features.size(); ++k) f += coefficients[k] * features[k];
  return sigmoid(f);
}

PlattScaling fit_platt(std::span<const double> probability, std::span<const double> outcome) {
  std::vector<double> p, y;
  pairs(probability, outcome, "fit_platt", p, y);
  // Platt's targets: (N+ + 1) / (N+ + 2) for ups, 1 / (N- + 2) for downs.
  const double ups = std::accumulate(y.begin(), y.end(), 0.0), downs = static_cast<double>(y.size()) - ups;
  std::vector<double> z(p.size()), t(p.size());
  for (std::size_t i = 0; i < p.size(); ++i)
    z[i] = logit(p[i]), t[i] = y[i] > 0 ? (ups + 1) / (ups + 2) : 1 / (downs + 2);
  const auto w = fit_logistic(z, 1, t);
  return {w[0], w[1]};
}

double IsotonicScaling::apply(double probability) const {
  if (!std::isfinite(probability) || x.empty()) return kNaN;
  if (probability <= x.front()) return y.front();
  if (probability >= x.back()) return y.back();
  const auto hi = static_cast<std::size_t>(std::upper_bound(x.begin(), x.end(), probability) - x.begin());
  const std::size_t lo = hi - 1;
  const double w = (probability - x[lo]) / (x[hi] - x[lo]);
  return y[lo] + w * (y[hi] - y[lo]);
}

IsotonicScaling fit_isotonic(std::span<const double> probability, std::span<const double> outcome) {
  std::vector<double> p, y;
  pairs(probability, outcome, "fit_isotonic", p, y);
  std::vector<std::size_t> order(p.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return p[a] < p[b]; });
  // Ties in p form one point (their mean outcome, their count as weight), as scikit-learn does.
  std::vector<double> xs, values, weights;
  for (const std::size_t i : order) {
    if (!xs.empty() && p[i] == xs.back()) {
      values.back() += y[i], weights.back() += 1;
    } else {
      xs.push_back(p[i]), values.push_back(y[i]), weights.push_back(1);
    }
  }
  for (std::size_t k = 0; k < xs.size(); ++k) values[k] /= weights[k];
  // Pool adjacent violators: blocks of (mean, weight, first point).
  struct Block {
    double mean, weight;
    std::size_t first, last;
  };
  std::vector<Block> blocks;
  for (std::size_t k = 0; k < xs.size(); ++k) {
    blocks.push_back({values[k], weights[k], k, k});
    while (blocks.size() > 1 && blocks[blocks.size() - 2].mean >= blocks.back().mean) {
      const Block top = blocks.back();
      blocks.pop_back();
      Block& below = blocks.back();
      below.mean = (below.mean * below.weight + top.mean * top.weight) / (below.weight + top.weight);
      below.weight += top.weight;
      below.last = top.last;
    }
  }
  IsotonicScaling out;
  for (const Block& b : blocks) {  // each block's ends as knots (flat within a block)
    out.x.push_back(xs[b.first]), out.y.push_back(b.mean);
    if (b.last != b.first) out.x.push_back(xs[b.last]), out.y.push_back(b.mean);
  }
  return out;
}

double Calibrator::apply(double probability) const {
  if (method == "platt") return platt.apply(probability);
  if (method == "isotonic") return isotonic.apply(probability);
  return probability;
}

Calibrator fit_calibrator(const std::string& method, std::span<const double> probability,
                          std::span<const double> outcome) {
  Calibrator c;
  c.method = method;
  if (method == "platt")
    c.platt = fit_platt(probability, outcome);
  else if (method == "isotonic")
    c.isotonic = fit_isotonic(probability, outcome);
  else if (method != "none")
    throw std::invalid_argument("unknown calibration '" + method + "' (none, platt, isotonic)");
  return c;
}

std::vector<ReliabilityBin> reliability_curve(std::span<const double> probability,
                                              std::span<const double> outcome, int bins) {
  QF_REQUIRE(bins >= 1, "reliability_curve", "bins", bins, "must be at least 1");
  QF_REQUIRE_MSG(probability.size() == outcome.size(), "reliability_curve",
                 probability.size() << " probabilities but " << outcome.size() << " outcomes");
  std::vector<ReliabilityBin> curve(static_cast<std::size_t>(bins));
  std::vector<double> sum_p(curve.size(), 0.0), sum_y(curve.size(), 0.0);
  for (std::size_t i = 0; i < probability.size(); ++i) {
    if (!std::isfinite(probability[i]) || !std::isfinite(outcome[i])) continue;
    const auto b = std::min(static_cast<std::size_t>(std::max(probability[i], 0.0) * bins), curve.size() - 1);
    sum_p[b] += probability[i], sum_y[b] += outcome[i] > 0.5 ? 1 : 0, ++curve[b].count;
  }
  for (std::size_t b = 0; b < curve.size(); ++b) {
    curve[b].lower = static_cast<double>(b) / bins, curve[b].upper = static_cast<double>(b + 1) / bins;
    const auto n = static_cast<double>(curve[b].count);
    curve[b].mean_probability = n > 0 ? sum_p[b] / n : kNaN;
    curve[b].frequency = n > 0 ? sum_y[b] / n : kNaN;
  }
  return curve;
}

double expected_calibration_error(const std::vector<ReliabilityBin>& curve) {
  double total = 0, error = 0;
  for (const auto& b : curve) total += static_cast<double>(b.count);
  if (total == 0) return kNaN;
  for (const auto& b : curve)
    if (b.count > 0)
      error += static_cast<double>(b.count) / total * std::abs(b.frequency - b.mean_probability);
  return error;
}

}  // namespace qf::quant
