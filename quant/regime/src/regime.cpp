#include "qf/quant/regime/regime.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>
#include <numeric>
#include <stdexcept>

#include "qf/core/require.h"

namespace qf::quant {

namespace {

using Vec = std::vector<double>;
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

bool observed(const RegimeFeatures& x, std::int64_t t) {
  for (std::int64_t f = 0; f < x.features; ++f)
    if (!std::isfinite(x.values[static_cast<std::size_t>(t * x.features + f)])) return false;
  return true;
}

// log b_k(x_t) for every state; all zeros (no information) on a gap.
void log_emissions(const GaussianHmm& m, const RegimeFeatures& x, std::int64_t t, Vec& out) {
  out.assign(static_cast<std::size_t>(m.states), 0.0);
  if (!observed(x, t)) return;
  const double* row = x.values.data() + t * x.features;
  for (int k = 0; k < m.states; ++k) {
    double s = 0;
    for (int f = 0; f < m.features; ++f) {
      const double var = m.variances[static_cast<std::size_t>(k * m.features + f)];
      const double d = row[f] - m.means[static_cast<std::size_t>(k * m.features + f)];
      s += std::log(2 * std::numbers::pi * var) + d * d / var;
    }
    out[static_cast<std::size_t>(k)] = -0.5 * s;
  }
}

// Scaled forward-backward over rows [first, last] (Rabiner 1989): alpha and beta normalised per day, the
// log-likelihood from the scales. With `backward` false only alpha (the filter) is computed.
struct Passes {
  Vec alpha, beta, scale, emission;  // [T, K], [T, K], [T], [T, K] (emission scaled by its row max)
  double log_likelihood = 0;
};
Passes forward_backward(const GaussianHmm& m, const RegimeFeatures& x, std::int64_t first, std::int64_t last,
                        bool backward) {
  const auto K = static_cast<std::size_t>(m.states);
  const auto T = static_cast<std::size_t>(last - first + 1);
  Passes p;
  p.alpha.assign(T * K, 0.0);
  p.scale.assign(T, 0.0);
  p.emission.assign(T * K, 0.0);
  Vec logb;
  for (std::size_t t = 0; t < T; ++t) {
    log_emissions(m, x, first + static_cast<std::int64_t>(t), logb);
    const double top = *std::max_element(logb.begin(), logb.end());
    for (std::size_t k = 0; k < K; ++k) p.emission[t * K + k] = std::exp(logb[k] - top);
    double total = 0;
    for (std::size_t k = 0; k < K; ++k) {
      double prior = 0;
      if (t == 0)
        prior = m.initial[k];
      else
        for (std::size_t j = 0; j < K; ++j) prior += p.alpha[(t - 1) * K + j] * m.transition[j * K + k];
      total += p.alpha[t * K + k] = prior * p.emission[t * K + k];
    }
    for (std::size_t k = 0; k < K; ++k) p.alpha[t * K + k] /= total;
    p.scale[t] = total;
    p.log_likelihood += std::log(total) + top;
  }
  if (!backward) return p;
  p.beta.assign(T * K, 1.0);
  for (std::size_t t = T - 1; t-- > 0;)
    for (std::size_t j = 0; j < K; ++j) {
      double s = 0;
      for (std::size_t k = 0; k < K; ++k)
        s += m.transition[j * K + k] * p.emission[(t + 1) * K + k] * p.beta[(t + 1) * K + k];
      p.beta[t * K + j] = s / p.scale[t + 1];
    }
  return p;
}

void check_model(const GaussianHmm& m, const RegimeFeatures& x) {
  QF_REQUIRE(m.states >= 1, "GaussianHmm", "states", m.states, "must be at least 1");
  QF_REQUIRE_MSG(m.features == x.features && m.initial.size() == static_cast<std::size_t>(m.states) &&
                     m.transition.size() == static_cast<std::size_t>(m.states * m.states) &&
                     m.means.size() == static_cast<std::size_t>(m.states * m.features) &&
                     m.variances.size() == m.means.size(),
                 "GaussianHmm",
                 "parameter sizes do not match its " << m.states << " states and " << m.features
                                                     << " features (the data has " << x.features << ")");
  QF_REQUIRE_MSG(
      x.values.size() == static_cast<std::size_t>(x.days * x.features), "RegimeFeatures",
      x.values.size() << " values for [days, features] = [" << x.days << ", " << x.features << "]");
}

// States sorted by the variance of their first feature (the return), ascending: calm first.
void canonical_order(GaussianHmm& m) {
  const auto K = static_cast<std::size_t>(m.states), F = static_cast<std::size_t>(m.features);
  std::vector<std::size_t> order(K);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return m.variances[a * F] < m.variances[b * F]; });
  GaussianHmm s = m;
  for (std::size_t a = 0; a < K; ++a) {
    s.initial[a] = m.initial[order[a]];
    for (std::size_t b = 0; b < K; ++b) s.transition[a * K + b] = m.transition[order[a] * K + order[b]];
    for (std::size_t f = 0; f < F; ++f) {
      s.means[a * F + f] = m.means[order[a] * F + f];
      s.variances[a * F + f] = m.variances[order[a] * F + f];
    }
  }
  m = std::move(s);
}

}  // namespace

