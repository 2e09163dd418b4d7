// Labels for every (day, ticker) of a universe, from the next day's return (never the same day's):
//   next_day_up       1 if close[t+1] > close[t], else 0
//   beyond_threshold  1 if r[t+1] > k * vol[t], 0 if r[t+1] < -k * vol[t], NaN in between (too small a
//                     move to trade after costs); vol[t] is the 20-day realised volatility up to t
//   beats_median      1 if r[t+1] is above that day's cross-sectional median of r[t+1] (Fischer &
//                     Krauss 2018), else 0
// NaN where t+1 is not a listed day of the ticker (the last day, delisting) or the inputs are missing.
#pragma once

#include "qf/data/universe.h"

namespace qf::quant {

enum class LabelKind { next_day_up, beyond_threshold, beats_median };

// [days x tickers] float64 labels (row-major like the universe's panels).
Tensor make_labels(const data::Universe& universe, LabelKind kind, double threshold_in_vols = 0.5);

}  // namespace qf::quant
