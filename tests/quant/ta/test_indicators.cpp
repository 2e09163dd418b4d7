// Technical indicators against TA-Lib and pandas (scripts/make_talib_golden.py writes the reference values
// into tests/data/talib_golden.txt), plus causality, the NaN rule, argument checks and the registry.
// QF_GOLDEN_VERBOSE=1 prints the worst relative error of every output.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <limits>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "qf/quant/ta/indicators.h"

namespace ta = qf::quant::ta;

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kTolerance = 1e-9;  // relative, against max(|ours|, |reference|, 1e-12)

struct Bars {
  std::vector<double> open, high, low, close, volume, benchmark;
  std::size_t size() const { return close.size(); }
  ta::Ohlcv view() const { return {open, high, low, close, volume}; }
  // Bars [first, last).
  Bars slice(std::size_t first, std::size_t last) const {
    auto cut = [&](const std::vector<double>& v) {
      return std::vector<double>(v.begin() + static_cast<std::ptrdiff_t>(first),
                                 v.begin() + static_cast<std::ptrdiff_t>(last));
    };
    return {cut(open), cut(high), cut(low), cut(close), cut(volume), cut(benchmark)};
  }
};

// A reference output: TA-Lib's (or pandas') first valid index and a subsample of its values.
struct Reference {
  std::size_t first_valid = 0;
  std::size_t length = 0;
  std::vector<std::pair<std::size_t, double>> values;
};

struct Series {
  Bars bars;
  std::string csv, benchmark_csv;  // real tickers: read at test time from QF_SHARED_DATA_DIR
  std::map<std::string, Reference> outputs;
};

struct Golden {
  std::map<std::string, Series> series;
  std::map<std::string, std::pair<std::size_t, std::vector<double>>> panels;  // name -> (days, values)
  std::size_t panel_tickers = 0;
};

std::vector<double> parse_numbers(const std::string& line) {
  std::vector<double> values;
  const char* p = line.c_str();
  char* end = nullptr;
  for (double v = std::strtod(p, &end); end != p; v = std::strtod(p, &end)) {  // strtod reads "nan"
    values.push_back(v);
    p = end;
  }
  return values;
}

Golden read_golden(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot open " + path);
  Golden g;
  std::string header, data;
  while (std::getline(in, header)) {
    if (header.empty() || header[0] == '#') continue;
    std::istringstream h(header);
    std::string kind, name;
    h >> kind >> name;
    if (kind == "real") {
      std::size_t n = 0;
      h >> g.series[name].csv >> g.series[name].benchmark_csv >> n;
      continue;
    }
    std::getline(in, data);
    const std::vector<double> values = parse_numbers(data);
    if (kind == "input") {
      std::string field;
      std::size_t n = 0;
      h >> field >> n;
      Bars& b = g.series[name].bars;
      std::map<std::string, std::vector<double>*> fields{{"open", &b.open},     {"high", &b.high},
                                                         {"low", &b.low},       {"close", &b.close},
                                                         {"volume", &b.volume}, {"benchmark", &b.benchmark}};
      *fields.at(field) = values;
      if (values.size() != n) throw std::runtime_error("short input " + name + " " + field);
    } else if (kind == "output") {
      std::string output;
      Reference r;
      std::size_t count = 0;
      h >> output >> r.first_valid >> r.length >> count;
      if (values.size() != 2 * count) throw std::runtime_error("short output " + name + " " + output);
      for (std::size_t i = 0; i < count; ++i)
        r.values.emplace_back(static_cast<std::size_t>(values[2 * i]), values[2 * i + 1]);
      g.series[name].outputs[output] = std::move(r);
    } else if (kind == "panel") {
      std::size_t days = 0;
      h >> days >> g.panel_tickers;
      g.panels[name] = {days, values};
    }
  }
  return g;
}

const Golden& golden() {
  static const Golden g = read_golden(QF_TEST_DATA_DIR "/talib_golden.txt");
  return g;
}

// ---- real data (../shared/data), read with a small CSV reader ----

