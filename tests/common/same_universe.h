// One comparison of two universes' calendars and price panels, bit for bit: what "an update equals a
// full rebuild" means in the data tests.
#pragma once

#include <gtest/gtest.h>

#include <cstring>
#include <utility>

#include "qf/data/universe.h"

namespace qf::test_support {

inline void expect_same_price_panels(const data::Universe& a, const data::Universe& b) {
  ASSERT_EQ(a.tickers, b.tickers);
  ASSERT_EQ(a.days, b.days);
  for (auto [pa, pb] : {std::pair{&a.open, &b.open},
                        {&a.high, &b.high},
                        {&a.low, &b.low},
                        {&a.close, &b.close},
                        {&a.volume, &b.volume}}) {
    ASSERT_EQ(pa->shape(), pb->shape());
    EXPECT_EQ(std::memcmp(pa->data<double>(), pb->data<double>(), static_cast<std::size_t>(pa->numel()) * 8),
              0);
  }
  EXPECT_EQ(a.present, b.present);
  EXPECT_EQ(a.source_line, b.source_line);
}

}  // namespace qf::test_support
