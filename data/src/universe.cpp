#include "qf/data/universe.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <limits>
#include <map>
#include <set>

#include "qf/core/require.h"
#include "qf/data/csv.h"
#include "qf/tensor/parallel.h"

namespace qf::data {

namespace {
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

bool is_bad_tick_kind(const Finding& f) {
  return f.kind == "bad_tick" || f.kind == "bad_row";
}
}  // namespace

std::string to_string(PriceBasis basis) {
  return basis == PriceBasis::adjusted ? "adjusted" : "raw";
}

PriceChoice parse_price_choice(const std::string& text) {
  if (text == "auto") return PriceChoice::automatic;
  if (text == "adjusted") return PriceChoice::adjusted;
  if (text == "raw") return PriceChoice::raw;
  throw std::invalid_argument("--prices '" + text + "' is none of auto, adjusted, raw");
}

PriceBasis resolve_price_basis(PriceChoice choice, const std::vector<TickerSeries>& series) {
  if (choice == PriceChoice::raw) return PriceBasis::raw;
  const TickerSeries* with = nullptr;
  const TickerSeries* without = nullptr;
  for (const auto& s : series) (s.has_adjusted_close ? with : without) = &s;
  auto file = [](const TickerSeries* s) { return s->files.empty() ? s->ticker : s->files.front(); };
  if (choice == PriceChoice::adjusted && without)
    throw InputError(file(without), 1, "adj close",
                     "--prices adjusted: this file has no adjusted-close column (use --prices raw)");
  if (with && without)
    throw InputError(file(without), 1, "adj close",
                     "no adjusted-close column, but " + file(with) +
                         " has one: a folder mixing adjusted and raw prices would mix total and price "
                         "returns (choose --prices raw, or give every file an adjusted close)");
  return with ? PriceBasis::adjusted : PriceBasis::raw;
}

std::int64_t Universe::index_of(const std::string& ticker) const {
  const auto it = std::lower_bound(tickers.begin(), tickers.end(), ticker);
  return it != tickers.end() && *it == ticker ? it - tickers.begin() : -1;
}

namespace {

bool is_price_file_name(const std::filesystem::path& path) {
  std::string extension = path.extension().string();
  for (char& c : extension) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return extension == ".csv" || extension == ".txt";
}

// The constituents and benchmark tables may sit among the price files; they are no price files.
bool is_option_table(const std::filesystem::path& file, const IngestOptions& options) {
  std::error_code ignored;
  for (const auto* table : {&options.constituents, &options.benchmark})
    if (!table->empty() && std::filesystem::equivalent(file, *table, ignored)) return true;
  return false;
}

}  // namespace

std::vector<std::filesystem::path> list_price_files(const std::filesystem::path& folder,
                                                    const IngestOptions& options) {
  if (!std::filesystem::is_directory(folder)) throw InputError(folder.string(), 0, "", "not a folder");
  std::vector<std::filesystem::path> files;
  // Recursive: Stooq's bulk download nests its files (data/daily/us/nyse stocks/1/aapl.us.txt).
  for (auto it = std::filesystem::recursive_directory_iterator(folder);
       it != std::filesystem::recursive_directory_iterator(); ++it) {
    const std::filesystem::path& path = it->path();
    if (path.filename().string().starts_with(".")) {  // .git, ._aapl.us.txt (macOS): never prices
      if (it->is_directory()) it.disable_recursion_pending();
      continue;
    }
    if (it->is_regular_file() && is_price_file_name(path) && !is_option_table(path, options))
      files.push_back(path);
  }
  std::sort(files.begin(), files.end());  // directory order differs between file systems
  return files;
}

namespace {

// Parses the files (in parallel) into one series per ticker; a ticker in two files is an error.
std::map<std::string, TickerSeries> read_price_files(const std::vector<std::filesystem::path>& files) {
  std::vector<std::vector<TickerSeries>> parsed(files.size());
  parallel_for(static_cast<std::int64_t>(files.size()), 8, [&](std::int64_t begin, std::int64_t end) {
    for (std::int64_t i = begin; i < end; ++i)
      parsed[static_cast<std::size_t>(i)] = read_price_file(files[static_cast<std::size_t>(i)]);
  });
  std::map<std::string, TickerSeries> by_ticker;
  for (std::size_t f = 0; f < files.size(); ++f)
    for (TickerSeries& s : parsed[f]) {
      auto [it, inserted] = by_ticker.try_emplace(s.ticker, std::move(s));
      if (!inserted)
        throw InputError(files[f].string(), 0, "",
                         "ticker " + it->first + " also comes from " + it->second.files.front());
    }
  return by_ticker;
}

// Rejects unsafe ticker names, else validates and repairs.
TickerReport check_and_validate(TickerSeries& s, const ValidationOptions& options) {
  if (is_safe_ticker(s.ticker)) return validate_and_repair(s, options);
  TickerReport r;
  r.ticker = s.ticker;
  r.files = s.files;
  r.rejected = true;
  r.reject_reason = "unsafe ticker name (allowed: A-Z 0-9 . - _ ^, at most 15)";
  r.findings.push_back(
      {"unsafe_ticker", s.files.front(), 0, "", "ticker", s.ticker.substr(0, 40), "ticker rejected"});
  return r;
}

// Validates every series (in parallel), moving the accepted ones to `accepted`.
void validate_all(std::vector<TickerSeries>& series, const ValidationOptions& options,
                  std::vector<TickerSeries>& accepted, std::vector<TickerReport>& reports) {
  std::vector<TickerReport> fresh(series.size());
  parallel_for(static_cast<std::int64_t>(series.size()), 8, [&](std::int64_t begin, std::int64_t end) {
    for (std::int64_t i = begin; i < end; ++i)
      fresh[static_cast<std::size_t>(i)] = check_and_validate(series[static_cast<std::size_t>(i)], options);
  });
  for (std::size_t i = 0; i < series.size(); ++i) {
    if (!fresh[i].rejected) accepted.push_back(std::move(series[i]));
    reports.push_back(std::move(fresh[i]));
  }
}

}  // namespace

Universe ingest(const std::vector<std::filesystem::path>& files, const IngestOptions& options) {
  std::vector<TickerSeries> series, accepted;
  for (auto& [ticker, s] : read_price_files(files)) series.push_back(std::move(s));
  std::vector<TickerReport> reports;
  const PriceBasis basis = resolve_price_basis(options.prices, series);
  validate_all(series, options.validation, accepted, reports);
  std::sort(reports.begin(), reports.end(), [](auto& a, auto& b) { return a.ticker < b.ticker; });
  Universe u = align(std::move(accepted), std::move(reports), basis);
  if (!options.constituents.empty()) attach_constituents(u, options.constituents);
  if (!options.benchmark.empty()) attach_benchmark(u, options.benchmark);
  return u;
}

namespace {

// The factor of each row: 1 in raw mode; in adjusted mode the row's own (adjusted close / close) or,
// where that is unusable, the nearest earlier row's (1 before the first) with a missing_adjustment
// finding, so that the adjusted series has no artificial jump beyond the day's own move.
std::vector<double> row_factors(const TickerSeries& s, PriceBasis prices, TickerReport* report) {
  std::vector<double> factors(s.rows.size(), 1.0);
  if (prices == PriceBasis::raw) return factors;
  const std::string file = s.files.empty() ? std::string() : s.files.front();
  double previous = 1.0;
  std::string previous_date;
  for (std::size_t r = 0; r < s.rows.size(); ++r) {
    const PriceRow& row = s.rows[r];
    if (std::isfinite(row.adjustment) && row.adjustment > 0) {
      factors[r] = previous = row.adjustment;
      previous_date = format_date(row.day);
      continue;
    }
    factors[r] = previous;
    if (report)
      report->findings.push_back({"missing_adjustment", file, row.line, format_date(row.day), "adj close",
                                  "no usable adjusted close (missing, unparseable or <= 0)",
                                  previous_date.empty() ? "factor 1 (no earlier factor): raw prices"
                                                        : "factor " + format_12g(previous) + " of " +
                                                              previous_date + " carried forward"});
  }
  return factors;
}

// Every panel NaN, masks 0, for `tickers` x `days` (already set in u).
void allocate_panels(Universe& u) {
  const std::int64_t D = u.day_count(), N = u.ticker_count();
  for (Tensor* panel : {&u.open, &u.high, &u.low, &u.close, &u.volume})
    *panel = Tensor::full({D, N}, kNaN, DType::f64);
  const auto cells = static_cast<std::size_t>(D * N);
  u.listed.assign(cells, 0);
  u.present.assign(cells, 0);
  u.source_line.assign(cells, 0.0);
  u.adjustment.assign(cells, kNaN);
  u.sector.assign(static_cast<std::size_t>(N), "");
  u.market_cap.assign(static_cast<std::size_t>(N), kNaN);
}

// Writes row `row` (raw prices times `factor`) into cell k.
void place_row(Universe& u, std::size_t k, const PriceRow& row, double factor) {
  u.open.data<double>()[k] = row.open * factor;
  u.high.data<double>()[k] = row.high * factor;
  u.low.data<double>()[k] = row.low * factor;
  u.close.data<double>()[k] = row.close * factor;
  u.volume.data<double>()[k] = row.volume;  // shares traded: not scaled by a dividend factor
  u.adjustment[k] = factor;
  u.present[k] = 1;
  u.source_line[k] = static_cast<double>(row.line);
}

// A calendar gap in cell k: the previous day's close (and factor) carried forward, volume 0.
void place_gap(Universe& u, std::size_t k) {
  const auto previous = k - static_cast<std::size_t>(u.ticker_count());
  const double close = u.close.data<double>()[previous];
  u.open.data<double>()[k] = u.high.data<double>()[k] = u.low.data<double>()[k] = u.close.data<double>()[k] =
      close;
  u.volume.data<double>()[k] = 0;
  u.adjustment[k] = u.adjustment[previous];
}

std::int64_t day_index(const Universe& u, Day day) {
  return std::lower_bound(u.days.begin(), u.days.end(), day) - u.days.begin();
}

// Places ticker i's rows on the calendar, with its gap, late_start and early_end findings.
void place_ticker(Universe& u, std::int64_t i, const TickerSeries& s, PriceBasis prices,
                  TickerReport* report) {
  const std::int64_t D = u.day_count(), N = u.ticker_count();
  const std::vector<double> factors = row_factors(s, prices, report);
  const std::string file = s.files.empty() ? std::string() : s.files.front();
  const std::int64_t first = day_index(u, s.rows.front().day), last = day_index(u, s.rows.back().day);
  std::size_t r = 0;
  std::int64_t gap_start = -1;
  auto close_gap = [&](std::int64_t end) {  // days [gap_start, end) were gaps
    if (gap_start < 0 || !report) return;
    const std::int64_t length = end - gap_start;
    report->findings.push_back(
        {"gap", file, 0, format_date(u.days[static_cast<std::size_t>(gap_start)]), "date",
         std::to_string(length) + " calendar day" + (length > 1 ? "s" : "") + " without a row" +
             (length > 1 ? " (until " + format_date(u.days[static_cast<std::size_t>(end - 1)]) + ")" : ""),
         "close carried forward, volume 0, present = 0"});
    gap_start = -1;
  };
  for (std::int64_t d = first; d <= last; ++d) {
    const std::size_t k = static_cast<std::size_t>(d * N + i);
    u.listed[k] = 1;
    if (r < s.rows.size() && s.rows[r].day == u.days[static_cast<std::size_t>(d)]) {
      close_gap(d);
      place_row(u, k, s.rows[r], factors[r]);
      ++r;
    } else {
      if (gap_start < 0) gap_start = d;
      place_gap(u, k);
    }
  }
  close_gap(last + 1);
  if (report && first > 0)
    report->findings.push_back(
        {"late_start", file, s.rows.front().line, format_date(s.rows.front().day), "date",
         "first row " + std::to_string(first) + " calendar days after the calendar's first day",
         "masked (listed = 0, NaN) before"});
  if (report && last < D - 1)
    report->findings.push_back(
        {"early_end", file, s.rows.back().line, format_date(s.rows.back().day), "date",
         "last row " + std::to_string(D - 1 - last) + " calendar days before the calendar's end",
         "masked (listed = 0, NaN) after"});
}

}  // namespace

Universe align(std::vector<TickerSeries> series, std::vector<TickerReport> reports, PriceBasis prices) {
  std::sort(series.begin(), series.end(), [](auto& a, auto& b) { return a.ticker < b.ticker; });
  Universe u;
  u.prices = prices;
  for (const auto& s : series) {
    u.tickers.push_back(s.ticker);
    for (const auto& row : s.rows) u.days.push_back(row.day);
  }
  std::sort(u.days.begin(), u.days.end());
  u.days.erase(std::unique(u.days.begin(), u.days.end()), u.days.end());
  allocate_panels(u);
  std::map<std::string, TickerReport*> report_of;
  for (auto& r : reports) report_of[r.ticker] = &r;
  for (std::int64_t i = 0; i < u.ticker_count(); ++i) {
    const TickerSeries& s = series[static_cast<std::size_t>(i)];
    const auto it = report_of.find(s.ticker);
    place_ticker(u, i, s, prices, it == report_of.end() ? nullptr : it->second);
  }
  u.reports = std::move(reports);
  for (auto& r : u.reports) sort_findings(r);
  return u;
}

void sort_findings(TickerReport& report) {
  auto stage = [](const std::string& kind) {
    if (kind == "zero_volume_run" || kind == "split_like_jump" || kind == "too_few_rows") return 1;
    if (kind == "gap" || kind == "late_start" || kind == "early_end") return 2;
    return 0;
  };
  std::stable_sort(report.findings.begin(), report.findings.end(), [&](const Finding& a, const Finding& b) {
    const int sa = stage(a.kind), sb = stage(b.kind);
    if (sa != sb) return sa < sb;
    if (sa == 0 && a.line != b.line) return a.line < b.line;
    if (a.date != b.date) return a.date < b.date;
    return a.kind < b.kind;
  });
}

namespace {

// Relative tolerance of raw-price comparisons: a raw price recovered as stored price / factor may be
// an ulp or two off the file's value (1e-12 is far below any price tick).
constexpr double kRawTolerance = 1e-12;

bool same_value(double a, double b) {
  if (a == b || (std::isnan(a) && std::isnan(b))) return true;
  return std::abs(a - b) <= kRawTolerance * std::max(std::abs(a), std::abs(b));
}

// The raw price of a stored price p = raw * f: p / f, moved by an ulp where that gives p back exactly,
// so that re-aligning an unchanged row reproduces the stored price bit for bit.
double raw_price(double price, double factor) {
  if (factor == 1.0 || !std::isfinite(factor)) return price;
  const double raw = price / factor;
  constexpr double kInfinity = std::numeric_limits<double>::infinity();
  for (const double candidate : {raw, std::nextafter(raw, kInfinity), std::nextafter(raw, -kInfinity)})
    if (candidate * factor == price) return candidate;
  return raw;
}

// The stored row of ticker i on day d in raw prices, with its factor (NaN on `unadjusted` lines: the
// first run found no usable adjusted close there, and align is to fill and report it again).
PriceRow stored_raw_row(const Universe& u, std::int64_t d, std::int64_t i,
                        const std::set<std::int64_t>& unadjusted) {
  const auto k = static_cast<std::size_t>(d * u.ticker_count() + i);
  const double f = u.adjustment.empty() ? 1.0 : u.adjustment[k];
  PriceRow row{};
  row.day = u.days[static_cast<std::size_t>(d)];
  row.open = raw_price(u.open.data<double>()[k], f);
  row.high = raw_price(u.high.data<double>()[k], f);
  row.low = raw_price(u.low.data<double>()[k], f);
  row.close = raw_price(u.close.data<double>()[k], f);
  row.volume = u.volume.data<double>()[k];
  row.line = static_cast<std::int64_t>(u.source_line[k]);
  row.adjustment = unadjusted.count(row.line) ? kNaN : f;
  return row;
}

bool same_raw_row(const PriceRow& a, const PriceRow& b) {
  return same_value(a.open, b.open) && same_value(a.high, b.high) && same_value(a.low, b.low) &&
         same_value(a.close, b.close) && same_value(a.volume, b.volume);
}

// An update keeps the store's price basis: --prices must agree with it, and in adjusted mode every
// re-read file must still carry an adjusted close (else a full rebuild decides).
void check_update_basis(const Universe& stored, const IngestOptions& options,
                        const std::map<std::string, TickerSeries>& fresh) {
  const bool contradicts = (options.prices == PriceChoice::adjusted && stored.prices == PriceBasis::raw) ||
                           (options.prices == PriceChoice::raw && stored.prices == PriceBasis::adjusted);
  if (contradicts)
    throw InputError("universe.h5", 0, "prices",
                     "the store holds " + to_string(stored.prices) +
                         " prices: changing --prices needs a full rebuild (without --update)");
  if (stored.prices == PriceBasis::raw) return;
  for (const auto& [ticker, s] : fresh)
    if (!s.has_adjusted_close)
      throw InputError(s.files.empty() ? ticker : s.files.front(), 1, "adj close",
                       "the store holds adjusted prices but this file has no adjusted-close column: a "
                       "full rebuild with --prices raw, or a file with one");
}

// Re-sent stored rows whose factor changed: a new dividend (or split) restated the adjusted past.
struct Restatement {
  std::int64_t rows = 0;
  std::string first_date;
  double before = 1, after = 1;