RegimeFeatures regime_features(std::span<const double> close, int window) {
  QF_REQUIRE(window == 0 || window >= 2, "regime_features", "volatility window", window,
             "must be 0 (none) or at least 2");
  RegimeFeatures x;
  x.days = static_cast<std::int64_t>(close.size());
  x.features = window == 0 ? 1 : 2;
  x.names = {"log_return"};
  if (window > 0) x.names.push_back("log_volatility_" + std::to_string(window) + "d");
  x.values.assign(close.size() * static_cast<std::size_t>(x.features), kNaN);
  Vec r(close.size(), kNaN);
  for (std::size_t t = 1; t < close.size(); ++t)
    if (std::isfinite(close[t]) && std::isfinite(close[t - 1]) && close[t] > 0 && close[t - 1] > 0)
      r[t] = std::log(close[t] / close[t - 1]);
  if (window == 0) {
    x.values = r;
    return x;
  }
  const auto w = static_cast<std::size_t>(window);
  for (std::size_t t = w; t < close.size(); ++t) {
    double sum = 0, sum2 = 0;
    bool complete = true;
    for (std::size_t s = t + 1 - w; s <= t; ++s) {
      complete = complete && std::isfinite(r[s]);
      sum += r[s], sum2 += r[s] * r[s];
    }
    if (!complete) continue;
    const double mean = sum / window,
                 variance = std::max(sum2 / window - mean * mean, 0.0) * window / (window - 1);
    if (!(variance > 0)) continue;
    x.values[t * 2] = r[t];
    x.values[t * 2 + 1] = 0.5 * std::log(variance);
  }
  return x;
}

HmmFit fit_gaussian_hmm(const RegimeFeatures& x, std::int64_t first, std::int64_t last,
                        const HmmFitOptions& options) {
  const int K = options.states;
  QF_REQUIRE(K >= 2 && K <= 4, "fit_gaussian_hmm", "states", K, "must be 2 to 4");
  QF_REQUIRE_MSG(first >= 0 && last < x.days && first <= last, "fit_gaussian_hmm",
                 "rows [" << first << ", " << last << "] are not a range within the " << x.days << " days");
  std::vector<std::int64_t> rows;
  for (std::int64_t t = first; t <= last; ++t)
    if (observed(x, t)) rows.push_back(t);
  QF_REQUIRE_MSG(rows.size() >= static_cast<std::size_t>(10 * K), "fit_gaussian_hmm",
                 rows.size() << " observed days for " << K << " states (need 10 per state)");
  const auto F = static_cast<std::size_t>(x.features);
  // Sorted by the distance of the first feature (the return) from its median: quiet days first.
  Vec first_feature;
  for (const std::int64_t t : rows) first_feature.push_back(x.values[static_cast<std::size_t>(t) * F]);
  std::nth_element(first_feature.begin(),
                   first_feature.begin() + static_cast<std::ptrdiff_t>(rows.size() / 2), first_feature.end());
  const double median = first_feature[rows.size() / 2];
  std::stable_sort(rows.begin(), rows.end(), [&](std::int64_t a, std::int64_t b) {
    return std::abs(x.values[static_cast<std::size_t>(a) * F] - median) <
           std::abs(x.values[static_cast<std::size_t>(b) * F] - median);
  });
  GaussianHmm start;
  start.states = K;
  start.features = x.features;
  start.initial.assign(static_cast<std::size_t>(K), 1.0 / K);
  start.transition.assign(static_cast<std::size_t>(K * K), (1 - options.initial_persistence) / (K - 1));
  for (int k = 0; k < K; ++k)
    start.transition[static_cast<std::size_t>(k * K + k)] = options.initial_persistence;
  start.means.assign(static_cast<std::size_t>(K) * F, 0.0);
  start.variances.assign(static_cast<std::size_t>(K) * F, 0.0);
  for (int k = 0; k < K; ++k) {
    const std::size_t begin = rows.size() * static_cast<std::size_t>(k) / static_cast<std::size_t>(K),
                      end = rows.size() * static_cast<std::size_t>(k + 1) / static_cast<std::size_t>(K);
    for (std::size_t f = 0; f < F; ++f) {
      double sum = 0, sum2 = 0;
      for (std::size_t a = begin; a < end; ++a) {
        const double v = x.values[static_cast<std::size_t>(rows[a]) * F + f];
        sum += v, sum2 += v * v;
      }
      const double count = static_cast<double>(end - begin), mean = sum / count;
      start.means[static_cast<std::size_t>(k) * F + f] = mean;
      start.variances[static_cast<std::size_t>(k) * F + f] = std::max(sum2 / count - mean * mean, 1e-12);
    }
  }
  return fit_gaussian_hmm_from(x, first, last, std::move(start), options);
}

