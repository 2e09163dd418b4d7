#include <gtest/gtest.h>

#include <filesystem>

#include "common/temp_path.h"
#include "qf/nn/examples/attention_gru.h"
#include "qf/nn/serialize.h"
#include "qf/tensor/hdf5.h"

using namespace qf;
using namespace qf::nn;
namespace fs = std::filesystem;

using test_support::temp_path;

TEST(Serialize, RoundTripRestoresEveryParameterAndConfig) {
  const fs::path path = temp_path("model.h5");
  Rng rng_a(1), rng_b(2);
  AttentionGRU a(3, 8, 4, rng_a), b(3, 8, 4, rng_b);
  save_model(path, a);
  const auto [type, config] = read_model_config(path);
  EXPECT_EQ(type, "AttentionGRU");
  EXPECT_EQ(config.at("hidden_size"), "8");
  EXPECT_EQ(config.at("attention_size"), "4");
  load_parameters(path, b);
  auto pa = a.named_parameters(), pb = b.named_parameters();
  ASSERT_EQ(pa.size(), pb.size());
  for (std::size_t i = 0; i < pa.size(); ++i) {
    EXPECT_EQ(pa[i].first, pb[i].first);
    EXPECT_EQ(max_relative_error(pa[i].second->value(), pb[i].second->value()), 0.0) << pa[i].first;
  }
  // PyTorch-style names, readable by h5py.
  const h5::File file(path, h5::File::Mode::read);
  EXPECT_TRUE(file.exists("/parameters/gru.weight_ih_l0"));
  EXPECT_TRUE(file.exists("/parameters/head.bias"));
  fs::remove(path);
}

TEST(Serialize, MismatchedModelIsAClearError) {
  const fs::path path = temp_path("lstm.h5");
  Rng rng(3);
  LSTM small(RNNOptions{3, 8, 1}, rng), wide(RNNOptions{3, 16, 1}, rng);
  GRU gru(RNNOptions{3, 8, 1}, rng);
  save_model(path, small);
  try {
    load_parameters(path, wide);
    FAIL();
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("weight_ih_l0"), std::string::npos) << e.what();
  }
  EXPECT_THROW(load_parameters(path, gru), std::runtime_error);
  fs::remove(path);
}
