// The synthetic universe: determinism, shapes, OHLCV consistency, the statistical properties the model
// promises (caps, lives, regimes, volatility clustering, the planted signal, the pure random walk), and
// the CSV folder the ingestion step reads.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "common/temp_path.h"
#include "qf/data/execution.h"
#include "qf/data/prices.h"
#include "qf/data/synthetic_universe.h"

using namespace qf::data;
namespace fs = std::filesystem;

namespace {

SyntheticUniverseOptions small_options(std::uint64_t seed = 11) {
  return {.tickers = 40, .days = 300, .seed = seed};
}

// Close-to-close log returns of a ticker; element k is the return of row k + 1.
std::vector<double> log_returns(const SyntheticTicker& t) {
  std::vector<double> r;
  for (std::size_t k = 1; k < t.close.size(); ++k) r.push_back(std::log(t.close[k] / t.close[k - 1]));
  return r;
}

// Pearson correlation of pooled pairs.
double correlation(const std::vector<double>& x, const std::vector<double>& y) {
  const auto n = static_cast<double>(x.size());
  double mx = 0, my = 0;
  for (std::size_t i = 0; i < x.size(); ++i) mx += x[i], my += y[i];
  mx /= n, my /= n;
  double sxy = 0, sxx = 0, syy = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    sxy += (x[i] - mx) * (y[i] - my);
    sxx += (x[i] - mx) * (x[i] - mx);
    syy += (y[i] - my) * (y[i] - my);
  }
  return sxy / std::sqrt(sxx * syy);
}

// Lag-`lag` autocorrelation pooled over tickers of f(return / sigma_i), each ticker demeaned on its own.
// Standardising by sigma_i keeps volatile tickers from dominating the pool.
template <class F>
double pooled_autocorrelation(const SyntheticUniverse& u, std::size_t lag, F transform) {
  std::vector<double> now, later;
  for (const auto& t : u.tickers) {
    std::vector<double> x;
    for (double r : log_returns(t)) x.push_back(transform(r / t.volatility));
    if (x.size() <= lag) continue;
    double mean = 0;
    for (double v : x) mean += v;
    mean /= static_cast<double>(x.size());
    for (std::size_t k = 0; k + lag < x.size(); ++k) {
      now.push_back(x[k] - mean);
      later.push_back(x[k + lag] - mean);
    }
  }
  return correlation(now, later);
}

double identity(double x) {
  return x;
}
double square(double x) {
  return x * x;
}

std::vector<double> index_returns(const SyntheticUniverse& u) {
  std::vector<double> r(u.index.close.size(), 0.0);
  for (std::size_t d = 1; d < r.size(); ++d) r[d] = std::log(u.index.close[d] / u.index.close[d - 1]);
  return r;
}

// Lag-1 autocorrelation of the squared equal-weighted average of standardised returns: volatility
// clustering of the market as a whole (the cap-weighted index drifts towards a few winners over long
// samples, which changes its variance slowly and would blur this).
double market_squared_autocorrelation(const SyntheticUniverse& u) {
  std::vector<double> total(u.dates.size(), 0.0), count(u.dates.size(), 0.0);
  for (const auto& t : u.tickers)
    for (std::size_t k = 1; k < t.close.size(); ++k) {
      const auto day = static_cast<std::size_t>(t.first_day) + k;
      total[day] += std::log(t.close[k] / t.close[k - 1]) / t.volatility;
      count[day] += 1;
    }
  std::vector<double> now, later;
  for (std::size_t d = 1; d + 1 < total.size(); ++d) {
    if (count[d] == 0 || count[d + 1] == 0) continue;
    now.push_back(std::pow(total[d] / count[d], 2));
    later.push_back(std::pow(total[d + 1] / count[d + 1], 2));
  }
  return correlation(now, later);
}

double standard_deviation(const std::vector<double>& x) {
  double mean = 0, squares = 0;
  for (double v : x) mean += v;
  mean /= static_cast<double>(x.size());
  for (double v : x) squares += (v - mean) * (v - mean);
  return std::sqrt(squares / static_cast<double>(x.size() - 1));
}

std::vector<std::string> split_csv_line(const std::string& line) {
  std::vector<std::string> fields;
  std::stringstream in(line);
  std::string field;
  while (std::getline(in, field, ',')) fields.push_back(field);
  return fields;
}

std::vector<std::string> read_lines(const fs::path& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

std::chrono::sys_days parse_iso(const std::string& text) {
  const std::chrono::year_month_day date{
      std::chrono::year{std::stoi(text.substr(0, 4))},
      std::chrono::month{static_cast<unsigned>(std::stoi(text.substr(5, 2)))},
      std::chrono::day{static_cast<unsigned>(std::stoi(text.substr(8, 2)))}};
  EXPECT_TRUE(date.ok()) << text;
  return std::chrono::sys_days{date};
}

}  // namespace

