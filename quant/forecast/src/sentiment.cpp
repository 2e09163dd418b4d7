#include "qf/quant/forecast/sentiment.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <fstream>
#include <numeric>
#include <sstream>
#include <stdexcept>

#include "qf/core/require.h"
#include "qf/data/csv.h"
#include "qf/nn/layers.h"
#include "qf/nn/loss.h"
#include "qf/nn/optim.h"
#include "qf/tensor/hash.h"

namespace qf::quant {

namespace {

// The project's finance lexicon: words whose tone in headlines and filings is clear, with a weight of
// 1 (clear) or 2 (strong). Built for financial news (results, guidance, ratings, prices, deals); general
// words that flip meaning in finance ("liability", "gross", "share") are left out.
constexpr std::pair<const char*, double> kPolarity[] = {
    // positive
    {"profit", 1},
    {"profits", 1},
    {"profitable", 1},
    {"profitability", 1},
    {"gain", 1},
    {"gains", 1},
    {"gained", 1},
    {"rise", 1},
    {"rises", 1},
    {"rose", 1},
    {"rising", 1},
    {"increase", 1},
    {"increased", 1},
    {"increases", 1},
    {"increasing", 1},
    {"up", 0.5},
    {"higher", 1},
    {"grow", 1},
    {"grows", 1},
    {"grew", 1},
    {"growth", 1},
    {"growing", 1},
    {"improve", 1},
    {"improved", 1},
    {"improves", 1},
    {"improvement", 1},
    {"strong", 1},
    {"stronger", 1},
    {"strength", 1},
    {"record", 1},
    {"beat", 1.5},
    {"beats", 1.5},
    {"exceed", 1},
    {"exceeded", 1},
    {"exceeds", 1},
    {"surge", 2},
    {"surged", 2},
    {"surges", 2},
    {"soar", 2},
    {"soared", 2},
    {"soars", 2},
    {"jump", 1.5},
    {"jumped", 1.5},
    {"jumps", 1.5},
    {"rally", 1.5},
    {"rallies", 1.5},
    {"rallied", 1.5},
    {"upgrade", 2},
    {"upgraded", 2},
    {"upgrades", 2},
    {"outperform", 1.5},
    {"bullish", 2},
    {"buy", 1},
    {"positive", 1},
    {"success", 1},
    {"successful", 1},
    {"win", 1},
    {"wins", 1},
    {"won", 1},
    {"award", 1},
    {"awarded", 1},
    {"expand", 1},
    {"expands", 1},
    {"expanded", 1},
    {"expansion", 1},
    {"boost", 1.5},
    {"boosts", 1.5},
    {"boosted", 1.5},
    {"recover", 1},
    {"recovered", 1},
    {"recovery", 1},
    {"rebound", 1},
    {"rebounded", 1},
    {"upbeat", 1.5},
    {"optimistic", 1.5},
    {"best", 1},
    {"top", 0.5},
    {"raise", 1},
    {"raises", 1},
    {"raised", 1},
    {"dividend", 0.5},
    {"accelerate", 1},
    {"advance", 1},
    {"advanced", 1},
    {"advances", 1},
    {"climb", 1},
    {"climbed", 1},
    {"climbs", 1},
    {"outpace", 1},
    {"robust", 1},
    {"solid", 1},
    {"favorable", 1},
    {"favourable", 1},
    {"benefit", 1},
    {"benefits", 1},
    {"opportunity", 0.5},
    {"opportunities", 0.5},
    {"momentum", 0.5},
    {"high", 0.5},
    // negative
    {"loss", 1},
    {"losses", 1},
    {"lose", 1},
    {"loses", 1},
    {"lost", 1},
    {"fall", 1},
    {"falls", 1},
    {"fell", 1},
    {"falling", 1},
    {"decline", 1},
    {"declined", 1},
    {"declines", 1},
    {"declining", 1},
    {"decrease", 1},
    {"decreased", 1},
    {"decreases", 1},
    {"down", 0.5},
    {"lower", 1},
    {"drop", 1},
    {"dropped", 1},
    {"drops", 1},
    {"weak", 1},
    {"weaker", 1},
    {"weakness", 1},
    {"miss", 1.5},
    {"missed", 1.5},
    {"misses", 1.5},
    {"plunge", 2},
    {"plunged", 2},
    {"plunges", 2},
    {"tumble", 2},
    {"tumbled", 2},
    {"tumbles", 2},
    {"slump", 2},
    {"slumped", 2},
    {"slumps", 2},
    {"crash", 2},
    {"crashed", 2},
    {"sink", 1.5},
    {"sank", 1.5},
    {"sinks", 1.5},
    {"slide", 1},
    {"slid", 1},
    {"slides", 1},
    {"downgrade", 2},
    {"downgraded", 2},
    {"downgrades", 2},
    {"underperform", 1.5},
    {"bearish", 2},
    {"sell", 1},
    {"negative", 1},
    {"warning", 1.5},
    {"warns", 1.5},
    {"warned", 1.5},
    {"cut", 1},
    {"cuts", 1},
    {"layoff", 1.5},
    {"layoffs", 1.5},
    {"laid", 1},
    {"fire", 0.5},
    {"bankruptcy", 2},
    {"bankrupt", 2},
    {"default", 1.5},
    {"fraud", 2},
    {"lawsuit", 1.5},
    {"sued", 1.5},
    {"probe", 1},
    {"investigation", 1},
    {"fine", 0.5},
    {"fined", 1.5},
    {"penalty", 1},
    {"recall", 1},
    {"delay", 1},
    {"delayed", 1},
    {"worse", 1.5},
    {"worst", 1.5},
    {"fear", 1},
    {"fears", 1},
    {"concern", 1},
    {"concerns", 1},
    {"risk", 0.5},
    {"risks", 0.5},
    {"volatile", 0.5},
    {"pressure", 1},
    {"struggle", 1},
    {"struggles", 1},
    {"deficit", 1},
    {"debt", 0.5},
    {"shortfall", 1.5},
    {"halt", 1},
    {"halted", 1},
    {"suspend", 1},
    {"suspended", 1},
    {"closure", 1},
    {"close", 0.25},
    {"shut", 1},
    {"slowdown", 1},
    {"slow", 0.5},
    {"slower", 1},
    {"disappointing", 1.5},
    {"disappoint", 1.5},
    {"disappoints", 1.5},
    {"low", 0.5},
    {"weigh", 1},
    {"weighs", 1},
    {"hurt", 1},
    {"hurts", 1},
    {"crisis", 2},
    {"recession", 2},
    {"negatively", 1},
};
// Sign of each entry above: the negative block starts at "loss".
constexpr const char* kFirstNegative = "loss";

constexpr const char* kNegators[] = {"not", "no", "never", "without", "neither", "nor", "none", "cannot"};
constexpr std::pair<const char*, double> kIntensifiers[] = {
    {"very", 1.5},          {"strongly", 1.5},     {"sharply", 1.5},  {"significantly", 1.5},
    {"substantially", 1.5}, {"considerably", 1.5}, {"heavily", 1.5},  {"steeply", 1.5},
    {"dramatically", 2},    {"massive", 1.5},      {"huge", 1.5},     {"slightly", 0.5},
    {"marginally", 0.5},    {"somewhat", 0.5},     {"modestly", 0.5}, {"modest", 0.5},
    {"slight", 0.5},
};

std::string trim(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  std::size_t i = 0;
  while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
  return s.substr(i);
}

}  // namespace

std::vector<std::string> tokenize_text(const std::string& text) {
  std::vector<std::string> tokens;
  std::string word;
  auto flush = [&] {
    if (word.empty()) return;
    // n't -> a separate "not"; a trailing 's drops
    if (word.size() > 3 && word.compare(word.size() - 3, 3, "n't") == 0) {
      word.resize(word.size() - 3);
      if (word == "ca" || word == "wo") word = word == "ca" ? "can" : "will";
      tokens.push_back(word);
      tokens.emplace_back("not");
    } else {
      if (word.size() > 2 && word.compare(word.size() - 2, 2, "'s") == 0) word.resize(word.size() - 2);
      while (!word.empty() && word.back() == '\'') word.pop_back();
      if (!word.empty()) tokens.push_back(word);
    }
    word.clear();
  };
  for (const unsigned char c : text) {
    if (std::isalnum(c) || c == '$' || c == '%' || (c == '\'' && !word.empty()))
      word += static_cast<char>(std::tolower(c));
    else
      flush();
  }
  flush();
  return tokens;
}

SentimentLexicon finance_lexicon() {
  SentimentLexicon l;
  double sign = 1;
  for (const auto& [word, weight] : kPolarity) {
    if (std::string(word) == kFirstNegative) sign = -1;
    l.polarity[word] = sign * weight;
  }
  for (const auto* w : kNegators) l.negators.emplace_back(w);
  for (const auto& [word, factor] : kIntensifiers) l.intensifier[word] = factor;
  return l;
}

void read_lexicon(const std::filesystem::path& file, SentimentLexicon& lexicon) {
  std::ifstream in(file);
  if (!in) throw data::InputError(file.string(), 0, "", "cannot open the word list");
  std::string line;
  for (std::int64_t number = 1; std::getline(in, line); ++number) {
    if (const auto hash = line.find('#'); hash != std::string::npos) line.resize(hash);
    line = trim(line);
    if (line.empty()) continue;
    std::vector<std::string> fields;
    std::string field;
    for (const char c : line) {
      if (c == '\t' || c == ',') {
        fields.push_back(trim(field));
        field.clear();
      } else {
        field += c;
      }
    }
    fields.push_back(trim(field));
    auto fail = [&](const std::string& what) { throw data::InputError(file.string(), number, line, what); };
    for (auto& f : fields)
      std::transform(f.begin(), f.end(), f.begin(), [](unsigned char c) { return std::tolower(c); });
    if (fields[0] == "!negator") {
      if (fields.size() != 2 || fields[1].empty()) fail("expected !negator<TAB>word");
      lexicon.negators.push_back(fields[1]);
      continue;
    }
    if (fields[0] == "!intensifier") {
      if (fields.size() != 3) fail("expected !intensifier<TAB>word<TAB>factor");
      try {
        lexicon.intensifier[fields[1]] = std::stod(fields[2]);
      } catch (const std::exception&) {
        fail("the factor '" + fields[2] + "' is not a number");
      }
      continue;
    }
    if (fields.size() != 2 || fields[0].empty()) fail("expected word<TAB>weight");
    double weight = 0;
    if (fields[1] == "positive") {
      weight = 1;
    } else if (fields[1] == "negative") {
      weight = -1;
    } else {
      try {
        std::size_t used = 0;
        weight = std::stod(fields[1], &used);
        if (used != fields[1].size() || !std::isfinite(weight)) throw std::invalid_argument("");
      } catch (const std::exception&) {
        fail("the weight '" + fields[1] + "' is not a number, 'positive' or 'negative'");
      }
    }
    lexicon.polarity[fields[0]] = weight;
  }
}

SentimentScore score_text(const SentimentLexicon& l, const std::string& text) {
  const auto tokens = tokenize_text(text);
  SentimentScore s;
  double sum = 0, factor = 1;
  int negated_for = 0;
  for (const auto& t : tokens) {
    if (std::find(l.negators.begin(), l.negators.end(), t) != l.negators.end()) {
      negated_for = l.negation_window;
      continue;
    }
    if (const auto it = l.intensifier.find(t); it != l.intensifier.end()) {
      factor *= it->second;
      continue;
    }
    if (const auto it = l.polarity.find(t); it != l.polarity.end() && it->second != 0) {
      sum += it->second * factor * (negated_for > 0 ? -1 : 1);
      ++s.polar_words;
      factor = 1;
    }
    if (negated_for > 0) --negated_for;
  }
  s.score = sum / std::sqrt(sum * sum + 15);
  return s;
}

SentimentLabel SentimentThresholds::label(double score) const {
  return score < negative_below
             ? SentimentLabel::negative
             : (score > positive_above ? SentimentLabel::positive : SentimentLabel::neutral);
}

ClassScores class_scores(std::span<const SentimentLabel> predicted, std::span<const SentimentLabel> truth) {
  QF_REQUIRE_MSG(predicted.size() == truth.size(), "class_scores",
                 predicted.size() << " predictions for " << truth.size() << " labels");
  ClassScores c;
  c.count = static_cast<std::int64_t>(truth.size());
  double tp[3] = {}, fp[3] = {}, fn[3] = {}, right = 0;
  for (std::size_t i = 0; i < truth.size(); ++i) {
    const int p = static_cast<int>(predicted[i]), t = static_cast<int>(truth[i]);
    if (p == t)
      ++tp[p], ++right;
    else
      ++fp[p], ++fn[t];
  }
  c.accuracy = c.count > 0 ? right / static_cast<double>(c.count) : 0;
  for (int k = 0; k < 3; ++k) {
    const double denominator = 2 * tp[k] + fp[k] + fn[k];
    c.f1.push_back(denominator > 0 ? 2 * tp[k] / denominator : 0);
    c.macro_f1 += c.f1.back() / 3;
  }
  return c;
}

SentimentThresholds fit_thresholds(std::span<const double> scores, std::span<const SentimentLabel> labels) {
  std::vector<double> candidates(scores.begin(), scores.end());
  std::sort(candidates.begin(), candidates.end());
  candidates.erase(std::unique(candidates.begin(), candidates.end()), candidates.end());
  std::vector<double> grid;  // midpoints between distinct scores, thinned to at most ~200
  const std::size_t step = std::max<std::size_t>(1, candidates.size() / 200);
  for (std::size_t i = 0; i + 1 < candidates.size(); i += step)
    grid.push_back(0.5 * (candidates[i] + candidates[i + 1]));
  grid.push_back(0.0);
  SentimentThresholds best;
  double best_f1 = -1;
  std::vector<SentimentLabel> predicted(scores.size());
  for (const double lo : grid)
    for (const double hi : grid) {
      if (hi < lo) continue;
      const SentimentThresholds t{lo, hi};
      for (std::size_t i = 0; i < scores.size(); ++i) predicted[i] = t.label(scores[i]);
      const double f1 = class_scores(predicted, labels).macro_f1;
      if (f1 > best_f1) best_f1 = f1, best = t;
    }
  return best;
}

LabelledText read_phrasebank(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw data::InputError(file.string(), 0, "", "cannot open");
  LabelledText out;
  std::string line;
  for (std::int64_t number = 1; std::getline(in, line); ++number) {
    if (number == 1 && line.rfind("\xEF\xBB\xBF", 0) == 0) line.erase(0, 3);  // the BOM
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (trim(line).empty()) continue;
    const auto at = line.rfind('@');
    if (at == std::string::npos)
      throw data::InputError(file.string(), number, "label", "expected sentence@label");
    const std::string label = line.substr(at + 1);
    SentimentLabel l{};
    if (label == "negative")
      l = SentimentLabel::negative;
    else if (label == "neutral")
      l = SentimentLabel::neutral;
    else if (label == "positive")
      l = SentimentLabel::positive;
    else
      throw data::InputError(file.string(), number, "label", "unknown label '" + label + "'");
    out.text.push_back(line.substr(0, at));
    out.label.push_back(l);
  }
  return out;
}

LabelledText read_finance_tweets(const std::filesystem::path& file) {
  const data::CsvTable t = data::read_csv(file);
  if (t.header.size() != 2 || data::normalize_header(t.header[0]) != "text" ||
      data::normalize_header(t.header[1]) != "label")
    throw data::InputError(file.string(), 1, "header", "expected text,label");
  LabelledText out;
  for (std::size_t r = 0; r < t.rows.size(); ++r) {
    const auto& row = t.rows[r];
    if (row.size() != 2)
      throw data::InputError(file.string(), t.line_numbers[r], "label", "expected 2 fields");
    const std::string& v = row[1];
    if (v != "0" && v != "1" && v != "2")
      throw data::InputError(file.string(), t.line_numbers[r], "label",
                             "expected 0, 1 or 2, got '" + v + "'");
    out.text.push_back(row[0]);
    // 0 bearish, 1 bullish, 2 neutral
    out.label.push_back(v == "0" ? SentimentLabel::negative
                                 : (v == "1" ? SentimentLabel::positive : SentimentLabel::neutral));
  }
  return out;
}

void split_by_hash(const LabelledText& all, double test_share, LabelledText& train, LabelledText& test) {
  train = {}, test = {};
  for (std::size_t i = 0; i < all.text.size(); ++i) {
    const bool to_test =
        static_cast<double>(fnv1a_bytewise(all.text[i], kQuantKeySeed) % 10000) < test_share * 10000;
    LabelledText& into = to_test ? test : train;
    into.text.push_back(all.text[i]);
    into.label.push_back(all.label[i]);
  }
}

}  // namespace qf::quant