HmmFit fit_gaussian_hmm_from(const RegimeFeatures& x, std::int64_t first, std::int64_t last, GaussianHmm m,
                             const HmmFitOptions& options) {
  check_model(m, x);
  const auto K = static_cast<std::size_t>(m.states), F = static_cast<std::size_t>(m.features);
  const auto T = static_cast<std::size_t>(last - first + 1);
  // The variance floor, relative to each feature's variance over the fit's observed days.
  Vec floor(F, 0.0);
  {
    Vec sum(F, 0.0), sum2(F, 0.0);
    double count = 0;
    for (std::int64_t t = first; t <= last; ++t) {
      if (!observed(x, t)) continue;
      count += 1;
      for (std::size_t f = 0; f < F; ++f) {
        const double v = x.values[static_cast<std::size_t>(t) * F + f];
        sum[f] += v, sum2[f] += v * v;
      }
    }
    for (std::size_t f = 0; f < F; ++f)
      floor[f] =
          options.variance_floor * std::max(sum2[f] / count - sum[f] * sum[f] / (count * count), 1e-300);
  }
  HmmFit fit;
  double previous = -std::numeric_limits<double>::infinity();
  for (int iteration = 1; iteration <= options.max_iterations; ++iteration) {
    const Passes p = forward_backward(m, x, first, last, true);
    // E-step statistics: state occupancies gamma and transition counts xi.
    Vec occupancy(K, 0.0), initial(K, 0.0), transitions(K * K, 0.0), weighted(K * F, 0.0),
        squares(K * F, 0.0);
    Vec gamma(K);
    for (std::size_t t = 0; t < T; ++t) {
      double total = 0;
      for (std::size_t k = 0; k < K; ++k) total += gamma[k] = p.alpha[t * K + k] * p.beta[t * K + k];
      for (double& g : gamma) g /= total;
      if (t == 0) initial = gamma;
      const auto day = first + static_cast<std::int64_t>(t);
      if (observed(x, day)) {
        const double* row = x.values.data() + day * x.features;
        for (std::size_t k = 0; k < K; ++k) {
          occupancy[k] += gamma[k];
          for (std::size_t f = 0; f < F; ++f) {
            weighted[k * F + f] += gamma[k] * row[f];
            squares[k * F + f] += gamma[k] * row[f] * row[f];
          }
        }
      }
      if (t + 1 < T)
        for (std::size_t j = 0; j < K; ++j)
          for (std::size_t k = 0; k < K; ++k)
            transitions[j * K + k] += p.alpha[t * K + j] * m.transition[j * K + k] *
                                      p.emission[(t + 1) * K + k] * p.beta[(t + 1) * K + k] / p.scale[t + 1];
    }
    // M-step.
    m.initial = initial;
    for (std::size_t j = 0; j < K; ++j) {
      double row = 0;
      for (std::size_t k = 0; k < K; ++k) row += transitions[j * K + k];
      if (row > 0)
        for (std::size_t k = 0; k < K; ++k) m.transition[j * K + k] = transitions[j * K + k] / row;
    }
    for (std::size_t k = 0; k < K; ++k) {
      if (!(occupancy[k] > 0)) continue;  // an empty state keeps its emission
      for (std::size_t f = 0; f < F; ++f) {
        const double mean = weighted[k * F + f] / occupancy[k];
        m.means[k * F + f] = mean;
        m.variances[k * F + f] = std::max(squares[k * F + f] / occupancy[k] - mean * mean, floor[f]);
      }
    }
    fit.iterations = iteration;
    if (p.log_likelihood - previous < options.tolerance) {
      fit.converged = true;
      break;
    }
    previous = p.log_likelihood;
  }
  canonical_order(m);
  fit.log_likelihood = forward_backward(m, x, first, last, false).log_likelihood;
  fit.model = std::move(m);
  return fit;
}

std::vector<double> filtered_probabilities(const GaussianHmm& m, const RegimeFeatures& x) {
  check_model(m, x);
  if (x.days == 0) return {};
  return forward_backward(m, x, 0, x.days - 1, false).alpha;
}