TEST(SyntheticUniverse, SameSeedSameUniverseOtherSeedOther) {
  const auto a = make_synthetic_universe(small_options(11));
  const auto b = make_synthetic_universe(small_options(11));
  const auto c = make_synthetic_universe(small_options(12));
  ASSERT_EQ(a.tickers.size(), b.tickers.size());
  for (std::size_t i = 0; i < a.tickers.size(); ++i) {
    const auto &x = a.tickers[i], &y = b.tickers[i];
    EXPECT_EQ(x.symbol, y.symbol);
    EXPECT_EQ(x.sector, y.sector);
    EXPECT_EQ(x.market_cap, y.market_cap);
    EXPECT_EQ(x.first_day, y.first_day);
    EXPECT_EQ(x.last_day, y.last_day);
    EXPECT_EQ(x.open, y.open);
    EXPECT_EQ(x.high, y.high);
    EXPECT_EQ(x.low, y.low);
    EXPECT_EQ(x.close, y.close);
    EXPECT_EQ(x.volume, y.volume);
  }
  EXPECT_EQ(a.regimes, b.regimes);
  EXPECT_EQ(a.index.close, b.index.close);
  EXPECT_EQ(a.dates, b.dates);

  std::vector<std::string> symbols_a, symbols_c;
  for (const auto& t : a.tickers) symbols_a.push_back(t.symbol);
  for (const auto& t : c.tickers) symbols_c.push_back(t.symbol);
  EXPECT_NE(symbols_a, symbols_c);
  EXPECT_NE(a.tickers[0].close, c.tickers[0].close);
  EXPECT_NE(a.index.close, c.index.close);
}

TEST(SyntheticUniverse, PinnedDefaultsDoNotDriftUnnoticed) {
  // Symbols, sectors and regimes come from integer and uniform draws only, so they are bit-identical on
  // every platform; a change here means the default dataset changed (update docs and results with it).
  const auto u = make_synthetic_universe({.days = 2520});
  ASSERT_EQ(u.tickers.size(), 518u);
  EXPECT_EQ(u.tickers[0].symbol, "AAL");
  EXPECT_EQ(u.tickers[1].symbol, "AAM");
  EXPECT_EQ(u.tickers[2].symbol, "ABLJ");
  std::map<MarketRegime, int> days_in;
  for (MarketRegime r : u.regimes) ++days_in[r];
  EXPECT_EQ(days_in[MarketRegime::calm], 1239);
  EXPECT_EQ(days_in[MarketRegime::crisis], 87);
}

TEST(SyntheticUniverse, DefaultShapeDatesAndSymbols) {
  const auto u = make_synthetic_universe();
  ASSERT_EQ(u.tickers.size(), 518u);
  ASSERT_EQ(u.dates.size(), 2520u);
  EXPECT_EQ(u.dates.front(), "2010-01-04");
  EXPECT_EQ(u.dates.back(), "2019-08-30");
  EXPECT_EQ(u.regimes.size(), 2520u);
  for (const auto* series : {&u.index.open, &u.index.high, &u.index.low, &u.index.close})
    EXPECT_EQ(series->size(), 2520u);
  EXPECT_EQ(u.index.volume.size(), 2520u);

  // Business days: Monday to Friday, one after another (a weekend is the only gap).
  for (std::size_t d = 0; d < u.dates.size(); ++d) {
    const auto day = parse_iso(u.dates[d]);
    const std::chrono::weekday weekday{day};
    ASSERT_TRUE(weekday != std::chrono::Saturday && weekday != std::chrono::Sunday) << u.dates[d];
    if (d > 0) {
      const auto gap = (day - parse_iso(u.dates[d - 1])).count();
      ASSERT_EQ(gap, weekday == std::chrono::Monday ? 3 : 1) << u.dates[d];
    }
  }

  std::set<std::string> seen;
  for (std::size_t i = 0; i < u.tickers.size(); ++i) {
    const auto& t = u.tickers[i];
    EXPECT_TRUE(t.symbol.size() == 3 || t.symbol.size() == 4) << t.symbol;
    EXPECT_TRUE(std::all_of(t.symbol.begin(), t.symbol.end(), [](char c) { return c >= 'A' && c <= 'Z'; }));
    EXPECT_TRUE(seen.insert(t.symbol).second) << "duplicate " << t.symbol;
    if (i > 0) {
      EXPECT_LT(u.tickers[i - 1].symbol, t.symbol);
    }
    EXPECT_EQ(t.name, t.symbol + " Corp");
    ASSERT_TRUE(t.first_day >= 0 && t.first_day <= t.last_day && t.last_day < 2520) << t.symbol;
    const auto rows = static_cast<std::size_t>(t.rows());
    EXPECT_EQ(t.open.size(), rows);
    EXPECT_EQ(t.high.size(), rows);
    EXPECT_EQ(t.low.size(), rows);
    EXPECT_EQ(t.close.size(), rows);
    EXPECT_EQ(t.volume.size(), rows);
  }
}

