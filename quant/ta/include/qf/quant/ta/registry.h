// Module ta, the registry: every indicator output of one ticker in one call, in a fixed order. Its rows
// are the features of training (quant/signals), so their order, names, lookbacks and values are part of
// every saved model. The built-in rows are the families' rows in the order overlap, momentum, volume,
// volatility, ours (src/registry.cpp), each family's in the order of the registration function at the
// end of src/<family>.cpp; rows registered from outside the library (IndicatorRegistration) follow.
#pragma once

#include <cstddef>
#include <functional>
#include <span>
#include <string>
#include <vector>

namespace qf::quant::ta {

struct Ohlcv {
  std::span<const double> open, high, low, close, volume;
};

struct IndicatorSpec {
  std::string name;   // stable identifier, [a-z0-9_], e.g. "rsi_14", "macd_signal", "bbands_upper_20"
  int lookback = 0;   // first index with a value (before: NaN)
  std::string talib;  // the TA-Lib output it reproduces, e.g. "MACD.macdsignal"; empty for ours
  bool needs_benchmark = false;  // NaN throughout when no benchmark close is given
  // Computes this output alone (out.size() == days); benchmark_close may be empty.
  std::function<void(const Ohlcv&, std::span<const double> benchmark_close, std::span<double> out)> compute;
};

// All outputs, in a fixed order (the rows of compute_all): the built-in ones with their default parameters,
// then those registered from outside the library (IndicatorRegistration below).
std::vector<IndicatorSpec> all_indicators();
std::size_t indicator_count();

enum class IndicatorSet {
  all,
  talib_only,  // only the outputs with a TA-Lib counterpart; the other rows are set to NaN
};

// Fills out[i * days + t] with output i of all_indicators() at day t; out.size() must be
// indicator_count() * days. Shared work (MACD's EMAs, the Bollinger SMA...) is done once.
// benchmark_close is empty or as long as the bars.
void compute_all(const Ohlcv& bars, std::span<const double> benchmark_close, std::span<double> out,
                 IndicatorSet set = IndicatorSet::all);
std::vector<std::vector<double>> compute_all(const Ohlcv& bars, std::span<const double> benchmark_close);

// ---- rows from outside the library ----------------------------------------------------------------------

// Adds a researcher's own output to the registry of the program it is linked into, without editing this
// library. Define one at namespace scope in a source file of that program, so that it registers before
// main runs:
//
//   const ta::IndicatorRegistration kMyRow({
//       .name = "my_row_20",
//       .lookback = my_row_lookback(20),
//       .talib = "",  // the TA-Lib output it reproduces, if any
//       .needs_benchmark = false,
//       .compute = [](const ta::Ohlcv& b, std::span<const double>, std::span<double> out) {
//         my_row(b.close, 20, out);
//       }});
//
// Outside rows come after the built-in rows, sorted by name (so their order depends neither on the link
// order nor on the order of static initialisation); a program that does not link the file sees the
// built-in rows only. all_indicators and compute_all treat them as the built-in rows: NaN without a
// benchmark when needs_benchmark, NaN under IndicatorSet::talib_only when talib is empty.
// Static linking: a linker takes an object file out of a static library (.a) only for a symbol that
// something else references, and nothing references a registration object; a file whose functions
// only its own registration calls is dropped, registration and all. So link the file as an object:
// qf_add_indicators(<executable> <files...>) (cmake/qf_indicators.cmake) compiles it into an OBJECT
// library linked into the executable, and cmake -DQF_INDICATOR_SOURCES=<files> does so for
// process_new_data, which stores the features. Worked example: tests/quant/ta/toy_indicator.cpp.
// Throws std::invalid_argument when the name is not [a-z0-9_]+ or is taken, the lookback is negative or
// compute is empty (during static initialisation the program then ends with the message), and
// std::logic_error once the registry has been read (its rows must not change under a running program).
class IndicatorRegistration {
 public:
  explicit IndicatorRegistration(IndicatorSpec spec);
};

}  // namespace qf::quant::ta
