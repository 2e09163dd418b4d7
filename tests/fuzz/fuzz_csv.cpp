// libFuzzer target: the CSV parser and the price-file reader on arbitrary bytes. Every input must end
// in a table or an InputError (naming the file), never in a crash, a sanitizer report or a hang.
#include <unistd.h>

#include <cstdint>
#include <fstream>
#include <string>

#include "qf/data/csv.h"
#include "qf/data/prices.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    const qf::data::CsvTable t = qf::data::parse_csv(text, "fuzz.csv", 1 << 12);
    (void)t;
  } catch (const qf::data::InputError&) {
  }
  // The same bytes as a price file (the layouts, dates, numbers, tickers).
  static const std::string path = "/tmp/qf_fuzz_" + std::to_string(::getpid()) + "_data.csv";
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
  }
  try {
    const auto series = qf::data::read_price_file(path);
    (void)series;
  } catch (const qf::data::InputError&) {
  }
  return 0;
}
