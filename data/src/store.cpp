#include "qf/data/store.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <limits>
#include <map>

#include "qf/data/csv.h"
#include "qf/data/json.h"
#include "qf/data/validation.h"
#include "qf/tensor/hash.h"
#include "qf/tensor/hdf5.h"

namespace qf::data {

namespace {
constexpr const char* kFormat = "quantforge.universe";
constexpr std::int64_t kFormatVersion = 1;
constexpr int kDeflate = 4;  // prices (4 decimals) and masks compress well
const char* const kPanels[] = {"open", "high", "low", "close", "volume"};

Tensor& panel(Universe& u, const std::string& name) {
  if (name == "open") return u.open;
  if (name == "high") return u.high;
  if (name == "low") return u.low;
  if (name == "close") return u.close;
  return u.volume;
}
// Reports as columns (one row per ticker, one row per finding), so that updates can read them back.
void write_reports(h5::File& f, const std::vector<TickerReport>& reports) {
  std::vector<std::string> ticker, layout, files, reason, f_ticker, kind, file, date, field, detail, action;
  std::vector<double> rows_read, rows_kept, rejected, line;
  for (const auto& r : reports) {
    ticker.push_back(r.ticker);
    layout.push_back(r.layout);
    std::string joined;
    for (const auto& name : r.files) joined += (joined.empty() ? "" : "\n") + name;
    files.push_back(joined);
    reason.push_back(r.reject_reason);
    rows_read.push_back(static_cast<double>(r.rows_read));
    rows_kept.push_back(static_cast<double>(r.rows_kept));
    rejected.push_back(r.rejected ? 1.0 : 0.0);
    for (const auto& x : r.findings) {
      f_ticker.push_back(r.ticker);
      kind.push_back(x.kind);
      file.push_back(x.file);
      line.push_back(static_cast<double>(x.line));
      date.push_back(x.date);
      field.push_back(x.field);
      detail.push_back(x.detail);
      action.push_back(x.action);
    }
  }
  const std::string t = "/validation/tickers/", k = "/validation/findings/";
  f.write_strings(t + "ticker", ticker);
  f.write_strings(t + "layout", layout);
  f.write_strings(t + "files", files);
  f.write_strings(t + "reject_reason", reason);
  f.write(t + "rows_read", Tensor::from<double>(rows_read, {static_cast<std::int64_t>(rows_read.size())}));
  f.write(t + "rows_kept", Tensor::from<double>(rows_kept, {static_cast<std::int64_t>(rows_kept.size())}));
  f.write(t + "rejected", Tensor::from<double>(rejected, {static_cast<std::int64_t>(rejected.size())}));
  f.write_strings(k + "ticker", f_ticker);
  f.write_strings(k + "kind", kind);
  f.write_strings(k + "file", file);
  f.write(k + "line", Tensor::from<double>(line, {static_cast<std::int64_t>(line.size())}));
  f.write_strings(k + "date", date);
  f.write_strings(k + "field", field);
  f.write_strings(k + "detail", detail);
  f.write_strings(k + "action", action);
}

// The set-level findings as columns; a store written before they existed has none.
void write_set_findings(h5::File& f, const std::vector<Finding>& findings) {
  std::vector<std::string> kind, date, field, detail, action;
  for (const auto& x : findings) {
    kind.push_back(x.kind);
    date.push_back(x.date);
    field.push_back(x.field);
    detail.push_back(x.detail);
    action.push_back(x.action);
  }
  const std::string g = "/validation/set_findings/";
  f.write_strings(g + "kind", kind);
  f.write_strings(g + "date", date);
  f.write_strings(g + "field", field);
  f.write_strings(g + "detail", detail);
  f.write_strings(g + "action", action);
}

std::vector<Finding> read_set_findings(const h5::File& f) {
  const std::string g = "/validation/set_findings/";
  if (!f.exists(g + "kind")) return {};
  const auto kind = f.read_strings(g + "kind"), date = f.read_strings(g + "date"),
             field = f.read_strings(g + "field"), detail = f.read_strings(g + "detail"),
             action = f.read_strings(g + "action");
  std::vector<Finding> out;
  for (std::size_t i = 0; i < kind.size(); ++i)
    out.push_back({kind[i], "", 0, date[i], field[i], detail[i], action[i]});
  return out;
}

std::vector<TickerReport> read_reports(const h5::File& f) {
  const std::string t = "/validation/tickers/", k = "/validation/findings/";
  const auto ticker = f.read_strings(t + "ticker"), layout = f.read_strings(t + "layout"),
             files = f.read_strings(t + "files"), reason = f.read_strings(t + "reject_reason");
  const Tensor rows_read = f.read(t + "rows_read"), rows_kept = f.read(t + "rows_kept"),
               rejected = f.read(t + "rejected");
  std::vector<TickerReport> reports(ticker.size());
  std::map<std::string, std::size_t> index;
  for (std::size_t i = 0; i < ticker.size(); ++i) {
    TickerReport& r = reports[i];
    r.ticker = ticker[i];
    r.layout = layout[i];
    for (std::size_t start = 0; start <= files[i].size() && !files[i].empty();) {
      const std::size_t end = std::min(files[i].find('\n', start), files[i].size());
      r.files.push_back(files[i].substr(start, end - start));
      start = end + 1;
    }
    r.reject_reason = reason[i];
    r.rows_read = static_cast<std::int64_t>(rows_read.data<double>()[i]);
    r.rows_kept = static_cast<std::int64_t>(rows_kept.data<double>()[i]);
    r.rejected = rejected.data<double>()[i] != 0.0;
    index[r.ticker] = i;
  }
  const auto f_ticker = f.read_strings(k + "ticker"), kind = f.read_strings(k + "kind"),
             file = f.read_strings(k + "file"), date = f.read_strings(k + "date"),
             field = f.read_strings(k + "field"), detail = f.read_strings(k + "detail"),
             action = f.read_strings(k + "action");
  const Tensor line = f.read(k + "line");
  for (std::size_t i = 0; i < f_ticker.size(); ++i)
    reports[index.at(f_ticker[i])].findings.push_back({kind[i], file[i],
                                                       static_cast<std::int64_t>(line.data<double>()[i]),
                                                       date[i], field[i], detail[i], action[i]});
  return reports;
}

// The factors of raw prices: 1 on listed days, NaN outside.
std::vector<double> raw_factors(const std::vector<std::uint8_t>& listed) {
  std::vector<double> out(listed.size());
  for (std::size_t k = 0; k < listed.size(); ++k)
    out[k] = listed[k] ? 1.0 : std::numeric_limits<double>::quiet_NaN();
  return out;
}

// The price basis and the per-row factors; a store written before they existed holds raw prices.
void read_adjustment(const h5::File& f, const std::filesystem::path& path, Universe& u) {
  u.prices = f.has_attr("/", "prices") && f.attr_string("/", "prices") == "adjusted" ? PriceBasis::adjusted
                                                                                     : PriceBasis::raw;
  if (!f.exists("/adjustment")) {
    u.adjustment = raw_factors(u.listed);
    return;
  }
  const Tensor t = f.read("/adjustment");
  if (t.numel() != static_cast<std::int64_t>(u.listed.size()))
    throw std::runtime_error("HDF5 " + path.string() + " [/adjustment]: shape " + qf::to_string(t.shape()) +
                             " does not match the price panels");
  u.adjustment.assign(t.data<double>(), t.data<double>() + t.numel());
}

}  // namespace

void write_universe(const std::filesystem::path& path, const Universe& u, const FeaturePanels& features) {
  h5::write_atomically(path, [&](h5::File& f) {
    f.set_attr("/", "format", std::string(kFormat));
    f.set_attr("/", "format_version", kFormatVersion);
    f.write_strings("/tickers", u.tickers);
    std::vector<std::string> dates;
    for (Day d : u.days) dates.push_back(format_date(d));
    f.write_strings("/dates", dates);
    for (const char* name : kPanels)
      f.write(std::string("/prices/") + name, panel(const_cast<Universe&>(u), name), kDeflate);
    const Shape shape{u.day_count(), u.ticker_count()};
    f.write_bytes("/masks/listed", u.listed, shape, kDeflate);
    f.write_bytes("/masks/present", u.present, shape, kDeflate);
    f.write("/meta/source_line", Tensor::from<double>(u.source_line, shape), kDeflate);
    // The factor applied to each row (price = raw * factor): raw prices stay recoverable, and an update
    // compares re-sent rows with them.
    // A universe built without factors (by hand, in tests and tools) holds raw prices.
    f.write("/adjustment",
            Tensor::from<double>(u.adjustment.empty() ? raw_factors(u.listed) : u.adjustment, shape),
            kDeflate);
    f.set_attr("/", "prices", to_string(u.prices));
    f.write_strings("/meta/sector", u.sector);
    f.write("/meta/market_cap", Tensor::from<double>(u.market_cap, {u.ticker_count()}));
    if (!u.benchmark_close.empty()) {
      f.write("/benchmark/close", Tensor::from<double>(u.benchmark_close, {u.day_count()}));
      f.set_attr("/benchmark", "name", u.benchmark_name);
      f.set_attr("/benchmark", "price_index", static_cast<std::int64_t>(u.benchmark_price_index ? 1 : 0));
    }
    f.create_group("/features");
    // Uncompressed: indicator values have noisy mantissas; deflate (even level 1) saved 22 % of the
    // bytes but took 75 % of the stage's time (measured on the real set).
    for (const auto& [name, values] : features) f.write("/features/" + name, values, 0);
    f.write_strings("/state/files", u.source_files);
    f.write_strings("/state/hashes", u.source_hashes);
    f.write_strings("/validation/report_json",
                    {reports_to_json(u.reports, u.set_findings, to_string(u.prices))});
    write_reports(f, u.reports);
    write_set_findings(f, u.set_findings);
    std::int64_t rejected = 0, findings = 0;
    for (const auto& r : u.reports) {
      rejected += r.rejected ? 1 : 0;
      findings += static_cast<std::int64_t>(r.findings.size());
    }
    f.set_attr("/validation", "tickers_read", static_cast<std::int64_t>(u.reports.size()));
    f.set_attr("/validation", "tickers_rejected", rejected);
    f.set_attr("/validation", "findings", findings);
  });
}

Universe read_universe(const std::filesystem::path& path, FeaturePanels* features) {
  if (std::filesystem::exists(path) && h5::verify_checksum(path) != h5::Checksum::valid)
    throw std::runtime_error("HDF5 " + path.string() +
                             ": not a complete store (no valid checksum: damaged, truncated, or written by "
                             "another program; rerun process_new_data without --update)");
  const h5::File f(path, h5::File::Mode::read);
  if (!f.has_attr("/", "format") || f.attr_string("/", "format") != kFormat)
    throw std::runtime_error("HDF5 " + path.string() + ": not a QuantForge universe store");
  Universe u;
  u.tickers = f.read_strings("/tickers");
  for (const auto& text : f.read_strings("/dates")) {
    Day d = 0;
    if (!parse_date(text, d))
      throw std::runtime_error("HDF5 " + path.string() + " [/dates]: bad date '" + text + "'");
    u.days.push_back(d);
  }
  const Shape shape{u.day_count(), u.ticker_count()};
  for (const char* name : kPanels) {
    Tensor t = f.read(std::string("/prices/") + name);
    if (t.shape() != shape)
      throw std::runtime_error("HDF5 " + path.string() + " [/prices/" + name + "]: shape " +
                               qf::to_string(t.shape()) + " but the store has " + qf::to_string(shape));
    panel(u, name) = t;
  }
  u.listed = f.read_bytes("/masks/listed");
  u.present = f.read_bytes("/masks/present");
  const Tensor lines = f.read("/meta/source_line");
  u.source_line.assign(lines.data<double>(), lines.data<double>() + lines.numel());
  read_adjustment(f, path, u);
  u.sector = f.read_strings("/meta/sector");
  const Tensor caps = f.read("/meta/market_cap");
  u.market_cap.assign(caps.data<double>(), caps.data<double>() + caps.numel());
  if (f.exists("/benchmark/close")) {
    const Tensor b = f.read("/benchmark/close");
    u.benchmark_close.assign(b.data<double>(), b.data<double>() + b.numel());
    u.benchmark_name = f.attr_string("/benchmark", "name");
    if (f.has_attr("/benchmark", "price_index"))
      u.benchmark_price_index = f.attr_int("/benchmark", "price_index") != 0;
  }
  if (features)
    for (const auto& name : f.list("/features")) (*features)[name] = f.read("/features/" + name);
  u.reports = read_reports(f);
  u.set_findings = read_set_findings(f);
  u.source_files = f.read_strings("/state/files");
  u.source_hashes = f.read_strings("/state/hashes");
  return u;
}

namespace {
std::string hex16(std::uint64_t h) {
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(h));
  return text;
}
}  // namespace

