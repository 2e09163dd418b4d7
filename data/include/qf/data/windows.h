// Sliding windows over a [days, features] matrix for sequence models, and a scaler fitted on
// training rows only.
//
// Honesty: the window ending at day t holds feature rows t-window+1 .. t (data up to t only) and is
// paired with label[t], which the caller must compute from t+1 onward (e.g. quant::next_day_direction).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "qf/tensor/tensor.h"

namespace qf::data {

struct WindowSet {
  Tensor inputs;                      // [N, window, features] float32
  Tensor targets;                     // [N, 1] float32
  std::vector<std::int64_t> end_day;  // the day t each window ends at
};

// Windows ending at every day t in [first_end, last_end] (inclusive) whose feature rows and label are
// all finite; others are skipped. features: [days, F] (float64), labels: [days].
WindowSet make_windows(const Tensor& features, std::span<const double> labels, std::int64_t window,
                       std::int64_t first_end, std::int64_t last_end);

// Per-feature standardisation. fit() sees only the rows it is given (the training period).
class StandardScaler {
 public:
  StandardScaler() = default;
  StandardScaler(std::vector<double> mean, std::vector<double> scale);  // e.g. as saved with a model
  void fit(const Tensor& features, std::int64_t first_row, std::int64_t end_row);  // rows [first, end)
  // Over the given rows of several [days, F] matrices at once (e.g. the training days of many tickers).
  void fit(std::span<const Tensor> matrices, std::span<const std::vector<std::int64_t>> rows);
  Tensor transform(const Tensor& features) const;  // all rows
  const std::vector<double>& mean() const { return mean_; }
  const std::vector<double>& scale() const { return scale_; }

 private:
  std::vector<double> mean_, scale_;
};

}  // namespace qf::data
