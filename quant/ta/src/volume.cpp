// Volume indicators (TA-Lib's volume group): OBV, the accumulation/distribution line and the Chaikin
// oscillator. Per indicator: its kernel (finite input, outputs as long as the inputs), its lookback and
// its public function (check the arguments, then run the kernel on each finite run); the family's
// registry rows at the end. How the TA-Lib ones follow TA-Lib: internal.h.
#include "qf/quant/ta/volume.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "internal.h"

namespace qf::quant::ta {

using namespace detail;  // the shared machinery of internal.h

namespace {

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

}  // namespace

int obv_lookback() {
  return 0;
}
void obv(In close, In volume, Out out) {
  check_lengths("obv", {{"close", close.size()}, {"volume", volume.size()}, {"out", out.size()}});
  on_finite_runs<2, 1>({close, volume}, {out}, [=](auto i, auto o) { obv_kernel(i[0], i[1], o[0]); });
}

namespace {

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

}  // namespace

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

namespace {

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

}  // namespace

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

// ---- the family's registry rows, in their fixed order (rows of compute_all) -------------------------------

void detail::add_volume_groups(std::vector<Group>& g) {
  add_one(g, "obv", obv_lookback(), "OBV",
          [](const Ohlcv& b, In, std::span<const Out> o) { obv(b.close, b.volume, o[0]); });
  add_one(g, "ad", ad_lookback(), "AD",
          [](const Ohlcv& b, In, std::span<const Out> o) { ad(b.high, b.low, b.close, b.volume, o[0]); });
  add_one(g, "adosc_3_10", adosc_lookback(3, 10), "ADOSC", [](const Ohlcv& b, In, std::span<const Out> o) {
    adosc(b.high, b.low, b.close, b.volume, 3, 10, o[0]);
  });
}

}  // namespace qf::quant::ta
