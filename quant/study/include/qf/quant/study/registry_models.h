// Stage 2's trained models reloaded from a registry to predict days it did not: the store's newest day
// (today's prediction, whose label is not known yet) and the days a daily update appends. The windows,
// features and train-fitted scalers are the ones the registry was trained with, so a day the registry
// did predict gets the same probability again (tested).
#pragma once

#include <filesystem>

#include "qf/data/store.h"
#include "qf/quant/registry/registry.h"

namespace qf::quant {

// Probabilities of an up move for the calendar days [first_day, last_day], for every ticker with a
// trained model (per-stock or pooled) and a full finite feature window ending that day; NaN elsewhere.
// The registry must come from this store's tickers, and its features must be stored panels; errors name
// the file. Days may lie past the registry's own calendar (the store grew since training).
PredictionPanel predict_from_registry(const std::filesystem::path& registry, const data::Universe& universe,
                                      const data::FeaturePanels& panels, std::int64_t first_day,
                                      std::int64_t last_day);

}  // namespace qf::quant