namespace qf::quant {

namespace {

// The words of a text and, after a negator, "not_" twins of the next words (bag-of-words negation).
std::vector<std::string> bag_terms(const std::string& text, const std::vector<std::string>& negators) {
  std::vector<std::string> terms;
  int negated_for = 0;
  for (const auto& t : tokenize_text(text)) {
    if (std::find(negators.begin(), negators.end(), t) != negators.end()) {
      negated_for = 3;
      terms.push_back(t);
      continue;
    }
    terms.push_back(negated_for > 0 ? "not_" + t : t);
    if (negated_for > 0) --negated_for;
  }
  std::sort(terms.begin(), terms.end());
  terms.erase(std::unique(terms.begin(), terms.end()), terms.end());
  return terms;
}

}  // namespace

std::vector<std::int64_t> BagOfWordsClassifier::features(const std::string& text) const {
  std::vector<std::int64_t> out;
  for (const auto& term : bag_terms(text, negators_))
    if (const auto it = vocabulary_.find(term); it != vocabulary_.end()) out.push_back(it->second);
  return out;
}

std::array<double, 3> BagOfWordsClassifier::probabilities(const std::string& text) const {
  const auto V = static_cast<std::int64_t>(vocabulary_.size());
  std::array<double, 3> z{};
  for (int k = 0; k < 3; ++k) z[static_cast<std::size_t>(k)] = bias_[static_cast<std::size_t>(k)];
  for (const std::int64_t f : features(text))
    for (int k = 0; k < 3; ++k)
      z[static_cast<std::size_t>(k)] += weight_[static_cast<std::size_t>(k * V + f)];
  const double top = std::max({z[0], z[1], z[2]});
  double total = 0;
  for (double& v : z) total += v = std::exp(v - top);
  for (double& v : z) v /= total;
  return z;
}

SentimentLabel BagOfWordsClassifier::label(const std::string& text) const {
  const auto p = probabilities(text);
  return static_cast<SentimentLabel>(std::max_element(p.begin(), p.end()) - p.begin());
}

double BagOfWordsClassifier::score(const std::string& text) const {
  const auto p = probabilities(text);
  return p[2] - p[0];
}

BagOfWordsClassifier train_bag_of_words(const LabelledText& train, const BagOfWordsOptions& o) {
  QF_REQUIRE_MSG(!train.text.empty() && train.text.size() == train.label.size(), "train_bag_of_words",
                 train.text.size() << " training texts and " << train.label.size()
                                   << " labels (at least one text, one label each)");
  BagOfWordsClassifier c;
  c.negators_ = finance_lexicon().negators;
  std::map<std::string, int> counts;
  std::vector<std::vector<std::string>> terms;
  for (const auto& t : train.text) {
    terms.push_back(bag_terms(t, c.negators_));
    for (const auto& w : terms.back()) ++counts[w];
  }
  std::vector<std::pair<int, std::string>> ranked;
  for (const auto& [w, n] : counts)
    if (n >= o.min_count) ranked.emplace_back(-n, w);
  std::sort(ranked.begin(), ranked.end());  // most frequent first, ties alphabetical
  if (ranked.size() > static_cast<std::size_t>(o.max_vocabulary))
    ranked.resize(static_cast<std::size_t>(o.max_vocabulary));
  for (const auto& [n, w] : ranked) c.vocabulary_.emplace(w, static_cast<std::int64_t>(c.vocabulary_.size()));
  const auto V = static_cast<std::int64_t>(c.vocabulary_.size());
  QF_REQUIRE(V > 0, "train_bag_of_words", "min_count", o.min_count, "leaves no word in the vocabulary");
  std::vector<std::vector<std::int64_t>> rows;
  for (const auto& t : train.text) rows.push_back(c.features(t));

  Rng rng(o.seed);
  nn::Linear model(V, 3, rng);
  nn::Adam optimizer(model.parameters(), {.lr = o.learning_rate, .weight_decay = o.weight_decay}, true);
  std::vector<std::size_t> order(rows.size());
  std::iota(order.begin(), order.end(), 0);
  const auto B = static_cast<std::size_t>(o.batch_size);
  for (int epoch = 0; epoch < o.epochs; ++epoch) {
    for (std::size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[rng.next_u64() % i]);
    for (std::size_t start = 0; start < order.size(); start += B) {
      const std::size_t n = std::min(B, order.size() - start);
      Tensor x = Tensor::zeros({static_cast<std::int64_t>(n), V});
      std::vector<std::int64_t> y(n);
      for (std::size_t r = 0; r < n; ++r) {
        for (const std::int64_t f : rows[order[start + r]])
          x.data<float>()[static_cast<std::int64_t>(r) * V + f] = 1;
        y[r] = static_cast<std::int64_t>(train.label[order[start + r]]);
      }
      optimizer.zero_grad();
      nn::cross_entropy(model.forward(Var(x)), y).backward();
      optimizer.step();
    }
  }
  const Tensor& w = model.weight.value();
  c.weight_.assign(w.data<float>(), w.data<float>() + 3 * V);
  c.bias_.assign(model.bias.value().data<float>(), model.bias.value().data<float>() + 3);
  return c;
}

}  // namespace qf::quant

