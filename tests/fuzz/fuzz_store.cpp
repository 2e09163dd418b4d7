// libFuzzer target: the store reader (read_universe, HDF5) on arbitrary bytes, seeded with a small
// valid store (make_store_seed). Every input must end in a universe or an exception naming the file,
// never in a crash or a sanitizer report.
#include <unistd.h>

#include <cstdint>
#include <fstream>
#include <stdexcept>
#include <string>

#include "qf/data/store.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::string path = "/tmp/qf_fuzz_" + std::to_string(::getpid()) + ".h5";
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
  try {
    qf::data::FeaturePanels features;
    const qf::data::Universe u = qf::data::read_universe(path, &features);
    (void)u;
  } catch (const std::exception&) {
  }
  return 0;
}
