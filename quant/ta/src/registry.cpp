// The registry: the built-in rows, family by family in one fixed order, then the rows registered from
// outside the library (IndicatorRegistration), and compute_all over all of them.
#include "qf/quant/ta/registry.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "internal.h"

namespace qf::quant::ta {

using namespace detail;  // the shared machinery of internal.h

namespace {

// The built-in rows. Their order is the row order of compute_all, so of the feature panels and of every
// model trained on them: adding, moving or removing a family or a row changes the features.
const std::vector<Group>& groups() {
  static const std::vector<Group> table = [] {
    std::vector<Group> g;
    add_overlap_groups(g);
    add_momentum_groups(g);
    add_volume_groups(g);
    add_volatility_groups(g);
    add_ours_groups(g);
    return g;
  }();
  return table;
}

// The rows registered from outside the library, sorted by name. The first reader sets `read`, after which
// registering throws (all_indicators' specs point into `specs`, and a row appearing under a running
// program would shift the features).
struct OutsideRows {
  std::vector<IndicatorSpec> specs;
  std::atomic<bool> read = false;
};

OutsideRows& outside_rows() {
  static OutsideRows rows;  // a function's static: ready whenever a registration runs during static init
  return rows;
}

const std::vector<IndicatorSpec>& outside_specs() {
  OutsideRows& rows = outside_rows();
  rows.read.store(true, std::memory_order_relaxed);
  return rows.specs;
}

void check_bars(const char* fn, const Ohlcv& bars, In benchmark) {
  check_lengths(fn, {{"close", bars.close.size()},
                     {"open", bars.open.size()},
                     {"high", bars.high.size()},
                     {"low", bars.low.size()},
                     {"volume", bars.volume.size()}});
  if (!benchmark.empty() && benchmark.size() != bars.close.size())
    fail(fn, "benchmark_close has " + std::to_string(benchmark.size()) + " values but close has " +
                 std::to_string(bars.close.size()) + " (pass an empty span for none)");
}

void run_group(const Group& group, const Ohlcv& bars, In benchmark, std::span<const Out> outs) {
  if (group.needs_benchmark && benchmark.empty()) {
    for (Out o : outs) std::fill(o.begin(), o.end(), kNaN);
    return;
  }
  group.compute(bars, benchmark, outs);
}

void run_outside(const IndicatorSpec& spec, const Ohlcv& bars, In benchmark, Out out) {
  if (spec.needs_benchmark && benchmark.empty()) {
    std::fill(out.begin(), out.end(), kNaN);
    return;
  }
  spec.compute(bars, benchmark, out);
}

bool is_identifier(const std::string& name) {  // [a-z0-9_]+
  return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
  });
}

bool name_taken(const std::string& name) {
  for (const Group& group : groups())
    for (const OutputInfo& info : group.outputs)
      if (name == info.name) return true;
  const auto& outside = outside_rows().specs;
  return std::any_of(outside.begin(), outside.end(), [&](const IndicatorSpec& s) { return s.name == name; });
}

}  // namespace

IndicatorRegistration::IndicatorRegistration(IndicatorSpec spec) {
  const char* fn = "IndicatorRegistration";
  OutsideRows& rows = outside_rows();
  if (!is_identifier(spec.name)) fail(fn, "name must be [a-z0-9_]+, got \"" + spec.name + "\"");
  if (name_taken(spec.name)) fail(fn, "name " + spec.name + " is already in the registry");
  if (spec.lookback < 0)
    fail(fn, spec.name + ": lookback must be >= 0, got " + std::to_string(spec.lookback));
  if (!spec.compute) fail(fn, spec.name + ": compute is empty");
  if (rows.read.load(std::memory_order_relaxed))
    throw std::logic_error("ta::IndicatorRegistration: " + spec.name +
                           " registered after the registry was read (define the registration at namespace "
                           "scope, so that it runs before main)");
  const auto at =
      std::lower_bound(rows.specs.begin(), rows.specs.end(), spec.name,
                       [](const IndicatorSpec& s, const std::string& name) { return s.name < name; });
  rows.specs.insert(at, std::move(spec));
}