TEST(SyntheticUniverse, SymbolsAvoidReservedNames) {
  // Many tickers, so that the three-letter space is crowded and reserved names would be drawn.
  const auto u = make_synthetic_universe({.tickers = 12000, .days = 2});
  std::set<std::string> symbols;
  std::size_t three_letters = 0;
  for (const auto& t : u.tickers) {
    symbols.insert(t.symbol);
    three_letters += t.symbol.size() == 3;
    EXPECT_TRUE(is_safe_ticker(t.symbol)) << t.symbol;  // the ingestion step's rule
  }
  EXPECT_EQ(symbols.size(), 12000u);
  EXPECT_GT(three_letters, 3000u);
  for (const char* reserved : {"CON", "PRN", "AUX", "NUL", "NAN", "INF", "NULL", "NONE", "TRUE"})
    EXPECT_FALSE(symbols.contains(reserved)) << reserved;
}

TEST(SyntheticUniverse, OhlcvConsistentOnEveryRow) {
  const auto u = make_synthetic_universe();
  double gap_size = 0, intraday_size = 0, range = 0;
  std::int64_t rows = 0;
  for (const auto& t : u.tickers) {
    for (std::size_t k = 0; k < t.close.size(); ++k) {
      const double o = t.open[k], h = t.high[k], l = t.low[k], c = t.close[k];
      ASSERT_TRUE(std::isfinite(o) && std::isfinite(h) && std::isfinite(l) && std::isfinite(c)) << t.symbol;
      ASSERT_GE(h, std::max(o, c)) << t.symbol << " row " << k;
      ASSERT_LE(l, std::min(o, c)) << t.symbol << " row " << k;
      ASSERT_GT(l, 0.0) << t.symbol << " row " << k;
      ASSERT_GT(t.volume[k], 0) << t.symbol << " row " << k;
      if (k > 0) {
        const double gap = std::log(o / t.close[k - 1]);
        ASSERT_LT(std::abs(gap), 0.5) << t.symbol << " row " << k;  // open near the previous close
        gap_size += std::abs(gap);
        intraday_size += std::abs(std::log(c / o));
      }
      range += (h - l) / c;
      ++rows;
    }
  }
  // Most of a day's move happens in trading hours; daily ranges of a few percent.
  EXPECT_LT(gap_size, 0.8 * intraday_size);
  EXPECT_GT(range / static_cast<double>(rows), 0.01);
  EXPECT_LT(range / static_cast<double>(rows), 0.05);

  double index_range = 0;
  for (std::size_t d = 0; d < u.dates.size(); ++d) {
    ASSERT_GE(u.index.high[d], std::max(u.index.open[d], u.index.close[d]));
    ASSERT_LE(u.index.low[d], std::min(u.index.open[d], u.index.close[d]));
    ASSERT_GT(u.index.low[d], 0.0);
    ASSERT_GT(u.index.volume[d], 0);
    index_range += (u.index.high[d] - u.index.low[d]) / u.index.close[d];
  }
  // Diversification: the index moves less within a day than its average member, but it does move.
  index_range /= static_cast<double>(u.dates.size());
  EXPECT_LT(index_range, 0.6 * range / static_cast<double>(rows));
  EXPECT_GT(index_range, 0.003);
}

TEST(SyntheticUniverse, VolumeScalesWithCapAndRisesWithAbsoluteReturn) {
  const auto u = make_synthetic_universe({.tickers = 200, .days = 500});
  std::vector<double> log_cap, log_dollar_volume, abs_return, log_volume;
  for (const auto& t : u.tickers) {
    double dollar_volume = 0, mean_log_volume = 0;
    for (std::size_t k = 0; k < t.close.size(); ++k) {
      dollar_volume += static_cast<double>(t.volume[k]) * t.close[k];
      mean_log_volume += std::log(static_cast<double>(t.volume[k]));
    }
    log_cap.push_back(std::log(t.market_cap));
    log_dollar_volume.push_back(std::log(dollar_volume / static_cast<double>(t.close.size())));
    mean_log_volume /= static_cast<double>(t.close.size());
    for (std::size_t k = 1; k < t.close.size(); ++k) {
      abs_return.push_back(std::abs(std::log(t.close[k] / t.close[k - 1])) / t.volatility);
      log_volume.push_back(std::log(static_cast<double>(t.volume[k])) - mean_log_volume);
    }
  }
  EXPECT_GT(correlation(log_cap, log_dollar_volume), 0.7);
  EXPECT_GT(correlation(abs_return, log_volume), 0.2);
}

TEST(SyntheticUniverse, ElevenUnevenSectors) {
  const auto u = make_synthetic_universe({.days = 30});
  std::map<int, int> size;
  for (const auto& t : u.tickers) {
    ASSERT_TRUE(t.sector >= 0 && t.sector < 11);
    ++size[t.sector];
  }
  ASSERT_EQ(size.size(), 11u);
  int smallest = 1 << 30, largest = 0;
  for (auto [sector, count] : size) smallest = std::min(smallest, count), largest = std::max(largest, count);
  EXPECT_GE(largest, 5 * smallest);
  EXPECT_EQ(size[3], largest);    // Consumer Discretionary, the biggest S&P 500 sector
  EXPECT_EQ(size[10], smallest);  // Telecommunication Services
  EXPECT_EQ(kGicsSectors[0], "Information Technology");
  EXPECT_EQ(kGicsSectors[10], "Telecommunication Services");
  // Fewer tickers than sectors still works.
  EXPECT_EQ(make_synthetic_universe({.tickers = 4, .days = 10}).tickers.size(), 4u);
}

