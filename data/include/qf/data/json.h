// JSON files through one library, nlohmann/json (Debian nlohmann-json3-dev): values are built as Json
// objects and written or read here, never assembled or searched as text.
//
// The format every JSON file of QuantForge has (docs/pipeline.md lists the files):
//   * keys in the order they were added (ordered_json): the order the docs show;
//   * two-space indentation, one value per line, and a final newline (json_text); a JSON Lines log
//     (alerts.jsonl) has one compact record per line (json_line);
//   * doubles with the fewest significant digits that read back to the same double (shortest round
//     trip, up to 17 digits: 0.1, 1.0, 1.2174676142537002); integers as integers;
//   * NaN and +-infinity as null (JSON has no NaN); an accuracy without calls is the string "n/a"
//     (quant/metrics: accuracy_json);
//   * bytes of a string that are not UTF-8 (a file name in another encoding) become U+FFFD rather than
//     failing the write.
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

namespace qf::data {

using Json = nlohmann::ordered_json;

std::string json_text(const Json& value);  // indented, with a final newline
std::string json_line(const Json& value);  // one compact line, with its newline

// Parses a JSON file; throws InputError naming the file and where the parser stopped when it is not JSON
// (or cannot be read).
Json read_json(const std::filesystem::path& path);

}  // namespace qf::data
