#include "qf/data/synthetic_universe.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <limits>
#include <numeric>
#include <set>
#include <stdexcept>
#include <system_error>

#include "qf/core/require.h"
#include "qf/data/store.h"
#include "qf/tensor/random.h"

namespace qf::data {

namespace {

// ---- model constants (the header documents the model) ------------------------------------------------

constexpr double kMarketVolatility = 0.011;  // daily, before the regime multiplier
// The drift of the pure random walk: the regime chain's long-run average, so that the two modes give
// markets of about the same growth.
constexpr double kPureRandomWalkDrift = 0.00027;

struct RegimeModel {
  double drift;
  double volatility_multiplier;
  double expected_days;
  std::array<double, 4> leave_to;  // where the chain goes when it leaves (calm, bull, bear, crisis)
};
// Crises mostly follow bear markets and end in a bear market or a recovery; bull markets mostly cool
// into calm ones.
constexpr std::array<RegimeModel, 4> kRegimeModels = {{
    {0.0005, 0.75, 120, {0.00, 0.60, 0.30, 0.10}},
    {0.0010, 0.85, 160, {0.55, 0.00, 0.35, 0.10}},
    {-0.0010, 1.30, 70, {0.35, 0.15, 0.00, 0.50}},
    {-0.0040, 2.60, 20, {0.40, 0.20, 0.40, 0.00}},
}};

struct SectorModel {
  double weight;      // relative size (S&P 500 counts of 2018)
  double beta_mean;   // defensive sectors move less with the market
  double factor_vol;  // daily volatility of the sector factor
};
constexpr std::array<SectorModel, 11> kSectorModels = {{
    {70, 1.15, 0.0070},  // Information Technology
    {61, 0.90, 0.0060},  // Health Care
    {68, 1.10, 0.0070},  // Financials
    {84, 1.05, 0.0055},  // Consumer Discretionary
    {67, 1.05, 0.0050},  // Industrials
    {34, 0.70, 0.0050},  // Consumer Staples
    {32, 1.10, 0.0090},  // Energy
    {28, 0.55, 0.0055},  // Utilities
    {33, 0.80, 0.0065},  // Real Estate
    {25, 1.05, 0.0065},  // Materials
    {4, 0.75, 0.0060},   // Telecommunication Services
}};

constexpr double kOvernightShare = 0.25;  // of a day's return variance
constexpr int kMomentumDays = 5;

// Independent random streams, so that e.g. the regime path does not change with the number of tickers.
enum Stream : std::uint64_t {
  kNamesStream = 1,
  kSectorsStream = 2,
  kLivesStream = 3,
  kRegimeStream = 4,
  kMarketStream = 5,
  kIndexStream = 6,
  kHeadlineStream = 7,
  kSectorFactorStream = 100,  // + sector
  kTickerStream = 1'000'000,  // + ticker index
};

// Unit-mean GARCH(1,1) variance: h_{t+1} = (1 - a - b) + a z_t^2 h_t + b h_t for standardised shocks z_t.
struct UnitGarch {
  double alpha;
  double beta;
  double variance = 1.0;
  double sd() const { return std::sqrt(variance); }
  void update(double z) { variance = (1.0 - alpha - beta) + alpha * z * z * variance + beta * variance; }
};

std::int64_t uniform_index(Rng& rng, std::int64_t n) {
  const auto k = static_cast<std::int64_t>(rng.uniform() * static_cast<double>(n));
  return std::min(k, n - 1);
}
std::int64_t uniform_between(Rng& rng, std::int64_t low, std::int64_t high) {  // [low, high)
  return high <= low ? low : low + uniform_index(rng, high - low);
}
template <class T>
void portable_shuffle(std::vector<T>& values, Rng& rng) {  // Fisher-Yates, portable (std::shuffle is not)
  for (std::size_t i = values.size(); i > 1; --i)
    std::swap(values[i - 1],
              values[static_cast<std::size_t>(uniform_index(rng, static_cast<std::int64_t>(i)))]);
}

// ---- dates --------------------------------------------------------------------------------------------

std::chrono::sys_days parse_start_date(const std::string& text) {
  int year = 0;
  unsigned month = 0, day = 0;
  char extra = 0;
  const bool shaped =
      text.size() == 10 && text[4] == '-' && text[7] == '-' &&
      std::all_of(text.begin(), text.end(), [](char c) { return c == '-' || (c >= '0' && c <= '9'); });
  QF_REQUIRE(shaped && std::sscanf(text.c_str(), "%4d-%2u-%2u%c", &year, &month, &day, &extra) == 3,
             "synthetic universe", "start date", text, "is not YYYY-MM-DD");
  const std::chrono::year_month_day date{std::chrono::year{year}, std::chrono::month{month},
                                         std::chrono::day{day}};
  QF_REQUIRE(date.ok(), "synthetic universe", "start date", text, "is no such date");
  return std::chrono::sys_days{date};
}

bool is_weekend(std::chrono::sys_days date) {
  const auto weekday = std::chrono::weekday{date};
  return weekday == std::chrono::Saturday || weekday == std::chrono::Sunday;
}

std::string format_iso_date(std::chrono::sys_days date) {
  const std::chrono::year_month_day ymd{date};
  char text[16];
  std::snprintf(text, sizeof text, "%04d-%02u-%02u", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()));
  return text;
}

std::vector<std::string> business_days(const std::string& start, std::int64_t count) {
  auto date = parse_start_date(start);
  std::vector<std::string> dates;
  dates.reserve(static_cast<std::size_t>(count));
  while (static_cast<std::int64_t>(dates.size()) < count) {
    if (!is_weekend(date)) dates.push_back(format_iso_date(date));
    date += std::chrono::days{1};
  }
  return dates;
}

// ---- universe structure -------------------------------------------------------------------------------

void validate(const SyntheticUniverseOptions& o) {
  constexpr const char* kWho = "synthetic universe";
  QF_REQUIRE(o.tickers >= 1 && o.tickers <= 100'000, kWho, "tickers", o.tickers, "must be in [1, 100000]");
  QF_REQUIRE(o.days >= 2 && o.days <= 200'000, kWho, "days", o.days, "must be in [2, 200000]");
  QF_REQUIRE(o.median_market_cap > 0, kWho, "median_market_cap", o.median_market_cap, "must be positive");
  QF_REQUIRE(o.market_cap_log_sd >= 0, kWho, "market_cap_log_sd", o.market_cap_log_sd, "must be >= 0");
  QF_REQUIRE(o.ipo_share >= 0, kWho, "ipo_share", o.ipo_share, "must be >= 0");
  QF_REQUIRE(o.delisting_share >= 0, kWho, "delisting_share", o.delisting_share, "must be >= 0");
  QF_REQUIRE(o.ipo_share + o.delisting_share <= 1, kWho, "ipo_share + delisting_share",
             o.ipo_share + o.delisting_share, "must be <= 1");
  QF_REQUIRE(o.predictability >= 0 && o.predictability <= 0.4, kWho, "predictability", o.predictability,
             "must be in [0, 0.4] (larger values make the planted recursion explode)");
  QF_REQUIRE(std::abs(o.lag2_predictability) <= 0.5, kWho, "lag2_predictability", o.lag2_predictability,
             "must be in [-0.5, 0.5]");
  QF_REQUIRE(o.index_base > 0, kWho, "index_base", o.index_base, "must be positive");
  QF_REQUIRE(o.headline_rate >= 0 && o.headline_rate <= 1, kWho, "headline_rate", o.headline_rate,
             "must be in [0, 1]");
  QF_REQUIRE(o.headline_noise >= 0, kWho, "headline_noise", o.headline_noise, "must be >= 0");
}

// Headlines whose tone follows the traded return of their day plus noise (SyntheticUniverseOptions).
std::vector<SyntheticHeadline> make_headlines(const SyntheticUniverse& u, Rng rng) {
  static constexpr const char* kPositive[] = {
      "{} shares jump after strong quarterly profit", "{} beats estimates and raises guidance",
      "Analysts upgrade {} on robust growth", "{} soars on record sales"};
  static constexpr const char* kNegative[] = {
      "{} shares fall after weak results", "{} misses estimates, cuts guidance",
      "Analysts downgrade {} amid slowing demand", "{} plunges on profit warning"};
  static constexpr const char* kNeutral[] = {"{} to present at industry conference",
                                             "{} names new board member", "{} schedules earnings call"};
  auto fill = [](const char* pattern, const std::string& ticker) {
    std::string s = pattern;
    s.replace(s.find("{}"), 2, ticker);
    return s;
  };
  std::vector<SyntheticHeadline> out;
  for (const SyntheticTicker& t : u.tickers) {
    const std::size_t n = t.close.size();
    double sum2 = 0;  // the ticker's daily return sd, for the noise scale
    for (std::size_t k = 1; k < n; ++k) sum2 += std::pow(t.close[k] / t.close[k - 1] - 1, 2);
    const double sd = n > 1 ? std::sqrt(sum2 / static_cast<double>(n - 1)) : 0.02;
    const std::vector<std::uint8_t> listed(n, 1);  // the ticker's own rows: its life
    const std::vector<double> traded =
        traded_return_series(t.open, t.close, listed, {u.options.headline_execution, 1});
    for (std::size_t k = 0; k + 1 < n; ++k) {
      if (rng.uniform() >= u.options.headline_rate) continue;
      const auto pick = static_cast<std::size_t>(rng.next_u64() % 4);
      const bool neutral = rng.uniform() < 1.0 / 3;
      const double noise = u.options.headline_noise * sd * rng.normal();
      if (!std::isfinite(traded[k])) continue;  // the trade of this day has no known exit
      const double tone = u.options.headline_strength * traded[k] + noise;
      out.push_back(
          {t.first_day + static_cast<std::int64_t>(k), t.symbol,
           fill(neutral ? kNeutral[pick % 3] : (tone > 0 ? kPositive[pick] : kNegative[pick]), t.symbol)});
    }
  }
  return out;
}

// Names a reader could take for something else: Windows device names (a file CON_data.csv cannot be
// created there) and words that CSV and number parsers read as missing values or numbers.
bool reserved_symbol(const std::string& symbol) {
  static const std::set<std::string> reserved = {"AUX", "CON",  "NUL",  "PRN", "NAN",
                                                 "INF", "NULL", "NONE", "TRUE"};
  return reserved.contains(symbol);
}

std::vector<std::string> make_symbols(std::int64_t count, Rng rng) {
  std::set<std::string> symbols;
  while (static_cast<std::int64_t>(symbols.size()) < count) {
    const std::size_t length = rng.uniform() < 0.4 ? 3 : 4;
    std::string symbol(length, 'A');
    for (char& c : symbol) c = static_cast<char>('A' + uniform_index(rng, 26));
    if (!reserved_symbol(symbol)) symbols.insert(symbol);
  }
  return {symbols.begin(), symbols.end()};  // sorted, like a constituents list
}

// Sector of each ticker: sizes in proportion to the sector weights (largest remainder, at least one
// ticker per sector when there are enough tickers), then shuffled over the tickers.
std::vector<int> assign_sectors(std::int64_t tickers, Rng rng) {
  const int sectors = static_cast<int>(kSectorModels.size());
  const bool every_sector = tickers >= sectors;
  const std::int64_t free = tickers - (every_sector ? sectors : 0);
  double total_weight = 0;
  for (const auto& s : kSectorModels) total_weight += s.weight;
  std::vector<std::int64_t> size(kSectorModels.size());
  std::vector<std::pair<double, int>> remainders;
  std::int64_t assigned = 0;
  for (int s = 0; s < sectors; ++s) {
    const double exact =
        static_cast<double>(free) * kSectorModels[static_cast<std::size_t>(s)].weight / total_weight;
    size[static_cast<std::size_t>(s)] = static_cast<std::int64_t>(exact) + (every_sector ? 1 : 0);
    assigned += size[static_cast<std::size_t>(s)];
    remainders.emplace_back(exact - std::floor(exact), s);
  }
  std::stable_sort(remainders.begin(), remainders.end(), [](auto& a, auto& b) { return a.first > b.first; });
  for (std::size_t k = 0; assigned < tickers; ++k, ++assigned)
    ++size[static_cast<std::size_t>(remainders[k].second)];
  std::vector<int> sector_of;
  sector_of.reserve(static_cast<std::size_t>(tickers));
  for (int s = 0; s < sectors; ++s)
    sector_of.insert(sector_of.end(), static_cast<std::size_t>(size[static_cast<std::size_t>(s)]), s);
  portable_shuffle(sector_of, rng);
  return sector_of;
}

struct Life {
  std::int64_t first_day, last_day;
};

// Disjoint sets of late starters and early leavers, with fixed counts so that the shares are exact.
std::vector<Life> assign_lives(const SyntheticUniverseOptions& o, Rng rng) {
  const std::int64_t n = o.tickers, days = o.days;
  const auto ipos = std::llround(o.ipo_share * static_cast<double>(n));
  const auto delistings =
      std::min<std::int64_t>(std::llround(o.delisting_share * static_cast<double>(n)), n - ipos);
  std::vector<std::int64_t> order(static_cast<std::size_t>(n));
  std::iota(order.begin(), order.end(), std::int64_t{0});
  portable_shuffle(order, rng);
  std::vector<Life> lives(static_cast<std::size_t>(n), Life{0, days - 1});
  for (std::int64_t k = 0; k < ipos; ++k) {
    const std::int64_t low = std::max<std::int64_t>(1, days / 20);
    lives[static_cast<std::size_t>(order[static_cast<std::size_t>(k)])].first_day =
        std::min(uniform_between(rng, low, 3 * days / 4), days - 1);
  }
  for (std::int64_t k = ipos; k < ipos + delistings; ++k)
    lives[static_cast<std::size_t>(order[static_cast<std::size_t>(k)])].last_day =
        uniform_between(rng, days / 4, days - 1);
  return lives;
}

// ---- market and sector factors ------------------------------------------------------------------------

struct Factors {
  std::vector<MarketRegime> regimes;
  std::vector<double> volatility_multiplier;                  // v_t
  std::vector<double> market_return, market_sd;               // m_t and its conditional sd (without jumps)
  std::vector<std::vector<double>> sector_return, sector_sd;  // [sector][day]
};

std::vector<MarketRegime> regime_path(std::int64_t days, Rng rng) {
  std::vector<MarketRegime> path(static_cast<std::size_t>(days), MarketRegime::calm);
  for (std::size_t t = 1; t < path.size(); ++t) {
    const auto from = static_cast<std::size_t>(path[t - 1]);
    const RegimeModel& model = kRegimeModels[from];
    path[t] = path[t - 1];
    if (rng.uniform() >= 1.0 / model.expected_days) continue;
    double pick = rng.uniform(), cumulative = 0;
    for (std::size_t to = 0; to < kMarketRegimes.size(); ++to) {
      cumulative += model.leave_to[to];
      if (pick < cumulative) {
        path[t] = kMarketRegimes[to];
        break;
      }
    }
  }
  return path;
}

Factors make_factors(const SyntheticUniverseOptions& o, const Rng& root) {
  const auto days = static_cast<std::size_t>(o.days);
  const bool pure = o.pure_random_walk;
  Factors f;
  f.regimes = pure ? std::vector<MarketRegime>(days, MarketRegime::calm)
                   : regime_path(o.days, root.split(kRegimeStream));
  f.volatility_multiplier.resize(days);
  f.market_return.resize(days);
  f.market_sd.resize(days);
  Rng rng = root.split(kMarketStream);
  UnitGarch garch{0.08, 0.90};
  for (std::size_t t = 0; t < days; ++t) {
    const RegimeModel& regime = kRegimeModels[static_cast<std::size_t>(f.regimes[t])];
    const double v = pure ? 1.0 : regime.volatility_multiplier;
    const double drift = pure ? kPureRandomWalkDrift : regime.drift;
    const double sd = kMarketVolatility * v * garch.sd();
    const double z = rng.normal();
    double jump = 0;
    if (!pure) {
      const double jump_probability = f.regimes[t] == MarketRegime::crisis ? 0.008 : 0.002;
      if (rng.uniform() < jump_probability) {
        const double size = std::min(0.25, 0.03 * std::exp(0.4 * rng.normal()));
        jump = rng.uniform() < 0.7 ? -size : size;
      }
      garch.update(z);
    }
    f.volatility_multiplier[t] = v;
    f.market_return[t] = drift + sd * z + jump;
    f.market_sd[t] = sd;
  }
  f.sector_return.assign(kSectorModels.size(), std::vector<double>(days));
  f.sector_sd.assign(kSectorModels.size(), std::vector<double>(days));
  for (std::size_t s = 0; s < kSectorModels.size(); ++s) {
    Rng sector_rng = root.split(kSectorFactorStream + s);
    UnitGarch sector_garch{0.06, 0.91};
    for (std::size_t t = 0; t < days; ++t) {
      const double sd =
          kSectorModels[s].factor_vol * std::sqrt(f.volatility_multiplier[t]) * sector_garch.sd();
      const double z = sector_rng.normal();
      f.sector_return[s][t] = sd * z;
      f.sector_sd[s][t] = sd;
      if (!pure) sector_garch.update(z);
    }
  }
  return f;
}

// Log offsets from the open of the maximum and minimum of a Brownian bridge from 0 to `intraday` with
// total variance `variance`, drawn by inversion from two uniforms in [0, 1). They bracket [0, intraday].
std::pair<double, double> bridge_extremes(double intraday, double variance, double up_draw,
                                          double down_draw) {
  const double up = std::sqrt(intraday * intraday - 2 * variance * std::log(1.0 - up_draw));
  const double down = std::sqrt(intraday * intraday - 2 * variance * std::log(1.0 - down_draw));
  return {0.5 * (intraday + up), 0.5 * (intraday - down)};
}

// ---- one ticker ---------------------------------------------------------------------------------------

// Draws the ticker's attributes and its OHLCV path over its life.
void make_ticker(SyntheticTicker& ticker, const SyntheticUniverseOptions& o, const Factors& f, Rng rng) {
  const bool pure = o.pure_random_walk;
  const auto sector = static_cast<std::size_t>(ticker.sector);
  const SectorModel& sector_model = kSectorModels[sector];

  ticker.market_cap = o.median_market_cap * std::exp(o.market_cap_log_sd * rng.normal());
  const double relative_size = ticker.market_cap / o.median_market_cap;
  ticker.beta = std::clamp(sector_model.beta_mean + 0.25 * rng.normal(), 0.1, 2.5);
  ticker.sector_loading = std::clamp(1.0 + 0.25 * rng.normal(), 0.2, 2.0);
  const double idiosyncratic_vol = 0.015 * std::pow(relative_size, -0.15) * std::exp(0.2 * rng.normal());
  const double alpha = 0.0001 * rng.normal();
  const double jump_probability = std::clamp(0.003 * std::pow(relative_size, -0.25), 0.0005, 0.02);
  const double turnover = 0.006 * std::pow(relative_size, -0.15) * std::exp(0.3 * rng.normal());
  const double offer_price = 40.0 * std::exp(0.7 * rng.normal());
  ticker.volatility = std::sqrt(ticker.beta * ticker.beta * kMarketVolatility * kMarketVolatility +
                                ticker.sector_loading * ticker.sector_loading * sector_model.factor_vol *
                                    sector_model.factor_vol +
                                idiosyncratic_vol * idiosyncratic_vol);
  const double sigma = ticker.volatility;

  const auto rows = static_cast<std::size_t>(ticker.rows());
  ticker.open.resize(rows);
  ticker.high.resize(rows);
  ticker.low.resize(rows);
  ticker.close.resize(rows);
  ticker.volume.resize(rows);
  std::vector<double> volume_multiplier(rows);

  UnitGarch garch{0.05, 0.92};
  std::array<double, kMomentumDays> recent{};  // ring of the last realised returns
  double recent_sum = 0, volume_persistent = 0, previous_close = offer_price;
  const double sqrt_days = std::sqrt(static_cast<double>(kMomentumDays));
  for (std::size_t k = 0; k < rows; ++k) {
    const auto t = static_cast<std::size_t>(ticker.first_day) + k;
    const double v = f.volatility_multiplier[t];
    const double residual_sd = idiosyncratic_vol * (1.0 + 0.5 * (v - 1.0)) * garch.sd();
    const double z = rng.normal();
    double jump = 0;
    if (!pure) {
      const double probability =
          f.regimes[t] == MarketRegime::crisis ? 2 * jump_probability : jump_probability;
      if (rng.uniform() < probability) {
        const double size = std::min(0.5, 0.05 * std::exp(0.6 * rng.normal()));
        jump = rng.uniform() < 0.55 ? -size : size;
      }
      garch.update(z);
    }
    // The planted term of day t uses s at t-1, i.e. the returns of rows k-5 .. k-1 (row 0 has none).
    const bool have_signal = k >= kMomentumDays + 1;
    const double signal = have_signal ? recent_sum / (sqrt_days * sigma) : 0.0;
    // The planted lag-2 term: the realised return of row k-2 (rows 1 on hold one; the ring keeps 5).
    const double lag2 = k >= 3 ? recent[(k - 2) % kMomentumDays] : 0.0;
    const double natural = alpha + ticker.beta * f.market_return[t] +
                           ticker.sector_loading * f.sector_return[sector][t] + residual_sd * z + jump +
                           o.lag2_predictability * lag2;
    // The planted momentum term moves the stock during the trading day only (after the open), so that
    // the next_open trade of the day before, open[t] -> open[t+1], earns all of it.
    const double planted = o.predictability * sigma * signal;
    const double r = natural + planted;

    // OHLC: split the natural return like a Brownian path (overnight share first; the planted term is
    // intraday), then draw the intraday extremes of a Brownian bridge from open to close.
    const double market_part = ticker.beta * f.market_sd[t],
                 sector_part = ticker.sector_loading * f.sector_sd[sector][t];
    const double day_variance =
        market_part * market_part + sector_part * sector_part + residual_sd * residual_sd;
    const double gap = kOvernightShare * natural +
                       std::sqrt(kOvernightShare * (1 - kOvernightShare) * day_variance) * rng.normal();
    const double intraday = r - gap, intraday_variance = (1 - kOvernightShare) * day_variance;
    const double up_draw = rng.uniform(), down_draw = rng.uniform();
    const auto [up, down] = bridge_extremes(intraday, intraday_variance, up_draw, down_draw);
    const double open = previous_close * std::exp(gap);
    const double close = previous_close * std::exp(r);
    ticker.open[k] = open;
    ticker.close[k] = close;
    // max/min guard against the last-bit difference between open * exp(intraday) and close.
    ticker.high[k] = std::max({open * std::exp(up), open, close});
    ticker.low[k] = std::min({open * std::exp(down), open, close});

    if (!pure) volume_persistent = 0.9 * volume_persistent + 0.15 * rng.normal();
    volume_multiplier[k] =
        std::exp(volume_persistent + 0.25 * rng.normal()) * (0.6 + 0.5 * std::abs(r) / sigma);

    if (k >= 1) {  // a realised close-to-close return: feed the momentum window
      const std::size_t slot = k % kMomentumDays;
      recent_sum += r - recent[slot];
      recent[slot] = r;
    }
    previous_close = close;
  }
  const double shares = ticker.market_cap / ticker.close.back();
  for (std::size_t k = 0; k < rows; ++k)
    ticker.volume[k] = std::max<std::int64_t>(1, std::llround(shares * turnover * volume_multiplier[k]));
}

// ---- cap-weighted index -------------------------------------------------------------------------------

// The index's high and low come from its own Brownian bridge: averaging the members' highs would
// overstate the range, since members peak at different times of the day.
SyntheticIndex make_index(const SyntheticUniverse& u, const Factors& f, Rng rng) {
  const auto days = static_cast<std::size_t>(u.options.days);
  std::vector<double> shares;
  for (const auto& t : u.tickers) shares.push_back(t.market_cap / t.close.back());
  SyntheticIndex index;
  index.open.resize(days);
  index.high.resize(days);
  index.low.resize(days);
  index.close.resize(days);
  index.volume.resize(days);
  double level = u.options.index_base;
  std::array<double, kSectorModels.size()> sector_loading{};
  for (std::size_t day = 0; day < days; ++day) {
    const auto d = static_cast<std::int64_t>(day);
    // Members: alive yesterday and today (on the first day: alive today, relative to today's close).
    double weight = 0, open = 0, close = 0, market_loading = 0;
    sector_loading.fill(0.0);
    std::int64_t volume = 0;
    for (std::size_t i = 0; i < u.tickers.size(); ++i) {
      const SyntheticTicker& t = u.tickers[i];
      if (!t.alive(d) || (day > 0 && !t.alive(d - 1))) continue;
      const auto k = static_cast<std::size_t>(d - t.first_day);
      const double reference = day > 0 ? t.close[k - 1] : t.close[k];
      const double cap = shares[i] * reference;
      weight += cap;
      open += cap * t.open[k] / reference;
      close += cap * t.close[k] / reference;
      market_loading += cap * t.beta;
      sector_loading[static_cast<std::size_t>(t.sector)] += cap * t.sector_loading;
      volume += t.volume[k];
    }
    const double up_draw = rng.uniform(),
                 down_draw = rng.uniform();  // every day, so the stream stays aligned
    index.volume[day] = volume;
    if (weight == 0) {
      index.open[day] = index.high[day] = index.low[day] = index.close[day] = level;
      continue;
    }
    const double base = level;
    if (day > 0) level = base * close / weight;
    const double index_open = base * open / weight;
    // Factor variance of the index (the members' residuals diversify away).
    double variance = std::pow(market_loading / weight * f.market_sd[day], 2);
    for (std::size_t s = 0; s < sector_loading.size(); ++s)
      variance += std::pow(sector_loading[s] / weight * f.sector_sd[s][day], 2);
    const double intraday = std::log(level / index_open);
    const auto [up, down] = bridge_extremes(intraday, (1 - kOvernightShare) * variance, up_draw, down_draw);
    index.open[day] = index_open;
    index.close[day] = level;
    index.high[day] = std::max({index_open * std::exp(up), index_open, level});
    index.low[day] = std::min({index_open * std::exp(down), index_open, level});
  }
  return index;
}

// ---- CSV writing --------------------------------------------------------------------------------------

void append_integer(std::string& out, std::int64_t value) {
  char text[24];
  const auto result = std::to_chars(text, text + sizeof text, value);
  out.append(text, result.ptr);
}

// Fixed 4 decimals with integer arithmetic: fast, and the same digits on every platform.
void append_fixed4(std::string& out, double value) {
  std::int64_t units = std::llround(value * 10000.0);
  if (units < 0) {
    out.push_back('-');
    units = -units;
  }
  append_integer(out, units / 10000);
  const auto fraction = static_cast<int>(units % 10000);
  const char digits[4] = {
      static_cast<char>('0' + fraction / 1000), static_cast<char>('0' + fraction / 100 % 10),
      static_cast<char>('0' + fraction / 10 % 10), static_cast<char>('0' + fraction % 10)};
  out.push_back('.');
  out.append(digits, 4);
}

constexpr std::string_view kDataSuffix = "_data.csv";
// Price files get a folder of their own so that the ingestion step can read every CSV in it.
constexpr const char* kPricesFolder = "prices";

}  // namespace

std::string_view regime_name(MarketRegime regime) {
  switch (regime) {
    case MarketRegime::calm:
      return "calm";
    case MarketRegime::bull:
      return "bull";
    case MarketRegime::bear:
      return "bear";
    case MarketRegime::crisis:
      return "crisis";
  }
  return "unknown";
}

SyntheticUniverse make_synthetic_universe(const SyntheticUniverseOptions& options) {
  validate(options);
  const Rng root(options.seed);
  SyntheticUniverse u;
  u.options = options;
  u.dates = business_days(options.start_date, options.days);
  const Factors factors = make_factors(options, root);
  u.regimes = factors.regimes;

  const auto symbols = make_symbols(options.tickers, root.split(kNamesStream));
  const auto sectors = assign_sectors(options.tickers, root.split(kSectorsStream));
  const auto lives = assign_lives(options, root.split(kLivesStream));
  u.tickers.resize(symbols.size());
  for (std::size_t i = 0; i < symbols.size(); ++i) {
    SyntheticTicker& t = u.tickers[i];
    t.symbol = symbols[i];
    t.name = symbols[i] + " Corp";
    t.sector = sectors[i];
    t.first_day = lives[i].first_day;
    t.last_day = lives[i].last_day;
    make_ticker(t, options, factors, root.split(kTickerStream + i));
  }
  u.index = make_index(u, factors, root.split(kIndexStream));
  if (options.headline_rate > 0) u.headlines = make_headlines(u, root.split(kHeadlineStream));
  return u;
}

std::vector<double> momentum_signal(const SyntheticTicker& ticker) {
  const std::size_t rows = ticker.close.size();
  std::vector<double> signal(rows, 0.0);
  const double scale = std::sqrt(static_cast<double>(kMomentumDays)) * ticker.volatility;
  for (std::size_t k = kMomentumDays; k < rows; ++k)
    signal[k] = std::log(ticker.close[k] / ticker.close[k - kMomentumDays]) / scale;
  return signal;
}

namespace {
// The planted direction of day t of ticker i (see planted_direction): a cell read from the
// [days x tickers] panels, or from one series (tickers = 1).
std::int8_t planted_direction_at(std::span<const double> close, std::span<const std::uint8_t> listed,
                                 std::int64_t tickers, std::int64_t i, std::int64_t t) {
  if (t < kMomentumDays) return 0;
  const auto now = static_cast<std::size_t>(t * tickers + i),
             then = static_cast<std::size_t>((t - kMomentumDays) * tickers + i);
  if (!listed[now] || !listed[then] || !(close[now] > 0) || !(close[then] > 0)) return 0;
  return close[now] > close[then] ? 1 : close[now] < close[then] ? -1 : 0;
}
}  // namespace

std::vector<std::int8_t> planted_direction(std::span<const double> close,
                                           std::span<const std::uint8_t> listed) {
  if (close.size() != listed.size())
    throw std::invalid_argument("planted_direction: close and listed differ in length");
  std::vector<std::int8_t> out(close.size());
  for (std::size_t t = 0; t < close.size(); ++t)
    out[t] = planted_direction_at(close, listed, 1, 0, static_cast<std::int64_t>(t));
  return out;
}

OracleScore planted_oracle_accuracy(const Universe& u, std::span<const std::int32_t> ticker,
                                    std::span<const std::int32_t> day, std::span<const double> label) {
  if (ticker.size() != day.size() || day.size() != label.size())
    throw std::invalid_argument("planted_oracle_accuracy: ticker, day and label differ in length");
  const std::span<const double> close(u.close.data<double>(), static_cast<std::size_t>(u.close.numel()));
  std::int64_t hits = 0, scored = 0;
  for (std::size_t k = 0; k < day.size(); ++k) {
    if (ticker[k] < 0 || ticker[k] >= u.ticker_count() || day[k] < 0 || day[k] >= u.day_count())
      throw std::invalid_argument("planted_oracle_accuracy: decision " + std::to_string(k) + " (ticker " +
                                  std::to_string(ticker[k]) + ", day " + std::to_string(day[k]) +
                                  ") is outside the universe");
    if (!std::isfinite(label[k])) continue;
    const std::int8_t call = planted_direction_at(close, u.listed, u.ticker_count(), ticker[k], day[k]);
    if (call == 0) continue;
    ++scored;
    hits += (call > 0) == (label[k] > 0.5) ? 1 : 0;
  }
  return {scored > 0 ? static_cast<double>(hits) / static_cast<double>(scored)
                     : std::numeric_limits<double>::quiet_NaN(),
          scored};
}

void write_synthetic_universe(const SyntheticUniverse& u, const std::filesystem::path& dir) {
  std::filesystem::create_directories(dir / kPricesFolder);
  std::string out;
  for (const SyntheticTicker& t : u.tickers) {
    out.clear();
    out.reserve(static_cast<std::size_t>(t.rows()) * 64 + 64);
    out += "date,open,high,low,close,volume,Name\n";
    for (std::size_t k = 0; k < t.close.size(); ++k) {
      out += u.dates[static_cast<std::size_t>(t.first_day) + k];
      for (double price : {t.open[k], t.high[k], t.low[k], t.close[k]}) {
        out.push_back(',');
        append_fixed4(out, price);
      }
      out.push_back(',');
      append_integer(out, t.volume[k]);
      out.push_back(',');
      out += t.symbol;
      out.push_back('\n');
    }
    write_text_atomically(dir / kPricesFolder / (t.symbol + std::string(kDataSuffix)), out);
  }

  out.clear();
  out += "Date,Open,High,Low,Close,Adj Close,Volume\n";
  for (std::size_t day = 0; day < u.dates.size(); ++day) {
    out += u.dates[day];
    const SyntheticIndex& x = u.index;
    for (double value : {x.open[day], x.high[day], x.low[day], x.close[day], x.close[day]}) {
      out.push_back(',');
      append_fixed4(out, value);
    }
    out.push_back(',');
    append_integer(out, x.volume[day]);
    out.push_back('\n');
  }
  write_text_atomically(dir / "index.csv", out);

  out.clear();
  out += "date,regime\n";
  for (std::size_t day = 0; day < u.dates.size(); ++day) {
    out += u.dates[day];
    out.push_back(',');
    out += regime_name(u.regimes[day]);
    out.push_back('\n');
  }
  write_text_atomically(dir / "regimes.csv", out);

  if (!u.headlines.empty()) {
    out.clear();
    out += "date,ticker,text\n";
    for (const SyntheticHeadline& h : u.headlines) {
      out += u.dates[static_cast<std::size_t>(h.day)];
      out += ',' + h.ticker + ",\"" + h.text + "\"\n";  // texts have commas, never quotes
    }
    write_text_atomically(dir / "headlines.csv", out);
  }

  // Last, so that a reader who finds the constituents list finds every file it names.
  out.clear();
  out += "Symbol,Name,Sector,Market Cap\n";
  for (const SyntheticTicker& t : u.tickers) {
    out += t.symbol + ',' + t.name + ',';
    out += kGicsSectors[static_cast<std::size_t>(t.sector)];
    out.push_back(',');
    append_integer(out, std::llround(t.market_cap));
    out.push_back('\n');
  }
  write_text_atomically(dir / "constituents.csv", out);
}

std::vector<std::filesystem::path> stale_ticker_files(const SyntheticUniverse& u,
                                                      const std::filesystem::path& dir) {
  std::set<std::string> own;
  for (const auto& t : u.tickers) own.insert(t.symbol + std::string(kDataSuffix));
  std::vector<std::filesystem::path> stale;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(dir / kPricesFolder, error)) {
    const std::string name = entry.path().filename().string();
    if (name.size() > kDataSuffix.size() && name.ends_with(kDataSuffix) && !own.contains(name))
      stale.push_back(entry.path());
  }
  std::sort(stale.begin(), stale.end());
  return stale;
}

}  // namespace qf::data
