// A small, strict CSV reader: RFC 4180 quoting, CRLF or LF line ends, an optional UTF-8 BOM.
// It keeps line numbers so that every later error can name the file, line and field.
#pragma once

#include <cstdint>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace qf::data {

// An input error that names where it happened. Messages read "file:line: field 'x': what".
class InputError : public std::runtime_error {
 public:
  InputError(const std::string& file, std::int64_t line, const std::string& field, const std::string& what);
  const std::string& file() const { return file_; }
  std::int64_t line() const { return line_; }
  const std::string& field() const { return field_; }

 private:
  std::string file_, field_;
  std::int64_t line_;
};

struct CsvTable {
  std::string file;
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;
  std::vector<std::int64_t> line_numbers;  // 1-based line of each row in the file
};

// Reads a whole CSV file. Throws InputError for unreadable files, binary content (NUL bytes),
// unterminated quotes and lines longer than max_line_bytes. Blank lines are skipped.
CsvTable read_csv(const std::filesystem::path& path, std::size_t max_line_bytes = 1 << 20);
// The same for text already in memory (`name` is used in messages).
CsvTable parse_csv(std::string_view text, const std::string& name, std::size_t max_line_bytes = 1 << 20);

// Lower-cases and trims a header name: " Adj Close" -> "adj close".
std::string normalize_header(std::string_view name);

// A number in a CSV cell or a message: 12 significant digits (%.12g), "null" when not finite (the
// metrics.csv and findings texts have always printed it so).
std::string format_12g(double value);

}  // namespace qf::data
