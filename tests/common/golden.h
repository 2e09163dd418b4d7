// Reads the named arrays written by scripts/make_torch_golden.py.
#pragma once

#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>

#include "qf/tensor/tensor.h"

namespace qf::test_support {

inline std::map<std::string, Tensor> read_golden(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot open golden file " + path);
  std::map<std::string, Tensor> out;
  std::string header, values;
  while (std::getline(in, header)) {
    if (header.empty() || header[0] == '#') continue;
    std::istringstream h(header);
    std::string name;
    int rank = 0;
    h >> name >> rank;
    Shape shape(static_cast<std::size_t>(rank));
    for (auto& d : shape) h >> d;
    std::getline(in, values);
    std::istringstream v(values);
    std::vector<double> data(static_cast<std::size_t>(shape_numel(shape)));
    std::string token;  // strtod, not operator>>, so that "inf" (an unbounded constraint) reads too
    for (auto& x : data) {
      if (!(v >> token)) break;
      x = std::strtod(token.c_str(), nullptr);
    }
    if (!v) throw std::runtime_error("golden file " + path + ": short data for " + name);
    out[name] = Tensor::from<double>(data, shape);
  }
  return out;
}

}  // namespace qf::test_support