std::vector<std::string> split(const std::string& line) {
  std::vector<std::string> cells;
  std::stringstream s(line);
  for (std::string cell; std::getline(s, cell, ',');) cells.push_back(cell);
  return cells;
}

// The ticker's bars (date,open,high,low,close,volume,Name) and the index's close on the same dates.
Bars read_real(const std::string& csv, const std::string& benchmark_csv) {
  const std::string dir = QF_SHARED_DATA_DIR;
  std::map<std::string, double> index_close;
  std::ifstream index(dir + "/" + benchmark_csv);
  std::string line;
  std::getline(index, line);  // Date,Open,High,Low,Close,Adj Close,Volume
  while (std::getline(index, line)) {
    const auto cells = split(line);
    index_close[cells.at(0)] = std::stod(cells.at(4));
  }
  Bars b;
  std::ifstream in(dir + "/" + csv);
  std::getline(in, line);
  while (std::getline(in, line)) {
    const auto c = split(line);
    b.open.push_back(std::stod(c.at(1)));
    b.high.push_back(std::stod(c.at(2)));
    b.low.push_back(std::stod(c.at(3)));
    b.close.push_back(std::stod(c.at(4)));
    b.volume.push_back(std::stod(c.at(5)));
    b.benchmark.push_back(index_close.at(c.at(0)));
  }
  return b;
}

bool shared_data_present() {
  return std::filesystem::exists(QF_SHARED_DATA_DIR "/sp500_5yr/AAPL_data.csv");
}

// ---- computing our outputs by name ----

using Outputs = std::map<std::string, std::vector<double>>;

Outputs registry_outputs(const Bars& b) {
  Outputs out;
  const auto rows = ta::compute_all(b.view(), b.benchmark);
  const auto specs = ta::all_indicators();
  for (std::size_t i = 0; i < specs.size(); ++i) out[specs[i].name] = rows[i];
  return out;
}

std::map<std::string, int> registry_lookbacks() {
  std::map<std::string, int> lookbacks;
  for (const auto& spec : ta::all_indicators()) lookbacks[spec.name] = spec.lookback;
  return lookbacks;
}