  void add(const PriceRow& row, double old_factor) {
    if (rows++ == 0) {
      first_date = format_date(row.day);
      before = old_factor;
      after = row.adjustment;
    }
  }
  Finding finding(const std::string& file) const {
    return {"restated",
            file,
            0,
            first_date,
            "adj close",
            std::to_string(rows) + " stored rows have a new adjusted close / close (from " + first_date +
                ": " + format_12g(before) + " -> " + format_12g(after) +
                "): a dividend or split restated the adjusted history",
            "history rewritten with the new factors"};
  }
};

// Findings that validation or alignment makes again over the whole history (missing_adjustment:
// align; restated: this update's own) are not kept from the store; the row-level ones are.
bool is_row_level(const Finding& f) {
  return f.kind != "zero_volume_run" && f.kind != "split_like_jump" && f.kind != "too_few_rows" &&
         f.kind != "gap" && f.kind != "late_start" && f.kind != "early_end" &&
         f.kind != "missing_adjustment" && f.kind != "restated";
}

// A stored ticker during an update: its kept rows and report, where its stored history ends, and what
// merging a fresh file learnt about that history.
struct UpdatedTicker {
  TickerSeries series;         // the kept rows (raw prices, source lines), then the fresh file's new rows
  TickerReport report;         // the stored report with its row-level findings only, then the new rows'
  std::int64_t last_line = 0;  // the last source line the first run read (a kept row or a finding)
  // The stored last row was checked one-sidedly only: its bad_tick/bad_row verdict is redone,
  // two-sided once new rows follow it.
  Day last_stored_day = std::numeric_limits<Day>::min();
  std::string recheck_from;  // last_stored_day as a date; "" when no row was kept
  std::int64_t last_stored_line = -1;
  bool last_resent = false;  // the stored last row came again in the update: raw values judged again
  Restatement restatement;

