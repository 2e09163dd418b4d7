#include "qf/data/windows.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "qf/core/require.h"

namespace qf::data {

WindowSet make_windows(const Tensor& features, std::span<const double> labels, std::int64_t window,
                       std::int64_t first_end, std::int64_t last_end) {
  if (features.rank() != 2 || features.dtype() != DType::f64)
    throw ShapeError("make_windows: features must be a float64 [days, features] matrix, got " +
                     to_string(features.shape()));
  const std::int64_t days = features.dim(0), width = features.dim(1);
  if (static_cast<std::int64_t>(labels.size()) != days)
    throw ShapeError("make_windows: " + std::to_string(labels.size()) + " labels for " +
                     std::to_string(days) + " days");
  first_end = std::max(first_end, window - 1);
  last_end = std::min(last_end, days - 1);
  const double* f = features.data<double>();
  std::vector<std::int64_t> ends;
  for (std::int64_t t = first_end; t <= last_end; ++t) {
    bool ok = std::isfinite(labels[static_cast<std::size_t>(t)]);
    for (std::int64_t k = (t - window + 1) * width; ok && k < (t + 1) * width; ++k) ok = std::isfinite(f[k]);
    if (ok) ends.push_back(t);
  }
  const auto n = static_cast<std::int64_t>(ends.size());
  WindowSet set{Tensor::empty({n, window, width}), Tensor::empty({n, 1}), ends};
  float* x = set.inputs.data<float>();
  float* y = set.targets.data<float>();
  for (std::int64_t i = 0; i < n; ++i) {
    const std::int64_t t = ends[static_cast<std::size_t>(i)];
    std::transform(f + (t - window + 1) * width, f + (t + 1) * width, x + i * window * width,
                   [](double v) { return static_cast<float>(v); });
    y[i] = static_cast<float>(labels[static_cast<std::size_t>(t)]);
  }
  return set;
}

StandardScaler::StandardScaler(std::vector<double> mean, std::vector<double> scale)
    : mean_(std::move(mean)), scale_(std::move(scale)) {
  QF_REQUIRE_MSG(mean_.size() == scale_.size(), "StandardScaler",
                 mean_.size() << " means but " << scale_.size() << " scales");
}

void StandardScaler::fit(const Tensor& features, std::int64_t first_row, std::int64_t end_row) {
  std::vector<std::int64_t> rows;
  for (std::int64_t r = first_row; r < end_row; ++r) rows.push_back(r);
  fit(std::span<const Tensor>(&features, 1), std::span<const std::vector<std::int64_t>>(&rows, 1));
}

void StandardScaler::fit(std::span<const Tensor> matrices, std::span<const std::vector<std::int64_t>> rows) {
  QF_REQUIRE_MSG(!matrices.empty() && matrices.size() == rows.size(), "StandardScaler::fit",
                 matrices.size() << " matrices and " << rows.size() << " row lists");
  const std::int64_t width = matrices[0].dim(1);
  mean_.assign(static_cast<std::size_t>(width), 0.0);
  scale_.assign(static_cast<std::size_t>(width), 1.0);
  for (std::int64_t j = 0; j < width; ++j) {
    // Two passes (mean, then squared deviations): one-pass sums lose digits on price-level features.
    double total = 0, squares = 0;
    std::int64_t count = 0;
    for (std::size_t m = 0; m < matrices.size(); ++m) {
      if (matrices[m].dim(1) != width)
        throw ShapeError("StandardScaler::fit: matrices " + to_string(matrices[0].shape()) + " and " +
                         to_string(matrices[m].shape()) + " differ in width");
      const double* f = matrices[m].data<double>();
      for (const std::int64_t r : rows[m]) {
        const double v = f[r * width + j];
        if (!std::isfinite(v)) continue;
        total += v;
        ++count;
      }
    }
    if (count < 2) continue;
    const double mu = total / static_cast<double>(count);
    for (std::size_t m = 0; m < matrices.size(); ++m) {
      const double* f = matrices[m].data<double>();
      for (const std::int64_t r : rows[m]) {
        const double v = f[r * width + j];
        if (std::isfinite(v)) squares += (v - mu) * (v - mu);
      }
    }
    const double var = squares / static_cast<double>(count);
    mean_[static_cast<std::size_t>(j)] = mu;
    scale_[static_cast<std::size_t>(j)] = var > 0 ? std::sqrt(var) : 1.0;
  }
}

Tensor StandardScaler::transform(const Tensor& features) const {
  const std::int64_t width = features.dim(1);
  if (static_cast<std::size_t>(width) != mean_.size())
    throw ShapeError("StandardScaler: fitted on " + std::to_string(mean_.size()) + " features, given " +
                     to_string(features.shape()));
  Tensor out = features.clone();
  double* f = out.data<double>();
  for (std::int64_t r = 0; r < features.dim(0); ++r)
    for (std::int64_t j = 0; j < width; ++j) {
      const auto k = static_cast<std::size_t>(j);
      f[r * width + j] = (f[r * width + j] - mean_[k]) / scale_[k];
    }
  return out;
}

}  // namespace qf::data
