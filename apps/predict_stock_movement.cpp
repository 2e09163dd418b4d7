// Stage 5 of the plan: calibrated, regime-aware ensemble predictions (qf/quant/forecast/prediction.h) from
// one or more stage-2 registries (the ensemble's members). The registries' test predictions end at the last
// labelled day; the days after it, up to the store's last day (today, after a daily update), are predicted by
// the registries' models, reloaded. Writes <out>/predictions.h5 (every day of the test period and after;
// readable as a --registry by portfolio_optimizer and run_backtest_evaluation, and with /regime_exposure for
// portfolio_optimizer --regime), predictions.csv (the chosen day, sorted by confidence) and summary.json
// (scores, reliability curves, the regime model), and prints the day's table.
#include <boost/program_options.hpp>
#include <cstdio>

#include "blas_kernels.h"
#include "command_line.h"
#include "qf/data/csv.h"
#include "qf/data/store.h"
#include "qf/quant/forecast/members.h"
#include "qf/quant/forecast/prediction.h"

namespace po = boost::program_options;
namespace fs = std::filesystem;

namespace {

struct Settings {
  std::string store = "out/universe.h5", out = "out/prediction", date, exposure = "1,0.6",
              confidence = "1,0.75", threshold = "0.02,0.04";
  std::vector<std::string> registries;
  qf::quant::HeadlineSpec headlines;
  std::string headline_file, scorer_train = "../shared/data/sentiment/financial_phrasebank_50agree.txt";
  std::vector<std::string> lexicons;
  qf::quant::MovementSpec spec;
  bool no_regime = false, no_live = false, fold_members = false;
  int rows = 20;
  qf::apps::TradeTimingOptions timing;
};

void describe_options(po::options_description& options, Settings& s) {
  options.add_options()("help,h", "show this help");
  qf::apps::add_store_option(options, s.store);
  // clang-format off
  options.add_options()
      ("registry", po::value(&s.registries)->multitoken(),
       "one or more model registries (run_lstm_training), the ensemble's members (default out/training/registry.h5)");
  qf::apps::add_out_option(options, s.out);
  options.add_options()
      ("ensemble", po::value(&s.spec.ensemble)->default_value(s.spec.ensemble), "mean, cv_weighted or stacking")
      ("fold-members", po::bool_switch(&s.fold_members),
       "each registry's CV fold models join as members too (on CV days: their own out-of-fold block; "
       "from the test period on: their predictions, up to the calendar the registry was trained on)")
      ("calibration", po::value(&s.spec.calibration)->default_value(s.spec.calibration), "none, platt or isotonic")
      ("regime-states", po::value(&s.spec.regime_states)->default_value(s.spec.regime_states), "HMM states, 2 to 4")
      ("no-regime", po::bool_switch(&s.no_regime), "confidence and exposure ignore the regime")
      ("regime-exposure", po::value(&s.exposure)->default_value(s.exposure),
       "exposure factor per regime state, calm first (for portfolio_optimizer --regime)")
      ("regime-confidence", po::value(&s.confidence)->default_value(s.confidence), "confidence factor per regime state")
      ("regime-threshold", po::value(&s.threshold)->default_value(s.threshold),
       "abstain below this confidence, per regime state")
      ("headlines", po::value(&s.headline_file),
       "dated headlines (CSV date,ticker,text): their daily lexicon sentiment joins the ensemble (the synthetic "
       "default's, whose tone follows the traded return of its day, a planted signal: <store folder>/synthetic/headlines.csv)")
      ("scorer", po::value(&s.headlines.scorer)->default_value(s.headlines.scorer),
       "headline scorer: lexicon (ours, with --lexicon lists) or bag_of_words (trained on --scorer-train)")
      ("scorer-train", po::value(&s.scorer_train)->default_value(s.scorer_train),
       "labelled text for --scorer bag_of_words: PhraseBank (sentence@label) or a tweets CSV (text,label)")
      ("lexicon", po::value(&s.lexicons)->multitoken(),
       "extra word lists for the sentiment lexicon (word<TAB>weight lines; see qf/quant/forecast/sentiment.h)")
      ("no-live", po::bool_switch(&s.no_live),
       "only the registries' saved test predictions: no reloaded models for the store's days after them")
      ("date", po::value(&s.date), "the day to report (YYYY-MM-DD; default: the store's last day)")
      ("rows", po::value(&s.rows)->default_value(s.rows), "rows of the printed table");
  // clang-format on
  s.timing.add_to(options);
}

// The settings after parsing: defaults that depend on others, the per-regime tables, the headline spec.
void finish_settings(Settings& s) {
  using qf::apps::parse_list;
  if (s.registries.empty()) s.registries = {"out/training/registry.h5"};
  s.spec.use_regime = !s.no_regime;
  s.spec.exposure_by_regime = parse_list<double>(s.exposure, "regime-exposure");
  s.spec.confidence_by_regime = parse_list<double>(s.confidence, "regime-confidence");
  s.spec.threshold_by_regime = parse_list<double>(s.threshold, "regime-threshold");
  if (s.headlines.scorer != "lexicon" && s.headlines.scorer != "bag_of_words")
    throw po::error("--scorer: expected lexicon or bag_of_words, got '" + s.headlines.scorer + "'");
  s.headlines.file = s.headline_file;
  s.headlines.scorer_train = s.scorer_train;
  s.headlines.lexicons.assign(s.lexicons.begin(), s.lexicons.end());
}

// --date as a day of the test period (default: its last day).
std::int64_t report_day(const std::string& date, const qf::quant::MovementResult& r,
                        const qf::data::Universe& u) {
  if (date.empty()) return r.last_day;
  qf::data::Day wanted{};
  if (!qf::data::parse_date(date, wanted)) throw po::error("--date: expected YYYY-MM-DD, got '" + date + "'");
  for (std::int64_t d = r.first_day; d <= r.last_day; ++d)
    if (u.days[static_cast<std::size_t>(d)] == wanted) return d;
  throw po::error("--date " + date + " is not a day of the test period (" +
                  qf::data::format_date(u.days[static_cast<std::size_t>(r.first_day)]) + " .. " +
                  qf::data::format_date(u.days[static_cast<std::size_t>(r.last_day)]) + ")");
}

void print_scores(const qf::quant::MovementResult& result, const qf::data::Universe& universe) {
  auto line = [](const char* name, const qf::quant::MovementScores& s) {
    std::printf("  %-22s accuracy %.4f  AUC %.4f  Brier %.5f  log loss %.5f  ECE %.4f  (%ld predictions)\n",
                name, s.scores.accuracy, s.scores.auc, s.scores.brier, s.scores.log_loss,
                s.expected_calibration_error, s.scores.count);
  };
  std::printf("predict_stock_movement: %s\n", result.description.c_str());
  std::printf("test period %s .. %s:\n",
              qf::data::format_date(universe.days[static_cast<std::size_t>(result.first_day)]).c_str(),
              qf::data::format_date(universe.days[static_cast<std::size_t>(result.last_day)]).c_str());
  line("first member", result.first_member);
  line("ensemble", result.ensemble_scores);
  line("calibrated", result.calibrated);
  std::printf("  acting on %.1f %% of predictions (the rest abstain): accuracy %s over %lld calls\n",
              100 * result.coverage, qf::quant::accuracy_text(result.acting_accuracy).c_str(),
              static_cast<long long>(result.acting_count));
}

}  // namespace

