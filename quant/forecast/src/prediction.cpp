#include "qf/quant/forecast/prediction.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <sstream>
#include <stdexcept>

#include "qf/data/json.h"
#include "qf/data/prices.h"
#include "qf/data/store.h"
#include "qf/quant/signals/labels.h"
#include "qf/quant/signals/returns.h"
#include "qf/tensor/hdf5.h"

namespace qf::quant {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr int kExpectedReturnWindow = 60;

MovementScores score(std::span<const double> p, std::span<const double> y) {
  MovementScores s;
  s.scores = classification_scores(p, y);
  s.reliability = reliability_curve(p, y, 10);
  s.expected_calibration_error = expected_calibration_error(s.reliability);
  return s;
}

// The benchmark's closes, or, without one, an equal-weighted index of the universe's daily returns.
std::vector<double> market_close(const data::Universe& u) {
  if (!u.benchmark_close.empty()) return u.benchmark_close;
  const std::int64_t D = u.day_count(), N = u.ticker_count();
  const double* close = u.close.data<double>();
  std::vector<double> index(static_cast<std::size_t>(D), kNaN);
  double level = 1;
  for (std::int64_t d = 0; d < D; ++d) {
    double sum = 0;
    int count = 0;
    for (std::int64_t i = 0; d > 0 && i < N; ++i) {
      const double c0 = close[(d - 1) * N + i], c1 = close[d * N + i];
      if (std::isfinite(c0) && std::isfinite(c1) && c0 > 0) sum += c1 / c0 - 1, ++count;
    }
    if (count > 0) level *= 1 + sum / count;
    index[static_cast<std::size_t>(d)] = level;
  }
  return index;
}

[[noreturn]] void fail(const std::string& what) {
  throw std::invalid_argument("predict_stock_movement: " + what);
}

// One target for every member: the label their models predict, on one execution and horizon.
LabelSpec common_target(const std::vector<MovementMember>& members) {
  if (members.empty()) fail("no ensemble members");
  const LabelSpec target = members[0].test.label;
  for (const auto& m : members)
    if (!(m.test.label == target))
      fail("member " + m.name + " predicts '" + m.test.label.describe() + "', member " + members[0].name +
           " '" + target.describe() + "': an ensemble needs one target");
  return target;
}

// The sentiment member: P(up) = sigmoid(a s + b), fitted on the CV days whose labels end before the test
// period starts (purged by the label span, like the study's development days). Added to `members` when
// at least 50 labelled cells have a headline; `r` gets a, b and the cells with a headline.
void add_sentiment_member(const Tensor& sentiment, const Tensor& labels, const LabelSpec& target,
                          std::vector<MovementMember>& members, MovementResult& r) {
  const std::int64_t D = labels.shape()[0], N = labels.shape()[1];
  if (sentiment.numel() != D * N) fail("the sentiment panel is not [days, tickers]");
  const std::int64_t label_end = target.timing.label_end_offset();
  std::int64_t test_first = D;
  for (const auto& m : members) test_first = std::min(test_first, m.test.first_day);
  const double* s = sentiment.data<double>();
  const double* y_all = labels.data<double>();
  std::vector<double> x, y;
  for (std::int64_t d = 0; d + label_end <= test_first; ++d)
    for (std::int64_t i = 0; i < N; ++i) {
      if (!std::isfinite(s[d * N + i]) || std::isnan(y_all[d * N + i])) continue;
      x.push_back(s[d * N + i]);
      y.push_back(y_all[d * N + i]);
    }
  if (x.size() < 50) return;
  const auto w = fit_logistic(x, 1, y, 1e-4);
  r.sentiment_slope = w[0], r.sentiment_intercept = w[1];
  MovementMember m;
  m.name = "sentiment/headlines";
  m.cv = {Tensor::full({D, N}, kNaN, DType::f64), D, -1, "headlines", target};
  m.test = {Tensor::full({D, N}, kNaN, DType::f64), D, -1, "headlines", target};
  double hits = 0;
  for (std::int64_t d = 0; d < D; ++d)
    for (std::int64_t i = 0; i < N; ++i) {
      const double v = s[d * N + i];
      if (!std::isfinite(v)) continue;
      ++r.sentiment_cells;
      PredictionPanel& panel = d < test_first ? m.cv : m.test;
      panel.probability.data<double>()[d * N + i] = sigmoid(w[0] * v + w[1]);
      panel.first_day = std::min(panel.first_day, d), panel.last_day = std::max(panel.last_day, d);
    }
  for (std::size_t k = 0; k < x.size(); ++k) hits += (sigmoid(w[0] * x[k] + w[1]) > 0.5) == (y[k] > 0.5);
  m.cv_score = hits / static_cast<double>(x.size());
  m.test.first_day = std::max(m.test.first_day, test_first);
  members.push_back(std::move(m));
}

// Samples: every (day, ticker) cell with a member prediction; CV cells lie before the test period
// [first, last].
struct Cell {
  std::int64_t d, i;
};
std::vector<Cell> cells_of(const std::vector<MovementMember>& members, std::int64_t D, std::int64_t N,
                           std::int64_t first, std::int64_t last, bool cv) {
  std::vector<Cell> cells;
  for (std::int64_t d = 0; d < D; ++d) {
    if (cv ? d >= first : (d < first || d > last)) continue;
    for (std::int64_t i = 0; i < N; ++i)
      for (const auto& m : members)
        if (std::isfinite((cv ? m.cv : m.test).probability.data<double>()[d * N + i])) {
          cells.push_back({d, i});
          break;
        }
  }
  return cells;
}

// The members' predictions on `cells`: [members][cells].
EnsembleMembers panel_of(const std::vector<MovementMember>& members, const std::vector<Cell>& cells,
                         std::int64_t N, bool cv) {
  const auto M = static_cast<std::int64_t>(members.size());
  EnsembleMembers e;
  e.members = M;
  e.samples = static_cast<std::int64_t>(cells.size());
  e.probability.resize(static_cast<std::size_t>(M) * cells.size());
  for (std::int64_t k = 0; k < M; ++k) {
    const auto& m = members[static_cast<std::size_t>(k)];
    const double* p = (cv ? m.cv : m.test).probability.data<double>();
    for (std::size_t s = 0; s < cells.size(); ++s)
      e.probability[static_cast<std::size_t>(k) * cells.size() + s] = p[cells[s].d * N + cells[s].i];
    e.cv_score.push_back(m.cv_score);
    e.names.push_back(m.name);
  }
  return e;
}

// Steps 1 and 2: the ensemble, fitted on the CV cells, and the calibrator, fitted on the ensemble's CV
// outputs (out of fold for stacking: contiguous blocks of CV days).
void fit_ensemble_and_calibrator(const MovementSpec& spec, const std::vector<Cell>& cv_cells,
                                 const EnsembleMembers& cv_panel, const std::vector<double>& cv_labels,
                                 MovementResult& r) {
  r.ensemble = fit_ensemble(spec.ensemble, cv_panel, cv_labels);
  std::vector<double> cv_ensemble;
  if (spec.ensemble == "stacking") {
    const std::int64_t first = cv_cells.front().d, span = cv_cells.back().d - first + 1;
    std::vector<int> fold(cv_cells.size());
    for (std::size_t s = 0; s < cv_cells.size(); ++s)
      fold[s] = static_cast<int>((cv_cells[s].d - first) * spec.stack_folds / span);
    cv_ensemble = stack_out_of_fold(cv_panel, cv_labels, fold).probability;
  } else {
    cv_ensemble = predict_ensemble(r.ensemble, cv_panel).probability;
  }
  r.cv_ensemble = score(cv_ensemble, cv_labels);
  r.calibrator = fit_calibrator(spec.calibration, cv_ensemble, cv_labels);
}

// Step 3: the HMM on the market's returns, fitted before the test period, filtered over every day; each
// day's most likely state and stage 3's exposure factor.
void fit_regime(const data::Universe& u, const MovementSpec& spec, MovementResult& r) {
  const std::int64_t D = u.day_count();
  const auto K = static_cast<std::size_t>(spec.regime_states);
  const RegimeFeatures features = regime_features(market_close(u));
  r.hmm = fit_gaussian_hmm(features, 0, r.first_day - 1, {.states = spec.regime_states}).model;
  r.regime_probability = filtered_probabilities(r.hmm, features);
  r.regime_state.assign(static_cast<std::size_t>(D), -1);
  for (std::int64_t d = 1; d < D; ++d) {
    const double* p = r.regime_probability.data() + d * static_cast<std::int64_t>(K);
    r.regime_state[static_cast<std::size_t>(d)] = static_cast<int>(std::max_element(p, p + K) - p);
  }
  if (spec.use_regime) {
    r.regime_exposure = regime_exposure(r.regime_probability, spec.regime_states, spec.exposure_by_regime);
  } else {
    r.regime_exposure.assign(static_cast<std::size_t>(D), spec.exposure_by_regime[0]);
  }
  std::fill_n(r.regime_exposure.begin(), std::min<std::int64_t>(D, 1), kNaN);  // day 0: no return yet
}

// Step 4, per test cell: calibrated probability, confidence, abstention, expected return; then the
// test-period scores.
void predict_test_cells(const data::Universe& u, const MovementSpec& spec, const LabelSpec& target,
                        const std::vector<Cell>& test_cells, const EnsembleMembers& test_panel,
                        const std::vector<double>& test_labels, MovementResult& r) {
  const std::int64_t D = u.day_count(), N = u.ticker_count(), M = test_panel.members;
  const auto K = static_cast<std::size_t>(spec.regime_states);
  const std::vector<double> traded = traded_returns(u, target.timing);
  const std::int64_t label_end = target.timing.label_end_offset();
  const EnsemblePrediction test = predict_ensemble(r.ensemble, test_panel);
  for (Tensor* t :
       {&r.ensemble_probability, &r.probability, &r.confidence, &r.disagreement, &r.expected_return})
    *t = Tensor::full({D, N}, kNaN, DType::f64);
  r.abstain.assign(static_cast<std::size_t>(D * N), 0);
  r.member_probability.assign(static_cast<std::size_t>(M),
                              std::vector<double>(static_cast<std::size_t>(D * N), kNaN));
  std::vector<double> first_member(test_cells.size()), raw(test_cells.size()), calibrated(test_cells.size());
  std::vector<std::uint8_t> test_abstain(test_cells.size());
  for (std::size_t s = 0; s < test_cells.size(); ++s) {
    const auto [d, i] = test_cells[s];
    const std::size_t cell = static_cast<std::size_t>(d * N + i);
    for (std::int64_t k = 0; k < M; ++k)
      r.member_probability[static_cast<std::size_t>(k)][cell] =
          test_panel.probability[static_cast<std::size_t>(k) * test_cells.size() + s];
    first_member[s] = test_panel.probability[s];
    raw[s] = test.probability[s];
    calibrated[s] = r.calibrator.apply(raw[s]);
    double factor = 1, threshold = spec.threshold_by_regime[0];
    if (spec.use_regime) {
      factor = threshold = 0;
      for (std::size_t k = 0; k < K; ++k) {
        const double w = r.regime_probability[static_cast<std::size_t>(d) * K + k];
        factor += w * spec.confidence_by_regime[k];
        threshold += w * spec.threshold_by_regime[k];
      }
    }
    const double confidence =
        2 * std::abs(calibrated[s] - 0.5) * std::max(0.0, 1 - 2 * test.disagreement[s]) * factor;
    // Expected traded return: (2p - 1) x the mean |traded return| of the trades that exited by day d.
    double mean_move = 0;
    int moves = 0;
    for (std::int64_t t = std::max<std::int64_t>(0, d - label_end - kExpectedReturnWindow + 1);
         t <= d - label_end; ++t) {
      const double x = traded[static_cast<std::size_t>(t * N + i)];
      if (std::isfinite(x)) mean_move += std::abs(x), ++moves;
    }
    r.ensemble_probability.data<double>()[cell] = raw[s];
    r.probability.data<double>()[cell] = calibrated[s];
    r.confidence.data<double>()[cell] = confidence;
    r.disagreement.data<double>()[cell] = test.disagreement[s];
    r.expected_return.data<double>()[cell] = moves > 0 ? (2 * calibrated[s] - 1) * mean_move / moves : kNaN;
    r.abstain[cell] = confidence < threshold ? 1 : 0;
    test_abstain[s] = r.abstain[cell];
  }
  r.first_member = score(first_member, test_labels);
  r.ensemble_scores = score(raw, test_labels);
  r.calibrated = score(calibrated, test_labels);
  // The calls alone, scored as stage 4 and the monitoring score them (an abstention is no call).
  r.acting = classification_scores(calibrated, test_labels, test_abstain);
  r.coverage = r.acting.coverage;
  r.acting_accuracy = r.acting.accuracy;
  r.acting_count = r.acting.calls;
}

}  // namespace

