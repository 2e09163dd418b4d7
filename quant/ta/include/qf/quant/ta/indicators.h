// Module ta (qf_quant_ta): the technical indicators, one function per indicator and a registry that runs
// them all for one ticker. Uses nothing but the standard library.
//
// Technical indicators with TA-Lib's definitions, plus a few of our own, and a registry that computes
// all of them for one ticker in one call.
//
// Conventions (every function):
// * Outputs are as long as the inputs. Index t uses inputs at indices <= t only (causal).
// * `<name>_lookback(params)` is the first index with a value; outputs before it are NaN. For the
//   TA-Lib indicators it is exactly where TA-Lib (0.8, default unstable period 0 and default
//   compatibility) starts its output when called on the whole series, and the values are TA-Lib's:
//   bit for bit except WMA, TRIMA and the Bollinger bands (within 1e-13 relative); the golden test
//   (tests/quant/ta/test_indicators.cpp) asks for 1e-9.
// * NaN/inf in the input: each indicator runs separately on every maximal run of rows whose inputs
//   are all finite. Rows with a non-finite input get NaN, and a run after a gap starts afresh, as if
//   the series began there (its first `lookback` outputs are NaN again; OBV and AD restart from 0).
//   So no output ever depends on a NaN input, and one bad row costs `lookback` rows, not the rest of
//   the series. Only the inputs an indicator reads count (a NaN open leaves RSI alone). The main
//   path (all finite) is a single run.
// * Bad arguments (period out of range, spans of different lengths) throw std::invalid_argument
//   naming the function and the value. The loops themselves never throw.
// * Periods accept TA-Lib's ranges (up to 100000). Where TA-Lib accepts 1 for a moving average, the
//   output is the input (lookback 0); its other period-1 special cases (PLUS_DM, PLUS_DI, ATR, TRIX...)
//   are reproduced too.
// * TA-Lib functions with a moving-average type are fixed to TA-Lib's default type: SMA for BBANDS,
//   STOCH and STOCHRSI, EMA for APO and PPO.
#pragma once

#include <cstddef>
#include <functional>
#include <span>
#include <string>
#include <vector>

