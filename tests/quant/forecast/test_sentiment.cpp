// The lexicon sentiment scorer (qf/quant/forecast/sentiment.h): tokens, negation, intensity, word lists and their
// errors; and, when ../shared/data/sentiment is present, accuracy and macro-F1 on the Financial
// PhraseBank (a fixed 80/20 hash split) and the finance tweets (their train/valid split), thresholds
// fitted on the training part only; and the bag-of-words classifier trained on that part.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "qf/data/csv.h"
#include "qf/quant/forecast/sentiment.h"

using namespace qf;
namespace fs = std::filesystem;

TEST(Sentiment, TokensNegationAndIntensity) {
  EXPECT_EQ(quant::tokenize_text("Profits didn't rise; Nokia's $NOK fell 5%."),
            (std::vector<std::string>{"profits", "did", "not", "rise", "nokia", "$nok", "fell", "5%"}));
  const auto l = quant::finance_lexicon();
  const double rose = quant::score_text(l, "Operating profit rose").score;
  EXPECT_GT(rose, 0);
  EXPECT_LT(quant::score_text(l, "Sales did not rise").score, 0);
  EXPECT_GT(quant::score_text(l, "Sales did not fall").score, 0);
  EXPECT_GT(quant::score_text(l, "Operating profit rose sharply").score, 0);  // the intensifier comes first
  EXPECT_GT(quant::score_text(l, "Operating profit sharply rose").score, rose);
  EXPECT_LT(quant::score_text(l, "Operating profit slightly rose").score, rose);
  EXPECT_LT(quant::score_text(l, "Shares plunged after the company missed estimates").score, -0.3);
  EXPECT_EQ(quant::score_text(l, "The company is based in Helsinki").polar_words, 0);
  // Negation reaches three words only.
  EXPECT_LT(quant::score_text(l, "no sign of growth").score, 0);
  EXPECT_GT(quant::score_text(l, "no doubt that after all this growth").score, 0);
}

TEST(Sentiment, WordListsLoadAndBadLinesNameFileAndLine) {
  const fs::path dir = fs::temp_directory_path() / "qf_test_sentiment";
  fs::create_directories(dir);
  {
    std::ofstream f(dir / "words.txt");
    f << "# a Loughran-McDonald style list\nimpairment,negative\nsynergy\tpositive\nrocket\t2.5\n"
         "!negator\thardly\n!intensifier\tmega\t3\n";
  }
  auto l = quant::finance_lexicon();
  quant::read_lexicon(dir / "words.txt", l);
  EXPECT_DOUBLE_EQ(l.polarity.at("impairment"), -1);
  EXPECT_DOUBLE_EQ(l.polarity.at("rocket"), 2.5);
  EXPECT_LT(quant::score_text(l, "hardly any synergy").score, 0);
  EXPECT_GT(quant::score_text(l, "mega synergy").score, quant::score_text(l, "synergy").score);
  {
    std::ofstream f(dir / "bad.txt");
    f << "profit,1\nloss,lots\n";
  }
  try {
    quant::read_lexicon(dir / "bad.txt", l);
    FAIL() << "a bad weight must throw";
  } catch (const data::InputError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("bad.txt"), std::string::npos) << what;
    EXPECT_EQ(e.line(), 2) << what;
    EXPECT_NE(what.find("lots"), std::string::npos) << what;
  }
  fs::remove_all(dir);
}

TEST(Sentiment, LexiconOnPhraseBankAndFinanceTweets) {
  const fs::path root = QF_SHARED_DATA_DIR "/sentiment";
  if (!fs::exists(root / "financial_phrasebank_50agree.txt")) GTEST_SKIP() << "no ../shared/data/sentiment";
  const auto lexicon = quant::finance_lexicon();
  auto evaluate = [&](const char* name, const quant::LabelledText& train, const quant::LabelledText& test) {
    std::vector<double> train_scores, test_scores;
    for (const auto& t : train.text) train_scores.push_back(quant::score_text(lexicon, t).score);
    for (const auto& t : test.text) test_scores.push_back(quant::score_text(lexicon, t).score);
    const auto thresholds = quant::fit_thresholds(train_scores, train.label);
    std::vector<quant::SentimentLabel> predicted, neutral(test.label.size(), quant::SentimentLabel::neutral);
    for (const double s : test_scores) predicted.push_back(thresholds.label(s));
    const auto c = quant::class_scores(predicted, test.label),
               baseline = quant::class_scores(neutral, test.label);
    std::printf(
        "%s: %lld test texts, lexicon accuracy %.4f, macro-F1 %.4f (F1 neg %.3f, neu %.3f, pos %.3f); "
        "always-neutral accuracy %.4f, macro-F1 %.4f; thresholds %.3f / %.3f\n",
        name, static_cast<long long>(c.count), c.accuracy, c.macro_f1, c.f1[0], c.f1[1], c.f1[2],
        baseline.accuracy, baseline.macro_f1, thresholds.negative_below, thresholds.positive_above);
    EXPECT_GT(c.macro_f1, baseline.macro_f1 + 0.2) << name;
    // The bag-of-words softmax regression, trained with our nn layer on the same training part.
    const auto bow = quant::train_bag_of_words(train);
    std::vector<quant::SentimentLabel> bow_predicted;
    for (const auto& text : test.text) bow_predicted.push_back(bow.label(text));
    const auto b = quant::class_scores(bow_predicted, test.label);
    std::printf(
        "%s: bag of words (%zu words) accuracy %.4f, macro-F1 %.4f (F1 neg %.3f, neu %.3f, pos %.3f)\n", name,
        bow.vocabulary_size(), b.accuracy, b.macro_f1, b.f1[0], b.f1[1], b.f1[2]);
    EXPECT_GT(b.macro_f1, baseline.macro_f1 + 0.2) << name;
  };
  quant::LabelledText train, test;
  quant::split_by_hash(quant::read_phrasebank(root / "financial_phrasebank_50agree.txt"), 0.2, train, test);
  evaluate("PhraseBank (50 % agreement, 80/20 hash split)", train, test);
  evaluate("finance tweets (train / valid)", quant::read_finance_tweets(root / "fin_tweets_train.csv"),
           quant::read_finance_tweets(root / "fin_tweets_valid.csv"));
}
