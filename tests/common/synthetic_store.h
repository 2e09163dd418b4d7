// A synthetic universe as process_new_data would store it: generated, written as CSV files, ingested
// with its constituents and index, and with every feature panel.
#pragma once

#include <filesystem>
#include <string>

#include "common/temp_path.h"
#include "qf/data/synthetic_universe.h"
#include "qf/quant/signals/features.h"

namespace qf::test_support {

struct SyntheticStore {
  data::Universe universe;
  data::FeaturePanels features;
  std::filesystem::path headlines;  // the generator's headlines.csv, kept (empty without headlines)
};

inline SyntheticStore synthetic_store(const std::string& name,
                                      const data::SyntheticUniverseOptions& options) {
  const std::filesystem::path dir = temp_path(name);
  std::filesystem::remove_all(dir);
  data::write_synthetic_universe(data::make_synthetic_universe(options), dir);
  const data::IngestOptions ingest{{}, dir / "constituents.csv", dir / "index.csv"};
  SyntheticStore store;
  store.universe = data::ingest(data::list_price_files(dir / "prices", ingest), ingest);
  store.features = quant::compute_features(store.universe);
  if (std::filesystem::exists(dir / "headlines.csv")) {
    store.headlines = temp_path(name + "_headlines.csv");
    std::filesystem::copy_file(dir / "headlines.csv", store.headlines,
                               std::filesystem::copy_options::overwrite_existing);
  }
  std::filesystem::remove_all(dir);
  return store;
}

}  // namespace qf::test_support
