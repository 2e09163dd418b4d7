// A toy architecture, written as a researcher would write their own (docs/architecture.md, "Recipe:
// add a model"): one file, only the ops of qf/tensor/ops.h and nn's layers, registered by name from
// this file with QF_REGISTER_ARCHITECTURE. Nothing else refers to this file: it reaches the test
// executable through qf_add_models() (cmake/qf_models.cmake), which links it as an object file.
//
//   summary = [x_T, mean_t x_t]        [B, 2F]   the last step and the window's average
//   hidden  = tanh(W summary + b)      [B, H]
//   logit   = head(hidden)             [B, 1]
#include <memory>
#include <stdexcept>
#include <string>

#include "qf/nn/models.h"

namespace {

class LastAndMeanClassifier : public qf::nn::SequenceClassifier {
 public:
  LastAndMeanClassifier(std::int64_t input_size, std::int64_t hidden_size, qf::Rng& rng)
      : summary(2 * input_size, hidden_size, rng),
        head(hidden_size, 1, rng),
        input_size_(input_size),
        hidden_size_(hidden_size) {
    register_module("summary", summary);
    register_module("head", head);
  }

  qf::Var forward(const qf::Var& x) override {  // x [B, T, F] -> logits [B, 1]
    const std::int64_t batch = x.dim(0), steps = x.dim(1), features = x.dim(2);
    const qf::Var last = qf::reshape(qf::slice(x, 1, steps - 1, steps), {batch, features});
    const qf::Var average = qf::mean(x, 1);
    return head.forward(qf::tanh(summary.forward(qf::concat({last, average}, 1))));
  }

  std::string type_name() const override { return "LastAndMeanClassifier"; }
  // Saved beside the weights: what predict_stock_movement needs to rebuild the model from a registry
  // (quant/study/src/registry_models.cpp reads input_size and hidden_size).
  qf::nn::Config config() const override {
    return {{"input_size", std::to_string(input_size_)}, {"hidden_size", std::to_string(hidden_size_)}};
  }

  qf::nn::Linear summary, head;

 private:
  std::int64_t input_size_, hidden_size_;
};

}  // namespace

QF_REGISTER_ARCHITECTURE("toy_last_and_mean", [](const qf::nn::ModelSpec& s, qf::Rng& rng) {
  // Not recurrent: refuse settings it would ignore, so that a search over them fails loudly.
  if (s.num_layers != 1 || s.dropout != 0.0)
    throw std::invalid_argument("toy_last_and_mean has one layer and no dropout");
  return std::make_unique<LastAndMeanClassifier>(s.input_size, s.hidden_size, rng);
});