namespace qf::quant::ta {

// ---- moving averages (TA-Lib) -------------------------------------------------------------------------
int sma_lookback(int period);
void sma(std::span<const double> in, int period, std::span<double> out);
// Seeded with the SMA of the first `period` values, then x_t = x_{t-1} + k (in_t - x_{t-1}), k =
// 2/(period+1).
int ema_lookback(int period);
void ema(std::span<const double> in, int period, std::span<double> out);
int wma_lookback(int period);
void wma(std::span<const double> in, int period, std::span<double> out);
// 2 EMA - EMA(EMA).
int dema_lookback(int period);
void dema(std::span<const double> in, int period, std::span<double> out);
// 3 EMA - 3 EMA(EMA) + EMA(EMA(EMA)).
int tema_lookback(int period);
void tema(std::span<const double> in, int period, std::span<double> out);
// Triangular moving average (an SMA of an SMA).
int trima_lookback(int period);
void trima(std::span<const double> in, int period, std::span<double> out);
// Kaufman adaptive moving average (TA-Lib's fast/slow constants 2 and 30).
int kama_lookback(int period);
void kama(std::span<const double> in, int period, std::span<double> out);
// Tillson T3: six cascaded EMAs combined with the volume factor (0 <= vfactor <= 1).
int t3_lookback(int period);
void t3(std::span<const double> in, int period, double vfactor, std::span<double> out);
// Bollinger bands around the SMA: middle +- nbdev * population standard deviation.
int bbands_lookback(int period);
void bbands(std::span<const double> in, int period, double nbdev_up, double nbdev_down,
            std::span<double> upper, std::span<double> middle, std::span<double> lower);
// (highest high + lowest low) / 2 over `period` bars.
int midprice_lookback(int period);
void midprice(std::span<const double> high, std::span<const double> low, int period, std::span<double> out);

// ---- momentum (TA-Lib) --------------------------------------------------------------------------------
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

// ---- volume (TA-Lib) ----------------------------------------------------------------------------------
// On-balance volume, starting from the first bar's volume.
int obv_lookback();
void obv(std::span<const double> close, std::span<const double> volume, std::span<double> out);
// Chaikin accumulation/distribution line.
int ad_lookback();
void ad(std::span<const double> high, std::span<const double> low, std::span<const double> close,
        std::span<const double> volume, std::span<double> out);
// Chaikin oscillator: EMA(fast) - EMA(slow) of the AD line, both seeded with the first AD value.
int adosc_lookback(int fast, int slow);
void adosc(std::span<const double> high, std::span<const double> low, std::span<const double> close,
           std::span<const double> volume, int fast, int slow, std::span<double> out);

// ---- volatility and statistics (TA-Lib) ---------------------------------------------------------------
int trange_lookback();
void trange(std::span<const double> high, std::span<const double> low, std::span<const double> close,
            std::span<double> out);
// Wilder-smoothed true range, seeded with the mean of the first `period` true ranges.
int atr_lookback(int period);
void atr(std::span<const double> high, std::span<const double> low, std::span<const double> close, int period,
         std::span<double> out);
// 100 ATR / close.
int natr_lookback(int period);
void natr(std::span<const double> high, std::span<const double> low, std::span<const double> close,
          int period, std::span<double> out);
// Population standard deviation times nbdev (TA-Lib STDDEV).
int stddev_lookback(int period);
void stddev(std::span<const double> in, int period, double nbdev, std::span<double> out);
// Least-squares slope over the last `period` values (per bar).
int linearreg_slope_lookback(int period);
void linearreg_slope(std::span<const double> in, int period, std::span<double> out);
// (high + low + close) / 3.
int typprice_lookback();
void typprice(std::span<const double> high, std::span<const double> low, std::span<const double> close,
              std::span<double> out);

// ---- our own (not in TA-Lib) --------------------------------------------------------------------------
// Keltner channels: middle = EMA(typical price, ema_period) with TA-Lib's EMA (SMA seed), upper/lower =
// middle +- multiplier * ATR(atr_period) with TA-Lib's ATR. Lookback max(ema_period - 1, atr_period).
int keltner_lookback(int ema_period, int atr_period);
void keltner(std::span<const double> high, std::span<const double> low, std::span<const double> close,
             int ema_period, int atr_period, double multiplier, std::span<double> upper,
             std::span<double> middle, std::span<double> lower);
// Donchian channels: highest high and lowest low of the last `period` bars (today included), and their mean.
int donchian_lookback(int period);
void donchian(std::span<const double> high, std::span<const double> low, int period, std::span<double> upper,
              std::span<double> middle, std::span<double> lower);
// close_t / close_{t-days} - 1.
int simple_return_lookback(int days);
void simple_return(std::span<const double> close, int days, std::span<double> out);
// log(close_t / close_{t-days}).
int log_return_lookback(int days);
void log_return(std::span<const double> close, int days, std::span<double> out);
// Population standard deviation of the last `period` one-day log returns (not annualised); the same
// definition as qf::quant::realized_volatility. Lookback `period`.
int rolling_volatility_lookback(int period);
void rolling_volatility(std::span<const double> close, int period, std::span<double> out);
// Over the last `period` one-day simple returns of close and of the benchmark's close:
// beta = cov(r, r_b) / var(r_b) and correlation = cov / (sd(r) sd(r_b)). NaN where a variance is 0.
// Lookback `period`.
int rolling_beta_lookback(int period);
void rolling_beta(std::span<const double> close, std::span<const double> benchmark_close, int period,
                  std::span<double> out);
int rolling_correlation_lookback(int period);
void rolling_correlation(std::span<const double> close, std::span<const double> benchmark_close, int period,
                         std::span<double> out);
// (volume_t - mean) / population sd over the last `period` volumes, today included; 0 where the sd is 0.
int volume_zscore_lookback(int period);
void volume_zscore(std::span<const double> volume, int period, std::span<double> out);
// Cross-sectional percentile rank of a [days x tickers] row-major panel: per day, the average rank
// (1-based, ties share their mean rank) among the tickers with a finite value, divided by how many
// there are; so values lie in (0, 1] (pandas' rank(axis=1, pct=True)). Non-finite stays NaN.
void cross_sectional_rank(std::span<const double> panel, std::size_t days, std::size_t tickers,
                          std::span<double> out);

// ---- registry: every indicator of one ticker in one call ----------------------------------------------
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

// All outputs with their default parameters, in a fixed order (the rows of compute_all).
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

}  // namespace qf::quant::ta
