#include "qf/quant/backtest/report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <map>
#include <sstream>
#include <stdexcept>

#include "qf/core/require.h"

namespace qf::quant {

std::string html_escape(const std::string& s) {
  std::string out;
  for (const char c : s) {
    if (c == '<')
      out += "&lt;";
    else if (c == '>')
      out += "&gt;";
    else if (c == '&')
      out += "&amp;";
    else if (c == '"')
      out += "&quot;";
    else
      out += c;
  }
  return out;
}

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr const char* kStyle =
    "body{font-family:system-ui,sans-serif;margin:24px;color:#222;max-width:960px}h1{margin-bottom:2px}"
    "h2{margin-top:28px;border-bottom:1px solid "
    "#ddd}.sub{color:#666}table{border-collapse:collapse;font-size:13px}"
    "td,th{border:1px solid #ddd;padding:3px "
    "7px;text-align:right}th{background:#f4f4f4}.met{color:#1e7d34;font-weight:bold}"
    ".notmet{color:#b03020;font-weight:bold}.warning,.alert{color:#b03020;font-weight:bold}"
    ".fewcalls{color:#8a6d00;font-weight:bold}.chart text{font-size:11px;fill:#444}.grid{stroke:#e6e6e6}"
    "#stocks th{cursor:pointer}.heat td{min-width:34px}\n";
constexpr int kWidth = 900, kHeight = 260, kLeft = 64, kRight = 16, kTop = 24, kBottom = 28;

std::string pct(double v, int digits = 2) {
  return std::isfinite(v) ? format_fixed(100 * v, digits) + " %" : "n/a";
}
// The costs as a share of the gross P&L ("n/a" when the gross P&L is not positive).
std::string cost_share(const Evaluation& e) {
  return e.gross_pnl > 0 ? pct(e.costs_paid / e.gross_pnl, 0) : "n/a";
}
// The CSS class of a scorecard line's state: met, not met, or too few calls to tell.
const char* state_class(const ScorecardLine& l) {
  switch (l.state) {
    case ScorecardState::met:
      return "met";
    case ScorecardState::not_met:
      return "notmet";
    case ScorecardState::too_few_calls:
      return "fewcalls";
  }
  return "";
}
// Horizontal bars around a zero line with their labels on the left and their values in a column on the
// right (e.g. P&L per sector), in percent.
std::string bar_chart(const std::vector<std::pair<std::string, double>>& bars, const std::string& id) {
  const int row = 22, height = kTop + row * static_cast<int>(bars.size()) + 8, left = 230;
  double extent = 1e-12;
  for (const auto& b : bars) extent = std::max(extent, std::abs(b.second));
  const double zero = left + (kWidth - left - 80) / 2.0, scale = (kWidth - left - 80) / 2.0 / extent;
  std::ostringstream svg;
  svg << "<svg id=\"" << id << "\" class=\"chart\" viewBox=\"0 0 " << kWidth << ' ' << height << "\" width=\""
      << kWidth << "\" height=\"" << height << "\">\n<line class=\"grid\" x1=\"" << zero << "\" x2=\"" << zero
      << "\" y1=\"" << kTop - 6 << "\" y2=\"" << height << "\"/>\n";
  for (std::size_t k = 0; k < bars.size(); ++k) {
    const double v = bars[k].second, y = kTop + row * static_cast<double>(k);
    const double x = v >= 0 ? zero : zero + v * scale;
    svg << "<text class=\"axis\" x=\"" << left - 8 << "\" y=\"" << y + 14 << "\" text-anchor=\"end\">"
        << html_escape(bars[k].first) << "</text><rect class=\"bar\" x=\"" << format_fixed(x, 1) << "\" y=\""
        << y + 3 << "\" width=\"" << format_fixed(std::max(std::abs(v) * scale, 0.5), 1) << "\" height=\""
        << row - 6 << "\" fill=\"" << (v >= 0 ? "#2a9d4a" : "#c0392b") << "\"/><text class=\"axis\" x=\""
        << kWidth - 8 << "\" y=\"" << y + 14 << "\" text-anchor=\"end\">" << pct(v) << "</text>\n";
  }
  svg << "</svg>\n";
  return svg.str();
}

// Histogram of daily returns with a line at zero.
std::string histogram(const std::vector<double>& values, const std::string& id) {
  const int bins = 40;
  double lo = 0, hi = 0;
  for (const double v : values) lo = std::min(lo, v), hi = std::max(hi, v);
  if (hi - lo < 1e-12) hi = lo + 1e-3;
  std::vector<int> counts(bins, 0);
  for (const double v : values)
    ++counts[static_cast<std::size_t>(std::min(bins - 1, static_cast<int>((v - lo) / (hi - lo) * bins)))];
  const int top = std::max(1, *std::max_element(counts.begin(), counts.end()));
  const double w = static_cast<double>(kWidth - kLeft - kRight) / bins;
  auto px = [&](double v) { return kLeft + (kWidth - kLeft - kRight) * (v - lo) / (hi - lo); };
  std::ostringstream svg;
  svg << "<svg id=\"" << id << "\" class=\"chart\" viewBox=\"0 0 " << kWidth << ' ' << kHeight
      << "\" width=\"" << kWidth << "\" height=\"" << kHeight << "\">\n";
  for (int b = 0; b < bins; ++b) {
    const double h =
        (kHeight - kTop - kBottom) * counts[static_cast<std::size_t>(b)] / static_cast<double>(top);
    svg << "<rect class=\"bar\" x=\"" << format_fixed(kLeft + b * w, 1) << "\" y=\""
        << format_fixed(kHeight - kBottom - h, 1) << "\" width=\"" << format_fixed(w - 1, 1) << "\" height=\""
        << format_fixed(std::max(h, 0.5), 1) << "\" fill=\"#4a78b5\"/>\n";
  }
  svg << "<line class=\"zero\" x1=\"" << format_fixed(px(0), 1) << "\" x2=\"" << format_fixed(px(0), 1)
      << "\" y1=\"" << kTop << "\" y2=\"" << kHeight - kBottom << "\" stroke=\"#333\"/>\n";
  for (int t = 0; t <= 4; ++t) {
    const double v = lo + (hi - lo) * t / 4.0;
    svg << "<text class=\"axis\" x=\"" << format_fixed(px(v), 1) << "\" y=\"" << kHeight - 8
        << "\" text-anchor=\"middle\">" << pct(v, 1) << "</text>\n";
  }
  svg << "</svg>\n";
  return svg.str();
}

std::vector<double> rolling(const std::vector<double>& r, int window, bool sharpe) {
  std::vector<double> out(r.size(), kNaN);
  QF_REQUIRE(window >= 2, "html_report", "rolling window", window, "must be at least 2 days");
  for (std::size_t k = static_cast<std::size_t>(window); k <= r.size(); ++k) {
    double s = 0, ss = 0;
    for (std::size_t j = k - static_cast<std::size_t>(window); j < k; ++j) s += r[j];
    const double m = s / window;
    for (std::size_t j = k - static_cast<std::size_t>(window); j < k; ++j) ss += (r[j] - m) * (r[j] - m);
    const double sd = std::sqrt(ss / (window - 1));
    out[k - 1] = sharpe ? (sd > 0 ? m / sd * std::sqrt(252.0) : kNaN) : sd * std::sqrt(252.0);
  }
  return out;
}

// Monthly (and yearly) compounded returns as an HTML table coloured by sign and size.
std::string monthly_table(const std::vector<double>& r, const std::vector<std::string>& dates) {
  std::map<std::string, std::map<int, double>> months;  // year -> month -> growth factor
  for (std::size_t k = 0; k < r.size(); ++k) {
    const std::string year = dates[k].substr(0, 4);
    const int month = std::stoi(dates[k].substr(5, 2));
    auto& g = months[year];
    if (!g.contains(month)) g[month] = 1.0;
    g[month] *= 1 + r[k];
  }
  double extent = 1e-9;
  for (const auto& [year, g] : months)
    for (const auto& [m, f] : g) extent = std::max(extent, std::abs(f - 1));
  std::ostringstream t;
  t << "<table class=\"heat\" id=\"monthly\"><tr><th>year</th>";
  for (const char* m : {"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"})
    t << "<th>" << m << "</th>";
  t << "<th>year</th></tr>\n";
  for (const auto& [year, g] : months) {
    t << "<tr><th>" << year << "</th>";
    double total = 1;
    for (int m = 1; m <= 12; ++m) {
      const auto it = g.find(m);
      if (it == g.end()) {
        t << "<td></td>";
        continue;
      }
      const double v = it->second - 1, a = std::min(1.0, std::abs(v) / extent);
      total *= it->second;
      t << "<td style=\"background:rgba(" << (v >= 0 ? "42,157,74," : "192,57,43,")
        << format_fixed(0.15 + 0.75 * a, 2) << ")\">" << format_fixed(100 * v, 1) << "</td>";
    }
    t << "<td><b>" << format_fixed(100 * (total - 1), 1) << "</b></td></tr>\n";
  }
  t << "</table>\n";
  return t.str();
}

// The dates of calendar days [first, last], YYYY-MM-DD: the x axis of every chart.
std::vector<std::string> period_dates(const data::Universe& u, std::int64_t first, std::int64_t last) {
  std::vector<std::string> dates;
  for (std::int64_t d = first; d <= last; ++d)
    dates.push_back(data::format_date(u.days[static_cast<std::size_t>(d)]));
  return dates;
}

// The page up to the first section: title, subtitle, period, benchmark and the data warnings.
void write_page_head(std::ostream& h, const ReportOptions& o, const std::vector<std::string>& dates,
                     const std::string& benchmark_name, const std::vector<std::string>& data_warnings) {
  h << html_page_start(o.title) << "<div class=\"sub\">" << html_escape(o.subtitle)
    << "<br>Out-of-sample period " << dates.front() << " .. " << dates.back() << " (" << dates.size()
    << " days); benchmark: " << html_escape(benchmark_name) << "</div>\n";
  for (const auto& w : data_warnings) h << "<p class=\"warning\">Warning: " << html_escape(w) << "</p>\n";
}

void write_scorecard(std::ostream& h, const Evaluation& e) {
  h << "<h2>Scorecard (plan targets, out of sample, after costs)</h2>\n"
    << html_scorecard(e.scorecard)
    << "<p id=\"pnl\">P&amp;L over the period, % of capital: " << pct(e.gross_pnl) << " before costs, "
    << pct(e.costs_paid) << " costs (" << cost_share(e) << " of the gross), " << pct(e.net_pnl)
    << " after costs.</p>\n";
}

// Strategy against benchmark (relative, trading and prediction figures: the strategy's only).
void write_metrics(std::ostream& h, const Evaluation& e) {
  const auto& m = e.metrics;
  const auto& b = e.benchmark_metrics;
  h << "<h2>Metrics</h2>\n<table "
       "id=\"metrics\"><tr><th>metric</th><th>strategy</th><th>benchmark</th></tr>\n";
  const std::tuple<const char*, std::string, std::string> rows[] = {
      {"total return", pct(m.total_return), pct(b.total_return)},
      {"annual return", pct(m.annual_return), pct(b.annual_return)},
      {"annual volatility", pct(m.annual_volatility), pct(b.annual_volatility)},
      {"Sharpe", format_fixed(m.sharpe, 2), format_fixed(b.sharpe, 2)},
      {"Sortino", format_fixed(m.sortino, 2), format_fixed(b.sortino, 2)},
      {"Calmar", format_fixed(m.calmar, 2), format_fixed(b.calmar, 2)},
      {"Omega", format_fixed(m.omega, 2), format_fixed(b.omega, 2)},
      {"max drawdown", pct(m.max_drawdown), pct(b.max_drawdown)},
      {"longest drawdown (days)", std::to_string(m.max_drawdown_days), std::to_string(b.max_drawdown_days)},
      {"ulcer index", format_fixed(m.ulcer_index, 4), format_fixed(b.ulcer_index, 4)},
      {"VaR 95 % (daily)", pct(m.value_at_risk), pct(b.value_at_risk)},
      {"CVaR 95 % (daily)", pct(m.conditional_value_at_risk), pct(b.conditional_value_at_risk)},
      {"skew", format_fixed(m.skew, 2), format_fixed(b.skew, 2)},
      {"excess kurtosis", format_fixed(m.kurtosis, 2), format_fixed(b.kurtosis, 2)},
      {"hit rate", pct(m.hit_rate), pct(b.hit_rate)},
      {"profit factor", format_fixed(m.profit_factor, 2), format_fixed(b.profit_factor, 2)},
      {"alpha (annual)", pct(e.relative.alpha), ""},
      {"beta", format_fixed(e.relative.beta, 2), ""},
      {"information ratio", format_fixed(e.relative.information_ratio, 2), ""},
      {"tracking error", pct(e.relative.tracking_error), ""},
      {"up / down capture",
       format_fixed(e.relative.up_capture, 2) + " / " + format_fixed(e.relative.down_capture, 2), ""},
      {"mean daily turnover", pct(e.mean_turnover), ""},
      {"mean gross exposure", pct(e.mean_gross_exposure), ""},
      {"prediction accuracy", pct(e.classification.accuracy), ""},
      {"prediction AUC", format_fixed(e.classification.auc, 4), ""},
      {"daily IC / rank IC", format_fixed(e.daily_ic, 4) + " / " + format_fixed(e.daily_rank_ic, 4), ""},
      {"P&amp;L before costs (% of capital)", pct(e.gross_pnl), ""},
      {"costs (% of capital)", pct(e.costs_paid), ""},
      {"P&amp;L after costs (% of capital)", pct(e.net_pnl), ""}};
  for (const auto& [name, a, c] : rows)
    h << "<tr><td>" << name << "</td><td>" << a << "</td><td>" << c << "</td></tr>\n";
  h << "</table>\n";
}

// Equity against the benchmark (linear and log, one shown at a time): the first screen's chart.
void write_equity_chart(std::ostream& h, const Evaluation& e, const std::vector<std::string>& dates) {
  const auto strategy_wealth = wealth(e.returns), benchmark_wealth = wealth(e.benchmark_returns);
  h << "<h2>Equity vs benchmark (after costs)</h2>\n<label><input type=\"checkbox\" id=\"logscale\"> log "
       "scale</label>\n"
    << line_chart({{"strategy", "#1f5fa8", strategy_wealth}, {e.benchmark_name, "#999", benchmark_wealth}},
                  dates, false, false, "equity")
    << line_chart({{"strategy", "#1f5fa8", strategy_wealth}, {e.benchmark_name, "#999", benchmark_wealth}},
                  dates, true, false, "equity_log", true);
}

// Drawdown, rolling Sharpe and volatility, monthly returns and the distribution of daily returns.
void write_return_charts(std::ostream& h, const Evaluation& e, const std::vector<std::string>& dates,
                         int rolling_window) {
  std::vector<double> dd(e.returns.size()), bdd(e.returns.size());
  drawdown_series(e.returns, dd);
  drawdown_series(e.benchmark_returns, bdd);
  h << "<h2>Drawdown</h2>\n"
    << line_chart({{"strategy", "#c0392b", dd}, {e.benchmark_name, "#999", bdd}}, dates, false, true,
                  "drawdown")
    << "<h2>Rolling " << rolling_window << "-day Sharpe and volatility</h2>\n"
    << line_chart({{"Sharpe", "#1f5fa8", rolling(e.returns, rolling_window, true)}}, dates, false, false,
                  "rolling_sharpe")
    << line_chart({{"volatility (annualised)", "#8e44ad", rolling(e.returns, rolling_window, false)},
                   {"benchmark", "#999", rolling(e.benchmark_returns, rolling_window, false)}},
                  dates, false, true, "rolling_volatility")
    << "<h2>Monthly returns (%)</h2>\n"
    << monthly_table(e.returns, dates) << "<h2>Distribution of daily returns</h2>\n"
    << histogram(e.returns, "distribution");
}

void write_exposure_charts(std::ostream& h, const Evaluation& e, const std::vector<std::string>& dates) {
  std::vector<double> longs, shorts, turnover;
  for (std::int64_t d = e.first_day; d <= e.last_day; ++d) {
    longs.push_back(e.backtest.long_exposure[static_cast<std::size_t>(d)]);
    shorts.push_back(-e.backtest.short_exposure[static_cast<std::size_t>(d)]);
    turnover.push_back(e.backtest.turnover[static_cast<std::size_t>(d)]);
  }
  h << "<h2>Exposure and turnover</h2>\n"
    << line_chart({{"long", "#2a9d4a", longs}, {"short", "#c0392b", shorts}}, dates, false, true, "exposure")
    << line_chart({{"turnover (traded / equity)", "#e67e22", turnover}}, dates, false, true, "turnover");
}

// P&L per sector as a share of initial capital, largest first ("(unknown)" for tickers without one).
void write_sector_chart(std::ostream& h, const Evaluation& e, const data::Universe& u, double capital) {
  std::map<std::string, double> by_sector;
  for (std::int64_t i = 0; i < u.ticker_count(); ++i) {
    const std::string sector =
        static_cast<std::size_t>(i) < u.sector.size() && !u.sector[static_cast<std::size_t>(i)].empty()
            ? u.sector[static_cast<std::size_t>(i)]
            : "(unknown)";
    by_sector[sector] += e.backtest.ticker_pnl[static_cast<std::size_t>(i)] / capital;
  }
  std::vector<std::pair<std::string, double>> sectors(by_sector.begin(), by_sector.end());
  std::sort(sectors.begin(), sectors.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
  h << "<h2>P&amp;L per sector (% of initial capital)</h2>\n" << bar_chart(sectors, "sectors");
}

// One row per ticker the strategy held or made money on: P&L, days held and mean |weight| (data-v holds
// the number the table sorts by).
void write_stock_table(std::ostream& h, const Evaluation& e, const data::Universe& u, double capital) {
  const std::int64_t N = u.ticker_count();
  const auto days = static_cast<double>(e.last_day - e.first_day + 1);
  h << "<h2>Per stock</h2>\n<table id=\"stocks\"><thead><tr><th>ticker</th><th>sector</th><th>P&amp;L % of "
       "capital</th>"
       "<th>days held</th><th>mean |weight|</th></tr></thead><tbody>\n";
  for (std::int64_t i = 0; i < N; ++i) {
    std::int64_t held = 0;
    double weight = 0;
    for (std::int64_t d = e.first_day; d <= e.last_day; ++d) {
      const double w = e.backtest.weights.data<double>()[d * N + i];
      held += w != 0 ? 1 : 0;
      weight += std::abs(w);
    }
    const double pnl = e.backtest.ticker_pnl[static_cast<std::size_t>(i)] / capital;
    if (held == 0 && pnl == 0) continue;
    h << "<tr><td>" << html_escape(u.tickers[static_cast<std::size_t>(i)]) << "</td><td>"
      << html_escape(static_cast<std::size_t>(i) < u.sector.size() ? u.sector[static_cast<std::size_t>(i)]
                                                                   : "")
      << "</td><td data-v=\"" << pnl << "\">" << format_fixed(100 * pnl, 3) << "</td><td data-v=\"" << held
      << "\">" << held << "</td><td data-v=\"" << weight / days << "\">" << pct(weight / days, 3)
      << "</td></tr>\n";
  }
  h << "</tbody></table>\n";
}

// The page's script: the log-scale toggle of the equity chart and the per-stock table's sorting.
constexpr const char* kReportScript =
    "<script>\n"
    "document.getElementById('logscale').addEventListener('change', function (e) {\n"
    "  document.getElementById('equity').style.display = e.target.checked ? 'none' : '';\n"
    "  document.getElementById('equity_log').style.display = e.target.checked ? '' : 'none';\n"
    "});\n"
    "document.querySelectorAll('#stocks th').forEach(function (th, column) {\n"
    "  th.addEventListener('click', function () {\n"
    "    var body = document.querySelector('#stocks tbody');\n"
    "    var rows = Array.from(body.rows), down = th.dataset.down !== '1';\n"
    "    rows.sort(function (a, b) {\n"
    "      var x = a.cells[column], y = b.cells[column];\n"
    "      var c = x.dataset.v !== undefined ? parseFloat(x.dataset.v) - parseFloat(y.dataset.v)\n"
    "                                        : x.textContent.localeCompare(y.textContent);\n"
    "      return down ? -c : c;\n"
    "    });\n"
    "    th.dataset.down = down ? '1' : '0';\n"
    "    rows.forEach(function (r) { body.appendChild(r); });\n"
    "  });\n"
    "});\n</script>\n</body></html>\n";

}  // namespace

std::string line_chart(const std::vector<ChartSeries>& series, const std::vector<std::string>& dates,
                       bool log_y, bool percent, const std::string& id, bool hidden) {
  auto y_of = [&](double v) { return log_y ? (v > 0 ? std::log(v) : kNaN) : v; };
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  for (const auto& s : series)
    for (const double v : s.values)
      if (std::isfinite(y_of(v))) {
        lo = std::min(lo, y_of(v));
        hi = std::max(hi, y_of(v));
      }
  if (!std::isfinite(lo)) lo = 0, hi = 1;
  if (hi - lo < 1e-12) hi = lo + 1e-6, lo -= 1e-6;
  const double pad = 0.05 * (hi - lo);
  lo -= pad;
  hi += pad;
  const auto n = std::max<std::size_t>(dates.size(), 2);
  auto px = [&](std::size_t k) {
    return kLeft + (kWidth - kLeft - kRight) * static_cast<double>(k) / static_cast<double>(n - 1);
  };
  // The legend, wrapped into rows above the plot (the plot moves down by the extra rows).
  std::vector<std::pair<double, int>> legend;  // x and row of each series' name
  double legend_x = kLeft + 8;
  int legend_rows = 1;
  for (const auto& s : series) {
    const double width = 14.0 + 7.0 * static_cast<double>(s.name.size());
    if (legend_x + width > kWidth - kRight && legend_x > kLeft + 8) legend_x = kLeft + 8, ++legend_rows;
    legend.emplace_back(legend_x, legend_rows - 1);
    legend_x += width;
  }
  const int top = kTop + 14 * (legend_rows - 1), height = kHeight + 14 * (legend_rows - 1);
  auto py = [&](double y) { return top + (height - top - kBottom) * (hi - y) / (hi - lo); };
  std::ostringstream svg;
  svg << "<svg id=\"" << id << "\" class=\"chart\" viewBox=\"0 0 " << kWidth << ' ' << height << "\" width=\""
      << kWidth << "\" height=\"" << height << '"' << (hidden ? " style=\"display:none\"" : "") << ">\n";
  for (int t = 0; t <= 4; ++t) {  // y grid and labels
    const double y = lo + (hi - lo) * t / 4.0, shown = log_y ? std::exp(y) : y;
    svg << "<line class=\"grid\" x1=\"" << kLeft << "\" x2=\"" << kWidth - kRight << "\" y1=\""
        << format_fixed(py(y), 1) << "\" y2=\"" << format_fixed(py(y), 1) << "\"/><text class=\"axis\" x=\""
        << kLeft - 6 << "\" y=\"" << format_fixed(py(y) + 4, 1) << "\" text-anchor=\"end\">"
        << (percent ? pct(shown, 1) : format_fixed(shown, shown < 10 ? 2 : 0)) << "</text>\n";
  }
  for (int t = 0; t <= 5 && !dates.empty(); ++t) {  // x labels
    const std::size_t k = (dates.size() - 1) * static_cast<std::size_t>(t) / 5;
    svg << "<text class=\"axis\" x=\"" << format_fixed(px(k), 1) << "\" y=\"" << height - 8
        << "\" text-anchor=\""
        << (t == 0   ? "start"
            : t == 5 ? "end"
                     : "middle")
        << "\">" << dates[k] << "</text>\n";
  }
  for (std::size_t index = 0; index < series.size(); ++index) {
    const auto& s = series[index];
    std::ostringstream d;
    bool pen_down = false;
    for (std::size_t k = 0; k < s.values.size(); ++k) {
      const double y = y_of(s.values[k]);
      if (!std::isfinite(y)) {
        pen_down = false;
        continue;
      }
      d << (pen_down ? 'L' : 'M') << format_fixed(px(k), 1) << ' ' << format_fixed(py(y), 1) << ' ';
      pen_down = true;
    }
    svg << "<path class=\"series\" fill=\"none\" stroke=\"" << s.color << "\" stroke-width=\"1.5\" d=\""
        << d.str() << "\"/>\n<text class=\"legend\" x=\"" << format_fixed(legend[index].first, 1) << "\" y=\""
        << kTop - 8 + 14 * legend[index].second << "\" style=\"fill:" << s.color << "\">"
        << html_escape(s.name)
        << "</text>\n";  // a style, not a fill attribute: the page's CSS for chart text would override that
  }
  svg << "</svg>\n";
  return svg.str();
}

std::string html_page_start(const std::string& title) {
  return "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>" + html_escape(title) +
         "</title>\n<style>\n" + kStyle + "</style></head><body>\n<h1>" + html_escape(title) + "</h1>";
}

std::string html_scorecard(const std::vector<ScorecardLine>& scorecard) {
  std::ostringstream h;
  h << "<table id=\"scorecard\"><tr><th>target</th><th>value</th><th>threshold</th><th>status</th></tr>\n";
  for (const auto& l : scorecard)
    h << "<tr><td>" << l.name << "</td><td>" << (l.name == "sharpe" ? format_fixed(l.value, 2) : pct(l.value))
      << "</td><td>" << (l.higher_is_better ? "&gt; " : "&lt; ")
      << (l.name == "sharpe" ? format_fixed(l.target, 2) : pct(l.target, 0)) << "</td><td class=\""
      << state_class(l) << "\">" << to_string(l.state) << "</td></tr>\n";
  h << "</table>\n";
  return h.str();
}

std::vector<double> wealth(const std::vector<double>& r) {
  std::vector<double> w(r.size());
  double v = 1;
  for (std::size_t k = 0; k < r.size(); ++k) w[k] = v *= 1 + r[k];
  return w;
}

std::string html_report(const Evaluation& e, const data::Universe& u, const ReportOptions& o) {
  const std::vector<std::string> dates = period_dates(u, e.first_day, e.last_day);
  const double capital = e.backtest.equity.front();
  std::ostringstream h;
  write_page_head(h, o, dates, e.benchmark_name, e.data_warnings);
  write_scorecard(h, e);
  write_equity_chart(h, e, dates);
  write_metrics(h, e);
  write_return_charts(h, e, dates, o.rolling_window);
  write_exposure_charts(h, e, dates);
  write_sector_chart(h, e, u, capital);
  write_stock_table(h, e, u, capital);
  h << kReportScript;
  return h.str();
}

std::string comparison_report(const std::vector<NamedEvaluation>& strategies, const data::Universe& u,
                              const ReportOptions& o) {
  QF_REQUIRE_MSG(!strategies.empty(), "comparison_report", "no strategies");
  const Evaluation& first = *strategies.front().evaluation;
  for (const auto& s : strategies)
    QF_REQUIRE_MSG(s.evaluation->first_day == first.first_day && s.evaluation->last_day == first.last_day,
                   "comparison_report", s.name << " covers another period");
  const std::vector<std::string> dates = period_dates(u, first.first_day, first.last_day);
  static const char* palette[] = {"#1f5fa8", "#c0392b", "#2a9d4a", "#8e44ad", "#e67e22",
                                  "#16a085", "#d35400", "#2c3e50", "#7f8c8d", "#b8860b"};
  std::vector<ChartSeries> equity, drawdowns, exposure;
  for (std::size_t k = 0; k < strategies.size(); ++k) {
    const Evaluation& e = *strategies[k].evaluation;
    const std::string color = palette[k % 10];
    std::vector<double> dd(e.returns.size()), gross;
    drawdown_series(e.returns, dd);
    for (std::int64_t d = e.first_day; d <= e.last_day; ++d)
      gross.push_back(e.backtest.long_exposure[static_cast<std::size_t>(d)] +
                      e.backtest.short_exposure[static_cast<std::size_t>(d)]);
    equity.push_back({strategies[k].name, color, wealth(e.returns)});
    drawdowns.push_back({strategies[k].name, color, dd});
    exposure.push_back({strategies[k].name, color, gross});
  }
  std::vector<double> bdd(first.benchmark_returns.size());
  drawdown_series(first.benchmark_returns, bdd);
  equity.push_back({first.benchmark_name, "#999", wealth(first.benchmark_returns)});
  drawdowns.push_back({first.benchmark_name, "#999", bdd});

  std::ostringstream h;
  write_page_head(h, o, dates, first.benchmark_name, first.data_warnings);
  h << "<h2>Side by side (after costs)</h2>\n<table "
       "id=\"comparison\"><tr><th>strategy</th><th>annual "
       "return</th><th>volatility</th><th>Sharpe</th><th>Sortino</th><th>max drawdown</th><th>Calmar</th>"
       "<th>turnover / day</th><th>gross exposure</th><th>P&amp;L before costs</th><th>costs</th><th>P&amp;L "
       "after "
       "costs</th><th>plan targets met</th></tr>\n";
  auto row = [&](const std::string& name, const ReturnMetrics& m, const Evaluation* e) {
    h << "<tr><td style=\"text-align:left\">" << html_escape(name) << "</td><td>" << pct(m.annual_return)
      << "</td><td>" << pct(m.annual_volatility) << "</td><td>" << format_fixed(m.sharpe, 2) << "</td><td>"
      << format_fixed(m.sortino, 2) << "</td><td>" << pct(m.max_drawdown) << "</td><td>"
      << format_fixed(m.calmar, 2) << "</td>";
    if (e == nullptr) {
      h << "<td></td><td></td><td></td><td></td><td></td><td></td></tr>\n";
      return;
    }
    const int met = targets_met(e->scorecard);
    h << "<td>" << pct(e->mean_turnover) << "</td><td>" << pct(e->mean_gross_exposure) << "</td><td>"
      << pct(e->gross_pnl) << "</td><td>" << pct(e->costs_paid) << "</td><td>" << pct(e->net_pnl)
      << "</td><td>" << met << " of " << e->scorecard.size() << "</td></tr>\n";
  };
  for (const auto& s : strategies) row(s.name, s.evaluation->metrics, s.evaluation);
  row(first.benchmark_name + " (benchmark)", first.benchmark_metrics, nullptr);
  h << "</table>\n<h2>Equity curves</h2>\n"
    << line_chart(equity, dates, false, false, "equity") << "<h2>Drawdowns</h2>\n"
    << line_chart(drawdowns, dates, false, true, "drawdown") << "<h2>Gross exposure</h2>\n"
    << line_chart(exposure, dates, false, true, "exposure")
    << "<h2>Scorecards (plan targets, out of sample, after costs)</h2>\n<table "
       "id=\"scorecards\"><tr><th>strategy</th>";
  for (const auto& l : first.scorecard)
    h << "<th>" << l.name << " " << (l.higher_is_better ? "&gt; " : "&lt; ")
      << (l.name == "sharpe" ? format_fixed(l.target, 2) : pct(l.target, 0)) << "</th>";
  h << "</tr>\n";
  for (const auto& s : strategies) {
    h << "<tr><td style=\"text-align:left\">" << html_escape(s.name) << "</td>";
    for (const auto& l : s.evaluation->scorecard)
      h << "<td class=\"" << state_class(l) << "\" title=\"" << to_string(l.state) << "\">"
        << (l.name == "sharpe" ? format_fixed(l.value, 2) : pct(l.value)) << "</td>";
    h << "</tr>\n";
  }
  h << "</table>\n</body></html>\n";
  return h.str();
}

}  // namespace qf::quant
