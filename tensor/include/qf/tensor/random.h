// A small, portable random generator (xoshiro256**, seeded by splitmix64) so that initialisation and
// dropout are identical for a seed on every platform and standard library.
#pragma once

#include <cstdint>

#include "qf/tensor/tensor.h"

namespace qf {

class Rng {
 public:
  explicit Rng(std::uint64_t seed = 0);
  std::uint64_t next_u64();
  double uniform();  // [0, 1)
  double normal();   // standard normal, Box-Muller
  // Independent stream for a sub-task (e.g. one stock's model), reproducible from (seed, stream).
  Rng split(std::uint64_t stream) const;

  void fill_uniform(Tensor& t, double low, double high);
  void fill_normal(Tensor& t, double mean, double stddev);

 private:
  std::uint64_t s_[4];
  std::uint64_t seed_;
};

}  // namespace qf
