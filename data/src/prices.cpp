#include "qf/data/prices.h"

#include <charconv>
#include <chrono>
#include <cmath>
#include <limits>
#include <map>

#include "qf/data/csv.h"

namespace qf::data {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Column positions found in a header; -1 when absent.
struct Columns {
  int date = -1, open = -1, high = -1, low = -1, close = -1, adj_close = -1, volume = -1, ticker = -1,
      open_int = -1;
};

Columns find_columns(const std::vector<std::string>& header) {
  Columns c;
  for (int i = 0; i < static_cast<int>(header.size()); ++i) {
    const std::string h = normalize_header(header[static_cast<std::size_t>(i)]);
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
  }
  return c;
}

PriceLayout layout_of(const Columns& c) {
  if (c.adj_close >= 0) return PriceLayout::yahoo;
  if (c.open_int >= 0) return PriceLayout::stooq;
  if (c.ticker >= 0) return PriceLayout::kaggle;
  return PriceLayout::generic;
}

std::string ticker_from_file_name(const std::filesystem::path& path) {
  std::string stem = path.filename().string();
  const auto cut = stem.find_first_of("_.");
  if (cut != std::string::npos) stem.resize(cut);
  for (char& ch : stem) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  return stem;
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
    if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '^')) return false;
  return true;
}

std::vector<TickerSeries> read_price_file(const std::filesystem::path& path) {
  const CsvTable table = read_csv(path);
  const std::string file = path.string();
  const Columns c = find_columns(table.header);
  std::string header_text;
  for (const auto& h : table.header) header_text += (header_text.empty() ? "" : ",") + h;
  if (c.date < 0 || c.close < 0)
    throw InputError(file, 1, c.date < 0 ? "date" : "close",
                     "not a price file: header '" + header_text.substr(0, 200) + "' has no " +
                         (c.date < 0 ? "date" : "close") + " column");

  const PriceLayout layout = layout_of(c);
  std::map<std::string, TickerSeries> by_ticker;
  const std::string file_ticker = ticker_from_file_name(path);
  auto series_for = [&](const std::string& ticker) -> TickerSeries& {
    TickerSeries& s = by_ticker[ticker];
    if (s.ticker.empty()) {
      s.ticker = ticker;
      s.files = {file};
      s.layout = layout;
    }
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
      ticker = normalize_header(fields[static_cast<std::size_t>(c.ticker)]);
    }
    for (char& ch : ticker) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    last_ticker = ticker;
    TickerSeries& s = series_for(ticker);
    if (fields.size() != width) {
      s.findings.push_back(
          {"unparseable_line", file, line, "", "",
           std::to_string(fields.size()) + " fields where the header has " + std::to_string(width),
           "row dropped"});
      continue;
    }
    PriceRow row{};
    row.line = line;
    const std::string& date_text = fields[static_cast<std::size_t>(c.date)];
    if (!parse_date(date_text, row.day)) {
      s.findings.push_back({"unparseable_line", file, line, "", "date",
                            "unparseable date '" + date_text.substr(0, 40) + "'", "row dropped"});
      continue;
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
    if (row_ok) s.rows.push_back(row);
  }
  std::vector<TickerSeries> out;
  for (auto& [ticker, s] : by_ticker) out.push_back(std::move(s));
  if (out.empty()) out.push_back(TickerSeries{file_ticker, {file}, layout, {}, {}});
  return out;
}

}  // namespace qf::data
