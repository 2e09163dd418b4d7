// Daily price files: layout detection by header and parsing into per-ticker series, keeping every
// problem found on the way as a finding (file, line, field, what) for the validation report.
//
// Recognised headers (case-insensitive, any column order, extra columns ignored):
//   Kaggle      date,open,high,low,close,volume,Name          ticker from the Name column
//   Yahoo       Date,Open,High,Low,Close,Adj Close,Volume     missing days empty or "null"
//   Stooq       Date,Open,High,Low,Close,Volume,OpenInt       Kaggle's copy of Stooq, aapl.us.txt
//   Stooq bulk  <TICKER>,<PER>,<DATE>,<TIME>,<OPEN>,<HIGH>,<LOW>,<CLOSE>,<VOL>,<OPENINT>
//               daily bars only (<PER> D; anything else is an error), ticker from <TICKER>
//   long        any of the above with a ticker column (Name, Ticker or Symbol) holding many tickers
// Any other header with a date and a close column is read as "generic"; an empty file, or one without
// those columns, is an InputError naming it. Without a ticker column the ticker comes from the file
// name (see ticker_from_file_name).
#pragma once

#include <cstdint>
#include <filesystem>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

namespace qf::data {

enum class PriceLayout { kaggle, yahoo, stooq, stooq_bulk, generic };
std::string to_string(PriceLayout layout);

// Days since 1970-01-01; parse_date accepts YYYY-MM-DD and YYYYMMDD, returns false otherwise.
using Day = std::int32_t;
bool parse_date(std::string_view text, Day& day);
std::string format_date(Day day);

// One parsed row; missing or unparseable numbers are NaN (the finding says which).
struct PriceRow {
  Day day = 0;
  double open, high, low, close, volume;
  std::int64_t line = 0;  // line in the source file
  // The dividend (and split) adjustment of the row, factor = adjusted close / close, from the raw file
  // values (before any repair: a bad tick in close usually sits in the adjusted close too, so the ratio
  // stays right). NaN when the file has no adjusted close or either value is missing or <= 0.
  double adjustment = std::numeric_limits<double>::quiet_NaN();
};

struct Finding {
  std::string kind;  // e.g. "missing_field", "ohlc_inconsistent" (see validation.h for the list)
  std::string file;
  std::int64_t line = 0;  // 0 when not tied to a line
  std::string date;       // YYYY-MM-DD when tied to a day
  std::string field;
  std::string detail;  // what was seen
  std::string action;  // what was done about it (the documented repair rule, or "rejected")
};

struct TickerSeries {
  std::string ticker;
  std::vector<std::string> files;  // source files (one, or several for a long CSV split by ticker)
  PriceLayout layout = PriceLayout::generic;
  std::vector<PriceRow> rows;       // in file order
  std::vector<Finding> findings;    // parse-level findings (unparseable lines and fields)
  bool has_adjusted_close = false;  // the file has an adjusted-close column (Yahoo layout)
};

// Parses one price file into one series (or several, for a long CSV with a ticker column).
// Throws InputError (file, line, field) when the file is not a price file at all.
std::vector<TickerSeries> read_price_file(const std::filesystem::path& path);

// A ticker symbol is safe when it is 1-15 characters of A-Z, 0-9, '.', '-', '_' or '^' (no path
// separators, no leading dot): it becomes part of file and dataset names later.
bool is_safe_ticker(const std::string& ticker);

// The one spelling of a ticker, for ticker columns, file names and the constituents join: trimmed,
// upper case, '-' written '.' (Yahoo's BRK-B is the real set's BRK.B) and a Stooq market suffix
// (.US .UK .DE .JP .HK .HU .PL) dropped, since the sets this reads hold one market each. Nothing else
// is cut, so ETF_SPY and ETF_TLT stay two tickers and an unsafe name stays unsafe.
std::string canonical_ticker(std::string_view raw);

// The ticker a file name stands for: the extension (.csv, .txt) and a _data or _daily suffix
// dropped, then canonical_ticker: BRK.B_data.csv -> BRK.B, aapl.us.txt -> AAPL, BRK-B.csv -> BRK.B.
std::string ticker_from_file_name(const std::filesystem::path& path);

}  // namespace qf::data
