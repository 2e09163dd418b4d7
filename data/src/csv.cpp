#include "qf/data/csv.h"

#include <cctype>
#include <cmath>
#include <fstream>
#include <sstream>

namespace qf::data {

namespace {
std::string input_error_message(const std::string& file, std::int64_t line, const std::string& field,
                                const std::string& what) {
  std::string message = file;
  if (line > 0) message.append(":").append(std::to_string(line));
  if (!field.empty()) message.append(": field '").append(field).append("'");
  return message.append(": ").append(what);
}
}  // namespace

InputError::InputError(const std::string& file, std::int64_t line, const std::string& field,
                       const std::string& what)
    : std::runtime_error(input_error_message(file, line, field, what)),
      file_(file),
      field_(field),
      line_(line) {}

std::string format_12g(double value) {
  if (!std::isfinite(value)) return "null";
  std::ostringstream out;
  out.precision(12);
  out << value;
  return out.str();
}

std::string normalize_header(std::string_view name) {
  std::size_t begin = 0, end = name.size();
  while (begin < end && std::isspace(static_cast<unsigned char>(name[begin]))) ++begin;
  while (end > begin && std::isspace(static_cast<unsigned char>(name[end - 1]))) --end;
  std::string out(name.substr(begin, end - begin));
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

CsvTable read_csv(const std::filesystem::path& path, std::size_t max_line_bytes) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(path.string(), 0, "", "cannot open file");
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return parse_csv(buffer.str(), path.string(), max_line_bytes);
}

CsvTable parse_csv(std::string_view text, const std::string& name, std::size_t max_line_bytes) {
  if (text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);
  if (text.substr(0, 2) == "\xFF\xFE" || text.substr(0, 2) == "\xFE\xFF")
    throw InputError(name, 1, "", "UTF-16 text (byte-order mark): save it as UTF-8");
  if (text.find('\0') != std::string_view::npos)
    throw InputError(name, 0, "", "binary content (NUL bytes): not a CSV text file");
  CsvTable table;
  table.file = name;
  std::vector<std::string> fields;
  std::string field;
  std::int64_t line = 1, record_line = 1;
  std::size_t line_start = 0;
  bool in_quotes = false, field_started = false;

  auto end_record = [&] {
    fields.push_back(std::move(field));
    field.clear();
    const bool blank = fields.size() == 1 && fields[0].empty() && !field_started;
    if (!blank) {
      if (table.header.empty() && table.rows.empty()) {
        for (auto& f : fields) table.header.push_back(std::move(f));
      } else {
        table.rows.push_back(std::move(fields));
        table.line_numbers.push_back(record_line);
      }
    }
    fields.clear();
    field_started = false;
  };

  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (i - line_start > max_line_bytes)
      throw InputError(name, line, "", "line longer than " + std::to_string(max_line_bytes) + " bytes");
    if (in_quotes) {
      if (c == '"') {
        if (i + 1 < text.size() && text[i + 1] == '"') {
          field += '"';
          ++i;
        } else {
          in_quotes = false;
        }
      } else {
        if (c == '\n') {
          ++line;
          line_start = i + 1;
        }
        field += c;
      }
      continue;
    }
    switch (c) {
      case '"':
        in_quotes = true;
        field_started = true;
        break;
      case ',':
        fields.push_back(std::move(field));
        field.clear();
        field_started = true;
        break;
      case '\r':
        break;  // CRLF: the '\n' ends the record
      case '\n':
        end_record();
        ++line;
        line_start = i + 1;
        record_line = line;
        break;
      default:
        field += c;
        field_started = true;
    }
  }
  if (in_quotes) throw InputError(name, record_line, "", "unterminated quoted field");
  if (field_started || !field.empty() || !fields.empty()) end_record();
  return table;
}

}  // namespace qf::data
