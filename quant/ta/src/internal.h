// Internal to qf_quant_ta (in src/, on no include path: its neighbours include it as "internal.h"):
// what the family files (overlap.cpp, momentum.cpp, volume.cpp, volatility.cpp, ours.cpp) and
// registry.cpp share. The aliases and constants, TA-Lib's zero tests, the argument checks,
// on_finite_runs (the NaN rule of indicators.h), the rolling extremes, the kernels one family borrows
// from another, and the registry's Group type with the function of each family that appends its rows.
//
// The TA-Lib indicators follow TA-Lib 0.8's C code operation by operation (same summation order, same
// divisions, std::fma exactly where TA-Lib 0.8 uses fma), because a different but equally good order
// changes the last bits, and near a zero crossing (MACD histogram, ADOSC, momentum) that is a large
// relative difference. Comments say where TA-Lib's choices are unusual. A kernel takes finite input and
// writes outputs as long as its inputs; the public function checks the arguments and runs it on each
// finite run.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <initializer_list>
#include <limits>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "qf/quant/ta/registry.h"

namespace qf::quant::ta::detail {

using In = std::span<const double>;
using Out = std::span<double>;

inline constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
inline constexpr int kMaxPeriod = 100000;  // TA-Lib's upper bound for every period

// TA-Lib 0.8's zero tests (TA_IS_ZERO, TA_IS_ZERO_OR_NEG with TA_EPSILON = 1e-14).
inline constexpr double kTaEpsilon = 1e-14;
inline bool ta_is_zero(double v) {
  return -kTaEpsilon < v && v < kTaEpsilon;
}
inline bool ta_is_zero_or_neg(double v) {
  return v < kTaEpsilon;
}
// TA-Lib 0.8's zero test for a difference of two values (TA_IS_ZERO_SCALED): within 1e-14 of their size.
inline bool negligible_difference(double difference, double a, double b) {
  return std::fabs(difference) <= kTaEpsilon * (std::fabs(a) + std::fabs(b));
}

// ---- argument checks ------------------------------------------------------------------------------------

[[noreturn]] inline void fail(const char* fn, const std::string& what) {
  throw std::invalid_argument(std::string("ta::") + fn + ": " + what);
}

inline void check_period(const char* fn, const char* name, int value, int min) {
  if (value < min || value > kMaxPeriod)
    fail(fn, std::string(name) + " must be in [" + std::to_string(min) + ", " + std::to_string(kMaxPeriod) +
                 "], got " + std::to_string(value));
}

inline void check_factor(const char* fn, const char* name, double value, double min, double max) {
  if (!(value >= min && value <= max))
    fail(fn, std::string(name) + " must be in [" + std::to_string(min) + ", " + std::to_string(max) +
                 "], got " + std::to_string(value));
}

struct Named {
  const char* name;
  std::size_t size;
};

inline void check_lengths(const char* fn, std::initializer_list<Named> spans) {
  const Named& first = *spans.begin();
  for (const Named& s : spans)
    if (s.size != first.size)
      fail(fn, std::string(s.name) + " has " + std::to_string(s.size) + " values but " + first.name +
                   " has " + std::to_string(first.size));
}

// ---- runs of finite input -------------------------------------------------------------------------------

inline bool all_finite(In x) {
  // Counting instead of an early exit lets the loop vectorise; v - v is NaN exactly for NaN and inf.
  std::size_t bad = 0;
  for (double v : x) bad += !(v - v == 0.0);
  return bad == 0;
}

// Set while compute_all runs on bars it has found all finite, so that the ~45 indicators it calls do not
// scan the same inputs again (re-scanning took a sixth of compute_all's time). Per thread: callers may run
// compute_all on several threads.
inline thread_local bool t_inputs_known_finite = false;

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
// spans cut to that run, and writes NaN to the outputs of the other rows (the NaN rule of indicators.h).
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
inline bool begin_output(Out out, std::size_t lookback) {
  std::fill_n(out.begin(), std::min(lookback, out.size()), kNaN);
  return out.size() > lookback;
}

inline void copy_from(In x, std::size_t first, Out out) {
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

// ---- kernels one family borrows from another (finite input, outputs as long as the inputs) -------------

// True range of bar t (t >= 1) in TA-Lib's comparison order.
inline double true_range(In high, In low, In close, std::size_t t) {
  double range = high[t] - low[t];
  const double to_high = std::fabs(high[t] - close[t - 1]);
  if (to_high > range) range = to_high;
  const double to_low = std::fabs(low[t] - close[t - 1]);
  if (to_low > range) range = to_low;
  return range;
}

// Defined in overlap.cpp.
void sma_kernel(In x, int period, Out out);
void ema_kernel(In x, int period, Out out);
// Defined in volatility.cpp (`per_close` gives NATR).
void atr_kernel(In high, In low, In close, int period, bool per_close, Out out);
void variance_kernel(In x, int period, Out out);
void typprice_kernel(In high, In low, In close, Out out);

// ---- registry rows ---------------------------------------------------------------------------------------

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

// A group of one output, as most indicators are; a TA-Lib output when `talib` is not empty.
inline void add_one(std::vector<Group>& groups, const char* name, int lookback, const char* talib,
                    GroupFn compute) {
  groups.push_back({{{name, lookback, talib}}, *talib != '\0', false, compute});
}

// Each appends its family's groups in their fixed order; defined at the end of <family>.cpp and called
// by registry.cpp in the registry's order.
void add_overlap_groups(std::vector<Group>& groups);
void add_momentum_groups(std::vector<Group>& groups);
void add_volume_groups(std::vector<Group>& groups);
void add_volatility_groups(std::vector<Group>& groups);
void add_ours_groups(std::vector<Group>& groups);

}  // namespace qf::quant::ta::detail