MovementResult predict_movements(const data::Universe& u, const std::vector<MovementMember>& given,
                                 const MovementSpec& spec) {
  const std::int64_t D = u.day_count(), N = u.ticker_count();
  const LabelSpec target = common_target(given);
  const Tensor labels = make_labels(u, target);  // NaN where the outcome is unknown
  MovementResult r;
  std::vector<MovementMember> members = given;
  if (spec.sentiment.defined()) add_sentiment_member(spec.sentiment, labels, target, members, r);
  const auto K = static_cast<std::size_t>(spec.regime_states);
  if (spec.exposure_by_regime.size() != K || spec.confidence_by_regime.size() != K ||
      spec.threshold_by_regime.size() != K)
    fail("the regime tables need one value per state (" + std::to_string(K) + ")");
  r.label = target;
  r.first_day = members[0].test.first_day;
  r.last_day = members[0].test.last_day;
  for (const auto& m : given) {
    if (m.test.probability.numel() != D * N || m.cv.probability.numel() != D * N)
      fail(m.name + ": predictions are not on this store's calendar");
    r.first_day = std::min(r.first_day, m.test.first_day);
    r.last_day = std::max(r.last_day, m.test.last_day);
  }
  for (const auto& m : members) r.member_names.push_back(m.name);
  if (r.last_day < r.first_day) fail("the members hold no test predictions");

  const std::vector<Cell> cv_cells = cells_of(members, D, N, r.first_day, r.last_day, true);
  const std::vector<Cell> test_cells = cells_of(members, D, N, r.first_day, r.last_day, false);
  if (cv_cells.size() < 100) fail("fewer than 100 CV predictions before the test period to fit on");
  const EnsembleMembers cv_panel = panel_of(members, cv_cells, N, true);
  const EnsembleMembers test_panel = panel_of(members, test_cells, N, false);
  auto labels_of = [&](const std::vector<Cell>& cells) {
    std::vector<double> out(cells.size());
    for (std::size_t s = 0; s < cells.size(); ++s)
      out[s] = labels.data<double>()[cells[s].d * N + cells[s].i];
    return out;
  };
  const std::vector<double> cv_labels = labels_of(cv_cells), test_labels = labels_of(test_cells);

  fit_ensemble_and_calibrator(spec, cv_cells, cv_panel, cv_labels, r);
  fit_regime(u, spec, r);
  predict_test_cells(u, spec, target, test_cells, test_panel, test_labels, r);
  std::ostringstream about;
  about << members.size() << " member(s)"
        << (r.sentiment_cells > 0 ? " (one of them headline sentiment)" : "") << ", ensemble "
        << spec.ensemble << ", calibration " << spec.calibration << ", regime "
        << (spec.use_regime ? std::to_string(spec.regime_states) + "-state HMM (filtered)"
                            : std::string("off"));
  r.description = about.str();
  return r;
}

