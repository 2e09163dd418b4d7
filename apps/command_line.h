// The command-line step every app shares: parse, answer --help, then apply the defaults and checks.
#pragma once

#include <boost/program_options.hpp>
#include <iostream>

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

}  // namespace qf::apps