std::string file_hash(const std::filesystem::path& path) {
  return hex16(fnv1a_file(path));
}

std::string text_hash(std::string_view text) {
  return hex16(fnv1a(text));
}

std::string utc_now() {
  const auto now = std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
  const auto day = std::chrono::floor<std::chrono::days>(now);
  const std::chrono::hh_mm_ss time{now - day};
  return format_date(static_cast<Day>(day.time_since_epoch().count())) + "T" +
         (time.hours().count() < 10 ? "0" : "") + std::to_string(time.hours().count()) + ":" +
         (time.minutes().count() < 10 ? "0" : "") + std::to_string(time.minutes().count()) + ":" +
         (time.seconds().count() < 10 ? "0" : "") + std::to_string(time.seconds().count()) + "Z";
}

std::string manifest_to_json(const Manifest& m) {
  auto entries = [](const std::vector<ManifestEntry>& list) {
    Json out = Json::array();
    for (const auto& e : list) out.push_back({{"path", e.path}, {"bytes", e.bytes}, {"hash", e.hash}});
    return out;
  };
  Json settings = Json::object();
  for (const auto& [key, value] : m.settings) settings[key] = value;
  const Json manifest = {{"stage", m.stage},
                         {"created_utc", m.created_utc},
                         {"settings", std::move(settings)},
                         {"inputs", entries(m.inputs)},
                         {"outputs", entries(m.outputs)}};
  return json_text(manifest);
}

