// The command-line step every app shares: parse, answer --help, then apply the defaults and checks.
#pragma once

#include <boost/program_options.hpp>
#include <iostream>
#include <string>

#include "qf/data/execution.h"

namespace qf::apps {

// Returns false after printing the options for --help (when `print_help`; e.g. MPI rank 0 only): the
// app then exits 0. Parse errors throw boost::program_options::error.
inline bool parse_command_line(int argc, char** argv,
                               const boost::program_options::options_description& options,
                               bool print_help = true) {
  boost::program_options::variables_map vm;
  boost::program_options::store(boost::program_options::parse_command_line(argc, argv, options), vm);
  if (vm.count("help")) {
    if (print_help) std::cout << options << '\n';
    return false;
  }
  boost::program_options::notify(vm);
  return true;
}

// --execution and --horizon, the same on every stage that trains on, predicts, sizes or books the
// traded return (data/execution.h). Read them back with trade_timing().
struct TradeTimingOptions {
  std::string execution = "next_open";
  std::int64_t horizon = 1;

  void add_to(boost::program_options::options_description& options) {
    options.add_options()("execution", boost::program_options::value(&execution)->default_value(execution),
                          "when a decision at day t's close trades: next_open (open[t+1] -> open[t+1+h]), "
                          "next_close (close[t+1] -> close[t+1+h]) or close (close[t] -> close[t+h], "
                          "market-on-close: optimistic)")(
        "horizon", boost::program_options::value(&horizon)->default_value(horizon),
        "days each decision is held (h overlapping tranches in stages 3 and 4)");
  }
  data::TradeTiming timing() const {
    data::TradeTiming t;
    try {
      t.execution = data::parse_execution(execution);
      t.horizon = horizon;
      t.check();
    } catch (const std::invalid_argument& e) {
      throw boost::program_options::error(std::string("--execution/--horizon: ") + e.what());
    }
    return t;
  }
};

}  // namespace qf::apps
