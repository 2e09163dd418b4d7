#include "qf/quant/signals/labels.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>
#include <stdexcept>
#include <vector>

#include "qf/quant/signals/returns.h"

namespace qf::quant {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// The median of the finite values of one day's row (NaN when none).
double finite_median(const double* row, std::int64_t n, std::vector<double>& scratch) {
  scratch.clear();
  for (std::int64_t i = 0; i < n; ++i)
    if (std::isfinite(row[i])) scratch.push_back(row[i]);
  if (scratch.empty()) return kNaN;
  std::sort(scratch.begin(), scratch.end());
  const std::size_t m = scratch.size() / 2;
  return scratch.size() % 2 ? scratch[m] : 0.5 * (scratch[m - 1] + scratch[m]);
}

}  // namespace

LabelKind parse_label_kind(const std::string& name) {
  if (name == "next_day_up") return LabelKind::next_day_up;
  if (name == "beyond_threshold") return LabelKind::beyond_threshold;
  if (name == "beats_median") return LabelKind::beats_median;
  throw std::invalid_argument("unknown label '" + name + "' (next_day_up, beyond_threshold, beats_median)");
}

std::string to_string(LabelKind kind) {
  switch (kind) {
    case LabelKind::next_day_up:
      return "next_day_up";
    case LabelKind::beyond_threshold:
      return "beyond_threshold";
    case LabelKind::beats_median:
      return "beats_median";
  }
  return "?";
}

std::string LabelSpec::describe() const {
  std::ostringstream s;
  const std::string r = timing.describe();
  switch (kind) {
    case LabelKind::next_day_up:
      s << "next_day_up: 1 if the traded return " << r << " > 0";
      break;
    case LabelKind::beyond_threshold:
      s << "beyond_threshold: 1 if the traded return " << r << " > " << threshold_in_vols
        << " x vol20 x sqrt(" << timing.horizon << "), 0 if below minus that, else none";
      break;
    case LabelKind::beats_median:
      s << "beats_median: 1 if the traded return " << r << " beats the day's cross-sectional median";
      break;
  }
  return s.str();
}

Tensor make_labels(const data::Universe& u, const LabelSpec& spec) {
  const std::int64_t D = u.day_count(), N = u.ticker_count();
  Tensor labels = Tensor::full({D, N}, kNaN, DType::f64);
  double* out = labels.data<double>();
  const std::vector<double> traded = traded_returns(u, spec.timing);
  const std::vector<double> vol =
      spec.kind == LabelKind::beyond_threshold ? realized_volatility_panel(u, 20) : std::vector<double>{};
  const double band_scale = spec.threshold_in_vols * std::sqrt(static_cast<double>(spec.timing.horizon));
  std::vector<double> scratch;
  for (std::int64_t t = 0; t < D; ++t) {
    const double* r = traded.data() + t * N;
    const double median = spec.kind == LabelKind::beats_median ? finite_median(r, N, scratch) : kNaN;
    for (std::int64_t i = 0; i < N; ++i) {
      if (!std::isfinite(r[i])) continue;
      double& y = out[t * N + i];
      switch (spec.kind) {
        case LabelKind::next_day_up:
          y = r[i] > 0 ? 1.0 : 0.0;
          break;
        case LabelKind::beats_median:
          y = r[i] > median ? 1.0 : 0.0;
          break;
        case LabelKind::beyond_threshold: {
          const double band = band_scale * vol[static_cast<std::size_t>(t * N + i)];
          if (!std::isfinite(band)) break;
          if (r[i] > band) y = 1.0;
          if (r[i] < -band) y = 0.0;
          break;
        }
      }
    }
  }
  return labels;
}

void write_label_attributes(h5::File& f, const std::string& object, const LabelSpec& spec) {
  f.set_attr(object, "label", to_string(spec.kind));
  f.set_attr(object, "threshold_in_vols", spec.threshold_in_vols);
  f.set_attr(object, "execution", data::to_string(spec.timing.execution));
  f.set_attr(object, "horizon", spec.timing.horizon);
  f.set_attr(object, "label_definition", spec.describe());
}

LabelSpec read_label_attributes(const h5::File& f, const std::string& object,
                                const std::filesystem::path& path) {
  for (const char* name : {"label", "execution", "horizon"})
    if (!f.has_attr(object, name))
      throw std::invalid_argument(path.string() + ": no '" + name +
                                  "' attribute: made before the traded-return target (format_version 2); "
                                  "rerun the stage that wrote it");
  LabelSpec spec;
  spec.kind = parse_label_kind(f.attr_string(object, "label"));
  spec.timing.execution = data::parse_execution(f.attr_string(object, "execution"));
  spec.timing.horizon = f.attr_int(object, "horizon");
  if (f.has_attr(object, "threshold_in_vols"))
    spec.threshold_in_vols = f.attr_double(object, "threshold_in_vols");
  return spec;
}

void require_same_timing(const LabelSpec& in_file, const std::filesystem::path& path,
                         const data::TradeTiming& asked, const std::string& asked_by) {
  if (in_file.timing == asked) return;
  throw std::invalid_argument(
      path.string() + " was made for execution " + data::to_string(in_file.timing.execution) + ", horizon " +
      std::to_string(in_file.timing.horizon) + " (" + in_file.timing.describe() + "), but " + asked_by +
      " asks for execution " + data::to_string(asked.execution) + ", horizon " +
      std::to_string(asked.horizon) + " (" + asked.describe() + ")");
}

}  // namespace qf::quant
