// A researcher's own indicator, added from outside qf_quant_ta without editing it: the recipe "Add an
// indicator" (docs/architecture.md), outside-the-library case, followed step by step. The code and its
// registration are toy_indicator.cpp; tests/CMakeLists.txt links it with qf_add_indicators() into
// test_toy_indicator, and into a copy of process_new_data for app.toy_indicator, so its row joins
// those programs' registries (and no other program's).
#pragma once

#include <span>

namespace toy {

// Share of the last `period` one-day changes of close that were rises:
//   out_t = #{s : t - period < s <= t, close_s > close_{s-1}} / period, in [0, 1].
// Causal; lookback `period` (NaN before). NaN wherever the window holds a non-finite close. Throws
// std::invalid_argument for period < 1 or spans of different lengths.
int up_day_share_lookback(int period);
void up_day_share(std::span<const double> close, int period, std::span<double> out);

}  // namespace toy
