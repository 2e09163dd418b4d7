// Labels for every (decision day, ticker) of a universe, from the traded return r of day t: the simple
// return a trade decided at t's close earns from its execution to its exit (data/execution.h; never
// the same day's move unless execution is `close`, which trades at t's own close):
//   next_day_up       1 if r > 0, else 0 (with a horizon h > 1: the h-day holding's return)
//   beyond_threshold  1 if r > k * vol[t] * sqrt(h), 0 if r < -k * vol[t] * sqrt(h), NaN in between
//                     (too small a move to trade after costs); vol[t] is the 20-day realised
//                     volatility of daily log returns up to t (NaN, and so the label, until 20
//                     returns follow a listing or a missing price)
//   beats_median      1 if r is above that day's cross-sectional median of r (Fischer & Krauss 2018)
// NaN where the traded return is unknown (the decision or entry day is not listed, or the exit lies
// beyond the calendar). A delisting inside the holding earns its close-out return.
#pragma once

#include <filesystem>
#include <string>

#include "qf/data/execution.h"
#include "qf/data/universe.h"
#include "qf/tensor/hdf5.h"

namespace qf::quant {

enum class LabelKind { next_day_up, beyond_threshold, beats_median };

LabelKind parse_label_kind(const std::string& name);  // next_day_up, beyond_threshold, beats_median
std::string to_string(LabelKind kind);

// What a model predicts: the label kind on the traded return of an execution mode and horizon.
struct LabelSpec {
  LabelKind kind = LabelKind::next_day_up;
  data::TradeTiming timing;
  double threshold_in_vols = 0.5;  // beyond_threshold only

  // e.g. "next_day_up: 1 if open[t+1] -> open[t+2] > 0"
  std::string describe() const;
  bool operator==(const LabelSpec&) const = default;
};

// [days x tickers] float64 labels (row-major like the universe's panels).
Tensor make_labels(const data::Universe& universe, const LabelSpec& spec);

// The label spec as attributes of `object` in an HDF5 file (registries, predictions and weights files):
// label, threshold_in_vols, execution, horizon and label_definition (the human-readable form).
void write_label_attributes(h5::File& file, const std::string& object, const LabelSpec& spec);
// Reads them back; a file without them (made before format_version 2) is an error naming it.
LabelSpec read_label_attributes(const h5::File& file, const std::string& object,
                                const std::filesystem::path& path);
// Throws std::invalid_argument naming both when a file was made for another execution or horizon than
// the one asked for (e.g. a registry trained for next_close given to a stage run with --execution next_open).
void require_same_timing(const LabelSpec& in_file, const std::filesystem::path& path,
                         const data::TradeTiming& asked, const std::string& asked_by);

}  // namespace qf::quant