std::vector<std::int64_t> most_confident_first(const MovementResult& r, std::int64_t N, std::int64_t day) {
  std::vector<std::int64_t> order;
  for (std::int64_t i = 0; i < N; ++i)
    if (std::isfinite(r.probability.data<double>()[day * N + i])) order.push_back(i);
  const auto raw_distance = [&](std::int64_t i) {
    const double raw = r.ensemble_probability.data<double>()[day * N + i];
    return std::isfinite(raw) ? std::abs(raw - 0.5) : -1.0;
  };
  std::sort(order.begin(), order.end(), [&](std::int64_t a, std::int64_t b) {
    const double ca = r.confidence.data<double>()[day * N + a], cb = r.confidence.data<double>()[day * N + b];
    if (ca != cb) return ca > cb;
    const double ra = raw_distance(a), rb = raw_distance(b);
    return ra != rb ? ra > rb : a < b;
  });
  return order;
}

std::string movement_table(const MovementResult& r, const data::Universe& u, std::int64_t day, int rows) {
  const std::int64_t N = u.ticker_count();
  const std::vector<std::int64_t> order = most_confident_first(r, N, day);
  std::ostringstream t;
  t.setf(std::ios::fixed);
  t.precision(3);
  const int state = r.regime_state[static_cast<std::size_t>(day)];
  t << data::format_date(u.days[static_cast<std::size_t>(day)]) << ": regime " << state
    << " (P = " << r.regime_probability[static_cast<std::size_t>(day * r.hmm.states + std::max(state, 0))]
    << "), exposure " << r.regime_exposure[static_cast<std::size_t>(day)] << "\n"
    << "ticker    P(up)  raw P  E[return]  confidence  disagreement  action\n";
  for (std::size_t k = 0; k < order.size() && static_cast<int>(k) < rows; ++k) {
    const std::int64_t i = order[k], cell = day * N + i;
    const double p = r.probability.data<double>()[cell];
    char line[160];
    std::snprintf(line, sizeof line, "%-8s %6.3f %6.3f %+9.4f %11.3f %13.3f  %s\n",
                  u.tickers[static_cast<std::size_t>(i)].c_str(), p,
                  r.ensemble_probability.data<double>()[cell], r.expected_return.data<double>()[cell],
                  r.confidence.data<double>()[cell], r.disagreement.data<double>()[cell],
                  r.abstain[static_cast<std::size_t>(cell)] ? "abstain" : (p > 0.5 ? "up" : "down"));
    t << line;
  }
  return t.str();
}

