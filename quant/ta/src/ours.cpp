// Our own indicators (not in TA-Lib; the reference is pandas): Keltner and Donchian channels, returns,
// rolling volatility, beta and correlation against a benchmark, volume z-score, and the cross-sectional
// rank of a panel. Per indicator: its kernel (finite input, outputs as long as the inputs), its lookback
// and its public function (check the arguments, then run the kernel on each finite run); the family's
// registry rows at the end.
#include "qf/quant/ta/ours.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "internal.h"

namespace qf::quant::ta {

using namespace detail;  // the shared machinery of internal.h

namespace {

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

}  // namespace

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

namespace {

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

}  // namespace

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

namespace {

void return_kernel(In close, int days, bool log, Out out) {
  const auto d = static_cast<std::size_t>(days);
  if (!begin_output(out, d)) return;
  for (std::size_t t = d; t < close.size(); ++t)
    out[t] = log ? std::log(close[t] / close[t - d]) : close[t] / close[t - d] - 1.0;
}

}  // namespace

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

namespace {

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

}  // namespace

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

namespace {

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

}  // namespace

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

namespace {

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

// ---- the family's registry rows, in their fixed order (rows of compute_all) -------------------------------

void detail::add_ours_groups(std::vector<Group>& g) {
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
  add_one(g, "ret_1", simple_return_lookback(1), "",
          [](const Ohlcv& b, In, std::span<const Out> o) { simple_return(b.close, 1, o[0]); });
  add_one(g, "ret_5", simple_return_lookback(5), "",
          [](const Ohlcv& b, In, std::span<const Out> o) { simple_return(b.close, 5, o[0]); });
  add_one(g, "ret_20", simple_return_lookback(20), "",
          [](const Ohlcv& b, In, std::span<const Out> o) { simple_return(b.close, 20, o[0]); });
  add_one(g, "logret_1", log_return_lookback(1), "",
          [](const Ohlcv& b, In, std::span<const Out> o) { log_return(b.close, 1, o[0]); });
  add_one(g, "logret_5", log_return_lookback(5), "",
          [](const Ohlcv& b, In, std::span<const Out> o) { log_return(b.close, 5, o[0]); });
  add_one(g, "logret_20", log_return_lookback(20), "",
          [](const Ohlcv& b, In, std::span<const Out> o) { log_return(b.close, 20, o[0]); });
  add_one(g, "rvol_20", rolling_volatility_lookback(20), "",
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
  add_one(g, "volume_z_20", volume_zscore_lookback(20), "",
          [](const Ohlcv& b, In, std::span<const Out> o) { volume_zscore(b.volume, 20, o[0]); });
}

}  // namespace qf::quant::ta
