// Price-file layouts and ticker names (issue 22): .csv and .txt files found in subfolders, the Stooq
// layouts, one canonical ticker spelling for file names, ticker columns and the constituents join, and
// clear errors for files that are empty or match no layout.
#include <gtest/gtest.h>

#include <fstream>
#include <map>

#include "common/temp_path.h"
#include "qf/data/csv.h"
#include "qf/data/universe.h"

using namespace qf::data;
namespace fs = std::filesystem;

namespace {

// A fresh folder with the given files; names may hold subfolders ("a/b/x.txt").
fs::path make_folder(const std::string& name, const std::map<std::string, std::string>& files) {
  const fs::path dir = qf::test_support::temp_path(name);
  fs::remove_all(dir);
  fs::create_directories(dir);
  for (const auto& [file, text] : files) {
    fs::create_directories((dir / file).parent_path());
    std::ofstream(dir / file, std::ios::binary) << text;
  }
  return dir;
}

// `rows` business-like days of a plain file (no ticker column): date,open,high,low,close,volume.
std::string plain_rows(int rows) {
  std::string text = "date,open,high,low,close,volume\n";
  for (int d = 1; d <= rows; ++d)
    text += "2020-01-" + std::string(d < 10 ? "0" : "") + std::to_string(d) + ",10,11,9,10.5,100\n";
  return text;
}

IngestOptions few_rows() {
  IngestOptions options;
  options.validation.min_rows = 3;
  return options;
}

Universe ingest_folder(const fs::path& dir, IngestOptions options = few_rows()) {
  return ingest(list_price_files(dir, options), options);
}

// The InputError that ingesting `dir` throws (a failed expectation when there is none).
std::string ingest_error(const fs::path& dir) {
  try {
    ingest_folder(dir);
  } catch (const InputError& e) {
    return e.what();
  }
  ADD_FAILURE() << "no InputError for " << dir;
  return "";
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

}  // namespace

TEST(Tickers, OneCanonicalSpelling) {
  EXPECT_EQ(canonical_ticker("BRK-B"), "BRK.B");
  EXPECT_EQ(canonical_ticker(" brk.b "), "BRK.B");
  EXPECT_EQ(canonical_ticker("AAPL.US"), "AAPL");
  EXPECT_EQ(canonical_ticker("BRK-B.US"), "BRK.B");
  EXPECT_EQ(canonical_ticker("vow3.de"), "VOW3");
  EXPECT_EQ(canonical_ticker("ETF_SPY"), "ETF_SPY");
  EXPECT_EQ(canonical_ticker("^GSPC"), "^GSPC");
  EXPECT_EQ(canonical_ticker("10USY.B"), "10USY.B");  // a one-letter class is no market suffix
  // Unsafe names stay unsafe: nothing is cut that could turn them into a valid ticker.
  for (const char* raw : {"../../etc", "-x.us", ".us", "=HYPERLINK(1)", "a/b"})
    EXPECT_FALSE(is_safe_ticker(canonical_ticker(raw))) << raw;
}

TEST(Tickers, FromFileNamesOnlyKnownDecorationsAreDropped) {
  EXPECT_EQ(ticker_from_file_name("x/BRK.B_data.csv"), "BRK.B");
  EXPECT_EQ(ticker_from_file_name("BF.B.txt"), "BF.B");
  EXPECT_EQ(ticker_from_file_name("aapl.us.txt"), "AAPL");
  EXPECT_EQ(ticker_from_file_name("BRK-B.csv"), "BRK.B");
  EXPECT_EQ(ticker_from_file_name("ETF_SPY.csv"), "ETF_SPY");
  EXPECT_EQ(ticker_from_file_name("gspc_daily.csv"), "GSPC");
  EXPECT_EQ(ticker_from_file_name("AAPL_2020.CSV"), "AAPL_2020");  // unknown decoration: kept
}

TEST(Layouts, FileNameFormsIngestAsTheirTickers) {
  const std::string stooq_kaggle =
      "Date,Open,High,Low,Close,Volume,OpenInt\n2020-01-02,1,2,0.5,1.5,100,0\n2020-01-03,1,2,0.5,1.6,100,0\n"
      "2020-01-06,1,2,0.5,1.7,100,0\n";
  const fs::path dir = make_folder("layout_names", {{"BRK.B_data.csv", plain_rows(3)},
                                                    {"BF.B.txt", plain_rows(4)},
                                                    {"aapl.us.txt", stooq_kaggle},
                                                    {"ETF_SPY.csv", plain_rows(5)},
                                                    {"ETF_TLT.csv", plain_rows(6)}});
  const Universe u = ingest_folder(dir);
  EXPECT_EQ(u.tickers, (std::vector<std::string>{"AAPL", "BF.B", "BRK.B", "ETF_SPY", "ETF_TLT"}));
  for (const auto& r : u.reports) EXPECT_FALSE(r.rejected) << r.ticker << ": " << r.reject_reason;
  const std::int64_t aapl = u.index_of("AAPL");
  ASSERT_GE(aapl, 0);
  EXPECT_DOUBLE_EQ(u.close.at({5, aapl}), 1.7);  // days 2020-01-01 .. 01-06
  EXPECT_EQ(u.reports[0].layout, "stooq");
  EXPECT_EQ(u.listed[static_cast<std::size_t>(5 * u.ticker_count() + u.index_of("ETF_TLT"))], 1);
  EXPECT_EQ(u.listed[static_cast<std::size_t>(5 * u.ticker_count() + u.index_of("ETF_SPY"))], 0);

  const fs::path dash = make_folder("layout_dash", {{"BRK-B.csv", plain_rows(3)}});
  EXPECT_EQ(ingest_folder(dash).tickers, (std::vector<std::string>{"BRK.B"}));
}

TEST(Layouts, TwoSpellingsOfOneTickerAreAnErrorNamingBoth) {
  const fs::path dir =
      make_folder("layout_twice", {{"BRK-B.csv", plain_rows(3)}, {"sub/BRK.B_data.csv", plain_rows(3)}});
  const std::string error = ingest_error(dir);
  EXPECT_TRUE(contains(error, "BRK-B.csv")) << error;
  EXPECT_TRUE(contains(error, "BRK.B_data.csv")) << error;
  EXPECT_TRUE(contains(error, "ticker BRK.B")) << error;
}

TEST(Layouts, StooqBulkFileInANestedFolder) {
  const fs::path dir = make_folder(
      "layout_bulk", {{"data/daily/us/nyse stocks/1/aapl.us.txt",
                       "<TICKER>,<PER>,<DATE>,<TIME>,<OPEN>,<HIGH>,<LOW>,<CLOSE>,<VOL>,<OPENINT>\n"
                       "AAPL.US,D,20200102,000000,74.06,75.15,73.8,75.09,135480400,0\n"
                       "AAPL.US,D,20200103,000000,74.29,75.14,74.13,74.36,146322800,0\n"
                       "AAPL.US,D,20200106,000000,73.45,74.99,73.19,74.95,118387200,0\n"},
                      {"data/daily/us/nasdaq stocks/2/brk-b.us.txt",
                       "<TICKER>,<PER>,<DATE>,<TIME>,<OPEN>,<HIGH>,<LOW>,<CLOSE>,<VOL>,<OPENINT>\n"
                       "BRK-B.US,D,20200102,000000,227,229,226,228.39,3764000,0\n"
                       "BRK-B.US,D,20200103,000000,226,227,225,226.18,3600000,0\n"
                       "BRK-B.US,D,20200106,000000,225,227,224,226.99,3200000,0\n"},
                      {"notes.md", "not a price file, not listed\n"},
                      {".hidden/zzz.us.txt", "junk\n"}});
  const auto files = list_price_files(dir, {});
  ASSERT_EQ(files.size(), 2u);  // sorted by path: "nasdaq stocks" before "nyse stocks"
  EXPECT_EQ(files[0].filename(), "brk-b.us.txt");
  EXPECT_EQ(files[1].filename(), "aapl.us.txt");
  const Universe u = ingest_folder(dir);
  ASSERT_EQ(u.tickers, (std::vector<std::string>{"AAPL", "BRK.B"}));
  EXPECT_EQ(u.reports[0].layout, "stooq_bulk");
  EXPECT_EQ(format_date(u.days.front()), "2020-01-02");
  EXPECT_DOUBLE_EQ(u.close.at({2, 0}), 74.95);
  EXPECT_DOUBLE_EQ(u.volume.at({0, 1}), 3764000);
}

TEST(Layouts, StooqBulkPeriodOtherThanDailyIsRefused) {
  const fs::path dir = make_folder(
      "layout_weekly", {{"w/aapl.us.txt",
                         "<TICKER>,<PER>,<DATE>,<TIME>,<OPEN>,<HIGH>,<LOW>,<CLOSE>,<VOL>,<OPENINT>\n"
                         "AAPL.US,W,20200103,000000,74.06,75.15,73.8,75.09,135480400,0\n"}});
  try {
    read_price_file(dir / "w/aapl.us.txt");
    FAIL() << "a weekly file was read";
  } catch (const InputError& e) {
    EXPECT_TRUE(contains(e.what(), "aapl.us.txt:2")) << e.what();
    EXPECT_EQ(e.field(), "<PER>");
    EXPECT_TRUE(contains(e.what(), "'W' is not daily")) << e.what();
  }
}

TEST(Layouts, EmptyAndHeaderlessFilesAreRefusedByName) {
  const fs::path empty = make_folder("layout_empty", {{"AAA.csv", plain_rows(3)}, {"sub/zzz.us.txt", ""}});
  std::string error = ingest_error(empty);
  EXPECT_TRUE(contains(error, "zzz.us.txt")) << error;
  EXPECT_TRUE(contains(error, "the file is empty")) << error;  // not just the folder name

  const fs::path headerless = make_folder(
      "layout_headerless", {{"nohead.txt", "2020-01-02,1,2,0.5,1.5,100\n2020-01-03,1,2,0.5,1.5,100\n"}});
  error = ingest_error(headerless);
  EXPECT_TRUE(contains(error, "nohead.txt:1")) << error;
  EXPECT_TRUE(contains(error, "no header line")) << error;

  const fs::path unknown = make_folder("layout_unknown", {{"table.csv", "when,price\n2020-01-02,1\n"}});
  error = ingest_error(unknown);
  EXPECT_TRUE(contains(error, "table.csv:1")) << error;
  EXPECT_TRUE(contains(error, "not a price file")) << error;
}

TEST(Layouts, ConstituentsJoinOnTheCanonicalTicker) {
  const fs::path dir = make_folder(
      "layout_constituents", {{"BRK.B_data.csv",
                               "date,open,high,low,close,volume,Name\n2020-01-02,1,2,0.5,1.5,100,BRK.B\n"
                               "2020-01-03,1,2,0.5,1.5,100,BRK.B\n2020-01-06,1,2,0.5,1.5,100,BRK.B\n"},
                              {"constituents.csv", "Symbol,Sector,Market Cap\nBRK-B,Financials,5e11\n"}});
  IngestOptions options = few_rows();
  options.constituents = dir / "constituents.csv";  // in the price folder: skipped as a price file
  const Universe u = ingest_folder(dir, options);
  ASSERT_EQ(u.tickers, (std::vector<std::string>{"BRK.B"}));
  EXPECT_EQ(u.sector[0], "Financials");
  EXPECT_DOUBLE_EQ(u.market_cap[0], 5e11);
}