#include "qf/data/prices.h"
#include "qf/tensor/random.h"

namespace qf::quant {

std::vector<Headline> read_headlines(const std::filesystem::path& file) {
  const data::CsvTable t = data::read_csv(file);
  if (t.header.size() != 3 || data::normalize_header(t.header[0]) != "date" ||
      data::normalize_header(t.header[1]) != "ticker" || data::normalize_header(t.header[2]) != "text")
    throw data::InputError(file.string(), 1, "header", "expected date,ticker,text");
  std::vector<Headline> out;
  for (std::size_t r = 0; r < t.rows.size(); ++r) {
    const auto& row = t.rows[r];
    if (row.size() != 3)
      throw data::InputError(file.string(), t.line_numbers[r], "text", "expected 3 fields");
    Headline h;
    data::Day day{};
    if (!data::parse_date(row[0], day))
      throw data::InputError(file.string(), t.line_numbers[r], "date", "not a date: '" + row[0] + "'");
    h.day = day;
    h.ticker = row[1];
    h.text = row[2];
    if (h.ticker.empty()) throw data::InputError(file.string(), t.line_numbers[r], "ticker", "empty");
    out.push_back(std::move(h));
  }
  return out;
}

Tensor daily_sentiment(const data::Universe& u, const std::vector<Headline>& headlines,
                       const SentimentLexicon& lexicon, std::int64_t* unmatched) {
  return daily_sentiment(
      u, headlines, [&](const std::string& text) { return score_text(lexicon, text).score; }, unmatched);
}

Tensor daily_sentiment(const data::Universe& u, const std::vector<Headline>& headlines,
                       const std::function<double(const std::string&)>& score, std::int64_t* unmatched) {
  const std::int64_t D = u.day_count(), N = u.ticker_count();
  Tensor sum = Tensor::zeros({D, N}, DType::f64), count = Tensor::zeros({D, N}, DType::f64);
  std::int64_t skipped = 0;
  for (const auto& h : headlines) {
    const std::int64_t i = u.index_of(h.ticker);
    const auto it = std::lower_bound(u.days.begin(), u.days.end(), h.day);  // its day or the next trading day
    if (i < 0 || it == u.days.end()) {
      ++skipped;
      continue;
    }
    const std::int64_t d = it - u.days.begin();
    sum.data<double>()[d * N + i] += score(h.text);
    count.data<double>()[d * N + i] += 1;
  }
  if (unmatched) *unmatched = skipped;
  Tensor out = Tensor::full({D, N}, std::numeric_limits<double>::quiet_NaN(), DType::f64);
  for (std::int64_t k = 0; k < D * N; ++k)
    if (count.data<double>()[k] > 0) out.data<double>()[k] = sum.data<double>()[k] / count.data<double>()[k];
  return out;
}

}  // namespace qf::quant