std::string checked_store_hash(const std::filesystem::path& store) {
  const std::string hash = file_hash(store);
  const std::filesystem::path manifest = store.parent_path() / "manifest_process_new_data.json";
  if (!std::filesystem::exists(manifest)) return hash;
  const Json recorded = read_json(manifest);
  for (const char* list : {"inputs", "outputs"})
    for (const auto& entry : recorded.value(list, Json::array())) {
      if (std::filesystem::path(entry.value("path", "")).filename() != store.filename()) continue;
      const std::string then = entry.value("hash", "");
      if (then != hash)
        throw InputError(store.string(), 0, "hash",
                         "the store changed since " + manifest.string() + " recorded it (" + then +
                             "): rerun process_new_data");
      return hash;
    }
  return hash;
}

namespace {
// True when `file` lies in `folder` or one of its subfolders (price files are listed recursively).
bool inside(const std::filesystem::path& file, const std::filesystem::path& folder) {
  const std::filesystem::path relative = file.lexically_normal().lexically_relative(folder);
  return !relative.empty() && *relative.begin() != "..";
}
}  // namespace

UpdatePlan plan_update(const Universe& stored, const std::vector<std::filesystem::path>& inputs,
                       const std::vector<std::string>& hashes, std::size_t price_files,
                       const std::filesystem::path& input_folder) {
  std::map<std::string, std::string> known;
  for (std::size_t i = 0; i < stored.source_files.size(); ++i)
    known[stored.source_files[i]] = stored.source_hashes[i];
  // Tables given earlier may be left out: the stored sectors, caps and benchmark are kept.
  const std::filesystem::path folder =
      (input_folder / "x").parent_path().lexically_normal();  // "dir/" == "dir"
  for (const auto& f : stored.source_files)
    if (inside(std::filesystem::path(f), folder) &&
        std::find(inputs.begin(), inputs.end(), std::filesystem::path(f)) == inputs.end())
      throw InputError(f, 0, "", "price file of the store is gone: run a full rebuild");
  UpdatePlan plan;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    if (known[inputs[i].string()] == hashes[i]) continue;
    if (i < price_files) {
      plan.changed.push_back(inputs[i]);
    } else {
      plan.tables_changed = true;
    }
  }
  plan.up_to_date =
      plan.changed.empty() && !plan.tables_changed && stored.source_files.size() == inputs.size();
  return plan;
}

