#include "qf/quant/signals/features.h"

#include <cmath>
#include <cstring>
#include <limits>
#include <stdexcept>

#include "qf/quant/ta/ours.h"
#include "qf/quant/ta/registry.h"
#include "qf/tensor/parallel.h"

namespace qf::quant {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// The listed span [first, last] of ticker i, or first > last when never listed.
std::pair<std::int64_t, std::int64_t> listed_span(const data::Universe& u, std::int64_t i) {
  const std::int64_t D = u.day_count(), N = u.ticker_count();
  std::int64_t first = D, last = -1;
  for (std::int64_t d = 0; d < D; ++d)
    if (u.listed[static_cast<std::size_t>(d * N + i)]) {
      first = std::min(first, d);
      last = d;
    }
  return {first, last};
}

// Writes every indicator of ticker i into column i of the panels.
void compute_ticker(const data::Universe& u, std::int64_t i, const std::vector<ta::IndicatorSpec>& specs,
                    data::FeaturePanels& panels) {
  const std::int64_t N = u.ticker_count();
  const auto [first, last] = listed_span(u, i);
  if (first > last) return;
  const auto days = static_cast<std::size_t>(last - first + 1);
  std::vector<double> open(days), high(days), low(days), close(days), volume(days), bench;
  for (std::size_t k = 0; k < days; ++k) {
    const std::size_t cell = static_cast<std::size_t>((first + static_cast<std::int64_t>(k)) * N + i);
    open[k] = u.open.data<double>()[cell];
    high[k] = u.high.data<double>()[cell];
    low[k] = u.low.data<double>()[cell];
    close[k] = u.close.data<double>()[cell];
    volume[k] = u.volume.data<double>()[cell];
  }
  if (!u.benchmark_close.empty())
    bench.assign(u.benchmark_close.begin() + first, u.benchmark_close.begin() + last + 1);
  std::vector<double> out(specs.size() * days);
  ta::compute_all(ta::Ohlcv{open, high, low, close, volume}, bench, out);
  for (std::size_t s = 0; s < specs.size(); ++s) {
    float* panel = panels.at(specs[s].name).data<float>();
    for (std::size_t k = 0; k < days; ++k)
      panel[(first + static_cast<std::int64_t>(k)) * N + i] = static_cast<float>(out[s * days + k]);
  }
}

void add_ranks(const data::Universe& u, data::FeaturePanels& panels) {
  const auto D = static_cast<std::size_t>(u.day_count()), N = static_cast<std::size_t>(u.ticker_count());
  for (const auto& name : ranked_features()) {
    const auto it = panels.find(name);
    if (it == panels.end()) throw std::logic_error("ranked feature " + name + " is not an indicator output");
    const Tensor values = it->second.to(DType::f64);
    Tensor rank = Tensor::empty({u.day_count(), u.ticker_count()}, DType::f64);
    ta::cross_sectional_rank(values.span<double>(), D, N, rank.span<double>());
    panels["xrank_" + name] = rank.to(DType::f32);
  }
}

data::FeaturePanels empty_panels(const data::Universe& u, const std::vector<ta::IndicatorSpec>& specs) {
  data::FeaturePanels panels;
  for (const auto& spec : specs)
    panels[spec.name] = Tensor::full({u.day_count(), u.ticker_count()}, kNaN, DType::f32);
  return panels;
}

}  // namespace

std::vector<std::string> ranked_features() {
  return {"ret_5", "ret_20", "rsi_14", "volume_z_20", "natr_14"};
}

data::FeaturePanels compute_features(const data::Universe& u) {
  const auto specs = ta::all_indicators();
  data::FeaturePanels panels = empty_panels(u, specs);
  parallel_for(u.ticker_count(), 16, [&](std::int64_t begin, std::int64_t end) {
    for (std::int64_t i = begin; i < end; ++i) compute_ticker(u, i, specs, panels);
  });
  add_ranks(u, panels);
  return panels;
}

data::FeaturePanels update_features(const data::Universe& previous,
                                    const data::FeaturePanels& previous_features, const data::Universe& u) {
  const auto specs = ta::all_indicators();
  data::FeaturePanels panels = empty_panels(u, specs);
  const std::int64_t D = u.day_count(), N = u.ticker_count(), old_d = previous.day_count(),
                     old_n = previous.ticker_count();
  // The calendar only grows at the end in an update; a ticker is unchanged when its column over the old
  // days is identical and it is not listed on any new day.
  const bool same_prefix =
      old_d <= D && std::equal(previous.days.begin(), previous.days.end(), u.days.begin());
  // Beta and correlation read the benchmark: if it changed on old days, no ticker is unchanged.
  const bool same_benchmark = previous.benchmark_close.empty() == u.benchmark_close.empty() &&
                              (previous.benchmark_close.empty() ||
                               (u.benchmark_close.size() >= previous.benchmark_close.size() &&
                                std::memcmp(previous.benchmark_close.data(), u.benchmark_close.data(),
                                            previous.benchmark_close.size() * sizeof(double)) == 0));
  std::vector<std::int64_t> changed;
  for (std::int64_t i = 0; i < N; ++i) {
    const std::int64_t j = previous.index_of(u.tickers[static_cast<std::size_t>(i)]);
    bool same = same_prefix && same_benchmark && j >= 0;
    for (std::int64_t d = 0; same && d < D; ++d) {
      const auto cell = static_cast<std::size_t>(d * N + i);
      if (d >= old_d) {
        same = !u.listed[cell];
        continue;
      }
      const auto old_cell = static_cast<std::size_t>(d * old_n + j);
      for (auto [a, b] : {std::pair{&u.open, &previous.open},
                          {&u.high, &previous.high},
                          {&u.low, &previous.low},
                          {&u.close, &previous.close},
                          {&u.volume, &previous.volume}})
        same =
            same && std::memcmp(a->data<double>() + cell, b->data<double>() + old_cell, sizeof(double)) == 0;
      same = same && u.listed[cell] == previous.listed[old_cell];
    }
    if (!same) {
      changed.push_back(i);
      continue;
    }
    for (const auto& spec : specs) {  // carry over the old days (new days are NaN: not listed)
      const float* from = previous_features.at(spec.name).data<float>();
      float* to = panels.at(spec.name).data<float>();
      for (std::int64_t d = 0; d < old_d; ++d) to[d * N + i] = from[d * old_n + j];
    }
  }
  parallel_for(static_cast<std::int64_t>(changed.size()), 16, [&](std::int64_t begin, std::int64_t end) {
    for (std::int64_t k = begin; k < end; ++k)
      compute_ticker(u, changed[static_cast<std::size_t>(k)], specs, panels);
  });
  add_ranks(u, panels);
  return panels;
}

}  // namespace qf::quant
