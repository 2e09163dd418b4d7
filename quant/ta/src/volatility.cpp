// Volatility and statistics (TA-Lib's volatility, statistic and price-transform functions we use): true
// range, ATR, NATR, standard deviation, linear-regression slope, typical price. Per indicator: its kernel
// (finite input, outputs as long as the inputs), its lookback and its public function (check the
// arguments, then run the kernel on each finite run); the family's registry rows at the end. How the
// TA-Lib ones follow TA-Lib: internal.h.
#include "qf/quant/ta/volatility.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "internal.h"

namespace qf::quant::ta {

using namespace detail;  // the shared machinery of internal.h

namespace {

void trange_kernel(In high, In low, In close, Out out) {
  if (!begin_output(out, 1)) return;
  for (std::size_t t = 1; t < close.size(); ++t) out[t] = true_range(high, low, close, t);
}

}  // namespace

int trange_lookback() {
  return 1;
}
void trange(In high, In low, In close, Out out) {
  check_lengths("trange",
                {{"high", high.size()}, {"low", low.size()}, {"close", close.size()}, {"out", out.size()}});
  on_finite_runs<3, 1>({high, low, close}, {out},
                       [=](auto i, auto o) { trange_kernel(i[0], i[1], i[2], o[0]); });
}

// TA-Lib 0.8's ATR: seeded with the mean of the first `period` true ranges, then
// atr = fma(atr, (period - 1) / period, tr (1 - (period - 1) / period)). `per_close` gives NATR.
void detail::atr_kernel(In high, In low, In close, int period, bool per_close, Out out) {
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

// Population variance of each window as TA-Lib 0.8's VAR computes it: running sums of x - K and
// (x - K)^2 around a reference K (at first the first value), multiplied by 1/period. When the result
// loses too many digits to cancellation (variance below 1e-6 of the mean square, or the value leaving
// the window above 1e6 times the remaining sum of squares), and anyway every 32 periods, K becomes
// the window mean and the sums are recomputed; a recomputed variance below 1e-12 of the mean square
// is taken as 0.
void detail::variance_kernel(In x, int period, Out out) {
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

namespace {

void stddev_kernel(In x, int period, double nbdev, Out out) {
  variance_kernel(x, period, out);
  for (std::size_t i = static_cast<std::size_t>(period - 1); i < out.size(); ++i)
    out[i] = nbdev == 1.0 ? std::sqrt(out[i]) : std::sqrt(out[i]) * nbdev;
}

}  // namespace

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

namespace {

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

}  // namespace

int linearreg_slope_lookback(int period) {
  check_period("linearreg_slope", "period", period, 2);
  return period - 1;
}
void linearreg_slope(In in, int period, Out out) {
  linearreg_slope_lookback(period);
  check_lengths("linearreg_slope", {{"in", in.size()}, {"out", out.size()}});
  on_finite_runs<1, 1>({in}, {out}, [=](auto i, auto o) { linearreg_slope_kernel(i[0], period, o[0]); });
}

void detail::typprice_kernel(In high, In low, In close, Out out) {
  for (std::size_t t = 0; t < close.size(); ++t) out[t] = (high[t] + low[t] + close[t]) / 3.0;
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

// ---- the family's registry rows, in their fixed order (rows of compute_all) -------------------------------

void detail::add_volatility_groups(std::vector<Group>& g) {
  add_one(g, "trange", trange_lookback(), "TRANGE",
          [](const Ohlcv& b, In, std::span<const Out> o) { trange(b.high, b.low, b.close, o[0]); });
  add_one(g, "atr_14", atr_lookback(14), "ATR",
          [](const Ohlcv& b, In, std::span<const Out> o) { atr(b.high, b.low, b.close, 14, o[0]); });
  add_one(g, "natr_14", natr_lookback(14), "NATR",
          [](const Ohlcv& b, In, std::span<const Out> o) { natr(b.high, b.low, b.close, 14, o[0]); });
  add_one(g, "stddev_20", stddev_lookback(20), "STDDEV",
          [](const Ohlcv& b, In, std::span<const Out> o) { stddev(b.close, 20, 1.0, o[0]); });
  add_one(g, "linearreg_slope_14", linearreg_slope_lookback(14), "LINEARREG_SLOPE",
          [](const Ohlcv& b, In, std::span<const Out> o) { linearreg_slope(b.close, 14, o[0]); });
  add_one(g, "typprice", typprice_lookback(), "TYPPRICE",
          [](const Ohlcv& b, In, std::span<const Out> o) { typprice(b.high, b.low, b.close, o[0]); });
}

}  // namespace qf::quant::ta
