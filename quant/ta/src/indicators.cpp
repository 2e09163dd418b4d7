// Technical indicators. The TA-Lib ones follow TA-Lib 0.8's C code operation by operation (same
// summation order, same divisions, std::fma exactly where TA-Lib 0.8 uses fma), because a different
// but equally good order changes the last bits, and near a zero crossing (MACD histogram, ADOSC,
// momentum) that is a large relative difference. Comments say where TA-Lib's choices are unusual.
#include "qf/quant/ta/indicators.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <initializer_list>
#include <limits>
#include <stdexcept>
#include <string>

namespace qf::quant::ta {

namespace {

using In = std::span<const double>;
using Out = std::span<double>;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr int kMaxPeriod = 100000;  // TA-Lib's upper bound for every period

// TA-Lib 0.8's zero tests (TA_IS_ZERO, TA_IS_ZERO_OR_NEG with TA_EPSILON = 1e-14).
constexpr double kTaEpsilon = 1e-14;
bool ta_is_zero(double v) {
  return -kTaEpsilon < v && v < kTaEpsilon;
}
bool ta_is_zero_or_neg(double v) {
  return v < kTaEpsilon;
}

// ---- argument checks ------------------------------------------------------------------------------------

[[noreturn]] void fail(const char* fn, const std::string& what) {
  throw std::invalid_argument(std::string("ta::") + fn + ": " + what);
}

void check_period(const char* fn, const char* name, int value, int min) {
  if (value < min || value > kMaxPeriod)
    fail(fn, std::string(name) + " must be in [" + std::to_string(min) + ", " + std::to_string(kMaxPeriod) +
                 "], got " + std::to_string(value));
}

void check_factor(const char* fn, const char* name, double value, double min, double max) {
  if (!(value >= min && value <= max))
    fail(fn, std::string(name) + " must be in [" + std::to_string(min) + ", " + std::to_string(max) +
                 "], got " + std::to_string(value));
}

struct Named {
  const char* name;
  std::size_t size;
};

void check_lengths(const char* fn, std::initializer_list<Named> spans) {
  const Named& first = *spans.begin();
  for (const Named& s : spans)
    if (s.size != first.size)
      fail(fn, std::string(s.name) + " has " + std::to_string(s.size) + " values but " + first.name +
                   " has " + std::to_string(first.size));
}

// ---- runs of finite input -------------------------------------------------------------------------------

bool all_finite(In x) {
  // Counting instead of an early exit lets the loop vectorise; v - v is NaN exactly for NaN and inf.
  std::size_t bad = 0;
  for (double v : x) bad += !(v - v == 0.0);
  return bad == 0;
}

// Set while compute_all runs on bars it has found all finite, so that the ~45 indicators it calls do not
// scan the same inputs again (re-scanning took a sixth of compute_all's time). Per thread: callers may run
// compute_all on several threads.
thread_local bool t_inputs_known_finite = false;

class InputsKnownFinite {
 public:
  explicit InputsKnownFinite(bool known) : previous_(t_inputs_known_finite) { t_inputs_known_finite = known; }
  ~InputsKnownFinite() { t_inputs_known_finite = previous_; }
  InputsKnownFinite(const InputsKnownFinite&) = delete;
  InputsKnownFinite& operator=(const InputsKnownFinite&) = delete;

 private:
  bool previous_;
};

// Calls kernel(inputs, outputs) on every maximal run of rows whose inputs are all finite, with the
// spans cut to that run, and writes NaN to the outputs of the other rows (the NaN rule in the header).
// An empty output span stays empty (kernels that compute several outputs skip the unwanted ones).
template <std::size_t NIn, std::size_t NOut, class Kernel>
void on_finite_runs(const std::array<In, NIn>& in, const std::array<Out, NOut>& out, Kernel&& kernel) {
  const std::size_t n = in[0].size();
  bool finite = true;
  if (!t_inputs_known_finite)
    for (In x : in) finite = finite && all_finite(x);
  if (finite) {
    kernel(in, out);
    return;
  }
  auto row_finite = [&](std::size_t t) {
    for (In x : in)
      if (!std::isfinite(x[t])) return false;
    return true;
  };
  std::size_t t = 0;
  while (t < n) {
    if (!row_finite(t)) {
      for (Out o : out)
        if (!o.empty()) o[t] = kNaN;
      ++t;
      continue;
    }
    std::size_t end = t + 1;
    while (end < n && row_finite(end)) ++end;
    std::array<In, NIn> in_run;
    std::array<Out, NOut> out_run;
    for (std::size_t i = 0; i < NIn; ++i) in_run[i] = in[i].subspan(t, end - t);
    for (std::size_t i = 0; i < NOut; ++i) out_run[i] = out[i].empty() ? Out{} : out[i].subspan(t, end - t);
    kernel(in_run, out_run);
    t = end;
  }
}

// Writes NaN before `lookback`; true when there is at least one value to compute.
bool begin_output(Out out, std::size_t lookback) {
  std::fill_n(out.begin(), std::min(lookback, out.size()), kNaN);
  return out.size() > lookback;
}

void copy_from(In x, std::size_t first, Out out) {
  std::copy(x.begin() + static_cast<std::ptrdiff_t>(first), x.end(),
            out.begin() + static_cast<std::ptrdiff_t>(first));
}

// ---- rolling extremes -----------------------------------------------------------------------------------

// The index of the highest (Max) or lowest value of a sliding window, tracked as TA-Lib does: keep the
// current extreme and rescan the window only when it slides out. A tie goes to the most recent bar,
// which matters for Aroon (TA-Lib compares with >= and <=).
template <bool Max>
class ExtremeTracker {
 public:
  explicit ExtremeTracker(In x) : x_(x) {}
  // Window [first, today]; today is one more than at the previous call.
  std::size_t update(std::size_t first, std::size_t today) {
    if (!valid_ || index_ < first) {
      index_ = first;
      value_ = x_[first];
      for (std::size_t i = first + 1; i <= today; ++i) take_if_better(i);
      valid_ = true;
    } else {
      take_if_better(today);
    }
    return index_;
  }
  double value() const { return value_; }

