// Total returns (--prices adjusted|raw|auto): prices scaled by adjusted close / close, the mode rules,
// restated histories on update, the store's factor panel and the benchmark-price-index warning.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <map>
#include <vector>

#include "common/same_universe.h"
#include "common/temp_path.h"
#include "qf/data/csv.h"
#include "qf/data/json.h"
#include "qf/data/store.h"
#include "qf/tensor/hdf5.h"

using namespace qf;
using namespace qf::data;
namespace fs = std::filesystem;

namespace {

constexpr Day kFirstDay = 18263;  // 2020-01-01

// Raw close of row i: a deterministic wiggle around 100.
double raw_close(int i) {
  return 100.0 * std::exp(0.02 * std::sin(0.7 * i) + 0.001 * i);
}

struct Dividend {
  int ex_row;     // first row without the dividend
  double amount;  // per share
};

// The factor of row i: the product over later ex-days of P_ex / (P_ex + D), so that
// adj_ex / adj_(ex-1) = (P_ex + D) / P_(ex-1): the return with the dividend reinvested.
double factor_of(int i, const std::vector<Dividend>& dividends) {
  double f = 1.0;
  for (const auto& d : dividends)
    if (i < d.ex_row) f *= raw_close(d.ex_row) / (raw_close(d.ex_row) + d.amount);
  return f;
}

// Yahoo layout, rows 0 .. rows-1; `null_adjusted` rows have an empty adjusted close.
std::string yahoo_file(int rows, const std::vector<Dividend>& dividends,
                       std::vector<int> null_adjusted = {}) {
  std::string text = "Date,Open,High,Low,Close,Adj Close,Volume\n";
  for (int i = 0; i < rows; ++i) {
    const double c = raw_close(i);
    char line[200];
    std::snprintf(line, sizeof line, "%s,%.6f,%.6f,%.6f,%.6f,", format_date(kFirstDay + i).c_str(), c * 0.995,
                  c * 1.01, c * 0.99, c);
    text += line;
    if (std::find(null_adjusted.begin(), null_adjusted.end(), i) == null_adjusted.end()) {
      std::snprintf(line, sizeof line, "%.8f", c * factor_of(i, dividends));
      text += line;
    }
    text += ',';  // appended piecewise: GCC 12 warns falsely (-Wrestrict) on "," + s + "\n"
    text += std::to_string(1000 + i);
    text += '\n';
  }
  return text;
}

// Kaggle layout (no adjusted close).
std::string kaggle_file(const std::string& ticker, int rows) {
  std::string text = "date,open,high,low,close,volume,Name\n";
  for (int i = 0; i < rows; ++i) {
    char line[200];
    std::snprintf(line, sizeof line, "%s,%.6f,%.6f,%.6f,%.6f,%d,%s\n", format_date(kFirstDay + i).c_str(),
                  raw_close(i), raw_close(i) * 1.01, raw_close(i) * 0.99, raw_close(i), 1000 + i,
                  ticker.c_str());
    text += line;
  }
  return text;
}

fs::path make_folder(const std::string& name, const std::map<std::string, std::string>& files) {
  const fs::path dir = test_support::temp_path("total_" + name);
  fs::remove_all(dir);
  fs::create_directories(dir);
  for (const auto& [file, text] : files) std::ofstream(dir / file, std::ios::binary) << text;
  return dir;
}

IngestOptions options_with(PriceChoice prices) {
  IngestOptions o;
  o.validation.min_rows = 5;
  o.prices = prices;
  return o;
}

Universe ingest_folder(const fs::path& dir, PriceChoice prices = PriceChoice::automatic) {
  const IngestOptions o = options_with(prices);
  return ingest(list_price_files(dir, o), o);
}

double cell(const Tensor& panel, const Universe& u, std::int64_t d, std::int64_t i) {
  return panel.data<double>()[d * u.ticker_count() + i];
}

std::vector<std::string> set_kinds(const Universe& u) {
  std::vector<std::string> kinds;
  for (const auto& f : set_findings(u)) kinds.push_back(f.kind);
  return kinds;
}

std::vector<Finding> findings_of(const Universe& u, const std::string& ticker, const std::string& kind) {
  std::vector<Finding> out;
  for (const auto& r : u.reports)
    for (const auto& f : r.findings)
      if (r.ticker == ticker && f.kind == kind) out.push_back(f);
  return out;
}

// The error message of `call`, which must throw InputError.
template <typename Call>
std::string input_error(Call call) {
  try {
    call();
  } catch (const InputError& e) {
    return e.what();
  }
  ADD_FAILURE() << "no InputError";
  return "";
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

}  // namespace

TEST(TotalReturns, AdjustedPricesCarryTheDividend) {
  const std::vector<Dividend> dividend = {{25, 2.0}};
  const fs::path dir = make_folder("scaled", {{"AAA.csv", yahoo_file(40, dividend)}});
  const Universe u = ingest_folder(dir);
  ASSERT_EQ(u.prices, PriceBasis::adjusted);
  for (std::int64_t d = 0; d < u.day_count(); ++d) {
    const int i = static_cast<int>(d);
    const double f = factor_of(i, dividend);
    // OHLC scaled by the row's factor (from the 8-decimal adjusted close), volume as traded.
    EXPECT_NEAR(cell(u.close, u, d, 0), raw_close(i) * f, 1e-6);
    EXPECT_NEAR(cell(u.open, u, d, 0), raw_close(i) * 0.995 * f, 1e-5);
    EXPECT_NEAR(cell(u.high, u, d, 0), raw_close(i) * 1.01 * f, 1e-5);
    EXPECT_NEAR(cell(u.low, u, d, 0), raw_close(i) * 0.99 * f, 1e-5);
    EXPECT_EQ(cell(u.volume, u, d, 0), 1000 + i);
    EXPECT_NEAR(u.adjustment[static_cast<std::size_t>(d)], f, 1e-7);  // 6-decimal closes
  }
  // Across the ex-day the return is the total return (P_ex + D) / P_(ex-1) - 1, not the price return.
  const double total = (raw_close(25) + 2.0) / raw_close(24) - 1;
  const double adjusted = cell(u.close, u, 25, 0) / cell(u.close, u, 24, 0) - 1;
  EXPECT_NEAR(adjusted, total, 1e-7);
  const Universe raw = ingest_folder(dir, PriceChoice::raw);
  EXPECT_NEAR(cell(raw.close, raw, 25, 0) / cell(raw.close, raw, 24, 0) - 1,
              raw_close(25) / raw_close(24) - 1, 1e-7);
  EXPECT_GT(adjusted - (cell(raw.close, raw, 25, 0) / cell(raw.close, raw, 24, 0) - 1), 0.015);  // D/P ~ 2 %
  EXPECT_TRUE(set_kinds(u).empty() || set_kinds(u) == std::vector<std::string>{"survivorship"});
}

TEST(TotalReturns, ARowWithoutAdjustedCloseTakesTheEarlierFactor) {
  const std::vector<Dividend> dividend = {{25, 2.0}};
  const fs::path dir = make_folder("missing", {{"AAA.csv", yahoo_file(40, dividend, {0, 10})}});
  const Universe u = ingest_folder(dir);
  const auto missing = findings_of(u, "AAA", "missing_adjustment");
  ASSERT_EQ(missing.size(), 2u);
  EXPECT_EQ(missing[0].date, format_date(kFirstDay));
  EXPECT_TRUE(contains(missing[0].action, "factor 1")) << missing[0].action;
  EXPECT_EQ(missing[1].date, format_date(kFirstDay + 10));
  EXPECT_EQ(u.adjustment[0], 1.0);               // none earlier: raw
  EXPECT_EQ(u.adjustment[10], u.adjustment[9]);  // carried: no artificial jump
  EXPECT_NEAR(cell(u.close, u, 10, 0), raw_close(10) * u.adjustment[9], 1e-5);
}

TEST(TotalReturns, AutoRawAndAdjustedModes) {
  const fs::path yahoo = make_folder("yahoo", {{"AAA.csv", yahoo_file(40, {{25, 2.0}})}});
  const fs::path kaggle = make_folder("kaggle", {{"BBB_data.csv", kaggle_file("BBB", 40)}});
  // auto: adjusted with an adjusted close everywhere, raw with none.
  EXPECT_EQ(ingest_folder(yahoo).prices, PriceBasis::adjusted);
  const Universe plain = ingest_folder(kaggle);
  EXPECT_EQ(plain.prices, PriceBasis::raw);
  EXPECT_EQ(set_kinds(plain).back(), "price_returns_only");
  // raw opts out: the close as traded, the factor 1, and the price-return warning says why.
  const Universe raw = ingest_folder(yahoo, PriceChoice::raw);
  EXPECT_EQ(raw.prices, PriceBasis::raw);
  EXPECT_NEAR(cell(raw.close, raw, 0, 0), raw_close(0), 1e-6);
  EXPECT_EQ(raw.adjustment[0], 1.0);
  const auto findings = set_findings(raw);
  ASSERT_FALSE(findings.empty());
  EXPECT_EQ(findings.back().kind, "price_returns_only");
  EXPECT_TRUE(contains(findings.back().detail, "--prices raw")) << findings.back().detail;
  // adjusted on files without an adjusted close: an error naming one.
  const std::string message = input_error([&] { ingest_folder(kaggle, PriceChoice::adjusted); });
  EXPECT_TRUE(contains(message, "BBB_data.csv")) << message;
  EXPECT_EQ(parse_price_choice("auto"), PriceChoice::automatic);
  EXPECT_THROW(parse_price_choice("total"), std::invalid_argument);
}

TEST(TotalReturns, AMixedFolderIsRefusedNamingOneFileOfEach) {
  const fs::path dir = make_folder(
      "mixed", {{"AAA.csv", yahoo_file(40, {{25, 2.0}})}, {"BBB_data.csv", kaggle_file("BBB", 40)}});
  for (const PriceChoice choice : {PriceChoice::automatic, PriceChoice::adjusted}) {
    const std::string message = input_error([&] { ingest_folder(dir, choice); });
    EXPECT_TRUE(contains(message, "BBB_data.csv")) << message;
    if (choice == PriceChoice::automatic) {
      EXPECT_TRUE(contains(message, "AAA.csv")) << message;
    }
  }
  EXPECT_EQ(ingest_folder(dir, PriceChoice::raw).ticker_count(), 2);  // raw: both as traded
}

namespace {

void expect_same_panels(const Universe& a, const Universe& b) {
  test_support::expect_same_price_panels(a, b);
  EXPECT_EQ(std::memcmp(a.adjustment.data(), b.adjustment.data(), a.adjustment.size() * 8), 0);
}

std::vector<TickerReport> without_restated(std::vector<TickerReport> reports) {
  for (auto& r : reports) std::erase_if(r.findings, [](const Finding& f) { return f.kind == "restated"; });
  return reports;
}

}  // namespace

TEST(TotalReturns, AnUpdateAcrossANewDividendRestatesTheHistory) {
  const fs::path dir = make_folder(
      "update", {{"AAA.csv", yahoo_file(40, {{25, 2.0}}, {30})}, {"BBB.csv", yahoo_file(40, {})}});
  const IngestOptions options = options_with(PriceChoice::automatic);
  write_universe(dir / "universe.h5", ingest(list_price_files(dir, options), options));
  // 20 more days; AAA pays a second dividend on row 50, which restates every earlier adjusted close.
  std::ofstream(dir / "AAA.csv") << yahoo_file(60, {{25, 2.0}, {50, 1.5}}, {30});
  std::ofstream(dir / "BBB.csv") << yahoo_file(60, {});
  const auto files = list_price_files(dir, options);
  const Universe stored = read_universe(dir / "universe.h5");
  const Universe updated = update(stored, files, options);
  const Universe rebuilt = ingest(files, options);
  expect_same_panels(updated, rebuilt);
  EXPECT_EQ(reports_to_json(without_restated(updated.reports)), reports_to_json(rebuilt.reports));
  const auto restated = findings_of(updated, "AAA", "restated");
  ASSERT_EQ(restated.size(), 1u);
  EXPECT_EQ(restated[0].date, format_date(kFirstDay));
  EXPECT_TRUE(contains(restated[0].detail, "39 stored rows")) << restated[0].detail;  // row 30 has none
  EXPECT_TRUE(findings_of(updated, "BBB", "restated").empty());
  EXPECT_EQ(findings_of(updated, "AAA", "missing_adjustment").size(), 1u);  // made again, not doubled

  // A restatement is no licence to revise raw prices: a changed close is still refused.
  std::string revised = yahoo_file(60, {{25, 2.0}, {50, 1.5}}, {30});
  const auto at = revised.find(format_date(kFirstDay + 3));
  revised.replace(revised.find(',', revised.find(',', at) + 1) + 1, 1, "9");  // row 3's high
  std::ofstream(dir / "AAA.csv") << revised;
  const std::string message = input_error([&] { update(stored, list_price_files(dir, options), options); });
  EXPECT_TRUE(contains(message, "AAA.csv:5")) << message;
  // Nor is switching the basis: --prices raw on an adjusted store needs a full rebuild.
  std::ofstream(dir / "AAA.csv") << yahoo_file(60, {{25, 2.0}, {50, 1.5}}, {30});
  EXPECT_THROW(update(stored, files, options_with(PriceChoice::raw)), InputError);
}

TEST(TotalReturns, TheStoreKeepsTheFactorAndThePriceBasis) {
  const fs::path dir = make_folder("store", {{"AAA.csv", yahoo_file(40, {{25, 2.0}})}});
  Universe u = ingest_folder(dir);
  write_universe(dir / "universe.h5", u);
  const Universe back = read_universe(dir / "universe.h5");
  EXPECT_EQ(back.prices, PriceBasis::adjusted);
  ASSERT_EQ(back.adjustment.size(), u.adjustment.size());
  EXPECT_EQ(std::memcmp(back.adjustment.data(), u.adjustment.data(), u.adjustment.size() * 8), 0);
  // Raw prices are recoverable: price / factor.
  EXPECT_NEAR(back.close.data<double>()[3] / back.adjustment[3], raw_close(3), 1e-6);
  EXPECT_TRUE(
      contains(h5::File(dir / "universe.h5", h5::File::Mode::read).attr_string("/", "prices"), "adjusted"));
  EXPECT_EQ(Json::parse(reports_to_json(u.reports, {}, to_string(u.prices)))["prices"], "adjusted");
  const Universe raw = ingest_folder(dir, PriceChoice::raw);
  write_universe(dir / "raw.h5", raw);
  EXPECT_EQ(read_universe(dir / "raw.h5").prices, PriceBasis::raw);
}

TEST(TotalReturns, APriceIndexBenchmarkBesideTotalReturnStocksIsWarnedAbout) {
  const fs::path dir = make_folder("benchmark", {{"AAA.csv", yahoo_file(40, {{25, 2.0}})}});
  const fs::path bench = dir.string() + "_index";
  fs::create_directories(bench);
  std::ofstream(bench / "index.csv") << yahoo_file(40, {});         // adjusted close == close
  std::ofstream(bench / "etf.csv") << yahoo_file(40, {{20, 1.0}});  // a total-return benchmark
  IngestOptions o = options_with(PriceChoice::automatic);
  o.benchmark = bench / "index.csv";
  auto kinds = set_kinds(ingest(list_price_files(dir, o), o));
  EXPECT_NE(std::find(kinds.begin(), kinds.end(), "benchmark_price_index"), kinds.end());
  o.benchmark = bench / "etf.csv";
  const Universe etf = ingest(list_price_files(dir, o), o);
  kinds = set_kinds(etf);
  EXPECT_EQ(std::find(kinds.begin(), kinds.end(), "benchmark_price_index"), kinds.end());
  EXPECT_NEAR(etf.benchmark_close[5], raw_close(5) * factor_of(5, {{20, 1.0}}), 1e-6);  // adjusted too
  // Raw stocks against a price index: like with like, only the price-return warning.
  o.benchmark = bench / "index.csv";
  o.prices = PriceChoice::raw;
  kinds = set_kinds(ingest(list_price_files(dir, o), o));
  EXPECT_EQ(std::find(kinds.begin(), kinds.end(), "benchmark_price_index"), kinds.end());
  EXPECT_NE(std::find(kinds.begin(), kinds.end(), "price_returns_only"), kinds.end());
}

TEST(TotalReturns, TheRealIndexIsAPriceIndex) {
  const fs::path index = fs::path(QF_SHARED_DATA_DIR) / "gspc_daily.csv";
  if (!fs::exists(index)) GTEST_SKIP() << "no " << index;
  const fs::path dir = make_folder("real_index", {{"AAA.csv", yahoo_file(40, {{25, 2.0}})}});
  IngestOptions o = options_with(PriceChoice::automatic);
  o.benchmark = index;
  const Universe u = ingest(list_price_files(dir, o), o);
  EXPECT_TRUE(u.benchmark_price_index);  // ^GSPC: Adj Close == Close on every row
  const auto kinds = set_kinds(u);
  EXPECT_NE(std::find(kinds.begin(), kinds.end(), "benchmark_price_index"), kinds.end());
}