TEST(SyntheticUniverse, MarketCapsAreLogNormalAroundTheMedian) {
  const auto u = make_synthetic_universe({.days = 30});
  std::vector<double> log_caps;
  for (const auto& t : u.tickers) log_caps.push_back(std::log(t.market_cap));
  double mean = 0;
  for (double x : log_caps) mean += x;
  mean /= static_cast<double>(log_caps.size());
  const double sd = standard_deviation(log_caps);
  double skew = 0;
  for (double x : log_caps) skew += std::pow((x - mean) / sd, 3);
  skew /= static_cast<double>(log_caps.size());
  EXPECT_NEAR(mean, std::log(15e9), 0.2);  // about 4 standard errors
  EXPECT_GT(sd, 0.9);
  EXPECT_LT(sd, 1.3);
  EXPECT_LT(std::abs(skew), 0.35);  // symmetric in logs
  const auto [low, high] = std::minmax_element(log_caps.begin(), log_caps.end());
  EXPECT_GT(*high - *low, std::log(300.0));  // a wide spread, from small to mega caps
}

TEST(SyntheticUniverse, IposAndDelistingsWithinConfiguredShares) {
  for (std::uint64_t seed : {1, 2, 3}) {
    const std::int64_t days = 400;
    const auto u = make_synthetic_universe({.days = days, .seed = seed});
    int ipos = 0, delistings = 0;
    std::set<std::int64_t> ipo_days;
    for (const auto& t : u.tickers) {
      const bool ipo = t.first_day > 0, delisted = t.last_day < days - 1;
      ipos += ipo;
      delistings += delisted;
      EXPECT_FALSE(ipo && delisted) << t.symbol;
      EXPECT_GE(t.rows(), days / 4) << t.symbol;
      if (ipo) ipo_days.insert(t.first_day);
    }
    const double n = static_cast<double>(u.tickers.size());
    EXPECT_GE(ipos / n, 0.05);
    EXPECT_LE(ipos / n, 0.08);
    EXPECT_GE(delistings / n, 0.02);
    EXPECT_LE(delistings / n, 0.04);
    EXPECT_GT(ipo_days.size(), 10u);  // spread over time, not one date
  }
  const auto none =
      make_synthetic_universe({.tickers = 50, .days = 100, .ipo_share = 0, .delisting_share = 0});
  for (const auto& t : none.tickers) EXPECT_EQ(t.rows(), 100);
}

TEST(SyntheticUniverse, RegimesAllAppearAndDoNotDependOnTheTickers) {
  const auto u = make_synthetic_universe({.tickers = 5});
  std::set<MarketRegime> seen(u.regimes.begin(), u.regimes.end());
  EXPECT_EQ(seen.size(), 4u);
  EXPECT_EQ(u.regimes.front(), MarketRegime::calm);
  EXPECT_EQ(make_synthetic_universe({.tickers = 50}).regimes, u.regimes);
}

TEST(SyntheticUniverse, RegimesPersistAndCrisisIsRareShortAndVolatile) {
  const auto u = make_synthetic_universe({.tickers = 20, .days = 20000, .seed = 5});
  std::map<MarketRegime, std::vector<int>> runs;
  int run = 1;
  for (std::size_t d = 1; d <= u.regimes.size(); ++d) {
    if (d < u.regimes.size() && u.regimes[d] == u.regimes[d - 1]) {
      ++run;
    } else {
      runs[u.regimes[d - 1]].push_back(run);
      run = 1;
    }
  }
  auto mean_run = [&](MarketRegime r) {
    double total = 0;
    for (int n : runs[r]) total += n;
    return total / static_cast<double>(runs[r].size());
  };
  std::size_t run_count = 0;
  for (const auto& [regime, lengths] : runs) run_count += lengths.size();
  EXPECT_GT(20000.0 / static_cast<double>(run_count), 20.0);  // average run length
  EXPECT_GT(mean_run(MarketRegime::calm), 60.0);
  EXPECT_LT(mean_run(MarketRegime::crisis), 0.5 * mean_run(MarketRegime::calm));
  double crisis_days = 0;
  for (int n : runs[MarketRegime::crisis]) crisis_days += n;
  EXPECT_GT(crisis_days / 20000, 0.005);
  EXPECT_LT(crisis_days / 20000, 0.10);

  // Realised volatility and drift of the cap-weighted index by regime.
  std::map<MarketRegime, std::vector<double>> returns;
  const auto r = index_returns(u);
  for (std::size_t d = 1; d < r.size(); ++d) returns[u.regimes[d]].push_back(r[d]);
  EXPECT_GT(standard_deviation(returns[MarketRegime::crisis]),
            2.0 * standard_deviation(returns[MarketRegime::calm]));
  EXPECT_GT(standard_deviation(returns[MarketRegime::bear]), standard_deviation(returns[MarketRegime::bull]));
  auto mean = [](const std::vector<double>& x) {
    double total = 0;
    for (double v : x) total += v;
    return total / static_cast<double>(x.size());
  };
  EXPECT_GT(mean(returns[MarketRegime::bull]), 0.0);
  EXPECT_LT(mean(returns[MarketRegime::crisis]), mean(returns[MarketRegime::bear]));
}

