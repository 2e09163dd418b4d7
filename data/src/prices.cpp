#include "qf/data/prices.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <chrono>
#include <cmath>
#include <limits>
#include <map>
#include <optional>
#include <span>

#include "qf/data/csv.h"

namespace qf::data {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Column positions found in a header; -1 when absent.
struct Columns {
  int date = -1, open = -1, high = -1, low = -1, close = -1, adj_close = -1, volume = -1, ticker = -1,
      open_int = -1, period = -1;
  bool bracketed = false;  // Stooq's bulk files write every name in angle brackets: <CLOSE>
};

// Stooq's bulk header "<CLOSE>" reads as "close"; `bracketed` remembers that it was one.
std::string column_name(const std::string& raw, bool& bracketed) {
  std::string h = normalize_header(raw);
  if (h.size() > 2 && h.front() == '<' && h.back() == '>') {
    bracketed = true;
    h = h.substr(1, h.size() - 2);
  }
  return h;
}

Columns find_columns(const std::vector<std::string>& header) {
  Columns c;
  for (int i = 0; i < static_cast<int>(header.size()); ++i) {
    const std::string h = column_name(header[static_cast<std::size_t>(i)], c.bracketed);
    if (h == "date" || h == "timestamp")
      c.date = i;
    else if (h == "open")
      c.open = i;
    else if (h == "high")
      c.high = i;
    else if (h == "low")
      c.low = i;
    else if (h == "close")
      c.close = i;
    else if (h == "adj close" || h == "adj_close" || h == "adjclose")
      c.adj_close = i;
    else if (h == "volume" || h == "vol")
      c.volume = i;
    else if (h == "name" || h == "ticker" || h == "symbol")
      c.ticker = i;
    else if (h == "openint")
      c.open_int = i;
    else if (h == "per")
      c.period = i;
  }
  return c;
}

PriceLayout layout_of(const Columns& c) {
  if (c.bracketed || c.period >= 0) return PriceLayout::stooq_bulk;
  if (c.adj_close >= 0) return PriceLayout::yahoo;
  if (c.open_int >= 0) return PriceLayout::stooq;
  if (c.ticker >= 0) return PriceLayout::kaggle;
  return PriceLayout::generic;
}

std::string upper(std::string text) {
  for (char& ch : text) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  return text;
}

bool ends_with_ci(const std::string& text, std::string_view suffix) {
  return text.size() > suffix.size() &&
         upper(text.substr(text.size() - suffix.size())) == upper(std::string(suffix));
}

// Parses a number; empty, "null", "nan" and "NA" are missing (NaN, ok = true); garbage gives ok = false.
double parse_number(const std::string& text, bool& ok) {
  ok = true;
  std::string_view s = text;
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  if (s.empty() || s == "null" || s == "NaN" || s == "nan" || s == "NA" || s == "N/A") return kNaN;
  double value = 0;
  const auto [end, error] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (error != std::errc() || end != s.data() + s.size() || !std::isfinite(value)) {
    ok = false;
    return kNaN;
  }
  return value;
}

}  // namespace

std::string to_string(PriceLayout layout) {
  switch (layout) {
    case PriceLayout::kaggle:
      return "kaggle";
    case PriceLayout::yahoo:
      return "yahoo";
    case PriceLayout::stooq:
      return "stooq";
    case PriceLayout::stooq_bulk:
      return "stooq_bulk";
    case PriceLayout::generic:
      break;
  }
  return "generic";
}

bool parse_date(std::string_view text, Day& day) {
  int y = 0;
  unsigned m = 0, d = 0;
  auto number = [](std::string_view s, auto& out) {
    const auto [end, error] = std::from_chars(s.data(), s.data() + s.size(), out);
    return error == std::errc() && end == s.data() + s.size();
  };
  if (text.size() == 10 && text[4] == '-' && text[7] == '-') {
    if (!number(text.substr(0, 4), y) || !number(text.substr(5, 2), m) || !number(text.substr(8, 2), d))
      return false;
  } else if (text.size() == 8) {
    if (!number(text.substr(0, 4), y) || !number(text.substr(4, 2), m) || !number(text.substr(6, 2), d))
      return false;
  } else {
    return false;
  }
  const std::chrono::year_month_day ymd{std::chrono::year{y}, std::chrono::month{m}, std::chrono::day{d}};
  if (!ymd.ok() || y < 1900 || y > 2200) return false;
  day = static_cast<Day>(std::chrono::sys_days(ymd).time_since_epoch().count());
  return true;
}

