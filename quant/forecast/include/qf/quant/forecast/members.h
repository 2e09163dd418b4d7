// Stage 5's inputs, assembled from files: the ensemble's members from stage-2 registries, and the
// headline sentiment that joins them (predict_stock_movement's --registry, --fold-members, --headlines).
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "qf/data/execution.h"
#include "qf/data/store.h"
#include "qf/quant/forecast/prediction.h"

namespace qf::quant {

struct RegistryMembers {
  std::vector<MovementMember> members;
  std::vector<std::string> notes;     // what was added, e.g. the predictions of reloaded models
  std::vector<std::string> warnings;  // what was left out, e.g. a fold that every ticker skipped
};

// One member per registry: its test predictions, its out-of-fold CV predictions (required: the ensemble
// and the calibration are fitted on them) and its best trial's mean CV accuracy as the score. With
// `panels`, the store's days after a registry's last labelled day are predicted by its models,
// reloaded (study/registry_models.h); with `fold_members`, each of its CV fold models is a member too
// (scored by its fold's accuracy). Every registry must have been trained for `timing`. Throws
// data::InputError naming the registry when something is missing.
RegistryMembers registry_members(const data::Universe& universe, const data::FeaturePanels* panels,
                                 const std::vector<std::string>& registries, const data::TradeTiming& timing,
                                 bool fold_members);

struct HeadlineSpec {
  std::filesystem::path file;                   // date,ticker,text (sentiment.h read_headlines)
  std::string scorer = "lexicon";               // lexicon (finance_lexicon + `lexicons`) or bag_of_words
  std::filesystem::path scorer_train;           // bag_of_words: labelled text (PhraseBank, or a tweets .csv)
  std::vector<std::filesystem::path> lexicons;  // extra word lists
};
// [days, tickers] daily headline sentiment (MovementSpec::sentiment); `notes` gets what was read.
// Throws std::invalid_argument for an unknown scorer, data::InputError for missing files.
Tensor headline_sentiment(const data::Universe& universe, const HeadlineSpec& spec,
                          std::vector<std::string>& notes);

}  // namespace qf::quant
