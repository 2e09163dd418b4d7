// Stage 1 of the plan: a folder of per-ticker price CSVs -> validated, aligned universe in HDF5, with a
// validation report (JSON + readable summary) and a state manifest for the later stages.
#include <boost/program_options.hpp>
#include <chrono>
#include <cstdio>

#include "command_line.h"
#include "qf/data/csv.h"
#include "qf/data/store.h"
#include "qf/data/synthetic_universe.h"
#include "qf/quant/signals/features.h"

namespace po = boost::program_options;
namespace fs = std::filesystem;

namespace {

struct Settings {
  std::string input, constituents, benchmark, out = "out", prices = "auto";
  bool update = false;
  qf::data::SyntheticUniverseOptions synthetic;
  qf::data::ValidationOptions validation;
  Settings() { synthetic.headline_rate = 0.2; }  // with headlines, to test the sentiment path end to end
};

void describe_options(po::options_description& options, Settings& s) {
  // clang-format off
  options.add_options()
      ("help,h", "show this help")
      ("input", po::value(&s.input),
       "folder of per-ticker CSV files (Kaggle, Yahoo, Stooq or long layout); without it, the built-in "
       "synthetic universe is generated into <out>/synthetic and processed")
      ("seed", po::value(&s.synthetic.seed)->default_value(s.synthetic.seed), "synthetic universe: seed")
      ("tickers", po::value(&s.synthetic.tickers)->default_value(s.synthetic.tickers), "synthetic universe: tickers")
      ("days", po::value(&s.synthetic.days)->default_value(s.synthetic.days),
       "synthetic universe: business days (run_pipeline: 1260, five years)")
      ("edge", po::value(&s.synthetic.predictability)->default_value(s.synthetic.predictability),
       "synthetic universe: strength lambda of the planted edge, a 5-day momentum component in the next_open "
       "traded return (0: none; run_pipeline's default 0.15: an oracle scores about 55.5 %)")
      ("headline-rate", po::value(&s.synthetic.headline_rate)->default_value(s.synthetic.headline_rate),
       "synthetic universe: share of (ticker, day) cells with a planted headline whose tone follows the traded "
       "return of its day plus noise (<out>/synthetic/headlines.csv, for predict_stock_movement --headlines)")
      ("headline-strength", po::value(&s.synthetic.headline_strength)->default_value(s.synthetic.headline_strength),
       "synthetic universe: weight of the traded return in a headline's tone (0: tone independent of every "
       "return, as run_pipeline plants it, so that its edge stays the only one)")
      ("pure-random-walk", po::bool_switch(&s.synthetic.pure_random_walk),
       "synthetic universe: i.i.d. returns (no regimes, GARCH or jumps)")
      ("constituents", po::value(&s.constituents), "optional table with Symbol, Sector, Market Cap")
      ("benchmark", po::value(&s.benchmark), "optional price file of the benchmark index")
      ("prices", po::value(&s.prices)->default_value(s.prices),
       "adjusted: open/high/low/close x adjusted close / close (total returns, dividends in; every file "
       "needs an Adj Close column); raw: as traded (price returns); auto: adjusted when every file has an "
       "adjusted close, raw when none has (a mix is an error)");
  // clang-format on
  qf::apps::add_out_option(options, s.out);
  // clang-format off
  options.add_options()
      ("update", po::bool_switch(&s.update), "append new rows and tickers to the existing store in --out")
      ("adjust-splits", po::bool_switch(&s.validation.adjust_splits), "rescale prices before split-like jumps")
      ("min-rows", po::value(&s.validation.min_rows)->default_value(s.validation.min_rows),
       "reject tickers with fewer valid rows");
  // clang-format on
}

// The embedded default: the synthetic universe, written as the real set is laid out, becomes the input.
void generate_synthetic_input(Settings& s) {
  const fs::path dir = fs::path(s.out) / "synthetic";
  fs::remove_all(dir / "prices");  // generated content: no ticker files of an earlier run may linger
  qf::data::write_synthetic_universe(qf::data::make_synthetic_universe(s.synthetic), dir);
  s.input = (dir / "prices").string();
  s.constituents = (dir / "constituents.csv").string();
  s.benchmark = (dir / "index.csv").string();
  std::printf("synthetic universe (seed %llu) written to %s\n",
              static_cast<unsigned long long>(s.synthetic.seed), dir.c_str());
}

}  // namespace

int main(int argc, char** argv) {
  return qf::apps::run_app("process_new_data", [&] {
    Settings s;
    po::options_description options(
        "process_new_data: ingest, validate and store a universe of daily prices");
    describe_options(options, s);
    if (!qf::apps::parse_command_line(argc, argv, options)) return 0;
    const bool generated = s.input.empty();
    if (generated) generate_synthetic_input(s);

    const auto start = std::chrono::steady_clock::now();
    qf::data::IngestOptions ingest_options{s.validation, s.constituents, s.benchmark};
    try {
      ingest_options.prices = qf::data::parse_price_choice(s.prices);
    } catch (const std::invalid_argument& e) {
      throw po::error(e.what());
    }
    const auto files = qf::data::list_price_files(s.input, ingest_options);
    if (files.empty())
      throw qf::data::InputError(s.input, 0, "",
                                 "no .csv or .txt price files in this folder or its subfolders");
    const fs::path store = fs::path(s.out) / "universe.h5";
    if (s.update && !fs::exists(store))
      throw qf::data::InputError(store.string(), 0, "", "--update needs an existing store");
    // Every input with its content hash: the price files, then the constituents and benchmark tables.
    std::vector<fs::path> inputs = files;
    for (const auto& table : {s.constituents, s.benchmark})
      if (!table.empty()) inputs.emplace_back(table);
    std::vector<std::string> hashes;
    for (const auto& f : inputs) hashes.push_back(qf::data::file_hash(f));
    qf::data::Universe universe;
    qf::data::FeaturePanels features;
    if (s.update) {  // only price files that are new or whose content changed are read
      qf::data::FeaturePanels stored_features;
      const qf::data::Universe stored = qf::data::read_universe(store, &stored_features);
      const auto plan = qf::data::plan_update(stored, inputs, hashes, files.size(), s.input);
      std::printf("update: %zu of %zu price files new or changed%s\n", plan.changed.size(), files.size(),
                  plan.tables_changed ? ", constituents or benchmark changed" : "");
      if (plan.up_to_date) {
        std::printf("nothing to update: %s is current\n", store.c_str());
        return 0;
      }
      universe = qf::data::update(stored, plan.changed, ingest_options);
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
      throw qf::data::InputError(s.input, 0, "", "every ticker was rejected (see the report)");
    // The generated universe has delistings and no dividends by design: the set-level warnings are
    // about real files only.
    if (!generated) universe.set_findings = qf::data::set_findings(universe);

    const std::string summary =
        qf::data::write_processed_universe(s.out, universe, features,
                                           {{"input", s.input},
                                            {"mode", s.update ? "update" : "full"},
                                            {"constituents", s.constituents},
                                            {"benchmark", s.benchmark},
                                            {"prices", to_string(universe.prices)},
                                            {"adjust_splits", s.validation.adjust_splits ? "true" : "false"},
                                            {"min_rows", std::to_string(s.validation.min_rows)}});
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("%s", summary.c_str());
    std::printf("universe: %lld tickers x %lld days, %zu feature panels -> %s (%.2f s)\n",
                static_cast<long long>(universe.ticker_count()), static_cast<long long>(universe.day_count()),
                features.size(), store.c_str(), secs);
    return 0;
  });
}
