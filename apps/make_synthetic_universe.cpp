// Writes the embedded default dataset: a synthetic daily stock universe (factor model, GARCH volatility,
// market regimes, jumps, IPOs and delistings) in the CSV folder layout that process_new_data reads.
// The model is documented in qf/data/synthetic_universe.h.
#include <boost/program_options.hpp>
#include <chrono>
#include <cstdio>
#include <iostream>

#include "command_line.h"
#include "qf/data/synthetic_universe.h"

namespace po = boost::program_options;

namespace {

int run(int argc, char** argv) {
  qf::data::SyntheticUniverseOptions o;
  std::string out;
  po::options_description options("make_synthetic_universe: write a synthetic stock universe as CSV files");
  options.add_options()("help,h", "show this help")("out", po::value(&out), "output folder (created)")(
      "tickers", po::value(&o.tickers)->default_value(o.tickers), "number of tickers")(
      "days", po::value(&o.days)->default_value(o.days), "business days")(
      "start", po::value(&o.start_date)->default_value(o.start_date), "first day, YYYY-MM-DD")(
      "seed", po::value(&o.seed)->default_value(o.seed), "random seed")(
      "edge", po::value(&o.predictability)->default_value(o.predictability),
      "strength of the planted edge, a 5-day momentum component in the next_open traded return, 0 .. 0.4")(
      "lag2-predictability", po::value(&o.lag2_predictability)->default_value(o.lag2_predictability),
      "phi of a planted lag-2 autoregression r_t += phi r_{t-2}, -0.5 .. 0.5 (predictable at lag 2 only)")(
      "headline-rate", po::value(&o.headline_rate)->default_value(o.headline_rate),
      "share of (ticker, day) cells with a planted headline whose tone follows the traded return of its day "
      "(next_open: open[t+1] -> open[t+2]) plus noise (headlines.csv)")(
      "headline-noise", po::value(&o.headline_noise)->default_value(o.headline_noise),
      "noise of the headlines' tone, in units of each ticker's daily return sd")(
      "headline-strength", po::value(&o.headline_strength)->default_value(o.headline_strength),
      "weight of the traded return in the headlines' tone (0: tone unrelated to any return, the control)")(
      "pure-random-walk", po::bool_switch(&o.pure_random_walk), "i.i.d. returns: no regimes, GARCH or jumps")(
      "median-cap", po::value(&o.median_market_cap)->default_value(o.median_market_cap, "15e9"),
      "median market cap")("ipo-share", po::value(&o.ipo_share)->default_value(o.ipo_share, "0.065"),
                           "share of tickers starting late")(
      "delisting-share", po::value(&o.delisting_share)->default_value(o.delisting_share, "0.03"),
      "share of tickers ending early");
  po::variables_map vm;
  po::store(po::parse_command_line(argc, argv, options), vm);
  if (vm.count("help") || !vm.count("out")) {
    std::cout << options << '\n';
    return vm.count("help") ? 0 : 2;
  }
  po::notify(vm);

  const auto start = std::chrono::steady_clock::now();
  const auto universe = qf::data::make_synthetic_universe(o);
  const auto generated = std::chrono::steady_clock::now();
  qf::data::write_synthetic_universe(universe, out);
  const auto written = std::chrono::steady_clock::now();
  auto seconds = [](auto from, auto to) { return std::chrono::duration<double>(to - from).count(); };

  std::int64_t rows = 0, ipos = 0, delistings = 0;
  for (const auto& t : universe.tickers) {
    rows += t.rows();
    ipos += t.first_day > 0;
    delistings += t.last_day < o.days - 1;
  }
  std::printf(
      "synthetic universe: %zu tickers x %lld days (%s .. %s), %lld rows, %lld IPOs, %lld delistings\n",
      universe.tickers.size(), static_cast<long long>(o.days), universe.dates.front().c_str(),
      universe.dates.back().c_str(), static_cast<long long>(rows), static_cast<long long>(ipos),
      static_cast<long long>(delistings));
  std::printf("index %.2f -> %.2f; seed %llu, edge %.3f%s\n", universe.index.close.front(),
              universe.index.close.back(), static_cast<unsigned long long>(o.seed), o.predictability,
              o.pure_random_walk ? ", pure random walk" : "");
  std::printf("generated in %.2f s, written to %s in %.2f s\n", seconds(start, generated), out.c_str(),
              seconds(generated, written));
  for (const auto& stale : qf::data::stale_ticker_files(universe, out))
    std::fprintf(
        stderr,
        "make_synthetic_universe: warning: %s is not part of this universe (left from an earlier run?)\n",
        stale.c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return qf::apps::run_app("make_synthetic_universe", [&] { return run(argc, argv); });
}