// The golden file's non-default calls (EXTRA_TALIB in the generator), with their lookbacks.
Outputs extra_outputs(const Bars& b, std::map<std::string, int>& lookbacks) {
  Outputs out;
  const std::size_t n = b.size();
  auto one = [&](const std::string& name, int lookback, const std::function<void(std::span<double>)>& f) {
    std::vector<double> v(n);
    f(v);
    out[name] = std::move(v);
    lookbacks[name] = lookback;
  };
  auto three = [&](const std::array<std::string, 3>& names, int lookback,
                   const std::function<void(std::span<double>, std::span<double>, std::span<double>)>& f) {
    std::vector<double> a(n), m(n), z(n);
    f(a, m, z);
    out[names[0]] = a;
    out[names[1]] = m;
    out[names[2]] = z;
    for (const auto& name : names) lookbacks[name] = lookback;
  };
  auto two = [&](const std::array<std::string, 2>& names, int lookback,
                 const std::function<void(std::span<double>, std::span<double>)>& f) {
    std::vector<double> a(n), z(n);
    f(a, z);
    out[names[0]] = a;
    out[names[1]] = z;
    for (const auto& name : names) lookbacks[name] = lookback;
  };
  const auto &h = b.high, &l = b.low, &c = b.close, &v = b.volume;
  one("x_sma_1", ta::sma_lookback(1), [&](auto o) { ta::sma(c, 1, o); });
  one("x_ema_1", ta::ema_lookback(1), [&](auto o) { ta::ema(c, 1, o); });
  one("x_ema_2", ta::ema_lookback(2), [&](auto o) { ta::ema(c, 2, o); });
  one("x_wma_1", ta::wma_lookback(1), [&](auto o) { ta::wma(c, 1, o); });
  one("x_kama_1", ta::kama_lookback(1), [&](auto o) { ta::kama(c, 1, o); });
  one("x_kama_10", ta::kama_lookback(10), [&](auto o) { ta::kama(c, 10, o); });
  one("x_t3_3_0", ta::t3_lookback(3), [&](auto o) { ta::t3(c, 3, 0.0, o); });
  one("x_trima_7", ta::trima_lookback(7), [&](auto o) { ta::trima(c, 7, o); });
  one("x_dema_1", ta::dema_lookback(1), [&](auto o) { ta::dema(c, 1, o); });
  three({"x_bbands_upper_5_1_3", "x_bbands_middle_5_1_3", "x_bbands_lower_5_1_3"}, ta::bbands_lookback(5),
        [&](auto a, auto m, auto z) { ta::bbands(c, 5, 1.0, 3.0, a, m, z); });
  three({"x_macd_5_3_1", "x_macd_signal_5_3_1", "x_macd_hist_5_3_1"}, ta::macd_lookback(5, 3, 1),
        [&](auto a, auto m, auto z) { ta::macd(c, 5, 3, 1, a, m, z); });
  one("x_ppo_26_12", ta::ppo_lookback(26, 12), [&](auto o) { ta::ppo(c, 26, 12, o); });
  one("x_rsi_2", ta::rsi_lookback(2), [&](auto o) { ta::rsi(c, 2, o); });
  two({"x_stoch_slowk_1_1_1", "x_stoch_slowd_1_1_1"}, ta::stoch_lookback(1, 1, 1),
      [&](auto k, auto d) { ta::stoch(h, l, c, 1, 1, 1, k, d); });
  two({"x_stochrsi_fastk_9_4_1", "x_stochrsi_fastd_9_4_1"}, ta::stochrsi_lookback(9, 4, 1),
      [&](auto k, auto d) { ta::stochrsi(c, 9, 4, 1, k, d); });
  one("x_cci_2", ta::cci_lookback(2), [&](auto o) { ta::cci(h, l, c, 2, o); });
  one("x_plus_dm_1", ta::plus_dm_lookback(1), [&](auto o) { ta::plus_dm(h, l, 1, o); });
  one("x_minus_dm_1", ta::minus_dm_lookback(1), [&](auto o) { ta::minus_dm(h, l, 1, o); });
  one("x_plus_di_1", ta::plus_di_lookback(1), [&](auto o) { ta::plus_di(h, l, c, 1, o); });
  one("x_minus_di_1", ta::minus_di_lookback(1), [&](auto o) { ta::minus_di(h, l, c, 1, o); });
  one("x_adx_2", ta::adx_lookback(2), [&](auto o) { ta::adx(h, l, c, 2, o); });
  one("x_aroonosc_2", ta::aroonosc_lookback(2), [&](auto o) { ta::aroonosc(h, l, 2, o); });
  one("x_mfi_2", ta::mfi_lookback(2), [&](auto o) { ta::mfi(h, l, c, v, 2, o); });
  one("x_trix_1", ta::trix_lookback(1), [&](auto o) { ta::trix(c, 1, o); });
  one("x_roc_1", ta::roc_lookback(1), [&](auto o) { ta::roc(c, 1, o); });
  one("x_ultosc_28_1_14", ta::ultosc_lookback(28, 1, 14), [&](auto o) { ta::ultosc(h, l, c, 28, 1, 14, o); });
  one("x_adosc_10_3", ta::adosc_lookback(10, 3), [&](auto o) { ta::adosc(h, l, c, v, 10, 3, o); });
  one("x_atr_1", ta::atr_lookback(1), [&](auto o) { ta::atr(h, l, c, 1, o); });
  one("x_natr_2", ta::natr_lookback(2), [&](auto o) { ta::natr(h, l, c, 2, o); });
  one("x_stddev_2_1_5", ta::stddev_lookback(2), [&](auto o) { ta::stddev(c, 2, 1.5, o); });
  one("x_linearreg_slope_2", ta::linearreg_slope_lookback(2), [&](auto o) { ta::linearreg_slope(c, 2, o); });
  return out;
}

// ---- comparison ----

double relative_error(double ours, double reference) {
  if (std::isnan(ours) || std::isnan(reference))
    return std::numeric_limits<double>::infinity();  // never passes
  return std::fabs(ours - reference) / std::max({std::fabs(ours), std::fabs(reference), 1e-12});
}

