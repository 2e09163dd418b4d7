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

// The state manifest (JSON): stage, time, settings, every input with size and hash, the outputs.
struct Manifest {
  std::string stage;
  std::string created_utc;
  std::map<std::string, std::string> settings;
  std::vector<ManifestEntry> inputs, outputs;
};
std::string manifest_to_json(const Manifest& manifest);
// Writes text to a file atomically (temporary file beside it, then rename).
void write_text_atomically(const std::filesystem::path& path, const std::string& text);
std::string utc_now();

}  // namespace qf::data
