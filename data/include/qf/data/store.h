// The universe store: one HDF5 file with the aligned panels, masks, metadata, features and the
// validation results (layout in docs/hdf5-layout.md), written atomically; and the state manifest
// that records what was processed from which inputs, for later stages and incremental updates.
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "qf/data/universe.h"

namespace qf::data {

// Features computed for the universe: name -> [days x tickers] panel (float32 from quant::compute_features).
using FeaturePanels = std::map<std::string, Tensor>;

void write_universe(const std::filesystem::path& path, const Universe& universe,
                    const FeaturePanels& features = {});
// Reads a store back (features too when `features` is given). A truncated or foreign file gives an
// error naming the file.
Universe read_universe(const std::filesystem::path& path, FeaturePanels* features = nullptr);

// 64-bit FNV-1a over the file's 8-byte words (little-endian) and tail bytes, as 16 hex digits: cheap
// change detection for the manifest (not a cryptographic hash).
std::string file_hash(const std::filesystem::path& path);
std::string text_hash(std::string_view text);  // the same over a string

struct ManifestEntry {
  std::string path, hash;
  std::uintmax_t bytes = 0;
};

// The state manifest (JSON, json.h): {"stage", "created_utc", "settings": {name: value},
// "inputs": [{"path", "bytes", "hash"}], "outputs": [the same]}.
struct Manifest {
  std::string stage;
  std::string created_utc;
  std::map<std::string, std::string> settings;
  std::vector<ManifestEntry> inputs, outputs;
};
std::string manifest_to_json(const Manifest& manifest);
// The store's content hash (file_hash), checked against the one that process_new_data's manifest
// beside it (manifest_process_new_data.json) records for a file of that name, when there is one:
// throws InputError when they differ (the store changed since: rerun process_new_data).
std::string checked_store_hash(const std::filesystem::path& store);
// What an update (process_new_data --update) has to read: of `inputs` (the price files, the first
// `price_files` of them, then the constituents and benchmark tables) with their content hashes, the price
// files that are new or changed since the store recorded them, and whether a table changed. Throws
// InputError when a price file the store recorded under `input_folder` is no longer among the inputs (its
// ticker would linger in the store: that needs a full rebuild).
struct UpdatePlan {
  std::vector<std::filesystem::path> changed;
  bool tables_changed = false;
  bool up_to_date = false;  // nothing new, nothing changed, nothing gone
};
UpdatePlan plan_update(const Universe& stored, const std::vector<std::filesystem::path>& inputs,
                       const std::vector<std::string>& hashes, std::size_t price_files,
                       const std::filesystem::path& input_folder);

// Stage 1's outputs in `out`: universe.h5, validation.json, validation.txt and the manifest
// manifest_process_new_data.json (`settings`, the universe's source files with their hashes and sizes,
// and those outputs). Returns the text of validation.txt.
std::string write_processed_universe(const std::filesystem::path& out, const Universe& universe,
                                     const FeaturePanels& features,
                                     const std::map<std::string, std::string>& settings);

// Writes text to a file atomically (temporary file beside it, then rename).
void write_text_atomically(const std::filesystem::path& path, const std::string& text);
std::string utc_now();

}  // namespace qf::data