struct Comparison {
  std::size_t checked = 0, bad = 0;
  double worst = 0;
  std::size_t worst_index = 0;
  double worst_ours = 0, worst_reference = 0;
  std::string problem;  // lookback / NaN-prefix problems
};

Comparison compare(const std::vector<double>& ours, int lookback, const Reference& ref) {
  Comparison c;
  if (ours.size() != ref.length) c.problem += "length " + std::to_string(ours.size()) + "; ";
  if (static_cast<std::size_t>(lookback) != ref.first_valid)
    c.problem += "lookback " + std::to_string(lookback) + " but the reference starts at " +
                 std::to_string(ref.first_valid) + "; ";
  const std::size_t first = std::min(ref.first_valid, ours.size());
  for (std::size_t t = 0; t < first; ++t)
    if (!std::isnan(ours[t])) {
      c.problem += "value before the lookback at " + std::to_string(t) + "; ";
      break;
    }
  if (first < ours.size() && std::isnan(ours[first])) c.problem += "NaN at the lookback; ";
  for (const auto& [t, reference] : ref.values) {
    const double e =
        t < ours.size() ? relative_error(ours[t], reference) : std::numeric_limits<double>::infinity();
    ++c.checked;
    if (!(e <= kTolerance)) ++c.bad;
    if (!(e <= c.worst)) {
      c.worst = e;
      c.worst_index = t;
      c.worst_ours = t < ours.size() ? ours[t] : kNaN;
      c.worst_reference = reference;
    }
  }
  return c;
}

void expect_matches_reference(const std::string& series_name, const Series& series, const Bars& bars) {
  std::map<std::string, int> lookbacks = registry_lookbacks();
  Outputs ours = registry_outputs(bars);
  if (series.csv.empty()) ours.merge(extra_outputs(bars, lookbacks));
  // Every output of the registry has a reference (and every reference an output).
  for (const auto& [name, values] : ours)
    EXPECT_TRUE(series.outputs.count(name)) << series_name << ": no reference for " << name;
  double worst = 0;
  std::string worst_name;
  for (const auto& [name, ref] : series.outputs) {
    ASSERT_TRUE(ours.count(name)) << series_name << ": we have no output " << name;
    const Comparison c = compare(ours.at(name), lookbacks.at(name), ref);
    EXPECT_EQ(c.problem, "") << series_name << " " << name;
    EXPECT_EQ(c.bad, 0u) << series_name << " " << name << ": " << c.bad << " of " << c.checked
                         << " values off, worst relative error " << c.worst << " at index " << c.worst_index
                         << " (ours " << c.worst_ours << ", reference " << c.worst_reference << ")";
    if (std::getenv("QF_GOLDEN_VERBOSE"))
      std::cout << "  " << series_name << " " << name << ": worst " << c.worst << " at " << c.worst_index
                << ", " << c.bad << " of " << c.checked << " off\n";
    if (c.worst >= worst) {
      worst = c.worst;
      worst_name = name;
    }
  }
  std::cout << "[ info     ] " << series_name << ": " << series.outputs.size()
            << " outputs, worst relative error " << worst << " (" << worst_name << ")\n";
}

}  // namespace

// ---- golden tests ----

TEST(TalibGolden, RandomSeriesMatchTalibAndPandas) {
  for (const char* name : {"random_a", "random_b"}) {
    const Series& s = golden().series.at(name);
    ASSERT_EQ(s.bars.size(), 600u);
    expect_matches_reference(name, s, s.bars);
  }
}

TEST(TalibGolden, RealTickersMatchTalibAndPandas) {
  if (!shared_data_present()) GTEST_SKIP() << "no real data at " << QF_SHARED_DATA_DIR;
  for (const char* name : {"aapl", "amd"}) {
    const Series& s = golden().series.at(name);
    const Bars bars = read_real(s.csv, s.benchmark_csv);
    ASSERT_EQ(bars.size(), 1259u) << s.csv;
    expect_matches_reference(name, s, bars);
  }
}

