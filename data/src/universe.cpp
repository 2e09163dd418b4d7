#include "qf/data/universe.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>

#include "qf/data/csv.h"

namespace qf::data {

namespace {
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
}

std::int64_t Universe::index_of(const std::string& ticker) const {
  const auto it = std::lower_bound(tickers.begin(), tickers.end(), ticker);
  return it != tickers.end() && *it == ticker ? it - tickers.begin() : -1;
}

std::vector<std::filesystem::path> list_price_files(const std::filesystem::path& folder,
                                                    const IngestOptions& options) {
  if (!std::filesystem::is_directory(folder)) throw InputError(folder.string(), 0, "", "not a folder");
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(folder)) {
    if (!entry.is_regular_file() || entry.path().extension() != ".csv") continue;
    std::error_code ignored;
    if ((!options.constituents.empty() &&
         std::filesystem::equivalent(entry.path(), options.constituents, ignored)) ||
        (!options.benchmark.empty() && std::filesystem::equivalent(entry.path(), options.benchmark, ignored)))
      continue;
    files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

Universe ingest(const std::vector<std::filesystem::path>& files, const IngestOptions& options) {
  std::map<std::string, TickerSeries> by_ticker;
  for (const auto& file : files)
    for (TickerSeries& s : read_price_file(file)) {
      auto [it, inserted] = by_ticker.try_emplace(s.ticker, std::move(s));
      if (!inserted)
        throw InputError(file.string(), 0, "",
                         "ticker " + it->first + " also comes from " + it->second.files.front());
    }
  std::vector<TickerSeries> accepted;
  std::vector<TickerReport> reports;
  for (auto& [ticker, s] : by_ticker) {
    if (!is_safe_ticker(ticker)) {
      TickerReport r;
      r.ticker = ticker;
      r.files = s.files;
      r.rejected = true;
      r.reject_reason = "unsafe ticker name (allowed: A-Z 0-9 . - ^, at most 15)";
      r.findings.push_back(
          {"unsafe_ticker", s.files.front(), 0, "", "ticker", ticker.substr(0, 40), "ticker rejected"});
      reports.push_back(std::move(r));
      continue;
    }
    TickerReport r = validate_and_repair(s, options.validation);
    if (!r.rejected) accepted.push_back(std::move(s));
    reports.push_back(std::move(r));
  }
  Universe u = align(std::move(accepted), std::move(reports));
  if (!options.constituents.empty()) attach_constituents(u, options.constituents);
  if (!options.benchmark.empty()) attach_benchmark(u, options.benchmark);
  return u;
}

Universe align(std::vector<TickerSeries> series, std::vector<TickerReport> reports) {
  std::sort(series.begin(), series.end(), [](auto& a, auto& b) { return a.ticker < b.ticker; });
  Universe u;
  for (const auto& s : series) {
    u.tickers.push_back(s.ticker);
    for (const auto& row : s.rows) u.days.push_back(row.day);
  }
  std::sort(u.days.begin(), u.days.end());
  u.days.erase(std::unique(u.days.begin(), u.days.end()), u.days.end());
  const std::int64_t D = u.day_count(), N = u.ticker_count();
  for (Tensor* panel : {&u.open, &u.high, &u.low, &u.close, &u.volume})
    *panel = Tensor::full({D, N}, kNaN, DType::f64);
  u.listed.assign(static_cast<std::size_t>(D * N), 0);
  u.present.assign(static_cast<std::size_t>(D * N), 0);
  u.sector.assign(static_cast<std::size_t>(N), "");
  u.market_cap.assign(static_cast<std::size_t>(N), kNaN);

  std::map<std::string, TickerReport*> report_of;
  for (auto& r : reports) report_of[r.ticker] = &r;
  double* open = u.open.data<double>();
  double* high = u.high.data<double>();
  double* low = u.low.data<double>();
  double* close = u.close.data<double>();
  double* volume = u.volume.data<double>();
  for (std::int64_t i = 0; i < N; ++i) {
    const TickerSeries& s = series[static_cast<std::size_t>(i)];
    TickerReport* report = report_of.count(s.ticker) ? report_of[s.ticker] : nullptr;
    const std::string file = s.files.empty() ? std::string() : s.files.front();
    auto day_index = [&](Day day) {
      return std::lower_bound(u.days.begin(), u.days.end(), day) - u.days.begin();
    };
    const std::int64_t first = day_index(s.rows.front().day), last = day_index(s.rows.back().day);
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
        const PriceRow& row = s.rows[r++];
        open[k] = row.open;
        high[k] = row.high;
        low[k] = row.low;
        close[k] = row.close;
        volume[k] = row.volume;
        u.present[k] = 1;
      } else {
        if (gap_start < 0) gap_start = d;
        const double previous = close[k - static_cast<std::size_t>(N)];
        open[k] = high[k] = low[k] = close[k] = previous;
        volume[k] = 0;
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
  u.reports = std::move(reports);
  return u;
}

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
    const std::int64_t i = u.index_of(row[static_cast<std::size_t>(symbol)]);
    if (i < 0) continue;
    if (sector >= 0) u.sector[static_cast<std::size_t>(i)] = row[static_cast<std::size_t>(sector)];
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
  for (const PriceRow& row : series.front().rows) {
    const auto it = std::lower_bound(u.days.begin(), u.days.end(), row.day);
    if (it != u.days.end() && *it == row.day)
      u.benchmark_close[static_cast<std::size_t>(it - u.days.begin())] = row.close;
  }
}

}  // namespace qf::data
