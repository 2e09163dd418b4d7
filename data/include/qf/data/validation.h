// Validation and repair of one ticker's daily rows. Every finding is recorded with where it was seen
// and what was done; nothing is dropped silently. The rules, in the order they are applied:
//
//   kind                 what                                         action
//   unparseable_line     wrong field count, bad date or number        row dropped (found while parsing)
//   unsorted_dates       rows not in date order                       rows sorted
//   duplicate_date       a date seen twice                            identical: dropped; different: first
//   kept missing_close        close missing                                row dropped missing_field
//   open/high/low missing, close present         open := close; high := max(open, close,
//                                                                     high); low := min(open, close, low)
//   missing_volume       volume missing                               volume := 0
//   non_positive_price   a price <= 0                                 row dropped
//   ohlc_inconsistent    high < max(o, l, c) or low > min(o, h, c)    high := max(o,h,l,c); low :=
//   min(o,h,l,c) zero_volume_run      >= zero_volume_run days of volume 0           flagged split_like_jump
//   close ratio near 2, 3, 4, 5 or 10 (or its    flagged, prices left as given
//                        inverse), not reverted the next day          (adjust_splits: earlier prices
//                        rescaled)
//   too_few_rows         fewer than min_rows rows left                ticker rejected
// Calendar findings (gap, late_start, early_end) come from aligning tickers (universe.h).
// Set-level findings (universe.h set_findings; real input only, not the generated universe):
//   survivorship         no ticker's listing ends before the calendar's   warning, stored and repeated
//                        last day: today's members only, delisted losers   by stages 2-4
//                        missing, returns and accuracy biased up
//   price_returns_only   no adjusted-close column: the close is not        warning, stored and repeated
//                        dividend-adjusted, returns are price returns      by stages 2-4
#pragma once

#include <string>
#include <vector>

#include "qf/data/prices.h"

namespace qf::data {

struct ValidationOptions {
  std::int64_t zero_volume_run = 5;
  double split_tolerance = 0.03;  // relative distance of the close ratio to a split ratio
  bool adjust_splits = false;
  std::int64_t min_rows = 20;  // at least 1
};

struct TickerReport {
  std::string ticker;
  std::vector<std::string> files;
  std::string layout;
  std::int64_t rows_read = 0, rows_kept = 0;
  bool rejected = false;
  std::string reject_reason;
  std::vector<Finding> findings;
};

// The row-level rules alone (missing_close .. ohlc_inconsistent) applied to one row in place: what
// validate_and_repair does to each row, also used to compare re-sent rows with the store.
struct RowRepair {
  bool missing_close = false, missing_volume = false, non_positive = false, ohlc_inconsistent = false;
  std::string missing_fields;  // "open high low" (those that were empty)
  PriceRow filled;             // the row after filling missing values, before the OHLC fix
  bool dropped() const { return missing_close || non_positive; }
};
RowRepair repair_row(PriceRow& row);

// Repairs `series` in place (sorted, de-duplicated, repaired rows) and reports what it found.
TickerReport validate_and_repair(TickerSeries& series, const ValidationOptions& options = {});

// JSON of all reports: {"tickers": [{"ticker":..., "findings": [...]}, ...], "summary": {kind: count}}.
// The set-level findings go under "set_findings".
std::string reports_to_json(const std::vector<TickerReport>& reports,
                            const std::vector<Finding>& set_findings = {});
// A readable summary: counts per kind, rejected tickers, and the first findings of each kind.
std::string reports_summary(const std::vector<TickerReport>& reports, std::size_t examples_per_kind = 5);
// The set-level findings as "warning (kind): detail" lines; empty when there are none.
std::string set_findings_summary(const std::vector<Finding>& set_findings);

// JSON string escaping (quotes, backslashes, control characters).
std::string json_escape(const std::string& text);
// A JSON string literal ("..." with escapes) and a JSON number (12 significant digits; null when not
// finite), for the apps' summaries.
std::string json_quoted(const std::string& text);
std::string json_number(double value);

}  // namespace qf::data
