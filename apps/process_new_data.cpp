// Stage 1 of the plan: a folder of per-ticker price CSVs -> validated, aligned universe in HDF5, with a
// validation report (JSON + readable summary) and a state manifest for the later stages.
#include <algorithm>
#include <boost/program_options.hpp>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <map>

#include "command_line.h"
#include "qf/data/csv.h"
#include "qf/data/store.h"
#include "qf/data/synthetic_universe.h"
#include "qf/quant/signals/features.h"

namespace po = boost::program_options;
namespace fs = std::filesystem;

namespace {

// True when `file` lies in `folder` or one of its subfolders (price files are listed recursively).
bool inside(const fs::path& file, const fs::path& folder) {
  const fs::path relative = file.lexically_normal().lexically_relative(folder);
  return !relative.empty() && *relative.begin() != "..";
}

}  // namespace

int main(int argc, char** argv) try {
  std::string input, constituents, benchmark, out = "out", prices = "auto";
  bool update = false;
  qf::data::SyntheticUniverseOptions synthetic;
  synthetic.headline_rate = 0.2;  // the default comes with headlines, to test the sentiment path end to end
  qf::data::ValidationOptions validation;
  po::options_description options("process_new_data: ingest, validate and store a universe of daily prices");
  // clang-format off
  options.add_options()
      ("help,h", "show this help")
      ("input", po::value(&input),
       "folder of per-ticker CSV files (Kaggle, Yahoo, Stooq or long layout); without it, the built-in "
       "synthetic universe is generated into <out>/synthetic and processed")
      ("seed", po::value(&synthetic.seed)->default_value(synthetic.seed), "synthetic universe: seed")
      ("tickers", po::value(&synthetic.tickers)->default_value(synthetic.tickers), "synthetic universe: tickers")
      ("days", po::value(&synthetic.days)->default_value(synthetic.days),
       "synthetic universe: business days (run_pipeline: 1260, five years)")
      ("edge", po::value(&synthetic.predictability)->default_value(synthetic.predictability),
       "synthetic universe: strength lambda of the planted edge, a 5-day momentum component in the next_open "
       "traded return (0: none; run_pipeline's default 0.15: an oracle scores about 55.5 %)")
      ("headline-rate", po::value(&synthetic.headline_rate)->default_value(synthetic.headline_rate),
       "synthetic universe: share of (ticker, day) cells with a planted headline whose tone follows the traded "
       "return of its day plus noise (<out>/synthetic/headlines.csv, for predict_stock_movement --headlines)")
      ("headline-strength", po::value(&synthetic.headline_strength)->default_value(synthetic.headline_strength),
       "synthetic universe: weight of the traded return in a headline's tone (0: tone independent of every "
       "return, as run_pipeline plants it, so that its edge stays the only one)")
      ("pure-random-walk", po::bool_switch(&synthetic.pure_random_walk),
       "synthetic universe: i.i.d. returns (no regimes, GARCH or jumps)")
      ("constituents", po::value(&constituents), "optional table with Symbol, Sector, Market Cap")
      ("benchmark", po::value(&benchmark), "optional price file of the benchmark index")
      ("prices", po::value(&prices)->default_value(prices),
       "adjusted: open/high/low/close x adjusted close / close (total returns, dividends in; every file "
       "needs an Adj Close column); raw: as traded (price returns); auto: adjusted when every file has an "
       "adjusted close, raw when none has (a mix is an error)")
      ("out", po::value(&out)->default_value(out), "output folder")
      ("update", po::bool_switch(&update), "append new rows and tickers to the existing store in --out")
      ("adjust-splits", po::bool_switch(&validation.adjust_splits), "rescale prices before split-like jumps")
      ("min-rows", po::value(&validation.min_rows)->default_value(validation.min_rows),
       "reject tickers with fewer valid rows");
  // clang-format on
  if (!qf::apps::parse_command_line(argc, argv, options)) return 0;
  const bool generated = input.empty();
  if (generated) {  // the embedded default: the synthetic universe, written as the real set is laid out
    const fs::path dir = fs::path(out) / "synthetic";
    fs::remove_all(dir / "prices");  // generated content: no ticker files of an earlier run may linger
    qf::data::write_synthetic_universe(qf::data::make_synthetic_universe(synthetic), dir);
    input = (dir / "prices").string();
    constituents = (dir / "constituents.csv").string();
    benchmark = (dir / "index.csv").string();
    std::printf("synthetic universe (seed %llu) written to %s\n",
                static_cast<unsigned long long>(synthetic.seed), dir.c_str());
  }

  const auto start = std::chrono::steady_clock::now();
  qf::data::IngestOptions ingest_options{validation, constituents, benchmark};
  try {
    ingest_options.prices = qf::data::parse_price_choice(prices);
  } catch (const std::invalid_argument& e) {
    throw po::error(e.what());
  }
  const auto files = qf::data::list_price_files(input, ingest_options);
  if (files.empty())
    throw qf::data::InputError(input, 0, "", "no .csv or .txt price files in this folder or its subfolders");
  const fs::path store = fs::path(out) / "universe.h5";
  if (update && !fs::exists(store))
    throw qf::data::InputError(store.string(), 0, "", "--update needs an existing store");
  // Every input with its content hash: the price files, then the constituents and benchmark tables.
  std::vector<fs::path> inputs = files;
  for (const auto& table : {constituents, benchmark})
    if (!table.empty()) inputs.emplace_back(table);
  std::vector<std::string> hashes;
  for (const auto& f : inputs) hashes.push_back(qf::data::file_hash(f));
  qf::data::Universe universe;
  qf::data::FeaturePanels features;
  if (update) {
    // Only price files that are new or whose content changed since the store was written are read.
    qf::data::FeaturePanels stored_features;
    const qf::data::Universe stored = qf::data::read_universe(store, &stored_features);
    std::map<std::string, std::string> known;
    for (std::size_t i = 0; i < stored.source_files.size(); ++i)
      known[stored.source_files[i]] = stored.source_hashes[i];
    // A price file of the input folder that is no longer there would leave its ticker in the store
    // (tables given earlier may be left out: the stored sectors, caps and benchmark are kept).
    const fs::path input_folder =
        (fs::path(input) / "x").parent_path().lexically_normal();  // "dir/" == "dir"
    for (const auto& f : stored.source_files)
      if (inside(fs::path(f), input_folder) &&
          std::find(inputs.begin(), inputs.end(), fs::path(f)) == inputs.end())
        throw qf::data::InputError(f, 0, "", "price file of the store is gone: run a full rebuild");
    std::vector<fs::path> changed;
    bool tables_changed = false;
    for (std::size_t i = 0; i < inputs.size(); ++i) {
      if (known[inputs[i].string()] == hashes[i]) continue;
      if (i < files.size()) {
        changed.push_back(inputs[i]);
      } else {
        tables_changed = true;
      }
    }
    std::printf("update: %zu of %zu price files new or changed%s\n", changed.size(), files.size(),
                tables_changed ? ", constituents or benchmark changed" : "");
    if (changed.empty() && !tables_changed && stored.source_files.size() == inputs.size()) {
      std::printf("nothing to update: %s is current\n", store.c_str());
      return 0;
    }
    universe = qf::data::update(stored, changed, ingest_options);
    features = qf::quant::update_features(stored, stored_features, universe);
  } else {
    universe = qf::data::ingest(files, ingest_options);
    features = qf::quant::compute_features(universe);
  }
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    universe.source_files.push_back(inputs[i].string());
    universe.source_hashes.push_back(hashes[i]);
  }
  if (universe.tickers.empty())
    throw qf::data::InputError(input, 0, "", "every ticker was rejected (see the report)");
  // The generated universe has delistings and no dividends by design: the set-level warnings are
  // about real files only.
  if (!generated) universe.set_findings = qf::data::set_findings(universe);

  fs::create_directories(out);
  qf::data::write_universe(store, universe, features);
  const std::string summary = qf::data::prices_note(universe) + "\n" +
                              qf::data::reports_summary(universe.reports) +
                              qf::data::set_findings_summary(universe.set_findings);
  qf::data::write_text_atomically(
      fs::path(out) / "validation.json",
      qf::data::reports_to_json(universe.reports, universe.set_findings, to_string(universe.prices)));
  qf::data::write_text_atomically(fs::path(out) / "validation.txt", summary);

  qf::data::Manifest manifest{"process_new_data", qf::data::utc_now(), {}, {}, {}};
  manifest.settings = {{"input", input},
                       {"mode", update ? "update" : "full"},
                       {"constituents", constituents},
                       {"benchmark", benchmark},
                       {"prices", to_string(universe.prices)},
                       {"adjust_splits", validation.adjust_splits ? "true" : "false"},
                       {"min_rows", std::to_string(validation.min_rows)}};
  auto entry = [](const fs::path& p) {
    return qf::data::ManifestEntry{p.string(), qf::data::file_hash(p), fs::file_size(p)};
  };
  for (std::size_t i = 0; i < inputs.size(); ++i)
    manifest.inputs.push_back({inputs[i].string(), hashes[i], fs::file_size(inputs[i])});
  for (const char* name : {"universe.h5", "validation.json", "validation.txt"})
    manifest.outputs.push_back(entry(fs::path(out) / name));
  qf::data::write_text_atomically(fs::path(out) / "manifest_process_new_data.json",
                                  qf::data::manifest_to_json(manifest));

  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("%s", summary.c_str());
  std::printf("universe: %lld tickers x %lld days, %zu feature panels -> %s (%.2f s)\n",
              static_cast<long long>(universe.ticker_count()), static_cast<long long>(universe.day_count()),
              features.size(), store.c_str(), secs);
  return 0;
} catch (const qf::data::InputError& e) {
  std::fprintf(stderr, "process_new_data: bad input: %s\n", e.what());
  return 1;
} catch (const std::exception& e) {
  std::fprintf(stderr, "process_new_data: %s\n", e.what());
  return 1;
}
