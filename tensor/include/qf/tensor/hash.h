// 64-bit FNV-1a over 8-byte words (little-endian), then the tail bytes: cheap change and corruption
// detection (not a cryptographic hash), with eight times fewer dependent multiplies than the
// byte-wise form.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string_view>

namespace qf {

inline constexpr std::uint64_t kFnvOffset = 0xcbf29ce484222325ULL;

std::uint64_t fnv1a(std::string_view bytes, std::uint64_t seed = kFnvOffset);
// The textbook byte-wise FNV-1a (one multiply per byte): for short keys whose hash value is kept, such
// as seeds and splits. Equal to fnv1a for fewer than 8 bytes, different from the 8th byte on.
std::uint64_t fnv1a_bytewise(std::string_view bytes, std::uint64_t seed = kFnvOffset);
// The seed quant's key hashes have always used (the study's fit streams, sentiment's test split):
// kFnvOffset's decimal digits without the last one. Kept, so that every seed and split stays as it was.
inline constexpr std::uint64_t kQuantKeySeed = 1469598103934665603ULL;
// The bytes of a file from `from_byte` on (a multiple of 8); throws std::runtime_error when unreadable.
std::uint64_t fnv1a_file(const std::filesystem::path& path, std::uint64_t from_byte = 0);

}  // namespace qf
