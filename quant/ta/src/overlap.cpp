// Overlap studies: moving averages, Bollinger bands, midprice. Per indicator: its kernel (finite input,
// outputs as long as the inputs), its lookback and its public function (check the arguments, then run
// the kernel on each finite run); the family's registry rows at the end. How the TA-Lib ones follow
// TA-Lib: internal.h.
#include "qf/quant/ta/overlap.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <vector>

#include "internal.h"

namespace qf::quant::ta {

using namespace detail;  // the shared machinery of internal.h

void detail::sma_kernel(In x, int period, Out out) {
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

int sma_lookback(int period) {
  check_period("sma", "period", period, 1);
  return period - 1;
}
void sma(In in, int period, Out out) {
  sma_lookback(period);
  check_lengths("sma", {{"in", in.size()}, {"out", out.size()}});
  on_finite_runs<1, 1>({in}, {out}, [=](auto i, auto o) { sma_kernel(i[0], period, o[0]); });
}

// TA-Lib 0.8's EMA: seeded at period - 1 with the mean of the first `period` values, then
// e = fma(x - e, k, e) with k = 2 / (period + 1). TA-Lib returns the input unchanged for period 1.
void detail::ema_kernel(In x, int period, Out out) {
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

int ema_lookback(int period) {
  check_period("ema", "period", period, 1);
  return period - 1;
}
void ema(In in, int period, Out out) {
  ema_lookback(period);
  check_lengths("ema", {{"in", in.size()}, {"out", out.size()}});
  on_finite_runs<1, 1>({in}, {out}, [=](auto i, auto o) { ema_kernel(i[0], period, o[0]); });
}

namespace {

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

}  // namespace

int wma_lookback(int period) {
  check_period("wma", "period", period, 1);
  return period - 1;
}
void wma(In in, int period, Out out) {
  wma_lookback(period);
  check_lengths("wma", {{"in", in.size()}, {"out", out.size()}});
  on_finite_runs<1, 1>({in}, {out}, [=](auto i, auto o) { wma_kernel(i[0], period, o[0]); });
}

namespace {

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

}  // namespace

int dema_lookback(int period) {
  check_period("dema", "period", period, 1);
  return 2 * (period - 1);
}
void dema(In in, int period, Out out) {
  dema_lookback(period);
  check_lengths("dema", {{"in", in.size()}, {"out", out.size()}});
  on_finite_runs<1, 1>({in}, {out}, [=](auto i, auto o) { dema_kernel(i[0], period, o[0]); });
}

namespace {

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

}  // namespace

int tema_lookback(int period) {
  check_period("tema", "period", period, 1);
  return 3 * (period - 1);
}
void tema(In in, int period, Out out) {
  tema_lookback(period);
  check_lengths("tema", {{"in", in.size()}, {"out", out.size()}});
  on_finite_runs<1, 1>({in}, {out}, [=](auto i, auto o) { tema_kernel(i[0], period, o[0]); });
}

namespace {

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

}  // namespace

int trima_lookback(int period) {
  check_period("trima", "period", period, 1);
  return period - 1;
}
void trima(In in, int period, Out out) {
  trima_lookback(period);
  check_lengths("trima", {{"in", in.size()}, {"out", out.size()}});
  on_finite_runs<1, 1>({in}, {out}, [=](auto i, auto o) { trima_kernel(i[0], period, o[0]); });
}

namespace {

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

}  // namespace

int kama_lookback(int period) {
  check_period("kama", "period", period, 1);
  return period == 1 ? 0 : period;
}
void kama(In in, int period, Out out) {
  kama_lookback(period);
  check_lengths("kama", {{"in", in.size()}, {"out", out.size()}});
  on_finite_runs<1, 1>({in}, {out}, [=](auto i, auto o) { kama_kernel(i[0], period, o[0]); });
}

namespace {

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

}  // namespace

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

namespace {

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

}  // namespace

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

namespace {

void midprice_kernel(In high, In low, int period, Out out) {
  const auto p = static_cast<std::size_t>(period);
  if (!begin_output(out, p - 1)) return;
  std::vector<double> highest(high.size()), lowest(high.size());
  rolling_extreme<true>(high, p, highest);
  rolling_extreme<false>(low, p, lowest);
  for (std::size_t t = p - 1; t < high.size(); ++t) out[t] = (highest[t] + lowest[t]) / 2.0;
}

}  // namespace

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

// ---- the family's registry rows, in their fixed order (rows of compute_all) -------------------------------

void detail::add_overlap_groups(std::vector<Group>& g) {
  add_one(g, "sma_20", sma_lookback(20), "SMA",
          [](const Ohlcv& b, In, std::span<const Out> o) { sma(b.close, 20, o[0]); });
  add_one(g, "ema_20", ema_lookback(20), "EMA",
          [](const Ohlcv& b, In, std::span<const Out> o) { ema(b.close, 20, o[0]); });
  add_one(g, "wma_20", wma_lookback(20), "WMA",
          [](const Ohlcv& b, In, std::span<const Out> o) { wma(b.close, 20, o[0]); });
  add_one(g, "dema_20", dema_lookback(20), "DEMA",
          [](const Ohlcv& b, In, std::span<const Out> o) { dema(b.close, 20, o[0]); });
  add_one(g, "tema_20", tema_lookback(20), "TEMA",
          [](const Ohlcv& b, In, std::span<const Out> o) { tema(b.close, 20, o[0]); });
  add_one(g, "trima_20", trima_lookback(20), "TRIMA",
          [](const Ohlcv& b, In, std::span<const Out> o) { trima(b.close, 20, o[0]); });
  add_one(g, "kama_30", kama_lookback(30), "KAMA",
          [](const Ohlcv& b, In, std::span<const Out> o) { kama(b.close, 30, o[0]); });
  add_one(g, "t3_5", t3_lookback(5), "T3",
          [](const Ohlcv& b, In, std::span<const Out> o) { t3(b.close, 5, 0.7, o[0]); });
  g.push_back(
      {{{"bbands_upper_20", bbands_lookback(20), "BBANDS.upperband"},
        {"bbands_middle_20", bbands_lookback(20), "BBANDS.middleband"},
        {"bbands_lower_20", bbands_lookback(20), "BBANDS.lowerband"}},
       true,
       false,
       [](const Ohlcv& b, In, std::span<const Out> o) { bbands(b.close, 20, 2.0, 2.0, o[0], o[1], o[2]); }});
  add_one(g, "midprice_14", midprice_lookback(14), "MIDPRICE",
          [](const Ohlcv& b, In, std::span<const Out> o) { midprice(b.high, b.low, 14, o[0]); });
}

}  // namespace qf::quant::ta
