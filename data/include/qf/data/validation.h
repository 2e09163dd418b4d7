// Validation and repair of one ticker's daily rows. Every finding is recorded with where it was seen
// and what was done; nothing is dropped silently. The rules, in the order they are applied:
//
// clang-format off
//   kind                 what                                         action
//   unparseable_line     wrong field count, bad date or number        row dropped (found while parsing)
//   unsorted_dates       rows not in date order                       rows sorted
//   duplicate_date       a date seen twice                            identical: dropped; different: first kept
//   missing_close        close missing                                row dropped
//   missing_field        open/high/low missing, close present         open := close; high := max(open, close,
//                                                                     high); low := min(open, close, low)
//   missing_volume       volume missing                               volume := 0
//   non_positive_price   a price <= 0                                 row dropped
//   bad_row              an interior row whose close and at least     row dropped: a calendar gap (close
//                        two of open/high/low are each off both       carried forward, present = 0); the
//                        neighbours the same way, by >=               finding keeps o/h/l/c
//                        bad_row_sigmas * sigma and >=
//                        bad_row_min_factor, and back the next day
//                        (see "spike" below)
//   bad_tick             one field of an interior row off both        rebuilt inside the day's range from the
//                        neighbours' same field by >=                 row's trusted fields (t = not flagged):
//                        bad_tick_sigmas * sigma and >=               high := max(open_t, close); low :=
//                        bad_tick_min_factor, back the next day       min(open_t, close); open := clamp(prev
//                        (see "spike" below)                          close, low, high); close := clamp(prev
//                                                                     close, low, high) if high and low are
//                                                                     trusted, else the row is dropped (a gap
//                                                                     like bad_row); the finding keeps the
//                                                                     original value
//   bad_tick / bad_row   the last row, one-sided (vs the row before   flagged only; re-checked two-sided when
//   (last row)           only): >= bad_tick_last_sigmas * sigma and   --update brings the next row
//                        >= bad_tick_min_factor
//   ohlc_inconsistent    high < max(o, l, c) or low > min(o, h, c)    high := max(o,h,l,c); low := min(o,h,l,c)
//   zero_volume_run      >= zero_volume_run days of volume 0          flagged
//   split_like_jump      close ratio near 2, 3, 4, 5 or 10 (or its    flagged, prices left as given
//                        inverse), not reverted the next day          (adjust_splits: earlier prices rescaled)
//   too_few_rows         fewer than min_rows rows left                ticker rejected
// clang-format on
//
// Spike (bad_tick, bad_row): for a field x of row t with neighbours p (previous kept row) and n (next),
//   a = log(x_t / x_p), b = log(x_t / x_n), same sign; size s = min(|a|, |b|); back the next day:
//   |log(x_n / x_p)| = |a - b| <= bad_tick_revert * s. sigma = max(bad_tick_min_scale, 1.4826 * MAD of the
//   close-to-close log returns within bad_tick_window rows on either side, the two returns touching
//   row t excluded). A split or a crash does not come back (b ~ 0, or |a - b| ~ s for a crash that
//   half-recovers), so neither is a spike. Rows are judged largest spike first against their current
//   neighbours (a dropped or repaired neighbour is no longer one); the first row has no previous row
//   and is not checked.
//
// Calendar findings (gap, late_start, early_end) come from aligning tickers (universe.h), and so do the
// price-basis findings (--prices adjusted, after every rule above: they judge raw prices):
// clang-format off
//   missing_adjustment   a row without a usable adjusted close (missing,   factor := the nearest earlier row's
//                        unparseable or <= 0)                             (1 before the first): no jump
//                                                                         beyond the day's own move
//   restated             update: re-sent stored rows with equal raw       the ticker's history rewritten with
//                        prices but a new factor (adjusted close /        the new factors (as a full rebuild);
//                        close): a new dividend restates the adjusted     reported by that update only
//                        past
// clang-format on
// Set-level findings (universe.h set_findings; real input only, not the generated universe):
// clang-format off
//   survivorship           no ticker's listing ends before the calendar's    warning, stored and repeated
//                          last day: today's members only, delisted losers   by stages 2-4
//                          missing, returns and accuracy biased up
//   price_returns_only     raw prices used (no adjusted-close column, or     warning, stored and repeated
//                          --prices raw): the close is not dividend-         by stages 2-4
//                          adjusted, returns are price returns
//   benchmark_price_index  adjusted (total-return) stocks, but the           warning, stored and repeated
//                          benchmark's adjusted close equals its close on    by stages 2-4
//                          every row (or it has none): a price index
// clang-format on
#pragma once