  // Findings about the stored last row that the re-sent raw row re-creates (see merge_resent_row).
  bool rechecked(const Finding& f) const {
    return (is_bad_tick_kind(f) && f.date >= recheck_from) ||
           (last_resent && f.line == last_stored_line &&
            (f.kind == "missing_field" || f.kind == "missing_volume" || f.kind == "ohlc_inconsistent"));
  }
};

// Stored ticker i as the first run kept it: its present rows in raw prices (with source lines and
// factors, so that re-aligning reproduces the store) and its report's row-level findings.
UpdatedTicker rebuild_stored_ticker(const Universe& stored, std::int64_t i, const TickerReport& old) {
  const std::int64_t D = stored.day_count(), N = stored.ticker_count();
  UpdatedTicker t;
  TickerSeries& s = t.series;
  s.ticker = stored.tickers[static_cast<std::size_t>(i)];
  s.files = old.files;
  std::set<std::int64_t> unadjusted;  // lines without a usable adjusted close
  for (const auto& f : old.findings)
    if (f.kind == "missing_adjustment") unadjusted.insert(f.line);
  for (std::int64_t d = 0; d < D; ++d) {
    if (!stored.present[static_cast<std::size_t>(d * N + i)]) continue;
    s.rows.push_back(stored_raw_row(stored, d, i, unadjusted));
    t.last_line = std::max(t.last_line, s.rows.back().line);
  }
  for (const auto& f : old.findings) t.last_line = std::max(t.last_line, f.line);
  if (!s.rows.empty()) {
    t.last_stored_day = s.rows.back().day;
    t.recheck_from = format_date(t.last_stored_day);
    t.last_stored_line = s.rows.back().line;
  }
  t.report = old;
  t.report.findings.clear();
  for (const auto& f : old.findings)
    if (is_row_level(f)) t.report.findings.push_back(f);
  return t;
}

// What the first run made of a stored ticker's file, to judge the rows an update sends again.
struct StoredHistory {
  Day last_day = 0;                                  // the stored last row's day; 0 when none was kept
  std::set<std::int64_t> finding_lines, tick_lines;  // rows the first run dropped or flagged; repaired
};

// A re-sent row of the stored history must be what was stored, else a revision needs a full rebuild.
// In adjusted mode it brings its (maybe new) factor: a changed one restates the adjusted history.
void merge_resent_row(const Universe& stored, std::int64_t i, const PriceRow& row,
                      const StoredHistory& history, const std::string& file, UpdatedTicker& t) {
  const std::int64_t D = stored.day_count(), N = stored.ticker_count();
  std::vector<PriceRow>& rows = t.series.rows;
  const auto d = std::lower_bound(stored.days.begin(), stored.days.end(), row.day) - stored.days.begin();
  const auto k = static_cast<std::size_t>(d * N + i);
  const bool stored_row = d < D && stored.days[static_cast<std::size_t>(d)] == row.day && stored.present[k] &&
                          static_cast<std::int64_t>(stored.source_line[k]) == row.line;
  PriceRow repaired = row;
  const RowRepair verdict = repair_row(repaired);
  // Compared on raw prices: the adjusted ones change with every new dividend.
  auto kept = stored_row ? std::lower_bound(rows.begin(), rows.end(), row.day,
                                            [](const PriceRow& a, Day b) { return a.day < b; })
                         : rows.end();
  const bool same = stored_row && !verdict.dropped() && same_raw_row(repaired, *kept);
  const bool dropped_before =
      !stored_row && row.line <= t.last_line && history.finding_lines.count(row.line) > 0;
  // A bad tick was repaired from its neighbours, which repair_row alone cannot redo.
  const bool repaired_before = stored_row && history.tick_lines.count(row.line) > 0;
  if (!same && !dropped_before && !repaired_before)
    throw InputError(file, row.line, "date",
                     "row of " + format_date(row.day) +
                         " differs from the store or is new inside the stored "
                         "history (ends " +
                         format_date(history.last_day) + "): a revision needs a full rebuild");
  if (stored_row && stored.prices == PriceBasis::adjusted) {
    if (!same_value(row.adjustment, kept->adjustment)) t.restatement.add(row, kept->adjustment);
    kept->adjustment = row.adjustment;  // the new factor, also where a bad tick was repaired
    if (same) *kept = repaired;         // the file's raw values, exact (no division)
  }
  // The stored last row was judged one-sidedly and then OHLC-fixed (which may have copied a bad
  // field into high or low): judge the raw row again, as a full rebuild would.
  if (stored_row && row.day == history.last_day) {
    rows.back() = row;
    t.last_resent = true;
  }
}

// Merges the fresh file of stored ticker i: rows up to the stored last day are the re-sent history
// (checked against the store); later rows are appended, with the file's findings about them.
void merge_fresh_rows(const Universe& stored, std::int64_t i, const TickerReport& old,
                      const TickerSeries& update, UpdatedTicker& t) {
  if (update.files != old.files)  // as a full build would: one ticker, one source
    throw InputError(update.files.front(), 0, "",
                     "ticker " + t.series.ticker + " also comes from " +
                         (old.files.empty() ? "the store" : old.files.front()));
  StoredHistory history;
  history.last_day = t.series.rows.empty() ? 0 : t.series.rows.back().day;
  for (const auto& f : old.findings) {
    history.finding_lines.insert(f.line);
    if (f.kind == "bad_tick") history.tick_lines.insert(f.line);
  }
  std::int64_t added = 0;
  for (const PriceRow& row : update.rows) {
    if (row.day <= history.last_day) {
      merge_resent_row(stored, i, row, history, update.files.front(), t);
      continue;
    }
    t.series.rows.push_back(row);
    ++added;
  }
  for (const auto& f : update.findings)
    if (f.line > t.last_line) t.report.findings.push_back(f);
  t.report.rows_read += added;
  for (const auto& f : update.findings)
    t.report.rows_read += f.line > t.last_line && f.kind == "unparseable_line" ? 1 : 0;
}

// Re-validates the merged ticker and assembles its report. Stored rows are already repaired (the
// rules are idempotent), so only new rows can add row-level findings; sequence findings are
// recomputed over the whole history.
TickerReport revalidate(UpdatedTicker& t, const ValidationOptions& options) {
  TickerReport report = std::move(t.report);
  std::erase_if(report.findings, [&](const Finding& f) { return f.line <= t.last_line && t.rechecked(f); });
  // Bad ticks are judged from the stored last row on (the history before was judged with both
  // neighbours already).
  ValidationOptions validation = options;
  validation.bad_tick_from = t.last_stored_day;
  TickerReport again = validate_and_repair(t.series, validation);
  for (auto& f : again.findings)
    if (t.rechecked(f) || (!is_bad_tick_kind(f) && (!is_row_level(f) || f.line > t.last_line)))
      report.findings.push_back(std::move(f));
  if (t.restatement.rows > 0)
    report.findings.push_back(t.restatement.finding(t.series.files.empty() ? "" : t.series.files.front()));
  report.rows_kept = again.rows_kept;
  report.rejected = again.rejected;
  report.reject_reason = again.reject_reason;
  return report;
}

// The new universe keeps what the store knew besides prices: each stored ticker's sector and market
// cap, and the stored benchmark (NaN on new days), unless this update gives new tables.
void carry_stored_tables(const Universe& stored, const IngestOptions& options, Universe& u) {
  u.sector.assign(u.tickers.size(), "");
  u.market_cap.assign(u.tickers.size(), std::numeric_limits<double>::quiet_NaN());
  for (std::size_t i = 0; i < u.tickers.size(); ++i)
    if (const std::int64_t j = stored.index_of(u.tickers[i]); j >= 0) {
      u.sector[i] = stored.sector[static_cast<std::size_t>(j)];
      u.market_cap[i] = stored.market_cap[static_cast<std::size_t>(j)];
    }
  if (!options.constituents.empty()) attach_constituents(u, options.constituents);
  if (!options.benchmark.empty()) {
    attach_benchmark(u, options.benchmark);
  } else if (!stored.benchmark_close.empty()) {
    u.benchmark_name = stored.benchmark_name;
    u.benchmark_price_index = stored.benchmark_price_index;
    u.benchmark_close.assign(u.days.size(), std::numeric_limits<double>::quiet_NaN());
    for (std::size_t d = 0; d < stored.days.size(); ++d) {
      const auto it = std::lower_bound(u.days.begin(), u.days.end(), stored.days[d]);
      if (it != u.days.end() && *it == stored.days[d])
        u.benchmark_close[static_cast<std::size_t>(it - u.days.begin())] = stored.benchmark_close[d];
    }
  }
}

}  // namespace

Universe update(const Universe& stored, const std::vector<std::filesystem::path>& files,
                const IngestOptions& options) {
  QF_REQUIRE(!options.validation.adjust_splits, "update", "adjust_splits", options.validation.adjust_splits,
             "rescales history; run a full rebuild instead");
  std::map<std::string, TickerSeries> fresh = read_price_files(files);
  check_update_basis(stored, options, fresh);
  std::map<std::string, const TickerReport*> stored_report;
  for (const auto& r : stored.reports) stored_report[r.ticker] = &r;
  std::vector<TickerSeries> series;
  std::vector<TickerReport> reports;
  // Stored tickers: rebuild their kept rows (with source lines), append what is new, validate again.
  for (std::int64_t i = 0; i < stored.ticker_count(); ++i) {
    const TickerReport& old = *stored_report.at(stored.tickers[static_cast<std::size_t>(i)]);
    UpdatedTicker t = rebuild_stored_ticker(stored, i, old);
    if (auto it = fresh.find(t.series.ticker); it != fresh.end()) {
      merge_fresh_rows(stored, i, old, it->second, t);
      fresh.erase(it);
    }
    TickerReport report = revalidate(t, options.validation);
    if (!report.rejected) series.push_back(std::move(t.series));
    reports.push_back(std::move(report));
  }
  // Tickers rejected earlier stay in the reports as they were; new tickers are validated afresh.
  for (const auto& r : stored.reports)
    if (r.rejected && !fresh.count(r.ticker)) reports.push_back(r);
  std::vector<TickerSeries> new_tickers;
  for (auto& [ticker, s] : fresh) new_tickers.push_back(std::move(s));
  validate_all(new_tickers, options.validation, series, reports);
  std::sort(reports.begin(), reports.end(), [](auto& a, auto& b) { return a.ticker < b.ticker; });
  Universe u = align(std::move(series), std::move(reports), stored.prices);
  carry_stored_tables(stored, options, u);
  return u;
}

namespace {

// True when some ticker's listing ends before the calendar's last day (a delisting kept in the set).
bool any_delisted(const Universe& u) {
  const std::int64_t D = u.day_count(), N = u.ticker_count();
  for (std::int64_t i = 0; i < N; ++i)
    if (!u.listed[static_cast<std::size_t>((D - 1) * N + i)]) return true;
  return false;
}

// Accepted tickers whose file has no adjusted-close column (only the Yahoo layout has one).
std::int64_t tickers_without_adjusted_close(const Universe& u) {
  std::int64_t count = 0;
  for (const auto& r : u.reports) count += !r.rejected && r.layout != "yahoo" ? 1 : 0;
  return count;
}

Finding price_returns_finding(const Universe& u) {
  const std::int64_t n = tickers_without_adjusted_close(u);
  const std::string why = n > 0 ? std::to_string(n) + " of " + std::to_string(u.ticker_count()) +
                                      " tickers have no adjusted-close column"
                                : "--prices raw: the adjusted closes were ignored";
  return {"price_returns_only",
          "",
          0,
          "",
          "adj close",
          why + ": prices are not dividend-adjusted, returns are price returns only (dividends missing)",
          "warning repeated by stages 2-4"};
}

}  // namespace

std::vector<Finding> set_findings(const Universe& u) {
  std::vector<Finding> out;
  if (u.days.empty()) return out;
  const std::string last_day = format_date(u.days.back());
  const std::string action = "warning repeated by stages 2-4";
  if (!any_delisted(u))
    out.push_back({"survivorship", "", 0, last_day, "listing",
                   "every ticker is listed to the end: the set is today's members, survivorship bias: "
                   "returns and accuracy are biased up",
                   action});
  if (u.prices == PriceBasis::raw) out.push_back(price_returns_finding(u));
  if (u.prices == PriceBasis::adjusted && !u.benchmark_close.empty() && u.benchmark_price_index)
    out.push_back({"benchmark_price_index", "", 0, "", "benchmark",
                   "the stocks are total returns (adjusted closes) but the benchmark " + u.benchmark_name +
                       " is a price index (its adjusted close equals its close, or it has none): excess "
                       "returns over it are biased up by the index's dividend yield",
                   action});
  return out;
}

std::vector<std::string> data_warnings(const Universe& u) {
  std::vector<std::string> lines;
  for (const auto& f : u.set_findings) lines.push_back(f.kind + ": " + f.detail);
  return lines;
}

namespace {

// A label from an input table made safe to write into CSV outputs: leading characters a spreadsheet
// reads as a formula (= + - @) and control characters are removed (formula injection).
std::string safe_label(const std::string& text) {
  std::string out;
  for (const char c : text)
    if (static_cast<unsigned char>(c) >= 0x20 && c != 0x7f) out += c;
  const auto start = out.find_first_not_of("=+-@ ");
  return start == std::string::npos ? std::string() : out.substr(start);
}

}  // namespace

void attach_constituents(Universe& u, const std::filesystem::path& path) {
  const CsvTable table = read_csv(path);
  int symbol = -1, sector = -1, cap = -1;
  for (int c = 0; c < static_cast<int>(table.header.size()); ++c) {
    const std::string h = normalize_header(table.header[static_cast<std::size_t>(c)]);
    if (h == "symbol" || h == "ticker") symbol = c;
    if (h == "sector" || h == "gics sector") sector = c;
    if (h == "market cap" || h == "marketcap" || h == "market_cap") cap = c;
  }
  if (symbol < 0) throw InputError(path.string(), 1, "Symbol", "constituents table has no Symbol column");
  for (std::size_t r = 0; r < table.rows.size(); ++r) {
    const auto& row = table.rows[r];
    if (row.size() != table.header.size())
      throw InputError(
          path.string(), table.line_numbers[r], "",
          std::to_string(row.size()) + " fields where the header has " + std::to_string(table.header.size()));
    const std::int64_t i = u.index_of(canonical_ticker(row[static_cast<std::size_t>(symbol)]));
    if (i < 0) continue;
    if (sector >= 0)
      u.sector[static_cast<std::size_t>(i)] = safe_label(row[static_cast<std::size_t>(sector)]);
    if (cap >= 0) {
      const std::string& text = row[static_cast<std::size_t>(cap)];
      char* end = nullptr;
      const double value = std::strtod(text.c_str(), &end);
      if (end == text.c_str() || *end != '\0')
        throw InputError(path.string(), table.line_numbers[r], table.header[static_cast<std::size_t>(cap)],
                         "not a number: '" + text.substr(0, 40) + "'");
      u.market_cap[static_cast<std::size_t>(i)] = value;
    }
  }
}

void attach_benchmark(Universe& u, const std::filesystem::path& file) {
  std::vector<TickerSeries> series = read_price_file(file);
  if (series.size() != 1) throw InputError(file.string(), 0, "", "benchmark file holds several tickers");
  u.benchmark_name = series.front().ticker;
  u.benchmark_close.assign(u.days.size(), kNaN);
  std::vector<PriceRow> rows = series.front().rows;
  std::stable_sort(rows.begin(), rows.end(), [](auto& a, auto& b) { return a.day < b.day; });
  // A price index: no row's adjusted close differs from its close by more than rounding (1e-6
  // relative: printed decimals; a real dividend moves the factor by 1e-3 or more).
  u.benchmark_price_index = std::none_of(rows.begin(), rows.end(), [](const PriceRow& row) {
    return std::isfinite(row.adjustment) && std::abs(row.adjustment - 1.0) > 1e-6;
  });
  double factor = 1.0;  // the nearest earlier usable one, as for the stocks
  for (const PriceRow& row : rows) {
    if (std::isfinite(row.adjustment)) factor = row.adjustment;
    const auto it = std::lower_bound(u.days.begin(), u.days.end(), row.day);
    if (it != u.days.end() && *it == row.day)
      u.benchmark_close[static_cast<std::size_t>(it - u.days.begin())] =
          row.close * (u.prices == PriceBasis::adjusted ? factor : 1.0);
  }
}

std::string prices_note(const Universe& u) {
  return u.prices == PriceBasis::adjusted
             ? "prices: adjusted (open/high/low/close x adjusted close / close; returns are total returns, "
               "dividends reinvested; raw = price / adjustment)"
             : "prices: raw (as traded; returns are price returns, dividends missing)";
}

}  // namespace qf::data