 private:
  void take_if_better(std::size_t i) {
    const double v = x_[i];
    if (Max ? v >= value_ : v <= value_) {
      index_ = i;
      value_ = v;
    }
  }
  In x_;
  std::size_t index_ = 0;
  double value_ = 0;
  bool valid_ = false;
};

// Highest (Max) or lowest value of every window of `window` values: out[t] covers x[t - window + 1 .. t]
// for t >= window - 1 (earlier entries hold shorter windows). Computed by doubling: after the pass for
// span s each entry covers the last s values, and two overlapping spans make any window length. Each
// pass is a branch-free loop that vectorises, far faster than tracking the extreme with branches
// (the result is the same: a maximum has no rounding). Used where only the value matters.
template <bool Max>
void rolling_extreme(In x, std::size_t window, Out out) {
  const std::size_t n = x.size();
  auto better = [](double a, double b) { return Max ? std::max(a, b) : std::min(a, b); };
  std::vector<double> buffer(x.begin(), x.end()), next(n);
  std::size_t span = 1;
  for (; 2 * span <= window; span *= 2) {
    std::copy_n(buffer.begin(), std::min(span, n), next.begin());
    for (std::size_t t = span; t < n; ++t) next[t] = better(buffer[t], buffer[t - span]);
    buffer.swap(next);
  }
  const std::size_t rest = window - span;  // the second span starts `rest` bars earlier
  std::copy_n(buffer.begin(), std::min(rest, n), out.begin());
  for (std::size_t t = rest; t < n; ++t) out[t] = rest == 0 ? buffer[t] : better(buffer[t], buffer[t - rest]);
}

// ---- kernels: finite input, outputs as long as the inputs -------------------------------------------------

void sma_kernel(In x, int period, Out out) {
  const auto p = static_cast<std::size_t>(period);
  if (!begin_output(out, p - 1)) return;
  double total = 0;
  for (std::size_t i = 0; i + 1 < p; ++i) total += x[i];
  for (std::size_t i = p - 1, trailing = 0; i < x.size(); ++i, ++trailing) {
    total += x[i];
    const double window_total = total;
    total -= x[trailing];
    out[i] = window_total / period;
  }
}

// TA-Lib 0.8's EMA: seeded at period - 1 with the mean of the first `period` values, then
// e = fma(x - e, k, e) with k = 2 / (period + 1). TA-Lib returns the input unchanged for period 1.
void ema_kernel(In x, int period, Out out) {
  const auto lookback = static_cast<std::size_t>(period - 1);
  if (!begin_output(out, lookback)) return;
  if (period == 1) return copy_from(x, 0, out);
  const double k = 2.0 / static_cast<double>(period + 1);
  double total = 0;
  for (std::size_t i = 0; i <= lookback; ++i) total += x[i];
  double value = total / period;
  out[lookback] = value;
  for (std::size_t i = lookback + 1; i < x.size(); ++i) {
    value = std::fma(x[i] - value, k, value);
    out[i] = value;
  }
}

void wma_kernel(In x, int period, Out out) {
  const auto p = static_cast<std::size_t>(period);
  if (!begin_output(out, p - 1)) return;
  if (period == 1) return copy_from(x, 0, out);
  // Running weighted sum: adding a bar adds period * x, and every older bar loses one weight, which
  // is subtracting the plain sum of the window.
  const double divider = static_cast<double>((period * (period + 1)) >> 1);
  double window_sum = 0, weighted = 0;
  for (std::size_t i = 0; i + 1 < p; ++i) {
    window_sum += x[i];
    weighted += x[i] * static_cast<double>(i + 1);
  }
  double trailing_value = 0;
  for (std::size_t i = p - 1, trailing = 0; i < x.size(); ++i, ++trailing) {
    window_sum += x[i];
    window_sum -= trailing_value;
    weighted += x[i] * period;
    trailing_value = x[trailing];
    out[i] = weighted / divider;
    weighted -= window_sum;
  }
}

// 2 EMA - EMA(EMA) as one pass over cascaded EMAs (TA-Lib 0.8 fuses them the same way).
void dema_kernel(In x, int period, Out out) {
  const auto p = static_cast<std::size_t>(period);
  const std::size_t lookback = 2 * (p - 1);
  if (!begin_output(out, lookback)) return;
  if (period == 1) return copy_from(x, 0, out);
  const double k = 2.0 / static_cast<double>(period + 1);
  double total = 0;
  for (std::size_t i = 0; i < p; ++i) total += x[i];
  double e1 = total / period;
  std::size_t t = p;
  double total2 = e1;
  for (std::size_t i = 1; i < p; ++i, ++t) {
    e1 = std::fma(x[t] - e1, k, e1);
    total2 += e1;
  }
  double e2 = total2 / period;
  out[lookback] = (e1 + e1) - e2;
  for (; t < x.size(); ++t) {
    e1 = std::fma(x[t] - e1, k, e1);
    e2 = std::fma(e1 - e2, k, e2);
    out[t] = (e1 + e1) - e2;
  }
}

void tema_kernel(In x, int period, Out out) {
  const auto p = static_cast<std::size_t>(period);
  const std::size_t lookback = 3 * (p - 1);
  if (!begin_output(out, lookback)) return;
  if (period == 1) return copy_from(x, 0, out);
  const double k = 2.0 / static_cast<double>(period + 1);
  double total = 0;
  for (std::size_t i = 0; i < p; ++i) total += x[i];
  double e1 = total / period;
  std::size_t t = p;
  double total2 = e1;
  for (std::size_t i = 1; i < p; ++i, ++t) {
    e1 = std::fma(x[t] - e1, k, e1);
    total2 += e1;
  }
  double e2 = total2 / period;
  double total3 = e2;
  for (std::size_t i = 1; i < p; ++i, ++t) {
    e1 = std::fma(x[t] - e1, k, e1);
    e2 = std::fma(e1 - e2, k, e2);
    total3 += e2;
  }
  double e3 = total3 / period;
  out[lookback] = (3.0 * e1 - 3.0 * e2) + e3;
  for (; t < x.size(); ++t) {
    e1 = std::fma(x[t] - e1, k, e1);
    e2 = std::fma(e1 - e2, k, e2);
    e3 = std::fma(e2 - e3, k, e3);
    out[t] = (3.0 * e1 - 3.0 * e2) + e3;
  }
}

// SMA of an SMA: of (period + 1) / 2 twice for an odd period, of period / 2 then period / 2 + 1 for an
// even one (weights 1, 2, ..., 2, 1). The result is at price level, so the order of the additions
// does not matter for the golden tolerance.
void trima_kernel(In x, int period, Out out) {
  const auto p = static_cast<std::size_t>(period);
  if (!begin_output(out, p - 1)) return;
  if (period == 1) return copy_from(x, 0, out);
  const std::size_t first = period % 2 ? (p + 1) / 2 : p / 2;
  const std::size_t second = p + 1 - first;
  double inner = 0, outer = 0;  // running sum of x over `first`, running sum of those sums over `second`
  std::vector<double> inner_sums(x.size());
  for (std::size_t i = 0; i < x.size(); ++i) {
    inner += x[i];
    if (i >= first) inner -= x[i - first];
    if (i + 1 < first) continue;
    inner_sums[i] = inner;
    outer += inner;
    if (i >= first - 1 + second) outer -= inner_sums[i - second];
    if (i + 1 >= p) out[i] = outer / static_cast<double>(first * second);
  }
}

// TA-Lib 0.8's KAMA: efficiency ratio over `period` one-day changes, smoothing constant
// (ER (2/3 - 2/31) + 2/31)^2, fma updates, and a reset of the running sum of |changes| to exactly 0
// once the last `period` changes are all zero (a flat stretch would otherwise keep rounding residue).
void kama_kernel(In x, int period, Out out) {
  const auto p = static_cast<std::size_t>(period);
  if (!begin_output(out, p)) return;
  if (period == 1) return copy_from(x, 0, out);
  constexpr double kSlowest = 2.0 / (30.0 + 1.0);
  constexpr double kRange = 2.0 / (2.0 + 1.0) - kSlowest;
  auto efficiency = [](double change, double total) {
    if (0.0 >= total || change >= total) return 1.0;
    return std::min(1.0, std::fabs(change / total));
  };
  double total = 0;
  std::size_t zero_changes = 0;  // consecutive one-day changes equal to 0
  for (std::size_t i = 0; i < p; ++i) {
    const double d = x[i] - x[i + 1];
    total += std::fabs(d);
    zero_changes = d == 0 ? zero_changes + 1 : 0;
  }
  double value = x[p - 1];
  double sc = std::fma(efficiency(x[p] - x[0], total), kRange, kSlowest);
  sc *= sc;
  value = std::fma(sc, x[p] - value, value);
  out[p] = value;
  for (std::size_t t = p + 1; t < x.size(); ++t) {
    const double d = x[t] - x[t - 1];
    total = std::fabs(d) + (total - std::fabs(x[t - p] - x[t - p - 1]));
    double er;
    if (d == 0 && ++zero_changes >= p) {
      zero_changes = p;
      total = 0;
      er = 1.0;
    } else {
      if (d != 0) zero_changes = 0;
      er = efficiency(x[t] - x[t - p], total);
    }
    sc = std::fma(er, kRange, kSlowest);
    sc *= sc;
    value = std::fma(sc, x[t] - value, value);
    out[t] = value;
  }
}

// TA-Lib 0.8's T3: six cascaded EMAs written e = e (1 - k) + k x with fma, each seeded with the mean of
// the first `period` values of the previous one, combined with fma in the order c1 e6, c3 e4, c4 e3.
void t3_kernel(In x, int period, double v, Out out) {
  const auto p = static_cast<std::size_t>(period);
  const std::size_t lookback = 6 * (p - 1);
  if (!begin_output(out, lookback)) return;
  if (period == 1) return copy_from(x, 0, out);
  const double k = 2.0 / (static_cast<double>(period) + 1.0);
  const double one_minus_k = 1.0 - k;
  std::array<double, 6> e{};
  std::size_t t = 0;
  auto step = [&](std::size_t levels) {  // feeds x[t] through the first `levels` EMAs
    e[0] = std::fma(e[0], one_minus_k, k * x[t]);
    for (std::size_t j = 1; j < levels; ++j) e[j] = std::fma(e[j], one_minus_k, k * e[j - 1]);
    ++t;
  };
  double total = 0;
  for (; t < p; ++t) total += x[t];
  e[0] = total / period;
  for (std::size_t level = 1; level < 6; ++level) {
    total = e[level - 1];
    for (std::size_t i = 1; i < p; ++i) {
      step(level);
      total += e[level - 1];
    }
    e[level] = total / period;
  }
  const double v2 = v * v;
  const double c1 = 0.0 - v * v2;
  const double c2 = (v2 - c1) * 3.0;
  const double c3 = v2 * -6.0 - (v - c1) * 3.0;
  const double c4 = std::fma(v2, 3.0, std::fma(v, 3.0, 1.0) - c1);
  auto combine = [&] { return std::fma(c4, e[2], std::fma(c3, e[3], std::fma(c1, e[5], c2 * e[4]))); };
  out[lookback] = combine();
  while (t < x.size()) {
    const std::size_t at = t;
    step(6);
    out[at] = combine();
  }
}

// Population variance of each window as TA-Lib 0.8's VAR computes it: running sums of x - K and
// (x - K)^2 around a reference K (at first the first value), multiplied by 1/period. When the result
// loses too many digits to cancellation (variance below 1e-6 of the mean square, or the value leaving
// the window above 1e6 times the remaining sum of squares), and anyway every 32 periods, K becomes
// the window mean and the sums are recomputed; a recomputed variance below 1e-12 of the mean square
// is taken as 0.
void variance_kernel(In x, int period, Out out) {
  const auto p = static_cast<std::size_t>(period);
  if (!begin_output(out, p - 1)) return;
  const double reciprocal = 1.0 / period;
  const std::size_t refresh_every = 32 * p;
  double k = x[0], s1 = 0, s2 = 0;
  for (std::size_t i = 0; i + 1 < p; ++i) {
    const double d = x[i] - k;
    s1 += d;
    s2 += d * d;
  }
  std::size_t countdown = refresh_every;
  for (std::size_t t = p - 1; t < x.size(); ++t) {
    const std::size_t first = t + 1 - p;
    const double d = x[t] - k;
    s1 += d;
    s2 += d * d;
    const double m1 = reciprocal * s1;
    double var = reciprocal * s2 - m1 * m1;
    const double leaving = x[first] - k;
    const double leaving_squared = leaving * leaving;
    s2 -= leaving_squared;
    const bool cancelled = !((reciprocal * s2) * 1e-6 <= var) || leaving_squared > s2 * 1e6;
    if (cancelled || --countdown == 0) {
      double total = 0;
      for (std::size_t i = first; i <= t; ++i) total += x[i];
      k = total * reciprocal;
      s1 = s2 = 0;
      for (std::size_t i = first; i <= t; ++i) {
        const double e = x[i] - k;
        s1 += e;
        s2 += e * e;
      }
      const double mean = reciprocal * s1;
      const double mean_square = reciprocal * s2;
      var = mean_square - mean * mean;
      if (!(var >= mean_square * 1e-12)) var = 0;
      const double old = x[first] - k;
      s1 -= old;
      s2 -= old * old;
      countdown = refresh_every;
    } else {
      s1 -= leaving;
    }
    out[t] = var;
  }
}

void stddev_kernel(In x, int period, double nbdev, Out out) {
  variance_kernel(x, period, out);
  for (std::size_t i = static_cast<std::size_t>(period - 1); i < out.size(); ++i)
    out[i] = nbdev == 1.0 ? std::sqrt(out[i]) : std::sqrt(out[i]) * nbdev;
}

// Sliding-window moments of one series (Pair = false) or two. Sums are kept relative to a reference
// point (the window mean when it was last recomputed) so that no large sums cancel, and recomputed
// exactly once per window length so that rounding cannot build up over a long series. O(1) per step
// on average. (For our own indicators only: the reference is pandas, not bits.)
template <bool Pair>
class WindowMoments {
 public:
  WindowMoments(In x, In y, std::size_t window)
      : x_(x), y_(Pair ? y : x), n_(window), inverse_n_(1.0 / static_cast<double>(window)) {}

  // Moves the window to end at `last` (the first call anywhere, then one step at a time).
  void move_to(std::size_t last) {
    if (until_refresh_ == 0) {
      recompute(last);
      until_refresh_ = n_;
    } else {
      const std::size_t leaving = last - n_;
      const double dx_old = x_[leaving] - kx_, dx_new = x_[last] - kx_;
      sx_ += dx_new - dx_old;
      sxx_ += dx_new * dx_new - dx_old * dx_old;
      if constexpr (Pair) {
        const double dy_old = y_[leaving] - ky_, dy_new = y_[last] - ky_;
        sy_ += dy_new - dy_old;
        syy_ += dy_new * dy_new - dy_old * dy_old;
        sxy_ += dx_new * dy_new - dx_old * dy_old;
      }
    }
    --until_refresh_;
  }
  double mean_x() const { return kx_ + sx_ * inverse_n_; }
  // Population (co)variances.
  double var_x() const { return std::max(0.0, (sxx_ - sx_ * sx_ * inverse_n_) * inverse_n_); }
  double var_y() const { return std::max(0.0, (syy_ - sy_ * sy_ * inverse_n_) * inverse_n_); }
  double cov() const { return (sxy_ - sx_ * sy_ * inverse_n_) * inverse_n_; }