int main(int argc, char** argv) {
  qf::apps::use_best_blas_kernels(argv);
  return qf::apps::run_app("predict_stock_movement", [&] {
    Settings s;
    po::options_description options(
        "predict_stock_movement: calibrated, regime-aware ensemble predictions from stage-2 registries");
    describe_options(options, s);
    if (!qf::apps::parse_command_line(argc, argv, options)) return 0;
    finish_settings(s);
    qf::apps::require_files(s.registries, "run run_lstm_training first");
    qf::apps::require_files({s.store}, "run process_new_data first");

    qf::data::FeaturePanels panels;
    const qf::data::Universe universe = qf::data::read_universe(s.store, s.no_live ? nullptr : &panels);
    const auto members = qf::quant::registry_members(universe, s.no_live ? nullptr : &panels, s.registries,
                                                     s.timing.timing(), s.fold_members);
    for (const auto& note : members.notes) std::printf("%s\n", note.c_str());
    for (const auto& warning : members.warnings)
      std::fprintf(stderr, "predict_stock_movement: warning: %s\n", warning.c_str());
    if (!s.headline_file.empty()) {
      std::vector<std::string> notes;
      s.spec.sentiment = qf::quant::headline_sentiment(universe, s.headlines, notes);
      for (const auto& note : notes) std::printf("%s\n", note.c_str());
    }
    const auto result = qf::quant::predict_movements(universe, members.members, s.spec);
    const std::int64_t day = report_day(s.date, result, universe);
    qf::quant::write_movement_output(s.out, result, universe, day);
    print_scores(result, universe);
    std::printf("%s-> %s/predictions.h5, predictions.csv, summary.json\n",
                qf::quant::movement_table(result, universe, day, s.rows).c_str(), s.out.c_str());
    return 0;
  });
}
