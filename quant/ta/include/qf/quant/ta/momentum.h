// Module ta, momentum indicators (TA-Lib's momentum group): MACD, APO/PPO, RSI, CMO, the stochastics,
// Williams %R, CCI, Wilder's directional movement, Aroon, MFI, ROC/ROCP/MOM, TRIX, ULTOSC, BOP.
// Every function follows the conventions of qf/quant/ta/indicators.h (causal, `<name>_lookback`, the NaN
// rule, argument checks). The code, in the same order: src/momentum.cpp; its registry rows at its end.
#pragma once

#include <span>

namespace qf::quant::ta {

// EMA(fast) - EMA(slow), its EMA(signal) and the difference. As in TA-Lib the fast EMA is seeded at the
// slow EMA's first index, and all three outputs start at slow - 1 + signal - 1.
int macd_lookback(int fast, int slow, int signal);
void macd(std::span<const double> close, int fast, int slow, int signal, std::span<double> macd_line,
          std::span<double> signal_line, std::span<double> hist);
// Absolute and percentage price oscillators with EMAs (TA-Lib's default MA type for APO/PPO).
int apo_lookback(int fast, int slow);
void apo(std::span<const double> close, int fast, int slow, std::span<double> out);
int ppo_lookback(int fast, int slow);
void ppo(std::span<const double> close, int fast, int slow, std::span<double> out);
int rsi_lookback(int period);
void rsi(std::span<const double> close, int period, std::span<double> out);
// Chande momentum oscillator (Wilder-smoothed gains and losses, as TA-Lib).
int cmo_lookback(int period);
void cmo(std::span<const double> close, int period, std::span<double> out);
// Slow stochastic with SMA smoothing of %K and %D (TA-Lib STOCH's default MA types).
int stoch_lookback(int fastk_period, int slowk_period, int slowd_period);
void stoch(std::span<const double> high, std::span<const double> low, std::span<const double> close,
           int fastk_period, int slowk_period, int slowd_period, std::span<double> slowk,
           std::span<double> slowd);
// Fast stochastic of the RSI, %D an SMA (TA-Lib STOCHRSI's default MA type).
int stochrsi_lookback(int period, int fastk_period, int fastd_period);
void stochrsi(std::span<const double> close, int period, int fastk_period, int fastd_period,
              std::span<double> fastk, std::span<double> fastd);
int willr_lookback(int period);
void willr(std::span<const double> high, std::span<const double> low, std::span<const double> close,
           int period, std::span<double> out);
int cci_lookback(int period);
void cci(std::span<const double> high, std::span<const double> low, std::span<const double> close, int period,
         std::span<double> out);
// Wilder's directional movement family.
int plus_dm_lookback(int period);
void plus_dm(std::span<const double> high, std::span<const double> low, int period, std::span<double> out);
int minus_dm_lookback(int period);
void minus_dm(std::span<const double> high, std::span<const double> low, int period, std::span<double> out);
int plus_di_lookback(int period);
void plus_di(std::span<const double> high, std::span<const double> low, std::span<const double> close,
             int period, std::span<double> out);
int minus_di_lookback(int period);
void minus_di(std::span<const double> high, std::span<const double> low, std::span<const double> close,
              int period, std::span<double> out);
int dx_lookback(int period);
void dx(std::span<const double> high, std::span<const double> low, std::span<const double> close, int period,
        std::span<double> out);
int adx_lookback(int period);
void adx(std::span<const double> high, std::span<const double> low, std::span<const double> close, int period,
         std::span<double> out);
// (ADX_t + ADX_{t-period+1}) / 2.
int adxr_lookback(int period);
void adxr(std::span<const double> high, std::span<const double> low, std::span<const double> close,
          int period, std::span<double> out);
// Aroon over the last period + 1 bars; a tie goes to the most recent bar, as in TA-Lib.
int aroon_lookback(int period);
void aroon(std::span<const double> high, std::span<const double> low, int period,
           std::span<double> aroon_down, std::span<double> aroon_up);
int aroonosc_lookback(int period);
void aroonosc(std::span<const double> high, std::span<const double> low, int period, std::span<double> out);
int mfi_lookback(int period);
void mfi(std::span<const double> high, std::span<const double> low, std::span<const double> close,
         std::span<const double> volume, int period, std::span<double> out);
// 100 (close_t / close_{t-period} - 1); 0 where the old close is 0.
int roc_lookback(int period);
void roc(std::span<const double> close, int period, std::span<double> out);
// (close_t - close_{t-period}) / close_{t-period}; 0 where the old close is 0.
int rocp_lookback(int period);
void rocp(std::span<const double> close, int period, std::span<double> out);
int mom_lookback(int period);
void mom(std::span<const double> close, int period, std::span<double> out);
// One-day rate of change (in percent) of a triple EMA.
int trix_lookback(int period);
void trix(std::span<const double> close, int period, std::span<double> out);
// Ultimate oscillator; the periods are sorted as in TA-Lib, the shortest weighted 4, the middle 2.
int ultosc_lookback(int period1, int period2, int period3);
void ultosc(std::span<const double> high, std::span<const double> low, std::span<const double> close,
            int period1, int period2, int period3, std::span<double> out);
// Balance of power: (close - open) / (high - low), 0 where high <= low.
int bop_lookback();
void bop(std::span<const double> open, std::span<const double> high, std::span<const double> low,
         std::span<const double> close, std::span<double> out);

}  // namespace qf::quant::ta
