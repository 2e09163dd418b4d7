// The embedded default dataset: a realistic synthetic daily stock universe, deterministic from a seed,
// and a writer for the CSV folder layout that the ingestion step reads.
//
// Every random draw comes from qf::Rng streams split from the seed (never std:: distributions), so the
// draws are the same on every platform: symbols, sectors, lives and the regime path (integer and uniform
// draws only) are bit-identical everywhere; prices go through libm's exp/log/cos and may differ in the
// last bits between C libraries or builds that fuse multiply-adds differently, far below the 4 decimals
// written. Each part has its own stream, so e.g. the regime path does not change with the ticker count.
//
// The model (all returns are daily log returns; day t is a business day, Monday to Friday):
//
//   Regimes. The market follows a Markov chain over {calm, bull, bear, crisis}, starting calm, with
//   expected durations of 120 / 160 / 70 / 20 business days (stationary shares about 37 / 41 / 18 / 4 %).
//   Each regime has a market drift (+0.0005 / +0.0010 / -0.0010 / -0.0040 per day) and a volatility
//   multiplier v (0.75 / 0.85 / 1.3 / 2.6).
//
//   Market.  m_t = drift(regime_t) + 0.011 * v_t * sqrt(h_t) * z_t + J_t, where h_t is a unit-mean
//            GARCH(1,1) variance (h_{t+1} = 0.02 + 0.08 z_t^2 h_t + 0.90 h_t) and J_t a rare market-wide
//            jump (0.2 % of days, four times as often in crisis; median size 3 %, 70 % of them down).
//   Sectors. f_{s,t} = sigma_s * sqrt(v_t) * sqrt(h_{s,t}) * z_{s,t}, own GARCH (0.03, 0.06, 0.91) per
//            sector, sigma_s between 0.5 % and 0.9 % per day.
//   Stocks.  r_{i,t} = alpha_i + beta_i m_t + gamma_i f_{s(i),t} + e_{i,t} + jump_{i,t} + planted_{i,t},
//            e_{i,t} = sigma_e,i * (1 + (v_t - 1) / 2) * sqrt(g_{i,t}) * z_{i,t} with its own GARCH
//            (0.03, 0.05, 0.92); beta_i around a sector mean (0.55 for Utilities .. 1.15 for IT, sd 0.25);
//            gamma_i ~ 1 +- 0.25; sigma_e,i = 1.5 % * (cap_i / median cap)^-0.15 * lognormal(0.2), so smaller
//            caps are more volatile; alpha_i ~ N(0, 0.0001); idiosyncratic jumps on about 0.3 % of days
//            (more for small caps, twice as many in crisis), log-normal sizes with median 5 %, 55 % down.
//            Offer (first) prices are log-normal around 40.
//   Market caps are log-normal (median 15e9, log sd 1.1) and give each company's capitalisation on the
//   last day of its life (like a constituents snapshot); shares outstanding = cap / last close.
//
//   Planted predictable component, the edge (strength lambda = options.predictability, run_pipeline's
//   and process_new_data's --edge; 0 <= lambda <= 0.4):
//     s_{i,t} = (r_{i,t} + r_{i,t-1} + ... + r_{i,t-4}) / (sqrt(5) * sigma_i)      (short-term momentum)
//     planted_{i,t+1} = lambda * sigma_i * s_{i,t}  =  lambda * (r_{i,t} + ... + r_{i,t-4}) / sqrt(5)
//   where r are the stock's realised close-to-close log returns (planted parts included) and sigma_i is
//   its nominal daily volatility (SyntheticTicker::volatility). s_{i,t} = 0 until the stock has five
//   returns (its first five rows). The signal uses only the stock's own closes up to t, so a model fed
//   past returns can learn it; corr(s_{i,t}, r_{i,t+1}) is about lambda. lambda * sqrt(5) < 1 keeps
//   the recursion stationary, hence the upper bound.
//   The planted term moves the stock during day t+1's session only, between its open and its close (the
//   overnight split below applies to the rest of the return). So the trade of a decision at day t's
//   close under the default next_open execution (data/execution.h), open[t+1] -> open[t+2], earns all
//   of it and no other planted term (day t+2's gap holds none): given everything known at day t's
//   close, the planted component's conditional mean of that traded log return is lambda * sigma_i *
//   s_{i,t}, and likewise for close execution (close[t] -> close[t+1] = r_{t+1}). Under next_close
//   (close[t+1] -> close[t+2]) the trade earns planted_{t+2}, of which only the known returns' part.
//   The oracle that knows the component (planted_direction, planted_oracle_accuracy) calls the sign of
//   s_{i,t}, the sign of the stock's 5-day move close[t] / close[t-5]; its direction accuracy on the
//   next_open traded return is about 1/2 + asin(lambda) / pi (55.5 % at lambda = 0.15; less where the
//   realised volatility is above sigma_i: regimes, GARCH, jumps).
//
//   pure_random_walk switches off every natural source of predictability: no regimes (the path is all
//   calm, with the long-run average drift), no GARCH, no jumps, no persistent volume component. Returns
//   are then i.i.d. over time (still correlated across stocks through i.i.d. market and sector factors).
//   With predictability = 0 too, nothing at all can be predicted from the past; with predictability > 0
//   the planted component is the only thing to learn.
//
//   OHLCV. The close-to-close return is split like a Brownian path with 25 % of its variance overnight:
//   gap ~ N(0.25 (r - planted), 0.25 * 0.75 * sigma_{i,t}^2), open = previous close * exp(gap); high
//   and low are draws of the maximum and minimum of a Brownian bridge from open to close with the day's
//   remaining variance, so low <= min(open, close) <= max(open, close) <= high and low > 0 hold by
//   construction.
//   Volume (shares) = shares outstanding * turnover_i * exp(a_t + 0.25 n_t) * (0.6 + 0.5 |r| / sigma_i),
//   a_t = 0.9 a_{t-1} + 0.15 n'_t (persistent activity), turnover about 0.6 % a day, higher for small caps.
//
//   Lives. About 6.5 % of tickers start late (IPO day uniform in [days/20, 3 days/4)) and about 3 % end
//   early (last day uniform in [days/4, days - 1)); the two sets are disjoint. Days outside a ticker's
//   life have no row. The first row of a life has no previous close: its open comes from a virtual
//   previous close (the offer price).
//
//   Index. A cap-weighted index of the tickers alive on both t-1 and t (base 1000 on the first day):
//   close and open move by the cap-weighted averages of the members' close / previous close and
//   open / previous close; high and low are drawn from a Brownian bridge between the index's open and
//   close with the variance of the index's factor exposure (averaging the members' highs would overstate
//   the range); volume is the members' total.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "qf/data/execution.h"
#include "qf/data/universe.h"

