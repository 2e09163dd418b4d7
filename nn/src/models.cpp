#include "qf/nn/models.h"

#include <map>
#include <mutex>
#include <stdexcept>

#include "qf/core/require.h"
#include "qf/nn/examples/attention_gru.h"

namespace qf::nn {

namespace {

RNNOptions rnn_options(const ModelSpec& s) {
  return RNNOptions{s.input_size, s.hidden_size, s.num_layers, s.dropout, DType::f32};
}

// The last layer's final hidden state [B, H] of h_n [L, B, H].
Var last_hidden(const Var& h_n, std::int64_t batch) {
  const std::int64_t layers = h_n.dim(0);
  return reshape(slice(h_n, 0, layers - 1, layers), {batch, h_n.dim(2)});
}

struct Registry {
  std::mutex mutex;
  std::map<std::string, ModelFactory> factories{
      {"lstm",
       [](const ModelSpec& s, Rng& rng) { return std::make_unique<LSTMClassifier>(rnn_options(s), rng); }},
      {"gru",
       [](const ModelSpec& s, Rng& rng) { return std::make_unique<GRUClassifier>(rnn_options(s), rng); }},
      {"attention_gru",
       [](const ModelSpec& s, Rng& rng) {
         // One GRU layer, no dropout: refuse settings it would silently ignore (a search over them
         // would only compare seeds).
         QF_REQUIRE(s.num_layers == 1, "attention_gru", "num_layers", s.num_layers,
                    "must be 1 (one GRU layer)");
         QF_REQUIRE(s.dropout == 0.0, "attention_gru", "dropout", s.dropout, "must be 0 (no dropout)");
         return std::make_unique<AttentionGRU>(s.input_size, s.hidden_size, s.hidden_size, rng);
       }},
  };
};
Registry& registry() {
  static Registry instance;
  return instance;
}

void check_architecture_name(const std::string& name, const char* caller) {
  QF_REQUIRE(
      !name.empty() && name.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_") == std::string::npos,
      caller, "name", name, "must be [a-z0-9_]+");
}

}  // namespace

void register_architecture(const std::string& name, ModelFactory factory) {
  check_architecture_name(name, "register_architecture");
  Registry& r = registry();
  const std::lock_guard lock(r.mutex);
  r.factories[name] = std::move(factory);
}

ArchitectureRegistration::ArchitectureRegistration(const std::string& name, ModelFactory factory) {
  check_architecture_name(name, "QF_REGISTER_ARCHITECTURE");
  Registry& r = registry();
  const std::lock_guard lock(r.mutex);
  if (!r.factories.emplace(name, std::move(factory)).second)
    throw std::logic_error("QF_REGISTER_ARCHITECTURE: the name '" + name +
                           "' is taken (a built-in, or registered by another file)");
}

std::vector<std::string> architectures() {
  Registry& r = registry();
  const std::lock_guard lock(r.mutex);
  std::vector<std::string> names;
  for (const auto& [name, factory] : r.factories) names.push_back(name);
  return names;
}

namespace {

// "attention_gru, gru, lstm": the registered names, for error messages.
std::string known_architectures() {
  std::string known;
  for (const auto& name : architectures()) known += (known.empty() ? "" : ", ") + name;
  return known;
}

}  // namespace

std::unique_ptr<SequenceClassifier> make_model(const ModelSpec& spec, Rng& rng) {
  ModelFactory factory;
  {
    Registry& r = registry();
    const std::lock_guard lock(r.mutex);
    const auto it = r.factories.find(spec.architecture);
    if (it != r.factories.end()) factory = it->second;
  }
  QF_REQUIRE_MSG(
      factory, "make_model",
      "unknown architecture '" << spec.architecture << "' (known: " << known_architectures() << ")");
  return factory(spec, rng);
}

LSTMClassifier::LSTMClassifier(RNNOptions options, Rng& rng)
    : lstm(options, rng), head(options.hidden_size, 1, rng, true, options.dtype) {
  register_module("lstm", lstm);
  register_module("head", head);
}

Var LSTMClassifier::forward(const Var& x) {
  return head.forward(last_hidden(lstm.forward(x, {}, {}, /*sequence_output=*/false).h_n, x.dim(0)));
}

GRUClassifier::GRUClassifier(RNNOptions options, Rng& rng)
    : gru(options, rng), head(options.hidden_size, 1, rng, true, options.dtype) {
  register_module("gru", gru);
  register_module("head", head);
}

Var GRUClassifier::forward(const Var& x) {
  return head.forward(last_hidden(gru.forward(x).h_n, x.dim(0)));
}

}  // namespace qf::nn
