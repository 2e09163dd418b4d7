#include "qf/tensor/hash.h"

#include <cstring>
#include <fstream>
#include <stdexcept>
#include <vector>

namespace qf {

std::uint64_t fnv1a(std::string_view bytes, std::uint64_t h) {
  std::size_t i = 0;
  for (; i + 8 <= bytes.size(); i += 8) {
    std::uint64_t word;
    std::memcpy(&word, bytes.data() + i, 8);
    h = (h ^ word) * 0x100000001b3ULL;
  }
  return fnv1a_bytewise(bytes.substr(i), h);  // the tail
}

std::uint64_t fnv1a_bytewise(std::string_view bytes, std::uint64_t h) {
  for (const char c : bytes) h = (h ^ static_cast<unsigned char>(c)) * 0x100000001b3ULL;
  return h;
}

std::uint64_t fnv1a_file(const std::filesystem::path& path, std::uint64_t from_byte) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path.string() + " to hash it");
  in.seekg(static_cast<std::streamoff>(from_byte));
  std::uint64_t h = kFnvOffset;
  std::vector<char> buffer(1 << 20);  // a multiple of 8: chunks hash as one run of words
  while (in) {
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    h = fnv1a(std::string_view(buffer.data(), static_cast<std::size_t>(in.gcount())), h);
  }
  return h;
}

}  // namespace qf