 private:
  void recompute(std::size_t last) {
    const std::size_t first = last + 1 - n_;
    double tx = 0, ty = 0;
    for (std::size_t i = first; i <= last; ++i) {
      tx += x_[i];
      if constexpr (Pair) ty += y_[i];
    }
    kx_ = tx * inverse_n_;
    ky_ = ty * inverse_n_;
    sx_ = sy_ = sxx_ = syy_ = sxy_ = 0;
    for (std::size_t i = first; i <= last; ++i) {
      const double dx = x_[i] - kx_;
      sx_ += dx;
      sxx_ += dx * dx;
      if constexpr (Pair) {
        const double dy = y_[i] - ky_;
        sy_ += dy;
        syy_ += dy * dy;
        sxy_ += dx * dy;
      }
    }
  }
  In x_, y_;
  std::size_t n_;
  double inverse_n_;
  std::size_t until_refresh_ = 0;
  double kx_ = 0, ky_ = 0, sx_ = 0, sy_ = 0, sxx_ = 0, syy_ = 0, sxy_ = 0;
};

void bbands_kernel(In x, int period, double up, double down, Out upper, Out middle, Out lower) {
  const auto p = static_cast<std::size_t>(period);
  sma_kernel(x, period, middle);
  variance_kernel(x, period, upper);  // the variance, in place of the upper band until it is computed
  if (!begin_output(lower, p - 1)) return;
  for (std::size_t t = p - 1; t < x.size(); ++t) {
    const double sd = std::sqrt(upper[t]);
    upper[t] = middle[t] + sd * up;
    lower[t] = middle[t] - sd * down;
  }
}

void midprice_kernel(In high, In low, int period, Out out) {
  const auto p = static_cast<std::size_t>(period);
  if (!begin_output(out, p - 1)) return;
  std::vector<double> highest(high.size()), lowest(high.size());
  rolling_extreme<true>(high, p, highest);
  rolling_extreme<false>(low, p, lowest);
  for (std::size_t t = p - 1; t < high.size(); ++t) out[t] = (highest[t] + lowest[t]) / 2.0;
}

// TA-Lib 0.8's MACD: both EMAs seeded at slow - 1 (the fast one with the mean of its last `fast`
// values there), updated with fma; the signal line is an EMA of the MACD line seeded likewise.
void macd_kernel(In x, int fast, int slow, int signal, Out macd_line, Out signal_line, Out hist) {
  if (slow < fast) std::swap(fast, slow);  // TA-Lib swaps them too
  const auto s = static_cast<std::size_t>(slow), f = static_cast<std::size_t>(fast);
  const auto g = static_cast<std::size_t>(signal);
  const std::size_t lookback = s - 1 + g - 1;
  const bool any = begin_output(macd_line, lookback);
  begin_output(signal_line, lookback);
  begin_output(hist, lookback);
  if (!any) return;
  const double k_slow = 2.0 / static_cast<double>(slow + 1), k_fast = 2.0 / static_cast<double>(fast + 1);
  double slow_total = 0, fast_total = 0;
  for (std::size_t i = 0; i < s; ++i) {
    slow_total += x[i];
    if (i >= s - f) fast_total += x[i];
  }
  double e_slow = slow_total / slow, e_fast = fast_total / fast;
  double line = e_fast - e_slow;
  double signal_total = line;
  std::size_t t = s;
  for (std::size_t i = 1; i < g; ++i, ++t) {
    e_fast = std::fma(x[t] - e_fast, k_fast, e_fast);
    e_slow = std::fma(x[t] - e_slow, k_slow, e_slow);
    line = e_fast - e_slow;
    signal_total += line;
  }
  if (signal == 1) {  // TA-Lib copies the line instead of running an EMA with k = 1
    for (std::size_t i = lookback; i < x.size(); ++i) {
      if (i > lookback) {
        e_fast = std::fma(x[i] - e_fast, k_fast, e_fast);
        e_slow = std::fma(x[i] - e_slow, k_slow, e_slow);
        line = e_fast - e_slow;
      }
      macd_line[i] = signal_line[i] = line;
      hist[i] = line - line;
    }
    return;
  }
  const double k_signal = 2.0 / static_cast<double>(signal + 1);
  double sig = signal_total / signal;
  macd_line[lookback] = line;
  signal_line[lookback] = sig;
  hist[lookback] = line - sig;
  for (; t < x.size(); ++t) {
    e_fast = std::fma(x[t] - e_fast, k_fast, e_fast);
    e_slow = std::fma(x[t] - e_slow, k_slow, e_slow);
    line = e_fast - e_slow;
    sig = std::fma(line - sig, k_signal, sig);
    macd_line[t] = line;
    signal_line[t] = sig;
    hist[t] = line - sig;
  }
}

// APO and/or PPO (whichever span is non-empty) from the same two EMAs. Unlike MACD, TA-Lib 0.8 seeds
// both as EMA itself does (the fast one at fast - 1), so APO is simply EMA(fast) - EMA(slow).
void price_oscillator_kernel(In x, int fast, int slow, Out apo_out, Out ppo_out) {
  if (slow < fast) std::swap(fast, slow);
  const auto lookback = static_cast<std::size_t>(slow - 1);
  bool any = false;
  for (Out o : {apo_out, ppo_out})
    if (!o.empty()) any = begin_output(o, lookback);
  if (!any) return;
  std::vector<double> fast_ema(x.size()), slow_ema(x.size());
  ema_kernel(x, fast, fast_ema);
  ema_kernel(x, slow, slow_ema);
  for (std::size_t t = lookback; t < x.size(); ++t) {
    const double s = slow_ema[t];
    if (!apo_out.empty()) apo_out[t] = fast_ema[t] - s;
    if (!ppo_out.empty()) ppo_out[t] = ta_is_zero(s) ? 0.0 : ((fast_ema[t] - s) / s) * 100.0;
  }
}

// Wilder-smoothed average gain and loss (RSI and CMO share them; only the final formula differs).
// TA-Lib 0.8's RSI multiplies by 1/period where CMO divides by period: `Scale` says which.
enum class Scale { divide, multiply_by_reciprocal };

template <Scale scale, class Formula>
void gain_loss_kernel(In x, int period, Out out, Formula formula) {
  const auto p = static_cast<std::size_t>(period);
  if (!begin_output(out, p)) return;
  const double reciprocal = 1.0 / period;
  auto average = [&](double total) { return scale == Scale::divide ? total / period : total * reciprocal; };
  double gain = 0, loss = 0;
  for (std::size_t t = 1; t <= p; ++t) {
    const double d = x[t] - x[t - 1];
    if (d < 0)
      loss -= d;
    else
      gain += d;
  }
  loss = average(loss);
  gain = average(gain);
  out[p] = formula(gain, loss);
  for (std::size_t t = p + 1; t < x.size(); ++t) {
    const double d = x[t] - x[t - 1];
    loss *= period - 1;
    gain *= period - 1;
    if (d < 0)
      loss -= d;
    else
      gain += d;
    loss = average(loss);
    gain = average(gain);
    out[t] = formula(gain, loss);
  }
}

void rsi_kernel(In x, int period, Out out) {
  gain_loss_kernel<Scale::multiply_by_reciprocal>(x, period, out, [](double gain, double loss) {
    const double total = gain + loss;
    return ta_is_zero(total) ? 0.0 : 100.0 * (gain / total);
  });
}

// TA-Lib 0.8's zero test for a difference of two values (TA_IS_ZERO_SCALED): within 1e-14 of their size.
bool negligible_difference(double difference, double a, double b) {
  return std::fabs(difference) <= kTaEpsilon * (std::fabs(a) + std::fabs(b));
}

// Fast %K = 100 (close - lowest low) / (highest high - lowest low) over `period` bars, 0 when the range
// is negligible; written from period - 1 on.
void fast_k(In high, In low, In close, int period, Out out) {
  const auto p = static_cast<std::size_t>(period);
  std::vector<double> highest(close.size()), lowest(close.size());
  rolling_extreme<true>(high, p, highest);
  rolling_extreme<false>(low, p, lowest);
  for (std::size_t t = p - 1; t < close.size(); ++t) {
    const double hh = highest[t], ll = lowest[t];
    const double range = hh - ll;
    out[t] = negligible_difference(range, hh, ll) ? 0.0 : ((close[t] - ll) / range) * 100.0;
  }
}

// SMA of x[first..] written to out[first + period - 1..]; x before `first` is not read.
void sma_from(In x, std::size_t first, int period, Out out) {
  if (x.size() <= first) return;
  Out tail = out.subspan(first);
  std::fill(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(first), kNaN);
  sma_kernel(x.subspan(first), period, tail);
}

void stoch_kernel(In high, In low, In close, int fastk_period, int slowk_period, int slowd_period, Out slowk,
                  Out slowd) {
  const auto fk_start = static_cast<std::size_t>(fastk_period - 1);
  const std::size_t sk_start = fk_start + static_cast<std::size_t>(slowk_period - 1);
  const std::size_t lookback = sk_start + static_cast<std::size_t>(slowd_period - 1);
  const bool any = begin_output(slowk, lookback);
  begin_output(slowd, lookback);
  if (!any) return;
  std::vector<double> k(close.size()), smoothed(close.size());
  fast_k(high, low, close, fastk_period, k);
  sma_from(k, fk_start, slowk_period, smoothed);
  sma_from(smoothed, sk_start, slowd_period, slowd);
  std::fill_n(slowd.begin(), lookback, kNaN);
  copy_from(smoothed, lookback, slowk);
}

void stochrsi_kernel(In close, int period, int fastk_period, int fastd_period, Out fastk, Out fastd) {
  const auto rsi_start = static_cast<std::size_t>(period);
  const std::size_t k_start = rsi_start + static_cast<std::size_t>(fastk_period - 1);
  const std::size_t lookback = k_start + static_cast<std::size_t>(fastd_period - 1);
  const bool any = begin_output(fastk, lookback);
  begin_output(fastd, lookback);
  if (!any) return;
  std::vector<double> r(close.size()), k(close.size());
  rsi_kernel(close, period, r);
  In rsi_tail = In(r).subspan(rsi_start);
  fast_k(rsi_tail, rsi_tail, rsi_tail, fastk_period, Out(k).subspan(rsi_start));
  sma_from(k, k_start, fastd_period, fastd);
  std::fill_n(fastd.begin(), lookback, kNaN);
  copy_from(k, lookback, fastk);
}

// Williams %R, clamped to [-100, 0] as TA-Lib 0.8 does.
void willr_kernel(In high, In low, In close, int period, Out out) {
  const auto p = static_cast<std::size_t>(period);
  if (!begin_output(out, p - 1)) return;
  std::vector<double> highest(close.size()), lowest(close.size());
  rolling_extreme<true>(high, p, highest);
  rolling_extreme<false>(low, p, lowest);
  for (std::size_t t = p - 1; t < close.size(); ++t) {
    const double hh = highest[t], ll = lowest[t];
    const double range = hh - ll;
    if (negligible_difference(range, hh, ll)) {
      out[t] = 0.0;
      continue;
    }
    const double value = ((hh - close[t]) / range) * -100.0;
    out[t] = value > 0.0 ? 0.0 : std::max(-100.0, value);
  }
}

// CCI as TA-Lib: the typical prices sit in a circular buffer and each window's mean and mean absolute
// deviation are summed in buffer order (so the rounding matches), O(period) per bar like TA-Lib.
void cci_kernel(In high, In low, In close, int period, Out out) {
  const auto p = static_cast<std::size_t>(period);
  if (!begin_output(out, p - 1)) return;
  std::vector<double> ring(p);
  std::size_t slot = 0;
  for (std::size_t t = 0; t + 1 < p; ++t) {
    ring[slot] = (high[t] + low[t] + close[t]) / 3;
    slot = slot + 1 == p ? 0 : slot + 1;
  }
  for (std::size_t t = p - 1; t < close.size(); ++t) {
    const double last = (high[t] + low[t] + close[t]) / 3;
    ring[slot] = last;
    double mean = 0;
    for (double v : ring) mean += v;
    mean /= period;
    double deviation = 0;
    for (double v : ring) deviation += std::fabs(v - mean);
    const double distance = last - mean;
    out[t] = distance != 0.0 && deviation != 0.0 ? distance / (0.015 * (deviation / period)) : 0.0;
    slot = slot + 1 == p ? 0 : slot + 1;
  }
}

// ---- Wilder's directional movement ----

// One-bar directional movements as TA-Lib: +DM when the high rises more than the low falls, -DM the
// other way round, never both.
struct Movement {
  double plus = 0, minus = 0;
};
Movement movement(In high, In low, std::size_t t) {
  const double up = high[t] - high[t - 1];
  const double down = low[t - 1] - low[t];
  Movement m;
  if (down > 0 && up < down)
    m.minus = down;
  else if (up > 0 && up > down)
    m.plus = up;
  return m;
}

// True range of bar t (t >= 1) in TA-Lib's comparison order.
double true_range(In high, In low, In close, std::size_t t) {
  double range = high[t] - low[t];
  const double to_high = std::fabs(high[t] - close[t - 1]);
  if (to_high > range) range = to_high;
  const double to_low = std::fabs(low[t] - close[t - 1]);
  if (to_low > range) range = to_low;
  return range;
}

// Wilder sums of +DM, -DM and TR: at bar period - 1 the plain sums over bars 1..period-1, then
// s = s - s / period + today. TA-Lib's PLUS_DM, PLUS_DI, DX, ADX... all run this same recursion.
class WilderMovement {
 public:
  WilderMovement(In high, In low, In close, int period)
      : high_(high), low_(low), close_(close), period_(period) {}
  // Starts the sums at bar period - 1.
  void start() {
    plus_ = minus_ = tr_ = 0;
    for (std::size_t t = 1; t < static_cast<std::size_t>(period_); ++t) {
      const Movement m = movement(high_, low_, t);
      plus_ += m.plus;
      minus_ += m.minus;
      if (!close_.empty()) tr_ += true_range(high_, low_, close_, t);
    }
  }
  void advance(std::size_t t) {
    const Movement m = movement(high_, low_, t);
    minus_ -= minus_ / period_;
    plus_ -= plus_ / period_;
    minus_ += m.minus;
    plus_ += m.plus;
    if (!close_.empty()) tr_ = tr_ - tr_ / period_ + true_range(high_, low_, close_, t);
  }
  double plus() const { return plus_; }
  double minus() const { return minus_; }
  double tr() const { return tr_; }

