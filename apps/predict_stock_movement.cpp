// Stage 5 of the plan: calibrated, regime-aware ensemble predictions (qf/quant/forecast/prediction.h) from one
// or more stage-2 registries (the ensemble's members). The registries' test predictions end at the
// last labelled day; the days after it, up to the store's last day (today, after a daily update), are
// predicted by the registries' models, reloaded. Writes <out>/predictions.h5 (every day of the
// test period and after; readable as a --registry by portfolio_optimizer and run_backtest_evaluation, and
// with /regime_exposure for portfolio_optimizer --regime), predictions.csv (the chosen day, sorted by
// confidence) and summary.json (scores, reliability curves, the regime model), and prints the day's
// table.
#include <boost/program_options.hpp>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "blas_kernels.h"
#include "command_line.h"
#include "qf/data/csv.h"
#include "qf/data/store.h"
#include "qf/quant/forecast/prediction.h"
#include "qf/quant/forecast/sentiment.h"
#include "qf/quant/study/registry_models.h"
#include "qf/tensor/hdf5.h"

namespace po = boost::program_options;
namespace fs = std::filesystem;

namespace {

std::vector<double> parse_list(const std::string& text, const char* option) {
  std::vector<double> out;
  std::stringstream in(text);
  for (std::string item; std::getline(in, item, ',');) {
    try {
      out.push_back(std::stod(item));
    } catch (const std::exception&) {
      throw po::error(std::string(option) + ": expected comma-separated numbers, got '" + text + "'");
    }
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) try {
  qf::apps::use_best_blas_kernels(argv);
  std::string store = "out/universe.h5", out = "out/prediction", date, exposure = "1,0.6",
              confidence = "1,0.75", threshold = "0.02,0.04";
  std::vector<std::string> registries, lexicons;
  std::string headlines, scorer = "lexicon",
                         scorer_train = "../shared/data/sentiment/financial_phrasebank_50agree.txt";
  qf::quant::MovementSpec spec;
  bool no_regime = false, no_live = false, fold_members = false;
  int rows = 20;
  po::options_description options(
      "predict_stock_movement: calibrated, regime-aware ensemble predictions from stage-2 registries");
  // clang-format off
  options.add_options()
      ("help,h", "show this help")
      ("store", po::value(&store)->default_value(store), "universe store (process_new_data)")
      ("registry", po::value(&registries)->multitoken(),
       "one or more model registries (run_lstm_training), the ensemble's members (default out/training/registry.h5)")
      ("out", po::value(&out)->default_value(out), "output folder")
      ("ensemble", po::value(&spec.ensemble)->default_value(spec.ensemble), "mean, cv_weighted or stacking")
      ("fold-members", po::bool_switch(&fold_members),
       "each registry's CV fold models join as members too (on CV days: their own out-of-fold block; "
       "from the test period on: their predictions, up to the calendar the registry was trained on)")
      ("calibration", po::value(&spec.calibration)->default_value(spec.calibration), "none, platt or isotonic")
      ("regime-states", po::value(&spec.regime_states)->default_value(spec.regime_states), "HMM states, 2 to 4")
      ("no-regime", po::bool_switch(&no_regime), "confidence and exposure ignore the regime")
      ("regime-exposure", po::value(&exposure)->default_value(exposure),
       "exposure factor per regime state, calm first (for portfolio_optimizer --regime)")
      ("regime-confidence", po::value(&confidence)->default_value(confidence), "confidence factor per regime state")
      ("regime-threshold", po::value(&threshold)->default_value(threshold),
       "abstain below this confidence, per regime state")
      ("headlines", po::value(&headlines),
       "dated headlines (CSV date,ticker,text): their daily lexicon sentiment joins the ensemble (the synthetic "
       "default's, whose tone follows the traded return of its day, a planted signal: <store folder>/synthetic/headlines.csv)")
      ("scorer", po::value(&scorer)->default_value(scorer),
       "headline scorer: lexicon (ours, with --lexicon lists) or bag_of_words (trained on --scorer-train)")
      ("scorer-train", po::value(&scorer_train)->default_value(scorer_train),
       "labelled text for --scorer bag_of_words: PhraseBank (sentence@label) or a tweets CSV (text,label)")
      ("lexicon", po::value(&lexicons)->multitoken(),
       "extra word lists for the sentiment lexicon (word<TAB>weight lines; see qf/quant/forecast/sentiment.h)")
      ("no-live", po::bool_switch(&no_live),
       "only the registries' saved test predictions: no reloaded models for the store's days after them")
      ("date", po::value(&date), "the day to report (YYYY-MM-DD; default: the store's last day)")
      ("rows", po::value(&rows)->default_value(rows), "rows of the printed table");
  // clang-format on
  qf::apps::TradeTimingOptions timing;
  timing.add_to(options);
  if (!qf::apps::parse_command_line(argc, argv, options)) return 0;
  if (registries.empty()) registries = {"out/training/registry.h5"};
  spec.use_regime = !no_regime;
  spec.exposure_by_regime = parse_list(exposure, "--regime-exposure");
  spec.confidence_by_regime = parse_list(confidence, "--regime-confidence");
  spec.threshold_by_regime = parse_list(threshold, "--regime-threshold");
  for (const auto& f : registries)
    if (!fs::exists(f)) throw qf::data::InputError(f, 0, "", "no such file (run run_lstm_training first)");
  if (!fs::exists(store))
    throw qf::data::InputError(store, 0, "", "no such file (run process_new_data first)");

  qf::data::FeaturePanels panels;
  const qf::data::Universe universe = qf::data::read_universe(store, no_live ? nullptr : &panels);
  const std::int64_t last_store_day = universe.day_count() - 1;
  std::vector<qf::quant::MovementMember> members;
  for (const auto& path : registries) {
    qf::quant::MovementMember m;
    m.name = path;
    m.test = qf::quant::read_registry_predictions(path, universe, "/test_predictions");
    qf::quant::require_same_timing(m.test.label, path, timing.timing(), "predict_stock_movement");
    const qf::h5::File f(path, qf::h5::File::Mode::read);
    if (!f.exists("/cv_predictions/probability") || f.read("/cv_predictions/probability").numel() == 0)
      throw qf::data::InputError(path, 0, "/cv_predictions",
                                 "no out-of-fold predictions to fit the ensemble and calibration on "
                                 "(train with --cv)");
    m.cv = qf::quant::read_registry_predictions(path, universe, "/cv_predictions");
    const std::vector<qf::quant::FoldScore> folds = qf::quant::read_cv_fold_scores(path);
    double accuracy_sum = 0;
    for (const auto& fold : folds) accuracy_sum += fold.accuracy;
    m.cv_score = folds.empty() ? 0.5 : accuracy_sum / static_cast<double>(folds.size());
    if (!no_live && m.test.last_day < last_store_day) {
      // Days after the registry's last labelled day (always the store's last day): its models, reloaded.
      const auto live =
          qf::quant::predict_from_registry(path, universe, panels, m.test.last_day + 1, last_store_day);
      std::int64_t added = 0;
      for (std::int64_t d = m.test.last_day + 1; d <= live.last_day; ++d)
        for (std::int64_t i = 0; i < universe.ticker_count(); ++i) {
          const double p = live.probability.data<double>()[d * universe.ticker_count() + i];
          if (std::isnan(p)) continue;
          m.test.probability.data<double>()[d * universe.ticker_count() + i] = p;
          ++added;
        }
      if (added > 0)
        std::printf(
            "%s: %lld predictions for %s .. %s from its reloaded models\n", path.c_str(),
            static_cast<long long>(added),
            qf::data::format_date(universe.days[static_cast<std::size_t>(m.test.last_day + 1)]).c_str(),
            qf::data::format_date(universe.days[static_cast<std::size_t>(live.last_day)]).c_str());
      m.test.last_day = std::max(m.test.last_day, live.last_day);
    }
    members.push_back(std::move(m));
    for (std::size_t k = 0; fold_members && k < folds.size(); ++k) {
      if (!f.exists("/fold_predictions"))
        throw qf::data::InputError(path, 0, "/fold_predictions",
                                   "no fold models' predictions (trained before fold ensembles: retrain)");
      qf::quant::MovementMember fm;
      fm.name = path + "#fold" + std::to_string(k);
      try {
        fm.cv = qf::quant::read_registry_predictions(path, universe, "/cv_predictions", static_cast<int>(k));
        fm.test =
            qf::quant::read_registry_predictions(path, universe, "/fold_predictions", static_cast<int>(k));
      } catch (const std::runtime_error& e) {  // a fold every ticker skipped or failed
        std::fprintf(stderr, "predict_stock_movement: warning: fold %zu left out: %s\n", k, e.what());
        continue;
      }
      fm.cv_score = folds[k].accuracy;
      members.push_back(std::move(fm));
    }
  }
  if (!headlines.empty()) {
    std::int64_t unmatched = 0;
    const auto read = qf::quant::read_headlines(headlines);
    if (scorer == "bag_of_words") {
      if (!fs::exists(scorer_train))
        throw qf::data::InputError(scorer_train, 0, "", "no such file (--scorer-train)");
      const auto labelled = fs::path(scorer_train).extension() == ".csv"
                                ? qf::quant::read_finance_tweets(scorer_train)
                                : qf::quant::read_phrasebank(scorer_train);
      const auto model = qf::quant::train_bag_of_words(labelled);
      std::printf("bag-of-words scorer: %zu texts of %s, %zu words\n", labelled.text.size(),
                  scorer_train.c_str(), model.vocabulary_size());
      spec.sentiment = qf::quant::daily_sentiment(
          universe, read, [&](const std::string& text) { return model.score(text); }, &unmatched);
    } else if (scorer == "lexicon") {
      auto lexicon = qf::quant::finance_lexicon();
      for (const auto& l : lexicons) qf::quant::read_lexicon(l, lexicon);
      spec.sentiment = qf::quant::daily_sentiment(universe, read, lexicon, &unmatched);
    } else {
      throw po::error("--scorer: expected lexicon or bag_of_words, got '" + scorer + "'");
    }
    std::printf("headlines: %zu read from %s, %lld outside the store's tickers or calendar\n", read.size(),
                headlines.c_str(), static_cast<long long>(unmatched));
  }
  const auto result = qf::quant::predict_movements(universe, members, spec);
  std::int64_t day = result.last_day;
  if (!date.empty()) {
    qf::data::Day wanted{};
    if (!qf::data::parse_date(date, wanted))
      throw po::error("--date: expected YYYY-MM-DD, got '" + date + "'");
    day = -1;
    for (std::int64_t d = result.first_day; d <= result.last_day; ++d)
      if (universe.days[static_cast<std::size_t>(d)] == wanted) day = d;
    if (day < 0)
      throw po::error("--date " + date + " is not a day of the test period (" +
                      qf::data::format_date(universe.days[static_cast<std::size_t>(result.first_day)]) +
                      " .. " +
                      qf::data::format_date(universe.days[static_cast<std::size_t>(result.last_day)]) + ")");
  }
  qf::quant::write_movement_output(out, result, universe, day);
  std::printf("predict_stock_movement: %s\n", result.description.c_str());
  auto line = [](const char* name, const qf::quant::MovementScores& s) {
    std::printf("  %-22s accuracy %.4f  AUC %.4f  Brier %.5f  log loss %.5f  ECE %.4f  (%ld predictions)\n",
                name, s.scores.accuracy, s.scores.auc, s.scores.brier, s.scores.log_loss,
                s.expected_calibration_error, s.scores.count);
  };
  std::printf("test period %s .. %s:\n",
              qf::data::format_date(universe.days[static_cast<std::size_t>(result.first_day)]).c_str(),
              qf::data::format_date(universe.days[static_cast<std::size_t>(result.last_day)]).c_str());
  line("first member", result.first_member);
  line("ensemble", result.ensemble_scores);
  line("calibrated", result.calibrated);
  std::printf("  acting on %.1f %% of predictions (the rest abstain): accuracy %s over %lld calls\n",
              100 * result.coverage, qf::quant::accuracy_text(result.acting_accuracy).c_str(),
              static_cast<long long>(result.acting_count));
  std::printf("%s-> %s/predictions.h5, predictions.csv, summary.json\n",
              qf::quant::movement_table(result, universe, day, rows).c_str(), out.c_str());
  return 0;
} catch (const qf::data::InputError& e) {
  std::fprintf(stderr, "predict_stock_movement: bad input: %s\n", e.what());
  return 1;
} catch (const boost::program_options::error& e) {
  std::fprintf(stderr, "predict_stock_movement: %s (see --help)\n", e.what());
  return 2;
} catch (const std::exception& e) {
  std::fprintf(stderr, "predict_stock_movement: %s\n", e.what());
  return 1;
}