std::vector<IndicatorSpec> all_indicators() {
  std::vector<IndicatorSpec> specs;
  for (const Group& group : groups()) {
    for (std::size_t k = 0; k < group.outputs.size(); ++k) {
      const OutputInfo& info = group.outputs[k];
      specs.push_back(
          {info.name, info.lookback, info.talib, group.needs_benchmark,
           [&group, k](const Ohlcv& bars, In benchmark, Out out) {
             check_bars("all_indicators", bars, benchmark);
             check_lengths(group.outputs[k].name, {{"close", bars.close.size()}, {"out", out.size()}});
             // The other outputs of the group are skipped where the group can, else go to scratch.
             std::vector<double> scratch(group.skips_empty_outputs ? 0 : group.outputs.size() * out.size());
             std::vector<Out> outs;
             for (std::size_t j = 0; j < group.outputs.size(); ++j)
               outs.push_back(j == k                      ? out
                              : group.skips_empty_outputs ? Out{}
                                                          : Out(scratch).subspan(j * out.size(), out.size()));
             run_group(group, bars, benchmark, outs);
           }});
    }
  }
  for (const IndicatorSpec& spec : outside_specs()) {
    IndicatorSpec row = spec;
    row.compute = [&spec](const Ohlcv& bars, In benchmark, Out out) {
      check_bars("all_indicators", bars, benchmark);
      check_lengths(spec.name.c_str(), {{"close", bars.close.size()}, {"out", out.size()}});
      run_outside(spec, bars, benchmark, out);
    };
    specs.push_back(std::move(row));
  }
  return specs;
}

std::size_t indicator_count() {
  std::size_t count = 0;
  for (const Group& group : groups()) count += group.outputs.size();
  return count + outside_specs().size();
}

void compute_all(const Ohlcv& bars, In benchmark_close, Out out, IndicatorSet set) {
  check_bars("compute_all", bars, benchmark_close);
  const std::size_t days = bars.close.size();
  if (out.size() != indicator_count() * days)
    fail("compute_all", "out has " + std::to_string(out.size()) + " values, expected " +
                            std::to_string(indicator_count()) + " outputs x " + std::to_string(days) +
                            " days");
  bool finite = all_finite(bars.open) && all_finite(bars.high) && all_finite(bars.low) &&
                all_finite(bars.close) && all_finite(bars.volume) && all_finite(benchmark_close);
  const InputsKnownFinite known(finite);
  std::size_t row = 0;
  std::array<Out, 8> outs;
  for (const Group& group : groups()) {
    const std::size_t n = group.outputs.size();
    for (std::size_t j = 0; j < n; ++j) outs[j] = out.subspan((row + j) * days, days);
    const std::span<const Out> rows(outs.data(), n);
    if (set == IndicatorSet::talib_only && !group.talib)
      for (Out o : rows) std::fill(o.begin(), o.end(), kNaN);
    else
      run_group(group, bars, benchmark_close, rows);
    row += n;
  }
  for (const IndicatorSpec& spec : outside_specs()) {
    const Out o = out.subspan(row * days, days);
    if (set == IndicatorSet::talib_only && spec.talib.empty())
      std::fill(o.begin(), o.end(), kNaN);
    else
      run_outside(spec, bars, benchmark_close, o);
    ++row;
  }
}

std::vector<std::vector<double>> compute_all(const Ohlcv& bars, In benchmark_close) {
  const std::size_t days = bars.close.size();
  std::vector<double> flat(indicator_count() * days);
  compute_all(bars, benchmark_close, flat);
  std::vector<std::vector<double>> rows(indicator_count());
  for (std::size_t i = 0; i < rows.size(); ++i)
    rows[i].assign(flat.begin() + static_cast<std::ptrdiff_t>(i * days),
                   flat.begin() + static_cast<std::ptrdiff_t>((i + 1) * days));
  return rows;
}

}  // namespace qf::quant::ta
