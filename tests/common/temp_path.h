// A path in the system's temporary folder, unique to this process.
#pragma once

#include <unistd.h>

#include <filesystem>
#include <string>

namespace qf::test_support {

inline std::filesystem::path temp_path(const std::string& name) {
  return std::filesystem::temp_directory_path() / ("qf_test_" + std::to_string(::getpid()) + "_" + name);
}

}  // namespace qf::test_support
