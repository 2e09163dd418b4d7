// The registry's rows are the feature rows of training, so their order, names, lookbacks, TA-Lib
// counterparts and benchmark needs are part of every saved model. They are written out here: any change
// to them (a row added, moved, renamed, a default period changed) fails this test and has to be made on
// purpose, with the models retrained (docs/architecture.md, "Add an indicator").
#include <gtest/gtest.h>

#include <cstddef>
#include <iterator>
#include <string>

#include "qf/quant/ta/registry.h"

namespace ta = qf::quant::ta;

namespace {

struct Row {
  const char* name;
  int lookback;
  const char* talib;
  bool needs_benchmark;
};

// The built-in rows in order: each family's rows (the registration function at the end of
// quant/ta/src/<family>.cpp), families in the order of quant/ta/src/registry.cpp.
// clang-format off
constexpr Row kRows[] = {
    // overlap.cpp
    {"sma_20", 19, "SMA", false},
    {"ema_20", 19, "EMA", false},
    {"wma_20", 19, "WMA", false},
    {"dema_20", 38, "DEMA", false},
    {"tema_20", 57, "TEMA", false},
    {"trima_20", 19, "TRIMA", false},
    {"kama_30", 30, "KAMA", false},
    {"t3_5", 24, "T3", false},
    {"bbands_upper_20", 19, "BBANDS.upperband", false},
    {"bbands_middle_20", 19, "BBANDS.middleband", false},
    {"bbands_lower_20", 19, "BBANDS.lowerband", false},
    {"midprice_14", 13, "MIDPRICE", false},
    // momentum.cpp
    {"macd", 33, "MACD.macd", false},
    {"macd_signal", 33, "MACD.macdsignal", false},
    {"macd_hist", 33, "MACD.macdhist", false},
    {"apo_12_26", 25, "APO", false},
    {"ppo_12_26", 25, "PPO", false},
    {"rsi_14", 14, "RSI", false},
    {"cmo_14", 14, "CMO", false},
    {"stoch_slowk", 8, "STOCH.slowk", false},
    {"stoch_slowd", 8, "STOCH.slowd", false},
    {"stochrsi_fastk", 20, "STOCHRSI.fastk", false},
    {"stochrsi_fastd", 20, "STOCHRSI.fastd", false},
    {"willr_14", 13, "WILLR", false},
    {"cci_14", 13, "CCI", false},
    {"plus_dm_14", 13, "PLUS_DM", false},
    {"minus_dm_14", 13, "MINUS_DM", false},
    {"plus_di_14", 14, "PLUS_DI", false},
    {"minus_di_14", 14, "MINUS_DI", false},
    {"dx_14", 14, "DX", false},
    {"adx_14", 27, "ADX", false},
    {"adxr_14", 40, "ADXR", false},
    {"aroon_down_14", 14, "AROON.aroondown", false},
    {"aroon_up_14", 14, "AROON.aroonup", false},
    {"aroonosc_14", 14, "AROONOSC", false},
    {"mfi_14", 14, "MFI", false},
    {"roc_10", 10, "ROC", false},
    {"rocp_10", 10, "ROCP", false},
    {"mom_10", 10, "MOM", false},
    {"trix_15", 43, "TRIX", false},
    {"ultosc_7_14_28", 28, "ULTOSC", false},
    {"bop", 0, "BOP", false},
    // volume.cpp
    {"obv", 0, "OBV", false},
    {"ad", 0, "AD", false},
    {"adosc_3_10", 9, "ADOSC", false},
    // volatility.cpp
    {"trange", 1, "TRANGE", false},
    {"atr_14", 14, "ATR", false},
    {"natr_14", 14, "NATR", false},
    {"stddev_20", 19, "STDDEV", false},
    {"linearreg_slope_14", 13, "LINEARREG_SLOPE", false},
    {"typprice", 0, "TYPPRICE", false},
    // ours.cpp
    {"keltner_upper_20", 19, "", false},
    {"keltner_middle_20", 19, "", false},
    {"keltner_lower_20", 19, "", false},
    {"donchian_upper_20", 19, "", false},
    {"donchian_middle_20", 19, "", false},
    {"donchian_lower_20", 19, "", false},
    {"ret_1", 1, "", false},
    {"ret_5", 5, "", false},
    {"ret_20", 20, "", false},
    {"logret_1", 1, "", false},
    {"logret_5", 5, "", false},
    {"logret_20", 20, "", false},
    {"rvol_20", 20, "", false},
    {"beta_60", 60, "", true},
    {"corr_60", 60, "", true},
    {"volume_z_20", 19, "", false},
};
// clang-format on

TEST(IndicatorRegistry, RowsAreExactlyTheListedOnesInOrder) {
  const auto specs = ta::all_indicators();
  ASSERT_EQ(specs.size(), std::size(kRows));
  EXPECT_EQ(ta::indicator_count(), std::size(kRows));
  for (std::size_t i = 0; i < specs.size(); ++i) {
    EXPECT_EQ(specs[i].name, kRows[i].name) << "row " << i;
    EXPECT_EQ(specs[i].lookback, kRows[i].lookback) << specs[i].name;
    EXPECT_EQ(specs[i].talib, kRows[i].talib) << specs[i].name;
    EXPECT_EQ(specs[i].needs_benchmark, kRows[i].needs_benchmark) << specs[i].name;
  }
}

}  // namespace
