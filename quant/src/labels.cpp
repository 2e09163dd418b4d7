#include "qf/quant/labels.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "qf/quant/returns.h"

namespace qf::quant {

Tensor make_labels(const data::Universe& u, LabelKind kind, double k) {
  const std::int64_t D = u.day_count(), N = u.ticker_count();
  constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
  Tensor labels = Tensor::full({D, N}, kNaN, DType::f64);
  double* out = labels.data<double>();
  const std::vector<double> next = next_day_log_returns(u);  // r[t+1] for each (t, i)
  // Realised volatility up to t, per ticker, for beyond_threshold.
  const std::vector<double> vol =
      kind == LabelKind::beyond_threshold ? realized_volatility_panel(u, 20) : std::vector<double>{};
  std::vector<double> row;
  for (std::int64_t t = 0; t < D; ++t) {
    double median = kNaN;
    if (kind == LabelKind::beats_median) {
      row.clear();
      for (std::int64_t i = 0; i < N; ++i)
        if (std::isfinite(next[static_cast<std::size_t>(t * N + i)]))
          row.push_back(next[static_cast<std::size_t>(t * N + i)]);
      if (!row.empty()) {
        std::sort(row.begin(), row.end());
        const std::size_t m = row.size() / 2;
        median = row.size() % 2 ? row[m] : 0.5 * (row[m - 1] + row[m]);
      }
    }
    for (std::int64_t i = 0; i < N; ++i) {
      const auto cell = static_cast<std::size_t>(t * N + i);
      const double r = next[cell];
      if (!std::isfinite(r)) continue;
      switch (kind) {
        case LabelKind::next_day_up:
          out[cell] = r > 0 ? 1.0 : 0.0;
          break;
        case LabelKind::beats_median:
          out[cell] = r > median ? 1.0 : 0.0;
          break;
        case LabelKind::beyond_threshold: {
          const double band = k * vol[cell];
          if (!std::isfinite(band)) break;
          if (r > band) out[cell] = 1.0;
          if (r < -band) out[cell] = 0.0;
          break;
        }
      }
    }
  }
  return labels;
}

}  // namespace qf::quant