TEST(TalibGolden, TheComparisonCanFail) {
  // A wrong period, a wrong lookback and a NaN must all be caught by the same comparison.
  const Series& s = golden().series.at("random_a");
  const Reference& rsi14 = s.outputs.at("rsi_14");
  std::vector<double> r13(s.bars.size());
  ta::rsi(s.bars.close, 13, r13);
  const Comparison wrong_period = compare(r13, 14, rsi14);
  EXPECT_GT(wrong_period.bad, wrong_period.checked / 2);
  EXPECT_NE(compare(r13, 13, rsi14).problem, "");

  std::vector<double> r14(s.bars.size());
  ta::rsi(s.bars.close, 14, r14);
  EXPECT_EQ(compare(r14, 14, rsi14).bad, 0u);
  r14[rsi14.values[5].first] = kNaN;
  EXPECT_EQ(compare(r14, 14, rsi14).bad, 1u);

  std::vector<double> m(s.bars.size()), sig(s.bars.size()), hist(s.bars.size());
  ta::macd(s.bars.close, 12, 26, 8, m, sig, hist);  // signal 8 instead of 9
  EXPECT_GT(compare(hist, 33, s.outputs.at("macd_hist")).bad, 0u);
}

TEST(TalibGolden, CrossSectionalRankMatchesPandas) {
  const auto& [days, input] = golden().panels.at("rank_input");
  const auto& expected = golden().panels.at("rank_output").second;
  const std::size_t tickers = golden().panel_tickers;
  std::vector<double> ranks(input.size());
  ta::cross_sectional_rank(input, days, tickers, ranks);
  for (std::size_t i = 0; i < input.size(); ++i) {
    if (std::isnan(expected[i]))
      EXPECT_TRUE(std::isnan(ranks[i])) << i;
    else
      EXPECT_LE(relative_error(ranks[i], expected[i]), kTolerance)
          << i << ": " << ranks[i] << " vs " << expected[i];
  }
  EXPECT_THROW(ta::cross_sectional_rank(input, days, tickers + 1, ranks), std::invalid_argument);
}

// ---- causality and the NaN rule ----

// Replaces every input after day t (the bars of another series, scaled to join at t) and checks that no
// output at or before t moves, and that every output does move somewhere after t.
TEST(Indicators, EveryRegistryOutputIsCausal) {
  const auto specs = ta::all_indicators();
  const Bars& a = golden().series.at("random_a").bars;
  const Bars& b = golden().series.at("random_b").bars;
  const auto base = ta::compute_all(a.view(), a.benchmark);
  for (std::size_t t : {40u, 150u, 420u}) {
    Bars changed = a;
    const double price = a.close[t] / b.close[t], level = a.benchmark[t] / b.benchmark[t];
    for (std::size_t i = t + 1; i < a.size(); ++i) {
      changed.open[i] = b.open[i] * price;
      changed.high[i] = b.high[i] * price;
      changed.low[i] = b.low[i] * price;
      changed.close[i] = b.close[i] * price;
      changed.volume[i] = b.volume[i] * 3;
      changed.benchmark[i] = b.benchmark[i] * level;
    }
    const auto after = ta::compute_all(changed.view(), changed.benchmark);
    for (std::size_t k = 0; k < specs.size(); ++k) {
      for (std::size_t i = 0; i <= t; ++i) {
        const bool same = base[k][i] == after[k][i] || (std::isnan(base[k][i]) && std::isnan(after[k][i]));
        ASSERT_TRUE(same) << specs[k].name << " at day " << i << " changed when days after " << t
                          << " changed";
      }
      bool moved = false;
      for (std::size_t i = t + 1; i < a.size(); ++i) moved = moved || base[k][i] != after[k][i];
      EXPECT_TRUE(moved) << specs[k].name << " did not react to new data after day " << t;
    }
  }
}