std::string write_processed_universe(const std::filesystem::path& out, const Universe& u,
                                     const FeaturePanels& features,
                                     const std::map<std::string, std::string>& settings) {
  std::filesystem::create_directories(out);
  write_universe(out / "universe.h5", u, features);
  const std::string summary =
      prices_note(u) + "\n" + reports_summary(u.reports) + set_findings_summary(u.set_findings);
  write_text_atomically(out / "validation.json",
                        reports_to_json(u.reports, u.set_findings, to_string(u.prices)));
  write_text_atomically(out / "validation.txt", summary);
  Manifest manifest{"process_new_data", utc_now(), settings, {}, {}};
  for (std::size_t i = 0; i < u.source_files.size(); ++i)
    manifest.inputs.push_back(
        {u.source_files[i], u.source_hashes[i], std::filesystem::file_size(u.source_files[i])});
  for (const char* name : {"universe.h5", "validation.json", "validation.txt"})
    manifest.outputs.push_back(
        {(out / name).string(), file_hash(out / name), std::filesystem::file_size(out / name)});
  write_text_atomically(out / "manifest_process_new_data.json", manifest_to_json(manifest));
  return summary;
}

void write_text_atomically(const std::filesystem::path& path, const std::string& text) {
  auto temporary = path;
  temporary += ".tmp." + std::to_string(::getpid());
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    if (!out) throw std::runtime_error("cannot write " + temporary.string());
    out << text;
    out.flush();
    if (!out) {
      std::filesystem::remove(temporary);
      throw std::runtime_error("cannot write " + temporary.string() + " (disk full?)");
    }
  }
  std::error_code error;
  std::filesystem::rename(temporary, path, error);
  if (error) {
    std::filesystem::remove(temporary, error);
    throw std::runtime_error("cannot rename a new " + path.string() + " into place");
  }
}

}  // namespace qf::data
