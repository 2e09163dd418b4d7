// The return a trade earns: when a decision made at the close of day t executes, and when it exits.
// One definition for the labels a model learns, the scores it gets and the P&L the backtest books.
//
//   execution    entry (day e, price)      exit (h days held)        lag = e - t
//   next_open    open[t+1]                 open[t+1+h]               1   (the default)
//   next_close   close[t+1]                close[t+1+h]              1
//   close        close[t]                  close[t+h]                0   (market-on-close: optimistic,
//                                                                         the decision's own close)
//
// The traded return of decision day t is the simple return exit / entry - 1. A ticker whose listing
// ends inside the holding (its last listed day L < e + h, with a calendar day after L) is closed out
// at close[L], as the backtest does: the return is close[L] / entry - 1, never NaN. NaN where the
// decision day or the entry day is not listed, or the exit lies beyond the calendar (not known yet).
// The label of day t uses prices up to day t + lag + h (label_end_offset), which is what
// cross-validation must purge.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace qf::data {

enum class Execution { next_open, next_close, close };

// "next_open", "next_close", "close"; parse throws std::invalid_argument naming the bad value.
Execution parse_execution(const std::string& name);
std::string to_string(Execution execution);

struct TradeTiming {
  Execution execution = Execution::next_open;
  std::int64_t horizon = 1;  // days each decision is held, >= 1

  std::int64_t lag() const { return execution == Execution::close ? 0 : 1; }
  // Days from the decision day to the last day whose prices the traded return uses.
  std::int64_t label_end_offset() const { return lag() + horizon; }
  // e.g. "open[t+1] -> open[t+2]"; with " (market-on-close, optimistic)" for close.
  std::string describe() const;
  // Throws std::invalid_argument unless 1 <= horizon <= 250.
  void check() const;
  bool operator==(const TradeTiming&) const = default;
};

// Traded returns of one ticker's series on the calendar: open/close [days], listed [days] 0/1 (one
// contiguous listing). Returns [days], NaN where unknown (see above).
std::vector<double> traded_return_series(std::span<const double> open, std::span<const double> close,
                                         std::span<const std::uint8_t> listed, const TradeTiming& timing);

}  // namespace qf::data
