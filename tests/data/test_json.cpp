// JSON files (qf/data/json.h) and the two JSON documents of the data library: the state manifest (written,
// and read back to check the store's hash) and the validation report.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <limits>

#include "common/temp_path.h"
#include "qf/data/csv.h"
#include "qf/data/json.h"
#include "qf/data/store.h"
#include "qf/data/validation.h"

using namespace qf;
using namespace qf::data;
namespace fs = std::filesystem;

TEST(Json, KeepsKeyOrderWritesNonFiniteAsNullAndRoundTripsDoubles) {
  const double third = 1.0 / 3.0;
  const Json j = {{"zeta", 1},
                  {"alpha", third},
                  {"nan", std::numeric_limits<double>::quiet_NaN()},
                  {"inf", -std::numeric_limits<double>::infinity()},
                  {"list", {0.1, 2.5}}};
  const std::string text = json_text(j);
  EXPECT_EQ(text.back(), '\n');
  EXPECT_LT(text.find("\"zeta\""), text.find("\"alpha\"")) << text;  // the order they were added in
  const Json back = Json::parse(text);
  EXPECT_TRUE(back["nan"].is_null());
  EXPECT_TRUE(back["inf"].is_null());
  EXPECT_EQ(back["alpha"].get<double>(), third);  // every bit: shortest round trip, not 12 digits
  EXPECT_EQ(back["list"][0].get<double>(), 0.1);
  EXPECT_NE(text.find("0.1,"), std::string::npos) << text;  // and no more digits than needed
  const std::string line = json_line({{"a", "x\"y"}, {"b", 2}});
  EXPECT_EQ(line, "{\"a\":\"x\\\"y\",\"b\":2}\n");
}

TEST(Json, ReadJsonNamesTheFileItCannotParse) {
  const fs::path file = test_support::temp_path("broken.json");
  std::ofstream(file) << "{\"a\": 1,";
  try {
    read_json(file);
    FAIL() << "no error";
  } catch (const InputError& e) {
    EXPECT_EQ(e.file(), file.string());
    EXPECT_NE(std::string(e.what()).find("not JSON"), std::string::npos) << e.what();
  }
  EXPECT_THROW(read_json(file.string() + ".missing"), InputError);
  fs::remove(file);
}

TEST(Json, ManifestRecordsTheStoreAndTheHashCheckReadsItBack) {
  const fs::path dir = test_support::temp_path("manifest");
  fs::create_directories(dir);
  const fs::path store = dir / "universe.h5";
  std::ofstream(store) << "stand-in bytes";
  Manifest m{"process_new_data", "2026-12-06T00:00:00Z", {{"mode", "full"}, {"input", "in\\put"}}, {}, {}};
  m.inputs.push_back({"/data/a.csv", "0123456789abcdef", 10});
  m.outputs.push_back({store.string(), file_hash(store), fs::file_size(store)});
  const Json j = Json::parse(manifest_to_json(m));
  std::vector<std::string> keys;
  for (const auto& [key, value] : j.items()) keys.push_back(key);
  EXPECT_EQ(keys, (std::vector<std::string>{"stage", "created_utc", "settings", "inputs", "outputs"}));
  EXPECT_EQ(j["settings"]["input"], "in\\put");
  EXPECT_EQ(j["inputs"][0]["bytes"], 10);
  write_text_atomically(dir / "manifest_process_new_data.json", manifest_to_json(m));
  EXPECT_EQ(checked_store_hash(store), file_hash(store));
  std::ofstream(store, std::ios::app) << "changed";
  EXPECT_THROW(checked_store_hash(store), InputError);
  fs::remove_all(dir);
}

TEST(Json, ValidationReportHoldsEveryFindingAndTheSummary) {
  TickerReport r{"AAA", {"/data/AAA.csv"}, "kaggle", 10, 9, false, "", {}};
  r.findings.push_back({"missing_close", "/data/AAA.csv", 3, "2020-01-02", "close", "empty", "row dropped"});
  const Json j =
      Json::parse(reports_to_json({r}, {{"survivorship", "", 0, "", "", "no delisting", "none"}}, "raw"));
  EXPECT_EQ(j["prices"], "raw");
  EXPECT_EQ(j["tickers"][0]["findings"][0]["line"], 3);
  EXPECT_EQ(j["tickers"][0]["files"][0], "/data/AAA.csv");
  EXPECT_EQ(j["summary"]["missing_close"], 1);
  EXPECT_EQ(j["set_findings"][0]["kind"], "survivorship");
  EXPECT_EQ(j["set_findings"][0]["detail"], "no delisting");
}
