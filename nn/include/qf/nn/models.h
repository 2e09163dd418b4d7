// Sequence classifiers chosen by name. Every architecture maps a batch of windows x [B, T, F] to one
// logit per window [B, 1], so the training loop, cross-validation and the registry treat them alike.
// Built in: "lstm" (LSTM -> Linear on the last hidden state), "gru" (the same with a GRU) and
// "attention_gru" (examples/attention_gru.h). A researcher adds one from their own source file with
// QF_REGISTER_ARCHITECTURE (below), or at run time with register_architecture().
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "qf/nn/layers.h"
#include "qf/nn/rnn.h"

namespace qf::nn {

class SequenceClassifier : public Module {
 public:
  virtual Var forward(const Var& x) = 0;  // x [B, T, F] -> logits [B, 1]
};

struct ModelSpec {
  std::string architecture = "lstm";
  std::int64_t input_size = 1;
  std::int64_t hidden_size = 64;
  std::int64_t num_layers = 1;
  double dropout = 0.0;  // between recurrent layers (training only)
};

using ModelFactory = std::function<std::unique_ptr<SequenceClassifier>(const ModelSpec&, Rng&)>;

// Adds (or replaces) an architecture; thread-safe. Names are [a-z0-9_].
void register_architecture(const std::string& name, ModelFactory factory);
std::vector<std::string> architectures();  // sorted
// Builds a model with weights drawn from rng; throws std::invalid_argument naming the known
// architectures when the name is not registered.
std::unique_ptr<SequenceClassifier> make_model(const ModelSpec& spec, Rng& rng);

// Registers an architecture from the file that defines it, before main() runs:
//
//   QF_REGISTER_ARCHITECTURE("my_model", [](const qf::nn::ModelSpec& s, qf::Rng& rng) {
//     return std::make_unique<MyModel>(s.input_size, s.hidden_size, rng);
//   });
//
// The file must reach the executable as an object file: from a static library the linker takes only
// the members something refers to, and nothing refers to a registration. Build it with
// qf_add_models(<executable> <files...>) (cmake/qf_models.cmake), or into the apps with
// cmake -DQF_MODEL_SOURCES=<files> (docs/architecture.md, "Recipe: add a model"). A name that is
// already taken (a built-in, or two files claiming one name) is refused: the registry file stores the
// name, so it must mean one model everywhere. The error ends the program before main().
struct ArchitectureRegistration {
  ArchitectureRegistration(const std::string& name, ModelFactory factory);
};

#define QF_NN_CONCAT_IMPL(a, b) a##b
#define QF_NN_CONCAT(a, b) QF_NN_CONCAT_IMPL(a, b)
#define QF_REGISTER_ARCHITECTURE(name, ...)                                                               \
  [[maybe_unused]] static const ::qf::nn::ArchitectureRegistration QF_NN_CONCAT(qf_architecture_at_line_, \
                                                                                __LINE__)(name, __VA_ARGS__)

// x [B, T, input] -> logits [B, 1] from the last layer's final hidden state.
class LSTMClassifier : public SequenceClassifier {
 public:
  LSTMClassifier(RNNOptions options, Rng& rng);
  Var forward(const Var& x) override;
  std::string type_name() const override { return "LSTMClassifier"; }
  Config config() const override { return lstm.config(); }

  LSTM lstm;
  Linear head;
};

class GRUClassifier : public SequenceClassifier {
 public:
  GRUClassifier(RNNOptions options, Rng& rng);
  Var forward(const Var& x) override;
  std::string type_name() const override { return "GRUClassifier"; }
  Config config() const override { return gru.config(); }

  GRU gru;
  Linear head;
};

}  // namespace qf::nn
