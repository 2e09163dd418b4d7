// Preconditions at library boundaries, after QuantLib's QL_REQUIRE: a check that fails throws
// std::invalid_argument whose message names the function, the value and the rule it breaks.
//
//   QF_REQUIRE(period >= 2, "realized_volatility", "period", period, "must be >= 2");
//     -> "realized_volatility: period = 1 must be >= 2"
//   QF_REQUIRE_MSG(r.size() == b.size(), "benchmark_metrics", r.size() << " returns but " << b.size()
//                  << " benchmark returns");
//     -> "benchmark_metrics: 3 returns but 4 benchmark returns"
//
// QF_REQUIRE names one value; QF_REQUIRE_MSG streams any message (for checks about several values).
// The message is built only when the check fails (the value and message expressions are not evaluated
// otherwise), so a passing check costs one branch. Values print as: floating point in the shortest form
// that reads back to the same number (0.1, 1e-05, nan), strings in single quotes, the rest with <<.
// For the boundaries of public functions, not for hot loops: check a loop's inputs once, before it.
#pragma once

#include <charconv>
#include <ostream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>

namespace qf::detail {

template <class T>
void write_checked_value(std::ostream& out, const T& value) {
  if constexpr (std::is_same_v<T, bool>) {
    out << (value ? "true" : "false");
  } else if constexpr (std::is_floating_point_v<T>) {
    char text[64];
    const auto end = std::to_chars(text, text + sizeof text, value).ptr;
    out.write(text, end - text);
  } else if constexpr (std::is_convertible_v<const T&, std::string_view>) {
    out << '\'' << std::string_view(value) << '\'';
  } else {
    out << value;
  }
}

[[noreturn]] inline void throw_requirement(std::string_view function, const std::string& message) {
  throw std::invalid_argument(std::string(function) + ": " + message);
}

// "function: name = value rule"
template <class T>
[[noreturn]] void throw_value_requirement(std::string_view function, std::string_view name, const T& value,
                                          std::string_view rule) {
  std::ostringstream message;
  message << name << " = ";
  write_checked_value(message, value);
  message << ' ' << rule;
  throw_requirement(function, message.str());
}

}  // namespace qf::detail

// Throws std::invalid_argument("function: name = value rule") unless `condition` holds.
#define QF_REQUIRE(condition, function, name, value, rule)                        \
  do {                                                                            \
    if (!(condition)) [[unlikely]]                                                \
      ::qf::detail::throw_value_requirement((function), (name), (value), (rule)); \
  } while (false)

// Throws std::invalid_argument("function: " + message) unless `condition` holds; `message` is a stream
// expression (parts joined by <<).
#define QF_REQUIRE_MSG(condition, function, message)                          \
  do {                                                                        \
    if (!(condition)) [[unlikely]] {                                          \
      std::ostringstream qf_require_message_;                                 \
      qf_require_message_ << message;                                         \
      ::qf::detail::throw_requirement((function), qf_require_message_.str()); \
    }                                                                         \
  } while (false)
