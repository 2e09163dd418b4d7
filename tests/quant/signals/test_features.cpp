// Feature panels of a universe: the indicators of each ticker over its listed days, NaN outside, and an
// incremental update equal to a full recomputation bit for bit.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>

#include "common/synthetic_store.h"
#include "common/temp_path.h"
#include "qf/data/synthetic_universe.h"
#include "qf/quant/signals/features.h"
#include "qf/quant/ta/momentum.h"
#include "qf/quant/ta/registry.h"

using namespace qf;
namespace fs = std::filesystem;

namespace {

// Keeps the header and the rows dated before `cutoff` of every price file (in place).
void truncate_prices(const fs::path& prices, const std::string& cutoff) {
  for (const auto& entry : fs::directory_iterator(prices)) {
    std::ifstream in(entry.path());
    std::string line, kept;
    std::getline(in, line);
    kept = line + "\n";
    while (std::getline(in, line))
      if (line.substr(0, 10) < cutoff) kept += line + "\n";
    in.close();
    std::ofstream(entry.path()) << kept;
  }
}

bool bitwise_equal(const data::FeaturePanels& a, const data::FeaturePanels& b,
                   std::string& first_difference) {
  if (a.size() != b.size()) {
    first_difference = "panel count " + std::to_string(a.size()) + " vs " + std::to_string(b.size());
    return false;
  }
  for (const auto& [name, panel] : a) {
    const auto it = b.find(name);
    if (it == b.end() || it->second.shape() != panel.shape() ||
        std::memcmp(panel.data<float>(), it->second.data<float>(),
                    static_cast<std::size_t>(panel.numel()) * 4) != 0) {
      first_difference = name;
      return false;
    }
  }
  return true;
}

}  // namespace

TEST(Features, IndicatorsPerTickerOverItsListingAndNaNOutside) {
  const auto store = test_support::synthetic_store("features_basic", {.tickers = 30, .days = 260, .seed = 3});
  const data::Universe& u = store.universe;
  const data::FeaturePanels& f = store.features;
  EXPECT_EQ(f.size(), quant::ta::indicator_count() + quant::ranked_features().size());
  const std::int64_t D = u.day_count(), N = u.ticker_count();
  for (std::int64_t i = 0; i < N; ++i) {
    std::vector<double> close;
    std::int64_t first = -1;
    for (std::int64_t d = 0; d < D; ++d)
      if (u.listed[static_cast<std::size_t>(d * N + i)]) {
        if (first < 0) first = d;
        close.push_back(u.close.at({d, i}));
      }
    std::vector<double> rsi(close.size());
    quant::ta::rsi(close, 14, rsi);
    for (std::int64_t d = 0; d < D; ++d) {
      const double v = f.at("rsi_14").at({d, i});
      if (d < first || d >= first + static_cast<std::int64_t>(close.size())) {
        EXPECT_TRUE(std::isnan(v)) << u.tickers[static_cast<std::size_t>(i)] << " day " << d;
      } else {
        const double want = static_cast<float>(rsi[static_cast<std::size_t>(d - first)]);
        EXPECT_TRUE(v == want || (std::isnan(v) && std::isnan(want))) << d;
      }
    }
  }
  // Ranks lie in (0, 1] where the ranked feature is finite.
  for (std::int64_t k = 0; k < D * N; ++k) {
    const double x = f.at("rsi_14").data<float>()[k], r = f.at("xrank_rsi_14").data<float>()[k];
    if (std::isfinite(x)) {
      EXPECT_TRUE(r > 0 && r <= 1) << r;
    }
  }
}

TEST(Features, UpdateEqualsFullRecomputationBitForBit) {
  const fs::path dir = test_support::temp_path("features_update");
  fs::remove_all(dir);
  const auto synthetic =
      data::make_synthetic_universe({.tickers = 40, .days = 300, .seed = 4, .ipo_share = 0.15});
  data::write_synthetic_universe(synthetic, dir);
  const data::IngestOptions options{{}, dir / "constituents.csv", dir / "index.csv"};
  const std::string cutoff = synthetic.dates[180];

  // The store as it was 120 days ago (late IPOs have no rows yet, so they arrive as new tickers).
  truncate_prices(dir / "prices", cutoff);
  const data::Universe before = data::ingest(data::list_price_files(dir / "prices", options), options);
  const data::FeaturePanels before_features = quant::compute_features(before);

  data::write_synthetic_universe(synthetic, dir);  // the files grow back to 300 days
  const auto files = data::list_price_files(dir / "prices", options);
  const data::Universe updated = data::update(before, files, options);
  const data::FeaturePanels incremental = quant::update_features(before, before_features, updated);
  const data::Universe rebuilt = data::ingest(files, options);
  const data::FeaturePanels full = quant::compute_features(rebuilt);
  ASSERT_EQ(updated.tickers, rebuilt.tickers);
  ASSERT_GT(updated.ticker_count(), before.ticker_count());  // new tickers arrived
  std::string difference;
  EXPECT_TRUE(bitwise_equal(incremental, full, difference)) << "first different panel: " << difference;
  EXPECT_EQ(data::reports_to_json(updated.reports), data::reports_to_json(rebuilt.reports));

  // A benchmark revised on an old day changes every ticker's beta and correlation.
  data::Universe revised = rebuilt;
  revised.benchmark_close[100] *= 1.05;
  EXPECT_TRUE(bitwise_equal(quant::update_features(rebuilt, full, revised), quant::compute_features(revised),
                            difference))
      << "after a benchmark revision, first different panel: " << difference;
}
