// Indicator panels for a whole universe: every output of ta::all_indicators() for every ticker, as
// [days x tickers] float32 panels named like the indicators (computed in float64, stored as the
// float32 that models consume: half the bytes to write and read), plus cross-sectional ranks of a few of
// them ("xrank_<name>"). A ticker's indicators run over its listed days only (calendar gaps hold the
// carried-forward close); outside its listing every value is NaN.
#pragma once

#include <span>
#include <string>
#include <vector>

#include "qf/data/store.h"

namespace qf::quant {

// The indicators that also get a cross-sectional rank panel.
std::vector<std::string> ranked_features();

data::FeaturePanels compute_features(const data::Universe& universe);

// After data::update: recomputes the indicators of tickers whose data changed (new rows, new tickers)
// and the rank panels, and carries every other ticker's values over from `previous_features`
// (of `previous`). Equal, bit for bit, to compute_features(updated).
data::FeaturePanels update_features(const data::Universe& previous,
                                    const data::FeaturePanels& previous_features,
                                    const data::Universe& updated);

}  // namespace qf::quant