TEST(Indicators, MissingBarRestartsEveryIndicator) {
  // A bar with NaN everywhere: its outputs are NaN, the rows before are those of the series cut just
  // before it, and the rows after are those of the series that starts just after it.
  const Bars& a = golden().series.at("random_a").bars;
  const std::size_t gap = 300;
  Bars holed = a;
  for (auto* field : {&holed.open, &holed.high, &holed.low, &holed.close, &holed.volume, &holed.benchmark})
    (*field)[gap] = kNaN;
  const auto specs = ta::all_indicators();
  const auto full = ta::compute_all(holed.view(), holed.benchmark);
  const Bars head = a.slice(0, gap), tail = a.slice(gap + 1, a.size());
  const auto before = ta::compute_all(head.view(), head.benchmark);
  const auto after = ta::compute_all(tail.view(), tail.benchmark);
  auto same = [](double x, double y) { return x == y || (std::isnan(x) && std::isnan(y)); };
  for (std::size_t k = 0; k < specs.size(); ++k) {
    EXPECT_TRUE(std::isnan(full[k][gap])) << specs[k].name;
    for (std::size_t i = 0; i < gap; ++i)
      ASSERT_TRUE(same(full[k][i], before[k][i])) << specs[k].name << " " << i;
    for (std::size_t i = gap + 1; i < a.size(); ++i)
      ASSERT_TRUE(same(full[k][i], after[k][i - gap - 1])) << specs[k].name << " " << i;
    EXPECT_TRUE(std::isnan(full[k][gap + static_cast<std::size_t>(specs[k].lookback)]) ||
                specs[k].lookback == 0)
        << specs[k].name << ": the run after the gap must wait its lookback again";
  }
}

TEST(Indicators, NaNInOneInputOnlyBlanksThatInputsIndicators) {
  const Bars& a = golden().series.at("random_a").bars;
  std::vector<double> close = a.close;
  close[100] = kNaN;
  close[101] = std::numeric_limits<double>::infinity();
  std::vector<double> e(close.size()), m(close.size());
  ta::ema(close, 10, e);
  ta::midprice(a.high, a.low, 10, m);  // does not read close
  for (std::size_t i = 100; i < 102 + 9; ++i) EXPECT_TRUE(std::isnan(e[i])) << i;
  EXPECT_FALSE(std::isnan(e[99]));
  EXPECT_FALSE(std::isnan(e[111]));
  std::vector<double> tail(close.begin() + 102, close.end()), tail_ema(tail.size());
  ta::ema(tail, 10, tail_ema);
  EXPECT_EQ(e[111], tail_ema[9]);
  for (std::size_t i = 9; i < m.size(); ++i) EXPECT_FALSE(std::isnan(m[i])) << i;
  std::vector<double> all_nan(50, kNaN), out(50);
  ta::rsi(all_nan, 14, out);
  for (double x : out) EXPECT_TRUE(std::isnan(x));
}

TEST(Indicators, ShortSeriesGiveOnlyNaN) {
  const Bars& a = golden().series.at("random_a").bars;
  for (std::size_t n : {0u, 1u, 5u, 33u}) {
    const Bars s = a.slice(0, n);
    const auto rows = ta::compute_all(s.view(), s.benchmark);
    const auto specs = ta::all_indicators();
    for (std::size_t k = 0; k < specs.size(); ++k)
      for (std::size_t i = 0; i < n; ++i)
        EXPECT_EQ(std::isnan(rows[k][i]), static_cast<int>(i) < specs[k].lookback)
            << specs[k].name << " " << i;
  }
}

// ---- arguments ----

