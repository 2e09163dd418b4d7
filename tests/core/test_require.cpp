// QF_REQUIRE and QF_REQUIRE_MSG (qf/core/require.h): a failed check throws std::invalid_argument naming
// the function, the value and the rule; a passing one evaluates neither the value nor the message.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>

#include "qf/core/require.h"

namespace {

// The message of the std::invalid_argument that `call` throws ("" and a failure when it throws none).
template <class Call>
std::string invalid_argument_message(Call call) {
  try {
    call();
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  ADD_FAILURE() << "no std::invalid_argument";
  return "";
}

void check_period(std::int64_t period) {
  QF_REQUIRE(period >= 2, "realized_volatility", "period", period, "must be >= 2");
}

}  // namespace

TEST(Require, MessageNamesFunctionValueAndRule) {
  EXPECT_NO_THROW(check_period(2));
  EXPECT_EQ(invalid_argument_message([] { check_period(1); }),
            "realized_volatility: period = 1 must be >= 2");
}

TEST(Require, ValuesPrintReadably) {
  // Floating point in the shortest form that reads back the same, strings quoted, booleans as words.
  EXPECT_EQ(invalid_argument_message([] { QF_REQUIRE(false, "f", "halflife", 0.1, "must be positive"); }),
            "f: halflife = 0.1 must be positive");
  EXPECT_EQ(invalid_argument_message([] { QF_REQUIRE(false, "f", "x", 1e-300, "is too small"); }),
            "f: x = 1e-300 is too small");
  EXPECT_EQ(invalid_argument_message([] {
              QF_REQUIRE(false, "f", "x", std::numeric_limits<double>::quiet_NaN(), "must be finite");
            }),
            "f: x = nan must be finite");
  const std::string rule = "top_q";
  EXPECT_EQ(invalid_argument_message([&] { QF_REQUIRE(false, "strategy", "rule", rule, "is unknown"); }),
            "strategy: rule = 'top_q' is unknown");
  EXPECT_EQ(invalid_argument_message([] { QF_REQUIRE(false, "f", "name", "", "must not be empty"); }),
            "f: name = '' must not be empty");
  EXPECT_EQ(invalid_argument_message([] { QF_REQUIRE(false, "f", "shuffle", true, "needs a seed"); }),
            "f: shuffle = true needs a seed");
}

TEST(Require, StreamedMessage) {
  const std::size_t returns = 3, benchmark = 4;
  EXPECT_EQ(invalid_argument_message([&] {
              QF_REQUIRE_MSG(returns == benchmark, "benchmark_metrics",
                             returns << " returns but " << benchmark << " benchmark returns");
            }),
            "benchmark_metrics: 3 returns but 4 benchmark returns");
  EXPECT_NO_THROW(QF_REQUIRE_MSG(returns < benchmark, "benchmark_metrics", "unused"));
}

TEST(Require, PassingCheckEvaluatesNoMessage) {
  int evaluated = 0;
  auto value = [&] { return ++evaluated; };
  QF_REQUIRE(true, "f", "x", value(), "never built");
  QF_REQUIRE_MSG(true, "f", "x = " << value());
  EXPECT_EQ(evaluated, 0);
  EXPECT_THROW(QF_REQUIRE(false, "f", "x", value(), "built"), std::invalid_argument);
  EXPECT_EQ(evaluated, 1);
}

TEST(Require, UsableAsOneStatement) {
  // do { } while (false): an if/else around the macro keeps its meaning.
  const bool check = false;
  int branch = 0;
  if (check)
    QF_REQUIRE(false, "f", "x", 1, "fails");
  else
    branch = 2;
  EXPECT_EQ(branch, 2);
}