std::string format_date(Day day) {
  const std::chrono::year_month_day ymd{std::chrono::sys_days{std::chrono::days{day}}};
  char buffer[16];
  std::snprintf(buffer, sizeof buffer, "%04d-%02u-%02u", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()));
  return buffer;
}

bool is_safe_ticker(const std::string& t) {
  if (t.empty() || t.size() > 15 || t.front() == '.' || t.front() == '-') return false;
  for (char c : t)
    if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '^' || c == '_'))
      return false;
  return true;
}

namespace {

// Stooq's market suffixes (its bulk downloads d_us_txt, d_uk_txt, ...): AAPL.US is AAPL.
constexpr std::array<std::string_view, 7> kMarketSuffixes = {"US", "UK", "DE", "JP", "HK", "HU", "PL"};
// File-name decorations that are not part of a ticker: AAPL_data.csv (Kaggle), gspc_daily.csv.
constexpr std::array<std::string_view, 2> kExtensions = {".csv", ".txt"};
constexpr std::array<std::string_view, 2> kNameSuffixes = {"_data", "_daily"};

// Drops the first of `suffixes` that `name` ends with (case-insensitively; never the whole name).
void drop_suffix(std::string& name, std::span<const std::string_view> suffixes) {
  for (const std::string_view suffix : suffixes)
    if (ends_with_ci(name, suffix)) {
      name.resize(name.size() - suffix.size());
      return;
    }
}

}  // namespace

std::string canonical_ticker(std::string_view raw) {
  std::string t = upper(normalize_header(raw));
  std::replace(t.begin(), t.end(), '-', '.');  // Yahoo's BRK-B is the real set's BRK.B
  const auto dot = t.rfind('.');
  if (dot != std::string::npos && dot > 0 &&
      std::find(kMarketSuffixes.begin(), kMarketSuffixes.end(), std::string_view(t).substr(dot + 1)) !=
          kMarketSuffixes.end())
    t.resize(dot);
  return t;
}

std::string ticker_from_file_name(const std::filesystem::path& path) {
  std::string name = path.filename().string();
  drop_suffix(name, kExtensions);
  drop_suffix(name, kNameSuffixes);
  return canonical_ticker(name);  // not cut at '_' or '.': ETF_SPY, BF.B stay whole
}

