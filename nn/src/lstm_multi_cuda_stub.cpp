// CPU-only builds: the multi-model CUDA backend says clearly that there is none.
#include <stdexcept>

#include "qf/nn/lstm_multi.h"

namespace qf::nn {

std::unique_ptr<MultiLSTM> make_cuda_multi_lstm(const MultiLSTMShape&, std::span<const Tensor>,
                                                const MultiOptimizerOptions&, MultiUpload) {
  throw std::runtime_error("multi-model LSTM (CUDA): this build has no CUDA backend (QF_WITH_CUDA=OFF)");
}

}  // namespace qf::nn
