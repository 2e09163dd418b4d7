#include "bad_ticks.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <sstream>

namespace qf::data::detail {

namespace {

enum Field { kOpen = 0, kHigh = 1, kLow = 2, kClose = 3 };
constexpr std::array<const char*, 4> kFieldNames{"open", "high", "low", "close"};

double& field(PriceRow& row, int k) {
  return k == kOpen ? row.open : k == kHigh ? row.high : k == kLow ? row.low : row.close;
}
double field(const PriceRow& row, int k) {
  return field(const_cast<PriceRow&>(row), k);
}

std::string number(double v, int digits = 6) {
  std::ostringstream out;
  out.precision(digits);
  out << v;
  return out.str();
}

std::string row_text(const PriceRow& r) {
  return "o=" + number(r.open, 10) + " h=" + number(r.high, 10) + " l=" + number(r.low, 10) +
         " c=" + number(r.close, 10);
}

double median(std::vector<double>& v) {
  const auto mid = v.begin() + static_cast<std::ptrdiff_t>(v.size() / 2);
  std::nth_element(v.begin(), mid, v.end());
  return *mid;
}

// sigma_t = max(floor, 1.4826 * MAD) of the close-to-close log returns of rows t-W .. t+W+1, without the
// two returns into and out of row t (a bad row t would inflate them). 1.4826 * MAD estimates the sd
// of a normal; one or two other outliers in the window do not move it. Infinite (no verdict) when
// fewer than 5 returns are left.
double robust_scale(const std::vector<PriceRow>& rows, std::size_t t, const ValidationOptions& o) {
  const auto window = static_cast<std::size_t>(std::max<std::int64_t>(o.bad_tick_window, 1));
  const std::size_t first = t > window ? t - window : 1, last = std::min(rows.size() - 1, t + window + 1);
  std::vector<double> returns;
  for (std::size_t j = first; j <= last; ++j)
    if (j != t && j != t + 1) returns.push_back(std::log(rows[j].close / rows[j - 1].close));
  if (returns.size() < 5) return std::numeric_limits<double>::infinity();
  const double center = median(returns);
  for (double& r : returns) r = std::abs(r - center);
  return std::max(o.bad_tick_min_scale, 1.4826 * median(returns));
}

struct Spike {
  double size = 0;  // s, in log units; 0: no spike
  int sign = 0;     // +1: above both neighbours
};

// a = log(x / prev), b = log(x / next) of one sign; s = min(|a|, |b|); back the next day when
// |log(next / prev)| = |a - b| <= revert * s (a persistent move has b ~ 0, a half recovery |a - b| >= s).
Spike two_sided_spike(double prev, double x, double next, double revert) {
  const double a = std::log(x / prev), b = std::log(x / next);
  if (!(a * b > 0)) return {};
  const double s = std::min(std::abs(a), std::abs(b));
  if (std::abs(a - b) > revert * s) return {};
  return {s, a > 0 ? 1 : -1};
}

struct Verdict {
  bool row = false;            // bad_row: the close and >= 2 of open/high/low
  std::array<bool, 4> tick{};  // bad_tick per field (when not a bad row)
  std::array<Spike, 4> spike{};
  double score = 0;  // largest flagged s / sigma: the order rows are judged in
  bool any() const { return row || tick[0] || tick[1] || tick[2] || tick[3]; }
};

// Judges row x against p and n (n null: the last row, one-sided |a| against the stricter threshold).
Verdict judge(const PriceRow& p, const PriceRow& x, const PriceRow* n, double sigma,
              const ValidationOptions& o) {
  Verdict v;
  const double tick_min = n ? std::max(o.bad_tick_sigmas * sigma, std::log(o.bad_tick_min_factor))
                            : std::max(o.bad_tick_last_sigmas * sigma, std::log(o.bad_tick_min_factor));
  const double row_min = n ? std::max(o.bad_row_sigmas * sigma, std::log(o.bad_row_min_factor)) : tick_min;
  for (int k = 0; k < 4; ++k) {
    const double a = std::log(field(x, k) / field(p, k));
    v.spike[static_cast<std::size_t>(k)] =
        n ? two_sided_spike(field(p, k), field(x, k), field(*n, k), o.bad_tick_revert)
          : Spike{std::abs(a), a > 0   ? 1
                               : a < 0 ? -1
                                       : 0};
  }
  const Spike& close = v.spike[kClose];
  int agreeing = 0;
  for (int k : {kOpen, kHigh, kLow})
    agreeing += v.spike[static_cast<std::size_t>(k)].sign == close.sign &&
                v.spike[static_cast<std::size_t>(k)].size >= row_min;
  v.row = close.sign != 0 && close.size >= row_min && agreeing >= 2;
  for (std::size_t k = 0; k < 4; ++k) {
    v.tick[k] = !v.row && v.spike[k].sign != 0 && v.spike[k].size >= tick_min;
    if (v.row || v.tick[k]) v.score = std::max(v.score, v.spike[k].size / sigma);
  }
  return v;
}

// True when some field is off both neighbours by at least the smaller of the two factor floors: only
// those rows need a sigma (most rows fail here, cheaply).
bool may_be_spike(const PriceRow& p, const PriceRow& x, const PriceRow& n, const ValidationOptions& o) {
  const double floor = std::log(std::min(o.bad_tick_min_factor, o.bad_row_min_factor));
  for (int k = 0; k < 4; ++k)
    if (two_sided_spike(field(p, k), field(x, k), field(n, k), o.bad_tick_revert).size >= floor) return true;
  return false;
}

std::string spike_text(const PriceRow& p, const PriceRow& x, const PriceRow* n, int k, const Verdict& v,
                       double sigma) {
  const auto& s = v.spike[static_cast<std::size_t>(k)];
  return std::string(kFieldNames[static_cast<std::size_t>(k)]) + " " + number(field(x, k), 10) + " vs " +
         number(field(p, k), 10) + (n ? " before and " + number(field(*n, k), 10) + " after" : " before") +
         " (x" + number(std::exp(s.size * s.sign), 3) + ", " + number(s.size / sigma, 3) + " sigma, sigma " +
         number(sigma, 3) + "); row " + row_text(x);
}

constexpr const char* kGapAction = "row dropped: a calendar gap (close carried forward, present = 0)";

// Rebuilds the flagged fields of row x (previous kept row p) inside the day's range; false when the
// close cannot be rebuilt (high or low flagged too) and the row must go.
bool rebuild(PriceRow& x, const PriceRow& p, const std::array<bool, 4>& bad, std::string& action) {
  if (bad[kClose] && (bad[kHigh] || bad[kLow])) return false;
  if (bad[kClose]) {  // the trusted high and low bound the true close
    x.close = std::clamp(p.close, x.low, x.high);
    action += "close := clamp(previous close, low, high) = " + number(x.close, 10) + "; ";
  }
  const double top = bad[kOpen] ? x.close : std::max(x.open, x.close);  // trusted: >= them, <= true high
  const double bottom = bad[kOpen] ? x.close : std::min(x.open, x.close);
  if (bad[kHigh]) {
    x.high = top;
    action += std::string("high := max(") + (bad[kOpen] ? "close" : "open, close") +
              ") = " + number(x.high, 10) + "; ";
  }
  if (bad[kLow]) {
    x.low = bottom;
    action += std::string("low := min(") + (bad[kOpen] ? "close" : "open, close") +
              ") = " + number(x.low, 10) + "; ";
  }
  if (bad[kOpen]) {  // the open is near the previous close, and inside the day's range
    x.open = std::clamp(p.close, x.low, x.high);
    action += "open := clamp(previous close, low, high) = " + number(x.open, 10) + "; ";
  }
  action.resize(action.size() - 2);
  return true;
}

// Applies a two-sided verdict to row t; true when the row is dropped.
bool apply_verdict(std::vector<PriceRow>& rows, std::size_t p, std::size_t t, std::size_t n, const Verdict& v,
                   double sigma, const AddFinding& add) {
  const PriceRow original = rows[t];
  if (v.row) {
    add("bad_row", original, "close",
        "whole row off: " + spike_text(rows[p], original, &rows[n], kClose, v, sigma), kGapAction);
    return true;
  }
  std::string action;
  const bool kept = rebuild(rows[t], rows[p], v.tick, action);
  for (int k = 0; k < 4; ++k)
    if (v.tick[static_cast<std::size_t>(k)])
      add("bad_tick", original, kFieldNames[static_cast<std::size_t>(k)],
          spike_text(rows[p], original, &rows[n], k, v, sigma),
          kept ? action.c_str()
               : "close and high or low bad, close cannot be rebuilt: row dropped, a "
                 "calendar gap (close carried forward, present = 0)");
  return !kept;
}

// The last kept row, against the row before only: flagged, never repaired.
void flag_last_row(const std::vector<PriceRow>& rows, const std::vector<char>& dropped,
                   const ValidationOptions& o, const AddFinding& add) {
  std::size_t t = rows.size() - 1;
  while (t > 0 && dropped[t]) --t;
  std::size_t p = t;
  while (p > 0 && dropped[--p]) {
  }
  if (p == t || dropped[p] || rows[t].day < o.bad_tick_from) return;
  const double sigma = robust_scale(rows, t, o);
  const Verdict v = judge(rows[p], rows[t], nullptr, sigma, o);
  for (int k = 0; k < 4; ++k)
    if (v.row ? k == kClose : v.tick[static_cast<std::size_t>(k)])
      add(v.row ? "bad_row" : "bad_tick", rows[t], kFieldNames[static_cast<std::size_t>(k)],
          "last row, one-sided: " + spike_text(rows[p], rows[t], nullptr, k, v, sigma),
          std::string(kUnconfirmedAction).c_str());
}

}  // namespace

void apply_bad_tick_rules(std::vector<PriceRow>& rows, const ValidationOptions& o, const AddFinding& add) {
  const std::size_t count = rows.size();
  if (count < 2) return;
  std::vector<double> sigma(count, 0.0);
  std::vector<std::pair<double, std::size_t>> candidates;  // (score, row)
  for (std::size_t t = 1; t + 1 < count; ++t) {
    if (rows[t].day < o.bad_tick_from || !may_be_spike(rows[t - 1], rows[t], rows[t + 1], o)) continue;
    sigma[t] = robust_scale(rows, t, o);
    const Verdict v = judge(rows[t - 1], rows[t], &rows[t + 1], sigma[t], o);
    if (v.any()) candidates.emplace_back(v.score, t);
  }
  // Largest spike first, each judged again against its current neighbours: once a bad row is gone,
  // the neighbour it dragged (a seesaw) is judged against the next trusted row instead.
  std::sort(candidates.begin(), candidates.end(), [](auto& a, auto& b) { return a.first > b.first; });
  std::vector<char> dropped(count, 0);
  for (const auto& [score, t] : candidates) {
    std::size_t p = t - 1, n = t + 1;
    while (p > 0 && dropped[p]) --p;
    while (n + 1 < count && dropped[n]) ++n;
    if (dropped[p] || dropped[n]) continue;
    const Verdict v = judge(rows[p], rows[t], &rows[n], sigma[t], o);
    if (v.any() && apply_verdict(rows, p, t, n, v, sigma[t], add)) dropped[t] = 1;
  }
  flag_last_row(rows, dropped, o, add);
  std::size_t kept = 0;
  for (std::size_t t = 0; t < count; ++t)
    if (!dropped[t]) rows[kept++] = rows[t];
  rows.resize(kept);
}

}  // namespace qf::data::detail
