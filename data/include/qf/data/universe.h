// The universe: every accepted ticker aligned on one trading calendar as [days x tickers] panels.
//
// Calendar: the sorted union of the days of all accepted tickers. Per ticker, `listed` marks days
// from its first to its last row; outside them every panel holds NaN (before listing, after
// delisting). Days inside the listing without a row of their own are calendar gaps: the close is
// carried forward (open = high = low = previous close, volume 0), `present` stays 0 there, and a
// "gap" finding lists them. late_start / early_end findings say when a ticker's life is shorter than
// the calendar.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "qf/data/validation.h"
#include "qf/tensor/tensor.h"

namespace qf::data {

// Which prices the panels hold. adjusted: open/high/low/close are scaled by the row's factor
// f = adjusted close / close (volume unchanged), so close[t] / close[t-1] - 1 is the total return
// (dividends reinvested); raw: the prices as traded, f = 1.
enum class PriceBasis { raw, adjusted };
std::string to_string(PriceBasis basis);

// --prices: auto = adjusted when every price file has an adjusted-close column, raw when none has.
enum class PriceChoice { automatic, adjusted, raw };
PriceChoice parse_price_choice(const std::string& text);  // "auto", "adjusted", "raw"; else invalid_argument

struct Universe {
  std::vector<std::string> tickers;  // sorted
  std::vector<Day> days;             // sorted
  // [days x tickers], float64, row-major (day-major): close.data<double>()[d * tickers + i].
  Tensor open, high, low, close, volume;
  std::vector<std::uint8_t> listed, present;  // [days x tickers], 0/1
  std::vector<double> source_line;            // [days x tickers]: line of the source file's row, 0 if none
  // [days x tickers]: the factor f applied to the row's raw prices (price = raw * f): 1 in raw mode or
  // without an adjusted close, NaN outside listings; a gap carries the previous day's factor with its close.
  std::vector<double> adjustment;
  PriceBasis prices = PriceBasis::raw;
  std::vector<std::string> sector;      // per ticker, "" when unknown
  std::vector<double> market_cap;       // per ticker, NaN when unknown
  std::vector<double> benchmark_close;  // per day, NaN where the benchmark has no row; empty if none
  std::string benchmark_name;
  // The benchmark's adjusted close equals its close on every row (or it has none): a price index,
  // whose return leaves out the dividends that adjusted stock prices include.
  bool benchmark_price_index = true;
  std::vector<TickerReport> reports;  // every ticker read, accepted or rejected
  // Findings about the set as a whole (survivorship, price_returns_only: validation.h), kept so that
  // the later stages can print them beside figures they bias.
  std::vector<Finding> set_findings;
  // The input files and their content hashes (store.h file_hash), so that an update reads only
  // files that changed.
  std::vector<std::string> source_files, source_hashes;

  std::int64_t day_count() const { return static_cast<std::int64_t>(days.size()); }
  std::int64_t ticker_count() const { return static_cast<std::int64_t>(tickers.size()); }
  std::int64_t index_of(const std::string& ticker) const;  // -1 when absent
};

struct IngestOptions {
  ValidationOptions validation;
  std::filesystem::path constituents;  // optional: Symbol, Sector, Market Cap columns
  std::filesystem::path benchmark;     // optional: a price file of the benchmark index
  PriceChoice prices = PriceChoice::automatic;
};

// The basis `choice` gives for these series (one per ticker, has_adjusted_close per file): automatic is
// adjusted when every file has an adjusted close, raw when none has, and an InputError naming one file
// of each when they are mixed; adjusted with a file without one is an InputError naming it.
PriceBasis resolve_price_basis(PriceChoice choice, const std::vector<TickerSeries>& series);

// Every *.csv and *.txt file in `folder` and its subfolders, sorted by path (hidden files and folders,
// and the constituents and benchmark files of `options`, are skipped). Throws InputError for a missing
// folder; each file's layout is checked when it is read (read_price_file).
std::vector<std::filesystem::path> list_price_files(const std::filesystem::path& folder,
                                                    const IngestOptions& options);

// Reads, validates and aligns. Tickers are de-duplicated across files (two files whose tickers have one
// canonical spelling, e.g. BRK-B.csv and BRK.B_data.csv, are an error naming both), and unsafe ticker names
// (see is_safe_ticker) are rejected with a finding.
Universe ingest(const std::vector<std::filesystem::path>& files, const IngestOptions& options);

// Aligns already validated series (used by ingest and by incremental updates). With PriceBasis::adjusted
// the rows' prices are scaled by their factor (PriceRow::adjustment); a row without a usable one takes
// the nearest earlier factor of its ticker (1 before the first) with a missing_adjustment finding.
Universe align(std::vector<TickerSeries> series, std::vector<TickerReport> reports,
               PriceBasis prices = PriceBasis::raw);

// Appends new rows and new tickers to a stored universe. `files` are the updated CSVs, typically the
// old files with rows appended: rows on days the store already holds must equal the stored rows and
// are skipped; a differing row is an InputError (a revision needs a full rebuild). Rows are compared
// on raw prices (stored price / factor, relative tolerance 1e-12). In adjusted mode a re-sent row whose
// factor changed (a new dividend restates the adjusted past) is no revision: the ticker's history takes
// the new factors and a `restated` finding. Only affected tickers are re-validated. The result equals
// ingest() over the same files: panels, masks and reports (whose findings are kept in canonical order,
// see sort_findings), less the restated findings. The price basis is the store's; a --prices choice
// that contradicts it is an InputError (a full rebuild changes it).
Universe update(const Universe& stored, const std::vector<std::filesystem::path>& files,
                const IngestOptions& options);

// Canonical order of a report's findings: row-level findings by line, then sequence findings
// (zero_volume_run, split_like_jump, too_few_rows), then calendar findings (gap, late_start, early_end).
void sort_findings(TickerReport& report);

// The set-level findings of a universe read from real files: `survivorship` when no ticker's listing
// ends before the calendar's last day (nothing delisted: the set is today's members),
// `price_returns_only` when the panels hold raw prices (no adjusted-close column, or --prices raw: the
// close is not dividend-adjusted), and `benchmark_price_index` when adjusted stocks meet a benchmark
// that is a price index. Generated data has none of these problems by construction, so callers skip it
// there.
std::vector<Finding> set_findings(const Universe& universe);
// One line per set-level finding ("survivorship: ..."), for the later stages' warnings.
std::vector<std::string> data_warnings(const Universe& universe);
// "prices: adjusted (...)" or "prices: raw (...)": which prices the panels hold, for the reports.
std::string prices_note(const Universe& universe);

// Sector and market cap per ticker from a constituents table, joined on canonical_ticker(Symbol) (BRK-B
// there is BRK.B here); unknown tickers keep ""/NaN. Sector names
// lose leading formula characters (= + - @) and control characters, so that no CSV output carries a
// spreadsheet formula from the input.
void attach_constituents(Universe& universe, const std::filesystem::path& table);
// The benchmark's close aligned on the universe calendar: adjusted like the stocks when the universe
// is (factor adjusted close / close, the nearest earlier one where missing), and benchmark_price_index
// set when its adjusted close equals its close on every row or it has none.
void attach_benchmark(Universe& universe, const std::filesystem::path& file);

}  // namespace qf::data