namespace {
// Kurtosis of the returns of all tickers, each standardised by its nominal volatility.
double pooled_kurtosis(const SyntheticUniverse& u) {
  double fourth = 0, second = 0, n = 0;
  for (const auto& t : u.tickers)
    for (double r : log_returns(t)) {
      const double z = r / t.volatility;
      second += z * z;
      fourth += z * z * z * z;
      n += 1;
    }
  return (fourth / n) / ((second / n) * (second / n));
}
}  // namespace

TEST(SyntheticUniverse, NaturalModeHasVolatilityClusteringAndFatTails) {
  const auto u = make_synthetic_universe({.tickers = 30, .days = 20000, .seed = 8});
  EXPECT_GT(pooled_autocorrelation(u, 1, square), 0.05);
  EXPECT_GT(market_squared_autocorrelation(u), 0.1);
  EXPECT_GT(pooled_kurtosis(u), 4.0);  // well above the normal 3
}

TEST(SyntheticUniverse, PureRandomWalkHasNothingToPredict) {
  const auto u = make_synthetic_universe({.tickers = 30, .days = 20000, .seed = 8, .pure_random_walk = true});
  for (MarketRegime r : u.regimes) ASSERT_EQ(r, MarketRegime::calm);
  for (std::size_t lag = 1; lag <= 5; ++lag) {
    EXPECT_NEAR(pooled_autocorrelation(u, lag, identity), 0.0, 0.01) << "lag " << lag;
    EXPECT_NEAR(pooled_autocorrelation(u, lag, square), 0.0, 0.01) << "lag " << lag;  // no clustering
  }
  EXPECT_NEAR(market_squared_autocorrelation(u), 0.0, 0.03);  // not in the market factor either
  // No jumps either: standardised returns are normal (kurtosis 3).
  EXPECT_NEAR(pooled_kurtosis(u), 3.0, 0.1);
}

namespace {
// corr(s_{i,t}, r_{i,t+1} / sigma_i) pooled over tickers, with s recomputed here from the closes (and
// checked against momentum_signal).
double planted_correlation(const SyntheticUniverse& u) {
  std::vector<double> signal, next;
  for (const auto& t : u.tickers) {
    const auto returns = log_returns(t);  // returns[k - 1] is the return of row k
    const auto reported = momentum_signal(t);
    for (std::size_t k = 5; k + 1 < t.close.size(); ++k) {
      double past = 0;
      for (std::size_t j = k - 4; j <= k; ++j) past += returns[j - 1];
      const double s = past / (std::sqrt(5.0) * t.volatility);
      EXPECT_NEAR(reported[k], s, 1e-9);
      signal.push_back(s);
      next.push_back(returns[k] / t.volatility);
    }
    for (std::size_t k = 0; k < std::min<std::size_t>(5, reported.size()); ++k) EXPECT_EQ(reported[k], 0.0);
  }
  return correlation(signal, next);
}
}  // namespace

TEST(SyntheticUniverse, PlantedSignalIsLearnableAndAbsentWithoutStrength) {
  const SyntheticUniverseOptions base{.tickers = 60, .days = 5000, .seed = 21};
  auto with = [&](double strength, bool pure) {
    SyntheticUniverseOptions o = base;
    o.predictability = strength;
    o.pure_random_walk = pure;
    return planted_correlation(make_synthetic_universe(o));
  };
  // The planted term feeds back into later 5-day sums, which lifts the correlation a little above lambda.
  // Tolerances are about three standard errors; regimes and GARCH make the natural mode noisier.
  EXPECT_NEAR(with(0.10, false), 0.10, 0.03);
  EXPECT_NEAR(with(0.05, false), 0.05, 0.025);
  EXPECT_NEAR(with(0.0, false), 0.0, 0.025);
  EXPECT_NEAR(with(0.10, true), 0.10, 0.025);
  EXPECT_NEAR(with(0.0, true), 0.0, 0.015);
}

namespace {
// The universe's closes on its calendar as a store holds them ([days x tickers], NaN outside a life),
// for planted_oracle_accuracy.
Universe as_store(const SyntheticUniverse& s) {
  Universe u;
  const auto D = static_cast<std::int64_t>(s.dates.size()), N = static_cast<std::int64_t>(s.tickers.size());
  u.days.resize(static_cast<std::size_t>(D));
  u.close = qf::Tensor::full({D, N}, NAN, qf::DType::f64);
  u.listed.assign(static_cast<std::size_t>(D * N), 0);
  for (std::int64_t i = 0; i < N; ++i) {
    const SyntheticTicker& t = s.tickers[static_cast<std::size_t>(i)];
    u.tickers.push_back(t.symbol);
    for (std::int64_t d = t.first_day; d <= t.last_day; ++d) {
      u.close.data<double>()[d * N + i] = t.close[static_cast<std::size_t>(d - t.first_day)];
      u.listed[static_cast<std::size_t>(d * N + i)] = 1;
    }
  }
  return u;
}
}  // namespace