std::vector<double> smoothed_probabilities(const GaussianHmm& m, const RegimeFeatures& x) {
  check_model(m, x);
  if (x.days == 0) return {};
  const Passes p = forward_backward(m, x, 0, x.days - 1, true);
  const auto K = static_cast<std::size_t>(m.states);
  Vec out(p.alpha.size());
  for (std::size_t t = 0; t < static_cast<std::size_t>(x.days); ++t) {
    double total = 0;
    for (std::size_t k = 0; k < K; ++k) total += out[t * K + k] = p.alpha[t * K + k] * p.beta[t * K + k];
    for (std::size_t k = 0; k < K; ++k) out[t * K + k] /= total;
  }
  return out;
}

double log_likelihood(const GaussianHmm& m, const RegimeFeatures& x) {
  check_model(m, x);
  return x.days == 0 ? 0.0 : forward_backward(m, x, 0, x.days - 1, false).log_likelihood;
}

std::vector<int> viterbi_path(const GaussianHmm& m, const RegimeFeatures& x) {
  check_model(m, x);
  const auto K = static_cast<std::size_t>(m.states), T = static_cast<std::size_t>(x.days);
  if (T == 0) return {};
  Vec delta(K), next(K), logb;
  std::vector<int> back(T * K, 0);
  log_emissions(m, x, 0, logb);
  for (std::size_t k = 0; k < K; ++k) delta[k] = std::log(m.initial[k]) + logb[k];
  for (std::size_t t = 1; t < T; ++t) {
    log_emissions(m, x, static_cast<std::int64_t>(t), logb);
    for (std::size_t k = 0; k < K; ++k) {
      double best = -std::numeric_limits<double>::infinity();
      int from = 0;
      for (std::size_t j = 0; j < K; ++j) {
        const double v = delta[j] + std::log(m.transition[j * K + k]);
        if (v > best) best = v, from = static_cast<int>(j);
      }
      next[k] = best + logb[k];
      back[t * K + k] = from;
    }
    std::swap(delta, next);
  }
  std::vector<int> path(T);
  path[T - 1] = static_cast<int>(std::max_element(delta.begin(), delta.end()) - delta.begin());
  for (std::size_t t = T - 1; t > 0; --t) path[t - 1] = back[t * K + static_cast<std::size_t>(path[t])];
  return path;
}

RuleRegimes rule_regimes(std::span<const double> close, int vol_window, int median_window, double threshold,
                         int trend_window) {
  QF_REQUIRE(vol_window >= 2, "rule_regimes", "volatility window", vol_window, "must be at least 2");
  const RegimeFeatures x = regime_features(close, vol_window);
  const std::size_t T = close.size();
  RuleRegimes out{std::vector<int>(T, -1), std::vector<int>(T, 0)};
  Vec history;  // the volatilities seen so far (finite), for the trailing median
  std::vector<double> window;
  for (std::size_t t = 0; t < T; ++t) {
    const double log_vol = x.values[t * 2 + 1];
    if (std::isfinite(log_vol)) history.push_back(std::exp(log_vol));
    if (std::isfinite(log_vol) && history.size() >= static_cast<std::size_t>(median_window)) {
      window.assign(history.end() - median_window, history.end());
      std::nth_element(window.begin(), window.begin() + median_window / 2, window.end());
      out.volatility_state[t] =
          std::exp(log_vol) > threshold * window[static_cast<std::size_t>(median_window / 2)];
    }
    if (t + 1 >= static_cast<std::size_t>(trend_window)) {
      double sum = 0;
      bool complete = true;
      for (std::size_t s = t + 1 - static_cast<std::size_t>(trend_window); s <= t; ++s)
        complete = complete && std::isfinite(close[s]), sum += close[s];
      if (complete) out.trend[t] = close[t] > sum / trend_window ? 1 : -1;
    }
  }
  return out;
}

std::vector<double> regime_exposure(std::span<const double> probabilities, int states,
                                    std::span<const double> exposure_by_state) {
  QF_REQUIRE(states >= 1, "regime_exposure", "states", states, "must be at least 1");
  QF_REQUIRE_MSG(exposure_by_state.size() == static_cast<std::size_t>(states) &&
                     probabilities.size() % static_cast<std::size_t>(states) == 0,
                 "regime_exposure",
                 "one exposure per state and probabilities [days, states] ("
                     << states << " states, " << exposure_by_state.size() << " exposures, "
                     << probabilities.size() << " probabilities)");
  const std::size_t T = probabilities.size() / static_cast<std::size_t>(states);
  Vec out(T, 0.0);
  for (std::size_t t = 0; t < T; ++t)
    for (std::size_t k = 0; k < static_cast<std::size_t>(states); ++k)
      out[t] += probabilities[t * static_cast<std::size_t>(states) + k] * exposure_by_state[k];
  return out;
}

}  // namespace qf::quant