 private:
  In high_, low_, close_;
  int period_;
  double plus_ = 0, minus_ = 0, tr_ = 0;
};

// DX from the smoothed movements; false where TA-Lib leaves it undefined (TR or +DI + -DI zero).
bool directional_index(const WilderMovement& w, double& value) {
  if (ta_is_zero(w.tr())) return false;
  const double minus_di = 100.0 * (w.minus() / w.tr());
  const double plus_di = 100.0 * (w.plus() / w.tr());
  const double total = minus_di + plus_di;
  if (ta_is_zero(total)) return false;
  value = 100.0 * (std::fabs(minus_di - plus_di) / total);
  return true;
}

// The outputs of the directional family that a caller wants (empty spans are skipped).
struct Directional {
  Out plus_dm{}, minus_dm{}, plus_di{}, minus_di{}, dx{}, adx{}, adxr{};
};

// TA-Lib's PLUS_DM, MINUS_DM, PLUS_DI, MINUS_DI, DX, ADX and ADXR all run the same Wilder recursion from
// the same start, so one pass gives any of them (bit for bit what each TA-Lib function gives alone).
// Lookbacks: DM period - 1, DI and DX period, ADX 2 period - 1, ADXR 3 period - 2.
void directional_kernel(In high, In low, In close, int period, const Directional& o) {
  const auto p = static_cast<std::size_t>(period);
  const std::size_t n = high.size();
  const std::size_t adx_start = 2 * p - 1, adxr_lag = p - 1;
  bool any = false;
  for (const auto& [out, lookback] : {std::pair{o.plus_dm, p - 1},
                                      {o.minus_dm, p - 1},
                                      {o.plus_di, p},
                                      {o.minus_di, p},
                                      {o.dx, p},
                                      {o.adx, adx_start},
                                      {o.adxr, adx_start + adxr_lag}})
    if (!out.empty()) any = begin_output(out, lookback) || any;
  if (!any) return;
  const bool needs_range =
      !o.plus_di.empty() || !o.minus_di.empty() || !o.dx.empty() || !o.adx.empty() || !o.adxr.empty();
  // ADXR reads the ADX of period - 1 bars before; keep it in the ADX output or in scratch.
  std::vector<double> adx_scratch(o.adx.empty() && !o.adxr.empty() ? n : 0);
  const Out adx = o.adx.empty() ? Out(adx_scratch) : o.adx;
  WilderMovement w(high, low, needs_range ? close : In{}, period);
  w.start();
  if (!o.plus_dm.empty()) o.plus_dm[p - 1] = w.plus();
  if (!o.minus_dm.empty()) o.minus_dm[p - 1] = w.minus();
  double dx_previous = 0, adx_total = 0, adx_value = 0;
  for (std::size_t t = p; t < n; ++t) {
    w.advance(t);
    if (!o.plus_dm.empty()) o.plus_dm[t] = w.plus();
    if (!o.minus_dm.empty()) o.minus_dm[t] = w.minus();
    if (!needs_range) continue;
    const bool range_zero = ta_is_zero(w.tr());
    if (!o.plus_di.empty()) o.plus_di[t] = range_zero ? 0.0 : 100.0 * (w.plus() / w.tr());
    if (!o.minus_di.empty()) o.minus_di[t] = range_zero ? 0.0 : 100.0 * (w.minus() / w.tr());
    double value = 0;
    const bool defined = directional_index(w, value);
    // Undefined DX: 0 on the first bar, then TA-Lib repeats the previous value.
    if (!o.dx.empty()) o.dx[t] = dx_previous = defined ? value : dx_previous;
    if (adx.empty()) continue;
    if (t < adx_start) {
      if (defined) adx_total += value;
    } else if (t == adx_start) {
      if (defined) adx_total += value;
      adx_value = adx_total / period;
    } else if (defined) {
      adx_value = (adx_value * (period - 1) + value) / period;
    }
    if (t >= adx_start) adx[t] = adx_value;
    if (!o.adxr.empty() && t >= adx_start + adxr_lag) o.adxr[t] = (adx[t] + adx[t - adxr_lag]) / 2.0;
  }
}

// Period 1: TA-Lib gives the raw one-bar movement (DM) or movement / true range as a fraction (DI,
// not in percent), from bar 1 on.
void one_bar_directional_kernel(In high, In low, In close, bool plus, bool ratio, Out out) {
  if (!begin_output(out, 1)) return;
  for (std::size_t t = 1; t < high.size(); ++t) {
    const Movement m = movement(high, low, t);
    const double move = plus ? m.plus : m.minus;
    if (!ratio) {
      out[t] = move;
      continue;
    }
    const double tr = true_range(high, low, close, t);
    out[t] = move > 0 && !ta_is_zero(tr) ? move / tr : 0.0;
  }
}

// Aroon over bars [t - period, t]; writes whichever outputs are non-empty.
void aroon_kernel(In high, In low, int period, Out down, Out up, Out osc) {
  const auto p = static_cast<std::size_t>(period);
  bool any = false;
  for (Out o : {down, up, osc})
    if (!o.empty()) any = begin_output(o, p);
  if (!any) return;
  const double factor = 100.0 / period;
  ExtremeTracker<true> highest(high);
  ExtremeTracker<false> lowest(low);
  for (std::size_t t = p; t < high.size(); ++t) {
    const auto lo = static_cast<double>(lowest.update(t - p, t));
    const auto hi = static_cast<double>(highest.update(t - p, t));
    const double today = static_cast<double>(t);
    if (!up.empty()) up[t] = factor * (period - (today - hi));
    if (!down.empty()) down[t] = factor * (period - (today - lo));
    if (!osc.empty()) osc[t] = factor * (hi - lo);
  }
}

// Money flow index as TA-Lib 0.8: positive and negative money flow of the last `period` bars in rings
// with running sums. A bar whose typical price did not move (within 1e-14, TA_IS_ZERO_SCALED) or that
// traded nothing adds no flow; after `period` such bars in a row both sums are reset to exactly 0.
// The share of positive flow is clamped to [0, total] against rounding residue.
void mfi_kernel(In high, In low, In close, In volume, int period, Out out) {
  const auto p = static_cast<std::size_t>(period);
  if (!begin_output(out, p)) return;
  std::vector<double> positive(p), negative(p);
  std::size_t slot = 0, idle = 0;
  double positive_total = 0, negative_total = 0;
  double previous = (high[0] + low[0] + close[0]) / 3.0;
  auto add_flow = [&](std::size_t t) {
    const double typical = (high[t] + low[t] + close[t]) / 3.0;
    const double change = typical - previous;
    double up = 0, down = 0;
    bool no_flow = true;
    if (!negligible_difference(change, typical, previous)) {
      const double flow = volume[t] * typical;
      (change < 0 ? down : up) = flow;
      no_flow = flow == 0;
    }
    previous = typical;
    positive_total += up;
    negative_total += down;
    positive[slot] = up;
    negative[slot] = down;
    if (!no_flow) {
      idle = 0;
    } else if (++idle >= p) {
      idle = p;
      positive_total = negative_total = 0;
    }
  };
  auto index = [&] {
    const double total = positive_total + negative_total;
    const double share = 0.0 > positive_total ? 0.0 : std::min(total, positive_total);
    return 0.0 >= total ? 0.0 : (share / total) * 100.0;
  };
  for (std::size_t t = 1; t <= p; ++t) {
    add_flow(t);
    slot = slot + 1 == p ? 0 : slot + 1;
  }
  out[p] = index();
  for (std::size_t t = p + 1; t < close.size(); ++t) {
    positive_total -= positive[slot];
    negative_total -= negative[slot];
    add_flow(t);
    out[t] = index();
    slot = slot + 1 == p ? 0 : slot + 1;
  }
}

enum class Change { roc, rocp, mom };

void change_kernel(In x, int period, Change kind, Out out) {
  const auto p = static_cast<std::size_t>(period);
  if (!begin_output(out, p)) return;
  for (std::size_t t = p; t < x.size(); ++t) {
    const double old = x[t - p];
    switch (kind) {
      case Change::roc:
        out[t] = old != 0.0 ? ((x[t] / old) - 1.0) * 100.0 : 0.0;
        break;
      case Change::rocp:
        out[t] = old != 0.0 ? (x[t] - old) / old : 0.0;
        break;
      case Change::mom:
        out[t] = x[t] - old;
        break;
    }
  }
}

// TRIX: triple EMA cascade (fma updates, each level seeded with the mean of `period` values of the level
// below), then its one-bar rate of change in percent.
void trix_kernel(In x, int period, Out out) {
  const auto p = static_cast<std::size_t>(period);
  const std::size_t lookback = 3 * (p - 1) + 1;
  if (!begin_output(out, lookback)) return;
  auto roc = [](double now, double before) { return before != 0.0 ? ((now / before) - 1.0) * 100.0 : 0.0; };
  if (period == 1) {
    for (std::size_t t = 1; t < x.size(); ++t) out[t] = roc(x[t], x[t - 1]);
    return;
  }
  const double k = 2.0 / static_cast<double>(period + 1);
  double total = 0;
  for (std::size_t i = 0; i < p; ++i) total += x[i];
  double e1 = total / period;
  std::size_t t = p;
  double total2 = e1;
  for (std::size_t i = 1; i < p; ++i, ++t) {
    e1 = std::fma(x[t] - e1, k, e1);
    total2 += e1;
  }
  double e2 = total2 / period;
  double total3 = e2;
  for (std::size_t i = 1; i < p; ++i, ++t) {
    e1 = std::fma(x[t] - e1, k, e1);
    e2 = std::fma(e1 - e2, k, e2);
    total3 += e2;
  }
  double e3 = total3 / period;
  for (; t < x.size(); ++t) {
    e1 = std::fma(x[t] - e1, k, e1);
    e2 = std::fma(e1 - e2, k, e2);
    const double before = e3;
    e3 = std::fma(e2 - e3, k, e3);
    out[t] = roc(e3, before);
  }
}

void ultosc_kernel(In high, In low, In close, std::array<int, 3> periods, Out out) {
  std::sort(periods.begin(), periods.end());  // TA-Lib sorts them: shortest weighted 4, middle 2, longest 1
  const auto lookback = static_cast<std::size_t>(periods[2]);
  if (!begin_output(out, lookback)) return;
  // Buying pressure (close - true low) and true range of every bar, each used by three windows.
  std::vector<double> pressure_of(close.size()), range_of(close.size());
  for (std::size_t t = 1; t < close.size(); ++t) {
    pressure_of[t] = close[t] - std::min(low[t], close[t - 1]);
    range_of[t] = true_range(high, low, close, t);
  }
  std::array<double, 3> pressure{}, range{};
  for (std::size_t j = 0; j < 3; ++j)
    for (std::size_t t = lookback + 1 - static_cast<std::size_t>(periods[j]); t < lookback; ++t) {
      pressure[j] += pressure_of[t];
      range[j] += range_of[t];
    }
  for (std::size_t t = lookback; t < close.size(); ++t) {
    for (std::size_t j = 0; j < 3; ++j) {
      pressure[j] += pressure_of[t];
      range[j] += range_of[t];
    }
    double value = 0;
    if (!ta_is_zero(range[0])) value += 4.0 * (pressure[0] / range[0]);
    if (!ta_is_zero(range[1])) value += 2.0 * (pressure[1] / range[1]);
    if (!ta_is_zero(range[2])) value += pressure[2] / range[2];
    for (std::size_t j = 0; j < 3; ++j) {
      const std::size_t old = t + 1 - static_cast<std::size_t>(periods[j]);
      pressure[j] -= pressure_of[old];
      range[j] -= range_of[old];
    }
    out[t] = 100.0 * (value / 7.0);
  }
}

void obv_kernel(In close, In volume, Out out) {
  if (out.empty()) return;
  double level = volume[0];
  double previous = close[0];
  for (std::size_t t = 0; t < close.size(); ++t) {
    // +volume, -volume or +0 (exact either way); a multiply instead of branches that mispredict.
    const double direction = static_cast<double>((close[t] > previous) - (close[t] < previous));
    level += volume[t] * direction;
    out[t] = level;
    previous = close[t];
  }
}

// One bar's contribution to the accumulation/distribution line.
double ad_step(In high, In low, In close, In volume, std::size_t t, double level) {
  const double range = high[t] - low[t];
  if (range > 0.0) level += (((close[t] - low[t]) - (high[t] - close[t])) / range) * volume[t];
  return level;
}

void ad_kernel(In high, In low, In close, In volume, Out out) {
  double level = 0;
  for (std::size_t t = 0; t < close.size(); ++t) out[t] = level = ad_step(high, low, close, volume, t, level);
}

// TA-Lib 0.8's ADOSC: both EMAs of the AD line start at its first value (no SMA seed) and update as
// e = e (1 - k) + k ad with fma.
void adosc_kernel(In high, In low, In close, In volume, int fast, int slow, Out out) {
  const auto lookback = static_cast<std::size_t>(std::max(fast, slow) - 1);
  if (!begin_output(out, lookback)) return;
  const double k_fast = 2.0 / static_cast<double>(fast + 1), k_slow = 2.0 / static_cast<double>(slow + 1);
  const double keep_fast = 1.0 - k_fast, keep_slow = 1.0 - k_slow;
  double level = ad_step(high, low, close, volume, 0, 0.0);
  double e_fast = level, e_slow = level;
  for (std::size_t t = 1; t < close.size(); ++t) {
    level = ad_step(high, low, close, volume, t, level);
    e_fast = std::fma(e_fast, keep_fast, k_fast * level);
    e_slow = std::fma(e_slow, keep_slow, k_slow * level);
    if (t >= lookback) out[t] = e_fast - e_slow;
  }
}

void trange_kernel(In high, In low, In close, Out out) {
  if (!begin_output(out, 1)) return;
  for (std::size_t t = 1; t < close.size(); ++t) out[t] = true_range(high, low, close, t);
}

// TA-Lib 0.8's ATR: seeded with the mean of the first `period` true ranges, then
// atr = fma(atr, (period - 1) / period, tr (1 - (period - 1) / period)). `per_close` gives NATR.
void atr_kernel(In high, In low, In close, int period, bool per_close, Out out) {
  const auto p = static_cast<std::size_t>(period);
  auto finish = [&](std::size_t t, double value) {
    if (!per_close)
      out[t] = value;
    else
      out[t] = close[t] != 0.0 ? (value / close[t]) * 100.0 : 0.0;
  };
  if (!begin_output(out, p)) return;
  if (period == 1) {
    for (std::size_t t = 1; t < close.size(); ++t) finish(t, true_range(high, low, close, t));
    return;
  }
  const double keep = static_cast<double>(period - 1) / static_cast<double>(period);
  const double take = 1.0 - keep;
  double total = 0;
  for (std::size_t t = 1; t <= p; ++t) total += true_range(high, low, close, t);
  double value = total / period;
  finish(p, value);
  for (std::size_t t = p + 1; t < close.size(); ++t) {
    value = std::fma(value, keep, true_range(high, low, close, t) * take);
    finish(t, value);
  }
}

// TA-Lib 0.8's LINEARREG_SLOPE: x counts bars back from today (so numerator and divisor both have the
// opposite sign of the textbook formula), and the sums slide in O(1): every value ages by one bar
// (sum_xy += sum_y), the leaving one is removed with its weight `period`. The sums are recomputed
// every 32 periods, and whenever the leaving value is large against the window (|period x| above
// 100 times the sum of |x|), where sliding would cancel.
void linearreg_slope_kernel(In y, int period, Out out) {
  const auto p = static_cast<std::size_t>(period);
  if (!begin_output(out, p - 1)) return;
  const double n = period;
  const double sum_x = 0.5 * (static_cast<double>(period - 1) * n);
  const double sum_x_squared =
      (static_cast<double>(2 * period - 1) * (static_cast<double>(period - 1) * n)) / 6.0;
  const double divisor = sum_x * sum_x - sum_x_squared * n;
  double sum_y = 0, sum_xy = 0, sum_abs = 0;
  auto recompute = [&](std::size_t last) {
    sum_y = sum_xy = sum_abs = 0;
    double weight = static_cast<double>(period - 1);
    for (std::size_t i = last + 1 - p; i <= last; ++i) {
      const double v = y[i];
      sum_y += v;
      sum_abs += std::fabs(v);
      sum_xy += v * weight;
      weight -= 1.0;
    }
  };
  recompute(p - 1);
  out[p - 1] = (n * sum_xy - sum_x * sum_y) / divisor;
  const std::size_t refresh_every = 32 * p;
  std::size_t countdown = refresh_every;
  for (std::size_t t = p; t < y.size(); ++t) {
    const double leaving = y[t - p], entering = y[t];
    bool refresh = --countdown == 0;
    if (!refresh) {
      const double weighted_leaving = n * leaving;
      sum_abs = (sum_abs - std::fabs(leaving)) + std::fabs(entering);
      if (std::fabs(weighted_leaving) > sum_abs * 100.0) {
        refresh = true;
      } else {
        sum_xy += sum_y;
        sum_y -= leaving;
        sum_xy -= weighted_leaving;
        sum_y += entering;
      }
    }
    if (refresh) {
      recompute(t);
      countdown = refresh_every;
    }
    out[t] = (n * sum_xy - sum_x * sum_y) / divisor;
  }
}

void bop_kernel(In open, In high, In low, In close, Out out) {
  for (std::size_t t = 0; t < close.size(); ++t) {
    const double range = high[t] - low[t];
    out[t] = ta_is_zero_or_neg(range) ? 0.0 : (close[t] - open[t]) / range;
  }
}

void typprice_kernel(In high, In low, In close, Out out) {
  for (std::size_t t = 0; t < close.size(); ++t) out[t] = (high[t] + low[t] + close[t]) / 3.0;
}

// ---- ours ----

void keltner_kernel(In high, In low, In close, int ema_period, int atr_period, double multiplier, Out upper,
                    Out middle, Out lower) {
  const auto lookback = static_cast<std::size_t>(std::max(ema_period - 1, atr_period));
  const bool any = begin_output(middle, lookback);
  begin_output(upper, lookback);
  begin_output(lower, lookback);
  if (!any) return;
  std::vector<double> typical(close.size()), center(close.size()), range(close.size());
  typprice_kernel(high, low, close, typical);
  ema_kernel(typical, ema_period, center);
  atr_kernel(high, low, close, atr_period, false, range);
  for (std::size_t t = lookback; t < close.size(); ++t) {
    middle[t] = center[t];
    upper[t] = center[t] + multiplier * range[t];
    lower[t] = center[t] - multiplier * range[t];
  }
}

void donchian_kernel(In high, In low, int period, Out upper, Out middle, Out lower) {
  const auto p = static_cast<std::size_t>(period);
  const bool any = begin_output(upper, p - 1);
  begin_output(middle, p - 1);
  begin_output(lower, p - 1);
  if (!any) return;
  std::vector<double> highest(high.size()), lowest(high.size());
  rolling_extreme<true>(high, p, highest);
  rolling_extreme<false>(low, p, lowest);
  for (std::size_t t = p - 1; t < high.size(); ++t) {
    upper[t] = highest[t];
    lower[t] = lowest[t];
    middle[t] = (highest[t] + lowest[t]) / 2.0;
  }
}

void return_kernel(In close, int days, bool log, Out out) {
  const auto d = static_cast<std::size_t>(days);
  if (!begin_output(out, d)) return;
  for (std::size_t t = d; t < close.size(); ++t)
    out[t] = log ? std::log(close[t] / close[t - d]) : close[t] / close[t - d] - 1.0;
}

void rolling_volatility_kernel(In close, int period, Out out) {
  const auto p = static_cast<std::size_t>(period);
  if (!begin_output(out, p)) return;
  std::vector<double> r(close.size());
  return_kernel(close, 1, true, r);
  WindowMoments<false> moments(In(r).subspan(1), {}, p);
  for (std::size_t t = p; t < close.size(); ++t) {
    moments.move_to(t - 1);
    out[t] = std::sqrt(moments.var_x());
  }
}

void rolling_comoment_kernel(In close, In benchmark, int period, bool correlation, Out out) {
  const auto p = static_cast<std::size_t>(period);
  if (!begin_output(out, p)) return;
  std::vector<double> r(close.size()), rb(close.size());
  return_kernel(close, 1, false, r);
  return_kernel(benchmark, 1, false, rb);
  WindowMoments<true> moments(In(r).subspan(1), In(rb).subspan(1), p);
  for (std::size_t t = p; t < close.size(); ++t) {
    moments.move_to(t - 1);
    const double var_b = moments.var_y();
    if (correlation) {
      const double scale = std::sqrt(moments.var_x() * var_b);
      out[t] = scale > 0 ? moments.cov() / scale : kNaN;
    } else {
      out[t] = var_b > 0 ? moments.cov() / var_b : kNaN;
    }
  }
}

void volume_zscore_kernel(In volume, int period, Out out) {
  const auto p = static_cast<std::size_t>(period);
  if (!begin_output(out, p - 1)) return;
  WindowMoments<false> moments(volume, {}, p);
  for (std::size_t t = p - 1; t < volume.size(); ++t) {
    moments.move_to(t);
    const double sd = std::sqrt(moments.var_x());
    out[t] = sd > 0 ? (volume[t] - moments.mean_x()) / sd : 0.0;
  }
}

}  // namespace

// ---- public functions: check the arguments, then run the kernel on each finite run -----------------------

int sma_lookback(int period) {
  check_period("sma", "period", period, 1);
  return period - 1;
}
void sma(In in, int period, Out out) {
  sma_lookback(period);
  check_lengths("sma", {{"in", in.size()}, {"out", out.size()}});
  on_finite_runs<1, 1>({in}, {out}, [=](auto i, auto o) { sma_kernel(i[0], period, o[0]); });
}

int ema_lookback(int period) {
  check_period("ema", "period", period, 1);
  return period - 1;
}
void ema(In in, int period, Out out) {
  ema_lookback(period);
  check_lengths("ema", {{"in", in.size()}, {"out", out.size()}});
  on_finite_runs<1, 1>({in}, {out}, [=](auto i, auto o) { ema_kernel(i[0], period, o[0]); });
}

int wma_lookback(int period) {
  check_period("wma", "period", period, 1);
  return period - 1;
}
void wma(In in, int period, Out out) {
  wma_lookback(period);
  check_lengths("wma", {{"in", in.size()}, {"out", out.size()}});
  on_finite_runs<1, 1>({in}, {out}, [=](auto i, auto o) { wma_kernel(i[0], period, o[0]); });
}

int dema_lookback(int period) {
  check_period("dema", "period", period, 1);
  return 2 * (period - 1);
}
void dema(In in, int period, Out out) {
  dema_lookback(period);
  check_lengths("dema", {{"in", in.size()}, {"out", out.size()}});
  on_finite_runs<1, 1>({in}, {out}, [=](auto i, auto o) { dema_kernel(i[0], period, o[0]); });
}

int tema_lookback(int period) {
  check_period("tema", "period", period, 1);
  return 3 * (period - 1);
}
void tema(In in, int period, Out out) {
  tema_lookback(period);
  check_lengths("tema", {{"in", in.size()}, {"out", out.size()}});
  on_finite_runs<1, 1>({in}, {out}, [=](auto i, auto o) { tema_kernel(i[0], period, o[0]); });
}

int trima_lookback(int period) {
  check_period("trima", "period", period, 1);
  return period - 1;
}
void trima(In in, int period, Out out) {
  trima_lookback(period);
  check_lengths("trima", {{"in", in.size()}, {"out", out.size()}});
  on_finite_runs<1, 1>({in}, {out}, [=](auto i, auto o) { trima_kernel(i[0], period, o[0]); });
}

int kama_lookback(int period) {
  check_period("kama", "period", period, 1);
  return period == 1 ? 0 : period;
}
void kama(In in, int period, Out out) {
  kama_lookback(period);
  check_lengths("kama", {{"in", in.size()}, {"out", out.size()}});
  on_finite_runs<1, 1>({in}, {out}, [=](auto i, auto o) { kama_kernel(i[0], period, o[0]); });
}

int t3_lookback(int period) {
  check_period("t3", "period", period, 1);
  return 6 * (period - 1);
}
void t3(In in, int period, double vfactor, Out out) {
  t3_lookback(period);
  check_factor("t3", "vfactor", vfactor, 0.0, 1.0);
  check_lengths("t3", {{"in", in.size()}, {"out", out.size()}});
  on_finite_runs<1, 1>({in}, {out}, [=](auto i, auto o) { t3_kernel(i[0], period, vfactor, o[0]); });
}

int bbands_lookback(int period) {
  check_period("bbands", "period", period, 2);
  return period - 1;
}
void bbands(In in, int period, double nbdev_up, double nbdev_down, Out upper, Out middle, Out lower) {
  bbands_lookback(period);
  check_factor("bbands", "nbdev_up", nbdev_up, -3e37, 3e37);
  check_factor("bbands", "nbdev_down", nbdev_down, -3e37, 3e37);
  check_lengths(
      "bbands",
      {{"in", in.size()}, {"upper", upper.size()}, {"middle", middle.size()}, {"lower", lower.size()}});
  on_finite_runs<1, 3>({in}, {upper, middle, lower}, [=](auto i, auto o) {
    bbands_kernel(i[0], period, nbdev_up, nbdev_down, o[0], o[1], o[2]);
  });
}

int midprice_lookback(int period) {
  check_period("midprice", "period", period, 2);
  return period - 1;
}
void midprice(In high, In low, int period, Out out) {
  midprice_lookback(period);
  check_lengths("midprice", {{"high", high.size()}, {"low", low.size()}, {"out", out.size()}});
  on_finite_runs<2, 1>({high, low}, {out},
                       [=](auto i, auto o) { midprice_kernel(i[0], i[1], period, o[0]); });
}

int macd_lookback(int fast, int slow, int signal) {
  check_period("macd", "fast", fast, 2);
  check_period("macd", "slow", slow, 2);
  check_period("macd", "signal", signal, 1);
  return std::max(fast, slow) - 1 + signal - 1;
}
void macd(In close, int fast, int slow, int signal, Out macd_line, Out signal_line, Out hist) {
  macd_lookback(fast, slow, signal);
  check_lengths("macd", {{"close", close.size()},
                         {"macd_line", macd_line.size()},
                         {"signal_line", signal_line.size()},
                         {"hist", hist.size()}});
  on_finite_runs<1, 3>({close}, {macd_line, signal_line, hist},
                       [=](auto i, auto o) { macd_kernel(i[0], fast, slow, signal, o[0], o[1], o[2]); });
}

int apo_lookback(int fast, int slow) {
  check_period("apo", "fast", fast, 2);
  check_period("apo", "slow", slow, 2);
  return std::max(fast, slow) - 1;
}
void apo(In close, int fast, int slow, Out out) {
  apo_lookback(fast, slow);
  check_lengths("apo", {{"close", close.size()}, {"out", out.size()}});
  on_finite_runs<1, 1>({close}, {out},
                       [=](auto i, auto o) { price_oscillator_kernel(i[0], fast, slow, o[0], {}); });
}

int ppo_lookback(int fast, int slow) {
  check_period("ppo", "fast", fast, 2);
  check_period("ppo", "slow", slow, 2);
  return std::max(fast, slow) - 1;
}
void ppo(In close, int fast, int slow, Out out) {
  ppo_lookback(fast, slow);
  check_lengths("ppo", {{"close", close.size()}, {"out", out.size()}});
  on_finite_runs<1, 1>({close}, {out},
                       [=](auto i, auto o) { price_oscillator_kernel(i[0], fast, slow, {}, o[0]); });
}

int rsi_lookback(int period) {
  check_period("rsi", "period", period, 2);
  return period;
}
void rsi(In close, int period, Out out) {
  rsi_lookback(period);
  check_lengths("rsi", {{"close", close.size()}, {"out", out.size()}});
  on_finite_runs<1, 1>({close}, {out}, [=](auto i, auto o) { rsi_kernel(i[0], period, o[0]); });
}

int cmo_lookback(int period) {
  check_period("cmo", "period", period, 2);
  return period;
}
void cmo(In close, int period, Out out) {
  cmo_lookback(period);
  check_lengths("cmo", {{"close", close.size()}, {"out", out.size()}});
  on_finite_runs<1, 1>({close}, {out}, [=](auto i, auto o) {
    gain_loss_kernel<Scale::divide>(i[0], period, o[0], [](double gain, double loss) {
      const double total = gain + loss;
      return ta_is_zero(total) ? 0.0 : 100.0 * ((gain - loss) / total);
    });
  });
}

int stoch_lookback(int fastk_period, int slowk_period, int slowd_period) {
  check_period("stoch", "fastk_period", fastk_period, 1);
  check_period("stoch", "slowk_period", slowk_period, 1);
  check_period("stoch", "slowd_period", slowd_period, 1);
  return fastk_period - 1 + slowk_period - 1 + slowd_period - 1;
}
void stoch(In high, In low, In close, int fastk_period, int slowk_period, int slowd_period, Out slowk,
           Out slowd) {
  stoch_lookback(fastk_period, slowk_period, slowd_period);
  check_lengths("stoch", {{"high", high.size()},
                          {"low", low.size()},
                          {"close", close.size()},
                          {"slowk", slowk.size()},
                          {"slowd", slowd.size()}});
  on_finite_runs<3, 2>({high, low, close}, {slowk, slowd}, [=](auto i, auto o) {
    stoch_kernel(i[0], i[1], i[2], fastk_period, slowk_period, slowd_period, o[0], o[1]);
  });
}

int stochrsi_lookback(int period, int fastk_period, int fastd_period) {
  check_period("stochrsi", "period", period, 2);
  check_period("stochrsi", "fastk_period", fastk_period, 1);
  check_period("stochrsi", "fastd_period", fastd_period, 1);
  return period + fastk_period - 1 + fastd_period - 1;
}
void stochrsi(In close, int period, int fastk_period, int fastd_period, Out fastk, Out fastd) {
  stochrsi_lookback(period, fastk_period, fastd_period);
  check_lengths("stochrsi", {{"close", close.size()}, {"fastk", fastk.size()}, {"fastd", fastd.size()}});
  on_finite_runs<1, 2>({close}, {fastk, fastd}, [=](auto i, auto o) {
    stochrsi_kernel(i[0], period, fastk_period, fastd_period, o[0], o[1]);
  });
}

int willr_lookback(int period) {
  check_period("willr", "period", period, 2);
  return period - 1;
}
void willr(In high, In low, In close, int period, Out out) {
  willr_lookback(period);
  check_lengths("willr",
                {{"high", high.size()}, {"low", low.size()}, {"close", close.size()}, {"out", out.size()}});
  on_finite_runs<3, 1>({high, low, close}, {out},
                       [=](auto i, auto o) { willr_kernel(i[0], i[1], i[2], period, o[0]); });
}

int cci_lookback(int period) {
  check_period("cci", "period", period, 2);
  return period - 1;
}
void cci(In high, In low, In close, int period, Out out) {
  cci_lookback(period);
  check_lengths("cci",
                {{"high", high.size()}, {"low", low.size()}, {"close", close.size()}, {"out", out.size()}});
  on_finite_runs<3, 1>({high, low, close}, {out},
                       [=](auto i, auto o) { cci_kernel(i[0], i[1], i[2], period, o[0]); });
}

int plus_dm_lookback(int period) {
  check_period("plus_dm", "period", period, 1);
  return period == 1 ? 1 : period - 1;
}
void plus_dm(In high, In low, int period, Out out) {
  plus_dm_lookback(period);
  check_lengths("plus_dm", {{"high", high.size()}, {"low", low.size()}, {"out", out.size()}});
  on_finite_runs<2, 1>({high, low}, {out}, [=](auto i, auto o) {
    if (period == 1) return one_bar_directional_kernel(i[0], i[1], {}, true, false, o[0]);
    directional_kernel(i[0], i[1], {}, period, {.plus_dm = o[0]});
  });
}

int minus_dm_lookback(int period) {
  check_period("minus_dm", "period", period, 1);
  return period == 1 ? 1 : period - 1;
}
void minus_dm(In high, In low, int period, Out out) {
  minus_dm_lookback(period);
  check_lengths("minus_dm", {{"high", high.size()}, {"low", low.size()}, {"out", out.size()}});
  on_finite_runs<2, 1>({high, low}, {out}, [=](auto i, auto o) {
    if (period == 1) return one_bar_directional_kernel(i[0], i[1], {}, false, false, o[0]);
    directional_kernel(i[0], i[1], {}, period, {.minus_dm = o[0]});
  });
}

int plus_di_lookback(int period) {
  check_period("plus_di", "period", period, 1);
  return period;
}
void plus_di(In high, In low, In close, int period, Out out) {
  plus_di_lookback(period);
  check_lengths("plus_di",
                {{"high", high.size()}, {"low", low.size()}, {"close", close.size()}, {"out", out.size()}});
  on_finite_runs<3, 1>({high, low, close}, {out}, [=](auto i, auto o) {
    if (period == 1) return one_bar_directional_kernel(i[0], i[1], i[2], true, true, o[0]);
    directional_kernel(i[0], i[1], i[2], period, {.plus_di = o[0]});
  });
}

int minus_di_lookback(int period) {
  check_period("minus_di", "period", period, 1);
  return period;
}
void minus_di(In high, In low, In close, int period, Out out) {
  minus_di_lookback(period);
  check_lengths("minus_di",
                {{"high", high.size()}, {"low", low.size()}, {"close", close.size()}, {"out", out.size()}});
  on_finite_runs<3, 1>({high, low, close}, {out}, [=](auto i, auto o) {
    if (period == 1) return one_bar_directional_kernel(i[0], i[1], i[2], false, true, o[0]);
    directional_kernel(i[0], i[1], i[2], period, {.minus_di = o[0]});
  });
}

int dx_lookback(int period) {
  check_period("dx", "period", period, 2);
  return period;
}
void dx(In high, In low, In close, int period, Out out) {
  dx_lookback(period);
  check_lengths("dx",
                {{"high", high.size()}, {"low", low.size()}, {"close", close.size()}, {"out", out.size()}});
  on_finite_runs<3, 1>({high, low, close}, {out},
                       [=](auto i, auto o) { directional_kernel(i[0], i[1], i[2], period, {.dx = o[0]}); });
}

int adx_lookback(int period) {
  check_period("adx", "period", period, 2);
  return 2 * period - 1;
}
void adx(In high, In low, In close, int period, Out out) {
  adx_lookback(period);
  check_lengths("adx",
                {{"high", high.size()}, {"low", low.size()}, {"close", close.size()}, {"out", out.size()}});
  on_finite_runs<3, 1>({high, low, close}, {out},
                       [=](auto i, auto o) { directional_kernel(i[0], i[1], i[2], period, {.adx = o[0]}); });
}

int adxr_lookback(int period) {
  check_period("adxr", "period", period, 2);
  return 2 * period - 1 + period - 1;
}
void adxr(In high, In low, In close, int period, Out out) {
  adxr_lookback(period);
  check_lengths("adxr",
                {{"high", high.size()}, {"low", low.size()}, {"close", close.size()}, {"out", out.size()}});
  on_finite_runs<3, 1>({high, low, close}, {out},
                       [=](auto i, auto o) { directional_kernel(i[0], i[1], i[2], period, {.adxr = o[0]}); });
}

int aroon_lookback(int period) {
  check_period("aroon", "period", period, 2);
  return period;
}
void aroon(In high, In low, int period, Out aroon_down, Out aroon_up) {
  aroon_lookback(period);
  check_lengths("aroon", {{"high", high.size()},
                          {"low", low.size()},
                          {"aroon_down", aroon_down.size()},
                          {"aroon_up", aroon_up.size()}});
  on_finite_runs<2, 2>({high, low}, {aroon_down, aroon_up},
                       [=](auto i, auto o) { aroon_kernel(i[0], i[1], period, o[0], o[1], {}); });
}

int aroonosc_lookback(int period) {
  check_period("aroonosc", "period", period, 2);
  return period;
}
void aroonosc(In high, In low, int period, Out out) {
  aroonosc_lookback(period);
  check_lengths("aroonosc", {{"high", high.size()}, {"low", low.size()}, {"out", out.size()}});
  on_finite_runs<2, 1>({high, low}, {out},
                       [=](auto i, auto o) { aroon_kernel(i[0], i[1], period, {}, {}, o[0]); });
}

int mfi_lookback(int period) {
  check_period("mfi", "period", period, 2);
  return period;
}
void mfi(In high, In low, In close, In volume, int period, Out out) {
  mfi_lookback(period);
  check_lengths("mfi", {{"high", high.size()},
                        {"low", low.size()},
                        {"close", close.size()},
                        {"volume", volume.size()},
                        {"out", out.size()}});
  on_finite_runs<4, 1>({high, low, close, volume}, {out},
                       [=](auto i, auto o) { mfi_kernel(i[0], i[1], i[2], i[3], period, o[0]); });
}

int roc_lookback(int period) {
  check_period("roc", "period", period, 1);
  return period;
}
void roc(In close, int period, Out out) {
  roc_lookback(period);
  check_lengths("roc", {{"close", close.size()}, {"out", out.size()}});
  on_finite_runs<1, 1>({close}, {out},
                       [=](auto i, auto o) { change_kernel(i[0], period, Change::roc, o[0]); });
}

int rocp_lookback(int period) {
  check_period("rocp", "period", period, 1);
  return period;
}
void rocp(In close, int period, Out out) {
  rocp_lookback(period);
  check_lengths("rocp", {{"close", close.size()}, {"out", out.size()}});
  on_finite_runs<1, 1>({close}, {out},
                       [=](auto i, auto o) { change_kernel(i[0], period, Change::rocp, o[0]); });
}

int mom_lookback(int period) {
  check_period("mom", "period", period, 1);
  return period;
}
void mom(In close, int period, Out out) {
  mom_lookback(period);
  check_lengths("mom", {{"close", close.size()}, {"out", out.size()}});
  on_finite_runs<1, 1>({close}, {out},
                       [=](auto i, auto o) { change_kernel(i[0], period, Change::mom, o[0]); });
}

int trix_lookback(int period) {
  check_period("trix", "period", period, 1);
  return 3 * (period - 1) + 1;
}
void trix(In close, int period, Out out) {
  trix_lookback(period);
  check_lengths("trix", {{"close", close.size()}, {"out", out.size()}});
  on_finite_runs<1, 1>({close}, {out}, [=](auto i, auto o) { trix_kernel(i[0], period, o[0]); });
}

int ultosc_lookback(int period1, int period2, int period3) {
  check_period("ultosc", "period1", period1, 1);
  check_period("ultosc", "period2", period2, 1);
  check_period("ultosc", "period3", period3, 1);
  return std::max({period1, period2, period3});
}
void ultosc(In high, In low, In close, int period1, int period2, int period3, Out out) {
  ultosc_lookback(period1, period2, period3);
  check_lengths("ultosc",
                {{"high", high.size()}, {"low", low.size()}, {"close", close.size()}, {"out", out.size()}});
  on_finite_runs<3, 1>({high, low, close}, {out}, [=](auto i, auto o) {
    ultosc_kernel(i[0], i[1], i[2], {period1, period2, period3}, o[0]);
  });
}

int bop_lookback() {
  return 0;
}
void bop(In open, In high, In low, In close, Out out) {
  check_lengths("bop", {{"open", open.size()},
                        {"high", high.size()},
                        {"low", low.size()},
                        {"close", close.size()},
                        {"out", out.size()}});
  on_finite_runs<4, 1>({open, high, low, close}, {out},
                       [=](auto i, auto o) { bop_kernel(i[0], i[1], i[2], i[3], o[0]); });
}

int obv_lookback() {
  return 0;
}
void obv(In close, In volume, Out out) {
  check_lengths("obv", {{"close", close.size()}, {"volume", volume.size()}, {"out", out.size()}});
  on_finite_runs<2, 1>({close, volume}, {out}, [=](auto i, auto o) { obv_kernel(i[0], i[1], o[0]); });
}

int ad_lookback() {
  return 0;
}
void ad(In high, In low, In close, In volume, Out out) {
  check_lengths("ad", {{"high", high.size()},
                       {"low", low.size()},
                       {"close", close.size()},
                       {"volume", volume.size()},
                       {"out", out.size()}});
  on_finite_runs<4, 1>({high, low, close, volume}, {out},
                       [=](auto i, auto o) { ad_kernel(i[0], i[1], i[2], i[3], o[0]); });
}

int adosc_lookback(int fast, int slow) {
  check_period("adosc", "fast", fast, 2);
  check_period("adosc", "slow", slow, 2);
  return std::max(fast, slow) - 1;
}
void adosc(In high, In low, In close, In volume, int fast, int slow, Out out) {
  adosc_lookback(fast, slow);
  check_lengths("adosc", {{"high", high.size()},
                          {"low", low.size()},
                          {"close", close.size()},
                          {"volume", volume.size()},
                          {"out", out.size()}});
  on_finite_runs<4, 1>({high, low, close, volume}, {out},
                       [=](auto i, auto o) { adosc_kernel(i[0], i[1], i[2], i[3], fast, slow, o[0]); });
}

int trange_lookback() {
  return 1;
}
void trange(In high, In low, In close, Out out) {
  check_lengths("trange",
                {{"high", high.size()}, {"low", low.size()}, {"close", close.size()}, {"out", out.size()}});
  on_finite_runs<3, 1>({high, low, close}, {out},
                       [=](auto i, auto o) { trange_kernel(i[0], i[1], i[2], o[0]); });
}

int atr_lookback(int period) {
  check_period("atr", "period", period, 1);
  return period;
}
void atr(In high, In low, In close, int period, Out out) {
  atr_lookback(period);
  check_lengths("atr",
                {{"high", high.size()}, {"low", low.size()}, {"close", close.size()}, {"out", out.size()}});
  on_finite_runs<3, 1>({high, low, close}, {out},
                       [=](auto i, auto o) { atr_kernel(i[0], i[1], i[2], period, false, o[0]); });
}

int natr_lookback(int period) {
  check_period("natr", "period", period, 1);
  return period;
}
void natr(In high, In low, In close, int period, Out out) {
  natr_lookback(period);
  check_lengths("natr",
                {{"high", high.size()}, {"low", low.size()}, {"close", close.size()}, {"out", out.size()}});
  on_finite_runs<3, 1>({high, low, close}, {out},
                       [=](auto i, auto o) { atr_kernel(i[0], i[1], i[2], period, true, o[0]); });
}

int stddev_lookback(int period) {
  check_period("stddev", "period", period, 2);
  return period - 1;
}
void stddev(In in, int period, double nbdev, Out out) {
  stddev_lookback(period);
  check_factor("stddev", "nbdev", nbdev, -3e37, 3e37);
  check_lengths("stddev", {{"in", in.size()}, {"out", out.size()}});
  on_finite_runs<1, 1>({in}, {out}, [=](auto i, auto o) { stddev_kernel(i[0], period, nbdev, o[0]); });
}

int linearreg_slope_lookback(int period) {
  check_period("linearreg_slope", "period", period, 2);
  return period - 1;
}
void linearreg_slope(In in, int period, Out out) {
  linearreg_slope_lookback(period);
  check_lengths("linearreg_slope", {{"in", in.size()}, {"out", out.size()}});
  on_finite_runs<1, 1>({in}, {out}, [=](auto i, auto o) { linearreg_slope_kernel(i[0], period, o[0]); });
}

int typprice_lookback() {
  return 0;
}
void typprice(In high, In low, In close, Out out) {
  check_lengths("typprice",
                {{"high", high.size()}, {"low", low.size()}, {"close", close.size()}, {"out", out.size()}});
  on_finite_runs<3, 1>({high, low, close}, {out},
                       [=](auto i, auto o) { typprice_kernel(i[0], i[1], i[2], o[0]); });
}

int keltner_lookback(int ema_period, int atr_period) {
  check_period("keltner", "ema_period", ema_period, 1);
  check_period("keltner", "atr_period", atr_period, 1);
  return std::max(ema_period - 1, atr_period);
}
void keltner(In high, In low, In close, int ema_period, int atr_period, double multiplier, Out upper,
             Out middle, Out lower) {
  keltner_lookback(ema_period, atr_period);
  check_factor("keltner", "multiplier", multiplier, -3e37, 3e37);
  check_lengths("keltner", {{"high", high.size()},
                            {"low", low.size()},
                            {"close", close.size()},
                            {"upper", upper.size()},
                            {"middle", middle.size()},
                            {"lower", lower.size()}});
  on_finite_runs<3, 3>({high, low, close}, {upper, middle, lower}, [=](auto i, auto o) {
    keltner_kernel(i[0], i[1], i[2], ema_period, atr_period, multiplier, o[0], o[1], o[2]);
  });
}

int donchian_lookback(int period) {
  check_period("donchian", "period", period, 1);
  return period - 1;
}
void donchian(In high, In low, int period, Out upper, Out middle, Out lower) {
  donchian_lookback(period);
  check_lengths("donchian", {{"high", high.size()},
                             {"low", low.size()},
                             {"upper", upper.size()},
                             {"middle", middle.size()},
                             {"lower", lower.size()}});
  on_finite_runs<2, 3>({high, low}, {upper, middle, lower},
                       [=](auto i, auto o) { donchian_kernel(i[0], i[1], period, o[0], o[1], o[2]); });
}

int simple_return_lookback(int days) {
  check_period("simple_return", "days", days, 1);
  return days;
}
void simple_return(In close, int days, Out out) {
  simple_return_lookback(days);
  check_lengths("simple_return", {{"close", close.size()}, {"out", out.size()}});
  on_finite_runs<1, 1>({close}, {out}, [=](auto i, auto o) { return_kernel(i[0], days, false, o[0]); });
}

int log_return_lookback(int days) {
  check_period("log_return", "days", days, 1);
  return days;
}
void log_return(In close, int days, Out out) {
  log_return_lookback(days);
  check_lengths("log_return", {{"close", close.size()}, {"out", out.size()}});
  on_finite_runs<1, 1>({close}, {out}, [=](auto i, auto o) { return_kernel(i[0], days, true, o[0]); });
}

int rolling_volatility_lookback(int period) {
  check_period("rolling_volatility", "period", period, 2);
  return period;
}
void rolling_volatility(In close, int period, Out out) {
  rolling_volatility_lookback(period);
  check_lengths("rolling_volatility", {{"close", close.size()}, {"out", out.size()}});
  on_finite_runs<1, 1>({close}, {out},
                       [=](auto i, auto o) { rolling_volatility_kernel(i[0], period, o[0]); });
}

int rolling_beta_lookback(int period) {
  check_period("rolling_beta", "period", period, 2);
  return period;
}
void rolling_beta(In close, In benchmark_close, int period, Out out) {
  rolling_beta_lookback(period);
  check_lengths("rolling_beta",
                {{"close", close.size()}, {"benchmark_close", benchmark_close.size()}, {"out", out.size()}});
  on_finite_runs<2, 1>({close, benchmark_close}, {out},
                       [=](auto i, auto o) { rolling_comoment_kernel(i[0], i[1], period, false, o[0]); });
}

int rolling_correlation_lookback(int period) {
  check_period("rolling_correlation", "period", period, 2);
  return period;
}
void rolling_correlation(In close, In benchmark_close, int period, Out out) {
  rolling_correlation_lookback(period);
  check_lengths("rolling_correlation",
                {{"close", close.size()}, {"benchmark_close", benchmark_close.size()}, {"out", out.size()}});
  on_finite_runs<2, 1>({close, benchmark_close}, {out},
                       [=](auto i, auto o) { rolling_comoment_kernel(i[0], i[1], period, true, o[0]); });
}

int volume_zscore_lookback(int period) {
  check_period("volume_zscore", "period", period, 2);
  return period - 1;
}
void volume_zscore(In volume, int period, Out out) {
  volume_zscore_lookback(period);
  check_lengths("volume_zscore", {{"volume", volume.size()}, {"out", out.size()}});
  on_finite_runs<1, 1>({volume}, {out}, [=](auto i, auto o) { volume_zscore_kernel(i[0], period, o[0]); });
}

void cross_sectional_rank(In panel, std::size_t days, std::size_t tickers, Out out) {
  if (panel.size() != days * tickers)
    fail("cross_sectional_rank", "panel has " + std::to_string(panel.size()) +
                                     " values, expected days x tickers = " + std::to_string(days) + " x " +
                                     std::to_string(tickers));
  check_lengths("cross_sectional_rank", {{"panel", panel.size()}, {"out", out.size()}});
  std::vector<std::size_t> order(tickers);
  for (std::size_t d = 0; d < days; ++d) {
    const In row = panel.subspan(d * tickers, tickers);
    const Out ranks = out.subspan(d * tickers, tickers);
    std::size_t count = 0;
    for (std::size_t j = 0; j < tickers; ++j) {
      ranks[j] = kNaN;
      if (std::isfinite(row[j])) order[count++] = j;
    }
    std::sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(count),
              [&](std::size_t a, std::size_t b) { return row[a] < row[b]; });
    // Tied values share the mean of the 1-based ranks they span.
    for (std::size_t first = 0; first < count;) {
      std::size_t last = first;
      while (last + 1 < count && row[order[last + 1]] == row[order[first]]) ++last;
      const double rank = (static_cast<double>(first + 1) + static_cast<double>(last + 1)) / 2.0;
      for (std::size_t i = first; i <= last; ++i) ranks[order[i]] = rank / static_cast<double>(count);
      first = last + 1;
    }
  }
}