namespace {

std::vector<std::string> format_dates(const data::Universe& u) {
  std::vector<std::string> dates;
  for (const auto& x : u.days) dates.push_back(data::format_date(x));
  return dates;
}

// predictions.h5: every panel of the result, the regime model, and the test predictions in the registry
// layout (so that stages 3 and 4 read this file as a --registry).
void write_predictions_h5(const std::filesystem::path& file, const MovementResult& r,
                          const data::Universe& u) {
  const std::int64_t D = u.day_count(), N = u.ticker_count();
  const auto K = static_cast<std::int64_t>(r.hmm.states);
  h5::write_atomically(file, [&](h5::File& f) {
    f.set_attr("/", "format", std::string("quantforge.predictions"));
    f.set_attr("/", "description", r.description);
    write_label_attributes(f, "/", r.label);
    f.write_strings("/tickers", u.tickers);
    f.write_strings("/dates", format_dates(u));
    for (const auto& [name, t] : {std::pair<const char*, const Tensor*>{"/probability", &r.probability},
                                  {"/ensemble_probability", &r.ensemble_probability},
                                  {"/confidence", &r.confidence},
                                  {"/disagreement", &r.disagreement},
                                  {"/expected_return", &r.expected_return}})
      f.write(name, *t, 4);
    f.write_bytes("/abstain", r.abstain, {D, N}, 4);
    f.write("/regime/probability", Tensor::from<double>(r.regime_probability, {D, K}));
    std::vector<double> state(r.regime_state.begin(), r.regime_state.end());
    f.write("/regime/state", Tensor::from<double>(state, {D}));
    f.write("/regime_exposure", Tensor::from<double>(r.regime_exposure, {D}));
    f.write("/regime/means", Tensor::from<double>(r.hmm.means, {K, r.hmm.features}));
    f.write("/regime/variances", Tensor::from<double>(r.hmm.variances, {K, r.hmm.features}));
    f.write("/regime/transition", Tensor::from<double>(r.hmm.transition, {K, K}));
    // The registry layout of the test predictions: the final probability, and beside it the abstain flag
    // (1: no call, no position), so that the probability is still scored as one while the accuracy
    // counts only the calls.
    std::vector<double> ticker, dayv, probability, abstain, label, traded_return;
    const std::vector<double> next = traded_returns(u, r.label.timing);
    const Tensor up = make_labels(u, r.label);
    for (std::int64_t d = r.first_day; d <= r.last_day; ++d)
      for (std::int64_t i = 0; i < N; ++i) {
        const double p = r.probability.data<double>()[d * N + i];
        if (!std::isfinite(p)) continue;
        ticker.push_back(static_cast<double>(i));
        dayv.push_back(static_cast<double>(d));
        probability.push_back(p);
        abstain.push_back(r.abstain[static_cast<std::size_t>(d * N + i)] ? 1.0 : 0.0);
        label.push_back(up.data<double>()[d * N + i]);
        traded_return.push_back(next[static_cast<std::size_t>(d * N + i)]);
      }
    write_prediction_columns(f, "/test_predictions",
                             {ticker, dayv, probability, label, traded_return, abstain});
  });
}

// predictions.csv: the day's table, every stock with a prediction, most confident first, the raw score
// beside the calibrated one.
std::string predictions_csv(const MovementResult& r, const data::Universe& u, std::int64_t day) {
  const std::int64_t N = u.ticker_count();
  const auto K = static_cast<std::int64_t>(r.hmm.states);
  std::ostringstream csv;
  csv.precision(8);
  csv << "date,ticker,probability,raw_probability,expected_return,confidence,abstain,disagreement,regime,"
         "regime_probability";
  for (const auto& name : r.member_names) {  // ".../reference/registry.h5#fold1" -> reference#fold1
    const auto hash = name.find('#');
    csv << ",member:" << std::filesystem::path(name.substr(0, hash)).parent_path().filename().string()
        << (hash == std::string::npos ? "" : name.substr(hash));
  }
  csv << "\n";
  const std::vector<std::int64_t> order = most_confident_first(r, N, day);
  const int state = r.regime_state[static_cast<std::size_t>(day)];
  const std::string date = data::format_date(u.days[static_cast<std::size_t>(day)]);
  for (const std::int64_t i : order) {
    const std::int64_t cell = day * N + i;
    csv << date << ',' << u.tickers[static_cast<std::size_t>(i)] << ',' << r.probability.data<double>()[cell]
        << ',' << r.ensemble_probability.data<double>()[cell] << ',' << r.expected_return.data<double>()[cell]
        << ',' << r.confidence.data<double>()[cell] << ',' << int(r.abstain[static_cast<std::size_t>(cell)])
        << ',' << r.disagreement.data<double>()[cell] << ',' << state << ','
        << r.regime_probability[static_cast<std::size_t>(day * K + std::max(state, 0))];
    for (const auto& m : r.member_probability) csv << ',' << m[static_cast<std::size_t>(cell)];
    csv << "\n";
  }
  return csv.str();
}

data::Json scores_json(const MovementScores& s) {
  data::Json reliability = data::Json::array();
  for (const auto& bin : s.reliability)
    reliability.push_back({{"lower", bin.lower},
                           {"upper", bin.upper},
                           {"mean_probability", bin.mean_probability},
                           {"frequency", bin.frequency},
                           {"count", bin.count}});
  return {{"count", s.scores.count},
          {"accuracy", s.scores.accuracy},
          {"auc", s.scores.auc},
          {"brier", s.scores.brier},
          {"log_loss", s.scores.log_loss},
          {"expected_calibration_error", s.expected_calibration_error},
          {"reliability", std::move(reliability)}};
}

// summary.json: the settings, the ensemble, the calibrator, the regime model and the scores.
data::Json summary_json(const MovementResult& r, const data::Universe& u, std::int64_t day) {
  auto date = [&](std::int64_t d) { return data::format_date(u.days[static_cast<std::size_t>(d)]); };
  const auto& acting = r.acting;
  data::Json test = {{"first_member", scores_json(r.first_member)},
                     {"ensemble", scores_json(r.ensemble_scores)},
                     {"calibrated", scores_json(r.calibrated)},
                     {"coverage", r.coverage},
                     {"acting_count", r.acting_count},
                     {"acting_accuracy", accuracy_json(r.acting_accuracy)},
                     {"acting_balanced_accuracy", acting.balanced_accuracy},
                     {"confusion",
                      {{"tp", acting.true_positives},
                       {"fp", acting.false_positives},
                       {"tn", acting.true_negatives},
                       {"fn", acting.false_negatives}}}};
  return {{"description", r.description},
          {"target", r.label.describe()},
          {"test_period", {{"first", date(r.first_day)}, {"last", date(r.last_day)}}},
          {"day", date(day)},
          {"members", r.member_names},
          {"ensemble",
           {{"method", r.ensemble.method},
            {"weights", r.ensemble.weights},
            {"stacking_coefficients", r.ensemble.meta}}},
          {"calibration",
           {{"method", r.calibrator.method},
            {"platt_slope", r.calibrator.platt.slope},
            {"platt_intercept", r.calibrator.platt.intercept},
            {"isotonic_knots", r.calibrator.isotonic.x.size()}}},
          {"regime",
           {{"states", r.hmm.states},
            {"means", r.hmm.means},
            {"variances", r.hmm.variances},
            {"transition", r.hmm.transition}}},
          {"cv_ensemble", scores_json(r.cv_ensemble)},
          {"test", std::move(test)}};
}

}  // namespace

void write_movement_output(const std::filesystem::path& folder, const MovementResult& r,
                           const data::Universe& u, std::int64_t day) {
  std::filesystem::create_directories(folder);
  write_predictions_h5(folder / "predictions.h5", r, u);
  data::write_text_atomically(folder / "predictions.csv", predictions_csv(r, u, day));
  data::write_text_atomically(folder / "summary.json", data::json_text(summary_json(r, u, day)));
}

}  // namespace qf::quant