namespace {

std::string joined(const std::vector<std::string>& fields) {
  std::string text;
  for (const auto& f : fields) text += (text.empty() ? "" : ",") + f;
  return text.substr(0, 200);
}

// The header's columns, or an InputError naming the file when it is empty or matches no layout.
Columns price_columns(const CsvTable& table, const std::string& file) {
  if (table.header.empty())
    throw InputError(file, 1, "date", "not a price file: the file is empty (no header line)");
  const Columns c = find_columns(table.header);
  if (c.date >= 0 && c.close >= 0) return c;
  const std::string missing = c.date < 0 ? "date" : "close";
  Day day = 0;
  const bool data_first = std::any_of(table.header.begin(), table.header.end(),
                                      [&](const std::string& h) { return parse_date(h, day); });
  throw InputError(file, 1, missing,
                   "not a price file: " +
                       (data_first ? "no header line, the first line '" + joined(table.header) + "' is data"
                                   : "header '" + joined(table.header) + "' has no " + missing + " column") +
                       " (known layouts: kaggle, yahoo, stooq, stooq bulk, any header with date and close)");
}

// Only daily bars are read: Stooq's bulk files also come weekly or monthly (<PER> W, M).
void check_daily(const CsvTable& table, std::size_t r, const Columns& c, const std::string& file) {
  if (c.period < 0) return;
  const auto& fields = table.rows[r];
  const auto column = static_cast<std::size_t>(c.period);
  if (column >= fields.size() || upper(normalize_header(fields[column])) == "D") return;
  throw InputError(
      file, table.line_numbers[r], table.header[column],
      "period '" + fields[column].substr(0, 20) + "' is not daily (D): only daily prices are read");
}

// Parses one row's date and numbers; on a bad field adds a finding to `s` and returns nothing.
std::optional<PriceRow> parse_row(const std::vector<std::string>& fields, const Columns& c,
                                  const std::string& file, std::int64_t line, TickerSeries& s) {
  PriceRow row{};
  row.line = line;
  const std::string& date_text = fields[static_cast<std::size_t>(c.date)];
  if (!parse_date(date_text, row.day)) {
    s.findings.push_back({"unparseable_line", file, line, "", "date",
                          "unparseable date '" + date_text.substr(0, 40) + "'", "row dropped"});
    return std::nullopt;
  }
  bool row_ok = true;
  auto number = [&](int column, const char* name) {
    if (column < 0) return kNaN;
    bool ok = true;
    const double v = parse_number(fields[static_cast<std::size_t>(column)], ok);
    if (!ok) {
      s.findings.push_back(
          {"unparseable_line", file, line, format_date(row.day), name,
           "unparseable number '" + fields[static_cast<std::size_t>(column)].substr(0, 40) + "'",
           "row dropped"});
      row_ok = false;
    }
    return v;
  };
  row.open = number(c.open, "open");
  row.high = number(c.high, "high");
  row.low = number(c.low, "low");
  row.close = number(c.close, "close");
  row.volume = number(c.volume, "volume");
  // An unusable adjusted close does not drop the row: the raw prices are fine, and the row gets the
  // nearest earlier factor when aligning (missing_adjustment).
  if (c.adj_close >= 0) {
    bool ok = true;
    const double adjusted_close = parse_number(fields[static_cast<std::size_t>(c.adj_close)], ok);
    if (adjusted_close > 0 && row.close > 0) row.adjustment = adjusted_close / row.close;
  }
  return row_ok ? std::optional<PriceRow>(row) : std::nullopt;
}

}  // namespace

std::vector<TickerSeries> read_price_file(const std::filesystem::path& path) {
  const CsvTable table = read_csv(path);
  const std::string file = path.string();
  const Columns c = price_columns(table, file);
  const PriceLayout layout = layout_of(c);
  std::map<std::string, TickerSeries> by_ticker;
  const std::string file_ticker = ticker_from_file_name(path);
  auto series_for = [&](const std::string& ticker) -> TickerSeries& {
    TickerSeries& s = by_ticker[ticker];
    if (s.ticker.empty()) s = TickerSeries{ticker, {file}, layout, {}, {}, c.adj_close >= 0};
    return s;
  };

  const std::size_t width = table.header.size();
  std::string last_ticker;  // a row with the wrong number of fields belongs to the row before it
  for (std::size_t r = 0; r < table.rows.size(); ++r) {
    const auto& fields = table.rows[r];
    const std::int64_t line = table.line_numbers[r];
    std::string ticker = file_ticker;
    if (fields.size() != width && !last_ticker.empty()) {
      ticker = last_ticker;
    } else if (c.ticker >= 0 && static_cast<std::size_t>(c.ticker) < fields.size() &&
               !fields[static_cast<std::size_t>(c.ticker)].empty()) {
      ticker = canonical_ticker(fields[static_cast<std::size_t>(c.ticker)]);
    }
    last_ticker = ticker;
    TickerSeries& s = series_for(ticker);
    if (fields.size() != width) {
      s.findings.push_back(
          {"unparseable_line", file, line, "", "",
           std::to_string(fields.size()) + " fields where the header has " + std::to_string(width),
           "row dropped"});
      continue;
    }
    check_daily(table, r, c, file);
    if (auto row = parse_row(fields, c, file, line, s)) s.rows.push_back(*row);
  }
  std::vector<TickerSeries> out;
  for (auto& [ticker, s] : by_ticker) out.push_back(std::move(s));
  if (out.empty()) out.push_back(TickerSeries{file_ticker, {file}, layout, {}, {}, c.adj_close >= 0});
  return out;
}

}  // namespace qf::data
