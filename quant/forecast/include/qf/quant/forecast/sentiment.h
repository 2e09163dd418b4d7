// Sentiment of financial headlines for stage 5: a lexicon scorer of the project's own, with negation
// and intensity, that can load other word lists.
//
//   tokenize_text      lower-case words (letters, digits, '$', '%', apostrophes); "n't" becomes "not"
//   SentimentLexicon   word -> polarity weight, negators, intensifiers; finance_lexicon() is ours
//   score_text         sum of the polarities of the words, each flipped when one of the 3 words before it
//                      negates, scaled by a preceding intensifier; normalised as VADER does,
//                      s / sqrt(s^2 + 15), into (-1, 1)
//   SentimentLabel     negative / neutral / positive by two thresholds on the score, fitted on training
//                      text only (fit_thresholds maximises macro-F1 on it)
//
// Word list format (read_lexicon): one entry per line, `word<TAB or comma>weight`; '#' starts a comment;
// a weight may also be the word "positive" (+1) or "negative" (-1), so that lists such as
// Loughran-McDonald's category files load directly. Lines `!negator<TAB>word` and
// `!intensifier<TAB>word<TAB>factor` extend those lists. Errors name the file and line.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <span>
#include <string>
#include <vector>

namespace qf::quant {

std::vector<std::string> tokenize_text(const std::string& text);

struct SentimentLexicon {
  std::map<std::string, double> polarity;
  std::map<std::string, double> intensifier;  // word -> factor on the next polar word (e.g. 1.5, 0.5)
  std::vector<std::string> negators;
  int negation_window = 3;  // words after a negator whose polarity flips
};
SentimentLexicon finance_lexicon();
// Adds the entries of a word-list file (format above) to `lexicon`; later entries override earlier ones.
void read_lexicon(const std::filesystem::path& file, SentimentLexicon& lexicon);

struct SentimentScore {
  double score = 0;  // in (-1, 1); 0 without a polar word
  int polar_words = 0;
};
SentimentScore score_text(const SentimentLexicon& lexicon, const std::string& text);

enum class SentimentLabel : int { negative = 0, neutral = 1, positive = 2 };
struct SentimentThresholds {
  double negative_below = -0.05, positive_above = 0.05;
  SentimentLabel label(double score) const;
};
// The thresholds that maximise macro-F1 over (score, label) pairs (a grid over the scores' quantiles).
SentimentThresholds fit_thresholds(std::span<const double> scores, std::span<const SentimentLabel> labels);

struct ClassScores {
  double accuracy = 0, macro_f1 = 0;
  std::vector<double> f1;  // per class, in label order
  std::int64_t count = 0;
};
ClassScores class_scores(std::span<const SentimentLabel> predicted, std::span<const SentimentLabel> truth);

// The labelled sets of ../shared/data/sentiment: PhraseBank (`sentence@label`, UTF-8 with BOM, CRLF)
// and the finance tweets (`text,label` CSV, 0 bearish, 1 bullish, 2 neutral). Errors name file and line.
struct LabelledText {
  std::vector<std::string> text;
  std::vector<SentimentLabel> label;
};
LabelledText read_phrasebank(const std::filesystem::path& file);
LabelledText read_finance_tweets(const std::filesystem::path& file);
// PhraseBank has no official split: a fixed 80/20 split by a hash of each sentence (the same on every
// machine and independent of the file's order).
void split_by_hash(const LabelledText& all, double test_share, LabelledText& train, LabelledText& test);

}  // namespace qf::quant

namespace qf::quant {

// A bag-of-words classifier trained with our nn layer: a vocabulary of the training text's words (seen at
// least `min_count` times; a word within the negation window of a negator gets a "not_" twin), binary
// presence features, and a softmax regression (nn::Linear to 3 classes) trained by AdamW on cross-entropy.
struct BagOfWordsOptions {
  int min_count = 2, max_vocabulary = 20000, epochs = 8, batch_size = 64;
  double learning_rate = 0.02, weight_decay = 1e-4;
  std::uint64_t seed = 7;
};
class BagOfWordsClassifier {
 public:
  BagOfWordsClassifier() = default;
  // P(negative), P(neutral), P(positive).
  std::array<double, 3> probabilities(const std::string& text) const;
  SentimentLabel label(const std::string& text) const;
  double score(const std::string& text) const;  // P(positive) - P(negative), in [-1, 1]
  std::size_t vocabulary_size() const { return vocabulary_.size(); }

 private:
  friend BagOfWordsClassifier train_bag_of_words(const LabelledText&, const BagOfWordsOptions&);
  std::vector<std::int64_t> features(const std::string& text) const;  // vocabulary indices present
  std::map<std::string, std::int64_t> vocabulary_;
  std::vector<std::string> negators_;
  std::vector<float> weight_, bias_;  // [3, V], [3]
};
BagOfWordsClassifier train_bag_of_words(const LabelledText& train, const BagOfWordsOptions& options = {});

}  // namespace qf::quant

#include "qf/data/universe.h"
#include "qf/tensor/tensor.h"

namespace qf::quant {

// Dated headlines (`date,ticker,text` CSV, a header line first): a headline dated d is taken as known at
// day d's close. Errors name the file, line and field; tickers outside the store are skipped (counted).
struct Headline {
  std::int32_t day = 0;  // data::Day
  std::string ticker, text;
};
std::vector<Headline> read_headlines(const std::filesystem::path& file);
// [days, tickers]: the mean lexicon score of each ticker's headlines of that calendar day (a headline on a
// non-trading day counts for the next trading day); NaN without one.
Tensor daily_sentiment(const data::Universe& universe, const std::vector<Headline>& headlines,
                       const SentimentLexicon& lexicon, std::int64_t* unmatched = nullptr);
// The same with any text scorer into [-1, 1] (e.g. BagOfWordsClassifier::score).
Tensor daily_sentiment(const data::Universe& universe, const std::vector<Headline>& headlines,
                       const std::function<double(const std::string&)>& score, std::int64_t* unmatched = nullptr);

}  // namespace qf::quant
