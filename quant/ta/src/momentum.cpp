// Momentum indicators (TA-Lib's momentum group): MACD, APO/PPO, RSI, CMO, the stochastics, Williams %R,
// CCI, Wilder's directional movement, Aroon, MFI, ROC/ROCP/MOM, TRIX, ULTOSC, BOP. Per indicator: its
// kernel (finite input, outputs as long as the inputs), its lookback and its public function (check the
// arguments, then run the kernel on each finite run); the family's registry rows at the end. How the
// TA-Lib ones follow TA-Lib: internal.h.
#include "qf/quant/ta/momentum.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <utility>
#include <vector>

#include "internal.h"

namespace qf::quant::ta {

using namespace detail;  // the shared machinery of internal.h

namespace {

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

}  // namespace

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

namespace {

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

}  // namespace

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

namespace {

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

}  // namespace

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

namespace {

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

}  // namespace

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

namespace {

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

}  // namespace

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

namespace {

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

}  // namespace

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

namespace {

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

}  // namespace

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

// ---- Wilder's directional movement ----

namespace {

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

}  // namespace

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

namespace {

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

}  // namespace

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

namespace {

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

}  // namespace

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

namespace {

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

}  // namespace

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

namespace {

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

}  // namespace

int trix_lookback(int period) {
  check_period("trix", "period", period, 1);
  return 3 * (period - 1) + 1;
}
void trix(In close, int period, Out out) {
  trix_lookback(period);
  check_lengths("trix", {{"close", close.size()}, {"out", out.size()}});
  on_finite_runs<1, 1>({close}, {out}, [=](auto i, auto o) { trix_kernel(i[0], period, o[0]); });
}

namespace {

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

}  // namespace

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

namespace {

void bop_kernel(In open, In high, In low, In close, Out out) {
  for (std::size_t t = 0; t < close.size(); ++t) {
    const double range = high[t] - low[t];
    out[t] = ta_is_zero_or_neg(range) ? 0.0 : (close[t] - open[t]) / range;
  }
}

}  // namespace

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

// ---- the family's registry rows, in their fixed order (rows of compute_all) -------------------------------

void detail::add_momentum_groups(std::vector<Group>& g) {
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
  add_one(g, "rsi_14", rsi_lookback(14), "RSI",
          [](const Ohlcv& b, In, std::span<const Out> o) { rsi(b.close, 14, o[0]); });
  add_one(g, "cmo_14", cmo_lookback(14), "CMO",
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
      {{{"stochrsi_fastk", stochrsi_lb, "STOCHRSI.fastk"}, {"stochrsi_fastd", stochrsi_lb, "STOCHRSI.fastd"}},
       true,
       false,
       [](const Ohlcv& b, In, std::span<const Out> o) { stochrsi(b.close, 14, 5, 3, o[0], o[1]); }});
  add_one(g, "willr_14", willr_lookback(14), "WILLR",
          [](const Ohlcv& b, In, std::span<const Out> o) { willr(b.high, b.low, b.close, 14, o[0]); });
  add_one(g, "cci_14", cci_lookback(14), "CCI",
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
                 on_finite_runs<2, 3>({b.high, b.low}, {o[0], o[1], o[2]},
                                      [](auto i, auto r) { aroon_kernel(i[0], i[1], 14, r[0], r[1], r[2]); });
               },
               true});
  add_one(g, "mfi_14", mfi_lookback(14), "MFI", [](const Ohlcv& b, In, std::span<const Out> o) {
    mfi(b.high, b.low, b.close, b.volume, 14, o[0]);
  });
  add_one(g, "roc_10", roc_lookback(10), "ROC",
          [](const Ohlcv& b, In, std::span<const Out> o) { roc(b.close, 10, o[0]); });
  add_one(g, "rocp_10", rocp_lookback(10), "ROCP",
          [](const Ohlcv& b, In, std::span<const Out> o) { rocp(b.close, 10, o[0]); });
  add_one(g, "mom_10", mom_lookback(10), "MOM",
          [](const Ohlcv& b, In, std::span<const Out> o) { mom(b.close, 10, o[0]); });
  add_one(g, "trix_15", trix_lookback(15), "TRIX",
          [](const Ohlcv& b, In, std::span<const Out> o) { trix(b.close, 15, o[0]); });
  add_one(
      g, "ultosc_7_14_28", ultosc_lookback(7, 14, 28), "ULTOSC",
      [](const Ohlcv& b, In, std::span<const Out> o) { ultosc(b.high, b.low, b.close, 7, 14, 28, o[0]); });
  add_one(g, "bop", bop_lookback(), "BOP",
          [](const Ohlcv& b, In, std::span<const Out> o) { bop(b.open, b.high, b.low, b.close, o[0]); });
}

}  // namespace qf::quant::ta
