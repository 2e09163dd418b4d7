#include "qf/data/json.h"

#include <fstream>

#include "qf/data/csv.h"

namespace qf::data {

std::string json_text(const Json& value) {
  return value.dump(2, ' ', false, Json::error_handler_t::replace) + '\n';
}

std::string json_line(const Json& value) {
  return value.dump(-1, ' ', false, Json::error_handler_t::replace) + '\n';
}

Json read_json(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(path.string(), 0, "", "cannot be read");
  try {
    return Json::parse(in);
  } catch (const Json::parse_error& e) {
    throw InputError(path.string(), 0, "", std::string("not JSON: ") + e.what());
  }
}

}  // namespace qf::data