// ---- registry -----------------------------------------------------------------------------------------

namespace {

struct OutputInfo {
  const char* name;
  int lookback;
  const char* talib;
};

using GroupFn = void (*)(const Ohlcv&, In benchmark, std::span<const Out> outs);

// Indicators that share work are computed together (one group), each output still a registry entry.
struct Group {
  std::vector<OutputInfo> outputs;
  bool talib;
  bool needs_benchmark;
  GroupFn compute;
  bool skips_empty_outputs = false;  // compute() accepts empty spans for outputs nobody wants
};

const std::vector<Group>& groups() {
  static const std::vector<Group> table = [] {
    std::vector<Group> g;
    auto one = [&](const char* name, int lookback, const char* talib, GroupFn fn) {
      g.push_back({{{name, lookback, talib}}, *talib != '\0', false, fn});
    };
    // Moving averages and bands.
    one("sma_20", sma_lookback(20), "SMA",
        [](const Ohlcv& b, In, std::span<const Out> o) { sma(b.close, 20, o[0]); });
    one("ema_20", ema_lookback(20), "EMA",
        [](const Ohlcv& b, In, std::span<const Out> o) { ema(b.close, 20, o[0]); });
    one("wma_20", wma_lookback(20), "WMA",
        [](const Ohlcv& b, In, std::span<const Out> o) { wma(b.close, 20, o[0]); });
    one("dema_20", dema_lookback(20), "DEMA",
        [](const Ohlcv& b, In, std::span<const Out> o) { dema(b.close, 20, o[0]); });
    one("tema_20", tema_lookback(20), "TEMA",
        [](const Ohlcv& b, In, std::span<const Out> o) { tema(b.close, 20, o[0]); });
    one("trima_20", trima_lookback(20), "TRIMA",
        [](const Ohlcv& b, In, std::span<const Out> o) { trima(b.close, 20, o[0]); });
    one("kama_30", kama_lookback(30), "KAMA",
        [](const Ohlcv& b, In, std::span<const Out> o) { kama(b.close, 30, o[0]); });
    one("t3_5", t3_lookback(5), "T3",
        [](const Ohlcv& b, In, std::span<const Out> o) { t3(b.close, 5, 0.7, o[0]); });
    g.push_back({{{"bbands_upper_20", bbands_lookback(20), "BBANDS.upperband"},
                  {"bbands_middle_20", bbands_lookback(20), "BBANDS.middleband"},
                  {"bbands_lower_20", bbands_lookback(20), "BBANDS.lowerband"}},
                 true,
                 false,
                 [](const Ohlcv& b, In, std::span<const Out> o) {
                   bbands(b.close, 20, 2.0, 2.0, o[0], o[1], o[2]);
                 }});
    one("midprice_14", midprice_lookback(14), "MIDPRICE",
        [](const Ohlcv& b, In, std::span<const Out> o) { midprice(b.high, b.low, 14, o[0]); });
    // Momentum.
    const int macd_lb = macd_lookback(12, 26, 9);
    g.push_back(
        {{{"macd", macd_lb, "MACD.macd"},
          {"macd_signal", macd_lb, "MACD.macdsignal"},
          {"macd_hist", macd_lb, "MACD.macdhist"}},
         true,
         false,
         [](const Ohlcv& b, In, std::span<const Out> o) { macd(b.close, 12, 26, 9, o[0], o[1], o[2]); }});
    g.push_back({{{"apo_12_26", apo_lookback(12, 26), "APO"}, {"ppo_12_26", ppo_lookback(12, 26), "PPO"}},
                 true,
                 false,
                 [](const Ohlcv& b, In, std::span<const Out> o) {
                   on_finite_runs<1, 2>({b.close}, {o[0], o[1]}, [](auto i, auto r) {
                     price_oscillator_kernel(i[0], 12, 26, r[0], r[1]);
                   });
                 },
                 true});
    one("rsi_14", rsi_lookback(14), "RSI",
        [](const Ohlcv& b, In, std::span<const Out> o) { rsi(b.close, 14, o[0]); });
    one("cmo_14", cmo_lookback(14), "CMO",
        [](const Ohlcv& b, In, std::span<const Out> o) { cmo(b.close, 14, o[0]); });
    const int stoch_lb = stoch_lookback(5, 3, 3);
    g.push_back({{{"stoch_slowk", stoch_lb, "STOCH.slowk"}, {"stoch_slowd", stoch_lb, "STOCH.slowd"}},
                 true,
                 false,
                 [](const Ohlcv& b, In, std::span<const Out> o) {
                   stoch(b.high, b.low, b.close, 5, 3, 3, o[0], o[1]);
                 }});
    const int stochrsi_lb = stochrsi_lookback(14, 5, 3);
    g.push_back(
        {{{"stochrsi_fastk", stochrsi_lb, "STOCHRSI.fastk"},
          {"stochrsi_fastd", stochrsi_lb, "STOCHRSI.fastd"}},
         true,
         false,
         [](const Ohlcv& b, In, std::span<const Out> o) { stochrsi(b.close, 14, 5, 3, o[0], o[1]); }});
    one("willr_14", willr_lookback(14), "WILLR",
        [](const Ohlcv& b, In, std::span<const Out> o) { willr(b.high, b.low, b.close, 14, o[0]); });
    one("cci_14", cci_lookback(14), "CCI",
        [](const Ohlcv& b, In, std::span<const Out> o) { cci(b.high, b.low, b.close, 14, o[0]); });
    g.push_back({{{"plus_dm_14", plus_dm_lookback(14), "PLUS_DM"},
                  {"minus_dm_14", minus_dm_lookback(14), "MINUS_DM"},
                  {"plus_di_14", plus_di_lookback(14), "PLUS_DI"},
                  {"minus_di_14", minus_di_lookback(14), "MINUS_DI"},
                  {"dx_14", dx_lookback(14), "DX"},
                  {"adx_14", adx_lookback(14), "ADX"},
                  {"adxr_14", adxr_lookback(14), "ADXR"}},
                 true,
                 false,
                 [](const Ohlcv& b, In, std::span<const Out> o) {
                   // One Wilder pass gives the whole family.
                   on_finite_runs<3, 7>(
                       {b.high, b.low, b.close}, {o[0], o[1], o[2], o[3], o[4], o[5], o[6]},
                       [](auto i, auto r) {
                         directional_kernel(i[0], i[1], i[2], 14, {r[0], r[1], r[2], r[3], r[4], r[5], r[6]});
                       });
                 },
                 true});
    g.push_back({{{"aroon_down_14", aroon_lookback(14), "AROON.aroondown"},
                  {"aroon_up_14", aroon_lookback(14), "AROON.aroonup"},
                  {"aroonosc_14", aroonosc_lookback(14), "AROONOSC"}},
                 true,
                 false,
                 [](const Ohlcv& b, In, std::span<const Out> o) {
                   // One pass gives all three (TA-Lib's AROONOSC runs the same tracking).
                   on_finite_runs<2, 3>({b.high, b.low}, {o[0], o[1], o[2]}, [](auto i, auto r) {
                     aroon_kernel(i[0], i[1], 14, r[0], r[1], r[2]);
                   });
                 },
                 true});
    one("mfi_14", mfi_lookback(14), "MFI",
        [](const Ohlcv& b, In, std::span<const Out> o) { mfi(b.high, b.low, b.close, b.volume, 14, o[0]); });
    one("roc_10", roc_lookback(10), "ROC",
        [](const Ohlcv& b, In, std::span<const Out> o) { roc(b.close, 10, o[0]); });
    one("rocp_10", rocp_lookback(10), "ROCP",
        [](const Ohlcv& b, In, std::span<const Out> o) { rocp(b.close, 10, o[0]); });
    one("mom_10", mom_lookback(10), "MOM",
        [](const Ohlcv& b, In, std::span<const Out> o) { mom(b.close, 10, o[0]); });
    one("trix_15", trix_lookback(15), "TRIX",
        [](const Ohlcv& b, In, std::span<const Out> o) { trix(b.close, 15, o[0]); });
    one("ultosc_7_14_28", ultosc_lookback(7, 14, 28), "ULTOSC",
        [](const Ohlcv& b, In, std::span<const Out> o) { ultosc(b.high, b.low, b.close, 7, 14, 28, o[0]); });
    one("bop", bop_lookback(), "BOP",
        [](const Ohlcv& b, In, std::span<const Out> o) { bop(b.open, b.high, b.low, b.close, o[0]); });
    // Volume.
    one("obv", obv_lookback(), "OBV",
        [](const Ohlcv& b, In, std::span<const Out> o) { obv(b.close, b.volume, o[0]); });
    one("ad", ad_lookback(), "AD",
        [](const Ohlcv& b, In, std::span<const Out> o) { ad(b.high, b.low, b.close, b.volume, o[0]); });
    one("adosc_3_10", adosc_lookback(3, 10), "ADOSC", [](const Ohlcv& b, In, std::span<const Out> o) {
      adosc(b.high, b.low, b.close, b.volume, 3, 10, o[0]);
    });
    // Volatility and statistics.
    one("trange", trange_lookback(), "TRANGE",
        [](const Ohlcv& b, In, std::span<const Out> o) { trange(b.high, b.low, b.close, o[0]); });
    one("atr_14", atr_lookback(14), "ATR",
        [](const Ohlcv& b, In, std::span<const Out> o) { atr(b.high, b.low, b.close, 14, o[0]); });
    one("natr_14", natr_lookback(14), "NATR",
        [](const Ohlcv& b, In, std::span<const Out> o) { natr(b.high, b.low, b.close, 14, o[0]); });
    one("stddev_20", stddev_lookback(20), "STDDEV",
        [](const Ohlcv& b, In, std::span<const Out> o) { stddev(b.close, 20, 1.0, o[0]); });
    one("linearreg_slope_14", linearreg_slope_lookback(14), "LINEARREG_SLOPE",
        [](const Ohlcv& b, In, std::span<const Out> o) { linearreg_slope(b.close, 14, o[0]); });
    one("typprice", typprice_lookback(), "TYPPRICE",
        [](const Ohlcv& b, In, std::span<const Out> o) { typprice(b.high, b.low, b.close, o[0]); });
    // Ours.
    const int keltner_lb = keltner_lookback(20, 10);
    g.push_back({{{"keltner_upper_20", keltner_lb, ""},
                  {"keltner_middle_20", keltner_lb, ""},
                  {"keltner_lower_20", keltner_lb, ""}},
                 false,
                 false,
                 [](const Ohlcv& b, In, std::span<const Out> o) {
                   keltner(b.high, b.low, b.close, 20, 10, 2.0, o[0], o[1], o[2]);
                 }});
    const int donchian_lb = donchian_lookback(20);
    g.push_back(
        {{{"donchian_upper_20", donchian_lb, ""},
          {"donchian_middle_20", donchian_lb, ""},
          {"donchian_lower_20", donchian_lb, ""}},
         false,
         false,
         [](const Ohlcv& b, In, std::span<const Out> o) { donchian(b.high, b.low, 20, o[0], o[1], o[2]); }});
    one("ret_1", simple_return_lookback(1), "",
        [](const Ohlcv& b, In, std::span<const Out> o) { simple_return(b.close, 1, o[0]); });
    one("ret_5", simple_return_lookback(5), "",
        [](const Ohlcv& b, In, std::span<const Out> o) { simple_return(b.close, 5, o[0]); });
    one("ret_20", simple_return_lookback(20), "",
        [](const Ohlcv& b, In, std::span<const Out> o) { simple_return(b.close, 20, o[0]); });
    one("logret_1", log_return_lookback(1), "",
        [](const Ohlcv& b, In, std::span<const Out> o) { log_return(b.close, 1, o[0]); });
    one("logret_5", log_return_lookback(5), "",
        [](const Ohlcv& b, In, std::span<const Out> o) { log_return(b.close, 5, o[0]); });
    one("logret_20", log_return_lookback(20), "",
        [](const Ohlcv& b, In, std::span<const Out> o) { log_return(b.close, 20, o[0]); });
    one("rvol_20", rolling_volatility_lookback(20), "",
        [](const Ohlcv& b, In, std::span<const Out> o) { rolling_volatility(b.close, 20, o[0]); });
    g.push_back(
        {{{"beta_60", rolling_beta_lookback(60), ""}},
         false,
         true,
         [](const Ohlcv& b, In bench, std::span<const Out> o) { rolling_beta(b.close, bench, 60, o[0]); }});
    g.push_back({{{"corr_60", rolling_correlation_lookback(60), ""}},
                 false,
                 true,
                 [](const Ohlcv& b, In bench, std::span<const Out> o) {
                   rolling_correlation(b.close, bench, 60, o[0]);
                 }});
    one("volume_z_20", volume_zscore_lookback(20), "",
        [](const Ohlcv& b, In, std::span<const Out> o) { volume_zscore(b.volume, 20, o[0]); });
    return g;
  }();
  return table;
}

void check_bars(const char* fn, const Ohlcv& bars, In benchmark) {
  check_lengths(fn, {{"close", bars.close.size()},
                     {"open", bars.open.size()},
                     {"high", bars.high.size()},
                     {"low", bars.low.size()},
                     {"volume", bars.volume.size()}});
  if (!benchmark.empty() && benchmark.size() != bars.close.size())
    fail(fn, "benchmark_close has " + std::to_string(benchmark.size()) + " values but close has " +
                 std::to_string(bars.close.size()) + " (pass an empty span for none)");
}

void run_group(const Group& group, const Ohlcv& bars, In benchmark, std::span<const Out> outs) {
  if (group.needs_benchmark && benchmark.empty()) {
    for (Out o : outs) std::fill(o.begin(), o.end(), kNaN);
    return;
  }
  group.compute(bars, benchmark, outs);
}

}  // namespace

