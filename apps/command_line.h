// The command-line steps every app shares: parse and answer --help, the options several apps have (one
// name and one meaning each), comma lists, the input files' check, and the exit codes.
#pragma once

#include <boost/program_options.hpp>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <iostream>
#include <sstream>
#include <string>
#include <type_traits>
#include <vector>

#include "qf/data/csv.h"
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

// Runs an app's body and turns what it throws into the exit status every app has: 1 for bad input
// (data::InputError, printed as "<app>: bad input: ..."), 2 for bad usage (program_options errors,
// "... (see --help)"), 1 for any other error. `on_error(status)` runs before returning (MPI: abort
// the other ranks).
inline int run_app(const char* app, const std::function<int()>& body,
                   const std::function<void(int)>& on_error = {}) {
  int status = 1;
  try {
    return body();
  } catch (const data::InputError& e) {
    std::fprintf(stderr, "%s: bad input: %s\n", app, e.what());
  } catch (const boost::program_options::error& e) {
    std::fprintf(stderr, "%s: %s (see --help)\n", app, e.what());
    status = 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: %s\n", app, e.what());
  }
  if (on_error) on_error(status);
  return status;
}

// The options of several apps.
// --store: the universe store that stage 1 (process_new_data) writes and every later stage reads.
inline void add_store_option(boost::program_options::options_description& options, std::string& store) {
  options.add_options()("store", boost::program_options::value(&store)->default_value(store),
                        "universe store (process_new_data)");
}
// --out: the app's output folder; `help` says what goes there.
inline void add_out_option(boost::program_options::options_description& options, std::string& out,
                           const char* help = "output folder") {
  options.add_options()("out", boost::program_options::value(&out)->default_value(out), help);
}
// --threads: threads per process (qf::set_num_threads).
inline void add_threads_option(boost::program_options::options_description& options, int& threads) {
  options.add_options()("threads", boost::program_options::value(&threads)->default_value(threads),
                        "threads per process");
}

// Throws data::InputError "no such file (<hint>)" for the first of `files` that does not exist, e.g.
// hint "run process_new_data first".
inline void require_files(const std::vector<std::string>& files, const std::string& hint) {
  for (const auto& f : files)
    if (!std::filesystem::exists(f)) throw data::InputError(f, 0, "", "no such file (" + hint + ")");
}

// The values of a list option ("32,64" -> {32, 64}; `separator` another character), empty items
// skipped. Throws a program_options error naming --option when an item is not a T or there is none.
template <class T>
std::vector<T> parse_list(const std::string& text, const std::string& option, char separator = ',') {
  std::vector<T> out;
  std::stringstream in(text);
  for (std::string item; std::getline(in, item, separator);) {
    if (item.empty()) continue;
    std::istringstream field(item);
    T value;
    if constexpr (std::is_same_v<T, std::string>) {
      value = item;
    } else if (!(field >> value) || !field.eof()) {
      throw boost::program_options::error("--" + option + ": '" + item + "' is not a number");
    }
    out.push_back(value);
  }
  if (out.empty()) throw boost::program_options::error("--" + option + " needs at least one value");
  return out;
}

// --execution and --horizon, the same on every stage that trains on, predicts, sizes or books the
// traded return (data/execution.h). Read them back with timing().
struct TradeTimingOptions {
  std::string execution = "next_open";
  std::int64_t horizon = 1;

  // `execution_help`: what the mode decides in this app (run_pipeline: for every stage).
  void add_to(boost::program_options::options_description& options,
              const char* execution_help =
                  "when a decision at day t's close trades: next_open (open[t+1] -> "
                  "open[t+1+h]), next_close (close[t+1] -> close[t+1+h]) or close "
                  "(close[t] -> close[t+h], market-on-close: optimistic)") {
    options.add_options()("execution", boost::program_options::value(&execution)->default_value(execution),
                          execution_help)(
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
