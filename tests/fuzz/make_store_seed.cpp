// Writes the seed of fuzz_store: a small valid store (3 tickers x 40 days, one feature panel).
#include <cmath>
#include <cstdio>

#include "qf/data/store.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_store_seed OUT.h5\n");
    return 2;
  }
  qf::data::Universe u;
  u.tickers = {"AAA", "BBB", "CCC"};
  for (int d = 0; d < 40; ++d) u.days.push_back(17900 + d);
  const std::int64_t D = 40, N = 3;
  auto panel = [&](double base) {
    qf::Tensor t = qf::Tensor::empty({D, N}, qf::DType::f64);
    for (std::int64_t k = 0; k < D * N; ++k) t.data<double>()[k] = base + std::sin(static_cast<double>(k));
    return t;
  };
  u.open = panel(10), u.high = panel(11), u.low = panel(9), u.close = panel(10), u.volume = panel(1000);
  u.listed.assign(static_cast<std::size_t>(D * N), 1);
  u.present.assign(static_cast<std::size_t>(D * N), 1);
  u.source_line.assign(static_cast<std::size_t>(D * N), 0);
  u.sector = {"Energy", "Utilities", "Energy"};
  u.market_cap = {1e9, 2e9, 3e9};
  qf::data::write_universe(argv[1], u, {{"logret_1", panel(0)}});
  return 0;
}