std::vector<IndicatorSpec> all_indicators() {
  std::vector<IndicatorSpec> specs;
  for (const Group& group : groups()) {
    for (std::size_t k = 0; k < group.outputs.size(); ++k) {
      const OutputInfo& info = group.outputs[k];
      specs.push_back(
          {info.name, info.lookback, info.talib, group.needs_benchmark,
           [&group, k](const Ohlcv& bars, In benchmark, Out out) {
             check_bars("all_indicators", bars, benchmark);
             check_lengths(group.outputs[k].name, {{"close", bars.close.size()}, {"out", out.size()}});
             // The other outputs of the group are skipped where the group can, else go to scratch.
             std::vector<double> scratch(group.skips_empty_outputs ? 0 : group.outputs.size() * out.size());
             std::vector<Out> outs;
             for (std::size_t j = 0; j < group.outputs.size(); ++j)
               outs.push_back(j == k                      ? out
                              : group.skips_empty_outputs ? Out{}
                                                          : Out(scratch).subspan(j * out.size(), out.size()));
             run_group(group, bars, benchmark, outs);
           }});
    }
  }
  return specs;
}

std::size_t indicator_count() {
  std::size_t count = 0;
  for (const Group& group : groups()) count += group.outputs.size();
  return count;
}

void compute_all(const Ohlcv& bars, In benchmark_close, Out out, IndicatorSet set) {
  check_bars("compute_all", bars, benchmark_close);
  const std::size_t days = bars.close.size();
  if (out.size() != indicator_count() * days)
    fail("compute_all", "out has " + std::to_string(out.size()) + " values, expected " +
                            std::to_string(indicator_count()) + " outputs x " + std::to_string(days) +
                            " days");
  bool finite = all_finite(bars.open) && all_finite(bars.high) && all_finite(bars.low) &&
                all_finite(bars.close) && all_finite(bars.volume) && all_finite(benchmark_close);
  const InputsKnownFinite known(finite);
  std::size_t row = 0;
  std::array<Out, 8> outs;
  for (const Group& group : groups()) {
    const std::size_t n = group.outputs.size();
    for (std::size_t j = 0; j < n; ++j) outs[j] = out.subspan((row + j) * days, days);
    const std::span<const Out> rows(outs.data(), n);
    if (set == IndicatorSet::talib_only && !group.talib)
      for (Out o : rows) std::fill(o.begin(), o.end(), kNaN);
    else
      run_group(group, bars, benchmark_close, rows);
    row += n;
  }
}

std::vector<std::vector<double>> compute_all(const Ohlcv& bars, In benchmark_close) {
  const std::size_t days = bars.close.size();
  std::vector<double> flat(indicator_count() * days);
  compute_all(bars, benchmark_close, flat);
  std::vector<std::vector<double>> rows(indicator_count());
  for (std::size_t i = 0; i < rows.size(); ++i)
    rows[i].assign(flat.begin() + static_cast<std::ptrdiff_t>(i * days),
                   flat.begin() + static_cast<std::ptrdiff_t>((i + 1) * days));
  return rows;
}

}  // namespace qf::quant::ta
