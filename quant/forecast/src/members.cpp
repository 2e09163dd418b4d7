#include "qf/quant/forecast/members.h"

#include <cmath>
#include <cstdio>
#include <stdexcept>

#include "qf/data/csv.h"
#include "qf/quant/forecast/sentiment.h"
#include "qf/quant/signals/labels.h"
#include "qf/quant/study/registry_models.h"
#include "qf/tensor/hdf5.h"

namespace fs = std::filesystem;

namespace qf::quant {

namespace {

// The registry's test predictions over the store's days after them, from its reloaded models; returns
// a note saying what was added (empty when nothing was).
std::string extend_with_live_predictions(MovementMember& m, const std::string& path, const data::Universe& u,
                                         const data::FeaturePanels& panels) {
  const std::int64_t last_store_day = u.day_count() - 1, N = u.ticker_count();
  if (m.test.last_day >= last_store_day) return "";
  const auto live = predict_from_registry(path, u, panels, m.test.last_day + 1, last_store_day);
  std::int64_t added = 0;
  for (std::int64_t d = m.test.last_day + 1; d <= live.last_day; ++d)
    for (std::int64_t i = 0; i < N; ++i) {
      const double p = live.probability.data<double>()[d * N + i];
      if (std::isnan(p)) continue;
      m.test.probability.data<double>()[d * N + i] = p;
      ++added;
    }
  std::string note;
  if (added > 0) {
    char text[512];
    std::snprintf(text, sizeof text, "%s: %lld predictions for %s .. %s from its reloaded models",
                  path.c_str(), static_cast<long long>(added),
                  data::format_date(u.days[static_cast<std::size_t>(m.test.last_day + 1)]).c_str(),
                  data::format_date(u.days[static_cast<std::size_t>(live.last_day)]).c_str());
    note = text;
  }
  m.test.last_day = std::max(m.test.last_day, live.last_day);
  return note;
}

// The registry's CV fold models as members; a fold that every ticker skipped or failed is left out with
// a warning.
void add_fold_members(const std::string& path, const data::Universe& u, const std::vector<FoldScore>& folds,
                      RegistryMembers& out) {
  const h5::File f(path, h5::File::Mode::read);
  for (std::size_t k = 0; k < folds.size(); ++k) {
    if (!f.exists("/fold_predictions"))
      throw data::InputError(path, 0, "/fold_predictions",
                             "no fold models' predictions (trained before fold ensembles: retrain)");
    MovementMember fm;
    fm.name = path + "#fold" + std::to_string(k);
    try {
      fm.cv = read_registry_predictions(path, u, "/cv_predictions", static_cast<int>(k));
      fm.test = read_registry_predictions(path, u, "/fold_predictions", static_cast<int>(k));
    } catch (const std::runtime_error& e) {
      out.warnings.push_back("fold " + std::to_string(k) + " left out: " + e.what());
      continue;
    }
    fm.cv_score = folds[k].accuracy;
    out.members.push_back(std::move(fm));
  }
}

}  // namespace

RegistryMembers registry_members(const data::Universe& u, const data::FeaturePanels* panels,
                                 const std::vector<std::string>& registries, const data::TradeTiming& timing,
                                 bool fold_members) {
  RegistryMembers out;
  for (const auto& path : registries) {
    MovementMember m;
    m.name = path;
    m.test = read_registry_predictions(path, u, "/test_predictions");
    require_same_timing(m.test.label, path, timing, "predict_stock_movement");
    const h5::File f(path, h5::File::Mode::read);
    if (!f.exists("/cv_predictions/probability") || f.read("/cv_predictions/probability").numel() == 0)
      throw data::InputError(path, 0, "/cv_predictions",
                             "no out-of-fold predictions to fit the ensemble and calibration on "
                             "(train with --cv)");
    m.cv = read_registry_predictions(path, u, "/cv_predictions");
    const std::vector<FoldScore> folds = read_cv_fold_scores(path);
    double accuracy_sum = 0;
    for (const auto& fold : folds) accuracy_sum += fold.accuracy;
    m.cv_score = folds.empty() ? 0.5 : accuracy_sum / static_cast<double>(folds.size());
    if (panels)
      if (auto note = extend_with_live_predictions(m, path, u, *panels); !note.empty())
        out.notes.push_back(std::move(note));
    out.members.push_back(std::move(m));
    if (fold_members) add_fold_members(path, u, folds, out);
  }
  return out;
}

Tensor headline_sentiment(const data::Universe& u, const HeadlineSpec& spec,
                          std::vector<std::string>& notes) {
  std::int64_t unmatched = 0;
  const auto headlines = read_headlines(spec.file);
  Tensor sentiment;
  if (spec.scorer == "bag_of_words") {
    if (!fs::exists(spec.scorer_train))
      throw data::InputError(spec.scorer_train.string(), 0, "", "no such file (--scorer-train)");
    const auto labelled = spec.scorer_train.extension() == ".csv" ? read_finance_tweets(spec.scorer_train)
                                                                  : read_phrasebank(spec.scorer_train);
    const auto model = train_bag_of_words(labelled);
    notes.push_back("bag-of-words scorer: " + std::to_string(labelled.text.size()) + " texts of " +
                    spec.scorer_train.string() + ", " + std::to_string(model.vocabulary_size()) + " words");
    sentiment = daily_sentiment(
        u, headlines, [&](const std::string& text) { return model.score(text); }, &unmatched);
  } else if (spec.scorer == "lexicon") {
    auto lexicon = finance_lexicon();
    for (const auto& l : spec.lexicons) read_lexicon(l, lexicon);
    sentiment = daily_sentiment(u, headlines, lexicon, &unmatched);
  } else {
    throw std::invalid_argument("headline scorer: expected lexicon or bag_of_words, got '" + spec.scorer +
                                "'");
  }
  notes.push_back("headlines: " + std::to_string(headlines.size()) + " read from " + spec.file.string() +
                  ", " + std::to_string(unmatched) + " outside the store's tickers or calendar");
  return sentiment;
}

}  // namespace qf::quant
