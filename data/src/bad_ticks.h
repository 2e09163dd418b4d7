// The bad_tick and bad_row rules of validation.h (private to qf_data): one field, or a whole row, far
// off both neighbours in units of the ticker's own robust volatility and back the next day.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "qf/data/validation.h"

namespace qf::data::detail {

using AddFinding = std::function<void(const char* kind, const PriceRow& row, const char* field,
                                      std::string detail, const char* action)>;

// Judges the rows (sorted, filled, positive prices; before the OHLC-consistency repair), repairs bad
// fields in place, removes untrusted rows (they become calendar gaps) and reports each through `add`.
void apply_bad_tick_rules(std::vector<PriceRow>& rows, const ValidationOptions& options,
                          const AddFinding& add);

}  // namespace qf::data::detail