// The planted term moves the stock between the open and the close only, so the next_open trade of the
// day before (open[t+1] -> open[t+2]) earns all of it and the overnight gap none; the oracle calls its
// sign (the sign of the 5-day move) and scores about 55.5 % at lambda 0.15 on a pure random walk
// (1/2 + asin(corr) / pi), 50 % without a planted term.
TEST(SyntheticUniverse, PlantedEdgeIsInTheNextOpenTradedReturnAndTheOracleCallsIt) {
  auto study = [](double lambda) {
    const auto s = make_synthetic_universe(
        {.tickers = 60, .days = 3000, .seed = 23, .predictability = lambda, .pure_random_walk = true});
    std::vector<double> signal, gap, traded;
    std::vector<std::int32_t> ticker, day;
    std::vector<double> label;
    double hits = 0, calls = 0;
    for (std::size_t i = 0; i < s.tickers.size(); ++i) {
      const SyntheticTicker& t = s.tickers[i];
      const std::vector<std::uint8_t> listed(t.close.size(), 1);
      const auto next_open = traded_return_series(t.open, t.close, listed, {Execution::next_open, 1});
      const auto direction = planted_direction(t.close, listed);
      const auto momentum = momentum_signal(t);
      for (std::size_t k = 0; k + 2 < t.close.size(); ++k) {
        // The oracle's call is the sign of the planted signal s (0 where there is none).
        EXPECT_EQ(direction[k], momentum[k] > 0 ? 1 : momentum[k] < 0 ? -1 : 0) << t.symbol << " row " << k;
        if (k < 5) continue;
        signal.push_back(momentum[k]);
        gap.push_back(std::log(t.open[k + 1] / t.close[k]));
        traded.push_back(std::log1p(next_open[k]));
        ticker.push_back(static_cast<std::int32_t>(i));
        day.push_back(static_cast<std::int32_t>(t.first_day + static_cast<std::int64_t>(k)));
        label.push_back(next_open[k] > 0 ? 1.0 : 0.0);
        calls += 1;
        hits += (direction[k] > 0) == (next_open[k] > 0) ? 1 : 0;
      }
    }
    EXPECT_NEAR(correlation(signal, gap), 0.0, 0.01) << "the overnight gap holds no planted part";
    // The library's oracle on a store of the same closes scores the same decisions the same way.
    const OracleScore oracle = planted_oracle_accuracy(as_store(s), ticker, day, label);
    EXPECT_EQ(oracle.scored, static_cast<std::int64_t>(calls));
    EXPECT_DOUBLE_EQ(oracle.accuracy, hits / calls);
    return std::pair{correlation(signal, traded), oracle.accuracy};
  };
  const auto [planted_corr, planted_accuracy] = study(0.15);
  EXPECT_NEAR(planted_corr, 0.175, 0.015);  // lambda, lifted a little by the planted feedback
  EXPECT_NEAR(planted_accuracy, 0.5 + std::asin(planted_corr) / M_PI, 0.006);
  EXPECT_GT(planted_accuracy, 0.55);
  const auto [none_corr, none_accuracy] = study(0.0);
  EXPECT_NEAR(none_corr, 0.0, 0.01);
  EXPECT_NEAR(none_accuracy, 0.5, 0.006);
}

