#include "qf/data/validation.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <sstream>

#include "bad_ticks.h"
#include "qf/core/require.h"
#include "qf/data/json.h"

namespace qf::data {

namespace {

std::string number_text(double v) {
  std::ostringstream out;
  out.precision(10);
  out << v;
  return out.str();
}

// The split ratio that `ratio` is within `tolerance` of, or 0.
double near_split_ratio(double ratio, double tolerance) {
  // 3:2 is left out: moves of +-50 % happen in real markets (earnings, spin-offs) far more often.
  for (double k : {2.0, 3.0, 4.0, 5.0, 10.0}) {
    for (double target : {k, 1.0 / k})
      if (std::abs(ratio / target - 1.0) <= tolerance) return target;
  }
  return 0.0;
}

// high := max(o,h,l,c), low := min(o,h,l,c); true when that changed the row.
bool fix_ohlc(PriceRow& row) {
  const double top = std::max({row.open, row.high, row.low, row.close});
  const double bottom = std::min({row.open, row.high, row.low, row.close});
  if (row.high == top && row.low == bottom) return false;
  row.high = top;
  row.low = bottom;
  return true;
}

}  // namespace

RowRepair repair_row(PriceRow& row) {
  RowRepair r;
  if (std::isnan(row.close)) {
    r.missing_close = true;
    r.filled = row;
    return r;
  }
  const bool open_missing = std::isnan(row.open), high_missing = std::isnan(row.high),
             low_missing = std::isnan(row.low);
  if (open_missing) r.missing_fields += "open ";
  if (high_missing) r.missing_fields += "high ";
  if (low_missing) r.missing_fields += "low ";
  if (!r.missing_fields.empty()) r.missing_fields.pop_back();
  if (open_missing) row.open = row.close;
  if (high_missing) row.high = std::max(row.open, row.close);
  if (low_missing) row.low = std::min(row.open, row.close);
  if (std::isnan(row.volume)) {
    r.missing_volume = true;
    row.volume = 0;
  }
  r.filled = row;
  if (row.open <= 0 || row.high <= 0 || row.low <= 0 || row.close <= 0 || row.volume < 0) {
    r.non_positive = true;
    return r;
  }
  r.ohlc_inconsistent = fix_ohlc(row);
  return r;
}

namespace {

// Rows in date order (a stable sort, noted once) without repeated dates: the first row of a date is
// kept, later ones are reported as duplicates.
std::vector<PriceRow> sorted_unique_rows(std::vector<PriceRow>& rows, std::vector<Finding>& findings,
                                         const std::string& file, const detail::AddFinding& add) {
  if (!std::is_sorted(rows.begin(), rows.end(), [](auto& a, auto& b) { return a.day < b.day; })) {
    findings.push_back({"unsorted_dates", file, 0, "", "date", "rows are not in date order", "rows sorted"});
    std::stable_sort(rows.begin(), rows.end(), [](auto& a, auto& b) { return a.day < b.day; });
  }
  std::vector<PriceRow> unique;
  unique.reserve(rows.size());
  for (const PriceRow& row : rows) {
    if (!unique.empty() && unique.back().day == row.day) {
      const PriceRow& first = unique.back();
      const bool same = (first.close == row.close) &&
                        (first.open == row.open || (std::isnan(first.open) && std::isnan(row.open)));
      add("duplicate_date", row, "date", "date also on line " + std::to_string(first.line),
          same ? "identical duplicate dropped" : "conflicting duplicate: first row kept");
      continue;
    }
    unique.push_back(row);
  }
  return unique;
}

// Field-level repairs (repair_row): missing values filled, unusable rows dropped. The OHLC fix waits
// until the bad ticks are repaired, so that a bad field is never copied into another.
std::vector<PriceRow> filled_usable_rows(const std::vector<PriceRow>& rows, const detail::AddFinding& add) {
  std::vector<PriceRow> kept;
  kept.reserve(rows.size());
  for (PriceRow row : rows) {
    const RowRepair r = repair_row(row);
    const PriceRow& f = r.filled;  // the values the later checks saw
    if (r.missing_close) {
      add("missing_close", row, "close", "close is missing", "row dropped");
      continue;
    }
    if (!r.missing_fields.empty())
      add("missing_field", row, r.missing_fields.substr(0, r.missing_fields.find(' ')).c_str(),
          "empty: " + r.missing_fields,
          "filled from close (open := close, high/low := max/min of open, close)");
    if (r.missing_volume) add("missing_volume", row, "volume", "volume is missing", "volume := 0");
    if (r.non_positive) {
      add("non_positive_price", row, f.close <= 0 ? "close" : "open/high/low/volume",
          "o=" + number_text(f.open) + " h=" + number_text(f.high) + " l=" + number_text(f.low) +
              " c=" + number_text(f.close) + " v=" + number_text(f.volume),
          "row dropped");
      continue;
    }
    kept.push_back(f);
  }
  return kept;
}

void fix_inconsistent_ohlc(std::vector<PriceRow>& rows, const detail::AddFinding& add) {
  for (PriceRow& row : rows) {
    const PriceRow f = row;
    if (fix_ohlc(row))
      add("ohlc_inconsistent", row, f.high != row.high ? "high" : "low",
          "o=" + number_text(f.open) + " h=" + number_text(f.high) + " l=" + number_text(f.low) +
              " c=" + number_text(f.close),
          "high := max(o,h,l,c), low := min(o,h,l,c)");
  }
}

void flag_zero_volume_runs(const std::vector<PriceRow>& rows, const ValidationOptions& o,
                           const detail::AddFinding& add) {
  for (std::size_t i = 0; i < rows.size();) {
    std::size_t j = i;
    while (j < rows.size() && rows[j].volume == 0) ++j;
    if (static_cast<std::int64_t>(j - i) >= o.zero_volume_run)
      add("zero_volume_run", rows[i], "volume",
          std::to_string(j - i) + " days of zero volume until " + format_date(rows[j - 1].day), "flagged");
    i = j > i ? j : i + 1;
  }
}

// Close-to-close jumps near a split ratio that do not revert the next day (nor revert the day before):
// flagged, and with adjust_splits the earlier rows rescaled by the ratio.
void flag_split_like_jumps(std::vector<PriceRow>& kept, const ValidationOptions& o,
                           const detail::AddFinding& add) {
  for (std::size_t t = 1; t < kept.size(); ++t) {
    const double ratio = kept[t].close / kept[t - 1].close;
    const double split = near_split_ratio(ratio, o.split_tolerance);
    if (split == 0.0) continue;
    // A one-day spike (one bad close) moves out and back: neither half is a split.
    const double size = std::abs(std::log(ratio));
    const bool reverted_next = t + 1 < kept.size() &&
                               std::log(kept[t + 1].close / kept[t].close) * std::log(ratio) < 0 &&
                               std::abs(std::log(kept[t + 1].close / kept[t].close)) > 0.5 * size;
    const bool reverts_previous = t >= 2 &&
                                  std::log(kept[t - 1].close / kept[t - 2].close) * std::log(ratio) < 0 &&
                                  std::abs(std::log(kept[t - 1].close / kept[t - 2].close)) > 0.5 * size;
    if (reverted_next || reverts_previous) continue;
    add("split_like_jump", kept[t], "close",
        "close " + number_text(kept[t - 1].close) + " -> " + number_text(kept[t].close) + " (ratio " +
            number_text(ratio) + ", near " +
            (split < 1 ? "1:" + number_text(1 / split) : number_text(split) + ":1") + ")",
        o.adjust_splits ? "earlier prices rescaled by the split ratio" : "flagged, prices left as given");
    if (o.adjust_splits)
      for (std::size_t k = 0; k < t; ++k) {
        kept[k].open *= split;
        kept[k].high *= split;
        kept[k].low *= split;
        kept[k].close *= split;
        kept[k].volume /= split;
        kept[k].adjustment /= split;  // adjusted close / (close * split): the adjusted price is unchanged
      }
  }
}

}  // namespace

// The rules of validation.h in their order; every finding goes through `add` (or straight into
// report.findings where it has no row).
TickerReport validate_and_repair(TickerSeries& s, const ValidationOptions& o) {
  QF_REQUIRE(o.min_rows >= 1, "validation", "min_rows", o.min_rows, "must be at least 1");
  TickerReport report;
  report.ticker = s.ticker;
  report.files = s.files;
  report.layout = to_string(s.layout);
  report.findings = s.findings;
  report.rows_read = static_cast<std::int64_t>(s.rows.size());
  for (const auto& f : s.findings) report.rows_read += f.kind == "unparseable_line" ? 1 : 0;
  const std::string file = s.files.empty() ? std::string() : s.files.front();
  const detail::AddFinding add = [&](const char* kind, const PriceRow& row, const char* field,
                                     std::string detail, const char* action) {
    report.findings.push_back({kind, file, row.line, format_date(row.day), field, std::move(detail), action});
  };

  std::vector<PriceRow> kept =
      filled_usable_rows(sorted_unique_rows(s.rows, report.findings, file, add), add);
  detail::apply_bad_tick_rules(kept, o, add);
  fix_inconsistent_ohlc(kept, add);
  flag_zero_volume_runs(kept, o, add);
  flag_split_like_jumps(kept, o, add);

  s.rows = std::move(kept);
  report.rows_kept = static_cast<std::int64_t>(s.rows.size());
  if (report.rows_kept < o.min_rows) {
    report.rejected = true;
    report.reject_reason = std::to_string(report.rows_kept) + " valid rows, fewer than the minimum of " +
                           std::to_string(o.min_rows);
    report.findings.push_back({"too_few_rows", file, 0, "", "", report.reject_reason, "ticker rejected"});
  }
  return report;
}

namespace {
std::map<std::string, std::int64_t> count_kinds(const std::vector<TickerReport>& reports) {
  std::map<std::string, std::int64_t> counts;
  for (const auto& r : reports)
    for (const auto& f : r.findings) ++counts[f.kind];
  return counts;
}
}  // namespace

std::string reports_to_json(const std::vector<TickerReport>& reports,
                            const std::vector<Finding>& set_findings, const std::string& prices) {
  Json out = Json::object();
  if (!prices.empty()) out["prices"] = prices;
  Json& tickers = out["tickers"] = Json::array();
  for (const auto& r : reports) {
    Json findings = Json::array();
    for (const auto& f : r.findings)
      findings.push_back({{"kind", f.kind},
                          {"file", f.file},
                          {"line", f.line},
                          {"date", f.date},
                          {"field", f.field},
                          {"detail", f.detail},
                          {"action", f.action}});
    tickers.push_back({{"ticker", r.ticker},
                       {"layout", r.layout},
                       {"rows_read", r.rows_read},
                       {"rows_kept", r.rows_kept},
                       {"rejected", r.rejected},
                       {"reject_reason", r.reject_reason},
                       {"files", r.files},
                       {"findings", std::move(findings)}});
  }
  Json& summary = out["summary"] = Json::object();
  for (const auto& [kind, n] : count_kinds(reports)) summary[kind] = n;
  Json& set = out["set_findings"] = Json::array();
  for (const auto& f : set_findings)
    set.push_back({{"kind", f.kind}, {"date", f.date}, {"detail", f.detail}, {"action", f.action}});
  return json_text(out);
}

std::string reports_summary(const std::vector<TickerReport>& reports, std::size_t examples_per_kind) {
  std::ostringstream out;
  std::int64_t rows_read = 0, rows_kept = 0, rejected = 0;
  for (const auto& r : reports) {
    rows_read += r.rows_read;
    rows_kept += r.rows_kept;
    rejected += r.rejected ? 1 : 0;
  }
  out << reports.size() << " tickers, " << rows_read << " rows read, " << rows_kept << " kept, " << rejected
      << " tickers rejected\n";
  const auto counts = count_kinds(reports);
  if (counts.empty()) out << "no findings\n";
  for (const auto& [kind, n] : counts) {
    out << "  " << kind << ": " << n << '\n';
    std::size_t shown = 0;
    for (const auto& r : reports)
      for (const auto& f : r.findings) {
        if (f.kind != kind || shown >= examples_per_kind) continue;
        ++shown;
        out << "      " << r.ticker << ' ';
        if (!f.date.empty()) out << f.date << ' ';
        out << f.file;
        if (f.line > 0) out << ':' << f.line;
        if (!f.field.empty()) out << " [" << f.field << ']';
        out << ": " << f.detail << " -> " << f.action << '\n';
      }
    if (static_cast<std::int64_t>(shown) < n)
      out << "      ... and " << n - static_cast<std::int64_t>(shown) << " more\n";
  }
  for (const auto& r : reports)
    if (r.rejected) out << "  rejected " << r.ticker << ": " << r.reject_reason << '\n';
  return out.str();
}

std::string set_findings_summary(const std::vector<Finding>& set_findings) {
  std::string out;
  for (const auto& f : set_findings) out += "warning (" + f.kind + "): " + f.detail + "\n";
  return out;
}

}  // namespace qf::data
