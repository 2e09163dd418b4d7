#include "qf/data/execution.h"

#include <cmath>
#include <limits>
#include <stdexcept>

#include "qf/core/require.h"

namespace qf::data {

Execution parse_execution(const std::string& name) {
  if (name == "next_open") return Execution::next_open;
  if (name == "next_close") return Execution::next_close;
  if (name == "close") return Execution::close;
  throw std::invalid_argument("unknown execution '" + name + "' (next_open, next_close, close)");
}

std::string to_string(Execution execution) {
  switch (execution) {
    case Execution::next_open:
      return "next_open";
    case Execution::next_close:
      return "next_close";
    case Execution::close:
      return "close";
  }
  return "?";
}

std::string TradeTiming::describe() const {
  const std::string field = execution == Execution::next_open ? "open" : "close";
  auto day = [](std::int64_t offset) {
    return offset == 0 ? std::string("t") : "t+" + std::to_string(offset);
  };
  std::string text = field + "[" + day(lag()) + "] -> " + field + "[" + day(lag() + horizon) + "]";
  if (execution == Execution::close) text += " (market-on-close, optimistic)";
  return text;
}

void TradeTiming::check() const {
  QF_REQUIRE(horizon >= 1 && horizon <= 250, "trade timing", "horizon", horizon,
             "must be between 1 and 250 days");
}

std::vector<double> traded_return_series(std::span<const double> open, std::span<const double> close,
                                         std::span<const std::uint8_t> listed, const TradeTiming& timing) {
  timing.check();
  const auto D = static_cast<std::int64_t>(close.size());
  QF_REQUIRE_MSG(static_cast<std::int64_t>(open.size()) == D && static_cast<std::int64_t>(listed.size()) == D,
                 "traded_return_series",
                 "open, close and listed differ in length (" << open.size() << ", " << D << ", "
                                                             << listed.size() << ")");
  std::vector<double> out(static_cast<std::size_t>(D), std::numeric_limits<double>::quiet_NaN());
  const std::span<const double> field = timing.execution == Execution::next_open ? open : close;
  auto at = [](std::span<const double> v, std::int64_t d) { return v[static_cast<std::size_t>(d)]; };
  auto is_listed = [&](std::int64_t d) {
    return d >= 0 && d < D && listed[static_cast<std::size_t>(d)] != 0;
  };
  // last[d]: the last listed day of the listing that holds d (scanned backwards once).
  std::vector<std::int64_t> last(static_cast<std::size_t>(D), -1);
  for (std::int64_t d = D - 1; d >= 0; --d)
    if (is_listed(d))
      last[static_cast<std::size_t>(d)] = is_listed(d + 1) ? last[static_cast<std::size_t>(d + 1)] : d;
  for (std::int64_t t = 0; t < D; ++t) {
    const std::int64_t entry = t + timing.lag(), exit = entry + timing.horizon;
    if (!is_listed(t) || !is_listed(entry)) continue;
    const double price_in = at(field, entry);
    if (!(price_in > 0)) continue;
    const std::int64_t end = last[static_cast<std::size_t>(entry)];
    double price_out = std::numeric_limits<double>::quiet_NaN();
    if (end < exit && end + 1 < D)
      price_out = at(close, end);  // delisted inside the holding: closed out at its last close
    else if (exit < D)
      price_out = at(field, exit);
    if (price_out > 0) out[static_cast<std::size_t>(t)] = price_out / price_in - 1;
  }
  return out;
}

}  // namespace qf::data