TEST(SyntheticUniverse, OracleSkipsTheFirstFiveRowsOfAListingAndRefusesForeignDecisions) {
  const std::vector<double> close = {NAN, 10, 11, 12, 11, 10, 9, 10, 12, 12, 12};
  const std::vector<std::uint8_t> listed = {0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
  // day 6: 9 < close[1] = 10: down; day 7: 10 vs 11; day 8: 12 = 12; day 9: 12 > 11; day 10: 12 > 10.
  const std::vector<std::int8_t> expected = {0, 0, 0, 0, 0, 0, -1, -1, 0, 1, 1};
  EXPECT_EQ(planted_direction(close, listed), expected);
  EXPECT_THROW(planted_direction(close, std::vector<std::uint8_t>(3, 1)), std::invalid_argument);
  const auto u = as_store(make_synthetic_universe({.tickers = 3, .days = 50}));
  const std::vector<std::int32_t> ticker = {0, 3}, day = {10, 10};
  const std::vector<double> label = {1, 0};
  EXPECT_THROW(planted_oracle_accuracy(u, ticker, day, label), std::invalid_argument);  // ticker 3 of 3
  const auto none = planted_oracle_accuracy(u, std::span(ticker).first(1), std::span(day).first(1),
                                            std::vector<double>{NAN});
  EXPECT_EQ(none.scored, 0);
  EXPECT_TRUE(std::isnan(none.accuracy));
}

TEST(SyntheticUniverse, IndexIsTheCapWeightedAverageOfItsMembers) {
  const auto u =
      make_synthetic_universe({.tickers = 30, .days = 400, .ipo_share = 0.2, .delisting_share = 0.2});
  EXPECT_DOUBLE_EQ(u.index.close[0], 1000.0);
  for (std::size_t d = 1; d < u.dates.size(); ++d) {
    const auto day = static_cast<std::int64_t>(d);
    double weight = 0, growth = 0, gap = 0;
    std::int64_t volume = 0;
    for (const auto& t : u.tickers) {
      if (!t.alive(day) || !t.alive(day - 1)) continue;
      const auto k = static_cast<std::size_t>(day - t.first_day);
      const double cap = t.market_cap / t.close.back() * t.close[k - 1];
      weight += cap;
      growth += cap * t.close[k] / t.close[k - 1];
      gap += cap * t.open[k] / t.close[k - 1];
      volume += t.volume[k];
    }
    ASSERT_NEAR(u.index.close[d] / u.index.close[d - 1], growth / weight, 1e-12) << u.dates[d];
    ASSERT_NEAR(u.index.open[d] / u.index.close[d - 1], gap / weight, 1e-12) << u.dates[d];
    ASSERT_EQ(u.index.volume[d], volume);
  }
}

TEST(SyntheticUniverse, RejectsBadOptionsAndSkipsWeekendStart) {
  EXPECT_THROW(make_synthetic_universe({.tickers = 0}), std::invalid_argument);
  EXPECT_THROW(make_synthetic_universe({.days = 1}), std::invalid_argument);
  EXPECT_THROW(make_synthetic_universe({.tickers = 5, .days = 10, .start_date = "2010-13-01"}),
               std::invalid_argument);
  EXPECT_THROW(make_synthetic_universe({.tickers = 5, .days = 10, .start_date = "yesterday"}),
               std::invalid_argument);
  EXPECT_THROW(make_synthetic_universe({.tickers = 5, .days = 10, .ipo_share = 0.7, .delisting_share = 0.7}),
               std::invalid_argument);
  EXPECT_THROW(make_synthetic_universe({.tickers = 5, .days = 10, .predictability = 0.5}),
               std::invalid_argument);
  EXPECT_THROW(make_synthetic_universe({.tickers = 5, .days = 10, .predictability = -0.1}),
               std::invalid_argument);
  const auto u =
      make_synthetic_universe({.tickers = 5, .days = 10, .start_date = "2010-01-02"});  // a Saturday
  EXPECT_EQ(u.dates.front(), "2010-01-04");
  EXPECT_EQ(u.dates.back(), "2010-01-15");
}

TEST(SyntheticUniverse, CsvFolderRoundTripsAtWrittenPrecision) {
  const auto u =
      make_synthetic_universe({.tickers = 12, .days = 60, .ipo_share = 0.2, .delisting_share = 0.2});
  const fs::path dir = qf::test_support::temp_path("synthetic_universe") / "nested";
  fs::remove_all(dir.parent_path());
  write_synthetic_universe(u, dir);  // creates the folder, parents included

  std::size_t files = 0;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    files += entry.is_regular_file() ? 1 : 0;
    EXPECT_NE(entry.path().extension(), ".tmp") << entry.path();
  }
  EXPECT_EQ(files, u.tickers.size() + 3);  // prices/<ticker>_data.csv, index, regimes, constituents

  const double tolerance = 0.5e-4 + 1e-9;  // 4 decimals
  for (const auto& t : u.tickers) {
    const auto lines = read_lines(dir / "prices" / (t.symbol + "_data.csv"));
    ASSERT_EQ(lines.size(), static_cast<std::size_t>(t.rows()) + 1) << t.symbol;
    EXPECT_EQ(lines[0], "date,open,high,low,close,volume,Name");
    for (std::size_t k = 0; k < t.close.size(); ++k) {
      const auto f = split_csv_line(lines[k + 1]);
      ASSERT_EQ(f.size(), 7u) << lines[k + 1];
      EXPECT_EQ(f[0], u.dates[static_cast<std::size_t>(t.first_day) + k]);
      EXPECT_NEAR(std::stod(f[1]), t.open[k], tolerance);
      EXPECT_NEAR(std::stod(f[2]), t.high[k], tolerance);
      EXPECT_NEAR(std::stod(f[3]), t.low[k], tolerance);
      EXPECT_NEAR(std::stod(f[4]), t.close[k], tolerance);
      EXPECT_EQ(f[1].size() - f[1].find('.'), 5u) << f[1];  // exactly 4 decimals
      EXPECT_EQ(std::stoll(f[5]), t.volume[k]);
      EXPECT_EQ(f[6], t.symbol);
    }
  }
  // The ingestion step's own parser reads a ticker file as the Kaggle layout without findings.
  const auto parsed = read_price_file(dir / "prices" / (u.tickers[3].symbol + "_data.csv"));
  ASSERT_EQ(parsed.size(), 1u);
  EXPECT_EQ(parsed[0].layout, PriceLayout::kaggle);
  EXPECT_EQ(parsed[0].ticker, u.tickers[3].symbol);
  EXPECT_EQ(parsed[0].rows.size(), static_cast<std::size_t>(u.tickers[3].rows()));
  EXPECT_TRUE(parsed[0].findings.empty());

  const auto constituents = read_lines(dir / "constituents.csv");
  ASSERT_EQ(constituents.size(), u.tickers.size() + 1);
  EXPECT_EQ(constituents[0], "Symbol,Name,Sector,Market Cap");
  for (std::size_t i = 0; i < u.tickers.size(); ++i) {
    const auto f = split_csv_line(constituents[i + 1]);
    ASSERT_EQ(f.size(), 4u);
    EXPECT_EQ(f[0], u.tickers[i].symbol);
    EXPECT_EQ(f[1], u.tickers[i].name);
    EXPECT_EQ(f[2], kGicsSectors[static_cast<std::size_t>(u.tickers[i].sector)]);
    EXPECT_NEAR(std::stod(f[3]), u.tickers[i].market_cap, 0.5);
  }

  const auto index = read_lines(dir / "index.csv");
  ASSERT_EQ(index.size(), u.dates.size() + 1);
  EXPECT_EQ(index[0], "Date,Open,High,Low,Close,Adj Close,Volume");
  for (std::size_t d = 0; d < u.dates.size(); ++d) {
    const auto f = split_csv_line(index[d + 1]);
    ASSERT_EQ(f.size(), 7u);
    EXPECT_EQ(f[0], u.dates[d]);
    EXPECT_NEAR(std::stod(f[1]), u.index.open[d], tolerance);
    EXPECT_NEAR(std::stod(f[4]), u.index.close[d], tolerance);
    EXPECT_EQ(f[5], f[4]);  // no dividends: Adj Close = Close
    EXPECT_EQ(std::stoll(f[6]), u.index.volume[d]);
  }

  const auto regimes = read_lines(dir / "regimes.csv");
  ASSERT_EQ(regimes.size(), u.dates.size() + 1);
  EXPECT_EQ(regimes[0], "date,regime");
  for (std::size_t d = 0; d < u.dates.size(); ++d)
    EXPECT_EQ(regimes[d + 1], u.dates[d] + "," + std::string(regime_name(u.regimes[d])));

  // Writing again replaces the files in place; a file of another ticker is reported as stale.
  std::ofstream(dir / "prices" / "ZZZZ_data.csv") << "date,open,high,low,close,volume,Name\n";
  write_synthetic_universe(u, dir);
  EXPECT_EQ(read_lines(dir / "regimes.csv").size(), u.dates.size() + 1);
  const auto stale = stale_ticker_files(u, dir);
  ASSERT_EQ(stale.size(), 1u);
  EXPECT_EQ(stale[0].filename(), "ZZZZ_data.csv");
  fs::remove_all(dir.parent_path());
}

