// The toy indicator of toy_indicator.h, in the recipe's order: kernel, lookback, public function,
// registration.
#include "toy_indicator.h"

#include <cmath>
#include <cstddef>
#include <limits>
#include <stdexcept>
#include <string>

#include "qf/quant/ta/registry.h"

namespace toy {

namespace {

// One pass with running counts over the window of changes (t - period, t]: the rises, and the changes
// that touch a non-finite close (any makes the output NaN).
void up_day_share_kernel(std::span<const double> close, int period, std::span<double> out) {
  const auto p = static_cast<std::size_t>(period);
  auto rise = [&](std::size_t s) { return close[s] > close[s - 1] ? 1u : 0u; };
  auto bad = [&](std::size_t s) { return std::isfinite(close[s]) && std::isfinite(close[s - 1]) ? 0u : 1u; };
  std::size_t rises = 0, bad_changes = 0;
  for (std::size_t t = 0; t < close.size(); ++t) {
    if (t >= 1) {
      rises += rise(t);
      bad_changes += bad(t);
    }
    if (t >= p + 1) {  // change t - period leaves the window
      rises -= rise(t - p);
      bad_changes -= bad(t - p);
    }
    out[t] = t < p || bad_changes > 0 ? std::numeric_limits<double>::quiet_NaN()
                                      : static_cast<double>(rises) / static_cast<double>(period);
  }
}

}  // namespace

int up_day_share_lookback(int period) {
  if (period < 1)
    throw std::invalid_argument("toy::up_day_share: period must be >= 1, got " + std::to_string(period));
  return period;
}

void up_day_share(std::span<const double> close, int period, std::span<double> out) {
  up_day_share_lookback(period);
  if (out.size() != close.size())
    throw std::invalid_argument("toy::up_day_share: out has " + std::to_string(out.size()) +
                                " values but close has " + std::to_string(close.size()));
  up_day_share_kernel(close, period, out);
}

// The registry row, after the built-in rows in every program that links this file. Nothing references
// this object, which is why the file is linked as an object (qf_add_indicators), never from a plain
// static library (registry.h).
const qf::quant::ta::IndicatorRegistration kUpDayShare20({
    .name = "up_day_share_20",
    .lookback = up_day_share_lookback(20),
    .talib = "",  // no TA-Lib counterpart
    .needs_benchmark = false,
    .compute = [](const qf::quant::ta::Ohlcv& bars, std::span<const double>,
                  std::span<double> out) { up_day_share(bars.close, 20, out); },
});

}  // namespace toy
