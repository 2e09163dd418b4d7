// The bad input corpus (tests/data/bad_input, its README states what each file must do): every file
// gets a clear error naming the file, line and field, or a documented repair recorded as a finding.
// Hostile ticker names never reach a path or an output; formula-like sector names are neutralised.
#include <gtest/gtest.h>

#include <fstream>

#include "common/temp_path.h"
#include "qf/data/csv.h"
#include "qf/data/store.h"
#include "qf/data/universe.h"
#include "qf/tensor/hdf5.h"

using namespace qf;
using namespace qf::data;
namespace fs = std::filesystem;

namespace {

const fs::path kCorpus = fs::path(QF_TEST_DATA_DIR) / "bad_input";

// The error reading `name` throws (ADD_FAILURE when it reads cleanly).
InputError read_error(const std::string& name) {
  try {
    read_price_file(kCorpus / name);
  } catch (const InputError& e) {
    return e;
  }
  ADD_FAILURE() << name << " was read without an error";
  return InputError("", 0, "", "");
}

// The report of the one ticker in `name`, ingested alone.
TickerReport ingest_alone(const std::string& name, const fs::path& constituents = {}) {
  const Universe u = ingest({kCorpus / name, kCorpus / "good_data.csv"}, {{}, constituents, {}});
  for (const auto& r : u.reports)
    if (r.files.front().find(name) != std::string::npos) return r;
  ADD_FAILURE() << "no report for " << name;
  return {};
}

bool has_finding(const TickerReport& r, const std::string& kind, std::int64_t line,
                 const std::string& field) {
  for (const auto& f : r.findings)
    if (f.kind == kind && f.line == line && f.field == field &&
        f.file.find(r.files.front()) != std::string::npos)
      return true;
  return false;
}

}  // namespace

TEST(BadInput, UnreadableFilesAreErrorsNamingFileLineAndField) {
  const InputError binary = read_error("binary_data.csv");
  EXPECT_NE(std::string(binary.what()).find("binary content"), std::string::npos) << binary.what();
  EXPECT_NE(binary.file().find("binary_data.csv"), std::string::npos);
  const InputError utf16 = read_error("utf16_data.csv");
  EXPECT_NE(std::string(utf16.what()).find("UTF-16"), std::string::npos) << utf16.what();
  EXPECT_EQ(utf16.line(), 1);
  const InputError empty = read_error("empty_data.csv");
  EXPECT_EQ(empty.line(), 1);
  EXPECT_EQ(empty.field(), "date");
  const InputError no_close = read_error("no_close_data.csv");
  EXPECT_EQ(no_close.line(), 1);
  EXPECT_EQ(no_close.field(), "close");
  const InputError quote = read_error("quote_data.csv");
  EXPECT_EQ(quote.line(), 5);
  EXPECT_NE(std::string(quote.what()).find("unterminated quoted field"), std::string::npos);
}

TEST(BadInput, AHugeLineIsAnErrorNotAnAllocation) {
  const fs::path file = test_support::temp_path("huge_line_data.csv");
  {
    std::ofstream out(file, std::ios::binary);
    out << "date,close\n2019-01-02,10\n2019-01-03,";
    out << std::string(3 << 20, '9') << "\n";
  }
  try {
    read_price_file(file);
    ADD_FAILURE() << "a 3 MiB line was accepted";
  } catch (const InputError& e) {
    EXPECT_EQ(e.line(), 3) << e.what();
    EXPECT_NE(e.file().find("huge_line_data.csv"), std::string::npos);
  }
  fs::remove(file);
}

TEST(BadInput, DamagedRowsAreDroppedWithAFindingEach) {
  const TickerReport truncated = ingest_alone("truncated_data.csv");
  EXPECT_FALSE(truncated.rejected);
  EXPECT_EQ(truncated.rows_kept, 30);
  EXPECT_TRUE(has_finding(truncated, "unparseable_line", 32, "")) << "the cut last row";
  const TickerReport malformed = ingest_alone("malformed_data.csv");
  EXPECT_FALSE(malformed.rejected);
  EXPECT_EQ(malformed.rows_kept, 28);
  EXPECT_TRUE(has_finding(malformed, "unparseable_line", 7, "date"));
  EXPECT_TRUE(has_finding(malformed, "unparseable_line", 9, "close"));
  const TickerReport header_only = ingest_alone("empty_rows_data.csv");
  EXPECT_TRUE(header_only.rejected);
}

TEST(BadInput, HostileTickerNamesAreRejectedAndNeverStored) {
  const Universe u =
      ingest({kCorpus / "hostile_long.csv", kCorpus / "latin1_data.csv", kCorpus / "good_data.csv"}, {});
  ASSERT_EQ(u.tickers, std::vector<std::string>{"GGG"}) << "only the control is stored";
  int unsafe = 0;
  for (const auto& r : u.reports) {
    if (r.ticker == "GGG") continue;
    EXPECT_TRUE(r.rejected) << r.ticker;
    unsafe += r.reject_reason.find("unsafe") != std::string::npos ? 1 : 0;
  }
  EXPECT_EQ(unsafe, 5) << "4 hostile long-format names and the Latin-1 one";
}

TEST(BadInput, FormulaLikeSectorNamesLoseTheirFormula) {
  const Universe u =
      ingest({kCorpus / "truncated_data.csv", kCorpus / "malformed_data.csv", kCorpus / "good_data.csv"},
             {{}, kCorpus / "constituents.csv", {}});
  ASSERT_EQ(u.tickers.size(), 3u);
  EXPECT_EQ(u.sector[static_cast<std::size_t>(u.index_of("AAA"))], "cmd|' /C calc'!A0");
  for (const auto& sector : u.sector) {
    if (!sector.empty()) {
      EXPECT_EQ(std::string("=+-@").find(sector.front()), std::string::npos) << sector;
    }
  }
}

TEST(BadInput, ADamagedOrTruncatedStoreIsAnErrorBeforeHdf5ReadsIt) {
  const Universe u = ingest({kCorpus / "good_data.csv"}, {});
  const fs::path good = test_support::temp_path("bad_input_store.h5");
  write_universe(good, u);
  EXPECT_EQ(read_universe(good).tickers, u.tickers);
  EXPECT_EQ(h5::verify_checksum(good), h5::Checksum::valid);
  const std::string bytes = [&] {
    std::ifstream in(good, std::ios::binary);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  }();
  auto expect_refused = [&](const std::string& name, const std::string& content) {
    const fs::path damaged = test_support::temp_path(name);
    std::ofstream(damaged, std::ios::binary) << content;
    try {
      read_universe(damaged);
      ADD_FAILURE() << name << " was read";
    } catch (const std::runtime_error& e) {
      EXPECT_NE(std::string(e.what()).find(damaged.string()), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("checksum"), std::string::npos) << e.what();
    }
    fs::remove(damaged);
  };
  std::string flipped = bytes;
  flipped[bytes.size() / 2] = static_cast<char>(flipped[bytes.size() / 2] ^ 0x40);
  expect_refused("bad_input_flipped.h5", flipped);
  expect_refused("bad_input_truncated.h5", bytes.substr(0, bytes.size() * 2 / 3));
  fs::remove(good);
}