TEST(SyntheticUniverse, HeadlinesFollowTheNextDayAndLeavePricesAlone) {
  const auto plain = make_synthetic_universe({.tickers = 40, .days = 600});
  const auto u = make_synthetic_universe({.tickers = 40, .days = 600, .headline_rate = 0.25});
  EXPECT_TRUE(plain.headlines.empty());
  for (std::size_t i = 0; i < u.tickers.size(); ++i) ASSERT_EQ(u.tickers[i].close, plain.tickers[i].close);
  std::int64_t cells = 0;
  for (const auto& t : u.tickers) cells += t.rows() - 1;
  EXPECT_NEAR(static_cast<double>(u.headlines.size()) / static_cast<double>(cells), 0.25, 0.01);
  // Tone against the next day's return: positive wording mostly before up days, negative before down days.
  std::map<std::string, const SyntheticTicker*> by_symbol;
  for (const auto& t : u.tickers) by_symbol[t.symbol] = &t;
  double up_after_positive = 0, positive = 0, up_after_negative = 0, negative = 0;
  for (const auto& h : u.headlines) {
    const SyntheticTicker& t = *by_symbol.at(h.ticker);
    ASSERT_TRUE(t.alive(h.day) && t.alive(h.day + 1)) << "a headline needs a next day";
    EXPECT_NE(h.text.find(h.ticker), std::string::npos);
    const auto k = static_cast<std::size_t>(h.day - t.first_day);
    const bool up = t.close[k + 1] > t.close[k];
    const bool good = h.text.find("jump") != std::string::npos || h.text.find("beats") != std::string::npos ||
                      h.text.find("upgrade") != std::string::npos ||
                      h.text.find("soars") != std::string::npos;
    const bool bad = h.text.find("fall") != std::string::npos || h.text.find("misses") != std::string::npos ||
                     h.text.find("downgrade") != std::string::npos ||
                     h.text.find("plunges") != std::string::npos;
    if (good) positive += 1, up_after_positive += up;
    if (bad) negative += 1, up_after_negative += up;
  }
  EXPECT_NEAR((positive + negative) / static_cast<double>(u.headlines.size()), 2.0 / 3, 0.02);
  EXPECT_GT(up_after_positive / positive, 0.65);
  EXPECT_LT(up_after_negative / negative, 0.35);
}