TEST(Indicators, BadArgumentsThrowNamingTheFunctionAndTheValue) {
  std::vector<double> x(50, 1.0), y(49, 1.0), out(50);
  auto message = [](const std::function<void()>& f) {
    try {
      f();
    } catch (const std::invalid_argument& e) {
      return std::string(e.what());
    }
    return std::string("no exception");
  };
  EXPECT_EQ(message([&] { ta::rsi(x, 1, out); }), "ta::rsi: period must be in [2, 100000], got 1");
  EXPECT_EQ(message([&] { ta::ema(x, 0, out); }), "ta::ema: period must be in [1, 100000], got 0");
  EXPECT_NE(message([&] { ta::macd(x, 12, 26, 0, out, out, out); }).find("ta::macd: signal"),
            std::string::npos);
  EXPECT_EQ(message([&] { ta::atr(x, y, x, 14, out); }), "ta::atr: low has 49 values but high has 50");
  EXPECT_EQ(message([&] { ta::sma(x, 5, y); }), "ta::sma: out has 49 values but in has 50");
  EXPECT_NE(message([&] { ta::t3(x, 5, 1.5, out); }).find("vfactor"), std::string::npos);
  EXPECT_THROW(ta::adx_lookback(1), std::invalid_argument);
  EXPECT_THROW(ta::sma_lookback(100001), std::invalid_argument);
  const ta::Ohlcv bars{x, x, x, x, x};
  std::vector<double> too_small(10);
  EXPECT_THROW(ta::compute_all(bars, {}, too_small), std::invalid_argument);
  EXPECT_THROW(ta::compute_all(bars, y), std::invalid_argument);
}

// ---- registry ----

TEST(IndicatorRegistry, NamesAreStableIdentifiersAndCountsAdd) {
  const auto specs = ta::all_indicators();
  EXPECT_EQ(specs.size(), ta::indicator_count());
  EXPECT_GE(specs.size(), 60u);
  std::set<std::string> names;
  std::set<std::string> talib_functions;
  auto is_identifier =
      [](const std::string& name) {  // [a-z0-9_]+ (std::regex trips GCC 12's -Wmaybe-uninitialized)
        return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
          return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
        });
      };
  for (const auto& s : specs) {
    EXPECT_TRUE(is_identifier(s.name)) << s.name;
    EXPECT_TRUE(names.insert(s.name).second) << "duplicate " << s.name;
    if (!s.talib.empty()) talib_functions.insert(s.talib.substr(0, s.talib.find('.')));
  }
  EXPECT_GE(talib_functions.size(), 40u);
  for (const char* required :
       {"sma_20", "ema_20", "macd", "macd_signal", "macd_hist", "rsi_14", "bbands_upper_20", "stoch_slowk",
        "adx_14", "keltner_upper_20", "donchian_lower_20", "ret_20", "logret_5", "rvol_20", "beta_60",
        "corr_60", "volume_z_20"})
    EXPECT_TRUE(names.count(required)) << required;
}

TEST(IndicatorRegistry, ComputeAllEqualsEachSpecAlone) {
  const Bars& b = golden().series.at("random_b").bars;
  const auto specs = ta::all_indicators();
  std::vector<double> flat(specs.size() * b.size());
  ta::compute_all(b.view(), b.benchmark, flat);
  std::vector<double> talib_only(flat.size());
  ta::compute_all(b.view(), b.benchmark, talib_only, ta::IndicatorSet::talib_only);
  for (std::size_t k = 0; k < specs.size(); ++k) {
    std::vector<double> alone(b.size());
    specs[k].compute(b.view(), b.benchmark, alone);
    for (std::size_t i = 0; i < b.size(); ++i) {
      const double x = flat[k * b.size() + i];
      ASSERT_TRUE(x == alone[i] || (std::isnan(x) && std::isnan(alone[i]))) << specs[k].name << " " << i;
      const double y = talib_only[k * b.size() + i];
      if (specs[k].talib.empty())
        ASSERT_TRUE(std::isnan(y)) << specs[k].name;
      else
        ASSERT_TRUE(x == y || (std::isnan(x) && std::isnan(y))) << specs[k].name;
    }
  }
  // Without a benchmark the outputs that need one are NaN and the others unchanged.
  const auto rows = ta::compute_all(b.view(), {});
  for (std::size_t k = 0; k < specs.size(); ++k)
    for (std::size_t i = 0; i < b.size(); ++i) {
      const double x = flat[k * b.size() + i];
      if (specs[k].needs_benchmark)
        ASSERT_TRUE(std::isnan(rows[k][i])) << specs[k].name;
      else
        ASSERT_TRUE(x == rows[k][i] || (std::isnan(x) && std::isnan(rows[k][i]))) << specs[k].name;
    }
}