namespace qf::data {

enum class MarketRegime : std::uint8_t { calm, bull, bear, crisis };
inline constexpr std::array<MarketRegime, 4> kMarketRegimes = {MarketRegime::calm, MarketRegime::bull,
                                                               MarketRegime::bear, MarketRegime::crisis};
std::string_view regime_name(MarketRegime regime);  // "calm", "bull", "bear", "crisis"

// The 11 GICS sectors of the pre-2018 scheme (the one the real constituents file uses).
inline constexpr std::array<std::string_view, 11> kGicsSectors = {"Information Technology",
                                                                  "Health Care",
                                                                  "Financials",
                                                                  "Consumer Discretionary",
                                                                  "Industrials",
                                                                  "Consumer Staples",
                                                                  "Energy",
                                                                  "Utilities",
                                                                  "Real Estate",
                                                                  "Materials",
                                                                  "Telecommunication Services"};

struct SyntheticUniverseOptions {
  std::int64_t tickers = 518;
  std::int64_t days = 2520;               // business days, ten years
  std::string start_date = "2010-01-04";  // a weekend date moves on to the next Monday
  std::uint64_t seed = 20100104;
  double median_market_cap = 15e9;
  double market_cap_log_sd = 1.1;
  double ipo_share = 0.065;       // tickers that start late
  double delisting_share = 0.03;  // tickers that end early
  double predictability = 0.0;    // lambda of the planted momentum component (the edge), in [0, 0.4]
  // phi of a planted lag-2 autoregression, r_t += phi * r_{t-2}, in [-0.5, 0.5]: returns predictable at
  // lag 2 only (none at lag 1), so that only a label aligned with the trade's execution (next_close:
  // close[t+1] -> close[t+2], which r_t predicts) turns accuracy into P&L.
  double lag2_predictability = 0.0;
  bool pure_random_walk = false;  // i.i.d. returns: no regimes, GARCH, jumps (see above)
  double index_base = 1000.0;
  // Headlines for testing a sentiment signal end to end, a PLANTED news signal: each (ticker, day of its
  // life) gets one with probability headline_rate; its tone is positive when
  //   headline_strength x traded return of the headline's day + noise > 0,
  // the traded return being the one a decision at that day's close earns under headline_execution,
  // held one day (data/execution.h; the default next_open: open[t+1] -> open[t+2]), and the noise's sd
  // headline_noise x the ticker's daily return sd; a third of them are neutral wording. Days whose trade
  // has no known exit get none. headline_strength 0: tone independent of every return (the control).
  double headline_rate = 0.0;
  double headline_noise = 1.0;
  double headline_strength = 1.0;
  Execution headline_execution = Execution::next_open;
};

struct SyntheticTicker {
  std::string symbol;     // 3-4 uppercase letters
  std::string name;       // "<SYMBOL> Corp"
  int sector = 0;         // index into kGicsSectors
  double market_cap = 0;  // on the last day of the ticker's life
  double beta = 1;        // loading on the market factor
  double sector_loading = 1;
  double volatility = 0;       // nominal daily volatility sigma_i (standardises the planted signal)
  std::int64_t first_day = 0;  // index into SyntheticUniverse::dates, inclusive
  std::int64_t last_day = 0;   // inclusive
  // One entry per day of life: element k is day first_day + k.
  std::vector<double> open, high, low, close;
  std::vector<std::int64_t> volume;