#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "qf/data/prices.h"

namespace qf::data {

struct ValidationOptions {
  std::int64_t zero_volume_run = 5;
  double split_tolerance = 0.03;  // relative distance of the close ratio to a split ratio
  bool adjust_splits = false;
  std::int64_t min_rows = 20;  // at least 1
  // Bad ticks and rows (see "Spike" above). A lost or extra digit is x10; the real set has x2 closes and
  // whole rows from another series 12-35 % off: a single field must be >= 10 sigma and >= x1.5 off
  // (flash-crash lows of 20-30 %, e.g. 2015-08-24, are genuine and below x1.5); a whole row >= 6 sigma
  // and >= x1.1 (three to four fields agreeing is much stronger evidence than one; 10 sigma missed
  // +25 % rows of volatile synthetic names, sigma ~ 3 %).
  std::int64_t bad_tick_window = 20;  // rows on either side for sigma
  double bad_tick_min_scale = 0.005;  // floor on sigma (stale prices have a MAD of 0)
  double bad_tick_sigmas = 10;        // single field: s >= this * sigma ...
  double bad_tick_min_factor = 1.5;   // ... and s >= log(this)
  double bad_row_sigmas = 6;          // whole row: s >= this * sigma ...
  double bad_row_min_factor = 1.1;    // ... and s >= log(this), for the close and two other fields
  double bad_tick_revert = 0.5;       // back the next day: |log(x_n / x_p)| <= this * s
  double bad_tick_last_sigmas = 20;   // last row, one-sided: |a| >= this * sigma (flag only)
  // Rows before this day are not checked for bad ticks (update: the stored history was checked).
  Day bad_tick_from = std::numeric_limits<Day>::min();
};

// The action of a bad_tick / bad_row finding on the last row (one-sided, flagged only): update()
// replaces it by the two-sided verdict once the next row arrives.
inline constexpr std::string_view kUnconfirmedAction =
    "flagged only: last row, no next day to confirm; re-checked when the next row comes (--update)";

struct TickerReport {
  std::string ticker;
  std::vector<std::string> files;
  std::string layout;
  std::int64_t rows_read = 0, rows_kept = 0;
  bool rejected = false;
  std::string reject_reason;
  std::vector<Finding> findings;
};

// The row-level rules alone (missing_close .. ohlc_inconsistent, without bad_tick/bad_row) applied to one row
// in place: what validate_and_repair does to each row, also used to compare re-sent rows with the store.
struct RowRepair {
  bool missing_close = false, missing_volume = false, non_positive = false, ohlc_inconsistent = false;
  std::string missing_fields;  // "open high low" (those that were empty)
  PriceRow filled;             // the row after filling missing values, before the OHLC fix
  bool dropped() const { return missing_close || non_positive; }
};
RowRepair repair_row(PriceRow& row);

// Repairs `series` in place (sorted, de-duplicated, repaired rows) and reports what it found.
TickerReport validate_and_repair(TickerSeries& series, const ValidationOptions& options = {});

// JSON of all reports (validation.json, json.h): {"prices", "tickers": [{"ticker", "layout", "rows_read",
// "rows_kept", "rejected", "reject_reason", "files", "findings": [{"kind", "file", "line", "date",
// "field", "detail", "action"}]}], "summary": {kind: count}, "set_findings": [{"kind", "date",
// "detail", "action"}]}.
// `prices` ("adjusted" or "raw", universe.h PriceBasis), when given, says which prices the panels hold.
std::string reports_to_json(const std::vector<TickerReport>& reports,
                            const std::vector<Finding>& set_findings = {}, const std::string& prices = "");
// A readable summary: counts per kind, rejected tickers, and the first findings of each kind.
std::string reports_summary(const std::vector<TickerReport>& reports, std::size_t examples_per_kind = 5);
// The set-level findings as "warning (kind): detail" lines; empty when there are none.
std::string set_findings_summary(const std::vector<Finding>& set_findings);

}  // namespace qf::data
