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
// The bytes of a file from `from_byte` on (a multiple of 8); throws std::runtime_error when unreadable.
std::uint64_t fnv1a_file(const std::filesystem::path& path, std::uint64_t from_byte = 0);

}  // namespace qf