  std::int64_t rows() const { return last_day - first_day + 1; }
  bool alive(std::int64_t day) const { return day >= first_day && day <= last_day; }
};

struct SyntheticIndex {
  std::vector<double> open, high, low, close;  // [days]
  std::vector<std::int64_t> volume;
};

struct SyntheticHeadline {
  std::int64_t day = 0;  // index into SyntheticUniverse::dates
  std::string ticker, text;
};

struct SyntheticUniverse {
  SyntheticUniverseOptions options;
  std::vector<std::string> dates;            // [days], "YYYY-MM-DD"
  std::vector<MarketRegime> regimes;         // [days], the true market regime
  std::vector<SyntheticTicker> tickers;      // sorted by symbol
  SyntheticIndex index;                      // cap-weighted index of the universe
  std::vector<SyntheticHeadline> headlines;  // by ticker, then day (options.headline_rate)
};

SyntheticUniverse make_synthetic_universe(const SyntheticUniverseOptions& options = {});

// The planted signal s_{i,t} of every row of a ticker (0 for the first five rows), as defined above.
std::vector<double> momentum_signal(const SyntheticTicker& ticker);

// The oracle of the planted component: at each day t of a ticker's series on a calendar (close and
// listed [days]), the sign of the planted component's conditional mean of the next_open (or close)
// traded return of a decision at t's close, i.e. of s_{i,t}: +1 when close[t] > close[t-5], -1 when
// below, 0 where the component is not defined (t or t-5 not listed: the first five rows of a listing)
// or the closes are equal. It needs no generator state: the closes of the store will do.
std::vector<std::int8_t> planted_direction(std::span<const double> close,
                                           std::span<const std::uint8_t> listed);

// The oracle's direction accuracy on labelled decisions of a universe (e.g. a study's test
// predictions): ticker and day index the universe, label is 1 where the traded return is positive, 0
// where not, NaN where unknown (not scored). Decisions without a planted direction are not scored.
struct OracleScore {
  double accuracy = 0;  // NaN when no decision was scored
  std::int64_t scored = 0;
};
OracleScore planted_oracle_accuracy(const Universe& universe, std::span<const std::int32_t> ticker,
                                    std::span<const std::int32_t> day, std::span<const double> label);

// Writes the folder layout read by the ingestion step (creating the folder), like the real data set
// (a folder of price files with the constituents table and the index beside it):
//   <dir>/prices/<SYMBOL>_data.csv   date,open,high,low,close,volume,Name   (Kaggle all_stocks_5yr layout)
//   <dir>/constituents.csv    Symbol,Name,Sector,Market Cap
//   <dir>/index.csv           Date,Open,High,Low,Close,Adj Close,Volume   (Yahoo layout)
//   <dir>/regimes.csv         date,regime
//   <dir>/headlines.csv       date,ticker,text   (only with headlines; the input of
//                             predict_stock_movement --headlines)
// Prices carry 4 decimals, volumes and market caps are integers. Each file is written to <file>.tmp and
// renamed, so a reader never sees half a file. Files of other tickers already in the folder are left
// alone (see stale_ticker_files).
void write_synthetic_universe(const SyntheticUniverse& universe, const std::filesystem::path& dir);

// <SYMBOL>_data.csv files in dir/prices that do not belong to the universe (left over from an earlier run);
// an ingestion step reading the folder would otherwise pick them up.
std::vector<std::filesystem::path> stale_ticker_files(const SyntheticUniverse& universe,
                                                      const std::filesystem::path& dir);

}  // namespace qf::data
